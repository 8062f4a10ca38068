//! Sequence sets (RFC 9051 §9 `sequence-set`, §6.4.8 for UIDs) including
//! `*` and the saved search result `$` (RFC 5182 SEARCHRES).

use super::ParseError;
use super::lexer::Cursor;

/// One end of a range: a number or `*` (the last message / largest UID).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqNumber {
    Value(u32),
    Last,
}

impl SeqNumber {
    fn resolve(self, last: u32) -> u32 {
        match self {
            SeqNumber::Value(v) => v,
            SeqNumber::Last => last,
        }
    }
}

/// `a`, or `a:b` (in either order, RFC 9051 §9 `seq-range`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqRange {
    pub from: SeqNumber,
    pub to: SeqNumber,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SequenceSet {
    Ranges(Vec<SeqRange>),
    /// `$`: the result saved by `SEARCH RETURN (SAVE)` (RFC 5182 §2.1).
    Saved,
}

impl SequenceSet {
    /// A set of single numbers (ascending input gives compact ranges).
    pub fn from_numbers(nums: &[u32]) -> SequenceSet {
        let mut ranges: Vec<SeqRange> = Vec::new();
        for &n in nums {
            if let Some(SeqRange {
                to: SeqNumber::Value(t),
                ..
            }) = ranges.last_mut()
                && t.checked_add(1) == Some(n)
            {
                *t = n;
                continue;
            }
            ranges.push(SeqRange {
                from: SeqNumber::Value(n),
                to: SeqNumber::Value(n),
            });
        }
        SequenceSet::Ranges(ranges)
    }

    /// The ranges with `*` as `last`, each low ≤ high, sorted and merged;
    /// None for `$`.
    pub fn ranges(&self, last: u32) -> Option<Vec<(u32, u32)>> {
        let SequenceSet::Ranges(rs) = self else {
            return None;
        };
        let mut out: Vec<(u32, u32)> = rs
            .iter()
            .map(|r| {
                let (a, b) = (r.from.resolve(last), r.to.resolve(last));
                (a.min(b), a.max(b))
            })
            .collect();
        out.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(out.len());
        for (a, b) in out {
            match merged.last_mut() {
                Some((_, hi)) if a <= hi.saturating_add(1) => *hi = (*hi).max(b),
                _ => merged.push((a, b)),
            }
        }
        Some(merged)
    }

    /// Whether any number in the set is above `max` (sequence numbers past
    /// the end are a client error, RFC 9051 §9 `seq-number`).
    pub fn max_value(&self) -> Option<u32> {
        match self {
            SequenceSet::Saved => None,
            SequenceSet::Ranges(rs) => rs
                .iter()
                .flat_map(|r| [r.from, r.to])
                .filter_map(|n| match n {
                    SeqNumber::Value(v) => Some(v),
                    SeqNumber::Last => None,
                })
                .max(),
        }
    }
}

/// Whether `n` lies in sorted, merged `ranges`.
pub fn in_ranges(ranges: &[(u32, u32)], n: u32) -> bool {
    let i = ranges.partition_point(|&(_, hi)| hi < n);
    ranges.get(i).is_some_and(|&(lo, _)| lo <= n)
}

impl Cursor<'_> {
    fn seq_number(&mut self) -> Result<SeqNumber, ParseError> {
        if self.eat(b'*') {
            Ok(SeqNumber::Last)
        } else {
            self.nz_number().map(SeqNumber::Value)
        }
    }

    /// RFC 9051 §9 `sequence-set`, or `$` (RFC 5182 §3 `seq-last-command`).
    pub fn sequence_set(&mut self) -> Result<SequenceSet, ParseError> {
        if self.eat(b'$') {
            return Ok(SequenceSet::Saved);
        }
        let mut ranges = Vec::new();
        loop {
            let from = self.seq_number()?;
            let to = if self.eat(b':') {
                self.seq_number()?
            } else {
                from
            };
            ranges.push(SeqRange { from, to });
            if !self.eat(b',') {
                break;
            }
        }
        Ok(SequenceSet::Ranges(ranges))
    }

    /// True if a sequence set starts here (a digit, `*` or `$`).
    pub fn at_sequence_set(&self) -> bool {
        matches!(self.peek(), Some(b'0'..=b'9' | b'*' | b'$'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imap::parse::Options;

    fn parse(s: &str) -> Result<SequenceSet, ParseError> {
        Cursor::new(s.as_bytes(), Options::default()).sequence_set()
    }

    #[test]
    fn ranges_are_normalised() {
        let s = parse("5:3,1,*,10:*,2").unwrap();
        assert_eq!(s.ranges(12).unwrap(), vec![(1, 5), (10, 12)]);
        assert_eq!(s.max_value(), Some(10));
        assert_eq!(parse("$").unwrap(), SequenceSet::Saved);
        assert!(parse("0").is_err());
        assert!(parse("1:").is_err());
        assert!(parse("99999999999").is_err());
    }

    #[test]
    fn membership_and_compaction() {
        let r = parse("2:4,8").unwrap().ranges(100).unwrap();
        let got: Vec<u32> = (0..10).filter(|&n| in_ranges(&r, n)).collect();
        assert_eq!(got, vec![2, 3, 4, 8]);
        assert_eq!(
            SequenceSet::from_numbers(&[1, 2, 3, 7]).ranges(0).unwrap(),
            vec![(1, 3), (7, 7)]
        );
    }
}
