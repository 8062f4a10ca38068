//! PR_SET_NO_NEW_PRIVS (no exec can gain privileges; also what lets an
//! unprivileged process install seccomp filters) and PR_SET_DUMPABLE 0
//! (no core dumps, no ptrace attach by same-uid processes). Each is set,
//! then read back.

use ipc::sandbox::FeatureState;
use nix::sys::prctl;

pub(crate) fn set_no_new_privs() -> FeatureState {
    if let Err(e) = prctl::set_no_new_privs() {
        return FeatureState::Missing(format!("PR_SET_NO_NEW_PRIVS failed: {e}"));
    }
    match prctl::get_no_new_privs() {
        Ok(true) => FeatureState::Enforced,
        Ok(false) => FeatureState::Missing("PR_GET_NO_NEW_PRIVS still reads 0".into()),
        Err(e) => FeatureState::Missing(format!("PR_GET_NO_NEW_PRIVS failed: {e}")),
    }
}

pub(crate) fn set_not_dumpable() -> FeatureState {
    if let Err(e) = prctl::set_dumpable(false) {
        return FeatureState::Missing(format!("PR_SET_DUMPABLE failed: {e}"));
    }
    match prctl::get_dumpable() {
        Ok(false) => FeatureState::Enforced,
        Ok(true) => FeatureState::Missing("PR_GET_DUMPABLE still reads 1".into()),
        Err(e) => FeatureState::Missing(format!("PR_GET_DUMPABLE failed: {e}")),
    }
}
