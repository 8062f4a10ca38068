//! Shared test support: start a real moxd (serve or localserve) in a
//! temporary directory, talk to its control socket, read /proc.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ipc::BlockingConn;
use ipc::control::{ControlReply, ControlRequest, Status, WorkerState};
use ipc::hello::handshake_blocking;
use ipc::role::Peer;
use ipc::store::{StoreReply, StoreRequest};

pub const MOXD: &str = env!("CARGO_BIN_EXE_moxd");
pub const MOXCTL: &str = env!("CARGO_BIN_EXE_moxctl");

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Make sure the `moxd` system user exists (as root).
pub fn ensure_moxd_user() {
    if nix::unistd::User::from_name("moxd")
        .ok()
        .flatten()
        .is_none()
    {
        let st = Command::new("useradd")
            .args([
                "--system",
                "--user-group",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                "moxd",
            ])
            .status()
            .expect("running useradd");
        assert!(
            st.success()
                || nix::unistd::User::from_name("moxd")
                    .ok()
                    .flatten()
                    .is_some()
        );
    }
}

/// A running moxd; killed (and its directory removed) on drop.
pub struct Server {
    pub child: Child,
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
    pub output: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

fn collect_output(child: &mut Child) -> std::sync::Arc<std::sync::Mutex<Vec<String>>> {
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    for r in [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let l = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(r).lines().map_while(Result::ok) {
                if std::env::var_os("MOXD_TEST_VERBOSE").is_some() {
                    eprintln!("moxd| {line}");
                }
                l.lock().unwrap().push(line);
            }
        });
    }
    lines
}

