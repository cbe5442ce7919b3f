//! A mailbox view for POP3 (RFC 1939) and IMAP (RFC 9051) sessions over one mbox file, with
//! persistent UIDs and flags: "one mailbox, one truth". The mail reader, s-nail, mutt,
//! Postfix local(8) and our MDA keep using the same file; nothing else holds state about it
//! except the UID side index ([`super::uidmap`], which explains why UIDs are not written into
//! the mbox).
//!
//! - **Flags** live in the message headers (`Status:`, `X-Status:`, `X-Keywords:`; see
//!   [`super::flags`]), so a message read with `rmail` is `\Seen` in IMAP and the other way
//!   round. [`MailboxView::set_flags`] changes them in memory; [`MailboxView::sync`] writes
//!   them with the reader's crash-safe [`Mbox::write_back_flags`].
//! - **Messages** are served as stored minus the mbox bookkeeping fields
//!   ([`super::flags::served`]), so that their bytes and sizes do not change with their flags;
//!   sizes are in octets as sent with CRLF line ends (IMAP `RFC822.SIZE`, POP3 `LIST`),
//!   cached in the side index: a message body is read once in its life for its size, not at
//!   every session.
//! - **Locking.** No lock is held between calls: the mailbox lock only inside the store's
//!   operations (open, write-back, append), the index lock ([`IndexLock`]) only while the
//!   index is matched and written. An idle IMAP session blocks no delivery.
//! - **Other writers.** [`MailboxView::refresh`] notices any change of the file (inode,
//!   length, mtime, ctime) and rescans it, reporting what IMAP must announce: messages
//!   expunged by others, new ones (`EXISTS`), flags changed by others (`FETCH FLAGS`). An idle
//!   poll of an unchanged mailbox costs one `stat`.
//!
//! Invariants: `len()` messages, in mailbox order, UIDs strictly ascending and below
//! `uidnext()`; a UID names the same message for as long as UIDVALIDITY stays.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use chrono::TimeZone;

use super::flags::{self, Flags, HeaderFlags};
use super::mbox::{self, FlagEdit, Mbox, StoreError};
use super::uidmap::{self, IndexLock, Loaded, UidIndex};

/// Errors of a mailbox view.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// The mbox could not be opened, locked, read or written (see [`StoreError`]);
    /// `StoreError::ReadOnly` when changes were asked of a read-only view.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A message could not be read for its size or keywords.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The mbox.
        path: PathBuf,
        /// The I/O error (kind `InvalidData` or `UnexpectedEof`: changed under us).
        source: io::Error,
    },
    /// The UID index could not be read, locked or written.
    #[error("cannot update UID index {path}: {source}")]
    Index {
        /// The index file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
}

/// What a session knows about one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageInfo {
    /// IMAP UID (RFC 9051 §2.3.1.1).
    pub uid: u32,
    /// Size as served ([`MailboxView::message`]) with CRLF line ends, octets.
    pub size_crlf: u64,
    /// System flags, including changes not yet written by [`MailboxView::sync`].
    pub flags: Flags,
    /// Keywords (valid IMAP atoms, no repeats), including changes not yet written.
    pub keywords: Vec<String>,
    /// Internal date (RFC 9051 §2.3.3): the `From_` line's date as local time, Unix seconds;
    /// 0 when that date is impossible.
    pub internal_date: i64,
    /// `\Recent` for this session: the message had no `Status: O` when this view first saw it.
    pub recent: bool,
}

