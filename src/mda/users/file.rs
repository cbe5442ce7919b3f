//! rmail's own user file (virtual users): a text file, one `name:hash` per line, `#` comment
//! lines and blank lines ignored. `hash` is what [`super::hash_password`] writes (an argon2id
//! PHC string) or, for accounts migrated from Dovecot's passwd-file, `{SHA512-CRYPT}$6$…`,
//! `$y$…` and the like; fields after a further `:` (Dovecot's uid, gid, home, …) are ignored.
//!
//! Invariants: the file is only ever replaced whole (temp file, fsync, rename, fsync of the
//! directory) under an exclusive lock on `.NAME.lock` beside it, so a reader sees the old or
//! the new file and two concurrent changes do not lose each other; the file is mode 0600 and
//! keeps its owner (so an administrator may hand it to the mail owner); lines the change does
//! not touch are kept byte for byte.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::{check_name, UserError};

/// The largest user file we read (a small host's user list is far smaller).
const MAX_FILE: u64 = 16 << 20;

/// One account line of the user file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub name: String,
    pub hash: String,
}

/// Splits one line into an entry: `None` for comments and blank lines, `Err(why)` for a line
/// that is neither.
fn parse_line(line: &str) -> Option<Result<Entry, &'static str>> {
    let t = line.trim();
    if t.is_empty() || t.starts_with('#') {
        return None;
    }
    let Some((name, rest)) = t.split_once(':') else {
        return Some(Err("missing ':' between name and hash"));
    };
    let hash = rest.split(':').next().unwrap_or("");
    if let Err(why) = check_name(name) {
        return Some(Err(why));
    }
    Some(Ok(Entry {
        name: name.to_owned(),
        hash: hash.trim().to_owned(),
    }))
}

/// Parses a user file's text: the entries (first of duplicate names wins) and the problems as
/// (1-based line, reason).
pub(crate) fn parse(text: &str) -> (Vec<Entry>, Vec<(usize, String)>) {
    let mut entries: Vec<Entry> = Vec::new();
    let mut problems = Vec::new();
    for (i, line) in text.lines().enumerate() {
        match parse_line(line) {
            None => {}
            Some(Err(why)) => problems.push((i + 1, why.to_owned())),
            Some(Ok(e)) => {
                if entries.iter().any(|x| x.name == e.name) {
                    problems.push((i + 1, format!("duplicate user {} ignored", e.name)));
                } else {
                    entries.push(e);
                }
            }
        }
    }
    (entries, problems)
}

