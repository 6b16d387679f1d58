//! On-disk building blocks shared by every mnemodb file.
//!
//! Every file mnemodb writes starts with the same 16-byte [`FilePrefix`]: a PNG-style
//! [`MAGIC`] (a non-ASCII byte, then `\r\n` and `\x1a` so that text-mode transfers and
//! truncating tools are caught), the [`FileKind`] and the format version of that kind.
//! Kind-specific headers (such as [`SegmentHeader`]) embed the prefix and end with a CRC32
//! over all of their other bytes.
//!
//! This crate does no I/O. Its decoders take byte slices and never panic, whatever the
//! bytes: every failure is a typed [`FormatError`] naming the file and the byte offset
//! (`fuzz/fuzz_targets/format_decode.rs` checks this).
//!
//! All integers are little-endian; the crate refuses to compile on big-endian targets, so
//! the `#[repr(C)]` [`bytemuck::Pod`] headers can be cast from file bytes directly.
//!
//! ```
//! use mnemodb_format::{crc32, Crc32Writer, FileKind, FilePrefix};
//! use std::io::Write;
//!
//! let prefix = FilePrefix::new(FileKind::Segment);
//! let bytes = bytemuck::bytes_of(&prefix);
//! let decoded = FilePrefix::decode(bytes, "seg-1.vec".as_ref(), FileKind::Segment)?;
//! assert_eq!(decoded.version, FileKind::Segment.versions().newest);
//!
//! // A writer that checksums what passes through it.
//! let mut w = Crc32Writer::new(Vec::new());
//! w.write_all(b"hello")?;
//! let (inner, crc, written) = w.finish();
//! assert_eq!((crc, written), (crc32(b"hello"), 5));
//! assert_eq!(inner, b"hello");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(clippy::indexing_slicing, clippy::panic, clippy::expect_used)]

#[cfg(target_endian = "big")]
compile_error!(
    "mnemodb files are little-endian and headers are cast in place: big-endian targets are not supported"
);

mod checkpoint_header;
mod crc;
mod decode;
mod error;
mod header;
mod hnsw_header;
mod ivf_header;
mod kind;
mod layout;
mod prefix;
mod segment_header;
mod wal_header;

pub use checkpoint_header::CheckpointHeader;
pub use crc::{ChainedCrc, Crc32Writer, crc32, crc32_parts};
/// Incremental CRC32 state (re-exported so every crate checksums with the same implementation).
pub use crc32fast::Hasher as Crc32Hasher;
pub use decode::{ByteReader, read_pod};
pub use error::{FormatError, Result};
pub use header::{Header, check_layout, decode_header};
pub use hnsw_header::{
    HNSW_KNOWN_FLAGS, HNSW_MAX_LEVEL, HNSW_MAX_M0, HNSW_NO_ENTRY, HnswHeader, HnswHeaderFields,
    HnswLayout,
};
pub use ivf_header::{
    IVF_DTYPE_F16, IVF_DTYPE_F32, IVF_DTYPE_SQ8, IVF_MAX_NLIST, IvfHeader, IvfHeaderFields,
    IvfLayout, IvfProbeLayout,
};
pub use kind::{FileKind, VersionRange};
pub use layout::{ALIGN, align_up, check_zero, padding_to_align};
pub use prefix::{BYTE_ORDER_MARK, FilePrefix, MAGIC};
pub use segment_header::{DType, MAX_DIM, SegmentHeader, SegmentLayout};
pub use wal_header::WalHeader;
