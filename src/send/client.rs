//! A small blocking SMTP client (RFC 5321) for submission (`mta=smtp://…`) and for the
//! server's relay: EHLO (falling back to HELO), STARTTLS (RFC 3207), implicit TLS (RFC 8314),
//! AUTH PLAIN (RFC 4616), LOGIN and XOAUTH2 (RFC 4954 framing), `MAIL`/`RCPT`/`DATA` with
//! dot-stuffing (RFC 5321 §4.5.2), `QUIT`.
//!
//! Why our own and not lettre's: replies are read as bytes and decoded afterwards (UTF-8,
//! else GB18030 — QQ and NetEase answer in GBK, which lettre turns into an I/O error and
//! loses), and the relay needs the same client with opportunistic TLS.
//!
//! Invariants: every read and write has the configured timeout; a reply is capped at
//! [`MAX_REPLY`] octets; the message is sent with CRLF line ends, dot-stuffed, ending in
//! `CRLF.CRLF`; credentials are never part of an error or `Debug` output.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Most octets accepted in one (multi-line) reply before the server is called broken.
pub const MAX_REPLY: usize = 64 * 1024;

/// One server reply (RFC 5321 §4.2): the code and the text of each line, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit reply code.
    pub code: u16,
    /// The text after the code on each line (UTF-8, or GB18030 decoded when not UTF-8).
    pub lines: Vec<String>,
}

impl Reply {
    /// 2xx or 3xx.
    pub fn is_positive(&self) -> bool {
        (200..400).contains(&self.code)
    }

    /// 4xx: the attempt may succeed later.
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }
}

impl std::fmt::Display for Reply {
    /// `CODE text` with the lines joined by spaces, as shown to users.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.code)?;
        for l in &self.lines {
            write!(f, " {l}")?;
        }
        Ok(())
    }
}

/// What can go wrong talking to a server.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Connecting or reading/writing failed (refused, timed out, reset).
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The TLS handshake failed (certificate, protocol).
    #[error("TLS: {0}")]
    Tls(String),
    /// The server answered with a negative reply.
    #[error("{0}")]
    Reply(Reply),
    /// The server broke the protocol (garbage reply, reply too long, closed early).
    #[error("cannot understand the server: {0}")]
    Protocol(String),
}

impl ClientError {
    /// Whether a later retry may succeed (4xx replies, network and TLS trouble) — the
    /// relay's defer-or-bounce decision.
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Reply(r) => !(500..600).contains(&r.code),
            _ => true,
        }
    }
}

/// TLS settings for [`Client::connect`] and [`Client::starttls`].
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// Extra trusted CA certificates (PEM bytes, one or more certificates), besides the
    /// system roots.
    pub ca_pem: Option<Vec<u8>>,
    /// Accept any certificate and host name (opportunistic relay TLS, `tls-verify=ignore`).
    pub accept_invalid: bool,
}

impl TlsOptions {
    /// The connector these options describe (system roots plus `ca_pem`; verification off
    /// with `accept_invalid`). Errors: the CA file is not PEM, or OpenSSL refused.
    pub fn connector(&self) -> Result<native_tls::TlsConnector, ClientError> {
        self.builder()?
            .build()
            .map_err(|e| ClientError::Tls(e.to_string()))
    }

    /// The builder behind [`TlsOptions::connector`], for async wrappers that take a builder
    /// (`async_native_tls::TlsConnector::from`). Errors: the CA file is not PEM.
    pub fn builder(&self) -> Result<native_tls::TlsConnectorBuilder, ClientError> {
        let mut b = native_tls::TlsConnector::builder();
        if let Some(pem) = &self.ca_pem {
            // Every certificate of the file (a bundle, or several private CAs), not only the
            // first, which is all `Certificate::from_pem` reads.
            let bad = |e: &dyn std::fmt::Display| {
                ClientError::Tls(format!("cannot read the CA file: {e}"))
            };
            let stack = openssl::x509::X509::stack_from_pem(pem).map_err(|e| bad(&e))?;
            if stack.is_empty() {
                return Err(bad(&"no PEM certificate in it"));
            }
            for x509 in stack {
                let der = x509.to_der().map_err(|e| bad(&e))?;
                b.add_root_certificate(
                    native_tls::Certificate::from_der(&der).map_err(|e| bad(&e))?,
                );
            }
        }
        if self.accept_invalid {
            b.danger_accept_invalid_certs(true)
                .danger_accept_invalid_hostnames(true);
        }
        Ok(b)
    }
}

