//! The queue file format, pure (no I/O): a small text header with the envelope and the
//! delivery state, a blank line, then the message bytes exactly as received.
//!
//! ```text
//! rmail-queue 1
//! sender a@example.com
//! arrival 1700000000
//! attempts 2
//! next 1700000600
//! error connect%20to%20mx.example.org:%20Connection%20refused
//! rcpt b@example.org b@example.org
//! size 1234
//!
//! <1234 bytes of message>
//! ```
//!
//! Every value is escaped so that it is one token without white space: the bytes below
//! `0x21`, `0x7f` and `%` become `%XX` (upper-case hex). `error` is optional; `rcpt` repeats
//! (address, then original recipient); times are whole seconds since the Unix epoch.
//!
//! Invariants: [`encode_header`] then [`parse_header`] gives the same [`QueueEntry`] back; a file
//! is whole exactly when its length is the header length plus `size` (this is how a
//! truncated file is recognised); nothing panics on any input.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The first line of every queue file (format version 1).
pub const MAGIC: &str = "rmail-queue 1";

/// A header larger than this is taken for garbage (about 100,000 recipients).
pub const MAX_HEADER: usize = 16 << 20;

/// One recipient still to be delivered, with the address the client originally gave
/// (RFC 3461 §4.2 ORCPT; kept so that a DSN can name it after alias expansion).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// Where to deliver now.
    pub address: String,
    /// The `RCPT TO` address this one came from (equal to `address` when not rewritten).
    pub original: String,
}

impl Recipient {
    /// A recipient that is its own original.
    pub fn new(address: &str) -> Recipient {
        Recipient {
            address: address.to_owned(),
            original: address.to_owned(),
        }
    }
}

/// A queue ID: 12 upper-case hex digits, the arrival second (8) and a per-message part
/// (4), like Postfix's short IDs (10–12 hex digits); IDs sort by arrival second. Only
/// [`QueueId::parse`] and the queue make them, so an ID is always safe as a file name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QueueId(String);

impl QueueId {
    /// Length of every ID.
    pub const LEN: usize = 12;

    /// Accepts exactly [`QueueId::LEN`] characters `0-9A-F` (e.g. from `rmail queue -d ID`);
    /// `None` otherwise (so `../x` can never name a file).
    pub fn parse(s: &str) -> Option<QueueId> {
        (s.len() == Self::LEN
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)))
        .then(|| QueueId(s.to_owned()))
    }

    /// Builds the ID for arrival second `secs` and per-message part `part`.
    pub(crate) fn from_parts(secs: u32, part: u16) -> QueueId {
        QueueId(format!("{secs:08X}{part:04X}"))
    }

    /// The ID as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for QueueId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One queued message's envelope and delivery state (everything but the message bytes), as
/// stored in its queue file's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueEntry {
    /// The message's queue ID (its file name; not stored in the header).
    pub id: QueueId,
    /// Envelope sender; empty for the null reverse-path `<>`.
    pub sender: String,
    /// Recipients not yet delivered (nor bounced), in `RCPT` order.
    pub recipients: Vec<Recipient>,
    /// When the message was received.
    pub arrival: SystemTime,
    /// How many delivery attempts have failed temporarily so far.
    pub attempts: u32,
    /// Not to be tried before this time.
    pub next_attempt: SystemTime,
    /// The last temporary failure's diagnostic (remote reply or local error), if any.
    pub last_error: Option<String>,
    /// Length of the message in bytes.
    pub size: u64,
}

/// Seconds since the epoch (0 for earlier times).
pub fn to_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The inverse of [`to_secs`] (saturating far in the future).
pub fn from_secs(s: u64) -> SystemTime {
    UNIX_EPOCH
        .checked_add(Duration::from_secs(s))
        .unwrap_or(UNIX_EPOCH + Duration::from_secs(u32::MAX as u64))
}

