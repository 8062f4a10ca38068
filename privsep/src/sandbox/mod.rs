//! The worker sandbox: privilege drop, capabilities, no_new_privs, not
//! dumpable, landlock (fs + net) and a per-role seccomp allowlist, applied
//! by `enter` at the top of a worker's main while it is single-threaded.
//!
//! The order is fixed (capability drops, landlock and seccomp are per
//! thread, and each step needs syscalls the next one forbids):
//! 1. read what is needed from /proc (thread count);
//! 2. as root: clear the bounding and ambient sets, setgroups([]),
//!    setresgid, setresuid, clear the other sets, verify;
//! 3. PR_SET_NO_NEW_PRIVS, PR_SET_DUMPABLE 0;
//! 4. landlock (one ruleset: paths, TCP ports, scopes);
//! 5. seccomp, last.

mod check;
mod check_child;
mod prctl;
mod privdrop;
mod probe;
mod procfs;
mod ruleset;
pub mod seccomp;

use std::path::{Path, PathBuf};

use ipc::Role;
use ipc::config::{SandboxMode, UserIds};
use ipc::sandbox::{FeatureState, SandboxReport};

pub use check::run_check;
pub use check_child::run_check_child;

/// DNS over TCP (RFC 7766), used when a UDP answer is truncated.
pub const DNS_PORT: u16 = 53;
/// SMTP relay (RFC 5321 §4.5.4.2 delivery to MX hosts).
pub const SMTP_PORT: u16 = 25;
/// Message submission over implicit TLS (RFC 8314 §3.3).
pub const SUBMISSIONS_PORT: u16 = 465;
/// Message submission with STARTTLS (RFC 6409 §3.1).
pub const SUBMISSION_PORT: u16 = 587;
/// HTTPS: MTA-STS policies (RFC 8461 §3.3), ACME (RFC 8555).
pub const HTTPS_PORT: u16 = 443;

/// SQLite seeds its PRNG (WAL salts, temp names) from this file; without
/// it, it falls back to time and pid.
const SQLITE_RANDOM_SOURCE: &str = "/dev/urandom";
/// Files a resolver reads; only the ones that exist are allowed.
const RESOLVER_FILES: &[&str] = &["/etc/resolv.conf", "/etc/hosts"];
/// Directories holding the system's TLS trust anchors (Debian layout:
/// /etc/ssl/certs links into /usr/share/ca-certificates).
const TLS_ROOT_DIRS: &[&str] = &["/etc/ssl/certs", "/usr/share/ca-certificates"];

/// What one role may do; built by [`SandboxSpec::for_role`].
#[derive(Debug, Clone)]
pub struct SandboxSpec {
    pub role: Role,
    pub mode: SandboxMode,
    /// Switch to this user (only when running as root).
    pub user: Option<UserIds>,
    /// Paths the role may read and write (store: the data directory).
    pub read_write: Vec<PathBuf>,
    /// Paths the role may only read.
    pub read_only: Vec<PathBuf>,
    /// TCP ports the role may connect to (landlock net rules); empty: none.
    pub connect_ports: Vec<u16>,
    /// Test builds only: try to open this path after sandboxing.
    pub escape_probe: Option<PathBuf>,
}

impl SandboxSpec {
    /// The rights of `role` (DESIGN.md role table). `data_dir` is used by
    /// the store only (which also reads /dev/urandom, for SQLite). Workers
    /// never bind: listeners come from the master.
    pub fn for_role(
        role: Role,
        mode: SandboxMode,
        user: Option<UserIds>,
        data_dir: Option<&Path>,
    ) -> Self {
        let mut spec = SandboxSpec {
            role,
            mode,
            user,
            read_write: Vec::new(),
            read_only: Vec::new(),
            connect_ports: Vec::new(),
            escape_probe: None,
        };
        match role {
            Role::Store => {
                spec.read_write.extend(data_dir.map(Path::to_path_buf));
                spec.read_only = existing(&[SQLITE_RANDOM_SOURCE]);
            }
            Role::SmtpIn | Role::Submission => {
                spec.read_only = existing(RESOLVER_FILES);
                spec.connect_ports = vec![DNS_PORT];
            }
            Role::Queue => {
                spec.read_only = existing(RESOLVER_FILES);
                spec.read_only.extend(existing(TLS_ROOT_DIRS));
                spec.connect_ports = vec![
                    SMTP_PORT,
                    SUBMISSIONS_PORT,
                    SUBMISSION_PORT,
                    DNS_PORT,
                    HTTPS_PORT,
                ];
            }
            Role::Web => {
                spec.read_only = existing(RESOLVER_FILES);
                spec.connect_ports = vec![DNS_PORT, HTTPS_PORT];
            }
            Role::Imap | Role::Junk => {}
        }
        spec
    }
}

