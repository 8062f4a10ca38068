//! Policy decisions shared by the network workers: remote IP classes,
//! fixed-window rate limits (connections, failed authentication), and
//! message authentication of incoming mail (SPF, DKIM, DMARC, iprev,
//! DNSBLs), DKIM signing of submitted mail, and DMARC aggregate reports.
//! Later: the junk filter.

pub mod auth;
pub mod dkimsign;
pub mod ipclass;
pub mod ratelimit;
pub mod reports;
