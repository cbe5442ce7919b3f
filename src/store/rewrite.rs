//! Crash-safe in-place rewrite of a mailbox, and recovery after a crash.
//!
//! The mailbox is rewritten in place (same inode, owner and mode, so Postfix and other
//! readers keep working), which is not atomic; a recovery file makes it safe:
//!
//! 1. The complete new content is written to a temporary file in the mailbox's directory,
//!    followed by a trailer: a sample of the old bytes right after the new length (up to
//!    [`SAMPLE`] bytes) and the line `rmail-recover 1 <old_len> <new_len> <sample_len>\n`.
//!    It is fsync'ed and renamed to `<dir>/.<name>.rmail-recover`; the directory is fsync'ed.
//! 2. If the new content is not longer than the old, it is written from offset 0 (the file
//!    keeps its old length meanwhile), fsync'ed, then the file is truncated to the new length
//!    and fsync'ed. If it is longer, the first `old_len` bytes are written and fsync'ed first,
//!    then the rest (the file grows only in this last step).
//! 3. The recovery file is removed.
//!
//! [`recover`] (called under the lock before indexing or writing) finds the end `E` the file
//! had when the writer died, so that anything an MDA appended after the crash (at `E`) is kept:
//! the rewrite finished when the file starts with the new content and the old bytes after it
//! are gone (the sample tells); else `E` is the old length, or, when the file was growing,
//! the old length plus the part of the new tail already written. The mailbox is then rewritten
//! (by the same procedure) to new content + bytes from `E`. A kill -9 at any point loses no
//! message; the only assumption is that appended mail does not begin with the same 4 KiB as
//! the bytes it replaces.
//!
//! **Spool directories we cannot write.** Debian's `/var/mail` is `root:mail 2775`: a user
//! outside group `mail` owns and may rewrite `/var/mail/USER` but cannot create files beside
//! it. When creating the temporary file in the mailbox's directory fails with EACCES, EPERM
//! or EROFS, the temporary and recovery files go to a private per-user directory instead,
//! [`private_dir`] (`$XDG_STATE_HOME/rmail/recover`, else the local data directory, else
//! `~/.rmail-recover`; mode 0700), named after the mailbox's canonical path (see
//! [`private_name`]). The procedure is otherwise the same: the rename happens inside that
//! directory and the mailbox is rewritten in place, so nothing new is needed in the spool.
//! [`recover`] looks in both places. A recovery file in a private directory is found only by
//! the same user, which is the user who can write that mailbox.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::mbox::StoreError;

/// Bytes of the old content kept in the recovery trailer.
const SAMPLE: u64 = 4096;
const COPY: usize = 1 << 20;
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The recovery file of mailbox `path` in its own directory: `<dir>/.<name>.rmail-recover`.
pub fn recovery_path(path: &Path) -> PathBuf {
    sibling(path, ".rmail-recover")
}

/// The recovery file of mailbox `path` in [`private_dir`], used when the mailbox's directory
/// is not writable; `None` when no home directory is known.
pub fn private_recovery_path(path: &Path) -> Option<PathBuf> {
    Some(private_dir()?.join(format!("{}.rmail-recover", private_name(path))))
}

/// The per-user directory for temporary and recovery files of mailboxes whose directory we
/// cannot write: `$XDG_STATE_HOME/rmail/recover` (`dirs::state_dir`), else
/// `<local data dir>/rmail/recover`, else `$HOME/.rmail-recover`. Not created here.
pub fn private_dir() -> Option<PathBuf> {
    #[cfg(test)]
    if let Some(d) = tests::PRIVATE_DIR.with(|d| d.borrow().clone()) {
        return Some(d);
    }
    if let Some(d) = dirs::state_dir().or_else(dirs::data_local_dir) {
        return Some(d.join("rmail").join("recover"));
    }
    Some(dirs::home_dir()?.join(".rmail-recover"))
}

