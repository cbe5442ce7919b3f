//! Composing: a [`Draft`] (what the user wrote) → RFC 5322 bytes and the SMTP envelope.
//!
//! Implements RFC 5322 (header fields, folding at 78 octets, §2.1.1 and §2.2.3), MIME
//! (RFC 2045 §6 transfer encodings, RFC 2046 §5.1 `multipart/mixed`), RFC 2047 encoded-words
//! for the Subject, other unstructured fields and display names, RFC 2231 file names, and
//! RFC 2183 `Content-Disposition`. Where the RFCs leave room it follows s-nail/Heirloom mailx.
//!
//! Invariants:
//! - no I/O: the caller passes the date, the Message-ID and the attachment bytes, so the output
//!   is a pure function of the [`Draft`] (tests compare exact bytes);
//! - no header can be injected: CR, LF and NUL in any header input are refused with
//!   [`ComposeError::HeaderInjection`] before anything is written, and `Bcc` never appears in
//!   the bytes (its addresses are only in [`Composed::recipients`]);
//! - lines end in LF (transports convert to CRLF); dot-stuffing is the SMTP transport's job,
//!   so a body of `.` lines is written as is;
//! - attachment bytes decode back byte-identical (base64, or 7bit/8bit for text that fits);
//! - every encoded-word is at most 75 octets and never splits a character; header lines are
//!   folded at 78 octets where a fold point exists (a single word longer than that is left
//!   whole: it cannot be folded).
//!
//! Choices made where the specification leaves room:
//! - headers are RFC 2047-encoded in UTF-8 (every current reader decodes it); only the body
//!   uses `sendcharsets`;
//! - the body's CRLF line ends become LF (our local convention); a bare CR left over makes the
//!   body quoted-printable, which keeps it;
//! - a body that is not valid UTF-8 is sent as its raw bytes, labelled `charset=unknown-8bit`
//!   (RFC 1428) in base64: we cannot know its charset, and base64 carries it unchanged;
//! - 8-bit text with short lines goes out as `8bit` (RFC 6152 8BITMIME; downgrading for old
//!   servers is the SMTP transport's job), long lines or NUL/CR as quoted-printable, where
//!   lines starting with `From ` are written `=46rom ` so no mbox on the way quotes them.

use crate::message::charset;

/// RFC 5322 §2.1.1: lines SHOULD be no more than 78 characters.
const LINE_WIDTH: usize = 78;
/// RFC 5322 §2.1.1: lines MUST be no more than 998 characters.
const MAX_LINE: usize = 998;
/// RFC 2047 §2: an encoded-word is at most 75 characters.
const MAX_WORD: usize = 75;
/// `=?UTF-8?B?` + `?=`.
const WORD_OVERHEAD: usize = 12;

/// One attachment: file name as the user gave it (its base name is used), its bytes, and an
/// optional explicit content type (else guessed with `mime_guess` from the name, falling back
/// to `text/plain` when the bytes are valid UTF-8 without NULs, else
/// `application/octet-stream`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub filename: String,
    pub data: Vec<u8>,
    pub content_type: Option<String>,
}

/// What the user wrote, before encoding.
#[derive(Debug, Clone)]
pub struct Draft {
    /// `addr` or `Name <addr>`.
    pub from: String,
    /// Each entry `addr`, `Name <addr>`, `"Quoted, Name" <addr>`, `addr (Name)` or a bare local
    /// name `lisi`; an entry may also be a comma-separated list of these.
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub bcc: Vec<String>,
    /// `None` or empty: no Subject header.
    pub subject: Option<String>,
    /// As typed; UTF-8, or raw 8-bit in another charset (then sent as `unknown-8bit`).
    pub body: Vec<u8>,
    pub attachments: Vec<Attachment>,
    /// E.g. In-Reply-To, References, Reply-To; written after Message-ID in this order. Names
    /// of fields this module writes itself (Date, From, To, Cc, Bcc, Subject, Message-ID,
    /// MIME-Version, Content-*, User-Agent) are refused; empty values are skipped.
    pub extra_headers: Vec<(String, String)>,
    /// s-nail's `sendcharsets`: tried in order for non-ASCII body text (labels as
    /// [`charset::lookup`] knows them), UTF-8 last; empty means UTF-8.
    pub sendcharsets: Vec<String>,
    pub date: chrono::DateTime<chrono::FixedOffset>,
    /// Without angle brackets (they are tolerated), e.g. `20240322131055.12345@host`; empty
    /// means no Message-ID header.
    pub message_id: String,
    /// E.g. `rmail 0.1.0`; empty means no User-Agent header.
    pub user_agent: String,
}

/// The message to send: RFC 5322 bytes with LF line ends (the transports convert to CRLF for
/// SMTP), and the SMTP envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composed {
    pub bytes: Vec<u8>,
    /// The bare address of `From` (no display name, no angle brackets).
    pub envelope_from: String,
    /// Bare addresses of To, Cc and Bcc, in that order, de-duplicated case-insensitively
    /// (first spelling kept). Bare local names stay as they are: the transport decides.
    pub recipients: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("cannot use {field}: it contains a line break (header injection)")]
    HeaderInjection { field: String },
    #[error("cannot use address \"{0}\"")]
    BadAddress(String),
    #[error("no recipients")]
    NoRecipients,
    /// An extra header name that is empty or holds white space, a colon or non-ASCII
    /// (RFC 5322 §3.6.8 field names are printable ASCII without colon).
    #[error("cannot use header name \"{0}\"")]
    BadHeaderName(String),
    /// An extra header this module writes itself; allowing it would mean two Subjects or a
    /// Bcc leaking into the bytes.
    #[error("cannot set header {0}: rmail writes it itself")]
    ReservedHeader(String),
    /// A Message-ID with white space or angle brackets inside.
    #[error("cannot use Message-ID \"{0}\"")]
    BadMessageId(String),
    /// An attachment content type that is not `type/subtype[; params]`.
    #[error("cannot use content type \"{0}\"")]
    BadContentType(String),
}

/// True when `s` contains CR or LF (or NUL): such input is refused before it can become a
/// header.
pub fn has_line_break(s: &str) -> bool {
    s.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0))
}

fn check(field: &str, value: &str) -> Result<(), ComposeError> {
    if has_line_break(value) {
        return Err(ComposeError::HeaderInjection {
            field: field.to_owned(),
        });
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Folding and encoded-words

/// Builds one folded header value (RFC 5322 §2.2.3): tokens are placed after their white
/// space, and a line break is inserted before that white space when the token would pass the
/// width. Unfolding (removing the line breaks) gives back exactly the tokens and white space.
struct Folder {
    out: String,
    /// Octets on the current line, counting the `Name: ` the caller writes before the value.
    col: usize,
    /// No fold before the first token: it would leave `Name:` alone on its line.
    started: bool,
    width: usize,
}

impl Folder {
    fn new(col: usize, width: usize) -> Folder {
        Folder {
            out: String::new(),
            col,
            started: false,
            width,
        }
    }

    fn fold_if(&mut self, ws: &str, fits: bool) {
        if self.started && !ws.is_empty() && !fits {
            self.out.push('\n');
            self.col = 0;
        }
    }

    fn push(&mut self, ws: &str, text: &str) {
        self.out.push_str(ws);
        self.out.push_str(text);
        self.col += ws.len() + text.len();
        self.started = true;
    }

    /// A token that is written as is (an atom, a quoted string, `<addr>`).
    fn plain(&mut self, ws: &str, text: &str) {
        let fits = self.col + ws.len() + text.len() <= self.width;
        self.fold_if(ws, fits);
        self.push(ws, text);
    }

    /// Text written as RFC 2047 encoded-words in UTF-8: B or Q, whichever is shorter for the
    /// whole run (so B for CJK), split into words of at most 75 octets at character
    /// boundaries; the first word is sized to what is left of the current line. The words are
    /// separated by one space, which decoders drop (RFC 2047 §6.2), so white space inside
    /// `text` must be part of it.
    fn encoded(&mut self, ws: &str, text: &str) {
        let q_total = q_len(text);
        let b = q_total > b_len(text.len());
        let mut rest = text;
        // Encoded length of `rest` in Q, kept up to date so the whole run is linear.
        let mut q_rest = q_total;
        let mut sep = ws;
        while !rest.is_empty() {
            let whole = WORD_OVERHEAD + if b { b_len(rest.len()) } else { q_rest };
            let width = self.width;
            let room = |col: usize| width.saturating_sub(col + sep.len()).min(MAX_WORD);
            // Fold rather than start a word with room for less than a few characters.
            let cramped = room(self.col) < whole && room(self.col) < WORD_OVERHEAD + 16;
            self.fold_if(sep, !cramped);
            let budget = room(self.col).saturating_sub(WORD_OVERHEAD);
            let (mut n, mut q) = (0, 0);
            for c in rest.chars() {
                let cq = q_len(c.encode_utf8(&mut [0u8; 4]));
                let next = if b { b_len(n + c.len_utf8()) } else { q + cq };
                if next > budget && n > 0 {
                    break; // a word holds at least one character, whatever the room
                }
                n += c.len_utf8();
                q += cq;
            }
            let (chunk, tail) = rest.split_at(n);
            let word = encoded_word(chunk, b);
            self.push(sep, &word);
            rest = tail;
            q_rest -= q;
            sep = " ";
        }
    }
}

fn b_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

/// RFC 2047 §5 (3): the characters that may stand for themselves in a Q-encoded word, also
/// inside a phrase; space is written `_`.
fn q_safe(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'!' | b'*' | b'+' | b'-' | b'/')
}

fn q_len(s: &str) -> usize {
    s.bytes()
        .map(|b| if q_safe(b) || b == b' ' { 1 } else { 3 })
        .sum()
}

fn enc_len(s: &str, b: bool) -> usize {
    if b {
        b_len(s.len())
    } else {
        q_len(s)
    }
}

fn encoded_word(s: &str, b: bool) -> String {
    let mut w = String::with_capacity(WORD_OVERHEAD + enc_len(s, b));
    if b {
        w.push_str("=?UTF-8?B?");
        w.push_str(&base64(s.as_bytes()));
    } else {
        w.push_str("=?UTF-8?Q?");
        for byte in s.bytes() {
            if q_safe(byte) {
                w.push(byte as char);
            } else if byte == b' ' {
                w.push('_');
            } else {
                push_hex(&mut w, '=', byte);
            }
        }
    }
    w.push_str("?=");
    w
}

fn push_hex(out: &mut String, prefix: char, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push(prefix);
    out.push(HEX[(b >> 4) as usize] as char);
    out.push(HEX[(b & 15) as usize] as char);
}

/// Splits a value into `(white space before, word)` pairs at runs of space and tab; the value's
/// own leading and trailing white space is dropped.
fn split_words(s: &str) -> Vec<(&str, &str)> {
    let is_ws = |c: char| c == ' ' || c == '\t';
    let s = s.trim_matches(is_ws);
    let mut out = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let ws_end = rest.find(|c| !is_ws(c)).unwrap_or(rest.len());
        let (ws, r) = rest.split_at(ws_end);
        let w_end = r.find(is_ws).unwrap_or(r.len());
        let (w, r) = r.split_at(w_end);
        out.push((ws, w));
        rest = r;
    }
    out
}

