//! [`CowBytes`]: a byte vector that is copied with its owner while small
//! and shared (copy on write) once large — the buffer of a list chunk and
//! of the packed encodings of small hashes, sets and sorted sets.
//!
//! Why two forms: a frozen view of the keyspace copies a slot page when
//! the live side first writes to it, and with it every value on the page.
//! A small buffer is cheapest copied (one allocation of a few hundred
//! bytes); a large one must not be copied for a neighbour's sake, so
//! above [`SHARE_ABOVE`] bytes of capacity it moves behind a [`Shared`]
//! (a 32-byte block: at most 6 % of the smallest buffer that pays it, and
//! nothing for the small values most keys hold). Then a clone is a count
//! increment and the first write while shared copies this buffer only.
//!
//! Reads go through `Deref<Target = Vec<u8>>`; writes through `DerefMut`,
//! which copies a shared buffer first. The form follows the size when the
//! owner calls [`CowBytes::settle`] after a change (a buffer that grew in
//! one step stays owned until then, and is copied whole if cloned before).

use std::fmt;
use std::ops::{Deref, DerefMut};

use super::shared::Shared;

/// Buffers with more capacity than this are shared rather than copied.
pub const SHARE_ABOVE: usize = 512;

#[derive(Clone)]
pub enum CowBytes {
    Owned(Vec<u8>),
    Shared(Shared<Vec<u8>>),
}

impl CowBytes {
    /// Puts the buffer in the form its size calls for: shared when large,
    /// owned again when a unique buffer has shrunk well below the line
    /// (half of it, so a buffer near the line does not flip back and forth).
    #[inline]
    pub fn settle(&mut self) {
        match self {
            CowBytes::Owned(vec) if vec.capacity() > SHARE_ABOVE => {
                *self = CowBytes::Shared(Shared::new(std::mem::take(vec)));
            }
            CowBytes::Shared(shared) if shared.capacity() <= SHARE_ABOVE / 2 => {
                if let Some(vec) = Shared::get_mut(shared) {
                    *self = CowBytes::Owned(std::mem::take(vec));
                }
            }
            _ => {}
        }
    }

    /// Whether the buffer is in its shared form (tests check the forms).
    #[cfg(test)]
    pub fn is_shared(&self) -> bool {
        matches!(self, CowBytes::Shared(_))
    }

    /// Whether another handle (a frozen view's) holds this very buffer.
    #[cfg(test)]
    pub fn held_elsewhere(&self) -> bool {
        matches!(self, CowBytes::Shared(shared) if !Shared::is_unique(shared))
    }
}

impl Default for CowBytes {
    fn default() -> Self {
        CowBytes::Owned(Vec::new())
    }
}

impl PartialEq for CowBytes {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl fmt::Debug for CowBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Vec::fmt(self, f)
    }
}

impl From<Vec<u8>> for CowBytes {
    fn from(vec: Vec<u8>) -> Self {
        let mut bytes = CowBytes::Owned(vec);
        bytes.settle();
        bytes
    }
}

impl Deref for CowBytes {
    type Target = Vec<u8>;

    #[inline]
    fn deref(&self) -> &Vec<u8> {
        match self {
            CowBytes::Owned(vec) => vec,
            CowBytes::Shared(shared) => shared,
        }
    }
}

impl DerefMut for CowBytes {
    #[inline]
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        match self {
            CowBytes::Owned(vec) => vec,
            CowBytes::Shared(shared) => Shared::make_mut(shared),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_buffers_copy_and_large_ones_share() {
        assert_eq!(std::mem::size_of::<CowBytes>(), 24);
        let small = CowBytes::from(vec![1u8; 10]);
        assert!(!small.is_shared());
        let mut large = CowBytes::from(vec![2u8; SHARE_ABOVE + 1]);
        assert!(large.is_shared());
        let frozen = large.clone();
        large.push(3);
        assert_eq!(frozen.len(), SHARE_ABOVE + 1);
        assert_eq!(large.len(), SHARE_ABOVE + 2);
        large.truncate(1);
        large.shrink_to_fit();
        large.settle();
        assert!(!large.is_shared(), "unique and small again: owned");
        let mut grown = CowBytes::default();
        grown.extend_from_slice(&[0; 1000]);
        grown.settle();
        assert!(grown.is_shared());
    }
}
