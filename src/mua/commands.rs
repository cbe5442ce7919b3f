//! The `&` prompt's command table and the commands (POSIX mailx "Commands in mailx", with
//! Heirloom mailx and s-nail behaviour where POSIX is silent).
//!
//! A command word matches a table entry when it is a prefix of the entry's name at least as
//! long as the entry's POSIX abbreviation; the first such entry in table order wins. A line
//! that starts with a number prints that message; an empty line is `next`.

use std::io::{self, Write};

use super::display::{self, Mode};
use super::msglist::Want;
use super::session::Session;
use super::vars::split_words;
use crate::error::{EXIT_FAIL, EXIT_OK};

/// What a table entry does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmd {
    Next,
    Prev,
    Alias,
    Alternates,
    Print,
    PrintAll,
    Top,
    Touch,
    Preserve,
    Delete,
    DeletePrint,
    Undelete,
    Unset,
    Unalias,
    Compose,
    Mbox,
    Unread,
    Shell,
    ShellEscape,
    Copy,
    CopyBySender,
    /// `move`/`mv` (s-nail): `copy`, then mark the messages deleted.
    Move,
    Chdir,
    Save,
    SaveBySender,
    Source,
    Set,
    Version,
    Write,
    From,
    File,
    Folders,
    Help,
    Z,
    Headers,
    Equals,
    Edit,
    Echo,
    Quit,
    List,
    Exit,
    Size,
    If,
    Else,
    Endif,
    Ignore,
    Retain,
    Unignore,
    Unretain,
    Pipe,
    Newmail,
    Account,
}

/// (name, shortest accepted abbreviation, command), in lookup order.
const TABLE: &[(&str, usize, Cmd)] = &[
    ("next", 1, Cmd::Next),
    ("alias", 1, Cmd::Alias),
    ("alternates", 3, Cmd::Alternates),
    ("print", 1, Cmd::Print),
    ("type", 1, Cmd::Print),
    ("Type", 1, Cmd::PrintAll),
    ("Print", 1, Cmd::PrintAll),
    ("visual", 1, Cmd::Edit),
    ("top", 2, Cmd::Top),
    ("touch", 3, Cmd::Touch),
    ("preserve", 3, Cmd::Preserve),
    ("delete", 1, Cmd::Delete),
    ("dp", 2, Cmd::DeletePrint),
    ("dt", 2, Cmd::DeletePrint),
    ("undelete", 1, Cmd::Undelete),
    ("unset", 3, Cmd::Unset),
    ("unalias", 4, Cmd::Unalias),
    ("unignore", 4, Cmd::Unignore),
    ("unretain", 4, Cmd::Unretain),
    ("unread", 4, Cmd::Unread),
    ("Unread", 1, Cmd::Unread),
    ("new", 3, Cmd::Unread),
    ("New", 3, Cmd::Unread),
    ("mail", 1, Cmd::Compose),
    ("mbox", 2, Cmd::Mbox),
    ("move", 2, Cmd::Move),
    ("mv", 2, Cmd::Move),
    ("!", 1, Cmd::ShellEscape),
    ("copy", 1, Cmd::Copy),
    ("Copy", 1, Cmd::CopyBySender),
    ("chdir", 2, Cmd::Chdir),
    ("cd", 2, Cmd::Chdir),
    ("save", 1, Cmd::Save),
    ("Save", 1, Cmd::SaveBySender),
    ("source", 2, Cmd::Source),
    ("set", 2, Cmd::Set),
    ("shell", 2, Cmd::Shell),
    ("size", 2, Cmd::Size),
    ("version", 2, Cmd::Version),
    ("group", 1, Cmd::Alias),
    ("write", 1, Cmd::Write),
    ("from", 1, Cmd::From),
    ("file", 2, Cmd::File),
    ("followup", 2, Cmd::Compose),
    ("Followup", 1, Cmd::Compose),
    ("folder", 4, Cmd::File),
    ("folders", 7, Cmd::Folders),
    ("?", 1, Cmd::Help),
    ("z", 1, Cmd::Z),
    ("headers", 1, Cmd::Headers),
    ("help", 3, Cmd::Help),
    ("hold", 2, Cmd::Preserve),
    ("=", 1, Cmd::Equals),
    ("Reply", 1, Cmd::Compose),
    ("Respond", 3, Cmd::Compose),
    ("reply", 1, Cmd::Compose),
    ("respond", 3, Cmd::Compose),
    ("edit", 1, Cmd::Edit),
    ("echo", 2, Cmd::Echo),
    ("quit", 1, Cmd::Quit),
    ("list", 1, Cmd::List),
    ("xit", 1, Cmd::Exit),
    ("exit", 2, Cmd::Exit),
    ("if", 1, Cmd::If),
    ("else", 2, Cmd::Else),
    ("endif", 2, Cmd::Endif),
    ("ignore", 2, Cmd::Ignore),
    ("discard", 3, Cmd::Ignore),
    ("retain", 3, Cmd::Retain),
    ("pipe", 2, Cmd::Pipe),
    ("|", 1, Cmd::Pipe),
    ("-", 1, Cmd::Prev),
    ("+", 1, Cmd::Next),
    ("newmail", 4, Cmd::Newmail),
    ("inc", 3, Cmd::Newmail),
    ("account", 2, Cmd::Account),
];

