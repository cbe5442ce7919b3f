//! Golden transcripts for the POP3 session: `tests/golden/pop3/*.txt`, run by
//! [`crate::proto::golden`] (the common format is described there).
//!
//! The POP3 items:
//! - `P: key=value …` session parameters: `tls_offered=`, `tls_active=`, `plaintext=`
//!   (yes/no), `hard_errors=` (a number). Defaults: [`Params::new`].
//! - `M: uid content` one message of the test maildrop, in order (message 1 first): its
//!   unique-id and its stored content, both escaped; its size is
//!   [`message_size`] of the content.
//! - `E: greeting|timeout|shutdown` calls that session method and expects its reply.
//! - `A: …` an expected action, with the I/O layer's answer after ` -> `:
//!   `A: starttls` (handshake done), `A: close`,
//!   `A: auth user=u password=p -> ok NAME|fail`,
//!   `A: open user=u -> ok|err CODE text` (the maildrop is the `M:` list),
//!   `A: fetch index=0 top=-|N -> ok|err CODE text` (ok: the `M:` content),
//!   `A: update deleted=0,2|- -> ok|err CODE text`;
//!   CODE is `IN-USE`, `SYS/TEMP`, `SYS/PERM` or `-` for none.

use super::*;
use crate::proto::golden::{self, escape, unescape, yes, Out, Protocol};

fn params(text: &str) -> Params {
    let mut p = Params::new();
    for (k, v) in golden::params(text) {
        match k {
            "tls_offered" => p.tls_offered = yes(v),
            "tls_active" => p.tls_active = yes(v),
            "plaintext" => p.plaintext_auth = yes(v),
            "hard_errors" => p.hard_error_limit = v.parse().unwrap(),
            _ => panic!("unknown parameter {k}"),
        }
    }
    p
}

/// The test maildrop: `(uid, content)` pairs from the `M:` lines.
fn maildrop(text: &str) -> Vec<(String, Vec<u8>)> {
    text.lines()
        .filter_map(|l| l.strip_prefix("M: "))
        .map(|m| {
            let (uid, content) = m.split_once(' ').unwrap_or((m, ""));
            let uid = String::from_utf8(unescape(uid, false)).unwrap();
            (uid, unescape(content, false))
        })
        .collect()
}

/// `err CODE text` as a reply.
fn error(answer: &str) -> Reply {
    let rest = answer.strip_prefix("err ").expect("ok|err CODE text");
    let (code, text) = rest.split_once(' ').unwrap_or((rest, ""));
    let code = match code {
        "IN-USE" => Some(RespCode::InUse),
        "SYS/TEMP" => Some(RespCode::SysTemp),
        "SYS/PERM" => Some(RespCode::SysPerm),
        "-" => None,
        _ => panic!("unknown code {code}"),
    };
    Reply::err(code, text)
}

/// A session with the test maildrop.
struct Pop3 {
    session: Session,
    messages: Vec<(String, Vec<u8>)>,
}

fn split(out: Output) -> Out<Action> {
    (out.write, out.action)
}

impl Protocol for Pop3 {
    const NAME: &'static str = "pop3";
    type Action = Action;
    const CLOSE: Action = Action::Close;
    const SETUP: &'static [&'static str] = &["M: "];

    fn start(text: &str) -> Self {
        Pop3 {
            session: Session::new(params(text)),
            messages: maildrop(text),
        }
    }

    fn feed(&mut self, bytes: &[u8]) -> Out<Action> {
        split(self.session.feed(bytes))
    }

    fn event(&mut self, name: &str) -> Out<Action> {
        let reply = match name {
            "greeting" => self.session.greeting(),
            "timeout" => self.session.idle_timeout(),
            "shutdown" => self.session.shutting_down(),
            _ => panic!("unknown event {name}"),
        };
        (reply.to_bytes(), None)
    }

    fn describe(action: &Action) -> Vec<String> {
        let e = |s: &str| escape(s.as_bytes(), false);
        vec![match action {
            Action::StartTls => "A: starttls".into(),
            Action::Close => "A: close".into(),
            Action::Authenticate { user, password } => {
                format!("A: auth user={} password={}", e(user), e(password))
            }
            Action::OpenMaildrop { user } => format!("A: open user={}", e(user)),
            Action::Fetch { index, top_lines } => format!(
                "A: fetch index={index} top={}",
                top_lines.map_or("-".to_string(), |n| n.to_string())
            ),
            Action::Update { deleted } => format!(
                "A: update deleted={}",
                if deleted.is_empty() {
                    "-".to_string()
                } else {
                    deleted
                        .iter()
                        .map(usize::to_string)
                        .collect::<Vec<_>>()
                        .join(",")
                }
            ),
        }]
    }

    fn answer(
        &mut self,
        action: Action,
        answer: Option<&str>,
    ) -> Result<Option<Out<Action>>, Action> {
        let session = &mut self.session;
        let out = match (action, answer) {
            (Action::StartTls, None) => {
                session.tls_started();
                return Ok(None);
            }
            (Action::Close, None) => return Ok(None),
            (Action::Authenticate { .. }, Some(a)) => {
                session.auth_result(a.strip_prefix("ok ").map(str::to_string))
            }
            (Action::OpenMaildrop { .. }, Some(a)) => {
                let result = match a {
                    "ok" => Ok(self
                        .messages
                        .iter()
                        .map(|(uid, content)| MsgInfo {
                            size: message_size(content),
                            uid: uid.clone(),
                        })
                        .collect()),
                    _ => Err(error(a)),
                };
                session.maildrop_opened(result)
            }
            (Action::Fetch { index, .. }, Some(a)) => {
                let result = match a {
                    "ok" => Ok(self.messages[index].1.clone()),
                    _ => Err(error(a)),
                };
                session.fetched(result)
            }
            (Action::Update { .. }, Some(a)) => {
                let result = match a {
                    "ok" => Ok(()),
                    _ => Err(error(a)),
                };
                session.update_result(result)
            }
            (action, _) => return Err(action),
        };
        Ok(Some(split(out)))
    }
}

#[test]
fn golden_transcripts() {
    golden::check_all::<Pop3>(10);
}
