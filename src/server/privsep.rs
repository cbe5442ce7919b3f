//! Privilege separation, Postfix's model in one binary (STYLE.md §7).
//!
//! Started as root, `rmail serve` binds its ports, then forks:
//! - the **child** drops to `mail_owner` (groups, gid, uid — in that order, and checks that
//!   root cannot be regained) and runs everything that parses network input: the SMTP
//!   sessions, the queue, the relay client;
//! - the **master** keeps root for one job: local delivery into system users' mailboxes,
//!   which it hands to a per-user worker process (`rmail deliver --batch USER`) started with
//!   the recipient's uid and gid. A mailbox is never written as root unless its user is root.
//!
//! The master also checks system users' passwords (the shadow database needs root) for the
//! child's SMTP AUTH.
//!
//! The two talk over a Unix socketpair with a tiny framed protocol:
//! - request  `<id> deliver <user> <length>\n` followed by `length` octets (a complete mbox
//!   entry: `From_` line, headers, quoted body, final blank line), or
//!   `<id> auth - <length>\n` followed by `login NUL password`;
//! - response `<id> ok[ <user>]\n`, `<id> temp <text>\n`, `<id> perm <text>\n` (for auth:
//!   `perm` = wrong credentials).
//!
//! The master never trusts the child with a path: it computes the mailbox from the user name
//! and its own configuration, and refuses names that are not system users.
//!
//! Not started as root, none of this happens: one process does everything as the invoking
//! user.

use std::collections::HashMap;
use std::ffi::CString;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, oneshot, Mutex};

/// How one local delivery ended (sysexits-like classes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// In the mailbox and fsync'ed.
    Delivered,
    /// Try again later (lock busy, disk full, worker died): `4xx` / stays queued.
    Temporary(String),
    /// Will never work (mailbox size limit, unsafe mailbox): `5xx` / bounce.
    Permanent(String),
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Raises `RLIMIT_NOFILE` to its hard limit (1,000 idle SMTP connections need more than the
/// usual 1,024 descriptors); returns the new soft limit.
pub fn raise_nofile() -> u64 {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a live struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
            return 0;
        }
        let want = libc::rlimit {
            rlim_cur: r.rlim_max,
            rlim_max: r.rlim_max,
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
            return want.rlim_cur;
        }
    }
    r.rlim_cur
}

/// The uid, gid and home of the system account `name`.
pub fn account(name: &str) -> Option<(u32, u32, PathBuf)> {
    let c = CString::new(name).ok()?;
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0u8; 16 * 1024];
    let mut out: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: getpwnam_r fills `pw` with pointers into `buf`, both alive while we read them.
    let rc = unsafe {
        libc::getpwnam_r(
            c.as_ptr(),
            &mut pw,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut out,
        )
    };
    if rc != 0 || out.is_null() {
        return None;
    }
    // SAFETY: pw_dir points into `buf` (NUL-terminated) when getpwnam_r succeeded.
    let home = unsafe { std::ffi::CStr::from_ptr(pw.pw_dir) }
        .to_string_lossy()
        .into_owned();
    Some((pw.pw_uid, pw.pw_gid, PathBuf::from(home)))
}

/// Drops root for good: supplementary groups → `[gid]`, then gid, then uid; fails when root
/// could be regained afterwards.
pub fn drop_privileges(uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: plain libc calls on integers; order matters (groups and gid need root).
    unsafe {
        let groups = [gid as libc::gid_t];
        if libc::setgroups(1, groups.as_ptr()) != 0 {
            return Err(io::Error::last_os_error());
        }
        if libc::setresgid(gid, gid, gid) != 0 {
            return Err(io::Error::last_os_error());
        }
        if libc::setresuid(uid, uid, uid) != 0 {
            return Err(io::Error::last_os_error());
        }
        if uid != 0 && libc::setuid(0) == 0 {
            return Err(io::Error::other("root could be regained after dropping it"));
        }
    }
    Ok(())
}

type Job = (Vec<u8>, oneshot::Sender<Outcome>);

/// Requests sent to the master and waiting for their answer, by request ID.
type Pending = HashMap<u64, oneshot::Sender<(Outcome, String)>>;

/// A request to the master: (kind, argument, payload, where the answer goes).
type Request = (
    &'static str,
    String,
    Vec<u8>,
    oneshot::Sender<(Outcome, String)>,
);

/// The child's handle on the master: asks it to deliver into system users' mailboxes and to
/// check system passwords.
#[derive(Clone)]
pub struct MasterLink {
    tx: mpsc::Sender<Request>,
}

