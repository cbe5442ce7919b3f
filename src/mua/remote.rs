//! The reader's side of remote folders (issue 6): opening an `imap://`/`imaps://`/`pop3://`/
//! `pop3s://` URL as the current folder, `save`/`copy` to an IMAP mailbox (server-side
//! `UID COPY` within one account, `APPEND` otherwise), and `folders` over `LIST`.
//!
//! Credentials are asked for once per user and host in a session and kept in memory only
//! (see [`crate::remote::options_from`] for where they come from).

use std::path::Path;

use super::session::Session;
use super::source::{RemoteSource, Source};
use crate::remote::{self, ConnectOptions, FolderUrl, Protocol, RemoteError, RemoteFlags};

/// The arrival date of message `i` (its `From_` line's date, local time; for a remote
/// message the server's INTERNALDATE), kept as the copy's INTERNALDATE when it is appended
/// elsewhere; `None` when it does not parse.
fn arrival(src: &Source, i: usize) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    use chrono::TimeZone;
    let fl = src.field(i, crate::store::mbox::Field::FromLine)?;
    let text = String::from_utf8_lossy(fl);
    let date = text.split_once(char::is_whitespace)?.1.trim();
    let naive = crate::message::date::parse_from_line_date(date)?;
    chrono::Local
        .from_local_datetime(&naive)
        .earliest()
        .map(|t| t.fixed_offset())
}

/// The key of [`Session::remote_logins`]: `user@host`, the host in lower case.
pub(super) fn login_key(url: &FolderUrl) -> String {
    format!(
        "{}@{}",
        url.user.as_deref().unwrap_or(""),
        url.host.to_ascii_lowercase()
    )
}

/// `path` as a folder URL when it is one (a `PathBuf` made from the URL string).
pub fn url_of(path: &Path) -> Option<Result<FolderUrl, RemoteError>> {
    let s = path.to_str()?;
    remote::url::is_folder_url(s).then(|| FolderUrl::parse(s).map_err(RemoteError::from))
}

impl Session {
    /// Connection options for `url` from the variables, reusing the credentials already
    /// obtained for the same user and host in this session.
    pub fn remote_options(&mut self, url: &FolderUrl) -> Result<ConnectOptions, RemoteError> {
        let key = login_key(url);
        let known = self.remote_logins.get(&key).cloned();
        let o = remote::options_with_login(url, &|k| self.vars.get(k).map(str::to_owned), known)?;
        // Passwords are asked once; OAuth2 tokens expire, so their command runs each time.
        if matches!(o.login, remote::Login::Password { .. }) {
            self.remote_logins.insert(key, o.login.clone());
        }
        Ok(o)
    }

    /// Connects to `url`, logs in and reads the header summary (progress on a terminal).
    pub fn open_remote(
        &mut self,
        url: &FolderUrl,
        read_only: bool,
    ) -> Result<RemoteSource, RemoteError> {
        let mut opts = self.remote_options(url)?;
        opts.read_only = read_only;
        if self.vars.is_set("verbose") {
            eprintln!(
                "rmail: connecting to {} as {}",
                url.host_port(),
                opts.login.user()
            );
        }
        let conn = remote::open(&opts).inspect_err(|e| {
            if matches!(e, RemoteError::Auth { .. }) {
                self.forget_login(url);
            }
        })?;
        Ok(RemoteSource::new(conn))
    }

    fn forget_login(&mut self, url: &FolderUrl) {
        let key = login_key(url);
        self.remote_logins.remove(&key);
    }

