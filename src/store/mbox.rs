//! mbox reading, indexing and write-back (RFC 4155; mboxrd/mboxo quoting).
//!
//! "mbox" is a family of incompatible legacy formats; this module reads what Postfix local(8),
//! procmail, s-nail, bsd-mailx and mutt write, and writes what they read:
//!
//! - **Snapshot.** [`Mbox::open`] indexes the file once under the mailbox lock (one streaming
//!   pass, see `scan`), keeps the file open and reads messages on demand with `pread`; the
//!   lock is not held between calls. Only the index (about 48 bytes a message plus the raw
//!   `From`/`Subject`/`Date`/`To` values and the `From_` line) is in memory.
//! - **Separators.** A valid `From_` line at the start of the file or after a blank line;
//!   `Content-Length:` only when it points exactly at EOF or at such a line. Bytes before the
//!   first separator are kept byte for byte.
//! - **Reading.** [`Mbox::read_message`] removes the `From_` line and the separating blank
//!   line, turns CRLF into LF and undoes mboxrd quoting (`>From ` → `From `, `>>From ` →
//!   `>From `).
//! - **Write-back.** [`Mbox::write_back`] rewrites the file in place under the lock, crash-safe
//!   (see `rewrite`), keeping mail that arrived since the snapshot; `Status:` is written the
//!   way mailx does (`R` read, `O` old). Nothing changed → the file is not touched.
//!   [`Mbox::write_back_flags`] is the same for IMAP and POP3 sessions, rewriting
//!   `Status:`, `X-Status:` and `X-Keywords:` (see `flags`).
//! - **Appending.** [`append`] follows the MDA durability contract: lock, note the length,
//!   write, fsync; truncate back on error. [`prepend`] (mailx's `MBOX` without `append`)
//!   writes the new messages and the old bytes verbatim to a temporary file and renames it
//!   over the mailbox, under the same lock.
//! - **Signals.** While [`Mbox::write_back`], [`append`] and [`prepend`] hold the lock and
//!   write, SIGTERM, SIGHUP, SIGINT and SIGQUIT are blocked for the calling thread (see
//!   `critical`) and delivered after the lock is released.
//!
//! Invariants: every offset in the index points at a `From_` line of the snapshot; messages
//! are contiguous and `sum(len) + prefix == snapshot length`; nothing panics on any input
//! (out-of-range message numbers are the caller's bug and panic as slice indexing does).

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::critical::Critical;
use super::flags::{self, HeaderFlags};
use super::from_line::{self, FromLine};
use super::lock::MailboxLock;
use super::rewrite;
use super::scan::{self, CHUNK};

/// Errors of the mailbox store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The mailbox file does not exist.
    #[error("cannot open {0}: no such file")]
    NotFound(PathBuf),
    /// Another process holds the lock for longer than we wait.
    #[error("cannot lock {0}: mailbox is locked by another process")]
    Locked(PathBuf),
    /// The file changed under us in a way we cannot reconcile (it shrank or was rewritten).
    #[error("cannot write {0}: mailbox was changed by another program; left untouched")]
    Changed(PathBuf),
    /// A change was asked of a mailbox opened read-only (see [`Mbox::is_read_only`]); nothing
    /// was touched.
    #[error("cannot write {0}: mailbox is read-only")]
    ReadOnly(PathBuf),
    /// Any other I/O error, with the path.
    #[error("cannot access {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// The `Status:` header's letters (mailx): `R` read, `O` old (seen in a previous session).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Status {
    /// `R`: the message has been read.
    pub read: bool,
    /// `O`: the message is old (not new).
    pub old: bool,
}

/// The `X-Status:` header's letters (mutt, s-nail, UW imapd): kept in the index, never
/// rewritten by [`Mbox::write_back`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct XStatus {
    /// `A`: answered.
    pub answered: bool,
    /// `F`: flagged.
    pub flagged: bool,
    /// `T`: draft.
    pub draft: bool,
    /// `D`: deleted (not acted upon by this store).
    pub deleted: bool,
}

/// Header fields kept in the index for the header summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `From:`
    From,
    /// `Subject:`
    Subject,
    /// `Date:`
    Date,
    /// The `From_` line after `From ` (envelope sender and date), without line end.
    FromLine,
}

/// One message's place in the file and its summary facts.
#[derive(Debug, Clone)]
pub struct MessageMeta {
    /// File offset of the `From_` line.
    pub offset: u64,
    /// Bytes from the `From_` line to the next separator or EOF (trailing blank line included).
    pub len: u64,
    /// Length of the `From_` line including its line end.
    pub from_line_len: u32,
    /// Line count over `len` (mailx's "lines"; saturates at `u32::MAX`).
    pub lines: u32,
    /// Flags from `Status:`.
    pub status: Status,
    /// X-Status bits (`scan::X_*`), and `scan::X_KEYWORDS`.
    pub(crate) xflags: u8,
    /// Bit k set: field slot k (From, Subject, Date) present.
    pub(crate) present: u8,
    /// `Message-ID` hash (`scan::msgid_hash`; 0 when absent), for the UID index.
    pub(crate) msgid_hash: u32,
    /// Arena offset of this message's values (slots in order, From_ line last).
    pub(crate) arena_at: u32,
    /// Value lengths by slot.
    pub(crate) field_len: [u16; 5],
}

impl MessageMeta {
    /// Flags from `X-Status:` (first occurrence).
    pub fn xstatus(&self) -> XStatus {
        XStatus {
            answered: self.xflags & scan::X_ANSWERED != 0,
            flagged: self.xflags & scan::X_FLAGGED != 0,
            draft: self.xflags & scan::X_DRAFT != 0,
            deleted: self.xflags & scan::X_DELETED != 0,
        }
    }

    /// Whether the header has a non-blank `X-Keywords:` field (its value is read on demand
    /// with [`Mbox::read_header`]).
    pub fn has_keywords(&self) -> bool {
        self.xflags & scan::X_KEYWORDS != 0
    }

    /// 32-bit hash of the first `Message-ID:` value, whitespace removed (FNV-1a; a fixed
    /// algorithm, stored in UID indexes); 0 when the field is absent.
    pub fn message_id_hash(&self) -> u32 {
        self.msgid_hash
    }
}

/// What to do with one message at [`Mbox::write_back_flags`] (the IMAP and POP3 sessions'
/// write-back, see `view`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlagEdit {
    /// Copy the message unchanged.
    Keep,
    /// Rewrite its `Status:`, `X-Status:` and `X-Keywords:` fields (see
    /// [`flags::with_flags`]).
    Set(HeaderFlags),
    /// Remove it from the mailbox.
    Delete,
}

/// A header rewrite: the header from the `From_` line through the blank line in, the new
/// header out.
type HeaderEdit<'a> = &'a dyn Fn(&[u8]) -> Vec<u8>;

/// One message's fate inside [`Mbox::commit_edits`].
enum Edit<'a> {
    Keep,
    Status(Status),
    Flags(&'a HeaderFlags),
    Delete,
}

/// What to do with one message at write-back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Keep it, with this status written to `Status:`.
    Keep(Status),
    /// Remove it from the mailbox.
    Delete,
}

/// What a write-back did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteBack {
    /// Messages kept.
    pub kept: usize,
    /// Messages removed.
    pub removed: usize,
    /// Messages that arrived after the snapshot and were preserved.
    pub arrived: usize,
    /// Whether the file was written at all (false when nothing changed).
    pub written: bool,
}

/// An mbox opened as a snapshot: the index of its messages; bodies read on demand.
#[derive(Debug)]
pub struct Mbox {
    path: PathBuf,
    /// Kept open for `pread`; read-write when the file allows it.
    file: File,
    writable: bool,
    messages: Vec<MessageMeta>,
    arena: Vec<u8>,
    /// Bytes before the first message (kept verbatim on write-back).
    prefix: u64,
    /// File length the index covers.
    size: u64,
}

fn io_at(path: &Path) -> impl Fn(io::Error) -> StoreError + '_ {
    move |e| StoreError::Io {
        path: path.to_owned(),
        source: e,
    }
}

impl Mbox {
    /// Opens and indexes `path` under the mailbox lock (released before returning); finishes
    /// an interrupted write-back first (see `rewrite`). The file is kept open for later reads:
    /// read-write when permitted, else read-only (see [`Mbox::is_read_only`]). Errors:
    /// `NotFound`, `Locked`, `Io`.
    pub fn open(path: &Path) -> Result<Mbox, StoreError> {
        Self::open_chunked(path, CHUNK)
    }

