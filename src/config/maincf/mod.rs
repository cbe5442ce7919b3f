//! The configuration of `rmail serve`, in Postfix `main.cf` syntax (main.cf(5), postconf(5)):
//! `key = value` lines, indented continuation lines, `#` comment lines, `$name` / `${name}`
//! expansion (with `${name?text}` and `${name:text}`), list values split at commas and
//! whitespace, booleans `yes`/`no`, times with the units `s m h d w`.
//!
//! rmail reads a subset of Postfix's keys with Postfix's defaults, a few rmail defaults that
//! differ (each recorded in the key table, `print_config` shows them), and keys of its own
//! for the listeners (`smtp_listen`, … `imaps_listen`), `user_database`, `data_directory`,
//! Dovecot's `disable_plaintext_auth` and `smtpd_greet_pause`.
//!
//! Deviations from Postfix, each with a warning, never silent:
//! - whitespace followed by `#` after a value starts a comment (Postfix keeps it in the
//!   value), so tutorial lines such as `myhostname = mail.example.com  # FQDN` work;
//! - unknown keys are ignored with a warning naming file and line; bad values of known keys
//!   are errors with file, line, key and reason, and refuse start-up.
//!
//! Layout: [`syntax`] (lines, comments, expansion), [`values`] (typed values), [`resolve`]
//! (key table, defaults, validation, rendering). Only [`load`] and [`Host::detect`] touch the
//! system; everything else is pure.
//!
//! Invariants: no input panics; `parse(print_config(c)) == c` for every `c` this module
//! produces (equality is over effective values, see [`Config`]'s `PartialEq`).

mod resolve;
mod syntax;
mod values;

#[cfg(test)]
mod tests;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use values::{
    HomeMailbox, Interfaces, Network, Protocols, Relayhost, SmtpTlsLevel, SmtpdTlsLevel,
    UserDatabase,
};

use syntax::{escape, Params};

/// Where a setting was written: a file (or `-o`, or a built-in origin) and a 1-based line,
/// 0 when there is no line (defaults, overrides).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file name as given to [`parse`] / [`load`], `-o` for overrides.
    pub file: String,
    /// 1-based line number of the start of the logical line; 0 for none.
    pub line: usize,
}

impl Origin {
    fn new(file: &str, line: usize) -> Origin {
        Origin {
            file: file.to_owned(),
            line,
        }
    }
}

impl fmt::Display for Origin {
    /// `file:line`, or `file` when there is no line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            f.write_str(&self.file)
        } else {
            write!(f, "{}:{}", self.file, self.line)
        }
    }
}

/// Something worth telling the operator that does not stop start-up: an unknown key, a
/// stripped trailing comment, an undefined `$name`, `mail_owner = root`, …
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Where the setting concerned was written.
    pub origin: Origin,
    /// What is wrong, lower case, without the origin.
    pub message: String,
}

impl fmt::Display for Warning {
    /// `/etc/rmail/main.cf:3: warning: unknown parameter foo, ignored` (Postfix's form).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: warning: {}", self.origin, self.message)
    }
}

/// Why a configuration was refused. Each names the file and line of the bad setting.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not UTF-8 (the line of the first bad byte).
    #[error("{origin}: cannot read: not UTF-8 text")]
    NotUtf8 { origin: Origin },
    /// A line is not `name = value` (or a continuation with nothing to continue).
    #[error("{origin}: cannot parse: {reason}")]
    Syntax { origin: Origin, reason: String },
    /// A known key has a value rmail cannot use (after expansion), or clashes with another.
    #[error("{origin}: cannot use {key} = {value:?}: {reason}")]
    Value {
        origin: Origin,
        key: String,
        value: String,
        reason: String,
    },
}

/// Facts about the machine that defaults depend on; [`Host::detect`] reads them, tests build
/// one by hand so that parsing stays pure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// The default `myhostname`: gethostname(2), with `.localdomain` appended when it has no
    /// dot (Postfix `check_myhostname`).
    pub hostname: String,
    /// The invoking user's login name (the embedded default's `mail_owner`).
    pub user: String,
    /// The default `mail_owner`: `rmail` when that user exists, else `nobody`.
    pub default_mail_owner: String,
}

