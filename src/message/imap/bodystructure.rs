//! IMAP BODY and BODYSTRUCTURE (RFC 3501 §7.4.2) computed from a message's part tree.
//!
//! The shapes mirror imap-types' `BodyStructure` so the server can map them one to one; all
//! strings are raw bytes as written in the message (unfolded: CR and LF removed).
//!
//! Follows Dovecot (`imap-bodystructure.c`, `message-part-data.c`) where RFC 3501 is silent:
//! - type and subtype as written; a missing or invalid `Content-Type` is `"text" "plain"`
//!   (`"message" "rfc822"` in a digest); a text part without `charset` gets
//!   `("charset" "us-ascii")`;
//! - parameters: names lower-cased, values unquoted, RFC 2231 continuations joined; a value
//!   with encoded sections stays encoded (`name*` = `charset'lang'%XX…`, plain sections
//!   percent-encoded) so the response stays 7-bit;
//! - a missing or invalid `Content-Transfer-Encoding` is `"7bit"`; sizes are of the body in
//!   CRLF form; line counts are the number of LFs in the body;
//! - MD5 is the `Content-MD5` field when present (RFC 3501: "body MD5"), else NIL;
//! - a multipart without parts gets one empty `text/plain` part (the grammar needs one);
//! - an encapsulated message nested beyond [`MAX_DEPTH`](super::tree::MAX_DEPTH) is described
//!   as `application/octet-stream`, since its envelope was not parsed.

use std::collections::HashMap;

use super::envelope::{self, Envelope};
use super::tree::{self, crlf_len, line_count, skip_cfws, token_at, Kind, Part};
use crate::message::header;

/// A parameter list: `(attribute, value)` pairs; empty is NIL.
pub type Params = Vec<(Vec<u8>, Vec<u8>)>;

/// BODY / BODYSTRUCTURE of one entity (RFC 3501 §7.4.2 `body`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyStructure {
    /// A non-multipart entity (`body-type-1part`).
    Single {
        body: Body,
        /// Extension data: `Some` only for BODYSTRUCTURE.
        extension: Option<SinglePartExtension>,
    },
    /// A multipart (`body-type-mpart`).
    Multipart {
        /// The parts, at least one.
        bodies: Vec<BodyStructure>,
        /// The subtype as written (`mixed`, `Alternative`, …).
        subtype: Vec<u8>,
        /// Extension data: `Some` only for BODYSTRUCTURE.
        extension: Option<MultipartExtension>,
    },
}

/// The fields of a non-multipart entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    /// Media type as written (`text`, `IMAGE`), or the default.
    pub media_type: Vec<u8>,
    /// Subtype as written.
    pub subtype: Vec<u8>,
    /// `body-fld-param`: Content-Type parameters.
    pub params: Params,
    /// `Content-ID`, NIL when absent.
    pub id: Option<Vec<u8>>,
    /// `Content-Description`, NIL when absent.
    pub description: Option<Vec<u8>>,
    /// `Content-Transfer-Encoding` token as written, `7bit` by default.
    pub encoding: Vec<u8>,
    /// Body size in octets in CRLF form (saturated at `u32::MAX`).
    pub size: u32,
    pub specific: Specific,
}

/// The type-specific tail of a [`Body`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Specific {
    /// Any type but text and message/rfc822 (`body-type-basic`).
    Basic,
    /// `text/*` (`body-type-text`): the body's line count.
    Text { lines: u32 },
    /// `message/rfc822` (`body-type-msg`): the encapsulated message's envelope and body
    /// structure, and the line count of the whole encapsulated message.
    Message {
        envelope: Box<Envelope>,
        body: Box<BodyStructure>,
        lines: u32,
    },
}

/// `Content-Disposition`: the disposition token as written and its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disposition {
    pub kind: Vec<u8>,
    pub params: Params,
}

/// BODYSTRUCTURE extension data of a non-multipart entity (`body-ext-1part`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SinglePartExtension {
    /// `Content-MD5`, NIL when absent.
    pub md5: Option<Vec<u8>>,
    pub disposition: Option<Disposition>,
    /// `Content-Language` tags; empty is NIL.
    pub language: Vec<Vec<u8>>,
    /// `Content-Location`, NIL when absent.
    pub location: Option<Vec<u8>>,
}

