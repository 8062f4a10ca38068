//! `moxd localserve` outbound mail (as mox localserve): nothing leaves the
//! machine. A recipient localpart starting with `queue` fails here the
//! way its ending says (`queuetemperror`: 451, retried; `queuepermerror`:
//! 550, DSN; `queue4NN`/`queue5NN`: that code; `queuetimeout`: like a peer
//! that does not answer); every other recipient's copy is delivered into
//! the catch-all account's Inbox with a header saying so.

use std::sync::Arc;

use ipc::store::{QueueEntry, QueueRecipient};

use crate::queue::Context;
use crate::queue::client::Reply;
use crate::queue::message::Message;
use crate::queue::verdict::{Failure, Verdict};
use crate::smtp::localserve::{Failure as Fake, fake_failure};

/// Header added to mail delivered locally instead of to its recipients.
pub const LOCALSERVE_HEADER: &str = "X-Moxd-Localserve";

/// The fake failure a recipient asks for, as an SMTP reply code (None:
/// deliver); a timeout is `Some(None)`.
pub fn queue_failure(address: &str) -> Option<Option<u16>> {
    let local = address.rsplit_once('@').map_or(address, |(l, _)| l);
    let lp = local.to_ascii_lowercase();
    let rest = lp.strip_prefix("queue")?;
    match fake_failure(rest)?.1 {
        Fake::Reply(code) => Some(Some(code.value())),
        Fake::Timeout => Some(None),
    }
}

/// The header line for a locally delivered copy (addresses escaped).
pub fn header(recipients: &[String]) -> String {
    let list: Vec<String> = recipients
        .iter()
        .map(|r| crate::queue::client::reply::escape(r))
        .collect();
    format!(
        "{LOCALSERVE_HEADER}: outbound mail delivered to this account instead of to {}\r\n",
        list.join(", ")
    )
}

/// localserve: fake failures by localpart, everything else delivered to
/// the catch-all account (or the sender's) instead of the internet.
pub async fn attempt(
    ctx: &Arc<Context>,
    entry: &QueueEntry,
    msg: &Message,
    rcpts: &[QueueRecipient],
) -> Vec<Verdict> {
    const MTA: &str = "localserve";
    let mut verdicts: Vec<Option<Verdict>> = rcpts
        .iter()
        .map(|r| {
            queue_failure(&r.address).map(|f| match f {
                Some(code) => {
                    let reply = Reply {
                        code,
                        lines: vec![format!("localserve fake failure for {}", r.address)],
                    };
                    let fl = Failure::from_reply(MTA, &reply, "the recipient");
                    if reply.is_permanent() {
                        Verdict::Failed(fl)
                    } else {
                        Verdict::Deferred(fl)
                    }
                }
                None => Verdict::Deferred(Failure::new("4.4.2", "localserve fake timeout")),
            })
        })
        .collect();
    let deliver: Vec<String> = rcpts
        .iter()
        .zip(&verdicts)
        .filter(|(_, v)| v.is_none())
        .map(|(r, _)| r.address.clone())
        .collect();
    if !deliver.is_empty() {
        let account = ctx.catchall.as_deref().unwrap_or(&entry.account);
        let mut prefix = header(&deliver).into_bytes();
        prefix.extend_from_slice(&msg.prefix);
        let v = match ctx.store.deliver(account, prefix, msg.file()).await {
            Ok(()) => Verdict::Delivered {
                mta: MTA.into(),
                tls: None,
                relayed: false,
            },
            Err(e) => Verdict::Deferred(Failure::new("4.3.0", format!("local delivery: {e}"))),
        };
        for slot in verdicts.iter_mut().filter(|v| v.is_none()) {
            *slot = Some(v.clone());
        }
    }
    verdicts
        .into_iter()
        .map(|v| v.unwrap_or_else(|| Verdict::Deferred(Failure::new("4.3.0", "not attempted"))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localparts() {
        assert_eq!(queue_failure("queuetemperror@x.example"), Some(Some(451)));
        assert_eq!(queue_failure("QueuePermError@x.example"), Some(Some(550)));
        assert_eq!(queue_failure("queue421@x.example"), Some(Some(421)));
        assert_eq!(queue_failure("queuetimeout@x.example"), Some(None));
        assert_eq!(queue_failure("queue@x.example"), None);
        assert_eq!(
            queue_failure("temperror@x.example"),
            None,
            "fails at DATA, not here"
        );
        assert_eq!(queue_failure("bob@x.example"), None);
    }

    #[test]
    fn header_is_one_line() {
        let h = header(&["a@b".into(), "x\r\ny@z".into()]);
        assert_eq!(h.matches("\r\n").count(), 1);
        assert!(h.ends_with("a@b, x\\x0d\\x0ay@z\r\n"), "{h}");
    }
}
