//! Parsing of the two SCRAM client messages (RFC 5802 §7 grammar) into typed
//! values; everything after this module works on parsed fields only.

use super::super::SaslError;

/// Longest SCRAM client message accepted, in bytes.
pub(crate) const MAX_MESSAGE_LEN: usize = super::super::MAX_RESPONSE_LEN;

/// Longest decoded username or authzid, in bytes.
pub(crate) const MAX_NAME_LEN: usize = 1024;

/// Longest client nonce, in bytes (clients send 18 to 32 random bytes in base64).
pub(crate) const MAX_CLIENT_NONCE_LEN: usize = 512;

/// Longest channel-binding type name (`tls-server-end-point` is 20).
const MAX_CB_NAME_LEN: usize = 64;

/// RFC 5802 §7 `gs2-cbind-flag`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CbindFlag<'a> {
    /// `n`: the client does not support channel binding.
    NotSupported,
    /// `y`: the client supports channel binding but thinks the server does not.
    ServerLacks,
    /// `p=cb-name`: the client requires channel binding of this type.
    Required(&'a str),
}

/// A parsed client-first message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ClientFirst<'a> {
    /// The GS2 header exactly as sent, including its trailing comma; it is
    /// echoed in the client-final `c=` attribute.
    pub gs2_header: &'a str,
    pub cbind: CbindFlag<'a>,
    /// Decoded `a=` authzid, if any.
    pub authzid: Option<String>,
    /// client-first-message-bare, as sent (part of the AuthMessage).
    pub bare: &'a str,
    /// Decoded `n=` username.
    pub username: String,
    pub client_nonce: &'a str,
}

/// A parsed client-final message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ClientFinal<'a> {
    /// client-final-message-without-proof, as sent (part of the AuthMessage).
    pub without_proof: &'a str,
    /// base64 `c=` value.
    pub channel_binding: &'a str,
    /// `r=` value: client nonce followed by server nonce.
    pub nonce: &'a str,
    /// base64 `p=` value.
    pub proof: &'a str,
}

/// RFC 5802 §7:
/// ```text
/// client-first-message = gs2-header client-first-message-bare
/// gs2-header = gs2-cbind-flag "," [ authzid ] ","
/// client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]
/// ```
pub(crate) fn parse_client_first(msg: &[u8]) -> Result<ClientFirst<'_>, SaslError> {
    let s = text(msg)?;
    let (flag, rest) = s
        .split_once(',')
        .ok_or_else(|| malformed("missing GS2 header"))?;
    let (authz, bare) = rest
        .split_once(',')
        .ok_or_else(|| malformed("missing GS2 header"))?;
    let gs2_header = &s[..flag.len() + authz.len() + 2];

    let cbind = match flag {
        "n" => CbindFlag::NotSupported,
        "y" => CbindFlag::ServerLacks,
        _ => match flag.strip_prefix("p=") {
            Some(name) if is_cb_name(name) => CbindFlag::Required(name),
            _ => return Err(malformed("bad channel-binding flag")),
        },
    };
    let authzid = if authz.is_empty() {
        None
    } else {
        let name = authz
            .strip_prefix("a=")
            .ok_or_else(|| malformed("bad authzid"))?;
        Some(decode_saslname(name)?)
    };

    let mut fields = bare.split(',');
    let user = fields.next().unwrap_or_default();
    // RFC 5802 §5.1: "m" is reserved for mandatory extensions; as none is
    // defined, its presence MUST fail authentication.
    if user.starts_with("m=") {
        return Err(malformed("unsupported mandatory extension"));
    }
    let username = decode_saslname(
        user.strip_prefix("n=")
            .ok_or_else(|| malformed("missing username"))?,
    )?;
    let client_nonce = fields
        .next()
        .and_then(|f| f.strip_prefix("r="))
        .ok_or_else(|| malformed("missing nonce"))?;
    if client_nonce.is_empty()
        || client_nonce.len() > MAX_CLIENT_NONCE_LEN
        || !client_nonce.bytes().all(is_printable)
    {
        return Err(malformed("bad nonce"));
    }
    // RFC 5802 §5.1: unknown optional extensions are ignored.
    for ext in fields {
        check_extension(ext)?;
    }
    Ok(ClientFirst {
        gs2_header,
        cbind,
        authzid,
        bare,
        username,
        client_nonce,
    })
}