enum Seg<'a> {
    Plain(&'a str, &'a str),
    /// White space before, and the text to encode (neighbouring words with the white space
    /// between them, since white space between encoded-words is lost).
    Enc(&'a str, String),
}

fn segments<'a>(words: &[(&'a str, &'a str)], needs: impl Fn(&str) -> bool) -> Vec<Seg<'a>> {
    let mut out: Vec<Seg<'a>> = Vec::new();
    for &(ws, w) in words {
        if needs(w) {
            if let Some(Seg::Enc(_, text)) = out.last_mut() {
                text.push_str(ws);
                text.push_str(w);
                continue;
            }
            out.push(Seg::Enc(ws, w.to_owned()));
        } else {
            out.push(Seg::Plain(ws, w));
        }
    }
    out
}

fn write_segments(f: &mut Folder, first_ws: &str, segs: &[Seg<'_>]) {
    for (i, seg) in segs.iter().enumerate() {
        match seg {
            Seg::Plain(ws, w) => f.plain(if i == 0 { first_ws } else { ws }, w),
            Seg::Enc(ws, text) => f.encoded(if i == 0 { first_ws } else { ws }, text),
        }
    }
}

/// A word of an unstructured value that cannot be written as is: non-ASCII, control
/// characters, or something a decoder would take for an encoded-word (RFC 2047 §5 (1)).
fn unstructured_needs_encoding(w: &str) -> bool {
    !w.bytes().all(|b| (0x21..=0x7e).contains(&b)) || w.contains("=?")
}

/// RFC-2047-encodes an unstructured header value when it is not plain printable ASCII; the
/// result is folded for a field whose name is `name_len` bytes long (the line starts with
/// `Name: `, which the caller writes).
///
/// ASCII words are kept with the white space between them; runs of words that need encoding
/// (non-ASCII, control characters other than tab, `=?`) become UTF-8 encoded-words of at most
/// 75 octets, B or Q whichever is shorter. Leading and trailing white space is dropped. Lines
/// are at most 78 octets except where one ASCII word is longer. The caller must have refused
/// CR, LF and NUL ([`has_line_break`]); they would be encoded here, never written raw.
pub fn encode_unstructured(value: &str, name_len: usize) -> String {
    let mut f = Folder::new(name_len + 2, LINE_WIDTH);
    let words = split_words(value);
    write_segments(&mut f, "", &segments(&words, unstructured_needs_encoding));
    f.out
}

/// Structured values made of printable ASCII atoms (In-Reply-To, References): folded at white
/// space, never encoded (an encoded-word is not allowed in a msg-id, RFC 2047 §5).
fn fold_plain(value: &str, name_len: usize) -> String {
    let mut f = Folder::new(name_len + 2, LINE_WIDTH);
    for (i, (ws, w)) in split_words(value).into_iter().enumerate() {
        f.plain(if i == 0 { "" } else { ws }, w);
    }
    f.out
}

// ---------------------------------------------------------------------------------------------
// Addresses

/// RFC 5322 §3.2.3 atext.
fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
}

fn is_atom(w: &str) -> bool {
    !w.is_empty() && w.bytes().all(is_atext) && !w.contains("=?")
}

fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

/// Writes a display name (RFC 5322 §3.2.5 phrase): atoms as they are, printable ASCII with
/// specials as one quoted string, otherwise atoms plus RFC 2047 encoded-words for the rest
/// (encoded-words may not stand inside quotes, RFC 2047 §5 (3)).
fn write_phrase(f: &mut Folder, ws: &str, name: &str) {
    let words = split_words(name);
    if words.iter().all(|(_, w)| is_atom(w)) {
        for (i, (w_ws, w)) in words.iter().enumerate() {
            f.plain(if i == 0 { ws } else { w_ws }, w);
        }
    } else if name
        .bytes()
        .all(|b| (0x20..=0x7e).contains(&b) || b == b'\t')
    {
        f.plain(ws, &quote(name.trim_matches(|c| c == ' ' || c == '\t')));
    } else {
        write_segments(f, ws, &segments(&words, |w| !is_atom(w)));
    }
}

/// One parsed address: optional display name and the bare address.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Addr {
    name: Option<String>,
    addr: String,
}

/// Byte position of the last `<` (or `(` for `open == b'('`) outside a quoted string.
fn last_open(s: &str, open: u8) -> Option<usize> {
    let mut in_quote = false;
    let mut escaped = false;
    let mut found = None;
    for (i, b) in s.bytes().enumerate() {
        if escaped {
            escaped = false;
        } else if in_quote && b == b'\\' {
            escaped = true;
        } else if b == b'"' {
            in_quote = !in_quote;
        } else if !in_quote && b == open {
            found = Some(i);
        }
    }
    found
}

/// A display name as written: surrounding quotes removed and quoted-pairs undone.
fn unquote_name(s: &str) -> Option<String> {
    let s = s.trim_matches(|c| c == ' ' || c == '\t');
    let inner = match s.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
        Some(inner) if s.len() >= 2 => {
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    if let Some(n) = chars.next() {
                        out.push(n);
                    }
                } else {
                    out.push(c);
                }
            }
            out
        }
        _ => s.to_owned(),
    };
    let inner = inner.trim_matches(|c| c == ' ' || c == '\t').to_owned();
    (!inner.is_empty()).then_some(inner)
}

/// Whether `addr` may be written as an addr-spec: no white space, controls or structural
/// specials outside a quoted local part or a `[domain literal]`. Leading `-` and `|` are
/// just characters here: the transports pass addresses as data, never as options or
/// commands. Non-ASCII is allowed (RFC 6531/6532; the transport decides).
fn valid_addr(addr: &str) -> bool {
    if addr.is_empty() || addr.len() > MAX_LINE / 2 {
        return false;
    }
    let mut in_quote = false;
    let mut in_bracket = false;
    let mut escaped = false;
    for b in addr.bytes() {
        if b < 0x20 || b == 0x7f {
            return false;
        }
        if escaped {
            escaped = false;
            continue;
        }
        match b {
            b'\\' if in_quote => escaped = true,
            b'"' if !in_bracket => in_quote = !in_quote,
            _ if in_quote => {}
            b'[' if !in_bracket => in_bracket = true,
            b']' if in_bracket => in_bracket = false,
            b':' if in_bracket => {}
            b' ' | b'\t' | b'<' | b'>' | b'(' | b')' | b',' | b';' | b':' | b'\\' | b'[' | b']' => {
                return false
            }
            _ => {}
        }
    }
    !in_quote && !in_bracket
}

