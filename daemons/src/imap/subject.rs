//! The base subject of RFC 5256 §2.1 (SORT SUBJECT, THREAD
//! ORDEREDSUBJECT and subject grouping): encoded words decoded, white
//! space collapsed, `Re:`/`Fwd:` prefixes, `[blob]`s and `(fwd)` trailers
//! removed, lower-cased.

use crate::imap::search::decode_value;

/// Most prefix/trailer removal rounds (each removes at least one octet).
const MAX_ROUNDS: usize = 1000;

/// RFC 5256 §2.1 base subject of a raw Subject value.
pub fn base_subject(raw: &str) -> String {
    base_subject_and_reply(raw).0
}

/// The base subject, and whether the subject is a reply or forward
/// (RFC 5256 §2.1: a `(fwd)` trailer, a `Re:`/`Fw:`/`Fwd:` leader or a
/// `[fwd: ...]` wrapper was removed), which THREAD REFERENCES uses when it
/// groups threads by subject (RFC 5256 §4 step 5).
pub fn base_subject_and_reply(raw: &str) -> (String, bool) {
    let decoded = decode_value(raw.as_bytes());
    let mut s: String = decoded.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut reply = false;
    for _ in 0..MAX_ROUNDS {
        let before = s.len();
        // (2) trailers.
        loop {
            let t = s.trim_end();
            if let Some(x) = strip_suffix_ci(t, "(fwd)") {
                s = x.to_string();
                reply = true;
            } else {
                s = t.to_string();
                break;
            }
        }
        // (3)-(5) leaders: [blob]s and re/fw/fwd with optional blobs.
        loop {
            let t = s.trim_start();
            let (rest, stripped) = strip_leader(t);
            s = rest.to_string();
            match stripped {
                Leader::None => break,
                Leader::Blob => {}
                Leader::ReFwd => reply = true,
            }
        }
        // (6) [fwd: ...] wrapper.
        if let Some(inner) = strip_prefix_ci(&s, "[fwd:").and_then(|x| x.strip_suffix(']')) {
            s = inner.trim().to_string();
            reply = true;
        }
        if s.len() == before {
            break;
        }
    }
    (s.to_lowercase(), reply)
}

fn strip_prefix_ci<'a>(s: &'a str, p: &str) -> Option<&'a str> {
    (s.len() >= p.len() && s.is_char_boundary(p.len()) && s[..p.len()].eq_ignore_ascii_case(p))
        .then(|| &s[p.len()..])
}

fn strip_suffix_ci<'a>(s: &'a str, p: &str) -> Option<&'a str> {
    let cut = s.len().checked_sub(p.len())?;
    (s.is_char_boundary(cut) && s[cut..].eq_ignore_ascii_case(p)).then(|| &s[..cut])
}

/// A `[...]` at the start, if something follows it.
fn strip_blob(s: &str) -> Option<&str> {
    let rest = s.strip_prefix('[')?;
    let end = rest.find(']')?;
    if rest[..end].contains('[') {
        return None;
    }
    let after = rest[end + 1..].trim_start();
    (!after.is_empty()).then_some(after)
}

/// What [`strip_leader`] removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leader {
    None,
    /// A `subj-blob`.
    Blob,
    /// A `subj-refwd`: the subject is a reply or forward.
    ReFwd,
}

/// One `subj-refwd` or leading blob removed.
fn strip_leader(s: &str) -> (&str, Leader) {
    for p in ["re", "fwd", "fw"] {
        if let Some(mut rest) = strip_prefix_ci(s, p) {
            rest = rest.trim_start();
            while let Some(r) = strip_blob(rest) {
                rest = r;
            }
            if let Some(r) = rest.strip_prefix(':') {
                return (r, Leader::ReFwd);
            }
        }
    }
    if let Some(r) = strip_blob(s) {
        return (r, Leader::Blob);
    }
    (s, Leader::None)
}

#[cfg(test)]
mod tests {
    use super::{base_subject, base_subject_and_reply};

    #[test]
    fn rfc5256_base_subjects() {
        assert_eq!(base_subject("Re: Hello"), "hello");
        assert_eq!(base_subject("RE: [list] Fwd: Hello (fwd)"), "hello");
        assert_eq!(base_subject("[fwd: Re: x]"), "x");
        assert_eq!(base_subject("  Hello   world  "), "hello world");
        assert_eq!(base_subject("=?utf-8?q?Re=3A_caf=C3=A9?="), "café");
        assert_eq!(base_subject("[only blob]"), "[only blob]");
        assert_eq!(base_subject("Re:"), "");
    }

    #[test]
    fn replies_and_forwards() {
        let r = |s: &str| base_subject_and_reply(s);
        assert_eq!(r("foo"), ("foo".into(), false));
        assert_eq!(r("Re: foo"), ("foo".into(), true));
        assert_eq!(r("foo (fwd)"), ("foo".into(), true));
        assert_eq!(r("[fwd: foo]"), ("foo".into(), true));
        assert_eq!(r("[list] foo"), ("foo".into(), false));
        assert_eq!(r("[list] Re: foo"), ("foo".into(), true));
    }
}
