use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::testutil::Rng;

fn host() -> Host {
    Host {
        hostname: "box.test.example".into(),
        user: "alice".into(),
        default_mail_owner: "nobody".into(),
    }
}

fn ok(text: &str) -> (Config, Vec<Warning>) {
    match parse_with(text, "main.cf", &host()) {
        Ok(r) => r,
        Err(e) => panic!("unexpected error: {e}\n--- input:\n{text}"),
    }
}

fn err(text: &str) -> ConfigError {
    match parse_with(text, "main.cf", &host()) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e,
    }
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

const TUTORIAL: &str = "\
myhostname = mail.example.com  # 修改邮件服务器的主机名，使用 FQDN
mydomain = example.com  # 修改邮件服务器的域名
myorigin = $mydomain  # 修改发件人所显示的域名
inet_interfaces = all  # 去掉注释。指定 Postfix 的监听端口
mydestination = $myhostname, localhost.$mydomain, localhost  # 去掉注释。允许哪些邮件地址在本地发送邮件
mynetworks = 10.1.1.0/24  # 修改所在网络的网络地址
relay_domains = $mydestination  # 去掉注释。指定可转发的邮件域名
smtp_listen = 2525
submission_listen = 2587
pop3_listen = 2110
imap_listen = 2143
";

#[test]
fn tutorial_block_works_as_written() {
    let (c, w) = ok(TUTORIAL);
    assert_eq!(c.myhostname, "mail.example.com");
    assert_eq!(c.mydomain, "example.com");
    assert_eq!(c.myorigin, "example.com");
    assert_eq!(c.inet_interfaces, Interfaces::All);
    assert_eq!(
        c.mydestination,
        ["mail.example.com", "localhost.example.com", "localhost"]
    );
    assert_eq!(c.relay_domains, c.mydestination);
    assert_eq!(c.mynetworks, ["10.1.1.0/24".parse::<Network>().unwrap()]);
    assert_eq!(c.smtpd_banner, "mail.example.com ESMTP rmail");
    assert_eq!(
        c.listeners.get(Service::Smtp),
        [sa("0.0.0.0:2525"), sa("[::]:2525")]
    );
    // No certificate: the implicit-TLS listeners are off by default.
    assert!(c.listeners.get(Service::Submissions).is_empty());
    assert!(c.listeners.get(Service::Imaps).is_empty());
    // One warning per stripped comment, each with its line.
    let lines: Vec<usize> = w.iter().map(|w| w.origin.line).collect();
    assert_eq!(lines, [1, 2, 3, 4, 5, 6, 7]);
    assert!(w
        .iter()
        .all(|w| w.message.contains("comment") && w.origin.file == "main.cf"));
    assert_eq!(
        w[0].to_string(),
        "main.cf:1: warning: myhostname: text after \" #\" taken as a comment and ignored \
         (Postfix would keep it as part of the value)"
    );
}

