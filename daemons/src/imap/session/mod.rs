//! One IMAP session over any byte stream (RFC 9051 §3 states, §2.2
//! command framing). The session owns the connection; the store is
//! reached through [`Backend`]. This file holds the command loop: read a
//! command (with its literals, checked against the limits first), tell
//! other sessions' changes, run it (`imap/cmd/`), answer it in
//! [`Session::finish`].

mod compress;
mod error;
mod io;
mod read;
pub(crate) mod recent;
pub(crate) mod state;
mod tls;
pub(crate) mod view;

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio_util::sync::CancellationToken;

pub use self::error::SessionError;
pub(crate) use self::error::{CmdError, CmdResult, Done};
use self::io::Io;
pub(crate) use self::io::Line;
use self::read::Input;
use self::recent::SessionBackend;
use self::state::State;
pub(crate) use self::tls::TlsState;
use self::view::Selected;
use crate::imap::backend::Backend;
use crate::imap::capability::{self, Capability};
use crate::imap::config::{CATCH_UP_WAIT, Config};
use crate::imap::encode::Encoder;
use crate::imap::parse::{CommandBody, Options};
use crate::imap::response::{Code, Data, FetchItem, Response, Status};
pub use crate::smtp::PeerInfo;

pub struct Session<S, B> {
    pub(crate) io: Io<S>,
    pub(crate) cfg: Arc<Config>,
    /// The store's backend plus this session's \Recent (recent.rs).
    pub(crate) backend: SessionBackend<B>,
    pub(crate) peer: PeerInfo,
    pub(crate) tls: Option<TlsState>,
    pub(crate) shutdown: CancellationToken,
    /// Mailbox names and strings in UTF-8 (UTF8=ACCEPT or IMAP4rev2
    /// enabled); kept here because every response depends on it.
    pub(crate) utf8: bool,
    errors: u32,
    pub(crate) auth_failures: u32,
    /// The flags of the last FLAGS response (RFC 9051 §7.3.5): a keyword
    /// not among them gets a new FLAGS response before a FETCH shows it.
    flags_told: Vec<String>,
}

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    pub fn new(stream: S, cfg: Arc<Config>, backend: Arc<B>, peer: PeerInfo) -> Session<S, B> {
        let max_line = cfg.limits.max_line.max(cfg.limits.max_auth_line);
        Session {
            io: Io::new(stream, max_line, cfg.limits.write_timeout),
            cfg,
            backend: SessionBackend::new(backend),
            peer,
            tls: None,
            shutdown: CancellationToken::new(),
            utf8: false,
            errors: 0,
            auth_failures: 0,
            flags_told: Vec::new(),
        }
    }

    /// End the session with `* BYE` when `token` is cancelled.
    pub fn with_shutdown(mut self, token: CancellationToken) -> Session<S, B> {
        self.shutdown = token;
        self
    }

    /// Serve the connection until LOGOUT, an error, a timeout or shutdown.
    pub async fn run(mut self) -> Result<(), SessionError> {
        let mut state = State::NotAuthenticated;
        let result = self.serve(&mut state).await;
        let bye = match &result {
            Err(SessionError::Timeout) => Some("autologout: idle for too long"),
            Err(SessionError::Shutdown) => Some("server shutting down"),
            Err(SessionError::TooManyErrors) => Some("too many errors"),
            Err(SessionError::StoreGone) => Some("service unavailable, try again later"),
            _ => None,
        };
        if let Some(text) = bye {
            self.send(&Response::untagged(Status::Bye, None, text));
        }
        self.io.close().await;
        tracing::debug!(remote = %self.peer.remote, ?result, "imap session ended");
        result
    }

    async fn serve(&mut self, state: &mut State) -> Result<(), SessionError> {
        if self.cfg.implicit_tls {
            self.handshake().await?;
        }
        let caps = self.capabilities(state);
        self.send(&Response::untagged(
            Status::Ok,
            Some(Code::Capability(caps)),
            format!("{} moxd IMAP4rev2 ready", self.cfg.hostname),
        ));
        loop {
            if matches!(state, State::Logout) {
                return Ok(());
            }
            let shutdown = self.shutdown.clone();
            let input = tokio::select! {
                r = self.read_command(state) => r?,
                () = shutdown.cancelled() => return Err(SessionError::Shutdown),
            };
            match input {
                Input::Command(cmd) => self.command(state, cmd).await?,
                Input::Bad { tag, text } => {
                    let r = match tag {
                        Some(t) => Response::tagged(&t, Status::Bad, None, text),
                        None => Response::untagged(Status::Bad, None, text),
                    };
                    self.send(&r);
                    self.count_error()?;
                }
                Input::TooBig { tag, text } => {
                    let r = match tag {
                        Some(t) => Response::tagged(&t, Status::No, Some(Code::TooBig), text),
                        None => Response::untagged(Status::Bad, Some(Code::TooBig), text),
                    };
                    self.send(&r);
                    self.count_error()?;
                }
                Input::Fatal(text) => {
                    self.send(&Response::untagged(Status::Bye, Some(Code::TooBig), &text));
                    return Err(SessionError::Violation(text));
                }
                Input::Empty => {}
            }
        }
    }

    /// One command: changes of other sessions, the command, its answer.
    async fn command(
        &mut self,
        state: &mut State,
        cmd: crate::imap::parse::Command,
    ) -> Result<(), SessionError> {
        // RFC 9051 §7.5.1: no EXPUNGE while FETCH, STORE or SEARCH (by
        // sequence number) runs; COPY/MOVE and SORT/THREAD likewise.
        let seq_cmd = matches!(
            cmd.body,
            CommandBody::Fetch { uid: false, .. }
                | CommandBody::Store { uid: false, .. }
                | CommandBody::Search { uid: false, .. }
                | CommandBody::Copy { uid: false, .. }
                | CommandBody::Move { uid: false, .. }
                | CommandBody::Sort { uid: false, .. }
                | CommandBody::Thread { uid: false, .. }
        );
        let catch_up = matches!(
            cmd.body,
            CommandBody::Noop
                | CommandBody::Check
                | CommandBody::Append { .. }
                | CommandBody::Copy { .. }
                | CommandBody::Move { .. }
        );
        tracing::trace!(remote = %self.peer.remote, tag = %cmd.tag, command = cmd.body.name(), "imap command");
        self.updates(state, !seq_cmd).await?;
        let tag = cmd.tag.clone();
        let result = self.dispatch(state, cmd).await;
        if let Err(CmdError::Fatal(e)) = result {
            return Err(e);
        }
        if catch_up {
            self.catch_up(state, !seq_cmd).await?;
        }
        self.updates(state, !seq_cmd).await?;
        self.finish(&tag, result)
    }

    /// Waits (at most [`CATCH_UP_WAIT`]) until the change events of every
    /// change to the selected mailbox committed so far have arrived, so
    /// that NOOP, CHECK and a session's own APPEND, COPY and MOVE show
    /// them (RFC 9051 §6.1.2: NOOP is how a client polls for updates).
    /// Events travel apart from command replies, so without this a change
    /// another session just made could show only at the next command.
    async fn catch_up(
        &mut self,
        state: &mut State,
        allow_expunge: bool,
    ) -> Result<(), SessionError> {
        let Some((authed, sel)) = state.selected() else {
            return Ok(());
        };
        let (account, id) = (authed.account.clone(), sel.id);
        let target = match self.backend.mailbox_modseq(&account, id).await {
            Ok(Some(t)) => t,
            Ok(None) | Err(_) => return Ok(()),
        };
        let deadline = tokio::time::Instant::now() + CATCH_UP_WAIT;
        loop {
            self.take_in(state, Vec::new(), false, allow_expunge)
                .await?;
            let Some((authed, sel)) = state.selected() else {
                return Ok(());
            };
            if sel.id != id || sel.highest_modseq >= target {
                return Ok(());
            }
            match tokio::time::timeout_at(deadline, authed.changes.recv()).await {
                Err(_) => {
                    tracing::debug!(
                        target,
                        have = sel.highest_modseq,
                        "imap: change events late"
                    );
                    return Ok(());
                }
                Ok(Ok(ev)) => self.take_in(state, vec![ev], false, allow_expunge).await?,
                Ok(Err(RecvError::Lagged(_))) => {
                    return self.take_in(state, Vec::new(), true, allow_expunge).await;
                }
                Ok(Err(RecvError::Closed)) => return Err(SessionError::StoreGone),
            }
        }
    }

    /// The tagged response for a command's result (the only place results
    /// become responses).
    fn finish(&mut self, tag: &str, result: CmdResult) -> Result<(), SessionError> {
        match result {
            Ok(done) if done.sent => Ok(()),
            Ok(done) => {
                self.send(&Response::tagged(tag, Status::Ok, done.code, done.text));
                Ok(())
            }
            Err(CmdError::No(code, text)) => {
                self.send(&Response::tagged(tag, Status::No, code, text));
                Ok(())
            }
            Err(CmdError::Bad(code, text)) => {
                self.send(&Response::tagged(tag, Status::Bad, code, text));
                self.count_error()
            }
            Err(CmdError::Server(text)) => {
                tracing::error!(remote = %self.peer.remote, error = %text, "imap: internal error");
                self.send(&Response::tagged(
                    tag,
                    Status::No,
                    Some(Code::ServerBug),
                    "internal error, try again later",
                ));
                Ok(())
            }
            Err(CmdError::Fatal(e)) => Err(e),
        }
    }

    fn count_error(&mut self) -> Result<(), SessionError> {
        self.errors += 1;
        if self.errors >= self.cfg.limits.max_errors {
            return Err(SessionError::TooManyErrors);
        }
        Ok(())
    }

    /// Queue one response.
    pub(crate) fn send(&mut self, r: &Response) {
        match r {
            Response::Data(Data::Flags(f)) => self.flags_told = f.clone(),
            Response::Data(Data::Fetch { items, .. }) => self.tell_new_keywords(items),
            _ => {}
        }
        Encoder { utf8: self.utf8 }.encode(r, self.io.out());
    }

    /// RFC 9051 §7.3.5 (RFC 3501 §7.2.6): FLAGS lists the flags that
    /// apply in the mailbox, so a keyword another session (or this one)
    /// just created is announced in an updated FLAGS response before the
    /// FETCH that shows it; keywords announced once stay in the list.
    fn tell_new_keywords(&mut self, items: &[FetchItem]) {
        let before = self.flags_told.len();
        for item in items {
            let FetchItem::Flags(flags) = item else {
                continue;
            };
            for f in flags {
                if !f.starts_with('\\')
                    && !self.flags_told.iter().any(|t| t.eq_ignore_ascii_case(f))
                {
                    self.flags_told.push(f.clone());
                }
            }
        }
        if self.flags_told.len() > before {
            let update = Response::Data(Data::Flags(self.flags_told.clone()));
            Encoder { utf8: self.utf8 }.encode(&update, self.io.out());
        }
    }

    pub(crate) fn send_data(&mut self, d: Data) {
        self.send(&Response::Data(d));
    }

    /// Parser options for the session's mode.
    pub(crate) fn options(&self) -> Options {
        Options { utf8: self.utf8 }
    }

    /// Takes in the account's change events and tells the selected
    /// mailbox's changes (expunges only if `allow_expunge`).
    pub(crate) async fn updates(
        &mut self,
        state: &mut State,
        allow_expunge: bool,
    ) -> Result<(), SessionError> {
        self.take_in(state, Vec::new(), false, allow_expunge).await
    }

    /// [`Session::updates`] with events (or a lag) already received.
    pub(crate) async fn take_in(
        &mut self,
        state: &mut State,
        mut events: Vec<ipc::store::ChangeEvent>,
        mut lagged: bool,
        allow_expunge: bool,
    ) -> Result<(), SessionError> {
        let Some(authed) = state.authed() else {
            return Ok(());
        };
        loop {
            match authed.changes.try_recv() {
                // After a gap the re-read below covers these; applied, they
                // would put later messages in the view before the missing
                // ones, which could then only be inserted out of order.
                Ok(_) if lagged => {}
                Ok(ev) => events.push(ev),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Lagged(n)) => {
                    tracing::debug!(missed = n, "imap: change events lost, resynchronising");
                    lagged = true;
                }
                Err(TryRecvError::Closed) => return Err(SessionError::StoreGone),
            }
        }
        // The store dropped events for this account's subscription:
        // re-read as after a lag of our own, from the gap on.
        if let Some(gap) = events
            .iter()
            .position(|e| matches!(e, ipc::store::ChangeEvent::Missed { .. }))
        {
            tracing::debug!("imap: the store dropped change events, resynchronising");
            events.truncate(gap);
            lagged = true;
        }
        let account = authed.account.clone();
        let Some((authed, sel)) = state.selected() else {
            return Ok(());
        };
        for ev in &events {
            sel.apply(ev);
        }
        if lagged {
            let snap = match self.backend.select(&account, &sel.name).await {
                Ok(s) if s.mailbox.id == sel.id => Some(s),
                Ok(_) | Err(crate::imap::backend::BackendError::NotFound(_)) => None,
                Err(e) => {
                    tracing::warn!(error = %e, "imap: resynchronising the selected mailbox");
                    return Ok(());
                }
            };
            let changed = match &snap {
                Some(_) => {
                    match self
                        .backend
                        .changed_since(&account, sel.id, sel.base_modseq())
                        .await
                    {
                        Ok(c) => c,
                        Err(e) => {
                            tracing::warn!(error = %e, "imap: resynchronising the selected mailbox");
                            return Ok(());
                        }
                    }
                }
                None => Vec::new(),
            };
            sel.resync(snap.as_ref(), &changed);
        }
        self.claim_recent(&account, sel).await;
        let enabled = authed.enabled;
        let mut data = sel.flush(allow_expunge, enabled);
        let recent = &mut self.backend.recent;
        for d in &mut data {
            if let Data::Fetch { items, .. } = d {
                let uid = items.iter().find_map(|i| match i {
                    FetchItem::Uid(u) => Some(*u),
                    _ => None,
                });
                for i in items.iter_mut() {
                    if let (FetchItem::Flags(flags), Some(uid)) = (i, uid) {
                        recent.decorate(sel.id, uid, flags);
                    }
                }
            }
        }
        // RFC 3501 §7.3.2: RECENT after the EXISTS (or expunges) that
        // changed the count.
        if let Some(n) = recent.count_to_tell(sel) {
            let at = data
                .iter()
                .rposition(|d| {
                    matches!(
                        d,
                        Data::Exists(_) | Data::Expunge(_) | Data::Vanished { .. }
                    )
                })
                .map_or(0, |i| i + 1);
            data.insert(at, Data::Recent(n));
        }
        for d in data {
            self.send_data(d);
        }
        Ok(())
    }

    /// Claims (read-only: only looks at) the messages of the view above
    /// those the store was asked about, for \Recent (recent.rs). A failed
    /// claim is retried with the next change; meanwhile those messages are
    /// not recent here.
    pub(crate) async fn claim_recent(&mut self, account: &str, sel: &Selected) {
        let recent = &self.backend.recent;
        let Some(last) = sel.last_uid() else {
            return;
        };
        if !recent.is_on(sel.id) || last <= recent.through() {
            return;
        }
        let claim = !recent.read_only();
        match self
            .backend
            .claim_recent(account, sel.id, last, claim)
            .await
        {
            Ok(got) => self.backend.recent.claimed(last, got),
            Err(e) => tracing::warn!(error = %e, "imap: claiming \\Recent messages"),
        }
    }

    /// The capabilities for the current state (RFC 9051 §6.1.1): STARTTLS
    /// and the AUTH= mechanisms only before login.
    pub(crate) fn capabilities(&self, state: &State) -> Vec<Capability> {
        let mut caps = capability::base(
            self.cfg.limits.max_message_size,
            self.cfg.literal_minus,
            self.cfg.compress && !self.io.compressing(),
        );
        if !state.is_authenticated() {
            if self.cfg.tls.is_some() && self.tls.is_none() {
                caps.push(Capability::StartTls);
            }
            caps.extend(
                self.cfg
                    .auth_mechanisms
                    .iter()
                    .filter(|m| self.mechanism_offered(**m))
                    .map(|m| Capability::Auth(*m)),
            );
            if !self.plaintext_allowed() {
                // RFC 9051 §6.2.3.
                caps.push(Capability::LoginDisabled);
            }
        }
        caps
    }

    /// Whether passwords may be sent in the clear: under TLS, or when the
    /// listener allows it (localserve on loopback).
    pub(crate) fn plaintext_allowed(&self) -> bool {
        self.tls.is_some() || self.cfg.login_without_tls
    }

    /// Whether `m` is offered now: configured; -PLUS only under TLS;
    /// PLAIN and LOGIN only where plain text is allowed.
    pub(crate) fn mechanism_offered(&self, m: crate::sasl::Mechanism) -> bool {
        use crate::sasl::Mechanism as M;
        self.cfg.auth_mechanisms.contains(&m)
            && (!m.needs_channel_binding() || self.tls.is_some())
            && (!matches!(m, M::Plain | M::Login) || self.plaintext_allowed())
    }

    /// Send what is queued, then wait.
    pub(crate) async fn delay(&mut self, d: Duration) -> Result<(), SessionError> {
        if d.is_zero() {
            return Ok(());
        }
        self.io.flush().await?;
        tokio::time::sleep(d).await;
        Ok(())
    }
}