fn existing(paths: &[&str]) -> Vec<PathBuf> {
    paths
        .iter()
        .map(PathBuf::from)
        .filter(|p| p.exists())
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("sandbox feature {feature} is required but unavailable: {reason}")]
    Required {
        feature: &'static str,
        reason: String,
    },
    #[error("sandbox setup failed: {0}")]
    Failed(String),
}

/// Apply the whole sandbox to the calling (single-threaded) process.
///
/// Errors: more than one thread, root without a user to switch to, a
/// failed uid switch, or (in [`SandboxMode::Required`]) any feature that is
/// missing or partial. In [`SandboxMode::BestEffort`] missing features are
/// logged with `tracing::warn!` and reported.
pub fn enter(spec: &SandboxSpec) -> Result<SandboxReport, SandboxError> {
    let threads = procfs::thread_count()
        .map_err(|e| SandboxError::Failed(format!("reading /proc/self/task: {e}")))?;
    if threads != 1 {
        return Err(SandboxError::Failed(format!(
            "the sandbox must be entered while single-threaded; this process has {threads} threads"
        )));
    }
    // Compile the BPF programs before changing anything: a bad list fails early.
    let filters = seccomp::build(spec.role)?;

    let (privdrop, capabilities) = if nix::unistd::geteuid().is_root() {
        let user = spec.user.as_ref().ok_or_else(|| {
            SandboxError::Failed(
                "started as root without a user to switch to: a worker never runs as root".into(),
            )
        })?;
        privdrop::drop_to(user)?
    } else {
        privdrop::unprivileged()
    };

    let no_new_privs = prctl::set_no_new_privs();
    let not_dumpable = prctl::set_not_dumpable();
    let landlock = ruleset::restrict(spec)?;

    let mut report = SandboxReport {
        uid: nix::unistd::getuid().as_raw(),
        gid: nix::unistd::getgid().as_raw(),
        privdrop,
        capabilities,
        no_new_privs,
        not_dumpable,
        landlock_fs: landlock.fs,
        landlock_net: landlock.net,
        seccomp: FeatureState::Missing("not applied".into()),
        landlock_abi: landlock.abi,
        escape_probe: None,
    };
    report.seccomp = seccomp::apply(&filters);

    #[cfg(feature = "escape-probe")]
    {
        report.escape_probe = spec.escape_probe.as_deref().map(probe::try_open);
    }

    judge(spec, &report)?;
    tracing::info!(
        role = %spec.role,
        uid = report.uid,
        landlock_abi = ?report.landlock_abi,
        landlock_fs = %report.landlock_fs,
        landlock_net = %report.landlock_net,
        seccomp = %report.seccomp,
        "sandbox entered"
    );
    Ok(report)
}

