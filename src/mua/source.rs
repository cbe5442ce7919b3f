//! Where the open folder's messages come from: a local mbox ([`Mbox`]) or a remote IMAP or
//! POP3 mailbox ([`crate::remote::RemoteFolder`]). The reader asks both the same questions
//! (count, summary fields, sizes, a message's bytes), so every command works on either.
//!
//! A remote folder keeps its summary in memory from the one listing made at open; message
//! bodies are fetched on first use and cached by the remote folder for the session.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;

use crate::remote::{FolderUrl, RemoteError, RemoteFolder, RemoteMessage};
use crate::store::mbox::{Field, Mbox, Status, StoreError};

/// The open folder's message store.
pub enum Source {
    /// A local mbox file.
    Local(Mbox),
    /// An IMAP mailbox or a POP3 maildrop.
    Remote(RemoteSource),
}

/// A remote folder with its summary.
pub struct RemoteSource {
    /// The folder's URL.
    pub url: FolderUrl,
    msgs: Vec<RemoteMessage>,
    conn: RefCell<Box<dyn RemoteFolder>>,
    /// Line counts of messages fetched so far (index → lines), for the summary.
    lines: RefCell<HashMap<usize, u32>>,
    /// Logged out already (after [`RemoteSource::commit`]).
    done: std::cell::Cell<bool>,
}

impl Drop for RemoteSource {
    /// Logs out without changes unless [`RemoteSource::commit`] did (`exit`, `-H`, errors).
    fn drop(&mut self) {
        if !self.done.get() {
            self.conn.get_mut().close();
        }
    }
}

impl RemoteSource {
    /// Wraps an open remote folder, taking its summary.
    pub fn new(mut conn: Box<dyn RemoteFolder>) -> RemoteSource {
        let msgs = conn.take_summary();
        RemoteSource {
            url: conn.url().clone(),
            msgs,
            conn: RefCell::new(conn),
            lines: RefCell::new(HashMap::new()),
            done: std::cell::Cell::new(false),
        }
    }

    /// The summary facts of message `i` (0-based). Panics when out of range.
    pub fn message(&self, i: usize) -> &RemoteMessage {
        &self.msgs[i]
    }

    /// The summary facts of every message.
    pub fn messages(&self) -> &[RemoteMessage] {
        &self.msgs
    }

    /// The connection, for operations beyond reading (commit, copy, append, list).
    pub fn conn(&self) -> std::cell::RefMut<'_, Box<dyn RemoteFolder>> {
        self.conn.borrow_mut()
    }

    /// Applies `plan` and logs out (see [`RemoteFolder::commit`]); the connection is done
    /// either way.
    pub fn commit(&self, plan: &crate::remote::QuitPlan) -> Result<(), RemoteError> {
        self.done.set(true);
        self.conn.borrow_mut().commit(plan)
    }

    /// After a failed [`RemoteSource::commit`]: the folder stays in use (the next operation
    /// connects again) and is logged out when dropped.
    pub fn keep_open(&self) {
        self.done.set(false);
    }

    /// The server's flags now, by index (`None`: expunged by another client; see
    /// [`RemoteFolder::refresh_flags`]); the summary's flags are updated to them, so that
    /// `quit` compares with what the server has now.
    pub fn refresh_flags(
        &mut self,
    ) -> Result<Vec<Option<crate::remote::RemoteFlags>>, RemoteError> {
        let now = self.conn.get_mut().refresh_flags()?;
        for (m, f) in self.msgs.iter_mut().zip(&now) {
            if let Some(f) = f {
                m.flags = *f;
            }
        }
        Ok(now)
    }

    /// Asks the server for new messages; returns how many were added to the summary.
    pub fn check_new(&mut self) -> Result<usize, RemoteError> {
        let new = self.conn.get_mut().check_new()?;
        let k = new.len();
        self.msgs.extend(new);
        Ok(k)
    }

    fn fetch(&self, i: usize) -> io::Result<Vec<u8>> {
        let body = self
            .conn
            .borrow_mut()
            .fetch(i)
            .map_err(|e| io::Error::other(e.to_string()))?;
        let n = u32::try_from(bytecount::count(&body, b'\n')).unwrap_or(u32::MAX);
        self.lines.borrow_mut().insert(i, n);
        Ok(body)
    }
}

