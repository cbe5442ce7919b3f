//! `rmail serve` start-up and shutdown: configuration (file, `-o` overrides, or the
//! embedded default), directories, the TLS identity, binding the listeners, the privilege
//! split ([`super::privsep`]), the tokio runtime with one accept loop per listener and the
//! queue runner, and a clean stop on SIGTERM/SIGINT (sessions get `421`, in-flight
//! deliveries finish, the queue stays on disk).

use std::net::SocketAddr;
use std::os::fd::FromRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::config::maincf::{self, Config, Service, SmtpdTlsLevel, UserDatabase};
use crate::mda::users::UserBase;
use crate::proto::smtp::{Listener, Params};

use super::deliver::{Delivery, DeliveryConfig};
use super::log;
use super::privsep::{self, MasterConfig, MasterLink};
use super::relay::RelayConfig;
use super::route::{RouteConfig, Router};
use super::runner::RunnerConfig;
use super::smtpd::{AuthBackend, SmtpShared};

/// What a listening socket serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// SMTP on port 25, 587 or 465.
    Smtp(Listener),
    /// POP3 (110), or POP3S with implicit TLS (995).
    Pop3 {
        /// TLS from the first byte.
        implicit: bool,
    },
    /// IMAP (143), or IMAPS with implicit TLS (993).
    Imap {
        /// TLS from the first byte.
        implicit: bool,
    },
}

impl Proto {
    fn name(self) -> &'static str {
        match self {
            Proto::Smtp(Listener::Smtp) => "smtp",
            Proto::Smtp(Listener::Submission) => "submission",
            Proto::Smtp(Listener::Submissions) => "submissions",
            Proto::Pop3 { implicit: false } => "pop3",
            Proto::Pop3 { implicit: true } => "pop3s",
            Proto::Imap { implicit: false } => "imap",
            Proto::Imap { implicit: true } => "imaps",
        }
    }

    fn implicit_tls(self) -> bool {
        matches!(
            self,
            Proto::Smtp(Listener::Submissions)
                | Proto::Pop3 { implicit: true }
                | Proto::Imap { implicit: true }
        )
    }
}

/// A loaded configuration and where it came from.
pub struct Loaded {
    /// The settings.
    pub config: Config,
    /// The file, or `None` for the embedded default.
    pub file: Option<PathBuf>,
}

/// Why start-up failed; the caller prints it and exits with [`super::cmd::EX_CONFIG`] (or
/// 71, `EX_OSERR`, for system trouble).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration is unusable.
    #[error("{0}")]
    Config(String),
    /// The system refused something (bind, fork, setuid, directories).
    #[error("{0}")]
    System(String),
}

/// The XDG data directory of the embedded default: `$XDG_DATA_HOME/rmail`, else
/// `~/.local/share/rmail`.
pub fn default_data_dir() -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from(".local/share"))
        .join("rmail")
}

/// Loads the configuration: `path` (or `$RMAIL_CONFIG`, or `/etc/rmail/main.cf` when it
/// exists), else — not root only — the embedded default; then the `-o` overrides. Warnings
/// go to standard error.
pub fn load(path: Option<&Path>, overrides: &[String]) -> Result<Loaded, StartError> {
    let default = maincf::default_path();
    let (config, file) = match path {
        Some(p) => (read(p)?, Some(p.to_owned())),
        None if default.exists() => (read(&default)?, Some(default)),
        None if privsep::is_root() => {
            return Err(StartError::Config(format!(
                "no configuration: {} does not exist (as root rmail serve needs one; see rmail-serve(1))",
                default.display()
            )))
        }
        None => (
            maincf::embedded_default(&default_data_dir())
                .map_err(|e| StartError::Config(e.to_string()))?,
            None,
        ),
    };
    let (config, warnings) = config
        .with_overrides(overrides)
        .map_err(|e| StartError::Config(e.to_string()))?;
    for w in warnings {
        eprintln!("rmail: {w}");
    }
    Ok(Loaded { config, file })
}

fn read(p: &Path) -> Result<Config, StartError> {
    // Warnings of the file itself come back again from `with_overrides`.
    maincf::load(p)
        .map(|(c, _)| c)
        .map_err(|e| StartError::Config(e.to_string()))
}

