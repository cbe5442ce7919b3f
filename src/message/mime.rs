//! MIME (RFC 2045–2049) for the terminal: part tree, transfer decoding, charsets to UTF-8.
//!
//! A message is parsed once into an owned tree of `Node`s (headers split with
//! [`header::split_fields`], bodies transfer-decoded), numbered like IMAP body sections
//! (RFC 3501 §6.4.5: `1`, `2`, `2.1`; the body of an encapsulated non-multipart message is
//! `n.1`). The tree is then rendered as text or listed as parts.
//!
//! Invariants:
//! - nothing here fails or panics: a multipart whose boundary is missing or never occurs is
//!   shown as its raw body, an unknown charset as raw bytes with a note, bad base64 and
//!   quoted-printable are decoded as far as they go;
//! - the body of a message without MIME headers comes out byte for byte when it is valid UTF-8
//!   (it is compared against s-nail's output), otherwise via [`charset::decode_guess`];
//! - nesting deeper than [`MAX_DEPTH`] is not descended into (hostile input), and all scans
//!   are linear in the size of each level; encapsulated messages are copied at most to a
//!   budget of three times the message size (plus 1 MiB), then left opaque;
//! - HTML nested deeper than 400 elements is stripped of tags instead of going to html2text,
//!   whose run time grows with the square of the nesting depth.

use std::cell::Cell;

use crate::message::charset;
use crate::message::header::{self, Field};

/// How deep multiparts and encapsulated messages are descended into; deeper entities are
/// treated as opaque parts.
pub const MAX_DEPTH: usize = 32;

/// Rendering options for [`render_body_with`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderOptions {
    /// Line width in columns for HTML rendered as text (html2text); at least 10 is used.
    pub width: usize,
}

impl Default for RenderOptions {
    /// Width 80.
    fn default() -> Self {
        RenderOptions { width: 80 }
    }
}

/// One part of a message, as the reader's attachment listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartInfo {
    /// Section number as IMAP writes it: `1`, `2`, `2.1`.
    pub number: String,
    /// Lower-case `type/subtype` (`text/plain` when absent or invalid).
    pub content_type: String,
    /// Size in bytes after transfer decoding (base64, quoted-printable).
    pub size: usize,
    /// File name from `Content-Disposition: …; filename=` or `Content-Type: …; name=`,
    /// RFC 2231/2047-decoded, control characters replaced by `?`.
    pub filename: Option<String>,
    /// The `charset` parameter, as written.
    pub charset: Option<String>,
    /// Lower-case disposition (`inline`, `attachment`), `None` when absent.
    pub disposition: Option<String>,
}

/// One entity of the parsed tree.
struct Node {
    /// Section number; empty for the top multipart of the outermost message.
    number: String,
    /// Lower-case `type/subtype`.
    ctype: String,
    /// The whole `Content-Type` value (for parameters); empty when absent.
    ctype_raw: String,
    /// Lower-case disposition main value, empty when absent.
    disposition: String,
    /// The whole `Content-Disposition` value.
    disp_raw: String,
    /// Whether the body was base64 (text from it has CRLF line ends turned into LF).
    was_base64: bool,
    kind: Kind,
}

enum Kind {
    /// A single part: its transfer-decoded body.
    Leaf(Vec<u8>),
    /// A multipart and its children.
    Multipart(Vec<Node>),
    /// A multipart whose delimiters cannot be found: its raw body.
    Broken(Vec<u8>),
    /// `message/rfc822`: its transfer-decoded bytes, headers and the parsed message.
    Message {
        bytes: Vec<u8>,
        fields: Vec<Field>,
        inner: Box<Node>,
    },
}

/// `prefix.k`, or `k` at the top.
fn join(prefix: &str, k: usize) -> String {
    if prefix.is_empty() {
        k.to_string()
    } else {
        format!("{prefix}.{k}")
    }
}

/// Splits an entity into its header fields and body. `top`: the outermost message, where a
/// leading `From_` line is skipped and the first line is always a header. In body parts a
/// first line that is not a header field means "no headers" (RFC 2046 §5.1.1 allows none).
fn split_entity(data: &[u8], top: bool) -> (Vec<Field>, &[u8]) {
    let mut data = data;
    if top && data.starts_with(b"From ") {
        let nl = memchr::memchr(b'\n', data)
            .map(|i| i + 1)
            .unwrap_or(data.len());
        data = &data[nl..];
    }
    if !top {
        let first_end = memchr::memchr(b'\n', data).unwrap_or(data.len());
        let first = &data[..first_end];
        let first = first.strip_suffix(b"\r").unwrap_or(first);
        if !first.is_empty() && header::split_fields(first).is_empty() {
            return (Vec::new(), data);
        }
    }
    let (hlen, body_start) = header::header_end(data);
    (header::split_fields(&data[..hlen]), &data[body_start..])
}