/// BODYSTRUCTURE extension data of a multipart (`body-ext-mpart`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MultipartExtension {
    /// All Content-Type parameters, `boundary` included.
    pub params: Params,
    pub disposition: Option<Disposition>,
    /// `Content-Language` tags; empty is NIL.
    pub language: Vec<Vec<u8>>,
    /// `Content-Location`, NIL when absent.
    pub location: Option<Vec<u8>>,
}

/// Computes BODY (`extensible == false`) or BODYSTRUCTURE (`true`) of a message (RFC 5322,
/// LF or CRLF). Never fails: broken MIME is described as the parser understood it (see
/// [`super::tree`]).
pub fn body_structure(msg: &[u8], extensible: bool) -> BodyStructure {
    let root = tree::parse(msg);
    of_part(msg, &root, extensible)
}

fn sat(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The unfolded value of a `Content-*` field of `part`.
fn mime_value(part: &Part, name: &str) -> Option<Vec<u8>> {
    part.mime_field(name).map(header::unfold)
}

/// Parameters after the main value of a `Content-Type` or `Content-Disposition` value.
fn params_after_main(value: &[u8]) -> Params {
    match memchr::memchr(b';', value) {
        Some(i) => params(&value[i..]),
        None => Vec::new(),
    }
}

fn disposition(part: &Part) -> Option<Disposition> {
    let v = mime_value(part, "content-disposition")?;
    let (kind, _) = token_at(&v, 0);
    if kind.is_empty() {
        return None;
    }
    Some(Disposition {
        kind: kind.to_vec(),
        params: params_after_main(&v),
    })
}

/// `Content-Language`: comma-separated tags (RFC 3282).
fn language(part: &Part) -> Vec<Vec<u8>> {
    let Some(v) = mime_value(part, "content-language") else {
        return Vec::new();
    };
    v.split(|&b| b == b',')
        .map(|piece| token_at(piece, 0).0.to_vec())
        .filter(|t| !t.is_empty())
        .collect()
}

/// The BODY(STRUCTURE) of one entity of the tree.
pub(crate) fn of_part(msg: &[u8], part: &Part, ext: bool) -> BodyStructure {
    let ct = mime_value(part, "content-type").unwrap_or_default();
    if let Kind::Multipart(children) = &part.kind {
        let mut bodies: Vec<BodyStructure> =
            children.iter().map(|c| of_part(msg, c, ext)).collect();
        if bodies.is_empty() {
            bodies.push(empty_text());
        }
        let subtype = part
            .content_type
            .as_ref()
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| b"x-unknown".to_vec());
        return BodyStructure::Multipart {
            bodies,
            subtype,
            extension: ext.then(|| MultipartExtension {
                params: params_after_main(&ct),
                disposition: disposition(part),
                language: language(part),
                location: mime_value(part, "content-location"),
            }),
        };
    }
    let (lower_type, _) = part.media_type_lower();
    let (mut media_type, mut subtype) = match (&part.content_type, &part.kind) {
        (Some((t, s)), _) => (t.clone(), s.clone()),
        (None, Kind::Message(_)) => (b"message".to_vec(), b"rfc822".to_vec()),
        (None, _) => (b"text".to_vec(), b"plain".to_vec()),
    };
    let mut params = if part.content_type.is_some() {
        params_after_main(&ct)
    } else {
        Vec::new()
    };
    let body_bytes = part.body(msg);
    let specific = match &part.kind {
        Kind::Message(inner) => Specific::Message {
            envelope: Box::new(envelope::from_fields(&inner.fields)),
            body: Box::new(of_part(msg, inner, ext)),
            lines: sat(line_count(body_bytes)),
        },
        _ if lower_type == "text" => {
            if !params.iter().any(|(k, _)| k == b"charset") {
                params.push((b"charset".to_vec(), b"us-ascii".to_vec()));
            }
            Specific::Text {
                lines: sat(line_count(body_bytes)),
            }
        }
        _ => {
            let (t, s) = part.media_type_lower();
            if t == "message" && s == "rfc822" {
                // Too deep to have been parsed: no envelope to give.
                media_type = b"application".to_vec();
                subtype = b"octet-stream".to_vec();
            }
            Specific::Basic
        }
    };
    let encoding = mime_value(part, "content-transfer-encoding")
        .map(|v| token_at(&v, 0).0.to_vec())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| b"7bit".to_vec());
    BodyStructure::Single {
        body: Body {
            media_type,
            subtype,
            params,
            id: mime_value(part, "content-id"),
            description: mime_value(part, "content-description"),
            encoding,
            size: sat(crlf_len(body_bytes)),
            specific,
        },
        extension: ext.then(|| SinglePartExtension {
            md5: mime_value(part, "content-md5"),
            disposition: disposition(part),
            language: language(part),
            location: mime_value(part, "content-location"),
        }),
    }
}

