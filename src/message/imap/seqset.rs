//! IMAP sequence sets (RFC 3501 §9 `sequence-set`): `1:*`, `2,4:7,9`, `*`, used for message
//! sequence numbers and UIDs.
//!
//! `*` stands for the largest number in use and is resolved only when the set is applied
//! (RFC 3501 §6.4.8: `559:*` includes the last UID even when it is below 559). A range may be
//! written either way round (`7:4` is `4:7`). Numbers are non-zero 32-bit values.

use std::fmt;

/// One end of a range: a number or `*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqNumber {
    /// A number ≥ 1.
    Value(u32),
    /// `*`: the largest number in use.
    Star,
}

impl SeqNumber {
    /// The number, with `*` standing for `max`.
    pub fn resolve(self, max: u32) -> u32 {
        match self {
            SeqNumber::Value(n) => n,
            SeqNumber::Star => max,
        }
    }
}

/// A sequence set that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeqSetError {
    #[error("cannot parse sequence set: empty")]
    Empty,
    #[error("cannot parse sequence set: bad number {0:?}")]
    BadNumber(String),
}

/// A parsed sequence set: the ranges as written (a single number is a range of one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceSet {
    ranges: Vec<(SeqNumber, SeqNumber)>,
}

fn number(s: &str) -> Result<SeqNumber, SeqSetError> {
    if s == "*" {
        return Ok(SeqNumber::Star);
    }
    let bad = || SeqSetError::BadNumber(s.chars().take(20).collect());
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || s.starts_with('0') {
        return Err(bad());
    }
    s.parse::<u32>().map(SeqNumber::Value).map_err(|_| bad())
}

impl SequenceSet {
    /// A set of the given ranges (each end ≥ 1 or `*`). `None` when empty or a number is 0.
    pub fn from_ranges(ranges: Vec<(SeqNumber, SeqNumber)>) -> Option<SequenceSet> {
        let ok = !ranges.is_empty()
            && ranges
                .iter()
                .all(|(a, b)| *a != SeqNumber::Value(0) && *b != SeqNumber::Value(0));
        ok.then_some(SequenceSet { ranges })
    }

    /// The ranges as written.
    pub fn ranges(&self) -> &[(SeqNumber, SeqNumber)] {
        &self.ranges
    }

    /// The ranges with `*` resolved to `max`, each as `(low, high)`, sorted and merged.
    pub fn resolved(&self, max: u32) -> Vec<(u32, u32)> {
        let mut v: Vec<(u32, u32)> = self
            .ranges
            .iter()
            .map(|(a, b)| {
                let (a, b) = (a.resolve(max), b.resolve(max));
                (a.min(b), a.max(b))
            })
            .collect();
        v.sort_unstable();
        let mut out: Vec<(u32, u32)> = Vec::with_capacity(v.len());
        for (lo, hi) in v {
            match out.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => out.push((lo, hi)),
            }
        }
        out
    }

    /// Whether `n` is in the set, `*` standing for `max`.
    pub fn contains(&self, n: u32, max: u32) -> bool {
        self.ranges.iter().any(|(a, b)| {
            let (a, b) = (a.resolve(max), b.resolve(max));
            a.min(b) <= n && n <= a.max(b)
        })
    }

    /// The numbers of the set that lie in `1..=max`, ascending, each once (for sequence
    /// numbers; `*` stands for `max`).
    pub fn iter(&self, max: u32) -> impl Iterator<Item = u32> {
        self.resolved(max)
            .into_iter()
            .filter_map(move |(lo, hi)| {
                let lo = lo.max(1);
                let hi = hi.min(max);
                (lo <= hi).then_some(lo..=hi)
            })
            .flatten()
    }
}

impl std::str::FromStr for SequenceSet {
    type Err = SeqSetError;

    /// Parses `seq-number / seq-range` items separated by commas (RFC 3501 §9).
    fn from_str(s: &str) -> Result<SequenceSet, SeqSetError> {
        if s.is_empty() {
            return Err(SeqSetError::Empty);
        }
        let mut ranges = Vec::new();
        for item in s.split(',') {
            let range = match item.split_once(':') {
                Some((a, b)) => (number(a)?, number(b)?),
                None => {
                    let n = number(item)?;
                    (n, n)
                }
            };
            ranges.push(range);
        }
        Ok(SequenceSet { ranges })
    }
}

impl fmt::Display for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SeqNumber::Value(n) => write!(f, "{n}"),
            SeqNumber::Star => f.write_str("*"),
        }
    }
}

impl fmt::Display for SequenceSet {
    /// The set as written back: `1:*,4`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, (a, b)) in self.ranges.iter().enumerate() {
            if k > 0 {
                f.write_str(",")?;
            }
            if a == b {
                write!(f, "{a}")?;
            } else {
                write!(f, "{a}:{b}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(s: &str) -> SequenceSet {
        s.parse().unwrap()
    }

    #[test]
    fn parses_and_prints() {
        for s in ["1:*", "2,4:7,9", "*", "7:4", "1", "*:3"] {
            assert_eq!(set(s).to_string(), s);
        }
        for bad in [
            "",
            "0",
            "1:0",
            "a",
            "1,",
            ",1",
            "1::2",
            "01",
            "4294967296",
            "-1",
            "1 2",
        ] {
            assert!(bad.parse::<SequenceSet>().is_err(), "{bad}");
        }
        assert_eq!(
            set("4294967295").ranges(),
            &[(SeqNumber::Value(u32::MAX), SeqNumber::Value(u32::MAX))]
        );
    }

    #[test]
    fn contains_and_star() {
        let s = set("2,4:7,9");
        let hits: Vec<u32> = (1..=10).filter(|&n| s.contains(n, 10)).collect();
        assert_eq!(hits, [2, 4, 5, 6, 7, 9]);
        assert!(set("*").contains(12, 12));
        assert!(!set("*").contains(11, 12));
        // RFC 3501 §6.4.8: 559:* includes the last UID even below 559.
        assert!(set("559:*").contains(100, 100));
        assert!(set("7:4").contains(5, 10));
    }

    #[test]
    fn iterates() {
        assert_eq!(set("1:*").iter(4).collect::<Vec<_>>(), [1, 2, 3, 4]);
        assert_eq!(set("3,1:2,2,9").iter(5).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(set("1:*").iter(0).count(), 0);
        assert_eq!(set("5:*").iter(3).collect::<Vec<_>>(), [3]);
        assert_eq!(set("1:3,5:6,4").resolved(10), [(1, 6)]);
        assert_eq!(set("1:4294967295").resolved(1), [(1, u32::MAX)]);
    }
}
