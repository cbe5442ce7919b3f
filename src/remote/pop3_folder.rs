//! The POP3 maildrop as a reader folder (RFC 1939; CAPA and PIPELINING from RFC 2449).
//!
//! At open the folder logs in ([`connect_login`], shared with `rmail fetch`), asks `UIDL`
//! and `LIST`, and reads the header of every message with `TOP n 0` (pipelined when the
//! server lists `PIPELINING`). Bodies are fetched with `RETR` on demand and cached for the
//! session. Nothing changes on the server until [`RemoteFolder::commit`]: `DELE` for the
//! deleted messages, then `QUIT` (RFC 1939 §6: the server removes them only then). POP3 has
//! no flags, no other folders and no new mail during a session.
//!
//! Invariants: the reader names messages by their index at open; the folder keeps each
//! one's UIDL, so after a lost connection it logs in again and finds the message by its
//! UIDL (its number may have changed); a message whose UIDL is gone is
//! [`RemoteError::Gone`].

use std::collections::HashMap;

use super::pop3::{Pop3Client, Pop3Error};
use super::{
    ConnectOptions, FolderUrl, ListEntry, Login, QuitPlan, RemoteError, RemoteFlags, RemoteFolder,
    RemoteMessage, Security,
};
use crate::message::header;

/// Where a [`Pop3Error`] happened, to word it for the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Connecting, the greeting, STLS.
    Connect,
    /// AUTH/USER/PASS: a `-ERR` is a refused login.
    Login,
    /// Anything after login.
    Session,
}

/// A [`Pop3Error`] as a [`RemoteError`]: I/O while connecting → [`super::connect_error`]
/// (later: the connection was lost), TLS → [`super::tls_error`], `-ERR` at login →
/// [`RemoteError::Auth`] with the provider's hint, other `-ERR` → [`RemoteError::Server`].
fn map_error(opts: &ConnectOptions, stage: Stage, e: Pop3Error) -> RemoteError {
    let url = &opts.url;
    match e {
        Pop3Error::Io(io) if stage == Stage::Connect => {
            super::connect_error(url, opts.timeout, &io)
        }
        Pop3Error::Io(io) => match io.kind() {
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
                super::connect_error(url, opts.timeout, &io)
            }
            _ => RemoteError::Protocol {
                host: url.host.clone(),
                detail: format!("the connection was lost: {io}"),
            },
        },
        Pop3Error::Tls(t) => super::tls_error(url, opts.timeout, &t),
        Pop3Error::StlsNotOffered => RemoteError::StartTlsUnavailable {
            host_port: url.host_port(),
        },
        Pop3Error::Server(s) if stage == Stage::Login => RemoteError::Auth {
            user: opts.login.user().to_owned(),
            host: url.host.clone(),
            text: match &s.code {
                Some(c) => format!("[{c}] {}", s.text),
                None => s.text.clone(),
            },
            hint: crate::send::smtp::auth_hint(&url.host),
        },
        Pop3Error::Server(s) => RemoteError::Server {
            host: url.host.clone(),
            command: s.command.clone(),
            text: match &s.code {
                Some(c) => format!("[{c}] {}", s.text),
                None => s.text.clone(),
            },
        },
        other => RemoteError::Protocol {
            host: url.host.clone(),
            detail: other.to_string(),
        },
    }
}

/// A [`Pop3Error`] after login as a [`RemoteError`] (as the folder words it), for
/// `rmail fetch`.
pub(crate) fn session_error(opts: &ConnectOptions, e: Pop3Error) -> RemoteError {
    map_error(opts, Stage::Session, e)
}

/// Whether `e` means the connection is gone (so a reconnect may help): I/O errors and a
/// server that closed the connection or broke the protocol (the client is out of step).
fn is_lost(e: &Pop3Error) -> bool {
    matches!(e, Pop3Error::Io(_) | Pop3Error::Protocol(_))
}

