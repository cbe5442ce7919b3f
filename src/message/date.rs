//! Dates: RFC 5322 §3.3 `Date:` values (with the obsolete forms of §4.3) and the asctime date
//! of an mbox `From_` line (RFC 4155).
//!
//! Both parsers are hand-written, lenient about layout (extra white space, comments, missing
//! seconds or weekday, lower-case names, trailing garbage) and strict about meaning: an
//! impossible date (February 30, hour 25, a year outside 1970–9999) is `None`, so the caller
//! can fall back to another date instead of showing nonsense.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Month number 1–12 of `jan`, `March`, `SEPT`, … (first three letters decide).
fn month(word: &str) -> Option<u32> {
    if word.len() < 3 || !word.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let p = word[..3].to_ascii_lowercase();
    MONTHS.iter().position(|m| *m == p).map(|i| i as u32 + 1)
}

fn is_weekday(word: &str) -> bool {
    word.len() >= 3
        && word.bytes().all(|b| b.is_ascii_alphabetic())
        && DAYS.contains(&word[..3].to_ascii_lowercase().as_str())
}

/// Offset in seconds east of UTC for a zone: `+hhmm`, `-hhmm`, `+hh:mm`, `+hh`, or a name.
///
/// RFC 5322 §4.3: UT/GMT and the US names; the military letters were defined with the wrong
/// sign in RFC 822, so all but `Z` are treated as -0000 (unknown), as §4.3 asks. `UTC` and a
/// few common abbreviations are accepted too.
fn zone(word: &str) -> Option<i32> {
    let b = word.as_bytes();
    if let Some(&sign) = b.first().filter(|&&c| c == b'+' || c == b'-') {
        let digits: String = word[1..].chars().filter(|c| *c != ':').collect();
        if !digits.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let (h, m) = match digits.len() {
            4 => (
                digits[..2].parse::<i32>().ok()?,
                digits[2..].parse::<i32>().ok()?,
            ),
            2 => (digits.parse::<i32>().ok()?, 0),
            1 => (digits.parse::<i32>().ok()?, 0),
            _ => return None,
        };
        if h > 23 || m > 59 {
            return None;
        }
        let secs = h * 3600 + m * 60;
        return Some(if sign == b'-' { -secs } else { secs });
    }
    let upper = word.to_ascii_uppercase();
    // `GMT+0800`, `UTC-5`: a name followed by an offset.
    for name in ["GMT", "UTC", "UT"] {
        if let Some(off) = upper.strip_prefix(name) {
            if off.starts_with(['+', '-']) {
                return zone(off);
            }
        }
    }
    let hours = match upper.as_str() {
        "UT" | "UTC" | "GMT" | "Z" | "WET" => 0,
        "EDT" => -4,
        "EST" | "CDT" => -5,
        "CST" | "MDT" => -6,
        "MST" | "PDT" => -7,
        "PST" => -8,
        "BST" | "CET" | "MET" => 1,
        "CEST" | "MEST" | "EET" => 2,
        "EEST" | "MSK" => 3,
        "JST" | "KST" => 9,
        w if w.len() == 1 && w.as_bytes()[0].is_ascii_alphabetic() && w != "J" => 0,
        _ => return None,
    };
    Some(hours * 3600)
}

