//! The system user base: the password and shadow databases through glibc's reentrant
//! `getpwnam_r(3)` and `getspnam_r(3)` (so NSS modules configured in nsswitch.conf apply, and
//! concurrent lookups from several threads are safe).
//!
//! Invariants: every call gets its own buffer (grown on `ERANGE` up to [`MAX_BUFFER`]); the
//! C strings are copied out before the buffer is dropped; names are checked by the caller
//! (no NUL can reach here: `CString::new` would refuse it).

use std::ffi::{CStr, CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// The largest buffer we grow to for one entry (NSS entries are small; this stops a runaway).
const MAX_BUFFER: usize = 1 << 20;

/// One password-database entry, copied out of the C structure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Passwd {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
    pub shell: PathBuf,
    /// `pw_passwd`: usually `x` (the hash is in the shadow database).
    pub passwd: String,
}

/// One shadow entry: the hash and the account expiry (days since 1970-01-01, -1 = never).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Shadow {
    pub hash: String,
    pub expire_day: i64,
}

fn lossy(p: *const libc::c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: glibc fills the entry with NUL-terminated strings that live in our buffer,
    // which outlives this call; null was checked above.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

fn path(p: *const libc::c_char) -> PathBuf {
    if p.is_null() {
        return PathBuf::new();
    }
    // SAFETY: as in `lossy`.
    let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
    PathBuf::from(OsStr::from_bytes(bytes))
}

/// Runs one reentrant NSS call with a growing buffer. `call(buf, len, &mut found)` returns
/// the errno-style code; `found` tells whether an entry was produced.
fn with_buffer<T>(
    mut call: impl FnMut(*mut libc::c_char, usize) -> (libc::c_int, Option<T>),
) -> std::io::Result<Option<T>> {
    let mut size = 1024usize;
    loop {
        let mut buf = vec![0 as libc::c_char; size];
        let (rc, found) = call(buf.as_mut_ptr(), buf.len());
        match rc {
            0 => return Ok(found),
            libc::ERANGE if size < MAX_BUFFER => size *= 4,
            // getpwnam_r(3): these mean "not found" on some NSS back ends.
            libc::ENOENT | libc::ESRCH | libc::EBADF | libc::EPERM => return Ok(None),
            e => return Err(std::io::Error::from_raw_os_error(e)),
        }
    }
}

/// The password-database entry of `name`, `None` when there is none.
pub(crate) fn getpwnam(name: &str) -> std::io::Result<Option<Passwd>> {
    let Ok(cname) = CString::new(name) else {
        return Ok(None);
    };
    with_buffer(|buf, len| {
        // SAFETY: passwd is plain old data; all-zero is a valid value.
        let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: valid NUL-terminated name, a live passwd struct, a buffer of `len` bytes
        // and a result pointer, all outliving the call (getpwnam_r(3)).
        let rc = unsafe { libc::getpwnam_r(cname.as_ptr(), &mut pw, buf, len, &mut result) };
        if rc != 0 || result.is_null() {
            return (rc, None);
        }
        let entry = Passwd {
            name: lossy(pw.pw_name),
            uid: pw.pw_uid,
            gid: pw.pw_gid,
            home: path(pw.pw_dir),
            shell: path(pw.pw_shell),
            passwd: lossy(pw.pw_passwd),
        };
        (0, Some(entry))
    })
}

/// The shadow entry of `name`, `None` when there is none. Only root can read the shadow
/// database; the caller checks that first so the error is clear (`EACCES` otherwise).
pub(crate) fn getspnam(name: &str) -> std::io::Result<Option<Shadow>> {
    let Ok(cname) = CString::new(name) else {
        return Ok(None);
    };
    with_buffer(|buf, len| {
        // SAFETY: spwd is plain old data; all-zero is a valid value.
        let mut sp: libc::spwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::spwd = std::ptr::null_mut();
        // SAFETY: valid NUL-terminated name, a live spwd struct, a buffer of `len` bytes
        // and a result pointer, all outliving the call (getspnam_r(3)).
        let rc = unsafe { libc::getspnam_r(cname.as_ptr(), &mut sp, buf, len, &mut result) };
        if rc != 0 || result.is_null() {
            return (rc, None);
        }
        #[allow(clippy::useless_conversion)] // c_long is i32 on 32-bit targets
        let expire_day = i64::from(sp.sp_expire);
        let entry = Shadow {
            hash: lossy(sp.sp_pwdp),
            expire_day,
        };
        (0, Some(entry))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_exists() {
        let root = getpwnam("root").unwrap().unwrap();
        assert_eq!((root.uid, root.gid), (0, 0));
        assert_eq!(root.name, "root");
        assert!(root.home.is_absolute());
    }

    #[test]
    fn missing_and_odd_names() {
        assert_eq!(getpwnam("no-such-user-rmail-test").unwrap(), None);
        assert_eq!(getpwnam("a\0b").unwrap(), None);
        assert_eq!(getpwnam("").unwrap(), None);
    }

    #[test]
    fn shadow_as_root_only() {
        if rustix::process::geteuid().is_root() {
            let sp = getspnam("root").unwrap();
            assert!(sp.is_some());
            assert_eq!(getspnam("no-such-user-rmail-test").unwrap(), None);
        }
    }
}
