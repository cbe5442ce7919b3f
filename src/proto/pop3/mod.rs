//! The POP3 server protocol core of `rmail serve`: a pure state machine over bytes
//! (RFC 1939), with CAPA, PIPELINING, RESP-CODES, EXPIRE and IMPLEMENTATION (RFC 2449),
//! STLS (RFC 2595 §4), AUTH with SASL PLAIN (RFC 5034, RFC 4616), the AUTH-RESP-CODE and
//! SYS response codes (RFC 3206), and the `[IN-USE]` code (RFC 2449 §8.1.1).
//!
//! No sockets, files, clocks or threads: the I/O layer (`server::pop3`) owns those and
//! drives a [`Session`], in the same way as the SMTP core ([`super::smtp`]):
//!
//! ```text
//! let mut s = Session::new(params);
//! write(s.greeting())
//! loop {
//!     let n = read(timeout)?                // on timeout: write(s.idle_timeout()); close
//!     let mut out = s.feed(&buf[..n]);
//!     loop {
//!         write(out.write);
//!         match out.action {
//!             None => break,                                        // read more
//!             Some(Action::Close) => return close(),
//!             Some(Action::StartTls) => { handshake()?; s.tls_started(); break }
//!             Some(Action::Authenticate { user, password }) =>
//!                 out = s.auth_result(check(user, password)),       // delay a failure
//!             Some(Action::OpenMaildrop { user }) =>
//!                 out = s.maildrop_opened(lock_and_scan(user)),     // exclusive lock
//!             Some(Action::Fetch { index, .. }) => out = s.fetched(read(index)),
//!             Some(Action::Update { deleted }) => out = s.update_result(expunge(deleted)),
//!         }
//!     }
//! }
//! ```
//!
//! The states are RFC 1939's: AUTHORIZATION (§4) until the maildrop is open, TRANSACTION
//! (§5) until QUIT, UPDATE (§6) while [`Action::Update`] is outstanding. Deletions are only
//! marks until the UPDATE state: a connection lost, timed out or shut down in TRANSACTION
//! removes nothing (the I/O layer just drops the maildrop and its lock).
//!
//! Do not call [`Session::feed`] while an action is outstanding: answer it first (its answer
//! goes on with the input already buffered, as PIPELINING wants, RFC 2449 §6.6). Input fed
//! anyway is kept (at most [`MAX_PENDING_INPUT`] bytes, then the session closes), except
//! after STLS, where it is dropped (RFC 2595 §4, as for SMTP's CVE-2011-0411).
//!
//! Invariants:
//! - every byte of input is either consumed or buffered; buffered input is bounded: one
//!   command line (512 octets with its line end; 12,288 for an AUTH command or a SASL
//!   response; longer lines are discarded as they come and answered `-ERR Line too long` at
//!   their end), or what followed a command awaiting an action;
//! - lines end in LF, with an optional CR before it (RFC 1939 §3 wants CRLF; a bare LF is
//!   accepted for robustness, and a CR elsewhere is an ordinary byte of the line);
//! - the session never panics on any input, and replies to commands in order, one reply
//!   per command;
//! - replies never echo client input, and texts from the I/O layer cannot inject lines;
//! - once an [`Action::Close`] has been returned, every later call returns it again.
//!
//! Reply texts follow Dovecot's POP3 server where RFC 1939 leaves a choice, and RFC 1939's
//! examples otherwise; the choices are listed at [`Session`].

mod command;
mod content;
mod reply;
mod session;

#[cfg(test)]
mod golden;

pub use content::{message_size, wire_uid};
pub use reply::{Reply, RespCode};
pub use session::Session;

/// Input kept while an action is outstanding, in bytes; past this the session closes
/// (`-ERR Too much pipelined input.`). Only a misbehaving I/O layer or client reaches it.
pub const MAX_PENDING_INPUT: usize = 1 << 20;

