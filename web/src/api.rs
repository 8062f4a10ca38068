//! The JSON API's wire shape: a call is `POST <root>api/<Method>` with a
//! JSON object of parameters; the answer is `{"result": …}` or
//! `{"error": {"code": …, "message": …}}` with an HTTP status that
//! matches. Error codes are grouped by who caused them (as mox):
//! `user:…` for the caller, `server:…` for us. All errors become HTTP
//! responses in exactly one place ([`ApiError::into_response`]).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ipc::store::{StoreErrorKind, StoreReply};
use serde::Serialize;

/// No session cookie: the client shows the login form.
pub const NO_AUTH: &str = "user:noAuth";
/// A session cookie that is unknown or expired: the client shows the
/// login form with a message.
pub const BAD_AUTH: &str = "user:badAuth";
/// The CSRF token (header or form field) is missing or not the session's,
/// or the request came from another origin.
pub const CSRF: &str = "user:csrf";
/// Login without a matching login cookie from `LoginPrep`.
pub const LOGIN_TOKEN: &str = "user:loginToken";
/// Wrong login name or password.
pub const LOGIN_FAILED: &str = "user:loginFailed";
/// Too many failed logins from this address (shared with SMTP and IMAP).
pub const RATE_LIMITED: &str = "user:rateLimited";
/// Bad parameters or a refused change.
pub const USER_ERROR: &str = "user:error";
pub const NOT_FOUND: &str = "user:notFound";
pub const SERVER_ERROR: &str = "server:error";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("no session")]
    NoAuth,
    #[error("session expired or unknown")]
    BadAuth,
    #[error("missing or wrong CSRF token")]
    Csrf,
    #[error("missing or wrong login token; start the login again")]
    LoginToken,
    #[error("login failed")]
    LoginFailed,
    #[error("too many failed logins; try again later")]
    RateLimited,
    #[error("{0}")]
    User(String),
    #[error("no such method {0}")]
    NotFound(String),
    /// Logged with context; the client sees a generic message.
    #[error("server error")]
    Server(String),
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::NoAuth => NO_AUTH,
            ApiError::BadAuth => BAD_AUTH,
            ApiError::Csrf => CSRF,
            ApiError::LoginToken => LOGIN_TOKEN,
            ApiError::LoginFailed => LOGIN_FAILED,
            ApiError::RateLimited => RATE_LIMITED,
            ApiError::User(_) => USER_ERROR,
            ApiError::NotFound(_) => NOT_FOUND,
            ApiError::Server(_) => SERVER_ERROR,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::NoAuth | ApiError::BadAuth | ApiError::LoginFailed => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::Csrf | ApiError::LoginToken => StatusCode::FORBIDDEN,
            ApiError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ApiError::User(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Server(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// An internal failure, logged here with its context.
    pub fn server(context: impl std::fmt::Display) -> Self {
        let text = context.to_string();
        tracing::error!(error = %text, "web request failed");
        ApiError::Server(text)
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError::server(format!("{e:#}"))
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: String,
}

#[derive(Serialize)]
struct ErrorEnvelope<'a> {
    error: ErrorBody<'a>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorEnvelope {
            error: ErrorBody {
                code: self.code(),
                message: self.to_string(),
            },
        };
        let mut r = (self.status(), axum::Json(body)).into_response();
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    }
}

/// `{"result": value}` with status 200.
pub fn result(value: serde_json::Value) -> Response {
    let mut r = axum::Json(serde_json::json!({ "result": value })).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// A store error reply as an API error: the caller's mistakes are shown,
/// the store's trouble is logged.
pub fn store_error(reply: StoreReply) -> ApiError {
    match reply {
        StoreReply::Error(e) => match e.kind {
            StoreErrorKind::Invalid
            | StoreErrorKind::NotFound
            | StoreErrorKind::Exists
            | StoreErrorKind::Cannot
            | StoreErrorKind::OverQuota => ApiError::User(e.message),
            StoreErrorKind::Temporary | StoreErrorKind::Forbidden => {
                ApiError::server(format!("store: {e}"))
            }
        },
        other => ApiError::server(format!("unexpected store reply {other:?}")),
    }
}

/// Parameters of a call as a typed value; anything else is the caller's error.
pub fn params<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T, ApiError> {
    serde_json::from_value(v).map_err(|e| ApiError::User(format!("bad parameters: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses() {
        assert_eq!(ApiError::NoAuth.code(), "user:noAuth");
        assert_eq!(ApiError::BadAuth.code(), "user:badAuth");
        assert_eq!(ApiError::Csrf.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            ApiError::RateLimited.status(),
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(
            ApiError::Server("secret detail".into()).to_string(),
            "server error",
            "internal details stay in the log"
        );
    }

    #[test]
    fn store_errors_are_sorted_by_who_caused_them() {
        let e = |kind| {
            store_error(StoreReply::Error(ipc::store::StoreError {
                kind,
                message: "m".into(),
            }))
        };
        assert_eq!(e(StoreErrorKind::Exists), ApiError::User("m".into()));
        assert_eq!(e(StoreErrorKind::Temporary).code(), SERVER_ERROR);
    }
}
