//! FETCH body sections (RFC 3501 §6.4.5 `BODY[section]<partial>`), RFC822.SIZE, RFC822.HEADER
//! and RFC822.TEXT, cut from a message's bytes and returned in CRLF form (the wire form).
//!
//! Part numbers are resolved as Dovecot does (`imap-msgpart.c`):
//! - in a multipart, `n` is its n-th part; in anything else only `1` exists (the entity
//!   itself), and a further number needs a `message/rfc822` entity, whose encapsulated message
//!   the next number descends into;
//! - `n` alone is the part's body (for `message/rfc822`, the whole encapsulated message; for
//!   a multipart, its raw body with the delimiters);
//! - `n.MIME` is the part's own header (for a non-multipart message, `1.MIME` is the message
//!   header); `n.HEADER`, `n.HEADER.FIELDS…` and `n.TEXT` need a `message/rfc822` part and refer
//!   to the encapsulated message;
//! - a section that does not exist is `None`; Dovecot then sends an empty string, which is
//!   what RFC 3501 servers commonly do.
//!
//! `HEADER.FIELDS` and `HEADER.FIELDS.NOT` keep the matching fields as written (folding
//! included, in message order) and end with the blank line. Never panics.

use super::tree::{self, crlf_len, to_crlf, Kind, Part};

/// The text part of a section specifier (RFC 3501 §6.4.5 `section-text`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionText {
    /// `HEADER`: the header, blank line included.
    Header,
    /// `HEADER.FIELDS (names)`: only these fields (names compared ignoring ASCII case).
    HeaderFields(Vec<Vec<u8>>),
    /// `HEADER.FIELDS.NOT (names)`: all fields but these.
    HeaderFieldsNot(Vec<Vec<u8>>),
    /// `TEXT`: the body.
    Text,
    /// `MIME`: the part's MIME header (only after a part number).
    Mime,
}

/// A section specifier: part numbers (`1.2.3`, empty for the whole message) and an optional
/// text part. `Section::default()` is `BODY[]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Section {
    /// Part numbers, each ≥ 1.
    pub part: Vec<u32>,
    pub text: Option<SectionText>,
}

/// A section specifier that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot parse section specifier: {0}")]
pub struct SectionError(pub String);

impl std::str::FromStr for Section {
    type Err = SectionError;

    /// Parses the text between the brackets of `BODY[…]` (RFC 3501 §9 `section-spec`):
    /// `""`, `HEADER`, `TEXT`, `1.2`, `1.2.MIME`, `3.HEADER.FIELDS (Subject "From")`, names
    /// case-insensitive. Header names may be atoms or quoted strings.
    fn from_str(s: &str) -> Result<Section, SectionError> {
        let err = || SectionError(s.to_owned());
        let mut part = Vec::new();
        let mut rest = s;
        while rest.starts_with(|c: char| c.is_ascii_digit()) {
            let end = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            let n: u32 = rest[..end].parse().map_err(|_| err())?;
            if n == 0 {
                return Err(err());
            }
            part.push(n);
            rest = &rest[end..];
            match rest.strip_prefix('.') {
                Some(r) => {
                    rest = r;
                    if rest.is_empty() {
                        return Err(err());
                    }
                }
                None if rest.is_empty() => break,
                None => return Err(err()),
            }
        }
        if rest.is_empty() {
            return Ok(Section { part, text: None });
        }
        let upper = rest.to_ascii_uppercase();
        let text = if upper == "HEADER" {
            SectionText::Header
        } else if upper == "TEXT" {
            SectionText::Text
        } else if upper == "MIME" {
            if part.is_empty() {
                return Err(err());
            }
            SectionText::Mime
        } else if let Some(list) = upper.strip_prefix("HEADER.FIELDS.NOT ") {
            SectionText::HeaderFieldsNot(names(&rest[rest.len() - list.len()..]).ok_or_else(err)?)
        } else if let Some(list) = upper.strip_prefix("HEADER.FIELDS ") {
            SectionText::HeaderFields(names(&rest[rest.len() - list.len()..]).ok_or_else(err)?)
        } else {
            return Err(err());
        };
        Ok(Section {
            part,
            text: Some(text),
        })
    }
}

