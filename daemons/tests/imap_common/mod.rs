//! Shared harness for the IMAP session tests: sessions over
//! `tokio::io::duplex` with the in-memory backend, a small IMAP client
//! that reads responses with their literals, TLS setup, and SCRAM client
//! steps.

#![allow(dead_code, reason = "each test file uses a different part")]

use std::sync::Arc;
use std::time::Duration;

use daemons::imap::testing::MemBackend;
use daemons::imap::{Config, PeerInfo, Session, SessionError, TlsConfig};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio::task::JoinHandle;

/// Upper bound for any single wait in a test.
pub const WAIT: Duration = Duration::from_secs(10);
pub const HOST: &str = "imap.local.test";
pub const USER: &str = "mjones@local.test";
pub const ACCOUNT: &str = "mjones";
pub const PASSWORD: &str = "secret";

/// A backend with one user (and a second one for isolation tests).
pub fn backend() -> MemBackend {
    MemBackend::new()
        .with_user(USER, ACCOUNT, PASSWORD)
        .with_user("other@local.test", "other", "pw2")
}

/// A config for plain-text tests: logins allowed without TLS, short
/// delays.
pub fn config() -> Config {
    let mut c = Config::new(HOST);
    c.login_without_tls = true;
    c.limits.auth_fail_delay = Duration::from_millis(5);
    c
}

pub struct Running {
    pub client: Client<DuplexStream>,
    pub task: JoinHandle<Result<(), SessionError>>,
}

impl Running {
    /// Wait for the session to end and return its result.
    pub async fn ended(self) -> Result<(), SessionError> {
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("session did not end")
            .expect("session task panicked")
    }
}

/// Starts a session over an in-memory pipe; the greeting is not read yet.
pub fn start(cfg: Config, backend: Arc<MemBackend>) -> Running {
    start_with_shutdown(cfg, backend, tokio_util::sync::CancellationToken::new())
}

/// [`start`] with a shutdown token.
pub fn start_with_shutdown(
    cfg: Config,
    backend: Arc<MemBackend>,
    token: tokio_util::sync::CancellationToken,
) -> Running {
    let (client, server) = tokio::io::duplex(256 * 1024);
    let peer = PeerInfo {
        remote: "192.0.2.7:40000".parse().expect("address"),
        remote_name: None,
    };
    let session = Session::new(server, Arc::new(cfg), backend, peer).with_shutdown(token);
    Running {
        client: Client::new(client),
        task: tokio::spawn(session.run()),
    }
}

/// Starts a session, reads the greeting and logs in.
pub async fn logged_in(backend: Arc<MemBackend>) -> Running {
    let mut r = start(config(), backend);
    let g = r.client.line().await.expect("greeting");
    assert!(g.starts_with("* OK [CAPABILITY IMAP4rev2 IMAP4rev1"), "{g}");
    r.client.ok(&format!("LOGIN {USER} {PASSWORD}")).await;
    r
}

/// A tagged reply and the untagged responses before it.
#[derive(Debug, Clone)]
pub struct Reply {
    pub untagged: Vec<String>,
    /// The tagged line without its tag, e.g. `OK [READ-WRITE] SELECT completed`.
    pub tagged: String,
}

impl Reply {
    pub fn is_ok(&self) -> bool {
        self.tagged.starts_with("OK")
    }

    /// The untagged lines that start with `prefix` (after `* `).
    pub fn with(&self, prefix: &str) -> Vec<String> {
        self.untagged
            .iter()
            .filter_map(|l| l.strip_prefix("* "))
            .filter(|l| l.starts_with(prefix))
            .map(str::to_string)
            .collect()
    }

    pub fn has(&self, line: &str) -> bool {
        self.untagged.iter().any(|l| l == line)
    }
}

pub struct Client<T> {
    pub io: T,
    buf: Vec<u8>,
    tag: u32,
}

impl<T: AsyncRead + AsyncWrite + Unpin> Client<T> {
    pub fn new(io: T) -> Client<T> {
        Client {
            io,
            buf: Vec::new(),
            tag: 0,
        }
    }

    pub fn pending(&self) -> &[u8] {
        &self.buf
    }

    pub fn into_inner(self) -> T {
        self.io
    }