/// Parses one `addr`, `Name <addr>`, `"Name" <addr>` or `addr (Name)`.
fn parse_addr(s: &str) -> Result<Addr, ComposeError> {
    let bad = || ComposeError::BadAddress(s.to_owned());
    let t = s.trim_matches(|c| c == ' ' || c == '\t');
    let (name, addr) = if t.ends_with('>') {
        let lt = last_open(t, b'<').ok_or_else(bad)?;
        (unquote_name(&t[..lt]), t[lt + 1..t.len() - 1].trim())
    } else if t.ends_with(')') {
        let lp = last_open(t, b'(').ok_or_else(bad)?;
        (unquote_name(&t[lp + 1..t.len() - 1]), t[..lp].trim())
    } else {
        (None, t)
    };
    if !valid_addr(addr) {
        return Err(bad());
    }
    Ok(Addr {
        name,
        addr: addr.to_owned(),
    })
}

/// Splits an entry at commas outside quotes, angle brackets and comments (mailx accepts
/// `mail a@x,b@y`); empty pieces are dropped.
fn split_list(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut in_quote, mut escaped, mut angle, mut paren) = (false, false, false, 0usize);
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        if escaped {
            escaped = false;
            continue;
        }
        match b {
            b'\\' if in_quote => escaped = true,
            b'"' => in_quote = !in_quote,
            _ if in_quote => {}
            b'<' => angle = true,
            b'>' => angle = false,
            b'(' => paren += 1,
            b')' => paren = paren.saturating_sub(1),
            b',' if !angle && paren == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out.into_iter()
        .filter(|p| !p.trim_matches(|c| c == ' ' || c == '\t').is_empty())
        .collect()
}

fn parse_entries(field: &str, entries: &[String]) -> Result<Vec<Addr>, ComposeError> {
    let mut out = Vec::new();
    for e in entries {
        check(field, e)?;
        for piece in split_list(e) {
            out.push(parse_addr(piece)?);
        }
    }
    Ok(out)
}

fn write_addr(f: &mut Folder, ws: &str, a: &Addr, comma: bool) {
    let comma = if comma { "," } else { "" };
    match &a.name {
        Some(name) => {
            write_phrase(f, ws, name);
            f.plain(" ", &format!("<{}>{comma}", a.addr));
        }
        None => f.plain(ws, &format!("{}{comma}", a.addr)),
    }
}

/// An address list value (RFC 5322 §3.4), folded between addresses and inside display names.
fn address_list(name_len: usize, addrs: &[Addr]) -> String {
    let mut f = Folder::new(name_len + 2, LINE_WIDTH);
    for (i, a) in addrs.iter().enumerate() {
        write_addr(
            &mut f,
            if i == 0 { "" } else { " " },
            a,
            i + 1 < addrs.len(),
        );
    }
    f.out
}

/// Encodes one address for a header: `addr`, or `Name <addr>` with the display name written
/// as atoms, a quoted string, or RFC 2047 encoded-words (UTF-8, each ≤ 75 octets) as needed.
/// The result is one line; [`compose`] folds long address lists itself.
///
/// Errors: [`ComposeError::HeaderInjection`] for CR/LF/NUL, [`ComposeError::BadAddress`] when
/// it is not one address (empty, a list, white space or specials in the address).
pub fn encode_address(addr: &str) -> Result<String, ComposeError> {
    check("address", addr)?;
    if split_list(addr).len() != 1 {
        return Err(ComposeError::BadAddress(addr.to_owned()));
    }
    let a = parse_addr(addr)?;
    let mut f = Folder::new(0, usize::MAX / 2);
    write_addr(&mut f, "", &a, false);
    Ok(f.out)
}

// ---------------------------------------------------------------------------------------------
// Body encodings

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cte {
    SevenBit,
    EightBit,
    QuotedPrintable,
    Base64,
}

impl Cte {
    fn name(self) -> &'static str {
        match self {
            Cte::SevenBit => "7bit",
            Cte::EightBit => "8bit",
            Cte::QuotedPrintable => "quoted-printable",
            Cte::Base64 => "base64",
        }
    }
}

/// RFC 2045 §2.7/§2.8: 7bit and 8bit data have lines of at most 998 octets and no NUL, and
/// CR only before LF; we write LF only, so no CR at all.
fn fits_line_data(data: &[u8]) -> bool {
    memchr::memchr2(0, b'\r', data).is_none()
        && data.split(|&b| b == b'\n').all(|l| l.len() <= MAX_LINE)
}

/// 7bit, 8bit or quoted-printable for text.
fn text_cte(data: &[u8]) -> Cte {
    if !fits_line_data(data) {
        Cte::QuotedPrintable
    } else if data.is_ascii() {
        Cte::SevenBit
    } else {
        Cte::EightBit
    }
}

fn encode_body(data: &[u8], cte: Cte) -> Vec<u8> {
    match cte {
        Cte::SevenBit | Cte::EightBit => data.to_vec(),
        Cte::QuotedPrintable => quoted_printable(data),
        Cte::Base64 => base64_lines(data),
    }
}

/// RFC 2045 §6.7 quoted-printable with LF hard line breaks: encoded lines of at most 76
/// characters (soft break `=` included), `=XX` never split, white space at a line end
/// encoded, and `From ` at a line start written `=46rom `.
fn quoted_printable(data: &[u8]) -> Vec<u8> {
    let mut out = String::with_capacity(data.len() + data.len() / 8);
    let lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    let n = lines.len();
    for (k, line) in lines.into_iter().enumerate() {
        let last_line = k + 1 == n;
        if last_line && line.is_empty() {
            break; // the data ended with LF
        }
        let from = line.starts_with(b"From ");
        let mut len = 0;
        for (i, &b) in line.iter().enumerate() {
            let at_end = i + 1 == line.len();
            let literal = match b {
                b'=' => false,
                b' ' | b'\t' => !at_end,
                b'F' if i == 0 && from => false,
                33..=126 => true,
                _ => false,
            };
            let tok = if literal { 1 } else { 3 };
            let limit = if at_end { 76 } else { 75 };
            if len + tok > limit {
                out.push_str("=\n");
                len = 0;
            }
            if literal {
                out.push(b as char);
            } else {
                push_hex(&mut out, '=', b);
            }
            len += tok;
        }
        if !last_line {
            out.push('\n');
        }
    }
    out.into_bytes()
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// RFC 4648 §4 base64 with padding, no line breaks.
fn base64(data: &[u8]) -> String {
    let mut out = String::with_capacity(b_len(data.len()));
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let v = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(B64[(v >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// RFC 2045 §6.8: base64 in lines of 76 characters, each ending in LF.
fn base64_lines(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b_len(data.len()) + data.len() / 57 + 1);
    for chunk in data.chunks(57) {
        out.extend_from_slice(base64(chunk).as_bytes());
        out.push(b'\n');
    }
    out
}

/// Labels that WHATWG maps to windows-1252 but that name a smaller charset.
fn latin1_or_ascii(norm: &str) -> Option<&'static str> {
    const ASCII: &[&str] = &[
        "us-ascii",
        "ascii",
        "ansi-x3.4-1968",
        "ansi-x3.4-1986",
        "iso646-us",
        "646",
        "us",
        "7bit",
        "8bit",
    ];
    if ASCII.contains(&norm) {
        Some("us-ascii")
    } else if norm.contains("1252") {
        None
    } else {
        Some("iso-8859-1")
    }
}

/// Encodes `s` in the charset `label` names, when it can do so without loss; returns the
/// label to write (the canonical name) and the bytes. ISO-8859-1 labels are honoured as
/// ISO-8859-1 (WHATWG treats them as windows-1252, whose 0x80–0x9F would be mislabelled).
fn encode_in(label: &str, s: &str) -> Option<(String, Vec<u8>)> {
    let enc = charset::lookup(label)?;
    if enc == encoding_rs::UTF_8 {
        return Some(("utf-8".to_owned(), s.as_bytes().to_vec()));
    }
    if enc == encoding_rs::WINDOWS_1252 {
        let norm = label.trim().to_ascii_lowercase().replace('_', "-");
        match latin1_or_ascii(&norm) {
            Some("us-ascii") => return None, // `s` is not ASCII, or we would not be here
            Some(name) => {
                let bytes = s
                    .chars()
                    .map(|c| u8::try_from(u32::from(c)).ok())
                    .collect::<Option<Vec<u8>>>()?;
                return Some((name.to_owned(), bytes));
            }
            None => {}
        }
    }
    if enc.output_encoding() != enc {
        return None; // UTF-16: encoding_rs would write UTF-8
    }
    let (bytes, used, lossy) = enc.encode(s);
    (!lossy && used == enc).then(|| (enc.name().to_ascii_lowercase(), bytes.into_owned()))
}

/// The text body, ready: charset label, encoded bytes and transfer encoding.
struct TextBody {
    charset: String,
    bytes: Vec<u8>,
    cte: Cte,
}

fn text_body(body: &[u8], sendcharsets: &[String]) -> TextBody {
    // CRLF → LF; the final line gets its LF.
    let mut data = Vec::with_capacity(body.len() + 1);
    let mut i = 0;
    while i < body.len() {
        if body[i] == b'\r' && body.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        data.push(body[i]);
        i += 1;
    }
    if !data.is_empty() && !data.ends_with(b"\n") {
        data.push(b'\n');
    }
    let (charset, bytes) = match std::str::from_utf8(&data) {
        Ok(s) if s.is_ascii() => ("us-ascii".to_owned(), data),
        Ok(s) => sendcharsets
            .iter()
            .find_map(|label| encode_in(label, s))
            .unwrap_or_else(|| ("utf-8".to_owned(), data.clone())),
        Err(_) => {
            // RFC 1428: 8-bit text in an unknown charset; base64 keeps every byte.
            return TextBody {
                charset: "unknown-8bit".to_owned(),
                cte: Cte::Base64,
                bytes: data,
            };
        }
    };
    let cte = text_cte(&bytes);
    TextBody {
        charset,
        bytes,
        cte,
    }
}

// ---------------------------------------------------------------------------------------------
// Attachments

/// One body part of a multipart: header lines (each ending in LF), then the encoded body.
struct Part {
    header: String,
    body: Vec<u8>,
    cte: Cte,
}

fn header_line(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push_str(": ");
    out.push_str(value);
    out.push('\n');
}

/// RFC 2045 §5.1 token characters (for type and subtype).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| (33..=126).contains(&b) && !b"()<>@,;:\\\"/[]?=".contains(&b))
}

/// RFC 2231 §7 attribute-char: the characters an extended value may carry unencoded.
fn attr_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b)
}

