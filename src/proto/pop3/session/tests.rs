//! Session tests beyond the golden transcripts: misuse of the driving API, the bounds on
//! buffered input, and hostile input.

use super::super::*;
use super::{State, SASL_LINE_MAX};
use crate::testutil::Rng;

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.write).into_owned()
}

fn session() -> Session {
    let mut p = Params::new();
    p.tls_offered = true;
    p.plaintext_auth = true;
    Session::new(p)
}

fn messages(n: usize) -> Vec<MsgInfo> {
    (0..n)
        .map(|i| MsgInfo {
            size: 10,
            uid: format!("u{i}"),
        })
        .collect()
}

/// A session in TRANSACTION with `n` messages.
fn logged_in(n: usize) -> Session {
    let mut s = session();
    let out = s.feed(b"USER u\r\nPASS p\r\n");
    assert!(matches!(out.action, Some(Action::Authenticate { .. })));
    let out = s.auth_result(Some("u".into()));
    assert_eq!(out.action, Some(Action::OpenMaildrop { user: "u".into() }));
    s.maildrop_opened(Ok(messages(n)));
    assert_eq!(s.user(), Some("u"));
    s
}

#[test]
fn results_outside_their_action_are_ignored() {
    let mut s = session();
    assert_eq!(s.auth_result(Some("x".into())), Output::default());
    assert_eq!(s.maildrop_opened(Ok(messages(1))), Output::default());
    assert_eq!(s.fetched(Ok(b"x".to_vec())), Output::default());
    assert_eq!(s.update_result(Ok(())), Output::default());
    s.tls_started();
    assert!(!s.tls_active());
    assert_eq!(s.user(), None);
    let out = s.feed(b"CAPA\r\n");
    assert!(text(&out).contains("\r\nSTLS\r\n"));
}

#[test]
fn a_closed_session_keeps_saying_close() {
    let mut s = session();
    let out = s.feed(b"QUIT\r\nNOOP\r\n");
    assert_eq!(text(&out), "+OK Logging out.\r\n");
    assert_eq!(out.action, Some(Action::Close));
    assert!(s.is_closed());
    for out in [
        s.feed(b"NOOP\r\n"),
        s.auth_result(None),
        s.fetched(Ok(Vec::new())),
        s.update_result(Ok(())),
    ] {
        assert_eq!((out.write.len(), out.action), (0, Some(Action::Close)));
    }
}

#[test]
fn stls_drops_input_fed_while_pending() {
    let mut s = session();
    let out = s.feed(b"STLS\r\nUSER evil\r\n");
    assert_eq!(out.action, Some(Action::StartTls));
    assert_eq!(s.feed(b"PASS evil\r\n"), Output::default());
    s.tls_started();
    assert!(s.tls_active());
    let out = s.feed(b"PASS p\r\n");
    assert_eq!(text(&out), "-ERR No username given.\r\n");
}

#[test]
fn too_much_input_while_an_action_is_pending_closes() {
    let mut s = logged_in(1);
    let out = s.feed(b"RETR 1\r\n");
    assert_eq!(
        out.action,
        Some(Action::Fetch {
            index: 0,
            top_lines: None
        })
    );
    assert_eq!(s.feed(&[b'x'; 1000]), Output::default());
    let out = s.feed(&vec![b'x'; MAX_PENDING_INPUT]);
    assert_eq!(out.action, Some(Action::Close));
    assert_eq!(text(&out), "-ERR Too much pipelined input.\r\n");
    assert!(s.is_closed());
}

#[test]
fn input_fed_during_an_action_is_answered_after_it() {
    let mut s = logged_in(2);
    let out = s.feed(b"RETR 2\r\nST");
    assert!(matches!(out.action, Some(Action::Fetch { index: 1, .. })));
    assert_eq!(s.feed(b"AT\r\nDELE 1\r\n"), Output::default());
    let out = s.fetched(Ok(b"a\n".to_vec()));
    assert_eq!(
        text(&out),
        "+OK 3 octets\r\na\r\n.\r\n+OK 2 20\r\n+OK message 1 deleted\r\n"
    );
    let out = s.feed(b"QUIT\r\n");
    assert_eq!(out.action, Some(Action::Update { deleted: vec![0] }));
}

#[test]
fn the_password_is_not_in_debug_output() {
    let a = Action::Authenticate {
        user: "u".into(),
        password: "hunter2".into(),
    };
    let d = format!("{a:?}");
    assert!(d.contains("\"u\"") && !d.contains("hunter2"), "{d}");
}

#[test]
fn io_replies_are_always_errors() {
    let mut s = logged_in(1);
    s.feed(b"RETR 1\r\n");
    let out = s.fetched(Err(Reply::ok("not really")));
    assert_eq!(text(&out), "-ERR not really\r\n");
}