impl MasterLink {
    /// Starts the link's reader and writer tasks on `stream` (must be called inside a tokio
    /// runtime).
    pub fn start(stream: std::os::unix::net::UnixStream) -> io::Result<MasterLink> {
        stream.set_nonblocking(true)?;
        let stream = tokio::net::UnixStream::from_std(stream)?;
        let (rd, mut wr) = stream.into_split();
        let pending: Arc<Mutex<Pending>> = Arc::default();
        let (tx, mut rx) = mpsc::channel::<Request>(1024);
        let p2 = pending.clone();
        tokio::spawn(async move {
            let mut next = 0u64;
            while let Some((kind, arg, entry, reply)) = rx.recv().await {
                next += 1;
                p2.lock().await.insert(next, reply);
                let head = format!("{next} {kind} {arg} {}\n", entry.len());
                if wr.write_all(head.as_bytes()).await.is_err()
                    || wr.write_all(&entry).await.is_err()
                {
                    break;
                }
            }
        });
        tokio::spawn(async move {
            let mut lines = BufReader::new(rd).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let mut it = line.splitn(3, ' ');
                let id: u64 = it.next().and_then(|i| i.parse().ok()).unwrap_or(0);
                let (outcome, extra) = match (it.next(), it.next()) {
                    (Some("ok"), t) => (Outcome::Delivered, t.unwrap_or("").to_owned()),
                    (Some("perm"), t) => (
                        Outcome::Permanent(t.unwrap_or("").to_owned()),
                        String::new(),
                    ),
                    (_, t) => (
                        Outcome::Temporary(t.unwrap_or("").to_owned()),
                        String::new(),
                    ),
                };
                if let Some(s) = pending.lock().await.remove(&id) {
                    let _ = s.send((outcome, extra));
                }
            }
            // The master is gone: everything still waiting fails temporarily.
            for (_, s) in pending.lock().await.drain() {
                let _ = s.send((
                    Outcome::Temporary("the delivery master exited".into()),
                    String::new(),
                ));
            }
        });
        Ok(MasterLink { tx })
    }

    /// Delivers `entry` (a complete mbox entry) into system user `user`'s mailbox through
    /// the master.
    pub async fn deliver(&self, user: &str, entry: Vec<u8>) -> Outcome {
        self.ask("deliver", user, entry).await.0
    }

    /// Checks a system user's password (the master reads the shadow database): the user
    /// name on success, `None` for wrong credentials or trouble.
    pub async fn authenticate(&self, login: &str, password: &str) -> Option<String> {
        let mut payload = login.as_bytes().to_vec();
        payload.push(0);
        payload.extend_from_slice(password.as_bytes());
        match self.ask("auth", "-", payload).await {
            (Outcome::Delivered, user) if !user.is_empty() => Some(user),
            _ => None,
        }
    }

    async fn ask(&self, kind: &'static str, arg: &str, payload: Vec<u8>) -> (Outcome, String) {
        let (tx, rx) = oneshot::channel();
        let gone = || {
            (
                Outcome::Temporary("the master process is gone".into()),
                String::new(),
            )
        };
        if self
            .tx
            .send((kind, arg.to_owned(), payload, tx))
            .await
            .is_err()
        {
            return gone();
        }
        rx.await.unwrap_or_else(|_| gone())
    }
}

/// What the master needs to deliver.
#[derive(Debug, Clone)]
pub struct MasterConfig {
    /// This program, to start `deliver --batch` workers.
    pub exe: PathBuf,
    /// `mail_spool_directory`.
    pub spool_dir: PathBuf,
    /// `home_mailbox` (relative to the user's home; empty: the spool mbox; ending in `/`:
    /// Maildir).
    pub home_mailbox: String,
    /// `mailbox_size_limit` in bytes (0: none).
    pub size_limit: u64,
    /// The user base, for password checks.
    pub users: crate::mda::users::UserBase,
    /// `mydestination`, to strip `@domain` from logins.
    pub local_domains: Vec<String>,
    /// The configuration file, passed to per-user session processes.
    pub config_file: Option<PathBuf>,
}

impl MasterConfig {
    /// The mailbox of a system user, from the master's own configuration only.
    pub fn mailbox(&self, user: &str, home: &std::path::Path) -> PathBuf {
        if self.home_mailbox.is_empty() {
            self.spool_dir.join(user)
        } else {
            let mut p = home.join(self.home_mailbox.trim_end_matches('/'));
            if self.home_mailbox.ends_with('/') {
                // Keep the trailing slash: it tells the worker to write a Maildir.
                let mut s = p.into_os_string();
                s.push("/");
                p = PathBuf::from(s);
            }
            p
        }
    }
}