/// Connects to `opts.url` and logs in, as the URL's security asks: implicit TLS
/// (`pop3s://`, 995), STLS required (`?starttls`; refused with
/// [`RemoteError::StartTlsUnavailable`] when the server does not offer it), or cleartext
/// (`pop3://`: the URL asked for it; the caller prints [`super::warn_cleartext`]). Logs in
/// with AUTH PLAIN or USER/PASS ([`Login::Password`]) or AUTH XOAUTH2
/// ([`Login::XOAuth2`]). Used by [`Pop3Folder::open`] and `rmail fetch`.
pub fn connect_login(opts: &ConnectOptions) -> Result<Pop3Client, RemoteError> {
    let url = &opts.url;
    let implicit = (url.security == Security::Tls).then_some(&opts.tls);
    let mut c = Pop3Client::connect(&url.host, url.port, opts.timeout, implicit)
        .map_err(|e| map_error(opts, Stage::Connect, e))?;
    if url.security == Security::StartTls {
        c.stls(&opts.tls)
            .map_err(|e| map_error(opts, Stage::Connect, e))?;
    }
    let cleartext = url.security == Security::Plain;
    let r = match &opts.login {
        Login::Password { user, password } => c.login(user, password, cleartext),
        Login::XOAuth2 { user, token } => c.login_xoauth2(user, token, cleartext),
    };
    r.map_err(|e| map_error(opts, Stage::Login, e))?;
    Ok(c)
}

/// The envelope sender of a message for its `From_` line, from its header block: the
/// `Return-Path:` address (RFC 5321 §4.4), else the first `From:` address, else
/// `MAILER-DAEMON` (also for the null sender `<>` and for addresses with white space).
pub fn envelope_sender(header_block: &[u8]) -> String {
    let fields = header::split_fields(header_block);
    let usable = |a: &str| !a.is_empty() && !a.contains(char::is_whitespace);
    if let Some(rp) = header::find(&fields, "Return-Path") {
        let v = String::from_utf8_lossy(&header::unfold(rp))
            .trim()
            .to_owned();
        let addr = v
            .strip_prefix('<')
            .and_then(|r| r.split('>').next())
            .unwrap_or(&v)
            .trim();
        if usable(addr) {
            return addr.to_owned();
        }
        if addr.is_empty() && v.starts_with('<') {
            return "MAILER-DAEMON".into();
        }
    }
    if let Some(from) = header::find(&fields, "From") {
        if let Some(m) = crate::message::address::parse_list(from).into_iter().next() {
            if usable(&m.addr) {
                return m.addr;
            }
        }
    }
    "MAILER-DAEMON".into()
}

/// The summary facts of a message from its header block (as `TOP n 0` gives it): raw
/// `From:`, `Subject:` and `Date:` values (folding and encoded-words kept), and the `From_`
/// facts — [`envelope_sender`] and the `Date:` in local time as asctime, else now.
pub fn summary_of(uid: u32, size: u64, header_block: &[u8]) -> RemoteMessage {
    let fields = header::split_fields(header_block);
    let get = |n: &str| header::find(&fields, n).map(<[u8]>::to_vec);
    let date = get("Date");
    let when = date
        .as_deref()
        .and_then(|d| {
            crate::message::date::parse_date_header(&String::from_utf8_lossy(&header::unfold(d)))
        })
        .map(|d| d.with_timezone(&chrono::Local))
        .unwrap_or_else(chrono::Local::now);
    let from_line = format!(
        "{} {}",
        envelope_sender(header_block),
        super::imap::asctime(&when)
    );
    RemoteMessage {
        uid,
        size,
        lines: None,
        flags: RemoteFlags::default(),
        from: get("From"),
        subject: get("Subject"),
        date,
        from_line: from_line.into_bytes(),
    }
}

/// One message of the maildrop as opened.
#[derive(Debug, Clone)]
struct Entry {
    /// Its UIDL, when the server has UIDL (RFC 1939 §7).
    uidl: Option<String>,
    /// Its message number in the current session; `None` after a reconnect found its UIDL
    /// gone.
    number: Option<u64>,
}

/// The POP3 maildrop as a reader folder (see the module documentation).
pub struct Pop3Folder {
    opts: ConnectOptions,
    /// The session; `None` once logged out or after the connection was lost.
    client: Option<Pop3Client>,
    entries: Vec<Entry>,
    summary: Vec<RemoteMessage>,
    /// Bodies read in this session, by index.
    cache: HashMap<usize, Vec<u8>>,
}

impl std::fmt::Debug for Pop3Folder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pop3Folder")
            .field("url", &self.opts.url)
            .field("messages", &self.entries.len())
            .field("connected", &self.client.is_some())
            .finish_non_exhaustive()
    }
}

