//! Fuzz the MIME walk behind BODYSTRUCTURE/ENVELOPE: bounded depth, parts
//! and time for any message.
#![no_main]

use daemons::imap::parsed::ParsedMessage;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ParsedMessage::from_bytes(data);
});