/// The user base the configuration names.
pub fn user_base(c: &Config) -> UserBase {
    match &c.user_database {
        UserDatabase::System => UserBase::System,
        UserDatabase::File(p) => UserBase::File(p.clone()),
    }
}

/// The router from the configuration (aliases loaded now; their diagnostics logged).
pub fn router(c: &Config) -> Router {
    let maps: Vec<String> = c
        .alias_maps
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let (aliases, diags) = crate::mda::aliases::load(&maps);
    for d in diags {
        if d.severity == crate::mda::aliases::Severity::Error {
            log::warn("local", &d.to_string());
        }
    }
    Router::new(
        RouteConfig {
            local_domains: lower(&c.mydestination),
            relay_domains: lower(&c.relay_domains),
            recipient_delimiter: c.recipient_delimiter.clone(),
        },
        aliases,
        user_base(c),
    )
}

fn lower(v: &[String]) -> Vec<String> {
    v.iter()
        .map(|d| d.trim_end_matches('.').to_ascii_lowercase())
        .collect()
}

/// Binds a listening TCP socket the way a server must: `SO_REUSEADDR`, `IPV6_V6ONLY` for
/// IPv6 (so `0.0.0.0:p` and `[::]:p` can both be bound), backlog 1024, close-on-exec.
pub fn bind(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let domain = if addr.is_ipv6() {
        libc::AF_INET6
    } else {
        libc::AF_INET
    };
    // SAFETY: plain socket calls; the fd is owned by the TcpListener on success and closed
    // on every error path.
    unsafe {
        let fd = libc::socket(domain, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let l = std::net::TcpListener::from_raw_fd(fd);
        let one: libc::c_int = 1;
        let set = |level, name| {
            libc::setsockopt(
                fd,
                level,
                name,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        set(libc::SOL_SOCKET, libc::SO_REUSEADDR);
        if addr.is_ipv6() {
            set(libc::IPPROTO_IPV6, libc::IPV6_V6ONLY);
        }
        let (storage, len) = sockaddr(addr);
        if libc::bind(fd, (&storage as *const libc::sockaddr_storage).cast(), len) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if libc::listen(fd, 1024) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(l)
    }
}

fn sockaddr(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: zeroed sockaddr_storage is valid; we fill the variant for the family.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_in fits in sockaddr_storage.
            unsafe { std::ptr::write((&mut ss as *mut libc::sockaddr_storage).cast(), sin) };
            (
                ss,
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: sockaddr_in6 fits in sockaddr_storage.
            unsafe { std::ptr::write((&mut ss as *mut libc::sockaddr_storage).cast(), sin6) };
            (
                ss,
                std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            )
        }
    }
}

/// Creates `dir` (and parents) with `mode`, owned by `owner` when running as root.
fn make_dir(dir: &Path, mode: u32, owner: Option<(u32, u32)>) -> Result<(), StartError> {
    use std::os::unix::fs::PermissionsExt;
    let err =
        |e: std::io::Error| StartError::System(format!("cannot create {}: {e}", dir.display()));
    if !dir.exists() {
        std::fs::create_dir_all(dir).map_err(err)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)).map_err(err)?;
    }
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(dir, Some(uid), Some(gid)).map_err(err)?;
    }
    Ok(())
}

