//! SMTP command-line parsing (RFC 5321 §4.1): the verb, HELO/EHLO domains, `MAIL FROM:` and
//! `RCPT TO:` paths with their ESMTP parameters (RFC 5321 §4.1.2, SIZE RFC 1870, BODY
//! RFC 6152 / RFC 3030, SMTPUTF8 RFC 6531, AUTH= RFC 4954 §5), and `BDAT` (RFC 3030 §2).
//!
//! Pure functions over one command line without its CRLF. Errors come back as the
//! [`Reply`] to send, with Postfix's codes and texts where RFC 5321 leaves room.
//!
//! Address syntax is RFC 5321's `Path`: `<` [source route `:`] `Mailbox` `>`, where the
//! source route (`@a,@b:`) is checked and dropped (RFC 5321 §4.1.1.3 says to ignore it) and
//! the mailbox is kept exactly as written (quoted local parts keep their quotes). An
//! unbracketed address (`MAIL FROM:u@h`) is accepted when it is a valid mailbox, as Postfix
//! does by default (`strict_rfc821_envelopes = no`); anything else is a syntax error.
//! Non-ASCII (RFC 6531 §3.3 UTF-8 local parts and U-labels) is valid syntax, but the session
//! accepts it only in a transaction that declared `SMTPUTF8`. The RFC 5321 §4.5.3.1 length
//! limits on local parts and domains are not enforced (it says to be liberal); the command
//! line limit bounds them.

use super::reply::{Enhanced, Reply};
use super::Body;

/// A command verb (RFC 5321 §4.1.1, RFC 3207, RFC 4954, RFC 3030), matched case-insensitively.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verb {
    Helo,
    Ehlo,
    Mail,
    Rcpt,
    Data,
    Bdat,
    Rset,
    Noop,
    Quit,
    Vrfy,
    Help,
    StartTls,
    Auth,
    /// Known but not implemented here (EXPN, ETRN, TURN): 502.
    NotImplemented,
    Unknown,
}

/// Splits a command line into its verb and argument: the argument is what follows the first
/// space, with surrounding spaces and tabs trimmed (empty when there is none).
pub(crate) fn split(line: &[u8]) -> (Verb, &[u8]) {
    let (word, arg) = match memchr::memchr(b' ', line) {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, &line[line.len()..]),
    };
    let verb = match word.to_ascii_uppercase().as_slice() {
        b"HELO" => Verb::Helo,
        b"EHLO" => Verb::Ehlo,
        b"MAIL" => Verb::Mail,
        b"RCPT" => Verb::Rcpt,
        b"DATA" => Verb::Data,
        b"BDAT" => Verb::Bdat,
        b"RSET" => Verb::Rset,
        b"NOOP" => Verb::Noop,
        b"QUIT" => Verb::Quit,
        b"VRFY" => Verb::Vrfy,
        b"HELP" => Verb::Help,
        b"STARTTLS" => Verb::StartTls,
        b"AUTH" => Verb::Auth,
        b"EXPN" | b"ETRN" | b"TURN" => Verb::NotImplemented,
        _ => Verb::Unknown,
    };
    (verb, trim(arg))
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// The HELO/EHLO argument (RFC 5321 §4.1.1.1): its first word, which must be printable ASCII.
/// Like Postfix (without `smtpd_helo_restrictions`) the name is not checked to be a domain or
/// address literal; it is only recorded for the Received: header. `None` is a syntax error.
pub(crate) fn helo_name(arg: &[u8]) -> Option<String> {
    let word = arg.split(|&b| b == b' ' || b == b'\t').next()?;
    if word.is_empty() || !word.iter().all(|b| (0x21..0x7f).contains(b)) {
        return None;
    }
    String::from_utf8(word.to_vec()).ok()
}

