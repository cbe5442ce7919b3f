//! Dates: RFC 5322 §3.3 `Date:` values and the asctime date of an mbox `From_` line.

use chrono::{DateTime, FixedOffset, NaiveDateTime};

/// Parses a `Date:` header value (obsolete forms of RFC 5322 §4.3 accepted). Returns `None`
/// for values that do not parse or name an impossible date (the caller then falls back to the
/// `From_` line's date, never to 1970).
pub fn parse_date_header(value: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc2822(value.trim()).ok()
}

/// Parses the date part of a `From_` line (`Fri Mar 22 13:10:55 2024`, asctime, zone optional).
pub fn parse_from_line_date(value: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(value.trim(), "%a %b %e %H:%M:%S %Y").ok()
}
