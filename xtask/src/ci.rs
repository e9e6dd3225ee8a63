//! `cargo xtask ci`: the checks CI runs, in order, stopping at the first
//! failure: `cargo fmt --check`, `cargo clippy` with warnings as errors,
//! the workspace's tests, then the feature matrix (`cargo xtask matrix`).

use crate::matrix;
use crate::workspace::run_cargo;

pub fn run() -> Result<(), String> {
    run_cargo(&["fmt", "--all", "--", "--check"])?;
    run_cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    // The matrix suite runs against target/debug/kevy unless KEVY_BIN says
    // otherwise; building it first keeps that binary current.
    run_cargo(&["build", "-p", "kevy"])?;
    run_cargo(&["test", "--workspace"])?;
    matrix::run()
}
