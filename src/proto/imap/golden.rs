//! Golden transcripts for the IMAP session: `tests/golden/imap/*.txt`, run by
//! [`crate::proto::golden`] (the common format is described there).
//!
//! The IMAP items:
//! - `P: key=value …` session parameters: `tls_offered=`, `tls_active=`, `plaintext=`
//!   (yes/no), `append_limit=`, `hard_errors=` (numbers). Defaults: [`Params::new`] with
//!   plaintext allowed and version `test`.
//! - `B: name [\Special]` a mailbox besides INBOX, before the session starts.
//! - `M: mailbox flags content` a message delivered before the session starts; flags are
//!   `-` or comma-separated (`\Seen,$Junk`); the content is escaped. Here a backslash that
//!   starts no escape stands for itself (`\Seen`).
//! - `X: deliver mailbox flags content`, `X: expunge mailbox uid`, `X: flags mailbox uid
//!   flags`: another program changes the store now.
//! - `E: greeting|timeout|shutdown|poll|hangup` calls that session method, expecting its
//!   output.
//! - `A: …` an expected action, with the I/O layer's answer after ` -> `: `A: starttls`,
//!   `A: close`, `A: auth user=u password=p -> ok NAME|fail`, `A: login user=u -> ok|err
//!   text`.

use super::memstore::{Mem, MemStore, Shared};
use super::*;
use crate::proto::golden::{self, escape, unescape, yes, Out, Protocol};

fn params(text: &str) -> Params {
    let mut p = Params::new();
    p.plaintext_auth = true;
    p.version = "test".into();
    for (k, v) in golden::params(text) {
        match k {
            "tls_offered" => p.tls_offered = yes(v),
            "tls_active" => p.tls_active = yes(v),
            "plaintext" => p.plaintext_auth = yes(v),
            "append_limit" => p.append_limit = v.parse().unwrap(),
            "hard_errors" => p.hard_error_limit = v.parse().unwrap(),
            _ => panic!("unknown parameter {k}"),
        }
    }
    p
}

fn flags(spec: &str) -> (Flags, Vec<String>) {
    let mut f = Flags::default();
    let mut kw = Vec::new();
    for x in spec.split(',').filter(|x| *x != "-" && !x.is_empty()) {
        match x {
            "\\Seen" => f.seen = true,
            "\\Answered" => f.answered = true,
            "\\Flagged" => f.flagged = true,
            "\\Deleted" => f.deleted = true,
            "\\Draft" => f.draft = true,
            k => kw.push(k.to_string()),
        }
    }
    (f, kw)
}

/// Applies a `B:`, `M:` or `X:` line to the store.
fn change(mem: &Shared, line: &str) {
    let mut m = mem.lock().unwrap();
    if let Some(rest) = line.strip_prefix("B: ") {
        let mut w = rest.split(' ');
        let name = w.next().unwrap();
        m.add_box(name, w.next());
        return;
    }
    let rest = line
        .strip_prefix("M: ")
        .map(|r| format!("deliver {r}"))
        .or_else(|| line.strip_prefix("X: ").map(str::to_string))
        .unwrap();
    let mut w = rest.splitn(4, ' ');
    let (op, name, arg) = (w.next().unwrap(), w.next().unwrap(), w.next().unwrap());
    match op {
        "deliver" => {
            let (f, kw) = flags(arg);
            let content = unescape(w.next().unwrap_or(""), true);
            m.deliver(name, &content, f, &kw, None).unwrap();
        }
        "expunge" => {
            let uid: u32 = arg.parse().unwrap();
            m.boxes.get_mut(name).unwrap().msgs.retain(|x| x.uid != uid);
        }
        "flags" => {
            let uid: u32 = arg.parse().unwrap();
            let (f, kw) = flags(w.next().unwrap_or("-"));
            let b = m.boxes.get_mut(name).unwrap();
            let msg = b.msgs.iter_mut().find(|x| x.uid == uid).unwrap();
            msg.flags = Flags {
                recent: msg.flags.recent,
                ..f
            };
            msg.keywords = kw;
        }
        _ => panic!("unknown change {line}"),
    }
}

/// A session with the in-memory store.
struct Imap {
    session: Session,
    mem: Shared,
}

impl Protocol for Imap {
    const NAME: &'static str = "imap";
    type Action = Action;
    const CLOSE: Action = Action::Close;
    const SETUP: &'static [&'static str] = &["M: ", "B: "];
    const LITERAL_BACKSLASH: bool = true;

    fn start(text: &str) -> Self {
        let mem = Mem::new();
        for l in text.lines() {
            if l.starts_with("B: ") || l.starts_with("M: ") {
                change(&mem, l);
            }
        }
        Imap {
            session: Session::new(params(text)),
            mem,
        }
    }

    fn feed(&mut self, bytes: &[u8]) -> Out<Action> {
        split(self.session.feed(bytes))
    }

    fn event(&mut self, name: &str) -> Out<Action> {
        let s = &mut self.session;
        match name {
            "greeting" => (s.greeting(), None),
            "timeout" => split(s.idle_timeout()),
            "shutdown" => split(s.shutting_down()),
            "poll" => split(s.poll_changes()),
            "hangup" => {
                s.hangup();
                (Vec::new(), None)
            }
            _ => panic!("unknown event {name}"),
        }
    }

    fn describe(action: &Action) -> Vec<String> {
        let e = |s: &str| escape(s.as_bytes(), true);
        vec![match action {
            Action::StartTls => "A: starttls".into(),
            Action::Close => "A: close".into(),
            Action::Authenticate { user, password } => {
                format!("A: auth user={} password={}", e(user), e(password))
            }
            Action::LoggedIn { user } => format!("A: login user={}", e(user)),
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
            (Action::LoggedIn { .. }, Some(a)) => {
                let result: Result<Box<dyn MailStore>, StoreError> = match a {
                    "ok" => Ok(Box::new(MemStore(self.mem.clone()))),
                    _ => Err(StoreError::Unavailable(
                        a.strip_prefix("err ").unwrap_or(a).to_string(),
                    )),
                };
                session.store_opened(result)
            }
            (action, _) => return Err(action),
        };
        Ok(Some(split(out)))
    }

    fn change(&mut self, line: &str) {
        change(&self.mem, line);
    }
}

fn split(out: Output) -> Out<Action> {
    (out.write, out.action)
}

#[test]
fn golden_transcripts() {
    golden::check_all::<Imap>(5);
}

/// Prints the actual transcript of a script (expectations left out) for review:
/// `IMAP_DUMP=file.txt cargo test --lib proto::imap::golden::dump -- --nocapture`.
#[test]
fn dump() {
    let Ok(name) = std::env::var("IMAP_DUMP") else {
        return;
    };
    let text = std::fs::read_to_string(golden::dir::<Imap>().join(name)).unwrap();
    for l in golden::run::<Imap>(&text, 0, true) {
        println!("{l}");
    }
}
