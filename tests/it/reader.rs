//! The reader at the `&` prompt, driven through stdin like a script would (golden
//! transcripts: fixture mbox + commands → expected stdout, with LF and CRLF mailboxes).

use crate::util::rmail;
use std::io::Write;
use std::process::Stdio;

/// The seed document's two messages, as Postfix local(8) writes them.
const SEED: &str = "From zhangsan@example.com  Fri Mar 22 13:01:55 2024
Return-Path: <zhangsan@example.com>
X-Original-To: lisi@mail.example.com
Delivered-To: lisi@mail.example.com
Date: Fri, 22 Mar 2024 13:01:55 +0800
To: lisi@mail.example.com, to@example.com
Subject: test
User-Agent: Heirloom mailx 12.5 7/5/10
Content-Type: text/plain; charset=us-ascii
From: zhangsan@example.com
Status: RO

nihao

From zhangsan@example.com  Fri Mar 22 13:10:55 2024
Return-Path: <zhangsan@example.com>
X-Original-To: lisi@mail.example.com
Delivered-To: lisi@mail.example.com
Date: Fri, 22 Mar 2024 13:10:55 +0800
To: lisi@mail.example.com
Subject: test2
User-Agent: Heirloom mailx 12.5 7/5/10
Content-Type: text/plain; charset=us-ascii
From: zhangsan@example.com

nihao

";

fn crlf(s: &str) -> String {
    s.replace('\n', "\r\n")
}

use crate::util::run_rmail as run;

fn with_mbox(content: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("spool");
    std::fs::write(&p, content).unwrap();
    (dir, p)
}

#[test]
fn seed_transcript_summary_and_print() {
    for content in [SEED.to_owned(), crlf(SEED)] {
        let (dir, spool) = with_mbox(&content);
        let (code, out, err) = run(dir.path(), &["-n", "-S", "hold"], "2\nq\n");
        assert_eq!(code, 0, "{err}");
        let spool_name = spool.display().to_string();
        let want_head = format!(
            "\"{spool_name}\": 2 messages 1 new\n\
             \x20O  1 zhangsan@example.com  Fri Mar 22 13:01  14/383   \"test\"\n\
             >N  2 zhangsan@example.com  Fri Mar 22 13:10  13/357   \"test2\"\n\
             Message  2:\n\
             From zhangsan@example.com  Fri Mar 22 13:10:55 2024\n"
        );
        let (lines_crlf, _) = (content.contains('\r'), ());
        if !lines_crlf {
            assert!(out.starts_with(&want_head), "got:\n{out}");
        } else {
            // CRLF counts one more byte per line in the summary.
            assert!(
                out.contains(">N  2 zhangsan@example.com  Fri Mar 22 13:10  13/370   \"test2\""),
                "{out}"
            );
        }
        assert!(out.contains("Subject: test2\n"), "{out}");
        assert!(out.contains("Status: R\n\nnihao\n"), "{out}");
        assert!(
            out.ends_with(&format!("Held 2 messages in {spool_name}\n")),
            "{out}"
        );
        let after = std::fs::read_to_string(&spool).unwrap();
        assert_eq!(after.matches("Status: RO").count(), 2, "{after}");
    }
}

#[test]
fn headers_only_prints_one_line_per_message() {
    let (dir, spool) = with_mbox(SEED);
    let (code, out, err) = run(dir.path(), &["-n", "-H", "-f", spool.to_str().unwrap()], "");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(err.is_empty(), "{err}");
}

#[test]
fn no_mail_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = run(dir.path(), &["-n"], "");
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert_eq!(err.trim(), "No mail for tester");
    let (code, _, _) = run(dir.path(), &["-n", "-e"], "");
    assert_eq!(code, 1);
    std::fs::write(dir.path().join("spool"), SEED).unwrap();
    let (code, out, _) = run(dir.path(), &["-n", "-e"], "");
    assert_eq!((code, out.as_str()), (0, ""));
}

#[test]
fn usage_errors_exit_64() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(dir.path(), &["--no-such-flag"], "");
    assert_eq!(code, 64, "{err}");
    let (code, _, _) = run(dir.path(), &["-f", "a", "b"], "");
    assert_eq!(code, 64);
}

#[test]
fn message_list_errors_and_abbreviations() {
    let (dir, spool) = with_mbox(SEED);
    let f = spool.to_str().unwrap();
    let (code, out, err) = run(
        dir.path(),
        &["-n", "-N", "-f", f],
        "p 9\nd 1\np 1\nu 1\nf 1\nsi 2\n=\nbogus\nx\n",
    );
    assert_eq!(code, 0);
    assert!(err.contains("9: Invalid message number"), "{err}");
    assert!(err.contains("1: Inappropriate message"), "{err}");
    assert!(err.contains("Unknown command: \"bogus\""), "{err}");
    assert!(out.contains(">O  1 zhangsan@example.com"), "{out}");
    assert!(out.contains("2: 13/357\n"), "{out}");
    // x leaves the folder untouched.
    assert_eq!(std::fs::read_to_string(&spool).unwrap(), SEED);
}