/// What changed in a view at [`MailboxView::refresh`] or [`MailboxView::sync`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// UIDVALIDITY changed (index lost or corrupt): every message was replaced; an IMAP
    /// session must end (RFC 9051 §2.3.1.1), a POP3 one may go on.
    pub uidvalidity_changed: bool,
    /// Messages gone (removed by us or by others), as 0-based positions in the numbering
    /// before the call, in descending order: sending `* n+1 EXPUNGE` for each in turn is
    /// correct as is (RFC 9051 §7.5.1).
    pub expunged: Vec<usize>,
    /// Messages added at the end (for `* n EXISTS`, with `n` = [`MailboxView::len`]).
    pub arrived: usize,
    /// Messages whose flags or keywords another program changed, as 0-based positions in
    /// the numbering after the call, ascending (for `* n FETCH (FLAGS …)`).
    pub flags_changed: Vec<usize>,
}

/// The identity and times of the mbox file when last scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

/// What the view knows about the file since its last scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// The file did not exist.
    Missing,
    /// The file as scanned.
    File(Stamp),
    /// Changed while being scanned: scan again at the next refresh.
    Unknown,
}

/// One message as found on disk by a scan.
#[derive(Debug, Clone)]
struct Disk {
    uid: u32,
    size: u64,
    header: HeaderFlags,
    internal_date: i64,
}

/// One message of the view.
#[derive(Debug, Clone)]
struct Msg {
    info: MessageInfo,
    /// The `O` letter wanted at the next sync.
    old: bool,
    /// The flags as on disk.
    disk: HeaderFlags,
}

impl Msg {
    fn wanted(&self) -> HeaderFlags {
        HeaderFlags {
            flags: self.info.flags,
            old: self.old,
            keywords: self.info.keywords.clone(),
        }
    }

    fn pending(&self) -> bool {
        self.wanted() != self.disk
    }
}

/// An mbox seen by one POP3 or IMAP session (see the module doc).
#[derive(Debug)]
pub struct MailboxView {
    mbox_path: PathBuf,
    index_path: PathBuf,
    read_only: bool,
    /// `None` while the file does not exist (an empty mailbox).
    mbox: Option<Mbox>,
    seen: Seen,
    uidvalidity: u32,
    uidnext: u32,
    msgs: Vec<Msg>,
}

impl MailboxView {
    /// Opens the mbox at `mbox` (a missing file is an empty mailbox) with the UID index at
    /// `index` (its directory is created, mode 0700, when missing; the index is written
    /// whenever UIDs or cached sizes change, also for a read-only view). `read_only`: the
    /// mbox is never written (IMAP `EXAMINE`); a mailbox the user may not write is read-only
    /// anyway. Scans the mbox under its lock, matches the index and reads the bodies of
    /// messages whose size is not cached yet. Errors: [`ViewError`].
    pub fn open(mbox: &Path, index: &Path, read_only: bool) -> Result<MailboxView, ViewError> {
        let mut v = MailboxView {
            mbox_path: mbox.to_owned(),
            index_path: index.to_owned(),
            read_only,
            mbox: None,
            seen: Seen::Missing,
            uidvalidity: 0,
            uidnext: 1,
            msgs: Vec::new(),
        };
        let _lock = v.lock_index()?;
        let (ix, disk) = v.rescan()?.install(&mut v);
        v.uidvalidity = ix.uidvalidity;
        v.uidnext = ix.uidnext;
        v.msgs = disk.into_iter().map(new_msg).collect();
        Ok(v)
    }

    /// The mbox path.
    pub fn path(&self) -> &Path {
        &self.mbox_path
    }

    /// RFC 9051 §2.3.1.1 UIDVALIDITY (never 0).
    pub fn uidvalidity(&self) -> u32 {
        self.uidvalidity
    }

    /// The UID the next new message will get (RFC 9051 `UIDNEXT`).
    pub fn uidnext(&self) -> u32 {
        self.uidnext
    }

    /// Number of messages.
    pub fn len(&self) -> usize {
        self.msgs.len()
    }

    /// True when the mailbox holds no message.
    pub fn is_empty(&self) -> bool {
        self.msgs.is_empty()
    }

