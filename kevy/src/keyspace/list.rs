//! The list value type (its data structure is being built).

/// A list value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ListValue {}

impl ListValue {
    /// The encoding `OBJECT ENCODING` reports.
    pub fn encoding(&self) -> &'static str {
        "listpack"
    }
}
