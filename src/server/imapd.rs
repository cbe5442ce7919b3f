//! The IMAP listener's I/O (RFC 3501, STARTTLS, IMAPS RFC 8314) and the user's folders for
//! [`crate::proto::imap::Session`]:
//!
//! - INBOX is the user's spool mbox (`mail_spool_directory/USER`; a missing file is an empty
//!   INBOX) — the very file the MDA appends to and the `rmail` reader edits; other folders are
//!   mbox files under `virtual_mailbox_base/USER/` (virtual users) or `~/mail/` (system users
//!   of a server that is not privilege-separated). `Sent`, `Drafts`, `Trash` and `Junk` are
//!   created at the first login and listed with their RFC 6154 special use.
//! - Each folder is a [`MailboxView`]: flags in the mbox headers (shared with the reader),
//!   UIDs in a side index under `data_directory/index/USER/`.
//! - The session's storage calls are local file operations; they run on the runtime's
//!   worker thread inside `block_in_place`, so other connections keep being served.
//! - During IDLE the folder is polled every second: new mail shows as `* N EXISTS` within
//!   about a second (RFC 2177).
//!
//! System users of a privilege-separated server (started as root) are refused after login
//! with a clear `NO`: their per-user session processes are still to come.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, TimeZone};
use tokio::io::AsyncWriteExt;

use crate::proto::imap::{
    Action, Changes, Flags, Folder, MailStore, MailboxInfo, MessageInfo, Output, Params, Session,
    StatusInfo, StoreError,
};
use crate::store::view::{self, ViewError};

use super::mailbox::View;

use super::conn::{client_ip, login, start_tls, Read};
use super::deliver::Delivery;
use super::log;
use super::smtpd::{AuthBackend, Stream};

/// What every IMAP connection shares.
pub struct ImapShared {
    /// Users and mailbox paths.
    pub delivery: Arc<Delivery>,
    /// TLS identity.
    pub tls: Option<tokio_native_tls::TlsAcceptor>,
    /// How passwords are checked.
    pub auth: AuthBackend,
    /// `disable_plaintext_auth`: no LOGIN before TLS except from loopback.
    pub disable_plaintext_auth: bool,
    /// `data_directory/index`.
    pub index_dir: PathBuf,
    /// `virtual_mailbox_base`.
    pub virtual_base: PathBuf,
    /// Idle timeout: 30 minutes (RFC 3501 §5.4).
    pub timeout: Duration,
    /// Turns true at shutdown.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// Per-user session processes (privilege separation).
    pub sessions: Option<Arc<super::privsep::SessionSpawner>>,
    /// `message_size_limit`: the largest APPEND (0: the core's default cap).
    pub append_limit: u64,
}

/// Serves one IMAP connection; `implicit` for IMAPS (993).
pub async fn handle(
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    implicit: bool,
    shared: Arc<ImapShared>,
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
    params.version = env!("CARGO_PKG_VERSION").to_owned();
    if shared.append_limit > 0 {
        params.append_limit = shared.append_limit;
    }
    let mut session = Session::new(params);
    if conn.write_all(&session.greeting()).await.is_err() {
        return;
    }
    log::info("imap", &format!("connect from [{ip}]"));
    let mut buf = vec![0u8; 16 * 1024];
    let mut shutdown = shared.shutdown.clone();
    'conn: loop {
        let idle_tick = if session.is_idling() {
            Duration::from_secs(1)
        } else {
            shared.timeout
        };
        let mut out = match super::conn::read(&mut conn, &mut buf, idle_tick, &mut shutdown).await {
            Read::Data(n) => tokio::task::block_in_place(|| session.feed(&buf[..n])),
            Read::Closed => break,
            Read::Timeout if session.is_idling() => {
                tokio::task::block_in_place(|| session.poll_changes())
            }
            Read::Timeout => {
                let out = session.idle_timeout();
                let _ = conn.write_all(&out.write).await;
                break;
            }
            Read::Shutdown => {
                let out = session.shutting_down();
                let _ = conn.write_all(&out.write).await;
                break;
            }
        };
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
                    let ok = login(&shared.auth, "imap", ip, &user, &password).await;
                    out = session.auth_result(ok);
                }
                Some(Action::LoggedIn { user }) => {
                    if let Some(spawner) =
                        super::pop3d::per_user(&shared.delivery, &shared.sessions, &user)
                    {
                        let h = session.hand_over();
                        super::conn::relay_to_session(conn, spawner, "imap", &user, h, ip).await;
                        return;
                    }
                    let store = open_store(&shared, &user);
                    if store.is_ok() {
                        log::info("imap", &format!("[{ip}]: {user} logged in"));
                    }
                    out = tokio::task::block_in_place(|| session.store_opened(store));
                }
            }
        }
        if session.is_closed() {
            break;
        }
    }
    tokio::task::block_in_place(|| session.hangup());
    let _ = conn.shutdown().await;
    log::info("imap", &format!("disconnect from [{ip}]"));
}

