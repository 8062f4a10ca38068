//! Switching from root to the configured unprivileged user, and emptying
//! every capability set. The bounding set can only be cleared while
//! CAP_SETPCAP is held, so it goes before setresuid; all of this is per
//! thread, hence `enter` insists on a single thread.

use caps::{CapSet, Capability};
use ipc::config::UserIds;
use ipc::sandbox::FeatureState;
use nix::unistd::{Gid, Uid};

use super::SandboxError;
use super::procfs::{CapMasks, ProcStatus};

fn failed(what: &str, e: impl std::fmt::Display) -> SandboxError {
    SandboxError::Failed(format!("{what}: {e}"))
}

/// As root: drop to `user`. Returns (privdrop, capabilities) states; any
/// failure to switch is an error, never a degraded state.
pub(crate) fn drop_to(user: &UserIds) -> Result<(FeatureState, FeatureState), SandboxError> {
    if user.uid == 0 || user.gid == 0 {
        return Err(SandboxError::Failed(format!(
            "user {:?} has uid {} gid {}: a worker never runs with id 0",
            user.name, user.uid, user.gid
        )));
    }
    // While still root (CAP_SETPCAP): these two cannot be undone later.
    caps::clear(None, CapSet::Bounding).map_err(|e| failed("clearing the bounding set", e))?;
    caps::clear(None, CapSet::Ambient).map_err(|e| failed("clearing the ambient set", e))?;

    let (uid, gid) = (Uid::from_raw(user.uid), Gid::from_raw(user.gid));
    nix::unistd::setgroups(&[]).map_err(|e| failed("setgroups([])", e))?;
    nix::unistd::setresgid(gid, gid, gid).map_err(|e| failed("setresgid", e))?;
    nix::unistd::setresuid(uid, uid, uid).map_err(|e| failed("setresuid", e))?;
    for set in [CapSet::Inheritable, CapSet::Effective, CapSet::Permitted] {
        caps::clear(None, set).map_err(|e| failed("clearing a capability set", e))?;
    }

    verify_ids(uid, gid)?;
    let masks = read_masks()?;
    let capabilities = if masks.all_zero() {
        FeatureState::Enforced
    } else {
        FeatureState::Partial(format!("capabilities left after the drop: {masks}"))
    };
    Ok((FeatureState::Enforced, capabilities))
}

/// All three uids and gids switched, no groups, and no way back to root.
fn verify_ids(uid: Uid, gid: Gid) -> Result<(), SandboxError> {
    let r = nix::unistd::getresuid().map_err(|e| failed("getresuid", e))?;
    let g = nix::unistd::getresgid().map_err(|e| failed("getresgid", e))?;
    if [r.real, r.effective, r.saved] != [uid; 3] || [g.real, g.effective, g.saved] != [gid; 3] {
        return Err(SandboxError::Failed(format!(
            "uid/gid switch incomplete: uids {}/{}/{} gids {}/{}/{}",
            r.real, r.effective, r.saved, g.real, g.effective, g.saved
        )));
    }
    let groups = nix::unistd::getgroups().map_err(|e| failed("getgroups", e))?;
    if !groups.is_empty() {
        return Err(SandboxError::Failed(format!(
            "supplementary groups left: {groups:?}"
        )));
    }
    if nix::unistd::setuid(Uid::from_raw(0)).is_ok() {
        return Err(SandboxError::Failed(
            "setuid(0) succeeded after the privilege drop".into(),
        ));
    }
    Ok(())
}

fn read_masks() -> Result<CapMasks, SandboxError> {
    let status = ProcStatus::read_self().map_err(|e| failed("reading /proc/self/status", e))?;
    CapMasks::from_status(&status)
        .ok_or_else(|| SandboxError::Failed("/proc/self/status lacks the Cap* lines".into()))
}

/// Not root: there is no uid to switch. Empty what an unprivileged process
/// may empty; the bounding set needs CAP_SETPCAP, which it rarely holds.
pub(crate) fn unprivileged() -> (FeatureState, FeatureState) {
    let privdrop = FeatureState::NotApplicable(format!(
        "not started as root: running as uid {}",
        nix::unistd::getuid().as_raw()
    ));
    if caps::has_cap(None, CapSet::Effective, Capability::CAP_SETPCAP).unwrap_or(false) {
        // Failure leaves bits that the /proc check below reports.
        let _ = caps::clear(None, CapSet::Bounding);
    }
    // Reducing these sets never needs privilege; the /proc check reports failures.
    let _ = caps::clear(None, CapSet::Ambient);
    for set in [CapSet::Inheritable, CapSet::Effective, CapSet::Permitted] {
        let _ = caps::clear(None, set);
    }
    let capabilities = match read_masks() {
        Err(e) => FeatureState::Missing(format!("cannot verify the capability sets: {e}")),
        Ok(m) if m.all_zero() => FeatureState::Enforced,
        Ok(m) if m.held() => FeatureState::Partial(format!("capabilities still held: {m}")),
        Ok(m) => FeatureState::NotApplicable(format!(
            "not started as root: no capability held, bounding set {:016x} kept (clearing it needs CAP_SETPCAP)",
            m.bounding
        )),
    };
    (privdrop, capabilities)
}
