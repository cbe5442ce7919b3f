//! `man/rmail.1` and `completions/*` must match the clap definition; `RMAIL_BLESS=1`
//! rewrites them (ripgrep's habit).

use std::path::Path;

fn check(rel: &str, want: &[u8]) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    if std::env::var("RMAIL_BLESS").as_deref() == Ok("1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, want).unwrap();
        return;
    }
    let have = std::fs::read(&path).unwrap_or_default();
    assert!(
        have == want,
        "{rel} is out of date with the clap definition; run `RMAIL_BLESS=1 cargo test --test it docs` and commit"
    );
}

#[test]
fn man_page_matches_parser() {
    check("man/rmail.1", &rmail::cli::docs::man_page());
}

#[test]
fn subcommand_man_pages_match_parser() {
    for (file, page) in rmail::cli::docs::subcommand_pages() {
        check(&format!("man/{file}"), &page);
    }
}

#[test]
fn completions_match_parser() {
    for (shell, file) in rmail::cli::docs::SHELLS {
        check(
            &format!("completions/{file}"),
            &rmail::cli::docs::completion(shell),
        );
    }
}

#[test]
fn completions_name_every_flag() {
    let cmd = rmail::cli::docs::command();
    let bash = String::from_utf8(rmail::cli::docs::completion(clap_complete::Shell::Bash)).unwrap();
    for arg in cmd.get_arguments() {
        if let Some(s) = arg.get_short() {
            assert!(
                bash.contains(&format!("-{s}")),
                "bash completion lacks -{s}"
            );
        }
    }
}
