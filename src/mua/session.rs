//! One reader session: the environment, the open folder with per-message state, the input
//! loop, and what `quit` and `exit` do to the mailbox (POSIX mailx "quit": deleted and saved
//! messages leave the system mailbox, read ones move to `MBOX` unless `hold`, the rest are
//! held; in a folder opened with `-f` only deleted messages leave).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use super::msglist::{self, ListContext, Want};
use super::source::{RemoteSource, Source};
use super::summary::{self, Headline, Line};
use super::vars::Vars;
use crate::error::{EXIT_FAIL, EXIT_OK};
use crate::message::{address, header};
use crate::remote::{self, FolderUrl, RemoteError};
use crate::store::mbox::{self, Disposition, Field, Mbox, Status, StoreError};

/// Paths and names resolved once from the environment.
#[derive(Debug, Clone)]
pub struct Env {
    /// `$HOME` (else the password database, else `/`).
    pub home: PathBuf,
    /// Login name: `$USER`, `$LOGNAME`, else the password database.
    pub user: String,
    /// `$MAIL`, else `/var/mail/$USER`.
    pub system_mailbox: PathBuf,
}

impl Env {
    /// Reads the environment.
    pub fn from_process() -> Env {
        let pw_name = || crate::mda::users::name_of_uid(rustix::process::getuid().as_raw());
        let user = std::env::var("USER")
            .ok()
            .filter(|s| !s.is_empty())
            .or_else(|| std::env::var("LOGNAME").ok().filter(|s| !s.is_empty()))
            .or_else(pw_name)
            .unwrap_or_else(|| "nobody".into());
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .or_else(dirs::home_dir)
            .unwrap_or_else(|| PathBuf::from("/"));
        let system_mailbox = std::env::var_os("MAIL")
            .filter(|m| !m.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| crate::mda::mailbox_of(&user));
        Env {
            home,
            user,
            system_mailbox,
        }
    }

    /// The system mailbox of `user` (`/var/mail/USER`, see [`crate::mda::spool_dir`]).
    pub fn spool_of(&self, user: &str) -> PathBuf {
        crate::mda::mailbox_of(user)
    }
}

/// Per-message state of the session (mailx's MNEW, MREAD, MDELETED, MSAVED, MPRESERVE, MBOX).
#[derive(Debug, Clone, Copy, Default)]
pub struct MsgState {
    /// No `O` in `Status:` at open: arrived since the last session.
    pub new: bool,
    /// `R` in `Status:` at open.
    pub read_before: bool,
    /// Read in this session (or before, unless `unread` cleared it).
    pub read: bool,
    /// Read in this session.
    pub read_now: bool,
    /// Marked deleted.
    pub deleted: bool,
    /// Saved to a file with `save`/`Save`.
    pub saved: bool,
    /// `hold`/`preserve`: stays in the system mailbox.
    pub preserved: bool,
    /// `mbox`/`touch`: moves to MBOX at quit.
    pub mboxed: bool,
    /// Expunged by another client (remote folders; found by `newmail`): shown deleted,
    /// left out of everything `quit` does.
    pub gone: bool,
}

impl MsgState {
    /// The state of a message as found in the folder (at open or by `newmail`): new unless
    /// `O`, read when `R` (IMAP `\Seen`).
    pub fn at_open(st: Status) -> MsgState {
        MsgState {
            new: !st.old,
            read_before: st.read,
            read: st.read,
            ..MsgState::default()
        }
    }

    /// The header summary's status letter (`D M P * R O N U`).
    pub fn letter(&self) -> char {
        if self.deleted {
            'D'
        } else if self.mboxed {
            'M'
        } else if self.preserved {
            'P'
        } else if self.saved {
            '*'
        } else if self.read_now && self.read {
            'R'
        } else if self.read {
            'O'
        } else if self.new {
            'N'
        } else {
            'U'
        }
    }

    /// The `Status:` letters to store at quit: every message is old after a session.
    pub fn disk_status(&self) -> Status {
        Status {
            read: self.read,
            old: true,
        }
    }
}

/// An open folder.
pub struct Folder {
    /// The messages: an indexed local mbox, or a remote IMAP/POP3 folder.
    pub src: Source,
    /// Its path as opened, or a remote folder's URL.
    pub path: PathBuf,
    /// Opened with `-f`/`file` (edit mode) rather than as the system mailbox.
    pub edit: bool,
    /// Nothing is written back.
    pub read_only: bool,
    /// State per message, index = number - 1.
    pub msgs: Vec<MsgState>,
    /// Current message number (1-based; 0 when empty).
    pub cur: usize,
    /// Whether the current message has been acted on (so `next` moves past it).
    pub cur_used: bool,
    /// First message of the last `headers` screen.
    pub screen_top: usize,
}

/// An error opening a folder.
#[derive(Debug)]
pub enum OpenError {
    /// A local mailbox could not be opened.
    Local(StoreError),
    /// A remote folder could not be opened (connection, TLS, login, SELECT).
    Remote(RemoteError),
}

impl OpenError {
    /// True when the (local) file does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, OpenError::Local(StoreError::NotFound(_)))
    }
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::Local(e) => e.fmt(f),
            OpenError::Remote(e) => e.fmt(f),
        }
    }
}

