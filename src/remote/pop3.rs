//! A small blocking POP3 client: RFC 1939 (USER/PASS, STAT, LIST, UIDL, TOP, RETR, DELE,
//! RSET, NOOP, QUIT), RFC 2449 (CAPA and extended response codes), RFC 2595 (STLS) and
//! RFC 5034 (AUTH PLAIN, RFC 4616).
//!
//! Why our own and not a crate's: the available ones neither undo dot-stuffing nor build
//! with our TLS (native-tls); and server text is read as bytes and decoded afterwards
//! (UTF-8, else GB18030 — Chinese providers answer in GBK).
//!
//! Invariants: every read and write has the configured timeout; a status line is capped at
//! [`MAX_LINE`] octets and a multi-line response at [`Pop3Client::max_response`] octets;
//! multi-line bodies come back with the byte-stuffing undone (RFC 1939 §3), CRLF turned
//! into LF and the terminating `.` line removed; credentials are never sent over cleartext
//! unless the caller says so, and never appear in an error or in `Debug` output.
//!
//! Typical use:
//!
//! ```no_run
//! # use std::time::Duration;
//! # use rmail::remote::pop3::Pop3Client;
//! # use rmail::send::client::TlsOptions;
//! # fn main() -> Result<(), rmail::remote::pop3::Pop3Error> {
//! let tls = TlsOptions::default();
//! let mut c = Pop3Client::connect("pop.example.org", 995, Duration::from_secs(30), Some(&tls))?;
//! c.login("me", "secret", false)?;
//! let (count, _octets) = c.stat()?;
//! for (n, uid) in c.uidl()? {
//!     let message = c.retr(n)?;
//!     # let _ = (uid, message);
//! }
//! # let _ = count;
//! c.quit()?;
//! # Ok(())
//! # }
//! ```

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::send::client::{Stream, TlsOptions};

/// Most octets accepted in one status line (`+OK …`/`-ERR …`) and in one line of a
/// listing (CAPA, LIST, UIDL). RFC 1939 §3 allows 512; this is generous.
pub const MAX_LINE: usize = 64 * 1024;

/// The default cap on one multi-line response (a RETR or TOP body, a LIST or UIDL
/// listing), in octets as received: 64 MiB. Change it with
/// [`Pop3Client::set_max_response`].
pub const DEFAULT_MAX_RESPONSE: usize = 64 * 1024 * 1024;

/// How many commands [`Pop3Client::top_many`] sends at once to a server with PIPELINING:
/// about 1 KiB of commands, small enough for any socket buffer.
pub const PIPELINE_WINDOW: usize = 64;

/// A `-ERR` answer (RFC 1939 §3), with its RFC 2449 §8 response code split off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerError {
    /// The command that was refused (its verb only, e.g. `PASS`; never its arguments), or
    /// `greeting` when the server refused the connection.
    pub command: String,
    /// The extended response code without brackets (RFC 2449 §8, RFC 3206), upper-cased:
    /// `AUTH`, `IN-USE`, `LOGIN-DELAY`, `SYS/TEMP`, `SYS/PERM`; `None` when there was none.
    pub code: Option<String>,
    /// The human-readable text after the code (UTF-8, or GB18030 decoded when not UTF-8).
    pub text: String,
}

impl ServerError {
    /// Whether a later attempt may succeed without the user changing anything: the codes
    /// `IN-USE` (RFC 2449 §8.1.1), `LOGIN-DELAY` (§8.1.2) and `SYS/TEMP` (RFC 3206 §4).
    pub fn is_transient(&self) -> bool {
        matches!(
            self.code.as_deref(),
            Some("IN-USE" | "LOGIN-DELAY" | "SYS/TEMP")
        )
    }

    /// Whether the server says the credentials were wrong: code `AUTH` (RFC 3206 §5).
    pub fn is_auth(&self) -> bool {
        self.code.as_deref() == Some("AUTH")
    }
}

impl std::fmt::Display for ServerError {
    /// `COMMAND refused: [CODE] text`, as shown to users.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} refused:", self.command)?;
        if let Some(c) = &self.code {
            write!(f, " [{c}]")?;
        }
        if !self.text.is_empty() {
            write!(f, " {}", self.text)?;
        }
        Ok(())
    }
}

/// What can go wrong talking to a POP3 server.
#[derive(Debug, thiserror::Error)]
pub enum Pop3Error {
    /// Connecting or reading/writing failed (refused, timed out, reset).
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The TLS handshake failed (certificate, protocol).
    #[error("TLS: {0}")]
    Tls(String),
    /// The server answered `-ERR`.
    #[error("{0}")]
    Server(ServerError),
    /// [`Pop3Client::stls`] was called and the server does not list `STLS` in its CAPA
    /// answer (RFC 2595 §4). Nothing was sent; the caller decides whether to go on in
    /// cleartext.
    #[error("the server does not offer STLS; refusing to continue without TLS")]
    StlsNotOffered,
    /// [`Pop3Client::login`] was asked to send credentials over an unencrypted connection
    /// without `allow_cleartext`. Nothing was sent.
    #[error("refusing to send the password over an unencrypted connection")]
    CleartextRefused,
    /// A response was larger than the cap ([`MAX_LINE`] for a status line,
    /// [`Pop3Client::max_response`] for a multi-line one). The connection is closed: the
    /// client cannot find the next response any more.
    #[error("the server's response is larger than {0} octets")]
    TooLarge(usize),
    /// An argument cannot be sent: it contains CR, LF or NUL, or is empty.
    #[error("cannot send {0}: empty or contains a line break")]
    BadArgument(&'static str),
    /// The server broke the protocol (a line that is neither `+OK` nor `-ERR`, numbers that
    /// do not parse, the connection closed early), or the client is closed.
    #[error("cannot understand the server: {0}")]
    Protocol(String),
}

impl Pop3Error {
    /// Whether a later retry may succeed: network and TLS trouble, and `-ERR` answers that
    /// [`ServerError::is_transient`] calls transient.
    pub fn is_transient(&self) -> bool {
        match self {
            Pop3Error::Io(_) | Pop3Error::Tls(_) => true,
            Pop3Error::Server(e) => e.is_transient(),
            _ => false,
        }
    }
}

/// Buffered line reading over any byte source (the connection, or a slice in tests).
struct LineReader<S> {
    stream: S,
    buf: Vec<u8>,
    /// How far `buf` is known to hold no LF, so long lines are scanned once.
    scanned: usize,
}

impl<S: Read> LineReader<S> {
    fn new(stream: S) -> Self {
        LineReader {
            stream,
            buf: Vec::new(),
            scanned: 0,
        }
    }

