//! Messages signed by moxd's DKIM signer verify with mail-auth (through
//! moxd's own evaluation, keys published in a test DNS server): both
//! algorithms pass; a changed body, a changed signed field and an added
//! From field (oversigning) fail. Interop with dkimpy is in
//! tests/interop/t_dkim_dkimpy.sh.

mod common;

use std::time::Instant;

use common::{TestDns, txt};
use policy::auth::{AuthConfig, Authenticator, DkimResult, Input};
use policy::dkimsign::{Algorithm, DomainKey, Signers, SigningKey, keys, split_message};

const MSG: &str = "From: Alice <alice@sign.test>\r\nTo: bob@example.net\r\nSubject: signed\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\nMessage-ID: <s1@sign.test>\r\n\r\nHello,  world \r\n\r\nA line of only whitespace ends this body:\r\n \t \r\n";

#[tokio::test]
async fn signatures_verify_and_tampering_fails() {
    let t0 = Instant::now();
    let ed = keys::generate(Algorithm::Ed25519).expect("ed25519");
    let rsa = keys::generate(Algorithm::Rsa).expect("rsa");
    eprintln!("key generation took {:?}", t0.elapsed());
    let ed = SigningKey::from_pem(Algorithm::Ed25519, ed.as_bytes()).expect("load ed25519");
    let rsa = SigningKey::from_pem(Algorithm::Rsa, rsa.as_bytes()).expect("load rsa");
    let dns = TestDns::start(vec![
        txt("e._domainkey.sign.test", &ed.dns_record()),
        txt("r._domainkey.sign.test", &rsa.dns_record()),
    ]);
    let signers = Signers::new(vec![
        DomainKey {
            domain: "sign.test".into(),
            selector: "e".into(),
            key: ed,
        },
        DomainKey {
            domain: "sign.test".into(),
            selector: "r".into(),
            key: rsa,
        },
    ]);
    let (header, body) = split_message(MSG.as_bytes());
    let sigs = signers.sign(header, body, 1_764_150_000).expect("sign");
    assert_eq!(sigs.matches("DKIM-Signature:").count(), 2, "{sigs}");
    let signed = format!("{sigs}{MSG}");

    let auth = Authenticator::new("mx.test", Some(dns.addr), AuthConfig::default()).expect("auth");
    let check = |m: String| {
        let auth = &auth;
        async move {
            let input = Input {
                remote_ip: "192.0.2.1".parse().expect("ip"),
                helo: "client.test",
                mail_from: "",
                message: m.as_bytes(),
            };
            auth.evaluate_sampled(&input, 0)
                .await
                .dkim
                .iter()
                .map(|d| (d.selector.clone(), d.result))
                .collect::<Vec<_>>()
        }
    };
    let pass = vec![
        ("e".to_string(), DkimResult::Pass),
        ("r".to_string(), DkimResult::Pass),
    ];
    assert_eq!(check(signed.clone()).await, pass);
    // Folding and case of signed fields may change (relaxed).
    assert_eq!(
        check(signed.replace("Subject: signed", "SUBJECT:   signed")).await,
        pass
    );

    let fail = vec![
        ("e".to_string(), DkimResult::Fail),
        ("r".to_string(), DkimResult::Fail),
    ];
    assert_eq!(
        check(signed.replace("Hello,", "Hullo,")).await,
        fail,
        "body changed"
    );
    assert_eq!(
        check(signed.replace("Subject: signed", "Subject: signet")).await,
        fail,
        "subject changed"
    );
    let added_from = signed.replace("To: bob", "From: mallory@evil.test\r\nTo: bob");
    assert_eq!(
        check(added_from).await,
        fail,
        "a second From is caught by oversigning"
    );
}