fn field_str(fields: &[Field], name: &str) -> String {
    header::find(fields, name)
        .map(|v| String::from_utf8_lossy(&header::unfold(v)).into_owned())
        .unwrap_or_default()
}

/// Builds the tree for `data`. `number`: this entity's section number; `top_of_message`: the
/// entity is a whole message (outermost or encapsulated), whose non-multipart body is
/// numbered `number.1`.
fn build(
    data: &[u8],
    number: &str,
    top_of_message: bool,
    outermost: bool,
    default_ctype: &str,
    depth: usize,
    budget: &Cell<usize>,
) -> Node {
    let (fields, body) = split_entity(data, outermost);
    build_from(
        fields,
        body,
        number,
        top_of_message,
        default_ctype,
        depth,
        budget,
    )
}

fn build_from(
    fields: Vec<Field>,
    body: &[u8],
    number: &str,
    top_of_message: bool,
    default_ctype: &str,
    depth: usize,
    budget: &Cell<usize>,
) -> Node {
    let ctype_raw = field_str(&fields, "content-type");
    let mut ctype = header::main_value(&ctype_raw);
    let valid = ctype
        .split_once('/')
        .is_some_and(|(t, s)| !t.is_empty() && !s.is_empty());
    if !valid {
        ctype = default_ctype.to_owned();
    }
    let disp_raw = field_str(&fields, "content-disposition");
    let disposition = header::main_value(&disp_raw);
    let cte = header::main_value(&field_str(&fields, "content-transfer-encoding"));
    let leaf_number = if top_of_message {
        join(number, 1)
    } else {
        number.to_owned()
    };
    let mut node = Node {
        number: leaf_number.clone(),
        ctype: ctype.clone(),
        ctype_raw,
        disposition,
        disp_raw,
        was_base64: cte == "base64",
        kind: Kind::Leaf(Vec::new()),
    };
    if depth >= MAX_DEPTH {
        node.kind = Kind::Leaf(decode_transfer(body, &cte));
        return node;
    }
    if ctype.starts_with("multipart/") {
        node.number = number.to_owned();
        let boundary = header::param_raw(&node.ctype_raw, "boundary");
        let pieces = boundary.as_deref().and_then(|b| split_multipart(body, b));
        node.kind = match pieces {
            Some(pieces) => {
                let child_default = if ctype == "multipart/digest" {
                    "message/rfc822"
                } else {
                    "text/plain"
                };
                Kind::Multipart(
                    pieces
                        .iter()
                        .enumerate()
                        .map(|(k, p)| {
                            build(
                                p,
                                &join(number, k + 1),
                                false,
                                false,
                                child_default,
                                depth + 1,
                                budget,
                            )
                        })
                        .collect(),
                )
            }
            None => Kind::Broken(body.to_vec()),
        };
        return node;
    }
    // Each encapsulated message is copied (it may be transfer-encoded); the budget keeps
    // hostile nesting from copying the message once per level.
    let fits = budget.get() >= body.len();
    if fits && (ctype == "message/rfc822" || ctype == "message/global") {
        budget.set(budget.get() - body.len());
        let bytes = decode_transfer(body, &cte);
        let (inner_fields, inner_body) = split_entity(&bytes, false);
        let inner = build_from(
            inner_fields.clone(),
            inner_body,
            &leaf_number,
            true,
            "text/plain",
            depth + 1,
            budget,
        );
        node.kind = Kind::Message {
            fields: inner_fields,
            inner: Box::new(inner),
            bytes,
        };
        return node;
    }
    node.kind = Kind::Leaf(decode_transfer(body, &cte));
    node
}