/// Runs the server until SIGTERM/SIGINT. Returns the exit status.
pub fn serve(loaded: Loaded, daemon: bool) -> Result<(), StartError> {
    let c = &loaded.config;
    let root = privsep::is_root();
    let nofile = privsep::raise_nofile();
    // Password hashes (argon2id, yescrypt) take ~19 MiB each while they run; glibc keeps
    // freed heap in per-thread arenas, so a few hundred logins would pin gigabytes. Large
    // blocks from mmap go back to the system at once.
    // SAFETY: mallopt before any thread exists; it only tunes the allocator.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
    // mail_owner: who runs everything that parses network input.
    let owner = if root {
        let (uid, gid, _) = privsep::account(&c.mail_owner).ok_or_else(|| {
            StartError::Config(format!("mail_owner = {}: no such user", c.mail_owner))
        })?;
        if uid == 0 {
            log::warn(
                "master",
                "mail_owner = root: the network-facing process keeps root (acceptable only for throw-away test trees)",
            );
        }
        Some((uid, gid))
    } else {
        None
    };
    // Directories: queue and data belong to mail_owner; the spool must exist.
    make_dir(&c.data_directory, 0o755, owner)?;
    make_dir(&c.queue_directory, 0o700, owner)?;
    // One server per queue (as Postfix's master.lock): held for the life of the process
    // (and its child, which inherits it).
    let lock = queue_lock(&c.queue_directory, owner)?;
    if loaded.file.is_none() {
        make_dir(&c.mail_spool_directory, 0o700, None)?;
    }
    if !c.mail_spool_directory.is_dir() {
        return Err(StartError::Config(format!(
            "mail_spool_directory = {}: not a directory",
            c.mail_spool_directory.display()
        )));
    }
    if let Some((uid, gid)) = owner {
        check_owner_access(c, uid, gid)?;
    }
    // TLS: the embedded default makes its own certificate.
    if loaded.file.is_none() {
        if let (Some(cert), Some(key)) = (&c.smtpd_tls_cert_file, &c.smtpd_tls_key_file) {
            let names = vec![
                c.myhostname.clone(),
                "localhost".to_owned(),
                "127.0.0.1".to_owned(),
            ];
            if super::tls::ensure_self_signed(cert, key, &names)
                .map_err(|e| StartError::System(e.to_string()))?
            {
                log::info(
                    "master",
                    &format!("generated a self-signed certificate: {}", cert.display()),
                );
            }
        }
    }
    let tls = match (&c.smtpd_tls_cert_file, &c.smtpd_tls_key_file) {
        (Some(cert), Some(key)) if c.smtpd_tls_security_level != SmtpdTlsLevel::None => {
            Some(super::tls::acceptor(cert, key).map_err(|e| StartError::Config(e.to_string()))?)
        }
        (Some(cert), None) if c.smtpd_tls_security_level != SmtpdTlsLevel::None => {
            Some(super::tls::acceptor(cert, cert).map_err(|e| StartError::Config(e.to_string()))?)
        }
        _ => None,
    };
    // Bind while still root.
    let mut listeners = Vec::new();
    for (service, addr) in c.listeners.iter() {
        let kind = match service {
            Service::Smtp => Proto::Smtp(Listener::Smtp),
            Service::Submission => Proto::Smtp(Listener::Submission),
            Service::Submissions => Proto::Smtp(Listener::Submissions),
            Service::Pop3 => Proto::Pop3 { implicit: false },
            Service::Pop3s => Proto::Pop3 { implicit: true },
            Service::Imap => Proto::Imap { implicit: false },
            Service::Imaps => Proto::Imap { implicit: true },
        };
        if kind.implicit_tls() && tls.is_none() {
            continue;
        }
        let l =
            bind(addr).map_err(|e| StartError::System(format!("cannot listen on {addr}: {e}")))?;
        // Port 0 (tests): the kernel's choice is what counts.
        let addr = l.local_addr().unwrap_or(addr);
        listeners.push((kind, addr, l));
    }
    if listeners.is_empty() {
        return Err(StartError::Config("no listener configured".into()));
    }
    if daemon {
        daemonize()?;
        log::use_syslog();
    }
    if loaded.file.is_none() {
        print_first_start(c, &listeners, tls.is_some());
    }
    let mut record = String::new();
    for (kind, addr, _) in &listeners {
        log::info("master", &format!("listening: {} {addr}", kind.name()));
        record.push_str(&format!("{} {addr}\n", kind.name()));
    }
    // Where this server really listens (port 0 included), for `rmail sendmail` and
    // `mta=local` to find it.
    let _ = std::fs::write(maincf::listening_file(c), record);
    log::info(
        "master",
        &format!(
            "daemon started -- version {}, configuration {}{}",
            env!("CARGO_PKG_VERSION"),
            loaded
                .file
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "built-in defaults".into()),
            if nofile > 0 {
                format!(", {nofile} file descriptors")
            } else {
                String::new()
            }
        ),
    );

    if let Some((uid, gid)) = owner {
        // The privilege split: the parent keeps root for per-user delivery.
        let (parent_end, child_end) = std::os::unix::net::UnixStream::pair()
            .map_err(|e| StartError::System(format!("cannot create a socket pair: {e}")))?;
        // A second channel for per-user POP3/IMAP session processes (descriptor passing).
        let (sessions_parent, sessions_child) = std::os::unix::net::UnixStream::pair()
            .map_err(|e| StartError::System(format!("cannot create a socket pair: {e}")))?;
        // SAFETY: getpid cannot fail.
        let master_pid = unsafe { libc::getpid() };
        // SAFETY: no threads exist yet (no runtime has been built); fork is safe here.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(StartError::System(format!(
                "cannot fork: {}",
                std::io::Error::last_os_error()
            )));
        }
        if pid > 0 {
            drop(child_end);
            drop(sessions_child);
            drop(listeners);
            let mcfg = MasterConfig {
                exe: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/proc/self/exe")),
                spool_dir: c.mail_spool_directory.clone(),
                home_mailbox: match &c.home_mailbox {
                    maincf::HomeMailbox::Spool => String::new(),
                    maincf::HomeMailbox::Mbox(p) => p.display().to_string(),
                    maincf::HomeMailbox::Maildir(p) => format!("{}/", p.display()),
                },
                size_limit: c.mailbox_size_limit,
                users: user_base(c),
                local_domains: lower(&c.mydestination),
                config_file: loaded.file.clone(),
            };
            let scfg = mcfg.clone();
            std::thread::spawn(move || privsep::serve_sessions(sessions_parent, scfg));
            forward_signals_to(pid);
            let r = privsep::run_master(parent_end, mcfg);
            let mut status = 0;
            // SAFETY: waitpid on our own child.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            drop(lock);
            r.map_err(|e| StartError::System(format!("master: {e}")))?;
            if libc::WIFSIGNALED(status)
                && !matches!(libc::WTERMSIG(status), libc::SIGTERM | libc::SIGINT)
            {
                return Err(StartError::System(format!(
                    "the server process {pid} was killed by signal {}",
                    libc::WTERMSIG(status)
                )));
            }
            if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) != 0 {
                return Err(StartError::System(format!(
                    "the server process {pid} exited with status {}",
                    libc::WEXITSTATUS(status)
                )));
            }
            log::info("master", "terminating on signal");
            return Ok(());
        }
        drop(parent_end);
        drop(sessions_parent);
        if uid != 0 {
            privsep::drop_privileges(uid, gid)
                .map_err(|e| StartError::System(format!("cannot drop privileges: {e}")))?;
            // root's $HOME and XDG directories are not ours any more (the store keeps
            // private recovery files there): use the data directory.
            // SAFETY (set_var): still single-threaded, before the runtime starts.
            std::env::set_var("HOME", &c.data_directory);
            for v in [
                "XDG_STATE_HOME",
                "XDG_DATA_HOME",
                "XDG_CONFIG_HOME",
                "XDG_CACHE_HOME",
            ] {
                std::env::remove_var(v);
            }
        }
        // The master keeps root's part of the work: without it this process must not go on
        // serving (and holding the queue), as Postfix's children end with their master.
        // Set after the uid change, which clears it (credentials(7)); a master gone before
        // that is seen by the parent check.
        // SAFETY: prctl and getppid are plain system calls.
        unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            if libc::getppid() != master_pid {
                std::process::exit(1);
            }
        }
        let r = run_child(c, listeners, tls, Some((child_end, sessions_child)));
        // The child must never return into main's code paths as if it were the master.
        if let Err(e) = &r {
            log::error("master", &format!("fatal: {e}"));
        }
        std::process::exit(if r.is_ok() { 0 } else { 1 });
    }
    let r = run_child(c, listeners, tls, None);
    drop(lock);
    r
}

