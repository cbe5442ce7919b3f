//! SMTP submission (s-nail's `mta=smtp://…`, `smtps://…`, `submission://…`) over our own
//! blocking client ([`super::client`]).
//!
//! - `smtp://[user@]host[:port]`: port 25, cleartext unless `smtp-use-starttls` is set (then
//!   STARTTLS is required, as in s-nail);
//! - `submission://[user@]host[:port]`: port 587 (RFC 6409), STARTTLS (RFC 3207) required: a
//!   server that does not offer it gets no message and no password;
//! - `smtps://[user@]host[:port]`: port 465, implicit TLS (RFC 8314 §3.3).
//!
//! AUTH (RFC 4954) uses PLAIN (RFC 4616), LOGIN, or XOAUTH2 (token from
//! `oauth2-token-command`, for Gmail and Outlook.com) when a user is known (from the URL,
//! percent-decoded, or `smtp-auth-user`). The password comes from `smtp-auth-password`, else
//! `password-command` (first line of its output), else `~/.netrc`, else a prompt without echo
//! when standard input is a terminal; it is looked up only once the connection is ready for
//! AUTH, and never printed. A password is never sent over a cleartext connection unless
//! `smtp-auth-allow-cleartext` is set.
//!
//! Certificates are always verified (against the system roots plus `tls-ca-file`), except with
//! `tls-verify=ignore`, which turns verification OFF and lets anyone on the path read the
//! password: for throw-away test servers only.
//!
//! Invariants: the message goes out with CRLF line ends and RFC 5321 §4.5.2 dot-stuffing
//! (the client stuffs and converts bare LF); a negative reply stops the transaction with `QUIT` and
//! the whole server reply (code and text) is shown to the user.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use super::client::{Client, ClientError, Sasl, TlsOptions};

use super::{Outgoing, SendError};

/// Default for `smtp-timeout`: seconds allowed for the connection and for each reply.
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Cleartext (`smtp://` without `smtp-use-starttls`).
    Plain,
    /// STARTTLS, required (`submission://`, or `smtp://` with `smtp-use-starttls`).
    StartTls,
    /// TLS from the first byte (`smtps://`).
    Tls,
}

/// s-nail's `smtp-auth`: which SASL mechanism to use when a user is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// Unset: PLAIN when the server offers it, else LOGIN.
    Any,
    /// `smtp-auth=plain` (RFC 4616).
    Plain,
    /// `smtp-auth=login` (draft-murchison-sasl-login).
    Login,
    /// `smtp-auth=none`: no AUTH even when a user is known.
    None,
    /// `smtp-auth=xoauth2` (or `oauth2-token-command` set and `smtp-auth` unset): the
    /// Google/Microsoft OAuth2 mechanism, token from `oauth2-token-command`.
    Xoauth2,
}

/// Where the AUTH password comes from; resolved only when AUTH actually happens.
#[derive(Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// `smtp-auth-password` (or a password in the URL).
    Given(String),
    /// `password-command`, run with `sh -c`; the first line of its output.
    Command(String),
    /// The `~/.netrc` entry of the host, else a prompt when stdin is a terminal.
    NetrcOrPrompt,
}

impl std::fmt::Debug for PasswordSource {
    /// Never shows the password itself (the caller prints the transport under `-v`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PasswordSource::Given(_) => f.write_str("Given(<hidden>)"),
            PasswordSource::Command(c) => f.debug_tuple("Command").field(c).finish(),
            PasswordSource::NetrcOrPrompt => f.write_str("NetrcOrPrompt"),
        }
    }
}

