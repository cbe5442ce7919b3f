//! Transports for outgoing mail (s-nail's `mta` variable):
//!
//! - [`Transport::Sendmail`]: `sendmail -oi -f FROM -- RCPT…`, the message on stdin, its exit
//!   status checked (the default when `/usr/sbin/sendmail` exists, as mailx does);
//! - [`Transport::Local`]: built-in delivery to local mailboxes through [`crate::mda`] (the
//!   default on a machine without an MTA). Mail to oneself goes to `$MAIL`; as root, mail to
//!   another user is written by `rmail deliver USER` running as that user; anything else is
//!   refused with a clear error (the caller keeps the message in `dead.letter`).
//!
//! - [`Transport::Smtp`]: SMTP submission to `smtp://`, `submission://` (STARTTLS required) or
//!   `smtps://` (implicit TLS) URLs, with AUTH PLAIN/LOGIN; see [`smtp`] for the variables.

use std::ffi::CString;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::store::mbox::StoreError;

pub mod client;
pub mod smtp;

/// Where outgoing mail goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// A sendmail-compatible program.
    Sendmail(PathBuf),
    /// Built-in local delivery.
    Local,
    /// An SMTP server (its `Debug` never shows the password).
    Smtp(smtp::SmtpConfig),
}

/// The system's sendmail, used by default when it exists.
pub const SENDMAIL: &str = "/usr/sbin/sendmail";

/// Why a message was not sent; `Display` is the text shown to the user.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The `mta` value names a transport this build does not have yet.
    #[error("cannot send through \"{0}\": mta must be a sendmail path, \"local\", or an smtp://, submission:// or smtps:// URL")]
    Unsupported(String),
    /// An SMTP `mta` URL (or an SMTP variable) that cannot be used; never shows a password.
    #[error("cannot use mta={url}: {reason}")]
    SmtpUrl {
        /// The URL, any password in it replaced.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The SMTP server could not be reached (refused, timed out, no such host).
    #[error("cannot connect to {host}:{port}: {reason}")]
    Connect {
        /// Server host.
        host: String,
        /// Server port.
        port: u16,
        /// Why.
        reason: String,
    },
    /// TLS with the SMTP server failed (handshake, certificate verification, `tls-ca-file`).
    #[error("TLS with {host}:{port} failed: {reason}")]
    Tls {
        /// Server host (the name its certificate must carry).
        host: String,
        /// Server port.
        port: u16,
        /// What the TLS library said.
        reason: String,
    },
    /// `submission://` (or `smtp-use-starttls`) and the server does not offer STARTTLS:
    /// nothing is sent in cleartext.
    #[error(
        "{host}:{port} does not offer STARTTLS; refusing to continue in cleartext (nothing sent)"
    )]
    NoStartTls {
        /// Server host.
        host: String,
        /// Server port.
        port: u16,
    },
    /// AUTH would send a password over a cleartext connection.
    #[error("refusing to send the password of {user} to {host}:{port} in cleartext: use smtps:// or submission://, or set smtp-auth-allow-cleartext")]
    CleartextAuth {
        /// The AUTH user.
        user: String,
        /// Server host.
        host: String,
        /// Server port.
        port: u16,
    },
    /// AUTH is needed and no password source has one.
    #[error("no password for {user} at {host}: set smtp-auth-password or password-command, or add a ~/.netrc entry")]
    NoPassword {
        /// The AUTH user.
        user: String,
        /// Server host.
        host: String,
    },
    /// `password-command` failed.
    #[error("password-command failed: {0}")]
    PasswordCommand(String),
    /// The SMTP server refused (the reply code and its full text, plus a provider hint for
    /// 535), or the session failed midway.
    #[error("cannot send through {host}:{port}: {text}")]
    Smtp {
        /// Server host.
        host: String,
        /// Server port.
        port: u16,
        /// The server's reply ("550 5.1.1 …") or what went wrong.
        text: String,
    },
    /// sendmail could not be started.
    #[error("cannot run {path}: {source}")]
    Spawn {
        /// The program.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// sendmail exited with a failure status (sysexits: 75 temporary, 67 no such user, …).
    #[error("{path} failed ({status})")]
    Sendmail {
        /// The program.
        path: PathBuf,
        /// Its exit status.
        status: std::process::ExitStatus,
    },
    /// `mta=local` cannot reach a remote address.
    #[error("cannot deliver to {0} with mta=local: not a local address (set mta to a sendmail or an SMTP server)")]
    Remote(String),
    /// No such local user.
    #[error("cannot deliver to {0}: no such local user")]
    NoSuchUser(String),
    /// A non-root sender cannot write another user's mailbox.
    #[error("cannot deliver to {0}: writing another user's mailbox needs root (or a running rmail serve)")]
    OtherUser(String),
    /// `rmail deliver` as the recipient failed.
    #[error("delivery to {user} failed ({status})")]
    Deliver {
        /// The recipient.
        user: String,
        /// The agent's exit status.
        status: std::process::ExitStatus,
    },
    /// The recipient's mailbox is a link, not a regular file, or owned by someone else.
    #[error("refusing to deliver to {}: not the recipient's own regular file", .0.display())]
    UnsafeMailbox(PathBuf),
    /// The mailbox could not be written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Transport {
    /// The transport for an `mta` value: unset or empty → sendmail when [`SENDMAIL`] exists,
    /// else local; `local` → local; an absolute path → that sendmail; `smtp://`,
    /// `submission://`, `smtps://` → SMTP with default settings (no SMTP variables: use
    /// [`Transport::from_vars`] for those).
    pub fn from_mta(mta: Option<&str>) -> Result<Transport, SendError> {
        let owned = mta.map(str::to_owned);
        Transport::from_vars(&|name| if name == "mta" { owned.clone() } else { None })
    }

    /// The transport for the variables `get` returns (`None` = unset, `Some("")` = set
    /// without a value): `mta` as in [`Transport::from_mta`], and for SMTP URLs
    /// `smtp-auth-user`, `smtp-auth-password`, `password-command`, `smtp-use-starttls`,
    /// `smtp-hostname`, `smtp-timeout` (seconds, default 30), `tls-ca-file`, `tls-verify`
    /// (`ignore` turns certificate checks OFF — test servers only), `smtp-auth-allow-cleartext`
    /// and `verbose`. Errors: [`SendError::Unsupported`] for an unknown `mta`,
    /// [`SendError::SmtpUrl`] for a malformed SMTP URL or `smtp-timeout`.
    pub fn from_vars(get: &dyn Fn(&str) -> Option<String>) -> Result<Transport, SendError> {
        let mta = get("mta");
        match mta.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
            None => Ok(if Path::new(SENDMAIL).exists() {
                Transport::Sendmail(PathBuf::from(SENDMAIL))
            } else {
                Transport::Local
            }),
            Some("local") => Ok(Transport::Local),
            Some(p) if p.starts_with('/') => Ok(Transport::Sendmail(PathBuf::from(p))),
            Some(other) => match smtp::config_from(other, get) {
                Some(cfg) => Ok(Transport::Smtp(cfg?)),
                None => Err(SendError::Unsupported(other.to_owned())),
            },
        }
    }
}

