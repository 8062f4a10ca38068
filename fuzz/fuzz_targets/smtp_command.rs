//! Fuzz the SMTP command parser: any line from a client gives a command or
//! a parse error with a reply, never a panic.
#![no_main]

use daemons::smtp::Command;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = Command::parse(data) {
        let _ = e.reply();
    }
});
