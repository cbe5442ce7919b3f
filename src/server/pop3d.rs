//! The POP3 listener's I/O (RFC 1939, STLS RFC 2595, POP3S RFC 8314): one tokio task per
//! connection drives [`crate::proto::pop3::Session`] over the user's INBOX, a
//! [`crate::store::view::MailboxView`] of the spool mbox — the same file the MDA appends to
//! and the `rmail` reader edits.
//!
//! - The maildrop is exclusive for the session (RFC 1939 §4): an `flock` on
//!   `data_directory/index/USER/pop3.lock`; a second session gets `-ERR [IN-USE]`. Mail
//!   delivered meanwhile is not locked out (deliveries never wait for POP3) and is kept.
//! - UIDL values come from the side index (`data_directory/index/USER/INBOX`): stable across
//!   sessions, restarts and rewrites of the mbox by other programs.
//! - `DELE` takes effect only at `QUIT` (the UPDATE state, §6), through the view's crash-safe
//!   write-back; a dropped connection deletes nothing.
//! - Cleartext USER/PASS is allowed only from loopback or with `disable_plaintext_auth = no`
//!   (Dovecot's rule); failed logins are delayed.
//!
//! System users of a privilege-separated server (started as root) cannot be served yet: their
//! mailboxes belong to them, and the per-user session processes are still to come; they get
//! `-ERR [SYS/PERM]` with that reason.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use super::mailbox::View;
use crate::proto::pop3::{Action, MsgInfo, Output, Params, Reply, RespCode, Session};

use super::conn::{client_ip, login, start_tls, Read};
use super::deliver::Delivery;
use super::log;
use super::smtpd::{AuthBackend, Stream};

/// What every POP3 connection shares.
pub struct Pop3Shared {
    /// Users, mailbox paths.
    pub delivery: Arc<Delivery>,
    /// TLS identity.
    pub tls: Option<tokio_native_tls::TlsAcceptor>,
    /// How passwords are checked.
    pub auth: AuthBackend,
    /// `disable_plaintext_auth` (Dovecot): no USER/PASS before TLS except from loopback.
    pub disable_plaintext_auth: bool,
    /// Where the per-user indexes and locks live (`data_directory/index`).
    pub index_dir: PathBuf,
    /// Idle timeout (RFC 1939 §3: at least 10 minutes).
    pub timeout: Duration,
    /// Turns true at shutdown.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// Per-user session processes (privilege separation): system users' sessions continue
    /// there after login.
    pub sessions: Option<Arc<super::privsep::SessionSpawner>>,
}

/// The open maildrop of an authenticated session.
pub(crate) struct Maildrop {
    pub(crate) view: View,
    /// The view's side index (to find a message again after a rewrite by others).
    pub(crate) index: std::path::PathBuf,
    _lock: std::fs::File,
}

/// Serves one POP3 connection; `implicit` for POP3S (995).
pub async fn handle(
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    implicit: bool,
    shared: Arc<Pop3Shared>,
) {
    let ip = client_ip(peer);
    let mut conn: Box<dyn Stream> = Box::new(tcp);
    if implicit {
        let Some(acceptor) = &shared.tls else { return };
        let Some(tls) = start_tls(conn, acceptor).await else {
            return;
        };
        conn = tls;
    }
    let mut params = Params::new();
    params.tls_offered = shared.tls.is_some() && !implicit;
    params.tls_active = implicit;
    params.plaintext_auth = ip.is_loopback() || !shared.disable_plaintext_auth;
    let mut session = Session::new(params);
    if conn
        .write_all(&session.greeting().to_bytes())
        .await
        .is_err()
    {
        return;
    }
    log::info("pop3", &format!("connect from [{ip}]"));
    let mut maildrop: Option<Maildrop> = None;
    let mut buf = vec![0u8; 8192];
    let mut shutdown = shared.shutdown.clone();
    'conn: loop {
        let n = match super::conn::read(&mut conn, &mut buf, shared.timeout, &mut shutdown).await {
            Read::Data(n) => n,
            Read::Closed => break,
            Read::Timeout => {
                let _ = conn.write_all(&session.idle_timeout().to_bytes()).await;
                break;
            }
            Read::Shutdown => {
                let _ = conn.write_all(&session.shutting_down().to_bytes()).await;
                break;
            }
        };
        let mut out = session.feed(&buf[..n]);
        loop {
            let Output { write, action } = out;
            if !write.is_empty() && conn.write_all(&write).await.is_err() {
                break 'conn;
            }
            match action {
                None => break,
                Some(Action::Close) => break 'conn,
                Some(Action::StartTls) => {
                    let Some(acceptor) = &shared.tls else {
                        break 'conn;
                    };
                    let Some(tls) = start_tls(conn, acceptor).await else {
                        return;
                    };
                    conn = tls;
                    session.tls_started();
                    break;
                }
                Some(Action::Authenticate { user, password }) => {
                    let ok = login(&shared.auth, "pop3", ip, &user, &password).await;
                    out = session.auth_result(ok);
                }
                Some(Action::OpenMaildrop { user }) => {
                    if let Some(spawner) = per_user(&shared.delivery, &shared.sessions, &user) {
                        let h = session.hand_over();
                        super::conn::relay_to_session(conn, spawner, "pop3", &user, h, ip).await;
                        return;
                    }
                    let r = open_maildrop(&shared, &user).await;
                    let listing = match r {
                        Ok(m) => {
                            let list = (0..m.view.len())
                                .map(|i| MsgInfo {
                                    size: m.view.info(i).size_crlf,
                                    uid: m.view.uidl(i),
                                })
                                .collect();
                            log::info(
                                "pop3",
                                &format!("[{ip}]: {user} logged in, {} messages", m.view.len()),
                            );
                            maildrop = Some(m);
                            Ok(list)
                        }
                        Err(reply) => Err(reply),
                    };
                    out = session.maildrop_opened(listing);
                }
                Some(Action::Fetch { index, .. }) => {
                    let r = match maildrop.take() {
                        Some(m) => {
                            let (m, r) = tokio::task::spawn_blocking(move || {
                                let r = m.view.message(index, &m.index);
                                (Some(m), r)
                            })
                            .await
                            .unwrap_or_else(panic_free);
                            maildrop = m;
                            r.map_err(|e| {
                                Reply::err(
                                    Some(RespCode::SysTemp),
                                    format!("cannot read the message: {e}"),
                                )
                            })
                        }
                        None => Err(Reply::err(Some(RespCode::SysTemp), "no maildrop")),
                    };
                    out = session.fetched(r);
                }
                Some(Action::Update { deleted }) => {
                    let r = match maildrop.take() {
                        Some(mut m) if !deleted.is_empty() => {
                            let r = tokio::task::spawn_blocking(move || {
                                m.view.sync(&deleted).map(drop)
                            })
                            .await;
                            match r {
                                Ok(Ok(())) => Ok(()),
                                Ok(Err(e)) => Err(Reply::err(
                                    Some(RespCode::SysTemp),
                                    format!("cannot update the maildrop: {e}"),
                                )),
                                Err(_) => Err(Reply::err(
                                    Some(RespCode::SysTemp),
                                    "cannot update the maildrop",
                                )),
                            }
                        }
                        _ => Ok(()),
                    };
                    out = session.update_result(r);
                }
            }
        }
        if session.is_closed() {
            break;
        }
    }
    let _ = conn.shutdown().await;
    log::info("pop3", &format!("disconnect from [{ip}]"));
}