    /// `save`/`copy` of messages `list` (1-based) to the IMAP mailbox `target`: a
    /// server-side `UID COPY` when the open folder is on the same account, else the
    /// messages are fetched and appended with `APPEND` (`\Seen` when read). Prints mailx's
    /// confirmation (`"URL" [Copied] 2 messages`); errors are printed and set
    /// `last_failed`. Returns whether the messages were stored.
    pub(super) fn save_remote(&mut self, list: &[usize], target: &FolderUrl) -> bool {
        if target.protocol == Protocol::Pop3 {
            eprintln!("rmail: {target}: cannot save to a POP3 mailbox (POP3 has only the INBOX, and it is read-only)");
            self.last_failed = true;
            return false;
        }
        let Some(f) = self.folder.as_ref() else {
            return false;
        };
        let idx: Vec<usize> = list.iter().map(|n| n - 1).collect();
        let res = match &f.src {
            Source::Remote(r) if r.url.protocol == Protocol::Imap && r.url.same_account(target) => {
                r.conn().copy(&idx, &target.mailbox, false)
            }
            _ => {
                let mut msgs = Vec::with_capacity(idx.len());
                for &i in &idx {
                    match f.src.read_message(i) {
                        Ok(m) => msgs.push((
                            m,
                            RemoteFlags {
                                seen: f.msgs[i].read,
                                ..RemoteFlags::default()
                            },
                            arrival(&f.src, i),
                        )),
                        Err(e) => {
                            eprintln!("rmail: cannot read message {}: {e}", i + 1);
                            self.last_failed = true;
                            return false;
                        }
                    }
                }
                match self.remote_options(target) {
                    Ok(opts) => {
                        remote::warn_cleartext(target);
                        let r = remote::imap::append_to(&opts, &target.mailbox, &msgs);
                        if matches!(r, Err(RemoteError::Auth { .. })) {
                            self.forget_login(target);
                        }
                        r
                    }
                    Err(e) => Err(e),
                }
            }
        };
        match res {
            Ok(()) => {
                println!(
                    "\"{}\" [Copied] {}",
                    target.shown(),
                    super::session::plural(list.len(), "message")
                );
                true
            }
            Err(e) => {
                eprintln!("rmail: {}: {e}", target.shown());
                self.last_failed = true;
                false
            }
        }
    }

    /// `folders` when the folder directory (`folder`) is an IMAP URL or the open folder is
    /// remote: the server's mailboxes from `LIST`, one per line, with their special use
    /// (RFC 6154) in parentheses. Returns false when neither applies.
    pub(super) fn folders_remote(&mut self) -> bool {
        let folder_url = self
            .vars
            .get("folder")
            .filter(|v| remote::url::is_folder_url(v))
            .map(FolderUrl::parse);
        let open = self
            .folder
            .as_ref()
            .and_then(|f| f.src.remote())
            .map(|r| r.url.clone());
        let res = match (folder_url, open) {
            (Some(Err(e)), _) => Err(RemoteError::from(e)),
            (Some(Ok(u)), Some(o)) if u.same_account(&o) => self.list_open(),
            (None, Some(_)) => self.list_open(),
            (Some(Ok(u)), _) => match self.remote_options(&u) {
                Ok(opts) => remote::imap::list_mailboxes(&opts),
                Err(e) => Err(e),
            },
            (None, None) => return false,
        };
        match res {
            Ok(list) => {
                let mut out = String::new();
                for e in list {
                    let special: Vec<&str> = e
                        .attributes
                        .iter()
                        .map(String::as_str)
                        .filter(|a| {
                            matches!(
                                a.to_ascii_lowercase().as_str(),
                                "\\sent"
                                    | "\\drafts"
                                    | "\\trash"
                                    | "\\junk"
                                    | "\\archive"
                                    | "\\all"
                                    | "\\flagged"
                            )
                        })
                        .collect();
                    out.push_str(&e.name);
                    if !special.is_empty() {
                        out.push_str(&format!(" ({})", special.join(" ")));
                    }
                    out.push('\n');
                }
                print!("{out}");
            }
            Err(e) => {
                eprintln!("rmail: folders: {e}");
                self.last_failed = true;
            }
        }
        true
    }

    fn list_open(&mut self) -> Result<Vec<remote::ListEntry>, RemoteError> {
        match self.folder.as_ref().and_then(|f| f.src.remote()) {
            Some(r) => r.conn().list(),
            None => Ok(Vec::new()),
        }
    }
}
