//! IMAP SEARCH evaluation (RFC 3501 §6.4.4) for one message: a [`SearchKey`] tree matched
//! against a [`SearchMessage`], which hands out the message's metadata and, only when a key
//! needs them, its header and its bytes.
//!
//! String keys match as case-insensitive substrings (Unicode lower case) of *decoded* text,
//! as Dovecot does:
//! - header keys (FROM, TO, CC, BCC, SUBJECT, HEADER) look at every field of that name in the
//!   message header, RFC 2047-decoded (GBK/GB2312/GB18030 and the other charsets of
//!   [`crate::message::charset`]); raw 8-bit text is guessed;
//! - BODY looks at the body of every leaf part, transfer-decoded (base64, quoted-printable)
//!   and, for text parts, charset-decoded; other parts are searched as UTF-8 (lossy); the
//!   body of a multipart whose boundary never occurs is searched as text; headers of
//!   encapsulated messages are not part of BODY (Dovecot);
//! - TEXT looks at BODY's text plus every header of the message and of its parts, decoded.
//!
//! Other choices where RFC 3501 is silent: BEFORE/ON/SINCE use the calendar date of the
//! internal date in its own offset; SENTBEFORE/SENTON/SENTSINCE the date of the `Date:` field
//! in its own offset, falling back to the internal date when the field is missing or invalid;
//! keywords compare ignoring ASCII case; `*` in sequence and UID sets is the mailbox's largest
//! number. When the message bytes cannot be had, keys needing them do not match.

use chrono::{DateTime, FixedOffset, NaiveDate};

use super::seqset::SequenceSet;
use super::tree::{self, Kind, Part};
use crate::message::header::{self, Field};
use crate::message::{charset, date, mime};

/// A search criterion (RFC 3501 §6.4.4 `search-key`). Strings are UTF-8 (see
/// [`search_string`] for the CHARSET conversion); dates are calendar dates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    All,
    Answered,
    Bcc(String),
    /// Internal date earlier than this day.
    Before(NaiveDate),
    Body(String),
    Cc(String),
    Deleted,
    Draft,
    Flagged,
    From(String),
    /// `HEADER field-name string`; an empty string matches any message having the field.
    Header(String, String),
    Keyword(String),
    /// RFC822.SIZE larger than this many octets.
    Larger(u64),
    /// RECENT and not SEEN.
    New,
    Not(Box<SearchKey>),
    /// Not RECENT.
    Old,
    On(NaiveDate),
    Or(Box<SearchKey>, Box<SearchKey>),
    Recent,
    Seen,
    SentBefore(NaiveDate),
    SentOn(NaiveDate),
    SentSince(NaiveDate),
    /// Internal date on or after this day.
    Since(NaiveDate),
    Smaller(u64),
    Subject(String),
    Text(String),
    To(String),
    Uid(SequenceSet),
    Unanswered,
    Undeleted,
    Undraft,
    Unflagged,
    Unkeyword(String),
    Unseen,
    /// A message sequence number set.
    SequenceSet(SequenceSet),
    /// All of these (a parenthesised list, or the top-level list); empty matches all.
    And(Vec<SearchKey>),
}

/// The system flags of a message (RFC 3501 §2.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags {
    pub seen: bool,
    pub answered: bool,
    pub flagged: bool,
    pub deleted: bool,
    pub draft: bool,
    pub recent: bool,
}

/// What SEARCH may ask about one message. The byte accessors take `&mut self` so an
/// implementation can load lazily and cache; they are called only for keys that need them.
pub trait SearchMessage {
    /// Message sequence number (≥ 1).
    fn seq(&self) -> u32;
    /// UID.
    fn uid(&self) -> u32;
    /// Number of messages in the mailbox (what `*` means in a sequence set).
    fn max_seq(&self) -> u32;
    /// Largest UID in the mailbox (what `*` means in a UID set).
    fn max_uid(&self) -> u32;
    fn flags(&self) -> Flags;
    /// Whether the message has this keyword (compare ignoring ASCII case).
    fn has_keyword(&self, keyword: &str) -> bool;
    /// The internal date (RFC 3501 §2.3.3).
    fn internal_date(&self) -> DateTime<FixedOffset>;
    /// RFC822.SIZE: the size in CRLF form.
    fn size(&self) -> u64;
    /// The header block (the whole message is fine too); `None` when it cannot be read.
    fn header(&mut self) -> Option<&[u8]>;
    /// The whole message; `None` when it cannot be read.
    fn message(&mut self) -> Option<&[u8]>;
}

