//! What the peer announced in its EHLO reply (RFC 5321 §4.1.1.1: one
//! keyword per line after the greeting line, parameters after a space).

use super::reply::Reply;

/// Service extensions the client uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// RFC 2920.
    pub pipelining: bool,
    /// RFC 3207.
    pub starttls: bool,
    /// RFC 1870: the announced limit; Some(0) means no fixed limit.
    pub size: Option<u64>,
    /// RFC 6152.
    pub eight_bit_mime: bool,
    /// RFC 6531.
    pub smtputf8: bool,
    /// RFC 3461.
    pub dsn: bool,
    /// RFC 8689.
    pub requiretls: bool,
    /// RFC 2034.
    pub enhanced_status_codes: bool,
}

impl Capabilities {
    /// From a 250 reply to EHLO; HELO gets [`Capabilities::default`].
    pub fn from_ehlo(reply: &Reply) -> Capabilities {
        let mut c = Capabilities::default();
        for line in reply.lines.iter().skip(1) {
            let mut words = line.split_ascii_whitespace();
            let Some(key) = words.next() else { continue };
            match key.to_ascii_uppercase().as_str() {
                "PIPELINING" => c.pipelining = true,
                "STARTTLS" => c.starttls = true,
                "SIZE" => {
                    c.size = Some(words.next().and_then(|n| n.parse().ok()).unwrap_or(0));
                }
                "8BITMIME" => c.eight_bit_mime = true,
                "SMTPUTF8" => c.smtputf8 = true,
                "DSN" => c.dsn = true,
                "REQUIRETLS" => c.requiretls = true,
                "ENHANCEDSTATUSCODES" => c.enhanced_status_codes = true,
                _ => {}
            }
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords() {
        let r = Reply {
            code: 250,
            lines: [
                "mx.example greets you",
                "pipelining",
                "SIZE 1000",
                "8BITMIME",
                "STARTTLS",
                "SMTPUTF8",
                "DSN",
                "X-UNKNOWN a b",
                "",
            ]
            .map(String::from)
            .to_vec(),
        };
        let c = Capabilities::from_ehlo(&r);
        assert!(c.pipelining && c.starttls && c.eight_bit_mime && c.smtputf8 && c.dsn);
        assert!(!c.requiretls && !c.enhanced_status_codes);
        assert_eq!(c.size, Some(1000));
        // The first line is the greeting, never a keyword.
        let r = Reply {
            code: 250,
            lines: vec!["STARTTLS".into()],
        };
        assert_eq!(Capabilities::from_ehlo(&r), Capabilities::default());
        let r = Reply {
            code: 250,
            lines: vec!["mx".into(), "SIZE".into()],
        };
        assert_eq!(Capabilities::from_ehlo(&r).size, Some(0));
    }
}