/// What `MAIL FROM:` said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MailCommand {
    /// The reverse-path's mailbox as written, `""` for the null path `<>`.
    pub sender: String,
    /// Whether the address holds non-ASCII (then `SMTPUTF8` is required).
    pub non_ascii: bool,
    /// `SIZE=` (RFC 1870), in octets.
    pub size: Option<u64>,
    /// `BODY=` (RFC 6152, RFC 3030); 7BIT when absent.
    pub body: Body,
    /// `SMTPUTF8` (RFC 6531 §3.4).
    pub smtputf8: bool,
}

/// Parses the argument of `MAIL` (`FROM:<path> [params]`).
///
/// `extended`: the session began with EHLO (parameters are only valid then, RFC 5321
/// §4.1.1.11 with §2.2); `size_limit`: the byte limit, 0 for none; `binarymime`: whether
/// `BODY=BINARYMIME` is offered.
///
/// Errors: `501 5.5.4 Syntax: MAIL FROM:<address>`, `501 5.1.7 Bad sender address syntax`,
/// `555 5.5.4 Unsupported option: …`, `501 5.5.4 Bad message size syntax`,
/// `552 5.3.4 Message size exceeds fixed limit`, `501 5.5.4 Bad BODY keyword syntax`,
/// `501 5.5.4 Bad SMTPUTF8 syntax`.
pub(crate) fn mail(
    arg: &[u8],
    extended: bool,
    size_limit: u64,
    binarymime: bool,
) -> Result<MailCommand, Reply> {
    let syntax = || Reply::new(501, Enhanced(5, 5, 4), "Syntax: MAIL FROM:<address>");
    let rest = strip_keyword(arg, b"FROM:").ok_or_else(syntax)?;
    let rest = std::str::from_utf8(rest)
        .map_err(|_| Reply::new(501, Enhanced(5, 1, 7), "Bad sender address syntax"))?;
    let (path, params) = split_path(rest).ok_or_else(syntax)?;
    let non_ascii = match path {
        "" => false,
        _ => mailbox(path)
            .ok_or_else(|| Reply::new(501, Enhanced(5, 1, 7), "Bad sender address syntax"))?,
    };
    let mut cmd = MailCommand {
        sender: String::new(),
        non_ascii,
        size: None,
        body: Body::SevenBit,
        smtputf8: false,
    };
    for param in params {
        if !extended {
            return Err(unsupported(param));
        }
        let (key, value) = match param.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (param, None),
        };
        match key.to_ascii_uppercase().as_str() {
            "SIZE" => {
                let v = value
                    .filter(|v| {
                        !v.is_empty() && v.len() <= 20 && v.bytes().all(|b| b.is_ascii_digit())
                    })
                    .ok_or_else(|| Reply::new(501, Enhanced(5, 5, 4), "Bad message size syntax"))?;
                // 20 digits can overflow u64: that is over any limit too.
                let n = v.parse::<u64>().unwrap_or(u64::MAX);
                if size_limit > 0 && n > size_limit {
                    return Err(too_big());
                }
                cmd.size = Some(n);
            }
            "BODY" => {
                cmd.body = match value.map(|v| v.to_ascii_uppercase()).as_deref() {
                    Some("7BIT") => Body::SevenBit,
                    Some("8BITMIME") => Body::EightBitMime,
                    Some("BINARYMIME") if binarymime => Body::BinaryMime,
                    _ => {
                        return Err(Reply::new(
                            501,
                            Enhanced(5, 5, 4),
                            "Bad BODY keyword syntax",
                        ))
                    }
                }
            }
            "SMTPUTF8" => {
                if value.is_some() {
                    return Err(Reply::new(501, Enhanced(5, 5, 4), "Bad SMTPUTF8 syntax"));
                }
                cmd.smtputf8 = true;
            }
            // RFC 4954 §5: the submitter's identity for relaying; accepted and ignored, as
            // the AUTH= of a client we did not authenticate ourselves says nothing.
            "AUTH" if value.is_some_and(|v| !v.is_empty()) => {}
            _ => return Err(unsupported(param)),
        }
    }
    cmd.sender = path.to_string();
    Ok(cmd)
}

