//! Immutable, memory-mapped segment files (`seg-<id>.vec`).
//!
//! A segment holds `row_count` vectors of one dimension, prepared for one metric
//! (normalised for cosine), plus a `u64` id column. It is written once by streaming
//! ([`SegmentWriter`]: memory use is 12 bytes per row for the id column and block
//! checksums, never the vectors), published atomically (temp file → fsync → rename →
//! directory fsync), and from then on only read.
//!
//! [`SegmentReader::open`] costs a memory map and a 128-byte header check, whatever the
//! size; rows are handed out zero-copy as `&[f32]`. [`SegmentReader::verify`] checks every
//! byte: block checksums, zero padding, finite components, unique ids. Layout: see
//! [`mnemodb_format::SegmentHeader`] and `docs/FORMAT.md`.
//!
//! ```
//! use mnemodb_distance::Metric;
//! use mnemodb_io::{Fs, MemFs};
//! use mnemodb_segment::{SegmentOptions, SegmentReader, SegmentWriter};
//! use std::path::Path;
//!
//! let fs = MemFs::new();
//! fs.create_dir_all(Path::new("/db"))?;
//! let path = Path::new("/db/seg-1.vec");
//! let mut w = SegmentWriter::create(&fs, path, SegmentOptions::new(3, Metric::L2, 1))?;
//! w.push(10, &[1.0, 2.0, 3.0])?;
//! w.push(11, &[4.0, 5.0, 6.0])?;
//! let info = w.finish()?;
//! assert_eq!(info.row_count, 2);
//!
//! let seg = SegmentReader::open(&fs, path)?;
//! seg.verify()?;
//! assert_eq!(seg.row(1), Some(&[4.0, 5.0, 6.0][..]));
//! assert_eq!(seg.ids(), &[10, 11]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(clippy::indexing_slicing, clippy::panic)]

mod error;
mod reader;
mod verify;
mod writer;

pub use error::{Error, Result};
pub use reader::{OpenOptions, SegmentReader};
pub use writer::{SegmentInfo, SegmentOptions, SegmentWriter};