/// A message ready for a transport: RFC 5322 bytes (LF line ends) and its envelope.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    /// The message.
    pub bytes: &'a [u8],
    /// Envelope sender (`MAIL FROM`, `sendmail -f`).
    pub envelope_from: &'a str,
    /// Envelope recipients, bare addresses or local names.
    pub recipients: &'a [String],
}

/// Who "local" is for [`Transport::Local`].
#[derive(Debug, Clone)]
pub struct LocalSite {
    /// The invoking user's login name.
    pub user: String,
    /// The invoking user's mailbox (`$MAIL`, else the spool).
    pub own_mailbox: PathBuf,
    /// Domains that mean "this machine" (lower case): localhost and the host names.
    pub domains: Vec<String>,
}

impl LocalSite {
    /// The local user an address names, or `None` for a remote address: `lisi`, or
    /// `lisi@DOMAIN` with a local domain.
    pub fn local_user<'a>(&self, rcpt: &'a str) -> Option<&'a str> {
        match rcpt.rsplit_once('@') {
            None => Some(rcpt),
            Some((user, domain)) => {
                let d = domain.trim_end_matches('.').to_ascii_lowercase();
                self.domains.contains(&d).then_some(user)
            }
        }
    }
}

/// This machine's names: `localhost`, `localhost.localdomain`, the host name and its first
/// label.
pub fn local_domains() -> Vec<String> {
    let mut v = vec!["localhost".to_owned(), "localhost.localdomain".to_owned()];
    let host = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .to_ascii_lowercase();
    if !host.is_empty() {
        if let Some((short, _)) = host.split_once('.') {
            v.push(short.to_owned());
        }
        v.push(host);
    }
    v
}

