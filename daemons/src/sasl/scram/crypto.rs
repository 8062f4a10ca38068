//! The SCRAM primitives (RFC 5802 §2.2, §3) over SHA-1 or SHA-256, the key
//! derivation the store uses when a password is set, and the stand-in
//! credentials for unknown users.

use std::sync::OnceLock;

use hmac::{Hmac, Mac};
use ipc::store::{ScramCredentials, ScramMechanism};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::super::SaslError;

/// Salt length of the stand-in credentials for unknown users; the store
/// should salt real credentials with the same length so both look alike.
pub const FAKE_SALT_LEN: usize = 16;

/// Iteration count of the stand-in credentials for unknown users; the store
/// should derive real credentials with the same count (RFC 7677 §4 asks for
/// at least 4096) so both look alike.
pub const FAKE_ITERATIONS: u32 = 4096;

/// The salted keys the store keeps for one password and hash (RFC 5802 §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScramKeys {
    /// `H(HMAC(SaltedPassword, "Client Key"))`.
    pub stored_key: Vec<u8>,
    /// `HMAC(SaltedPassword, "Server Key")`.
    pub server_key: Vec<u8>,
}

/// Output length of the hash, in bytes.
pub fn output_len(mech: ScramMechanism) -> usize {
    match mech {
        ScramMechanism::Sha1 => 20,
        ScramMechanism::Sha256 => 32,
    }
}

/// RFC 5802 §2.2 `HMAC(key, str)`.
pub fn hmac(mech: ScramMechanism, key: &[u8], data: &[u8]) -> Result<Vec<u8>, SaslError> {
    // HMAC accepts keys of every length; the error cannot happen.
    let bad_key = |_| SaslError::Temporary("HMAC key rejected".to_owned());
    Ok(match mech {
        ScramMechanism::Sha1 => {
            let mut m = <Hmac<Sha1> as Mac>::new_from_slice(key).map_err(bad_key)?;
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
        ScramMechanism::Sha256 => {
            let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).map_err(bad_key)?;
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
    })
}

/// RFC 5802 §2.2 `H(str)`.
pub fn hash(mech: ScramMechanism, data: &[u8]) -> Vec<u8> {
    match mech {
        ScramMechanism::Sha1 => Sha1::digest(data).to_vec(),
        ScramMechanism::Sha256 => Sha256::digest(data).to_vec(),
    }
}

/// RFC 5802 §3: `SaltedPassword := Hi(password, salt, i)` (PBKDF2 with
/// HMAC), then the stored and server keys. `iterations` must be at least 1.
pub fn derive_keys(
    mech: ScramMechanism,
    password: &[u8],
    salt: &[u8],
    iterations: u32,
) -> Result<ScramKeys, SaslError> {
    if iterations == 0 {
        return Err(SaslError::Temporary(
            "SCRAM iteration count must be positive".to_owned(),
        ));
    }
    let mut salted = vec![0u8; output_len(mech)];
    let res = match mech {
        ScramMechanism::Sha1 => {
            pbkdf2::pbkdf2::<Hmac<Sha1>>(password, salt, iterations, &mut salted)
        }
        ScramMechanism::Sha256 => {
            pbkdf2::pbkdf2::<Hmac<Sha256>>(password, salt, iterations, &mut salted)
        }
    };
    res.map_err(|_| SaslError::Temporary("PBKDF2 key rejected".to_owned()))?;
    let client_key = hmac(mech, &salted, b"Client Key")?;
    Ok(ScramKeys {
        stored_key: hash(mech, &client_key),
        server_key: hmac(mech, &salted, b"Server Key")?,
    })
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// Stand-in credentials for a login the store does not know, so that the
/// server-first message looks like a real one and the exchange fails only
/// at the proof, like a wrong password (no user enumeration).
///
/// Salt and keys are HMACs of the login under a secret drawn once per
/// process: the same login gets the same salt on every attempt (a random
/// salt per attempt would betray an unknown user), and nobody outside the
/// process can tell them from real ones.
pub(crate) fn fake_credentials(
    mech: ScramMechanism,
    login: &str,
) -> Result<ScramCredentials, SaslError> {
    let secret = process_secret();
    let tag: &[u8] = match mech {
        ScramMechanism::Sha1 => b"sha1",
        ScramMechanism::Sha256 => b"sha256",
    };
    let derive = |purpose: &[u8], len: usize| -> Result<Vec<u8>, SaslError> {
        let input = [purpose, b"\0", tag, b"\0", login.as_bytes()].concat();
        let mut out = hmac(ScramMechanism::Sha256, secret, &input)?;
        out.truncate(len);
        Ok(out)
    };
    Ok(ScramCredentials {
        account: String::new(),
        salt: derive(b"salt", FAKE_SALT_LEN)?,
        iterations: FAKE_ITERATIONS,
        stored_key: derive(b"stored key", output_len(mech))?,
        server_key: derive(b"server key", output_len(mech))?,
    })
}

/// Size of the per-process secret keying the stand-in credentials.
const PROCESS_SECRET_LEN: usize = 32;

fn process_secret() -> &'static [u8; PROCESS_SECRET_LEN] {
    static SECRET: OnceLock<[u8; PROCESS_SECRET_LEN]> = OnceLock::new();
    SECRET.get_or_init(|| {
        let mut s = [0u8; PROCESS_SECRET_LEN];
        rand::fill(&mut s);
        s
    })
}
