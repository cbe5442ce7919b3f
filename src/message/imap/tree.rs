//! The MIME part tree of a message with byte offsets into the raw message, as an IMAP server
//! needs it (RFC 3501 §6.4.5 section numbers, §7.4.2 BODYSTRUCTURE sizes), plus the CRLF
//! ("wire form") helpers.
//!
//! Unlike [`crate::message::mime`], which copies and decodes bodies for display, this tree
//! only records where each entity's header and body lie in the original bytes, so sections can
//! be cut out exactly as stored and sizes computed as sent.
//!
//! The parser is a single pass over the lines of the message, following Dovecot's
//! `message-parser` where RFC 2046 leaves room:
//! - a boundary line is `--` + a boundary of any *enclosing* multipart, matched as a prefix
//!   (trailing garbage allowed); when several match, the longest wins, and the innermost among
//!   equals; `--boundary--` closes. An enclosing multipart's boundary therefore ends every
//!   entity nested in it (a missing close delimiter costs nothing);
//! - the line break before a boundary line belongs to the boundary, not to the part;
//! - boundary lines are recognised inside headers too (a part whose header runs into the next
//!   boundary has an empty body);
//! - a multipart without a `boundary` parameter is a plain leaf; one whose boundary never
//!   occurs has no children; preamble and epilogue belong to the multipart's body;
//! - `Content-*` fields of a message (outermost or encapsulated) count only when it has a
//!   `MIME-Version` or `Content-Type` field; parts of a multipart are always MIME;
//! - `message/rfc822` is parsed as an encapsulated message whatever its transfer encoding;
//!   parts of a `multipart/digest` default to `message/rfc822`.
//!
//! Invariants: for every part `start <= body_start <= end <= msg.len()`, children lie inside
//! their parent's body in order; nesting stops at [`MAX_DEPTH`] levels and the tree at
//! [`MAX_PARTS`] entities (deeper or further content is left as opaque body bytes). Linear
//! time in the message size times the nesting depth; never panics.

use crate::message::header::{self, Field};
pub use crate::message::mime::MAX_DEPTH;

/// Most entities parsed in one message (as Dovecot's default `mail_max_total_mime_parts`
/// limit); beyond it the rest of a multipart is treated as its epilogue.
pub const MAX_PARTS: usize = 10_000;

/// Boundaries are cut to this length (RFC 2046 §5.1.1 allows 70 characters); with prefix
/// matching a longer boundary still matches.
const MAX_BOUNDARY_LEN: usize = 70;

/// One entity: a message or a body part.
#[derive(Debug, Clone)]
pub(crate) struct Part {
    /// Offset of the first header line.
    pub start: usize,
    /// Offset just after the blank line ending the header (= header end when there is none).
    pub body_start: usize,
    /// Offset just after the body (before the line break preceding a boundary line).
    pub end: usize,
    /// Header fields ([`header::split_fields`] of `start..body_start`).
    pub fields: Vec<Field>,
    /// Whether the `Content-*` fields count (see the module documentation).
    pub is_mime: bool,
    /// `type/subtype` as written, when the entity is MIME and has a valid `Content-Type`.
    pub content_type: Option<(Vec<u8>, Vec<u8>)>,
    pub kind: Kind,
}

#[derive(Debug, Clone)]
pub(crate) enum Kind {
    /// A single part (text, basic, or an entity nested too deep to parse further).
    Leaf,
    /// A multipart with a boundary and its parts (possibly none).
    Multipart(Vec<Part>),
    /// `message/rfc822`: the encapsulated message, starting at this part's `body_start`.
    Message(Box<Part>),
}