/// Sends `msg` through `t`. With [`Transport::Local`] every recipient must be local; with
/// [`Transport::Smtp`] the server must accept every recipient; on the first failure nothing
/// more is tried and the error is returned (the caller saves the message to `dead.letter`).
pub fn send(t: &Transport, msg: &Outgoing<'_>, site: &LocalSite) -> Result<(), SendError> {
    match t {
        Transport::Sendmail(path) => sendmail(path, msg),
        Transport::Smtp(cfg) => smtp::send(cfg, msg),
        Transport::Local => {
            // Check every recipient first, so that nobody gets a copy of a message that
            // then fails for another recipient.
            let mut users = Vec::new();
            for r in msg.recipients {
                let u = site
                    .local_user(r)
                    .ok_or_else(|| SendError::Remote(r.clone()))?;
                if u != site.user && lookup_user(u).is_none() {
                    return Err(SendError::NoSuchUser(u.to_owned()));
                }
                users.push(u);
            }
            for u in users {
                deliver_local(u, msg, site)?;
            }
            Ok(())
        }
    }
}

fn sendmail(path: &Path, msg: &Outgoing<'_>) -> Result<(), SendError> {
    let mut child = Command::new(path)
        .args(["-oi", "-f", msg.envelope_from, "--"])
        .args(msg.recipients)
        .stdin(Stdio::piped())
        .spawn()
        .map_err(|source| SendError::Spawn {
            path: path.to_owned(),
            source,
        })?;
    let wrote = child.stdin.take().map(|mut i| i.write_all(msg.bytes));
    let status = child.wait().map_err(|source| SendError::Spawn {
        path: path.to_owned(),
        source,
    })?;
    if !status.success() || matches!(wrote, Some(Err(_))) {
        return Err(SendError::Sendmail {
            path: path.to_owned(),
            status,
        });
    }
    Ok(())
}

/// The password-database entry of `user`: (uid, gid), `None` when there is none.
pub fn lookup_user(user: &str) -> Option<(u32, u32)> {
    let name = CString::new(user).ok()?;
    // SAFETY: getpwnam returns null or a pointer to static storage, read at once.
    unsafe {
        let pw = libc::getpwnam(name.as_ptr());
        if pw.is_null() {
            None
        } else {
            Some(((*pw).pw_uid, (*pw).pw_gid))
        }
    }
}

fn deliver_local(user: &str, msg: &Outgoing<'_>, site: &LocalSite) -> Result<(), SendError> {
    let me = rustix::process::geteuid().as_raw();
    if user == site.user {
        return Ok(crate::mda::deliver_to_mbox(
            &site.own_mailbox,
            msg.envelope_from,
            msg.bytes,
        )?);
    }
    let (uid, gid) = lookup_user(user).ok_or_else(|| SendError::NoSuchUser(user.to_owned()))?;
    if uid == me {
        // Another name for ourselves.
        return Ok(crate::mda::deliver_to_mbox(
            &site.own_mailbox,
            msg.envelope_from,
            msg.bytes,
        )?);
    }
    if me != 0 {
        // Not root: a running `rmail serve` on this machine delivers as the recipient.
        return match via_local_server(user, msg) {
            Some(r) => r,
            None => Err(SendError::OtherUser(user.to_owned())),
        };
    }
    // Root: make sure the mailbox exists and belongs to the user (as Postfix local(8) does),
    // then let `rmail deliver` append to it with the user's identity.
    let mailbox = crate::mda::mailbox_of(user);
    create_owned(&mailbox, uid, gid)?;
    let exe = std::env::current_exe().map_err(|source| SendError::Spawn {
        path: PathBuf::from("rmail"),
        source,
    })?;
    let mut child = Command::new(&exe)
        .args(["deliver", "-f", msg.envelope_from, "--", user])
        .uid(uid)
        .gid(gid)
        .stdin(Stdio::piped())
        .spawn()
        .map_err(|source| SendError::Spawn {
            path: exe.clone(),
            source,
        })?;
    let wrote = child.stdin.take().map(|mut i| i.write_all(msg.bytes));
    let status = child
        .wait()
        .map_err(|source| SendError::Spawn { path: exe, source })?;
    if !status.success() || matches!(wrote, Some(Err(_))) {
        return Err(SendError::Deliver {
            user: user.to_owned(),
            status,
        });
    }
    Ok(())
}

