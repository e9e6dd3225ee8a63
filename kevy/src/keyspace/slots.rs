//! The slot vector of a [`Db`](super::Db): entries addressed by a stable
//! integer index, stored in fixed-size pages that a snapshot can share.
//!
//! Why pages instead of one `Vec`: a vector doubles as it grows, copying
//! every entry into a block twice the size and freeing the old one. For a
//! million keys that is a 40 MB copy, up to half the block unused, and
//! the freed block often stays resident (allocators keep large freed
//! blocks mapped for reuse): measured, 40 bytes of resident memory per
//! key beyond the entries themselves. Pages of [`PAGE_SLOTS`] slots are
//! allocated one at a time and never move, so growth copies nothing and
//! the unused tail is at most one page.
//!
//! Why [`Shared`] pages: they are also the unit of a snapshot's
//! copy-on-write. [`Slots::freeze`] hands out a second handle to every
//! page (a count increment per page, nothing per key), and the first
//! write to a page while a frozen view still holds it copies that page
//! (its entries: keys, expiry times, and values, which are themselves
//! cheap to copy or shared; see `Value`). Lookups by key (`Db::find_slot`)
//! and the frozen view's walk go through [`Index`], which does not ask
//! whether the page is shared; every `&mut` access goes through
//! [`IndexMut`], which does (one load of the page's count). Pages are kept
//! small (8 KB) so such a copy costs microseconds.
//!
//! Why [`PAGE_SLOTS`] is not a power of two: a page is one allocation of
//! `8 + slots * 72` bytes, and the allocator rounds a block up to its size
//! class (classes step by a quarter of a power of two). 128 slots make
//! 9,224 bytes, rounded to 10,240: measured, 8 bytes of resident memory
//! per key for nothing. As many slots as fit in 8 KB (113) waste 48 bytes
//! a page; the index splits by a division by a constant, which compiles to
//! a multiplication.

use std::ops::{Index, IndexMut};

use super::shared::Shared;
use super::Entry;

/// Slots per page: as many as fit, with the page's count, in
/// [`PAGE_BYTES`].
pub const PAGE_SLOTS: usize =
    (PAGE_BYTES - std::mem::size_of::<usize>()) / std::mem::size_of::<Option<Entry>>();
/// The size of one page's allocation: an allocator size class.
const PAGE_BYTES: usize = 8192;

type Page = [Option<Entry>; PAGE_SLOTS];

/// Entries by slot index; `None` marks a free slot.
#[derive(Default)]
pub struct Slots {
    pages: Vec<Shared<Page>>,
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
            self.pages.push(Shared::new(std::array::from_fn(|_| None)));
        }
        let index = self.len;
        self.len += 1;
        self[index] = entry;
    }

    /// Every slot, in index order.
    pub fn iter(&self) -> impl Iterator<Item = &Option<Entry>> {
        pages_iter(&self.pages, self.len)
    }

    /// Pages that a frozen view still shares (tests check copy-on-write).
    #[cfg(test)]
    pub fn shared_pages(&self) -> usize {
        self.pages
            .iter()
            .filter(|page| !Shared::is_unique(page))
            .count()
    }

    /// Pages allocated.
    #[cfg(test)]
    pub fn pages(&self) -> usize {
        self.pages.len()
    }

    /// Slot `index` for writing if no frozen view holds its page; None
    /// (and nothing copied) otherwise.
    #[inline]
    pub fn get_mut_if_unshared(&mut self, index: usize) -> Option<&mut Option<Entry>> {
        assert!(index < self.len, "slot indices stay below len");
        Shared::get_mut(&mut self.pages[index / PAGE_SLOTS])
            .map(|page| &mut page[index % PAGE_SLOTS])
    }

    /// A frozen view of every slot as it is now; later writes to the
    /// live slots copy the pages they touch and leave the view as it was.
    pub fn freeze(&self) -> FrozenSlots {
        FrozenSlots {
            pages: self.pages.clone(),
            len: self.len,
        }
    }
}

fn pages_iter(pages: &[Shared<Page>], len: usize) -> impl Iterator<Item = &Option<Entry>> {
    pages.iter().flat_map(|page| page.iter()).take(len)
}

impl Index<usize> for Slots {
    type Output = Option<Entry>;

    #[inline]
    fn index(&self, index: usize) -> &Option<Entry> {
        assert!(index < self.len, "slot indices stay below len");
        &self.pages[index / PAGE_SLOTS][index % PAGE_SLOTS]
    }
}

impl IndexMut<usize> for Slots {
    /// Copies the page first if a frozen view still holds it.
    #[inline]
    fn index_mut(&mut self, index: usize) -> &mut Option<Entry> {
        assert!(index < self.len, "slot indices stay below len");
        &mut Shared::make_mut(&mut self.pages[index / PAGE_SLOTS])[index % PAGE_SLOTS]
    }
}

/// The slots of a database as they were when frozen: read-only, `Send`,
/// independent of later changes to the live database. Dropping it
/// releases the pages the live side has copied away from.
pub struct FrozenSlots {
    pages: Vec<Shared<Page>>,
    len: usize,
}

impl FrozenSlots {
    /// Every slot, in index order.
    pub fn iter(&self) -> impl Iterator<Item = &Option<Entry>> {
        pages_iter(&self.pages, self.len)
    }
}
