//! The zset value type (its data structure is being built).

/// A zset value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ZSetValue {}

impl ZSetValue {
    /// The encoding `OBJECT ENCODING` reports.
    pub fn encoding(&self) -> &'static str {
        "listpack"
    }
}
