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
        let mut child = Command::new(MOXD)
            .arg("serve")
            .arg("-c")
            .arg(dir.path().join("moxd.toml"))
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
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(60) {
            if self.output_text().contains("moxd ready") {
                return;
            }
            if let Ok(Some(st)) = self.child.try_wait() {
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "moxd exited with {st} before ready:\n{}",
                    self.output_text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("moxd did not become ready:\n{}", self.output_text());
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
