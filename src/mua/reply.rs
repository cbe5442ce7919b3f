//! Composing from the `&` prompt and on a terminal: `mail`, `reply`/`respond` (to the sender
//! and all recipients), `Reply`/`Respond` (to the sender only), `followup`/`Followup` (as
//! reply/Reply, and a copy in a folder named after the recipient) — POSIX mailx, with
//! `flipr` swapping the two reply forms, `metoo` and `alternates` deciding whether we reply
//! to ourselves, `Re:` added once, `In-Reply-To`/`References` set (RFC 5322 §3.6.4), and the
//! original quoted with `indentprefix` when `quote` is set.
//!
//! The body is read line by line up to end-of-file, a lone `.` (the seed's transcript) or `~.`,
//! with the POSIX tilde escapes (see [`TILDE_HELP`]).

use std::io::{self, BufRead, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::display::{self, Mode};
use super::msglist::Want;
use super::send::{self as sendmode, Parts};
use super::session::Session;
use super::vars::split_words;
use crate::message::{address, header};
use crate::store::mbox::Field;

/// `~?`: the tilde escapes understood while composing.
pub const TILDE_HELP: &str = "\
~.            send the message (also a line holding only .)
~!command     run a shell command
~: ~_ cmd     run an rmail command
~<file ~r file   insert a file        ~<!command   insert a command's output
~a ~A         insert the sign / Sign variable
~b addrs      add Bcc recipients      ~c addrs     add Cc recipients
~t addrs      add To recipients       ~s subject   set the subject
~h            edit To, Subject, Cc and Bcc
~d            insert dead.letter
~e ~v         edit the message with EDITOR / VISUAL
~f [msgs]     insert messages as they are    ~F [msgs]  with all header fields
~m [msgs]     insert messages indented       ~M [msgs]  with all header fields
~p            print the message so far
~q            abort, saving the message in dead.letter
~x            abort without saving
~w file       write the message body to file
~|command     pipe the body through a command
~~text        a line that starts with ~";

/// How composing ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Send it.
    Send,
    /// `~q` (save in dead.letter) or `~x` (discard).
    Abort {
        /// Save to dead.letter.
        save: bool,
    },
    /// Two interrupts in a row: abandoned, kept in dead.letter unless `nosave`.
    Interrupted {
        /// Save to dead.letter.
        save: bool,
    },
}

impl Session {
    /// `mail`, `reply`, `Reply`, `respond`, `Respond`, `followup`, `Followup`.
    pub(super) fn cmd_compose(&mut self, word: &str, args: &str) {
        let mut parts = Parts::default();
        let lower = word.to_ascii_lowercase();
        if lower.starts_with('m') {
            parts.to = split_words(args);
            if parts.to.is_empty() {
                eprintln!("mail: no recipients specified");
                return;
            }
        } else {
            let Some(list) = self.list(args, Want::Undeleted) else {
                return;
            };
            // POSIX: `reply`/`respond`/`followup` answer everyone; the capitalised forms only
            // the sender. `flipr` swaps them (Heirloom, s-nail).
            let mut all = word.starts_with(|c: char| c.is_ascii_lowercase());
            if self.vars.is_set("flipr") {
                all = !all;
            }
            if !self.reply_parts(&list, all, &mut parts) {
                return;
            }
            if lower.starts_with('f') {
                let who = parts.to.first().cloned().unwrap_or_default();
                let login = address::parse_list(who.as_bytes())
                    .first()
                    .map(|m| m.addr.split('@').next().unwrap_or("").replace('/', "_"))
                    .unwrap_or_default();
                if !login.is_empty() {
                    parts.record = Some(if self.vars.is_set("outfolder") {
                        self.expand_path(&format!("+{login}"))
                    } else {
                        PathBuf::from(login)
                    });
                }
            }
        }
        if !self.vars.is_set("quiet") || parts.subject.is_none() {
            println!("To: {}", parts.to.join(", "));
        }
        if parts.subject.is_none() {
            // Asked on a terminal only (`asksub`): in a script the next line is the body.
            if self.interactive && self.vars.is_set("asksub") {
                parts.subject = Some(prompt("Subject: ").unwrap_or_default());
            }
        } else {
            println!("Subject: {}", parts.subject.as_deref().unwrap_or(""));
        }
        let ending = match self.collect_body(&mut parts) {
            Ok(e) => e,
            Err(e) => {
                eprintln!("rmail: cannot read the message: {e}");
                Ending::Abort { save: true }
            }
        };
        match ending {
            Ending::Send => {
                self.ask_copies(&mut parts);
                if sendmode::send_parts(self, parts).is_ok() {
                    println!("EOT");
                }
            }
            Ending::Abort { save } | Ending::Interrupted { save } => {
                if save {
                    sendmode::save_draft(self, &parts);
                }
            }
        }
    }