/// A message held in memory, for callers that have everything at hand (and for tests).
#[derive(Debug, Clone)]
pub struct OwnedMessage {
    pub seq: u32,
    pub uid: u32,
    pub max_seq: u32,
    pub max_uid: u32,
    pub flags: Flags,
    pub keywords: Vec<String>,
    pub internal_date: DateTime<FixedOffset>,
    /// The message bytes (LF or CRLF).
    pub bytes: Vec<u8>,
}

impl SearchMessage for OwnedMessage {
    fn seq(&self) -> u32 {
        self.seq
    }
    fn uid(&self) -> u32 {
        self.uid
    }
    fn max_seq(&self) -> u32 {
        self.max_seq
    }
    fn max_uid(&self) -> u32 {
        self.max_uid
    }
    fn flags(&self) -> Flags {
        self.flags
    }
    fn has_keyword(&self, keyword: &str) -> bool {
        self.keywords
            .iter()
            .any(|k| k.eq_ignore_ascii_case(keyword))
    }
    fn internal_date(&self) -> DateTime<FixedOffset> {
        self.internal_date
    }
    fn size(&self) -> u64 {
        tree::crlf_len(&self.bytes)
    }
    fn header(&mut self) -> Option<&[u8]> {
        Some(&self.bytes)
    }
    fn message(&mut self) -> Option<&[u8]> {
        Some(&self.bytes)
    }
}

/// A search string in an unsupported charset (answer `NO [BADCHARSET]`, RFC 3501 §6.4.4).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    #[error("cannot search in charset {0:?}")]
    BadCharset(String),
}

/// Converts a search string sent with `CHARSET label` (or none: US-ASCII) to UTF-8 for
/// [`SearchKey`]. US-ASCII and UTF-8 (RFC 3501 §6.4.4 requires both) are taken as UTF-8
/// (invalid bytes become U+FFFD); any other charset [`charset::lookup`] knows is converted.
///
/// # Errors
/// [`SearchError::BadCharset`] for an unknown label.
pub fn search_string(bytes: &[u8], label: Option<&str>) -> Result<String, SearchError> {
    let label = label.map(str::trim).unwrap_or("us-ascii");
    let l = label.to_ascii_lowercase();
    if matches!(l.as_str(), "us-ascii" | "ascii" | "utf-8" | "utf8") {
        return Ok(String::from_utf8_lossy(bytes).into_owned());
    }
    charset::decode(bytes, label).ok_or_else(|| SearchError::BadCharset(label.to_owned()))
}

/// Whether the message matches `key` (RFC 3501 §6.4.4).
pub fn matches<M: SearchMessage + ?Sized>(key: &SearchKey, msg: &mut M) -> bool {
    let mut ev = Eval {
        msg,
        fields: None,
        texts: None,
    };
    ev.eval(key)
}

/// Lower-cased decoded texts of a message, built once per message.
struct Texts {
    /// Leaf bodies (BODY).
    bodies: Vec<String>,
    /// Headers of the message and all its parts (with `bodies`: TEXT).
    headers: Vec<String>,
}

struct Eval<'m, M: ?Sized> {
    msg: &'m mut M,
    /// The message header's fields, once read (`Some(None)`: unreadable).
    fields: Option<Option<Vec<Field>>>,
    texts: Option<Option<Texts>>,
}

fn fold(s: &str) -> String {
    s.to_lowercase()
}