#[test]
fn defaults_follow_postfix() {
    let (c, w) = ok("");
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(c.myhostname, "box.test.example");
    assert_eq!(c.mydomain, "test.example");
    assert_eq!(c.myorigin, "box.test.example");
    assert_eq!(
        c.mydestination,
        ["box.test.example", "localhost.test.example", "localhost"]
    );
    assert_eq!(
        c.mynetworks,
        [
            "127.0.0.0/8".parse::<Network>().unwrap(),
            "[::1]/128".parse().unwrap()
        ]
    );
    assert!(c.relay_domains.is_empty());
    assert_eq!(c.relayhost, None);
    assert_eq!(c.message_size_limit, 10_240_000);
    assert_eq!(c.mailbox_size_limit, 51_200_000);
    assert_eq!(c.recipient_delimiter, "");
    assert_eq!(c.alias_maps, [PathBuf::from("/etc/aliases")]);
    assert_eq!(c.home_mailbox, HomeMailbox::Spool);
    assert_eq!(c.mail_spool_directory, Path::new("/var/mail"));
    assert_eq!(c.data_directory, Path::new("/var/lib/rmail"));
    assert_eq!(c.queue_directory, Path::new("/var/lib/rmail/queue"));
    assert_eq!(c.virtual_mailbox_base, Path::new("/var/lib/rmail/mail"));
    assert_eq!(c.smtpd_banner, "box.test.example ESMTP rmail");
    assert_eq!(c.smtpd_tls_cert_file, None);
    assert_eq!(c.smtpd_tls_security_level, SmtpdTlsLevel::None);
    assert!(c.smtpd_tls_auth_only && c.smtpd_sasl_auth_enable && c.disable_plaintext_auth);
    assert_eq!(c.maximal_queue_lifetime, Duration::from_secs(5 * 86_400));
    assert_eq!(c.minimal_backoff_time, Duration::from_secs(300));
    assert_eq!(c.maximal_backoff_time, Duration::from_secs(4000));
    assert_eq!(c.queue_run_delay, Duration::from_secs(300));
    assert_eq!(c.smtpd_timeout, Duration::from_secs(300));
    assert_eq!(c.smtpd_greet_pause, Duration::ZERO);
    assert_eq!(c.mail_owner, "nobody");
    assert_eq!(c.smtpd_client_connection_count_limit, 50);
    assert_eq!(c.smtpd_recipient_limit, 1000);
    assert_eq!(c.smtpd_hard_error_limit, 20);
    assert!(!c.smtp_sasl_auth_enable && !c.smtp_tls_wrappermode);
    assert_eq!(c.smtp_tls_security_level, SmtpTlsLevel::May);
    assert_eq!(c.user_database, UserDatabase::System);
    let ports: Vec<(Service, u16)> = c.listeners.iter().map(|(s, a)| (s, a.port())).collect();
    assert_eq!(
        ports,
        [
            (Service::Smtp, 25),
            (Service::Smtp, 25),
            (Service::Submission, 587),
            (Service::Submission, 587),
            (Service::Pop3, 110),
            (Service::Pop3, 110),
            (Service::Imap, 143),
            (Service::Imap, 143),
        ]
    );
}

#[test]
fn mydomain_and_myhostname_defaults() {
    let (c, _) = ok("myhostname = example.com");
    assert_eq!(c.mydomain, "localdomain");
    let (c, _) = ok("myhostname = a.b.example.org");
    assert_eq!(c.mydomain, "b.example.org");
    let h = Host::detect();
    assert!(h.hostname.contains('.'), "{}", h.hostname);
    assert!(values::check_hostname(&h.hostname).is_ok());
}

#[test]
fn continuation_lines_and_comments() {
    let text = "mydestination = a.example,\n  b.example\n# comment\n\n\t# indented comment\n   \
                c.example  # trailing\nmyorigin=x.example\r\n";
    let (c, w) = ok(text);
    assert_eq!(c.mydestination, ["a.example", "b.example", "c.example"]);
    assert_eq!(c.myorigin, "x.example");
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].origin.line, 6);
    // CRLF throughout.
    let (c, _) = ok("myhostname = h.example\r\n  \r\nmyorigin =\r\n o.example\r\n");
    assert_eq!(
        (c.myhostname.as_str(), c.myorigin.as_str()),
        ("h.example", "o.example")
    );
    // '#' without whitespace before it is part of the value.
    let (c, w) = ok("smtpd_banner = $myhostname ESMTP#1");
    assert_eq!(c.smtpd_banner, "box.test.example ESMTP#1");
    assert!(w.is_empty());
    // A continuation with nothing before it.
    match err("  myhostname = x.example") {
        ConfigError::Syntax { origin, .. } => assert_eq!(origin, Origin::new("main.cf", 1)),
        e => panic!("{e}"),
    }
    match err("# c\nmyhostname x.example") {
        ConfigError::Syntax { origin, reason } => {
            assert_eq!(origin.line, 2);
            assert!(reason.contains("missing '='"), "{reason}");
        }
        e => panic!("{e}"),
    }
    match err("\n\nmy host = x") {
        ConfigError::Syntax { origin, reason } => {
            assert_eq!(origin.line, 3);
            assert!(reason.contains("bad parameter name"));
        }
        e => panic!("{e}"),
    }
}

#[test]
fn duplicate_key_warns_and_last_wins() {
    let (c, w) = ok("myorigin = a.example\nmyorigin = b.example\n");
    assert_eq!(c.myorigin, "b.example");
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].origin.line, 2);
    assert!(w[0].message.contains("line 1"));
}

