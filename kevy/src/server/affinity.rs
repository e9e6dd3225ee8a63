//! `pin-cores yes`: each shard thread is bound to one core (shard i to the
//! i-th core the process may run on, wrapping around), so a shard keeps its
//! caches warm and two shards never share a core while others idle.

/// Binds the calling thread to the `shard`-th allowed core; logs and goes
/// on unpinned when the system refuses.
pub fn pin_to_core(shard: usize) {
    // SAFETY: cpu_set_t is plain data; a zeroed set is the empty set, and
    // sched_getaffinity/sched_setaffinity only read or write the set given.
    unsafe {
        let mut allowed: libc::cpu_set_t = std::mem::zeroed();
        let size = std::mem::size_of::<libc::cpu_set_t>();
        if libc::sched_getaffinity(0, size, &mut allowed) != 0 {
            log::warn!(
                "Could not read the CPU affinity: {}",
                std::io::Error::last_os_error()
            );
            return;
        }
        let cores: Vec<usize> = (0..libc::CPU_SETSIZE as usize)
            .filter(|&cpu| libc::CPU_ISSET(cpu, &allowed))
            .collect();
        if cores.is_empty() {
            return;
        }
        let core = cores[shard % cores.len()];
        let mut only: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(core, &mut only);
        if libc::sched_setaffinity(0, size, &only) != 0 {
            log::warn!(
                "Could not pin shard {shard} to core {core}: {}",
                std::io::Error::last_os_error()
            );
        } else {
            log::debug!("Shard {shard} pinned to core {core}");
        }
    }
}

/// The cores the calling thread may run on.
#[cfg(test)]
fn allowed_cores() -> Vec<usize> {
    // SAFETY: as above.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        let size = std::mem::size_of::<libc::cpu_set_t>();
        if libc::sched_getaffinity(0, size, &mut set) != 0 {
            return Vec::new();
        }
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&cpu| libc::CPU_ISSET(cpu, &set))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pinned_thread_runs_on_one_allowed_core() {
        let before = allowed_cores();
        let after = std::thread::spawn(|| {
            pin_to_core(1);
            allowed_cores()
        })
        .join()
        .unwrap();
        assert_eq!(after.len(), 1);
        assert_eq!(after[0], before[1 % before.len()]);
    }
}
