//! SCRAM failures: wrong password and unknown user alike, authzid, saslname
//! decoding, nonsense from the client or the store, exchange misuse.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ipc::store::{ScramCredentials, ScramMechanism};

use super::scram_client::Client;
use super::{MemCreds, scram_run, scram_success};
use crate::sasl::{ChannelBinding, Exchange, MAX_RESPONSE_LEN, Mechanism, SaslError, Step, scram};

fn creds() -> MemCreds {
    MemCreds::new().user("user", "acct", "pencil")
}

async fn run(mech: Mechanism, user: &str, password: &str, creds: &MemCreds) -> super::ScramRun {
    let sm = mech.scram().unwrap();
    let client = Client::new(sm, user, password, "cnonce");
    scram_run(
        &mut Exchange::new(mech, ChannelBinding::default()),
        &client,
        creds,
    )
    .await
}

/// Splits a server-first message into (nonce, salt, iterations).
fn fields(server_first: &[u8]) -> (String, Vec<u8>, String) {
    let s = String::from_utf8(server_first.to_vec()).unwrap();
    let v: Vec<&str> = s.split(',').collect();
    assert_eq!(v.len(), 3, "{s}");
    (
        v[0].strip_prefix("r=").unwrap().to_owned(),
        BASE64.decode(v[1].strip_prefix("s=").unwrap()).unwrap(),
        v[2].strip_prefix("i=").unwrap().to_owned(),
    )
}

#[tokio::test]
async fn wrong_password_fails() {
    let creds = creds();
    for mech in [Mechanism::ScramSha1, Mechanism::ScramSha256] {
        let r = run(mech, "user", "pencil2", &creds).await.result;
        assert!(matches!(r, Err(SaslError::Failed)), "{r:?}");
    }
}

/// An unknown login gets a plausible server-first message and fails only at
/// the proof, with the same error and text as a wrong password.
#[tokio::test]
async fn unknown_user_fails_like_wrong_password() {
    let creds = creds();
    for mech in [Mechanism::ScramSha1, Mechanism::ScramSha256] {
        let wrong = run(mech, "user", "nope", &creds).await;
        let unknown = run(mech, "nobody", "nope", &creds).await;
        let (we, ue) = (wrong.result.unwrap_err(), unknown.result.unwrap_err());
        assert!(matches!(ue, SaslError::Failed));
        assert_eq!(we.to_string(), ue.to_string());
        assert_eq!(ue.to_string(), "authentication failed");

        let (wn, ws, wi) = fields(&wrong.server_first);
        let (un, us, ui) = fields(&unknown.server_first);
        assert_eq!((wn.len(), ws.len(), &wi), (un.len(), us.len(), &ui));
        assert_eq!(us.len(), scram::FAKE_SALT_LEN);
        assert_eq!(ui, scram::FAKE_ITERATIONS.to_string());
    }
    assert_eq!(creds.lookups(), ["user", "nobody", "user", "nobody"]);
}

/// The stand-in salt is stable per login (a fresh one each time would give
/// the unknown user away) and differs between logins and hashes.
#[tokio::test]
async fn unknown_user_salt_is_stable() {
    let creds = creds();
    let salt = |mech, user: &'static str| {
        let creds = &creds;
        async move { fields(&run(mech, user, "x", creds).await.server_first).1 }
    };
    let a1 = salt(Mechanism::ScramSha256, "alice").await;
    let a2 = salt(Mechanism::ScramSha256, "alice").await;
    let b = salt(Mechanism::ScramSha256, "bob").await;
    let a_sha1 = salt(Mechanism::ScramSha1, "alice").await;
    assert_eq!(a1, a2);
    assert_ne!(a1, b);
    assert_ne!(a1, a_sha1);
}

#[tokio::test]
async fn authzid_must_match_user() {
    let creds = creds();
    let client =
        Client::new(ScramMechanism::Sha256, "user", "pencil", "cn").binding("n,a=user,", b"");
    let run = scram_run(
        &mut Exchange::new(Mechanism::ScramSha256, ChannelBinding::default()),
        &client,
        &creds,
    )
    .await;
    assert_eq!(
        run.result.unwrap(),
        scram_success("acct", &run.expected_final)
    );

    let mut ex = Exchange::new(Mechanism::ScramSha256, ChannelBinding::default());
    let r = ex.start(Some(b"n,a=admin,n=user,r=cn"), &creds).await;
    assert!(matches!(r, Err(SaslError::Failed)), "{r:?}");
}

#[tokio::test]
async fn saslname_is_decoded() {
    let creds = MemCreds::new().user("a,b=c", "odd", "pw");
    let client = Client::new(ScramMechanism::Sha1, "a=2Cb=3Dc", "pw", "cn");
    let run = scram_run(
        &mut Exchange::new(Mechanism::ScramSha1, ChannelBinding::default()),
        &client,
        &creds,
    )
    .await;
    assert_eq!(
        run.result.unwrap(),
        scram_success("odd", &run.expected_final)
    );
    assert_eq!(creds.lookups(), ["a,b=c"]);
}

