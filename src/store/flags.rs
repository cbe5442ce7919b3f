//! Message flags kept in mbox headers, shared by the mail reader, mutt, s-nail, Dovecot and
//! our IMAP and POP3 sessions ("one mailbox, one truth"; no flag lives anywhere else).
//!
//! The mapping (mailx for `Status:`, the mutt/Dovecot/UW-imapd convention for the rest):
//!
//! | header          | letter / value | IMAP (RFC 9051 §2.3.2)       |
//! |-----------------|----------------|------------------------------|
//! | `Status:`       | `R`            | `\Seen`                      |
//! | `Status:`       | `O`            | old: not `\Recent`           |
//! | `X-Status:`     | `A`            | `\Answered`                  |
//! | `X-Status:`     | `F`            | `\Flagged`                   |
//! | `X-Status:`     | `T`            | `\Draft`                     |
//! | `X-Status:`     | `D`            | `\Deleted`                   |
//! | `X-Keywords:`   | space-separated| keywords (`$Forwarded`, `Junk`, …) |
//!
//! [`with_flags`] rewrites those three fields of a stored header (the write-back of IMAP
//! `STORE`); [`served`] is the message as IMAP and POP3 hand it out: without those fields
//! nor the other mbox bookkeeping fields ([`HIDDEN_FIELDS`], the ones Dovecot hides too), so
//! that a message's bytes and size (RFC 9051 §2.3.4 `RFC822.SIZE`, RFC 1939 `LIST`) do not
//! change when its flags do.
//!
//! Everything here is pure (no I/O) and never panics on any input.

use super::from_line;
use super::mbox::{Status, XStatus};

/// IMAP system flags that live in the mbox header (RFC 9051 §2.3.2), `\Recent` excepted
/// (it is [`HeaderFlags::old`] negated, and per session).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Flags {
    /// `\Seen` ↔ `Status: R`.
    pub seen: bool,
    /// `\Answered` ↔ `X-Status: A`.
    pub answered: bool,
    /// `\Flagged` ↔ `X-Status: F`.
    pub flagged: bool,
    /// `\Deleted` ↔ `X-Status: D`.
    pub deleted: bool,
    /// `\Draft` ↔ `X-Status: T`.
    pub draft: bool,
}

impl Flags {
    /// The flags that `Status:` and `X-Status:` (as indexed by the scanner) give.
    pub fn from_headers(status: Status, x: XStatus) -> Flags {
        Flags {
            seen: status.read,
            answered: x.answered,
            flagged: x.flagged,
            deleted: x.deleted,
            draft: x.draft,
        }
    }

    /// The `Status:` letters for these flags, with `O` when `old`.
    pub fn status(self, old: bool) -> Status {
        Status {
            read: self.seen,
            old,
        }
    }

    /// The `X-Status:` letters for these flags.
    pub fn xstatus(self) -> XStatus {
        XStatus {
            answered: self.answered,
            flagged: self.flagged,
            draft: self.draft,
            deleted: self.deleted,
        }
    }
}

/// Everything [`with_flags`] writes into a header: the flags, the `O` (old) letter and the
/// keywords.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderFlags {
    /// System flags (`Status: R`, `X-Status:`).
    pub flags: Flags,
    /// `Status: O`: the message is old (seen by a previous session; not `\Recent`).
    pub old: bool,
    /// Keywords for `X-Keywords:`, in order; invalid ones (see [`is_keyword`]) are not
    /// written.
    pub keywords: Vec<String>,
}

/// Header fields never handed out by IMAP or POP3: mbox bookkeeping of mailx, mutt, Dovecot
/// and UW imapd (compared case-insensitively).
pub const HIDDEN_FIELDS: [&str; 7] = [
    "Status",
    "X-Status",
    "X-Keywords",
    "X-UID",
    "X-IMAP",
    "X-IMAPbase",
    "Content-Length",
];

/// Fields [`with_flags`] replaces.
const FLAG_FIELDS: [&str; 3] = ["Status", "X-Status", "X-Keywords"];

/// Whether `k` may be stored as a keyword: an IMAP `atom` (RFC 9051 §9 `flag-keyword`):
/// 1 to 255 printable ASCII characters, none of `(){ %*"\]` nor controls; a leading `\`
/// (system flags) is refused too. Commas are refused as well, since some writers separate
/// `X-Keywords:` values with them.
pub fn is_keyword(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 255
        && k.bytes().all(|b| {
            b.is_ascii_graphic()
                && !matches!(
                    b,
                    b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']' | b','
                )
        })
}

