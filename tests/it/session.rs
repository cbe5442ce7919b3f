//! Reader session behaviour found by trying to break it (regression tests for issue 2's
//! review): `source` loops, huge rc files, the current message after deleting the last one,
//! `-v`, `COLUMNS`.

use crate::util::{rmail, run_script};
use std::path::Path;

const THREE: &str = "From a@x Mon Jan  1 10:00:00 2024\nFrom: a@x\nSubject: one\n\n1\n\n\
From b@x Mon Jan  1 11:00:00 2024\nFrom: b@x\nSubject: two\n\n2\n\n\
From c@x Mon Jan  1 12:00:00 2024\nFrom: c@x\nSubject: three\n\n3\n";

use crate::util::run_rmail as run;

fn folder(dir: &Path) -> String {
    let p = dir.join("f.mbox");
    std::fs::write(&p, THREE).unwrap();
    p.display().to_string()
}

#[test]
fn source_loop_stops_with_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let f = folder(dir.path());
    let rc = dir.path().join("loop.rc");
    std::fs::write(&rc, format!("set x\nsource {}\n", rc.display())).unwrap();
    let (code, _, err) = run(
        dir.path(),
        &["-n", "-N", "-f", &f],
        &format!("source {}\nx\n", rc.display()),
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("Too much \"source\"ing going on"), "{err}");
}

#[test]
fn oversized_rc_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let f = folder(dir.path());
    let big = dir.path().join("big.rc");
    std::fs::write(&big, "#".repeat(2 << 20)).unwrap();
    let (code, _, err) = run(
        dir.path(),
        &["-n", "-N", "-f", &f],
        &format!("source {}\nx\n", big.display()),
    );
    assert_eq!(code, 0);
    assert!(err.contains("not read"), "{err}");
}

#[test]
fn deleting_the_last_message_moves_back() {
    let dir = tempfile::tempdir().unwrap();
    let f = folder(dir.path());
    let (_, out, err) = run(dir.path(), &["-n", "-N", "-f", &f], "3\nd\n=\np\nn\nx\n");
    assert!(out.contains("\n2\nMessage  2:\n"), "{out}\n{err}");
    assert!(out.trim_end().ends_with("At EOF"), "{out}");
}

#[test]
fn verbose_reports_indexing_and_write_back() {
    let dir = tempfile::tempdir().unwrap();
    let f = folder(dir.path());
    let (_, _, err) = run(dir.path(), &["-n", "-N", "-v", "-f", &f], "d 1\nq\n");
    assert!(err.contains("3 messages indexed"), "{err}");
    assert!(err.contains("written back: 2 kept, 1 removed"), "{err}");
}

#[test]
fn columns_sets_the_width_when_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let f = folder(dir.path());
    let mut c = rmail(dir.path());
    c.env("COLUMNS", "30").args(["-n", "-H", "-f", &f]);
    let o = run_script(c, "");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.lines().all(|l| l.chars().count() <= 29), "{out}");
}

#[test]
fn unknown_command_is_not_echoed_whole() {
    let dir = tempfile::tempdir().unwrap();
    let f = folder(dir.path());
    let long = "a".repeat(10_000);
    let (_, _, err) = run(dir.path(), &["-n", "-N", "-f", &f], &format!("{long}\nx\n"));
    assert!(err.len() < 200, "{}", err.len());
}