/// The reader's whole state.
pub struct Session {
    /// Variables (`set`).
    pub vars: Vars,
    /// Paths and user name.
    pub env: Env,
    /// `alias`/`group` definitions.
    pub aliases: BTreeMap<String, Vec<String>>,
    /// `alternates`.
    pub alternates: Vec<String>,
    /// `ignore`/`discard` (lower-case field names).
    pub ignored: BTreeSet<String>,
    /// `retain` (lower-case field names); when non-empty only these are shown.
    pub retained: BTreeSet<String>,
    /// The open folder, if any.
    pub folder: Option<Folder>,
    /// The previous folder (`#`).
    pub prev_folder: Option<PathBuf>,
    /// stdin is a terminal.
    pub interactive: bool,
    /// `if`/`else` nesting: whether each level executes.
    pub cond: Vec<bool>,
    /// Set by a failing command; decides nothing but `-v` reporting.
    pub last_failed: bool,
    /// Set by `quit`/`exit`.
    pub(crate) stop: Option<i32>,
    /// Nesting of `source` (and start-up files).
    source_depth: usize,
    /// Send mode (`if s` is true, `if r` false), else receive mode.
    pub sending: bool,
    /// `account NAME { … }` blocks read from start-up files: name → lines, not yet run
    /// (see [`super::account`]).
    pub accounts: BTreeMap<String, Vec<String>>,
    /// Credentials for remote folders obtained in this session, by `user@host` (memory
    /// only; see [`super::remote`]).
    pub(crate) remote_logins: std::collections::HashMap<String, crate::remote::Login>,
}

/// `source` nesting limit (a file that sources itself stops here, as Heirloom mailx does).
const MAX_SOURCE_DEPTH: usize = 16;
/// Largest start-up or `source` file read, bytes (`source /dev/zero` must not eat memory).
const MAX_RC_SIZE: u64 = 1 << 20;

impl Session {
    /// A session with no folder open, reading the environment.
    pub fn new(interactive: bool) -> Session {
        Session {
            vars: Vars::new(),
            env: Env::from_process(),
            aliases: BTreeMap::new(),
            alternates: Vec::new(),
            ignored: BTreeSet::new(),
            retained: BTreeSet::new(),
            folder: None,
            prev_folder: None,
            interactive,
            cond: Vec::new(),
            last_failed: false,
            stop: None,
            source_depth: 0,
            sending: false,
            accounts: BTreeMap::new(),
            remote_logins: std::collections::HashMap::new(),
        }
    }

    /// Opens `path` as the current folder; returns its message count.
    pub fn open_folder(
        &mut self,
        path: &Path,
        edit: bool,
        read_only: bool,
    ) -> Result<usize, OpenError> {
        let src = match path.to_str().filter(|p| remote::url::is_folder_url(p)) {
            Some(u) => {
                let url = FolderUrl::parse(u).map_err(|e| OpenError::Remote(e.into()))?;
                let readonly = read_only || self.vars.is_set("readonly");
                Source::Remote(
                    self.open_remote(&url, readonly)
                        .map_err(OpenError::Remote)?,
                )
            }
            None => Source::Local(Mbox::open(path).map_err(OpenError::Local)?),
        };
        let mailbox_read_only = match &src {
            Source::Local(mb) => mb.is_read_only(),
            Source::Remote(_) => false,
        };
        let msgs: Vec<MsgState> = (0..src.len())
            .map(|i| MsgState::at_open(src.status(i)))
            .collect();
        let n = msgs.len();
        if self.vars.is_set("verbose") {
            let how = match &src {
                Source::Local(_) => "indexed (mailbox lock held while reading only)",
                Source::Remote(_) => "listed by the server",
            };
            eprintln!("rmail: {}: {} {how}", path.display(), plural(n, "message"));
        }
        // The current message starts at the first new (else unread) message, else the first.
        let cur = msgs
            .iter()
            .position(|m| m.new && !m.read)
            .or_else(|| msgs.iter().position(|m| !m.read))
            .map(|i| i + 1)
            .unwrap_or(if n > 0 { 1 } else { 0 });
        self.folder = Some(Folder {
            src,
            path: path.to_owned(),
            edit,
            read_only: read_only || self.vars.is_set("readonly") || mailbox_read_only,
            msgs,
            cur,
            cur_used: false,
            screen_top: 1,
        });
        Ok(n)
    }

    /// Screen height for `headers` and `z`: `screen`, else terminal rows − 4, else 20.
    pub fn screen(&self) -> usize {
        if let Some(n) = self.vars.number("screen").filter(|&n| n > 0) {
            return n;
        }
        match terminal_size() {
            Some((_, rows)) if rows > 5 => rows - 4,
            _ => 20,
        }
    }

    /// Display width for summary lines: the terminal's; when not a terminal `$COLUMNS`, else 80.
    pub fn width(&self) -> usize {
        terminal_size().map(|(c, _)| c).unwrap_or_else(|| {
            std::env::var("COLUMNS")
                .ok()
                .and_then(|c| c.trim().parse::<usize>().ok())
                .filter(|&c| c > 0)
                .unwrap_or(80)
        })
    }

