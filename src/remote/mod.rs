//! Mail kept on other hosts: folder URLs, the IMAP and POP3 clients, and what the reader
//! needs from them (issue 6).
//!
//! - [`url`]: `imap://`, `imaps://`, `pop3://`, `pop3s://` folder URLs.
//! - [`imap`]: an IMAP folder on async-imap (blocking API over a current-thread tokio
//!   runtime).
//! - [`pop3`]: a small blocking POP3 client (RFC 1939, CAPA from RFC 2449, STLS from
//!   RFC 2595, AUTH PLAIN from RFC 5034); [`pop3_folder`]: the maildrop as a reader folder.
//! - [`fetch`]: `rmail fetch ACCOUNT`, downloading new POP3 mail into a local mailbox.
//!
//! The reader sees a remote folder through [`RemoteFolder`]: the summary facts of every
//! message at open ([`RemoteMessage`]), bodies on demand, and the changes of a session
//! applied at `quit` ([`QuitPlan`]). Messages are named by their index in the summary list
//! (0-based); the folder maps indexes to UIDs (IMAP) or UIDLs (POP3) itself, so a
//! reconnect after the server dropped the connection changes nothing for the reader —
//! unless the mailbox was recreated meanwhile (a new UIDVALIDITY), which is an error asking
//! to open the folder again.

pub mod fetch;
pub mod imap;
pub mod pop3;
pub mod pop3_folder;
pub mod url;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub use url::{FolderUrl, Protocol, Security};

use crate::send::client::TlsOptions;

/// Default timeout for connecting and for each read or write, seconds (`imap-timeout`,
/// `pop3-timeout`).
pub const DEFAULT_TIMEOUT_SECS: u64 = 60;

/// How to log in.
#[derive(Clone, PartialEq, Eq)]
pub enum Login {
    /// A password (or a provider's authorization code / app password): IMAP `LOGIN`
    /// (RFC 3501 §6.2.3), POP3 `AUTH PLAIN` or `USER`/`PASS`.
    Password {
        /// Login name.
        user: String,
        /// Secret; never logged, never shown.
        password: String,
    },
    /// An OAuth2 access token with SASL XOAUTH2 (Google's and Microsoft's mechanism).
    XOAuth2 {
        /// Login name (the address).
        user: String,
        /// The access token; never logged, never shown.
        token: String,
    },
}

impl Login {
    /// The login name.
    pub fn user(&self) -> &str {
        match self {
            Login::Password { user, .. } | Login::XOAuth2 { user, .. } => user,
        }
    }
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Login::Password { user, .. } => write!(f, "Password {{ user: {user:?}, .. }}"),
            Login::XOAuth2 { user, .. } => write!(f, "XOAuth2 {{ user: {user:?}, .. }}"),
        }
    }
}

/// Everything needed to open a remote folder.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Where, which protocol, which TLS mode, which mailbox.
    pub url: FolderUrl,
    /// Credentials.
    pub login: Login,
    /// Trusted CAs besides the system roots (`tls-ca-file`), or verification off
    /// (`tls-verify=ignore`).
    pub tls: TlsOptions,
    /// Connect timeout, and the longest silence allowed in any read or write (a slow but
    /// steady transfer, e.g. a large body, is never cut off).
    pub timeout: Duration,
    /// Send IMAP `ID` (RFC 2971) after login even when CAPABILITY does not list it (the
    /// preset's `imap_id` quirk, or the `imap-id` variable): NetEase refuses `SELECT`
    /// without it ("Unsafe Login").
    pub imap_id: bool,
    /// Show progress on stderr (only ever true when stderr is a terminal).
    pub progress: bool,
    /// Open without changing anything: IMAP `EXAMINE` instead of `SELECT`.
    pub read_only: bool,
    /// The `oauth2-token-command` an XOAUTH2 token came from: run again for each later
    /// connection (a reconnect), since access tokens expire after about an hour.
    pub token_command: Option<String>,
}

