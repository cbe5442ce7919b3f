//! Send mode: `echo body | rmail -s subject user@host` (POSIX mailx "Send Mode", s-nail's
//! exit statuses): start-up files and `-S` as for reading, the body from standard input (on a
//! terminal: a `Subject:` prompt when none was given, then lines up to end-of-file or a lone
//! `.`), the message built by [`crate::message::compose`], handed to the transport chosen by
//! `mta` ([`crate::send`]), copied to `record` when set; on any failure the message is
//! appended to `dead.letter` and nothing is lost.

use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::path::PathBuf;

use super::session::Session;
use crate::error::{EXIT_OK, EXIT_USAGE};
use crate::message::compose::{self, Attachment, Draft};
use crate::send::{self, LocalSite, Outgoing, Transport};

/// Exit status when a message could not be sent (s-nail's `n_EXIT_SEND_ERROR`).
pub const EXIT_SEND: i32 = 4;

/// What the command line asked to send.
#[derive(Debug, Clone, Default)]
pub struct SendRequest {
    /// Recipients (operands).
    pub to: Vec<String>,
    /// `-c`.
    pub cc: Vec<String>,
    /// `-b`.
    pub bcc: Vec<String>,
    /// `-s`.
    pub subject: Option<String>,
    /// `-r`.
    pub from: Option<String>,
    /// `-a`.
    pub attach: Vec<PathBuf>,
    /// `-t`: recipients and subject from the message's own header.
    pub template: bool,
    /// `-E`: an empty body is not sent.
    pub discard_empty: bool,
    /// `-n`.
    pub no_system_rc: bool,
    /// `-S`.
    pub set: Vec<String>,
    /// `-v`.
    pub verbose: bool,
    /// `-A NAME`: the account applied after the start-up files.
    pub account: Option<String>,
}

/// Runs send mode; returns the exit status (0 sent, 64 usage error such as no recipients or a
/// header injection attempt, 4 not sent — the message is then in `dead.letter`).
pub fn run(req: SendRequest) -> i32 {
    let interactive = io::stdin().is_terminal();
    let mut s = Session::new(interactive);
    s.sending = true;
    if let Err(e) = s.load_startup_files(req.no_system_rc, req.account.as_deref(), &req.set) {
        eprintln!("rmail: -A: {e}");
        return EXIT_USAGE;
    }
    if req.verbose {
        s.vars.set("verbose", "");
    }
    let mut req = req;
    // Lists given as "a@x, b@y" become one entry per address.
    for list in [&mut req.to, &mut req.cc, &mut req.bcc] {
        *list = split_addresses(&s, list);
    }
    let mut subject = req.subject.clone();
    if interactive && subject.is_none() && !req.template && s.vars.is_set("asksub") {
        subject = Some(prompt_line("Subject: ").unwrap_or_default());
    }
    let mut body = if interactive {
        // On a terminal the body is composed with the tilde escapes, which may also change
        // the recipients and the subject.
        let mut draft = Parts {
            to: std::mem::take(&mut req.to),
            cc: std::mem::take(&mut req.cc),
            bcc: std::mem::take(&mut req.bcc),
            subject: subject.take(),
            ..Parts::default()
        };
        match s.collect_body(&mut draft) {
            Ok(super::reply::Ending::Send) => s.ask_copies(&mut draft),
            Ok(super::reply::Ending::Abort { save }) => {
                if save {
                    save_draft(&s, &draft);
                }
                return EXIT_OK;
            }
            Ok(super::reply::Ending::Interrupted { save }) => {
                if save {
                    save_draft(&s, &draft);
                }
                return crate::error::EXIT_FAIL;
            }
            Err(e) => {
                eprintln!("rmail: cannot read the message: {e}");
                save_draft(&s, &draft);
                return EXIT_SEND;
            }
        }
        (req.to, req.cc, req.bcc, subject) = (draft.to, draft.cc, draft.bcc, draft.subject);
        draft.body
    } else {
        let mut b = Vec::new();
        if let Err(e) = io::stdin().lock().read_to_end(&mut b) {
            eprintln!("rmail: cannot read the message: {e}");
            return EXIT_SEND;
        }
        b
    };
    if req.template {
        let (hdr, rest) = take_template_header(&body);
        for (name, value) in hdr {
            let list = split_addresses(&s, std::slice::from_ref(&value));
            match name.to_ascii_lowercase().as_str() {
                "to" => req.to.extend(list),
                "cc" => req.cc.extend(list),
                "bcc" => req.bcc.extend(list),
                "subject" if subject.is_none() => subject = Some(value),
                _ => {}
            }
        }
        body = rest;
    }
    if req.to.is_empty() && req.cc.is_empty() && req.bcc.is_empty() {
        eprintln!("rmail: no recipients specified");
        return EXIT_USAGE;
    }
    if req.discard_empty && body.iter().all(u8::is_ascii_whitespace) {
        return EXIT_OK;
    }
    let mut attachments = Vec::new();
    for p in &req.attach {
        match std::fs::read(p) {
            Ok(data) => attachments.push(Attachment {
                filename: p.display().to_string(),
                data,
                content_type: None,
            }),
            Err(e) => {
                eprintln!("rmail: cannot attach {}: {e}; nothing sent", p.display());
                // A cron job's piped body must not be lost.
                let from = format!("{}@{}", s.env.user, hostname());
                save_dead_letter(&s, &from, &body);
                return EXIT_USAGE;
            }
        }
    }
    let parts = Parts {
        to: req.to.clone(),
        cc: req.cc.clone(),
        bcc: req.bcc.clone(),
        subject,
        body,
        attachments,
        extra_headers: Vec::new(),
        from: req.from.clone(),
        record: None,
    };
    match send_parts(&s, parts) {
        Ok(()) => {
            if interactive {
                println!("EOT");
            }
            EXIT_OK
        }
        Err(code) => code,
    }
}