    pub(crate) fn open_chunked(path: &Path, chunk: usize) -> Result<Mbox, StoreError> {
        let err = io_at(path);
        let opened = File::options().read(true).write(true).open(path);
        let (file, writable) = match opened {
            // No write bit at all (`chmod a-w`): read-only for root too, who could open it.
            Ok(f) if f.metadata().map_err(&err)?.mode() & 0o222 == 0 => {
                (File::open(path).map_err(&err)?, false)
            }
            Ok(f) => (f, true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::NotFound(path.to_owned()))
            }
            Err(e)
                if e.kind() == io::ErrorKind::PermissionDenied
                    || e.raw_os_error() == Some(libc::EROFS) =>
            {
                (File::open(path).map_err(&err)?, false)
            }
            Err(e) => return Err(err(e)),
        };
        let mut mb = Mbox {
            path: path.to_owned(),
            file,
            writable,
            messages: Vec::new(),
            arena: Vec::new(),
            prefix: 0,
            size: 0,
        };
        // Termination signals wait while the lock is held (declared first, dropped last), so
        // that a SIGTERM or SIGHUP during indexing cannot leave a stale dotlock behind.
        let _signals = Critical::enter();
        let _lock = MailboxLock::acquire(&mb.file, path)?;
        if writable {
            rewrite::recover(&mb.file, path)?;
        }
        mb.reindex(chunk)?;
        Ok(mb)
    }

    fn reindex(&mut self, chunk: usize) -> Result<(), StoreError> {
        let err = io_at(&self.path);
        let len = self.file.metadata().map_err(&err)?.len();
        self.messages.clear();
        self.arena.clear();
        let end = scan::scan(
            &self.file,
            0,
            len,
            chunk,
            &mut self.arena,
            &mut self.messages,
        )
        .map_err(&err)?;
        self.prefix = end.lead;
        self.size = end.end;
        Ok(())
    }

    /// Whether the mailbox was opened read-only: opening it for writing failed with EACCES,
    /// EPERM or EROFS (e.g. mode 0444, or another user's file), or the file has no write
    /// permission bit at all (which root would otherwise ignore). The reader shows
    /// `[Read only]`; [`Mbox::write_back`] with changes returns [`StoreError::ReadOnly`].
    pub fn is_read_only(&self) -> bool {
        !self.writable
    }

    /// The mailbox path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of messages in the snapshot.
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// True when the snapshot holds no message.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// File length, bytes, covered by the snapshot (grows with [`Mbox::check_new`]).
    pub fn snapshot_len(&self) -> u64 {
        self.size
    }

    /// Bytes before the first `From_` line (garbage kept verbatim), bytes.
    pub fn prefix_len(&self) -> u64 {
        self.prefix
    }

    /// Index entry of message `i` (0-based). Panics when `i >= len()`.
    pub fn meta(&self, i: usize) -> &MessageMeta {
        &self.messages[i]
    }

    /// Raw, still folded value of a summary field of message `i` (first occurrence, `\r`
    /// removed, folding kept as `\n` + the continuation line, at most 65,535 bytes); `None`
    /// when absent. `Field::FromLine` is always present. Panics when `i >= len()`.
    pub fn field(&self, i: usize, f: Field) -> Option<&[u8]> {
        let slot = match f {
            Field::From => 0,
            Field::Subject => 1,
            Field::Date => 2,
            Field::FromLine => 4,
        };
        let m = &self.messages[i];
        if slot < 4 && m.present & (1 << slot) == 0 {
            return None;
        }
        let start = m.arena_at as usize
            + m.field_len[..slot]
                .iter()
                .map(|&l| l as usize)
                .sum::<usize>();
        self.arena.get(start..start + m.field_len[slot] as usize)
    }

    /// The parsed `From_` line of message `i` (sender and date; see
    /// [`FromLine::datetime`] for the fallback date). Panics when `i >= len()`.
    pub fn from_line(&self, i: usize) -> Option<FromLine> {
        let mut l = b"From ".to_vec();
        l.extend_from_slice(self.field(i, Field::FromLine)?);
        from_line::parse(&l)
    }

    /// Message `i` as stored, `From_` line and trailing blank line included (`pread` on the
    /// kept-open file). Errors: "mailbox … was changed by another program" (kind
    /// `UnexpectedEof` when the file was truncated, `InvalidData` when the message no longer
    /// starts with `From `, i.e. the file was rewritten); other I/O errors as they come.
    /// Panics when `i >= len()`.
    pub fn read_raw(&self, i: usize) -> io::Result<Vec<u8>> {
        let m = &self.messages[i];
        let len = usize::try_from(m.len).map_err(io::Error::other)?;
        let mut buf = vec![0u8; len];
        let changed = |kind| {
            io::Error::new(
                kind,
                format!(
                    "mailbox {} was changed by another program; reopen it",
                    self.path.display()
                ),
            )
        };
        match self.file.read_exact_at(&mut buf, m.offset) {
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return Err(changed(io::ErrorKind::UnexpectedEof))
            }
            Err(e) => return Err(e),
            Ok(()) => {}
        }
        if !buf.starts_with(b"From ") {
            return Err(changed(io::ErrorKind::InvalidData));
        }
        Ok(buf)
    }

    /// Message `i` for display and parsing: no `From_` line, no separating blank line,
    /// CRLF → LF, mboxrd `>From ` quoting undone (one `>` removed from lines matching
    /// `^>+From `). Errors as [`Mbox::read_raw`]. Panics when `i >= len()`.
    pub fn read_message(&self, i: usize) -> io::Result<Vec<u8>> {
        let raw = self.read_raw(i)?;
        let fl = (self.messages[i].from_line_len as usize).min(raw.len());
        Ok(unquote(&raw[fl..]))
    }

    /// [`Mbox::read_message`], and the bytes must still be message `i` of the snapshot:
    /// the same `From_` line and `Message-ID` as scanned. A long-lived reader (an IMAP or
    /// POP3 session) uses this so that a rewrite by another program (messages removed, the
    /// others moved) can never make it serve one message's bytes for another's: a message of
    /// the same length at the old offset is caught here, as kind `InvalidData` ("changed by
    /// another program").
    pub fn read_message_checked(&self, i: usize) -> io::Result<Vec<u8>> {
        let raw = self.read_raw(i)?;
        let m = &self.messages[i];
        let fl = (m.from_line_len as usize).min(raw.len());
        let same_from = self.field(i, Field::FromLine).is_none_or(|want| {
            let got = raw[..fl].strip_prefix(b"From ").unwrap_or(&raw[..fl]);
            let got = got.trim_ascii_end();
            // The scanner keeps at most a field's worth of the line.
            got.get(..want.len().min(got.len())) == Some(want.trim_ascii_end())
                || got == want.trim_ascii_end()
        });
        let head_end = memchr::memmem::find(&raw[fl..], b"\n\n").map_or(raw.len(), |e| fl + e + 1);
        let id = crate::message::header::split_fields(&raw[fl..head_end])
            .into_iter()
            .find(|f| f.name.eq_ignore_ascii_case("message-id"))
            .map_or(0, |f| super::scan::msgid_hash(&f.value));
        if !same_from || id != m.msgid_hash {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "mailbox {} was changed by another program; reopen it",
                    self.path.display()
                ),
            ));
        }
        Ok(unquote(&raw[fl..]))
    }

    /// The header of message `i` as stored: from the `From_` line through the blank line that
    /// ends the header (or the whole message when it has no blank line), read in pieces of
    /// 64 KiB until the blank line is found, so a large body is not read. Errors as
    /// [`Mbox::read_raw`]. Panics when `i >= len()`.
    pub fn read_header(&self, i: usize) -> io::Result<Vec<u8>> {
        let m = &self.messages[i];
        let (mut head, end) = read_head(&self.file, m).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                io::Error::new(
                    e.kind(),
                    format!(
                        "mailbox {} was changed by another program; reopen it",
                        self.path.display()
                    ),
                )
            } else {
                e
            }
        })?;
        if !head.starts_with(b"From ") {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "mailbox {} was changed by another program; reopen it",
                    self.path.display()
                ),
            ));
        }
        head.truncate(end);
        Ok(head)
    }

    /// Indexes mail appended since the snapshot (under the lock); returns how many messages
    /// arrived. Bytes appended that do not start with a separator extend the last message.
    /// Errors: `Changed` when the file shrank or was replaced, `Locked`, `Io`.
    pub fn check_new(&mut self) -> Result<usize, StoreError> {
        let _signals = Critical::enter();
        let _lock = MailboxLock::acquire(&self.file, &self.path)?;
        let len = self.current_len()?;
        self.index_appended(len)
    }

    /// Length of the file now, checking that it is still our file and did not shrink.
    fn current_len(&self) -> Result<u64, StoreError> {
        let err = io_at(&self.path);
        let ours = self.file.metadata().map_err(&err)?;
        let now = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::Changed(self.path.clone()))
            }
            Err(e) => return Err(err(e)),
        };
        if now.dev() != ours.dev() || now.ino() != ours.ino() || ours.len() < self.size {
            return Err(StoreError::Changed(self.path.clone()));
        }
        Ok(ours.len())
    }

    fn index_appended(&mut self, len: u64) -> Result<usize, StoreError> {
        if len <= self.size {
            return Ok(0);
        }
        let before = self.messages.len();
        let end = scan::scan(
            &self.file,
            self.size,
            len,
            CHUNK,
            &mut self.arena,
            &mut self.messages,
        )
        .map_err(io_at(&self.path))?;
        if end.lead > 0 {
            match before.checked_sub(1).and_then(|k| self.messages.get_mut(k)) {
                Some(m) => {
                    m.len += end.lead;
                    m.lines =
                        u32::try_from(u64::from(m.lines) + end.lead_lines).unwrap_or(u32::MAX);
                }
                _ => self.prefix += end.lead,
            }
        }
        self.size = end.end;
        Ok(self.messages.len() - before)
    }

    /// Rewrites the mailbox under lock: `plan[i]` for message `i` of the snapshot; mail that
    /// arrived since the snapshot is kept unchanged. Nothing changed → file untouched.
    ///
    /// Missing plan entries mean "keep with the status on disk"; extra entries are ignored.
    /// Kept messages get their `Status:` rewritten by [`with_status`] only when it differs;
    /// every kept message ends with a blank line; bytes before the first message and mail
    /// appended since the snapshot are copied verbatim. The rewrite is in place (same inode,
    /// owner, mode) and crash-safe; deleting everything leaves an empty file (not removed).
    ///
    /// Afterwards the `Mbox` is a fresh snapshot of the file as written (message numbers
    /// change: deleted ones are gone, arrived ones are indexed at the end); when nothing was
    /// written only the arrived messages are added, as by [`Mbox::check_new`].
    ///
    /// Errors: `ReadOnly` (changes asked of a mailbox opened read-only; nothing is touched,
    /// not even the lock), `Changed` (file shrank, was replaced, or a recorded offset no
    /// longer starts with `From `; the file is left alone), `Locked`, `Io`.
    pub fn write_back(&mut self, plan: &[Disposition]) -> Result<WriteBack, StoreError> {
        let edit = |i: usize| match plan.get(i) {
            Some(Disposition::Delete) => Edit::Delete,
            Some(&Disposition::Keep(st)) if st != self.messages[i].status => Edit::Status(st),
            _ => Edit::Keep,
        };
        let edits: Vec<Edit> = (0..self.messages.len()).map(edit).collect();
        self.commit_edits(&edits)
    }

    /// [`Mbox::write_back`] for IMAP and POP3 sessions: `plan[i]` for message `i` of the
    /// snapshot, where [`FlagEdit::Set`] rewrites `Status:`, `X-Status:` and `X-Keywords:`
    /// (the caller passes it only for messages whose flags changed: every `Set` counts as a
    /// change). Missing entries mean [`FlagEdit::Keep`]. Same guarantees, snapshot update and
    /// errors as [`Mbox::write_back`].
    pub fn write_back_flags(&mut self, plan: &[FlagEdit]) -> Result<WriteBack, StoreError> {
        let edits: Vec<Edit> = (0..self.messages.len())
            .map(|i| match plan.get(i) {
                Some(FlagEdit::Delete) => Edit::Delete,
                Some(FlagEdit::Set(f)) => Edit::Flags(f),
                _ => Edit::Keep,
            })
            .collect();
        self.commit_edits(&edits)
    }

    /// The body of [`Mbox::write_back`] and [`Mbox::write_back_flags`]: `edits` has one entry
    /// per snapshot message.
    fn commit_edits(&mut self, edits: &[Edit]) -> Result<WriteBack, StoreError> {
        // Declared first: dropped last, after the lock is released.
        let _critical = Critical::enter();
        let path = self.path.clone();
        let err = io_at(&path);
        let n = self.messages.len();
        let changed = edits.iter().any(|e| !matches!(e, Edit::Keep));
        let removed = edits.iter().filter(|e| matches!(e, Edit::Delete)).count();
        if !changed {
            let _lock = MailboxLock::acquire(&self.file, &path)?;
            let len = self.current_len()?;
            let arrived = self.index_appended(len)?;
            return Ok(WriteBack {
                kept: n,
                removed: 0,
                arrived,
                written: false,
            });
        }
        if !self.writable {
            return Err(StoreError::ReadOnly(path.clone()));
        }
        let wf = &self.file;
        let _lock = MailboxLock::acquire(wf, &path)?;
        if rewrite::recover(wf, &path)? {
            // Another writer died mid-rewrite: our offsets may be stale; check them below.
        }
        let len = self.current_len()?;
        for m in &self.messages {
            let mut b = [0u8; 5];
            if wf.read_exact_at(&mut b, m.offset).is_err() || &b != b"From " {
                return Err(StoreError::Changed(path.clone()));
            }
        }
        // Count what arrived (indexed into scratch storage; the snapshot is rebuilt below).
        let mut arrived_meta = Vec::new();
        let mut scratch = Vec::new();
        let mut lead = 0;
        if len > self.size {
            let end = scan::scan(wf, self.size, len, CHUNK, &mut scratch, &mut arrived_meta)
                .map_err(&err)?;
            // Bytes before the first arrived separator (typically the blank line the MDA
            // added) belong to the last snapshot message, as in `check_new`.
            lead = end.lead;
        }
        let arrived = arrived_meta.len();
        let (size, messages) = (self.size, &self.messages);
        let prefix = if messages.is_empty() {
            self.prefix + lead
        } else {
            self.prefix
        };
        rewrite::commit(wf, &path, |w| {
            rewrite::copy_range(wf, 0, prefix, w).map_err(&err)?;
            for (i, m) in messages.iter().enumerate() {
                let status_edit;
                let flags_edit;
                let edit: Option<HeaderEdit> = match edits.get(i) {
                    Some(Edit::Delete) => continue,
                    Some(&Edit::Status(st)) => {
                        status_edit = move |h: &[u8]| with_status(h, st);
                        Some(&status_edit)
                    }
                    Some(Edit::Flags(f)) => {
                        flags_edit = move |h: &[u8]| flags::with_flags(h, f);
                        Some(&flags_edit)
                    }
                    Some(Edit::Keep) | None => None,
                };
                let mut m = m.clone();
                if i + 1 == messages.len() {
                    m.len += lead;
                }
                write_message(wf, &m, edit, w).map_err(&err)?;
            }
            rewrite::copy_range(wf, size + lead, len, w).map_err(&err)
        })?;
        self.reindex(CHUNK)?;
        Ok(WriteBack {
            kept: n - removed,
            removed,
            arrived,
            written: true,
        })
    }
}

