//! Wire formats, pure: incremental receivers with size caps, command parsers and reply
//! writers. Nothing here does I/O or imports other modules of the crate except `message`.
//!
//! - [`smtp`]: the SMTP server protocol core (RFC 5321 and extensions), a state machine.

pub mod imap;
pub mod pop3;
pub mod smtp;

#[cfg(test)]
mod golden;

/// A login accepted by the network-facing process and continued by a process running as
/// the user (privilege separation, Dovecot's login/post-login split): POP3 and IMAP.
/// Sent over the pipe to that process as one header line
/// `rmail-handover 1 <tls 0|1> <user> <tag or -> <pending length>\n` and the pending
/// octets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Handover {
    /// The authenticated user.
    pub user: String,
    /// IMAP: the tag of the LOGIN/AUTHENTICATE still to be answered; POP3: empty.
    pub tag: String,
    /// Input received after the login command, not yet processed.
    pub pending: Vec<u8>,
    /// The client connection is under TLS (kept by the network-facing process).
    pub tls_active: bool,
}

impl Handover {
    /// The wire form (see the type's doc).
    pub fn encode(&self) -> Vec<u8> {
        let tag = if self.tag.is_empty() { "-" } else { &self.tag };
        let mut out = format!(
            "rmail-handover 1 {} {} {} {}\n",
            u8::from(self.tls_active),
            self.user,
            tag,
            self.pending.len()
        )
        .into_bytes();
        out.extend_from_slice(&self.pending);
        out
    }

    /// Parses a header line (without its LF); the pending length to read next.
    pub fn decode_header(line: &str) -> Option<(Handover, usize)> {
        let mut it = line.split(' ');
        if (it.next()?, it.next()?) != ("rmail-handover", "1") {
            return None;
        }
        let tls_active = it.next()? == "1";
        let user = it.next()?.to_owned();
        let tag = match it.next()? {
            "-" => String::new(),
            t => t.to_owned(),
        };
        let len: usize = it.next()?.parse().ok()?;
        if it.next().is_some() || user.is_empty() || len > MAX_HANDOVER_PENDING {
            return None;
        }
        Some((
            Handover {
                user,
                tag,
                pending: Vec::new(),
                tls_active,
            },
            len,
        ))
    }
}

/// The most pending input a hand-over carries (the sessions cap their buffers lower).
pub const MAX_HANDOVER_PENDING: usize = 2 << 20;

#[cfg(test)]
mod handover_tests {
    use super::Handover;

    #[test]
    fn round_trip() {
        let h = Handover {
            user: "alice".into(),
            tag: "a1".into(),
            pending: b"b SELECT INBOX\r\n".to_vec(),
            tls_active: true,
        };
        let wire = h.encode();
        let nl = wire.iter().position(|&b| b == b'\n').unwrap();
        let (mut back, len) =
            Handover::decode_header(std::str::from_utf8(&wire[..nl]).unwrap()).unwrap();
        back.pending = wire[nl + 1..nl + 1 + len].to_vec();
        assert_eq!(back, h);
        assert!(Handover::decode_header("rmail-handover 1 0 alice - 99999999999").is_none());
        assert!(Handover::decode_header("garbage").is_none());
    }
}
