//! An IMAP folder for the reader (issue 6): IMAP4rev1 (RFC 3501) on async-imap, driven by a
//! current-thread tokio runtime the folder owns, so the reader calls plain blocking methods.
//!
//! - Connecting: implicit TLS (RFC 8314), STARTTLS (RFC 3501 §6.2.1, required when the URL
//!   asks for it: nothing but CAPABILITY and STARTTLS goes out in cleartext), or cleartext.
//!   Every network wait is bounded by [`ConnectOptions::timeout`].
//! - Login: `LOGIN` (RFC 3501 §6.2.3) or `AUTHENTICATE XOAUTH2`; then `ID` (RFC 2971) when
//!   offered or asked for (NetEase refuses `SELECT` without it).
//! - Open: `SELECT` (`EXAMINE` read-only) and ONE `FETCH 1:* (UID FLAGS INTERNALDATE
//!   RFC822.SIZE ENVELOPE)` for the summary; bodies later with `UID FETCH … BODY.PEEK[]`,
//!   cached for the session.
//! - Messages are named by index; the folder keeps index → UID, so when the connection is
//!   lost (I/O error, EOF, `* BYE`) a command reconnects once, checks that UIDVALIDITY did
//!   not change (RFC 3501 §2.3.1.1) and is sent again. `COPY` and `APPEND` are not
//!   idempotent: a `NOOP` first finds a dead connection before anything is stored, and once
//!   they were sent a lost connection is reported (the copy may have been made), never
//!   retried. After a timeout the connection is dropped, never reused.
//! - `quit`: `UID STORE … +FLAGS.SILENT`, then `UID EXPUNGE` (RFC 4315) of the deleted
//!   UIDs when the server has UIDPLUS; without it plain `EXPUNGE`, which also removes
//!   messages another client marked `\Deleted` (as s-nail does).
//! - Mailbox names go out in modified UTF-7 (RFC 3501 §5.1.3) and `LIST` names are decoded
//!   from it ([`crate::proto::imap::utf7`]).
//!
//! - What the server sends passes a [`Guard`] before async-imap parses it: lists nested
//!   deeper than [`MAX_NESTING`] (imap-proto's parser is recursive) and literals longer
//!   than [`MAX_LITERAL`] end the command with a [`RemoteError::Protocol`].
//! - The summary keeps index → UID one-to-one: replies with UID 0, a repeated UID, or a
//!   sequence number above EXISTS are dropped (see [`Link::summaries`]).
//! - Server texts (`NO`, `BAD`, `BYE`) are UTF-8, else GB18030 (QQ and NetEase answer in
//!   GBK). Errors name `host:port`.
//!
//! Invariants: no panic and no `unwrap` on server data; secrets never appear in an error.

use std::collections::HashMap;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use async_imap::imap_proto::{
    Address, AttributeValue, Capability, Envelope, MailboxDatum, NameAttribute, Response,
    ResponseCode, Status,
};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

use super::{
    connect_error, tls_error, ConnectOptions, FolderUrl, ListEntry, Login, Progress, QuitPlan,
    RemoteError, RemoteFlags, RemoteFolder, RemoteMessage, Security,
};
use crate::proto::imap::utf7;

/// The summary items of one message (RFC 3501 §6.4.5).
const SUMMARY_ITEMS: &str = "(UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)";

/// The byte stream under the IMAP session: cleartext or TLS.
#[derive(Debug)]
enum Io {
    Plain(TcpStream),
    Tls(Box<async_native_tls::TlsStream<TcpStream>>),
}

/// The stream async-imap reads: [`Io`] with a [`Guard`] on everything read, and an
/// inactivity timeout: a read or write that makes no progress for `idle` fails with
/// `TimedOut`. (A bound on a whole response would cut off a large message on a slow link.)
#[derive(Debug)]
struct Conn {
    io: Io,
    guard: Guard,
    idle: Duration,
    /// Runs while a read waits (armed); re-armed, not reallocated, for the next wait.
    read_timer: IdleTimer,
    /// The same for writes.
    write_timer: IdleTimer,
}

/// One direction's inactivity timer.
#[derive(Debug, Default)]
struct IdleTimer {
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    armed: bool,
}

impl Conn {
    fn new(io: Io, idle: Duration) -> Conn {
        Conn {
            io,
            guard: Guard::default(),
            idle,
            read_timer: IdleTimer::default(),
            write_timer: IdleTimer::default(),
        }
    }

    /// Forgets timers left from an earlier command (the stream is idle between commands,
    /// e.g. while the user reads): call before each command.
    fn reset_timers(&mut self) {
        self.read_timer.armed = false;
        self.write_timer.armed = false;
    }
}

/// `r` as seen through an inactivity timer: the first `Pending` arms `timer` (for `idle`),
/// which fails the operation with `TimedOut` once it expires; any progress disarms it.
fn with_idle_timer<T>(
    r: Poll<std::io::Result<T>>,
    timer: &mut IdleTimer,
    idle: Duration,
    cx: &mut Context<'_>,
) -> Poll<std::io::Result<T>> {
    match r {
        Poll::Pending => {
            let deadline = tokio::time::Instant::now() + idle;
            let sleep = match &mut timer.sleep {
                Some(s) => {
                    if !timer.armed {
                        s.as_mut().reset(deadline);
                    }
                    s
                }
                None => timer
                    .sleep
                    .insert(Box::pin(tokio::time::sleep_until(deadline))),
            };
            timer.armed = true;
            if std::future::Future::poll(sleep.as_mut(), cx).is_ready() {
                timer.armed = false;
                return Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "no data within the timeout",
                )));
            }
            Poll::Pending
        }
        done => {
            timer.armed = false;
            done
        }
    }
}

impl AsyncRead for Conn {
    /// Reads from the server and runs the new octets through [`Guard::feed`]; when they
    /// break a limit the read fails (`InvalidData`) and nothing of it reaches the parser.
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = match &mut this.io {
            Io::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        };
        let r = with_idle_timer(r, &mut this.read_timer, this.idle, cx);
        if let Poll::Ready(Ok(())) = r {
            if let Err(e) = this.guard.feed(&buf.filled()[before..]) {
                buf.set_filled(before);
                return Poll::Ready(Err(e));
            }
        }
        r
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let r = match &mut this.io {
            Io::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        };
        with_idle_timer(r, &mut this.write_timer, this.idle, cx)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_flush(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// How deeply a server's response may nest parenthesised lists. imap-proto parses lists
/// (BODYSTRUCTURE above all, RFC 3501 §7.4.2) recursively, so a hostile server could
/// overflow our stack with `((((…`. Real responses stay far below this: a BODYSTRUCTURE
/// adds about two levels per MIME nesting level and mail with more than a dozen nested
/// multiparts is not seen in practice (Dovecot and Cyrus cap MIME nesting lower still).
pub const MAX_NESTING: u32 = 64;

/// The largest literal (`{n}`, RFC 3501 §4.3) a server may announce, octets: more than
/// any message a mail host accepts (providers cap messages at 25–150 MiB), and small
/// enough that a hostile `{99999999999}` cannot make us buffer gigabytes.
pub const MAX_LITERAL: u64 = 256 * 1024 * 1024;

/// Where [`Guard`] is inside a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Scan {
    /// Between tokens.
    #[default]
    Normal,
    /// Inside a quoted string (RFC 3501 §4.3).
    Quoted,
    /// Right after a `\` inside a quoted string.
    Escape,
    /// After `{`, reading the literal's length.
    Length(u64),
    /// After `{n+` (a non-synchronizing literal, RFC 7888).
    Plus(u64),
    /// After `{n}`, expecting CR.
    Brace(u64),
    /// After `{n}` CR, expecting LF.
    Cr(u64),
    /// Inside a literal; this many raw octets remain.
    Literal(u64),
}

/// An incremental check of what the server sends, run on the raw bytes before async-imap
/// parses them (state is kept across reads, so a response may arrive in any number of
/// pieces): parenthesis depth outside quoted strings and literals stays within
/// [`MAX_NESTING`], and no literal is longer than [`MAX_LITERAL`]. Depth starts again at
/// 0 on every line end outside a literal (a quoted string cannot span lines). Status
/// lines (`* OK/NO/BAD/BYE/PREAUTH …`, `TAG OK/NO/BAD …`, `+ …`) carry free text and no
/// literals, so a `{n}` at their end is not taken for one.
///
/// It also keeps the last `NO`/`BAD`/`BYE` line as sent (first [`Guard::KEEP`] octets),
/// because async-imap's LOGIN and AUTHENTICATE hide that response and its 8-bit text.
#[derive(Debug, Default)]
struct Guard {
    scan: Scan,
    depth: u32,
    /// The current line's first octets outside literals (at most [`Guard::KEEP`]).
    line: Vec<u8>,
    /// Spaces seen at the start of the line, up to 2 (tag, status word).
    spaces: u8,
    /// The current line is a status or continuation line (see above).
    text_line: bool,
    /// The last `NO`/`BAD`/`BYE` line, without its line end.
    refusal: Option<Vec<u8>>,
    /// The error once the limits were broken; every later read fails with it.
    failed: Option<String>,
}

impl Guard {
    const KEEP: usize = 512;

