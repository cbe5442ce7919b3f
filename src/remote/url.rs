//! Folder URLs: `imap://`, `imaps://`, `pop3://`, `pop3s://` (s-nail's and mutt's forms,
//! RFC 5092 and RFC 2384 in spirit): `SCHEME://[USER@]HOST[:PORT][/MAILBOX][?starttls]`.
//!
//! - The user part is percent-decoded (`alice%40qq.com` is `alice@qq.com`); a password in
//!   the URL (`user:pass@`) is refused, since the URL is shown in banners and errors.
//! - The mailbox (IMAP only) is percent-decoded; missing or empty means `INBOX`.
//! - `imaps`/`pop3s` are TLS from the first byte (ports 993/995, RFC 8314); `imap`/`pop3`
//!   are cleartext (143/110) unless `?starttls` asks for STARTTLS/STLS (RFC 2595), which is
//!   then required.
//! - `pop://` and `pops://` are accepted as other spellings of `pop3://` and `pop3s://`.

use std::fmt;

/// Which protocol a folder URL speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// IMAP4 (RFC 3501/9051).
    Imap,
    /// POP3 (RFC 1939).
    Pop3,
}

/// How a connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (`imaps`, `pop3s`).
    Tls,
    /// Cleartext, then STARTTLS/STLS before anything else; refused when not offered.
    StartTls,
    /// Cleartext throughout (allowed, with a warning unless the host is loopback).
    Plain,
}

/// A parsed folder URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderUrl {
    /// IMAP or POP3.
    pub protocol: Protocol,
    /// TLS mode.
    pub security: Security,
    /// The login name (percent-decoded), when given.
    pub user: Option<String>,
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// Port: given, else 993/143 (IMAP) or 995/110 (POP3).
    pub port: u16,
    /// The IMAP mailbox (percent-decoded, `INBOX` when none was given); always `INBOX` for
    /// POP3.
    pub mailbox: String,
}

/// Why a string is not a usable folder URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad folder URL \"{url}\": {reason}")]
pub struct UrlError {
    /// The URL as given, any password part replaced by `…`.
    pub url: String,
    /// What is wrong.
    pub reason: String,
}

/// Whether `s` starts with one of the folder URL schemes (ASCII case-insensitive), i.e.
/// should be parsed with [`FolderUrl::parse`] rather than taken as a path.
pub fn is_folder_url(s: &str) -> bool {
    scheme_of(s).is_some()
}

fn scheme_of(s: &str) -> Option<(Protocol, Security, &str)> {
    let (scheme, rest) = s.split_once("://")?;
    let (p, sec) = match scheme.to_ascii_lowercase().as_str() {
        "imap" => (Protocol::Imap, Security::Plain),
        "imaps" => (Protocol::Imap, Security::Tls),
        "pop3" | "pop" => (Protocol::Pop3, Security::Plain),
        "pop3s" | "pops" => (Protocol::Pop3, Security::Tls),
        _ => return None,
    };
    Some((p, sec, rest))
}