/// An SMTP server and how to talk to it, read from the variables by
/// [`super::Transport::from_vars`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    /// Host name (also the name the certificate must match).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Connection protection.
    pub security: Security,
    /// The AUTH user; `None` means no AUTH.
    pub user: Option<String>,
    /// `smtp-auth`: the mechanism.
    pub auth: AuthMethod,
    /// Where the password comes from.
    pub password: PasswordSource,
    /// `oauth2-token-command`: prints an OAuth2 access token (XOAUTH2).
    pub oauth2_command: Option<String>,
    /// `smtp-hostname`: the EHLO name; `None` means this machine's host name.
    pub hello: Option<String>,
    /// `smtp-timeout`: connect and per-reply timeout.
    pub timeout: Duration,
    /// `tls-ca-file`: a PEM file of extra trusted CA certificates.
    pub ca_file: Option<PathBuf>,
    /// `tls-verify=ignore`: certificate verification OFF (dangerous).
    pub verify_ignore: bool,
    /// `smtp-auth-allow-cleartext`: allow AUTH on an unencrypted connection.
    pub allow_cleartext_auth: bool,
    /// `verbose`: progress lines (never the password) on standard error.
    pub verbose: bool,
}

/// Reads an SMTP transport from `url` and the variables `get` returns (`smtp-auth-user`,
/// `smtp-auth`, `smtp-auth-password`, `password-command`, `smtp-use-starttls`, `smtp-hostname`,
/// `smtp-timeout`, `tls-ca-file`, `tls-verify`, `smtp-auth-allow-cleartext`, `verbose`).
/// Returns `None` when `url` is not an SMTP URL; an error names what is wrong with it.
pub fn config_from(
    url: &str,
    get: &dyn Fn(&str) -> Option<String>,
) -> Option<Result<SmtpConfig, SendError>> {
    let (scheme, rest) = url.split_once("://")?;
    let (security, default_port) = match scheme.to_ascii_lowercase().as_str() {
        "smtp" if get("smtp-use-starttls").is_some() => (Security::StartTls, 25),
        "smtp" => (Security::Plain, 25),
        "submission" => (Security::StartTls, 587),
        "smtps" => (Security::Tls, 465),
        _ => return None,
    };
    Some(parse_rest(url, rest, security, default_port, get))
}

fn parse_rest(
    url: &str,
    rest: &str,
    security: Security,
    default_port: u16,
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<SmtpConfig, SendError> {
    let bad = |reason: &str| SendError::SmtpUrl {
        url: redact_url(url),
        reason: reason.to_owned(),
    };
    let rest = rest.trim_end_matches('/');
    let (userinfo, hostport) = match rest.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, rest),
    };
    let (mut user, mut url_password) = (None, None);
    if let Some(info) = userinfo {
        let (u, p) = match info.split_once(':') {
            Some((u, p)) => (u, Some(p)),
            None => (info, None),
        };
        user = Some(
            crate::remote::url::percent_decode(u)
                .ok_or_else(|| bad("bad %-escape in the user name"))?,
        );
        if let Some(p) = p {
            url_password = Some(
                crate::remote::url::percent_decode(p)
                    .ok_or_else(|| bad("bad %-escape in the password"))?,
            );
        }
    }
    let (host, port) =
        crate::remote::url::split_host_port(hostport).ok_or_else(|| bad("bad host or port"))?;
    if host.is_empty() {
        return Err(bad("no host"));
    }
    if user.as_deref() == Some("") {
        user = None;
    }
    let user = user.or_else(|| get("smtp-auth-user").filter(|u| !u.is_empty()));
    let password = match url_password.or_else(|| get("smtp-auth-password")) {
        Some(p) => PasswordSource::Given(p),
        None => match get("password-command").filter(|c| !c.trim().is_empty()) {
            Some(c) => PasswordSource::Command(c),
            None => PasswordSource::NetrcOrPrompt,
        },
    };
    let timeout = match get("smtp-timeout").filter(|t| !t.trim().is_empty()) {
        None => DEFAULT_TIMEOUT_SECS,
        Some(t) => match t.trim().parse::<u64>() {
            Ok(n) if n > 0 => n,
            _ => {
                return Err(SendError::SmtpUrl {
                    url: redact_url(url),
                    reason: format!("smtp-timeout={t} is not a positive number of seconds"),
                })
            }
        },
    };
    let oauth2_command = get("oauth2-token-command").filter(|c| !c.trim().is_empty());
    let auth = match get("smtp-auth")
        .map(|a| a.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("") if oauth2_command.is_some() => AuthMethod::Xoauth2,
        None | Some("") => AuthMethod::Any,
        Some("xoauth2") => AuthMethod::Xoauth2,
        Some("plain") => AuthMethod::Plain,
        Some("login") => AuthMethod::Login,
        Some("none") => AuthMethod::None,
        Some(other) => {
            return Err(SendError::SmtpUrl {
                url: redact_url(url),
                reason: format!(
                    "smtp-auth={other} is not supported (plain, login, xoauth2 or none)"
                ),
            })
        }
    };
    let user = if auth == AuthMethod::None { None } else { user };
    Ok(SmtpConfig {
        host: host.to_owned(),
        port: port.unwrap_or(default_port),
        security,
        user,
        auth,
        password,
        oauth2_command,
        hello: get("smtp-hostname").filter(|h| !h.is_empty()),
        timeout: Duration::from_secs(timeout),
        ca_file: get("tls-ca-file")
            .filter(|f| !f.is_empty())
            .map(|f| PathBuf::from(expand_tilde(&f))),
        verify_ignore: get("tls-verify").is_some_and(|v| v.eq_ignore_ascii_case("ignore")),
        allow_cleartext_auth: get("smtp-auth-allow-cleartext").is_some(),
        verbose: get("verbose").is_some(),
    })
}