impl Source {
    /// Number of messages.
    pub fn len(&self) -> usize {
        match self {
            Source::Local(m) => m.len(),
            Source::Remote(r) => r.msgs.len(),
        }
    }

    /// Whether the folder has no messages.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The remote folder, if this is one.
    pub fn remote(&self) -> Option<&RemoteSource> {
        match self {
            Source::Remote(r) => Some(r),
            Source::Local(_) => None,
        }
    }

    /// Size of message `i` in bytes (the mbox entry, or the server's RFC822.SIZE / LIST).
    pub fn size(&self, i: usize) -> u64 {
        match self {
            Source::Local(m) => m.meta(i).len,
            Source::Remote(r) => r.msgs[i].size,
        }
    }

    /// Line count of message `i`; for a remote message not read yet, the server's count if
    /// it gave one, else `None` (IMAP tells no line count short of BODYSTRUCTURE).
    pub fn lines(&self, i: usize) -> Option<u64> {
        match self {
            Source::Local(m) => Some(u64::from(m.meta(i).lines)),
            Source::Remote(r) => r
                .lines
                .borrow()
                .get(&i)
                .copied()
                .or(r.msgs[i].lines)
                .map(u64::from),
        }
    }

    /// The mailx status at open: read (`R`, IMAP `\Seen`) and old (`O`; a remote message
    /// is old unless `\Recent`, POP3 messages are new).
    pub fn status(&self, i: usize) -> Status {
        match self {
            Source::Local(m) => m.meta(i).status,
            Source::Remote(r) => {
                let f = r.msgs[i].flags;
                Status {
                    read: f.seen,
                    old: !f.recent && r.url.protocol == crate::remote::Protocol::Imap,
                }
            }
        }
    }

    /// Raw value of a summary field of message `i` (see [`Mbox::field`]).
    pub fn field(&self, i: usize, f: Field) -> Option<&[u8]> {
        match self {
            Source::Local(m) => m.field(i, f),
            Source::Remote(r) => {
                let m = &r.msgs[i];
                match f {
                    Field::From => m.from.as_deref(),
                    Field::Subject => m.subject.as_deref(),
                    Field::Date => m.date.as_deref(),
                    Field::FromLine => Some(&m.from_line),
                }
            }
        }
    }

    /// Message `i` for display: no `From_` line, LF line ends (see [`Mbox::read_message`]).
    /// A remote message is fetched once and then served from the cache.
    pub fn read_message(&self, i: usize) -> io::Result<Vec<u8>> {
        match self {
            Source::Local(m) => m.read_message(i),
            Source::Remote(r) => r.fetch(i),
        }
    }

    /// Message `i` as an mbox entry: `From_` line, then the message (see
    /// [`Mbox::read_raw`]; [`crate::store::mbox::append`] quotes body lines as needed).
    pub fn read_raw(&self, i: usize) -> io::Result<Vec<u8>> {
        match self {
            Source::Local(m) => m.read_raw(i),
            Source::Remote(r) => {
                let body = r.fetch(i)?;
                let fl = &r.msgs[i].from_line;
                let mut out = Vec::with_capacity(body.len() + fl.len() + 8);
                out.extend_from_slice(b"From ");
                out.extend_from_slice(fl);
                out.push(b'\n');
                out.extend_from_slice(&body);
                if !out.ends_with(b"\n") {
                    out.push(b'\n');
                }
                Ok(out)
            }
        }
    }

    /// Indexes mail that arrived since open; returns how many messages were added.
    pub fn check_new(&mut self) -> Result<usize, String> {
        match self {
            Source::Local(m) => m.check_new().map_err(|e: StoreError| e.to_string()),
            Source::Remote(r) => r.check_new().map_err(|e| e.to_string()),
        }
    }
}
