//! The on-disk mail queue of `rmail serve`: one file per message (see `qfile` for the
//! format), in the manner of Postfix's queue but in three directories only:
//!
//! - `DIR/msg/ID`: committed messages, header + message bytes;
//! - `DIR/tmp/`: files being written (`n.PID.SEQ` new, `u.PID.SEQ` rewrites);
//! - `DIR/corrupt/ID`: damaged queue files moved aside, never deleted.
//!
//! Durability (STYLE habit 6; Postfix cleanup(8) does the same before smtpd answers `250`):
//! [`Queue::enqueue`] writes the file in `tmp/`, fsyncs it, renames it into `msg/` without
//! replacing anything (`renameat2(RENAME_NOREPLACE)`, else `link` + `unlink`) and fsyncs
//! `msg/` before it returns. A metadata change ([`Queue::update`], [`Queue::defer`]) writes a
//! whole new file the same way and renames it over the old one, so a reader or a crash sees
//! the old file or the new one, never a mixture. (Rewriting copies the message bytes; this is
//! bounded by the message size limit times the number of attempts, and buys a single commit
//! point per change.)
//!
//! Ordering contract for the queue runner (at-least-once, as in Postfix): deliver to some
//! recipients; enqueue any bounce for the permanent failures; only then [`Queue::update`] the
//! file with the recipients still to do (or [`Queue::remove`] it when none are left). A crash
//! between a delivery and the update delivers to those recipients again on the next run
//! (a duplicate, never a loss); a crash between the bounce and the update may send the
//! bounce twice. One runner owns deliveries: two processes updating the same file at once
//! would lose one update (Postfix has a single qmgr for the same reason); `mailq` readers
//! are always safe.
//!
//! Recovery on [`Queue::open`]: files in `tmp/` left by a process that is gone (or older than
//! a day) are removed; they were never acknowledged. A file in `msg/` that does not parse, or
//! whose length disagrees with its header (a truncated file), is moved to `corrupt/` the first
//! time it is read and reported as [`QueueError::Corrupt`]. Nothing panics on any file.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use super::qfile::{self, QueueEntry, QueueId, Recipient};
use crate::mda::maildir::rename_noreplace;
use crate::message::envelope::Envelope;

/// A temporary file older than this is removed on open whatever its PID says.
const STALE_TMP: Duration = Duration::from_secs(24 * 3600);

/// How many IDs [`Queue::enqueue`] tries before it gives up (each collision is one try).
const ID_TRIES: u32 = 10_000;

static SEQ: AtomicU32 = AtomicU32::new(0);

/// Errors of the queue.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// A file or directory of the queue could not be read or written.
    #[error("cannot access {path}: {source}", path = .path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The system's reason.
        source: io::Error,
    },
    /// No message with this ID is queued (delivered, removed, or never there).
    #[error("cannot find queue file {0}")]
    NotFound(QueueId),
    /// The queue file is damaged; it was moved to `moved_to` (`None`: moving failed too).
    #[error("cannot read queue file {id}: {reason}{}", .moved_to.as_ref().map(|p| format!("; moved to {}", p.display())).unwrap_or_default())]
    Corrupt {
        /// The message's ID.
        id: QueueId,
        /// What is wrong with it.
        reason: String,
        /// Where the file is now.
        moved_to: Option<PathBuf>,
    },
    /// Every ID tried was taken (cannot happen short of a broken clock and a full queue).
    #[error("cannot allocate a queue id")]
    NoId,
}

fn io_at(path: &Path) -> impl Fn(io::Error) -> QueueError + '_ {
    move |source| QueueError::Io {
        path: path.to_owned(),
        source,
    }
}

/// What [`Queue::list`] found.
#[derive(Debug, Default)]
pub struct Listing {
    /// The readable messages, sorted by arrival time then ID.
    pub entries: Vec<QueueEntry>,
    /// Damaged files found (and moved aside) during the listing: [`QueueError::Corrupt`]
    /// values, for the caller to report.
    pub corrupt: Vec<QueueError>,
}