impl Part {
    /// Header bytes, including the blank line when present.
    pub fn header<'m>(&self, msg: &'m [u8]) -> &'m [u8] {
        msg.get(self.start..self.body_start).unwrap_or(&[])
    }

    /// Body bytes.
    pub fn body<'m>(&self, msg: &'m [u8]) -> &'m [u8] {
        msg.get(self.body_start..self.end).unwrap_or(&[])
    }

    /// The first value of field `name`, when this entity is MIME (for `Content-*` fields).
    pub fn mime_field(&self, name: &str) -> Option<&[u8]> {
        if self.is_mime {
            header::find(&self.fields, name)
        } else {
            None
        }
    }

    /// Lower-case `(type, subtype)`, with the defaults applied: `message/rfc822` for an
    /// encapsulated message, else `text/plain`.
    pub fn media_type_lower(&self) -> (String, String) {
        match &self.content_type {
            Some((t, s)) => (
                String::from_utf8_lossy(t).to_ascii_lowercase(),
                String::from_utf8_lossy(s).to_ascii_lowercase(),
            ),
            None if matches!(self.kind, Kind::Message(_)) => ("message".into(), "rfc822".into()),
            None => ("text".into(), "plain".into()),
        }
    }
}

/// Parses `msg` (an RFC 5322 message, LF or CRLF line ends, no `From_` line) into its tree.
pub(crate) fn parse(msg: &[u8]) -> Part {
    let mut p = Parser {
        msg,
        bounds: Vec::new(),
        parts: 0,
    };
    let (mut root, _) = p.entity(0, true, false, 0);
    // Nothing can stop the outermost entity early; be explicit anyway.
    root.end = msg.len();
    root
}

/// A boundary line that ended a scan.
#[derive(Debug, Clone, Copy)]
struct Stop {
    /// Index into the boundary stack.
    level: usize,
    /// `--boundary--`.
    close: bool,
    /// Offset of the boundary line.
    line: usize,
    /// Offset after its line end.
    next: usize,
}

struct Parser<'a> {
    msg: &'a [u8],
    /// Boundaries of the enclosing multiparts, outermost first.
    bounds: Vec<Vec<u8>>,
    /// Entities created so far.
    parts: usize,
}