/// The name stem of mailbox `path`'s files in [`private_dir`]: its canonical path (the path
/// itself when it cannot be resolved) with `%` written `%25` and `/` written `%2F`, so that
/// different mailboxes never share a name; paths whose stem would be longer than 200 bytes
/// use a 64-bit FNV-1a hash of the path in hex, `-`, and the first 100 bytes of the base name.
pub fn private_name(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let canon = fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    let bytes = canon.as_os_str().as_bytes();
    let mut out = String::with_capacity(bytes.len() + 16);
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '%' => out.push_str("%25"),
                '/' => out.push_str("%2F"),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.len() <= 200 {
        return out;
    }
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    let base = canon
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut cut = base.len().min(100);
    while !base.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{hash:016x}-{}", &base[..cut])
}

/// Creates [`private_dir`] (mode 0700) and returns it.
fn make_private_dir() -> io::Result<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let dir = private_dir()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no home directory"))?;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)?;
    let meta = fs::metadata(&dir)?;
    if meta.permissions().mode() & 0o077 != 0 {
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(dir)
}

/// Where a rewrite's temporary and recovery files live.
struct Place {
    /// The temporary file, open read-write.
    tmp: PathBuf,
    /// The recovery file it becomes (same directory).
    recovery: PathBuf,
}

/// Creates a fresh temporary file for a rewrite of `path`: beside the mailbox, or in
/// [`private_dir`] when the mailbox's directory refuses it. The error names the file or
/// directory that failed.
fn create_temp(path: &Path) -> Result<(Place, File), StoreError> {
    let open = |p: &Path| {
        fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(p)
    };
    let tmp = temp_sibling(path);
    let first = match open(&tmp) {
        Ok(f) => {
            let recovery = recovery_path(path);
            return Ok((Place { tmp, recovery }, f));
        }
        Err(e) if super::mbox::is_permission(&e) => e,
        Err(e) => {
            return Err(StoreError::Io {
                path: tmp,
                source: e,
            })
        }
    };
    let why = |p: PathBuf, e: io::Error| StoreError::Io {
        path: p,
        source: io::Error::new(
            e.kind(),
            format!(
                "{e} (used because {} refused the temporary file: {first})",
                dir_of(path).display()
            ),
        ),
    };
    let dir = match make_private_dir() {
        Ok(d) => d,
        Err(e) => return Err(why(private_dir().unwrap_or_default(), e)),
    };
    let name = private_name(path);
    let tmp = dir.join(format!(
        "{name}.rmail-tmp.{}.{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    match open(&tmp) {
        Ok(f) => Ok((
            Place {
                tmp,
                recovery: dir.join(format!("{name}.rmail-recover")),
            },
            f,
        )),
        Err(e) => Err(why(tmp, e)),
    }
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir_of(path).join(format!(".{name}{suffix}"))
}

/// A fresh temporary file name beside mailbox `path`: `<dir>/.<name>.rmail-tmp.<pid>.<n>`
/// (removed by [`recover`] once the PID is dead).
pub(crate) fn temp_sibling(path: &Path) -> PathBuf {
    sibling(
        path,
        &format!(
            ".rmail-tmp.{}.{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ),
    )
}

pub(crate) fn dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// fsyncs the directory that holds `path`.
pub(crate) fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(dir_of(path))?.sync_all()
}

/// A writer that counts what passed through it and remembers its first failure (so that
/// the error can name the temporary file rather than the mailbox being read).
pub(crate) struct Counting<W: Write> {
    inner: W,
    pub n: u64,
    failed: Option<(io::ErrorKind, String)>,
}

impl<W: Write> Counting<W> {
    fn note<T>(&mut self, r: io::Result<T>) -> io::Result<T> {
        if let Err(e) = &r {
            if self.failed.is_none() {
                self.failed = Some((e.kind(), e.to_string()));
            }
        }
        r
    }
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let r = self.inner.write(b);
        let k = self.note(r)?;
        self.n += k as u64;
        Ok(k)
    }
    fn flush(&mut self) -> io::Result<()> {
        let r = self.inner.flush();
        self.note(r)
    }
}

/// The sink given to a rewrite's content builder.
pub(crate) type Sink = Counting<BufWriter<File>>;

