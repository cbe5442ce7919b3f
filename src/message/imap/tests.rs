//! Cross-module tests: BODY/BODYSTRUCTURE against Dovecot's and RFC 3501's output, the
//! consistency of sizes and sections, and hostile input.

use super::*;
use crate::testutil::Rng;

fn bs(msg: &[u8], ext: bool) -> String {
    String::from_utf8(body_structure(msg, ext).to_imap()).unwrap()
}

/// The message of Dovecot's `test-imap-bodystructure.c` (LF line ends).
const DOVECOT_MSG: &[u8] = b"From: user@domain.org\n\
Date: Sat, 24 Mar 2007 23:00:00 +0200\n\
Mime-Version: 1.0\n\
Content-Type: multipart/mixed; boundary=\"foo\n bar\"\n\
\n\
Root MIME prologue\n\
\n\
--foo bar\n\
Content-Type: text/x-myown; charset=us-ascii; foo=\"quoted\\\"string\"\n\
Content-ID: <foo@example.com>\n\
Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\n\
Content-Disposition: inline; foo=bar\n\
Content-Description: hellodescription\n\
Content-Language: en, fi, se\n\
Content-Location: http://example.com/test.txt\n\
\n\
hello\n\
\n\
--foo bar\n\
Content-Type: message/rfc822\n\
\n\
From: sub@domain.org\n\
To: sub-to1@domain.org, sub-to2@domain.org\n\
Date: Sun, 12 Aug 2012 12:34:56 +0300\n\
Subject: submsg\n\
Content-Type: multipart/alternative; boundary=\"sub1\"\n\
\n\
Sub MIME prologue\n\
--sub1\n\
Content-Type: text/html\n\
Content-Transfer-Encoding: 8bit\n\
\n\
<p>Hello world</p>\n\
\n\
--sub1\n\
Content-Type: text/plain\n\
Content-Transfer-Encoding: ?invalid\n\
\n\
Hello another world\n\
\n\
--sub1--\n\
Sub MIME epilogue\n\
\n\
--foo bar--\n\
Root MIME epilogue\n";

/// Dovecot's expected BODYSTRUCTURE for [`DOVECOT_MSG`], in outer parentheses.
const DOVECOT_BODYSTRUCTURE: &str = "((\"text\" \"x-myown\" (\"charset\" \"us-ascii\" \"foo\" \"quoted\\\"string\") \"<foo@example.com>\" \"hellodescription\" \"7bit\" 7 1 \"Q2hlY2sgSW50ZWdyaXR5IQ==\" (\"inline\" (\"foo\" \"bar\")) (\"en\" \"fi\" \"se\") \"http://example.com/test.txt\")(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 412 (\"Sun, 12 Aug 2012 12:34:56 +0300\" \"submsg\" ((NIL NIL \"sub\" \"domain.org\")) ((NIL NIL \"sub\" \"domain.org\")) ((NIL NIL \"sub\" \"domain.org\")) ((NIL NIL \"sub-to1\" \"domain.org\")(NIL NIL \"sub-to2\" \"domain.org\")) NIL NIL NIL NIL) ((\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"8bit\" 20 1 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 21 1 NIL NIL NIL NIL) \"alternative\" (\"boundary\" \"sub1\") NIL NIL NIL) 21 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"foo bar\") NIL NIL NIL)";

/// Dovecot's expected BODY for [`DOVECOT_MSG`], in outer parentheses.
const DOVECOT_BODY: &str = "((\"text\" \"x-myown\" (\"charset\" \"us-ascii\" \"foo\" \"quoted\\\"string\") \"<foo@example.com>\" \"hellodescription\" \"7bit\" 7 1)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 412 (\"Sun, 12 Aug 2012 12:34:56 +0300\" \"submsg\" ((NIL NIL \"sub\" \"domain.org\")) ((NIL NIL \"sub\" \"domain.org\")) ((NIL NIL \"sub\" \"domain.org\")) ((NIL NIL \"sub-to1\" \"domain.org\")(NIL NIL \"sub-to2\" \"domain.org\")) NIL NIL NIL NIL) ((\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"8bit\" 20 1)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 21 1) \"alternative\") 21) \"mixed\")";

