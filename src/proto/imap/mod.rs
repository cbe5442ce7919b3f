//! The IMAP4rev1 server protocol core of `rmail serve` (RFC 3501), a pure state machine
//! over bytes like the SMTP and POP3 cores ([`super::smtp`], [`super::pop3`]), with
//! STARTTLS and LOGINDISABLED (RFC 3501 §6.2.1, RFC 8314), AUTHENTICATE PLAIN (RFC 4616)
//! with SASL-IR (RFC 4959), LITERAL+ (RFC 7888), IDLE (RFC 2177), UIDPLUS (RFC 4315),
//! MOVE (RFC 6851), UNSELECT (RFC 3691), NAMESPACE (RFC 2342), ID (RFC 2971), ENABLE
//! (RFC 5161), CHILDREN (RFC 3348), SPECIAL-USE (RFC 6154), APPENDLIMIT (RFC 7889),
//! ESEARCH (RFC 4731: RETURN MIN MAX ALL COUNT) and the response codes of RFC 5530.
//!
//! IMAP4rev2 (RFC 9051) is advertised next to IMAP4rev1 and turned on by `ENABLE
//! IMAP4rev2` (§6.3.1): from then on no `\Recent` flag and no RECENT responses (nor
//! `[UNSEEN n]` or STATUS RECENT), SEARCH answers with ESEARCH, SELECT/EXAMINE send a LIST
//! response for the mailbox and `OK [CLOSED]` when one was selected (§6.3.2), STATUS
//! offers DELETED (§6.3.11), and mailbox names are UTF-8 (§5.1). IMAP4rev1 clients get
//! and send names in modified UTF-7 (RFC 3501 §5.1.3, module `utf7`); the store's names
//! are UTF-8. BINARY (RFC 3516: FETCH BINARY[part], BINARY.PEEK, BINARY.SIZE, literal8
//! in APPEND) is offered in both modes. Not implemented: STATUS SIZE (needs an imap-codec
//! feature), LIST-EXTENDED/`\NonExistent`, SEARCH RETURN (SAVE).
//!
//! No sockets, clocks or threads. Mailboxes are reached through the [`MailStore`] and
//! [`Folder`] traits (implemented by the server over `store::view`), whose calls are
//! synchronous local file operations. The I/O layer (`server::imap`) drives a
//! [`Session`]:
//!
//! ```text
//! let mut s = Session::new(params);
//! write(s.greeting())
//! loop {
//!     let n = read(timeout: 1 s while idling, else 30 min)?
//!         // on idle timer: out = s.poll_changes() (only does something in IDLE)
//!         // on inactivity: write(s.idle_timeout().write); close
//!     let mut out = s.feed(&buf[..n]);
//!     loop {
//!         write(out.write);
//!         match out.action {
//!             None => break,                                             // read more
//!             Some(Action::Close) => return close(),
//!             Some(Action::StartTls) => { handshake()?; s.tls_started(); break }
//!             Some(Action::Authenticate { user, password }) =>
//!                 out = s.auth_result(check(user, password)),            // delay failures
//!             Some(Action::LoggedIn { user }) => out = s.store_opened(open_store(user)),
//!         }
//!     }
//! }
//! // connection lost: s.hangup() writes pending flag changes
//! ```
//!
//! Commands are framed first (lines and literals, module `framer`) and then decoded with
//! imap-codec's `CommandCodec`, which parses every RFC 3501 command and the extensions
//! above into imap-types values; a hand-written parser would duplicate it. Responses are
//! written by hand (module `response`): their data (ENVELOPE, BODYSTRUCTURE, sections) come from
//! `message::imap` already in IMAP syntax.
//!
//! Invariants:
//! - memory is bounded: one line of at most 64 KiB ([`LINE_MAX`]), one command of at most
//!   1 MiB ([`COMMAND_MAX`]) or an APPEND literal of at most [`Params::append_limit`];
//!   a longer line closes the connection (`* BYE`), a bigger literal is refused
//!   (`NO [TOOBIG]` or `BAD [TOOBIG]`) and its bytes discarded unread;
//! - lines end in CRLF; a bare LF is accepted;
//! - the session never panics on any input and answers each tagged command once, in order;
//! - sequence numbers change only where RFC 3501 §7.4.1 allows EXPUNGE responses: the
//!   folder is refreshed after every command but FETCH, STORE and SEARCH (their UID forms
//!   included), and while idling;
//! - flag changes are written to the folder ([`Folder::sync`]) at the end of the next
//!   command that reports changes, at CHECK, CLOSE, UNSELECT, SELECT, LOGOUT, while
//!   idling, and at [`Session::hangup`];
//! - once [`Action::Close`] has been returned, every later call returns it again.
//!
//! Reply texts follow Dovecot where RFC 3501 leaves a choice.

