//! Non-delivery reports ("bounces"), pure: RFC 3464 delivery status notifications in an
//! RFC 6522 (formerly RFC 3462) `multipart/report` container, the shape Postfix bounce(8)
//! sends.
//!
//! The report has three parts: a human-readable explanation (`text/plain`); the
//! machine-readable `message/delivery-status` (RFC 3464 §2: per-message fields
//! `Reporting-MTA`, `Arrival-Date`; per recipient `Final-Recipient`, `Original-Recipient`,
//! `Action: failed`, `Status`, `Diagnostic-Code`); and the original message's header as
//! `text/rfc822-headers` (RFC 6522 §4; like Postfix's default, the body is not returned).
//!
//! Invariants: the null reverse-path is never bounced to (RFC 5321 §4.5.5: that would loop),
//! and the report itself goes out with the null reverse-path; every line is LF-ended and at
//! most 998 octets (long fields are folded); the boundary never occurs in the content;
//! control characters in diagnostics from remote servers are replaced.

use std::time::SystemTime;

use super::qfile::{QueueEntry, Recipient};
use crate::mda::fold_field;
use crate::message::envelope::Envelope;
use crate::message::header;

/// One recipient that failed permanently (or whose message expired in the queue).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The recipient as delivered to (RFC 3464 `Final-Recipient`) and as the client gave it
    /// (`Original-Recipient`, written when it differs).
    pub recipient: Recipient,
    /// The RFC 3463 enhanced status code, e.g. `5.1.1`; anything not of the form
    /// `[245].N.N` is reported as `5.0.0`.
    pub status: String,
    /// The diagnostic: a remote SMTP reply (`550 5.1.1 <x@y>: user unknown`, reported as
    /// `Diagnostic-Code: smtp; …`) or a local error text (reported as `x-rmail; …`).
    pub diagnostic: String,
}

