//! Splits client input into whole IMAP commands: lines and the literals they announce
//! (RFC 3501 §4.3 `{n}`, RFC 7888 `{n+}`), with caps, before any parsing.
//!
//! Framing first and parsing second keeps literal bytes from ever being read as commands
//! (imap-codec's fragmentizer does the same; ours also normalises bare LF line ends to
//! CRLF, enforces a per-line cap without buffering a line past it, and discards an
//! over-size non-synchronizing literal without keeping its bytes).
//!
//! Invariants: memory held is at most one line ([`LINE_MAX`]) of unprocessed input plus the
//! current command (at most [`COMMAND_MAX`], or an APPEND's literal cap plus
//! [`COMMAND_MAX`]); no byte is looked at twice.

/// The longest line (without its LF), in octets. A longer line ends the connection
/// (`* BYE`), as Dovecot does for an over-long argument.
pub const LINE_MAX: usize = 65_536;

/// The most a command other than APPEND may hold, lines and literals together, in octets.
pub const COMMAND_MAX: usize = 1 << 20;

/// What the framer found in the input.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Frame {
    /// Not enough input.
    Incomplete,
    /// A synchronizing literal within the caps was announced: send a continuation request
    /// (`+ OK`), then go on.
    Continue,
    /// A whole command: its lines (CRLF) and literals.
    Command(Vec<u8>),
    /// A command refused as too big (a literal over its cap), its literal bytes not kept;
    /// `tag` is the command's tag when it has a valid one, `append` whether it was APPEND.
    TooBig { tag: Option<String>, append: bool },
    /// A line over [`LINE_MAX`]: close the connection.
    LineTooLong,
}

/// Where the framer is within a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Line,
    /// Inside a literal, this many octets left.
    Literal(u64),
}

/// The receiver (see the module doc).
#[derive(Debug)]
pub(super) struct Framer {
    /// Received bytes; `input[..pos]` are processed.
    input: Vec<u8>,
    pos: usize,
    /// The current command so far.
    msg: Vec<u8>,
    mode: Mode,
    /// The current command is being discarded as too big.
    skipping: bool,
    /// The current command's tag and whether it is APPEND, from its first line.
    tag: Option<String>,
    append: bool,
}

impl Framer {
    pub(super) fn new() -> Framer {
        Framer {
            input: Vec::new(),
            pos: 0,
            msg: Vec::new(),
            mode: Mode::Line,
            skipping: false,
            tag: None,
            append: false,
        }
    }

    /// Adds received bytes.
    pub(super) fn push(&mut self, bytes: &[u8]) {
        if self.pos > 0 && self.pos == self.input.len() {
            self.input.clear();
            self.pos = 0;
        }
        self.input.extend_from_slice(bytes);
    }

    /// Unprocessed input octets.
    pub(super) fn pending(&self) -> usize {
        self.input.len() - self.pos
    }

    /// Takes the unprocessed input (for a hand-over to another process); nothing is left.
    pub(super) fn take_pending(&mut self) -> Vec<u8> {
        let rest = self.input.split_off(self.pos);
        *self = Framer::new();
        rest
    }

    /// Drops all input and any partial command (after STARTTLS, RFC 3501 §6.2.1).
    pub(super) fn clear(&mut self) {
        *self = Framer::new();
    }

    /// Frees processed input.
    pub(super) fn compact(&mut self) {
        if self.pos > 0 {
            self.input.drain(..self.pos);
            self.pos = 0;
        }
    }

    /// The next line as is (without CRLF/LF), for SASL responses and IDLE's `DONE`, which
    /// have no literals. `Err(())` for a line over [`LINE_MAX`].
    pub(super) fn raw_line(&mut self) -> Option<Result<Vec<u8>, ()>> {
        let buf = &self.input[self.pos..];
        match memchr::memchr(b'\n', buf) {
            Some(i) if i > LINE_MAX => Some(Err(())),
            Some(i) => {
                let line = strip_cr(&buf[..i]).to_vec();
                self.pos += i + 1;
                Some(Ok(line))
            }
            None if buf.len() > LINE_MAX => Some(Err(())),
            None => None,
        }
    }