    /// Whether [`MailboxView::sync`] refuses changes: opened read-only, or the file is not
    /// writable by us (see [`Mbox::is_read_only`]).
    pub fn is_read_only(&self) -> bool {
        self.read_only || self.mbox.as_ref().is_some_and(Mbox::is_read_only)
    }

    /// Message `i` (0-based, IMAP sequence number − 1). Panics when `i >= len()`.
    pub fn info(&self, i: usize) -> &MessageInfo {
        &self.msgs[i].info
    }

    /// The 0-based position of the message with UID `uid` (binary search: UIDs ascend).
    pub fn seq_of_uid(&self, uid: u32) -> Option<usize> {
        self.msgs.binary_search_by_key(&uid, |m| m.info.uid).ok()
    }

    /// POP3 unique-id of message `i` (RFC 1939 §7 `UIDL`): 16 hex digits,
    /// UIDVALIDITY then UID, so it changes only when UIDVALIDITY does. Panics when
    /// `i >= len()`.
    pub fn uidl(&self, i: usize) -> String {
        format!("{:08x}{:08x}", self.uidvalidity, self.msgs[i].info.uid)
    }

    /// Message `i` as served: the stored message without its `From_` line, mboxrd-unquoted,
    /// with LF line ends, the mbox bookkeeping fields removed ([`flags::served`]); its
    /// CRLF size is `info(i).size_crlf`. Errors: kind `InvalidData` or `UnexpectedEof` when
    /// another program rewrote the file since the last scan ([`MailboxView::refresh`], then
    /// look the message up again by UID); other I/O errors. Panics when `i >= len()`.
    pub fn message(&self, i: usize) -> io::Result<Vec<u8>> {
        let _ = &self.msgs[i];
        match &self.mbox {
            Some(mb) => Ok(flags::served(&mb.read_message_checked(i)?)),
            None => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "mailbox {} was changed by another program; reopen it",
                    self.mbox_path.display()
                ),
            )),
        }
    }

    /// Sets the flags and keywords of message `i` in memory (IMAP `STORE`, POP3 `RETR`
    /// marking `\Seen`); written by the next [`MailboxView::sync`]. Invalid keywords
    /// ([`flags::is_keyword`]) and repeats are dropped. Panics when `i >= len()`.
    pub fn set_flags(&mut self, i: usize, flags: Flags, keywords: Vec<String>) {
        let m = &mut self.msgs[i];
        m.info.flags = flags;
        m.info.keywords = flags::clean_keywords(keywords);
    }

    /// Marks every message old (`Status: O`, not `\Recent` for later sessions), as mailx
    /// does when it quits; written by the next [`MailboxView::sync`] (this session's
    /// [`MessageInfo::recent`] stays). An IMAP server calls it after a read-write `SELECT`.
    pub fn clear_recent(&mut self) {
        for m in &mut self.msgs {
            m.old = true;
        }
    }

    /// Takes in what other programs did since the last scan: mail appended (new UIDs),
    /// messages removed, flags changed (a message with flags changed here and not synced
    /// keeps ours). Costs one `stat` when the file did not change; otherwise a full scan
    /// under the index lock. Errors: [`ViewError`] (the view is unchanged).
    pub fn refresh(&mut self) -> Result<Changes, ViewError> {
        if !self.changed_on_disk() {
            return Ok(Changes::default());
        }
        let _lock = self.lock_index()?;
        let old = self.msgs.clone();
        let (ix, disk) = self.rescan()?.install(self);
        Ok(self.merge(&old, ix, disk, true))
    }

    /// Writes the flags changed with [`MailboxView::set_flags`] and
    /// [`MailboxView::clear_recent`] into the mbox (`Status:`, `X-Status:`, `X-Keywords:`,
    /// only of the messages that changed) and removes the messages at positions `expunge`
    /// (0-based; out-of-range positions are ignored), with the reader's crash-safe
    /// write-back under the mailbox lock, keeping mail appended meanwhile; updates the index.
    /// Nothing to do → the file is not touched. When another program rewrote the file since
    /// the last scan, the view rescans and the changes are applied by UID.
    ///
    /// Returns every change relative to the numbering before the call: `expunged` includes
    /// the messages removed here. Errors: `Store(ReadOnly)` when there is something to write
    /// and the view is read-only (nothing written); other [`ViewError`]s.
    pub fn sync(&mut self, expunge: &[usize]) -> Result<Changes, ViewError> {
        let mut gone: Vec<u32> = expunge
            .iter()
            .filter_map(|&i| self.msgs.get(i).map(|m| m.info.uid))
            .collect();
        gone.sort_unstable();
        let work = !gone.is_empty() || self.msgs.iter().any(Msg::pending);
        if work && self.is_read_only() {
            return Err(StoreError::ReadOnly(self.mbox_path.clone()).into());
        }
        let _lock = self.lock_index()?;
        let mut replaced = false;
        let res = self.sync_locked(&gone, &mut replaced);
        if let Err(e) = &res {
            // The snapshot may no longer match the messages: scan again before serving more.
            if replaced || !matches!(e, ViewError::Store(StoreError::Locked(_))) {
                self.forget();
            }
        }
        res
    }

    /// The body of [`MailboxView::sync`], index lock held; `replaced` is set once the
    /// snapshot no longer matches `self.msgs`.
    fn sync_locked(&mut self, gone: &[u32], replaced: &mut bool) -> Result<Changes, ViewError> {
        let old = self.msgs.clone();
        let mut current = old.clone();
        if self.changed_on_disk() {
            let (ix, disk) = self.rescan()?.install(self);
            if ix.uidvalidity != self.uidvalidity {
                return Ok(self.merge(&old, ix, disk, true));
            }
            *replaced = true;
            current = carry_over(&old, disk);
        }
        for attempt in 0..2 {
            let plan = plan_for(&current, gone);
            let Some(mb) = self.mbox.as_mut() else {
                break;
            };
            match mb.write_back_flags(&plan) {
                Ok(_) => break,
                Err(StoreError::Changed(_)) if attempt == 0 => {
                    let (ix, disk) = self.rescan()?.install(self);
                    if ix.uidvalidity != self.uidvalidity {
                        return Ok(self.merge(&old, ix, disk, true));
                    }
                    *replaced = true;
                    current = carry_over(&old, disk);
                }
                Err(e) => return Err(e.into()),
            }
        }
        *replaced = true;
        let stamp = self.stamp_now()?;
        let (ix, disk, grew) = self.reconcile(self.mbox.as_ref())?;
        self.seen = if grew { Seen::Unknown } else { stamp };
        Ok(self.merge(&old, ix, disk, false))
    }

    /// After a failed write-back: the snapshot may no longer match the messages; drop it so
    /// that reads fail until [`MailboxView::refresh`] rescans.
    fn forget(&mut self) {
        self.mbox = None;
        self.seen = Seen::Unknown;
    }

    /// Appends `message` (RFC 5322, CRLF or LF line ends) to the mbox at `mbox` (created
    /// 0600 when missing) with the flags and keywords given (IMAP `APPEND` and `COPY`,
    /// RFC 9051 §6.3.12): a `From MAILER-DAEMON` line dated `internal_date` (Unix seconds,
    /// written as local time; `None`: now), the flag fields ([`flags::with_flags`], replacing
    /// any in the message), CRLF turned into LF, mboxrd `>From ` quoting; then the UID
    /// index at `index` is updated (one scan of the mbox). Returns the UIDVALIDITY and the
    /// message's UID for RFC 4315 `APPENDUID`; the UID is `None` in the rare case that
    /// another program rewrote the mailbox between the append and the scan (the message is
    /// stored all the same). Errors: [`ViewError`]; on an error from the append itself
    /// nothing is stored.
    pub fn append(
        mbox: &Path,
        index: &Path,
        message: &[u8],
        flags: Flags,
        keywords: Vec<String>,
        internal_date: Option<i64>,
    ) -> Result<(u32, Option<u32>), ViewError> {
        let raw = mbox_entry(message, flags, keywords, internal_date);
        let at = mbox::append_at(mbox, &[raw])?;
        let v = MailboxView::open(mbox, index, true)?;
        let uid = v
            .mbox
            .as_ref()
            .and_then(|mb| (0..mb.len()).find(|&i| mb.meta(i).offset == at))
            .map(|i| v.msgs[i].info.uid);
        Ok((v.uidvalidity, uid))
    }

    /// Takes the index lock.
    fn lock_index(&self) -> Result<IndexLock, ViewError> {
        IndexLock::acquire(&self.index_path).map_err(|e| self.index_err(e))
    }

    fn index_err(&self, source: io::Error) -> ViewError {
        ViewError::Index {
            path: self.index_path.clone(),
            source,
        }
    }

    /// The file's state now.
    fn stamp_now(&self) -> Result<Seen, ViewError> {
        match std::fs::metadata(&self.mbox_path) {
            Ok(m) => Ok(Seen::File(Stamp {
                dev: m.dev(),
                ino: m.ino(),
                len: m.len(),
                mtime: (m.mtime(), m.mtime_nsec()),
                ctime: (m.ctime(), m.ctime_nsec()),
            })),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Seen::Missing),
            Err(source) => Err(StoreError::Io {
                path: self.mbox_path.clone(),
                source,
            }
            .into()),
        }
    }

    /// Whether the file differs from what the last scan saw (errors count as changes).
    fn changed_on_disk(&self) -> bool {
        match (self.seen, self.stamp_now()) {
            (Seen::Unknown, _) | (_, Err(_)) => true,
            (s, Ok(now)) => s != now,
        }
    }

    /// Reopens the mbox and reconciles it with the index (index lock held by the caller);
    /// the view is not changed until [`Rescan::install`].
    fn rescan(&self) -> Result<Rescan, ViewError> {
        let stamp = self.stamp_now()?;
        let mbox = match Mbox::open(&self.mbox_path) {
            Ok(mb) => Some(mb),
            Err(StoreError::NotFound(_)) => None,
            Err(e) => return Err(e.into()),
        };
        let (ix, disk, grew) = self.reconcile(mbox.as_ref())?;
        Ok(Rescan {
            mbox,
            seen: if grew { Seen::Unknown } else { stamp },
            ix,
            disk,
        })
    }

    /// Matches the snapshot `mb` with the index, fills in missing sizes, writes the index
    /// when it changed, and reads the flags of every message (index lock held by the
    /// caller). The flag returned is true when the file grew during the scan.
    fn reconcile(&self, mb: Option<&Mbox>) -> Result<(UidIndex, Vec<Disk>, bool), ViewError> {
        let loaded = uidmap::load(&self.index_path).map_err(|e| self.index_err(e))?;
        let n = mb.map_or(0, Mbox::len);
        let fps: Vec<u64> = match mb {
            Some(mb) => (0..n).map(|i| uidmap::fingerprint(mb, i)).collect(),
            None => Vec::new(),
        };
        let now = chrono::Utc::now().timestamp().max(0) as u64;
        let mut ix = uidmap::assign(&loaded, &fps, now).index;
        let read_err = |source| ViewError::Read {
            path: self.mbox_path.clone(),
            source,
        };
        let mut disk = Vec::with_capacity(n);
        let mut grew = false;
        if let Some(mb) = mb {
            for (i, e) in ix.entries.iter_mut().enumerate() {
                let size = match e.size {
                    Some(s) => s,
                    None => {
                        let s = flags::size_crlf(&flags::served(
                            &mb.read_message(i).map_err(read_err)?,
                        ));
                        e.size = Some(s);
                        s
                    }
                };
                let meta = mb.meta(i);
                let keywords = if meta.has_keywords() {
                    flags::keywords_of(&mb.read_header(i).map_err(read_err)?)
                } else {
                    Vec::new()
                };
                disk.push(Disk {
                    uid: e.uid,
                    size,
                    header: HeaderFlags {
                        flags: Flags::from_headers(meta.status, meta.xstatus()),
                        old: meta.status.old,
                        keywords,
                    },
                    internal_date: internal_date(mb, i),
                });
            }
            if let Seen::File(s) = self.stamp_now()? {
                grew = s.len != mb.snapshot_len();
            }
        }
        if loaded != Loaded::Index(ix.clone()) {
            uidmap::store(&self.index_path, &ix).map_err(|e| self.index_err(e))?;
        }
        Ok((ix, disk, grew))
    }

    /// Replaces the messages by `disk` (a scan of `ix`), keeping this session's state of the
    /// messages still there, and reports the differences from `old` (the view before).
    /// `keep_pending`: flags set here and not written yet win over the disk's.
    fn merge(&mut self, old: &[Msg], ix: UidIndex, disk: Vec<Disk>, keep_pending: bool) -> Changes {
        let mut ch = Changes::default();
        if ix.uidvalidity != self.uidvalidity {
            ch.uidvalidity_changed = true;
            ch.expunged = (0..old.len()).rev().collect();
            ch.arrived = disk.len();
            self.msgs = disk.into_iter().map(new_msg).collect();
            self.uidvalidity = ix.uidvalidity;
            self.uidnext = ix.uidnext;
            return ch;
        }
        let mut msgs = Vec::with_capacity(disk.len());
        let mut kept = vec![false; old.len()];
        let mut tail = false;
        for d in disk {
            let prev = if tail {
                None
            } else {
                old.binary_search_by_key(&d.uid, |m| m.info.uid).ok()
            };
            let Some(p) = prev else {
                // New at the end (UIDs from `uidnext`); once one is seen, all later are new.
                tail = true;
                ch.arrived += 1;
                msgs.push(new_msg(d));
                continue;
            };
            kept[p] = true;
            let before = &old[p];
            let m = if keep_pending && before.pending() {
                // Our unwritten changes win where we made them; the rest follows the disk.
                three_way(before, d.header)
            } else {
                let mut m = before.clone();
                m.info.flags = d.header.flags;
                m.info.keywords = d.header.keywords.clone();
                m.old = d.header.old;
                m.disk = d.header;
                m
            };
            if (m.info.flags, &m.info.keywords) != (before.info.flags, &before.info.keywords) {
                ch.flags_changed.push(msgs.len());
            }
            msgs.push(m);
        }
        ch.expunged = (0..old.len()).rev().filter(|&i| !kept[i]).collect();
        self.msgs = msgs;
        self.uidnext = ix.uidnext;
        ch
    }
}

