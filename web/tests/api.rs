//! The HTTP layer against an in-process store (no sockets, no other
//! processes): the `Backend` trait is implemented by calling the store's
//! own request dispatch, so these tests see exactly the replies the store
//! daemon would give.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use ipc::config::WebSettings;
use ipc::control::{ControlReply, ControlRequest, Status};
use ipc::master::{MasterToWorker, WorkerToMaster};
use ipc::store::{StoreReply, StoreRequest};
use serde_json::{Value, json};
use tower::ServiceExt;
use web::app::App;
use web::backend::{Backend, BoxFuture};
use web::client::ConnInfo;
use web::metrics::Metrics;

struct InProcess {
    store: Arc<store::Store>,
}

impl Backend for InProcess {
    fn store(&self, req: StoreRequest) -> BoxFuture<'_, StoreReply> {
        let store = self.store.clone();
        Box::pin(async move {
            Ok(tokio::task::spawn_blocking(move || {
                store::server::dispatch::dispatch(&store, req, Vec::new()).0
            })
            .await?)
        })
    }

    /// The master's part: status, and the admin changes carried out on
    /// the store as the master would.
    fn master(&self, req: WorkerToMaster) -> BoxFuture<'_, MasterToWorker> {
        Box::pin(async move {
            let reply = match req {
                WorkerToMaster::Control(ControlRequest::Status) => ControlReply::Status(Status {
                    version: "test".into(),
                    master_pid: 1,
                    uptime_secs: 5,
                    localserve: false,
                    workers: Vec::new(),
                }),
                WorkerToMaster::Control(ControlRequest::DomainAdd { domain }) => {
                    match self.store(StoreRequest::DomainAdd { domain }).await? {
                        StoreReply::Ok => ControlReply::Ok,
                        other => ControlReply::Error(format!("{other:?}")),
                    }
                }
                WorkerToMaster::GatherMetrics => {
                    return Ok(MasterToWorker::GatheredMetrics {
                        text: "m 1\n".into(),
                    });
                }
                other => ControlReply::Error(format!("not in this test: {other:?}")),
            };
            Ok(MasterToWorker::ControlReply(reply))
        })
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    store: Arc<store::Store>,
    router: axum::Router,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(store::Store::open(dir.path()).unwrap());
    store.domain_add("example.org").unwrap();
    store.account_add("alice", "alice@example.org").unwrap();
    store.set_password("alice", "alice-password").unwrap();
    store.admin_password_set("admin-password").unwrap();
    let settings = WebSettings {
        account_path: "/account/".into(),
        ..Default::default()
    };
    let app = App::new(
        Arc::new(InProcess {
            store: store.clone(),
        }),
        &settings,
        "mail.example.org",
        Arc::new(Metrics::default()),
    );
    Setup {
        _dir: dir,
        store,
        router: web::routes::public(app),
    }
}

struct Resp {
    status: StatusCode,
    cookies: Vec<String>,
    body: Value,
}

/// A cookie jar and CSRF token of one browser.
#[derive(Default)]
struct Browser {
    cookies: Vec<(String, String)>,
    csrf: Option<String>,
}

impl Browser {
    async fn call(&mut self, s: &Setup, path: &str, params: Value) -> Resp {
        let mut req = Request::post(path)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::HOST, "localhost");
        if !self.cookies.is_empty() {
            let c: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            req = req.header(header::COOKIE, c.join("; "));
        }
        if let Some(t) = &self.csrf {
            req = req.header("x-moxd-csrf", t);
        }
        let mut req = req.body(Body::from(params.to_string())).unwrap();
        req.extensions_mut().insert(ConnInfo {
            peer: SocketAddr::from(([192, 0, 2, 1], 40000)),
            tls: false,
        });
        let r = s.router.clone().oneshot(req).await.unwrap();
        let status = r.status();
        let cookies: Vec<String> = r
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        for c in &cookies {
            let (name, value) = c.split(';').next().unwrap().split_once('=').unwrap();
            self.cookies.retain(|(k, _)| k != name);
            if !value.is_empty() {
                self.cookies.push((name.into(), value.into()));
            }
        }
        let bytes = r.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Resp {
            status,
            cookies,
            body,
        }
    }

    async fn login(&mut self, s: &Setup, root: &str, params: Value) -> Resp {
        let prep = self
            .call(s, &format!("{root}api/LoginPrep"), json!({}))
            .await;
        assert_eq!(prep.status, StatusCode::OK);
        let mut p = params;
        p["loginToken"] = prep.body["result"].clone();
        let r = self.call(s, &format!("{root}api/Login"), p).await;
        if r.status == StatusCode::OK {
            self.csrf = r.body["result"].as_str().map(str::to_string);
        }
        r
    }
}

