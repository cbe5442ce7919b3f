//! From explicit settings to a typed [`Config`]: the table of keys rmail knows with their
//! defaults (Postfix's unless rmail's differ, both recorded), expansion of every value,
//! validation with file and line, the checks between keys, and rendering back to text.
//!
//! Invariant: for every key, `render` gives text that the key's parser maps back to the same
//! typed value, so `parse(print_config(c)) == c`.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::syntax::{escape, split_list, truncate, ExpandError, Expander, Lookup, Params};
use super::values::*;
use super::{Config, ConfigError, Host, Listeners, Origin, Service, Source, Warning};

/// How a key's default is found.
#[derive(Debug, Clone, Copy)]
pub(super) enum Default {
    /// A raw value, expanded like an explicit one.
    Raw(&'static str),
    /// Computed from the host or from other keys (see [`Table::raw`]).
    Computed,
}

/// One key rmail uses: its default and, where rmail's differs, Postfix's (`postconf -d`),
/// which `print_config` compares against.
pub(super) struct Key {
    pub name: &'static str,
    pub default: Default,
    pub postfix: Option<&'static str>,
}

const fn raw(name: &'static str, d: &'static str) -> Key {
    Key {
        name,
        default: Default::Raw(d),
        postfix: None,
    }
}

const fn ours(name: &'static str, d: &'static str, postfix: &'static str) -> Key {
    Key {
        name,
        default: Default::Raw(d),
        postfix: Some(postfix),
    }
}

const fn computed(name: &'static str, postfix: Option<&'static str>) -> Key {
    Key {
        name,
        default: Default::Computed,
        postfix,
    }
}

/// Every key of [`Config`], sorted by name.
pub(super) const KEYS: &[Key] = &[
    ours(
        "alias_maps",
        "hash:/etc/aliases",
        "hash:/etc/aliases, nis:mail.aliases",
    ),
    raw("bounce_queue_lifetime", "5d"),
    ours("data_directory", "/var/lib/rmail", "/var/lib/postfix"),
    raw("disable_plaintext_auth", "yes"),
    raw("home_mailbox", ""),
    raw("imap_listen", "143"),
    raw("imaps_listen", "${smtpd_tls_cert_file?993}"),
    raw("inet_interfaces", "all"),
    raw("inet_protocols", "all"),
    ours("mail_name", "rmail", "Postfix"),
    computed("mail_owner", Some("postfix")),
    raw("mail_spool_directory", "/var/mail"),
    raw("mailbox_size_limit", "51200000"),
    raw("maximal_backoff_time", "4000s"),
    raw("maximal_queue_lifetime", "5d"),
    raw("message_size_limit", "10240000"),
    raw("minimal_backoff_time", "300s"),
    raw(
        "mydestination",
        "$myhostname, localhost.$mydomain, localhost",
    ),
    computed("mydomain", None),
    computed("myhostname", None),
    raw("mynetworks", "127.0.0.0/8 [::1]/128"),
    raw("myorigin", "$myhostname"),
    raw("pop3_listen", "110"),
    raw("pop3s_listen", "${smtpd_tls_cert_file?995}"),
    ours(
        "queue_directory",
        "$data_directory/queue",
        "/var/spool/postfix",
    ),
    raw("queue_run_delay", "300s"),
    raw("recipient_delimiter", ""),
    raw("relay_domains", ""),
    raw("relayhost", ""),
    raw("smtp_listen", "25"),
    raw("smtp_sasl_auth_enable", "no"),
    raw("smtp_sasl_password_maps", ""),
    raw("smtp_tls_CAfile", ""),
    ours("smtp_tls_security_level", "may", ""),
    raw("smtp_tls_wrappermode", "no"),
    raw("smtpd_banner", "$myhostname ESMTP $mail_name"),
    raw("smtpd_client_connection_count_limit", "50"),
    raw("smtpd_greet_pause", "0"),
    raw("smtpd_hard_error_limit", "20"),
    raw("smtpd_recipient_limit", "1000"),
    ours("smtpd_sasl_auth_enable", "yes", "no"),
    raw("smtpd_timeout", "300s"),
    ours("smtpd_tls_auth_only", "yes", "no"),
    raw("smtpd_tls_cert_file", ""),
    raw("smtpd_tls_key_file", "$smtpd_tls_cert_file"),
    computed("smtpd_tls_security_level", Some("")),
    raw("submission_listen", "587"),
    raw("submissions_listen", "${smtpd_tls_cert_file?465}"),
    raw("user_database", "system"),
    ours("virtual_mailbox_base", "$data_directory/mail", ""),
];

/// Obsolete Postfix keys rmail still honours: they only feed the default of
/// `smtpd_tls_security_level` (Postfix does the same when the level is not set).
const COMPAT: &[&str] = &["smtpd_use_tls", "smtpd_enforce_tls"];

/// Postfix keys common in main.cf files that rmail does not use: a milder warning.
const IGNORED: &[&str] = &[
    "alias_database",
    "append_dot_mydomain",
    "biff",
    "broken_sasl_auth_clients",
    "command_directory",
    "compatibility_level",
    "daemon_directory",
    "debug_peer_level",
    "debugger_command",
    "delay_warning_time",
    "disable_vrfy_command",
    "html_directory",
    "local_recipient_maps",
    "mailbox_command",
    "mailbox_transport",
    "mailq_path",
    "maillog_file",
    "manpage_directory",
    "meta_directory",
    "newaliases_path",
    "readme_directory",
    "sample_directory",
    "sendmail_path",
    "setgid_group",
    "shlib_directory",
    "smtp_tls_CApath",
    "smtp_tls_loglevel",
    "smtp_tls_mandatory_protocols",
    "smtp_tls_note_starttls_offer",
    "smtp_tls_protocols",
    "smtp_tls_session_cache_database",
    "smtp_sasl_security_options",
    "smtpd_helo_required",
    "smtpd_recipient_restrictions",
    "smtpd_relay_restrictions",
    "smtpd_sasl_local_domain",
    "smtpd_sasl_path",
    "smtpd_sasl_security_options",
    "smtpd_sasl_type",
    "smtpd_tls_CApath",
    "smtpd_tls_CAfile",
    "smtpd_tls_loglevel",
    "smtpd_tls_mandatory_protocols",
    "smtpd_tls_protocols",
    "smtpd_tls_received_header",
    "smtpd_tls_session_cache_database",
    "tls_random_source",
    "transport_maps",
    "unknown_local_recipient_reject_code",
    "virtual_alias_maps",
];

pub(super) fn key(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == name)
}

