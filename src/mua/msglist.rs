//! Message lists (POSIX mailx "Specifying messages"): `n`, `n-m`, `*`, `.`, `^`, `$`, `+`,
//! `-`, `:n :o :u :r :d`, `/string` (subject contains, case-insensitive) and `address`
//! (sender contains, case-insensitive); several specs in one list. Pure: the session is seen
//! through [`ListContext`].

/// What the parser needs to know about the open folder. Message numbers are 1-based.
pub trait ListContext {
    /// Number of messages in the folder.
    fn count(&self) -> usize;
    /// The current message (`.`), 0 when the folder is empty.
    fn current(&self) -> usize;
    /// Whether message `n` is marked deleted.
    fn is_deleted(&self, n: usize) -> bool;
    /// Whether message `n` is new (arrived since the last session, not yet read).
    fn is_new(&self, n: usize) -> bool;
    /// Whether message `n` has been read (now or in an earlier session).
    fn is_read(&self, n: usize) -> bool;
    /// Decoded subject of message `n`.
    fn subject(&self, n: usize) -> String;
    /// Sender address (and name) of message `n`.
    fn sender(&self, n: usize) -> String;
}

/// Which messages a command operates on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// Undeleted messages (print, delete, save, …).
    Undeleted,
    /// Deleted messages (undelete).
    Deleted,
}

/// Why a list does not select anything; `Display` gives mailx's wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    /// A number outside 1..=count.
    #[error("{0}: Invalid message number")]
    Invalid(usize),
    /// A message that exists but is deleted (or not deleted, for undelete).
    #[error("{0}: Inappropriate message")]
    Inappropriate(usize),
    /// The list is well-formed but selects nothing.
    #[error("No applicable messages")]
    NoApplicable,
    /// An unknown `:x` type.
    #[error("Unknown colon modifier \"{0}\"")]
    BadColon(String),
    /// `n-m` with a malformed number.
    #[error("Bad message range \"{0}\"")]
    BadRange(String),
}

/// Parses `spec` into ascending, de-duplicated message numbers. An empty spec selects the
/// current message.
pub fn parse(spec: &str, ctx: &dyn ListContext, want: Want) -> Result<Vec<usize>, ListError> {
    let n = ctx.count();
    let fits = |m: usize| (ctx.is_deleted(m)) == (want == Want::Deleted);
    let mut picked = vec![false; n + 1];
    let mut any_spec = false;
    for tok in tokens(spec) {
        any_spec = true;
        select(&tok, ctx, want, &fits, &mut picked)?;
    }
    if !any_spec {
        let c = ctx.current();
        if c == 0 || c > n {
            return Err(ListError::NoApplicable);
        }
        if !fits(c) {
            return Err(ListError::Inappropriate(c));
        }
        return Ok(vec![c]);
    }
    let out: Vec<usize> = (1..=n).filter(|&m| picked[m]).collect();
    if out.is_empty() {
        return Err(ListError::NoApplicable);
    }
    Ok(out)
}

/// Splits a list into specs: white space separates; `/string` runs to the end of its word.
fn tokens(spec: &str) -> Vec<String> {
    spec.split_whitespace().map(str::to_owned).collect()
}

