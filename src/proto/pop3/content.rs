//! Message content on the wire (RFC 1939 §3, §7): lines converted to CRLF and byte-stuffed
//! for a multi-line response, TOP's cut (headers, blank line, first `n` body lines), and
//! unique-id listings checked against RFC 1939 §7's syntax.
//!
//! Stored messages may end lines in LF (mbox, Maildir) or CRLF; both become CRLF. A CR not
//! followed by LF is an ordinary byte. A last line without a line end gets a CRLF, so the
//! terminating `.` line always starts a line.

/// The size of a message as POP3 sends it, in octets: every line ending in CRLF, before
/// byte-stuffing (RFC 1939 §5's "exact size"; what LIST and STAT report). Use it for
/// [`MsgInfo::size`](super::MsgInfo::size) so that LIST agrees with RETR's `+OK N octets`.
pub fn message_size(content: &[u8]) -> u64 {
    let mut size = 0u64;
    for_each_line(content, None, |line| size += line.len() as u64 + 2);
    size
}

/// The unique-id listing to send for `uid` (RFC 1939 §7: 1 to 70 characters in
/// 0x21..=0x7E). A valid one is returned as is; anything else becomes `~` followed by 32 hex
/// digits of its 128-bit FNV-1a digest: stable across sessions and versions (so clients do
/// not download everything again) and valid, at the cost of a negligible collision risk.
pub fn wire_uid(uid: &str) -> String {
    let valid = (1..=70).contains(&uid.len()) && uid.bytes().all(|b| (0x21..=0x7e).contains(&b));
    if valid {
        return uid.to_string();
    }
    // FNV-1a, 128-bit (offset basis and prime from the FNV specification).
    let mut hash: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for b in uid.bytes() {
        hash ^= u128::from(b);
        hash = hash.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
    }
    format!("~{hash:032x}")
}

/// Appends the multi-line body of a RETR (`top` = `None`) or TOP response to `out`: the
/// content in CRLF lines, each line starting with `.` stuffed with another (RFC 1939 §3),
/// then the terminating `.` line. With `Some(n)`: the header lines, the blank line after
/// them, and the first `n` body lines (RFC 1939 §7 TOP); a message without a blank line is
/// all header. Returns the octets of the content before stuffing (what [`message_size`]
/// gives for the part sent).
pub(crate) fn write_body(content: &[u8], top: Option<u32>, out: &mut Vec<u8>) -> u64 {
    let mut size = 0u64;
    for_each_line(content, top, |line| {
        size += line.len() as u64 + 2;
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    });
    out.extend_from_slice(b".\r\n");
    size
}

/// Calls `f` with each line of `content` without its line end (LF or CRLF); with
/// `Some(n)`, only the header lines, the blank line and `n` body lines.
fn for_each_line(content: &[u8], top: Option<u32>, mut f: impl FnMut(&[u8])) {
    // Body lines still allowed once the header ends; `None` while in the header or when
    // everything is wanted.
    let mut budget: Option<u32> = None;
    let mut rest = content;
    while !rest.is_empty() {
        let (line, next) = match memchr::memchr(b'\n', rest) {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = next;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match (top, &mut budget) {
            (Some(_), Some(0)) => return,
            (Some(_), Some(n)) => *n -= 1,
            (Some(n), None) if line.is_empty() => budget = Some(n),
            _ => {}
        }
        f(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(content: &[u8], top: Option<u32>) -> (u64, String) {
        let mut out = Vec::new();
        let n = write_body(content, top, &mut out);
        (n, String::from_utf8(out).unwrap())
    }

    #[test]
    fn crlf_conversion_and_stuffing() {
        assert_eq!(body(b"", None), (0, ".\r\n".into()));
        assert_eq!(body(b"a\nb", None), (6, "a\r\nb\r\n.\r\n".into()));
        assert_eq!(
            body(b".\r\n..x\n.\nend\r\n", None),
            (16, "..\r\n...x\r\n..\r\nend\r\n.\r\n".into())
        );
        assert_eq!(body(b"a\rb\n", None), (5, "a\rb\r\n.\r\n".into()));
        assert_eq!(body(b"\n\n", None), (4, "\r\n\r\n.\r\n".into()));
        assert_eq!(message_size(b".\r\n..x\n.\nend\r\n"), 16);
        assert_eq!(message_size(b"x"), 3);
    }

    #[test]
    fn top_cuts_after_the_header() {
        let m = b"A: 1\nB: 2\n\nl1\n.l2\nl3\n";
        assert_eq!(body(m, Some(0)), (14, "A: 1\r\nB: 2\r\n\r\n.\r\n".into()));
        assert_eq!(
            body(m, Some(2)),
            (23, "A: 1\r\nB: 2\r\n\r\nl1\r\n..l2\r\n.\r\n".into())
        );
        assert_eq!(body(m, Some(9)).1, body(m, None).1);
        assert_eq!(body(b"A: 1\nB: 2", Some(0)).1, "A: 1\r\nB: 2\r\n.\r\n");
        assert_eq!(body(b"\nbody\n", Some(0)).1, "\r\n.\r\n");
    }

    #[test]
    fn uids() {
        assert_eq!(
            wire_uid("whqtswO00WBw418f9t5JxYwZ"),
            "whqtswO00WBw418f9t5JxYwZ"
        );
        assert_eq!(wire_uid(&"x".repeat(70)), "x".repeat(70));
        for bad in ["", "a b", "é", &"x".repeat(71), "a\r\n+OK"] {
            let w = wire_uid(bad);
            assert_eq!(w.len(), 33, "{bad:?}");
            assert!(w.bytes().all(|b| (0x21..=0x7e).contains(&b)));
            assert_eq!(w, wire_uid(bad));
        }
        assert_ne!(wire_uid("a b"), wire_uid("a  b"));
    }
}