/// An open queue directory. Cheap to clone by re-opening; every method works on the files
/// directly, so several `Queue` values (and processes) may share one directory.
#[derive(Debug, Clone)]
pub struct Queue {
    dir: PathBuf,
    msg: PathBuf,
    tmp: PathBuf,
    corrupt: PathBuf,
}

impl Queue {
    /// Opens the queue in `dir`, creating it and its subdirectories with mode 0700 when
    /// missing, and removes temporary files left by dead processes (see the module doc).
    /// Errors: `Io` when a directory cannot be created or read.
    pub fn open(dir: &Path) -> Result<Queue, QueueError> {
        let q = Queue {
            dir: dir.to_owned(),
            msg: dir.join("msg"),
            tmp: dir.join("tmp"),
            corrupt: dir.join("corrupt"),
        };
        for d in [&q.dir, &q.msg, &q.tmp, &q.corrupt] {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(d)
                .map_err(io_at(d))?;
        }
        q.clean_tmp()?;
        Ok(q)
    }

    /// The queue directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Removes files in `tmp/` whose writer is gone: the PID in the name is not running, or
    /// the file is older than a day. Our own PID's files are left alone (another `Queue` in
    /// this process may be writing them).
    fn clean_tmp(&self) -> Result<(), QueueError> {
        let me = std::process::id();
        let now = SystemTime::now();
        for ent in fs::read_dir(&self.tmp).map_err(io_at(&self.tmp))? {
            let Ok(ent) = ent else { continue };
            let name = ent.file_name();
            let name = name.to_string_lossy();
            let pid = name.split('.').nth(1).and_then(|p| p.parse::<u32>().ok());
            let old = ent
                .metadata()
                .ok()
                .and_then(|m| m.modified().ok())
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|age| age > STALE_TMP);
            let dead = match pid {
                Some(p) if p == me => false,
                Some(p) => !process_alive(p),
                None => true,
            };
            if old || dead {
                let _ = fs::remove_file(ent.path());
            }
        }
        Ok(())
    }

    fn tmp_name(&self, kind: char) -> PathBuf {
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        self.tmp.join(format!("{kind}.{}.{n}", std::process::id()))
    }

    fn path_of(&self, id: &QueueId) -> PathBuf {
        self.msg.join(id.as_str())
    }

    /// Queues `data` (the message as received, LF or CRLF) for every recipient of `env`
    /// (each its own original), received at `arrival`, due at once. Returns only when the
    /// file is durable (fsync'ed, renamed into `msg/`, directory fsync'ed): the server may
    /// then answer `250`. Errors: `Io` (nothing is left behind), `NoId`.
    pub fn enqueue(
        &self,
        env: &Envelope,
        data: &[u8],
        arrival: SystemTime,
    ) -> Result<QueueId, QueueError> {
        let rcpts: Vec<Recipient> = env.recipients.iter().map(|r| Recipient::new(r)).collect();
        self.enqueue_recipients(&env.sender, &rcpts, data, arrival)
    }

    /// [`Queue::enqueue`] with explicit original recipients (e.g. after alias expansion).
    pub fn enqueue_recipients(
        &self,
        sender: &str,
        recipients: &[Recipient],
        data: &[u8],
        arrival: SystemTime,
    ) -> Result<QueueId, QueueError> {
        let mut entry = QueueEntry {
            id: new_id(arrival),
            sender: sender.to_owned(),
            recipients: recipients.to_vec(),
            arrival,
            attempts: 0,
            next_attempt: arrival,
            last_error: None,
            size: data.len() as u64,
        };
        let tmp = self.tmp_name('n');
        let written = write_synced(&tmp, &qfile::encode_header(&entry), |f| f.write_all(data));
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(io_at(&tmp)(e));
        }
        for _ in 0..ID_TRIES {
            let dst = self.path_of(&entry.id);
            match rename_noreplace(&tmp, &dst) {
                Ok(()) => {
                    sync_dir(&self.msg)?;
                    return Ok(entry.id);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    entry.id = new_id(arrival);
                }
                Err(e) => {
                    let _ = fs::remove_file(&tmp);
                    return Err(io_at(&dst)(e));
                }
            }
        }
        let _ = fs::remove_file(&tmp);
        Err(QueueError::NoId)
    }

    /// The IDs of all queued messages, sorted (that is, by arrival second). Names in `msg/`
    /// that are not queue IDs are ignored.
    pub fn ids(&self) -> Result<Vec<QueueId>, QueueError> {
        let mut ids = Vec::new();
        for ent in fs::read_dir(&self.msg).map_err(io_at(&self.msg))? {
            let ent = ent.map_err(io_at(&self.msg))?;
            if let Some(id) = ent.file_name().to_str().and_then(QueueId::parse) {
                ids.push(id);
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// Reads the header of `id`'s file: the open file, the entry and the header length.
    /// Damage → the file is moved aside and `Corrupt` returned.
    fn open_entry(&self, id: &QueueId) -> Result<(File, QueueEntry, u64), QueueError> {
        let path = self.path_of(id);
        let mut f = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(QueueError::NotFound(id.clone()))
            }
            Err(e) => return Err(io_at(&path)(e)),
        };
        match read_header(&mut f, id) {
            Ok(Ok((entry, hlen))) => Ok((f, entry, hlen)),
            Ok(Err(reason)) => Err(self.quarantine(id, reason)),
            Err(e) => Err(io_at(&path)(e)),
        }
    }

    /// Moves `id`'s file to `corrupt/` (under a fresh name when one is taken) and returns
    /// the `Corrupt` error describing it.
    fn quarantine(&self, id: &QueueId, reason: String) -> QueueError {
        let from = self.path_of(id);
        let mut moved_to = None;
        for n in 0..1000 {
            let to = if n == 0 {
                self.corrupt.join(id.as_str())
            } else {
                self.corrupt.join(format!("{id}.{n}"))
            };
            match rename_noreplace(&from, &to) {
                Ok(()) => {
                    let _ = sync_dir(&self.corrupt);
                    let _ = sync_dir(&self.msg);
                    moved_to = Some(to);
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(_) => break,
            }
        }
        QueueError::Corrupt {
            id: id.clone(),
            reason,
            moved_to,
        }
    }

    /// The envelope and delivery state of `id`. Errors: `NotFound`, `Corrupt` (the file
    /// has been moved aside), `Io`.
    pub fn load(&self, id: &QueueId) -> Result<QueueEntry, QueueError> {
        self.open_entry(id).map(|(_, e, _)| e)
    }

    /// [`Queue::load`] and the message bytes, exactly as given to [`Queue::enqueue`].
    pub fn load_message(&self, id: &QueueId) -> Result<(QueueEntry, Vec<u8>), QueueError> {
        let (mut f, entry, _) = self.open_entry(id)?;
        let mut data = Vec::with_capacity(entry.size.min(64 << 20) as usize);
        f.read_to_end(&mut data).map_err(io_at(&self.path_of(id)))?;
        if data.len() as u64 != entry.size {
            let reason = format!(
                "message has {} bytes, header says {}",
                data.len(),
                entry.size
            );
            return Err(self.quarantine(id, reason));
        }
        Ok((entry, data))
    }

    /// Every queued message (for `rmail queue`, Postfix `mailq`), oldest first; damaged
    /// files are moved aside and reported in [`Listing::corrupt`]; messages that vanish
    /// while listing (delivered meanwhile) are skipped. Errors: `Io` on the directory.
    pub fn list(&self) -> Result<Listing, QueueError> {
        let mut out = Listing::default();
        for id in self.ids()? {
            match self.load(&id) {
                Ok(e) => out.entries.push(e),
                Err(QueueError::NotFound(_)) => {}
                Err(e @ QueueError::Corrupt { .. }) => out.corrupt.push(e),
                Err(e) => return Err(e),
            }
        }
        out.entries
            .sort_by(|a, b| (a.arrival, &a.id).cmp(&(b.arrival, &b.id)));
        Ok(out)
    }

    /// The IDs of the messages whose next attempt is at or before `now`, earliest first.
    /// Files that cannot be parsed are included, so that the runner's [`Queue::load`]
    /// reports them and moves them aside.
    pub fn due(&self, now: SystemTime) -> Result<Vec<QueueId>, QueueError> {
        let mut due = Vec::new();
        for id in self.ids()? {
            let Ok(mut f) = File::open(self.path_of(&id)) else {
                continue;
            };
            match read_header(&mut f, &id) {
                Ok(Ok((e, _))) if e.next_attempt <= now => due.push((e.next_attempt, id)),
                Ok(Ok(_)) => {}
                Ok(Err(_)) | Err(_) => due.push((SystemTime::UNIX_EPOCH, id)),
            }
        }
        due.sort();
        Ok(due.into_iter().map(|(_, id)| id).collect())
    }

    /// Replaces the stored state of `entry.id` with `entry` (recipients, attempts, next
    /// attempt, last error; the sender and message bytes are kept), atomically: a new file
    /// is written, fsync'ed and renamed over the old one, then `msg/` is fsync'ed. An entry
    /// with no recipients left removes the message instead. Errors: `NotFound`, `Corrupt`,
    /// `Io` (the old file is then untouched).
    pub fn update(&self, entry: &QueueEntry) -> Result<(), QueueError> {
        if entry.recipients.is_empty() {
            return self.remove(&entry.id);
        }
        let (mut old, stored, hlen) = self.open_entry(&entry.id)?;
        let new = QueueEntry {
            sender: stored.sender,
            size: stored.size,
            ..entry.clone()
        };
        let tmp = self.tmp_name('u');
        let res = write_synced(&tmp, &qfile::encode_header(&new), |f| {
            old.seek(SeekFrom::Start(hlen))?;
            let copied = io::copy(&mut (&mut old).take(stored.size), f)?;
            if copied != stored.size {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "queue file shrank",
                ));
            }
            Ok(())
        })
        .and_then(|()| fs::rename(&tmp, self.path_of(&entry.id)));
        if let Err(e) = res {
            let _ = fs::remove_file(&tmp);
            return Err(io_at(&tmp)(e));
        }
        sync_dir(&self.msg)
    }

    /// Records a temporary failure of the message `id`: `remaining` recipients are kept
    /// (those delivered or bounced meanwhile are dropped), `attempts` goes up by one,
    /// `error` becomes the last error (shown by `mailq`), and the next attempt is `now` +
    /// [`backoff`]`(arrival, now, min_backoff, max_backoff)`. Returns the new state.
    /// Empty `remaining` removes the message. Errors as [`Queue::update`].
    pub fn defer(
        &self,
        id: &QueueId,
        remaining: &[Recipient],
        error: &str,
        now: SystemTime,
        min_backoff: Duration,
        max_backoff: Duration,
    ) -> Result<QueueEntry, QueueError> {
        let mut e = self.load(id)?;
        e.recipients = remaining.to_vec();
        e.attempts = e.attempts.saturating_add(1);
        e.last_error = Some(error.to_owned());
        e.next_attempt = now + backoff(e.arrival, now, min_backoff, max_backoff);
        self.update(&e)?;
        Ok(e)
    }

    /// Removes the message `id` (all recipients done) and fsyncs `msg/`. Errors:
    /// `NotFound`, `Io`.
    pub fn remove(&self, id: &QueueId) -> Result<(), QueueError> {
        let path = self.path_of(id);
        match fs::remove_file(&path) {
            Ok(()) => sync_dir(&self.msg),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(QueueError::NotFound(id.clone())),
            Err(e) => Err(io_at(&path)(e)),
        }
    }
}

