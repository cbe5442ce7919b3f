use std::cell::Cell;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone};

use super::*;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn internal(y: i32, m: u32, d: u32, h: u32, off_hours: i32) -> DateTime<FixedOffset> {
    FixedOffset::east_opt(off_hours * 3600)
        .unwrap()
        .with_ymd_and_hms(y, m, d, h, 0, 0)
        .unwrap()
}

fn msg(bytes: &[u8]) -> OwnedMessage {
    OwnedMessage {
        seq: 3,
        uid: 42,
        max_seq: 10,
        max_uid: 100,
        flags: Flags::default(),
        keywords: vec!["$Forwarded".into()],
        internal_date: internal(2024, 3, 22, 23, 8),
        bytes: bytes.to_vec(),
    }
}

fn m(key: &SearchKey, bytes: &[u8]) -> bool {
    matches(key, &mut msg(bytes))
}

fn s(x: &str) -> String {
    x.to_owned()
}

// "测试" in GBK is B2 E2 CA D4; base64 "suLK1A==".
const GBK_SUBJECT: &[u8] = b"From: =?gb2312?B?1cXI/Q==?= <zhang@example.cn>\n\
To: \"Li, Si\" <li@example.cn>, team: w@x;\n\
Subject: =?GBK?B?suLK1A==?= report\n\
Date: Fri, 1 Mar 2024 10:00:00 +0800\n\
X-Empty:\n\
\n\
plain body text\n";

#[test]
fn gbk_subject_with_utf8_needle() {
    assert!(m(&SearchKey::Subject(s("测试")), GBK_SUBJECT));
    assert!(m(&SearchKey::Subject(s("测")), GBK_SUBJECT));
    assert!(m(&SearchKey::Subject(s("REPORT")), GBK_SUBJECT));
    assert!(!m(&SearchKey::Subject(s("试验")), GBK_SUBJECT));
    // The From name "张三" is GB2312-encoded.
    assert!(m(&SearchKey::From(s("张三")), GBK_SUBJECT));
    assert!(m(&SearchKey::From(s("ZHANG@example")), GBK_SUBJECT));
    assert!(m(&SearchKey::To(s("li, si")), GBK_SUBJECT));
    assert!(m(&SearchKey::To(s("w@x")), GBK_SUBJECT));
    assert!(!m(&SearchKey::Cc(s("")), GBK_SUBJECT));
    assert!(!m(&SearchKey::Bcc(s("li")), GBK_SUBJECT));
    // The search string itself sent in GBK with CHARSET.
    let needle = search_string(b"\xb2\xe2\xca\xd4", Some("GBK")).unwrap();
    assert!(m(&SearchKey::Subject(needle), GBK_SUBJECT));
}

#[test]
fn header_key() {
    assert!(m(&SearchKey::Header(s("x-empty"), s("")), GBK_SUBJECT));
    assert!(!m(&SearchKey::Header(s("x-missing"), s("")), GBK_SUBJECT));
    assert!(m(&SearchKey::Header(s("DATE"), s("mar 2024")), GBK_SUBJECT));
    assert!(!m(&SearchKey::Header(s("x-empty"), s("a")), GBK_SUBJECT));
}