/// RFC 5802 §7:
/// ```text
/// client-final-message-without-proof = channel-binding "," nonce ["," extensions]
/// client-final-message = client-final-message-without-proof "," proof
/// ```
pub(crate) fn parse_client_final(msg: &[u8]) -> Result<ClientFinal<'_>, SaslError> {
    let s = text(msg)?;
    let (without_proof, proof) = s
        .rsplit_once(",p=")
        .ok_or_else(|| malformed("missing proof"))?;
    if proof.is_empty() || proof.contains(',') {
        return Err(malformed("proof must be the last attribute"));
    }
    let mut fields = without_proof.split(',');
    let channel_binding = fields
        .next()
        .and_then(|f| f.strip_prefix("c="))
        .ok_or_else(|| malformed("missing channel binding"))?;
    let nonce = fields
        .next()
        .and_then(|f| f.strip_prefix("r="))
        .ok_or_else(|| malformed("missing nonce"))?;
    for ext in fields {
        check_extension(ext)?;
        if ext.starts_with("p=") {
            return Err(malformed("duplicate proof"));
        }
    }
    Ok(ClientFinal {
        without_proof,
        channel_binding,
        nonce,
        proof,
    })
}

/// RFC 5802 §7 `saslname`: `=2C` stands for "," and `=3D` for "="; any
/// other "=" sequence MUST fail (§5.1). ABNF strings are case-insensitive,
/// so `=2c` is accepted too.
pub(crate) fn decode_saslname(s: &str) -> Result<String, SaslError> {
    if s.is_empty() {
        return Err(malformed("empty name"));
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('=') {
        out.push_str(&rest[..pos]);
        let esc = rest.get(pos + 1..pos + 3).unwrap_or_default();
        if esc.eq_ignore_ascii_case("2C") {
            out.push(',');
        } else if esc.eq_ignore_ascii_case("3D") {
            out.push('=');
        } else {
            return Err(malformed("bad escape in name"));
        }
        rest = &rest[pos + 3..];
    }
    out.push_str(rest);
    if out.contains('\0') {
        return Err(malformed("NUL in name"));
    }
    if out.len() > MAX_NAME_LEN {
        return Err(malformed("name too long"));
    }
    Ok(out)
}

/// Bounded UTF-8 (RFC 5802 §7: messages are UTF-8).
fn text(msg: &[u8]) -> Result<&str, SaslError> {
    if msg.len() > MAX_MESSAGE_LEN {
        return Err(malformed("message too long"));
    }
    std::str::from_utf8(msg).map_err(|_| malformed("not UTF-8"))
}

/// RFC 5802 §7 `attr-val = ALPHA "=" value`, `value = 1*value-char`.
fn check_extension(ext: &str) -> Result<(), SaslError> {
    let b = ext.as_bytes();
    if b.len() < 3 || !b[0].is_ascii_alphabetic() || b[1] != b'=' {
        return Err(malformed("bad attribute"));
    }
    Ok(())
}

/// RFC 5056 §7 cb-name: `1*(ALPHA / DIGIT / "." / "-")`.
fn is_cb_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_CB_NAME_LEN
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'-')
}

/// RFC 5802 §7 `printable = %x21-2B / %x2D-7E` (no comma).
fn is_printable(c: u8) -> bool {
    matches!(c, 0x21..=0x2B | 0x2D..=0x7E)
}

fn malformed(what: &str) -> SaslError {
    SaslError::Malformed(format!("SCRAM: {what}"))
}
