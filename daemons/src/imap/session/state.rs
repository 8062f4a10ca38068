//! The states of an IMAP session (RFC 9051 §3): each holds only the data
//! that exists in it, and transitions consume the old state. The one
//! helper for a command in the wrong state is [`wrong_state`].

use ipc::store::ChangeEvent;
use tokio::sync::broadcast;

use super::error::CmdError;
use super::view::Selected;

/// Extensions the client turned on (RFC 5161 ENABLE, or implicitly by
/// using them, RFC 7162 §3.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Enabled {
    pub condstore: bool,
    pub qresync: bool,
    /// UTF8=ACCEPT (RFC 6855).
    pub utf8: bool,
    /// IMAP4rev2 (RFC 9051 §6.3.1).
    pub rev2: bool,
}

/// A logged-in user.
pub struct Authed {
    pub account: String,
    /// The account's change events (other sessions' changes).
    pub changes: broadcast::Receiver<ChangeEvent>,
    pub enabled: Enabled,
}

pub enum State {
    NotAuthenticated,
    Authenticated(Authed),
    Selected(Authed, Box<Selected>),
    Logout,
}

impl State {
    pub fn authed(&mut self) -> Option<&mut Authed> {
        match self {
            State::Authenticated(a) | State::Selected(a, _) => Some(a),
            State::NotAuthenticated | State::Logout => None,
        }
    }

    pub fn selected(&mut self) -> Option<(&mut Authed, &mut Selected)> {
        match self {
            State::Selected(a, s) => Some((a, s)),
            _ => None,
        }
    }

    pub fn is_authenticated(&self) -> bool {
        matches!(self, State::Authenticated(_) | State::Selected(..))
    }

    /// Leaves the selected state (CLOSE, UNSELECT, a new SELECT).
    pub fn deselect(self) -> State {
        match self {
            State::Selected(a, _) => State::Authenticated(a),
            other => other,
        }
    }

    /// Enters the selected state; only from an authenticated state.
    pub fn select(self, sel: Selected) -> State {
        match self {
            State::Authenticated(a) | State::Selected(a, _) => State::Selected(a, Box::new(sel)),
            other => other,
        }
    }
}

/// Applies a consuming transition to a state behind a reference.
pub fn transition(state: &mut State, f: impl FnOnce(State) -> State) {
    let old = std::mem::replace(state, State::Logout);
    *state = f(old);
}

/// The error for a command given in a state that does not allow it
/// (RFC 9051 §3: BAD).
pub fn wrong_state(state: &State, command: &str) -> CmdError {
    let name = match state {
        State::NotAuthenticated => "not authenticated",
        State::Authenticated(_) => "authenticated (no mailbox selected)",
        State::Selected(..) => "selected",
        State::Logout => "logout",
    };
    CmdError::bad(format!("{command} not allowed in state {name}"))
}
