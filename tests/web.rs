//! The web worker over real HTTP against a real `moxd localserve`: cookie
//! attributes, CSRF protection of every state-changing call and form
//! post, cross-origin requests, `user:noAuth`/`user:badAuth`, the login
//! cookie, session fixation, failed-login rate limiting, password changes
//! and sessions, admin changes through the master, and `/metrics` only on
//! the metrics listener.
//!
//! All tests share one localserve (its ports are fixed). Each test that
//! changes a password uses its own account; failed logins come from their
//! own 127.0.0.x source address so the shared rate limit of 127.0.0.1 is
//! not spent.

mod common;
#[path = "web/http.rs"]
mod http;

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::Server;
use http::{Client, Req, Target};
use ipc::store::{StoreReply, StoreRequest};
use serde_json::json;

const HTTP: u16 = 1080;
const HTTPS: u16 = 1443;
const METRICS: u16 = 1081;
const ACCOUNT: &str = "/account/";
const ADMIN: &str = "/admin/";
const ADMIN_PASSWORD: &str = "moxadmin";
/// A made-up token of the right shape.
const FORGED: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

fn server() -> &'static Server {
    static S: OnceLock<Server> = OnceLock::new();
    S.get_or_init(Server::localserve_for_process)
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn http() -> Target {
    server();
    Target::http(addr(HTTP))
}

fn account_client() -> Client {
    Client::new(http(), ACCOUNT)
}

fn admin_client() -> Client {
    Client::new(http(), ADMIN)
}

/// A fresh account `name@localhost` with a password, made through the
/// store (administrator rights).
fn new_account(name: &str) -> (String, String) {
    let s = server();
    let address = format!("{name}@localhost");
    let password = format!("{name}-password-1");
    let r = s.store_call(StoreRequest::AccountAdd {
        name: name.into(),
        address: address.clone(),
    });
    assert_eq!(r, StoreReply::Ok, "account {name}");
    let r = s.store_call(StoreRequest::SetPassword {
        account: name.into(),
        password: password.clone(),
    });
    assert_eq!(r, StoreReply::Ok);
    (address, password)
}

fn logged_in(name: &str) -> (Client, String, String) {
    let (address, password) = new_account(name);
    let mut c = account_client();
    let r = c.login(Some(&address), &password);
    assert_eq!(r.status, 200, "login {address}: {}", r.text());
    (c, address, password)
}

fn password_works(address: &str, password: &str) -> bool {
    match server().store_call(StoreRequest::VerifyPassword {
        login: address.into(),
        password: password.into(),
    }) {
        StoreReply::Authenticated(a) => a.is_some(),
        other => panic!("verify: {other:?}"),
    }
}

/// Whether the client's session is valid (an authenticated read).
fn session_valid(c: &mut Client) -> bool {
    let method = if c.root == ADMIN {
        "Overview"
    } else {
        "Account"
    };
    let r = c.api(method, json!({}));
    match r.status {
        200 => true,
        401 => {
            assert_eq!(r.code(), "user:badAuth", "{}", r.text());
            false
        }
        s => panic!("{method}: unexpected status {s}: {}", r.text()),
    }
}

fn attrs(set_cookie: &str) -> Vec<String> {
    set_cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_string())
        .collect()
}