/// Splits a multipart body at its delimiter lines (RFC 2046 §5.1.1): `--boundary` alone on a
/// line (trailing white space allowed), `--boundary--` closing. The line break before a
/// delimiter belongs to it. Preamble and epilogue are dropped; a missing close delimiter ends
/// the last part at the end of the body. `None` when no delimiter line occurs.
fn split_multipart<'a>(body: &'a [u8], boundary: &str) -> Option<Vec<&'a [u8]>> {
    if boundary.is_empty() || boundary.len() > 200 {
        return None;
    }
    let delim = format!("--{boundary}");
    let delim = delim.as_bytes();
    let mut parts = Vec::new();
    // Start of the current part's content, once the first delimiter has been seen.
    let mut start: Option<usize> = None;
    let mut pos = 0;
    while pos < body.len() {
        let end = memchr::memchr(b'\n', &body[pos..])
            .map(|i| pos + i)
            .unwrap_or(body.len());
        let line = &body[pos..end];
        if line.starts_with(delim) {
            let mut rest = &line[delim.len()..];
            while let Some((&last, r)) = rest.split_last() {
                if last == b' ' || last == b'\t' || last == b'\r' {
                    rest = r;
                } else {
                    break;
                }
            }
            let close = rest == b"--";
            if rest.is_empty() || close {
                if let Some(s) = start {
                    // Drop the line break before the delimiter.
                    let mut e = pos;
                    if e > s && body[e - 1] == b'\n' {
                        e -= 1;
                        if e > s && body[e - 1] == b'\r' {
                            e -= 1;
                        }
                    }
                    parts.push(&body[s..e.max(s)]);
                }
                if close {
                    return (start.is_some() || !parts.is_empty()).then_some(parts);
                }
                start = Some((end + 1).min(body.len()));
            }
        }
        pos = end + 1;
    }
    let s = start?;
    parts.push(&body[s.min(body.len())..]);
    Some(parts)
}

/// Undoes a `Content-Transfer-Encoding` (RFC 2045 §6): `base64` and `quoted-printable`
/// (case-insensitive); anything else (`7bit`, `8bit`, `binary`, unknown) is returned as is.
pub fn decode_transfer(body: &[u8], encoding: &str) -> Vec<u8> {
    match encoding.trim().to_ascii_lowercase().as_str() {
        "base64" => decode_base64(body),
        "quoted-printable" => decode_qp(body),
        _ => body.to_vec(),
    }
}

/// Lenient base64 (RFC 2045 §6.8): bytes outside the alphabet (line ends, garbage) are
/// skipped; `=` ends a group, so concatenated padded chunks decode too; a trailing partial
/// group gives the whole bytes it holds.
pub fn decode_base64(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / 4 * 3 + 3);
    let mut acc = 0u32;
    let mut bits = 0u32;
    for &b in data {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => {
                acc = 0;
                bits = 0;
                continue;
            }
            _ => continue,
        } as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Quoted-printable (RFC 2045 §6.7): `=XX` (either case) is a byte, `=` at the end of a line
/// is a soft line break, trailing white space on a line is dropped (rule 3), CRLF becomes LF; a
/// stray `=` is kept.
pub fn decode_qp(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut pos = 0;
    while pos < data.len() {
        let nl = memchr::memchr(b'\n', &data[pos..]).map(|i| pos + i);
        let end = nl.unwrap_or(data.len());
        let mut line = &data[pos..end];
        while let Some((&last, r)) = line.split_last() {
            if matches!(last, b' ' | b'\t' | b'\r') {
                line = r;
            } else {
                break;
            }
        }
        let soft = line.last() == Some(&b'=');
        if soft {
            line = &line[..line.len() - 1];
        }
        let mut i = 0;
        while i < line.len() {
            if line[i] == b'=' && i + 2 < line.len() {
                if let (Some(h), Some(l)) = (hex(line[i + 1]), hex(line[i + 2])) {
                    out.push(h * 16 + l);
                    i += 3;
                    continue;
                }
            }
            out.push(line[i]);
            i += 1;
        }
        if nl.is_some() && !soft {
            out.push(b'\n');
        }
        pos = end + 1;
    }
    out
}

/// Replaces control characters (terminal escapes in hostile names) with `?`.
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

fn filename(node: &Node) -> Option<String> {
    header::param(&node.disp_raw, "filename")
        .or_else(|| header::param(&node.ctype_raw, "name"))
        .map(|n| sanitize(n.trim()))
        .filter(|n| !n.is_empty())
}