/// A join error of a blocking task (a panic in the store) as "no maildrop" rather than a
/// crash of the connection task.
fn panic_free(_e: tokio::task::JoinError) -> (Option<Maildrop>, std::io::Result<Vec<u8>>) {
    (None, Err(std::io::Error::other("internal error")))
}

/// The session spawner when `user` is a system user of a privilege-separated server (then
/// the session continues in a process running as the user).
pub(crate) fn per_user<'a>(
    delivery: &Delivery,
    sessions: &'a Option<Arc<super::privsep::SessionSpawner>>,
    user: &str,
) -> Option<&'a Arc<super::privsep::SessionSpawner>> {
    let spawner = sessions.as_ref()?;
    if !delivery.has_master() {
        return None;
    }
    match delivery.router.users().lookup(user) {
        Ok(Some(u)) if matches!(u.kind, crate::mda::users::UserKind::System { .. }) => {
            Some(spawner)
        }
        _ => None,
    }
}

/// Locks and opens `user`'s INBOX.
async fn open_maildrop(shared: &Arc<Pop3Shared>, user: &str) -> Result<Maildrop, Reply> {
    let sys_perm = |t: String| Reply::err(Some(RespCode::SysPerm), t);
    let u = match shared.delivery.router.users().lookup(user) {
        Ok(Some(u)) => u,
        _ => return Err(sys_perm(format!("no mailbox for {user}"))),
    };
    if shared.delivery.has_master() && matches!(u.kind, crate::mda::users::UserKind::System { .. })
    {
        return Err(sys_perm(
            "POP3 for system users of a privilege-separated server is not available yet".into(),
        ));
    }
    let inbox = shared.delivery.inbox_of(&u);
    let dir = shared.index_dir.join(&u.name);
    tokio::task::spawn_blocking(move || open_maildrop_at(&inbox, &dir))
        .await
        .unwrap_or_else(|_| Err(Reply::err(Some(RespCode::SysTemp), "internal error")))
}

/// Locks (exclusively, for POP3 sessions) and opens the maildrop `inbox` with its index
/// and lock in `dir`. Blocking.
pub(crate) fn open_maildrop_at(
    inbox: &std::path::Path,
    dir: &std::path::Path,
) -> Result<Maildrop, Reply> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::create_dir_all(dir).map_err(|e| {
        Reply::err(
            Some(RespCode::SysTemp),
            format!("cannot create the index: {e}"),
        )
    })?;
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(dir.join("pop3.lock"))
        .map_err(|e| Reply::err(Some(RespCode::SysTemp), format!("cannot lock: {e}")))?;
    if lock.try_lock().is_err() {
        return Err(Reply::err(
            Some(RespCode::InUse),
            "Mailbox is locked by another POP3 session",
        ));
    }
    let view = View::open(inbox, &dir.join("INBOX"), false).map_err(|e| {
        Reply::err(
            Some(RespCode::SysTemp),
            format!("cannot open the maildrop: {e}"),
        )
    })?;
    Ok(Maildrop {
        view,
        index: dir.join("INBOX"),
        _lock: lock,
    })
}
