//! `moxd sandbox-check-child ROLE`: enter the role's sandbox exactly as a
//! worker does (best effort, so every feature gets reported), then probe
//! it and print one JSON object on stdout.
//!
//! `/proc/self/status` is opened before the sandbox and re-read through
//! that fd afterwards: landlock denies opening it once the sandbox is in
//! force, but an open fd stays readable, and procfs regenerates the text
//! on every read from offset 0. So the printed lines (NoNewPrivs, Seccomp,
//! Cap*) are the ones in force after seccomp, and the sandbox checked is
//! the real one, with no extra rule for /proc.

use std::collections::BTreeMap;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use ipc::Role;
use ipc::config::{SandboxMode, UserIds};
use ipc::sandbox::SandboxReport;
use serde::{Deserialize, Serialize};

use super::procfs::ProcStatus;
use super::{SandboxSpec, enter, probe};

/// Users the check child switches to when started as root, in order.
const CHECK_USERS: &[&str] = &["moxd", "nobody"];
/// Prefix of the store's throw-away data dir under the temp dir.
pub(crate) const DATA_DIR_PREFIX: &str = "moxd-sandbox-check-";
const DATA_DIR_MODE: u32 = 0o700;
/// The /proc/self/status lines the check prints.
const STATUS_KEYS: &[&str] = &[
    "Uid",
    "Gid",
    "Groups",
    "CapInh",
    "CapPrm",
    "CapEff",
    "CapBnd",
    "CapAmb",
    "NoNewPrivs",
    "Seccomp",
    "Seccomp_filters",
];
/// A file every system has and no worker may read.
const ESCAPE_PROBE_PATH: &str = "/etc/passwd";

/// What the child prints (one JSON line) and the parent reads.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CheckOutput {
    pub role: String,
    /// The report of `enter`; None when it failed.
    pub report: Option<SandboxReport>,
    /// Why the check could not run or `enter` failed.
    pub error: Option<String>,
    /// `/proc/self/status` lines after the sandbox.
    pub status: BTreeMap<String, String>,
    /// Probe name -> errno name (or "ok"/"opened"/...).
    pub probes: BTreeMap<String, String>,
    /// The store's throw-away data dir; the caller removes it.
    pub data_dir: Option<PathBuf>,
}

fn emit(out: &CheckOutput) -> i32 {
    match serde_json::to_string(out) {
        Ok(line) => {
            println!("{line}");
            if out.error.is_some() { 1 } else { 0 }
        }
        Err(e) => {
            eprintln!("moxd sandbox-check-child: cannot encode the result: {e}");
            1
        }
    }
}

/// The child side of `run_check` (`moxd sandbox-check-child ROLE`).
pub fn run_check_child(role: Role) -> i32 {
    let mut out = CheckOutput {
        role: role.name().to_string(),
        ..CheckOutput::default()
    };
    let user = if nix::unistd::geteuid().is_root() {
        match check_user() {
            Some(u) => Some(u),
            None => {
                out.error = Some(format!(
                    "running as root but none of the users {CHECK_USERS:?} exists"
                ));
                return emit(&out);
            }
        }
    } else {
        None
    };
    if role == Role::Store {
        match make_data_dir(user.as_ref()) {
            Ok(dir) => out.data_dir = Some(dir),
            Err(e) => {
                out.error = Some(format!("creating the store's data dir: {e}"));
                return emit(&out);
            }
        }
    }
    let status_file = match ProcStatus::open_self() {
        Ok(f) => f,
        Err(e) => {
            out.error = Some(format!("opening /proc/self/status: {e}"));
            return emit(&out);
        }
    };

    let mut spec =
        SandboxSpec::for_role(role, SandboxMode::BestEffort, user, out.data_dir.as_deref());
    spec.escape_probe = Some(PathBuf::from(ESCAPE_PROBE_PATH));
    match enter(&spec) {
        Ok(report) => out.report = Some(report),
        Err(e) => {
            out.error = Some(format!("entering the sandbox: {e}"));
            return emit(&out);
        }
    }
    match ProcStatus::read_from(&status_file) {
        Ok(status) => out.status = status.subset(STATUS_KEYS),
        Err(e) => out.error = Some(format!("re-reading /proc/self/status: {e}")),
    }
    out.probes = probe::run_all(&spec.connect_ports, out.data_dir.as_deref());
    emit(&out)
}

fn check_user() -> Option<UserIds> {
    CHECK_USERS.iter().find_map(|name| {
        let u = nix::unistd::User::from_name(name).ok()??;
        Some(UserIds {
            name: u.name,
            uid: u.uid.as_raw(),
            gid: u.gid.as_raw(),
        })
    })
}

/// A fresh, private directory under the temp dir, owned by `user`.
fn make_data_dir(user: Option<&UserIds>) -> std::io::Result<PathBuf> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("{DATA_DIR_PREFIX}{}-{nanos}", std::process::id()));
    std::fs::DirBuilder::new()
        .mode(DATA_DIR_MODE)
        .create(&dir)?;
    if let Some(u) = user {
        let owner = (
            Some(nix::unistd::Uid::from_raw(u.uid)),
            Some(nix::unistd::Gid::from_raw(u.gid)),
        );
        if let Err(e) = nix::unistd::chown(&dir, owner.0, owner.1) {
            let _ = std::fs::remove_dir(&dir);
            return Err(e.into());
        }
    }
    Ok(dir)
}

/// Whether `dir` is a data dir made by [`make_data_dir`] (so the parent
/// only ever removes those).
pub(crate) fn is_check_data_dir(dir: &Path) -> bool {
    dir.is_absolute()
        && dir.components().all(|c| {
            matches!(
                c,
                std::path::Component::RootDir | std::path::Component::Normal(_)
            )
        })
        && dir
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(DATA_DIR_PREFIX))
}
