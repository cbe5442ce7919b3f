//! The mbox `From_` separator line (RFC 4155 appendix A): `From <sender> <date>`.
//!
//! Implemented: the asctime date written by `/bin/mail`, Postfix local(8), procmail, s-nail
//! and bsd-mailx, with the variants found in real mailboxes:
//!
//! - weekday optional: `From a@b Mar 22 13:10:55 2024`;
//! - day padded with a space (`Mar  2`) or a zero, seconds optional (`13:10`);
//! - a zone before the year (`13:10:55 PST 2024`, `13:10:55 +0800 2024`) or after it
//!   (`2024 +0800`), numeric or named (1–5 letters);
//! - runs of spaces or tabs anywhere, a trailing `\r` (CRLF files), a trailing
//!   `remote from <host>` (UUCP);
//! - any sender token, `-` and `MAILER-DAEMON` included, even one with spaces (the date is
//!   parsed from the right, the sender is what is left).
//!
//! Invariant: a line is a separator only when the whole date parses, so body text such as
//! `From the shed at 10:00` or a header `From: x` is never taken for one. No allocation is
//! done for lines that do not start with `From `; nothing here panics on any input.

use chrono::{NaiveDate, NaiveDateTime};

/// A parsed `From_` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FromLine {
    /// The envelope sender (`-` or `MAILER-DAEMON` included), as written.
    pub sender: String,
    /// The date text as written (asctime, possibly with a zone), trimmed.
    pub date: String,
}

impl FromLine {
    /// The date of the line as a wall-clock time in the sender's zone (the zone, if any, is
    /// not applied); `None` when it names an impossible day such as `Feb 30`.
    pub fn datetime(&self) -> Option<NaiveDateTime> {
        parse_date(&self.date)
    }
}

/// Byte ranges of the parts of a `From_` line, relative to the line given to [`parse_parts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Parts {
    /// Sender range (may be empty when the line has no sender at all).
    pub sender: (usize, usize),
    /// Date range, zone included, `remote from` excluded.
    pub date: (usize, usize),
    /// Date components: year, month (1–12), day, hour, minute, second.
    pub ymdhms: (i32, u32, u32, u32, u32, u32),
}

const MONTHS: [&[u8; 3]; 12] = [
    b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec",
];
const DAYS: [&[u8; 3]; 7] = [b"mon", b"tue", b"wed", b"thu", b"fri", b"sat", b"sun"];

/// Parses `line` (without its line end) as a `From_` line. Returns `None` when it is not one:
/// a body line such as `From the shed…` is text, not a separator. A trailing `\r` is ignored.
pub fn parse(line: &[u8]) -> Option<FromLine> {
    let p = parse_parts(line)?;
    Some(FromLine {
        sender: String::from_utf8_lossy(&line[p.sender.0..p.sender.1]).into_owned(),
        date: String::from_utf8_lossy(&line[p.date.0..p.date.1]).into_owned(),
    })
}

/// Parses the date text of a `From_` line (`Fri Mar 22 13:10:55 2024`, `Mar  2 13:10 PST
/// 2024`, `Fri Mar 22 13:10:55 2024 +0800`, …) into its wall-clock time; the zone is not
/// applied. `None` when the text is not such a date or names an impossible day.
pub fn parse_date(date: &str) -> Option<NaiveDateTime> {
    let toks = tokens(date.as_bytes(), 0);
    let (y, mo, d, h, mi, s) = parse_date_tokens(date.as_bytes(), &toks)?.1;
    NaiveDate::from_ymd_opt(y, mo, d)?.and_hms_opt(h, mi, s.min(59))
}

/// True when `line` (line end optional, `\n` or `\r\n`) is a valid `From_` line.
pub(crate) fn is_from_line(line: &[u8]) -> bool {
    parse_parts(line).is_some()
}

/// Whitespace-separated tokens of `s` starting at `from`, as byte ranges.
fn tokens(s: &[u8], from: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::with_capacity(8);
    let mut i = from;
    while i < s.len() {
        while i < s.len() && is_ws(s[i]) {
            i += 1;
        }
        let st = i;
        while i < s.len() && !is_ws(s[i]) {
            i += 1;
        }
        if i > st {
            out.push((st, i));
        }
    }
    out
}

fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// The core parser: see the module documentation for the accepted forms.
pub(crate) fn parse_parts(line: &[u8]) -> Option<Parts> {
    if !line.starts_with(b"From ") {
        return None;
    }
    let mut line = line;
    while let Some((&last, rest)) = line.split_last() {
        if last == b'\n' || last == b'\r' {
            line = rest;
        } else {
            break;
        }
    }
    // Anything longer is not a separator (keeps the scanner's look-ahead bounded).
    if line.len() > MAX_FROM_LINE {
        return None;
    }
    let mut toks = tokens(line, 5);
    // UUCP: `... 2024 remote from host`.
    let n = toks.len();
    if n >= 3 && eq_ci(line, toks[n - 3], b"remote") && eq_ci(line, toks[n - 2], b"from") {
        toks.truncate(n - 3);
    }
    let (first_date_tok, ymdhms) = parse_date_tokens(line, &toks)?;
    let date = (toks[first_date_tok].0, toks[toks.len() - 1].1);
    let sender = if first_date_tok == 0 {
        (5, 5)
    } else {
        (toks[0].0, toks[first_date_tok - 1].1)
    };
    Some(Parts {
        sender,
        date,
        ymdhms,
    })
}

/// Longest `From_` line (without line end) accepted as a separator, in bytes.
pub(crate) const MAX_FROM_LINE: usize = 4000;

fn eq_ci(s: &[u8], t: (usize, usize), word: &[u8]) -> bool {
    s[t.0..t.1].eq_ignore_ascii_case(word)
}

/// Parses the date from the end of `toks`; returns the index of the first date token and the
/// components.
#[allow(clippy::type_complexity)]
fn parse_date_tokens(
    s: &[u8],
    toks: &[(usize, usize)],
) -> Option<(usize, (i32, u32, u32, u32, u32, u32))> {
    let tok = |i: usize| &s[toks[i].0..toks[i].1];
    let mut i = toks.len();
    // Optional zone after the year.
    if i >= 1 && is_zone(tok(i - 1)) && i >= 2 && year(tok(i - 2)).is_some() {
        i -= 1;
    }
    i = i.checked_sub(1)?;
    let y = year(tok(i))?;
    // Optional zone before the year.
    if i >= 1 && is_zone(tok(i - 1)) && i >= 2 && time(tok(i - 2)).is_some() {
        i -= 1;
    }
    i = i.checked_sub(1)?;
    let (h, mi, sec) = time(tok(i))?;
    i = i.checked_sub(1)?;
    let d = number(tok(i), 1, 2).filter(|d| (1..=31).contains(d))?;
    i = i.checked_sub(1)?;
    let mo = name_index(tok(i), &MONTHS)? as u32 + 1;
    if i >= 1 && name_index(tok(i - 1), &DAYS).is_some() {
        i -= 1;
    }
    Some((i, (y, mo, d, h, mi, sec)))
}

fn name_index<const N: usize>(t: &[u8], names: &[&[u8; 3]; N]) -> Option<usize> {
    if t.len() != 3 {
        return None;
    }
    names.iter().position(|n| t.eq_ignore_ascii_case(&n[..]))
}

/// Digits only, `min..=max` of them.
fn number(t: &[u8], min: usize, max: usize) -> Option<u32> {
    if t.len() < min || t.len() > max || !t.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(t.iter().fold(0u32, |a, &b| a * 10 + u32::from(b - b'0')))
}

/// A 4-digit year, or a 2-digit one (70–99 → 19xx, else 20xx).
fn year(t: &[u8]) -> Option<i32> {
    match t.len() {
        4 => number(t, 4, 4).map(|y| y as i32),
        2 => number(t, 2, 2).map(|y| {
            if y >= 70 {
                1900 + y as i32
            } else {
                2000 + y as i32
            }
        }),
        _ => None,
    }
}

/// `HH:MM` or `HH:MM:SS`.
fn time(t: &[u8]) -> Option<(u32, u32, u32)> {
    let mut parts = t.split(|&b| b == b':');
    let h = number(parts.next()?, 1, 2).filter(|&h| h < 24)?;
    let m = number(parts.next()?, 2, 2).filter(|&m| m < 60)?;
    let s = match parts.next() {
        Some(p) => number(p, 2, 2).filter(|&s| s <= 60)?,
        None => 0,
    };
    if parts.next().is_some() {
        return None;
    }
    Some((h, m, s))
}

