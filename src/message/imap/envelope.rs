//! IMAP ENVELOPE (RFC 3501 §7.4.2) from a message header, with the raw-bytes address parser
//! it needs.
//!
//! IMAP returns header text as written: nothing here RFC 2047-decodes (clients do), so
//! [`crate::message::address`], which decodes for display, is not used. Strings are raw bytes
//! (headers may be 8-bit) with line breaks of folded fields removed (CR and LF dropped, the
//! folding white space kept).
//!
//! Follows Dovecot (`imap-envelope.c`, `message-address.c`) where RFC 3501 is silent:
//! - the first occurrence of each field counts;
//! - Sender and Reply-To fall back to From when absent or empty (RFC 3501 §7.4.2);
//! - a field present with an empty value gives `""` for the string members and NIL for the
//!   address lists; an absent one gives NIL;
//! - an address missing its local part or domain gets `MISSING_MAILBOX` / `MISSING_DOMAIN`,
//!   so that it is never mistaken for a group marker (whose host is NIL);
//! - `addr (Comment)` without a display name uses the comment as the name.
//!
//! Never panics; linear time.

use crate::message::header::{self, Field};

/// Placeholder for a missing local part (Dovecot's).
pub const MISSING_MAILBOX: &[u8] = b"MISSING_MAILBOX";
/// Placeholder for a missing domain (Dovecot's).
pub const MISSING_DOMAIN: &[u8] = b"MISSING_DOMAIN";

/// One IMAP address structure (RFC 3501 §7.4.2): `(name adl mailbox host)`, each `None` for
/// NIL.
///
/// Group syntax (RFC 5322 §3.4) is flattened into markers: a start-of-group marker has
/// `host: None` and the group's display name in `mailbox`; an end-of-group marker has all four
/// members `None`. Ordinary addresses always have `mailbox` and `host` set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Address {
    /// Display name as written: quoted strings unquoted, words joined by one space, RFC 2047
    /// encoded-words left encoded.
    pub name: Option<Vec<u8>>,
    /// Source route (RFC 5322 §4.4 obsolete), e.g. `@a,@b`.
    pub adl: Option<Vec<u8>>,
    /// Local part, unquoted; the group name in a start-of-group marker.
    pub mailbox: Option<Vec<u8>>,
    /// Domain; `None` only in group markers.
    pub host: Option<Vec<u8>>,
}

impl Address {
    /// An ordinary address `mailbox@host`.
    pub fn new(name: Option<&[u8]>, mailbox: &[u8], host: &[u8]) -> Address {
        Address {
            name: name.map(<[u8]>::to_vec),
            adl: None,
            mailbox: Some(mailbox.to_vec()),
            host: Some(host.to_vec()),
        }
    }

    /// The start-of-group marker `(NIL NIL "name" NIL)`.
    pub fn group_start(name: &[u8]) -> Address {
        Address {
            mailbox: Some(name.to_vec()),
            ..Address::default()
        }
    }

    /// The end-of-group marker `(NIL NIL NIL NIL)`.
    pub fn group_end() -> Address {
        Address::default()
    }
}

/// The ENVELOPE of a message (RFC 3501 §7.4.2), field order as on the wire.
///
/// String members: `None` is NIL (field absent), `Some(b"")` an empty field. Address lists:
/// an empty `Vec` is NIL (IMAP has no empty address list).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Envelope {
    /// `Date:` as written.
    pub date: Option<Vec<u8>>,
    /// `Subject:` as written (not RFC 2047-decoded).
    pub subject: Option<Vec<u8>>,
    pub from: Vec<Address>,
    /// `Sender:`, or From when absent or empty.
    pub sender: Vec<Address>,
    /// `Reply-To:`, or From when absent or empty.
    pub reply_to: Vec<Address>,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    pub bcc: Vec<Address>,
    /// `In-Reply-To:` as written.
    pub in_reply_to: Option<Vec<u8>>,
    /// `Message-ID:` as written.
    pub message_id: Option<Vec<u8>>,
}