#[test]
fn body_and_text_decoded() {
    // "这是一个测试" in UTF-8, base64.
    let b64 = b"Content-Type: text/plain; charset=utf-8\n\
Content-Transfer-Encoding: base64\n\
Subject: hello\n\
\n\
6L+Z5piv5LiA5Liq5rWL6K+V\n";
    assert!(m(&SearchKey::Body(s("测试")), b64));
    assert!(!m(&SearchKey::Body(s("hello")), b64));
    assert!(m(&SearchKey::Text(s("hello")), b64));
    assert!(m(&SearchKey::Text(s("一个")), b64));
    assert!(!m(&SearchKey::Body(s("6L+Z")), b64));
    // GBK, quoted-printable, inside a multipart; an attachment's name in a MIME header.
    let multi = b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\
Content-Type: text/plain; charset=gb2312\n\
Content-Transfer-Encoding: quoted-printable\n\n\
=B2=E2=CA=D4 Caf=\n\xc3\xa9\n\
--b\n\
Content-Type: application/octet-stream; name=\"=?utf-8?B?5oql5ZGK?=.bin\"\n\
Content-Transfer-Encoding: base64\n\n\
U2VjcmV0IFdvcmQ=\n\
--b--\n";
    assert!(m(&SearchKey::Body(s("测试")), multi));
    assert!(m(&SearchKey::Body(s("secret word")), multi));
    assert!(!m(&SearchKey::Body(s("报告")), multi));
    assert!(m(&SearchKey::Text(s("报告.bin")), multi));
    // An encapsulated message's body is part of BODY; its header only of TEXT.
    let fwd = b"Content-Type: message/rfc822\n\nSubject: inner subject\n\ninner words\n";
    assert!(m(&SearchKey::Body(s("INNER WORDS")), fwd));
    assert!(!m(&SearchKey::Body(s("inner subject")), fwd));
    assert!(m(&SearchKey::Text(s("inner subject")), fwd));
    // Broken multipart: the text is still found.
    let broken = b"Content-Type: multipart/mixed; boundary=nope\n\nlost text\n";
    assert!(m(&SearchKey::Body(s("lost text")), broken));
}

#[test]
fn flags_and_keywords() {
    let mut x = msg(b"A: b\n\n");
    x.flags = Flags {
        seen: false,
        recent: true,
        flagged: true,
        ..Flags::default()
    };
    assert!(matches(&SearchKey::New, &mut x));
    assert!(!matches(&SearchKey::Old, &mut x));
    assert!(matches(&SearchKey::Flagged, &mut x));
    assert!(matches(&SearchKey::Unseen, &mut x));
    assert!(matches(&SearchKey::Undeleted, &mut x));
    assert!(!matches(&SearchKey::Answered, &mut x));
    assert!(matches(&SearchKey::Unanswered, &mut x));
    assert!(matches(&SearchKey::Undraft, &mut x));
    assert!(!matches(&SearchKey::Unflagged, &mut x));
    assert!(matches(&SearchKey::Keyword(s("$forwarded")), &mut x));
    assert!(matches(&SearchKey::Unkeyword(s("Junk")), &mut x));
    x.flags.seen = true;
    assert!(!matches(&SearchKey::New, &mut x));
    assert!(matches(&SearchKey::Seen, &mut x));
}

#[test]
fn dates() {
    // Internal date 2024-03-22 23:00 +0800: its own calendar day counts.
    let b = b"Date: Fri, 1 Mar 2024 23:30:00 -0500\n\n";
    assert!(m(&SearchKey::On(date(2024, 3, 22)), b));
    assert!(m(&SearchKey::Before(date(2024, 3, 23)), b));
    assert!(!m(&SearchKey::Before(date(2024, 3, 22)), b));
    assert!(m(&SearchKey::Since(date(2024, 3, 22)), b));
    assert!(!m(&SearchKey::Since(date(2024, 3, 23)), b));
    assert!(m(&SearchKey::SentOn(date(2024, 3, 1)), b));
    assert!(m(&SearchKey::SentBefore(date(2024, 3, 2)), b));
    assert!(m(&SearchKey::SentSince(date(2024, 3, 1)), b));
    assert!(!m(&SearchKey::SentSince(date(2024, 3, 2)), b));
    // No or bad Date: the internal date stands in.
    assert!(m(
        &SearchKey::SentOn(date(2024, 3, 22)),
        b"Date: garbage\n\n"
    ));
    assert!(m(&SearchKey::SentOn(date(2024, 3, 22)), b"\n"));
}