/// The client-first message is rejected as malformed without a store lookup.
async fn first_malformed(first: &[u8]) {
    let creds = creds();
    let mut ex = Exchange::new(Mechanism::ScramSha256, ChannelBinding::default());
    let r = ex.start(Some(first), &creds).await;
    assert!(
        matches!(r, Err(SaslError::Malformed(_))),
        "{:?}: {r:?}",
        String::from_utf8_lossy(first)
    );
    assert!(creds.lookups().is_empty());
}

#[tokio::test]
async fn malformed_client_first() {
    first_malformed(b"").await;
    first_malformed(b"n,,").await;
    first_malformed(b"n,n=user,r=abc").await;
    first_malformed(b"x,,n=user,r=abc").await;
    first_malformed(b"n,b=user,n=user,r=abc").await;
    first_malformed(b"n,,n=a=41b,r=abc").await; // bad escape
    first_malformed(b"n,,n=user=,r=abc").await;
    first_malformed(b"n,,n=,r=abc").await;
    first_malformed(b"n,,m=ext,n=user,r=abc").await; // RFC 5802 §5.1 mandatory extension
    first_malformed(b"n,,r=abc,n=user").await;
    first_malformed(b"n,,n=user,r=").await;
    first_malformed(b"n,,n=user").await;
    first_malformed(b"n,,n=user,r=ab\x7fc").await;
    first_malformed(b"n,,n=user,r=abc,=x").await;
    first_malformed(b"n,,n=us\xffer,r=abc").await;
    first_malformed(b"n,,n=us\0er,r=abc").await;
    let long_user = format!("n,,n={},r=abc", "u".repeat(1025));
    first_malformed(long_user.as_bytes()).await;
    let long_nonce = format!("n,,n=user,r={}", "x".repeat(513));
    first_malformed(long_nonce.as_bytes()).await;
    let too_long = vec![b'a'; MAX_RESPONSE_LEN + 1];
    first_malformed(&too_long).await;
}

#[tokio::test]
async fn optional_extensions_are_ignored() {
    let creds = creds();
    let mut ex =
        Exchange::with_server_nonce(Mechanism::ScramSha256, ChannelBinding::default(), "S");
    let r = ex
        .start(Some(b"n,,n=user,r=abc,x=whatever"), &creds)
        .await
        .unwrap();
    let Step::Challenge(sf) = r else {
        panic!("expected server-first")
    };
    assert!(sf.starts_with(b"r=abcS,s="));
}

/// Drives an exchange to the server-first message; returns it and the exchange.
async fn to_final(creds: &MemCreds) -> (Exchange, String) {
    let mut ex =
        Exchange::with_server_nonce(Mechanism::ScramSha256, ChannelBinding::default(), "SRV");
    let Step::Challenge(sf) = ex.start(Some(b"n,,n=user,r=cn"), creds).await.unwrap() else {
        panic!("expected server-first");
    };
    (ex, String::from_utf8(sf).unwrap())
}

#[tokio::test]
async fn malformed_client_final() {
    let creds = creds();
    let proof = BASE64.encode([0u8; 32]);
    let cases = [
        "c=biws,r=cnSRV".to_string(),                             // no proof
        format!("c=biws,r=cnSRV,p={proof},x=y"),                  // proof not last
        format!("c=biws,r=cnOTHER,p={proof}"),                    // nonce mismatch
        format!("c=biws,r=cn,p={proof}"),                         // server part missing
        format!("r=cnSRV,c=biws,p={proof}"),                      // order
        format!("c=biws,r=cnSRV,p={}", BASE64.encode([0u8; 20])), // SHA-1 length
        "c=biws,r=cnSRV,p=!!!!".to_string(),                      // not base64
        format!("c=b!ws,r=cnSRV,p={proof}"),                      // c not base64
        format!("c=biws,r=cnSRV,p=x,p={proof}"),                  // two proofs
        "c=biws,r=cnSRV,p=".to_string(),                          // empty proof
    ];
    for fin in cases {
        let (mut ex, _) = to_final(&creds).await;
        let r = ex.step(fin.as_bytes(), &creds).await;
        assert!(matches!(r, Err(SaslError::Malformed(_))), "{fin}: {r:?}");
    }
}

#[tokio::test]
async fn right_proof_with_changed_final_message_fails() {
    // Extensions are part of the AuthMessage: adding one after computing
    // the proof breaks it.
    let creds = creds();
    let (mut ex, sf) = to_final(&creds).await;
    let client = Client::new(ScramMechanism::Sha256, "user", "pencil", "cn");
    let (fin, _) = client.finish(sf.as_bytes());
    let fin = String::from_utf8(fin).unwrap();
    let (head, proof) = fin.rsplit_once(",p=").unwrap();
    let tampered = format!("{head},x=1,p={proof}");
    let r = ex.step(tampered.as_bytes(), &creds).await;
    assert!(matches!(r, Err(SaslError::Failed)), "{r:?}");
}

