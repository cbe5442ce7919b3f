//! The server's command-line faces: `rmail serve`, `users`, `queue`, `newaliases`,
//! `sendmail`/`mailq`, and the per-user delivery worker `rmail deliver --batch`. Each returns
//! the process exit status (sysexits.h codes: 64 usage, 67 no user, 69 unavailable,
//! 71 system error, 75 temporary failure, 77 permission, 78 configuration).

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use crate::cli::{QueueAction, UsersAction};
use crate::config::maincf::UserDatabase;

use super::run::{self, StartError};

/// sysexits.h `EX_USAGE`.
pub const EX_USAGE: i32 = 64;
/// sysexits.h `EX_NOUSER`.
pub const EX_NOUSER: i32 = 67;
/// sysexits.h `EX_UNAVAILABLE`.
pub const EX_UNAVAILABLE: i32 = 69;
/// sysexits.h `EX_OSERR`.
pub const EX_OSERR: i32 = 71;
/// sysexits.h `EX_TEMPFAIL`.
pub const EX_TEMPFAIL: i32 = 75;
/// sysexits.h `EX_NOPERM`.
pub const EX_NOPERM: i32 = 77;
/// sysexits.h `EX_CONFIG`: the configuration is bad.
pub const EX_CONFIG: i32 = 78;

/// What `rmail serve` was asked.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// `-c FILE` / `RMAIL_CONFIG`.
    pub config: Option<PathBuf>,
    /// `--daemon`.
    pub daemon: bool,
    /// `--print-config`.
    pub print_config: bool,
    /// `-o key=value`, applied after the file.
    pub overrides: Vec<String>,
}

fn start_error(what: &str, e: StartError) -> i32 {
    eprintln!("rmail {what}: {e}");
    match e {
        StartError::Config(_) => EX_CONFIG,
        StartError::System(_) => EX_OSERR,
    }
}

/// `rmail serve`.
pub fn serve(opts: ServeOptions) -> i32 {
    let loaded = match run::load(opts.config.as_deref(), &opts.overrides) {
        Ok(l) => l,
        Err(e) => return start_error("serve", e),
    };
    if opts.print_config {
        print!("{}", crate::config::maincf::print_config(&loaded.config));
        return 0;
    }
    match run::serve(loaded, opts.daemon) {
        Ok(()) => 0,
        Err(e) => start_error("serve", e),
    }
}

/// Reads a new password: from standard input when it is not a terminal (first line), else
/// prompted twice without echo.
fn read_password() -> Result<String, String> {
    if !std::io::stdin().is_terminal() {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| format!("cannot read the password: {e}"))?;
        let p = s.lines().next().unwrap_or("").to_owned();
        if p.is_empty() {
            return Err("empty password".into());
        }
        if p.contains('\0') {
            return Err("the password contains a NUL byte, which no login can send".into());
        }
        return Ok(p);
    }
    let a = crate::send::smtp::prompt_password("New password: ").ok_or("no password given")?;
    let b = crate::send::smtp::prompt_password("Again: ").ok_or("no password given")?;
    if a != b {
        return Err("the passwords differ".into());
    }
    Ok(a)
}

/// `rmail users add|del|passwd NAME` and `rmail users list`.
pub fn users(config: Option<&Path>, action: &UsersAction) -> i32 {
    let loaded = match run::load(config, &[]) {
        Ok(l) => l,
        Err(e) => return start_error("users", e),
    };
    let file = match &loaded.config.user_database {
        UserDatabase::File(p) => p.clone(),
        UserDatabase::System => {
            eprintln!(
                "rmail users: user_database = system: system accounts are managed with adduser/passwd; \
                 set user_database to a file to have rmail's own users"
            );
            return EX_CONFIG;
        }
    };
    use crate::mda::users;
    let r = match action {
        UsersAction::List => match users::list_users(&file) {
            Ok(names) => {
                for n in names {
                    println!("{n}");
                }
                return 0;
            }
            Err(e) => Err(e),
        },
        UsersAction::Del { name } => users::remove_user(&file, name),
        UsersAction::Add { name } | UsersAction::Passwd { name } => {
            // Recipient addresses are folded to lower case (as Postfix does), so a name with
            // capitals could log in but never receive mail.
            if name.chars().any(|c| c.is_uppercase()) {
                eprintln!("rmail users: {name}: user names must be lower case (addresses are matched in lower case)");
                return EX_USAGE;
            }
            let password = match read_password() {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("rmail users: {e}");
                    return EX_USAGE;
                }
            };
            if matches!(action, UsersAction::Add { .. }) {
                users::add_user(&file, name, &password)
            } else {
                users::set_password(&file, name, &password)
            }
        }
    };
    match r {
        Ok(()) => {
            // Run as root, the file goes to mail_owner: the server reads it as that user.
            if super::privsep::is_root() {
                if let Some((uid, gid, _)) = super::privsep::account(&loaded.config.mail_owner) {
                    let _ = std::os::unix::fs::chown(&file, Some(uid), Some(gid));
                }
            }
            0
        }
        Err(e @ users::UserError::NoSuchUser(_)) => {
            eprintln!("rmail users: {e}");
            EX_NOUSER
        }
        Err(
            e @ (users::UserError::Exists(_)
            | users::UserError::BadName(..)
            | users::UserError::EmptyPassword),
        ) => {
            eprintln!("rmail users: {e}");
            EX_USAGE
        }
        Err(e) => {
            eprintln!("rmail users: {e}");
            EX_TEMPFAIL
        }
    }
}

