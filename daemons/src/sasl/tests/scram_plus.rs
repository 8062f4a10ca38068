//! SCRAM channel binding (RFC 5802 §6, RFC 5929 §4, RFC 9266) and the
//! downgrade check on the `y` flag.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ipc::store::ScramMechanism;

use super::scram_client::Client;
use super::{MemCreds, scram_run, scram_success};
use crate::sasl::{ChannelBinding, Exchange, Mechanism, SaslError, Step};

const EXPORTER: [u8; 32] = [7; 32];
const END_POINT: [u8; 32] = [9; 32];

fn tls() -> ChannelBinding {
    ChannelBinding {
        tls_exporter: Some(EXPORTER.to_vec()),
        tls_server_end_point: Some(END_POINT.to_vec()),
    }
}

fn creds() -> MemCreds {
    MemCreds::new().user("user", "acct", "pencil")
}

fn client(mech: ScramMechanism) -> Client {
    Client::new(mech, "user", "pencil", "nonce0123456789")
}

#[tokio::test]
async fn plus_with_matching_tls_exporter() {
    for (mech, sm) in [
        (Mechanism::ScramSha256Plus, ScramMechanism::Sha256),
        (Mechanism::ScramSha1Plus, ScramMechanism::Sha1),
    ] {
        let c = client(sm).binding("p=tls-exporter,,", &EXPORTER);
        let run = scram_run(&mut Exchange::new(mech, tls()), &c, &creds()).await;
        assert_eq!(
            run.result.unwrap(),
            scram_success("acct", &run.expected_final)
        );
    }
}

#[tokio::test]
async fn plus_with_matching_tls_server_end_point() {
    let c = client(ScramMechanism::Sha256).binding("p=tls-server-end-point,,", &END_POINT);
    let run = scram_run(
        &mut Exchange::new(Mechanism::ScramSha256Plus, tls()),
        &c,
        &creds(),
    )
    .await;
    assert_eq!(
        run.result.unwrap(),
        scram_success("acct", &run.expected_final)
    );
}

#[tokio::test]
async fn plus_with_authzid_in_gs2_header() {
    let c = client(ScramMechanism::Sha256).binding("p=tls-exporter,a=user,", &EXPORTER);
    let run = scram_run(
        &mut Exchange::new(Mechanism::ScramSha256Plus, tls()),
        &c,
        &creds(),
    )
    .await;
    assert_eq!(
        run.result.unwrap(),
        scram_success("acct", &run.expected_final)
    );
}

#[tokio::test]
async fn plus_with_mismatching_tls_exporter() {
    // The client sees other keying material: a man in the middle.
    let c = client(ScramMechanism::Sha256).binding("p=tls-exporter,,", &[8; 32]);
    let run = scram_run(
        &mut Exchange::new(Mechanism::ScramSha256Plus, tls()),
        &c,
        &creds(),
    )
    .await;
    assert!(
        matches!(run.result, Err(SaslError::ChannelBinding)),
        "{:?}",
        run.result
    );
}

#[tokio::test]
async fn plus_with_other_type_data_fails() {
    // Right type name, but the data of the other type.
    let c = client(ScramMechanism::Sha256).binding("p=tls-exporter,,", &END_POINT);
    let run = scram_run(
        &mut Exchange::new(Mechanism::ScramSha256Plus, tls()),
        &c,
        &creds(),
    )
    .await;
    assert!(matches!(run.result, Err(SaslError::ChannelBinding)));
}

/// The client-first message fails with ChannelBinding.
async fn first_fails(mech: Mechanism, cb: ChannelBinding, first: &[u8]) {
    let creds = creds();
    let mut ex = Exchange::new(mech, cb);
    let r = ex.start(Some(first), &creds).await;
    assert!(
        matches!(r, Err(SaslError::ChannelBinding)),
        "{first:?}: {r:?}"
    );
    assert!(
        creds.lookups().is_empty(),
        "no store lookup before the binding check"
    );
}

#[tokio::test]
async fn plus_requires_p_flag_and_known_type() {
    let plus = Mechanism::ScramSha256Plus;
    first_fails(plus, tls(), b"n,,n=user,r=abc").await;
    first_fails(plus, tls(), b"y,,n=user,r=abc").await;
    first_fails(plus, tls(), b"p=tls-unique,,n=user,r=abc").await;
    let only_exporter = ChannelBinding {
        tls_exporter: Some(EXPORTER.to_vec()),
        tls_server_end_point: None,
    };
    first_fails(plus, only_exporter, b"p=tls-server-end-point,,n=user,r=abc").await;
}

#[tokio::test]
async fn plus_without_tls_data_fails_at_start() {
    let creds = creds();
    for initial in [None, Some(&b"p=tls-exporter,,n=user,r=abc"[..])] {
        let mut ex = Exchange::new(Mechanism::ScramSha1Plus, ChannelBinding::default());
        let r = ex.start(initial, &creds).await;
        assert!(matches!(r, Err(SaslError::ChannelBinding)), "{r:?}");
    }
}

#[tokio::test]
async fn p_flag_with_non_plus_mechanism_fails() {
    first_fails(
        Mechanism::ScramSha256,
        tls(),
        b"p=tls-exporter,,n=user,r=abc",
    )
    .await;
}

/// RFC 5802 §6: "y" while the server supports channel binding means the
/// -PLUS mechanisms were stripped from the list the client saw.
#[tokio::test]
async fn downgrade_y_flag_rejected_when_binding_available() {
    first_fails(Mechanism::ScramSha256, tls(), b"y,,n=user,r=abc").await;
    first_fails(Mechanism::ScramSha1, tls(), b"y,,n=user,r=abc").await;
}

#[tokio::test]
async fn y_flag_accepted_without_binding() {
    let c = client(ScramMechanism::Sha256).binding("y,,", b"");
    let mut ex = Exchange::new(Mechanism::ScramSha256, ChannelBinding::default());
    let run = scram_run(&mut ex, &c, &creds()).await;
    assert_eq!(
        run.result.unwrap(),
        scram_success("acct", &run.expected_final)
    );
}

#[tokio::test]
async fn n_flag_accepted_with_binding_available() {
    // A client without channel-binding support may use the plain mechanism.
    let c = client(ScramMechanism::Sha256);
    let run = scram_run(
        &mut Exchange::new(Mechanism::ScramSha256, tls()),
        &c,
        &creds(),
    )
    .await;
    assert_eq!(
        run.result.unwrap(),
        scram_success("acct", &run.expected_final)
    );
}

#[tokio::test]
async fn c_attribute_must_repeat_gs2_header() {
    // The client sent "y,," but claims "n,," (biws) in the final message.
    let creds = creds();
    let mut ex =
        Exchange::with_server_nonce(Mechanism::ScramSha256, ChannelBinding::default(), "SN");
    let Step::Challenge(sf) = ex.start(Some(b"y,,n=user,r=abc"), &creds).await.unwrap() else {
        panic!("expected server-first");
    };
    assert!(sf.starts_with(b"r=abcSN,"));
    let fin = format!(
        "c={},r=abcSN,p={}",
        BASE64.encode("n,,"),
        BASE64.encode([0u8; 32])
    );
    let r = ex.step(fin.as_bytes(), &creds).await;
    assert!(matches!(r, Err(SaslError::ChannelBinding)), "{r:?}");
}
