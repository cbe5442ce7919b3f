//! Send mode (`echo body | rmail -s subject user`), issue 3: local delivery read back by
//! rmail and s-nail, the sendmail transport through a recording fake sendmail, and every
//! failure path ending in `dead.letter` with a non-zero exit status.

use crate::util::{
    fake_sendmail, nonempty_lines, require_peer, rmail, run_rmail, run_script, sandbox_env,
};

#[test]
fn seed_line_delivers_locally_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run_rmail(
        dir.path(),
        &["-n", "-S", "mta=local", "-s", "test2", "tester"],
        "nihao\n",
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run_rmail(
        dir.path(),
        &["-n", "-S", "mta=local", "-s", "second", "tester@localhost"],
        "From the shed\n",
    );
    assert_eq!(code, 0, "{err}");
    let spool = dir.path().join("spool");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&spool).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let (code, out, _) = run_rmail(dir.path(), &["-n", "-H"], "");
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(
        out.contains("\"test2\"") && out.contains("tester@"),
        "{out}"
    );
    let (_, out, _) = run_rmail(dir.path(), &["-n", "-N"], "p 1\np 2\nx\n");
    assert!(
        out.contains("Subject: test2\n") && out.contains("\nnihao\n"),
        "{out}"
    );
    assert!(out.contains("\nFrom the shed\n"), "{out}");
    if let Some(snail) = require_peer("s-nail") {
        let mut c = std::process::Command::new(snail);
        sandbox_env(&mut c, dir.path());
        c.args(["-n", "-H", "-f"]).arg(&spool);
        let o = run_script(c, "");
        assert_eq!(
            nonempty_lines(&o.stdout),
            2,
            "{}",
            String::from_utf8_lossy(&o.stdout)
        );
    }
}

#[test]
fn sendmail_transport_gets_envelope_and_message() {
    let dir = tempfile::tempdir().unwrap();
    let sm = fake_sendmail(dir.path(), 0);
    let (code, _, err) = run_rmail(
        dir.path(),
        &[
            "-n",
            "-S",
            &format!("mta={sm}"),
            "-s",
            "hello",
            "-c",
            "c1@x.org, C Two <c2@x.org>",
            "-b",
            "hidden@x.org",
            "-r",
            "me@example.com",
            "--",
            "a@example.com",
            "-dash@example.com",
        ],
        "body line\n.\nlast\n",
    );
    assert_eq!(code, 0, "{err}");
    let argv = std::fs::read_to_string(dir.path().join("argv")).unwrap();
    assert_eq!(
        argv.lines().collect::<Vec<_>>(),
        [
            "-oi",
            "-f",
            "me@example.com",
            "--",
            "a@example.com",
            "-dash@example.com",
            "c1@x.org",
            "c2@x.org",
            "hidden@x.org"
        ]
    );
    let msg = std::fs::read_to_string(dir.path().join("stdin")).unwrap();
    assert!(msg.contains("Subject: hello\n"), "{msg}");
    assert!(!msg.to_ascii_lowercase().contains("bcc"), "{msg}");
    assert!(msg.contains("\nbody line\n.\nlast\n"), "{msg}");
}

#[test]
fn failures_keep_the_message_in_dead_letter() {
    let dir = tempfile::tempdir().unwrap();
    let sm = fake_sendmail(dir.path(), 75);
    let (code, _, err) = run_rmail(
        dir.path(),
        &[
            "-n",
            "-S",
            &format!("mta={sm}"),
            "-s",
            "lost?",
            "a@example.com",
        ],
        "keep me\n",
    );
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("message not sent"), "{err}");
    let dead = std::fs::read_to_string(dir.path().join("dead.letter")).unwrap();
    assert!(
        dead.starts_with("From ") && dead.contains("keep me"),
        "{dead}"
    );
    // mta=local cannot reach a remote address.
    let (code, _, err) = run_rmail(
        dir.path(),
        &["-n", "-S", "mta=local", "-s", "x", "a@example.org"],
        "second\n",
    );
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("not a local address"), "{err}");
    let dead = std::fs::read_to_string(dir.path().join("dead.letter")).unwrap();
    assert!(
        dead.contains("keep me") && dead.contains("second"),
        "{dead}"
    );
    assert!(!dir.path().join("spool").exists());
}

