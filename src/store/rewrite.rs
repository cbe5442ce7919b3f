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

/// The recovery file of mailbox `path`: `<dir>/.<name>.rmail-recover`.
pub fn recovery_path(path: &Path) -> PathBuf {
    sibling(path, ".rmail-recover")
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

pub(crate) fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(dir_of(path))?.sync_all()
}

/// A writer that counts what passed through it.
pub(crate) struct Counting<W: Write> {
    inner: W,
    pub n: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let k = self.inner.write(b)?;
        self.n += k as u64;
        Ok(k)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
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
    let io_err = |e: io::Error| StoreError::Io {
        path: path.to_owned(),
        source: e,
    };
    let old_len = mbox.metadata().map_err(io_err)?.len();
    let tmp = sibling(
        path,
        &format!(
            ".rmail-tmp.{}.{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ),
    );
    let result = (|| {
        let f = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io_err)?;
        let mut w = Counting {
            inner: BufWriter::with_capacity(COPY, f),
            n: 0,
        };
        build(&mut w)?;
        let new_len = w.n;
        let sample_end = old_len.min(new_len.saturating_add(SAMPLE));
        let sample_len = sample_end.saturating_sub(new_len);
        if sample_len > 0 {
            copy_range(mbox, new_len, sample_end, &mut w).map_err(io_err)?;
        }
        writeln!(w, "rmail-recover 1 {old_len} {new_len} {sample_len}").map_err(io_err)?;
        let f = w.inner.into_inner().map_err(|e| io_err(e.into_error()))?;
        f.sync_all().map_err(io_err)?;
        Ok((f, new_len))
    })();
    let (rec, new_len) = match result {
        Ok(x) => x,
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
    };
    let rpath = recovery_path(path);
    if let Err(e) = fs::rename(&tmp, &rpath) {
        let _ = fs::remove_file(&tmp);
        return Err(io_err(e));
    }
    sync_dir(path).map_err(io_err)?;
    apply(mbox, &rec, old_len, new_len).map_err(io_err)?;
    fs::remove_file(&rpath).map_err(io_err)?;
    sync_dir(path).map_err(io_err)?;
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

/// Removes `.<name>.rmail-tmp.<pid>.<n>` files left by writers that died before step 1 was
/// complete (their PID is dead on this host); the mailbox itself was not touched then.
fn remove_dead_temps(path: &Path) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = format!(".{name}.rmail-tmp.");
    let Ok(dir) = fs::read_dir(dir_of(path)) else {
        return;
    };
    for entry in dir.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = file.strip_prefix(&prefix) else {
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
/// caller), if `<dir>/.<name>.rmail-recover` exists. Returns whether anything was done. A
/// recovery file that is not ours or is damaged is left alone with a warning.
pub(crate) fn recover(mbox: &File, path: &Path) -> Result<bool, StoreError> {
    let io_err = |e: io::Error| StoreError::Io {
        path: path.to_owned(),
        source: e,
    };
    remove_dead_temps(path);
    let rpath = recovery_path(path);
    let rec = match File::open(&rpath) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io_err(e)),
    };
    let Some((old, new, s)) = trailer(&rec).map_err(io_err)? else {
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
    match e {
        None => {
            fs::remove_file(&rpath).map_err(io_err)?;
            sync_dir(path).map_err(io_err)?;
        }
        Some(e) => {
            let e = e.min(len);
            commit(mbox, path, |w| {
                copy_range(&rec, 0, new, w).map_err(io_err)?;
                copy_range(mbox, e, len, w).map_err(io_err)
            })?;
        }
    }
    Ok(true)
}