    /// Checks `data`, the next octets from the server. Errors: the nesting or literal limit
    /// broken (an `InvalidData` error whose text says which), now or earlier.
    fn feed(&mut self, data: &[u8]) -> std::io::Result<()> {
        if let Some(e) = &self.failed {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                Refused(e.clone()),
            ));
        }
        let mut i = 0;
        while i < data.len() {
            if let Scan::Literal(n) = self.scan {
                let take = n.min((data.len() - i) as u64);
                i += take as usize;
                self.scan = if take == n {
                    Scan::Normal
                } else {
                    Scan::Literal(n - take)
                };
                continue;
            }
            let b = data[i];
            i += 1;
            if let Err(e) = self.byte(b) {
                self.failed = Some(e.clone());
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    Refused(e),
                ));
            }
        }
        Ok(())
    }

    /// One octet outside a literal.
    fn byte(&mut self, b: u8) -> Result<(), String> {
        if self.line.len() < Self::KEEP && b != b'\r' && b != b'\n' {
            self.line.push(b);
        }
        match self.scan {
            Scan::Normal => self.normal(b)?,
            Scan::Quoted => match b {
                b'\\' => self.scan = Scan::Escape,
                b'"' => self.scan = Scan::Normal,
                b'\n' => self.end_line(),
                _ => {}
            },
            Scan::Escape => {
                self.scan = if b == b'\n' {
                    self.end_line();
                    Scan::Normal
                } else {
                    Scan::Quoted
                }
            }
            Scan::Length(n) => match b {
                b'0'..=b'9' => {
                    self.scan =
                        Scan::Length(n.saturating_mul(10).saturating_add(u64::from(b - b'0')))
                }
                b'+' => self.scan = Scan::Plus(n),
                b'}' => self.scan = Scan::Brace(n),
                _ => self.not_literal(b)?,
            },
            Scan::Plus(n) => match b {
                b'}' => self.scan = Scan::Brace(n),
                _ => self.not_literal(b)?,
            },
            Scan::Brace(n) => match b {
                b'\r' => self.scan = Scan::Cr(n),
                _ => self.not_literal(b)?,
            },
            Scan::Cr(n) => match b {
                b'\n' => {
                    if n > MAX_LITERAL {
                        return Err(format!(
                            "the server announced a literal of {n} octets, more than the {} MiB rmail accepts",
                            MAX_LITERAL >> 20
                        ));
                    }
                    self.scan = if n == 0 {
                        Scan::Normal
                    } else {
                        Scan::Literal(n)
                    };
                }
                _ => self.not_literal(b)?,
            },
            // Literal octets are skipped in `feed` and never come here.
            Scan::Literal(_) => {}
        }
        Ok(())
    }

    /// `b` after something that looked like the start of a literal and was not one.
    fn not_literal(&mut self, b: u8) -> Result<(), String> {
        self.scan = Scan::Normal;
        self.normal(b)
    }

    fn normal(&mut self, b: u8) -> Result<(), String> {
        if self.spaces < 2 {
            if b == b' ' {
                self.spaces += 1;
                if self.spaces == 2 {
                    self.text_line = self.text_line || status_line(&self.line);
                }
            } else if self.spaces == 0 && self.line.len() == 1 && b == b'+' {
                self.text_line = true;
            }
        }
        match b {
            b'"' => self.scan = Scan::Quoted,
            b'{' if !self.text_line => self.scan = Scan::Length(0),
            b'(' => {
                self.depth += 1;
                if self.depth > MAX_NESTING {
                    return Err(format!(
                        "the server's response is nested more than {MAX_NESTING} levels deep"
                    ));
                }
            }
            b')' => self.depth = self.depth.saturating_sub(1),
            b'\n' => self.end_line(),
            _ => {}
        }
        Ok(())
    }

    /// A line end outside a literal: a new response (or the rest of one) begins.
    fn end_line(&mut self) {
        if status_line(&self.line)
            && matches!(
                self.line
                    .split(|&c| c == b' ')
                    .nth(1)
                    .map(|w| w.to_ascii_uppercase())
                    .as_deref(),
                Some(b"NO" | b"BAD" | b"BYE")
            )
        {
            self.refusal = Some(std::mem::take(&mut self.line));
        }
        self.line.clear();
        self.depth = 0;
        self.spaces = 0;
        self.text_line = false;
        self.scan = Scan::Normal;
    }
}

/// A [`Guard`] limit broken: the payload of its `InvalidData` read error, so that it can be
/// told from I/O errors (which mean the connection is gone and is worth a reconnect).
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// Whether `line` (at least its first two words) is a status response (RFC 3501 §7.1):
/// `* OK|NO|BAD|BYE|PREAUTH` or `TAG OK|NO|BAD`.
fn status_line(line: &[u8]) -> bool {
    let mut w = line.split(|&c| c == b' ');
    let (Some(first), Some(second)) = (w.next(), w.next()) else {
        return false;
    };
    let s = second.to_ascii_uppercase();
    match &s[..] {
        b"OK" | b"NO" | b"BAD" => !first.is_empty(),
        b"BYE" | b"PREAUTH" => first == b"*",
        _ => false,
    }
}

type Client = async_imap::Client<Conn>;
type Session = async_imap::Session<Conn>;

/// Why a command did not complete: the connection is gone (worth one reconnect), or an
/// error for the user.
#[derive(Debug)]
enum Fail {
    Lost(String),
    Remote(RemoteError),
}

impl From<RemoteError> for Fail {
    fn from(e: RemoteError) -> Fail {
        Fail::Remote(e)
    }
}

/// A tagged completion (RFC 3501 §7.1): status, the response code we act on, the text.
#[derive(Debug)]
struct Done {
    ok: bool,
    trycreate: bool,
    text: String,
}

/// Capabilities, upper-cased (RFC 3501 §7.2.1).
#[derive(Debug, Default, Clone)]
struct Caps(Vec<String>);

impl Caps {
    fn from_list(list: &[Capability<'_>]) -> Caps {
        Caps(
            list.iter()
                .map(|c| match c {
                    Capability::Imap4rev1 => "IMAP4REV1".to_owned(),
                    Capability::Auth(a) => format!("AUTH={}", a.to_ascii_uppercase()),
                    Capability::Atom(a) => a.to_ascii_uppercase(),
                })
                .collect(),
        )
    }
    fn has(&self, name: &str) -> bool {
        self.0.iter().any(|c| c.eq_ignore_ascii_case(name))
    }
}

/// One logged-in connection.
struct Link {
    session: Session,
    caps: Caps,
    /// The last `EXISTS` count seen (RFC 3501 §7.3.1), less `EXPUNGE`s since.
    exists: u32,
    timeout: Duration,
    /// `host:port`, for errors.
    host: String,
}

/// `fut` bounded by `t`; running out of time is a [`RemoteError::Timeout`].
async fn within<F: std::future::Future>(
    t: Duration,
    url: &FolderUrl,
    fut: F,
) -> Result<F::Output, RemoteError> {
    tokio::time::timeout(t, fut)
        .await
        .map_err(|_| RemoteError::Timeout {
            host_port: url.host_port(),
            secs: t.as_secs(),
        })
}

/// What the server sent, for an error: the first line of async-imap's parse error text
/// (`… during parsing of "…"`, the unparsed input in Rust string notation), at most 80
/// characters, in quotes; `None` for any other error.
fn unparsed(e: &std::io::Error) -> Option<String> {
    let text = e.to_string();
    let (_, input) = text.split_once(" during parsing of ")?;
    let input = input.strip_prefix('"').unwrap_or(input);
    let first = input.split("\\r\\n").next().unwrap_or(input);
    let first = first.split("\\n").next().unwrap_or(first);
    let first = first.strip_suffix('"').unwrap_or(first);
    Some(format!(
        "\"{}\"",
        first.chars().take(80).collect::<String>()
    ))
}

/// The text of a [`Guard`] refusal inside a read error.
fn guard_refusal(e: &std::io::Error) -> Option<String> {
    e.get_ref()
        .and_then(|i| i.downcast_ref::<Refused>())
        .map(|r| r.0.clone())
}

/// An I/O error while reading responses: a parse failure or a broken [`Guard`] limit is
/// the server's fault ([`RemoteError::Protocol`] naming `host_port`, not retried); the
/// rest means the connection is gone.
fn read_fail(e: std::io::Error, host_port: &str) -> Fail {
    if let Some(why) = guard_refusal(&e) {
        return Fail::Remote(RemoteError::Protocol {
            host: host_port.to_owned(),
            detail: why,
        });
    }
    match unparsed(&e) {
        Some(said) => Fail::Remote(RemoteError::Protocol {
            host: host_port.to_owned(),
            detail: format!("unreadable response: {said}"),
        }),
        None => Fail::Lost(e.to_string()),
    }
}

/// The text of a status response (RFC 3501 §7.1) as the user should read it: imap-proto's
/// `information` when it is UTF-8; else the text decoded from the raw line, UTF-8 or
/// GB18030 ([`crate::message::charset::decode_guess`]; QQ and NetEase answer in GBK).
/// `has_code`: imap-proto parsed a `[CODE]`, which `information` does not include.
fn outcome_text(raw: &[u8], information: Option<&str>, has_code: bool) -> String {
    let info = information.unwrap_or("");
    if !info.contains('\u{FFFD}') {
        return info.to_owned();
    }
    raw_status_text(raw, has_code)
}

/// The text after the tag and status word of a raw status line, decoded as
/// [`outcome_text`] says; a leading `[CODE] ` is dropped when `drop_code`.
fn raw_status_text(raw: &[u8], drop_code: bool) -> String {
    let line = raw.split(|&b| b == b'\n').next().unwrap_or(raw);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut rest = line;
    for _ in 0..2 {
        rest = match memchr::memchr(b' ', rest) {
            Some(i) => &rest[i + 1..],
            None => &rest[rest.len()..],
        };
    }
    if drop_code && rest.first() == Some(&b'[') {
        if let Some(i) = memchr::memchr(b']', rest) {
            rest = &rest[i + 1..];
            rest = rest.strip_prefix(b" ").unwrap_or(rest);
        }
    }
    crate::message::charset::decode_guess(rest)
}

impl Link {
    fn timeout_err(&self) -> RemoteError {
        RemoteError::Timeout {
            host_port: self.host.clone(),
            secs: self.timeout.as_secs(),
        }
    }