fn select(
    tok: &str,
    ctx: &dyn ListContext,
    want: Want,
    fits: &dyn Fn(usize) -> bool,
    picked: &mut [bool],
) -> Result<(), ListError> {
    let n = ctx.count();
    let one = |m: usize, picked: &mut [bool]| -> Result<(), ListError> {
        if m == 0 || m > n {
            return Err(ListError::Invalid(m));
        }
        if !fits(m) {
            return Err(ListError::Inappropriate(m));
        }
        picked[m] = true;
        Ok(())
    };
    let first_fit = |it: &mut dyn Iterator<Item = usize>| {
        let mut found = None;
        for m in it {
            if fits(m) {
                found = Some(m);
                break;
            }
        }
        found
    };
    match tok {
        "*" => {
            for m in 1..=n {
                if fits(m) {
                    picked[m] = true;
                }
            }
            Ok(())
        }
        "." => one(ctx.current(), picked),
        "^" => match first_fit(&mut (1..=n)) {
            Some(m) => one(m, picked),
            None => Err(ListError::NoApplicable),
        },
        "$" => match first_fit(&mut (1..=n).rev()) {
            Some(m) => one(m, picked),
            None => Err(ListError::NoApplicable),
        },
        "+" => match first_fit(&mut (ctx.current() + 1..=n)) {
            Some(m) => one(m, picked),
            None => Err(ListError::NoApplicable),
        },
        "-" => match first_fit(&mut (1..ctx.current().max(1)).rev()) {
            Some(m) => one(m, picked),
            None => Err(ListError::NoApplicable),
        },
        _ if tok.starts_with(':') => {
            let kind = &tok[1..];
            let test: Box<dyn Fn(usize) -> bool> = match kind.to_ascii_lowercase().as_str() {
                "n" => Box::new(|m| ctx.is_new(m) && !ctx.is_read(m) && !ctx.is_deleted(m)),
                "o" => Box::new(|m| !ctx.is_new(m) && !ctx.is_deleted(m)),
                "u" => Box::new(|m| !ctx.is_read(m) && !ctx.is_deleted(m)),
                "r" => Box::new(|m| ctx.is_read(m) && !ctx.is_deleted(m)),
                "d" => Box::new(|m| ctx.is_deleted(m)),
                _ => return Err(ListError::BadColon(kind.to_owned())),
            };
            for m in 1..=n {
                if test(m) && (kind.eq_ignore_ascii_case("d") || fits(m)) {
                    picked[m] = true;
                }
            }
            Ok(())
        }
        _ if tok.starts_with('/') => {
            let needle = tok[1..].to_lowercase();
            for m in 1..=n {
                if fits(m) && ctx.subject(m).to_lowercase().contains(&needle) {
                    picked[m] = true;
                }
            }
            Ok(())
        }
        _ if tok.as_bytes()[0].is_ascii_digit() => {
            if let Some((a, b)) = tok.split_once('-') {
                let a: usize = a.parse().map_err(|_| ListError::BadRange(tok.to_owned()))?;
                let b: usize = b.parse().map_err(|_| ListError::BadRange(tok.to_owned()))?;
                // `3-1` means 1-3 (s-nail).
                let (a, b) = if b < a { (b, a) } else { (a, b) };
                for m in [a, b] {
                    if m == 0 || m > n {
                        return Err(ListError::Invalid(m));
                    }
                }
                let mut got = false;
                for m in a..=b {
                    if fits(m) {
                        picked[m] = true;
                        got = true;
                    }
                }
                if got {
                    Ok(())
                } else {
                    Err(ListError::NoApplicable)
                }
            } else {
                let m: usize = tok
                    .parse()
                    .map_err(|_| ListError::BadRange(tok.to_owned()))?;
                one(m, picked)
            }
        }
        _ => {
            let needle = tok.to_lowercase();
            let _ = want;
            for m in 1..=n {
                if fits(m) && ctx.sender(m).to_lowercase().contains(&needle) {
                    picked[m] = true;
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake {
        deleted: Vec<bool>,
        cur: usize,
    }

    impl ListContext for Fake {
        fn count(&self) -> usize {
            self.deleted.len()
        }
        fn current(&self) -> usize {
            self.cur
        }
        fn is_deleted(&self, n: usize) -> bool {
            self.deleted[n - 1]
        }
        fn is_new(&self, n: usize) -> bool {
            n >= 4
        }
        fn is_read(&self, n: usize) -> bool {
            n == 1
        }
        fn subject(&self, n: usize) -> String {
            format!("Subject number {n}")
        }
        fn sender(&self, n: usize) -> String {
            if n.is_multiple_of(2) {
                "alice@example.com".into()
            } else {
                "bob@example.org".into()
            }
        }
    }

    fn ctx() -> Fake {
        Fake {
            deleted: vec![false, true, false, false, false],
            cur: 3,
        }
    }

    #[test]
    fn numbers_ranges_and_errors() {
        let c = ctx();
        assert_eq!(parse("1 3-5", &c, Want::Undeleted), Ok(vec![1, 3, 4, 5]));
        assert_eq!(parse("1-5", &c, Want::Undeleted), Ok(vec![1, 3, 4, 5]));
        assert_eq!(
            parse("2", &c, Want::Undeleted),
            Err(ListError::Inappropriate(2))
        );
        assert_eq!(parse("9", &c, Want::Undeleted), Err(ListError::Invalid(9)));
        assert_eq!(parse("0", &c, Want::Undeleted), Err(ListError::Invalid(0)));
        assert_eq!(parse("2", &c, Want::Deleted), Ok(vec![2]));
        assert_eq!(
            ListError::Inappropriate(2).to_string(),
            "2: Inappropriate message"
        );
        assert_eq!(parse("4-3", &c, Want::Undeleted), Ok(vec![3, 4]));
        assert!(matches!(
            parse("4-x", &c, Want::Undeleted),
            Err(ListError::BadRange(_))
        ));
    }

    #[test]
    fn symbols_and_types() {
        let c = ctx();
        assert_eq!(parse("", &c, Want::Undeleted), Ok(vec![3]));
        assert_eq!(parse(".", &c, Want::Undeleted), Ok(vec![3]));
        assert_eq!(parse("^ $", &c, Want::Undeleted), Ok(vec![1, 5]));
        assert_eq!(parse("+", &c, Want::Undeleted), Ok(vec![4]));
        assert_eq!(parse("-", &c, Want::Undeleted), Ok(vec![1]));
        assert_eq!(parse("*", &c, Want::Undeleted), Ok(vec![1, 3, 4, 5]));
        assert_eq!(parse(":n", &c, Want::Undeleted), Ok(vec![4, 5]));
        assert_eq!(parse(":r", &c, Want::Undeleted), Ok(vec![1]));
        assert_eq!(parse(":u", &c, Want::Undeleted), Ok(vec![3, 4, 5]));
        assert_eq!(parse(":o", &c, Want::Undeleted), Ok(vec![1, 3]));
        assert_eq!(parse(":d", &c, Want::Deleted), Ok(vec![2]));
        assert!(matches!(
            parse(":z", &c, Want::Undeleted),
            Err(ListError::BadColon(_))
        ));
    }

    #[test]
    fn search_and_address() {
        let c = ctx();
        assert_eq!(
            parse("/NUMBER 4", &c, Want::Undeleted),
            Ok(vec![1, 3, 4, 5])
        );
        assert_eq!(
            parse("/number 5", &c, Want::Undeleted),
            Ok(vec![1, 3, 4, 5])
        );
        assert_eq!(parse("alice", &c, Want::Undeleted), Ok(vec![4]));
        assert_eq!(
            parse("nobody", &c, Want::Undeleted),
            Err(ListError::NoApplicable)
        );
    }
}