/// The file's text; a file that does not exist is empty.
pub(crate) fn read(path: &Path) -> Result<String, UserError> {
    let err = |source| UserError::ReadFile {
        path: path.to_owned(),
        source,
    };
    match std::fs::metadata(path) {
        Ok(m) if m.len() > MAX_FILE => {
            return Err(err(std::io::Error::other("file too large")));
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(String::new()),
        Err(e) => return Err(err(e)),
    }
    match std::fs::read(path) {
        Ok(b) => Ok(String::from_utf8_lossy(&b).into_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(err(e)),
    }
}

/// The entry of `name` in the file at `path`, if any (the file is read on every call, so
/// changes apply without a reload).
pub(crate) fn find(path: &Path, name: &str) -> Result<Option<Entry>, UserError> {
    let text = read(path)?;
    Ok(text
        .lines()
        .filter_map(parse_line)
        .filter_map(Result::ok)
        .find(|e| e.name == name))
}

/// The user names in the file at `path`, in file order (a missing file has none).
pub fn list_users(path: &Path) -> Result<Vec<String>, UserError> {
    Ok(parse(&read(path)?).0.into_iter().map(|e| e.name).collect())
}

/// Adds `name` with a new argon2id hash of `password` to the user file at `path`, creating
/// the file (0600) and its directory (0755) when missing. Errors: an invalid name, an empty
/// password, a user of that name already there, or the file cannot be read, locked or
/// written.
pub fn add_user(path: &Path, name: &str, password: &str) -> Result<(), UserError> {
    check_name(name).map_err(|why| UserError::BadName(name.to_owned(), why))?;
    let hash = new_hash(password)?;
    change(path, |text| {
        if parse(text).0.iter().any(|e| e.name == name) {
            return Err(UserError::Exists(name.to_owned()));
        }
        let mut out = text.to_owned();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&format!("{name}:{hash}\n"));
        Ok(out)
    })
}

/// Replaces the hash of `name` in the user file at `path` with a new argon2id hash of
/// `password` (extra Dovecot fields on that line are kept). Errors: no such user, an empty
/// password, or the file cannot be read, locked or written.
pub fn set_password(path: &Path, name: &str, password: &str) -> Result<(), UserError> {
    check_name(name).map_err(|why| UserError::BadName(name.to_owned(), why))?;
    let hash = new_hash(password)?;
    change(path, |text| {
        rewrite_line(text, name, |line| {
            let rest = line.splitn(3, ':').nth(2);
            Some(match rest {
                Some(rest) => format!("{name}:{hash}:{rest}"),
                None => format!("{name}:{hash}"),
            })
        })
    })
}

/// Removes `name` from the user file at `path`. Errors: no such user, or the file cannot be
/// read, locked or written.
pub fn remove_user(path: &Path, name: &str) -> Result<(), UserError> {
    check_name(name).map_err(|why| UserError::BadName(name.to_owned(), why))?;
    change(path, |text| rewrite_line(text, name, |_| None))
}

fn new_hash(password: &str) -> Result<String, UserError> {
    if password.is_empty() {
        return Err(UserError::EmptyPassword);
    }
    super::crypt::hash_password(password).map_err(UserError::Hash)
}

/// `text` with the (first) line of `name` replaced by `f(line)` (removed on `None`).
fn rewrite_line(
    text: &str,
    name: &str,
    f: impl FnOnce(&str) -> Option<String>,
) -> Result<String, UserError> {
    let mut out = String::with_capacity(text.len() + 128);
    let mut f = Some(f);
    for line in text.split_inclusive('\n') {
        let is_it = matches!(parse_line(line), Some(Ok(ref e)) if e.name == name);
        match (is_it, f.take()) {
            (true, Some(f)) => {
                if let Some(new) = f(line.trim_end_matches(['\n', '\r']).trim()) {
                    out.push_str(&new);
                    out.push('\n');
                }
            }
            (_, g) => {
                f = g;
                out.push_str(line);
            }
        }
    }
    if f.is_some() {
        return Err(UserError::NoSuchUser(name.to_owned()));
    }
    Ok(out)
}

/// Applies `edit` to the file's text under the lock and replaces the file atomically.
fn change(
    path: &Path,
    edit: impl FnOnce(&str) -> Result<String, UserError>,
) -> Result<(), UserError> {
    let werr = |source| UserError::WriteFile {
        path: path.to_owned(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let Some(file_name) = path.file_name() else {
        return Err(werr(std::io::Error::other("not a file name")));
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(&dir)
        .map_err(werr)?;
    let lock_path = dir.join(format!(".{}.lock", file_name.to_string_lossy()));
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&lock_path)
        .map_err(werr)?;
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)
        .map_err(|e| werr(e.into()))?;

    let old = std::fs::metadata(path).ok();
    let text = read(path)?;
    let new = edit(&text)?;

    let tmp = dir.join(format!(
        ".{}.tmp{}",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&tmp);
    let result = (|| {
        let mut f = OpenOptions::new()
            .create_new(true)
            .write(true)
            .mode(0o600)
            .open(&tmp)?;
        if let Some(m) = &old {
            // Keep the owner; only root can give a file away, others keep their own.
            if rustix::process::geteuid().is_root() {
                std::os::unix::fs::fchown(&f, Some(m.uid()), Some(m.gid()))?;
            }
        }
        f.write_all(new.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        File::open(&dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    drop(lock);
    result.map_err(werr)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn parse_lines() {
        let (e, p) = parse(
            "# users\n\nalice:$argon2id$x\n  bob:{SHA512-CRYPT}$6$s$h:1000:1000::/home/bob::\n\
             broken line\n.bad:x\nalice:second\n",
        );
        assert_eq!(
            e,
            vec![
                Entry {
                    name: "alice".into(),
                    hash: "$argon2id$x".into()
                },
                Entry {
                    name: "bob".into(),
                    hash: "{SHA512-CRYPT}$6$s$h".into()
                },
            ]
        );
        assert_eq!(p.iter().map(|x| x.0).collect::<Vec<_>>(), vec![5, 6, 7]);
    }

    #[test]
    fn manage() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("etc/rmail/users");
        assert_eq!(list_users(&f).unwrap(), Vec::<String>::new());
        add_user(&f, "alice", "one").unwrap();
        add_user(&f, "bob", "two").unwrap();
        assert!(matches!(
            add_user(&f, "alice", "x"),
            Err(UserError::Exists(n)) if n == "alice"
        ));
        assert!(matches!(
            add_user(&f, "carol", ""),
            Err(UserError::EmptyPassword)
        ));
        assert!(matches!(
            add_user(&f, "a:b", "x"),
            Err(UserError::BadName(..))
        ));
        assert_eq!(list_users(&f).unwrap(), vec!["alice", "bob"]);
        let mode = std::fs::metadata(&f).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);

        let h1 = find(&f, "alice").unwrap().unwrap().hash;
        assert!(crate::mda::users::verify_crypt(&h1, "one"));
        set_password(&f, "alice", "uno").unwrap();
        let h2 = find(&f, "alice").unwrap().unwrap().hash;
        assert!(crate::mda::users::verify_crypt(&h2, "uno"));
        assert!(!crate::mda::users::verify_crypt(&h2, "one"));
        assert!(matches!(
            set_password(&f, "zed", "x"),
            Err(UserError::NoSuchUser(_))
        ));

        remove_user(&f, "alice").unwrap();
        assert!(matches!(
            remove_user(&f, "alice"),
            Err(UserError::NoSuchUser(_))
        ));
        assert_eq!(list_users(&f).unwrap(), vec!["bob"]);
        // No temp files left over.
        let names: Vec<_> = std::fs::read_dir(f.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.contains("tmp"))
            .collect();
        assert!(names.is_empty(), "{names:?}");
    }

    #[test]
    fn comments_and_extra_fields_survive() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("users");
        std::fs::write(
            &f,
            "# keep me\nbob:{SHA512-CRYPT}$6$s$h:1000:1000::/home/bob\n\ncarol:$y$x",
        )
        .unwrap();
        set_password(&f, "bob", "pw").unwrap();
        add_user(&f, "dave", "pw").unwrap();
        let text = std::fs::read_to_string(&f).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "# keep me");
        assert!(lines[1].starts_with("bob:$argon2id$"));
        assert!(lines[1].ends_with(":1000:1000::/home/bob"));
        assert_eq!(lines[2], "");
        assert_eq!(lines[3], "carol:$y$x");
        assert!(lines[4].starts_with("dave:$argon2id$"));
    }
}
