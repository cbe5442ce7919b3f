//! Session tests beyond the golden transcripts: misuse of the driving API, the bounds on
//! buffered input and stored content, and hostile input.

use super::super::*;
use super::{State, SASL_LINE_MAX};
use crate::testutil::Rng;

struct AcceptAll;

impl Policy for AcceptAll {
    fn check_recipient(&mut self, _: &str, _: &Context<'_>) -> Result<(), Reply> {
        Ok(())
    }
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.write).into_owned()
}

fn session() -> Session {
    let mut p = Params::new("mx.test");
    p.tls_offered = true;
    p.auth_enabled = true;
    p.message_size_limit = 4096;
    Session::new(p)
}

#[test]
fn results_outside_their_action_are_ignored() {
    let mut s = session();
    assert_eq!(
        s.auth_result(Some("x".into()), &mut AcceptAll),
        Output::default()
    );
    assert_eq!(
        s.delivery_result(Ok("Q".into()), &mut AcceptAll),
        Output::default()
    );
    s.tls_started();
    assert!(!s.tls_active());
    let out = s.feed(b"EHLO c\r\n", &mut AcceptAll);
    assert!(text(&out).contains("250-STARTTLS\r\n"));
}

#[test]
fn starttls_drops_input_fed_while_pending() {
    let mut s = session();
    let out = s.feed(b"EHLO c\r\nSTARTTLS\r\nMAIL FROM:<a@b>\r\n", &mut AcceptAll);
    assert_eq!(out.action, Some(Action::StartTls));
    assert!(text(&out).ends_with("220 2.0.0 Ready to start TLS\r\n"));
    assert_eq!(
        s.feed(b"RCPT TO:<x@y>\r\n", &mut AcceptAll),
        Output::default()
    );
    s.tls_started();
    assert!(s.tls_active());
    let out = s.feed(b"NOOP\r\n", &mut AcceptAll);
    assert_eq!(text(&out), "250 2.0.0 Ok\r\n");
}

#[test]
fn too_much_input_while_an_action_is_pending_closes() {
    let mut s = session();
    let out = s.feed(
        b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n.\r\n",
        &mut AcceptAll,
    );
    assert!(matches!(out.action, Some(Action::Deliver(_))));
    assert_eq!(s.feed(&[b'x'; 1000], &mut AcceptAll), Output::default());
    let out = s.feed(&vec![b'x'; MAX_PENDING_INPUT], &mut AcceptAll);
    assert_eq!(out.action, Some(Action::Close));
    assert_eq!(
        text(&out),
        "421 4.7.0 mx.test Error: too much pipelined input\r\n"
    );
    assert!(s.is_closed());
    let out = s.delivery_result(Ok("Q".into()), &mut AcceptAll);
    assert_eq!((out.write.len(), out.action), (0, Some(Action::Close)));
}

#[test]
fn pipelined_input_is_processed_after_the_answer() {
    let mut s = session();
    let out = s.feed(
        b"EHLO c\r\nAUTH PLAIN AHUAcA==\r\nMAIL FROM:<a@b>\r\nNOOP\r\n",
        &mut AcceptAll,
    );
    let Some(Action::Authenticate(c)) = out.action else {
        panic!("{out:?}")
    };
    assert_eq!((c.authcid.as_str(), c.password.as_str()), ("u", "p"));
    let out = s.auth_result(Some("u".into()), &mut AcceptAll);
    assert_eq!(
        text(&out),
        "235 2.7.0 Authentication successful\r\n250 2.1.0 Ok\r\n250 2.0.0 Ok\r\n"
    );
    assert_eq!(s.auth_user(), Some("u"));
}

#[test]
fn no_size_limit_advertises_bare_size_and_protocols_combine() {
    let mut p = Params::new("mx.test");
    p.message_size_limit = 0;
    p.tls_active = true;
    p.auth_enabled = true;
    let mut s = Session::new(p);
    let out = s.feed(b"EHLO c\r\nAUTH PLAIN AHUAcA==\r\n", &mut AcceptAll);
    assert!(text(&out).contains("250-SIZE\r\n"));
    s.auth_result(Some("u".into()), &mut AcceptAll);
    let out = s.feed(
        "MAIL FROM:<ü@b> SMTPUTF8\r\nRCPT TO:<c@d>\r\nDATA\r\n.\r\n".as_bytes(),
        &mut AcceptAll,
    );
    let Some(Action::Deliver(t)) = out.action else {
        panic!("{out:?}")
    };
    assert_eq!(t.protocol, "UTF8SMTPSA");
    assert_eq!(t.auth_user.as_deref(), Some("u"));
}

