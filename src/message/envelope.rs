//! The SMTP envelope (RFC 5321 §2.3.1), separate from the message's own headers.

/// What `MAIL FROM` and `RCPT TO` said for one message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Envelope {
    /// The envelope sender (reverse-path) without angle brackets; empty for the null
    /// reverse-path `<>` (bounces, RFC 5321 §4.5.5).
    pub sender: String,
    /// The recipients (forward-paths) without angle brackets, in `RCPT` order.
    pub recipients: Vec<String>,
}
