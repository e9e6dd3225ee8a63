//! The `kevy` binary: `kevy [config-file] [--directive value ...]`, as
//! `redis-server` takes its arguments. Starts the server, logs where it
//! listens, and stops cleanly on SIGINT, SIGTERM or `SHUTDOWN`. Also the
//! offline tools `kevy check-snapshot FILE` and `kevy check-aof [--fix]
//! FILE|DIR`.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kevy::config::Config;

/// Shards allocate buffers that other shards free (hop arguments, replies);
/// mimalloc frees across threads without a shared arena lock, which glibc's
/// allocator takes (measured: futex waits in the allocator under load).
/// The counting wrapper gives `INFO memory` the bytes in use.
#[global_allocator]
static ALLOCATOR: kevy::alloc::CountingAlloc<mimalloc::MiMalloc> =
    kevy::alloc::CountingAlloc(mimalloc::MiMalloc);
use kevy::server::Server;

const USAGE: &str = "Usage: kevy [/path/to/kevy.conf] [options]
       kevy --port 6379 --threads 4
       kevy --config /etc/kevy.conf --port 7777
Options are configuration directives as --name value (see README.md).";

/// `kevy check-snapshot FILE`: verifies every block and checksum of a
/// snapshot; prints its contents, or the first bad block and its offset.
fn check_snapshot(args: &[String]) -> ExitCode {
    let [path] = args else {
        eprintln!("Usage: kevy check-snapshot FILE");
        return ExitCode::from(2);
    };
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(err) => {
            eprintln!("Can't open {path}: {err}");
            return ExitCode::FAILURE;
        }
    };
    let reader = std::io::BufReader::with_capacity(1 << 20, file);
    match kevy_persist::snapshot::check_snapshot(reader) {
        Ok(contents) => {
            println!("{path}: OK");
            println!("{contents}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            let offset = err
                .offset()
                .map_or_else(|| "unknown".to_string(), |o| o.to_string());
            println!("{path}: BAD at offset {offset}: {err}");
            ExitCode::FAILURE
        }
    }
}

const CHECK_AOF_USAGE: &str = "Usage: kevy check-aof [--fix] <file.manifest|directory|file>";

