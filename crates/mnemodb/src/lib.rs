//! mnemodb: an embedded vector storage engine that gives AI applications long-term memory.
//!
//! A [`Database`] is one directory holding collections of vectors with metadata. Writes go
//! to a write-ahead log first (vector and metadata in one record), then into an in-memory
//! growing segment that is indexed incrementally and searchable at once; full segments are
//! sealed into memory-mapped files with an HNSW index, in the background, and a manifest
//! swapped atomically records every file with its length, checksum and generation.
//!
//! ```
//! use mnemodb::{CollectionConfig, Database, Filter, Metric, Options, Query, Record, Value};
//!
//! let dir = tempfile::tempdir()?;
//! let db = Database::open(dir.path(), Options::default())?;
//! let memories = db.create_collection(
//!     CollectionConfig::new("memories", 4, Metric::Cosine).keyword("user").range("importance"),
//! )?;
//! memories.upsert(vec![
//!     Record::new(1u64, vec![0.9, 0.1, 0.0, 0.0]).with("user", "ana").with("importance", 0.9),
//!     Record::new(2u64, vec![0.0, 1.0, 0.0, 0.0]).with("user", "ana").with("importance", 0.2),
//!     Record::new(3u64, vec![1.0, 0.0, 0.0, 0.1]).with("user", "bo").with("importance", 0.5),
//! ])?;
//!
//! // Nearest neighbours of a query, restricted to one user.
//! let query = Query::new(vec![1.0, 0.0, 0.0, 0.0], 2).filter(Filter::parse(r#"user = "ana""#)?);
//! let hits = memories.search(&query)?;
//! assert_eq!(hits[0].id, 1u64.into());
//! assert_eq!(hits[0].metadata.as_ref().unwrap()["importance"], Value::Float(0.9));
//!
//! // Deletes, reopen: acknowledged writes are durable (Durability::Sync by default).
//! memories.delete(&[2u64.into()])?;
//! drop((memories, db));
//! let db = Database::open(dir.path(), Options::default())?;
//! assert_eq!(db.collection("memories")?.count(), 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! See `docs/ARCHITECTURE.md` for the write and query paths and the recovery rules, and
//! `docs/FORMAT.md` for every file byte by byte.

mod backup;
mod collection;
mod config;
mod db;
mod error;
mod failpoint;
mod files;
pub mod inspect;
mod maintenance;
mod manifest;
mod options;
mod parts;
mod payload;
mod priority;
mod records;
mod recovery;
mod scrub;
mod search;
mod state;
mod stats;

pub use collection::Collection;
pub use config::{CollectionConfig, IndexKind};
pub use db::{Database, OpenReport};
pub use error::{Error, ErrorKind, Result};
pub use failpoint::POINTS as FAILPOINTS;
pub use mnemodb_ann::hnsw::HnswParams;
pub use mnemodb_distance::Metric;
pub use mnemodb_io::Fs;
pub use mnemodb_metastore::{Document, ExternalId, Filter, Schema, Value};
pub use mnemodb_wal::Durability;
pub use options::{Options, Verify};
pub use records::{Entry, Query, Record, SearchHit, WriteBatch};
pub use stats::{
    BackupReport, CollectionInfo, CollectionStats, CompactionReport, DatabaseStats, SegmentStats,
    VerifyReport,
};

/// Log sequence number of a committed write.
pub type Lsn = u64;

#[doc(hidden)]
pub mod fuzzing {
    //! Decoders exposed for the fuzz targets.
    pub use crate::manifest::fuzz_decode as manifest_decode;
    pub use crate::payload::fuzz_decode_roundtrip as payload_decode;
}

/// The README's code blocks, compiled and run as doctests so they stay true.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