/// Builds the bounce for `entry`'s `failed` recipients, from `MAILER-DAEMON@reporting_mta`
/// to the envelope sender, with `original` (the queued message, LF or CRLF) supplying the
/// returned header block. `now` dates the report. Returns the bounce's envelope (null
/// sender, the original sender as the one recipient) and its bytes (LF line ends), or
/// `None` when the original sender was `<>` (never bounce a bounce) or `failed` is empty.
pub fn bounce(
    entry: &QueueEntry,
    failed: &[Failure],
    reporting_mta: &str,
    original: &[u8],
    now: SystemTime,
) -> Option<(Envelope, Vec<u8>)> {
    if entry.sender.is_empty() || failed.is_empty() {
        return None;
    }
    let host = clean(reporting_mta);
    let now_local: chrono::DateTime<chrono::Local> = now.into();
    let arrival: chrono::DateTime<chrono::Local> = entry.arrival.into();
    let secs = super::qfile::to_secs(now);
    let (hlen, _) = header::header_end(original);
    let headers = crate::mda::to_lf(&original[..hlen]);
    let mut boundary = format!("{}.{secs}/{host}", entry.id);
    let mut n = 0;
    while memchr::memmem::find(&headers, boundary.as_bytes()).is_some()
        || failed.iter().any(|f| f.diagnostic.contains(&boundary))
    {
        n += 1;
        boundary = format!("{}.{secs}.{n}/{host}", entry.id);
    }

    let mut m = String::with_capacity(2048 + headers.len());
    // The report's own header (RFC 5322 §3.6; RFC 3834 §5 Auto-Submitted).
    m.push_str(&format!(
        "From: Mail Delivery System <MAILER-DAEMON@{host}>\n"
    ));
    m.push_str(&format!("To: <{}>\n", clean(&entry.sender)));
    m.push_str("Subject: Undelivered Mail Returned to Sender\n");
    m.push_str(&format!("Date: {}\n", rfc5322_date(now_local)));
    m.push_str(&format!("Message-ID: <{secs}.{}@{host}>\n", entry.id));
    m.push_str("Auto-Submitted: auto-replied\n");
    m.push_str("MIME-Version: 1.0\n");
    m.push_str(&format!(
        "Content-Type: multipart/report; report-type=delivery-status;\n\tboundary=\"{boundary}\"\n"
    ));
    m.push_str("Content-Transfer-Encoding: 8bit\n\n");
    m.push_str("This is a MIME-encapsulated message.\n\n");

    // Part 1: for people.
    let human: String = {
        let mut t = format!("This is the mail system at host {host}.\n\n");
        t.push_str(
            "Your message could not be delivered to one or more of its recipients.\n\
             It has been returned as a report below, with the reasons given.\n\n\
             If you need help, please contact the postmaster of this system and\n\
             include this report. You may delete your own text from the\n\
             returned message headers.\n\n",
        );
        for f in failed {
            let line = format!(
                "<{}>: {}",
                clean(&f.recipient.address),
                clean(&f.diagnostic)
            );
            t.push_str(&fold_field(&line, "    "));
            t.push('\n');
        }
        t
    };
    let charset = if human.is_ascii() {
        "us-ascii"
    } else {
        "utf-8"
    };
    m.push_str(&format!("--{boundary}\n"));
    m.push_str("Content-Description: Notification\n");
    m.push_str(&format!("Content-Type: text/plain; charset={charset}\n"));
    if charset != "us-ascii" {
        m.push_str("Content-Transfer-Encoding: 8bit\n");
    }
    m.push('\n');
    m.push_str(&human);
    m.push('\n');

    // Part 2: RFC 3464 §2.2 per-message fields, §2.3 per-recipient fields.
    m.push_str(&format!("--{boundary}\n"));
    m.push_str("Content-Description: Delivery report\n");
    m.push_str("Content-Type: message/delivery-status\n\n");
    m.push_str(&format!("Reporting-MTA: dns; {host}\n"));
    m.push_str(&format!("X-Rmail-Queue-ID: {}\n", entry.id));
    m.push_str(&fold_field(
        &format!("X-Rmail-Sender: rfc822; {}", clean(&entry.sender)),
        "\t",
    ));
    m.push('\n');
    m.push_str(&format!("Arrival-Date: {}\n", rfc5322_date(arrival)));
    for f in failed {
        m.push('\n');
        let rcpt = clean(&f.recipient.address);
        let orig = clean(&f.recipient.original);
        m.push_str(&fold_field(
            &format!("Final-Recipient: rfc822; {rcpt}"),
            "\t",
        ));
        m.push('\n');
        if !orig.is_empty() && orig != rcpt {
            m.push_str(&fold_field(
                &format!("Original-Recipient: rfc822; {orig}"),
                "\t",
            ));
            m.push('\n');
        }
        m.push_str("Action: failed\n");
        m.push_str(&format!("Status: {}\n", status_or_default(&f.status)));
        let diag = clean(&f.diagnostic);
        // RFC 3464 §2.3.6: the diagnostic-type says how to read the text.
        let kind = if is_smtp_reply(&diag) {
            "smtp"
        } else {
            "x-rmail"
        };
        m.push_str(&fold_field(
            &format!("Diagnostic-Code: {kind}; {diag}"),
            "\t",
        ));
        m.push('\n');
    }
    m.push('\n');

    // Part 3: RFC 6522 §4 text/rfc822-headers.
    m.push_str(&format!("--{boundary}\n"));
    m.push_str("Content-Description: Undelivered Message Headers\n");
    m.push_str("Content-Type: text/rfc822-headers\n");
    m.push_str("Content-Transfer-Encoding: 8bit\n\n");
    let mut out = m.into_bytes();
    out.extend_from_slice(&headers);
    if !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    out.extend_from_slice(format!("\n--{boundary}--\n").as_bytes());

    let env = Envelope {
        sender: String::new(),
        recipients: vec![entry.sender.clone()],
    };
    Some((env, out))
}

/// `Tue, 14 Nov 2023 23:13:20 +0100` (RFC 5322 §3.3).
pub fn rfc5322_date<Tz: chrono::TimeZone>(t: chrono::DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    t.format("%a, %d %b %Y %H:%M:%S %z").to_string()
}

