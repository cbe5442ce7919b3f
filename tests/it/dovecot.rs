//! A throw-away Dovecot (Debian's `dovecot-imapd` and `dovecot-pop3d`) for the remote-folder
//! tests of issue 6: one instance per test, its own `dovecot.conf`, `base_dir`, `state_dir`,
//! log, index and mail under a temp dir, listening on 127.0.0.1 only, on four free ephemeral
//! ports (IMAP, IMAPS, POP3, POP3S; STARTTLS/STLS offered on the cleartext ones), with a
//! self-signed certificate for `localhost`/`127.0.0.1` ([`crate::serve::make_cert`]) and one
//! passwd-file user, [`Dovecot::USER`] / [`Dovecot::PASS`], whose INBOX is an mbox file
//! (`home/inbox`, the layout of our users' spools; other folders are mbox files under
//! `home/mail/`).
//!
//! Privileges:
//! - as an ordinary user everything runs as that user: `default_internal_user`,
//!   `default_login_user` and the mail user are the current user, and no service chroots
//!   (`chroot =` for the login services and anvil);
//! - as root Dovecot refuses root for the login processes and for mail (UID 0 is invalid in
//!   a passwd-file), so the login processes run as `dovenull`, the internal ones as `dovecot`
//!   (Debian's package users; `nobody` when missing) and the mail as `nobody`: the temp dir
//!   lives in /tmp, is made traversable (0711) and `home/` and `index/` are given to `nobody`.
//!
//! The master runs in the foreground (`dovecot -F`) as a child of the test, with
//! `PR_SET_PDEATHSIG` so that it dies with the test thread that started it; it is stopped
//! (SIGTERM, then SIGKILL) and the tree removed on drop. When `dovecot` is not installed,
//! [`Dovecot::start`] prints a skip message and returns `None`, or panics with
//! `RMAIL_REQUIRE_PEERS=1` ([`crate::util::require_peer`]).
//!
//! The server's state is read back and changed with Python's `imaplib` over the loopback
//! cleartext port (plaintext LOGIN is allowed: `disable_plaintext_auth = no`).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::serve::{make_cert, peers, python};
use crate::util::require_peer;

/// One message as the server has it (from `UID FETCH (UID FLAGS RFC822.SIZE …)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerMsg {
    pub uid: u32,
    /// Flags and keywords as the server reports them, e.g. `\Seen`, `$Forwarded`.
    pub flags: Vec<String>,
    /// RFC822.SIZE in octets (CRLF line ends, as the server counts them).
    pub size: u64,
    /// The Message-ID header's value ("" when absent), unfolded.
    pub message_id: String,
    /// The Subject header's raw value ("" when absent), unfolded, not decoded.
    pub subject: String,
}

/// A mailbox as the server has it: UIDVALIDITY, UIDNEXT and its messages in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxState {
    pub uidvalidity: u32,
    pub uidnext: u32,
    pub messages: Vec<ServerMsg>,
}

/// A running throw-away Dovecot; stopped and removed on drop.
pub struct Dovecot {
    child: Option<Child>,
    /// The tree: dovecot.conf, passwd, cert.pem/key.pem, run/, state/, home/, index/, log.
    pub dir: PathBuf,
    _tmp: tempfile::TempDir,
    /// Cleartext IMAP (STARTTLS offered).
    pub imap: u16,
    /// IMAP over TLS.
    pub imaps: u16,
    /// Cleartext POP3 (STLS offered).
    pub pop3: u16,
    /// POP3 over TLS.
    pub pop3s: u16,
    greeting: String,
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether the tests run as root.
fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// (name, uid, gid) of the first /etc/passwd entry matching `pick`.
fn passwd_entry(pick: impl Fn(&str, u32) -> bool) -> Option<(String, u32, u32)> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        let (uid, gid) = (f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?);
        pick(f[0], uid).then(|| (f[0].to_owned(), uid, gid))
    })
}