#[test]
fn expansion_forms() {
    let (c, w) = ok("\
base = /srv/x
data_directory = ${base}/rmail
queue_directory = $(data_directory)/q
mail_name = M$$ail
smtpd_banner = $myhostname ${mail_name?has-name} ${nothing?no} ${nothing:fallback} ${mail_name:no}
");
    assert_eq!(c.data_directory, Path::new("/srv/x/rmail"));
    assert_eq!(c.queue_directory, Path::new("/srv/x/rmail/q"));
    assert_eq!(c.virtual_mailbox_base, Path::new("/srv/x/rmail/mail"));
    assert_eq!(c.mail_name, "M$ail");
    assert_eq!(c.smtpd_banner, "box.test.example has-name  fallback");
    // `base` is referenced, so no unknown-key warning; `nothing` is undefined.
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0].origin.line, 5);
    assert!(w[0].message.contains("undefined parameter $nothing"));
    // `$` forms that Postfix refuses.
    for bad in ["x$", "x$ y", "${unterminated", "${}", "${mail_name!x}"] {
        match err(&format!("\n\nsmtpd_banner = {bad}")) {
            ConfigError::Value { origin, key, .. } => {
                assert_eq!((origin.line, key.as_str()), (3, "smtpd_banner"), "{bad}");
            }
            e => panic!("{bad}: {e}"),
        }
    }
}

#[test]
fn expansion_loops_are_errors_with_a_line() {
    let e = err("myorigin = $a\na = $b\nb = $a\n");
    match &e {
        ConfigError::Value {
            origin,
            key,
            reason,
            ..
        } => {
            assert!(reason.contains("loop"), "{reason}");
            assert!(origin.line == 2 || origin.line == 3, "{e}");
            assert!(key == "a" || key == "b");
        }
        e => panic!("{e}"),
    }
    match err("x = 1\nmyhostname = $myhostname.example\n") {
        ConfigError::Value {
            origin,
            key,
            reason,
            ..
        } => {
            assert_eq!((origin.line, key.as_str()), (2, "myhostname"));
            assert!(reason.contains("$myhostname -> $myhostname"), "{reason}");
        }
        e => panic!("{e}"),
    }
    // A loop through defaults: mydomain → myorigin → (default) $myhostname → mydomain.
    let e = err("mydomain = $myorigin\nmyhostname = mail.$mydomain\n");
    assert!(e.to_string().contains("loop"), "{e}");
    // Exponential expansion is cut short, not computed.
    let mut text = String::from("myorigin = host$a0\n");
    for i in 0..40 {
        text.push_str(&format!("a{i} = $a{}$a{}\n", i + 1, i + 1));
    }
    text.push_str("a40 =\n");
    let e = err(&text);
    assert!(e.to_string().contains("too many steps"), "{e}");
    let mut text = String::from("myorigin = host$a0\n");
    for i in 0..40 {
        text.push_str(&format!("a{i} = xxxxxxxxxxxxxxxx$a{}$a{}\n", i + 1, i + 1));
    }
    assert!(parse_with(&text, "main.cf", &host()).is_err());
    // Deep nesting neither overflows the stack nor hangs.
    let deep = format!(
        "smtpd_banner = {}x{}",
        "${mail_name?".repeat(5000),
        "}".repeat(5000)
    );
    assert!(err(&deep).to_string().contains("nested too deeply"));
    let mut chain = String::from("myorigin = $c0\n");
    for i in 0..500 {
        chain.push_str(&format!("c{i} = $c{}\n", i + 1));
    }
    assert!(err(&chain).to_string().contains("nested too deeply"));
}

#[test]
fn unknown_and_ignored_keys_warn_with_line() {
    let (_, w) = ok("myorigin = a.example\nfrobnicate = 1\nbiff = no\n");
    assert_eq!(w.len(), 2, "{w:?}");
    assert_eq!(w[0].origin, Origin::new("main.cf", 2));
    assert_eq!(w[0].message, "unknown parameter frobnicate, ignored");
    assert_eq!(w[1].origin.line, 3);
    assert!(w[1].message.contains("not used by rmail"));
}

