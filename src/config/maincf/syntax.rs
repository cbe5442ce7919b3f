//! The text layer of main.cf: logical lines, comments, `name = value` pairs and `$name`
//! expansion, following Postfix main.cf(5) / postconf(5) and Postfix's `mac_parse`/`mac_expand`.
//!
//! - A logical line starts with non-whitespace text; a line that starts with whitespace
//!   continues it. Empty and whitespace-only lines, and lines whose first non-blank character
//!   is `#`, are ignored and do not end a logical line.
//! - rmail's one deviation: whitespace followed by `#` inside a value starts a trailing
//!   comment that is dropped, with a warning (Postfix keeps it as part of the value).
//! - `$name`, `${name}` and `$(name)` expand recursively; `${name?text}` gives `text` when
//!   `$name` is non-empty, `${name:text}` when it is empty or undefined; `$$` is a literal
//!   `$`. An undefined name expands to nothing, with a warning.
//!
//! Invariants: expansion terminates on every input (loops are detected by a stack of names,
//! nesting depth and total work are capped) and never panics.

use std::collections::BTreeMap;

use super::{ConfigError, Origin, Warning};

/// Largest expanded value, in bytes: guards against `a = $b$b`, `b = $c$c`, … blow-ups.
const MAX_EXPANDED: usize = 64 * 1024;
/// Most name look-ups one expansion may make (the same guard for values that stay short).
const MAX_LOOKUPS: usize = 10_000;
/// Deepest nesting of `${…}` inside one value, and of parameters inside parameters.
const MAX_DEPTH: usize = 64;

/// One explicit setting: its raw (unexpanded) value and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Entry {
    pub value: String,
    pub origin: Origin,
}

/// The explicit settings, by name: from the file, then `-o` overrides (the later one wins).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Params {
    pub entries: BTreeMap<String, Entry>,
}

impl Params {
    /// Sets `name`, warning when an earlier explicit setting from a file is overridden.
    pub fn set(&mut self, name: &str, value: String, origin: Origin, warnings: &mut Vec<Warning>) {
        if let Some(old) = self.entries.get(name) {
            if old.origin.line != 0 && origin.line != 0 && old.origin.file == origin.file {
                warnings.push(Warning {
                    origin: origin.clone(),
                    message: format!("{name} overrides the setting on line {}", old.origin.line),
                });
            }
        }
        self.entries
            .insert(name.to_owned(), Entry { value, origin });
    }

    /// Entries in the order they were written (by file line; overrides last).
    pub fn in_line_order(&self) -> Vec<(&String, &Entry)> {
        let mut v: Vec<_> = self.entries.iter().collect();
        v.sort_by_key(|(_, e)| (e.origin.line == 0, e.origin.line));
        v
    }
}

/// True for a parameter name Postfix would accept in main.cf: letters, digits and `_`
/// (the characters `$name` can refer to), plus `-`, `.` and `/` which occur in some names.
pub(super) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/'))
}

/// Removes a trailing ` # comment` from one physical line's value part, returning the kept
/// text and whether something was removed. Only whitespace followed by `#` starts a comment,
/// so `a#b` is kept whole.
fn strip_trailing_comment(s: &str) -> (&str, bool) {
    let bytes = s.as_bytes();
    for i in 1..bytes.len() {
        if bytes[i] == b'#' && (bytes[i - 1] == b' ' || bytes[i - 1] == b'\t') {
            return (s[..i].trim_end(), true);
        }
    }
    (s, false)
}