/// Postfix's `mydomain` default: `myhostname` minus its first label, or `localdomain` when
/// that would leave a single label (Postfix `check_mydomainname`).
fn parent_domain(host: &str) -> &str {
    match host.split_once('.') {
        Some((_, rest)) if rest.contains('.') => rest,
        _ => "localdomain",
    }
}

/// The value source for expansion: explicit settings, then defaults.
pub(super) struct Table<'a> {
    pub params: &'a Params,
    pub host: &'a Host,
}

impl Lookup for Table<'_> {
    fn raw(&self, name: &str, exp: &mut Expander<'_>) -> Result<Option<String>, ExpandError> {
        if let Some(e) = self.params.entries.get(name) {
            return Ok(Some(e.value.clone()));
        }
        let Some(k) = key(name) else {
            return Ok(None);
        };
        let d = match k.default {
            Default::Raw(s) => return Ok(Some(s.to_owned())),
            Default::Computed => name,
        };
        let value = match d {
            "myhostname" => self.host.hostname.clone(),
            "mydomain" => {
                let h = exp.param("myhostname")?.unwrap_or_default();
                parent_domain(h.trim()).to_owned()
            }
            "mail_owner" => self.host.default_mail_owner.clone(),
            "smtpd_tls_security_level" => {
                let flag = |exp: &mut Expander<'_>, n: &str| -> Result<Option<bool>, ExpandError> {
                    match exp.param(n)? {
                        None => Ok(None),
                        Some(v) => parse_bool(v.trim())
                            .map(Some)
                            .map_err(|reason| ExpandError {
                                at: n.to_owned(),
                                reason,
                            }),
                    }
                };
                let cert = exp.param("smtpd_tls_cert_file")?.unwrap_or_default();
                if flag(exp, "smtpd_enforce_tls")? == Some(true) {
                    "encrypt".to_owned()
                } else if let Some(b) = flag(exp, "smtpd_use_tls")? {
                    if b { "may" } else { "none" }.to_owned()
                } else if cert.trim().is_empty() {
                    "none".to_owned()
                } else {
                    "may".to_owned()
                }
            }
            _ => String::new(),
        };
        Ok(Some(escape(&value)))
    }
}