/// Regression: quitting with read mail and no `append` used to fold the old `~/mbox` into one
/// message. POSIX mailx puts the new messages first; every old one must survive unchanged.
#[test]
fn mbox_prepend_keeps_every_old_message() {
    let dir = tempfile::tempdir().unwrap();
    let old = THREE.replace("Subject: ", "Subject: old ");
    std::fs::write(dir.path().join("mbox"), &old).unwrap();
    let spool = THREE
        .replace("Status", "X")
        .replace("\n\n1\n", "\nStatus: RO\n\n1\n");
    std::fs::write(dir.path().join("spool"), &spool).unwrap();
    let (code, out, err) = run(dir.path(), &["-n", "-N"], "p 2\nq\n");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Saved 2 messages in"), "{out}");
    let mbox = std::fs::read_to_string(dir.path().join("mbox")).unwrap();
    let subjects: Vec<&str> = mbox
        .lines()
        .filter(|l| l.starts_with("Subject: "))
        .collect();
    assert_eq!(
        subjects,
        [
            "Subject: one",
            "Subject: two",
            "Subject: old one",
            "Subject: old two",
            "Subject: old three"
        ],
        "{mbox}"
    );
    assert!(
        mbox.ends_with(&old[old.find("From b@x").unwrap()..]),
        "{mbox}"
    );
    let spool_after = std::fs::read_to_string(dir.path().join("spool")).unwrap_or_default();
    assert_eq!(
        spool_after.matches("\nSubject: ").count()
            + usize::from(spool_after.starts_with("Subject")),
        1,
        "{spool_after}"
    );
}

#[test]
fn mailbox_without_write_permission_opens_read_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let f = folder(dir.path());
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o444)).unwrap();
    let (code, out, err) = run(dir.path(), &["-n", "-f", &f], "d 1\nq\n");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("3 messages 3 new [Read only]"), "{out}");
    assert_eq!(std::fs::read_to_string(&f).unwrap(), THREE);
}

#[test]
fn headline_t_and_datefield_format() {
    let dir = tempfile::tempdir().unwrap();
    let mbox = "From a@x Tue Jan  2 10:00:00 2024\nFrom: a@x\nDate: Tue, 02 Jan 2024 10:00:00 +0000\nSubject: one\n\n1\n";
    let f = dir.path().join("f");
    std::fs::write(&f, mbox).unwrap();
    let f = f.display().to_string();
    let (_, out, err) = run(
        dir.path(),
        &["-n", "-N", "-f", &f],
        "set headline=\"%t|%e|%d|%s\" datefield=\"%Y-%m-%d %H:%M\"\nf 1\nset datefield=%Q\nf 1\nx\n",
    );
    assert_eq!(
        out.lines().nth(1),
        Some("1|0|2024-01-02 10:00|one"),
        "{out}{err}"
    );
    assert_eq!(
        out.lines().nth(2),
        Some("1|0|Tue Jan  2 10:00|one"),
        "{out}{err}"
    );
}

/// A SIGTERM or SIGHUP while the mailbox is being indexed (lock held) must not leave a stale
/// dotlock: the signal waits until the lock is released.
#[test]
fn termination_during_indexing_leaves_no_lock() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("big");
    let mut data = Vec::with_capacity(60 << 20);
    let body = "the quick brown fox jumps over the lazy dog\n".repeat(60);
    for k in 0..20_000 {
        data.extend_from_slice(
            format!("From a{k}@x Mon Jan  1 10:00:00 2024\nFrom: a{k}@x\nSubject: {k}\n\n{body}\n")
                .as_bytes(),
        );
    }
    std::fs::write(&f, &data).unwrap();
    for (sig, delay) in [("TERM", 5u64), ("HUP", 30), ("TERM", 80), ("HUP", 150)] {
        let mut c = rmail(dir.path());
        c.args(["-n", "-N", "-f"])
            .arg(&f)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        // The test may itself run under nohup (SIGHUP ignored, inherited through exec):
        // give the reader the default actions it would have on a terminal.
        // SAFETY: signal() is async-signal-safe.
        unsafe {
            use std::os::unix::process::CommandExt;
            c.pre_exec(|| {
                libc::signal(libc::SIGHUP, libc::SIG_DFL);
                libc::signal(libc::SIGTERM, libc::SIG_DFL);
                Ok(())
            });
        }
        let mut child = c.spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay));
        let _ = std::process::Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(child.id().to_string())
            .status();
        drop(child.stdin.take());
        let _ = child.wait();
        let lock = dir.path().join("big.lock");
        assert!(!lock.exists(), "stale dotlock after SIG{sig} at {delay} ms");
        assert_eq!(std::fs::read(&f).unwrap().len(), data.len());
    }
}

