//! `rmail fetch ACCOUNT [--keep] [--mailbox PATH]`: downloads new POP3 messages into a
//! local mbox, as fetchmail and getmail do (RFC 1939; UIDL from §7 to know what is new).
//!
//! Durability order, so a crash never loses a message: download a batch (`RETR`), append
//! it to the mailbox in one locked append with one fsync ([`crate::store::mbox::append`],
//! entries built by [`crate::mda::mbox_entry`]: `From_` line and mboxrd quoting), THEN
//! record the batch's UIDLs in the state file (written atomically), and only after all
//! batches, without `--keep`, `DELE` them and `QUIT`. A crash between append and state
//! write gives a duplicate on the next run, never a loss.
//!
//! What is deleted: only the messages this run downloaded (fetchmail's default). Messages
//! recorded by an earlier `--keep` run stay on the server and are not downloaded again.
//! UIDLs that are no longer on the server are dropped from the state file.
//!
//! The state file is `<state>/fetch/<name>.uidl`, one UIDL per line, mode 0600, where
//! `<state>` is `$XDG_STATE_HOME/rmail` or `~/.local/state/rmail` and `<name>` the account
//! name, or `USER@HOST` for a URL ([`state_name`]).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::pop3::Pop3Error;
use super::pop3_folder::{connect_login, envelope_sender, session_error};
use super::{ConnectOptions, FolderUrl, Protocol, RemoteError};

/// How many messages are appended (and fsync'ed, and recorded) at a time.
pub const BATCH_MESSAGES: usize = 100;

/// How many octets of downloaded mail are held before they are appended.
pub const BATCH_OCTETS: usize = 32 * 1024 * 1024;

/// What can go wrong in `rmail fetch`.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Talking to the server failed.
    #[error(transparent)]
    Remote(#[from] RemoteError),
    /// The account has no `fetch-url`, or it is not a POP3 URL.
    #[error("{0}")]
    Config(String),
    /// The server has no UIDL command: without it, new mail cannot be told from old.
    #[error("{0}: the server has no UIDL command; cannot tell new messages from old ones")]
    NoUidl(String),
    /// The local mailbox could not be written.
    #[error("cannot append to {path}: {detail}")]
    Mailbox {
        /// The mailbox.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// The state file could not be read or written.
    #[error("cannot {what} the state file {path}: {detail}")]
    State {
        /// `read` or `write`.
        what: &'static str,
        /// The state file.
        path: PathBuf,
        /// The system's reason.
        detail: String,
    },
}

/// One `rmail fetch` run, resolved.
#[derive(Debug, Clone)]
pub struct FetchRequest {
    /// The account name, or `None` when the command line gave a URL.
    pub account: Option<String>,
    /// Where and how to connect (a `pop3://` or `pop3s://` URL in `opts.url`).
    pub opts: ConnectOptions,
    /// The local mbox to append to.
    pub mailbox: PathBuf,
    /// The state file ([`state_path`]).
    pub state: PathBuf,
    /// Leave the messages on the server.
    pub keep: bool,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchReport {
    /// Messages appended to the mailbox.
    pub fetched: usize,
    /// Messages deleted on the server (0 with `--keep`).
    pub deleted: usize,
}

/// The URL to fetch from: `arg` itself when it is a folder URL, else the `fetch-url`
/// variable of account `arg` (read through `get`). Errors: no `fetch-url`, not POP3.
pub fn fetch_url(arg: &str, get: super::VarLookup<'_>) -> Result<FolderUrl, FetchError> {
    let (text, whose) = if super::url::is_folder_url(arg) {
        (arg.to_owned(), String::new())
    } else {
        let v = get("fetch-url")
            .filter(|u| !u.trim().is_empty())
            .ok_or_else(|| {
                FetchError::Config(format!(
                "account {arg} has no fetch-url (add e.g. `set fetch-url=pop3s://USER@HOST:995` \
                 to its account block)"
            ))
            })?;
        (
            v.trim().to_owned(),
            format!(" (fetch-url of account {arg})"),
        )
    };
    let url = FolderUrl::parse(&text).map_err(RemoteError::from)?;
    if url.protocol != Protocol::Pop3 {
        return Err(FetchError::Config(format!(
            "{url}{whose}: rmail fetch speaks POP3 only (pop3:// or pop3s://)"
        )));
    }
    Ok(url)
}

/// The state file's base name: `account`, else `USER@HOST` of the URL, with every byte
/// outside `[A-Za-z0-9._@+-]` turned into `_`, a leading dot too (no hidden files, no `..`,
/// no `/`), at most 100 bytes, never empty.
pub fn state_name(account: Option<&str>, url: &FolderUrl) -> String {
    let raw = match account {
        Some(a) => a.to_owned(),
        None => format!("{}@{}", url.user.as_deref().unwrap_or(""), url.host),
    };
    let mut s: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._@+-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    if s.starts_with('.') {
        s.replace_range(..1, "_");
    }
    if s.is_empty() {
        s.push('_');
    }
    s
}

/// `$XDG_STATE_HOME/rmail/fetch/NAME.uidl`, else `$HOME/.local/state/rmail/fetch/NAME.uidl`
/// (the XDG base directory defaults; a relative `XDG_STATE_HOME` is ignored, as the spec
/// says).
pub fn state_path(name: &str) -> PathBuf {
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/"))
                .join(".local/state")
        });
    base.join("rmail")
        .join("fetch")
        .join(format!("{name}.uidl"))
}

