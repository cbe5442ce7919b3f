//! Message content receivers: DATA with its end-of-data mark and dot-unstuffing
//! (RFC 5321 §4.1.1.4, §4.5.2), BDAT chunks (RFC 3030 §2), and the size cap.
//!
//! Hardening against SMTP smuggling (CVE-2023-51764/51765/51766, SEC Consult 2023): only
//! `<CRLF>.<CRLF>` ends DATA, and a bare LF or a bare CR anywhere in the content is a
//! protocol violation reported to the session (which replies 521 and closes, like Postfix 3.9
//! with `smtpd_forbid_bare_newline = reject`; Postfix does not treat bare CR so, rmail does).
//! So `\n.\r\n`, `\r\n.\n`, `\r.\r` neither end the data nor reach the queue. BDAT content
//! gets the same bare CR/LF check unless it is `BODY=BINARYMIME`, since a message received
//! in chunks may later be relayed with DATA.
//!
//! Invariants: both receivers consume input as it comes, never holding a partial line, so
//! memory is the stored content, at most the cap ([`Sink`]); content past the cap is counted
//! and dropped. Text lines longer than RFC 5321 §4.5.3.1.6's 1,000 octets are accepted, as
//! Postfix does; only the total size is limited.

/// The stored content of one message, capped: past `cap` octets everything is dropped and
/// [`Sink::overflow`] is set (the session then replies `552 5.3.4` at the end of the data).
#[derive(Debug)]
pub(crate) struct Sink {
    pub data: Vec<u8>,
    cap: u64,
    pub overflow: bool,
}

impl Sink {
    /// An empty sink holding at most `cap` octets.
    pub fn new(cap: u64) -> Sink {
        Sink {
            data: Vec::new(),
            cap,
            overflow: false,
        }
    }

    /// Appends `bytes`, or drops them (and frees what was stored) once over the cap.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.overflow {
            return;
        }
        if self.data.len() as u64 + bytes.len() as u64 > self.cap {
            self.overflow = true;
            self.data = Vec::new();
        } else {
            self.data.extend_from_slice(bytes);
        }
    }
}

/// A protocol violation found in content or a command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bare {
    /// LF not preceded by CR.
    Lf,
    /// CR not followed by LF.
    Cr,
}

/// What [`Dot::feed`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DataEvent {
    /// All input consumed; the end of data has not come yet.
    NeedMore,
    /// `<CRLF>.<CRLF>` seen (and consumed).
    End,
    /// A bare CR or LF (input consumed up to it).
    Bare(Bare),
}

/// Where the DATA receiver is within a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dot {
    /// At the start of a line (right after a CRLF, or after DATA's own CRLF).
    LineStart,
    /// A `.` opened the line and has not been stored.
    Period,
    /// Inside a line.
    Mid,
    /// A CR was seen; `dot_line`: the line so far is just the `.`.
    Cr { dot_line: bool },
}

impl Dot {
    /// Reads DATA content from `input` into `sink`, undoing dot-stuffing (RFC 5321 §4.5.2:
    /// a line's leading `.` is dropped when more follows on the line). Returns how many
    /// bytes were consumed and what was found; content lines are stored with their CRLF.
    pub fn feed(&mut self, input: &[u8], sink: &mut Sink) -> (usize, DataEvent) {
        let mut i = 0;
        while i < input.len() {
            match *self {
                Dot::LineStart => match input[i] {
                    b'.' => {
                        *self = Dot::Period;
                        i += 1;
                    }
                    _ => *self = Dot::Mid,
                },
                Dot::Period => match input[i] {
                    b'\r' => {
                        *self = Dot::Cr { dot_line: true };
                        i += 1;
                    }
                    _ => *self = Dot::Mid,
                },
                Dot::Mid => match memchr::memchr2(b'\r', b'\n', &input[i..]) {
                    None => {
                        sink.push(&input[i..]);
                        i = input.len();
                    }
                    Some(n) => {
                        sink.push(&input[i..i + n]);
                        i += n;
                        if input[i] == b'\n' {
                            return (i, DataEvent::Bare(Bare::Lf));
                        }
                        *self = Dot::Cr { dot_line: false };
                        i += 1;
                    }
                },
                Dot::Cr { dot_line } => {
                    if input[i] != b'\n' {
                        return (i, DataEvent::Bare(Bare::Cr));
                    }
                    i += 1;
                    if dot_line {
                        return (i, DataEvent::End);
                    }
                    sink.push(b"\r\n");
                    *self = Dot::LineStart;
                }
            }
        }
        (i, DataEvent::NeedMore)
    }
}

/// The bare CR/LF check for BDAT chunks, carried across chunk boundaries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct LineCheck {
    /// The last byte seen was a CR.
    cr: bool,
}

