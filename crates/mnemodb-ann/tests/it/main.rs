#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
//! Integration tests of mnemodb-ann.
mod flat;
mod hnsw;
mod hnsw_alloc;
mod hnsw_file;
mod hnsw_live;
mod hnsw_partial;
mod hnsw_sq8_exact;
mod ivf;