/// A message being sent, before composing: what send mode and the `&` prompt's `mail`,
/// `reply` and `followup` collect.
#[derive(Debug, Clone, Default)]
pub struct Parts {
    /// Recipients.
    pub to: Vec<String>,
    /// Carbon copies.
    pub cc: Vec<String>,
    /// Blind carbon copies.
    pub bcc: Vec<String>,
    /// Subject, if any.
    pub subject: Option<String>,
    /// Body bytes.
    pub body: Vec<u8>,
    /// Attachments, already read.
    pub attachments: Vec<Attachment>,
    /// `In-Reply-To`, `References`, …
    pub extra_headers: Vec<(String, String)>,
    /// `-r`: the sender, overriding the `from` variable.
    pub from: Option<String>,
    /// A folder that also gets a copy (`followup`), besides the `record` variable.
    pub record: Option<PathBuf>,
}

/// Composes `p` and sends it through the transport the session's variables choose, then
/// copies it to `record`. On failure the message goes to `dead.letter` and the error is
/// returned as an exit status: 64 for a message that cannot be built (header injection, bad
/// address: nothing is saved, the user must fix it), 4 for a transport failure.
pub fn send_parts(s: &Session, p: Parts) -> Result<(), i32> {
    let from = p
        .from
        .clone()
        .or_else(|| {
            s.vars
                .get("from")
                .filter(|f| !f.is_empty())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| format!("{}@{}", s.env.user, hostname()));
    let now = chrono::Local::now().fixed_offset();
    let draft = Draft {
        from,
        to: p.to,
        cc: p.cc,
        bcc: p.bcc,
        subject: p.subject,
        body: p.body,
        attachments: p.attachments,
        extra_headers: p.extra_headers,
        sendcharsets: s
            .vars
            .get("sendcharsets")
            .map(|v| {
                v.split(',')
                    .map(|c| c.trim().to_owned())
                    .filter(|c| !c.is_empty())
                    .collect()
            })
            .unwrap_or_default(),
        date: now,
        message_id: format!(
            "{}.{}.{}@{}",
            now.format("%Y%m%d%H%M%S"),
            std::process::id(),
            now.timestamp_subsec_nanos(),
            hostname()
        ),
        user_agent: format!("rmail {}", env!("CARGO_PKG_VERSION")),
    };
    let composed = match compose::compose(&draft) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rmail: {e}; nothing sent");
            return Err(EXIT_USAGE);
        }
    };
    let out = Outgoing {
        bytes: &composed.bytes,
        envelope_from: &composed.envelope_from,
        recipients: &composed.recipients,
    };
    let site = LocalSite {
        user: s.env.user.clone(),
        own_mailbox: s.env.system_mailbox.clone(),
        domains: send::local_domains(),
    };
    let result = Transport::from_vars(&|n| s.vars.get(n).map(str::to_owned)).and_then(|t| {
        if s.vars.is_set("verbose") {
            eprintln!(
                "rmail: sending through {t:?} to {}",
                composed.recipients.join(", ")
            );
        }
        send::send(&t, &out, &site)
    });
    match result {
        Ok(()) => {
            let records = s
                .vars
                .get("record")
                .filter(|r| !r.is_empty())
                .map(|r| s.expand_path(r))
                .into_iter()
                .chain(p.record);
            for path in records {
                if let Some(url) = super::remote::url_of(&path) {
                    if let Err(e) = record_remote(s, url, &composed.bytes) {
                        eprintln!("rmail: sent, but cannot record a copy: {e}");
                    }
                } else if let Err(e) =
                    crate::mda::deliver_to_mbox(&path, &composed.envelope_from, &composed.bytes)
                {
                    eprintln!("rmail: sent, but cannot record a copy: {e}");
                }
            }
            Ok(())
        }
        Err(e) => {
            eprintln!("rmail: {e}");
            save_dead_letter(s, &composed.envelope_from, &composed.bytes);
            eprintln!("rmail: ... message not sent");
            Err(EXIT_SEND)
        }
    }
}