#[test]
fn matches_dovecot_bodystructure() {
    assert_eq!(bs(DOVECOT_MSG, true), DOVECOT_BODYSTRUCTURE);
    assert_eq!(bs(DOVECOT_MSG, false), DOVECOT_BODY);
    // Same answer from CRLF input.
    let crlf = to_crlf(DOVECOT_MSG);
    assert_eq!(bs(&crlf, true), DOVECOT_BODYSTRUCTURE);
    let p = ParsedMessage::new(DOVECOT_MSG);
    assert_eq!(
        String::from_utf8(p.body_structure(true).to_imap()).unwrap(),
        DOVECOT_BODYSTRUCTURE
    );
    assert_eq!(p.rfc822_size(), crlf.len() as u64);
}

#[test]
fn rfc3501_style_mixed() {
    // The shape of the two-part example of RFC 3501 §7.4.2 (types as written, names lower-cased).
    let mut text = String::new();
    for i in 0..23 {
        text.push_str(&format!("line {i:02}\n"));
    }
    let mut attach = String::new();
    for _ in 0..73 {
        attach.push_str("QUJD\n");
    }
    let msg = format!(
        "MIME-Version: 1.0\nContent-Type: MULTIPART/MIXED; BOUNDARY=\"x\"\n\n--x\n\
         Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\n\n{text}\n--x\n\
         Content-Type: TEXT/PLAIN; CHARSET=US-ASCII; NAME=cc.diff\n\
         Content-ID: <960723163407.20117h@cac.washington.edu>\n\
         Content-Description: Compiler diff\nContent-Transfer-Encoding: BASE64\n\n{attach}\n--x--\n"
    );
    assert_eq!(
        bs(msg.as_bytes(), false),
        "((\"TEXT\" \"PLAIN\" (\"charset\" \"US-ASCII\") NIL NIL \"7bit\" 207 23)\
         (\"TEXT\" \"PLAIN\" (\"charset\" \"US-ASCII\" \"name\" \"cc.diff\") \
         \"<960723163407.20117h@cac.washington.edu>\" \"Compiler diff\" \"BASE64\" 438 73) \"MIXED\")"
    );
}

#[test]
fn no_content_type_and_eight_bit() {
    let msg = "Subject: \u{4e2d}\u{6587}\nFrom: a@b\n\nline one\nline two\n".as_bytes();
    assert_eq!(
        bs(msg, true),
        "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 20 2 NIL NIL NIL NIL)"
    );
    // Content-* without MIME-Version or Content-Type do not count at the top.
    let msg = b"Content-Transfer-Encoding: base64\nContent-ID: <x>\n\nQUJD\n";
    assert_eq!(
        bs(msg, false),
        "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1)"
    );
    let env = envelope(b"Subject: \xb2\xe2\xca\xd4\n\n");
    assert_eq!(
        String::from_utf8_lossy(&env.to_imap()),
        String::from_utf8_lossy(b"(NIL {4}\r\n\xb2\xe2\xca\xd4 NIL NIL NIL NIL NIL NIL NIL NIL)")
    );
}

#[test]
fn broken_boundaries() {
    // The boundary never occurs: one empty text part, as Dovecot writes.
    let msg = b"Content-Type: multipart/mixed; boundary=zz\n\nno parts here\n";
    assert_eq!(
        bs(msg, true),
        "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\" (\"boundary\" \"zz\") NIL NIL NIL)"
    );
    // No boundary parameter: a basic part.
    let msg = b"Content-Type: multipart/mixed\n\n--zz\n\nx\n";
    assert_eq!(
        bs(msg, false),
        "(\"multipart\" \"mixed\" NIL NIL NIL \"7bit\" 11)"
    );
    // Missing close delimiters, nested.
    let msg = b"Content-Type: multipart/mixed; boundary=a\n\n--a\nContent-Type: multipart/alternative; boundary=b\n\n--b\n\none\n--a\n\ntwo\n";
    assert_eq!(
        bs(msg, false),
        "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0) \"alternative\")\
         (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 1) \"mixed\")"
    );
}

