//! mailx variables (`set`, `unset`, `-S`): a name → optional value map.
//!
//! `set name` sets a boolean, `set name=value` a string; `set noname` is `unset name`
//! (POSIX mailx). Values may be quoted with `'` or `"`.

use std::collections::BTreeMap;

/// The variable table of one session.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    map: BTreeMap<String, String>,
}

impl Vars {
    /// The table with POSIX mailx's defaults: `header` (show the summary on entry) and
    /// `asksub` (ask for a subject on a terminal) are set, every other boolean is unset;
    /// numeric defaults live where they are used.
    pub fn new() -> Vars {
        let mut v = Vars::default();
        v.set("header", "");
        v.set("asksub", "");
        v
    }

    /// True when `name` is set (with or without a value).
    pub fn is_set(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    /// The value of `name`; `Some("")` for a set boolean, `None` when unset.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.map.get(name).map(|s| s.as_str())
    }

    /// The value of `name` parsed as a number; `None` when unset, empty or not a number.
    pub fn number(&self, name: &str) -> Option<usize> {
        self.get(name).and_then(|v| v.trim().parse().ok())
    }

    /// Sets `name` to `value` (empty for a boolean).
    pub fn set(&mut self, name: &str, value: &str) {
        self.map.insert(name.to_owned(), value.to_owned());
    }

    /// Unsets `name`; returns whether it was set.
    pub fn unset(&mut self, name: &str) -> bool {
        self.map.remove(name).is_some()
    }

    /// Applies one `set` argument: `name`, `name=value`, or `noname` (unset).
    pub fn assign(&mut self, arg: &str) {
        match arg.split_once('=') {
            Some((n, v)) => self.set(n.trim(), v),
            None => {
                let n = arg.trim();
                if let Some(rest) = n.strip_prefix("no") {
                    if !rest.is_empty() && !self.is_set(n) && n != "none" {
                        self.unset(rest);
                        return;
                    }
                }
                self.set(n, "");
            }
        }
    }

    /// All variables in name order, as `set` without arguments lists them.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.map.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// Splits a command argument string into words like mailx: white space separates, `'…'` and
/// `"…"` quote (quotes removed), a backslash escapes the next character.
pub fn split_words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), '\\') => match chars.next() {
                Some(n) => cur.push(n),
                None => cur.push('\\'),
            },
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '\\') => {
                in_word = true;
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_unset_no_prefix() {
        let mut v = Vars::new();
        v.assign("hold");
        v.assign("crt=20");
        assert_eq!(v.get("hold"), Some(""));
        assert_eq!(v.number("crt"), Some(20));
        v.assign("nohold");
        assert!(!v.is_set("hold"));
    }

    #[test]
    fn words_and_quotes() {
        assert_eq!(
            split_words(r#"prompt="? " a 'b c' d\ e"#),
            vec!["prompt=? ", "a", "b c", "d e"]
        );
        assert_eq!(split_words("  "), Vec::<String>::new());
        assert_eq!(split_words("x=''"), vec!["x="]);
    }
}
