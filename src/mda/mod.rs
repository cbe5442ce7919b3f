//! The mail delivery agent: puts one message into a local mailbox (mbox), the way Postfix
//! local(8) does — a `From_` line (RFC 4155), separator quoting, the mailbox lock, fsync before
//! success, truncation back on failure, mode 0600 (all through [`crate::store::mbox::append`]).
//!
//! For the server it also builds the trace lines put on top of a delivered message
//! ([`received_header`], [`delivery_headers`]), the mbox entry ([`mbox_entry`]) that
//! [`batch`] appends many at a time with one fsync, and delivers into Maildir ([`maildir`]).
//!
//! Used by `rmail -s … user` with `mta=local`, by `rmail deliver USER` and by the server's
//! per-user workers (`rmail deliver --batch`): they always write as the recipient (root
//! becomes USER first), so a mailbox is never written as root unless its user is root.

pub mod aliases;
pub mod batch;
pub mod maildir;
pub mod users;

use std::path::{Path, PathBuf};

use crate::store::mbox::{self, StoreError};

/// Debian's mail spool directory; `RMAIL_SPOOL_DIR` overrides it (tests, odd layouts).
pub fn spool_dir() -> PathBuf {
    std::env::var_os("RMAIL_SPOOL_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/mail"))
}

/// The system mailbox of `user`: `spool_dir()/user`.
pub fn mailbox_of(user: &str) -> PathBuf {
    spool_dir().join(user)
}

/// The `From_` line for a message from `envelope_from` received now, as Postfix local(8)
/// writes it: `From sender  Fri Mar 22 13:10:55 2024` (asctime, local time). An empty sender
/// (bounces) becomes `MAILER-DAEMON`.
pub fn from_line(envelope_from: &str, now: chrono::DateTime<chrono::Local>) -> String {
    let sender = if envelope_from.is_empty() || envelope_from.contains(char::is_whitespace) {
        "MAILER-DAEMON"
    } else {
        envelope_from
    };
    format!("From {sender}  {}\n", now.format("%a %b %e %H:%M:%S %Y"))
}

/// Appends `message` (RFC 5322 bytes, LF line ends) from `envelope_from` to the mbox at
/// `path`, mboxrd-quoted ([`quote_from_lines`]) so that the reader's un-quoting gives the body
/// back exactly and no body line can be taken for a separator. Errors: the mailbox cannot be
/// locked, written or synced (nothing half-written is left behind).
pub fn deliver_to_mbox(path: &Path, envelope_from: &str, message: &[u8]) -> Result<(), StoreError> {
    let mut raw = from_line(envelope_from, chrono::Local::now()).into_bytes();
    raw.extend_from_slice(&quote_from_lines(message));
    if !raw.ends_with(b"\n") {
        raw.push(b'\n');
    }
    mbox::append(path, &[raw])
}

/// Delivers into `user`'s own system mailbox as the delivery agent does (`rmail deliver`,
/// run as the recipient): the mailbox must be a regular file owned by `uid` — never a
/// symbolic link (checked with `lstat`), never a file another user planted in the spool —
/// or not exist yet (then it is created 0600 by the append).
pub fn deliver_to_own_mailbox(
    user: &str,
    uid: u32,
    envelope_from: &str,
    message: &[u8],
) -> Result<(), MdaError> {
    deliver_to_own_mailbox_at(&mailbox_of(user), uid, envelope_from, message)
}

/// [`deliver_to_own_mailbox`] into the mailbox at `path` (a server's
/// `mail_spool_directory/USER`): the same checks, the same append.
pub fn deliver_to_own_mailbox_at(
    path: &Path,
    uid: u32,
    envelope_from: &str,
    message: &[u8],
) -> Result<(), MdaError> {
    use std::os::unix::fs::MetadataExt;
    let path = path.to_path_buf();
    match std::fs::symlink_metadata(&path) {
        Ok(m) if m.file_type().is_symlink() || !m.is_file() => {
            return Err(MdaError::Unsafe(path, "not a regular file"))
        }
        Ok(m) if m.uid() != uid => return Err(MdaError::Unsafe(path, "owned by another user")),
        _ => {}
    }
    deliver_to_mbox(&path, envelope_from, message).map_err(MdaError::Store)
}

