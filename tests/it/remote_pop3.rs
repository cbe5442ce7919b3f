//! Issue 6, POP3 side, against a real `rmail serve` on loopback: [`Pop3Folder`] over
//! POP3S (trusting the test certificate), STLS and cleartext loopback; and `rmail fetch`
//! run as the binary with an account block in its MAILRC. Mail reaches the server over
//! SMTP (Python's smtplib); the local mailbox is checked with Python's `mailbox.mbox`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rmail::remote::pop3_folder::Pop3Folder;
use rmail::remote::{ConnectOptions, FolderUrl, Login, QuitPlan, RemoteError, RemoteFolder};
use rmail::send::client::TlsOptions;

use crate::serve::{from_lines, peers, python, Serve};
use crate::util::rmail;

/// A server with POP3 (STLS offered) and POP3S listeners; returns it and the certificate.
fn start(dir: &Path) -> (Serve, PathBuf) {
    let (s, cert) = Serve::start_with_tls(dir, &["pop3_listen", "pop3s_listen"]);
    (s, cert)
}

const SEND: &str = r#"
import json, smtplib, sys
port, rcpt, msgs = int(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
for m in msgs:
    r = s.sendmail("sender@example.org", [rcpt + "@localhost"], m.replace("\n", "\r\n").encode())
    assert r == {}, r
s.quit()
print("ok")
"#;

/// A plain test message with Message-ID `<tag@test>`.
fn msg(tag: &str, subject: &str, body: &str) -> String {
    format!(
        "Message-ID: <{tag}@test>\nFrom: Sender <sender@example.org>\nTo: x@localhost\n\
         Subject: {subject}\nDate: Tue, 14 Nov 2023 23:13:20 +0000\n\n{body}"
    )
}

/// Delivers `msgs` to `user` over SMTP and waits until the spool holds `total` messages.
fn deliver(s: &Serve, user: &str, msgs: &[String], total: usize) {
    let json = format!(
        "[{}]",
        msgs.iter()
            .map(|m| format!("{m:?}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let (ok, out) = python(SEND, &[s.port("smtp").to_string(), user.to_owned(), json]);
    assert!(ok, "{out}\n{}", s.log());
    assert!(s.wait_messages(user, total, 10), "{}", s.log());
}

/// Waits until `user`'s spool holds exactly `n` messages.
fn wait_exactly(s: &Serve, user: &str, n: usize) -> bool {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(5) {
        if from_lines(&s.mailbox(user)) == n {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn options(url: &str, password: &str, cert: &Path) -> ConnectOptions {
    ConnectOptions {
        url: FolderUrl::parse(url).unwrap(),
        login: Login::Password {
            user: "bob".into(),
            password: password.into(),
        },
        tls: TlsOptions {
            ca_pem: Some(std::fs::read(cert).unwrap()),
            accept_invalid: false,
        },
        timeout: Duration::from_secs(10),
        imap_id: false,
        progress: false,
        read_only: false,
        token_command: None,
    }
}

/// POP3S, STLS and cleartext loopback: the summary (raw RFC 2047 subject, From, Date, the
/// From_ facts), RETR with a dot-stuffed line, DELE at commit removing the message from
/// the server's mailbox, close changing nothing, and a wrong password as `Auth`.
#[test]
fn pop3_folder_over_tls_stls_and_plain() {
    if !peers() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (s, cert) = start(dir.path());
    deliver(
        &s,
        "bob",
        &[
            msg(
                "a1",
                "=?UTF-8?B?5L2g5aW9?=",
                "first\n.dot line\nFrom here\n",
            ),
            msg("a2", "second", "two\n"),
            msg("a3", "third", "three\n"),
        ],
        3,
    );
    let pop3s = format!("pop3s://bob@127.0.0.1:{}", s.port("pop3s"));
    let mut f = Pop3Folder::open(&options(&pop3s, "bobpass", &cert)).unwrap();
    let sum = f.take_summary();
    assert_eq!(sum.len(), 3);
    assert_eq!(
        sum[0].subject.as_deref(),
        Some(&b"=?UTF-8?B?5L2g5aW9?="[..])
    );
    assert_eq!(
        sum[0].from.as_deref(),
        Some(&b"Sender <sender@example.org>"[..])
    );
    assert_eq!(
        sum[0].date.as_deref(),
        Some(&b"Tue, 14 Nov 2023 23:13:20 +0000"[..])
    );
    assert!(sum[0].from_line.starts_with(b"sender@example.org "));
    assert_eq!((sum[0].uid, sum[2].uid), (1, 3));
    assert!(sum
        .iter()
        .all(|m| m.size > 0 && m.lines.is_none() && !m.flags.seen));
    let m = f.fetch(0).unwrap();
    let text = String::from_utf8(m).unwrap();
    assert!(!text.contains('\r'));
    assert!(text.ends_with("first\n.dot line\nFrom here\n"), "{text}");
    assert_eq!(f.fetch(0).unwrap(), text.as_bytes(), "cached");
    assert!(matches!(
        f.copy(&[0], "Archive", false),
        Err(RemoteError::Unsupported(_))
    ));
    assert_eq!(f.list().unwrap()[0].name, "INBOX");
    f.commit(&QuitPlan {
        seen: vec![0],
        unseen: vec![],
        deleted: vec![1],
    })
    .unwrap();
    assert!(wait_exactly(&s, "bob", 2), "{}", s.mailbox("bob"));
    assert!(!s.mailbox("bob").contains("Message-ID: <a2@test>"));

    // STLS, then close without changes.
    let stls = format!("pop3://bob@127.0.0.1:{}?starttls", s.port("pop3"));
    let mut f = Pop3Folder::open(&options(&stls, "bobpass", &cert)).unwrap();
    let sum = f.take_summary();
    assert_eq!(sum.len(), 2);
    assert_eq!(sum[1].subject.as_deref(), Some(&b"third"[..]));
    assert!(f.fetch(1).unwrap().ends_with(b"three\n"));
    f.close();

    // Cleartext on loopback, asked for by the URL.
    let plain = format!("pop3://bob@127.0.0.1:{}", s.port("pop3"));
    let mut f = Pop3Folder::open(&options(&plain, "bobpass", &cert)).unwrap();
    assert_eq!(f.take_summary().len(), 2);
    f.commit(&QuitPlan::default()).unwrap();
    assert!(wait_exactly(&s, "bob", 2));

    // A wrong password.
    match Pop3Folder::open(&options(&pop3s, "wrong", &cert)) {
        Err(RemoteError::Auth { user, host, .. }) => {
            assert_eq!((user.as_str(), host.as_str()), ("bob", "127.0.0.1"))
        }
        other => panic!("{other:?}"),
    }
    // POP3S without trusting the test CA.
    let mut untrusted = options(&pop3s, "bobpass", &cert);
    untrusted.tls.ca_pem = None;
    assert!(matches!(
        Pop3Folder::open(&untrusted),
        Err(RemoteError::Tls { .. } | RemoteError::CertificateMismatch { .. })
    ));
}

/// Opens `n` messages written straight into the spool (no SMTP), over POP3S: the summary
/// with pipelined TOP. Prints the time; `RMAIL_POP3_BENCH=2000` for the issue's figure,
/// `RMAIL_POP3_BENCH_DELAY_MS=10` to go through a proxy that delays every chunk by that
/// much each way (a round trip of twice that), as a distant server would.
#[test]
fn pop3_folder_summary_of_many_messages() {
    if !peers() {
        return;
    }
    let n: usize = std::env::var("RMAIL_POP3_BENCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let dir = tempfile::tempdir().unwrap();
    let (s, cert) = start(dir.path());
    let mut mbox = String::new();
    for i in 0..n {
        mbox.push_str("From sender@example.org Tue Nov 14 23:13:20 2023\n");
        mbox.push_str(&msg(&format!("b{i}"), &format!("bulk {i}"), "x\n"));
        mbox.push('\n');
    }
    std::fs::write(s.dir.join("spool/bob"), mbox).unwrap();
    let delay = std::env::var("RMAIL_POP3_BENCH_DELAY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis);
    let port = match delay {
        Some(d) => delay_proxy(s.port("pop3s"), d),
        None => s.port("pop3s"),
    };
    let url = format!("pop3s://bob@127.0.0.1:{port}");
    let t = Instant::now();
    let mut f = Pop3Folder::open(&options(&url, "bobpass", &cert)).unwrap();
    let took = t.elapsed();
    let sum = f.take_summary();
    assert_eq!(sum.len(), n);
    assert_eq!(
        sum[n - 1].subject.as_deref(),
        Some(format!("bulk {}", n - 1).as_bytes())
    );
    f.close();
    eprintln!(
        "POP3S open with {n} messages (UIDL, LIST, TOP n 0 pipelined, delay {delay:?}): \
         {took:?}"
    );
    assert!(
        delay.is_some() || took < Duration::from_secs(10),
        "{took:?}"
    );
}

/// A one-connection TCP proxy on loopback to `port` that delivers every chunk `delay`
/// after it was read, in order, both ways; returns its port.
fn delay_proxy(port: u16, delay: Duration) -> u16 {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let mine = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let (client, _) = l.accept().unwrap();
        let server = TcpStream::connect(("127.0.0.1", port)).unwrap();
        for (mut from, mut to) in [
            (client.try_clone().unwrap(), server.try_clone().unwrap()),
            (server, client),
        ] {
            from.set_nodelay(true).ok();
            let (tx, rx) = std::sync::mpsc::channel::<(Instant, Vec<u8>)>();
            std::thread::spawn(move || {
                let mut buf = [0u8; 65536];
                while let Ok(n) = from.read(&mut buf) {
                    if n == 0
                        || tx
                            .send((Instant::now() + delay, buf[..n].to_vec()))
                            .is_err()
                    {
                        break;
                    }
                }
            });
            std::thread::spawn(move || {
                to.set_nodelay(true).ok();
                for (at, data) in rx {
                    std::thread::sleep(at.saturating_duration_since(Instant::now()));
                    if to.write_all(&data).is_err() {
                        break;
                    }
                }
                let _ = to.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    mine
}

/// The account block `rmail fetch` reads.
fn write_rc(home: &Path, name: &str, user: &str, port: u16, cert: &Path) -> PathBuf {
    let rc = home.join("mailrc");
    let mut text = std::fs::read_to_string(&rc).unwrap_or_default();
    text.push_str(&format!(
        "account {name} {{\n  set fetch-url=pop3s://{user}@127.0.0.1:{port}\n  \
         set tls-ca-file={}\n  set password-command=\"echo {user}pass\"\n}}\n",
        cert.display()
    ));
    std::fs::write(&rc, text).unwrap();
    rc
}

/// `rmail fetch ARGS` in the sandbox with MAILRC = `rc`: (exit status, stderr).
fn fetch(home: &Path, rc: &Path, args: &[&str]) -> (i32, String) {
    let o = rmail(home)
        .env("MAILRC", rc)
        .arg("fetch")
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The Message-IDs in an mbox, read by Python's `mailbox.mbox`.
fn message_ids(mbox: &Path) -> Vec<String> {
    let (ok, out) = python(
        "import mailbox, sys\nfor m in mailbox.mbox(sys.argv[1]): print(m['Message-ID'])",
        &[mbox.display().to_string()],
    );
    assert!(ok, "{out}");
    out.lines().map(str::to_owned).collect()
}

/// `--keep` twice: each message once in the local mailbox (the second run takes only what
/// arrived in between), everything still on the server; then a run without `--keep`
/// deletes what it downloaded and leaves the messages kept earlier; a run while another
/// holds the account's lock is refused.
#[test]
fn fetch_keep_never_duplicates_and_delete_removes_what_was_fetched() {
    if !peers() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (s, cert) = start(dir.path());
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let rc = write_rc(&home, "work", "bob", s.port("pop3s"), &cert);
    let local = home.join("spool");

    deliver(
        &s,
        "bob",
        &[
            msg("k1", "one", "From the start\n>From quoted\n"),
            msg("k2", "two", "2\n"),
        ],
        2,
    );
    let (code, err) = fetch(&home, &rc, &["work", "--keep", "-v"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("fetched 2 messages from 127.0.0.1 into") && err.contains("spool"),
        "{err}"
    );
    assert_eq!(message_ids(&local), ["<k1@test>", "<k2@test>"]);
    let state = home.join(".local/state/rmail/fetch/work.uidl");
    assert_eq!(std::fs::read_to_string(&state).unwrap().lines().count(), 2);

    deliver(&s, "bob", &[msg("k3", "three", "3\n")], 3);
    let (code, err) = fetch(&home, &rc, &["work", "--keep", "-v"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("fetched 1 message from"), "{err}");
    let (code, err) = fetch(&home, &rc, &["work", "--keep"]);
    assert_eq!((code, err.as_str()), (0, ""), "quiet when not a terminal");
    assert_eq!(message_ids(&local), ["<k1@test>", "<k2@test>", "<k3@test>"]);
    assert_eq!(from_lines(&s.mailbox("bob")), 3, "--keep deletes nothing");
    // mboxrd quoting of the body's From lines.
    let raw = std::fs::read_to_string(&local).unwrap();
    assert!(raw.contains("\n>From the start\n>>From quoted\n"), "{raw}");
    assert!(raw.starts_with("From sender@example.org "), "{raw}");

    // Without --keep: the new message is fetched and deleted; the kept ones stay.
    deliver(&s, "bob", &[msg("k4", "four", "4\n")], 4);
    let (code, err) = fetch(&home, &rc, &["work", "-v"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("fetched 1 message"), "{err}");
    assert!(wait_exactly(&s, "bob", 3), "{}", s.mailbox("bob"));
    assert!(!s.mailbox("bob").contains("<k4@test>"));
    assert_eq!(message_ids(&local).len(), 4);
    let (code, err) = fetch(&home, &rc, &["work", "-v"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("no new mail"), "{err}");

    // While another run holds the account's lock, a run is refused and touches nothing.
    deliver(&s, "bob", &[msg("k5", "five", "5\n")], 4);
    let lock = std::fs::File::create(state.with_extension("uidl.lock")).unwrap();
    lock.try_lock().unwrap();
    let (code, err) = fetch(&home, &rc, &["work", "-v"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("rmail fetch: another rmail fetch for this account is running"),
        "{err}"
    );
    assert_eq!(message_ids(&local).len(), 4);
    drop(lock);
    let (code, err) = fetch(&home, &rc, &["work", "-v"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("fetched 1 message"), "{err}");
}

/// A fresh account without `--keep` empties the server into `--mailbox`; a URL operand
/// works too; a missing `fetch-url` or a wrong password is exit 1 with a clear message.
#[test]
fn fetch_without_keep_empties_the_server() {
    if !peers() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (s, cert) = start(dir.path());
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let rc = write_rc(&home, "al", "alice", s.port("pop3s"), &cert);
    deliver(
        &s,
        "alice",
        &[msg("d1", "one", "1\n"), msg("d2", "two", "2\n")],
        2,
    );
    let target = home.join("Mail/inbox");
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    let t = target.display().to_string();
    let (code, err) = fetch(&home, &rc, &["al", "--mailbox", &t]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(message_ids(&target), ["<d1@test>", "<d2@test>"]);
    assert!(wait_exactly(&s, "alice", 0), "{}", s.mailbox("alice"));
    let (code, err) = fetch(&home, &rc, &["al", "-v", "--mailbox", &t]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("no new mail"), "{err}");

    // A URL operand, with the global variables of the start-up file.
    deliver(&s, "alice", &[msg("d3", "three", "3\n")], 1);
    std::fs::write(
        home.join("rc2"),
        format!(
            "set tls-ca-file={}\nset password-command=\"echo alicepass\"\n\
             account empty {{\n  set from=a@b\n}}\n",
            cert.display()
        ),
    )
    .unwrap();
    let url = format!("pop3s://alice@127.0.0.1:{}", s.port("pop3s"));
    let (code, err) = fetch(&home, &home.join("rc2"), &[&url, "-m", &t]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(message_ids(&target).len(), 3);
    assert!(home
        .join(".local/state/rmail/fetch/alice@127.0.0.1.uidl")
        .exists());

    let (code, err) = fetch(&home, &home.join("rc2"), &["empty"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("account empty") && err.contains("fetch-url"),
        "{err}"
    );

    std::fs::write(
        home.join("rc3"),
        format!(
            "account bad {{\n  set fetch-url={url}\n  set tls-ca-file={}\n  \
             set password-command=\"echo nope\"\n}}\n",
            cert.display()
        ),
    )
    .unwrap();
    let (code, err) = fetch(&home, &home.join("rc3"), &["bad"]);
    assert_eq!(code, 1);
    assert!(err.contains("login as alice at 127.0.0.1 refused"), "{err}");
}