    /// The banner (`"/var/mail/u": 2 messages 1 new`) and, when `with_headers`, the screen of
    /// headers around the current message.
    pub fn announce(&mut self, with_headers: bool) {
        let Some(f) = &self.folder else { return };
        println!("{}", folder_banner(f));
        if with_headers && !f.msgs.is_empty() {
            let cur = f.cur;
            self.headers_screen(cur);
        }
        let _ = io::stdout().flush();
    }

    /// `-H`: one summary line per message, nothing else.
    pub fn print_all_headers(&self) -> io::Result<()> {
        let Some(f) = &self.folder else { return Ok(()) };
        let out = io::stdout();
        let mut w = io::BufWriter::with_capacity(1 << 16, out.lock());
        let hl = self.headline();
        let width = self.width();
        for n in 1..=f.msgs.len() {
            let line = self.summary_line(&hl, n, width);
            w.write_all(line.as_bytes())?;
            w.write_all(b"\n")?;
        }
        w.flush()
    }

    /// The parsed `headline` format.
    pub fn headline(&self) -> Headline {
        Headline::parse(
            self.vars
                .get("headline")
                .unwrap_or(summary::DEFAULT_HEADLINE),
        )
    }

    /// The summary line of message `n`.
    pub fn summary_line(&self, hl: &Headline, n: usize, width: usize) -> String {
        let f = self.folder.as_ref().expect("folder open");
        let i = n - 1;
        let from = self.sender_shown(i);
        let date = self.date_shown(i);
        let subject = self.subject(n);
        let line = Line {
            current: n == f.cur,
            status: f.msgs[i].letter(),
            number: n,
            from: &summary::sanitize(&from),
            date: &date,
            lines: f.src.lines(i),
            bytes: f.src.size(i),
            subject: &summary::sanitize(&subject),
        };
        hl.format(&line, width)
    }

    /// The sender as the summary shows it: the `From:` address (the display name with
    /// `showname`), else the `From_` line's sender; with `showto`, mail from oneself shows
    /// `To: recipient`.
    fn sender_shown(&self, i: usize) -> String {
        let f = self.folder.as_ref().expect("folder open");
        let showname = self.vars.is_set("showname");
        let from = match f.src.field(i, Field::From) {
            Some(v) => fast_sender(v, showname),
            None => String::new(),
        };
        let from = if from.is_empty() {
            self.envelope_sender(i)
        } else {
            from
        };
        if self.vars.is_set("showto") && self.is_me(&from) {
            // `To:` is not in the index (it would cost ~45 bytes a message for a rarely used
            // variable): read from the message, only for mail from oneself.
            if let Some(to) = f.src.read_message(i).ok().and_then(|raw| {
                let (hdr, _) = super::display::split_message(&raw);
                header::split_fields(hdr)
                    .into_iter()
                    .find(|x| x.name.eq_ignore_ascii_case("to"))
                    .map(|x| x.value)
            }) {
                let to = &to[..];
                if let Some(m) = address::parse_list(to).into_iter().next() {
                    return format!(
                        "To: {}",
                        if showname {
                            m.name.unwrap_or(m.addr)
                        } else {
                            m.addr
                        }
                    );
                }
            }
        }
        from
    }

    fn envelope_sender(&self, i: usize) -> String {
        let f = self.folder.as_ref().expect("folder open");
        let fl = f.src.field(i, Field::FromLine).unwrap_or(b"");
        let s = String::from_utf8_lossy(fl);
        s.split_whitespace().next().unwrap_or("").to_owned()
    }

    /// Whether the bare address `addr` is one of ours (mailx): its local part is the login
    /// name, or it is listed by `alternates`, or it is the `from` variable's address (which
    /// an account sets; s-nail counts it too).
    pub(crate) fn is_me(&self, addr: &str) -> bool {
        let local = addr.split('@').next().unwrap_or("");
        local == self.env.user
            || self.alternates.iter().any(|a| a.eq_ignore_ascii_case(addr))
            || self.vars.get("from").is_some_and(|f| {
                address::parse_list(f.as_bytes())
                    .iter()
                    .any(|m| m.addr.eq_ignore_ascii_case(addr))
            })
    }

    /// The date as the summary shows it: the `From_` line's date (Heirloom's default), or
    /// with `datefield` the `Date:` field in local time; a date that does not parse falls
    /// back to the other source, never to 1970.
    fn date_shown(&self, i: usize) -> String {
        let f = self.folder.as_ref().expect("folder open");
        // `datefield` with a value is a strftime format (s-nail); set without one, or with a
        // format chrono cannot use, it is Heirloom's switch with the classic format.
        let fmt = self
            .vars
            .get("datefield")
            .filter(|v| !v.is_empty() && strftime_ok(v))
            .unwrap_or("%a %b %e %H:%M");
        let header_date = || {
            let v = f.src.field(i, Field::Date)?;
            let d = crate::message::date::parse_date_header(&String::from_utf8_lossy(v))?;
            Some(d.with_timezone(&chrono::Local).format(fmt).to_string())
        };
        if self.vars.is_set("datefield") {
            if let Some(d) = header_date() {
                return d;
            }
        }
        let fl = f.src.field(i, Field::FromLine).unwrap_or(b"");
        if let Some(d) = asctime_prefix(fl) {
            return d.to_owned();
        }
        let text = String::from_utf8_lossy(fl);
        let date = text
            .split_once(char::is_whitespace)
            .map(|x| x.1.trim())
            .unwrap_or("");
        if let Some(d) = crate::message::date::parse_from_line_date(date) {
            return d.format("%a %b %e %H:%M").to_string();
        }
        header_date().unwrap_or_else(|| summary::cut_columns(date, 16).to_owned())
    }