/// The `filename` parameter: quoted when printable ASCII and short, else RFC 2231 §4 `filename*=` with
/// §3 continuations (`filename*0*=`, `filename*1*=`, …) when it does not fit one line; a
/// section never splits a character. Returns the parameter tokens, `;`-joined by the caller.
fn filename_params(name: &str) -> Vec<String> {
    let quoted = quote(name);
    // " filename=\"…\"" on its own continuation line; longer ASCII names take continuations.
    if name.bytes().all(|b| (0x20..=0x7e).contains(&b))
        && 1 + "filename=".len() + quoted.len() <= LINE_WIDTH
    {
        return vec![format!("filename={quoted}")];
    }
    let pct: Vec<String> = name
        .chars()
        .map(|c| {
            let mut buf = [0u8; 4];
            let mut s = String::new();
            for &b in c.encode_utf8(&mut buf).as_bytes() {
                if attr_char(b) {
                    s.push(b as char);
                } else {
                    push_hex(&mut s, '%', b);
                }
            }
            s
        })
        .collect();
    let whole: String = pct.concat();
    // " filename*=UTF-8''…" on its own continuation line.
    if 1 + "filename*=UTF-8''".len() + whole.len() <= LINE_WIDTH {
        return vec![format!("filename*=UTF-8''{whole}")];
    }
    let mut out = Vec::new();
    let mut cur = String::from("UTF-8''");
    for p in pct {
        // " filename*NN*=" + value + ";" within 78.
        if cur.len() + p.len() > LINE_WIDTH - 17 && !cur.ends_with('\'') {
            out.push(format!("filename*{}*={cur}", out.len()));
            cur.clear();
        }
        cur.push_str(&p);
    }
    out.push(format!("filename*{}*={cur}", out.len()));
    let last = out.len() - 1;
    for section in &mut out[..last] {
        section.push(';');
    }
    out
}

/// The `name` parameter of Content-Type for clients that ignore `filename`: quoted, with
/// RFC 2047 words inside the quotes when not ASCII (not allowed by RFC 2047 §5, but what
/// such clients read). Returns tokens to be separated by folding white space.
fn name_param(name: &str) -> Vec<String> {
    if name.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        // Split at the spaces so that a long name may fold inside its quotes (RFC 5322 §3.2.4
        // allows FWS in a quoted-string; unfolding gives back the same spaces).
        return format!("name={}", quote(name))
            .split(' ')
            .map(str::to_owned)
            .collect();
    }
    // Sized for ` name="` before the first word and `"` after the last.
    let mut f = Folder::new(" name=\"".len(), LINE_WIDTH - 1);
    f.encoded("", name);
    let words: Vec<&str> = f.out.split_whitespace().collect();
    let last = words.len() - 1;
    words
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let open = if i == 0 { "name=\"" } else { "" };
            let close = if i == last { "\"" } else { "" };
            format!("{open}{w}{close}")
        })
        .collect()
}

/// `main; p1; p2`, folded.
fn param_value(name_len: usize, main: &str, groups: &[Vec<String>]) -> String {
    let mut f = Folder::new(name_len + 2, LINE_WIDTH);
    let mut tokens: Vec<String> = vec![main.to_owned()];
    for g in groups {
        if let Some(last) = tokens.last_mut() {
            last.push(';');
        }
        tokens.extend(g.iter().cloned());
    }
    for (i, t) in tokens.iter().enumerate() {
        f.plain(if i == 0 { "" } else { " " }, t);
    }
    f.out
}

fn base_name(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    let base = trimmed.rsplit('/').next().unwrap_or("");
    if base.is_empty() {
        "attachment"
    } else {
        base
    }
}

fn attachment_part(a: &Attachment) -> Result<Part, ComposeError> {
    check("attachment file name", &a.filename)?;
    let name = base_name(&a.filename);
    let utf8 = std::str::from_utf8(&a.data).is_ok();
    let (mut ctype, explicit_params) = match &a.content_type {
        Some(t) => {
            check("attachment content type", t)?;
            let t = t.trim().trim_end_matches(';').trim();
            let main = t.split(';').next().unwrap_or("").trim();
            let ok = main
                .split_once('/')
                .is_some_and(|(ty, sub)| is_token(ty) && is_token(sub));
            if !ok || !t.is_ascii() {
                return Err(ComposeError::BadContentType(t.to_owned()));
            }
            (t.to_owned(), t.contains(';'))
        }
        None => {
            let guess = mime_guess::from_path(name)
                .first()
                .map(|m| m.essence_str().to_owned());
            let t = guess.unwrap_or_else(|| {
                if utf8 && !a.data.contains(&0) {
                    "text/plain".to_owned()
                } else {
                    "application/octet-stream".to_owned()
                }
            });
            (t, false)
        }
    };
    let essence = ctype
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let line_ok = fits_line_data(&a.data);
    // RFC 2046 §5.2.1, §5.1: message/* and multipart/* take no base64; a multipart cannot be
    // attached as one opaque part anyway.
    let composite = essence.starts_with("multipart/") || essence.starts_with("message/");
    if essence.starts_with("multipart/") || (composite && !line_ok) {
        ctype = "application/octet-stream".to_owned();
    }
    let is_text = essence.starts_with("text/");
    let cte = if (is_text && utf8 && line_ok) || (composite && line_ok) {
        if a.data.is_ascii() {
            Cte::SevenBit
        } else {
            Cte::EightBit
        }
    } else {
        Cte::Base64
    };
    if is_text && !explicit_params && ctype == essence {
        if a.data.is_ascii() {
            ctype.push_str("; charset=us-ascii");
        } else if utf8 {
            ctype.push_str("; charset=utf-8");
        }
    }
    let mut header = String::new();
    let value = param_value("Content-Type".len(), &ctype, &[name_param(name)]);
    header_line(&mut header, "Content-Type", &value);
    let value = param_value(
        "Content-Disposition".len(),
        "attachment",
        &[filename_params(name)],
    );
    header_line(&mut header, "Content-Disposition", &value);
    header_line(&mut header, "Content-Transfer-Encoding", cte.name());
    Ok(Part {
        header,
        body: encode_body(&a.data, cte),
        cte,
    })
}

