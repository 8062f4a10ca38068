//! Property tests: whatever a client sends, an exchange answers without
//! panicking, never succeeds by accident, and stays finished once finished.

use ipc::store::ScramMechanism;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

use crate::sasl::{ChannelBinding, Exchange, Mechanism, SaslError, Step};

use super::MemCreds;

/// Bytes that look like SASL messages often enough to reach deep parser states.
fn response() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        vec(any::<u8>(), 0..300),
        "[nyp=a,rcsimv2C3D\\-tlsexporter0-9A-Za-z+/\\x00]{0,120}".prop_map(String::into_bytes),
        "(n|y|p=tls-exporter|p=tls-server-end-point),(a=user)?,n=user,r=[a-z]{1,8}(,[a-z]=[a-z]{1,3})?"
            .prop_map(String::into_bytes),
        "c=[a-zA-Z0-9+/=]{0,60},r=[a-zA-Z0-9+/]{0,40},p=[a-zA-Z0-9+/=]{0,60}".prop_map(String::into_bytes),
    ]
}

fn cb(available: bool) -> ChannelBinding {
    if available {
        ChannelBinding {
            tls_exporter: Some(vec![1; 32]),
            tls_server_end_point: Some(vec![2; 32]),
        }
    } else {
        ChannelBinding::default()
    }
}

async fn drive(
    mech: Mechanism,
    cb: ChannelBinding,
    initial: Option<Vec<u8>>,
    responses: Vec<Vec<u8>>,
) {
    // One iteration keeps the cases fast; the count plays no part here.
    let creds = MemCreds::new()
        .user_with_salt("user", "acct", "pencil", ScramMechanism::Sha1, b"salt", 1)
        .user_with_salt("user", "acct", "pencil", ScramMechanism::Sha256, b"salt", 1);
    let mut ex = Exchange::new(mech, cb);
    let mut result = ex.start(initial.as_deref(), &creds).await;
    for r in &responses {
        let finished = !matches!(result, Ok(Step::Challenge(_)));
        let next = ex.step(r, &creds).await;
        if finished {
            assert!(matches!(next, Err(SaslError::Temporary(_))), "{next:?}");
        }
        result = next;
        assert!(!matches!(result, Ok(Step::Success { .. })), "{responses:?}");
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_responses_never_panic(
        mech in 0..Mechanism::ALL.len(),
        cb_available in any::<bool>(),
        initial in option::of(response()),
        responses in vec(response(), 0..4),
    ) {
        runtime().block_on(drive(Mechanism::ALL[mech], cb(cb_available), initial, responses));
    }

    /// A valid client-first message followed by random client-final ones.
    #[test]
    fn random_client_final_never_panics(
        plus in any::<bool>(),
        sha256 in any::<bool>(),
        finals in vec(response(), 1..3),
    ) {
        let (mech, first): (Mechanism, &[u8]) = match (plus, sha256) {
            (true, true) => (Mechanism::ScramSha256Plus, b"p=tls-exporter,,n=user,r=abc"),
            (true, false) => (Mechanism::ScramSha1Plus, b"p=tls-server-end-point,,n=user,r=abc"),
            (false, true) => (Mechanism::ScramSha256, b"n,,n=user,r=abc"),
            (false, false) => (Mechanism::ScramSha1, b"n,,n=nobody,r=abc"),
        };
        runtime().block_on(drive(mech, cb(plus), Some(first.to_vec()), finals));
    }
}

/// The exchange future is Send when the credentials are Sync, so callers can
/// spawn it on a multi-threaded runtime.
#[test]
fn exchange_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let creds = MemCreds::new();
    let mut ex = Exchange::new(Mechanism::ScramSha256, ChannelBinding::default());
    let fut = ex.start(None, &creds);
    assert_send(&fut);
    drop(fut);
    let fut = ex.step(b"", &creds);
    assert_send(&fut);
}