/// `rmail queue [list|flush|delete ID]`, and `mailq`.
pub fn queue(config: Option<&Path>, action: Option<&QueueAction>) -> i32 {
    let loaded = match run::load(config, &[]) {
        Ok(l) => l,
        Err(e) => return start_error("queue", e),
    };
    let dir = &loaded.config.queue_directory;
    if !dir.exists() {
        if matches!(action, None | Some(QueueAction::List)) {
            println!("Mail queue is empty");
            return 0;
        }
        eprintln!(
            "rmail queue: {} does not exist (has rmail serve run?)",
            dir.display()
        );
        return EX_UNAVAILABLE;
    }
    let q = match crate::queue::Queue::open(dir) {
        Ok(q) => q,
        Err(e) => {
            eprintln!("rmail queue: {e}");
            return EX_NOPERM;
        }
    };
    match action {
        None | Some(QueueAction::List) => match q.list() {
            Ok(l) => {
                print!("{}", crate::queue::format_mailq(&l.entries));
                for c in l.corrupt {
                    eprintln!("rmail queue: {c}");
                }
                0
            }
            Err(e) => {
                eprintln!("rmail queue: {e}");
                EX_TEMPFAIL
            }
        },
        Some(QueueAction::Delete { id }) => {
            let Some(qid) = crate::queue::QueueId::parse(id) else {
                eprintln!("rmail queue: {id}: not a queue ID");
                return EX_USAGE;
            };
            match q.remove(&qid) {
                Ok(()) => {
                    eprintln!("rmail queue: {id}: removed");
                    0
                }
                Err(e) => {
                    eprintln!("rmail queue: {e}");
                    EX_NOUSER
                }
            }
        }
        Some(QueueAction::Flush) => {
            // Only a live server holds master.lock; a stale pid file must not send a signal
            // to whatever process has that number now.
            let running = std::fs::File::open(dir.join("master.lock"))
                .map(|f| f.try_lock_shared().is_err())
                .unwrap_or(false);
            let pid = std::fs::read_to_string(dir.join("pid"))
                .ok()
                .filter(|_| running)
                .and_then(|p| p.trim().parse::<i32>().ok());
            match pid {
                // SAFETY: kill with a pid read from the server's own pid file.
                Some(p) if p > 0 && unsafe { libc::kill(p, libc::SIGUSR1) } == 0 => 0,
                _ => {
                    eprintln!(
                        "rmail queue flush: no running rmail serve found (pid file in {})",
                        dir.display()
                    );
                    EX_UNAVAILABLE
                }
            }
        }
    }
}

/// `rmail newaliases`: checks the `alias_maps` files and reports errors (rmail reads the
/// text files directly; there is no database to rebuild).
pub fn newaliases(config: Option<&Path>) -> i32 {
    let loaded = match run::load(config, &[]) {
        Ok(l) => l,
        Err(e) => return start_error("newaliases", e),
    };
    let maps: Vec<String> = loaded
        .config
        .alias_maps
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let report = crate::mda::aliases::check(&maps);
    for d in &report.diagnostics {
        eprintln!("rmail newaliases: {d}");
    }
    println!(
        "rmail newaliases: {} aliases, {} targets in {} file(s)",
        report.aliases,
        report.targets,
        report.files.len()
    );
    if report.has_errors() {
        EX_CONFIG
    } else {
        0
    }
}