    pub async fn send(&mut self, data: &[u8]) {
        let w = async {
            self.io.write_all(data).await?;
            self.io.flush().await
        };
        tokio::time::timeout(WAIT, w)
            .await
            .expect("write timed out")
            .expect("write failed");
    }

    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 16384];
        let n = tokio::time::timeout(WAIT, self.io.read(&mut chunk))
            .await
            .expect("read timed out");
        match n {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }

    async fn raw_line(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                return Some(self.buf.drain(..=pos).collect());
            }
            if !self.fill().await {
                return None;
            }
        }
    }

    async fn exact(&mut self, n: usize) -> Option<Vec<u8>> {
        while self.buf.len() < n {
            if !self.fill().await {
                return None;
            }
        }
        Some(self.buf.drain(..n).collect())
    }

    /// One response with its literals inline, without the final CRLF.
    pub async fn line(&mut self) -> Option<String> {
        let mut out = Vec::new();
        loop {
            let l = self.raw_line().await?;
            out.extend_from_slice(&l);
            let trimmed = l.strip_suffix(b"\r\n").unwrap_or(&l);
            let lit = trimmed
                .strip_suffix(b"}")
                .and_then(|x| x.iter().rposition(|&b| b == b'{').map(|p| &x[p + 1..]))
                .and_then(|d| std::str::from_utf8(d).ok())
                .and_then(|d| d.parse::<usize>().ok());
            match lit {
                Some(n) => out.extend_from_slice(&self.exact(n).await?),
                None => break,
            }
        }
        let s = String::from_utf8_lossy(&out);
        Some(s.trim_end_matches(['\r', '\n']).to_string())
    }

    pub fn next_tag(&mut self) -> String {
        self.tag += 1;
        format!("a{}", self.tag)
    }

    /// Reads responses up to the one tagged `tag`.
    pub async fn reply(&mut self, tag: &str) -> Reply {
        let mut untagged = Vec::new();
        loop {
            let l = self
                .line()
                .await
                .unwrap_or_else(|| panic!("closed while waiting for {tag}; got {untagged:?}"));
            if let Some(rest) = l.strip_prefix(&format!("{tag} ")) {
                return Reply {
                    untagged,
                    tagged: rest.to_string(),
                };
            }
            untagged.push(l);
        }
    }

    /// Sends `cmd` with a fresh tag and returns its reply.
    pub async fn cmd(&mut self, cmd: &str) -> Reply {
        let tag = self.next_tag();
        self.send(format!("{tag} {cmd}\r\n").as_bytes()).await;
        self.reply(&tag).await
    }

    /// Like [`Client::cmd`], asserting a tagged OK.
    pub async fn ok(&mut self, cmd: &str) -> Reply {
        let r = self.cmd(cmd).await;
        assert!(r.is_ok(), "{cmd:?} failed: {r:?}");
        r
    }

    /// Like [`Client::cmd`], asserting the tagged status (OK, NO, BAD).
    pub async fn status(&mut self, cmd: &str, status: &str) -> Reply {
        let r = self.cmd(cmd).await;
        assert!(
            r.tagged.starts_with(status),
            "{cmd:?}: expected {status}, got {r:?}"
        );
        r
    }

    /// True when the peer closes without sending more.
    pub async fn closed(&mut self) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        let mut b = [0u8; 64];
        matches!(
            tokio::time::timeout(WAIT, self.io.read(&mut b)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }

    /// True when nothing arrives for `d`.
    pub async fn silent_for(&mut self, d: Duration) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        let mut b = [0u8; 256];
        match tokio::time::timeout(d, self.io.read(&mut b)).await {
            Err(_) => true,
            Ok(Ok(n)) => {
                self.buf.extend_from_slice(&b[..n]);
                false
            }
            Ok(Err(_)) => false,
        }
    }
}

/// A short test message.
pub fn message(subject: &str, body: &str) -> String {
    format!(
        "From: Fred Foobar <foobar@Blurdybloop.example>\r\nTo: mooch@owatagu.siam.edu.example\r\nSubject: {subject}\r\nMessage-Id: <{subject}@Blurdybloop.example>\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\n\r\n{body}\r\n"
    )
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

pub fn cert_der() -> Vec<u8> {
    let pem = include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/smtp-test-cert.pem"
    ));
    CertificateDer::pem_slice_iter(pem)
        .next()
        .expect("one cert")
        .expect("cert parses")
        .to_vec()
}

