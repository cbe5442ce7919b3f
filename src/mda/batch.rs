//! Group commit for mbox delivery: when many SMTP sessions deliver into one mailbox at
//! once, the messages waiting for it are appended together under one lock with one fsync
//! ([`crate::store::mbox::append`]), and every sender waits for that one commit.
//!
//! Two ways to use it:
//!
//! - In process: [`GroupCommitter::submit`] hands an mbox entry ([`super::mbox_entry`]) to a
//!   worker thread of that mailbox and returns a `tokio::sync::oneshot` receiver for the
//!   outcome. A mailbox has at most one worker thread, alive while it has work; the worker
//!   takes everything queued for its mailbox, commits it, answers, and repeats.
//! - Across the privilege boundary (STYLE habit 7): the root master spawns `rmail deliver
//!   --batch USER` running as that user, writes frames ([`encode_frame`]: `<decimal
//!   length>\n<bytes>`) to its stdin and reads one ack line per frame, in order, from its
//!   stdout ([`parse_ack`]: `ok`, `temp <status> <text>`, `perm <status> <text>`).
//!   [`run_batch_worker`] is that process's loop: whatever frames have arrived are one
//!   batch.
//!
//! Per message, before the commit: `mailbox_size_limit` (bytes, 0 = none; Postfix's
//! parameter, default 51200000) — a message that would take the mailbox past it fails
//! permanently with `5.2.2` (Postfix bounces such mail), without affecting the others of its
//! batch. A failed commit fails the whole batch temporarily (the mbox append truncates back,
//! so nothing of the batch is left in the mailbox).

use std::collections::hash_map::{Entry, HashMap};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;

use crate::store::mbox::{self, StoreError};

/// The largest frame [`run_batch_worker`] accepts (1 GiB); larger is a protocol error.
pub const MAX_FRAME: usize = 1 << 30;

/// Why a message was not delivered, with its RFC 3463 enhanced status code, which the
/// caller turns into an SMTP reply or a DSN (`4.x.x`: try again later; `5.x.x`: bounce).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Try again later (mailbox locked, disk full, I/O error, unsafe mailbox).
    #[error("{text}")]
    Temporary {
        /// Enhanced status code, `4.x.x`.
        status: String,
        /// What happened, one line.
        text: String,
    },
    /// Will never succeed (mailbox size limit exceeded, empty message).
    #[error("{text}")]
    Permanent {
        /// Enhanced status code, `5.x.x`.
        status: String,
        /// What happened, one line.
        text: String,
    },
}

impl DeliveryError {
    fn temp(status: &str, text: impl Into<String>) -> Self {
        DeliveryError::Temporary {
            status: status.to_owned(),
            text: one_line(&text.into()),
        }
    }

    fn perm(status: &str, text: impl Into<String>) -> Self {
        DeliveryError::Permanent {
            status: status.to_owned(),
            text: one_line(&text.into()),
        }
    }

    /// Whether the failure is permanent (bounce / 5xx).
    pub fn is_permanent(&self) -> bool {
        matches!(self, DeliveryError::Permanent { .. })
    }

    /// The enhanced status code (`4.2.0`, `5.2.2`, …).
    pub fn status(&self) -> &str {
        match self {
            DeliveryError::Temporary { status, .. } | DeliveryError::Permanent { status, .. } => {
                status
            }
        }
    }

    /// The text, one line.
    pub fn text(&self) -> &str {
        match self {
            DeliveryError::Temporary { text, .. } | DeliveryError::Permanent { text, .. } => text,
        }
    }

    /// Maps a store error to a temporary failure: `4.2.2` for a full disk quota, `4.3.1`
    /// for a full disk, else `4.2.0` (Postfix local(8) defers mailbox write errors).
    pub fn from_store(e: &StoreError) -> DeliveryError {
        let status = match e {
            StoreError::Io { source, .. } => match source.raw_os_error() {
                Some(libc::EDQUOT) => "4.2.2",
                Some(libc::ENOSPC) => "4.3.1",
                _ => "4.2.0",
            },
            _ => "4.2.0",
        };
        DeliveryError::temp(status, e.to_string())
    }
}

