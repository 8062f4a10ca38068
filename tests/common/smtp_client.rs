//! A small blocking SMTP client for driving a real moxd: raw bytes in and
//! out, replies parsed into code and lines, STARTTLS and implicit TLS with
//! rustls accepting any certificate (moxd's test certificates are
//! self-signed). Every read and write has a timeout.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, StreamOwned};

/// Upper bound on any single read or write.
pub const IO_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest reply line accepted before the test fails.
pub const MAX_REPLY_LINE: usize = 64 * 1024;
/// Most lines in one multi-line reply.
pub const MAX_REPLY_LINES: usize = 100;

/// One SMTP reply: code and the text of each line (after "NNN-"/"NNN ").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpReply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl SmtpReply {
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }
}

/// Accepts any server certificate; the tests check SMTP, not PKI.
#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        msg: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            msg,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        msg: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            msg,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A TLS client configuration that trusts any certificate.
pub fn tls_client_config() -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
        .with_no_client_auth();
    Arc::new(cfg)
}

enum Conn {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
    /// During a handshake.
    Gone,
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
            Conn::Gone => Err(std::io::ErrorKind::NotConnected.into()),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
            Conn::Gone => Err(std::io::ErrorKind::NotConnected.into()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
            Conn::Gone => Err(std::io::ErrorKind::NotConnected.into()),
        }
    }
}

/// What the client sees of its TLS session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientTls {
    /// "TLS1.3" or "TLS1.2", as moxd writes it in Received.
    pub version: String,
    /// rustls' name of the cipher suite, as moxd writes it in Received.
    pub cipher: String,
}

pub struct SmtpClient {
    conn: Conn,
    buf: Vec<u8>,
}

impl SmtpClient {
    /// Connect in plain text; the greeting is not read yet.
    pub fn connect(addr: SocketAddr) -> std::io::Result<SmtpClient> {
        let s = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
        s.set_read_timeout(Some(IO_TIMEOUT))?;
        s.set_write_timeout(Some(IO_TIMEOUT))?;
        s.set_nodelay(true)?;
        Ok(SmtpClient {
            conn: Conn::Plain(s),
            buf: Vec::new(),
        })
    }

    /// Connect and read the 220 greeting.
    pub fn greeted(addr: SocketAddr) -> SmtpClient {
        let mut c = SmtpClient::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        c.expect_reply(220);
        c
    }

    /// Connect with implicit TLS (RFC 8314) and read the greeting.
    pub fn greeted_tls(addr: SocketAddr) -> SmtpClient {
        let mut c = SmtpClient::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        c.handshake().expect("TLS handshake");
        c.expect_reply(220);
        c
    }

    /// Run the TLS handshake on the plain connection.
    pub fn handshake(&mut self) -> Result<(), rustls::Error> {
        assert!(
            self.buf.is_empty(),
            "plaintext left before TLS: {:?}",
            String::from_utf8_lossy(&self.buf)
        );
        let Conn::Plain(mut tcp) = std::mem::replace(&mut self.conn, Conn::Gone) else {
            panic!("TLS already active");
        };
        let name = ServerName::try_from("localhost").expect("server name");
        let mut tls = ClientConnection::new(tls_client_config(), name)?;
        while tls.is_handshaking() {
            tls.complete_io(&mut tcp)
                .map_err(|e| rustls::Error::General(format!("handshake i/o: {e}")))?;
        }
        self.conn = Conn::Tls(Box::new(StreamOwned::new(tls, tcp)));
        Ok(())
    }

    /// STARTTLS, its 220, and the handshake.
    pub fn starttls(&mut self) {
        self.expect("STARTTLS", 220);
        self.handshake().expect("TLS handshake after STARTTLS");
    }

    pub fn is_tls(&self) -> bool {
        matches!(self.conn, Conn::Tls(_))
    }

    pub fn tls(&self) -> Option<ClientTls> {
        let Conn::Tls(s) = &self.conn else {
            return None;
        };
        let version = match s.conn.protocol_version()? {
            rustls::ProtocolVersion::TLSv1_3 => "TLS1.3".to_string(),
            rustls::ProtocolVersion::TLSv1_2 => "TLS1.2".to_string(),
            other => format!("{other:?}"),
        };
        let cipher = format!("{:?}", s.conn.negotiated_cipher_suite()?.suite());
        Some(ClientTls { version, cipher })
    }

