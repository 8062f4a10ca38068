//! DKIM signing on submission (RFC 6376 §5): after moxd's own header
//! fields are added (Received, and Message-ID and Date when missing, RFC
//! 6409 §8), the message is signed with every key of its From domain and
//! the DKIM-Signature fields go on top of the prefix. The keys come from
//! the master in the worker's bootstrap.

use std::io;

use policy::dkimsign::{Signers, split_message};

use super::spool::MessageFile;

/// Sign `msg` (file and prefix) at unix time `now`; unchanged when the
/// From domain has no key.
pub fn sign(signers: &Signers, msg: &mut MessageFile, now: i64) -> io::Result<()> {
    let file = msg.read_body()?;
    let (file_header, body) = split_message(&file);
    let mut header = msg.prefix.clone();
    header.extend_from_slice(file_header);
    let now = u64::try_from(now).unwrap_or(0);
    let sigs = signers
        .sign(&header, body, now)
        .map_err(|e| io::Error::other(format!("DKIM signing: {e}")))?;
    if !sigs.is_empty() {
        let mut prefix = sigs.into_bytes();
        prefix.append(&mut msg.prefix);
        msg.prefix = prefix;
    }
    Ok(())
}
