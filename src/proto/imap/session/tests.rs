//! Session tests beyond the golden transcripts: caps, hostile input, store events.

use super::super::memstore::{Mem, MemStore, Shared};
use super::super::*;
use crate::testutil::Rng;

/// A session logged in as `joe` over `mem`, INBOX selected.
fn selected(mem: &Shared) -> Session {
    let mut p = Params::new();
    p.plaintext_auth = true;
    let mut s = Session::new(p);
    let out = s.feed(b"a LOGIN joe secret\r\n");
    assert!(matches!(out.action, Some(Action::Authenticate { .. })));
    let out = s.auth_result(Some("joe".into()));
    assert_eq!(out.action, Some(Action::LoggedIn { user: "joe".into() }));
    let out = s.store_opened(Ok(Box::new(MemStore(mem.clone()))));
    assert!(out.write.starts_with(b"a OK [CAPABILITY "));
    let out = s.feed(b"b SELECT INBOX\r\n");
    assert!(out
        .write
        .ends_with(b"b OK [READ-WRITE] Select completed.\r\n"));
    s
}

fn mem_with(n: usize) -> Shared {
    let mem = Mem::new();
    {
        let mut m = mem.lock().unwrap();
        for k in 0..n {
            let body = format!(
                "From: u{k}@example.org\nSubject: msg {k}\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n--b--\n"
            );
            m.deliver("INBOX", body.as_bytes(), Flags::default(), &[], None);
        }
    }
    mem
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.write).into_owned()
}

#[test]
fn overlong_line_closes() {
    let mem = mem_with(1);
    let mut s = selected(&mem);
    let out = s.feed(&vec![b'a'; LINE_MAX + 10]);
    assert_eq!(text(&out), "* BYE [TOOBIG] Line too long.\r\n");
    assert_eq!(out.action, Some(Action::Close));
    assert!(s.is_closed());
    assert_eq!(s.feed(b"x NOOP\r\n").action, Some(Action::Close));
}

#[test]
fn pending_input_is_capped() {
    let mut p = Params::new();
    p.plaintext_auth = true;
    let mut s = Session::new(p);
    let out = s.feed(b"a LOGIN joe secret\r\n");
    assert!(out.action.is_some());
    let chunk = vec![b'x'; 64 * 1024];
    let mut closed = false;
    for _ in 0..20 {
        let out = s.feed(&chunk);
        if out.action == Some(Action::Close) {
            assert!(text(&out).starts_with("* BYE Too much pipelined input."));
            closed = true;
            break;
        }
    }
    assert!(closed);
}

#[test]
fn deep_nesting_and_big_numbers_do_not_panic() {
    let mem = mem_with(2);
    let mut s = selected(&mem);
    let deep = format!(
        "c SEARCH {}ALL{}\r\n",
        "(".repeat(20_000),
        ")".repeat(20_000)
    );
    assert!(text(&s.feed(deep.as_bytes())).ends_with("c BAD Error in IMAP command.\r\n"));
    let nots = format!("d SEARCH {}ALL\r\n", "NOT ".repeat(10_000));
    assert!(text(&s.feed(nots.as_bytes())).ends_with("d BAD Error in IMAP command.\r\n"));
    let out = s.feed(b"e FETCH 1:* BODY.PEEK[]<4294967295.4294967295>\r\n");
    assert!(
        text(&out).contains("BODY[]<4294967295> {0}\r\n"),
        "{}",
        text(&out)
    );
    let out = s.feed(b"f FETCH 4294967295 FLAGS\r\n");
    assert_eq!(text(&out), "f BAD Invalid messageset.\r\n");
    let out = s.feed(b"g UID FETCH 4294967295:* FLAGS\r\n");
    assert!(text(&out).ends_with("g OK Fetch completed.\r\n"));
    let out = s.feed(b"h FETCH 1 BODY.PEEK[1.2.3.4.5.6.7.8.9.10.MIME]\r\n");
    assert!(text(&out).contains("BODY[1.2.3.4.5.6.7.8.9.10.MIME] \"\""));
}