    /// One line without its CRLF (or bare LF); [`Pop3Error::TooLarge`] past `cap` octets.
    fn read_line(&mut self, cap: usize) -> Result<Vec<u8>, Pop3Error> {
        loop {
            if let Some(i) = memchr::memchr(b'\n', &self.buf[self.scanned..]) {
                let end = self.scanned + i;
                let mut line: Vec<u8> = self.buf.drain(..=end).collect();
                self.scanned = 0;
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            self.scanned = self.buf.len();
            if self.buf.len() > cap {
                return Err(Pop3Error::TooLarge(cap));
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(Pop3Error::Protocol(
                    "the server closed the connection".into(),
                ));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// The body of a multi-line response (RFC 1939 §3), after its `+OK` line: lines up to
    /// the lone `.`, each with one leading `.` removed when it has one, joined with LF.
    /// `cap` bounds the octets received.
    fn read_multiline(&mut self, cap: usize) -> Result<Vec<u8>, Pop3Error> {
        let mut out = Vec::new();
        let mut received = 0usize;
        loop {
            let line = self.read_line(cap.saturating_sub(received))?;
            received += line.len() + 2;
            if line == b"." {
                return Ok(out);
            }
            if received > cap {
                return Err(Pop3Error::TooLarge(cap));
            }
            let body = line.strip_prefix(b".").unwrap_or(&line);
            out.extend_from_slice(body);
            out.push(b'\n');
        }
    }
}

/// A status line: `+OK text`, `-ERR [CODE] text`, or a SASL continuation `+ data`.
#[derive(Debug, PartialEq, Eq)]
enum Status {
    Ok(String),
    Err { code: Option<String>, text: String },
    Continue(String),
}

/// Parses one status line (RFC 1939 §3; the response code of RFC 2449 §8; the `+ `
/// continuation of RFC 5034 §4). The keywords are matched case-insensitively.
fn parse_status(line: &[u8]) -> Result<Status, Pop3Error> {
    let after = |n: usize| {
        let rest = &line[n..];
        match rest.first() {
            None => Some(&rest[..0]),
            Some(b' ') => Some(&rest[1..]),
            _ => None,
        }
    };
    if line.len() >= 3 && line[..3].eq_ignore_ascii_case(b"+OK") {
        if let Some(rest) = after(3) {
            return Ok(Status::Ok(crate::message::charset::decode_guess(rest)));
        }
    }
    if line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"-ERR") {
        if let Some(rest) = after(4) {
            let (code, text) = split_code(rest);
            return Ok(Status::Err {
                code,
                text: crate::message::charset::decode_guess(text),
            });
        }
    }
    if line.first() == Some(&b'+') {
        if let Some(rest) = after(1) {
            return Ok(Status::Continue(String::from_utf8_lossy(rest).into_owned()));
        }
    }
    Err(Pop3Error::Protocol(format!(
        "bad status line {:?}",
        String::from_utf8_lossy(&line[..line.len().min(200)])
    )))
}

/// Splits `[SYS/TEMP] text` into (`SYS/TEMP`, `text`) (RFC 2449 §8: a bracketed code of
/// printable characters right after `-ERR `).
fn split_code(rest: &[u8]) -> (Option<String>, &[u8]) {
    if rest.first() == Some(&b'[') {
        if let Some(end) = memchr::memchr(b']', rest) {
            let code = &rest[1..end];
            if !code.is_empty() && code.iter().all(|&c| c.is_ascii_graphic() && c != b'[') {
                let text = &rest[end + 1..];
                let text = text.strip_prefix(b" ").unwrap_or(text);
                let code = String::from_utf8_lossy(code).to_ascii_uppercase();
                return (Some(code), text);
            }
        }
    }
    (None, rest)
}

/// Parses the first two numbers of `n m …` (STAT, LIST and scan lines, RFC 1939 §5).
fn two_numbers(text: &str) -> Option<(u64, u64)> {
    let mut it = text.split_ascii_whitespace();
    let a = it.next()?.parse().ok()?;
    let b = it.next()?.parse().ok()?;
    Some((a, b))
}

fn check_arg(arg: &str, what: &'static str) -> Result<(), Pop3Error> {
    if arg.is_empty() || arg.bytes().any(|c| matches!(c, b'\r' | b'\n' | 0)) {
        return Err(Pop3Error::BadArgument(what));
    }
    Ok(())
}

fn handshake(
    opts: &TlsOptions,
    host: &str,
    tcp: TcpStream,
) -> Result<native_tls::TlsStream<TcpStream>, Pop3Error> {
    crate::send::client::handshake(opts, host, tcp).map_err(|e| match e {
        crate::send::client::ClientError::Tls(t) => Pop3Error::Tls(t),
        other => Pop3Error::Tls(other.to_string()),
    })
}

/// A connection to a POP3 server (RFC 1939), in the AUTHORIZATION state after
/// [`connect`](Pop3Client::connect) and in the TRANSACTION state after
/// [`login`](Pop3Client::login). Message numbers are the server's 1-based ones for this
/// session; sizes are octets as the server counts them (with CRLF line ends).
///
/// Dropping the client closes the connection without QUIT, so deletions are not committed
/// (RFC 1939 §6); call [`quit`](Pop3Client::quit) to commit them.
pub struct Pop3Client {
    reader: LineReader<Stream>,
    host: String,
    timeout: Duration,
    greeting: String,
    capabilities: Option<Vec<String>>,
    max_response: usize,
}

impl std::fmt::Debug for Pop3Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pop3Client")
            .field("host", &self.host)
            .field("encrypted", &self.is_encrypted())
            .field("timeout", &self.timeout)
            .field("capabilities", &self.capabilities)
            .finish_non_exhaustive()
    }
}

impl Pop3Client {
    /// Connects to `host:port` (each resolved address in turn, `timeout` each; the same
    /// timeout then bounds every read and write), with TLS from the first byte when
    /// `implicit_tls` is given (port 995, RFC 8314), and reads the greeting. A `-ERR`
    /// greeting is [`Pop3Error::Server`] with command `greeting`.
    pub fn connect(
        host: &str,
        port: u16,
        timeout: Duration,
        implicit_tls: Option<&TlsOptions>,
    ) -> Result<Pop3Client, Pop3Error> {
        let tcp = crate::send::client::connect_tcp(host, port, timeout)?;
        let stream = match implicit_tls {
            Some(opts) => Stream::Tls(Box::new(handshake(opts, host, tcp)?)),
            None => Stream::Plain(tcp),
        };
        let mut c = Pop3Client {
            reader: LineReader::new(stream),
            host: host.to_owned(),
            timeout,
            greeting: String::new(),
            capabilities: None,
            max_response: DEFAULT_MAX_RESPONSE,
        };
        c.greeting = c.read_ok("greeting")?;
        Ok(c)
    }

