//! Whole-message evaluation against a test DNS server: DMARC alignment
//! (strict and relaxed, RFC 7489 §3.1), subdomain policy (sp=), pct=
//! sampling, quarantine and reject, DKIM pass/fail of signed and tampered
//! messages, iprev, DNSBLs, the null reverse-path, and the header text.

mod common;

use common::{TestDns, a, ptr, txt};
use mail_auth::common::crypto::Ed25519Key;
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::DkimSigner;
use mail_parser::decoders::base64::base64_decode;
use policy::auth::{
    AuthConfig, Authenticator, Disposition, DkimResult, DmarcPolicy, DmarcResult, DnsblStatus,
    Evaluation, Input, IprevResult, SpfResult,
};

const IP: &str = "192.0.2.10";
const HOST: &str = "mx.moxd.test";
const ED_SEED: &str = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";
const ED_PUBLIC: &str = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

fn zone() -> TestDns {
    let spf = "v=spf1 ip4:192.0.2.0/24 -all";
    let key = format!("v=DKIM1; k=ed25519; p={ED_PUBLIC}");
    let mut r = vec![
        txt("_dmarc.strict.test", "v=DMARC1; p=reject; adkim=s; aspf=s"),
        txt("strict.test", spf),
        txt("bounce.strict.test", spf),
        txt(
            "_dmarc.relaxed.test",
            "v=DMARC1; p=reject; rua=mailto:dmarc@relaxed.test",
        ),
        txt("relaxed.test", spf),
        txt("bounce.relaxed.test", spf),
        txt("_dmarc.sp.test", "v=DMARC1; p=none; sp=reject"),
        a("child.sp.test", "192.0.2.99"),
        txt("_dmarc.q.test", "v=DMARC1; p=quarantine"),
        txt("_dmarc.pct.test", "v=DMARC1; p=reject; pct=50"),
        txt("other.test", spf),
        txt("mail.other.test", "v=spf1 a -all"),
        a("mail.other.test", IP),
        ptr(IP, "mail.other.test"),
        a("10.2.0.192.bl.test", "127.0.0.2"),
        txt("10.2.0.192.bl.test", "listed for testing"),
    ];
    for d in [
        "strict.test",
        "sub.strict.test",
        "relaxed.test",
        "sub.relaxed.test",
    ] {
        r.push(txt(&format!("sel._domainkey.{d}"), &key));
    }
    TestDns::start(r)
}

fn message(from_domain: &str, body: &str) -> String {
    format!(
        "From: Alice <alice@{from_domain}>\r\nTo: bob@moxd.test\r\nSubject: test\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\nMessage-ID: <1@{from_domain}>\r\n\r\n{body}"
    )
}

fn signed(from_domain: &str, d: &str, body: &str) -> String {
    let key = Ed25519Key::from_seed_and_public_key(
        &base64_decode(ED_SEED.as_bytes()).expect("seed"),
        &base64_decode(ED_PUBLIC.as_bytes()).expect("public"),
    )
    .expect("key");
    let msg = message(from_domain, body);
    let sig = DkimSigner::from_key(key)
        .domain(d)
        .selector("sel")
        .headers(["From", "To", "Subject", "Date"])
        .sign(msg.as_bytes())
        .expect("sign");
    format!("{}{msg}", sig.to_header())
}

async fn eval(auth: &Authenticator, mail_from: &str, msg: &str, sample: u8) -> Evaluation {
    let input = Input {
        remote_ip: IP.parse().expect("ip"),
        helo: "mail.other.test",
        mail_from,
        message: msg.as_bytes(),
    };
    auth.evaluate_sampled(&input, sample).await
}

fn is_reject(d: &Disposition) -> bool {
    matches!(d, Disposition::Reject { .. })
}

fn is_quarantine(d: &Disposition) -> bool {
    matches!(d, Disposition::Quarantine { .. })
}

