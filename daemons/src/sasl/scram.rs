//! SCRAM-SHA-1 and SCRAM-SHA-256, with and without channel binding, server
//! side (RFC 5802, RFC 7677; channel binding: RFC 5929 §4
//! `tls-server-end-point`, RFC 9266 `tls-exporter`).
//!
//! The exchange (RFC 5802 §5):
//! ```text
//! C: n,,n=user,r=<client nonce>                       client-first
//! S: r=<client nonce><server nonce>,s=<salt>,i=<count>   server-first
//! C: c=<gs2 header + cb data>,r=<nonce>,p=<proof>      client-final
//! S: v=<server signature>                              server-final
//! ```
//! The store hands out StoredKey and ServerKey only, never the password.
//! For a login the store does not know, the exchange goes on with stand-in
//! credentials (`crypto::fake_credentials`) and fails at the proof exactly
//! like a wrong password.

mod crypto;
pub(super) mod message;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ipc::store::{ScramCredentials, ScramMechanism};

pub use crypto::{FAKE_ITERATIONS, FAKE_SALT_LEN, ScramKeys, derive_keys, output_len};

use super::{ChannelBinding, Credentials, Mechanism, SaslError, Step};
use message::CbindFlag;

/// Highest iteration count accepted from the store; more would let a bad
/// store entry tie up a worker (and clients) for minutes.
pub const MAX_ITERATIONS: u32 = 1_000_000;

/// Random bytes in the server's part of the nonce (sent base64-encoded).
pub const SERVER_NONCE_LEN: usize = 24;

/// Longest salt accepted from the store, in bytes.
pub const MAX_STORE_SALT_LEN: usize = 256;

/// RFC 5929 §4 `tls-server-end-point` and RFC 9266 `tls-exporter`: the
/// channel-binding types moxd supports (not `tls-unique`, RFC 9266 §3).
const CB_TLS_EXPORTER: &str = "tls-exporter";
const CB_TLS_SERVER_END_POINT: &str = "tls-server-end-point";

/// A fresh server nonce: [`SERVER_NONCE_LEN`] random bytes in base64, which
/// is RFC 5802 §7 `printable` (no comma).
pub(super) fn random_server_nonce() -> String {
    let mut bytes = [0u8; SERVER_NONCE_LEN];
    rand::fill(&mut bytes);
    BASE64.encode(bytes)
}

/// The state after the server-first message: what the client-final message
/// is checked against.
pub(super) struct AwaitFinal {
    mech: ScramMechanism,
    /// RFC 5802 §7 `cbind-input`: GS2 header followed by the binding data.
    cbind_input: Vec<u8>,
    client_first_bare: String,
    server_first: String,
    /// Client nonce followed by server nonce.
    nonce: String,
    creds: ScramCredentials,
    /// False when `creds` are stand-ins for an unknown login.
    known: bool,
}

/// RFC 5802 §5.1: handles the client-first message, looks up the login and
/// prepares the server-first message.
pub(super) async fn client_first<C: Credentials>(
    mechanism: Mechanism,
    cb: &ChannelBinding,
    msg: &[u8],
    creds: &C,
    server_nonce: String,
) -> Result<AwaitFinal, SaslError> {
    let mech = mechanism
        .scram()
        .ok_or_else(|| SaslError::Temporary("not a SCRAM mechanism".to_owned()))?;
    let first = message::parse_client_first(msg)?;
    let cb_data = binding_data(mechanism, cb, &first.cbind)?;
    // RFC 5802 §5.1: moxd does not act on behalf of other users; an authzid
    // must name the authenticating user.
    if first
        .authzid
        .as_deref()
        .is_some_and(|a| a != first.username)
    {
        return Err(SaslError::Failed);
    }

    let (creds, known) = match creds.scram(&first.username, mech).await? {
        Some(c) => {
            check_store_credentials(mech, &c)?;
            (c, true)
        }
        None => (crypto::fake_credentials(mech, &first.username)?, false),
    };

    let nonce = format!("{}{server_nonce}", first.client_nonce);
    // RFC 5802 §7 server-first-message = [reserved-mext ","] nonce "," salt "," iteration-count ["," extensions]
    let server_first = format!(
        "r={nonce},s={},i={}",
        BASE64.encode(&creds.salt),
        creds.iterations
    );
    let mut cbind_input = first.gs2_header.as_bytes().to_vec();
    if let Some(data) = cb_data {
        cbind_input.extend_from_slice(data);
    }
    Ok(AwaitFinal {
        mech,
        cbind_input,
        client_first_bare: first.bare.to_owned(),
        server_first,
        nonce,
        creds,
        known,
    })
}

impl AwaitFinal {
    pub(super) fn server_first(&self) -> &str {
        &self.server_first
    }