/// Every bad value is refused with file, line, key and a reason.
#[test]
fn bad_values_name_file_line_and_key() {
    let cases: &[(&str, &str, &str)] = &[
        ("myhostname", "bad_host!", "bad character"),
        ("myhostname", "-x.example", "starts or ends"),
        ("myhostname", "10.0.0.1", "IP address"),
        ("myhostname", "", "empty"),
        ("mydomain", "a..b", "empty label"),
        ("myorigin", &"a".repeat(64), "longer than 63"),
        ("inet_interfaces", "eth0", "host names are not supported"),
        ("inet_interfaces", "", "empty"),
        ("inet_protocols", "ipv5", "expected all"),
        ("mydestination", "hash:/etc/postfix/dest", "lookup tables"),
        ("mydestination", "a_b!.example", "bad character"),
        ("relay_domains", "/etc/relays", "lookup tables"),
        ("mynetworks", "10.1.1.1/24", "perhaps you mean 10.1.1.0/24"),
        ("mynetworks", "10.0.0.0/33", "longer than 32"),
        ("mynetworks", "[::1]/129", "longer than 128"),
        ("mynetworks", "10.0.0.0/999", "longer than 32"),
        ("mynetworks", "10.0.0.0/", "bad prefix"),
        (
            "mynetworks",
            "hash:/etc/postfix/network_table",
            "lookup tables",
        ),
        ("mynetworks", "!10.0.0.0/8", "negated"),
        ("mynetworks", "[10.0.0.0]/8", "only IPv6"),
        ("mynetworks", "example.com", "not an IP network"),
        ("relayhost", "[mail.example.com", "missing ']'"),
        ("relayhost", "[mail.example.com]x", "unexpected"),
        ("relayhost", "mail.example.com:0", "bad port"),
        ("relayhost", "mail.example.com:70000", "bad port"),
        ("relayhost", "10.0.0.1", "in brackets"),
        ("relayhost", "a.example, b.example", "only one"),
        ("relayhost", "[ipv6:nonsense]", "not an IPv6"),
        ("message_size_limit", "10M", "whole number"),
        ("message_size_limit", "-1", "whole number"),
        ("message_size_limit", "99999999999999999999999", "too large"),
        (
            "mailbox_size_limit",
            "1000",
            "smaller than message_size_limit",
        ),
        ("recipient_delimiter", "@", "must not contain"),
        ("alias_maps", "ldap:/etc/ldap-aliases.cf", "not supported"),
        ("alias_maps", "hash:aliases", "absolute path"),
        ("home_mailbox", "/var/mail/x", "relative"),
        ("mail_spool_directory", "var/mail", "absolute"),
        ("data_directory", "", "absolute"),
        ("queue_directory", "queue", "absolute"),
        ("smtpd_tls_security_level", "encrypt", "needs a certificate"),
        ("smtpd_tls_security_level", "maybe", "expected none"),
        (
            "smtpd_tls_key_file",
            "/etc/key.pem",
            "without smtpd_tls_cert_file",
        ),
        ("smtpd_tls_auth_only", "true", "yes or no"),
        ("smtpd_sasl_auth_enable", "1", "yes or no"),
        ("disable_plaintext_auth", "", "yes or no"),
        ("smtpd_greet_pause", "2x", "unknown time unit"),
        ("smtpd_timeout", "0", "more than 0"),
        ("smtpd_timeout", "5ms", "unknown time unit"),
        ("maximal_queue_lifetime", "1y", "unknown time unit"),
        ("maximal_queue_lifetime", "99999999999w", "too large"),
        ("minimal_backoff_time", "s", "expected a time"),
        (
            "maximal_backoff_time",
            "10s",
            "smaller than minimal_backoff_time",
        ),
        ("queue_run_delay", "0s", "more than 0"),
        ("smtpd_recipient_limit", "0", "at least 1"),
        ("smtpd_hard_error_limit", "x", "whole number"),
        (
            "smtpd_client_connection_count_limit",
            "5000000000",
            "at most",
        ),
        ("mail_owner", "-root", "user name"),
        ("mail_owner", "a b", "user name"),
        (
            "smtp_sasl_auth_enable",
            "yes",
            "needs smtp_sasl_password_maps",
        ),
        (
            "smtp_sasl_password_maps",
            "mysql:/etc/x.cf",
            "not supported",
        ),
        ("smtp_sasl_password_maps", "hash:/a hash:/b", "only one"),
        ("smtp_tls_security_level", "dane", "not supported"),
        ("smtp_tls_security_level", "strict", "expected none"),
        ("smtp_tls_wrappermode", "yes", "encrypt or stronger"),
        ("smtp_tls_CAfile", "ca.pem", "absolute"),
        ("smtp_listen", "65536", "bad port"),
        ("smtp_listen", "0", "bad port"),
        ("smtp_listen", "127.0.0.1", "missing port"),
        ("smtp_listen", "::1:25", "missing port"),
        ("smtp_listen", "localhost:25", "expected a port"),
        (
            "submission_listen",
            "25",
            "clashes with 0.0.0.0:25 of smtp_listen",
        ),
        ("imap_listen", "127.0.0.1:25", "clashes with 0.0.0.0:25"),
        (
            "imaps_listen",
            "993",
            "implicit TLS needs smtpd_tls_cert_file",
        ),
        ("user_database", "users.txt", "absolute"),
        ("mail_name", "", "must not be empty"),
        ("smtpd_banner", "", "must not be empty"),
        ("smtpd_use_tls", "maybe", "yes or no"),
    ];
    for (key, value, reason_part) in cases {
        let text = format!("# main.cf\nmyorigin = o.example\n{key} = {value}\nbiff = no\n");
        match parse_with(&text, "/etc/rmail/main.cf", &host()) {
            Err(ConfigError::Value {
                origin,
                key: k,
                value: v,
                reason,
            }) => {
                assert_eq!(
                    origin,
                    Origin::new("/etc/rmail/main.cf", 3),
                    "{key} = {value}"
                );
                assert_eq!(&k, key, "{key} = {value}: {reason}");
                assert_eq!(&v, value);
                assert!(
                    reason.contains(reason_part),
                    "{key} = {value}: reason {reason:?} lacks {reason_part:?}"
                );
                let msg = ConfigError::Value {
                    origin,
                    key: k,
                    value: v,
                    reason,
                }
                .to_string();
                assert!(
                    msg.starts_with("/etc/rmail/main.cf:3: cannot use "),
                    "{msg}"
                );
            }
            Err(e) => panic!("{key} = {value}: wrong error {e}"),
            Ok(_) => panic!("{key} = {value}: accepted"),
        }
    }
}