/// A client connection: cleartext TCP, TLS over TCP, or closed (after a failed STARTTLS).
/// Shared by the SMTP and POP3 clients.
pub(crate) enum Stream {
    /// Cleartext.
    Plain(TcpStream),
    /// TLS (implicit or after STARTTLS/STLS).
    Tls(Box<native_tls::TlsStream<TcpStream>>),
    /// Nothing left to read or write.
    Closed,
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
            Stream::Closed => Ok(0),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
            Stream::Closed => Err(io::ErrorKind::NotConnected.into()),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
            Stream::Closed => Ok(()),
        }
    }
}

/// The extensions a server listed in its EHLO reply (RFC 5321 §4.1.1.1).
#[derive(Debug, Clone, Default)]
pub struct Extensions {
    /// Keywords upper-cased, with their parameters as given.
    pub list: Vec<(String, String)>,
}

impl Extensions {
    fn parse(reply: &Reply) -> Extensions {
        let list = reply
            .lines
            .iter()
            .skip(1)
            .filter_map(|l| {
                let mut it = l.splitn(2, ' ');
                let kw = it.next()?.trim().to_ascii_uppercase();
                (!kw.is_empty()).then(|| (kw, it.next().unwrap_or("").trim().to_owned()))
            })
            .collect();
        Extensions { list }
    }

    /// Whether `keyword` (upper case) was listed.
    pub fn has(&self, keyword: &str) -> bool {
        self.list.iter().any(|(k, _)| k == keyword)
    }

    /// The AUTH mechanisms offered, upper-cased.
    pub fn auth_mechanisms(&self) -> Vec<String> {
        self.list
            .iter()
            .filter(|(k, _)| k == "AUTH")
            .flat_map(|(_, p)| p.split_whitespace().map(|m| m.to_ascii_uppercase()))
            .collect()
    }

    /// The `SIZE` limit in octets, when given (RFC 1870).
    pub fn size_limit(&self) -> Option<u64> {
        self.list
            .iter()
            .find(|(k, _)| k == "SIZE")
            .and_then(|(_, p)| p.parse().ok())
            .filter(|n| *n > 0)
    }
}

/// A SASL mechanism with its credentials. `Debug` never shows the secret.
#[derive(Clone)]
pub enum Sasl {
    /// PLAIN (RFC 4616): user and password.
    Plain(String, String),
    /// LOGIN (draft-murchison-sasl-login): user and password.
    Login(String, String),
    /// XOAUTH2 (Google/Microsoft): user and OAuth2 access token.
    Xoauth2(String, String),
}

impl std::fmt::Debug for Sasl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (m, u) = match self {
            Sasl::Plain(u, _) => ("PLAIN", u),
            Sasl::Login(u, _) => ("LOGIN", u),
            Sasl::Xoauth2(u, _) => ("XOAUTH2", u),
        };
        write!(f, "{m}({u}, <hidden>)")
    }
}

impl Sasl {
    /// The mechanism name on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            Sasl::Plain(..) => "PLAIN",
            Sasl::Login(..) => "LOGIN",
            Sasl::Xoauth2(..) => "XOAUTH2",
        }
    }
}

/// One connection to an SMTP server.
pub struct Client {
    stream: Stream,
    buf: Vec<u8>,
    host: String,
    timeout: Duration,
    /// What the last EHLO listed (empty after HELO).
    pub extensions: Extensions,
}

