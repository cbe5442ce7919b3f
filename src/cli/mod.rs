//! The command line: one clap definition that renders `--help`, `man/rmail.1` and
//! `completions/*` (see [`docs`]).
//!
//! The reader's flags follow POSIX mailx and s-nail: `-f` is a flag and the folder is the
//! first operand (`rmail -f [file]`), as in mailx.

pub mod docs;

use clap::{ArgAction, Parser, Subcommand};
use std::path::PathBuf;

/// `rmail` command-line arguments (mailx-compatible).
#[derive(Debug, Clone, Parser)]
#[command(
    name = "rmail",
    version,
    about = "mailx-compatible mail reader and sender, and a small-host mail server (rmail serve)",
    long_about = "rmail reads mailboxes at the `&` prompt with the command set, message lists and \
header summary of Heirloom mailx and s-nail. Without arguments it reads the system mailbox \
($MAIL, else /var/mail/$USER). With addresses it sends mail, like `mail -s subject user`: the \
body comes from standard input.",
    disable_help_subcommand = true,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// Read a folder instead of the system mailbox: the first operand (a file, or an
    /// imap://, imaps://, pop3:// or pop3s:// URL), else $MBOX or ~/mbox.
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

    /// Apply the start-up files' `account ACCOUNT { … }` block after the start-up files are
    /// read, before the -S assignments (so -S overrides the account); reading and sending.
    #[arg(short = 'A', value_name = "ACCOUNT")]
    pub account: Option<String>,

    /// Verbose: report what is done to mailboxes (indexing, write-back) on stderr.
    #[arg(short = 'v', action = ArgAction::SetTrue)]
    pub verbose: bool,

    /// Send: the subject.
    #[arg(short = 's', value_name = "SUBJECT")]
    pub subject: Option<String>,

    /// Send: carbon-copy recipients (comma-separated; repeatable).
    #[arg(short = 'c', value_name = "ADDRS", action = ArgAction::Append)]
    pub cc: Vec<String>,

    /// Send: blind carbon-copy recipients (never shown in the message; repeatable).
    #[arg(short = 'b', value_name = "ADDRS", action = ArgAction::Append)]
    pub bcc: Vec<String>,

    /// Send: the sender address (From: and the envelope sender).
    #[arg(short = 'r', value_name = "FROM")]
    pub from: Option<String>,

    /// Send: attach FILE (repeatable).
    #[arg(short = 'a', value_name = "FILE", action = ArgAction::Append)]
    pub attach: Vec<PathBuf>,

    /// Send: take recipients and subject from the To:, Cc:, Bcc: and Subject: lines of the
    /// message on standard input.
    #[arg(short = 't', action = ArgAction::SetTrue)]
    pub template: bool,

    /// Send: do not send a message with an empty body.
    #[arg(short = 'E', action = ArgAction::SetTrue)]
    pub discard_empty: bool,

    /// With -f: the folder to read; otherwise the recipients to send to (after `--` an
    /// address may start with `-`).
    #[arg(value_name = "FILE|ADDRESS", num_args = 0..)]
    pub operands: Vec<String>,

    /// Subcommands; the first operand is one only when it is a subcommand's name.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// rmail's subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Deliver the message on standard input into USER's system mailbox (the local delivery
    /// agent, e.g. Postfix's mailbox_command). Run by root it becomes USER first; anyone
    /// else may deliver only into their own mailbox.
    Deliver {
        /// The envelope sender for the From_ line.
        #[arg(short = 'f', value_name = "SENDER", default_value = "")]
        sender: String,
        /// The server configuration whose mail_spool_directory to use (default: $RMAIL_CONFIG,
        /// else /etc/rmail/main.cf when it exists, else /var/mail).
        #[arg(
            short = 'c',
            long = "config",
            value_name = "FILE",
            env = "RMAIL_CONFIG"
        )]
        config: Option<std::path::PathBuf>,
        /// Read length-prefixed messages until end of input and acknowledge each (the
        /// server's per-user delivery worker; one fsync per batch).
        #[arg(long, hide = true)]
        batch: bool,
        /// The mailbox to write in batch mode (default: USER's system mailbox).
        #[arg(long, hide = true, value_name = "PATH")]
        mailbox: Option<std::path::PathBuf>,
        /// With --batch: refuse messages that would make the mailbox larger than this many
        /// bytes (0: no limit).
        #[arg(long, hide = true, value_name = "BYTES", default_value_t = 0)]
        size_limit: u64,
        /// The recipient's login name.
        #[arg(value_name = "USER")]
        user: String,
    },
    /// A POP3 or IMAP session running as the logged-in user, started by the server's
    /// privileged master (standard input is the socket to the network-facing process).
    #[command(hide = true)]
    ServeSession {
        /// `pop3` or `imap`.
        #[arg(long, value_name = "PROTO")]
        proto: String,
        /// The configuration file (main.cf syntax).
        #[arg(
            short = 'c',
            long = "config",
            value_name = "FILE",
            env = "RMAIL_CONFIG"
        )]
        config: Option<std::path::PathBuf>,
    },
    /// Run the mail server: SMTP on 25/587/465 (and the ports the config names), local
    /// delivery into the spool, the queue and the relay client. Configured with Postfix
    /// main.cf keys in /etc/rmail/main.cf (or $RMAIL_CONFIG, or -c); without a config and not
    /// root, a loopback-only default on ports 2525/2587/2465 with everything under the XDG
    /// data directory.
    #[command(after_long_help = SERVE_KEYS)]
    Serve {
        /// The configuration file (main.cf syntax).
        #[arg(
            short = 'c',
            long = "config",
            value_name = "FILE",
            env = "RMAIL_CONFIG"
        )]
        config: Option<std::path::PathBuf>,
        /// Detach from the terminal and run in the background (logs go to syslog).
        #[arg(long)]
        daemon: bool,
        /// Print the effective settings (like postconf -n) and exit.
        #[arg(long)]
        print_config: bool,
        /// Override a setting (like postfix -o); repeatable.
        #[arg(short = 'o', value_name = "KEY=VALUE")]
        overrides: Vec<String>,
    },
    /// Manage rmail's own user file (virtual users; the `user_database` key): add a user,
    /// delete one, change a password, list them. Passwords are read from standard input
    /// when it is not a terminal, else prompted for twice without echo.
    Users {
        /// The configuration file (main.cf syntax).
        #[arg(
            short = 'c',
            long = "config",
            value_name = "FILE",
            env = "RMAIL_CONFIG"
        )]
        config: Option<std::path::PathBuf>,
        /// What to do.
        #[command(subcommand)]
        action: UsersAction,
    },
    /// List the mail queue like mailq; `flush` retries every message now, `delete ID`
    /// removes one.
    Queue {
        /// The configuration file (main.cf syntax).
        #[arg(
            short = 'c',
            long = "config",
            value_name = "FILE",
            env = "RMAIL_CONFIG"
        )]
        config: Option<std::path::PathBuf>,
        /// What to do (default: list).
        #[command(subcommand)]
        action: Option<QueueAction>,
    },
    /// Check the alias files named by alias_maps and report their errors.
    Newaliases {
        /// The configuration file (main.cf syntax).
        #[arg(
            short = 'c',
            long = "config",
            value_name = "FILE",
            env = "RMAIL_CONFIG"
        )]
        config: Option<std::path::PathBuf>,
    },
    /// The sendmail interface: enqueue the message on standard input for the recipients
    /// (-t: from its To/Cc/Bcc), with the classic flags -i, -oi, -f SENDER, -F NAME. Also
    /// what rmail does when invoked under the name `sendmail`; as `mailq` it lists the queue.
    Sendmail {
        /// sendmail's flags and the recipients, as sendmail takes them.
        #[arg(
            value_name = "ARGS",
            trailing_var_arg = true,
            allow_hyphen_values = true
        )]
        args: Vec<String>,
    },
    /// List the mail provider presets: SMTP, IMAP and POP3 servers (host:port, TLS mode) and
    /// the provider's quirks (authorization code, app password, OAuth2, IMAP ID).
    Presets,
    /// Manage accounts in the start-up file ($MAILRC, else ~/.mailrc).
    Account {
        /// What to do.
        #[command(subcommand)]
        action: AccountAction,
    },
    /// Download new mail from a POP3 server into a local mailbox, like fetchmail.
    ///
    /// New messages (by UIDL, remembered in $XDG_STATE_HOME/rmail/fetch/ACCOUNT.uidl) are
    /// appended to the mailbox under its lock and synced, then recorded, then deleted on the
    /// server unless --keep: what this run downloaded, and what an earlier run without
    /// --keep downloaded but could not delete (messages kept by --keep are never deleted). A
    /// message the server refuses to send is skipped and reported, and tried again next
    /// time. One run per account at a time. Exit 0 on success, also when there is no new
    /// mail; 1 on failure, when another run is active, or when a message was skipped or not
    /// deleted; 64 for an unknown account.
    Fetch {
        /// An account name from the start-up files (its `fetch-url` variable, e.g.
        /// pop3s://USER@pop.HOST:995, and its password-command, tls-ca-file, …), or a
        /// pop3:// or pop3s:// URL.
        #[arg(value_name = "ACCOUNT")]
        account: String,
        /// Leave the messages on the server (they are still fetched only once).
        #[arg(short = 'k', long)]
        keep: bool,
        /// The mailbox to append to (default: the `fetch-mailbox` variable, else $MAIL,
        /// else the system mailbox).
        #[arg(short = 'm', long, value_name = "PATH")]
        mailbox: Option<std::path::PathBuf>,
        /// Report what was fetched on stderr even when it is not a terminal.
        #[arg(short = 'v', long)]
        verbose: bool,
    },
}

