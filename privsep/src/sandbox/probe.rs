//! Attempts a sandboxed process makes to prove its sandbox: each returns
//! the errno name the kernel answered ("EACCES" from landlock, "EPERM"
//! from seccomp) or a word saying the action worked.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use nix::errno::Errno;

/// What a probe reports when the forbidden action worked.
pub(crate) const OPENED: &str = "opened";
/// What the data-dir probe reports when the store could do its work.
pub(crate) const OK: &str = "ok";
/// A TCP port nothing is allowed to reach (tcpmux, RFC 1078).
const FORBIDDEN_PORT: u16 = 1;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const PROBE_BYTES: &[u8] = b"moxd sandbox probe\n";

pub(crate) fn errno_name(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(raw) => format!("{:?}", Errno::from_raw(raw)),
        None => format!("error: {e}"),
    }
}

fn nix_name(e: Errno) -> String {
    format!("{e:?}")
}

/// Open `path` for reading: "opened", or the errno name.
pub(crate) fn try_open(path: &Path) -> String {
    match std::fs::File::open(path) {
        Ok(_) => OPENED.to_string(),
        Err(e) => errno_name(&e),
    }
}

/// Create a new file in `dir` (removed again if it worked).
fn try_create_in(dir: &Path) -> String {
    let path = dir.join(format!("moxd-sandbox-probe-{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&path);
            "created".to_string()
        }
        Err(e) => errno_name(&e),
    }
}

fn try_connect(port: u16) -> String {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
        Ok(_) => "connected".to_string(),
        Err(e) => errno_name(&e),
    }
}

/// execve(/bin/true): on success this process is gone and prints nothing,
/// which the caller notices.
fn try_exec() -> String {
    let path = c"/bin/true";
    match nix::unistd::execv(path, &[path]) {
        Ok(never) => match never {},
        Err(e) => nix_name(e),
    }
}

fn try_ptrace_traceme() -> String {
    // SAFETY: PTRACE_TRACEME takes no pointers (addr and data are ignored);
    // the call only changes who may trace this process, or fails.
    let rc = unsafe {
        libc::ptrace(
            libc::PTRACE_TRACEME,
            0,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_void>(),
        )
    };
    if rc == 0 {
        "allowed".to_string()
    } else {
        nix_name(Errno::last())
    }
}

/// The store's daily work inside its data dir: create, write, fsync,
/// rename, fsync the directory, read back, remove.
fn data_dir_work(dir: &Path) -> String {
    let run = || -> std::io::Result<()> {
        let tmp = dir.join("probe.tmp");
        let done = dir.join("probe");
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(PROBE_BYTES)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, &done)?;
        std::fs::File::open(dir)?.sync_all()?;
        let mut back = Vec::new();
        std::fs::File::open(&done)?.read_to_end(&mut back)?;
        std::fs::remove_file(&done)?;
        if back != PROBE_BYTES {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "read back other bytes",
            ));
        }
        Ok(())
    };
    match run() {
        Ok(()) => OK.to_string(),
        Err(e) => format!("{}: {e}", errno_name(&e)),
    }
}

/// Run every probe; `connect_ports` and `data_dir` come from the spec.
/// The exec and ptrace probes go last (a successful PTRACE_TRACEME would
/// turn a later exec into a stop).
pub(crate) fn run_all(connect_ports: &[u16], data_dir: Option<&Path>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    out.insert(
        "read_etc_passwd".to_string(),
        try_open(Path::new("/etc/passwd")),
    );
    out.insert(
        "create_in_tmp".to_string(),
        try_create_in(Path::new("/tmp")),
    );
    out.insert(
        "tcp_connect_forbidden_port".to_string(),
        try_connect(FORBIDDEN_PORT),
    );
    if let Some(&port) = connect_ports.first() {
        out.insert(
            format!("tcp_connect_allowed_port_{port}"),
            try_connect(port),
        );
    }
    if let Some(dir) = data_dir {
        out.insert("data_dir_write".to_string(), data_dir_work(dir));
    }
    out.insert("execve".to_string(), try_exec());
    out.insert("ptrace_traceme".to_string(), try_ptrace_traceme());
    out
}

/// Whether a probe's answer shows the sandbox held. The allowed-port probe
/// only shows landlock does not block it, so any answer but a denial passes.
pub(crate) fn held(name: &str, answer: &str) -> bool {
    let denied = matches!(answer, "EACCES" | "EPERM");
    match name {
        "data_dir_write" => answer == OK,
        n if n.starts_with("tcp_connect_allowed_port_") => !denied,
        "read_etc_passwd" | "create_in_tmp" => answer == "EACCES",
        _ => denied,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_errnos() {
        assert_eq!(
            errno_name(&std::io::Error::from_raw_os_error(libc::EACCES)),
            "EACCES"
        );
        assert_eq!(
            errno_name(&std::io::Error::from_raw_os_error(libc::EPERM)),
            "EPERM"
        );
        assert!(errno_name(&std::io::Error::other("x")).starts_with("error:"));
    }

    #[test]
    fn judges_answers() {
        assert!(held("read_etc_passwd", "EACCES"));
        assert!(!held("read_etc_passwd", "EPERM"));
        assert!(!held("read_etc_passwd", OPENED));
        assert!(held("execve", "EPERM"));
        assert!(!held("execve", "ENOENT"));
        assert!(held("tcp_connect_forbidden_port", "EACCES"));
        assert!(!held("tcp_connect_forbidden_port", "ECONNREFUSED"));
        assert!(held("tcp_connect_allowed_port_25", "ECONNREFUSED"));
        assert!(!held("tcp_connect_allowed_port_25", "EACCES"));
        assert!(held("data_dir_write", OK));
        assert!(!held("data_dir_write", "EACCES: denied"));
    }

    #[test]
    fn unsandboxed_open_and_create_work() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(try_open(dir.path()), OPENED);
        assert_eq!(try_create_in(dir.path()), "created");
        assert_eq!(data_dir_work(dir.path()), OK);
        assert_eq!(
            std::fs::read_dir(dir.path()).expect("list").count(),
            0,
            "probes clean up"
        );
    }
}