    /// The text of the server's `+OK` greeting (decoded).
    pub fn greeting(&self) -> &str {
        &self.greeting
    }

    /// Whether the connection is encrypted (implicit TLS or after [`stls`](Self::stls)).
    pub fn is_encrypted(&self) -> bool {
        matches!(self.reader.stream, Stream::Tls(_))
    }

    /// The per-read/write timeout this client was made with.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The cap on one multi-line response, in octets received (default
    /// [`DEFAULT_MAX_RESPONSE`]).
    pub fn max_response(&self) -> usize {
        self.max_response
    }

    /// Sets the cap on one multi-line response (RETR, TOP, LIST, UIDL, CAPA), in octets
    /// received. A larger response fails with [`Pop3Error::TooLarge`] and closes the
    /// connection.
    pub fn set_max_response(&mut self, octets: usize) {
        self.max_response = octets;
    }

    /// CAPA (RFC 2449 §5): the capability lines as sent (e.g. `TOP`, `UIDL`, `STLS`,
    /// `SASL PLAIN LOGIN`, `USER`, `PIPELINING`), decoded. A server that does not know
    /// CAPA (a plain RFC 1939 server answers `-ERR`) gives an empty list. The answer is
    /// remembered for [`stls`](Self::stls) and [`login`](Self::login), and forgotten after
    /// STLS (RFC 2595 §4) and login (RFC 2449 §5: it may change).
    pub fn capa(&mut self) -> Result<Vec<String>, Pop3Error> {
        self.send("CAPA")?;
        let caps = match self.read_status("CAPA")? {
            Ok(_) => {
                let body = self.reader_multiline()?;
                body.split(|&c| c == b'\n')
                    .filter(|l| !l.is_empty())
                    .map(crate::message::charset::decode_guess)
                    .collect()
            }
            Err(_) => Vec::new(),
        };
        self.capabilities = Some(caps.clone());
        Ok(caps)
    }

    /// Whether the server lists capability `name` (case-insensitive, first word of a CAPA
    /// line), asking with CAPA first when not yet asked.
    pub fn has_capability(&mut self, name: &str) -> Result<bool, Pop3Error> {
        Ok(self.capability_line(name)?.is_some())
    }

    /// The arguments of capability `name` (e.g. the mechanisms after `SASL`), if listed.
    fn capability_line(&mut self, name: &str) -> Result<Option<Vec<String>>, Pop3Error> {
        if self.capabilities.is_none() {
            self.capa()?;
        }
        let caps = self.capabilities.as_deref().unwrap_or_default();
        Ok(caps.iter().find_map(|l| {
            let mut words = l.split_ascii_whitespace();
            let first = words.next()?;
            first
                .eq_ignore_ascii_case(name)
                .then(|| words.map(str::to_owned).collect())
        }))
    }

    /// STLS (RFC 2595 §4): upgrades the connection to TLS with `opts`, checking the
    /// certificate against the host name given to [`connect`](Self::connect) unless
    /// `opts.accept_invalid`. When the server's CAPA does not list `STLS` nothing is sent
    /// and the result is [`Pop3Error::StlsNotOffered`] — the caller decides whether to go on
    /// in cleartext. Fails with [`Pop3Error::Protocol`] when already encrypted, and with
    /// [`Pop3Error::Tls`] when the handshake fails (the client is then closed).
    pub fn stls(&mut self, opts: &TlsOptions) -> Result<(), Pop3Error> {
        if self.is_encrypted() {
            return Err(Pop3Error::Protocol(
                "the connection is already encrypted".into(),
            ));
        }
        if !self.has_capability("STLS")? {
            return Err(Pop3Error::StlsNotOffered);
        }
        self.command("STLS")?;
        // Anything the server sent after +OK in cleartext is discarded.
        self.reader.buf.clear();
        self.reader.scanned = 0;
        let tcp = match std::mem::replace(&mut self.reader.stream, Stream::Closed) {
            Stream::Plain(s) => s,
            _ => return Err(Pop3Error::Protocol("the connection is closed".into())),
        };
        let tls = handshake(opts, &self.host, tcp)?;
        self.reader.stream = Stream::Tls(Box::new(tls));
        // RFC 2595 §4: capabilities learnt before TLS must be discarded.
        self.capabilities = None;
        Ok(())
    }