/// The configuration keys, for `rmail serve --help` and rmail-serve(1).
const SERVE_KEYS: &str = "Configuration (main.cf syntax: key = value, indented continuation lines, # comments, $name expansion):
  Postfix keys: myhostname, mydomain, myorigin, inet_interfaces, inet_protocols, mydestination, mynetworks, relay_domains, relayhost, message_size_limit, mailbox_size_limit, recipient_delimiter, alias_maps, home_mailbox, mail_spool_directory, smtpd_banner, smtpd_tls_cert_file, smtpd_tls_key_file, smtpd_tls_security_level, smtpd_tls_auth_only (default yes), smtpd_sasl_auth_enable, smtpd_client_connection_count_limit, smtpd_recipient_limit, smtpd_hard_error_limit, smtpd_timeout, maximal_queue_lifetime, bounce_queue_lifetime, minimal_backoff_time, maximal_backoff_time, queue_run_delay, queue_directory, mail_owner, smtp_sasl_auth_enable, smtp_sasl_password_maps, smtp_tls_security_level, smtp_tls_wrappermode, smtp_tls_CAfile.
  rmail's own: smtp_listen, submission_listen, submissions_listen, pop3_listen, pop3s_listen, imap_listen, imaps_listen (address:port lists; a bare port means every inet_interfaces address; empty disables; port 0 picks a free port, logged as 'listening:'), user_database (system, or the path of rmail's own user file: rmail users add NAME), data_directory, virtual_mailbox_base, disable_plaintext_auth, smtpd_greet_pause.
  Implicit-TLS listeners (465, 995, 993) need smtpd_tls_cert_file. As root, mail_owner must be able to write the spool for virtual users; rmail users add gives the user file to mail_owner.
