//! A server process for the benchmark: spawned on a free local port,
//! waited for until it answers a PING, killed (and reaped) on drop, and
//! measured through `/proc/<pid>/stat` for the CPU time it has used and
//! `/proc/<pid>/status` for its resident memory.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to accept its first connection.
const START_TIMEOUT: Duration = Duration::from_secs(20);

pub struct ServerProcess {
    pub name: &'static str,
    pub port: u16,
    child: Child,
}

impl ServerProcess {
    /// Starts `program --port <free port> <args>` and waits until it accepts.
    pub fn start(
        name: &'static str,
        program: &Path,
        args: &[&str],
    ) -> Result<ServerProcess, String> {
        let port = free_port()?;
        let child = Command::new(program)
            .arg("--port")
            .arg(port.to_string())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
        let mut server = ServerProcess { name, port, child };
        server.wait_accepting()?;
        Ok(server)
    }

    fn wait_accepting(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("{} exited at start ({status})", self.name));
            }
            if answers_ping(self.port) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!(
            "{} did not accept on port {} within {START_TIMEOUT:?}",
            self.name, self.port
        ))
    }

    /// True while the process has not exited.
    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The operating-system process id, for reading `/proc/<pid>/...`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident set size in bytes (`VmRSS` of `/proc/<pid>/status`).
    pub fn resident_bytes(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        resident_bytes_from_status(&status)
    }

    /// CPU seconds (user + system, all threads) used so far.
    pub fn cpu_seconds(&self, ticks_per_second: f64) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        cpu_ticks_from_stat(&stat).map(|ticks| ticks as f64 / ticks_per_second)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// utime + stime (fields 14 and 15 of `/proc/<pid>/stat`, in clock ticks).
/// Field 2 is the command name in parentheses and may itself hold spaces
/// or parentheses, so fields are counted from after its last `)`.
pub fn cpu_ticks_from_stat(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace();
    // The first field after the name is field 3, so utime is the 12th.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// The `VmRSS:   1234 kB` line of `/proc/<pid>/status`, in bytes.
pub fn resident_bytes_from_status(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kilobytes: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kilobytes.checked_mul(1024)
}

/// `sysconf(_SC_CLK_TCK)`, asked of `getconf` so xtask needs no libc
/// binding; Linux reports 100 on every common configuration, which is the
/// fallback.
pub fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse::<f64>().ok())
        .filter(|ticks| *ticks > 0.0)
        .unwrap_or(100.0)
}

/// True when the server answers an inline PING. A connection that is
/// merely accepted does not prove it: a starting server may still hold
/// listening sockets it is about to close, which would reset it.
fn answers_ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    if stream
        .set_read_timeout(Some(Duration::from_secs(1)))
        .is_err()
        || stream.write_all(b"PING\r\n").is_err()
    {
        return false;
    }
    let mut first = [0u8; 1];
    matches!(stream.read(&mut first), Ok(1) if first[0] == b'+')
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|e| format!("no free local port: {e}"))
}

/// The full path of `program` when it is on PATH.
pub fn find_on_path(program: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

#[cfg(test)]
mod tests {
    use super::{cpu_ticks_from_stat, resident_bytes_from_status};

    #[test]
    fn reads_vmrss_in_bytes() {
        let status = "Name:\tredis-server\nVmPeak:\t  9000 kB\nVmRSS:\t    1200 kB\n";
        assert_eq!(resident_bytes_from_status(status), Some(1200 * 1024));
        assert_eq!(resident_bytes_from_status("Name:\tx\n"), None);
    }

    #[test]
    fn reads_utime_and_stime_past_a_name_with_spaces() {
        let stat = "1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 \
                    250 31 0 0 20 0 3 0 100 1000 10";
        assert_eq!(cpu_ticks_from_stat(stat), Some(281));
    }

    #[test]
    fn reads_this_process() {
        let stat = std::fs::read_to_string("/proc/self/stat").expect("Linux has /proc/self/stat");
        assert!(cpu_ticks_from_stat(&stat).is_some());
    }
}