/// The URL without a password in its user part, for error messages.
fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((info, host)) = rest.rsplit_once('@') {
            if let Some((user, _)) = info.split_once(':') {
                return format!("{scheme}://{user}:…@{host}");
            }
        }
    }
    url.to_owned()
}

fn expand_tilde(p: &str) -> String {
    match (p.strip_prefix("~/"), std::env::var("HOME")) {
        (Some(rest), Ok(home)) => format!("{home}/{rest}"),
        _ => p.to_owned(),
    }
}

/// Sends `msg` through the server of `cfg`: connect (TLS first for `smtps://`), EHLO,
/// STARTTLS when required, AUTH when a user is set, `MAIL`/`RCPT`/`DATA`, `QUIT`. Every
/// recipient must be accepted; on the first refusal nothing is sent. Errors carry the
/// server's whole reply (decoded from GBK when it is not UTF-8) and, for 535 at a known
/// provider, what to do about it.
pub fn send(cfg: &SmtpConfig, msg: &Outgoing<'_>) -> Result<(), SendError> {
    let (host, port) = (cfg.host.as_str(), cfg.port);
    let smtp_err = |text: String| SendError::Smtp {
        host: host.to_owned(),
        port,
        text,
    };
    // Check the envelope before connecting: a bad address should not cost a connection.
    let from = match msg.envelope_from.trim() {
        "" | "<>" => String::new(),
        f => {
            check_address(f).map_err(|e| smtp_err(format!("bad envelope sender <{f}>: {e}")))?;
            f.to_owned()
        }
    };
    let mut rcpts = Vec::with_capacity(msg.recipients.len());
    for r in msg.recipients {
        let r = r.trim();
        check_address(r).map_err(|e| smtp_err(format!("bad recipient address <{r}>: {e}")))?;
        rcpts.push(r.to_owned());
    }
    if rcpts.is_empty() {
        return Err(smtp_err("no recipients".into()));
    }
    let hello = cfg.hello.clone().unwrap_or_else(super::hostname);
    let tls = tls_options(cfg)?;
    let verbose = |what: &str| {
        if cfg.verbose {
            eprintln!("rmail: smtp {host}:{port}: {what}");
        }
    };
    verbose(match cfg.security {
        Security::Tls => "connecting (TLS)",
        _ => "connecting",
    });
    let implicit = (cfg.security == Security::Tls).then_some(&tls);
    let mut conn =
        Client::connect(host, port, cfg.timeout, implicit).map_err(|e| client_error(cfg, e))?;
    let result = transaction(cfg, &mut conn, &hello, &tls, &from, &rcpts, msg, &verbose);
    match &result {
        Ok(()) => {
            verbose("sent");
            conn.quit();
        }
        // After an I/O error the connection is gone; after a reply, say goodbye.
        Err(SendError::Connect { .. }) | Err(SendError::Tls { .. }) => {}
        Err(_) => conn.quit(),
    }
    result
}

