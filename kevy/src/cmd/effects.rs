//! How a write command asks to be recorded differently from how it was
//! sent, for the append-only log and replication.
//!
//! The shard records every applied write as RESP commands that redo it.
//! Most commands are deterministic and are recorded as sent. A command
//! whose outcome depends on the time, on randomness or on approximations
//! (`EXPIRE` with a relative time, `SPOP`, `XADD *`, `INCRBYFLOAT`, ...)
//! describes its effect instead, as Redis's `alsoPropagate` and argument
//! rewriting do: its handler calls [`Effects::replace`] with the commands
//! that reproduce exactly what it did (zero commands: nothing to record).
//!
//! Data flow: the shard hands an `Effects` to the handler inside
//! `ExecCtx`, then reads [`Effects::take`] after the handler returns.
//! Handlers check [`Effects::wanted`] first, so building replacements
//! costs nothing while no log or replica listens.

/// The replacement record of one command run.
#[derive(Default)]
pub struct Effects {
    /// Whether anything records writes (an append-only log, replicas).
    wanted: bool,
    /// Whether the handler replaced its command.
    replaced: bool,
    /// RESP of the replacement commands.
    commands: Vec<u8>,
}

/// What to record for one command run.
pub enum Recorded<'a> {
    /// The command as it was sent.
    AsSent,
    /// These RESP commands instead (possibly none).
    Replaced(&'a [u8]),
}

impl Effects {
    /// Effects that record replacements only when `wanted`.
    pub fn new(wanted: bool) -> Self {
        Effects {
            wanted,
            ..Effects::default()
        }
    }

    /// Whether a handler should describe its effect.
    pub fn wanted(&self) -> bool {
        self.wanted
    }

    pub fn set_wanted(&mut self, wanted: bool) {
        self.wanted = wanted;
    }

    /// Records nothing for this command run (unless [`Effects::replace`]
    /// adds commands afterwards).
    pub fn suppress(&mut self) {
        if self.wanted && !self.replaced {
            self.replaced = true;
            self.commands.clear();
        }
    }

    /// Records `args` as one command of this run's replacement; the first
    /// call drops the command as sent.
    pub fn replace(&mut self, args: &[&[u8]]) {
        if !self.wanted {
            return;
        }
        self.suppress();
        push_command(&mut self.commands, args);
    }

    /// What the handler asked for; resets for the next command.
    pub fn take(&mut self) -> Recorded<'_> {
        if !self.replaced {
            return Recorded::AsSent;
        }
        self.replaced = false;
        Recorded::Replaced(&self.commands)
    }

    /// Forgets a replacement nobody will read (a run on a scratch copy).
    pub fn clear(&mut self) {
        self.replaced = false;
        self.commands.clear();
    }
}

/// Appends `args` to `out` as a RESP array of bulk strings.
pub fn push_command(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.push(b'*');
    crate::resp::num::push_i64(out, args.len() as i64);
    out.extend_from_slice(b"\r\n");
    for arg in args {
        out.push(b'$');
        crate::resp::num::push_i64(out, arg.len() as i64);
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwanted_effects_record_as_sent() {
        let mut effects = Effects::new(false);
        effects.replace(&[b"DEL", b"k"]);
        assert!(matches!(effects.take(), Recorded::AsSent));
    }

    #[test]
    fn replacements_accumulate_then_reset() {
        let mut effects = Effects::new(true);
        effects.replace(&[b"DEL", b"k"]);
        effects.replace(&[b"SET", b"a", b"1"]);
        match effects.take() {
            Recorded::Replaced(bytes) => assert_eq!(
                bytes,
                b"*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n"
            ),
            Recorded::AsSent => panic!("replaced"),
        }
        assert!(matches!(effects.take(), Recorded::AsSent));
        effects.suppress();
        assert!(matches!(effects.take(), Recorded::Replaced(b"")));
    }
}