    /// Prints the screen of summary lines that contains message `n`.
    pub fn headers_screen(&mut self, n: usize) {
        let size = self.screen();
        let Some(f) = self.folder.as_mut() else {
            return;
        };
        let total = f.msgs.len();
        if total == 0 {
            println!("No messages.");
            return;
        }
        let n = n.clamp(1, total);
        let top = ((n - 1) / size) * size + 1;
        f.screen_top = top;
        self.print_range(top, (top + size - 1).min(total));
    }

    /// Prints summary lines for messages `a..=b` (deleted ones skipped).
    pub fn print_range(&self, a: usize, b: usize) {
        let Some(f) = &self.folder else { return };
        let hl = self.headline();
        let width = self.width();
        let mut out = io::stdout().lock();
        for n in a..=b {
            if f.msgs[n - 1].deleted {
                continue;
            }
            let _ = writeln!(out, "{}", self.summary_line(&hl, n, width));
        }
    }

    /// The decoded subject of message `n` (1-based).
    pub fn subject(&self, n: usize) -> String {
        let f = self.folder.as_ref().expect("folder open");
        match f.src.field(n - 1, Field::Subject) {
            // Plain ASCII without encoded-words: unfolding is all the decoding there is.
            Some(v) if v.is_ascii() && !has_encoded_word(v) => {
                let mut out = String::with_capacity(v.len());
                for part in v.split(|&b| b == b'\n' || b == b'\r') {
                    out.push_str(std::str::from_utf8(part).unwrap_or_default());
                }
                out.trim().to_owned()
            }
            Some(v) => header::decode_words(v),
            None => String::new(),
        }
    }

    /// Reads the start-up files — `/etc/mail.rc` (or `RMAIL_SYSTEM_MAILRC`) unless
    /// `no_system_rc`, then `$MAILRC` or `~/.mailrc` — then the `-A` account (an unknown one is
    /// an error, which callers report as a usage error), then the `-S` assignments.
    pub fn load_startup_files(
        &mut self,
        no_system_rc: bool,
        account: Option<&str>,
        set: &[String],
    ) -> Result<(), super::account::AccountError> {
        if !no_system_rc {
            let sys = std::env::var_os("RMAIL_SYSTEM_MAILRC")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/etc/mail.rc"));
            self.source_file(&sys, true);
        }
        let user_rc = match std::env::var_os("MAILRC") {
            Some(p) => PathBuf::from(p),
            None => self.env.home.join(".mailrc"),
        };
        self.source_file(&user_rc, true);
        if let Some(name) = account {
            self.apply_account(name)?;
        }
        for a in set {
            self.vars.assign(a);
        }
        Ok(())
    }

    /// Runs commands from `path` (a start-up file or `source`); a missing file is silent when
    /// `quiet_missing`.
    pub fn source_file(&mut self, path: &Path, quiet_missing: bool) -> bool {
        use std::io::Read;
        if self.source_depth >= MAX_SOURCE_DEPTH {
            eprintln!("rmail: {}: Too much \"source\"ing going on", path.display());
            return false;
        }
        let mut text = Vec::new();
        let read =
            std::fs::File::open(path).and_then(|f| f.take(MAX_RC_SIZE + 1).read_to_end(&mut text));
        if let Err(e) = read {
            if !(quiet_missing && e.kind() == io::ErrorKind::NotFound) {
                eprintln!("rmail: cannot read {}: {e}", path.display());
            }
            return false;
        }
        if text.len() as u64 > MAX_RC_SIZE {
            eprintln!(
                "rmail: {}: larger than {} bytes, not read",
                path.display(),
                MAX_RC_SIZE
            );
            return false;
        }
        let text = String::from_utf8_lossy(&text);
        let depth = self.cond.len();
        self.source_depth += 1;
        let items = crate::config::accounts::group(crate::config::mailrc::command_lines(&text));
        self.run_items(items, &path.display().to_string());
        self.source_depth -= 1;
        if self.cond.len() != depth {
            eprintln!("rmail: {}: missing \"endif\"", path.display());
            self.cond.truncate(depth);
        }
        true
    }

    /// Reads and runs commands until `quit`, `exit` or end of input; returns the exit status.
    pub fn command_loop(&mut self) -> i32 {
        if self.interactive {
            self.loop_terminal()
        } else {
            self.loop_plain()
        }
    }

    fn prompt(&self) -> String {
        self.vars.get("prompt").unwrap_or("& ").to_owned()
    }

    fn loop_plain(&mut self) -> i32 {
        // The stdin lock is taken per line, not held: commands such as `mail` and `reply`
        // read the message body from the same (buffered) standard input.
        let stdin = io::stdin();
        let mut buf = Vec::new();
        loop {
            if let Some(p) = self.vars.get("prompt") {
                print!("{p}");
                let _ = io::stdout().flush();
            }
            buf.clear();
            match stdin.lock().read_until(b'\n', &mut buf) {
                Ok(0) => return self.eof(),
                Err(e) => return self.input_lost(&e),
                Ok(_) => {}
            }
            let line = String::from_utf8_lossy(&buf);
            let line = line.trim_end_matches(['\n', '\r']);
            self.execute(line);
            let _ = io::stdout().flush();
            if let Some(code) = self.stop {
                return code;
            }
        }
    }

