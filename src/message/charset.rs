//! Charset labels → UTF-8.
//!
//! Labels are resolved by their WHATWG names (`encoding_rs`, which already knows `x-gbk`,
//! `ks_c_5601-1987`, `latin1`, `iso8859-1`, `cp1252`, `utf8`, …), plus aliases real mailers
//! send that the WHATWG list lacks (`cp936`, `ms936`, `euc-cn`, `cp950`, `iso_8859_1`, …).
//!
//! Invariants:
//! - a `gb2312`/`gbk`/`cp936` label is decoded as GB18030, the superset that real mailers
//!   actually produce (RFC 1922 names GB2312, but the bytes are GBK or GB18030);
//! - `us-ascii` is decoded as windows-1252 (WHATWG), a superset, so 8-bit bytes in mislabelled
//!   mail still come out as text;
//! - WHATWG's "replacement" labels (`hz-gb-2312`, `iso-2022-kr`, …) and UTF-7 are treated as
//!   unknown: the caller shows the raw bytes with a note rather than one U+FFFD.
//! - Nothing here fails or panics: unknown labels give `None`, malformed bytes give U+FFFD.

use encoding_rs::Encoding;

/// Aliases not in the WHATWG label list, normalised (lower case, `_` → `-`), with the WHATWG
/// label they stand for.
const ALIASES: &[(&str, &str)] = &[
    ("cp936", "gb18030"),
    ("ms936", "gb18030"),
    ("windows-936", "gb18030"),
    ("euc-cn", "gb18030"),
    ("x-euc-cn", "gb18030"),
    ("gb18030-2000", "gb18030"),
    ("gb18030-2005", "gb18030"),
    ("gb2312-80", "gb18030"),
    ("cp950", "big5"),
    ("ms950", "big5"),
    ("windows-950", "big5"),
    ("x-x-big5", "big5"),
    ("big5hkscs", "big5"),
    ("cp932", "shift_jis"),
    ("windows-932", "shift_jis"),
    ("sjis", "shift_jis"),
    ("x-euc-jp", "euc-jp"),
    ("eucjp", "euc-jp"),
    ("euckr", "euc-kr"),
    ("cp949", "euc-kr"),
    ("ms949", "euc-kr"),
    ("windows-949", "euc-kr"),
    ("uhc", "euc-kr"),
    ("ks-c-5601-1987", "euc-kr"),
    ("ks-c-5601", "euc-kr"),
    ("cp874", "windows-874"),
    ("cp20866", "koi8-r"),
    ("koi8r", "koi8-r"),
    ("koi8u", "koi8-u"),
    ("cp65001", "utf-8"),
    ("utf-8-sig", "utf-8"),
    ("latin-1", "iso-8859-1"),
    ("latin-2", "iso-8859-2"),
    ("646", "us-ascii"),
    ("iso646-us", "us-ascii"),
    ("ansi-x3.4-1986", "us-ascii"),
    ("7bit", "us-ascii"),
    ("8bit", "us-ascii"),
];

/// Finds the decoder for a MIME charset label (case-insensitive, surrounding white space and
/// quotes ignored, an RFC 2231 §5 language suffix `*lang` ignored). GB2312/GBK labels map to
/// GB18030.
///
/// Returns `None` for labels no decoder is known for, including WHATWG's "replacement"
/// labels and UTF-7.
pub fn lookup(label: &str) -> Option<&'static Encoding> {
    let label = label.trim().trim_matches(|c| c == '"' || c == '\'').trim();
    // RFC 2231 §5: `charset*language` in encoded-words.
    let label = label.split('*').next().unwrap_or("");
    if label.is_empty() || label.len() > 64 {
        return None;
    }
    let norm = label.to_ascii_lowercase().replace('_', "-");
    let enc = Encoding::for_label(label.as_bytes())
        .or_else(|| Encoding::for_label(norm.as_bytes()))
        .or_else(|| {
            ALIASES
                .iter()
                .find(|(alias, _)| *alias == norm)
                .and_then(|(_, target)| Encoding::for_label(target.as_bytes()))
        })
        .or_else(|| numbered_alias(&norm))?;
    if enc == encoding_rs::REPLACEMENT {
        return None;
    }
    if enc == encoding_rs::GBK {
        // GB18030 decodes every GBK/GB2312 sequence plus the four-byte ones.
        return Some(encoding_rs::GB18030);
    }
    Some(enc)
}

/// `iso8859-15`, `iso-8859-1:1987`, `cp1250`, `windows1252`, `win-1251`: families spelled
/// with a number in odd ways.
fn numbered_alias(norm: &str) -> Option<&'static Encoding> {
    let digits_after = |prefix: &str| -> Option<&str> {
        let rest = norm.strip_prefix(prefix)?;
        let rest = rest.strip_prefix('-').unwrap_or(rest);
        let end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (num, tail) = rest.split_at(end);
        (!num.is_empty() && (tail.is_empty() || tail.starts_with(':'))).then_some(num)
    };
    for prefix in ["iso-8859", "iso8859", "iso-8859-", "iso8859-"] {
        if let Some(n) = digits_after(prefix) {
            return Encoding::for_label(format!("iso-8859-{n}").as_bytes());
        }
    }
    for prefix in ["windows", "win", "cp", "ms", "x-cp"] {
        if let Some(n) = digits_after(prefix) {
            if n.len() == 4 && n.starts_with("125") {
                return Encoding::for_label(format!("windows-{n}").as_bytes());
            }
        }
    }
    None
}

