//! The side index that gives the messages of an mbox persistent IMAP UIDs (RFC 9051
//! §2.3.1.1) and POP3 UIDLs (RFC 1939 §7), without touching the mbox.
//!
//! **Why a side index.** Dovecot and UW imapd keep UIDs in the mbox itself (`X-UID:` in every
//! message, `X-IMAPbase:` or a pseudo-message first). Adding them on first open means
//! rewriting the whole mailbox (a full copy of a possibly large file under the lock, racing
//! Postfix and the other readers), and other programs then see headers and a fake message
//! they do not expect. Here the mbox stays byte-identical for every other reader; UIDs live
//! in a small file in a directory the caller chooses (the spool directory is not writable by
//! users), e.g. `~/mail/.imap/INBOX`.
//!
//! **Content.** `rmail-uidlist 1 <uidvalidity> <uidnext>` then one line per message in
//! mailbox order: `<uid> <fingerprint, 16 hex digits> <size or ->`; the size is the message's
//! size as served ([`super::flags::size_crlf`] of [`super::flags::served`]), cached so that
//! a session does not read every body to answer POP3 `STAT` or IMAP `RFC822.SIZE`.
//!
//! **Fingerprint.** [`fingerprint`]: a hash of what a flag rewrite never changes and the
//! scanner already holds (no extra read): the `From_` line (envelope sender and arrival time
//! to the second), the `Date:`, `From:` and `Subject:` values and the `Message-ID:` hash. Not
//! the offset, `Status:`, `X-Status:`, `X-Keywords:`, `Content-Length:` nor the body length
//! (a writer may add the blank line a message lacked at the end). Two messages with equal
//! fingerprints are treated as copies of one message: they keep distinct UIDs, mapped one to
//! one in mailbox order.
//!
//! **Matching** ([`assign`]): the mbox's fingerprints are matched in order against the index
//! as a subsequence. Index entries not found are messages removed by someone; messages after
//! the last match get new UIDs from `uidnext`. A message the index does not know that comes
//! before known ones (inserted in the middle, or a rewrite that reordered) gets a new UID,
//! and so does every message after it, known or not: UIDs stay strictly ascending and each
//! UID keeps naming the same message, clients see those messages expunged and arriving again
//! (Dovecot does the same for mbox). UIDVALIDITY changes only when the index is missing or
//! corrupt or `uidnext` is exhausted; a new one is time-based and above the old one when
//! that is known ([`fresh_uidvalidity`], RFC 9051 §2.3.1.1).
//!
//! **Concurrency.** Writes are atomic (temporary file, fsync, rename, directory fsync).
//! Sessions of several processes update the index under [`IndexLock`] (`flock` on
//! `<index>.lock`), each deriving UIDs from the index as last written, so all agree.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::mbox::{Field, Mbox};

const MAGIC: &str = "rmail-uidlist 1";

/// One message of the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// IMAP UID (≥ 1, strictly ascending over the entries).
    pub uid: u32,
    /// [`fingerprint`] of the message.
    pub fingerprint: u64,
    /// Cached size as served, octets with CRLF line ends; `None` when not computed yet.
    pub size: Option<u64>,
}

/// The index of one mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UidIndex {
    /// RFC 9051 §2.3.1.1 UIDVALIDITY (never 0).
    pub uidvalidity: u32,
    /// The UID the next new message gets (above every UID ever given under `uidvalidity`).
    pub uidnext: u32,
    /// The messages, in mailbox order.
    pub entries: Vec<Entry>,
}

/// What [`load`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loaded {
    /// No index file.
    Missing,
    /// An index that does not parse or breaks an invariant; its UIDVALIDITY when readable
    /// (the new one must be above it).
    Corrupt {
        /// The UIDVALIDITY on the first line, when it parsed.
        uidvalidity: Option<u32>,
    },
    /// A valid index.
    Index(UidIndex),
}

