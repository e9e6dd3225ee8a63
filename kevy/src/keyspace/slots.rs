//! The slot vector of a [`Db`](super::Db): entries addressed by a stable
//! integer index, stored in fixed-size pages.
//!
//! Why pages instead of one `Vec`: a vector doubles as it grows, copying
//! every entry into a block twice the size and freeing the old one. For a
//! million keys that is a 40 MB copy, up to half the block unused, and
//! the freed block often stays resident (allocators keep large freed
//! blocks mapped for reuse): measured, 40 bytes of resident memory per
//! key beyond the entries themselves. Pages of [`PAGE_SLOTS`] slots are
//! allocated one at a time and never move, so growth copies nothing and
//! the unused tail is at most one page.

use std::ops::{Index, IndexMut};

use super::Entry;

/// Slots per page (a power of two: index to page is a shift).
pub const PAGE_SLOTS: usize = 1 << PAGE_SHIFT;
const PAGE_SHIFT: u32 = 9;

/// Entries by slot index; `None` marks a free slot.
#[derive(Default)]
pub struct Slots {
    pages: Vec<Box<[Option<Entry>]>>,
    len: usize,
}

impl Slots {
    /// Slot indices handed out so far (occupied or free).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Adds a slot holding `entry` at index `len()`.
    pub fn push(&mut self, entry: Option<Entry>) {
        if self.len == self.pages.len() * PAGE_SLOTS {
            // Room for the page pointers grows by doubling (8 bytes per
            // page of entries: negligible).
            self.pages
                .push((0..PAGE_SLOTS).map(|_| None).collect::<Box<[_]>>());
        }
        let index = self.len;
        self.len += 1;
        self[index] = entry;
    }

    /// Every slot, in index order.
    pub fn iter(&self) -> impl Iterator<Item = &Option<Entry>> {
        self.pages
            .iter()
            .flat_map(|page| page.iter())
            .take(self.len)
    }
}

impl Index<usize> for Slots {
    type Output = Option<Entry>;

    fn index(&self, index: usize) -> &Option<Entry> {
        assert!(index < self.len, "slot indices stay below len");
        &self.pages[index >> PAGE_SHIFT][index & (PAGE_SLOTS - 1)]
    }
}

impl IndexMut<usize> for Slots {
    fn index_mut(&mut self, index: usize) -> &mut Option<Entry> {
        assert!(index < self.len, "slot indices stay below len");
        &mut self.pages[index >> PAGE_SHIFT][index & (PAGE_SLOTS - 1)]
    }
}
