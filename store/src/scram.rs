//! SCRAM key derivation (RFC 5802 §3, SCRAM-SHA-256 in RFC 7677). The store
//! keeps only the salt, the iteration count, StoredKey and ServerKey; with
//! those a worker can run a SCRAM exchange and the store can check a plain
//! password, but neither reveals the password.
//!
//! The password is used as its UTF-8 bytes (no SASLprep, RFC 4013); for
//! ASCII passwords that is the same.

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use ipc::store::ScramMechanism;
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// RFC 7677 §4: at least 4096 iterations for SCRAM-SHA-256.
pub const SHA256_ITERATIONS: u32 = 4096;
/// SCRAM-SHA-1 is weaker per iteration; use twice RFC 5802's minimum (as mox does).
pub const SHA1_ITERATIONS: u32 = 8192;
/// Length of a freshly generated salt.
pub const SALT_LEN: usize = 16;

/// The derived secrets the store keeps for one mechanism.
#[derive(Clone, PartialEq, Eq)]
pub struct Keys {
    pub salt: Vec<u8>,
    pub iterations: u32,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

/// The iteration count the store uses for a mechanism.
pub fn iterations(mech: ScramMechanism) -> u32 {
    match mech {
        ScramMechanism::Sha1 => SHA1_ITERATIONS,
        ScramMechanism::Sha256 => SHA256_ITERATIONS,
    }
}

/// The mechanism's name as in RFC 5802 §4 / RFC 7677 §2.
pub fn name(mech: ScramMechanism) -> &'static str {
    match mech {
        ScramMechanism::Sha1 => "SCRAM-SHA-1",
        ScramMechanism::Sha256 => "SCRAM-SHA-256",
    }
}

/// A fresh random salt.
pub fn new_salt() -> Vec<u8> {
    rand::random::<[u8; SALT_LEN]>().to_vec()
}

/// RFC 5802 §3:
/// SaltedPassword := Hi(password, salt, i);
/// ClientKey := HMAC(SaltedPassword, "Client Key"); StoredKey := H(ClientKey);
/// ServerKey := HMAC(SaltedPassword, "Server Key").
pub fn derive(mech: ScramMechanism, password: &[u8], salt: &[u8], iterations: u32) -> Keys {
    let (client_key, server_key) = match mech {
        ScramMechanism::Sha256 => {
            let mut salted = [0u8; 32];
            pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut salted);
            (
                hmac::<Hmac<Sha256>>(&salted, b"Client Key"),
                hmac::<Hmac<Sha256>>(&salted, b"Server Key"),
            )
        }
        ScramMechanism::Sha1 => {
            let mut salted = [0u8; 20];
            pbkdf2::pbkdf2_hmac::<Sha1>(password, salt, iterations, &mut salted);
            (
                hmac::<Hmac<Sha1>>(&salted, b"Client Key"),
                hmac::<Hmac<Sha1>>(&salted, b"Server Key"),
            )
        }
    };
    Keys {
        salt: salt.to_vec(),
        iterations,
        stored_key: hash(mech, &client_key),
        server_key,
    }
}

/// RFC 5802 §3: ClientSignature := HMAC(StoredKey, AuthMessage);
/// ClientKey := ClientProof XOR ClientSignature; the proof is right when
/// H(ClientKey) equals StoredKey. Compared in constant time.
pub fn verify_client_proof(
    mech: ScramMechanism,
    keys: &Keys,
    auth_message: &[u8],
    proof: &[u8],
) -> bool {
    let signature = mac(mech, &keys.stored_key, auth_message);
    if proof.len() != signature.len() {
        return false;
    }
    let client_key: Vec<u8> = proof.iter().zip(&signature).map(|(p, s)| p ^ s).collect();
    constant_time_eq(&hash(mech, &client_key), &keys.stored_key)
}

/// RFC 5802 §3: ServerSignature := HMAC(ServerKey, AuthMessage), sent as `v=`.
pub fn server_signature(mech: ScramMechanism, keys: &Keys, auth_message: &[u8]) -> Vec<u8> {
    mac(mech, &keys.server_key, auth_message)
}

/// Equality that takes the same time wherever the first difference is.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

fn mac(mech: ScramMechanism, key: &[u8], data: &[u8]) -> Vec<u8> {
    match mech {
        ScramMechanism::Sha256 => hmac::<Hmac<Sha256>>(key, data),
        ScramMechanism::Sha1 => hmac::<Hmac<Sha1>>(key, data),
    }
}

fn hash(mech: ScramMechanism, data: &[u8]) -> Vec<u8> {
    match mech {
        ScramMechanism::Sha256 => Sha256::digest(data).to_vec(),
        ScramMechanism::Sha1 => Sha1::digest(data).to_vec(),
    }
}

fn hmac<M: Mac + KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = match <M as KeyInit>::new_from_slice(key) {
        Ok(m) => m,
        // RFC 2104 §2: HMAC takes keys of any length.
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD as B64;

    /// Runs the server side of an example exchange from an RFC and checks
    /// the client's proof and the server signature it prints.
    fn check_exchange(
        mech: ScramMechanism,
        client_first_bare: &str,
        server_first: &str,
        client_final: &str,
        server_final: &str,
    ) {
        let salt_b64 = server_first
            .split(',')
            .find_map(|p| p.strip_prefix("s="))
            .unwrap();
        let iters: u32 = server_first
            .split(',')
            .find_map(|p| p.strip_prefix("i="))
            .unwrap()
            .parse()
            .unwrap();
        let keys = derive(mech, b"pencil", &B64.decode(salt_b64).unwrap(), iters);
        let (without_proof, proof_b64) = client_final.rsplit_once(",p=").unwrap();
        let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
        let proof = B64.decode(proof_b64).unwrap();
        assert!(verify_client_proof(
            mech,
            &keys,
            auth_message.as_bytes(),
            &proof
        ));
        let mut wrong = proof.clone();
        wrong[0] ^= 1;
        assert!(!verify_client_proof(
            mech,
            &keys,
            auth_message.as_bytes(),
            &wrong
        ));
        let wrong_pw = derive(mech, b"pencil!", &keys.salt, iters);
        assert!(!verify_client_proof(
            mech,
            &wrong_pw,
            auth_message.as_bytes(),
            &proof
        ));
        let v = server_signature(mech, &keys, auth_message.as_bytes());
        assert_eq!(format!("v={}", B64.encode(v)), server_final);
    }

    #[test]
    fn rfc7677_section3_sha256() {
        check_exchange(
            ScramMechanism::Sha256,
            "n=user,r=rOprNGfwEbeRWgbNEkqO",
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
            "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
        );
    }

    #[test]
    fn rfc5802_section5_sha1() {
        check_exchange(
            ScramMechanism::Sha1,
            "n=user,r=fyko+d2lbbFgONRv9qkxdawL",
            "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
            "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
            "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
        );
    }

    #[test]
    fn key_lengths_and_salts() {
        let a = derive(ScramMechanism::Sha256, b"x", &new_salt(), 2);
        assert_eq!(
            (a.stored_key.len(), a.server_key.len(), a.salt.len()),
            (32, 32, SALT_LEN)
        );
        let b = derive(ScramMechanism::Sha1, b"x", &new_salt(), 2);
        assert_eq!((b.stored_key.len(), b.server_key.len()), (20, 20));
        assert_ne!(new_salt(), new_salt());
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