/// `+0800`/`-0500`, or a named zone of 1–5 letters (`PST`, `UTC`, `CEST`).
fn is_zone(t: &[u8]) -> bool {
    match t.first() {
        Some(b'+') | Some(b'-') => t.len() == 5 && t[1..].iter().all(u8::is_ascii_digit),
        Some(_) => (1..=5).contains(&t.len()) && t.iter().all(u8::is_ascii_alphabetic),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(line: &str, sender: &str, date: &str) {
        let f = parse(line.as_bytes()).unwrap_or_else(|| panic!("not parsed: {line:?}"));
        assert_eq!(f.sender, sender, "{line:?}");
        assert_eq!(f.date, date, "{line:?}");
    }

    #[test]
    fn accepts_common_forms() {
        ok(
            "From a@b Fri Mar 22 13:10:55 2024",
            "a@b",
            "Fri Mar 22 13:10:55 2024",
        );
        ok(
            "From a@b Sat Mar  2 13:10:55 2024",
            "a@b",
            "Sat Mar  2 13:10:55 2024",
        );
        ok(
            "From a@b Sat Mar 02 13:10 2024",
            "a@b",
            "Sat Mar 02 13:10 2024",
        );
        ok(
            "From - Fri Mar 22 13:10:55 2024",
            "-",
            "Fri Mar 22 13:10:55 2024",
        );
        ok(
            "From MAILER-DAEMON Fri Mar 22 13:10:55 2024",
            "MAILER-DAEMON",
            "Fri Mar 22 13:10:55 2024",
        );
        ok(
            "From a@b Fri Mar 22 13:10:55 +0800 2024",
            "a@b",
            "Fri Mar 22 13:10:55 +0800 2024",
        );
        ok(
            "From a@b Fri Mar 22 13:10:55 PST 2024",
            "a@b",
            "Fri Mar 22 13:10:55 PST 2024",
        );
        ok(
            "From a@b Fri Mar 22 13:10:55 2024 -0700",
            "a@b",
            "Fri Mar 22 13:10:55 2024 -0700",
        );
        ok(
            "From  a@b  Fri  Mar 22  13:10:55  2024",
            "a@b",
            "Fri  Mar 22  13:10:55  2024",
        );
        ok(
            "From a@b Fri Mar 22 13:10:55 2024\r",
            "a@b",
            "Fri Mar 22 13:10:55 2024",
        );
        ok(
            "From a@b Fri Mar 22 13:10:55 2024\r\n",
            "a@b",
            "Fri Mar 22 13:10:55 2024",
        );
        ok(
            "From a@b Fri Mar 22 13:10:55 2024 remote from uucphost",
            "a@b",
            "Fri Mar 22 13:10:55 2024",
        );
        ok(
            "From a@b Mar 22 13:10:55 2024",
            "a@b",
            "Mar 22 13:10:55 2024",
        );
        ok(
            "From \"a b\"@c Fri Mar 22 13:10:55 2024",
            "\"a b\"@c",
            "Fri Mar 22 13:10:55 2024",
        );
        ok(
            "From a@b fri mar 22 13:10:55 2024",
            "a@b",
            "fri mar 22 13:10:55 2024",
        );
        ok(
            "From Fri Mar 22 13:10:55 2024",
            "",
            "Fri Mar 22 13:10:55 2024",
        );
    }

    #[test]
    fn rejects_text() {
        for l in [
            "From the shed at 10:00",
            "From: x",
            "From",
            "From ",
            "from a@b Fri Mar 22 13:10:55 2024",
            ">From a@b Fri Mar 22 13:10:55 2024",
            "From a@b Fri Mar 32 13:10:55 2024",
            "From a@b Fri Foo 22 13:10:55 2024",
            "From a@b Fri Mar 22 25:10:55 2024",
            "From a@b Fri Mar 22 13:10:55",
            "From a@b Fri Mar 22 13:1:55 2024",
            "From a@b 2024",
            "From me, yesterday, Mar 22 at 10:00 2024",
        ] {
            assert!(parse(l.as_bytes()).is_none(), "{l:?}");
        }
    }

    #[test]
    fn dates() {
        let d = parse(b"From a@b Sat Mar  2 13:10 PST 2024")
            .unwrap()
            .datetime()
            .unwrap();
        assert_eq!(d.to_string(), "2024-03-02 13:10:00");
        assert_eq!(
            parse_date("Fri Mar 22 13:10:55 2024 +0800")
                .unwrap()
                .to_string(),
            "2024-03-22 13:10:55"
        );
        // Syntactically a separator, but no such day.
        let f = parse(b"From a@b Fri Feb 31 13:10:55 2024").unwrap();
        assert!(f.datetime().is_none());
        assert!(parse_date("garbage").is_none());
    }

    #[test]
    fn never_panics() {
        let mut x: u32 = 12345;
        for _ in 0..20000 {
            let mut l = b"From ".to_vec();
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            for k in 0..(x % 40) {
                let alphabet = b" \t:+-0123456789FriMarPST\r\n\xff";
                l.push(alphabet[((x >> (k % 16)) as usize + k as usize) % alphabet.len()]);
            }
            let _ = parse(&l);
        }
        let _ = parse(&[b'F'; 10000]);
        let mut long = b"From ".to_vec();
        long.extend(std::iter::repeat_n(b'x', 100_000));
        long.extend_from_slice(b" Fri Mar 22 13:10:55 2024");
        assert!(parse(&long).is_none());
    }
}