/// Per-connection settings, resolved by the server from its configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    /// The greeting text after `+OK ` (Dovecot's `login_greeting`, default `Dovecot ready.`;
    /// ours is `rmail ready.`). RFC 1939 §4 only asks for a positive response.
    pub banner: String,
    /// STLS may be offered: a certificate is configured. Ignored once TLS is active.
    pub tls_offered: bool,
    /// The connection is already TLS (port 995, implicit TLS, RFC 8314 §3.3).
    pub tls_active: bool,
    /// USER/PASS and AUTH PLAIN are allowed before TLS. The I/O layer sets it for a loopback
    /// client or when the configuration allows cleartext passwords (Dovecot's
    /// `disable_plaintext_auth = no`); otherwise they get `-ERR [AUTH] Plaintext
    /// authentication disallowed on non-secure (SSL/TLS) connections.` and are not
    /// advertised by CAPA until TLS is active.
    pub plaintext_auth: bool,
    /// After this many `-ERR` replies to the client's own commands the session replies
    /// `-ERR Too many bad commands.` and closes (Dovecot's pop3 closes after 20 bad
    /// commands); 0 = never. Failures reported by the I/O layer do not count.
    pub hard_error_limit: u32,
}

impl Params {
    /// Defaults: banner `rmail ready.`, no TLS, no plaintext authentication before TLS, a hard
    /// error limit of 20.
    pub fn new() -> Params {
        Params {
            banner: "rmail ready.".into(),
            tls_offered: false,
            tls_active: false,
            plaintext_auth: false,
            hard_error_limit: 20,
        }
    }
}

impl Default for Params {
    fn default() -> Params {
        Params::new()
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

/// One message of the maildrop as the I/O layer lists it when it opens the maildrop
/// ([`Session::maildrop_opened`]); messages are numbered from 1 in the order given
/// (RFC 1939 §5), and that order must not change during the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsgInfo {
    /// The size in octets as the message is sent: lines ending in CRLF, before
    /// dot-stuffing (RFC 1939 §5: the "exact size" for LIST and STAT). [`message_size`]
    /// computes it from the stored bytes.
    pub size: u64,
    /// The unique-id listing for UIDL (RFC 1939 §7): stable across sessions and unique in
    /// the maildrop. One that is not 1 to 70 characters in 0x21..=0x7E is replaced by
    /// [`wire_uid`]'s stable digest of it.
    pub uid: String,
}

/// Something only the I/O layer can do; the session waits (buffering input) until it is
/// answered.
#[derive(PartialEq, Eq)]
pub enum Action {
    /// `+OK Begin TLS negotiation now.` is in `write`: do the TLS handshake, then call
    /// [`Session::tls_started`] (on failure, close). Plaintext input that came after the
    /// STLS command has been discarded (RFC 2595 §4).
    StartTls,
    /// Check this user's password (from USER/PASS, or AUTH PLAIN's authcid and password),
    /// then call [`Session::auth_result`]. Delaying a failure (RFC 1939 §13) is the I/O
    /// layer's business. `Debug` does not show the password.
    Authenticate {
        /// The login name, UTF-8, never empty.
        user: String,
        /// The password, UTF-8, never empty.
        password: String,
    },
    /// The user is authenticated: lock the maildrop exclusively and list its messages
    /// (RFC 1939 §4), then call [`Session::maildrop_opened`].
    OpenMaildrop {
        /// The name [`Session::auth_result`] gave.
        user: String,
    },
    /// RETR or TOP: read message `index` (0-based, in the order of the list given to
    /// [`Session::maildrop_opened`]), then call [`Session::fetched`] with its bytes.
    Fetch {
        /// 0-based index into the maildrop list (the client's message number minus one).
        index: usize,
        /// For TOP: the number of body lines wanted. Only a hint: the session cuts the
        /// message itself, so the I/O layer may always pass the whole message.
        top_lines: Option<u32>,
    },
    /// QUIT in TRANSACTION (RFC 1939 §6, the UPDATE state): remove these messages
    /// (0-based indexes, ascending; possibly none), release the lock, then call
    /// [`Session::update_result`].
    Update {
        /// 0-based indexes of the messages marked deleted.
        deleted: Vec<usize>,
    },
    /// Send `write`, then close the connection. Nothing is removed from the maildrop.
    Close,
}

impl std::fmt::Debug for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::StartTls => f.write_str("StartTls"),
            Action::Authenticate { user, .. } => f
                .debug_struct("Authenticate")
                .field("user", user)
                .field("password", &"<hidden>")
                .finish(),
            Action::OpenMaildrop { user } => {
                f.debug_struct("OpenMaildrop").field("user", user).finish()
            }
            Action::Fetch { index, top_lines } => f
                .debug_struct("Fetch")
                .field("index", index)
                .field("top_lines", top_lines)
                .finish(),
            Action::Update { deleted } => {
                f.debug_struct("Update").field("deleted", deleted).finish()
            }
            Action::Close => f.write_str("Close"),
        }
    }
}
