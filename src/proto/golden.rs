//! The golden-transcript runner shared by the SMTP, POP3 and IMAP sessions: each
//! `tests/golden/<proto>/*.txt` is run with the client's bytes fed whole and in chunks of
//! every size from 1 to 16 (plus 64 and 512), which must all give the same transcript.
//!
//! Common format, one item per line (blank lines and `#` comments ignored):
//! - `P: key=value …` session parameters (see [`params`]); other setup lines a protocol
//!   reads itself ([`Protocol::SETUP`]).
//! - `C: text` client bytes `text` + CRLF; `C! text` without the CRLF. Escapes: `\r`, `\n`,
//!   `\t`, `\\`, `\xHH`. Consecutive client lines are sent together (pipelined).
//! - `S: text` one expected line written (without its CRLF), escaped as above; `S! text` a
//!   last piece without CRLF.
//! - `E: name` calls a session method ([`Protocol::event`]) and expects its output.
//! - `A: …` an expected action ([`Protocol::describe`]), with the I/O layer's answer after
//!   ` -> ` ([`Protocol::answer`]).
//! - `X: …` another program changes the state now ([`Protocol::change`]).

use std::fmt::Debug;

/// A session's output taken apart: the bytes written and the action asked for.
pub(crate) type Out<A> = (Vec<u8>, Option<A>);

/// The protocol-specific parts of a transcript run: a session and its test world.
pub(crate) trait Protocol: Sized {
    /// The directory under `tests/golden/`.
    const NAME: &'static str;
    /// The session's action type.
    type Action: PartialEq + Debug;
    /// The close action: asked for again once closed, it is not recorded again.
    const CLOSE: Self::Action;
    /// Tags of setup lines besides `P: `, read by [`Protocol::start`] and skipped in the run.
    const SETUP: &'static [&'static str] = &[];
    /// Tags of expected lines besides `S: `, `S! `, `E: ` and `A: ` (SMTP's content lines).
    const OUTPUT: &'static [&'static str] = &[];
    /// Whether a backslash that starts no escape stands for itself (IMAP's `\Seen`) instead of
    /// being an error; see [`escape`].
    const LITERAL_BACKSLASH: bool = false;

    /// The session and its world, from the transcript's setup lines.
    fn start(text: &str) -> Self;
    /// Feeds client bytes.
    fn feed(&mut self, bytes: &[u8]) -> Out<Self::Action>;
    /// Calls the session method an `E: name` line stands for.
    fn event(&mut self, name: &str) -> Out<Self::Action>;
    /// The `A:` line (and any lines after it) an action is shown as.
    fn describe(action: &Self::Action) -> Vec<String>;
    /// Gives the session the I/O layer's answer (`None`: the `A:` line has no ` -> `);
    /// `Err` hands back an action the answer does not fit.
    fn answer(
        &mut self,
        action: Self::Action,
        answer: Option<&str>,
    ) -> Result<Option<Out<Self::Action>>, Self::Action>;
    /// Applies an `X:` line.
    fn change(&mut self, line: &str) {
        panic!("bad transcript line {line:?}")
    }
}

