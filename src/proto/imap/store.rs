//! The storage the IMAP session works on: one [`MailStore`] per authenticated user (the
//! mailbox list, RFC 3501 §6.3) and one [`Folder`] per selected mailbox (§6.4). The traits
//! mirror `store::view::MailboxView`, which the server implements them over; the session
//! tests use an in-memory store.
//!
//! Mailbox names are UTF-8 (the session converts IMAP4rev1's modified UTF-7, RFC 3501
//! §5.1.3, both ways), hierarchy delimiter `/`, `INBOX` always spelled so. Message
//! positions are 0-based (sequence number − 1).

use std::io;

use chrono::{DateTime, FixedOffset};

pub use crate::message::imap::Flags;

/// A storage failure, carrying the IMAP response code it is answered with (RFC 5530) in
/// [`StoreError::code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The mailbox does not exist: `NO [NONEXISTENT]` (`[TRYCREATE]` for APPEND, COPY and
    /// MOVE, RFC 3501 §6.3.11).
    #[error("cannot find mailbox")]
    NonExistent,
    /// CREATE or RENAME to a name in use: `NO [ALREADYEXISTS]`.
    #[error("cannot create mailbox: it already exists")]
    AlreadyExists,
    /// The operation can never succeed (an invalid name, deleting INBOX, …): `NO [CANNOT]`
    /// with this text.
    #[error("cannot do that: {0}")]
    Cannot(String),
    /// A write to a read-only mailbox: `NO Mailbox is read-only.` (Dovecot's answer; no
    /// RFC 5530 code fits).
    #[error("cannot write: mailbox is read-only")]
    ReadOnly,
    /// A temporary failure (locked, I/O error): `NO [UNAVAILABLE]` with this text.
    #[error("cannot access mailbox: {0}")]
    Unavailable(String),
}

impl StoreError {
    /// The RFC 5530 response code this error is answered with (without brackets).
    pub fn code(&self) -> Option<&'static str> {
        match self {
            StoreError::NonExistent => Some("NONEXISTENT"),
            StoreError::AlreadyExists => Some("ALREADYEXISTS"),
            StoreError::Cannot(_) => Some("CANNOT"),
            StoreError::ReadOnly => None,
            StoreError::Unavailable(_) => Some("UNAVAILABLE"),
        }
    }
}

/// One mailbox in a LIST response (RFC 3501 §7.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxInfo {
    /// The name (see the module doc).
    pub name: String,
    /// The RFC 6154 special-use attribute, with its backslash: `\Sent`, `\Drafts`,
    /// `\Trash`, `\Junk`, `\Archive`, `\All`, `\Flagged`.
    pub special_use: Option<String>,
}

/// What STATUS reports about a mailbox (RFC 3501 §6.3.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatusInfo {
    pub messages: u32,
    pub recent: u32,
    pub uidnext: u32,
    pub uidvalidity: u32,
    /// Messages without `\Seen`.
    pub unseen: u32,
}

/// What the session knows about one message of a [`Folder`] (mirrors
/// `store::view::MessageInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageInfo {
    /// UID (RFC 3501 §2.3.1.1), ≥ 1, ascending in the folder.
    pub uid: u32,
    /// RFC822.SIZE: octets as sent, with CRLF line ends.
    pub size: u64,
    /// System flags; `recent` is this session's `\Recent`.
    pub flags: Flags,
    /// Keywords (IMAP atoms).
    pub keywords: Vec<String>,
    /// The internal date (RFC 3501 §2.3.3), with the offset to show it in.
    pub internal_date: DateTime<FixedOffset>,
}

/// What changed in a folder at [`Folder::refresh`] or [`Folder::sync`] (mirrors
/// `store::view::Changes`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// UIDVALIDITY changed: the session ends (`* BYE`), RFC 3501 §2.3.1.1.
    pub uidvalidity_changed: bool,
    /// Positions (0-based, in the numbering before the call) of messages gone, in
    /// descending order, so `* n+1 EXPUNGE` can be sent for each in turn.
    pub expunged: Vec<usize>,
    /// Messages added at the end.
    pub arrived: usize,
    /// Positions (0-based, after the call), ascending, of messages whose flags another
    /// program changed (`* n FETCH (FLAGS …)`).
    pub flags_changed: Vec<usize>,
}