/// Every feature with its report name, in report order.
fn features(report: &SandboxReport) -> [(&'static str, &FeatureState); 7] {
    [
        ("privdrop", &report.privdrop),
        ("capabilities", &report.capabilities),
        ("no_new_privs", &report.no_new_privs),
        ("not_dumpable", &report.not_dumpable),
        ("landlock_fs", &report.landlock_fs),
        ("landlock_net", &report.landlock_net),
        ("seccomp", &report.seccomp),
    ]
}

/// Refuse (Required) or warn (BestEffort) about features not in force.
/// `NotApplicable` (uid switch and bounding set when not root) is accepted.
fn judge(spec: &SandboxSpec, report: &SandboxReport) -> Result<(), SandboxError> {
    for (feature, state) in features(report) {
        let reason = match state {
            FeatureState::Missing(r) | FeatureState::Partial(r) => r,
            FeatureState::Enforced | FeatureState::NotApplicable(_) => continue,
        };
        match spec.mode {
            SandboxMode::Required => {
                return Err(SandboxError::Required {
                    feature,
                    reason: state.to_string(),
                });
            }
            SandboxMode::BestEffort => {
                tracing::warn!(role = %spec.role, feature, reason = %reason, "sandbox feature not in force")
            }
        }
    }
    for (feature, state) in features(report) {
        if let FeatureState::NotApplicable(reason) = state {
            tracing::info!(role = %spec.role, feature, reason = %reason, "sandbox feature does not apply");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(landlock_fs: FeatureState, privdrop: FeatureState) -> SandboxReport {
        SandboxReport {
            uid: 1000,
            gid: 1000,
            privdrop,
            capabilities: FeatureState::Enforced,
            no_new_privs: FeatureState::Enforced,
            not_dumpable: FeatureState::Enforced,
            landlock_fs,
            landlock_net: FeatureState::Enforced,
            seccomp: FeatureState::Enforced,
            landlock_abi: Some(7),
            escape_probe: None,
        }
    }

    #[test]
    fn store_gets_only_its_data_dir() {
        let spec = SandboxSpec::for_role(
            Role::Store,
            SandboxMode::Required,
            None,
            Some(Path::new("/var/lib/moxd")),
        );
        assert_eq!(spec.read_write, vec![PathBuf::from("/var/lib/moxd")]);
        assert_eq!(spec.read_only, vec![PathBuf::from(SQLITE_RANDOM_SOURCE)]);
        assert!(spec.connect_ports.is_empty());
    }

    #[test]
    fn queue_reaches_mail_dns_and_https_ports() {
        let spec = SandboxSpec::for_role(
            Role::Queue,
            SandboxMode::Required,
            None,
            Some(Path::new("/ignored")),
        );
        assert_eq!(spec.connect_ports, vec![25, 465, 587, 53, 443]);
        assert!(spec.read_write.is_empty());
        assert!(spec.read_only.iter().all(|p| p.exists()));
        for p in &spec.read_only {
            let known = RESOLVER_FILES
                .iter()
                .chain(TLS_ROOT_DIRS)
                .any(|k| Path::new(k) == p);
            assert!(known, "unexpected path {p:?}");
        }
    }

    #[test]
    fn smtp_roles_reach_dns_only() {
        for role in [Role::SmtpIn, Role::Submission] {
            let spec = SandboxSpec::for_role(role, SandboxMode::BestEffort, None, None);
            assert_eq!(spec.connect_ports, vec![DNS_PORT], "{role}");
            assert!(
                spec.read_only
                    .iter()
                    .all(|p| RESOLVER_FILES.iter().any(|k| Path::new(k) == p))
            );
        }
    }

    #[test]
    fn imap_and_junk_get_nothing() {
        for role in [Role::Imap, Role::Junk] {
            let spec =
                SandboxSpec::for_role(role, SandboxMode::Required, None, Some(Path::new("/data")));
            assert!(
                spec.read_write.is_empty()
                    && spec.read_only.is_empty()
                    && spec.connect_ports.is_empty()
            );
        }
    }

    #[test]
    fn required_mode_refuses_a_missing_feature() {
        let spec = SandboxSpec::for_role(Role::Imap, SandboxMode::Required, None, None);
        let r = report(
            FeatureState::Missing("no landlock".into()),
            FeatureState::Enforced,
        );
        match judge(&spec, &r) {
            Err(SandboxError::Required { feature, reason }) => {
                assert_eq!(feature, "landlock_fs");
                assert!(reason.contains("no landlock"), "{reason}");
            }
            other => panic!("expected Required error, got {other:?}"),
        }
    }

    #[test]
    fn required_mode_refuses_partial_and_accepts_not_applicable() {
        let spec = SandboxSpec::for_role(Role::Imap, SandboxMode::Required, None, None);
        let partial = report(
            FeatureState::Partial("ABI 5".into()),
            FeatureState::Enforced,
        );
        assert!(matches!(
            judge(&spec, &partial),
            Err(SandboxError::Required {
                feature: "landlock_fs",
                ..
            })
        ));
        let not_root = report(
            FeatureState::Enforced,
            FeatureState::NotApplicable("not root".into()),
        );
        assert!(judge(&spec, &not_root).is_ok());
    }

    #[test]
    fn best_effort_mode_continues() {
        let spec = SandboxSpec::for_role(Role::Imap, SandboxMode::BestEffort, None, None);
        let r = report(
            FeatureState::Missing("no landlock".into()),
            FeatureState::Enforced,
        );
        assert!(judge(&spec, &r).is_ok());
    }
}
