//! The aliases(5) text format, as Postfix's `postalias`/local(8) and sendmail read it:
//!
//! ```text
//! # comment
//! name: target, target, ...
//!     continued target, ...      (a line starting with white space continues the entry)
//! "quoted name": "|/usr/bin/cmd arg", /var/spool/file, :include:/etc/mail/list, u@example.org
//! ```
//!
//! Invariants: blank lines and lines whose first non-blank character is `#` are skipped and do
//! not end an entry; names are matched ignoring ASCII case (the key is lower-cased); commas
//! inside double quotes do not separate targets and `\` escapes the next character inside
//! quotes; a target that cannot be understood is kept as [`Raw::Invalid`] (with a diagnostic),
//! so that expanding its alias fails loudly instead of losing a recipient; no panic on any
//! input.

use std::path::{Path, PathBuf};

use super::{Diagnostic, Target};

/// One target as written in the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Raw {
    /// A final or further-expandable target.
    Target(Target),
    /// `:include:/absolute/path`: a list file read at expansion time.
    Include(PathBuf),
    /// Something we cannot use: the text as written and why.
    Invalid { text: String, why: &'static str },
}

/// Splits a target list at commas outside double quotes; pieces are trimmed, empty ones
/// dropped.
pub(crate) fn split_targets(list: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in list.char_indices() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == ',' && !quoted {
            out.push(&list[start..i]);
            start = i + 1;
        }
    }
    out.push(&list[start..]);
    out.into_iter()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect()
}

/// The content of `s` when all of it is one double-quoted string (`\` escapes resolved).
fn unquote(s: &str) -> Option<String> {
    let inner = s.strip_prefix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return chars.as_str().is_empty().then_some(out),
            c => out.push(c),
        }
    }
    None // no closing quote
}

/// Understands one target.
pub(crate) fn classify(token: &str) -> Raw {
    let invalid = |why| Raw::Invalid {
        text: token.to_owned(),
        why,
    };
    if token.chars().any(|c| c.is_control() && c != '\t') {
        return invalid("control character in target");
    }
    let (text, quoted) = match unquote(token) {
        Some(t) => (t, true),
        None if token.starts_with('"') && !token[1..].contains('"') => {
            return invalid("unbalanced double quote")
        }
        None => (token.to_owned(), false),
    };
    let text_trim = text.trim();
    if let Some(cmd) = text_trim.strip_prefix('|') {
        let cmd = cmd.trim();
        if cmd.is_empty() {
            return invalid("empty command");
        }
        return Raw::Target(Target::Command(cmd.to_owned()));
    }
    if text_trim.starts_with('/') {
        return Raw::Target(Target::File(PathBuf::from(text_trim)));
    }
    if text_trim.len() >= 9 && text_trim[..9].eq_ignore_ascii_case(":include:") {
        let p = text_trim[9..].trim();
        if p.is_empty() {
            return invalid("empty :include: path");
        }
        if !p.starts_with('/') {
            return invalid("relative :include: path refused");
        }
        return Raw::Include(PathBuf::from(p));
    }
    if text_trim.is_empty() {
        return invalid("empty target");
    }
    if quoted {
        // A quoted local part such as "john smith": a (strange) local name.
        return Raw::Target(Target::Local(text));
    }
    if has_unquoted_space(token) {
        return invalid("white space in an address (separate targets with commas)");
    }
    match token.rsplit_once('@') {
        Some((l, d)) if l.is_empty() || d.is_empty() => invalid("incomplete address"),
        Some(_) => Raw::Target(Target::Remote(token.to_owned())),
        None => Raw::Target(Target::Local(token.to_owned())),
    }
}

fn has_unquoted_space(s: &str) -> bool {
    let (mut quoted, mut escaped) = (false, false);
    for c in s.chars() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if !quoted && c.is_whitespace() {
            return true;
        }
    }
    false
}

/// Finds the `:` that ends the name (outside double quotes).
fn name_end(line: &str) -> Option<usize> {
    let (mut quoted, mut escaped) = (false, false);
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == ':' && !quoted {
            return Some(i);
        }
    }
    None
}

/// One parsed entry: the name as written, its 1-based line, and its targets.
pub(crate) struct Parsed {
    pub name: String,
    pub line: usize,
    pub targets: Vec<Raw>,
}

