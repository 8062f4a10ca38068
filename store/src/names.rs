//! Parsing of the names the store keys things by. Account names become
//! directory names (`accounts/NAME`), so they are restricted to a safe
//! alphabet and never `.` or `..`. Addresses are `localpart@domain` with the
//! domain lower-cased; lookups compare the localpart case-insensitively
//! (as mox does by default).

use crate::error::{Result, StoreError};

/// Longest account name (it is a directory name).
pub const MAX_ACCOUNT_NAME: usize = 64;
/// RFC 5321 §4.5.3.1.1: local-part at most 64 octets.
pub const MAX_LOCALPART: usize = 64;
/// RFC 1035 §2.3.4: a name is at most 253 octets in text form,
/// a label at most 63.
pub const MAX_DOMAIN: usize = 253;
pub const MAX_LABEL: usize = 63;
/// Longest mailbox name, in bytes.
pub const MAX_MAILBOX_NAME: usize = 255;
/// The mailbox hierarchy separator.
pub const MAILBOX_SEPARATOR: char = '/';
/// The name INBOX is stored under (RFC 9051 §5.1: INBOX is case-insensitive).
pub const INBOX: &str = "Inbox";

/// Checks an account name: `[A-Za-z0-9._-]{1,64}`, not `.` or `..`.
pub fn account_name(name: &str) -> Result<&str> {
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if name.is_empty() || name.len() > MAX_ACCOUNT_NAME || !ok_chars || name == "." || name == ".."
    {
        return Err(StoreError::invalid(format!(
            "invalid account name {name:?}: use 1 to {MAX_ACCOUNT_NAME} of A-Z a-z 0-9 . _ -, not . or .."
        )));
    }
    Ok(name)
}

/// Parses a domain name and returns it lower-cased. Labels are letters,
/// digits and hyphens (not at either end); non-ASCII letters are accepted
/// as given (no IDNA mapping). A single label (`localhost`) is allowed.
pub fn domain(name: &str) -> Result<String> {
    let lower = name.to_lowercase();
    let bad = |why: &str| StoreError::invalid(format!("invalid domain {name:?}: {why}"));
    if lower.is_empty() || lower.len() > MAX_DOMAIN {
        return Err(bad("length"));
    }
    for label in lower.split('.') {
        if label.is_empty() || label.len() > MAX_LABEL {
            return Err(bad("empty or too long label"));
        }
        if !label.chars().all(|c| c.is_alphanumeric() || c == '-') {
            return Err(bad("only letters, digits and - are allowed"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(bad("label starts or ends with -"));
        }
    }
    Ok(lower)
}

/// An email address split at its last `@`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// As given.
    pub localpart: String,
    /// Lower-cased.
    pub domain: String,
}

impl Address {
    pub fn parse(s: &str) -> Result<Address> {
        let bad = |why: &str| StoreError::invalid(format!("invalid address {s:?}: {why}"));
        if s.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(bad("control character or white space"));
        }
        let (localpart, dom) = s.rsplit_once('@').ok_or_else(|| bad("missing @"))?;
        if localpart.is_empty() || localpart.len() > MAX_LOCALPART {
            return Err(bad("empty or too long local part"));
        }
        if localpart.contains(['@', '<', '>']) {
            return Err(bad("local part contains @, < or >"));
        }
        Ok(Address {
            localpart: localpart.to_string(),
            domain: domain(dom)?,
        })
    }

    /// `localpart@domain` as stored and shown.
    pub fn display(&self) -> String {
        format!("{}@{}", self.localpart, self.domain)
    }

    /// The lookup key: local part lower-cased, so `Mox@x` and `mox@x` match.
    pub fn key(&self) -> String {
        format!("{}@{}", self.localpart.to_lowercase(), self.domain)
    }
}

/// Checks a mailbox name and returns it with INBOX (any case, also as the
/// first level of a hierarchy) spelled [`INBOX`].
pub fn mailbox_name(name: &str) -> Result<String> {
    let bad = |why: &str| StoreError::invalid(format!("invalid mailbox name {name:?}: {why}"));
    if name.is_empty() || name.len() > MAX_MAILBOX_NAME {
        return Err(bad("empty or too long"));
    }
    if name.chars().any(|c| c.is_control()) {
        return Err(bad("control character"));
    }
    // RFC 9051 §5.1: % and * are LIST wildcards and cannot be selected.
    if name.contains(['%', '*']) {
        return Err(bad("contains % or *"));
    }
    let mut parts: Vec<&str> = name.split(MAILBOX_SEPARATOR).collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(bad("empty hierarchy level"));
    }
    if parts
        .first()
        .is_some_and(|p| p.eq_ignore_ascii_case("inbox"))
    {
        parts[0] = INBOX;
    }
    Ok(parts.join("/"))
}

/// Every strict ancestor of a mailbox name: `a/b/c` → `a`, `a/b`.
pub fn mailbox_parents(name: &str) -> Vec<&str> {
    name.match_indices(MAILBOX_SEPARATOR)
        .map(|(i, _)| &name[..i])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipc::store::StoreErrorKind;

    #[test]
    fn account_names() {
        for ok in ["mox", "a.b", "x_y-z", "A1", &"a".repeat(64), "..."] {
            assert_eq!(account_name(ok).unwrap(), ok);
        }
        for bad in [
            "",
            ".",
            "..",
            "../etc",
            "a/b",
            "a\\b",
            "a b",
            "a\0",
            "é",
            &"a".repeat(65),
            "/",
            "a\n",
        ] {
            let err = account_name(bad).unwrap_err();
            assert_eq!(err.kind, StoreErrorKind::Invalid, "{bad:?}");
        }
    }

    #[test]
    fn domains() {
        assert_eq!(domain("Example.COM").unwrap(), "example.com");
        assert_eq!(domain("localhost").unwrap(), "localhost");
        assert_eq!(
            domain("xn--bcher-kva.example").unwrap(),
            "xn--bcher-kva.example"
        );
        for bad in [
            "",
            "a..b",
            ".a",
            "a.",
            "-a.b",
            "a-.b",
            "a b",
            "a_b.c",
            &format!("{}.x", "a".repeat(64)),
            "a/b",
        ] {
            assert!(domain(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn addresses() {
        let a = Address::parse("Mox@LocalHost").unwrap();
        assert_eq!(a.localpart, "Mox");
        assert_eq!(a.domain, "localhost");
        assert_eq!(a.display(), "Mox@localhost");
        assert_eq!(a.key(), "mox@localhost");
        for bad in [
            "",
            "mox",
            "@x",
            "a@",
            "a b@x",
            "a\r\n@x",
            "a@b c",
            "a\t@x",
            "<a>@x",
            &format!("{}@x", "a".repeat(65)),
        ] {
            assert_eq!(
                Address::parse(bad).unwrap_err().kind,
                StoreErrorKind::Invalid,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn mailbox_names() {
        assert_eq!(mailbox_name("INBOX").unwrap(), "Inbox");
        assert_eq!(mailbox_name("inbox/Sub").unwrap(), "Inbox/Sub");
        assert_eq!(mailbox_name("Archive/2024").unwrap(), "Archive/2024");
        assert_eq!(mailbox_name("Inboxes").unwrap(), "Inboxes");
        for bad in [
            "",
            "/a",
            "a/",
            "a//b",
            "a%",
            "a*b",
            "a\nb",
            &"a".repeat(256),
        ] {
            assert!(mailbox_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(mailbox_parents("a/b/c"), ["a", "a/b"]);
        assert!(mailbox_parents("a").is_empty());
    }
}
