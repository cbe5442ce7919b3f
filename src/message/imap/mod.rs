//! The I/O-free parts of an IMAP4rev1 server that are computed from a message's bytes
//! (RFC 3501): FETCH ENVELOPE, BODY, BODYSTRUCTURE, `BODY[section]<partial>`, RFC822.SIZE,
//! RFC822.HEADER/TEXT, and SEARCH evaluation with sequence sets.
//!
//! - [`tree`]: the MIME part tree with byte offsets (Dovecot's boundary rules), CRLF helpers.
//! - [`envelope`](mod@envelope): ENVELOPE and its raw-bytes address parser (groups as markers).
//! - [`bodystructure`]: BODY / BODYSTRUCTURE, shaped like imap-types' types.
//! - [`section`](mod@section): section specifiers, section extraction in CRLF form, partials, sizes.
//! - [`search`]: SEARCH keys and their evaluation on decoded text.
//! - [`seqset`]: sequence sets (`1:*`, `2,4:7,9`).
//! - [`wire`]: a small writer for ENVELOPE and BODYSTRUCTURE in IMAP syntax.
//!
//! Input messages are RFC 5322 messages with LF or CRLF line ends and no mbox `From_` line;
//! output is plain Rust data with raw bytes for header text (headers may be 8-bit) and CRLF
//! for message data, as IMAP sends it. Where RFC 3501 is silent the choices follow Dovecot
//! and are listed in each module. Nothing here does I/O or fails on any input.
//!
//! [`ParsedMessage`] parses a message once for several FETCH items; the free functions
//! ([`envelope()`], [`body_structure()`], [`section()`]) parse on each call.

pub mod bodystructure;
pub mod envelope;
pub mod search;
pub mod section;
pub mod seqset;
pub mod tree;
pub mod wire;

pub use bodystructure::{
    body_structure, Body, BodyStructure, Disposition, MultipartExtension, Params,
    SinglePartExtension, Specific,
};
pub use envelope::{envelope, parse_addresses, Address, Envelope};
pub use search::{
    matches, search_string, Flags, OwnedMessage, SearchError, SearchKey, SearchMessage,
};
pub use section::{
    header_bytes, partial, rfc822_size, section, text_bytes, Section, SectionError, SectionText,
};
pub use seqset::{SeqNumber, SeqSetError, SequenceSet};
pub use tree::{crlf_len, to_crlf};

/// A message parsed once, for answering several FETCH items about it.
pub struct ParsedMessage<'a> {
    msg: &'a [u8],
    root: tree::Part,
}

impl<'a> ParsedMessage<'a> {
    /// Parses `msg` (RFC 5322, LF or CRLF, no `From_` line). Never fails.
    pub fn new(msg: &'a [u8]) -> ParsedMessage<'a> {
        ParsedMessage {
            msg,
            root: tree::parse(msg),
        }
    }

    /// ENVELOPE (RFC 3501 §7.4.2); same as [`envelope()`].
    pub fn envelope(&self) -> Envelope {
        envelope::from_fields(&self.root.fields)
    }

    /// BODY (`extensible == false`) or BODYSTRUCTURE; same as [`body_structure()`].
    pub fn body_structure(&self, extensible: bool) -> BodyStructure {
        bodystructure::of_part(self.msg, &self.root, extensible)
    }

    /// `BODY[section]` in CRLF form, `None` when there is no such part; same as [`section()`].
    pub fn section(&self, spec: &Section) -> Option<Vec<u8>> {
        section::raw_section(self.msg, &self.root, spec).map(|b| to_crlf(&b))
    }

    /// RFC822.SIZE: the size in CRLF form.
    pub fn rfc822_size(&self) -> u64 {
        crlf_len(self.msg)
    }
}

#[cfg(test)]
mod tests;