/// `showto`: mail from oneself shows its recipient (read from the message on demand, since
/// `To:` is not kept in the index).
#[test]
fn showto_shows_the_recipient_of_own_mail() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("sent");
    std::fs::write(
        &f,
        "From tester@x Mon Jan  1 10:00:00 2024\nFrom: tester@x\nTo: Bob <bob@example.org>\nSubject: s\n\nb\n",
    )
    .unwrap();
    let (_, out, _) = run(
        dir.path(),
        &["-n", "-S", "showto", "-H", "-f", f.to_str().unwrap()],
        "",
    );
    assert!(out.contains("To: bob@example.org"), "{out}");
    let (_, out, _) = run(dir.path(), &["-n", "-H", "-f", f.to_str().unwrap()], "");
    assert!(out.contains("tester@x") && !out.contains("To:"), "{out}");
}

/// `-u USER` reads that user's system mailbox (in the spool directory).
#[test]
fn dash_u_reads_another_users_spool() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lisi"), THREE).unwrap();
    let mut c = rmail(dir.path());
    c.env("RMAIL_SPOOL_DIR", dir.path())
        .args(["-n", "-u", "lisi", "-H"]);
    let o = run_script(c, "");
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(crate::util::nonempty_lines(&o.stdout), 3);
    let mut c = rmail(dir.path());
    c.env("RMAIL_SPOOL_DIR", dir.path())
        .args(["-n", "-u", "nobody-here"]);
    let o = run_script(c, "");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("No mail for nobody-here"));
}

/// `-R`: read-only, whatever `quit` would have done.
#[test]
fn dash_r_never_writes() {
    let dir = tempfile::tempdir().unwrap();
    let f = folder(dir.path());
    let (code, out, _) = run(dir.path(), &["-n", "-R", "-f", &f], "p 1\nd 2\nq\n");
    assert_eq!(code, 0);
    assert!(out.contains("[Read only]"), "{out}");
    assert_eq!(std::fs::read_to_string(&f).unwrap(), THREE);
}

/// Without `keep` an emptied system mailbox is removed; with `keep` it stays, 0 bytes.
#[test]
fn keep_decides_whether_an_empty_mailbox_stays() {
    for keep in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let spool = dir.path().join("spool");
        std::fs::write(&spool, THREE).unwrap();
        let mut args = vec!["-n", "-N"];
        if keep {
            args.extend(["-S", "keep"]);
        }
        let (code, _, err) = run(dir.path(), &args, "d *\nq\n");
        assert_eq!(code, 0, "{err}");
        match keep {
            true => assert_eq!(std::fs::read(&spool).unwrap().len(), 0),
            false => assert!(!spool.exists()),
        }
    }
}

/// `newmail` picks up mail appended while the folder is open.
#[test]
fn newmail_finds_mail_that_arrived() {
    let dir = tempfile::tempdir().unwrap();
    let f = folder(dir.path());
    let extra = dir.path().join("extra");
    std::fs::write(
        &extra,
        "\nFrom d@x Mon Jan  1 13:00:00 2024\nFrom: d@x\nSubject: four\n\n4\n",
    )
    .unwrap();
    let script = format!(
        "newmail\n!cat {} >> {f}\nnewmail\nf 4\nx\n",
        extra.display()
    );
    let (code, out, err) = run(dir.path(), &["-n", "-N", "-f", &f], &script);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("No new mail."), "{out}");
    assert!(
        out.contains("New mail has arrived: 1 new message."),
        "{out}"
    );
    assert!(out.contains("\"four\""), "{out}");
}
