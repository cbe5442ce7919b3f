//! Issue 6 end to end: the reader (`rmail -f URL`, `-A NAME`) on remote folders served by a
//! real `rmail serve` over loopback (IMAPS, IMAP with STARTTLS, POP3S), its self-signed
//! certificate trusted through `tls-ca-file`, checked afterwards with Python's imaplib as an
//! independent client.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::serve::{make_cert, python, Serve};
use crate::util::{nonempty_lines, rmail, run_script};

/// A server for alice with IMAP, IMAPS, POP3 and POP3S on `127.0.0.1:0`, holding the three
/// messages of [`SEND`]; returns it with the certificate path.
fn start(dir: &Path) -> (Serve, PathBuf) {
    let (s, cert) = Serve::start_with_tls(
        dir,
        &["pop3_listen", "pop3s_listen", "imap_listen", "imaps_listen"],
    );
    let (ok, out) = python(SEND, &[s.port("smtp").to_string()]);
    assert!(ok, "{out}\n{}", s.log());
    assert!(s.wait_messages("alice", 3, 10), "{}", s.log());
    (s, cert)
}

const SEND: &str = r#"
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
for i, subj in enumerate(["first note", "=?UTF-8?B?5rWL6K+V?= second", "third note"], 1):
    msg = ("Message-ID: <r%d@test>\r\nSubject: %s\r\nFrom: Xavier Y <x%d@example.org>\r\n"
           "Date: Mon, 30 Nov 2026 10:0%d:00 +0000\r\nTo: alice@localhost\r\n\r\nbody of %d\r\n") % (i, subj, i, i, i)
    assert s.sendmail("x@example.org", ["alice@localhost"], msg.encode()) == {}
s.quit()
"#;

/// Python: the state of alice's mailboxes as lines `MAILBOX: Message-ID flags`.
const STATE: &str = r#"
import imaplib, ssl, sys, re
ctx = ssl.create_default_context(cafile=sys.argv[2])
m = imaplib.IMAP4_SSL("127.0.0.1", int(sys.argv[1]), ssl_context=ctx)
m.login("alice", "alicepass")
for box in sys.argv[3:]:
    typ, _ = m.select(box, readonly=True)
    if typ != "OK":
        print(box + ": missing"); continue
    typ, data = m.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    for part in data:
        if isinstance(part, tuple):
            flags = re.search(rb"FLAGS \(([^)]*)\)", part[0]).group(1).decode()
            mid = part[1].decode().strip().split()[-1]
            print("%s: %s %s" % (box, mid, " ".join(sorted(f for f in flags.split() if f != "\\Recent"))))
m.logout()
"#;

fn state(s: &Serve, cert: &Path, boxes: &[&str]) -> String {
    let mut args = vec![s.port("imaps").to_string(), cert.display().to_string()];
    args.extend(boxes.iter().map(|b| b.to_string()));
    let (ok, out) = python(STATE, &args);
    assert!(ok, "{out}");
    out
}

/// `rmail -n ARGS` with the credentials and CA as variables, stdin `script`; returns
/// (status, stdout, stderr).
fn reader(home: &Path, cert: &Path, args: &[&str], script: &str) -> (i32, String, String) {
    let mut c: Command = rmail(home);
    c.arg("-n")
        .arg("-S")
        .arg(format!("tls-ca-file={}", cert.display()))
        .args(["-S", "password-command=echo alicepass"])
        .args(args);
    let o = run_script(c, script);
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn imaps_summary_read_delete_save_and_exit() {
    let dir = tempfile::tempdir().unwrap();
    let (s, cert) = start(dir.path());
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let url = format!("imaps://alice@127.0.0.1:{}/INBOX", s.port("imaps"));

    // -H: the summary, the encoded subject decoded, nothing changed on the server. The CA
    // file is a bundle with the server's certificate second: every one counts.
    let other = dir.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    let (other_cert, _) = make_cert(&other);
    let bundle = dir.path().join("bundle.pem");
    let mut pem = std::fs::read(&other_cert).unwrap();
    pem.extend(std::fs::read(&cert).unwrap());
    std::fs::write(&bundle, pem).unwrap();
    let (code, out, err) = reader(&home, &bundle, &["-H", "-f", &url], "");
    assert_eq!(code, 0, "{err}");
    assert_eq!(nonempty_lines(out.as_bytes()), 3, "{out}");
    assert!(out.contains("测试 second"), "{out}");
    assert!(out.contains("x1@example.org"), "{out}");
    assert!(!err.contains("warning"), "{err}");
    let before = state(&s, &cert, &["INBOX"]);
    assert!(!before.contains("\\Seen"), "{before}");

    // exit: reading and deleting leave the server untouched.
    let (code, out, err) = reader(&home, &cert, &["-N", "-f", &url], "p 1\nd 2\nx\n");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("body of 1"), "{out}");
    assert_eq!(state(&s, &cert, &["INBOX"]), before);

    // quit: 1 read → \Seen, 2 deleted → expunged, 3 saved to Archive (a new mailbox, made
    // on the server by COPY's TRYCREATE) and kept.
    let folder = format!("imaps://alice@127.0.0.1:{}", s.port("imaps"));
    let (code, out, err) = reader(
        &home,
        &cert,
        &["-N", "-S", &format!("folder={folder}"), "-f", &url],
        "p 1\nd 2\ns 3 +Archive\nfolders\nq\n",
    );
    assert_eq!(code, 0, "{err}\n{out}");
    assert!(out.contains("[Copied] 1 message"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("Archive")), "{out}");
    let after = state(&s, &cert, &["INBOX", "Archive"]);
    assert!(after.contains("INBOX: <r1@test> \\Seen"), "{after}");
    assert!(!after.contains("<r2@test>"), "{after}");
    assert!(after.contains("INBOX: <r3@test>"), "{after}");
    assert!(after.contains("Archive: <r3@test>"), "{after}");
    assert_eq!(nonempty_lines(after.as_bytes()), 3, "{after}");
}

