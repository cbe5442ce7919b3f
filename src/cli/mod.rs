//! The command line: one clap definition that renders `--help`, `man/rmail.1` and
//! `completions/*` (see [`docs`]).
//!
//! The reader's flags follow POSIX mailx and s-nail: `-f` is a flag and the folder is the
//! first operand (`rmail -f [file]`), as in mailx.

pub mod docs;

use clap::{ArgAction, Parser};

/// `rmail` command-line arguments (mailx-compatible).
#[derive(Debug, Clone, Parser)]
#[command(
    name = "rmail",
    version,
    about = "mailx-compatible mail reader (and, later, sender and small-host mail server)",
    long_about = "rmail reads mailboxes at the `&` prompt with the command set, message lists and \
header summary of Heirloom mailx and s-nail. Without arguments it reads the system mailbox \
($MAIL, else /var/mail/$USER).",
    disable_help_subcommand = true
)]
pub struct Cli {
    /// Read a folder instead of the system mailbox: the first operand, else $MBOX or ~/mbox.
    #[arg(short = 'f', action = ArgAction::SetTrue)]
    pub folder: bool,

    /// Read the system mailbox of USER instead of your own.
    #[arg(short = 'u', value_name = "USER")]
    pub user: Option<String>,

    /// Print the header summary, one line per message, and exit (1 when there is no mail).
    #[arg(short = 'H', action = ArgAction::SetTrue)]
    pub headers_only: bool,

    /// Do not print the header summary when the mailbox opens.
    #[arg(short = 'N', action = ArgAction::SetTrue)]
    pub no_header: bool,

    /// Check for mail: exit 0 when there is mail, 1 when there is none; print nothing.
    #[arg(short = 'e', action = ArgAction::SetTrue)]
    pub check: bool,

    /// Do not read the system start-up file (/etc/mail.rc).
    #[arg(short = 'n', action = ArgAction::SetTrue)]
    pub no_system_rc: bool,

    /// Ignore interrupts (sets the `ignore` variable).
    #[arg(short = 'i', action = ArgAction::SetTrue)]
    pub ignore_interrupts: bool,

    /// Open the mailbox read-only: nothing is written back.
    #[arg(short = 'R', action = ArgAction::SetTrue)]
    pub read_only: bool,

    /// Set variable VAR (to VALUE), after the start-up files are read; repeatable.
    #[arg(short = 'S', value_name = "VAR[=VALUE]", action = ArgAction::Append)]
    pub set: Vec<String>,

    /// Verbose: report what is done to mailboxes (indexing, write-back) on stderr.
    #[arg(short = 'v', action = ArgAction::SetTrue)]
    pub verbose: bool,

    /// With -f: the folder to read.
    #[arg(value_name = "FILE", num_args = 0..)]
    pub operands: Vec<String>,
}
