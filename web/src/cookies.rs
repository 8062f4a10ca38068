//! Reading and setting cookies (RFC 6265). Session and login cookies are
//! always `HttpOnly`, `SameSite=Strict`, with `Path` = the interface's
//! root, and `Secure` when the client reached us over HTTPS. Session
//! cookies have no expiry attribute (they end with the browser session;
//! the server ends them sooner when idle).

use axum::http::{HeaderMap, HeaderValue, header};

/// The longest cookie value we look at (our tokens are 43 bytes).
pub const MAX_COOKIE_VALUE: usize = 256;

/// The value of the first cookie named `name` in the request (RFC 6265 §5.4).
pub fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim_matches('"'))
        .filter(|v| !v.is_empty() && v.len() <= MAX_COOKIE_VALUE)
}

/// A `Set-Cookie` value. `max_age`: seconds until it expires (None: a
/// session cookie). RFC 6265 §4.1.
pub fn set(name: &str, value: &str, path: &str, secure: bool, max_age: Option<u64>) -> HeaderValue {
    let mut c = format!("{name}={value}; Path={path}; HttpOnly; SameSite=Strict");
    if let Some(secs) = max_age {
        c.push_str(&format!("; Max-Age={secs}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    // Our names, paths and base64url tokens are visible ASCII.
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

/// A `Set-Cookie` value that removes the cookie.
pub fn clear(name: &str, path: &str, secure: bool) -> HeaderValue {
    set(name, "", path, secure, Some(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_named_cookie() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; webadminsession=tok"),
        );
        h.append(
            header::COOKIE,
            HeaderValue::from_static("webaccountsession=\"x\""),
        );
        assert_eq!(get(&h, "webadminsession"), Some("tok"));
        assert_eq!(get(&h, "webaccountsession"), Some("x"));
        assert_eq!(get(&h, "webadmin"), None);
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("webadminsession="));
        assert_eq!(get(&h, "webadminsession"), None, "empty is absent");
    }

    #[test]
    fn attributes() {
        let c = set("webaccountsession", "t", "/account/", true, None);
        assert_eq!(
            c.to_str().unwrap(),
            "webaccountsession=t; Path=/account/; HttpOnly; SameSite=Strict; Secure"
        );
        let c = set("webaccountlogin", "t", "/", false, Some(30));
        assert_eq!(
            c.to_str().unwrap(),
            "webaccountlogin=t; Path=/; HttpOnly; SameSite=Strict; Max-Age=30"
        );
        assert!(
            clear("x", "/", false)
                .to_str()
                .unwrap()
                .contains("Max-Age=0")
        );
    }
}