/// `message` with every CRLF turned into LF (mbox and Maildir store LF line ends; lone CRs
/// are kept). Borrows when there is nothing to change.
pub fn to_lf(message: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if memchr::memmem::find(message, b"\r\n").is_none() {
        return message.into();
    }
    let mut out = Vec::with_capacity(message.len());
    let mut rest = message;
    while let Some(i) = memchr::memmem::find(rest, b"\r\n") {
        out.extend_from_slice(&rest[..i]);
        out.push(b'\n');
        rest = &rest[i + 2..];
    }
    out.extend_from_slice(rest);
    out.into()
}

/// One complete mbox entry for `message_lf` (RFC 5322 bytes, LF line ends) from
/// `envelope_sender`, received at `now`: the `From_` line ([`from_line`]), the message
/// mboxrd-quoted ([`quote_from_lines`]), a line end if the message lacked a final one, and
/// the blank separator line — what [`crate::store::mbox::append`] stores unchanged and the
/// reader splits back into exactly `message_lf` (with a final line end).
pub fn mbox_entry(
    envelope_sender: &str,
    message_lf: &[u8],
    now: chrono::DateTime<chrono::Local>,
) -> Vec<u8> {
    let quoted = quote_from_lines(message_lf);
    let mut raw = from_line(envelope_sender, now).into_bytes();
    raw.reserve(quoted.len() + 2);
    raw.extend_from_slice(&quoted);
    if !raw.ends_with(b"\n") {
        raw.push(b'\n');
    }
    raw.push(b'\n');
    raw
}

/// What the server knows about a message's arrival, for [`received_header`].
#[derive(Debug, Clone, Copy)]
pub struct ReceivedInfo<'a> {
    /// The name the client gave in `HELO`/`EHLO` (empty: none given → `unknown`).
    pub from_helo: &'a str,
    /// The client's IP address, without brackets (an IPv6 address gets the `IPv6:` tag of
    /// RFC 5321 §4.1.3).
    pub client_ip: &'a str,
    /// The client's verified reverse DNS name; `None` → `unknown`, as in Postfix.
    pub client_rdns: Option<&'a str>,
    /// Our host name (`myhostname`).
    pub by_host: &'a str,
    /// The RFC 3848 protocol: `SMTP`, `ESMTP`, `ESMTPS`, `ESMTPA`, `ESMTPSA`, `LMTP`, …
    pub protocol: &'a str,
    /// The TLS session, e.g. `TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)`.
    pub tls: Option<&'a str>,
    /// The SASL user name when the client authenticated (Postfix writes it only with
    /// `smtpd_sasl_authenticated_header = yes`; the caller decides).
    pub auth_user: Option<&'a str>,
    /// The queue ID given to the message.
    pub queue_id: &'a str,
    /// The recipient, when there is exactly one (Postfix's `for <rcpt>`).
    pub for_rcpt: Option<&'a str>,
    /// When the message was received.
    pub date: chrono::DateTime<chrono::Local>,
}

/// The value of a `Received:` field (RFC 5321 §4.4 time-stamp line, RFC 5322 §3.6.7) in
/// Postfix smtpd's shape, on one line (fold it with [`fold_field`], as
/// [`delivery_headers`] does):
///
/// `from HELO (RDNS [IP]) (using TLS) (Authenticated sender: USER) by HOST (rmail) with
/// PROTOCOL id QUEUEID for <RCPT>; Tue, 14 Nov 2023 23:13:20 +0100`
///
/// The optional parts are left out when absent. Client-supplied text cannot break the
/// structure: characters outside a host name's alphabet in the HELO name, parentheses and
/// backslashes in comments, and angle brackets or `;` in the recipient become `?`.
pub fn received_header(info: &ReceivedInfo<'_>) -> String {
    let helo = if info.from_helo.is_empty() {
        "unknown".to_owned()
    } else {
        info.from_helo
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || ".-_[]:".contains(c) {
                    c
                } else {
                    '?'
                }
            })
            .collect()
    };
    let ip = comment_text(info.client_ip);
    let ip = if ip.contains(':') && !ip.starts_with("IPv6:") {
        format!("IPv6:{ip}")
    } else {
        ip
    };
    let rdns = comment_text(info.client_rdns.unwrap_or("unknown"));
    let mut v = format!("from {helo} ({rdns} [{ip}])");
    if let Some(tls) = info.tls {
        v.push_str(&format!(" (using {})", comment_text(tls)));
    }
    if let Some(user) = info.auth_user {
        v.push_str(&format!(" (Authenticated sender: {})", comment_text(user)));
    }
    v.push_str(&format!(
        " by {} (rmail) with {} id {}",
        comment_text(info.by_host),
        comment_text(info.protocol),
        comment_text(info.queue_id)
    ));
    if let Some(rcpt) = info.for_rcpt {
        let rcpt: String = rcpt
            .chars()
            .map(|c| {
                if c.is_control() || "<>;".contains(c) || c.is_whitespace() {
                    '?'
                } else {
                    c
                }
            })
            .collect();
        v.push_str(&format!(" for <{rcpt}>"));
    }
    v.push_str(&format!(
        "; {}",
        info.date.format("%a, %d %b %Y %H:%M:%S %z")
    ));
    v
}

