//! Fuzz the DATA decoder (dot-unstuffing, smuggling detection): fed in
//! chunks at arbitrary split points, it never panics, and an accepted
//! message holds only CRLF line ends.
#![no_main]

use daemons::smtp::data::{DataDecoder, DataOutcome};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.first().map(|b| *b as usize).unwrap_or(1).max(1);
    let mut d = DataDecoder::new(1 << 20);
    let mut out = Vec::new();
    for chunk in data.chunks(split) {
        if d.feed(chunk, &mut out).is_err() || d.is_done() {
            break;
        }
    }
    if d.is_done() && matches!(d.outcome(), DataOutcome::Complete) {
        for (i, b) in out.iter().enumerate() {
            if *b == b'\n' {
                assert!(i > 0 && out[i - 1] == b'\r', "bare LF in accepted message");
            }
        }
    }
});
