//! The workloads `cargo xtask bench` can run: each is either one of
//! `redis-benchmark`'s built-in tests (`-t name`) or a custom command line
//! with `__rand_int__` placeholders, plus the data it needs to be in place
//! first (LPOP needs a list to pop, ZRANGE a sorted set to read). The
//! prefill is sent by xtask itself, before the CPU clock of the run starts.

use crate::resp_client::RespClient;

/// How redis-benchmark is told what to send.
pub enum Invocation {
    /// A built-in test, `-t <name>`.
    Test(&'static str),
    /// A command line given after the options; `-r` replaces
    /// `__rand_int__` in it with a random number below the keyspace size.
    Command(&'static [&'static str]),
}

/// Data a workload needs before it is measured.
#[derive(Clone, Copy)]
pub enum Prefill {
    Nothing,
    /// `mylist` (the key of redis-benchmark's LPOP test) holds at least as
    /// many elements as the run pops, so every LPOP pops something.
    ListToPop,
    /// `myzset` holds [`ZSET_MEMBERS`] members for ZRANGE to read.
    SortedSetToRead,
}

pub struct Workload {
    /// Lowercase name, as given to `--workloads`.
    pub name: &'static str,
    pub invocation: Invocation,
    pub prefill: Prefill,
}

/// Members put in `myzset` before ZRANGE: well above the 10 it reads.
const ZSET_MEMBERS: usize = 1000;
/// Elements per RPUSH while filling `mylist`.
const PUSH_CHUNK: u64 = 100;
/// RPUSH commands per pipelined batch while filling.
const PUSH_BATCH: u64 = 100;

pub const ALL: [Workload; 11] = [
    builtin("set"),
    builtin("get"),
    builtin("incr"),
    builtin("mset"),
    builtin("lpush"),
    Workload {
        name: "lpop",
        invocation: Invocation::Test("lpop"),
        prefill: Prefill::ListToPop,
    },
    builtin("sadd"),
    builtin("hset"),
    builtin("zadd"),
    Workload {
        name: "zrange",
        invocation: Invocation::Command(&["ZRANGE", "myzset", "0", "9", "WITHSCORES"]),
        prefill: Prefill::SortedSetToRead,
    },
    Workload {
        name: "xadd",
        invocation: Invocation::Command(&["XADD", "mystream", "*", "field", "__rand_int__"]),
        prefill: Prefill::Nothing,
    },
];

const fn builtin(name: &'static str) -> Workload {
    Workload {
        name,
        invocation: Invocation::Test(name),
        prefill: Prefill::Nothing,
    }
}

/// The workloads named in a `--workloads a,b,c` list, in the table's
/// usual order; an unknown name is an error that lists the known ones.
pub fn select(list: &str) -> Result<Vec<&'static Workload>, String> {
    let wanted: Vec<String> = list
        .split(',')
        .map(|name| name.trim().to_ascii_lowercase())
        .filter(|name| !name.is_empty())
        .collect();
    if let Some(unknown) = wanted
        .iter()
        .find(|name| !ALL.iter().any(|w| w.name == name.as_str()))
    {
        let known: Vec<&str> = ALL.iter().map(|w| w.name).collect();
        return Err(format!(
            "bench: unknown workload '{unknown}' (known: {})",
            known.join(",")
        ));
    }
    if wanted.is_empty() {
        return Err("bench: --workloads needs at least one name".into());
    }
    Ok(ALL
        .iter()
        .filter(|w| wanted.iter().any(|name| name == w.name))
        .collect())
}

impl Workload {
    /// The redis-benchmark arguments that pick this workload; custom
    /// command lines must come last, after every option.
    pub fn arguments(&self) -> Vec<&'static str> {
        match &self.invocation {
            Invocation::Test(name) => vec!["-t", name],
            Invocation::Command(line) => line.to_vec(),
        }
    }

    /// Puts in place what the run of `requests` requests needs.
    pub fn prefill(&self, port: u16, requests: u64) -> Result<(), String> {
        match self.prefill {
            Prefill::Nothing => Ok(()),
            Prefill::ListToPop => {
                let mut client = RespClient::connect(port)?;
                let commands = requests.div_ceil(PUSH_CHUNK);
                let chunk: Vec<String> = ["RPUSH", "mylist"]
                    .into_iter()
                    .map(String::from)
                    .chain((0..PUSH_CHUNK).map(|i| format!("element:{i}")))
                    .collect();
                let mut sent = 0;
                while sent < commands {
                    let batch = PUSH_BATCH.min(commands - sent);
                    for _ in 0..batch {
                        client.queue(&chunk);
                    }
                    client.flush()?;
                    sent += batch;
                }
                Ok(())
            }
            Prefill::SortedSetToRead => {
                let mut client = RespClient::connect(port)?;
                let command: Vec<String> = ["ZADD", "myzset"]
                    .into_iter()
                    .map(String::from)
                    .chain((0..ZSET_MEMBERS).flat_map(|i| [i.to_string(), format!("member:{i}")]))
                    .collect();
                client.call(&command).map(|_| ())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selects_in_table_order_and_rejects_unknown_names() {
        let names =
            |list: &str| select(list).map(|ws| ws.iter().map(|w| w.name).collect::<Vec<_>>());
        assert_eq!(names("xadd,LPUSH, get"), Ok(vec!["get", "lpush", "xadd"]));
        assert!(names("set,nosuch").is_err());
        assert!(names(",").is_err());
    }

    #[test]
    fn custom_command_lines_are_passed_as_arguments() {
        let zrange = ALL
            .iter()
            .find(|w| w.name == "zrange")
            .expect("zrange is listed");
        assert_eq!(
            zrange.arguments(),
            ["ZRANGE", "myzset", "0", "9", "WITHSCORES"]
        );
        let set = ALL.iter().find(|w| w.name == "set").expect("set is listed");
        assert_eq!(set.arguments(), ["-t", "set"]);
    }
}
