//! Golden transcripts for the POP3 session: `tests/golden/pop3/*.txt`, each run with the
//! client's bytes fed whole and in chunks of every size from 1 to 16 (plus 64 and 512),
//! which must give the same transcript.
//!
//! Format, one item per line (blank lines and `#` comments ignored):
//! - `P: key=value …` session parameters: `tls_offered=`, `tls_active=`, `plaintext=`
//!   (yes/no), `hard_errors=` (a number). Defaults: [`Params::new`].
//! - `M: uid content` one message of the test maildrop, in order (message 1 first): its
//!   unique-id and its stored content, both escaped (below); its size is
//!   [`message_size`] of the content.
//! - `C: text` client bytes `text` + CRLF; `C! text` without the CRLF. Escapes: `\r`, `\n`,
//!   `\t`, `\\`, `\xHH`. Consecutive client lines are sent together (pipelined).
//! - `S: text` one expected line written (without its CRLF), escaped as above; `S! text` a
//!   last piece without CRLF.
//! - `E: greeting|timeout|shutdown` calls that session method and expects its reply.
//! - `A: …` an expected action, with the I/O layer's answer after ` -> `:
//!   `A: starttls` (handshake done), `A: close`,
//!   `A: auth user=u password=p -> ok NAME|fail`,
//!   `A: open user=u -> ok|err CODE text` (the maildrop is the `M:` list),
//!   `A: fetch index=0 top=-|N -> ok|err CODE text` (ok: the `M:` content),
//!   `A: update deleted=0,2|- -> ok|err CODE text`;
//!   CODE is `IN-USE`, `SYS/TEMP`, `SYS/PERM` or `-` for none.

use super::*;

/// `\r`, `\n`, `\t`, `\\`, `\xHH` decoded.
fn unescape(s: &str) -> Vec<u8> {
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
                other => panic!("bad escape \\{}", other as char),
            }
            i += 2;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// The canonical escaped form: printable ASCII as is, the rest escaped.
fn escape(b: &[u8]) -> String {
    let mut s = String::new();
    for &c in b {
        match c {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s
}

/// Splits written bytes into `P: line` items (`P!` for a piece without CRLF).
fn lines(prefix: char, bytes: &[u8]) -> Vec<String> {
    let mut v = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        match rest.windows(2).position(|w| w == b"\r\n") {
            Some(i) => {
                v.push(format!("{prefix}: {}", escape(&rest[..i])));
                rest = &rest[i + 2..];
            }
            None => {
                v.push(format!("{prefix}! {}", escape(rest)));
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
    for line in spec {
        for kv in line.split_whitespace() {
            let (k, v) = kv.split_once('=').expect("key=value");
            match k {
                "tls_offered" => p.tls_offered = yes(v),
                "tls_active" => p.tls_active = yes(v),
                "plaintext" => p.plaintext_auth = yes(v),
                "hard_errors" => p.hard_error_limit = v.parse().unwrap(),
                _ => panic!("unknown parameter {k}"),
            }
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
            let uid = String::from_utf8(unescape(uid)).unwrap();
            (uid, unescape(content))
        })
        .collect()
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
        Action::OpenMaildrop { user } => format!("A: open user={}", escape(user.as_bytes())),
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
    }
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

/// Runs a transcript, feeding client bytes in chunks of `chunk` bytes (0: whole);
/// returns the actual `S:`/`A:`/`E:` lines.
fn run(text: &str, chunk: usize) -> Vec<String> {
    let spec: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("P: ")).collect();
    let messages = maildrop(text);
    let mut session = Session::new(params(&spec));
    let mut actual: Vec<String> = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut outstanding: Option<(usize, Action)> = None;
    let mut closed = false;

    let record = |out: Output,
                  actual: &mut Vec<String>,
                  outstanding: &mut Option<(usize, Action)>,
                  closed: &mut bool| {
        actual.extend(lines('S', &out.write));
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
        if line.is_empty()
            || line.starts_with('#')
            || line.starts_with("P: ")
            || line.starts_with("M: ")
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
            "S: " | "S! " | "E: " | "A: " => {}
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
            "E: " => {
                let reply = match rest {
                    "end" => break,
                    "greeting" => session.greeting(),
                    "timeout" => session.idle_timeout(),
                    "shutdown" => session.shutting_down(),
                    _ => panic!("unknown event {rest}"),
                };
                actual.push(line.to_string());
                actual.extend(lines('S', &reply.to_bytes()));
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
                    (Action::OpenMaildrop { .. }, Some(a)) => {
                        let result = match a {
                            "ok" => Ok(messages
                                .iter()
                                .map(|(uid, content)| MsgInfo {
                                    size: message_size(content),
                                    uid: uid.clone(),
                                })
                                .collect()),
                            _ => Err(error(a)),
                        };
                        Some(session.maildrop_opened(result))
                    }
                    (Action::Fetch { index, .. }, Some(a)) => {
                        let result = match a {
                            "ok" => Ok(messages[index].1.clone()),
                            _ => Err(error(a)),
                        };
                        Some(session.fetched(result))
                    }
                    (Action::Update { .. }, Some(a)) => {
                        let result = match a {
                            "ok" => Ok(()),
                            _ => Err(error(a)),
                        };
                        Some(session.update_result(result))
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
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/pop3");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    names.sort();
    assert!(
        names.len() >= 10,
        "transcripts missing in {}",
        dir.display()
    );
    let mut failures = Vec::new();
    for path in &names {
        let text = std::fs::read_to_string(path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
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