/// The sendmail command line as Postfix's sendmail(1) takes it (the subset cron, mailx and
/// scripts use).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SendmailArgs {
    /// `-t`: recipients from To/Cc/Bcc of the message.
    pub from_headers: bool,
    /// `-f SENDER` / `-r SENDER`.
    pub sender: Option<String>,
    /// `-F NAME`: the full name for a From: header that is missing.
    pub full_name: Option<String>,
    /// `-bp`: list the queue (mailq).
    pub list_queue: bool,
    /// `-q`: flush the queue.
    pub flush: bool,
    /// The recipients.
    pub recipients: Vec<String>,
}

/// Parses sendmail's flags: `-t -i -oi -odi -oem -f S -fS -r S -F N -bm -bp -q -v -G -U
/// -L TAG -N DSN -R RET -V ENVID -X LOG --`;
/// other `-o…` options are accepted and ignored, as Postfix does; unknown flags are errors.
pub fn parse_sendmail_args(args: &[String]) -> Result<SendmailArgs, String> {
    let mut a = SendmailArgs::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if arg == "--" {
            a.recipients.extend(it.by_ref().cloned());
            break;
        }
        if !arg.starts_with('-') || arg == "-" {
            a.recipients.push(arg.clone());
            continue;
        }
        let (flag, rest) = arg[1..].split_at(1.min(arg.len() - 1));
        let mut value = |name: &str| -> Result<String, String> {
            if !rest.is_empty() {
                Ok(rest.to_owned())
            } else {
                it.next().cloned().ok_or(format!("-{name} needs a value"))
            }
        };
        match flag {
            "t" if rest.is_empty() => a.from_headers = true,
            "i" if rest.is_empty() => {}
            "v" if rest.is_empty() => {}
            "o" => {} // -oi, -odi, -oem, -oQ…: accepted, no effect here
            "f" | "r" => {
                let v = value(flag)?;
                // `-f '<>'` (or `-f ''`): the null sender.
                let v = v.trim();
                a.sender = Some(if v == "<>" {
                    String::new()
                } else {
                    v.trim_matches(['<', '>']).to_owned()
                });
            }
            "F" => a.full_name = Some(value(flag)?),
            "b" => match rest {
                "m" | "" => {}
                "p" => a.list_queue = true,
                other => return Err(format!("-b{other} is not supported")),
            },
            "q" => a.flush = true,
            // Accepted and ignored, as Postfix does: -G (gateway), -U (initial submission).
            "G" | "U" if rest.is_empty() => {}
            "N" | "R" | "V" | "L" | "X" => {
                let _ = value(flag)?;
            }
            _ => return Err(format!("unknown option {arg}")),
        }
    }
    Ok(a)
}