/// FNV-1a, 64 bits: a stable hash for the boundary (no randomness: output is deterministic).
fn fnv1a(data: &[u8], seed: u64) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for &b in data {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// A boundary derived from the Message-ID that occurs in no part (RFC 2046 §5.1.1); `=_`
/// cannot occur in base64 or quoted-printable text, so the check only matters for 7bit/8bit.
fn boundary(message_id: &str, parts: &[Part]) -> String {
    let mut seed = 0u64;
    loop {
        let b = format!("=_rmail_{:016x}", fnv1a(message_id.as_bytes(), seed));
        let clash = parts.iter().any(|p| {
            memchr::memmem::find(p.header.as_bytes(), b.as_bytes()).is_some()
                || memchr::memmem::find(&p.body, b.as_bytes()).is_some()
        });
        if !clash {
            return b;
        }
        seed += 1;
    }
}

// ---------------------------------------------------------------------------------------------
// The message

const ADDRESS_FIELDS: &[&str] = &["reply-to", "mail-reply-to", "mail-followup-to", "sender"];
const ID_FIELDS: &[&str] = &["in-reply-to", "references"];
const RESERVED: &[&str] = &[
    "date",
    "from",
    "to",
    "cc",
    "bcc",
    "subject",
    "message-id",
    "mime-version",
    "user-agent",
];

fn extra_header(out: &mut String, name: &str, value: &str) -> Result<(), ComposeError> {
    check("a header name", name)?;
    check(name, value)?;
    if name.is_empty() || !name.bytes().all(|b| (33..=126).contains(&b) && b != b':') {
        return Err(ComposeError::BadHeaderName(name.to_owned()));
    }
    let lower = name.to_ascii_lowercase();
    if RESERVED.contains(&lower.as_str()) || lower.starts_with("content-") {
        return Err(ComposeError::ReservedHeader(name.to_owned()));
    }
    if value.trim().is_empty() {
        return Ok(());
    }
    let encoded = if ADDRESS_FIELDS.contains(&lower.as_str()) {
        let addrs = parse_entries(name, &[value.to_owned()])?;
        address_list(name.len(), &addrs)
    } else if ID_FIELDS.contains(&lower.as_str())
        && value
            .bytes()
            .all(|b| (0x20..=0x7e).contains(&b) || b == b'\t')
    {
        fold_plain(value, name.len())
    } else {
        encode_unstructured(value, name.len())
    };
    header_line(out, name, &encoded);
    Ok(())
}

/// Builds the message: RFC 5322 header (Date, From, To, Cc, Subject, Message-ID, the extra
/// headers, MIME-Version, Content-Type, Content-Transfer-Encoding, User-Agent), then the text
/// body, as `multipart/mixed` with the attachments when there are any; and the envelope.
///
/// Errors: [`ComposeError::HeaderInjection`] for CR/LF/NUL in any header input (naming the
/// field), [`ComposeError::BadAddress`], [`ComposeError::NoRecipients`] when To, Cc and Bcc
/// are all empty, [`ComposeError::BadHeaderName`] / [`ComposeError::ReservedHeader`] for
/// extra headers, [`ComposeError::BadContentType`] for an attachment.
pub fn compose(d: &Draft) -> Result<Composed, ComposeError> {
    check("From", &d.from)?;
    let subject = d.subject.as_deref().unwrap_or("");
    check("Subject", subject)?;
    check("Message-ID", &d.message_id)?;
    check("User-Agent", &d.user_agent)?;
    let from = parse_entries("From", std::slice::from_ref(&d.from))?;
    let [from] = from.as_slice() else {
        return Err(ComposeError::BadAddress(d.from.clone()));
    };
    let to = parse_entries("To", &d.to)?;
    let cc = parse_entries("Cc", &d.cc)?;
    let bcc = parse_entries("Bcc", &d.bcc)?;

    let mut recipients: Vec<String> = Vec::new();
    for a in to.iter().chain(&cc).chain(&bcc) {
        if !recipients.iter().any(|r| r.eq_ignore_ascii_case(&a.addr)) {
            recipients.push(a.addr.clone());
        }
    }
    if recipients.is_empty() {
        return Err(ComposeError::NoRecipients);
    }

    let mut h = String::new();
    // RFC 5322 §3.3 date-time.
    let date = d.date.format("%a, %d %b %Y %H:%M:%S %z").to_string();
    header_line(&mut h, "Date", &date);
    header_line(&mut h, "From", &address_list(4, std::slice::from_ref(from)));
    if !to.is_empty() {
        header_line(&mut h, "To", &address_list(2, &to));
    }
    if !cc.is_empty() {
        header_line(&mut h, "Cc", &address_list(2, &cc));
    }
    if !subject.trim().is_empty() {
        header_line(&mut h, "Subject", &encode_unstructured(subject, 7));
    }
    let mid = d
        .message_id
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>');
    if !mid.is_empty() {
        if mid.contains(|c: char| c.is_whitespace() || c == '<' || c == '>') {
            return Err(ComposeError::BadMessageId(d.message_id.clone()));
        }
        header_line(&mut h, "Message-ID", &format!("<{mid}>"));
    }
    for (name, value) in &d.extra_headers {
        extra_header(&mut h, name, value)?;
    }
    header_line(&mut h, "MIME-Version", "1.0");

    let text = text_body(&d.body, &d.sendcharsets);
    let text_type = format!("text/plain; charset={}", text.charset);
    let mut body: Vec<u8>;
    if d.attachments.is_empty() {
        header_line(&mut h, "Content-Type", &text_type);
        header_line(&mut h, "Content-Transfer-Encoding", text.cte.name());
        body = encode_body(&text.bytes, text.cte);
    } else {
        let mut parts = Vec::with_capacity(d.attachments.len() + 1);
        let mut first = String::new();
        header_line(&mut first, "Content-Type", &text_type);
        header_line(&mut first, "Content-Transfer-Encoding", text.cte.name());
        parts.push(Part {
            header: first,
            body: encode_body(&text.bytes, text.cte),
            cte: text.cte,
        });
        for a in &d.attachments {
            parts.push(attachment_part(a)?);
        }
        let b = boundary(mid, &parts);
        let eight = parts.iter().any(|p| p.cte == Cte::EightBit);
        header_line(
            &mut h,
            "Content-Type",
            &format!("multipart/mixed; boundary=\"{b}\""),
        );
        header_line(
            &mut h,
            "Content-Transfer-Encoding",
            if eight { "8bit" } else { "7bit" },
        );
        body = b"This is a multi-part message in MIME format.\n".to_vec();
        for p in &parts {
            // RFC 2046 §5.1.1: the line break before a delimiter belongs to it, so each part
            // keeps its own final line break.
            body.extend_from_slice(format!("\n--{b}\n").as_bytes());
            body.extend_from_slice(p.header.as_bytes());
            body.push(b'\n');
            body.extend_from_slice(&p.body);
        }
        body.extend_from_slice(format!("\n--{b}--\n").as_bytes());
    }
    if !d.user_agent.trim().is_empty() {
        header_line(
            &mut h,
            "User-Agent",
            &encode_unstructured(&d.user_agent, "User-Agent".len()),
        );
    }
    let mut bytes = h.into_bytes();
    bytes.push(b'\n');
    bytes.append(&mut body);
    Ok(Composed {
        bytes,
        envelope_from: from.addr.clone(),
        recipients,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::header::{decode_words, split_fields};
    use crate::message::mime::{decode_base64, decode_qp, part_content, parts};

    fn draft() -> Draft {
        Draft {
            from: "zhangsan@example.com".into(),
            to: vec!["lisi@mail.example.com".into()],
            cc: vec![],
            bcc: vec![],
            subject: Some("test2".into()),
            body: b"nihao\n".to_vec(),
            attachments: vec![],
            extra_headers: vec![],
            sendcharsets: vec![],
            date: chrono::DateTime::parse_from_rfc3339("2024-03-22T13:10:55+08:00").unwrap(),
            message_id: "20240322051055.12345@mail.example.com".into(),
            user_agent: "rmail 0.1.0".into(),
        }
    }

    fn text(c: &Composed) -> &str {
        std::str::from_utf8(&c.bytes).unwrap()
    }

    /// The raw (folded) value of header `name` in `bytes`.
    fn field(bytes: &[u8], name: &str) -> Option<Vec<u8>> {
        split_fields(bytes)
            .into_iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
            .map(|f| f.value)
    }

    fn body_of(bytes: &[u8]) -> &[u8] {
        let (_, start) = crate::message::header::header_end(bytes);
        &bytes[start..]
    }

    /// Every encoded-word in `s`: `=?…?=` runs, at most 75 octets each.
    fn encoded_words(s: &str) -> Vec<&str> {
        s.split([' ', '\t', '\n', '"'])
            .filter(|w| w.starts_with("=?") && w.ends_with("?="))
            .collect()
    }

    fn assert_lines_fit(bytes: &[u8]) {
        for line in bytes.split(|&b| b == b'\n') {
            assert!(
                line.len() <= 78,
                "line too long: {:?}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn seed_message_exact_bytes() {
        // `echo nihao | mail -s test2 lisi@mail.example.com`
        let c = compose(&draft()).unwrap();
        assert_eq!(
            text(&c),
            "Date: Fri, 22 Mar 2024 13:10:55 +0800\n\
             From: zhangsan@example.com\n\
             To: lisi@mail.example.com\n\
             Subject: test2\n\
             Message-ID: <20240322051055.12345@mail.example.com>\n\
             MIME-Version: 1.0\n\
             Content-Type: text/plain; charset=us-ascii\n\
             Content-Transfer-Encoding: 7bit\n\
             User-Agent: rmail 0.1.0\n\
             \n\
             nihao\n"
        );
        assert_eq!(c.envelope_from, "zhangsan@example.com");
        assert_eq!(c.recipients, vec!["lisi@mail.example.com"]);
    }

    #[test]
    fn body_gets_final_newline_and_empty_fields_are_omitted() {
        let mut d = draft();
        d.body = b"nihao".to_vec();
        d.subject = Some(String::new());
        d.to = vec![];
        d.cc = vec!["lisi".into()];
        d.user_agent = String::new();
        let c = compose(&d).unwrap();
        let t = text(&c);
        assert!(t.ends_with("\n\nnihao\n"), "{t}");
        assert!(!t.contains("Subject:") && !t.contains("To:") && !t.contains("User-Agent"));
        assert!(t.contains("\nCc: lisi\n"));
        assert_eq!(c.recipients, vec!["lisi"]);
        d.subject = None;
        assert!(!text(&compose(&d).unwrap()).contains("Subject:"));
    }

    #[test]
    fn chinese_subject_round_trips() {
        for subject in [
            "测试 中文 subject".to_owned(),
            "测试 中文 subject ".repeat(12),
            "Re: 关于 the  meeting\tplan 明天".to_owned(),
            "中".repeat(100),
        ] {
            let mut d = draft();
            d.subject = Some(subject.clone());
            let c = compose(&d).unwrap();
            let raw = field(&c.bytes, "Subject").unwrap();
            let raw_s = String::from_utf8(raw.clone()).unwrap();
            assert!(raw_s.is_ascii());
            assert_eq!(decode_words(&raw), subject.trim(), "{raw_s}");
            let words = encoded_words(&raw_s);
            assert!(!words.is_empty());
            for w in words {
                assert!(w.len() <= 75, "{w}");
                assert!(w.starts_with("=?UTF-8?B?"), "B for CJK: {w}");
            }
            assert_lines_fit(&c.bytes);
        }
    }

    #[test]
    fn q_or_b_whichever_is_shorter() {
        let v = encode_unstructured("Grüße aus München", 7);
        assert!(v.contains("=?UTF-8?Q?"), "{v}");
        assert_eq!(decode_words(v.as_bytes()), "Grüße aus München");
        assert!(encode_unstructured("测试", 7).starts_with("=?UTF-8?B?"));
        // A word that looks like an encoded-word is encoded, so it decodes as written.
        let v = encode_unstructured("see =?utf-8?q?x?= here", 7);
        assert_eq!(decode_words(v.as_bytes()), "see =?utf-8?q?x?= here");
        // Control characters other than tab are encoded, never written raw.
        let v = encode_unstructured("a\x1bb c", 7);
        assert!(!v.contains('\x1b'));
        assert_eq!(decode_words(v.as_bytes()), "a\x1bb c");
    }

    #[test]
    fn ascii_subject_folds_at_spaces_only() {
        let words: Vec<String> = (0..40).map(|i| format!("word{i}")).collect();
        let subject = words.join("  ");
        let v = encode_unstructured(&subject, 7);
        assert!(v.contains('\n'));
        assert_eq!(
            v.replace('\n', ""),
            subject,
            "unfolding gives back the value"
        );
        let line = format!("Subject: {v}");
        assert_lines_fit(line.as_bytes());
        // A word too long to fold is left whole.
        let long = "x".repeat(1200);
        let v = encode_unstructured(&format!("a {long} b"), 7);
        assert_eq!(v.replace('\n', ""), format!("a {long} b"));
        assert!(v.contains(&long));
        assert_eq!(encode_unstructured("plain  two", 7), "plain  two");
    }

    #[test]
    fn long_line_body_is_quoted_printable() {
        let mut d = draft();
        let mut body = "a".repeat(1000);
        body.push_str(" é ");
        body.push_str(&"b".repeat(1000));
        body.push_str("\nFrom here\n.\n..\nend = \n");
        d.body = body.clone().into_bytes();
        let c = compose(&d).unwrap();
        let t = text(&c);
        assert!(t.contains("Content-Transfer-Encoding: quoted-printable\n"));
        assert!(t.contains("charset=utf-8"));
        assert!(t.contains("\n=46rom here\n"));
        assert_lines_fit(&c.bytes);
        assert_eq!(decode_qp(body_of(&c.bytes)), body.as_bytes());
    }

    #[test]
    fn dot_lines_and_8bit_are_untouched() {
        let mut d = draft();
        d.body = b".\n..\n.foo\n\xe4\xbd\xa0\xe5\xa5\xbd\n".to_vec();
        let c = compose(&d).unwrap();
        let t = text(&c);
        assert!(t.contains("Content-Type: text/plain; charset=utf-8\n"));
        assert!(t.contains("Content-Transfer-Encoding: 8bit\n"));
        assert_eq!(body_of(&c.bytes), d.body.as_slice());
        // CRLF becomes LF; a bare CR forces quoted-printable, which keeps it.
        d.body = b"a\r\nb\rc\r\n".to_vec();
        let c = compose(&d).unwrap();
        assert!(text(&c).contains("Content-Transfer-Encoding: quoted-printable\n"));
        assert_eq!(decode_qp(body_of(&c.bytes)), b"a\nb\rc\n");
    }

    #[test]
    fn sendcharsets_pick_the_first_that_fits() {
        let text = |c: &Composed| String::from_utf8_lossy(&c.bytes).into_owned();
        let mut d = draft();
        d.sendcharsets = vec!["iso-8859-1".into(), "gb18030".into()];
        d.body = "café\n".into();
        let c = compose(&d).unwrap();
        assert!(text(&c).contains("Content-Type: text/plain; charset=iso-8859-1\n"));
        assert!(text(&c).contains("Content-Transfer-Encoding: 8bit\n"));
        assert_eq!(body_of(&c.bytes), b"caf\xe9\n");
        // Chinese: not Latin-1; with only iso-8859-1 listed, UTF-8.
        d.sendcharsets = vec!["iso-8859-1".into()];
        d.body = "中文\n".into();
        let c = compose(&d).unwrap();
        assert!(text(&c).contains("charset=utf-8\n"));
        assert_eq!(body_of(&c.bytes), "中文\n".as_bytes());
        // With gb18030 next, gb18030.
        d.sendcharsets = vec!["latin1".into(), "GB18030".into()];
        let c = compose(&d).unwrap();
        assert!(text(&c).contains("charset=gb18030\n"));
        assert_eq!(body_of(&c.bytes), b"\xd6\xd0\xce\xc4\n");
        // The euro sign is in windows-1252 but not ISO-8859-1.
        d.sendcharsets = vec!["iso-8859-1".into(), "windows-1252".into()];
        d.body = "5 €\n".into();
        let c = compose(&d).unwrap();
        assert!(text(&c).contains("charset=windows-1252\n"));
        // Unknown labels and us-ascii are skipped; ASCII bodies stay us-ascii.
        d.sendcharsets = vec!["x-nonsense".into(), "us-ascii".into()];
        assert!(text(&compose(&d).unwrap()).contains("charset=utf-8\n"));
        d.body = b"plain\n".to_vec();
        assert!(text(&compose(&d).unwrap()).contains("charset=us-ascii\n"));
    }

    #[test]
    fn body_not_utf8_is_unknown_8bit_base64() {
        let mut d = draft();
        d.body = b"\xc4\xe3\xba\xc3 gbk\n\xff\x00\n".to_vec();
        let c = compose(&d).unwrap();
        let t = String::from_utf8_lossy(&c.bytes);
        assert!(t.contains("Content-Type: text/plain; charset=unknown-8bit\n"));
        assert!(t.contains("Content-Transfer-Encoding: base64\n"));
        assert_eq!(decode_base64(body_of(&c.bytes)), d.body);
    }

    #[test]
    fn bcc_only_in_envelope() {
        let mut d = draft();
        d.to = vec!["Li Si <lisi@mail.example.com>".into(), "a@x, b@x".into()];
        d.cc = vec!["A@X".into(), "wangwu@example.com".into()];
        d.bcc = vec!["secret@example.com".into(), "LISI@mail.example.com".into()];
        let c = compose(&d).unwrap();
        let t = text(&c);
        assert!(!t.contains("secret") && !t.to_ascii_lowercase().contains("bcc"));
        assert!(
            t.contains("\nTo: Li Si <lisi@mail.example.com>, a@x, b@x\n"),
            "{t}"
        );
        assert!(t.contains("\nCc: A@X, wangwu@example.com\n"));
        assert_eq!(
            c.recipients,
            vec![
                "lisi@mail.example.com",
                "a@x",
                "b@x",
                "wangwu@example.com",
                "secret@example.com"
            ]
        );
        d.to.clear();
        d.cc.clear();
        d.bcc.clear();
        assert!(matches!(compose(&d), Err(ComposeError::NoRecipients)));
        d.bcc = vec!["only@example.com".into()];
        let c = compose(&d).unwrap();
        assert!(!text(&c).contains("To:") && !text(&c).contains("only@"));
        assert_eq!(c.recipients, vec!["only@example.com"]);
    }

    #[test]
    fn injection_is_refused() {
        let injected = |d: &Draft, want: &str| match compose(d) {
            Err(ComposeError::HeaderInjection { field }) => assert_eq!(field, want),
            other => panic!("{want}: {other:?}"),
        };
        let mut d = draft();
        d.subject = Some("x\nBcc: evil@x".into());
        injected(&d, "Subject");
        d.subject = Some("x\rBcc: evil@x".into());
        injected(&d, "Subject");
        let mut d = draft();
        d.to = vec!["lisi@x\r\nBcc: evil@x".into()];
        injected(&d, "To");
        let mut d = draft();
        d.cc = vec!["a@x\0".into()];
        injected(&d, "Cc");
        let mut d = draft();
        d.bcc = vec!["a@x\n".into()];
        injected(&d, "Bcc");
        let mut d = draft();
        d.from = "Me <me@x>\nBcc: evil@x".into();
        injected(&d, "From");
        let mut d = draft();
        d.extra_headers = vec![("Reply-To".into(), "a@x\nBcc: evil@x".into())];
        injected(&d, "Reply-To");
        d.extra_headers = vec![("X-A\nBcc".into(), "v".into())];
        injected(&d, "a header name");
        let mut d = draft();
        d.attachments = vec![Attachment {
            filename: "a\n.txt".into(),
            data: b"x".to_vec(),
            content_type: None,
        }];
        injected(&d, "attachment file name");
        let mut d = draft();
        d.message_id = "x@y\nBcc: evil@x".into();
        injected(&d, "Message-ID");
        assert!(matches!(
            encode_address("a@x\r\nBcc: b@y"),
            Err(ComposeError::HeaderInjection { .. })
        ));
        assert!(has_line_break("a\rb") && has_line_break("\0") && !has_line_break("a\tb"));
        // Other bad extra headers.
        let mut d = draft();
        d.extra_headers = vec![("Bcc".into(), "evil@x".into())];
        assert!(matches!(compose(&d), Err(ComposeError::ReservedHeader(_))));
        d.extra_headers = vec![("X Bad".into(), "v".into())];
        assert!(matches!(compose(&d), Err(ComposeError::BadHeaderName(_))));
    }

    #[test]
    fn addresses() {
        assert_eq!(encode_address("a@x").unwrap(), "a@x");
        assert_eq!(encode_address("-oQ/tmp@x").unwrap(), "-oQ/tmp@x");
        assert_eq!(encode_address("-f").unwrap(), "-f");
        assert_eq!(encode_address("|cmd@x").unwrap(), "|cmd@x");
        assert_eq!(encode_address("Li Si <l@x>").unwrap(), "Li Si <l@x>");
        assert_eq!(encode_address("<l@x>").unwrap(), "l@x");
        assert_eq!(encode_address("\"Li Si\" <l@x>").unwrap(), "Li Si <l@x>");
        assert_eq!(
            encode_address("\"Zhang, San\" <z@x>").unwrap(),
            "\"Zhang, San\" <z@x>"
        );
        assert_eq!(
            encode_address("John Q. Public <j@x>").unwrap(),
            "\"John Q. Public\" <j@x>"
        );
        assert_eq!(
            encode_address("\"a\\\"b\" <j@x>").unwrap(),
            "\"a\\\"b\" <j@x>"
        );
        assert_eq!(encode_address("l@x (Li Si)").unwrap(), "Li Si <l@x>");
        assert_eq!(encode_address("\"john doe\"@x").unwrap(), "\"john doe\"@x");
        assert_eq!(encode_address("a@[IPv6:::1]").unwrap(), "a@[IPv6:::1]");
        let e = encode_address("张三 <zs@x>").unwrap();
        assert!(
            e.starts_with("=?UTF-8?B?") && e.ends_with("?= <zs@x>"),
            "{e}"
        );
        let list = crate::message::address::parse_list(e.as_bytes());
        assert_eq!(list[0].name.as_deref(), Some("张三"));
        assert_eq!(list[0].addr, "zs@x");
        let e = encode_address("Zhang, 张三 <zs@x>");
        assert!(e.is_err(), "a list is not one address");
        let e = encode_address("\"Zhang, 张三\" <zs@x>").unwrap();
        let list = crate::message::address::parse_list(e.as_bytes());
        assert_eq!(list[0].name.as_deref(), Some("Zhang, 张三"), "{e}");
        for bad in ["", "a b", "a@x>", "<a b@x>", "Name <>", "\"open@x", "a@x;"] {
            assert!(
                matches!(encode_address(bad), Err(ComposeError::BadAddress(_))),
                "{bad}"
            );
        }
        let mut d = draft();
        d.from = "a@x, b@x".into();
        assert!(matches!(compose(&d), Err(ComposeError::BadAddress(_))));
    }

    #[test]
    fn long_address_lists_fold() {
        let mut d = draft();
        d.to = (0..20)
            .map(|i| format!("用户{i} <user{i}@example.com>"))
            .collect();
        d.from = "非常长的名字非常长的名字非常长的名字非常长的名字非常长的名字 <me@x>".into();
        let c = compose(&d).unwrap();
        assert_lines_fit(&c.bytes);
        let to = field(&c.bytes, "To").unwrap();
        let list = crate::message::address::parse_list(&to);
        assert_eq!(list.len(), 20);
        assert_eq!(list[7].name.as_deref(), Some("用户7"));
        assert_eq!(list[7].addr, "user7@example.com");
        let from = field(&c.bytes, "From").unwrap();
        let list = crate::message::address::parse_list(&from);
        assert_eq!(list[0].name.as_deref(), Some(&d.from[..d.from.len() - 7]));
        assert_eq!(c.envelope_from, "me@x");
    }

    #[test]
    fn extra_headers_in_order() {
        let mut d = draft();
        d.extra_headers = vec![
            ("In-Reply-To".into(), "<a@b>".into()),
            ("References".into(), "<a@b> <c@d>".into()),
            ("Reply-To".into(), "王五 <ww@x>".into()),
            ("X-Empty".into(), "  ".into()),
            ("X-Note".into(), "备注".into()),
        ];
        let c = compose(&d).unwrap();
        let t = text(&c);
        let order: Vec<String> = split_fields(&c.bytes).into_iter().map(|f| f.name).collect();
        assert_eq!(
            order,
            [
                "Date",
                "From",
                "To",
                "Subject",
                "Message-ID",
                "In-Reply-To",
                "References",
                "Reply-To",
                "X-Note",
                "MIME-Version",
                "Content-Type",
                "Content-Transfer-Encoding",
                "User-Agent"
            ]
        );
        assert!(t.contains("\nReferences: <a@b> <c@d>\n"));
        assert_eq!(decode_words(&field(&c.bytes, "X-Note").unwrap()), "备注");
    }

    fn attachments() -> Vec<Attachment> {
        vec![
            Attachment {
                filename: "/tmp/all.bin".into(),
                data: (0..=255u8).collect(),
                content_type: None,
            },
            Attachment {
                filename: "notes.txt".into(),
                data: "第一行\nline two\n--=_rmail_\nno final newline".into(),
                content_type: None,
            },
            Attachment {
                filename: "dir/报告 2024 年度总结（最终版本）非常长的文件名.pdf".into(),
                data: b"%PDF-1.4\n\x00\x01\x02binary".to_vec(),
                content_type: None,
            },
            Attachment {
                filename:
                    "a rather long ASCII file name, with \"quotes\" and spaces, for continuations"
                        .into(),
                data: b"\r\nMIME\x00".to_vec(),
                content_type: Some("application/x-custom; foo=bar".into()),
            },
        ]
    }

    #[test]
    fn attachments_round_trip() {
        let mut d = draft();
        d.body = b"see attached\n".to_vec();
        d.attachments = attachments();
        let c = compose(&d).unwrap();
        assert_lines_fit(&c.bytes);
        let t = String::from_utf8_lossy(&c.bytes);
        assert!(t.contains("Content-Type: multipart/mixed; boundary=\"=_rmail_"));
        assert!(
            t.contains("\nContent-Transfer-Encoding: 8bit\n"),
            "a part is 8bit"
        );
        let list = parts(&c.bytes);
        assert_eq!(list.len(), 5, "{list:?}");
        assert_eq!(list[0].content_type, "text/plain");
        assert_eq!(part_content(&c.bytes, "1").unwrap(), b"see attached\n");
        assert_eq!(list[1].content_type, "application/octet-stream");
        assert_eq!(list[1].filename.as_deref(), Some("all.bin"));
        assert_eq!(list[2].content_type, "text/plain");
        assert_eq!(list[2].charset.as_deref(), Some("utf-8"));
        assert_eq!(list[3].content_type, "application/pdf");
        assert_eq!(
            list[3].filename.as_deref(),
            Some("报告 2024 年度总结（最终版本）非常长的文件名.pdf")
        );
        assert_eq!(list[4].content_type, "application/x-custom");
        assert_eq!(
            list[4].filename.as_deref(),
            Some(base_name(&d.attachments[3].filename))
        );
        for (i, a) in d.attachments.iter().enumerate() {
            let got = part_content(&c.bytes, &(i + 2).to_string()).unwrap();
            assert_eq!(got, a.data, "attachment {i}");
        }
        // The name= parameter decodes too, for clients that ignore filename*.
        let fields = split_fields(&c.bytes[t.find("Content-Type: application/pdf").unwrap()..]);
        let ctype = String::from_utf8(fields[0].value.clone()).unwrap();
        let name = crate::message::header::param(&ctype.replace('\n', ""), "name");
        assert_eq!(name.as_deref(), list[3].filename.as_deref());
        let at = t.find("Content-Type: application/x-custom").unwrap();
        let ctype = String::from_utf8(split_fields(&c.bytes[at..])[0].value.clone()).unwrap();
        assert!(ctype.contains('\n'), "folded inside the quotes: {ctype}");
        let name = crate::message::header::param(&ctype.replace('\n', ""), "name");
        assert_eq!(name.as_deref(), list[4].filename.as_deref());
        // Deterministic.
        assert_eq!(compose(&d).unwrap().bytes, c.bytes);
    }

    #[test]
    fn empty_body_with_attachment() {
        let mut d = draft();
        d.body.clear();
        d.attachments = vec![Attachment {
            filename: "a.txt".into(),
            data: b"hello\n".to_vec(),
            content_type: None,
        }];
        let c = compose(&d).unwrap();
        let list = parts(&c.bytes);
        assert_eq!(list.len(), 2);
        assert_eq!(part_content(&c.bytes, "1").unwrap(), b"");
        assert_eq!(part_content(&c.bytes, "2").unwrap(), b"hello\n");
        assert!(text(&c).contains(
            "Content-Type: text/plain; charset=us-ascii; name=\"a.txt\"\n\
             Content-Disposition: attachment; filename=\"a.txt\"\n\
             Content-Transfer-Encoding: 7bit\n"
        ));
    }

    #[test]
    fn boundary_avoids_part_contents() {
        let mut d = draft();
        let first = boundary(&d.message_id, &[]);
        d.body = format!("--{first}\n{first}\n").into_bytes();
        d.attachments = vec![Attachment {
            filename: "b.txt".into(),
            data: b"x\n".to_vec(),
            content_type: None,
        }];
        let c = compose(&d).unwrap();
        let t = text(&c);
        assert!(!t.contains(&format!("boundary=\"{first}\"")));
        assert_eq!(part_content(&c.bytes, "1").unwrap(), d.body);
    }

    #[test]
    fn base64_and_filename_helpers() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        let lines = base64_lines(&[0u8; 200]);
        assert!(lines.split(|&b| b == b'\n').all(|l| l.len() <= 76));
        assert_eq!(
            filename_params("a \"b\".txt"),
            vec!["filename=\"a \\\"b\\\".txt\""]
        );
        assert_eq!(
            filename_params("报告.pdf"),
            vec!["filename*=UTF-8''%E6%8A%A5%E5%91%8A.pdf"]
        );
        assert_eq!(base_name("/a/b/c.txt"), "c.txt");
        assert_eq!(base_name("c.txt"), "c.txt");
        assert_eq!(base_name("dir/"), "dir");
        assert_eq!(base_name("/"), "attachment");
    }

    /// Pseudo-random subjects and display names (fixed seed): they decode back, every
    /// encoded-word is at most 75 octets and no line passes 78 octets.
    #[test]
    fn random_headers_round_trip() {
        const POOL: &[&str] = &[
            "a", "Re:", "subject", "x", "=?", "?=", "_", "é", "ü", "中", "文", "测试", "😀", "ß",
            "()", ",", ".", ";", "<", ">", "@", "\\", "'", "=", "?", "!", "*", "-", "Ω", "한", "ｶ",
            "\u{300}",
        ];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        for round in 0..600 {
            let words = 1 + next(40);
            let mut v = String::new();
            for _ in 0..words {
                for _ in 0..1 + next(4) {
                    v.push_str(POOL[next(POOL.len())]);
                }
                v.push_str(["", " ", "  ", "\t", "\x07"][next(5)]);
            }
            let enc = encode_unstructured(&v, 7);
            assert!(enc.is_ascii(), "{enc}");
            let trimmed = v.trim_matches(|c| c == ' ' || c == '\t');
            assert_eq!(
                decode_words(enc.as_bytes()),
                trimmed,
                "round {round}: {enc}"
            );
            for w in encoded_words(&enc) {
                assert!(w.len() <= 75, "{w}");
            }
            assert_lines_fit(format!("Subject: {enc}").as_bytes());

            let name = v.replace(['\x07', '\t'], " ");
            if name.trim().is_empty() || name.trim().starts_with('"') {
                continue;
            }
            let mut d = draft();
            d.from = format!("{} <me@example.com>", quote(&name));
            d.to = vec![format!("{} <to@example.com>", quote(&name)); 1 + next(3)];
            let c = compose(&d).unwrap();
            assert_lines_fit(&c.bytes);
            let from = field(&c.bytes, "From").unwrap();
            let list = crate::message::address::parse_list(&from);
            assert_eq!(list.len(), 1, "{}", String::from_utf8_lossy(&from));
            assert_eq!(list[0].addr, "me@example.com");
            assert_eq!(
                squash(list[0].name.as_deref().unwrap_or("")),
                squash(&name),
                "round {round}: {}",
                String::from_utf8_lossy(&from)
            );
            assert_eq!(c.recipients, vec!["to@example.com"]);
        }
    }

    /// Parses composed messages with Python's `email` package, an independent MIME parser.
    #[test]
    fn python_email_parses_the_output() {
        if std::process::Command::new("python3")
            .arg("-c")
            .arg("import email")
            .output()
            .map(|o| !o.status.success())
            .unwrap_or(true)
        {
            eprintln!("skipped: python3 with the email package is not available");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut d1 = draft();
        d1.subject = Some("测试 中文 subject with a rather long tail of ASCII words".into());
        d1.from = "张三 <zhangsan@example.com>".into();
        d1.to = vec![
            "\"Li, Si\" <lisi@mail.example.com>".into(),
            "wangwu@x".into(),
        ];
        let mut d2 = draft();
        d2.subject = Some("Grüße, café".into());
        d2.body = "café\n".into();
        d2.sendcharsets = vec!["iso-8859-1".into()];
        d2.attachments = attachments();
        let mut d3 = draft();
        d3.subject = Some("x".repeat(100) + " 文件 " + &"y ".repeat(60));
        d3.body = "a".repeat(2000).into_bytes();
        d3.attachments = vec![attachments().remove(2)];
        let script = r#"
import sys, email, email.policy
path, subject, frm, to, nparts = sys.argv[1:6]
att = sys.argv[6:]
msg = email.message_from_bytes(open(path, 'rb').read(), policy=email.policy.default)
def check(what, got, want):
    if got != want:
        sys.exit(f"{path}: {what}: got {got!r}, want {want!r}")
check("subject", str(msg['subject']), subject)
check("from", [(a.display_name, a.addr_spec) for a in msg['from'].addresses], eval(frm))
check("to", [(a.display_name, a.addr_spec) for a in msg['to'].addresses], eval(to))
check("defects", [str(x) for x in msg.defects], [])
leaves = list(msg.walk()) if msg.is_multipart() else [msg]
leaves = [p for p in leaves if not p.is_multipart()]
check("parts", len(leaves), int(nparts))
for i in range(0, len(att), 2):
    p = leaves[1 + i // 2]
    check("filename", p.get_filename(), att[i])
    check("payload", p.get_payload(decode=True), open(att[i + 1], 'rb').read())
    check("part defects", [str(x) for x in p.defects], [])
body = leaves[0].get_content()
print(body[:20])
"#;
        let cases: [(&Draft, &str, &str, &str); 3] = [
            (
                &d1,
                "[('张三', 'zhangsan@example.com')]",
                "[('Li, Si', 'lisi@mail.example.com'), ('', 'wangwu@x')]",
                "1",
            ),
            (
                &d2,
                "[('', 'zhangsan@example.com')]",
                "[('', 'lisi@mail.example.com')]",
                "5",
            ),
            (
                &d3,
                "[('', 'zhangsan@example.com')]",
                "[('', 'lisi@mail.example.com')]",
                "2",
            ),
        ];
        for (k, (d, from, to, nparts)) in cases.iter().enumerate() {
            let c = compose(d).unwrap();
            let path = dir.path().join(format!("m{k}.eml"));
            std::fs::write(&path, &c.bytes).unwrap();
            let mut args = vec![
                path.display().to_string(),
                d.subject.clone().unwrap().trim().to_owned(),
                from.to_string(),
                to.to_string(),
                nparts.to_string(),
            ];
            for (j, a) in d.attachments.iter().enumerate() {
                let ap = dir.path().join(format!("m{k}.a{j}"));
                std::fs::write(&ap, &a.data).unwrap();
                args.push(base_name(&a.filename).to_owned());
                args.push(ap.display().to_string());
            }
            let out = std::process::Command::new("python3")
                .arg("-c")
                .arg(script)
                .args(&args)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "message {k}: {}\n{}",
                String::from_utf8_lossy(&out.stderr),
                String::from_utf8_lossy(&c.bytes)
            );
        }
    }
}
