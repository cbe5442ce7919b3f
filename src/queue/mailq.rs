//! The `mailq` listing (`rmail queue`), pure: Postfix's `postqueue -p` layout, so that
//! scripts and fingers used to Postfix read it unchanged.
//!
//! Per message: ID, size in bytes, arrival time (`asctime` without the year, local time),
//! envelope sender (`MAILER-DAEMON` for `<>`); then, indented to the sender column, the last
//! error in parentheses when there is one and the remaining recipients one per line; then a
//! blank line. A total line ends the listing; an empty queue prints `Mail queue is empty`.
//! Control characters in addresses and diagnostics (which come from remote servers) are
//! shown as `?` so that the listing cannot drive the terminal.

use std::fmt::Write as _;

use super::qfile::QueueEntry;

/// Column where the sender and the indented lines start (as in Postfix).
const INDENT: usize = 42;

/// Formats `entries` like Postfix `mailq`:
///
/// ```text
/// -Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------
/// 65538A0012AB    1234 Mon Nov 30 10:00:00  sender@example.com
///                                           (connect to host: Connection refused)
///                                           rcpt@example.org
///
/// -- 1 Kbytes in 1 Request.
/// ```
///
/// Kbytes is the sum of message sizes divided by 1024 (rounded down); `Request`/`Requests`
/// by count. No entries → `Mail queue is empty\n`.
pub fn format_mailq(entries: &[QueueEntry]) -> String {
    if entries.is_empty() {
        return "Mail queue is empty\n".to_owned();
    }
    let mut out = String::new();
    out.push_str("-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n");
    let mut total: u64 = 0;
    for e in entries {
        total = total.saturating_add(e.size);
        let when: chrono::DateTime<chrono::Local> = e.arrival.into();
        let sender = if e.sender.is_empty() {
            "MAILER-DAEMON".to_owned()
        } else {
            printable(&e.sender)
        };
        let _ = writeln!(
            out,
            "{:<12}{:>8} {:<20} {}",
            e.id.as_str(),
            e.size,
            when.format("%a %b %e %H:%M:%S").to_string(),
            sender
        );
        if let Some(err) = &e.last_error {
            let _ = writeln!(out, "{:INDENT$}({})", "", printable(err));
        }
        for r in &e.recipients {
            let _ = writeln!(out, "{:INDENT$}{}", "", printable(&r.address));
        }
        out.push('\n');
    }
    let n = entries.len();
    let _ = writeln!(
        out,
        "-- {} Kbytes in {} Request{}.",
        total / 1024,
        n,
        if n == 1 { "" } else { "s" }
    );
    out
}

/// `s` with control characters (C0, DEL, C1) replaced by `?`.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::qfile::{from_secs, QueueId, Recipient};

    fn entry() -> QueueEntry {
        QueueEntry {
            id: QueueId::parse("65538A0012AB").unwrap(),
            sender: "sender@example.com".into(),
            recipients: vec![Recipient::new("rcpt@example.org")],
            arrival: from_secs(1_700_000_000),
            attempts: 1,
            next_attempt: from_secs(1_700_000_300),
            last_error: Some("connect to host: Connection refused".into()),
            size: 1234,
        }
    }

    #[test]
    fn postfix_shape() {
        let when: chrono::DateTime<chrono::Local> = from_secs(1_700_000_000).into();
        let date = when.format("%a %b %e %H:%M:%S").to_string();
        let want = format!(
            "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n\
             65538A0012AB    1234 {date}  sender@example.com\n\
             {pad}(connect to host: Connection refused)\n\
             {pad}rcpt@example.org\n\
             \n\
             -- 1 Kbytes in 1 Request.\n",
            pad = " ".repeat(42)
        );
        assert_eq!(format_mailq(&[entry()]), want);
        let line = want.lines().nth(1).unwrap();
        assert_eq!(line.find("sender@").unwrap(), 42);
    }

    #[test]
    fn several_null_sender_and_hostile() {
        let mut b = entry();
        b.sender = String::new();
        b.last_error = Some("evil\x1b[2J\r\nline".into());
        b.recipients.push(Recipient::new("x\ty@z"));
        b.size = 2000;
        let s = format_mailq(&[entry(), b]);
        assert!(s.contains(" MAILER-DAEMON\n"));
        assert!(s.contains("(evil?[2J??line)\n"));
        assert!(s.contains("x?y@z\n"));
        assert!(s.ends_with("\n\n-- 3 Kbytes in 2 Requests.\n"));
        assert!(!s.contains('\x1b'));
    }

    #[test]
    fn empty() {
        assert_eq!(format_mailq(&[]), "Mail queue is empty\n");
    }
}