/// `rmail sendmail ARGS…` / invoked as `sendmail`: reads the message on standard input and
/// submits it to the running server over SMTP on its loopback listener (as a trusted local
/// client), or — when no server answers and this process may write the queue — writes it
/// straight into the queue. Exit 0 when the message is safe, 75 when it could not be handed
/// over (the caller keeps it), 64 for usage errors.
pub fn sendmail(args: &[String]) -> i32 {
    let a = match parse_sendmail_args(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("sendmail: {e}");
            return EX_USAGE;
        }
    };
    if a.list_queue {
        return queue(None, None);
    }
    if a.flush {
        return queue(None, Some(&QueueAction::Flush));
    }
    let mut message = Vec::new();
    if let Err(e) = std::io::stdin().lock().read_to_end(&mut message) {
        eprintln!("sendmail: cannot read the message: {e}");
        return EX_TEMPFAIL;
    }
    let loaded = match run::load(None, &[]) {
        Ok(l) => l,
        Err(e) => return start_error("sendmail", e),
    };
    let c = &loaded.config;
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "root".into());
    let sender = a
        .sender
        .clone()
        .unwrap_or_else(|| format!("{user}@{}", c.myorigin));
    let from_addr = if sender.is_empty() {
        format!("MAILER-DAEMON@{}", c.myhostname)
    } else {
        sender.clone()
    };
    let mut rcpts = a.recipients.clone();
    if a.from_headers {
        rcpts.extend(header_recipients(&message));
    }
    if rcpts.is_empty() {
        eprintln!("sendmail: no recipients specified");
        return EX_USAGE;
    }
    // Bare local names get @myorigin, as Postfix's trivial-rewrite does.
    let rcpts: Vec<String> = rcpts
        .iter()
        .map(|r| {
            if r.contains('@') {
                r.clone()
            } else {
                format!("{r}@{}", c.myorigin)
            }
        })
        .collect();
    let mut message = strip_bcc_when_t(message, a.from_headers);
    // Missing From:, Date: and Message-ID: are added, as Postfix's cleanup(8) does.
    let mut added = String::new();
    if !has_header(&message, "from") {
        added.push_str(&match &a.full_name {
            Some(n) => format!("From: {} <{from_addr}>\n", n.replace(['\r', '\n'], " ")),
            None => format!("From: {from_addr}\n"),
        });
    }
    if !has_header(&message, "date") {
        added.push_str(&format!("Date: {}\n", chrono::Local::now().to_rfc2822()));
    }
    if !has_header(&message, "message-id") {
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        added.push_str(&format!(
            "Message-ID: <{n:x}.{}@{}>\n",
            std::process::id(),
            c.myhostname
        ));
    }
    if !added.is_empty() {
        let mut m = added.into_bytes();
        m.extend_from_slice(&message);
        message = m;
    }
    // 1. The running server, over SMTP on loopback.
    for addr in crate::config::maincf::smtp_addresses(c) {
        let host = if addr.ip().is_unspecified() {
            if addr.is_ipv4() {
                "127.0.0.1".to_owned()
            } else {
                "::1".to_owned()
            }
        } else {
            addr.ip().to_string()
        };
        match submit(&host, addr.port(), &c.myhostname, &sender, &rcpts, &message) {
            Ok(()) => return 0,
            Err(e) if matches!(e, crate::send::client::ClientError::Reply(ref r) if r.code >= 500) =>
            {
                eprintln!("sendmail: {e}");
                return EX_UNAVAILABLE;
            }
            Err(_) => continue,
        }
    }
    // 2. The queue itself, when we may write it — as the queue's owner (mail_owner), so that
    //    the server can read the file later (root would leave a root-only file behind).
    if super::privsep::is_root() {
        use std::os::unix::fs::MetadataExt;
        if let Ok(m) = std::fs::metadata(&c.queue_directory) {
            if m.uid() != 0 && super::privsep::drop_privileges(m.uid(), m.gid()).is_err() {
                eprintln!("sendmail: cannot become the queue's owner");
                return EX_TEMPFAIL;
            }
        }
    }
    if let Ok(q) = crate::queue::Queue::open(&c.queue_directory) {
        let env = crate::message::envelope::Envelope {
            sender: sender.clone(),
            recipients: rcpts.clone(),
        };
        if let Ok(id) = q.enqueue(
            &env,
            &crate::mda::to_lf(&message),
            std::time::SystemTime::now(),
        ) {
            eprintln!("sendmail: queued as {id} (rmail serve is not running; it will deliver when started)");
            return 0;
        }
    }
    eprintln!("sendmail: cannot hand the message over: rmail serve is not running and the queue is not writable");
    EX_TEMPFAIL
}

fn submit(
    host: &str,
    port: u16,
    hello: &str,
    sender: &str,
    rcpts: &[String],
    message: &[u8],
) -> Result<(), crate::send::client::ClientError> {
    use crate::send::client::{Client, ClientError};
    let mut c = Client::connect(host, port, std::time::Duration::from_secs(30), None)?;
    c.hello(hello)?;
    let mut params = Vec::new();
    if !message.is_ascii() && c.extensions.has("8BITMIME") {
        params.push("BODY=8BITMIME");
    }
    c.mail(sender, &params)?;
    for r in rcpts {
        let reply = c.rcpt(r)?;
        if reply.code != 250 && reply.code != 251 {
            return Err(ClientError::Reply(reply));
        }
    }
    c.data(message)?;
    c.quit();
    Ok(())
}

fn header_end(m: &[u8]) -> usize {
    let mut i = 0;
    while i < m.len() {
        let end = memchr::memchr(b'\n', &m[i..]).map_or(m.len(), |e| i + e + 1);
        let line = &m[i..end];
        if line == b"\n" || line == b"\r\n" {
            return i;
        }
        i = end;
    }
    m.len()
}

fn has_header(m: &[u8], name: &str) -> bool {
    let head = &m[..header_end(m)];
    crate::message::header::split_fields(head)
        .iter()
        .any(|f| f.name.eq_ignore_ascii_case(name))
}

/// To/Cc/Bcc addresses of the message header (`sendmail -t`).
fn header_recipients(m: &[u8]) -> Vec<String> {
    let head = &m[..header_end(m)];
    let mut out = Vec::new();
    for f in crate::message::header::split_fields(head) {
        if ["to", "cc", "bcc"]
            .iter()
            .any(|n| f.name.eq_ignore_ascii_case(n))
        {
            for a in crate::message::address::parse_list(&f.value) {
                if !a.addr.is_empty() {
                    out.push(a.addr);
                }
            }
        }
    }
    out
}