    fn loop_terminal(&mut self) -> i32 {
        let mut rl = match rustyline::DefaultEditor::new() {
            Ok(rl) => rl,
            Err(_) => return self.loop_plain(),
        };
        loop {
            match rl.readline(&self.prompt()) {
                Ok(line) => {
                    if !line.trim().is_empty() {
                        let _ = rl.add_history_entry(line.as_str());
                    }
                    self.execute(&line);
                    let _ = io::stdout().flush();
                    if let Some(code) = self.stop {
                        return code;
                    }
                }
                Err(rustyline::error::ReadlineError::Interrupted) => {
                    if !self.vars.is_set("ignore") {
                        println!("Interrupt");
                    }
                }
                Err(rustyline::error::ReadlineError::Eof) => {
                    if self.vars.is_set("ignoreeof") {
                        println!("Use \"quit\" to quit.");
                        continue;
                    }
                    return self.eof();
                }
                Err(rustyline::error::ReadlineError::Io(e)) => return self.input_lost(&e),
                Err(_) => return self.eof(),
            }
        }
    }

    /// The terminal went away (hang-up: reads fail with EIO). Like mailx's hang-up handling
    /// we leave the mailbox exactly as it was — a half-finished `quit` killed by the SIGHUP
    /// that follows could otherwise leave messages both in MBOX and in the mailbox.
    fn input_lost(&mut self, e: &io::Error) -> i32 {
        eprintln!("rmail: cannot read commands ({e}); leaving the mailbox unchanged");
        self.folder = None;
        EXIT_FAIL
    }

    fn eof(&mut self) -> i32 {
        match self.quit_folder() {
            Ok(()) => EXIT_OK,
            Err(()) => EXIT_FAIL,
        }
    }

    /// `quit` semantics for the open folder (see the module docs). Errors are printed; a
    /// remote folder whose changes could not be applied stays open.
    pub fn quit_folder(&mut self) -> Result<(), ()> {
        let Some(mut f) = self.folder.take() else {
            return Ok(());
        };
        self.prev_folder = Some(f.path.clone());
        if f.read_only {
            return Ok(());
        }
        if let Source::Remote(r) = &f.src {
            // No local file is written: signals stay deliverable (a hung server must not
            // make quit uninterruptible). On failure the folder stays open, with its marks,
            // so that `quit` can be tried again (the connection is made anew) or `exit` used.
            // Opened as the inbox (not with -f): saved messages leave it, as from the system
            // mailbox (mailx; s-nail does the same for an IMAP inbox), unless `keepsave`.
            let drop_saved = !f.edit && !self.vars.is_set("keepsave");
            let res = quit_remote(r, &f.msgs, drop_saved);
            if res.is_err() {
                r.keep_open();
                self.folder = Some(f);
            }
            return res;
        }
        // Moving mail to MBOX and rewriting the mailbox are one step for the user: a SIGHUP
        // or SIGTERM between them would leave messages in both (each write is safe alone).
        let _hold_signals = crate::store::critical::Critical::enter();
        if f.edit {
            return self.quit_edit(&mut f);
        }
        self.quit_system(&mut f)
    }