/// Reads message `m`'s header from `src` in growing pieces of up to 64 KiB until the blank
/// line that ends it; returns the bytes read and the header's end in them (after the blank
/// line; the whole message when there is none).
fn read_head(src: &File, m: &MessageMeta) -> io::Result<(Vec<u8>, usize)> {
    let end = m.offset + m.len;
    let mut head = Vec::new();
    let mut at = m.offset;
    loop {
        let n = ((end - at) as usize).min(64 * 1024);
        let old = head.len();
        head.resize(old + n, 0);
        src.read_exact_at(&mut head[old..], at)?;
        at += n as u64;
        let from = old.saturating_sub(3);
        let found = memchr::memmem::find(&head[from..], b"\n\n")
            .map(|i| from + i + 2)
            .into_iter()
            .chain(memchr::memmem::find(&head[from..], b"\n\r\n").map(|i| from + i + 3))
            .min();
        if let Some(e) = found {
            return Ok((head, e));
        }
        if at >= end {
            let l = head.len();
            return Ok((head, l));
        }
    }
}

/// Copies message `m` from `src` to `w`, with its header rewritten by `edit` when given
/// (the header from the `From_` line through the blank line in, the new header out), ending
/// it with a blank line. Streams the body; only the header is held in memory.
fn write_message(
    src: &File,
    m: &MessageMeta,
    edit: Option<HeaderEdit>,
    w: &mut impl Write,
) -> io::Result<()> {
    let end = m.offset + m.len;
    let mut first = vec![0u8; (m.from_line_len as u64).min(m.len) as usize];
    src.read_exact_at(&mut first, m.offset)?;
    let eol: &[u8] = if first.ends_with(b"\r\n") {
        b"\r\n"
    } else {
        b"\n"
    };
    let mut body_at = m.offset;
    let mut rewritten = None;
    if let Some(edit) = edit {
        let (head, hdr_end) = read_head(src, m)?;
        let h = edit(&head[..hdr_end]);
        w.write_all(&h)?;
        rewritten = Some(h);
        body_at = m.offset + hdr_end as u64;
    }
    rewrite::copy_range(src, body_at, end, w)?;
    // Separating blank line (RFC 4155: written by the mbox writer). Look at the last bytes
    // written: the source's, or the rewritten header's when the message is all header.
    let tail_n = m.len.min(3) as usize;
    let mut tail = [0u8; 3];
    src.read_exact_at(&mut tail[..tail_n], end - tail_n as u64)?;
    let mut tail = tail[..tail_n].to_vec();
    if body_at >= end {
        if let Some(h) = &rewritten {
            tail = h[h.len().saturating_sub(3)..].to_vec();
        }
    }
    if tail.ends_with(b"\n\n") || tail.ends_with(b"\n\r\n") {
        return Ok(());
    }
    if !tail.ends_with(b"\n") {
        w.write_all(eol)?;
    }
    w.write_all(eol)
}

