//! LOGIN (draft-murchison-sasl-login).

use crate::sasl::{ChannelBinding, Exchange, Mechanism, SaslError, Step};

use super::MemCreds;

fn creds() -> MemCreds {
    MemCreds::new().user("mjl@example.org", "mjl", "pencil")
}

fn exchange() -> Exchange {
    Exchange::new(Mechanism::Login, ChannelBinding::default())
}

#[tokio::test]
async fn prompts_and_success() {
    let creds = creds();
    let mut ex = exchange();
    assert_eq!(
        ex.start(None, &creds).await.unwrap(),
        Step::Challenge(b"Username:".to_vec())
    );
    assert_eq!(
        ex.step(b"mjl@example.org", &creds).await.unwrap(),
        Step::Challenge(b"Password:".to_vec())
    );
    assert!(creds.lookups().is_empty(), "no lookup before the password");
    assert_eq!(
        ex.step(b"pencil", &creds).await.unwrap(),
        Step::Success {
            account: "mjl".into(),
            server_final: None
        }
    );
    assert_eq!(creds.lookups(), ["mjl@example.org"]);
    assert!(matches!(
        ex.step(b"pencil", &creds).await,
        Err(SaslError::Temporary(_))
    ));
}

#[tokio::test]
async fn initial_response_is_the_user_name() {
    let creds = creds();
    let mut ex = exchange();
    assert_eq!(
        ex.start(Some(b"mjl@example.org"), &creds).await.unwrap(),
        Step::Challenge(b"Password:".to_vec())
    );
    assert!(
        matches!(ex.step(b"pencil", &creds).await, Ok(Step::Success { account, .. }) if account == "mjl")
    );
}

#[tokio::test]
async fn wrong_password_and_unknown_user_fail_alike() {
    let creds = creds();
    let mut results = Vec::new();
    for user in [&b"mjl@example.org"[..], b"nobody@example.org"] {
        let mut ex = exchange();
        ex.start(Some(user), &creds).await.unwrap();
        results.push(ex.step(b"wrong", &creds).await.unwrap_err());
    }
    assert!(results.iter().all(|e| matches!(e, SaslError::Failed)));
    assert_eq!(results[0].to_string(), results[1].to_string());
}

#[tokio::test]
async fn malformed_fields() {
    let creds = creds();
    let long = vec![b'u'; 1025];
    for user in [&b""[..], b"a\0b", b"\xff", &long] {
        let r = exchange().start(Some(user), &creds).await;
        assert!(matches!(r, Err(SaslError::Malformed(_))), "{user:?}: {r:?}");
    }
    for password in [&b""[..], b"pen\0cil", b"\xc3", &long] {
        let mut ex = exchange();
        ex.start(Some(b"mjl@example.org"), &creds).await.unwrap();
        let r = ex.step(password, &creds).await;
        assert!(
            matches!(r, Err(SaslError::Malformed(_))),
            "{password:?}: {r:?}"
        );
    }
    assert!(creds.lookups().is_empty());
}

#[tokio::test]
async fn star_is_an_ordinary_response() {
    // The caller maps the "*" line to abort(); decoded bytes "*" are data.
    let creds = creds();
    let mut ex = exchange();
    ex.start(None, &creds).await.unwrap();
    assert_eq!(
        ex.step(b"*", &creds).await.unwrap(),
        Step::Challenge(b"Password:".to_vec())
    );
    assert!(matches!(ex.abort(), SaslError::Aborted));
    assert!(matches!(
        ex.step(b"pencil", &creds).await,
        Err(SaslError::Temporary(_))
    ));
}
