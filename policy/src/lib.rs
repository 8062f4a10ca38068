//! Policy decisions shared by the network workers: remote IP classes,
//! fixed-window rate limits (connections, failed authentication), and
//! message authentication of incoming mail (SPF, DKIM, DMARC, iprev,
//! DNSBLs), and DKIM signing of submitted mail. Later: the junk filter.

pub mod auth;
pub mod dkimsign;
pub mod ipclass;
pub mod ratelimit;
