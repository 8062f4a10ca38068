//! A SCRAM client (RFC 5802 §3), written apart from the server code so the
//! tests check the server against an independent computation.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use ipc::store::ScramMechanism;
use sha1::Sha1;
use sha2::{Digest, Sha256};

fn hmac(mech: ScramMechanism, key: &[u8], data: &[u8]) -> Vec<u8> {
    match mech {
        ScramMechanism::Sha1 => {
            let mut m = <Hmac<Sha1> as Mac>::new_from_slice(key).unwrap();
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
        ScramMechanism::Sha256 => {
            let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
    }
}

fn h(mech: ScramMechanism, data: &[u8]) -> Vec<u8> {
    match mech {
        ScramMechanism::Sha1 => Sha1::digest(data).to_vec(),
        ScramMechanism::Sha256 => Sha256::digest(data).to_vec(),
    }
}

fn salted_password(mech: ScramMechanism, password: &str, salt: &[u8], i: u32) -> Vec<u8> {
    match mech {
        ScramMechanism::Sha1 => {
            pbkdf2::pbkdf2_hmac_array::<Sha1, 20>(password.as_bytes(), salt, i).to_vec()
        }
        ScramMechanism::Sha256 => {
            pbkdf2::pbkdf2_hmac_array::<Sha256, 32>(password.as_bytes(), salt, i).to_vec()
        }
    }
}

/// (StoredKey, ServerKey) as the store keeps them.
pub(super) fn keys(
    mech: ScramMechanism,
    password: &str,
    salt: &[u8],
    i: u32,
) -> (Vec<u8>, Vec<u8>) {
    let salted = salted_password(mech, password, salt, i);
    let client_key = hmac(mech, &salted, b"Client Key");
    (h(mech, &client_key), hmac(mech, &salted, b"Server Key"))
}

/// One client side of an exchange.
pub(super) struct Client {
    mech: ScramMechanism,
    /// Already saslname-encoded.
    user: String,
    password: String,
    nonce: String,
    gs2_header: String,
    cb_data: Vec<u8>,
}

impl Client {
    pub(super) fn new(mech: ScramMechanism, user: &str, password: &str, nonce: &str) -> Self {
        Client {
            mech,
            user: user.to_owned(),
            password: password.to_owned(),
            nonce: nonce.to_owned(),
            gs2_header: "n,,".to_owned(),
            cb_data: Vec::new(),
        }
    }

    /// Uses this GS2 header and channel-binding data (RFC 5802 §7 cbind-input).
    pub(super) fn binding(mut self, gs2_header: &str, cb_data: &[u8]) -> Self {
        self.gs2_header = gs2_header.to_owned();
        self.cb_data = cb_data.to_vec();
        self
    }

    fn bare(&self) -> String {
        format!("n={},r={}", self.user, self.nonce)
    }

    pub(super) fn first(&self) -> Vec<u8> {
        format!("{}{}", self.gs2_header, self.bare()).into_bytes()
    }

    /// The client-final message and the server-final message it expects.
    pub(super) fn finish(&self, server_first: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let server_first = std::str::from_utf8(server_first).unwrap();
        let mut it = server_first.split(',');
        let nonce = it.next().unwrap().strip_prefix("r=").unwrap();
        let salt = BASE64
            .decode(it.next().unwrap().strip_prefix("s=").unwrap())
            .unwrap();
        let i: u32 = it
            .next()
            .unwrap()
            .strip_prefix("i=")
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            nonce.starts_with(&self.nonce),
            "server nonce must extend the client's"
        );

        let cbind = [self.gs2_header.as_bytes(), &self.cb_data].concat();
        let without_proof = format!("c={},r={nonce}", BASE64.encode(cbind));
        let auth_message = format!("{},{server_first},{without_proof}", self.bare());

        let salted = salted_password(self.mech, &self.password, &salt, i);
        let client_key = hmac(self.mech, &salted, b"Client Key");
        let stored_key = h(self.mech, &client_key);
        let signature = hmac(self.mech, &stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(a, b)| a ^ b)
            .collect();
        let server_key = hmac(self.mech, &salted, b"Server Key");
        let server_signature = hmac(self.mech, &server_key, auth_message.as_bytes());
        (
            format!("{without_proof},p={}", BASE64.encode(proof)).into_bytes(),
            format!("v={}", BASE64.encode(server_signature)).into_bytes(),
        )
    }
}
