//! DKIM verification (RFC 6376 §6) of every DKIM-Signature of a message,
//! done by mail-auth; here its outputs become [`DkimCheck`]s with
//! Authentication-Results names (RFC 8601 §2.7.1). A body hash that does
//! not match is a failed verification (RFC 6376 §6.1.3), so "fail", not
//! mail-auth's "neutral".

use base64::Engine;
use mail_auth::common::crypto::Algorithm;
use mail_auth::dkim::DkimError;
use mail_auth::{AuthenticatedMessage, DkimOutput, Error};

use super::result::{DkimCheck, DkimResult};

/// Signatures verified per message; more are ignored (each costs DNS
/// lookups and a hash of the message).
pub const MAX_DKIM_SIGNATURES: usize = 10;
/// Characters of b= kept to tell signatures apart (RFC 6008 §2: at least 8).
pub const B_PREFIX_LEN: usize = 8;

/// Keep at most [`MAX_DKIM_SIGNATURES`] signatures for verification.
pub fn limit_signatures(msg: &mut AuthenticatedMessage<'_>) {
    msg.dkim_headers.truncate(MAX_DKIM_SIGNATURES);
}

pub fn algorithm_name(a: Algorithm) -> &'static str {
    match a {
        Algorithm::RsaSha1 => "rsa-sha1",
        Algorithm::RsaSha256 => "rsa-sha256",
        Algorithm::Ed25519Sha256 => "ed25519-sha256",
    }
}

/// One check per verification output.
pub fn checks(outputs: &[DkimOutput<'_>]) -> Vec<DkimCheck> {
    outputs.iter().map(check).collect()
}

fn check(o: &DkimOutput<'_>) -> DkimCheck {
    let (result, reason) = match o.result() {
        mail_auth::DkimResult::Pass => (DkimResult::Pass, None),
        mail_auth::DkimResult::Neutral(Error::Dkim(DkimError::FailedBodyHashMatch)) => (
            DkimResult::Fail,
            Some("body hash did not verify".to_string()),
        ),
        mail_auth::DkimResult::Neutral(e) => (DkimResult::Neutral, Some(e.to_string())),
        mail_auth::DkimResult::Fail(e) => (DkimResult::Fail, Some(e.to_string())),
        mail_auth::DkimResult::PermError(e) => (DkimResult::Permerror, Some(e.to_string())),
        mail_auth::DkimResult::TempError(e) => (DkimResult::Temperror, Some(e.to_string())),
        mail_auth::DkimResult::None => (DkimResult::None, None),
    };
    match o.signature() {
        Some(s) => {
            let b = base64::engine::general_purpose::STANDARD.encode(&s.b);
            DkimCheck {
                result,
                domain: s.d.to_ascii_lowercase(),
                selector: s.s.clone(),
                algorithm: algorithm_name(s.a).to_string(),
                identity: Some(s.i.clone()).filter(|i| !i.is_empty()),
                b: b.chars().take(B_PREFIX_LEN).collect(),
                reason,
            }
        }
        None => DkimCheck {
            result,
            domain: String::new(),
            selector: String::new(),
            algorithm: String::new(),
            identity: None,
            b: String::new(),
            reason,
        },
    }
}
