//! Modified UTF-7 for mailbox names (RFC 3501 §5.1.3), what IMAP4rev1 clients send and
//! expect; IMAP4rev2 clients use UTF-8 (RFC 9051 §5.1) and the store's names are UTF-8.

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/// `name` in modified UTF-7: printable ASCII as is, `&` as `&-`, anything else as
/// `&` + modified base64 of UTF-16 + `-`.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut run: Vec<u16> = Vec::new();
    let flush = |run: &mut Vec<u16>, out: &mut String| {
        if run.is_empty() {
            return;
        }
        out.push('&');
        let bytes: Vec<u8> = run.iter().flat_map(|u| u.to_be_bytes()).collect();
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                chunk.get(1).copied().unwrap_or(0),
                chunk.get(2).copied().unwrap_or(0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            let chars = chunk.len() + 1;
            for k in 0..chars {
                out.push(B64[((n >> (18 - 6 * k)) & 63) as usize] as char);
            }
        }
        out.push('-');
        run.clear();
    };
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut run, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut buf = [0u16; 2];
            run.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Decodes modified UTF-7; `None` when `s` is not valid modified UTF-7 (8-bit or control
/// bytes, a bad base64 run, bad UTF-16, a run encoding printable ASCII).
pub fn decode(s: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if !(0x20..0x7f).contains(&b) {
            return None;
        }
        if b != b'&' {
            out.push(b as char);
            i += 1;
            continue;
        }
        let end = i + 1 + s[i + 1..].iter().position(|&c| c == b'-')?;
        let run = &s[i + 1..end];
        i = end + 1;
        if run.is_empty() {
            out.push('&');
            continue;
        }
        let mut bits: u32 = 0;
        let mut nbits = 0;
        let mut units: Vec<u16> = Vec::new();
        let mut bytes: Vec<u8> = Vec::new();
        for &c in run {
            let v = B64.iter().position(|&x| x == c)? as u32;
            bits = (bits << 6) | v;
            nbits += 6;
            if nbits >= 8 {
                nbits -= 8;
                bytes.push((bits >> nbits) as u8);
                bits &= (1 << nbits) - 1;
            }
        }
        // Leftover bits must be fewer than 6 and zero; whole UTF-16 units only.
        if nbits >= 6 || bits != 0 || !bytes.len().is_multiple_of(2) {
            return None;
        }
        for pair in bytes.chunks(2) {
            units.push(u16::from_be_bytes([pair[0], pair[1]]));
        }
        let text = String::from_utf16(&units).ok()?;
        if text.chars().any(|c| (' '..='~').contains(&c)) {
            return None;
        }
        out.push_str(&text);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for (u, m) in [
            ("INBOX", "INBOX"),
            ("a&b", "a&-b"),
            ("Entwürfe", "Entw&APw-rfe"),
            ("台北/日本語", "&U,BTFw-/&ZeVnLIqe-"),
            ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
            ("😀", "&2D3eAA-"),
        ] {
            assert_eq!(encode(u), m);
            assert_eq!(decode(m.as_bytes()).as_deref(), Some(u));
        }
    }

    #[test]
    fn hostile() {
        for bad in [
            &b"&"[..],
            b"&U,BTF",
            b"&U,BTFw",
            b"&!!-",
            b"&AGE-", // encodes "a": must be plain ASCII
            b"&2D0-", // half a surrogate pair
            b"&3gA-", // lone low surrogate
            b"\xc3\xa4",
            b"a\tb",
            b"&AP-",   // leftover bits not zero
            b"&APw=-", // padding is not allowed
        ] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
        let long = "&".repeat(10000);
        assert_eq!(decode(encode(&long).as_bytes()).as_deref(), Some(&long[..]));
        let _ = decode(&b"&-".repeat(30000));
    }
}
