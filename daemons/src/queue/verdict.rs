//! What an attempt concluded for one recipient: delivered, failed for
//! good, or deferred; with the RFC 3463 status, the host and its reply
//! (escaped) that the DSN and the queue row show.

use crate::queue::client::Reply;

/// Why a recipient was not delivered (this time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// RFC 3463 status code.
    pub status: String,
    pub reason: String,
    pub mta: Option<String>,
    /// The peer's reply, escaped.
    pub diagnostic: Option<String>,
}

impl Failure {
    pub fn new(status: &str, reason: impl Into<String>) -> Failure {
        Failure {
            status: status.into(),
            reason: reason.into(),
            mta: None,
            diagnostic: None,
        }
    }

    pub fn from_reply(mta: &str, reply: &Reply, what: &str) -> Failure {
        let status = reply.enhanced().unwrap_or_else(|| {
            if reply.is_permanent() {
                "5.0.0".into()
            } else {
                "4.0.0".into()
            }
        });
        Failure {
            status,
            reason: format!("{what} was refused by {mta}"),
            mta: Some(mta.into()),
            diagnostic: Some(reply.escaped()),
        }
    }

    /// The one-line text kept in the queue row.
    pub fn summary(&self) -> String {
        match (&self.mta, &self.diagnostic) {
            (Some(m), Some(d)) => format!("{}: {m}: {d}", self.status),
            _ => format!("{}: {}", self.status, self.reason),
        }
    }
}

/// What became of one recipient in this attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Delivered {
        mta: String,
        tls: Option<String>,
        /// The peer does not do DSN: NOTIFY=SUCCESS gets a "relayed" DSN.
        relayed: bool,
    },
    /// Permanent: a DSN (if asked for), and no more attempts.
    Failed(Failure),
    /// Temporary: retried later.
    Deferred(Failure),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_from_replies() {
        let r = Reply {
            code: 550,
            lines: vec!["5.1.1 no such user\r\nX".into()],
        };
        let f = Failure::from_reply("mx.example", &r, "RCPT TO");
        assert_eq!(f.status, "5.1.1");
        assert_eq!(
            f.summary(),
            "5.1.1: mx.example: 550 5.1.1 no such user\\x0d\\x0aX"
        );
        let r = Reply {
            code: 451,
            lines: vec!["later".into()],
        };
        assert_eq!(Failure::from_reply("m", &r, "DATA").status, "4.0.0");
    }
}
