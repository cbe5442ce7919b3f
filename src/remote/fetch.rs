//! `rmail fetch ACCOUNT [--keep] [--mailbox PATH]`: downloads new POP3 messages into a
//! local mbox, as fetchmail and getmail do (RFC 1939; UIDL from §7 to know what is new).
//!
//! Durability order, so a crash never loses a message: download a batch (`RETR`), append
//! it to the mailbox in one locked append with one fsync ([`crate::store::mbox::append`],
//! entries built by [`crate::mda::mbox_entry`]: `From_` line and mboxrd quoting), THEN
//! record the batch's UIDLs in the state file (written atomically), and only after all
//! batches, without `--keep`, `DELE` and `QUIT`. A crash between append and state write
//! gives a duplicate on the next run, never a loss.
//!
//! What is deleted: a run without `--keep` records what it downloads as *to be deleted*;
//! at its end it sends `DELE` for every message still on the server whose UIDL is to be
//! deleted — this run's and those an earlier run left behind (it ended early, a `DELE` was
//! refused, or `QUIT` answered `-ERR`, RFC 1939 §6) — then `QUIT`, and only after `+OK` to
//! `QUIT` records them as done. So nothing downloaded without `--keep` stays on the server
//! for good. A `--keep` run deletes nothing (leftovers wait for the next run without
//! it). Messages downloaded by a `--keep` run stay on the server and are never deleted by
//! a later run, nor downloaded again. A message whose `RETR` is refused (`-ERR`)
//! is skipped and reported ([`FetchReport::skipped`]); the others are still fetched, and
//! the next run tries it again. UIDLs that are no longer on the server are dropped from
//! the state file.
//!
//! The state file is `<state>/fetch/<name>.uidl`, mode 0600, where `<state>` is
//! `$XDG_STATE_HOME/rmail` or `~/.local/state/rmail` and `<name>` the account name, or
//! `USER@HOST` for a URL ([`state_name`]). One UIDL a line, sorted: `D <uidl>` when it is
//! still to be deleted, `<uidl>` alone when done with: left on the server by `--keep`, or
//! deleted at this run's `QUIT` (dropped by the next run). A UIDL is 0x21–0x7E only, no
//! spaces (RFC 1939 §7), so files written before the `D ` lines existed read as all done. A run holds an exclusive `flock` on `<state>/fetch/<name>.uidl.lock`
//! ([`lock_state`]) from before it reads the state file until it ends, so a second run for
//! the same account (cron and a manual one) is refused instead of downloading the same
//! messages and overwriting the state.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::pop3::{Pop3Error, ServerError};
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
    /// Talking to the server failed while deleting (`DELE`, `QUIT`): what was downloaded is
    /// in the mailbox and recorded as to be deleted; the next run deletes it.
    #[error("{0}; the downloaded messages stay on the server until the next rmail fetch")]
    NotDeleted(RemoteError),
    /// The account has no `fetch-url`, or it is not a POP3 URL.
    #[error("{0}")]
    Config(String),
    /// The server has no UIDL command: without it, new mail cannot be told from old.
    #[error("{0}: the server has no UIDL command; cannot tell new messages from old ones")]
    NoUidl(String),
    /// Another run for the same account holds the lock ([`lock_state`]).
    #[error("another rmail fetch for this account is running ({} is locked)", .0.display())]
    Busy(PathBuf),
    /// The local mailbox could not be written.
    #[error("cannot append to {path}: {detail}")]
    Mailbox {
        /// The mailbox.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// The state file (or its lock file) could not be read, written or locked.
    #[error("cannot {what} the state file {path}: {detail}")]
    State {
        /// `read`, `write` or `lock`.
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

/// A message the server refused one command for (`-ERR`), the run going on without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// Its message number in the session (RFC 1939 §5).
    pub number: u64,
    /// Its UIDL.
    pub uidl: String,
    /// The server's text: `[CODE] text` when it gave a response code (RFC 2449 §8).
    pub text: String,
}

impl Refused {
    fn new(number: u64, uidl: &str, e: &ServerError) -> Refused {
        Refused {
            number,
            uidl: uidl.to_owned(),
            text: match &e.code {
                Some(c) => format!("[{c}] {}", e.text),
                None => e.text.clone(),
            },
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchReport {
    /// Messages appended to the mailbox.
    pub fetched: usize,
    /// Messages deleted on the server, this run's and earlier runs' leftovers (0 with
    /// `--keep`).
    pub deleted: usize,
    /// New messages not fetched because `RETR` was refused; the next run tries again.
    pub skipped: Vec<Refused>,
    /// Messages to be deleted whose `DELE` was refused; the next run tries again.
    pub not_deleted: Vec<Refused>,
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

/// What the state file says of a recorded UIDL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// Downloaded, and left on the server or already deleted there: never deleted by
    /// rmail (a plain `<uidl>` line).
    Done,
    /// Downloaded by a run without `--keep`, not yet known to be deleted on the server
    /// (a `D <uidl>` line).
    Delete,
}

/// The recorded UIDLs of a state file.
pub type FetchState = BTreeMap<String, Mark>;

/// The UIDLs in a state file's text: `D <uidl>` is [`Mark::Delete`], any other non-blank
/// line (trimmed) a [`Mark::Done`] UIDL. A UIDL on both kinds of line is `Done` (never
/// delete what may have been kept).
pub fn parse_state(text: &str) -> FetchState {
    let mut state = FetchState::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (uidl, mark) = match line.strip_prefix("D ") {
            Some(u) => (u.trim(), Mark::Delete),
            None => (line, Mark::Done),
        };
        state
            .entry(uidl.to_owned())
            .and_modify(|m| {
                if mark == Mark::Done {
                    *m = Mark::Done;
                }
            })
            .or_insert(mark);
    }
    state
}

/// The state file's text for `state`: one UIDL a line, sorted by UIDL, `D ` before those
/// still to be deleted.
pub fn render_state(state: &FetchState) -> String {
    let mut s = String::with_capacity(state.len() * 24);
    for (u, m) in state {
        if *m == Mark::Delete {
            s.push_str("D ");
        }
        s.push_str(u);
        s.push('\n');
    }
    s
}

/// Reads the state file; a missing one is empty.
pub fn read_state(path: &Path) -> Result<FetchState, FetchError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(parse_state(&t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FetchState::new()),
        Err(e) => Err(FetchError::State {
            what: "read",
            path: path.to_owned(),
            detail: e.to_string(),
        }),
    }
}

/// Creates the directory of `path` (0700) when missing.
fn create_parent(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir),
        _ => Ok(()),
    }
}

