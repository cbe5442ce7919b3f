//! The user base of `rmail serve`: who may receive mail here and who may log in, shared by
//! SMTP AUTH, local delivery and (later) POP3/IMAP.
//!
//! Two kinds, chosen by the main.cf-style key `user_database`:
//! - `system`: the accounts of the host (`getpwnam_r(3)`), passwords from the shadow database
//!   (`getspnam_r(3)`, root only), as Postfix local(8) and Dovecot's `passdb shadow` see them;
//! - a path: rmail's own user file of virtual users ([`add_user`] and friends manage it); their
//!   mailboxes belong to the server's `mail_owner`.
//!
//! Invariants: user names are case-sensitive (as Postfix local(8) with
//! `local_recipient_maps` of unix:passwd) and checked by [`check_name`] before any lookup;
//! a failed login costs about the same time whether or not the user exists (a dummy hash of the
//! same kind is checked); locked accounts and unknown hash schemes never log in; `verify` is
//! blocking (hashing takes tens of milliseconds) and must run on a blocking thread.

mod crypt;
mod file;
mod system;

use std::path::{Path, PathBuf};

pub use crypt::{hash_password, verify_crypt};
pub use file::{add_user, list_users, remove_user, set_password};

/// Where users come from (`user_database = system | /path/to/users`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserBase {
    /// The host's own accounts: passwd and shadow through NSS.
    System,
    /// rmail's own user file of virtual users: one `name:hash` per line, `#` comments,
    /// hashes as [`verify_crypt`] understands them (managed by [`add_user`] and friends).
    File(PathBuf),
}

/// One user of the base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The login and mailbox name, exactly as in the base (case-sensitive).
    pub name: String,
    /// System account or virtual user.
    pub kind: UserKind,
}

/// What kind of account a [`User`] is, with what delivery needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserKind {
    /// A host account: its mailbox is written with this uid/gid (`rmail deliver` run as it).
    System {
        /// The account's user id.
        uid: u32,
        /// The account's primary group id.
        gid: u32,
        /// The home directory (`pw_dir`).
        home: PathBuf,
        /// The login shell (`pw_shell`).
        shell: PathBuf,
    },
    /// A user of rmail's own file: its mailbox belongs to the server's `mail_owner`.
    Virtual,
}