fn lookup(word: &str) -> Option<Cmd> {
    TABLE
        .iter()
        .find(|(name, min, _)| word.len() >= *min && name.starts_with(word))
        .map(|&(_, _, c)| c)
}

/// Every command name, for `list` and the help text.
pub fn command_names() -> Vec<&'static str> {
    TABLE.iter().map(|(n, _, _)| *n).collect()
}

impl Session {
    /// Runs one command line. Errors are printed; `self.stop` is set by `quit`/`exit`.
    pub fn execute(&mut self, line: &str) {
        let line = line.trim_start();
        if line.starts_with('#') {
            return;
        }
        let (word, args) = split_command(line);
        // Conditionals are looked at even inside a branch that is not executed.
        let active = self.cond.iter().all(|&c| c);
        match lookup(word) {
            Some(Cmd::If) => {
                let v = active && self.condition(args);
                self.cond.push(v);
                return;
            }
            Some(Cmd::Else) => {
                match self.cond.last_mut() {
                    Some(c) => *c = !*c,
                    None => eprintln!("\"else\" without matching \"if\""),
                }
                return;
            }
            Some(Cmd::Endif) => {
                if self.cond.pop().is_none() {
                    eprintln!("\"endif\" without matching \"if\"");
                }
                return;
            }
            _ => {}
        }
        if !active {
            return;
        }
        self.last_failed = false;
        if word.is_empty() {
            if line.trim().is_empty() {
                self.cmd_next("");
            }
            return;
        }
        if word.as_bytes()[0].is_ascii_digit() {
            // A bare message number (or list): go there and print it.
            self.cmd_print(line, Mode::Print);
            return;
        }
        let Some(cmd) = lookup(word) else {
            eprintln!(
                "Unknown command: \"{}\"",
                super::summary::cut_columns(word, 40)
            );
            self.last_failed = true;
            return;
        };
        self.run(cmd, word, args.trim());
    }