/// The folders of `user`.
fn open_store(shared: &ImapShared, user: &str) -> Result<Box<dyn MailStore>, StoreError> {
    let u = match shared.delivery.router.users().lookup(user) {
        Ok(Some(u)) => u,
        _ => return Err(StoreError::Unavailable(format!("no mailbox for {user}"))),
    };
    let folders = match &u.kind {
        crate::mda::users::UserKind::System { home, .. } => {
            if shared.delivery.has_master() {
                return Err(StoreError::Unavailable(
                    "IMAP for system users of a privilege-separated server is not available yet"
                        .into(),
                ));
            }
            home.join("mail")
        }
        crate::mda::users::UserKind::Virtual => shared.virtual_base.join(&u.name),
    };
    let inbox = shared.delivery.inbox_of(&u);
    Ok(Box::new(UserStore::new(
        inbox,
        folders,
        shared.index_dir.join(&u.name),
    )?))
}

/// A user's folders as mbox files.
pub(crate) struct UserStore {
    inbox: PathBuf,
    folders: PathBuf,
    index: PathBuf,
}

/// RFC 6154 folders made at the first login.
const SPECIAL: [(&str, &str); 4] = [
    ("Sent", "\\Sent"),
    ("Drafts", "\\Drafts"),
    ("Trash", "\\Trash"),
    ("Junk", "\\Junk"),
];

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// A file-system error of CREATE or RENAME as the client should read it (no raw OS texts).
fn folder_error(e: std::io::Error) -> StoreError {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::AlreadyExists => StoreError::AlreadyExists,
        K::NotFound => StoreError::NonExistent,
        K::NotADirectory => {
            StoreError::Cannot("a folder on the path is not a folder of folders".into())
        }
        K::InvalidFilename => StoreError::Cannot("the name is too long".into()),
        K::PermissionDenied => StoreError::Cannot("permission denied".into()),
        _ => {
            log::warn("imap", &format!("folder operation failed: {e}"));
            StoreError::Unavailable("the folder could not be changed".into())
        }
    }
}

/// A failure making the folder directories above a new mailbox: an existing mailbox (an mbox
/// file) on the path cannot hold other mailboxes (`\NoInferiors`, RFC 3501 §7.2.2).
fn parent_error(e: std::io::Error) -> StoreError {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::AlreadyExists | K::NotADirectory => StoreError::Cannot(
            "a mailbox on the path holds messages and cannot hold other mailboxes".into(),
        ),
        _ => folder_error(e),
    }
}

fn view_error(e: ViewError) -> StoreError {
    match e {
        ViewError::Store(crate::store::mbox::StoreError::ReadOnly(_)) => StoreError::ReadOnly,
        other => {
            // The client hears the reason; the administrator should too.
            log::warn("imap", &format!("mailbox unavailable: {other}"));
            unavailable(other)
        }
    }
}

impl UserStore {
    /// The folders of a user: INBOX at `inbox`, the others under `folders`, indexes and
    /// subscriptions under `index`; makes the directories and special-use folders.
    pub(crate) fn new(
        inbox: PathBuf,
        folders: PathBuf,
        index: PathBuf,
    ) -> Result<UserStore, StoreError> {
        let s = UserStore {
            inbox,
            folders,
            index,
        };
        s.prepare()?;
        Ok(s)
    }