/// `512B`, `12K`, `3.4M`.
fn human_size(n: usize) -> String {
    if n < 1024 {
        format!("{n}B")
    } else if n < 1024 * 1024 {
        format!("{}K", (n + 512) / 1024)
    } else {
        format!("{:.1}M", n as f64 / (1024.0 * 1024.0))
    }
}

/// Output being built, with block separation.
struct Out {
    text: String,
    width: usize,
}

impl Out {
    fn ensure_newline(&mut self) {
        if !self.text.is_empty() && !self.text.ends_with('\n') {
            self.text.push('\n');
        }
    }

    /// A note line such as `[-- #2 application/pdf, 12K, "report.pdf" --]`.
    fn line(&mut self, line: &str) {
        self.ensure_newline();
        self.text.push_str(line);
        self.text.push('\n');
    }

    /// A text block; separated from earlier output by a blank line.
    fn block(&mut self, text: &str) {
        if !self.text.is_empty() {
            self.ensure_newline();
            if !self.text.ends_with("\n\n") {
                self.text.push('\n');
            }
        }
        self.text.push_str(text);
    }
}

fn attachment_line(out: &mut Out, node: &Node, size: usize) {
    let mut line = format!("[-- #{} {}, {}", node.number, node.ctype, human_size(size));
    if let Some(name) = filename(node) {
        line.push_str(&format!(", \"{name}\""));
    }
    line.push_str(" --]");
    out.line(&line);
}

/// Decodes text bytes by the node's charset: none or US-ASCII → [`charset::decode_guess`]
/// (8-bit bytes under an ASCII label are common), a known charset → that, an unknown one →
/// `Err(label)` with the lossy text.
fn text_of(node: &Node, bytes: &[u8]) -> Result<String, (String, String)> {
    let cs = header::param(&node.ctype_raw, "charset").map(|c| c.trim().to_owned());
    let text = match cs.as_deref() {
        None | Some("") => charset::decode_guess(bytes),
        Some(c) if c.eq_ignore_ascii_case("us-ascii") || c.eq_ignore_ascii_case("ascii") => {
            charset::decode_guess(bytes)
        }
        Some(c) => match charset::decode(bytes, c) {
            Some(t) => t,
            None => {
                return Err((c.to_owned(), String::from_utf8_lossy(bytes).into_owned()));
            }
        },
    };
    Ok(if node.was_base64 && text.contains('\r') {
        text.replace("\r\n", "\n")
    } else {
        text
    })
}

/// Nesting depth beyond which HTML is not given to html2text, whose run time grows with the
/// square of the depth (100,000 nested `<div>`s take minutes).
const MAX_HTML_DEPTH: usize = 400;

/// Elements that are void or implicitly closed, so they do not count towards nesting depth.
const FLAT_ELEMENTS: &[&str] = &[
    "br", "img", "hr", "meta", "link", "input", "area", "base", "col", "embed", "param", "source",
    "track", "wbr", "p", "li", "td", "th", "tr", "option", "dt", "dd", "!--", "!doctype",
];

/// A rough upper estimate of the element nesting depth of `html`: open tags minus close tags,
/// ignoring [`FLAT_ELEMENTS`] and self-closing tags. Linear time.
fn html_depth(html: &str) -> usize {
    let b = html.as_bytes();
    let (mut depth, mut max) = (0usize, 0usize);
    let mut pos = 0;
    while let Some(i) = memchr::memchr(b'<', &b[pos..]) {
        let start = pos + i + 1;
        let close = b.get(start) == Some(&b'/');
        let name_start = if close { start + 1 } else { start };
        let mut end = name_start;
        while end < b.len() && (b[end].is_ascii_alphanumeric() || b[end] == b'!' || b[end] == b'-')
        {
            end += 1;
        }
        pos = end.max(start);
        if end == name_start {
            continue;
        }
        let name = html[name_start..end].to_ascii_lowercase();
        if FLAT_ELEMENTS.contains(&name.as_str()) || name.starts_with("!--") {
            continue;
        }
        let gt = memchr::memchr(b'>', &b[pos..]).map(|g| pos + g);
        if !close && gt.is_some_and(|g| g > 0 && b[g - 1] == b'/') {
            continue;
        }
        if close {
            depth = depth.saturating_sub(1);
        } else {
            depth += 1;
            max = max.max(depth);
        }
    }
    max
}