/// `s` with CR, LF and other control characters turned into spaces.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Delivers `entries` (complete mbox entries, see [`super::mbox_entry`]) to the mbox at
/// `mailbox` as one commit: one lock, one append, one fsync. Returns one result per entry,
/// in order. Refused before the commit: a mailbox that is a symbolic link or not a regular
/// file (temporary, `4.2.0`, as the administrator must fix it), an empty entry (`5.6.0`),
/// an entry that would take the mailbox past `size_limit` bytes (`5.2.2`; 0 = no limit;
/// checked against the size before the commit plus the entries accepted before it). When
/// the commit fails, every entry it held gets the temporary error
/// ([`DeliveryError::from_store`]) and none of them is left in the mailbox.
pub fn deliver_batch(
    mailbox: &Path,
    entries: Vec<Vec<u8>>,
    size_limit: u64,
) -> Vec<Result<(), DeliveryError>> {
    use std::os::unix::fs::MetadataExt;
    let mut size = match std::fs::symlink_metadata(mailbox) {
        // A hard link could point the mailbox at another file of the same owner (Postfix
        // local(8) refuses these too).
        Ok(m) if m.file_type().is_symlink() || !m.is_file() || m.nlink() > 1 => {
            let e = DeliveryError::temp(
                "4.2.0",
                format!(
                    "refusing to deliver to {}: not a regular file with one link",
                    mailbox.display()
                ),
            );
            return entries.iter().map(|_| Err(e.clone())).collect();
        }
        Ok(m) => m.len(),
        Err(_) => 0,
    };
    let mut results: Vec<Result<(), DeliveryError>> = Vec::with_capacity(entries.len());
    let mut accepted: Vec<Vec<u8>> = Vec::with_capacity(entries.len());
    for e in entries {
        if e.is_empty() {
            results.push(Err(DeliveryError::perm(
                "5.6.0",
                "cannot deliver an empty message",
            )));
        } else if size_limit > 0 && size.saturating_add(e.len() as u64) > size_limit {
            results.push(Err(DeliveryError::perm(
                "5.2.2",
                format!(
                    "cannot update mailbox {}: mailbox size limit exceeded",
                    mailbox.display()
                ),
            )));
        } else {
            size = size.saturating_add(e.len() as u64);
            accepted.push(e);
            results.push(Ok(()));
        }
    }
    if accepted.is_empty() {
        return results;
    }
    if let Err(e) = mbox::append(mailbox, &accepted) {
        let e = DeliveryError::from_store(&e);
        for r in results.iter_mut().filter(|r| r.is_ok()) {
            *r = Err(e.clone());
        }
    }
    results
}

/// One message waiting for its mailbox's worker.
struct Job {
    entry: Vec<u8>,
    done: oneshot::Sender<Result<(), DeliveryError>>,
}

struct Inner {
    size_limit: u64,
    /// Mailbox → messages waiting. A key is present exactly while a worker thread for that
    /// mailbox runs; the worker removes it (under this lock) when it finds no work.
    pending: Mutex<HashMap<PathBuf, Vec<Job>>>,
    commits: AtomicU64,
}

impl Inner {
    fn pending(&self) -> MutexGuard<'_, HashMap<PathBuf, Vec<Job>>> {
        // A panic in another holder leaves the map consistent (plain pushes and takes).
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// In-process group commit of mbox deliveries, usable from async code: cheap to clone
/// (shared state), one worker thread per mailbox with work.
#[derive(Clone)]
pub struct GroupCommitter {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for GroupCommitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommitter")
            .field("size_limit", &self.inner.size_limit)
            .field("commits", &self.commits())
            .finish()
    }
}

impl GroupCommitter {
    /// A committer enforcing `mailbox_size_limit` bytes per mailbox (0 = no limit).
    pub fn new(mailbox_size_limit: u64) -> GroupCommitter {
        GroupCommitter {
            inner: Arc::new(Inner {
                size_limit: mailbox_size_limit,
                pending: Mutex::new(HashMap::new()),
                commits: AtomicU64::new(0),
            }),
        }
    }