/// The UIDLs in a state file's text: one per line, blank lines ignored.
pub fn parse_state(text: &str) -> BTreeSet<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The state file's text for `uidls`: one per line, sorted.
pub fn render_state(uidls: &BTreeSet<String>) -> String {
    let mut s = String::with_capacity(uidls.len() * 24);
    for u in uidls {
        s.push_str(u);
        s.push('\n');
    }
    s
}

/// Reads the state file; a missing one is empty.
pub fn read_state(path: &Path) -> Result<BTreeSet<String>, FetchError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(parse_state(&t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeSet::new()),
        Err(e) => Err(FetchError::State {
            what: "read",
            path: path.to_owned(),
            detail: e.to_string(),
        }),
    }
}

/// Writes the state file atomically (temporary file, fsync, rename, directory fsync; mode
/// 0600), creating its directory (0700) when missing.
pub fn write_state(path: &Path, uidls: &BTreeSet<String>) -> Result<(), FetchError> {
    let err = |e: std::io::Error| FetchError::State {
        what: "write",
        path: path.to_owned(),
        detail: e.to_string(),
    };
    if let Some(dir) = path.parent() {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(err)?;
    }
    crate::store::uidmap::write_atomic(path, render_state(uidls).as_bytes()).map_err(err)
}

/// Runs one fetch (see the module documentation), showing a `HOST: messages` counter when
/// `req.opts.progress`. Errors: connection and login ([`RemoteError`]), no UIDL, the mailbox
/// or the state file cannot be written. Messages appended before an error are recorded and
/// are not fetched again; nothing is deleted on the server after an error.
pub fn run(req: &FetchRequest) -> Result<FetchReport, FetchError> {
    let opts = &req.opts;
    let host = opts.url.host.clone();
    let session = |e: Pop3Error| session_error(opts, e);
    let mut c = connect_login(opts)?;
    let listing = match c.uidl() {
        Ok(l) => l,
        Err(Pop3Error::Server(_)) => return Err(FetchError::NoUidl(host)),
        Err(e) => return Err(session(e).into()),
    };
    let mut state = read_state(&req.state)?;
    let on_server: BTreeSet<&str> = listing.iter().map(|(_, u)| u.as_str()).collect();
    let before = state.len();
    state.retain(|u| on_server.contains(u.as_str()));
    let pruned = state.len() != before;
    let new: Vec<(u64, String)> = listing
        .iter()
        .filter(|(_, u)| !state.contains(u))
        .cloned()
        .collect();
    let mut progress =
        super::Progress::new(format!("{host}: messages"), new.len() as u64, opts.progress);
    let mut downloaded: Vec<u64> = Vec::with_capacity(new.len());
    let mut batch = Batch::default();
    for (k, (n, uidl)) in new.iter().enumerate() {
        let msg = match c.retr(*n) {
            Ok(m) => m,
            Err(e) => {
                // Keep what was downloaded; delete nothing (no QUIT).
                batch.flush(req, &mut state, &mut downloaded)?;
                return Err(session(e).into());
            }
        };
        let (h, _) = crate::message::header::header_end(&msg);
        let sender = envelope_sender(&msg[..h]);
        batch.push(
            crate::mda::mbox_entry(&sender, &msg, chrono::Local::now()),
            uidl,
            *n,
        );
        progress.set(k as u64 + 1);
        if batch.entries.len() >= BATCH_MESSAGES || batch.octets >= BATCH_OCTETS {
            batch.flush(req, &mut state, &mut downloaded)?;
        }
    }
    batch.flush(req, &mut state, &mut downloaded)?;
    progress.finish();
    if pruned && downloaded.is_empty() {
        write_state(&req.state, &state)?;
    }
    let mut report = FetchReport {
        fetched: downloaded.len(),
        deleted: 0,
    };
    if !req.keep {
        for n in &downloaded {
            c.dele(*n).map_err(session)?;
        }
        report.deleted = downloaded.len();
    }
    c.quit().map_err(session)?;
    Ok(report)
}