impl Host {
    /// Reads the host name and user names from the system (gethostname, getpwuid, getpwnam).
    /// A host name that is not a valid DNS name becomes `localhost.localdomain`.
    pub fn detect() -> Host {
        let mut hostname = system_hostname().unwrap_or_default();
        if values::check_hostname(&hostname).is_err() {
            hostname = "localhost".to_owned();
        }
        if !hostname.contains('.') {
            hostname.push_str(".localdomain");
        }
        let user = invoking_user().unwrap_or_else(|| "nobody".to_owned());
        let default_mail_owner = if user_exists("rmail") {
            "rmail"
        } else {
            "nobody"
        };
        Host {
            hostname,
            user,
            default_mail_owner: default_mail_owner.to_owned(),
        }
    }
}

fn system_hostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for buf.len() bytes; gethostname writes at most that many.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let n = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    std::str::from_utf8(&buf[..n]).ok().map(str::to_owned)
}

fn invoking_user() -> Option<String> {
    crate::mda::users::name_of_uid(rustix::process::geteuid().as_raw())
}

fn user_exists(name: &str) -> bool {
    let Ok(c) = std::ffi::CString::new(name) else {
        return false;
    };
    // SAFETY: c is a valid NUL-terminated string; only the null-ness of the result is read.
    unsafe { !libc::getpwnam(c.as_ptr()).is_null() }
}

/// One of the server's listeners, each configured by its `*_listen` key (rmail's own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// SMTP relay/MX, RFC 5321 (`smtp_listen`, port 25).
    Smtp,
    /// Message submission with STARTTLS, RFC 6409 (`submission_listen`, 587).
    Submission,
    /// Submission over implicit TLS, RFC 8314 (`submissions_listen`, 465).
    Submissions,
    /// POP3, RFC 1939 (`pop3_listen`, 110).
    Pop3,
    /// POP3 over implicit TLS, RFC 8314 (`pop3s_listen`, 995).
    Pop3s,
    /// IMAP, RFC 9051 (`imap_listen`, 143).
    Imap,
    /// IMAP over implicit TLS, RFC 8314 (`imaps_listen`, 993).
    Imaps,
}

impl Service {
    /// Every service, in this order.
    pub const ALL: [Service; 7] = [
        Service::Smtp,
        Service::Submission,
        Service::Submissions,
        Service::Pop3,
        Service::Pop3s,
        Service::Imap,
        Service::Imaps,
    ];

    /// The main.cf key: `smtp_listen`, …
    pub fn key(self) -> &'static str {
        match self {
            Service::Smtp => "smtp_listen",
            Service::Submission => "submission_listen",
            Service::Submissions => "submissions_listen",
            Service::Pop3 => "pop3_listen",
            Service::Pop3s => "pop3s_listen",
            Service::Imap => "imap_listen",
            Service::Imaps => "imaps_listen",
        }
    }

    /// The IANA port (the default for a system-wide server).
    pub fn port(self) -> u16 {
        match self {
            Service::Smtp => 25,
            Service::Submission => 587,
            Service::Submissions => 465,
            Service::Pop3 => 110,
            Service::Pop3s => 995,
            Service::Imap => 143,
            Service::Imaps => 993,
        }
    }

    /// The unprivileged port of [`embedded_default`]: 2525 for SMTP, else 2000 + the IANA
    /// port (2587, 2465, 2110, 2995, 2143, 2993).
    pub fn unprivileged_port(self) -> u16 {
        match self {
            Service::Smtp => 2525,
            s => 2000 + s.port(),
        }
    }

    /// True for the implicit-TLS services (RFC 8314 §3.3): TLS starts before the greeting.
    pub fn implicit_tls(self) -> bool {
        matches!(self, Service::Submissions | Service::Pop3s | Service::Imaps)
    }
}