/// Parses the text of one aliases file; diagnostics name `origin` and the line.
pub(crate) fn parse_entries(text: &str, origin: &Path) -> (Vec<Parsed>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let mut logical: Vec<(usize, String)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            match logical.last_mut() {
                Some((_, l)) => {
                    l.push(' ');
                    l.push_str(t);
                }
                None => diags.push(Diagnostic::error(
                    origin,
                    i + 1,
                    "continuation line without an entry".into(),
                )),
            }
        } else {
            logical.push((i + 1, line.trim_end().to_owned()));
        }
    }

    let mut out = Vec::new();
    for (line, text) in logical {
        let Some(colon) = name_end(&text) else {
            diags.push(Diagnostic::error(
                origin,
                line,
                "missing ':' after the name".into(),
            ));
            continue;
        };
        let raw_name = text[..colon].trim();
        let name = unquote(raw_name).unwrap_or_else(|| raw_name.to_owned());
        if name.is_empty() {
            diags.push(Diagnostic::error(origin, line, "empty alias name".into()));
            continue;
        }
        if name.chars().any(char::is_control) {
            diags.push(Diagnostic::error(
                origin,
                line,
                "control character in alias name".into(),
            ));
            continue;
        }
        let targets: Vec<Raw> = split_targets(&text[colon + 1..])
            .into_iter()
            .map(classify)
            .collect();
        if targets.is_empty() {
            diags.push(Diagnostic::error(
                origin,
                line,
                format!("alias {name} has no targets"),
            ));
            continue;
        }
        for t in &targets {
            if let Raw::Invalid { text, why } = t {
                diags.push(Diagnostic::error(
                    origin,
                    line,
                    format!("alias {name}: {text}: {why}"),
                ));
            }
        }
        out.push(Parsed {
            name,
            line,
            targets,
        });
    }
    (out, diags)
}

/// Parses the text of a `:include:` file: targets separated by commas or lines, `#`
/// comment lines.
pub(crate) fn parse_include(text: &str) -> Vec<Raw> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .flat_map(split_targets)
        .map(classify)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting() {
        assert_eq!(split_targets(" a, b ,,c,"), vec!["a", "b", "c"]);
        assert_eq!(
            split_targets(r#""|cmd a,b", "x\"," y"#),
            vec![r#""|cmd a,b""#, r#""x\"," y"#]
        );
        assert_eq!(split_targets(""), Vec::<&str>::new());
        assert_eq!(
            split_targets(r#""unterminated, x"#),
            vec![r#""unterminated, x"#]
        );
    }

    #[test]
    fn classifying() {
        use Target::*;
        let t = |s| match classify(s) {
            Raw::Target(t) => t,
            other => panic!("{s}: {other:?}"),
        };
        assert_eq!(t("alice"), Local("alice".into()));
        assert_eq!(t("bob@example.org"), Remote("bob@example.org".into()));
        assert_eq!(
            t(r#""john smith"@example.org"#),
            Remote(r#""john smith"@example.org"#.into())
        );
        assert_eq!(t("|/usr/bin/procmail"), Command("/usr/bin/procmail".into()));
        assert_eq!(
            t(r#""|/usr/bin/cmd -a, -b""#),
            Command("/usr/bin/cmd -a, -b".into())
        );
        assert_eq!(t("/var/log/mail.copy"), File("/var/log/mail.copy".into()));
        assert_eq!(t(r#""/var/x y""#), File("/var/x y".into()));
        assert_eq!(t(r#""odd name""#), Local("odd name".into()));
        assert_eq!(
            classify(":include:/etc/mail/staff"),
            Raw::Include("/etc/mail/staff".into())
        );
        assert_eq!(
            classify(":INCLUDE: /etc/mail/staff"),
            Raw::Include("/etc/mail/staff".into())
        );
        assert_eq!(
            classify(r#"":include:/etc/a b""#),
            Raw::Include("/etc/a b".into())
        );
        for bad in [
            ":include:staff",
            ":include:",
            "|",
            "\"|  \"",
            "a b",
            "@x",
            "x@",
            "\"open",
            "a\u{1}b",
            "\"\"",
        ] {
            assert!(matches!(classify(bad), Raw::Invalid { .. }), "{bad}");
        }
    }

    #[test]
    fn unquoting() {
        assert_eq!(unquote(r#""a\"b""#), Some("a\"b".into()));
        assert_eq!(unquote(r#""a"b"#), None);
        assert_eq!(unquote(r#""a\"#), None);
        assert_eq!(unquote("a"), None);
    }
}
