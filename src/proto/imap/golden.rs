//! Golden transcripts for the IMAP session: `tests/golden/imap/*.txt`, each run with the
//! client's bytes fed whole and in chunks of every size from 1 to 16 (plus 64 and 512),
//! which must give the same transcript.
//!
//! Format, one item per line (blank lines and `#` comments ignored):
//! - `P: key=value …` session parameters: `tls_offered=`, `tls_active=`, `plaintext=`
//!   (yes/no), `append_limit=`, `hard_errors=` (numbers). Defaults: [`Params::new`] with
//!   plaintext allowed and version `test`.
//! - `B: name [\Special]` a mailbox besides INBOX, before the session starts.
//! - `M: mailbox flags content` a message delivered before the session starts; flags are
//!   `-` or comma-separated (`\Seen,$Junk`); the content is escaped (below).
//! - `X: deliver mailbox flags content`, `X: expunge mailbox uid`, `X: flags mailbox uid
//!   flags`: another program changes the store now.
//! - `C: text` client bytes `text` + CRLF; `C! text` without the CRLF. Escapes: `\r`, `\n`,
//!   `\t`, `\\`, `\xHH`. Consecutive client lines are sent together (pipelined).
//! - `S: text` one expected line written (without its CRLF), escaped as above; `S! text` a
//!   last piece without CRLF.
//! - `E: greeting|timeout|shutdown|poll|hangup` calls that session method, expecting its
//!   output.
//! - `A: …` an expected action, with the I/O layer's answer after ` -> `: `A: starttls`,
//!   `A: close`, `A: auth user=u password=p -> ok NAME|fail`, `A: login user=u -> ok|err
//!   text`.

use super::memstore::{Mem, MemStore, Shared};
use super::*;

/// `\r`, `\n`, `\t`, `\\`, `\xHH` decoded.
pub(super) fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            match b[i + 1] {
                b'r' => out.push(b'\r'),
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'\\' => out.push(b'\\'),
                b'x' => {
                    let hex = std::str::from_utf8(&b[i + 2..i + 4]).unwrap();
                    out.push(u8::from_str_radix(hex, 16).unwrap());
                    i += 2;
                }
                // Any other backslash stands for itself (IMAP's `\Seen`).
                _ => {
                    out.push(b'\\');
                    i += 1;
                    continue;
                }
            }
            i += 2;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// The canonical escaped form: printable ASCII as is (a backslash doubled only before
/// `r`, `n`, `t`, `x` or another backslash), the rest escaped.
fn escape(b: &[u8]) -> String {
    let mut s = String::new();
    for (k, &c) in b.iter().enumerate() {
        match c {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\\' => {
                let next = b.get(k + 1).copied();
                if matches!(next, Some(b'r' | b'n' | b't' | b'x' | b'\\') | None) {
                    s.push_str("\\\\");
                } else {
                    s.push('\\');
                }
            }
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s
}

/// Splits written bytes into `S: line` items (`S!` for a piece without CRLF).
fn lines(bytes: &[u8]) -> Vec<String> {
    let mut v = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        match rest.windows(2).position(|w| w == b"\r\n") {
            Some(i) => {
                v.push(format!("S: {}", escape(&rest[..i])));
                rest = &rest[i + 2..];
            }
            None => {
                v.push(format!("S! {}", escape(rest)));
                rest = &[];
            }
        }
    }
    v
}

fn yes(v: &str) -> bool {
    match v {
        "yes" => true,
        "no" => false,
        _ => panic!("not yes/no: {v}"),
    }
}

