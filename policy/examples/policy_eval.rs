//! Time of one message authentication evaluation with a warm DNS cache:
//! SPF (MAIL FROM and HELO), DKIM (an Ed25519 and an RSA-2048 signature
//! over a 4 KiB message), DMARC, iprev and one DNSBL, against the test DNS
//! server of the policy tests. Prints the median and 90th percentile of
//! `EVALUATIONS` evaluations after one that fills the caches.
//! Run: bench/policy-eval.sh (release build).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{TestDns, a, ptr, txt};
use policy::auth::{AuthConfig, Authenticator, Disposition, DkimResult, DmarcResult, Input};
use policy::dkimsign::{Algorithm, DomainKey, Signers, SigningKey, keys, split_message};

/// Evaluations timed (after the warm-up).
const EVALUATIONS: usize = 2000;
/// Size of the message body.
const BODY_SIZE: usize = 4096;
const IP: &str = "192.0.2.10";

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}

async fn run() {
    let ed = SigningKey::from_pem(
        Algorithm::Ed25519,
        keys::generate(Algorithm::Ed25519).expect("key").as_bytes(),
    )
    .expect("ed25519");
    let rsa = SigningKey::from_pem(
        Algorithm::Rsa,
        keys::generate(Algorithm::Rsa).expect("key").as_bytes(),
    )
    .expect("rsa");
    let dns = TestDns::start(vec![
        txt("sender.test", "v=spf1 ip4:192.0.2.0/24 -all"),
        txt("mail.sender.test", "v=spf1 a -all"),
        a("mail.sender.test", IP),
        ptr(IP, "mail.sender.test"),
        txt("_dmarc.sender.test", "v=DMARC1; p=reject"),
        txt("e._domainkey.sender.test", &ed.dns_record()),
        txt("r._domainkey.sender.test", &rsa.dns_record()),
    ]);
    let signers = Signers::new(vec![
        DomainKey {
            domain: "sender.test".into(),
            selector: "e".into(),
            key: ed,
        },
        DomainKey {
            domain: "sender.test".into(),
            selector: "r".into(),
            key: rsa,
        },
    ]);
    let mut body = String::new();
    while body.len() < BODY_SIZE {
        body.push_str("The quick brown fox jumps over the lazy dog, again and again.\r\n");
    }
    let msg = format!(
        "From: Sender <someone@sender.test>\r\nTo: <bob@moxd.test>\r\nSubject: bench\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\nMessage-ID: <bench@sender.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n{body}"
    );
    let (h, b) = split_message(msg.as_bytes());
    let signed = format!("{}{msg}", signers.sign(h, b, 1_764_150_000).expect("sign"));
    let cfg = AuthConfig {
        dnsbls: vec!["bl.test".into()],
        ..AuthConfig::default()
    };
    let auth = Authenticator::new("mx.moxd.test", Some(dns.addr), cfg).expect("authenticator");
    let input = Input {
        remote_ip: IP.parse().expect("ip"),
        helo: "mail.sender.test",
        mail_from: "bounce@sender.test",
        message: signed.as_bytes(),
    };
    let first = auth.evaluate_sampled(&input, 0).await;
    assert!(
        first.dkim.iter().all(|d| d.result == DkimResult::Pass),
        "{first:?}"
    );
    assert_eq!(
        first.dmarc.as_ref().map(|d| d.result),
        Some(DmarcResult::Pass)
    );
    assert_eq!(first.disposition, Disposition::Accept);
    let mut times: Vec<Duration> = Vec::with_capacity(EVALUATIONS);
    let t0 = Instant::now();
    for _ in 0..EVALUATIONS {
        let t = Instant::now();
        let e = auth.evaluate_sampled(&input, 0).await;
        times.push(t.elapsed());
        assert_eq!(e.disposition, Disposition::Accept);
    }
    let total = t0.elapsed();
    times.sort();
    let pct = |p: usize| times[(times.len() * p / 100).min(times.len() - 1)];
    println!(
        "policy evaluation, warm DNS cache, {} B message with 2 DKIM signatures (ed25519, rsa-2048), SPF x2, DMARC, iprev, 1 DNSBL",
        signed.len()
    );
    println!(
        "evaluations: {EVALUATIONS}  median: {:?}  p90: {:?}  min: {:?}  max: {:?}  throughput: {:.0}/s (sequential)",
        pct(50),
        pct(90),
        times[0],
        times[times.len() - 1],
        EVALUATIONS as f64 / total.as_secs_f64()
    );
}