/// The keywords of a stored header (the `From_` line may be included): every `X-Keywords:`
/// field, unfolded, split at spaces, tabs and commas; values that are not valid keywords
/// (see [`is_keyword`]) are skipped, repeats (compared case-insensitively, as IMAP does)
/// dropped. Only the header is looked at (up to the first blank line).
pub fn keywords_of(header: &[u8]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut inside = false;
    for line in header_lines(header) {
        let content = trim_eol(line);
        let cont = matches!(content.first(), Some(b' ' | b'\t'));
        let value = if cont {
            if !inside {
                continue;
            }
            content
        } else {
            inside = false;
            match split_field(content) {
                Some((name, value)) if name.eq_ignore_ascii_case(b"x-keywords") => {
                    inside = true;
                    value
                }
                _ => continue,
            }
        };
        for w in value.split(|&b| b == b' ' || b == b'\t' || b == b',') {
            let Ok(w) = std::str::from_utf8(w) else {
                continue;
            };
            if is_keyword(w) && !out.iter().any(|k| k.eq_ignore_ascii_case(w)) {
                out.push(w.to_owned());
            }
        }
    }
    out
}

/// Returns `raw` (a stored message or header, `From_` line included or not) with every
/// `Status:`, `X-Status:` and `X-Keywords:` field (with continuation lines) removed and
/// the fields for `f` inserted as the last header lines: `Status:` (`R`, `O` in mailx's
/// order), `X-Status:` (letters `A`, `F`, `T`, `D`), `X-Keywords:` (space-separated); a field
/// with nothing to say is not written. Line ends follow the first line (CRLF or LF). The body
/// is not touched.
pub fn with_flags(raw: &[u8], f: &HeaderFlags) -> Vec<u8> {
    let eol = eol_of(raw);
    let mut fields = Vec::new();
    let st = f.flags.status(f.old);
    if st.read || st.old {
        fields.extend_from_slice(b"Status: ");
        if st.read {
            fields.push(b'R');
        }
        if st.old {
            fields.push(b'O');
        }
        fields.extend_from_slice(eol);
    }
    let x = f.flags.xstatus();
    if x.answered || x.flagged || x.draft || x.deleted {
        fields.extend_from_slice(b"X-Status: ");
        for (on, c) in [
            (x.answered, b'A'),
            (x.flagged, b'F'),
            (x.draft, b'T'),
            (x.deleted, b'D'),
        ] {
            if on {
                fields.push(c);
            }
        }
        fields.extend_from_slice(eol);
    }
    let mut kws: Vec<&str> = Vec::new();
    for k in &f.keywords {
        if is_keyword(k) && !kws.iter().any(|o| o.eq_ignore_ascii_case(k)) {
            kws.push(k);
        }
    }
    if !kws.is_empty() {
        fields.extend_from_slice(b"X-Keywords: ");
        fields.extend_from_slice(kws.join(" ").as_bytes());
        fields.extend_from_slice(eol);
    }
    replace_fields(raw, &FLAG_FIELDS, &fields)
}

/// The message as IMAP and POP3 serve it, from [`super::mbox::Mbox::read_message`]'s output
/// (no `From_` line, LF line ends, unquoted): the [`HIDDEN_FIELDS`] removed from the header
/// and a final line end added when the last line lacks one (so that the bytes do not change
/// Valid keywords of `k` ([`is_keyword`]), in order, without repeats (case-insensitive):
/// what IMAP `STORE` may set on a message of either mailbox format.
pub fn clean_keywords(k: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(k.len());
    for w in k {
        if is_keyword(&w) && !out.iter().any(|o| o.eq_ignore_ascii_case(&w)) {
            out.push(w);
        }
    }
    out
}

/// when an MDA later ends the file with a blank line).
pub fn served(message_lf: &[u8]) -> Vec<u8> {
    let mut out = replace_fields(message_lf, &HIDDEN_FIELDS, b"");
    if !out.is_empty() && !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    out
}

/// Size in octets of `message_lf` as sent with CRLF line ends (RFC 9051 `RFC822.SIZE`,
/// RFC 1939 `LIST`): its length plus one per `\n` not already preceded by `\r`.
pub fn size_crlf(message_lf: &[u8]) -> u64 {
    let lf = memchr::memchr_iter(b'\n', message_lf)
        .filter(|&i| i == 0 || message_lf[i - 1] != b'\r')
        .count();
    (message_lf.len() + lf) as u64
}

