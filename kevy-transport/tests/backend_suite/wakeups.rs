//! Cross-thread wake-ups on a backend: a sleeping loop with a very long
//! tick runs `on_inbox` only because another thread called its waker, and
//! no wake is lost when it races with the loop going to sleep.
//!
//! The inbox is [`LoopStats::mailbox`]: a poster adds to it, then wakes the
//! loop; `on_inbox` moves it to `delivered`. The handler lets the loop
//! sleep without looking at the mailbox, so a lost wake leaves a message
//! undelivered and the test times out.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use kevy_transport::ShardLoop;

use super::harness::{start, wait_until, RunningLoop};
use super::line_handler::{HandlerConfig, LoopStats};

/// A loop whose tick is so long that only a wake can end its sleep.
fn start_sleepy<L: ShardLoop>() -> RunningLoop {
    let config = HandlerConfig::default();
    assert!(config.tick_interval >= Duration::from_secs(3600));
    start::<L>(config)
}

fn post(stats: &LoopStats) {
    stats.mailbox.fetch_add(1, Ordering::SeqCst);
}

/// Each message posted while the loop sleeps is delivered because of the
/// wake alone: no tick runs, no socket is involved.
pub fn wakes_a_sleeping_loop<L: ShardLoop>() {
    const ROUNDS: u64 = 50;
    let running = start_sleepy::<L>();
    for round in 1..=ROUNDS {
        running.wait_until_asleep();
        let inbox_calls = running.stats.inbox_calls.load(Ordering::SeqCst);
        post(&running.stats);
        running.waker.wake();
        wait_until("the posted message is delivered", || {
            running.stats.delivered.load(Ordering::SeqCst) == round
        });
        assert!(running.stats.inbox_calls.load(Ordering::SeqCst) > inbox_calls);
    }
    assert_eq!(running.stats.ticks.load(Ordering::SeqCst), 0);
    running.stop();
}

/// Many threads post and wake as fast as they can while the loop keeps
/// going to sleep and waking up: every message is delivered. Each poster
/// also waits, now and then, for its messages to arrive, so wakes land in
/// every phase of the loop (running, preparing to park, parked).
pub fn wakes_racing_with_parking_are_not_lost<L: ShardLoop>() {
    const POSTERS: u64 = 4;
    const MESSAGES: u64 = 5_000;
    let running = start_sleepy::<L>();
    let posted = Arc::new(std::sync::atomic::AtomicU64::new(0));
    std::thread::scope(|scope| {
        for poster in 0..POSTERS {
            let stats = &running.stats;
            let waker = &running.waker;
            let posted = &posted;
            scope.spawn(move || {
                for message in 0..MESSAGES {
                    post(stats);
                    let total = posted.fetch_add(1, Ordering::SeqCst) + 1;
                    waker.wake();
                    // Alternate between waiting for delivery (the loop then
                    // parks again right after) and posting in bursts.
                    if (message + poster) % 3 == 0 {
                        wait_until("a posted message is delivered", || {
                            stats.delivered.load(Ordering::SeqCst) >= total
                                || stats.mailbox.load(Ordering::SeqCst) == 0
                        });
                    }
                }
            });
        }
    });
    wait_until("every posted message is delivered", || {
        running.stats.delivered.load(Ordering::SeqCst) == POSTERS * MESSAGES
    });
    assert_eq!(running.stats.ticks.load(Ordering::SeqCst), 0);
    running.stop();
}

/// A deadline the handler asks for wakes the sleeping loop for one tick,
/// though the regular tick is an hour away; then the loop sleeps again.
pub fn wakes_for_the_handlers_deadline<L: ShardLoop>() {
    let config = HandlerConfig {
        deadline_after: Some(Duration::from_millis(50)),
        ..HandlerConfig::default()
    };
    let running = start::<L>(config);
    wait_until("the early tick runs", || {
        running.stats.ticks.load(Ordering::SeqCst) == 1
    });
    running.wait_until_asleep();
    assert_eq!(running.stats.ticks.load(Ordering::SeqCst), 1);
    running.stop();
}