impl LineCheck {
    /// Checks the next piece of content.
    pub fn scan(&mut self, bytes: &[u8]) -> Result<(), Bare> {
        let mut i = 0;
        if self.cr {
            match bytes.first() {
                None => return Ok(()),
                Some(b'\n') => {
                    self.cr = false;
                    i = 1;
                }
                Some(_) => return Err(Bare::Cr),
            }
        }
        while let Some(n) = memchr::memchr2(b'\r', b'\n', &bytes[i..]) {
            let at = i + n;
            if bytes[at] == b'\n' {
                return Err(Bare::Lf);
            }
            match bytes.get(at + 1) {
                None => {
                    self.cr = true;
                    return Ok(());
                }
                Some(b'\n') => i = at + 2,
                Some(_) => return Err(Bare::Cr),
            }
        }
        Ok(())
    }

    /// Checks the end of the content: a CR left hanging is bare.
    pub fn finish(&self) -> Result<(), Bare> {
        if self.cr {
            Err(Bare::Cr)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in chunks of `n` bytes; returns the stored content, the event, and the
    /// total consumed.
    fn run(input: &[u8], n: usize) -> (Vec<u8>, DataEvent, usize) {
        let mut dot = Dot::LineStart;
        let mut sink = Sink::new(1 << 20);
        let mut used = 0;
        for chunk in input.chunks(n) {
            let (u, ev) = dot.feed(chunk, &mut sink);
            used += u;
            if ev != DataEvent::NeedMore {
                return (sink.data, ev, used);
            }
        }
        (sink.data, DataEvent::NeedMore, used)
    }

    fn all_chunkings(input: &[u8]) -> (Vec<u8>, DataEvent, usize) {
        let whole = run(input, input.len().max(1));
        for n in 1..=input.len().max(1) {
            assert_eq!(run(input, n), whole, "chunk size {n}");
        }
        whole
    }

    #[test]
    fn end_of_data_and_unstuffing() {
        let (d, ev, used) = all_chunkings(b"a\r\n..b\r\n.c\r\n..\r\n.\r\nMAIL");
        assert_eq!(d, b"a\r\n.b\r\nc\r\n.\r\n");
        assert_eq!(ev, DataEvent::End);
        assert_eq!(used, 19);
        let (d, ev, _) = all_chunkings(b".\r\n");
        assert_eq!((d.as_slice(), ev), (&b""[..], DataEvent::End));
    }

    #[test]
    fn smuggling_marks_are_refused() {
        assert_eq!(all_chunkings(b"x\n.\r\n").1, DataEvent::Bare(Bare::Lf));
        assert_eq!(all_chunkings(b"x\r\n.\nMAIL").1, DataEvent::Bare(Bare::Lf));
        assert_eq!(all_chunkings(b"x\r.\r").1, DataEvent::Bare(Bare::Cr));
        assert_eq!(all_chunkings(b"x\r\n.\r.\r\n").1, DataEvent::Bare(Bare::Cr));
        assert_eq!(all_chunkings(b"\n").1, DataEvent::Bare(Bare::Lf));
        assert_eq!(all_chunkings(b"ab\r").1, DataEvent::NeedMore);
    }

    #[test]
    fn long_lines_pass_and_the_cap_drops_content() {
        let mut input = vec![b'x'; 5000];
        input.extend_from_slice(b"\r\n.\r\n");
        let (d, ev, _) = run(&input, 7);
        assert_eq!((d.len(), ev), (5002, DataEvent::End));
        let mut dot = Dot::LineStart;
        let mut sink = Sink::new(100);
        assert_eq!(dot.feed(&input, &mut sink).1, DataEvent::End);
        assert!(sink.overflow && sink.data.is_empty());
    }

    #[test]
    fn line_check_across_chunks() {
        let check = |pieces: &[&[u8]]| {
            let mut c = LineCheck::default();
            for p in pieces {
                c.scan(p)?;
            }
            c.finish()
        };
        assert_eq!(check(&[b"a\r", b"\nb\r\n"]), Ok(()));
        assert_eq!(check(&[b"a\r", b"", b"\n"]), Ok(()));
        assert_eq!(check(&[b"a\r", b"b"]), Err(Bare::Cr));
        assert_eq!(check(&[b"a\r"]), Err(Bare::Cr));
        assert_eq!(check(&[b"a\nb"]), Err(Bare::Lf));
        assert_eq!(check(&[b"a\r\r\n"]), Err(Bare::Cr));
    }

    #[test]
    fn hostile_content_does_not_panic() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..2000 {
            let mut input = Vec::new();
            for _ in 0..(seed % 64) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                input.push(b".\r\nx"[(seed % 4) as usize]);
            }
            let _ = all_chunkings(&input);
            let _ = LineCheck::default().scan(&input);
        }
    }
}
