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