/// Why a user could not be looked up, verified or changed.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// The name can never be a user name here (see [`check_name`]).
    #[error("cannot use {0:?} as a user name: {1}")]
    BadName(String, &'static str),
    /// NSS failed (not "no such user": an error of the database itself).
    #[error("cannot read the password database: {0}")]
    Passwd(std::io::Error),
    /// Checking a system password needs the shadow database, which only root can read.
    #[error("cannot read the shadow database (not root)")]
    ShadowNotRoot,
    /// The shadow database failed.
    #[error("cannot read the shadow database: {0}")]
    Shadow(std::io::Error),
    /// The user file could not be read.
    #[error("cannot read user file {path}: {source}", path = .path.display())]
    ReadFile {
        /// The user file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The user file could not be locked or replaced.
    #[error("cannot write user file {path}: {source}", path = .path.display())]
    WriteFile {
        /// The user file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The user's stored hash cannot be checked (unknown scheme, malformed, too costly): the
    /// login fails; the text is for the log, not for the client.
    #[error("cannot check the password of {user}: {why}")]
    UnsupportedHash {
        /// The user.
        user: String,
        /// Which scheme or what is wrong.
        why: String,
    },
    /// `add_user` of a user already in the file.
    #[error("cannot add user {0}: already exists")]
    Exists(String),
    /// `set_password`/`remove_user` of a user not in the file.
    #[error("cannot change user {0}: no such user")]
    NoSuchUser(String),
    /// An empty password was given to `add_user`/`set_password`.
    #[error("cannot set an empty password")]
    EmptyPassword,
    /// The random source for the salt failed.
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

/// Checks that `name` may be a user name: 1 to 64 octets, no `/`, NUL, control character,
/// white space, `:` or `@`, not starting with `.` or `-`. `Err` gives the reason. (Debian's
/// adduser is stricter still; this only keeps out names that could escape the spool directory,
/// break the user file, or be taken for an option or an address.)
pub fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("empty");
    }
    if name.len() > 64 {
        return Err("longer than 64 octets");
    }
    if name.starts_with('.') || name.starts_with('-') {
        return Err("starts with '.' or '-'");
    }
    if name.contains('/') {
        return Err("contains '/'");
    }
    if name.chars().any(|c| c.is_control()) {
        return Err("contains a control character");
    }
    if name.chars().any(char::is_whitespace) {
        return Err("contains white space");
    }
    if name.contains(':') || name.contains('@') {
        return Err("contains ':' or '@'");
    }
    Ok(())
}

/// The password database's name for `uid` (getpwuid(3)); `None` when it has none or the
/// name is not UTF-8.
pub fn name_of_uid(uid: libc::uid_t) -> Option<String> {
    // SAFETY: getpwuid returns null or a pointer to static storage; the name is copied out
    // at once, before any other password-database call.
    unsafe {
        let pw = libc::getpwuid(uid);
        if pw.is_null() || (*pw).pw_name.is_null() {
            return None;
        }
        std::ffi::CStr::from_ptr((*pw).pw_name)
            .to_str()
            .ok()
            .map(str::to_owned)
    }
}

/// The user name of a login given as `name` or `name@domain`: the bare name, or the part
/// before the last `@` when the domain is one of `local_domains` (compared ignoring ASCII
/// case, a trailing dot ignored). `None` when the domain is not local or the name is empty.
pub fn login_name<'a>(login: &'a str, local_domains: &[String]) -> Option<&'a str> {
    let (name, domain) = match login.rsplit_once('@') {
        None => (login, None),
        Some((n, d)) => (n, Some(d)),
    };
    if name.is_empty() {
        return None;
    }
    match domain {
        None => Some(name),
        Some(d) => {
            let d = d.strip_suffix('.').unwrap_or(d);
            local_domains
                .iter()
                .any(|l| {
                    let l = l.strip_suffix('.').unwrap_or(l);
                    !l.is_empty() && l.eq_ignore_ascii_case(d)
                })
                .then_some(name)
        }
    }
}

impl UserBase {
    /// The base a `user_database` value names: `system` (any case) or a path.
    pub fn from_config(value: &str) -> UserBase {
        let v = value.trim();
        if v.eq_ignore_ascii_case("system") {
            UserBase::System
        } else {
            UserBase::File(PathBuf::from(v))
        }
    }

    /// The user `name`, `None` when the base has no such user. Errors: an invalid name
    /// ([`UserError::BadName`]), the database or file cannot be read. The user file is read
    /// on every call (no reload needed after `rmail users add`).
    pub fn lookup(&self, name: &str) -> Result<Option<User>, UserError> {
        check_name(name).map_err(|why| UserError::BadName(name.to_owned(), why))?;
        match self {
            UserBase::System => Ok(system::getpwnam(name)
                .map_err(UserError::Passwd)?
                .map(|pw| User {
                    name: pw.name,
                    kind: UserKind::System {
                        uid: pw.uid,
                        gid: pw.gid,
                        home: pw.home,
                        shell: pw.shell,
                    },
                })),
            UserBase::File(path) => Ok(file::find(path, name)?.map(|e| User {
                name: e.name,
                kind: UserKind::Virtual,
            })),
        }
    }

