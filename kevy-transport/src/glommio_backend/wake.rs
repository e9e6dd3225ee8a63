//! Wake-ups of the glommio shard loop: from other threads (the shard's
//! [`Waker`], a doorbell) and from its own sockets (per-token wakers that
//! record which listener or connection became ready).
//!
//! Data flow: another shard pushes messages into this shard's inbox and
//! calls [`Doorbell::wake`]; the doorbell records that the inbox may hold
//! work and, only when the loop is parked, wakes the loop's glommio task
//! (glommio queues a foreign wake and rings the executor's eventfd). Socket
//! readiness arrives through [`TokenWaker`]s: glommio wakes the waker
//! registered with a socket's poll, which appends its token to the
//! [`ReadyQueue`] and schedules the loop's task, so the loop visits only the
//! sockets that became ready.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Wake, Waker as TaskWaker};

use crate::Waker;

/// Locks `mutex`, taking the data even if a panicking thread poisoned it:
/// every value guarded here (token lists, wakers) stays valid whatever
/// point a panic interrupted.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The cross-thread waker of one glommio shard loop.
///
/// Two flags make the common case cheap: `pending` says "run the inbox
/// again before sleeping", `parked` says the loop sleeps and needs its task
/// woken. The loop sets `parked` and then reads `pending`; a waker sets
/// `pending` and then swaps `parked`. With sequentially consistent
/// operations at least one side sees the other's write, so a wake racing
/// with parking is never lost (at worst the loop runs one extra iteration).
pub struct Doorbell {
    pending: AtomicBool,
    parked: AtomicBool,
    /// The loop's glommio task while it runs; `None` before and after.
    task: Mutex<Option<TaskWaker>>,
}

impl Doorbell {
    pub(super) fn new() -> Self {
        Doorbell {
            pending: AtomicBool::new(false),
            parked: AtomicBool::new(false),
            task: Mutex::new(None),
        }
    }

    /// Registers the task to wake (called from the loop on every poll; the
    /// lock is taken only when the waker changed).
    pub(super) fn set_task(&self, waker: &TaskWaker) {
        let mut task = lock(&self.task);
        match task.as_ref() {
            Some(current) if current.will_wake(waker) => {}
            _ => *task = Some(waker.clone()),
        }
    }

    /// Forgets the task: called on the shard thread before the executor
    /// goes away, so no other thread holds a waker of a finished task.
    pub(super) fn clear_task(&self) {
        lock(&self.task).take();
        self.parked.store(false, Ordering::SeqCst);
    }

    /// Start of an iteration: the inbox is about to be drained.
    pub(super) fn take_pending(&self) -> bool {
        self.pending.swap(false, Ordering::SeqCst)
    }

    /// About to sleep: returns false when a wake arrived meanwhile (the loop
    /// must then run another iteration instead of sleeping).
    pub(super) fn park(&self) -> bool {
        self.parked.store(true, Ordering::SeqCst);
        if self.pending.load(Ordering::SeqCst) {
            self.parked.store(false, Ordering::SeqCst);
            return false;
        }
        true
    }

    /// Woke up (from any cause).
    pub(super) fn unpark(&self) {
        self.parked.store(false, Ordering::SeqCst);
    }
}

impl Waker for Doorbell {
    fn wake(&self) {
        self.pending.store(true, Ordering::SeqCst);
        if self.parked.swap(false, Ordering::SeqCst) {
            if let Some(task) = lock(&self.task).as_ref() {
                task.wake_by_ref();
            }
        }
    }
}

/// Tokens of the listeners and connections whose sockets became ready since
/// the loop last looked, plus the loop's task to schedule when one does.
/// Only the shard thread touches it (glommio completes I/O on the thread of
/// its executor); the mutex is there because `std::task::Waker` must be
/// `Send + Sync`, and is never contended.
pub(super) struct ReadyQueue {
    state: Mutex<ReadyState>,
}

struct ReadyState {
    tokens: Vec<usize>,
    task: Option<TaskWaker>,
}

impl ReadyQueue {
    pub(super) fn new() -> Arc<Self> {
        Arc::new(ReadyQueue {
            state: Mutex::new(ReadyState {
                tokens: Vec::new(),
                task: None,
            }),
        })
    }

    /// Registers the loop's task (one waker clone for all sockets: glommio
    /// counts a task's wakers in an `i16`, so one clone per connection
    /// would overflow with tens of thousands of connections).
    pub(super) fn set_task(&self, waker: &TaskWaker) {
        let mut state = lock(&self.state);
        match state.task.as_ref() {
            Some(current) if current.will_wake(waker) => {}
            _ => state.task = Some(waker.clone()),
        }
    }

    pub(super) fn clear_task(&self) {
        lock(&self.state).task.take();
    }

    /// Moves the ready tokens into `out` (which is expected empty).
    pub(super) fn take(&self, out: &mut Vec<usize>) {
        let mut state = lock(&self.state);
        std::mem::swap(&mut state.tokens, out);
    }

    pub(super) fn is_empty(&self) -> bool {
        lock(&self.state).tokens.is_empty()
    }

    /// A waker that reports `token` as ready.
    pub(super) fn waker(self: &Arc<Self>, token: usize) -> TaskWaker {
        TaskWaker::from(Arc::new(TokenWaker {
            token,
            queue: self.clone(),
        }))
    }
}

/// The waker given to glommio for one socket.
struct TokenWaker {
    token: usize,
    queue: Arc<ReadyQueue>,
}

impl Wake for TokenWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let mut state = lock(&self.queue.state);
        state.tokens.push(self.token);
        if let Some(task) = state.task.as_ref() {
            task.wake_by_ref();
        }
    }
}