/// Writes the state file atomically (temporary file, fsync, rename, directory fsync; mode
/// 0600), creating its directory (0700) when missing.
pub fn write_state(path: &Path, state: &FetchState) -> Result<(), FetchError> {
    let err = |e: std::io::Error| FetchError::State {
        what: "write",
        path: path.to_owned(),
        detail: e.to_string(),
    };
    create_parent(path).map_err(err)?;
    crate::store::uidmap::write_atomic(path, render_state(state).as_bytes()).map_err(err)
}

/// Locks the account's state: an exclusive, non-blocking `flock` on `<path>.lock`
/// (created mode 0600 with its directory 0700 when missing, and never removed, so every
/// run locks the same file), held until the returned file is dropped. Errors:
/// [`FetchError::Busy`] when another process holds it, [`FetchError::State`] (`lock`) when
/// the lock file cannot be created or locked.
pub fn lock_state(path: &Path) -> Result<std::fs::File, FetchError> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    let lock = PathBuf::from(name);
    let err = |e: std::io::Error| FetchError::State {
        what: "lock",
        path: path.to_owned(),
        detail: e.to_string(),
    };
    create_parent(&lock).map_err(err)?;
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&lock)
        .map_err(err)?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => Err(FetchError::Busy(lock)),
        Err(std::fs::TryLockError::Error(e)) => Err(err(e)),
    }
}

