//! Golden transcripts for the SMTP session: `tests/golden/smtp/*.txt`, run by
//! [`crate::proto::golden`] (the common format is described there).
//!
//! The SMTP items:
//! - `P: key=value …` session parameters, before anything else: `hostname=`, `listener=`
//!   (smtp, submission, submissions), `tls_offered=`, `tls_active=`, `auth=`,
//!   `auth_requires_tls=`, `tls_required=`, `trusted=`, `binarymime=` (yes/no), `size=`,
//!   `rcpt_limit=`, `hard_errors=`, `junk=` (numbers). Defaults: [`Params::new`] for
//!   `mx.local.test`.
//! - `E: greeting|early_talker|timeout|shutdown` calls that session method and expects it.
//! - `A: …` an expected action, with the I/O layer's answer after ` -> `:
//!   `A: starttls` (handshake done), `A: close`,
//!   `A: auth PLAIN authzid= authcid=u password=p -> ok NAME|fail`,
//!   `A: deliver from=<s> to=<r>,<r> helo=h proto=ESMTP auth=-|user body=7BIT utf8=no
//!   -> queued ID|reply 451 4.3.0 text`; a deliver is followed by its content as `D: line`
//!   (line + CRLF) and `D! bytes` (no CRLF) items.
//!
//! The fixed test policy: recipients in `local.test` exist unless the local part starts
//! with `unknown` (550 5.1.1) or is `greylist` (450 4.2.0); `postmaster` is accepted; other
//! domains are relay-denied (554 5.7.1) unless the client is trusted or authenticated;
//! senders in `blocked.test` are refused (553 5.7.1).

use super::*;
use crate::proto::golden::{self, escape, lines, yes, Out, Protocol};

struct TestPolicy;

impl Policy for TestPolicy {
    fn check_sender(&mut self, sender: &str, _ctx: &Context<'_>) -> Result<(), Reply> {
        if sender.to_ascii_lowercase().ends_with("@blocked.test") {
            return Err(Reply::new(
                553,
                Enhanced(5, 7, 1),
                format!("<{sender}>: Sender address rejected: Access denied"),
            ));
        }
        Ok(())
    }

    fn check_recipient(&mut self, rcpt: &str, ctx: &Context<'_>) -> Result<(), Reply> {
        if rcpt.eq_ignore_ascii_case("postmaster") {
            return Ok(());
        }
        let (local, domain) = rcpt.rsplit_once('@').unwrap_or((rcpt, ""));
        if domain.eq_ignore_ascii_case("local.test") {
            if local.starts_with("unknown") {
                return Err(Reply::new(
                    550,
                    Enhanced(5, 1, 1),
                    format!("<{rcpt}>: Recipient address rejected: User unknown in local recipient table"),
                ));
            }
            if local == "greylist" {
                return Err(Reply::new(
                    450,
                    Enhanced(4, 2, 0),
                    format!("<{rcpt}>: Recipient address rejected: Greylisted"),
                ));
            }
            return Ok(());
        }
        if ctx.client_trusted || ctx.auth_user.is_some() {
            return Ok(());
        }
        Err(Reply::new(
            554,
            Enhanced(5, 7, 1),
            format!("<{rcpt}>: Relay access denied"),
        ))
    }
}

fn params(text: &str) -> Params {
    let mut p = Params::new("mx.local.test");
    for (k, v) in golden::params(text) {
        match k {
            "hostname" => {
                p.hostname = v.into();
                p.banner = format!("{v} ESMTP rmail");
            }
            "listener" => {
                p.listener = match v {
                    "smtp" => Listener::Smtp,
                    "submission" => Listener::Submission,
                    "submissions" => Listener::Submissions,
                    _ => panic!("listener {v}"),
                }
            }
            "tls_offered" => p.tls_offered = yes(v),
            "tls_active" => p.tls_active = yes(v),
            "auth" => p.auth_enabled = yes(v),
            "auth_requires_tls" => p.auth_requires_tls = yes(v),
            "tls_required" => p.tls_required = yes(v),
            "trusted" => p.client_trusted = yes(v),
            "binarymime" => p.binarymime = yes(v),
            "size" => p.message_size_limit = v.parse().unwrap(),
            "rcpt_limit" => p.recipient_limit = v.parse().unwrap(),
            "hard_errors" => p.hard_error_limit = v.parse().unwrap(),
            "junk" => p.junk_command_limit = v.parse().unwrap(),
            _ => panic!("unknown parameter {k}"),
        }
    }
    p
}