#[test]
fn hostile_soup_never_panics() {
    const WORDS: &[&[u8]] = &[
        b"a",
        b"UID",
        b"FETCH",
        b"STORE",
        b"SEARCH",
        b"COPY",
        b"MOVE",
        b"EXPUNGE",
        b"APPEND",
        b"INBOX",
        b"1:*",
        b"*",
        b"0",
        b"4294967296",
        b"(",
        b")",
        b"[",
        b"]",
        b"BODY[1.2]",
        b"BODY.PEEK[HEADER.FIELDS (A)]",
        b"<0.1>",
        b"+FLAGS",
        b"(\\Seen)",
        b"{3}",
        b"{0+}",
        b"{99999999999}",
        b"\"",
        b"\\",
        b"\x00",
        b"\xff\xfe",
        b"IDLE",
        b"DONE",
        b"NOOP",
        b"LOGOUT",
        b"CHARSET",
        b"GBK",
        b"NOT",
        b"OR",
        b"AUTHENTICATE",
        b"PLAIN",
        b"=",
        b"SELECT",
        b"EXAMINE",
        b"CLOSE",
        b"UNSELECT",
        b"LIST",
        b"\"\"",
        b"%",
        b"STATUS",
        b"(MESSAGES)",
        b"ENABLE",
        b"ID",
        b"NIL",
        b"\r\n",
        b"\n",
        b"\r",
        b" ",
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..300 {
        let mem = mem_with(3);
        let mut s = selected(&mem);
        let mut input = Vec::new();
        for _ in 0..rng.below(200) {
            input.extend_from_slice(WORDS[rng.below(WORDS.len())]);
            if rng.below(3) == 0 {
                input.push(b' ');
            }
        }
        let mut fed = 0;
        while fed < input.len() {
            let n = 1 + rng.below(40);
            let end = (fed + n).min(input.len());
            let out = s.feed(&input[fed..end]);
            fed = end;
            assert!(out.write.len() < 1 << 20, "round {round}");
            match out.action {
                Some(Action::Close) | None => {}
                Some(other) => panic!("round {round}: unexpected {other:?}"),
            }
            if rng.below(5) == 0 {
                s.poll_changes();
            }
        }
    }
}

#[test]
fn uidvalidity_change_ends_the_session() {
    let mem = mem_with(1);
    let mut s = selected(&mem);
    mem.lock()
        .unwrap()
        .boxes
        .get_mut("INBOX")
        .unwrap()
        .uidvalidity += 1;
    let out = s.feed(b"c NOOP\r\n");
    assert_eq!(
        text(&out),
        "* BYE [UNAVAILABLE] Mailbox UIDVALIDITY changed, please reconnect.\r\n"
    );
    assert_eq!(out.action, Some(Action::Close));
}

#[test]
fn hangup_writes_pending_flags() {
    let mem = mem_with(2);
    let mut s = selected(&mem);
    let out = s.feed(b"c STORE 2 +FLAGS.SILENT (\\Flagged)\r\n");
    assert_eq!(text(&out), "c OK Store completed.\r\n");
    assert!(!mem.lock().unwrap().boxes["INBOX"].msgs[1].flags.flagged);
    s.hangup();
    assert!(mem.lock().unwrap().boxes["INBOX"].msgs[1].flags.flagged);
    assert!(s.is_closed());
}

#[test]
fn password_not_in_debug() {
    let a = Action::Authenticate {
        user: "joe".into(),
        password: "hunter2".into(),
    };
    assert!(!format!("{a:?}").contains("hunter2"));
}

#[test]
fn poll_outside_idle_is_silent() {
    let mem = mem_with(1);
    let mut s = selected(&mem);
    mem.lock()
        .unwrap()
        .deliver("INBOX", b"From: x\n\nnew\n", Flags::default(), &[], None);
    assert_eq!(s.poll_changes(), Output::default());
    let out = s.feed(b"c IDLE\r\n");
    assert_eq!(text(&out), "+ idling\r\n* 2 EXISTS\r\n* 2 RECENT\r\n");
    assert!(s.is_idling());
    assert_eq!(s.poll_changes(), Output::default());
}

/// A login accepted here and continued in another process (privilege separation): the
/// pipelined command after LOGIN travels with the hand-over and is answered there, after
/// the login's OK.
#[test]
fn hand_over_and_resume() {
    let mut p = Params::new();
    p.plaintext_auth = true;
    let mut s = Session::new(p.clone());
    let out = s.feed(b"a LOGIN joe secret\r\nb NOOP\r\n");
    assert!(matches!(out.action, Some(Action::Authenticate { .. })));
    let out = s.auth_result(Some("joe".into()));
    assert_eq!(out.action, Some(Action::LoggedIn { user: "joe".into() }));
    let h = s.hand_over().expect("a login is outstanding");
    assert!(s.is_closed());
    assert_eq!((h.user.as_str(), h.tag.as_str()), ("joe", "a"));
    assert_eq!(h.pending, b"b NOOP\r\n");
    let mut r = Session::resume(p, h);
    let out = r.store_opened(Ok(Box::new(MemStore(mem_with(1)))));
    let text = String::from_utf8_lossy(&out.write);
    assert!(text.starts_with("a OK [CAPABILITY "), "{text}");
    assert!(text.contains("\r\nb OK"), "{text}");
    // Nothing to hand over outside a pending login.
    assert!(Session::new(Params::new()).hand_over().is_none());
}

#[test]
fn rev2_and_search_return_soup_never_panics() {
    const WORDS: &[&[u8]] = &[
        b"a",
        b"UID",
        b"SEARCH",
        b"RETURN",
        b"(MIN",
        b"MAX)",
        b"(",
        b")",
        b"()",
        b"COUNT",
        b"ALL",
        b"SAVE",
        b"MIN",
        b"CHARSET",
        b"UTF-8",
        b"ENABLE",
        b"IMAP4rev2",
        b"imap4REV2",
        b"SELECT",
        b"EXAMINE",
        b"STATUS",
        b"(DELETED RECENT MESSAGES)",
        b"LIST",
        b"CREATE",
        b"\"\"",
        b"*",
        b"INBOX",
        b"&",
        b"&-",
        b"&ZeV",
        b"&ZeVnLIqe-",
        b"&2D0-",
        b"\"&AP",
        b"{3}",
        b"{2+}",
        b"\xc3\xbc",
        b"\xff",
        b"1:*",
        b"FETCH",
        b"(FLAGS)",
        b"(BINARY[1] BINARY.SIZE[2])",
        b"BINARY.PEEK[1]<0.3>",
        b"BINARY[]",
        b"~{3+}",
        b"~{2}",
        b"APPEND",
        b"STORE",
        b"+FLAGS",
        b"(\\Seen)",
        b"NOOP",
        b"\r\n",
        b" ",
    ];
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for round in 0..300 {
        let mem = mem_with(3);
        let mut s = selected(&mem);
        let mut input = Vec::new();
        if round % 2 == 0 {
            input.extend_from_slice(b"e ENABLE IMAP4rev2\r\n");
        }
        for _ in 0..rng.below(200) {
            input.extend_from_slice(WORDS[rng.below(WORDS.len())]);
            if rng.below(3) == 0 {
                input.push(b' ');
            }
        }
        let mut fed = 0;
        while fed < input.len() {
            let n = 1 + rng.below(40);
            let end = (fed + n).min(input.len());
            let out = s.feed(&input[fed..end]);
            fed = end;
            assert!(out.write.len() < 1 << 20, "round {round}");
            match out.action {
                Some(Action::Close) | None => {}
                Some(other) => panic!("round {round}: unexpected {other:?}"),
            }
        }
        if round % 2 == 0 {
            // After ENABLE IMAP4rev2 nothing reports \Recent or RECENT.
            let out = s.feed(b"z1 FETCH 1:* (FLAGS)\r\nz2 NOOP\r\n");
            let t = text(&out);
            assert!(!t.contains("Recent") && !t.contains("RECENT"), "{t}");
        }
    }
}

#[test]
fn enable_rev2_changes_search_and_flags() {
    let mem = mem_with(3);
    let mut s = selected(&mem);
    let t = text(&s.feed(b"a SEARCH ALL\r\nb FETCH 1 (FLAGS)\r\n"));
    assert!(t.contains("* SEARCH 1 2 3\r\n"), "{t}");
    let t =
        text(&s.feed(b"c ENABLE IMAP4rev2\r\nd SEARCH ALL\r\ne UID SEARCH RETURN (COUNT) 9\r\n"));
    assert!(t.contains("* ENABLED IMAP4rev2\r\n"), "{t}");
    assert!(t.contains("* ESEARCH (TAG \"d\") ALL 1:3\r\n"), "{t}");
    assert!(t.contains("* ESEARCH (TAG \"e\") UID COUNT 0\r\n"), "{t}");
    // A bad RETURN is answered with the command's tag, once.
    let t = text(&s.feed(b"f SEARCH RETURN (MIN MIN ALL\r\n"));
    assert_eq!(t, "f BAD Invalid SEARCH RETURN options.\r\n");
}