impl ConnectOptions {
    /// The options for connecting again: with XOAUTH2 and a [`ConnectOptions::token_command`],
    /// a fresh token from it; otherwise the same. Errors: the command fails.
    pub fn refreshed(&self) -> Result<ConnectOptions, RemoteError> {
        match (&self.login, &self.token_command) {
            (Login::XOAuth2 { user, .. }, Some(cmd)) => Ok(ConnectOptions {
                login: Login::XOAuth2 {
                    user: user.clone(),
                    token: secret_command(cmd, "oauth2-token-command")?,
                },
                ..self.clone()
            }),
            _ => Ok(self.clone()),
        }
    }
}

/// IMAP system flags of a message (RFC 3501 §2.3.2); POP3 has none (all false).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RemoteFlags {
    /// `\Seen`.
    pub seen: bool,
    /// `\Answered`.
    pub answered: bool,
    /// `\Flagged`.
    pub flagged: bool,
    /// `\Deleted`.
    pub deleted: bool,
    /// `\Draft`.
    pub draft: bool,
    /// `\Recent`.
    pub recent: bool,
}

/// One message's summary facts, as the header summary needs them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteMessage {
    /// IMAP UID; for POP3 the message number at open.
    pub uid: u32,
    /// Size in octets as the server counts them (`RFC822.SIZE`, POP3 `LIST`).
    pub size: u64,
    /// Line count, when known (POP3 `TOP` gives the header only; IMAP gives none): the
    /// reader fills it in once the message was read.
    pub lines: Option<u32>,
    /// Flags at open.
    pub flags: RemoteFlags,
    /// The `From:` value as a header field value (encoded-words kept):
    /// `"Name" <local@domain>` or `local@domain`; `None` when absent.
    pub from: Option<Vec<u8>>,
    /// The `Subject:` value, encoded-words kept; `None` when absent.
    pub subject: Option<Vec<u8>>,
    /// The `Date:` value as sent; `None` when absent.
    pub date: Option<Vec<u8>>,
    /// A `From_` line for the message without `From ` and line end: the envelope sender (or
    /// `From:` address, else `MAILER-DAEMON`) and the arrival date (IMAP `INTERNALDATE`,
    /// else the `Date:` field, else now) in asctime form, as mailx shows it.
    pub from_line: Vec<u8>,
}

/// What `quit` does to a remote folder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuitPlan {
    /// Indexes of messages to mark `\Seen` (read in this session and not seen at open).
    pub seen: Vec<usize>,
    /// Indexes of messages to mark `\Seen` off (`unread`).
    pub unseen: Vec<usize>,
    /// Indexes of messages to remove: IMAP `\Deleted` and `UID EXPUNGE` (see [`imap`] for
    /// servers without UIDPLUS); POP3 `DELE` and `QUIT`.
    pub deleted: Vec<usize>,
}

/// A mailbox listed by `LIST` (RFC 3501 §7.2.2, SPECIAL-USE attributes from RFC 6154).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    /// The mailbox name, decoded from modified UTF-7.
    pub name: String,
    /// The hierarchy delimiter, if any.
    pub delimiter: Option<char>,
    /// Attributes as sent, e.g. `\HasNoChildren`, `\Sent`, `\Trash`, `\Noselect`.
    pub attributes: Vec<String>,
}

