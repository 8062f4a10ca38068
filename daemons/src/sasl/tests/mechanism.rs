//! Mechanism names (RFC 4422 §3.1) and properties.

use crate::sasl::{ChannelBinding, MAX_ENCODED_RESPONSE_LEN, MAX_RESPONSE_LEN, Mechanism};

#[test]
fn names_round_trip() {
    let names: Vec<&str> = Mechanism::ALL.iter().map(|m| m.name()).collect();
    assert_eq!(
        names,
        [
            "SCRAM-SHA-256-PLUS",
            "SCRAM-SHA-256",
            "SCRAM-SHA-1-PLUS",
            "SCRAM-SHA-1",
            "CRAM-MD5",
            "PLAIN",
            "LOGIN"
        ]
    );
    for m in Mechanism::ALL {
        assert_eq!(Mechanism::from_name(m.name()), Some(m));
        assert_eq!(Mechanism::from_name(&m.name().to_lowercase()), Some(m));
    }
    assert_eq!(
        Mechanism::from_name("Scram-Sha-256-Plus"),
        Some(Mechanism::ScramSha256Plus)
    );
    for unknown in ["", "SCRAM-SHA-512", "PLAIN ", "EXTERNAL", "XOAUTH2"] {
        assert_eq!(Mechanism::from_name(unknown), None, "{unknown:?}");
    }
}

#[test]
fn channel_binding_need() {
    let plus: Vec<Mechanism> = Mechanism::ALL
        .into_iter()
        .filter(|m| m.needs_channel_binding())
        .collect();
    assert_eq!(plus, [Mechanism::ScramSha256Plus, Mechanism::ScramSha1Plus]);
    assert!(!ChannelBinding::default().is_available());
    let cb = ChannelBinding {
        tls_exporter: None,
        tls_server_end_point: Some(vec![1]),
    };
    assert!(cb.is_available());
}

#[test]
fn encoded_limit_covers_decoded_limit() {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(vec![0u8; MAX_RESPONSE_LEN]);
    assert_eq!(encoded.len(), MAX_ENCODED_RESPONSE_LEN);
}