    /// Frames as far as the input goes; `append_max` caps an APPEND literal.
    pub(super) fn next(&mut self, append_max: u64) -> Frame {
        loop {
            match self.mode {
                Mode::Literal(left) => {
                    let avail = (self.input.len() - self.pos) as u64;
                    if avail == 0 {
                        return Frame::Incomplete;
                    }
                    let take = left.min(avail) as usize;
                    if !self.skipping {
                        self.msg
                            .extend_from_slice(&self.input[self.pos..self.pos + take]);
                    }
                    self.pos += take;
                    let left = left - take as u64;
                    self.mode = if left == 0 {
                        Mode::Line
                    } else {
                        Mode::Literal(left)
                    };
                }
                Mode::Line => {
                    let buf = &self.input[self.pos..];
                    let Some(i) = memchr::memchr(b'\n', buf) else {
                        if buf.len() > LINE_MAX {
                            return Frame::LineTooLong;
                        }
                        return Frame::Incomplete;
                    };
                    if i > LINE_MAX {
                        return Frame::LineTooLong;
                    }
                    let line = strip_cr(&buf[..i]).to_vec();
                    self.pos += i + 1;
                    if let Some(f) = self.line(&line, append_max) {
                        return f;
                    }
                }
            }
        }
    }

    /// Takes one complete line of the current command; `Some` when the caller must act.
    fn line(&mut self, line: &[u8], append_max: u64) -> Option<Frame> {
        if self.msg.is_empty() && !self.skipping {
            let (tag, append) = first_line(line);
            self.tag = tag;
            self.append = append;
        }
        let announce = announced(line);
        if !self.skipping {
            match (announce, line.strip_suffix(b"+}")) {
                // A non-synchronizing literal8 `~{n+}` (RFC 7888 with RFC 3516): imap-codec
                // only parses `~{n}`, and synchronizing is the framer's business anyway.
                (Some((_, false)), Some(head))
                    if head
                        .iter()
                        .rposition(|&b| b == b'{')
                        .is_some_and(|o| o > 0 && head[o - 1] == b'~') =>
                {
                    self.msg.extend_from_slice(head);
                    self.msg.push(b'}');
                }
                _ => self.msg.extend_from_slice(line),
            }
            self.msg.extend_from_slice(b"\r\n");
        }
        let Some((len, sync)) = announce else {
            return Some(self.finish());
        };
        let cap = if self.append {
            append_max
        } else {
            COMMAND_MAX.saturating_sub(self.msg.len()) as u64
        };
        if self.skipping || len > cap || self.msg.len() > COMMAND_MAX {
            self.skipping = true;
            if sync {
                // The client waits for our go-ahead, which never comes: the command ends.
                return Some(self.finish());
            }
            self.mode = Mode::Literal(len);
            return None;
        }
        self.mode = Mode::Literal(len);
        sync.then_some(Frame::Continue)
    }

