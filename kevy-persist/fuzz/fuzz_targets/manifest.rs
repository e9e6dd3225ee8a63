//! The log-set manifest parser over arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kevy_persist::fuzz_entry::manifest(data);
});