/// What `RCPT TO:` said: the forward-path's mailbox as written (or `postmaster`), and whether
/// it holds non-ASCII.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RcptCommand {
    pub recipient: String,
    pub non_ascii: bool,
}

/// Parses the argument of `RCPT` (`TO:<path> [params]`). `<postmaster>` without a domain is
/// accepted (RFC 5321 §4.5.1, any case); no parameters are offered (no DSN).
///
/// Errors: `501 5.5.4 Syntax: RCPT TO:<address>`, `501 5.1.3 Bad recipient address syntax`,
/// `555 5.5.4 Unsupported option: …`.
pub(crate) fn rcpt(arg: &[u8]) -> Result<RcptCommand, Reply> {
    let syntax = || Reply::new(501, Enhanced(5, 5, 4), "Syntax: RCPT TO:<address>");
    let bad = || Reply::new(501, Enhanced(5, 1, 3), "Bad recipient address syntax");
    let rest = strip_keyword(arg, b"TO:").ok_or_else(syntax)?;
    let rest = std::str::from_utf8(rest).map_err(|_| bad())?;
    let (path, mut params) = split_path(rest).ok_or_else(syntax)?;
    if let Some(param) = params.next() {
        return Err(unsupported(param));
    }
    if path.eq_ignore_ascii_case("postmaster") {
        return Ok(RcptCommand {
            recipient: path.to_string(),
            non_ascii: false,
        });
    }
    if path.is_empty() {
        return Err(bad());
    }
    let non_ascii = mailbox(path).ok_or_else(bad)?;
    Ok(RcptCommand {
        recipient: path.to_string(),
        non_ascii,
    })
}

fn unsupported(param: &str) -> Reply {
    Reply::new(
        555,
        Enhanced(5, 5, 4),
        format!("Unsupported option: {}", param),
    )
}

/// `552 5.3.4 Message size exceeds fixed limit` (Postfix's text; RFC 1870 §6.1).
pub(crate) fn too_big() -> Reply {
    Reply::new(552, Enhanced(5, 3, 4), "Message size exceeds fixed limit")
}

/// `FROM:` / `TO:` (case-insensitive), then optional spaces (Postfix accepts `FROM: <a>`).
fn strip_keyword<'a>(arg: &'a [u8], keyword: &[u8]) -> Option<&'a [u8]> {
    if arg.len() < keyword.len() || !arg[..keyword.len()].eq_ignore_ascii_case(keyword) {
        return None;
    }
    Some(trim(&arg[keyword.len()..]))
}

/// Splits `<path> params…` into the mailbox (source route dropped; `""` for `<>`) and the
/// space-separated parameters. `None` for a syntax error: no closing `>`, text glued to the
/// `>`, or a malformed source route; an unbracketed address is its first word.
fn split_path(rest: &str) -> Option<(&str, impl Iterator<Item = &str>)> {
    let (inside, params) = if let Some(body) = rest.strip_prefix('<') {
        let end = closing_bracket(body)?;
        let params = &body[end + 1..];
        if !params.is_empty() && !params.starts_with(' ') {
            return None;
        }
        (&body[..end], params)
    } else {
        let end = rest.find(' ').unwrap_or(rest.len());
        if end == 0 || rest[..end].starts_with('@') {
            return None;
        }
        (&rest[..end], &rest[end..])
    };
    // RFC 5321 §4.1.2 A-d-l: `@one,@two:` before the mailbox; checked, then ignored
    // (§4.1.1.3 and Appendix C).
    let mailbox = match inside.find(':') {
        Some(colon) if inside.starts_with('@') => {
            for hop in inside[..colon].split(',') {
                if !hop.strip_prefix('@').is_some_and(|d| domain(d, true)) {
                    return None;
                }
            }
            &inside[colon + 1..]
        }
        _ => inside,
    };
    Some((mailbox, params.split(' ').filter(|p| !p.is_empty())))
}

