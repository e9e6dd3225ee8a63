//! Unit tests of the Pub/Sub command table.

use super::*;

#[test]
fn subcommand_table_matches_the_listing() {
    let listed = COMMANDS
        .iter()
        .find(|c| c.name == "pubsub")
        .map(|c| c.subcommands)
        .unwrap_or_default();
    let names: Vec<&str> = SUBCOMMANDS.iter().map(Subcommand::name).collect();
    assert_eq!(listed, names.as_slice());
}
