//! The `kevy` binary: `kevy [config-file] [--directive value ...]`, as
//! `redis-server` takes its arguments. Starts the server, logs where it
//! listens, and stops cleanly on SIGINT, SIGTERM or `SHUTDOWN`.

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