/// Crude HTML → text for input html2text cannot take: tags, `<script>` and `<style>` contents
/// dropped, the common entities and numeric references decoded.
fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let lower = html.to_ascii_lowercase();
    let mut i = 0;
    while i < html.len() {
        let rest = &html[i..];
        if rest.starts_with('<') {
            let lrest = &lower[i..];
            let skip_to = if lrest.starts_with("<script") {
                lrest.find("</script").map(|e| i + e)
            } else if lrest.starts_with("<style") {
                lrest.find("</style").map(|e| i + e)
            } else {
                None
            };
            let from = skip_to.unwrap_or(i);
            i = html[from..]
                .find('>')
                .map(|e| from + e + 1)
                .unwrap_or(html.len());
        } else if rest.starts_with('&') {
            let semi = memchr::memchr(b';', &rest.as_bytes()[..rest.len().min(12)]);
            let decoded = semi.and_then(|s| {
                let ent = &rest[1..s];
                let c = match ent {
                    "amp" => Some('&'),
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "quot" => Some('"'),
                    "apos" => Some('\''),
                    "nbsp" => Some('\u{a0}'),
                    _ => ent
                        .strip_prefix("#x")
                        .or_else(|| ent.strip_prefix("#X"))
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                        .or_else(|| ent.strip_prefix('#').and_then(|d| d.parse().ok()))
                        .and_then(char::from_u32),
                }?;
                Some((c, s + 1))
            });
            match decoded {
                Some((c, len)) => {
                    out.push(c);
                    i += len;
                }
                None => {
                    out.push('&');
                    i += 1;
                }
            }
        } else {
            let next = rest.find(['<', '&']).unwrap_or(rest.len());
            out.push_str(&rest[..next]);
            i += next;
        }
    }
    out
}

/// Renders HTML as text at `width` columns via html2text; pathologically nested HTML, or HTML
/// html2text fails on, is stripped of its tags instead.
fn html_to_text(html: &str, width: usize) -> String {
    if html_depth(html) > MAX_HTML_DEPTH {
        return strip_tags(html);
    }
    let width = width.max(10);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        html2text::from_read(html.as_bytes(), width)
    }));
    match result {
        Ok(Ok(t)) => t,
        _ => strip_tags(html),
    }
}

fn render_text_leaf(out: &mut Out, node: &Node, bytes: &[u8]) {
    let (text, note) = match text_of(node, bytes) {
        Ok(t) => (t, None),
        Err((label, raw)) => (
            raw,
            Some(format!(
                "[-- unknown charset \"{}\", shown raw --]",
                sanitize(&label)
            )),
        ),
    };
    let text = if node.ctype == "text/html" {
        html_to_text(&text, out.width)
    } else {
        text
    };
    match note {
        Some(n) => out.block(&format!("{n}\n{text}")),
        None => out.block(&text),
    }
}

/// Whether a part is shown inline as text: `text/*`, and the header-like reports of bounces
/// and receipts (RFC 3464 `message/delivery-status`, RFC 8098
/// `message/disposition-notification`), unless marked as an attachment.
fn is_text(node: &Node) -> bool {
    let texty = node.ctype.starts_with("text/")
        || node.ctype == "message/delivery-status"
        || node.ctype == "message/disposition-notification";
    texty && node.disposition != "attachment"
}

fn render(out: &mut Out, node: &Node) {
    match &node.kind {
        Kind::Leaf(bytes) => {
            if is_text(node) {
                render_text_leaf(out, node, bytes);
            } else {
                attachment_line(out, node, bytes.len());
            }
        }
        Kind::Broken(raw) => out.block(&charset::decode_guess(raw)),
        Kind::Message {
            bytes,
            fields,
            inner,
        } => {
            out.line(&format!(
                "[-- #{} {}, {} --]",
                node.number,
                node.ctype,
                human_size(bytes.len())
            ));
            let mut head = String::new();
            for name in ["From", "Date", "Subject", "To"] {
                if let Some(v) = header::find(fields, name) {
                    head.push_str(&format!(
                        "{name}: {}\n",
                        sanitize(header::decode_words(v).trim())
                    ));
                }
            }
            out.text.push_str(&head);
            out.text.push('\n');
            render(out, inner);
        }
        Kind::Multipart(children) => match node.ctype.as_str() {
            "multipart/alternative" => {
                let pick = children
                    .iter()
                    .find(|c| {
                        c.ctype == "text/plain" && is_text(c) && matches!(c.kind, Kind::Leaf(_))
                    })
                    .or_else(|| {
                        children
                            .iter()
                            .find(|c| matches!(c.kind, Kind::Multipart(_)))
                    })
                    .or_else(|| children.iter().find(|c| is_text(c)));
                match pick {
                    Some(c) => render(out, c),
                    None => children.iter().for_each(|c| render(out, c)),
                }
            }
            "multipart/related" => {
                // RFC 2387: the root (first part) is the document, the rest its resources.
                if let Some((first, rest)) = children.split_first() {
                    render(out, first);
                    for c in rest {
                        match &c.kind {
                            Kind::Leaf(b) => attachment_line(out, c, b.len()),
                            _ => render(out, c),
                        }
                    }
                }
            }
            _ => children.iter().for_each(|c| render(out, c)),
        },
    }
}

