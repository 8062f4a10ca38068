//! Delivery of one domain's recipients to its mail servers (RFC 5321
//! §5.1): MX hosts in order, each address in turn, until a host takes
//! the transaction; what the peer offers (SIZE, 8BITMIME, SMTPUTF8,
//! REQUIRETLS, DSN) is checked against what the message needs before
//! anything is sent, and each recipient gets a verdict.

use std::sync::Arc;

use ipc::store::{QueueEntry, QueueRecipient};

use crate::queue::Context;
use crate::queue::client::{Client, RcptOutcome, RcptTo, SessionError, TlsInfo};
use crate::queue::dns::{self, LookupError};
use crate::queue::dsn;
use crate::queue::message::Message;
use crate::queue::options::QueueOptions;
use crate::queue::verdict::{Failure, Verdict};

/// What the message needs from a peer.
struct Needs {
    eight_bit: bool,
    smtputf8: bool,
    requiretls: bool,
}

fn needs(entry: &QueueEntry, opts: &QueueOptions, rcpts: &[QueueRecipient]) -> Needs {
    let non_ascii = !entry.mail_from.is_ascii() || rcpts.iter().any(|r| !r.address.is_ascii());
    Needs {
        eight_bit: opts.eight_bit,
        // RFC 6531 §3.4: UTF-8 addresses, or UTF-8 headers the submitter declared.
        smtputf8: non_ascii || (opts.params.smtputf8 && opts.eight_bit),
        requiretls: opts.params.requiretls,
    }
}

/// All of one domain's recipients, host by host.
pub async fn deliver_domain(
    ctx: &Arc<Context>,
    entry: &QueueEntry,
    opts: &QueueOptions,
    msg: &Message,
    domain: &str,
    rcpts: &[QueueRecipient],
) -> Vec<Verdict> {
    let all = |v: Verdict| rcpts.iter().map(|_| v.clone()).collect::<Vec<_>>();
    let hosts = match dns::mx_hosts(&ctx.resolver, domain).await {
        Ok(h) => h,
        Err(LookupError::Permanent { status, text }) => {
            return all(Verdict::Failed(Failure::new(status, text)));
        }
        Err(LookupError::Temporary(t)) => return all(Verdict::Deferred(Failure::new("4.4.3", t))),
    };
    let need = needs(entry, opts, rcpts);
    // Why the last host could not be used; permanent only if every host
    // refused for good.
    let mut last: Option<Verdict> = None;
    let mut all_permanent = true;
    for host in &hosts {
        let addrs = match dns::host_addresses(&ctx.resolver, host).await {
            Ok(a) => a,
            Err(e) => {
                let permanent = matches!(e, LookupError::Permanent { .. })
                    && hosts.len() == 1
                    && host == domain;
                all_permanent &= permanent;
                let f = Failure::new(if permanent { "5.1.2" } else { "4.4.3" }, e.to_string());
                last = Some(if permanent {
                    Verdict::Failed(f)
                } else {
                    Verdict::Deferred(f)
                });
                continue;
            }
        };
        for addr in addrs {
            let sock = std::net::SocketAddr::new(addr, crate::queue::SMTP_PORT);
            let _permits = ctx.limits.acquire(host).await;
            match session(ctx, entry, opts, msg, host, sock, rcpts, &need).await {
                HostResult::Done(v) => return v,
                HostResult::Unusable(v, permanent) => {
                    all_permanent &= permanent;
                    last = Some(v);
                }
            }
        }
    }
    let v = match last {
        Some(Verdict::Deferred(f)) if all_permanent => Verdict::Failed(f),
        Some(Verdict::Failed(f)) if !all_permanent => Verdict::Deferred(f),
        Some(v) => v,
        None => Verdict::Deferred(Failure::new(
            "4.4.1",
            format!("no mail server for {domain} reachable"),
        )),
    };
    all(v)
}

enum HostResult {
    /// A verdict per recipient; do not try other hosts.
    Done(Vec<Verdict>),
    /// This host could not take the message; try the next. The flag says
    /// whether the refusal was permanent.
    Unusable(Verdict, bool),
}

fn session_failure(host: &str, e: &SessionError) -> (Verdict, bool) {
    match e.reply() {
        Some(reply) => {
            let f = Failure::from_reply(host, reply, "the connection");
            if reply.is_permanent() {
                (Verdict::Failed(f), true)
            } else {
                (Verdict::Deferred(f), false)
            }
        }
        None => {
            let mut f = Failure::new("4.4.2", format!("{host}: {e}"));
            f.mta = Some(host.into());
            (Verdict::Deferred(f), false)
        }
    }
}

