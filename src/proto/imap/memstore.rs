//! An in-memory [`MailStore`] for the session tests, shared with the test so that it can
//! change mailboxes behind the session's back (new mail, expunges, flags set by "another
//! program"), as `store::view` sees other writers of an mbox.

use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, FixedOffset};

use super::store::{
    Changes, Flags, Folder, MailStore, MailboxInfo, MessageInfo, StatusInfo, StoreError,
};

/// One stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemMsg {
    pub uid: u32,
    pub bytes: Vec<u8>,
    /// `recent` here: not yet seen by any read-write session.
    pub flags: Flags,
    pub keywords: Vec<String>,
    pub date: DateTime<FixedOffset>,
}

/// One mailbox.
#[derive(Debug, Clone)]
pub struct MemBox {
    pub uidvalidity: u32,
    pub uidnext: u32,
    pub special_use: Option<String>,
    pub msgs: Vec<MemMsg>,
}

/// Everything a user has.
#[derive(Debug, Default)]
pub struct Mem {
    pub boxes: BTreeMap<String, MemBox>,
    pub subscriptions: Vec<String>,
    next_validity: u32,
}

pub type Shared = Arc<Mutex<Mem>>;

/// The default internal date of test messages.
pub fn test_date() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2024-03-01T10:00:00+01:00").unwrap()
}

fn lock(s: &Shared) -> MutexGuard<'_, Mem> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

impl Mem {
    /// A store with an empty INBOX.
    pub fn new() -> Shared {
        let mut m = Mem {
            next_validity: 1000,
            ..Mem::default()
        };
        m.add_box("INBOX", None);
        Arc::new(Mutex::new(m))
    }

    pub fn add_box(&mut self, name: &str, special_use: Option<&str>) {
        self.next_validity += 1;
        self.boxes.insert(
            name.to_string(),
            MemBox {
                uidvalidity: self.next_validity,
                uidnext: 1,
                special_use: special_use.map(str::to_string),
                msgs: Vec::new(),
            },
        );
    }

    /// Delivers a message (recent); returns its UID.
    pub fn deliver(
        &mut self,
        name: &str,
        bytes: &[u8],
        flags: Flags,
        keywords: &[String],
        date: Option<DateTime<FixedOffset>>,
    ) -> Option<u32> {
        let b = self.boxes.get_mut(name)?;
        let uid = b.uidnext;
        b.uidnext += 1;
        b.msgs.push(MemMsg {
            uid,
            bytes: bytes.to_vec(),
            flags: Flags {
                recent: true,
                ..flags
            },
            keywords: keywords.to_vec(),
            date: date.unwrap_or_else(test_date),
        });
        Some(uid)
    }
}

/// The store of one user.
pub struct MemStore(pub Shared);

impl MailStore for MemStore {
    fn list(&mut self) -> Result<Vec<MailboxInfo>, StoreError> {
        Ok(lock(&self.0)
            .boxes
            .iter()
            .map(|(n, b)| MailboxInfo {
                name: n.clone(),
                special_use: b.special_use.clone(),
            })
            .collect())
    }

    fn create(&mut self, name: &str) -> Result<(), StoreError> {
        let mut m = lock(&self.0);
        if m.boxes.contains_key(name) {
            return Err(StoreError::AlreadyExists);
        }
        if name.contains("..") {
            return Err(StoreError::Cannot("Invalid mailbox name.".into()));
        }
        m.add_box(name, None);
        Ok(())
    }

    fn delete(&mut self, name: &str) -> Result<(), StoreError> {
        lock(&self.0)
            .boxes
            .remove(name)
            .map(|_| ())
            .ok_or(StoreError::NonExistent)
    }

    fn rename(&mut self, from: &str, to: &str) -> Result<(), StoreError> {
        let mut m = lock(&self.0);
        if m.boxes.contains_key(to) {
            return Err(StoreError::AlreadyExists);
        }
        let b = m.boxes.remove(from).ok_or(StoreError::NonExistent)?;
        m.boxes.insert(to.to_string(), b);
        Ok(())
    }

    fn subscribe(&mut self, name: &str, on: bool) -> Result<(), StoreError> {
        let mut m = lock(&self.0);
        m.subscriptions.retain(|s| s != name);
        if on {
            m.subscriptions.push(name.to_string());
        }
        Ok(())
    }

    fn subscriptions(&mut self) -> Result<Vec<String>, StoreError> {
        Ok(lock(&self.0).subscriptions.clone())
    }

    fn open(&mut self, name: &str, read_only: bool) -> Result<Box<dyn Folder>, StoreError> {
        let mut f = MemFolder {
            shared: self.0.clone(),
            name: name.to_string(),
            read_only,
            uidvalidity: 0,
            uidnext: 1,
            msgs: Vec::new(),
            pending: Vec::new(),
        };
        {
            let mut m = lock(&self.0);
            let b = m.boxes.get_mut(name).ok_or(StoreError::NonExistent)?;
            f.uidvalidity = b.uidvalidity;
            f.uidnext = b.uidnext;
            for msg in &mut b.msgs {
                let mut mine = msg.clone();
                if !read_only {
                    msg.flags.recent = false;
                } else {
                    mine.flags.recent = false;
                }
                f.msgs.push(mine);
                f.pending.push(false);
            }
        }
        Ok(Box::new(f))
    }

    fn status(&mut self, name: &str) -> Result<StatusInfo, StoreError> {
        let m = lock(&self.0);
        let b = m.boxes.get(name).ok_or(StoreError::NonExistent)?;
        let n = |f: &dyn Fn(&MemMsg) -> bool| b.msgs.iter().filter(|m| f(m)).count() as u32;
        Ok(StatusInfo {
            messages: b.msgs.len() as u32,
            recent: n(&|m| m.flags.recent),
            uidnext: b.uidnext,
            uidvalidity: b.uidvalidity,
            unseen: n(&|m| !m.flags.seen),
        })
    }

