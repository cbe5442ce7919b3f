//! Provider presets and accounts: `rmail presets`, `rmail account add`, `account NAME { … }`
//! blocks in start-up files, the `account` command and `-A NAME`.

use crate::util::{fake_sendmail, rmail, run_rmail, run_script};
use std::path::Path;

const QQ_BLOCK: &str = "account qq {\n  set from=\"alice@qq.com\"\n  \
set mta=smtps://alice%40qq.com@smtp.qq.com:465\n  set smtp-auth-user=\"alice@qq.com\"\n  \
set inbox=imaps://alice%40qq.com@imap.qq.com:993/INBOX\n  \
set folder=imaps://alice%40qq.com@imap.qq.com:993\n  \
set fetch-url=pop3s://alice%40qq.com@pop.qq.com:995\n  \
# set password-command=\"pass show mail/qq\"\n}\n";

/// `rmail ARGS` with MAILRC = `rc`, stdin `script`.
fn run_rc(home: &Path, rc: &Path, args: &[&str], script: &str) -> (i32, String, String) {
    let mut c = rmail(home);
    c.env("MAILRC", rc).args(args);
    let o = run_script(c, script);
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn presets_lists_every_preset_with_rfc8314_ports() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = run_rmail(dir.path(), &["presets"], "");
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains(".comm"), "{out}");
    assert!(!out.contains("live.com:"), "{out}");
    for p in rmail::config::presets::PRESETS {
        let line = out
            .lines()
            .find(|l| l.split_whitespace().next() == Some(p.name))
            .unwrap_or_else(|| panic!("{} missing:\n{out}", p.name));
        assert!(line.contains(":993"), "{line}");
        assert!(
            line.contains(":465 SSL/TLS") || line.contains(":587 STARTTLS"),
            "{line}"
        );
        if p.pop3.is_some() {
            assert!(line.contains(":995"), "{line}");
        }
    }
    let line = |name: &str| {
        out.lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap()
            .to_owned()
    };
    assert!(line("163").contains("authorization code, IMAP ID"));
    assert!(line("outlook").contains("smtp-mail.outlook.com:587 STARTTLS"));
    assert!(line("outlook").contains("outlook.office365.com:995"));
    assert!(line("icloud").contains("  -  "), "{}", line("icloud"));
}

#[test]
fn account_add_writes_the_block_and_refuses_a_second_one() {
    let dir = tempfile::tempdir().unwrap();
    let rc = dir.path().join("mailrc");
    let (code, out, err) = run_rc(
        dir.path(),
        &rc,
        &["account", "add", "qq", "alice@qq.com"],
        "",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read_to_string(&rc).unwrap(), QQ_BLOCK);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&rc).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(out.contains(QQ_BLOCK), "{out}");
    assert!(out.contains("authorization code"), "{out}");

    let (code, _, err) = run_rc(dir.path(), &rc, &["account", "add", "qq", "bob@qq.com"], "");
    assert_eq!(code, 64);
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(std::fs::read_to_string(&rc).unwrap(), QQ_BLOCK);

    // Another name appends after a blank line; STARTTLS presets use submission://.
    let (code, out, err) = run_rc(
        dir.path(),
        &rc,
        &[
            "account",
            "add",
            "outlook",
            "b@hotmail.com",
            "--name",
            "work",
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("OAuth2"), "{out}");
    let text = std::fs::read_to_string(&rc).unwrap();
    assert!(
        text.starts_with(&format!("{QQ_BLOCK}\naccount work {{\n")),
        "{text}"
    );
    assert!(text.contains("set mta=submission://b%40hotmail.com@smtp-mail.outlook.com:587\n"));
}

#[test]
fn account_add_refuses_bad_input_and_keeps_existing_lines() {
    let dir = tempfile::tempdir().unwrap();
    let rc = dir.path().join("mailrc");
    std::fs::write(&rc, "set hold").unwrap();
    for args in [
        &["account", "add", "nope", "a@b.c"][..],
        &["account", "add", "qq", "not-an-address"],
        &["account", "add", "qq", "a\"@qq.com"],
        &["account", "add", "qq", "a@qq.com", "--name", "x {"],
    ] {
        let (code, _, err) = run_rc(dir.path(), &rc, args, "");
        assert_eq!(code, 64, "{args:?}: {err}");
    }
    assert_eq!(std::fs::read_to_string(&rc).unwrap(), "set hold");
    let (code, _, err) = run_rc(
        dir.path(),
        &rc,
        &["account", "add", "qq", "alice@qq.com"],
        "",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        std::fs::read_to_string(&rc).unwrap(),
        format!("set hold\n\n{QQ_BLOCK}")
    );
}

