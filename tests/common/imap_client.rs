//! A small blocking IMAP client for driving a real moxd: commands with
//! automatic tags, responses read whole (a line ending in a literal
//! announcement `{n}` continues after its n octets), synchronizing
//! literals that wait for the server's `+`, STARTTLS and implicit TLS
//! (rustls trusting the server's own self-signed certificate), and
//! COMPRESS=DEFLATE (RFC 4978). Every read and write has a timeout.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

/// Upper bound on any single read or write.
pub const IO_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest response accepted before the test fails (literals included).
pub const MAX_RESPONSE: usize = 64 * 1024 * 1024;
/// Most untagged responses before a command's tagged one.
pub const MAX_UNTAGGED: usize = 200_000;

/// A TLS client configuration trusting exactly `cert_pem` (moxd's
/// self-signed test certificate).
pub fn tls_config(cert_pem: &[u8]) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(cert_pem) {
        roots
            .add(c.expect("certificate PEM"))
            .expect("trust anchor");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(cfg)
}

enum Conn {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
    Gone,
}

impl Conn {
    fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(s) => s,
            Conn::Tls(s) => &s.sock,
            Conn::Gone => panic!("connection gone"),
        }
    }
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

struct Deflate {
    comp: Compress,
    decomp: Decompress,
}

/// A command's responses: the untagged ones (and continuation requests),
/// each whole with its literals, and the tagged completion.
#[derive(Debug, Clone)]
pub struct Reply {
    pub untagged: Vec<Vec<u8>>,
    /// The tagged line without the tag, e.g. `OK [APPENDUID 1 2] done`.
    pub tagged: String,
}

impl Reply {
    /// OK, NO or BAD.
    pub fn status(&self) -> &str {
        self.tagged.split(' ').next().unwrap_or("")
    }

    pub fn is_ok(&self) -> bool {
        self.status() == "OK"
    }

    /// Panics unless the command completed with OK.
    pub fn ok(self) -> Reply {
        assert!(self.is_ok(), "expected OK: {self}");
        self
    }

    /// The response code of the tagged line, e.g. `APPENDUID 1 2`.
    pub fn code(&self) -> Option<&str> {
        let rest = self.tagged.split_once(' ')?.1;
        let rest = rest.strip_prefix('[')?;
        Some(&rest[..rest.find(']')?])
    }

    /// Untagged responses as text (lossy), without the leading `* `.
    pub fn lines(&self) -> Vec<String> {
        self.untagged
            .iter()
            .map(|l| {
                let s = String::from_utf8_lossy(l);
                s.trim_end_matches(['\r', '\n'])
                    .strip_prefix("* ")
                    .unwrap_or(&s)
                    .to_string()
            })
            .collect()
    }

    /// Untagged responses starting with `prefix` (after `* `).
    pub fn starting(&self, prefix: &str) -> Vec<String> {
        self.lines()
            .into_iter()
            .filter(|l| l.starts_with(prefix))
            .collect()
    }

    /// The one untagged response starting with `prefix`.
    pub fn one(&self, prefix: &str) -> String {
        let v = self.starting(prefix);
        assert_eq!(v.len(), 1, "one {prefix:?} response expected: {self}");
        v.into_iter().next().expect("one")
    }

    /// Untagged responses containing `needle`.
    pub fn containing(&self, needle: &str) -> Vec<String> {
        self.lines()
            .into_iter()
            .filter(|l| l.contains(needle))
            .collect()
    }
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for l in self.lines() {
            let short: String = l.chars().take(300).collect();
            writeln!(f, "* {short}")?;
        }
        write!(f, "tagged: {}", self.tagged)
    }
}

