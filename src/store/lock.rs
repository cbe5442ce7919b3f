//! Mailbox locking compatible with Postfix local(8), s-nail and bsd-mailx: an `fcntl` write
//! lock on the mailbox plus the dotlock `<mailbox>.lock`.
//!
//! Protocol (the one Debian's MTAs and MUAs agree on; Postfix `mailbox_delivery_lock =
//! fcntl, dotlock`):
//!
//! 1. Dotlock: a uniquely named file is created in the mailbox's directory with our PID in
//!    it (`"<pid>\n"`, as liblockfile writes it) and hard-linked to `<mailbox>.lock`; `link(2)`
//!    is atomic even over NFS, and success is confirmed by the link count of the unique file.
//!    An existing dotlock is stale, and removed, when the PID in it is dead on this host or
//!    when it is older than [`STALE_AFTER`] (Postfix and liblockfile use similar ages).
//!    A dotlock naming a dead PID is removed at once, however new it is: its writer died
//!    (kill -9, power loss, a crash) and nobody else will remove it; waiting [`STALE_AFTER`]
//!    would only block mail for five minutes. This is right for a spool written from this
//!    host only. On a spool shared over NFS a PID from another host may look dead here; its
//!    dotlock would then be broken early (liblockfile checks the PID the same way).
//! 2. `fcntl(F_SETLK)` on the whole file: a write lock when the descriptor is open for
//!    writing, else a read lock (a write lock needs a writable descriptor). These are POSIX
//!    record locks, the kind Postfix takes, not Linux OFD locks.
//!
//! Both are retried every 100 ms until the timeout ([`DEFAULT_TIMEOUT`]), then
//! [`StoreError::Locked`]. When the directory does not let us create the dotlock (EACCES,
//! EPERM, EROFS: Debian's `/var/mail` is `root:mail 2775` and a user outside group `mail`
//! cannot create files there) the fcntl lock alone is used and one warning per process is
//! printed to stderr; locking is never skipped silently.
//!
//! Invariant: a [`MailboxLock`] holds a duplicate of the locked descriptor, so the POSIX lock
//! lives exactly as long as the value; dropping it unlocks and removes the dotlock if it is
//! still ours (same inode).

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use super::mbox::StoreError;

/// How long [`MailboxLock::acquire`] keeps retrying before it reports `Locked`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// A dotlock older than this is considered stale and removed, whatever PID it names.
pub const STALE_AFTER: Duration = Duration::from_secs(300);

const RETRY: Duration = Duration::from_millis(100);

static WARNED: AtomicBool = AtomicBool::new(false);
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A held mailbox lock; dropping it releases the dotlock and the `fcntl` lock.
#[derive(Debug)]
pub struct MailboxLock {
    /// Duplicate of the locked descriptor (POSIX locks belong to the process and file).
    file: File,
    /// The dotlock we created, with its device and inode, when we hold one.
    dotlock: Option<(PathBuf, u64, u64)>,
}

impl MailboxLock {
    /// Locks `file` (open on `path`) for exclusive access: dotlock `<path>.lock`, then an
    /// `fcntl` lock on `file`, retried for [`DEFAULT_TIMEOUT`].
    ///
    /// Errors: `StoreError::Locked` after the retry time runs out; `StoreError::Io` when a
    /// lock cannot be taken for another reason (e.g. `ENOLCK`).
    pub fn acquire(file: &File, path: &Path) -> Result<MailboxLock, StoreError> {
        Self::acquire_timeout(file, path, DEFAULT_TIMEOUT)
    }

    /// [`MailboxLock::acquire`] with an explicit retry time (zero: one attempt).
    pub fn acquire_timeout(
        file: &File,
        path: &Path,
        timeout: Duration,
    ) -> Result<MailboxLock, StoreError> {
        let deadline = Instant::now() + timeout;
        let io_err = |e: io::Error| StoreError::Io {
            path: path.to_owned(),
            source: e,
        };
        let dup = file.try_clone().map_err(io_err)?;
        let dotlock = dotlock(path, deadline)?;
        let mut lock = MailboxLock { file: dup, dotlock };
        let write = file_is_writable(&lock.file);
        loop {
            match fcntl_setlk(
                &lock.file,
                if write { libc::F_WRLCK } else { libc::F_RDLCK },
            ) {
                Ok(()) => return Ok(lock),
                Err(e) if is_busy(&e) => {
                    if Instant::now() >= deadline {
                        lock.release_dotlock();
                        return Err(StoreError::Locked(path.to_owned()));
                    }
                    std::thread::sleep(RETRY);
                }
                Err(e) => {
                    lock.release_dotlock();
                    return Err(io_err(e));
                }
            }
        }
    }

    /// Whether a dotlock is held (false when the directory did not allow one).
    pub fn has_dotlock(&self) -> bool {
        self.dotlock.is_some()
    }

    fn release_dotlock(&mut self) {
        if let Some((p, dev, ino)) = self.dotlock.take() {
            if let Ok(m) = fs::symlink_metadata(&p) {
                if m.dev() == dev && m.ino() == ino {
                    let _ = fs::remove_file(&p);
                }
            }
        }
    }
}

impl Drop for MailboxLock {
    fn drop(&mut self) {
        let _ = fcntl_setlk(&self.file, libc::F_UNLCK);
        self.release_dotlock();
    }
}

fn is_busy(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EAGAIN) | Some(libc::EACCES))
}

fn file_is_writable(f: &File) -> bool {
    // SAFETY: F_GETFL on a descriptor we own; no memory is passed.
    let fl = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GETFL) };
    fl >= 0 && (fl & libc::O_ACCMODE) != libc::O_RDONLY
}

