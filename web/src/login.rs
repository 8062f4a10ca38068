//! Logging in and out. `LoginPrep` hands out a random login token, both
//! as a short-lived cookie and in the answer; `Login` must send it back in
//! its parameters and carry the cookie (so another site cannot log a
//! victim's browser into the attacker's account: login CSRF), and each
//! token works once. Only then is the rate limit asked (shared with SMTP
//! and IMAP per IP class, in the store) and the password checked. A
//! failure costs a second; a success makes a new session in the store
//! (never one the client names: no session fixation) and answers with
//! its CSRF token.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use ipc::store::{StoreReply, StoreRequest, WebInterface};
use serde::Deserialize;

use crate::api::{self, ApiError};
use crate::app::App;
use crate::auth::Authed;
use crate::client::Client;
use crate::cookies;
use crate::interface::Interface;
use crate::metrics::Login;

/// How long a login token is good for (as mox).
pub const LOGIN_TOKEN_TTL: Duration = Duration::from_secs(30);
/// Login tokens outstanding at once; beyond, the oldest are forgotten.
pub const MAX_LOGIN_TOKENS: usize = 10_000;
/// Random bytes in a login token.
pub const LOGIN_TOKEN_BYTES: usize = 16;
/// How long a failed login waits before answering (as mox's authFailDelay).
pub const FAILED_LOGIN_DELAY: Duration = Duration::from_secs(1);
/// Longest password accepted in a login.
pub const MAX_PASSWORD: usize = 1024;

/// Login tokens handed out by `LoginPrep` and not used yet.
#[derive(Debug, Default)]
pub struct LoginTokens {
    issued: Mutex<HashMap<String, Instant>>,
}

impl LoginTokens {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.issued.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A fresh token, remembered for [`LOGIN_TOKEN_TTL`].
    pub fn issue(&self, now: Instant) -> String {
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(rand::random::<[u8; LOGIN_TOKEN_BYTES]>());
        let mut m = self.lock();
        m.retain(|_, t| now.duration_since(*t) < LOGIN_TOKEN_TTL);
        while m.len() >= MAX_LOGIN_TOKENS {
            let Some(oldest) = m.iter().min_by_key(|(_, t)| **t).map(|(k, _)| k.clone()) else {
                break;
            };
            m.remove(&oldest);
        }
        m.insert(token.clone(), now);
        token
    }

