//! One mailbox as POP3 and IMAP sessions see it, whatever its format: an mbox file
//! ([`MailboxView`]) or a Maildir ([`MaildirView`], a path ending in `/`, as
//! `home_mailbox = Maildir/` delivers). Both keep UIDs in a side index and share the
//! messages with the MDA, the `rmail` reader and other clients.

use std::io;
use std::path::Path;

use crate::store::flags::Flags;
use crate::store::maildir_view::MaildirView;
use crate::store::view::{Changes, MailboxView, MessageInfo, ViewError};

/// A mailbox view of either format.
#[derive(Debug)]
pub enum View {
    /// An mbox file, and a fresh read-only view made when another program rewrote the file
    /// (see [`View::message`]).
    Mbox(MailboxView, Box<std::sync::Mutex<Option<MailboxView>>>),
    /// A Maildir directory.
    Maildir(MaildirView),
}

/// Whether `path` names a Maildir (written with a trailing `/`).
pub fn is_maildir(path: &Path) -> bool {
    path.as_os_str().to_string_lossy().ends_with('/')
}

macro_rules! both {
    ($self:expr, $v:ident => $e:expr) => {
        match $self {
            View::Mbox($v, _) => $e,
            View::Maildir($v) => $e,
        }
    };
}

impl View {
    /// Opens the mailbox at `path` with its side index at `index` (see the views).
    pub fn open(path: &Path, index: &Path, read_only: bool) -> Result<View, ViewError> {
        if is_maildir(path) {
            MaildirView::open(path, index, read_only).map(View::Maildir)
        } else {
            MailboxView::open(path, index, read_only).map(|v| View::Mbox(v, Default::default()))
        }
    }

    /// Stores a message (IMAP APPEND/COPY): UIDVALIDITY and the new UID when known.
    pub fn append(
        path: &Path,
        index: &Path,
        message: &[u8],
        flags: Flags,
        keywords: Vec<String>,
        internal_date: Option<i64>,
    ) -> Result<(u32, Option<u32>), ViewError> {
        if is_maildir(path) {
            MaildirView::append(path, index, message, flags, keywords, internal_date)
        } else {
            MailboxView::append(path, index, message, flags, keywords, internal_date)
        }
    }

    /// UIDVALIDITY.
    pub fn uidvalidity(&self) -> u32 {
        both!(self, v => v.uidvalidity())
    }

    /// UIDNEXT.
    pub fn uidnext(&self) -> u32 {
        both!(self, v => v.uidnext())
    }

    /// Number of messages.
    pub fn len(&self) -> usize {
        both!(self, v => v.len())
    }

    /// No messages.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Never written.
    pub fn is_read_only(&self) -> bool {
        both!(self, v => v.is_read_only())
    }

    /// Message `i` (0-based). Panics when out of range.
    pub fn info(&self, i: usize) -> &MessageInfo {
        both!(self, v => v.info(i))
    }

    /// The position of `uid`.
    pub fn seq_of_uid(&self, uid: u32) -> Option<usize> {
        both!(self, v => v.seq_of_uid(uid))
    }

    /// The POP3 unique-id of message `i`.
    pub fn uidl(&self, i: usize) -> String {
        both!(self, v => v.uidl(i))
    }

    /// Flags of message `i`, written at the next sync.
    pub fn set_flags(&mut self, i: usize, flags: Flags, keywords: Vec<String>) {
        both!(self, v => v.set_flags(i, flags, keywords))
    }

    /// No message is `\Recent` for later sessions.
    pub fn clear_recent(&mut self) {
        both!(self, v => v.clear_recent())
    }

    /// What other programs changed.
    pub fn refresh(&mut self) -> Result<Changes, ViewError> {
        self.drop_fresh();
        both!(self, v => v.refresh())
    }

    /// Writes flags, removes `expunge`.
    pub fn sync(&mut self, expunge: &[usize]) -> Result<Changes, ViewError> {
        self.drop_fresh();
        both!(self, v => v.sync(expunge))
    }

    /// Forgets the fresh view kept by [`View::message`] (the view itself is current now).
    fn drop_fresh(&mut self) {
        if let View::Mbox(_, fresh) = self {
            *fresh.get_mut().unwrap_or_else(|e| e.into_inner()) = None;
        }
    }

    /// Message `i`'s bytes (LF line ends). For an mbox that another program rewrote since
    /// the last refresh, the message is found again by its UID in a fresh read-only view
    /// (`index` is the side index), kept for the following messages (one rescan per
    /// rewrite, not one per message), without renumbering this view (sequence numbers must
    /// not move mid-command, RFC 3501 §7.4.1); a Maildir view follows renames itself.
    pub fn message(&self, i: usize, index: &Path) -> io::Result<Vec<u8>> {
        match self {
            View::Maildir(v) => v.message(i),
            View::Mbox(v, fresh) => match v.message(i) {
                Ok(m) => Ok(m),
                Err(first) => {
                    let uid = v.info(i).uid;
                    let mut cached = fresh.lock().unwrap_or_else(|e| e.into_inner());
                    // The cached view first; a new one when it is missing or stale too.
                    for attempt in 0..2 {
                        if cached.is_none() || attempt == 1 {
                            *cached = Some(
                                MailboxView::open(v.path(), index, true)
                                    .map_err(|e| io::Error::other(e.to_string()))?,
                            );
                        }
                        let Some(f) = cached.as_ref() else { break };
                        match f.seq_of_uid(uid) {
                            Some(j) => match f.message(j) {
                                Ok(m) => return Ok(m),
                                Err(_) if attempt == 0 => continue,
                                Err(e) => return Err(e),
                            },
                            None if attempt == 0 => continue,
                            // Gone: expunged by someone else.
                            None => return Err(first),
                        }
                    }
                    Err(first)
                }
            },
        }
    }
}