#[test]
fn values_that_are_accepted() {
    let (c, w) = ok("\
smtpd_tls_cert_file = /etc/ssl/mail.pem
relayhost = [smtp.example.net]:submission
recipient_delimiter = +-
alias_maps = hash:/etc/aliases, texthash:/etc/more, nis:mail.aliases, /etc/plain
home_mailbox = Maildir/
mail_owner = root
smtp_sasl_auth_enable = YES
smtp_sasl_password_maps = hash:/etc/rmail/sasl_passwd
smtp_tls_security_level = encrypt
smtp_tls_wrappermode = yes
message_size_limit = 0
smtpd_greet_pause = 1500
maximal_queue_lifetime = 3
inet_protocols = ipv4, ipv6
user_database = /etc/rmail/users
");
    assert_eq!(
        c.smtpd_tls_key_file,
        Some(PathBuf::from("/etc/ssl/mail.pem"))
    );
    assert_eq!(c.smtpd_tls_security_level, SmtpdTlsLevel::May);
    assert_eq!(
        c.relayhost,
        Some(Relayhost {
            host: "smtp.example.net".into(),
            port: 587,
            mx_lookup: false
        })
    );
    assert_eq!(c.recipient_delimiter, "+-");
    assert_eq!(
        c.alias_maps,
        [
            PathBuf::from("/etc/aliases"),
            "/etc/more".into(),
            "/etc/plain".into()
        ]
    );
    assert_eq!(c.home_mailbox, HomeMailbox::Maildir("Maildir".into()));
    assert!(c.smtp_sasl_auth_enable && c.smtp_tls_wrappermode);
    assert_eq!(
        c.smtp_sasl_password_maps,
        Some(PathBuf::from("/etc/rmail/sasl_passwd"))
    );
    assert_eq!(c.message_size_limit, 0);
    assert_eq!(c.smtpd_greet_pause, Duration::from_millis(1500));
    assert_eq!(c.maximal_queue_lifetime, Duration::from_secs(3 * 86_400));
    assert_eq!(c.inet_protocols, Protocols::All);
    assert_eq!(
        c.user_database,
        UserDatabase::File("/etc/rmail/users".into())
    );
    // With a certificate the implicit-TLS listeners come on by default.
    assert_eq!(c.listeners.get(Service::Imaps).len(), 2);
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0].origin.line, 6);
    assert!(w[0].message.contains("mail_owner = root"));

    let (c, _) = ok("home_mailbox = Mailbox");
    assert_eq!(c.home_mailbox, HomeMailbox::Mbox("Mailbox".into()));
    // Obsolete Postfix TLS switches feed the default level.
    let (c, _) = ok("smtpd_tls_cert_file = /c.pem\nsmtpd_use_tls = no");
    assert_eq!(c.smtpd_tls_security_level, SmtpdTlsLevel::None);
    let (c, _) = ok("smtpd_tls_cert_file = /c.pem\nsmtpd_enforce_tls = yes");
    assert_eq!(c.smtpd_tls_security_level, SmtpdTlsLevel::Encrypt);
    // AUTH that can never be offered is worth a warning when asked for explicitly.
    let (_, w) = ok("smtpd_sasl_auth_enable = yes");
    assert!(w[0].message.contains("AUTH will never be offered"));
}

