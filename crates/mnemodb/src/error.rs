//! The engine's one error type.
use std::path::PathBuf;

/// What went wrong, by what the caller can do about it (the CLI maps these to exit codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The caller's input is wrong (dimension, NaN, `k = 0`, unknown collection, bad
    /// metadata or filter): fix the input; nothing was written.
    InvalidInput,
    /// The file system or the runtime failed (including disk full); retry or reopen.
    Io,
    /// A file's bytes are damaged, stale or of another kind/version.
    Corruption,
    /// Another process holds the database's write lock.
    Locked,
}

/// Errors of the engine. `Display` is one line naming what, where, and (for user mistakes)
/// how to fix it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file is damaged, stale (does not match the manifest) or of another kind/version.
    #[error("{}: corrupted at byte {offset}: {what}", file.display())]
    Corrupted {
        /// The file.
        file: PathBuf,
        /// Byte offset of the damage (0 when it concerns the whole file).
        offset: u64,
        /// What was found.
        what: String,
    },
    /// Another process holds the write lock.
    #[error("{}: database is locked by another process (open it read-only, or stop the other writer)", path.display())]
    Locked {
        /// The database directory.
        path: PathBuf,
    },
    /// The file system failed (names the path and the operation).
    #[error(transparent)]
    Io(mnemodb_io::Error),
    /// The disk is full: the write failed and was not acknowledged.
    #[error("no space left on device: {0}")]
    NoSpace(mnemodb_io::Error),
    /// A failure left the durability of earlier writes unknown (a failed `fsync`): the
    /// database refuses writes until it is reopened, which recovers from the log.
    #[error("database is poisoned by an earlier failure ({0}); reopen it to recover")]
    Poisoned(String),
    /// No collection of that name.
    #[error("no collection named `{0}`")]
    UnknownCollection(String),
    /// A collection of that name already exists.
    #[error("collection `{0}` already exists")]
    CollectionExists(String),
    /// A vector's dimension differs from the collection's.
    #[error("vector has dimension {got}, the collection has dimension {expected}")]
    DimensionMismatch {
        /// The collection's dimension.
        expected: usize,
        /// The vector's.
        got: usize,
    },
    /// A vector holds NaN or infinity, is empty, or (cosine) is all zeros.
    #[error("invalid vector: {0}")]
    InvalidVector(String),
    /// Any other invalid argument (`k = 0`, metadata of the wrong type for an indexed
    /// field, a bad collection name, ...).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A filter does not parse or names an unknown field.
    #[error("filter: {0}")]
    Filter(String),
    /// A write on a database opened read-only.
    #[error("database is open read-only")]
    ReadOnly,
    /// Something the engine's invariants exclude happened (a bug): the operation failed and
    /// nothing was acknowledged.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The class of the error (see [`ErrorKind`]).
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Corrupted { .. } => ErrorKind::Corruption,
            Error::Locked { .. } => ErrorKind::Locked,
            Error::Io(_) | Error::NoSpace(_) | Error::Poisoned(_) | Error::Internal(_) => {
                ErrorKind::Io
            }
            Error::UnknownCollection(_)
            | Error::CollectionExists(_)
            | Error::DimensionMismatch { .. }
            | Error::InvalidVector(_)
            | Error::InvalidInput(_)
            | Error::Filter(_)
            | Error::ReadOnly => ErrorKind::InvalidInput,
        }
    }

    pub(crate) fn corrupted(
        file: impl Into<PathBuf>,
        offset: u64,
        what: impl Into<String>,
    ) -> Self {
        Error::Corrupted {
            file: file.into(),
            offset,
            what: what.into(),
        }
    }
}

impl From<mnemodb_io::Error> for Error {
    fn from(e: mnemodb_io::Error) -> Self {
        match &e {
            mnemodb_io::Error::Locked { path } => Error::Locked { path: path.clone() },
            _ if e.is_no_space() => Error::NoSpace(e),
            _ => Error::Io(e),
        }
    }
}

impl From<mnemodb_format::FormatError> for Error {
    fn from(e: mnemodb_format::FormatError) -> Self {
        use mnemodb_format::FormatError as F;
        match e {
            F::Corrupted { file, offset, what } => Error::Corrupted { file, offset, what },
            F::NotMnemodb { ref file } => Error::corrupted(file.clone(), 0, e.to_string()),
            F::WrongKind { ref file, .. } => Error::corrupted(file.clone(), 8, e.to_string()),
            F::UnsupportedVersion { ref file, .. } => {
                Error::corrupted(file.clone(), 12, e.to_string())
            }
            other => Error::corrupted(PathBuf::new(), 0, other.to_string()),
        }
    }
}

impl From<mnemodb_distance::Error> for Error {
    fn from(e: mnemodb_distance::Error) -> Self {
        match e {
            mnemodb_distance::Error::DimensionMismatch { expected, found } => {
                Error::DimensionMismatch {
                    expected,
                    got: found,
                }
            }
            other => Error::InvalidVector(other.to_string()),
        }
    }
}

impl From<mnemodb_wal::Error> for Error {
    fn from(e: mnemodb_wal::Error) -> Self {
        use mnemodb_wal::Error as W;
        match e {
            W::Io(io) => io.into(),
            W::Format(f) => f.into(),
            W::Corrupted { file, offset, what } => Error::Corrupted { file, offset, what },
            W::Poisoned { .. } => Error::Poisoned(e.to_string()),
            W::RecordTooLarge { .. } | W::EmptyBatch => Error::InvalidInput(e.to_string()),
            other => Error::Internal(other.to_string()),
        }
    }
}

impl From<mnemodb_segment::Error> for Error {
    fn from(e: mnemodb_segment::Error) -> Self {
        use mnemodb_segment::Error as S;
        match e {
            S::Format(f) => f.into(),
            S::Io(io) => io.into(),
            other => Error::Internal(other.to_string()),
        }
    }
}

impl From<mnemodb_ann::Error> for Error {
    fn from(e: mnemodb_ann::Error) -> Self {
        use mnemodb_ann::Error as A;
        match e {
            A::InvalidQuery(d) => d.into(),
            A::ZeroK => Error::InvalidInput("k must be at least 1".into()),
            A::Format(f) => f.into(),
            A::Io(io) => io.into(),
            A::WrongSegment { ref file, .. } => Error::Corrupted {
                file: file.clone(),
                offset: 0,
                what: e.to_string(),
            },
            A::InvalidParams(p) => Error::InvalidInput(format!("index parameters: {p}")),
            other => Error::Internal(other.to_string()),
        }
    }
}

impl From<mnemodb_metastore::Error> for Error {
    fn from(e: mnemodb_metastore::Error) -> Self {
        use mnemodb_metastore::Error as M;
        match e {
            M::Format(f) => f.into(),
            M::Io(io) => io.into(),
            M::Wal(w) => w.into(),
            M::UnknownField { .. } | M::Parse(_) => Error::Filter(e.to_string()),
            M::CorruptRecord { lsn, offset, what } => Error::Corrupted {
                file: PathBuf::from(format!("wal record {lsn}")),
                offset,
                what,
            },
            M::Poisoned { .. } => Error::Poisoned(e.to_string()),
            M::Unrecoverable { .. } | M::IdSpaceExhausted { .. } => Error::Internal(e.to_string()),
            other => Error::InvalidInput(other.to_string()),
        }
    }
}