/// The part of [`send`] after the greeting.
#[allow(clippy::too_many_arguments)]
fn transaction(
    cfg: &SmtpConfig,
    conn: &mut Client,
    hello: &str,
    tls: &TlsOptions,
    from: &str,
    rcpts: &[String],
    msg: &Outgoing<'_>,
    verbose: &dyn Fn(&str),
) -> Result<(), SendError> {
    let (host, port) = (cfg.host.as_str(), cfg.port);
    let smtp_err = |text: String| SendError::Smtp {
        host: host.to_owned(),
        port,
        text,
    };
    let step = |what: &str, e: ClientError| match e {
        ClientError::Reply(r) => smtp_err(format!("{what}{r}")),
        other => client_error(cfg, other),
    };
    conn.hello(hello).map_err(|e| step("EHLO: ", e))?;
    if cfg.security == Security::StartTls {
        if !conn.extensions.has("STARTTLS") {
            return Err(SendError::NoStartTls {
                host: host.to_owned(),
                port,
            });
        }
        verbose("STARTTLS");
        conn.starttls(tls, hello)
            .map_err(|e| step("STARTTLS: ", e))?;
    }
    if let Some(user) = &cfg.user {
        if !conn.is_encrypted() && !cfg.allow_cleartext_auth {
            return Err(SendError::CleartextAuth {
                user: user.clone(),
                host: host.to_owned(),
                port,
            });
        }
        let offered = conn.extensions.auth_mechanisms();
        let offers = |m: &str| offered.iter().any(|o| o == m);
        let mechanism = match cfg.auth {
            AuthMethod::Plain => "PLAIN",
            AuthMethod::Login => "LOGIN",
            AuthMethod::Xoauth2 => "XOAUTH2",
            AuthMethod::Any | AuthMethod::None if offers("PLAIN") || !offers("LOGIN") => "PLAIN",
            AuthMethod::Any | AuthMethod::None => "LOGIN",
        };
        if offered.is_empty() {
            return Err(smtp_err(format!(
                "cannot log in as {user}: the server offers no AUTH{}",
                if conn.is_encrypted() {
                    ""
                } else {
                    " on this cleartext connection"
                }
            )));
        }
        if !offers(mechanism) {
            return Err(smtp_err(format!(
                "cannot log in as {user}: the server does not offer AUTH {mechanism} (it offers {})",
                offered.join(" ")
            )));
        }
        let sasl = if mechanism == "XOAUTH2" {
            Sasl::Xoauth2(user.clone(), oauth2_token(cfg)?)
        } else {
            let password = resolve_password(cfg, user)?;
            if mechanism == "PLAIN" {
                Sasl::Plain(user.clone(), password)
            } else {
                Sasl::Login(user.clone(), password)
            }
        };
        verbose(&format!("AUTH {mechanism} as {user}"));
        if let Err(e) = conn.auth(&sasl) {
            return Err(match e {
                ClientError::Reply(r) => {
                    let mut text = r.to_string();
                    if r.code == 535 {
                        if let Some(hint) = auth_hint(host) {
                            text.push_str(" (");
                            text.push_str(hint);
                            text.push(')');
                        }
                    }
                    smtp_err(format!("cannot log in as {user}: {text}"))
                }
                other => client_error(cfg, other),
            });
        }
    }

    let mut params = Vec::new();
    if !msg.bytes.is_ascii() && conn.extensions.has("8BITMIME") {
        params.push("BODY=8BITMIME");
    }
    if !from.is_ascii() || rcpts.iter().any(|a| !a.is_ascii()) {
        if !conn.extensions.has("SMTPUTF8") {
            return Err(smtp_err(
                "an address is not ASCII and the server does not offer SMTPUTF8".into(),
            ));
        }
        params.push("SMTPUTF8");
    }
    verbose("MAIL FROM");
    conn.mail(from, &params)
        .map_err(|e| step("MAIL FROM: ", e))?;
    for a in rcpts {
        verbose(&format!("RCPT TO:<{a}>"));
        let r = conn.rcpt(a).map_err(|e| step("", e))?;
        if r.code != 250 && r.code != 251 {
            return Err(smtp_err(format!("recipient <{a}>: {r}")));
        }
    }
    conn.data(msg.bytes)
        .map_err(|e| step("message refused: ", e))?;
    Ok(())
}

