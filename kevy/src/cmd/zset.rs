//! (family module; commands are added here)

use super::CommandSpec;

pub static COMMANDS: &[CommandSpec] = &[];
