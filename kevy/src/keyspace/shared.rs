//! [`Shared`]: a reference-counted box that copies its contents on the
//! first write while another holder still reads them. It is what lets a
//! snapshot freeze a shard in O(pages) instead of copying every value:
//! the frozen view and the live keyspace hold the same slot pages, large
//! collections and long strings, and whichever side writes first while
//! both hold one gets its own copy (of that piece only).
//!
//! Why not `std::sync::Arc`: every mutable access to a keyspace page or a
//! large collection asks "am I the only holder?". `Arc::make_mut` and
//! `Arc::get_mut` answer with an atomic read-modify-write (a locked
//! instruction) each time, and keep a weak count too (16 bytes of header
//! instead of 8). `Shared` has no weak handles, so the answer is one
//! acquire load of the count: with `&mut self` in hand and a count of 1,
//! no other handle exists that could be cloned concurrently. This is the
//! scheme of the `triomphe` crate, kept here as the one unsafe piece of
//! the keyspace. Its own operations are associated functions
//! (`Shared::make_mut(&mut x)`, as `Arc`'s are), so they never hide a
//! method of the contents.
//!
//! `Deref` is free; `DerefMut` is [`Shared::make_mut`], so code written
//! against `&mut T` keeps compiling through auto-deref and pays the copy
//! only when a frozen view still holds the same contents.

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::atomic::{fence, AtomicUsize, Ordering};

/// Past this many handles the count could overflow; `Arc` aborts there
/// too (a leak of 2^63 handles cannot happen in a program that runs).
const MAX_COUNT: usize = isize::MAX as usize;

struct Inner<T> {
    count: AtomicUsize,
    value: T,
}

/// A shared, copy-on-write box: clone is a count increment, the first
/// mutable access while the contents are shared copies them.
pub struct Shared<T> {
    ptr: NonNull<Inner<T>>,
    /// Owns an `Inner<T>` for drop check and auto traits.
    _owns: PhantomData<Inner<T>>,
}

// SAFETY: as for `Arc<T>`: the count is atomic, the contents are reached
// through `&T` from any thread holding a handle (so `T: Sync`) and dropped
// by whichever thread holds the last handle (so `T: Send`); `&mut T` is
// only handed out while the count is 1.
unsafe impl<T: Send + Sync> Send for Shared<T> {}
// SAFETY: see `Send` above.
unsafe impl<T: Send + Sync> Sync for Shared<T> {}

impl<T> Shared<T> {
    pub fn new(value: T) -> Self {
        let inner = Box::new(Inner {
            count: AtomicUsize::new(1),
            value,
        });
        Shared {
            ptr: NonNull::from(Box::leak(inner)),
            _owns: PhantomData,
        }
    }

    fn inner(&self) -> &Inner<T> {
        // SAFETY: the pointer came from `Box::leak` and stays valid while
        // any handle (this one included) exists.
        unsafe { self.ptr.as_ref() }
    }

    /// Handles to these contents (1: this one alone).
    pub fn ref_count(this: &Self) -> usize {
        this.inner().count.load(Ordering::Acquire)
    }

    /// Whether this is the only handle. The acquire load pairs with the
    /// release decrement of a handle dropped on another thread, so that
    /// thread's reads happen before our writes.
    #[inline]
    pub fn is_unique(this: &Self) -> bool {
        this.inner().count.load(Ordering::Acquire) == 1
    }

    /// The contents for writing, if no other handle shares them.
    #[inline]
    pub fn get_mut(this: &mut Self) -> Option<&mut T> {
        if Shared::is_unique(this) {
            // SAFETY: count 1 and `&mut this`: no other handle exists, and
            // none can be made without borrowing this one.
            Some(unsafe { &mut (*this.ptr.as_ptr()).value })
        } else {
            None
        }
    }

    /// Whether both handles share the same contents.
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        a.ptr == b.ptr
    }
}

impl<T: Clone> Shared<T> {
    /// The contents for writing, copied first if another handle shares
    /// them (this handle then owns the copy, the others keep the old
    /// contents).
    #[inline]
    pub fn make_mut(this: &mut Self) -> &mut T {
        if !Shared::is_unique(this) {
            Shared::unshare(this);
        }
        // SAFETY: unique now (checked above or freshly made); see `get_mut`.
        unsafe { &mut (*this.ptr.as_ptr()).value }
    }

