//! PLAIN (RFC 4616).

use crate::sasl::{ChannelBinding, Exchange, Mechanism, SaslError, Step};

use super::MemCreds;

fn creds() -> MemCreds {
    MemCreds::new().user("mjl@example.org", "mjl", "pencil")
}

fn success(account: &str) -> Step {
    Step::Success {
        account: account.to_owned(),
        server_final: None,
    }
}

async fn plain(initial: &[u8], creds: &MemCreds) -> Result<Step, SaslError> {
    Exchange::new(Mechanism::Plain, ChannelBinding::default())
        .start(Some(initial), creds)
        .await
}

#[tokio::test]
async fn right_password() {
    let creds = creds();
    assert_eq!(
        plain(b"\0mjl@example.org\0pencil", &creds).await.unwrap(),
        success("mjl")
    );
    // authzid equal to authcid is allowed.
    assert_eq!(
        plain(b"mjl@example.org\0mjl@example.org\0pencil", &creds)
            .await
            .unwrap(),
        success("mjl")
    );
    assert_eq!(creds.lookups(), ["mjl@example.org", "mjl@example.org"]);
}

#[tokio::test]
async fn without_initial_response() {
    let creds = creds();
    let mut ex = Exchange::new(Mechanism::Plain, ChannelBinding::default());
    assert_eq!(
        ex.start(None, &creds).await.unwrap(),
        Step::Challenge(Vec::new())
    );
    assert_eq!(
        ex.step(b"\0mjl@example.org\0pencil", &creds).await.unwrap(),
        success("mjl")
    );
    assert!(matches!(
        ex.step(b"\0mjl@example.org\0pencil", &creds).await,
        Err(SaslError::Temporary(_))
    ));
}

#[tokio::test]
async fn wrong_password_and_unknown_user_fail_alike() {
    let creds = creds();
    let wrong = plain(b"\0mjl@example.org\0pencil2", &creds)
        .await
        .unwrap_err();
    let unknown = plain(b"\0nobody@example.org\0pencil", &creds)
        .await
        .unwrap_err();
    assert!(matches!(wrong, SaslError::Failed));
    assert!(matches!(unknown, SaslError::Failed));
    assert_eq!(wrong.to_string(), unknown.to_string());
}

#[tokio::test]
async fn authzid_mismatch_fails() {
    let creds = creds();
    let r = plain(b"admin@example.org\0mjl@example.org\0pencil", &creds).await;
    assert!(matches!(r, Err(SaslError::Failed)), "{r:?}");
    assert!(
        creds.lookups().is_empty(),
        "refused before asking the store"
    );
}

#[tokio::test]
async fn malformed() {
    let creds = creds();
    let long = format!("\0{}\0pencil", "u".repeat(1025));
    let long_pw = format!("\0mjl@example.org\0{}", "p".repeat(1025));
    let cases: [&[u8]; 10] = [
        b"",
        b"mjl@example.org pencil",
        b"\0mjl@example.org",
        b"\0mjl@example.org\0pencil\0",
        b"\0\0pencil",
        b"\0mjl@example.org\0",
        b"\0mj\xffl@example.org\0pencil",
        b"\0mjl@example.org\0pen\xc3",
        long.as_bytes(),
        long_pw.as_bytes(),
    ];
    for c in cases {
        let r = plain(c, &creds).await;
        assert!(matches!(r, Err(SaslError::Malformed(_))), "{c:?}: {r:?}");
    }
    assert!(creds.lookups().is_empty());
    // 1024 bytes is still fine (and wrong).
    let edge = format!("\0mjl@example.org\0{}", "p".repeat(1024));
    assert!(matches!(
        plain(edge.as_bytes(), &creds).await,
        Err(SaslError::Failed)
    ));
}

#[tokio::test]
async fn store_errors_pass_through() {
    let creds = creds().broken("store busy");
    let r = plain(b"\0mjl@example.org\0pencil", &creds).await;
    assert!(
        matches!(r, Err(SaslError::Temporary(ref m)) if m == "store busy"),
        "{r:?}"
    );
}