/// `queue_directory/master.lock`, locked exclusively (flock): a second server on the same
/// queue is refused. The lock file also holds the server's PID for `rmail queue flush`.
fn queue_lock(dir: &Path, owner: Option<(u32, u32)>) -> Result<std::fs::File, StartError> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join("master.lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o644)
        .open(&path)
        .map_err(|e| StartError::System(format!("cannot open {}: {e}", path.display())))?;
    if f.try_lock().is_err() {
        return Err(StartError::Config(format!(
            "another rmail serve is running with queue_directory = {} (locked: {})",
            dir.display(),
            path.display()
        )));
    }
    if let Some((uid, gid)) = owner {
        let _ = std::os::unix::fs::fchown(&f, Some(uid), Some(gid));
    }
    Ok(f)
}

/// As root: what the process running as `mail_owner` must reach. rmail's own user file is
/// handed to mail_owner (it reads it for AUTH); a spool virtual users' mail is written into
/// must be writable by mail_owner — else a clear error now rather than `451` for every
/// message later.
fn check_owner_access(c: &Config, uid: u32, gid: u32) -> Result<(), StartError> {
    use std::os::unix::fs::MetadataExt;
    let can = |m: &std::fs::Metadata, bits: u32| {
        uid == 0
            || (m.uid() == uid && m.mode() & (bits << 6) == bits << 6)
            || (m.gid() == gid && m.mode() & (bits << 3) == bits << 3)
            || m.mode() & bits == bits
    };
    if let UserDatabase::File(p) = &c.user_database {
        match std::fs::metadata(p) {
            Ok(m) if !can(&m, 0o4) => {
                std::os::unix::fs::chown(p, Some(uid), Some(gid)).map_err(|e| {
                    StartError::System(format!("cannot give {} to mail_owner: {e}", p.display()))
                })?;
                log::info(
                    "master",
                    &format!("{}: now owned by mail_owner {}", p.display(), c.mail_owner),
                );
            }
            Ok(_) => {}
            Err(_) => log::warn(
                "master",
                &format!(
                    "{}: no users yet (add them with rmail users add NAME)",
                    p.display()
                ),
            ),
        }
        let spool = &c.mail_spool_directory;
        let m = std::fs::metadata(spool)
            .map_err(|e| StartError::System(format!("{}: {e}", spool.display())))?;
        if !can(&m, 0o3) {
            return Err(StartError::Config(format!(
                "mail_spool_directory = {}: not writable by mail_owner {} (virtual users' mailboxes are written as mail_owner: chown it to {} or give its group write access)",
                spool.display(),
                c.mail_owner,
                c.mail_owner
            )));
        }
    }
    Ok(())
}