impl Client {
    /// Connects to `host:port` (each resolved address in turn, `timeout` each), with TLS
    /// from the first byte when `implicit_tls` is given, and reads the greeting. A negative
    /// greeting is [`ClientError::Reply`].
    pub fn connect(
        host: &str,
        port: u16,
        timeout: Duration,
        implicit_tls: Option<&TlsOptions>,
    ) -> Result<Client, ClientError> {
        let tcp = connect_tcp(host, port, timeout)?;
        let stream = match implicit_tls {
            Some(opts) => Stream::Tls(Box::new(handshake(opts, host, tcp)?)),
            None => Stream::Plain(tcp),
        };
        let mut c = Client {
            stream,
            buf: Vec::new(),
            host: host.to_owned(),
            timeout,
            extensions: Extensions::default(),
        };
        let greeting = c.read_reply()?;
        if greeting.code != 220 {
            return Err(ClientError::Reply(greeting));
        }
        Ok(c)
    }

    /// Whether the connection is encrypted.
    pub fn is_encrypted(&self) -> bool {
        matches!(self.stream, Stream::Tls(_))
    }

    /// The per-read/write timeout this client was made with.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// EHLO `name`, falling back to HELO when the server does not know EHLO (5xx).
    pub fn hello(&mut self, name: &str) -> Result<(), ClientError> {
        let r = self.command(&format!("EHLO {name}"))?;
        if r.code == 250 {
            self.extensions = Extensions::parse(&r);
            return Ok(());
        }
        if !(500..600).contains(&r.code) {
            return Err(ClientError::Reply(r));
        }
        self.extensions = Extensions::default();
        self.expect(&format!("HELO {name}"), 250).map(drop)
    }

    /// STARTTLS (RFC 3207) and a new EHLO over TLS. The caller checks
    /// `extensions.has("STARTTLS")` first when it must not fail on a server without it.
    pub fn starttls(&mut self, opts: &TlsOptions, hello: &str) -> Result<(), ClientError> {
        self.expect("STARTTLS", 220)?;
        // RFC 3207 §4.2: anything the server sent after 220 in cleartext is discarded.
        self.buf.clear();
        let tcp = match std::mem::replace(&mut self.stream, Stream::Closed) {
            Stream::Plain(t) => t,
            other => {
                self.stream = other;
                return Err(ClientError::Protocol("STARTTLS on a TLS connection".into()));
            }
        };
        self.stream = Stream::Tls(Box::new(handshake(opts, &self.host, tcp)?));
        self.hello(hello)
    }

    /// AUTH with `sasl` (RFC 4954): the initial response is sent with the command for
    /// PLAIN and XOAUTH2; LOGIN answers the two 334 prompts. Failure is the server's reply.
    pub fn auth(&mut self, sasl: &Sasl) -> Result<(), ClientError> {
        let r = match sasl {
            Sasl::Plain(u, p) => {
                let ir = b64(format!("\0{u}\0{p}").as_bytes());
                self.command(&format!("AUTH PLAIN {ir}"))?
            }
            Sasl::Xoauth2(u, token) => {
                let ir = b64(format!("user={u}\x01auth=Bearer {token}\x01\x01").as_bytes());
                let r = self.command(&format!("AUTH XOAUTH2 {ir}"))?;
                if r.code == 334 {
                    // The server sent an error description (base64 JSON); an empty line
                    // ends the exchange and brings the final reply.
                    self.command("")?
                } else {
                    r
                }
            }
            Sasl::Login(u, p) => {
                let r = self.command("AUTH LOGIN")?;
                if r.code != 334 {
                    return Err(ClientError::Reply(r));
                }
                let r = self.command(&b64(u.as_bytes()))?;
                if r.code != 334 {
                    return Err(ClientError::Reply(r));
                }
                self.command(&b64(p.as_bytes()))?
            }
        };
        if r.code == 235 {
            Ok(())
        } else {
            Err(ClientError::Reply(r))
        }
    }

    /// `MAIL FROM:<sender>` with ESMTP `params` (e.g. `BODY=8BITMIME`, `SMTPUTF8`).
    pub fn mail(&mut self, sender: &str, params: &[&str]) -> Result<(), ClientError> {
        let mut cmd = format!("MAIL FROM:<{sender}>");
        for p in params {
            cmd.push(' ');
            cmd.push_str(p);
        }
        self.expect(&cmd, 250).map(drop)
    }