pub fn tls_config() -> TlsConfig {
    let pem = include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/smtp-test-cert.pem"
    ));
    let key = include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/smtp-test-key.pem"
    ));
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .expect("cert parses");
    let key = PrivateKeyDer::from_pem_slice(key).expect("key parses");
    let cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server config");
    TlsConfig {
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(cfg)),
        server_end_point: Some(daemons::imap::config::tls_server_end_point(&cert_der())),
    }
}

/// Accepts any server certificate: the tests check the IMAP side only.
#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

pub async fn tls_connect<T: AsyncRead + AsyncWrite + Unpin>(
    io: T,
) -> tokio_rustls::client::TlsStream<T> {
    let p = provider();
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::clone(&p))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAny(p)))
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
    let name = ServerName::try_from("localhost").expect("name");
    tokio::time::timeout(WAIT, connector.connect(name, io))
        .await
        .expect("handshake timed out")
        .expect("handshake")
}

pub fn b64(b: impl AsRef<[u8]>) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

pub fn unb64(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("server sends valid base64")
}

fn hmac256(key: &[u8], data: &[u8]) -> Vec<u8> {
    use hmac::Mac as _;
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("hmac takes any key");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

/// A SCRAM-SHA-256(-PLUS) client exchange over AUTHENTICATE with SASL-IR
/// (RFC 5802 §3, RFC 7677). `cb`: channel-binding type and data.
/// Returns the tagged reply.
pub async fn scram_sha256<T: AsyncRead + AsyncWrite + Unpin>(
    c: &mut Client<T>,
    user: &str,
    password: &str,
    cb: Option<(&str, Vec<u8>)>,
) -> Reply {
    use sha2::Digest as _;
    let (mech, gs2) = match &cb {
        Some((name, _)) => ("SCRAM-SHA-256-PLUS", format!("p={name},,")),
        None => ("SCRAM-SHA-256", "n,,".to_string()),
    };
    let cnonce = "rOprNGfwEbeRWgbNEkqO";
    let first_bare = format!("n={user},r={cnonce}");
    let tag = c.next_tag();
    c.send(
        format!(
            "{tag} AUTHENTICATE {mech} {}\r\n",
            b64(format!("{gs2}{first_bare}"))
        )
        .as_bytes(),
    )
    .await;
    let l = c.line().await.expect("server-first");
    let Some(server_first) = l.strip_prefix("+ ") else {
        return Reply {
            untagged: Vec::new(),
            tagged: l.strip_prefix(&format!("{tag} ")).unwrap_or(&l).to_string(),
        };
    };
    let server_first = String::from_utf8(unb64(server_first)).expect("utf-8");
    let (mut nonce, mut salt, mut iterations) = ("", Vec::new(), 0u32);
    for attr in server_first.split(',') {
        match attr.split_at(2) {
            ("r=", v) => nonce = v,
            ("s=", v) => salt = unb64(v),
            ("i=", v) => iterations = v.parse().expect("iterations"),
            _ => {}
        }
    }
    assert!(nonce.starts_with(cnonce), "{server_first}");
    let mut salted = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password.as_bytes(), &salt, iterations, &mut salted);
    let client_key = hmac256(&salted, b"Client Key");
    let stored_key = sha2::Sha256::digest(&client_key).to_vec();
    let mut cbind = gs2.into_bytes();
    if let Some((_, data)) = cb {
        cbind.extend_from_slice(&data);
    }
    let final_without_proof = format!("c={},r={nonce}", b64(&cbind));
    let auth_message = format!("{first_bare},{server_first},{final_without_proof}");
    let signature = hmac256(&stored_key, auth_message.as_bytes());
    let proof: Vec<u8> = client_key
        .iter()
        .zip(&signature)
        .map(|(a, b)| a ^ b)
        .collect();
    c.send(
        format!(
            "{}\r\n",
            b64(format!("{final_without_proof},p={}", b64(proof)))
        )
        .as_bytes(),
    )
    .await;
    let l = c.line().await.expect("server-final");
    if let Some(server_final) = l.strip_prefix("+ ") {
        let server_key = hmac256(&salted, b"Server Key");
        let want = format!("v={}", b64(hmac256(&server_key, auth_message.as_bytes())));
        assert_eq!(String::from_utf8(unb64(server_final)).expect("utf-8"), want);
        c.send(b"\r\n").await;
        return c.reply(&tag).await;
    }
    Reply {
        untagged: Vec::new(),
        tagged: l.strip_prefix(&format!("{tag} ")).unwrap_or(&l).to_string(),
    }
}
