//! localserve's pedantic check of submitted messages (as mox -pedantic):
//! the header section must be well-formed (RFC 5322 §2.2) and the message
//! must parse as MIME (RFC 2045/2046) with every multipart part having a
//! boundary that actually delimits parts. The MIME parsing is
//! mail-parser's; this file only decides what counts as broken.

use mail_parser::{MessageParser, MimeHeaders, PartType};

/// Header lines longer than this are refused (RFC 5322 §2.1.1: 998).
pub const MAX_HEADER_LINE: usize = 998;

/// Why a message is not acceptable in pedantic mode.
pub fn check(msg: &[u8]) -> Result<(), String> {
    check_header_section(msg)?;
    let parsed = MessageParser::default()
        .parse(msg)
        .ok_or("message does not parse")?;
    for (i, part) in parsed.parts.iter().enumerate() {
        let Some(ct) = part.content_type() else {
            continue;
        };
        if !ct.ctype().eq_ignore_ascii_case("multipart") {
            continue;
        }
        let Some(boundary) = ct.attribute("boundary").filter(|b| !b.is_empty()) else {
            return Err(format!(
                "part {i}: multipart without a boundary (RFC 2046 §5.1.1)"
            ));
        };
        let delimiter = format!("--{boundary}");
        if !msg
            .windows(delimiter.len())
            .any(|w| w == delimiter.as_bytes())
        {
            return Err(format!(
                "part {i}: multipart boundary {boundary:?} never occurs"
            ));
        }
        if matches!(&part.body, PartType::Multipart(children) if children.is_empty()) {
            return Err(format!("part {i}: multipart without parts"));
        }
    }
    Ok(())
}

/// RFC 5322 §2.2: `field-name ":"`, with field-name = 1*ftext (printable
/// ASCII but ":"); continuation lines start with WSP; the section ends at
/// the first empty line (or the end of the message).
fn check_header_section(msg: &[u8]) -> Result<(), String> {
    let mut first = true;
    for (n, line) in msg.split(|b| *b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            if first {
                return Err("message has no header section".into());
            }
            return Ok(());
        }
        if line.len() > MAX_HEADER_LINE {
            return Err(format!(
                "header line {} longer than {MAX_HEADER_LINE} octets",
                n + 1
            ));
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if first {
                return Err("message starts with a continuation line".into());
            }
        } else {
            let colon = line
                .iter()
                .position(|b| *b == b':')
                .ok_or_else(|| format!("header line {} has no colon", n + 1))?;
            let name = &line[..colon];
            if name.is_empty() || !name.iter().all(|b| (33..=126).contains(b)) {
                return Err(format!("header line {}: invalid field name", n + 1));
            }
        }
        first = false;
    }
    if first {
        Err("empty message".into())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn good_messages() {
        assert!(check(b"Subject: hi\r\nFrom: a@b\r\n\r\nbody\r\n").is_ok());
        assert!(check(b"Subject: hi\r\n folded\r\n\r\n").is_ok());
        assert!(check(b"Subject: only headers\r\n").is_ok());
        let mp = b"Content-Type: multipart/mixed; boundary=xyz\r\n\r\n--xyz\r\nContent-Type: text/plain\r\n\r\none\r\n--xyz--\r\n";
        assert!(check(mp).is_ok(), "{:?}", check(mp));
    }

    #[test]
    fn bad_messages() {
        assert!(check(b"").is_err());
        assert!(check(b"\r\nbody only\r\n").is_err());
        assert!(check(b"not a header line\r\n\r\nbody\r\n").is_err());
        assert!(check(b" continuation first\r\n\r\n").is_err());
        assert!(check(b"Bad Name: x\r\n\r\n").is_err());
        assert!(check(b"Content-Type: multipart/mixed\r\n\r\nno boundary\r\n").is_err());
        let missing = b"Content-Type: multipart/mixed; boundary=abc\r\n\r\n--other\r\n\r\nx\r\n";
        assert!(check(missing).is_err());
        let long = format!("Subject: {}\r\n\r\n", "x".repeat(1000));
        assert!(check(long.as_bytes()).is_err());
    }
}