    /// Logs in, entering the TRANSACTION state: with AUTH PLAIN (RFC 5034, RFC 4616; the
    /// initial response on the command line, or after a `+` continuation when the line
    /// would pass 255 octets) when CAPA lists `SASL … PLAIN`, else USER and PASS
    /// (RFC 1939 §7). Over an unencrypted connection nothing is sent and the result is
    /// [`Pop3Error::CleartextRefused`] unless `allow_cleartext`. A refusal is
    /// [`Pop3Error::Server`] naming the command (`AUTH`, `USER`, `PASS`) and the response
    /// code, e.g. `AUTH` for wrong credentials or `IN-USE` for a locked maildrop; the
    /// password never appears in it.
    pub fn login(
        &mut self,
        user: &str,
        pass: &str,
        allow_cleartext: bool,
    ) -> Result<(), Pop3Error> {
        check_arg(user, "the user name")?;
        if pass.bytes().any(|c| matches!(c, b'\r' | b'\n' | 0)) {
            return Err(Pop3Error::BadArgument("the password"));
        }
        if !self.is_encrypted() && !allow_cleartext {
            return Err(Pop3Error::CleartextRefused);
        }
        let plain = self
            .capability_line("SASL")?
            .is_some_and(|m| m.iter().any(|m| m.eq_ignore_ascii_case("PLAIN")));
        if plain {
            let mut raw = Vec::with_capacity(user.len() + pass.len() + 2);
            raw.push(0);
            raw.extend_from_slice(user.as_bytes());
            raw.push(0);
            raw.extend_from_slice(pass.as_bytes());
            let token = crate::send::client::b64(&raw);
            // RFC 5034 §4: the command line, initial response included, is at most 255
            // octets; otherwise wait for the empty challenge.
            if "AUTH PLAIN ".len() + token.len() + 2 <= 255 {
                self.send_secret(&format!("AUTH PLAIN {token}"))?;
            } else {
                self.send("AUTH PLAIN")?;
                match self.read_status("AUTH")? {
                    Ok(Status::Continue(_)) => {}
                    Ok(_) => {
                        return Err(Pop3Error::Protocol(
                            "AUTH PLAIN answered without a challenge".into(),
                        ));
                    }
                    Err(e) => return Err(Pop3Error::Server(e)),
                }
                self.send_secret(&token)?;
            }
            match self.read_status("AUTH")? {
                Ok(Status::Ok(_)) => {}
                Ok(_) => {
                    // A further challenge: PLAIN has none. Cancel (RFC 5034 §4).
                    self.send("*")?;
                    let _ = self.read_status("AUTH");
                    return Err(Pop3Error::Protocol(
                        "unexpected challenge after AUTH PLAIN".into(),
                    ));
                }
                Err(e) => return Err(Pop3Error::Server(e)),
            }
        } else {
            self.command(&format!("USER {user}"))?;
            self.send_secret(&format!("PASS {pass}"))?;
            self.read_ok("PASS")?;
        }
        self.capabilities = None;
        Ok(())
    }

    /// Logs in with SASL XOAUTH2 (Google's and Microsoft's OAuth2 mechanism; the POP3 form
    /// of RFC 5034 `AUTH`): the initial response is base64 of
    /// `user=USER\x01auth=Bearer TOKEN\x01\x01`, sent on the command line, or after a `+`
    /// continuation when the line would pass 255 octets (RFC 5034 §4). A refused token comes
    /// back as a `+` challenge carrying the provider's JSON error: it is answered with an
    /// empty line and the final `-ERR` is returned as [`Pop3Error::Server`] (command `AUTH`).
    /// Over an unencrypted connection nothing is sent unless `allow_cleartext`. The token
    /// never appears in an error.
    pub fn login_xoauth2(
        &mut self,
        user: &str,
        token: &str,
        allow_cleartext: bool,
    ) -> Result<(), Pop3Error> {
        check_arg(user, "the user name")?;
        if token.is_empty() || token.bytes().any(|c| c.is_ascii_control()) {
            return Err(Pop3Error::BadArgument("the access token"));
        }
        if !self.is_encrypted() && !allow_cleartext {
            return Err(Pop3Error::CleartextRefused);
        }
        let ir = crate::send::client::b64(
            format!("user={user}\x01auth=Bearer {token}\x01\x01").as_bytes(),
        );
        if "AUTH XOAUTH2 ".len() + ir.len() + 2 <= 255 {
            self.send_secret(&format!("AUTH XOAUTH2 {ir}"))?;
        } else {
            self.send("AUTH XOAUTH2")?;
            match self.read_status("AUTH")? {
                Ok(Status::Continue(_)) => {}
                Ok(_) => {
                    return Err(Pop3Error::Protocol(
                        "AUTH XOAUTH2 answered without a challenge".into(),
                    ))
                }
                Err(e) => return Err(Pop3Error::Server(e)),
            }
            self.send_secret(&ir)?;
        }
        match self.read_status("AUTH")? {
            Ok(Status::Ok(_)) => {}
            Ok(_) => {
                // The error challenge (base64 JSON): an empty response ends the exchange,
                // and the server then answers -ERR.
                self.send("")?;
                return match self.read_status("AUTH")? {
                    Err(e) => Err(Pop3Error::Server(e)),
                    Ok(_) => Err(Pop3Error::Protocol(
                        "unexpected answer after the XOAUTH2 error challenge".into(),
                    )),
                };
            }
            Err(e) => return Err(Pop3Error::Server(e)),
        }
        self.capabilities = None;
        Ok(())
    }

    /// STAT (RFC 1939 §5): (number of messages, total size in octets), deleted ones
    /// excluded.
    pub fn stat(&mut self) -> Result<(u64, u64), Pop3Error> {
        let text = self.command("STAT")?;
        two_numbers(&text).ok_or_else(|| Pop3Error::Protocol(format!("bad STAT answer {text:?}")))
    }

