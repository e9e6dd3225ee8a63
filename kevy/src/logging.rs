//! Log lines in Redis's format (`pid:role dd Mon yyyy hh:mm:ss.mmm * text`),
//! written to standard output or the configured `logfile`.

use std::io::Write;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

struct RedisStyleLogger {
    level: log::LevelFilter,
    sink: Mutex<Box<dyn Write + Send>>,
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn timestamp() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{:02} {} {} {:02}:{:02}:{:02}.{:03}",
        day,
        MONTHS[(month - 1) as usize],
        year,
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        now.subsec_millis()
    )
}

impl log::Log for RedisStyleLogger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= self.level && metadata.target().starts_with("kevy")
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let mark = match record.level() {
            log::Level::Error | log::Level::Warn => '#',
            log::Level::Info => '*',
            log::Level::Debug => '-',
            log::Level::Trace => '.',
        };
        let line = format!(
            "{}:M {} {} {}\n",
            std::process::id(),
            timestamp(),
            mark,
            record.args()
        );
        if let Ok(mut sink) = self.sink.lock() {
            let _ = sink.write_all(line.as_bytes());
            let _ = sink.flush();
        }
    }

    fn flush(&self) {}
}

/// Maps Redis's `loglevel` names to log levels.
pub fn level_of(name: &str) -> log::LevelFilter {
    match name {
        "debug" => log::LevelFilter::Trace,
        "verbose" => log::LevelFilter::Debug,
        "warning" => log::LevelFilter::Warn,
        _ => log::LevelFilter::Info,
    }
}

/// Installs the logger once; later calls are ignored. An empty `logfile`
/// means standard output.
pub fn init(level: &str, logfile: &str) -> std::io::Result<()> {
    let sink: Box<dyn Write + Send> = if logfile.is_empty() {
        Box::new(std::io::stdout())
    } else {
        Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(logfile)?,
        )
    };
    let logger = RedisStyleLogger {
        level: level_of(level),
        sink: Mutex::new(sink),
    };
    if log::set_boxed_logger(Box::new(logger)).is_ok() {
        log::set_max_level(level_of(level));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn civil_dates() {
        assert_eq!(super::civil_from_days(0), (1970, 1, 1));
        assert_eq!(super::civil_from_days(20_415), (2025, 11, 23));
    }
}