#[test]
fn message_rfc822_in_multipart() {
    let msg = b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\nintro\n--b\nContent-Type: message/rfc822\nContent-Disposition: attachment; filename*=utf-8''%E4%B8%AD.eml\n\nFrom: \"Li, Si\" <li@x.cn>\nSubject: =?GBK?B?suLK1A==?=\nTo: team: a@x, b@y;\n\nhi\n--b--\n";
    let s = bs(msg, true);
    assert_eq!(
        s,
        "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0 NIL NIL NIL NIL)\
         (\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 80 \
         (NIL \"=?GBK?B?suLK1A==?=\" ((\"Li, Si\" NIL \"li\" \"x.cn\")) ((\"Li, Si\" NIL \"li\" \"x.cn\")) \
         ((\"Li, Si\" NIL \"li\" \"x.cn\")) ((NIL NIL \"team\" NIL)(NIL NIL \"a\" \"x\")(NIL NIL \"b\" \"y\")(NIL NIL NIL NIL)) \
         NIL NIL NIL NIL) \
         (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 2 0 NIL NIL NIL NIL) 4 \
         NIL (\"attachment\" (\"filename*\" \"utf-8''%E4%B8%AD.eml\")) NIL NIL) \
         \"mixed\" (\"boundary\" \"b\") NIL NIL NIL)"
    );
}

#[test]
fn nested_mixed_alternative_related() {
    let msg = b"Content-Type: multipart/mixed; boundary=m\n\n--m\n\
Content-Type: multipart/alternative; boundary=a\n\n--a\n\
Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\nhi=\n there\n--a\n\
Content-Type: multipart/related; boundary=r; type=\"text/html\"\n\n--r\n\
Content-Type: text/html; charset=utf-8\n\n<img src=cid:i>\n--r\n\
Content-Type: image/gif\nContent-ID: <i>\nContent-Transfer-Encoding: base64\n\nR0lGODlh\n--r--\n--a--\n--m\n\
Content-Type: application/pdf; name=x.pdf\nContent-Disposition: attachment\n\nPDF\n--m--\n";
    assert_eq!(
        bs(msg, false),
        "(((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printable\" 11 1)\
         ((\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 15 0)\
         (\"image\" \"gif\" NIL \"<i>\" NIL \"base64\" 8) \"related\") \"alternative\")\
         (\"application\" \"pdf\" (\"name\" \"x.pdf\") NIL NIL \"7bit\" 3) \"mixed\")"
    );
    assert_eq!(
        section(msg, &"1.2.2".parse().unwrap()).unwrap(),
        b"R0lGODlh"
    );
    assert_eq!(
        section(msg, &"1.2.MIME".parse().unwrap()).unwrap(),
        b"Content-Type: multipart/related; boundary=r; type=\"text/html\"\r\n\r\n"
    );
}

#[test]
fn too_deep_messages_are_opaque() {
    let mut msg = Vec::new();
    for _ in 0..60 {
        msg.extend_from_slice(b"Content-Type: message/rfc822\n\n");
    }
    msg.extend_from_slice(b"Subject: bottom\n\nend\n");
    let s = bs(&msg, true);
    assert!(s.contains("(\"application\" \"octet-stream\" NIL NIL NIL \"7bit\" "));
    assert_eq!(s.matches("\"rfc822\"").count(), super::tree::MAX_DEPTH);
    let p = ParsedMessage::new(&msg);
    check_sizes(&p, &p.body_structure(false), &[]);
}

/// Checks, for every non-multipart entity of a BODYSTRUCTURE, that its size equals the length
/// of `BODY[number]` and its line count the number of LFs in it.
fn check_sizes(p: &ParsedMessage, bs: &BodyStructure, number: &[u32]) {
    match bs {
        BodyStructure::Multipart { bodies, .. } => {
            let Some(first) = bodies.first() else { return };
            // Dovecot's stand-in for an empty multipart has no section.
            if bodies.len() == 1 {
                let mut n = number.to_vec();
                n.push(1);
                if p.section(&Section {
                    part: n,
                    text: None,
                })
                .is_none()
                {
                    let _ = first;
                    return;
                }
            }
            for (k, b) in bodies.iter().enumerate() {
                let mut n = number.to_vec();
                n.push(k as u32 + 1);
                check_sizes(p, b, &n);
            }
        }
        BodyStructure::Single { body, .. } => {
            let n = if number.is_empty() {
                vec![1]
            } else {
                number.to_vec()
            };
            let data = p
                .section(&Section {
                    part: n.clone(),
                    text: None,
                })
                .unwrap_or_default();
            assert_eq!(body.size as usize, data.len(), "size of {n:?}");
            let lfs = data.iter().filter(|&&b| b == b'\n').count() as u32;
            match &body.specific {
                Specific::Text { lines } => assert_eq!(*lines, lfs, "lines of {n:?}"),
                Specific::Message {
                    body: inner, lines, ..
                } => {
                    assert_eq!(*lines, lfs, "lines of {n:?}");
                    match inner.as_ref() {
                        BodyStructure::Multipart { .. } => check_sizes(p, inner, &n),
                        BodyStructure::Single { .. } => {
                            let mut m = n.clone();
                            m.push(1);
                            check_sizes(p, inner, &m);
                        }
                    }
                }
                Specific::Basic => {}
            }
        }
    }
}

