//! Internationalized domain names for SMTPUTF8 (RFC 6531 §3.2): each label
//! has a Unicode form (U-label) and an ASCII form (A-label, `xn--` +
//! Punycode, RFC 3492 / RFC 5891 §4.4).
//!
//! The mapping step is deliberately small: labels are lower-cased and
//! checked for LDH syntax (ASCII) or for the absence of control and space
//! characters (Unicode). Full IDNA2008/UTS 46 tables (NFC, disallowed code
//! points, bidi rules) are not applied; a name that is not valid in DNS
//! simply does not resolve to a local recipient.

/// RFC 1035 §2.3.4: at most 63 octets per label.
pub const MAX_LABEL_LEN: usize = 63;
/// RFC 1035 §2.3.4: at most 255 octets in wire form, 253 as text.
pub const MAX_DOMAIN_LEN: usize = 253;
/// Longest Unicode label we decode, bounding Punycode work.
const MAX_UNICODE_LABEL_CHARS: usize = MAX_LABEL_LEN;

const ACE_PREFIX: &str = "xn--";

/// Why a domain name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdnaError {
    #[error("empty domain label")]
    EmptyLabel,
    #[error("domain label too long")]
    LabelTooLong,
    #[error("domain name too long")]
    TooLong,
    #[error("invalid character in domain name")]
    InvalidChar,
    #[error("domain label starts or ends with a hyphen")]
    Hyphen,
    #[error("invalid punycode in domain label")]
    Punycode,
}

/// A domain as both ASCII (A-labels, lower case) and Unicode (U-labels).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DomainForms {
    pub ascii: String,
    pub unicode: String,
}

/// Convert a dot-separated domain to its two forms. `allow_underscore`
/// tolerates `_` in ASCII labels (seen in EHLO names of real clients).
pub fn to_forms(name: &str, allow_underscore: bool) -> Result<DomainForms, IdnaError> {
    let mut ascii = String::with_capacity(name.len());
    let mut unicode = String::with_capacity(name.len());
    for (i, label) in name.split('.').enumerate() {
        if i > 0 {
            ascii.push('.');
            unicode.push('.');
        }
        let (a, u) = label_forms(label, allow_underscore)?;
        ascii.push_str(&a);
        unicode.push_str(&u);
    }
    if ascii.len() > MAX_DOMAIN_LEN {
        return Err(IdnaError::TooLong);
    }
    Ok(DomainForms { ascii, unicode })
}

fn label_forms(label: &str, allow_underscore: bool) -> Result<(String, String), IdnaError> {
    if label.is_empty() {
        return Err(IdnaError::EmptyLabel);
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(IdnaError::Hyphen);
    }
    if label.is_ascii() {
        if label.len() > MAX_LABEL_LEN {
            return Err(IdnaError::LabelTooLong);
        }
        let ok = |c: char| c.is_ascii_alphanumeric() || c == '-' || (allow_underscore && c == '_');
        if !label.chars().all(ok) {
            return Err(IdnaError::InvalidChar);
        }
        let lower = label.to_ascii_lowercase();
        if let Some(rest) = lower.strip_prefix(ACE_PREFIX) {
            let u = decode(rest).ok_or(IdnaError::Punycode)?;
            // An A-label must decode to a non-ASCII label that encodes back
            // to the same string (RFC 5891 §5.4).
            if u.is_ascii() || !u.chars().all(label_char_ok) {
                return Err(IdnaError::Punycode);
            }
            let u = u.to_lowercase();
            if encode(&u).as_deref() != Some(rest) {
                return Err(IdnaError::Punycode);
            }
            return Ok((lower, u));
        }
        return Ok((lower.clone(), lower));
    }
    let u = label.to_lowercase();
    if u.chars().count() > MAX_UNICODE_LABEL_CHARS {
        return Err(IdnaError::LabelTooLong);
    }
    if !u.chars().all(label_char_ok) {
        return Err(IdnaError::InvalidChar);
    }
    let a = format!("{ACE_PREFIX}{}", encode(&u).ok_or(IdnaError::Punycode)?);
    if a.len() > MAX_LABEL_LEN {
        return Err(IdnaError::LabelTooLong);
    }
    Ok((a, u))
}

/// A character of a U-label: LDH for ASCII, no controls or spaces otherwise.
fn label_char_ok(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || c == '-'
    } else {
        !c.is_control() && !c.is_whitespace() && c != '\u{FFFD}'
    }
}

// RFC 3492 §5: Punycode parameters.
const BASE: u32 = 36;
const TMIN: u32 = 1;
const TMAX: u32 = 26;
const SKEW: u32 = 38;
const DAMP: u32 = 700;
const INITIAL_BIAS: u32 = 72;
const INITIAL_N: u32 = 128;

// RFC 3492 §6.1.
fn adapt(delta: u32, numpoints: u32, first: bool) -> u32 {
    let mut delta = if first { delta / DAMP } else { delta / 2 };
    delta += delta / numpoints;
    let mut k = 0;
    while delta > ((BASE - TMIN) * TMAX) / 2 {
        delta /= BASE - TMIN;
        k += BASE;
    }
    k + (((BASE - TMIN + 1) * delta) / (delta + SKEW))
}

fn threshold(k: u32, bias: u32) -> u32 {
    if k <= bias {
        TMIN
    } else if k >= bias + TMAX {
        TMAX
    } else {
        k - bias
    }
}