    fn run(&mut self, cmd: Cmd, word: &str, args: &str) {
        let needs_folder = matches!(
            cmd,
            Cmd::Next
                | Cmd::Prev
                | Cmd::Print
                | Cmd::PrintAll
                | Cmd::Top
                | Cmd::Touch
                | Cmd::Preserve
                | Cmd::Delete
                | Cmd::DeletePrint
                | Cmd::Undelete
                | Cmd::Mbox
                | Cmd::Unread
                | Cmd::Copy
                | Cmd::Move
                | Cmd::CopyBySender
                | Cmd::Save
                | Cmd::SaveBySender
                | Cmd::Write
                | Cmd::From
                | Cmd::Z
                | Cmd::Headers
                | Cmd::Equals
                | Cmd::Edit
                | Cmd::Size
                | Cmd::Pipe
                | Cmd::Newmail
        );
        if needs_folder && self.folder.is_none() {
            eprintln!("No messages.");
            return;
        }
        match cmd {
            Cmd::Next => self.cmd_next(args),
            Cmd::Prev => self.cmd_prev(),
            Cmd::Print => self.cmd_print(args, Mode::Print),
            Cmd::PrintAll => self.cmd_print(args, Mode::PrintAll),
            Cmd::Top => {
                let n = self.vars.number("toplines").unwrap_or(5);
                self.cmd_print(args, Mode::Top(n))
            }
            Cmd::Delete => self.cmd_delete(args, false),
            Cmd::DeletePrint => self.cmd_delete(args, true),
            Cmd::Undelete => self.cmd_undelete(args),
            Cmd::Touch | Cmd::Mbox => self.mark(args, |m| {
                m.mboxed = true;
                m.preserved = false;
            }),
            Cmd::Preserve => self.mark(args, |m| {
                m.preserved = true;
                m.mboxed = false;
            }),
            Cmd::Unread => self.mark(args, |m| {
                m.read = false;
                m.read_now = false;
            }),
            Cmd::Move => {
                if let Some(list) = self.cmd_save(args, false, false, false) {
                    self.mark_deleted(&list, false);
                }
            }
            Cmd::Save => {
                self.cmd_save(args, true, false, false);
            }
            Cmd::Copy => {
                self.cmd_save(args, false, false, false);
            }
            Cmd::SaveBySender => {
                self.cmd_save(args, true, true, false);
            }
            Cmd::CopyBySender => {
                self.cmd_save(args, false, true, false);
            }
            Cmd::Write => {
                self.cmd_save(args, true, false, true);
            }
            Cmd::From => self.cmd_from(args),
            Cmd::Headers => self.cmd_headers(args),
            Cmd::Z => self.cmd_z(args),
            Cmd::Equals => {
                let f = self.folder.as_ref().expect("folder");
                println!("{}", f.cur);
            }
            Cmd::Size => self.cmd_size(args),
            Cmd::Pipe => self.cmd_pipe(args),
            Cmd::Edit => self.cmd_edit(args, word),
            Cmd::Newmail => self.cmd_newmail(),
            Cmd::Set => self.cmd_set(args),
            Cmd::Unset => {
                for w in split_words(args) {
                    self.vars.unset(&w);
                }
            }
            Cmd::Alias => self.cmd_alias(args),
            Cmd::Account => self.cmd_account(args),
            Cmd::Unalias => {
                for w in split_words(args) {
                    if self.aliases.remove(&w).is_none() {
                        eprintln!("\"{w}\": no such alias");
                    }
                }
            }
            Cmd::Alternates => {
                let w = split_words(args);
                if w.is_empty() {
                    println!("{}", self.alternates.join(" "));
                } else {
                    self.alternates = w;
                }
            }
            Cmd::Ignore => self.cmd_fieldset(args, true),
            Cmd::Retain => self.cmd_fieldset(args, false),
            Cmd::Unignore => unfield(&mut self.ignored, args),
            Cmd::Unretain => unfield(&mut self.retained, args),
            Cmd::Source => {
                let w = split_words(args);
                match w.first() {
                    Some(p) => {
                        let p = self.expand_path(p);
                        self.source_file(&p, false);
                    }
                    None => eprintln!("source: a file name is required"),
                }
            }
            Cmd::Echo => {
                let words: Vec<String> = split_words(args)
                    .iter()
                    .map(|w| self.expand_vars(w))
                    .collect();
                println!("{}", words.join(" "));
            }
            Cmd::Chdir => {
                let w = split_words(args);
                let dir = w
                    .first()
                    .map(|d| self.expand_path(d))
                    .unwrap_or_else(|| self.env.home.clone());
                if let Err(e) = std::env::set_current_dir(&dir) {
                    eprintln!("{}: {e}", dir.display());
                }
            }
            Cmd::ShellEscape => self.shell(Some(args)),
            Cmd::Shell => self.shell(if args.is_empty() { None } else { Some(args) }),
            Cmd::Compose => self.cmd_compose(word, args),
            Cmd::File => self.cmd_file(args),
            Cmd::Folders => self.cmd_folders(),
            Cmd::Help => print_help(),
            Cmd::List => println!("{}", command_names().join(" ")),
            Cmd::Version => println!("rmail version {}", env!("CARGO_PKG_VERSION")),
            Cmd::Quit => match self.quit_folder() {
                Ok(()) => self.stop = Some(EXIT_OK),
                Err(()) if self.folder.is_some() => {
                    // A remote folder kept open after a failed commit.
                    eprintln!(
                        "rmail: the folder stays open: \"quit\" tries again, \"exit\" leaves the server as it is"
                    );
                    self.last_failed = true;
                }
                Err(()) => self.stop = Some(EXIT_FAIL),
            },
            Cmd::Exit => {
                self.folder = None;
                self.stop = Some(EXIT_OK);
            }
            Cmd::If | Cmd::Else | Cmd::Endif => {}
        }
    }