/// A temp dir the worker user can traverse (its parents are 0755 /tmp).
pub fn tempdir() -> tempfile::TempDir {
    let d = tempfile::Builder::new()
        .prefix("moxd-test-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    d
}

impl Server {
    /// `moxd serve` with a generated config. `extra` is appended to moxd.toml.
    pub fn serve(extra: &str) -> Server {
        Server::try_serve(extra).unwrap_or_else(|e| panic!("{e}"))
    }

    /// `moxd localserve --dir <tmp>`.
    pub fn localserve() -> Server {
        let dir = tempdir();
        let socket = dir.path().join("ctl");
        let mut child = Command::new(MOXD)
            .arg("localserve")
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let output = collect_output(&mut child);
        let mut s = Server {
            child,
            dir,
            socket,
            output,
        };
        s.wait_ready();
        s
    }

    pub fn output_text(&self) -> String {
        self.output.lock().unwrap().join("\n")
    }

    fn wait_ready(&mut self) {
        if let Err(e) = self.try_wait_ready() {
            panic!("{e}");
        }
    }

    pub fn control(&self) -> BlockingConn {
        let s = UnixStream::connect(&self.socket).unwrap();
        let mut c = BlockingConn::new(s);
        handshake_blocking(&mut c, Peer::Control).unwrap();
        c
    }

    pub fn call(
        &self,
        req: ControlRequest,
        fds: &[std::os::fd::BorrowedFd<'_>],
    ) -> (ControlReply, Vec<OwnedFd>) {
        let mut c = self.control();
        c.send(7, &req, fds).unwrap();
        let m = c.recv::<ControlReply>().unwrap().expect("reply");
        assert_eq!(m.id, 7);
        (m.body, m.fds)
    }

    pub fn status(&self) -> Status {
        match self.call(ControlRequest::Status, &[]).0 {
            ControlReply::Status(s) => s,
            other => panic!("status: {other:?}"),
        }
    }

    pub fn worker_pid(&self, role: ipc::Role) -> Option<u32> {
        self.status()
            .workers
            .into_iter()
            .find(|w| w.role == role && w.state == WorkerState::Running)?
            .pid
    }

    /// An admin connection to the store (via the control socket).
    pub fn store_conn(&self) -> BlockingConn {
        let (reply, mut fds) = self.call(ControlRequest::StoreConnect, &[]);
        assert_eq!(reply, ControlReply::StoreConnection, "store connect");
        let fd = fds.pop().expect("fd");
        let mut c = BlockingConn::new(UnixStream::from(fd));
        handshake_blocking(&mut c, Peer::Admin).unwrap();
        c
    }

    pub fn store_call(&self, req: StoreRequest) -> StoreReply {
        let mut c = self.store_conn();
        c.send(1, &req, &[]).unwrap();
        c.recv::<StoreReply>().unwrap().expect("store reply").body
    }

    pub fn moxctl(&self, args: &[&str]) -> std::process::Output {
        Command::new(MOXCTL)
            .arg("--socket")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap()
    }

    pub fn terminate(&mut self) -> std::process::ExitStatus {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::SIGTERM,
        )
        .unwrap();
        let t0 = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "moxd did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Wait until `f` returns Some, polling every 10 ms, up to `limit`.
pub fn wait_for<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if let Some(v) = f() {
            return Some(v);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

/// The value of a `Key:` line in /proc/PID/status.
pub fn proc_status(pid: u32, key: &str) -> String {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| {
            l.strip_prefix(&format!("{key}:"))
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"))
}

/// A memfd holding `data`, for deliveries.
pub fn memfd(data: &[u8]) -> OwnedFd {
    use std::io::Write;
    let fd =
        nix::sys::memfd::memfd_create(c"test-msg", nix::sys::memfd::MFdFlags::MFD_CLOEXEC).unwrap();
    let mut f = std::fs::File::from(fd);
    f.write_all(data).unwrap();
    f.into()
}

pub fn deliver(server: &Server, address: &str, body: &[u8]) -> ControlReply {
    let fd = memfd(body);
    server
        .call(
            ControlRequest::Deliver {
                address: address.into(),
                mailbox: "Inbox".into(),
            },
            &[fd.as_fd()],
        )
        .0
}

pub fn path_str(p: &Path) -> String {
    p.display().to_string()
}

pub mod imap_client;
pub mod smtp_client;

/// A message as the store holds it: the prefix moxd added at delivery
/// (Received, …) and the file, byte for byte as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    pub id: i64,
    pub prefix: Vec<u8>,
    pub file: Vec<u8>,
}

impl StoredMessage {
    pub fn prefix_text(&self) -> String {
        String::from_utf8_lossy(&self.prefix).into_owned()
    }

    /// Whether `needle` occurs in the file.
    pub fn contains(&self, needle: &[u8]) -> bool {
        needle.is_empty() || self.file.windows(needle.len()).any(|w| w == needle)
    }
}

/// Every message of an account's Inbox, read through an admin store
/// connection: prefix and file.
pub fn stored_messages(server: &Server, account: &str) -> Vec<StoredMessage> {
    use std::io::Read;
    let mut c = server.store_conn();
    c.send(
        1,
        &StoreRequest::MessageList {
            account: account.into(),
            mailbox: "Inbox".into(),
        },
        &[],
    )
    .unwrap();
    let list = match c.recv::<StoreReply>().unwrap().expect("store reply").body {
        StoreReply::Messages(m) => m,
        other => panic!("message list: {other:?}"),
    };
    let mut out = Vec::new();
    for (i, m) in list.iter().enumerate() {
        c.send(
            10 + i as u64,
            &StoreRequest::MessageOpen {
                account: account.into(),
                message_id: m.id,
            },
            &[],
        )
        .unwrap();
        let r = c.recv::<StoreReply>().unwrap().expect("store reply");
        let StoreReply::MessageFile { prefix, size } = r.body else {
            panic!("message open: {:?}", r.body)
        };
        let mut f = std::fs::File::from(r.fds.into_iter().next().expect("message fd"));
        let mut file = Vec::new();
        f.read_to_end(&mut file).unwrap();
        assert_eq!(
            size,
            (prefix.len() + file.len()) as u64,
            "stored size of message {}",
            m.id
        );
        out.push(StoredMessage {
            id: m.id,
            prefix,
            file,
        });
    }
    out
}

/// The stored messages of `account` whose file contains `needle`.
pub fn messages_containing(server: &Server, account: &str, needle: &[u8]) -> Vec<StoredMessage> {
    stored_messages(server, account)
        .into_iter()
        .filter(|m| m.contains(needle))
        .collect()
}

/// The outbound queue as the store lists it.
pub fn queue_list(server: &Server) -> Vec<ipc::store::QueueInfo> {
    match server.call(ControlRequest::QueueList, &[]).0 {
        ControlReply::Queue(q) => q,
        other => panic!("queue list: {other:?}"),
    }
}

/// Set an account's password through the control socket.
pub fn set_password(server: &Server, account: &str, password: &str) {
    let r = server
        .call(
            ControlRequest::SetPassword {
                account: account.into(),
                password: password.into(),
            },
            &[],
        )
        .0;
    assert_eq!(r, ControlReply::Ok, "set password of {account}");
}

/// A `moxd serve` with SMTP listeners on free loopback ports and a
/// self-signed certificate. Derefs to its [`Server`].
pub struct SmtpServer {
    pub server: Server,
    pub smtp: std::net::SocketAddr,
    pub submission: std::net::SocketAddr,
    pub submissions: std::net::SocketAddr,
    /// The certificate's DER bytes (for tls-server-end-point).
    pub cert_der: Vec<u8>,
    /// Holds the certificate files.
    _tls_dir: tempfile::TempDir,
}

impl std::ops::Deref for SmtpServer {
    type Target = Server;
    fn deref(&self) -> &Server {
        &self.server
    }
}

/// Attempts at starting a server whose free ports were taken meanwhile.
pub const BIND_ATTEMPTS: usize = 5;

/// Three distinct free TCP ports on 127.0.0.1 (bound at once, then freed).
pub fn free_ports() -> [u16; 3] {
    let ls: Vec<std::net::TcpListener> = (0..3)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"))
        .collect();
    let p: Vec<u16> = ls
        .iter()
        .map(|l| l.local_addr().expect("local addr").port())
        .collect();
    [p[0], p[1], p[2]]
}

impl Server {
    /// `moxd serve` like [`Server::serve`], but an exit before "ready" is
    /// returned as Err with the output instead of a panic.
    pub fn try_serve(extra: &str) -> Result<Server, String> {
        if is_root() {
            ensure_moxd_user();
        }
        let dir = tempdir();
        let socket = dir.path().join("ctl");
        let cfg = format!(
            "hostname = \"mail.example.org\"\ndata_dir = \"{}\"\ncontrol_socket = \"{}\"\nsandbox = \"required\"\n{extra}\n",
            dir.path().join("data").display(),
            socket.display()
        );
        std::fs::write(dir.path().join("moxd.toml"), cfg).unwrap();
        std::fs::write(
            dir.path().join("domains.toml"),
            "domains = [\"example.org\"]\n[[accounts]]\nname = \"alice\"\naddresses = [\"alice@example.org\"]\n",
        )
        .unwrap();
        let mut cmd = Command::new(MOXD);
        cmd.arg("serve")
            .arg("-c")
            .arg(dir.path().join("moxd.toml"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // The Server is dropped (and moxd killed) before this thread ends;
        // if the test process dies instead, moxd dies with it.
        die_with_parent(&mut cmd);
        let mut child = cmd.spawn().map_err(|e| format!("spawning moxd: {e}"))?;
        let output = collect_output(&mut child);
        let mut s = Server {
            child,
            dir,
            socket,
            output,
        };
        s.try_wait_ready()?;
        Ok(s)
    }

    fn try_wait_ready(&mut self) -> Result<(), String> {
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(60) {
            if self.output_text().contains("moxd ready") {
                return Ok(());
            }
            if let Ok(Some(st)) = self.child.try_wait() {
                std::thread::sleep(Duration::from_millis(100));
                return Err(format!(
                    "moxd exited with {st} before ready:\n{}",
                    self.output_text()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!(
            "moxd did not become ready:\n{}",
            self.output_text()
        ))
    }

    /// `moxd serve` with smtp, submission and submissions on free ports of
    /// 127.0.0.1 and a self-signed certificate for mail.example.org.
    /// `extra` is appended to moxd.toml (before `[tls]`/`[listeners]`).
    pub fn serve_smtp(extra: &str) -> SmtpServer {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let tls_dir = tempdir();
        let (cert, key) = (
            tls_dir.path().join("cert.pem"),
            tls_dir.path().join("key.pem"),
        );
        privsep::tls::ensure_self_signed(&cert, &key, &["mail.example.org", "localhost"])
            .expect("self-signed certificate");
        let pem = std::fs::read(&cert).unwrap();
        let cert_der = CertificateDer::pem_slice_iter(&pem)
            .next()
            .expect("a certificate")
            .expect("certificate parses")
            .to_vec();
        let mut last = String::new();
        for _ in 0..BIND_ATTEMPTS {
            let [smtp, submission, submissions] = free_ports();
            let cfg = format!(
                "{extra}\n[tls]\ncert = \"{}\"\nkey = \"{}\"\n\n[listeners]\nips = [\"127.0.0.1\"]\nsmtp = {smtp}\nsubmission = {submission}\nsubmissions = {submissions}\n",
                cert.display(),
                key.display()
            );
            match Server::try_serve(&cfg) {
                Ok(server) => {
                    let at = |p: u16| std::net::SocketAddr::from(([127, 0, 0, 1], p));
                    return SmtpServer {
                        server,
                        smtp: at(smtp),
                        submission: at(submission),
                        submissions: at(submissions),
                        cert_der,
                        _tls_dir: tls_dir,
                    };
                }
                Err(e) if e.contains("in use") => last = e,
                Err(e) => panic!("{e}"),
            }
        }
        panic!("no free ports after {BIND_ATTEMPTS} attempts:\n{last}");
    }
}

/// How long a localserve start may wait for its fixed ports to be free.
pub const LOCALSERVE_PORT_WAIT: Duration = Duration::from_secs(120);

/// The master pid and directory of the process-wide localserve, for the
/// exit handler.
static PROCESS_LOCALSERVE: std::sync::Mutex<Option<(u32, PathBuf)>> = std::sync::Mutex::new(None);

/// SIGKILL for the child when the thread that spawned it ends (the
/// master's workers follow it through their own PR_SET_PDEATHSIG).
fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork
    // and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

extern "C" fn stop_process_localserve() {
    let Ok(mut g) = PROCESS_LOCALSERVE.lock() else {
        return;
    };
    if let Some((pid, dir)) = g.take() {
        let pid = nix::unistd::Pid::from_raw(pid as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(pid, None);
        let _ = std::fs::remove_dir_all(dir);
    }
}

impl Server {
    /// A `moxd localserve` that lives as long as this test process: it is
    /// started from a thread that never ends, with PR_SET_PDEATHSIG, so it
    /// dies with the process however the process ends; a normal exit also
    /// removes its directory. Its ports are fixed, so a start that finds
    /// them taken is retried for [`LOCALSERVE_PORT_WAIT`].
    pub fn localserve_for_process() -> Server {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let t0 = Instant::now();
            let server = loop {
                match Server::try_localserve_with_parent_death() {
                    Ok(s) => break Ok(s),
                    Err(e) if e.contains("in use") && t0.elapsed() < LOCALSERVE_PORT_WAIT => {
                        std::thread::sleep(Duration::from_millis(500));
                    }
                    Err(e) => break Err(e),
                }
            };
            let _ = tx.send(server);
            // PR_SET_PDEATHSIG fires when this thread ends: never end it.
            loop {
                std::thread::park();
            }
        });
        let server = rx
            .recv()
            .expect("localserve thread")
            .unwrap_or_else(|e| panic!("{e}"));
        *PROCESS_LOCALSERVE.lock().unwrap() =
            Some((server.child.id(), server.dir.path().to_path_buf()));
        // SAFETY: registers a plain extern "C" fn with the C library.
        unsafe {
            libc::atexit(stop_process_localserve);
        }
        server
    }

    fn try_localserve_with_parent_death() -> Result<Server, String> {
        let dir = tempdir();
        let socket = dir.path().join("ctl");
        let mut cmd = Command::new(MOXD);
        cmd.arg("localserve")
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        die_with_parent(&mut cmd);
        let mut child = cmd.spawn().map_err(|e| format!("spawning moxd: {e}"))?;
        let output = collect_output(&mut child);
        let mut s = Server {
            child,
            dir,
            socket,
            output,
        };
        s.try_wait_ready()?;
        Ok(s)
    }
}

/// A `moxd serve` with IMAP (143-style STARTTLS and 993-style implicit
/// TLS) and SMTP listeners on free loopback ports, a self-signed
/// certificate for mail.example.org and localhost, and alice's password
/// set. Derefs to its [`Server`].
pub struct ImapServer {
    pub server: Server,
    pub imap: std::net::SocketAddr,
    pub imaps: std::net::SocketAddr,
    pub smtp: std::net::SocketAddr,
    /// The certificate (PEM), for clients to trust.
    pub cert_pem: Vec<u8>,
    /// Holds the certificate files.
    pub tls_dir: tempfile::TempDir,
}

impl std::ops::Deref for ImapServer {
    type Target = Server;
    fn deref(&self) -> &Server {
        &self.server
    }
}

/// alice's password on [`Server::serve_imap`] instances.
pub const IMAP_ALICE_PASSWORD: &str = "correct horse battery";

impl Server {
    /// `moxd serve` with imap, imaps and smtp listeners on free ports of
    /// 127.0.0.1. `extra` is appended to moxd.toml before `[tls]` (it may
    /// hold an `[imap]` table).
    pub fn serve_imap(extra: &str) -> ImapServer {
        let tls_dir = tempdir();
        let (cert, key) = (
            tls_dir.path().join("cert.pem"),
            tls_dir.path().join("key.pem"),
        );
        privsep::tls::ensure_self_signed(&cert, &key, &["mail.example.org", "localhost"])
            .expect("self-signed certificate");
        let cert_pem = std::fs::read(&cert).unwrap();
        let mut last = String::new();
        for _ in 0..BIND_ATTEMPTS {
            let [imap, imaps, smtp] = free_ports();
            let cfg = format!(
                "{extra}\n[tls]\ncert = \"{}\"\nkey = \"{}\"\n\n[listeners]\nips = [\"127.0.0.1\"]\nimap = {imap}\nimaps = {imaps}\nsmtp = {smtp}\n",
                cert.display(),
                key.display()
            );
            match Server::try_serve(&cfg) {
                Ok(server) => {
                    set_password(&server, "alice", IMAP_ALICE_PASSWORD);
                    let at = |p: u16| std::net::SocketAddr::from(([127, 0, 0, 1], p));
                    return ImapServer {
                        server,
                        imap: at(imap),
                        imaps: at(imaps),
                        smtp: at(smtp),
                        cert_pem,
                        tls_dir,
                    };
                }
                Err(e) if e.contains("in use") => last = e,
                Err(e) => panic!("{e}"),
            }
        }
        panic!("no free ports after {BIND_ATTEMPTS} attempts:\n{last}");
    }

    /// The certificate localserve made for itself (PEM).
    pub fn localserve_cert(&self) -> Vec<u8> {
        std::fs::read(self.dir.path().join("tls/cert.pem")).expect("localserve certificate")
    }
}
