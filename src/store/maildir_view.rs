//! A mailbox view for POP3 (RFC 1939) and IMAP (RFC 9051) sessions over one Maildir (D. J.
//! Bernstein's maildir(5), as Dovecot, mutt and our MDA ([`crate::mda::maildir`]) use it):
//! the same public API as [`super::view::MailboxView`], with the same [`MessageInfo`],
//! [`Changes`] and [`ViewError`].
//!
//! - **Messages** are the regular files of `new/` and `cur/` whose names do not start with
//!   `.`; the part of a name before the first `:` is its *base name*, which stays the same
//!   for the life of the message (renames change only the info part). Subdirectories, dot
//!   files and `tmp/` are ignored. A base name found in both `new/` and `cur/` (a move
//!   seen half-way) is the one in `cur/`.
//! - **Flags** are the letters of the `:2,` info part, in ASCII order (Dovecot, mutt):
//!   `D` `\Draft`, `F` `\Flagged`, `R` `\Answered`, `S` `\Seen`, `T` `\Deleted`. Other
//!   letters (`P` passed, Dovecot's keyword letters `a`–`z`) are kept as they are on every
//!   rename but not interpreted. A name without `:2,` has no flags.
//! - **Keywords** are kept in the side index (not as Dovecot's letters with its
//!   `dovecot-keywords` file): other Maildir programs do not see them.
//! - **`\Recent`**: a message in `new/` when this view first sees it. After
//!   [`MaildirView::clear_recent`], the next [`MaildirView::sync`] moves those messages to
//!   `cur/` with a `:2,` suffix (a rename, never a copy).
//! - **UIDs** live in a side index at the path given (see *Index* below), keyed by base
//!   name, so flag renames keep the UID; files added by others get new UIDs in the order of
//!   the delivery time in their name (`SECONDS.M<usec>…`, else the file's mtime); files gone
//!   are expunged.
//! - **Messages served** ([`MaildirView::message`]): the file's bytes with CRLF turned into
//!   LF and a final line end added when missing; no field is removed (Maildir keeps no
//!   bookkeeping in headers). [`MessageInfo::size_crlf`] is that with CRLF line ends;
//!   the internal date is the file's mtime.
//! - **Locking**: none while idle; reading needs no lock; the index lock
//!   ([`IndexLock`]) is held only while the directories are matched with the index and the
//!   index is written (open, refresh after a change, sync, append).
//! - **Other writers** (the MDA, mutt, another session) may add, rename or delete files at
//!   any time: a listing is repeated when the directories changed during it, a file that
//!   vanished before it was read is treated as expunged, and a file renamed under us is
//!   found again by its base name.
//!
//! **Index.** A text file: `rmail-maildir-uidlist 1 <uidvalidity> <uidnext>`, then one line
//! per message in UID order: `<uid> <size> <internal date> <keywords> <base name>`, the
//! size as served with CRLF line ends, the date in Unix seconds, the keywords separated by
//! commas (`-` for none), the base name raw to the end of the line. Written atomically
//! (temporary file, fsync, rename, directory fsync). A missing or corrupt index gives a new
//! UIDVALIDITY (above the old one when readable), as in [`super::uidmap`].

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use super::flags::{self, Flags};
use super::mbox::StoreError;
use super::uidmap::{self, IndexLock};
pub use super::view::{Changes, MessageInfo, ViewError};

const MAGIC: &str = "rmail-maildir-uidlist 1";

/// A directory change younger than this (seconds) is not trusted to be seen by its stamp
/// (directory times are coarse): the next refresh lists again.
const SETTLE: i64 = 2;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// `new/` or `cur/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sub {
    New,
    Cur,
}

impl Sub {
    fn name(self) -> &'static str {
        match self {
            Sub::New => "new",
            Sub::Cur => "cur",
        }
    }
}

/// A message file as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Found {
    sub: Sub,
    /// The whole file name.
    name: Vec<u8>,
    /// The file name up to the first `:`.
    base: Vec<u8>,
    /// The flags of the `:2,` part.
    flags: Flags,
    /// Other letters of the `:2,` part, sorted, without repeats.
    extra: Vec<u8>,
}

/// One message of the index.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    uid: u32,
    size: u64,
    date: i64,
    keywords: Vec<String>,
    base: Vec<u8>,
}

/// The side index.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Index {
    uidvalidity: u32,
    uidnext: u32,
    entries: Vec<Entry>,
}

/// What [`load`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Loaded {
    Missing,
    Corrupt(Option<u32>),
    Index(Index),
}

/// The identity and times of a directory or of the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

/// `new/`, `cur/` and the index as last scanned (`None`: missing).
type Stamps = [Option<Stamp>; 3];