/// An address fit for `MAIL FROM:<…>`/`RCPT TO:<…>`: no controls, spaces outside quotes or
/// angle brackets (which would change the command), and an `@` with text on both sides.
fn check_address(a: &str) -> Result<(), &'static str> {
    if a.bytes()
        .any(|b| b.is_ascii_control() || b == b'<' || b == b'>')
    {
        return Err("it contains control characters or angle brackets");
    }
    let (local, domain) = a.rsplit_once('@').ok_or("it has no @domain")?;
    if local.is_empty() || domain.is_empty() || domain.contains(' ') {
        return Err("it is not local-part@domain");
    }
    if local.contains(' ') && !(local.starts_with('"') && local.ends_with('"')) {
        return Err("it contains a space");
    }
    Ok(())
}

fn tls_options(cfg: &SmtpConfig) -> Result<TlsOptions, SendError> {
    let ca_pem = match &cfg.ca_file {
        Some(f) => Some(std::fs::read(f).map_err(|e| SendError::Tls {
            host: cfg.host.clone(),
            port: cfg.port,
            reason: format!("cannot read tls-ca-file {}: {e}", f.display()),
        })?),
        None => None,
    };
    // Documented as dangerous: tls-verify=ignore.
    Ok(TlsOptions {
        ca_pem,
        accept_invalid: cfg.verify_ignore,
    })
}

/// A client failure as the user should read it: refused/timed out name host and port; a
/// TLS failure says what the TLS library said; a reply is shown whole.
fn client_error(cfg: &SmtpConfig, e: ClientError) -> SendError {
    let (host, port) = (cfg.host.clone(), cfg.port);
    match e {
        ClientError::Io(i)
            if matches!(
                i.kind(),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
            ) =>
        {
            SendError::Connect {
                host,
                port,
                reason: format!("timed out after {} s", cfg.timeout.as_secs()),
            }
        }
        ClientError::Io(i) => SendError::Connect {
            host,
            port,
            reason: i.to_string(),
        },
        ClientError::Tls(reason) => SendError::Tls { host, port, reason },
        ClientError::Reply(r) => SendError::Smtp {
            host,
            port,
            text: r.to_string(),
        },
        ClientError::Protocol(t) => SendError::Smtp {
            host,
            port,
            text: t,
        },
    }
}

/// The OAuth2 access token for XOAUTH2: the first line printed by `oauth2-token-command`.
fn oauth2_token(cfg: &SmtpConfig) -> Result<String, SendError> {
    let cmd = cfg.oauth2_command.as_deref().ok_or_else(|| {
        SendError::PasswordCommand(
            "smtp-auth=xoauth2 needs oauth2-token-command (a command printing an access token)"
                .into(),
        )
    })?;
    run_secret_command(cmd, "oauth2-token-command")
}

fn run_secret_command(cmd: &str, what: &str) -> Result<String, SendError> {
    secret_command_line(cmd, what).map_err(SendError::PasswordCommand)
}

/// Runs `cmd` with `sh -c` (stdin empty, stderr passed through) and returns the first line
/// of its output (never logged): `password-command`, `oauth2-token-command`. Errors, as
/// text naming `what`: the command cannot run, exits non-zero, or prints nothing.
pub(crate) fn secret_command_line(cmd: &str, what: &str) -> Result<String, String> {
    let out = std::process::Command::new("/bin/sh")
        .args(["-c", cmd])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("{what}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{what} exited with {}", out.status));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().next().unwrap_or("").trim_end().to_owned();
    if line.is_empty() {
        return Err(format!("{what} printed nothing"));
    }
    Ok(line)
}