/// Downloaded messages not yet in the mailbox.
#[derive(Default)]
struct Batch {
    /// mbox entries ([`crate::mda::mbox_entry`]).
    entries: Vec<Vec<u8>>,
    uidls: Vec<String>,
    numbers: Vec<u64>,
    octets: usize,
}

impl Batch {
    fn push(&mut self, entry: Vec<u8>, uidl: &str, number: u64) {
        self.octets += entry.len();
        self.entries.push(entry);
        self.uidls.push(uidl.to_owned());
        self.numbers.push(number);
    }

    /// Appends the batch (one lock, one fsync), THEN records its UIDLs in the state file;
    /// the message numbers move to `downloaded` (to be deleted). Nothing when empty.
    fn flush(
        &mut self,
        req: &FetchRequest,
        state: &mut BTreeSet<String>,
        downloaded: &mut Vec<u64>,
    ) -> Result<(), FetchError> {
        if self.entries.is_empty() {
            return Ok(());
        }
        crate::store::mbox::append(&req.mailbox, &self.entries).map_err(|e| {
            FetchError::Mailbox {
                path: req.mailbox.clone(),
                detail: e.to_string(),
            }
        })?;
        state.extend(self.uidls.drain(..));
        write_state(&req.state, state)?;
        downloaded.append(&mut self.numbers);
        self.entries.clear();
        self.octets = 0;
        Ok(())
    }
}