impl Pop3Folder {
    /// Opens the maildrop: [`connect_login`], then `UIDL` (optional: servers without it
    /// cannot be reconnected to), `LIST`, and the header of every message (`TOP n 0`,
    /// pipelined with PIPELINING; `RETR` for a server that refuses TOP), with a progress
    /// counter `HOST: headers` when `opts.progress`. Errors: as [`connect_login`], and
    /// [`RemoteError::Server`] for a refused LIST.
    pub fn open(opts: &ConnectOptions) -> Result<Pop3Folder, RemoteError> {
        let mut c = connect_login(opts)?;
        let session = |e| map_error(opts, Stage::Session, e);
        let uidls: HashMap<u64, String> = match c.uidl() {
            Ok(v) => v.into_iter().collect(),
            Err(Pop3Error::Server(_)) => HashMap::new(),
            Err(e) => return Err(session(e)),
        };
        let list = c.list().map_err(session)?;
        let numbers: Vec<u64> = list.iter().map(|&(n, _)| n).collect();
        let mut progress = super::Progress::new(
            format!("{}: headers", opts.url.host),
            numbers.len() as u64,
            opts.progress,
        );
        let mut heads: Vec<Option<Vec<u8>>> = vec![None; numbers.len()];
        c.top_many(&numbers, 0, |i, r| {
            heads[i] = r.ok();
            progress.set(i as u64 + 1);
        })
        .map_err(session)?;
        progress.finish();
        let mut cache = HashMap::new();
        let mut summary = Vec::with_capacity(numbers.len());
        let mut entries = Vec::with_capacity(numbers.len());
        for (i, (&(n, size), head)) in list.iter().zip(heads).enumerate() {
            let head = match head {
                Some(h) => h,
                None => {
                    // TOP is optional (RFC 1939 §7): read the whole message instead.
                    let whole = c.retr(n).map_err(session)?;
                    let (h, _) = header::header_end(&whole);
                    let head = whole[..h].to_vec();
                    cache.insert(i, whole);
                    head
                }
            };
            summary.push(summary_of(
                u32::try_from(n).unwrap_or(u32::MAX),
                size,
                &head,
            ));
            entries.push(Entry {
                uidl: uidls.get(&n).cloned(),
                number: Some(n),
            });
        }
        Ok(Pop3Folder {
            opts: opts.clone(),
            client: Some(c),
            entries,
            summary,
            cache,
        })
    }

    /// Logs in again after a lost connection and renumbers the messages by their UIDLs.
    fn reconnect(&mut self) -> Result<(), RemoteError> {
        self.client = None;
        if self.entries.iter().any(|e| e.uidl.is_none()) {
            return Err(RemoteError::Protocol {
                host: self.opts.url.host.clone(),
                detail: "the connection was lost and the server has no UIDL to find the \
                         messages again"
                    .into(),
            });
        }
        // An OAuth2 token may have expired since the first login.
        self.opts = self.opts.refreshed()?;
        let mut c = connect_login(&self.opts)?;
        let now: HashMap<String, u64> = c
            .uidl()
            .map_err(|e| map_error(&self.opts, Stage::Session, e))?
            .into_iter()
            .map(|(n, u)| (u, n))
            .collect();
        for e in &mut self.entries {
            e.number = e.uidl.as_ref().and_then(|u| now.get(u).copied());
        }
        self.client = Some(c);
        Ok(())
    }

    /// The current message number of index `i`, or [`RemoteError::Gone`].
    fn number(&self, i: usize) -> Result<u64, RemoteError> {
        self.entries
            .get(i)
            .and_then(|e| e.number)
            .ok_or(RemoteError::Gone(i + 1))
    }

    fn retr(&mut self, i: usize) -> Result<Vec<u8>, Pop3Error> {
        let n = self
            .number(i)
            .map_err(|_| Pop3Error::Protocol("the message is no longer on the server".into()))?;
        match &mut self.client {
            Some(c) => c.retr(n),
            None => Err(Pop3Error::Protocol("not connected".into())),
        }
    }
}

impl RemoteFolder for Pop3Folder {
    fn url(&self) -> &FolderUrl {
        &self.opts.url
    }

    fn take_summary(&mut self) -> Vec<RemoteMessage> {
        std::mem::take(&mut self.summary)
    }

