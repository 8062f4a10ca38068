//! Who is asking: the client's IP address (from the socket, or from
//! `X-Forwarded-For` when the socket's peer is a configured trusted proxy),
//! whether it reached us over HTTPS, and its user agent (for the session
//! list). Extracted once per request.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};

use crate::app::AppState;

/// Attached to every request by the connection that carried it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnInfo {
    pub peer: SocketAddr,
    /// The connection is TLS (the HTTPS listener).
    pub tls: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub ip: IpAddr,
    /// Reached us over HTTPS (directly, or via a trusted proxy that says so).
    pub https: bool,
    pub user_agent: String,
}

/// The client as seen through `trusted` proxies. From a trusted peer,
/// the rightmost `X-Forwarded-For` entry that is not itself a trusted
/// proxy is the client (entries further left can be forged by it); from
/// anyone else the headers are ignored.
pub fn resolve(conn: ConnInfo, headers: &HeaderMap, trusted: &[IpAddr]) -> Client {
    let peer = conn.peer.ip().to_canonical();
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let from_proxy = trusted.iter().any(|t| t.to_canonical() == peer);
    if !from_proxy {
        return Client {
            ip: peer,
            https: conn.tls,
            user_agent,
        };
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
        .collect();
    let ip = forwarded
        .iter()
        .rev()
        .find(|ip| !trusted.iter().any(|t| t.to_canonical() == **ip))
        .or(forwarded.first())
        .copied()
        .unwrap_or(peer);
    let https = conn.tls
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
    Client {
        ip,
        https,
        user_agent,
    }
}

impl FromRequestParts<AppState> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let conn = parts
            .extensions
            .get::<ConnInfo>()
            .copied()
            .unwrap_or(ConnInfo {
                peer: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
                tls: false,
            });
        Ok(resolve(conn, &parts.headers, &app.trusted_proxies))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn conn(ip: &str) -> ConnInfo {
        ConnInfo {
            peer: SocketAddr::new(ip.parse().unwrap(), 5000),
            tls: false,
        }
    }

    fn headers(xff: &str, proto: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_str(xff).unwrap());
        h.insert("x-forwarded-proto", HeaderValue::from_str(proto).unwrap());
        h
    }

    #[test]
    fn forwarded_headers_only_from_trusted_proxies() {
        let trusted: Vec<IpAddr> = vec!["10.0.0.1".parse().unwrap()];
        let h = headers("1.2.3.4", "https");
        let direct = resolve(conn("192.0.2.7"), &h, &trusted);
        assert_eq!(direct.ip, "192.0.2.7".parse::<IpAddr>().unwrap());
        assert!(!direct.https);
        let proxied = resolve(conn("10.0.0.1"), &h, &trusted);
        assert_eq!(proxied.ip, "1.2.3.4".parse::<IpAddr>().unwrap());
        assert!(proxied.https);
    }

    #[test]
    fn rightmost_untrusted_entry_wins() {
        let trusted: Vec<IpAddr> = vec!["10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap()];
        // The client forged 6.6.6.6; 1.2.3.4 connected to the outer proxy.
        let h = headers("6.6.6.6, 1.2.3.4, 10.0.0.2", "http");
        let c = resolve(conn("10.0.0.1"), &h, &trusted);
        assert_eq!(c.ip, "1.2.3.4".parse::<IpAddr>().unwrap());
        assert!(!c.https);
        // Garbage is ignored; nothing usable leaves the proxy's address.
        let c = resolve(conn("10.0.0.1"), &headers("junk", "http"), &trusted);
        assert_eq!(c.ip, "10.0.0.1".parse::<IpAddr>().unwrap());
        // IPv4-mapped IPv6 peers match IPv4 entries.
        let c = resolve(
            conn("::ffff:10.0.0.1"),
            &headers("1.2.3.4", "http"),
            &trusted,
        );
        assert_eq!(c.ip, "1.2.3.4".parse::<IpAddr>().unwrap());
    }
}