    /// `if r|s|t|$var|$var == value|$var != value`: `r` is true (receiving), `s` false,
    /// `t` when stdin is a terminal; `!` negates.
    fn condition(&self, args: &str) -> bool {
        let w = split_words(args);
        let (neg, w0) = match w.first().map(|s| s.as_str()) {
            Some(x) if x.starts_with('!') => (true, x[1..].to_owned()),
            Some(x) => (false, x.to_owned()),
            None => {
                eprintln!("if: missing condition");
                return false;
            }
        };
        let v = match (w0.as_str(), w.get(1).map(|s| s.as_str()), w.get(2)) {
            ("r" | "R", None, _) => !self.sending,
            ("s" | "S", None, _) => self.sending,
            ("t" | "T", None, _) => self.interactive,
            (var, op, val) if var.starts_with('$') => {
                let name = var
                    .trim_start_matches('$')
                    .trim_matches(|c| c == '{' || c == '}');
                match (op, val) {
                    (None, _) => self.vars.is_set(name),
                    (Some("=="), Some(val)) => self.vars.get(name) == Some(val.as_str()),
                    (Some("!="), Some(val)) => self.vars.get(name) != Some(val.as_str()),
                    _ => {
                        eprintln!("if: invalid condition: {args}");
                        false
                    }
                }
            }
            _ => {
                eprintln!("if: invalid condition: {args}");
                false
            }
        };
        v != neg
    }

    fn expand_vars(&self, w: &str) -> String {
        match w.strip_prefix('$') {
            Some(name) => self
                .vars
                .get(name)
                .map(str::to_owned)
                .or_else(|| std::env::var(name).ok())
                .unwrap_or_default(),
            None => w.to_owned(),
        }
    }

    fn cmd_print(&mut self, args: &str, mode: Mode) {
        let Some(list) = self.list(args, Want::Undeleted) else {
            self.last_failed = true;
            return;
        };
        // Heirloom mailx: `quiet` also drops the `Message N:` heading.
        let quiet = self.vars.is_set("quiet");
        for n in list {
            self.show(n, mode, quiet);
        }
    }

    /// Prints message `n`, marks it read and current.
    fn show(&mut self, n: usize, mode: Mode, quiet: bool) {
        let before = {
            let f = self.folder.as_mut().expect("folder");
            let before = f.msgs[n - 1];
            f.cur = n;
            f.cur_used = true;
            let m = &mut f.msgs[n - 1];
            if !matches!(mode, Mode::Top(_)) {
                if !m.read {
                    m.read_now = true;
                }
                m.read = true;
            }
            before
        };
        match display::render(self, n, mode) {
            Ok(text) => {
                let mut s = String::with_capacity(text.len() + 16);
                if !quiet {
                    s.push_str(&format!("Message {n:>2}:\n"));
                }
                s.push_str(&text);
                if let Err(e) = display::page(self, &s) {
                    if e.kind() != io::ErrorKind::BrokenPipe {
                        eprintln!("rmail: {e}");
                    }
                }
            }
            Err(e) => {
                // Not shown, so not read: nothing is marked \Seen or moved for it at quit.
                eprintln!("rmail: cannot read message {n}: {e}");
                self.folder.as_mut().expect("folder").msgs[n - 1] = before;
                self.last_failed = true;
            }
        }
    }

