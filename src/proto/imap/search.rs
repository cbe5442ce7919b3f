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

/// The RETURN options of an extended SEARCH (RFC 4731 §3.1, RFC 9051 §6.4.4): which
/// ESEARCH data to send. `RETURN ()` means ALL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct ReturnOpts {
    pub min: bool,
    pub max: bool,
    pub all: bool,
    pub count: bool,
}

impl ReturnOpts {
    /// ALL only: a rev2 SEARCH without RETURN, or `RETURN ()`.
    pub fn all() -> ReturnOpts {
        ReturnOpts {
            all: true,
            ..ReturnOpts::default()
        }
    }
}

/// Takes `SP "RETURN" SP "(" [opt *(SP opt)] ")"` off a `tag [UID] SEARCH RETURN (…) …`
/// command (imap-codec 2.0.0-alpha.10 does not parse it): `None` when the command is not
/// one, `Some(Err)` for unknown or malformed options (SAVE of RFC 5182 included: not
/// offered), else the command without the RETURN clause and the options.
pub(super) fn strip_return(cmd: &[u8]) -> Option<Result<(Vec<u8>, ReturnOpts), ()>> {
    let sp = cmd.iter().position(|&b| b == b' ')?;
    if !super::framer::valid_tag(&cmd[..sp]) {
        return None;
    }
    let mut at = sp + 1;
    let word = |at: usize, w: &[u8]| {
        cmd.len() > at + w.len()
            && cmd[at..at + w.len()].eq_ignore_ascii_case(w)
            && cmd[at + w.len()] == b' '
    };
    if word(at, b"UID") {
        at += 4;
    }
    if !word(at, b"SEARCH") {
        return None;
    }
    at += 7;
    if !word(at, b"RETURN") {
        return None;
    }
    let keep = at; // the command up to and including `SEARCH `
    at += 7;
    if cmd.get(at) != Some(&b'(') {
        return Some(Err(()));
    }
    let Some(close) = cmd[at..].iter().position(|&b| b == b')') else {
        return Some(Err(()));
    };
    let inner = &cmd[at + 1..at + close];
    let mut opts = ReturnOpts::default();
    if inner.is_empty() {
        opts = ReturnOpts::all();
    } else {
        for w in inner.split(|&b| b == b' ') {
            let o = w.to_ascii_uppercase();
            match &o[..] {
                b"MIN" => opts.min = true,
                b"MAX" => opts.max = true,
                b"ALL" => opts.all = true,
                b"COUNT" => opts.count = true,
                _ => return Some(Err(())),
            }
        }
    }
    let rest = &cmd[at + close + 1..];
    // The search program must follow after one space.
    let Some(rest) = rest.strip_prefix(b" ") else {
        return Some(Err(()));
    };
    let mut out = cmd[..keep].to_vec();
    out.extend_from_slice(rest);
    Some(Ok((out, opts)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_options() {
        let (c, o) = strip_return(b"a1 UID SEARCH RETURN (MIN count) ALL\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(c, b"a1 UID SEARCH ALL\r\n");
        assert!(o.min && o.count && !o.max && !o.all);
        let (c, o) = strip_return(b"a SEARCH RETURN () CHARSET UTF-8 ALL")
            .unwrap()
            .unwrap();
        assert_eq!(c, b"a SEARCH CHARSET UTF-8 ALL");
        assert_eq!(o, ReturnOpts::all());
        assert_eq!(strip_return(b"a SEARCH ALL"), None);
        assert_eq!(strip_return(b"a FETCH RETURN (MIN) x"), None);
        assert_eq!(strip_return(b"a SEARCH RETURN"), None);
        // Hostile or malformed input.
        for bad in [
            &b"a SEARCH RETURN (SAVE) ALL"[..],
            b"a SEARCH RETURN (MIN",
            b"a SEARCH RETURN (MIN)",
            b"a SEARCH RETURN (MIN)ALL",
            b"a SEARCH RETURN MIN ALL",
            b"a SEARCH RETURN (MIN  MAX) ALL",
            b"a SEARCH RETURN (\xff) ALL",
            b"a SEARCH RETURN ((MIN)) ALL",
        ] {
            assert_eq!(strip_return(bad), Some(Err(())), "{bad:?}");
        }
        assert_eq!(strip_return(b"+ SEARCH RETURN (MIN) ALL"), None);
        assert_eq!(strip_return(b""), None);
        assert_eq!(strip_return(b" "), None);
        assert_eq!(strip_return(b"a UID"), None);
    }
}
