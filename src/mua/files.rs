//! Commands that reach outside the folder: `save`/`copy`/`write` (append to files),
//! `pipe`, `edit`/`visual`, `file`/`folder`, `folders`, `!`/`shell`, `newmail`.

use std::io::{self, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use super::display::{self, Mode};
use super::msglist::Want;
use super::session::{folder_banner, plural, Session};
use super::vars::split_words;
use crate::store::mbox::{self, Field};

impl Session {
    /// `save`/`copy`/`Save`/`Copy`/`write [msglist] [file]`.
    pub(super) fn cmd_save(
        &mut self,
        args: &str,
        mark_saved: bool,
        by_sender: bool,
        body_only: bool,
    ) -> Option<Vec<usize>> {
        let mut words = split_words(args);
        let (list_spec, target) = if by_sender {
            (words.join(" "), None)
        } else {
            let file = words.pop();
            if file.is_none() && body_only {
                eprintln!("write: a file name is required");
                return None;
            }
            (words.join(" "), file)
        };
        let list = self.list(&list_spec, Want::Undeleted)?;
        let path = match target {
            Some(t) => self.expand_path(&t),
            None if by_sender => {
                let f = self.folder.as_ref().expect("folder");
                let from = f
                    .src
                    .field(list[0] - 1, Field::From)
                    .and_then(|v| crate::message::address::parse_list(v).into_iter().next())
                    .map(|m| m.addr)
                    .unwrap_or_else(|| "unknown".into());
                let login = from
                    .split('@')
                    .next()
                    .unwrap_or("unknown")
                    .replace('/', "_");
                if self.vars.is_set("outfolder") {
                    // In the folder directory, or on the server of a remote `folder`.
                    self.expand_path(&format!("+{login}"))
                } else {
                    Path::new(&login).to_owned()
                }
            }
            None => self.mbox_path(),
        };
        if let Some(target) = super::remote::url_of(&path) {
            let target = match target {
                Ok(t) if !body_only => t,
                Ok(_) => {
                    eprintln!("write: the body can only be written to a local file");
                    self.last_failed = true;
                    return None;
                }
                Err(e) => {
                    eprintln!("rmail: {e}");
                    self.last_failed = true;
                    return None;
                }
            };
            if !self.save_remote(&list, &target) {
                return None;
            }
            if mark_saved {
                let f = self.folder.as_mut().expect("folder");
                for &n in &list {
                    f.msgs[n - 1].saved = true;
                }
            }
            return Some(list);
        }
        let existed = path.exists();
        let f = self.folder.as_ref().expect("folder");
        let mut out = Vec::with_capacity(list.len());
        let (mut lines, mut bytes) = (0u64, 0u64);
        for &n in &list {
            let raw = if body_only {
                display::render(self, n, Mode::BodyOnly).map(String::into_bytes)
            } else {
                f.src
                    .read_raw(n - 1)
                    .map(|r| mbox::with_status(&r, f.msgs[n - 1].disk_status()))
            };
            match raw {
                Ok(r) => {
                    lines += bytecount::count(&r, b'\n') as u64;
                    bytes += r.len() as u64;
                    out.push(r);
                }
                Err(e) => {
                    eprintln!("rmail: cannot read message {n}: {e}");
                    return None;
                }
            }
        }
        let res = if body_only {
            write_plain(&path, &out)
        } else {
            mbox::append(&path, &out)
        };
        if let Err(e) = res {
            eprintln!("rmail: {e}");
            self.last_failed = true;
            return None;
        }
        println!(
            "\"{}\" {} {lines}/{bytes}",
            path.display(),
            if existed { "[Appended]" } else { "[New file]" }
        );
        if mark_saved {
            let f = self.folder.as_mut().expect("folder");
            for &n in &list {
                f.msgs[n - 1].saved = true;
            }
        }
        Some(list)
    }

    pub(super) fn cmd_pipe(&mut self, args: &str) {
        // `pipe [msglist] command`: the command is the last word (or the `cmd` variable).
        let mut words = split_words(args);
        let command = match words
            .pop()
            .or_else(|| self.vars.get("cmd").map(str::to_owned))
        {
            Some(c) => c,
            None => {
                eprintln!("pipe: no command given and \"cmd\" is not set");
                return;
            }
        };
        let Some(list) = self.list(&words.join(" "), Want::Undeleted) else {
            return;
        };
        let mut text = String::new();
        for &n in &list {
            match display::render(self, n, Mode::Print) {
                Ok(t) => text.push_str(&t),
                Err(e) => {
                    eprintln!("rmail: cannot read message {n}: {e}");
                    return;
                }
            }
        }
        let _ = io::stdout().flush();
        match Command::new(self.shell_path())
            .arg("-c")
            .arg(&command)
            .stdin(Stdio::piped())
            .spawn()
        {
            Ok(mut child) => {
                if let Some(mut stdin) = child.stdin.take() {
                    let _ = stdin.write_all(text.as_bytes());
                }
                match child.wait() {
                    Ok(st) if !st.success() => eprintln!("pipe: \"{command}\" exited with {st}"),
                    Err(e) => eprintln!("pipe: {e}"),
                    _ => {}
                }
            }
            Err(e) => eprintln!("pipe: cannot run \"{command}\": {e}"),
        }
    }

    /// Runs `VISUAL` (for `visual`, `~v`) or `EDITOR` (default `vi` / `ed`; variable, then
    /// environment) on `path` through the shell, and waits for it.
    pub(super) fn run_editor(&self, visual: bool, path: &Path) {
        let var = if visual { "VISUAL" } else { "EDITOR" };
        let editor = self
            .vars
            .get(var)
            .map(str::to_owned)
            .or_else(|| std::env::var(var).ok())
            .filter(|e| !e.is_empty())
            .unwrap_or_else(|| if visual { "vi".into() } else { "ed".into() });
        let _ = Command::new(self.shell_path())
            .arg("-c")
            .arg(format!("{editor} \"$1\""))
            .arg("sh")
            .arg(path)
            .status();
    }

    pub(super) fn cmd_edit(&mut self, args: &str, word: &str) {
        let Some(list) = self.list(args, Want::Undeleted) else {
            return;
        };
        let visual = word.starts_with('v');
        for n in list {
            let f = self.folder.as_ref().expect("folder");
            let raw = match f.src.read_message(n - 1) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("rmail: cannot read message {n}: {e}");
                    return;
                }
            };
            let path = std::env::temp_dir().join(format!("rmail-edit-{}-{n}", std::process::id()));
            if let Err(e) = write_private(&path, &raw) {
                eprintln!("rmail: {}: {e}", path.display());
                return;
            }
            self.run_editor(visual, &path);
            if std::fs::read(&path).map(|v| v != raw).unwrap_or(false) {
                eprintln!("rmail: message {n}: edits are not written back to the folder (not supported yet)");
            }
            let _ = std::fs::remove_file(&path);
        }
    }

    pub(super) fn cmd_newmail(&mut self) {
        let f = self.folder.as_mut().expect("folder");
        match f.src.check_new() {
            Ok(0) => println!("No new mail."),
            Ok(k) => {
                // As at open, from what the folder says (another IMAP client may have read
                // them already: they must not lose \Seen at quit).
                for i in f.msgs.len()..f.src.len() {
                    f.msgs
                        .push(super::session::MsgState::at_open(f.src.status(i)));
                }
                println!("New mail has arrived: {}.", plural(k, "new message"));
            }
            Err(e) => eprintln!("rmail: {e}"),
        }
        // A remote folder: what other clients did meanwhile (flags, expunges), as s-nail's
        // reload shows it. Messages keep their numbers; expunged ones show as deleted.
        let f = self.folder.as_mut().expect("folder");
        if let super::source::Source::Remote(r) = &mut f.src {
            match r.refresh_flags() {
                Ok(now) => {
                    let mut gone = 0;
                    for (m, st) in f.msgs.iter_mut().zip(now) {
                        match st {
                            None if !m.gone => {
                                m.gone = true;
                                m.deleted = true;
                                gone += 1;
                            }
                            // Untouched in this session: take the server's word.
                            Some(fl) if !m.read_now && !m.deleted => {
                                m.read = fl.seen;
                                m.read_before = fl.seen;
                            }
                            _ => {}
                        }
                    }
                    if gone > 0 {
                        println!("{} expunged by another client.", plural(gone, "message"));
                    }
                }
                Err(e) => eprintln!("rmail: {e}"),
            }
        }
    }

    pub(super) fn cmd_file(&mut self, args: &str) {
        let words = split_words(args);
        let Some(name) = words.first() else {
            match &self.folder {
                Some(f) => println!("{}", folder_banner(f)),
                None => println!("No file."),
            }
            return;
        };
        let path = self.expand_path(name);
        let edit = path != self.inbox();
        if self.quit_folder().is_err() {
            return;
        }
        match self.open_folder(&path, edit, false) {
            Ok(_) => {
                let with_headers = self.vars.is_set("header");
                self.announce(with_headers);
            }
            Err(e) => eprintln!("rmail: {e}"),
        }
    }

    pub(super) fn cmd_folders(&mut self) {
        if self.folders_remote() {
            return;
        }
        let dir = self.folder_dir();
        let lister = self
            .vars
            .get("LISTER")
            .map(str::to_owned)
            .or_else(|| std::env::var("LISTER").ok())
            .unwrap_or_else(|| "ls".into());
        let _ = io::stdout().flush();
        let _ = Command::new(self.shell_path())
            .arg("-c")
            .arg(format!("{lister} \"$1\""))
            .arg("sh")
            .arg(&dir)
            .status();
    }

    pub(super) fn shell_path(&self) -> String {
        self.vars
            .get("SHELL")
            .map(str::to_owned)
            .or_else(|| std::env::var("SHELL").ok())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "/bin/sh".into())
    }

    pub(super) fn shell(&mut self, command: Option<&str>) {
        let _ = io::stdout().flush();
        let mut c = Command::new(self.shell_path());
        if let Some(cmd) = command {
            c.arg("-c").arg(cmd);
        }
        match c.status() {
            Ok(_) => {
                if self.interactive && command.is_some() {
                    println!("!");
                }
            }
            Err(e) => eprintln!("rmail: cannot run shell: {e}"),
        }
    }
}

fn write_plain(path: &Path, chunks: &[Vec<u8>]) -> Result<(), mbox::StoreError> {
    use std::os::unix::fs::OpenOptionsExt;
    let err = |e| mbox::StoreError::Io {
        path: path.to_owned(),
        source: e,
    };
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map_err(err)?;
    for c in chunks {
        f.write_all(c).map_err(err)?;
    }
    f.sync_all().map_err(err)
}

/// Writes `data` to a new file at `path` (mode 0600); fails when `path` exists, so a file or
/// link planted in a shared directory is never followed.
pub(super) fn write_private(path: &Path, data: &[u8]) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(data)
}
