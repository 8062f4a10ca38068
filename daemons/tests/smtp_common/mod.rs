//! Shared harness for the SMTP session tests: an in-memory backend, a
//! session over `tokio::io::duplex`, a small SMTP client and TLS setup.

#![allow(dead_code, reason = "each test file uses a different part")]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use daemons::sasl::{Credentials, SaslError};
use daemons::smtp::{
    Address, Backend, BackendError, Config, Envelope, Kind, MessageFile, PeerInfo, Session,
    SessionError,
};
use hmac::Mac as _;
use ipc::store::{ScramCredentials, ScramMechanism};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio::task::JoinHandle;

/// Upper bound for any single wait in a test.
pub const WAIT: Duration = Duration::from_secs(10);
pub const HOST: &str = "mx.local.test";
pub const SCRAM_ITERATIONS: u32 = 4096;
pub const SCRAM_SALT: &[u8] = b"moxd-test-salt";

#[derive(Debug, Clone)]
pub struct Delivered {
    pub env: Envelope,
    pub prefix: Vec<u8>,
    pub body: Vec<u8>,
}

/// Addresses `*@local.test` listed in `addresses`; users with passwords.
#[derive(Default)]
pub struct MemBackend {
    pub addresses: HashMap<String, String>,
    /// login → (account, password)
    pub users: HashMap<String, (String, String)>,
    pub delivered: Mutex<Vec<Delivered>>,
    pub fail_deliver: AtomicBool,
}

impl MemBackend {
    pub fn new() -> MemBackend {
        let mut b = MemBackend::default();
        for (addr, account) in [
            ("alice@local.test", "alice"),
            ("alice.other@local.test", "alice"),
            ("bob@local.test", "bob"),
            ("postmaster@mx.local.test", "admin"),
            ("jö@bücher.local.test", "jo"),
        ] {
            b.addresses.insert(addr.to_string(), account.to_string());
        }
        b.users
            .insert("alice@local.test".into(), ("alice".into(), "secret".into()));
        b
    }

    pub fn delivered(&self) -> Vec<Delivered> {
        self.delivered.lock().map(|d| d.clone()).unwrap_or_default()
    }

    fn key(addr: &Address) -> String {
        format!(
            "{}@{}",
            addr.local.as_str().to_lowercase(),
            addr.domain.unicode()
        )
    }
}

/// SCRAM keys as the store would keep them (RFC 5802 §3).
pub fn scram_keys(mech: ScramMechanism, password: &str) -> (Vec<u8>, Vec<u8>) {
    let salted = salted_password(mech, password, SCRAM_SALT, SCRAM_ITERATIONS);
    let client_key = hmac(mech, &salted, b"Client Key");
    let stored = hash(mech, &client_key);
    let server_key = hmac(mech, &salted, b"Server Key");
    (stored, server_key)
}

pub fn salted_password(mech: ScramMechanism, password: &str, salt: &[u8], i: u32) -> Vec<u8> {
    match mech {
        ScramMechanism::Sha256 => {
            let mut out = [0u8; 32];
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password.as_bytes(), salt, i, &mut out);
            out.to_vec()
        }
        ScramMechanism::Sha1 => {
            let mut out = [0u8; 20];
            pbkdf2::pbkdf2_hmac::<sha1::Sha1>(password.as_bytes(), salt, i, &mut out);
            out.to_vec()
        }
    }
}