    /// Checks a login: `Some(user)` when `login` (a bare name: see [`login_name`]) exists and
    /// `password` matches its hash; `None` for a wrong password, an unknown or invalid name, a
    /// locked (`!`, `*`, empty) or expired account. Blocking, and slow on purpose.
    ///
    /// Errors: [`UserError::ShadowNotRoot`] for the system base when not running as root (the
    /// caller must check passwords before dropping privileges, or use a user file);
    /// [`UserError::UnsupportedHash`] when the user's hash is of a scheme we cannot check (the
    /// login fails; log it); database and file errors.
    pub fn verify(&self, login: &str, password: &str) -> Result<Option<User>, UserError> {
        let pw = password.as_bytes();
        match self {
            UserBase::System => {
                if !rustix::process::geteuid().is_root() {
                    return Err(UserError::ShadowNotRoot);
                }
                let user = match self.lookup(login) {
                    Ok(Some(u)) => u,
                    Ok(None) | Err(UserError::BadName(..)) => {
                        crypt::dummy_check(crypt::DUMMY_SYSTEM_HASH, pw);
                        return Ok(None);
                    }
                    Err(e) => return Err(e),
                };
                let shadow = system::getspnam(&user.name).map_err(UserError::Shadow)?;
                let (hash, expired) = match shadow {
                    Some(sp) => (sp.hash, expired(sp.expire_day)),
                    // No shadow entry: the hash is in passwd itself (or `x`: locked).
                    None => match system::getpwnam(&user.name).map_err(UserError::Passwd)? {
                        Some(p) => (p.passwd, false),
                        None => (String::new(), false),
                    },
                };
                finish(user, &hash, expired, pw, crypt::DUMMY_SYSTEM_HASH)
            }
            UserBase::File(path) => {
                if check_name(login).is_err() {
                    crypt::dummy_check(crypt::DUMMY_FILE_HASH, pw);
                    return Ok(None);
                }
                match file::find(path, login)? {
                    Some(e) => {
                        let user = User {
                            name: e.name,
                            kind: UserKind::Virtual,
                        };
                        finish(user, &e.hash, false, pw, crypt::DUMMY_FILE_HASH)
                    }
                    None => {
                        crypt::dummy_check(crypt::DUMMY_FILE_HASH, pw);
                        Ok(None)
                    }
                }
            }
        }
    }
}

/// The common end of `verify`: check the hash (a dummy when locked or expired).
fn finish(
    user: User,
    hash: &str,
    expired: bool,
    pw: &[u8],
    dummy: &str,
) -> Result<Option<User>, UserError> {
    if expired {
        crypt::dummy_check(dummy, pw);
        return Ok(None);
    }
    match crypt::check(hash, pw) {
        crypt::Check::Match => Ok(Some(user)),
        crypt::Check::NoMatch => Ok(None),
        crypt::Check::Locked => {
            crypt::dummy_check(dummy, pw);
            Ok(None)
        }
        crypt::Check::Unsupported(why) => Err(UserError::UnsupportedHash {
            user: user.name,
            why,
        }),
    }
}

/// shadow(5) `sp_expire`: the account is unusable from that day (days since 1970-01-01)
/// on; -1 (empty field) and 0 (ambiguous, treated as "never" like shadow's own tools) mean
/// it never expires.
fn expired(expire_day: i64) -> bool {
    if expire_day <= 0 {
        return false;
    }
    let today = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() / 86_400)
        .unwrap_or(0);
    i64::try_from(today).unwrap_or(i64::MAX) >= expire_day
}