#[tokio::test]
async fn dmarc_table() {
    let dns = zone();
    let auth = Authenticator::new(HOST, Some(dns.addr), AuthConfig::default()).expect("auth");
    let body = "Hello.\r\n";
    struct Case {
        what: &'static str,
        mail_from: &'static str,
        msg: String,
        sample: u8,
        want: DmarcResult,
        disposition: fn(&Disposition) -> bool,
    }
    let accept: fn(&Disposition) -> bool = |d| *d == Disposition::Accept;
    let cases = vec![
        Case {
            what: "strict: SPF of the From domain itself",
            mail_from: "x@strict.test",
            msg: message("strict.test", body),
            sample: 0,
            want: DmarcResult::Pass,
            disposition: accept,
        },
        Case {
            what: "strict: SPF of a subdomain does not align",
            mail_from: "x@bounce.strict.test",
            msg: message("strict.test", body),
            sample: 0,
            want: DmarcResult::Fail,
            disposition: is_reject,
        },
        Case {
            what: "strict: DKIM of a subdomain does not align",
            mail_from: "x@other.test",
            msg: signed("strict.test", "sub.strict.test", body),
            sample: 0,
            want: DmarcResult::Fail,
            disposition: is_reject,
        },
        Case {
            what: "strict: DKIM of the From domain aligns",
            mail_from: "x@other.test",
            msg: signed("strict.test", "strict.test", body),
            sample: 0,
            want: DmarcResult::Pass,
            disposition: accept,
        },
        Case {
            what: "relaxed: SPF of a subdomain aligns",
            mail_from: "x@bounce.relaxed.test",
            msg: message("relaxed.test", body),
            sample: 0,
            want: DmarcResult::Pass,
            disposition: accept,
        },
        Case {
            what: "relaxed: DKIM of a subdomain aligns",
            mail_from: "x@other.test",
            msg: signed("relaxed.test", "sub.relaxed.test", body),
            sample: 0,
            want: DmarcResult::Pass,
            disposition: accept,
        },
        Case {
            what: "relaxed: nothing aligned",
            mail_from: "x@other.test",
            msg: message("relaxed.test", body),
            sample: 0,
            want: DmarcResult::Fail,
            disposition: is_reject,
        },
        Case {
            what: "relaxed: a tampered signature does not count",
            mail_from: "x@other.test",
            msg: signed("relaxed.test", "relaxed.test", body).replace("Hello.", "Hullo."),
            sample: 0,
            want: DmarcResult::Fail,
            disposition: is_reject,
        },
        Case {
            what: "sp=reject for an existing subdomain",
            mail_from: "x@other.test",
            msg: message("child.sp.test", body),
            sample: 0,
            want: DmarcResult::Fail,
            disposition: is_reject,
        },
        Case {
            what: "p=none for the organizational domain",
            mail_from: "x@other.test",
            msg: message("sp.test", body),
            sample: 0,
            want: DmarcResult::Fail,
            disposition: accept,
        },
        Case {
            what: "p=quarantine",
            mail_from: "x@other.test",
            msg: message("q.test", body),
            sample: 0,
            want: DmarcResult::Fail,
            disposition: is_quarantine,
        },
        Case {
            what: "pct=50, sampled",
            mail_from: "x@other.test",
            msg: message("pct.test", body),
            sample: 10,
            want: DmarcResult::Fail,
            disposition: is_reject,
        },
        Case {
            what: "pct=50, not sampled: one step weaker",
            mail_from: "x@other.test",
            msg: message("pct.test", body),
            sample: 90,
            want: DmarcResult::Fail,
            disposition: is_quarantine,
        },
        Case {
            what: "no DMARC record",
            mail_from: "x@other.test",
            msg: message("none.test", body),
            sample: 0,
            want: DmarcResult::None,
            disposition: accept,
        },
    ];
    let mut failures = Vec::new();
    for c in &cases {
        let e = eval(&auth, c.mail_from, &c.msg, c.sample).await;
        let got = e.dmarc.as_ref().map(|d| d.result);
        if got != Some(c.want) || !(c.disposition)(&e.disposition) {
            failures.push(format!(
                "{}: dmarc {got:?} (want {:?}), disposition {:?}, dkim {:?}",
                c.what, c.want, e.disposition, e.dkim
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "DMARC cases failed:\n{}",
        failures.join("\n")
    );
}

#[tokio::test]
async fn results_and_headers() {
    let dns = zone();
    let auth = Authenticator::new(HOST, Some(dns.addr), AuthConfig::default()).expect("auth");

    // Aligned DKIM plus SPF for a relaxed-policy domain.
    let msg = signed("relaxed.test", "sub.relaxed.test", "Hello.\r\n");
    let e = eval(&auth, "bounce@bounce.relaxed.test", &msg, 0).await;
    assert_eq!(e.iprev.as_ref().map(|i| i.result), Some(IprevResult::Pass));
    assert_eq!(
        e.iprev.as_ref().map(|i| i.names.clone()),
        Some(vec!["mail.other.test".to_string()])
    );
    assert_eq!(
        e.spf_mailfrom.as_ref().map(|s| s.result),
        Some(SpfResult::Pass)
    );
    assert_eq!(e.spf_helo.as_ref().map(|s| s.result), Some(SpfResult::Pass));
    assert_eq!(e.dkim.len(), 1);
    assert_eq!(e.dkim[0].result, DkimResult::Pass);
    assert_eq!(e.dkim[0].domain, "sub.relaxed.test");
    assert_eq!(e.dkim[0].algorithm, "ed25519-sha256");
    let d = e.dmarc.clone().expect("dmarc");
    assert!(d.spf_aligned && d.dkim_aligned, "{d:?}");
    assert_eq!(d.policy, DmarcPolicy::Reject);
    assert_eq!(d.applied, DmarcPolicy::None);
    assert_eq!(d.rua, vec!["dmarc@relaxed.test".to_string()]);
    let h = auth.headers(&e);
    // A b= prefix with "/" is no RFC 2045 token: it is quoted.
    let b = &e.dkim[0].b;
    let b = if b.contains('/') {
        format!("\"{b}\"")
    } else {
        b.clone()
    };
    let ar = format!(
        "Authentication-Results: mx.moxd.test;\r\n\tiprev=pass policy.iprev=192.0.2.10;\r\n\tspf=pass smtp.mailfrom=bounce@bounce.relaxed.test;\r\n\tspf=pass smtp.helo=mail.other.test;\r\n\tdkim=pass header.d=sub.relaxed.test header.s=sel header.a=ed25519-sha256\r\n\theader.b={b};\r\n\tdmarc=pass (p=reject dis=none) header.from=relaxed.test\r\n"
    );
    assert!(h.starts_with(&ar), "got:\n{h}\nwant:\n{ar}");
    let spf = "Received-SPF: pass (mx.moxd.test: domain of bounce@bounce.relaxed.test\r\n\tdesignates 192.0.2.10 as permitted sender) client-ip=192.0.2.10;\r\n\tenvelope-from=\"bounce@bounce.relaxed.test\"; helo=mail.other.test;\r\n\tidentity=mailfrom; receiver=mx.moxd.test;\r\n";
    assert!(h.ends_with(spf), "got:\n{h}");
    assert!(h.split("\r\n").all(|l| l.len() <= 78), "{h}");

    // A tampered message: the body hash does not verify.
    let e = eval(&auth, "x@other.test", &msg.replace("Hello.", "Hullo."), 0).await;
    assert_eq!(e.dkim[0].result, DkimResult::Fail);
    assert_eq!(
        e.dkim[0].reason.as_deref(),
        Some("body hash did not verify")
    );
    let h = auth.headers(&e);
    assert!(
        h.contains("dkim=fail reason=\"body hash did not verify\" header.d=sub.relaxed.test"),
        "{h}"
    );
    assert!(
        h.contains("dmarc=fail (p=reject dis=reject) header.from=relaxed.test"),
        "{h}"
    );
    match &e.disposition {
        Disposition::Reject { reason } => assert!(reason.contains("relaxed.test"), "{reason}"),
        other => panic!("want reject, got {other:?}"),
    }

    // The null reverse-path: SPF of the HELO name stands in (RFC 7208 §2.4).
    let e = eval(&auth, "", &message("mail.other.test", "Bounce.\r\n"), 0).await;
    assert!(e.spf_mailfrom.is_none());
    assert_eq!(e.spf().map(|s| s.result), Some(SpfResult::Pass));
    let h = auth.headers(&e);
    assert!(
        h.contains("Received-SPF: pass (mx.moxd.test: domain of postmaster@mail.other.test"),
        "{h}"
    );
    assert!(h.contains("identity=helo;"), "{h}");
    assert!(h.contains("envelope-from=\"\";"), "{h}");

    // SPF fail from another address; iprev fails without a PTR.
    let text = message("strict.test", "x\r\n");
    let input = Input {
        remote_ip: "198.51.100.7".parse().expect("ip"),
        helo: "[198.51.100.7]",
        mail_from: "x@strict.test",
        message: text.as_bytes(),
    };
    let e = auth.evaluate_sampled(&input, 0).await;
    assert!(e.spf_helo.is_none(), "an address literal has no SPF");
    assert_eq!(
        e.spf_mailfrom.as_ref().map(|s| s.result),
        Some(SpfResult::Fail)
    );
    assert_ne!(e.iprev.as_ref().map(|i| i.result), Some(IprevResult::Pass));
    assert!(is_reject(&e.disposition));
    let h = auth.headers(&e);
    assert!(h.contains("Received-SPF: fail (mx.moxd.test: domain of x@strict.test does not designate\r\n\t198.51.100.7"), "{h}");
}

#[tokio::test]
async fn dnsbl_listing_quarantines() {
    let dns = zone();
    let cfg = AuthConfig {
        dnsbls: vec!["bl.test".into()],
        ..AuthConfig::default()
    };
    let auth = Authenticator::new(HOST, Some(dns.addr), cfg).expect("auth");
    let e = eval(&auth, "x@strict.test", &message("strict.test", "x\r\n"), 0).await;
    assert_eq!(e.dnsbl.len(), 1);
    assert_eq!(e.dnsbl[0].status, DnsblStatus::Listed);
    assert_eq!(e.dnsbl[0].text.as_deref(), Some("listed for testing"));
    match &e.disposition {
        Disposition::Quarantine { reason } => assert!(reason.contains("bl.test"), "{reason}"),
        other => panic!("want quarantine, got {other:?}"),
    }
    let text = message("strict.test", "x\r\n");
    let input = Input {
        remote_ip: "192.0.2.11".parse().expect("ip"),
        helo: "mail.other.test",
        mail_from: "x@strict.test",
        message: text.as_bytes(),
    };
    let e = auth.evaluate_sampled(&input, 0).await;
    assert_eq!(e.dnsbl[0].status, DnsblStatus::Pass);
    assert_eq!(e.disposition, Disposition::Accept);
}

#[tokio::test]
async fn answers_come_from_the_cache_once_looked_up() {
    let dns = zone();
    let auth = Authenticator::new(HOST, Some(dns.addr), AuthConfig::default()).expect("auth");
    let msg = signed("relaxed.test", "relaxed.test", "Hello.\r\n");
    let first = eval(&auth, "x@bounce.relaxed.test", &msg, 0).await;
    // With the server gone, every answer must come from the caches.
    drop(dns);
    let second = eval(&auth, "x@bounce.relaxed.test", &msg, 0).await;
    assert_eq!(first, second);
    assert_eq!(second.dkim[0].result, DkimResult::Pass);
    assert_eq!(second.dmarc.map(|d| d.result), Some(DmarcResult::Pass));
    assert_eq!(second.iprev.map(|i| i.result), Some(IprevResult::Pass));
}