impl<M: SearchMessage + ?Sized> Eval<'_, M> {
    fn fields(&mut self) -> Option<&[Field]> {
        if self.fields.is_none() {
            let f = self.msg.header().map(|h| {
                let (hlen, _) = header::header_end(h);
                header::split_fields(&h[..hlen])
            });
            self.fields = Some(f);
        }
        self.fields.as_ref().and_then(|f| f.as_deref())
    }

    fn texts(&mut self) -> Option<&Texts> {
        if self.texts.is_none() {
            let t = self.msg.message().map(|m| {
                let root = tree::parse(m);
                let mut t = Texts {
                    bodies: Vec::new(),
                    headers: Vec::new(),
                };
                collect(m, &root, &mut t);
                t
            });
            self.texts = Some(t);
        }
        self.texts.as_ref().and_then(|t| t.as_ref())
    }

    /// Whether some field `name` of the header contains `needle` (decoded, case-folded).
    fn header_has(&mut self, name: &str, needle: &str) -> bool {
        let needle = fold(needle);
        let Some(fields) = self.fields() else {
            return false;
        };
        fields
            .iter()
            .filter(|f| f.name.eq_ignore_ascii_case(name))
            .any(|f| needle.is_empty() || fold(&header::decode_words(&f.value)).contains(&needle))
    }

    fn sent_date(&mut self) -> NaiveDate {
        let parsed = self
            .fields()
            .and_then(|f| header::find(f, "date"))
            .map(|v| String::from_utf8_lossy(&header::unfold(v)).into_owned())
            .and_then(|v| date::parse_date_header(&v));
        match parsed {
            Some(d) => d.date_naive(),
            None => self.msg.internal_date().date_naive(),
        }
    }

    fn eval(&mut self, key: &SearchKey) -> bool {
        use SearchKey as K;
        let flags = self.msg.flags();
        match key {
            K::All => true,
            K::Answered => flags.answered,
            K::Deleted => flags.deleted,
            K::Draft => flags.draft,
            K::Flagged => flags.flagged,
            K::Recent => flags.recent,
            K::Seen => flags.seen,
            K::New => flags.recent && !flags.seen,
            K::Old => !flags.recent,
            K::Unanswered => !flags.answered,
            K::Undeleted => !flags.deleted,
            K::Undraft => !flags.draft,
            K::Unflagged => !flags.flagged,
            K::Unseen => !flags.seen,
            K::Keyword(k) => self.msg.has_keyword(k),
            K::Unkeyword(k) => !self.msg.has_keyword(k),
            K::Larger(n) => self.msg.size() > *n,
            K::Smaller(n) => self.msg.size() < *n,
            K::Before(d) => self.msg.internal_date().date_naive() < *d,
            K::On(d) => self.msg.internal_date().date_naive() == *d,
            K::Since(d) => self.msg.internal_date().date_naive() >= *d,
            K::SentBefore(d) => self.sent_date() < *d,
            K::SentOn(d) => self.sent_date() == *d,
            K::SentSince(d) => self.sent_date() >= *d,
            K::Uid(set) => set.contains(self.msg.uid(), self.msg.max_uid()),
            K::SequenceSet(set) => set.contains(self.msg.seq(), self.msg.max_seq()),
            K::Bcc(s) => self.header_has("bcc", s),
            K::Cc(s) => self.header_has("cc", s),
            K::From(s) => self.header_has("from", s),
            K::To(s) => self.header_has("to", s),
            K::Subject(s) => self.header_has("subject", s),
            K::Header(name, s) => self.header_has(name, s),
            K::Body(s) => {
                let needle = fold(s);
                self.texts()
                    .is_some_and(|t| t.bodies.iter().any(|b| b.contains(&needle)))
            }
            K::Text(s) => {
                let needle = fold(s);
                self.texts().is_some_and(|t| {
                    t.headers
                        .iter()
                        .chain(t.bodies.iter())
                        .any(|b| b.contains(&needle))
                })
            }
            K::Not(k) => !self.eval(k),
            K::Or(a, b) => self.eval(a) || self.eval(b),
            K::And(keys) => keys.iter().all(|k| self.eval(k)),
        }
    }
}

/// Decoded, case-folded header text of an entity: `name: value` lines.
fn header_text(part: &Part) -> String {
    let mut s = String::new();
    for f in &part.fields {
        s.push_str(&f.name);
        s.push_str(": ");
        s.push_str(&header::decode_words(&f.value));
        s.push('\n');
    }
    fold(&s)
}

/// Collects the decoded texts of `part` and everything inside it.
fn collect(msg: &[u8], part: &Part, out: &mut Texts) {
    out.headers.push(header_text(part));
    match &part.kind {
        // A multipart whose boundary never occurs: its text is all there is.
        Kind::Multipart(children) if children.is_empty() => {
            out.bodies
                .push(fold(&charset::decode_guess(part.body(msg))));
        }
        Kind::Multipart(children) => children.iter().for_each(|c| collect(msg, c, out)),
        Kind::Message(inner) => collect(msg, inner, out),
        Kind::Leaf => out.bodies.push(fold(&leaf_text(msg, part))),
    }
}

/// A leaf's body, transfer-decoded and, for text, charset-decoded.
fn leaf_text(msg: &[u8], part: &Part) -> String {
    let cte = part
        .mime_field("content-transfer-encoding")
        .map(|v| String::from_utf8_lossy(&header::unfold(v)).into_owned())
        .unwrap_or_default();
    let bytes = mime::decode_transfer(part.body(msg), &header::main_value(&cte));
    let (t, _) = part.media_type_lower();
    if t != "text" {
        return String::from_utf8_lossy(&bytes).into_owned();
    }
    let cs = part
        .mime_field("content-type")
        .map(|v| String::from_utf8_lossy(&header::unfold(v)).into_owned())
        .and_then(|v| header::param(&v, "charset"));
    match cs.as_deref().map(str::trim) {
        Some(c) if !c.is_empty() && !c.eq_ignore_ascii_case("us-ascii") => {
            charset::decode(&bytes, c).unwrap_or_else(|| charset::decode_guess(&bytes))
        }
        _ => charset::decode_guess(&bytes),
    }
}

#[cfg(test)]
mod tests;
