//! SASL LOGIN (draft-murchison-sasl-login-00): the obsolete two-prompt
//! mechanism many mail clients still use. User name and password travel in
//! clear, one per response, so it is only offered over TLS; the password is
//! checked by the store like PLAIN's.

use super::{Credentials, SaslError, Step};

/// draft-murchison-sasl-login §2: the prompts, worded as the widely deployed
/// clients expect them.
pub(super) const USERNAME_PROMPT: &[u8] = b"Username:";
pub(super) const PASSWORD_PROMPT: &[u8] = b"Password:";

/// Longest user name or password accepted, in bytes (same as PLAIN).
pub(super) const MAX_FIELD_LEN: usize = super::plain::MAX_FIELD_LEN;

/// Which prompt was sent last.
pub(super) enum Login {
    AwaitUser,
    AwaitPassword(String),
}

/// The user name, from the first response or the initial response
/// (draft-murchison-sasl-login §2 allows the user name as initial response).
pub(super) fn username(response: &[u8]) -> Result<String, SaslError> {
    let user = field(response, "user name")?;
    if user.is_empty() {
        return Err(malformed("empty user name"));
    }
    Ok(user.to_owned())
}

/// Checks the password for `user` with the store.
pub(super) async fn authenticate<C: Credentials>(
    user: &str,
    response: &[u8],
    creds: &C,
) -> Result<Step, SaslError> {
    let password = field(response, "password")?;
    if password.is_empty() {
        return Err(malformed("empty password"));
    }
    match creds.verify_plain(user, password).await? {
        Some(account) => Ok(Step::Success {
            account,
            server_final: None,
        }),
        None => Err(SaslError::Failed),
    }
}

/// A response: bounded, UTF-8, no NUL (the store compares with PLAIN's rules).
fn field<'a>(bytes: &'a [u8], name: &str) -> Result<&'a str, SaslError> {
    if bytes.len() > MAX_FIELD_LEN {
        return Err(malformed(&format!(
            "{name} longer than {MAX_FIELD_LEN} bytes"
        )));
    }
    if bytes.contains(&0) {
        return Err(malformed(&format!("NUL in {name}")));
    }
    std::str::from_utf8(bytes).map_err(|_| malformed(&format!("{name} is not UTF-8")))
}

fn malformed(what: &str) -> SaslError {
    SaslError::Malformed(format!("LOGIN: {what}"))
}