/// `new/` and `cur/` (`None`: missing).
type DirStamps = [Option<Stamp>; 2];

/// One message as found by a scan.
#[derive(Debug, Clone)]
struct Disk {
    e: Entry,
    f: Found,
}

/// A finished scan.
#[derive(Debug)]
struct Scan {
    uidvalidity: u32,
    uidnext: u32,
    disk: Vec<Disk>,
    /// `None`: changed while scanned, or too recently to trust the stamps.
    stamps: Option<Stamps>,
}

/// One message of the view.
#[derive(Debug, Clone)]
struct Msg {
    info: MessageInfo,
    /// Where the file was last seen.
    f: Found,
    /// The keywords in the index when last scanned.
    disk_keywords: Vec<String>,
    /// Move to `cur/` at the next sync ([`MaildirView::clear_recent`]).
    to_cur: bool,
}

impl Msg {
    fn pending(&self) -> bool {
        self.info.flags != self.f.flags
            || self.info.keywords != self.disk_keywords
            || (self.to_cur && self.f.sub == Sub::New)
    }

    /// The new location when the file must be renamed.
    fn target(&self) -> Option<(Sub, Vec<u8>)> {
        if self.info.flags == self.f.flags && !(self.to_cur && self.f.sub == Sub::New) {
            return None;
        }
        Some((
            Sub::Cur,
            file_name(&self.f.base, self.info.flags, &self.f.extra),
        ))
    }
}

/// A Maildir seen by one POP3 or IMAP session (see the module doc).
#[derive(Debug)]
pub struct MaildirView {
    dir: PathBuf,
    index_path: PathBuf,
    read_only: bool,
    writable: bool,
    seen: Option<Stamps>,
    uidvalidity: u32,
    uidnext: u32,
    msgs: Vec<Msg>,
}

impl MaildirView {
    /// Opens the Maildir `dir` (a missing directory, or one without `new/` or `cur/`, is an
    /// empty mailbox; nothing is created there) with the UID index at `index` (its directory
    /// is created, mode 0700, when missing; the index is written whenever UIDs change, also
    /// for a read-only view). `read_only`: no file of the Maildir is ever renamed or removed
    /// (IMAP `EXAMINE`); a Maildir whose `cur/` we may not write is read-only anyway. Lists
    /// `new/` and `cur/` under the index lock and reads the files not in the index yet (for
    /// their size). Errors: `Store(Io)` when a directory cannot be read, `Read` when a file
    /// cannot, `Index` for the index or its lock.
    pub fn open(dir: &Path, index: &Path, read_only: bool) -> Result<MaildirView, ViewError> {
        let writable = match rustix::fs::access(dir.join("cur"), rustix::fs::Access::WRITE_OK) {
            Ok(()) => true,
            Err(e) => e == rustix::io::Errno::NOENT,
        };
        let _lock = lock_index(index)?;
        let s = scan(dir, index, &HashMap::new())?;
        Ok(MaildirView {
            dir: dir.to_owned(),
            index_path: index.to_owned(),
            read_only,
            writable,
            seen: s.stamps,
            uidvalidity: s.uidvalidity,
            uidnext: s.uidnext,
            msgs: s.disk.into_iter().map(new_msg).collect(),
        })
    }

