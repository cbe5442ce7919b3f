//! s-nail-style `account NAME { … }` blocks in start-up files: the pure parts.
//!
//! - [`group`] turns a file's command lines (from [`super::mailrc::command_lines`]) into plain
//!   commands and account blocks, so that the loader stores a block's lines instead of running
//!   them (they run when the account is chosen with `-A NAME` or `account NAME`).
//! - [`render_block`] writes the block `rmail account add` appends to `~/.mailrc`.
//!
//! Syntax (s-nail): a line `account NAME {` opens a block, a line `}` closes it. Blocks do not
//! nest; an unterminated block is an error and is not defined.

use super::presets::Preset;

/// One item of a start-up file, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// An ordinary command line, run at load time.
    Command(String),
    /// A complete `account NAME { … }` block: its name and its command lines.
    Account {
        /// The account's name.
        name: String,
        /// The lines between `{` and `}`, not yet run.
        lines: Vec<String>,
    },
    /// A syntax error, with a message to print ("… nested …", "… missing \"}\"", …).
    Error(String),
}

/// If `line` opens a block (`account NAME {`), the name.
pub fn block_start(line: &str) -> Option<&str> {
    let rest = line.trim().strip_prefix("account")?;
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let name = rest.trim().strip_suffix('{')?.trim();
    (!name.is_empty()).then_some(name)
}

/// Whether `name` is acceptable as an account name: ASCII letters, digits, `-`, `_`, `.`,
/// `@`, `+` (so that it needs no quoting in a start-up file).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.@+".contains(&b))
}

/// Groups `lines` into commands and account blocks. A nested `account NAME {` drops the whole
/// outer block (one [`Item::Error`]), an unterminated block is reported and dropped, a stray `}`
/// is reported; everything else is kept.
pub fn group(lines: Vec<String>) -> Vec<Item> {
    let mut out = Vec::new();
    // (name, lines, nesting depth of a broken block being skipped; 0 when healthy)
    let mut open: Option<(String, Vec<String>, usize)> = None;
    for line in lines {
        let t = line.trim();
        match &mut open {
            None => {
                if let Some(name) = block_start(t) {
                    if valid_name(name) {
                        open = Some((name.to_owned(), Vec::new(), 0));
                    } else {
                        out.push(Item::Error(format!("invalid account name \"{name}\"")));
                        open = Some((name.to_owned(), Vec::new(), 1));
                    }
                } else if t == "}" {
                    out.push(Item::Error("\"}\" without \"account NAME {\"".into()));
                } else {
                    out.push(Item::Command(line));
                }
            }
            Some((name, body, skip)) => {
                if block_start(t).is_some() {
                    if *skip == 0 {
                        out.push(Item::Error(format!(
                            "account {name}: nested account blocks are not allowed; \
                             the block is ignored"
                        )));
                        *skip = 1;
                    }
                    *skip += 1;
                } else if t == "}" {
                    if *skip > 1 {
                        *skip -= 1;
                    } else {
                        let (name, body, skip) = open.take().expect("open block");
                        if skip == 0 {
                            out.push(Item::Account { name, lines: body });
                        }
                    }
                } else if *skip == 0 {
                    body.push(line);
                }
            }
        }
    }
    if let Some((name, _, skip)) = open {
        if skip == 0 {
            out.push(Item::Error(format!(
                "account {name}: missing \"}}\"; the block is ignored"
            )));
        }
    }
    out
}

/// The names of the account blocks in a start-up file's text (for `rmail account add`'s
/// check that a name is free).
pub fn names_in(text: &str) -> Vec<String> {
    group(super::mailrc::command_lines(text))
        .into_iter()
        .filter_map(|i| match i {
            Item::Account { name, .. } => Some(name),
            _ => None,
        })
        .collect()
}

/// The block `rmail account add` appends: `from`, `mta` (the preset's SMTP server with the
/// address as the user name) and `smtp-auth-user`; `inbox` and `folder` (the preset's IMAP
/// server: `rmail -A NAME` opens the IMAP INBOX, `+Sent` names its `Sent`) and `fetch-url`
/// (its POP3 server, for `rmail fetch NAME`) when the provider has them; then a commented
/// `password-command` hint — for providers that require OAuth2, `smtp-auth=xoauth2` and a
/// commented `oauth2-token-command` hint instead. No password is ever written. `address`
/// must not contain `"`, `\` or control characters (the caller checks).
pub fn render_block(name: &str, preset: &Preset, address: &str) -> String {
    let mut b = format!(
        "account {name} {{\n  set from=\"{address}\"\n  set mta={mta}\n  \
         set smtp-auth-user=\"{address}\"\n",
        mta = preset.mta_url(address)
    );
    if let (Some(inbox), Some(folder)) = (
        preset.imap_url(address, "INBOX"),
        preset.imap_url(address, ""),
    ) {
        b.push_str(&format!("  set inbox={inbox}\n  set folder={folder}\n"));
    }
    if let Some(pop3) = preset.pop3_url(address) {
        b.push_str(&format!("  set fetch-url={pop3}\n"));
    }
    if preset.quirks.oauth2_required {
        b.push_str(&format!(
            "  set smtp-auth=xoauth2\n  \
             # set oauth2-token-command=\"oama access {address}\"\n}}\n"
        ));
    } else {
        b.push_str(&format!(
            "  # set password-command=\"pass show mail/{name}\"\n}}\n"
        ));
    }
    b
}