impl Parser<'_> {
    /// `(end of line content excluding LF, offset of the next line)` for the line at `pos`.
    fn line(&self, pos: usize) -> (usize, usize) {
        match memchr::memchr(b'\n', &self.msg[pos..]) {
            Some(i) => (pos + i, pos + i + 1),
            None => (self.msg.len(), self.msg.len()),
        }
    }

    /// Whether the line `pos..eol` is a boundary line of an enclosing multipart:
    /// `(stack index, close)`. Prefix match, longest wins, innermost among equals (Dovecot).
    fn boundary_at(&self, pos: usize, eol: usize) -> Option<(usize, bool)> {
        if self.bounds.is_empty() {
            return None;
        }
        let line = &self.msg[pos..eol];
        let rest = line.strip_prefix(b"--")?;
        let rest = rest.strip_suffix(b"\r").unwrap_or(rest);
        let mut best: Option<usize> = None;
        for (i, b) in self.bounds.iter().enumerate().rev() {
            let longer = best.is_none_or(|j| self.bounds[j].len() < b.len());
            if longer && rest.starts_with(b) {
                best = Some(i);
                if b.len() == rest.len() {
                    break;
                }
            }
        }
        let i = best?;
        let close = rest[self.bounds[i].len()..].starts_with(b"--");
        Some((i, close))
    }

    /// Scans lines from `pos` (a line start) to the next boundary line; `None` at the end.
    fn scan(&self, mut pos: usize) -> Option<Stop> {
        if self.bounds.is_empty() {
            return None;
        }
        while pos < self.msg.len() {
            let (eol, next) = self.line(pos);
            if self.msg[pos] == b'-' {
                if let Some((level, close)) = self.boundary_at(pos, eol) {
                    return Some(Stop {
                        level,
                        close,
                        line: pos,
                        next,
                    });
                }
            }
            pos = next;
        }
        None
    }

    /// The end of content starting at `from` that runs up to a boundary line at `line`: the
    /// line break before the boundary line is not part of it.
    fn cut(&self, from: usize, line: usize) -> usize {
        let mut e = line;
        if e > from && self.msg[e - 1] == b'\n' {
            e -= 1;
            if e > from && self.msg[e - 1] == b'\r' {
                e -= 1;
            }
        }
        e
    }

    /// Parses the entity starting at `start`. `message`: an outermost or encapsulated message
    /// (MIME only with `MIME-Version`/`Content-Type`); `digest_child`: default type
    /// `message/rfc822`. Returns the part and the boundary line that ended it, if any.
    fn entity(
        &mut self,
        start: usize,
        message: bool,
        digest_child: bool,
        depth: usize,
    ) -> (Part, Option<Stop>) {
        self.parts += 1;
        let len = self.msg.len();
        // The header: up to the blank line, the end, or a boundary line.
        let mut pos = start;
        let (body_start, header_stop) = loop {
            if pos >= len {
                break (len, None);
            }
            let (eol, next) = self.line(pos);
            if self.msg[pos] == b'-' {
                if let Some((level, close)) = self.boundary_at(pos, eol) {
                    let stop = Stop {
                        level,
                        close,
                        line: pos,
                        next,
                    };
                    break (self.cut(start, pos), Some(stop));
                }
            }
            let content = &self.msg[pos..eol];
            if content.is_empty() || content == b"\r" {
                break (next, None);
            }
            pos = next;
        };
        let fields = header::split_fields(&self.msg[start..body_start]);
        let ct_value = header::find(&fields, "content-type").map(header::unfold);
        let is_mime =
            !message || ct_value.is_some() || header::find(&fields, "mime-version").is_some();
        let content_type = if is_mime {
            ct_value.as_deref().and_then(parse_media_type)
        } else {
            None
        };
        let lower = content_type
            .as_ref()
            .map(|(t, s)| (t.to_ascii_lowercase(), s.to_ascii_lowercase()));
        let boundary = match &lower {
            Some((t, _)) if t == b"multipart" => ct_value.as_deref().and_then(boundary_of),
            _ => None,
        };
        let is_message = match &lower {
            Some((t, s)) => t == b"message" && s == b"rfc822",
            None => digest_child,
        };
        let deep = depth >= MAX_DEPTH || self.parts >= MAX_PARTS;
        let mut part = Part {
            start,
            body_start,
            end: body_start,
            fields,
            is_mime,
            content_type,
            kind: Kind::Leaf,
        };
        if let Some(stop) = header_stop {
            // No body at all: keep the shape the type calls for.
            if !deep {
                if boundary.is_some() {
                    part.kind = Kind::Multipart(Vec::new());
                } else if is_message {
                    self.parts += 1;
                    part.kind = Kind::Message(Box::new(empty_part(body_start)));
                }
            }
            return (part, Some(stop));
        }
        if deep {
            let stop = self.scan(body_start);
            part.end = stop.map_or(len, |s| self.cut(body_start, s.line));
            return (part, stop);
        }
        if let Some(b) = boundary {
            let digest = lower.as_ref().is_some_and(|(_, s)| s == b"digest");
            let (children, end, stop) = self.multipart(body_start, b, digest, depth);
            part.kind = Kind::Multipart(children);
            part.end = end;
            return (part, stop);
        }
        if is_message {
            let (inner, stop) = self.entity(body_start, true, false, depth + 1);
            part.end = inner.end;
            part.kind = Kind::Message(Box::new(inner));
            return (part, stop);
        }
        let stop = self.scan(body_start);
        part.end = stop.map_or(len, |s| self.cut(body_start, s.line));
        (part, stop)
    }

    /// Parses a multipart body starting at `body_start`: returns its parts, the end of its
    /// body and the enclosing boundary line that ended it, if any.
    fn multipart(
        &mut self,
        body_start: usize,
        boundary: Vec<u8>,
        digest: bool,
        depth: usize,
    ) -> (Vec<Part>, usize, Option<Stop>) {
        let len = self.msg.len();
        self.bounds.push(boundary);
        let own = self.bounds.len() - 1;
        let mut children = Vec::new();
        // The preamble.
        let mut stop = self.scan(body_start);
        loop {
            match stop {
                None => {
                    self.bounds.truncate(own);
                    return (children, len, None);
                }
                Some(s) if s.level < own => {
                    self.bounds.truncate(own);
                    return (children, self.cut(body_start, s.line), Some(s));
                }
                Some(s) if s.close || self.parts >= MAX_PARTS => {
                    // The epilogue runs to an enclosing boundary or the end.
                    self.bounds.truncate(own);
                    let after = self.scan(s.next);
                    let end = after.map_or(len, |a| self.cut(body_start, a.line));
                    return (children, end, after);
                }
                Some(s) => {
                    let (child, next) = self.entity(s.next, false, digest, depth + 1);
                    children.push(child);
                    stop = next;
                }
            }
        }
    }
}