/// The name of group `gid` from /etc/group.
fn group_name(gid: u32) -> Option<String> {
    let text = std::fs::read_to_string("/etc/group").ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.get(2)?.parse::<u32>().ok()? == gid).then(|| f[0].to_owned())
    })
}

/// Four distinct free loopback ports (held together while they are picked). Another process
/// may take one before Dovecot binds it; [`Dovecot::start`] then retries with new ones.
fn free_ports() -> [u16; 4] {
    let l: Vec<TcpListener> = (0..4)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("cannot bind a loopback port"))
        .collect();
    let p = |i: usize| l[i].local_addr().unwrap().port();
    [p(0), p(1), p(2), p(3)]
}

/// Users the instance runs as: (internal user, its group, login user, mail uid, mail gid).
fn instance_users() -> (String, String, String, u32, u32) {
    if is_root() {
        let nobody = passwd_entry(|n, _| n == "nobody").unwrap_or(("nobody".into(), 65534, 65534));
        let internal = passwd_entry(|n, _| n == "dovecot").unwrap_or_else(|| nobody.clone());
        let login = passwd_entry(|n, _| n == "dovenull").unwrap_or_else(|| nobody.clone());
        let igroup = group_name(internal.2).unwrap_or_else(|| internal.0.clone());
        (internal.0, igroup, login.0, nobody.1, nobody.2)
    } else {
        let uid = rustix::process::getuid().as_raw();
        let gid = rustix::process::getgid().as_raw();
        let name = passwd_entry(|_, u| u == uid)
            .map(|e| e.0)
            .or_else(|| std::env::var("USER").ok())
            .expect("cannot name the current user (no /etc/passwd entry, no $USER)");
        let group = group_name(gid).unwrap_or_else(|| name.clone());
        (name.clone(), group, name, uid, gid)
    }
}

impl Dovecot {
    /// The test user's name.
    pub const USER: &'static str = "dave";
    /// The test user's password.
    pub const PASS: &'static str = "davepass";

    /// Starts an instance with an empty INBOX; `None` (after a skip message) when Dovecot,
    /// doveadm, python3 or openssl is missing and `RMAIL_REQUIRE_PEERS` is not 1.
    pub fn start() -> Option<Dovecot> {
        Dovecot::start_with_inbox(b"")
    }

