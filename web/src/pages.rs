//! The HTML pages, rendered on the server (askama templates in
//! `templates/`): an interface's root shows its page to a logged-in
//! session and the login form to anyone else (with a message when the
//! session cookie is expired or unknown). The logout form post lives here
//! too: it is a plain form (no script needed), so its CSRF token travels
//! as the `csrf` form field.

use askama::Template;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ipc::store::WebInterface;

use crate::api::ApiError;
use crate::app::App;
use crate::auth::{self, CSRF_FIELD};
use crate::client::Client;
use crate::cookies;
use crate::interface::Interface;
use crate::methods::{self, AccountView, AdminView};

/// Shown on the login form when the session cookie is expired or unknown.
pub const SESSION_ENDED: &str = "Your session has ended. Please log in again.";

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    iface: &'a str,
    root: &'a str,
    title: &'a str,
    hostname: &'a str,
    logged_in: bool,
    admin: bool,
    message: &'a str,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    iface: &'a str,
    root: &'a str,
    title: &'a str,
    hostname: &'a str,
    logged_in: bool,
    admin: bool,
    message: &'a str,
    view: &'a AccountView,
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage<'a> {
    iface: &'a str,
    root: &'a str,
    title: &'a str,
    hostname: &'a str,
    logged_in: bool,
    admin: bool,
    message: &'a str,
    view: &'a AdminView,
}

fn html(status: StatusCode, body: askama::Result<String>) -> Response {
    match body {
        Ok(b) => {
            let mut r = (status, b).into_response();
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            &ApiError::server(format!("rendering page: {e}")).to_string(),
        ),
    }
}

fn plain(status: StatusCode, text: &str) -> Response {
    let mut r = (status, format!("{text}\n")).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn login_page(app: &App, iface: &Interface, message: &str) -> Response {
    html(
        StatusCode::OK,
        LoginPage {
            iface: iface.name(),
            root: &iface.root,
            title: iface.title(),
            hostname: &app.hostname,
            logged_in: false,
            admin: iface.kind == WebInterface::Admin,
            message,
        }
        .render(),
    )
}

/// GET of an interface's root.
pub async fn page(app: &App, iface: &Interface, headers: &HeaderMap, client: &Client) -> Response {
    let authed = match auth::page_session(app, iface, headers).await {
        Ok(Some(a)) => a,
        Ok(None) => return login_page(app, iface, ""),
        Err(ApiError::BadAuth) => {
            let mut r = login_page(app, iface, SESSION_ENDED);
            r.headers_mut().append(
                header::SET_COOKIE,
                cookies::clear(iface.session_cookie(), &iface.root, client.https),
            );
            return r;
        }
        Err(e) => return plain(e.status(), &e.to_string()),
    };
    let (iface_name, root, title, hostname) = (
        iface.name(),
        iface.root.as_str(),
        iface.title(),
        app.hostname.as_str(),
    );
    match iface.kind {
        WebInterface::Account => match methods::account_view(app, &authed).await {
            Ok(view) => html(
                StatusCode::OK,
                AccountPage {
                    iface: iface_name,
                    root,
                    title,
                    hostname,
                    logged_in: true,
                    admin: false,
                    message: "",
                    view: &view,
                }
                .render(),
            ),
            Err(e) => plain(e.status(), &e.to_string()),
        },
        WebInterface::Admin => match methods::admin_view(app).await {
            Ok(view) => html(
                StatusCode::OK,
                AdminPage {
                    iface: iface_name,
                    root,
                    title,
                    hostname,
                    logged_in: true,
                    admin: true,
                    message: "",
                    view: &view,
                }
                .render(),
            ),
            Err(e) => plain(e.status(), &e.to_string()),
        },
    }
}

/// One field of an `application/x-www-form-urlencoded` body.
pub fn form_field(body: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (percent_decode(k)? == name)
            .then(|| percent_decode(v))
            .flatten()
    })
}

/// `+` is a space, `%XX` a byte (HTML form encoding); None when malformed.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// POST `<root>logout` from the page's plain logout form.
pub async fn form_logout(
    app: &App,
    iface: &Interface,
    headers: &HeaderMap,
    client: &Client,
    body: &[u8],
) -> Response {
    let csrf = form_field(body, CSRF_FIELD);
    let authed = match auth::require(app, iface, headers, client, csrf.as_deref()).await {
        Ok(a) => a,
        Err(e) => return plain(e.status(), &e.to_string()),
    };
    let mut redirect = StatusCode::SEE_OTHER.into_response();
    if let Ok(loc) = HeaderValue::from_str(&iface.root) {
        redirect.headers_mut().insert(header::LOCATION, loc);
    }
    match crate::login::logout(app, iface, client, &authed, redirect).await {
        Ok(r) => r,
        Err(e) => plain(e.status(), &e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_fields() {
        let body = b"a=1&csrf=abc-_D%2B&x=y+z";
        assert_eq!(form_field(body, "csrf").as_deref(), Some("abc-_D+"));
        assert_eq!(form_field(body, "x").as_deref(), Some("y z"));
        assert_eq!(form_field(body, "nope"), None);
        assert_eq!(form_field(b"csrf=%zz", "csrf"), None);
        assert_eq!(form_field(b"", "csrf"), None);
    }
}
