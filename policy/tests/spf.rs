//! SPF check_host() against a test DNS server, one table row per RFC 7208
//! case: results pass, fail, softfail, neutral, none, temperror and
//! permerror, with include, redirect, macros, exp=, the mechanisms that
//! query DNS, and the lookup and void-lookup limits (§4.6.4).

mod common;

use common::{TestDns, a, aaaa, mx, ptr, txt};
use policy::auth::SpfResult::{self, *};
use policy::auth::dns::Dns;
use policy::auth::spf::{SpfRequest, check_host};

const IN: &str = "192.0.2.10";
const OUT: &str = "198.51.100.7";

fn zone() -> TestDns {
    let mut r = vec![
        txt("pass.test", "v=spf1 ip4:192.0.2.0/24 -all"),
        txt("soft.test", "v=spf1 ip4:203.0.113.0/24 ~all"),
        txt("neutral.test", "v=spf1 ?all"),
        txt("default.test", "v=spf1 ip4:203.0.113.1"),
        a("nospf.test", "192.0.2.10"),
        txt("nospf.test", "google-site-verification=abc"),
        txt("syntax.test", "v=spf1 ip4:192.0.2.300 -all"),
        txt("unknown-mech.test", "v=spf1 foo:bar -all"),
        txt("two.test", "v=spf1 -all"),
        txt("two.test", "v=spf1 +all"),
        txt("inc.test", "v=spf1 include:inc-target.test -all"),
        txt("inc-target.test", "v=spf1 ip4:192.0.2.0/24 -all"),
        txt("inc-none.test", "v=spf1 include:nospf.test -all"),
        txt("inc-temp.test", "v=spf1 include:x.servfail.test -all"),
        // A failing include does not match; the next term decides.
        txt("inc-fail.test", "v=spf1 include:soft.test ?all"),
        // Nested include with a qualifier on the outer one.
        txt("nest.test", "v=spf1 -include:nest-b.test ~all"),
        txt("nest-b.test", "v=spf1 include:inc-target.test -all"),
        txt("red.test", "v=spf1 redirect=inc-target.test"),
        txt("red-none.test", "v=spf1 redirect=nospf.test"),
        // redirect is ignored when all is present.
        txt("red-all.test", "v=spf1 ?all redirect=inc-target.test"),
        txt("a.test", "v=spf1 a -all"),
        a("a.test", "192.0.2.10"),
        txt("a-cidr.test", "v=spf1 a:host.a-cidr.test/24 -all"),
        a("host.a-cidr.test", "192.0.2.200"),
        txt("mx.test", "v=spf1 mx -all"),
        mx("mx.test", 10, "mail.mx.test"),
        a("mail.mx.test", "192.0.2.10"),
        txt("ptr.test", "v=spf1 ptr -all"),
        a("mail.ptr.test", "192.0.2.10"),
        ptr("192.0.2.10", "mail.ptr.test"),
        txt("exists.test", "v=spf1 exists:%{i}._spf.exists.test -all"),
        a("192.0.2.10._spf.exists.test", "127.0.0.2"),
        // Macros: reversed IP, local-part, domain (RFC 7208 §7).
        txt("macro.test", "v=spf1 exists:%{ir}.%{l}._spf.%{d} -all"),
        a("10.2.0.192.alice._spf.macro.test", "127.0.0.2"),
        txt("macro-h.test", "v=spf1 exists:%{h}.helo.macro-h.test -all"),
        a("mx1.client.example.helo.macro-h.test", "127.0.0.2"),
        txt("ip6.test", "v=spf1 ip6:2001:db8::/32 -all"),
        txt("aaaa.test", "v=spf1 a -all"),
        aaaa("aaaa.test", "2001:db8::25"),
        txt("exp.test", "v=spf1 -all exp=explain.exp.test"),
        txt(
            "explain.exp.test",
            "%{i} is not one of %{d}'s designated mail servers.",
        ),
        // Two void lookups are allowed, a third is a permerror.
        txt("void2.test", "v=spf1 a:v1.void2.test a:v2.void2.test -all"),
        txt(
            "void3.test",
            "v=spf1 a:v1.void3.test a:v2.void3.test a:v3.void3.test -all",
        ),
        txt("temp-a.test", "v=spf1 a:host.servfail.test -all"),
    ];
    // A chain of 10 includes is allowed; 11 terms are a permerror.
    for i in 1..=11 {
        r.push(txt(
            &format!("l{i}.chain.test"),
            &format!("v=spf1 include:l{}.chain.test -all", i + 1),
        ));
    }
    r.push(txt("l12.chain.test", "v=spf1 ip4:192.0.2.0/24 -all"));
    for i in 3..=12 {
        r.push(txt(
            &format!("m{i}.chain.test"),
            &format!("v=spf1 include:l{i}.chain.test -all"),
        ));
    }
    TestDns::start(r)
}

struct Case {
    domain: &'static str,
    sender: &'static str,
    ip: &'static str,
    want: SpfResult,
}

const fn c(domain: &'static str, sender: &'static str, ip: &'static str, want: SpfResult) -> Case {
    Case {
        domain,
        sender,
        ip,
        want,
    }
}