#[test]
fn starttls_pop3s_accounts_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (s, cert) = start(dir.path());
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();

    // IMAP with STARTTLS on the cleartext port.
    let url = format!("imap://alice@127.0.0.1:{}/INBOX?starttls", s.port("imap"));
    let (code, out, err) = reader(&home, &cert, &["-H", "-f", &url], "");
    assert_eq!(code, 0, "{err}");
    assert_eq!(nonempty_lines(out.as_bytes()), 3, "{out}");

    // POP3S: summary from TOP, a read, and a deletion applied at quit.
    let pop = format!("pop3s://alice@127.0.0.1:{}", s.port("pop3s"));
    let (code, out, err) = reader(&home, &cert, &["-N", "-f", &pop], "h\np 3\nd 1\nq\n");
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("third note") && out.contains("body of 3"),
        "{out}"
    );
    let after = state(&s, &cert, &["INBOX"]);
    assert!(!after.contains("<r1@test>"), "{after}");
    assert_eq!(nonempty_lines(after.as_bytes()), 2, "{after}");

    // An account block with inbox= opens it with -A; `save` from a local mbox appends.
    let rc = dir.path().join("mailrc");
    std::fs::write(
        &rc,
        format!(
            "account home {{\n  set inbox=imaps://alice@127.0.0.1:{p}/INBOX\n  \
             set folder=imaps://alice@127.0.0.1:{p}\n  set password-command=\"echo alicepass\"\n  \
             set tls-ca-file={c}\n}}\n",
            p = s.port("imaps"),
            c = cert.display()
        ),
    )
    .unwrap();
    let mut c = rmail(&home);
    c.env("MAILRC", &rc).args(["-A", "home", "-H"]);
    let o = run_script(c, "");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(nonempty_lines(out.as_bytes()), 2, "{out}");

    let local = dir.path().join("local.mbox");
    std::fs::write(
        &local,
        "From z@example.org Mon Nov 30 10:00:00 2026\nMessage-ID: <l1@test>\nSubject: local\n\nlocal body\n\n",
    )
    .unwrap();
    let mut c = rmail(&home);
    c.env("MAILRC", &rc)
        .args(["-A", "home", "-N", "-f"])
        .arg(&local);
    let o = run_script(c, "copy 1 +Saved\nq\n");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let after = state(&s, &cert, &["Saved"]);
    assert!(after.contains("Saved: <l1@test>"), "{after}");
    // -f +name: on the account's server, since `folder` is its URL.
    let mut c = rmail(&home);
    c.env("MAILRC", &rc)
        .args(["-A", "home", "-H", "-f", "+Saved"]);
    let o = run_script(c, "");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        out.contains("local") && nonempty_lines(&o.stdout) == 1,
        "{out}"
    );
    // The copy kept its arrival date (the From_ line's, as IMAP INTERNALDATE).
    assert!(out.contains("Mon Nov 30 10:00"), "{out}");

    // record=+Sent with a remote folder: the sent copy is appended there, \Seen.
    let mut c = rmail(&home);
    c.env("MAILRC", &rc).args([
        "-A",
        "home",
        "-S",
        &format!("mta=smtp://127.0.0.1:{}", s.port("smtp")),
        "-S",
        "record=+Sent",
        "-s",
        "recorded",
        "alice@localhost",
    ]);
    let o = run_script(c, "kept in Sent\n");
    assert!(
        o.status.success() && o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let after = state(&s, &cert, &["Sent"]);
    assert!(
        after.lines().filter(|l| l.starts_with("Sent: ")).count() == 1 && after.contains("\\Seen"),
        "{after}"
    );

    // Opened as the inbox (-A, not -f), a saved message leaves it at quit, as from the
    // system mailbox; with keepsave it stays.
    let before = state(&s, &cert, &["INBOX"]);
    let mut c = rmail(&home);
    c.env("MAILRC", &rc)
        .args(["-A", "home", "-N", "-S", "keepsave"]);
    let o = run_script(c, "s 1 +Kept\nq\n");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(state(&s, &cert, &["INBOX"]), before);
    let mut c = rmail(&home);
    c.env("MAILRC", &rc).args(["-A", "home", "-N"]);
    let o = run_script(c, "s 1 +Kept\nq\n");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let after = state(&s, &cert, &["INBOX", "Kept"]);
    assert_eq!(
        after.lines().filter(|l| l.starts_with("INBOX:")).count() + 1,
        before.lines().count(),
        "{before}\n{after}"
    );
    assert_eq!(
        after.lines().filter(|l| l.starts_with("Kept:")).count(),
        2,
        "{after}"
    );

    // A wrong password: the server's refusal, exit 1, the password not shown.
    let url = format!("imaps://alice@127.0.0.1:{}/INBOX", s.port("imaps"));
    let mut c = rmail(&home);
    c.args(["-n", "-H", "-S"])
        .arg(format!("tls-ca-file={}", cert.display()))
        .args(["-S", "password-command=echo wrongpass9", "-f", &url]);
    let o = run_script(c, "");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("refused") && !err.contains("wrongpass9"),
        "{err}"
    );

    // Without the CA: the certificate is not trusted, and the error says what to do.
    let mut c = rmail(&home);
    c.args([
        "-n",
        "-H",
        "-S",
        "password-command=echo alicepass",
        "-f",
        &url,
    ]);
    let o = run_script(c, "");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("TLS") && err.contains("tls-ca-file"), "{err}");
}

