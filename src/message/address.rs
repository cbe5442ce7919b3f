//! RFC 5322 §3.4 addresses, as far as the reader needs them: who a message is from and to.
//!
//! The parser is a small tokenizer (atoms, quoted strings, comments, angle addresses, the
//! separators `,` `:` `;`) followed by a pass that builds mailboxes, so quoted commas
//! (`"Zhang, San" <z@x>`), groups (`team: a@b, c@d;`), comments (`a@b (Name)`), obsolete
//! spacing (`a @ b`) and outright garbage all come out as something sensible. Display names
//! are RFC 2047-decoded, also inside quotes (real mailers put encoded-words there). Never
//! panics; linear time.

use crate::message::header::{decode_words, unfold};

/// One mailbox: optional display name and the address (`local@domain`, or a bare local name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// Display name, RFC 2047-decoded, quotes removed; `None` when absent or empty. For
    /// `addr (Comment)` without a phrase, the comment.
    pub name: Option<String>,
    /// The address proper, without angle brackets or source route; may be empty for
    /// `Name <>`.
    pub addr: String,
}

impl std::fmt::Display for Mailbox {
    /// `Name <addr>` or just `addr` (the name is not re-quoted: this is for display).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{n} <{}>", self.addr),
            None => f.write_str(&self.addr),
        }
    }
}

#[derive(Debug)]
enum Tok {
    /// A run of bytes that are not white space or `"(<,:;`.
    Atom(Vec<u8>),
    /// Contents of a quoted string, quoted-pairs undone.
    Quoted(Vec<u8>),
    /// Contents of a comment, nesting flattened.
    Comment(Vec<u8>),
    /// Contents of `<…>`.
    Angle(Vec<u8>),
    Space,
    Comma,
    Colon,
    Semicolon,
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn tokenize(s: &[u8]) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        match b {
            _ if is_space(b) => {
                while i < s.len() && is_space(s[i]) {
                    i += 1;
                }
                out.push(Tok::Space);
                continue;
            }
            b'"' => {
                let mut v = Vec::new();
                i += 1;
                while i < s.len() && s[i] != b'"' {
                    if s[i] == b'\\' && i + 1 < s.len() {
                        i += 1;
                    }
                    v.push(s[i]);
                    i += 1;
                }
                out.push(Tok::Quoted(v));
            }
            b'(' => {
                let mut v = Vec::new();
                let mut depth = 1usize;
                i += 1;
                while i < s.len() {
                    match s[i] {
                        b'\\' if i + 1 < s.len() => {
                            i += 1;
                            v.push(s[i]);
                        }
                        b'(' => {
                            depth += 1;
                            v.push(b'(');
                        }
                        b')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                            v.push(b')');
                        }
                        c => v.push(c),
                    }
                    i += 1;
                }
                out.push(Tok::Comment(v));
            }
            b'<' => {
                let end = memchr::memchr(b'>', &s[i + 1..])
                    .map(|e| i + 1 + e)
                    .unwrap_or(s.len());
                out.push(Tok::Angle(s[i + 1..end].to_vec()));
                i = end;
            }
            b',' => out.push(Tok::Comma),
            b':' => out.push(Tok::Colon),
            b';' => out.push(Tok::Semicolon),
            b'>' => {} // stray: dropped
            _ => {
                let start = i;
                while i < s.len() && !is_space(s[i]) && !b"\"(<>,:;".contains(&s[i]) {
                    i += 1;
                }
                out.push(Tok::Atom(s[start..i].to_vec()));
                continue;
            }
        }
        i += 1;
    }
    out
}

/// Cleans the inside of `<…>`: white space, comments and quotes-around-everything dropped,
/// RFC 5322 §4.4 obsolete source route (`@a,@b:`) removed.
fn clean_angle(raw: &[u8]) -> String {
    let mut v = Vec::with_capacity(raw.len());
    let mut depth = 0usize;
    for &b in raw {
        match b {
            b'(' => depth += 1,
            b')' if depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            _ if is_space(b) => {}
            _ => v.push(b),
        }
    }
    if v.first() == Some(&b'@') {
        if let Some(c) = v.iter().rposition(|&b| b == b':') {
            v.drain(..=c);
        }
    }
    let s = decode_words(&v);
    let t = s.strip_prefix("mailto:").unwrap_or(&s);
    t.to_owned()
}

/// A word of a phrase or address: text and whether white space preceded it.
struct Piece {
    space_before: bool,
    quoted: bool,
    bytes: Vec<u8>,
}

#[derive(Default)]
struct Item {
    pieces: Vec<Piece>,
    angle: Option<Vec<u8>>,
    comment: Option<Vec<u8>>,
}

/// Joins pieces as a display name: a space where the input had white space.
fn phrase(pieces: &[Piece]) -> Option<String> {
    let mut v = Vec::new();
    for (k, p) in pieces.iter().enumerate() {
        if k > 0 && p.space_before {
            v.push(b' ');
        }
        v.extend_from_slice(&p.bytes);
    }
    clean_name(&decode_words(&v))
}