/// The wait before the next attempt, Postfix qmgr's rule: the message's age (`now -
/// arrival`) clamped to `[min_backoff, max_backoff]` (`minimal_backoff_time`, default
/// 300 s; `maximal_backoff_time`, default 4000 s). When each retry happens on time this
/// doubles the interval from `min` up to `max`: min, min, 2·min, 4·min, … (the age doubles
/// at every retry); a message that waited through a long outage goes straight to `max`.
pub fn backoff(
    arrival: SystemTime,
    now: SystemTime,
    min_backoff: Duration,
    max_backoff: Duration,
) -> Duration {
    let age = now.duration_since(arrival).unwrap_or_default();
    age.min(max_backoff).max(min_backoff)
}

/// Whether `entry` has been queued for `maximal_queue_lifetime` or longer (Postfix
/// `maximal_queue_lifetime`, default 5 days; 0 means: try once, so a deferred message is
/// always expired). The runner then bounces its remaining recipients and removes it.
pub fn expired(entry: &QueueEntry, now: SystemTime, maximal_queue_lifetime: Duration) -> bool {
    now.duration_since(entry.arrival).unwrap_or_default() >= maximal_queue_lifetime
}

/// A fresh candidate ID for a message arriving at `arrival`: the second, then 16 bits mixed
/// from the microseconds of now, the PID and a per-process counter. Uniqueness itself comes
/// from the no-replace rename in [`Queue::enqueue_recipients`].
pub fn new_id(arrival: SystemTime) -> QueueId {
    let secs = qfile::to_secs(arrival) as u32;
    let usec = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_micros());
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let mix = usec.wrapping_mul(0x9E37_79B1)
        ^ std::process::id().wrapping_mul(0x85EB_CA6B)
        ^ n.wrapping_mul(0xC2B2_AE35);
    QueueId::from_parts(secs, ((mix >> 16) ^ mix) as u16)
}

