//! The reader: the mailx `&` prompt (POSIX mailx, Heirloom mailx and s-nail behaviour).
//!
//! - [`session`]: the open folder and per-message state (new/read/deleted/saved/…), quit and
//!   exit semantics (mbox moving, `hold`, `keep`, `keepsave`, `append`).
//! - [`commands`]: the command table with its abbreviations, and the commands on the folder;
//!   [`files`]: the commands that reach outside it (save, pipe, edit, file, shell).
//! - [`msglist`]: message-list syntax. [`summary`]: header summary lines.
//! - [`display`]: a message for the terminal (ignore/retain, MIME decoding, pager).
//! - [`vars`]: variables and word splitting.
//! - [`send`]: send mode (`rmail -s subject user`).

pub mod account;
pub mod commands;
pub mod display;
pub mod files;
pub mod interrupt;
pub mod msglist;
pub mod remote;
pub mod reply;
pub mod send;
pub mod session;
pub mod source;
pub mod summary;
pub mod vars;

use std::io::IsTerminal;
use std::path::PathBuf;

use crate::error::{EXIT_FAIL, EXIT_OK, EXIT_USAGE};

/// How the reader was invoked (resolved from the command line and the environment).
#[derive(Debug, Clone, Default)]
pub struct Invocation {
    /// `-f`: read this folder in edit mode instead of the system mailbox (as given: expanded
    /// with [`session::Session::expand_path`] after the start-up files).
    pub folder: Option<PathBuf>,
    /// `-u USER`: read that user's system mailbox.
    pub user: Option<String>,
    /// `-H`: print the summary and exit.
    pub headers_only: bool,
    /// `-N`: no summary at start.
    pub no_header: bool,
    /// `-e`: exit status says whether there is mail.
    pub check: bool,
    /// `-n`: skip the system start-up file.
    pub no_system_rc: bool,
    /// `-i`: ignore interrupts.
    pub ignore_interrupts: bool,
    /// `-R`: read-only.
    pub read_only: bool,
    /// `-S` assignments, applied after the start-up files.
    pub set: Vec<String>,
    /// `-v`.
    pub verbose: bool,
    /// `-A NAME`: the account applied after the start-up files.
    pub account: Option<String>,
}

/// Runs the reader; returns the process exit status (0 success, 1 no mail or failure,
/// 64 usage error), as POSIX mailx and s-nail.
pub fn run(inv: Invocation) -> i32 {
    let interactive = std::io::stdin().is_terminal();
    let mut s = session::Session::new(interactive);
    if inv.ignore_interrupts {
        s.vars.set("ignore", "");
    }
    if inv.verbose {
        s.vars.set("verbose", "");
    }
    if let Err(e) = s.load_startup_files(inv.no_system_rc, inv.account.as_deref(), &inv.set) {
        eprintln!("rmail: -A: {e}");
        return EXIT_USAGE;
    }
    if inv.read_only {
        s.vars.set("readonly", "");
    }

    let (path, edit) = match (&inv.folder, &inv.user) {
        // `+name` (in the `folder` directory or on its server), `~/…`, `%`, `&`, as in mailx.
        (Some(p), _) => (s.expand_path(&p.to_string_lossy()), true),
        (None, Some(u)) => (s.env.spool_of(u), false),
        (None, None) => (s.inbox(), false),
    };
    let who = inv.user.clone().unwrap_or_else(|| s.env.user.clone());

    match s.open_folder(&path, edit, inv.read_only) {
        Ok(n) => {
            if n == 0 && (!edit || inv.check || inv.headers_only) {
                if !inv.check {
                    if edit {
                        eprintln!("No mail in {}", path.display());
                    } else {
                        eprintln!("No mail for {who}");
                    }
                }
                return EXIT_FAIL;
            }
        }
        Err(e) => {
            if inv.check {
                return EXIT_FAIL;
            }
            if e.is_not_found() && !edit {
                eprintln!("No mail for {who}");
            } else {
                eprintln!("rmail: {e}");
            }
            return EXIT_FAIL;
        }
    }
    if inv.check {
        return EXIT_OK;
    }
    if inv.headers_only {
        return match s.print_all_headers() {
            Ok(()) => EXIT_OK,
            Err(_) => EXIT_FAIL,
        };
    }
    if interactive && !s.vars.is_set("quiet") {
        println!(
            "rmail version {}.  Type ? for help.",
            env!("CARGO_PKG_VERSION")
        );
    }
    s.announce(!inv.no_header && s.vars.is_set("header"));
    let status = s.command_loop();
    if status == EXIT_USAGE {
        return EXIT_USAGE;
    }
    status
}