/// Why `rmail account add` refused.
#[derive(Debug, thiserror::Error)]
pub enum AddError {
    /// The name has characters that would need quoting.
    #[error("invalid account name \"{0}\" (use letters, digits, - _ . @ +)")]
    BadName(String),
    /// Not a plain `local@domain` address.
    #[error("invalid address \"{0}\" (want local@domain, without spaces or quotes)")]
    BadAddress(String),
    /// The file already has a block of that name.
    #[error("an account \"{0}\" already exists in {1}")]
    Exists(String, String),
    /// Reading or writing the file failed.
    #[error("cannot update {0}: {1}")]
    Io(String, std::io::Error),
}

/// Whether `addr` is a plain `local@domain` address that can be written inside `"…"` in a
/// start-up file: one `@`, non-empty parts, no whitespace, quotes, backslashes, `<>` or
/// control characters.
pub fn valid_address(addr: &str) -> bool {
    let ok_chars = addr
        .chars()
        .all(|c| !c.is_whitespace() && !c.is_control() && !"\"\\<>(),;".contains(c));
    match addr.split_once('@') {
        Some((l, d)) => ok_chars && !l.is_empty() && !d.is_empty() && !d.contains('@'),
        None => false,
    }
}

/// Appends account `name` for `address` at `preset` to the start-up file `path` and returns
/// the block written. The file is created with mode 0600 when missing; existing bytes are
/// never rewritten (a newline and a blank line separate the block from earlier text). Refused
/// when `path` already has an `account name {` block.
pub fn append(
    path: &std::path::Path,
    name: &str,
    preset: &Preset,
    address: &str,
) -> Result<String, AddError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if !valid_name(name) {
        return Err(AddError::BadName(name.to_owned()));
    }
    if !valid_address(address) {
        return Err(AddError::BadAddress(address.to_owned()));
    }
    let shown = path.display().to_string();
    let existing = match std::fs::read(path) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(AddError::Io(shown, e)),
    };
    if names_in(&existing).iter().any(|n| n == name) {
        return Err(AddError::Exists(name.to_owned(), shown));
    }
    let block = render_block(name, preset, address);
    let mut text = String::new();
    if !existing.is_empty() {
        if !existing.ends_with('\n') {
            text.push('\n');
        }
        text.push('\n');
    }
    text.push_str(&block);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| AddError::Io(shown.clone(), e))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| AddError::Io(shown, e))?;
    Ok(block)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn groups_blocks() {
        let got = group(lines(&[
            "set hold",
            "account a {",
            "set from=x",
            "}",
            "set y",
        ]));
        assert_eq!(
            got,
            vec![
                Item::Command("set hold".into()),
                Item::Account {
                    name: "a".into(),
                    lines: lines(&["set from=x"])
                },
                Item::Command("set y".into()),
            ]
        );
        assert_eq!(block_start("account  work{"), Some("work"));
        assert_eq!(block_start("account work"), None);
        assert_eq!(block_start("accounts x {"), None);
    }

    #[test]
    fn nested_unterminated_and_stray() {
        let got = group(lines(&[
            "account a {",
            "account b {",
            "set x",
            "}",
            "}",
            "set z",
        ]));
        assert!(matches!(&got[0], Item::Error(m) if m.contains("nested")));
        assert_eq!(got[1..], [Item::Command("set z".into())]);
        let got = group(lines(&["account a {", "set x"]));
        assert!(matches!(&got[..], [Item::Error(m)] if m.contains("missing")));
        let got = group(lines(&["}"]));
        assert!(matches!(&got[..], [Item::Error(_)]));
    }

    #[test]
    fn renders_qq_block() {
        let p = super::super::presets::find("qq").unwrap();
        assert_eq!(
            render_block("qq", p, "alice@qq.com"),
            "account qq {\n  set from=\"alice@qq.com\"\n  \
             set mta=smtps://alice%40qq.com@smtp.qq.com:465\n  \
             set smtp-auth-user=\"alice@qq.com\"\n  \
             set inbox=imaps://alice%40qq.com@imap.qq.com:993/INBOX\n  \
             set folder=imaps://alice%40qq.com@imap.qq.com:993\n  \
             set fetch-url=pop3s://alice%40qq.com@pop.qq.com:995\n  \
             # set password-command=\"pass show mail/qq\"\n}\n"
        );
        assert_eq!(names_in(&render_block("qq", p, "alice@qq.com")), ["qq"]);
    }
}