    /// `RETR`, cached; after a lost connection (I/O error, EOF) one reconnect and retry.
    fn fetch(&mut self, i: usize) -> Result<Vec<u8>, RemoteError> {
        if let Some(m) = self.cache.get(&i) {
            return Ok(m.clone());
        }
        self.number(i)?;
        let first = if self.client.is_some() {
            self.retr(i)
        } else {
            Err(Pop3Error::Protocol("not connected".into()))
        };
        let msg = match first {
            Ok(m) => m,
            Err(e) if is_lost(&e) => {
                self.reconnect()?;
                self.number(i)?;
                self.retr(i)
                    .map_err(|e| map_error(&self.opts, Stage::Session, e))?
            }
            Err(e) => return Err(map_error(&self.opts, Stage::Session, e)),
        };
        self.cache.insert(i, msg.clone());
        Ok(msg)
    }

    fn check_new(&mut self) -> Result<Vec<RemoteMessage>, RemoteError> {
        Ok(Vec::new())
    }

    /// `DELE` for `plan.deleted`, then `QUIT` (seen/unseen have no POP3 equivalent). A
    /// refused DELE ends the session without QUIT, so nothing is removed. A connection lost
    /// meanwhile (servers log out idle sessions after 10 minutes, RFC 1939 §3) is made again
    /// once: the messages are found again by UIDL and the DELEs sent anew (one that a QUIT
    /// already removed is no longer listed and is skipped). Refused for a folder opened
    /// read-only.
    fn commit(&mut self, plan: &QuitPlan) -> Result<(), RemoteError> {
        if plan.deleted.is_empty() {
            self.close();
            return Ok(());
        }
        if self.opts.read_only {
            self.close();
            return Err(RemoteError::Unsupported(
                "the maildrop was opened read-only; nothing was deleted",
            ));
        }
        for attempt in 0..2 {
            if self.client.is_none() {
                self.reconnect()?;
            }
            let mut numbers: Vec<u64> = plan
                .deleted
                .iter()
                .filter_map(|&i| self.entries.get(i).and_then(|e| e.number))
                .collect();
            numbers.sort_unstable();
            numbers.dedup();
            let Some(mut c) = self.client.take() else {
                return Ok(());
            };
            let mut res = Ok(());
            for &n in &numbers {
                res = c.dele(n);
                if res.is_err() {
                    break;
                }
            }
            // Dropping the client without QUIT after a failed DELE applies nothing.
            let res = res.and_then(|()| c.quit().map(drop));
            match res {
                Ok(()) => return Ok(()),
                Err(e) if attempt == 0 && is_lost(&e) => continue,
                Err(e) => return Err(map_error(&self.opts, Stage::Session, e)),
            }
        }
        Ok(())
    }

    fn close(&mut self) {
        if let Some(c) = self.client.take() {
            let _ = c.quit();
        }
    }

    fn copy(&mut self, _which: &[usize], _mailbox: &str, _remove: bool) -> Result<(), RemoteError> {
        Err(RemoteError::Unsupported("POP3 has no other folders"))
    }

    fn append(
        &mut self,
        _mailbox: &str,
        _message: &[u8],
        _flags: RemoteFlags,
    ) -> Result<(), RemoteError> {
        Err(RemoteError::Unsupported("POP3 has no other folders"))
    }

