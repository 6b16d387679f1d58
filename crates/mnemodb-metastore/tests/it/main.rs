#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
//! Integration tests of mnemodb-metastore.

mod basics;
mod concurrency;
mod corruption;
mod faults;
mod fuzz_corpus;
mod kill9;
mod model;

use std::path::Path;
use std::sync::Arc;

use mnemodb_io::{Fs, MemFs};
use mnemodb_metastore::{Document, MetaStore, MetaStoreOptions, Schema, Value};

/// The schema the tests use.
pub fn schema() -> Schema {
    Schema::new()
        .keyword("user")
        .keyword("kind")
        .range("created_at")
        .range("importance")
        .keyword("tags")
}

/// Open the store at `/db` of `fs`.
pub fn open(fs: Arc<dyn Fs>) -> MetaStore {
    MetaStore::open(fs, Path::new("/db"), MetaStoreOptions::new(schema()))
        .unwrap()
        .0
}

/// A fresh in-memory file system with `/` durable.
pub fn mem() -> MemFs {
    MemFs::new()
}

/// A small memory-like document.
pub fn memory_doc(user: u32, kind: &str, at: i64, importance: f64) -> Document {
    Document::from([
        ("user".to_string(), Value::String(format!("u{user}"))),
        ("kind".to_string(), Value::from(kind)),
        ("created_at".to_string(), Value::Timestamp(at)),
        ("importance".to_string(), Value::Float(importance)),
    ])
}
