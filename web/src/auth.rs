//! Who is logged in, and whether a state-changing request really comes
//! from our own page. Server-side sessions (store/src/websession.rs) with
//! one cookie per interface; every API call and form post must carry the
//! session's CSRF token (header `x-moxd-csrf`, or form field `csrf`), and
//! a request that says it comes from another origin is refused
//! (`Origin`, `Sec-Fetch-Site`). GETs change nothing and need no token.
//!
//! Order of checks: no session cookie → `user:noAuth`; a cookie the store
//! does not know (or that expired) → `user:badAuth`; cross-origin, or a
//! missing or wrong CSRF token → 403 `user:csrf`. Nothing is changed
//! before all of them pass.

use axum::http::{HeaderMap, header};
use ipc::store::{StoreReply, StoreRequest, WebSession, WebSessionStatus};

use crate::api::ApiError;
use crate::app::App;
use crate::client::Client;
use crate::cookies;
use crate::interface::Interface;

/// The header API calls carry the CSRF token in.
pub const CSRF_HEADER: &str = "x-moxd-csrf";
/// The form field plain form posts carry it in.
pub const CSRF_FIELD: &str = "csrf";

/// A request with a valid session.
#[derive(Debug, Clone)]
pub struct Authed {
    pub session: WebSession,
    /// The session cookie's value (to keep this session on a password change).
    pub token: String,
}

impl Authed {
    /// The session's account (account interface only).
    pub fn account(&self) -> Result<&str, ApiError> {
        self.session
            .account
            .as_deref()
            .ok_or_else(|| ApiError::server("account session without an account"))
    }
}

/// Whether the request may come from a page of ours: no `Origin` (or one
/// equal to this server's as the client addressed it) and no
/// `Sec-Fetch-Site` saying another site sent it.
pub fn same_origin(headers: &HeaderMap, client: &Client) -> bool {
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if matches!(fetch_site, Some("cross-site" | "same-site")) {
        return false;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let (Ok(origin), Some(host)) = (
        origin.to_str(),
        headers.get(header::HOST).and_then(|h| h.to_str().ok()),
    ) else {
        return false;
    };
    let scheme = if client.https { "https" } else { "http" };
    origin.eq_ignore_ascii_case(&format!("{scheme}://{host}"))
}

/// The session of the request, checked as the module says; `csrf`: the
/// token the request carried (None: none, for a state-changing request
/// that is a refusal). With `touch`, the session is extended.
pub async fn require(
    app: &App,
    iface: &Interface,
    headers: &HeaderMap,
    client: &Client,
    csrf: Option<&str>,
) -> Result<Authed, ApiError> {
    let token = cookies::get(headers, iface.session_cookie()).ok_or(ApiError::NoAuth)?;
    let origin_ok = same_origin(headers, client);
    // A missing token is checked against the session first, so an expired
    // session is reported as such (the client then logs in again).
    let csrf = if origin_ok { csrf } else { None };
    let status = check(app, iface, token, csrf.or(Some("")), csrf.is_some()).await?;
    match status {
        WebSessionStatus::Invalid => Err(ApiError::BadAuth),
        WebSessionStatus::BadCsrf => Err(ApiError::Csrf),
        WebSessionStatus::Valid(session) if origin_ok && csrf.is_some() => Ok(Authed {
            session,
            token: token.to_string(),
        }),
        WebSessionStatus::Valid(_) => Err(ApiError::Csrf),
    }
}

/// The session of a page request (GET: no CSRF token needed); None: the
/// login page is shown, `Err(BadAuth)` with the message for an expired one.
pub async fn page_session(
    app: &App,
    iface: &Interface,
    headers: &HeaderMap,
) -> Result<Option<Authed>, ApiError> {
    let Some(token) = cookies::get(headers, iface.session_cookie()) else {
        return Ok(None);
    };
    match check(app, iface, token, None, true).await? {
        WebSessionStatus::Valid(session) => Ok(Some(Authed {
            session,
            token: token.to_string(),
        })),
        WebSessionStatus::Invalid | WebSessionStatus::BadCsrf => Err(ApiError::BadAuth),
    }
}

async fn check(
    app: &App,
    iface: &Interface,
    token: &str,
    csrf: Option<&str>,
    touch: bool,
) -> Result<WebSessionStatus, ApiError> {
    let req = StoreRequest::WebSessionCheck {
        interface: iface.kind,
        token: token.to_string(),
        csrf: csrf.map(str::to_string),
        touch,
    };
    match app.backend.store(req).await? {
        StoreReply::WebSessionChecked(s) => Ok(s),
        other => Err(crate::api::store_error(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn client(https: bool) -> Client {
        Client {
            ip: "127.0.0.1".parse().unwrap(),
            https,
            user_agent: String::new(),
        }
    }

    #[test]
    fn origin_must_match_the_host() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("localhost:1080"));
        assert!(
            same_origin(&h, &client(false)),
            "no Origin: a non-browser client"
        );
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://localhost:1080"),
        );
        assert!(same_origin(&h, &client(false)));
        assert!(!same_origin(&h, &client(true)), "scheme differs");
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(!same_origin(&h, &client(false)));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_origin(&h, &client(false)));
        let mut h = HeaderMap::new();
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(!same_origin(&h, &client(false)));
        h.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(same_origin(&h, &client(false)));
    }
}