#[test]
fn sizes_agree_with_sections() {
    for msg in [DOVECOT_MSG, &to_crlf(DOVECOT_MSG)[..]] {
        let p = ParsedMessage::new(msg);
        check_sizes(&p, &p.body_structure(false), &[]);
    }
}

const SPECS: &[&str] = &[
    "",
    "HEADER",
    "TEXT",
    "1",
    "1.MIME",
    "2",
    "2.1",
    "2.HEADER",
    "2.TEXT",
    "1.2.3",
    "3.1.1",
    "2.HEADER.FIELDS (Subject From)",
    "HEADER.FIELDS.NOT (To)",
    "2.1.MIME",
];

fn exercise(input: &[u8]) {
    let p = ParsedMessage::new(input);
    let e = p.envelope();
    let _ = e.to_imap();
    let b = p.body_structure(true);
    let _ = b.to_imap();
    check_sizes(&p, &p.body_structure(false), &[]);
    for s in SPECS {
        let spec: Section = s.parse().unwrap();
        let _ = p.section(&spec);
    }
    assert_eq!(p.section(&Section::default()).unwrap(), to_crlf(input));
    let mut m = OwnedMessage {
        seq: 1,
        uid: 1,
        max_seq: 1,
        max_uid: 1,
        flags: Flags::default(),
        keywords: Vec::new(),
        internal_date: chrono::DateTime::from_timestamp(0, 0)
            .unwrap()
            .fixed_offset(),
        bytes: input.to_vec(),
    };
    for key in [
        SearchKey::Text("测试".into()),
        SearchKey::SentOn(chrono::NaiveDate::from_ymd_opt(2024, 3, 22).unwrap()),
        SearchKey::Header("content-type".into(), "".into()),
    ] {
        let _ = matches(&key, &mut m);
    }
}

#[test]
fn hostile_input_does_not_panic() {
    let templates: Vec<Vec<u8>> = vec![
        DOVECOT_MSG.to_vec(),
        to_crlf(DOVECOT_MSG),
        b"Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: one\n\nfirst\n--d\nContent-Type: message/rfc822\n\n--d--\n".to_vec(),
        b"Content-Type: message/rfc822\n\nContent-Type: multipart/mixed; boundary=q\n\n--q\nContent-Type: message/rfc822\n\n--q--".to_vec(),
    ];
    const SPECIAL: &[u8] = b"-\n\r:;=\"<>()@,\t boundary";
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let rounds: usize = std::env::var("RMAIL_FUZZ_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    for round in 0..rounds {
        let mut input = templates[round % templates.len()].clone();
        for _ in 0..rng.below(12) {
            let pos = rng.below(input.len() + 1);
            match rng.below(4) {
                0 if !input.is_empty() => {
                    let end = (pos + rng.below(20)).min(input.len());
                    input.drain(pos.min(end)..end);
                }
                1 => input.insert(pos, SPECIAL[rng.below(SPECIAL.len())]),
                2 => {
                    let len = rng.below(30);
                    let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                    input.splice(pos..pos, bytes);
                }
                _ => {
                    let chunk: Vec<u8> = input[pos.saturating_sub(40)..pos].to_vec();
                    input.splice(pos..pos, chunk);
                }
            }
        }
        exercise(&input);
    }
    // Pure noise.
    for _ in 0..100 {
        let len = rng.below(300);
        let input: Vec<u8> = (0..len)
            .map(|_| SPECIAL[rng.below(SPECIAL.len())])
            .collect();
        exercise(&input);
    }
}
