//! Fuzz the pedantic MIME check of submitted messages.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = daemons::smtp::mime_check::check(data);
});
