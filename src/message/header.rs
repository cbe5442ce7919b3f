//! Header fields: splitting a header block, unfolding, RFC 2047 encoded-words and RFC 2231
//! parameters (RFC 5322 §2.2, RFC 2047, RFC 2231).
//!
//! Everything here works on raw bytes, runs in linear time and never fails: what cannot be
//! decoded is shown as written. The decoders are lenient where real mailers are sloppy
//! (encoded-words inside quoted strings and parameters, words touching text, split multibyte
//! characters across words) and strict where leniency would corrupt text (a malformed
//! encoded-word is left as written).

use crate::message::charset;

/// One header field as it stands in the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The field name as written (case kept, white space before the colon removed).
    pub name: String,
    /// The raw value after the colon: leading white space of the first line removed, folding
    /// kept as `\n` + the continuation line (CR removed), final line end removed.
    pub value: Vec<u8>,
}

/// Splits a header block (bytes up to, not including, the blank line; LF or CRLF) into fields
/// (RFC 5322 §2.2). Stops at the first empty line, so passing a whole message is harmless.
///
/// Lines that are not `name: value` (no colon, or a name with white space or control bytes,
/// such as a `From_` line) are skipped, and so are their continuation lines. Field names may be
/// followed by white space before the colon (RFC 5322 §4.5 obsolete syntax). Linear time.
pub fn split_fields(block: &[u8]) -> Vec<Field> {
    let mut out: Vec<Field> = Vec::new();
    // Whether continuation lines belong to the last field in `out` (false after garbage).
    let mut in_field = false;
    for line in block.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if in_field {
                if let Some(last) = out.last_mut() {
                    last.value.push(b'\n');
                    last.value.extend_from_slice(line);
                }
            }
            continue;
        }
        match field_line(line) {
            Some((name, value)) => {
                out.push(Field {
                    name,
                    value: value.to_vec(),
                });
                in_field = true;
            }
            None => in_field = false,
        }
    }
    out
}

/// Splits `name: value` (RFC 5322 §3.6.8 field name: printable ASCII except colon), or `None`.
fn field_line(line: &[u8]) -> Option<(String, &[u8])> {
    let colon = memchr::memchr(b':', line)?;
    let mut name = &line[..colon];
    while let Some((&last, rest)) = name.split_last() {
        if last == b' ' || last == b'\t' {
            name = rest;
        } else {
            break;
        }
    }
    if name.is_empty() || !name.iter().all(|&b| (33..=126).contains(&b)) {
        return None;
    }
    let mut value = &line[colon + 1..];
    while let Some((&first, rest)) = value.split_first() {
        if first == b' ' || first == b'\t' {
            value = rest;
        } else {
            break;
        }
    }
    Some((String::from_utf8_lossy(name).into_owned(), value))
}

/// Finds the end of the header block of `message`: returns `(header_len, body_start)` where
/// `header_len` includes the last header line's line end and `body_start` is the offset after
/// the blank line (LF or CRLF). A message without a blank line is all header.
pub fn header_end(message: &[u8]) -> (usize, usize) {
    if message.starts_with(b"\n") {
        return (0, 1);
    }
    if message.starts_with(b"\r\n") {
        return (0, 2);
    }
    let mut pos = 0;
    while let Some(i) = memchr::memchr(b'\n', &message[pos..]) {
        let nl = pos + i;
        let next = nl + 1;
        if message[next..].starts_with(b"\n") {
            return (next, next + 1);
        }
        if message[next..].starts_with(b"\r\n") {
            return (next, next + 2);
        }
        pos = next;
    }
    (message.len(), message.len())
}

/// Returns the raw value of the first field called `name` (case-insensitive), or `None`.
pub fn find<'a>(fields: &'a [Field], name: &str) -> Option<&'a [u8]> {
    fields
        .iter()
        .find(|f| f.name.eq_ignore_ascii_case(name))
        .map(|f| f.value.as_slice())
}

/// Removes folding (RFC 5322 §2.2.3): every CR and LF is dropped, so CRLF/LF followed by white
/// space becomes that white space.
pub fn unfold(value: &[u8]) -> Vec<u8> {
    value
        .iter()
        .copied()
        .filter(|&b| b != b'\n' && b != b'\r')
        .collect()
}