/// Store entries no sane store holds end as a temporary failure.
#[tokio::test]
async fn absurd_store_credentials_are_temporary() {
    let good = || {
        let (stored_key, server_key) =
            super::scram_client::keys(ScramMechanism::Sha256, "pencil", b"salt", 1);
        ScramCredentials {
            account: "acct".into(),
            salt: b"salt".to_vec(),
            iterations: 1,
            stored_key,
            server_key,
        }
    };
    let bad = [
        ScramCredentials {
            iterations: scram::MAX_ITERATIONS + 1,
            ..good()
        },
        ScramCredentials {
            iterations: u32::MAX,
            ..good()
        },
        ScramCredentials {
            iterations: 0,
            ..good()
        },
        ScramCredentials {
            salt: Vec::new(),
            ..good()
        },
        ScramCredentials {
            stored_key: vec![0; 20],
            ..good()
        },
        ScramCredentials {
            server_key: Vec::new(),
            ..good()
        },
    ];
    for c in bad {
        let creds = MemCreds::new().raw_scram("user", ScramMechanism::Sha256, c.clone());
        let mut ex = Exchange::new(Mechanism::ScramSha256, ChannelBinding::default());
        let r = ex.start(Some(b"n,,n=user,r=cn"), &creds).await;
        assert!(matches!(r, Err(SaslError::Temporary(_))), "{c:?}: {r:?}");
    }
    // The same entry with sane values works, at the edge of the range.
    let edge = ScramCredentials {
        iterations: 1,
        ..good()
    };
    let creds = MemCreds::new().raw_scram("user", ScramMechanism::Sha256, edge);
    let client = Client::new(ScramMechanism::Sha256, "user", "pencil", "cn");
    let run = scram_run(
        &mut Exchange::new(Mechanism::ScramSha256, ChannelBinding::default()),
        &client,
        &creds,
    )
    .await;
    assert_eq!(
        run.result.unwrap(),
        scram_success("acct", &run.expected_final)
    );
}

#[tokio::test]
async fn store_errors_pass_through() {
    let creds = creds().broken("store unreachable");
    let mut ex = Exchange::new(Mechanism::ScramSha1, ChannelBinding::default());
    let r = ex.start(Some(b"n,,n=user,r=cn"), &creds).await;
    assert_eq!(
        r.unwrap_err().to_string(),
        "temporary failure: store unreachable"
    );
}

#[tokio::test]
async fn exchange_misuse_is_temporary() {
    let creds = creds();
    // step before start
    let mut ex = Exchange::new(Mechanism::ScramSha256, ChannelBinding::default());
    assert!(matches!(
        ex.step(b"n,,n=user,r=cn", &creds).await,
        Err(SaslError::Temporary(_))
    ));

    // start twice
    let mut ex = Exchange::new(Mechanism::ScramSha256, ChannelBinding::default());
    ex.start(None, &creds).await.unwrap();
    assert!(matches!(
        ex.start(None, &creds).await,
        Err(SaslError::Temporary(_))
    ));

    // step after success
    let client = Client::new(ScramMechanism::Sha256, "user", "pencil", "cn");
    let mut ex = Exchange::new(Mechanism::ScramSha256, ChannelBinding::default());
    let run = scram_run(&mut ex, &client, &creds).await;
    assert!(matches!(run.result, Ok(Step::Success { .. })));
    assert!(matches!(
        ex.step(b"", &creds).await,
        Err(SaslError::Temporary(_))
    ));

    // step after failure: the exchange is over, even with a good message
    let (mut ex, sf) = to_final(&creds).await;
    assert!(ex.step(b"garbage", &creds).await.is_err());
    let (fin, _) = client.finish(sf.as_bytes());
    assert!(matches!(
        ex.step(&fin, &creds).await,
        Err(SaslError::Temporary(_))
    ));
}

#[tokio::test]
async fn abort_ends_the_exchange() {
    let creds = creds();
    let (mut ex, sf) = to_final(&creds).await;
    assert!(matches!(ex.abort(), SaslError::Aborted));
    let client = Client::new(ScramMechanism::Sha256, "user", "pencil", "cn");
    let (fin, _) = client.finish(sf.as_bytes());
    assert!(matches!(
        ex.step(&fin, &creds).await,
        Err(SaslError::Temporary(_))
    ));
    assert_eq!(
        SaslError::Aborted.to_string(),
        "authentication aborted by client"
    );
}

#[tokio::test]
async fn empty_initial_response_is_malformed() {
    let creds = creds();
    let mut ex = Exchange::new(Mechanism::ScramSha1, ChannelBinding::default());
    assert!(matches!(
        ex.start(Some(b""), &creds).await,
        Err(SaslError::Malformed(_))
    ));
}