/// Builds the ENVELOPE of a message from its bytes (RFC 5322, LF or CRLF; only the header is
/// read). See [`Envelope`] for NIL versus empty.
pub fn envelope(msg: &[u8]) -> Envelope {
    let (hlen, _) = header::header_end(msg);
    from_fields(&header::split_fields(&msg[..hlen]))
}

/// Builds the ENVELOPE from already split header fields.
pub(crate) fn from_fields(fields: &[Field]) -> Envelope {
    let text = |name: &str| header::find(fields, name).map(header::unfold);
    let addrs = |name: &str| {
        header::find(fields, name)
            .map(parse_addresses)
            .unwrap_or_default()
    };
    let from = addrs("from");
    let mut sender = addrs("sender");
    if sender.is_empty() {
        sender = from.clone();
    }
    let mut reply_to = addrs("reply-to");
    if reply_to.is_empty() {
        reply_to = from.clone();
    }
    Envelope {
        date: text("date"),
        subject: text("subject"),
        sender,
        reply_to,
        to: addrs("to"),
        cc: addrs("cc"),
        bcc: addrs("bcc"),
        in_reply_to: text("in-reply-to"),
        message_id: text("message-id"),
        from,
    }
}

#[derive(Debug)]
enum Tok {
    /// A run of bytes other than white space and `"(<>,:;@`.
    Atom(Vec<u8>),
    /// A quoted string's contents, quoted-pairs undone.
    Quoted(Vec<u8>),
    /// A comment's contents.
    Comment(Vec<u8>),
    /// The raw contents of `<…>`.
    Angle(Vec<u8>),
    At,
    Comma,
    Colon,
    Semicolon,
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Tokens with a flag telling whether white space preceded each.
fn tokenize(s: &[u8]) -> Vec<(bool, Tok)> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut space = false;
    while i < s.len() {
        let b = s[i];
        let tok = match b {
            _ if is_space(b) => {
                space = true;
                i += 1;
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
                i += 1;
                Tok::Quoted(v)
            }
            b'(' => {
                let mut v = Vec::new();
                let mut depth = 0usize;
                while i < s.len() {
                    match s[i] {
                        b'\\' if i + 1 < s.len() => {
                            i += 1;
                            v.push(s[i]);
                        }
                        b'(' => {
                            if depth > 0 {
                                v.push(b'(');
                            }
                            depth += 1;
                        }
                        b')' => {
                            depth -= 1;
                            if depth == 0 {
                                i += 1;
                                break;
                            }
                            v.push(b')');
                        }
                        c => v.push(c),
                    }
                    i += 1;
                }
                Tok::Comment(v)
            }
            b'<' => {
                let end = memchr::memchr(b'>', &s[i + 1..])
                    .map(|e| i + 1 + e)
                    .unwrap_or(s.len());
                let t = Tok::Angle(s[i + 1..end].to_vec());
                i = end + 1;
                t
            }
            b'>' => {
                i += 1;
                continue; // stray: dropped
            }
            b'@' | b',' | b':' | b';' => {
                i += 1;
                match b {
                    b'@' => Tok::At,
                    b',' => Tok::Comma,
                    b':' => Tok::Colon,
                    _ => Tok::Semicolon,
                }
            }
            _ => {
                let start = i;
                while i < s.len() && !is_space(s[i]) && !b"\"(<>,:;@".contains(&s[i]) {
                    i += 1;
                }
                Tok::Atom(s[start..i].to_vec())
            }
        };
        out.push((space, tok));
        space = false;
    }
    out
}

/// The tokens of one mailbox (between commas).
#[derive(Default)]
struct Item {
    /// `(space before, quoted, bytes)` of words and `@` (as `b"@"`, unquoted) outside `<>`.
    words: Vec<(bool, bool, Vec<u8>)>,
    angle: Option<Vec<u8>>,
    comment: Option<Vec<u8>>,
}

/// Words joined by one space where the input had white space; `None` when empty.
fn phrase(words: &[(bool, bool, Vec<u8>)]) -> Option<Vec<u8>> {
    let mut v = Vec::new();
    for (k, (space, _, w)) in words.iter().enumerate() {
        if k > 0 && *space {
            v.push(b' ');
        }
        v.extend_from_slice(w);
    }
    (!v.is_empty()).then_some(v)
}