/// One RFC 2047 encoded-word found in a value.
struct Word<'a> {
    /// Charset label without the RFC 2231 `*lang` suffix.
    charset: &'a str,
    /// The decoded bytes (still in `charset`).
    bytes: Vec<u8>,
    /// Length of the word in the input, `=?` to `?=` inclusive.
    len: usize,
}

/// Parses an encoded-word `=?charset[*lang]?B|Q?text?=` at the start of `s` (RFC 2047 §2,
/// RFC 2231 §5). `None` when it is not one or its text does not decode (malformed words are
/// left as written).
fn encoded_word(s: &[u8]) -> Option<Word<'_>> {
    let rest = s.strip_prefix(b"=?")?;
    let q1 = memchr::memchr(b'?', rest)?;
    let label = &rest[..q1];
    if label.is_empty() || label.len() > 64 || label.iter().any(|&b| b <= b' ' || b >= 127) {
        return None;
    }
    let rest = &rest[q1 + 1..];
    let enc = *rest.first()?;
    if rest.get(1) != Some(&b'?') {
        return None;
    }
    let text_all = &rest[2..];
    let q2 = memchr::memchr(b'?', text_all)?;
    if text_all.get(q2 + 1) != Some(&b'=') {
        return None;
    }
    let text = &text_all[..q2];
    let bytes = match enc {
        b'B' | b'b' => base64_word(text)?,
        b'Q' | b'q' => q_word(text),
        _ => return None,
    };
    let label = std::str::from_utf8(label).ok()?;
    let charset = label.split('*').next().unwrap_or(label);
    Some(Word {
        charset,
        bytes,
        len: 2 + q1 + 1 + 2 + q2 + 2,
    })
}

fn b64_value(b: u8) -> Option<u32> {
    Some(match b {
        b'A'..=b'Z' => b - b'A',
        b'a'..=b'z' => b - b'a' + 26,
        b'0'..=b'9' => b - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    } as u32)
}