    fn cmd_next(&mut self, args: &str) {
        if !args.trim().is_empty() {
            let Some(list) = self.list(args, Want::Undeleted) else {
                return;
            };
            self.show(list[0], Mode::Print, false);
            return;
        }
        let f = self.folder.as_ref().expect("folder");
        let start = if f.cur_used || f.cur == 0 || f.msgs.get(f.cur - 1).is_none_or(|m| m.deleted) {
            f.cur + 1
        } else {
            f.cur
        };
        match (start.max(1)..=f.msgs.len()).find(|&n| !f.msgs[n - 1].deleted) {
            Some(n) => self.show(n, Mode::Print, false),
            None => println!("At EOF"),
        }
    }

    fn cmd_prev(&mut self) {
        let f = self.folder.as_ref().expect("folder");
        match (1..f.cur).rev().find(|&n| !f.msgs[n - 1].deleted) {
            Some(n) => self.show(n, Mode::Print, false),
            None => println!("No previous message"),
        }
    }

    /// `delete`; `dp`/`dt` (or `delete` with `autoprint` set) then print the next message.
    fn cmd_delete(&mut self, args: &str, then_print: bool) {
        let then_print = then_print || self.vars.is_set("autoprint");
        let Some(list) = self.list(args, Want::Undeleted) else {
            return;
        };
        self.mark_deleted(&list, then_print);
    }

    /// Marks `list` (non-empty) deleted and moves the current message as `delete` does;
    /// prints the new current message when `then_print` (`dp`, `autoprint`).
    fn mark_deleted(&mut self, list: &[usize], then_print: bool) {
        let f = self.folder.as_mut().expect("folder");
        for &n in list {
            f.msgs[n - 1].deleted = true;
        }
        let Some(&last) = list.last() else { return };
        // The current message becomes the first undeleted one after the last deleted.
        let next = (last + 1..=f.msgs.len()).find(|&n| !f.msgs[n - 1].deleted);
        match next {
            Some(n) => {
                f.cur = n;
                f.cur_used = false;
                if then_print {
                    self.show(n, Mode::Print, false);
                }
            }
            None => {
                // Nothing after: the current message becomes the last undeleted one before
                // (Heirloom mailx, s-nail), and `next` then says "At EOF".
                if let Some(p) = (1..last).rev().find(|&n| !f.msgs[n - 1].deleted) {
                    f.cur = p;
                }
                f.cur_used = true;
                if then_print {
                    println!("At EOF");
                }
            }
        }
    }

    fn cmd_undelete(&mut self, args: &str) {
        let spec = if args.trim().is_empty() {
            let f = self.folder.as_ref().expect("folder");
            match (1..=f.msgs.len())
                .rev()
                .find(|&n| f.msgs[n - 1].deleted && n <= f.cur.max(1))
            {
                Some(n) => n.to_string(),
                None => match (1..=f.msgs.len()).find(|&n| f.msgs[n - 1].deleted) {
                    Some(n) => n.to_string(),
                    None => {
                        eprintln!("No applicable messages");
                        return;
                    }
                },
            }
        } else {
            args.to_owned()
        };
        let Some(list) = self.list(&spec, Want::Deleted) else {
            return;
        };
        let f = self.folder.as_mut().expect("folder");
        for &n in &list {
            f.msgs[n - 1].deleted = false;
        }
        let last = *list.last().expect("non-empty list");
        f.cur = last;
        if self.vars.is_set("autoprint") {
            self.show(last, Mode::Print, self.vars.is_set("quiet"));
        }
    }

    fn mark(&mut self, args: &str, op: impl Fn(&mut super::session::MsgState)) {
        let Some(list) = self.list(args, Want::Undeleted) else {
            return;
        };
        let f = self.folder.as_mut().expect("folder");
        for &n in &list {
            op(&mut f.msgs[n - 1]);
        }
    }