/// Returns `raw` with every header field named in `names` (case-insensitive, with its
/// continuation lines) removed and `fields` (complete lines) inserted as the last header
/// lines, before the blank line. When the first line of `raw` is a `From_` line it is kept
/// and the header starts after it. A header that runs to the end of `raw` gets `fields` at
/// the end (its last line is ended first). Shared by [`with_flags`], [`served`] and
/// [`super::mbox::with_status`].
pub(crate) fn replace_fields(raw: &[u8], names: &[&str], fields: &[u8]) -> Vec<u8> {
    let first_end = memchr::memchr(b'\n', raw).map_or(raw.len(), |i| i + 1);
    let hstart = if from_line::is_from_line(&raw[..first_end]) {
        first_end
    } else {
        0
    };
    let eol = eol_of(raw);
    let mut out = Vec::with_capacity(raw.len() + fields.len());
    out.extend_from_slice(&raw[..hstart]);
    let mut pos = hstart;
    let mut skipping = false;
    while pos < raw.len() {
        let e = memchr::memchr(b'\n', &raw[pos..]).map_or(raw.len(), |i| pos + i + 1);
        let line = &raw[pos..e];
        let content = trim_eol(line);
        if content.is_empty() && line.ends_with(b"\n") {
            out.extend_from_slice(fields);
            out.extend_from_slice(&raw[pos..]);
            return out;
        }
        let cont = line[0] == b' ' || line[0] == b'\t';
        if skipping && cont {
            pos = e;
            continue;
        }
        skipping = !cont
            && split_field(content).is_some_and(|(name, _)| {
                names
                    .iter()
                    .any(|n| name.eq_ignore_ascii_case(n.as_bytes()))
            });
        if !skipping {
            out.extend_from_slice(line);
            if !line.ends_with(b"\n") {
                out.extend_from_slice(eol);
            }
        }
        pos = e;
    }
    // The header runs to the end of `raw`.
    out.extend_from_slice(fields);
    out
}

/// The line end of `raw`'s first line: CRLF when it has one, else LF.
fn eol_of(raw: &[u8]) -> &'static [u8] {
    let first_end = memchr::memchr(b'\n', raw).map_or(raw.len(), |i| i + 1);
    if raw[..first_end].ends_with(b"\r\n") {
        b"\r\n"
    } else {
        b"\n"
    }
}

/// `line` without its `\n` or `\r\n`.
fn trim_eol(line: &[u8]) -> &[u8] {
    let l = line.strip_suffix(b"\n").unwrap_or(line);
    l.strip_suffix(b"\r").unwrap_or(l)
}

/// A header line's name (trimmed) and value (one leading space dropped); `None` without a
/// colon.
fn split_field(content: &[u8]) -> Option<(&[u8], &[u8])> {
    let c = memchr::memchr(b':', content)?;
    let value = &content[c + 1..];
    Some((
        content[..c].trim_ascii(),
        value.strip_prefix(b" ").unwrap_or(value),
    ))
}

