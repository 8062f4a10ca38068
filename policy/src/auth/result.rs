//! What message authentication found, as plain serializable values: one
//! result per method with the RFC's result names, and the decision that
//! follows from them. smtp-in turns it into headers and a delivery
//! decision; it is kept for DMARC aggregate reports (RFC 7489 §7.2).

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// SPF results (RFC 7208 §2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpfResult {
    None,
    Neutral,
    Pass,
    Fail,
    Softfail,
    Temperror,
    Permerror,
}

impl SpfResult {
    pub fn as_str(self) -> &'static str {
        match self {
            SpfResult::None => "none",
            SpfResult::Neutral => "neutral",
            SpfResult::Pass => "pass",
            SpfResult::Fail => "fail",
            SpfResult::Softfail => "softfail",
            SpfResult::Temperror => "temperror",
            SpfResult::Permerror => "permerror",
        }
    }
}

impl fmt::Display for SpfResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which identity an SPF check authorized (RFC 7208 §2.3, §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpfIdentity {
    Helo,
    MailFrom,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpfCheck {
    pub identity: SpfIdentity,
    /// The domain whose record was evaluated.
    pub domain: String,
    pub result: SpfResult,
    /// The domain's explanation of a fail (RFC 7208 §6.2), printable ASCII.
    pub explanation: Option<String>,
    /// What went wrong, for temperror and permerror.
    pub problem: Option<String>,
}

/// DKIM results as Authentication-Results names them (RFC 8601 §2.7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DkimResult {
    None,
    Pass,
    Fail,
    Policy,
    Neutral,
    Temperror,
    Permerror,
}

impl DkimResult {
    pub fn as_str(self) -> &'static str {
        match self {
            DkimResult::None => "none",
            DkimResult::Pass => "pass",
            DkimResult::Fail => "fail",
            DkimResult::Policy => "policy",
            DkimResult::Neutral => "neutral",
            DkimResult::Temperror => "temperror",
            DkimResult::Permerror => "permerror",
        }
    }
}

impl fmt::Display for DkimResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One DKIM-Signature and its verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DkimCheck {
    pub result: DkimResult,
    /// d= (empty when the signature did not parse).
    pub domain: String,
    /// s=
    pub selector: String,
    /// a=, e.g. "rsa-sha256".
    pub algorithm: String,
    /// i=, when given.
    pub identity: Option<String>,
    /// The first characters of b= (RFC 6008 §2), to tell signatures apart.
    pub b: String,
    /// Why it did not pass.
    pub reason: Option<String>,
}

/// DMARC results (RFC 7489 §11.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DmarcResult {
    None,
    Pass,
    Fail,
    Temperror,
    Permerror,
}

impl DmarcResult {
    pub fn as_str(self) -> &'static str {
        match self {
            DmarcResult::None => "none",
            DmarcResult::Pass => "pass",
            DmarcResult::Fail => "fail",
            DmarcResult::Temperror => "temperror",
            DmarcResult::Permerror => "permerror",
        }
    }
}

impl fmt::Display for DmarcResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A DMARC policy (RFC 7489 §6.3 p= and sp=).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DmarcPolicy {
    None,
    Quarantine,
    Reject,
}

impl DmarcPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            DmarcPolicy::None => "none",
            DmarcPolicy::Quarantine => "quarantine",
            DmarcPolicy::Reject => "reject",
        }
    }

    /// The next weaker policy (RFC 7489 §6.6.4: messages not sampled by
    /// pct get it).
    pub fn weaker(self) -> DmarcPolicy {
        match self {
            DmarcPolicy::Reject => DmarcPolicy::Quarantine,
            DmarcPolicy::Quarantine | DmarcPolicy::None => DmarcPolicy::None,
        }
    }
}

impl fmt::Display for DmarcPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DmarcCheck {
    pub result: DmarcResult,
    /// The RFC5322.From domain (RFC 7489 §3.1).
    pub from_domain: String,
    /// The domain's policy for this message: p=, or sp= for a subdomain
    /// that has no record of its own (RFC 7489 §6.3).
    pub policy: DmarcPolicy,
    /// What is done on failure after pct= sampling (RFC 7489 §6.6.4).
    pub applied: DmarcPolicy,
    /// pct= of the record (100 when absent).
    pub pct: u8,
    /// An SPF pass for an aligned domain (RFC 7489 §3.1.2).
    pub spf_aligned: bool,
    /// A DKIM pass for an aligned domain (RFC 7489 §3.1.1).
    pub dkim_aligned: bool,
    /// rua= addresses (the mailto: URIs without "mailto:"), for
    /// aggregate reports.
    pub rua: Vec<String>,
    /// The record's tags as aggregate reports repeat them.
    pub published: Option<super::dmarc::PublishedPolicy>,
}

/// iprev results (RFC 8601 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IprevResult {
    Pass,
    Fail,
    Temperror,
    Permerror,
}

impl IprevResult {
    pub fn as_str(self) -> &'static str {
        match self {
            IprevResult::Pass => "pass",
            IprevResult::Fail => "fail",
            IprevResult::Temperror => "temperror",
            IprevResult::Permerror => "permerror",
        }
    }
}

impl fmt::Display for IprevResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IprevCheck {
    pub result: IprevResult,
    /// PTR names of the client address.
    pub names: Vec<String>,
}

/// A DNSBL's answer for the client address (RFC 5782 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DnsblStatus {
    /// Not listed.
    Pass,
    Listed,
    /// The list could not be asked.
    Temperror,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsblCheck {
    pub zone: String,
    pub status: DnsblStatus,
    /// The list's TXT reason, printable ASCII, when listed.
    pub text: Option<String>,
}

/// What smtp-in does with the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Disposition {
    Accept,
    /// Deliver to the Junk mailbox.
    Quarantine {
        reason: String,
    },
    /// Refuse at the end of DATA with 550 5.7.1.
    Reject {
        reason: String,
    },
}

/// Everything found for one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evaluation {
    pub remote_ip: IpAddr,
    pub helo: String,
    /// The envelope sender; empty for the null reverse-path.
    pub mail_from: String,
    /// None: disabled.
    pub iprev: Option<IprevCheck>,
    /// None: disabled, or the HELO name is an address literal.
    pub spf_helo: Option<SpfCheck>,
    /// None: disabled, or the null reverse-path.
    pub spf_mailfrom: Option<SpfCheck>,
    /// One per DKIM-Signature (at most [`super::MAX_DKIM_SIGNATURES`]).
    pub dkim: Vec<DkimCheck>,
    /// None: disabled.
    pub dmarc: Option<DmarcCheck>,
    pub dnsbl: Vec<DnsblCheck>,
    pub disposition: Disposition,
}

impl Evaluation {
    /// The SPF check DMARC uses: MAIL FROM, or HELO for the null
    /// reverse-path (RFC 7489 §3.1.2, RFC 7208 §2.4).
    pub fn spf(&self) -> Option<&SpfCheck> {
        self.spf_mailfrom.as_ref().or(self.spf_helo.as_ref())
    }
}