    fn cmd_from(&mut self, args: &str) {
        let Some(list) = self.list(args, Want::Undeleted) else {
            return;
        };
        let hl = self.headline();
        let width = self.width();
        let mut out = io::stdout().lock();
        for n in list {
            let _ = writeln!(out, "{}", self.summary_line(&hl, n, width));
        }
    }

    fn cmd_headers(&mut self, args: &str) {
        let n = if args.trim().is_empty() {
            self.folder.as_ref().expect("folder").cur
        } else {
            match self.list(args, Want::Undeleted) {
                Some(l) => l[0],
                None => return,
            }
        };
        self.headers_screen(n);
    }

    fn cmd_z(&mut self, args: &str) {
        let size = self.screen();
        let f = self.folder.as_ref().expect("folder");
        let total = f.msgs.len();
        let top = match args.trim() {
            "-" => {
                if f.screen_top <= 1 {
                    println!("On first screenful of messages");
                    return;
                }
                f.screen_top.saturating_sub(size).max(1)
            }
            _ => {
                let t = f.screen_top + size;
                if t > total {
                    println!("On last screenful of messages");
                    return;
                }
                t
            }
        };
        self.folder.as_mut().expect("folder").screen_top = top;
        self.print_range(top, (top + size - 1).min(total));
    }

    fn cmd_size(&mut self, args: &str) {
        let Some(list) = self.list(args, Want::Undeleted) else {
            return;
        };
        let f = self.folder.as_ref().expect("folder");
        for n in list {
            match f.src.lines(n - 1) {
                Some(l) => println!("{n}: {l}/{}", f.src.size(n - 1)),
                None => println!("{n}: {}", f.src.size(n - 1)),
            }
        }
    }

    fn cmd_set(&mut self, args: &str) {
        let words = split_words(args);
        if words.is_empty() {
            for (k, v) in self.vars.iter() {
                if v.is_empty() {
                    println!("{k}");
                } else {
                    println!("{k}=\"{v}\"");
                }
            }
            return;
        }
        for w in words {
            self.vars.assign(&w);
        }
    }

    fn cmd_alias(&mut self, args: &str) {
        let words = split_words(args);
        match words.as_slice() {
            [] => {
                for (k, v) in &self.aliases {
                    println!("{k}\t{}", v.join(" "));
                }
            }
            [name] => match self.aliases.get(name) {
                Some(v) => println!("{name}\t{}", v.join(" ")),
                None => eprintln!("\"{name}\": no such alias"),
            },
            [name, rest @ ..] => {
                self.aliases
                    .entry(name.clone())
                    .or_default()
                    .extend(rest.iter().cloned());
            }
        }
    }

    fn cmd_fieldset(&mut self, args: &str, ignore: bool) {
        let words = split_words(args);
        let set = if ignore {
            &mut self.ignored
        } else {
            &mut self.retained
        };
        if words.is_empty() {
            for w in set.iter() {
                println!("{w}");
            }
            return;
        }
        for w in words {
            set.insert(w.to_ascii_lowercase());
        }
    }
}

/// Splits a command line into the command word and the rest: a word of letters, or one of
/// the single-character commands `! | = ? - +`, or a message number (returned as the word so
/// the caller can tell).
fn split_command(line: &str) -> (&str, &str) {
    let line = line.trim_start();
    let first = match line.chars().next() {
        Some(c) => c,
        None => return ("", ""),
    };
    if first.is_ascii_digit() {
        return (&line[..1], line);
    }
    if "!|=?-+".contains(first) {
        return (&line[..1], &line[1..]);
    }
    let end = line
        .find(|c: char| !c.is_alphabetic())
        .unwrap_or(line.len());
    if end == 0 {
        return (&line[..first.len_utf8()], &line[first.len_utf8()..]);
    }
    (&line[..end], &line[end..])
}

fn unfield(set: &mut std::collections::BTreeSet<String>, args: &str) {
    for w in split_words(args) {
        if w == "*" {
            set.clear();
        } else {
            set.remove(&w.to_ascii_lowercase());
        }
    }
}

