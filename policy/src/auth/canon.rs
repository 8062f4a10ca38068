//! DKIM body canonicalization (RFC 6376 §3.4.3 simple, §3.4.4 relaxed)
//! and body hashes, written plainly after the RFC. mail-auth 0.13.3's
//! relaxed form is wrong for a body that ends in a line of only
//! whitespace (it keeps an empty line the RFC removes), so moxd computes
//! the body hashes of received signatures itself ([`fix_body_hashes`])
//! and signs with these functions too.

use mail_auth::AuthenticatedMessage;
use mail_auth::common::crypto::HashAlgorithm;
use mail_auth::dkim::Canonicalization;
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// The lines of a body: the octets between CRLFs; a last line without
/// CRLF counts, the empty rest after a final CRLF does not.
fn lines(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = body;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match rest.windows(2).position(|w| w == b"\r\n") {
            Some(i) => {
                let line = &rest[..i];
                rest = &rest[i + 2..];
                Some(line)
            }
            None => {
                let line = rest;
                rest = &[];
                Some(line)
            }
        }
    })
}

fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// RFC 6376 §3.4.4 (a): whitespace runs become one SP, trailing
/// whitespace goes.
fn relax_line(line: &[u8], out: &mut Vec<u8>) {
    let mut wsp = false;
    for &b in line {
        if is_wsp(b) {
            wsp = true;
            continue;
        }
        if wsp {
            out.push(b' ');
            wsp = false;
        }
        out.push(b);
    }
}

/// The canonical form of a body.
pub fn canonical_body(body: &[u8], c: Canonicalization) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 2);
    let mut empty_run = 0usize;
    let mut line = Vec::new();
    for raw in lines(body) {
        line.clear();
        match c {
            Canonicalization::Relaxed => relax_line(raw, &mut line),
            Canonicalization::Simple => line.extend_from_slice(raw),
        }
        // RFC 6376 §3.4.3, §3.4.4 (b): empty lines at the end are ignored,
        // so they are written only once a non-empty line follows.
        if line.is_empty() {
            empty_run += 1;
            continue;
        }
        for _ in 0..empty_run {
            out.extend_from_slice(b"\r\n");
        }
        empty_run = 0;
        out.extend_from_slice(&line);
        out.extend_from_slice(b"\r\n");
    }
    // RFC 6376 §3.4.3: an empty body is one CRLF in simple form (and
    // nothing in relaxed form, §3.4.4).
    if out.is_empty() && c == Canonicalization::Simple {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The body hash (bh=) of the first `length` canonical octets (0: all,
/// RFC 6376 §3.5 l=).
pub fn body_hash(body: &[u8], c: Canonicalization, h: HashAlgorithm, length: u64) -> Vec<u8> {
    let canon = canonical_body(body, c);
    let n = match usize::try_from(length) {
        Ok(l) if l > 0 => l.min(canon.len()),
        _ => canon.len(),
    };
    let part = &canon[..n];
    match h {
        HashAlgorithm::Sha256 => Sha256::digest(part).to_vec(),
        HashAlgorithm::Sha1 => Sha1::digest(part).to_vec(),
    }
}

/// Replace the body hashes mail-auth computed while parsing by ours.
pub fn fix_body_hashes(msg: &mut AuthenticatedMessage<'_>) {
    let body = msg.raw_body();
    let fixed: Vec<_> = msg
        .body_hashes
        .iter()
        .map(|(c, h, l, _)| (*c, *h, *l, body_hash(body, *c, *h, *l)))
        .collect();
    msg.body_hashes = fixed;
}

#[cfg(test)]
mod tests {
    use super::*;
    use Canonicalization::{Relaxed, Simple};

    #[test]
    fn relaxed_rfc6376_example() {
        // RFC 6376 §3.4.5.
        let body = b" C \r\nD \t E\r\n\r\n\r\n";
        assert_eq!(canonical_body(body, Relaxed), b" C\r\nD E\r\n");
        assert_eq!(canonical_body(body, Simple), b" C \r\nD \t E\r\n");
    }

    #[test]
    fn edge_cases() {
        let cases: &[(&[u8], &[u8], &[u8])] = &[
            // body, relaxed, simple
            (b"", b"", b"\r\n"),
            (b"\r\n\r\n", b"", b"\r\n"),
            (b"a", b"a\r\n", b"a\r\n"),
            (b"a\r\n \r\n", b"a\r\n", b"a\r\n \r\n"),
            (
                b"a\r\n \t\r\n\r\nb  \r\n",
                b"a\r\n\r\n\r\nb\r\n",
                b"a\r\n \t\r\n\r\nb  \r\n",
            ),
            (b"x\ty\r\n", b"x y\r\n", b"x\ty\r\n"),
        ];
        for (body, relaxed, simple) in cases {
            assert_eq!(
                canonical_body(body, Relaxed),
                *relaxed,
                "relaxed {:?}",
                String::from_utf8_lossy(body)
            );
            assert_eq!(
                canonical_body(body, Simple),
                *simple,
                "simple {:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn empty_simple_body_hash() {
        // RFC 6376 §3.4.3: the SHA-256 of CRLF.
        use base64::Engine;
        let h = body_hash(b"", Simple, HashAlgorithm::Sha256, 0);
        assert_eq!(
            base64::engine::general_purpose::STANDARD.encode(h),
            "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY="
        );
    }

    #[test]
    fn mail_auth_differs_on_trailing_whitespace_line() {
        // Documents why fix_body_hashes exists.
        let msg = b"From: a@example.org\r\nDKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org; s=s; h=from; bh=AAAA; b=AAAA\r\n\r\na\r\n \r\n";
        let mut m = AuthenticatedMessage::parse(msg).unwrap();
        let theirs = m.body_hashes[0].3.clone();
        fix_body_hashes(&mut m);
        let ours = m.body_hashes[0].3.clone();
        assert_eq!(ours, Sha256::digest(b"a\r\n").to_vec());
        assert_ne!(
            theirs, ours,
            "mail-auth canonicalizes this body correctly now"
        );
    }
}
