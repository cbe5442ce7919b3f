//! Per-user POP3/IMAP session processes (Dovecot's login/post-login split). Under privilege
//! separation the network-facing process (running as `mail_owner`) cannot open a system
//! user's mailbox; after a successful login it hands the session over ([`Handover`]): the
//! root master starts `rmail serve-session PROTO` running as the user, connected by a Unix
//! socket pair, and the network-facing process relays bytes between the client (TLS stays
//! there) and that socket. This module is the user's side: it reads the hand-over, opens
//! the user's mailboxes as the user and drives the protocol core over blocking I/O.
//!
//! The user's indexes and the POP3 lock live in `~/mail/.imap/` (the spool is not
//! writable by users; the data directory belongs to `mail_owner`), as Dovecot keeps them.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use crate::proto::Handover;

use super::cmd::{EX_CONFIG, EX_NOPERM, EX_TEMPFAIL, EX_USAGE};

/// How long to wait for client input outside IDLE (RFC 3501 §5.4: 30 minutes; POP3 10).
const IDLE_LIMIT: Duration = Duration::from_secs(30 * 60);

/// `rmail serve-session PROTO`: standard input is the socket to the network-facing process.
/// Returns the exit status.
pub fn run(proto: &str, config: Option<&Path>) -> i32 {
    // SAFETY: fd 0 is ours for the life of the process; the socket takes it over.
    let sock = UnixStream::from(unsafe { OwnedFd::from_raw_fd(0) });
    let mut reader = BufReader::new(match sock.try_clone() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rmail serve-session: {e}");
            return EX_TEMPFAIL;
        }
    });
    let mut line = String::new();
    if reader.by_ref().take(1024).read_line(&mut line).unwrap_or(0) == 0 {
        return EX_USAGE;
    }
    let Some((mut h, len)) = Handover::decode_header(line.trim_end()) else {
        eprintln!("rmail serve-session: bad hand-over");
        return EX_USAGE;
    };
    let mut pending = vec![0u8; len];
    if reader.read_exact(&mut pending).is_err() {
        return EX_USAGE;
    }
    h.pending = pending;
    // Only one's own mail: the master started us as h.user.
    let me = rustix::process::geteuid().as_raw();
    let Some((uid, _, home)) = super::privsep::account(&h.user) else {
        return EX_NOPERM;
    };
    if uid != me {
        eprintln!(
            "rmail serve-session: {} is not the user running this",
            h.user
        );
        return EX_NOPERM;
    }
    let loaded = match super::run::load(config, &[]) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("rmail serve-session: {e}");
            return EX_CONFIG;
        }
    };
    let c = &loaded.config;
    let inbox = match &c.home_mailbox {
        crate::config::maincf::HomeMailbox::Spool => c.mail_spool_directory.join(&h.user),
        crate::config::maincf::HomeMailbox::Mbox(p) => home.join(p),
        crate::config::maincf::HomeMailbox::Maildir(p) => {
            let mut s = home.join(p).into_os_string();
            s.push("/");
            std::path::PathBuf::from(s)
        }
    };
    let index = match index_dir(&home, uid) {
        Some(i) => i,
        None => {
            eprintln!("rmail serve-session: no place for {}'s index", h.user);
            return EX_TEMPFAIL;
        }
    };
    let r = match proto {
        "imap" => {
            // Folders in ~/mail; without a usable home, beside the index.
            let folders = if index.starts_with(&home) {
                home.join("mail")
            } else {
                index.join("folders")
            };
            imap(reader, sock, h, &inbox, &folders, &index)
        }
        "pop3" => pop3(reader, sock, h, &inbox, &index),
        _ => return EX_USAGE,
    };
    match r {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("rmail serve-session: {e}");
            EX_TEMPFAIL
        }
    }
}

/// Where the user's indexes live: `~/mail/.imap` (Dovecot's place), made 0700; for an
/// account without a usable home (e.g. `nobody`), a private directory under the temporary
/// directory — then UIDs last only as long as that directory (like Dovecot's in-memory
/// index). `None` when neither can be had safely.
fn index_dir(home: &Path, uid: u32) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let preferred = home.join("mail/.imap");
    if std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&preferred)
        .is_ok()
    {
        return Some(preferred);
    }
    let tmp = std::env::temp_dir().join(format!("rmail-index-{uid}"));
    let _ = std::fs::DirBuilder::new().mode(0o700).create(&tmp);
    // Only our own real directory: never a link or someone else's planted directory.
    let m = std::fs::symlink_metadata(&tmp).ok()?;
    (m.is_dir() && m.uid() == uid && m.mode() & 0o077 == 0).then_some(tmp)
}

