//! DMARC aggregate reports (RFC 7489 §7.2): [`incoming`] parses the
//! reports others send to our reporting address (XML, gzip or zip
//! attachments; mail-auth's parser), [`aggregate`] turns the evaluations
//! of received mail into the daily reports moxd sends to the rua
//! addresses of the senders' domains, after checking that an address
//! outside a domain consented to receive its reports (§7.1).

pub mod aggregate;
pub mod incoming;