#[test]
fn sizes_sets_and_logic() {
    let b = b"A: b\n\nxy\n"; // CRLF size 12
    assert!(m(&SearchKey::Larger(11), b));
    assert!(!m(&SearchKey::Larger(12), b));
    assert!(m(&SearchKey::Smaller(13), b));
    assert!(!m(&SearchKey::Smaller(12), b));
    let set = |x: &str| x.parse::<SequenceSet>().unwrap();
    assert!(m(&SearchKey::Uid(set("40:50")), b));
    assert!(!m(&SearchKey::Uid(set("43:*")), b));
    assert!(m(&SearchKey::Uid(set("*:42")), b));
    assert!(m(&SearchKey::SequenceSet(set("1,3")), b));
    assert!(!m(&SearchKey::SequenceSet(set("*")), b));
    let k = SearchKey::Or(
        Box::new(SearchKey::Seen),
        Box::new(SearchKey::Not(Box::new(SearchKey::Deleted))),
    );
    assert!(m(&k, b));
    assert!(m(&SearchKey::And(vec![]), b));
    assert!(!m(
        &SearchKey::And(vec![SearchKey::All, SearchKey::Deleted]),
        b
    ));
    assert!(m(&SearchKey::All, b));
}

/// Counts how often the bytes are asked for.
struct Lazy {
    inner: OwnedMessage,
    header_calls: Cell<u32>,
    message_calls: Cell<u32>,
}

impl SearchMessage for Lazy {
    fn seq(&self) -> u32 {
        self.inner.seq()
    }
    fn uid(&self) -> u32 {
        self.inner.uid()
    }
    fn max_seq(&self) -> u32 {
        self.inner.max_seq()
    }
    fn max_uid(&self) -> u32 {
        self.inner.max_uid()
    }
    fn flags(&self) -> Flags {
        self.inner.flags()
    }
    fn has_keyword(&self, k: &str) -> bool {
        self.inner.has_keyword(k)
    }
    fn internal_date(&self) -> DateTime<FixedOffset> {
        self.inner.internal_date()
    }
    fn size(&self) -> u64 {
        self.inner.size()
    }
    fn header(&mut self) -> Option<&[u8]> {
        self.header_calls.set(self.header_calls.get() + 1);
        let (h, _) = crate::message::header::header_end(&self.inner.bytes);
        Some(&self.inner.bytes[..h])
    }
    fn message(&mut self) -> Option<&[u8]> {
        self.message_calls.set(self.message_calls.get() + 1);
        None
    }
}

#[test]
fn header_keys_do_not_read_the_body() {
    let mut l = Lazy {
        inner: msg(GBK_SUBJECT),
        header_calls: Cell::new(0),
        message_calls: Cell::new(0),
    };
    let key = SearchKey::And(vec![
        SearchKey::Subject(s("测试")),
        SearchKey::From(s("zhang")),
        SearchKey::SentSince(date(2024, 1, 1)),
        SearchKey::Unseen,
    ]);
    assert!(matches(&key, &mut l));
    assert_eq!(l.message_calls.get(), 0);
    assert_eq!(l.header_calls.get(), 1);
    // Unreadable body: BODY does not match, NOT BODY does.
    assert!(!matches(&SearchKey::Body(s("plain")), &mut l));
    assert!(matches(
        &SearchKey::Not(Box::new(SearchKey::Body(s("plain")))),
        &mut l
    ));
}

#[test]
fn search_strings() {
    assert_eq!(
        search_string("测试".as_bytes(), Some("UTF-8")).unwrap(),
        "测试"
    );
    assert_eq!(search_string(b"abc", None).unwrap(), "abc");
    assert_eq!(search_string(b"abc", Some("us-ascii")).unwrap(), "abc");
    assert_eq!(
        search_string(b"\xb2\xe2\xca\xd4", Some("gb2312")).unwrap(),
        "测试"
    );
    assert_eq!(
        search_string(b"x", Some("x-nonsense")),
        Err(SearchError::BadCharset("x-nonsense".into()))
    );
}