/// `read_message` without the I/O: drop the separating blank line, CRLF → LF, mboxrd unquote.
fn unquote(msg: &[u8]) -> Vec<u8> {
    let mut msg = msg;
    if msg.ends_with(b"\r\n\r\n") || msg.ends_with(b"\n\r\n") {
        msg = &msg[..msg.len() - 2];
    } else if msg.ends_with(b"\n\n") {
        msg = &msg[..msg.len() - 1];
    }
    let mut out = Vec::with_capacity(msg.len());
    for line in msg.split_inclusive(|&b| b == b'\n') {
        let mut line = line;
        let q = line.iter().take_while(|&&b| b == b'>').count();
        if q > 0 && line[q..].starts_with(b"From ") {
            line = &line[1..];
        }
        if let Some(l) = line.strip_suffix(b"\r\n") {
            out.extend_from_slice(l);
            out.push(b'\n');
        } else {
            out.extend_from_slice(line);
        }
    }
    out
}

/// Returns `raw` (a message with its `From_` line) with its `Status:` field set to `status`
/// (`R` and/or `O`; the field is removed when both are false), as written by write-back and
/// by `save`/`copy`.
///
/// Every `Status:` field (with its continuation lines) in the header is removed and the new
/// one is inserted as the last header line, before the blank line, with the line ending of
/// the `From_` line (CRLF or LF). Letters are written in mailx's order: `RO`, `R`, `O`. When
/// `raw` has no `From_` line its first line is taken as header. The body is not touched.
pub fn with_status(raw: &[u8], status: Status) -> Vec<u8> {
    let first_end = memchr::memchr(b'\n', raw).map_or(raw.len(), |i| i + 1);
    let eol: &[u8] = if raw[..first_end].ends_with(b"\r\n") {
        b"\r\n"
    } else {
        b"\n"
    };
    let mut field = Vec::new();
    if status.read || status.old {
        field.extend_from_slice(b"Status: ");
        if status.read {
            field.push(b'R');
        }
        if status.old {
            field.push(b'O');
        }
        field.extend_from_slice(eol);
    }
    flags::replace_fields(raw, &["Status"], &field)
}

/// Appends messages (each with its `From_` line, as from [`Mbox::read_raw`]) to the mbox at
/// `path` under the mailbox lock, creating it with mode 0600 when missing; fsync before unlock;
/// on error the file is truncated back to its old length.
///
/// The existing content is first ended with a blank line when it lacks one; each message is
/// ended with one. A message without a `From_` line gets `From MAILER-DAEMON <now>`; body
/// lines that would read as separators (a valid `From_` line after a blank line) get a `>`
/// (mboxrd), so the file always splits back into the same messages. Errors: `Locked`, `Io`.
pub fn append(path: &Path, messages: &[Vec<u8>]) -> Result<(), StoreError> {
    append_at(path, messages).map(|_| ())
}

/// [`append`], returning the file offset where the first appended message's `From_` line
/// starts (the old length, plus the blank line added when the old content lacked one): the
/// IMAP `APPEND` finds its message again by it (see `view`).
pub fn append_at(path: &Path, messages: &[Vec<u8>]) -> Result<u64, StoreError> {
    let _critical = Critical::enter();
    let f = open_for_append(path)?;
    let _lock = MailboxLock::acquire(&f, path)?;
    append_locked(&f, path, messages)
}

/// Opens (creating with mode 0600) the mbox at `path` for [`append`] and [`prepend`].
fn open_for_append(path: &Path) -> Result<File, StoreError> {
    File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(io_at(path))
}

/// The body of [`append`], for a file the caller has opened and locked; returns the offset
/// of the first appended message.
fn append_locked(f: &File, path: &Path, messages: &[Vec<u8>]) -> Result<u64, StoreError> {
    let err = io_at(path);
    let len = f.metadata().map_err(&err)?.len();
    let mut out = Vec::new();
    if len > 0 {
        let n = len.min(3) as usize;
        let mut tail = [0u8; 3];
        f.read_exact_at(&mut tail[..n], len - n as u64)
            .map_err(&err)?;
        let tail = &tail[..n];
        let eol: &[u8] = if tail.ends_with(b"\r\n") {
            b"\r\n"
        } else {
            b"\n"
        };
        if !(tail.ends_with(b"\n\n")
            || tail.ends_with(b"\n\r\n")
            || tail == b"\n"
            || tail == b"\r\n")
        {
            if !tail.ends_with(b"\n") {
                out.extend_from_slice(eol);
            }
            out.extend_from_slice(eol);
        }
    }
    let first = len + out.len() as u64;
    for m in messages {
        push_message(&mut out, m);
    }
    let res = f.write_all_at(&out, len).and_then(|()| f.sync_data());
    if let Err(e) = res {
        let _ = f.set_len(len);
        let _ = f.sync_data();
        return Err(err(e));
    }
    Ok(first)
}

/// Puts `messages` (each with its `From_` line, as from [`Mbox::read_raw`], possibly after
/// [`with_status`]) before the existing content of the mbox at `path`: POSIX mailx's way of
/// saving to `MBOX` when `append` is unset.
///
/// A symlinked `path` is followed; the target is locked (dotlock + `fcntl`, see `lock`) for
/// the whole operation. When the target is missing or empty this is exactly [`append`].
/// Otherwise the messages, separated and `>From`-quoted as by [`append`], followed by the old
/// bytes verbatim, are written to a temporary file `.<name>.rmail-tmp.<pid>.<n>` in the
/// target's directory, which gets the old file's mode (and owner and group when running as
/// root), is fsync'ed and renamed over the target; then the directory is fsync'ed. The old
/// file stays whole until the atomic rename, so a crash at any point loses nothing (a
/// leftover temporary file is removed by the next [`Mbox::open`] of that mailbox).
///
/// When the directory does not let us create the temporary file (EACCES, EPERM, EROFS) the
/// messages are appended instead, under the same lock, and no error is reported: the mail
/// is kept, only its order differs. Old bytes that do not start with a `From_` line (garbage
/// before the first message) end up in the body of the last new message.
///
/// Writers that take only the `fcntl` lock and opened the old file before the rename would
/// append to the replaced inode; Postfix, procmail and mailx also take the dotlock, which
/// covers them. Errors: `Locked`, `Io` (naming the file that failed).
pub fn prepend(path: &Path, messages: &[Vec<u8>]) -> Result<(), StoreError> {
    let target = match std::fs::canonicalize(path) {
        Ok(t) => t,
        // Missing (or a dangling symlink, which `open` follows when creating).
        Err(e) if e.kind() == io::ErrorKind::NotFound => path.to_owned(),
        Err(e) => return Err(io_at(path)(e)),
    };
    let _critical = Critical::enter();
    let f = open_for_append(&target)?;
    let _lock = MailboxLock::acquire(&f, &target)?;
    let err = io_at(&target);
    let len = f.metadata().map_err(&err)?.len();
    if len == 0 {
        return append_locked(&f, &target, messages).map(|_| ());
    }
    if messages.is_empty() {
        return Ok(());
    }
    let tmp = rewrite::temp_sibling(&target);
    let tf = match File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
    {
        Ok(t) => t,
        Err(e) if is_permission(&e) => return append_locked(&f, &target, messages).map(|_| ()),
        Err(e) => return Err(io_at(&tmp)(e)),
    };
    let res = write_prepended(&f, &target, &tf, &tmp, messages, len);
    let res = res.and_then(|()| {
        std::fs::rename(&tmp, &target).map_err(io_at(&tmp))?;
        rewrite::sync_dir(&target).map_err(io_at(&rewrite::dir_of(&target)))
    });
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

/// [`prepend`]'s temporary file: new messages, then `old[0..)` verbatim (re-read until its
/// length is stable), the old mode and owner, fsync'ed.
fn write_prepended(
    old: &File,
    target: &Path,
    tf: &File,
    tmp: &Path,
    messages: &[Vec<u8>],
    len: u64,
) -> Result<(), StoreError> {
    let terr = io_at(tmp);
    let mut out = Vec::new();
    for m in messages {
        push_message(&mut out, m);
    }
    let mut w = io::BufWriter::with_capacity(1 << 20, tf);
    w.write_all(&out).map_err(&terr)?;
    let mut done = 0;
    let mut len = len;
    // A writer that ignores the lock may still be appending: copy until the length is stable.
    while done < len {
        rewrite::copy_range(old, done, len, &mut w).map_err(io_at(target))?;
        done = len;
        len = old.metadata().map_err(io_at(target))?.len();
    }
    w.flush().map_err(&terr)?;
    drop(w);
    let meta = old.metadata().map_err(io_at(target))?;
    if rustix::process::geteuid().is_root() {
        std::os::unix::fs::fchown(tf, Some(meta.uid()), Some(meta.gid())).map_err(&terr)?;
    }
    tf.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(
        meta.mode() & 0o7777,
    ))
    .map_err(&terr)?;
    tf.sync_all().map_err(&terr)
}