    /// After the body, on a terminal: `Cc:` when `askcc` is set, `Bcc:` when `askbcc` is set
    /// (POSIX mailx); the answers are added to the recipients.
    pub fn ask_copies(&self, p: &mut Parts) {
        if !self.interactive {
            return;
        }
        for (var, label, list) in [
            ("askcc", "Cc: ", &mut p.cc),
            ("askbcc", "Bcc: ", &mut p.bcc),
        ] {
            if self.vars.is_set(var) {
                if let Some(v) = prompt(label) {
                    list.extend(
                        v.split(',')
                            .map(|a| a.trim().to_owned())
                            .filter(|a| !a.is_empty()),
                    );
                }
            }
        }
    }

    /// Fills recipients, subject, threading headers and (with `quote`) the quoted text of a
    /// reply to `list`. False when there is nobody to reply to.
    fn reply_parts(&self, list: &[usize], all: bool, p: &mut Parts) -> bool {
        let f = self.folder.as_ref().expect("folder");
        let first = list[0];
        let mut to: Vec<String> = Vec::new();
        let mut cc: Vec<String> = Vec::new();
        let mut refs = Vec::new();
        for &n in list {
            let raw = match f.src.read_message(n - 1) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("rmail: cannot read message {n}: {e}");
                    return false;
                }
            };
            let (hdr, _) = display::split_message(&raw);
            let fields = header::split_fields(hdr);
            let get = |name: &str| {
                fields
                    .iter()
                    .find(|x| x.name.eq_ignore_ascii_case(name))
                    .map(|x| x.value.clone())
            };
            let sender = get("reply-to")
                .or_else(|| get("from"))
                .map(|v| address::parse_list(&v))
                .unwrap_or_default();
            if sender.is_empty() {
                if let Some(fl) = f.src.field(n - 1, Field::FromLine) {
                    let s = String::from_utf8_lossy(fl);
                    if let Some(w) = s.split_whitespace().next() {
                        to.push(w.to_owned());
                    }
                }
            }
            to.extend(sender.iter().map(|m| m.to_string()));
            if all {
                for (name, list) in [("to", &mut to), ("cc", &mut cc)] {
                    if let Some(v) = get(name) {
                        list.extend(address::parse_list(&v).iter().map(|m| m.to_string()));
                    }
                }
            }
            if n == first {
                let subj = get("subject")
                    .map(|v| header::decode_words(&v))
                    .unwrap_or_default();
                let subj = subj.trim();
                p.subject = Some(
                    if subj.len() >= 3 && subj[..3].eq_ignore_ascii_case("re:") {
                        subj.to_owned()
                    } else {
                        format!("Re: {subj}")
                    },
                );
                let mid = get("message-id").map(|v| {
                    String::from_utf8_lossy(&header::unfold(&v))
                        .trim()
                        .to_owned()
                });
                if let Some(r) = get("references") {
                    refs.push(
                        String::from_utf8_lossy(&header::unfold(&r))
                            .trim()
                            .to_owned(),
                    );
                }
                if let Some(mid) = mid.filter(|m| !m.is_empty()) {
                    refs.push(mid.clone());
                    p.extra_headers.push(("In-Reply-To".into(), mid));
                }
            }
            if self.vars.is_set("quote") {
                if let Ok(text) = display::render(self, n, Mode::BodyOnly) {
                    p.body.extend_from_slice(self.quoted(&text).as_bytes());
                }
            }
        }
        if !refs.is_empty() {
            p.extra_headers.push(("References".into(), refs.join(" ")));
        }
        let metoo = self.vars.is_set("metoo");
        let me = |a: &str| {
            let bare = address::parse_list(a.as_bytes())
                .first()
                .map(|m| m.addr.to_ascii_lowercase())
                .unwrap_or_default();
            self.is_me(&bare)
        };
        let mut seen = std::collections::HashSet::new();
        let mut keep = |list: Vec<String>, is_to: bool| -> Vec<String> {
            let n = list.len();
            list.into_iter()
                .enumerate()
                .filter(|(i, a)| {
                    let key = address::parse_list(a.as_bytes())
                        .first()
                        .map(|m| m.addr.to_ascii_lowercase())
                        .unwrap_or_else(|| a.to_ascii_lowercase());
                    // Never drop the only recipient of a reply, even when it is us.
                    (metoo || !me(a) || (is_to && n == 1 && *i == 0)) && seen.insert(key)
                })
                .map(|(_, a)| a)
                .collect()
        };
        p.to = keep(to, true);
        p.cc = keep(cc, false);
        if p.to.is_empty() && p.cc.is_empty() {
            eprintln!("No recipients for the reply");
            return false;
        }
        true
    }

    /// `text` with every line prefixed by `indentprefix` (POSIX default: a tab).
    fn quoted(&self, text: &str) -> String {
        let prefix = self.vars.get("indentprefix").unwrap_or("\t");
        let mut out = String::with_capacity(text.len() + 64);
        for line in text.lines() {
            out.push_str(prefix);
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    /// Reads body lines from standard input into `p.body`, acting on tilde escapes, until
    /// end-of-file, `.` alone, `~.`, `~q` or `~x`. The stdin lock is taken per line, so that
    /// escapes such as `~h` can prompt.
    pub fn collect_body(&mut self, p: &mut Parts) -> io::Result<Ending> {
        use super::interrupt::{read_tty_line, SigintGuard, TtyRead};
        let mut line = String::new();
        // On a terminal ^C is ours (see `interrupt`); from a pipe it keeps its default.
        let guard = if self.interactive {
            SigintGuard::install().ok()
        } else {
            None
        };
        let mut interrupts = 0;
        loop {
            line.clear();
            if guard.is_some() {
                match read_tty_line(&mut line)? {
                    TtyRead::Eof => return Ok(Ending::Send),
                    TtyRead::Line => interrupts = 0,
                    TtyRead::Interrupted => {
                        if self.vars.is_set("ignore") {
                            println!("@");
                            continue;
                        }
                        interrupts += 1;
                        if interrupts >= 2 {
                            println!();
                            return Ok(Ending::Interrupted {
                                save: !self.vars.is_set("nosave"),
                            });
                        }
                        println!("\n(Interrupt -- one more to kill letter)");
                        continue;
                    }
                }
            } else if io::stdin().lock().read_line(&mut line)? == 0 {
                return Ok(Ending::Send);
            }
            let l = line.trim_end_matches(['\n', '\r']);
            if l == "." {
                return Ok(Ending::Send);
            }
            let Some(rest) = l.strip_prefix('~') else {
                p.body.extend_from_slice(l.as_bytes());
                p.body.push(b'\n');
                continue;
            };
            let mut chars = rest.chars();
            let cmd = chars.next().unwrap_or(' ');
            let arg = chars.as_str().trim();
            match cmd {
                '~' => {
                    p.body.extend_from_slice(rest.as_bytes());
                    p.body.push(b'\n');
                }
                '.' => return Ok(Ending::Send),
                'q' => {
                    return Ok(Ending::Abort {
                        save: !self.vars.is_set("nosave"),
                    })
                }
                'x' => return Ok(Ending::Abort { save: false }),
                '?' => println!("{TILDE_HELP}"),
                '!' => {
                    let _ = io::stdout().flush();
                    let _ = Command::new("/bin/sh").arg("-c").arg(arg).status();
                }
                ':' | '_' => self.execute(arg),
                's' => p.subject = Some(arg.to_owned()),
                't' => p.to.extend(split_words(arg)),
                'c' => p.cc.extend(split_words(arg)),
                'b' => p.bcc.extend(split_words(arg)),
                'h' => {
                    let ask = |label: &str, cur: &str| -> Option<String> {
                        prompt(&format!("{label}: [{cur}] ")).filter(|v| !v.is_empty())
                    };
                    if let Some(v) = ask("To", &p.to.join(", ")) {
                        p.to = split_words(&v.replace(',', " "));
                    }
                    if let Some(v) = ask("Subject", p.subject.as_deref().unwrap_or("")) {
                        p.subject = Some(v);
                    }
                    if let Some(v) = ask("Cc", &p.cc.join(", ")) {
                        p.cc = split_words(&v.replace(',', " "));
                    }
                    if let Some(v) = ask("Bcc", &p.bcc.join(", ")) {
                        p.bcc = split_words(&v.replace(',', " "));
                    }
                }
                'r' | '<' => {
                    if let Some(c) = arg.strip_prefix('!') {
                        match Command::new("/bin/sh")
                            .arg("-c")
                            .arg(c)
                            .stderr(Stdio::inherit())
                            .output()
                        {
                            Ok(o) => p.body.extend_from_slice(&o.stdout),
                            Err(e) => eprintln!("~<!: {e}"),
                        }
                    } else {
                        let path = self.expand_path(arg);
                        match std::fs::read(&path) {
                            Ok(b) => {
                                println!(
                                    "\"{}\" {}/{}",
                                    path.display(),
                                    bytecount::count(&b, b'\n'),
                                    b.len()
                                );
                                p.body.extend_from_slice(&b);
                            }
                            Err(e) => eprintln!("{}: {e}", path.display()),
                        }
                    }
                }
                'd' => {
                    let dead = self.env.home.join("dead.letter");
                    match std::fs::read(&dead) {
                        Ok(b) => p.body.extend_from_slice(&b),
                        Err(e) => eprintln!("{}: {e}", dead.display()),
                    }
                }
                'a' | 'A' => {
                    let var = if cmd == 'a' { "sign" } else { "Sign" };
                    if let Some(v) = self.vars.get(var) {
                        p.body.extend_from_slice(v.replace("\\n", "\n").as_bytes());
                        p.body.push(b'\n');
                    }
                }
                'f' | 'F' | 'm' | 'M' => self.interpolate(cmd, arg, p),
                'p' => {
                    println!("-------\nMessage contains:");
                    println!("To: {}", p.to.join(", "));
                    if let Some(s) = &p.subject {
                        println!("Subject: {s}");
                    }
                    if !p.cc.is_empty() {
                        println!("Cc: {}", p.cc.join(", "));
                    }
                    if !p.bcc.is_empty() {
                        println!("Bcc: {}", p.bcc.join(", "));
                    }
                    println!();
                    print!("{}", String::from_utf8_lossy(&p.body));
                    println!("(continue)");
                }
                'w' => {
                    let path = self.expand_path(arg);
                    match std::fs::write(&path, &p.body) {
                        Ok(()) => println!(
                            "\"{}\" {}/{}",
                            path.display(),
                            bytecount::count(&p.body, b'\n'),
                            p.body.len()
                        ),
                        Err(e) => eprintln!("{}: {e}", path.display()),
                    }
                }
                'e' | 'v' => self.edit_body(cmd == 'v', p),
                '|' => match Command::new("/bin/sh")
                    .arg("-c")
                    .arg(arg)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .spawn()
                {
                    Ok(mut child) => {
                        let body = p.body.clone();
                        let mut stdin = child.stdin.take();
                        let writer = std::thread::spawn(move || {
                            if let Some(i) = stdin.as_mut() {
                                let _ = i.write_all(&body);
                            }
                        });
                        match child.wait_with_output() {
                            Ok(o) if o.status.success() => p.body = o.stdout,
                            Ok(o) => eprintln!(
                                "~|: \"{arg}\" exited with {}; message unchanged",
                                o.status
                            ),
                            Err(e) => eprintln!("~|: {e}"),
                        }
                        let _ = writer.join();
                    }
                    Err(e) => eprintln!("~|: {e}"),
                },
                other => eprintln!("Unknown tilde escape \"~{other}\"; ~? lists them"),
            }
        }
    }

    /// `~f`/`~F`/`~m`/`~M [msgs]`: insert messages (default: the current one); `m`/`M`
    /// indent with `indentprefix`; the capital forms keep every header field.
    fn interpolate(&mut self, cmd: char, arg: &str, p: &mut Parts) {
        if self.folder.is_none() {
            eprintln!("~{cmd}: no messages to insert");
            return;
        }
        let Some(list) = self.list(arg, Want::Undeleted) else {
            return;
        };
        let mode = if cmd.is_ascii_uppercase() {
            Mode::PrintAll
        } else {
            Mode::Print
        };
        for n in list {
            match display::render(self, n, mode) {
                Ok(text) => {
                    // The header fields, not the mailbox's `From_` separator line.
                    let text = match text.strip_prefix("From ") {
                        Some(_) => text
                            .split_once('\n')
                            .map(|x| x.1.to_owned())
                            .unwrap_or_default(),
                        None => text,
                    };
                    let text = if cmd.eq_ignore_ascii_case(&'m') {
                        self.quoted(&text)
                    } else {
                        text
                    };
                    p.body.extend_from_slice(text.as_bytes());
                    println!("Interpolating: {n}");
                }
                Err(e) => eprintln!("rmail: cannot read message {n}: {e}"),
            }
        }
    }

    fn edit_body(&mut self, visual: bool, p: &mut Parts) {
        // A new file that nobody else can have prepared (create_new, 0600): /tmp is shared.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!("rmail-draft-{}-{nanos}", std::process::id()));
        if let Err(e) = super::files::write_private(&path, &p.body) {
            eprintln!("{}: {e}", path.display());
            return;
        }
        self.run_editor(visual, &path);
        match std::fs::read(&path) {
            Ok(b) => p.body = b,
            Err(e) => eprintln!("{}: {e}", path.display()),
        }
        let _ = std::fs::remove_file(&path);
        println!("(continue)");
    }
}

fn prompt(text: &str) -> Option<String> {
    print!("{text}");
    let _ = io::stdout().flush();
    let mut line = String::new();
    io::stdin().lock().read_line(&mut line).ok()?;
    Some(line.trim_end_matches(['\n', '\r']).to_owned())
}