/// Appends the sent message to the IMAP mailbox `url` (`record=+Sent` with a remote
/// `folder`), marked `\Seen`. Errors: a bad or POP3 URL, no credentials, the server's.
fn record_remote(
    s: &Session,
    url: Result<crate::remote::FolderUrl, crate::remote::RemoteError>,
    message: &[u8],
) -> Result<(), crate::remote::RemoteError> {
    use crate::remote::{self, Protocol, RemoteError, RemoteFlags};
    let url = url?;
    if url.protocol == Protocol::Pop3 {
        return Err(RemoteError::Unsupported(
            "a POP3 maildrop cannot keep a copy of sent mail",
        ));
    }
    // The password the session already has for this account (e.g. the open IMAP folder's).
    let known = s
        .remote_logins
        .get(&super::remote::login_key(&url))
        .cloned();
    let opts = remote::options_with_login(&url, &|k| s.vars.get(k).map(str::to_owned), known)?;
    remote::warn_cleartext(&url);
    let flags = RemoteFlags {
        seen: true,
        ..RemoteFlags::default()
    };
    remote::imap::append_to(&opts, &url.mailbox, &[(message.to_vec(), flags, None)])
}

/// Keeps an unsent draft (`~q`, a read error) in `dead.letter`: its To, Cc, Bcc and Subject
/// as plain header lines (line breaks flattened), then the body — for the user to pick up
/// with `~d` or an editor, not to be sent as is.
pub fn save_draft(s: &Session, p: &Parts) {
    let flat = |v: &str| v.replace(['\r', '\n'], " ");
    let mut text = String::new();
    for (name, list) in [("To", &p.to), ("Cc", &p.cc), ("Bcc", &p.bcc)] {
        if !list.is_empty() {
            text.push_str(&format!("{name}: {}\n", flat(&list.join(", "))));
        }
    }
    if let Some(subj) = &p.subject {
        text.push_str(&format!("Subject: {}\n", flat(subj)));
    }
    text.push('\n');
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(&p.body);
    let from = format!("{}@{}", s.env.user, hostname());
    save_dead_letter(s, &from, &bytes);
}

/// Appends the message to `DEAD` (else `~/dead.letter`) in mbox format, unless `nosave`;
/// says where, as mailx does.
pub fn save_dead_letter(s: &Session, envelope_from: &str, bytes: &[u8]) {
    if s.vars.get("save").is_none() && s.vars.is_set("nosave") {
        return;
    }
    let path = s
        .vars
        .get("DEAD")
        .filter(|d| !d.is_empty())
        .map(|d| s.expand_path(d))
        .or_else(|| {
            std::env::var_os("DEAD")
                .filter(|d| !d.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| s.env.home.join("dead.letter"));
    match crate::mda::deliver_to_mbox(&path, envelope_from, bytes) {
        Ok(()) => eprintln!(
            "\"{}\" {}/{}",
            path.display(),
            bytecount::count(bytes, b'\n') + 1,
            bytes.len()
        ),
        Err(e) => eprintln!("rmail: cannot save the message to {}: {e}", path.display()),
    }
}

/// Expands aliases and splits comma-separated lists into single addresses.
fn split_addresses(s: &Session, lists: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for list in lists {
        for part in split_commas(list) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            match s.aliases.get(part) {
                Some(members) => out.extend(members.iter().cloned()),
                None => out.push(part.to_owned()),
            }
        }
    }
    out
}

/// Splits at commas outside `"…"` and `<…>`.
fn split_commas(list: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut quoted, mut angle, mut start) = (false, false, 0);
    for (i, c) in list.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                parts.push(&list[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&list[start..]);
    parts
}

fn prompt_line(prompt: &str) -> Option<String> {
    print!("{prompt}");
    let _ = io::stdout().flush();
    let mut line = String::new();
    io::stdin().lock().read_line(&mut line).ok()?;
    Some(line.trim_end_matches(['\n', '\r']).to_owned())
}

/// `-t`: the header lines at the top of the input (up to the first empty line), unfolded,
/// and the rest as the body. Input that does not start with a header is all body.
fn take_template_header(input: &[u8]) -> (Vec<(String, String)>, Vec<u8>) {
    let (hdr, body) = super::display::split_message(input);
    let fields = crate::message::header::split_fields(hdr);
    if fields.is_empty() {
        return (Vec::new(), input.to_vec());
    }
    let pairs = fields
        .into_iter()
        .map(|f| {
            let v = String::from_utf8_lossy(&crate::message::header::unfold(&f.value))
                .trim()
                .to_owned();
            (f.name, v)
        })
        .collect();
    (pairs, body.to_vec())
}

pub use crate::send::hostname;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commas_outside_quotes_and_angles() {
        assert_eq!(
            split_commas(r#""Doe, J" <j@d>, a@b,<x,y@z>"#),
            vec![r#""Doe, J" <j@d>"#, " a@b", "<x,y@z>"]
        );
    }

    #[test]
    fn template_header_split() {
        let (h, b) = take_template_header(b"To: a@b,\n c@d\nSubject: hi\n\nbody\n");
        assert_eq!(h[0], ("To".into(), "a@b, c@d".into()));
        assert_eq!(h[1], ("Subject".into(), "hi".into()));
        assert_eq!(b, b"body\n");
        let (h, b) = take_template_header(b"just text\n");
        assert!(h.is_empty());
        assert_eq!(b, b"just text\n");
    }
}