    /// `RCPT TO:<rcpt>`; the server's reply whatever it is (the caller decides per
    /// recipient), or an I/O error.
    pub fn rcpt(&mut self, rcpt: &str) -> Result<Reply, ClientError> {
        self.command(&format!("RCPT TO:<{rcpt}>"))
    }

    /// `DATA`, then `message` (LF or CRLF line ends; converted to CRLF and dot-stuffed) and
    /// the final `.`; returns the server's final reply when positive.
    pub fn data(&mut self, message: &[u8]) -> Result<Reply, ClientError> {
        self.expect("DATA", 354)?;
        let wire = dot_stuff(message);
        self.stream.write_all(&wire)?;
        self.stream.flush()?;
        let r = self.read_reply()?;
        if r.code == 250 {
            Ok(r)
        } else {
            Err(ClientError::Reply(r))
        }
    }

    /// `RSET` (reply ignored beyond I/O errors).
    pub fn rset(&mut self) -> Result<(), ClientError> {
        self.command("RSET").map(drop)
    }

    /// `QUIT`, best effort: errors are ignored, the connection is closed.
    pub fn quit(mut self) {
        let _ = self.command("QUIT");
    }

    /// Sends `line` + CRLF (nothing for an empty `line` with no command) and reads the reply.
    pub fn command(&mut self, line: &str) -> Result<Reply, ClientError> {
        let mut out = Vec::with_capacity(line.len() + 2);
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
        self.stream.write_all(&out)?;
        self.stream.flush()?;
        self.read_reply()
    }

    fn expect(&mut self, line: &str, code: u16) -> Result<Reply, ClientError> {
        let r = self.command(line)?;
        if r.code == code {
            Ok(r)
        } else {
            Err(ClientError::Reply(r))
        }
    }

    /// Reads one complete reply: lines `CODE-text` until `CODE text` (RFC 5321 §4.2.1).
    pub fn read_reply(&mut self) -> Result<Reply, ClientError> {
        let mut lines = Vec::new();
        let mut code = None;
        loop {
            let line = self.read_line()?;
            let (c, last, text) = parse_reply_line(&line)?;
            if code.is_some_and(|k| k != c) {
                return Err(ClientError::Protocol(format!(
                    "reply code changed within a reply: {}",
                    String::from_utf8_lossy(&line)
                )));
            }
            code = Some(c);
            lines.push(crate::message::charset::decode_guess(text));
            if last {
                return Ok(Reply { code: c, lines });
            }
        }
    }