#[test]
fn password_prompt_on_a_terminal_once_per_session_never_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let (s, cert) = start(dir.path());
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let base = format!("imaps://alice@127.0.0.1:{}", s.port("imaps"));
    let mut c = rmail(&home);
    c.arg("-n")
        .arg("-S")
        .arg(format!("tls-ca-file={}", cert.display()))
        .args(["-f", &format!("{base}/INBOX")]);
    let mut p = crate::util::PtyChild::spawn(c);
    assert!(
        p.wait_for("Password for alice@127.0.0.1: "),
        "{}",
        p.output()
    );
    p.type_bytes(b"alicepass\n");
    assert!(p.wait_for("3 messages"), "{}", p.output());
    // Another folder of the same account: no second prompt.
    p.type_bytes(format!("file {base}/Sent\n").as_bytes());
    assert!(p.wait_for("/Sent\": 0 messages"), "{}", p.output());
    p.type_bytes(b"q\n");
    assert!(p.wait().success(), "{}", p.output());
    let out = p.output();
    assert_eq!(out.matches("Password for").count(), 1, "{out}");
    assert!(!out.contains("alicepass"), "{out}");
}

/// A scripted IMAP server whose summary FETCH takes about 2 s (2,000 lines, 1 ms apart);
/// prints its port, serves one connection.
const SLOW_IMAP: &str = r#"
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1], flush=True)
c, _ = s.accept(); f = c.makefile("rb")
c.sendall(b"* OK ready\r\n")
N = 2000
while True:
    l = f.readline()
    if not l: break
    tag, cmd = (l.split(b" ", 2) + [b""])[:2]; cmd = cmd.upper().strip()
    if cmd == b"LOGIN": c.sendall(tag + b" OK [CAPABILITY IMAP4rev1] hi\r\n")
    elif cmd == b"CAPABILITY": c.sendall(b"* CAPABILITY IMAP4rev1\r\n" + tag + b" OK\r\n")
    elif cmd in (b"SELECT", b"EXAMINE"): c.sendall(b"* %d EXISTS\r\n* OK [UIDVALIDITY 1] u\r\n" % N + tag + b" OK [READ-WRITE] x\r\n")
    elif cmd == b"FETCH":
        for i in range(1, N + 1):
            c.sendall(b'* %d FETCH (UID %d FLAGS () INTERNALDATE "01-Dec-2026 01:00:00 +0000" RFC822.SIZE 10 ENVELOPE (NIL "s%d" (("A" NIL "a" "example.org")) NIL NIL NIL NIL NIL NIL NIL))\r\n' % (i, i, i))
            time.sleep(0.001)
        c.sendall(tag + b" OK done\r\n")
    elif cmd == b"LOGOUT": c.sendall(b"* BYE bye\r\n" + tag + b" OK\r\n"); break
    else: c.sendall(tag + b" OK\r\n")
