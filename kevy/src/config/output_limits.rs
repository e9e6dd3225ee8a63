//! `client-output-buffer-limit`: per class of client (normal, replica,
//! pub/sub), a hard limit of pending output bytes, and a soft limit that may
//! be exceeded for at most some seconds. Parsed from and printed as Redis
//! writes the directive; a `CONFIG SET` that names some classes keeps the
//! others.

use super::{parse_memory, ConfigError};

/// The kinds of client a limit applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientClass {
    Normal,
    Replica,
    Pubsub,
}

impl ClientClass {
    /// The class a name denotes (Redis's names; `master` has no limit).
    fn by_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "normal" => Some(ClientClass::Normal),
            "slave" | "replica" => Some(ClientClass::Replica),
            "pubsub" => Some(ClientClass::Pubsub),
            _ => None,
        }
    }
}

/// One class's limit; 0 disables a limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutputLimit {
    pub hard_bytes: u64,
    pub soft_bytes: u64,
    pub soft_seconds: u64,
}

impl OutputLimit {
    /// True when pending output of `bytes` breaks the hard limit, or has
    /// stayed over the soft limit since `over_soft_since_ms` for longer than
    /// allowed. Updates `over_soft_since_ms` (None while under the limit).
    pub fn reached(&self, bytes: u64, now_ms: u64, over_soft_since_ms: &mut Option<u64>) -> bool {
        if self.hard_bytes != 0 && bytes >= self.hard_bytes {
            return true;
        }
        if self.soft_bytes == 0 || bytes < self.soft_bytes {
            *over_soft_since_ms = None;
            return false;
        }
        let since = *over_soft_since_ms.get_or_insert(now_ms);
        now_ms.saturating_sub(since) / 1000 > self.soft_seconds
    }
}

/// The limits of every class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutputLimits {
    pub normal: OutputLimit,
    pub replica: OutputLimit,
    pub pubsub: OutputLimit,
}

const WRONG_ARGS: &str = "Wrong number of arguments in buffer limit configuration.";
const BAD_CLASS: &str = "Invalid client class specified in buffer limit configuration.";
const BAD_VALUE: &str =
    "Error in hard, soft or soft_seconds setting in buffer limit configuration.";

impl OutputLimits {
    pub fn class(&self, class: ClientClass) -> &OutputLimit {
        match class {
            ClientClass::Normal => &self.normal,
            ClientClass::Replica => &self.replica,
            ClientClass::Pubsub => &self.pubsub,
        }
    }

    fn class_mut(&mut self, class: ClientClass) -> &mut OutputLimit {
        match class {
            ClientClass::Normal => &mut self.normal,
            ClientClass::Replica => &mut self.replica,
            ClientClass::Pubsub => &mut self.pubsub,
        }
    }

    /// Applies `class hard soft seconds` groups on top of `self`.
    pub fn apply(&mut self, text: &str) -> Result<(), ConfigError> {
        let words: Vec<&str> = text.split_whitespace().collect();
        if words.len() % 4 != 0 {
            return Err(ConfigError::Invalid(WRONG_ARGS.into()));
        }
        // Validate every group before changing anything.
        let mut changes = Vec::with_capacity(words.len() / 4);
        for group in words.chunks_exact(4) {
            let class = ClientClass::by_name(group[0])
                .ok_or_else(|| ConfigError::Invalid(BAD_CLASS.into()))?;
            let bad = || ConfigError::Invalid(BAD_VALUE.into());
            let hard_bytes = parse_memory(group[1]).ok_or_else(bad)?;
            let soft_bytes = parse_memory(group[2]).ok_or_else(bad)?;
            let soft_seconds = u64::try_from(leading_integer(group[3])).map_err(|_| bad())?;
            changes.push((
                class,
                OutputLimit {
                    hard_bytes,
                    soft_bytes,
                    soft_seconds,
                },
            ));
        }
        for (class, limit) in changes {
            *self.class_mut(class) = limit;
        }
        Ok(())
    }

    /// The directive's text, as `CONFIG GET` prints it.
    pub fn to_text(&self) -> String {
        let group = |name: &str, l: &OutputLimit| {
            format!(
                "{name} {} {} {}",
                l.hard_bytes, l.soft_bytes, l.soft_seconds
            )
        };
        format!(
            "{} {} {}",
            group("normal", &self.normal),
            group("slave", &self.replica),
            group("pubsub", &self.pubsub)
        )
    }

    /// Parses a full directive text (every class named or left at zero).
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let mut limits = OutputLimits::default();
        limits.apply(text)?;
        Ok(limits)
    }
}

/// The integer at the start of `text`, as C's `strtoll` reads it: optional
/// blanks and sign, then digits; no digits gives 0; saturates on overflow.
fn leading_integer(text: &str) -> i64 {
    let text = text.trim_start();
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let mut value: i64 = 0;
    for byte in digits.bytes().take_while(u8::is_ascii_digit) {
        let digit = i64::from(byte - b'0');
        value = value.saturating_mul(10).saturating_add(digit);
    }
    if negative {
        -value
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: &str = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60";

    #[test]
    fn defaults_round_trip_and_partial_updates_keep_other_classes() {
        let mut limits = OutputLimits::parse(DEFAULT).unwrap();
        assert_eq!(limits.to_text(), DEFAULT);
        limits.apply("normal 1mb 512kb 10").unwrap();
        assert_eq!(
            limits.to_text(),
            "normal 1048576 524288 10 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
        );
        limits.apply("replica 1mb 512kb 10").unwrap();
        assert_eq!(limits.replica, limits.normal);
    }

    #[test]
    fn errors_are_worded_as_redis_words_them_and_change_nothing() {
        let mut limits = OutputLimits::parse(DEFAULT).unwrap();
        let err = |e: &str| Err(ConfigError::Invalid(e.into()));
        assert_eq!(limits.apply("normal 1mb 512kb"), err(WRONG_ARGS));
        assert_eq!(limits.apply("master 1mb 512kb 10"), err(BAD_CLASS));
        assert_eq!(limits.apply("normal 1x 512kb 10"), err(BAD_VALUE));
        assert_eq!(limits.apply("normal 1 2 -1"), err(BAD_VALUE));
        assert_eq!(
            limits.apply("normal 1 2 3 master 1 2 3"),
            err(BAD_CLASS),
            "a bad group rejects the whole change"
        );
        assert_eq!(limits.to_text(), DEFAULT);
        limits.apply("pubsub 1 2 abc").unwrap();
        assert_eq!(
            limits.pubsub.soft_seconds, 0,
            "strtoll reads no digits as 0"
        );
    }

    #[test]
    fn hard_and_soft_limits() {
        let limit = OutputLimit {
            hard_bytes: 100,
            soft_bytes: 50,
            soft_seconds: 2,
        };
        let mut since = None;
        assert!(!limit.reached(10, 1_000, &mut since));
        assert!(limit.reached(100, 1_000, &mut since));
        assert!(!limit.reached(60, 1_000, &mut since));
        assert_eq!(since, Some(1_000));
        assert!(!limit.reached(60, 3_000, &mut since), "2 s over is allowed");
        assert!(limit.reached(60, 3_001 + 999, &mut since));
        assert!(!limit.reached(10, 5_000, &mut since));
        assert_eq!(since, None);
        let unlimited = OutputLimit::default();
        assert!(!unlimited.reached(u64::MAX, 0, &mut None));
    }
}