    fn append(
        &mut self,
        name: &str,
        message: &[u8],
        flags: Flags,
        keywords: &[String],
        internal_date: Option<DateTime<FixedOffset>>,
    ) -> Result<(u32, Option<u32>), StoreError> {
        let mut m = lock(&self.0);
        let v = m
            .boxes
            .get(name)
            .ok_or(StoreError::NonExistent)?
            .uidvalidity;
        let uid = m.deliver(name, message, flags, keywords, internal_date);
        Ok((v, uid))
    }
}

/// A selected mailbox: a snapshot of the shared one, merged at refresh and sync.
pub struct MemFolder {
    shared: Shared,
    name: String,
    read_only: bool,
    uidvalidity: u32,
    uidnext: u32,
    msgs: Vec<MemMsg>,
    /// Flags set here and not yet synced.
    pending: Vec<bool>,
}

impl MemFolder {
    /// Takes in the shared mailbox; `expunge` are UIDs to remove first; `write`: our
    /// pending flags are written (else they are kept, unsynced).
    fn merge(&mut self, expunge: &[u32], write: bool) -> Result<Changes, StoreError> {
        let shared = self.shared.clone();
        let mut m = lock(&shared);
        let Some(b) = m.boxes.get_mut(&self.name) else {
            // Deleted under us: everything is gone.
            let expunged = (0..self.msgs.len()).rev().collect();
            self.msgs.clear();
            self.pending.clear();
            return Ok(Changes {
                expunged,
                ..Changes::default()
            });
        };
        if b.uidvalidity != self.uidvalidity {
            return Ok(Changes {
                uidvalidity_changed: true,
                ..Changes::default()
            });
        }
        // Our pending flags go in first.
        for (k, msg) in self.msgs.iter().enumerate() {
            if write && self.pending[k] {
                if let Some(s) = b.msgs.iter_mut().find(|s| s.uid == msg.uid) {
                    s.flags = Flags {
                        recent: s.flags.recent,
                        ..msg.flags
                    };
                    s.keywords = msg.keywords.clone();
                }
            }
        }
        b.msgs.retain(|s| !expunge.contains(&s.uid));
        let mut ch = Changes::default();
        for k in (0..self.msgs.len()).rev() {
            if !b.msgs.iter().any(|s| s.uid == self.msgs[k].uid) {
                ch.expunged.push(k);
                self.msgs.remove(k);
                self.pending.remove(k);
            }
        }
        let last = self.msgs.last().map_or(0, |m| m.uid);
        for (k, msg) in self.msgs.iter_mut().enumerate() {
            if let Some(s) = b.msgs.iter().find(|s| s.uid == msg.uid) {
                let theirs = (
                    Flags {
                        recent: msg.flags.recent,
                        ..s.flags
                    },
                    &s.keywords,
                );
                if !self.pending[k] && (theirs.0 != msg.flags || *theirs.1 != msg.keywords) {
                    msg.flags = theirs.0;
                    msg.keywords = s.keywords.clone();
                    ch.flags_changed.push(k);
                }
            }
        }
        if write {
            self.pending.iter_mut().for_each(|p| *p = false);
        }
        for s in b.msgs.iter_mut().filter(|s| s.uid > last) {
            let mut mine = s.clone();
            if self.read_only {
                mine.flags.recent = false;
            } else {
                s.flags.recent = false;
            }
            self.msgs.push(mine);
            self.pending.push(false);
            ch.arrived += 1;
        }
        self.uidnext = b.uidnext;
        Ok(ch)
    }
}

impl Folder for MemFolder {
    fn uidvalidity(&self) -> u32 {
        self.uidvalidity
    }
    fn uidnext(&self) -> u32 {
        self.uidnext
    }
    fn len(&self) -> usize {
        self.msgs.len()
    }
    fn info(&self, i: usize) -> MessageInfo {
        let m = &self.msgs[i];
        MessageInfo {
            uid: m.uid,
            size: crate::message::imap::crlf_len(&m.bytes),
            flags: m.flags,
            keywords: m.keywords.clone(),
            internal_date: m.date,
        }
    }
    fn message(&self, i: usize) -> io::Result<Vec<u8>> {
        let uid = self.msgs[i].uid;
        let m = lock(&self.shared);
        m.boxes
            .get(&self.name)
            .and_then(|b| b.msgs.iter().find(|s| s.uid == uid))
            .map(|s| s.bytes.clone())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "message gone"))
    }
    fn set_flags(&mut self, i: usize, flags: Flags, keywords: Vec<String>) {
        let m = &mut self.msgs[i];
        m.flags = Flags {
            recent: m.flags.recent,
            ..flags
        };
        m.keywords = keywords;
        self.pending[i] = true;
    }
    fn refresh(&mut self) -> Result<Changes, StoreError> {
        self.merge(&[], false)
    }
    fn sync(&mut self, expunge: &[usize]) -> Result<Changes, StoreError> {
        let work = !expunge.is_empty() || self.pending.iter().any(|&p| p);
        if work && self.read_only {
            return Err(StoreError::ReadOnly);
        }
        let uids: Vec<u32> = expunge
            .iter()
            .filter_map(|&i| self.msgs.get(i).map(|m| m.uid))
            .collect();
        self.merge(&uids, true)
    }
    fn is_read_only(&self) -> bool {
        self.read_only
    }
}