    /// Ends the current command.
    fn finish(&mut self) -> Frame {
        self.mode = Mode::Line;
        let tag = self.tag.take();
        let append = std::mem::take(&mut self.append);
        if std::mem::take(&mut self.skipping) {
            self.msg = Vec::new();
            Frame::TooBig { tag, append }
        } else {
            Frame::Command(std::mem::take(&mut self.msg))
        }
    }
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The literal a line announces at its end (RFC 3501 §9 `literal`, RFC 7888
/// `literal-nonsync`): `(length, synchronizing)`.
fn announced(line: &[u8]) -> Option<(u64, bool)> {
    let body = line.strip_suffix(b"}")?;
    let (body, sync) = match body.strip_suffix(b"+") {
        Some(b) => (b, false),
        None => (body, true),
    };
    let open = body.iter().rposition(|&b| b == b'{')?;
    let digits = &body[open + 1..];
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some((n, sync))
}

/// The tag of a command line (RFC 3501 §9 `tag`: astring-chars but `+`, at most 64 here)
/// and whether the command is APPEND.
fn first_line(line: &[u8]) -> (Option<String>, bool) {
    let mut words = line.splitn(3, |&b| b == b' ');
    let tag = words.next().filter(|t| valid_tag(t));
    let append = words
        .next()
        .is_some_and(|w| w.eq_ignore_ascii_case(b"APPEND"));
    (tag.map(|t| String::from_utf8_lossy(t).into_owned()), append)
}

/// Whether `t` is a tag we echo: 1 to 64 `tag` characters (RFC 3501 §9).
pub(super) fn valid_tag(t: &[u8]) -> bool {
    !t.is_empty()
        && t.len() <= 64
        && t.iter()
            .all(|&b| b > 0x20 && b < 0x7f && !b"(){%*\"\\+".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &[u8], chunk: usize) -> Vec<Frame> {
        let mut f = Framer::new();
        let mut out = Vec::new();
        for piece in input.chunks(chunk.max(1)) {
            f.push(piece);
            loop {
                match f.next(100) {
                    Frame::Incomplete => break,
                    Frame::LineTooLong => {
                        out.push(Frame::LineTooLong);
                        return out;
                    }
                    other => out.push(other),
                }
            }
            f.compact();
        }
        out
    }

    #[test]
    fn lines_and_literals() {
        let input = b"a NOOP\nb LOGIN {3}\r\nfoo {3+}\r\nbar\r\nc APPEND x {5}\r\nhello\r\n";
        let want = vec![
            Frame::Command(b"a NOOP\r\n".to_vec()),
            Frame::Continue,
            Frame::Command(b"b LOGIN {3}\r\nfoo {3+}\r\nbar\r\n".to_vec()),
            Frame::Continue,
            Frame::Command(b"c APPEND x {5}\r\nhello\r\n".to_vec()),
        ];
        for chunk in 1..=input.len() {
            assert_eq!(frames(input, chunk), want, "chunk {chunk}");
        }
    }

    #[test]
    fn too_big() {
        // APPEND cap 100 in `frames`; a sync literal over it ends the command at once.
        let input = b"a APPEND x {101}\r\nb NOOP\r\nc APPEND x {200+}\r\n";
        let mut rest = input.to_vec();
        rest.extend_from_slice(&[b'x'; 200]);
        rest.extend_from_slice(b" more\r\nd NOOP\r\n");
        let want = vec![
            Frame::TooBig {
                tag: Some("a".into()),
                append: true,
            },
            Frame::Command(b"b NOOP\r\n".to_vec()),
            Frame::TooBig {
                tag: Some("c".into()),
                append: true,
            },
            Frame::Command(b"d NOOP\r\n".to_vec()),
        ];
        for chunk in [1, 2, 7, 64, 1000] {
            assert_eq!(frames(&rest, chunk), want, "chunk {chunk}");
        }
        let big = format!("e LOGIN {{{}}}\r\n", COMMAND_MAX + 1);
        assert_eq!(
            frames(big.as_bytes(), 5),
            [Frame::TooBig {
                tag: Some("e".into()),
                append: false
            }]
        );
    }

    #[test]
    fn long_lines_and_hostile() {
        let long = vec![b'a'; LINE_MAX + 2];
        assert_eq!(frames(&long, 4096), [Frame::LineTooLong]);
        assert_eq!(announced(b"x {99999999999999999999}"), None);
        assert_eq!(announced(b"x {}"), None);
        assert_eq!(announced(b"x {12+}"), Some((12, false)));
        assert!(!valid_tag(b"a+b"));
        assert!(valid_tag(b"A001"));
    }

    #[test]
    fn nonsync_literal8_is_rewritten() {
        let mut f = Framer::new();
        f.push(b"a APPEND INBOX ~{3+}\r\nx\x00y\r\nb X {2+}\r\nab ~{1+}\r\n");
        match f.next(100) {
            Frame::Command(c) => assert_eq!(c, b"a APPEND INBOX ~{3}\r\nx\x00y\r\n"),
            _ => panic!("no command"),
        }
        // Only literal8 is rewritten; `~` elsewhere, or a plain literal, stays.
        f.push(b"\x01\r\nc X ~{+}\r\nd X ~\r\n");
        match f.next(100) {
            Frame::Command(c) => assert_eq!(c, b"b X {2+}\r\nab ~{1}\r\n\x01\r\n"),
            _ => panic!("no command"),
        }
        match f.next(100) {
            Frame::Command(c) => assert_eq!(c, b"c X ~{+}\r\n"),
            _ => panic!("no command"),
        }
        match f.next(100) {
            Frame::Command(c) => assert_eq!(c, b"d X ~\r\n"),
            _ => panic!("no command"),
        }
    }
}