    /// Starts an instance whose INBOX mbox file holds `mbox` (`From ` separated, written
    /// before the server first sees it: the quick way to a big mailbox).
    pub fn start_with_inbox(mbox: &[u8]) -> Option<Dovecot> {
        if !peers() || require_peer("dovecot").is_none() || require_peer("doveadm").is_none() {
            return None;
        }
        // As root the mail user (nobody) must be able to traverse to the tree: /tmp, not a
        // possibly private $TMPDIR.
        let tmp = if is_root() {
            tempfile::Builder::new()
                .prefix("rmail-dovecot.")
                .tempdir_in("/tmp")
        } else {
            tempfile::Builder::new().prefix("rmail-dovecot.").tempdir()
        }
        .expect("cannot create a temp dir");
        let dir = tmp.path().to_path_buf();
        for sub in ["run", "state", "home/mail", "index"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        make_cert(&dir);
        std::fs::write(dir.join("home/inbox"), mbox).unwrap();
        let (_, _, _, muid, mgid) = instance_users();
        std::fs::write(
            dir.join("passwd"),
            format!(
                "{}:{{PLAIN}}{}:{muid}:{mgid}::{}::\n",
                Dovecot::USER,
                Dovecot::PASS,
                dir.join("home").display()
            ),
        )
        .unwrap();
        if is_root() {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711)).unwrap();
            for p in ["home", "home/mail", "home/inbox", "index"] {
                std::os::unix::fs::chown(dir.join(p), Some(muid), Some(mgid)).unwrap();
            }
        }
        let mut d = Dovecot {
            child: None,
            dir,
            _tmp: tmp,
            imap: 0,
            imaps: 0,
            pop3: 0,
            pop3s: 0,
            greeting: String::new(),
        };
        let mut last = String::new();
        for _attempt in 0..5 {
            let ports = free_ports();
            [d.imap, d.imaps, d.pop3, d.pop3s] = ports;
            d.greeting = format!(
                "rmail-test-dovecot-{}-{} ready",
                std::process::id(),
                ports[0]
            );
            write_conf(&d.dir, ports, &d.greeting);
            match d.launch() {
                Ok(()) => return Some(d),
                // Another process took one of the ports in between: new ports.
                Err(e) if e.contains("Address already in use") => last = e,
                Err(e) => {
                    last = e;
                    break;
                }
            }
        }
        panic!("cannot start Dovecot from {}:\n{last}", d.conf().display());
    }

    /// Spawns `dovecot -F -c CONF` and waits until the IMAP port greets with this instance's
    /// greeting; Err(log and stderr) when the master exits or does not answer in 15 s.
    fn launch(&mut self) -> Result<(), String> {
        use std::os::unix::process::CommandExt;
        std::fs::remove_file(self.dir.join("log")).ok();
        let stderr = std::fs::File::create(self.dir.join("stderr")).unwrap();
        let mut cmd = Command::new(require_peer("dovecot").unwrap());
        cmd.arg("-F")
            .arg("-c")
            .arg(self.conf())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        // SAFETY: prctl is async-signal-safe; it only sets this process's parent-death signal.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        self.child = Some(
            cmd.spawn()
                .map_err(|e| format!("cannot run dovecot: {e}"))?,
        );
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(15) {
            if let Some(st) = self.child.as_mut().unwrap().try_wait().unwrap() {
                self.child = None;
                return Err(format!("dovecot exited ({st}):\n{}", self.log()));
            }
            if self.greets() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.stop();
        Err(format!("dovecot did not answer in 15 s:\n{}", self.log()))
    }

    /// Whether the cleartext IMAP port answers with this instance's greeting.
    fn greets(&self) -> bool {
        let Ok(s) = TcpStream::connect(("127.0.0.1", self.imap)) else {
            return false;
        };
        s.set_read_timeout(Some(Duration::from_secs(5))).ok();
        let mut line = String::new();
        BufReader::new(s).read_line(&mut line).ok();
        line.contains(&self.greeting)
    }

    /// The instance's configuration file.
    pub fn conf(&self) -> PathBuf {
        self.dir.join("dovecot.conf")
    }

    /// The self-signed certificate the TLS ports present (CN=localhost, SAN localhost and
    /// 127.0.0.1): the file to give as `tls-ca-file`.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("cert.pem")
    }

    /// The INBOX mbox file.
    pub fn inbox_path(&self) -> PathBuf {
        self.dir.join("home/inbox")
    }

    /// The port of `scheme`: "imap", "imaps", "pop3" or "pop3s".
    pub fn port(&self, scheme: &str) -> u16 {
        match scheme {
            "imap" => self.imap,
            "imaps" => self.imaps,
            "pop3" => self.pop3,
            "pop3s" => self.pop3s,
            _ => panic!("no such Dovecot port: {scheme}"),
        }
    }

    /// A folder URL for the reader: `SCHEME://dave@127.0.0.1:PORT` plus `/MAILBOX` for IMAP
    /// (POP3 has no mailbox names), e.g. `url("imaps", "INBOX")`.
    pub fn url(&self, scheme: &str, mailbox: &str) -> String {
        let base = format!(
            "{scheme}://{}@127.0.0.1:{}",
            Dovecot::USER,
            self.port(scheme)
        );
        if scheme.starts_with("imap") {
            format!("{base}/{mailbox}")
        } else {
            base
        }
    }

    /// The master's log (`log_path`) followed by its stderr.
    pub fn log(&self) -> String {
        let read = |n: &str| std::fs::read_to_string(self.dir.join(n)).unwrap_or_default();
        format!("{}{}", read("log"), read("stderr"))
    }

    /// Runs `body` (Python, indented by nothing) after `m = imaplib.IMAP4(…)` has logged in
    /// as the test user over the cleartext port; `args` are `sys.argv[1:]`. Returns stdout;
    /// panics with the output and the server's log when the script fails.
    pub fn imaplib(&self, body: &str, args: &[String]) -> String {
        let script = format!(
            "import imaplib, re, sys\n\
             port, user, pw = int(sys.argv.pop(1)), sys.argv.pop(1), sys.argv.pop(1)\n\
             m = imaplib.IMAP4('127.0.0.1', port)\n\
             m.login(user, pw)\n\
             {body}\n\
             m.logout()\n"
        );
        let mut a = vec![
            self.imap.to_string(),
            Dovecot::USER.to_owned(),
            Dovecot::PASS.to_owned(),
        ];
        a.extend_from_slice(args);
        let (ok, out) = python(&script, &a);
        assert!(
            ok,
            "imaplib script failed:\n{out}\n--- dovecot log ---\n{}",
            self.log()
        );
        out
    }

    /// APPENDs `raw` (any line ends; LF becomes CRLF) to INBOX; returns its UID.
    pub fn deliver(&self, raw: &[u8]) -> u32 {
        self.append("INBOX", &[], raw)
    }

    /// APPENDs `raw` to `mailbox` (created when missing) with `flags` (e.g. `\Seen`); returns
    /// its UID (from the APPENDUID response code, RFC 4315).
    pub fn append(&self, mailbox: &str, flags: &[&str], raw: &[u8]) -> u32 {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), raw).unwrap();
        let out = self.imaplib(
            "box, flags, path = sys.argv[1:4]\n\
             if box.upper() != 'INBOX': m.create(box)\n\
             typ, dat = m.append(box, ('(' + flags + ')') if flags else None, None, open(path, 'rb').read())\n\
             assert typ == 'OK', dat\n\
             print(re.search(rb'APPENDUID \\d+ (\\d+)', dat[0]).group(1).decode())",
            &[
                mailbox.to_owned(),
                flags.join(" "),
                file.path().display().to_string(),
            ],
        );
        out.trim()
            .parse()
            .unwrap_or_else(|_| panic!("no APPENDUID: {out}"))
    }

    /// `mailbox` as the server has it now (EXAMINE: read-only, nothing changes).
    pub fn mailbox(&self, mailbox: &str) -> MailboxState {
        let out = self.imaplib(
            r#"box = sys.argv[1]
typ, dat = m.select(box, readonly=True)
assert typ == 'OK', dat
v = m.response('UIDVALIDITY')[1][0].decode()
n = m.response('UIDNEXT')[1][0].decode()
print('S', v, n)
if int(dat[0]) > 0:
    typ, dat = m.uid('FETCH', '1:*', '(UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID SUBJECT)])')
    assert typ == 'OK', dat
    for item in dat:
        if not isinstance(item, tuple):
            continue
        meta, hdr = item[0].decode(), item[1].decode('latin-1')
        uid = re.search(r'UID (\d+)', meta).group(1)
        size = re.search(r'RFC822\.SIZE (\d+)', meta).group(1)
        flags = re.search(r'FLAGS \(([^)]*)\)', meta).group(1)
        hdr = re.sub(r'\r?\n[ \t]+', ' ', hdr)
        h = {}
        for line in hdr.splitlines():
            k, _, val = line.partition(':')
            h.setdefault(k.strip().lower(), val.strip().replace('\t', ' '))
        print('M', uid, size, flags.replace(' ', ','), h.get('message-id', ''), h.get('subject', ''), sep='\t')"#,
            &[mailbox.to_owned()],
        );
        let mut st = MailboxState {
            uidvalidity: 0,
            uidnext: 0,
            messages: Vec::new(),
        };
        for line in out.lines() {
            if let Some(rest) = line.strip_prefix("S ") {
                let mut w = rest.split(' ').map(|x| x.parse().unwrap());
                st.uidvalidity = w.next().unwrap();
                st.uidnext = w.next().unwrap();
            } else if let Some(rest) = line.strip_prefix("M\t") {
                let f: Vec<&str> = rest.splitn(5, '\t').collect();
                st.messages.push(ServerMsg {
                    uid: f[0].parse().unwrap(),
                    size: f[1].parse().unwrap(),
                    flags: f[2]
                        .split(',')
                        .filter(|x| !x.is_empty())
                        .map(str::to_owned)
                        .collect(),
                    message_id: f[3].to_owned(),
                    subject: f.get(4).copied().unwrap_or("").to_owned(),
                });
            }
        }
        st
    }

    /// Messages of INBOX as the server has them now.
    pub fn inbox(&self) -> Vec<ServerMsg> {
        self.mailbox("INBOX").messages
    }

    /// Names of all mailboxes (LIST "" "*").
    pub fn mailboxes(&self) -> Vec<String> {
        let out = self.imaplib(
            "typ, dat = m.list()\n\
             for l in dat: print(re.search(rb'\"[^\"]*\" (.*)$', l).group(1).decode().strip('\"'))",
            &[],
        );
        out.lines().map(str::to_owned).collect()
    }

    /// PIDs of this instance's mail processes (`imap`, `pop3`): one per logged-in session.
    pub fn sessions(&self) -> Vec<u32> {
        let Some(master) = self.child.as_ref().map(|c| c.id()) else {
            return Vec::new();
        };
        let mut v = Vec::new();
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                continue;
            };
            // "pid (comm) state ppid …"; comm may hold spaces, so split at the last ')'.
            let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
                continue;
            };
            let comm = &stat[open + 1..close];
            let ppid = stat[close + 1..]
                .split_whitespace()
                .nth(1)
                .and_then(|x| x.parse().ok());
            if ppid == Some(master) && (comm == "imap" || comm == "pop3") {
                v.push(pid);
            }
        }
        v
    }

    /// Makes the server end every session of the test user politely: `doveadm kick` (the
    /// sessions get SIGTERM and send `* BYE Server shutting down.` / close). Returns
    /// doveadm's output.
    pub fn kick(&self) -> String {
        let o = Command::new(require_peer("doveadm").unwrap())
            .arg("-c")
            .arg(self.conf())
            .args(["kick", Dovecot::USER])
            .output()
            .expect("cannot run doveadm");
        let out = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            o.status.success(),
            "doveadm kick failed: {out}\n{}",
            self.log()
        );
        out
    }

    /// Drops every session the hard way: SIGKILL to this instance's `imap`/`pop3` processes
    /// only (no BYE; the client sees the connection close, or a TLS EOF from the login
    /// process that proxied it). Returns how many were killed.
    pub fn drop_connections(&self) -> usize {
        let pids = self.sessions();
        for &pid in &pids {
            // SAFETY: plain kill(2) of a child of our own Dovecot master, found just now.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
        }
        pids.len()
    }

    /// Waits up to `secs` for the number of sessions to become `n`.
    pub fn wait_sessions(&self, n: usize, secs: u64) -> bool {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(secs) {
            if self.sessions().len() == n {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// Stops the master (SIGTERM, which ends all its children; SIGKILL after 5 s).
    pub fn stop(&mut self) {
        let Some(mut c) = self.child.take() else {
            return;
        };
        // SAFETY: kill(2) of our own child process, not yet reaped.
        unsafe {
            libc::kill(c.id() as libc::pid_t, libc::SIGTERM);
        }
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = c.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        c.kill().ok();
        c.wait().ok();
    }
}

/// Writes `dovecot.conf` for the tree at `dir` listening on `ports` (imap, imaps, pop3,
/// pop3s) with `greeting` as the login greeting.
fn write_conf(dir: &Path, ports: [u16; 4], greeting: &str) {
    let d = dir.display();
    let (internal, igroup, login, _, _) = instance_users();
    // Login processes and anvil chroot by default; only root may chroot.
    let chroot = if is_root() { "" } else { "  chroot =\n" };
    let conf = format!(
        "# A throw-away instance for rmail's tests (tests/it/dovecot.rs).
protocols = imap pop3
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
instance_name = rmail-test-{port}
log_path = {d}/log
auth_verbose = yes
login_greeting = {greeting}
default_internal_user = {internal}
default_internal_group = {igroup}
default_login_user = {login}
first_valid_uid = 1
first_valid_gid = 1
ssl = yes
ssl_cert = <{d}/cert.pem
ssl_key = <{d}/key.pem
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = mbox:~/mail:INBOX=~/inbox:INDEX={d}/index
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {d}/passwd
}}
service anvil {{
{chroot}}}
service imap-login {{
{chroot}  inet_listener imap {{
    address = 127.0.0.1
    port = {p0}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {p1}
    ssl = yes
  }}
}}
service pop3-login {{
{chroot}  inet_listener pop3 {{
    address = 127.0.0.1
    port = {p2}
  }}
  inet_listener pop3s {{
    address = 127.0.0.1
    port = {p3}
    ssl = yes
  }}
}}
",
        port = ports[0],
        p0 = ports[0],
        p1 = ports[1],
        p2 = ports[2],
        p3 = ports[3],
    );
    std::fs::write(dir.join("dovecot.conf"), conf).unwrap();
}