/// `(name name "name")`: a non-empty list of atoms or quoted strings.
fn names(list: &str) -> Option<Vec<Vec<u8>>> {
    let inner = list.trim().strip_prefix('(')?.strip_suffix(')')?;
    let b = inner.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b' ' => i += 1,
            b'"' => {
                let mut v = Vec::new();
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' && i + 1 < b.len() {
                        i += 1;
                    }
                    v.push(b[i]);
                    i += 1;
                }
                if i >= b.len() {
                    return None;
                }
                i += 1;
                out.push(v);
            }
            _ => {
                let start = i;
                while i < b.len() && b[i] != b' ' && b[i] != b'"' {
                    i += 1;
                }
                out.push(b[start..i].to_vec());
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Finds the entity a part path names (Dovecot's `imap_msgpart_find`).
pub(crate) fn find<'p>(root: &'p Part, path: &[u32]) -> Option<&'p Part> {
    let mut part = root;
    for (i, &num) in path.iter().enumerate() {
        let more = i + 1 < path.len();
        match &part.kind {
            Kind::Multipart(children) => {
                part = children.get((num as usize).checked_sub(1)?)?;
            }
            _ => {
                if num != 1 || (more && !matches!(part.kind, Kind::Message(_))) {
                    return None;
                }
            }
        }
        if more {
            if let Kind::Message(inner) = &part.kind {
                part = inner;
            }
        }
    }
    Some(part)
}

/// Returns the raw bytes (as stored) of `spec`; see [`section`].
pub(crate) fn raw_section(msg: &[u8], root: &Part, spec: &Section) -> Option<Vec<u8>> {
    let part = find(root, &spec.part)?;
    let top = spec.part.is_empty();
    let text = match &spec.text {
        None if top => return Some(msg.to_vec()),
        None => return Some(part.body(msg).to_vec()),
        Some(SectionText::Mime) if top => return None,
        Some(SectionText::Mime) => return Some(part.header(msg).to_vec()),
        Some(t) => t,
    };
    let entity = if top {
        part
    } else {
        match &part.kind {
            Kind::Message(inner) => inner.as_ref(),
            _ => return None,
        }
    };
    Some(match text {
        SectionText::Header => entity.header(msg).to_vec(),
        SectionText::Text => entity.body(msg).to_vec(),
        SectionText::HeaderFields(names) => filter_header(entity.header(msg), names, true),
        SectionText::HeaderFieldsNot(names) => filter_header(entity.header(msg), names, false),
        SectionText::Mime => return None,
    })
}