    /// The Maildir directory.
    pub fn path(&self) -> &Path {
        &self.dir
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

    /// Whether [`MaildirView::sync`] refuses changes: opened read-only, or `cur/` was not
    /// writable by us at open.
    pub fn is_read_only(&self) -> bool {
        self.read_only || !self.writable
    }

    /// Message `i` (0-based, IMAP sequence number − 1). Panics when `i >= len()`.
    pub fn info(&self, i: usize) -> &MessageInfo {
        &self.msgs[i].info
    }

    /// The 0-based position of the message with UID `uid` (binary search: UIDs ascend).
    pub fn seq_of_uid(&self, uid: u32) -> Option<usize> {
        self.msgs.binary_search_by_key(&uid, |m| m.info.uid).ok()
    }

    /// POP3 unique-id of message `i` (RFC 1939 §7 `UIDL`): 16 hex digits, UIDVALIDITY then
    /// UID. Panics when `i >= len()`.
    pub fn uidl(&self, i: usize) -> String {
        format!("{:08x}{:08x}", self.uidvalidity, self.msgs[i].info.uid)
    }

    /// Message `i` as served: the file's bytes with CRLF turned into LF and a final line end
    /// added when missing; its CRLF size is `info(i).size_crlf`. When the file is no longer
    /// where it was last seen (renamed by another program), the same base name is looked
    /// for in `cur/` and `new/`. Errors: kind `NotFound` when the message is gone (removed
    /// by another program: [`MaildirView::refresh`] reports it expunged); other I/O errors.
    /// Panics when `i >= len()`.
    pub fn message(&self, i: usize) -> io::Result<Vec<u8>> {
        let m = &self.msgs[i];
        match fs::read(self.file_path(&m.f)) {
            Ok(b) => return Ok(serve(&b)),
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            Err(_) => {}
        }
        // Renamed meanwhile: a few tries, since it may be renamed again while we look.
        for _ in 0..3 {
            let Some(f) = locate(&self.dir, &m.f.base)? else {
                break;
            };
            match fs::read(self.file_path(&f)) {
                Ok(b) => return Ok(serve(&b)),
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                Err(_) => {}
            }
        }
        Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "message {} of {} was removed by another program",
                String::from_utf8_lossy(&m.f.base),
                self.dir.display()
            ),
        ))
    }

    /// Sets the flags and keywords of message `i` in memory (IMAP `STORE`, POP3 `RETR`
    /// marking `\Seen`); written by the next [`MaildirView::sync`]. Invalid keywords
    /// ([`flags::is_keyword`]) and repeats are dropped. Panics when `i >= len()`.
    pub fn set_flags(&mut self, i: usize, flags: Flags, keywords: Vec<String>) {
        let m = &mut self.msgs[i];
        m.info.flags = flags;
        m.info.keywords = flags::clean_keywords(keywords);
    }

    /// Marks every message now in `new/` to be moved to `cur/` (not `\Recent` for later
    /// sessions) by the next [`MaildirView::sync`] (this session's
    /// [`MessageInfo::recent`] stays). An IMAP server calls it after a read-write `SELECT`.
    pub fn clear_recent(&mut self) {
        for m in &mut self.msgs {
            m.to_cur = true;
        }
    }

    /// Takes in what other programs did since the last scan: files delivered (new UIDs),
    /// removed (expunged), renamed with other flags, keywords changed by another session (a
    /// message with changes made here and not synced keeps ours where we made them). Costs
    /// three `stat`s when nothing changed; otherwise a listing under the index lock.
    /// Errors: [`ViewError`] (the view is unchanged).
    pub fn refresh(&mut self) -> Result<Changes, ViewError> {
        if !self.changed_on_disk() {
            return Ok(Changes::default());
        }
        let _lock = lock_index(&self.index_path)?;
        let s = scan(&self.dir, &self.index_path, &HashMap::new())?;
        let old = self.msgs.clone();
        Ok(self.merge(&old, s, true))
    }

    /// Writes the changes made with [`MaildirView::set_flags`] and
    /// [`MaildirView::clear_recent`] — files renamed into `cur/` with the new `:2,` suffix,
    /// keywords into the index — and unlinks the messages at positions `expunge` (0-based;
    /// out-of-range positions are ignored), then fsyncs `cur/` and `new/`. All under the
    /// index lock, after a fresh listing: flags other programs changed meanwhile are merged
    /// (ours win where we changed them); a file renamed or removed by another program
    /// between the listing and our rename is looked up again (up to three listings); one
    /// gone for good is expunged. Nothing to do → like [`MaildirView::refresh`].
    ///
    /// Returns every change relative to the numbering before the call: `expunged` includes
    /// the messages removed here. Errors: `Store(ReadOnly)` when there is something to write
    /// and the view is read-only (nothing written); `Store(Io)` when a rename, unlink or
    /// directory fsync fails (what was done before stays done; the next refresh shows it);
    /// other [`ViewError`]s.
    pub fn sync(&mut self, expunge: &[usize]) -> Result<Changes, ViewError> {
        let mut gone: Vec<u32> = expunge
            .iter()
            .filter_map(|&i| self.msgs.get(i).map(|m| m.info.uid))
            .collect();
        gone.sort_unstable();
        gone.dedup();
        if gone.is_empty() && !self.msgs.iter().any(Msg::pending) {
            return self.refresh();
        }
        if self.is_read_only() {
            return Err(StoreError::ReadOnly(self.dir.clone()).into());
        }
        let _lock = lock_index(&self.index_path)?;
        let old = self.msgs.clone();
        // Keyword wishes, by base name.
        let kw: HashMap<Vec<u8>, Vec<String>> = old
            .iter()
            .filter(|m| {
                m.info.keywords != m.disk_keywords && gone.binary_search(&m.info.uid).is_err()
            })
            .map(|m| (m.f.base.clone(), m.info.keywords.clone()))
            .collect();
        let mut touched = false;
        let mut res = Ok(());
        for _ in 0..3 {
            let s = scan(&self.dir, &self.index_path, &HashMap::new())?;
            if s.uidvalidity != self.uidvalidity {
                return Ok(self.merge(&old, s, true));
            }
            let mut again = false;
            for d in s.disk {
                let Ok(p) = old.binary_search_by_key(&d.e.uid, |m| m.info.uid) else {
                    continue;
                };
                let path = self.file_path(&d.f);
                let r = if gone.binary_search(&d.e.uid).is_ok() {
                    fs::remove_file(&path).map(|()| true)
                } else {
                    let m = three_way(&old[p], &d);
                    match m.target() {
                        None => Ok(false),
                        Some((sub, name)) => {
                            let to = self.dir.join(sub.name()).join(bytes_path(&name));
                            match crate::mda::maildir::rename_noreplace(&path, &to) {
                                // Someone else gave it that name meanwhile: leave both.
                                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
                                r => r.map(|()| true),
                            }
                        }
                    }
                };
                match r {
                    Ok(t) => touched |= t,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => again = true,
                    Err(source) => {
                        res = Err(StoreError::Io { path, source });
                        break;
                    }
                }
            }
            if !again || res.is_err() {
                break;
            }
        }
        if touched {
            for sub in [Sub::Cur, Sub::New] {
                let d = self.dir.join(sub.name());
                if let Err(source) = File::open(&d).and_then(|f| f.sync_all()) {
                    res = res.and(Err(StoreError::Io { path: d, source }));
                }
            }
        }
        let s = scan(&self.dir, &self.index_path, &kw)?;
        let ch = self.merge(&old, s, false);
        res?;
        Ok(ch)
    }

    /// Stores `message` (RFC 5322, CRLF or LF line ends; stored with LF) in the Maildir `dir`
    /// (created with `tmp/`, `new/`, `cur/`, mode 0700, when missing) with the flags and
    /// keywords given (IMAP `APPEND` and `COPY`, RFC 9051 §6.3.12): written into `tmp/`
    /// (mode 0600), its mtime set to `internal_date` (Unix seconds; `None`: now), fsync'ed,
    /// renamed into `cur/` as `<unique name>,S=<size>:2,<flags>` (as Dovecot does for
    /// `APPEND`), `cur/` fsync'ed; then the UID index at `index` is updated (keywords
    /// included). Returns the UIDVALIDITY and the message's UID for RFC 4315 `APPENDUID`;
    /// the UID is `None` in the rare case that another program removed the file before the
    /// index was updated. Errors: `Store(Io)` when the file cannot be stored (nothing is
    /// left in `cur/` nor `tmp/`), other [`ViewError`]s from the index update (the message
    /// is stored all the same).
    pub fn append(
        dir: &Path,
        index: &Path,
        message: &[u8],
        flags: Flags,
        keywords: Vec<String>,
        internal_date: Option<i64>,
    ) -> Result<(u32, Option<u32>), ViewError> {
        let body = crate::mda::to_lf(message);
        let err = |p: &Path| {
            let p = p.to_owned();
            move |source| ViewError::Store(StoreError::Io { path: p, source })
        };
        for sub in ["", "tmp", "new", "cur"] {
            let d = dir.join(sub);
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&d)
                .map_err(err(&d))?;
        }
        let host =
            crate::mda::maildir::host_part(&rustix::system::uname().nodename().to_string_lossy());
        let mtime = match internal_date {
            None => None,
            Some(t) if t >= 0 => SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(t as u64)),
            Some(t) => SystemTime::UNIX_EPOCH.checked_sub(Duration::from_secs(t.unsigned_abs())),
        };
        for _ in 0..100 {
            // `,S=` keeps our names apart from the MDA's (which never contain `,`).
            let base = format!(
                "{},S={}",
                crate::mda::maildir::unique_name(
                    SystemTime::now(),
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::Relaxed),
                    &host
                ),
                body.len()
            )
            .into_bytes();
            let tmp = dir.join("tmp").join(bytes_path(&base));
            let f = match File::options()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
            {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(err(&tmp)(e)),
            };
            let written = (&f)
                .write_all(&body)
                .and_then(|()| match mtime {
                    Some(t) => f.set_modified(t),
                    None => Ok(()),
                })
                .and_then(|()| f.sync_all());
            drop(f);
            if let Err(e) = written {
                let _ = fs::remove_file(&tmp);
                return Err(err(&tmp)(e));
            }
            let cur = dir.join("cur");
            let to = cur.join(bytes_path(&file_name(&base, flags, &[])));
            match crate::mda::maildir::rename_noreplace(&tmp, &to) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let _ = fs::remove_file(&tmp);
                    continue;
                }
                Err(e) => {
                    let _ = fs::remove_file(&tmp);
                    return Err(err(&to)(e));
                }
            }
            File::open(&cur)
                .and_then(|d| d.sync_all())
                .map_err(err(&cur))?;
            let _lock = lock_index(index)?;
            let kw = HashMap::from([(base.clone(), flags::clean_keywords(keywords))]);
            let s = scan(dir, index, &kw)?;
            let uid = s.disk.iter().find(|d| d.e.base == base).map(|d| d.e.uid);
            return Ok((s.uidvalidity, uid));
        }
        Err(err(&dir.join("tmp"))(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "cannot find a unique name",
        )))
    }

    fn file_path(&self, f: &Found) -> PathBuf {
        self.dir.join(f.sub.name()).join(bytes_path(&f.name))
    }

    /// Whether the directories or the index differ from what the last scan saw (errors
    /// count as changes).
    fn changed_on_disk(&self) -> bool {
        match (self.seen, stamps(&self.dir, &self.index_path)) {
            (Some(s), Ok(now)) => s != now,
            _ => true,
        }
    }

    /// Replaces the messages by the scan `s`, keeping this session's state of the messages
    /// still there, and reports the differences from `old` (the view before).
    /// `keep_pending`: changes made here and not written yet win where we made them.
    fn merge(&mut self, old: &[Msg], s: Scan, keep_pending: bool) -> Changes {
        let mut ch = Changes::default();
        self.seen = s.stamps;
        if s.uidvalidity != self.uidvalidity {
            ch.uidvalidity_changed = true;
            ch.expunged = (0..old.len()).rev().collect();
            ch.arrived = s.disk.len();
            self.msgs = s.disk.into_iter().map(new_msg).collect();
            self.uidvalidity = s.uidvalidity;
            self.uidnext = s.uidnext;
            return ch;
        }
        let mut msgs = Vec::with_capacity(s.disk.len());
        let mut kept = vec![false; old.len()];
        let mut tail = false;
        for d in s.disk {
            let prev = if tail {
                None
            } else {
                old.binary_search_by_key(&d.e.uid, |m| m.info.uid).ok()
            };
            let Some(p) = prev else {
                tail = true;
                ch.arrived += 1;
                msgs.push(new_msg(d));
                continue;
            };
            kept[p] = true;
            let before = &old[p];
            let m = if keep_pending {
                three_way(before, &d)
            } else {
                let mut m = before.clone();
                m.info.flags = d.f.flags;
                m.info.keywords = d.e.keywords.clone();
                m.disk_keywords = d.e.keywords;
                m.f = d.f;
                m
            };
            if (m.info.flags, &m.info.keywords) != (before.info.flags, &before.info.keywords) {
                ch.flags_changed.push(msgs.len());
            }
            msgs.push(m);
        }
        ch.expunged = (0..old.len()).rev().filter(|&i| !kept[i]).collect();
        self.msgs = msgs;
        self.uidnext = s.uidnext;
        ch
    }
}

