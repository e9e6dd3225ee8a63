//! The stream value type (its data structure is being built).

/// A stream value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StreamValue {}

impl StreamValue {
    /// The encoding `OBJECT ENCODING` reports.
    pub fn encoding(&self) -> &'static str {
        "stream"
    }
}
