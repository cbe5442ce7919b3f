//! `rmail`: argv → cli → reader; errors → exit status (0/1 like mailx, 64 for usage errors).

use clap::Parser;
use rmail::cli::{AccountAction, Cli, Command};
use rmail::error::{EXIT_OK, EXIT_USAGE};
use rmail::mua;
use std::path::PathBuf;

fn main() {
    quiet_broken_pipe();
    // Invoked as `sendmail` or `mailq` (a symlink), rmail is the MTA's command-line face.
    let argv0 = std::env::args_os().next().unwrap_or_default();
    let name = std::path::Path::new(&argv0)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name == "sendmail" {
        let args: Vec<String> = std::env::args().skip(1).collect();
        std::process::exit(rmail::server::cmd::sendmail(&args));
    }
    if name == "mailq" {
        std::process::exit(rmail::server::cmd::queue(None, None));
    }
    // `rmail sendmail ARGS`: sendmail's own flag syntax, `--` included, not clap's.
    if std::env::args().nth(1).as_deref() == Some("sendmail") {
        let args: Vec<String> = std::env::args().skip(2).collect();
        if args.iter().any(|a| a == "--help" || a == "-h") && !args.iter().any(|a| a == "--") {
            // Fall through to clap for the help text.
        } else {
            std::process::exit(rmail::server::cmd::sendmail(&args));
        }
    }
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
    match &cli.command {
        Some(Command::Deliver {
            sender,
            user,
            config,
            batch: false,
            ..
        }) => return deliver(sender, user, config.as_deref()),
        Some(Command::Deliver {
            user,
            batch: true,
            mailbox,
            size_limit,
            ..
        }) => return rmail::server::cmd::deliver_batch(user, mailbox.as_deref(), *size_limit),
        Some(Command::Serve {
            config,
            daemon,
            print_config,
            overrides,
        }) => {
            return rmail::server::cmd::serve(rmail::server::cmd::ServeOptions {
                config: config.clone(),
                daemon: *daemon,
                print_config: *print_config,
                overrides: overrides.clone(),
            })
        }
        Some(Command::ServeSession { proto, config }) => {
            return rmail::server::session::run(proto, config.as_deref())
        }
        Some(Command::Users { config, action }) => {
            return rmail::server::cmd::users(config.as_deref(), action)
        }
        Some(Command::Queue { config, action }) => {
            return rmail::server::cmd::queue(config.as_deref(), action.as_ref())
        }
        Some(Command::Newaliases { config }) => {
            return rmail::server::cmd::newaliases(config.as_deref())
        }
        Some(Command::Sendmail { args }) => return rmail::server::cmd::sendmail(args),
        Some(Command::Presets) => {
            print!("{}", rmail::config::presets::table());
            return EXIT_OK;
        }
        Some(Command::Account {
            action:
                AccountAction::Add {
                    preset,
                    address,
                    name,
                },
        }) => return account_add(preset, address, name.as_deref()),
        Some(Command::Fetch {
            account,
            keep,
            mailbox,
            verbose,
        }) => return fetch(account, *keep, mailbox.as_deref(), *verbose),
        None => {}
    }
    // -A: applied by the session after the start-up files, in both modes.
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
            account: cli.account,
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
        // Expanded by the reader after the start-up files (`+name` needs `folder`).
        Some(f) => PathBuf::from(f),
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
        account: cli.account,
    })
}

