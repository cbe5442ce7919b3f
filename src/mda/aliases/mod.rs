//! Aliases and recipient resolution for local delivery: the aliases(5) table (Postfix
//! `alias_maps`, sendmail `/etc/aliases`), its recursive expansion into final targets, and the
//! `recipient_delimiter` split of `user+extension` local parts.
//!
//! Follows Postfix local(8) and aliases(5): names match ignoring case; an alias naming itself
//! (`root: root, backup`) delivers to the user of that name instead of looping (sendmail does
//! the same); `:include:` files are read when a message is expanded, not when the table is
//! loaded; `|command` and `/file` targets are kept as targets for the caller, who refuses them
//! unless enabled (here: [`ExpandOptions`], and a refusal is an error, never a silent drop).
//! An unmatched `user+ext` is looked up as `user`, the extension dropped (Postfix's default
//! `propagate_unmatched_extensions` does not include aliases).
//!
//! Invariants: loading never fails (unreadable files become diagnostics); expansion ends
//! (path-based loop detection, [`MAX_DEPTH`], [`MAX_TARGETS`]); results are de-duplicated in
//! first-seen order; no panic on any input.

mod expand;
mod parse;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use parse::Raw;

/// How deep aliases may nest (sendmail stops at 10, Postfix counts delivery attempts).
pub const MAX_DEPTH: usize = 20;

/// The most targets one expansion may produce (a mailing list should use a list manager).
pub const MAX_TARGETS: usize = 1000;

/// The largest aliases or include file read (bytes).
pub const MAX_FILE: u64 = 16 << 20;

/// A final destination of a local recipient after alias expansion.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// A local user name (extension stripped when the options give a delimiter), to be
    /// looked up in the user base; case kept as written.
    Local(String),
    /// An address outside the local domains, as written (`user@example.org`).
    Remote(String),
    /// `|command`: the command line without the `|` (run by `/bin/sh -c` if the caller allows).
    Command(String),
    /// `/path`: a file to append the message to (mbox).
    File(PathBuf),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Local(s) | Target::Remote(s) => f.write_str(s),
            Target::Command(c) => write!(f, "|{c}"),
            Target::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// How bad a [`Diagnostic`] is: `rmail newaliases` fails on errors only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Worth knowing, the table works (a missing file, an unsupported map type, a duplicate).
    Warning,
    /// A line or target that cannot be used.
    Error,
}

/// A problem found while loading or checking the tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file (or the map specification) it is about.
    pub origin: PathBuf,
    /// 1-based line number; 0 when about the whole file.
    pub line: usize,
    /// Warning or error.
    pub severity: Severity,
    /// What is wrong, lower case.
    pub message: String,
}

impl Diagnostic {
    fn error(origin: &Path, line: usize, message: String) -> Diagnostic {
        Diagnostic {
            origin: origin.to_owned(),
            line,
            severity: Severity::Error,
            message,
        }
    }

    fn warning(origin: &Path, line: usize, message: String) -> Diagnostic {
        Diagnostic {
            origin: origin.to_owned(),
            line,
            severity: Severity::Warning,
            message,
        }
    }
}

impl fmt::Display for Diagnostic {
    /// `FILE:LINE: error: MESSAGE` (the line left out when 0), like compilers and postalias.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        if self.line == 0 {
            write!(f, "{}: {sev}: {}", self.origin.display(), self.message)
        } else {
            write!(
                f,
                "{}:{}: {sev}: {}",
                self.origin.display(),
                self.line,
                self.message
            )
        }
    }
}

/// One alias: its name as written, where it was defined, its targets.
#[derive(Debug, Clone)]
struct Alias {
    name: String,
    origin: PathBuf,
    line: usize,
    targets: Vec<Raw>,
}

/// A loaded aliases table: names (matched ignoring ASCII case) to target lists. The first
/// definition of a name wins, across files too (Postfix searches `alias_maps` in order).
#[derive(Debug, Clone, Default)]
pub struct Aliases {
    map: HashMap<String, Alias>,
}

/// What the expansion may produce; the defaults refuse commands, files and includes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpandOptions {
    /// Allow `|command` targets (Postfix `allow_mail_to_commands`).
    pub allow_commands: bool,
    /// Allow `/file` targets (Postfix `allow_mail_to_files`).
    pub allow_files: bool,
    /// Allow `:include:` (Postfix's `alias` class of the two settings above).
    pub allow_include: bool,
    /// Domains that are local (`mydestination`): an alias target `user@one-of-these` is
    /// expanded again as `user` instead of becoming [`Target::Remote`].
    pub local_domains: Vec<String>,
    /// `recipient_delimiter` characters (empty: no extensions), see [`strip_extension`].
    pub recipient_delimiter: String,
}

