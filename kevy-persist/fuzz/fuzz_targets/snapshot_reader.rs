//! The snapshot reader pulled record by record over arbitrary bytes: it
//! must end with a record stream or an error, never panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kevy_persist::fuzz_entry::snapshot_reader(data);
});
