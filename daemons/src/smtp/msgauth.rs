//! Message authentication at the end of DATA on smtp-in (not on
//! submission): the received message is evaluated by the policy crate
//! (SPF for MAIL FROM and HELO, DKIM, DMARC, iprev, DNSBLs), its
//! Authentication-Results (RFC 8601) and Received-SPF (RFC 7208 §9.1)
//! fields go in front of the message, and the evaluation decides: accept,
//! deliver to Junk, or refuse with `550 5.7.1` (RFC 7489 §10.3).

use std::io;
use std::net::IpAddr;

use policy::auth::{Authenticator, Disposition, Evaluation, Input};

use super::address::ReversePath;
use super::reply::{Code, Esc, Reply};
use super::spool::MessageFile;

/// Evaluate `msg` and put the result headers in front of its prefix
/// (above our Received field, RFC 8601 §4, RFC 7208 §9.1).
pub async fn evaluate(
    auth: &Authenticator,
    remote_ip: IpAddr,
    helo: &str,
    from: &ReversePath,
    msg: &mut MessageFile,
) -> io::Result<Evaluation> {
    let body = msg.read_body()?;
    let mail_from = from
        .address()
        .map(|a| a.to_ascii_domain_string())
        .unwrap_or_default();
    let input = Input {
        remote_ip,
        helo,
        mail_from: &mail_from,
        message: &body,
    };
    let evaluation = auth.evaluate(&input).await;
    let mut prefix = auth.headers(&evaluation).into_bytes();
    prefix.append(&mut msg.prefix);
    msg.prefix = prefix;
    Ok(evaluation)
}

/// The refusal for a DMARC reject: `550 5.7.1` with the reason (RFC 7489
/// §10.3: rejections use 5.7.1 and say that DMARC is why).
pub fn refusal(e: &Evaluation) -> Option<Reply> {
    match &e.disposition {
        Disposition::Reject { reason } => Some(Reply::new(
            Code::MAILBOX_UNAVAILABLE,
            Esc::NOT_AUTHORIZED,
            format!("message refused: {reason}"),
        )),
        Disposition::Accept | Disposition::Quarantine { .. } => None,
    }
}

/// Whether the message goes to the Junk mailbox.
pub fn quarantined(e: &Evaluation) -> bool {
    matches!(e.disposition, Disposition::Quarantine { .. })
}