/// Reads and parses the header from the start of `f`; `Ok(Err(reason))` for damage,
/// including a file whose length is not header + `size` (truncated or extended).
fn read_header(f: &mut File, id: &QueueId) -> io::Result<Result<(QueueEntry, u64), String>> {
    let len = f.metadata()?.len();
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    loop {
        let n = f.read(&mut chunk)?;
        if n == 0 {
            let parsed = qfile::parse_header(id, &buf);
            return Ok(match parsed {
                Ok(Some((e, h))) => {
                    f.seek(SeekFrom::Start(h as u64))?;
                    check_len(e, h, len)
                }
                Ok(None) => Err(format!("truncated header ({len} bytes)")),
                Err(r) => Err(r),
            });
        }
        // Look for the end of the header from a little before the new bytes.
        let from = buf.len().saturating_sub(1);
        buf.extend_from_slice(&chunk[..n]);
        if memchr::memmem::find(&buf[from..], b"\n\n").is_some() || buf.len() > qfile::MAX_HEADER {
            return Ok(match qfile::parse_header(id, &buf) {
                Ok(Some((e, h))) => {
                    f.seek(SeekFrom::Start(h as u64))?;
                    check_len(e, h, len)
                }
                Ok(None) => Err("truncated header".into()),
                Err(r) => Err(r),
            });
        }
    }
}

