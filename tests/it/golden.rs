//! Golden transcripts: `tests/golden/<case>/input.mbox` + `commands` on stdin →
//! `expected` on stdout (`rmail -n -N -f input`, the folder path shown as `FOLDER`), run on
//! the mailbox with LF and with CRLF line ends; `expected.crlf` holds the CRLF output where
//! sizes differ. `RMAIL_BLESS=1` rewrites the expected files (review the diff before
//! committing).

use crate::util::rmail;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;

fn run_case(case: &Path, crlf: bool) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut input = std::fs::read(case.join("input.mbox")).unwrap();
    if crlf {
        input = String::from_utf8(input)
            .unwrap()
            .replace('\n', "\r\n")
            .into_bytes();
    }
    let folder = dir.path().join("folder");
    std::fs::write(&folder, &input).unwrap();
    let commands = std::fs::read(case.join("commands")).unwrap();
    let mut child = rmail(dir.path())
        .args(["-n", "-N", "-f"])
        .arg(&folder)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&commands).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    String::from_utf8_lossy(&out.stdout).replace(&folder.display().to_string(), "FOLDER")
}

#[test]
fn golden_transcripts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let bless = std::env::var("RMAIL_BLESS").as_deref() == Ok("1");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        // Protocol transcripts (smtp/, pop3/) live beside these and run as unit tests.
        .filter(|p| p.join("input.mbox").exists())
        .collect();
    cases.sort();
    assert!(!cases.is_empty());
    for case in cases {
        for crlf in [false, true] {
            let got = run_case(&case, crlf);
            let lf_file = case.join("expected");
            let crlf_file = case.join("expected.crlf");
            let want_file = if crlf && crlf_file.exists() {
                crlf_file.clone()
            } else {
                lf_file.clone()
            };
            if bless {
                if !crlf {
                    std::fs::write(&lf_file, &got).unwrap();
                } else if got != std::fs::read_to_string(&lf_file).unwrap() {
                    std::fs::write(&crlf_file, &got).unwrap();
                }
                continue;
            }
            let want = std::fs::read_to_string(&want_file).unwrap_or_default();
            assert!(
                got == want,
                "{} ({}) differs from {}:\n--- got ---\n{got}\n--- want ---\n{want}",
                case.display(),
                if crlf { "CRLF" } else { "LF" },
                want_file.display()
            );
        }
    }
}
