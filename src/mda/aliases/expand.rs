//! The recursive expansion behind [`Aliases::expand`](super::Aliases::expand).
//!
//! Invariants: a name is expanded at most once per expansion (`done`), which both ends
//! loops and keeps diamond-shaped tables linear; a name met again while it is still being
//! expanded (on `path`) becomes the local user of that name (Postfix/sendmail: an alias that
//! includes itself delivers to the user); include files are read at most once per expansion;
//! depth and output are capped.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::parse::{self, Raw};
use super::{AliasError, Aliases, ExpandOptions, Target, MAX_DEPTH, MAX_TARGETS};

/// Who may have put a target where it is: the table itself (trusted as the administrator's),
/// or an include file of some owner.
#[derive(Clone, Copy)]
enum Source {
    Table,
    Include { trusted: bool },
}

pub(crate) struct Expansion<'a> {
    aliases: &'a Aliases,
    options: &'a ExpandOptions,
    path: Vec<String>,
    done: HashSet<String>,
    includes: HashSet<PathBuf>,
    seen: HashSet<Target>,
    out: Vec<Target>,
}

impl<'a> Expansion<'a> {
    pub(crate) fn new(aliases: &'a Aliases, options: &'a ExpandOptions) -> Expansion<'a> {
        Expansion {
            aliases,
            options,
            path: Vec::new(),
            done: HashSet::new(),
            includes: HashSet::new(),
            seen: HashSet::new(),
            out: Vec::new(),
        }
    }

    pub(crate) fn run(mut self, local_part: &str) -> Result<Vec<Target>, AliasError> {
        self.name(local_part, local_part, 0)?;
        Ok(self.out)
    }

    fn push(&mut self, t: Target, alias: &str) -> Result<(), AliasError> {
        if self.seen.insert(t.clone()) {
            if self.out.len() >= MAX_TARGETS {
                return Err(AliasError::TooMany(alias.to_owned()));
            }
            self.out.push(t);
        }
        Ok(())
    }

    /// The key under which `name` is an alias: itself, else without its extension.
    fn key_of(&self, name: &str) -> Option<String> {
        let key = name.to_ascii_lowercase();
        if self.aliases.map.contains_key(&key) {
            return Some(key);
        }
        let (base, ext) = super::strip_extension(name, &self.options.recipient_delimiter);
        let key = base.to_ascii_lowercase();
        (ext.is_some() && self.aliases.map.contains_key(&key)).then_some(key)
    }

    /// Expands one local name met inside alias `parent`.
    fn name(&mut self, name: &str, parent: &str, depth: usize) -> Result<(), AliasError> {
        if depth > MAX_DEPTH {
            return Err(AliasError::TooDeep(parent.to_owned()));
        }
        match self.key_of(name) {
            Some(key) if self.path.contains(&key) => {
                // Self-reference or loop: deliver to the user of that name.
                self.local(name, parent)
            }
            Some(key) if self.done.contains(&key) => Ok(()),
            Some(key) => {
                let Some(alias) = self.aliases.map.get(&key) else {
                    return self.local(name, parent);
                };
                self.path.push(key.clone());
                for raw in &alias.targets {
                    self.raw(raw, &alias.name, depth + 1, Source::Table)?;
                }
                self.path.pop();
                self.done.insert(key);
                Ok(())
            }
            None => self.local(name, parent),
        }
    }

    fn local(&mut self, name: &str, parent: &str) -> Result<(), AliasError> {
        let user = super::strip_extension(name, &self.options.recipient_delimiter).0;
        self.push(Target::Local(user.to_owned()), parent)
    }

    fn refused(alias: &str, target: &dyn std::fmt::Display, why: &'static str) -> AliasError {
        AliasError::Refused {
            alias: alias.to_owned(),
            target: target.to_string(),
            why,
        }
    }

    fn raw(
        &mut self,
        raw: &Raw,
        alias: &str,
        depth: usize,
        source: Source,
    ) -> Result<(), AliasError> {
        if depth > MAX_DEPTH {
            return Err(AliasError::TooDeep(alias.to_owned()));
        }
        let untrusted = matches!(source, Source::Include { trusted: false });
        match raw {
            Raw::Invalid { text, why } => Err(AliasError::Invalid {
                alias: alias.to_owned(),
                text: text.clone(),
                why,
            }),
            Raw::Target(Target::Local(n)) => self.name(n, alias, depth),
            Raw::Target(Target::Remote(addr)) => match self.local_part_if_local(addr) {
                Some(local) => self.name(&local, alias, depth),
                None => self.push(Target::Remote(addr.clone()), alias),
            },
            Raw::Target(t @ Target::Command(_)) => {
                if !self.options.allow_commands {
                    return Err(Self::refused(alias, t, "mail to commands is not allowed"));
                }
                if untrusted {
                    return Err(Self::refused(
                        alias,
                        t,
                        "command in an include file not owned by root",
                    ));
                }
                self.push(t.clone(), alias)
            }
            Raw::Target(t @ Target::File(_)) => {
                if !self.options.allow_files {
                    return Err(Self::refused(alias, t, "mail to files is not allowed"));
                }
                if untrusted {
                    return Err(Self::refused(
                        alias,
                        t,
                        "file in an include file not owned by root",
                    ));
                }
                self.push(t.clone(), alias)
            }
            Raw::Include(p) => {
                if !self.options.allow_include {
                    return Err(Self::refused(
                        alias,
                        &format!(":include:{}", p.display()),
                        "include files are not allowed",
                    ));
                }
                self.include(p, alias, depth)
            }
        }
    }

    /// Reads and expands one include file (once per expansion).
    fn include(&mut self, path: &Path, alias: &str, depth: usize) -> Result<(), AliasError> {
        if !self.includes.insert(path.to_owned()) {
            return Ok(());
        }
        let io = |source| AliasError::Include {
            path: path.to_owned(),
            source,
        };
        let unsafe_ = |why| AliasError::UnsafeInclude {
            path: path.to_owned(),
            why,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        if !meta.is_file() {
            return Err(unsafe_("not a regular file"));
        }
        if meta.mode() & 0o022 != 0 {
            return Err(unsafe_("writable by group or others"));
        }
        let me = rustix::process::geteuid().as_raw();
        let trusted = meta.uid() == 0 || meta.uid() == me;
        let bytes = super::read_capped(path).map_err(io)?;
        let text = String::from_utf8_lossy(&bytes);
        for raw in parse::parse_include(&text) {
            self.raw(&raw, alias, depth + 1, Source::Include { trusted })?;
        }
        Ok(())
    }

    /// The local part of `addr` when its domain is one of the local domains (a fully quoted
    /// local part is unquoted).
    fn local_part_if_local(&self, addr: &str) -> Option<String> {
        let (local, domain) = addr.rsplit_once('@')?;
        let domain = domain.strip_suffix('.').unwrap_or(domain);
        let is_local = self.options.local_domains.iter().any(|d| {
            let d = d.strip_suffix('.').unwrap_or(d);
            !d.is_empty() && d.eq_ignore_ascii_case(domain)
        });
        if !is_local || local.is_empty() {
            return None;
        }
        match local.strip_prefix('"').and_then(|l| l.strip_suffix('"')) {
            Some(inner) if !inner.contains('"') => Some(inner.to_owned()),
            _ => Some(local.to_owned()),
        }
    }
}