/// The mailboxes of one authenticated user (RFC 3501 §6.3). Calls are synchronous: they are
/// local file operations and the session runs on a thread that may block.
pub trait MailStore: Send {
    /// Every mailbox of the user, INBOX included.
    fn list(&mut self) -> Result<Vec<MailboxInfo>, StoreError>;
    /// CREATE (RFC 3501 §6.3.3); a trailing `/` has been removed.
    fn create(&mut self, name: &str) -> Result<(), StoreError>;
    /// DELETE (§6.3.4); never called for INBOX or the selected mailbox.
    fn delete(&mut self, name: &str) -> Result<(), StoreError>;
    /// RENAME (§6.3.5); renaming INBOX moves its messages (the store's business).
    fn rename(&mut self, from: &str, to: &str) -> Result<(), StoreError>;
    /// SUBSCRIBE (`true`) or UNSUBSCRIBE (`false`), §6.3.6–7.
    fn subscribe(&mut self, name: &str, subscribed: bool) -> Result<(), StoreError>;
    /// The subscribed names (LSUB, §6.3.9), existing or not.
    fn subscriptions(&mut self) -> Result<Vec<String>, StoreError>;
    /// SELECT (`read_only == false`) or EXAMINE. A read-write open also makes this
    /// session's recent messages not recent for later sessions (`clear_recent`).
    fn open(&mut self, name: &str, read_only: bool) -> Result<Box<dyn Folder>, StoreError>;
    /// STATUS (§6.3.10).
    fn status(&mut self, name: &str) -> Result<StatusInfo, StoreError>;
    /// APPEND (§6.3.11), also COPY and MOVE (one call per message): stores `message`
    /// (CRLF or LF lines) with these flags (`recent` ignored), keywords and internal date
    /// (`None`: now). Returns UIDVALIDITY and the new UID when known (RFC 4315
    /// APPENDUID/COPYUID).
    fn append(
        &mut self,
        name: &str,
        message: &[u8],
        flags: Flags,
        keywords: &[String],
        internal_date: Option<DateTime<FixedOffset>>,
    ) -> Result<(u32, Option<u32>), StoreError>;
}

/// A selected mailbox (mirrors `store::view::MailboxView`). Positions are 0-based and
/// valid below [`Folder::len`]; the numbering changes only in [`Folder::refresh`] and
/// [`Folder::sync`].
pub trait Folder: Send {
    /// UIDVALIDITY (never 0).
    fn uidvalidity(&self) -> u32;
    /// The UID the next message will get.
    fn uidnext(&self) -> u32;
    /// Number of messages.
    fn len(&self) -> usize;
    /// Whether there is no message.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Message `i`; `i < len()`.
    fn info(&self, i: usize) -> MessageInfo;
    /// The bytes of message `i` (RFC 5322, LF or CRLF lines). Errors: the file changed
    /// under us (refresh, then look again) or other I/O errors.
    fn message(&self, i: usize) -> io::Result<Vec<u8>>;
    /// Sets the flags (`recent` ignored) and keywords of message `i` in memory; written by
    /// the next [`Folder::sync`].
    fn set_flags(&mut self, i: usize, flags: Flags, keywords: Vec<String>);
    /// Takes in what other programs did since the last look.
    fn refresh(&mut self) -> Result<Changes, StoreError>;
    /// Writes flag changes and removes the messages at positions `expunge` (ascending);
    /// the changes include those removed here. Errors: [`StoreError::ReadOnly`] when there
    /// is something to write in a read-only folder.
    fn sync(&mut self, expunge: &[usize]) -> Result<Changes, StoreError>;
    /// Whether changes are refused (EXAMINE, or a file we may not write).
    fn is_read_only(&self) -> bool;
}