/// Trims a decoded name; a name that decoded to `"…"` loses the quotes. Empty → `None`.
fn clean_name(s: &str) -> Option<String> {
    let t = s.trim();
    let t = t
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .map(str::trim)
        .unwrap_or(t);
    (!t.is_empty()).then(|| t.to_owned())
}

/// Joins pieces as an addr-spec: no spaces (obsolete `a @ b`), quoted local parts re-quoted.
fn addr_spec(pieces: &[Piece]) -> String {
    let mut v = Vec::new();
    for p in pieces {
        if p.quoted {
            v.push(b'"');
            v.extend_from_slice(&p.bytes);
            v.push(b'"');
        } else {
            v.extend_from_slice(&p.bytes);
        }
    }
    crate::message::charset::decode_guess(&v)
}

fn finish(item: Item) -> Option<Mailbox> {
    let comment_name = item
        .comment
        .as_deref()
        .and_then(|c| clean_name(&decode_words(c)));
    if let Some(raw) = &item.angle {
        let name = phrase(&item.pieces).or(comment_name);
        return Some(Mailbox {
            name,
            addr: clean_angle(raw),
        });
    }
    if item.pieces.is_empty() {
        return comment_name.map(|n| Mailbox {
            name: None,
            addr: n,
        });
    }
    // `Name a@b` (no angle brackets): the last space-separated word holding `@` is the address.
    let last_start = item
        .pieces
        .iter()
        .rposition(|p| p.space_before)
        .unwrap_or(0);
    let last_has_at = item.pieces[last_start..]
        .iter()
        .any(|p| !p.quoted && p.bytes.contains(&b'@'));
    let front_has_at = item.pieces[..last_start]
        .iter()
        .any(|p| !p.quoted && p.bytes.contains(&b'@'));
    let last_is_bare_at = item.pieces[last_start..].iter().all(|p| p.bytes == b"@")
        || item.pieces[last_start].bytes.starts_with(b"@");
    if last_start > 0 && last_has_at && !front_has_at && !last_is_bare_at {
        let name = phrase(&item.pieces[..last_start]).or(comment_name);
        return Some(Mailbox {
            name,
            addr: addr_spec(&item.pieces[last_start..]),
        });
    }
    let has_at = item
        .pieces
        .iter()
        .any(|p| !p.quoted && p.bytes.contains(&b'@'));
    let addr = if has_at {
        addr_spec(&item.pieces)
    } else {
        // A bare local name, or garbage: keep its words.
        phrase(&item.pieces).unwrap_or_default()
    };
    if addr.is_empty() && comment_name.is_none() {
        return None;
    }
    Some(Mailbox {
        name: comment_name,
        addr,
    })
}

/// Parses an address list header value (`To:`, `Cc:`, `From:`; raw bytes, may be folded,
/// encoded or raw 8-bit) per RFC 5322 §3.4. Groups (§3.4 `group`) are flattened and their
/// names dropped; empty groups (`undisclosed-recipients:;`) give nothing. Unparseable input
/// yields what could be salvaged, never panics.
pub fn parse_list(value: &[u8]) -> Vec<Mailbox> {
    let value = unfold(value);
    let mut out = Vec::new();
    let mut item = Item::default();
    let mut space = false;
    let mut in_group = false;
    for tok in tokenize(&value) {
        match tok {
            Tok::Space => {
                space = true;
                continue;
            }
            Tok::Atom(bytes) => item.pieces.push(Piece {
                space_before: space,
                quoted: false,
                bytes,
            }),
            Tok::Quoted(bytes) => item.pieces.push(Piece {
                space_before: space,
                quoted: true,
                bytes,
            }),
            Tok::Comment(c) => {
                if item.comment.is_none() && !c.iter().all(|&b| is_space(b)) {
                    item.comment = Some(c);
                }
            }
            Tok::Angle(a) => {
                if item.angle.is_none() {
                    item.angle = Some(a);
                }
            }
            Tok::Colon if !in_group && item.angle.is_none() => {
                // RFC 5322 §3.4 group: the phrase before the colon is the group's name.
                in_group = true;
                item = Item::default();
            }
            Tok::Colon => item.pieces.push(Piece {
                space_before: space,
                quoted: false,
                bytes: b":".to_vec(),
            }),
            Tok::Comma | Tok::Semicolon => {
                if matches!(tok, Tok::Semicolon) {
                    in_group = false;
                }
                out.extend(finish(std::mem::take(&mut item)));
            }
        }
        space = false;
    }
    out.extend(finish(item));
    out
}