/// Valid as a user name in the link protocol and on a worker's command line.
fn plausible_user(u: &str) -> bool {
    !u.is_empty()
        && u.len() <= 64
        && !u.starts_with(['-', '.'])
        && u.bytes().all(|b| b.is_ascii_graphic() && b != b'/')
}

/// The master's loop: reads delivery requests from the child until it closes the link,
/// running one worker per recipient user. Blocks; call in the parent after the fork.
pub fn run_master(link: std::os::unix::net::UnixStream, cfg: MasterConfig) -> io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(master_loop(link, cfg))
}

async fn master_loop(link: std::os::unix::net::UnixStream, cfg: MasterConfig) -> io::Result<()> {
    link.set_nonblocking(true)?;
    let link = tokio::net::UnixStream::from_std(link)?;
    let (rd, wr) = link.into_split();
    let wr = Arc::new(Mutex::new(wr));
    let mut rd = BufReader::new(rd);
    let cfg = Arc::new(cfg);
    let mut workers: HashMap<String, mpsc::Sender<Job>> = HashMap::new();
    let mut head = String::new();
    loop {
        head.clear();
        if rd.read_line(&mut head).await? == 0 {
            return Ok(());
        }
        let mut it = head.trim_end().splitn(4, ' ');
        let (Some(id), Some(kind), Some(user), Some(len)) =
            (it.next(), it.next(), it.next(), it.next())
        else {
            return Err(io::Error::other("garbled request from the server process"));
        };
        let (id, kind, user) = (id.to_owned(), kind.to_owned(), user.to_owned());
        let len: usize = len
            .parse()
            .map_err(|_| io::Error::other("garbled request length"))?;
        if len > 1 << 31 {
            return Err(io::Error::other("request too large"));
        }
        let mut entry = vec![0u8; len];
        rd.read_exact(&mut entry).await?;
        if kind == "auth" {
            let (wr2, cfg2) = (wr.clone(), cfg.clone());
            tokio::spawn(async move {
                let line = match check_password(&cfg2, &entry).await {
                    Some(u) => format!("{id} ok {u}\n"),
                    None => format!("{id} perm authentication failed\n"),
                };
                let _ = wr2.lock().await.write_all(line.as_bytes()).await;
            });
            continue;
        }
        let (tx, rx) = oneshot::channel();
        let wr2 = wr.clone();
        tokio::spawn(async move {
            let outcome = rx
                .await
                .unwrap_or_else(|_| Outcome::Temporary("delivery worker lost".into()));
            let line = match outcome {
                Outcome::Delivered => format!("{id} ok\n"),
                Outcome::Temporary(t) => format!("{id} temp {}\n", one_line(&t)),
                Outcome::Permanent(t) => format!("{id} perm {}\n", one_line(&t)),
            };
            let _ = wr2.lock().await.write_all(line.as_bytes()).await;
        });
        if !plausible_user(&user) {
            let _ = tx.send(Outcome::Permanent(format!("bad user name {user:?}")));
            continue;
        }
        let job = (entry, tx);
        let job = match workers.get(&user) {
            Some(w) => match w.send(job).await {
                Ok(()) => continue,
                Err(mpsc::error::SendError(job)) => job,
            },
            None => job,
        };
        // A new (or finished) worker for this user.
        let (wtx, wrx) = mpsc::channel::<Job>(4096);
        let _ = wtx.send(job).await;
        workers.insert(user.clone(), wtx);
        tokio::spawn(user_worker(cfg.clone(), user, wrx));
    }
}

/// Checks `login NUL password` against the user base on a blocking thread.
async fn check_password(cfg: &Arc<MasterConfig>, payload: &[u8]) -> Option<String> {
    let i = payload.iter().position(|&b| b == 0)?;
    let login = String::from_utf8(payload[..i].to_vec()).ok()?;
    let password = String::from_utf8(payload[i + 1..].to_vec()).ok()?;
    let cfg = cfg.clone();
    tokio::task::spawn_blocking(move || {
        let name = crate::mda::users::login_name(&login, &cfg.local_domains)?;
        match cfg.users.verify(name, &password) {
            Ok(Some(u)) => Some(u.name),
            _ => None,
        }
    })
    .await
    .ok()
    .flatten()
}

fn one_line(t: &str) -> String {
    t.replace(['\r', '\n'], " ")
}