/// A finished rescan, not yet part of the view.
struct Rescan {
    mbox: Option<Mbox>,
    seen: Seen,
    ix: UidIndex,
    disk: Vec<Disk>,
}

impl Rescan {
    /// Makes the new snapshot the view's (the messages follow with
    /// [`MailboxView::merge`] or directly at open); returns the index and the messages.
    fn install(self, v: &mut MailboxView) -> (UidIndex, Vec<Disk>) {
        v.mbox = self.mbox;
        v.seen = self.seen;
        (self.ix, self.disk)
    }
}

/// A view message for `d` as first seen.
fn new_msg(d: Disk) -> Msg {
    Msg {
        info: MessageInfo {
            uid: d.uid,
            size_crlf: d.size,
            flags: d.header.flags,
            keywords: d.header.keywords.clone(),
            internal_date: d.internal_date,
            recent: !d.header.old,
        },
        old: d.header.old,
        disk: d.header,
    }
}

/// `disk` (a fresh scan) as view messages, with the wishes of `old` carried over by UID —
/// only the wishes: what this session did not change takes the disk's new state, so a flag
/// another program wrote meanwhile (the reader, another IMAP or POP3 session) survives our
/// write-back ([`three_way`]).
fn carry_over(old: &[Msg], disk: Vec<Disk>) -> Vec<Msg> {
    disk.into_iter()
        .map(|d| match old.binary_search_by_key(&d.uid, |m| m.info.uid) {
            Ok(p) => three_way(&old[p], d.header),
            Err(_) => new_msg(d),
        })
        .collect()
}