/// A view message for `d` as first seen.
fn new_msg(d: Disk) -> Msg {
    Msg {
        info: MessageInfo {
            uid: d.e.uid,
            size_crlf: d.e.size,
            flags: d.f.flags,
            keywords: d.e.keywords.clone(),
            internal_date: d.e.date,
            recent: d.f.sub == Sub::New,
        },
        disk_keywords: d.e.keywords,
        f: d.f,
        to_cur: false,
    }
}

/// `m` following `d` (the message now on disk): each flag and the keyword list take our
/// value where this session changed it since the last scan, the disk's elsewhere.
fn three_way(m: &Msg, d: &Disk) -> Msg {
    let (ours, base, theirs) = (m.info.flags, m.f.flags, d.f.flags);
    let pick = |o: bool, b: bool, t: bool| if o != b { o } else { t };
    let mut out = m.clone();
    out.info.flags = Flags {
        seen: pick(ours.seen, base.seen, theirs.seen),
        answered: pick(ours.answered, base.answered, theirs.answered),
        flagged: pick(ours.flagged, base.flagged, theirs.flagged),
        deleted: pick(ours.deleted, base.deleted, theirs.deleted),
        draft: pick(ours.draft, base.draft, theirs.draft),
    };
    if m.info.keywords == m.disk_keywords {
        out.info.keywords = d.e.keywords.clone();
    }
    out.disk_keywords = d.e.keywords.clone();
    out.f = d.f.clone();
    out
}

