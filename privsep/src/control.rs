//! The control socket: `moxctl` talks to the master here. The socket is
//! mode 0600 (or 0660 with group `admin_group`) and every connection's
//! peer is checked again with SO_PEERCRED.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use ipc::control::{ControlReply, ControlRequest, Status};
use ipc::hello::handshake;
use ipc::role::Peer;
use ipc::store::{Delivery, StoreReply, StoreRequest};
use tokio::net::UnixListener;

use crate::config::{AccountEntry, save_domains};
use crate::master::Master;

/// How long a refused connection stays open for the client to read why.
pub const REFUSAL_LINGER: std::time::Duration = std::time::Duration::from_secs(5);

/// Bind the control socket (before any thread exists: the umask is
/// process-wide). Refuses when another master is answering on it.
pub fn bind(path: &Path, admin_gid: Option<u32>) -> Result<std::os::unix::net::UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            bail!(
                "another moxd is running (control socket {} answers)",
                path.display()
            );
        }
        std::fs::remove_file(path).with_context(|| format!("removing stale {}", path.display()))?;
    }
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o177));
    let l = std::os::unix::net::UnixListener::bind(path);
    nix::sys::stat::umask(old);
    let l = l.with_context(|| format!("binding control socket {}", path.display()))?;
    if let Some(gid) = admin_gid {
        nix::unistd::chown(path, None, Some(nix::unistd::Gid::from_raw(gid)))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    }
    l.set_nonblocking(true)?;
    Ok(l)
}

/// Supplementary groups of a process, from /proc/PID/status.
fn groups_of(pid: i32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Groups:").map(str::to_string))
        })
        .map(|g| {
            g.split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Root, the user the master runs as, or a member of the admin group.
fn peer_allowed(uid: u32, gid: u32, pid: Option<i32>, admin_gid: Option<u32>) -> bool {
    if uid == 0 || uid == nix::unistd::geteuid().as_raw() {
        return true;
    }
    match admin_gid {
        Some(ag) => gid == ag || pid.is_some_and(|p| groups_of(p).contains(&ag)),
        None => false,
    }
}

pub async fn serve(master: Arc<Master>, listener: UnixListener, admin_gid: Option<u32>) {
    loop {
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "control socket accept");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = master.shutdown.cancelled() => return,
        };
        let m = master.clone();
        tokio::spawn(async move {
            let cred = match stream.peer_cred() {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "control peer credentials");
                    return;
                }
            };
            let (mut rx, tx) = ipc::conn::split(stream);
            if !peer_allowed(cred.uid(), cred.gid(), cred.pid(), admin_gid) {
                tracing::warn!(
                    uid = cred.uid(),
                    pid = cred.pid(),
                    "control connection refused: not an administrator"
                );
                let _ = handshake(&mut rx, &tx, Peer::Master).await;
                let reply = ControlReply::Error(
                    "permission denied: moxctl needs root or the admin group".into(),
                );
                let _ = tx.send(1, &reply, &[]).await;
                // Let the client's request arrive before closing, so it
                // reads the refusal instead of a broken pipe.
                let _ = tokio::time::timeout(REFUSAL_LINGER, rx.recv::<ControlRequest>()).await;
                return;
            }
            if let Err(e) = handshake(&mut rx, &tx, Peer::Master).await {
                tracing::warn!(error = %e, "control hello");
                return;
            }
            loop {
                let msg = match rx.recv::<ControlRequest>().await {
                    Ok(Some(m)) => m,
                    Ok(None) => return,
                    Err(e) => {
                        tracing::warn!(error = %e, "bad control frame; closing");
                        return;
                    }
                };
                let (reply, fd) = handle(&m, msg.body, msg.fds).await;
                let fds: Vec<_> = fd.iter().map(|f| f.as_fd()).collect();
                if tx.send(msg.id, &reply, &fds).await.is_err() {
                    return;
                }
            }
        });
    }
}

fn store_error(r: StoreReply) -> ControlReply {
    match r {
        StoreReply::Error(e) => ControlReply::Error(e.to_string()),
        other => ControlReply::Error(format!("unexpected store reply: {other:?}")),
    }
}

/// One store call; `Ok` replies become `ControlReply::Ok`.
async fn store_call(m: &Master, req: StoreRequest) -> Result<StoreReply, ControlReply> {
    let client = m
        .store()
        .await
        .map_err(|e| ControlReply::Error(format!("store unavailable: {e:#}")))?;
    client
        .call(&req)
        .await
        .map_err(|e| ControlReply::Error(format!("store connection: {e}")))
}

async fn simple(m: &Master, req: StoreRequest) -> ControlReply {
    match store_call(m, req).await {
        Ok(StoreReply::Ok) => ControlReply::Ok,
        Ok(other) => store_error(other),
        Err(e) => e,
    }
}