/// A remote folder open in the reader (see the module documentation).
pub trait RemoteFolder {
    /// The folder's URL.
    fn url(&self) -> &FolderUrl;
    /// The messages at open, in server order (called once, after open).
    fn take_summary(&mut self) -> Vec<RemoteMessage>;
    /// The whole message `i` (RFC 5322 bytes with LF line ends), from the cache or fetched
    /// (`UID FETCH … BODY.PEEK[]`, POP3 `RETR`); never changes a flag.
    fn fetch(&mut self, i: usize) -> Result<Vec<u8>, RemoteError>;
    /// Messages that arrived since open or the last call (IMAP `NOOP` and `UID FETCH` of
    /// the new UIDs; POP3: none, a maildrop does not change during a session).
    fn check_new(&mut self) -> Result<Vec<RemoteMessage>, RemoteError>;
    /// The server's flags now for every message of the summary, by index: `None` for one
    /// that is no longer there (expunged by another client). IMAP `UID FETCH 1:N (UID
    /// FLAGS)` (RFC 3501 §6.4.8); the default (POP3, whose maildrop is locked for the
    /// session) knows nothing new and returns an empty list.
    fn refresh_flags(&mut self) -> Result<Vec<Option<RemoteFlags>>, RemoteError> {
        Ok(Vec::new())
    }
    /// Applies `plan` and logs out. Errors leave the server as consistent as the protocol
    /// allows (POP3 applies nothing unless `QUIT` was answered).
    fn commit(&mut self, plan: &QuitPlan) -> Result<(), RemoteError>;
    /// Logs out without changing anything (`exit`, `file` with `exit` semantics).
    fn close(&mut self);
    /// Copies messages to `mailbox` on the same server (`UID COPY`, or `UID MOVE` when
    /// `remove` and the server has MOVE; else COPY and `\Deleted`). POP3: `Unsupported`.
    fn copy(&mut self, which: &[usize], mailbox: &str, remove: bool) -> Result<(), RemoteError>;
    /// Appends a message to `mailbox` on the same server (`APPEND`, creating the mailbox
    /// on `[TRYCREATE]`). POP3: `Unsupported`.
    fn append(
        &mut self,
        mailbox: &str,
        message: &[u8],
        flags: RemoteFlags,
    ) -> Result<(), RemoteError>;
    /// The server's mailboxes (`LIST "" "*"`, with SPECIAL-USE attributes when offered).
    /// POP3: just `INBOX`.
    fn list(&mut self) -> Result<Vec<ListEntry>, RemoteError>;
}