/// Hands a message for local `user` to the `rmail serve` configured on this machine
/// (`$RMAIL_CONFIG`, else `/etc/rmail/main.cf`) over SMTP on its loopback `smtp_listen`
/// address, addressed to `user@` its first `mydestination` domain. `None` when no server is
/// configured or none answers (the caller reports [`SendError::OtherUser`]).
fn via_local_server(user: &str, msg: &Outgoing<'_>) -> Option<Result<(), SendError>> {
    use crate::config::maincf;
    let path = maincf::default_path();
    let (cfg, _) = maincf::load(&path).ok()?;
    let domain = cfg.mydestination.first()?.clone();
    let rcpt = format!("{user}@{domain}");
    for addr in maincf::smtp_addresses(&cfg) {
        let host = match addr.ip() {
            ip if ip.is_unspecified() && addr.is_ipv4() => "127.0.0.1".to_owned(),
            ip if ip.is_unspecified() => "::1".to_owned(),
            ip if ip.is_loopback() => ip.to_string(),
            _ => continue,
        };
        let Ok(mut c) =
            client::Client::connect(&host, addr.port(), std::time::Duration::from_secs(30), None)
        else {
            continue;
        };
        let r = (|| {
            c.hello(&hostname())?;
            c.mail(msg.envelope_from, &[])?;
            let reply = c.rcpt(&rcpt)?;
            if reply.code != 250 && reply.code != 251 {
                return Err(client::ClientError::Reply(reply));
            }
            c.data(msg.bytes).map(drop)
        })();
        c.quit();
        return Some(r.map_err(|e| SendError::Smtp {
            host,
            port: addr.port(),
            text: format!("delivery to {user} through rmail serve: {e}"),
        }));
    }
    None
}

/// Creates `path` (mode 0600) owned by `uid:gid` when it does not exist yet.
fn create_owned(path: &Path, uid: u32, gid: u32) -> Result<(), SendError> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(f) => {
            std::os::unix::fs::fchown(&f, Some(uid), Some(gid)).map_err(|e| {
                SendError::Store(StoreError::Io {
                    path: path.to_owned(),
                    source: e,
                })
            })?;
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            // Only the user's own regular file: never a link or a file someone else planted.
            use std::os::unix::fs::MetadataExt;
            let m = std::fs::symlink_metadata(path).map_err(|e| {
                SendError::Store(StoreError::Io {
                    path: path.to_owned(),
                    source: e,
                })
            })?;
            if m.file_type().is_symlink() || !m.is_file() || m.uid() != uid {
                return Err(SendError::UnsafeMailbox(path.to_owned()));
            }
            Ok(())
        }
        Err(e) => Err(SendError::Store(StoreError::Io {
            path: path.to_owned(),
            source: e,
        })),
    }
}

/// This machine's name (uname nodename, `localhost` when empty): default `From:` domain,
/// Message-ID right-hand side and EHLO name.
pub fn hostname() -> String {
    let n = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned();
    if n.is_empty() {
        "localhost".into()
    } else {
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> LocalSite {
        LocalSite {
            user: "me".into(),
            own_mailbox: PathBuf::from("/nonexistent"),
            domains: vec!["localhost".into(), "mail.example.com".into()],
        }
    }

    #[test]
    fn local_users_and_remote_addresses() {
        let s = site();
        assert_eq!(s.local_user("lisi"), Some("lisi"));
        assert_eq!(s.local_user("lisi@MAIL.example.com."), Some("lisi"));
        assert_eq!(s.local_user("lisi@localhost"), Some("lisi"));
        assert_eq!(s.local_user("lisi@example.org"), None);
    }

    #[test]
    fn mta_values() {
        assert_eq!(
            Transport::from_mta(Some("local")).unwrap(),
            Transport::Local
        );
        assert_eq!(
            Transport::from_mta(Some("/usr/lib/sendmail")).unwrap(),
            Transport::Sendmail("/usr/lib/sendmail".into())
        );
        assert!(matches!(
            Transport::from_mta(Some("smtp://x")),
            Ok(Transport::Smtp(smtp::SmtpConfig { port: 25, .. }))
        ));
        assert!(matches!(
            Transport::from_mta(Some("ftp://x")),
            Err(SendError::Unsupported(_))
        ));
    }

    #[test]
    fn remote_recipient_with_local_transport_is_refused_before_any_delivery() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = site();
        s.own_mailbox = dir.path().join("me");
        let rcpts = vec!["me".to_owned(), "x@example.org".to_owned()];
        let msg = Outgoing {
            bytes: b"Subject: x\n\nx\n",
            envelope_from: "me@localhost",
            recipients: &rcpts,
        };
        assert!(matches!(
            send(&Transport::Local, &msg, &s),
            Err(SendError::Remote(_))
        ));
        assert!(!s.own_mailbox.exists());
    }
}
