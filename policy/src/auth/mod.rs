//! Message authentication of incoming mail: SPF for MAIL FROM and HELO
//! (RFC 7208), DKIM for every signature (RFC 6376), DMARC with alignment,
//! policy, pct= and sp= (RFC 7489), iprev (RFC 8601 §3) and the configured
//! DNS blocklists (RFC 5782). smtp-in calls [`Authenticator::evaluate`]
//! after DATA and gets an [`Evaluation`]: the results, the decision
//! (accept, quarantine to Junk, reject), and through [`headers`] the
//! Authentication-Results and Received-SPF fields to prepend.
//!
//! Standards parsing and DKIM/DMARC verification come from mail-auth
//! 0.13.3; SPF evaluation (its limits), DMARC pct= sampling, DNSBLs and
//! the header text are moxd's. DNS answers are cached with their TTLs in
//! bounded caches ([`cache`]).

pub mod cache;
pub mod canon;
pub mod dkim;
pub mod dmarc;
pub mod dns;
pub mod dnsbl;
pub mod headers;
pub mod iprev;
pub mod result;
pub mod spf;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use mail_auth::AuthenticatedMessage;
use serde::{Deserialize, Serialize};

pub use dkim::MAX_DKIM_SIGNATURES;
pub use dmarc::PublishedPolicy;
pub use dns::{Dns, ResolverError};
pub use result::*;

/// DKIM verification of one message, all signatures together.
pub const DKIM_TIMEOUT: Duration = Duration::from_secs(30);
/// DMARC evaluation (record lookup and alignment) of one message.
pub const DMARC_TIMEOUT: Duration = Duration::from_secs(20);

/// Which checks run; `[auth]` in moxd.toml.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthConfig {
    pub spf: bool,
    pub dkim: bool,
    /// DMARC needs SPF and DKIM results, so it evaluates them even when
    /// `spf` or `dkim` is off (they are then left out of the headers).
    pub dmarc: bool,
    pub iprev: bool,
    /// DNSBL zones, e.g. "zen.spamhaus.org".
    pub dnsbls: Vec<String>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            spf: true,
            dkim: true,
            dmarc: true,
            iprev: true,
            dnsbls: Vec::new(),
        }
    }
}

/// One received message and its SMTP context.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub remote_ip: IpAddr,
    /// The EHLO/HELO name (a domain or an address literal).
    pub helo: &'a str,
    /// The envelope sender "local@domain"; empty for the null reverse-path.
    pub mail_from: &'a str,
    /// The message as received (without headers moxd adds).
    pub message: &'a [u8],
}

/// Evaluates messages; one per worker, shared by its sessions (its DNS
/// caches are what makes a second message from a sender cheap).
pub struct Authenticator {
    dns: Dns,
    config: AuthConfig,
    hostname: String,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("hostname", &self.hostname)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// `hostname` is ours (headers, SPF %{r}); `resolver` the DNS server
    /// to ask instead of resolv.conf. Must be called inside a tokio runtime.
    pub fn new(
        hostname: &str,
        resolver: Option<SocketAddr>,
        config: AuthConfig,
    ) -> Result<Authenticator, ResolverError> {
        Ok(Authenticator {
            dns: Dns::new(resolver)?,
            config,
            hostname: hostname.to_string(),
        })
    }

    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// Evaluate a message; pct= sampling draws a random number.
    pub async fn evaluate(&self, input: &Input<'_>) -> Evaluation {
        self.evaluate_sampled(input, rand::random_range(0..100u8))
            .await
    }