    /// LIST (RFC 1939 §5): (message number, size in octets) for each message not marked
    /// deleted, in the server's order.
    pub fn list(&mut self) -> Result<Vec<(u64, u64)>, Pop3Error> {
        self.command("LIST")?;
        let body = self.reader_multiline()?;
        let mut out = Vec::new();
        for line in body.split(|&c| c == b'\n').filter(|l| !l.is_empty()) {
            let text = String::from_utf8_lossy(line);
            out.push(
                two_numbers(&text)
                    .ok_or_else(|| Pop3Error::Protocol(format!("bad LIST line {text:?}")))?,
            );
        }
        Ok(out)
    }

    /// UIDL (RFC 1939 §7): (message number, unique id) for each message not marked
    /// deleted. The id is 1 to 70 printable ASCII characters, stable across sessions.
    pub fn uidl(&mut self) -> Result<Vec<(u64, String)>, Pop3Error> {
        self.command("UIDL")?;
        let body = self.reader_multiline()?;
        let mut out = Vec::new();
        for line in body.split(|&c| c == b'\n').filter(|l| !l.is_empty()) {
            let text = String::from_utf8_lossy(line);
            let mut it = text.split_ascii_whitespace();
            let parsed = it
                .next()
                .and_then(|n| n.parse().ok())
                .zip(it.next().map(str::to_owned));
            out.push(parsed.ok_or_else(|| Pop3Error::Protocol(format!("bad UIDL line {text:?}")))?);
        }
        Ok(out)
    }

    /// TOP (RFC 1939 §7): the header of message `n`, the blank line, and the first `lines`
    /// lines of its body — unstuffed, with LF line ends, without the final `.`.
    pub fn top(&mut self, n: u64, lines: u64) -> Result<Vec<u8>, Pop3Error> {
        self.command(&format!("TOP {n} {lines}"))?;
        self.reader_multiline()
    }

    /// TOP `n lines` for every `n` in `numbers`, in order, calling `each(index, answer)` with
    /// the header (as [`top`](Self::top) gives it) or the server's `-ERR`. When the server
    /// lists `PIPELINING` in CAPA (RFC 2449 §6.6) up to [`PIPELINE_WINDOW`] commands are
    /// in flight: the first ones go out in one write, then one more after each answer read
    /// (a sliding window: the window bounds what either side buffers, and each command
    /// carries the ACK a server without `TCP_NODELAY` waits for before sending the next
    /// answers — with whole groups per write instead, 2,000 headers took twice as long as
    /// without pipelining). Otherwise one command at a time. I/O and protocol errors end
    /// the call.
    pub fn top_many(
        &mut self,
        numbers: &[u64],
        lines: u64,
        mut each: impl FnMut(usize, Result<Vec<u8>, ServerError>),
    ) -> Result<(), Pop3Error> {
        let window = if self.has_capability("PIPELINING")? {
            PIPELINE_WINDOW
        } else {
            1
        };
        let command = |n: &u64| format!("TOP {n} {lines}\r\n");
        let first: String = numbers.iter().take(window).map(command).collect();
        let mut next = numbers.len().min(window);
        if !first.is_empty() {
            self.reader.stream.write_all(first.as_bytes())?;
            self.reader.stream.flush()?;
        }
        for done in 0..numbers.len() {
            let answer = match self.read_status("TOP")? {
                Ok(Status::Ok(_)) => Ok(self.reader_multiline()?),
                Ok(_) => {
                    return Err(Pop3Error::Protocol(
                        "unexpected continuation after TOP".into(),
                    ))
                }
                Err(e) => Err(e),
            };
            if let Some(n) = numbers.get(next) {
                self.reader.stream.write_all(command(n).as_bytes())?;
                self.reader.stream.flush()?;
                next += 1;
            }
            each(done, answer);
        }
        Ok(())
    }

    /// RETR (RFC 1939 §5): message `n` as stored — unstuffed, with LF line ends, without the
    /// final `.`. At most [`max_response`](Self::max_response) octets.
    pub fn retr(&mut self, n: u64) -> Result<Vec<u8>, Pop3Error> {
        self.command(&format!("RETR {n}"))?;
        self.reader_multiline()
    }

    /// DELE (RFC 1939 §5): marks message `n` deleted; the server removes it at
    /// [`quit`](Self::quit).
    pub fn dele(&mut self, n: u64) -> Result<(), Pop3Error> {
        self.command(&format!("DELE {n}")).map(drop)
    }

    /// RSET (RFC 1939 §5): unmarks all messages marked deleted in this session.
    pub fn rset(&mut self) -> Result<(), Pop3Error> {
        self.command("RSET").map(drop)
    }

    /// NOOP (RFC 1939 §5): keeps the connection alive.
    pub fn noop(&mut self) -> Result<(), Pop3Error> {
        self.command("NOOP").map(drop)
    }

    /// QUIT (RFC 1939 §6): ends the session; in the TRANSACTION state the server removes
    /// the messages marked deleted. Returns the text of the server's `+OK`; a `-ERR` (some
    /// deletions failed) is [`Pop3Error::Server`].
    pub fn quit(mut self) -> Result<String, Pop3Error> {
        let r = self.command("QUIT");
        self.reader.stream = Stream::Closed;
        r
    }

    /// Sends `line` + CRLF, with the line possibly shown in errors.
    fn send(&mut self, line: &str) -> Result<(), Pop3Error> {
        let mut data = Vec::with_capacity(line.len() + 2);
        data.extend_from_slice(line.as_bytes());
        data.extend_from_slice(b"\r\n");
        self.reader.stream.write_all(&data)?;
        self.reader.stream.flush()?;
        Ok(())
    }

