//! `rmail`: argv → cli → reader; errors → exit status (0/1 like mailx, 64 for usage errors).

use clap::Parser;
use rmail::cli::{Cli, Command};
use rmail::error::{EXIT_OK, EXIT_USAGE};
use rmail::mua;
use std::path::PathBuf;

fn main() {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    EXIT_OK
                }
                _ => EXIT_USAGE,
            };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    std::process::exit(run(cli));
}

fn run(cli: Cli) -> i32 {
    if let Some(Command::Deliver { sender, user }) = &cli.command {
        return deliver(sender, user);
    }
    let sending = cli.template || (!cli.operands.is_empty() && !cli.folder);
    if sending {
        if cli.folder || cli.user.is_some() || cli.headers_only || cli.check {
            eprintln!("rmail: -f, -u, -H and -e read mail; they cannot be used when sending");
            return EXIT_USAGE;
        }
        return mua::send::run(mua::send::SendRequest {
            to: cli.operands,
            cc: cli.cc,
            bcc: cli.bcc,
            subject: cli.subject,
            from: cli.from,
            attach: cli.attach,
            template: cli.template,
            discard_empty: cli.discard_empty,
            no_system_rc: cli.no_system_rc,
            set: cli.set,
            verbose: cli.verbose,
        });
    }
    if cli.subject.is_some() || !cli.cc.is_empty() || !cli.bcc.is_empty() || !cli.attach.is_empty()
    {
        eprintln!("rmail: no recipients specified");
        return EXIT_USAGE;
    }
    if cli.operands.len() > 1 {
        eprintln!("rmail: -f takes one folder, got {}", cli.operands.len());
        return EXIT_USAGE;
    }
    if cli.folder && cli.user.is_some() {
        eprintln!("rmail: -f and -u cannot be used together");
        return EXIT_USAGE;
    }
    let folder = cli.folder.then(|| match cli.operands.first() {
        Some(f) => expand_folder_arg(f),
        None => std::env::var_os("MBOX")
            .filter(|m| !m.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| dirs::home_dir().unwrap_or_default().join("mbox")),
    });
    mua::run(mua::Invocation {
        folder,
        user: cli.user,
        headers_only: cli.headers_only,
        no_header: cli.no_header,
        check: cli.check,
        no_system_rc: cli.no_system_rc,
        ignore_interrupts: cli.ignore_interrupts,
        read_only: cli.read_only,
        set: cli.set,
        verbose: cli.verbose,
    })
}

/// `-f +name` means the folder directory, as in mailx; the rest is a path.
fn expand_folder_arg(f: &str) -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    if let Some(rest) = f.strip_prefix('+') {
        return home.join(rest);
    }
    if let Some(rest) = f.strip_prefix("~/") {
        return home.join(rest);
    }
    PathBuf::from(f)
}

/// `rmail deliver [-f SENDER] USER`: the local delivery agent, run as the recipient. Exit
/// statuses are sysexits: 0 delivered, 77 (`EX_NOPERM`) when run as root, 75 (`EX_TEMPFAIL`)
/// when the mailbox cannot be written (the sender keeps the message).
fn deliver(sender: &str, user: &str) -> i32 {
    use std::io::Read;
    if rustix::process::geteuid().is_root() {
        eprintln!("rmail deliver: refusing to run as root (a mailbox is written as its owner)");
        return 77;
    }
    let mut msg = Vec::new();
    if let Err(e) = std::io::stdin().lock().read_to_end(&mut msg) {
        eprintln!("rmail deliver: cannot read the message: {e}");
        return 75;
    }
    let mailbox = rmail::mda::mailbox_of(user);
    match rmail::mda::deliver_to_mbox(&mailbox, sender, &msg) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("rmail deliver: {e}");
            75
        }
    }
}