    /// Queues `mbox_bytes` (a complete entry from [`super::mbox_entry`]: `From_` line,
    /// message with mboxrd quoting, final blank line) for the mbox at `mailbox`; the
    /// receiver yields `Ok(())` once it is fsync'ed, or the [`DeliveryError`]. Never blocks
    /// on I/O (await the receiver, or `blocking_recv` outside async code).
    pub fn submit(
        &self,
        mailbox: PathBuf,
        mbox_bytes: Vec<u8>,
    ) -> oneshot::Receiver<Result<(), DeliveryError>> {
        let (tx, rx) = oneshot::channel();
        let job = Job {
            entry: mbox_bytes,
            done: tx,
        };
        let mut map = self.inner.pending();
        match map.entry(mailbox) {
            Entry::Occupied(mut o) => o.get_mut().push(job),
            Entry::Vacant(v) => {
                let path = v.key().clone();
                v.insert(vec![job]);
                drop(map);
                let inner = Arc::clone(&self.inner);
                let worker_path = path.clone();
                let spawned = std::thread::Builder::new()
                    .name("rmail-mbox-commit".into())
                    .spawn(move || worker(&inner, &worker_path));
                if let Err(e) = spawned {
                    let jobs = self.inner.pending().remove(&path).unwrap_or_default();
                    let err = DeliveryError::temp(
                        "4.3.0",
                        format!("cannot start a delivery thread: {e}"),
                    );
                    for j in jobs {
                        let _ = j.done.send(Err(err.clone()));
                    }
                }
            }
        }
        rx
    }

    /// How many commits (append + fsync) have been made so far: with concurrent
    /// submitters, fewer than the messages delivered.
    pub fn commits(&self) -> u64 {
        self.inner.commits.load(Ordering::Relaxed)
    }
}

/// The worker of one mailbox: take all its waiting jobs, commit them, answer; stop (and
/// remove the mailbox's key) when none are waiting.
fn worker(inner: &Inner, path: &Path) {
    loop {
        let jobs = {
            let mut map = inner.pending();
            match map.get_mut(path) {
                Some(list) if !list.is_empty() => std::mem::take(list),
                _ => {
                    map.remove(path);
                    return;
                }
            }
        };
        let (entries, senders): (Vec<_>, Vec<_>) =
            jobs.into_iter().map(|j| (j.entry, j.done)).unzip();
        let results = deliver_batch(path, entries, inner.size_limit);
        inner.commits.fetch_add(1, Ordering::Relaxed);
        for (tx, r) in senders.into_iter().zip(results) {
            let _ = tx.send(r);
        }
    }
}

/// One frame of the worker protocol: `<decimal length>\n<bytes>`.
pub fn encode_frame(bytes: &[u8]) -> Vec<u8> {
    let mut out = format!("{}\n", bytes.len()).into_bytes();
    out.extend_from_slice(bytes);
    out
}

/// A malformed frame stream (the stream cannot be resynchronised; the worker exits).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The length line is not 1–19 decimal digits.
    #[error("cannot read frame: bad length line")]
    BadLength,
    /// The announced length exceeds the maximum.
    #[error("cannot read frame: {0} bytes is too large")]
    TooLarge(u64),
}

/// Incremental decoder of the frame stream, pure: [`FrameDecoder::feed`] bytes as they
/// arrive, take complete frames with [`FrameDecoder::next_frame`].
#[derive(Debug)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    /// Start of the unconsumed bytes in `buf`.
    pos: usize,
    max: usize,
}

impl FrameDecoder {
    /// A decoder refusing frames longer than `max_frame` bytes.
    pub fn new(max_frame: usize) -> FrameDecoder {
        FrameDecoder {
            buf: Vec::new(),
            pos: 0,
            max: max_frame,
        }
    }

    /// Adds received bytes.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.pos > 0 && self.pos * 2 >= self.buf.len() {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, `Ok(None)` when more bytes are needed, or the error that
    /// ends the stream.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        let rest = &self.buf[self.pos..];
        let Some(nl) = memchr::memchr(b'\n', rest) else {
            if rest.len() > 19 || !rest.iter().all(u8::is_ascii_digit) {
                return Err(FrameError::BadLength);
            }
            return Ok(None);
        };
        let digits = &rest[..nl];
        if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
            return Err(FrameError::BadLength);
        }
        let len: u64 = std::str::from_utf8(digits)
            .ok()
            .and_then(|d| d.parse().ok())
            .ok_or(FrameError::BadLength)?;
        if len > self.max as u64 {
            return Err(FrameError::TooLarge(len));
        }
        let len = len as usize;
        if rest.len() - nl - 1 < len {
            return Ok(None);
        }
        let frame = rest[nl + 1..nl + 1 + len].to_vec();
        self.pos += nl + 1 + len;
        Ok(Some(frame))
    }

    /// Whether no partial frame is buffered.
    pub fn is_idle(&self) -> bool {
        self.pos == self.buf.len()
    }
}