    /// RFC 9266 `tls-exporter` channel binding data (32 octets).
    pub fn tls_exporter(&self) -> Vec<u8> {
        let Conn::Tls(s) = &self.conn else {
            panic!("no TLS");
        };
        s.conn
            .export_keying_material([0u8; 32], b"EXPORTER-Channel-Binding", None)
            .expect("exporter")
            .to_vec()
    }

    /// Write all of `data`.
    pub fn send(&mut self, data: &[u8]) {
        self.try_send(data).expect("write to server");
    }

    pub fn try_send(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.conn.write_all(data)?;
        self.conn.flush()
    }

    /// Close our sending side (plain connections only).
    pub fn shutdown_write(&mut self) {
        if let Conn::Plain(s) = &self.conn {
            let _ = s.shutdown(std::net::Shutdown::Write);
        }
    }

    fn line(&mut self) -> std::io::Result<Option<String>> {
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=pos).collect();
                return Ok(Some(
                    String::from_utf8_lossy(&line)
                        .trim_end_matches(['\r', '\n'])
                        .to_string(),
                ));
            }
            if self.buf.len() > MAX_REPLY_LINE {
                return Err(std::io::Error::other("reply line too long"));
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = match self.conn.read(&mut chunk) {
                Ok(n) => n,
                // A TLS peer that closes without close_notify.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
                Err(e) => return Err(e),
            };
            if n == 0 {
                return Ok(None);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// The next reply; Ok(None) when the connection closed first.
    pub fn try_reply(&mut self) -> std::io::Result<Option<SmtpReply>> {
        let mut lines = Vec::new();
        for _ in 0..MAX_REPLY_LINES {
            let Some(l) = self.line()? else {
                return Ok(None);
            };
            let bad = || std::io::Error::other(format!("malformed reply line {l:?}"));
            if l.len() < 4 || !l.is_char_boundary(3) || !l.is_char_boundary(4) {
                return Err(bad());
            }
            let code: u16 = l[..3].parse().map_err(|_| bad())?;
            lines.push(l[4..].to_string());
            match l.as_bytes()[3] {
                b' ' => return Ok(Some(SmtpReply { code, lines })),
                b'-' => {}
                _ => return Err(bad()),
            }
        }
        Err(std::io::Error::other("too many reply lines"))
    }

    /// The next reply; panics on a closed connection or an error.
    pub fn reply(&mut self) -> SmtpReply {
        match self.try_reply() {
            Ok(Some(r)) => r,
            Ok(None) => panic!("connection closed while waiting for a reply"),
            Err(e) => panic!("reading a reply: {e}"),
        }
    }

    pub fn expect_reply(&mut self, code: u16) -> SmtpReply {
        let r = self.reply();
        assert_eq!(r.code, code, "unexpected reply {r:?}");
        r
    }

    /// Send one command line (CRLF added) and read its reply.
    pub fn cmd(&mut self, line: &str) -> SmtpReply {
        self.send(format!("{line}\r\n").as_bytes());
        match self.try_reply() {
            Ok(Some(r)) => r,
            Ok(None) => panic!("connection closed after {line:?}"),
            Err(e) => panic!("after {line:?}: {e}"),
        }
    }

    pub fn expect(&mut self, line: &str, code: u16) -> SmtpReply {
        let r = self.cmd(line);
        assert_eq!(r.code, code, "after {line:?}: {r:?}");
        r
    }

    /// EHLO; returns the keyword lines (without the greeting line).
    pub fn ehlo(&mut self, name: &str) -> Vec<String> {
        let r = self.expect(&format!("EHLO {name}"), 250);
        r.lines[1..].to_vec()
    }

    /// True when the server closes the connection (EOF or reset) with
    /// nothing more to read.
    pub fn closed(&mut self) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        let mut b = [0u8; 256];
        match self.conn.read(&mut b) {
            Ok(0) => true,
            Ok(n) => {
                self.buf.extend_from_slice(&b[..n]);
                false
            }
            Err(e) => !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
        }
    }

    /// MAIL, RCPT, DATA and the message (dot-stuffed by the caller when
    /// needed) followed by CRLF.CRLF; the final reply.
    pub fn send_mail(&mut self, from: &str, to: &str, data: &[u8]) -> SmtpReply {
        self.expect(&format!("MAIL FROM:<{from}>"), 250);
        self.expect(&format!("RCPT TO:<{to}>"), 250);
        self.expect("DATA", 354);
        self.send(data);
        self.send(b".\r\n");
        self.reply()
    }
}