/// Apply a change to the in-memory domains file and write it back.
fn update_domains(
    m: &Master,
    f: impl FnOnce(&mut crate::config::DomainsFile),
) -> Result<(), String> {
    let mut d = m.domains.lock().unwrap_or_else(|e| e.into_inner());
    f(&mut d);
    if let Some(path) = &m.settings.domains_path {
        save_domains(path, &d)
            .map_err(|e| format!("changed in the store, but writing {}: {e}", path.display()))?;
    }
    Ok(())
}

/// Run a store change, then mirror it in domains.toml.
async fn change(
    m: &Master,
    req: StoreRequest,
    f: impl FnOnce(&mut crate::config::DomainsFile),
) -> ControlReply {
    let _guard = m.domains_lock.lock().await;
    match simple(m, req).await {
        ControlReply::Ok => match update_domains(m, f) {
            Ok(()) => ControlReply::Ok,
            Err(e) => ControlReply::Error(e),
        },
        other => other,
    }
}

/// Whether the web worker may have the master carry out `req`: process
/// status and the changes the admin web interface offers (as moxctl, so
/// domains.toml stays in sync). Never deliveries, store connections,
/// message reads or stopping the server.
pub(crate) fn web_may(req: &ControlRequest) -> bool {
    use ControlRequest::*;
    matches!(
        req,
        Status
            | DomainAdd { .. }
            | DomainDel { .. }
            | DomainList
            | AccountAdd { .. }
            | AccountDel { .. }
            | AccountList
            | SetPassword { .. }
            | AddressAdd { .. }
            | AddressDel { .. }
    )
}

/// A control request from the web worker (refused unless [`web_may`]).
pub(crate) async fn handle_for_web(m: &Arc<Master>, req: ControlRequest) -> ControlReply {
    if !web_may(&req) {
        tracing::warn!("control request from the web worker refused");
        return ControlReply::Error("not allowed for the web interface".into());
    }
    handle(m, req, Vec::new()).await.0
}