/// The concrete socket addresses of every listener: `inet_interfaces` × `inet_protocols`
/// already applied. An empty list means the service is off. Binding `0.0.0.0:p` and `[::]:p`
/// together needs `IPV6_V6ONLY` on the IPv6 socket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listeners {
    addrs: [Vec<SocketAddr>; 7],
}

impl Listeners {
    /// The addresses of `service` (empty: off).
    pub fn get(&self, service: Service) -> &[SocketAddr] {
        &self.addrs[service as usize]
    }

    fn set(&mut self, service: Service, addrs: Vec<SocketAddr>) {
        self.addrs[service as usize] = addrs;
    }

    /// Every (service, address) pair to bind, services in [`Service::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (Service, SocketAddr)> + '_ {
        Service::ALL
            .into_iter()
            .flat_map(move |s| self.get(s).iter().map(move |a| (s, *a)))
    }
}

/// What a [`Config`] was resolved from, so overrides and `print_config` can re-resolve.
#[derive(Debug, Clone)]
struct Source {
    params: Params,
    host: Host,
    file: String,
    /// Warnings about the file's lines (stripped comments, duplicates), kept for
    /// [`Config::with_overrides`].
    line_warnings: Vec<Warning>,
}

/// The typed, validated configuration of `rmail serve`. Field names are the main.cf keys;
/// each field documents its default (Postfix's unless marked rmail's).
///
/// Equality compares the effective values of every key (what [`print_config_all`] prints),
/// not how they were written: `myorigin = $mydomain` and `myorigin = example.com` are equal
/// when `mydomain = example.com`.
#[derive(Debug, Clone)]
pub struct Config {
    /// The host's FQDN. Default: gethostname(2) (+ `.localdomain` without a dot).
    pub myhostname: String,
    /// The local domain. Default: `myhostname` minus its first label (`localdomain` when that
    /// leaves one label).
    pub mydomain: String,
    /// The domain appended to unqualified sender addresses. Default: `$myhostname`.
    pub myorigin: String,
    /// The name in the greeting. Default (rmail): `rmail` (Postfix: `Postfix`).
    pub mail_name: String,
    /// Default: `all`.
    pub inet_interfaces: Interfaces,
    /// Default: `all`.
    pub inet_protocols: Protocols,
    /// Domains delivered locally, lower case. Default: `$myhostname, localhost.$mydomain,
    /// localhost`. A leading `.` means subdomains (Postfix's parent-domain form).
    pub mydestination: Vec<String>,
    /// Domains relayed for anyone (as backup MX), lower case. Default: empty (Postfix ≥ 3.0).
    pub relay_domains: Vec<String>,
    /// Clients allowed to relay. Default: `127.0.0.0/8 [::1]/128` (Postfix's
    /// `mynetworks_style = host` on a loopback-only host).
    pub mynetworks: Vec<Network>,
    /// Where non-local mail goes; `None`: direct delivery by MX. Default: empty.
    pub relayhost: Option<Relayhost>,
    /// Largest message in bytes, 0 for no limit. Default: 10240000.
    pub message_size_limit: u64,
    /// Largest mailbox in bytes, 0 for no limit; not smaller than `message_size_limit`.
    /// Default: 51200000.
    pub mailbox_size_limit: u64,
    /// Characters that separate a user name from an extension (`user+ext`); empty: none.
    pub recipient_delimiter: String,
    /// Alias files, the `hash:`/`texthash:`/`lmdb:`/… prefix dropped: rmail reads the source
    /// text, not a compiled `.db`. `nis:` tables are skipped. Default: `/etc/aliases`.
    pub alias_maps: Vec<PathBuf>,
    /// Where local delivery writes. Default: empty (the spool mbox).
    pub home_mailbox: HomeMailbox,
    /// Directory of spool mboxes `DIR/user`. Default: `/var/mail`.
    pub mail_spool_directory: PathBuf,
    /// Base directory of mailboxes of users from an rmail user file. Default (rmail):
    /// `$data_directory/mail`.
    pub virtual_mailbox_base: PathBuf,
    /// The mail queue. Default (rmail): `$data_directory/queue`.
    pub queue_directory: PathBuf,
    /// rmail's state directory. Default (rmail): `/var/lib/rmail`.
    pub data_directory: PathBuf,
    /// The SMTP greeting text after the code (RFC 5321 §4.2: starts with the host name).
    /// Default: `$myhostname ESMTP $mail_name`.
    pub smtpd_banner: String,
    /// PEM certificate chain for STARTTLS and implicit TLS. Default: none.
    pub smtpd_tls_cert_file: Option<PathBuf>,
    /// PEM private key. Default: `$smtpd_tls_cert_file` (key in the same file).
    pub smtpd_tls_key_file: Option<PathBuf>,
    /// Default (rmail): `may` when a certificate is set, else `none` (Postfix: empty, i.e.
    /// none; the obsolete `smtpd_use_tls`/`smtpd_enforce_tls` are honoured when set).
    pub smtpd_tls_security_level: SmtpdTlsLevel,
    /// Offer AUTH only after STARTTLS (RFC 4954 §4). Default (rmail): yes (Postfix: no).
    pub smtpd_tls_auth_only: bool,
    /// Offer SMTP AUTH (where TLS and `smtpd_tls_auth_only` allow). Default (rmail): yes
    /// (Postfix: no).
    pub smtpd_sasl_auth_enable: bool,
    /// POP3/IMAP: refuse plaintext logins without TLS (Dovecot's key). Default: yes.
    pub disable_plaintext_auth: bool,
    /// rmail's own: how long a client outside `mynetworks` must wait silently before the
    /// greeting; talking first gets it dropped (RFC 5321 §4.3.1 says a client waits for the
    /// greeting). A bare number is milliseconds; units `ms s m h`. Default: 0 (off) — a pause
    /// delays every legitimate peer and Postfix keeps it in postscreen (6s) rather than smtpd.
    pub smtpd_greet_pause: Duration,
    /// Simultaneous connections per client IP, 0 for no limit. Default: 50.
    pub smtpd_client_connection_count_limit: u32,
    /// Recipients per message (RFC 5321 §4.5.3.1.8 requires at least 100). Default: 1000.
    pub smtpd_recipient_limit: u32,
    /// Errors before the server hangs up. Default: 20.
    pub smtpd_hard_error_limit: u32,
    /// Read/write timeout of the SMTP server. Default: 300s.
    pub smtpd_timeout: Duration,
    /// How long a message may stay queued before it bounces. Default: 5d (bare number: days).
    pub maximal_queue_lifetime: Duration,
    /// The same for bounces. Default: 5d (bare number: days).
    pub bounce_queue_lifetime: Duration,
    /// Least delay before retrying a deferred message. Default: 300s.
    pub minimal_backoff_time: Duration,
    /// Most delay between retries (≥ `minimal_backoff_time`). Default: 4000s.
    pub maximal_backoff_time: Duration,
    /// How often the queue is scanned. Default: 300s.
    pub queue_run_delay: Duration,
    /// The unprivileged user the server runs as. Default (rmail): `rmail` when that user
    /// exists, else `nobody`; `root` is allowed with a warning. Not checked to exist here.
    pub mail_owner: String,
    /// Authenticate to the relay host. Default: no.
    pub smtp_sasl_auth_enable: bool,
    /// The `host user:password` file for `smtp_sasl_auth_enable`, prefix dropped.
    pub smtp_sasl_password_maps: Option<PathBuf>,
    /// Default (rmail): `may` (Postfix: empty, i.e. none).
    pub smtp_tls_security_level: SmtpTlsLevel,
    /// Outbound implicit TLS (port 465 relays). Default: no.
    pub smtp_tls_wrappermode: bool,
    /// CA bundle for `verify`/`secure` (key `smtp_tls_CAfile`); none: the system store.
    pub smtp_tls_ca_file: Option<PathBuf>,
    /// The resolved `*_listen` keys. Defaults: 25, 587, 110, 143 on every interface;
    /// 465, 995, 993 only when a certificate is configured (`${smtpd_tls_cert_file?465}`).
    pub listeners: Listeners,
    /// Default: `system`.
    pub user_database: UserDatabase,
    source: Source,
}

