//! Headers moxd adds in front of a received message: the Received trace
//! field (RFC 5321 §4.4, with protocol names from RFC 3848 and RFC 6531
//! §3.7.3 and the TLS details as a comment), and on submission Message-ID
//! and Date when the client left them out (RFC 6409 §8.2–8.3).

use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use super::address::Address;
use super::backend::TlsInfo;

/// What the Received field says about the connection.
#[derive(Debug, Clone)]
pub struct Trace<'a> {
    /// EHLO/HELO name.
    pub helo: &'a str,
    pub remote_ip: IpAddr,
    /// Reverse DNS name of the client, when known.
    pub remote_name: Option<&'a str>,
    /// Our host name.
    pub hostname: &'a str,
    pub esmtp: bool,
    pub authenticated: bool,
    pub smtputf8: bool,
    pub tls: Option<&'a TlsInfo>,
    /// MAIL FROM had REQUIRETLS (RFC 8689), recorded with the message.
    pub requiretls: bool,
    pub id: &'a str,
    /// Named in a `for` clause (only for a single recipient).
    pub recipient: Option<&'a Address>,
    /// Unix seconds.
    pub time: i64,
}

/// RFC 3848 §2 and RFC 6531 §3.7.3 "with" protocol names.
pub fn protocol(esmtp: bool, tls: bool, auth: bool, utf8: bool) -> &'static str {
    match (esmtp || utf8, utf8, tls, auth) {
        (false, _, _, _) => "SMTP",
        (true, false, false, false) => "ESMTP",
        (true, false, true, false) => "ESMTPS",
        (true, false, false, true) => "ESMTPA",
        (true, false, true, true) => "ESMTPSA",
        (true, true, false, false) => "UTF8SMTP",
        (true, true, true, false) => "UTF8SMTPS",
        (true, true, false, true) => "UTF8SMTPA",
        (true, true, true, true) => "UTF8SMTPSA",
    }
}

fn literal(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(ip) => format!("[{ip}]"),
        IpAddr::V6(ip) => format!("[IPv6:{ip}]"),
    }
}

/// The Received field, folded, ending in CRLF.
pub fn received(t: &Trace<'_>) -> String {
    // RFC 5321 §4.4: TCP-info = address-literal / ( Domain FWS address-literal ).
    let tcp_info = match t.remote_name {
        Some(name) => format!("{name} {}", literal(t.remote_ip)),
        None => literal(t.remote_ip),
    };
    let proto = protocol(t.esmtp, t.tls.is_some(), t.authenticated, t.smtputf8);
    let mut s = format!(
        "Received: from {} ({tcp_info})\r\n\tby {} (moxd) with {proto} id {}",
        t.helo, t.hostname, t.id
    );
    if let Some(tls) = t.tls {
        s.push_str(&format!(
            "\r\n\t(version={} cipher={}{})",
            comment_safe(&tls.version),
            comment_safe(&tls.cipher),
            if t.requiretls { " requiretls" } else { "" }
        ));
    }
    if let Some(rcpt) = t.recipient {
        s.push_str(&format!("\r\n\tfor <{rcpt}>"));
    }
    s.push_str(&format!(";\r\n\t{}\r\n", rfc5322_date(t.time)));
    s
}

/// Text safe inside a comment (no parentheses, backslashes or controls).
fn comment_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_graphic() && !"()\\".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `Message-ID: <random@hostname>` (RFC 5322 §3.6.4), ending in CRLF.
pub fn message_id_field(hostname: &str) -> String {
    format!("Message-ID: <{}@{hostname}>\r\n", random_id())
}

/// `Date:` (RFC 5322 §3.6.1) for `time`, ending in CRLF.
pub fn date_field(time: i64) -> String {
    format!("Date: {}\r\n", rfc5322_date(time))
}

/// 16 lower-case hex digits from 64 random bits.
pub fn random_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// Seconds since the epoch, now.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// RFC 5322 §3.3 date-time in UTC: `Fri, 27 Nov 2026 10:00:00 +0000`.
pub fn rfc5322_date(secs: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let wd = DAYS[days.rem_euclid(7) as usize];
    let mon = MONTHS[(m - 1) as usize];
    format!(
        "{wd}, {d} {mon} {y} {:02}:{:02}:{:02} +0000",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 → (year, month 1-12, day 1-31), proleptic
/// Gregorian (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc5322_date(0), "Thu, 1 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc5322_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
        assert_eq!(
            rfc5322_date(1_795_774_215),
            "Fri, 27 Nov 2026 10:10:15 +0000"
        );
    }

    #[test]
    fn protocols() {
        assert_eq!(protocol(false, false, false, false), "SMTP");
        assert_eq!(protocol(true, true, false, false), "ESMTPS");
        assert_eq!(protocol(true, true, true, false), "ESMTPSA");
        assert_eq!(protocol(true, true, true, true), "UTF8SMTPSA");
    }

    #[test]
    fn received_field() {
        let tls = TlsInfo {
            version: "TLS1.3".into(),
            cipher: "TLS13_AES_128_GCM_SHA256".into(),
            server_name: None,
        };
        let rcpt = Address::parse("bob@example.org").unwrap();
        let t = Trace {
            helo: "client.example",
            remote_ip: "192.0.2.1".parse().unwrap(),
            remote_name: None,
            hostname: "mx.example.org",
            esmtp: true,
            authenticated: false,
            smtputf8: false,
            tls: Some(&tls),
            requiretls: false,
            id: "abc",
            recipient: Some(&rcpt),
            time: 0,
        };
        assert_eq!(
            received(&t),
            "Received: from client.example ([192.0.2.1])\r\n\tby mx.example.org (moxd) with ESMTPS id abc\r\n\t\
             (version=TLS1.3 cipher=TLS13_AES_128_GCM_SHA256)\r\n\tfor <bob@example.org>;\r\n\t\
             Thu, 1 Jan 1970 00:00:00 +0000\r\n"
        );
        let t = Trace {
            requiretls: true,
            ..t
        };
        assert!(received(&t).contains("cipher=TLS13_AES_128_GCM_SHA256 requiretls)"));
    }
}
