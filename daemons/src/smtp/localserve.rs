//! localserve fake failures (DESIGN.md "Run modes", as mox localserve):
//! a localpart ending in `temperror` fails with 451, `permerror` with 550,
//! a 3-digit code 400–599 with that code, `timeout` with no reply for a
//! long time. The failure happens after DATA, or at MAIL/RCPT when the
//! localpart starts with `mailfrom`/`rcptto`; `queue…` localparts are
//! accepted here and fail later in the queue.

use super::reply::Code;

/// Where a fake failure fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    MailFrom,
    RcptTo,
    Data,
}

/// What the failure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    Reply(Code),
    Timeout,
}

/// The fake failure a localpart asks for, if any.
pub fn fake_failure(localpart: &str) -> Option<(Stage, Failure)> {
    let lp = localpart.to_ascii_lowercase();
    if lp.starts_with("queue") {
        return None;
    }
    let failure = if lp.ends_with("temperror") {
        Failure::Reply(Code::LOCAL_ERROR)
    } else if lp.ends_with("permerror") {
        Failure::Reply(Code::MAILBOX_UNAVAILABLE)
    } else if lp.ends_with("timeout") {
        Failure::Timeout
    } else {
        let tail = lp.get(lp.len().checked_sub(3)?..)?;
        let n: u16 = if tail.bytes().all(|b| b.is_ascii_digit()) {
            tail.parse().ok()?
        } else {
            return None;
        };
        Failure::Reply(Code::new(n).filter(|c| c.class() >= 4)?)
    };
    let stage = if lp.starts_with("mailfrom") {
        Stage::MailFrom
    } else if lp.starts_with("rcptto") {
        Stage::RcptTo
    } else {
        Stage::Data
    };
    Some((stage, failure))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localparts() {
        let code = |n| Failure::Reply(Code::new(n).unwrap());
        assert_eq!(fake_failure("temperror"), Some((Stage::Data, code(451))));
        assert_eq!(fake_failure("xpermerror"), Some((Stage::Data, code(550))));
        assert_eq!(
            fake_failure("mailfrom452"),
            Some((Stage::MailFrom, code(452)))
        );
        assert_eq!(
            fake_failure("rcpttotimeout"),
            Some((Stage::RcptTo, Failure::Timeout))
        );
        assert_eq!(fake_failure("user250"), None);
        assert_eq!(fake_failure("user600"), None);
        assert_eq!(fake_failure("queuetemperror"), None);
        assert_eq!(fake_failure("mox"), None);
        assert_eq!(fake_failure("ü1"), None);
        assert_eq!(fake_failure("ab"), None);
    }
}
