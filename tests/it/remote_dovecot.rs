//! Issue 6 interop: the reader on a real Dovecot from Debian (the harness in `dovecot`):
//! open, summary, read, flag, delete/expunge, save to another folder, a reconnect after the
//! server dropped the connection, and the POP3 side. Skips when Dovecot is missing unless
//! `RMAIL_REQUIRE_PEERS=1`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::dovecot::{message, Dovecot};
use crate::util::{nonempty_lines, rmail, run_script, wait_output};

/// `rmail -n` with the instance's CA and password as variables.
fn reader(home: &Path, d: &Dovecot) -> Command {
    let mut c = rmail(home);
    c.arg("-n")
        .arg("-S")
        .arg(format!("tls-ca-file={}", d.ca_file().display()))
        .arg("-S")
        .arg(format!("password-command=echo {}", Dovecot::PASS));
    c
}

fn flags_of(d: &Dovecot, mailbox: &str, subject: &str) -> Option<Vec<String>> {
    d.mailbox(mailbox)
        .messages
        .into_iter()
        .find(|m| m.subject == subject)
        .map(|m| m.flags)
}

#[test]
fn dovecot_imaps_read_flag_delete_save() {
    let Some(d) = Dovecot::start() else { return };
    for s in ["one", "two", "three"] {
        d.deliver(message(s).as_bytes());
    }
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let url = d.url("imaps", "INBOX");

    let mut c = reader(home, &d);
    c.args(["-H", "-f", &url]);
    let o = run_script(c, "");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(nonempty_lines(&o.stdout), 3, "{out}");
    assert!(
        out.contains("alice@example.com") && out.contains("three"),
        "{out}"
    );

    // Read 1, flag 1 unread again in the next session, delete 2, save 3 to Archive.
    let folder = format!("imaps://dave@127.0.0.1:{}", d.port("imaps"));
    let mut c = reader(home, &d);
    c.args(["-N", "-S", &format!("folder={folder}"), "-f", &url]);
    let o = run_script(c, "p 1\nd 2\ns 3 +Archive\nq\n");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{}\n{out}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("Body of one."), "{out}");
    let inbox = d.mailbox("INBOX");
    let subjects: Vec<&str> = inbox.messages.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(subjects, ["one", "three"], "{inbox:?}");
    assert!(flags_of(&d, "INBOX", "one")
        .unwrap()
        .contains(&"\\Seen".to_owned()));
    assert!(!flags_of(&d, "INBOX", "three")
        .unwrap()
        .contains(&"\\Seen".to_owned()));
    assert!(
        flags_of(&d, "Archive", "three").is_some(),
        "{:?}",
        d.mailboxes()
    );

    let mut c = reader(home, &d);
    c.args(["-N", "-f", &url]);
    let o = run_script(c, "unread 1\nfolders\nq\n");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.lines().any(|l| l.starts_with("Archive")), "{out}");
    assert!(!flags_of(&d, "INBOX", "one")
        .unwrap()
        .contains(&"\\Seen".to_owned()));

    // move: a copy, then the message leaves the INBOX at quit.
    let mut c = reader(home, &d);
    c.args(["-N", "-S", &format!("folder={folder}"), "-f", &url]);
    let o = run_script(c, "mv 1 +Archive\nq\n");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let subjects: Vec<String> = d.inbox().into_iter().map(|m| m.subject).collect();
    assert_eq!(subjects, ["three"]);
    assert!(flags_of(&d, "Archive", "one").is_some());
}

#[test]
fn dovecot_reconnects_after_the_server_drops_the_connection() {
    let Some(d) = Dovecot::start() else { return };
    for s in ["alpha", "beta"] {
        d.deliver(message(s).as_bytes());
    }
    let dir = tempfile::tempdir().unwrap();
    let url = d.url("imaps", "INBOX");
    let mut c = reader(dir.path(), &d);
    c.args(["-N", "-f", &url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    use std::io::Write;
    // The shell escape keeps the reader busy while the server's session is killed.
    stdin.write_all(b"p 1\n!sleep 2\np 2\nd 1\nq\n").unwrap();
    drop(stdin);
    assert!(d.wait_sessions(1, 10), "{}", d.log());
    std::thread::sleep(Duration::from_millis(500));
    assert!(d.drop_connections() >= 1);
    let o = wait_output(child, Duration::from_secs(30));
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}\n{out}");
    assert!(
        out.contains("Body of alpha.") && out.contains("Body of beta."),
        "{out}\n{err}"
    );
    let subjects: Vec<String> = d.inbox().into_iter().map(|m| m.subject).collect();
    assert_eq!(subjects, ["beta"], "{err}");
}

#[test]
fn dovecot_pop3s_and_starttls() {
    let Some(d) = Dovecot::start() else { return };
    for s in ["uno", "dos"] {
        d.deliver(message(s).as_bytes());
    }
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();

    let imap = format!("{}?starttls", d.url("imap", "INBOX"));
    let mut c = reader(home, &d);
    c.args(["-H", "-f", &imap]);
    let o = run_script(c, "");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(nonempty_lines(&o.stdout), 2);

    let pop = d.url("pop3s", "");
    let mut c = reader(home, &d);
    c.args(["-N", "-f", &pop]);
    let o = run_script(c, "p 2\nd 1\nq\n");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("Body of dos."), "{out}");
    let subjects: Vec<String> = d.inbox().into_iter().map(|m| m.subject).collect();
    assert_eq!(subjects, ["dos"]);
}