#[test]
fn listener_resolution() {
    let (c, _) = ok("");
    assert_eq!(
        c.listeners.get(Service::Submission),
        [sa("0.0.0.0:587"), sa("[::]:587")]
    );
    let (c, _) = ok("inet_interfaces = loopback-only\nsmtp_listen = 2525");
    assert_eq!(
        c.listeners.get(Service::Smtp),
        [sa("127.0.0.1:2525"), sa("[::1]:2525")]
    );
    let (c, _) = ok("inet_protocols = ipv4\nsmtp_listen = 2525");
    assert_eq!(c.listeners.get(Service::Smtp), [sa("0.0.0.0:2525")]);
    let (c, _) = ok("inet_protocols = ipv6\ninet_interfaces = loopback-only\nsmtp_listen = 2525");
    assert_eq!(c.listeners.get(Service::Smtp), [sa("[::1]:2525")]);
    let (c, _) = ok("inet_interfaces = 192.0.2.1, [2001:db8::1] 127.0.0.1\n\
                     smtp_listen = 2525, [::1]:2526 10.0.0.1:2527\n\
                     pop3_listen =\nimap_listen = *:2143");
    assert_eq!(
        c.inet_interfaces,
        Interfaces::Addresses(vec![ip("192.0.2.1"), ip("2001:db8::1"), ip("127.0.0.1")])
    );
    assert_eq!(
        c.listeners.get(Service::Smtp),
        [
            sa("192.0.2.1:2525"),
            sa("[2001:db8::1]:2525"),
            sa("127.0.0.1:2525"),
            sa("[::1]:2526"),
            sa("10.0.0.1:2527")
        ]
    );
    assert!(c.listeners.get(Service::Pop3).is_empty());
    assert_eq!(c.listeners.get(Service::Imap).len(), 3);
    // A disabled IP version is an error, not a silent drop.
    assert!(err("inet_protocols = ipv4\ninet_interfaces = ::1")
        .to_string()
        .contains("inet_interfaces"));
    let e = err("inet_protocols = ipv4\nsmtp_listen = [::1]:25");
    assert!(e.to_string().contains("disabled by inet_protocols"), "{e}");
    // Every listener off.
    let off: String = Service::ALL
        .iter()
        .map(|s| format!("{} =\n", s.key()))
        .collect();
    let (c, _) = ok(&off);
    assert_eq!(c.listeners.iter().count(), 0);
    // Specific and wildcard on one port clash; different families do not.
    assert!(err("smtp_listen = 0.0.0.0:2525 127.0.0.1:2525")
        .to_string()
        .contains("clashes"));
    let (c, _) = ok("smtp_listen = 0.0.0.0:2525 [::1]:2525");
    assert_eq!(c.listeners.get(Service::Smtp).len(), 2);
    // The same address twice in one list is simply one listener.
    let (c, _) = ok("smtp_listen = 127.0.0.1:2525, 127.0.0.1:2525");
    assert_eq!(c.listeners.get(Service::Smtp), [sa("127.0.0.1:2525")]);
}

#[test]
fn embedded_default_runs_unprivileged() {
    let dir = Path::new("/tmp/rmail-test-data");
    let c = embedded_default_with(dir, &host()).unwrap();
    let got: Vec<(Service, SocketAddr)> = c.listeners.iter().collect();
    assert_eq!(
        got,
        [
            (Service::Smtp, sa("127.0.0.1:2525")),
            (Service::Submission, sa("127.0.0.1:2587")),
            (Service::Submissions, sa("127.0.0.1:2465")),
            (Service::Pop3, sa("127.0.0.1:2110")),
            (Service::Pop3s, sa("127.0.0.1:2995")),
            (Service::Imap, sa("127.0.0.1:2143")),
            (Service::Imaps, sa("127.0.0.1:2993")),
        ]
    );
    assert_eq!(c.data_directory, dir);
    assert_eq!(c.mail_spool_directory, dir.join("spool"));
    assert_eq!(c.queue_directory, dir.join("queue"));
    assert_eq!(c.virtual_mailbox_base, dir.join("mail"));
    assert_eq!(c.smtpd_tls_cert_file, Some(dir.join("tls/cert.pem")));
    assert_eq!(c.smtpd_tls_key_file, Some(dir.join("tls/key.pem")));
    assert_eq!(c.smtpd_tls_security_level, SmtpdTlsLevel::May);
    assert_eq!(c.user_database, UserDatabase::System);
    assert_eq!(c.mail_owner, "alice");
    assert!(c.mydestination.contains(&"localhost".to_owned()));
    assert!(c.mydestination.contains(&"box.test.example".to_owned()));
    assert!(c.is_explicit("smtp_listen") && !c.is_explicit("myhostname"));
    // A `$` in the directory name is data, not a macro.
    let c = embedded_default_with(Path::new("/tmp/a$b"), &host()).unwrap();
    assert_eq!(c.queue_directory, Path::new("/tmp/a$b/queue"));
    roundtrip(&c);
    // The real machine's facts work too.
    assert!(embedded_default(dir).is_ok());
}