const PIECES: &[&[u8]] = &[
    b"USER u\r\n",
    b"PASS p\r\n",
    b"USER u\nPASS p\n",
    b"AUTH PLAIN AHUAcA==\r\n",
    b"AUTH PLAIN\r\n",
    b"AHUAcA==\r\n",
    b"*\r\n",
    b"=\r\n",
    b"STLS\r\n",
    b"CAPA\r\n",
    b"STAT\r\n",
    b"LIST\r\n",
    b"LIST 1\r\n",
    b"UIDL\r\n",
    b"UIDL 2\r\n",
    b"RETR 1\r\n",
    b"RETR 3\r\n",
    b"TOP 2 0\r\n",
    b"TOP 1 99999999999999999999\r\n",
    b"DELE 1\r\n",
    b"DELE 2\r\n",
    b"RSET\r\n",
    b"NOOP\r\n",
    b"QUIT\r\n",
    b"\r\n",
    b"\r",
    b"\n",
    b"\x00\xff",
    b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
];

/// Drives a session with random input, answering its actions at random; `quit`: whether
/// QUIT may be sent (runs without it go deeper). Returns the number of messages fetched.
fn hostile_run(seed: u64, quit: bool) -> usize {
    let mut rng = Rng(seed);
    let mut fetched = 0;
    let mut p = Params::new();
    p.tls_offered = rng.below(2) == 0;
    p.tls_active = rng.below(4) == 0;
    p.plaintext_auth = rng.below(4) != 0;
    p.hard_error_limit = [0, 20][rng.below(2)];
    let mut s = Session::new(p);
    let count = rng.below(4);
    for _ in 0..300 {
        let mut input = Vec::new();
        for _ in 0..rng.below(8) {
            match rng.below(8) {
                0 => {
                    let max = if rng.below(10) == 0 { 20_000 } else { 600 };
                    let n = rng.below(max);
                    input.extend((0..n).map(|_| rng.next() as u8));
                }
                _ => {
                    let piece = PIECES[rng.below(PIECES.len())];
                    if quit || piece != b"QUIT\r\n" {
                        input.extend_from_slice(piece);
                    }
                }
            }
        }
        let mut out = s.feed(&input);
        loop {
            match out.action.take() {
                None | Some(Action::Close) => break,
                Some(Action::StartTls) => {
                    s.tls_started();
                    break;
                }
                Some(Action::Authenticate { user, password }) => {
                    assert!(!user.is_empty() && !password.is_empty());
                    out = s.auth_result((rng.below(3) != 0).then_some(user));
                }
                Some(Action::OpenMaildrop { .. }) => {
                    out = s.maildrop_opened(match rng.below(8) {
                        0 => Err(Reply::err(Some(RespCode::InUse), "locked")),
                        _ => Ok(messages(count)),
                    });
                }
                Some(Action::Fetch { index, .. }) => {
                    assert!(index < count);
                    fetched += 1;
                    let content: Vec<u8> = (0..rng.below(300))
                        .map(|_| b"ab.\r\n"[rng.below(5)])
                        .collect();
                    out = s.fetched(Ok(content));
                    // Every line of a multi-line answer ends in CRLF; it ends with ".".
                    let w = &out.write;
                    if w.starts_with(b"+OK") {
                        assert!(w.windows(5).any(|x| x == b"\r\n.\r\n"));
                    }
                }
                Some(Action::Update { deleted }) => {
                    assert!(deleted.windows(2).all(|w| w[0] < w[1]));
                    assert!(deleted.iter().all(|&i| i < count));
                    out = s.update_result(Ok(()));
                }
            }
        }
        // Bounded memory: at most one partial line stays buffered.
        assert!(s.input.len() <= SASL_LINE_MAX, "buffer {}", s.input.len());
        if let State::Transaction(m) = &s.state {
            assert_eq!(m.entries.len(), count);
        }
        if s.is_closed() {
            break;
        }
    }
    fetched
}

#[test]
fn hostile_input_does_not_panic_and_stays_bounded() {
    let mut fetched = 0;
    for seed in 1..200u64 {
        let seed = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        hostile_run(seed, true);
        fetched += hostile_run(seed, false);
    }
    assert!(fetched > 50, "the runs should reach TRANSACTION: {fetched}");
}

/// A login accepted here and continued in another process: commands after PASS travel
/// with the hand-over and are answered there after `+OK maildrop has …`.
#[test]
fn hand_over_and_resume() {
    let mut s = session();
    let out = s.feed(b"USER u\r\nPASS p\r\nSTAT\r\n");
    assert!(matches!(out.action, Some(Action::Authenticate { .. })));
    let out = s.auth_result(Some("u".into()));
    assert_eq!(out.action, Some(Action::OpenMaildrop { user: "u".into() }));
    let h = s.hand_over().expect("an open is outstanding");
    assert!(s.is_closed());
    assert_eq!(
        (h.user.as_str(), h.pending.as_slice()),
        ("u", &b"STAT\r\n"[..])
    );
    let mut p = Params::new();
    p.plaintext_auth = true;
    let mut r = Session::resume(p, h);
    let out = r.maildrop_opened(Ok(messages(2)));
    assert_eq!(
        text(&out),
        "+OK maildrop has 2 messages (20 octets)\r\n+OK 2 20\r\n"
    );
    assert!(session().hand_over().is_none());
}
