/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a search was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The query vector is unusable (wrong dimension, NaN, empty).
    #[error("invalid query: {0}")]
    InvalidQuery(#[from] mnemodb_distance::Error),
    /// `k` was 0: ask for at least one result.
    #[error("k must be at least 1")]
    ZeroK,
    /// The segments searched together disagree on dimension or metric.
    #[error("segments differ: {0}")]
    SegmentMismatch(String),
    /// Index parameters out of range (or rows that do not fit them).
    #[error("invalid index parameters: {0}")]
    InvalidParams(String),
    /// An index file is damaged, of another kind or version (names file and offset).
    #[error(transparent)]
    Format(#[from] mnemodb_format::FormatError),
    /// The file system failed (names the path and the operation).
    #[error(transparent)]
    Io(#[from] mnemodb_io::Error),
    /// An index file was built from another segment (or another version of it).
    #[error(
        "{}: index was built for segment generation {index_generation} (content crc {index_crc:#010x}), \
         but the segment is generation {segment_generation} (content crc {segment_crc:#010x}): rebuild the index",
        file.display()
    )]
    WrongSegment {
        /// The index file.
        file: std::path::PathBuf,
        /// Generation recorded in the index.
        index_generation: u64,
        /// Segment content CRC recorded in the index.
        index_crc: u32,
        /// The segment's generation.
        segment_generation: u64,
        /// The segment's content CRC.
        segment_crc: u32,
    },
}