/// `kevy check-aof [--fix] FILE|DIR`, as redis-check-aof: verifies a log
/// set (its manifest, base snapshot and every incremental log) or one
/// file; reports the first bad record of each file with its offset.
/// `--fix` asks before truncating a torn tail (an append cut short by a
/// crash) and never truncates a corrupt log: that would drop sound
/// records after the damage. Exit 0 when everything is (now) valid.
fn check_aof(args: &[String]) -> ExitCode {
    use kevy_persist::aof::check::{check_file, check_set, find_manifest, FileState};
    let (fix, path) = match args {
        [path] if path != "--fix" => (false, path),
        [flag, path] if flag == "--fix" => (true, path),
        _ => {
            println!("{CHECK_AOF_USAGE}");
            return ExitCode::FAILURE;
        }
    };
    let path = std::path::Path::new(path);
    let checks = match find_manifest(path) {
        Ok(Some((dir, appendfilename))) => {
            println!("Start checking Multi Part AOF");
            match check_set(&dir, &appendfilename) {
                Ok(checks) => checks,
                Err(err) => {
                    println!("Invalid AOF manifest: {err}");
                    return ExitCode::FAILURE;
                }
            }
        }
        Ok(None) => vec![check_file(path)],
        Err(err) => {
            println!("{err}");
            return ExitCode::FAILURE;
        }
    };
    let mut valid = true;
    let mut to_truncate = Vec::new();
    for check in &checks {
        let name = check.path.display();
        let kind = if check.base { "BASE" } else { "INCR" };
        match &check.state {
            FileState::BaseValid(contents) => {
                println!("{kind} AOF {name} is valid ({} keys)", contents.summary.keys_per_db.iter().map(|(_, keys)| keys).sum::<u64>());
            }
            FileState::LogValid { entries, txn_parts } => println!(
                "{kind} AOF {name} is valid ({entries} entries, {txn_parts} of them parts of cross-shard writes)"
            ),
            FileState::Torn {
                entries,
                ok_up_to,
                fixable,
            } => {
                println!(
                    "AOF analyzed: filename={name}, size={}, ok_up_to={ok_up_to}, entries={entries}, diff={}",
                    check.size,
                    check.size - ok_up_to
                );
                if *fixable {
                    println!("{kind} AOF {name} ends in a torn tail: the last record at {ok_up_to} is incomplete");
                    to_truncate.push((check.path.clone(), check.size, *ok_up_to));
                } else {
                    valid = false;
                    println!(
                        "{kind} AOF {name} is not valid: an incomplete record at {ok_up_to} is followed by newer logs of its shard, so it is not a torn tail and will not be truncated"
                    );
                }
            }
            FileState::Corrupt(err) => {
                valid = false;
                let offset = err.offset().map_or("unknown".to_string(), |o| o.to_string());
                println!("0x{:>16x}: {err}", err.offset().unwrap_or(0));
                println!(
                    "{kind} AOF {name} is not valid: corrupt at offset {offset}. --fix truncates only a torn tail, never the sound records after damage: restore the file from a backup, or truncate it by hand if losing them is acceptable."
                );
            }
            FileState::Unreadable(err) => {
                valid = false;
                println!("{kind} AOF {name} can't be read: {err}");
            }
        }
    }
    if !to_truncate.is_empty() {
        if !fix {
            println!("AOF is not valid. Use the --fix option to try fixing it.");
            return ExitCode::FAILURE;
        }
        for (file, size, ok_up_to) in &to_truncate {
            println!(
                "This will shrink the AOF {} from {size} bytes, with {} bytes, to {ok_up_to} bytes",
                file.display(),
                size - ok_up_to
            );
        }
        print!("Continue? [y/N]: ");
        let _ = std::io::Write::flush(&mut std::io::stdout());
        let mut answer = String::new();
        let _ = std::io::stdin().read_line(&mut answer);
        if !answer.trim_start().starts_with(['y', 'Y']) {
            println!("Aborting...");
            return ExitCode::FAILURE;
        }
        for (file, _, ok_up_to) in &to_truncate {
            let truncated = std::fs::OpenOptions::new()
                .write(true)
                .open(file)
                .and_then(|f| f.set_len(*ok_up_to).and_then(|()| f.sync_all()));
            match truncated {
                Ok(()) => println!("Successfully truncated AOF {}", file.display()),
                Err(err) => {
                    println!("Failed to truncate AOF {}: {err}", file.display());
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    if valid {
        println!("All AOF files are valid");
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Parses the command line into a configuration.
fn configure(args: &[String]) -> Result<Config, String> {
    let mut config = Config::default();
    let mut rest = args;
    let mut config_file = None;
    if let Some(first) = rest.first() {
        if !first.starts_with("--") {
            config_file = Some(first.clone());
            rest = &rest[1..];
        }
    }
    // Collect `--name v1 v2 ...` groups.
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for arg in rest {
        if let Some(name) = arg.strip_prefix("--") {
            groups.push((name.to_string(), Vec::new()));
        } else if let Some((_, values)) = groups.last_mut() {
            values.push(arg.clone());
        } else {
            return Err(format!("unexpected argument '{arg}'"));
        }
    }
    if let Some(pos) = groups.iter().position(|(name, _)| name == "config") {
        let (_, values) = groups.remove(pos);
        config_file = values.into_iter().next();
    }
    if let Some(path) = config_file {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("Fatal error, can't open config file '{path}': {e}"))?;
        config.load_file_text(&text).map_err(|(line, content, err)| {
            format!("*** FATAL CONFIG FILE ERROR ***\nReading the configuration file, at line {line}\n>>> '{content}'\n{err}")
        })?;
        config.config_file = std::fs::canonicalize(&path).ok();
    }
    for (name, values) in groups {
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        let values = if values.is_empty() { vec![""] } else { values };
        config.set_startup(&name, &values).map_err(|err| {
            format!(
                "*** FATAL CONFIG ERROR ***\n>>> '{name} {}'\n{err}",
                values.join(" ")
            )
        })?;
    }
    Ok(config)
}

fn main() -> ExitCode {
    kevy::alloc::disable_transparent_huge_pages();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    if args.first().map(String::as_str) == Some("check-snapshot") {
        return check_snapshot(&args[1..]);
    }
    if args.first().map(String::as_str) == Some("check-aof") {
        return check_aof(&args[1..]);
    }
    if args.iter().any(|a| a == "-v" || a == "--version") {
        println!(
            "kevy v={} (Redis protocol {})",
            env!("CARGO_PKG_VERSION"),
            kevy::cmd::REDIS_VERSION
        );
        return ExitCode::SUCCESS;
    }
    let mut config = match configure(&args) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(err) = kevy::logging::init(
        config.get("loglevel").unwrap_or("notice"),
        config.get("logfile").unwrap_or(""),
    ) {
        eprintln!("Can't open the log file: {err}");
        return ExitCode::FAILURE;
    }
    if let Err(err) = std::env::set_current_dir(&config.dir) {
        log::error!("Can't chdir to '{}': {err}", config.dir.display());
        return ExitCode::FAILURE;
    }
    // `CONFIG GET dir` reports the absolute directory, as Redis does.
    if let Ok(cwd) = std::env::current_dir() {
        let _ = config.set_startup("dir", &[&cwd.to_string_lossy()]);
    }
    // Handlers first, so a signal during start-up stops cleanly too.
    let signalled = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(err) = signal_hook::flag::register(signal, signalled.clone()) {
            log::warn!("Could not install the handler of signal {signal}: {err}");
        }
    }
    let server = Server::new(config);
    let shards = server.shard_count();
    let transport = match server.transport() {
        Ok(transport) => transport,
        Err(err) => {
            log::error!("Failed starting the server: {err}");
            return ExitCode::FAILURE;
        }
    };
    let running = match server.start() {
        Ok(running) => running,
        Err(err) => {
            log::error!("Failed starting the server: {err}");
            return ExitCode::FAILURE;
        }
    };
    let addrs: Vec<String> = running.addrs().iter().map(ToString::to_string).collect();
    log::info!(
        "kevy {} started, pid={}",
        env!("CARGO_PKG_VERSION"),
        std::process::id()
    );
    log::info!(
        "Running mode=standalone, shards={shards}, transport={transport}, listening on {}",
        addrs.join(" ")
    );
    log::info!("Ready to accept connections tcp");
    if !running.tls_addrs().is_empty() {
        let tls: Vec<String> = running
            .tls_addrs()
            .iter()
            .map(ToString::to_string)
            .collect();
        log::info!("TLS listening on {}", tls.join(" "));
        log::info!("Ready to accept connections tls");
    }

    while !running.is_stopping() {
        if signalled.load(Ordering::SeqCst) {
            log::warn!("Received shutdown signal, scheduling shutdown...");
            running.request_shutdown_save();
            running.stop();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    running.stop();
    running.wait();
    log::warn!("kevy is now ready to exit, bye bye...");
    ExitCode::SUCCESS
}