/// The index of the `>` closing a path in `s` (which follows the `<`), skipping a quoted
/// local part (which may hold `>` and `\"`).
fn closing_bracket(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut quoted = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quoted => i += 1,
            b'"' => quoted = !quoted,
            b'>' if !quoted => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Checks an RFC 5321 §4.1.2 `Mailbox` (`Local-part "@" ( Domain / address-literal )`),
/// with the RFC 6531 §3.3 UTF-8 extensions. `Some(non_ascii)` when valid.
fn mailbox(s: &str) -> Option<bool> {
    let rest = if let Some(q) = s.strip_prefix('"') {
        // Quoted-string: qtextSMTP is %d32-33 / %d35-91 / %d93-126 (plus UTF-8),
        // quoted-pairSMTP is "\" %d32-126.
        let mut chars = q.char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    end = Some(i + 1);
                    break;
                }
                '\\' => match chars.next() {
                    Some((_, e)) if (' '..='~').contains(&e) || !e.is_ascii() => {}
                    _ => return None,
                },
                c if (' '..='~').contains(&c) || !c.is_ascii() => {}
                _ => return None,
            }
        }
        &q[end?..]
    } else {
        let at = s.rfind('@')?;
        let local = &s[..at];
        if local.is_empty() || !local.split('.').all(atom) {
            return None;
        }
        &s[at..]
    };
    let dom = rest.strip_prefix('@')?;
    let ok = if dom.starts_with('[') {
        address_literal(dom)
    } else {
        domain(dom, false)
    };
    ok.then_some(!s.is_ascii())
}

/// RFC 5321 §4.1.2 `Atom`: 1*atext (RFC 5322 §3.2.3), plus UTF-8 (RFC 6531 §3.3).
fn atom(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
        })
}

/// RFC 5321 §4.1.2 `Domain`: dot-separated sub-domains of letters, digits and inner hyphens
/// (U-labels allowed, RFC 6531 §3.3). `route`: a source-route hop, which may also be an
/// address literal.
fn domain(s: &str, route: bool) -> bool {
    if route && s.starts_with('[') {
        return address_literal(s);
    }
    !s.is_empty()
        && s.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || !c.is_ascii())
        })
}

/// RFC 5321 §4.1.3 address literal: `[1.2.3.4]`, `[IPv6:…]` or a general `[tag:content]`.
fn address_literal(s: &str) -> bool {
    let Some(inner) = s.strip_prefix('[').and_then(|s| s.strip_suffix(']')) else {
        return false;
    };
    if let Some(v6) = inner
        .strip_prefix("IPv6:")
        .or_else(|| inner.strip_prefix("ipv6:"))
    {
        return v6.parse::<std::net::Ipv6Addr>().is_ok();
    }
    if inner.parse::<std::net::Ipv4Addr>().is_ok() {
        return true;
    }
    // General-address-literal = Standardized-tag ":" 1*dcontent; dcontent %d33-90 / %d94-126.
    match inner.split_once(':') {
        Some((tag, content)) => {
            domain(tag, false)
                && !content.is_empty()
                && content
                    .bytes()
                    .all(|b| (33..=90).contains(&b) || (94..=126).contains(&b))
        }
        None => false,
    }
}