/// An empty encapsulated message at `at`.
fn empty_part(at: usize) -> Part {
    Part {
        start: at,
        body_start: at,
        end: at,
        fields: Vec::new(),
        is_mime: false,
        content_type: None,
        kind: Kind::Leaf,
    }
}

/// Whether `b` may appear in an RFC 2045 §5.1 token.
pub(crate) fn is_token_byte(b: u8) -> bool {
    b > b' ' && b < 127 && !b"()<>@,;:\\\"/[]?=".contains(&b)
}

/// Skips white space and RFC 5322 comments (nested, with quoted-pairs) from `i`.
pub(crate) fn skip_cfws(v: &[u8], mut i: usize) -> usize {
    while i < v.len() {
        match v[i] {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'(' => {
                let mut depth = 0usize;
                while i < v.len() {
                    match v[i] {
                        b'\\' => i += 1,
                        b'(' => depth += 1,
                        b')' => {
                            depth -= 1;
                            if depth == 0 {
                                i += 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
            }
            _ => break,
        }
    }
    i.min(v.len())
}

/// Reads a token at `i` (after CFWS): `(token, index after it)`; empty when none.
pub(crate) fn token_at(v: &[u8], i: usize) -> (&[u8], usize) {
    let i = skip_cfws(v, i);
    let mut j = i;
    while j < v.len() && is_token_byte(v[j]) {
        j += 1;
    }
    (&v[i..j], j)
}

/// `type "/" subtype` at the start of a `Content-Type` value (RFC 2045 §5.1), as written;
/// `None` when either token is missing.
pub(crate) fn parse_media_type(v: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let (ty, i) = token_at(v, 0);
    let i = skip_cfws(v, i);
    if ty.is_empty() || v.get(i) != Some(&b'/') {
        return None;
    }
    let (sub, _) = token_at(v, i + 1);
    if sub.is_empty() {
        return None;
    }
    Some((ty.to_vec(), sub.to_vec()))
}

/// The `boundary` parameter of an unfolded multipart `Content-Type` value (RFC 2046 §5.1.1,
/// RFC 2231 continuations), cut to 70 bytes; `None` when absent or empty.
fn boundary_of(v: &[u8]) -> Option<Vec<u8>> {
    let text = String::from_utf8_lossy(v);
    let b = header::param_raw(&text, "boundary")?;
    let mut b = b.into_bytes();
    b.truncate(MAX_BOUNDARY_LEN);
    (!b.is_empty()).then_some(b)
}

/// Size of `bytes` in CRLF form: every LF not preceded by CR counts as two octets
/// (RFC 3501 §2.3.4 RFC822.SIZE, §7.4.2 body size).
pub fn crlf_len(bytes: &[u8]) -> u64 {
    let mut bare = 0u64;
    for i in memchr::memchr_iter(b'\n', bytes) {
        if i == 0 || bytes[i - 1] != b'\r' {
            bare += 1;
        }
    }
    bytes.len() as u64 + bare
}

/// Number of lines of `bytes` as BODYSTRUCTURE counts them: the number of LFs (Dovecot).
pub fn line_count(bytes: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', bytes).count() as u64
}

/// Converts `bytes` to CRLF form (the form IMAP sends, RFC 3501 §2.3.4): a CR is inserted
/// before every LF not already preceded by one. Lone CRs are left alone.
pub fn to_crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 32 + 2);
    let mut last = 0;
    for i in memchr::memchr_iter(b'\n', bytes) {
        out.extend_from_slice(&bytes[last..i]);
        if i == 0 || bytes[i - 1] != b'\r' {
            out.push(b'\r');
        }
        out.push(b'\n');
        last = i + 1;
    }
    out.extend_from_slice(&bytes[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(number, media type, header, body)` of every part, depth first.
    fn flat(msg: &[u8]) -> Vec<(String, String, String, String)> {
        fn walk(msg: &[u8], p: &Part, num: &str, out: &mut Vec<(String, String, String, String)>) {
            let (t, s) = p.media_type_lower();
            out.push((
                num.to_owned(),
                format!("{t}/{s}"),
                String::from_utf8_lossy(p.header(msg)).into_owned(),
                String::from_utf8_lossy(p.body(msg)).into_owned(),
            ));
            match &p.kind {
                Kind::Leaf => {}
                Kind::Multipart(children) => {
                    for (k, c) in children.iter().enumerate() {
                        let n = if num.is_empty() {
                            (k + 1).to_string()
                        } else {
                            format!("{num}.{}", k + 1)
                        };
                        walk(msg, c, &n, out);
                    }
                }
                Kind::Message(inner) => walk(msg, inner, &format!("{num}/msg"), out),
            }
        }
        let root = parse(msg);
        let mut out = Vec::new();
        walk(msg, &root, "", &mut out);
        out
    }

    #[test]
    fn simple_message() {
        let msg = b"Subject: hi\nFrom: a@b\n\nbody\nline\n";
        let root = parse(msg);
        assert_eq!(root.header(msg), b"Subject: hi\nFrom: a@b\n\n");
        assert_eq!(root.body(msg), b"body\nline\n");
        assert!(matches!(root.kind, Kind::Leaf));
        assert!(!root.is_mime);
        assert_eq!(root.media_type_lower(), ("text".into(), "plain".into()));
    }

    #[test]
    fn no_blank_line_and_empty() {
        let msg = b"Subject: hi\r\nX: y\r\n";
        let root = parse(msg);
        assert_eq!(root.header(msg), msg);
        assert_eq!(root.body(msg), b"");
        let root = parse(b"");
        assert_eq!((root.start, root.body_start, root.end), (0, 0, 0));
        let msg = b"\r\nbody";
        let root = parse(msg);
        assert_eq!(root.header(msg), b"\r\n");
        assert_eq!(root.body(msg), b"body");
    }

    #[test]
    fn multipart_basic_crlf() {
        let msg = b"Content-Type: multipart/mixed; boundary=xx\r\n\r\npre\r\n--xx\r\nContent-Type: text/plain\r\n\r\none\r\n--xx\r\n\r\ntwo\r\n\r\n--xx--\r\nepi\r\n";
        let f = flat(msg);
        assert_eq!(f.len(), 3);
        assert_eq!(f[1].0, "1");
        assert_eq!(f[1].2, "Content-Type: text/plain\r\n\r\n");
        assert_eq!(f[1].3, "one");
        assert_eq!(f[2].2, "\r\n");
        assert_eq!(f[2].3, "two\r\n");
        // The multipart's body keeps preamble and epilogue.
        assert_eq!(
            f[0].3,
            "pre\r\n--xx\r\nContent-Type: text/plain\r\n\r\none\r\n--xx\r\n\r\ntwo\r\n\r\n--xx--\r\nepi\r\n"
        );
    }

    #[test]
    fn nested_missing_close_ended_by_outer() {
        let msg = b"Content-Type: multipart/mixed; boundary=out\n\n--out\nContent-Type: multipart/alternative; boundary=in\n\n--in\n\na\n--in\n\nb\n--out\n\nc\n--out--\n";
        let f = flat(msg);
        let nums: Vec<_> = f.iter().map(|x| x.0.as_str()).collect();
        assert_eq!(nums, ["", "1", "1.1", "1.2", "2"]);
        assert_eq!(f[2].3, "a");
        assert_eq!(f[3].3, "b");
        assert_eq!(f[4].3, "c");
        assert_eq!(f[1].3, "--in\n\na\n--in\n\nb");
    }

    #[test]
    fn prefix_boundaries_longest_wins() {
        // Inner boundary "ab-1" starts with the outer "ab".
        let msg = b"Content-Type: multipart/mixed; boundary=ab\n\n--ab\nContent-Type: multipart/mixed; boundary=ab-1\n\n--ab-1\n\nx\n--ab-1--\n--ab\n\ny\n--ab--\n";
        let f = flat(msg);
        let nums: Vec<_> = f.iter().map(|x| x.0.as_str()).collect();
        assert_eq!(nums, ["", "1", "1.1", "2"]);
        assert_eq!(f[2].3, "x");
        assert_eq!(f[3].3, "y");
        // Trailing garbage after a boundary still matches (Dovecot).
        let msg = b"Content-Type: multipart/mixed; boundary=b\n\n--b junk\n\nx\n--b--junk\n";
        let f = flat(msg);
        assert_eq!(f.len(), 2);
        assert_eq!(f[1].3, "x");
    }

    #[test]
    fn broken_multiparts() {
        // No boundary parameter: a leaf.
        let msg = b"Content-Type: multipart/mixed\n\n--b\n\nx\n";
        let root = parse(msg);
        assert!(matches!(root.kind, Kind::Leaf));
        assert_eq!(root.body(msg), b"--b\n\nx\n");
        // Boundary never occurs: no children.
        let msg = b"Content-Type: multipart/mixed; boundary=zz\n\njust text\n";
        let root = parse(msg);
        assert!(matches!(&root.kind, Kind::Multipart(c) if c.is_empty()));
        // No close delimiter: the last part runs to the end.
        let msg = b"Content-Type: multipart/mixed; boundary=zz\n\n--zz\n\nlast\n";
        let f = flat(msg);
        assert_eq!(f[1].3, "last\n");
        // Part header runs into the next boundary.
        let msg = b"Content-Type: multipart/mixed; boundary=zz\n\n--zz\nContent-Type: text/html\n--zz\n\nnext\n--zz--";
        let f = flat(msg);
        assert_eq!(f[1].2, "Content-Type: text/html");
        assert_eq!(f[1].3, "");
        assert_eq!(f[2].3, "next");
    }

    #[test]
    fn message_rfc822_and_digest() {
        let msg = b"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\n\nSubject: inner\n\ninner body\n--b\nContent-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: d1\n\nx\n--d--\n--b--\n";
        let f = flat(msg);
        let nums: Vec<_> = f.iter().map(|x| (x.0.as_str(), x.1.as_str())).collect();
        assert_eq!(
            nums,
            [
                ("", "multipart/mixed"),
                ("1", "message/rfc822"),
                ("1/msg", "text/plain"),
                ("2", "multipart/digest"),
                ("2.1", "message/rfc822"),
                ("2.1/msg", "text/plain"),
            ]
        );
        assert_eq!(f[2].2, "Subject: inner\n\n");
        assert_eq!(f[2].3, "inner body");
        assert_eq!(f[1].3, "Subject: inner\n\ninner body");
        assert_eq!(f[5].3, "x");
    }

    #[test]
    fn content_type_needs_mime_at_top() {
        // Content-Transfer-Encoding alone does not make a message MIME.
        let root = parse(b"Content-Transfer-Encoding: base64\n\nQUJD\n");
        assert!(!root.is_mime);
        assert_eq!(root.mime_field("content-transfer-encoding"), None);
        let root = parse(b"MIME-Version: 1.0\nContent-Type: Text/HTML\n\nx");
        assert!(root.is_mime);
        assert_eq!(
            root.content_type,
            Some((b"Text".to_vec(), b"HTML".to_vec()))
        );
        // Invalid types fall back to text/plain.
        let root = parse(b"Content-Type: garbage\n\nx");
        assert_eq!(root.content_type, None);
    }

    #[test]
    fn media_types() {
        assert_eq!(
            parse_media_type(b" (c) text / plain ; charset=x"),
            Some((b"text".to_vec(), b"plain".to_vec()))
        );
        assert_eq!(parse_media_type(b"text/"), None);
        assert_eq!(parse_media_type(b"/plain"), None);
        assert_eq!(parse_media_type(b""), None);
        assert_eq!(parse_media_type(b"(unterminated"), None);
    }

    #[test]
    fn crlf_helpers() {
        assert_eq!(crlf_len(b"a\nb\r\nc"), 7);
        assert_eq!(crlf_len(b"\n"), 2);
        assert_eq!(crlf_len(b""), 0);
        assert_eq!(to_crlf(b"a\nb\r\nc\n"), b"a\r\nb\r\nc\r\n");
        assert_eq!(to_crlf(b"\n\r\r\n"), b"\r\n\r\r\n");
        assert_eq!(line_count(b"a\nb\r\nc"), 2);
        for s in [&b"x\ny\n\n"[..], b"\r\n\n\r", b"abc"] {
            assert_eq!(to_crlf(s).len() as u64, crlf_len(s));
        }
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let mut msg = Vec::new();
        for _ in 0..5000 {
            msg.extend_from_slice(b"Content-Type: message/rfc822\n\n");
        }
        msg.extend_from_slice(b"end\n");
        let root = parse(&msg);
        let mut depth = 0;
        let mut p = &root;
        while let Kind::Message(inner) = &p.kind {
            p = inner;
            depth += 1;
        }
        assert!(depth <= MAX_DEPTH + 1);
        assert_eq!(p.end, msg.len());
    }

    #[test]
    fn near_miss_boundaries_stay_linear() {
        // 32 nested multiparts whose long boundaries differ only at the end, and a body of
        // lines that match every one of them but the last byte.
        let stem = "b".repeat(68);
        let mut msg = Vec::new();
        for i in 0..MAX_DEPTH {
            msg.extend_from_slice(
                format!(
                    "Content-Type: multipart/mixed; boundary=\"{stem}{i:02}\"\n\n--{stem}{i:02}\n"
                )
                .as_bytes(),
            );
        }
        msg.extend_from_slice(b"\n");
        let line = format!("--{stem}0x\n");
        while msg.len() < 4_000_000 {
            msg.extend_from_slice(line.as_bytes());
        }
        let t = std::time::Instant::now();
        let root = parse(&msg);
        assert_eq!(root.end, msg.len());
        assert!(t.elapsed().as_secs() < 10, "{:?}", t.elapsed());
    }

    #[test]
    fn many_parts_are_bounded() {
        let mut msg = b"Content-Type: multipart/mixed; boundary=b\n\n".to_vec();
        for _ in 0..(MAX_PARTS + 500) {
            msg.extend_from_slice(b"--b\n\nx\n");
        }
        let root = parse(&msg);
        match &root.kind {
            Kind::Multipart(c) => assert!(c.len() < MAX_PARTS),
            _ => panic!("not multipart"),
        }
        assert_eq!(root.end, msg.len());
    }
}