    /// Sends a line holding a secret; an I/O error is rebuilt so nothing of the line leaks.
    fn send_secret(&mut self, line: &str) -> Result<(), Pop3Error> {
        self.send(line).map_err(|e| match e {
            Pop3Error::Io(e) => Pop3Error::Io(io::Error::new(e.kind(), e.kind().to_string())),
            e => e,
        })
    }

    /// Sends `line`, expects `+OK`, returns its text. Errors name only the verb.
    fn command(&mut self, line: &str) -> Result<String, Pop3Error> {
        self.send(line)?;
        let verb = line.split(' ').next().unwrap_or(line).to_owned();
        self.read_ok(&verb)
    }

    fn read_ok(&mut self, command: &str) -> Result<String, Pop3Error> {
        match self.read_status(command)? {
            Ok(Status::Ok(text)) => Ok(text),
            Ok(_) => Err(Pop3Error::Protocol(format!(
                "unexpected continuation after {command}"
            ))),
            Err(e) => Err(Pop3Error::Server(e)),
        }
    }

    /// Reads a status line: `Ok(Ok(_))` or `Ok(Continue(_))`, or `Ok(Err(_))` for `-ERR`.
    fn read_status(&mut self, command: &str) -> Result<Result<Status, ServerError>, Pop3Error> {
        let line = self.guard(|r, _| r.read_line(MAX_LINE))?;
        Ok(match parse_status(&line)? {
            Status::Err { code, text } => Err(ServerError {
                command: command.to_owned(),
                code,
                text,
            }),
            s => Ok(s),
        })
    }

    fn reader_multiline(&mut self) -> Result<Vec<u8>, Pop3Error> {
        self.guard(|r, cap| r.read_multiline(cap))
    }

    /// Runs a read; on a cap overrun the stream is out of step, so it is closed.
    fn guard<T>(
        &mut self,
        f: impl FnOnce(&mut LineReader<Stream>, usize) -> Result<T, Pop3Error>,
    ) -> Result<T, Pop3Error> {
        let cap = self.max_response;
        let r = f(&mut self.reader, cap);
        if matches!(r, Err(Pop3Error::TooLarge(_))) {
            self.reader.stream = Stream::Closed;
            self.reader.buf.clear();
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;

    fn multiline(input: &[u8]) -> Result<Vec<u8>, Pop3Error> {
        LineReader::new(input).read_multiline(1 << 20)
    }

    #[test]
    fn multiline_unstuffs_and_stops_at_lone_dot() {
        let got = multiline(b"a\r\n..b\r\n...\r\n.\r\nafter\r\n").unwrap();
        assert_eq!(got, b"a\n.b\n..\n");
        // A `..` line is a line holding one dot, not the end.
        assert_eq!(multiline(b"..\r\nx\r\n.\r\n").unwrap(), b".\nx\n");
        // An empty body.
        assert_eq!(multiline(b".\r\n").unwrap(), b"");
        // Bare LF line ends are accepted; a CR inside a line stays.
        assert_eq!(multiline(b"a\nb\rc\n.\n").unwrap(), b"a\nb\rc\n");
        // A dot not at the start of a line is data.
        assert_eq!(multiline(b"a.b\r\n .\r\n.\r\n").unwrap(), b"a.b\n .\n");
        // Leaves what follows for the next read.
        let mut r = LineReader::new(&b"x\r\n.\r\n+OK next\r\n"[..]);
        assert_eq!(r.read_multiline(100).unwrap(), b"x\n");
        assert_eq!(r.read_line(100).unwrap(), b"+OK next");
    }

    #[test]
    fn multiline_truncated_and_capped() {
        assert!(matches!(
            multiline(b"a\r\nb\r\n"),
            Err(Pop3Error::Protocol(_))
        ));
        let big = [b"x".repeat(100), b"\r\n.\r\n".to_vec()].concat();
        assert!(matches!(
            LineReader::new(&big[..]).read_multiline(50),
            Err(Pop3Error::TooLarge(50))
        ));
        let many = [b"a\r\n".repeat(40), b".\r\n".to_vec()].concat();
        assert!(matches!(
            LineReader::new(&many[..]).read_multiline(50),
            Err(Pop3Error::TooLarge(50))
        ));
        assert_eq!(
            LineReader::new(&many[..]).read_multiline(200).unwrap(),
            b"a\n".repeat(40)
        );
    }

    #[test]
    fn status_lines() {
        assert_eq!(parse_status(b"+OK hi").unwrap(), Status::Ok("hi".into()));
        assert_eq!(parse_status(b"+ok").unwrap(), Status::Ok(String::new()));
        assert_eq!(
            parse_status(b"-ERR [SYS/TEMP] try later").unwrap(),
            Status::Err {
                code: Some("SYS/TEMP".into()),
                text: "try later".into()
            }
        );
        assert_eq!(
            parse_status(b"-ERR [in-use] locked").unwrap(),
            Status::Err {
                code: Some("IN-USE".into()),
                text: "locked".into()
            }
        );
        assert_eq!(
            parse_status(b"-ERR no such message").unwrap(),
            Status::Err {
                code: None,
                text: "no such message".into()
            }
        );
        assert_eq!(
            parse_status(b"-ERR").unwrap(),
            Status::Err {
                code: None,
                text: String::new()
            }
        );
        assert_eq!(
            parse_status(b"+ ").unwrap(),
            Status::Continue(String::new())
        );
        assert!(parse_status(b"+OKAY").is_err());
        assert!(parse_status(b"* 1 EXISTS").is_err());
        assert!(parse_status(b"").is_err());
    }

    #[test]
    fn gbk_error_text_is_decoded() {
        // "密码错误" (wrong password) in GBK.
        let line = [
            b"-ERR [AUTH] ".as_slice(),
            &[0xC3, 0xDC, 0xC2, 0xEB, 0xB4, 0xED, 0xCE, 0xF3],
        ]
        .concat();
        assert_eq!(
            parse_status(&line).unwrap(),
            Status::Err {
                code: Some("AUTH".into()),
                text: "密码错误".into()
            }
        );
    }

    #[test]
    fn server_error_display_and_kinds() {
        let e = ServerError {
            command: "PASS".into(),
            code: Some("AUTH".into()),
            text: "bad".into(),
        };
        assert_eq!(e.to_string(), "PASS refused: [AUTH] bad");
        assert!(e.is_auth() && !e.is_transient());
        let t = ServerError {
            command: "PASS".into(),
            code: Some("SYS/TEMP".into()),
            text: String::new(),
        };
        assert!(Pop3Error::Server(t).is_transient());
    }

    /// One scripted exchange: what the client must send (exactly), then what to answer.
    type Script = Vec<(&'static str, &'static str)>;

    /// Plays `greeting` then `script` on a fresh listener; returns the port and a handle
    /// that yields the lines actually received.
    fn server(
        greeting: &'static str,
        script: Script,
    ) -> (u16, std::thread::JoinHandle<Vec<String>>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let h = std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut w = s.try_clone().unwrap();
            let mut r = BufReader::new(s);
            w.write_all(greeting.as_bytes()).unwrap();
            let mut got = Vec::new();
            for (expect, answer) in script {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap() == 0 {
                    break;
                }
                assert!(line.ends_with("\r\n"), "no CRLF: {line:?}");
                let line = line.trim_end().to_owned();
                assert_eq!(line, expect);
                got.push(line);
                w.write_all(answer.as_bytes()).unwrap();
            }
            got
        });
        (port, h)
    }