/// A small message with `subject` and a Message-ID made from it.
pub fn message(subject: &str) -> String {
    let id = subject.replace(' ', ".");
    format!(
        "From: Alice <alice@example.com>\nTo: dave@example.com\nSubject: {subject}\n\
         Message-ID: <{id}@example.com>\nDate: Mon, 30 Nov 2026 12:00:00 +0000\n\n\
         Body of {subject}.\n"
    )
}

/// Smoke test: a pre-filled mbox INBOX plus one APPEND, listed with imaplib over IMAPS
/// trusting only the instance's certificate (hostname `localhost` checked), and the state
/// read back through the harness.
#[test]
fn dovecot_imaps_lists_the_inbox_with_imaplib() {
    let mbox = format!(
        "From alice@example.com Mon Nov 30 12:00:00 2026\n{}\nFrom alice@example.com Mon Nov 30 12:00:01 2026\n{}\n",
        message("first one"),
        message("second one")
    );
    let Some(d) = Dovecot::start_with_inbox(mbox.as_bytes()) else {
        return;
    };
    let uid = d.deliver(message("third one").as_bytes());
    assert_eq!(uid, 3);
    let (ok, out) = python(
        r#"import imaplib, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
m = imaplib.IMAP4_SSL('localhost', int(sys.argv[1]), ssl_context=ctx)
m.login(sys.argv[3], sys.argv[4])
typ, dat = m.select('INBOX')
assert typ == 'OK', dat
print('exists', dat[0].decode())
typ, dat = m.fetch('1:*', '(BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
for item in dat:
    if isinstance(item, tuple):
        print(item[1].decode().strip())
m.logout()"#,
        &[
            d.imaps.to_string(),
            d.ca_file().display().to_string(),
            Dovecot::USER.into(),
            Dovecot::PASS.into(),
        ],
    );
    assert!(ok, "{out}\n{}", d.log());
    assert!(out.contains("exists 3"), "{out}");
    for s in ["first one", "second one", "third one"] {
        assert!(out.contains(&format!("Subject: {s}")), "{out}");
    }
    let st = d.mailbox("INBOX");
    assert!(st.uidvalidity > 0 && st.uidnext == 4, "{st:?}");
    let subjects: Vec<&str> = st.messages.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(subjects, ["first one", "second one", "third one"]);
    assert_eq!(st.messages[2].message_id, "<third.one@example.com>");
    assert!(st
        .messages
        .iter()
        .all(|m| m.size > 100 && !m.flags.contains(&"\\Seen".into())));
    // The APPEND went into the mbox file itself.
    let text = std::fs::read_to_string(d.inbox_path()).unwrap();
    assert!(text.contains("Subject: third one"), "{text}");
    assert!(d.mailboxes().contains(&"INBOX".to_owned()));
}

/// Smoke test: the same INBOX over POP3S with poplib (STAT, UIDL, RETR), certificate trusted
/// from the instance's file.
#[test]
fn dovecot_pop3s_lists_the_inbox_with_poplib() {
    let Some(d) = Dovecot::start() else {
        return;
    };
    d.deliver(message("pop one").as_bytes());
    d.append("INBOX", &["\\Seen"], message("pop two").as_bytes());
    let (ok, out) = python(
        r#"import poplib, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
p = poplib.POP3_SSL('localhost', int(sys.argv[1]), context=ctx)
p.user(sys.argv[3]); p.pass_(sys.argv[4])
print('stat', *p.stat())
print('uidl', len(p.uidl()[1]))
for i in (1, 2):
    lines = p.retr(i)[1]
    print([l.decode() for l in lines if l.startswith(b'Subject:')][0])
p.quit()"#,
        &[
            d.pop3s.to_string(),
            d.ca_file().display().to_string(),
            Dovecot::USER.into(),
            Dovecot::PASS.into(),
        ],
    );
    assert!(ok, "{out}\n{}", d.log());
    assert!(out.contains("stat 2 "), "{out}");
    assert!(out.contains("uidl 2"), "{out}");
    assert!(
        out.contains("Subject: pop one") && out.contains("Subject: pop two"),
        "{out}"
    );
}

/// The connection-dropping helpers work: an idle IMAPS session sees `BYE` after
/// [`Dovecot::kick`], another one sees its connection end after
/// [`Dovecot::drop_connections`], and a new login works afterwards.
#[test]
fn dovecot_kick_and_drop_end_sessions() {
    let Some(d) = Dovecot::start() else {
        return;
    };
    d.deliver(message("kept").as_bytes());
    // A session that logs in, says so, waits for a line on stdin, then tries a NOOP.
    let script = r#"import imaplib, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
m = imaplib.IMAP4_SSL('localhost', int(sys.argv[1]), ssl_context=ctx)
m.login(sys.argv[3], sys.argv[4]); m.select('INBOX')
print('in', flush=True)
sys.stdin.readline()
try:
    print('noop', m.noop())
except Exception as e:
    print('ended', type(e).__name__, e)
"#;
    for how in ["kick", "drop"] {
        let mut c = Command::new("/usr/bin/python3")
            .arg("-c")
            .arg(script)
            .args([
                d.imaps.to_string(),
                d.ca_file().display().to_string(),
                Dovecot::USER.into(),
                Dovecot::PASS.into(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(c.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "in", "{}", d.log());
        assert!(d.wait_sessions(1, 10), "{:?}\n{}", d.sessions(), d.log());
        if how == "kick" {
            d.kick();
        } else {
            assert_eq!(d.drop_connections(), 1);
        }
        assert!(d.wait_sessions(0, 10), "{how}: {:?}", d.sessions());
        use std::io::Write;
        c.stdin.take().unwrap().write_all(b"go\n").unwrap();
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
        c.wait().unwrap();
        assert!(rest.starts_with("ended"), "{how}: {rest}");
        if how == "kick" {
            assert!(rest.contains("shutting down"), "{rest}");
        }
    }
    assert_eq!(d.inbox().len(), 1, "{}", d.log());
}