/// Result of [`assign`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The index for the mailbox as scanned: one entry per message, in order.
    pub index: UidIndex,
    /// True when a new UIDVALIDITY was chosen (every UID is new).
    pub reset: bool,
}

/// The fingerprint of message `i` of `mb` (see the module doc): 64-bit FNV-1a over the
/// `From_` line, `Date:`, `From:`, `Subject:` (raw values as indexed, each with a presence
/// byte) and the `Message-ID:` hash. A fixed algorithm: indexes store it. Panics when
/// `i >= mb.len()`.
pub fn fingerprint(mb: &Mbox, i: usize) -> u64 {
    let mut h = Fnv64::new();
    for f in [Field::FromLine, Field::Date, Field::From, Field::Subject] {
        match mb.field(i, f) {
            Some(v) => {
                h.write(&[1]);
                h.write(&(v.len() as u32).to_le_bytes());
                h.write(v);
            }
            None => h.write(&[0]),
        }
    }
    h.write(&mb.meta(i).message_id_hash().to_le_bytes());
    h.0
}

/// 64-bit FNV-1a.
struct Fnv64(u64);

impl Fnv64 {
    fn new() -> Fnv64 {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// A new UIDVALIDITY: the time `now` (Unix seconds, as 32 bits; RFC 9051 §2.3.1.1 suggests a
/// time-based value), raised to one above `previous` when that is not smaller; never 0.
pub fn fresh_uidvalidity(previous: Option<u32>, now: u64) -> u32 {
    let mut v = u32::try_from(now).unwrap_or(u32::MAX);
    if let Some(p) = previous {
        v = v.max(p.saturating_add(1));
    }
    v.max(1)
}

/// Gives UIDs to the messages with fingerprints `fps` (mailbox order) from the index `old`
/// (see the module doc for the rules); `now` is the time for a new UIDVALIDITY. Cached sizes
/// follow their messages; new messages have `size: None`.
pub fn assign(old: &Loaded, fps: &[u64], now: u64) -> Assignment {
    let idx = match old {
        Loaded::Index(ix) => ix,
        Loaded::Missing => return fresh(None, fps, now, &HashMap::new()),
        Loaded::Corrupt { uidvalidity } => return fresh(*uidvalidity, fps, now, &HashMap::new()),
    };
    let mut queues: HashMap<u64, VecDeque<usize>> = HashMap::new();
    for (j, e) in idx.entries.iter().enumerate() {
        queues.entry(e.fingerprint).or_default().push_back(j);
    }
    let mut entries = Vec::with_capacity(fps.len());
    let mut next = 0;
    let mut tail = false;
    let mut uidnext = idx.uidnext;
    for &fp in fps {
        let mut found = None;
        if let Some(q) = queues.get_mut(&fp) {
            while let Some(&j) = q.front() {
                if j < next {
                    q.pop_front();
                } else {
                    found = Some(j);
                    break;
                }
            }
        }
        if let (Some(j), false) = (found, tail) {
            if let Some(q) = queues.get_mut(&fp) {
                q.pop_front();
            }
            next = j + 1;
            entries.push(Entry {
                uid: idx.entries[j].uid,
                fingerprint: fp,
                size: idx.entries[j].size,
            });
            continue;
        }
        // Unknown here, or after an unknown one: a new UID.
        tail = true;
        if uidnext == u32::MAX {
            let sizes = idx
                .entries
                .iter()
                .filter_map(|e| Some((e.fingerprint, e.size?)))
                .collect();
            return fresh(Some(idx.uidvalidity), fps, now, &sizes);
        }
        entries.push(Entry {
            uid: uidnext,
            fingerprint: fp,
            size: found.and_then(|j| idx.entries[j].size),
        });
        uidnext += 1;
    }
    Assignment {
        index: UidIndex {
            uidvalidity: idx.uidvalidity,
            uidnext,
            entries,
        },
        reset: false,
    }
}

/// A fresh index: new UIDVALIDITY, UIDs 1..=n; sizes from `sizes` by fingerprint.
fn fresh(previous: Option<u32>, fps: &[u64], now: u64, sizes: &HashMap<u64, u64>) -> Assignment {
    let entries: Vec<Entry> = fps
        .iter()
        .zip(1u32..)
        .map(|(&fp, uid)| Entry {
            uid,
            fingerprint: fp,
            size: sizes.get(&fp).copied(),
        })
        .collect();
    Assignment {
        index: UidIndex {
            uidvalidity: fresh_uidvalidity(previous, now),
            uidnext: u32::try_from(entries.len() + 1).unwrap_or(u32::MAX),
            entries,
        },
        reset: true,
    }
}

/// The text form of `ix` (see the module doc).
pub fn render(ix: &UidIndex) -> Vec<u8> {
    let mut out = Vec::with_capacity(40 + ix.entries.len() * 32);
    out.extend_from_slice(format!("{MAGIC} {} {}\n", ix.uidvalidity, ix.uidnext).as_bytes());
    for e in &ix.entries {
        let size = e.size.map_or_else(|| "-".to_owned(), |s| s.to_string());
        out.extend_from_slice(format!("{} {:016x} {size}\n", e.uid, e.fingerprint).as_bytes());
    }
    out
}

/// Parses the text form; `Err` carries the UIDVALIDITY when the first line gave one.
pub fn parse(text: &[u8]) -> Result<UidIndex, Option<u32>> {
    let text = std::str::from_utf8(text).map_err(|_| None)?;
    let mut lines = text.split_terminator('\n');
    let head = lines.next().ok_or(None)?;
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
        let mut w = line.split(' ');
        let (Some(u), Some(f), Some(s), None) = (w.next(), w.next(), w.next(), w.next()) else {
            return Err(bad);
        };
        let uid: u32 = u.parse().map_err(|_| bad)?;
        if uid <= last || uid >= uidnext || f.len() != 16 {
            return Err(bad);
        }
        let fingerprint = u64::from_str_radix(f, 16).map_err(|_| bad)?;
        let size = match s {
            "-" => None,
            s => Some(s.parse().map_err(|_| bad)?),
        };
        entries.push(Entry {
            uid,
            fingerprint,
            size,
        });
        last = uid;
    }
    if !text.ends_with('\n') {
        return Err(bad);
    }
    Ok(UidIndex {
        uidvalidity,
        uidnext,
        entries,
    })
}

/// Reads the index at `path`. Errors: I/O errors other than "not found" (a file we may not
/// read is an error, not a reason to renumber).
pub fn load(path: &Path) -> io::Result<Loaded> {
    match std::fs::read(path) {
        Ok(b) => Ok(match parse(&b) {
            Ok(ix) => Loaded::Index(ix),
            Err(uidvalidity) => Loaded::Corrupt { uidvalidity },
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Loaded::Missing),
        Err(e) => Err(e),
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `ix` to `path` atomically: `<path>.tmp.<pid>.<n>` (mode 0600) written and
/// fsync'ed, renamed over `path`, then the directory fsync'ed. The directory is created
/// (mode 0700) when missing. Errors: I/O errors; the old index is then left as it was.
pub fn store(path: &Path, ix: &UidIndex) -> io::Result<()> {
    let dir = parent_of(path);
    ensure_dir(&dir)?;
    write_atomic(path, &render(ix))
}

/// Replaces the file at `path` with `bytes` so that a crash leaves the old or the new
/// contents, never a mix: `<path>.tmp.<pid>.<n>` (mode 0600) written and fsync'ed, renamed
/// over `path`, then the directory fsync'ed. The directory must exist. Errors: I/O errors;
/// the old file is then left as it was. Shared by the side indexes of both mailbox views.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = parent_of(path);
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(format!(
        ".tmp.{}.{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let tmp = dir.join(name);
    let res = (|| {
        let mut f = File::options()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        File::open(&dir)?.sync_all()
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

/// The directory of `path` (`.` for a bare name).
fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Creates `dir` and its parents with mode 0700 when missing.
fn ensure_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// An exclusive `flock(2)` on `<index>.lock`, held while a session reads the index, matches
/// it against the mbox and writes it back; released on drop. Separate opens exclude each
/// other, so it works between threads as between processes.
#[derive(Debug)]
pub struct IndexLock {
    _file: File,
}

impl IndexLock {
    /// Waits for and takes the lock of the index at `index` (creating `<index>.lock`, mode
    /// 0600, and the directory when missing). Errors: I/O errors.
    pub fn acquire(index: &Path) -> io::Result<IndexLock> {
        ensure_dir(&parent_of(index))?;
        let mut name = index.file_name().unwrap_or_default().to_owned();
        name.push(".lock");
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(parent_of(index).join(name))?;
        loop {
            match rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive) {
                Ok(()) => return Ok(IndexLock { _file: file }),
                Err(e) if e == rustix::io::Errno::INTR => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ix(uidvalidity: u32, uidnext: u32, e: &[(u32, u64)]) -> Loaded {
        Loaded::Index(UidIndex {
            uidvalidity,
            uidnext,
            entries: e
                .iter()
                .map(|&(uid, fingerprint)| Entry {
                    uid,
                    fingerprint,
                    size: Some(fingerprint.wrapping_mul(10)),
                })
                .collect(),
        })
    }

    fn uids(a: &Assignment) -> Vec<u32> {
        a.index.entries.iter().map(|e| e.uid).collect()
    }

    #[test]
    fn subsequence_matching() {
        let old = ix(7, 10, &[(2, 1), (3, 2), (5, 3), (9, 4)]);
        // Unchanged.
        let a = assign(&old, &[1, 2, 3, 4], 100);
        assert_eq!(
            (uids(&a), a.reset, a.index.uidnext),
            (vec![2, 3, 5, 9], false, 10)
        );
        assert_eq!(a.index.entries[2].size, Some(30));
        // Removed by someone, new at the end.
        let a = assign(&old, &[1, 3, 8, 8], 100);
        assert_eq!((uids(&a), a.index.uidnext), (vec![2, 5, 10, 11], 12));
        assert_eq!(a.index.entries[2].size, None);
        // Inserted in the middle: it and everything after get new UIDs, same UIDVALIDITY.
        let a = assign(&old, &[1, 8, 2, 3], 100);
        assert_eq!(
            (uids(&a), a.reset, a.index.uidvalidity),
            (vec![2, 10, 11, 12], false, 7)
        );
        // Moved messages keep their cached size.
        assert_eq!(a.index.entries[2].size, Some(20));
        // Reordered: the greedy match keeps the prefix.
        let a = assign(&old, &[1, 3, 2, 4], 100);
        assert_eq!(uids(&a), vec![2, 5, 10, 11]);
        // Everything gone.
        let a = assign(&old, &[], 100);
        assert_eq!((uids(&a), a.index.uidnext), (vec![], 10));
    }

    #[test]
    fn duplicates_map_one_to_one() {
        let old = ix(7, 10, &[(1, 5), (2, 5), (3, 6), (4, 5)]);
        assert_eq!(uids(&assign(&old, &[5, 5, 6, 5], 0)), vec![1, 2, 3, 4]);
        // The first copy removed: the remaining ones keep the later UIDs in order.
        assert_eq!(uids(&assign(&old, &[5, 6, 5], 0)), vec![1, 3, 4]);
        assert_eq!(uids(&assign(&old, &[6, 5], 0)), vec![3, 4]);
        // One more copy at the end.
        assert_eq!(
            uids(&assign(&old, &[5, 5, 6, 5, 5], 0)),
            vec![1, 2, 3, 4, 10]
        );
    }

    #[test]
    fn missing_corrupt_and_exhausted_reset() {
        let a = assign(&Loaded::Missing, &[1, 2], 1_700_000_000);
        assert_eq!((uids(&a), a.reset), (vec![1, 2], true));
        assert_eq!((a.index.uidvalidity, a.index.uidnext), (1_700_000_000, 3));
        let a = assign(
            &Loaded::Corrupt {
                uidvalidity: Some(1_800_000_000),
            },
            &[1],
            1_700_000_000,
        );
        assert_eq!(a.index.uidvalidity, 1_800_000_001);
        let old = ix(5, u32::MAX, &[(1, 1)]);
        let a = assign(&old, &[1, 2], 3);
        assert!(a.reset);
        assert_eq!((uids(&a), a.index.uidvalidity), (vec![1, 2], 6));
        assert_eq!(a.index.entries[0].size, Some(10));
        assert_eq!(fresh_uidvalidity(None, 0), 1);
        assert_eq!(fresh_uidvalidity(Some(u32::MAX), 5), u32::MAX);
    }

    #[test]
    fn text_form_round_trip_and_corruption() {
        let Loaded::Index(i) = ix(42, 9, &[(1, u64::MAX), (8, 0)]) else {
            unreachable!()
        };
        let mut i = i;
        i.entries[1].size = None;
        let t = render(&i);
        assert_eq!(
            t,
            b"rmail-uidlist 1 42 9\n1 ffffffffffffffff 18446744073709551606\n8 0000000000000000 -\n"
        );
        assert_eq!(parse(&t), Ok(i));
        for bad in [
            &b""[..],
            b"rmail-uidlist 1 42 9",
            b"rmail-uidlist 2 42 9\n",
            b"rmail-uidlist 1 0 9\n",
            b"rmail-uidlist 1 42 9 1\n",
            b"\xff\n",
        ] {
            assert!(matches!(parse(bad), Err(None | Some(42))), "{bad:?}");
        }
        for bad in [
            &b"rmail-uidlist 1 42 0\n"[..],
            b"rmail-uidlist 1 42 9\n2 0000000000000001 -\n1 0000000000000002 -\n",
            b"rmail-uidlist 1 42 9\n9 0000000000000001 -\n",
            b"rmail-uidlist 1 42 9\n1 01 -\n",
            b"rmail-uidlist 1 42 9\n1 000000000000000g -\n",
            b"rmail-uidlist 1 42 9\n1 0000000000000001 x\n",
            b"rmail-uidlist 1 42 9\n1 0000000000000001 -",
            b"rmail-uidlist 1 42 9\n\n",
        ] {
            assert_eq!(
                parse(bad),
                Err(Some(42)),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn store_load_and_lock() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sub").join("INBOX");
        assert_eq!(load(&p).unwrap(), Loaded::Missing);
        let Loaded::Index(i) = ix(3, 4, &[(1, 9)]) else {
            unreachable!()
        };
        {
            let _l = IndexLock::acquire(&p).unwrap();
            store(&p, &i).unwrap();
        }
        assert_eq!(load(&p).unwrap(), Loaded::Index(i));
        std::fs::write(&p, b"rmail-uidlist 1 3 4\ngarbage\n").unwrap();
        assert_eq!(
            load(&p).unwrap(),
            Loaded::Corrupt {
                uidvalidity: Some(3)
            }
        );
        let mut names: Vec<_> = std::fs::read_dir(p.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["INBOX", "INBOX.lock"]);
    }

    #[test]
    fn hostile_index_text_never_panics() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let pieces: [&[u8]; 8] = [
            b"rmail-uidlist 1 ",
            b"42 ",
            b"9\n",
            b"1 ",
            b"0000000000000001 ",
            b"-\n",
            b"\xff",
            b" ",
        ];
        for _ in 0..2000 {
            let mut t = Vec::new();
            for _ in 0..(seed % 12) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                t.extend_from_slice(pieces[(seed % 8) as usize]);
            }
            seed = seed.wrapping_add(1);
            if let Ok(i) = parse(&t) {
                assert_eq!(parse(&render(&i)), Ok(i));
            }
        }
    }
}
