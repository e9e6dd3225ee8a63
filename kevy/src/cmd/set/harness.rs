//! The shared command-test harness as the hash and set tests use it: with
//! its own random seed, which their random-command cases were written for.

use crate::cmd::test_harness::Harness;

/// A harness for hash and set command tests.
pub fn bench() -> Harness {
    Harness::with_seed(11)
}