/// Merges this session's `m` with `theirs`, the flags now on disk, against `m.disk` (what
/// the session last saw there): each flag and the keyword list take our value where we
/// changed it and theirs elsewhere; `O` (old) is kept when either side set it.
fn three_way(m: &Msg, theirs: HeaderFlags) -> Msg {
    let (ours, base) = (m.info.flags, m.disk.flags);
    let pick = |o: bool, b: bool, t: bool| if o != b { o } else { t };
    let mut out = m.clone();
    out.info.flags = Flags {
        seen: pick(ours.seen, base.seen, theirs.flags.seen),
        answered: pick(ours.answered, base.answered, theirs.flags.answered),
        flagged: pick(ours.flagged, base.flagged, theirs.flags.flagged),
        deleted: pick(ours.deleted, base.deleted, theirs.flags.deleted),
        draft: pick(ours.draft, base.draft, theirs.flags.draft),
    };
    if m.info.keywords == m.disk.keywords {
        out.info.keywords = theirs.keywords.clone();
    }
    out.old = m.old || theirs.old;
    out.disk = theirs;
    out
}

/// The write-back plan for `msgs`: delete the UIDs in `gone` (sorted), rewrite the changed
/// flags.
fn plan_for(msgs: &[Msg], gone: &[u32]) -> Vec<FlagEdit> {
    msgs.iter()
        .map(|m| {
            if gone.binary_search(&m.info.uid).is_ok() {
                FlagEdit::Delete
            } else if m.pending() {
                FlagEdit::Set(m.wanted())
            } else {
                FlagEdit::Keep
            }
        })
        .collect()
}