fn roundtrip(c: &Config) {
    let printed = print_config(c);
    let (again, _) = match parse_with(&printed, "printed", &host()) {
        Ok(r) => r,
        Err(e) => panic!("{e}\n--- printed:\n{printed}"),
    };
    assert_eq!(
        print_config_all(&again),
        print_config_all(c),
        "--- printed:\n{printed}"
    );
    assert!(again == *c);
    let all = print_config_all(c);
    let (again, _) = parse_with(&all, "printed", &host()).unwrap();
    assert!(again == *c, "--- all:\n{all}");
}

#[test]
fn print_config_round_trips() {
    roundtrip(&ok("").0);
    roundtrip(&ok(TUTORIAL).0);
    roundtrip(&embedded_default_with(Path::new("/srv/rmail"), &host()).unwrap());
    let (c, _) = ok("\
data_directory = /srv/r
smtpd_tls_cert_file = $data_directory/c.pem
inet_interfaces = loopback-only
inet_protocols = ipv4
smtp_listen = 2525 127.0.0.2:2600
relayhost = [ipv6:2001:db8::1]:587
smtp_tls_security_level = none
mail_name = Mail$$Box
mynetworks = 192.0.2.0/24, [2001:db8::]/32
home_mailbox = Maildir/
smtpd_greet_pause = 1500ms
maximal_queue_lifetime = 2
recipient_delimiter = +
smtpd_banner = $myhostname ESMTP ${mail_name} ready
");
    roundtrip(&c);
    let printed = print_config(&c);
    assert!(printed.contains("mail_name = Mail$$Box\n"), "{printed}");
    assert!(printed.contains("smtpd_banner = box.test.example ESMTP Mail$$Box ready\n"));
    assert!(printed.contains("smtp_listen = 127.0.0.1:2525, 127.0.0.2:2600\n"));
    assert!(printed.contains("maximal_queue_lifetime = 2d\n"));
    // Keys at their default that is also Postfix's are not printed.
    assert!(!printed.contains("myhostname"));
    assert!(!printed.contains("smtpd_tls_key_file"));
    // Sorted by key.
    let keys: Vec<&str> = printed
        .lines()
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
}

#[test]
fn print_config_shows_explicit_and_rmail_defaults() {
    let (c, _) = ok("myhostname = box.test.example\n");
    let printed = print_config(&c);
    // Explicit, even when equal to the default.
    assert!(
        printed.contains("myhostname = box.test.example\n"),
        "{printed}"
    );
    // rmail's defaults that differ from Postfix's.
    for line in [
        "data_directory = /var/lib/rmail\n",
        "mail_name = rmail\n",
        "mail_owner = nobody\n",
        "smtpd_sasl_auth_enable = yes\n",
        "smtpd_tls_auth_only = yes\n",
        "smtp_tls_security_level = may\n",
        "queue_directory = /var/lib/rmail/queue\n",
    ] {
        assert!(printed.contains(line), "{line}--- printed:\n{printed}");
    }
    assert!(!printed.contains("alias_maps"), "{printed}");
    assert!(!printed.contains("smtp_listen"), "{printed}");
    let all = print_config_all(&c);
    assert_eq!(all.lines().count(), resolve::KEYS.len());
    assert!(all.contains("relayhost =\n"));
    assert!(all.contains("mynetworks = 127.0.0.0/8, [::1]/128\n"));
}

#[test]
fn key_table_matches_rendering() {
    let names: Vec<&str> = resolve::KEYS.iter().map(|k| k.name).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "KEYS must stay sorted");
    let (c, _) = ok("");
    let rendered: Vec<&str> = c.render_all().into_iter().map(|(k, _)| k).collect();
    assert_eq!(rendered, names);
}