/// With `-t`, the Bcc: header is removed before the message goes out (sendmail(8)).
fn strip_bcc_when_t(m: Vec<u8>, t: bool) -> Vec<u8> {
    if !t {
        return m;
    }
    let end = header_end(&m);
    let mut out = Vec::with_capacity(m.len());
    let mut skipping = false;
    let mut i = 0;
    while i < end {
        let e = memchr::memchr(b'\n', &m[i..end]).map_or(end, |x| i + x + 1);
        let line = &m[i..e];
        let cont = line.first().is_some_and(|b| *b == b' ' || *b == b'\t');
        if !cont {
            skipping = line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"bcc:");
        }
        if !skipping {
            out.extend_from_slice(line);
        }
        i = e;
    }
    out.extend_from_slice(&m[end..]);
    out
}

/// `rmail deliver --batch USER`: the per-user delivery worker the privileged master starts
/// as USER. Refuses to run as root unless USER is root.
pub fn deliver_batch(user: &str, mailbox: Option<&Path>, size_limit: u64) -> i32 {
    let me = rustix::process::geteuid().as_raw();
    let Some((uid, _, _)) = super::privsep::account(user) else {
        eprintln!("rmail deliver: no such user {user}");
        return EX_NOUSER;
    };
    if uid != me {
        eprintln!("rmail deliver: {user} is not the user running this; refusing");
        return EX_NOPERM;
    }
    let mailbox = mailbox
        .map(Path::to_path_buf)
        .unwrap_or_else(|| crate::mda::mailbox_of(user));
    let r = if mailbox.to_string_lossy().ends_with('/') {
        maildir_worker(&mailbox)
    } else {
        crate::mda::batch::run_batch_worker(
            std::io::stdin().lock(),
            std::io::stdout().lock(),
            &mailbox,
            size_limit,
        )
    };
    match r {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("rmail deliver: {e}");
            EX_TEMPFAIL
        }
    }
}

/// The batch protocol for a Maildir: each frame's mbox entry is written as one file (the
/// `From_` line dropped).
fn maildir_worker(dir: &Path) -> std::io::Result<()> {
    use crate::mda::batch::{encode_ack, DeliveryError, FrameDecoder, MAX_FRAME};
    use std::io::Write;
    let mut input = std::io::stdin().lock();
    let mut out = std::io::stdout().lock();
    let mut dec = FrameDecoder::new(MAX_FRAME);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        dec.feed(&buf[..n]);
        while let Some(frame) = dec
            .next_frame()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?
        {
            let body = match memchr::memchr(b'\n', &frame) {
                Some(i) if frame.starts_with(b"From ") => &frame[i + 1..],
                _ => &frame[..],
            };
            let r = crate::mda::maildir::deliver_to_maildir(dir, body)
                .map(drop)
                .map_err(|e| DeliveryError::from_store(&e));
            out.write_all(&encode_ack(&r))?;
        }
        out.flush()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn sendmail_flags() {
        let a = parse_sendmail_args(&args(&["-oi", "-f", "me@x", "-t", "--", "-odd@x"])).unwrap();
        assert_eq!(a.sender.as_deref(), Some("me@x"));
        assert!(a.from_headers);
        assert_eq!(a.recipients, ["-odd@x"]);
        let a = parse_sendmail_args(&args(&["-fme@x", "-FMe Myself", "bob"])).unwrap();
        assert_eq!(a.sender.as_deref(), Some("me@x"));
        assert_eq!(a.full_name.as_deref(), Some("Me Myself"));
        assert_eq!(a.recipients, ["bob"]);
        assert!(parse_sendmail_args(&args(&["-X"])).is_err());
        assert!(parse_sendmail_args(&args(&["-f"])).is_err());
        assert!(parse_sendmail_args(&args(&["-bp"])).unwrap().list_queue);
        // The null sender, and the flags Postfix accepts and ignores.
        let a = parse_sendmail_args(&args(&["-f", "<>", "-G", "-U", "-L", "tag", "x@y"])).unwrap();
        assert_eq!(a.sender.as_deref(), Some(""));
        assert_eq!(a.recipients, ["x@y"]);
    }

    #[test]
    fn bcc_removed_with_t() {
        let m = b"To: a@x\nBcc: hidden@x,\n  more@x\nSubject: s\n\nBcc: body line\n".to_vec();
        let out = strip_bcc_when_t(m.clone(), true);
        assert_eq!(out, b"To: a@x\nSubject: s\n\nBcc: body line\n");
        assert_eq!(header_recipients(&m), ["a@x", "hidden@x", "more@x"]);
        assert_eq!(strip_bcc_when_t(m.clone(), false), m);
    }
}
