//! Message flags as stored: a bit set for the system flags (RFC 9051 §2.3.2)
//! and the well-known keywords moxd acts on (RFC 5788 registry: $Forwarded,
//! $Junk, $NotJunk, $Phishing, $MDNSent), plus other keywords lower-cased,
//! sorted and space-separated in one text column.

use crate::error::{Result, StoreError};

/// Most keywords (beyond the well-known ones) one message may carry.
pub const MAX_KEYWORDS: usize = 100;
/// Longest keyword, in bytes.
pub const MAX_KEYWORD_LEN: usize = 128;

/// Bit, wire spelling. Order is the order flags are listed in.
const KNOWN: &[(u32, &str)] = &[
    (1 << 0, "\\Seen"),
    (1 << 1, "\\Answered"),
    (1 << 2, "\\Flagged"),
    (1 << 3, "\\Deleted"),
    (1 << 4, "\\Draft"),
    (1 << 5, "$Forwarded"),
    (1 << 6, "$Junk"),
    (1 << 7, "$NotJunk"),
    (1 << 8, "$Phishing"),
    (1 << 9, "$MDNSent"),
];

pub const SEEN: u32 = 1 << 0;
pub const DELETED: u32 = 1 << 3;

/// Parsed flags of one message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlagSet {
    pub bits: u32,
    /// Lower-cased, sorted, without duplicates.
    pub keywords: Vec<String>,
}

impl FlagSet {
    /// Parses flags as clients send them. System flags other than the
    /// storable ones (`\Recent`, unknown `\X`) are refused.
    pub fn parse(flags: &[String]) -> Result<FlagSet> {
        let mut set = FlagSet::default();
        for flag in flags {
            if let Some((bit, _)) = KNOWN
                .iter()
                .find(|(_, name)| name.eq_ignore_ascii_case(flag))
            {
                set.bits |= bit;
                continue;
            }
            if flag.starts_with('\\') {
                return Err(StoreError::invalid(format!(
                    "cannot store system flag {flag:?}"
                )));
            }
            // RFC 9051 §9: flag-keyword = atom; no atom-specials.
            let atom = !flag.is_empty()
                && flag.len() <= MAX_KEYWORD_LEN
                && flag
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && !b"(){%*\"\\]".contains(&b));
            if !atom {
                return Err(StoreError::invalid(format!("invalid keyword {flag:?}")));
            }
            set.keywords.push(flag.to_ascii_lowercase());
        }
        set.keywords.sort_unstable();
        set.keywords.dedup();
        if set.keywords.len() > MAX_KEYWORDS {
            return Err(StoreError::invalid(format!(
                "more than {MAX_KEYWORDS} keywords"
            )));
        }
        Ok(set)
    }

    /// From the database columns.
    pub fn from_columns(bits: i64, keywords: &str) -> FlagSet {
        FlagSet {
            bits: u32::try_from(bits).unwrap_or(0),
            keywords: keywords
                .split(' ')
                .filter(|k| !k.is_empty())
                .map(str::to_string)
                .collect(),
        }
    }

    /// The `keywords` column.
    pub fn keywords_column(&self) -> String {
        self.keywords.join(" ")
    }

    /// As sent on the wire: known flags first, then keywords.
    pub fn to_wire(&self) -> Vec<String> {
        KNOWN
            .iter()
            .filter(|(bit, _)| self.bits & bit != 0)
            .map(|(_, name)| name.to_string())
            .chain(self.keywords.iter().cloned())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn parse_and_render() {
        let f =
            FlagSet::parse(&s(&["\\seen", "Custom", "$junk", "\\Draft", "custom", "b"])).unwrap();
        assert_eq!(f.bits, SEEN | (1 << 4) | (1 << 6));
        assert_eq!(f.keywords, ["b", "custom"]);
        assert_eq!(
            f.to_wire(),
            s(&["\\Seen", "\\Draft", "$Junk", "b", "custom"])
        );
        let back = FlagSet::from_columns(i64::from(f.bits), &f.keywords_column());
        assert_eq!(back, f);
        assert_eq!(FlagSet::from_columns(0, ""), FlagSet::default());
    }

    #[test]
    fn refuses_bad_flags() {
        for bad in ["\\Recent", "\\Foo", "", "a b", "a(", "a]", "é", "a\"", "a*"] {
            assert!(FlagSet::parse(&s(&[bad])).is_err(), "{bad:?}");
        }
        let many: Vec<String> = (0..=MAX_KEYWORDS).map(|i| format!("k{i}")).collect();
        assert!(FlagSet::parse(&many).is_err());
    }
}