/// SIGTERM/SIGINT to the master are passed on to the child, which shuts down; the master
/// then sees the link close.
fn forward_signals_to(child: libc::pid_t) {
    static CHILD: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);
    extern "C" fn forward(sig: libc::c_int) {
        let pid = CHILD.load(std::sync::atomic::Ordering::SeqCst);
        if pid > 0 {
            // SAFETY: kill is async-signal-safe.
            unsafe { libc::kill(pid, sig) };
        }
    }
    CHILD.store(child, std::sync::atomic::Ordering::SeqCst);
    for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGUSR1] {
        // SAFETY: installing an async-signal-safe handler.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = forward as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut sa.sa_mask);
            sa.sa_flags = libc::SA_RESTART;
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

fn daemonize() -> Result<(), StartError> {
    // SAFETY: fork/setsid/dup2 before any thread exists.
    unsafe {
        match libc::fork() {
            -1 => return Err(StartError::System("cannot fork".into())),
            0 => {}
            _ => libc::_exit(0),
        }
        libc::setsid();
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            libc::dup2(null, 0);
            libc::dup2(null, 1);
            libc::dup2(null, 2);
            if null > 2 {
                libc::close(null);
            }
        }
    }
    Ok(())
}

fn print_first_start(
    c: &Config,
    listeners: &[(Proto, SocketAddr, std::net::TcpListener)],
    tls: bool,
) {
    let smtp = listeners
        .iter()
        .find(|(k, _, _)| *k == Proto::Smtp(Listener::Smtp))
        .map(|(_, a, _)| a.to_string())
        .unwrap_or_default();
    let user = std::env::var("USER").unwrap_or_else(|_| "you".into());
    let mut list = String::new();
    for (k, a, _) in listeners {
        list.push_str(&format!(" {}={a}", k.name()));
    }
    eprintln!(
        "rmail serve: no configuration file, running the built-in default (not root):\n  \
         listening:{list}{}\n  spool:  {}\n  queue:  {}\n  {}\n  \
         try:    echo hi | rmail -S mta=smtp://{smtp} -s test {user}@localhost\n  \
         read:   rmail -f {}/{user}\n  \
         auth:   loopback clients may send without AUTH; logging in to 2587/2465 checks system passwords, which needs root\n  \
         settings: rmail serve --print-config; a real setup: /etc/rmail/main.cf (Postfix keys)",
        if tls { " (STARTTLS on, self-signed)" } else { "" },
        c.mail_spool_directory.display(),
        c.queue_directory.display(),
        c.smtpd_tls_cert_file
            .as_ref()
            .map(|p| format!("cert:   {}", p.display()))
            .unwrap_or_default(),
        c.mail_spool_directory.display(),
    );
}