/// Why a local part could not be expanded. [`AliasError::is_temporary`] tells the caller
/// whether to defer (4.x.x) or bounce (5.x.x).
#[derive(Debug, thiserror::Error)]
pub enum AliasError {
    /// A `|command`, `/file` or `:include:` target that the options do not allow, or that
    /// comes from an include file not owned by root (or by us).
    #[error("cannot deliver alias {alias} to {target}: {why}")]
    Refused {
        /// The alias whose target it is.
        alias: String,
        /// The target as written.
        target: String,
        /// Which restriction.
        why: &'static str,
    },
    /// A target in the table that cannot be understood (also reported by `check`).
    #[error("cannot use target {text} of alias {alias}: {why}")]
    Invalid {
        /// The alias.
        alias: String,
        /// The target as written.
        text: String,
        /// What is wrong.
        why: &'static str,
    },
    /// An include file could not be read: temporary (the administrator may fix it).
    #[error("cannot read include file {path}: {source}", path = .path.display())]
    Include {
        /// The include file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// An include file that others could have written (group/world-writable, not a file).
    #[error("cannot use include file {path}: {why}", path = .path.display())]
    UnsafeInclude {
        /// The include file.
        path: PathBuf,
        /// What is wrong with it.
        why: &'static str,
    },
    /// Aliases nested deeper than [`MAX_DEPTH`].
    #[error("cannot expand alias {0}: nested too deeply")]
    TooDeep(String),
    /// More than [`MAX_TARGETS`] targets.
    #[error("cannot expand alias {0}: too many targets")]
    TooMany(String),
}

impl AliasError {
    /// True for failures worth retrying later (an unreadable include file), false for
    /// configuration errors that bounce.
    pub fn is_temporary(&self) -> bool {
        matches!(self, AliasError::Include { .. })
    }
}

/// Parses one aliases(5) text; `origin` names it in diagnostics. Unusable lines are left out
/// of the table with an error diagnostic; unusable targets stay (expansion of their alias
/// fails) and get one too; a duplicate name keeps its first definition with a warning.
pub fn parse(text: &str, origin: &Path) -> (Aliases, Vec<Diagnostic>) {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (entries, mut diags) = parse::parse_entries(text, origin);
    let mut aliases = Aliases::default();
    for e in entries {
        let key = e.name.to_ascii_lowercase();
        if let Some(first) = aliases.map.get(&key) {
            diags.push(Diagnostic::warning(
                origin,
                e.line,
                format!(
                    "duplicate alias {} ignored (first defined on line {})",
                    e.name, first.line
                ),
            ));
            continue;
        }
        aliases.map.insert(
            key,
            Alias {
                name: e.name,
                origin: origin.to_owned(),
                line: e.line,
                targets: e.targets,
            },
        );
    }
    diags.sort_by_key(|d| d.line);
    (aliases, diags)
}

/// Splits a main.cf `alias_maps` value into map specifications (commas and/or white space).
pub fn split_maps(value: &str) -> Vec<String> {
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The source file of a map specification: `hash:/etc/aliases` → `/etc/aliases` (rmail reads
/// the text the database is built from); `Err` with a reason for map types without a text
/// source (`nis:`, `ldap:`, …).
fn map_source(spec: &str) -> Result<PathBuf, String> {
    let spec = spec.trim();
    match spec.split_once(':') {
        Some((kind, path)) if !spec.starts_with('/') => {
            const TEXT: [&str; 7] = ["hash", "btree", "texthash", "lmdb", "cdb", "dbm", "sdbm"];
            if TEXT.iter().any(|t| t.eq_ignore_ascii_case(kind)) {
                if path.starts_with('/') {
                    Ok(PathBuf::from(path))
                } else {
                    Err("relative path refused".into())
                }
            } else {
                Err(format!("map type {kind} is not supported, skipped"))
            }
        }
        _ if spec.starts_with('/') => Ok(PathBuf::from(spec)),
        _ => Err("relative path refused".into()),
    }
}

/// Loads the tables of `maps` (`alias_maps` specifications, in order: the first definition
/// of a name wins). Never fails: a missing file is a warning, an unreadable one or a bad
/// line an error diagnostic, an unsupported map type a warning.
pub fn load(maps: &[String]) -> (Aliases, Vec<Diagnostic>) {
    let mut all = Aliases::default();
    let mut diags = Vec::new();
    for spec in maps {
        let path = match map_source(spec) {
            Ok(p) => p,
            Err(why) => {
                diags.push(Diagnostic::warning(Path::new(spec), 0, why));
                continue;
            }
        };
        let bytes = match read_capped(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                diags.push(Diagnostic::warning(&path, 0, "file does not exist".into()));
                continue;
            }
            Err(e) => {
                diags.push(Diagnostic::error(&path, 0, format!("cannot read: {e}")));
                continue;
            }
        };
        let text = String::from_utf8_lossy(&bytes);
        if let std::borrow::Cow::Owned(_) = text {
            diags.push(Diagnostic::warning(
                &path,
                0,
                "not UTF-8: bad bytes replaced".into(),
            ));
        }
        let (table, d) = parse(&text, &path);
        diags.extend(d);
        for (k, v) in table.map {
            all.map.entry(k).or_insert(v);
        }
    }
    (all, diags)
}

/// Reads a file of at most [`MAX_FILE`] bytes.
pub(crate) fn read_capped(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(path)?;
    let mut out = Vec::new();
    f.take(MAX_FILE + 1).read_to_end(&mut out)?;
    if out.len() as u64 > MAX_FILE {
        return Err(std::io::Error::other("file too large"));
    }
    Ok(out)
}

impl Aliases {
    /// Number of aliases.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when there are no aliases.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// True when `name` (any case) is an alias.
    pub fn contains(&self, name: &str) -> bool {
        self.map.contains_key(&name.to_ascii_lowercase())
    }

    /// The alias names as written, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.map.values().map(|a| a.name.as_str()).collect();
        v.sort_unstable();
        v
    }

    /// Where `name` is defined: (file, 1-based line).
    pub fn origin(&self, name: &str) -> Option<(&Path, usize)> {
        self.map
            .get(&name.to_ascii_lowercase())
            .map(|a| (a.origin.as_path(), a.line))
    }

    /// Expands `local_part` (no `@domain`) into its final targets: aliases recursively, a
    /// name already being expanded (`root: root, backup`, or a loop `a: b`, `b: a`) as the
    /// local user itself, `user+ext` as `user` when `user+ext` is not an alias, `u@local`
    /// targets as `u`, includes read now. A local part that is no alias gives
    /// `[Target::Local(user)]`. Result de-duplicated, in first-seen order.
    ///
    /// Errors: a refused or invalid target anywhere in the expansion (the whole recipient
    /// fails, as a bounce, so nothing is dropped silently), an unreadable or unsafe include
    /// file (temporary: see [`AliasError::is_temporary`]), nesting beyond [`MAX_DEPTH`] or
    /// more than [`MAX_TARGETS`] targets.
    pub fn expand(
        &self,
        local_part: &str,
        options: &ExpandOptions,
    ) -> Result<Vec<Target>, AliasError> {
        expand::Expansion::new(self, options).run(local_part)
    }
}

/// `recipient_delimiter` split (Postfix): the local part before and after the first character
/// of `delimiters` found in it: `("alice+lists", "+")` → `("alice", Some("lists"))`. Not split:
/// no delimiter found, an empty delimiter set, a local part that starts with a delimiter, and
/// (with `-`) `owner-…` and `…-request` names, as Postfix does.
pub fn strip_extension<'a>(local_part: &'a str, delimiters: &str) -> (&'a str, Option<&'a str>) {
    if delimiters.is_empty() {
        return (local_part, None);
    }
    let Some((i, d)) = local_part
        .char_indices()
        .find(|(_, c)| delimiters.contains(*c))
    else {
        return (local_part, None);
    };
    if i == 0 {
        return (local_part, None);
    }
    if d == '-' {
        let lower = local_part.to_ascii_lowercase();
        if lower.starts_with("owner-") || lower.ends_with("-request") {
            return (local_part, None);
        }
    }
    (&local_part[..i], Some(&local_part[i + d.len_utf8()..]))
}