/// Provider hints for a 535 reply, by host-name suffix (data, not protocol code).
const AUTH_HINTS: &[(&[&str], &str)] = &[
    (
        &[
            "qq.com", "163.com", "126.com", "yeah.net", "139.com", "189.cn", "sina.com",
            "sina.cn", "sina.net",
        ],
        "this provider needs an authorization code (授权码) from its web settings, not the account password",
    ),
    (&["gmail.com", "googlemail.com"], "use an app password"),
    (
        &["outlook.com", "office365.com", "hotmail.com", "live.com"],
        "Outlook.com requires OAuth2: set oauth2-token-command (with smtp-auth=xoauth2 or imap-auth=xoauth2)",
    ),
];

/// The hint for a failed login at `host`, if it is a known provider.
pub fn auth_hint(host: &str) -> Option<&'static str> {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    AUTH_HINTS.iter().find_map(|(suffixes, hint)| {
        suffixes
            .iter()
            .any(|s| h == *s || h.ends_with(&format!(".{s}")))
            .then_some(*hint)
    })
}

/// The password for `user` at the configured host, from the first source that has one.
fn resolve_password(cfg: &SmtpConfig, user: &str) -> Result<String, SendError> {
    let none = || SendError::NoPassword {
        user: user.to_owned(),
        host: cfg.host.clone(),
    };
    match &cfg.password {
        PasswordSource::Given(p) => Ok(p.clone()),
        PasswordSource::Command(cmd) => run_secret_command(cmd, "password-command"),
        PasswordSource::NetrcOrPrompt => {
            let netrc = std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".netrc"))
                .and_then(|p| std::fs::read_to_string(p).ok());
            if let Some(p) = netrc.and_then(|t| netrc_password(&t, &cfg.host, user)) {
                return Ok(p);
            }
            if std::io::stdin().is_terminal() {
                return prompt_password(&format!("Password for {user}@{}: ", cfg.host))
                    .ok_or_else(none);
            }
            Err(none())
        }
    }
}

/// The password of the `.netrc` entry `machine HOST login USER password PASS` (a `default`
/// entry also matches); `macdef` bodies are skipped.
pub fn netrc_password(text: &str, host: &str, user: &str) -> Option<String> {
    // Entries as (machine, login, password); machine "" is `default`.
    let mut entries: Vec<(String, Option<String>, Option<String>)> = Vec::new();
    let mut in_macdef = false;
    for line in text.lines() {
        if in_macdef {
            in_macdef = !line.trim().is_empty();
            continue;
        }
        let mut toks = line.split_whitespace();
        while let Some(t) = toks.next() {
            match t {
                "machine" => entries.push((toks.next()?.to_owned(), None, None)),
                "default" => entries.push((String::new(), None, None)),
                "login" | "password" => {
                    let v = toks.next().map(str::to_owned);
                    if let Some(e) = entries.last_mut() {
                        if t == "login" {
                            e.1 = v;
                        } else {
                            e.2 = v;
                        }
                    }
                }
                "account" => {
                    toks.next();
                }
                "macdef" => {
                    in_macdef = true;
                    break;
                }
                _ => {}
            }
        }
    }
    entries.into_iter().find_map(|(m, l, p)| {
        ((m.is_empty() || m.eq_ignore_ascii_case(host)) && l.as_deref().is_none_or(|l| l == user))
            .then_some(p)
            .flatten()
    })
}