Signals: SIGTERM/SIGINT stop cleanly (421 to clients, the queue stays); SIGUSR1 retries the queue now (rmail queue flush).";

/// `rmail users` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum UsersAction {
    /// Add a virtual user with a password.
    Add {
        /// The login name (also the spool mailbox name).
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Delete a virtual user (the mailbox stays).
    Del {
        /// The login name.
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Change a virtual user's password.
    Passwd {
        /// The login name.
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// List the virtual users.
    List,
}

/// `rmail queue` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum QueueAction {
    /// List the queue (the default).
    List,
    /// Retry every queued message now.
    Flush,
    /// Remove a message from the queue.
    Delete {
        /// The queue ID, as listed.
        #[arg(value_name = "ID")]
        id: String,
    },
}

/// `rmail account` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum AccountAction {
    /// Append an `account NAME { … }` block for ADDRESS at PRESET's provider to $MAILRC or
    /// ~/.mailrc (created with mode 0600; existing lines are never rewritten; refused when an
    /// account NAME exists). No password is written: set `password-command` in the block.
    Add {
        /// A preset name from `rmail presets` (e.g. qq, 163, gmail).
        #[arg(value_name = "PRESET")]
        preset: String,
        /// The mail address (used as From: and as the SMTP login).
        #[arg(value_name = "ADDRESS")]
        address: String,
        /// The account name (default: the preset name).
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
    },
}
