//! Header fields: splitting a header block, unfolding, RFC 2047 encoded-words and RFC 2231
//! parameters (RFC 5322 §2.2, RFC 2047, RFC 2231).

/// One header field as it stands in the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The field name as written (case kept).
    pub name: String,
    /// The raw value after the colon, folding line ends kept, final line end removed.
    pub value: Vec<u8>,
}

/// Splits a header block (bytes up to, not including, the blank line; LF or CRLF) into fields.
/// Lines before the first field that are not `name: value` are skipped.
pub fn split_fields(block: &[u8]) -> Vec<Field> {
    let mut out: Vec<Field> = Vec::new();
    for line in block.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        if (line[0] == b' ' || line[0] == b'\t') && !out.is_empty() {
            let last = out.last_mut().unwrap();
            last.value.push(b'\n');
            last.value.extend_from_slice(line);
            continue;
        }
        if let Some(colon) = line.iter().position(|&b| b == b':') {
            let name = String::from_utf8_lossy(&line[..colon]).trim().to_owned();
            let mut value = &line[colon + 1..];
            if value.first() == Some(&b' ') {
                value = &value[1..];
            }
            out.push(Field { name, value: value.to_vec() });
        }
    }
    out
}

/// Removes folding (RFC 5322 §2.2.3): CRLF/LF followed by white space becomes that white space.
pub fn unfold(value: &[u8]) -> Vec<u8> {
    value.iter().copied().filter(|&b| b != b'\n' && b != b'\r').collect()
}

/// Decodes an unstructured header value for display: unfolds, decodes RFC 2047 encoded-words
/// (adjacent words of one charset joined before decoding), raw 8-bit via
/// [`crate::message::charset::decode_guess`]. Never fails.
pub fn decode_words(value: &[u8]) -> String {
    let unfolded = unfold(value);
    let s = crate::message::charset::decode_guess(&unfolded);
    mailparse::parse_header(format!("X: {s}").as_bytes())
        .map(|(h, _)| h.get_value())
        .unwrap_or(s)
}

/// Returns parameter `name` of a structured value such as `text/plain; charset="gbk"`,
/// RFC 2231 continuations and charsets decoded. `None` when absent.
pub fn param(value: &str, name: &str) -> Option<String> {
    let parsed = mailparse::parse_content_type(value);
    parsed.params.get(&name.to_ascii_lowercase()).cloned()
}
