//! The set value type (its data structure is being built).

/// A set value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SetValue {}

impl SetValue {
    /// The encoding `OBJECT ENCODING` reports.
    pub fn encoding(&self) -> &'static str {
        "intset"
    }
}
