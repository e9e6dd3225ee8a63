//! The hash value type (its data structure is being built).

/// A hash value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HashValue {}

impl HashValue {
    /// The encoding `OBJECT ENCODING` reports.
    pub fn encoding(&self) -> &'static str {
        "listpack"
    }
}
