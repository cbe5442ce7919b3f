//! The mail delivery agent: puts one message into a local mailbox (mbox), the way Postfix
//! local(8) does — a `From_` line (RFC 4155), separator quoting, the mailbox lock, fsync before
//! success, truncation back on failure, mode 0600 (all through [`crate::store::mbox::append`]).
//!
//! Used by `rmail -s … user` with `mta=local` and by `rmail deliver USER`, the per-user
//! delivery step that the server will spawn: it always writes as the user it runs as and
//! refuses to run as root, so a mailbox is never written as root.

use std::path::{Path, PathBuf};

use crate::store::mbox::{self, StoreError};

/// Debian's mail spool directory; `RMAIL_SPOOL_DIR` overrides it (tests, odd layouts).
pub fn spool_dir() -> PathBuf {
    std::env::var_os("RMAIL_SPOOL_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/mail"))
}

/// The system mailbox of `user`: `spool_dir()/user`.
pub fn mailbox_of(user: &str) -> PathBuf {
    spool_dir().join(user)
}

/// The `From_` line for a message from `envelope_from` received now, as Postfix local(8)
/// writes it: `From sender  Fri Mar 22 13:10:55 2024` (asctime, local time). An empty sender
/// (bounces) becomes `MAILER-DAEMON`.
pub fn from_line(envelope_from: &str, now: chrono::DateTime<chrono::Local>) -> String {
    let sender = if envelope_from.is_empty() || envelope_from.contains(char::is_whitespace) {
        "MAILER-DAEMON"
    } else {
        envelope_from
    };
    format!("From {sender}  {}\n", now.format("%a %b %e %H:%M:%S %Y"))
}

/// Appends `message` (RFC 5322 bytes, LF line ends) from `envelope_from` to the mbox at
/// `path`. Errors: the mailbox cannot be locked, written or synced (nothing half-written is
/// left behind).
pub fn deliver_to_mbox(path: &Path, envelope_from: &str, message: &[u8]) -> Result<(), StoreError> {
    let mut raw = from_line(envelope_from, chrono::Local::now()).into_bytes();
    raw.extend_from_slice(message);
    if !raw.ends_with(b"\n") {
        raw.push(b'\n');
    }
    mbox::append(path, &[raw])
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn from_line_like_postfix() {
        let t = chrono::Local
            .with_ymd_and_hms(2024, 3, 2, 13, 10, 55)
            .unwrap();
        assert_eq!(
            from_line("z@example.com", t),
            "From z@example.com  Sat Mar  2 13:10:55 2024\n"
        );
        assert!(from_line("", t).starts_with("From MAILER-DAEMON  "));
        assert!(
            crate::store::from_line::parse(from_line("a b", t).trim_end().as_bytes()).is_some()
        );
    }

    #[test]
    fn delivered_message_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("box");
        deliver_to_mbox(
            &p,
            "a@x",
            b"Subject: one\n\nFrom the shed\n\nFrom a@b Mon Jan  1 10:00:00 2024\n",
        )
        .unwrap();
        deliver_to_mbox(&p, "b@x", b"Subject: two\n\nbody").unwrap();
        let mb = mbox::Mbox::open(&p).unwrap();
        assert_eq!(mb.len(), 2);
        let one = mb.read_message(0).unwrap();
        assert!(String::from_utf8_lossy(&one).contains("\nFrom a@b Mon Jan  1 10:00:00 2024\n"));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