/// One connection to one address of `host`: checks what the peer offers
/// against what the message needs, then the transaction.
#[allow(clippy::too_many_arguments)]
async fn session(
    ctx: &Arc<Context>,
    entry: &QueueEntry,
    opts: &QueueOptions,
    msg: &Message,
    host: &str,
    addr: std::net::SocketAddr,
    rcpts: &[QueueRecipient],
    need: &Needs,
) -> HostResult {
    let t = ctx.settings.timeouts;
    let mut client = match Client::connect(addr, host, &ctx.hostname, Some(&ctx.tls), t).await {
        Ok(c) => c,
        Err(SessionError::Tls(e)) if !need.requiretls => {
            // Opportunistic TLS failed: the same host once more in plain text.
            tracing::info!(host, %addr, error = %e, "TLS failed; trying without TLS");
            match Client::connect(addr, host, &ctx.hostname, None, t).await {
                Ok(c) => c,
                Err(e) => {
                    let (v, p) = session_failure(host, &e);
                    return HostResult::Unusable(v, p);
                }
            }
        }
        Err(e) => {
            tracing::info!(host, %addr, error = %e, "host not usable");
            let (v, p) = session_failure(host, &e);
            return HostResult::Unusable(v, p);
        }
    };
    let tls_note = client.tls.as_ref().map(TlsInfo::to_string);
    let fail_all = |status: &str, reason: String| {
        let mut f = Failure::new(status, reason);
        f.mta = Some(host.to_string());
        rcpts
            .iter()
            .map(|_| Verdict::Failed(f.clone()))
            .collect::<Vec<_>>()
    };
    // RFC 8689 §4.2.1: REQUIRETLS needs a verified TLS connection to a
    // peer that offers REQUIRETLS; otherwise try another host.
    if need.requiretls {
        let verified = matches!(
            client.tls.as_ref().map(|t| &t.cert),
            Some(crate::queue::client::CertVerdict::Verified)
        );
        if !verified || !client.caps.requiretls {
            client.quit().await;
            let mut f = Failure::new(
                "5.7.30",
                format!("{host} does not offer REQUIRETLS over verified TLS (RFC 8689)"),
            );
            f.mta = Some(host.into());
            return HostResult::Unusable(Verdict::Failed(f), true);
        }
    }
    // RFC 1870 §6: do not send what the peer said it will not take.
    if let Some(limit) = client.caps.size.filter(|&l| l > 0 && msg.size > l) {
        client.quit().await;
        return HostResult::Done(fail_all(
            "5.3.4",
            format!(
                "message of {} bytes is larger than {host} accepts ({limit} bytes)",
                msg.size
            ),
        ));
    }
    // RFC 6152 §3: 8-bit content only to peers offering 8BITMIME.
    if need.eight_bit && !client.caps.eight_bit_mime {
        client.quit().await;
        return HostResult::Done(fail_all(
            "5.6.3",
            format!("message has 8-bit content and {host} does not support 8BITMIME (RFC 6152)"),
        ));
    }
    // RFC 6531 §3.5: UTF-8 addresses or headers only to SMTPUTF8 peers.
    if need.smtputf8 && !client.caps.smtputf8 {
        client.quit().await;
        return HostResult::Done(fail_all(
            "5.6.7",
            format!(
                "message needs SMTPUTF8 (UTF-8 addresses or headers) and {host} does not support it (RFC 6531)"
            ),
        ));
    }
    let caps = client.caps.clone();
    let mut params = String::new();
    if caps.size.is_some() {
        params.push_str(&format!(" SIZE={}", msg.size));
    }
    if need.eight_bit {
        params.push_str(" BODY=8BITMIME");
    }
    if need.smtputf8 {
        params.push_str(" SMTPUTF8");
    }
    if need.requiretls {
        params.push_str(" REQUIRETLS");
    }
    if caps.dsn {
        // RFC 3461 §4.3, §4.4: pass RET and ENVID on.
        if let Some(ret) = opts.params.ret {
            params.push_str(match ret {
                crate::smtp::params::Ret::Full => " RET=FULL",
                crate::smtp::params::Ret::Hdrs => " RET=HDRS",
            });
        }
        if let Some(envid) = opts.envid() {
            params.push_str(&format!(" ENVID={}", dsn::xtext(envid)));
        }
    }
    let to: Vec<RcptTo> = rcpts
        .iter()
        .map(|r| {
            let mut p = String::new();
            if caps.dsn {
                // RFC 3461 §4.1, §4.2.
                if let Some(n) = opts.notify_given(r.index) {
                    let mut words = Vec::new();
                    if n.success {
                        words.push("SUCCESS");
                    }
                    if n.failure {
                        words.push("FAILURE");
                    }
                    if n.delay {
                        words.push("DELAY");
                    }
                    let v = if words.is_empty() {
                        "NEVER".to_string()
                    } else {
                        words.join(",")
                    };
                    p.push_str(&format!(" NOTIFY={v}"));
                }
                if let Some(o) = opts.orcpt(r.index) {
                    p.push_str(&format!(
                        " ORCPT={};{}",
                        dsn::xtext(&o.addr_type),
                        dsn::xtext(&o.addr)
                    ));
                }
            }
            RcptTo {
                address: r.address.clone(),
                params: p,
            }
        })
        .collect();
    let outcomes = client
        .transaction(&entry.mail_from, &params, &to, msg)
        .await;
    client.quit().await;
    let verdicts = outcomes
        .into_iter()
        .map(|o| match o {
            RcptOutcome::Delivered(_) => Verdict::Delivered {
                mta: host.to_string(),
                tls: tls_note.clone(),
                relayed: !caps.dsn,
            },
            RcptOutcome::Refused { step, reply } => {
                let f = Failure::from_reply(host, &reply, &step.to_string());
                if reply.is_permanent() {
                    Verdict::Failed(f)
                } else {
                    Verdict::Deferred(f)
                }
            }
            RcptOutcome::Failed(text) => {
                let mut f = Failure::new("4.4.2", format!("{host}: {text}"));
                f.mta = Some(host.into());
                Verdict::Deferred(f)
            }
        })
        .collect();
    HostResult::Done(verdicts)
}