/// Delivers the jobs for one user through a `rmail deliver --batch` process running as that
/// user; exits after 10 s without work (closing the worker's input ends it).
async fn user_worker(cfg: Arc<MasterConfig>, user: String, mut rx: mpsc::Receiver<Job>) {
    let Some((uid, gid, home)) = account(&user) else {
        while let Ok(Some((_, tx))) =
            tokio::time::timeout(std::time::Duration::from_millis(10), rx.recv()).await
        {
            let _ = tx.send(Outcome::Permanent(format!("no such user {user}")));
        }
        return;
    };
    let mailbox = cfg.mailbox(&user, &home);
    // As Postfix local(8): root creates a missing mailbox (a spool like Debian's
    // root:mail 2775 /var/mail lets users write their file but not create it), 0600 and the
    // user's; an existing one must be the user's own regular file with one link.
    if !mailbox.as_os_str().to_string_lossy().ends_with('/') {
        if let Err(why) = prepare_mailbox(&mailbox, uid, gid) {
            while let Ok(Some((_, tx))) =
                tokio::time::timeout(std::time::Duration::from_millis(10), rx.recv()).await
            {
                let _ = tx.send(Outcome::Temporary(why.clone()));
            }
            return;
        }
    }
    let mut cmd = tokio::process::Command::new(&cfg.exe);
    cmd.arg("deliver")
        .arg("--batch")
        .arg("--mailbox")
        .arg(&mailbox)
        .arg("--size-limit")
        .arg(cfg.size_limit.to_string())
        .arg("--")
        .arg(&user)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", &home)
        .env("USER", &user)
        .env("LOGNAME", &user)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true);
    if uid != 0 {
        cmd.uid(uid).gid(gid);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let msg = format!("cannot start the delivery agent for {user}: {e}");
            while let Ok(Some((_, tx))) =
                tokio::time::timeout(std::time::Duration::from_millis(10), rx.recv()).await
            {
                let _ = tx.send(Outcome::Temporary(msg.clone()));
            }
            return;
        }
    };
    let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return;
    };
    let mut acks = BufReader::new(stdout).lines();
    loop {
        let first = match tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv()).await
        {
            Ok(Some(j)) => j,
            _ => break,
        };
        // Group commit: everything already waiting goes into one batch.
        let mut batch = vec![first];
        while batch.len() < 512 {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let mut frames = Vec::new();
        for (entry, _) in &batch {
            frames.extend_from_slice(crate::mda::batch::encode_frame(entry).as_slice());
        }
        let wrote = stdin.write_all(&frames).await.is_ok() && stdin.flush().await.is_ok();
        let mut failed = !wrote;
        for (_, tx) in batch {
            let outcome = if failed {
                Outcome::Temporary("the delivery agent failed".into())
            } else {
                match acks.next_line().await {
                    Ok(Some(line)) => parse_ack(&line),
                    _ => {
                        failed = true;
                        Outcome::Temporary("the delivery agent exited".into())
                    }
                }
            };
            let _ = tx.send(outcome);
        }
        if failed {
            break;
        }
    }
    drop(stdin);
    let _ = child.wait().await;
    // Whatever arrived meanwhile fails temporarily (the queue retries it).
    rx.close();
    while let Some((_, tx)) = rx.recv().await {
        let _ = tx.send(Outcome::Temporary("the delivery agent restarted".into()));
    }
}