#[tokio::test]
async fn check_host_table() {
    let dns_server = zone();
    let dns = Dns::new(Some(dns_server.addr)).expect("resolver");
    let cases = [
        c("pass.test", "a@pass.test", IN, Pass),
        c("pass.test", "a@pass.test", OUT, Fail),
        c("soft.test", "a@soft.test", IN, Softfail),
        c("neutral.test", "a@neutral.test", IN, Neutral),
        c("default.test", "a@default.test", IN, Neutral),
        c("nospf.test", "a@nospf.test", IN, None),
        c("nxdomain.test", "a@nxdomain.test", IN, None),
        c("singlelabel", "a@singlelabel", IN, None),
        c("x.servfail.test", "a@x.servfail.test", IN, Temperror),
        c("x.timeout.test", "a@x.timeout.test", IN, Temperror),
        c("syntax.test", "a@syntax.test", IN, Permerror),
        c("unknown-mech.test", "a@unknown-mech.test", IN, Permerror),
        c("two.test", "a@two.test", IN, Permerror),
        c("inc.test", "a@inc.test", IN, Pass),
        c("inc.test", "a@inc.test", OUT, Fail),
        c("inc-none.test", "a@inc-none.test", IN, Permerror),
        c("inc-temp.test", "a@inc-temp.test", IN, Temperror),
        c("inc-fail.test", "a@inc-fail.test", IN, Neutral),
        c("nest.test", "a@nest.test", IN, Fail),
        c("nest.test", "a@nest.test", OUT, Softfail),
        c("red.test", "a@red.test", IN, Pass),
        c("red.test", "a@red.test", OUT, Fail),
        c("red-none.test", "a@red-none.test", IN, Permerror),
        c("red-all.test", "a@red-all.test", IN, Neutral),
        c("a.test", "a@a.test", IN, Pass),
        c("a.test", "a@a.test", OUT, Fail),
        c("a-cidr.test", "a@a-cidr.test", IN, Pass),
        c("mx.test", "a@mx.test", IN, Pass),
        c("mx.test", "a@mx.test", OUT, Fail),
        c("ptr.test", "a@ptr.test", IN, Pass),
        c("ptr.test", "a@ptr.test", OUT, Fail),
        c("exists.test", "a@exists.test", IN, Pass),
        c("exists.test", "a@exists.test", OUT, Fail),
        c("macro.test", "alice@macro.test", IN, Pass),
        c("macro.test", "bob@macro.test", IN, Fail),
        c("macro-h.test", "a@macro-h.test", IN, Pass),
        c("ip6.test", "a@ip6.test", "2001:db8::1", Pass),
        c("ip6.test", "a@ip6.test", IN, Fail),
        c("aaaa.test", "a@aaaa.test", "2001:db8::25", Pass),
        c("aaaa.test", "a@aaaa.test", "2001:db8::26", Fail),
        // IPv4-mapped IPv6 clients are IPv4 (RFC 7208 §5).
        c("pass.test", "a@pass.test", "::ffff:192.0.2.10", Pass),
        c("void2.test", "a@void2.test", IN, Fail),
        c("void3.test", "a@void3.test", IN, Permerror),
        c("temp-a.test", "a@temp-a.test", IN, Temperror),
        c("m3.chain.test", "a@m3.chain.test", IN, Pass),
        c("l1.chain.test", "a@l1.chain.test", IN, Permerror),
    ];
    let mut failures = Vec::new();
    for case in &cases {
        let req = SpfRequest {
            ip: case.ip.parse().expect("ip"),
            domain: case.domain,
            sender: case.sender,
            helo: "mx1.client.example",
            receiver: "mx.moxd.test",
        };
        let got = check_host(&dns, &req).await;
        if got.result != case.want {
            failures.push(format!(
                "{} from {}: got {} ({:?}), want {}",
                case.domain, case.ip, got.result, got.problem, case.want
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "SPF cases failed:\n{}",
        failures.join("\n")
    );
}

#[tokio::test]
async fn problems_and_explanations() {
    let dns_server = zone();
    let dns = Dns::new(Some(dns_server.addr)).expect("resolver");
    let req = |domain: &'static str, ip: &'static str| SpfRequest {
        ip: ip.parse().expect("ip"),
        domain,
        sender: "postmaster@x",
        helo: "mx1.client.example",
        receiver: "mx.moxd.test",
    };
    let got = check_host(&dns, &req("exp.test", IN)).await;
    assert_eq!(got.result, Fail);
    assert_eq!(
        got.explanation.as_deref(),
        Some("192.0.2.10 is not one of exp.test's designated mail servers.")
    );
    let got = check_host(&dns, &req("void3.test", IN)).await;
    assert_eq!(got.problem.as_deref(), Some("more than 2 void lookups"));
    let got = check_host(&dns, &req("l1.chain.test", IN)).await;
    assert_eq!(
        got.problem.as_deref(),
        Some("more than 10 DNS-querying terms")
    );
    let got = check_host(&dns, &req("two.test", IN)).await;
    assert!(
        got.problem
            .unwrap_or_default()
            .contains("more than one SPF record")
    );
    // A temperror says what failed.
    let got = check_host(&dns, &req("x.servfail.test", IN)).await;
    assert_eq!(got.result, Temperror);
    assert!(got.problem.is_some());
}