/// The ack line for one frame's outcome: `ok\n`, `temp <status> <text>\n` or
/// `perm <status> <text>\n` (text on one line).
pub fn encode_ack(result: &Result<(), DeliveryError>) -> Vec<u8> {
    match result {
        Ok(()) => b"ok\n".to_vec(),
        Err(e) => {
            let kind = if e.is_permanent() { "perm" } else { "temp" };
            format!("{kind} {} {}\n", one_line(e.status()), one_line(e.text())).into_bytes()
        }
    }
}

/// Parses one ack line (with or without its line end); `None` when it is not one. A
/// status that does not fit the kind (`perm 4.…`) is replaced by `5.0.0` / `4.0.0`.
pub fn parse_ack(line: &[u8]) -> Option<Result<(), DeliveryError>> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = std::str::from_utf8(line).ok()?;
    if line == "ok" {
        return Some(Ok(()));
    }
    let (kind, rest) = line.split_once(' ')?;
    let (status, text) = rest.split_once(' ').unwrap_or((rest, ""));
    match kind {
        "temp" => {
            let status = if status.starts_with("4.") {
                status
            } else {
                "4.0.0"
            };
            Some(Err(DeliveryError::temp(status, text)))
        }
        "perm" => {
            let status = if status.starts_with("5.") {
                status
            } else {
                "5.0.0"
            };
            Some(Err(DeliveryError::perm(status, text)))
        }
        _ => None,
    }
}

/// The loop of `rmail deliver --batch USER` (running as USER): reads frames (complete mbox
/// entries) from `input`; whenever a read completes one or more frames, delivers them as
/// one batch to `mailbox` ([`deliver_batch`], `size_limit` bytes, 0 = none) and writes one
/// ack per frame, in order, flushing `output`; returns at end of input. The mailbox must
/// be ours: an existing one owned by another user is refused temporarily (`4.2.0`), like
/// [`super::deliver_to_own_mailbox`]. Errors: I/O on the pipes; a malformed frame or input
/// ending inside a frame (`InvalidData`, `UnexpectedEof`; frames before it were answered).
pub fn run_batch_worker(
    mut input: impl Read,
    mut output: impl Write,
    mailbox: &Path,
    size_limit: u64,
) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let mut dec = FrameDecoder::new(MAX_FRAME);
    let mut chunk = vec![0u8; 64 << 10];
    let euid = rustix::process::geteuid().as_raw();
    loop {
        let n = match input.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            if dec.is_idle() {
                return Ok(());
            }
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "cannot read frame: input ends inside a frame",
            ));
        }
        dec.feed(&chunk[..n]);
        let mut batch = Vec::new();
        let mut bad = None;
        loop {
            match dec.next_frame() {
                Ok(Some(f)) => batch.push(f),
                Ok(None) => break,
                Err(e) => {
                    bad = Some(e);
                    break;
                }
            }
        }
        if !batch.is_empty() {
            let foreign = std::fs::symlink_metadata(mailbox)
                .ok()
                .filter(|m| m.uid() != euid);
            let results = if foreign.is_some() {
                let e = DeliveryError::temp(
                    "4.2.0",
                    format!(
                        "refusing to deliver to {}: owned by another user",
                        mailbox.display()
                    ),
                );
                batch.iter().map(|_| Err(e.clone())).collect()
            } else {
                deliver_batch(mailbox, batch, size_limit)
            };
            let mut acks = Vec::with_capacity(results.len() * 4);
            for r in &results {
                acks.extend_from_slice(&encode_ack(r));
            }
            output.write_all(&acks)?;
            output.flush()?;
        }
        if let Some(e) = bad {
            return Err(io::Error::new(io::ErrorKind::InvalidData, e));
        }
    }
}

#[cfg(test)]
mod tests;