impl FolderUrl {
    /// Parses `s`. Errors: not one of the four schemes, a password in the URL, a bad
    /// `%`-escape, no host, a bad port, an unknown `?` option, a mailbox on a POP3 URL.
    pub fn parse(s: &str) -> Result<FolderUrl, UrlError> {
        let bad = |reason: &str| UrlError {
            url: redact(s),
            reason: reason.to_owned(),
        };
        let (protocol, mut security, rest) =
            scheme_of(s).ok_or_else(|| bad("the scheme is not imap, imaps, pop3 or pop3s"))?;
        if s.chars().any(char::is_control) {
            return Err(bad("control characters"));
        }
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        if let Some(q) = query {
            for opt in q.split('&').filter(|o| !o.is_empty()) {
                match opt.to_ascii_lowercase().as_str() {
                    "starttls" | "stls" | "tls=starttls" if security == Security::Plain => {
                        security = Security::StartTls
                    }
                    "starttls" | "stls" | "tls=starttls" => {
                        return Err(bad("?starttls goes with imap:// or pop3://, not with TLS"))
                    }
                    _ => return Err(bad(&format!("unknown option \"{opt}\""))),
                }
            }
        }
        let (authority, path) = match rest.split_once('/') {
            Some((a, p)) => (a, p),
            None => (rest, ""),
        };
        let (user, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => {
                if u.contains(':') {
                    return Err(bad(
                        "a password in the URL is not accepted (use password-command or ~/.netrc)",
                    ));
                }
                let u = percent_decode(u).ok_or_else(|| bad("bad %-escape in the user name"))?;
                (Some(u).filter(|u| !u.is_empty()), h)
            }
            None => (None, authority),
        };
        let (host, port) = split_host_port(hostport).ok_or_else(|| bad("bad host or port"))?;
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = match port {
            Some(0) => return Err(bad("port 0")),
            Some(p) => p,
            None => match (protocol, security) {
                (Protocol::Imap, Security::Tls) => 993,
                (Protocol::Imap, _) => 143,
                (Protocol::Pop3, Security::Tls) => 995,
                (Protocol::Pop3, _) => 110,
            },
        };
        let path = path.trim_end_matches('/');
        let mailbox = if path.is_empty() {
            "INBOX".to_owned()
        } else {
            if protocol == Protocol::Pop3 && !path.eq_ignore_ascii_case("INBOX") {
                return Err(bad("POP3 has only the INBOX"));
            }
            percent_decode(path).ok_or_else(|| bad("bad %-escape in the mailbox name"))?
        };
        let mailbox = if mailbox.eq_ignore_ascii_case("INBOX") {
            "INBOX".to_owned()
        } else {
            mailbox
        };
        Ok(FolderUrl {
            protocol,
            security,
            user,
            host: host.to_owned(),
            port,
            mailbox,
        })
    }

    /// The same account's mailbox `name` (IMAP).
    pub fn with_mailbox(&self, name: &str) -> FolderUrl {
        FolderUrl {
            mailbox: name.to_owned(),
            ..self.clone()
        }
    }

    /// Whether `other` is on the same server as the same user (so a copy between them can
    /// stay on the server).
    pub fn same_account(&self, other: &FolderUrl) -> bool {
        self.protocol == other.protocol
            && self.host.eq_ignore_ascii_case(&other.host)
            && self.port == other.port
            && self.user == other.user
    }

    /// Whether the host is a loopback name or address (`localhost`, 127/8, `::1`), where a
    /// cleartext login draws no warning.
    pub fn is_loopback(&self) -> bool {
        let h = self.host.trim_end_matches('.').to_ascii_lowercase();
        h == "localhost"
            || h.ends_with(".localhost")
            || h.parse::<std::net::IpAddr>()
                .is_ok_and(|a| a.is_loopback() || is_mapped_loopback(&a))
    }

    /// The URL for people to read: as [`fmt::Display`] writes it, but the mailbox name as
    /// it is (`…/Café`, `…/My Stuff`), not percent-encoded. Not for parsing back.
    pub fn shown(&self) -> String {
        let url = self.to_string();
        if self.protocol != Protocol::Imap {
            return url;
        }
        let encoded = percent_encode(&self.mailbox, true);
        match url.rsplit_once(&format!("/{encoded}")) {
            Some((head, tail)) => format!("{head}/{}{tail}", self.mailbox),
            None => url,
        }
    }

    /// `host:port` as shown in messages (`[v6]:port` for IPv6 addresses).
    pub fn host_port(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

fn is_mapped_loopback(a: &std::net::IpAddr) -> bool {
    match a {
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        std::net::IpAddr::V4(_) => false,
    }
}

impl fmt::Display for FolderUrl {
    /// The URL in canonical form (scheme lower-case, user percent-encoded, port always
    /// shown, `?starttls` when asked); the round trip through [`FolderUrl::parse`] is exact.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match (self.protocol, self.security) {
            (Protocol::Imap, Security::Tls) => "imaps",
            (Protocol::Imap, _) => "imap",
            (Protocol::Pop3, Security::Tls) => "pop3s",
            (Protocol::Pop3, _) => "pop3",
        };
        write!(f, "{scheme}://")?;
        if let Some(u) = &self.user {
            write!(f, "{}@", percent_encode(u, false))?;
        }
        write!(f, "{}/", self.host_port())?;
        if self.protocol == Protocol::Imap {
            write!(f, "{}", percent_encode(&self.mailbox, true))?;
        }
        if self.security == Security::StartTls {
            write!(f, "?starttls")?;
        }
        Ok(())
    }
}