/// `\r`, `\n`, `\t`, `\\`, `\xHH` decoded; any other backslash stands for itself with
/// `literal_backslash`, else it is an error.
pub(crate) fn unescape(s: &str, literal_backslash: bool) -> Vec<u8> {
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
                _ if literal_backslash => {
                    out.push(b'\\');
                    i += 1;
                    continue;
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

/// The canonical escaped form: printable ASCII as is, the rest escaped. With
/// `literal_backslash` a backslash is doubled only before `r`, `n`, `t`, `x`, another
/// backslash or the end.
pub(crate) fn escape(b: &[u8], literal_backslash: bool) -> String {
    let mut s = String::new();
    for (k, &c) in b.iter().enumerate() {
        match c {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\\' => {
                let next = b.get(k + 1).copied();
                if !literal_backslash
                    || matches!(next, Some(b'r' | b'n' | b't' | b'x' | b'\\') | None)
                {
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

/// Splits written bytes into `P: line` items (`P!` for a piece without CRLF), `P` being
/// `prefix`.
pub(crate) fn lines(prefix: char, bytes: &[u8], literal_backslash: bool) -> Vec<String> {
    let mut v = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        match rest.windows(2).position(|w| w == b"\r\n") {
            Some(i) => {
                v.push(format!(
                    "{prefix}: {}",
                    escape(&rest[..i], literal_backslash)
                ));
                rest = &rest[i + 2..];
            }
            None => {
                v.push(format!("{prefix}! {}", escape(rest, literal_backslash)));
                rest = &[];
            }
        }
    }
    v
}

/// The `key=value` pairs of the `P:` lines, in order.
pub(crate) fn params(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.lines()
        .filter_map(|l| l.strip_prefix("P: "))
        .flat_map(str::split_whitespace)
        .map(|kv| kv.split_once('=').expect("key=value"))
}

/// `yes` or `no`.
pub(crate) fn yes(v: &str) -> bool {
    match v {
        "yes" => true,
        "no" => false,
        _ => panic!("not yes/no: {v}"),
    }
}

/// `C:`, `S:` … alone (an editor stripped the space) stand for an empty line.
fn norm(line: &str) -> String {
    if line.len() == 2 && line.ends_with(':') {
        format!("{line} ")
    } else {
        line.to_string()
    }
}

/// Whether `line` is an expectation: output of the session.
fn is_expected<P: Protocol>(line: &str) -> bool {
    ["S: ", "S! ", "E: ", "A: "]
        .iter()
        .chain(P::OUTPUT)
        .any(|p| line.starts_with(p))
}

/// The actual lines of a run so far, and the action waiting for its `A:` line.
struct Transcript<P: Protocol> {
    actual: Vec<String>,
    outstanding: Option<(usize, P::Action)>,
    closed: bool,
}

impl<P: Protocol> Transcript<P> {
    fn record(&mut self, (write, action): Out<P::Action>) {
        let actual = &mut self.actual;
        actual.extend(lines('S', &write, P::LITERAL_BACKSLASH));
        if let Some(action) = action {
            if action == P::CLOSE {
                if self.closed {
                    return;
                }
                self.closed = true;
            }
            assert!(
                self.outstanding.is_none(),
                "two actions outstanding: {actual:?}"
            );
            let at = actual.len();
            actual.extend(P::describe(&action));
            self.outstanding = Some((at, action));
        }
    }
}

/// Runs a transcript, feeding client bytes in chunks of `chunk` bytes (0: whole); returns
/// the actual expectation lines. With `echo`, the script's own other lines are kept in
/// place, which gives a whole transcript for review.
pub(crate) fn run<P: Protocol>(text: &str, chunk: usize, echo: bool) -> Vec<String> {
    let mut proto = P::start(text);
    let mut t = Transcript::<P> {
        actual: Vec::new(),
        outstanding: None,
        closed: false,
    };
    let mut pending: Vec<u8> = Vec::new();

    for line in text
        .lines()
        .map(norm)
        .chain(std::iter::once("E: end".to_string()))
    {
        let line = line.as_str();
        if echo && !is_expected::<P>(line) && line != "E: end" {
            t.actual.push(line.to_string());
        }
        if line.is_empty()
            || line.starts_with('#')
            || line.starts_with("P: ")
            || P::SETUP.iter().any(|p| line.starts_with(p))
        {
            continue;
        }
        let (tag, rest) = line.split_at(3.min(line.len()));
        match tag {
            "C: " => {
                pending.extend(unescape(rest, P::LITERAL_BACKSLASH));
                pending.extend_from_slice(b"\r\n");
                continue;
            }
            "C! " => {
                pending.extend(unescape(rest, P::LITERAL_BACKSLASH));
                continue;
            }
            "X: " => {}
            _ if is_expected::<P>(line) => {}
            _ => panic!("bad transcript line {line:?}"),
        }
        if !pending.is_empty() {
            let size = if chunk == 0 { pending.len() } else { chunk };
            for piece in pending.chunks(size) {
                let out = proto.feed(piece);
                t.record(out);
            }
            pending.clear();
        }
        match tag {
            "X: " => proto.change(line),
            "E: " if rest == "end" => break,
            "E: " => {
                t.actual.push(line.to_string());
                let out = proto.event(rest);
                t.record(out);
            }
            "A: " => {
                let Some((at, action)) = t.outstanding.take() else {
                    t.actual.push(format!("(no action for {line:?})"));
                    continue;
                };
                let answer = rest.split_once(" -> ").map(|(_, a)| a);
                if let Some(a) = answer {
                    t.actual[at].push_str(" -> ");
                    t.actual[at].push_str(a);
                }
                match proto.answer(action, answer) {
                    Ok(Some(out)) => t.record(out),
                    Ok(None) => {}
                    Err(action) => t
                        .actual
                        .push(format!("(answer {answer:?} does not fit {action:?})")),
                }
            }
            _ => {}
        }
    }
    if let Some((_, action)) = t.outstanding {
        t.actual.push(format!("(unanswered {action:?})"));
    }
    t.actual
}

/// Runs a transcript whole and in every chunk size; panics with a side-by-side diff.
fn check<P: Protocol>(name: &str, text: &str) {
    let want: Vec<String> = text
        .lines()
        .map(norm)
        .filter(|l| is_expected::<P>(l))
        .collect();
    let got = run::<P>(text, 0, false);
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
        assert_eq!(
            run::<P>(text, chunk, false),
            want,
            "{name}: chunks of {chunk} bytes"
        );
    }
}

/// The directory of `P`'s transcripts.
pub(crate) fn dir<P: Protocol>() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(P::NAME)
}

/// Checks every transcript of `P` (there must be at least `min`), reporting all failures
/// together. `<NAME>_GOLDEN=part` (e.g. `IMAP_GOLDEN=fetch`) runs only the files whose name
/// contains `part`.
pub(crate) fn check_all<P: Protocol>(min: usize) {
    let dir = dir::<P>();
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    names.sort();
    assert!(
        names.len() >= min,
        "transcripts missing in {}",
        dir.display()
    );
    let only = std::env::var(format!("{}_GOLDEN", P::NAME.to_uppercase())).ok();
    let mut failures = Vec::new();
    for path in &names {
        let text = std::fs::read_to_string(path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if only.as_ref().is_some_and(|o| !name.contains(o.as_str())) {
            continue;
        }
        if let Err(e) = std::panic::catch_unwind(|| check::<P>(&name, &text)) {
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