    fn connect(port: u16) -> Pop3Client {
        Pop3Client::connect("127.0.0.1", port, Duration::from_secs(10), None).unwrap()
    }

    #[test]
    fn session_end_to_end() {
        let (port, h) = server(
            "+OK POP3 ready\r\n",
            vec![
                ("CAPA", "+OK list follows\r\nUSER\r\nUIDL\r\nTOP\r\n.\r\n"),
                ("USER alice", "+OK\r\n"),
                ("PASS s3cret", "+OK maildrop locked\r\n"),
                ("STAT", "+OK 2 320\r\n"),
                ("LIST", "+OK\r\n1 120\r\n2 200\r\n.\r\n"),
                (
                    "UIDL",
                    "+OK\r\n1 whqtswO00WBw418f9t5JxYwZ\r\n2 QhdPYR:00WBw1Ph7x7\r\n.\r\n",
                ),
                (
                    "RETR 1",
                    "+OK 120 octets\r\nSubject: hi\r\n\r\n..dot line\r\n..\r\nlast\r\n.\r\n",
                ),
                ("TOP 2 0", "+OK\r\nSubject: two\r\n\r\n.\r\n"),
                ("DELE 1", "+OK message 1 deleted\r\n"),
                ("DELE 9", "-ERR no such message\r\n"),
                ("NOOP", "+OK\r\n"),
                ("RSET", "+OK\r\n"),
                ("DELE 1", "+OK\r\n"),
                (
                    "QUIT",
                    "+OK dewey POP3 server signing off (1 message deleted)\r\n",
                ),
            ],
        );
        let mut c = connect(port);
        assert_eq!(c.greeting(), "POP3 ready");
        assert!(!c.is_encrypted());
        assert_eq!(c.capa().unwrap(), ["USER", "UIDL", "TOP"]);
        assert!(matches!(
            c.login("alice", "s3cret", false),
            Err(Pop3Error::CleartextRefused)
        ));
        c.login("alice", "s3cret", true).unwrap();
        assert_eq!(c.stat().unwrap(), (2, 320));
        assert_eq!(c.list().unwrap(), [(1, 120), (2, 200)]);
        assert_eq!(
            c.uidl().unwrap(),
            [
                (1, "whqtswO00WBw418f9t5JxYwZ".to_owned()),
                (2, "QhdPYR:00WBw1Ph7x7".to_owned())
            ]
        );
        assert_eq!(c.retr(1).unwrap(), b"Subject: hi\n\n.dot line\n.\nlast\n");
        assert_eq!(c.top(2, 0).unwrap(), b"Subject: two\n\n");
        c.dele(1).unwrap();
        match c.dele(9) {
            Err(Pop3Error::Server(e)) => {
                assert_eq!(e.command, "DELE");
                assert_eq!(e.code, None);
                assert_eq!(e.text, "no such message");
            }
            other => panic!("{other:?}"),
        }
        c.noop().unwrap();
        c.rset().unwrap();
        c.dele(1).unwrap();
        assert!(!format!("{c:?}").contains("s3cret"));
        assert_eq!(
            c.quit().unwrap(),
            "dewey POP3 server signing off (1 message deleted)"
        );
        assert_eq!(h.join().unwrap().len(), 14);
    }

    #[test]
    fn wrong_password_gives_auth_code_without_the_password() {
        let (port, h) = server(
            "+OK ready\r\n",
            vec![
                ("CAPA", "-ERR unknown command\r\n"),
                ("USER bob", "+OK\r\n"),
                (
                    "PASS hunter2",
                    "-ERR [AUTH] invalid user name or password\r\n",
                ),
            ],
        );
        let mut c = connect(port);
        let e = c.login("bob", "hunter2", true).unwrap_err();
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        match e {
            Pop3Error::Server(s) => {
                assert_eq!(s.command, "PASS");
                assert!(s.is_auth());
                assert_eq!(s.text, "invalid user name or password");
            }
            other => panic!("{other:?}"),
        }
        drop(c);
        h.join().unwrap();
    }