impl PartialEq for Config {
    fn eq(&self, other: &Config) -> bool {
        self.render_all() == other.render_all()
    }
}

impl Config {
    /// Applies `-o name=value` overrides (as `postconf -o`/`postfix -o`) on top of this
    /// configuration and validates the result exactly like a file; the override wins over
    /// the file. Errors name the origin `-o`. The warnings returned are those of the whole
    /// combined configuration, the file's included (print these instead of [`load`]'s).
    pub fn with_overrides<S: AsRef<str>>(
        &self,
        overrides: &[S],
    ) -> Result<(Config, Vec<Warning>), ConfigError> {
        let mut params = self.source.params.clone();
        let mut warnings = self.source.line_warnings.clone();
        for o in overrides {
            let o = o.as_ref();
            let origin = Origin::new("-o", 0);
            let Some((name, value)) = o.split_once('=') else {
                return Err(ConfigError::Syntax {
                    origin,
                    reason: format!("expected name=value, got {:?}", syntax::truncate(o, 60)),
                });
            };
            let name = name.trim();
            if !syntax::valid_name(name) {
                return Err(ConfigError::Syntax {
                    origin,
                    reason: format!("bad parameter name {:?}", syntax::truncate(name, 40)),
                });
            }
            params.set(name, value.trim().to_owned(), origin, &mut warnings);
        }
        let (mut config, more) =
            resolve::resolve(params, self.source.host.clone(), &self.source.file)?;
        config.source.line_warnings = warnings.clone();
        warnings.extend(more);
        warnings.sort_by_key(|w| (w.origin.line == 0, w.origin.line));
        Ok((config, warnings))
    }

