//! SMTP replies (RFC 5321 §4.2) with enhanced status codes (RFC 3463, advertised as
//! ENHANCEDSTATUSCODES, RFC 2034).
//!
//! A [`Reply`] is the one place a protocol outcome carries its wire code: the session and the
//! [`Policy`](super::Policy) build them, and [`Reply::to_bytes`] / `Display` write the wire form.
//!
//! Invariants: the wire form always has at least one line, every line ends in CRLF, and CR or
//! LF inside a text line (e.g. from a policy's message) is written as a space, so a reply can
//! never inject a second reply line.

use std::fmt;

/// An enhanced status code `class.subject.detail` (RFC 3463 §2), e.g. `Enhanced(5, 1, 1)` for
/// "5.1.1 bad destination mailbox address". The class should agree with the first digit of
/// the reply code (2, 4 or 5); nothing checks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enhanced(pub u8, pub u16, pub u16);

impl fmt::Display for Enhanced {
    /// `5.1.1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// One SMTP reply, possibly multi-line (RFC 5321 §4.2.1).
///
/// `Display` gives the wire form: `250-first\r\n250-second\r\n250 last\r\n`, with the enhanced
/// code (when present) after the code on every line, as Postfix writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit reply code (RFC 5321 §4.2.2), 200–599.
    pub code: u16,
    /// The enhanced status code; `None` for replies that carry none (greeting, EHLO, 334,
    /// 354, as Postfix sends them).
    pub enhanced: Option<Enhanced>,
    /// The text lines, without code or line end; an empty list is written as one empty line.
    pub lines: Vec<String>,
}

impl Reply {
    /// A one-line reply with an enhanced status code: `Reply::new(550, Enhanced(5, 1, 1),
    /// "<u@h>: Recipient address rejected: User unknown")`.
    pub fn new(code: u16, enhanced: Enhanced, text: impl Into<String>) -> Reply {
        Reply {
            code,
            enhanced: Some(enhanced),
            lines: vec![text.into()],
        }
    }

    /// A one-line reply without an enhanced status code (`220 host ESMTP`, `354 …`, `334 …`).
    pub fn plain(code: u16, text: impl Into<String>) -> Reply {
        Reply {
            code,
            enhanced: None,
            lines: vec![text.into()],
        }
    }

    /// Whether this is a failure: a 4xx (transient) or 5xx (permanent) code.
    pub fn is_error(&self) -> bool {
        self.code >= 400
    }

    /// The wire form, CRLF line ends (same as `Display`).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl fmt::Display for Reply {
    /// The wire form; see the type's doc.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let empty = [String::new()];
        let lines: &[String] = if self.lines.is_empty() {
            &empty
        } else {
            &self.lines
        };
        for (i, line) in lines.iter().enumerate() {
            let sep = if i + 1 == lines.len() { ' ' } else { '-' };
            write!(f, "{}{}", self.code, sep)?;
            if let Some(e) = self.enhanced {
                write!(f, "{e} ")?;
            }
            // RFC 5321 §4.2: a text line cannot hold CR or LF.
            for c in line.chars() {
                let c = if c == '\r' || c == '\n' { ' ' } else { c };
                write!(f, "{c}")?;
            }
            f.write_str("\r\n")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_with_and_without_enhanced_code() {
        assert_eq!(
            Reply::new(250, Enhanced(2, 1, 0), "Ok").to_string(),
            "250 2.1.0 Ok\r\n"
        );
        assert_eq!(Reply::plain(334, "").to_string(), "334 \r\n");
    }

    #[test]
    fn multi_line_and_empty() {
        let r = Reply {
            code: 250,
            enhanced: None,
            lines: vec!["a".into(), "b".into(), "c".into()],
        };
        assert_eq!(r.to_string(), "250-a\r\n250-b\r\n250 c\r\n");
        let r = Reply {
            code: 214,
            enhanced: Some(Enhanced(2, 0, 0)),
            lines: vec!["x".into(), "y".into()],
        };
        assert_eq!(r.to_string(), "214-2.0.0 x\r\n214 2.0.0 y\r\n");
        let r = Reply {
            code: 250,
            enhanced: None,
            lines: vec![],
        };
        assert_eq!(r.to_string(), "250 \r\n");
    }

    #[test]
    fn line_breaks_in_text_cannot_inject_lines() {
        let r = Reply::new(550, Enhanced(5, 7, 1), "no\r\n250 ok\n");
        assert_eq!(r.to_string(), "550 5.7.1 no  250 ok \r\n");
        assert!(r.is_error());
    }
}
