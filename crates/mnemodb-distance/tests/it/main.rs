//! Integration tests of mnemodb-distance: one binary, one module per concern.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod alloc_free;
mod api;
mod batch;
mod oracle;
mod strategy;
mod tile;
mod validate;