/// The line `rmail fetch` prints: `fetched 3 messages from HOST into MAILBOX`, or
/// `no new mail at HOST`.
pub fn summary_line(report: &FetchReport, host: &str, mailbox: &Path) -> String {
    match report.fetched {
        0 => format!("no new mail at {host}"),
        1 => format!("fetched 1 message from {host} into {}", mailbox.display()),
        n => format!(
            "fetched {n} messages from {host} into {}",
            mailbox.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names_are_safe() {
        let url = FolderUrl::parse("pop3s://alice%40qq.com@pop.qq.com").unwrap();
        assert_eq!(state_name(None, &url), "alice@qq.com@pop.qq.com");
        assert_eq!(state_name(Some("qq"), &url), "qq");
        assert_eq!(state_name(Some("../../etc/x"), &url), "_._.._etc_x");
        assert_eq!(state_name(Some(".hidden"), &url), "_hidden");
        assert_eq!(state_name(Some(""), &url), "_");
        assert_eq!(state_name(Some("工作 mail"), &url), "___mail");
        assert_eq!(state_name(Some(&"a".repeat(300)), &url).len(), 100);
        let anon = FolderUrl::parse("pop3://pop.example.org").unwrap();
        assert_eq!(state_name(None, &anon), "@pop.example.org");
    }

    #[test]
    fn state_file_round_trip_and_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/rmail/fetch/x.uidl");
        assert!(read_state(&path).unwrap().is_empty());
        let set: BTreeSet<String> = ["b2", "a1", "QhdPYR:00WBw1Ph7x7"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        write_state(&path, &set).unwrap();
        assert_eq!(read_state(&path).unwrap(), set);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "QhdPYR:00WBw1Ph7x7\na1\nb2\n"
        );
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // Rewritten in place, no temporary left behind.
        write_state(&path, &BTreeSet::new()).unwrap();
        assert!(read_state(&path).unwrap().is_empty());
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );
        assert_eq!(
            parse_state("\n x \n\ny\n"),
            ["x", "y"].iter().map(|s| s.to_string()).collect()
        );
    }

    #[test]
    fn fetch_url_from_argument_or_account() {
        let none = |_: &str| None;
        let u = fetch_url("pop3s://bob@127.0.0.1:9950", &none).unwrap();
        assert_eq!((u.host.as_str(), u.port), ("127.0.0.1", 9950));
        let e = fetch_url("work", &none).unwrap_err().to_string();
        assert!(e.contains("account work") && e.contains("fetch-url"), "{e}");
        let imap = |k: &str| (k == "fetch-url").then(|| "imaps://a@b".to_owned());
        let e = fetch_url("work", &imap).unwrap_err().to_string();
        assert!(e.contains("POP3 only") && e.contains("account work"), "{e}");
        let pop = |k: &str| (k == "fetch-url").then(|| " pop3s://a@pop.b ".to_owned());
        assert_eq!(fetch_url("work", &pop).unwrap().host, "pop.b");
    }

    #[test]
    fn state_path_follows_xdg() {
        // Pure: computed from the environment of this process only when asked; check the
        // shape with the variables as they are.
        let p = state_path("acct");
        assert!(p.ends_with("rmail/fetch/acct.uidl"), "{}", p.display());
    }

    fn request(port: u16, dir: &Path, keep: bool) -> FetchRequest {
        FetchRequest {
            account: Some("t".into()),
            opts: crate::remote::pop3_folder::tests::plain_options(port),
            mailbox: dir.join("inbox"),
            state: dir.join("state/t.uidl"),
            keep,
        }
    }

    #[test]
    fn run_appends_records_then_deletes() {
        use crate::remote::pop3_folder::tests::{login_script, scripted};
        let dir = tempfile::tempdir().unwrap();
        let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        write_state(&dir.path().join("state/t.uidl"), &set(&["old", "gone"])).unwrap();
        let mut script = login_script();
        script.extend([
            ("UIDL", "+OK\r\n1 old\r\n2 new1\r\n3 new2\r\n.\r\n"),
            (
                "RETR 2",
                "+OK\r\nReturn-Path: <rp@a.example>\r\nFrom: f@b.example\r\n\r\nFrom me\r\n.\r\n",
            ),
            ("RETR 3", "+OK\r\nFrom: Y <y@c.example>\r\n\r\nhi\r\n.\r\n"),
            ("DELE 2", "+OK\r\n"),
            ("DELE 3", "+OK\r\n"),
            ("QUIT", "+OK\r\n"),
        ]);
        let (port, h) = scripted(vec![script]);
        let r = run(&request(port, dir.path(), false)).unwrap();
        assert_eq!(
            r,
            FetchReport {
                fetched: 2,
                deleted: 2
            }
        );
        h.join().unwrap();
        let mbox = std::fs::read_to_string(dir.path().join("inbox")).unwrap();
        let lines: Vec<&str> = mbox.lines().collect();
        assert!(lines[0].starts_with("From rp@a.example "), "{mbox}");
        assert_eq!(lines[4], ">From me", "{mbox}");
        assert!(lines[6].starts_with("From y@c.example "), "{mbox}");
        assert_eq!(
            read_state(&dir.path().join("state/t.uidl")).unwrap(),
            set(&["new1", "new2", "old"]),
            "recorded, and the UIDL no longer on the server dropped"
        );

        // --keep, nothing new: no RETR, no DELE.
        let mut script = login_script();
        script.extend([
            ("UIDL", "+OK\r\n1 old\r\n2 new1\r\n.\r\n"),
            ("QUIT", "+OK\r\n"),
        ]);
        let (port, h) = scripted(vec![script]);
        assert_eq!(
            run(&request(port, dir.path(), true)).unwrap(),
            FetchReport::default()
        );
        h.join().unwrap();
        assert_eq!(
            read_state(&dir.path().join("state/t.uidl")).unwrap(),
            set(&["new1", "old"])
        );
    }

    #[test]
    fn no_uidl_is_an_error_and_writes_nothing() {
        use crate::remote::pop3_folder::tests::{login_script, scripted};
        let dir = tempfile::tempdir().unwrap();
        let mut script = login_script();
        script.push(("UIDL", "-ERR what\r\n"));
        let (port, h) = scripted(vec![script]);
        let e = run(&request(port, dir.path(), false)).unwrap_err();
        assert!(matches!(e, FetchError::NoUidl(_)), "{e}");
        assert!(e.to_string().contains("no UIDL"));
        h.join().unwrap();
        assert!(!dir.path().join("inbox").exists());
        assert!(!dir.path().join("state").exists());
    }

    #[test]
    fn a_failed_retr_keeps_what_was_appended_and_deletes_nothing() {
        use crate::remote::pop3_folder::tests::{login_script, scripted};
        let dir = tempfile::tempdir().unwrap();
        let mut script = login_script();
        script.extend([
            ("UIDL", "+OK\r\n1 a\r\n2 b\r\n.\r\n"),
            ("RETR 1", "+OK\r\nSubject: a\r\n\r\nx\r\n.\r\n"),
            ("RETR 2", "CLOSE"),
        ]);
        let (port, h) = scripted(vec![script]);
        assert!(run(&request(port, dir.path(), false)).is_err());
        h.join().unwrap();
        // What was downloaded is appended and recorded; nothing was deleted (no DELE, no
        // QUIT in the transcript).
        let mbox = std::fs::read_to_string(dir.path().join("inbox")).unwrap();
        assert!(mbox.contains("Subject: a\n\nx\n"), "{mbox}");
        assert_eq!(
            read_state(&dir.path().join("state/t.uidl")).unwrap(),
            ["a".to_owned()].into_iter().collect()
        );
    }

    #[test]
    fn summary_lines() {
        let mb = Path::new("/var/mail/alice");
        let r = |n| FetchReport {
            fetched: n,
            deleted: 0,
        };
        assert_eq!(
            summary_line(&r(0), "pop.qq.com", mb),
            "no new mail at pop.qq.com"
        );
        assert_eq!(
            summary_line(&r(1), "pop.qq.com", mb),
            "fetched 1 message from pop.qq.com into /var/mail/alice"
        );
        assert_eq!(
            summary_line(&r(3), "pop.qq.com", mb),
            "fetched 3 messages from pop.qq.com into /var/mail/alice"
        );
    }
}