/// What can go wrong with a remote folder, worded for the person at the prompt.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The host name did not resolve, or the connection was refused or reset.
    #[error("cannot connect to {host_port}: {detail}")]
    Connect {
        /// `host:port` tried.
        host_port: String,
        /// The system's reason.
        detail: String,
    },
    /// No answer in time.
    #[error("{host_port}: no answer within {secs} s (timed out)")]
    Timeout {
        /// `host:port` tried.
        host_port: String,
        /// The timeout, seconds.
        secs: u64,
    },
    /// The certificate does not name the host we connected to.
    #[error("TLS: the certificate of {host_port} is for {names}, not for {host}")]
    CertificateMismatch {
        /// `host:port`.
        host_port: String,
        /// The host name asked for.
        host: String,
        /// The certificate's names (subject alternative names, else the common name),
        /// comma-separated.
        names: String,
    },
    /// Any other TLS failure (untrusted issuer, expired, protocol).
    #[error("TLS with {host_port} failed: {detail}")]
    Tls {
        /// `host:port`.
        host_port: String,
        /// What OpenSSL said, and a hint (`tls-ca-file`).
        detail: String,
    },
    /// `?starttls` was asked for and the server does not offer it.
    #[error("{host_port} does not offer STARTTLS; refusing to continue in cleartext")]
    StartTlsUnavailable {
        /// `host:port`.
        host_port: String,
    },
    /// Login refused (`NO [AUTHENTICATIONFAILED]`, `-ERR [AUTH]`, 535), with the
    /// provider's hint.
    #[error("login as {user} at {host} refused: {text}{}", hint.map(|h| format!(" ({h})")).unwrap_or_default())]
    Auth {
        /// Login name.
        user: String,
        /// Host.
        host: String,
        /// The server's text.
        text: String,
        /// What to do, for known providers ([`crate::send::smtp::auth_hint`]).
        hint: Option<&'static str>,
    },
    /// No password could be found and there is no terminal to ask on.
    #[error("no password for {user} at {host}: set password-command, or add a ~/.netrc entry")]
    NoPassword {
        /// Login name.
        user: String,
        /// Host.
        host: String,
    },
    /// `password-command` or `oauth2-token-command` failed.
    #[error("{0}")]
    SecretCommand(String),
    /// The server refused a command (`NO`, `BAD`, `-ERR`).
    #[error("{host}: {command} refused: {text}")]
    Server {
        /// `host:port` (IMAP) or the host (POP3).
        host: String,
        /// The command's verb (`SELECT`, `UID FETCH`, `RETR`, …), with the mailbox for
        /// `SELECT`/`EXAMINE`; never other arguments (no credentials).
        command: String,
        /// The server's text.
        text: String,
    },
    /// The message is no longer on the server (expunged by another client).
    #[error("message {0} is no longer on the server")]
    Gone(usize),
    /// The operation does not exist for this protocol (e.g. folders over POP3).
    #[error("{0}")]
    Unsupported(&'static str),
    /// The server broke the protocol, or the connection was lost and could not be made
    /// again.
    #[error("{host}: {detail}")]
    Protocol {
        /// `host:port` (IMAP) or the host (POP3).
        host: String,
        /// What happened.
        detail: String,
    },
    /// A variable with a value that cannot be used (`imap-auth`, `pop3-auth`,
    /// `imap-timeout`, `pop3-timeout`); the text names the variable and what it accepts.
    #[error("{0}")]
    Setting(String),
    /// A folder URL that cannot be used.
    #[error("{0}")]
    Url(#[from] url::UrlError),
}

/// Reads a variable of the reader (`vars.get`), for [`options_from`].
pub type VarLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The options to open `url` with, from the reader's variables:
///
/// - login name: the URL's user, else `$USER`, `$LOGNAME`, the password database's name;
/// - `imap-auth`/`pop3-auth` = `xoauth2`, or `oauth2-token-command` set without them: an
///   XOAUTH2 token from `oauth2-token-command` (first line of its output); `login` or
///   `plain`: a password (IMAP `LOGIN`; POP3 `AUTH PLAIN` or `USER`/`PASS`), whatever else
///   is set; any other value is an error;
/// - else the password from s-nail's variables (`password-USER@HOST:PORT`,
///   `password-USER@HOST`, `password-HOST`, `password`), else `password-command`, else
///   `~/.netrc` (`machine HOST login USER`), else a prompt without echo on the terminal;
/// - `tls-ca-file`, `tls-verify=ignore` (as for sending), `imap-timeout`/`pop3-timeout`
///   seconds;
/// - `imap-id` set, or a preset whose IMAP host is `url.host` with the `imap_id` quirk:
///   send ID;
/// - progress when stderr is a terminal and `quiet` is unset.
///
/// Errors: no password, a failing command, an unreadable CA file, an unknown
/// `imap-auth`/`pop3-auth` or a bad timeout ([`RemoteError::Setting`], naming the
/// variable).
pub fn options_from(url: &FolderUrl, get: VarLookup<'_>) -> Result<ConnectOptions, RemoteError> {
    options_with_login(url, get, None)
}

/// [`options_from`], with credentials already known (`Some`) instead of looked up: the
/// reader asks once per user and host in a session.
pub fn options_with_login(
    url: &FolderUrl,
    get: VarLookup<'_>,
    known: Option<Login>,
) -> Result<ConnectOptions, RemoteError> {
    let (proto_key, timeout_key) = match url.protocol {
        Protocol::Imap => ("imap-auth", "imap-timeout"),
        Protocol::Pop3 => ("pop3-auth", "pop3-timeout"),
    };
    let user = url
        .user
        .clone()
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
        .or_else(|| std::env::var("LOGNAME").ok().filter(|u| !u.is_empty()))
        .or_else(|| crate::mda::users::name_of_uid(rustix::process::getuid().as_raw()))
        .unwrap_or_else(|| "nobody".into());
    let token_cmd = get("oauth2-token-command").filter(|c| !c.trim().is_empty());
    let auth = get(proto_key).map(|a| a.trim().to_ascii_lowercase());
    let xoauth2 = match auth.as_deref() {
        Some("xoauth2") => true,
        None | Some("") => token_cmd.is_some(),
        Some("login" | "plain") => false,
        Some(other) => {
            return Err(RemoteError::Setting(format!(
                "{proto_key}={other} is not known (use login or plain for a password, \
                 xoauth2 for an OAuth2 token)"
            )))
        }
    };
    let mut token_command = None;
    let login = if let Some(l) = known {
        l
    } else if xoauth2 {
        let cmd = token_cmd.ok_or_else(|| {
            RemoteError::SecretCommand(format!(
                "{proto_key}=xoauth2 needs oauth2-token-command (a command printing an access token)"
            ))
        })?;
        let token = secret_command(&cmd, "oauth2-token-command")?;
        token_command = Some(cmd);
        Login::XOAuth2 {
            user: user.clone(),
            token,
        }
    } else {
        // s-nail's password variables, most specific first (kept for people moving over;
        // a command or ~/.netrc keeps the secret out of the start-up file).
        let given = [
            format!("password-{user}@{}:{}", url.host, url.port),
            format!("password-{user}@{}", url.host),
            format!("password-{}", url.host),
            "password".to_owned(),
        ]
        .iter()
        .find_map(|k| get(k).filter(|v| !v.is_empty()));
        let command = get("password-command").filter(|c| !c.trim().is_empty());
        let password = match (given, command) {
            (Some(p), _) => p,
            (None, Some(cmd)) => secret_command(&cmd, "password-command")?,
            (None, None) => {
                let netrc = std::env::var_os("HOME")
                    .map(|h| PathBuf::from(h).join(".netrc"))
                    .and_then(|p| std::fs::read_to_string(p).ok())
                    .and_then(|t| crate::send::smtp::netrc_password(&t, &url.host, &user));
                match netrc {
                    Some(p) => p,
                    None if std::io::stdin().is_terminal() => crate::send::smtp::prompt_password(
                        &format!("Password for {user}@{}: ", url.host),
                    )
                    .ok_or_else(|| RemoteError::NoPassword {
                        user: user.clone(),
                        host: url.host.clone(),
                    })?,
                    None => {
                        return Err(RemoteError::NoPassword {
                            user,
                            host: url.host.clone(),
                        })
                    }
                }
            }
        };
        Login::Password { user, password }
    };
    let mut tls = TlsOptions::default();
    if let Some(ca) = get("tls-ca-file").filter(|c| !c.trim().is_empty()) {
        let path = expand_tilde(ca.trim());
        tls.ca_pem = Some(std::fs::read(&path).map_err(|e| RemoteError::Tls {
            host_port: url.host_port(),
            detail: format!("cannot read tls-ca-file {path}: {e}"),
        })?);
    }
    tls.accept_invalid = get("tls-verify").is_some_and(|v| v.trim().eq_ignore_ascii_case("ignore"));
    let timeout = match get(timeout_key).filter(|t| !t.trim().is_empty()) {
        None => DEFAULT_TIMEOUT_SECS,
        Some(t) => match t.trim().parse::<u64>() {
            Ok(n) if n > 0 => n,
            _ => {
                return Err(RemoteError::Setting(format!(
                    "{timeout_key}={} is not a positive number of seconds",
                    t.trim()
                )))
            }
        },
    };
    let imap_id = get("imap-id").is_some() || preset_wants_id(&url.host);
    Ok(ConnectOptions {
        url: url.clone(),
        login,
        tls,
        timeout: Duration::from_secs(timeout),
        imap_id,
        progress: std::io::stderr().is_terminal() && get("quiet").is_none(),
        read_only: false,
        token_command,
    })
}

/// Whether a preset with the `imap_id` quirk serves IMAP at `host`.
pub fn preset_wants_id(host: &str) -> bool {
    crate::config::presets::PRESETS
        .iter()
        .any(|p| p.quirks.imap_id && p.imap.is_some_and(|e| e.host.eq_ignore_ascii_case(host)))
}

/// The one warning for a cleartext login to a host that is not loopback (the URL asked
/// for it: `imap://` or `pop3://` without `?starttls`).
pub fn warn_cleartext(url: &FolderUrl) {
    if url.security == Security::Plain && !url.is_loopback() {
        eprintln!(
            "rmail: warning: {} is not encrypted; the password goes to {} in cleartext \
             (use {}s:// or ?starttls)",
            url,
            url.host_port(),
            match url.protocol {
                Protocol::Imap => "imap",
                Protocol::Pop3 => "pop3",
            }
        );
    }
}

fn expand_tilde(p: &str) -> String {
    match (p.strip_prefix("~/"), std::env::var("HOME")) {
        (Some(rest), Ok(home)) => format!("{home}/{rest}"),
        _ => p.to_owned(),
    }
}

/// Runs `cmd` with `sh -c` and returns the first line of its output (never logged).
fn secret_command(cmd: &str, what: &str) -> Result<String, RemoteError> {
    crate::send::smtp::secret_command_line(cmd, what).map_err(RemoteError::SecretCommand)
}

/// A connection failure as a [`RemoteError`]: timeouts name host, port and timeout; the
/// rest keep the system's text.
pub fn connect_error(url: &FolderUrl, timeout: Duration, e: &std::io::Error) -> RemoteError {
    match e.kind() {
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => RemoteError::Timeout {
            host_port: url.host_port(),
            secs: timeout.as_secs(),
        },
        _ => RemoteError::Connect {
            host_port: url.host_port(),
            detail: e.to_string(),
        },
    }
}

/// A failed TLS handshake with `url`'s host as a [`RemoteError`]. When OpenSSL's text says
/// the host name did not match, a second handshake without verification reads the
/// certificate's names, so the error can say which host the certificate is for.
pub fn tls_error(url: &FolderUrl, timeout: Duration, detail: &str) -> RemoteError {
    let lower = detail.to_ascii_lowercase();
    if lower.contains("hostname mismatch")
        || lower.contains("host name mismatch")
        || lower.contains("ip address mismatch")
    {
        if let Some(names) = peer_names(url, timeout) {
            return RemoteError::CertificateMismatch {
                host_port: url.host_port(),
                host: url.host.clone(),
                names: names.join(", "),
            };
        }
    }
    let hint = if lower.contains("self-signed") || lower.contains("unable to get local issuer") {
        " (the issuer is not trusted: set tls-ca-file to its CA certificate)"
    } else {
        ""
    };
    RemoteError::Tls {
        host_port: url.host_port(),
        detail: format!("{detail}{hint}"),
    }
}

/// The DNS names (else the common name) of the certificate `url`'s server presents, read by
/// a second connection that does not verify it: TLS at once for `imaps`/`pop3s`; for
/// `?starttls` after the greeting and `STARTTLS` (IMAP, RFC 3501 §6.2.1) or `STLS` (POP3,
/// RFC 2595 §4). `None` on any failure (the caller then shows OpenSSL's text).
fn peer_names(url: &FolderUrl, timeout: Duration) -> Option<Vec<String>> {
    use std::io::{BufRead, BufReader};
    let tcp = crate::send::client::connect_tcp(&url.host, url.port, timeout).ok()?;
    match url.security {
        Security::Tls => {}
        Security::Plain => return None,
        Security::StartTls => {
            // Lines are read byte by byte (no read-ahead), so the TLS handshake starts on
            // exactly the bytes after the server's answer.
            let mut r = BufReader::with_capacity(1, &tcp);
            let mut line = String::new();
            let mut next = |line: &mut String| -> Option<()> {
                line.clear();
                (r.read_line(line).ok()? > 0 && line.len() < 4096).then_some(())
            };
            next(&mut line)?;
            let (cmd, ok): (&[u8], &str) = match url.protocol {
                Protocol::Imap => (b"n1 STARTTLS\r\n", "n1 OK"),
                Protocol::Pop3 => (b"STLS\r\n", "+OK"),
            };
            (&tcp).write_all(cmd).ok()?;
            for _ in 0..32 {
                next(&mut line)?;
                if line.starts_with(ok) {
                    break;
                }
                if !line.starts_with('*') {
                    return None;
                }
            }
            if !line.starts_with(ok) {
                return None;
            }
        }
    }
    let opts = TlsOptions {
        ca_pem: None,
        accept_invalid: true,
    };
    let tls = crate::send::client::handshake(&opts, &url.host, tcp).ok()?;
    let der = tls.peer_certificate().ok()??.to_der().ok()?;
    certificate_names(&der)
}

/// Subject alternative DNS names of a DER certificate, else its subject common names.
pub fn certificate_names(der: &[u8]) -> Option<Vec<String>> {
    let cert = openssl::x509::X509::from_der(der).ok()?;
    let mut names: Vec<String> = cert
        .subject_alt_names()
        .map(|sans| {
            sans.iter()
                .filter_map(|g| {
                    g.dnsname().map(str::to_owned).or_else(|| {
                        g.ipaddress().map(|ip| match ip.len() {
                            4 => std::net::Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]).to_string(),
                            16 => {
                                let a: [u8; 16] = ip.try_into().unwrap_or([0; 16]);
                                std::net::Ipv6Addr::from(a).to_string()
                            }
                            _ => String::from("?"),
                        })
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    if names.is_empty() {
        names = cert
            .subject_name()
            .entries_by_nid(openssl::nid::Nid::COMMONNAME)
            .filter_map(|e| e.data().to_string().ok())
            .collect();
    }
    (!names.is_empty()).then_some(names)
}

/// A counter on stderr for long operations (`label: n/total`), redrawn at most ten times
/// a second and erased when done; does nothing when not enabled (stderr not a terminal).
pub struct Progress {
    label: String,
    total: u64,
    enabled: bool,
    shown: bool,
    last: Option<Instant>,
    started: Instant,
}

impl Progress {
    /// A counter for `total` items; nothing is drawn during the first half second, so quick
    /// operations stay silent.
    pub fn new(label: impl Into<String>, total: u64, enabled: bool) -> Progress {
        Progress {
            label: label.into(),
            total,
            enabled,
            shown: false,
            last: None,
            started: Instant::now(),
        }
    }

    /// Reports `done` items.
    pub fn set(&mut self, done: u64) {
        if !self.enabled || self.started.elapsed() < Duration::from_millis(500) {
            return;
        }
        if self
            .last
            .is_some_and(|t| t.elapsed() < Duration::from_millis(100))
            && done < self.total
        {
            return;
        }
        self.last = Some(Instant::now());
        self.shown = true;
        let mut e = std::io::stderr().lock();
        let _ = write!(e, "\r{}: {done}/{}\x1b[K", self.label, self.total);
        let _ = e.flush();
    }

    /// Erases the counter.
    pub fn finish(&mut self) {
        if self.shown {
            let mut e = std::io::stderr().lock();
            let _ = write!(e, "\r\x1b[K");
            let _ = e.flush();
            self.shown = false;
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Opens `opts.url` as a reader folder (IMAP or POP3), printing the cleartext warning when
/// the URL asks for no TLS.
pub fn open(opts: &ConnectOptions) -> Result<Box<dyn RemoteFolder>, RemoteError> {
    warn_cleartext(&opts.url);
    Ok(match opts.url.protocol {
        Protocol::Imap => Box::new(imap::ImapFolder::open(opts)?),
        Protocol::Pop3 => Box::new(pop3_folder::Pop3Folder::open(opts)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_debug_hides_secrets() {
        let l = Login::Password {
            user: "u".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{l:?}").contains("hunter2"));
        let l = Login::XOAuth2 {
            user: "u".into(),
            token: "ya29.tok".into(),
        };
        assert!(!format!("{l:?}").contains("ya29"));
    }

    #[test]
    fn options_from_variables() {
        let url = FolderUrl::parse("imaps://me@imap.163.com/").unwrap();
        let get = |k: &str| match k {
            "password-command" => Some("echo s3cret".to_owned()),
            "imap-timeout" => Some("5".to_owned()),
            _ => None,
        };
        let o = options_from(&url, &get).unwrap();
        assert_eq!(
            o.login,
            Login::Password {
                user: "me".into(),
                password: "s3cret".into()
            }
        );
        assert!(o.imap_id, "163 has the imap_id quirk");
        assert_eq!(o.timeout, Duration::from_secs(5));

        let get = |k: &str| match k {
            "oauth2-token-command" => Some("printf 'tok\\nignored'".to_owned()),
            _ => None,
        };
        let url = FolderUrl::parse("imaps://me@outlook.office365.com/").unwrap();
        let o = options_from(&url, &get).unwrap();
        assert_eq!(
            o.login,
            Login::XOAuth2 {
                user: "me".into(),
                token: "tok".into()
            }
        );
        assert!(!o.imap_id);

        assert_eq!(o.token_command.as_deref(), Some("printf 'tok\\nignored'"));
        let fresh = ConnectOptions {
            token_command: Some("echo tok2".into()),
            ..o.clone()
        }
        .refreshed()
        .unwrap();
        assert_eq!(
            fresh.login,
            Login::XOAuth2 {
                user: "me".into(),
                token: "tok2".into()
            }
        );

        // s-nail's per-account password variable wins over password-command.
        let url2 = FolderUrl::parse("imap://dave@127.0.0.1:1143/").unwrap();
        let get2 = |k: &str| match k {
            "password-dave@127.0.0.1:1143" => Some("snail".to_owned()),
            "password-command" => Some("echo cmd".to_owned()),
            _ => None,
        };
        assert_eq!(
            options_from(&url2, &get2).unwrap().login,
            Login::Password {
                user: "dave".into(),
                password: "snail".into()
            }
        );

        let get = |k: &str| (k == "imap-auth").then(|| "xoauth2".to_owned());
        assert!(matches!(
            options_from(&url, &get),
            Err(RemoteError::SecretCommand(_))
        ));
    }

    #[test]
    fn unknown_auth_and_bad_timeout_name_the_variable() {
        let url = FolderUrl::parse("imaps://me@imap.example.org/").unwrap();
        let get = |k: &str| (k == "imap-auth").then(|| "bogus".to_owned());
        let Err(e) = options_from(&url, &get) else {
            panic!("imap-auth=bogus accepted")
        };
        let e = e.to_string();
        assert!(
            e.contains("imap-auth=bogus") && e.contains("login") && e.contains("xoauth2"),
            "{e}"
        );
        let pop = FolderUrl::parse("pop3s://me@pop.example.org/").unwrap();
        let get = |k: &str| (k == "pop3-auth").then(|| "cram-md5".to_owned());
        let e = options_from(&pop, &get).err().unwrap().to_string();
        assert!(e.contains("pop3-auth=cram-md5"), "{e}");
        for ok in ["login", "PLAIN", " plain "] {
            let get = |k: &str| match k {
                "imap-auth" | "pop3-auth" => Some(ok.to_owned()),
                "password-command" => Some("echo pw".to_owned()),
                _ => None,
            };
            for u in [&url, &pop] {
                let o = options_from(u, &get).unwrap();
                assert!(matches!(o.login, Login::Password { .. }), "{ok}");
            }
        }
        let get = |k: &str| match k {
            "imap-timeout" => Some("abc".to_owned()),
            "password-command" => Some("echo pw".to_owned()),
            _ => None,
        };
        let e = options_from(&url, &get).err().unwrap().to_string();
        assert_eq!(e, "imap-timeout=abc is not a positive number of seconds");
        let get = |k: &str| match k {
            "pop3-timeout" => Some("0".to_owned()),
            "password-command" => Some("echo pw".to_owned()),
            _ => None,
        };
        let e = options_from(&pop, &get).err().unwrap().to_string();
        assert_eq!(e, "pop3-timeout=0 is not a positive number of seconds");
    }

    #[test]
    fn auth_error_carries_hint() {
        let e = RemoteError::Auth {
            user: "a@qq.com".into(),
            host: "imap.qq.com".into(),
            text: "Login fail".into(),
            hint: crate::send::smtp::auth_hint("imap.qq.com"),
        };
        assert!(e.to_string().contains("授权码"), "{e}");
    }
}
