//! The SMTP server protocol core of `rmail serve`: a pure state machine over bytes
//! (RFC 5321), with PIPELINING (RFC 2920), SIZE (RFC 1870), 8BITMIME (RFC 6152),
//! ENHANCEDSTATUSCODES (RFC 2034, RFC 3463), STARTTLS (RFC 3207), AUTH PLAIN/LOGIN
//! (RFC 4954, RFC 4616), CHUNKING and optionally BINARYMIME (RFC 3030), SMTPUTF8 (RFC 6531),
//! and Received-header protocol names (RFC 3848, RFC 6531 §3.7.3).
//!
//! No sockets, files, clocks or threads: the I/O layer (`server::smtp`) owns those and drives
//! a [`Session`]:
//!
//! ```text
//! let mut s = Session::new(params);
//! write(s.greeting())                       // or, on input before the greeting:
//!                                           //   write(s.early_talker()); close
//! loop {
//!     let n = read(timeout)?                // on timeout: write(s.idle_timeout()); close
//!     let mut out = s.feed(&buf[..n], &mut policy);
//!     loop {
//!         write(out.write);
//!         match out.action {
//!             None => break,                                    // read more
//!             Some(Action::Close) => return close(),
//!             Some(Action::StartTls) => { handshake()?; s.tls_started(); break }
//!             Some(Action::Authenticate(c)) => out = s.auth_result(check(c), &mut policy),
//!             Some(Action::Deliver(t)) => out = s.delivery_result(queue(t), &mut policy),
//!         }
//!     }
//! }
//! ```
//!
//! Do not call [`Session::feed`] while an action is outstanding: answer it first (its answer
//! goes on with the input already buffered, as PIPELINING wants). Input fed anyway is kept
//! (at most [`MAX_PENDING_INPUT`] bytes, then the session closes), except after STARTTLS,
//! where it is dropped.
//!
//! Invariants:
//! - every byte of input is either consumed or buffered; buffered input is bounded: one
//!   command line (512 octets, 1,024 for MAIL, 12,288 for an AUTH response; longer lines are
//!   discarded as they come and answered `500 5.5.2 Error: line too long` at their end), or
//!   what followed a command awaiting an action;
//! - message content is stored only up to the size limit (see [`Params::message_size_limit`]);
//! - the session never panics on any input, and replies to commands in order, one reply per
//!   command (RFC 2920 §3);
//! - once an [`Action::Close`] has been returned, every later call returns it again.
//!
//! Reply texts and enhanced codes follow Postfix 3.x `smtpd` where RFC 5321 leaves a choice;
//! the few deliberate differences are documented at [`Session`].

mod command;
mod data;
mod reply;
pub(crate) mod sasl;
mod session;

#[cfg(test)]
mod golden;

pub use reply::{Enhanced, Reply};
pub use sasl::{Credentials, Mechanism};
pub use session::Session;

use crate::message::envelope::Envelope;

/// Input kept while an action is outstanding, in bytes; past this the session closes
/// (`421 4.7.0 … Error: too much pipelined input`). Only a misbehaving I/O layer or client
/// reaches it.
pub const MAX_PENDING_INPUT: usize = 1 << 20;

/// The cap on stored message content when [`Params::message_size_limit`] is 0 ("no limit"):
/// 1 GiB, since content is held in memory until it is queued.
pub const UNLIMITED_MESSAGE_CAP: u64 = 1 << 30;

/// Which listener a connection came in on; it decides whether mail needs AUTH first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// Port 25, MTA-to-MTA (RFC 5321): mail is accepted without AUTH, subject to the relay
    /// policy.
    Smtp,
    /// Port 587, message submission (RFC 6409): MAIL needs AUTH first (`530 5.7.0`).
    Submission,
    /// Port 465, submission over implicit TLS (RFC 8314 §3.3): MAIL needs AUTH first.
    Submissions,
}