/// Expands and validates keys one at a time, collecting warnings.
struct Resolver<'a> {
    table: Table<'a>,
    file: &'a str,
    warnings: Vec<Warning>,
    referenced: BTreeSet<String>,
}

impl Resolver<'_> {
    fn origin(&self, name: &str) -> Origin {
        match self.table.params.entries.get(name) {
            Some(e) => e.origin.clone(),
            None => Origin::new(self.file, 0),
        }
    }

    fn expand_error(&self, e: ExpandError) -> ConfigError {
        let value = match self.table.params.entries.get(&e.at) {
            Some(entry) => entry.value.clone(),
            None => match key(&e.at).map(|k| k.default) {
                Some(Default::Raw(s)) => s.to_owned(),
                _ => String::new(),
            },
        };
        ConfigError::Value {
            origin: self.origin(&e.at),
            key: e.at,
            value: truncate(&value, 200),
            reason: e.reason,
        }
    }

    /// The expanded, trimmed value of `name` (empty when undefined).
    fn expanded(&mut self, name: &str) -> Result<String, ConfigError> {
        let mut exp = Expander::new(&self.table);
        let result = exp.param(name);
        self.referenced.extend(exp.referenced.iter().cloned());
        for (undef, owner) in std::mem::take(&mut exp.undefined) {
            self.warnings.push(Warning {
                origin: self.origin(&owner),
                message: format!("{owner}: undefined parameter ${undef} expands to nothing"),
            });
        }
        match result {
            Ok(v) => Ok(v.unwrap_or_default().trim().to_owned()),
            Err(e) => Err(self.expand_error(e)),
        }
    }

    fn bad(&self, name: &str, value: &str, reason: String) -> ConfigError {
        ConfigError::Value {
            origin: self.origin(name),
            key: name.to_owned(),
            value: truncate(value, 200),
            reason,
        }
    }

    fn get<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        let v = self.expanded(name)?;
        parse(&v).map_err(|reason| self.bad(name, &v, reason))
    }

    fn check(&mut self, name: &str, ok: bool, reason: &str) -> Result<(), ConfigError> {
        if ok {
            return Ok(());
        }
        let v = self.expanded(name)?;
        Err(self.bad(name, &v, reason.to_owned()))
    }

    fn explicit(&self, name: &str) -> bool {
        self.table.params.entries.contains_key(name)
    }
}

fn text(s: &str) -> Result<String, String> {
    if s.chars().any(char::is_control) {
        return Err("control character in value".into());
    }
    Ok(s.to_owned())
}

fn nonempty_text(s: &str) -> Result<String, String> {
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    text(s)
}

fn hostname(s: &str) -> Result<String, String> {
    check_hostname(s)?;
    Ok(s.to_owned())
}

fn networks(s: &str) -> Result<Vec<Network>, String> {
    let mut out: Vec<Network> = Vec::new();
    for item in split_list(s) {
        let n: Network = item.parse()?;
        if !out.contains(&n) {
            out.push(n);
        }
    }
    Ok(out)
}

fn tables(s: &str) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for item in split_list(s) {
        if let Some(p) = parse_table(item)? {
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    Ok(out)
}

fn delimiter(s: &str) -> Result<String, String> {
    if s.chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '@')
    {
        return Err("must not contain '@', whitespace or control characters".into());
    }
    Ok(s.to_owned())
}