    fn quit_edit(&self, f: &mut Folder) -> Result<(), ()> {
        let plan: Vec<Disposition> = f
            .msgs
            .iter()
            .map(|m| {
                if m.deleted {
                    Disposition::Delete
                } else {
                    Disposition::Keep(m.disk_status())
                }
            })
            .collect();
        let name = f.path.display().to_string();
        match self.write_back(f, &plan) {
            Ok(wb) if wb.written => {
                if wb.kept + wb.arrived == 0
                    && !self.vars.is_set("keep")
                    && remove_if_empty(&f.path)
                {
                    println!("\"{name}\" removed");
                } else {
                    println!("\"{name}\" complete");
                }
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(e) => {
                eprintln!("rmail: {e}");
                Err(())
            }
        }
    }

    fn quit_system(&self, f: &mut Folder) -> Result<(), ()> {
        let hold = self.vars.is_set("hold");
        let keepsave = self.vars.is_set("keepsave");
        let mut to_mbox = Vec::new();
        let mut plan = Vec::with_capacity(f.msgs.len());
        for (i, m) in f.msgs.iter().enumerate() {
            let d = if m.deleted || (m.saved && !keepsave && !m.preserved && !m.mboxed) {
                Disposition::Delete
            } else if m.mboxed || (m.read && !hold && !m.preserved) {
                to_mbox.push(i);
                Disposition::Delete
            } else {
                Disposition::Keep(m.disk_status())
            };
            plan.push(d);
        }
        let mbox_path = self.mbox_path();
        if !to_mbox.is_empty() {
            let mut msgs = Vec::with_capacity(to_mbox.len());
            for &i in &to_mbox {
                match f.src.read_raw(i) {
                    Ok(raw) => msgs.push(mbox::with_status(&raw, f.msgs[i].disk_status())),
                    Err(e) => {
                        eprintln!("rmail: cannot read message {}: {e}", i + 1);
                        plan[i] = Disposition::Keep(f.msgs[i].disk_status());
                    }
                }
            }
            let res = if self.vars.is_set("append") {
                mbox::append(&mbox_path, &msgs)
            } else {
                mbox::prepend(&mbox_path, &msgs)
            };
            if let Err(e) = res {
                eprintln!("rmail: {e}; messages kept in {}", f.path.display());
                for &i in &to_mbox {
                    plan[i] = Disposition::Keep(f.msgs[i].disk_status());
                }
                to_mbox.clear();
            }
        }
        let held = plan
            .iter()
            .filter(|d| matches!(d, Disposition::Keep(_)))
            .count();
        let wb = match self.write_back(f, &plan) {
            Ok(wb) => wb,
            Err(e) => {
                eprintln!("rmail: {e}");
                return Err(());
            }
        };
        if !to_mbox.is_empty() {
            println!(
                "Saved {} in {}",
                plural(to_mbox.len(), "message"),
                mbox_path.display()
            );
        }
        if held > 0 {
            println!("Held {} in {}", plural(held, "message"), f.path.display());
        }
        if wb.kept + wb.arrived == 0 && wb.written && !self.vars.is_set("keep") {
            remove_if_empty(&f.path);
        }
        Ok(())
    }

    /// [`Mbox::write_back`], reported on stderr with `-v` (`verbose`).
    fn write_back(
        &self,
        f: &mut Folder,
        plan: &[Disposition],
    ) -> Result<mbox::WriteBack, StoreError> {
        let Source::Local(mb) = &mut f.src else {
            return Ok(mbox::WriteBack::default());
        };
        let r = mb.write_back(plan);
        if self.vars.is_set("verbose") {
            match &r {
                Ok(wb) if wb.written => eprintln!(
                    "rmail: {}: written back: {} kept, {} removed, {} arrived meanwhile",
                    f.path.display(),
                    wb.kept,
                    wb.removed,
                    wb.arrived
                ),
                Ok(_) => eprintln!("rmail: {}: unchanged, not written", f.path.display()),
                Err(_) => {}
            }
        }
        r
    }

    /// The primary mailbox: the `inbox` variable (s-nail; e.g. an `imaps://` URL set by an
    /// account), else the system mailbox.
    pub fn inbox(&self) -> PathBuf {
        match self.vars.get("inbox").filter(|v| !v.trim().is_empty()) {
            Some(v) if remote::url::is_folder_url(v) => PathBuf::from(v.trim()),
            Some(v) => expand_tilde(v.trim(), &self.env.home),
            None => self.env.system_mailbox.clone(),
        }
    }

    /// `MBOX`: the variable, else `$MBOX`, else `~/mbox`.
    pub fn mbox_path(&self) -> PathBuf {
        if let Some(v) = self.vars.get("MBOX").filter(|v| !v.is_empty()) {
            return self.expand_path(v);
        }
        match std::env::var_os("MBOX").filter(|v| !v.is_empty()) {
            Some(p) => PathBuf::from(p),
            None => self.env.home.join("mbox"),
        }
    }

    /// The local folder directory (`folder` variable, relative to HOME), else HOME; a
    /// remote `folder` (an IMAP URL) is handled by [`Session::expand_path`] and `folders`.
    pub fn folder_dir(&self) -> PathBuf {
        match self
            .vars
            .get("folder")
            .filter(|v| !v.is_empty() && !remote::url::is_folder_url(v))
        {
            Some(v) => {
                let p = expand_tilde(v, &self.env.home);
                if p.is_absolute() {
                    p
                } else {
                    self.env.home.join(p)
                }
            }
            None => self.env.home.clone(),
        }
    }

    /// Folder name expansion (POSIX mailx): `%` system mailbox, `%user`, `#` previous folder,
    /// `&` MBOX, `+name` in the folder directory, `~` home.
    pub fn expand_path(&self, name: &str) -> PathBuf {
        match name {
            "%" => return self.inbox(),
            "#" => {
                return self
                    .prev_folder
                    .clone()
                    .unwrap_or_else(|| PathBuf::from("#"));
            }
            "&" => return self.mbox_path(),
            _ => {}
        }
        if let Some(u) = name.strip_prefix('%') {
            return self.env.spool_of(u);
        }
        if let Some(rest) = name.strip_prefix('+') {
            // `folder` may be a remote URL: `+Sent` is then that server's mailbox `Sent`.
            if let Some(base) = self
                .vars
                .get("folder")
                .filter(|v| remote::url::is_folder_url(v))
            {
                return PathBuf::from(remote_child(base, rest));
            }
            return self.folder_dir().join(rest);
        }
        expand_tilde(name, &self.env.home)
    }

    /// Parses a message list for the open folder, printing mailx's error on failure.
    pub fn list(&self, spec: &str, want: Want) -> Option<Vec<usize>> {
        let Some(f) = &self.folder else {
            eprintln!("No messages.");
            return None;
        };
        if f.msgs.is_empty() {
            eprintln!("No messages.");
            return None;
        }
        match msglist::parse(spec, &Ctx { s: self, f }, want) {
            Ok(v) => Some(v),
            Err(e) => {
                eprintln!("{e}");
                None
            }
        }
    }
}

/// The folder banner: `"/var/mail/u": 2 messages 1 new 1 unread`.
pub fn folder_banner(f: &Folder) -> String {
    let n = f.msgs.len();
    let new = f
        .msgs
        .iter()
        .filter(|m| m.new && !m.read && !m.deleted)
        .count();
    let unread = f
        .msgs
        .iter()
        .filter(|m| !m.new && !m.read && !m.deleted)
        .count();
    let deleted = f.msgs.iter().filter(|m| m.deleted).count();
    let mut s = format!("\"{}\": {}", f.path.display(), plural(n, "message"));
    if new > 0 {
        s.push_str(&format!(" {new} new"));
    }
    if unread > 0 {
        s.push_str(&format!(" {unread} unread"));
    }
    if deleted > 0 {
        s.push_str(&format!(" {deleted} deleted"));
    }
    if f.read_only {
        s.push_str(" [Read only]");
    }
    s
}

/// `quit` on a remote folder: messages read in this session get `\Seen`, messages marked
/// unread lose it, deleted ones are expunged (IMAP) or deleted at `QUIT` (POP3); with
/// `drop_saved` (the folder is the inbox) saved ones too, unless preserved. Read messages
/// never move to `MBOX`.
fn quit_remote(r: &RemoteSource, msgs: &[MsgState], drop_saved: bool) -> Result<(), ()> {
    let mut plan = remote::QuitPlan::default();
    for (i, m) in msgs.iter().enumerate() {
        let was_seen = r.message(i).flags.seen;
        if m.gone {
            continue;
        }
        if m.deleted || (drop_saved && m.saved && !m.preserved) {
            plan.deleted.push(i);
        } else if m.read && !was_seen {
            plan.seen.push(i);
        } else if !m.read && was_seen {
            plan.unseen.push(i);
        }
    }
    let deleted = plan.deleted.len();
    let mboxed = msgs.iter().filter(|m| m.mboxed && !m.deleted).count();
    if mboxed > 0 {
        println!(
            "{} marked for mbox stay on the server (a remote folder's mail is never moved)",
            plural(mboxed, "message")
        );
    }
    match r.commit(&plan) {
        Ok(()) => {
            if deleted > 0 {
                println!("\"{}\": {} removed", r.url, plural(deleted, "message"));
            }
            Ok(())
        }
        Err(e) => {
            eprintln!(
                "rmail: {}: {e}; the changes may be applied only in part (a message marked \\Deleted \
                 stays on the server until a client expunges it)",
                r.url
            );
            Err(())
        }
    }
}

/// The URL of mailbox `name` under the remote folder URL `base` (`+name` when `folder` is
/// a URL): the base's mailbox path, when it names one, then `/name` (e.g. `INBOX/Sent` on
/// servers that keep folders under INBOX), the name percent-encoded. A base that does not
/// parse is joined as text (opening it then reports what is wrong).
fn remote_child(base: &str, name: &str) -> String {
    let Ok(url) = FolderUrl::parse(base) else {
        return format!("{}/{name}", base.trim_end_matches('/'));
    };
    let path_given = base
        .split_once("://")
        .map(|(_, r)| r.split('?').next().unwrap_or(""))
        .and_then(|r| r.split_once('/'))
        .is_some_and(|(_, p)| !p.trim_matches('/').is_empty());
    let mailbox = if path_given {
        format!("{}/{name}", url.mailbox)
    } else {
        name.to_owned()
    };
    url.with_mailbox(&mailbox).to_string()
}

/// `1 message`, `2 messages`.
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

struct Ctx<'a> {
    s: &'a Session,
    f: &'a Folder,
}

