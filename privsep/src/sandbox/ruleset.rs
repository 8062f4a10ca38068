//! Landlock: one ruleset that handles every file-system right of ABI 6
//! and allows only the role's paths, handles TCP bind/connect (allowing
//! connect to the role's ports, never bind: listeners come from the
//! master), and scopes signals and abstract unix sockets to the sandbox.
//! One ruleset, not one per kind: every landlock layer denies `Refer`
//! (cross-directory rename) unless a rule of that layer allows it, so a
//! separate net-only layer would break the store's tmp -> msg renames.
//! Best-effort compatibility: an older kernel enforces what it knows; the
//! report derives from the kernel's ABI which part that is. UDP (plain
//! DNS) is not covered by ABI 6.

use std::path::Path;

use ipc::sandbox::FeatureState;
use landlock::{
    ABI, Access, AccessFs, AccessNet, BitFlags, LandlockStatus, NetPort, PathBeneath, PathFd,
    RestrictionStatus, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetError, RulesetStatus,
    Scope,
};

use super::{SandboxError, SandboxSpec};

/// The newest ABI whose rights moxd asks for (and is tested against).
pub(crate) const TARGET_ABI: ABI = ABI::V6;
/// ABI of the newest file-system right moxd handles (IoctlDev, ABI 5).
const FS_COMPLETE_ABI: i32 = 5;
/// ABI that brought TCP bind/connect rules.
const NET_ABI: i32 = 4;
/// ABI that brought signal and abstract-unix-socket scopes.
const SCOPE_ABI: i32 = 6;

pub(crate) struct LandlockOutcome {
    pub fs: FeatureState,
    pub net: FeatureState,
    /// The kernel's ABI version, None without landlock.
    pub abi: Option<i32>,
}

pub(crate) fn restrict(spec: &SandboxSpec) -> Result<LandlockOutcome, SandboxError> {
    let status = restrict_self(spec).map_err(|e| SandboxError::Failed(format!("landlock: {e}")))?;
    Ok(outcome(&status.ruleset, status.landlock))
}