/// Copies `src[from..to)` to `w` in 1 MiB pieces. Errors with `UnexpectedEof` when `src` is
/// shorter.
pub(crate) fn copy_range(src: &File, from: u64, to: u64, w: &mut impl Write) -> io::Result<()> {
    let mut buf = vec![0u8; COPY.min(to.saturating_sub(from) as usize)];
    let mut at = from;
    while at < to {
        let n = ((to - at) as usize).min(buf.len());
        src.read_exact_at(&mut buf[..n], at)?;
        w.write_all(&buf[..n])?;
        at += n as u64;
    }
    Ok(())
}

/// Rewrites `mbox` (open read-write on `path`, locked by the caller) with the content that
/// `build` writes, by the crash-safe procedure of this module. On a `build` error nothing is
/// changed and the error is returned.
pub(crate) fn commit(
    mbox: &File,
    path: &Path,
    build: impl FnOnce(&mut Sink) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let _critical = super::critical::Critical::enter();
    let io_err = |e: io::Error| StoreError::Io {
        path: path.to_owned(),
        source: e,
    };
    let old_len = mbox.metadata().map_err(io_err)?.len();
    let (place, f) = create_temp(path)?;
    let tmp = &place.tmp;
    let tmp_err = |e: io::Error| StoreError::Io {
        path: tmp.clone(),
        source: e,
    };
    let result = (|| {
        let mut w = Counting {
            inner: BufWriter::with_capacity(COPY, f),
            n: 0,
            failed: None,
        };
        if let Err(e) = build(&mut w) {
            return Err(match w.failed.take() {
                Some((kind, text)) => tmp_err(io::Error::new(kind, text)),
                None => e,
            });
        }
        let new_len = w.n;
        let sample_end = old_len.min(new_len.saturating_add(SAMPLE));
        let sample_len = sample_end.saturating_sub(new_len);
        if sample_len > 0 {
            if let Err(e) = copy_range(mbox, new_len, sample_end, &mut w) {
                return Err(if w.failed.is_some() {
                    tmp_err(e)
                } else {
                    io_err(e)
                });
            }
        }
        writeln!(w, "rmail-recover 1 {old_len} {new_len} {sample_len}").map_err(tmp_err)?;
        let f = w.inner.into_inner().map_err(|e| tmp_err(e.into_error()))?;
        f.sync_all().map_err(tmp_err)?;
        Ok((f, new_len))
    })();
    let (rec, new_len) = match result {
        Ok(x) => x,
        Err(e) => {
            let _ = fs::remove_file(tmp);
            return Err(e);
        }
    };
    let rpath = &place.recovery;
    let dir_err = |e: io::Error| StoreError::Io {
        path: dir_of(rpath),
        source: e,
    };
    if let Err(e) = fs::rename(tmp, rpath) {
        let _ = fs::remove_file(tmp);
        return Err(tmp_err(e));
    }
    sync_dir(rpath).map_err(dir_err)?;
    apply(mbox, &rec, old_len, new_len).map_err(io_err)?;
    fs::remove_file(rpath).map_err(|e| StoreError::Io {
        path: rpath.clone(),
        source: e,
    })?;
    sync_dir(rpath).map_err(dir_err)?;
    Ok(())
}

/// Step 2: overwrite the mailbox from the recovery file's content.
fn apply(mbox: &File, rec: &File, old_len: u64, new_len: u64) -> io::Result<()> {
    let mut at = 0;
    let first = new_len.min(old_len);
    let copy = |to: u64, at: &mut u64| -> io::Result<()> {
        let mut buf = vec![0u8; COPY.min(to.saturating_sub(*at) as usize)];
        while *at < to {
            let n = ((to - *at) as usize).min(buf.len());
            rec.read_exact_at(&mut buf[..n], *at)?;
            mbox.write_all_at(&buf[..n], *at)?;
            *at += n as u64;
        }
        Ok(())
    };
    copy(first, &mut at)?;
    mbox.sync_data()?;
    if new_len > old_len {
        copy(new_len, &mut at)?;
    } else {
        mbox.set_len(new_len)?;
    }
    mbox.sync_all()
}