/// Dovecot's stand-in for the missing part of an empty multipart.
fn empty_text() -> BodyStructure {
    BodyStructure::Single {
        body: Body {
            media_type: b"text".to_vec(),
            subtype: b"plain".to_vec(),
            params: vec![(b"charset".to_vec(), b"us-ascii".to_vec())],
            id: None,
            description: None,
            encoding: b"7bit".to_vec(),
            size: 0,
            specific: Specific::Text { lines: 0 },
        },
        extension: None,
    }
}

/// RFC 2231 §7 `attribute-char`: what may stay unencoded in an extended value.
fn is_attr_char(b: u8) -> bool {
    tree::is_token_byte(b) && b != b'*' && b != b'\'' && b != b'%'
}

fn percent_encode(v: &[u8], out: &mut Vec<u8>) {
    for &b in v {
        if is_attr_char(b) {
            out.push(b);
        } else {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
}

/// One raw `attribute=value` as found: attribute lower-cased, value unquoted.
fn raw_params(v: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < v.len() {
        // At a ';' (or garbage to skip up to the next one).
        match memchr::memchr(b';', &v[i..]) {
            Some(k) => i += k + 1,
            None => break,
        }
        let (name, j) = token_at(v, i);
        let j = skip_cfws(v, j);
        if name.is_empty() || v.get(j) != Some(&b'=') {
            // Resume after what was skipped (a `;` inside a comment is no separator), which
            // also keeps the scan linear.
            i = j.max(i);
            continue;
        }
        let j = skip_cfws(v, j + 1);
        let mut value = Vec::new();
        if v.get(j) == Some(&b'"') {
            let mut k = j + 1;
            while k < v.len() && v[k] != b'"' {
                if v[k] == b'\\' && k + 1 < v.len() {
                    k += 1;
                }
                value.push(v[k]);
                k += 1;
            }
            i = k + 1;
        } else {
            // A token; lenient: anything up to the next ';', trimmed.
            let end = memchr::memchr(b';', &v[j..]).map_or(v.len(), |k| j + k);
            let raw = &v[j..end];
            let t = raw
                .iter()
                .rposition(|b| !matches!(b, b' ' | b'\t'))
                .map_or(0, |e| e + 1);
            value.extend_from_slice(&raw[..t]);
            i = end;
        }
        out.push((name.to_ascii_lowercase(), value));
    }
    out
}

/// One RFC 2231 §3 section of a parameter value: `(index, encoded, value)`.
type Piece = (u32, bool, Vec<u8>);

/// Parses `; attr=value` pairs (RFC 2045 §5.1) and joins RFC 2231 §3 continuations: a value
/// with no encoded section becomes a plain `name`; one with encoded sections becomes `name*`
/// in RFC 2231 §4 form (`charset'lang'` + percent-encoding), as Dovecot returns it.
pub(crate) fn params(v: &[u8]) -> Params {
    let raw = raw_params(v);
    let mut out: Params = Vec::new();
    // Continuations by base name, in order of first appearance.
    let mut sections: Vec<(Vec<u8>, Vec<Piece>)> = Vec::new();
    let mut index: HashMap<Vec<u8>, usize> = HashMap::new();
    for (name, value) in raw {
        let star = memchr::memchr(b'*', &name);
        let cont = star.and_then(|s| {
            let rest = &name[s + 1..];
            let (num, enc) = match rest.strip_suffix(b"*") {
                Some(n) => (n, true),
                None => (rest, false),
            };
            let n: u32 = std::str::from_utf8(num).ok()?.parse().ok()?;
            (num.len() <= 4 && num.iter().all(u8::is_ascii_digit)).then_some((s, n, enc))
        });
        match cont {
            Some((s, n, enc)) => {
                let base = name[..s].to_vec();
                let idx = match index.get(&base) {
                    Some(&i) => i,
                    None => {
                        index.insert(base.clone(), sections.len());
                        sections.push((base, Vec::new()));
                        // Placeholder keeps the output order of first appearance.
                        out.push((Vec::new(), Vec::new()));
                        sections.len() - 1
                    }
                };
                sections[idx].1.push((n, enc, value));
            }
            None => out.push((name, value)),
        }
    }
    let mut merged = sections.into_iter().map(|(base, mut secs)| {
        secs.sort_by_key(|s| s.0);
        let mut taken = Vec::new();
        for (k, s) in secs.into_iter().enumerate() {
            if s.0 as usize != k {
                break; // RFC 2231 §3: consecutive from 0
            }
            taken.push(s);
        }
        let encoded = taken.iter().any(|s| s.1);
        let mut value = Vec::new();
        if encoded {
            for (k, (_, enc, v)) in taken.iter().enumerate() {
                if k == 0 && !enc {
                    value.extend_from_slice(b"''");
                }
                if *enc {
                    value.extend_from_slice(v);
                } else {
                    percent_encode(v, &mut value);
                }
            }
            let mut name = base;
            name.push(b'*');
            (name, value)
        } else {
            for (_, _, v) in &taken {
                value.extend_from_slice(v);
            }
            (base, value)
        }
    });
    for slot in out.iter_mut() {
        if slot.0.is_empty() {
            if let Some(m) = merged.next() {
                *slot = m;
            }
        }
    }
    out.retain(|(k, _)| !k.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(list: &[(&str, &str)]) -> Params {
        list.iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn param_lists() {
        assert_eq!(
            params(b"; charset=us-ascii; foo=\"quoted\\\"string\""),
            p(&[("charset", "us-ascii"), ("foo", "quoted\"string")])
        );
        assert_eq!(
            params(b";CharSet = \"UTF-8\" (comment) ;;junk; name=a b.pdf ;"),
            p(&[("charset", "UTF-8"), ("name", "a b.pdf")])
        );
        assert_eq!(params(b""), p(&[]));
        assert_eq!(params(b"; x"), p(&[]));
        assert_eq!(params(b"; x=\"unterminated"), p(&[("x", "unterminated")]));
    }

    #[test]
    fn rfc2231_like_dovecot() {
        let v = b"; key4*=us-ascii''foo; key*2=ba%; key2*0=a; key3*0*=us-ascii'en'xyz; key*0=\"foo\"; key2*1*=b%25; key3*1=plop%; key*1=baz";
        assert_eq!(
            params(v),
            p(&[
                ("key4*", "us-ascii''foo"),
                ("key", "foobazba%"),
                ("key2*", "''ab%25"),
                ("key3*", "us-ascii'en'xyzplop%25"),
            ])
        );
        // A gap ends the value.
        assert_eq!(params(b"; n*0=x; n*2=z"), p(&[("n", "x")]));
    }

    #[test]
    fn hostile_params_are_linear() {
        let t = std::time::Instant::now();
        let mut v = b"; (".to_vec();
        v.extend(std::iter::repeat_n(b';', 200_000));
        assert_eq!(params(&v), p(&[]));
        let mut v = Vec::new();
        for i in 0..50_000 {
            v.extend_from_slice(format!("; n{i}*0*=x").as_bytes());
        }
        assert_eq!(params(&v).len(), 50_000);
        assert!(t.elapsed().as_secs() < 5);
    }
}
