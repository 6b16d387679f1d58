//! Integration tests of the memory layer (one binary: `cargo test -p mnemodb-memory`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod common;
mod grounding;
mod memeval;
mod memeval_harness;
mod props;
mod scenarios;
