//! `rmail`: argv → cli → reader; errors → exit status (0/1 like mailx, 64 for usage errors).

use clap::Parser;
use rmail::cli::Cli;
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
    if !cli.operands.is_empty() && !cli.folder {
        eprintln!(
            "rmail: sending mail is not supported yet; to read a folder use: rmail -f {}",
            cli.operands[0]
        );
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
