//! Delivery into a Maildir (D. J. Bernstein's maildir(5) description, as Dovecot, Postfix
//! local(8) and Courier write it).
//!
//! A Maildir is a directory with `tmp/`, `new/` and `cur/`. A message is written under a
//! unique name in `tmp/`, fsync'ed, then moved into `new/` under the same name without
//! replacing anything, and `new/` is fsync'ed: a reader never sees a partial message and a
//! crash leaves at most a file in `tmp/` (which readers ignore and clean after 36 hours).
//! Names are `SECONDS.M<usec>P<pid>Q<seq>.HOST`, the unique-name scheme of the maildir
//! description with Dovecot's `M`/`P` fields and a per-process delivery counter `Q`; `/`
//! and `:` in the host name are written `\057` and `\072`, and `,` as `\054` (Dovecot),
//! since `:` starts the info part and `,` separates Dovecot's fields.
//!
//! Messages are stored byte for byte (the caller gives LF line ends; see
//! [`super::to_lf`]). Directories are created mode 0700, files 0600.

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use crate::store::mbox::StoreError;

static SEQ: AtomicU64 = AtomicU64::new(0);

/// How many names are tried when one is taken (it should never be).
const TRIES: u32 = 100;

/// Delivers `message` into the Maildir `dir` (created with `tmp/`, `new/`, `cur/`, mode
/// 0700, when missing) and returns the path of the new file in `dir/new/`. Returns only when
/// the file and the `new/` directory entry are on disk. Errors: `StoreError::Io` naming
/// the file or directory that failed (nothing is left in `new/`; a file in `tmp/` is
/// removed).
pub fn deliver_to_maildir(dir: &Path, message: &[u8]) -> Result<PathBuf, StoreError> {
    let err = |p: &Path| {
        let p = p.to_owned();
        move |source| StoreError::Io { path: p, source }
    };
    for sub in ["", "tmp", "new", "cur"] {
        let d = dir.join(sub);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&d)
            .map_err(err(&d))?;
    }
    let host = host_part(&hostname());
    let pid = std::process::id();
    for _ in 0..TRIES {
        let name = unique_name(
            SystemTime::now(),
            pid,
            SEQ.fetch_add(1, Ordering::Relaxed),
            &host,
        );
        let tmp = dir.join("tmp").join(&name);
        let new = dir.join("new").join(&name);
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
        let written = (&f).write_all(message).and_then(|()| f.sync_all());
        drop(f);
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(err(&tmp)(e));
        }
        match rename_noreplace(&tmp, &new) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let _ = fs::remove_file(&tmp);
                continue;
            }
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                return Err(err(&new)(e));
            }
        }
        let newdir = dir.join("new");
        File::open(&newdir)
            .and_then(|d| d.sync_all())
            .map_err(err(&newdir))?;
        return Ok(new);
    }
    Err(StoreError::Io {
        path: dir.join("tmp"),
        source: io::Error::new(io::ErrorKind::AlreadyExists, "cannot find a unique name"),
    })
}

/// The unique file name for a delivery at `now` by process `pid`, its `seq`-th, on `host`
/// (already escaped by [`host_part`]): `SECONDS.M<usec>P<pid>Q<seq>.HOST`.
pub fn unique_name(now: SystemTime, pid: u32, seq: u64, host: &str) -> String {
    let d = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}.M{}P{pid}Q{seq}.{host}", d.as_secs(), d.subsec_micros())
}

/// The host name as it may appear in a Maildir file name: `/` → `\057`, `:` → `\072`,
/// `,` → `\054`; control characters and white space → `_`; empty → `localhost`.
pub fn host_part(host: &str) -> String {
    let mut out = String::with_capacity(host.len());
    for c in host.chars() {
        match c {
            '/' => out.push_str("\\057"),
            ':' => out.push_str("\\072"),
            ',' => out.push_str("\\054"),
            c if c.is_control() || c.is_whitespace() => out.push('_'),
            c => out.push(c),
        }
    }
    if out.is_empty() {
        "localhost".to_owned()
    } else {
        out
    }
}

fn hostname() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

/// Renames `from` to `to` unless `to` exists (then `AlreadyExists`), atomically:
/// `renameat2(RENAME_NOREPLACE)`, or `link` + `unlink` on file systems without it. Shared
/// with the queue, whose IDs rely on it.
pub(crate) fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    use rustix::io::Errno;
    match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
        Ok(()) => Ok(()),
        Err(e) if e == Errno::INVAL || e == Errno::NOSYS || e == Errno::OPNOTSUPP => {
            fs::hard_link(from, to)?;
            let _ = fs::remove_file(from);
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn delivers_like_a_maildir() {
        let t = tempfile::tempdir().unwrap();
        let md = t.path().join("Maildir");
        let msg = b"From: a@b\nSubject: x\n\nFrom the body\n";
        let p1 = deliver_to_maildir(&md, msg).unwrap();
        let p2 = deliver_to_maildir(&md, b"Subject: two\n\n").unwrap();
        assert_ne!(p1, p2);
        for sub in ["tmp", "new", "cur"] {
            let m = fs::metadata(md.join(sub)).unwrap();
            assert!(m.is_dir());
            assert_eq!(m.permissions().mode() & 0o777, 0o700);
        }
        assert_eq!(p1.parent().unwrap(), md.join("new"));
        assert_eq!(fs::read(&p1).unwrap(), msg);
        assert_eq!(
            fs::metadata(&p1).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // What Python's mailbox.Maildir and Dovecot expect: nothing left in tmp/, names in
        // new/ without an info part, beginning with the seconds.
        assert_eq!(fs::read_dir(md.join("tmp")).unwrap().count(), 0);
        assert_eq!(fs::read_dir(md.join("new")).unwrap().count(), 2);
        for p in [&p1, &p2] {
            let name = p.file_name().unwrap().to_str().unwrap();
            assert!(!name.contains(':') && !name.contains('/') && !name.starts_with('.'));
            let (secs, rest) = name.split_once('.').unwrap();
            assert!(secs.parse::<u64>().unwrap() > 1_600_000_000);
            assert!(rest.starts_with('M') && rest.contains(&format!("P{}Q", std::process::id())));
        }
    }

    #[test]
    fn existing_maildir_and_errors() {
        let t = tempfile::tempdir().unwrap();
        deliver_to_maildir(t.path(), b"x").unwrap();
        // A file where the Maildir should be: an error, not a panic.
        let f = t.path().join("file");
        fs::write(&f, b"").unwrap();
        assert!(matches!(
            deliver_to_maildir(&f, b"x"),
            Err(StoreError::Io { .. })
        ));
    }

    #[test]
    fn names() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_micros(1_700_000_000_123_456);
        assert_eq!(
            unique_name(t, 42, 7, "h.example"),
            "1700000000.M123456P42Q7.h.example"
        );
        assert_eq!(host_part("a/b:c,d e\n"), "a\\057b\\072c\\054d_e_");
        assert_eq!(host_part(""), "localhost");
    }

    #[test]
    fn noreplace() {
        let t = tempfile::tempdir().unwrap();
        let (a, b) = (t.path().join("a"), t.path().join("b"));
        fs::write(&a, b"1").unwrap();
        fs::write(&b, b"2").unwrap();
        assert_eq!(
            rename_noreplace(&a, &b).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        assert_eq!(fs::read(&b).unwrap(), b"2");
        fs::remove_file(&b).unwrap();
        rename_noreplace(&a, &b).unwrap();
        assert!(!a.exists());
        assert_eq!(fs::read(&b).unwrap(), b"1");
    }
}