/// Waits until the socket is readable or `limit` passes; `false` on timeout.
fn readable(sock: &UnixStream, limit: Duration) -> bool {
    let fd = sock.as_fd();
    let mut fds = [rustix::event::PollFd::new(
        &fd,
        rustix::event::PollFlags::IN,
    )];
    let ts = rustix::event::Timespec {
        tv_sec: limit.as_secs() as i64,
        tv_nsec: i64::from(limit.subsec_nanos()),
    };
    matches!(rustix::event::poll(&mut fds, Some(&ts)), Ok(n) if n > 0)
}

/// Reads what is there (after [`readable`]); 0 at end of input.
fn read_some(reader: &mut BufReader<UnixStream>, buf: &mut [u8]) -> std::io::Result<usize> {
    reader.read(buf)
}

fn imap(
    mut reader: BufReader<UnixStream>,
    mut sock: UnixStream,
    h: Handover,
    inbox: &Path,
    folders: &Path,
    index: &Path,
) -> std::io::Result<()> {
    use crate::proto::imap::{Output, Params, Session};
    let mut params = Params::new();
    params.tls_active = h.tls_active;
    params.version = env!("CARGO_PKG_VERSION").to_owned();
    let mut session = Session::resume(params, h);
    let store =
        super::imapd::UserStore::new(inbox.to_owned(), folders.to_owned(), index.to_owned())
            .map(|s| Box::new(s) as Box<dyn crate::proto::imap::MailStore>);
    let mut out = session.store_opened(store);
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let Output { write, action } = out;
        sock.write_all(&write)?;
        if action.is_some() || session.is_closed() {
            // After login nothing is left for the I/O layer but closing.
            break;
        }
        let limit = if session.is_idling() {
            Duration::from_secs(1)
        } else {
            IDLE_LIMIT
        };
        if reader.buffer().is_empty() && !readable(reader.get_ref(), limit) {
            out = if session.is_idling() {
                session.poll_changes()
            } else {
                session.idle_timeout()
            };
            continue;
        }
        let n = read_some(&mut reader, &mut buf)?;
        if n == 0 {
            break;
        }
        out = session.feed(&buf[..n]);
    }
    session.hangup();
    Ok(())
}

fn pop3(
    mut reader: BufReader<UnixStream>,
    mut sock: UnixStream,
    h: Handover,
    inbox: &Path,
    index: &Path,
) -> std::io::Result<()> {
    use crate::proto::pop3::{Action, MsgInfo, Output, Params, Reply, RespCode, Session};
    let mut params = Params::new();
    params.tls_active = h.tls_active;
    let mut session = Session::resume(params, h);
    let mut maildrop = None;
    let listing = match super::pop3d::open_maildrop_at(inbox, index) {
        Ok(m) => {
            let list = (0..m.view.len())
                .map(|i| MsgInfo {
                    size: m.view.info(i).size_crlf,
                    uid: m.view.uidl(i),
                })
                .collect();
            maildrop = Some(m);
            Ok(list)
        }
        Err(r) => Err(r),
    };
    let mut out = session.maildrop_opened(listing);
    let mut buf = vec![0u8; 8192];
    loop {
        let Output { write, action } = out;
        sock.write_all(&write)?;
        out = match action {
            None => {
                if reader.buffer().is_empty()
                    && !readable(reader.get_ref(), Duration::from_secs(600))
                {
                    let r = session.idle_timeout();
                    sock.write_all(&r.to_bytes())?;
                    break;
                }
                let n = read_some(&mut reader, &mut buf)?;
                if n == 0 {
                    break;
                }
                session.feed(&buf[..n])
            }
            Some(Action::Fetch { index, .. }) => {
                let r = match &maildrop {
                    Some(m) => m.view.message(index, &m.index).map_err(|e| {
                        Reply::err(
                            Some(RespCode::SysTemp),
                            format!("cannot read the message: {e}"),
                        )
                    }),
                    None => Err(Reply::err(Some(RespCode::SysTemp), "no maildrop")),
                };
                session.fetched(r)
            }
            Some(Action::Update { deleted }) => {
                let r = match maildrop.as_mut() {
                    Some(m) if !deleted.is_empty() => {
                        m.view.sync(&deleted).map(drop).map_err(|e| {
                            Reply::err(
                                Some(RespCode::SysTemp),
                                format!("cannot update the maildrop: {e}"),
                            )
                        })
                    }
                    _ => Ok(()),
                };
                session.update_result(r)
            }
            Some(_) => break,
        };
    }
    Ok(())
}
