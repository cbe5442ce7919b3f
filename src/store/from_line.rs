//! The mbox `From_` separator line (RFC 4155 appendix A): `From <sender> <date>`.

/// A parsed `From_` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FromLine {
    /// The envelope sender (`-` or `MAILER-DAEMON` included), as written.
    pub sender: String,
    /// The date text as written (asctime, possibly with a zone), trimmed.
    pub date: String,
}

/// Parses `line` (without its line end) as a `From_` line. Returns `None` when it is not one:
/// a body line such as `From the shed…` is text, not a separator.
pub fn parse(line: &[u8]) -> Option<FromLine> {
    let s = std::str::from_utf8(line).ok()?;
    let rest = s.strip_prefix("From ")?;
    let rest = rest.trim_start();
    let sp = rest.find(' ')?;
    let (sender, date) = rest.split_at(sp);
    let date = date.trim();
    crate::message::date::parse_from_line_date(date)?;
    Some(FromLine { sender: sender.to_owned(), date: date.to_owned() })
}
