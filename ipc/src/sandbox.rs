//! What a worker reports about its own sandbox (shown by `moxctl status`).

use serde::{Deserialize, Serialize};

/// State of one sandbox feature in one worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FeatureState {
    /// Fully in force.
    Enforced,
    /// Partly in force (e.g. an older landlock ABI); the text says what is missing.
    Partial(String),
    /// Not in force: the kernel lacks it (best-effort mode) — the text says why.
    Missing(String),
    /// Does not apply (e.g. uid drop when not started as root).
    NotApplicable(String),
}

impl FeatureState {
    pub fn is_enforced(&self) -> bool {
        matches!(self, FeatureState::Enforced)
    }
}

impl std::fmt::Display for FeatureState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FeatureState::Enforced => f.write_str("enforced"),
            FeatureState::Partial(s) => write!(f, "partial ({s})"),
            FeatureState::Missing(s) => write!(f, "missing ({s})"),
            FeatureState::NotApplicable(s) => write!(f, "n/a ({s})"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxReport {
    pub uid: u32,
    pub gid: u32,
    /// setgroups/setresgid/setresuid to the configured user.
    pub privdrop: FeatureState,
    /// All capability sets empty, including bounding and ambient.
    pub capabilities: FeatureState,
    pub no_new_privs: FeatureState,
    /// PR_SET_DUMPABLE 0.
    pub not_dumpable: FeatureState,
    pub landlock_fs: FeatureState,
    pub landlock_net: FeatureState,
    pub seccomp: FeatureState,
    /// Landlock ABI version the kernel reports (None: no landlock).
    pub landlock_abi: Option<i32>,
    /// Result of the test-only escape probe (compiled only in test builds):
    /// the error a forbidden open got, e.g. "EACCES", or "opened" on escape.
    pub escape_probe: Option<String>,
}

impl SandboxReport {
    /// Features not fully in force, for warnings.
    pub fn missing(&self) -> Vec<String> {
        let items = [
            ("privdrop", &self.privdrop),
            ("capabilities", &self.capabilities),
            ("no_new_privs", &self.no_new_privs),
            ("not_dumpable", &self.not_dumpable),
            ("landlock_fs", &self.landlock_fs),
            ("landlock_net", &self.landlock_net),
            ("seccomp", &self.seccomp),
        ];
        items
            .iter()
            .filter(|(_, s)| matches!(s, FeatureState::Missing(_) | FeatureState::Partial(_)))
            .map(|(n, s)| format!("{n}: {s}"))
            .collect()
    }
}