fn code(r: &Resp) -> &str {
    r.body["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn login_csrf_and_logout() {
    let s = setup();
    let mut b = Browser::default();
    let r = b.call(&s, "/account/api/Account", json!({})).await;
    assert_eq!(
        (r.status, code(&r)),
        (StatusCode::UNAUTHORIZED, "user:noAuth")
    );
    let r = b
        .login(
            &s,
            "/account/",
            json!({ "username": "alice@example.org", "password": "alice-password" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(r.cookies.iter().any(|c| c.starts_with("webaccountsession=")
        && c.ends_with("; Path=/account/; HttpOnly; SameSite=Strict")));
    let r = b.call(&s, "/account/api/Account", json!({})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["result"]["addresses"], json!(["alice@example.org"]));
    assert_eq!(r.body["result"]["sessions"][0]["current"], json!(true));
    assert_eq!(
        r.body["result"]["loginAttempts"][0]["remoteIp"],
        json!("192.0.2.1")
    );

    let csrf = b.csrf.take();
    let r = b
        .call(
            &s,
            "/account/api/SetPassword",
            json!({ "password": "changed-password" }),
        )
        .await;
    assert_eq!((r.status, code(&r)), (StatusCode::FORBIDDEN, "user:csrf"));
    assert_eq!(
        s.store.verify_password("alice", "alice-password").unwrap(),
        Some("alice".into()),
        "unchanged"
    );
    b.csrf = csrf;
    let r = b.call(&s, "/account/api/Logout", json!({})).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = b.call(&s, "/account/api/Account", json!({})).await;
    assert_eq!(code(&r), "user:noAuth", "cookie removed by the logout");
}

#[tokio::test]
async fn password_change_keeps_only_the_changing_session() {
    let s = setup();
    let creds = json!({ "username": "alice", "password": "alice-password" });
    let (mut a, mut b) = (Browser::default(), Browser::default());
    assert_eq!(
        a.login(&s, "/account/", creds.clone()).await.status,
        StatusCode::OK
    );
    assert_eq!(b.login(&s, "/account/", creds).await.status, StatusCode::OK);
    let r = a
        .call(
            &s,
            "/account/api/SetPassword",
            json!({ "password": "new-password-1" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        a.call(&s, "/account/api/Account", json!({})).await.status,
        StatusCode::OK
    );
    let r = b.call(&s, "/account/api/Account", json!({})).await;
    assert_eq!(
        (r.status, code(&r)),
        (StatusCode::UNAUTHORIZED, "user:badAuth")
    );
    assert_eq!(
        s.store.verify_password("alice", "new-password-1").unwrap(),
        Some("alice".into())
    );
}

#[tokio::test]
async fn admin_login_and_changes_through_the_master() {
    let s = setup();
    let mut b = Browser::default();
    let r = b
        .login(&s, "/admin/", json!({ "password": "admin-password" }))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(r.cookies.iter().any(|c| c.starts_with("webadminsession=")));
    // The account cookie does not open the admin interface and vice versa.
    let r = b.call(&s, "/account/api/Account", json!({})).await;
    assert_eq!(code(&r), "user:noAuth");
    let r = b
        .call(
            &s,
            "/admin/api/DomainAdd",
            json!({ "domain": "new.example" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        s.store.domain_list().unwrap(),
        ["example.org", "new.example"]
    );
    let r = b.call(&s, "/admin/api/Overview", json!({})).await;
    assert_eq!(r.body["result"]["status"]["version"], json!("test"));
    assert_eq!(r.body["result"]["accounts"][0]["name"], json!("alice"));
    let r = b.call(&s, "/admin/api/Nope", json!({})).await;
    assert_eq!(
        (r.status, code(&r)),
        (StatusCode::NOT_FOUND, "user:notFound")
    );
}