    fn read_line(&mut self) -> Result<Vec<u8>, ClientError> {
        loop {
            if let Some(i) = memchr::memchr(b'\n', &self.buf) {
                let mut line: Vec<u8> = self.buf.drain(..=i).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            if self.buf.len() > MAX_REPLY {
                return Err(ClientError::Protocol("reply too long".into()));
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(ClientError::Protocol(
                    "the server closed the connection".into(),
                ));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// A TCP connection to `host:port`: each resolved address in turn, `timeout` for each
/// attempt and then for every read and write; Nagle off (request/reply protocols).
/// Errors: the last address's error, or `NotFound` when the name resolves to nothing.
pub fn connect_tcp(host: &str, port: u16, timeout: Duration) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address found");
    for addr in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(tcp) => {
                tcp.set_read_timeout(Some(timeout))?;
                tcp.set_write_timeout(Some(timeout))?;
                let _ = tcp.set_nodelay(true);
                return Ok(tcp);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The TLS handshake on `tcp` for `host` with `opts` (the certificate must name `host`
/// unless `accept_invalid`). Shared by the SMTP and POP3 clients.
pub fn handshake(
    opts: &TlsOptions,
    host: &str,
    tcp: TcpStream,
) -> Result<native_tls::TlsStream<TcpStream>, ClientError> {
    let connector = opts.connector()?;
    connector.connect(host, tcp).map_err(|e| match e {
        native_tls::HandshakeError::Failure(e) => ClientError::Tls(e.to_string()),
        native_tls::HandshakeError::WouldBlock(_) => {
            ClientError::Tls("the handshake timed out".into())
        }
    })
}

/// Splits `250-text` / `250 text` / `250` into (code, is_last, text).
fn parse_reply_line(line: &[u8]) -> Result<(u16, bool, &[u8]), ClientError> {
    let bad = || {
        ClientError::Protocol(format!(
            "bad reply line {:?}",
            String::from_utf8_lossy(line)
        ))
    };
    if line.len() < 3 || !line[..3].iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    let code = u16::from(line[0] - b'0') * 100
        + u16::from(line[1] - b'0') * 10
        + u16::from(line[2] - b'0');
    if !(200..600).contains(&code) && !(100..200).contains(&code) {
        return Err(bad());
    }
    match line.get(3) {
        None => Ok((code, true, &[])),
        Some(b' ') => Ok((code, true, &line[4..])),
        Some(b'-') => Ok((code, false, &line[4..])),
        _ => Err(bad()),
    }
}

/// The message as it goes on the wire after `DATA`: CRLF line ends, a leading `.` doubled
/// (RFC 5321 §4.5.2), a final line end added when missing, then `.CRLF`.
pub fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 32 + 5);
    let mut at_line_start = true;
    let mut prev = 0u8;
    for &c in message {
        if at_line_start && c == b'.' {
            out.push(b'.');
        }
        if c == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(c);
        at_line_start = c == b'\n';
        prev = c;
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// Standard base64 with padding (RFC 4648 §4), as SASL needs it.
pub fn b64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk.len();
        let v = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= n {
                s.push(T[((v >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_vectors() {
        // RFC 4648 §10.
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(b64(i.as_bytes()), o);
        }
    }

    #[test]
    fn stuffing() {
        assert_eq!(dot_stuff(b"a\n.b\n..\n"), b"a\r\n..b\r\n...\r\n.\r\n");
        assert_eq!(dot_stuff(b".x"), b"..x\r\n.\r\n");
        assert_eq!(dot_stuff(b"a\r\n.\r\n"), b"a\r\n..\r\n.\r\n");
        assert_eq!(dot_stuff(b""), b".\r\n");
    }

    #[test]
    fn reply_lines() {
        assert_eq!(
            parse_reply_line(b"250-a b").unwrap(),
            (250, false, &b"a b"[..])
        );
        assert_eq!(parse_reply_line(b"250").unwrap(), (250, true, &b""[..]));
        assert!(parse_reply_line(b"25").is_err());
        assert!(parse_reply_line(b"abc def").is_err());
        assert!(parse_reply_line(b"250xyz").is_err());
        assert!(parse_reply_line(b"999 x").is_err());
    }

    #[test]
    fn gbk_reply_is_decoded() {
        // "550 邮箱不可用" in GBK.
        let (gbk, _, _) = encoding_rs::GBK.encode("邮箱不可用");
        let mut line = b"550 ".to_vec();
        line.extend_from_slice(&gbk);
        let (code, last, text) = parse_reply_line(&line).unwrap();
        assert_eq!((code, last), (550, true));
        assert_eq!(crate::message::charset::decode_guess(text), "邮箱不可用");
    }

    #[test]
    fn extensions() {
        let r = Reply {
            code: 250,
            lines: vec![
                "mx.test".into(),
                "SIZE 1000".into(),
                "auth PLAIN login".into(),
                "STARTTLS".into(),
            ],
        };
        let e = Extensions::parse(&r);
        assert!(e.has("STARTTLS"));
        assert_eq!(e.auth_mechanisms(), ["PLAIN", "LOGIN"]);
        assert_eq!(e.size_limit(), Some(1000));
    }

    #[test]
    fn secrets_hidden() {
        let s = format!("{:?}", Sasl::Plain("u".into(), "sekret".into()));
        assert!(!s.contains("sekret"));
    }
}