/// Splits main.cf text into `(name, raw value, origin)` in file order (main.cf(5)).
/// Errors: a logical line without `=`, a bad parameter name, or a continuation line with no
/// parameter before it — each with its file and line.
pub(super) fn read_lines(
    text: &str,
    file: &str,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<(String, String, Origin)>, ConfigError> {
    let mut out: Vec<(String, String, Origin)> = Vec::new();
    for (idx, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let origin = Origin::new(file, idx + 1);
        let body = line.trim_start_matches([' ', '\t']);
        if body.trim().is_empty() || body.starts_with('#') {
            continue;
        }
        if body.len() != line.len() {
            // Continuation of the previous logical line.
            let Some(last) = out.last_mut() else {
                return Err(ConfigError::Syntax {
                    origin,
                    reason: "a line starting with whitespace continues a parameter, but none \
                             comes before it"
                        .into(),
                });
            };
            let (kept, stripped) = strip_trailing_comment(body.trim_end());
            if stripped {
                warnings.push(comment_warning(&last.0, origin));
            }
            if !kept.is_empty() {
                if !last.1.is_empty() {
                    last.1.push(' ');
                }
                last.1.push_str(kept);
            }
            continue;
        }
        let Some((name, value)) = body.split_once('=') else {
            return Err(ConfigError::Syntax {
                origin,
                reason: format!("missing '=' after {:?}", truncate(body.trim(), 40)),
            });
        };
        let name = name.trim();
        if !valid_name(name) {
            return Err(ConfigError::Syntax {
                origin,
                reason: format!("bad parameter name {:?}", truncate(name, 40)),
            });
        }
        let (kept, stripped) = strip_trailing_comment(value.trim());
        if stripped {
            warnings.push(comment_warning(name, origin.clone()));
        }
        out.push((name.to_owned(), kept.to_owned(), origin));
    }
    Ok(out)
}

fn comment_warning(name: &str, origin: Origin) -> Warning {
    Warning {
        origin,
        message: format!(
            "{name}: text after \" #\" taken as a comment and ignored \
             (Postfix would keep it as part of the value)"
        ),
    }
}

/// At most `n` characters of `s`, for error messages about hostile input.
pub(super) fn truncate(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// Why an expansion failed, and in which parameter's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ExpandError {
    /// The parameter whose value holds the problem (or where the loop was entered).
    pub at: String,
    pub reason: String,
}

/// Where raw values come from during expansion.
pub(super) trait Lookup {
    /// The raw value of `name`: explicit, else its default; `None` when undefined.
    /// `expand` lets a computed default expand other parameters (e.g. `mydomain` from
    /// `$myhostname`).
    fn raw(&self, name: &str, expand: &mut Expander<'_>) -> Result<Option<String>, ExpandError>;
}

/// One expansion run: the stack of names being expanded (loop detection), a work counter,
/// the names referenced and warnings about undefined ones.
pub(super) struct Expander<'a> {
    lookup: &'a dyn Lookup,
    stack: Vec<String>,
    lookups: usize,
    pub referenced: Vec<String>,
    pub undefined: Vec<(String, String)>,
}

impl<'a> Expander<'a> {
    pub fn new(lookup: &'a dyn Lookup) -> Expander<'a> {
        Expander {
            lookup,
            stack: Vec::new(),
            lookups: 0,
            referenced: Vec::new(),
            undefined: Vec::new(),
        }
    }

    /// The fully expanded value of parameter `name`, `None` when it is undefined.
    pub fn param(&mut self, name: &str) -> Result<Option<String>, ExpandError> {
        self.lookups += 1;
        if self.lookups > MAX_LOOKUPS {
            return Err(self.err(name, "expansion needs too many steps"));
        }
        if let Some(pos) = self.stack.iter().position(|n| n == name) {
            let mut chain: Vec<&str> = self.stack[pos..].iter().map(String::as_str).collect();
            chain.push(name);
            return Err(ExpandError {
                at: self.stack[pos].clone(),
                reason: format!("parameter expansion loop: ${}", chain.join(" -> $")),
            });
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(self.err(name, "parameters nested too deeply"));
        }
        self.stack.push(name.to_owned());
        let result = match self.lookup.raw(name, self) {
            Ok(Some(raw)) => {
                let mut out = String::new();
                self.expand_into(&raw, name, 0, &mut out)
                    .map(|()| Some(out))
            }
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        };
        self.stack.pop();
        result
    }

    fn err(&self, owner: &str, reason: &str) -> ExpandError {
        ExpandError {
            at: owner.to_owned(),
            reason: reason.to_owned(),
        }
    }

    fn expand_into(
        &mut self,
        text: &str,
        owner: &str,
        depth: usize,
        out: &mut String,
    ) -> Result<(), ExpandError> {
        if depth > MAX_DEPTH {
            return Err(self.err(owner, "${…} nested too deeply"));
        }
        let mut rest = text;
        while let Some(pos) = rest.find('$') {
            out.push_str(&rest[..pos]);
            let after = &rest[pos + 1..];
            if let Some(r) = after.strip_prefix('$') {
                out.push('$');
                rest = r;
                continue;
            }
            let (expr, r) = match after.as_bytes().first() {
                Some(&open @ (b'{' | b'(')) => {
                    let close = if open == b'{' { b'}' } else { b')' };
                    // Like mac_parse: count only the same kind of bracket.
                    let mut level = 1usize;
                    let mut end = None;
                    for (i, b) in after.bytes().enumerate().skip(1) {
                        if b == open {
                            level += 1;
                        } else if b == close {
                            level -= 1;
                            if level == 0 {
                                end = Some(i);
                                break;
                            }
                        }
                    }
                    let Some(end) = end else {
                        return Err(self.err(owner, "unterminated ${…} or $(…)"));
                    };
                    (&after[1..end], &after[end + 1..])
                }
                _ => {
                    let n = after
                        .bytes()
                        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                        .count();
                    (&after[..n], &after[n..])
                }
            };
            self.expr(expr, owner, depth, out)?;
            if out.len() > MAX_EXPANDED {
                return Err(self.err(owner, "expanded value too long"));
            }
            rest = r;
        }
        out.push_str(rest);
        if out.len() > MAX_EXPANDED {
            return Err(self.err(owner, "expanded value too long"));
        }
        Ok(())
    }

    /// One macro expression: `name`, `name?text` or `name:text`.
    fn expr(
        &mut self,
        expr: &str,
        owner: &str,
        depth: usize,
        out: &mut String,
    ) -> Result<(), ExpandError> {
        let n = expr
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        let (name, tail) = expr.split_at(n);
        if name.is_empty() {
            return Err(self.err(
                owner,
                "'$' not followed by a parameter name (write $$ for a literal $)",
            ));
        }
        let value = self.param(name)?;
        if !self.referenced.iter().any(|r| r == name) {
            self.referenced.push(name.to_owned());
        }
        if value.is_none() && !self.undefined.iter().any(|(n, _)| n == name) {
            self.undefined.push((name.to_owned(), owner.to_owned()));
        }
        let value = value.unwrap_or_default();
        match tail.as_bytes().first() {
            None => out.push_str(&value),
            Some(b'?') => {
                if !value.is_empty() {
                    self.expand_into(&tail[1..], owner, depth + 1, out)?;
                }
            }
            Some(b':') => {
                if value.is_empty() {
                    self.expand_into(&tail[1..], owner, depth + 1, out)?;
                }
            }
            Some(_) => {
                return Err(self.err(
                    owner,
                    &format!("bad macro expression ${{{}}}", truncate(expr, 40)),
                ));
            }
        }
        Ok(())
    }
}

/// Writes `s` so that expansion gives it back: every `$` doubled.
pub(super) fn escape(s: &str) -> String {
    s.replace('$', "$$")
}

/// Splits a list value at commas and whitespace (Postfix's `CHARS_COMMA_SP`), dropping
/// empty items.
pub(super) fn split_list(s: &str) -> impl Iterator<Item = &str> {
    s.split([',', ' ', '\t', '\r', '\n'])
        .filter(|t| !t.is_empty())
}
