//! POP3 command-line parsing (RFC 1939 §3, RFC 2449 §3): the keyword, matched
//! case-insensitively, and its arguments, separated by single spaces (several are
//! tolerated); message numbers and line counts as decimal numbers.
//!
//! Pure functions over one command line without its line end.

/// A command keyword (RFC 1939 §4-7, RFC 2449 §5, RFC 2595 §4, RFC 5034 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verb {
    User,
    Pass,
    Quit,
    Stat,
    List,
    Retr,
    Dele,
    Noop,
    Rset,
    Top,
    Uidl,
    Capa,
    Stls,
    Auth,
    /// APOP and anything else.
    Unknown,
}

/// Splits a command line into its keyword and the rest after the first space (empty when
/// there is none); the rest is kept as sent, since PASS may treat spaces as part of the
/// password (RFC 1939 §7).
pub(crate) fn split(line: &[u8]) -> (Verb, &[u8]) {
    let (word, rest) = match memchr::memchr(b' ', line) {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, &line[line.len()..]),
    };
    let verb = match word.to_ascii_uppercase().as_slice() {
        b"USER" => Verb::User,
        b"PASS" => Verb::Pass,
        b"QUIT" => Verb::Quit,
        b"STAT" => Verb::Stat,
        b"LIST" => Verb::List,
        b"RETR" => Verb::Retr,
        b"DELE" => Verb::Dele,
        b"NOOP" => Verb::Noop,
        b"RSET" => Verb::Rset,
        b"TOP" => Verb::Top,
        b"UIDL" => Verb::Uidl,
        b"CAPA" => Verb::Capa,
        b"STLS" => Verb::Stls,
        b"AUTH" => Verb::Auth,
        _ => Verb::Unknown,
    };
    (verb, rest)
}

/// The space-separated arguments (empty words from repeated spaces skipped).
pub(crate) fn args(rest: &[u8]) -> Vec<&[u8]> {
    rest.split(|&b| b == b' ')
        .filter(|w| !w.is_empty())
        .collect()
}

/// A decimal number without sign (RFC 1939 §3 message numbers and TOP's line count);
/// `Err(())` for anything else. Too large a number saturates at `u64::MAX`, which is never a
/// valid message number.
pub(crate) fn number(word: &[u8]) -> Result<u64, ()> {
    if word.is_empty() || !word.iter().all(u8::is_ascii_digit) {
        return Err(());
    }
    Ok(word.iter().fold(0u64, |n, &d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_and_arguments() {
        assert_eq!(split(b"retr 1"), (Verb::Retr, &b"1"[..]));
        assert_eq!(
            split(b"PASS  two words "),
            (Verb::Pass, &b" two words "[..])
        );
        assert_eq!(split(b"STAT"), (Verb::Stat, &b""[..]));
        assert_eq!(split(b"APOP u d"), (Verb::Unknown, &b"u d"[..]));
        assert_eq!(split(b""), (Verb::Unknown, &b""[..]));
        assert_eq!(args(b" 1  2 "), vec![&b"1"[..], b"2"]);
    }

    #[test]
    fn numbers() {
        assert_eq!(number(b"0"), Ok(0));
        assert_eq!(number(b"0042"), Ok(42));
        assert_eq!(number(b"99999999999999999999999"), Ok(u64::MAX));
        for bad in [&b""[..], b"+1", b"-1", b"1a", b"\xff"] {
            assert_eq!(number(bad), Err(()));
        }
    }
}
