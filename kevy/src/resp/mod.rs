//! RESP: the request parser and the reply encoder.
//!
//! Requests come in as bytes in a connection's input buffer; [`parse`]
//! finds one complete command at the front and records each argument as an
//! offset range into that buffer (multibulk) or into a scratch buffer
//! (inline commands, whose quoting must be undone), so no allocation happens
//! per command. Replies are written with [`ReplyBuf`], which knows whether
//! the connection speaks RESP2 or RESP3.

mod argv;
mod inline;
pub mod num;
mod parse;
#[cfg(test)]
mod proptests;
mod reply;

pub use argv::{Argv, OwnedArgv};
pub use inline::split_inline as split_config_line;
pub use parse::{parse, Frame, ParseError, ParseLimits};
pub use reply::ReplyBuf;
