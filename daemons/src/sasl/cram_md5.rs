//! SASL CRAM-MD5 (RFC 2195): challenge format and response check.
//!
//! CRAM-MD5 needs the password itself (or the HMAC-MD5 inner/outer states
//! derived from it) on the server. The moxd store keeps only salted SCRAM
//! keys (`ipc::store::ScramCredentials`), from which no CRAM-MD5 digest can
//! be computed, and [`super::Credentials`] has no method for it. So an
//! [`super::Exchange`] for CRAM-MD5 always fails with
//! `SaslError::Temporary("CRAM-MD5 is not enabled")`, and callers do not
//! announce CRAM-MD5. The pieces below (challenge, response parsing, digest check)
//! are ready for the day the store keeps a CRAM-MD5 derivation and the
//! `Credentials` trait gains a method to fetch it.

use hmac::{Hmac, Mac};
use md5::Md5;

use super::SaslError;

/// Length of an HMAC-MD5 digest in bytes (sent as 32 lowercase hex digits).
pub const DIGEST_LEN: usize = 16;

/// Longest user name accepted in a response, in bytes.
pub const MAX_USER_LEN: usize = super::plain::MAX_FIELD_LEN;

/// The error every CRAM-MD5 exchange ends with in moxd.
pub(super) fn not_enabled() -> SaslError {
    SaslError::Temporary("CRAM-MD5 is not enabled".to_owned())
}

/// RFC 2195 §2: a challenge in the form of an RFC 822 msg-id,
/// `<random.timestamp@hostname>`, unique for each exchange.
pub fn challenge(hostname: &str) -> String {
    let random: u64 = rand::random();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("<{random}.{now}@{hostname}>")
}

/// RFC 2195 §2: the response is `user SP digest`, the digest being 32
/// lowercase hex digits. Returns the user name and the digest bytes.
pub fn parse_response(response: &[u8]) -> Result<(&str, [u8; DIGEST_LEN]), SaslError> {
    let malformed = |what: &str| SaslError::Malformed(format!("CRAM-MD5: {what}"));
    let s = std::str::from_utf8(response).map_err(|_| malformed("not UTF-8"))?;
    // The user name may contain spaces; the digest is after the last one.
    let (user, hex) = s
        .rsplit_once(' ')
        .ok_or_else(|| malformed("expected user SP digest"))?;
    if user.is_empty() || user.len() > MAX_USER_LEN || user.contains('\0') {
        return Err(malformed("bad user name"));
    }
    if hex.len() != DIGEST_LEN * 2 {
        return Err(malformed("digest must be 32 hex digits"));
    }
    let mut digest = [0u8; DIGEST_LEN];
    for (out, pair) in digest.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
        let hi = hex_value(pair[0]).ok_or_else(|| malformed("digest is not lowercase hex"))?;
        let lo = hex_value(pair[1]).ok_or_else(|| malformed("digest is not lowercase hex"))?;
        *out = (hi << 4) | lo;
    }
    Ok((user, digest))
}

/// RFC 2195 §2: the digest is HMAC-MD5(password, challenge); checked in
/// constant time.
pub fn verify(password: &[u8], challenge: &[u8], client_digest: &[u8; DIGEST_LEN]) -> bool {
    let Ok(mut mac) = <Hmac<Md5> as Mac>::new_from_slice(password) else {
        return false;
    };
    mac.update(challenge);
    mac.verify_slice(client_digest).is_ok()
}

/// RFC 2195 §2 says lowercase hex.
fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}
