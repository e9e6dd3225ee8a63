//! The bytes of a string value: short ones inside the value itself, longer
//! ones in one exact-size heap block, and strings being edited in place
//! (`APPEND`, `SETRANGE`, `SETBIT`) in a growable vector.
//!
//! Why: most string values are short (counters that are not integers,
//! ids, flags). Keeping up to [`INLINE_STR_LEN`] bytes inline saves the
//! heap block (16 bytes or more, plus its pointer chase on `GET`), as
//! Redis's `embstr` puts the bytes in the object's own allocation. The
//! three forms fit in 24 bytes, so a value is no larger than before.
//! Only the edited form pays for a vector header (a second block): it is
//! what lets repeated appends grow geometrically instead of copying the
//! whole string each time.
//!
//! Snapshots: a frozen view shares the value with the live keyspace until
//! one of them changes (see `slots.rs`), and a slot page copied for a
//! write copies the strings on it. Up to [`COPIED_STR_LEN`] bytes that is
//! one small allocation; longer strings are reference-counted blocks
//! (`Arc<[u8]>`, 16 bytes of header: at most 3 % of such a string), so a
//! page copy never copies a large string, and the growable form sits
//! behind a [`Shared`] vector that an edit copies only while a view still
//! holds it.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use super::shared::Shared;

/// Longest string kept inside the value.
pub const INLINE_STR_LEN: usize = 22;
/// Longest heap string copied (rather than shared) with its slot page.
pub const COPIED_STR_LEN: usize = 512;

/// String bytes; dereferences to `[u8]`.
#[derive(Clone)]
pub struct StrBytes(Repr);

#[derive(Clone)]
enum Repr {
    Inline {
        len: u8,
        bytes: [u8; INLINE_STR_LEN],
    },
    /// Up to [`COPIED_STR_LEN`] bytes.
    Boxed(Box<[u8]>),
    /// Longer: shared by clones.
    Counted(Arc<[u8]>),
    /// Behind a pointer: a bare vector would make every string value 8
    /// bytes larger, for the few strings edited in place.
    Growable(Shared<Vec<u8>>),
}

impl StrBytes {
    pub fn as_slice(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Repr::Boxed(bytes) => bytes,
            Repr::Counted(bytes) => bytes,
            Repr::Growable(vec) => vec,
        }
    }

    /// Bytes kept growable from the start (a string Redis reports as
    /// `raw`).
    pub fn growable(data: Vec<u8>) -> Self {
        StrBytes(Repr::Growable(Shared::new(data)))
    }

    /// Whether the bytes are in the growable form: they were edited in
    /// place or built as a raw string.
    pub fn is_growable(&self) -> bool {
        matches!(self.0, Repr::Growable(_))
    }

    /// The bytes as a vector to edit in place (copied first if a frozen
    /// view still shares them); the string stays growable from then on.
    pub fn as_mut_vec(&mut self) -> &mut Vec<u8> {
        if !matches!(self.0, Repr::Growable(_)) {
            let vec = match std::mem::replace(&mut self.0, Repr::Boxed(Box::default())) {
                Repr::Inline { len, bytes } => bytes[..usize::from(len)].to_vec(),
                Repr::Boxed(bytes) => bytes.into_vec(),
                Repr::Counted(bytes) => bytes.to_vec(),
                Repr::Growable(_) => unreachable!("matched as not growable just above"),
            };
            self.0 = Repr::Growable(Shared::new(vec));
        }
        match &mut self.0 {
            Repr::Growable(vec) => Shared::make_mut(vec),
            _ => unreachable!("made growable just above"),
        }
    }
}

impl Default for StrBytes {
    fn default() -> Self {
        StrBytes::from(&[][..])
    }
}

impl From<&[u8]> for StrBytes {
    fn from(data: &[u8]) -> Self {
        if data.len() <= INLINE_STR_LEN {
            let mut bytes = [0u8; INLINE_STR_LEN];
            bytes[..data.len()].copy_from_slice(data);
            StrBytes(Repr::Inline {
                len: data.len() as u8,
                bytes,
            })
        } else if data.len() <= COPIED_STR_LEN {
            StrBytes(Repr::Boxed(data.into()))
        } else {
            StrBytes(Repr::Counted(data.into()))
        }
    }
}

impl From<Vec<u8>> for StrBytes {
    fn from(data: Vec<u8>) -> Self {
        if data.len() <= INLINE_STR_LEN {
            StrBytes::from(data.as_slice())
        } else if data.len() <= COPIED_STR_LEN {
            StrBytes(Repr::Boxed(data.into_boxed_slice()))
        } else {
            StrBytes(Repr::Counted(data.into()))
        }
    }
}

impl Deref for StrBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for StrBytes {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl PartialEq for StrBytes {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl fmt::Debug for StrBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_length_round_trips_and_edits_in_place() {
        assert_eq!(std::mem::size_of::<StrBytes>(), 24);
        for len in [
            0,
            1,
            INLINE_STR_LEN,
            INLINE_STR_LEN + 1,
            COPIED_STR_LEN,
            COPIED_STR_LEN + 1,
            1000,
        ] {
            let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
            assert_eq!(&*StrBytes::from(data.as_slice()), data.as_slice());
            let mut bytes = StrBytes::from(data.clone());
            assert_eq!(&*bytes, data.as_slice());
            bytes.as_mut_vec().extend_from_slice(b"tail");
            bytes.as_mut_vec().push(b'!');
            let mut expected = data.clone();
            expected.extend_from_slice(b"tail!");
            assert_eq!(&*bytes, expected.as_slice());
            assert_eq!(bytes.clone(), StrBytes::from(expected));
        }
    }

    #[test]
    fn long_strings_are_shared_by_clones_and_copied_on_edit() {
        let long = StrBytes::from(vec![b'x'; COPIED_STR_LEN + 1]);
        let clone = long.clone();
        assert!(
            matches!((&long.0, &clone.0), (Repr::Counted(a), Repr::Counted(b)) if Arc::ptr_eq(a, b))
        );
        let mut edited = StrBytes::growable(vec![b'y'; 1000]);
        let frozen = edited.clone();
        edited.as_mut_vec().push(b'!');
        assert_eq!((frozen.len(), edited.len()), (1000, 1001));
        let mut from_long = clone;
        from_long.as_mut_vec().push(b'!');
        assert_eq!(
            (long.len(), from_long.len()),
            (COPIED_STR_LEN + 1, COPIED_STR_LEN + 2)
        );
    }
}