/// `BDAT chunk-size [LAST]` (RFC 3030 §2): the size in octets and whether it is the last
/// chunk. `None` is a syntax error (the chunk cannot be found then).
pub(crate) fn bdat(arg: &[u8]) -> Option<(u64, bool)> {
    let text = std::str::from_utf8(arg).ok()?;
    let mut words = text.split(' ').filter(|w| !w.is_empty());
    let size = words.next()?;
    if size.is_empty() || size.len() > 19 || !size.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let size = size.parse().ok()?;
    let last = match words.next() {
        None => false,
        Some(w) if w.eq_ignore_ascii_case("LAST") => true,
        Some(_) => return None,
    };
    words.next().is_none().then_some((size, last))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sender(arg: &str) -> Result<String, u16> {
        mail(arg.as_bytes(), true, 1000, true)
            .map(|m| m.sender)
            .map_err(|r| r.code)
    }

    fn recipient(arg: &str) -> Result<String, String> {
        rcpt(arg.as_bytes())
            .map(|r| r.recipient)
            .map_err(|r| r.to_string())
    }

    #[test]
    fn verbs_are_case_insensitive_and_args_trimmed() {
        assert_eq!(split(b"ehlo  x.test  "), (Verb::Ehlo, &b"x.test"[..]));
        assert_eq!(split(b"QuIt"), (Verb::Quit, &b""[..]));
        assert_eq!(split(b"STARTTLS"), (Verb::StartTls, &b""[..]));
        assert_eq!(split(b"MAILFROM:<a@b>").0, Verb::Unknown);
        assert_eq!(split(b"EXPN list").0, Verb::NotImplemented);
        assert_eq!(split(b"").0, Verb::Unknown);
    }

    #[test]
    fn helo_names() {
        assert_eq!(helo_name(b"client.test").as_deref(), Some("client.test"));
        assert_eq!(
            helo_name(b"[192.0.2.1] extra").as_deref(),
            Some("[192.0.2.1]")
        );
        assert_eq!(helo_name(b""), None);
        assert_eq!(helo_name(b"caf\xc3\xa9"), None);
    }

    #[test]
    fn mail_paths() {
        assert_eq!(sender("FROM:<a@b.test>"), Ok("a@b.test".into()));
        assert_eq!(sender("from: <a@b.test>"), Ok("a@b.test".into()));
        assert_eq!(sender("FROM:<>"), Ok("".into()));
        assert_eq!(sender("FROM:a@b.test"), Ok("a@b.test".into()));
        assert_eq!(
            sender("FROM:<@r1.test,@r2.test:a@b.test>"),
            Ok("a@b.test".into())
        );
        assert_eq!(
            sender("FROM:<\"x y>z\"@b.test>"),
            Ok("\"x y>z\"@b.test".into())
        );
        assert_eq!(
            sender("FROM:<\"a\\\"b\"@b.test>"),
            Ok("\"a\\\"b\"@b.test".into())
        );
        assert_eq!(sender("FROM:<a@[192.0.2.1]>"), Ok("a@[192.0.2.1]".into()));
        assert_eq!(
            sender("FROM:<a@[IPv6:2001:db8::1]>"),
            Ok("a@[IPv6:2001:db8::1]".into())
        );
        assert_eq!(sender("FROM:<a.b+c@d-e.f>"), Ok("a.b+c@d-e.f".into()));
        for bad in [
            "FROM:<a@b.test",
            "FROM:<a@b.test>x",
            "TO:<a@b.test>",
            "FROM:",
            "FROM:<@r1.test a@b>",
        ] {
            assert_eq!(sender(bad), Err(501), "{bad}");
        }
        for bad in [
            "FROM:<a>",
            "FROM:<a@>",
            "FROM:<.a@b>",
            "FROM:<a..b@c>",
            "FROM:<a b@c>",
            "FROM:<a@-b.c>",
            "FROM:<a@b..c>",
            "FROM:<a@[300.1.1.1]>",
            "FROM:<a@[IPv6:zz]>",
            "FROM:<\"a\rb\"@c>",
            "FROM:garbage",
            "FROM:<postmaster>",
        ] {
            let r = mail(bad.as_bytes(), true, 0, false).unwrap_err();
            assert_eq!(
                r.to_string(),
                "501 5.1.7 Bad sender address syntax\r\n",
                "{bad}"
            );
        }
    }

    #[test]
    fn mail_params() {
        let m = mail(
            b"FROM:<a@b> SIZE=1000 BODY=8bitmime SMTPUTF8 AUTH=<>",
            true,
            1000,
            false,
        )
        .unwrap();
        assert_eq!(m.size, Some(1000));
        assert_eq!(m.body, Body::EightBitMime);
        assert!(m.smtputf8);
        let e = |arg: &str| {
            mail(arg.as_bytes(), true, 1000, false)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            e("FROM:<a@b> SIZE=1001"),
            "552 5.3.4 Message size exceeds fixed limit\r\n"
        );
        assert_eq!(
            e("FROM:<a@b> SIZE=99999999999999999999"),
            "552 5.3.4 Message size exceeds fixed limit\r\n"
        );
        assert_eq!(
            e("FROM:<a@b> SIZE=x"),
            "501 5.5.4 Bad message size syntax\r\n"
        );
        assert_eq!(
            e("FROM:<a@b> SIZE"),
            "501 5.5.4 Bad message size syntax\r\n"
        );
        assert_eq!(
            e("FROM:<a@b> BODY=BINARYMIME"),
            "501 5.5.4 Bad BODY keyword syntax\r\n"
        );
        assert_eq!(
            e("FROM:<a@b> SMTPUTF8=yes"),
            "501 5.5.4 Bad SMTPUTF8 syntax\r\n"
        );
        assert_eq!(
            e("FROM:<a@b> RET=HDRS"),
            "555 5.5.4 Unsupported option: RET=HDRS\r\n"
        );
        assert_eq!(
            mail(b"FROM:<a@b> BODY=BINARYMIME", true, 0, true)
                .unwrap()
                .body,
            Body::BinaryMime
        );
        assert_eq!(
            mail(b"FROM:<a@b> SIZE=5", true, 0, false).unwrap().size,
            Some(5)
        );
        assert_eq!(
            mail(b"FROM:<a@b> SIZE=5", false, 0, false)
                .unwrap_err()
                .code,
            555
        );
    }

    #[test]
    fn utf8_addresses_are_flagged() {
        let m = mail(
            "FROM:<jöran@bücher.test> SMTPUTF8".as_bytes(),
            true,
            0,
            false,
        )
        .unwrap();
        assert!(m.non_ascii);
        let m = mail("FROM:<jöran@bücher.test>".as_bytes(), true, 0, false).unwrap();
        assert!(m.non_ascii && !m.smtputf8);
        assert_eq!(
            mail(b"FROM:<j\xff@b>", true, 0, false).unwrap_err().code,
            501
        );
        assert!(rcpt("TO:<用户@例子.test>".as_bytes()).unwrap().non_ascii);
    }

    #[test]
    fn rcpt_paths() {
        assert_eq!(recipient("TO:<u@local.test>"), Ok("u@local.test".into()));
        assert_eq!(recipient("To:<Postmaster>"), Ok("Postmaster".into()));
        assert_eq!(
            recipient("TO:<>"),
            Err("501 5.1.3 Bad recipient address syntax\r\n".into())
        );
        assert_eq!(
            recipient("TO:<u>"),
            Err("501 5.1.3 Bad recipient address syntax\r\n".into())
        );
        assert_eq!(
            recipient("TO:<u@h> NOTIFY=NEVER"),
            Err("555 5.5.4 Unsupported option: NOTIFY=NEVER\r\n".into())
        );
        assert_eq!(
            recipient("FROM:<u@h>"),
            Err("501 5.5.4 Syntax: RCPT TO:<address>\r\n".into())
        );
    }

    #[test]
    fn bdat_args() {
        assert_eq!(bdat(b"0 LAST"), Some((0, true)));
        assert_eq!(bdat(b"100"), Some((100, false)));
        assert_eq!(bdat(b"100 last"), Some((100, true)));
        for bad in [
            &b""[..],
            b"x",
            b"-1",
            b"1 FIRST",
            b"1 LAST x",
            b"99999999999999999999",
        ] {
            assert_eq!(bdat(bad), None);
        }
    }

    #[test]
    fn hostile_lines_do_not_panic() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            let len = (seed % 40) as usize;
            let mut line = b"FROM:<".to_vec();
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                {
                    let alphabet = b"<>@\"\\:,.[]a \xc3\xa9=";
                    line.push(alphabet[(seed % alphabet.len() as u64) as usize]);
                }
            }
            let _ = mail(&line, true, 10, true);
            let _ = rcpt(&line[2..]);
            let _ = bdat(&line);
            let _ = helo_name(&line);
        }
    }
}
