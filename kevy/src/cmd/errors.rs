//! Redis 7.0's error texts, in one place, so replies match byte for byte.

pub const SYNTAX: &str = "ERR syntax error";
pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
pub const NO_SUCH_KEY: &str = "ERR no such key";
pub const DB_INDEX_OUT_OF_RANGE: &str = "ERR DB index is out of range";
pub const NOAUTH: &str = "NOAUTH Authentication required.";
pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";
pub const STRING_TOO_LONG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
pub const BIT_OFFSET: &str = "ERR bit offset is not an integer or out of range";
pub const BIT_VALUE: &str = "ERR bit is not an integer or out of range";
pub const OFFSET_OUT_OF_RANGE: &str = "ERR offset is out of range";

/// `ERR wrong number of arguments for '<name>' command`.
pub fn wrong_args(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

/// `ERR invalid expire time in '<name>' command`.
pub fn invalid_expire(name: &str) -> String {
    format!("ERR invalid expire time in '{name}' command")
}

/// Redis's unknown-command error: the name and the first arguments quoted
/// (at most 128 bytes of each, while the quoted list is under 128 bytes).
pub fn unknown_command(name: &[u8], args: &[&[u8]]) -> String {
    let mut quoted = String::new();
    for arg in args {
        if quoted.len() >= 128 {
            break;
        }
        let room = 128 - quoted.len();
        quoted.push('\'');
        quoted.push_str(&String::from_utf8_lossy(&arg[..arg.len().min(room)]));
        quoted.push_str("' ");
    }
    format!(
        "ERR unknown command '{}', with args beginning with: {quoted}",
        String::from_utf8_lossy(&name[..name.len().min(128)])
    )
}

/// `ERR unknown subcommand '<sub>'. Try <CMD> HELP.`
pub fn unknown_subcommand(sub: &[u8], command: &str) -> String {
    format!(
        "ERR unknown subcommand '{}'. Try {} HELP.",
        String::from_utf8_lossy(&sub[..sub.len().min(128)]),
        command.to_ascii_uppercase()
    )
}
