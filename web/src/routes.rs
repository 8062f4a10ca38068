//! The URL space. On the public (HTTP and HTTPS) listeners, for each
//! interface at its root: the page (GET `<root>`), the API (POST
//! `<root>api/<Method>`), the logout form post (POST `<root>logout`) and
//! the two static files. The metrics listener serves only GET `/metrics`,
//! and `/metrics` does not exist on the public listeners.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Extension, Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use ipc::master::{MasterToWorker, WorkerToMaster};
use ipc::store::WebInterface;
use serde_json::Value;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::api::{self, ApiError};
use crate::app::AppState;
use crate::auth::{self, CSRF_HEADER};
use crate::client::Client;
use crate::interface::Interface;
use crate::metrics::Kind;
use crate::{assets, login, methods, pages};

/// Largest request body (API parameters, form posts).
pub const MAX_BODY: usize = 64 * 1024;

/// What pages may load and where they may send things: our own script,
/// style and API only; no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The router of the HTTP and HTTPS listeners.
pub fn public(app: AppState) -> Router {
    let mut r = Router::new();
    for iface in [app.account.clone(), app.admin.clone()] {
        let root = iface.root.clone();
        let ext = Extension(iface.clone());
        r = r
            .route(&root, get(page).layer(ext.clone()))
            .route(
                &format!("{root}api/{{method}}"),
                post(api_call).layer(ext.clone()),
            )
            .route(
                &format!("{root}logout"),
                post(form_logout).layer(ext.clone()),
            )
            .route(&format!("{root}app.js"), get(app_js))
            .route(&format!("{root}style.css"), get(style_css));
        if root != "/" {
            let bare = root.trim_end_matches('/').to_string();
            let to = root.clone();
            r = r.route(&bare, get(move || async move { Redirect::to(&to) }));
        }
    }
    if app.account.root != "/" && app.admin.root != "/" {
        let to = app.account.root.clone();
        r = r.route("/", get(move || async move { Redirect::to(&to) }));
    }
    let header = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
    };
    r.fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(header(
            header::CONTENT_SECURITY_POLICY,
            CONTENT_SECURITY_POLICY,
        ))
        .layer(header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header(header::X_FRAME_OPTIONS, "DENY"))
        // Not "no-referrer": with it browsers send `Origin: null` on our
        // own form posts, which the origin check refuses.
        .layer(header(header::REFERRER_POLICY, "same-origin"))
        .with_state(app)
}

/// The router of the metrics listener.
pub fn metrics(app: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics_page))
        .fallback(not_found)
        .with_state(app)
}

async fn not_found(State(app): State<AppState>) -> Response {
    app.metrics.request(Kind::Other);
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

async fn app_js(State(app): State<AppState>) -> Response {
    app.metrics.request(Kind::Asset);
    assets::app_js()
}

async fn style_css(State(app): State<AppState>) -> Response {
    app.metrics.request(Kind::Asset);
    assets::style_css()
}

async fn page(
    State(app): State<AppState>,
    Extension(iface): Extension<Arc<Interface>>,
    client: Client,
    headers: HeaderMap,
) -> Response {
    app.metrics.request(Kind::Page);
    pages::page(&app, &iface, &headers, &client).await
}

async fn form_logout(
    State(app): State<AppState>,
    Extension(iface): Extension<Arc<Interface>>,
    client: Client,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    app.metrics.request(Kind::Form);
    pages::form_logout(&app, &iface, &headers, &client, &body).await
}

async fn api_call(
    State(app): State<AppState>,
    Extension(iface): Extension<Arc<Interface>>,
    Path(method): Path<String>,
    client: Client,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    app.metrics.request(Kind::Api);
    let r = match call(&app, &iface, &method, &client, &headers, &body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    if !r.status().is_success() {
        app.metrics.api_error();
    }
    r
}

/// The parameters: a JSON object (an empty body is `{}`).
fn params(body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(ApiError::User("parameters must be a JSON object".into())),
    }
}

async fn call(
    app: &AppState,
    iface: &Interface,
    method: &str,
    client: &Client,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    // Nothing another origin sends is acted on, not even a login.
    if !auth::same_origin(headers, client) {
        return Err(ApiError::Csrf);
    }
    match method {
        "LoginPrep" => return Ok(login::login_prep(app, iface, client)),
        "Login" => return Ok(login::login(app, iface, client, headers, params(body)?).await),
        _ => {}
    }
    let csrf = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    let authed = auth::require(app, iface, headers, client, csrf).await?;
    let params = params(body)?;
    if method == "Logout" {
        return login::logout(app, iface, client, &authed, api::result(Value::Null)).await;
    }
    let result = match iface.kind {
        WebInterface::Account => methods::account_call(app, &authed, method, params).await?,
        WebInterface::Admin => methods::admin_call(app, method, params).await?,
    };
    Ok(api::result(result))
}

async fn metrics_page(State(app): State<AppState>) -> Response {
    app.metrics.request(Kind::Metrics);
    match app.backend.master(WorkerToMaster::GatherMetrics).await {
        Ok(MasterToWorker::GatheredMetrics { text }) => {
            let mut r = text.into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            r
        }
        Ok(other) => {
            tracing::warn!(?other, "unexpected answer to a metrics request");
            (StatusCode::SERVICE_UNAVAILABLE, "metrics unavailable\n").into_response()
        }
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "gathering metrics");
            (StatusCode::SERVICE_UNAVAILABLE, "metrics unavailable\n").into_response()
        }
    }
}