#[test]
fn cookie_attributes_over_http_and_https() {
    let (address, password) = new_account("webcookies");
    let mut c = account_client();
    let prep = c.api("LoginPrep", json!({}));
    let login_cookie = prep.set_cookie("webaccountlogin").expect("login cookie");
    let a = attrs(login_cookie);
    for want in [
        "Path=/account/",
        "HttpOnly",
        "SameSite=Strict",
        "Max-Age=30",
    ] {
        assert!(a.iter().any(|x| x == want), "{want} in {login_cookie}");
    }
    assert!(
        !a.iter().any(|x| x == "Secure"),
        "plain HTTP: {login_cookie}"
    );
    let token = prep.json()["result"].as_str().unwrap().to_string();
    let r = c.api(
        "Login",
        json!({ "loginToken": token, "username": address, "password": password }),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let session = r.set_cookie("webaccountsession").expect("session cookie");
    let value = session
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("webaccountsession=");
    assert!(value.len() >= 22, "at least 128 bits: {value}");
    let a = attrs(session);
    assert_eq!(
        a,
        ["Path=/account/", "HttpOnly", "SameSite=Strict"],
        "{session}"
    );
    let cleared = r
        .set_cookie("webaccountlogin")
        .expect("login cookie removed");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    // Only these two cookies; the CSRF token is in the body, not a cookie.
    for c in r.all("set-cookie") {
        assert!(
            c.starts_with("webaccountsession=") || c.starts_with("webaccountlogin="),
            "{c}"
        );
    }
    let csrf = r.json()["result"].as_str().unwrap().to_string();
    assert_ne!(csrf, value);

    // Over HTTPS the same cookies are Secure; the admin interface has its own.
    let pem = std::fs::read(server().dir.path().join("tls/cert.pem")).expect("localserve cert");
    let mut s = Client::new(Target::https(addr(HTTPS), &pem), ADMIN);
    let r = s.login(None, ADMIN_PASSWORD);
    assert_eq!(r.status, 200, "{}", r.text());
    let session = r
        .set_cookie("webadminsession")
        .expect("admin session cookie");
    assert_eq!(
        attrs(session),
        ["Path=/admin/", "HttpOnly", "SameSite=Strict", "Secure"],
        "{session}"
    );
    assert!(session_valid(&mut s));

    // No token ever shows up in moxd's output (logs).
    std::thread::sleep(Duration::from_millis(200));
    let out = server().output_text();
    for secret in [value, csrf.as_str(), token.as_str(), password.as_str()] {
        assert!(!out.contains(secret), "{secret} logged");
    }
}

/// The CSRF tokens a state-changing request is tried with: none, made up,
/// another session's.
fn bad_csrfs(other: &str) -> Vec<Option<String>> {
    vec![
        None,
        Some(FORGED.to_string()),
        Some("x".into()),
        Some(other.to_string()),
    ]
}

#[test]
fn every_state_changing_call_needs_this_sessions_csrf_token() {
    let (mut a, address, password) = logged_in("webcsrf");
    let (mut other, _, _) = logged_in("webcsrfother");
    let other_csrf = other.csrf.clone().unwrap();
    let calls = [
        ("SetPassword", json!({ "password": "changed-by-csrf" })),
        ("LogoutOtherSessions", json!({})),
        ("Logout", json!({})),
    ];
    // A second session of the same account, to see LogoutOtherSessions did nothing.
    let mut a2 = account_client();
    assert_eq!(a2.login(Some(&address), &password).status, 200);
    for (method, params) in &calls {
        for csrf in bad_csrfs(&other_csrf) {
            let r = a.api_with_csrf(method, params.clone(), csrf.as_deref());
            assert_eq!(r.status, 403, "{method} with {csrf:?}: {}", r.text());
            assert_eq!(r.code(), "user:csrf", "{method}");
        }
    }
    // The logout form post: field missing, made up, another session's.
    for field in [
        "",
        "csrf=",
        &format!("csrf={FORGED}"),
        &format!("csrf={other_csrf}"),
    ] {
        let r = a.send(
            Req::new("POST", "/account/logout")
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(field.to_string()),
        );
        assert_eq!(r.status, 403, "form {field:?}: {}", r.text());
    }
    assert!(password_works(&address, &password), "password unchanged");
    assert!(session_valid(&mut a) && session_valid(&mut a2) && session_valid(&mut other));

    // Admin: every change, with an admin session's token from another session.
    let mut adm = admin_client();
    assert_eq!(adm.login(None, ADMIN_PASSWORD).status, 200);
    let mut adm2 = admin_client();
    assert_eq!(adm2.login(None, ADMIN_PASSWORD).status, 200);
    let adm2_csrf = adm2.csrf.clone().unwrap();
    let admin_calls = [
        ("DomainAdd", json!({ "domain": "csrf.example" })),
        ("DomainRemove", json!({ "domain": "localhost" })),
        (
            "AccountAdd",
            json!({ "name": "csrfacc", "address": "csrfacc@localhost", "password": "" }),
        ),
        ("AccountRemove", json!({ "name": "webcsrf" })),
        (
            "AccountSetPassword",
            json!({ "account": "webcsrf", "password": "changed-by-csrf" }),
        ),
        (
            "AccountSetQuota",
            json!({ "account": "webcsrf", "quota": "1" }),
        ),
        (
            "AddressAdd",
            json!({ "address": "csrfaddr@localhost", "account": "webcsrf" }),
        ),
        ("AddressRemove", json!({ "address": address })),
        ("Logout", json!({})),
    ];
    for (method, params) in &admin_calls {
        for csrf in bad_csrfs(&adm2_csrf) {
            let r = adm.api_with_csrf(method, params.clone(), csrf.as_deref());
            assert_eq!(r.status, 403, "admin {method} with {csrf:?}: {}", r.text());
        }
        // An account session's token is no admin token either.
        let r = adm.api_with_csrf(method, params.clone(), a.csrf.as_deref());
        assert_eq!(r.status, 403, "admin {method} with an account token");
    }
    let r = adm.send(
        Req::new("POST", "/admin/logout")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!("csrf={adm2_csrf}")),
    );
    assert_eq!(r.status, 403);
    // Nothing changed.
    assert!(session_valid(&mut adm) && session_valid(&mut adm2));
    assert!(password_works(&address, &password));
    match server().store_call(StoreRequest::DomainList) {
        StoreReply::Domains(d) => assert_eq!(d, ["localhost"], "domains unchanged"),
        other => panic!("{other:?}"),
    }
    match server().store_call(StoreRequest::AccountList) {
        StoreReply::Accounts(list) => {
            let acc = list
                .iter()
                .find(|a| a.name == "webcsrf")
                .expect("account kept");
            assert_eq!(acc.addresses, std::slice::from_ref(&address));
            assert!(!list.iter().any(|a| a.name == "csrfacc"));
        }
        other => panic!("{other:?}"),
    }
    match server().store_call(StoreRequest::Quota {
        account: "webcsrf".into(),
    }) {
        StoreReply::Quota { limit, .. } => assert_eq!(limit, None, "quota unchanged"),
        other => panic!("{other:?}"),
    }
    // With the right token the same call works (the check is not just "always 403").
    let r = adm.api(
        "AccountSetQuota",
        json!({ "account": "webcsrf", "quota": "1000000" }),
    );
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn cross_origin_requests_cannot_change_the_password() {
    let (mut c, address, password) = logged_in("weborigin");
    let session = c.jar.get("webaccountsession").cloned().expect("cookie");
    let csrf = c.csrf.clone().unwrap();
    // What an auto-submitting form on another site sends, if a browser sent
    // the cookie at all (SameSite=Strict keeps it from doing so).
    let evil = [
        Req::new("POST", "/account/api/SetPassword")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Origin", "http://evil.example")
            .header("Sec-Fetch-Site", "cross-site")
            .body("password=hacked-password"),
        Req::new("POST", "/account/api/SetPassword")
            .header("Content-Type", "text/plain")
            .header("Origin", "http://evil.example")
            .body(r#"{"password":"hacked-password"}"#),
        // Even with the right token (it cannot know it), not from there.
        Req::new("POST", "/account/api/SetPassword")
            .header("Content-Type", "application/json")
            .header("Origin", "http://evil.example")
            .header("x-moxd-csrf", &csrf)
            .body(r#"{"password":"hacked-password"}"#),
        Req::new("POST", "/account/logout")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Origin", "null")
            .body(format!("csrf={csrf}")),
    ];
    for req in evil {
        let r = c.send(req.header("Cookie", &format!("webaccountsession={session}")));
        assert_eq!(r.status, 403, "{}", r.text());
    }
    assert!(password_works(&address, &password));
    assert!(!password_works(&address, "hacked-password"));
    assert!(session_valid(&mut c));
    // From our own origin it works.
    let r = c.send(
        Req::new("POST", "/account/api/SetPassword")
            .header("Content-Type", "application/json")
            .header("Origin", &format!("http://localhost:{HTTP}"))
            .header("x-moxd-csrf", &csrf)
            .body(r#"{"password":"a-new-password"}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(password_works(&address, "a-new-password"));
}

#[test]
fn no_auth_and_bad_auth() {
    let mut c = account_client();
    let r = c.api("Account", json!({}));
    assert_eq!(
        (r.status, r.code().as_str()),
        (401, "user:noAuth"),
        "{}",
        r.text()
    );
    let page = c.get(ACCOUNT);
    assert_eq!(page.status, 200);
    assert!(
        page.text().contains("id=\"login-form\""),
        "login form shown"
    );
    assert!(!page.text().contains("session has ended"));

    c.jar.insert("webaccountsession".into(), FORGED.into());
    let r = c.api("Account", json!({}));
    assert_eq!(
        (r.status, r.code().as_str()),
        (401, "user:badAuth"),
        "{}",
        r.text()
    );

    // A session that was logged out is as bad as a made-up one.
    let (mut c, _, _) = logged_in("webbadauth");
    let cookie = c.jar.get("webaccountsession").cloned().unwrap();
    assert!(session_valid(&mut c));
    let r = c.api("Logout", json!({}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.set_cookie("webaccountsession")
            .unwrap()
            .contains("Max-Age=0")
    );
    c.jar.insert("webaccountsession".into(), cookie);
    let r = c.api("Account", json!({}));
    assert_eq!((r.status, r.code().as_str()), (401, "user:badAuth"));
    let page = c.get(ACCOUNT);
    assert!(
        page.text().contains("Your session has ended"),
        "{}",
        page.text()
    );
    assert!(page.text().contains("id=\"login-form\""));
    // Unknown methods are not found, after authentication.
    let r = admin_client().api("Nope", json!({}));
    assert_eq!(r.code(), "user:noAuth");
}

#[test]
fn login_cookie_is_required_checked_first_and_single_use() {
    let (address, password) = new_account("weblogintoken");
    let mut c = account_client();
    let prep = c.api("LoginPrep", json!({}));
    let token = prep.json()["result"].as_str().unwrap().to_string();
    let login = |c: &mut Client, token: &str, password: &str| {
        c.api(
            "Login",
            json!({ "loginToken": token, "username": address, "password": password }),
        )
    };
    // Without the cookie: refused before the password is looked at (no
    // failure delay, not counted).
    let mut bare = account_client();
    let t0 = Instant::now();
    let r = login(&mut bare, &token, "wrong-password");
    assert_eq!((r.status, r.code().as_str()), (403, "user:loginToken"));
    assert!(
        t0.elapsed() < Duration::from_millis(900),
        "no failure delay"
    );
    // The attempt above used the token up, even though it failed.
    let r = login(&mut c, &token, &password);
    assert_eq!(
        (r.status, r.code().as_str()),
        (403, "user:loginToken"),
        "used up"
    );
    // Cookie and parameter differ: both are used up.
    let prep = c.api("LoginPrep", json!({}));
    let token = prep.json()["result"].as_str().unwrap().to_string();
    let r = login(&mut c, FORGED, &password);
    assert_eq!((r.status, r.code().as_str()), (403, "user:loginToken"));
    c.jar.insert("webaccountlogin".into(), token.clone());
    let r = login(&mut c, &token, &password);
    assert_eq!(
        (r.status, r.code().as_str()),
        (403, "user:loginToken"),
        "single use"
    );

    let prep = c.api("LoginPrep", json!({}));
    let token = prep.json()["result"].as_str().unwrap().to_string();
    let r = login(&mut c, &token, &password);
    assert_eq!(r.status, 200, "{}", r.text());
    // Replaying the same cookie and token again does not log in.
    c.jar.insert("webaccountlogin".into(), token.clone());
    let r = login(&mut c, &token, &password);
    assert_eq!((r.status, r.code().as_str()), (403, "user:loginToken"));
}

#[test]
fn session_fixation_attacker_cookie_is_never_adopted() {
    let (address, password) = new_account("webfixation");
    // A cookie value the attacker chose.
    let mut victim = account_client();
    victim
        .jar
        .insert("webaccountsession".into(), FORGED.to_string());
    let r = victim.login(Some(&address), &password);
    assert_eq!(r.status, 200);
    let issued = victim.jar.get("webaccountsession").cloned().unwrap();
    assert_ne!(issued, FORGED);
    let mut attacker = account_client();
    attacker
        .jar
        .insert("webaccountsession".into(), FORGED.into());
    attacker.csrf = victim.csrf.clone();
    let r = attacker.api("Account", json!({}));
    assert_eq!(r.code(), "user:badAuth");

    // A real session of the attacker planted in the victim's browser is
    // ended by the victim's login, not reused.
    let mut attacker = account_client();
    assert_eq!(attacker.login(Some(&address), &password).status, 200);
    let planted = attacker.jar.get("webaccountsession").cloned().unwrap();
    let mut victim = account_client();
    victim
        .jar
        .insert("webaccountsession".into(), planted.clone());
    assert_eq!(victim.login(Some(&address), &password).status, 200);
    assert_ne!(victim.jar.get("webaccountsession").unwrap(), &planted);
    assert!(!session_valid(&mut attacker), "planted session ended");
    assert!(session_valid(&mut victim));
}

#[test]
fn failed_logins_are_delayed_and_rate_limited_by_client_ip() {
    let (address, password) = new_account("webratelimit");
    // Its own /26, so other tests' failures do not count; forwarded
    // headers are not believed (localserve trusts no proxy).
    let target = http().from("127.0.0.200");
    let limit = store::FAILED_AUTH_PER_MINUTE[0];
    let t0 = Instant::now();
    for i in 0..limit {
        let mut c = Client::new(target.clone(), ACCOUNT);
        let mut prep = c.api("LoginPrep", json!({}));
        assert_eq!(prep.status, 200);
        let token = prep.json()["result"].as_str().unwrap().to_string();
        prep = c.send(
            Req::new("POST", "/account/api/Login")
                .header("Content-Type", "application/json")
                .header("X-Forwarded-For", &format!("198.51.100.{i}"))
                .body(
                    json!({ "loginToken": token, "username": address, "password": "wrong" })
                        .to_string(),
                ),
        );
        assert_eq!(
            (prep.status, prep.code().as_str()),
            (401, "user:loginFailed"),
            "attempt {i}"
        );
    }
    assert!(
        t0.elapsed() >= Duration::from_millis(900 * limit),
        "each failure waits a second: {:?}",
        t0.elapsed()
    );
    let mut c = Client::new(target, ACCOUNT);
    let r = c.login(Some(&address), &password);
    assert_eq!(
        (r.status, r.code().as_str()),
        (429, "user:rateLimited"),
        "{}",
        r.text()
    );
    // Another address may still log in.
    let mut ok = Client::new(http().from("127.0.0.1"), ACCOUNT);
    assert_eq!(ok.login(Some(&address), &password).status, 200);
    // The failures are listed on the account page.
    let r = ok.api("Account", json!({}));
    let attempts = r.json()["result"]["loginAttempts"]
        .as_array()
        .cloned()
        .unwrap();
    let failed = attempts
        .iter()
        .filter(|a| a["success"] == json!(false) && a["remoteIp"] == json!("127.0.0.200"))
        .count();
    assert_eq!(failed as u64, limit, "{attempts:?}");
}

#[test]
fn password_change_ends_other_sessions_and_keeps_this_one() {
    let (mut a, address, password) = logged_in("webpwchange");
    let mut b = account_client();
    assert_eq!(b.login(Some(&address), &password).status, 200);
    let r = a.api("SetPassword", json!({ "password": "short" }));
    assert_eq!(
        (r.status, r.code().as_str()),
        (400, "user:error"),
        "too short"
    );
    let r = a.api("SetPassword", json!({ "password": "the-new-password" }));
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(session_valid(&mut a), "the changing session stays");
    assert!(!session_valid(&mut b), "the other session ended");
    assert!(password_works(&address, "the-new-password"));
    assert!(!password_works(&address, &password));
    // The page lists exactly the remaining session, marked as this one.
    let page = a.get(ACCOUNT).text();
    assert_eq!(page.matches("(this session)").count(), 1, "{page}");
    let r = a.api("Account", json!({}));
    assert_eq!(r.json()["result"]["sessions"].as_array().unwrap().len(), 1);
    // LogoutOtherSessions.
    let mut c = account_client();
    assert_eq!(c.login(Some(&address), "the-new-password").status, 200);
    assert_eq!(a.api("LogoutOtherSessions", json!({})).status, 200);
    assert!(!session_valid(&mut c) && session_valid(&mut a));
    // The logout form with the right token logs out and goes to the login page.
    let csrf = a.csrf.clone().unwrap();
    let r = a.send(
        Req::new("POST", "/account/logout")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!("csrf={csrf}")),
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(r.header("location"), Some(ACCOUNT));
    assert!(!a.jar.contains_key("webaccountsession"));
}

#[test]
fn admin_changes_take_effect_and_reach_domains_toml() {
    let mut adm = admin_client();
    let r = adm.login(None, "wrong admin password");
    assert_eq!(r.code(), "user:loginFailed");
    let mut adm = admin_client();
    assert_eq!(adm.login(None, ADMIN_PASSWORD).status, 200, "admin login");
    let ok = |adm: &mut Client, method: &str, p: serde_json::Value| {
        let r = adm.api(method, p);
        assert_eq!(r.status, 200, "{method}: {}", r.text());
    };
    ok(
        &mut adm,
        "DomainAdd",
        json!({ "domain": "web-admin.example" }),
    );
    ok(
        &mut adm,
        "AccountAdd",
        json!({ "name": "webadmin1", "address": "one@web-admin.example", "password": "webadmin1-pass" }),
    );
    ok(
        &mut adm,
        "AddressAdd",
        json!({ "address": "two@web-admin.example", "account": "webadmin1" }),
    );
    ok(
        &mut adm,
        "AccountSetQuota",
        json!({ "account": "webadmin1", "quota": "5000000" }),
    );
    let r = adm.api(
        "AccountSetPassword",
        json!({ "account": "webadmin1", "password": "x" }),
    );
    assert_eq!(r.code(), "user:error", "too short");
    let r = adm.api("DomainAdd", json!({ "domain": "web-admin.example" }));
    assert_eq!(r.code(), "user:error", "exists: {}", r.text());
    // In the store at once, and in domains.toml (the master wrote it).
    assert!(password_works("two@web-admin.example", "webadmin1-pass"));
    let toml = std::fs::read_to_string(server().dir.path().join("domains.toml")).unwrap();
    assert!(
        toml.contains("web-admin.example") && toml.contains("two@web-admin.example"),
        "{toml}"
    );
    let overview = adm.api("Overview", json!({})).json();
    let acc = overview["result"]["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == json!("webadmin1"))
        .cloned()
        .expect("listed");
    assert_eq!(acc["quotaText"], json!("4.8 MiB"));
    let workers = overview["result"]["status"]["workers"]
        .as_array()
        .unwrap()
        .clone();
    let web = workers
        .iter()
        .find(|w| w["role"] == json!("web"))
        .expect("web listed");
    assert_eq!(web["state"], json!("running"));
    assert!(
        web["sandbox"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f.as_str().unwrap().starts_with("seccomp: "))
    );
    let page = adm.get(ADMIN).text();
    for want in [
        "web-admin.example",
        "two@web-admin.example",
        "Processes",
        "smtp-in",
        "Outgoing queue",
    ] {
        assert!(page.contains(want), "{want} on the admin page");
    }
    ok(
        &mut adm,
        "AddressRemove",
        json!({ "address": "two@web-admin.example" }),
    );
    ok(&mut adm, "AccountRemove", json!({ "name": "webadmin1" }));
    ok(
        &mut adm,
        "DomainRemove",
        json!({ "domain": "web-admin.example" }),
    );
    let toml = std::fs::read_to_string(server().dir.path().join("domains.toml")).unwrap();
    assert!(!toml.contains("web-admin.example"), "{toml}");
    assert!(!password_works("one@web-admin.example", "webadmin1-pass"));
    // Logout ends the admin session.
    assert_eq!(adm.api("Logout", json!({})).status, 200);
    let r = adm.api("Overview", json!({}));
    assert_eq!(r.code(), "user:noAuth", "cookie removed");
}

#[test]
fn metrics_only_on_the_metrics_listener() {
    let public = http();
    for path in ["/metrics", "/account/metrics", "/admin/metrics"] {
        let r = public.send(&Req::new("GET", path));
        assert_eq!(r.status, 404, "{path} on the public listener");
    }
    let m = Target::http(addr(METRICS));
    let r = m.send(&Req::new("GET", "/account/"));
    assert_eq!(r.status, 404, "only /metrics on the metrics listener");
    let r = m.send(&Req::new("GET", "/metrics"));
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    let t = r.text();
    for want in [
        "moxd_worker_up{role=\"web\"} 1",
        "moxd_worker_up{role=\"store\"} 1",
        "moxd_worker_restarts_total{role=\"web\"} 0",
        "# TYPE moxd_web_requests_total counter",
        "moxd_store_deliveries_total",
    ] {
        assert!(t.contains(want), "{want} in:\n{t}");
    }
    let metrics_requests = |t: &str| -> u64 {
        t.lines()
            .find_map(|l| l.strip_prefix("moxd_web_requests_total{kind=\"metrics\"} "))
            .and_then(|v| v.parse().ok())
            .expect("metrics counter")
    };
    let before = metrics_requests(&t);
    let after = metrics_requests(&m.send(&Req::new("GET", "/metrics")).text());
    assert!(after > before, "{before} → {after}");
}

#[test]
fn pages_are_served_with_protective_headers() {
    let mut c = account_client();
    let r = c.get(ACCOUNT);
    assert_eq!(r.status, 200);
    let csp = r.header("content-security-policy").expect("CSP");
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let page = r.text();
    assert!(
        page.contains("<label for=\"login-password\">"),
        "labelled inputs"
    );
    assert!(page.contains("name=\"viewport\""), "phone-readable");
    let js = c.get("/account/app.js");
    assert_eq!(js.status, 200);
    assert!(
        js.header("content-type")
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(js.text().contains("x-moxd-csrf"));
    let r = c.get("/");
    assert_eq!((r.status, r.header("location")), (303, Some(ACCOUNT)));
}
