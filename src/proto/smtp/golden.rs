//! Golden transcripts for the SMTP session: `tests/golden/smtp/*.txt`, each run with the
//! client's bytes fed whole and in chunks of every size from 1 to 16 (plus 64 and 512),
//! which must give the same transcript.
//!
//! Format, one item per line (blank lines and `#` comments ignored):
//! - `P: key=value …` session parameters, before anything else: `hostname=`, `listener=`
//!   (smtp, submission, submissions), `tls_offered=`, `tls_active=`, `auth=`,
//!   `auth_requires_tls=`, `tls_required=`, `trusted=`, `binarymime=` (yes/no), `size=`,
//!   `rcpt_limit=`, `hard_errors=`, `junk=` (numbers). Defaults: [`Params::new`] for
//!   `mx.local.test`.
//! - `C: text` client bytes `text` + CRLF; `C! text` without the CRLF. Escapes: `\r`, `\n`,
//!   `\t`, `\\`, `\xHH`. Consecutive client lines are sent together (pipelined).
//! - `S: text` one expected reply line (wire form without its CRLF), escaped as above.
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
    let mut p = Params::new("mx.local.test");
    for line in spec {
        for kv in line.split_whitespace() {
            let (k, v) = kv.split_once('=').expect("key=value");
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
    }
    p
}

fn describe(action: &Action) -> Vec<String> {
    match action {
        Action::StartTls => vec!["A: starttls".into()],
        Action::Close => vec!["A: close".into()],
        Action::Authenticate(c) => vec![format!(
            "A: auth {} authzid={} authcid={} password={}",
            match c.mechanism {
                Mechanism::Plain => "PLAIN",
                Mechanism::Login => "LOGIN",
            },
            escape(c.authzid.as_bytes()),
            escape(c.authcid.as_bytes()),
            escape(c.password.as_bytes())
        )],
        Action::Deliver(t) => {
            let mut v = vec![format!(
                "A: deliver from=<{}> to={} helo={} proto={} auth={} body={} utf8={}",
                escape(t.envelope.sender.as_bytes()),
                t.envelope
                    .recipients
                    .iter()
                    .map(|r| format!("<{}>", escape(r.as_bytes())))
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
            v.extend(lines('D', &t.data));
            v
        }
    }
}

/// Runs a transcript, feeding client bytes in chunks of `chunk` bytes (0: whole);
/// returns the actual `S:`/`A:`/`D:`/`E:` lines.
fn run(text: &str, chunk: usize) -> Vec<String> {
    let spec: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("P: ")).collect();
    let mut session = Session::new(params(&spec));
    let mut policy = TestPolicy;
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
            actual.extend(describe(&action));
            *outstanding = Some((at, action));
        }
    };

    for line in text
        .lines()
        .map(norm)
        .chain(std::iter::once("E: end".to_string()))
    {
        let line = line.as_str();
        if line.is_empty() || line.starts_with('#') || line.starts_with("P: ") {
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
            "S: " | "S! " | "D: " | "D! " | "E: " | "A: " => {}
            _ => panic!("bad transcript line {line:?}"),
        }
        if !pending.is_empty() {
            let size = if chunk == 0 { pending.len() } else { chunk };
            for piece in pending.chunks(size) {
                let out = session.feed(piece, &mut policy);
                record(out, &mut actual, &mut outstanding, &mut closed);
            }
            pending.clear();
        }
        match tag {
            "E: " => {
                let reply = match rest {
                    "end" => break,
                    "greeting" => session.greeting(),
                    "early_talker" => session.early_talker(),
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
                    (Action::Authenticate(_), Some(a)) => Some(
                        session.auth_result(a.strip_prefix("ok ").map(str::to_string), &mut policy),
                    ),
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
                        Some(session.delivery_result(result, &mut policy))
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

/// `C:`, `S:`, `D:` alone (an editor stripped the space) stand for an empty line.
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
            ["S: ", "S! ", "D: ", "D! ", "E: ", "A: "]
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
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/smtp");
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