#[test]
fn dash_a_applies_the_account_in_send_mode_and_dash_s_wins() {
    let dir = tempfile::tempdir().unwrap();
    let rc = dir.path().join("mailrc");
    std::fs::write(&rc, QQ_BLOCK).unwrap();
    let sm = fake_sendmail(dir.path(), 0);
    // The account sets mta=smtps://…; -S is applied after -A, so the fake sendmail is used.
    let (code, _, err) = run_rc(
        dir.path(),
        &rc,
        &[
            "-A",
            "qq",
            "-n",
            "-S",
            &format!("mta={sm}"),
            "-s",
            "x",
            "tester",
        ],
        "hello\n",
    );
    assert_eq!(code, 0, "{err}");
    let sent = std::fs::read_to_string(dir.path().join("stdin")).unwrap();
    assert!(
        sent.contains("From: alice@qq.com\r\n") || sent.contains("From: alice@qq.com\n"),
        "{sent}"
    );

    // Without -A the block is stored, not run.
    let (code, _, err) = run_rc(
        dir.path(),
        &rc,
        &["-n", "-S", &format!("mta={sm}"), "-s", "x", "tester"],
        "hello\n",
    );
    assert_eq!(code, 0, "{err}");
    let sent = std::fs::read_to_string(dir.path().join("stdin")).unwrap();
    assert!(!sent.contains("alice@qq.com"), "{sent}");
}

#[test]
fn unknown_account_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let rc = dir.path().join("mailrc");
    std::fs::write(&rc, QQ_BLOCK).unwrap();
    let (code, _, err) = run_rc(
        dir.path(),
        &rc,
        &["-A", "nope", "-n", "-s", "x", "tester"],
        "hi\n",
    );
    assert_eq!(code, 64);
    assert!(err.contains("no such account: \"nope\""), "{err}");
    assert!(!dir.path().join("dead.letter").exists());
    let (code, _, err) = run_rc(dir.path(), &rc, &["-A", "nope", "-n", "-H"], "");
    assert_eq!(code, 64, "{err}");
}

#[test]
fn account_command_at_the_prompt_sets_the_variables() {
    let dir = tempfile::tempdir().unwrap();
    let rc = dir.path().join("mailrc");
    std::fs::write(&rc, format!("set hold\n{QQ_BLOCK}")).unwrap();
    let mbox = dir.path().join("box");
    std::fs::write(
        &mbox,
        "From a@b Fri Mar 22 13:01:00 2024\nFrom: a@b\nSubject: s\n\nbody\n\n",
    )
    .unwrap();
    let mbox = mbox.display().to_string();
    let (code, out, err) = run_rc(
        dir.path(),
        &rc,
        &["-n", "-N", "-f", &mbox],
        "set\necho ---\naccount qq\nset\necho ---\naccount\naccount nope\nq\n",
    );
    assert_eq!(code, 0, "{err}");
    let parts: Vec<&str> = out.split("---\n").collect();
    assert!(!parts[0].contains("alice@qq.com"), "{out}");
    assert!(parts[1].contains("from=\"alice@qq.com\""), "{out}");
    assert!(
        parts[1].contains("smtp-auth-user=\"alice@qq.com\""),
        "{out}"
    );
    assert!(
        parts[1].contains("mta=\"smtps://alice%40qq.com@smtp.qq.com:465\""),
        "{out}"
    );
    assert!(
        parts[2].starts_with("account qq {\n  set from=\"alice@qq.com\"\n"),
        "{out}"
    );
    assert!(err.contains("no such account: \"nope\""), "{err}");
}

#[test]
fn malformed_blocks_are_reported_and_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let rc = dir.path().join("mailrc");
    std::fs::write(
        &rc,
        "account a {\naccount b {\nset x\n}\n}\nset after\naccount c {\nset y\n",
    )
    .unwrap();
    let (code, out, err) = run_rc(dir.path(), &rc, &["-n", "-N", "-f", "/dev/null"], "");
    let _ = (code, out);
    assert!(
        err.contains("nested account blocks are not allowed"),
        "{err}"
    );
    assert!(err.contains("account c: missing \"}\""), "{err}");
    let (_, _, err) = run_rc(
        dir.path(),
        &rc,
        &["-A", "a", "-n", "-s", "x", "tester"],
        "hi\n",
    );
    assert!(err.contains("no such account: \"a\""), "{err}");
}