"#;

fn slow_server() -> (std::process::Child, u16) {
    use std::io::BufRead;
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(SLOW_IMAP)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line.trim().parse().unwrap())
}

#[test]
fn progress_on_a_terminal_only() {
    let dir = tempfile::tempdir().unwrap();
    let (mut srv, port) = slow_server();
    let url = format!("imap://u@127.0.0.1:{port}/INBOX");
    let mut c = rmail(dir.path());
    c.args(["-n", "-N", "-S", "password-command=echo pw", "-f", &url]);
    let mut p = crate::util::PtyChild::spawn(c);
    assert!(p.wait_for("headers: "), "{}", p.output());
    assert!(p.wait_for("2000 messages"), "{}", p.output());
    p.type_bytes(b"x\n");
    assert!(p.wait().success(), "{}", p.output());
    let _ = srv.wait();

    let (mut srv, port) = slow_server();
    let url = format!("imap://u@127.0.0.1:{port}/INBOX");
    let mut c = rmail(dir.path());
    c.args(["-n", "-H", "-S", "password-command=echo pw", "-f", &url]);
    let o = run_script(c, "");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert_eq!(nonempty_lines(&o.stdout), 2000);
    assert!(!err.contains("headers"), "{err}");
    let _ = srv.wait();
}

#[test]
fn certificate_for_another_host_over_starttls_names_its_names() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = crate::serve::make_cert_for(
        dir.path(),
        "other",
        "mail.example.net",
        "DNS:mail.example.net",
    );
    let (c, k) = (cert.display().to_string(), key.display().to_string());
    let s = Serve::start(
        dir.path(),
        "",
        &[
            ("smtpd_tls_cert_file", &c),
            ("smtpd_tls_key_file", &k),
            ("imap_listen", "127.0.0.1:0"),
            ("pop3_listen", "127.0.0.1:0"),
        ],
    );
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    for url in [
        format!("imap://alice@127.0.0.1:{}/INBOX?starttls", s.port("imap")),
        format!("pop3://alice@127.0.0.1:{}?starttls", s.port("pop3")),
    ] {
        let (code, _, err) = reader(&home, &cert, &["-H", "-f", &url], "");
        assert_eq!(code, 1, "{err}");
        assert!(
            err.contains("is for mail.example.net, not for 127.0.0.1"),
            "{url}: {err}"
        );
    }
}

/// Python: another client at work on alice's INBOX: APPENDs a message already `\Seen`,
/// expunges message 2 and reads message 3.
const APPEND_SEEN: &str = r#"
import imaplib, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
m = imaplib.IMAP4_SSL("127.0.0.1", int(sys.argv[1]), ssl_context=ctx)
m.login("alice", "alicepass")
typ, _ = m.append("INBOX", "(\\Seen)", None, b"Message-ID: <seen@test>\r\nSubject: read elsewhere\r\n\r\nx\r\n")
assert typ == "OK"
m.select("INBOX")
m.store("3", "+FLAGS", "(\\Seen)")
m.store("2", "+FLAGS", "(\\Deleted)")
m.expunge()
m.logout()
"#;

#[test]
fn newmail_keeps_what_the_server_says_and_quit_changes_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let (s, cert) = start(dir.path());
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let script = dir.path().join("append.py");
    std::fs::write(&script, APPEND_SEEN).unwrap();
    let url = format!("imaps://alice@127.0.0.1:{}/INBOX", s.port("imaps"));
    let cmds = format!(
        "!python3 {} {} {}\ninc\nh\nq\n",
        script.display(),
        s.port("imaps"),
        cert.display()
    );
    let (code, out, err) = reader(&home, &cert, &["-N", "-f", &url], &cmds);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("New mail has arrived: 1 new message"), "{out}");
    assert!(
        out.contains("1 message expunged by another client."),
        "{out}"
    );
    let letter = |what: &str| {
        let line = out.lines().find(|l| l.contains(what)).unwrap_or_default();
        line.trim_start_matches('>').trim_start().chars().next()
    };
    assert_eq!(letter("read elsewhere"), Some('O'), "{out}");
    assert_eq!(letter("third note"), Some('O'), "{out}");
    assert!(
        !out.contains("second"),
        "the expunged message is not listed: {out}"
    );
    assert!(!out.contains("removed"), "{out}");
    let after = state(&s, &cert, &["INBOX"]);
    assert!(after.contains("INBOX: <seen@test> \\Seen"), "{after}");
    assert!(after.contains("INBOX: <r3@test> \\Seen"), "{after}");
    assert!(!after.contains("<r1@test> \\Seen"), "{after}");
}