#[test]
fn usage_errors_send_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let sm = fake_sendmail(dir.path(), 0);
    let mta = format!("mta={sm}");
    let (code, _, err) = run_rmail(dir.path(), &["-n", "-s", "x"], "body\n");
    assert_eq!(code, 64, "{err}");
    assert!(err.contains("no recipients"), "{err}");
    let (code, _, err) = run_rmail(
        dir.path(),
        &["-n", "-S", &mta, "-s", "a\nBcc: evil@x.org", "a@x.org"],
        "b\n",
    );
    assert_eq!(code, 64, "{err}");
    let (code, _, err) = run_rmail(
        dir.path(),
        &["-n", "-S", &mta, "-a", "/nonexistent/file", "a@x.org"],
        "b\n",
    );
    assert_eq!(code, 64, "{err}");
    assert!(
        !dir.path().join("argv").exists(),
        "nothing may reach sendmail"
    );
    let (code, _, _) = run_rmail(
        dir.path(),
        &["-n", "-S", &mta, "-E", "-s", "empty", "a@x.org"],
        "",
    );
    assert_eq!(code, 0);
    assert!(
        !dir.path().join("argv").exists(),
        "-E must not send an empty body"
    );
}

#[test]
fn template_mode_reads_recipients_from_the_header() {
    let dir = tempfile::tempdir().unwrap();
    let sm = fake_sendmail(dir.path(), 0);
    let (code, _, err) = run_rmail(
        dir.path(),
        &["-n", "-S", &format!("mta={sm}"), "-t"],
        "To: a@x.org\nCc: b@x.org\nBcc: c@x.org\nSubject: from template\n\nhi\n",
    );
    assert_eq!(code, 0, "{err}");
    let argv = std::fs::read_to_string(dir.path().join("argv")).unwrap();
    assert!(argv.ends_with("a@x.org\nb@x.org\nc@x.org\n"), "{argv}");
    let msg = std::fs::read_to_string(dir.path().join("stdin")).unwrap();
    assert!(
        msg.contains("Subject: from template\n") && msg.ends_with("\nhi\n"),
        "{msg}"
    );
}

/// `rmail deliver USER`: an ordinary user may deliver only into its own mailbox; root
/// becomes USER first (here root itself, so the mailbox is root's, 0600).
#[test]
fn deliver_agent_writes_only_as_the_recipient() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = rmail(dir.path());
    c.env("RMAIL_SPOOL_DIR", dir.path())
        .args(["deliver", "-f", "a@x", "root"]);
    let o = run_script(c, "Subject: hi\n\nbody\n");
    if rustix::process::geteuid().is_root() {
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let m = std::fs::metadata(dir.path().join("root")).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!((m.uid(), m.mode() & 0o777), (0, 0o600));
    } else {
        // root is another user: refused, nothing written.
        assert_eq!(
            o.status.code(),
            Some(77),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(!dir.path().join("root").exists());
    }
    let mut c = rmail(dir.path());
    c.env("RMAIL_SPOOL_DIR", dir.path())
        .args(["deliver", "no-such-user-rmail"]);
    let o = run_script(c, "x\n");
    assert_eq!(o.status.code(), Some(67));
}

/// Root running `rmail deliver nobody` writes nobody's mailbox as nobody.
#[test]
fn deliver_as_root_becomes_the_recipient() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("SKIP: needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let mut c = rmail(dir.path());
    c.env("RMAIL_SPOOL_DIR", dir.path())
        .args(["deliver", "-f", "a@x", "nobody"]);
    let o = run_script(c, "Subject: hi\n\nbody\n");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let m = std::fs::metadata(dir.path().join("nobody")).unwrap();
    let (uid, _, _) = rmail::server::privsep::account("nobody").unwrap();
    assert_eq!((m.uid(), m.mode() & 0o777), (uid, 0o600));
}