    /// Whether `token` was issued, is fresh and unused; it is used up
    /// either way.
    pub fn redeem(&self, token: &str, now: Instant) -> bool {
        self.lock()
            .remove(token)
            .is_some_and(|t| now.duration_since(t) < LOGIN_TOKEN_TTL)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LoginParams {
    login_token: String,
    /// The account's address (or account name); not for the admin interface.
    #[serde(default)]
    username: Option<String>,
    password: String,
}

/// `LoginPrep`: a login token as cookie and result.
pub fn login_prep(app: &App, iface: &Interface, client: &Client) -> Response {
    let token = app.login_tokens.issue(Instant::now());
    let mut r = api::result(serde_json::Value::String(token.clone()));
    r.headers_mut().append(
        header::SET_COOKIE,
        cookies::set(
            iface.login_cookie(),
            &token,
            &iface.root,
            client.https,
            Some(LOGIN_TOKEN_TTL.as_secs()),
        ),
    );
    r
}

/// `Login`: see the module comment. The login cookie is removed in every answer.
pub async fn login(
    app: &App,
    iface: &Interface,
    client: &Client,
    headers: &HeaderMap,
    params: serde_json::Value,
) -> Response {
    let admin = iface.kind == WebInterface::Admin;
    let outcome = login_inner(app, iface, client, headers, params).await;
    let mut r = match outcome {
        Ok((new, csrf)) => {
            app.metrics.login(admin, Login::Success);
            let mut r = api::result(serde_json::Value::String(csrf));
            r.headers_mut().append(
                header::SET_COOKIE,
                cookies::set(
                    iface.session_cookie(),
                    &new,
                    &iface.root,
                    client.https,
                    None,
                ),
            );
            r
        }
        Err(e) => {
            let m = match e {
                ApiError::RateLimited => Login::RateLimited,
                ApiError::LoginToken => Login::BadToken,
                _ => Login::Failure,
            };
            app.metrics.login(admin, m);
            e.into_response()
        }
    };
    r.headers_mut().append(
        header::SET_COOKIE,
        cookies::clear(iface.login_cookie(), &iface.root, client.https),
    );
    r
}

/// Returns the new session's cookie value and CSRF token.
async fn login_inner(
    app: &App,
    iface: &Interface,
    client: &Client,
    headers: &HeaderMap,
    params: serde_json::Value,
) -> Result<(String, String), ApiError> {
    let p: LoginParams = api::params(params)?;
    // Login CSRF: the cookie must be there and equal the token, and the
    // token must be one we issued and nobody used.
    // Every token presented is used up, whatever the outcome.
    let now = Instant::now();
    let issued = app.login_tokens.redeem(&p.login_token, now);
    let cookie = cookies::get(headers, iface.login_cookie()).ok_or(ApiError::LoginToken)?;
    let same = cookie.len() == p.login_token.len()
        && cookie
            .bytes()
            .zip(p.login_token.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !same {
        app.login_tokens.redeem(cookie, now);
    }
    if !same || !issued {
        return Err(ApiError::LoginToken);
    }
    let backend = &app.backend;
    match backend
        .store(StoreRequest::AuthCheck { ip: client.ip })
        .await?
    {
        StoreReply::AuthAllowed(true) => {}
        StoreReply::AuthAllowed(false) => {
            tracing::info!(ip = %client.ip, interface = iface.name(), "web login refused: rate limited");
            return Err(ApiError::RateLimited);
        }
        other => return Err(api::store_error(other)),
    }
    if p.password.len() > MAX_PASSWORD {
        return Err(ApiError::User("password too long".into()));
    }
    let (account, login_name) = match iface.kind {
        WebInterface::Account => {
            let username = p
                .username
                .filter(|u| !u.is_empty())
                .ok_or_else(|| ApiError::User("username missing".into()))?;
            let req = StoreRequest::VerifyPassword {
                login: username.clone(),
                password: p.password,
            };
            match backend.store(req).await? {
                StoreReply::Authenticated(a) => (a, Some(username)),
                other => return Err(api::store_error(other)),
            }
        }
        WebInterface::Admin => {
            if p.username.is_some() {
                return Err(ApiError::User("the admin login has no username".into()));
            }
            let req = StoreRequest::AdminPasswordVerify {
                password: p.password,
            };
            match backend.store(req).await? {
                StoreReply::AdminVerified(true) => (Some(String::new()), None),
                StoreReply::AdminVerified(false) => (None, None),
                other => return Err(api::store_error(other)),
            }
        }
    };
    let success = account.is_some();
    let _ = backend
        .store(StoreRequest::AuthRecord {
            ip: client.ip,
            success,
        })
        .await;
    if let Some(login) = login_name {
        let _ = backend
            .store(StoreRequest::LoginAttemptAdd {
                login,
                remote_ip: client.ip.to_string(),
                user_agent: client.user_agent.clone(),
                success,
            })
            .await;
    }
    let Some(account) = account else {
        tracing::info!(ip = %client.ip, interface = iface.name(), "web login failed");
        tokio::time::sleep(FAILED_LOGIN_DELAY).await;
        return Err(ApiError::LoginFailed);
    };
    // A session the client brought along is ended, never adopted.
    if let Some(old) = cookies::get(headers, iface.session_cookie()) {
        let _ = backend
            .store(StoreRequest::WebSessionDelete {
                interface: iface.kind,
                token: old.to_string(),
            })
            .await;
    }
    let req = StoreRequest::WebSessionCreate {
        interface: iface.kind,
        account: (iface.kind == WebInterface::Account).then_some(account),
        idle_secs: iface.idle_secs,
        remote_ip: client.ip.to_string(),
        user_agent: client.user_agent.clone(),
    };
    match backend.store(req).await? {
        StoreReply::WebSessionCreated(s) => {
            tracing::info!(ip = %client.ip, interface = iface.name(), session = s.id, "web login");
            Ok((s.token, s.csrf))
        }
        other => Err(api::store_error(other)),
    }
}

/// Ends the session and removes its cookie.
pub async fn logout(
    app: &App,
    iface: &Interface,
    client: &Client,
    authed: &Authed,
    mut r: Response,
) -> Result<Response, ApiError> {
    match app
        .backend
        .store(StoreRequest::WebSessionDelete {
            interface: iface.kind,
            token: authed.token.clone(),
        })
        .await?
    {
        StoreReply::Ok => {}
        other => return Err(api::store_error(other)),
    }
    r.headers_mut().append(
        header::SET_COOKIE,
        cookies::clear(iface.session_cookie(), &iface.root, client.https),
    );
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_work_once_and_expire() {
        let t = LoginTokens::default();
        let now = Instant::now();
        let a = t.issue(now);
        let b = t.issue(now);
        assert_ne!(a, b);
        assert!(t.redeem(&a, now));
        assert!(!t.redeem(&a, now), "single use");
        assert!(!t.redeem("made-up", now));
        assert!(!t.redeem(&b, now + LOGIN_TOKEN_TTL), "expired");
    }

    #[test]
    fn outstanding_tokens_are_capped() {
        let t = LoginTokens::default();
        let now = Instant::now();
        let first = t.issue(now);
        for i in 0..MAX_LOGIN_TOKENS {
            t.issue(now + Duration::from_millis(1 + i as u64 % 1000));
        }
        assert!(t.lock().len() <= MAX_LOGIN_TOKENS);
        assert!(!t.redeem(&first, now), "the oldest was forgotten");
    }
}