pub fn hmac(mech: ScramMechanism, key: &[u8], data: &[u8]) -> Vec<u8> {
    match mech {
        ScramMechanism::Sha256 => {
            let mut m =
                hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("hmac takes any key");
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
        ScramMechanism::Sha1 => {
            let mut m = hmac::Hmac::<sha1::Sha1>::new_from_slice(key).expect("hmac takes any key");
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
    }
}

pub fn hash(mech: ScramMechanism, data: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    match mech {
        ScramMechanism::Sha256 => sha2::Sha256::digest(data).to_vec(),
        ScramMechanism::Sha1 => sha1::Sha1::digest(data).to_vec(),
    }
}

impl Credentials for MemBackend {
    fn verify_plain(
        &self,
        login: &str,
        password: &str,
    ) -> impl Future<Output = Result<Option<String>, SaslError>> + Send {
        let r = self
            .users
            .get(login)
            .filter(|(_, p)| p == password)
            .map(|(a, _)| a.clone());
        std::future::ready(Ok(r))
    }

    fn scram(
        &self,
        login: &str,
        mech: ScramMechanism,
    ) -> impl Future<Output = Result<Option<ScramCredentials>, SaslError>> + Send {
        let r = self.users.get(login).map(|(account, password)| {
            let (stored_key, server_key) = scram_keys(mech, password);
            ScramCredentials {
                account: account.clone(),
                salt: SCRAM_SALT.to_vec(),
                iterations: SCRAM_ITERATIONS,
                stored_key,
                server_key,
            }
        });
        std::future::ready(Ok(r))
    }
}

impl Backend for MemBackend {
    fn resolve_recipient(
        &self,
        addr: &Address,
    ) -> impl Future<Output = Result<Option<String>, BackendError>> + Send {
        std::future::ready(Ok(self.addresses.get(&Self::key(addr)).cloned()))
    }

    fn account_owns(
        &self,
        account: &str,
        addr: &Address,
    ) -> impl Future<Output = Result<bool, BackendError>> + Send {
        std::future::ready(Ok(self
            .addresses
            .get(&Self::key(addr))
            .is_some_and(|a| a == account)))
    }

    fn deliver(
        &self,
        env: &Envelope,
        mut msg: MessageFile,
    ) -> impl Future<Output = Result<(), BackendError>> + Send {
        let r = if self.fail_deliver.load(Ordering::SeqCst) {
            Err(BackendError::Temporary("store down".into()))
        } else {
            match msg.read_body() {
                Ok(body) => {
                    assert_eq!(body.len() as u64, msg.size);
                    let d = Delivered {
                        env: env.clone(),
                        prefix: msg.prefix.clone(),
                        body,
                    };
                    self.delivered
                        .lock()
                        .map(|mut v| v.push(d))
                        .map_err(|_| BackendError::Temporary("lock".into()))
                }
                Err(e) => Err(BackendError::Temporary(e.to_string())),
            }
        };
        std::future::ready(r)
    }
}

/// A config with short delays for tests.
pub fn config(kind: Kind) -> Config {
    let mut c = Config::new(kind, HOST);
    c.limits.auth_fail_delay = Duration::from_millis(5);
    c.limits.unknown_rcpt_delay_step = Duration::from_millis(1);
    c.limits.unknown_rcpt_delay_max = Duration::from_millis(5);
    c.limits.localserve_timeout = Duration::from_millis(50);
    c
}

pub struct Running {
    pub client: Client<DuplexStream>,
    pub backend: Arc<MemBackend>,
    pub task: JoinHandle<Result<(), SessionError>>,
}

impl Running {
    /// Wait for the session task to end and return its result.
    pub async fn ended(self) -> Result<(), SessionError> {
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("session did not end")
            .expect("session task panicked")
    }
}

/// Start a session over an in-memory pipe; the greeting is not read yet.
pub fn start_with(cfg: Config, backend: MemBackend) -> Running {
    let (client, server) = tokio::io::duplex(64 * 1024);
    let backend = Arc::new(backend);
    let peer = PeerInfo {
        remote: "192.0.2.1:40000".parse().expect("address"),
        remote_name: None,
    };
    let session = Session::new(server, Arc::new(cfg), Arc::clone(&backend), peer);
    let task = tokio::spawn(session.run());
    Running {
        client: Client::new(client),
        backend,
        task,
    }
}

/// Start, read the greeting and send EHLO.
pub async fn start_ehlo(cfg: Config) -> Running {
    let mut r = start_with(cfg, MemBackend::new());
    r.client.expect_reply(220).await;
    r.client.expect("EHLO client.test", 250).await;
    r
}

/// One reply: its code and text lines (without code and separator).
#[derive(Debug, Clone)]
pub struct SmtpReply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl SmtpReply {
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }
}

pub struct Client<T> {
    pub io: T,
    buf: Vec<u8>,
}

impl<T: AsyncRead + AsyncWrite + Unpin> Client<T> {
    pub fn new(io: T) -> Client<T> {
        Client {
            io,
            buf: Vec::new(),
        }
    }

    /// Unread input (must be empty before STARTTLS).
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

    async fn line(&mut self) -> Option<String> {
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=pos).collect();
                return Some(
                    String::from_utf8_lossy(&line)
                        .trim_end_matches(['\r', '\n'])
                        .to_string(),
                );
            }
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout(WAIT, self.io.read(&mut chunk))
                .await
                .expect("read timed out")
                .ok()?;
            if n == 0 {
                return None;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// The next reply; None when the connection closed first.
    pub async fn reply(&mut self) -> Option<SmtpReply> {
        let mut lines = Vec::new();
        loop {
            let l = self.line().await?;
            assert!(l.len() >= 4, "short reply line {l:?}");
            let code: u16 = l[..3].parse().expect("reply code");
            lines.push(l[4..].to_string());
            if l.as_bytes()[3] == b' ' {
                return Some(SmtpReply { code, lines });
            }
            assert_eq!(l.as_bytes()[3], b'-', "bad separator in {l:?}");
        }
    }

    pub async fn expect_reply(&mut self, code: u16) -> SmtpReply {
        let r = self.reply().await.expect("connection closed");
        assert_eq!(r.code, code, "unexpected reply {r:?}");
        r
    }

    pub async fn cmd(&mut self, line: &str) -> SmtpReply {
        self.send(format!("{line}\r\n").as_bytes()).await;
        self.reply()
            .await
            .unwrap_or_else(|| panic!("closed after {line:?}"))
    }

    pub async fn expect(&mut self, line: &str, code: u16) -> SmtpReply {
        let r = self.cmd(line).await;
        assert_eq!(r.code, code, "after {line:?}: {r:?}");
        r
    }

    /// True when the peer closes without sending anything more.
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
        let mut b = [0u8; 64];
        match tokio::time::timeout(d, self.io.read(&mut b)).await {
            Err(_) => true,
            Ok(Ok(n)) => {
                self.buf.extend_from_slice(&b[..n]);
                false
            }
            Ok(Err(_)) => false,
        }
    }

    /// MAIL, RCPT and DATA with a message; the final reply.
    pub async fn send_mail(&mut self, from: &str, to: &str, msg: &str) -> SmtpReply {
        self.expect(&format!("MAIL FROM:<{from}>"), 250).await;
        self.expect(&format!("RCPT TO:<{to}>"), 250).await;
        self.expect("DATA", 354).await;
        self.send(msg.as_bytes()).await;
        self.send(b".\r\n").await;
        self.reply().await.expect("closed after data")
    }
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

pub fn acceptor() -> tokio_rustls::TlsAcceptor {
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
    tokio_rustls::TlsAcceptor::from(Arc::new(cfg))
}

/// Accepts any server certificate: the tests check the SMTP side only.
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
