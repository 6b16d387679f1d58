//! The crate's one error type.

use std::io;
use std::path::PathBuf;

/// `Result` with [`DatasetError`] as the default error.
pub type Result<T, E = DatasetError> = std::result::Result<T, E>;

/// Why a dataset file could not be read or written, or why arguments were refused.
///
/// Every variant about a file names it; parse errors also give the 0-based record (row)
/// number and the byte offset where the offending structure starts. Messages are one line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DatasetError {
    /// Opening, creating, writing or flushing a file failed.
    #[error("{}: {action}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done (`"open"`, `"create"`, `"write"`, ...).
        action: &'static str,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// Reading a file failed part way through (not a truncation: a real I/O error).
    #[error("{}: record {record} at byte {offset}: read failed: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// 0-based record (row) being read.
        record: u64,
        /// Byte offset of the read that failed.
        offset: u64,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The file ends inside a record: it was cut short (or is not in this format).
    #[error(
        "{}: record {record} at byte {offset} is truncated: needs {needed} bytes, \
         only {found} remain (file cut short?)",
        path.display()
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// 0-based record (row) that is incomplete.
        record: u64,
        /// Byte offset where that record starts.
        offset: u64,
        /// Bytes the record needs.
        needed: u64,
        /// Bytes that were left in the file.
        found: u64,
    },
    /// A TEXMEX record header holds a dimension outside `1..=MAX_DIM`.
    #[error(
        "{}: record {record} at byte {offset}: dimension {dim} is outside 1..={max} \
         (not a TEXMEX .fvecs/.ivecs/.bvecs file, or corrupted)",
        path.display()
    )]
    InvalidDim {
        /// The file.
        path: PathBuf,
        /// 0-based record.
        record: u64,
        /// Byte offset of the record's dimension field.
        offset: u64,
        /// The dimension as stored (signed, as the format stores it).
        dim: i64,
        /// The largest dimension accepted ([`crate::MAX_DIM`]).
        max: usize,
    },
    /// A record's dimension differs from the first record's.
    #[error(
        "{}: record {record} at byte {offset} has dimension {found}, \
         but earlier records have {expected}",
        path.display()
    )]
    DimMismatch {
        /// The file.
        path: PathBuf,
        /// 0-based record.
        record: u64,
        /// Byte offset of the record's dimension field.
        offset: u64,
        /// Dimension of the first record.
        expected: usize,
        /// Dimension of this record.
        found: usize,
    },
    /// An id file holds a negative id (ids must be 0-based row numbers).
    #[error(
        "{}: record {record}, column {column} (byte {offset}): id {value} is negative; \
         ids must be 0-based row numbers",
        path.display()
    )]
    NegativeId {
        /// The file.
        path: PathBuf,
        /// 0-based record.
        record: u64,
        /// 0-based column within the record.
        column: usize,
        /// Byte offset of the value.
        offset: u64,
        /// The value found.
        value: i32,
    },
    /// The file does not start with the `.npy` magic `\x93NUMPY`.
    #[error("{}: not a .npy file (bad magic at byte 0)", path.display())]
    NpyMagic {
        /// The file.
        path: PathBuf,
    },
    /// A `.npy` format version this crate does not read.
    #[error(
        "{}: unsupported .npy format version {major}.{minor} (supported: 1.0, 2.0, 3.0)",
        path.display()
    )]
    NpyVersion {
        /// The file.
        path: PathBuf,
        /// Major version byte.
        major: u8,
        /// Minor version byte.
        minor: u8,
    },
    /// The `.npy` header is malformed (bad syntax, unknown or missing keys, too long, cut short).
    #[error("{}: bad .npy header at byte {offset}: {what}", path.display())]
    NpyHeader {
        /// The file.
        path: PathBuf,
        /// Byte offset in the file where the problem was found.
        offset: u64,
        /// What was wrong.
        what: String,
    },
    /// The `.npy` array's `descr` is not one this crate reads.
    #[error(
        "{}: unsupported .npy dtype {descr:?} ({why}); expected '<f4' (float32) or '<i4' (int32)",
        path.display()
    )]
    NpyDtype {
        /// The file.
        path: PathBuf,
        /// The `descr` as written in the header (at most 64 characters).
        descr: String,
        /// Why it is refused, for a human (`"big-endian float32"`, `"pickled Python objects"`, ...).
        why: &'static str,
    },
    /// The `.npy` array holds a different (supported) dtype than the caller asked for.
    #[error(
        "{}: .npy array holds {found} values, but {expected} values were expected",
        path.display()
    )]
    NpyDtypeMismatch {
        /// The file.
        path: PathBuf,
        /// The element type asked for (`"float32 '<f4'"`).
        expected: &'static str,
        /// The element type in the file.
        found: &'static str,
    },
    /// The `.npy` array is stored in Fortran (column-major) order.
    #[error(
        "{}: .npy array has fortran_order True; save it C-contiguous (np.ascontiguousarray)",
        path.display()
    )]
    NpyFortranOrder {
        /// The file.
        path: PathBuf,
    },
    /// The `.npy` shape is not usable: not 1-D or 2-D, its product overflows, a zero or
    /// too-large row length.
    #[error("{}: unsupported .npy shape {shape:?}: {what}", path.display())]
    NpyShape {
        /// The file.
        path: PathBuf,
        /// The shape as written (possibly clipped to its first 8 entries).
        shape: Vec<u64>,
        /// What is wrong with it.
        what: &'static str,
    },
    /// The `.npy` data section's length does not match `shape × itemsize`.
    #[error(
        "{}: .npy data at byte {offset} holds {found} bytes, but shape {shape:?} needs {expected}",
        path.display()
    )]
    NpyDataLength {
        /// The file.
        path: PathBuf,
        /// Byte offset of the data section.
        offset: u64,
        /// The shape from the header.
        shape: Vec<u64>,
        /// Bytes the shape needs.
        expected: u64,
        /// Bytes present (a lower bound when the reader was cut short while streaming).
        found: u64,
    },
    /// [`crate::read_vectors`] / [`crate::read_ids`] cannot tell the format from the file name.
    #[error(
        "{}: unsupported file type; expected one of {expected}",
        path.display()
    )]
    UnsupportedFileType {
        /// The file.
        path: PathBuf,
        /// The extensions accepted by the function called.
        expected: &'static str,
    },
    /// Arguments that cannot be honoured (ragged data, a zero `k`, mismatched lengths, ...).
    #[error("invalid argument: {what}")]
    InvalidArgument {
        /// What is wrong.
        what: String,
    },
}