fn lock_index(index: &Path) -> Result<IndexLock, ViewError> {
    IndexLock::acquire(index).map_err(|e| index_err(index, e))
}

fn index_err(index: &Path, source: io::Error) -> ViewError {
    ViewError::Index {
        path: index.to_owned(),
        source,
    }
}

fn io_err(path: &Path, source: io::Error) -> ViewError {
    ViewError::Store(StoreError::Io {
        path: path.to_owned(),
        source,
    })
}

fn bytes_path(b: &[u8]) -> &Path {
    Path::new(std::ffi::OsStr::from_bytes(b))
}

/// The message as served (see [`MaildirView::message`]).
fn serve(raw: &[u8]) -> Vec<u8> {
    let mut out = crate::mda::to_lf(raw).into_owned();
    if !out.is_empty() && !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    out
}

/// `base:2,<letters>`: the letters of `f` and `extra`, in ASCII order, without repeats.
fn file_name(base: &[u8], f: Flags, extra: &[u8]) -> Vec<u8> {
    let mut letters: Vec<u8> = extra.to_vec();
    for (on, c) in [
        (f.draft, b'D'),
        (f.flagged, b'F'),
        (f.answered, b'R'),
        (f.seen, b'S'),
        (f.deleted, b'T'),
    ] {
        if on {
            letters.push(c);
        }
    }
    letters.sort_unstable();
    letters.dedup();
    let mut out = base.to_vec();
    out.extend_from_slice(b":2,");
    out.extend_from_slice(&letters);
    out
}