/// What `rmail newaliases` reports about the tables.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    /// The files that were read.
    pub files: Vec<PathBuf>,
    /// Number of aliases.
    pub aliases: usize,
    /// Number of targets over all aliases.
    pub targets: usize,
    /// Everything found, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

impl CheckReport {
    /// True when a diagnostic is an error (newaliases should exit non-zero).
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }
}

/// Checks the tables of `maps` for `rmail newaliases`: what [`load`] reports, plus a warning
/// for each `:include:` file that does not exist now.
pub fn check(maps: &[String]) -> CheckReport {
    let (aliases, mut diagnostics) = load(maps);
    let files = maps.iter().filter_map(|m| map_source(m).ok()).collect();
    let mut targets = 0;
    let mut list: Vec<&Alias> = aliases.map.values().collect();
    list.sort_by(|a, b| (&a.origin, a.line).cmp(&(&b.origin, b.line)));
    for a in list {
        targets += a.targets.len();
        for t in &a.targets {
            if let Raw::Include(p) = t {
                if !p.exists() {
                    diagnostics.push(Diagnostic::warning(
                        &a.origin,
                        a.line,
                        format!(
                            "alias {}: include file {} does not exist",
                            a.name,
                            p.display()
                        ),
                    ));
                }
            }
        }
    }
    CheckReport {
        files,
        aliases: aliases.len(),
        targets,
        diagnostics,
    }
}

#[cfg(test)]
mod tests;
