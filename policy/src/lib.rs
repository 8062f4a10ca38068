//! Policy decisions shared by the network workers: remote IP classes and
//! fixed-window rate limits (connections, failed authentication). Later:
//! SPF/DKIM/DMARC evaluation and the junk filter.

pub mod ipclass;
pub mod ratelimit;
