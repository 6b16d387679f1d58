use std::path::PathBuf;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong writing or reading a segment.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file's bytes are damaged, of another kind or version (names file and offset).
    #[error(transparent)]
    Format(#[from] mnemodb_format::FormatError),
    /// The file system failed (names the path and the operation).
    #[error(transparent)]
    Io(#[from] mnemodb_io::Error),
    /// A vector handed to the writer was refused (wrong dimension, NaN, ...).
    #[error("{}: row {row} (id {id}): {source}", file.display())]
    InvalidVector {
        /// The segment being written.
        file: PathBuf,
        /// Row number the vector would have had.
        row: u64,
        /// Its id.
        id: u64,
        /// Why.
        source: mnemodb_distance::Error,
    },
    /// The same id was pushed twice into one segment.
    #[error("{}: id {id} appears twice in one segment", file.display())]
    DuplicateId {
        /// The segment being written.
        file: PathBuf,
        /// The repeated id.
        id: u64,
    },
    /// Invalid writer options.
    #[error("{}: {what}", file.display())]
    InvalidOptions {
        /// The segment being written.
        file: PathBuf,
        /// What is wrong.
        what: String,
    },
}