/// `host[:port]`, `[v6][:port]`; `None` for a bad port or bracket. Shared with the SMTP
/// URL parser.
pub(crate) fn split_host_port(s: &str) -> Option<(&str, Option<u16>)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        return match after {
            "" => Some((h, None)),
            p => Some((h, Some(p.strip_prefix(':')?.parse().ok()?))),
        };
    }
    match s.rsplit_once(':') {
        Some((h, p)) => Some((h, Some(p.parse().ok()?))),
        None => Some((s, None)),
    }
}

/// RFC 3986 §2.1 percent-decoding; `None` for a bad escape or invalid UTF-8. Shared with
/// the SMTP URL parser.
pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Percent-encodes everything but unreserved characters (and `/` inside a mailbox path).
fn percent_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The URL with any `user:password@` reduced to `user:…@`.
fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let authority_end = rest.find('/').unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@') {
            if let Some(colon) = rest[..at].find(':') {
                return format!("{scheme}://{}:…{}", &rest[..colon], &rest[at..]);
            }
        }
    }
    url.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_forms() {
        let u = FolderUrl::parse("imaps://alice%40qq.com@imap.qq.com").unwrap();
        assert_eq!(u.protocol, Protocol::Imap);
        assert_eq!(u.security, Security::Tls);
        assert_eq!(u.user.as_deref(), Some("alice@qq.com"));
        assert_eq!((u.host.as_str(), u.port), ("imap.qq.com", 993));
        assert_eq!(u.mailbox, "INBOX");
        assert_eq!(
            u.to_string(),
            "imaps://alice%40qq.com@imap.qq.com:993/INBOX"
        );

        let u = FolderUrl::parse("imap://bob@127.0.0.1:1143/Sent%20Items?starttls").unwrap();
        assert_eq!(u.security, Security::StartTls);
        assert_eq!(u.mailbox, "Sent Items");
        assert!(u.is_loopback());
        assert_eq!(FolderUrl::parse(&u.to_string()).unwrap(), u);
        assert_eq!(u.shown(), "imap://bob@127.0.0.1:1143/Sent Items?starttls");

        let u = FolderUrl::parse("POP3S://me@pop.example.org/").unwrap();
        assert_eq!(
            (u.protocol, u.security, u.port),
            (Protocol::Pop3, Security::Tls, 995)
        );
        let u = FolderUrl::parse("pop3://me@[::1]:1110").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 1110));
        assert_eq!(u.host_port(), "[::1]:1110");
        assert!(u.is_loopback());
        assert_eq!(FolderUrl::parse("imap://h/inbox").unwrap().mailbox, "INBOX");
        assert_eq!(FolderUrl::parse("imap://h/a/b/").unwrap().mailbox, "a/b");
        assert!(!FolderUrl::parse("imap://imap.qq.com")
            .unwrap()
            .is_loopback());
    }

    #[test]
    fn refusals() {
        for bad in [
            "http://h/",
            "imap://",
            "imap://u:secret@h/",
            "imap://h:0/",
            "imap://h:99999/",
            "imap://h/%zz",
            "imaps://h/?starttls",
            "imap://h/?bogus",
            "pop3://h/Sent",
            "imap://h/a\nb",
        ] {
            let e = FolderUrl::parse(bad).unwrap_err();
            assert!(!e.to_string().contains("secret"), "{e}");
        }
        assert!(is_folder_url("IMAPS://x"));
        assert!(!is_folder_url("/var/mail/x"));
        assert!(!is_folder_url("+inbox"));
    }

    #[test]
    fn same_account() {
        let a = FolderUrl::parse("imaps://u@h/INBOX").unwrap();
        assert!(a.same_account(&FolderUrl::parse("imaps://u@H:993/Sent").unwrap()));
        assert!(!a.same_account(&FolderUrl::parse("imaps://v@h/Sent").unwrap()));
        assert_eq!(a.with_mailbox("Sent").mailbox, "Sent");
    }
}
