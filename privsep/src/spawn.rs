//! Starting a worker: re-execute our own binary as `moxd worker ROLE`
//! (never fork a threaded process and keep running), with an empty
//! environment and the master channel as fd 3.

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::process::Stdio;

use ipc::Role;
use ipc::master::WORKER_CHANNEL_FD;
use nix::fcntl::{FcntlArg, fcntl};

/// The running binary, usable even if the file was replaced on disk.
const SELF_EXE: &str = "/proc/self/exe";

/// Fds below this are never used as a temporary home for the child's end.
const HIGH_FD_FLOOR: i32 = 10;

/// A started worker: its process and our end of its channel.
pub struct Spawned {
    pub child: tokio::process::Child,
    pub channel: UnixStream,
}

pub fn spawn_worker(role: Role) -> std::io::Result<Spawned> {
    let (ours, theirs) = UnixStream::pair()?;
    // Move the child's end above the low fds first: dup2 onto the same
    // number would leave FD_CLOEXEC set and the fd would vanish at exec.
    let high_raw =
        fcntl(&theirs, FcntlArg::F_DUPFD_CLOEXEC(HIGH_FD_FLOOR)).map_err(std::io::Error::from)?;
    // SAFETY: F_DUPFD_CLOEXEC just returned this new descriptor; we are its only owner.
    let high = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(high_raw) };
    drop(theirs);
    let mut cmd = tokio::process::Command::new(SELF_EXE);
    cmd.arg0("moxd")
        .arg("worker")
        .arg(role.name())
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    // SAFETY: the closure runs in the forked child before exec and only
    // makes async-signal-safe syscalls (dup2, prctl, setpgid, getppid).
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(high_raw, WORKER_CHANNEL_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // Die with the master: an orphaned worker must not keep a port.
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) < 0
            {
                return Err(std::io::Error::last_os_error());
            }
            // Own process group: a terminal's ^C reaches only the master,
            // which then stops the workers in order.
            if libc::setpgid(0, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    drop(high);
    Ok(Spawned {
        child,
        channel: ours,
    })
}