/// Body lines that look like `From_` separators are mboxrd-quoted on delivery: the message
/// stays one message for every mbox reader, and rmail shows the body exactly as sent.
#[test]
fn from_lines_in_bodies_survive_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let body = "From me\n>From x\n>>From y\n\nFrom a@b Mon Jan  1 10:00:00 2024\nend\n";
    let (code, _, err) = run_rmail(
        dir.path(),
        &["-n", "-S", "mta=local", "-s", "t", "tester"],
        body,
    );
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = run_rmail(dir.path(), &["-n", "-N"], "p 1\nx\n");
    assert!(out.contains(&format!("\n\n{body}")), "{out}");
    if let Some(py) = require_peer("python3") {
        let o = std::process::Command::new(py)
            .args([
                "-c",
                "import mailbox,sys; print(len(mailbox.mbox(sys.argv[1])))",
            ])
            .arg(dir.path().join("spool"))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "1");
    }
}

/// A planted link or someone else's file in the spool is never written (root delivering to
/// another user).
#[test]
fn root_refuses_a_linked_or_foreign_mailbox() {
    use std::os::unix::fs::PermissionsExt;
    if !rustix::process::geteuid().is_root() || rmail::send::lookup_user("nobody").is_none() {
        eprintln!("SKIP: needs root and the user nobody");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool-dir");
    std::fs::create_dir(&spool).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    std::os::unix::fs::symlink(&victim, spool.join("nobody")).unwrap();
    let mut c = rmail(dir.path());
    c.env("RMAIL_SPOOL_DIR", &spool)
        .args(["-n", "-S", "mta=local", "-s", "x", "nobody@localhost"]);
    let o = run_script(c, "payload\n");
    assert_eq!(
        o.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    // A regular file owned by root (not by nobody) is refused too.
    std::fs::remove_file(spool.join("nobody")).unwrap();
    std::fs::write(spool.join("nobody"), "").unwrap();
    let mut c = rmail(dir.path());
    c.env("RMAIL_SPOOL_DIR", &spool)
        .args(["-n", "-S", "mta=local", "-s", "x", "nobody@localhost"]);
    let o = run_script(c, "payload\n");
    assert_eq!(o.status.code(), Some(4));
    assert_eq!(std::fs::read_to_string(spool.join("nobody")).unwrap(), "");
}

/// An unknown local user among the recipients stops the delivery before anyone gets a copy.
#[test]
fn unknown_local_user_delivers_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run_rmail(
        dir.path(),
        &[
            "-n",
            "-S",
            "mta=local",
            "-s",
            "x",
            "tester",
            "no-such-user-rmail",
        ],
        "once\n",
    );
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("no such local user"), "{err}");
    assert!(!dir.path().join("spool").exists(), "nobody may get a copy");
}