/// Creates `path` 0600 owned by `uid:gid` when missing; refuses a link, a non-regular file,
/// a hard-linked file or another user's file (the message stays queued).
pub fn prepare_mailbox(path: &std::path::Path, uid: u32, gid: u32) -> Result<(), String> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    match std::fs::symlink_metadata(path) {
        Ok(m) => {
            if m.file_type().is_symlink() || !m.is_file() {
                return Err(format!("{}: not a regular file", path.display()));
            }
            if m.uid() != uid {
                return Err(format!("{}: owned by another user", path.display()));
            }
            if m.nlink() > 1 {
                return Err(format!("{}: has more than one hard link", path.display()));
            }
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(path)
                .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
            std::os::unix::fs::fchown(&f, Some(uid), Some(gid))
                .map_err(|e| format!("cannot give {} to its user: {e}", path.display()))
        }
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// An ack line of the batch worker: `ok`, `temp TEXT`, `perm TEXT`.
pub fn parse_ack(line: &str) -> Outcome {
    let (kind, text) = line.split_once(' ').unwrap_or((line, ""));
    match kind {
        "ok" => Outcome::Delivered,
        "perm" => Outcome::Permanent(text.to_owned()),
        _ => Outcome::Temporary(if text.is_empty() { line } else { text }.to_owned()),
    }
}

/// The channel over which the network-facing process asks the master for a per-user POP3
/// or IMAP session process and receives its socket (SCM_RIGHTS): request `PROTO USER\n`,
/// answer one byte `O` with the descriptor, or `E` and an error line.
pub struct SessionSpawner {
    sock: std::sync::Mutex<std::os::unix::net::UnixStream>,
}

impl SessionSpawner {
    /// The child's end of the channel.
    pub fn new(sock: std::os::unix::net::UnixStream) -> SessionSpawner {
        SessionSpawner {
            sock: std::sync::Mutex::new(sock),
        }
    }

    /// Asks for a `proto` (`pop3`/`imap`) session running as `user`; the socket to it.
    /// Blocking (call on a blocking thread).
    pub fn request(&self, proto: &str, user: &str) -> io::Result<std::os::unix::net::UnixStream> {
        use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
        use std::io::Write;
        if !plausible_user(user) || !matches!(proto, "pop3" | "imap") {
            return Err(io::Error::other("bad session request"));
        }
        let mut sock = self.sock.lock().unwrap_or_else(|e| e.into_inner());
        sock.write_all(format!("{proto} {user}\n").as_bytes())?;
        let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let mut byte = [0u8; 256];
        let got = rustix::net::recvmsg(
            &*sock,
            &mut [io::IoSliceMut::new(&mut byte)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        )?;
        let mut fd = None;
        for msg in control.drain() {
            if let RecvAncillaryMessage::ScmRights(mut fds) = msg {
                fd = fds.next();
            }
        }
        match (byte.first(), fd) {
            (Some(b'O'), Some(fd)) if got.bytes > 0 => Ok(std::os::unix::net::UnixStream::from(fd)),
            _ => Err(io::Error::other(
                String::from_utf8_lossy(&byte[1..got.bytes.max(1)])
                    .trim()
                    .to_owned(),
            )),
        }
    }
}

/// The master's side: answers session requests until the channel closes. Runs on a
/// thread of its own.
pub fn serve_sessions(sock: std::os::unix::net::UnixStream, cfg: MasterConfig) {
    use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
    use std::io::BufRead;
    use std::os::fd::AsFd;
    let Ok(reader) = sock.try_clone() else { return };
    for line in std::io::BufReader::new(reader).lines() {
        let Ok(line) = line else { return };
        let (proto, user) = line.split_once(' ').unwrap_or(("", ""));
        let reply = spawn_session(&cfg, proto, user);
        let sent = match &reply {
            Ok(theirs) => {
                let fds = [theirs.as_fd()];
                let mut space =
                    [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
                let mut control = SendAncillaryBuffer::new(&mut space);
                control.push(SendAncillaryMessage::ScmRights(&fds));
                rustix::net::sendmsg(
                    &sock,
                    &[io::IoSlice::new(b"O")],
                    &mut control,
                    SendFlags::empty(),
                )
                .map(drop)
            }
            Err(e) => {
                let text = format!("E{}\n", one_line(&e.to_string()));
                rustix::net::sendmsg(
                    &sock,
                    &[io::IoSlice::new(text.as_bytes())],
                    &mut SendAncillaryBuffer::default(),
                    SendFlags::empty(),
                )
                .map(drop)
            }
        };
        if sent.is_err() {
            return;
        }
    }
}

/// Starts `rmail serve-session --proto PROTO` as system user `user` on one end of a new
/// socket pair; returns the other end.
fn spawn_session(
    cfg: &MasterConfig,
    proto: &str,
    user: &str,
) -> io::Result<std::os::unix::net::UnixStream> {
    if !plausible_user(user) || !matches!(proto, "pop3" | "imap") {
        return Err(io::Error::other("bad session request"));
    }
    let (uid, gid, home) =
        account(user).ok_or_else(|| io::Error::other(format!("no such user {user}")))?;
    if uid == 0 {
        return Err(io::Error::other("no POP3/IMAP sessions as root"));
    }
    let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
    let mut cmd = std::process::Command::new(&cfg.exe);
    use std::os::unix::process::CommandExt;
    cmd.arg("serve-session")
        .arg("--proto")
        .arg(proto)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", &home)
        .env("USER", user)
        .env("LOGNAME", user)
        .stdin(std::process::Stdio::from(std::os::fd::OwnedFd::from(
            theirs,
        )))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .uid(uid)
        .gid(gid);
    if let Some(c) = &cfg.config_file {
        cmd.arg("-c").arg(c);
    }
    let mut child = cmd.spawn()?;
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(ours)
}