    /// Creates the folder and index directories and the special-use folders.
    fn prepare(&self) -> Result<(), StoreError> {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        for d in [&self.folders, &self.index] {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(d)
                .map_err(unavailable)?;
        }
        for (name, _) in SPECIAL {
            let p = self.folders.join(name);
            if !p.exists() {
                std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&p)
                    .map_err(unavailable)?;
            }
        }
        Ok(())
    }

    /// The mbox of folder `name` (INBOX case-insensitive); names are checked so that no
    /// path leaves the folder directory.
    fn path(&self, name: &str) -> Result<PathBuf, StoreError> {
        if name.eq_ignore_ascii_case("INBOX") {
            return Ok(self.inbox.clone());
        }
        let bad = name.is_empty()
            || name.starts_with('/')
            || name
                .split('/')
                .any(|c| c.is_empty() || c == "." || c == ".." || c.starts_with('.'))
            || name.chars().any(|c| c.is_control());
        if bad {
            return Err(StoreError::Cannot(format!("invalid mailbox name {name:?}")));
        }
        Ok(self.folders.join(name))
    }

    /// The side index of folder `name`.
    fn index_of(&self, name: &str) -> PathBuf {
        if name.eq_ignore_ascii_case("INBOX") {
            return self.index.join("INBOX");
        }
        self.index.join(format!("f.{}", name.replace('/', "%2F")))
    }

    fn collect(&self, dir: &Path, prefix: &str, out: &mut Vec<MailboxInfo>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        let mut names: Vec<_> = rd.flatten().collect();
        names.sort_by_key(|e| e.file_name());
        for e in names {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with('.') {
                continue;
            }
            let full = format!("{prefix}{n}");
            match e.file_type() {
                Ok(t) if t.is_file() => out.push(MailboxInfo {
                    special_use: SPECIAL
                        .iter()
                        .find(|(s, _)| *s == full)
                        .map(|(_, u)| (*u).to_owned()),
                    name: full,
                }),
                // A Maildir (the INBOX of `home_mailbox = Maildir/`) is not a folder tree.
                Ok(t) if t.is_dir() && e.path().join("cur").is_dir() => {}
                Ok(t) if t.is_dir() && prefix.matches('/').count() < 16 => {
                    self.collect(&e.path(), &format!("{full}/"), out)
                }
                _ => {}
            }
        }
    }
}

impl MailStore for UserStore {
    fn list(&mut self) -> Result<Vec<MailboxInfo>, StoreError> {
        let mut out = vec![MailboxInfo {
            name: "INBOX".into(),
            special_use: None,
        }];
        self.collect(&self.folders.clone(), "", &mut out);
        Ok(out)
    }

    fn create(&mut self, name: &str) -> Result<(), StoreError> {
        use std::os::unix::fs::OpenOptionsExt;
        let name = name.trim_end_matches('/');
        let p = self.path(name)?;
        if name.eq_ignore_ascii_case("INBOX") || p.exists() {
            return Err(StoreError::AlreadyExists);
        }
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(parent_error)?;
        }
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&p)
            .map(drop)
            .map_err(folder_error)
    }

    fn delete(&mut self, name: &str) -> Result<(), StoreError> {
        if name.eq_ignore_ascii_case("INBOX") {
            return Err(StoreError::Cannot("INBOX cannot be deleted".into()));
        }
        let p = self.path(name)?;
        if !p.is_file() {
            return Err(StoreError::NonExistent);
        }
        std::fs::remove_file(&p).map_err(unavailable)?;
        let _ = std::fs::remove_file(self.index_of(name));
        Ok(())
    }

    fn rename(&mut self, from: &str, to: &str) -> Result<(), StoreError> {
        if from.eq_ignore_ascii_case("INBOX") {
            return Err(StoreError::Cannot("renaming INBOX is not supported".into()));
        }
        let (a, b) = (self.path(from)?, self.path(to)?);
        if !a.is_file() {
            return Err(StoreError::NonExistent);
        }
        if b.exists() || to.eq_ignore_ascii_case("INBOX") {
            return Err(StoreError::AlreadyExists);
        }
        if let Some(parent) = b.parent() {
            std::fs::create_dir_all(parent).map_err(parent_error)?;
        }
        std::fs::rename(&a, &b).map_err(folder_error)?;
        let _ = std::fs::rename(self.index_of(from), self.index_of(to));
        Ok(())
    }

    fn subscribe(&mut self, name: &str, subscribed: bool) -> Result<(), StoreError> {
        let mut subs = self.subscriptions()?;
        subs.retain(|s| s != name);
        if subscribed {
            subs.push(name.to_owned());
        }
        let mut text = subs.join("\n");
        text.push('\n');
        let p = self.index.join("subscriptions");
        let tmp = self.index.join(".subscriptions.tmp");
        std::fs::write(&tmp, text).map_err(unavailable)?;
        std::fs::rename(tmp, p).map_err(unavailable)
    }

    fn subscriptions(&mut self) -> Result<Vec<String>, StoreError> {
        match std::fs::read_to_string(self.index.join("subscriptions")) {
            Ok(t) => Ok(t
                .lines()
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(unavailable(e)),
        }
    }

    fn open(&mut self, name: &str, read_only: bool) -> Result<Box<dyn Folder>, StoreError> {
        let p = self.path(name)?;
        if !name.eq_ignore_ascii_case("INBOX") && !p.is_file() {
            return Err(StoreError::NonExistent);
        }
        let mut v = View::open(&p, &self.index_of(name), read_only).map_err(view_error)?;
        if !read_only {
            v.clear_recent();
        }
        Ok(Box::new(ViewFolder(v, self.index_of(name))))
    }

    fn status(&mut self, name: &str) -> Result<StatusInfo, StoreError> {
        let p = self.path(name)?;
        if !name.eq_ignore_ascii_case("INBOX") && !p.is_file() {
            return Err(StoreError::NonExistent);
        }
        let v = View::open(&p, &self.index_of(name), true).map_err(view_error)?;
        let mut s = StatusInfo {
            messages: v.len() as u32,
            uidnext: v.uidnext(),
            uidvalidity: v.uidvalidity(),
            ..StatusInfo::default()
        };
        for i in 0..v.len() {
            let info = v.info(i);
            if info.recent {
                s.recent += 1;
            }
            if !info.flags.seen {
                s.unseen += 1;
            }
        }
        Ok(s)
    }

    fn append(
        &mut self,
        name: &str,
        message: &[u8],
        flags: Flags,
        keywords: &[String],
        internal_date: Option<DateTime<FixedOffset>>,
    ) -> Result<(u32, Option<u32>), StoreError> {
        let p = self.path(name)?;
        if !name.eq_ignore_ascii_case("INBOX") && !p.is_file() {
            return Err(StoreError::NonExistent);
        }
        // Every mbox reader must split the file the same way: no empty message, and the
        // message starts with a header field (as Dovecot refuses empty APPENDs).
        let first = message.split(|&b| b == b'\n').next().unwrap_or(b"");
        let header_like = first
            .iter()
            .position(|&b| b == b':')
            .is_some_and(|c| c > 0 && first[..c].iter().all(|b| b.is_ascii_graphic()));
        if message.is_empty() || !header_like {
            return Err(StoreError::Cannot(
                "the message must start with a header field".into(),
            ));
        }
        View::append(
            &p,
            &self.index_of(name),
            message,
            to_store_flags(flags),
            keywords.to_vec(),
            internal_date.map(|d| d.timestamp()),
        )
        .map_err(view_error)
    }
}