    /// True when `key` was set in the file, by an override or by [`embedded_default`].
    pub fn is_explicit(&self, key: &str) -> bool {
        self.source.params.entries.contains_key(key)
    }
}

/// Where `rmail serve` reads its configuration: `$RMAIL_CONFIG` when set and not empty,
/// else `/etc/rmail/main.cf`.
pub fn default_path() -> PathBuf {
    std::env::var_os("RMAIL_CONFIG")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/etc/rmail/main.cf"))
}

/// Reads and parses the main.cf at `path` with the defaults of this machine
/// ([`Host::detect`]). Errors: the file cannot be read, is not UTF-8, or has a bad line or
/// value ([`parse`]).
pub fn load(path: &Path) -> Result<(Config, Vec<Warning>), ConfigError> {
    let bytes = std::fs::read(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    let name = path.display().to_string();
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        let line = 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        ConfigError::NotUtf8 {
            origin: Origin::new(&name, line),
        }
    })?;
    parse_with(text, &name, &Host::detect())
}

/// Parses main.cf `text`, naming `origin` (the file name) in warnings and errors, with the
/// defaults of this machine ([`Host::detect`]: host name and user look-ups, nothing else).
pub fn parse(text: &str, origin: &str) -> Result<(Config, Vec<Warning>), ConfigError> {
    parse_with(text, origin, &Host::detect())
}

/// [`parse`] with the machine facts given: pure.
pub fn parse_with(
    text: &str,
    origin: &str,
    host: &Host,
) -> Result<(Config, Vec<Warning>), ConfigError> {
    let mut warnings = Vec::new();
    let mut params = Params::default();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (name, value, at) in syntax::read_lines(text, origin, &mut warnings)? {
        params.set(&name, value, at, &mut warnings);
    }
    let (mut config, more) = resolve::resolve(params, host.clone(), origin)?;
    config.source.line_warnings = warnings.clone();
    warnings.extend(more);
    warnings.sort_by_key(|w| (w.origin.line == 0, w.origin.line));
    Ok((config, warnings))
}

/// The configuration that "runs on first try" when there is no config file and rmail is
/// not root ([`Host::detect`] facts). See [`embedded_default_with`].
pub fn embedded_default(data_dir: &Path) -> Result<Config, ConfigError> {
    embedded_default_with(data_dir, &Host::detect())
}

