//! `cargo xtask matrix`: every feature combination of `ci/matrix.txt` is
//! built and tested.
//!
//! For each combination: `cargo build -p kevy --no-default-features
//! --features <combo>`, then, once for every backend the combination
//! compiles in, `cargo test -p kevy-matrix-tests` with `KEVY_BIN` naming
//! the binary just built and `KEVY_TRANSPORT` the backend, so the one
//! backend-agnostic suite runs against every build and every backend (the
//! test crate itself does not depend on kevy's features;
//! `KEVY_MATRIX_FEATURES` tells it which optional parts, such as TLS, the
//! binary has). A table of results follows, one row per combination and
//! backend; the command fails when any cell failed to build or to pass.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Instant;

use crate::table::Table;
use crate::workspace;

const MATRIX_FILE: &str = "ci/matrix.txt";

/// What happened to one combination.
struct ComboResult {
    combo: String,
    backend: String,
    built: bool,
    tests: Option<TestCounts>,
    seconds: f64,
}

#[derive(Default, Debug, PartialEq)]
struct TestCounts {
    passed: u32,
    failed: u32,
    /// The test command itself exited with failure (also when a test
    /// binary crashed before printing a summary).
    command_failed: bool,
}

pub fn run() -> Result<(), String> {
    let path = workspace::root().join(MATRIX_FILE);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let combos = parse_matrix(&text);
    if combos.is_empty() {
        return Err(format!("{MATRIX_FILE} lists no feature combination"));
    }
    let kevy_bin = workspace::target_dir().join("debug").join("kevy");
    let mut results = Vec::new();
    for combo in combos {
        println!("\n=== features: {combo}");
        let started = Instant::now();
        let built = workspace::run_cargo(&[
            "build",
            "-p",
            "kevy",
            "--no-default-features",
            "--features",
            &combo,
        ])
        .map_err(|message| eprintln!("{message}"))
        .is_ok();
        let build_seconds = started.elapsed().as_secs_f64();
        for (index, backend) in backends_of(&combo).into_iter().enumerate() {
            let started = Instant::now();
            let tests = built.then(|| run_matrix_tests(&combo, backend, &kevy_bin));
            // The build's time is counted in the first backend's row.
            let build = if index == 0 { build_seconds } else { 0.0 };
            results.push(ComboResult {
                combo: combo.clone(),
                backend: backend.to_string(),
                built,
                tests,
                seconds: build + started.elapsed().as_secs_f64(),
            });
        }
    }
    let mut table = Table::new(&["combination", "backend", "build", "tests", "seconds"]);
    let mut all_ok = true;
    for result in &results {
        let tests_cell = match &result.tests {
            None => "skipped".to_string(),
            Some(counts) => describe(counts),
        };
        let tests_ok = result
            .tests
            .as_ref()
            .is_some_and(|c| c.failed == 0 && !c.command_failed);
        all_ok &= result.built && tests_ok;
        table.push(vec![
            result.combo.clone(),
            result.backend.clone(),
            if result.built { "ok" } else { "failed" }.to_string(),
            tests_cell,
            format!("{:.1}", result.seconds),
        ]);
    }
    println!();
    print!("{}", table.render());
    if all_ok {
        Ok(())
    } else {
        Err("some feature combinations failed".into())
    }
}

/// Combinations, one a line; `#` starts a comment; blank lines are skipped.
/// A line may name several features (`mio,tls` or `mio tls`).
fn parse_matrix(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| line.split('#').next().unwrap_or(""))
        .map(|line| {
            line.split(|c: char| c == ',' || c.is_whitespace())
                .filter(|feature| !feature.is_empty())
                .collect::<Vec<_>>()
                .join(",")
        })
        .filter(|combo| !combo.is_empty())
        .collect()
}

/// The backends a combination compiles in (the transport features of its
/// list), in kevy's order of preference.
fn backends_of(combo: &str) -> Vec<&'static str> {
    const BACKENDS: [&str; 3] = ["mio", "polling", "glommio"];
    BACKENDS
        .into_iter()
        .filter(|backend| combo.split(',').any(|feature| feature == *backend))
        .collect()
}

/// Runs the matrix suite against `kevy_bin` on `backend`, echoing its
/// output and counting the `test result:` lines of every test binary.
fn run_matrix_tests(combo: &str, backend: &str, kevy_bin: &std::path::Path) -> TestCounts {
    println!(
        "$ KEVY_BIN={} KEVY_TRANSPORT={backend} cargo test -p kevy-matrix-tests --no-fail-fast",
        kevy_bin.display()
    );
    let child = workspace::cargo()
        .args(["test", "-p", "kevy-matrix-tests", "--no-fail-fast"])
        .env("KEVY_BIN", kevy_bin)
        .env("KEVY_TRANSPORT", backend)
        .env("KEVY_MATRIX_FEATURES", combo)
        .stdout(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => {
            eprintln!("cannot run cargo test: {e}");
            return TestCounts {
                command_failed: true,
                ..TestCounts::default()
            };
        }
    };
    let mut counts = TestCounts::default();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("{line}");
            if let Some((passed, failed)) = parse_test_result(&line) {
                counts.passed += passed;
                counts.failed += failed;
            }
        }
    }
    counts.command_failed = !child.wait().is_ok_and(|status| status.success());
    counts
}

/// `test result: ok. 12 passed; 0 failed; 0 ignored; ...` → (12, 0).
fn parse_test_result(line: &str) -> Option<(u32, u32)> {
    let rest = line.trim().strip_prefix("test result: ")?;
    let mut passed = None;
    let mut failed = None;
    for part in rest.split(';') {
        let mut words = part.split_whitespace().rev();
        let label = words.next()?;
        let number = words.next()?;
        match label {
            "passed" => passed = number.parse().ok(),
            "failed" => failed = number.parse().ok(),
            _ => {}
        }
    }
    Some((passed?, failed?))
}

fn describe(counts: &TestCounts) -> String {
    let mut text = format!("{} passed, {} failed", counts.passed, counts.failed);
    if counts.command_failed && counts.failed == 0 {
        text.push_str(" (cargo test failed)");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_backend_of_a_combination_is_tested() {
        assert_eq!(backends_of("mio"), ["mio"]);
        assert_eq!(backends_of("glommio,tls,zstd"), ["glommio"]);
        assert_eq!(
            backends_of("glommio,polling,mio,tls"),
            ["mio", "polling", "glommio"]
        );
        assert!(backends_of("tls").is_empty());
    }

    #[test]
    fn matrix_lines_drop_comments_and_blanks() {
        let text = "# backends\nmio\n\n  mio, tls  # with TLS\npolling zstd\n#only\n";
        assert_eq!(parse_matrix(text), ["mio", "mio,tls", "polling,zstd"]);
    }

    #[test]
    fn test_result_lines_are_counted() {
        let line = "test result: ok. 12 passed; 1 failed; 0 ignored; 0 measured; \
                    0 filtered out; finished in 3.02s";
        assert_eq!(parse_test_result(line), Some((12, 1)));
        assert_eq!(parse_test_result("running 3 tests"), None);
    }
}
