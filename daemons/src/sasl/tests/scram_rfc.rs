//! The example exchanges of RFC 5802 §5 (SCRAM-SHA-1) and RFC 7677 §3
//! (SCRAM-SHA-256), byte for byte, plus full exchanges with random nonces.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ipc::store::ScramMechanism;

use super::scram_client::Client;
use super::{MemCreds, scram_run, scram_success};
use crate::sasl::{ChannelBinding, Exchange, Mechanism, Step, scram};

#[tokio::test]
async fn rfc5802_scram_sha1_example() {
    let salt = BASE64.decode("QSXCR+Q6sek8bf92").unwrap();
    let creds = MemCreds::new().user_with_salt(
        "user",
        "user-account",
        "pencil",
        ScramMechanism::Sha1,
        &salt,
        4096,
    );
    let mut ex = Exchange::with_server_nonce(
        Mechanism::ScramSha1,
        ChannelBinding::default(),
        "3rfcNHYJY1ZVvWVs7j",
    );
    let first = ex
        .start(Some(b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"), &creds)
        .await
        .unwrap();
    assert_eq!(
        first,
        Step::Challenge(
            b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096".to_vec()
        )
    );
    let last = ex
        .step(
            b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
            &creds,
        )
        .await
        .unwrap();
    assert_eq!(
        last,
        scram_success("user-account", b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=")
    );
    assert_eq!(creds.lookups(), ["user"]);
}

#[tokio::test]
async fn rfc7677_scram_sha256_example() {
    let salt = BASE64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
    let creds = MemCreds::new().user_with_salt(
        "user",
        "user-account",
        "pencil",
        ScramMechanism::Sha256,
        &salt,
        4096,
    );
    let mut ex = Exchange::with_server_nonce(
        Mechanism::ScramSha256,
        ChannelBinding::default(),
        "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
    );
    // Without initial response: an empty challenge first (RFC 4422 §5).
    assert_eq!(
        ex.start(None, &creds).await.unwrap(),
        Step::Challenge(Vec::new())
    );
    let first = ex
        .step(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO", &creds)
        .await
        .unwrap();
    assert_eq!(
        first,
        Step::Challenge(
            b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
                .to_vec()
        )
    );
    let last = ex
        .step(
            b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
            &creds,
        )
        .await
        .unwrap();
    assert_eq!(
        last,
        scram_success(
            "user-account",
            b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        )
    );
}

/// The test client reproduces the RFC proofs, so the exchanges below test
/// the server against a known-good client.
#[test]
fn test_client_matches_rfc_examples() {
    let c = Client::new(
        ScramMechanism::Sha1,
        "user",
        "pencil",
        "fyko+d2lbbFgONRv9qkxdawL",
    );
    let (fin, server_final) =
        c.finish(b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096");
    assert_eq!(
        fin,
        b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
    );
    assert_eq!(server_final, b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=");
}

/// `scram::derive_keys` (for the store) computes what the RFC example needs.
#[test]
fn derive_keys_matches_test_client() {
    let salt = BASE64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
    for mech in [ScramMechanism::Sha1, ScramMechanism::Sha256] {
        let k = scram::derive_keys(mech, b"pencil", &salt, 4096).unwrap();
        let (stored, server) = super::scram_client::keys(mech, "pencil", &salt, 4096);
        assert_eq!((k.stored_key, k.server_key), (stored, server));
    }
    assert!(scram::derive_keys(ScramMechanism::Sha1, b"pencil", &salt, 0).is_err());
}

#[tokio::test]
async fn random_nonce_exchanges_succeed() {
    let creds = MemCreds::new().user("mjl@example.org", "mjl", "correct horse");
    for (mech, store_mech) in [
        (Mechanism::ScramSha1, ScramMechanism::Sha1),
        (Mechanism::ScramSha256, ScramMechanism::Sha256),
    ] {
        let client = Client::new(
            store_mech,
            "mjl@example.org",
            "correct horse",
            "clientnonce123",
        );
        let mut ex = Exchange::new(mech, ChannelBinding::default());
        let run = scram_run(&mut ex, &client, &creds).await;
        assert_eq!(
            run.result.unwrap(),
            scram_success("mjl", &run.expected_final)
        );
        // r=<client nonce><24 random bytes in base64>,s=<salt>,i=<count>
        let sf = String::from_utf8(run.server_first).unwrap();
        let server_nonce = sf
            .strip_prefix("r=clientnonce123")
            .and_then(|r| r.split(',').next())
            .unwrap();
        assert_eq!(
            BASE64.decode(server_nonce).unwrap().len(),
            scram::SERVER_NONCE_LEN
        );
        assert!(sf.ends_with(&format!(",s={},i=4096", BASE64.encode(super::TEST_SALT))));
    }
}

#[tokio::test]
async fn server_nonces_differ() {
    let creds = MemCreds::new().user("u", "u", "p");
    let mut seen = Vec::new();
    for _ in 0..2 {
        let mut ex = Exchange::new(Mechanism::ScramSha256, ChannelBinding::default());
        let Step::Challenge(sf) = ex.start(Some(b"n,,n=u,r=abc"), &creds).await.unwrap() else {
            panic!("expected server-first");
        };
        seen.push(sf);
    }
    assert_ne!(seen[0], seen[1]);
}