impl DatasetError {
    /// Shorthand for [`DatasetError::InvalidArgument`].
    pub(crate) fn invalid(what: impl Into<String>) -> Self {
        DatasetError::InvalidArgument { what: what.into() }
    }

    /// Shorthand for [`DatasetError::Io`].
    pub(crate) fn io(path: impl Into<PathBuf>, action: &'static str, source: io::Error) -> Self {
        DatasetError::Io {
            path: path.into(),
            action,
            source,
        }
    }

    /// The file the error is about, when it is about a file.
    pub fn path(&self) -> Option<&std::path::Path> {
        match self {
            DatasetError::Io { path, .. }
            | DatasetError::Read { path, .. }
            | DatasetError::Truncated { path, .. }
            | DatasetError::InvalidDim { path, .. }
            | DatasetError::DimMismatch { path, .. }
            | DatasetError::NegativeId { path, .. }
            | DatasetError::NpyMagic { path }
            | DatasetError::NpyVersion { path, .. }
            | DatasetError::NpyHeader { path, .. }
            | DatasetError::NpyDtype { path, .. }
            | DatasetError::NpyDtypeMismatch { path, .. }
            | DatasetError::NpyFortranOrder { path }
            | DatasetError::NpyShape { path, .. }
            | DatasetError::NpyDataLength { path, .. }
            | DatasetError::UnsupportedFileType { path, .. } => Some(path),
            DatasetError::InvalidArgument { .. } => None,
        }
    }

    /// True for operating-system I/O failures ([`DatasetError::Io`], [`DatasetError::Read`]);
    /// every other variant means the input or the arguments are invalid (the CLI maps the
    /// two groups to different exit codes).
    pub fn is_io(&self) -> bool {
        matches!(self, DatasetError::Io { .. } | DatasetError::Read { .. })
    }
}