/// The unprivileged built-in configuration, with the machine facts given (pure): every
/// listener on `127.0.0.1` at [`Service::unprivileged_port`] (2525, 2587, 2465, 2110, 2995, 2143,
/// 2993); `data_directory` = `data_dir` (made absolute) with `spool/` as the mail spool,
/// `queue/`, `mail/`, the system's users as the user database (so mail to this machine's
/// users lands in `spool/`) and `tls/cert.pem` + `tls/key.pem` (the caller generates them);
/// `mail_owner` = the invoking user (when a valid user name); `mydestination` keeps its default (the host name and
/// localhost). Errors only for a `data_dir` that is not UTF-8.
pub fn embedded_default_with(data_dir: &Path, host: &Host) -> Result<Config, ConfigError> {
    let origin = Origin::new("built-in defaults", 0);
    let abs = std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.to_owned());
    let Some(dir) = abs.to_str() else {
        return Err(ConfigError::Value {
            origin,
            key: "data_directory".into(),
            value: abs.display().to_string(),
            reason: "not UTF-8".into(),
        });
    };
    let mut settings: Vec<(&str, String)> = vec![
        ("data_directory", escape(dir)),
        ("mail_spool_directory", "$data_directory/spool".into()),
        ("queue_directory", "$data_directory/queue".into()),
        // Mail for the local users of this machine, as the issue asks; AUTH against system
        // passwords needs root, so without it only mynetworks (loopback) may relay.
        ("user_database", "system".into()),
        ("smtpd_tls_cert_file", "$data_directory/tls/cert.pem".into()),
        ("smtpd_tls_key_file", "$data_directory/tls/key.pem".into()),
        ("inet_interfaces", "loopback-only".into()),
    ];
    if values::check_user_name(&host.user).is_ok() {
        settings.push(("mail_owner", host.user.clone()));
    }
    for s in Service::ALL {
        settings.push((s.key(), format!("127.0.0.1:{}", s.unprivileged_port())));
    }
    let mut params = Params::default();
    let mut sink = Vec::new();
    for (k, v) in settings {
        params.set(k, v, origin.clone(), &mut sink);
    }
    resolve::resolve(params, host.clone(), "built-in defaults").map(|(c, _)| c)
}

/// The effective settings like `postconf -nx`: one `key = value` line per key that was set
/// explicitly or whose value differs from Postfix's default (rmail's own keys: from rmail's
/// default), sorted by key, values expanded (`$` written `$$`). [`parse`] of the result
/// gives a [`Config`] equal to `c` (except for a value given with `-o` that holds whitespace
/// followed by `#`, which a file would read as a comment).
pub fn print_config(c: &Config) -> String {
    format_lines(c.non_default_keys())
}

/// Every key rmail knows with its effective value, like `postconf -x`, sorted by key.
pub fn print_config_all(c: &Config) -> String {
    format_lines(c.render_all())
}

fn format_lines(v: Vec<(&'static str, String)>) -> String {
    let mut out = String::new();
    for (k, val) in v {
        out.push_str(k);
        if val.is_empty() {
            out.push_str(" =\n");
        } else {
            out.push_str(" = ");
            out.push_str(&val);
            out.push('\n');
        }
    }
    out
}

/// `data_directory/listening`: one `SERVICE ADDRESS` line per listener of the running server.
pub fn listening_file(c: &Config) -> std::path::PathBuf {
    c.data_directory.join("listening")
}

/// The SMTP (port 25 service) addresses a running server listens on, from its
/// [`listening_file`]; else the configured ones.
pub fn smtp_addresses(c: &Config) -> Vec<std::net::SocketAddr> {
    let recorded: Vec<std::net::SocketAddr> = std::fs::read_to_string(listening_file(c))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.strip_prefix("smtp "))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    if !recorded.is_empty() {
        return recorded;
    }
    c.listeners
        .get(Service::Smtp)
        .iter()
        .copied()
        .filter(|a| a.port() != 0)
        .collect()
}