/// Decodes `bytes` labelled `label` to UTF-8; malformed sequences become U+FFFD. A byte order
/// mark is not treated specially (MIME labels are authoritative, RFC 2046 §4.1.2).
///
/// Returns `None` when the label is unknown (the caller shows the text raw, with a note).
pub fn decode(bytes: &[u8], label: &str) -> Option<String> {
    let enc = lookup(label)?;
    Some(enc.decode_without_bom_handling(bytes).0.into_owned())
}

/// Decodes unlabelled 8-bit text (raw 8-bit headers, MIME-less bodies): UTF-8 when valid
/// (returned byte for byte), else GB18030 when it decodes without a single error, else
/// windows-1252 (which maps every byte). Never fails.
pub fn decode_guess(bytes: &[u8]) -> String {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return s.to_owned();
    }
    if let Some(s) = encoding_rs::GB18030.decode_without_bom_handling_and_without_replacement(bytes)
    {
        return s.into_owned();
    }
    encoding_rs::WINDOWS_1252
        .decode_without_bom_handling(bytes)
        .0
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(label: &str) -> Option<&'static str> {
        lookup(label).map(|e| e.name())
    }

    #[test]
    fn whatwg_labels() {
        assert_eq!(name("UTF-8"), Some("UTF-8"));
        assert_eq!(name(" utf8 "), Some("UTF-8"));
        assert_eq!(name("latin1"), Some("windows-1252"));
        assert_eq!(name("iso8859-1"), Some("windows-1252"));
        assert_eq!(name("ISO-8859-2"), Some("ISO-8859-2"));
        assert_eq!(name("cp1252"), Some("windows-1252"));
        assert_eq!(name("us-ascii"), Some("windows-1252"));
        assert_eq!(name("ascii"), Some("windows-1252"));
        assert_eq!(name("Big5"), Some("Big5"));
        assert_eq!(name("ISO-2022-JP"), Some("ISO-2022-JP"));
        assert_eq!(name("koi8-r"), Some("KOI8-R"));
        assert_eq!(name("ks_c_5601-1987"), Some("EUC-KR"));
        assert_eq!(name("windows-1251"), Some("windows-1251"));
        assert_eq!(name("\"utf-8\""), Some("UTF-8"));
    }

    #[test]
    fn chinese_labels_are_gb18030() {
        for l in [
            "gb2312",
            "GB2312",
            "gbk",
            "x-gbk",
            "cp936",
            "ms936",
            "gb_2312-80",
            "euc-cn",
            "GB18030",
        ] {
            assert_eq!(name(l), Some("gb18030"), "{l}");
        }
    }

    #[test]
    fn odd_spellings() {
        assert_eq!(name("iso_8859_1"), Some("windows-1252"));
        assert_eq!(name("iso8859_15"), Some("ISO-8859-15"));
        assert_eq!(name("ISO-8859-1:1987"), Some("windows-1252"));
        assert_eq!(name("win-1251"), Some("windows-1251"));
        assert_eq!(name("windows1250"), Some("windows-1250"));
        assert_eq!(name("cp950"), Some("Big5"));
        assert_eq!(name("utf-8*zh"), Some("UTF-8"));
    }

    #[test]
    fn unknown_labels() {
        assert_eq!(name("x-foo"), None);
        assert_eq!(name(""), None);
        assert_eq!(name("hz-gb-2312"), None);
        assert_eq!(name("iso-2022-kr"), None);
        assert_eq!(name("unicode-1-1-utf-7"), None);
        assert_eq!(name("utf-7"), None);
        assert_eq!(decode(b"abc", "x-unknown"), None);
    }

    #[test]
    fn decodes() {
        assert_eq!(decode(b"\xd6\xd0\xce\xc4", "gb2312").unwrap(), "中文");
        assert_eq!(decode(b"\xa4\xa4\xa4\xe5", "big5").unwrap(), "中文");
        assert_eq!(decode(b"\x1b$BF|K\\\x1b(B", "iso-2022-jp").unwrap(), "日本");
        assert_eq!(
            decode(b"\xf0\xd2\xc9\xd7\xc5\xd4", "koi8-r").unwrap(),
            "Привет"
        );
        assert_eq!(decode(b"caf\xe9", "iso-8859-1").unwrap(), "café");
        assert_eq!(decode(b"\x80", "windows-1252").unwrap(), "€");
        // Malformed UTF-8 → U+FFFD, not a failure.
        assert_eq!(decode(b"a\xffb", "utf-8").unwrap(), "a\u{fffd}b");
        // A GB18030 four-byte sequence under a GB2312 label.
        assert_eq!(decode(b"\x81\x30\x81\x30", "gb2312").unwrap(), "\u{80}");
    }

    #[test]
    fn guess() {
        assert_eq!(decode_guess("中文 ok".as_bytes()), "中文 ok");
        assert_eq!(decode_guess(b"\xd6\xd0\xce\xc4"), "中文");
        assert_eq!(decode_guess(b"caf\xe9 au lait"), "café au lait");
        assert_eq!(decode_guess(b"caf\xe9"), "café");
        assert_eq!(decode_guess(b""), "");
    }
}