/// The trailer of a recovery file: (old_len, new_len, sample_len).
fn trailer(rec: &File) -> io::Result<Option<(u64, u64, u64)>> {
    let len = rec.metadata()?.len();
    let n = len.min(128) as usize;
    let mut b = vec![0u8; n];
    rec.read_exact_at(&mut b, len - n as u64)?;
    let Some(b) = b.strip_suffix(b"\n") else {
        return Ok(None);
    };
    let start = memchr::memrchr(b'\n', b).map_or(0, |i| i + 1);
    let text = String::from_utf8_lossy(&b[start..]).into_owned();
    let f: Vec<&str> = text.split(' ').collect();
    if f.len() != 5 || f[0] != "rmail-recover" || f[1] != "1" {
        return Ok(None);
    }
    let num = |s: &str| s.parse::<u64>().ok();
    let (Some(o), Some(nw), Some(s)) = (num(f[2]), num(f[3]), num(f[4])) else {
        return Ok(None);
    };
    let tl = (b.len() - start + 1) as u64;
    if nw.checked_add(s).and_then(|x| x.checked_add(tl)) != Some(len) {
        return Ok(None);
    }
    Ok(Some((o, nw, s)))
}

/// Length of the common prefix of `a[a_at..a_at+n)` and `b[b_at..b_at+n)` (clamped to what
/// both files hold).
fn common(a: &File, a_at: u64, b: &File, b_at: u64, n: u64) -> io::Result<u64> {
    let mut x = vec![0u8; COPY.min(n as usize)];
    let mut y = vec![0u8; x.len()];
    let mut done = 0;
    while done < n {
        let k = ((n - done) as usize).min(x.len());
        let ka = read_some(a, &mut x[..k], a_at + done)?;
        let kb = read_some(b, &mut y[..k], b_at + done)?;
        let m = ka.min(kb);
        let same = x[..m]
            .iter()
            .zip(&y[..m])
            .take_while(|(p, q)| p == q)
            .count();
        done += same as u64;
        if same < k {
            break;
        }
    }
    Ok(done)
}

fn read_some(f: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match f.read_at(&mut buf[got..], at + got as u64) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Removes `.<name>.rmail-tmp.<pid>.<n>` files beside the mailbox, and
/// `<private name>.rmail-tmp.<pid>.<n>` files in [`private_dir`], left by writers that died
/// before step 1 was complete (their PID is dead on this host); the mailbox itself was not
/// touched then.
fn remove_dead_temps(path: &Path) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    remove_dead_in(&dir_of(path), &format!(".{name}.rmail-tmp."));
    if let Some(dir) = private_dir() {
        remove_dead_in(&dir, &format!("{}.rmail-tmp.", private_name(path)));
    }
}