fn one_table(s: &str) -> Result<Option<PathBuf>, String> {
    let items: Vec<&str> = split_list(s).collect();
    match items.as_slice() {
        [] => Ok(None),
        [one] => match parse_table(one)? {
            Some(p) => Ok(Some(p)),
            None => Err("nis: tables are not supported here".into()),
        },
        _ => Err("only one table is supported".into()),
    }
}

fn u32_in(min: u64) -> impl Fn(&str) -> Result<u32, String> {
    move |s| parse_int(s, min, u64::from(u32::MAX)).map(|n| n as u32)
}

/// Resolves explicit settings into a [`Config`]. Errors carry the file and line of the
/// offending setting (or of the file alone for a default).
pub(super) fn resolve(
    params: Params,
    host: Host,
    file: &str,
) -> Result<(Config, Vec<Warning>), ConfigError> {
    let mut r = Resolver {
        table: Table {
            params: &params,
            host: &host,
        },
        file,
        warnings: Vec::new(),
        referenced: BTreeSet::new(),
    };

    // Expansion errors first, in file order, so the first error reported is the first bad
    // line.
    for (name, _) in params.in_line_order() {
        if key(name).is_some() || COMPAT.contains(&name.as_str()) {
            r.expanded(name)?;
        }
    }

    let data_directory = r.get("data_directory", parse_abs_path)?;
    let myhostname = r.get("myhostname", hostname)?;
    let mydomain = r.get("mydomain", hostname)?;
    let myorigin = r.get("myorigin", hostname)?;
    let mail_name = r.get("mail_name", nonempty_text)?;
    let inet_protocols = r.get("inet_protocols", parse_protocols)?;
    let inet_interfaces = r.get("inet_interfaces", |s| parse_interfaces(s, inet_protocols))?;
    let mydestination = r.get("mydestination", parse_domains)?;
    let relay_domains = r.get("relay_domains", parse_domains)?;
    let mynetworks = r.get("mynetworks", networks)?;
    let relayhost = r.get("relayhost", parse_relayhost)?;
    let max_u64 = |s: &str| parse_int(s, 0, u64::MAX);
    let message_size_limit = r.get("message_size_limit", max_u64)?;
    let mailbox_size_limit = r.get("mailbox_size_limit", max_u64)?;
    r.check(
        "mailbox_size_limit",
        mailbox_size_limit == 0
            || message_size_limit == 0
            || mailbox_size_limit >= message_size_limit,
        "smaller than message_size_limit",
    )?;
    let recipient_delimiter = r.get("recipient_delimiter", delimiter)?;
    let alias_maps = r.get("alias_maps", tables)?;
    let home_mailbox = r.get("home_mailbox", parse_home_mailbox)?;
    let mail_spool_directory = r.get("mail_spool_directory", parse_abs_path)?;
    let virtual_mailbox_base = r.get("virtual_mailbox_base", parse_abs_path)?;
    let queue_directory = r.get("queue_directory", parse_abs_path)?;
    let smtpd_banner = r.get("smtpd_banner", nonempty_text)?;

    let smtpd_tls_cert_file = r.get("smtpd_tls_cert_file", parse_opt_path)?;
    let smtpd_tls_key_file = r.get("smtpd_tls_key_file", parse_opt_path)?;
    r.check(
        "smtpd_tls_key_file",
        smtpd_tls_key_file.is_none() || smtpd_tls_cert_file.is_some(),
        "set without smtpd_tls_cert_file",
    )?;
    let smtpd_tls_security_level = r.get("smtpd_tls_security_level", parse_smtpd_tls_level)?;
    r.check(
        "smtpd_tls_security_level",
        smtpd_tls_security_level == SmtpdTlsLevel::None || smtpd_tls_cert_file.is_some(),
        "TLS needs a certificate: set smtpd_tls_cert_file (and smtpd_tls_key_file)",
    )?;
    let smtpd_tls_auth_only = r.get("smtpd_tls_auth_only", parse_bool)?;
    let smtpd_sasl_auth_enable = r.get("smtpd_sasl_auth_enable", parse_bool)?;
    if smtpd_sasl_auth_enable
        && smtpd_tls_auth_only
        && smtpd_tls_security_level == SmtpdTlsLevel::None
        && r.explicit("smtpd_sasl_auth_enable")
    {
        r.warnings.push(Warning {
            origin: r.origin("smtpd_sasl_auth_enable"),
            message: "smtpd_sasl_auth_enable = yes, but smtpd_tls_auth_only = yes and TLS is \
                      off: AUTH will never be offered"
                .into(),
        });
    }
    let disable_plaintext_auth = r.get("disable_plaintext_auth", parse_bool)?;
    let smtpd_greet_pause = r.get("smtpd_greet_pause", |s| parse_time(s, TimeUnit::Millis))?;
    let smtpd_client_connection_count_limit =
        r.get("smtpd_client_connection_count_limit", u32_in(0))?;
    let smtpd_recipient_limit = r.get("smtpd_recipient_limit", u32_in(1))?;
    let smtpd_hard_error_limit = r.get("smtpd_hard_error_limit", u32_in(1))?;
    let positive = |unit| {
        move |s: &str| {
            parse_time(s, unit).and_then(|d| {
                if d.is_zero() {
                    Err("must be more than 0".to_owned())
                } else {
                    Ok(d)
                }
            })
        }
    };
    let smtpd_timeout = r.get("smtpd_timeout", positive(TimeUnit::Seconds))?;
    let maximal_queue_lifetime =
        r.get("maximal_queue_lifetime", |s| parse_time(s, TimeUnit::Days))?;
    let bounce_queue_lifetime =
        r.get("bounce_queue_lifetime", |s| parse_time(s, TimeUnit::Days))?;
    let minimal_backoff_time = r.get("minimal_backoff_time", positive(TimeUnit::Seconds))?;
    let maximal_backoff_time = r.get("maximal_backoff_time", positive(TimeUnit::Seconds))?;
    r.check(
        "maximal_backoff_time",
        maximal_backoff_time >= minimal_backoff_time,
        "smaller than minimal_backoff_time",
    )?;
    let queue_run_delay = r.get("queue_run_delay", positive(TimeUnit::Seconds))?;

    let mail_owner = r.get("mail_owner", |s| check_user_name(s).map(|()| s.to_owned()))?;
    if mail_owner == "root" {
        r.warnings.push(Warning {
            origin: r.origin("mail_owner"),
            message: "mail_owner = root: the server will keep root privileges; use an \
                      unprivileged user"
                .into(),
        });
    }

    let smtp_sasl_auth_enable = r.get("smtp_sasl_auth_enable", parse_bool)?;
    let smtp_sasl_password_maps = r.get("smtp_sasl_password_maps", one_table)?;
    r.check(
        "smtp_sasl_auth_enable",
        !smtp_sasl_auth_enable || smtp_sasl_password_maps.is_some(),
        "needs smtp_sasl_password_maps",
    )?;
    let smtp_tls_security_level = r.get("smtp_tls_security_level", parse_smtp_tls_level)?;
    let smtp_tls_wrappermode = r.get("smtp_tls_wrappermode", parse_bool)?;
    r.check(
        "smtp_tls_wrappermode",
        !smtp_tls_wrappermode
            || !matches!(
                smtp_tls_security_level,
                SmtpTlsLevel::None | SmtpTlsLevel::May
            ),
        "needs smtp_tls_security_level = encrypt or stronger",
    )?;
    let smtp_tls_ca_file = r.get("smtp_tls_CAfile", parse_opt_path)?;

    let mut listeners = Listeners::default();
    let mut seen: Vec<(SocketAddr, Service)> = Vec::new();
    for service in Service::ALL {
        let addrs = r.get(service.key(), |s| {
            parse_listen(s, &inet_interfaces, inet_protocols)
        })?;
        if service.implicit_tls() && !addrs.is_empty() && smtpd_tls_cert_file.is_none() {
            r.check(
                service.key(),
                false,
                "implicit TLS needs smtpd_tls_cert_file",
            )?;
        }
        for sa in &addrs {
            if let Some((other, owner)) = seen.iter().find(|(o, _)| clash(*o, *sa)) {
                let reason = format!("{sa} clashes with {other} of {}", owner.key());
                let v = r.expanded(service.key())?;
                return Err(r.bad(service.key(), &v, reason));
            }
            seen.push((*sa, service));
        }
        listeners.set(service, addrs);
    }
    let user_database = r.get("user_database", parse_user_database)?;

    // Unknown keys: warn, unless another value refers to them (Postfix's user-defined
    // parameters) — postconf(1) warns about "unused" parameters the same way.
    for (name, entry) in params.in_line_order() {
        let used = key(name).is_some()
            || COMPAT.contains(&name.as_str())
            || r.referenced.contains(name.as_str());
        if used {
            continue;
        }
        let message = if IGNORED.contains(&name.as_str()) {
            format!("{name}: Postfix parameter not used by rmail, ignored")
        } else {
            format!("unknown parameter {name}, ignored")
        };
        r.warnings.push(Warning {
            origin: entry.origin.clone(),
            message,
        });
    }
    let mut warnings = Vec::new();
    for w in r.warnings {
        if !warnings.contains(&w) {
            warnings.push(w);
        }
    }

    let config = Config {
        myhostname,
        mydomain,
        myorigin,
        mail_name,
        inet_interfaces,
        inet_protocols,
        mydestination,
        relay_domains,
        mynetworks,
        relayhost,
        message_size_limit,
        mailbox_size_limit,
        recipient_delimiter,
        alias_maps,
        home_mailbox,
        mail_spool_directory,
        virtual_mailbox_base,
        queue_directory,
        data_directory,
        smtpd_banner,
        smtpd_tls_cert_file,
        smtpd_tls_key_file,
        smtpd_tls_security_level,
        smtpd_tls_auth_only,
        smtpd_sasl_auth_enable,
        disable_plaintext_auth,
        smtpd_greet_pause,
        smtpd_client_connection_count_limit,
        smtpd_recipient_limit,
        smtpd_hard_error_limit,
        smtpd_timeout,
        maximal_queue_lifetime,
        bounce_queue_lifetime,
        minimal_backoff_time,
        maximal_backoff_time,
        queue_run_delay,
        mail_owner,
        smtp_sasl_auth_enable,
        smtp_sasl_password_maps,
        smtp_tls_security_level,
        smtp_tls_wrappermode,
        smtp_tls_ca_file,
        listeners,
        user_database,
        source: Source {
            params,
            host,
            file: file.to_owned(),
            line_warnings: Vec::new(),
        },
    };
    Ok((config, warnings))
}

