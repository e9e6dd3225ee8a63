//! `cargo xtask ci`: the checks CI runs, in order, stopping at the first
//! failure: `cargo fmt --check`, `cargo clippy` with warnings as errors
//! (default features, then every feature), the workspace's tests, the
//! library crates' tests with every feature (each backend's transport
//! suite, TLS, zstd), then the feature matrix (`cargo xtask matrix`).

use crate::matrix;
use crate::workspace::run_cargo;

pub fn run() -> Result<(), String> {
    run_cargo(&["fmt", "--all", "--", "--check"])?;
    for features in [None, Some("--all-features")] {
        let mut clippy = vec!["clippy", "--workspace", "--all-targets"];
        clippy.extend(features);
        clippy.extend(["--", "-D", "warnings"]);
        run_cargo(&clippy)?;
    }
    // The matrix suite runs against target/debug/kevy unless KEVY_BIN says
    // otherwise; building it first keeps that binary current.
    run_cargo(&["build", "-p", "kevy"])?;
    run_cargo(&["test", "--workspace"])?;
    run_cargo(&[
        "test",
        "-p",
        "kevy-transport",
        "-p",
        "kevy-persist",
        "--all-features",
    ])?;
    matrix::run()
}
