//! The SCRAM message parsers on their own (RFC 5802 §7).

use crate::sasl::SaslError;
use crate::sasl::scram::message::{
    CbindFlag, decode_saslname, parse_client_final, parse_client_first,
};

#[test]
fn saslname_escapes() {
    assert_eq!(decode_saslname("user").unwrap(), "user");
    assert_eq!(decode_saslname("a=2Cb=3Dc").unwrap(), "a,b=c");
    assert_eq!(decode_saslname("=2c=3d").unwrap(), ",=");
    assert_eq!(decode_saslname("jöran").unwrap(), "jöran");
    for bad in ["", "=", "=2", "=41", "a=3", "=3Dx=", "=2\u{e9}", "a\0b"] {
        assert!(
            matches!(decode_saslname(bad), Err(SaslError::Malformed(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn client_first_fields() {
    let f = parse_client_first(b"p=tls-exporter,a=us=2Cer,n=us=2Cer,r=abc,x=1").unwrap();
    assert_eq!(f.gs2_header, "p=tls-exporter,a=us=2Cer,");
    assert_eq!(f.cbind, CbindFlag::Required("tls-exporter"));
    assert_eq!(f.authzid.as_deref(), Some("us,er"));
    assert_eq!(f.bare, "n=us=2Cer,r=abc,x=1");
    assert_eq!(f.username, "us,er");
    assert_eq!(f.client_nonce, "abc");

    let f = parse_client_first(b"y,,n=u,r=%$").unwrap();
    assert_eq!(
        (f.gs2_header, f.cbind, f.authzid),
        ("y,,", CbindFlag::ServerLacks, None)
    );
    let f = parse_client_first(b"n,,n=u,r=x").unwrap();
    assert_eq!(f.cbind, CbindFlag::NotSupported);
    assert!(parse_client_first(b"p=,,n=u,r=x").is_err());
    assert!(parse_client_first(b"p=tls_unique,,n=u,r=x").is_err());
}

#[test]
fn client_final_fields() {
    let f = parse_client_final(b"c=biws,r=abc,x=1,p=cHJvb2Y=").unwrap();
    assert_eq!(f.without_proof, "c=biws,r=abc,x=1");
    assert_eq!(f.channel_binding, "biws");
    assert_eq!(f.nonce, "abc");
    assert_eq!(f.proof, "cHJvb2Y=");
    assert!(parse_client_final(b"c=biws,r=abc").is_err());
    assert!(parse_client_final(b"c=biws,p=xx").is_err());
    assert!(parse_client_final(b"c=biws,r=abc,p=xx,").is_err());
}
