//! mailx start-up files (`/etc/mail.rc`, `~/.mailrc`): a pure line splitter. The commands
//! themselves are executed by the reader's command interpreter, as in mailx.

/// Splits rc file text into command lines: `#` comment lines and blank lines dropped,
/// a trailing backslash joins the next line.
pub fn command_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in text.lines() {
        if let Some(stripped) = line.strip_suffix('\\') {
            cur.push_str(stripped);
            continue;
        }
        cur.push_str(line);
        let t = cur.trim();
        if !t.is_empty() && !t.starts_with('#') {
            out.push(t.to_owned());
        }
        cur.clear();
    }
    let t = cur.trim();
    if !t.is_empty() && !t.starts_with('#') {
        out.push(t.to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_blank_and_continuations() {
        let v = command_lines("# c\n\nset hold\nalias a \\\n b\n  # x\nset crt=20");
        assert_eq!(v, vec!["set hold", "alias a  b", "set crt=20"]);
    }
}