/// `%XX`-escapes the bytes of `s` below `0x21`, `0x7f` and `%`.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if (c as u32) < 0x21 || c == '\u{7f}' || c == '%' {
            out.push_str(&format!("%{:02X}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Undoes [`escape`]; `None` for a malformed escape or bytes that are not UTF-8.
pub fn unescape(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The header of a queue file for `meta` (all fields but `id`), blank line included.
pub fn encode_header(meta: &QueueEntry) -> Vec<u8> {
    let mut h = String::with_capacity(128 + 64 * meta.recipients.len());
    h.push_str(MAGIC);
    h.push('\n');
    h.push_str(&format!("sender {}\n", escape(&meta.sender)));
    h.push_str(&format!("arrival {}\n", to_secs(meta.arrival)));
    h.push_str(&format!("attempts {}\n", meta.attempts));
    h.push_str(&format!("next {}\n", to_secs(meta.next_attempt)));
    if let Some(e) = &meta.last_error {
        h.push_str(&format!("error {}\n", escape(e)));
    }
    for r in &meta.recipients {
        h.push_str(&format!(
            "rcpt {} {}\n",
            escape(&r.address),
            escape(&r.original)
        ));
    }
    h.push_str(&format!("size {}\n\n", meta.size));
    h.into_bytes()
}

/// Parses the header at the start of `buf`. `Ok(None)`: no blank line yet (read more);
/// `Ok(Some((meta, header_len)))`: the message starts at `header_len`; `Err(reason)`: not a
/// queue file of ours, or a damaged one.
pub fn parse_header(id: &QueueId, buf: &[u8]) -> Result<Option<(QueueEntry, usize)>, String> {
    let Some(end) = memchr::memmem::find(buf, b"\n\n") else {
        if buf.len() > MAX_HEADER {
            return Err("header too long".into());
        }
        if !MAGIC
            .as_bytes()
            .starts_with(&buf[..buf.len().min(MAGIC.len())])
        {
            return Err("not a queue file".into());
        }
        return Ok(None);
    };
    let text = std::str::from_utf8(&buf[..end]).map_err(|_| "header is not UTF-8".to_owned())?;
    let mut lines = text.split('\n');
    if lines.next() != Some(MAGIC) {
        return Err("not a queue file (bad first line)".into());
    }
    let mut sender = None;
    let mut arrival = None;
    let mut attempts = 0u32;
    let mut next = None;
    let mut last_error = None;
    let mut recipients = Vec::new();
    let mut size = None;
    let num = |v: &str, what: &str| -> Result<u64, String> {
        v.parse::<u64>().map_err(|_| format!("bad {what} value"))
    };
    let val = |v: &str, what: &str| -> Result<String, String> {
        unescape(v).ok_or_else(|| format!("bad {what} value"))
    };
    for line in lines {
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        match key {
            "sender" => sender = Some(val(value, "sender")?),
            "arrival" => arrival = Some(from_secs(num(value, "arrival")?)),
            "attempts" => {
                attempts = u32::try_from(num(value, "attempts")?).unwrap_or(u32::MAX);
            }
            "next" => next = Some(from_secs(num(value, "next")?)),
            "error" => last_error = Some(val(value, "error")?),
            "rcpt" => {
                let (a, o) = value
                    .split_once(' ')
                    .ok_or_else(|| "bad rcpt line".to_owned())?;
                recipients.push(Recipient {
                    address: val(a, "rcpt")?,
                    original: val(o, "rcpt")?,
                });
            }
            "size" => size = Some(num(value, "size")?),
            _ => return Err(format!("unknown header line {:?}", truncate(line, 40))),
        }
    }
    let (Some(sender), Some(arrival), Some(size)) = (sender, arrival, size) else {
        return Err("missing sender, arrival or size".into());
    };
    let meta = QueueEntry {
        id: id.clone(),
        sender,
        recipients,
        arrival,
        attempts,
        next_attempt: next.unwrap_or(arrival),
        last_error,
        size,
    };
    Ok(Some((meta, end + 2)))
}

fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> QueueId {
        QueueId::parse("65538A0012AB").unwrap()
    }

    fn meta() -> QueueEntry {
        QueueEntry {
            id: id(),
            sender: "a b%@x".into(),
            recipients: vec![
                Recipient::new("r1@example.org"),
                Recipient {
                    address: "üser@example.org".into(),
                    original: "alias@example.org".into(),
                },
            ],
            arrival: from_secs(1_700_000_000),
            attempts: 3,
            next_attempt: from_secs(1_700_000_600),
            last_error: Some("450 4.2.0 try\r\nlater\t%".into()),
            size: 12,
        }
    }

    #[test]
    fn round_trip() {
        let m = meta();
        let mut file = encode_header(&m);
        let hl = file.len();
        file.extend_from_slice(b"Subject: x\n\n");
        let (back, len) = parse_header(&id(), &file).unwrap().unwrap();
        assert_eq!(back, m);
        assert_eq!(len, hl);
        let empty = QueueEntry {
            sender: String::new(),
            last_error: None,
            recipients: vec![],
            ..m
        };
        let (back, _) = parse_header(&id(), &encode_header(&empty))
            .unwrap()
            .unwrap();
        assert_eq!(back, empty);
    }

    #[test]
    fn ids() {
        assert!(QueueId::parse("65538A0012AB").is_some());
        for bad in [
            "",
            "65538a0012ab",
            "65538A0012A",
            "65538A0012ABC",
            "../../etc/pw",
            "65538A0012AG",
        ] {
            assert!(QueueId::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(QueueId::from_parts(0x65538A00, 0x12AB), id());
    }

    #[test]
    fn escaping() {
        for s in ["", "a", "a b", "%", "%%41", "ü\u{7f}\n", "\u{0}x"] {
            let e = escape(s);
            assert!(!e.bytes().any(|b| b <= b' ' || b == 0x7f), "{e:?}");
            assert_eq!(unescape(&e).as_deref(), Some(s));
        }
        assert_eq!(unescape("%4"), None);
        assert_eq!(unescape("%zz"), None);
        assert_eq!(unescape("%FF"), None);
    }

    #[test]
    fn incomplete_and_hostile() {
        let full = encode_header(&meta());
        for n in 0..full.len() - 1 {
            assert_eq!(parse_header(&id(), &full[..n]), Ok(None), "{n}");
        }
        assert!(parse_header(&id(), b"garbage\n\n").is_err());
        assert!(parse_header(&id(), b"GARB").is_err());
        assert!(parse_header(&id(), b"rmail-queue 1\nsender x\n\n").is_err());
        assert!(parse_header(&id(), b"rmail-queue 1\nsender x\narrival 1\nsize z\n\n").is_err());
        assert!(parse_header(
            &id(),
            b"rmail-queue 1\nsender x\narrival 1\nsize 1\nrcpt a\n\n"
        )
        .is_err());
        assert!(parse_header(&id(), b"rmail-queue 1\nbogus\n\n").is_err());
        assert!(parse_header(&id(), b"rmail-queue 1\nsender \xff\n\n").is_err());
        // Every byte flipped or cut: no panic.
        for i in 0..full.len() {
            let mut f = full.clone();
            f[i] ^= 0x55;
            let _ = parse_header(&id(), &f);
            let _ = parse_header(&id(), &full[i..]);
        }
    }
}