    /// Sends `line` and reads up to its tagged completion, giving every untagged response to
    /// `each` and keeping [`Link::exists`] current. `* BYE` or EOF is [`Fail::Lost`].
    async fn cmd(&mut self, line: &str, mut each: impl FnMut(&Response<'_>)) -> Result<Done, Fail> {
        self.session.get_mut().reset_timers();
        let tag = match tokio::time::timeout(self.timeout, self.session.run_command(line)).await {
            Err(_) => return Err(self.timeout_err().into()),
            Ok(Err(e)) => return Err(Fail::Lost(e.to_string())),
            Ok(Ok(t)) => t,
        };
        self.read_done(&tag.0, &mut each).await
    }

    /// A failed read or write on the session's stream: the inactivity timeout
    /// ([`Conn`]) as [`RemoteError::Timeout`], the rest as [`read_fail`] says.
    fn read_fail(&self, e: std::io::Error) -> Fail {
        if e.kind() == std::io::ErrorKind::TimedOut {
            return self.timeout_err().into();
        }
        read_fail(e, &self.host)
    }

    /// Reads responses up to the completion tagged `tag`.
    async fn read_done(
        &mut self,
        tag: &str,
        each: &mut impl FnMut(&Response<'_>),
    ) -> Result<Done, Fail> {
        match self.read_until(tag, false, each).await? {
            Some(d) => Ok(d),
            None => Err(Fail::Lost("an unexpected continuation request".into())),
        }
    }

    /// Reads responses up to the completion tagged `tag` — or, with `at_continue`, up to a
    /// continuation request (`+`, RFC 3501 §7.5), which gives `None`. EXISTS and EXPUNGE keep
    /// the message count; a `BYE` is kept as the reason when the connection then ends; the
    /// other responses go to `each`.
    async fn read_until(
        &mut self,
        tag: &str,
        at_continue: bool,
        each: &mut impl FnMut(&Response<'_>),
    ) -> Result<Option<Done>, Fail> {
        let mut bye: Option<String> = None;
        loop {
            // Each read is bounded by the stream's inactivity timeout ([`Conn`]), not the
            // whole response: a large body over a slow link must get through.
            let resp = match self.session.read_response().await {
                Err(e) => return Err(self.read_fail(e)),
                Ok(None) => {
                    return Err(Fail::Lost(
                        bye.unwrap_or_else(|| "the server closed the connection".into()),
                    ))
                }
                Ok(Some(r)) => r,
            };
            match resp.parsed() {
                Response::Continue(_) if at_continue => return Ok(None),
                Response::Done {
                    tag: t,
                    status,
                    outcome,
                } if t.0 == tag => {
                    return Ok(Some(Done {
                        ok: *status == Status::Ok,
                        trycreate: matches!(outcome.code, Some(ResponseCode::TryCreate)),
                        text: outcome_text(
                            resp.borrow_owner(),
                            outcome.information.as_deref(),
                            outcome.code.is_some(),
                        ),
                    }))
                }
                Response::Data {
                    status: Status::Bye,
                    outcome,
                } => {
                    bye = Some(format!(
                        "the server said BYE: {}",
                        outcome_text(
                            resp.borrow_owner(),
                            outcome.information.as_deref(),
                            outcome.code.is_some()
                        )
                    ));
                }
                Response::MailboxData(MailboxDatum::Exists(n)) => self.exists = *n,
                Response::Expunge(_) => self.exists = self.exists.saturating_sub(1),
                r => each(r),
            }
        }
    }

    /// Removes the messages of the UID set `set`: `UID STORE +FLAGS.SILENT (\Deleted)`, then
    /// `UID EXPUNGE` (RFC 4315 §2.1) when UIDPLUS is offered, else `EXPUNGE` (which also
    /// removes other messages already marked `\Deleted`, as s-nail does).
    async fn expunge_uids(&mut self, set: &str) -> Result<(), Fail> {
        let line = format!("UID STORE {set} +FLAGS.SILENT (\\Deleted)");
        self.simple(&line, "UID STORE").await?;
        if self.caps.has("UIDPLUS") {
            self.simple(&format!("UID EXPUNGE {set}"), "UID EXPUNGE")
                .await
        } else {
            self.simple("EXPUNGE", "EXPUNGE").await
        }
    }

    /// Runs `line` and turns a `NO`/`BAD` into [`RemoteError::Server`] naming `verb`.
    async fn simple(&mut self, line: &str, verb: &str) -> Result<(), Fail> {
        let d = self.cmd(line, |_| {}).await?;
        self.check(d, verb)
    }

    fn check(&self, d: Done, verb: &str) -> Result<(), Fail> {
        if d.ok {
            Ok(())
        } else {
            Err(Fail::Remote(RemoteError::Server {
                host: self.host.clone(),
                command: verb.to_owned(),
                text: d.text,
            }))
        }
    }

    /// `CAPABILITY` (RFC 3501 §6.1.1).
    async fn capability(&mut self) -> Result<(), Fail> {
        let mut caps = None;
        let d = self
            .cmd("CAPABILITY", |r| {
                if let Response::Capabilities(c) = r {
                    caps = Some(Caps::from_list(c));
                }
            })
            .await?;
        self.check(d, "CAPABILITY")?;
        if let Some(c) = caps {
            self.caps = c;
        }
        Ok(())
    }

    /// `SELECT`/`EXAMINE` (RFC 3501 §6.3.1–2); returns UIDVALIDITY when the server sent it.
    async fn select(&mut self, mailbox: &str, read_only: bool) -> Result<Option<u32>, Fail> {
        let verb = if read_only { "EXAMINE" } else { "SELECT" };
        let mut validity = None;
        let d = self
            .cmd(&format!("{verb} {}", quote_mailbox(mailbox)?), |r| {
                if let Response::Data {
                    status: Status::Ok,
                    outcome,
                } = r
                {
                    if let Some(ResponseCode::UidValidity(v)) = outcome.code {
                        validity = Some(v);
                    }
                }
            })
            .await?;
        // The refusal names the mailbox: "SELECT My Stuff refused: …".
        self.check(d, &format!("{verb} {mailbox}"))?;
        Ok(validity)
    }

    /// `FETCH`/`UID FETCH` of [`SUMMARY_ITEMS`], converted as they arrive (no response is
    /// kept). Skipped, so that index → UID stays one-to-one: messages without a UID or
    /// envelope (unsolicited flag updates), UID 0 (not a UID, RFC 3501 §2.3.1.1), sequence
    /// numbers above the EXISTS count at the end of the command, and a UID seen before
    /// (the first reply wins). A server that sends those is broken; nothing is printed.
    async fn summaries(
        &mut self,
        line: &str,
        progress: Option<&mut Progress>,
    ) -> Result<Vec<RemoteMessage>, Fail> {
        let mut out: Vec<(u32, RemoteMessage)> = Vec::new();
        let mut progress = progress;
        let d = self
            .cmd(line, |r| {
                if let Response::Fetch(seq, attrs) = r {
                    if let Some(m) = summary_of(attrs) {
                        out.push((*seq, m));
                        if let Some(p) = progress.as_deref_mut() {
                            p.set(out.len() as u64);
                        }
                    }
                }
            })
            .await?;
        self.check(d, "FETCH")?;
        let exists = self.exists;
        let mut seen = std::collections::HashSet::new();
        Ok(out
            .into_iter()
            .filter(|(seq, m)| (1..=exists).contains(seq) && seen.insert(m.uid))
            .map(|(_, m)| m)
            .collect())
    }

    /// `APPEND` (RFC 3501 §6.3.11) with a synchronizing literal; returns the completion so
    /// that the caller can act on `[TRYCREATE]`.
    async fn append_once(
        &mut self,
        mailbox: &str,
        flags: &str,
        date: Option<&str>,
        data: &[u8],
    ) -> Result<Done, Fail> {
        let date = date.map(|d| format!(" \"{d}\"")).unwrap_or_default();
        let line = format!(
            "APPEND {} ({flags}){date} {{{}}}",
            quote_mailbox(mailbox)?,
            data.len()
        );
        let tag = match tokio::time::timeout(self.timeout, self.session.run_command(&line)).await {
            Err(_) => return Err(self.timeout_err().into()),
            Ok(Err(e)) => return Err(Fail::Lost(e.to_string())),
            Ok(Ok(t)) => t,
        };
        self.session.get_mut().reset_timers();
        // The server answers `+` to go on, or completes the command at once (NO/BAD).
        if let Some(d) = self.read_until(&tag.0, true, &mut |_| {}).await? {
            return Ok(d);
        }
        // The literal: bounded by the stream's inactivity timeout, not as a whole.
        let write = async {
            let s = self.session.get_mut();
            s.write_all(data).await?;
            s.write_all(b"\r\n").await?;
            s.flush().await
        };
        if let Err(e) = write.await {
            return Err(self.read_fail(e));
        }
        self.read_done(&tag.0, &mut |_| {}).await
    }

    /// APPEND, creating the mailbox on `[TRYCREATE]` (RFC 3501 §7.1) and trying once more.
    async fn append(
        &mut self,
        mailbox: &str,
        flags: &str,
        date: Option<&str>,
        data: &[u8],
    ) -> Result<(), Fail> {
        self.simple("NOOP", "NOOP").await?;
        let d = self
            .append_once(mailbox, flags, date, data)
            .await
            .map_err(|e| self.sent(e, "APPEND"))?;
        if !d.ok && d.trycreate {
            self.create(mailbox).await?;
            let d = self
                .append_once(mailbox, flags, date, data)
                .await
                .map_err(|e| self.sent(e, "APPEND"))?;
            return self.check(d, "APPEND");
        }
        self.check(d, "APPEND")
    }

    /// A lost connection after `verb` (COPY, APPEND) was sent, as an error that is not
    /// retried: the server may have carried it out.
    fn sent(&self, e: Fail, verb: &str) -> Fail {
        match e {
            Fail::Lost(why) => Fail::Remote(RemoteError::Protocol {
                host: self.host.clone(),
                detail: format!(
                    "connection lost after {verb} was sent ({why}); it may have been carried \
                     out: look in the target mailbox before trying again"
                ),
            }),
            other => other,
        }
    }

    /// `CREATE` (RFC 3501 §6.3.3) after a `[TRYCREATE]`. A refusal is not an error here:
    /// another client may have created it meanwhile, and the command tried again reports
    /// what is really wrong.
    async fn create(&mut self, mailbox: &str) -> Result<(), Fail> {
        let line = format!("CREATE {}", quote_mailbox(mailbox)?);
        self.cmd(&line, |_| {}).await.map(|_| ())
    }

    /// `LIST "" "*"` (RFC 3501 §6.3.8), with `RETURN (SPECIAL-USE)` (RFC 6154 §5.1) when
    /// offered.
    async fn list(&mut self) -> Result<Vec<ListEntry>, Fail> {
        let line = if self.caps.has("SPECIAL-USE") && self.caps.has("LIST-EXTENDED") {
            "LIST \"\" \"*\" RETURN (SPECIAL-USE)"
        } else {
            "LIST \"\" \"*\""
        };
        let mut out = Vec::new();
        let d = self
            .cmd(line, |r| {
                if let Response::MailboxData(MailboxDatum::List(l)) = r {
                    out.push(ListEntry {
                        name: utf7::decode(l.name.as_bytes()).unwrap_or_else(|| l.name.to_string()),
                        delimiter: l.delimiter.as_deref().and_then(|d| d.chars().next()),
                        attributes: l.name_attributes.iter().map(attribute_name).collect(),
                    });
                }
            })
            .await?;
        self.check(d, "LIST")?;
        Ok(out)
    }

    /// `LOGOUT` (RFC 3501 §6.1.3); errors ignored (we are leaving anyway).
    async fn logout(&mut self) {
        let _ = self.cmd("LOGOUT", |_| {}).await;
    }
}

/// The name of a LIST attribute as the server spelled it (RFC 3501 §7.2.2, RFC 6154 §2).
fn attribute_name(a: &NameAttribute<'_>) -> String {
    match a {
        NameAttribute::NoInferiors => "\\Noinferiors".into(),
        NameAttribute::NoSelect => "\\Noselect".into(),
        NameAttribute::Marked => "\\Marked".into(),
        NameAttribute::Unmarked => "\\Unmarked".into(),
        NameAttribute::All => "\\All".into(),
        NameAttribute::Archive => "\\Archive".into(),
        NameAttribute::Drafts => "\\Drafts".into(),
        NameAttribute::Flagged => "\\Flagged".into(),
        NameAttribute::Junk => "\\Junk".into(),
        NameAttribute::Sent => "\\Sent".into(),
        NameAttribute::Trash => "\\Trash".into(),
        NameAttribute::Extension(s) => s.to_string(),
        other => format!("{other:?}"),
    }
}

/// A mailbox name as an IMAP quoted string: modified UTF-7 (RFC 3501 §5.1.3), `\` and `"`
/// escaped. Errors: line breaks or NUL, which no IMAP string can carry.
fn quote_mailbox(name: &str) -> Result<String, RemoteError> {
    if name.contains(['\r', '\n', '\0']) {
        return Err(RemoteError::Unsupported(
            "a mailbox name cannot contain line breaks",
        ));
    }
    let enc = utf7::encode(name);
    let mut q = String::with_capacity(enc.len() + 2);
    q.push('"');
    for c in enc.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    Ok(q)
}

/// Sorted UIDs as an RFC 3501 §9 sequence set, runs compressed: `[1,2,3,5,7,8]` is
/// `1:3,5,7:8`; empty for none. Duplicates are dropped.
pub fn sequence_set(uids: &[u32]) -> String {
    let mut v: Vec<u32> = uids.to_vec();
    v.sort_unstable();
    v.dedup();
    let mut out = String::new();
    let mut i = 0;
    while i < v.len() {
        let start = v[i];
        let mut end = start;
        while i + 1 < v.len() && v[i + 1] == end + 1 {
            end = v[i + 1];
            i += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        if end == start {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

/// Whether a display name can go into a header unquoted: atoms and spaces only (RFC 5322
/// §3.2.3 atext; 8-bit bytes allowed as RFC 6532 does). Encoded-words (`=?…?=`) are atext,
/// so they stay unquoted, where RFC 2047 §5 wants them.
fn phrase_is_atoms(name: &[u8]) -> bool {
    name.iter().all(|&b| {
        b.is_ascii_alphanumeric() || b == b' ' || b >= 0x80 || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
    }) && !name.iter().all(|&b| b == b' ')
}

/// `local@domain` of an ENVELOPE address (RFC 3501 §7.4.2); `None` for group markers
/// (no host) and empty ones.
fn bare_address(a: &Address<'_>) -> Option<Vec<u8>> {
    let local = a.mailbox.as_deref()?;
    let host = a.host.as_deref()?;
    let mut v = Vec::with_capacity(local.len() + host.len() + 1);
    v.extend_from_slice(local);
    if !host.is_empty() {
        v.push(b'@');
        v.extend_from_slice(host);
    }
    Some(v)
}

/// An ENVELOPE address as a header field value: `Name <local@domain>`, the name quoted
/// (`"Doe, John" <…>`) when it is not all atoms, encoded-words kept as sent; the bare
/// address when there is no name. `None` for a group marker.
pub fn render_address(a: &Address<'_>) -> Option<Vec<u8>> {
    let addr = bare_address(a)?;
    let name = a
        .name
        .as_deref()
        .map(|n| n.trim_ascii())
        .filter(|n| !n.is_empty());
    let Some(name) = name else {
        return Some(addr);
    };
    let mut v = Vec::with_capacity(name.len() + addr.len() + 6);
    if phrase_is_atoms(name) {
        v.extend_from_slice(name);
    } else {
        v.push(b'"');
        for &b in name {
            if b == b'"' || b == b'\\' {
                v.push(b'\\');
            }
            if b != b'\r' && b != b'\n' {
                v.push(b);
            }
        }
        v.push(b'"');
    }
    v.extend_from_slice(b" <");
    v.extend_from_slice(&addr);
    v.push(b'>');
    Some(v)
}

/// An INTERNALDATE (`" 1-Dec-2026 02:24:44 +0800"`, RFC 3501 §9 date-time) parsed.
pub fn parse_internaldate(s: &str) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    chrono::DateTime::parse_from_str(s.trim(), "%d-%b-%Y %H:%M:%S %z").ok()
}

/// A time in the local zone in asctime form, as mailx's `From_` lines have it:
/// `Tue Dec  1 02:24:44 2026`.
pub fn asctime<Tz: chrono::TimeZone>(t: &chrono::DateTime<Tz>) -> String {
    t.with_timezone(&chrono::Local)
        .format("%a %b %e %H:%M:%S %Y")
        .to_string()
}

/// The summary of one FETCH response; `None` without UID or ENVELOPE, or with UID 0.
fn summary_of(attrs: &[AttributeValue<'_>]) -> Option<RemoteMessage> {
    let mut m = RemoteMessage::default();
    let mut uid = None;
    let mut env: Option<&Envelope<'_>> = None;
    let mut arrival = None;
    for a in attrs {
        match a {
            AttributeValue::Uid(u) => uid = Some(*u),
            AttributeValue::Rfc822Size(s) => m.size = u64::from(*s),
            AttributeValue::Flags(f) => m.flags = flags_of(f.iter().map(|s| s.as_ref())),
            AttributeValue::InternalDate(d) => arrival = parse_internaldate(d),
            AttributeValue::Envelope(e) => env = Some(e),
            _ => {}
        }
    }
    m.uid = uid.filter(|&u| u != 0)?;
    let env = env?;
    m.from = env.from.iter().flatten().find_map(render_address);
    m.subject = env.subject.as_deref().map(<[u8]>::to_vec);
    m.date = env.date.as_deref().map(<[u8]>::to_vec);
    let sender = env
        .from
        .iter()
        .chain(env.sender.iter())
        .flatten()
        .find_map(bare_address)
        .filter(|a| !a.is_empty() && !a.contains(&b' '))
        .unwrap_or_else(|| b"MAILER-DAEMON".to_vec());
    let when = arrival
        .or_else(|| {
            m.date
                .as_deref()
                .and_then(|d| std::str::from_utf8(d).ok())
                .and_then(|d| chrono::DateTime::parse_from_rfc2822(d.trim()).ok())
        })
        .map(|t| asctime(&t))
        .unwrap_or_else(|| asctime(&chrono::Local::now()));
    let mut fl = sender;
    fl.push(b' ');
    fl.extend_from_slice(when.as_bytes());
    m.from_line = fl;
    Some(m)
}

/// System flags from a FLAGS list (RFC 3501 §2.3.2), case-insensitive; keywords ignored.
fn flags_of<'a>(list: impl Iterator<Item = &'a str>) -> RemoteFlags {
    let mut f = RemoteFlags::default();
    for s in list {
        match s.to_ascii_lowercase().as_str() {
            "\\seen" => f.seen = true,
            "\\answered" => f.answered = true,
            "\\flagged" => f.flagged = true,
            "\\deleted" => f.deleted = true,
            "\\draft" => f.draft = true,
            "\\recent" => f.recent = true,
            _ => {}
        }
    }
    f
}

/// A flag list for APPEND (without parentheses); `\Recent` cannot be set (RFC 3501 §2.3.2).
fn flag_list(f: RemoteFlags) -> String {
    let mut v = Vec::new();
    for (on, name) in [
        (f.seen, "\\Seen"),
        (f.answered, "\\Answered"),
        (f.flagged, "\\Flagged"),
        (f.deleted, "\\Deleted"),
        (f.draft, "\\Draft"),
    ] {
        if on {
            v.push(name);
        }
    }
    v.join(" ")
}

/// CRLF line ends to LF (a lone CR stays).
fn crlf_to_lf(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut rest = data;
    while let Some(i) = memchr::memmem::find(rest, b"\r\n") {
        out.extend_from_slice(&rest[..i]);
        out.push(b'\n');
        rest = &rest[i + 2..];
    }
    out.extend_from_slice(rest);
    out
}

/// LF line ends to CRLF for the wire (RFC 3501 §4.3: a message literal has CRLF lines);
/// existing CRLFs stay, a final line end is not added.
fn lf_to_crlf(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 32);
    let mut prev = 0u8;
    for &b in data {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

/// XOAUTH2's single client response (Google's and Microsoft's SASL mechanism); an empty
/// answer to the error challenge that follows a refusal.
struct XOAuth2 {
    response: Option<String>,
}

impl async_imap::Authenticator for XOAuth2 {
    type Response = String;
    fn process(&mut self, _challenge: &[u8]) -> String {
        self.response.take().unwrap_or_default()
    }
}

/// The text of an async-imap `NO`/`BAD` error (`code: …, info: Some("text")`), else its
/// whole display. Never contains the command, so never the secret.
fn refusal_text(e: &async_imap::error::Error) -> String {
    let s = match e {
        async_imap::error::Error::No(s) | async_imap::error::Error::Bad(s) => s.clone(),
        other => return other.to_string(),
    };
    match s.find("info: Some(\"") {
        Some(i) => {
            let rest = &s[i + 12..];
            let rest = rest.strip_suffix("\")").unwrap_or(rest);
            rest.replace("\\\"", "\"").replace("\\\\", "\\")
        }
        None => s,
    }
}

/// Reads responses before login (greeting, CAPABILITY, STARTTLS) up to the completion
/// tagged `tag`, collecting capabilities; `Err` on EOF or I/O error.
async fn preauth_done(
    client: &mut Client,
    opts: &ConnectOptions,
    tag: &str,
    caps: &mut Option<Caps>,
) -> Result<(bool, String), RemoteError> {
    loop {
        let r = within(opts.timeout, &opts.url, client.read_response()).await?;
        let r = match r {
            Ok(Some(r)) => r,
            Ok(None) => return Err(lost(opts, "the server closed the connection")),
            Err(e) => return Err(preauth_fail(opts, e)),
        };
        match r.parsed() {
            Response::Capabilities(c) => *caps = Some(Caps::from_list(c)),
            Response::Done {
                tag: t,
                status,
                outcome,
            } if t.0 == tag => {
                return Ok((
                    *status == Status::Ok,
                    outcome_text(
                        r.borrow_owner(),
                        outcome.information.as_deref(),
                        outcome.code.is_some(),
                    ),
                ))
            }
            _ => {}
        }
    }
}

/// The connection was lost (and, in a session, could not be made again): a
/// [`RemoteError::Protocol`] naming `host:port`.
fn lost(opts: &ConnectOptions, why: &str) -> RemoteError {
    RemoteError::Protocol {
        host: opts.url.host_port(),
        detail: format!("connection lost: {why}"),
    }
}

/// Writes a tagged command before login straight to the stream (async-imap has no public
/// command call on an unauthenticated client); tags `P1`, `P2`… never clash with its
/// `a1`, `a2`….
async fn preauth_cmd(
    client: &mut Client,
    opts: &ConnectOptions,
    tag: &str,
    cmd: &str,
    caps: &mut Option<Caps>,
) -> Result<(bool, String), RemoteError> {
    let line = format!("{tag} {cmd}\r\n");
    let w = async {
        let s = client.get_mut();
        s.write_all(line.as_bytes()).await?;
        s.flush().await
    };
    within(opts.timeout, &opts.url, w)
        .await?
        .map_err(|e| lost(opts, &e.to_string()))?;
    preauth_done(client, opts, tag, caps).await
}

/// The greeting (RFC 3501 §7.1): `* OK`, maybe with capabilities; `* BYE` is a refusal.
async fn greeting(client: &mut Client, opts: &ConnectOptions) -> Result<Option<Caps>, RemoteError> {
    let r = within(opts.timeout, &opts.url, client.read_response()).await?;
    let r = match r {
        Ok(Some(r)) => r,
        Ok(None) => {
            return Err(lost(
                opts,
                "the server closed the connection before greeting",
            ))
        }
        Err(e) => {
            return Err(match unparsed(&e) {
                Some(said) => not_imap(opts, &said),
                None => preauth_fail(opts, e),
            })
        }
    };
    match r.parsed() {
        Response::Data {
            status: Status::Ok,
            outcome,
        } => Ok(match &outcome.code {
            Some(ResponseCode::Capabilities(c)) => Some(Caps::from_list(c)),
            _ => None,
        }),
        Response::Data {
            status: Status::Bye,
            outcome,
        } => Err(RemoteError::Server {
            host: opts.url.host_port(),
            command: "connect".into(),
            text: outcome_text(
                r.borrow_owner(),
                outcome.information.as_deref(),
                outcome.code.is_some(),
            ),
        }),
        Response::Data {
            status: Status::PreAuth,
            ..
        } => Err(RemoteError::Protocol {
            host: opts.url.host_port(),
            detail: "the server greets with PREAUTH, which rmail does not support".into(),
        }),
        _ => {
            let raw: &[u8] = r.borrow_owner();
            let line = raw.split(|&b| b == b'\n').next().unwrap_or(raw);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let text = crate::message::charset::decode_guess(line);
            Err(not_imap(
                opts,
                &format!("{:?}", text.chars().take(80).collect::<String>()),
            ))
        }
    }
}

/// A greeting that is not IMAP's (RFC 3501 §7.1: `* OK`, `* PREAUTH` or `* BYE`): `said`
/// is what came instead, quoted.
fn not_imap(opts: &ConnectOptions, said: &str) -> RemoteError {
    RemoteError::Protocol {
        host: opts.url.host_port(),
        detail: format!("not an IMAP server (it said: {said})"),
    }
}

/// A read error before login: a broken [`Guard`] limit or an unreadable response is a
/// [`RemoteError::Protocol`] saying so, anything else a lost connection.
fn preauth_fail(opts: &ConnectOptions, e: std::io::Error) -> RemoteError {
    match read_fail(e, &opts.url.host_port()) {
        Fail::Remote(r) => r,
        Fail::Lost(why) => lost(opts, &why),
    }
}

/// The TLS handshake on `tcp` (certificate checked against the system roots and
/// `opts.tls.ca_pem` unless `accept_invalid`).
async fn tls_wrap(opts: &ConnectOptions, tcp: TcpStream) -> Result<Conn, RemoteError> {
    let builder = opts.tls.builder().map_err(|e| RemoteError::Tls {
        host_port: opts.url.host_port(),
        detail: e.to_string(),
    })?;
    let connector = async_native_tls::TlsConnector::from(builder);
    match within(
        opts.timeout,
        &opts.url,
        connector.connect(opts.url.host.as_str(), tcp),
    )
    .await?
    {
        Ok(s) => Ok(Conn::new(Io::Tls(Box::new(s)), opts.timeout)),
        Err(e) => Err(tls_error(&opts.url, opts.timeout, &e.to_string())),
    }
}

/// Connects and reads the greeting, with TLS as the URL says; returns the client and the
/// capabilities valid for login.
async fn connect(opts: &ConnectOptions) -> Result<(Client, Caps), RemoteError> {
    let url = &opts.url;
    let tcp = within(
        opts.timeout,
        url,
        TcpStream::connect((url.host.as_str(), url.port)),
    )
    .await?
    .map_err(|e| connect_error(url, opts.timeout, &e))?;
    let _ = tcp.set_nodelay(true);
    let mut client = match url.security {
        Security::Tls => Client::new(tls_wrap(opts, tcp).await?),
        Security::Plain | Security::StartTls => {
            Client::new(Conn::new(Io::Plain(tcp), opts.timeout))
        }
    };
    let mut caps = greeting(&mut client, opts).await?;
    if caps.is_none() {
        preauth_cmd(&mut client, opts, "P1", "CAPABILITY", &mut caps).await?;
    }
    if url.security == Security::StartTls {
        if !caps.as_ref().is_some_and(|c| c.has("STARTTLS")) {
            return Err(RemoteError::StartTlsUnavailable {
                host_port: url.host_port(),
            });
        }
        let (ok, text) = preauth_cmd(&mut client, opts, "P2", "STARTTLS", &mut None).await?;
        if !ok {
            return Err(RemoteError::Server {
                host: url.host_port(),
                command: "STARTTLS".into(),
                text,
            });
        }
        // Anything the server sent after its OK is dropped with the old buffer (RFC 3501
        // §6.2.1: capabilities are asked again over TLS).
        let tcp = match client.into_inner().io {
            Io::Plain(t) => t,
            Io::Tls(_) => {
                return Err(lost(opts, "TLS was already on"));
            }
        };
        client = Client::new(tls_wrap(opts, tcp).await?);
        caps = None;
        preauth_cmd(&mut client, opts, "P3", "CAPABILITY", &mut caps).await?;
    }
    Ok((client, caps.unwrap_or_default()))
}

/// Connects and logs in (sending ID when wanted); no mailbox selected.
async fn login(opts: &ConnectOptions) -> Result<Link, RemoteError> {
    let (client, caps) = connect(opts).await?;
    let url = &opts.url;
    // `refusal`: the last NO/BAD/BYE line the [`Guard`] saw, as sent.
    let auth_err = |e: async_imap::error::Error, refusal: Option<&[u8]>| -> RemoteError {
        let is = |word: &[u8]| {
            refusal.is_some_and(|r| {
                r.split(|&b| b == b' ')
                    .nth(1)
                    .is_some_and(|w| w.eq_ignore_ascii_case(word))
            })
        };
        match e {
            async_imap::error::Error::No(_) | async_imap::error::Error::Bad(_) => {
                let text = match refusal {
                    Some(raw)
                        if !raw.starts_with(b"*")
                            && (is(b"NO") || is(b"BAD"))
                            && std::str::from_utf8(raw).is_err() =>
                    {
                        raw_status_text(raw, false)
                    }
                    _ => refusal_text(&e),
                };
                RemoteError::Auth {
                    user: opts.login.user().to_owned(),
                    host: url.host.clone(),
                    text,
                    hint: crate::send::smtp::auth_hint(&url.host),
                }
            }
            async_imap::error::Error::Validate(v) => RemoteError::Auth {
                user: opts.login.user().to_owned(),
                host: url.host.clone(),
                text: format!(
                    "the login name or password contains a character IMAP cannot send ({v})"
                ),
                hint: None,
            },
            _ if is(b"BYE") => RemoteError::Protocol {
                host: url.host_port(),
                detail: format!(
                    "the server said BYE during login: {}",
                    raw_status_text(refusal.unwrap_or_default(), false)
                ),
            },
            async_imap::error::Error::Io(e) => preauth_fail(opts, e),
            other => lost(opts, &other.to_string()),
        }
    };
    let session = match &opts.login {
        Login::Password { user, password } => {
            if caps.has("LOGINDISABLED") {
                return Err(RemoteError::Auth {
                    user: user.clone(),
                    host: url.host.clone(),
                    text: "the server does not accept a password over this connection \
                           (LOGINDISABLED)"
                        .into(),
                    hint: Some("use imaps:// or imap://…?starttls"),
                });
            }
            within(opts.timeout, url, client.login(user, password))
                .await?
                .map_err(|(e, c)| auth_err(e, c.get_ref().guard.refusal.as_deref()))?
        }
        Login::XOAuth2 { user, token } => {
            let a = XOAuth2 {
                response: Some(format!("user={user}\x01auth=Bearer {token}\x01\x01")),
            };
            within(opts.timeout, url, client.authenticate("XOAUTH2", a))
                .await?
                .map_err(|(e, c)| auth_err(e, c.get_ref().guard.refusal.as_deref()))?
        }
    };
    let mut link = Link {
        session,
        caps,
        exists: 0,
        timeout: opts.timeout,
        host: url.host_port(),
    };
    let r: Result<(), Fail> = async {
        link.capability().await?;
        if link.caps.has("ID") || opts.imap_id {
            // RFC 2971 §3.1; a refusal does not stop us.
            let line = format!(
                "ID (\"name\" \"rmail\" \"version\" \"{}\")",
                env!("CARGO_PKG_VERSION")
            );
            link.cmd(&line, |_| {}).await?;
        }
        Ok(())
    }
    .await;
    match r {
        Ok(()) => Ok(link),
        Err(Fail::Remote(e)) => Err(e),
        Err(Fail::Lost(why)) => Err(lost(opts, &why)),
    }
}

/// The folder's current-thread runtime (I/O and timers). Errors: the system refused an
/// epoll descriptor.
fn runtime() -> Result<tokio::runtime::Runtime, RemoteError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| RemoteError::Protocol {
            host: "localhost".into(),
            detail: format!("cannot start the I/O runtime: {e}"),
        })
}

/// An IMAP folder open in the reader (see the module documentation).
pub struct ImapFolder {
    opts: ConnectOptions,
    rt: tokio::runtime::Runtime,
    /// The logged-in, selected connection; `None` after logout or once it was lost.
    link: Option<Link>,
    /// UIDVALIDITY at open; a reconnect must find the same.
    uidvalidity: Option<u32>,
    /// Index → UID, summary order, then what `check_new` added.
    uids: Vec<u32>,
    /// The summary until the reader takes it.
    summary: Vec<RemoteMessage>,
    /// Bodies fetched in this session (LF line ends), by index.
    cache: HashMap<usize, Vec<u8>>,
    /// A link was made before (the next one is a reconnect).
    linked: bool,
}

/// Runs `$body` (an expression using `$l: &mut Link`) on the folder's runtime; a lost
/// connection reconnects once and runs it again.
macro_rules! with_link {
    ($self:ident, |$l:ident| $body:expr) => {{
        let mut attempt = 0;
        loop {
            $self.ensure_link(attempt > 0)?;
            let r = match $self.link.as_mut() {
                Some($l) => $self.rt.block_on(async { $body }),
                None => Err(Fail::Lost("not connected".into())),
            };
            match r {
                Ok(v) => break Ok(v),
                Err(Fail::Remote(e)) => {
                    // After a timeout the connection is in an unknown state (a line or an
                    // APPEND literal half written, a response half read): never reuse it.
                    if matches!(e, RemoteError::Timeout { .. }) {
                        $self.link = None;
                    }
                    break Err(e);
                }
                Err(Fail::Lost(_)) if attempt == 0 => {
                    // The connection is gone (I/O error, EOF, BYE): reconnect and retry once.
                    $self.link = None;
                    attempt += 1;
                }
                Err(Fail::Lost(why)) => {
                    $self.link = None;
                    break Err(lost(&$self.opts, &why));
                }
            }
        }
    }};
}

impl ImapFolder {
    /// Connects, logs in, sends ID when wanted, selects `opts.url.mailbox` (EXAMINE when
    /// `opts.read_only`) and fetches the summary of every message in one FETCH
    /// (RFC 3501 §6.4.5), showing progress when `opts.progress`. Errors: connection, TLS,
    /// STARTTLS missing, login refused ([`RemoteError::Auth`]), SELECT refused
    /// ([`RemoteError::Server`] with the server's text), timeouts.
    pub fn open(opts: &ConnectOptions) -> Result<ImapFolder, RemoteError> {
        let rt = runtime()?;
        let mut f = ImapFolder {
            opts: opts.clone(),
            rt,
            link: None,
            uidvalidity: None,
            uids: Vec::new(),
            summary: Vec::new(),
            cache: HashMap::new(),
            linked: false,
        };
        f.ensure_link(false)?;
        let label = format!("{}: headers", opts.url.host);
        let progress_on = opts.progress;
        let summary = with_link!(f, |l| {
            if l.exists == 0 {
                Ok((Vec::new(), 0))
            } else {
                let mut p = Progress::new(label.clone(), u64::from(l.exists), progress_on);
                let line = format!("FETCH 1:* {SUMMARY_ITEMS}");
                let v = l.summaries(&line, Some(&mut p)).await;
                p.finish();
                v.map(|v| (v, l.exists))
            }
        })?;
        f.uids = summary.0.iter().map(|m| m.uid).collect();
        f.summary = summary.0;
        Ok(f)
    }

    /// Makes sure a selected connection exists: reconnects when there is none or when
    /// `fresh`, and checks UIDVALIDITY against the one at open.
    fn ensure_link(&mut self, fresh: bool) -> Result<(), RemoteError> {
        if self.link.is_some() && !fresh {
            return Ok(());
        }
        self.link = None;
        if self.linked {
            // A reconnect: an OAuth2 token may have expired since.
            self.opts = self.opts.refreshed()?;
        }
        let opts = &self.opts;
        let (link, validity) = self.rt.block_on(async {
            let mut link = login(opts).await?;
            match link.select(&opts.url.mailbox, opts.read_only).await {
                Ok(v) => Ok((link, v)),
                Err(Fail::Remote(e)) => Err(e),
                Err(Fail::Lost(why)) => Err(lost(opts, &why)),
            }
        })?;
        match (self.uidvalidity, validity) {
            (Some(old), Some(new)) if old != new => {
                return Err(RemoteError::Protocol {
                    host: self.opts.url.host_port(),
                    detail: format!(
                        "{} changed on the server (UIDVALIDITY {old} is now {new}): open the folder again",
                        self.opts.url.mailbox
                    ),
                });
            }
            // The first SELECT's value is the one kept (a server that sent none then has
            // none to compare with).
            (None, v) if !self.linked => self.uidvalidity = v,
            _ => {}
        }
        self.linked = true;
        self.link = Some(link);
        Ok(())
    }

    fn uids_of(&self, which: &[usize]) -> Vec<u32> {
        which
            .iter()
            .filter_map(|&i| self.uids.get(i).copied())
            .collect()
    }

    fn read_only_error() -> RemoteError {
        RemoteError::Unsupported(
            "the folder was opened read-only (EXAMINE): nothing can be changed",
        )
    }
}

impl RemoteFolder for ImapFolder {
    fn url(&self) -> &FolderUrl {
        &self.opts.url
    }

    fn take_summary(&mut self) -> Vec<RemoteMessage> {
        std::mem::take(&mut self.summary)
    }

    /// `UID FETCH <uid> BODY.PEEK[]` (RFC 3501 §6.4.5, §6.4.8), CRLF → LF, cached; only a
    /// reply carrying that UID counts, the first one if the server sends several.
    /// Errors: [`RemoteError::Gone`] (1-based) when the UID is no longer there.
    fn fetch(&mut self, i: usize) -> Result<Vec<u8>, RemoteError> {
        if let Some(b) = self.cache.get(&i) {
            return Ok(b.clone());
        }
        let uid = *self.uids.get(i).ok_or(RemoteError::Gone(i + 1))?;
        let line = format!("UID FETCH {uid} BODY.PEEK[]");
        let body = with_link!(self, |l| {
            let mut body: Option<Vec<u8>> = None;
            let d = l
                .cmd(&line, |r| {
                    if let Response::Fetch(_, attrs) = r {
                        let mine = attrs
                            .iter()
                            .any(|a| matches!(a, AttributeValue::Uid(u) if *u == uid));
                        for a in attrs {
                            match a {
                                AttributeValue::BodySection {
                                    section: None,
                                    data: Some(d),
                                    ..
                                }
                                | AttributeValue::Rfc822(Some(d))
                                    if mine && body.is_none() =>
                                {
                                    body = Some(crlf_to_lf(d));
                                }
                                _ => {}
                            }
                        }
                    }
                })
                .await?;
            l.check(d, "UID FETCH")?;
            Ok(body)
        })?;
        let body = body.ok_or(RemoteError::Gone(i + 1))?;
        self.cache.insert(i, body.clone());
        Ok(body)
    }

    /// `NOOP` (RFC 3501 §6.1.2); when EXISTS changed or rose, `UID FETCH <last+1>:*` of the summary
    /// items, keeping only UIDs above the last known (`N:*` always matches the last message).
    fn check_new(&mut self) -> Result<Vec<RemoteMessage>, RemoteError> {
        let last = self.uids.iter().copied().max().unwrap_or(0);
        let line = format!("UID FETCH {}:* {SUMMARY_ITEMS}", last.saturating_add(1));
        let new = with_link!(self, |l| {
            l.simple("NOOP", "NOOP").await?;
            // Counting is not enough (an expunge and an arrival keep EXISTS; a reconnect
            // starts a new count): unless the mailbox is empty, ask for the UIDs above the
            // last one (one round trip; `N:*` always returns at least the last message).
            if l.exists == 0 {
                Ok(Vec::new())
            } else {
                l.summaries(&line, None).await
            }
        })?;
        let new: Vec<RemoteMessage> = new.into_iter().filter(|m| m.uid > last).collect();
        self.uids.extend(new.iter().map(|m| m.uid));
        Ok(new)
    }

    /// `UID FETCH 1:LAST (UID FLAGS)`: the flags of the known UIDs now; a UID the server no
    /// longer lists was expunged by another client (`None`).
    fn refresh_flags(&mut self) -> Result<Vec<Option<RemoteFlags>>, RemoteError> {
        let Some(&last) = self.uids.iter().max() else {
            return Ok(Vec::new());
        };
        let line = format!("UID FETCH 1:{last} (UID FLAGS)");
        let now: HashMap<u32, RemoteFlags> = with_link!(self, |l| {
            let mut now = HashMap::new();
            let d = l
                .cmd(&line, |r| {
                    if let Response::Fetch(_, attrs) = r {
                        let mut uid = None;
                        let mut flags = None;
                        for a in attrs.iter() {
                            match a {
                                AttributeValue::Uid(u) => uid = Some(*u),
                                AttributeValue::Flags(f) => {
                                    flags = Some(flags_of(f.iter().map(|s| s.as_ref())))
                                }
                                _ => {}
                            }
                        }
                        if let (Some(u), Some(f)) = (uid, flags) {
                            now.insert(u, f);
                        }
                    }
                })
                .await?;
            l.check(d, "UID FETCH")?;
            Ok(now)
        })?;
        Ok(self.uids.iter().map(|u| now.get(u).copied()).collect())
    }

    /// `UID STORE … +FLAGS.SILENT (\Seen)` / `-FLAGS.SILENT (\Seen)` / `+FLAGS.SILENT
    /// (\Deleted)` (RFC 3501 §6.4.6), `UID EXPUNGE` of the deleted (RFC 4315 §2.1; plain
    /// `EXPUNGE` without UIDPLUS), then `LOGOUT`. Errors: a non-empty plan on a read-only
    /// folder, a refused command (nothing after it is sent).
    fn commit(&mut self, plan: &QuitPlan) -> Result<(), RemoteError> {
        let seen = sequence_set(&self.uids_of(&plan.seen));
        let unseen = sequence_set(&self.uids_of(&plan.unseen));
        let deleted = sequence_set(&self.uids_of(&plan.deleted));
        if seen.is_empty() && unseen.is_empty() && deleted.is_empty() {
            self.close();
            return Ok(());
        }
        if self.opts.read_only {
            self.close();
            return Err(Self::read_only_error());
        }
        let r = with_link!(self, |l| {
            if !seen.is_empty() {
                let line = format!("UID STORE {seen} +FLAGS.SILENT (\\Seen)");
                l.simple(&line, "UID STORE").await?;
            }
            if !unseen.is_empty() {
                let line = format!("UID STORE {unseen} -FLAGS.SILENT (\\Seen)");
                l.simple(&line, "UID STORE").await?;
            }
            if !deleted.is_empty() {
                l.expunge_uids(&deleted).await?;
            }
            Ok(())
        });
        self.close();
        r
    }

    /// `LOGOUT` (RFC 3501 §6.1.3) and nothing else; errors are ignored.
    fn close(&mut self) {
        if let Some(mut l) = self.link.take() {
            self.rt.block_on(l.logout());
        }
    }

    /// `UID COPY` (RFC 3501 §6.4.7); with `remove`, `UID MOVE` (RFC 6851) when offered,
    /// else COPY, `\Deleted` and (UID) EXPUNGE. `[TRYCREATE]` creates the mailbox and tries
    /// once more. Errors: nothing to copy is fine; a refused command; removing from a
    /// read-only folder.
    fn copy(&mut self, which: &[usize], mailbox: &str, remove: bool) -> Result<(), RemoteError> {
        let set = sequence_set(&self.uids_of(which));
        if set.is_empty() {
            return Ok(());
        }
        if remove && self.opts.read_only {
            return Err(Self::read_only_error());
        }
        let target = quote_mailbox(mailbox)?;
        let mailbox = mailbox.to_owned();
        with_link!(self, |l| {
            let moving = remove && l.caps.has("MOVE");
            let (verb, line) = if moving {
                ("UID MOVE", format!("UID MOVE {set} {target}"))
            } else {
                ("UID COPY", format!("UID COPY {set} {target}"))
            };
            // A dead connection shows here, before anything is copied (then retried).
            l.simple("NOOP", "NOOP").await?;
            let mut d = l.cmd(&line, |_| {}).await.map_err(|e| l.sent(e, verb))?;
            if !d.ok && d.trycreate {
                l.create(&mailbox).await?;
                d = l.cmd(&line, |_| {}).await.map_err(|e| l.sent(e, verb))?;
            }
            l.check(d, verb)?;
            if remove && !moving {
                l.expunge_uids(&set).await?;
            }
            Ok(())
        })
    }

    /// `APPEND` (RFC 3501 §6.3.11) with `flags`, LF → CRLF; `[TRYCREATE]` creates the
    /// mailbox and tries once more.
    fn append(
        &mut self,
        mailbox: &str,
        message: &[u8],
        flags: RemoteFlags,
    ) -> Result<(), RemoteError> {
        let data = lf_to_crlf(message);
        let flags = flag_list(flags);
        let mailbox = mailbox.to_owned();
        with_link!(self, |l| l.append(&mailbox, &flags, None, &data).await)
    }

    /// `LIST "" "*"` (RFC 3501 §6.3.8), SPECIAL-USE attributes when offered (RFC 6154).
    fn list(&mut self) -> Result<Vec<ListEntry>, RemoteError> {
        with_link!(self, |l| l.list().await)
    }
}

/// Runs `f` on a fresh logged-in connection (no mailbox selected), then logs out.
fn one_shot<T>(
    opts: &ConnectOptions,
    f: impl for<'a> FnOnce(
        &'a mut Link,
    ) -> Pin<Box<dyn std::future::Future<Output = Result<T, Fail>> + 'a>>,
) -> Result<T, RemoteError> {
    let rt = runtime()?;
    rt.block_on(async {
        let mut link = login(opts).await?;
        let r = f(&mut link).await;
        link.logout().await;
        match r {
            Ok(v) => Ok(v),
            Err(Fail::Remote(e)) => Err(e),
            Err(Fail::Lost(why)) => Err(lost(opts, &why)),
        }
    })
}

/// One message for [`append_to`]: its bytes (LF or CRLF line ends), its flags, and the
/// arrival date to give it (IMAP INTERNALDATE; `None` for the server's now).
pub type Appended = (
    Vec<u8>,
    RemoteFlags,
    Option<chrono::DateTime<chrono::FixedOffset>>,
);

/// Appends `messages` (RFC 5322 bytes, LF or CRLF line ends, with their flags and the
/// arrival date to give them — IMAP INTERNALDATE, `None` for the server's now) to
/// `mailbox` on `opts.url`'s server without selecting anything: connect, login, one
/// `APPEND` each (RFC 3501 §6.3.11; the mailbox is created on `[TRYCREATE]`), `LOGOUT`.
/// For saving to a folder on a server that is not the current folder. Errors: as for
/// [`ImapFolder::open`], and a refused APPEND ([`RemoteError::Server`]); messages before the
/// failing one stay appended.
pub fn append_to(
    opts: &ConnectOptions,
    mailbox: &str,
    messages: &[Appended],
) -> Result<(), RemoteError> {
    let prepared: Vec<(Vec<u8>, String, Option<String>)> = messages
        .iter()
        .map(|(m, f, d)| (lf_to_crlf(m), flag_list(*f), d.map(|d| internaldate(&d))))
        .collect();
    let mailbox = mailbox.to_owned();
    one_shot(opts, move |l| {
        Box::pin(async move {
            for (data, flags, date) in &prepared {
                l.append(&mailbox, flags, date.as_deref(), data).await?;
            }
            Ok(())
        })
    })
}

/// `t` as an IMAP date-time (RFC 3501 §9 `date-time`, without the quotes):
/// ` 1-Dec-2026 10:00:00 +0100` (day space-padded to two characters).
pub fn internaldate(t: &chrono::DateTime<chrono::FixedOffset>) -> String {
    t.format("%e-%b-%Y %H:%M:%S %z").to_string()
}

/// The mailboxes on `opts.url`'s server (`LIST "" "*"`, RFC 3501 §6.3.8; SPECIAL-USE
/// attributes of RFC 6154 when offered), names decoded from modified UTF-7. Errors: as for
/// [`ImapFolder::open`], and a refused LIST.
pub fn list_mailboxes(opts: &ConnectOptions) -> Result<Vec<ListEntry>, RemoteError> {
    one_shot(opts, |l| Box::pin(l.list()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    /// An ENVELOPE with every field NIL.
    fn empty_envelope() -> Envelope<'static> {
        Envelope {
            date: None,
            subject: None,
            from: None,
            sender: None,
            reply_to: None,
            to: None,
            cc: None,
            bcc: None,
            in_reply_to: None,
            message_id: None,
        }
    }

    fn addr<'a>(name: Option<&'a [u8]>, local: &'a [u8], host: &'a [u8]) -> Address<'a> {
        Address {
            name: name.map(Cow::Borrowed),
            adl: None,
            mailbox: Some(Cow::Borrowed(local)),
            host: Some(Cow::Borrowed(host)),
        }
    }

    #[test]
    fn sequence_sets() {
        assert_eq!(sequence_set(&[]), "");
        assert_eq!(sequence_set(&[7]), "7");
        assert_eq!(sequence_set(&[1, 2, 3, 4, 5, 7]), "1:5,7");
        assert_eq!(sequence_set(&[9, 3, 2, 2, 10, 1]), "1:3,9:10");
        assert_eq!(sequence_set(&[1, 3, 5]), "1,3,5");
        assert_eq!(
            sequence_set(&[u32::MAX - 1, u32::MAX]),
            "4294967294:4294967295"
        );
    }

    #[test]
    fn addresses_render_as_header_values() {
        let r = |a: &Address<'_>| render_address(a).map(|v| String::from_utf8(v).unwrap());
        assert_eq!(
            r(&addr(Some(b"Zhang San"), b"zs", b"example.com")).as_deref(),
            Some("Zhang San <zs@example.com>")
        );
        assert_eq!(
            r(&addr(Some(b"Doe, John"), b"jd", b"example.com")).as_deref(),
            Some("\"Doe, John\" <jd@example.com>")
        );
        assert_eq!(
            r(&addr(Some(b"J. \"Q\" Doe"), b"jd", b"x.org")).as_deref(),
            Some("\"J. \\\"Q\\\" Doe\" <jd@x.org>")
        );
        assert_eq!(
            r(&addr(Some(b"=?UTF-8?B?5byg5LiJ?="), b"zs", b"qq.com")).as_deref(),
            Some("=?UTF-8?B?5byg5LiJ?= <zs@qq.com>"),
            "encoded-words stay unquoted"
        );
        assert_eq!(
            r(&addr(None, b"bob", b"example.com")).as_deref(),
            Some("bob@example.com")
        );
        assert_eq!(
            r(&addr(Some(b"  "), b"bob", b"example.com")).as_deref(),
            Some("bob@example.com")
        );
        // A group marker (no host) is not an address.
        let group = Address {
            name: None,
            adl: None,
            mailbox: Some(Cow::Borrowed(&b"undisclosed"[..])),
            host: None,
        };
        assert_eq!(r(&group), None);
    }

    #[test]
    fn internaldate_and_asctime() {
        let t = parse_internaldate(" 1-Dec-2026 02:24:44 +0000").unwrap();
        let utc = t.with_timezone(&chrono::Utc);
        assert_eq!(
            utc.format("%a %b %e %H:%M:%S %Y").to_string(),
            "Tue Dec  1 02:24:44 2026"
        );
        let t2 = parse_internaldate("17-Jul-1996 02:44:25 -0700").unwrap();
        assert_eq!(t2.timestamp(), 837_596_665);
        // asctime is in the local zone and has the fixed shape.
        let s = asctime(&t);
        assert_eq!(s.len(), 24, "{s}");
        assert!(parse_internaldate("garbage").is_none());
    }

    #[test]
    fn summary_from_attributes() {
        let env = Envelope {
            date: Some(Cow::Borrowed(&b"Tue, 1 Dec 2026 10:00:00 +0800"[..])),
            subject: Some(Cow::Borrowed(&b"=?UTF-8?B?5L2g5aW9?="[..])),
            from: Some(vec![addr(Some(b"Ann"), b"ann", b"example.org")]),
            sender: None,
            reply_to: None,
            to: None,
            cc: None,
            bcc: None,
            in_reply_to: None,
            message_id: None,
        };
        let attrs = vec![
            AttributeValue::Uid(42),
            AttributeValue::Flags(vec![Cow::Borrowed("\\Seen"), Cow::Borrowed("$Junk")]),
            AttributeValue::InternalDate(Cow::Borrowed("01-Dec-2026 02:24:44 +0000")),
            AttributeValue::Rfc822Size(1234),
            AttributeValue::Envelope(Box::new(env)),
        ];
        let m = summary_of(&attrs).unwrap();
        assert_eq!(m.uid, 42);
        assert_eq!(m.size, 1234);
        assert!(m.flags.seen && !m.flags.deleted);
        assert_eq!(m.from.as_deref(), Some(&b"Ann <ann@example.org>"[..]));
        assert_eq!(m.subject.as_deref(), Some(&b"=?UTF-8?B?5L2g5aW9?="[..]));
        let fl = String::from_utf8(m.from_line).unwrap();
        let want = asctime(&parse_internaldate("01-Dec-2026 02:24:44 +0000").unwrap());
        assert_eq!(fl, format!("ann@example.org {want}"));
        // No envelope: an unsolicited flag update, skipped.
        assert!(summary_of(&[AttributeValue::Uid(1)]).is_none());
        // No address at all: MAILER-DAEMON.
        let env = empty_envelope();
        let m = summary_of(&[
            AttributeValue::Uid(2),
            AttributeValue::Envelope(Box::new(env)),
        ])
        .unwrap();
        assert!(m.from_line.starts_with(b"MAILER-DAEMON "));
        assert_eq!(m.from, None);
    }

    #[test]
    fn mailbox_quoting_uses_modified_utf7() {
        assert_eq!(quote_mailbox("INBOX").unwrap(), "\"INBOX\"");
        assert_eq!(quote_mailbox("已发送").unwrap(), "\"&XfJT0ZAB-\"");
        assert_eq!(quote_mailbox("a\"b\\c").unwrap(), "\"a\\\"b\\\\c\"");
        assert_eq!(quote_mailbox("Tom & Jerry").unwrap(), "\"Tom &- Jerry\"");
        assert!(quote_mailbox("a\r\nb").is_err());
        assert_eq!(utf7::decode(b"&XfJT0ZAB-").as_deref(), Some("已发送"));
    }

    #[test]
    fn line_ends() {
        assert_eq!(crlf_to_lf(b"a\r\nb\r\n\r\nc\rd"), b"a\nb\n\nc\rd");
        assert_eq!(lf_to_crlf(b"a\nb\r\nc"), b"a\r\nb\r\nc");
        assert_eq!(lf_to_crlf(b""), b"");
    }

    #[test]
    fn flags_both_ways() {
        let f = flags_of(["\\SEEN", "\\Flagged", "\\Recent", "kw"].into_iter());
        assert!(f.seen && f.flagged && f.recent && !f.answered);
        assert_eq!(flag_list(f), "\\Seen \\Flagged");
        assert_eq!(flag_list(RemoteFlags::default()), "");
    }

    #[test]
    fn xoauth2_answers_once_then_empty() {
        use async_imap::Authenticator as _;
        let mut a = XOAuth2 {
            response: Some("user=u\x01auth=Bearer t\x01\x01".into()),
        };
        assert_eq!(a.process(b""), "user=u\x01auth=Bearer t\x01\x01");
        assert_eq!(a.process(b"{\"status\":\"401\"}"), "");
    }

    /// Feeds `data` to a fresh guard in pieces of `size` octets; the first error's text.
    fn guard_in_pieces(data: &[u8], size: usize) -> (Guard, Option<String>) {
        let mut g = Guard::default();
        for piece in data.chunks(size) {
            if let Err(e) = g.feed(piece) {
                assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
                assert!(guard_refusal(&e).is_some(), "{e}");
                return (g, Some(e.to_string()));
            }
        }
        (g, None)
    }

    #[test]
    fn guard_limits_nesting_across_reads() {
        let nested = |d: usize| {
            let mut v = b"* 1 FETCH (UID 1 BODYSTRUCTURE ".to_vec();
            v.extend(std::iter::repeat_n(b'(', d));
            v.extend_from_slice(b"\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 1");
            v.extend(std::iter::repeat_n(b')', d));
            v.extend_from_slice(b")\r\n");
            v
        };
        // FETCH ( is one level: MAX_NESTING - 1 more is fine, one more is not.
        let ok = nested(MAX_NESTING as usize - 1);
        let deep = nested(MAX_NESTING as usize);
        for size in [1, 2, 7, 4096] {
            assert_eq!(guard_in_pieces(&ok, size).1, None, "pieces of {size}");
            let (g, e) = guard_in_pieces(&deep, size);
            let e = e.expect("too deep");
            assert!(e.contains("nested more than 64 levels deep"), "{e}");
            // Every later read fails too.
            let mut g = g;
            assert!(g.feed(b"a1 OK done\r\n").is_err());
        }
        // Depth starts again on every line: many shallow responses in a row are fine.
        let many: Vec<u8> = ok.iter().copied().cycle().take(ok.len() * 50).collect();
        assert_eq!(guard_in_pieces(&many, 13).1, None);
        // Parentheses inside quoted strings (with escapes) and literals do not count.
        let mut v = b"* 1 FETCH (UID 1 BODY[] {300}\r\n".to_vec();
        v.extend(std::iter::repeat_n(b'(', 300));
        v.extend_from_slice(b" ENVELOPE (\"((((\\\"((((\" NIL))\r\n");
        let q: Vec<u8> = std::iter::once(b'"')
            .chain(std::iter::repeat_n(b'(', 100))
            .chain(*b"\"\r\n")
            .collect();
        v.extend_from_slice(b"* 2 FETCH (X ");
        v.extend_from_slice(&q);
        for size in [1, 3, 5000] {
            assert_eq!(guard_in_pieces(&v, size).1, None, "pieces of {size}");
        }
        // A literal does not hide what follows it: `{2}` skips two octets only.
        let mut v = b"* 1 FETCH (BODY[] {2}\r\n((".to_vec();
        v.extend(std::iter::repeat_n(b'(', 70));
        assert!(guard_in_pieces(&v, 4).1.is_some());
        // `{n}` in a status line's text is no literal.
        let mut v = b"* OK see {500}\r\n* 1 FETCH ".to_vec();
        v.extend(std::iter::repeat_n(b'(', 70));
        assert!(guard_in_pieces(&v, 1).1.is_some());
    }

    #[test]
    fn guard_limits_literals() {
        let (_, e) = guard_in_pieces(b"* 1 FETCH (BODY[] {99999999999}\r\nabc", 5);
        let e = e.expect("too long");
        assert!(
            e.contains("99999999999 octets") && e.contains("256 MiB"),
            "{e}"
        );
        let at = format!("* 1 FETCH (BODY[] {{{MAX_LITERAL}}}\r\n");
        assert_eq!(guard_in_pieces(at.as_bytes(), 3).1, None);
        let over = format!("* 1 FETCH (BODY[] {{{}+}}\r\n", MAX_LITERAL + 1);
        assert!(guard_in_pieces(over.as_bytes(), 3).1.is_some());
        // Not literals: no CRLF right after the brace, or not a number.
        assert_eq!(
            guard_in_pieces(b"* 1 FETCH (X {999999999999} Y)\r\n", 2).1,
            None
        );
        assert_eq!(guard_in_pieces(b"* 1 FETCH (X {abc}\r\n", 2).1, None);
    }

    #[test]
    fn guard_keeps_the_last_refusal_line() {
        let mut g = Guard::default();
        g.feed(b"* OK ready\r\n* CAPABILITY IMAP4rev1\r\nA1 N")
            .unwrap();
        assert_eq!(g.refusal, None);
        g.feed(b"O [AUTHENTICATIONFAILED] \xb5\xc7\xc2\xbc\r\n")
            .unwrap();
        let raw = g.refusal.clone().unwrap();
        assert_eq!(raw_status_text(&raw, false), "[AUTHENTICATIONFAILED] 登录");
        assert_eq!(raw_status_text(&raw, true), "登录");
        g.feed(b"* BYE go away\r\n").unwrap();
        assert_eq!(g.refusal.as_deref(), Some(&b"* BYE go away"[..]));
    }

    #[test]
    fn server_texts_utf8_else_gb18030() {
        let gbk = b"a1 NO \xb5\xc7\xc2\xbc\xca\xa7\xb0\xdc\r\n";
        let lossy = String::from_utf8_lossy(&gbk[6..14]).into_owned();
        assert_eq!(outcome_text(gbk, Some(&lossy), false), "登录失败");
        assert_eq!(outcome_text(b"a1 NO fine\r\n", Some("fine"), false), "fine");
        assert_eq!(
            outcome_text("a1 NO [TRYCREATE] 已满\r\n".as_bytes(), Some("已满"), true),
            "已满"
        );
        let code = b"a1 NO [TRYCREATE] \xd2\xd1\r\n";
        assert_eq!(outcome_text(code, Some("\u{FFFD}"), true), "已");
        assert_eq!(outcome_text(b"a1 NO\r\n", None, false), "");
    }

    #[test]
    fn parse_errors_quote_what_the_server_said() {
        let e = std::io::Error::other(
            "Error(Error { input: [50], code: Tag }) during parsing of \"220 smtp ready\\r\\nmore\"",
        );
        assert_eq!(unparsed(&e).as_deref(), Some("\"220 smtp ready\""));
        let Fail::Remote(RemoteError::Protocol { host, detail }) = read_fail(e, "h:143") else {
            panic!("not a protocol error")
        };
        assert_eq!(
            (host.as_str(), detail.as_str()),
            ("h:143", "unreadable response: \"220 smtp ready\"")
        );
        assert!(matches!(
            read_fail(std::io::Error::other("reset"), "h:143"),
            Fail::Lost(_)
        ));
    }

    #[test]
    fn summary_skips_uid_zero() {
        let env = || Box::new(empty_envelope());
        assert!(summary_of(&[AttributeValue::Uid(0), AttributeValue::Envelope(env())]).is_none());
        assert!(summary_of(&[AttributeValue::Uid(1), AttributeValue::Envelope(env())]).is_some());
    }

    #[test]
    fn refusal_text_is_the_server_text() {
        let e = async_imap::error::Error::No(
            "code: None, info: Some(\"[AUTHENTICATIONFAILED] Authentication \\\"failed\\\"\")"
                .into(),
        );
        assert_eq!(
            refusal_text(&e),
            "[AUTHENTICATIONFAILED] Authentication \"failed\""
        );
    }
}
