//! Integration tests of mnemodb-embed (one binary). No network: the HTTP client talks to a
//! fake server on 127.0.0.1; the local embedder runs a tiny model written by the test, and
//! the real all-MiniLM-L6-v2 only where `MNEMODB_MINILM_DIR` points to it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_debug_implementations
)]

#[cfg(feature = "http")]
mod fake_server;
#[cfg(feature = "http")]
mod http;
#[cfg(feature = "local")]
mod local;
#[cfg(feature = "local")]
mod minilm;
