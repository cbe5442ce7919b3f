//! SEARCH (RFC 3501 §6.4.4): imap-types' parsed keys turned into
//! [`crate::message::imap::SearchKey`] (search strings converted from the CHARSET to UTF-8),
//! and the folder's messages offered to its evaluator, their bytes read only when a key
//! needs them. Also the conversion of sequence sets shared by FETCH, STORE, COPY.

use chrono::{DateTime, FixedOffset};
use imap_types::search::SearchKey as Key;
use imap_types::sequence::{SeqOrUid, Sequence, SequenceSet as WireSet};

use super::store::{Flags, Folder, MessageInfo};
use crate::message::imap::{
    search_string, SearchError, SearchKey, SearchMessage, SeqNumber, SequenceSet,
};

/// imap-types' sequence set as ours; `None` never happens in practice (imap-types
/// guarantees a non-empty set of non-zero numbers).
pub(super) fn seq_set(set: &WireSet) -> Option<SequenceSet> {
    let end = |s: &SeqOrUid| match s {
        SeqOrUid::Value(n) => SeqNumber::Value(n.get()),
        SeqOrUid::Asterisk => SeqNumber::Star,
    };
    let ranges = set
        .0
        .as_ref()
        .iter()
        .map(|s| match s {
            Sequence::Single(a) => (end(a), end(a)),
            Sequence::Range(a, b) => (end(a), end(b)),
        })
        .collect();
    SequenceSet::from_ranges(ranges)
}

/// A set key; an impossible empty set matches nothing.
fn set_key(set: &WireSet, key: fn(SequenceSet) -> SearchKey) -> SearchKey {
    match seq_set(set) {
        Some(s) => key(s),
        None => SearchKey::Not(Box::new(SearchKey::All)),
    }
}

/// Converts a parsed key; strings are decoded from `charset` (RFC 3501 §6.4.4).
///
/// # Errors
/// [`SearchError::BadCharset`] for a charset we cannot decode.
pub(super) fn convert(key: &Key<'_>, charset: Option<&str>) -> Result<SearchKey, SearchError> {
    let s = |a: &dyn AsRef<[u8]>| search_string(a.as_ref(), charset);
    let date = |d: &imap_types::datetime::NaiveDate| *d.as_ref();
    Ok(match key {
        Key::And(keys) => SearchKey::And(
            keys.as_ref()
                .iter()
                .map(|k| convert(k, charset))
                .collect::<Result<_, _>>()?,
        ),
        Key::SequenceSet(set) => set_key(set, SearchKey::SequenceSet),
        Key::All => SearchKey::All,
        Key::Answered => SearchKey::Answered,
        Key::Bcc(v) => SearchKey::Bcc(s(v)?),
        Key::Before(d) => SearchKey::Before(date(d)),
        Key::Body(v) => SearchKey::Body(s(v)?),
        Key::Cc(v) => SearchKey::Cc(s(v)?),
        Key::Deleted => SearchKey::Deleted,
        Key::Draft => SearchKey::Draft,
        Key::Flagged => SearchKey::Flagged,
        Key::From(v) => SearchKey::From(s(v)?),
        Key::Header(name, v) => {
            SearchKey::Header(String::from_utf8_lossy(name.as_ref()).into_owned(), s(v)?)
        }
        Key::Keyword(k) => SearchKey::Keyword(k.inner().to_string()),
        Key::Larger(n) => SearchKey::Larger(u64::from(*n)),
        Key::New => SearchKey::New,
        Key::Not(k) => SearchKey::Not(Box::new(convert(k, charset)?)),
        Key::Old => SearchKey::Old,
        Key::On(d) => SearchKey::On(date(d)),
        Key::Or(a, b) => SearchKey::Or(
            Box::new(convert(a, charset)?),
            Box::new(convert(b, charset)?),
        ),
        Key::Recent => SearchKey::Recent,
        Key::Seen => SearchKey::Seen,
        Key::SentBefore(d) => SearchKey::SentBefore(date(d)),
        Key::SentOn(d) => SearchKey::SentOn(date(d)),
        Key::SentSince(d) => SearchKey::SentSince(date(d)),
        Key::Since(d) => SearchKey::Since(date(d)),
        Key::Smaller(n) => SearchKey::Smaller(u64::from(*n)),
        Key::Subject(v) => SearchKey::Subject(s(v)?),
        Key::Text(v) => SearchKey::Text(s(v)?),
        Key::To(v) => SearchKey::To(s(v)?),
        Key::Uid(set) => set_key(set, SearchKey::Uid),
        Key::Unanswered => SearchKey::Unanswered,
        Key::Undeleted => SearchKey::Undeleted,
        Key::Undraft => SearchKey::Undraft,
        Key::Unflagged => SearchKey::Unflagged,
        Key::Unkeyword(k) => SearchKey::Unkeyword(k.inner().to_string()),
        Key::Unseen => SearchKey::Unseen,
    })
}

/// One message of a folder as SEARCH sees it; its bytes are read on first need.
pub(super) struct Probe<'f> {
    pub folder: &'f dyn Folder,
    pub index: usize,
    pub info: MessageInfo,
    pub max_uid: u32,
    bytes: Option<Option<Vec<u8>>>,
}

impl<'f> Probe<'f> {
    pub fn new(folder: &'f dyn Folder, index: usize, max_uid: u32) -> Probe<'f> {
        Probe {
            folder,
            index,
            info: folder.info(index),
            max_uid,
            bytes: None,
        }
    }

    fn bytes(&mut self) -> Option<&[u8]> {
        if self.bytes.is_none() {
            self.bytes = Some(self.folder.message(self.index).ok());
        }
        self.bytes.as_ref().and_then(|b| b.as_deref())
    }
}

impl SearchMessage for Probe<'_> {
    fn seq(&self) -> u32 {
        u32::try_from(self.index + 1).unwrap_or(u32::MAX)
    }
    fn uid(&self) -> u32 {
        self.info.uid
    }
    fn max_seq(&self) -> u32 {
        u32::try_from(self.folder.len()).unwrap_or(u32::MAX)
    }
    fn max_uid(&self) -> u32 {
        self.max_uid
    }
    fn flags(&self) -> Flags {
        self.info.flags
    }
    fn has_keyword(&self, keyword: &str) -> bool {
        self.info
            .keywords
            .iter()
            .any(|k| k.eq_ignore_ascii_case(keyword))
    }
    fn internal_date(&self) -> DateTime<FixedOffset> {
        self.info.internal_date
    }
    fn size(&self) -> u64 {
        self.info.size
    }
    fn header(&mut self) -> Option<&[u8]> {
        self.bytes()
    }
    fn message(&mut self) -> Option<&[u8]> {
        self.bytes()
    }
}
