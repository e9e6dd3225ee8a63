//! Counting the bytes the process has allocated, for `INFO memory`'s
//! `used_memory` (what Redis's `zmalloc_used_memory` reports).
//!
//! [`CountingAlloc`] wraps the real global allocator (the binary installs
//! it around mimalloc). Every allocation, reallocation and free adds its
//! size change to a counter owned by the calling thread: one of
//! [`COUNTER_SLOTS`] cache-line-sized slots, handed out once per thread.
//! Only the owning thread writes its slot (a relaxed load and store, no
//! read-modify-write, no shared cache line), so the hot path stays as
//! cheap as an unshared add. [`allocated_bytes`] sums every slot when
//! `INFO` asks. Memory freed by another thread than the one that allocated
//! it (hop buffers between shards) makes one slot go down and another up;
//! only the sum means anything. Threads past the slot count share one
//! overflow slot through atomic adds, which stays correct, just slower.
//! Sizes counted are the sizes asked for, not the allocator's size
//! classes.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};

/// Threads with a slot of their own; kevy runs one thread per shard plus
/// a few service threads.
pub const COUNTER_SLOTS: usize = 128;
/// Marks a thread that has no slot yet.
const NO_SLOT: usize = usize::MAX;

/// One thread's net allocated bytes, alone on its cache line so that
/// threads never write the same line.
#[repr(align(64))]
struct Slot(AtomicI64);

static SLOTS: [Slot; COUNTER_SLOTS] = [const { Slot(AtomicI64::new(0)) }; COUNTER_SLOTS];
/// Shared by threads that came after every slot was taken.
static OVERFLOW: Slot = Slot(AtomicI64::new(0));
static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);
/// Set once the counting allocator has served an allocation.
static INSTALLED: AtomicBool = AtomicBool::new(false);

thread_local! {
    // A const-initialised Cell without a destructor: reading it never
    // allocates (this runs inside the allocator) and still works while the
    // thread is being torn down.
    static MY_SLOT: Cell<usize> = const { Cell::new(NO_SLOT) };
}

/// Adds `delta` bytes to the calling thread's counter.
#[inline]
fn count(delta: i64) {
    let slot = MY_SLOT.try_with(|cell| {
        let mut slot = cell.get();
        if slot == NO_SLOT {
            slot = NEXT_SLOT.fetch_add(1, Ordering::Relaxed);
            cell.set(slot);
        }
        slot
    });
    match slot.ok().and_then(|i| SLOTS.get(i)) {
        Some(Slot(counter)) => {
            // Only this thread writes this slot: no read-modify-write.
            let now = counter.load(Ordering::Relaxed);
            counter.store(now.wrapping_add(delta), Ordering::Relaxed);
        }
        None => {
            OVERFLOW.0.fetch_add(delta, Ordering::Relaxed);
        }
    }
}

/// Bytes allocated through [`CountingAlloc`] and not yet freed; None when
/// it is not the global allocator (library tests).
pub fn allocated_bytes() -> Option<u64> {
    if !INSTALLED.load(Ordering::Relaxed) {
        return None;
    }
    let taken = NEXT_SLOT.load(Ordering::Relaxed).min(COUNTER_SLOTS);
    let sum: i64 = SLOTS[..taken]
        .iter()
        .map(|slot| slot.0.load(Ordering::Relaxed))
        .fold(OVERFLOW.0.load(Ordering::Relaxed), i64::wrapping_add);
    Some(sum.max(0) as u64)
}

/// Turns transparent huge pages off for this process, as `redis-server`
/// does by default (`disable-thp yes`). With them on, the allocator's
/// regions are backed by 2 MB pages as soon as one byte is touched
/// (measured: 30 MB of resident memory beyond the bytes allocated for a
/// million small keys, none of it used). Returns whether it took effect.
pub fn disable_transparent_huge_pages() -> bool {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: PR_SET_THP_DISABLE takes plain integers and only sets a
        // flag on this process.
        unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0 }
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

/// A global allocator that counts the bytes it hands out, around `A`.
pub struct CountingAlloc<A>(pub A);

// SAFETY: every call is forwarded unchanged to `A`, itself a GlobalAlloc;
// counting touches no memory the caller sees.
unsafe impl<A: GlobalAlloc> GlobalAlloc for CountingAlloc<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let ptr = unsafe { self.0.alloc(layout) };
        if !ptr.is_null() {
            count(layout.size() as i64);
            if !INSTALLED.load(Ordering::Relaxed) {
                INSTALLED.store(true, Ordering::Relaxed);
            }
        }
        ptr
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let ptr = unsafe { self.0.alloc_zeroed(layout) };
        if !ptr.is_null() {
            count(layout.size() as i64);
        }
        ptr
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { self.0.dealloc(ptr, layout) };
        count(-(layout.size() as i64));
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let grown = unsafe { self.0.realloc(ptr, layout, new_size) };
        if !grown.is_null() {
            count(new_size as i64 - layout.size() as i64);
        }
        grown
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::System;

    #[test]
    fn counts_what_is_live_across_threads() {
        let counting = CountingAlloc(System);
        let layout = Layout::from_size_align(1000, 8).expect("valid layout");
        let before = allocated_bytes().unwrap_or(0) as i64;
        // SAFETY: the layout is non-zero; every block is freed below with
        // the layout (or size) it was given.
        unsafe {
            let a = counting.alloc(layout);
            assert!(!a.is_null());
            let grown = counting.realloc(a, layout, 3000);
            assert!(!grown.is_null());
            let sum = allocated_bytes().expect("installed by the first alloc") as i64;
            assert!(sum - before >= 3000 - 64, "counted {}", sum - before);
            // Freed by another thread: that thread's slot goes negative.
            let address = grown as usize;
            std::thread::spawn(move || {
                let big = Layout::from_size_align(3000, 8).expect("valid layout");
                CountingAlloc(System).dealloc(address as *mut u8, big);
            })
            .join()
            .expect("the freeing thread does not panic");
        }
        let after = allocated_bytes().expect("installed") as i64;
        // Other tests allocate through the system allocator, not this
        // wrapper, so only this test's blocks move the sum.
        assert!((after - before).abs() < 64, "{before} -> {after}");
    }
}