/// What the mailx header summary shows for a `From:` value: the first mailbox's address (like
/// Heirloom mailx's default), or with `showname` its display name when it has one. Falls back
/// to the decoded value when no mailbox can be found, and to the empty string for an empty
/// value.
pub fn summary_name(value: &[u8], showname: bool) -> String {
    let list = parse_list(value);
    match list.first() {
        Some(m) => match (&m.name, showname) {
            (Some(n), true) => n.clone(),
            (Some(n), false) if m.addr.is_empty() => n.clone(),
            _ => m.addr.clone(),
        },
        None => decode_words(value).trim().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mb(name: Option<&str>, addr: &str) -> Mailbox {
        Mailbox {
            name: name.map(str::to_owned),
            addr: addr.to_owned(),
        }
    }

    #[test]
    fn quoted_comma_name() {
        assert_eq!(
            parse_list(b"\"Zhang, San\" <z@x>"),
            [mb(Some("Zhang, San"), "z@x")]
        );
        assert_eq!(
            parse_list(b"\"Zhang, San\" <z@x>, Li Si <l@y>"),
            [mb(Some("Zhang, San"), "z@x"), mb(Some("Li Si"), "l@y")]
        );
        assert_eq!(
            parse_list(b"\"a \\\"b\\\" c\" <q@x>"),
            [mb(Some("a \"b\" c"), "q@x")]
        );
    }

    #[test]
    fn encoded_names() {
        // GBK "张三" = D5 C5 C8 FD
        assert_eq!(
            parse_list(b"=?gbk?B?1cXI/Q==?= <a@b>"),
            [mb(Some("张三"), "a@b")]
        );
        assert_eq!(
            parse_list(b"\"=?utf-8?B?5byg5LiJ?=\" <a@b>"),
            [mb(Some("张三"), "a@b")]
        );
        assert_eq!(
            parse_list(b"=?utf-8?Q?Zhang=2C?= =?utf-8?Q?_San?= <a@b>"),
            [mb(Some("Zhang, San"), "a@b")]
        );
        assert_eq!(
            parse_list("张三 <a@b>".as_bytes()),
            [mb(Some("张三"), "a@b")]
        );
        assert_eq!(
            parse_list(b"\xd5\xc5\xc8\xfd <a@b>"),
            [mb(Some("张三"), "a@b")]
        );
    }

    #[test]
    fn bare_and_angle() {
        assert_eq!(parse_list(b"a@b"), [mb(None, "a@b")]);
        assert_eq!(parse_list(b"<a@b>"), [mb(None, "a@b")]);
        assert_eq!(
            parse_list(b" a@b ,\n\t<c@d>"),
            [mb(None, "a@b"), mb(None, "c@d")]
        );
        assert_eq!(parse_list(b"root"), [mb(None, "root")]);
        assert_eq!(parse_list(b"<@relay.example:a@b>"), [mb(None, "a@b")]);
        assert_eq!(parse_list(b"a @ b . c"), [mb(None, "a@b.c")]);
        assert_eq!(
            parse_list(b"\"john smith\"@example.com"),
            [mb(None, "\"john smith\"@example.com")]
        );
        assert_eq!(parse_list(b"Name <>"), [mb(Some("Name"), "")]);
    }

    #[test]
    fn groups() {
        assert_eq!(
            parse_list(b"team: a@b, \"C\" <c@d>;, e@f"),
            [mb(None, "a@b"), mb(Some("C"), "c@d"), mb(None, "e@f")]
        );
        assert_eq!(parse_list(b"undisclosed-recipients:;"), []);
        assert_eq!(parse_list(b"Undisclosed recipients: ;"), []);
    }

    #[test]
    fn comments() {
        assert_eq!(parse_list(b"a@b (Name)"), [mb(Some("Name"), "a@b")]);
        assert_eq!(
            parse_list(b"a@b (=?utf-8?Q?N=C3=A4me?=)"),
            [mb(Some("Näme"), "a@b")]
        );
        assert_eq!(
            parse_list(b"Real <a@b> (comment)"),
            [mb(Some("Real"), "a@b")]
        );
        assert_eq!(parse_list(b"a(x)@b"), [mb(Some("x"), "a@b")]);
    }

    #[test]
    fn garbage() {
        assert_eq!(parse_list(b""), []);
        assert_eq!(parse_list(b" , ,, "), []);
        assert_eq!(
            parse_list(b"John Smith jsmith@example.com"),
            [mb(Some("John Smith"), "jsmith@example.com")]
        );
        assert_eq!(parse_list(b"<<<>>>"), [mb(None, "<<")]);
        assert_eq!(
            parse_list(b"\"unterminated <a@b>"),
            [mb(None, "unterminated <a@b>")]
        );
        assert_eq!(parse_list(b"Name <a@b"), [mb(Some("Name"), "a@b")]);
        assert_eq!(parse_list(b"(only comment"), [mb(None, "only comment")]);
    }

    #[test]
    fn summary() {
        let v = b"\"Zhang, San\" <z@x>";
        assert_eq!(summary_name(v, false), "z@x");
        assert_eq!(summary_name(v, true), "Zhang, San");
        assert_eq!(summary_name(b"a@b", true), "a@b");
        assert_eq!(summary_name(b"=?gbk?B?1cXI/Q==?= <a@b>", true), "张三");
        assert_eq!(
            summary_name(b"undisclosed-recipients:;", false),
            "undisclosed-recipients:;"
        );
        assert_eq!(summary_name(b"", true), "");
        assert_eq!(mb(Some("N"), "a@b").to_string(), "N <a@b>");
    }
}