/// `s` on one line: CR, LF and tabs become spaces, other control characters `?`.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\r' | '\n' | '\t' => ' ',
            c if c.is_control() => '?',
            c => c,
        })
        .collect()
}

/// Whether `s` starts like an SMTP reply: three digits, the first 2–5, then a space, `-`
/// or the end (RFC 5321 §4.2).
fn is_smtp_reply(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 3
        && (b'2'..=b'5').contains(&b[0])
        && b[1].is_ascii_digit()
        && b[2].is_ascii_digit()
        && matches!(b.get(3), None | Some(b' ') | Some(b'-'))
}

/// `status` when it is an RFC 3463 code `[245].N.N` (at most three digits each), else
/// `5.0.0`.
fn status_or_default(status: &str) -> &str {
    let mut it = status.split('.');
    let ok = match (it.next(), it.next(), it.next(), it.next()) {
        (Some(c), Some(s), Some(d), None) => {
            matches!(c, "2" | "4" | "5")
                && [s, d]
                    .iter()
                    .all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
        }
        _ => false,
    };
    if ok {
        status
    } else {
        "5.0.0"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::mime;
    use crate::queue::qfile::{from_secs, QueueId};

    fn entry(sender: &str) -> QueueEntry {
        QueueEntry {
            id: QueueId::parse("65538A0012AB").unwrap(),
            sender: sender.into(),
            recipients: vec![],
            arrival: from_secs(1_700_000_000),
            attempts: 3,
            next_attempt: from_secs(1_700_000_000),
            last_error: None,
            size: 10,
        }
    }

    fn failures() -> Vec<Failure> {
        vec![
            Failure {
                recipient: Recipient::new("nobody@example.org"),
                status: "5.1.1".into(),
                diagnostic: "550 5.1.1 <nobody@example.org>: Recipient address rejected: \
                             User unknown in local recipient table (in reply to RCPT TO command)"
                    .into(),
            },
            Failure {
                recipient: Recipient {
                    address: "joe".into(),
                    original: "postmaster@example.org".into(),
                },
                status: "bogus".into(),
                diagnostic: "mailbox size limit exceeded\r\n\x1b".into(),
            },
        ]
    }

    const ORIGINAL: &[u8] =
        b"From: a@example.com\r\nTo: nobody@example.org\r\nSubject: hi\r\n\r\nbody\r\n";

    #[test]
    fn structure() {
        let (env, msg) = bounce(
            &entry("a@example.com"),
            &failures(),
            "mx.example.com",
            ORIGINAL,
            from_secs(1_700_003_600),
        )
        .unwrap();
        assert_eq!(env.sender, "");
        assert_eq!(env.recipients, vec!["a@example.com".to_string()]);
        assert!(!msg.contains(&b'\r'));
        assert!(msg.split(|&b| b == b'\n').all(|l| l.len() <= 998));
        let text = String::from_utf8(msg.clone()).unwrap();

        let (hlen, _) = header::header_end(&msg);
        let fields = header::split_fields(&msg[..hlen]);
        let from = String::from_utf8_lossy(header::find(&fields, "from").unwrap()).into_owned();
        assert!(from.contains("MAILER-DAEMON@mx.example.com"));
        let ct = String::from_utf8(header::unfold(
            header::find(&fields, "content-type").unwrap(),
        ))
        .unwrap();
        assert_eq!(header::main_value(&ct), "multipart/report");
        assert_eq!(
            header::param(&ct, "report-type").as_deref(),
            Some("delivery-status")
        );
        let b = header::param(&ct, "boundary").unwrap();
        assert_eq!(text.matches(&format!("--{b}\n")).count(), 3);
        assert!(text.ends_with(&format!("\n--{b}--\n")));
        assert!(header::find(&fields, "auto-submitted").is_some());

        let parts = mime::parts(&msg);
        let types: Vec<&str> = parts.iter().map(|p| p.content_type.as_str()).collect();
        assert_eq!(
            types,
            [
                "text/plain",
                "message/delivery-status",
                "text/rfc822-headers"
            ]
        );
        let ds = String::from_utf8(mime::part_content(&msg, &parts[1].number).unwrap()).unwrap();
        for want in [
            "Reporting-MTA: dns; mx.example.com\n",
            "Arrival-Date: ",
            "\n\nFinal-Recipient: rfc822; nobody@example.org\nAction: failed\nStatus: 5.1.1\n\
             Diagnostic-Code: smtp; 550 5.1.1",
            "Final-Recipient: rfc822; joe\nOriginal-Recipient: rfc822; postmaster@example.org\n",
            "Status: 5.0.0\nDiagnostic-Code: x-rmail; mailbox size limit exceeded  ?\n",
        ] {
            assert!(ds.contains(want), "{want:?} in {ds}");
        }
        // Folded, never over 78 columns when there are spaces to fold at.
        assert!(ds.lines().all(|l| l.len() <= 78), "{ds}");
        let hdrs = mime::part_content(&msg, &parts[2].number).unwrap();
        assert!(hdrs.starts_with(b"From: a@example.com\nTo: nobody@example.org\nSubject: hi\n"));
        assert!(hdrs.ends_with(b"Subject: hi\n"));
        let human = String::from_utf8(mime::part_content(&msg, &parts[0].number).unwrap()).unwrap();
        assert!(human.contains("<nobody@example.org>: 550 5.1.1"));
    }

    #[test]
    fn never_bounce_a_bounce() {
        assert!(bounce(&entry(""), &failures(), "h", ORIGINAL, SystemTime::now()).is_none());
        assert!(bounce(&entry("a@b"), &[], "h", ORIGINAL, SystemTime::now()).is_none());
    }

    #[test]
    fn boundary_not_in_content() {
        let e = entry("a@b");
        let secs = 1_700_003_600;
        let clash = format!("X-Evil: --{}.{secs}/h\n\nbody", e.id);
        let (_, msg) = bounce(&e, &failures(), "h", clash.as_bytes(), from_secs(secs)).unwrap();
        let (hlen, _) = header::header_end(&msg);
        let ct = header::unfold(
            header::find(&header::split_fields(&msg[..hlen]), "content-type").unwrap(),
        );
        let b = header::param(&String::from_utf8(ct).unwrap(), "boundary").unwrap();
        assert!(!clash.contains(&b));
        assert_eq!(mime::parts(&msg).len(), 3);
    }

    #[test]
    fn hostile_inputs() {
        let e = entry("a\r\nBcc: x@y");
        let long = Failure {
            recipient: Recipient::new(&"r".repeat(3000)),
            status: "5.1.1.1".into(),
            diagnostic: "ü".repeat(2000),
        };
        for original in [&b""[..], b"\n", b"no header end", b"\xff\xfe: x\n\n"] {
            let (_, msg) = bounce(
                &e,
                std::slice::from_ref(&long),
                "h\nX: y",
                original,
                SystemTime::now(),
            )
            .unwrap();
            assert!(msg.split(|&b| b == b'\n').all(|l| l.len() <= 998));
            let (hlen, _) = header::header_end(&msg);
            let fields = header::split_fields(&msg[..hlen]);
            assert!(header::find(&fields, "bcc").is_none());
            assert!(header::find(&fields, "x").is_none());
        }
    }

    #[test]
    fn folding() {
        let f = fold_field(
            &format!("Diagnostic-Code: smtp; {}", "word ".repeat(40)),
            "\t",
        );
        assert!(f.lines().all(|l| l.len() <= 78));
        assert!(f.lines().skip(1).all(|l| l.starts_with('\t')));
        assert_eq!(
            f.replace("\n\t", " ").trim_end(),
            format!("Diagnostic-Code: smtp; {}", "word ".repeat(40)).trim_end()
        );
        assert_eq!(fold_field("short", "\t"), "short");
        assert_eq!(status_or_default("4.4.7"), "4.4.7");
        assert_eq!(status_or_default("6.0.0"), "5.0.0");
        assert_eq!(status_or_default("5.0"), "5.0.0");
        assert!(is_smtp_reply("550 x") && is_smtp_reply("421") && !is_smtp_reply("mailbox"));
    }
}