/// `s` safe inside a comment of a header field (RFC 5322 §3.2.2): control characters and
/// `\` become `?`, and so do all parentheses unless they nest correctly (nested comments
/// are allowed, as in Postfix's `(using … (256/256 bits))`).
fn comment_text(s: &str) -> String {
    let mut depth: i64 = 0;
    let balanced = s.chars().all(|c| {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        depth >= 0
    }) && depth == 0;
    s.chars()
        .map(|c| {
            if c.is_control() || c == '\\' || (!balanced && (c == '(' || c == ')')) {
                '?'
            } else {
                c
            }
        })
        .collect()
}

/// Folds a header line (`Name: value`, no line end) at spaces so that lines stay within 78
/// columns where possible (RFC 5322 §2.1.1, §2.2.3), each continuation line starting with
/// `indent` (a tab, as Postfix writes `Received:`, or spaces); a run longer than a line is
/// cut at 900 bytes so that no line exceeds the 998-octet limit. Returns the folded text
/// with `\n` between lines and no final line end; unfolding it (RFC 5322 §2.2.3) gives the
/// input back when `indent` is one white-space character.
pub fn fold_field(line: &str, indent: &str) -> String {
    const WANT: usize = 78;
    const HARD: usize = 900;
    let mut out = String::with_capacity(line.len() + 16);
    let mut col = 0;
    for (i, word) in line.split(' ').enumerate() {
        let mut word = word;
        if i > 0 {
            if col + 1 + word.len() > WANT && col > indent.len() && !word.is_empty() {
                out.push('\n');
                out.push_str(indent);
                col = indent.len();
            } else {
                out.push(' ');
                col += 1;
            }
        }
        while col + word.len() > HARD {
            let mut cut = HARD.saturating_sub(col).max(1).min(word.len());
            while cut > 0 && !word.is_char_boundary(cut) {
                cut -= 1;
            }
            if cut == 0 {
                break;
            }
            out.push_str(&word[..cut]);
            out.push('\n');
            out.push_str(indent);
            col = indent.len();
            word = &word[cut..];
        }
        out.push_str(word);
        col += word.len();
    }
    out
}

/// The trace lines Postfix's local(8) and smtpd put on top of a message delivered to a
/// mailbox, LF-ended: `Return-Path: <sender>` (`<>` for the null sender; RFC 5321 §4.4),
/// `Delivered-To: original_recipient` (Postfix's loop detection), then `Received: …` with
/// the value the server built ([`received_header`]) folded at ~78 columns with tabs. CR,
/// LF and other control characters in the inputs become spaces or `?`, so no extra field
/// can be injected.
pub fn delivery_headers(
    envelope_sender: &str,
    original_recipient: &str,
    received: &str,
) -> Vec<u8> {
    let one_line = |s: &str| -> String {
        s.chars()
            .map(|c| match c {
                '\r' | '\n' | '\t' => ' ',
                c if c.is_control() => '?',
                c => c,
            })
            .collect()
    };
    let mut out = String::with_capacity(160 + received.len());
    out.push_str(&format!("Return-Path: <{}>\n", one_line(envelope_sender)));
    out.push_str(&format!("Delivered-To: {}\n", one_line(original_recipient)));
    // A queued message already carries its Received: line (added when it was accepted).
    if !received.is_empty() {
        out.push_str(&fold_field(
            &format!("Received: {}", one_line(received)),
            "\t",
        ));
        out.push('\n');
    }
    out.into_bytes()
}