    #[test]
    fn auth_plain_when_offered() {
        // base64("\0carol\0pw") = "AGNhcm9sAHB3"
        let (port, h) = server(
            "+OK ready\r\n",
            vec![
                ("CAPA", "+OK\r\nSASL PLAIN LOGIN\r\nUSER\r\n.\r\n"),
                (
                    "AUTH PLAIN AGNhcm9sAHB3",
                    "-ERR [IN-USE] mailbox locked\r\n",
                ),
                ("AUTH PLAIN AGNhcm9sAHB3", "+OK welcome\r\n"),
                ("CAPA", "+OK\r\nUIDL\r\n.\r\n"),
                ("QUIT", "+OK bye\r\n"),
            ],
        );
        let mut c = connect(port);
        match c.login("carol", "pw", true) {
            Err(e @ Pop3Error::Server(_)) => assert!(e.is_transient()),
            other => panic!("{other:?}"),
        }
        c.login("carol", "pw", true).unwrap();
        // Capabilities are asked again after login.
        assert!(c.has_capability("uidl").unwrap());
        assert_eq!(c.quit().unwrap(), "bye");
        h.join().unwrap();
    }

    #[test]
    fn xoauth2_success_and_error_challenge() {
        // base64("user=dan@example.org\x01auth=Bearer ya29.tok\x01\x01")
        const IR: &str = "dXNlcj1kYW5AZXhhbXBsZS5vcmcBYXV0aD1CZWFyZXIgeWEyOS50b2sBAQ==";
        let (port, h) = server(
            "+OK ready\r\n",
            vec![
                (
                    "AUTH XOAUTH2 dXNlcj1kYW5AZXhhbXBsZS5vcmcBYXV0aD1CZWFyZXIgeWEyOS50b2sBAQ==",
                    "+ eyJzdGF0dXMiOiI0MDEifQ==\r\n",
                ),
                ("", "-ERR [AUTH] invalid credentials\r\n"),
                (
                    "AUTH XOAUTH2 dXNlcj1kYW5AZXhhbXBsZS5vcmcBYXV0aD1CZWFyZXIgeWEyOS50b2sBAQ==",
                    "+OK welcome\r\n",
                ),
                ("QUIT", "+OK bye\r\n"),
            ],
        );
        let mut c = connect(port);
        assert!(matches!(
            c.login_xoauth2("dan@example.org", "ya29.tok", false),
            Err(Pop3Error::CleartextRefused)
        ));
        let e = c
            .login_xoauth2("dan@example.org", "ya29.tok", true)
            .unwrap_err();
        assert!(!format!("{e} {e:?}").contains(IR) && !format!("{e:?}").contains("ya29"));
        match e {
            Pop3Error::Server(s) => assert!(s.is_auth() && s.command == "AUTH", "{s:?}"),
            other => panic!("{other:?}"),
        }
        c.login_xoauth2("dan@example.org", "ya29.tok", true)
            .unwrap();
        c.quit().unwrap();
        assert_eq!(h.join().unwrap().len(), 4);
    }

    #[test]
    fn top_many_pipelined_and_one_by_one() {
        for pipelining in [true, false] {
            let capa = if pipelining {
                "+OK\r\nTOP\r\nPIPELINING\r\n.\r\n"
            } else {
                "+OK\r\nTOP\r\n.\r\n"
            };
            let (port, h) = server(
                "+OK\r\n",
                vec![
                    ("CAPA", capa),
                    ("TOP 1 0", "+OK\r\nSubject: one\r\n\r\n.\r\n"),
                    ("TOP 2 0", "-ERR no such message\r\n"),
                    ("TOP 3 0", "+OK\r\n..dotted: x\r\n\r\n.\r\n"),
                    ("NOOP", "+OK\r\n"),
                ],
            );
            let mut c = connect(port);
            let mut got = Vec::new();
            c.top_many(&[1, 2, 3], 0, |i, r| got.push((i, r.map_err(|e| e.text))))
                .unwrap();
            assert_eq!(
                got,
                [
                    (0, Ok(b"Subject: one\n\n".to_vec())),
                    (1, Err("no such message".to_owned())),
                    (2, Ok(b".dotted: x\n\n".to_vec())),
                ]
            );
            c.noop().unwrap();
            drop(c);
            assert_eq!(h.join().unwrap().len(), 5);
        }
    }

    #[test]
    fn stls_not_offered_is_refused_before_sending() {
        let (port, h) = server(
            "+OK ready\r\n",
            vec![("CAPA", "+OK\r\nUSER\r\n.\r\n"), ("QUIT", "+OK\r\n")],
        );
        let mut c = connect(port);
        assert!(matches!(
            c.stls(&TlsOptions::default()),
            Err(Pop3Error::StlsNotOffered)
        ));
        assert!(!c.is_encrypted());
        c.quit().unwrap();
        assert_eq!(h.join().unwrap(), ["CAPA", "QUIT"]);
    }

    #[test]
    fn negative_greeting_and_bad_arguments() {
        let (port, h) = server("-ERR [SYS/TEMP] too busy\r\n", vec![]);
        match Pop3Client::connect("127.0.0.1", port, Duration::from_secs(10), None) {
            Err(Pop3Error::Server(e)) => {
                assert_eq!(e.command, "greeting");
                assert!(e.is_transient());
            }
            other => panic!("{other:?}"),
        }
        h.join().unwrap();

        let (port, h) = server("+OK\r\n", vec![]);
        let mut c = connect(port);
        assert!(matches!(
            c.login("a\r\nDELE 1", "x", true),
            Err(Pop3Error::BadArgument(_))
        ));
        drop(c);
        h.join().unwrap();
    }

    #[test]
    fn oversized_message_closes_the_client() {
        let (port, h) = server(
            "+OK\r\n",
            vec![(
                "RETR 1",
                "+OK\r\naaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n.\r\n",
            )],
        );
        let mut c = connect(port);
        c.set_max_response(16);
        assert!(matches!(c.retr(1), Err(Pop3Error::TooLarge(16))));
        assert!(c.noop().is_err());
        h.join().unwrap();
    }
}
