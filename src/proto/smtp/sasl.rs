//! SASL for SMTP AUTH (RFC 4954): strict base64 (RFC 4648 §4) for the exchange, and the
//! PLAIN (RFC 4616) and LOGIN (draft-murchison-sasl-login) mechanisms' messages.
//!
//! Only parsing: the session hands the credentials out as [`Credentials`] and the server
//! checks them. Base64 here is strict, unlike MIME's (RFC 4954 §4: a response that is not
//! valid base64 is rejected with 501): only the standard alphabet, padding only at the end;
//! an unpadded final group is tolerated.

use std::fmt;

/// A SASL mechanism offered after EHLO (`AUTH PLAIN LOGIN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// RFC 4616: `authzid NUL authcid NUL passwd` in one response.
    Plain,
    /// The obsolete but common LOGIN: user name, then password, each in its own response.
    Login,
}

impl Mechanism {
    /// The mechanism named (case-insensitively) in an AUTH command.
    pub(crate) fn from_name(name: &[u8]) -> Option<Mechanism> {
        if name.eq_ignore_ascii_case(b"PLAIN") {
            Some(Mechanism::Plain)
        } else if name.eq_ignore_ascii_case(b"LOGIN") {
            Some(Mechanism::Login)
        } else {
            None
        }
    }
}

/// The credentials a client presented, for the server to check
/// ([`Session::auth_result`](super::Session::auth_result) takes the verdict).
/// `Debug` does not show the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// How they came.
    pub mechanism: Mechanism,
    /// The authorization identity (RFC 4616 §2): who to act as; empty when not given (then
    /// the same as `authcid`). Always empty for LOGIN. The server decides whether a
    /// different one is allowed (Postfix/Dovecot refuse it for ordinary users).
    pub authzid: String,
    /// The authentication identity: the user name whose password this is; never empty.
    pub authcid: String,
    /// The password, UTF-8; never empty.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("mechanism", &self.mechanism)
            .field("authzid", &self.authzid)
            .field("authcid", &self.authcid)
            .field("password", &"<hidden>")
            .finish()
    }
}

/// Decodes strict base64 (RFC 4648 §4). `None` on any byte outside the alphabet, padding
/// anywhere but the end, more than two `=`, or a final group of one character.
pub(crate) fn decode_base64(text: &[u8]) -> Option<Vec<u8>> {
    let body = text
        .strip_suffix(b"==")
        .or_else(|| text.strip_suffix(b"="))
        .unwrap_or(text);
    let padded = body.len() != text.len();
    if (padded && !text.len().is_multiple_of(4)) || body.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() / 4 * 3 + 2);
    let mut acc = 0u32;
    let mut bits = 0u32;
    for &b in body {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Parses a decoded PLAIN message (RFC 4616 §2): `[authzid] NUL authcid NUL passwd`, all
/// UTF-8, authcid and passwd non-empty. `None` when malformed.
pub(crate) fn plain(message: &[u8]) -> Option<Credentials> {
    let mut parts = message.split(|&b| b == 0);
    let authzid = utf8(parts.next()?)?;
    let authcid = utf8(parts.next()?)?;
    let password = utf8(parts.next()?)?;
    if parts.next().is_some() || authcid.is_empty() || password.is_empty() {
        return None;
    }
    Some(Credentials {
        mechanism: Mechanism::Plain,
        authzid,
        authcid,
        password,
    })
}

/// A decoded LOGIN response (user name or password): UTF-8 without NUL, non-empty.
pub(crate) fn login_field(message: &[u8]) -> Option<String> {
    if message.is_empty() || message.contains(&0) {
        return None;
    }
    utf8(message)
}

fn utf8(b: &[u8]) -> Option<String> {
    String::from_utf8(b.to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_base64() {
        assert_eq!(decode_base64(b"AHVzZXIAcGFzcw==").unwrap(), b"\0user\0pass");
        assert_eq!(decode_base64(b"AHVzZXIAcGFzcw").unwrap(), b"\0user\0pass");
        assert_eq!(decode_base64(b"dXNlcg==").unwrap(), b"user");
        assert_eq!(decode_base64(b"").unwrap(), b"");
        for bad in [
            &b"dX=Nlcg"[..],
            b"dXNlcg=",
            b"d",
            b"dXNl cg==",
            b"dXNlcg===",
            b"dXNlc*==",
        ] {
            assert_eq!(
                decode_base64(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(decode_base64(b"dXN").unwrap(), b"us");
    }

    #[test]
    fn plain_messages() {
        let c = plain(b"\0user\0pass").unwrap();
        assert_eq!(
            (c.authzid.as_str(), c.authcid.as_str(), c.password.as_str()),
            ("", "user", "pass")
        );
        assert_eq!(plain(b"admin\0user\0pass").unwrap().authzid, "admin");
        for bad in [
            &b"user\0pass"[..],
            b"\0\0pass",
            b"\0user\0",
            b"\0u\0p\0x",
            b"\0u\xff\0p",
            b"",
        ] {
            assert_eq!(plain(bad), None);
        }
        assert!(!format!("{c:?}").contains("pass\""));
    }

    #[test]
    fn login_fields() {
        assert_eq!(login_field(b"user").as_deref(), Some("user"));
        assert_eq!(login_field(b""), None);
        assert_eq!(login_field(b"a\0b"), None);
    }
}