/// A session with the test policy.
struct Smtp {
    session: Session,
    policy: TestPolicy,
}

fn split(out: Output) -> Out<Action> {
    (out.write, out.action)
}

impl Protocol for Smtp {
    const NAME: &'static str = "smtp";
    type Action = Action;
    const CLOSE: Action = Action::Close;
    const OUTPUT: &'static [&'static str] = &["D: ", "D! "];

    fn start(text: &str) -> Self {
        Smtp {
            session: Session::new(params(text)),
            policy: TestPolicy,
        }
    }

    fn feed(&mut self, bytes: &[u8]) -> Out<Action> {
        split(self.session.feed(bytes, &mut self.policy))
    }

    fn event(&mut self, name: &str) -> Out<Action> {
        let reply = match name {
            "greeting" => self.session.greeting(),
            "early_talker" => self.session.early_talker(),
            "timeout" => self.session.idle_timeout(),
            "shutdown" => self.session.shutting_down(),
            _ => panic!("unknown event {name}"),
        };
        (reply.to_bytes(), None)
    }

    fn describe(action: &Action) -> Vec<String> {
        let e = |s: &str| escape(s.as_bytes(), false);
        match action {
            Action::StartTls => vec!["A: starttls".into()],
            Action::Close => vec!["A: close".into()],
            Action::Authenticate(c) => vec![format!(
                "A: auth {} authzid={} authcid={} password={}",
                match c.mechanism {
                    Mechanism::Plain => "PLAIN",
                    Mechanism::Login => "LOGIN",
                },
                e(&c.authzid),
                e(&c.authcid),
                e(&c.password)
            )],
            Action::Deliver(t) => {
                let mut v = vec![format!(
                    "A: deliver from=<{}> to={} helo={} proto={} auth={} body={} utf8={}",
                    e(&t.envelope.sender),
                    t.envelope
                        .recipients
                        .iter()
                        .map(|r| format!("<{}>", e(r)))
                        .collect::<Vec<_>>()
                        .join(","),
                    t.helo,
                    t.protocol,
                    t.auth_user.as_deref().unwrap_or("-"),
                    match t.body {
                        Body::SevenBit => "7BIT",
                        Body::EightBitMime => "8BITMIME",
                        Body::BinaryMime => "BINARYMIME",
                    },
                    if t.smtputf8 { "yes" } else { "no" }
                )];
                v.extend(lines('D', &t.data, false));
                v
            }
        }
    }

    fn answer(
        &mut self,
        action: Action,
        answer: Option<&str>,
    ) -> Result<Option<Out<Action>>, Action> {
        let (session, policy) = (&mut self.session, &mut self.policy);
        let out = match (action, answer) {
            (Action::StartTls, None) => {
                session.tls_started();
                return Ok(None);
            }
            (Action::Close, None) => return Ok(None),
            (Action::Authenticate(_), Some(a)) => {
                session.auth_result(a.strip_prefix("ok ").map(str::to_string), policy)
            }
            (Action::Deliver(_), Some(a)) => {
                let result = match a.strip_prefix("queued ") {
                    Some(id) => Ok(id.to_string()),
                    None => {
                        let r = a.strip_prefix("reply ").expect("queued|reply");
                        let mut w = r.splitn(3, ' ');
                        let code = w.next().unwrap().parse().unwrap();
                        let e: Vec<u16> = w
                            .next()
                            .unwrap()
                            .split('.')
                            .map(|n| n.parse().unwrap())
                            .collect();
                        Err(Reply::new(
                            code,
                            Enhanced(e[0] as u8, e[1], e[2]),
                            w.next().unwrap_or(""),
                        ))
                    }
                };
                session.delivery_result(result, policy)
            }
            (action, _) => return Err(action),
        };
        Ok(Some(split(out)))
    }
}

#[test]
fn golden_transcripts() {
    golden::check_all::<Smtp>(10);
}