impl UserBase {
    /// The user file, `None` for the system base.
    pub fn file(&self) -> Option<&Path> {
        match self {
            UserBase::System => None,
            UserBase::File(p) => Some(p),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in [
            "alice",
            "Alice",
            "a.b",
            "a-b",
            "a_b",
            "x1",
            "müller",
            &"a".repeat(64),
        ] {
            assert_eq!(check_name(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            ".x",
            "-x",
            "a/b",
            "a\0b",
            "a\nb",
            "a b",
            "a:b",
            "a@b",
            "a\u{7f}",
            "..",
            &"a".repeat(65),
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn login_names() {
        let local = vec!["Example.org".to_string(), "mail.example.org.".to_string()];
        assert_eq!(login_name("alice", &local), Some("alice"));
        assert_eq!(login_name("alice@example.ORG", &local), Some("alice"));
        assert_eq!(login_name("alice@mail.example.org", &local), Some("alice"));
        assert_eq!(login_name("alice@example.org.", &local), Some("alice"));
        assert_eq!(login_name("alice@other.org", &local), None);
        assert_eq!(login_name("@example.org", &local), None);
        assert_eq!(login_name("", &local), None);
        assert_eq!(login_name("alice@", &local), None);
        assert_eq!(login_name("alice@", &[String::new()]), None);
        assert_eq!(login_name("a@b@example.org", &local), Some("a@b"));
    }

    #[test]
    fn config_value() {
        assert_eq!(UserBase::from_config(" System "), UserBase::System);
        assert_eq!(
            UserBase::from_config("/etc/rmail/users"),
            UserBase::File("/etc/rmail/users".into())
        );
    }

    #[test]
    fn system_lookup() {
        let base = UserBase::System;
        let root = base.lookup("root").unwrap().unwrap();
        assert_eq!(root.name, "root");
        assert!(matches!(root.kind, UserKind::System { uid: 0, gid: 0, .. }));
        assert_eq!(base.lookup("no-such-user-rmail").unwrap(), None);
        assert!(matches!(base.lookup("Root").unwrap(), None | Some(_)));
        assert!(matches!(base.lookup("../etc"), Err(UserError::BadName(..))));
        assert!(matches!(base.lookup("a\0"), Err(UserError::BadName(..))));
    }

    #[test]
    fn system_verify_needs_root() {
        let base = UserBase::System;
        let r = base.verify("root", "surely not the root password");
        if rustix::process::geteuid().is_root() {
            assert!(matches!(
                r,
                Ok(None) | Err(UserError::UnsupportedHash { .. })
            ));
            assert_eq!(base.verify("no-such-user-rmail", "x").unwrap(), None);
            assert_eq!(base.verify("bad/name", "x").unwrap(), None);
        } else {
            let e = r.unwrap_err();
            assert_eq!(e.to_string(), "cannot read the shadow database (not root)");
        }
    }

    #[test]
    fn file_base() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("users");
        std::fs::write(
            &f,
            "# virtual users\n\
             sha:{SHA512-CRYPT}$6$rmailSalt16chars$uvC6yFH6/UHetrz//2AQ.68B0JEAZdDlrBGoLcePXkprCDNoxqqIbOpAtrEyCe5Hak9s5qD/lLiNYM2Kkm8530\n\
             locked:!\n\
             old:$1$abc$def\n",
        )
        .unwrap();
        add_user(&f, "alice", "wonder land").unwrap();
        let base = UserBase::File(f.clone());
        assert_eq!(base.file(), Some(f.as_path()));

        let a = base.verify("alice", "wonder land").unwrap().unwrap();
        assert_eq!(a.name, "alice");
        assert_eq!(a.kind, UserKind::Virtual);
        assert_eq!(base.verify("alice", "wonderland").unwrap(), None);
        assert_eq!(base.verify("Alice", "wonder land").unwrap(), None);
        assert!(base.verify("sha", "correct horse").unwrap().is_some());
        assert_eq!(base.verify("locked", "").unwrap(), None);
        assert_eq!(base.verify("locked", "!").unwrap(), None);
        assert_eq!(base.verify("nobody", "x").unwrap(), None);
        assert_eq!(base.verify("bad/../name", "x").unwrap(), None);
        assert!(matches!(
            base.verify("old", "x"),
            Err(UserError::UnsupportedHash { user, .. }) if user == "old"
        ));

        assert_eq!(
            base.lookup("alice").unwrap(),
            Some(User {
                name: "alice".into(),
                kind: UserKind::Virtual
            })
        );
        assert_eq!(base.lookup("bob").unwrap(), None);
        assert!(base.lookup("a b").is_err());

        // A missing file is an empty base.
        let none = UserBase::File(dir.path().join("absent"));
        assert_eq!(none.lookup("alice").unwrap(), None);
        assert_eq!(none.verify("alice", "x").unwrap(), None);
    }

    #[test]
    fn expiry() {
        assert!(!expired(-1));
        assert!(!expired(0));
        assert!(expired(1));
        assert!(!expired(1_000_000));
    }
}