fn trim(v: &[u8]) -> &[u8] {
    let s = v.iter().position(|b| !is_space(*b)).unwrap_or(v.len());
    let e = v.iter().rposition(|b| !is_space(*b)).map_or(s, |e| e + 1);
    &v[s..e.max(s)]
}

/// Splits an addr-spec `local@domain` at its last `@` (outside quotes), removing white space,
/// comments and quotes of the local part.
fn split_addr_spec(raw: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut local = Vec::new();
    let mut domain = Vec::new();
    let mut seen_at = false;
    for (_, tok) in tokenize(raw) {
        let target = if seen_at { &mut domain } else { &mut local };
        match tok {
            Tok::Atom(a) => target.extend_from_slice(&a),
            Tok::Quoted(q) => target.extend_from_slice(&q),
            Tok::At => {
                if seen_at {
                    // `a@b@c`: everything up to the last `@` is the local part.
                    local.push(b'@');
                    local.append(&mut domain);
                }
                seen_at = true;
            }
            Tok::Colon => target.push(b':'),
            Tok::Comma => target.push(b','),
            Tok::Semicolon => target.push(b';'),
            Tok::Comment(_) | Tok::Angle(_) => {}
        }
    }
    (local, domain)
}

/// Fills the mailbox and host of an address, with Dovecot's placeholders when missing.
fn mailbox(name: Option<Vec<u8>>, adl: Option<Vec<u8>>, local: Vec<u8>, dom: Vec<u8>) -> Address {
    Address {
        name,
        adl,
        mailbox: Some(if local.is_empty() {
            MISSING_MAILBOX.to_vec()
        } else {
            local
        }),
        host: Some(if dom.is_empty() {
            MISSING_DOMAIN.to_vec()
        } else {
            dom
        }),
    }
}

fn finish(item: Item) -> Option<Address> {
    let comment_name = item
        .comment
        .as_deref()
        .map(trim)
        .filter(|c| !c.is_empty())
        .map(<[u8]>::to_vec);
    if let Some(raw) = item.angle {
        let name = phrase(&item.words).or(comment_name);
        let raw = trim(&raw);
        // RFC 5322 §4.4 obsolete route: `@a,@b:local@domain`.
        let (adl, spec) = match (raw.first(), memchr::memrchr(b':', raw)) {
            (Some(b'@'), Some(c)) => {
                let route: Vec<u8> = raw[..c].iter().copied().filter(|b| !is_space(*b)).collect();
                (Some(route), &raw[c + 1..])
            }
            _ => (None, raw),
        };
        let (local, dom) = split_addr_spec(spec);
        return Some(mailbox(name, adl, local, dom));
    }
    if item.words.is_empty() {
        return None;
    }
    let at = item.words.iter().rposition(|(_, q, w)| !q && w == b"@");
    let Some(at) = at else {
        // No `@`: a bare local name (or garbage) without domain.
        let local = phrase(&item.words).unwrap_or_default();
        return Some(mailbox(comment_name, None, local, Vec::new()));
    };
    // The local part is the run of words touching the `@` (no white space between them);
    // words before it form a display name (`Name a@b`, lenient).
    let mut local_start = at;
    while local_start > 0 && !item.words[local_start].0 {
        local_start -= 1;
    }
    if item.words[local_start].2 == b"@" && local_start == at && at > 0 && item.words[at].0 {
        // `name @ domain` (obsolete spacing): take the word before the `@`.
        local_start = at - 1;
    }
    let mut local = Vec::new();
    for (_, _, w) in &item.words[local_start..at] {
        local.extend_from_slice(w);
    }
    let mut dom = Vec::new();
    for (_, _, w) in &item.words[at + 1..] {
        dom.extend_from_slice(w);
    }
    let name = phrase(&item.words[..local_start]).or(comment_name);
    Some(mailbox(name, None, local, dom))
}