fn to_store_flags(f: Flags) -> crate::store::flags::Flags {
    crate::store::flags::Flags {
        seen: f.seen,
        answered: f.answered,
        flagged: f.flagged,
        deleted: f.deleted,
        draft: f.draft,
    }
}

fn changes(c: view::Changes) -> Changes {
    Changes {
        uidvalidity_changed: c.uidvalidity_changed,
        expunged: c.expunged,
        arrived: c.arrived,
        flags_changed: c.flags_changed,
    }
}

/// A selected folder (the view and its index path).
struct ViewFolder(View, PathBuf);

impl Folder for ViewFolder {
    fn uidvalidity(&self) -> u32 {
        self.0.uidvalidity()
    }

    fn uidnext(&self) -> u32 {
        self.0.uidnext()
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn info(&self, i: usize) -> MessageInfo {
        let m = self.0.info(i);
        let date = chrono::Local
            .timestamp_opt(m.internal_date, 0)
            .single()
            .map(|d| d.fixed_offset())
            .unwrap_or_else(|| chrono::DateTime::<chrono::Utc>::UNIX_EPOCH.fixed_offset());
        MessageInfo {
            uid: m.uid,
            size: m.size_crlf,
            flags: Flags {
                seen: m.flags.seen,
                answered: m.flags.answered,
                flagged: m.flags.flagged,
                deleted: m.flags.deleted,
                draft: m.flags.draft,
                recent: m.recent,
            },
            keywords: m.keywords.clone(),
            internal_date: date,
        }
    }

    fn message(&self, i: usize) -> std::io::Result<Vec<u8>> {
        self.0.message(i, &self.1)
    }

    fn set_flags(&mut self, i: usize, flags: Flags, keywords: Vec<String>) {
        self.0.set_flags(i, to_store_flags(flags), keywords);
    }

    fn refresh(&mut self) -> Result<Changes, StoreError> {
        self.0.refresh().map(changes).map_err(view_error)
    }

    fn sync(&mut self, expunge: &[usize]) -> Result<Changes, StoreError> {
        self.0.sync(expunge).map(changes).map_err(view_error)
    }

    fn is_read_only(&self) -> bool {
        self.0.is_read_only()
    }
}