/// The lines of the header of `raw` (a `From_` line first is skipped), each with its line
/// end, up to the blank line.
fn header_lines(raw: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut lines = raw.split_inclusive(|&b| b == b'\n').peekable();
    if lines
        .peek()
        .is_some_and(|l| from_line::is_from_line(trim_eol(l)))
    {
        lines.next();
    }
    lines.take_while(|l| !trim_eol(l).is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: &str = "From a@b Fri Mar 22 13:10:55 2024\n";

    fn all(seen: bool, answered: bool, flagged: bool, deleted: bool, draft: bool) -> Flags {
        Flags {
            seen,
            answered,
            flagged,
            deleted,
            draft,
        }
    }

    #[test]
    fn with_flags_replaces_all_three_fields() {
        let raw = format!(
            "{F}Subject: x\nStatus: O\nX-Status: F\n  junk\nX-Keywords: old\nTo: y\n\nStatus: body\n"
        );
        let f = HeaderFlags {
            flags: all(true, true, true, true, true),
            old: true,
            keywords: vec![
                "$Forwarded".into(),
                "bad(kw".into(),
                "Junk".into(),
                "junk".into(),
            ],
        };
        let got = with_flags(raw.as_bytes(), &f);
        assert_eq!(
            String::from_utf8(got).unwrap(),
            format!(
                "{F}Subject: x\nTo: y\nStatus: RO\nX-Status: AFTD\nX-Keywords: $Forwarded Junk\n\nStatus: body\n"
            )
        );
        // Nothing set: all three removed, nothing added.
        let got = with_flags(raw.as_bytes(), &HeaderFlags::default());
        assert_eq!(
            got,
            format!("{F}Subject: x\nTo: y\n\nStatus: body\n").as_bytes()
        );
    }

    #[test]
    fn with_flags_crlf_and_header_only() {
        let raw = format!("{F}Subject: x\n\nb\n").replace('\n', "\r\n");
        let f = HeaderFlags {
            flags: all(true, false, false, false, false),
            old: false,
            keywords: vec!["a".into()],
        };
        assert_eq!(
            with_flags(raw.as_bytes(), &f),
            format!("{F}Subject: x\nStatus: R\nX-Keywords: a\n\nb\n")
                .replace('\n', "\r\n")
                .as_bytes()
        );
        // Header running to the end, no final newline.
        let raw = format!("{F}Subject: x");
        assert_eq!(
            with_flags(raw.as_bytes(), &f),
            format!("{F}Subject: x\nStatus: R\nX-Keywords: a\n").as_bytes()
        );
    }

    #[test]
    fn round_trip_through_scanner_view() {
        // What with_flags writes, keywords_of and the scanner's letters read back.
        for bits in 0..64u8 {
            let f = HeaderFlags {
                flags: all(
                    bits & 1 != 0,
                    bits & 2 != 0,
                    bits & 4 != 0,
                    bits & 8 != 0,
                    bits & 16 != 0,
                ),
                old: bits & 32 != 0,
                keywords: if bits % 3 == 0 {
                    vec!["k1".into(), "$k2".into()]
                } else {
                    vec![]
                },
            };
            let raw = with_flags(format!("{F}Subject: s\n\nbody\n").as_bytes(), &f);
            assert_eq!(keywords_of(&raw), f.keywords);
            let text = String::from_utf8(raw).unwrap();
            let st = text
                .lines()
                .find_map(|l| l.strip_prefix("Status: "))
                .unwrap_or("");
            let xs = text
                .lines()
                .find_map(|l| l.strip_prefix("X-Status: "))
                .unwrap_or("");
            let back = Flags::from_headers(
                Status {
                    read: st.contains('R'),
                    old: st.contains('O'),
                },
                XStatus {
                    answered: xs.contains('A'),
                    flagged: xs.contains('F'),
                    draft: xs.contains('T'),
                    deleted: xs.contains('D'),
                },
            );
            assert_eq!(back, f.flags);
            assert_eq!(st.contains('O'), f.old);
        }
    }

    #[test]
    fn keywords_parsing() {
        let h = b"From a@b Fri Mar 22 13:10:55 2024\nX-Keywords: a, b\tc\n d\nx-keywords: A e\nSubject: x\n\nX-Keywords: body\n";
        assert_eq!(keywords_of(h), ["a", "b", "c", "d", "e"]);
        assert!(keywords_of(b"X-Keywords:\n\n").is_empty());
        assert!(keywords_of(b"X-Keywords: \xff\\Seen (x)\n").is_empty());
        assert!(keywords_of(b"").is_empty());
    }

    #[test]
    fn served_hides_bookkeeping_and_ends_lines() {
        let m = b"Subject: x\nStatus: RO\nX-UID: 5\nContent-Length: 3\n  cont\nX-IMAPbase: 1 2\n\nStatus: body";
        let s = served(m);
        assert_eq!(s, b"Subject: x\n\nStatus: body\n");
        assert_eq!(size_crlf(&s), s.len() as u64 + 3);
        assert_eq!(served(b""), b"");
        assert_eq!(size_crlf(b"a\r\nb\n"), 6);
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        let f = HeaderFlags {
            flags: all(true, true, false, false, true),
            old: true,
            keywords: vec!["x".into()],
        };
        for raw in [
            &b""[..],
            b"\n",
            b"\r\n",
            b" \n",
            b":",
            b"From \n",
            b"Status",
            b"\xff\xfe:\n\n",
            b"From a@b Fri Mar 22 13:10:55 2024",
        ] {
            let _ = with_flags(raw, &f);
            let _ = served(raw);
            let _ = keywords_of(raw);
            let _ = size_crlf(raw);
        }
    }
}