fn params(spec: &[&str]) -> Params {
    let mut p = Params::new();
    p.plaintext_auth = true;
    p.version = "test".into();
    for line in spec {
        for kv in line.split_whitespace() {
            let (k, v) = kv.split_once('=').expect("key=value");
            match k {
                "tls_offered" => p.tls_offered = yes(v),
                "tls_active" => p.tls_active = yes(v),
                "plaintext" => p.plaintext_auth = yes(v),
                "append_limit" => p.append_limit = v.parse().unwrap(),
                "hard_errors" => p.hard_error_limit = v.parse().unwrap(),
                _ => panic!("unknown parameter {k}"),
            }
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
            let content = unescape(w.next().unwrap_or(""));
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

fn describe(action: &Action) -> String {
    match action {
        Action::StartTls => "A: starttls".into(),
        Action::Close => "A: close".into(),
        Action::Authenticate { user, password } => format!(
            "A: auth user={} password={}",
            escape(user.as_bytes()),
            escape(password.as_bytes())
        ),
        Action::LoggedIn { user } => format!("A: login user={}", escape(user.as_bytes())),
    }
}

/// Runs a transcript, feeding client bytes in chunks of `chunk` bytes (0: whole);
/// returns the actual `S:`/`A:`/`E:` lines.
fn run(text: &str, chunk: usize) -> Vec<String> {
    run_with(text, chunk, false)
}

/// [`run`]; with `echo`, the script's own lines (but expectations) are kept in place, which
/// gives a whole transcript for review.
fn run_with(text: &str, chunk: usize, echo: bool) -> Vec<String> {
    let spec: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("P: ")).collect();
    let mem = Mem::new();
    for l in text.lines() {
        if l.starts_with("B: ") || l.starts_with("M: ") {
            change(&mem, l);
        }
    }
    let mut session = Session::new(params(&spec));
    let mut actual: Vec<String> = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut outstanding: Option<(usize, Action)> = None;
    let mut closed = false;

    let record = |out: Output,
                  actual: &mut Vec<String>,
                  outstanding: &mut Option<(usize, Action)>,
                  closed: &mut bool| {
        actual.extend(lines(&out.write));
        if let Some(action) = out.action {
            if action == Action::Close {
                if *closed {
                    return;
                }
                *closed = true;
            }
            assert!(outstanding.is_none(), "two actions outstanding: {actual:?}");
            let at = actual.len();
            actual.push(describe(&action));
            *outstanding = Some((at, action));
        }
    };

    for line in text
        .lines()
        .map(norm)
        .chain(std::iter::once("E: end".to_string()))
    {
        let line = line.as_str();
        let expectation = ["S: ", "S! ", "E: ", "A: "]
            .iter()
            .any(|p| line.starts_with(p));
        if echo && !expectation && line != "E: end" {
            actual.push(line.to_string());
        }
        if line.is_empty()
            || line.starts_with('#')
            || line.starts_with("P: ")
            || line.starts_with("M: ")
            || line.starts_with("B: ")
        {
            continue;
        }
        let (tag, rest) = line.split_at(3.min(line.len()));
        match tag {
            "C: " => {
                pending.extend(unescape(rest));
                pending.extend_from_slice(b"\r\n");
                continue;
            }
            "C! " => {
                pending.extend(unescape(rest));
                continue;
            }
            "S: " | "S! " | "E: " | "A: " | "X: " => {}
            _ => panic!("bad transcript line {line:?}"),
        }
        if !pending.is_empty() {
            let size = if chunk == 0 { pending.len() } else { chunk };
            for piece in pending.chunks(size) {
                let out = session.feed(piece);
                record(out, &mut actual, &mut outstanding, &mut closed);
            }
            pending.clear();
        }
        match tag {
            "X: " => change(&mem, line),
            "E: " => {
                actual.push(line.to_string());
                let out = match rest {
                    "end" => {
                        actual.pop();
                        break;
                    }
                    "greeting" => Output {
                        write: session.greeting(),
                        action: None,
                    },
                    "timeout" => session.idle_timeout(),
                    "shutdown" => session.shutting_down(),
                    "poll" => session.poll_changes(),
                    "hangup" => {
                        session.hangup();
                        Output::default()
                    }
                    _ => panic!("unknown event {rest}"),
                };
                record(out, &mut actual, &mut outstanding, &mut closed);
            }
            "A: " => {
                let Some((at, action)) = outstanding.take() else {
                    actual.push(format!("(no action for {line:?})"));
                    continue;
                };
                let answer = rest.split_once(" -> ").map(|(_, a)| a);
                if let Some(a) = answer {
                    actual[at].push_str(" -> ");
                    actual[at].push_str(a);
                }
                let out = match (action, answer) {
                    (Action::StartTls, None) => {
                        session.tls_started();
                        None
                    }
                    (Action::Close, None) => None,
                    (Action::Authenticate { .. }, Some(a)) => {
                        Some(session.auth_result(a.strip_prefix("ok ").map(str::to_string)))
                    }
                    (Action::LoggedIn { .. }, Some(a)) => {
                        let result: Result<Box<dyn MailStore>, StoreError> = match a {
                            "ok" => Ok(Box::new(MemStore(mem.clone()))),
                            _ => Err(StoreError::Unavailable(
                                a.strip_prefix("err ").unwrap_or(a).to_string(),
                            )),
                        };
                        Some(session.store_opened(result))
                    }
                    (action, _) => {
                        actual.push(format!("(answer {answer:?} does not fit {action:?})"));
                        None
                    }
                };
                if let Some(out) = out {
                    record(out, &mut actual, &mut outstanding, &mut closed);
                }
            }
            _ => {}
        }
    }
    if let Some((_, action)) = outstanding {
        actual.push(format!("(unanswered {action:?})"));
    }
    actual
}

/// `C:`, `S:` alone (an editor stripped the space) stand for an empty line.
fn norm(line: &str) -> String {
    if line.len() == 2 && line.ends_with(':') {
        format!("{line} ")
    } else {
        line.to_string()
    }
}

fn expected(text: &str) -> Vec<String> {
    text.lines()
        .map(norm)
        .filter(|l| {
            ["S: ", "S! ", "E: ", "A: "]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .collect()
}

fn check(name: &str, text: &str) {
    let want = expected(text);
    let got = run(text, 0);
    if got != want {
        let mut msg = format!("{name}: transcript differs\n");
        for i in 0..got.len().max(want.len()) {
            let g = got.get(i).map(String::as_str).unwrap_or("<none>");
            let w = want.get(i).map(String::as_str).unwrap_or("<none>");
            let mark = if g == w { "  " } else { "!!" };
            msg.push_str(&format!("{mark} want {w}\n{mark}  got {g}\n"));
        }
        panic!("{msg}");
    }
    for chunk in (1..=16).chain([64, 512]) {
        assert_eq!(run(text, chunk), want, "{name}: chunks of {chunk} bytes");
    }
}

#[test]
fn golden_transcripts() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/imap");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    names.sort();
    assert!(names.len() >= 5, "transcripts missing in {}", dir.display());
    let only = std::env::var("IMAP_GOLDEN").ok();
    let mut failures = Vec::new();
    for path in &names {
        let text = std::fs::read_to_string(path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if only.as_ref().is_some_and(|o| !name.contains(o.as_str())) {
            continue;
        }
        if let Err(e) = std::panic::catch_unwind(|| check(&name, &text)) {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.push(msg);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Prints the actual transcript of a script (expectations left out) for review:
/// `IMAP_DUMP=file.txt cargo test --lib proto::imap::golden::dump -- --nocapture`.
#[test]
fn dump() {
    let Ok(name) = std::env::var("IMAP_DUMP") else {
        return;
    };
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/imap");
    let text = std::fs::read_to_string(dir.join(name)).unwrap();
    for l in run_with(&text, 0, true) {
        println!("{l}");
    }
}
