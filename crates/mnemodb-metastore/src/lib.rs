//! The metadata store of mnemodb: typed documents per id, secondary indexes, a filter
//! language, and durability through a WAL and checkpoints.
//!
//! Two layers, so the engine can reuse the first with its own log:
//!
//! - [`MetaState`]: pure in-memory state of one collection — documents by dense internal
//!   id (`u32`, never reused), external ↔ internal id maps, keyword / range / exists
//!   indexes per [`Schema`], [`MetaState::apply`] of a [`MetaOp`] (whose byte encoding is
//!   the WAL payload), checkpoint encode/decode, and O(1) [`Snapshot`]s built on persistent
//!   data structures (`imbl`) and copy-on-write bitmap chunks. A state opened from a
//!   checkpoint ([`MetaState::open_checkpoint`]) uses the mapped file **in place** as an
//!   immutable, shared *base* (documents decoded on first access, ids and ranges found by
//!   binary search, stored bitmaps) under an *overlay* of the changes since: opening 1M
//!   documents checks CRCs and structure only, it decodes no document.
//! - [`MetaStore`]: a `MetaState` + a `mnemodb_wal::Wal` + checkpoint files in a directory,
//!   with one writer (group-committed fsyncs) and lock-free readers (`arc-swap`).
//!
//! Filters ([`Filter`], text syntax in [`parser`]) evaluate to a `RoaringBitmap` of the
//! internal ids of live documents — the allow-list that ANN search takes.
//!
//! ```
//! use std::{path::Path, sync::Arc};
//! use mnemodb_io::MemFs;
//! use mnemodb_metastore::{Document, ExternalId, Filter, MetaStore, MetaStoreOptions, Schema, Value};
//!
//! let schema = Schema::new().keyword("user").keyword("kind").range("created_at").range("importance");
//! let (store, _report) = MetaStore::open(Arc::new(MemFs::new()), Path::new("/db"), MetaStoreOptions::new(schema))?;
//!
//! let memory = |user: &str, kind: &str, at: &str, importance: f64| -> Document {
//!     Document::from([
//!         ("user".to_string(), Value::from(user)),
//!         ("kind".to_string(), Value::from(kind)),
//!         ("created_at".to_string(), Value::timestamp_rfc3339(at).unwrap()),
//!         ("importance".to_string(), Value::Float(importance)),
//!     ])
//! };
//! store.put(1u64, memory("u1", "preference", "2026-01-05T10:00:00Z", 0.9))?;
//! store.put(2u64, memory("u1", "event", "2026-02-01T08:30:00Z", 0.2))?;
//! store.put("m-3", memory("u2", "decision", "2026-01-07T00:00:00Z", 0.7))?;
//!
//! let filter = Filter::parse(
//!     r#"user = "u1" and created_at >= 2026-01-01T00:00:00Z and kind in ["preference", "decision"]"#,
//! )?;
//! let allowed = store.filter(&filter)?; // internal ids of live documents
//! assert_eq!(allowed.iter().collect::<Vec<_>>(), [0]);
//!
//! // Readers work on snapshots and never wait for writers.
//! let snapshot = store.snapshot();
//! store.delete(1u64)?;
//! assert_eq!(snapshot.external_of(0), Some(&ExternalId::U64(1)));
//! assert!(store.snapshot().external_of(0).is_none());
//!
//! // A checkpoint bounds recovery time and lets the WAL shrink.
//! let info = store.checkpoint()?;
//! assert_eq!(info.document_count, 2);
//!
//! // Parse errors point at the column.
//! let err = Filter::parse("importance > high").unwrap_err();
//! assert_eq!(err.column, 14);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Limits: a document encodes to at most [`MAX_DOCUMENT_BYTES`] (1 MiB) and nests maps at
//! most [`MAX_NESTING_DEPTH`] (32) deep; string external ids are at most
//! [`MAX_EXTERNAL_ID_BYTES`] (4 KiB). Formats: `docs/FORMAT.md` ("Metastore").
#![forbid(unsafe_code)]

mod base;
mod bitmap;
mod checkpoint;
mod codec;
mod error;
mod evaluator;
mod external_id;
mod field_index;
mod filter;
#[doc(hidden)]
pub mod fuzzing;
mod op;
pub mod parser;
mod schema;
mod state;
mod store;
mod timestamp;
mod value;

pub use checkpoint::CheckpointInfo;
pub use codec::{
    DOCUMENT_VERSION, MAX_DOCUMENT_BYTES, MAX_NESTING_DEPTH, decode_document, encode_document,
    encode_document_into,
};
pub use error::{Error, Result};
pub use external_id::{ExternalId, MAX_EXTERNAL_ID_BYTES};
pub use filter::{Filter, FilterOptions};
pub use mnemodb_wal::{Durability, RecoveryMode};
pub use op::{MetaOp, OP_VERSION};
pub use parser::ParseError;
pub use roaring::RoaringBitmap;
pub use schema::{FieldIndex, Schema};
pub use state::{Lsn, MAX_INTERNAL_ID, MetaState, Snapshot};
pub use store::{Committed, MetaStore, MetaStoreOptions, OpenReport};
pub use timestamp::{format_rfc3339, parse_rfc3339};
pub use value::{Document, Value};