/// The octet count of a literal announced at the end of `line` (`{n}`,
/// `{n+}`, `{n-}` or `~{n}`, then CRLF).
pub fn literal_at_end(line: &[u8]) -> Option<usize> {
    let l = line.strip_suffix(b"\r\n")?;
    let l = l.strip_suffix(b"}")?;
    let open = l.iter().rposition(|&b| b == b'{')?;
    let digits = &l[open + 1..];
    let digits = digits
        .strip_suffix(b"+")
        .or_else(|| digits.strip_suffix(b"-"))
        .unwrap_or(digits);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

pub struct ImapClient {
    conn: Conn,
    /// Plain (inflated) octets received but not yet consumed.
    buf: Vec<u8>,
    deflate: Option<Deflate>,
    next_tag: u32,
    tls: Option<Arc<ClientConfig>>,
}

impl ImapClient {
    /// Connect in plain text; the greeting is not read yet.
    pub fn connect(addr: SocketAddr) -> std::io::Result<ImapClient> {
        let s = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
        s.set_read_timeout(Some(IO_TIMEOUT))?;
        s.set_write_timeout(Some(IO_TIMEOUT))?;
        s.set_nodelay(true)?;
        Ok(ImapClient {
            conn: Conn::Plain(s),
            buf: Vec::new(),
            deflate: None,
            next_tag: 1,
            tls: None,
        })
    }

    /// Connect in plain text and read the greeting (returned).
    pub fn greeted(addr: SocketAddr) -> (ImapClient, String) {
        let mut c = ImapClient::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        let g = c.greeting();
        (c, g)
    }

    /// Connect with implicit TLS (RFC 8314) and read the greeting.
    pub fn greeted_tls(addr: SocketAddr, cfg: Arc<ClientConfig>) -> (ImapClient, String) {
        let mut c = ImapClient::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        c.tls = Some(cfg);
        c.handshake().expect("TLS handshake");
        let g = c.greeting();
        (c, g)
    }

    /// The untagged greeting line.
    pub fn greeting(&mut self) -> String {
        let r = self.response().expect("greeting");
        String::from_utf8_lossy(&r).trim_end().to_string()
    }

    pub fn set_tls_config(&mut self, cfg: Arc<ClientConfig>) {
        self.tls = Some(cfg);
    }

    /// Run the TLS handshake on the plain connection.
    pub fn handshake(&mut self) -> Result<(), rustls::Error> {
        assert!(self.buf.is_empty(), "plaintext left before TLS");
        let cfg = self.tls.clone().expect("TLS configuration set");
        let Conn::Plain(mut tcp) = std::mem::replace(&mut self.conn, Conn::Gone) else {
            panic!("TLS already active");
        };
        let name = ServerName::try_from("localhost").expect("server name");
        let mut tls = ClientConnection::new(cfg, name)?;
        while tls.is_handshaking() {
            tls.complete_io(&mut tcp)
                .map_err(|e| rustls::Error::General(format!("handshake i/o: {e}")))?;
        }
        self.conn = Conn::Tls(Box::new(StreamOwned::new(tls, tcp)));
        Ok(())
    }

    pub fn is_tls(&self) -> bool {
        matches!(self.conn, Conn::Tls(_))
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

    /// The next tag this client will use (for hand-made commands).
    pub fn next_tag(&mut self) -> String {
        self.tag()
    }

    /// STARTTLS (RFC 9051 §6.2.1), its OK and the handshake.
    pub fn starttls(&mut self, cfg: Arc<ClientConfig>) -> Reply {
        self.tls = Some(cfg);
        let r = self.cmd("STARTTLS").ok();
        self.handshake().expect("TLS handshake after STARTTLS");
        r
    }

    /// COMPRESS DEFLATE (RFC 4978): from its OK on, both directions are
    /// raw deflate.
    pub fn compress(&mut self) -> Reply {
        let r = self.cmd("COMPRESS DEFLATE").ok();
        self.deflate = Some(Deflate {
            comp: Compress::new(Compression::default(), false),
            decomp: Decompress::new(false),
        });
        assert!(
            self.buf.is_empty(),
            "uncompressed data after COMPRESS OK: {:?}",
            String::from_utf8_lossy(&self.buf)
        );
        r
    }

    pub fn set_read_timeout(&self, t: Duration) {
        self.conn
            .tcp()
            .set_read_timeout(Some(t))
            .expect("read timeout");
    }

    /// Write all of `data` (deflated once compression is on).
    pub fn send(&mut self, data: &[u8]) {
        self.try_send(data).expect("write to server");
    }

    pub fn try_send(&mut self, data: &[u8]) -> std::io::Result<()> {
        let out = match &mut self.deflate {
            None => data.to_vec(),
            Some(d) => {
                let mut out = Vec::with_capacity(data.len() + 64);
                let before = d.comp.total_in();
                // Bounded: each round consumes input or flushes output.
                for _ in 0..MAX_RESPONSE {
                    let consumed = (d.comp.total_in() - before) as usize;
                    out.reserve(data.len() / 2 + 1024);
                    d.comp
                        .compress_vec(&data[consumed..], &mut out, FlushCompress::Sync)
                        .map_err(std::io::Error::other)?;
                    let done = (d.comp.total_in() - before) as usize == data.len();
                    if done && out.len() < out.capacity() {
                        break;
                    }
                }
                out
            }
        };
        self.conn.write_all(&out)?;
        self.conn.flush()
    }

    /// More octets from the server into `buf`; Ok(false) at end of stream.
    fn fill(&mut self) -> std::io::Result<bool> {
        let mut chunk = [0u8; 32 * 1024];
        loop {
            let n = match self.conn.read(&mut chunk) {
                Ok(n) => n,
                // A TLS peer that closes without close_notify.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
                Err(e) => return Err(e),
            };
            if n == 0 {
                return Ok(false);
            }
            let Some(d) = &mut self.deflate else {
                self.buf.extend_from_slice(&chunk[..n]);
                return Ok(true);
            };
            let mut input = &chunk[..n];
            let before = self.buf.len();
            // Bounded: each round consumes input or produces output.
            for _ in 0..MAX_RESPONSE {
                self.buf.reserve(64 * 1024);
                let (in0, out0) = (d.decomp.total_in(), self.buf.len());
                d.decomp
                    .decompress_vec(input, &mut self.buf, FlushDecompress::Sync)
                    .map_err(std::io::Error::other)?;
                let used = (d.decomp.total_in() - in0) as usize;
                input = &input[used..];
                let output_limited = self.buf.len() == self.buf.capacity();
                if (input.is_empty() && !output_limited) || (used == 0 && self.buf.len() == out0) {
                    break;
                }
            }
            if self.buf.len() > before {
                return Ok(true);
            }
        }
    }

    /// One CRLF-terminated line from the buffer (reading as needed).
    fn line(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                return Ok(Some(self.buf.drain(..=pos).collect()));
            }
            if self.buf.len() > MAX_RESPONSE {
                return Err(std::io::Error::other("response line too long"));
            }
            if !self.fill()? {
                return Ok(None);
            }
        }
    }

    /// One whole response (a line and the literals it announces), or
    /// None when the connection closed first.
    pub fn try_response(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        let mut out = Vec::new();
        loop {
            let Some(line) = self.line()? else {
                return Ok(None);
            };
            out.extend_from_slice(&line);
            let Some(n) = literal_at_end(&line) else {
                return Ok(Some(out));
            };
            if out.len() + n > MAX_RESPONSE {
                return Err(std::io::Error::other("literal too large"));
            }
            while self.buf.len() < n {
                if !self.fill()? {
                    return Ok(None);
                }
            }
            out.extend(self.buf.drain(..n));
        }
    }

    pub fn response(&mut self) -> Option<Vec<u8>> {
        self.try_response().expect("reading a response")
    }

    fn tag(&mut self) -> String {
        let t = format!("a{}", self.next_tag);
        self.next_tag += 1;
        t
    }

    /// Responses up to the tagged completion of `tag`.
    pub fn read_until_tagged(&mut self, tag: &str) -> std::io::Result<Reply> {
        let prefix = format!("{tag} ");
        let mut untagged = Vec::new();
        for _ in 0..MAX_UNTAGGED {
            let Some(r) = self.try_response()? else {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!(
                        "connection closed before {tag} completed; got {:?}",
                        untagged
                            .iter()
                            .map(|l: &Vec<u8>| String::from_utf8_lossy(l).into_owned())
                            .collect::<Vec<_>>()
                    ),
                ));
            };
            if let Some(rest) = r.strip_prefix(prefix.as_bytes()) {
                let tagged = String::from_utf8_lossy(rest).trim_end().to_string();
                return Ok(Reply { untagged, tagged });
            }
            untagged.push(r);
        }
        Err(std::io::Error::other("too many untagged responses"))
    }

    /// Send `command` with a new tag and read through its completion.
    pub fn try_cmd(&mut self, command: &str) -> std::io::Result<Reply> {
        let tag = self.tag();
        self.try_send(format!("{tag} {command}\r\n").as_bytes())?;
        self.read_until_tagged(&tag)
    }

    pub fn cmd(&mut self, command: &str) -> Reply {
        self.try_cmd(command)
            .unwrap_or_else(|e| panic!("{command:?}: {e}"))
    }

    /// A command with synchronizing literals: `parts[0]`, then for each
    /// literal its announcement, the server's `+`, and its octets, then
    /// the text that follows it.
    pub fn cmd_literals(&mut self, head: &str, literals: &[(&[u8], &str)]) -> Reply {
        let tag = self.tag();
        let mut line = format!("{tag} {head}").into_bytes();
        for (data, after) in literals {
            line.extend_from_slice(format!("{{{}}}\r\n", data.len()).as_bytes());
            self.send(&line);
            let cont = self.response().expect("continuation");
            if !cont.starts_with(b"+") {
                // Refused: the tagged response came instead.
                let text = String::from_utf8_lossy(&cont).into_owned();
                let tagged = text
                    .strip_prefix(&format!("{tag} "))
                    .unwrap_or_else(|| panic!("expected + or tagged, got {text:?}"));
                return Reply {
                    untagged: vec![],
                    tagged: tagged.trim_end().to_string(),
                };
            }
            line = data.to_vec();
            line.extend_from_slice(after.as_bytes());
        }
        line.extend_from_slice(b"\r\n");
        self.send(&line);
        self.read_until_tagged(&tag)
            .unwrap_or_else(|e| panic!("{head:?}: {e}"))
    }

    /// APPEND one message with a synchronizing literal.
    pub fn append(&mut self, mailbox: &str, flags: &str, data: &[u8]) -> Reply {
        let head = if flags.is_empty() {
            format!("APPEND {mailbox} ")
        } else {
            format!("APPEND {mailbox} ({flags}) ")
        };
        self.cmd_literals(&head, &[(data, "")])
    }

    pub fn login(&mut self, user: &str, password: &str) -> Reply {
        self.cmd(&format!("LOGIN {} {}", quote(user), quote(password)))
    }

    /// IDLE: sends the command and waits for the continuation; returns the tag.
    pub fn idle(&mut self) -> String {
        let tag = self.tag();
        self.send(format!("{tag} IDLE\r\n").as_bytes());
        let r = self.response().expect("IDLE continuation");
        assert!(
            r.starts_with(b"+ "),
            "IDLE: {:?}",
            String::from_utf8_lossy(&r)
        );
        tag
    }

    /// Untagged responses arriving within `wait`, until one contains
    /// `needle` (returned with the ones before it), or None.
    pub fn wait_for(&mut self, needle: &str, wait: Duration) -> Option<Vec<String>> {
        let t0 = Instant::now();
        let mut seen = Vec::new();
        while t0.elapsed() < wait {
            let left = wait
                .saturating_sub(t0.elapsed())
                .max(Duration::from_millis(1));
            self.set_read_timeout(left);
            let r = match self.try_response() {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    break;
                }
                Err(e) => panic!("while waiting for {needle:?}: {e}"),
            };
            let s = String::from_utf8_lossy(&r).trim_end().to_string();
            let hit = s.contains(needle);
            seen.push(s);
            if hit {
                self.set_read_timeout(IO_TIMEOUT);
                return Some(seen);
            }
        }
        self.set_read_timeout(IO_TIMEOUT);
        None
    }

    /// Ends IDLE with DONE and reads the tagged OK.
    pub fn done(&mut self, tag: &str) -> Reply {
        self.send(b"DONE\r\n");
        self.read_until_tagged(tag).expect("IDLE completion").ok()
    }

    /// True when the server closes the connection with nothing more to
    /// read (waits up to the read timeout).
    pub fn closed(&mut self) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        match self.fill() {
            Ok(false) => true,
            Ok(true) => false,
            Err(e) => !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
        }
    }

    /// Reads until the connection closes; returns what came (bounded).
    pub fn read_to_close(&mut self) -> Vec<u8> {
        let mut all = std::mem::take(&mut self.buf);
        let t0 = Instant::now();
        while t0.elapsed() < IO_TIMEOUT && all.len() < MAX_RESPONSE {
            match self.fill() {
                Ok(true) => all.append(&mut self.buf),
                Ok(false) | Err(_) => break,
            }
        }
        all
    }
}

/// An IMAP quoted string.
pub fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::literal_at_end;

    #[test]
    fn literal_announcements() {
        assert_eq!(literal_at_end(b"* 1 FETCH (BODY[] {12}\r\n"), Some(12));
        assert_eq!(literal_at_end(b"* 1 FETCH (BINARY[] ~{3}\r\n"), Some(3));
        assert_eq!(literal_at_end(b"a1 APPEND x {5+}\r\n"), Some(5));
        assert_eq!(literal_at_end(b"* OK {x}\r\n"), None);
        assert_eq!(literal_at_end(b"* OK done\r\n"), None);
    }
}
