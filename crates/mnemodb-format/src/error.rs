use std::path::PathBuf;

use crate::kind::FileKind;

/// `Result` with [`FormatError`] as the default error.
pub type Result<T, E = FormatError> = std::result::Result<T, E>;

/// Why a file's bytes were refused. Every variant names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// The bytes are damaged: a checksum mismatch, a truncation, an impossible value.
    #[error("{}: corrupted at byte offset {offset}: {what}", file.display())]
    Corrupted {
        /// The file that holds the bad bytes.
        file: PathBuf,
        /// Byte offset of the first bad byte (or of the structure that failed its check).
        offset: u64,
        /// What was wrong, for a human.
        what: String,
    },
    /// The file does not start with mnemodb's magic: it is not one of our files.
    #[error("{}: not a mnemodb file (bad magic at byte offset 0)", file.display())]
    NotMnemodb {
        /// The file.
        file: PathBuf,
    },
    /// A mnemodb file, but of another kind than the caller expected.
    #[error("{}: is a {found} file, expected a {expected} file", file.display())]
    WrongKind {
        /// The file.
        file: PathBuf,
        /// The kind the caller asked for.
        expected: FileKind,
        /// What the header says (a kind name, or the raw number when unknown).
        found: String,
    },
    /// The file's format version is outside the range this build reads.
    #[error(
        "{}: unsupported {kind} format version {found} (this build reads versions {}..={}); \
         open it with a matching mnemodb release",
        file.display(), supported.oldest, supported.newest
    )]
    UnsupportedVersion {
        /// The file.
        file: PathBuf,
        /// Its kind.
        kind: FileKind,
        /// The version in the header.
        found: u32,
        /// The versions this build reads.
        supported: crate::kind::VersionRange,
    },
}

impl FormatError {
    /// Shorthand for [`FormatError::Corrupted`].
    pub fn corrupted(file: impl Into<PathBuf>, offset: u64, what: impl Into<String>) -> Self {
        FormatError::Corrupted {
            file: file.into(),
            offset,
            what: what.into(),
        }
    }

    /// The byte offset the error points at, when it has one.
    pub fn offset(&self) -> Option<u64> {
        match self {
            FormatError::Corrupted { offset, .. } => Some(*offset),
            FormatError::NotMnemodb { .. } => Some(0),
            FormatError::WrongKind { .. } | FormatError::UnsupportedVersion { .. } => Some(8),
        }
    }
}
