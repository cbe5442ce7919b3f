//! LIST and LSUB name matching (RFC 3501 §6.3.8): reference and pattern joined, `*`
//! matching anything and `%` anything but the hierarchy delimiter `/`; INBOX matched
//! without regard to case. Matching is a linear-space dynamic programme, so hostile
//! patterns such as `*%*%*%…` cost O(pattern × name), never exponential time.

/// The hierarchy delimiter.
pub(super) const DELIMITER: char = '/';

/// The pattern a LIST with this reference and mailbox argument matches: the two joined
/// (RFC 3501 §6.3.8 leaves the interpretation of the reference to the server; ours is
/// plain concatenation, with one `/` when the reference ends in one and the pattern starts
/// with one).
pub(super) fn full_pattern(reference: &str, pattern: &str) -> String {
    if reference.ends_with(DELIMITER) && pattern.starts_with(DELIMITER) {
        format!("{reference}{}", &pattern[1..])
    } else {
        format!("{reference}{pattern}")
    }
}

/// Whether `name` matches `pattern` (see the module doc).
pub(super) fn matches(pattern: &str, name: &str) -> bool {
    let p = inbox_folded(pattern, name);
    let (p, n) = (p.as_bytes(), name.as_bytes());
    // prev[j]: pattern[..i] matches name[..j].
    let mut prev = vec![false; n.len() + 1];
    prev[0] = true;
    for &pc in p {
        let mut cur = vec![false; n.len() + 1];
        match pc {
            b'*' | b'%' => {
                cur[0] = prev[0];
                for j in 1..=n.len() {
                    let can_eat = pc == b'*' || n[j - 1] != DELIMITER as u8;
                    cur[j] = prev[j] || (can_eat && cur[j - 1]);
                }
            }
            _ => {
                for j in 1..=n.len() {
                    cur[j] = prev[j - 1] && n[j - 1] == pc;
                }
            }
        }
        prev = cur;
    }
    prev[n.len()]
}

/// The pattern with a leading `inbox` (any case) spelled `INBOX` when `name` is INBOX or
/// below it, since INBOX is case-insensitive (RFC 3501 §5.1).
fn inbox_folded(pattern: &str, name: &str) -> String {
    let is_inbox = name == "INBOX" || name.starts_with("INBOX/");
    if is_inbox && pattern.len() >= 5 && pattern.is_char_boundary(5) {
        let (head, tail) = pattern.split_at(5);
        if head.eq_ignore_ascii_case("INBOX") {
            return format!("INBOX{tail}");
        }
    }
    pattern.to_string()
}

/// Whether `name` has children among `names` (RFC 3348 `\HasChildren`).
pub(super) fn has_children(name: &str, names: &[&str]) -> bool {
    names.iter().any(|n| {
        n.len() > name.len() + 1 && n.starts_with(name) && n[name.len()..].starts_with(DELIMITER)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(matches("*", "a/b/c"));
        assert!(matches("%", "abc"));
        assert!(!matches("%", "a/b"));
        assert!(matches("a/%", "a/b"));
        assert!(!matches("a/%", "a/b/c"));
        assert!(matches("a*c", "a/b/c"));
        assert!(matches("inbox", "INBOX"));
        assert!(matches("Inbox/%", "INBOX/x"));
        assert!(!matches("sent", "Sent"));
        assert!(matches("", ""));
        let hostile = "*%".repeat(500) + "x";
        assert!(!matches(&hostile, &"a".repeat(1000)));
        assert_eq!(full_pattern("a/", "/b"), "a/b");
        assert_eq!(full_pattern("a/", "%"), "a/%");
        assert!(has_children("a", &["a", "a/b"]));
        assert!(!has_children("a", &["a", "ab"]));
    }
}
