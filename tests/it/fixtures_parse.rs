//! Every committed fixture (tests/fixtures, see its README) through the reader: `-H` prints one
//! summary line per message, `p *` prints them all, neither panics, and the message counts of the
//! hand-written nasty files are the correct ones (not what a naive `^From ` splitter sees).

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::util::{fixtures, rmail, run_script};

/// Copies fixture `name` into a fresh temp dir (tests never open the committed file itself) and
/// returns the dir and the copy's path.
fn copy_fixture(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("cannot create temp dir");
    let dst = dir.path().join(name);
    std::fs::copy(fixtures().join(name), &dst).expect("cannot copy fixture");
    (dir, dst)
}

fn show(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `rmail -n -H -f FILE`: exit 0 and `count` lines (exit 1 and "No mail" on stderr when
/// `count == 0`); `printf 'p *\nx\n' | rmail -n -N -f FILE`: exit 0; never a panic; `x` leaves
/// the file byte-identical.
fn check_fixture_at(home: &Path, file: &Path, count: usize) {
    let before = std::fs::read(file).unwrap();

    let mut c = rmail(home);
    c.args(["-n", "-H", "-f"]).arg(file);
    let o = run_script(c, "");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        !stderr.contains("panicked"),
        "-H panicked on {}:\n{}",
        file.display(),
        show(&o)
    );
    if count == 0 {
        assert_eq!(
            o.status.code(),
            Some(1),
            "-H on an empty mailbox must exit 1:\n{}",
            show(&o)
        );
        assert!(
            stderr.contains("No mail"),
            "-H on an empty mailbox must say \"No mail\":\n{}",
            show(&o)
        );
    } else {
        assert_eq!(
            o.status.code(),
            Some(0),
            "-H on {}:\n{}",
            file.display(),
            show(&o)
        );
    }
    let lines = crate::util::nonempty_lines(&o.stdout);
    assert_eq!(
        lines,
        count,
        "-H must print one line per message ({} expected) for {}:\n{}",
        count,
        file.display(),
        show(&o)
    );

    let mut c = rmail(home);
    c.args(["-n", "-N", "-f"]).arg(file);
    let o = run_script(c, "p *\nx\n");
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("panicked"),
        "`p *` panicked on {}:\n{}",
        file.display(),
        show(&o)
    );
    if count > 0 {
        assert_eq!(
            o.status.code(),
            Some(0),
            "`p *` then `x` on {}:\n{}",
            file.display(),
            show(&o)
        );
        let headings = String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| is_heirloom_heading(l))
            .count();
        assert_eq!(
            headings,
            count,
            "`p *` must print {count} `Message N:` headings:\n{}",
            show(&o)
        );
    }
    assert!(
        std::fs::read(file).unwrap() == before,
        "`x` must leave {} byte-identical",
        file.display()
    );
}

/// Heirloom's per-message heading, `Message  2:` (number right-aligned in two columns).
fn is_heirloom_heading(l: &str) -> bool {
    l.strip_prefix("Message ")
        .and_then(|r| r.strip_suffix(':'))
        .is_some_and(|n| !n.trim().is_empty() && n.trim().bytes().all(|b| b.is_ascii_digit()))
}

fn check_fixture(name: &str, count: usize) {
    let (dir, file) = copy_fixture(name);
    check_fixture_at(dir.path(), &file, count);
}

macro_rules! fixture_tests {
    ($($test:ident: $file:literal => $count:expr;)*) => {
        $(
            #[test]
            fn $test() {
                check_fixture($file, $count);
            }
        )*

        /// Every fixture on disk is listed above (a new fixture without a count fails here).
        #[test]
        fn every_fixture_has_a_count() {
            let listed = [$($file),*];
            let mut missing = Vec::new();
            for e in std::fs::read_dir(fixtures()).unwrap() {
                let name = e.unwrap().file_name().to_string_lossy().into_owned();
                if name.ends_with(".mbox") && !listed.contains(&name.as_str()) {
                    missing.push(name);
                }
            }
            assert!(missing.is_empty(), "fixtures without an expected count: {missing:?}");
        }

        /// The same fixtures with LF turned into CRLF parse into the same number of messages
        /// (STYLE.md: golden files run with LF and CRLF input). The Content-Length fixtures are
        /// left out: their byte counts are only true for LF.
        #[test]
        fn crlf_variants_have_the_same_counts() {
            for (name, count) in [$(($file, $count)),*] {
                if name.contains("-cl-") || name == "nasty-crlf.mbox" || count == 0 {
                    continue;
                }
                let dir = tempfile::tempdir().unwrap();
                let data = std::fs::read(fixtures().join(name)).unwrap();
                let mut crlf = Vec::with_capacity(data.len() + data.len() / 20);
                for &b in &data {
                    if b == b'\n' {
                        crlf.push(b'\r');
                    }
                    crlf.push(b);
                }
                let file = dir.path().join(name);
                std::fs::write(&file, crlf).unwrap();
                check_fixture_at(dir.path(), &file, count);
            }
        }
    };
}

fixture_tests! {
    // Written by real programs.
    postfix_local: "postfix-local.mbox" => 12;
    snail_written: "snail-written.mbox" => 11;
    snail_saved: "snail-saved.mbox" => 4;
    generated_50: "generated-50.mbox" => 50;
    // Hand-written (make_nasty.py); the counts are the correct ones.
    // `From what I hear` is not after a blank line and `From the shed at …` after a blank line
    // has no address and date: neither starts a message (a naive splitter sees 4).
    unquoted_from: "nasty-unquoted-from.mbox" => 2;
    // A Content-Length that does not land on a From_ line (or EOF) is a lie and is ignored.
    content_length_too_long: "nasty-cl-too-long.mbox" => 2;
    content_length_too_short: "nasty-cl-too-short.mbox" => 2;
    // A verified Content-Length keeps the From_ line in the body inside the message (s-nail,
    // which ignores Content-Length, and any plain From_ splitter see 3).
    content_length_true: "nasty-cl-true.mbox" => 2;
    crlf_file: "nasty-crlf.mbox" => 3;
    no_final_newline: "nasty-no-final-newline.mbox" => 2;
    raw_8bit_and_odd_rfc2047_headers: "nasty-8bit-headers.mbox" => 4;
    odd_dates: "nasty-dates.mbox" => 7;
    missing_mime_boundary: "nasty-missing-boundary.mbox" => 2;
    five_thousand_line_header: "nasty-huge-header.mbox" => 2;
    // Lines before the first From_ line belong to no message.
    garbage_before_first_from: "nasty-garbage-prefix.mbox" => 2;
    empty_file: "empty.mbox" => 0;
    from_line_variants: "nasty-from-line-variants.mbox" => 4;
    one_line_message: "nasty-one-line.mbox" => 2;
    html_and_alternative: "nasty-html.mbox" => 2;
    charsets_base64_and_qp: "nasty-charsets.mbox" => 8;
}