/// True when binding `b` after `a` would fail: the same address and port, or the same
/// port where one of them is the wildcard address of the same IP version. Port 0 (a free
/// port the kernel picks, for tests) never clashes.
fn clash(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() != 0
        && a.port() == b.port()
        && a.is_ipv4() == b.is_ipv4()
        && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
}

fn path(p: &Path) -> String {
    escape(&p.display().to_string())
}

fn opt_path(p: &Option<PathBuf>) -> String {
    p.as_deref().map(path).unwrap_or_default()
}

fn join<T: ToString>(v: &[T]) -> String {
    let v: Vec<String> = v.iter().map(T::to_string).collect();
    v.join(", ")
}

impl Config {
    /// Every key with its effective value as main.cf text (expanded; `$` written `$$`),
    /// sorted by key, as `postconf -x` prints them.
    pub(super) fn render_all(&self) -> Vec<(&'static str, String)> {
        let t = render_time;
        let mut v: Vec<(&'static str, String)> = vec![
            (
                "alias_maps",
                join(&self.alias_maps.iter().map(|p| path(p)).collect::<Vec<_>>()),
            ),
            ("bounce_queue_lifetime", t(self.bounce_queue_lifetime)),
            ("data_directory", path(&self.data_directory)),
            (
                "disable_plaintext_auth",
                render_bool(self.disable_plaintext_auth),
            ),
            ("home_mailbox", escape(&self.home_mailbox.to_string())),
            ("inet_interfaces", self.inet_interfaces.to_string()),
            ("inet_protocols", self.inet_protocols.to_string()),
            ("mail_name", escape(&self.mail_name)),
            ("mail_owner", self.mail_owner.clone()),
            ("mail_spool_directory", path(&self.mail_spool_directory)),
            ("mailbox_size_limit", self.mailbox_size_limit.to_string()),
            ("maximal_backoff_time", t(self.maximal_backoff_time)),
            ("maximal_queue_lifetime", t(self.maximal_queue_lifetime)),
            ("message_size_limit", self.message_size_limit.to_string()),
            ("minimal_backoff_time", t(self.minimal_backoff_time)),
            ("mydestination", join(&self.mydestination)),
            ("mydomain", self.mydomain.clone()),
            ("myhostname", self.myhostname.clone()),
            ("mynetworks", join(&self.mynetworks)),
            ("myorigin", self.myorigin.clone()),
            ("queue_directory", path(&self.queue_directory)),
            ("queue_run_delay", t(self.queue_run_delay)),
            ("recipient_delimiter", escape(&self.recipient_delimiter)),
            ("relay_domains", join(&self.relay_domains)),
            (
                "relayhost",
                self.relayhost
                    .as_ref()
                    .map(|r| r.to_string())
                    .unwrap_or_default(),
            ),
            (
                "smtp_sasl_auth_enable",
                render_bool(self.smtp_sasl_auth_enable),
            ),
            (
                "smtp_sasl_password_maps",
                opt_path(&self.smtp_sasl_password_maps),
            ),
            ("smtp_tls_CAfile", opt_path(&self.smtp_tls_ca_file)),
            (
                "smtp_tls_security_level",
                self.smtp_tls_security_level.to_string(),
            ),
            (
                "smtp_tls_wrappermode",
                render_bool(self.smtp_tls_wrappermode),
            ),
            ("smtpd_banner", escape(&self.smtpd_banner)),
            (
                "smtpd_client_connection_count_limit",
                self.smtpd_client_connection_count_limit.to_string(),
            ),
            ("smtpd_greet_pause", t(self.smtpd_greet_pause)),
            (
                "smtpd_hard_error_limit",
                self.smtpd_hard_error_limit.to_string(),
            ),
            (
                "smtpd_recipient_limit",
                self.smtpd_recipient_limit.to_string(),
            ),
            (
                "smtpd_sasl_auth_enable",
                render_bool(self.smtpd_sasl_auth_enable),
            ),
            ("smtpd_timeout", t(self.smtpd_timeout)),
            ("smtpd_tls_auth_only", render_bool(self.smtpd_tls_auth_only)),
            ("smtpd_tls_cert_file", opt_path(&self.smtpd_tls_cert_file)),
            ("smtpd_tls_key_file", opt_path(&self.smtpd_tls_key_file)),
            (
                "smtpd_tls_security_level",
                self.smtpd_tls_security_level.to_string(),
            ),
            ("user_database", escape(&self.user_database.to_string())),
            ("virtual_mailbox_base", path(&self.virtual_mailbox_base)),
        ];
        for service in Service::ALL {
            v.push((service.key(), render_listen(self.listeners.get(service))));
        }
        v.sort_by_key(|(k, _)| *k);
        v
    }

    /// The keys `postconf -n` would print: set explicitly, or effective value different
    /// from the default (Postfix's where rmail's differs). Found by resolving the same
    /// settings without the key (or with Postfix's default for it) and comparing.
    pub(super) fn non_default_keys(&self) -> Vec<(&'static str, String)> {
        let mine = self.render_all();
        let mut out = Vec::new();
        for (name, value) in mine {
            let src = &self.source;
            if src.params.entries.contains_key(name) {
                out.push((name, value));
                continue;
            }
            let mut params = src.params.clone();
            if let Some(pf) = key(name).and_then(|k| k.postfix) {
                let mut sink = Vec::new();
                params.set(
                    name,
                    pf.to_owned(),
                    Origin::new("postfix default", 0),
                    &mut sink,
                );
            }
            let same = match resolve(params, src.host.clone(), &src.file) {
                Ok((reference, _)) => reference
                    .render_all()
                    .into_iter()
                    .any(|(k, v)| k == name && v == value),
                Err(_) => false,
            };
            if !same {
                out.push((name, value));
            }
        }
        out
    }
}