/// Reads a line from the terminal (`/dev/tty`) with echo off, after `prompt`; `None` when
/// there is no terminal or the line is empty.
pub fn prompt_password(prompt: &str) -> Option<String> {
    use rustix::termios::{tcgetattr, tcsetattr, LocalModes, OptionalActions};
    let mut tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .ok()?;
    let saved = tcgetattr(&tty).ok()?;
    let mut quiet = saved.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    tty.write_all(prompt.as_bytes()).ok()?;
    tty.flush().ok()?;
    tcsetattr(&tty, OptionalActions::Flush, &quiet).ok()?;
    let mut line = String::new();
    let read = std::io::BufReader::new(&tty).read_line(&mut line);
    let _ = tcsetattr(&tty, OptionalActions::Flush, &saved);
    let _ = tty.write_all(b"\n");
    read.ok()?;
    let p = line.trim_end_matches(['\n', '\r']).to_owned();
    (!p.is_empty()).then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let v: Vec<(String, String)> = pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        move |k| v.iter().find(|(a, _)| a == k).map(|(_, b)| b.clone())
    }

    #[test]
    fn urls() {
        let g = vars(&[]);
        let c = config_from("smtps://user%40example.com@mail.example.com", &g)
            .unwrap()
            .unwrap();
        assert_eq!(c.user.as_deref(), Some("user@example.com"));
        assert_eq!((c.host.as_str(), c.port), ("mail.example.com", 465));
        assert_eq!(c.security, Security::Tls);
        let c = config_from("submission://h:2525", &g).unwrap().unwrap();
        assert_eq!(
            (c.port, c.security, c.user),
            (2525, Security::StartTls, None)
        );
        let c = config_from("smtp://[::1]", &g).unwrap().unwrap();
        assert_eq!(
            (c.host.as_str(), c.port, c.security),
            ("::1", 25, Security::Plain)
        );
        let g2 = vars(&[("smtp-use-starttls", ""), ("smtp-auth-user", "bob")]);
        let c = config_from("smtp://h", &g2).unwrap().unwrap();
        assert_eq!(c.security, Security::StartTls);
        assert_eq!(c.user.as_deref(), Some("bob"));
        let g3 = vars(&[("smtp-auth", "none"), ("smtp-auth-user", "bob")]);
        let c = config_from("smtp://h", &g3).unwrap().unwrap();
        assert_eq!((c.auth, c.user), (AuthMethod::None, None));
        let g4 = vars(&[("smtp-auth", "cram-md5")]);
        assert!(matches!(
            config_from("smtp://h", &g4),
            Some(Err(SendError::SmtpUrl { .. }))
        ));
        assert!(config_from("/usr/sbin/sendmail", &g).is_none());
        assert!(config_from("imap://h", &g).is_none());
        assert!(matches!(
            config_from("smtp://h:x", &g),
            Some(Err(SendError::SmtpUrl { .. }))
        ));
        assert!(matches!(
            config_from("smtp://u@", &g),
            Some(Err(SendError::SmtpUrl { .. }))
        ));
    }

    #[test]
    fn password_never_in_debug_or_errors() {
        let g = vars(&[("smtp-auth-password", "s3cret")]);
        let c = config_from("smtps://u@h", &g).unwrap().unwrap();
        assert!(!format!("{c:?}").contains("s3cret"));
        let Some(Err(e)) = config_from("smtps://u:s3cret@h:bad", &g) else {
            panic!("accepted a bad port");
        };
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }

    #[test]
    fn addresses_that_would_change_the_command_are_refused() {
        assert!(check_address("a@b.example").is_ok());
        assert!(check_address("\"a b\"@b.example").is_ok());
        for bad in [
            "a@b>",
            "a\r\nRCPT TO:<x@y>@b",
            "a b@c",
            "nodomain",
            "@b",
            "a@",
        ] {
            assert!(check_address(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn netrc() {
        let t = "machine other login u password x\n\
                 macdef init\nmachine smtp.example.com password no\n\n\
                 machine smtp.example.com login me password pw1\n\
                 default login me password dflt\n";
        assert_eq!(
            netrc_password(t, "smtp.example.com", "me").as_deref(),
            Some("pw1")
        );
        assert_eq!(
            netrc_password(t, "SMTP.example.com", "me").as_deref(),
            Some("pw1")
        );
        assert_eq!(
            netrc_password(t, "else.example", "me").as_deref(),
            Some("dflt")
        );
        assert_eq!(netrc_password(t, "other", "me").as_deref(), Some("dflt"));
        assert_eq!(netrc_password("machine h login a", "h", "a"), None);
    }

    #[test]
    fn hints() {
        assert!(auth_hint("smtp.qq.com").unwrap().contains("授权码"));
        assert!(auth_hint("smtp.163.com").unwrap().contains("授权码"));
        assert!(auth_hint("smtp.gmail.com")
            .unwrap()
            .contains("app password"));
        assert!(auth_hint("smtp-mail.outlook.com")
            .unwrap()
            .contains("OAuth2"));
        assert_eq!(auth_hint("notqq.com"), None);
        assert_eq!(auth_hint("localhost"), None);
    }
}
