//! A small blocking HTTP/1.1 client for the web tests: exact control over
//! every header (Origin, Cookie, X-Forwarded-For), a chosen source address
//! on 127.0.0.0/8, plain or TLS, and a cookie jar that follows Set-Cookie.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

/// How long one request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The Set-Cookie header for cookie `name`.
    pub fn set_cookie(&self, name: &str) -> Option<&str> {
        self.all("set-cookie")
            .into_iter()
            .find(|c| c.starts_with(&format!("{name}=")))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.text()))
    }

    /// The error code of an API answer ("" when it has none).
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }
}

fn connect(addr: SocketAddr, from: Option<IpAddr>) -> TcpStream {
    let stream = match from {
        None => TcpStream::connect_timeout(&addr, REQUEST_TIMEOUT).expect("connect"),
        Some(IpAddr::V4(src)) => {
            use nix::sys::socket::{
                AddressFamily, SockFlag, SockType, SockaddrIn, bind, connect, socket,
            };
            let fd = socket(
                AddressFamily::Inet,
                SockType::Stream,
                SockFlag::SOCK_CLOEXEC,
                None,
            )
            .expect("socket");
            let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
            bind(raw, &SockaddrIn::from(std::net::SocketAddrV4::new(src, 0))).expect("bind source");
            let SocketAddr::V4(dst) = addr else {
                panic!("IPv4 source needs an IPv4 destination")
            };
            connect(raw, &SockaddrIn::from(dst)).expect("connect");
            TcpStream::from(fd)
        }
        Some(IpAddr::V6(_)) => panic!("IPv6 source addresses are not used"),
    };
    stream.set_read_timeout(Some(REQUEST_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(REQUEST_TIMEOUT)).unwrap();
    stream
}

/// Trusts exactly one certificate (localserve's self-signed one).
fn tls_config(cert_pem: &[u8]) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(cert_pem) {
        roots.add(c.expect("certificate")).expect("add root");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

fn parse(raw: &[u8]) -> Resp {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        body = dechunk(&body);
    }
    Resp {
        status,
        headers,
        body,
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..100_000 {
        let Some(nl) = b.windows(2).position(|w| w == b"\r\n") else {
            break;
        };
        let size_text = String::from_utf8_lossy(&b[..nl]).into_owned();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&b[nl + 2..nl + 2 + size]);
        b = &b[nl + 2 + size + 2..];
    }
    out
}

/// A request; `Host`, `Connection: close` and `Content-Length` are added.
pub struct Req<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl<'a> Req<'a> {
    pub fn new(method: &'a str, path: &'a str) -> Self {
        Req {
            method,
            path,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    fn bytes(&self, host: &str) -> Vec<u8> {
        let mut s = format!("{} {} HTTP/1.1\r\nHost: {host}\r\n", self.method, self.path);
        for (n, v) in &self.headers {
            s.push_str(&format!("{n}: {v}\r\n"));
        }
        s.push_str(&format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            self.body.len()
        ));
        let mut b = s.into_bytes();
        b.extend_from_slice(&self.body);
        b
    }
}

/// Where requests go: a listener, a source address, plain or TLS.
#[derive(Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub from: Option<IpAddr>,
    /// TLS trusting this certificate (PEM).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub host: String,
}

impl Target {
    pub fn http(addr: SocketAddr) -> Self {
        Target {
            addr,
            from: None,
            tls: None,
            host: format!("localhost:{}", addr.port()),
        }
    }

    pub fn https(addr: SocketAddr, cert_pem: &[u8]) -> Self {
        Target {
            tls: Some(tls_config(cert_pem)),
            ..Target::http(addr)
        }
    }

    pub fn from(mut self, ip: &str) -> Self {
        self.from = Some(ip.parse().expect("source ip"));
        self
    }

    pub fn send(&self, req: &Req<'_>) -> Resp {
        let mut stream = connect(self.addr, self.from);
        let bytes = req.bytes(&self.host);
        let mut raw = Vec::new();
        match &self.tls {
            None => {
                stream.write_all(&bytes).expect("write");
                stream.read_to_end(&mut raw).expect("read");
            }
            Some(cfg) => {
                let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
                let conn = rustls::ClientConnection::new(cfg.clone(), name).expect("tls");
                let mut tls = rustls::StreamOwned::new(conn, stream);
                tls.write_all(&bytes).expect("tls write");
                // A peer that closes without close_notify is fine here.
                if let Err(e) = tls.read_to_end(&mut raw) {
                    assert!(
                        e.kind() == std::io::ErrorKind::UnexpectedEof,
                        "tls read: {e}"
                    );
                }
            }
        }
        parse(&raw)
    }
}

/// A browser-like client of one interface: a cookie jar and the CSRF
/// token from its login.
pub struct Client {
    pub target: Target,
    /// Interface root, e.g. `/account/`.
    pub root: String,
    pub jar: BTreeMap<String, String>,
    pub csrf: Option<String>,
}

impl Client {
    pub fn new(target: Target, root: &str) -> Self {
        Client {
            target,
            root: root.to_string(),
            jar: BTreeMap::new(),
            csrf: None,
        }
    }

    fn cookie_header(&self) -> Option<String> {
        (!self.jar.is_empty()).then(|| {
            self.jar
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    /// Sends `req` with the jar's cookies and takes the answer's cookies.
    pub fn send(&mut self, mut req: Req<'_>) -> Resp {
        if let Some(c) = self.cookie_header() {
            req = req.header("Cookie", &c);
        }
        let r = self.target.send(&req);
        for c in r.all("set-cookie") {
            let first = c.split(';').next().unwrap_or("");
            if let Some((name, value)) = first.split_once('=') {
                if value.is_empty() || c.contains("Max-Age=0") {
                    self.jar.remove(name);
                } else {
                    self.jar.insert(name.to_string(), value.to_string());
                }
            }
        }
        r
    }

    /// An API call with the JSON parameters and, if any, the CSRF token.
    pub fn api(&mut self, method: &str, params: serde_json::Value) -> Resp {
        let path = format!("{}api/{method}", self.root);
        let mut req = Req::new("POST", &path)
            .header("Content-Type", "application/json")
            .body(params.to_string());
        if let Some(t) = self.csrf.clone() {
            req = req.header("x-moxd-csrf", &t);
        }
        self.send(req)
    }

    /// An API call with an explicit CSRF header (None: no header).
    pub fn api_with_csrf(
        &mut self,
        method: &str,
        params: serde_json::Value,
        csrf: Option<&str>,
    ) -> Resp {
        let path = format!("{}api/{method}", self.root);
        let mut req = Req::new("POST", &path)
            .header("Content-Type", "application/json")
            .body(params.to_string());
        if let Some(t) = csrf {
            req = req.header("x-moxd-csrf", t);
        }
        self.send(req)
    }

    pub fn get(&mut self, path: &str) -> Resp {
        self.send(Req::new("GET", path))
    }

    /// LoginPrep then Login; the answer of Login. On success the CSRF
    /// token is kept.
    pub fn login(&mut self, username: Option<&str>, password: &str) -> Resp {
        let prep = self.api("LoginPrep", serde_json::json!({}));
        assert_eq!(prep.status, 200, "LoginPrep: {}", prep.text());
        let token = prep.json()["result"]
            .as_str()
            .expect("login token")
            .to_string();
        let mut params = serde_json::json!({ "loginToken": token, "password": password });
        if let Some(u) = username {
            params["username"] = serde_json::Value::String(u.to_string());
        }
        let r = self.api("Login", params);
        if r.status == 200 {
            self.csrf = Some(r.json()["result"].as_str().expect("csrf token").to_string());
        }
        r
    }
}