impl ListContext for Ctx<'_> {
    fn count(&self) -> usize {
        self.f.msgs.len()
    }
    fn current(&self) -> usize {
        self.f.cur
    }
    fn is_deleted(&self, n: usize) -> bool {
        self.f.msgs[n - 1].deleted
    }
    fn is_new(&self, n: usize) -> bool {
        self.f.msgs[n - 1].new
    }
    fn is_read(&self, n: usize) -> bool {
        self.f.msgs[n - 1].read
    }
    fn subject(&self, n: usize) -> String {
        self.s.subject(n)
    }
    fn sender(&self, n: usize) -> String {
        let i = n - 1;
        match self.f.src.field(i, Field::From) {
            Some(v) => address::parse_list(v)
                .into_iter()
                .map(|m| format!("{} {}", m.name.unwrap_or_default(), m.addr))
                .collect::<Vec<_>>()
                .join(" "),
            None => self.s.envelope_sender(i),
        }
    }
}

/// The sender shown for a raw `From:` value. Fast path for the common `Name <a@b>` and bare
/// `a@b` forms (the summary of a 100,000-message folder formats 100,000 of these); anything
/// else goes through the full address parser.
fn fast_sender(raw: &[u8], showname: bool) -> String {
    if !showname && !raw.contains(&b',') && !raw.contains(&b'(') {
        // `anything <addr>`: the display name (quoted, encoded or raw 8-bit) does not matter.
        let t = raw.trim_ascii();
        if let Some(inner) = t.strip_suffix(b">") {
            if let Some(a) = memchr::memrchr(b'<', inner) {
                let addr = &inner[a + 1..];
                if !addr.is_empty()
                    && addr.is_ascii()
                    && !addr.contains(&b'"')
                    && !inner[..a].contains(&b'>')
                {
                    return String::from_utf8_lossy(addr).trim().to_owned();
                }
            }
        } else if t.is_ascii()
            && !t
                .iter()
                .any(|&b| matches!(b, b'<' | b'>' | b'"' | b'=' | b'\n' | b' '))
        {
            return String::from_utf8_lossy(t).into_owned();
        }
    }
    match address::parse_list(raw).into_iter().next() {
        Some(m) => {
            if showname {
                m.name.filter(|n| !n.is_empty()).unwrap_or(m.addr)
            } else {
                m.addr
            }
        }
        None => String::new(),
    }
}