/// `fcntl(F_SETLK)` over the whole file; EINTR retried.
fn fcntl_setlk(f: &File, kind: libc::c_int) -> io::Result<()> {
    // SAFETY: flock is plain old data; zeroed is a valid value.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = kind as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl.l_start = 0;
    fl.l_len = 0;
    loop {
        // SAFETY: valid descriptor and a pointer to a live flock struct.
        let r = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_SETLK, &fl as *const libc::flock) };
        if r == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// The dotlock path of a mailbox: `<mailbox>.lock`.
pub fn dotlock_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".lock");
    PathBuf::from(s)
}

/// Takes the dotlock; `Ok(None)` when the directory does not allow it (warned once).
fn dotlock(path: &Path, deadline: Instant) -> Result<Option<(PathBuf, u64, u64)>, StoreError> {
    let lock = dotlock_path(path);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let pid = std::process::id();
    let tmp = dir.join(format!(
        ".{name}.rmail-lk.{pid}.{}",
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let io_err = |e: io::Error| StoreError::Io {
        path: lock.clone(),
        source: e,
    };
    let created = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(&tmp)
        .and_then(|mut f| f.write_all(format!("{pid}\n").as_bytes()));
    if let Err(e) = created {
        let _ = fs::remove_file(&tmp);
        return match e.raw_os_error() {
            Some(libc::EACCES) | Some(libc::EPERM) | Some(libc::EROFS) => {
                if !WARNED.swap(true, Ordering::Relaxed) {
                    eprintln!(
                        "rmail: warning: cannot create {} ({e}); locking {} with fcntl only",
                        lock.display(),
                        path.display()
                    );
                }
                Ok(None)
            }
            _ => Err(io_err(e)),
        };
    }
    let result = loop {
        let linked = fs::hard_link(&tmp, &lock);
        // The link count tells the truth even when link() reports an error over NFS.
        let ours = fs::metadata(&tmp).map(|m| m.nlink() == 2).unwrap_or(false);
        if ours {
            break fs::metadata(&tmp)
                .map(|m| Some((lock.clone(), m.dev(), m.ino())))
                .map_err(io_err);
        }
        match linked {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                if is_stale(&lock) {
                    let _ = fs::remove_file(&lock);
                    continue;
                }
                if Instant::now() >= deadline {
                    break Err(StoreError::Locked(path.to_owned()));
                }
                std::thread::sleep(RETRY);
            }
            Err(e) => break Err(io_err(e)),
            Ok(()) => break Err(io_err(io::Error::other("dotlock link vanished"))),
        }
    };
    let _ = fs::remove_file(&tmp);
    result
}

/// A dotlock is stale when it is older than [`STALE_AFTER`] or names a PID that is dead here
/// (whatever its age: see the module documentation).
fn is_stale(lock: &Path) -> bool {
    let Ok(meta) = fs::symlink_metadata(lock) else {
        return false;
    };
    let age = meta
        .modified()
        .ok()
        .and_then(|m| SystemTime::now().duration_since(m).ok())
        .unwrap_or_default();
    if age > STALE_AFTER {
        return true;
    }
    let mut text = String::new();
    if let Ok(mut f) = File::open(lock) {
        let _ = Read::by_ref(&mut f).take(64).read_to_string(&mut text);
    }
    match text.trim().parse::<i32>() {
        Ok(pid) if pid > 0 => {
            // SAFETY: kill with signal 0 only checks for existence.
            let r = unsafe { libc::kill(pid, 0) };
            r != 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailbox() -> (tempfile::TempDir, PathBuf, File) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("mbox");
        fs::write(&p, b"").unwrap();
        let f = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&p)
            .unwrap();
        (d, p, f)
    }

    #[test]
    fn takes_and_releases_dotlock() {
        let (_d, p, f) = mailbox();
        let l = MailboxLock::acquire(&f, &p).unwrap();
        assert!(l.has_dotlock());
        let text = fs::read_to_string(dotlock_path(&p)).unwrap();
        assert_eq!(text.trim(), std::process::id().to_string());
        drop(l);
        assert!(!dotlock_path(&p).exists());
        // No temporary files left behind.
        assert_eq!(fs::read_dir(p.parent().unwrap()).unwrap().count(), 1);
    }

    #[test]
    fn live_dotlock_times_out() {
        let (_d, p, f) = mailbox();
        fs::write(dotlock_path(&p), format!("{}\n", std::process::id())).unwrap();
        let e = MailboxLock::acquire_timeout(&f, &p, Duration::from_millis(250)).unwrap_err();
        assert!(matches!(e, StoreError::Locked(_)), "{e}");
        // Someone else's lock is left in place.
        assert!(dotlock_path(&p).exists());
    }

    #[test]
    fn dead_pid_dotlock_is_removed() {
        let (_d, p, f) = mailbox();
        fs::write(dotlock_path(&p), b"999999999\n").unwrap();
        let l = MailboxLock::acquire_timeout(&f, &p, Duration::ZERO).unwrap();
        assert!(l.has_dotlock());
    }

    #[test]
    fn old_dotlock_is_removed() {
        let (_d, p, f) = mailbox();
        let lp = dotlock_path(&p);
        fs::write(&lp, format!("{}\n", std::process::id())).unwrap();
        let old = SystemTime::now() - Duration::from_secs(400);
        File::options()
            .write(true)
            .open(&lp)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let _l = MailboxLock::acquire_timeout(&f, &p, Duration::ZERO).unwrap();
    }

    #[test]
    fn read_only_descriptor_gets_read_lock() {
        let (_d, p, _f) = mailbox();
        let r = File::open(&p).unwrap();
        let _l = MailboxLock::acquire_timeout(&r, &p, Duration::ZERO).unwrap();
    }
}
