//! A message for the terminal: the `From_` line, the header filtered by `ignore`/`retain`
//! (`Print`/`Type` show all) and RFC 2047-decoded, a `Status:` line reflecting this session,
//! then the body with MIME decoded (RFC 2045–2049) by [`crate::message::mime`].

use std::io::{self, Write};
use std::process::{Command, Stdio};

use super::session::Session;
use crate::message::{charset, header, mime};
use crate::store::mbox::Field;

/// What part of a message to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `print`/`type`: filtered header and whole body.
    Print,
    /// `Print`/`Type`: every header field.
    PrintAll,
    /// `top`: filtered header and the first `n` body lines.
    Top(usize),
    /// `pipe`/`write`: the body only.
    BodyOnly,
}

/// Renders message `n` (1-based) of the open folder. Errors: the mailbox could not be read.
pub fn render(s: &Session, n: usize, mode: Mode) -> io::Result<String> {
    let f = s.folder.as_ref().expect("folder open");
    let i = n - 1;
    let raw = f.src.read_message(i)?;
    let (hdr, body) = split_message(&raw);
    let mut out = String::with_capacity(raw.len() + 64);
    if mode != Mode::BodyOnly {
        if let Some(fl) = f.src.field(i, Field::FromLine) {
            out.push_str("From ");
            out.push_str(&String::from_utf8_lossy(fl));
            out.push('\n');
        }
        let st = &f.msgs[i];
        let letters = format!(
            "{}{}",
            if st.read { "R" } else { "" },
            if st.new { "" } else { "O" }
        );
        for field in header::split_fields(hdr) {
            let lname = field.name.to_ascii_lowercase();
            if lname == "status" {
                // Shown last, from this session's state, as s-nail does.
                continue;
            }
            if !shown(s, &lname, mode) {
                continue;
            }
            out.push_str(&field.name);
            out.push_str(": ");
            out.push_str(&field_text(&field.value));
            out.push('\n');
        }
        if !letters.is_empty() && shown(s, "status", mode) {
            out.push_str(&format!("Status: {letters}\n"));
        }
        out.push('\n');
    }
    let text = body_text(&raw, hdr, body);
    match mode {
        Mode::Top(lines) => {
            for l in text.split_inclusive('\n').take(lines) {
                out.push_str(l);
            }
        }
        _ => out.push_str(&text),
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    // The blank line that separates messages in the mbox closes each shown message, as in
    // mailx's output (`nihao`, blank line, `& `).
    if matches!(mode, Mode::Print | Mode::PrintAll) {
        out.push('\n');
    }
    Ok(out)
}

fn shown(s: &Session, lname: &str, mode: Mode) -> bool {
    match mode {
        Mode::PrintAll => true,
        _ if !s.retained.is_empty() => s.retained.contains(lname),
        _ => !s.ignored.contains(lname),
    }
}

/// A header value for display: encoded-words decoded (folding removed), raw 8-bit decoded,
/// plain ASCII kept as written (folding kept). Control characters other than tab and the
/// folding line ends are replaced so a hostile header cannot drive the terminal.
fn field_text(value: &[u8]) -> String {
    let text = if memchr::memmem::find(value, b"=?").is_some() {
        header::decode_words(value)
    } else {
        charset::decode_guess(value)
    };
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                '?'
            } else {
                c
            }
        })
        .collect()
}

/// Splits a message (LF line ends) into header block and body at the first empty line.
pub fn split_message(raw: &[u8]) -> (&[u8], &[u8]) {
    if raw.first() == Some(&b'\n') {
        return (&raw[..0], &raw[1..]);
    }
    match memchr::memmem::find(raw, b"\n\n") {
        Some(p) => (&raw[..p + 1], &raw[p + 2..]),
        None => (raw, &raw[raw.len()..]),
    }
}

/// The body as text: MIME-decoded when the header declares MIME, else the bytes as they are
/// (UTF-8, or guessed for raw 8-bit).
fn body_text(raw: &[u8], hdr: &[u8], body: &[u8]) -> String {
    let mime = header::split_fields(hdr).iter().any(|f| {
        f.name.eq_ignore_ascii_case("content-type")
            || f.name.eq_ignore_ascii_case("content-transfer-encoding")
            || f.name.eq_ignore_ascii_case("mime-version")
    });
    let text = if mime {
        mime::render_body(raw)
    } else {
        charset::decode_guess(body)
    };
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' && c != '\r' && c != '\x0c' {
                '?'
            } else {
                c
            }
        })
        .collect()
}

/// Writes `text` to the terminal, through `PAGER` (default `more`) when stdout is a terminal,
/// `crt` is set and the text is longer than `crt` lines (or the screen, when `crt` has no
/// value).
pub fn page(s: &Session, text: &str) -> io::Result<()> {
    let lines = text.lines().count();
    let crt = match s.vars.get("crt") {
        None => None,
        Some("") => super::session::terminal_size().map(|(_, r)| r),
        Some(v) => v.trim().parse::<usize>().ok(),
    };
    let use_pager = crt.is_some_and(|c| lines > c) && super::session::terminal_size().is_some();
    if use_pager {
        let pager = s
            .vars
            .get("PAGER")
            .map(str::to_owned)
            .or_else(|| std::env::var("PAGER").ok())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "more".into());
        if let Ok(mut child) = Command::new("/bin/sh")
            .arg("-c")
            .arg(&pager)
            .stdin(Stdio::piped())
            .spawn()
        {
            if let Some(mut stdin) = child.stdin.take() {
                let _ = stdin.write_all(text.as_bytes());
            }
            let _ = child.wait();
            return Ok(());
        }
    }
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_at_blank_line() {
        assert_eq!(
            split_message(b"A: b\n\nbody\n"),
            (&b"A: b\n"[..], &b"body\n"[..])
        );
        assert_eq!(split_message(b"\nbody"), (&b""[..], &b"body"[..]));
        assert_eq!(split_message(b"A: b\n"), (&b"A: b\n"[..], &b""[..]));
    }

    #[test]
    fn control_characters_in_headers_neutralised() {
        assert_eq!(field_text(b"a\x1b[31mred"), "a?[31mred");
    }
}