/// Runs one fetch (see the module documentation) under the account's lock
/// ([`lock_state`]), showing a `HOST: messages` counter when `req.opts.progress`. A `RETR`
/// or `DELE` refused with `-ERR` for one message does not end the run: it is listed in
/// [`FetchReport::skipped`] or [`FetchReport::not_deleted`]. Errors: another run holds the
/// lock ([`FetchError::Busy`]), connection and login ([`RemoteError`]), no UIDL, the
/// mailbox or the state file cannot be written, the connection lost or a response too
/// large while downloading ([`FetchError::Remote`]: what was appended before is recorded
/// and not fetched again; nothing is deleted), the connection lost while deleting or
/// `QUIT` answered `-ERR` ([`FetchError::NotDeleted`]: the messages stay to be deleted by
/// the next run).
pub fn run(req: &FetchRequest) -> Result<FetchReport, FetchError> {
    let _lock = lock_state(&req.state)?;
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
    state.retain(|u, _| on_server.contains(u.as_str()));
    let pruned = state.len() != before;
    let new: Vec<(u64, String)> = listing
        .iter()
        .filter(|(_, u)| !state.contains_key(u))
        .cloned()
        .collect();
    let mark = if req.keep { Mark::Done } else { Mark::Delete };
    let mut progress =
        super::Progress::new(format!("{host}: messages"), new.len() as u64, opts.progress);
    let mut report = FetchReport::default();
    let mut batch = Batch::default();
    for (k, (n, uidl)) in new.iter().enumerate() {
        match c.retr(*n) {
            Ok(msg) => {
                let (h, _) = crate::message::header::header_end(&msg);
                let sender = envelope_sender(&msg[..h]);
                batch.push(
                    crate::mda::mbox_entry(&sender, &msg, chrono::Local::now()),
                    uidl,
                );
            }
            // The connection is still in step: go on with the others.
            Err(Pop3Error::Server(s)) => report.skipped.push(Refused::new(*n, uidl, &s)),
            Err(e) => {
                // Keep what was downloaded; delete nothing (no QUIT).
                batch.flush(req, &mut state, mark, &mut report.fetched)?;
                return Err(session(e).into());
            }
        }
        progress.set(k as u64 + 1);
        if batch.entries.len() >= BATCH_MESSAGES || batch.octets >= BATCH_OCTETS {
            batch.flush(req, &mut state, mark, &mut report.fetched)?;
        }
    }
    batch.flush(req, &mut state, mark, &mut report.fetched)?;
    progress.finish();
    // Every flush wrote the whole (pruned) state; write the pruning when none did.
    if pruned && report.fetched == 0 {
        write_state(&req.state, &state)?;
    }
    if req.keep {
        c.quit().map_err(session)?;
        return Ok(report);
    }
    // This run's downloads and earlier runs' leftovers, in message-number order.
    let mut deleted: Vec<&str> = Vec::new();
    for (n, uidl) in &listing {
        if state.get(uidl) != Some(&Mark::Delete) {
            continue;
        }
        match c.dele(*n) {
            Ok(()) => deleted.push(uidl),
            Err(Pop3Error::Server(s)) => report.not_deleted.push(Refused::new(*n, uidl, &s)),
            // No QUIT: the server deletes nothing (RFC 1939 §6).
            Err(e) => return Err(FetchError::NotDeleted(session(e))),
        }
    }
    // A -ERR to QUIT: some or all were not removed (§6); they stay to be deleted, and the
    // next run deletes those still on the server.
    c.quit().map_err(|e| FetchError::NotDeleted(session(e)))?;
    if !deleted.is_empty() {
        for u in &deleted {
            state.insert((*u).to_owned(), Mark::Done);
        }
        write_state(&req.state, &state)?;
    }
    report.deleted = deleted.len();
    Ok(report)
}

/// Downloaded messages not yet in the mailbox.
#[derive(Default)]
struct Batch {
    /// mbox entries ([`crate::mda::mbox_entry`]).
    entries: Vec<Vec<u8>>,
    uidls: Vec<String>,
    octets: usize,
}

impl Batch {
    fn push(&mut self, entry: Vec<u8>, uidl: &str) {
        self.octets += entry.len();
        self.entries.push(entry);
        self.uidls.push(uidl.to_owned());
    }

