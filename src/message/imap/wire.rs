//! A small writer for the IMAP syntax of ENVELOPE and BODY/BODYSTRUCTURE (RFC 3501 §9
//! `envelope`, `body`), for servers that do not go through imap-types, and for tests that
//! compare against other servers' output.
//!
//! Strings are written as quoted strings when they are 7-bit without CR, LF or NUL, else as
//! literals (`{n}\r\n…`); NIL for `None`. Output is deterministic; never panics.

use super::bodystructure::{
    Body, BodyStructure, Disposition, MultipartExtension, Params, SinglePartExtension, Specific,
};
use super::envelope::{Address, Envelope};

/// Appends `s` as an IMAP string (RFC 3501 §4.3): quoted when possible, else a literal.
pub fn write_string(out: &mut Vec<u8>, s: &[u8]) {
    let quotable = s.len() <= 1024
        && s.iter()
            .all(|&b| b != 0 && b < 128 && b != b'\r' && b != b'\n');
    if quotable {
        out.push(b'"');
        for &b in s {
            if b == b'"' || b == b'\\' {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(format!("{{{}}}\r\n", s.len()).as_bytes());
        out.extend_from_slice(s);
    }
}

/// Appends an nstring: NIL for `None`.
pub fn write_nstring(out: &mut Vec<u8>, s: Option<&[u8]>) {
    match s {
        Some(s) => write_string(out, s),
        None => out.extend_from_slice(b"NIL"),
    }
}

fn write_addresses(out: &mut Vec<u8>, list: &[Address]) {
    if list.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for a in list {
        out.push(b'(');
        write_nstring(out, a.name.as_deref());
        out.push(b' ');
        write_nstring(out, a.adl.as_deref());
        out.push(b' ');
        write_nstring(out, a.mailbox.as_deref());
        out.push(b' ');
        write_nstring(out, a.host.as_deref());
        out.push(b')');
    }
    out.push(b')');
}

/// Appends an ENVELOPE, parentheses included (RFC 3501 §7.4.2).
pub fn write_envelope(out: &mut Vec<u8>, e: &Envelope) {
    out.push(b'(');
    write_nstring(out, e.date.as_deref());
    out.push(b' ');
    write_nstring(out, e.subject.as_deref());
    for list in [&e.from, &e.sender, &e.reply_to, &e.to, &e.cc, &e.bcc] {
        out.push(b' ');
        write_addresses(out, list);
    }
    out.push(b' ');
    write_nstring(out, e.in_reply_to.as_deref());
    out.push(b' ');
    write_nstring(out, e.message_id.as_deref());
    out.push(b')');
}

fn write_params(out: &mut Vec<u8>, params: &Params) {
    if params.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for (k, (name, value)) in params.iter().enumerate() {
        if k > 0 {
            out.push(b' ');
        }
        write_string(out, name);
        out.push(b' ');
        write_string(out, value);
    }
    out.push(b')');
}

fn write_disposition(out: &mut Vec<u8>, d: Option<&Disposition>) {
    match d {
        None => out.extend_from_slice(b"NIL"),
        Some(d) => {
            out.push(b'(');
            write_string(out, &d.kind);
            out.push(b' ');
            write_params(out, &d.params);
            out.push(b')');
        }
    }
}

fn write_language(out: &mut Vec<u8>, tags: &[Vec<u8>]) {
    if tags.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for (k, t) in tags.iter().enumerate() {
        if k > 0 {
            out.push(b' ');
        }
        write_string(out, t);
    }
    out.push(b')');
}

fn write_single(out: &mut Vec<u8>, b: &Body, ext: Option<&SinglePartExtension>) {
    write_string(out, &b.media_type);
    out.push(b' ');
    write_string(out, &b.subtype);
    out.push(b' ');
    write_params(out, &b.params);
    out.push(b' ');
    write_nstring(out, b.id.as_deref());
    out.push(b' ');
    write_nstring(out, b.description.as_deref());
    out.push(b' ');
    write_string(out, &b.encoding);
    out.extend_from_slice(format!(" {}", b.size).as_bytes());
    match &b.specific {
        Specific::Basic => {}
        Specific::Text { lines } => out.extend_from_slice(format!(" {lines}").as_bytes()),
        Specific::Message {
            envelope,
            body,
            lines,
        } => {
            out.push(b' ');
            write_envelope(out, envelope);
            out.push(b' ');
            write_body_structure(out, body);
            out.extend_from_slice(format!(" {lines}").as_bytes());
        }
    }
    if let Some(x) = ext {
        out.push(b' ');
        write_nstring(out, x.md5.as_deref());
        out.push(b' ');
        write_disposition(out, x.disposition.as_ref());
        out.push(b' ');
        write_language(out, &x.language);
        out.push(b' ');
        write_nstring(out, x.location.as_deref());
    }
}

fn write_multi_ext(out: &mut Vec<u8>, x: &MultipartExtension) {
    out.push(b' ');
    write_params(out, &x.params);
    out.push(b' ');
    write_disposition(out, x.disposition.as_ref());
    out.push(b' ');
    write_language(out, &x.language);
    out.push(b' ');
    write_nstring(out, x.location.as_deref());
}

/// Appends a BODY or BODYSTRUCTURE value, outer parentheses included (RFC 3501 §9 `body`).
pub fn write_body_structure(out: &mut Vec<u8>, bs: &BodyStructure) {
    out.push(b'(');
    match bs {
        BodyStructure::Single { body, extension } => write_single(out, body, extension.as_ref()),
        BodyStructure::Multipart {
            bodies,
            subtype,
            extension,
        } => {
            for b in bodies {
                write_body_structure(out, b);
            }
            out.push(b' ');
            write_string(out, subtype);
            if let Some(x) = extension {
                write_multi_ext(out, x);
            }
        }
    }
    out.push(b')');
}

impl Envelope {
    /// This envelope in IMAP syntax (see [`write_envelope`]).
    pub fn to_imap(&self) -> Vec<u8> {
        let mut out = Vec::new();
        write_envelope(&mut out, self);
        out
    }
}

impl BodyStructure {
    /// This body structure in IMAP syntax (see [`write_body_structure`]).
    pub fn to_imap(&self) -> Vec<u8> {
        let mut out = Vec::new();
        write_body_structure(&mut out, self);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings() {
        let mut v = Vec::new();
        write_string(&mut v, b"a\"b\\c");
        assert_eq!(v, b"\"a\\\"b\\\\c\"");
        let mut v = Vec::new();
        write_string(&mut v, "中".as_bytes());
        assert_eq!(v, "{3}\r\n中".as_bytes());
        let mut v = Vec::new();
        write_nstring(&mut v, None);
        assert_eq!(v, b"NIL");
    }
}