/// Strict base64 for encoded-words: only the alphabet and trailing `=` padding (missing
/// padding tolerated). `None` on any other byte.
fn base64_word(text: &[u8]) -> Option<Vec<u8>> {
    let data = {
        let mut end = text.len();
        while end > 0 && text[end - 1] == b'=' {
            end -= 1;
        }
        &text[..end]
    };
    let mut out = Vec::with_capacity(data.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for &b in data {
        acc = (acc << 6) | b64_value(b)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// RFC 2047 §4.2 "Q": `_` is a space, `=XX` a byte; a stray `=` is kept as is.
fn q_word(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'_' => out.push(b' '),
            b'=' if i + 2 < text.len()
                && hex(text[i + 1]).is_some()
                && hex(text[i + 2]).is_some() =>
            {
                out.push(hex(text[i + 1]).unwrap_or(0) * 16 + hex(text[i + 2]).unwrap_or(0));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// Decodes a run of bytes in one charset; unknown labels fall back to
/// [`charset::decode_guess`] (`unknown-8bit` words are usually UTF-8 or Latin-1).
fn decode_run(bytes: &[u8], label: &str) -> String {
    charset::decode(bytes, label).unwrap_or_else(|| charset::decode_guess(bytes))
}

/// Whether two labels name one decoder (`gb2312` and `GBK` do), so their bytes may be joined.
fn same_charset(a: &str, b: &str) -> bool {
    match (charset::lookup(a), charset::lookup(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a.eq_ignore_ascii_case(b),
    }
}

/// Decodes an unstructured header value for display (RFC 2047): unfolds, decodes encoded-words
/// `=?charset?B|Q?…?=` (case-insensitive, RFC 2231 §5 `charset*lang` accepted) wherever they
/// occur, including inside quoted strings and touching other text.
///
/// - White space between two encoded-words is removed (RFC 2047 §6.2).
/// - Adjacent words in the same charset are joined at the byte level before charset decoding,
///   so a multibyte character split across two words comes out whole.
/// - Malformed words (bad base64, missing `?=`) are left as written; words in an unknown
///   charset are decoded with [`charset::decode_guess`].
/// - Raw 8-bit text is decoded with [`charset::decode_guess`].
///
/// Never fails; linear time.
pub fn decode_words(value: &[u8]) -> String {
    let value = unfold(value);
    let mut out = String::with_capacity(value.len());
    // Pending run of encoded-word bytes in one charset.
    let mut run: Vec<u8> = Vec::new();
    let mut run_charset: Option<String> = None;
    // Start of the plain text not yet emitted.
    let mut text_start = 0;
    let mut i = 0;
    let flush = |out: &mut String, run: &mut Vec<u8>, run_charset: &mut Option<String>| {
        if let Some(cs) = run_charset.take() {
            out.push_str(&decode_run(run, &cs));
            run.clear();
        }
    };
    while i < value.len() {
        let Some(off) = memchr::memmem::find(&value[i..], b"=?") else {
            break;
        };
        let at = i + off;
        match encoded_word(&value[at..]) {
            Some(w) => {
                let between = &value[text_start..at];
                let only_space = between.iter().all(|&b| b == b' ' || b == b'\t');
                if run_charset.is_some() && only_space {
                    // RFC 2047 §6.2: white space between encoded-words is dropped.
                    let same = run_charset
                        .as_deref()
                        .is_some_and(|c| same_charset(c, w.charset));
                    if !same {
                        flush(&mut out, &mut run, &mut run_charset);
                    }
                } else {
                    flush(&mut out, &mut run, &mut run_charset);
                    out.push_str(&charset::decode_guess(between));
                }
                if run_charset.is_none() {
                    run_charset = Some(w.charset.to_owned());
                }
                run.extend_from_slice(&w.bytes);
                i = at + w.len;
                text_start = i;
            }
            None => i = at + 1,
        }
    }
    flush(&mut out, &mut run, &mut run_charset);
    out.push_str(&charset::decode_guess(&value[text_start..]));
    out
}

/// Returns the value before the first `;` of a structured value such as
/// `Text/Plain; charset=gbk`, trimmed and lower-cased, comments removed (RFC 2045 §5.1).
pub fn main_value(value: &str) -> String {
    let head = value.split(';').next().unwrap_or("");
    let mut out = String::with_capacity(head.len());
    let mut depth = 0usize;
    for c in head.chars() {
        match c {
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            c if c.is_whitespace() || c == '"' => {}
            c => out.push(c.to_ascii_lowercase()),
        }
    }
    out
}

/// Splits the `; attr=value` list of a structured value into raw `(attribute, value)` pairs:
/// attribute lower-cased and trimmed, quoted strings unquoted (RFC 2045 §5.1, RFC 822 §3.4.4
/// quoted-pair), unterminated quotes run to the end. Linear time.
fn raw_params(value: &str) -> Vec<(String, String)> {
    let b = value.as_bytes();
    let mut out = Vec::new();
    // Skip the main value, honouring quotes.
    let mut i = 0;
    let mut in_quote = false;
    while i < b.len() {
        match b[i] {
            b'"' => in_quote = !in_quote,
            b'\\' if in_quote => i += 1,
            b';' if !in_quote => break,
            _ => {}
        }
        i += 1;
    }
    while i < b.len() {
        // At a ';' or white space.
        while i < b.len() && (b[i] == b';' || b[i].is_ascii_whitespace()) {
            i += 1;
        }
        let name_start = i;
        while i < b.len() && b[i] != b'=' && b[i] != b';' {
            i += 1;
        }
        let name = value[name_start..i].trim().to_ascii_lowercase();
        if i >= b.len() || b[i] == b';' {
            continue; // attribute without value: skipped
        }
        i += 1; // '='
        while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
            i += 1;
        }
        let val = if i < b.len() && b[i] == b'"' {
            i += 1;
            let mut v = Vec::new();
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' && i + 1 < b.len() {
                    i += 1;
                }
                v.push(b[i]);
                i += 1;
            }
            i += 1; // closing quote (or past the end)
                    // Anything up to the next ';' after the closing quote is ignored.
            while i < b.len() && b[i] != b';' {
                i += 1;
            }
            String::from_utf8_lossy(&v).into_owned()
        } else {
            let start = i;
            while i < b.len() && b[i] != b';' {
                i += 1;
            }
            value[start..i].trim().to_owned()
        };
        if !name.is_empty() {
            out.push((name, val));
        }
    }
    out
}

/// Percent-decodes an RFC 2231 §4 extended value; a stray `%` is kept.
fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// Splits `charset'lang'rest` (RFC 2231 §4); `None` charset when the quotes are missing.
fn split_ext(s: &str) -> (Option<&str>, &str) {
    let mut it = s.splitn(3, '\'');
    match (it.next(), it.next(), it.next()) {
        (Some(cs), Some(_lang), Some(rest)) => (Some(cs), rest),
        _ => (None, s),
    }
}

fn decode_ext_bytes(bytes: &[u8], cs: Option<&str>) -> String {
    match cs.filter(|c| !c.is_empty()) {
        Some(cs) => decode_run(bytes, cs),
        None => charset::decode_guess(bytes),
    }
}

/// Returns parameter `name` (case-insensitive) of a structured value such as
/// `text/plain; charset="gbk"` or `attachment; filename*0*=utf-8''%E4%B8; filename*1*=%AD`.
///
/// Handles quoted strings, RFC 2231 §4 `charset'lang'percent-encoding`, RFC 2231 §3
/// continuations (`name*0`, `name*1*`, …, joined at the byte level, stopping at the first gap),
/// and the RFC 2047-in-parameter abuse real mailers send (`name="=?UTF-8?B?…?="`). An RFC 2231
/// value is preferred over a plain one of the same name. `None` when absent.
pub fn param(value: &str, name: &str) -> Option<String> {
    param_impl(value, name, true)
}

/// Like [`param`] but without RFC 2047 decoding of plain values: for parameters that are
/// protocol tokens rather than text, such as `boundary` (RFC 2046 §5.1.1).
pub fn param_raw(value: &str, name: &str) -> Option<String> {
    param_impl(value, name, false)
}

fn param_impl(value: &str, name: &str, words: bool) -> Option<String> {
    let name = name.to_ascii_lowercase();
    let params = raw_params(value);
    let mut plain: Option<&str> = None;
    let mut extended: Option<&str> = None;
    // (index, encoded?, value)
    let mut sections: Vec<(u32, bool, &str)> = Vec::new();
    for (attr, val) in &params {
        let Some(rest) = attr.strip_prefix(name.as_str()) else {
            continue;
        };
        if rest.is_empty() {
            plain.get_or_insert(val);
        } else if rest == "*" {
            extended.get_or_insert(val);
        } else if let Some(sec) = rest.strip_prefix('*') {
            let (num, enc) = match sec.strip_suffix('*') {
                Some(n) => (n, true),
                None => (sec, false),
            };
            if let Ok(n) = num.parse::<u32>() {
                if num.len() <= 4 && !sections.iter().any(|s| s.0 == n) {
                    sections.push((n, enc, val));
                }
            }
        }
    }
    if let Some(v) = extended {
        let (cs, rest) = split_ext(v);
        return Some(decode_ext_bytes(&percent_decode(rest), cs));
    }
    if !sections.is_empty() {
        sections.sort_by_key(|s| s.0);
        let mut bytes = Vec::new();
        let mut cs = None;
        let mut any_encoded = false;
        for (k, (n, enc, val)) in sections.iter().enumerate() {
            if *n != k as u32 {
                break; // RFC 2231 §3: sections are consecutive from 0
            }
            if *enc {
                any_encoded = true;
                let v = if k == 0 {
                    let (c, rest) = split_ext(val);
                    cs = c;
                    rest
                } else {
                    val
                };
                bytes.extend_from_slice(&percent_decode(v));
            } else {
                bytes.extend_from_slice(val.as_bytes());
            }
        }
        if !bytes.is_empty() || any_encoded {
            let s = decode_ext_bytes(&bytes, cs);
            return Some(if any_encoded || !words {
                s
            } else {
                decode_words(s.as_bytes())
            });
        }
    }
    plain.map(|v| {
        if words {
            decode_words(v.as_bytes())
        } else {
            v.to_owned()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_lf_crlf_folded_garbage() {
        let block = b"From sender Fri Mar 22 13:10:55 2024\n  cont of garbage\nSubject: hi\r\n there\r\nTo : a@b\nnot a header\n\tignored\nX-Empty:\nDate:Fri\n\nBody: no\n";
        let f = split_fields(block);
        let names: Vec<_> = f.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["Subject", "To", "X-Empty", "Date"]);
        assert_eq!(f[0].value, b"hi\n there");
        assert_eq!(f[1].value, b"a@b");
        assert_eq!(f[2].value, b"");
        assert_eq!(f[3].value, b"Fri");
        assert_eq!(find(&f, "subject"), Some(&b"hi\n there"[..]));
    }

    #[test]
    fn split_huge_header_is_linear() {
        let mut block = Vec::new();
        for i in 0..5000 {
            block.extend_from_slice(format!("X-Line-{i}: value {i}\n continued\n").as_bytes());
        }
        let t = std::time::Instant::now();
        let f = split_fields(&block);
        assert_eq!(f.len(), 5000);
        assert_eq!(f[4999].value, b"value 4999\n continued");
        // One field folded over 5,000 lines.
        let mut block = b"Received: x\n".to_vec();
        for _ in 0..5000 {
            block.extend_from_slice(b" more\n");
        }
        let f = split_fields(&block);
        assert_eq!(f.len(), 1);
        assert!(t.elapsed().as_secs() < 2);
    }

    #[test]
    fn header_end_lf_crlf() {
        assert_eq!(header_end(b"A: b\n\nbody"), (5, 6));
        assert_eq!(header_end(b"A: b\r\n\r\nbody"), (6, 8));
        assert_eq!(header_end(b"\nbody"), (0, 1));
        assert_eq!(header_end(b"A: b\n"), (5, 5));
    }

    #[test]
    fn unfolds() {
        assert_eq!(unfold(b"a\r\n b\n\tc"), b"a b\tc");
    }

    #[test]
    fn words_basic_b_and_q() {
        assert_eq!(decode_words(b"=?utf-8?B?5Lit5paH?="), "中文");
        assert_eq!(
            decode_words(b"=?ISO-8859-1?q?caf=E9_au_lait?="),
            "café au lait"
        );
        assert_eq!(decode_words(b"=?iso-8859-1?Q?a?= b"), "a b");
        assert_eq!(decode_words(b"plain text"), "plain text");
        assert_eq!(decode_words(b"Re: =?UTF-8?b?5Lit?= end"), "Re: 中 end");
    }

    #[test]
    fn words_whitespace_between_dropped() {
        assert_eq!(decode_words(b"=?utf-8?Q?a?= =?utf-8?Q?b?="), "ab");
        assert_eq!(decode_words(b"=?utf-8?Q?a?=\n   =?iso-8859-1?Q?b?="), "ab");
        assert_eq!(decode_words(b"=?utf-8?Q?a?= x =?utf-8?Q?b?="), "a x b");
        assert_eq!(decode_words(b"=?utf-8?Q?a_?= =?utf-8?Q?_b?="), "a  b");
    }

    #[test]
    fn words_split_multibyte_utf8() {
        // "中文" = E4 B8 AD E6 96 87, split after the 4th byte.
        assert_eq!(
            decode_words(b"=?UTF-8?B?5Lit5g==?= =?UTF-8?B?loc=?="),
            "中文"
        );
        assert_eq!(
            decode_words(b"=?utf-8?Q?=E4=B8?=\r\n =?UTF-8?Q?=AD?="),
            "中"
        );
    }

    #[test]
    fn words_split_multibyte_gbk_and_gb2312() {
        // GBK "中文测试" = D6 D0 CE C4 B2 E2 CA D4, split mid-character.
        assert_eq!(
            decode_words(b"=?gbk?B?1tDOxLI=?= =?GBK?B?4srU?="),
            "中文测试"
        );
        assert_eq!(
            decode_words(b"=?gb2312?B?1tA=?=\n =?gb2312?B?zsQ=?="),
            "中文"
        );
        assert_eq!(decode_words(b"Subject =?GB2312?Q?=D6=D0?="), "Subject 中");
    }

    #[test]
    fn words_other_charsets() {
        // ISO-2022-JP "日本語"
        assert_eq!(
            decode_words(b"=?ISO-2022-JP?B?GyRCRnxLXDhsGyhC?="),
            "日本語"
        );
        // Big5 "中文"
        assert_eq!(decode_words(b"=?big5?B?pKSk5Q==?="), "中文");
        // RFC 2231 §5 language tag.
        assert_eq!(decode_words(b"=?utf-8*zh?B?5Lit5paH?="), "中文");
        assert_eq!(
            decode_words(b"=?US-ASCII*EN?Q?Keith_Moore?="),
            "Keith Moore"
        );
    }

    #[test]
    fn words_in_quoted_names() {
        assert_eq!(
            decode_words(b"\"=?utf-8?B?5Lit5paH?=\" <a@b>"),
            "\"中文\" <a@b>"
        );
    }

    #[test]
    fn words_malformed_left_alone() {
        assert_eq!(decode_words(b"=?utf-8?B?***?="), "=?utf-8?B?***?=");
        assert_eq!(decode_words(b"=?utf-8?X?abc?="), "=?utf-8?X?abc?=");
        assert_eq!(decode_words(b"=?utf-8?Q?abc"), "=?utf-8?Q?abc");
        assert_eq!(decode_words(b"=??Q?abc?="), "=??Q?abc?=");
        assert_eq!(decode_words(b"a =?= b ?= =?"), "a =?= b ?= =?");
        assert_eq!(decode_words(b"=?utf-8?Q?=ZZ?="), "=ZZ");
        // Unknown charset: bytes guessed.
        assert_eq!(decode_words(b"=?x-unknown?Q?caf=C3=A9?="), "café");
    }

    #[test]
    fn words_raw_8bit() {
        assert_eq!(decode_words("中文 =?utf-8?Q?x?=".as_bytes()), "中文 x");
        assert_eq!(decode_words(b"\xd6\xd0\xce\xc4"), "中文");
        assert_eq!(decode_words(b"caf\xe9"), "café");
    }

    #[test]
    fn main_values() {
        assert_eq!(main_value("Text/Plain; charset=gbk"), "text/plain");
        assert_eq!(
            main_value(" multipart/mixed (comment) ;b=1"),
            "multipart/mixed"
        );
    }

    #[test]
    fn params_plain_and_quoted() {
        let v = "text/plain; charset=\"gbk\"; format=flowed; x=\"a;b\\\"c\"";
        assert_eq!(param(v, "charset").as_deref(), Some("gbk"));
        assert_eq!(param(v, "FORMAT").as_deref(), Some("flowed"));
        assert_eq!(param(v, "x").as_deref(), Some("a;b\"c"));
        assert_eq!(param(v, "none"), None);
        assert_eq!(
            param("multipart/mixed; boundary=\"=_a b\"", "boundary").as_deref(),
            Some("=_a b")
        );
        assert_eq!(
            param("text/plain;charset=utf-8;", "charset").as_deref(),
            Some("utf-8")
        );
        assert_eq!(
            param("a; b=\"unterminated", "b").as_deref(),
            Some("unterminated")
        );
    }

    #[test]
    fn params_rfc2231() {
        let v = "attachment; filename*=UTF-8''%E4%B8%AD%E6%96%87.txt";
        assert_eq!(param(v, "filename").as_deref(), Some("中文.txt"));
        let v = "attachment;\n filename*0*=utf-8'zh'%E4%B8; filename*1*=%AD%E6%96%87;\n filename*2=\".pdf\"";
        assert_eq!(param(v, "filename").as_deref(), Some("中文.pdf"));
        let v = "message/external-body; URL*0=\"ftp://\"; URL*1=\"cs.utk.edu/pub\"";
        assert_eq!(param(v, "url").as_deref(), Some("ftp://cs.utk.edu/pub"));
        let v = "attachment; filename*=gbk''%D6%D0%CE%C4.doc; filename=\"fallback.doc\"";
        assert_eq!(param(v, "filename").as_deref(), Some("中文.doc"));
        let v = "attachment; filename*=''100%25%zz";
        assert_eq!(param(v, "filename").as_deref(), Some("100%%zz"));
        // A gap stops the continuation.
        let v = "a; n*0=x; n*2=z";
        assert_eq!(param(v, "n").as_deref(), Some("x"));
    }

    #[test]
    fn params_raw_boundary() {
        let v = "multipart/mixed; boundary=\"=?utf-8?q?x?=\"";
        assert_eq!(param_raw(v, "boundary").as_deref(), Some("=?utf-8?q?x?="));
        assert_eq!(param(v, "boundary").as_deref(), Some("x"));
    }

    #[test]
    fn words_join_across_label_spellings() {
        assert_eq!(decode_words(b"=?gb2312?B?1tDO?= =?GBK?B?xA==?="), "中文");
    }

    #[test]
    fn params_rfc2047_abuse() {
        let v = "application/pdf; name=\"=?UTF-8?B?5Lit5paH?=.pdf\"";
        assert_eq!(param(v, "name").as_deref(), Some("中文.pdf"));
        let v = "attachment; filename=\"=?gbk?B?1tA=?= =?gbk?B?zsQ=?=.doc\"";
        assert_eq!(param(v, "filename").as_deref(), Some("中文.doc"));
    }
}