#[test]
fn quit_in_system_mailbox_moves_read_mail_to_mbox() {
    let (dir, spool) = with_mbox(SEED);
    let (code, out, err) = run(dir.path(), &["-n", "-N"], "p 2\nq\n");
    assert_eq!(code, 0, "{err}");
    let mbox = dir.path().join("mbox");
    assert!(
        out.contains(&format!("Saved 2 messages in {}", mbox.display())),
        "{out}"
    );
    let moved = std::fs::read_to_string(&mbox).unwrap();
    assert_eq!(moved.matches("\nFrom zhangsan").count() + 1, 2, "{moved}");
    assert!(!spool.exists() || std::fs::read(&spool).unwrap().is_empty());
}

#[test]
fn save_marks_and_appends() {
    let (dir, spool) = with_mbox(SEED);
    let f = spool.to_str().unwrap();
    let target = dir.path().join("saved");
    let (code, out, err) = run(
        dir.path(),
        &["-n", "-N", "-f", f],
        &format!("s 1 {}\nf 1\nq\n", target.display()),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("[New file] 14/383"), "{out}");
    assert!(out.contains("*  1 zhangsan"), "{out}");
    let saved = std::fs::read_to_string(&target).unwrap();
    assert!(saved.starts_with("From zhangsan@example.com  Fri Mar 22 13:01:55 2024\n"));
}

#[test]
fn mailrc_if_else_and_retain() {
    let (dir, spool) = with_mbox(SEED);
    let rc = dir.path().join("rc");
    std::fs::write(
        &rc,
        "# comment\nif r\n  retain subject\nelse\n  set bogus\nendif\nset toplines=1\n",
    )
    .unwrap();
    let mut c = rmail(dir.path());
    c.env("MAILRC", &rc);
    let out = c
        .args(["-n", "-N", "-f", spool.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut ch| {
            ch.stdin.take().unwrap().write_all(b"p 2\nset\nx\n")?;
            ch.wait_with_output()
        })
        .unwrap();
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(out.contains("Message  2:\nFrom zhangsan@example.com  Fri Mar 22 13:10:55 2024\nSubject: test2\n\nnihao\n"), "{out}");
    assert!(!out.contains("bogus"), "{out}");
    assert!(out.contains("toplines=\"1\""), "{out}");
}

#[test]
fn header_summary_fits_cjk_in_80_columns() {
    let mbox = "From a@b Fri Mar 22 13:10:55 2024\nFrom: a@b\nSubject: =?UTF-8?B?5rWL6K+V5rWL6K+V5rWL6K+V5rWL6K+V5rWL6K+V5rWL6K+V5rWL6K+V5rWL6K+V5rWL6K+V5rWL6K+V5rWL6K+V?=\n\nx\n";
    let (dir, spool) = with_mbox(mbox);
    let (_, out, _) = run(dir.path(), &["-n", "-H", "-f", spool.to_str().unwrap()], "");
    let line = out.lines().next().unwrap();
    let cols: usize = line
        .chars()
        .map(|c| if (c as u32) >= 0x1100 { 2 } else { 1 })
        .sum();
    assert!((78..=79).contains(&cols), "{cols}: {line}");
}

#[test]
fn a_message_that_cannot_be_read_is_not_marked_read() {
    let (dir, spool) = with_mbox(SEED);
    let path = spool.to_str().unwrap();
    // Another program empties the mailbox after the snapshot: message 2 cannot be shown.
    let script = format!("!: > {path}\np 2\nh\nx\n");
    let (code, out, err) = run(dir.path(), &["-n", "-N", "-f", path], &script);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("cannot read message 2"), "{err}");
    let line2 = out
        .lines()
        .find(|l| l.contains("test2"))
        .unwrap_or_default();
    assert!(line2.starts_with(">N") || line2.starts_with(">U"), "{out}");
}

#[test]
fn closed_stdout_ends_quietly_as_sigpipe_would() {
    use std::io::{BufRead, BufReader, Read};
    use std::os::unix::process::ExitStatusExt;
    let body: String = (0..20000).map(|i| format!("line {i}\n")).collect();
    let (dir, spool) = with_mbox(&format!(
        "From a@example.org Mon Nov 30 10:00:00 2026\nSubject: long\n\n{body}\n"
    ));
    let mut c = rmail(dir.path());
    c.args(["-n", "-N", "-f", spool.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"p 1\np 1\nq\n")
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    drop(out);
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let st = child.wait().unwrap();
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(st.signal(), Some(libc::SIGPIPE), "{st:?} {err}");
}

#[test]
fn move_copies_then_deletes_and_moves_on_like_delete() {
    let (dir, spool) = with_mbox(SEED);
    let out_box = dir.path().join("moved");
    let script = format!("mv 1 {}\n=\nq\n", out_box.display());
    let (code, out, err) = run(
        dir.path(),
        &["-n", "-N", "-f", spool.to_str().unwrap()],
        &script,
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.lines().any(|l| l == "2"), "{out}");
    let moved = std::fs::read_to_string(&out_box).unwrap();
    assert!(moved.contains("Subject: test\n"), "{moved}");
    let left = std::fs::read_to_string(&spool).unwrap();
    assert!(
        !left.contains("Subject: test\n") && left.contains("Subject: test2"),
        "{left}"
    );
}