const PIECES: &[&[u8]] = &[
    b"EHLO c\r\n",
    b"HELO c\r\n",
    b"MAIL FROM:<a@b>\r\n",
    b"MAIL FROM:<a@b> BODY=BINARYMIME\r\n",
    b"RCPT TO:<c@d>\r\n",
    b"DATA\r\n",
    b"BDAT 5\r\n",
    b"BDAT 3 LAST\r\n",
    b"BDAT 99999999999999\r\n",
    b"BDAT x\r\n",
    b".\r\n",
    b"..\r\n",
    b"\r\n",
    b"\r",
    b"\n",
    b"STARTTLS\r\n",
    b"AUTH PLAIN\r\n",
    b"AUTH LOGIN\r\n",
    b"AHUAcA==\r\n",
    b"dQ==\r\n",
    b"*\r\n",
    b"RSET\r\n",
    b"NOOP\r\n",
    b"VRFY x\r\n",
    b"\x00\xff",
    b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
];

/// Drives a session with random input; `clean`: no bare CR/LF (which close at once), so
/// runs go deep. Returns the number of messages delivered.
fn hostile_run(seed: u64, clean: bool) -> usize {
    let mut rng = Rng(seed);
    let mut delivered = 0;
    let mut p = Params::new("mx.test");
    p.tls_offered = true;
    p.auth_enabled = true;
    p.binarymime = rng.below(2) == 0;
    p.message_size_limit = 1000;
    p.hard_error_limit = [0, 20][rng.below(2)];
    let mut s = Session::new(p);
    for _ in 0..300 {
        let mut input = Vec::new();
        for _ in 0..rng.below(8) {
            match rng.below(8) {
                0 => {
                    let n = rng.below(2000);
                    input.extend(
                        (0..n)
                            .map(|_| rng.next() as u8)
                            .filter(|b| !clean || (*b != b'\r' && *b != b'\n')),
                    );
                }
                1..=3 => {
                    // A whole transaction, by DATA or by BDAT, with random content.
                    input.extend_from_slice(b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n");
                    let content: Vec<u8> = (0..rng.below(1500))
                        .map(|_| b"ab.\r\n"[rng.below(if clean { 3 } else { 5 })])
                        .collect();
                    if rng.below(2) == 0 {
                        input.extend_from_slice(b"DATA\r\n");
                        for line in content.chunks(rng.below(100) + 1) {
                            input.extend_from_slice(line);
                            input.extend_from_slice(b"\r\n");
                        }
                        input.extend_from_slice(b".\r\n");
                    } else {
                        input.extend_from_slice(
                            format!("BDAT {} LAST\r\n", content.len()).as_bytes(),
                        );
                        input.extend_from_slice(&content);
                    }
                }
                _ => {
                    let piece = PIECES[rng.below(PIECES.len())];
                    let closes = matches!(
                        piece,
                        b"\r" | b"\n" | b"BDAT x\r\n" | b"BDAT 99999999999999\r\n"
                    );
                    if !clean || !closes {
                        input.extend_from_slice(piece);
                    }
                }
            }
        }
        let mut out = s.feed(&input, &mut AcceptAll);
        loop {
            match out.action.take() {
                None | Some(Action::Close) => break,
                Some(Action::StartTls) => {
                    s.tls_started();
                    break;
                }
                Some(Action::Authenticate(_)) => {
                    let user = (rng.below(2) == 0).then(|| "u".to_string());
                    out = s.auth_result(user, &mut AcceptAll);
                }
                Some(Action::Deliver(t)) => {
                    assert!(t.data.len() <= 1000);
                    assert!(!t.envelope.recipients.is_empty());
                    delivered += 1;
                    out = s.delivery_result(Ok("Q".into()), &mut AcceptAll);
                }
            }
        }
        // Bounded memory: at most one partial command line stays buffered, and stored
        // content stays within the size limit.
        assert!(s.input.len() <= SASL_LINE_MAX, "buffer {}", s.input.len());
        match &s.state {
            State::Data { draft, .. } | State::Chunk { draft, .. } => {
                assert!(draft.sink.data.len() <= 1000)
            }
            _ => {}
        }
        if s.is_closed() {
            break;
        }
    }
    delivered
}

#[test]
fn hostile_input_does_not_panic_and_stays_bounded() {
    let mut delivered = 0;
    for seed in 1..150u64 {
        let seed = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        hostile_run(seed, false);
        delivered += hostile_run(seed, true);
    }
    assert!(
        delivered > 50,
        "the clean runs should deliver some mail: {delivered}"
    );
}
