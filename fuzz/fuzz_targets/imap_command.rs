//! Fuzz the IMAP command parser in both mailbox-name modes: any bytes give
//! a command or a rejection, never a panic or unbounded recursion.
#![no_main]

use daemons::imap::parse::{Options, parse_command};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_command(data, Options { utf8: false });
    let _ = parse_command(data, Options { utf8: true });
});
