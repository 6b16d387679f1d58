//! Integration tests of the `mnemodb` binary: every subcommand, and the hostile-input suite
//! (RELIABILITY recipe (g)). Every run is under a 2 GiB address-space limit and a timeout.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bench;
mod commands;
mod files;
mod hostile;
mod util;