    /// Appends the batch (one lock, one fsync), THEN records its UIDLs in the state file
    /// with `mark`, and adds its size to `fetched`. Nothing when empty.
    fn flush(
        &mut self,
        req: &FetchRequest,
        state: &mut FetchState,
        mark: Mark,
        fetched: &mut usize,
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
        *fetched += self.entries.len();
        state.extend(self.uidls.drain(..).map(|u| (u, mark)));
        write_state(&req.state, state)?;
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

/// The lines `rmail fetch` prints on stderr for the refused messages:
/// `message N (UIDL u) skipped: TEXT` for each of [`FetchReport::skipped`], and
/// `message N (UIDL u) not deleted: TEXT` for each of [`FetchReport::not_deleted`].
pub fn refused_lines(report: &FetchReport) -> Vec<String> {
    let line = |r: &Refused, what: &str| {
        format!("message {} (UIDL {}) {what}: {}", r.number, r.uidl, r.text)
    };
    report
        .skipped
        .iter()
        .map(|r| line(r, "skipped"))
        .chain(report.not_deleted.iter().map(|r| line(r, "not deleted")))
        .collect()
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
        let set = state(&[
            ("b2", Mark::Delete),
            ("a1", Mark::Done),
            ("QhdPYR:00WBw1Ph7x7", Mark::Done),
        ]);
        write_state(&path, &set).unwrap();
        assert_eq!(read_state(&path).unwrap(), set);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "QhdPYR:00WBw1Ph7x7\na1\nD b2\n"
        );
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // Rewritten in place, no temporary left behind.
        write_state(&path, &FetchState::new()).unwrap();
        assert!(read_state(&path).unwrap().is_empty());
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );
    }

    /// A state from (UIDL, mark) pairs.
    fn state(v: &[(&str, Mark)]) -> FetchState {
        v.iter().map(|(u, m)| (u.to_string(), *m)).collect()
    }

    /// A state of plain (done) UIDLs.
    fn done(v: &[&str]) -> FetchState {
        v.iter().map(|u| (u.to_string(), Mark::Done)).collect()
    }

    #[test]
    fn state_file_lines() {
        // A file written before `D ` lines existed: all plain, all kept.
        assert_eq!(parse_state("\n x \n\ny\n"), done(&["x", "y"]));
        assert_eq!(
            parse_state("D a\nb\r\n  D  c \nD\nD \n"),
            state(&[
                ("a", Mark::Delete),
                ("b", Mark::Done),
                ("c", Mark::Delete),
                ("D", Mark::Done),
            ])
        );
        // Both kinds of line for one UIDL: never deleted.
        assert_eq!(parse_state("D u\nu\n"), done(&["u"]));
        assert_eq!(parse_state("u\nD u\n"), done(&["u"]));
        let s = state(&[("z", Mark::Done), ("m", Mark::Delete), ("D", Mark::Done)]);
        assert_eq!(render_state(&s), "D\nD m\nz\n");
        assert_eq!(parse_state(&render_state(&s)), s);
        assert_eq!(render_state(&FetchState::new()), "");
    }

    #[test]
    fn one_run_at_a_time() {
        use crate::remote::pop3_folder::tests::{login_script, scripted};
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/t.uidl");
        let held = lock_state(&path).unwrap();
        let e = lock_state(&path).unwrap_err();
        assert!(
            matches!(&e, FetchError::Busy(p) if p.ends_with("state/t.uidl.lock")),
            "{e}"
        );
        // The run is refused before it connects (port 9: nothing listens there).
        let e = run(&request(9, dir.path(), false)).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("another rmail fetch for this account is running"),
            "{e}"
        );
        assert!(!path.exists());
        drop(held);
        let mut script = login_script();
        script.extend([("UIDL", "+OK\r\n.\r\n"), ("QUIT", "+OK\r\n")]);
        let (port, h) = scripted(vec![script]);
        assert_eq!(
            run(&request(port, dir.path(), false)).unwrap(),
            FetchReport::default()
        );
        h.join().unwrap();
        // The lock file stays (removing it would race with a run taking it), and is free.
        drop(lock_state(&path).unwrap());
        let lock = dir.path().join("state/t.uidl.lock");
        let mode = std::fs::metadata(lock).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
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
        write_state(&dir.path().join("state/t.uidl"), &done(&["old", "gone"])).unwrap();
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
                deleted: 2,
                ..FetchReport::default()
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
            done(&["new1", "new2", "old"]),
            "recorded, done once deleted, and the UIDL no longer on the server dropped"
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
            done(&["new1", "old"])
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
        assert!(!dir.path().join("state/t.uidl").exists());
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
            state(&[("a", Mark::Delete)])
        );

        // The next run fetches b, then deletes it and a (left over), and records both done.
        let mut script = login_script();
        script.extend([
            ("UIDL", "+OK\r\n1 a\r\n2 b\r\n.\r\n"),
            ("RETR 2", "+OK\r\nSubject: b\r\n\r\ny\r\n.\r\n"),
            ("DELE 1", "+OK\r\n"),
            ("DELE 2", "+OK\r\n"),
            ("QUIT", "+OK\r\n"),
        ]);
        let (port, h) = scripted(vec![script]);
        let r = run(&request(port, dir.path(), false)).unwrap();
        assert_eq!((r.fetched, r.deleted), (1, 2));
        h.join().unwrap();
        assert_eq!(
            read_state(&dir.path().join("state/t.uidl")).unwrap(),
            done(&["a", "b"])
        );
        let mbox = std::fs::read_to_string(dir.path().join("inbox")).unwrap();
        assert_eq!(mbox.matches("Subject: ").count(), 2, "{mbox}");

        // Gone from the server: dropped from the state, nothing else sent.
        let mut script = login_script();
        script.extend([("UIDL", "+OK\r\n.\r\n"), ("QUIT", "+OK\r\n")]);
        let (port, h) = scripted(vec![script]);
        assert_eq!(
            run(&request(port, dir.path(), false)).unwrap(),
            FetchReport::default()
        );
        h.join().unwrap();
        assert!(read_state(&dir.path().join("state/t.uidl"))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn a_refused_quit_or_dele_leaves_them_to_be_deleted() {
        use crate::remote::pop3_folder::tests::{login_script, scripted};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/t.uidl");
        let mut script = login_script();
        script.extend([
            ("UIDL", "+OK\r\n1 a\r\n2 b\r\n.\r\n"),
            ("RETR 1", "+OK\r\nSubject: a\r\n\r\nx\r\n.\r\n"),
            ("RETR 2", "+OK\r\nSubject: b\r\n\r\ny\r\n.\r\n"),
            ("DELE 1", "+OK\r\n"),
            ("DELE 2", "+OK\r\n"),
            ("QUIT", "-ERR some deleted messages not removed\r\n"),
        ]);
        let (port, h) = scripted(vec![script]);
        let e = run(&request(port, dir.path(), false)).unwrap_err();
        assert!(matches!(e, FetchError::NotDeleted(_)), "{e}");
        assert!(
            e.to_string().contains("some deleted messages not removed")
                && e.to_string().contains("until the next rmail fetch"),
            "{e}"
        );
        h.join().unwrap();
        assert_eq!(
            read_state(&path).unwrap(),
            state(&[("a", Mark::Delete), ("b", Mark::Delete)])
        );

        // The server removed a after all; b is still there. Its DELE is refused this time:
        // reported, still to be deleted, and QUIT still sent.
        let mut script = login_script();
        script.extend([
            ("UIDL", "+OK\r\n1 b\r\n2 c\r\n.\r\n"),
            ("RETR 2", "+OK\r\nSubject: c\r\n\r\nz\r\n.\r\n"),
            ("DELE 1", "-ERR [SYS/TEMP] busy\r\n"),
            ("DELE 2", "+OK\r\n"),
            ("QUIT", "+OK\r\n"),
        ]);
        let (port, h) = scripted(vec![script]);
        let r = run(&request(port, dir.path(), false)).unwrap();
        h.join().unwrap();
        assert_eq!((r.fetched, r.deleted), (1, 1));
        assert!(r.skipped.is_empty());
        assert_eq!(
            r.not_deleted,
            [Refused {
                number: 1,
                uidl: "b".into(),
                text: "[SYS/TEMP] busy".into()
            }]
        );
        assert_eq!(
            refused_lines(&r),
            ["message 1 (UIDL b) not deleted: [SYS/TEMP] busy"]
        );
        assert_eq!(
            read_state(&path).unwrap(),
            state(&[("b", Mark::Delete), ("c", Mark::Done)])
        );

        // A lost connection while deleting: no QUIT, so nothing deleted; b stays marked.
        let mut script = login_script();
        script.extend([("UIDL", "+OK\r\n1 b\r\n.\r\n"), ("DELE 1", "CLOSE")]);
        let (port, h) = scripted(vec![script]);
        let e = run(&request(port, dir.path(), false)).unwrap_err();
        assert!(matches!(e, FetchError::NotDeleted(_)), "{e}");
        h.join().unwrap();
        assert_eq!(read_state(&path).unwrap(), state(&[("b", Mark::Delete)]));
    }

    #[test]
    fn kept_messages_are_never_deleted() {
        use crate::remote::pop3_folder::tests::{login_script, scripted};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/t.uidl");
        write_state(&path, &state(&[("k", Mark::Done), ("d", Mark::Delete)])).unwrap();
        // --keep: n is recorded plain; nothing is deleted, not even the leftover d.
        let mut script = login_script();
        script.extend([
            ("UIDL", "+OK\r\n1 k\r\n2 d\r\n3 n\r\n.\r\n"),
            ("RETR 3", "+OK\r\nSubject: n\r\n\r\nx\r\n.\r\n"),
            ("QUIT", "+OK\r\n"),
        ]);
        let (port, h) = scripted(vec![script]);
        let r = run(&request(port, dir.path(), true)).unwrap();
        h.join().unwrap();
        assert_eq!((r.fetched, r.deleted), (1, 0));
        assert_eq!(
            read_state(&path).unwrap(),
            state(&[("k", Mark::Done), ("d", Mark::Delete), ("n", Mark::Done)])
        );
        // Without --keep: only the leftover d and the new m are deleted.
        let mut script = login_script();
        script.extend([
            ("UIDL", "+OK\r\n1 k\r\n2 d\r\n3 n\r\n4 m\r\n.\r\n"),
            ("RETR 4", "+OK\r\nSubject: m\r\n\r\nx\r\n.\r\n"),
            ("DELE 2", "+OK\r\n"),
            ("DELE 4", "+OK\r\n"),
            ("QUIT", "+OK\r\n"),
        ]);
        let (port, h) = scripted(vec![script]);
        let r = run(&request(port, dir.path(), false)).unwrap();
        h.join().unwrap();
        assert_eq!((r.fetched, r.deleted), (1, 2));
        assert_eq!(read_state(&path).unwrap(), done(&["d", "k", "m", "n"]));
    }

    #[test]
    fn a_refused_retr_is_skipped_and_the_rest_fetched() {
        use crate::remote::pop3_folder::tests::{login_script, scripted};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/t.uidl");
        let mut script = login_script();
        script.extend([
            ("UIDL", "+OK\r\n1 a\r\n2 bad\r\n3 c\r\n.\r\n"),
            ("RETR 1", "+OK\r\nSubject: a\r\n\r\nx\r\n.\r\n"),
            ("RETR 2", "-ERR [SYS/PERM] message corrupt\r\n"),
            ("RETR 3", "+OK\r\nSubject: c\r\n\r\nz\r\n.\r\n"),
            ("DELE 1", "+OK\r\n"),
            ("DELE 3", "+OK\r\n"),
            ("QUIT", "+OK\r\n"),
        ]);
        let (port, h) = scripted(vec![script]);
        let r = run(&request(port, dir.path(), false)).unwrap();
        h.join().unwrap();
        assert_eq!(
            r,
            FetchReport {
                fetched: 2,
                deleted: 2,
                skipped: vec![Refused {
                    number: 2,
                    uidl: "bad".into(),
                    text: "[SYS/PERM] message corrupt".into()
                }],
                not_deleted: vec![],
            }
        );
        assert_eq!(
            refused_lines(&r),
            ["message 2 (UIDL bad) skipped: [SYS/PERM] message corrupt"]
        );
        let mbox = std::fs::read_to_string(dir.path().join("inbox")).unwrap();
        assert!(
            mbox.contains("Subject: a\n") && mbox.contains("Subject: c\n"),
            "{mbox}"
        );
        // Not recorded: the next run tries it again (and only it).
        assert_eq!(read_state(&path).unwrap(), done(&["a", "c"]));
        let mut script = login_script();
        script.extend([
            ("UIDL", "+OK\r\n1 bad\r\n.\r\n"),
            ("RETR 1", "+OK\r\nSubject: b\r\n\r\ny\r\n.\r\n"),
            ("DELE 1", "+OK\r\n"),
            ("QUIT", "+OK\r\n"),
        ]);
        let (port, h) = scripted(vec![script]);
        let r = run(&request(port, dir.path(), false)).unwrap();
        h.join().unwrap();
        assert_eq!((r.fetched, r.deleted, r.skipped.len()), (1, 1, 0));
        assert_eq!(read_state(&path).unwrap(), done(&["bad"]));
    }

    #[test]
    fn summary_lines() {
        let mb = Path::new("/var/mail/alice");
        let r = |n| FetchReport {
            fetched: n,
            ..FetchReport::default()
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