    /// Evaluate with a given pct= sample in 0..100 (a failing message gets
    /// the declared policy when `sample < pct`).
    pub async fn evaluate_sampled(&self, input: &Input<'_>, sample: u8) -> Evaluation {
        let c = &self.config;
        let ip = input.remote_ip.to_canonical();
        let do_spf = c.spf || c.dmarc;
        let do_dkim = c.dkim || c.dmarc;
        // RFC 5321 §4.1.3: an address literal is no domain to check.
        let helo_is_domain = !input.helo.starts_with('[') && input.helo.parse::<IpAddr>().is_err();
        let mut msg = if do_dkim {
            AuthenticatedMessage::parse(input.message)
        } else {
            None
        };
        if let Some(m) = msg.as_mut() {
            dkim::limit_signatures(m);
            canon::fix_body_hashes(m);
        }
        let spf_helo = async {
            if !do_spf || !helo_is_domain {
                return None;
            }
            let sender = format!("postmaster@{}", input.helo);
            Some(
                self.spf(SpfIdentity::Helo, ip, input.helo, &sender, input.helo)
                    .await,
            )
        };
        let spf_mailfrom = async {
            let (_, domain) = input.mail_from.rsplit_once('@')?;
            if !do_spf {
                return None;
            }
            Some(
                self.spf(
                    SpfIdentity::MailFrom,
                    ip,
                    domain,
                    input.mail_from,
                    input.helo,
                )
                .await,
            )
        };
        let iprev = async {
            if c.iprev {
                Some(iprev::check(&self.dns, ip).await)
            } else {
                None
            }
        };
        let dnsbl = async {
            let mut out = Vec::with_capacity(c.dnsbls.len());
            for zone in &c.dnsbls {
                out.push(dnsbl::check(&self.dns, ip, zone).await);
            }
            out
        };
        let dkim = async {
            match &msg {
                Some(m) => tokio::time::timeout(
                    DKIM_TIMEOUT,
                    self.dns.auth.verify_dkim(self.dns.params(m)),
                )
                .await
                .ok(),
                None => Some(Vec::new()),
            }
        };
        let (spf_helo, spf_mailfrom, iprev, dnsbl, dkim_out) =
            tokio::join!(spf_helo, spf_mailfrom, iprev, dnsbl, dkim);

        let dmarc = if !c.dmarc {
            None
        } else {
            let spf_for_dmarc = spf_mailfrom.as_ref().or(spf_helo.as_ref());
            match (&msg, &dkim_out) {
                (Some(m), Some(outputs)) => {
                    let (domain, result) = match spf_for_dmarc {
                        Some(s) => (s.domain.clone(), spf_result(s.result)),
                        None => (String::new(), mail_auth::SpfResult::None),
                    };
                    let spf_out = mail_auth::SpfOutput::new(domain.clone()).with_result(result);
                    let eval = dmarc::check(&self.dns, m, outputs, &domain, &spf_out, sample);
                    match tokio::time::timeout(DMARC_TIMEOUT, eval).await {
                        Ok((check, _)) => Some(check),
                        Err(_) => Some(dmarc_temperror(m)),
                    }
                }
                // DKIM took too long: DMARC can neither pass nor fail.
                (Some(m), None) => Some(dmarc_temperror(m)),
                // Not a message with a header: nothing to evaluate.
                (None, _) => None,
            }
        };
        let dkim = match &dkim_out {
            Some(outputs) if c.dkim => dkim::checks(outputs),
            None if c.dkim => vec![DkimCheck {
                result: DkimResult::Temperror,
                domain: String::new(),
                selector: String::new(),
                algorithm: String::new(),
                identity: None,
                b: String::new(),
                reason: Some("DKIM verification took too long".into()),
            }],
            _ => Vec::new(),
        };
        let disposition = disposition(dmarc.as_ref(), &dnsbl);
        Evaluation {
            remote_ip: ip,
            helo: input.helo.to_string(),
            mail_from: input.mail_from.to_string(),
            iprev,
            spf_helo: spf_helo.filter(|_| c.spf),
            spf_mailfrom: spf_mailfrom.filter(|_| c.spf),
            dkim,
            dmarc,
            dnsbl,
            disposition,
        }
    }

    async fn spf(
        &self,
        identity: SpfIdentity,
        ip: IpAddr,
        domain: &str,
        sender: &str,
        helo: &str,
    ) -> SpfCheck {
        let req = spf::SpfRequest {
            ip,
            domain,
            sender,
            helo,
            receiver: &self.hostname,
        };
        let o = spf::check_host(&self.dns, &req).await;
        SpfCheck {
            identity,
            domain: domain.trim_end_matches('.').to_ascii_lowercase(),
            result: o.result,
            explanation: o.explanation,
            problem: o.problem,
        }
    }

    /// Authentication-Results and Received-SPF, to prepend to the message.
    pub fn headers(&self, e: &Evaluation) -> String {
        let mut h = headers::authentication_results(&self.hostname, e);
        if let Some(r) = headers::received_spf(&self.hostname, e) {
            h.push_str(&r);
        }
        h
    }
}

fn spf_result(r: SpfResult) -> mail_auth::SpfResult {
    match r {
        SpfResult::None => mail_auth::SpfResult::None,
        SpfResult::Neutral => mail_auth::SpfResult::Neutral,
        SpfResult::Pass => mail_auth::SpfResult::Pass,
        SpfResult::Fail => mail_auth::SpfResult::Fail,
        SpfResult::Softfail => mail_auth::SpfResult::SoftFail,
        SpfResult::Temperror => mail_auth::SpfResult::TempError,
        SpfResult::Permerror => mail_auth::SpfResult::PermError,
    }
}

fn dmarc_temperror(m: &AuthenticatedMessage<'_>) -> DmarcCheck {
    let from_domain = m
        .from()
        .rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
        .unwrap_or_default();
    DmarcCheck {
        result: DmarcResult::Temperror,
        from_domain,
        policy: DmarcPolicy::None,
        applied: DmarcPolicy::None,
        pct: 100,
        spf_aligned: false,
        dkim_aligned: false,
        rua: Vec::new(),
        published: None,
    }
}

/// What smtp-in does: DMARC's applied policy on failure (RFC 7489
/// §6.6.2), then DNSBL listings (quarantined, not refused: a listing is
/// evidence, not proof).
pub fn disposition(dmarc: Option<&DmarcCheck>, dnsbl: &[DnsblCheck]) -> Disposition {
    if let Some(d) = dmarc.filter(|d| d.result == DmarcResult::Fail) {
        let why = format!(
            "DMARC policy of {} is {}, and the message has no SPF or DKIM pass aligned with its From domain",
            d.from_domain, d.applied
        );
        match d.applied {
            DmarcPolicy::Reject => return Disposition::Reject { reason: why },
            DmarcPolicy::Quarantine => return Disposition::Quarantine { reason: why },
            DmarcPolicy::None => {}
        }
    }
    if let Some(l) = dnsbl.iter().find(|c| c.status == DnsblStatus::Listed) {
        return Disposition::Quarantine {
            reason: format!("client address is listed in DNSBL {}", l.zone),
        };
    }
    Disposition::Accept
}