fn digit_char(d: u32) -> char {
    // d < 36 always (RFC 3492 §5 digit values).
    let d = d as u8;
    if d < 26 {
        (b'a' + d) as char
    } else {
        (b'0' + d - 26) as char
    }
}

fn char_digit(c: char) -> Option<u32> {
    match c {
        'a'..='z' => Some(c as u32 - 'a' as u32),
        'A'..='Z' => Some(c as u32 - 'A' as u32),
        '0'..='9' => Some(c as u32 - '0' as u32 + 26),
        _ => None,
    }
}

/// RFC 3492 §6.3: encode a Unicode label; `None` on overflow.
pub fn encode(input: &str) -> Option<String> {
    let cps: Vec<u32> = input.chars().map(|c| c as u32).collect();
    let mut out: String = input.chars().filter(char::is_ascii).collect();
    let basic = u32::try_from(out.len()).ok()?;
    if basic > 0 {
        out.push('-');
    }
    let total = u32::try_from(cps.len()).ok()?;
    let (mut n, mut delta, mut bias, mut h) = (INITIAL_N, 0u32, INITIAL_BIAS, basic);
    while h < total {
        let m = cps.iter().copied().filter(|&c| c >= n).min()?;
        delta = delta.checked_add((m - n).checked_mul(h + 1)?)?;
        n = m;
        for &c in &cps {
            if c < n {
                delta = delta.checked_add(1)?;
            }
            if c == n {
                let mut q = delta;
                let mut k = BASE;
                loop {
                    let t = threshold(k, bias);
                    if q < t {
                        break;
                    }
                    out.push(digit_char(t + (q - t) % (BASE - t)));
                    q = (q - t) / (BASE - t);
                    k += BASE;
                }
                out.push(digit_char(q));
                bias = adapt(delta, h + 1, h == basic);
                delta = 0;
                h += 1;
            }
        }
        delta = delta.checked_add(1)?;
        n = n.checked_add(1)?;
    }
    Some(out)
}

/// RFC 3492 §6.2: decode the part of an A-label after `xn--`.
pub fn decode(input: &str) -> Option<String> {
    if !input.is_ascii() {
        return None;
    }
    let (basic, rest) = match input.rfind('-') {
        Some(i) => (&input[..i], &input[i + 1..]),
        None => ("", input),
    };
    let mut out: Vec<char> = basic.chars().collect();
    let (mut n, mut i, mut bias) = (INITIAL_N, 0u32, INITIAL_BIAS);
    let mut chars = rest.chars().peekable();
    while chars.peek().is_some() {
        if out.len() >= MAX_UNICODE_LABEL_CHARS {
            return None;
        }
        let old_i = i;
        let mut w = 1u32;
        let mut k = BASE;
        loop {
            let digit = char_digit(chars.next()?)?;
            i = i.checked_add(digit.checked_mul(w)?)?;
            let t = threshold(k, bias);
            if digit < t {
                break;
            }
            w = w.checked_mul(BASE - t)?;
            k += BASE;
        }
        let len = u32::try_from(out.len()).ok()? + 1;
        bias = adapt(i - old_i, len, old_i == 0);
        n = n.checked_add(i / len)?;
        i %= len;
        let c = char::from_u32(n)?;
        if c.is_ascii() {
            return None;
        }
        out.insert(usize::try_from(i).ok()?, c);
        i += 1;
    }
    Some(out.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn punycode_rfc3492_samples() {
        // RFC 3492 §7.1 (B) Chinese (simplified) and a common example.
        assert_eq!(
            encode("他们为什么不说中文").as_deref(),
            Some("ihqwcrb4cv8a8dqg056pqjye")
        );
        assert_eq!(encode("bücher").as_deref(), Some("bcher-kva"));
        assert_eq!(decode("bcher-kva").as_deref(), Some("bücher"));
        assert_eq!(
            decode("ihqwcrb4cv8a8dqg056pqjye").as_deref(),
            Some("他们为什么不说中文")
        );
    }

    #[test]
    fn forms_of_mixed_domain() {
        let f = to_forms("Bücher.Example", false);
        assert_eq!(
            f,
            Ok(DomainForms {
                ascii: "xn--bcher-kva.example".into(),
                unicode: "bücher.example".into()
            })
        );
        let f = to_forms("XN--bcher-kva.example", false);
        assert_eq!(f.map(|f| f.unicode), Ok("bücher.example".into()));
    }

    #[test]
    fn rejects_bad_names() {
        assert_eq!(to_forms("a..b", false), Err(IdnaError::EmptyLabel));
        assert_eq!(to_forms("-a.b", false), Err(IdnaError::Hyphen));
        assert_eq!(to_forms("a_b.c", false), Err(IdnaError::InvalidChar));
        assert!(to_forms("a_b.c", true).is_ok());
        assert_eq!(to_forms("xn--abc.example", false), Err(IdnaError::Punycode));
        assert_eq!(to_forms("a b.c", false), Err(IdnaError::InvalidChar));
        assert_eq!(
            to_forms(&"a".repeat(64), false),
            Err(IdnaError::LabelTooLong)
        );
        assert_eq!(to_forms("a\u{0}b.c", false), Err(IdnaError::InvalidChar));
    }

    #[test]
    fn decode_never_panics_on_garbage() {
        for s in ["", "-", "zzzzzzzzzzzzzzzz", "99999999999", "a-", "-9", "ü"] {
            let _ = decode(s);
        }
    }
}
