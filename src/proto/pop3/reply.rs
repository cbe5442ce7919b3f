//! POP3 status lines (RFC 1939 §3): `+OK text` or `-ERR text`, with the extended response
//! codes of RFC 2449 §8 (`[IN-USE]`, `[LOGIN-DELAY]`) and RFC 3206 (`[SYS/TEMP]`,
//! `[SYS/PERM]`, `[AUTH]`) on `-ERR`.
//!
//! A [`Reply`] is the one place an outcome carries its wire form: the session builds them,
//! and the I/O layer builds the `-ERR` ones it reports (a locked maildrop, a read error).
//!
//! Invariants: the wire form is one line ending in CRLF, at most 512 octets (RFC 1939 §3);
//! CR or LF inside the text is written as a space and a longer text is cut at a character
//! boundary, so a reply can never inject a second line.

use std::fmt;

/// RFC 1939 §3: a response is at most 512 octets with its CRLF.
const REPLY_MAX: usize = 512;

/// An extended response code in brackets after `-ERR` (RFC 2449 §8, RFC 3206).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RespCode {
    /// `[IN-USE]` (RFC 2449 §8.1.1): the maildrop is locked by another session.
    InUse,
    /// `[LOGIN-DELAY]` (RFC 2449 §8.1.2): logging in again too soon.
    LoginDelay,
    /// `[AUTH]` (RFC 3206 §5): the credentials are wrong or not acceptable, not a system
    /// problem.
    Auth,
    /// `[SYS/TEMP]` (RFC 3206 §4): a temporary system problem; trying later may work.
    SysTemp,
    /// `[SYS/PERM]` (RFC 3206 §4): a permanent system problem needing the administrator.
    SysPerm,
}

impl RespCode {
    /// The code as written inside the brackets: `IN-USE`, `SYS/TEMP`.
    pub fn as_str(self) -> &'static str {
        match self {
            RespCode::InUse => "IN-USE",
            RespCode::LoginDelay => "LOGIN-DELAY",
            RespCode::Auth => "AUTH",
            RespCode::SysTemp => "SYS/TEMP",
            RespCode::SysPerm => "SYS/PERM",
        }
    }
}

/// One POP3 status line: `+OK text`, `-ERR text` or `-ERR [CODE] text`.
///
/// `Display` and [`Reply::to_bytes`] give the wire form with its CRLF; an empty text gives
/// a bare `+OK` / `-ERR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// `+OK` (true) or `-ERR` (false).
    pub ok: bool,
    /// The response code, written only on `-ERR` (RFC 2449 §8 defines none for `+OK`).
    pub code: Option<RespCode>,
    /// The text after the status (and code).
    pub text: String,
}

impl Reply {
    /// `+OK text`.
    pub fn ok(text: impl Into<String>) -> Reply {
        Reply {
            ok: true,
            code: None,
            text: text.into(),
        }
    }

    /// `-ERR text` or `-ERR [CODE] text`: `Reply::err(Some(RespCode::InUse), "Mailbox is
    /// locked by another POP3 session.")`.
    pub fn err(code: Option<RespCode>, text: impl Into<String>) -> Reply {
        Reply {
            ok: false,
            code,
            text: text.into(),
        }
    }

    /// The wire form, CRLF-terminated (same as `Display`).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut line = String::from(if self.ok { "+OK" } else { "-ERR" });
        if let (false, Some(code)) = (self.ok, self.code) {
            line.push_str(" [");
            line.push_str(code.as_str());
            line.push(']');
        }
        if !self.text.is_empty() {
            line.push(' ');
            for c in self.text.chars() {
                // RFC 1939 §3: the line is at most 512 octets with its CRLF.
                if line.len() + c.len_utf8() > REPLY_MAX - 2 {
                    break;
                }
                line.push(if c == '\r' || c == '\n' { ' ' } else { c });
            }
        }
        f.write_str(&line)?;
        f.write_str("\r\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(Reply::ok("").to_string(), "+OK\r\n");
        assert_eq!(Reply::ok("2 320").to_string(), "+OK 2 320\r\n");
        assert_eq!(Reply::err(None, "no").to_string(), "-ERR no\r\n");
        assert_eq!(
            Reply::err(Some(RespCode::InUse), "locked").to_string(),
            "-ERR [IN-USE] locked\r\n"
        );
        assert_eq!(
            Reply::err(Some(RespCode::SysTemp), "").to_string(),
            "-ERR [SYS/TEMP]\r\n"
        );
        let mut r = Reply::ok("x");
        r.code = Some(RespCode::Auth);
        assert_eq!(r.to_string(), "+OK x\r\n");
    }

    #[test]
    fn no_line_injection_and_bounded_length() {
        let r = Reply::err(Some(RespCode::SysPerm), "a\r\n+OK b\n");
        assert_eq!(r.to_string(), "-ERR [SYS/PERM] a  +OK b \r\n");
        let long = Reply::err(None, "é".repeat(600)).to_string();
        assert!(
            long.len() <= 512 && long.ends_with("é\r\n"),
            "{}",
            long.len()
        );
        assert_eq!(long.matches("\r\n").count(), 1);
    }
}
