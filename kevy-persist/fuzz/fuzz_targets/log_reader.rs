//! The append-only log reader (record framing, entries, torn-tail and
//! corruption rules) over arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kevy_persist::fuzz_entry::log_reader(data);
});
