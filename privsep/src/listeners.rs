//! Binding the listening sockets (as root, before workers start). Each
//! socket is handed to the worker role that serves its protocol.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::OwnedFd;

use anyhow::{Context, Result};
use ipc::Role;
use ipc::config::{ListenerSpec, Protocol};
use nix::sys::socket::{
    AddressFamily, Backlog, SockFlag, SockType, SockaddrIn, SockaddrIn6, bind, listen, setsockopt,
    socket, sockopt,
};

use crate::config::Listeners;
use crate::master::BoundListener;

/// Pending connections per listening socket.
pub const LISTEN_BACKLOG: i32 = 1024;

/// The role that serves a protocol.
pub fn role_of(p: Protocol) -> Role {
    match p {
        Protocol::Smtp => Role::SmtpIn,
        Protocol::Submission | Protocol::Submissions => Role::Submission,
        Protocol::Imap | Protocol::Imaps => Role::Imap,
        Protocol::Http | Protocol::Https | Protocol::Metrics => Role::Web,
    }
}

/// Ports to open: (protocol, ips, port) for the protocols of `roles`.
pub fn planned(l: &Listeners, roles: &[Role]) -> Vec<(Protocol, Vec<IpAddr>, u16)> {
    let all = [
        (Protocol::Smtp, l.smtp),
        (Protocol::Submission, l.submission),
        (Protocol::Submissions, l.submissions),
        (Protocol::Imap, l.imap),
        (Protocol::Imaps, l.imaps),
        (Protocol::Http, l.http),
        (Protocol::Https, l.https),
        (Protocol::Metrics, l.metrics),
    ];
    all.into_iter()
        .filter_map(|(p, port)| Some((p, port?)))
        .filter(|(p, _)| roles.contains(&role_of(*p)))
        .map(|(p, port)| {
            let ips = if p == Protocol::Metrics && !l.metrics_ips.is_empty() {
                l.metrics_ips.clone()
            } else {
                l.ips.clone()
            };
            (p, ips, port)
        })
        .collect()
}

fn bind_one(addr: SocketAddr) -> Result<OwnedFd> {
    let family = if addr.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    let fd = socket(family, SockType::Stream, SockFlag::SOCK_CLOEXEC, None)?;
    setsockopt(&fd, sockopt::ReuseAddr, &true)?;
    if addr.is_ipv6() {
        // Separate sockets for IPv4 and IPv6 on the same port.
        setsockopt(&fd, sockopt::Ipv6V6Only, &true)?;
    }
    let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
    match addr {
        SocketAddr::V4(a) => bind(raw, &SockaddrIn::from(a))?,
        SocketAddr::V6(a) => bind(raw, &SockaddrIn6::from(a))?,
    }
    listen(&fd, Backlog::new(LISTEN_BACKLOG)?)?;
    Ok(fd)
}

/// Bind every planned socket. `optional_v6`: an IPv6 address the host
/// lacks is skipped with a warning instead of failing (localserve's ::1).
pub fn bind_all(l: &Listeners, roles: &[Role], optional_v6: bool) -> Result<Vec<BoundListener>> {
    let mut out = Vec::new();
    for (protocol, ips, port) in planned(l, roles) {
        for ip in ips {
            let addr = SocketAddr::new(ip, port);
            match bind_one(addr) {
                Ok(fd) => out.push(BoundListener {
                    role: role_of(protocol),
                    spec: ListenerSpec {
                        protocol,
                        addr: addr.to_string(),
                    },
                    fd,
                }),
                Err(e) if optional_v6 && ip.is_ipv6() => {
                    tracing::warn!(%addr, error = %e, "skipping IPv6 listener");
                }
                Err(e) => return Err(e).with_context(|| format!("binding {addr} ({protocol:?})")),
            }
        }
    }
    Ok(out)
}
