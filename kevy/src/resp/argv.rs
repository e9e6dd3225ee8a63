//! A command's arguments as byte slices of one buffer: borrowed ([`Argv`])
//! while the command runs on the shard that parsed it, owned
//! ([`OwnedArgv`]) when it travels to another shard.

/// The arguments of one command, borrowed from a buffer.
#[derive(Clone, Copy)]
pub struct Argv<'a> {
    buf: &'a [u8],
    ranges: &'a [(u32, u32)],
}

impl<'a> Argv<'a> {
    pub fn new(buf: &'a [u8], ranges: &'a [(u32, u32)]) -> Self {
        Argv { buf, ranges }
    }

    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Argument `i`; panics when `i >= len()` (callers check arity first).
    pub fn get(&self, i: usize) -> &'a [u8] {
        let (start, end) = self.ranges[i];
        &self.buf[start as usize..end as usize]
    }

    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }

    pub fn to_owned(&self) -> OwnedArgv {
        let mut owned = OwnedArgv::with_capacity(self.len(), 0);
        for arg in self.iter() {
            owned.push(arg);
        }
        owned
    }
}

/// Arguments in one owned buffer, for commands that travel between shards.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnedArgv {
    buf: Vec<u8>,
    ranges: Vec<(u32, u32)>,
}

impl OwnedArgv {
    pub fn with_capacity(args: usize, bytes: usize) -> Self {
        OwnedArgv {
            buf: Vec::with_capacity(bytes),
            ranges: Vec::with_capacity(args),
        }
    }

    pub fn from_slices<'s>(args: impl IntoIterator<Item = &'s [u8]>) -> Self {
        let mut owned = OwnedArgv::default();
        for arg in args {
            owned.push(arg);
        }
        owned
    }

    pub fn push(&mut self, arg: &[u8]) {
        let start = self.buf.len() as u32;
        self.buf.extend_from_slice(arg);
        self.ranges.push((start, self.buf.len() as u32));
    }

    pub fn argv(&self) -> Argv<'_> {
        Argv::new(&self.buf, &self.ranges)
    }

    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
}
