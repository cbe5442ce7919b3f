//! The mail delivery agent: puts one message into a local mailbox (mbox), the way Postfix
//! local(8) does — a `From_` line (RFC 4155), separator quoting, the mailbox lock, fsync before
//! success, truncation back on failure, mode 0600 (all through [`crate::store::mbox::append`]).
//!
//! Used by `rmail -s … user` with `mta=local` and by `rmail deliver USER`, the per-user
//! delivery step that the server will spawn: it always writes as the user it runs as and
//! refuses to run as root, so a mailbox is never written as root.

pub mod aliases;
pub mod users;

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
/// `path`, mboxrd-quoted ([`quote_from_lines`]) so that the reader's un-quoting gives the body
/// back exactly and no body line can be taken for a separator. Errors: the mailbox cannot be
/// locked, written or synced (nothing half-written is left behind).
pub fn deliver_to_mbox(path: &Path, envelope_from: &str, message: &[u8]) -> Result<(), StoreError> {
    let mut raw = from_line(envelope_from, chrono::Local::now()).into_bytes();
    raw.extend_from_slice(&quote_from_lines(message));
    if !raw.ends_with(b"\n") {
        raw.push(b'\n');
    }
    mbox::append(path, &[raw])
}

/// Delivers into `user`'s own system mailbox as the delivery agent does (`rmail deliver`,
/// run as the recipient): the mailbox must be a regular file owned by `uid` — never a
/// symbolic link (checked with `lstat`), never a file another user planted in the spool —
/// or not exist yet (then it is created 0600 by the append).
pub fn deliver_to_own_mailbox(
    user: &str,
    uid: u32,
    envelope_from: &str,
    message: &[u8],
) -> Result<(), MdaError> {
    use std::os::unix::fs::MetadataExt;
    let path = mailbox_of(user);
    match std::fs::symlink_metadata(&path) {
        Ok(m) if m.file_type().is_symlink() || !m.is_file() => {
            return Err(MdaError::Unsafe(path, "not a regular file"))
        }
        Ok(m) if m.uid() != uid => return Err(MdaError::Unsafe(path, "owned by another user")),
        _ => {}
    }
    deliver_to_mbox(&path, envelope_from, message).map_err(MdaError::Store)
}

/// Why the delivery agent refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum MdaError {
    /// The mailbox path is not one we may write for this user.
    #[error("refusing to deliver to {path}: {why}", path = .0.display(), why = .1)]
    Unsafe(PathBuf, &'static str),
    /// Writing failed.
    #[error(transparent)]
    Store(StoreError),
}

/// mboxrd quoting (the mboxrd description; RFC 4155 §2 leaves quoting to the format): one `>`
/// before every body line that matches `^>*From `, so the reader's un-quoting (one `>` off
/// every `^>+From ` line) restores the message exactly.
pub fn quote_from_lines(message: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let needs = |line: &[u8]| {
        let rest = &line[line.iter().take_while(|&&b| b == b'>').count()..];
        rest.starts_with(b"From ")
    };
    if !message.split(|&b| b == b'\n').any(needs) {
        return message.into();
    }
    let mut out = Vec::with_capacity(message.len() + 64);
    for (i, line) in message.split(|&b| b == b'\n').enumerate() {
        if i > 0 {
            out.push(b'\n');
        }
        if needs(line) {
            out.push(b'>');
        }
        out.extend_from_slice(line);
    }
    out.into()
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
    fn mboxrd_quoting_round_trips() {
        let body = b"Subject: x\n\nFrom me\n>From x\n>>From y\nFromage\nend\n";
        let q = quote_from_lines(body);
        assert_eq!(
            &q[..],
            &b"Subject: x\n\n>From me\n>>From x\n>>>From y\nFromage\nend\n"[..]
        );
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("box");
        deliver_to_mbox(&p, "a@x", body).unwrap();
        let mb = mbox::Mbox::open(&p).unwrap();
        assert_eq!(mb.len(), 1);
        assert_eq!(mb.read_message(0).unwrap(), body.to_vec());
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