    fn list(&mut self) -> Result<Vec<ListEntry>, RemoteError> {
        Ok(vec![ListEntry {
            name: "INBOX".into(),
            delimiter: None,
            attributes: Vec::new(),
        }])
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;

    /// What a scripted connection expects (exactly) and answers; the answer `CLOSE` drops
    /// the connection instead.
    pub(crate) type Script = Vec<(&'static str, &'static str)>;

    /// A loopback POP3 server playing one script per accepted connection, in order; the
    /// handle yields every line received.
    pub(crate) fn scripted(conns: Vec<Script>) -> (u16, std::thread::JoinHandle<Vec<String>>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let h = std::thread::spawn(move || {
            let mut got = Vec::new();
            for script in conns {
                let (s, _) = l.accept().unwrap();
                s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
                    .unwrap();
                let mut w = s.try_clone().unwrap();
                let mut r = BufReader::new(s);
                w.write_all(b"+OK ready\r\n").unwrap();
                for (expect, answer) in script {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap() == 0 {
                        break;
                    }
                    let line = line.trim_end().to_owned();
                    assert_eq!(line, expect);
                    got.push(line);
                    if answer == "CLOSE" {
                        break;
                    }
                    w.write_all(answer.as_bytes()).unwrap();
                }
            }
            got
        });
        (port, h)
    }

    /// Options for a cleartext loopback URL, user bob, password pw.
    pub(crate) fn plain_options(port: u16) -> ConnectOptions {
        ConnectOptions {
            url: FolderUrl::parse(&format!("pop3://bob@127.0.0.1:{port}")).unwrap(),
            login: Login::Password {
                user: "bob".into(),
                password: "pw".into(),
            },
            tls: Default::default(),
            timeout: std::time::Duration::from_secs(10),
            imap_id: false,
            progress: false,
            read_only: false,
            token_command: None,
        }
    }

    /// The login exchange of [`plain_options`] with a server without SASL.
    pub(crate) fn login_script() -> Script {
        vec![
            ("CAPA", "+OK\r\nUSER\r\nUIDL\r\nTOP\r\n.\r\n"),
            ("USER bob", "+OK\r\n"),
            ("PASS pw", "+OK\r\n"),
        ]
    }

    #[test]
    fn reconnects_by_uidl_after_a_lost_connection() {
        let mut first = login_script();
        first.extend([
            ("UIDL", "+OK\r\n1 u1\r\n2 u2\r\n.\r\n"),
            ("LIST", "+OK\r\n1 10\r\n2 20\r\n.\r\n"),
            ("CAPA", "+OK\r\nTOP\r\n.\r\n"),
            ("TOP 1 0", "+OK\r\nSubject: one\r\n\r\n.\r\n"),
            ("TOP 2 0", "+OK\r\nSubject: two\r\n\r\n.\r\n"),
            ("RETR 2", "CLOSE"),
        ]);
        // Meanwhile another client removed u1: u2 is now message 1.
        let mut second = login_script();
        second.extend([
            ("UIDL", "+OK\r\n1 u2\r\n.\r\n"),
            ("RETR 1", "+OK\r\nSubject: two\r\n\r\nbody\r\n.\r\n"),
            ("DELE 1", "+OK\r\n"),
            ("QUIT", "+OK\r\n"),
        ]);
        let (port, h) = scripted(vec![first, second]);
        let mut f = Pop3Folder::open(&plain_options(port)).unwrap();
        let sum = f.take_summary();
        assert_eq!(sum.len(), 2);
        assert_eq!(sum[1].subject.as_deref(), Some(&b"two"[..]));
        assert_eq!(sum[1].size, 20);
        assert_eq!(f.fetch(1).unwrap(), b"Subject: two\n\nbody\n");
        assert!(matches!(f.fetch(0), Err(RemoteError::Gone(1))));
        f.commit(&QuitPlan {
            deleted: vec![0, 1],
            ..QuitPlan::default()
        })
        .unwrap();
        assert_eq!(h.join().unwrap().len(), 16);
    }

    #[test]
    fn commit_reconnects_when_the_server_logged_the_idle_session_out() {
        let mut first = login_script();
        first.extend([
            ("UIDL", "+OK\r\n1 u1\r\n2 u2\r\n.\r\n"),
            ("LIST", "+OK\r\n1 10\r\n2 20\r\n.\r\n"),
            ("CAPA", "+OK\r\nTOP\r\n.\r\n"),
            ("TOP 1 0", "+OK\r\nSubject: one\r\n\r\n.\r\n"),
            ("TOP 2 0", "+OK\r\nSubject: two\r\n\r\n.\r\n"),
            // The autologout timer fired while the user was reading.
            ("DELE 2", "CLOSE"),
        ]);
        let mut second = login_script();
        second.extend([
            ("UIDL", "+OK\r\n1 u1\r\n2 u2\r\n.\r\n"),
            ("DELE 2", "+OK\r\n"),
            ("QUIT", "+OK\r\n"),
        ]);
        let (port, h) = scripted(vec![first, second]);
        let mut f = Pop3Folder::open(&plain_options(port)).unwrap();
        assert_eq!(f.take_summary().len(), 2);
        f.commit(&QuitPlan {
            deleted: vec![1],
            ..QuitPlan::default()
        })
        .unwrap();
        let seen = h.join().unwrap();
        assert_eq!(
            seen.iter().filter(|l| *l == "DELE 2").count(),
            2,
            "{seen:?}"
        );
        assert_eq!(seen.last().map(String::as_str), Some("QUIT"), "{seen:?}");
    }

    #[test]
    fn commit_without_deletions_just_quits_and_top_refused_falls_back_to_retr() {
        let mut script = login_script();
        script.extend([
            ("UIDL", "-ERR unknown command\r\n"),
            ("LIST", "+OK\r\n1 10\r\n.\r\n"),
            ("CAPA", "+OK\r\n.\r\n"),
            ("TOP 1 0", "-ERR unknown command\r\n"),
            ("RETR 1", "+OK\r\nSubject: whole\r\n\r\nb\r\n.\r\n"),
            ("QUIT", "+OK\r\n"),
        ]);
        let (port, h) = scripted(vec![script]);
        let mut f = Pop3Folder::open(&plain_options(port)).unwrap();
        let sum = f.take_summary();
        assert_eq!(sum[0].subject.as_deref(), Some(&b"whole"[..]));
        assert_eq!(
            f.fetch(0).unwrap(),
            b"Subject: whole\n\nb\n",
            "from the cache"
        );
        f.commit(&QuitPlan::default()).unwrap();
        h.join().unwrap();
    }

    #[test]
    fn envelope_sender_choice() {
        assert_eq!(
            envelope_sender(b"Return-Path: <bounce@a.example>\nFrom: X <x@b.example>\n\n"),
            "bounce@a.example"
        );
        assert_eq!(
            envelope_sender(b"Return-Path: <>\nFrom: x@b\n"),
            "MAILER-DAEMON"
        );
        assert_eq!(
            envelope_sender(b"From: =?UTF-8?B?w4k=?= <e@c.example>\nSubject: s\n"),
            "e@c.example"
        );
        assert_eq!(envelope_sender(b"Subject: none\n\n"), "MAILER-DAEMON");
        assert_eq!(envelope_sender(b"From: a b c\n"), "MAILER-DAEMON");
        assert_eq!(envelope_sender(b""), "MAILER-DAEMON");
    }

    #[test]
    fn summary_keeps_raw_values() {
        let head = b"From: =?UTF-8?Q?J=C3=B6rg?= <j@x.example>\nSubject: =?UTF-8?B?w6k=?=\n\
                     Date: Tue, 14 Nov 2023 23:13:20 +0000\n\n";
        let m = summary_of(7, 1234, head);
        assert_eq!(m.uid, 7);
        assert_eq!(m.size, 1234);
        assert_eq!(m.lines, None);
        assert_eq!(m.flags, RemoteFlags::default());
        assert_eq!(m.subject.as_deref(), Some(&b"=?UTF-8?B?w6k=?="[..]));
        assert_eq!(
            m.from.as_deref(),
            Some(&b"=?UTF-8?Q?J=C3=B6rg?= <j@x.example>"[..])
        );
        let want = chrono::DateTime::parse_from_rfc2822("Tue, 14 Nov 2023 23:13:20 +0000")
            .unwrap()
            .with_timezone(&chrono::Local)
            .format("%a %b %e %H:%M:%S %Y")
            .to_string();
        assert_eq!(
            String::from_utf8(m.from_line).unwrap(),
            format!("j@x.example {want}")
        );
        // No Date: now.
        let m = summary_of(1, 0, b"Subject: x\n\n");
        assert!(m.date.is_none() && m.from.is_none());
        assert!(String::from_utf8(m.from_line)
            .unwrap()
            .starts_with("MAILER-DAEMON "));
    }

    #[test]
    fn errors_are_worded_by_stage() {
        let url = FolderUrl::parse("pop3s://me@pop.qq.com").unwrap();
        let opts = ConnectOptions {
            url,
            login: Login::Password {
                user: "me".into(),
                password: "pw".into(),
            },
            tls: Default::default(),
            timeout: std::time::Duration::from_secs(3),
            imap_id: false,
            progress: false,
            read_only: false,
            token_command: None,
        };
        let refused = || {
            Pop3Error::Server(super::super::pop3::ServerError {
                command: "PASS".into(),
                code: Some("AUTH".into()),
                text: "bad".into(),
            })
        };
        match map_error(&opts, Stage::Login, refused()) {
            RemoteError::Auth { text, hint, .. } => {
                assert_eq!(text, "[AUTH] bad");
                assert!(hint.is_some());
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            map_error(&opts, Stage::Session, refused()),
            RemoteError::Server { .. }
        ));
        assert!(matches!(
            map_error(&opts, Stage::Connect, Pop3Error::StlsNotOffered),
            RemoteError::StartTlsUnavailable { .. }
        ));
        let io = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(matches!(
            map_error(&opts, Stage::Connect, Pop3Error::Io(io)),
            RemoteError::Connect { .. }
        ));
    }
}