/// Per-connection settings, resolved by the server from main.cf (the keys in parentheses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    /// This host's name, for EHLO's first line and the 421/521/554 closing replies
    /// (main.cf `myhostname`).
    pub hostname: String,
    /// The greeting text after `220 ` (main.cf `smtpd_banner`, expanded by the caller; Postfix's
    /// default is `$myhostname ESMTP $mail_name`). RFC 5321 §4.2 wants the host name first.
    pub banner: String,
    /// The listener the client connected to.
    pub listener: Listener,
    /// STARTTLS may be offered: a certificate is configured (main.cf `smtpd_tls_cert_file`,
    /// `smtpd_tls_security_level` may/encrypt). Ignored once TLS is active.
    pub tls_offered: bool,
    /// The connection is already TLS (port 465, implicit TLS).
    pub tls_active: bool,
    /// AUTH is offered at all (main.cf `smtpd_sasl_auth_enable`).
    pub auth_enabled: bool,
    /// AUTH only under TLS (main.cf `smtpd_tls_auth_only`): before STARTTLS it is not
    /// advertised and an AUTH command gets `538 5.7.11`.
    pub auth_requires_tls: bool,
    /// TLS is mandatory (main.cf `smtpd_tls_security_level = encrypt`): MAIL and AUTH before
    /// STARTTLS get `530 5.7.0 Must issue a STARTTLS command first`.
    pub tls_required: bool,
    /// The client is in `mynetworks`; passed to the [`Policy`] through [`Context`].
    pub client_trusted: bool,
    /// The largest message in octets, as received after dot-unstuffing
    /// (main.cf `message_size_limit`); advertised as `SIZE n`. 0 means no limit (advertised as bare
    /// `SIZE`), but content is still capped at [`UNLIMITED_MESSAGE_CAP`].
    pub message_size_limit: u64,
    /// The most recipients per message (main.cf `smtpd_recipient_limit`); more get
    /// `452 4.5.3 Error: too many recipients`.
    pub recipient_limit: usize,
    /// After this many error replies (4xx/5xx) without a delivery, the session replies
    /// `421 4.7.0 … Error: too many errors` and closes (main.cf `smtpd_hard_error_limit`);
    /// 0 = never.
    pub hard_error_limit: u32,
    /// NOOP, RSET, VRFY and HELP beyond this many count as errors
    /// (main.cf `smtpd_junk_command_limit`); 0 = never.
    pub junk_command_limit: u32,
    /// Offer `BINARYMIME` (RFC 3030 §3) and accept `BODY=BINARYMIME`. Off in
    /// [`Params::new`]: Postfix does not offer it, and relaying such a message to a server
    /// without it would need a conversion rmail does not do.
    pub binarymime: bool,
}

impl Params {
    /// Postfix's defaults for `hostname` on the [`Listener::Smtp`] listener: banner
    /// `hostname ESMTP rmail`, no TLS, no AUTH, `message_size_limit = 10240000`,
    /// `smtpd_recipient_limit = 1000`, `smtpd_hard_error_limit = 20`,
    /// `smtpd_junk_command_limit = 100`, no BINARYMIME.
    pub fn new(hostname: &str) -> Params {
        Params {
            hostname: hostname.to_string(),
            banner: format!("{hostname} ESMTP rmail"),
            listener: Listener::Smtp,
            tls_offered: false,
            tls_active: false,
            auth_enabled: false,
            auth_requires_tls: false,
            tls_required: false,
            client_trusted: false,
            message_size_limit: 10_240_000,
            recipient_limit: 1000,
            hard_error_limit: 20,
            junk_command_limit: 100,
            binarymime: false,
        }
    }
}

/// What the session asks of the I/O layer after a call.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Output {
    /// Bytes to send to the client now (zero or more complete replies), before acting.
    pub write: Vec<u8>,
    /// What to do next; `None`: send `write`, then read more input.
    pub action: Option<Action>,
}

/// Something only the I/O layer can do; the session waits (buffering input) until it is
/// answered.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// `220 2.0.0 Ready to start TLS` is in `write`: do the TLS handshake, then call
    /// [`Session::tls_started`] (on failure, close). Plaintext input that came after the
    /// STARTTLS command has been discarded (CVE-2011-0411).
    StartTls,
    /// Check these credentials, then call [`Session::auth_result`] (delaying a failure, as
    /// Postfix's `smtpd_sasl` does, is the I/O layer's business).
    Authenticate(Credentials),
    /// A message was received: queue it (durably), then call [`Session::delivery_result`].
    Deliver(Box<Transaction>),
    /// Send `write`, then close the connection.
    Close,
}