/// `rmail account add PRESET ADDRESS [--name NAME]`: appends an account block to $MAILRC or
/// ~/.mailrc and prints it with the provider's login hints. 0 written, 64 refused.
fn account_add(preset: &str, address: &str, name: Option<&str>) -> i32 {
    use rmail::config::{accounts, presets};
    let Some(p) = presets::find(preset) else {
        let names: Vec<&str> = presets::PRESETS.iter().map(|p| p.name).collect();
        eprintln!(
            "rmail account add: no preset \"{preset}\"; presets: {}",
            names.join(" ")
        );
        return EXIT_USAGE;
    };
    let name = name.unwrap_or(p.name);
    let path = match std::env::var_os("MAILRC").filter(|m| !m.is_empty()) {
        Some(m) => PathBuf::from(m),
        None => std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default()
            .join(".mailrc"),
    };
    let block = match accounts::append(&path, name, p, address) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("rmail account add: {e}");
            return EXIT_USAGE;
        }
    };
    println!("Added to {}:", path.display());
    print!("{block}");
    if let Some(other) = presets::for_address(address).filter(|o| o.name != p.name) {
        println!(
            "Note: {address} looks like a {} address (preset \"{}\").",
            other.title, other.name
        );
    }
    let q = p.quirks;
    if q.auth_code {
        println!(
            "Note: {} needs an authorization code (授权码) from its web settings, not your \
             login password; enable SMTP/IMAP/POP3 there first.",
            p.title
        );
    }
    if q.app_password {
        println!(
            "Note: {} needs an app password (two-step verification on), not your account \
             password.",
            p.title
        );
    }
    if q.oauth2_required {
        println!(
            "Note: {} requires OAuth2 (XOAUTH2): password logins are refused. Set \
             oauth2-token-command to a program that prints an access token (e.g. oama).",
            p.title
        );
    }
    if q.imap_id {
        println!(
            "Note: {}'s IMAP server needs the IMAP ID command (RFC 2971); rmail sends it.",
            p.title
        );
    }
    if q.oauth2_required {
        println!("Then uncomment the oauth2-token-command line; use it with: rmail -A {name}");
    } else {
        println!(
            "Store the password outside the file, e.g. uncomment the password-command line; \
             use it with: rmail -A {name}"
        );
    }
    EXIT_OK
}

/// `rmail fetch ACCOUNT [--keep] [--mailbox PATH] [-v]`: the start-up files are read as
/// for `rmail -A ACCOUNT` (a URL operand: without an account), then
/// [`rmail::remote::fetch::run`]. 0 on success (also with no new mail), 1 on failure and
/// when a message was skipped or not deleted (one `rmail fetch: message N (UIDL u) …` line
/// each on stderr, after the run did everything else).
fn fetch(account: &str, keep: bool, mailbox: Option<&std::path::Path>, verbose: bool) -> i32 {
    use rmail::remote::{self, fetch};
    use std::io::IsTerminal;
    let is_url = remote::url::is_folder_url(account);
    let mut s = mua::session::Session::new(false);
    if let Err(e) = s.load_startup_files(false, (!is_url).then_some(account), &[]) {
        // An unknown account is a usage error, as with -A.
        eprintln!("rmail fetch: {e}");
        return EXIT_USAGE;
    }
    let get = |k: &str| s.vars.get(k).map(str::to_owned);
    let url = match fetch::fetch_url(account, &get) {
        Ok(u) => u,
        Err(e) => {
            eprintln!("rmail fetch: {e}");
            return 1;
        }
    };
    let opts = match remote::options_from(&url, &get) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("rmail fetch: {e}");
            return 1;
        }
    };
    remote::warn_cleartext(&url);
    let mailbox = match mailbox {
        Some(m) => m.to_path_buf(),
        None => match get("fetch-mailbox").filter(|m| !m.trim().is_empty()) {
            Some(m) => s.expand_path(m.trim()),
            None => s.env.system_mailbox.clone(),
        },
    };
    if mailbox.to_str().is_some_and(remote::url::is_folder_url) {
        eprintln!(
            "rmail fetch: {}: mail is fetched into a local mailbox, not a remote folder",
            mailbox.display()
        );
        return EXIT_USAGE;
    }
    let name = fetch::state_name((!is_url).then_some(account), &url);
    let req = fetch::FetchRequest {
        account: (!is_url).then(|| account.to_owned()),
        opts,
        mailbox,
        state: fetch::state_path(&name),
        keep,
    };
    match fetch::run(&req) {
        Ok(report) => {
            if verbose || std::io::stderr().is_terminal() {
                eprintln!(
                    "rmail: {}",
                    fetch::summary_line(&report, &url.host, &req.mailbox)
                );
            }
            let refused = fetch::refused_lines(&report);
            for line in &refused {
                eprintln!("rmail fetch: {line}");
            }
            if refused.is_empty() {
                EXIT_OK
            } else {
                1
            }
        }
        Err(e) => {
            eprintln!("rmail fetch: {e}");
            1
        }
    }
}