    /// RFC 5802 §5.1, §3: checks the client-final message and returns the
    /// server-final message with the success.
    pub(super) fn client_final(self, msg: &[u8]) -> Result<Step, SaslError> {
        let fin = message::parse_client_final(msg)?;
        let cbind = BASE64
            .decode(fin.channel_binding)
            .map_err(|_| malformed("channel binding is not base64"))?;
        // RFC 5802 §6: the server MUST check the channel binding against its
        // own view of the GS2 header and binding data.
        if !crypto::ct_eq(&cbind, &self.cbind_input) {
            return Err(SaslError::ChannelBinding);
        }
        if fin.nonce != self.nonce {
            return Err(malformed("nonce mismatch"));
        }
        let proof = BASE64
            .decode(fin.proof)
            .map_err(|_| malformed("proof is not base64"))?;
        if proof.len() != crypto::output_len(self.mech) {
            return Err(malformed("proof has the wrong length"));
        }

        // RFC 5802 §3:
        //   AuthMessage     := client-first-message-bare + "," +
        //                      server-first-message + "," +
        //                      client-final-message-without-proof
        //   ClientSignature := HMAC(StoredKey, AuthMessage)
        //   ClientKey       := ClientProof XOR ClientSignature
        //   check H(ClientKey) == StoredKey
        //   ServerSignature := HMAC(ServerKey, AuthMessage)
        let auth_message = format!(
            "{},{},{}",
            self.client_first_bare, self.server_first, fin.without_proof
        );
        let client_signature =
            crypto::hmac(self.mech, &self.creds.stored_key, auth_message.as_bytes())?;
        let client_key: Vec<u8> = proof
            .iter()
            .zip(&client_signature)
            .map(|(p, s)| p ^ s)
            .collect();
        let matches = crypto::ct_eq(
            &crypto::hash(self.mech, &client_key),
            &self.creds.stored_key,
        );
        if !(matches && self.known) {
            return Err(SaslError::Failed);
        }
        let server_signature =
            crypto::hmac(self.mech, &self.creds.server_key, auth_message.as_bytes())?;
        let server_final = format!("v={}", BASE64.encode(server_signature));
        Ok(Step::Success {
            account: self.creds.account,
            server_final: Some(server_final.into_bytes()),
        })
    }
}

/// RFC 5802 §6: which binding data the client must have used, or why the
/// exchange cannot go on.
fn binding_data<'a>(
    mechanism: Mechanism,
    cb: &'a ChannelBinding,
    flag: &CbindFlag<'_>,
) -> Result<Option<&'a [u8]>, SaslError> {
    let plus = mechanism.needs_channel_binding();
    match flag {
        // The client does not do channel binding: fine, unless it chose a
        // -PLUS mechanism.
        CbindFlag::NotSupported if plus => Err(SaslError::ChannelBinding),
        CbindFlag::NotSupported => Ok(None),
        // "If the flag is set to "y" and the server supports channel
        // binding, the server MUST fail authentication": the client saw no
        // -PLUS mechanism, so someone removed them (downgrade attack).
        CbindFlag::ServerLacks if plus || cb.is_available() => Err(SaslError::ChannelBinding),
        CbindFlag::ServerLacks => Ok(None),
        // Channel binding is only done with a -PLUS mechanism (RFC 5801 §4),
        // and only with a type the TLS layer gave us data for.
        CbindFlag::Required(_) if !plus => Err(SaslError::ChannelBinding),
        CbindFlag::Required(name) => {
            let data = match *name {
                CB_TLS_EXPORTER => cb.tls_exporter.as_deref(),
                CB_TLS_SERVER_END_POINT => cb.tls_server_end_point.as_deref(),
                _ => None,
            };
            data.map(Some).ok_or(SaslError::ChannelBinding)
        }
    }
}

/// Rejects credentials no sane store entry has; the exchange then fails as
/// temporary rather than running, say, 2^31 iterations on the client.
fn check_store_credentials(mech: ScramMechanism, c: &ScramCredentials) -> Result<(), SaslError> {
    let bad = |what: &str| {
        Err(SaslError::Temporary(format!(
            "store SCRAM credentials: {what}"
        )))
    };
    if c.iterations == 0 || c.iterations > MAX_ITERATIONS {
        return bad("iteration count out of range");
    }
    if c.salt.is_empty() || c.salt.len() > MAX_STORE_SALT_LEN {
        return bad("salt length out of range");
    }
    let len = crypto::output_len(mech);
    if c.stored_key.len() != len || c.server_key.len() != len {
        return bad("key length does not match the hash");
    }
    Ok(())
}

fn malformed(what: &str) -> SaslError {
    SaslError::Malformed(format!("SCRAM: {what}"))
}