/// Everything that parses network input: the runtime, the accept loops and the runner.
fn run_child(
    c: &Config,
    listeners: Vec<(Proto, SocketAddr, std::net::TcpListener)>,
    tls: Option<tokio_native_tls::TlsAcceptor>,
    master: Option<(
        std::os::unix::net::UnixStream,
        std::os::unix::net::UnixStream,
    )>,
) -> Result<(), StartError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| StartError::System(format!("cannot start the runtime: {e}")))?;
    rt.block_on(async move {
        let (link, sessions) = match master {
            Some((s, sessions)) => (
                Some(
                    MasterLink::start(s)
                        .map_err(|e| StartError::System(format!("master link: {e}")))?,
                ),
                Some(Arc::new(privsep::SessionSpawner::new(sessions))),
            ),
            None => (None, None),
        };
        let router_check = router(c);
        if router_check.check("postmaster", true, false).is_err() {
            log::warn(
                "master",
                "postmaster has no mailbox: RFC 5321 requires it; add \"postmaster: USER\" to alias_maps",
            );
        }
        drop(router_check);
        let queue = crate::queue::Queue::open(&c.queue_directory)
            .map_err(|e| StartError::System(format!("cannot open the queue: {e}")))?;
        // System users go through the master when there is one; virtual ones never do.
        let system_users = matches!(c.user_database, UserDatabase::System);
        let delivery = Arc::new(Delivery::new(
            router(c),
            queue,
            DeliveryConfig {
                hostname: c.myhostname.clone(),
                spool_dir: c.mail_spool_directory.clone(),
                home_mailbox: c.home_mailbox.clone(),
                virtual_base: c.virtual_mailbox_base.clone(),
                size_limit: c.mailbox_size_limit,
            },
            if system_users { link.clone() } else { None },
        ));
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut base = Params::new(&c.myhostname);
        base.banner = c.smtpd_banner.clone();
        base.auth_enabled = c.smtpd_sasl_auth_enable;
        base.auth_requires_tls = c.smtpd_tls_auth_only;
        base.tls_required = c.smtpd_tls_security_level == SmtpdTlsLevel::Encrypt;
        base.message_size_limit = c.message_size_limit;
        base.recipient_limit = c.smtpd_recipient_limit as usize;
        base.hard_error_limit = c.smtpd_hard_error_limit;
        let auth = match (&link, system_users) {
            (Some(l), true) => AuthBackend::Master(l.clone()),
            _ => AuthBackend::Local {
                users: user_base(c),
                local_domains: lower(&c.mydestination),
            },
        };
        let pop3 = Arc::new(super::pop3d::Pop3Shared {
            delivery: delivery.clone(),
            tls: tls.clone(),
            auth: auth.clone(),
            disable_plaintext_auth: c.disable_plaintext_auth,
            index_dir: c.data_directory.join("index"),
            timeout: Duration::from_secs(600),
            shutdown: stop_rx.clone(),
            sessions: sessions.clone(),
        });
        let imap = Arc::new(super::imapd::ImapShared {
            delivery: delivery.clone(),
            tls: tls.clone(),
            auth: auth.clone(),
            disable_plaintext_auth: c.disable_plaintext_auth,
            index_dir: c.data_directory.join("index"),
            virtual_base: c.virtual_mailbox_base.clone(),
            timeout: Duration::from_secs(30 * 60),
            shutdown: stop_rx.clone(),
            sessions: sessions.clone(),
            append_limit: c.message_size_limit,
        });
        let shared = Arc::new(SmtpShared::new(
            delivery.clone(),
            base,
            tls,
            c.mynetworks.clone(),
            c.smtpd_timeout,
            c.smtpd_greet_pause,
            c.smtpd_client_connection_count_limit,
            auth,
            stop_rx.clone(),
        ));
        let tracker = Arc::new(tokio::sync::Semaphore::new(0));
        let live = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        for (kind, addr, l) in listeners {
            l.set_nonblocking(true)
                .map_err(|e| StartError::System(format!("{addr}: {e}")))?;
            let l = tokio::net::TcpListener::from_std(l)
                .map_err(|e| StartError::System(format!("{addr}: {e}")))?;
            let (shared, pop3, imap, mut stop, live, tracker) = (
                shared.clone(),
                pop3.clone(),
                imap.clone(),
                stop_rx.clone(),
                live.clone(),
                tracker.clone(),
            );
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        r = l.accept() => match r {
                            Ok((tcp, peer)) => {
                                let (shared, pop3, imap, live, tracker) = (shared.clone(), pop3.clone(), imap.clone(), live.clone(), tracker.clone());
                                live.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                                tokio::spawn(async move {
                                    match kind {
                                        Proto::Smtp(l) => super::smtpd::handle(tcp, peer, l, shared).await,
                                        Proto::Pop3 { implicit } => super::pop3d::handle(tcp, peer, implicit, pop3).await,
                                        Proto::Imap { implicit } => super::imapd::handle(tcp, peer, implicit, imap).await,
                                    }
                                    live.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                                    tracker.add_permits(1);
                                });
                            }
                            Err(e) => {
                                log::warn("smtpd", &format!("accept on {addr}: {e}"));
                                tokio::time::sleep(Duration::from_millis(100)).await;
                            }
                        },
                        _ = stop.changed() => return,
                    }
                }
            });
        }
        let runner_cfg = RunnerConfig {
            run_delay: c.queue_run_delay,
            min_backoff: c.minimal_backoff_time,
            max_backoff: c.maximal_backoff_time,
            lifetime: c.maximal_queue_lifetime,
            bounce_lifetime: c.bounce_queue_lifetime,
            relay: RelayConfig {
                relayhost: c.relayhost.clone(),
                hello: c.myhostname.clone(),
                tls_level: c.smtp_tls_security_level,
                wrapper: c.smtp_tls_wrappermode,
                sasl: match (&c.relayhost, &c.smtp_sasl_password_maps, c.smtp_sasl_auth_enable) {
                    (Some(r), Some(map), true) => super::relay::password_for(map, r),
                    _ => None,
                },
                ca_pem: c.smtp_tls_ca_file.as_ref().and_then(|p| std::fs::read(p).ok()),
                timeout: Duration::from_secs(30),
            },
        };
        let runner = tokio::spawn(super::runner::run(delivery.clone(), runner_cfg, stop_rx.clone()));
        write_pid(&c.queue_directory);
        // Wait for the end.
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| StartError::System(e.to_string()))?;
        let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
            .map_err(|e| StartError::System(e.to_string()))?;
        let mut usr1 = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1())
            .map_err(|e| StartError::System(e.to_string()))?;
        loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = int.recv() => break,
                _ = usr1.recv() => {
                    super::runner::request_flush();
                    delivery.kick.notify_one();
                }
            }
        }
        let _ = stop_tx.send(true);
        // In-flight sessions got 421 at their next read; wait (bounded) for deliveries.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while live.load(std::sync::atomic::Ordering::SeqCst) > 0
            && tokio::time::Instant::now() < deadline
        {
            let _ = tokio::time::timeout(Duration::from_millis(50), tracker.acquire()).await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), runner).await;
        let _ = std::fs::remove_file(c.queue_directory.join("pid"));
        let _ = std::fs::remove_file(maincf::listening_file(c));
        log::info(
            "master",
            &format!("terminating on signal ({} mailbox commits in this run)", delivery.commits()),
        );
        Ok(())
    })
}

/// `queue_directory/pid`: the process `rmail queue flush` signals (SIGUSR1) — only while
/// `master.lock` is held (see [`queue_lock`]).
fn write_pid(dir: &Path) {
    let _ = std::fs::write(dir.join("pid"), format!("{}\n", std::process::id()));
}