/// Whether chrono can format with `fmt` (its `Display` would panic on a bad specifier).
fn strftime_ok(fmt: &str) -> bool {
    chrono::format::StrftimeItems::new(fmt).all(|i| !matches!(i, chrono::format::Item::Error))
}

/// Whether `v` may hold an RFC 2047 encoded-word (`=?`). Cheaper than a `memmem` searcher
/// for the short values of the summary.
fn has_encoded_word(v: &[u8]) -> bool {
    memchr::memchr_iter(b'=', v).any(|i| v.get(i + 1) == Some(&b'?'))
}

/// The summary date straight from a `From_` line in canonical asctime form
/// (`sender Www Mmm dd hh:mm:ss yyyy`): its first 16 characters (`Fri Mar 22 13:10`), without
/// parsing. `None` for any other form, which then goes through the date parser.
fn asctime_prefix(from_line: &[u8]) -> Option<&str> {
    let sp = memchr::memchr(b' ', from_line)?;
    let rest = &from_line[sp..];
    let start = rest.iter().position(|&b| b != b' ')?;
    let d = rest.get(start..start + 24)?;
    let shape = d[3] == b' '
        && d[7] == b' '
        && d[10] == b' '
        && d[13] == b':'
        && d[16] == b':'
        && d[..3].iter().all(u8::is_ascii_alphabetic)
        && d[4..7].iter().all(u8::is_ascii_alphabetic)
        && d[20..24].iter().all(u8::is_ascii_digit)
        && (d[8] == b' ' || d[8].is_ascii_digit())
        && d[9].is_ascii_digit();
    if !shape {
        return None;
    }
    std::str::from_utf8(&d[..16]).ok()
}

fn expand_tilde(name: &str, home: &Path) -> PathBuf {
    if name == "~" {
        home.to_owned()
    } else if let Some(rest) = name.strip_prefix("~/") {
        home.join(rest)
    } else {
        PathBuf::from(name)
    }
}

/// Removes `path` when it is (still) empty; returns whether it did.
fn remove_if_empty(path: &Path) -> bool {
    match std::fs::metadata(path) {
        Ok(m) if m.len() == 0 => std::fs::remove_file(path).is_ok(),
        _ => false,
    }
}

/// (columns, rows) of the terminal on stdout, `None` when stdout is not a terminal.
pub fn terminal_size() -> Option<(usize, usize)> {
    let out = io::stdout();
    if !out.is_terminal() {
        return None;
    }
    let ws = rustix::termios::tcgetwinsize(&out).ok()?;
    if ws.ws_col == 0 {
        return None;
    }
    Some((ws.ws_col as usize, ws.ws_row as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_child_urls() {
        assert_eq!(
            remote_child("imaps://a%40b.c@h:993", "Sent Items"),
            "imaps://a%40b.c@h:993/Sent%20Items"
        );
        assert_eq!(
            remote_child("imap://u@h/INBOX?starttls", "Sent"),
            "imap://u@h:143/INBOX/Sent?starttls"
        );
        assert_eq!(
            remote_child("imaps://u@h/", "已发送"),
            "imaps://u@h:993/%E5%B7%B2%E5%8F%91%E9%80%81"
        );
        assert_eq!(remote_child("imap://", "x"), "imap:/x");
    }

    #[test]
    fn asctime_fast_path() {
        assert_eq!(
            asctime_prefix(b"zhangsan@example.com  Fri Mar 22 13:10:55 2024"),
            Some("Fri Mar 22 13:10")
        );
        assert_eq!(
            asctime_prefix(b"a@b Sun Jan  1 00:10:25 2023"),
            Some("Sun Jan  1 00:10")
        );
        assert_eq!(asctime_prefix(b"a@b Mon Jan  1 10:00:00 +0000 2024"), None);
        assert_eq!(asctime_prefix(b"a@b garbage"), None);
        assert_eq!(asctime_prefix(b""), None);
    }

    #[test]
    fn datefield_formats_are_checked() {
        assert!(strftime_ok("%Y-%m-%d %H:%M"));
        assert!(!strftime_ok("%Q %"));
    }

    #[test]
    fn sender_fast_path_agrees_with_parser() {
        for raw in [
            &b"Zhang San <zhangsan@example.com>"[..],
            b"a@b",
            b"<a@b>",
            b"\"Doe, J\" <j@d>",
            b"=?UTF-8?B?5byg5LiJ?= <z@x>",
            b"a@b (Comment)",
        ] {
            let want = address::parse_list(raw)
                .into_iter()
                .next()
                .map(|m| m.addr)
                .unwrap_or_default();
            assert_eq!(
                fast_sender(raw, false),
                want,
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
    }
}
