//! Modified UTF-7 for mailbox names (RFC 3501 §5.1.3, kept in RFC 9051
//! §5.1.3 for IMAP4rev1 clients): printable ASCII stands for itself, `&`
//! is `&-`, everything else is UTF-16 in modified base64 between `&` and
//! `-`. Decoding is strict (threats T7): no encoded printable ASCII, no
//! stray bits, no lone surrogates, no 8-bit octets.

use base64::Engine as _;
use base64::alphabet::Alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// RFC 3501 §5.1.3: base64 with `,` instead of `/`.
const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Utf7Error {
    #[error("8-bit octet in modified UTF-7 name")]
    EightBit,
    #[error("unterminated modified base64 sequence")]
    Unterminated,
    #[error("invalid modified base64")]
    BadBase64,
    #[error("printable ASCII must not be encoded")]
    EncodedAscii,
    #[error("invalid UTF-16 in modified base64")]
    BadUtf16,
}

fn engine() -> Result<GeneralPurpose, Utf7Error> {
    let alphabet = Alphabet::new(ALPHABET).map_err(|_| Utf7Error::BadBase64)?;
    let cfg = GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false);
    Ok(GeneralPurpose::new(&alphabet, cfg))
}

fn printable(c: u32) -> bool {
    (0x20..=0x7e).contains(&c)
}

/// Encodes a UTF-8 name.
pub fn encode(name: &str) -> String {
    let Ok(eng) = engine() else {
        // The alphabet is a valid constant; never reached.
        return name.to_string();
    };
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    let flush = |pending: &mut Vec<u16>, out: &mut String| {
        if pending.is_empty() {
            return;
        }
        let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
        out.push('&');
        out.push_str(&eng.encode(bytes));
        out.push('-');
        pending.clear();
    };
    for c in name.chars() {
        if printable(c as u32) {
            flush(&mut pending, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut pending, &mut out);
    out
}

/// Decodes a modified UTF-7 name to UTF-8.
pub fn decode(name: &[u8]) -> Result<String, Utf7Error> {
    let eng = engine()?;
    let mut out = String::with_capacity(name.len());
    let mut i = 0;
    while i < name.len() {
        let b = name[i];
        if b >= 0x80 {
            return Err(Utf7Error::EightBit);
        }
        if b != b'&' {
            out.push(char::from(b));
            i += 1;
            continue;
        }
        let Some(len) = name[i + 1..].iter().position(|&c| c == b'-') else {
            return Err(Utf7Error::Unterminated);
        };
        let enc = &name[i + 1..i + 1 + len];
        i += len + 2;
        if enc.is_empty() {
            out.push('&');
            continue;
        }
        let bytes = eng.decode(enc).map_err(|_| Utf7Error::BadBase64)?;
        if bytes.len() % 2 != 0 {
            return Err(Utf7Error::BadBase64);
        }
        let units: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        for c in char::decode_utf16(units) {
            let c = c.map_err(|_| Utf7Error::BadUtf16)?;
            if printable(c as u32) {
                return Err(Utf7Error::EncodedAscii);
            }
            out.push(c);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3501_example() {
        // RFC 3501 §5.1.3.
        let name = "~peter/mail/台北/日本語";
        assert_eq!(encode(name), "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
        assert_eq!(decode(b"~peter/mail/&U,BTFw-/&ZeVnLIqe-").unwrap(), name);
    }

    #[test]
    fn ampersand_and_round_trip() {
        assert_eq!(encode("a&b"), "a&-b");
        assert_eq!(decode(b"a&-b").unwrap(), "a&b");
        for s in [
            "Entwürfe",
            "Gelöschte Objekte",
            "😀 x",
            "\u{7f}",
            "tab\there",
        ] {
            assert_eq!(decode(encode(s).as_bytes()).unwrap(), s, "{s}");
        }
    }

    #[test]
    fn strict_decoding() {
        // Threats T7: `&AGE-` encodes printable "a".
        assert_eq!(decode(b"&AGE-"), Err(Utf7Error::EncodedAscii));
        assert_eq!(decode(b"&AGE"), Err(Utf7Error::Unterminated));
        assert_eq!(decode("ü".as_bytes()), Err(Utf7Error::EightBit));
        assert_eq!(decode(b"&2D0-"), Err(Utf7Error::BadUtf16), "lone surrogate");
        assert!(decode(b"&A-").is_err(), "stray bits");
        assert!(decode(b"&U/BTFw-").is_err(), "plain base64 slash");
    }
}