/// The transfer body type declared by `MAIL … BODY=` (RFC 6152, RFC 3030 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// `BODY=7BIT`, or no BODY parameter (RFC 6152 §2 says that means 7-bit; clients often
    /// send 8-bit data anyway).
    SevenBit,
    /// `BODY=8BITMIME`.
    EightBitMime,
    /// `BODY=BINARYMIME`, content sent with BDAT only (not checked for bare CR/LF).
    BinaryMime,
}

/// One received message, ready to be queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    /// MAIL FROM and the accepted RCPT TO addresses (at least one), as the client wrote them
    /// (brackets and source routes removed).
    pub envelope: Envelope,
    /// The content: after DATA, dot-unstuffed, lines ending in CRLF as received (the final
    /// `.` line not included); after BDAT, the chunks concatenated. The server prepends its
    /// Received: header.
    pub data: Vec<u8>,
    /// The HELO/EHLO name given by the client.
    pub helo: String,
    /// The `with` value for Received: (RFC 3848; RFC 6531 §3.7.3): `SMTP` after HELO,
    /// else `ESMTP`/`UTF8SMTP` (SMTPUTF8 declared) with `S` for TLS and `A` for AUTH:
    /// `ESMTP`, `ESMTPS`, `ESMTPA`, `ESMTPSA`, `UTF8SMTP`, `UTF8SMTPS`, `UTF8SMTPA`,
    /// `UTF8SMTPSA`.
    pub protocol: &'static str,
    /// The authenticated user, as [`Session::auth_result`] named it.
    pub auth_user: Option<String>,
    /// The declared body type.
    pub body: Body,
    /// `SMTPUTF8` was declared (RFC 6531): addresses and headers may be UTF-8.
    pub smtputf8: bool,
}

/// What the [`Policy`] may look at when it decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context<'a> {
    /// The HELO/EHLO name; empty before HELO/EHLO.
    pub helo: &'a str,
    /// The envelope sender of the current transaction; empty for `<>` and outside one.
    pub sender: &'a str,
    /// The authenticated user.
    pub auth_user: Option<&'a str>,
    /// [`Params::client_trusted`] (mynetworks).
    pub client_trusted: bool,
    /// [`Params::listener`].
    pub listener: Listener,
    /// TLS is active on the connection.
    pub tls_active: bool,
}

/// The server's decisions the session asks for synchronously: local recipients, relay
/// permission (mydestination / relay_domains / mynetworks / authenticated), sender
/// restrictions, VRFY. Rejections are the replies to send, e.g.
/// `Reply::new(554, Enhanced(5, 7, 1), "<u@elsewhere>: Relay access denied")` or
/// `Reply::new(550, Enhanced(5, 1, 1), "<nobody@here>: Recipient address rejected: User
/// unknown in local recipient table")` (Postfix's texts).
pub trait Policy {
    /// Decides on `MAIL FROM`; `sender` is empty for `<>`. Default: accept.
    fn check_sender(&mut self, sender: &str, ctx: &Context<'_>) -> Result<(), Reply> {
        let _ = (sender, ctx);
        Ok(())
    }

    /// Decides on `RCPT TO`. `recipient` may be `postmaster` without a domain (any case),
    /// which RFC 5321 §4.5.1 says must be accepted.
    fn check_recipient(&mut self, recipient: &str, ctx: &Context<'_>) -> Result<(), Reply>;

    /// Answers `VRFY arg`. Default: `252 2.0.0 Cannot VRFY user; try RCPT to attempt
    /// delivery`, which tells nothing (RFC 5321 §3.5.3 allows 252 for this).
    fn vrfy(&mut self, arg: &str, ctx: &Context<'_>) -> Reply {
        let _ = (arg, ctx);
        Reply::new(
            252,
            Enhanced(2, 0, 0),
            "Cannot VRFY user; try RCPT to attempt delivery",
        )
    }
}