/// Keeps (`keep == true`) or drops the fields named in `names` from a header block, as
/// written, and ends the result with a blank line.
fn filter_header(block: &[u8], names: &[Vec<u8>], keep: bool) -> Vec<u8> {
    let mut out = Vec::new();
    // Whether the current field (and so its continuation lines) is copied.
    let mut copying = false;
    let mut pos = 0;
    while pos < block.len() {
        let end = memchr::memchr(b'\n', &block[pos..]).map_or(block.len(), |i| pos + i + 1);
        let line = &block[pos..end];
        pos = end;
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if content.is_empty() {
            break;
        }
        if line[0] != b' ' && line[0] != b'\t' {
            let name = match memchr::memchr(b':', content) {
                Some(c) => trim_end(&content[..c]),
                None => content,
            };
            let listed = names.iter().any(|n| n.eq_ignore_ascii_case(name));
            copying = listed == keep;
        }
        if copying {
            out.extend_from_slice(line);
            if !line.ends_with(b"\n") {
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

fn trim_end(v: &[u8]) -> &[u8] {
    let e = v
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(0, |e| e + 1);
    &v[..e]
}

/// Returns section `spec` of `msg` (RFC 3501 §6.4.5) in CRLF form, or `None` when the message
/// has no such part (send an empty string then, as Dovecot does). Apply a `<start.count>`
/// partial to the result with [`partial`].
pub fn section(msg: &[u8], spec: &Section) -> Option<Vec<u8>> {
    let root = tree::parse(msg);
    raw_section(msg, &root, spec).map(|b| to_crlf(&b))
}

/// Applies an RFC 3501 §6.4.5 partial `<start.count>` to section data: the bytes from octet
/// `start` on, at most `count` of them; empty when `start` is past the end.
pub fn partial(data: &[u8], start: u64, count: u64) -> &[u8] {
    let len = data.len() as u64;
    let s = start.min(len);
    let e = s.saturating_add(count).min(len);
    &data[s as usize..e as usize]
}

/// RFC822.SIZE (RFC 3501 §6.4.5): the message size in CRLF form, in octets.
pub fn rfc822_size(msg: &[u8]) -> u64 {
    crlf_len(msg)
}

/// RFC822.HEADER / `BODY[HEADER]`: the header, blank line included, in CRLF form.
pub fn header_bytes(msg: &[u8]) -> Vec<u8> {
    let (_, body_start) = crate::message::header::header_end(msg);
    to_crlf(&msg[..body_start])
}

/// RFC822.TEXT / `BODY[TEXT]`: the body after the blank line, in CRLF form.
pub fn text_bytes(msg: &[u8]) -> Vec<u8> {
    let (_, body_start) = crate::message::header::header_end(msg);
    to_crlf(&msg[body_start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sec(msg: &[u8], spec: &str) -> Option<String> {
        let spec: Section = spec.parse().unwrap();
        section(msg, &spec).map(|b| String::from_utf8(b).unwrap())
    }

    const NESTED: &[u8] = b"From: a@b\n\
Subject: nested\n\
Content-Type: multipart/mixed; boundary=\"outer\"\n\
\n\
preamble\n\
--outer\n\
Content-Type: multipart/alternative; boundary=alt\n\
\n\
--alt\n\
Content-Type: text/plain\n\
\n\
plain\n\
--alt\n\
Content-Type: multipart/related; boundary=rel\n\
\n\
--rel\n\
Content-Type: text/html\n\
\n\
<p>html</p>\n\
--rel\n\
Content-Type: image/png\n\
Content-Transfer-Encoding: base64\n\
\n\
iVBORw0KGgo=\n\
--rel--\n\
--alt--\n\
--outer\n\
Content-Type: message/rfc822\n\
\n\
Subject: inner\n\
To: x@y\n\
\n\
inner body\n\
--outer\n\
Content-Type: message/rfc822\n\
\n\
Subject: inner multi\n\
Content-Type: multipart/mixed; boundary=im\n\
\n\
--im\n\
\n\
im one\n\
--im\n\
\n\
im two\n\
--im--\n\
\n\
--outer--\n\
epilogue\n";

    #[test]
    fn parse_specs() {
        assert_eq!("".parse::<Section>().unwrap(), Section::default());
        assert_eq!(
            "1.2.mime".parse::<Section>().unwrap(),
            Section {
                part: vec![1, 2],
                text: Some(SectionText::Mime)
            }
        );
        assert_eq!(
            "4.HEADER.FIELDS (Subject \"X-A b\")"
                .parse::<Section>()
                .unwrap(),
            Section {
                part: vec![4],
                text: Some(SectionText::HeaderFields(vec![
                    b"Subject".to_vec(),
                    b"X-A b".to_vec()
                ]))
            }
        );
        for bad in [
            "0",
            "1.",
            "1..2",
            "MIME",
            "FOO",
            "1.x",
            "HEADER.FIELDS ()",
            "HEADER.FIELDS x",
        ] {
            assert!(bad.parse::<Section>().is_err(), "{bad}");
        }
    }

    #[test]
    fn top_level_sections() {
        let msg = b"Subject: hi\nX-Long: a\n b\nFrom: f@x\n\nline1\nline2\n";
        assert_eq!(
            sec(msg, "").unwrap(),
            "Subject: hi\r\nX-Long: a\r\n b\r\nFrom: f@x\r\n\r\nline1\r\nline2\r\n"
        );
        assert_eq!(
            sec(msg, "HEADER").unwrap(),
            "Subject: hi\r\nX-Long: a\r\n b\r\nFrom: f@x\r\n\r\n"
        );
        assert_eq!(sec(msg, "TEXT").unwrap(), "line1\r\nline2\r\n");
        assert_eq!(
            sec(msg, "HEADER.FIELDS (x-long FROM)").unwrap(),
            "X-Long: a\r\n b\r\nFrom: f@x\r\n\r\n"
        );
        assert_eq!(
            sec(msg, "HEADER.FIELDS.NOT (x-long)").unwrap(),
            "Subject: hi\r\nFrom: f@x\r\n\r\n"
        );
        assert_eq!(sec(msg, "HEADER.FIELDS (nothere)").unwrap(), "\r\n");
        // Non-multipart: part 1 is the body, 1.MIME the message header.
        assert_eq!(sec(msg, "1").unwrap(), "line1\r\nline2\r\n");
        assert_eq!(
            sec(msg, "1.MIME").unwrap(),
            "Subject: hi\r\nX-Long: a\r\n b\r\nFrom: f@x\r\n\r\n"
        );
        assert_eq!(sec(msg, "2"), None);
        assert_eq!(sec(msg, "1.1"), None);
        assert_eq!(sec(msg, "1.HEADER"), None);
    }

    #[test]
    fn nested_sections() {
        let m = NESTED;
        assert_eq!(sec(m, "1.1").unwrap(), "plain");
        assert_eq!(
            sec(m, "1.1.MIME").unwrap(),
            "Content-Type: text/plain\r\n\r\n"
        );
        assert_eq!(sec(m, "1.2.1").unwrap(), "<p>html</p>");
        assert_eq!(sec(m, "1.2.2").unwrap(), "iVBORw0KGgo=");
        assert_eq!(
            sec(m, "1.2.2.MIME").unwrap(),
            "Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        );
        assert_eq!(sec(m, "1.2.3"), None);
        assert!(sec(m, "1")
            .unwrap()
            .starts_with("--alt\r\nContent-Type: text/plain"));
        assert!(sec(m, "1").unwrap().ends_with("--rel--\r\n--alt--"));
        // message/rfc822 with a non-multipart body.
        assert_eq!(
            sec(m, "2").unwrap(),
            "Subject: inner\r\nTo: x@y\r\n\r\ninner body"
        );
        assert_eq!(
            sec(m, "2.HEADER").unwrap(),
            "Subject: inner\r\nTo: x@y\r\n\r\n"
        );
        assert_eq!(sec(m, "2.HEADER.FIELDS (TO)").unwrap(), "To: x@y\r\n\r\n");
        assert_eq!(sec(m, "2.TEXT").unwrap(), "inner body");
        assert_eq!(sec(m, "2.1").unwrap(), "inner body");
        assert_eq!(
            sec(m, "2.MIME").unwrap(),
            "Content-Type: message/rfc822\r\n\r\n"
        );
        assert_eq!(sec(m, "2.2"), None);
        assert_eq!(sec(m, "2.1.1"), None);
        // message/rfc822 with a multipart body.
        assert_eq!(sec(m, "3.1").unwrap(), "im one");
        assert_eq!(sec(m, "3.2").unwrap(), "im two");
        assert_eq!(sec(m, "3.2.MIME").unwrap(), "\r\n");
        assert_eq!(
            sec(m, "3.HEADER").unwrap(),
            "Subject: inner multi\r\nContent-Type: multipart/mixed; boundary=im\r\n\r\n"
        );
        assert!(sec(m, "3.TEXT").unwrap().ends_with("--im--\r\n"));
        // TEXT/HEADER of a part that is not message/rfc822 does not exist.
        assert_eq!(sec(m, "1.1.TEXT"), None);
        assert_eq!(sec(m, "4"), None);
        let zero = Section {
            part: vec![0, 1],
            text: None,
        };
        assert_eq!(section(m, &zero), None);
        // The whole message, CRLF.
        assert_eq!(sec(m, "").unwrap().len() as u64, rfc822_size(m));
    }

    #[test]
    fn crlf_input_is_unchanged() {
        let lf = NESTED;
        let crlf = to_crlf(lf);
        for spec in [
            "",
            "HEADER",
            "TEXT",
            "1.1",
            "1.2.2.MIME",
            "2",
            "2.HEADER",
            "3.2",
            "1",
        ] {
            assert_eq!(sec(lf, spec), sec(&crlf, spec), "{spec}");
        }
        assert_eq!(rfc822_size(lf), crlf.len() as u64);
        assert_eq!(rfc822_size(&crlf), crlf.len() as u64);
    }

    #[test]
    fn header_and_text_bytes() {
        let msg = b"A: b\n\nbody\n";
        assert_eq!(header_bytes(msg), b"A: b\r\n\r\n");
        assert_eq!(text_bytes(msg), b"body\r\n");
        assert_eq!(header_bytes(b"A: b"), b"A: b");
        assert_eq!(text_bytes(b"A: b"), b"");
        let fields = filter_header(b"A: b", &[b"a".to_vec()], true);
        assert_eq!(fields, b"A: b\r\n\r\n");
    }

    #[test]
    fn partials() {
        assert_eq!(partial(b"0123456789", 2, 3), b"234");
        assert_eq!(partial(b"0123456789", 8, 100), b"89");
        assert_eq!(partial(b"0123456789", 10, 1), b"");
        assert_eq!(partial(b"0123456789", u64::MAX, u64::MAX), b"");
        assert_eq!(partial(b"0123456789", 0, 0), b"");
    }
}
