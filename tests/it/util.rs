//! Shared test helpers: a sandboxed `rmail` command and Debian peer discovery.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Path of the `rmail` binary under test.
pub fn rmail_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rmail"))
}

/// Directory of committed fixtures (`tests/fixtures`).
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A `rmail` command whose environment cannot reach the real `$HOME`, `/var/mail` or rc files:
/// HOME = `home`, MAIL = `home/spool`, MAILRC = /dev/null, MBOX = `home/mbox`, no pager,
/// USER/LOGNAME = `tester`, TZ = UTC, LC_ALL = C.UTF-8, not a terminal.
pub fn rmail(home: &Path) -> Command {
    let mut c = Command::new(rmail_bin());
    sandbox_env(&mut c, home);
    c
}

/// Applies the sandbox environment of [`rmail`] to any command (also used for s-nail).
pub fn sandbox_env(c: &mut Command, home: &Path) {
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("MAIL", home.join("spool"))
        .env("MBOX", home.join("mbox"))
        .env("MAILRC", "/dev/null")
        .env("USER", "tester")
        .env("LOGNAME", "tester")
        .env("TZ", "UTC")
        .env("LC_ALL", "C.UTF-8")
        .env("PAGER", "cat")
        .env("TERM", "dumb");
}

/// Finds a Debian peer program (e.g. `s-nail`) on PATH. When it is missing: with
/// `RMAIL_REQUIRE_PEERS=1` the test fails; otherwise it prints a skip message and returns None.
pub fn require_peer(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in
        std::env::split_paths(&path).chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
    {
        let p = dir.join(name);
        if p.is_file() {
            return Some(p);
        }
    }
    if std::env::var("RMAIL_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!("peer `{name}` is required (RMAIL_REQUIRE_PEERS=1) but not installed");
    }
    eprintln!("SKIP: peer `{name}` not installed; install it or set RMAIL_REQUIRE_PEERS=1 to fail");
    None
}

/// Runs `cmd` with `script` on stdin; fails the test when it runs longer than 30 s.
pub fn run_script(mut cmd: Command, script: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot spawn reader");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .ok();
    wait_output(child, Duration::from_secs(30))
}

/// Waits for `child` at most `limit`, killing it (and failing) when it hangs. stdout and stderr
/// are drained by threads meanwhile, so a chatty child never blocks on a full pipe.
pub fn wait_output(mut child: Child, limit: Duration) -> Output {
    use std::io::Read;
    fn drain<R: Read + Send + 'static>(r: Option<R>) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            if let Some(mut r) = r {
                r.read_to_end(&mut v).ok();
            }
            v
        })
    }
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let t = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("cannot poll child") {
            break Some(st);
        }
        if t.elapsed() > limit {
            child.kill().ok();
            child.wait().ok();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let o = Output {
        status: status.unwrap_or_else(|| child.wait().unwrap()),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    };
    assert!(
        status.is_some(),
        "reader hung for {limit:?}:\n--- stdout ---\n{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// Runs the sandboxed `rmail ARGS` (see [`rmail`]) with `script` on stdin; returns
/// (exit status, stdout, stderr) with the output decoded lossily.
pub fn run_rmail(home: &Path, args: &[&str], script: &str) -> (i32, String, String) {
    let mut c = rmail(home);
    c.args(args);
    let o = run_script(c, script);
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Number of non-empty lines in `out` (one per message for `-H`).
pub fn nonempty_lines(out: &[u8]) -> usize {
    out.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count()
}

/// A fake sendmail that records its argv (one per line) and stdin, then exits with `code`.
pub fn fake_sendmail(dir: &Path, code: i32) -> String {
    let p = dir.join("fake-sendmail");
    std::fs::write(
        &p,
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > '{d}/argv'\ncat > '{d}/stdin'\nexit {code}\n",
            d = dir.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p.display().to_string()
}

/// A child running on a pseudo-terminal: its own session with the pty as controlling
/// terminal (so `^C` written to the master becomes SIGINT for it), output collected by a
/// thread.
pub struct PtyChild {
    pub child: Child,
    master: std::fs::File,
    output: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl PtyChild {
    /// Spawns `cmd` with stdin, stdout and stderr on a new pty.
    pub fn spawn(mut cmd: Command) -> PtyChild {
        use std::os::fd::FromRawFd;
        use std::os::unix::process::CommandExt;
        let (mut m, mut s) = (0, 0);
        // SAFETY: openpty writes two fds into live integers.
        let r = unsafe {
            libc::openpty(
                &mut m,
                &mut s,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(r, 0, "openpty failed");
        // SAFETY: fresh fds owned from here on.
        let (master, slave) =
            unsafe { (std::fs::File::from_raw_fd(m), std::fs::File::from_raw_fd(s)) };
        cmd.stdin(slave.try_clone().unwrap())
            .stdout(slave.try_clone().unwrap())
            .stderr(slave);
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn on pty");
        drop(cmd);
        let output = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (out2, mut reader) = (output.clone(), master.try_clone().unwrap());
        std::thread::spawn(move || {
            use std::io::Read;
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                out2.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        PtyChild {
            child,
            master,
            output,
        }
    }

    /// Types `bytes` on the terminal.
    pub fn type_bytes(&mut self, bytes: &[u8]) {
        self.master.write_all(bytes).unwrap();
    }

    /// Waits up to 10 s until the output contains `what`; returns whether it did.
    pub fn wait_for(&self, what: &str) -> bool {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if String::from_utf8_lossy(&self.output.lock().unwrap()).contains(what) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Everything printed so far.
    pub fn output(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    /// Waits up to 10 s for the exit status (killing the child after that).
    pub fn wait(&mut self) -> std::process::ExitStatus {
        let t = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            if t.elapsed() > Duration::from_secs(10) {
                self.child.kill().ok();
                panic!("child on pty did not exit; output: {}", self.output());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