    #[cold]
    #[inline(never)]
    fn unshare(this: &mut Self) {
        *this = Shared::new(T::clone(this));
    }
}

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        // Relaxed as in `Arc::clone`: a new handle is made from an existing
        // one, which already keeps the contents alive.
        let old = self.inner().count.fetch_add(1, Ordering::Relaxed);
        if old > MAX_COUNT {
            std::process::abort();
        }
        Shared {
            ptr: self.ptr,
            _owns: PhantomData,
        }
    }
}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        if self.inner().count.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        // Every other handle's use happens before the free (as `Arc`).
        fence(Ordering::Acquire);
        // SAFETY: the last handle: nobody else can reach the contents.
        drop(unsafe { Box::from_raw(self.ptr.as_ptr()) });
    }
}

impl<T> Deref for Shared<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.inner().value
    }
}

impl<T: Clone> DerefMut for Shared<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        Shared::make_mut(self)
    }
}

impl<T: Default> Default for Shared<T> {
    fn default() -> Self {
        Shared::new(T::default())
    }
}

impl<T: PartialEq> PartialEq for Shared<T> {
    fn eq(&self, other: &Self) -> bool {
        Shared::ptr_eq(self, other) || **self == **other
    }
}

impl<T: fmt::Debug> fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        T::fmt(self, f)
    }
}

impl<'a, T> IntoIterator for &'a Shared<T>
where
    &'a T: IntoIterator,
{
    type Item = <&'a T as IntoIterator>::Item;
    type IntoIter = <&'a T as IntoIterator>::IntoIter;

    fn into_iter(self) -> Self::IntoIter {
        (**self).into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    /// Counts its live instances, to see that copies are freed.
    struct Tracked(Arc<AtomicUsize>, u32);

    impl Tracked {
        fn new(live: &Arc<AtomicUsize>, n: u32) -> Self {
            live.fetch_add(1, Ordering::SeqCst);
            Tracked(live.clone(), n)
        }
    }

    impl Clone for Tracked {
        fn clone(&self) -> Self {
            Tracked::new(&self.0, self.1)
        }
    }

    impl Drop for Tracked {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn writes_copy_only_while_shared_and_every_copy_is_freed() {
        let live = Arc::new(AtomicUsize::new(0));
        let mut a = Shared::new(Tracked::new(&live, 1));
        Shared::make_mut(&mut a).1 = 2;
        assert_eq!(live.load(Ordering::SeqCst), 1, "unique: written in place");
        let frozen = a.clone();
        assert_eq!(Shared::ref_count(&a), 2);
        assert!(Shared::ptr_eq(&a, &frozen));
        Shared::make_mut(&mut a).1 = 3;
        assert_eq!(live.load(Ordering::SeqCst), 2, "shared: copied once");
        assert_eq!((frozen.1, a.1), (2, 3));
        assert!(Shared::is_unique(&a) && Shared::is_unique(&frozen));
        Shared::make_mut(&mut a).1 = 4;
        assert_eq!(live.load(Ordering::SeqCst), 2, "the copy is unique");
        drop(frozen);
        assert_eq!(live.load(Ordering::SeqCst), 1);
        drop(a);
        assert_eq!(live.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn handles_dropped_on_other_threads_free_once() {
        let live = Arc::new(AtomicUsize::new(0));
        let mut shared = Shared::new(Tracked::new(&live, 0));
        let handles: Vec<_> = (0..8).map(|_| shared.clone()).collect();
        let threads: Vec<_> = handles
            .into_iter()
            .map(|h| std::thread::spawn(move || h.1))
            .collect();
        for thread in threads {
            assert_eq!(thread.join().expect("the reader thread ends"), 0);
        }
        assert!(Shared::get_mut(&mut shared).is_some());
        assert_eq!(live.load(Ordering::SeqCst), 1);
        drop(shared);
        assert_eq!(live.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn deref_mut_is_copy_on_write() {
        let mut list = Shared::new(vec![1, 2, 3]);
        let view = list.clone();
        list.push(4);
        assert_eq!(*view, [1, 2, 3]);
        assert_eq!(*list, [1, 2, 3, 4]);
        assert_eq!((&list).into_iter().sum::<i32>(), 10);
        assert_eq!(std::mem::size_of::<Shared<Vec<u8>>>(), 8);
    }
}
