//! Vector search over mnemodb segments.
//!
//! [`flat`]: exact top-k by a full scan, for one query or a batch, over one or many
//! segments, with an optional allow-list of rows per segment. [`hnsw`]: the HNSW graph
//! index (parallel build, frozen mapped index files, a live graph for growing segments,
//! filtered search). [`ivf`]: IVF-Flat and IVF-SQ8 (k-means lists, mapped index files).
//! All share [`Hit`], [`TopK`] and the score convention
//! of `mnemodb-distance` (distance, smaller is closer; ties broken by lower id, so results
//! are deterministic).
//!
//! Work runs on a rayon pool the caller provides, so an engine keeps its own named pool and
//! a library user's global pool is never touched.
//!
//! ```
//! use mnemodb_ann::flat::{self, Target};
//! use mnemodb_distance::Metric;
//! use mnemodb_io::{Fs, MemFs};
//! use mnemodb_segment::{SegmentOptions, SegmentReader, SegmentWriter};
//! use std::path::Path;
//!
//! let fs = MemFs::new();
//! fs.create_dir_all(Path::new("/db"))?;
//! let mut w = SegmentWriter::create(&fs, Path::new("/db/seg-1.vec"), SegmentOptions::new(2, Metric::L2, 1))?;
//! for (id, v) in [(7, [0.0, 0.0]), (8, [1.0, 0.0]), (9, [5.0, 5.0])] {
//!     w.push(id, &v)?;
//! }
//! w.finish()?;
//! let seg = SegmentReader::open(&fs, Path::new("/db/seg-1.vec"))?;
//! let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build()?;
//! let hits = flat::search(&pool, &[Target::from(&seg)], &[0.9, 0.0], 2)?;
//! assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), [8, 7]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(clippy::indexing_slicing, clippy::panic)]

mod error;
mod fixture;
pub mod flat;
mod hit;
pub mod hnsw;
pub mod ivf;
mod topk;

pub use error::{Error, Result};
pub use hit::Hit;
pub use topk::TopK;
