//! Composing from the `&` prompt: `mail`, `reply`/`Reply`, `followup`, and the tilde escapes
//! (issue 3). Mail goes to a recording fake sendmail.

use crate::util::{fake_sendmail, rmail, run_rmail, run_script};
use std::path::Path;

const BOX: &str = "From zhangsan@example.com  Fri Mar 22 13:10:55 2024
From: Zhang San <zhangsan@example.com>
To: tester@example.com, wangwu@example.com
Cc: lisi@example.com
Subject: test2
Message-ID: <orig-1@example.com>
References: <older@example.com>

nihao
second line

";

fn setup() -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("box");
    std::fs::write(&f, BOX).unwrap();
    let mta = format!("mta={}", fake_sendmail(dir.path(), 0));
    (dir, f.display().to_string(), mta)
}

fn sent(dir: &Path) -> (Vec<String>, String) {
    let argv = std::fs::read_to_string(dir.join("argv")).unwrap_or_default();
    let msg = std::fs::read_to_string(dir.join("stdin")).unwrap_or_default();
    (argv.lines().map(str::to_owned).collect(), msg)
}

#[test]
fn reply_goes_to_everyone_and_threads() {
    let (dir, f, mta) = setup();
    let (code, out, err) = run_rmail(
        dir.path(),
        &["-n", "-N", "-S", &mta, "-f", &f],
        "r 1\nthanks\n.\nx\n",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("EOT"), "{out}");
    let (argv, msg) = sent(dir.path());
    assert_eq!(
        &argv[4..],
        [
            "zhangsan@example.com",
            "wangwu@example.com",
            "lisi@example.com"
        ],
        "{argv:?}"
    );
    assert!(msg.contains("Subject: Re: test2\n"), "{msg}");
    assert!(msg.contains("In-Reply-To: <orig-1@example.com>\n"), "{msg}");
    assert!(
        msg.contains("References: <older@example.com> <orig-1@example.com>\n"),
        "{msg}"
    );
    assert!(msg.ends_with("\nthanks\n"), "{msg}");
}

#[test]
fn capital_reply_goes_to_the_sender_only_and_flipr_swaps() {
    let (dir, f, mta) = setup();
    run_rmail(
        dir.path(),
        &["-n", "-N", "-S", &mta, "-f", &f],
        "R 1\nok\n.\nx\n",
    );
    let (argv, _) = sent(dir.path());
    assert_eq!(&argv[4..], ["zhangsan@example.com"]);
    run_rmail(
        dir.path(),
        &["-n", "-N", "-S", &mta, "-S", "flipr", "-f", &f],
        "r 1\nok\n.\nx\n",
    );
    let (argv, _) = sent(dir.path());
    assert_eq!(&argv[4..], ["zhangsan@example.com"]);
}

#[test]
fn mail_command_with_tilde_escapes() {
    let (dir, f, mta) = setup();
    let script = "m a@x.org\nfirst subject\nline one\n~s better subject\n~c c@x.org\n~b b@x.org\n~~tilde line\n~m 1\n~a\n.\nx\n";
    let (code, out, err) = run_rmail(
        dir.path(),
        &[
            "-n",
            "-N",
            "-S",
            &mta,
            "-S",
            "indentprefix=> ",
            "-S",
            "sign=-- \\nme",
            "-f",
            &f,
        ],
        script,
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Interpolating: 1"), "{out}");
    let (argv, msg) = sent(dir.path());
    assert_eq!(&argv[4..], ["a@x.org", "c@x.org", "b@x.org"]);
    assert!(msg.contains("Subject: better subject\n"), "{msg}");
    assert!(
        msg.contains("Cc: c@x.org\n") && !msg.contains("b@x.org"),
        "{msg}"
    );
    assert!(msg.contains("\nline one\n~tilde line\n"), "{msg}");
    assert!(
        msg.contains("> Subject: test2\n") && msg.contains("> nihao\n"),
        "{msg}"
    );
    assert!(msg.contains("\n-- \nme\n"), "{msg}");
}

#[test]
fn tilde_q_saves_and_tilde_x_discards() {
    let (dir, f, mta) = setup();
    run_rmail(
        dir.path(),
        &["-n", "-N", "-S", &mta, "-f", &f],
        "m a@x.org\ns\nkeep this draft\n~q\nx\n",
    );
    assert!(!dir.path().join("argv").exists(), "~q must not send");
    let dead = std::fs::read_to_string(dir.path().join("dead.letter")).unwrap();
    assert!(dead.contains("keep this draft"), "{dead}");
    assert!(
        dead.contains("\nTo: a@x.org\n"),
        "the draft keeps its recipients: {dead}"
    );
    run_rmail(
        dir.path(),
        &["-n", "-N", "-S", &mta, "-f", &f],
        "m a@x.org\ns\nthrow away\n~x\nx\n",
    );
    let dead = std::fs::read_to_string(dir.path().join("dead.letter")).unwrap();
    assert!(!dead.contains("throw away") && !dir.path().join("argv").exists());
}

#[test]
fn followup_keeps_a_copy_named_after_the_recipient() {
    let (dir, f, mta) = setup();
    let mut c = rmail(dir.path());
    c.current_dir(dir.path())
        .args(["-n", "-N", "-S", &mta, "-f", &f]);
    let o = run_script(c, "F 1\nfollowing up\n.\nx\n");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let copy = std::fs::read_to_string(dir.path().join("zhangsan")).unwrap();
    assert!(
        copy.starts_with("From ") && copy.contains("following up"),
        "{copy}"
    );
}

#[test]
fn quote_variable_quotes_the_original() {
    let (dir, f, mta) = setup();
    run_rmail(
        dir.path(),
        &["-n", "-N", "-S", &mta, "-S", "quote", "-f", &f],
        "R 1\nmy answer\n.\nx\n",
    );
    let (_, msg) = sent(dir.path());
    assert!(
        msg.contains("\n\tnihao\n\tsecond line\nmy answer\n"),
        "{msg}"
    );
}

#[test]
fn reply_leaves_out_the_from_address_as_one_of_ours() {
    let (dir, f, mta) = setup();
    let (code, _, err) = run_rmail(
        dir.path(),
        &[
            "-n",
            "-N",
            "-S",
            &mta,
            "-S",
            "from=Wang Wu <WangWu@example.com>",
            "-f",
            &f,
        ],
        "r 1\nthanks\n.\nx\n",
    );
    assert_eq!(code, 0, "{err}");
    let (argv, _) = sent(dir.path());
    assert_eq!(
        &argv[4..],
        ["zhangsan@example.com", "lisi@example.com"],
        "{argv:?}"
    );
}