/// Parses an address-list header value (RFC 5322 §3.4; raw bytes, may be folded) into IMAP
/// address structures, groups as start/end markers (RFC 3501 §7.4.2). A group left open at
/// the end of the value is closed. Garbage yields what can be salvaged; never panics.
pub fn parse_addresses(value: &[u8]) -> Vec<Address> {
    let value = header::unfold(value);
    let mut out = Vec::new();
    let mut item = Item::default();
    let mut in_group = false;
    for (space, tok) in tokenize(&value) {
        match tok {
            Tok::Atom(w) => item.words.push((space, false, w)),
            Tok::Quoted(w) => item.words.push((space, true, w)),
            Tok::At => item.words.push((space, false, b"@".to_vec())),
            Tok::Comment(c) => {
                if item.comment.is_none() && !trim(&c).is_empty() {
                    item.comment = Some(c);
                }
            }
            Tok::Angle(a) => {
                if item.angle.is_none() {
                    item.angle = Some(a);
                }
            }
            Tok::Colon if !in_group && item.angle.is_none() => {
                // RFC 5322 §3.4 group: the phrase before the colon names it.
                let name = phrase(&item.words).unwrap_or_default();
                out.push(Address::group_start(&name));
                in_group = true;
                item = Item::default();
            }
            Tok::Colon => {}
            Tok::Comma => out.extend(finish(std::mem::take(&mut item))),
            Tok::Semicolon => {
                out.extend(finish(std::mem::take(&mut item)));
                if in_group {
                    out.push(Address::group_end());
                    in_group = false;
                }
            }
        }
    }
    out.extend(finish(item));
    if in_group {
        out.push(Address::group_end());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(name: Option<&str>, mbox: &str, host: &str) -> Address {
        Address::new(name.map(str::as_bytes), mbox.as_bytes(), host.as_bytes())
    }

    #[test]
    fn rfc3501_example_envelope() {
        // The message of the RFC 3501 §8 FETCH example.
        let msg = b"Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\n\
From: Terry Gray <gray@cac.washington.edu>\r\n\
Subject: IMAP4rev1 WG mtg summary and minutes\r\n\
To: imap@cac.washington.edu\r\n\
cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\r\n\
Message-Id: <B27397-0100000@cac.washington.edu>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\r\nbody\r\n";
        let e = envelope(msg);
        assert_eq!(
            e.date.as_deref(),
            Some(&b"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)"[..])
        );
        assert_eq!(
            e.subject.as_deref(),
            Some(&b"IMAP4rev1 WG mtg summary and minutes"[..])
        );
        let gray = vec![a(Some("Terry Gray"), "gray", "cac.washington.edu")];
        assert_eq!(e.from, gray);
        assert_eq!(e.sender, gray);
        assert_eq!(e.reply_to, gray);
        assert_eq!(e.to, vec![a(None, "imap", "cac.washington.edu")]);
        assert_eq!(
            e.cc,
            vec![
                a(None, "minutes", "CNRI.Reston.VA.US"),
                a(Some("John Klensin"), "KLENSIN", "MIT.EDU")
            ]
        );
        assert!(e.bcc.is_empty());
        assert_eq!(e.in_reply_to, None);
        assert_eq!(
            e.message_id.as_deref(),
            Some(&b"<B27397-0100000@cac.washington.edu>"[..])
        );
    }

    #[test]
    fn nil_versus_empty_and_defaults() {
        let e = envelope(b"Subject:\nSender:\nReply-To: r@x\nFrom: f@x\n\nbody");
        assert_eq!(e.subject.as_deref(), Some(&b""[..]));
        assert_eq!(e.date, None);
        assert_eq!(e.sender, vec![a(None, "f", "x")]);
        assert_eq!(e.reply_to, vec![a(None, "r", "x")]);
        // Missing From: all three NIL.
        let e = envelope(b"To: t@x\n\n");
        assert!(e.from.is_empty() && e.sender.is_empty() && e.reply_to.is_empty());
        assert_eq!(envelope(b""), Envelope::default());
    }

    #[test]
    fn raw_8bit_and_encoded_words_kept() {
        let e = envelope(
            "Subject: =?GBK?B?suLK1A==?= 中\r\n folded\nFrom: \"=?utf-8?B?5Lit?=\" <z@x>\n\n"
                .as_bytes(),
        );
        assert_eq!(
            e.subject.as_deref(),
            Some("=?GBK?B?suLK1A==?= \u{4e2d} folded".as_bytes())
        );
        assert_eq!(e.from, vec![a(Some("=?utf-8?B?5Lit?="), "z", "x")]);
        let e = envelope(b"From: \xd6\xd0\xce\xc4 <z@x>\n\n");
        assert_eq!(e.from[0].name.as_deref(), Some(&b"\xd6\xd0\xce\xc4"[..]));
    }

    #[test]
    fn groups() {
        let v = parse_addresses(b"undisclosed-recipients:;");
        assert_eq!(
            v,
            vec![
                Address::group_start(b"undisclosed-recipients"),
                Address::group_end()
            ]
        );
        let v = parse_addresses(b"a@x, Team \"One\": b@y, C <c@z>; d@w");
        assert_eq!(
            v,
            vec![
                a(None, "a", "x"),
                Address::group_start(b"Team One"),
                a(None, "b", "y"),
                a(Some("C"), "c", "z"),
                Address::group_end(),
                a(None, "d", "w"),
            ]
        );
        // Unterminated group is closed.
        let v = parse_addresses(b"g: a@x");
        assert_eq!(
            v,
            vec![
                Address::group_start(b"g"),
                a(None, "a", "x"),
                Address::group_end()
            ]
        );
    }

    #[test]
    fn dovecot_address_cases() {
        assert_eq!(
            parse_addresses(b"user@domain"),
            vec![a(None, "user", "domain")]
        );
        assert_eq!(
            parse_addresses(b"<user@domain>"),
            vec![a(None, "user", "domain")]
        );
        assert_eq!(
            parse_addresses(b"\"foo bar\" <user@domain>"),
            vec![a(Some("foo bar"), "user", "domain")]
        );
        let v = parse_addresses(b"hello <@route ,@route2:user@domain>");
        assert_eq!(v[0].adl.as_deref(), Some(&b"@route,@route2"[..]));
        assert_eq!(v[0].name.as_deref(), Some(&b"hello"[..]));
        assert_eq!(v[0].mailbox.as_deref(), Some(&b"user"[..]));
        assert_eq!(
            parse_addresses(b"user (hello)"),
            vec![a(Some("hello"), "user", "MISSING_DOMAIN")]
        );
        assert_eq!(
            parse_addresses(b"hello <user>"),
            vec![a(Some("hello"), "user", "MISSING_DOMAIN")]
        );
        assert_eq!(
            parse_addresses(b"@domain"),
            vec![a(None, "MISSING_MAILBOX", "domain")]
        );
        assert_eq!(
            parse_addresses(b"a@b (Real Name)"),
            vec![a(Some("Real Name"), "a", "b")]
        );
    }

    #[test]
    fn lenient_forms() {
        assert_eq!(
            parse_addresses(b"\"Zhang, San\" <z@x>, ,\r\n b@c"),
            vec![a(Some("Zhang, San"), "z", "x"), a(None, "b", "c")]
        );
        assert_eq!(
            parse_addresses(b"\"john doe\"@example.com"),
            vec![a(None, "john doe", "example.com")]
        );
        assert_eq!(
            parse_addresses(b"Name a@b"),
            vec![a(Some("Name"), "a", "b")]
        );
        assert_eq!(parse_addresses(b"a @ b"), vec![a(None, "a", "b")]);
        assert_eq!(parse_addresses(b""), vec![]);
        assert_eq!(parse_addresses(b"  ,  "), vec![]);
        assert_eq!(
            parse_addresses(b"<>"),
            vec![a(None, "MISSING_MAILBOX", "MISSING_DOMAIN")]
        );
        assert_eq!(
            parse_addresses(b"x <a@b@c>"),
            vec![a(Some("x"), "a@b", "c")]
        );
    }

    #[test]
    fn hostile_addresses_do_not_panic() {
        for s in [
            &b"(((("[..],
            b"\"unterminated",
            b"<unterminated",
            b"a:b:c;;;:",
            b"\\",
            b"(\\",
            b"@:@:<@:>",
            b";;,,::",
            b">>><<<",
        ] {
            let _ = parse_addresses(s);
        }
    }
}