fn check_len(e: QueueEntry, hlen: usize, len: u64) -> Result<(QueueEntry, u64), String> {
    let want = hlen as u64 + e.size;
    if want != len {
        return Err(format!(
            "file has {len} bytes, header says {want} (truncated or damaged)"
        ));
    }
    Ok((e, hlen as u64))
}

/// Creates `path` (mode 0600, must not exist), writes `head` then whatever `body` writes,
/// and fsyncs it.
fn write_synced(
    path: &Path,
    head: &[u8],
    body: impl FnOnce(&mut io::BufWriter<&File>) -> io::Result<()>,
) -> io::Result<()> {
    let f = File::options()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    let mut w = io::BufWriter::with_capacity(64 << 10, &f);
    w.write_all(head)?;
    body(&mut w)?;
    w.flush()?;
    drop(w);
    f.sync_all()
}

/// fsyncs a directory, so that renames and unlinks in it are durable.
fn sync_dir(dir: &Path) -> Result<(), QueueError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_at(dir))
}

/// Whether process `pid` exists (EPERM counts as alive: it exists, owned by someone else).
fn process_alive(pid: u32) -> bool {
    let Some(p) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    !matches!(
        rustix::process::test_kill_process(p),
        Err(rustix::io::Errno::SRCH)
    )
}

#[cfg(test)]
mod tests;
