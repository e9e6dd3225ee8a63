//! `check_snapshot` (what `kevy check-snapshot` runs) over arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kevy_persist::fuzz_entry::check_snapshot(data);
});