/// Why the delivery agent refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum MdaError {
    /// The mailbox path is not one we may write for this user.
    #[error("refusing to deliver to {path}: {why}", path = .0.display(), why = .1)]
    Unsafe(PathBuf, &'static str),
    /// Writing failed.
    #[error(transparent)]
    Store(StoreError),
}

/// mboxrd quoting (the mboxrd description; RFC 4155 §2 leaves quoting to the format): one `>`
/// before every body line that matches `^>*From `, so the reader's un-quoting (one `>` off
/// every `^>+From ` line) restores the message exactly.
pub fn quote_from_lines(message: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let needs = |line: &[u8]| {
        let rest = &line[line.iter().take_while(|&&b| b == b'>').count()..];
        rest.starts_with(b"From ")
    };
    if !message.split(|&b| b == b'\n').any(needs) {
        return message.into();
    }
    let mut out = Vec::with_capacity(message.len() + 64);
    for (i, line) in message.split(|&b| b == b'\n').enumerate() {
        if i > 0 {
            out.push(b'\n');
        }
        if needs(line) {
            out.push(b'>');
        }
        out.extend_from_slice(line);
    }
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn from_line_like_postfix() {
        let t = chrono::Local
            .with_ymd_and_hms(2024, 3, 2, 13, 10, 55)
            .unwrap();
        assert_eq!(
            from_line("z@example.com", t),
            "From z@example.com  Sat Mar  2 13:10:55 2024\n"
        );
        assert!(from_line("", t).starts_with("From MAILER-DAEMON  "));
        assert!(
            crate::store::from_line::parse(from_line("a b", t).trim_end().as_bytes()).is_some()
        );
    }

    #[test]
    fn mboxrd_quoting_round_trips() {
        let body = b"Subject: x\n\nFrom me\n>From x\n>>From y\nFromage\nend\n";
        let q = quote_from_lines(body);
        assert_eq!(
            &q[..],
            &b"Subject: x\n\n>From me\n>>From x\n>>>From y\nFromage\nend\n"[..]
        );
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("box");
        deliver_to_mbox(&p, "a@x", body).unwrap();
        let mb = mbox::Mbox::open(&p).unwrap();
        assert_eq!(mb.len(), 1);
        assert_eq!(mb.read_message(0).unwrap(), body.to_vec());
    }

    #[test]
    fn delivered_message_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("box");
        deliver_to_mbox(
            &p,
            "a@x",
            b"Subject: one\n\nFrom the shed\n\nFrom a@b Mon Jan  1 10:00:00 2024\n",
        )
        .unwrap();
        deliver_to_mbox(&p, "b@x", b"Subject: two\n\nbody").unwrap();
        let mb = mbox::Mbox::open(&p).unwrap();
        assert_eq!(mb.len(), 2);
        let one = mb.read_message(0).unwrap();
        assert!(String::from_utf8_lossy(&one).contains("\nFrom a@b Mon Jan  1 10:00:00 2024\n"));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn crlf_to_lf() {
        assert!(matches!(to_lf(b"a\nb\n"), std::borrow::Cow::Borrowed(_)));
        assert_eq!(&to_lf(b"a\r\nb\r\n\r\nc\rd\r")[..], b"a\nb\n\nc\rd\r");
        assert_eq!(&to_lf(b"\r\n")[..], b"\n");
        assert_eq!(&to_lf(b"\r\r\n")[..], b"\r\n");
    }

    #[test]
    fn mbox_entry_reads_back() {
        let t = chrono::Local
            .with_ymd_and_hms(2024, 3, 2, 13, 10, 55)
            .unwrap();
        let e = mbox_entry("", b"Subject: x\n\nFrom me\nno final newline", t);
        assert_eq!(
            e,
            b"From MAILER-DAEMON  Sat Mar  2 13:10:55 2024\nSubject: x\n\n>From me\nno final newline\n\n"
        );
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("box");
        let bodies: [&[u8]; 3] = [
            b"Subject: a\n\nFrom x\n\n",
            b"Subject: b\n\nbody\n",
            b"Subject: c\n\n>From y\nFrom z Mon Jan  1 10:00:00 2024\n",
        ];
        let entries: Vec<Vec<u8>> = bodies.iter().map(|b| mbox_entry("s@x", b, t)).collect();
        mbox::append(&p, &entries).unwrap();
        let mb = mbox::Mbox::open(&p).unwrap();
        assert_eq!(mb.len(), 3);
        for (i, b) in bodies.iter().enumerate() {
            assert_eq!(mb.read_message(i).unwrap(), b.to_vec());
        }
    }

    fn info() -> ReceivedInfo<'static> {
        ReceivedInfo {
            from_helo: "client.example.org",
            client_ip: "192.0.2.7",
            client_rdns: Some("mail.example.org"),
            by_host: "mx.example.com",
            protocol: "ESMTPSA",
            tls: Some("TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)"),
            auth_user: Some("joe"),
            queue_id: "65538A0012AB",
            for_rcpt: Some("joe@example.com"),
            date: chrono::Local
                .with_ymd_and_hms(2024, 3, 2, 13, 10, 55)
                .unwrap(),
        }
    }

    #[test]
    fn received_like_postfix() {
        let i = info();
        let date = i.date.format("%a, %d %b %Y %H:%M:%S %z").to_string();
        assert_eq!(
            received_header(&i),
            format!(
                "from client.example.org (mail.example.org [192.0.2.7]) (using TLSv1.3 with \
                 cipher TLS_AES_256_GCM_SHA384 (256/256 bits)) (Authenticated sender: joe) by \
                 mx.example.com (rmail) with ESMTPSA id 65538A0012AB for <joe@example.com>; {date}"
            )
        );
        let plain = ReceivedInfo {
            from_helo: "",
            client_ip: "2001:db8::1",
            client_rdns: None,
            protocol: "SMTP",
            tls: None,
            auth_user: None,
            for_rcpt: None,
            ..i
        };
        assert_eq!(
            received_header(&plain),
            format!(
                "from unknown (unknown [IPv6:2001:db8::1]) by mx.example.com (rmail) with SMTP \
                 id 65538A0012AB; {date}"
            )
        );
        let evil = ReceivedInfo {
            from_helo: "x) by evil\r\nBcc: y",
            client_rdns: Some("a(b)\\c"),
            for_rcpt: Some("a>; b\n"),
            ..i
        };
        let v = received_header(&evil);
        assert!(
            v.starts_with("from x??by?evil??Bcc:?y (a(b)?c [192.0.2.7])"),
            "{v}"
        );
        assert!(v.contains(" for <a???b?>; "), "{v}");
        let v = received_header(&ReceivedInfo {
            client_rdns: Some(")x("),
            ..i
        });
        assert!(v.contains(" (?x? [192.0.2.7])"), "{v}");
        assert!(!v.contains('\n') && !v.contains('\r'));
    }

    #[test]
    fn delivery_headers_folded() {
        let received = received_header(&info());
        let h = delivery_headers("a@example.org", "joe@example.com", &received);
        let s = String::from_utf8(h.clone()).unwrap();
        assert!(s.starts_with(
            "Return-Path: <a@example.org>\nDelivered-To: joe@example.com\nReceived: from "
        ));
        assert!(s.ends_with('\n') && !s.contains('\r'));
        assert!(s.lines().all(|l| l.len() <= 78), "{s}");
        assert!(s.lines().skip(3).all(|l| l.starts_with('\t')), "{s}");
        let fields = crate::message::header::split_fields(&h);
        assert_eq!(fields.len(), 3);
        let unfolded = crate::message::header::unfold(&fields[2].value);
        assert_eq!(
            String::from_utf8(unfolded).unwrap().replace('\t', " "),
            received
        );
        let null = delivery_headers("", "u", "x\r\nBcc: evil");
        assert_eq!(
            null,
            b"Return-Path: <>\nDelivered-To: u\nReceived: x  Bcc: evil\n"
        );
        // A long word is cut below the 998-octet line limit.
        let long = delivery_headers("a", "b", &"x".repeat(3000));
        assert!(long.split(|&b| b == b'\n').all(|l| l.len() <= 998));
    }
}