/// The sent bytes parsed by Python's `email` package (an independent parser): a Chinese
/// subject round-trips, an attachment with every byte value comes out identical, and a long
/// line is QP-encoded but decodes back.
#[test]
fn sent_message_parses_with_python_email() {
    let Some(py) = require_peer("python3") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sm = fake_sendmail(dir.path(), 0);
    let att = dir.path().join("报告.bin");
    let data: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    std::fs::write(&att, &data).unwrap();
    let long = "x".repeat(2000);
    let (code, _, err) = run_rmail(
        dir.path(),
        &[
            "-n",
            "-S",
            &format!("mta={sm}"),
            "-s",
            "测试 中文 subject",
            "-a",
            att.to_str().unwrap(),
            "张三 <z@example.com>",
        ],
        &format!("你好\n{long}\n.\n"),
    );
    assert_eq!(code, 0, "{err}");
    let script = r#"
import email, email.policy, hashlib, sys
m = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=email.policy.default)
assert m['subject'] == '测试 中文 subject', repr(m['subject'])
assert m['to'].addresses[0].display_name == '张三', m['to']
assert 'bcc' not in m
parts = list(m.iter_parts())
body = parts[0].get_content()
assert body.startswith('你好\n' + 'x' * 2000 + '\n.\n'), repr(body[:80])
assert parts[1].get_filename() == '报告.bin', parts[1].get_filename()
print(hashlib.sha256(parts[1].get_content()).hexdigest())
"#;
    let o = std::process::Command::new(py)
        .arg("-c")
        .arg(script)
        .arg(dir.path().join("stdin"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let want = {
        // sha256 via Python too, so the test needs no hashing crate.
        let o = std::process::Command::new(require_peer("python3").unwrap())
            .args(["-c", "import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],'rb').read()).hexdigest())"])
            .arg(&att)
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert_eq!(String::from_utf8_lossy(&o.stdout), want);
}

#[test]
fn header_injection_through_any_option_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let sm = fake_sendmail(dir.path(), 0);
    let mta = format!("mta={sm}");
    for args in [
        vec!["-s", "ok", "-c", "a@x.org\nBcc: evil@x.org", "b@x.org"],
        vec!["-s", "ok", "-r", "me@x.org\r\nBcc: evil@x.org", "b@x.org"],
        vec!["-s", "ok", "b@x.org\nBcc: evil@x.org"],
        vec!["-s", "ok\rBcc: evil@x.org", "b@x.org"],
    ] {
        let mut all = vec!["-n", "-S", &mta];
        all.extend(args.iter().copied());
        let (code, _, err) = run_rmail(dir.path(), &all, "body\n");
        assert_eq!(code, 64, "{args:?}: {err}");
        assert!(
            !dir.path().join("argv").exists(),
            "{args:?} reached sendmail"
        );
    }
}

/// As root, mail to another local user is written by `rmail deliver` running as that user:
/// the mailbox belongs to the user, mode 0600, never to root.
#[test]
fn root_delivers_to_another_user_as_that_user() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    if !rustix::process::geteuid().is_root() {
        eprintln!("SKIP: needs root (delivery as another user)");
        return;
    }
    let Some((uid, _)) = rmail::send::lookup_user("nobody") else {
        eprintln!("SKIP: no user nobody");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool-dir");
    std::fs::create_dir(&spool).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&spool, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut c = rmail(dir.path());
    c.env("RMAIL_SPOOL_DIR", &spool).args([
        "-n",
        "-S",
        "mta=local",
        "-s",
        "for nobody",
        "nobody@localhost",
    ]);
    let o = run_script(c, "hello nobody\n");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mb = spool.join("nobody");
    let meta = std::fs::metadata(&mb).unwrap();
    assert_eq!(meta.uid(), uid);
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let text = std::fs::read_to_string(&mb).unwrap();
    assert!(
        text.contains("Subject: for nobody\n") && text.contains("\nhello nobody\n"),
        "{text}"
    );
}

/// mailx: on a terminal the first ^C while composing warns, a second one abandons the
/// letter and keeps it in dead.letter; nothing is sent and the exit status is 1.
#[test]
fn double_interrupt_keeps_the_draft_in_dead_letter() {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = crate::util::rmail(home.path());
    cmd.args(["-S", "mta=local", "-s", "subject given", "tester"]);
    let mut p = crate::util::PtyChild::spawn(cmd);
    p.type_bytes(b"first line of the draft\n");
    std::thread::sleep(std::time::Duration::from_millis(300));
    p.type_bytes(b"\x03");
    assert!(
        p.wait_for("(Interrupt -- one more to kill letter)"),
        "{}",
        p.output()
    );
    p.type_bytes(b"\x03");
    let st = p.wait();
    assert_eq!(st.code(), Some(1), "{}", p.output());
    let dead = std::fs::read_to_string(home.path().join("dead.letter")).unwrap_or_default();
    assert!(
        dead.contains("first line of the draft"),
        "dead.letter: {dead:?}"
    );
    assert!(
        !home.path().join("spool").exists(),
        "something was delivered"
    );
}

/// A line typed between two interrupts resets the count: one more ^C only warns again.
#[test]
fn interrupt_count_resets_after_a_line() {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = crate::util::rmail(home.path());
    cmd.args(["-S", "mta=local", "-s", "s", "tester"]);
    let mut p = crate::util::PtyChild::spawn(cmd);
    p.type_bytes(b"one\n");
    std::thread::sleep(std::time::Duration::from_millis(300));
    p.type_bytes(b"\x03");
    assert!(p.wait_for("one more to kill letter"), "{}", p.output());
    p.type_bytes(b"two\n");
    std::thread::sleep(std::time::Duration::from_millis(200));
    p.type_bytes(b"\x03");
    std::thread::sleep(std::time::Duration::from_millis(200));
    p.type_bytes(b".\n");
    let st = p.wait();
    assert_eq!(st.code(), Some(0), "{}", p.output());
    let spool = std::fs::read_to_string(home.path().join("spool")).unwrap();
    assert!(spool.contains("one\ntwo\n"), "{spool}");
}