fn remove_dead_in(dir: &Path, prefix: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = file.strip_prefix(prefix) else {
            continue;
        };
        let Some(Ok(pid)) = rest.split('.').next().map(str::parse::<i32>) else {
            continue;
        };
        // SAFETY: kill with signal 0 only checks for existence.
        let dead = pid > 0
            && unsafe { libc::kill(pid, 0) } != 0
            && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if dead {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Finishes an interrupted rewrite of `mbox` (open read-write on `path`, locked by the
/// caller), if a recovery file exists beside it ([`recovery_path`]) or in the private
/// directory ([`private_recovery_path`]). Returns whether anything was done. A recovery file
/// that is not ours or is damaged is left alone with a warning.
pub(crate) fn recover(mbox: &File, path: &Path) -> Result<bool, StoreError> {
    let _critical = super::critical::Critical::enter();
    remove_dead_temps(path);
    let mut done = false;
    done |= recover_from(mbox, path, &recovery_path(path))?;
    // The private fallback lives in this user's own state directory: one we may not even
    // enter (a process that changed user but kept $HOME) cannot hold a write-back of ours.
    if let Some(rpath) = private_recovery_path(path) {
        match recover_from(mbox, path, &rpath) {
            Ok(d) => done |= d,
            Err(StoreError::Io { source, .. })
                if source.kind() == io::ErrorKind::PermissionDenied => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// [`recover`] from one recovery file `rpath`.
fn recover_from(mbox: &File, path: &Path, rpath: &Path) -> Result<bool, StoreError> {
    let io_err = |e: io::Error| StoreError::Io {
        path: path.to_owned(),
        source: e,
    };
    let rec_err = |e: io::Error| StoreError::Io {
        path: rpath.to_owned(),
        source: e,
    };
    let rec = match File::open(rpath) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(rec_err(e)),
    };
    let Some((old, new, s)) = trailer(&rec).map_err(rec_err)? else {
        eprintln!(
            "rmail: warning: ignoring damaged recovery file {}",
            rpath.display()
        );
        return Ok(false);
    };
    let len = mbox.metadata().map_err(io_err)?.len();
    let head = common(mbox, 0, &rec, 0, new).map_err(io_err)?;
    let e = if new <= old {
        let untruncated =
            s > 0 && len >= new + s && common(mbox, new, &rec, new, s).map_err(io_err)? == s;
        if head == new && !untruncated {
            None
        } else {
            Some(old)
        }
    } else if head == new && len >= new {
        None
    } else if head >= old {
        Some(old + common(mbox, old, &rec, old, new - old).map_err(io_err)?)
    } else {
        Some(old)
    };
    if let Some(e) = e {
        let e = e.min(len);
        // The new recovery file usually replaces `rpath` (same place) and is removed by
        // `commit`; when it went elsewhere, `rpath` is removed below.
        commit(mbox, path, |w| {
            copy_range(&rec, 0, new, w).map_err(rec_err)?;
            copy_range(mbox, e, len, w).map_err(io_err)
        })?;
    }
    match fs::remove_file(rpath) {
        Ok(()) => sync_dir(rpath).map_err(|e| StoreError::Io {
            path: dir_of(rpath),
            source: e,
        })?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(rec_err(e)),
    }
    Ok(true)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::cell::RefCell;

    thread_local! {
        /// Overrides [`private_dir`] for the tests of this thread.
        pub(crate) static PRIVATE_DIR: RefCell<Option<PathBuf>> = const { RefCell::new(None) };
    }

    /// Points [`private_dir`] at `dir` for this thread.
    pub(crate) fn set_private_dir(dir: Option<PathBuf>) {
        PRIVATE_DIR.with(|d| *d.borrow_mut() = dir);
    }

    #[test]
    fn private_names_are_distinct_and_short() {
        let d = tempfile::tempdir().unwrap();
        let canon = fs::canonicalize(d.path()).unwrap();
        let a = private_name(&d.path().join("a%2Fb"));
        let b = private_name(&d.path().join("a").join("b"));
        assert_ne!(a, b);
        assert!(!a.contains('/') && !b.contains('/'));
        assert!(a.ends_with("a%252Fb"), "{a}");
        assert!(b.starts_with("%2F"), "{b}");
        // Symlinks resolve to the same name as their target.
        fs::write(d.path().join("t"), b"").unwrap();
        std::os::unix::fs::symlink("t", d.path().join("l")).unwrap();
        assert_eq!(
            private_name(&d.path().join("l")),
            private_name(&canon.join("t"))
        );
        let long = d.path().join("x".repeat(250));
        let n = private_name(&long);
        assert!(n.len() <= 117 && n.ends_with(&"x".repeat(100)), "{n}");
        assert_ne!(n, private_name(&d.path().join("y".repeat(250))));
        assert_eq!(
            private_name(Path::new("/m\u{e4}il/\u{4f60}")),
            "%2Fm\u{e4}il%2F\u{4f60}"
        );
    }

    #[test]
    fn private_dir_is_made_0700() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("state").join("rmail").join("recover");
        set_private_dir(Some(dir.clone()));
        assert_eq!(make_private_dir().unwrap(), dir);
        assert_eq!(
            fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        set_private_dir(None);
    }
}
