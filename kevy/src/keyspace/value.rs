//! The values a key can hold. Strings keep the encoding Redis would report
//! (`int`, `embstr`, `raw`), because clients and tests read it through
//! `OBJECT ENCODING`; other types join as they are implemented. String
//! bytes are a [`StrBytes`]: short ones live inside the value.

pub use super::str_bytes::{StrBytes, INLINE_STR_LEN};

/// Redis's `OBJ_ENCODING_EMBSTR_SIZE_LIMIT`.
pub const EMBSTR_MAX_LEN: usize = 44;
/// Integers in `0..SHARED_INTEGERS` are shared objects in Redis, which
/// `OBJECT REFCOUNT` reports as `i32::MAX`.
pub const SHARED_INTEGERS: i64 = 10_000;

#[derive(Clone, Debug, PartialEq)]
pub enum RString {
    /// A string that is the canonical decimal form of an `i64`.
    Int(i64),
    /// Bytes. Redis reports `raw` for one longer than
    /// [`EMBSTR_MAX_LEN`], and for a short one that was edited in place or
    /// built raw (APPEND, SETRANGE, SETBIT and the like): those are the
    /// bytes in their growable form, so no flag is needed beside them (the
    /// whole string is then 24 bytes).
    Bytes { data: StrBytes },
}

impl RString {
    /// A string set by a client (`SET`, `MSET`, ...): integer-looking values
    /// become `Int`, as Redis's `tryObjectEncoding` does.
    pub fn from_client(data: &[u8]) -> Self {
        if data.len() <= 20 {
            if let Some(n) = crate::resp::num::parse_i64(data) {
                return RString::Int(n);
            }
        }
        RString::Bytes { data: data.into() }
    }

    /// A string that Redis builds without trying the integer encoding.
    pub fn plain(data: Vec<u8>) -> Self {
        RString::Bytes { data: data.into() }
    }

    /// A string Redis would report as `raw` whatever its length (built by
    /// `SETRANGE`, `SETBIT`, `BITOP` and the like).
    pub fn raw(data: Vec<u8>) -> Self {
        let data = if data.len() > EMBSTR_MAX_LEN {
            // Raw by its length alone: one exact block is enough.
            StrBytes::from(data)
        } else {
            StrBytes::growable(data)
        };
        RString::Bytes { data }
    }

    pub fn len(&self) -> usize {
        match self {
            RString::Int(n) => decimal_len(*n),
            RString::Bytes { data, .. } => data.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes; integers are rendered into `scratch`.
    pub fn as_bytes<'a>(&'a self, scratch: &'a mut Vec<u8>) -> &'a [u8] {
        match self {
            RString::Int(n) => {
                scratch.clear();
                crate::resp::num::push_i64(scratch, *n);
                scratch
            }
            RString::Bytes { data, .. } => data,
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        let mut scratch = Vec::new();
        self.as_bytes(&mut scratch).to_vec()
    }

    /// Makes the string mutable bytes, as Redis's `dbUnshareStringValue`
    /// does before an in-place change; the encoding becomes `raw`.
    pub fn make_raw(&mut self) -> &mut Vec<u8> {
        if let RString::Int(n) = *self {
            let mut data = Vec::new();
            crate::resp::num::push_i64(&mut data, n);
            *self = RString::raw(data);
        }
        match self {
            RString::Bytes { data } => data.as_mut_vec(),
            RString::Int(_) => unreachable!("converted to bytes just above"),
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            RString::Int(_) => "int",
            RString::Bytes { data } if !data.is_growable() && data.len() <= EMBSTR_MAX_LEN => {
                "embstr"
            }
            RString::Bytes { .. } => "raw",
        }
    }
}

fn decimal_len(n: i64) -> usize {
    let mut len = if n < 0 { 2 } else { 1 };
    let mut rest = n.unsigned_abs() / 10;
    while rest > 0 {
        len += 1;
        rest /= 10;
    }
    len
}

/// A key's value. Each collection type lives in its own module and
/// reports the encoding Redis would use for it (`OBJECT ENCODING`).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(RString),
    Hash(super::hash::HashValue),
    // Boxed: these are larger than a string, and every entry is as large as
    // the largest variant (measured: 168-byte values before, 32 now).
    List(Box<super::list::ListValue>),
    Set(super::set::SetValue),
    // Not boxed: no larger than a string, and a small sorted set is then
    // one heap block (its packed entries), not two.
    ZSet(super::zset::ZSetValue),
    Stream(Box<super::stream::StreamValue>),
}

impl Value {
    /// The name `TYPE` reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Hash(_) => "hash",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => s.encoding(),
            Value::Hash(h) => h.encoding(),
            Value::List(l) => l.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
            Value::Stream(_) => "stream",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_follow_redis() {
        assert_eq!(RString::from_client(b"123").encoding(), "int");
        assert_eq!(RString::from_client(b"0123").encoding(), "embstr");
        assert_eq!(RString::from_client(&[b'a'; 45]).encoding(), "raw");
        let mut s = RString::from_client(b"12");
        s.make_raw().push(b'3');
        assert_eq!(s.encoding(), "raw");
        assert_eq!(RString::Int(-120).len(), 4);
    }

    #[test]
    fn short_strings_live_in_the_value() {
        assert_eq!(std::mem::size_of::<RString>(), 24);
        assert_eq!(std::mem::size_of::<Value>(), 32);
        let mut short = RString::from_client(b"v000000007");
        assert_eq!(short.encoding(), "embstr");
        short.make_raw().extend_from_slice(b"-more");
        assert_eq!(short.to_vec(), b"v000000007-more");
        assert_eq!(short.encoding(), "raw");
        assert_eq!(RString::raw(b"ab".to_vec()).encoding(), "raw");
    }
}