async fn handle(
    m: &Arc<Master>,
    req: ControlRequest,
    fds: Vec<OwnedFd>,
) -> (ControlReply, Option<OwnedFd>) {
    let reply = match req {
        ControlRequest::Status => ControlReply::Status(Status {
            version: env!("CARGO_PKG_VERSION").into(),
            master_pid: std::process::id(),
            uptime_secs: m.started.elapsed().as_secs(),
            localserve: m.settings.localserve,
            workers: m.worker_status(),
        }),
        ControlRequest::Stop => {
            let m2 = m.clone();
            tokio::spawn(async move { m2.stop().await });
            ControlReply::Ok
        }
        ControlRequest::DomainAdd { domain } => {
            let d = domain.to_ascii_lowercase();
            change(m, StoreRequest::DomainAdd { domain }, |f| {
                if !f.domains.contains(&d) {
                    f.domains.push(d)
                }
            })
            .await
        }
        ControlRequest::DomainDel { domain } => {
            let d = domain.to_ascii_lowercase();
            change(m, StoreRequest::DomainDel { domain }, |f| {
                f.domains.retain(|x| *x != d)
            })
            .await
        }
        ControlRequest::DomainList => match store_call(m, StoreRequest::DomainList).await {
            Ok(StoreReply::Domains(d)) => ControlReply::Domains(d),
            Ok(other) => store_error(other),
            Err(e) => e,
        },
        ControlRequest::AccountAdd {
            name,
            address,
            password,
        } => {
            let (n, a) = (name.clone(), address.clone());
            let r = change(
                m,
                StoreRequest::AccountAdd {
                    name: name.clone(),
                    address,
                },
                |f| {
                    f.accounts.push(AccountEntry {
                        name: n,
                        addresses: vec![a],
                    })
                },
            )
            .await;
            match (r, password) {
                (ControlReply::Ok, Some(password)) => {
                    simple(
                        m,
                        StoreRequest::SetPassword {
                            account: name,
                            password,
                        },
                    )
                    .await
                }
                (r, _) => r,
            }
        }
        ControlRequest::AccountDel { name } => {
            let n = name.clone();
            change(m, StoreRequest::AccountDel { name }, |f| {
                f.accounts.retain(|a| a.name != n)
            })
            .await
        }
        ControlRequest::AccountList => match store_call(m, StoreRequest::AccountList).await {
            Ok(StoreReply::Accounts(a)) => ControlReply::Accounts(a),
            Ok(other) => store_error(other),
            Err(e) => e,
        },
        ControlRequest::SetPassword { account, password } => {
            simple(m, StoreRequest::SetPassword { account, password }).await
        }
        ControlRequest::AddressAdd { address, account } => {
            let (ad, ac) = (address.clone(), account.clone());
            change(m, StoreRequest::AddressAdd { address, account }, |f| {
                if let Some(e) = f.accounts.iter_mut().find(|e| e.name == ac) {
                    e.addresses.push(ad)
                }
            })
            .await
        }
        ControlRequest::AddressDel { address } => {
            let ad = address.clone();
            change(m, StoreRequest::AddressDel { address }, |f| {
                for e in &mut f.accounts {
                    e.addresses.retain(|x| !x.eq_ignore_ascii_case(&ad))
                }
            })
            .await
        }
        ControlRequest::Deliver { address, mailbox } => deliver(m, address, mailbox, fds).await,
        ControlRequest::QueueList => match store_call(m, StoreRequest::QueueList).await {
            Ok(StoreReply::Queue(q)) => ControlReply::Queue(q),
            Ok(other) => store_error(other),
            Err(e) => e,
        },
        ControlRequest::MessageList { account, mailbox } => {
            match store_call(m, StoreRequest::MessageList { account, mailbox }).await {
                Ok(StoreReply::Messages(l)) => ControlReply::Messages(l),
                Ok(other) => store_error(other),
                Err(e) => e,
            }
        }
        ControlRequest::MessageGet {
            account,
            message_id,
        } => {
            let client = match m.store().await {
                Ok(c) => c,
                Err(e) => {
                    return (
                        ControlReply::Error(format!("store unavailable: {e:#}")),
                        None,
                    );
                }
            };
            match client
                .call_fds(
                    &StoreRequest::MessageOpen {
                        account,
                        message_id,
                    },
                    &[],
                )
                .await
            {
                Ok((StoreReply::MessageFile { prefix, size }, mut fds)) => {
                    return (ControlReply::MessageFile { prefix, size }, fds.pop());
                }
                Ok((other, _)) => store_error(other),
                Err(e) => ControlReply::Error(format!("store connection: {e}")),
            }
        }
        ControlRequest::StoreConnect => match m.connect_store(Peer::Admin).await {
            Ok(fd) => return (ControlReply::StoreConnection, Some(fd)),
            Err(e) => ControlReply::Error(format!("store unavailable: {e:#}")),
        },
        ControlRequest::QueueEntries { domain } => {
            match store_call(m, StoreRequest::QueueEntries { domain }).await {
                Ok(StoreReply::QueueEntries(q)) => ControlReply::QueueEntries(q),
                Ok(other) => store_error(other),
                Err(e) => e,
            }
        }
        ControlRequest::QueueHold { id } => simple(m, StoreRequest::QueueHold { id }).await,
        ControlRequest::QueueRelease { id } => simple(m, StoreRequest::QueueRelease { id }).await,
        ControlRequest::QueueKick { id } => simple(m, StoreRequest::QueueKick { id }).await,
        ControlRequest::QueueDrop { id } => simple(m, StoreRequest::QueueDrop { id }).await,
        ControlRequest::DkimGen { domain } => crate::dkim::generate(m, &domain).await,
        ControlRequest::DnsRecords { domain } => crate::dkim::records(m, &domain),
        ControlRequest::DmarcReports { limit } => {
            match store_call(m, StoreRequest::DmarcReportList { limit }).await {
                Ok(StoreReply::DmarcReports(r)) => ControlReply::DmarcReports(r),
                Ok(other) => store_error(other),
                Err(e) => e,
            }
        }
    };
    (reply, None)
}

async fn deliver(
    m: &Master,
    address: String,
    mailbox: String,
    mut fds: Vec<OwnedFd>,
) -> ControlReply {
    let Some(fd) = fds.pop().filter(|_| fds.is_empty()) else {
        return ControlReply::Error("deliver needs exactly one message fd".into());
    };
    let account = match store_call(
        m,
        StoreRequest::ResolveRecipient {
            address: address.clone(),
        },
    )
    .await
    {
        Ok(StoreReply::Recipient(Some(a))) => a,
        Ok(StoreReply::Recipient(None)) => {
            return ControlReply::Error(format!("no account for {address}"));
        }
        Ok(other) => return store_error(other),
        Err(e) => return e,
    };
    let client = match m.store().await {
        Ok(c) => c,
        Err(e) => return ControlReply::Error(format!("store unavailable: {e:#}")),
    };
    let req = StoreRequest::Deliver(Delivery {
        account,
        mailbox,
        flags: vec![],
        prefix: vec![],
        received: None,
        parsed: None,
    });
    match client.call_fds(&req, &[fd.as_fd()]).await {
        Ok((StoreReply::Delivered(d), _)) => ControlReply::Delivered(d),
        Ok((other, _)) => store_error(other),
        Err(e) => ControlReply::Error(format!(
            "store connection lost; the message may not have been stored: {e}"
        )),
    }
}