/// EACCES, EPERM or EROFS: the directory (or file) does not let us write.
pub(crate) fn is_permission(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EACCES) | Some(libc::EPERM) | Some(libc::EROFS)
    )
}

/// Appends one message in mbox form to `out` (see [`append`]).
fn push_message(out: &mut Vec<u8>, m: &[u8]) {
    let first_end = memchr::memchr(b'\n', m).map_or(m.len(), |i| i + 1);
    let has_from = from_line::is_from_line(&m[..first_end]);
    let crlf = m[..first_end].ends_with(b"\r\n");
    let eol: &[u8] = if crlf { b"\r\n" } else { b"\n" };
    let mut rest = m;
    if has_from {
        out.extend_from_slice(&m[..first_end]);
        if !m[..first_end].ends_with(b"\n") {
            out.extend_from_slice(eol);
        }
        rest = &m[first_end..];
    } else {
        let now = chrono::Local::now().format("%a %b %e %H:%M:%S %Y");
        out.extend_from_slice(format!("From MAILER-DAEMON {now}").as_bytes());
        out.extend_from_slice(eol);
    }
    let mut prev_blank = false;
    for line in rest.split_inclusive(|&b| b == b'\n') {
        if prev_blank && from_line::is_from_line(line) {
            out.push(b'>');
        }
        out.extend_from_slice(line);
        prev_blank = line == b"\n" || line == b"\r\n";
    }
    if !out.ends_with(b"\n") {
        out.extend_from_slice(eol);
    }
    if !(out.ends_with(b"\n\n") || out.ends_with(b"\n\r\n")) {
        out.extend_from_slice(eol);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    const F1: &str = "From a@b Fri Mar 22 13:10:55 2024\n";
    const F2: &str = "From c@d Sat Mar 23 09:00:00 2024\n";

    fn mk(content: &[u8]) -> (tempfile::TempDir, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("mbox");
        fs::write(&p, content).unwrap();
        (d, p)
    }

    fn open(content: &[u8]) -> (tempfile::TempDir, Mbox) {
        let (d, p) = mk(content);
        let m = Mbox::open(&p).unwrap();
        (d, m)
    }

    fn msg(from: &str, hdr: &str, body: &str) -> String {
        format!("{from}{hdr}\n{body}\n")
    }

    fn summary(m: &Mbox) -> Vec<(u64, u64, u32)> {
        (0..m.len())
            .map(|i| (m.meta(i).offset, m.meta(i).len, m.meta(i).lines))
            .collect()
    }

    #[test]
    fn two_messages_sizes_like_snail() {
        let text = format!("{F1}Subject: x\n\nbody\n\n{F2}Subject: y\n\nb\n");
        let (_d, m) = open(text.as_bytes());
        assert_eq!(m.len(), 2);
        // s-nail -H prints 5/52 and 4/48 for this file.
        assert_eq!((m.meta(0).lines, m.meta(0).len), (5, 52));
        assert_eq!((m.meta(1).lines, m.meta(1).len), (4, 48));
        assert_eq!(m.field(0, Field::Subject), Some(&b"x"[..]));
        assert_eq!(
            m.field(1, Field::FromLine),
            Some(&b"c@d Sat Mar 23 09:00:00 2024"[..])
        );
        assert_eq!(m.from_line(1).unwrap().sender, "c@d");
        assert_eq!(m.read_message(0).unwrap(), b"Subject: x\n\nbody\n");
        assert_eq!(
            m.read_raw(1).unwrap(),
            format!("{F2}Subject: y\n\nb\n").as_bytes()
        );
    }

    #[test]
    fn body_lines_that_are_not_separators() {
        let text = format!(
            "{F1}Subject: x\n\nFrom the shed at 10:00\n\nFrom the shed at 10:00\nFrom: x\n{F2}\n>From a\n\n{F2}S: 2\n\nz\n"
        );
        let (_d, m) = open(text.as_bytes());
        assert_eq!(m.len(), 2, "{:?}", summary(&m));
        let body = m.read_message(0).unwrap();
        assert!(
            body.ends_with(format!("From: x\n{F2}\nFrom a\n").as_bytes()),
            "{}",
            String::from_utf8_lossy(&body)
        );
    }

    #[test]
    fn separator_right_after_header() {
        let text = format!("{F1}Subject: x\n\n{F2}Subject: y\n\nb\n");
        let (_d, m) = open(text.as_bytes());
        assert_eq!(m.len(), 2);
        assert_eq!(m.read_message(0).unwrap(), b"Subject: x\n");
    }

    #[test]
    fn content_length_true_and_lying() {
        let body = format!("a\n\n{F2}inside\n");
        let honest = format!(
            "{F1}Content-Length: {}\n\n{body}\n{F2}S: 2\n\nz\n",
            body.len()
        );
        let (_d, m) = open(honest.as_bytes());
        assert_eq!(m.len(), 2, "{:?}", summary(&m));
        assert_eq!(
            m.meta(0).len as usize,
            honest.len() - format!("{F2}S: 2\n\nz\n").len()
        );
        // Honest count up to EOF.
        let last = format!("{F1}Content-Length: {}\n\n{body}", body.len());
        let (_d, m) = open(last.as_bytes());
        assert_eq!(m.len(), 1);
        // Lying counts (too short, too long, off by one) are ignored.
        for n in [3, body.len() + 1000, body.len() - 1, body.len() + 2] {
            let lying = format!("{F1}Content-Length: {n}\n\n{body}\n{F2}S: 2\n\nz\n");
            let (_d, m) = open(lying.as_bytes());
            assert_eq!(m.len(), 3, "n={n} {:?}", summary(&m));
        }
    }

    #[test]
    fn crlf_file() {
        let text = format!("{F1}Subject: x\n\nl1\n>From q\n\n{F2}Subject: y\n To: z\n\nb\n")
            .replace('\n', "\r\n");
        let (_d, m) = open(text.as_bytes());
        assert_eq!(m.len(), 2);
        assert_eq!(m.field(0, Field::Subject), Some(&b"x"[..]));
        assert_eq!(m.field(1, Field::Subject), Some(&b"y\n To: z"[..]));
        assert_eq!(
            m.field(0, Field::FromLine),
            Some(&b"a@b Fri Mar 22 13:10:55 2024"[..])
        );
        assert_eq!(m.read_message(0).unwrap(), b"Subject: x\n\nl1\nFrom q\n");
        assert_eq!(m.meta(0).from_line_len as usize, F1.len() + 1);
    }

    #[test]
    fn no_final_newline_and_empty() {
        let (_d, m) = open(format!("{F1}Subject: x\n\nbody").as_bytes());
        assert_eq!(m.len(), 1);
        assert_eq!(m.meta(0).lines, 3);
        assert_eq!(m.read_message(0).unwrap(), b"Subject: x\n\nbody");
        let (_d, m) = open(b"");
        assert!(m.is_empty());
        let (_d, m) = open(F1.trim_end().as_bytes());
        assert_eq!(m.len(), 1);
        let (_d, m) = open(format!("{F1}Subject: no body").as_bytes());
        assert_eq!(m.field(0, Field::Subject), Some(&b"no body"[..]));
        assert!(matches!(
            Mbox::open(Path::new("/nonexistent/x")),
            Err(StoreError::NotFound(_))
        ));
    }

    #[test]
    fn garbage_prefix() {
        let text = format!("junk\n{F1}not a separator\n\n{F1}S: 1\n\nx\n");
        let (_d, m) = open(text.as_bytes());
        assert_eq!(m.len(), 1);
        assert_eq!(m.prefix_len() as usize, text.find("\n\nFrom").unwrap() + 2);
    }

    #[test]
    fn huge_header_and_8bit() {
        let mut t = F1.as_bytes().to_vec();
        for k in 0..5000 {
            t.extend_from_slice(format!("X-H{k}: v\n").as_bytes());
        }
        t.extend_from_slice(b"Subject: \xe4\xbd\xa0\xff\xfe\n\nbody\n");
        let (_d, m) = open(&t);
        assert_eq!(m.len(), 1);
        assert_eq!(
            m.field(0, Field::Subject),
            Some(&b"\xe4\xbd\xa0\xff\xfe"[..])
        );
        assert_eq!(m.meta(0).lines, 5004);
    }

    #[test]
    fn status_and_xstatus() {
        let text = format!("{F1}Status: RO\nX-Status: AF\n\nx\n\n{F2}Status: O\n\ny\n\n{F1}\nz\n");
        let (_d, m) = open(text.as_bytes());
        assert_eq!(
            m.meta(0).status,
            Status {
                read: true,
                old: true
            }
        );
        assert_eq!(
            m.meta(1).status,
            Status {
                read: false,
                old: true
            }
        );
        assert_eq!(m.meta(2).status, Status::default());
        let x = m.meta(0).xstatus();
        assert!(x.answered && x.flagged && !x.draft);
    }

    #[test]
    fn unquoting() {
        assert_eq!(
            unquote(b"a\n>From x\n>>From y\n> From z\n>Fromage\n\n"),
            b"a\nFrom x\n>From y\n> From z\n>Fromage\n"
        );
        assert_eq!(unquote(b"a\r\nb\r\n\r\n"), b"a\nb\n");
        assert_eq!(unquote(b"a\rb\n"), b"a\rb\n");
    }

    #[test]
    fn with_status_cases() {
        let r = with_status(
            format!("{F1}Subject: x\nStatus: O\nTo: y\n\nStatus: body\n").as_bytes(),
            Status {
                read: true,
                old: true,
            },
        );
        assert_eq!(
            r,
            format!("{F1}Subject: x\nTo: y\nStatus: RO\n\nStatus: body\n").as_bytes()
        );
        let r = with_status(
            format!("{F1}status: R\n  cont\nA: b\n\nx\n").as_bytes(),
            Status {
                read: false,
                old: true,
            },
        );
        assert_eq!(r, format!("{F1}A: b\nStatus: O\n\nx\n").as_bytes());
        let r = with_status(
            format!("{F1}Status: RO\n\nx\n").as_bytes(),
            Status::default(),
        );
        assert_eq!(r, format!("{F1}\nx\n").as_bytes());
        let crlf = format!("{F1}A: b\n\nx\n").replace('\n', "\r\n");
        let r = with_status(
            crlf.as_bytes(),
            Status {
                read: true,
                old: false,
            },
        );
        assert_eq!(
            r,
            format!("{F1}A: b\nStatus: R\n\nx\n")
                .replace('\n', "\r\n")
                .as_bytes()
        );
        let r = with_status(
            format!("{F1}A: b").as_bytes(),
            Status {
                read: true,
                old: true,
            },
        );
        assert_eq!(r, format!("{F1}A: b\nStatus: RO\n").as_bytes());
        let r = with_status(
            b"A: b\n\nx",
            Status {
                read: true,
                old: true,
            },
        );
        assert_eq!(r, b"A: b\nStatus: RO\n\nx");
        let _ = with_status(
            b"",
            Status {
                read: true,
                old: true,
            },
        );
        let _ = with_status(
            b"\n",
            Status {
                read: true,
                old: true,
            },
        );
    }

    fn keep(read: bool, old: bool) -> Disposition {
        Disposition::Keep(Status { read, old })
    }

    #[test]
    fn write_back_deletes_sets_status_keeps_arrivals() {
        let m1 = msg(F1, "Subject: 1\nStatus: O\n", "one");
        let m2 = msg(F2, "Subject: 2\n", "two");
        let m3 = msg(F1, "Subject: 3\n", "three\n>From x");
        let (_d, p) = mk(format!("junk\n\n{m1}\n{m2}\n{m3}").as_bytes());
        let ino = fs::metadata(&p).unwrap().ino();
        let mut mb = Mbox::open(&p).unwrap();
        assert_eq!(mb.len(), 3);
        // Mail arrives after the snapshot.
        let m4 = msg(F2, "Subject: 4\n", "four");
        append(&p, &[m4.clone().into_bytes()]).unwrap();
        let wb = mb
            .write_back(&[keep(true, true), Disposition::Delete, keep(false, true)])
            .unwrap();
        assert_eq!(
            wb,
            WriteBack {
                kept: 2,
                removed: 1,
                arrived: 1,
                written: true
            }
        );
        let got = fs::read_to_string(&p).unwrap();
        let want = format!(
            "junk\n\n{F1}Subject: 1\nStatus: RO\n\none\n\n{F1}Subject: 3\nStatus: O\n\nthree\n>From x\n\n{m4}\n"
        );
        assert_eq!(got, want);
        assert_eq!(fs::metadata(&p).unwrap().ino(), ino);
        assert_eq!(mb.len(), 3);
        assert_eq!(mb.field(2, Field::Subject), Some(&b"4"[..]));
        assert!(!rewrite::recovery_path(&p).exists());
        assert!(!super::super::lock::dotlock_path(&p).exists());
    }

    #[test]
    fn write_back_nothing_changed_leaves_file_alone() {
        let text = format!("{}\n{}", msg(F1, "Status: RO\n", "a"), msg(F2, "", "b"));
        let (_d, p) = mk(text.as_bytes());
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let mut mb = Mbox::open(&p).unwrap();
        let wb = mb
            .write_back(&[keep(true, true), keep(false, false)])
            .unwrap();
        assert!(!wb.written);
        assert_eq!(fs::read_to_string(&p).unwrap(), text);
        assert_eq!(fs::metadata(&p).unwrap().modified().unwrap(), old);
        // An empty plan means "as on disk" too.
        assert!(!mb.write_back(&[]).unwrap().written);
    }

    #[test]
    fn write_back_crlf_and_missing_final_newline() {
        let text = format!("{F1}A: 1\n\nx\n\n{F2}A: 2\n\ny").replace('\n', "\r\n");
        let (_d, p) = mk(text.as_bytes());
        let mut mb = Mbox::open(&p).unwrap();
        mb.write_back(&[keep(true, false), keep(true, false)])
            .unwrap();
        let want = format!("{F1}A: 1\nStatus: R\n\nx\n\n{F2}A: 2\nStatus: R\n\ny\n\n")
            .replace('\n', "\r\n");
        assert_eq!(fs::read_to_string(&p).unwrap(), want);
        assert_eq!(mb.len(), 2);
    }

    #[test]
    fn write_back_delete_all_truncates() {
        let (_d, p) = mk(format!("{}\n{}", msg(F1, "", "a"), msg(F2, "", "b")).as_bytes());
        let mut mb = Mbox::open(&p).unwrap();
        let wb = mb
            .write_back(&[Disposition::Delete, Disposition::Delete])
            .unwrap();
        assert_eq!((wb.removed, wb.written), (2, true));
        assert_eq!(fs::metadata(&p).unwrap().len(), 0);
        assert!(mb.is_empty());
    }

    #[test]
    fn write_back_refuses_changed_file() {
        let text = format!("{}\n{}", msg(F1, "", "a"), msg(F2, "", "b"));
        let (_d, p) = mk(text.as_bytes());
        let mut mb = Mbox::open(&p).unwrap();
        // Shrunk.
        fs::write(&p, &text.as_bytes()[..10]).unwrap();
        assert!(matches!(
            mb.write_back(&[Disposition::Delete]),
            Err(StoreError::Changed(_))
        ));
        assert_eq!(fs::read(&p).unwrap(), &text.as_bytes()[..10]);
        // Same length, rewritten by someone else (offsets no longer at From_).
        let mb = Mbox::open(&p).unwrap();
        let other = format!("{}\n{}", msg(F1, "", "aaaa"), msg(F2, "", "b"));
        fs::write(&p, other.as_bytes()).unwrap();
        let mut mb2 = Mbox::open(&p).unwrap();
        let longer = format!("X{other}");
        File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .write_all_at(longer.as_bytes(), 0)
            .unwrap();
        assert!(matches!(
            mb2.write_back(&[Disposition::Delete]),
            Err(StoreError::Changed(_))
        ));
        assert_eq!(fs::read_to_string(&p).unwrap(), longer);
        let _ = mb.len();
    }

    #[test]
    fn check_new_indexes_appended_mail() {
        let (_d, p) = mk(msg(F1, "Subject: 1\n", "a").as_bytes());
        let mut mb = Mbox::open(&p).unwrap();
        assert_eq!(mb.check_new().unwrap(), 0);
        append(
            &p,
            &[
                msg(F2, "Subject: 2\n", "b").into_bytes(),
                msg(F1, "Subject: 3\n", "c").into_bytes(),
            ],
        )
        .unwrap();
        assert_eq!(mb.check_new().unwrap(), 2);
        assert_eq!(mb.len(), 3);
        assert_eq!(mb.field(2, Field::Subject), Some(&b"3"[..]));
        let fresh = Mbox::open(&p).unwrap();
        assert_eq!(summary(&fresh), summary(&mb));
    }

    #[test]
    fn append_creates_0600_and_separates() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("new");
        append(
            &p,
            &[
                format!("{F1}A: b\n\nx").into_bytes(),
                b"Subject: no from\n\nbody\n\nFrom a@b Fri Mar 22 13:10:55 2024\n".to_vec(),
            ],
        )
        .unwrap();
        assert_eq!(fs::metadata(&p).unwrap().mode() & 0o777, 0o600);
        let mb = Mbox::open(&p).unwrap();
        assert_eq!(mb.len(), 2);
        assert_eq!(mb.from_line(1).unwrap().sender, "MAILER-DAEMON");
        assert!(mb
            .read_message(1)
            .unwrap()
            .ends_with(b"\nFrom a@b Fri Mar 22 13:10:55 2024\n"));
        // Existing file without final newline.
        let q = d.path().join("old");
        fs::write(&q, format!("{F1}\nx")).unwrap();
        append(&q, &[format!("{F2}\ny\n").into_bytes()]).unwrap();
        assert_eq!(
            fs::read_to_string(&q).unwrap(),
            format!("{F1}\nx\n\n{F2}\ny\n\n")
        );
    }

    /// Writes a recovery file by hand as `rewrite::commit` would have, then "crashes".
    fn fake_recovery(p: &Path, old: &[u8], new: &[u8]) {
        let mut r = new.to_vec();
        let s = if new.len() < old.len() {
            &old[new.len()..old.len().min(new.len() + 4096)]
        } else {
            &b""[..]
        };
        r.extend_from_slice(s);
        r.extend_from_slice(
            format!("rmail-recover 1 {} {} {}\n", old.len(), new.len(), s.len()).as_bytes(),
        );
        fs::write(rewrite::recovery_path(p), r).unwrap();
    }

    #[test]
    fn recovery_after_crash() {
        let a = msg(F1, "Subject: a\n", "aaaa");
        let b = msg(F2, "Subject: b\n", "bbbb");
        let c = msg(F1, "Subject: c\n", "cccc");
        let arrived = msg(F2, "Subject: late\n", "zz");
        let old = format!("{a}\n{b}\n{c}\n");
        // Shrinking rewrite (b deleted) and growing one (status added).
        let shrink = format!("{a}\n{c}\n");
        let grow = format!(
            "{}\n{}\n{}\n",
            msg(F1, "Subject: a\nStatus: RO\n", "aaaa"),
            msg(F2, "Subject: b\nStatus: RO\n", "bbbb"),
            msg(F1, "Subject: c\nStatus: RO\n", "cccc")
        );
        for new in [&shrink, &grow] {
            let (o, n) = (old.as_bytes(), new.as_bytes());
            // Crash states of the mailbox, each possibly followed by a delivery.
            let mut states: Vec<Vec<u8>> = vec![o.to_vec()];
            for cut in [1, n.len().min(o.len()) / 2, n.len().min(o.len())] {
                let mut s = o.to_vec();
                s[..cut].copy_from_slice(&n[..cut]);
                states.push(s);
            }
            if n.len() > o.len() {
                states.push(n[..o.len() + 3].to_vec());
            }
            states.push(n.to_vec());
            for st in &states {
                for late in [false, true] {
                    let mut content = st.clone();
                    if late {
                        content.extend_from_slice(format!("{arrived}\n").as_bytes());
                    }
                    let (_d, p) = mk(&content);
                    fake_recovery(&p, o, n);
                    let dead_tmp = p.with_file_name(".mbox.rmail-tmp.999999999.0");
                    fs::write(&dead_tmp, b"partial").unwrap();
                    let mb = Mbox::open(&p).unwrap();
                    let mut want = new.to_string();
                    if late {
                        want.push_str(&format!("{arrived}\n"));
                    }
                    assert_eq!(
                        fs::read_to_string(&p).unwrap(),
                        want,
                        "state {:?} late {late}",
                        String::from_utf8_lossy(st)
                    );
                    assert!(!rewrite::recovery_path(&p).exists());
                    assert!(!dead_tmp.exists());
                    assert_eq!(mb.len(), 2 + usize::from(new == &grow) + usize::from(late));
                }
            }
        }
    }

    #[test]
    fn index_entry_is_compact() {
        assert!(std::mem::size_of::<MessageMeta>() <= 48);
    }

    #[test]
    fn check_new_after_missing_final_newline() {
        let (_d, p) = mk(format!("{F1}A: 1\n\nno newline").as_bytes());
        let mut mb = Mbox::open(&p).unwrap();
        append(&p, &[format!("{F2}A: 2\n\nb\n").into_bytes()]).unwrap();
        assert_eq!(mb.check_new().unwrap(), 1);
        let fresh = Mbox::open(&p).unwrap();
        assert_eq!(summary(&fresh), summary(&mb));
        assert_eq!(mb.read_message(0).unwrap(), b"A: 1\n\nno newline\n");
        // Shrunk behind our back.
        fs::write(&p, b"").unwrap();
        assert!(matches!(mb.check_new(), Err(StoreError::Changed(_))));
    }

    #[test]
    fn write_back_of_large_header_message() {
        let mut big = String::from(F1);
        for k in 0..20_000 {
            big.push_str(&format!("X-Long-Header-{k}: value value value\n"));
        }
        big.push_str("\nbody\n");
        let (_d, p) = mk(big.as_bytes());
        let mut mb = Mbox::open(&p).unwrap();
        mb.write_back(&[keep(true, false)]).unwrap();
        let got = fs::read_to_string(&p).unwrap();
        assert!(got.ends_with("value value value\nStatus: R\n\nbody\n\n"));
        assert_eq!(
            mb.meta(0).status,
            Status {
                read: true,
                old: false
            }
        );
    }

    #[test]
    fn prepend_puts_new_mail_first_and_keeps_old_bytes() {
        let old = format!(
            "{}\n{}\n{}",
            msg(F1, "Subject: o1\n", "one\n>From x\n\nFrom the shed at noon"),
            msg(F2, "Subject: o2\nStatus: RO\n", "two"),
            msg(F1, "Subject: o3\n", "three")
        );
        let (d, p) = mk(old.as_bytes());
        fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o640)).unwrap();
        let new = [
            msg(
                F2,
                "Subject: n1\n",
                "new one\n\nFrom a@b Fri Mar 22 13:10:55 2024",
            )
            .into_bytes(),
            format!("{F1}Subject: n2\n\nnew two").into_bytes(),
        ];
        prepend(&p, &new).unwrap();
        let got = fs::read(&p).unwrap();
        assert!(got.ends_with(old.as_bytes()));
        let head = &got[..got.len() - old.len()];
        assert_eq!(
            head,
            format!(
                "{F2}Subject: n1\n\nnew one\n\n>From a@b Fri Mar 22 13:10:55 2024\n\n{F1}Subject: n2\n\nnew two\n\n"
            )
            .as_bytes()
        );
        assert_eq!(fs::metadata(&p).unwrap().mode() & 0o7777, 0o640);
        let mb = Mbox::open(&p).unwrap();
        let subjects: Vec<_> = (0..mb.len())
            .map(|i| mb.field(i, Field::Subject).unwrap().to_vec())
            .collect();
        assert_eq!(
            subjects,
            [&b"n1"[..], b"n2", b"o1", b"o2", b"o3"].map(|s| s.to_vec())
        );
        assert!(mb
            .read_raw(2)
            .unwrap()
            .ends_with(b"one\n>From x\n\nFrom the shed at noon\n\n"));
        // No temporary or lock file left behind.
        let names: Vec<_> = fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["mbox"]);
    }

    #[test]
    fn prepend_follows_symlink() {
        let (d, p) = mk(msg(F1, "Subject: old\n", "x").as_bytes());
        let link = d.path().join("link");
        std::os::unix::fs::symlink("mbox", &link).unwrap();
        prepend(&link, &[msg(F2, "Subject: new\n", "y").into_bytes()]).unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        let mb = Mbox::open(&link).unwrap();
        assert_eq!(mb.len(), 2);
        assert_eq!(mb.field(0, Field::Subject), Some(&b"new"[..]));
        assert_eq!(mb.field(1, Field::Subject), Some(&b"old"[..]));
        assert!(!super::super::lock::dotlock_path(&p).exists());
    }

    #[test]
    fn prepend_to_missing_or_empty_file_is_append() {
        let d = tempfile::tempdir().unwrap();
        let msgs = [
            format!("{F1}A: b\n\nx").into_bytes(),
            b"Subject: no from\n\nbody\n".to_vec(),
        ];
        let (p, q) = (d.path().join("p"), d.path().join("q"));
        prepend(&p, &msgs).unwrap();
        append(&q, &msgs).unwrap();
        let strip = |b: Vec<u8>| -> Vec<u8> {
            // The MAILER-DAEMON date may differ by a second.
            let s = String::from_utf8(b).unwrap();
            s.lines()
                .filter(|l| !l.starts_with("From MAILER-DAEMON"))
                .collect::<Vec<_>>()
                .join("\n")
                .into_bytes()
        };
        assert_eq!(strip(fs::read(&p).unwrap()), strip(fs::read(&q).unwrap()));
        assert_eq!(fs::metadata(&p).unwrap().mode() & 0o777, 0o600);
        let (_d, e) = mk(b"");
        prepend(&e, &msgs[..1]).unwrap();
        assert_eq!(
            fs::read_to_string(&e).unwrap(),
            format!("{F1}A: b\n\nx\n\n")
        );
        // Nothing to prepend: the file is not touched.
        let (_d, o) = mk(b"From a@b Fri Mar 22 13:10:55 2024\n\nx");
        prepend(&o, &[]).unwrap();
        assert_eq!(
            fs::read(&o).unwrap(),
            b"From a@b Fri Mar 22 13:10:55 2024\n\nx"
        );
    }

    /// True when permission bits are enforced on us (not root); else prints why a test is
    /// skipped.
    fn permissions_enforced(test: &str) -> bool {
        if rustix::process::geteuid().is_root() {
            eprintln!("{test}: skipped: root bypasses directory permissions");
            return false;
        }
        true
    }

    #[test]
    fn prepend_in_read_only_directory_appends() {
        if !permissions_enforced("prepend_in_read_only_directory_appends") {
            return;
        }
        let (d, p) = mk(msg(F1, "Subject: old\n", "x").as_bytes());
        fs::set_permissions(
            d.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o555),
        )
        .unwrap();
        let res = prepend(&p, &[msg(F2, "Subject: new\n", "y").into_bytes()]);
        fs::set_permissions(
            d.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        res.unwrap();
        let mb = Mbox::open(&p).unwrap();
        assert_eq!(mb.len(), 2);
        assert_eq!(mb.field(1, Field::Subject), Some(&b"new"[..]));
    }

    #[test]
    fn write_back_in_read_only_directory_uses_private_dir() {
        if !permissions_enforced("write_back_in_read_only_directory_uses_private_dir") {
            return;
        }
        use std::os::unix::fs::PermissionsExt;
        let state = tempfile::tempdir().unwrap();
        let private = state.path().join("rmail").join("recover");
        rewrite::tests::set_private_dir(Some(private.clone()));
        let text = format!(
            "{}\n{}",
            msg(F1, "Subject: 1\n", "a"),
            msg(F2, "Subject: 2\n", "b")
        );
        let (d, p) = mk(text.as_bytes());
        let ino = fs::metadata(&p).unwrap().ino();
        fs::set_permissions(d.path(), fs::Permissions::from_mode(0o555)).unwrap();
        let res = (|| {
            let mut mb = Mbox::open(&p)?;
            mb.write_back(&[keep(true, false), Disposition::Delete])
        })();
        let names: Vec<_> = fs::read_dir(&private)
            .map(|r| r.map(|e| e.unwrap().file_name()).collect())
            .unwrap_or_default();
        // A private directory that is not there at all makes the error name it.
        rewrite::tests::set_private_dir(Some(Path::new("/dev/null/rmail").to_owned()));
        let denied = Mbox::open(&p).and_then(|mut mb| mb.write_back(&[Disposition::Delete]));
        rewrite::tests::set_private_dir(None);
        fs::set_permissions(d.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let wb = res.unwrap();
        assert_eq!((wb.kept, wb.removed, wb.written), (1, 1, true));
        assert_eq!(
            fs::read_to_string(&p).unwrap(),
            format!("{F1}Subject: 1\nStatus: R\n\na\n\n")
        );
        assert_eq!(fs::metadata(&p).unwrap().ino(), ino);
        assert!(names.is_empty(), "{names:?}");
        assert_eq!(
            fs::metadata(&private).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let e = denied.unwrap_err().to_string();
        assert!(e.contains("/dev/null/rmail"), "{e}");
        assert_eq!(
            fs::read_to_string(&p).unwrap(),
            format!("{F1}Subject: 1\nStatus: R\n\na\n\n")
        );
    }

    #[test]
    fn recovery_file_in_private_dir_is_found() {
        let state = tempfile::tempdir().unwrap();
        rewrite::tests::set_private_dir(Some(state.path().to_owned()));
        let a = msg(F1, "Subject: a\n", "aaaa");
        let b = msg(F2, "Subject: b\n", "bbbb");
        let old = format!("{a}\n{b}\n");
        let new = format!("{a}\n");
        // Crashed halfway through the overwrite: first bytes new, length old.
        let mut state_bytes = old.clone().into_bytes();
        state_bytes[..3].copy_from_slice(&new.as_bytes()[..3]);
        let (_d, p) = mk(&state_bytes);
        fake_recovery(&p, old.as_bytes(), new.as_bytes());
        let private = rewrite::private_recovery_path(&p).unwrap();
        fs::rename(rewrite::recovery_path(&p), &private).unwrap();
        let dead_tmp = state.path().join(format!(
            "{}.rmail-tmp.999999999.0",
            rewrite::private_name(&p)
        ));
        fs::write(&dead_tmp, b"partial").unwrap();
        let mb = Mbox::open(&p);
        rewrite::tests::set_private_dir(None);
        assert_eq!(mb.unwrap().len(), 1);
        assert_eq!(fs::read_to_string(&p).unwrap(), new);
        assert!(!private.exists());
        assert!(!dead_tmp.exists());
    }

    #[test]
    fn writers_restore_the_signal_mask() {
        use super::super::critical::tests::{current_mask, same};
        let before = current_mask();
        let (_d, p) = mk(format!("{}\n{}", msg(F1, "", "a"), msg(F2, "", "b")).as_bytes());
        append(&p, &[msg(F1, "", "c").into_bytes()]).unwrap();
        assert!(same(&before, &current_mask()));
        prepend(&p, &[msg(F1, "", "d").into_bytes()]).unwrap();
        assert!(same(&before, &current_mask()));
        let mut mb = Mbox::open(&p).unwrap();
        mb.write_back(&[Disposition::Delete]).unwrap();
        assert!(same(&before, &current_mask()));
        // Also on the error path.
        fs::write(&p, b"").unwrap();
        assert!(mb.write_back(&[Disposition::Delete]).is_err());
        assert!(same(&before, &current_mask()));
    }

    #[test]
    fn read_after_another_program_changed_the_file() {
        let text = format!("{}\n{}", msg(F1, "", "a"), msg(F2, "", "b"));
        let (_d, p) = mk(text.as_bytes());
        let mb = Mbox::open(&p).unwrap();
        // Rewritten in place: message 2 no longer starts where it did.
        fs::write(&p, format!("X{text}")).unwrap();
        let e = mb.read_raw(1).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("changed by another program"), "{e}");
        // Truncated.
        fs::write(&p, &text.as_bytes()[..10]).unwrap();
        for e in [mb.read_raw(1).unwrap_err(), mb.read_message(0).unwrap_err()] {
            assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
            let t = e.to_string();
            assert!(t.contains("changed by another program"), "{t}");
            assert!(t.contains(&p.display().to_string()), "{t}");
            assert!(!t.contains("fill whole buffer"), "{t}");
        }
    }

    #[test]
    fn mailbox_without_write_permission_is_read_only() {
        use std::os::unix::fs::PermissionsExt;
        let text = format!("{}\n{}", msg(F1, "", "a"), msg(F2, "", "b"));
        let (d, p) = mk(text.as_bytes());
        assert!(!Mbox::open(&p).unwrap().is_read_only());
        fs::set_permissions(&p, fs::Permissions::from_mode(0o444)).unwrap();
        let mut mb = Mbox::open(&p).unwrap();
        assert!(mb.is_read_only());
        assert_eq!(mb.len(), 2);
        assert_eq!(mb.read_message(1).unwrap(), b"\nb\n");
        // Nothing to write: fine.
        assert!(!mb.write_back(&[]).unwrap().written);
        let e = mb
            .write_back(&[Disposition::Delete, keep(true, true)])
            .unwrap_err();
        assert!(matches!(e, StoreError::ReadOnly(_)), "{e}");
        assert_eq!(
            e.to_string(),
            format!("cannot write {}: mailbox is read-only", p.display())
        );
        assert_eq!(fs::read_to_string(&p).unwrap(), text);
        assert_eq!(mb.len(), 2);
        let names: Vec<_> = fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["mbox"]);
    }
}