fn print_help() {
    println!(
        "\
               rmail commands
type [msglist]          print messages (also: print, p, t; Type/Print: all headers)
next                    go to and print the next message (also: an empty line)
from [msglist]          give header lines of messages
headers [msg]           show the screen of headers containing msg; z [-] pages
delete [msglist]        delete messages; undelete [msglist] brings them back
dp, dt                  delete the current message and print the next
save [msglist] file     append messages to file and mark them saved
copy [msglist] file     append messages to file without marking them
move, mv [msglist] file copy, then delete at quit (a file, +folder or IMAP URL)
write [msglist] file    append message bodies to file
Save, Copy [msglist]    save/copy to a file named after the sender
hold, preserve          keep messages in the system mailbox
mbox, touch             move messages to mbox at quit
unread, new [msglist]   mark messages unread
top [msglist]           print the first toplines lines of messages
size [msglist]          print lines/bytes of messages
pipe [msglist] cmd      pipe messages to a shell command
file, folder [name]     show or switch folder (%: system mailbox, &: mbox, +name)
folders                 list the folder directory
set, unset [var...]     set or unset variables; alias, group, unalias; alternates
ignore, retain [field]  hide or show header fields; unignore, unretain
source file             read commands from file; if r|s|t / else / endif
! cmd, shell            run a shell command or a shell
cd, chdir [dir]         change directory
newmail, inc            check for mail that arrived during this session
=                       print the current message number
quit                    quit, saving changes to the mailbox
exit, xit               quit without changing the mailbox
A <msglist> is: n, n-m, *, ., ^, $, +, -, :n :o :u :r :d, /subject, address"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posix_abbreviations() {
        for (w, c) in [
            ("p", Cmd::Print),
            ("t", Cmd::Print),
            ("P", Cmd::PrintAll),
            ("T", Cmd::PrintAll),
            ("d", Cmd::Delete),
            ("dp", Cmd::DeletePrint),
            ("h", Cmd::Headers),
            ("f", Cmd::From),
            ("fi", Cmd::File),
            ("fo", Cmd::Compose),
            ("fold", Cmd::File),
            ("folders", Cmd::Folders),
            ("s", Cmd::Save),
            ("se", Cmd::Set),
            ("sh", Cmd::Shell),
            ("si", Cmd::Size),
            ("so", Cmd::Source),
            ("S", Cmd::SaveBySender),
            ("c", Cmd::Copy),
            ("C", Cmd::CopyBySender),
            ("q", Cmd::Quit),
            ("x", Cmd::Exit),
            ("ex", Cmd::Exit),
            ("u", Cmd::Undelete),
            ("uns", Cmd::Unset),
            ("ho", Cmd::Preserve),
            ("pre", Cmd::Preserve),
            ("mb", Cmd::Mbox),
            ("to", Cmd::Top),
            ("tou", Cmd::Touch),
            ("z", Cmd::Z),
            ("n", Cmd::Next),
            ("m", Cmd::Compose),
            ("r", Cmd::Compose),
            ("R", Cmd::Compose),
            ("a", Cmd::Alias),
            ("alt", Cmd::Alternates),
            ("g", Cmd::Alias),
            ("ig", Cmd::Ignore),
            ("ret", Cmd::Retain),
            ("l", Cmd::List),
            ("e", Cmd::Edit),
            ("ec", Cmd::Echo),
            ("v", Cmd::Edit),
            ("w", Cmd::Write),
            ("pi", Cmd::Pipe),
            ("hel", Cmd::Help),
            ("i", Cmd::If),
            ("inc", Cmd::Newmail),
        ] {
            assert_eq!(lookup(w), Some(c), "{w}");
        }
        assert_eq!(lookup("bogus"), None);
        assert_eq!(lookup("un"), Some(Cmd::Undelete));
    }

    #[test]
    fn command_word_split() {
        assert_eq!(split_command("p 2"), ("p", " 2"));
        assert_eq!(split_command("p2"), ("p", "2"));
        assert_eq!(split_command("!ls -l"), ("!", "ls -l"));
        assert_eq!(split_command("2"), ("2", "2"));
        assert_eq!(split_command("  "), ("", ""));
        assert_eq!(split_command("|cat"), ("|", "cat"));
    }
}