/// `HH:MM[:SS[.frac]]` → (h, m, s); values are range-checked later.
fn time(word: &str) -> Option<(u32, u32, u32)> {
    let mut it = word.split(':');
    let num = |s: Option<&str>| -> Option<u32> {
        let s = s?;
        let s = s.split('.').next()?;
        (!s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let h = num(it.next())?;
    let m = num(it.next())?;
    let s = match it.next() {
        Some(x) => num(Some(x))?,
        None => 0,
    };
    if it.next().is_some() {
        return None;
    }
    Some((h, m, s))
}

/// RFC 5322 §4.3: two-digit years are 1950–2049, three-digit years are added to 1900.
fn full_year(digits: &str) -> Option<i32> {
    let y: i32 = digits.parse().ok()?;
    Some(match digits.len() {
        1 | 2 if y < 50 => 2000 + y,
        1 | 2 => 1900 + y,
        3 => 1900 + y,
        4 => y,
        _ => return None,
    })
}

/// Removes RFC 5322 §3.2.2 comments (nested, with quoted-pairs); each becomes a space.
fn strip_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut depth = 0usize;
    let mut esc = false;
    for c in s.chars() {
        if depth > 0 {
            if esc {
                esc = false;
            } else if c == '\\' {
                esc = true;
            } else if c == '(' {
                depth += 1;
            } else if c == ')' {
                depth -= 1;
                if depth == 0 {
                    out.push(' ');
                }
            }
        } else if c == '(' {
            depth = 1;
        } else {
            out.push(c);
        }
    }
    out
}

/// The fields gathered from a date, before validation.
#[derive(Default)]
struct Parts {
    day: Option<u32>,
    month: Option<u32>,
    year: Option<i32>,
    time: Option<(u32, u32, u32)>,
    zone: Option<i32>,
}

impl Parts {
    fn complete(&self) -> bool {
        self.day.is_some() && self.month.is_some() && self.year.is_some()
    }

    /// Builds the local date-time; `None` for impossible values or years outside 1970–9999.
    fn naive(&self) -> Option<NaiveDateTime> {
        let year = self.year?;
        if !(1970..=9999).contains(&year) {
            return None;
        }
        let date = NaiveDate::from_ymd_opt(year, self.month?, self.day?)?;
        let (h, m, s) = self.time.unwrap_or((0, 0, 0));
        // A leap second (RFC 5322 §3.3 allows 60) is shown as :59.
        let t = NaiveTime::from_hms_opt(h, m, if s == 60 { 59 } else { s })?;
        Some(date.and_time(t))
    }

    fn numeric(&mut self, w: &str) {
        if !w.bytes().all(|b| b.is_ascii_digit()) || w.is_empty() || w.len() > 4 {
            return;
        }
        if self.day.is_none() && w.len() <= 2 && self.year.is_none() {
            self.day = w.parse().ok();
        } else if self.year.is_none() && (self.month.is_some() || w.len() == 4) {
            self.year = full_year(w);
        }
    }
}

/// Parses a `Date:` header value (RFC 5322 §3.3; obsolete forms of §4.3 accepted): optional
/// weekday, `day month year` (or `month day … year` as asctime-style mailers write it, or
/// `dd-Mon-yyyy`, or `yyyy-mm-dd`), time with or without seconds, numeric or named zone (absent
/// zone = +0000), comments and trailing garbage ignored, names case-insensitive.
///
/// Returns `None` for values that do not parse or name an impossible date (the caller then
/// falls back to the `From_` line's date, never to 1970).
pub fn parse_date_header(value: &str) -> Option<DateTime<FixedOffset>> {
    let cleaned = strip_comments(value).replace(',', " ");
    let mut p = Parts::default();
    for word in cleaned.split_whitespace() {
        if p.complete() && p.time.is_some() && p.zone.is_some() {
            break; // trailing garbage
        }
        if let Some(m) = month(word) {
            if p.month.is_none() {
                p.month = Some(m);
                continue;
            }
        }
        if is_weekday(word) {
            continue;
        }
        if p.time.is_none() && word.contains(':') {
            // `13:10:55+0100` happens too.
            let (t, z) = match word.find(['+', '-']) {
                Some(i) => (&word[..i], Some(&word[i..])),
                None => (word, None),
            };
            if let Some(t) = time(t) {
                p.time = Some(t);
                if let Some(z) = z.and_then(zone) {
                    p.zone = Some(z);
                }
                continue;
            }
        }
        if p.time.is_some() && p.zone.is_none() {
            if let Some(z) = zone(word) {
                p.zone = Some(z);
                continue;
            }
        }
        if word.contains('-') && !word.starts_with(['-', '+']) {
            // `22-Mar-2024` or `2024-03-22`.
            let pieces: Vec<&str> = word.split('-').collect();
            if pieces.len() == 3 {
                if let Some(m) = month(pieces[1]) {
                    p.month.get_or_insert(m);
                    p.numeric(pieces[0]);
                    p.numeric(pieces[2]);
                } else if pieces[0].len() == 4 {
                    p.year = full_year(pieces[0]);
                    p.month = pieces[1].parse().ok();
                    p.day = pieces[2]
                        .get(..2.min(pieces[2].len()))
                        .and_then(|d| d.parse().ok());
                }
            }
            continue;
        }
        p.numeric(word);
    }
    if !p.complete() {
        return None;
    }
    let naive = p.naive()?;
    let tz = FixedOffset::east_opt(p.zone.unwrap_or(0))?;
    tz.from_local_datetime(&naive).single()
}

/// Parses the date part of a `From_` line as asctime writes it (RFC 4155):
/// `[Wkd] Mon D HH:MM[:SS] [ZONE] YYYY [ZONE]`, e.g. `Fri Mar 22 13:10:55 2024`,
/// `Sat Mar  2 09:00 PST 2024`, `Fri Mar 22 13:10:55 2024 +0100`. Text after the year and
/// zone (`remote from host`) is ignored. The zone is not applied: the result is the time as
/// written.
///
/// Returns `None` when the text is not such a date (so `From the shed…` is not a separator) or
/// names an impossible date.
pub fn parse_from_line_date(value: &str) -> Option<NaiveDateTime> {
    let mut words = value.split_whitespace().peekable();
    if words
        .peek()
        .is_some_and(|w| is_weekday(w.trim_end_matches(',')))
    {
        words.next();
    }
    let mut p = Parts {
        month: Some(month(words.next()?)?),
        ..Parts::default()
    };
    let day = words.next()?;
    if day.is_empty() || day.len() > 2 || !day.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    p.day = day.parse().ok();
    p.time = Some(time(words.next()?)?);
    let mut next = words.next()?;
    if zone(next).is_some() || (next.len() <= 5 && next.bytes().all(|b| b.is_ascii_alphabetic())) {
        next = words.next()?; // zone before the year
    }
    if !(next.len() == 4 || next.len() == 2) || !next.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    p.year = full_year(next);
    p.naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Option<String> {
        parse_date_header(s).map(|d| d.format("%Y-%m-%d %H:%M:%S %z").to_string())
    }

    fn f(s: &str) -> Option<String> {
        parse_from_line_date(s).map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string())
    }

    #[test]
    fn rfc5322_dates() {
        assert_eq!(
            d("Fri, 22 Mar 2024 13:10:55 +0100").as_deref(),
            Some("2024-03-22 13:10:55 +0100")
        );
        assert_eq!(
            d("22 Mar 2024 13:10:55 -0500").as_deref(),
            Some("2024-03-22 13:10:55 -0500")
        );
        assert_eq!(
            d("Fri, 1 Mar 2024 00:00:00 +0000").as_deref(),
            Some("2024-03-01 00:00:00 +0000")
        );
    }

    #[test]
    fn obsolete_forms() {
        // Two-digit and three-digit years (RFC 5322 §4.3).
        assert_eq!(
            d("Fri, 22 Mar 24 13:10:55 +0100").as_deref(),
            Some("2024-03-22 13:10:55 +0100")
        );
        assert_eq!(
            d("Mon, 1 Jan 99 10:00 GMT").as_deref(),
            Some("1999-01-01 10:00:00 +0000")
        );
        assert_eq!(
            d("1 Jan 103 10:00 GMT").as_deref(),
            Some("2003-01-01 10:00:00 +0000")
        );
        // Named zones.
        assert_eq!(
            d("22 Mar 2024 13:10 EST").as_deref(),
            Some("2024-03-22 13:10:00 -0500")
        );
        assert_eq!(
            d("22 Mar 2024 13:10 edt").as_deref(),
            Some("2024-03-22 13:10:00 -0400")
        );
        assert_eq!(
            d("22 Mar 2024 13:10 PDT").as_deref(),
            Some("2024-03-22 13:10:00 -0700")
        );
        assert_eq!(
            d("22 Mar 2024 13:10 UT").as_deref(),
            Some("2024-03-22 13:10:00 +0000")
        );
        assert_eq!(
            d("22 Mar 2024 13:10 CDT").as_deref(),
            Some("2024-03-22 13:10:00 -0500")
        );
        assert_eq!(
            d("22 Mar 2024 13:10 MST").as_deref(),
            Some("2024-03-22 13:10:00 -0700")
        );
        // Military zones are -0000 (§4.3).
        assert_eq!(
            d("22 Mar 2024 13:10 A").as_deref(),
            Some("2024-03-22 13:10:00 +0000")
        );
        assert_eq!(
            d("22 Mar 2024 13:10 Z").as_deref(),
            Some("2024-03-22 13:10:00 +0000")
        );
        // Comments, white space, case, garbage.
        assert_eq!(
            d("  Fri ,  22   mar 2024   13:10:55   +0800 (CST)").as_deref(),
            Some("2024-03-22 13:10:55 +0800")
        );
        assert_eq!(
            d("Fri, 22 MAR 2024 13:10:55 +0800 (CST) trailing junk 99").as_deref(),
            Some("2024-03-22 13:10:55 +0800")
        );
        assert_eq!(
            d("(comment) 22 Mar 2024 13:10:55").as_deref(),
            Some("2024-03-22 13:10:55 +0000")
        );
        assert_eq!(
            d("Friday, 22 March 2024 13:10:55 +0100").as_deref(),
            Some("2024-03-22 13:10:55 +0100")
        );
        assert_eq!(
            d("Fri, 22-Mar-2024 13:10:55 GMT").as_deref(),
            Some("2024-03-22 13:10:55 +0000")
        );
        assert_eq!(
            d("Fri Mar 22 13:10:55 2024").as_deref(),
            Some("2024-03-22 13:10:55 +0000")
        );
        assert_eq!(
            d("2024-03-22 13:10:55 +0100").as_deref(),
            Some("2024-03-22 13:10:55 +0100")
        );
        assert_eq!(
            d("22 Mar 2024 13:10:55+0100").as_deref(),
            Some("2024-03-22 13:10:55 +0100")
        );
        assert_eq!(
            d("22 Mar 2024 13:10:55 GMT+0800").as_deref(),
            Some("2024-03-22 13:10:55 +0800")
        );
        assert_eq!(
            d("22 Mar 2024 13:10:55 UTC-5").as_deref(),
            Some("2024-03-22 13:10:55 -0500")
        );
        assert_eq!(
            d("22 Mar 2024 23:59:60 +0000").as_deref(),
            Some("2024-03-22 23:59:59 +0000")
        );
    }

    #[test]
    fn impossible_dates() {
        assert_eq!(d("30 Feb 2024 10:00 +0000"), None);
        assert_eq!(d("22 Mar 2024 25:00 +0000"), None);
        assert_eq!(d("22 Mar 2024 10:61 +0000"), None);
        assert_eq!(d("22 Mar 1969 10:00 +0000"), None);
        assert_eq!(d("22 Mar 10000 10:00 +0000"), None);
        assert_eq!(
            d("1 Jan 1970 00:00:00 +0000").as_deref(),
            Some("1970-01-01 00:00:00 +0000")
        );
        assert_eq!(d("29 Feb 2023 10:00"), None);
        assert_eq!(
            d("29 Feb 2024 10:00").as_deref(),
            Some("2024-02-29 10:00:00 +0000")
        );
        assert_eq!(d(""), None);
        assert_eq!(d("garbage"), None);
        assert_eq!(d("Mar 2024"), None);
        assert_eq!(d("22 Foo 2024 10:00"), None);
    }

    #[test]
    fn from_line_dates() {
        assert_eq!(
            f("Fri Mar 22 13:10:55 2024").as_deref(),
            Some("2024-03-22 13:10:55")
        );
        assert_eq!(
            f("Sat Mar  2 09:00:00 2024").as_deref(),
            Some("2024-03-02 09:00:00")
        );
        assert_eq!(
            f("Mar  2 09:00 2024").as_deref(),
            Some("2024-03-02 09:00:00")
        );
        assert_eq!(
            f("Sat Mar 2 09:00 PST 2024").as_deref(),
            Some("2024-03-02 09:00:00")
        );
        assert_eq!(
            f("Sat Mar 2 09:00:01 +0100 2024").as_deref(),
            Some("2024-03-02 09:00:01")
        );
        assert_eq!(
            f("Sat Mar 2 09:00:01 2024 +0100").as_deref(),
            Some("2024-03-02 09:00:01")
        );
        assert_eq!(
            f("Sat Mar 2 09:00:01 2024 remote from uucp").as_deref(),
            Some("2024-03-02 09:00:01")
        );
        assert_eq!(f("the shed at 5"), None);
        assert_eq!(f("here to there"), None);
        assert_eq!(f("Sat Feb 30 09:00:00 2024"), None);
        assert_eq!(f("Sat Mar 2 25:00:00 2024"), None);
        assert_eq!(f("Sat Mar 2 09:00:00"), None);
        assert_eq!(f(""), None);
    }
}
