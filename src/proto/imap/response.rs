//! Writing server responses (RFC 3501 §7): status responses with response codes (§7.1,
//! RFC 5530), flag lists, dates, mailbox names and message data.
//!
//! Responses are written by hand rather than through imap-codec's encoder: their data comes
//! from `message::imap` (ENVELOPE, BODYSTRUCTURE, already in IMAP syntax via its `wire`
//! writer) and from the store, not from imap-types values, and building imap-types values
//! only to encode them would copy every message body once more. Texts never carry CR, LF or
//! NUL (see [`text`]).

use std::fmt::Write as _;

use chrono::{DateTime, FixedOffset};

use super::store::{Flags, StoreError};
use crate::message::imap::wire;

/// The outcome of a tagged command (RFC 3501 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
    Ok,
    No,
    Bad,
}

/// A tagged status response: status, optional response code (without brackets), text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Tagged {
    pub status: Status,
    pub code: Option<String>,
    pub text: String,
}

impl Tagged {
    pub fn ok(text: impl Into<String>) -> Tagged {
        Tagged {
            status: Status::Ok,
            code: None,
            text: text.into(),
        }
    }

    pub fn no(text: impl Into<String>) -> Tagged {
        Tagged {
            status: Status::No,
            code: None,
            text: text.into(),
        }
    }

    pub fn bad(text: impl Into<String>) -> Tagged {
        Tagged {
            status: Status::Bad,
            code: None,
            text: text.into(),
        }
    }

    /// With a response code, e.g. `"TRYCREATE"` or `"UIDVALIDITY 3"`.
    pub fn code(mut self, code: impl Into<String>) -> Tagged {
        self.code = Some(code.into());
        self
    }

    /// A store failure as `NO [CODE] text` (RFC 5530); `[TRYCREATE]` instead of
    /// `[NONEXISTENT]` when `try_create` (APPEND, COPY, MOVE: RFC 3501 §6.3.11).
    pub fn store(e: &StoreError, try_create: bool) -> Tagged {
        let text = match e {
            StoreError::NonExistent => "Mailbox doesn't exist.".to_string(),
            StoreError::AlreadyExists => "Mailbox already exists.".to_string(),
            StoreError::ReadOnly => "Mailbox is read-only.".to_string(),
            StoreError::Cannot(t) | StoreError::Unavailable(t) => text(t),
        };
        let t = Tagged::no(text);
        match (e, try_create) {
            (StoreError::NonExistent, true) => t.code("TRYCREATE"),
            _ => match e.code() {
                Some(c) => t.code(c),
                None => t,
            },
        }
    }

    /// The response line for `tag`.
    pub fn write(&self, tag: &str, out: &mut Vec<u8>) {
        let status = match self.status {
            Status::Ok => "OK",
            Status::No => "NO",
            Status::Bad => "BAD",
        };
        out.extend_from_slice(tag.as_bytes());
        out.push(b' ');
        out.extend_from_slice(status.as_bytes());
        if let Some(c) = &self.code {
            out.extend_from_slice(b" [");
            out.extend_from_slice(c.as_bytes());
            out.push(b']');
        }
        out.push(b' ');
        out.extend_from_slice(self.text.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// An untagged line `* text` (the text already in IMAP syntax).
pub(super) fn untagged(out: &mut Vec<u8>, line: &str) {
    out.extend_from_slice(b"* ");
    out.extend_from_slice(line.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// `s` made safe for human-readable text: CR, LF and other controls become spaces, and
/// `[` at the start (which would read as a response code) is avoided; at most 200 chars.
pub(super) fn text(s: &str) -> String {
    let mut t: String = s
        .chars()
        .take(200)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if t.starts_with('[') || t.is_empty() {
        t.insert_str(0, "Error: ");
    }
    t
}

/// A flag list `(\Answered \Seen kw \Recent)` (RFC 3501 §2.3.2), system flags in a fixed
/// order, then keywords, then `\Recent`.
pub(super) fn flag_list(flags: &Flags, keywords: &[String]) -> String {
    let mut v: Vec<&str> = Vec::new();
    for (on, name) in [
        (flags.answered, "\\Answered"),
        (flags.flagged, "\\Flagged"),
        (flags.deleted, "\\Deleted"),
        (flags.seen, "\\Seen"),
        (flags.draft, "\\Draft"),
    ] {
        if on {
            v.push(name);
        }
    }
    v.extend(keywords.iter().map(String::as_str));
    if flags.recent {
        v.push("\\Recent");
    }
    format!("({})", v.join(" "))
}

/// RFC 3501 §9 `date-time`: `"17-Jul-1996 02:44:25 -0700"`, quotes included.
pub(super) fn date_time(d: &DateTime<FixedOffset>) -> String {
    d.format("\"%d-%b-%Y %H:%M:%S %z\"").to_string()
}

/// A mailbox name as an IMAP string (quoted, or a literal when 8-bit): as UTF-8 for an
/// IMAP4rev2 client (`utf8`, RFC 9051 §5.1), else in modified UTF-7 (RFC 3501 §5.1.3).
pub(super) fn mailbox_for(out: &mut Vec<u8>, name: &str, utf8: bool) {
    if utf8 {
        wire::write_string(out, name.as_bytes());
    } else {
        wire::write_string(out, super::utf7::encode(name).as_bytes());
    }
}

/// A UID list for COPYUID (RFC 4315 §3 `uid-set`), runs of consecutive UIDs as ranges,
/// keeping the order given.
pub(super) fn uid_set(uids: &[u32]) -> String {
    let mut s = String::new();
    let mut k = 0;
    while k < uids.len() {
        let start = uids[k];
        let mut end = start;
        while k + 1 < uids.len() && uids[k + 1] == end.wrapping_add(1) {
            end = uids[k + 1];
            k += 1;
        }
        if !s.is_empty() {
            s.push(',');
        }
        if start == end {
            let _ = write!(s, "{start}");
        } else {
            let _ = write!(s, "{start}:{end}");
        }
        k += 1;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writers() {
        let mut out = Vec::new();
        Tagged::no("x").code("TRYCREATE").write("a1", &mut out);
        assert_eq!(out, b"a1 NO [TRYCREATE] x\r\n");
        assert_eq!(text("a\r\nb"), "a  b");
        assert_eq!(text("[ALERT] x"), "Error: [ALERT] x");
        assert_eq!(uid_set(&[1, 2, 3, 5, 7, 8]), "1:3,5,7:8");
        let f = Flags {
            seen: true,
            recent: true,
            answered: true,
            ..Flags::default()
        };
        assert_eq!(
            flag_list(&f, &["$Junk".into()]),
            "(\\Answered \\Seen $Junk \\Recent)"
        );
        let d = DateTime::parse_from_rfc3339("1996-07-17T02:44:25-07:00").unwrap();
        assert_eq!(date_time(&d), "\"17-Jul-1996 02:44:25 -0700\"");
    }
}