/// Splits a file name of `new/` or `cur/` into a [`Found`]; `None` for names that are not
/// messages (empty, dot files, an empty base name, a line end inside).
fn parse_name(sub: Sub, name: &[u8]) -> Option<Found> {
    if name.is_empty() || name[0] == b'.' || name.contains(&b'\n') || name.contains(&b'/') {
        return None;
    }
    let (base, info) = match memchr::memchr(b':', name) {
        Some(i) => (&name[..i], &name[i + 1..]),
        None => (name, &b""[..]),
    };
    if base.is_empty() {
        return None;
    }
    let mut flags = Flags::default();
    let mut extra = Vec::new();
    if let Some(letters) = info.strip_prefix(b"2,") {
        for &c in letters {
            match c {
                b'D' => flags.draft = true,
                b'F' => flags.flagged = true,
                b'R' => flags.answered = true,
                b'S' => flags.seen = true,
                b'T' => flags.deleted = true,
                c if c.is_ascii_alphanumeric() => extra.push(c),
                _ => {}
            }
        }
    }
    extra.sort_unstable();
    extra.dedup();
    Some(Found {
        sub,
        name: name.to_vec(),
        base: base.to_vec(),
        flags,
        extra,
    })
}

/// Whether the entry is a regular file (following symbolic links); errors: no.
fn is_file(ent: &fs::DirEntry) -> bool {
    match ent.file_type() {
        Ok(t) if t.is_file() => true,
        Ok(t) if t.is_dir() => false,
        _ => fs::metadata(ent.path()).is_ok_and(|m| m.is_file()),
    }
}

/// The messages of `new/` then `cur/`, one per base name (the one in `cur/` when both).
fn list(dir: &Path) -> Result<Vec<Found>, ViewError> {
    let mut out: Vec<Found> = Vec::new();
    let mut by_base: HashMap<Vec<u8>, usize> = HashMap::new();
    for sub in [Sub::New, Sub::Cur] {
        let d = dir.join(sub.name());
        let rd = match fs::read_dir(&d) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err(&d, e)),
        };
        for ent in rd {
            let ent = ent.map_err(|e| io_err(&d, e))?;
            let Some(f) = parse_name(sub, ent.file_name().as_bytes()) else {
                continue;
            };
            if !is_file(&ent) {
                continue;
            }
            match by_base.get(&f.base) {
                Some(&j) => {
                    if out[j].sub == Sub::New && sub == Sub::Cur {
                        out[j] = f;
                    }
                }
                None => {
                    by_base.insert(f.base.clone(), out.len());
                    out.push(f);
                }
            }
        }
    }
    Ok(out)
}

/// The file with base name `base` now, in `cur/` then `new/`.
fn locate(dir: &Path, base: &[u8]) -> io::Result<Option<Found>> {
    for sub in [Sub::Cur, Sub::New] {
        let rd = match fs::read_dir(dir.join(sub.name())) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for ent in rd {
            let ent = ent?;
            if let Some(f) = parse_name(sub, ent.file_name().as_bytes()) {
                if f.base == base && is_file(&ent) {
                    return Ok(Some(f));
                }
            }
        }
    }
    Ok(None)
}