/// Standard output closed by its reader (`rmail … | head -1`): Rust's `print!` panics where
/// a C mailx dies of SIGPIPE. SIGPIPE stays ignored (a peer closing a socket or a pager that
/// quits early must not kill us), but this one panic ends the process as SIGPIPE would —
/// quietly, status 128+13 — instead of printing a panic message. Work finished before the
/// failed print (a write-back, an expunge) is already done; nothing after it runs, as with
/// mailx.
fn quiet_broken_pipe() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.starts_with("failed printing to stdout") && msg.contains("Broken pipe") {
            // SAFETY: restoring the default action and raising a signal are plain syscalls.
            unsafe {
                libc::signal(libc::SIGPIPE, libc::SIG_DFL);
                libc::raise(libc::SIGPIPE);
            }
            std::process::exit(128 + libc::SIGPIPE);
        }
        default_hook(info);
    }));
}

/// `rmail deliver [-f SENDER] USER`: the local delivery agent. Run by root it becomes USER
/// (groups, gid, uid) before it opens anything, so a mailbox is written as root only when
/// USER is root; run by anyone else it delivers only into that user's own mailbox. Exit
/// statuses are sysexits: 0 delivered, 77 (`EX_NOPERM`) for another user or for a mailbox that
/// is a link or not the user's own, 67 (`EX_NOUSER`) for an unknown user, 75 (`EX_TEMPFAIL`)
/// when the mailbox cannot be written (the sender keeps the message).
fn deliver(sender: &str, user: &str, config: Option<&std::path::Path>) -> i32 {
    use std::io::Read;
    // The spool: the server configuration's, when there is one (-c, $RMAIL_CONFIG or
    // /etc/rmail/main.cf), else $RMAIL_SPOOL_DIR or /var/mail. Read before dropping root.
    let default = rmail::config::maincf::default_path();
    let cfg_path = config
        .map(std::path::Path::to_path_buf)
        .or_else(|| default.exists().then_some(default));
    let mailbox = match cfg_path {
        Some(p) => match rmail::config::maincf::load(&p) {
            Ok((c, _)) => c.mail_spool_directory.join(user),
            Err(e) => {
                eprintln!("rmail deliver: {e}");
                return 78;
            }
        },
        None => rmail::mda::mailbox_of(user),
    };
    if rustix::process::geteuid().is_root() {
        let Some((uid, gid, _)) = rmail::server::privsep::account(user) else {
            eprintln!("rmail deliver: no such user {user}");
            return 67;
        };
        if uid != 0 {
            if let Err(e) = rmail::server::privsep::drop_privileges(uid, gid) {
                eprintln!("rmail deliver: cannot become {user}: {e}");
                return 75;
            }
        }
    }
    let mut msg = Vec::new();
    if let Err(e) = std::io::stdin().lock().read_to_end(&mut msg) {
        eprintln!("rmail deliver: cannot read the message: {e}");
        return 75;
    }
    // Only into one's own mailbox: the agent runs as the recipient.
    let me = rustix::process::geteuid().as_raw();
    match rmail::send::lookup_user(user) {
        Some((uid, _)) if uid == me => {}
        Some(_) => {
            eprintln!("rmail deliver: {user} is not the user running this; refusing");
            return 77;
        }
        None => {
            eprintln!("rmail deliver: no such user {user}");
            return 67;
        }
    }
    match rmail::mda::deliver_to_own_mailbox_at(&mailbox, me, sender, &msg) {
        Ok(()) => 0,
        Err(e @ rmail::mda::MdaError::Unsafe(..)) => {
            eprintln!("rmail deliver: {e}");
            77
        }
        Err(e) => {
            eprintln!("rmail deliver: {e}");
            75
        }
    }
}
