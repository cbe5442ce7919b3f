//! Accounts (s-nail): `account NAME { … }` blocks in start-up files, the `account` command and
//! the `-A NAME` flag.
//!
//! A block's lines are stored when the file is read ([`Session::define_account`], called by the
//! loader for each [`crate::config::accounts::Item::Account`]) and run through
//! [`Session::execute`] only when the account is chosen: `account NAME` at the prompt, or `-A
//! NAME` on the command line. Start-up order: system and user start-up files, then `-A`, then
//! `-S` (so a `-S` assignment overrides the account's `set`).

use std::cell::Cell;

use super::session::Session;
use crate::config::accounts::{block_start, Item};

/// Longest chain of accounts applying accounts (`account b` inside block `a`).
const MAX_ACCOUNT_DEPTH: usize = 8;

thread_local! {
    /// Nesting of [`Session::apply_account`], against blocks that apply each other.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// Why an account could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    /// No `account NAME { … }` block was read.
    #[error("no such account: \"{0}\"")]
    Unknown(String),
    /// Accounts applied each other more than [`MAX_ACCOUNT_DEPTH`] deep.
    #[error("account \"{0}\": accounts applied too deeply (a loop?)")]
    TooDeep(String),
}

impl Session {
    /// Stores (or replaces) account `name`'s block lines, without running them.
    pub fn define_account(&mut self, name: String, lines: Vec<String>) {
        self.accounts.insert(name, lines);
    }

    /// Runs a start-up file's grouped items: commands are executed, account blocks stored,
    /// syntax errors printed with `origin` (the file name). Stops early when a command sets
    /// `stop` (`exit` in a start-up file).
    pub fn run_items(&mut self, items: Vec<Item>, origin: &str) {
        for item in items {
            match item {
                Item::Command(line) => self.execute(&line),
                Item::Account { name, lines } => {
                    // An `if` around a block decides whether it is defined.
                    if self.cond.iter().all(|&c| c) {
                        self.define_account(name, lines);
                    }
                }
                Item::Error(msg) => {
                    eprintln!("rmail: {origin}: {msg}");
                    self.last_failed = true;
                }
            }
            if self.stop.is_some() {
                break;
            }
        }
    }

    /// Runs account `name`'s stored lines through [`Session::execute`].
    pub fn apply_account(&mut self, name: &str) -> Result<(), AccountError> {
        let Some(lines) = self.accounts.get(name).cloned() else {
            return Err(AccountError::Unknown(name.to_owned()));
        };
        if DEPTH.with(Cell::get) >= MAX_ACCOUNT_DEPTH {
            return Err(AccountError::TooDeep(name.to_owned()));
        }
        DEPTH.with(|d| d.set(d.get() + 1));
        let depth = self.cond.len();
        for line in &lines {
            self.execute(line);
            if self.stop.is_some() {
                break;
            }
        }
        if self.cond.len() != depth {
            eprintln!("rmail: account {name}: missing \"endif\"");
            self.cond.truncate(depth);
        }
        DEPTH.with(|d| d.set(d.get() - 1));
        Ok(())
    }

    /// The `account` command: no argument lists the accounts as blocks; `account NAME`
    /// applies one, and when that changes `inbox` while a folder is open, quits the folder
    /// and opens the account's inbox (s-nail). `account NAME {` is refused here: blocks are
    /// defined in start-up files.
    pub fn cmd_account(&mut self, args: &str) {
        let args = args.trim();
        if args.is_empty() {
            for (name, lines) in &self.accounts {
                println!("account {name} {{");
                for l in lines {
                    println!("  {l}");
                }
                println!("}}");
            }
            return;
        }
        if block_start(&format!("account {args}")).is_some() || args.ends_with('{') {
            eprintln!("account: blocks can only be defined in a start-up file or with \"source\"");
            self.last_failed = true;
            return;
        }
        let inbox_before = self.inbox();
        if let Err(e) = self.apply_account(args) {
            eprintln!("account: {e}");
            self.last_failed = true;
            return;
        }
        // At the prompt, an account with its own `inbox` switches to it (s-nail), with
        // `quit` semantics for the folder left.
        let inbox = self.inbox();
        if self.folder.is_some() && inbox != inbox_before {
            if self.quit_folder().is_err() {
                return;
            }
            match self.open_folder(&inbox, false, false) {
                Ok(_) => {
                    let with_headers = self.vars.is_set("header");
                    self.announce(with_headers);
                }
                Err(e) => {
                    eprintln!("rmail: {e}");
                    self.last_failed = true;
                }
            }
        }
    }
}