/// Parses `message` into its part tree, allowing encapsulated messages to copy up to three
/// times the message size plus 1 MiB.
fn tree(message: &[u8]) -> Node {
    let budget = Cell::new(message.len().saturating_mul(3).saturating_add(1 << 20));
    build(message, "", true, true, "text/plain", 0, &budget)
}

/// Renders the body of `message` (header block + blank line + body, LF line ends, no `From_`
/// line; one is skipped if present) as text for the terminal with [`RenderOptions::default`].
/// See [`render_body_with`].
pub fn render_body(message: &[u8]) -> String {
    render_body_with(message, &RenderOptions::default())
}

/// Renders the body of `message` as text for the terminal:
/// - transfer encodings undone, charsets converted to UTF-8 (an unknown charset is shown raw
///   after a `[-- unknown charset "x", shown raw --]` line);
/// - `multipart/alternative` by its text/plain part (else the first text one), HTML via
///   html2text at `opts.width` columns, HTML-only mail likewise;
/// - `message/rfc822` parts as a `[-- #n message/rfc822, size --]` line, their From, Date,
///   Subject and To, a blank line and their body rendered recursively;
/// - non-text parts and text parts with `Content-Disposition: attachment` listed as
///   `[-- #2 application/pdf, 12K, "report.pdf" --]`;
/// - a multipart whose delimiters cannot be found: the raw body text;
/// - a message without MIME headers: the body as is (byte for byte when valid UTF-8), else
///   guessed with [`charset::decode_guess`].
///
/// Several inline text parts are separated by a blank line. Never fails.
pub fn render_body_with(message: &[u8], opts: &RenderOptions) -> String {
    let tree = tree(message);
    let mut out = Out {
        text: String::new(),
        width: opts.width,
    };
    render(&mut out, &tree);
    out.text
}

fn collect<'a>(node: &'a Node, list: &mut Vec<(&'a Node, &'a [u8])>) {
    match &node.kind {
        Kind::Leaf(b) | Kind::Broken(b) => list.push((node, b)),
        Kind::Message { bytes, inner, .. } => {
            list.push((node, bytes));
            collect(inner, list);
        }
        Kind::Multipart(children) => children.iter().for_each(|c| collect(c, list)),
    }
}

/// Lists the parts of `message` in order, for the reader's attachment listing: every
/// non-multipart part (including `message/rfc822` parts, followed by their own parts), with
/// its IMAP-style number, type, decoded size and file name. Multipart containers are not
/// listed; a broken multipart is listed as one part holding its raw body. Never fails.
pub fn parts(message: &[u8]) -> Vec<PartInfo> {
    let tree = tree(message);
    let mut list = Vec::new();
    collect(&tree, &mut list);
    list.into_iter()
        .map(|(n, b)| PartInfo {
            number: n.number.clone(),
            content_type: n.ctype.clone(),
            size: b.len(),
            filename: filename(n),
            charset: header::param(&n.ctype_raw, "charset"),
            disposition: (!n.disposition.is_empty()).then(|| n.disposition.clone()),
        })
        .collect()
}

/// Returns the transfer-decoded bytes of part `number` (as listed by [`parts`]), for saving
/// an attachment; `None` when there is no such part.
pub fn part_content(message: &[u8], number: &str) -> Option<Vec<u8>> {
    let tree = tree(message);
    let mut list = Vec::new();
    collect(&tree, &mut list);
    list.into_iter()
        .find(|(n, _)| n.number == number)
        .map(|(_, b)| b.to_vec())
}

#[cfg(test)]
mod tests;
