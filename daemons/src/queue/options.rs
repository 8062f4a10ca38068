//! What submission stored with a queued message besides the addresses
//! (`daemons/src/smtpd/store_backend.rs` `QueueOptions`, kept as JSON in
//! the queue row): the envelope id, the MAIL parameters (RET, ENVID,
//! SMTPUTF8, REQUIRETLS, BODY), each recipient's NOTIFY/ORCPT (RFC 3461),
//! and whether the message has 8-bit octets. Recipients are matched by
//! position with the row's recipient list.

use serde::Deserialize;

use crate::smtp::params::{MailParams, Notify, Orcpt, RcptParams, Ret};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct QueueOptions {
    pub envelope_id: String,
    pub params: MailParams,
    pub recipients: Vec<(String, RcptParams)>,
    pub eight_bit: bool,
}

impl QueueOptions {
    /// Parses the stored JSON; unreadable options count as none (and are
    /// logged), so the message is still delivered.
    pub fn parse(id: i64, json: &str) -> QueueOptions {
        match serde_json::from_str(json) {
            Ok(o) => o,
            Err(e) => {
                tracing::warn!(id, error = %e, "queued message options unreadable; using defaults");
                QueueOptions::default()
            }
        }
    }

    fn rcpt(&self, index: u32) -> Option<&RcptParams> {
        self.recipients.get(index as usize).map(|(_, p)| p)
    }

    /// RFC 3461 §4.1: without NOTIFY, DSNs are sent as for FAILURE,DELAY.
    pub fn notify(&self, index: u32) -> Notify {
        self.rcpt(index).and_then(|p| p.notify).unwrap_or(Notify {
            success: false,
            failure: true,
            delay: true,
        })
    }

    /// Whether NOTIFY was given at all (relayed to a DSN-capable peer).
    pub fn notify_given(&self, index: u32) -> Option<Notify> {
        self.rcpt(index).and_then(|p| p.notify)
    }

    pub fn orcpt(&self, index: u32) -> Option<&Orcpt> {
        self.rcpt(index).and_then(|p| p.orcpt.as_ref())
    }

    /// RFC 3461 §4.3: RET=HDRS returns only the headers; FULL or nothing
    /// returns the message.
    pub fn return_headers_only(&self) -> bool {
        self.params.ret == Some(Ret::Hdrs)
    }

    pub fn envid(&self) -> Option<&str> {
        self.params.envid.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_submission_stores() {
        let j = r#"{"envelope_id":"x","params":{"size":null,"body":"EightBitMime","smtputf8":false,
            "requiretls":true,"ret":"Hdrs","envid":"env\n1","auth":null},
            "recipients":[["bob@remote.test",{"notify":{"success":false,"failure":true,"delay":false},
            "orcpt":{"addr_type":"rfc822","addr":"bob@remote.test"}}],["c@d",{"notify":null,"orcpt":null}]],
            "eight_bit":true}"#;
        let o = QueueOptions::parse(1, j);
        assert!(o.params.requiretls && o.eight_bit && o.return_headers_only());
        assert_eq!(
            o.envid(),
            Some("env\n1"),
            "kept as stored; escaped on output"
        );
        assert!(!o.notify(0).delay && o.notify(0).failure);
        assert!(o.notify(1).delay && o.notify(1).failure && !o.notify(1).success);
        assert_eq!(o.orcpt(0).map(|x| x.addr.as_str()), Some("bob@remote.test"));
        assert!(o.notify(7).failure, "unknown index: defaults");
    }

    #[test]
    fn bad_json_gives_defaults() {
        let o = QueueOptions::parse(1, "{not json");
        assert!(!o.params.requiretls && !o.eight_bit);
        let o = QueueOptions::parse(1, "{}");
        assert!(o.notify(0).failure);
    }
}
