//! SASL PLAIN (RFC 4616): one message carrying the password in clear, so it
//! is only offered over TLS. The password is checked by the store.

use super::{Credentials, SaslError, Step};

/// Longest authzid, authcid or password accepted, in bytes. RFC 4616 §2 asks
/// servers to accept at least 255 octets per field.
pub(super) const MAX_FIELD_LEN: usize = 1024;

/// The three fields of a PLAIN message.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct PlainResponse<'a> {
    pub authzid: &'a str,
    pub authcid: &'a str,
    pub password: &'a str,
}

/// RFC 4616 §2: `message = [authzid] UTF8NUL authcid UTF8NUL passwd`, with
/// authcid and passwd `1*SAFE` (UTF-8 without NUL).
pub(super) fn parse(msg: &[u8]) -> Result<PlainResponse<'_>, SaslError> {
    let mut parts = msg.split(|&b| b == 0);
    let (Some(authzid), Some(authcid), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed("expected authzid NUL authcid NUL password"));
    };
    let authzid = field(authzid, "authzid")?;
    let authcid = field(authcid, "authcid")?;
    let password = field(password, "password")?;
    if authcid.is_empty() || password.is_empty() {
        return Err(malformed("empty authcid or password"));
    }
    Ok(PlainResponse {
        authzid,
        authcid,
        password,
    })
}

/// One field: bounded, UTF-8 (RFC 4616 §2 `UTF8-SAFE`; NUL was the separator).
fn field<'a>(bytes: &'a [u8], name: &str) -> Result<&'a str, SaslError> {
    if bytes.len() > MAX_FIELD_LEN {
        return Err(malformed(&format!(
            "{name} longer than {MAX_FIELD_LEN} bytes"
        )));
    }
    std::str::from_utf8(bytes).map_err(|_| malformed(&format!("{name} is not UTF-8")))
}

/// Parses a PLAIN message and asks the store about the password.
pub(super) async fn authenticate<C: Credentials>(msg: &[u8], creds: &C) -> Result<Step, SaslError> {
    let r = parse(msg)?;
    // RFC 4616 §2: acting as another identity is not supported; an authzid,
    // if any, must name the authenticating user.
    if !r.authzid.is_empty() && r.authzid != r.authcid {
        return Err(SaslError::Failed);
    }
    match creds.verify_plain(r.authcid, r.password).await? {
        Some(account) => Ok(Step::Success {
            account,
            server_final: None,
        }),
        None => Err(SaslError::Failed),
    }
}

fn malformed(what: &str) -> SaslError {
    SaslError::Malformed(format!("PLAIN: {what}"))
}