fn stamp(p: &Path) -> io::Result<Option<Stamp>> {
    match fs::metadata(p) {
        Ok(m) => Ok(Some(Stamp {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        })),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn stamps(dir: &Path, index: &Path) -> io::Result<Stamps> {
    Ok([
        stamp(&dir.join("new"))?,
        stamp(&dir.join("cur"))?,
        stamp(index)?,
    ])
}

/// A listing during which neither `new/` nor `cur/` changed (up to three tries), with their
/// stamps; `None` for the stamps when they changed all the same or too recently to trust.
fn list_stable(dir: &Path) -> Result<(Vec<Found>, Option<DirStamps>), ViewError> {
    let dirs = || -> Result<DirStamps, ViewError> {
        let mut out = [None; 2];
        for (o, sub) in out.iter_mut().zip([Sub::New, Sub::Cur]) {
            let d = dir.join(sub.name());
            *o = stamp(&d).map_err(|e| io_err(&d, e))?;
        }
        Ok(out)
    };
    let mut attempt = 0;
    loop {
        let before = dirs()?;
        let found = list(dir)?;
        let after = dirs()?;
        attempt += 1;
        if before == after || attempt == 3 {
            let now = chrono::Utc::now().timestamp();
            let settled = after
                .iter()
                .flatten()
                .all(|s| s.mtime.0.max(s.ctime.0) < now - SETTLE);
            let ok = before == after && settled;
            return Ok((found, ok.then_some(after)));
        }
    }
}

/// Seconds and microseconds of a name `SECONDS.M<usec>…` (or just `SECONDS.…`).
fn name_time(name: &[u8]) -> Option<(i64, u32)> {
    let dot = memchr::memchr(b'.', name)?;
    let secs: i64 = std::str::from_utf8(&name[..dot]).ok()?.parse().ok()?;
    let rest = name[dot + 1..].strip_prefix(b"M").unwrap_or(b"");
    let n = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    let usec = std::str::from_utf8(&rest[..n])
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Some((secs, usec))
}

/// Reads the new file `f` for its size and date; follows it when renamed meanwhile;
/// `None` when gone.
fn measure(dir: &Path, mut f: Found) -> Result<Option<(Found, u64, i64)>, ViewError> {
    for _ in 0..3 {
        let p = dir.join(f.sub.name()).join(bytes_path(&f.name));
        let read = File::open(&p).and_then(|mut file| {
            let mut b = Vec::new();
            io::Read::read_to_end(&mut file, &mut b)?;
            Ok((b, file.metadata()?.mtime()))
        });
        match read {
            Ok((b, mtime)) => {
                let size = flags::size_crlf(&serve(&b));
                return Ok(Some((f, size, mtime)));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                match locate(dir, &f.base).map_err(|e| io_err(dir, e))? {
                    Some(g) => f = g,
                    None => return Ok(None),
                }
            }
            Err(source) => return Err(ViewError::Read { path: p, source }),
        }
    }
    Ok(None)
}

/// Lists the Maildir, matches it with the index (new files get UIDs, missing ones are
/// dropped), applies the keyword changes `kw` (by base name) and writes the index when it
/// changed. Index lock held by the caller.
fn scan(dir: &Path, index: &Path, kw: &HashMap<Vec<u8>, Vec<String>>) -> Result<Scan, ViewError> {
    let (found, dir_stamps) = list_stable(dir)?;
    let loaded = load(index).map_err(|e| index_err(index, e))?;
    let pos: HashMap<&[u8], usize> = found
        .iter()
        .enumerate()
        .map(|(j, f)| (&f.base[..], j))
        .collect();
    let mut used = vec![false; found.len()];
    let mut kept: Vec<(Entry, Found)> = Vec::new();
    let (mut uidvalidity, mut uidnext, mut reset) = match &loaded {
        Loaded::Index(ix) => {
            for e in &ix.entries {
                if let Some(&j) = pos.get(&e.base[..]) {
                    if !used[j] {
                        used[j] = true;
                        kept.push((e.clone(), found[j].clone()));
                    }
                }
            }
            (ix.uidvalidity, ix.uidnext, None)
        }
        Loaded::Missing => (0, 1, Some(None)),
        Loaded::Corrupt(v) => (0, 1, Some(*v)),
    };
    let mut fresh = Vec::new();
    for (j, f) in found.iter().enumerate() {
        if used[j] {
            continue;
        }
        if let Some((f, size, date)) = measure(dir, f.clone())? {
            let (secs, usec) = name_time(&f.base).unwrap_or((date, 0));
            fresh.push(((secs, usec, f.base.clone()), size, date, f));
        }
    }
    fresh.sort_by(|a, b| a.0.cmp(&b.0));
    if reset.is_none() && u64::from(uidnext) + fresh.len() as u64 >= u64::from(u32::MAX) {
        reset = Some(Some(uidvalidity));
    }
    let mut all: Vec<(Entry, Found)> = kept;
    for (_, size, date, f) in fresh {
        let e = Entry {
            uid: 0,
            size,
            date,
            keywords: Vec::new(),
            base: f.base.clone(),
        };
        all.push((e, f));
    }
    if let Some(prev) = reset {
        let now = chrono::Utc::now().timestamp().max(0) as u64;
        uidvalidity = uidmap::fresh_uidvalidity(prev, now);
        uidnext = 1;
        for (e, _) in &mut all {
            e.uid = uidnext;
            uidnext += 1;
        }
    } else {
        for (e, _) in all.iter_mut().filter(|(e, _)| e.uid == 0) {
            e.uid = uidnext;
            uidnext += 1;
        }
    }
    for (e, _) in &mut all {
        if let Some(k) = kw.get(&e.base) {
            e.keywords = flags::clean_keywords(k.clone());
        }
    }
    let ix = Index {
        uidvalidity,
        uidnext,
        entries: all.iter().map(|(e, _)| e.clone()).collect(),
    };
    if loaded != Loaded::Index(ix.clone()) {
        store(index, &ix).map_err(|e| index_err(index, e))?;
    }
    let stamps = match dir_stamps {
        Some([n, c]) => Some([n, c, stamp(index).map_err(|e| index_err(index, e))?]),
        None => None,
    };
    Ok(Scan {
        uidvalidity,
        uidnext,
        disk: all.into_iter().map(|(e, f)| Disk { e, f }).collect(),
        stamps,
    })
}

/// The text form of `ix` (see the module doc).
fn render(ix: &Index) -> Vec<u8> {
    let mut out = format!("{MAGIC} {} {}\n", ix.uidvalidity, ix.uidnext).into_bytes();
    for e in &ix.entries {
        let kw = if e.keywords.is_empty() {
            "-".to_owned()
        } else {
            e.keywords.join(",")
        };
        out.extend_from_slice(format!("{} {} {} {kw} ", e.uid, e.size, e.date).as_bytes());
        out.extend_from_slice(&e.base);
        out.push(b'\n');
    }
    out
}

/// Parses the text form; `Err` carries the UIDVALIDITY when the first line gave one.
fn parse(text: &[u8]) -> Result<Index, Option<u32>> {
    if !text.ends_with(b"\n") {
        return Err(None);
    }
    let mut lines = text[..text.len() - 1].split(|&b| b == b'\n');
    let head = std::str::from_utf8(lines.next().ok_or(None)?).map_err(|_| None)?;
    let rest = head.strip_prefix(MAGIC).ok_or(None)?;
    let mut w = rest.split(' ').skip(1);
    let (Some(v), Some(n), None) = (w.next(), w.next(), w.next()) else {
        return Err(None);
    };
    let uidvalidity: u32 = v.parse().ok().filter(|&v| v != 0).ok_or(None)?;
    let bad = Some(uidvalidity);
    let uidnext: u32 = n.parse().ok().filter(|&n| n != 0).ok_or(bad)?;
    let mut entries = Vec::new();
    let mut last = 0u32;
    for line in lines {
        let mut w = line.splitn(5, |&b| b == b' ');
        let (Some(u), Some(s), Some(d), Some(k), Some(base)) =
            (w.next(), w.next(), w.next(), w.next(), w.next())
        else {
            return Err(bad);
        };
        fn num(b: &[u8], bad: Option<u32>) -> Result<&str, Option<u32>> {
            std::str::from_utf8(b).map_err(|_| bad)
        }
        let uid: u32 = num(u, bad)?.parse().map_err(|_| bad)?;
        let size: u64 = num(s, bad)?.parse().map_err(|_| bad)?;
        let date: i64 = num(d, bad)?.parse().map_err(|_| bad)?;
        let k = num(k, bad)?;
        let keywords = if k == "-" {
            Vec::new()
        } else {
            k.split(',').map(str::to_owned).collect()
        };
        if uid <= last || uid >= uidnext || base.is_empty() || base.contains(&b':') {
            return Err(bad);
        }
        entries.push(Entry {
            uid,
            size,
            date,
            keywords,
            base: base.to_vec(),
        });
        last = uid;
    }
    Ok(Index {
        uidvalidity,
        uidnext,
        entries,
    })
}

/// Reads the index at `path`. Errors: I/O errors other than "not found".
fn load(path: &Path) -> io::Result<Loaded> {
    match fs::read(path) {
        Ok(b) => Ok(match parse(&b) {
            Ok(ix) => Loaded::Index(ix),
            Err(v) => Loaded::Corrupt(v),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Loaded::Missing),
        Err(e) => Err(e),
    }
}

/// Writes `ix` to `path` atomically (temporary file mode 0600, fsync, rename, directory
/// fsync; the directory exists: [`IndexLock::acquire`] created it).
fn store(path: &Path, ix: &Index) -> io::Result<()> {
    super::uidmap::write_atomic(path, &render(ix))
}

#[cfg(test)]
mod tests;
