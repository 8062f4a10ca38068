//! CRAM-MD5 (RFC 2195): disabled in exchanges, format helpers tested.

use crate::sasl::{ChannelBinding, Exchange, Mechanism, SaslError, cram_md5};

use super::MemCreds;

#[tokio::test]
async fn exchange_is_not_enabled() {
    let creds = MemCreds::new().user("tim", "tim", "tanstaaftanstaaf");
    for initial in [None, Some(&b"tim b913a602c7eda7a495b4e6e7334d3890"[..])] {
        let mut ex = Exchange::new(Mechanism::CramMd5, ChannelBinding::default());
        let e = ex.start(initial, &creds).await.unwrap_err();
        assert!(matches!(e, SaslError::Temporary(_)));
        assert_eq!(e.to_string(), "temporary failure: CRAM-MD5 is not enabled");
    }
    assert!(creds.lookups().is_empty());
}

#[test]
fn challenge_format() {
    let c = cram_md5::challenge("mail.example.org");
    let inner = c
        .strip_prefix('<')
        .and_then(|c| c.strip_suffix("@mail.example.org>"))
        .unwrap();
    let (random, time) = inner.split_once('.').unwrap();
    assert!(random.parse::<u64>().is_ok(), "{c}");
    assert!(time.parse::<u64>().unwrap() > 1_700_000_000, "{c}");
    assert_ne!(c, cram_md5::challenge("mail.example.org"));
}

/// RFC 2195 §2 example.
#[test]
fn rfc2195_example() {
    let challenge = b"<1896.697170952@postoffice.reston.mci.net>";
    let (user, digest) = cram_md5::parse_response(b"tim b913a602c7eda7a495b4e6e7334d3890").unwrap();
    assert_eq!(user, "tim");
    assert!(cram_md5::verify(b"tanstaaftanstaaf", challenge, &digest));
    assert!(!cram_md5::verify(b"tanstaaftanstaag", challenge, &digest));
    assert!(!cram_md5::verify(
        b"tanstaaftanstaaf",
        b"<1897.697170952@postoffice.reston.mci.net>",
        &digest
    ));
}

#[test]
fn malformed_responses() {
    for bad in [
        &b""[..],
        b"tim",
        b" b913a602c7eda7a495b4e6e7334d3890",
        b"tim b913a602c7eda7a495b4e6e7334d389",
        b"tim B913A602C7EDA7A495B4E6E7334D3890",
        b"tim b913a602c7eda7a495b4e6e7334d389g",
        b"t\xffm b913a602c7eda7a495b4e6e7334d3890",
    ] {
        assert!(
            matches!(cram_md5::parse_response(bad), Err(SaslError::Malformed(_))),
            "{bad:?}"
        );
    }
    let (user, _) =
        cram_md5::parse_response(b"tim smith 00000000000000000000000000000000").unwrap();
    assert_eq!(user, "tim smith");
}