#[derive(Debug, thiserror::Error)]
enum RuleError {
    #[error(transparent)]
    Ruleset(#[from] RulesetError),
    #[error("{path}: {source}")]
    Path {
        path: String,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

fn restrict_self(spec: &SandboxSpec) -> Result<RestrictionStatus, RuleError> {
    let all = AccessFs::from_all(TARGET_ABI);
    // No role executes anything.
    let read_write = all & !AccessFs::Execute;
    let read_only = AccessFs::from_read(TARGET_ABI) & !AccessFs::Execute;
    // Handling BindTcp with no rule denies every TCP bind, port 0 included.
    let mut ruleset = Ruleset::default()
        .handle_access(all)?
        .handle_access(AccessNet::from_all(TARGET_ABI))?
        .scope(Scope::from_all(TARGET_ABI))?
        .create()?;
    for path in &spec.read_write {
        ruleset = ruleset.add_rule(path_rule(path, read_write)?)?;
    }
    for path in &spec.read_only {
        ruleset = ruleset.add_rule(path_rule(path, read_only)?)?;
    }
    for &port in &spec.connect_ports {
        ruleset = ruleset.add_rule(NetPort::new(port, AccessNet::ConnectTcp))?;
    }
    Ok(ruleset.restrict_self()?)
}

/// A rule for `path`; a file (not a directory) gets only the rights that
/// apply to files, else the crate would count the rule as degraded.
fn path_rule(path: &Path, access: BitFlags<AccessFs>) -> Result<PathBeneath<PathFd>, RuleError> {
    let err = |e: Box<dyn std::error::Error + Send + Sync>| RuleError::Path {
        path: path.display().to_string(),
        source: e,
    };
    let is_dir = std::fs::metadata(path).map_err(|e| err(e.into()))?.is_dir();
    let access = if is_dir {
        access
    } else {
        access & AccessFs::from_file(TARGET_ABI)
    };
    let fd = PathFd::new(path).map_err(|e| err(e.into()))?;
    Ok(PathBeneath::new(fd, access))
}

fn kernel_abi(status: &LandlockStatus) -> Option<i32> {
    match status {
        LandlockStatus::Available {
            effective_abi,
            kernel_abi,
        } => Some(kernel_abi.unwrap_or(*effective_abi as i32)),
        LandlockStatus::NotEnabled | LandlockStatus::NotImplemented => None,
    }
}

/// The fs and net states of one ruleset's status: fully enforced means
/// both; partly enforced is split by what the kernel's ABI has.
fn outcome(ruleset: &RulesetStatus, landlock: LandlockStatus) -> LandlockOutcome {
    let abi = kernel_abi(&landlock);
    let (fs, net) = match (ruleset, abi) {
        (RulesetStatus::FullyEnforced, _) => (FeatureState::Enforced, FeatureState::Enforced),
        (RulesetStatus::PartiallyEnforced, Some(abi)) => {
            let fs = if abi >= FS_COMPLETE_ABI {
                FeatureState::Enforced
            } else {
                FeatureState::Partial(format!(
                    "landlock ABI {abi}: file-system rights of ABI {FS_COMPLETE_ABI} and later are not enforced"
                ))
            };
            let net = if abi < NET_ABI {
                FeatureState::Missing(format!(
                    "landlock ABI {abi} has no TCP rules (ABI {NET_ABI})"
                ))
            } else if abi < SCOPE_ABI {
                FeatureState::Partial(format!(
                    "landlock ABI {abi}: TCP rules enforced, signal/abstract-socket scopes (ABI {SCOPE_ABI}) not"
                ))
            } else {
                FeatureState::Partial(format!(
                    "landlock ABI {abi} enforces the ruleset only in part"
                ))
            };
            (fs, net)
        }
        (RulesetStatus::PartiallyEnforced, None) => {
            let why = "landlock enforces the ruleset only in part".to_string();
            (
                FeatureState::Partial(why.clone()),
                FeatureState::Partial(why),
            )
        }
        (RulesetStatus::NotEnforced, _) => {
            let why = match landlock {
                LandlockStatus::NotImplemented => {
                    "landlock is not built into this kernel".to_string()
                }
                LandlockStatus::NotEnabled => {
                    "landlock is built in but not enabled at boot".to_string()
                }
                LandlockStatus::Available { .. } => {
                    "landlock enforces none of the ruleset".to_string()
                }
            };
            (
                FeatureState::Missing(why.clone()),
                FeatureState::Missing(why),
            )
        }
    };
    LandlockOutcome { fs, net, abi }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_rights_never_include_execute_or_write() {
        let ro = AccessFs::from_read(TARGET_ABI) & !AccessFs::Execute;
        assert!(ro.contains(AccessFs::ReadFile) && ro.contains(AccessFs::ReadDir));
        assert!(!ro.contains(AccessFs::Execute));
        assert!(!ro.contains(AccessFs::WriteFile));
        let rw = AccessFs::from_all(TARGET_ABI) & !AccessFs::Execute;
        assert!(rw.contains(AccessFs::Refer) && rw.contains(AccessFs::Truncate));
        assert!(!rw.contains(AccessFs::Execute));
    }

    #[test]
    fn file_rules_keep_only_file_rights() {
        let rule = path_rule(Path::new("/etc/hosts"), AccessFs::from_read(TARGET_ABI));
        assert!(rule.is_ok());
        let missing = path_rule(
            Path::new("/nonexistent/moxd"),
            AccessFs::from_read(TARGET_ABI),
        );
        match missing {
            Err(RuleError::Path { path, .. }) => assert_eq!(path, "/nonexistent/moxd"),
            Err(e) => panic!("wrong error {e}"),
            Ok(_) => panic!("a missing path must be an error"),
        }
    }

    fn available(abi: ABI) -> LandlockStatus {
        LandlockStatus::Available {
            effective_abi: abi,
            kernel_abi: None,
        }
    }

    #[test]
    fn full_enforcement_means_fs_and_net() {
        let o = outcome(&RulesetStatus::FullyEnforced, available(ABI::V7));
        assert_eq!(
            (o.fs, o.net, o.abi),
            (FeatureState::Enforced, FeatureState::Enforced, Some(7))
        );
    }

    #[test]
    fn partial_enforcement_is_split_by_abi() {
        let v3 = outcome(&RulesetStatus::PartiallyEnforced, available(ABI::V3));
        assert!(
            matches!(&v3.fs, FeatureState::Partial(r) if r.contains("ABI 3")),
            "{:?}",
            v3.fs
        );
        assert!(
            matches!(&v3.net, FeatureState::Missing(r) if r.contains("no TCP rules")),
            "{:?}",
            v3.net
        );
        let v5 = outcome(&RulesetStatus::PartiallyEnforced, available(ABI::V5));
        assert_eq!(v5.fs, FeatureState::Enforced);
        assert!(
            matches!(&v5.net, FeatureState::Partial(r) if r.contains("scopes")),
            "{:?}",
            v5.net
        );
    }

    #[test]
    fn no_landlock_is_missing_for_both() {
        let o = outcome(&RulesetStatus::NotEnforced, LandlockStatus::NotImplemented);
        assert_eq!(o.abi, None);
        assert!(matches!(&o.fs, FeatureState::Missing(r) if r.contains("not built")));
        assert!(matches!(&o.net, FeatureState::Missing(_)));
    }
}