/// The `From_` line date of message `i` as local time, Unix seconds; 0 when impossible.
fn internal_date(mb: &Mbox, i: usize) -> i64 {
    mb.from_line(i)
        .and_then(|f| f.datetime())
        .and_then(|dt| chrono::Local.from_local_datetime(&dt).earliest())
        .map_or(0, |t| t.timestamp())
}

/// The mbox entry [`MailboxView::append`] stores: `From_` line, flag fields, LF line ends,
/// mboxrd quoting (every line matching `^>*From ` gets one more `>`).
fn mbox_entry(message: &[u8], f: Flags, keywords: Vec<String>, date: Option<i64>) -> Vec<u8> {
    let when = date
        .and_then(|t| chrono::Local.timestamp_opt(t, 0).single())
        .unwrap_or_else(chrono::Local::now);
    let mut raw = format!(
        "From MAILER-DAEMON {}\n",
        when.format("%a %b %e %H:%M:%S %Y")
    )
    .into_bytes();
    let from_len = raw.len();
    for line in message.split_inclusive(|&b| b == b'\n') {
        let q = line.iter().take_while(|&&b| b == b'>').count();
        if line[q..].starts_with(b"From ") {
            raw.push(b'>');
        }
        match line.strip_suffix(b"\r\n") {
            Some(l) => {
                raw.extend_from_slice(l);
                raw.push(b'\n');
            }
            None => raw.extend_from_slice(line),
        }
    }
    if raw.len() > from_len && !raw.ends_with(b"\n") {
        raw.push(b'\n');
    }
    flags::with_flags(
        &raw,
        &HeaderFlags {
            flags: f,
            old: false,
            keywords: flags::clean_keywords(keywords),
        },
    )
}

#[cfg(test)]
mod tests;