mod fetch;
mod framer;
mod list;
mod response;
mod search;
mod selected;
mod session;
mod store;
pub mod utf7;

#[cfg(test)]
mod golden;
#[cfg(test)]
mod memstore;

pub use framer::{COMMAND_MAX, LINE_MAX};
pub use session::Session;
pub use store::{
    Changes, Flags, Folder, MailStore, MailboxInfo, MessageInfo, StatusInfo, StoreError,
};

/// Input kept while an action is outstanding, in bytes; past this the session closes.
pub const MAX_PENDING_INPUT: usize = 1 << 20;

/// Per-connection settings, resolved by the server from its configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    /// The greeting text after `* OK [CAPABILITY …] ` (ours: `rmail ready.`).
    pub banner: String,
    /// STARTTLS may be offered: a certificate is configured.
    pub tls_offered: bool,
    /// The connection is already TLS (port 993, RFC 8314 §3.3).
    pub tls_active: bool,
    /// LOGIN and AUTHENTICATE PLAIN are allowed before TLS (a loopback client, or
    /// Dovecot's `disable_plaintext_auth = no`); otherwise `LOGINDISABLED` is advertised
    /// and they get `NO [PRIVACYREQUIRED]` (RFC 3501 §6.2.3, RFC 5530).
    pub plaintext_auth: bool,
    /// The largest message APPEND accepts, in octets (RFC 7889 `APPENDLIMIT`; Postfix's
    /// `message_size_limit` is a good value). Default 64 MiB.
    pub append_limit: u64,
    /// The version sent in the ID response (RFC 2971), e.g. `env!("CARGO_PKG_VERSION")`.
    pub version: String,
    /// After this many BAD or failed-login responses the session says `* BYE Too many
    /// invalid commands.` and closes (Dovecot closes after 20 bad commands); 0 = never.
    pub hard_error_limit: u32,
}

impl Params {
    /// Defaults: banner `rmail ready.`, no TLS, no plaintext authentication before TLS,
    /// APPEND limit 64 MiB, this crate's version, a hard error limit of 20.
    pub fn new() -> Params {
        Params {
            banner: "rmail ready.".into(),
            tls_offered: false,
            tls_active: false,
            plaintext_auth: false,
            append_limit: 64 << 20,
            version: env!("CARGO_PKG_VERSION").into(),
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
    /// Bytes to send to the client now, before acting.
    pub write: Vec<u8>,
    /// What to do next; `None`: send `write`, then read more input.
    pub action: Option<Action>,
}

/// Something only the I/O layer can do; the session buffers input until it is answered.
#[derive(PartialEq, Eq)]
pub enum Action {
    /// `OK Begin TLS negotiation now.` is in `write`: do the TLS handshake, then call
    /// [`Session::tls_started`] (on failure, close). Input after the STARTTLS command has
    /// been discarded (RFC 3501 §6.2.1, against command injection).
    StartTls,
    /// Check this password (LOGIN, or AUTHENTICATE PLAIN's authcid and password), then
    /// call [`Session::auth_result`]. Delaying failures is the I/O layer's business.
    /// `Debug` does not show the password.
    Authenticate {
        /// The login name, UTF-8, never empty.
        user: String,
        /// The password, UTF-8, never empty.
        password: String,
    },
    /// The user is authenticated: build their [`MailStore`] and call
    /// [`Session::store_opened`].
    LoggedIn {
        /// The name [`Session::auth_result`] gave.
        user: String,
    },
    /// Close the connection (after sending `write`).
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
            Action::LoggedIn { user } => f.debug_struct("LoggedIn").field("user", user).finish(),
            Action::Close => f.write_str("Close"),
        }
    }
}