#[test]
fn overrides_apply_and_validate() {
    let (c, _) = ok(TUTORIAL);
    let (o, w) = c
        .with_overrides(&["myhostname = other.example", "smtp_listen=2600", "frob=1"])
        .unwrap();
    assert_eq!(o.myhostname, "other.example");
    assert_eq!(o.mydestination[0], "other.example");
    assert_eq!(o.listeners.get(Service::Smtp)[0].port(), 2600);
    assert!(w
        .iter()
        .any(|w| w.origin.file == "-o" && w.message.contains("frob")));
    // The file's own warnings (the seven stripped comments) come along, and stay with an
    // overridden configuration overridden again.
    assert_eq!(
        w.iter().filter(|w| w.message.contains("comment")).count(),
        7
    );
    let (_, w2) = o.with_overrides(&["mail_name=x"]).unwrap();
    assert_eq!(
        w2.iter().filter(|w| w.message.contains("comment")).count(),
        7
    );
    assert!(o != c);
    roundtrip(&o);
    match c.with_overrides(&["smtpd_timeout=forever"]) {
        Err(ConfigError::Value { origin, key, .. }) => {
            assert_eq!(
                (origin.file.as_str(), key.as_str()),
                ("-o", "smtpd_timeout")
            );
        }
        r => panic!("{r:?}"),
    }
    assert!(matches!(
        c.with_overrides(&["novalue"]),
        Err(ConfigError::Syntax { .. })
    ));
    assert!(matches!(
        c.with_overrides(&[" = x"]),
        Err(ConfigError::Syntax { .. })
    ));
    let none: [&str; 0] = [];
    assert!(c.with_overrides(&none).unwrap().0 == c);
}

#[test]
fn load_reads_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("main.cf");
    std::fs::write(&path, TUTORIAL).unwrap();
    let (c, w) = load(&path).unwrap();
    assert_eq!(c.myhostname, "mail.example.com");
    assert_eq!(w[0].origin.file, path.display().to_string());
    let missing = dir.path().join("nope.cf");
    let e = load(&missing).unwrap_err();
    assert!(matches!(e, ConfigError::Read { .. }));
    assert!(e.to_string().starts_with("cannot read "), "{e}");
    std::fs::write(
        &path,
        b"myorigin = a.example\n\nmyhostname = \xff.example\n",
    )
    .unwrap();
    match load(&path) {
        Err(ConfigError::NotUtf8 { origin }) => assert_eq!(origin.line, 3),
        r => panic!("{r:?}"),
    }
    let p = default_path();
    assert!(p.is_absolute() || std::env::var_os("RMAIL_CONFIG").is_some());
}

#[test]
fn hostile_input_never_panics() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let pieces: Vec<&str> = resolve::KEYS
        .iter()
        .map(|k| k.name)
        .chain([
            "$",
            "${",
            "}",
            "$(",
            ")",
            "?",
            ":",
            "=",
            " = ",
            "#",
            " #",
            "\n",
            "\n ",
            "\t",
            ",",
            "[",
            "]",
            "/",
            "::1",
            "127.0.0.1",
            "/24",
            "/128",
            ":25",
            "yes",
            "no",
            "5d",
            "x",
            "$myhostname",
            "${mail_name?",
            "${x:",
            "$$",
            "\r\n",
            "é",
            "\u{0}",
            "-",
            ".",
            "a",
        ])
        .collect();
    for _ in 0..3000 {
        let mut text = String::new();
        for _ in 0..rng.below(40) {
            text.push_str(pieces[rng.below(pieces.len())]);
        }
        let _ = parse_with(&text, "fuzz", &host());
    }
    for _ in 0..2000 {
        let bytes: Vec<u8> = (0..rng.below(200)).map(|_| rng.next() as u8).collect();
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse_with(&text, "fuzz", &host());
        if let Ok((c, _)) = parse_with(&format!("myorigin = a.example\n{text}"), "f", &host()) {
            let _ = print_config(&c);
        }
    }
    let (c, _) = ok("");
    for _ in 0..500 {
        let mut o = String::new();
        for _ in 0..rng.below(6) {
            o.push_str(pieces[rng.below(pieces.len())]);
        }
        if let Ok((c2, _)) = c.with_overrides(&[o]) {
            let _ = print_config(&c2);
        }
    }
}
