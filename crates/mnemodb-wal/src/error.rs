//! The crate's error type.
use std::io;
use std::path::{Path, PathBuf};

use mnemodb_format::FormatError;

/// `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a WAL operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file system call failed; the error names the path and the operation. Never a sign
    /// of a torn tail: an `EIO` while reading the log is reported as this, not truncated.
    #[error(transparent)]
    Io(#[from] mnemodb_io::Error),
    /// A WAL file is damaged in a way a crash cannot explain: a bad record followed by a
    /// record written after it was durable, damage in an older file, LSNs that are not
    /// contiguous, a bad file header. A read-write open is refused;
    /// [`RecoveryMode::SalvagePrefix`](crate::RecoveryMode::SalvagePrefix) keeps the valid
    /// prefix instead.
    #[error("{}: corrupted WAL at byte offset {offset}: {what}", file.display())]
    Corrupted {
        /// The WAL file.
        file: PathBuf,
        /// Byte offset of the first bad byte (or of the structure that failed its check).
        offset: u64,
        /// What was wrong, for a human.
        what: String,
    },
    /// A WAL file of a format version this build does not read.
    #[error(transparent)]
    Format(FormatError),
    /// An earlier `fsync` failed: the writer refuses further writes, because after a failed
    /// `fsync` the kernel may have dropped the dirty pages and a retried `fsync` could
    /// falsely succeed (RELIABILITY pitfall 9). Reopening recovers from what is on disk.
    #[error("the WAL writer failed to sync earlier ({cause}); reopen the database to recover")]
    Poisoned {
        /// The original failure.
        cause: String,
    },
    /// A record (or batch) whose frame is larger than
    /// [`WalOptions::max_record_bytes`](crate::WalOptions::max_record_bytes).
    #[error(
        "WAL record of {len} bytes (framed) exceeds the limit of {max} bytes (WalOptions::max_record_bytes)"
    )]
    RecordTooLarge {
        /// Framed size of the record or batch.
        len: u64,
        /// The limit.
        max: u32,
    },
    /// [`Wal::append_batch`](crate::Wal::append_batch) with no payloads.
    #[error("an empty batch cannot be appended to the WAL")]
    EmptyBatch,
}

impl Error {
    /// Shorthand for [`Error::Corrupted`].
    pub(crate) fn corrupted(file: &Path, offset: u64, what: impl Into<String>) -> Self {
        Error::Corrupted {
            file: file.to_path_buf(),
            offset,
            what: what.into(),
        }
    }

    /// Whether the device is full (`ENOSPC`).
    pub fn is_no_space(&self) -> bool {
        match self {
            Error::Io(e) => e.is_no_space(),
            _ => false,
        }
    }

    /// Whether the log is damaged ([`Error::Corrupted`]).
    pub fn is_corrupted(&self) -> bool {
        matches!(self, Error::Corrupted { .. })
    }

    /// Whether the writer is poisoned by an earlier failed sync ([`Error::Poisoned`]).
    pub fn is_poisoned(&self) -> bool {
        matches!(self, Error::Poisoned { .. })
    }

    /// An equivalent error, for the other appenders of a group commit that failed (I/O
    /// errors are not `Clone`; the OS error number and message are kept).
    pub(crate) fn duplicate(&self) -> Error {
        fn dup_io(e: &io::Error) -> io::Error {
            match e.raw_os_error() {
                Some(code) => io::Error::from_raw_os_error(code),
                None => io::Error::new(e.kind(), e.to_string()),
            }
        }
        match self {
            Error::Io(mnemodb_io::Error::Io { path, op, source }) => {
                Error::Io(mnemodb_io::Error::Io {
                    path: path.clone(),
                    op,
                    source: dup_io(source),
                })
            }
            Error::Io(other) => Error::Io(mnemodb_io::Error::Io {
                path: other.path().to_path_buf(),
                op: "wal",
                source: io::Error::other(other.to_string()),
            }),
            Error::Corrupted { file, offset, what } => Error::Corrupted {
                file: file.clone(),
                offset: *offset,
                what: what.clone(),
            },
            Error::Format(e) => {
                Error::corrupted(Path::new(""), e.offset().unwrap_or(0), e.to_string())
            }
            Error::Poisoned { cause } => Error::Poisoned {
                cause: cause.clone(),
            },
            Error::RecordTooLarge { len, max } => Error::RecordTooLarge {
                len: *len,
                max: *max,
            },
            Error::EmptyBatch => Error::EmptyBatch,
        }
    }
}

impl From<FormatError> for Error {
    fn from(e: FormatError) -> Self {
        match e {
            FormatError::Corrupted { file, offset, what } => {
                Error::Corrupted { file, offset, what }
            }
            FormatError::NotMnemodb { file } => Error::Corrupted {
                file,
                offset: 0,
                what: "not a mnemodb file (bad magic)".into(),
            },
            FormatError::WrongKind {
                file,
                expected,
                found,
            } => Error::Corrupted {
                file,
                offset: 8,
                what: format!("is a {found} file, expected a {expected} file"),
            },
            other => Error::Format(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mnemodb_io::IoContext;

    const ENOSPC: i32 = 28;

    #[test]
    fn duplicates_keep_errno_and_path() {
        let e: Error = Err::<(), _>(io::Error::from_raw_os_error(ENOSPC))
            .at("write", Path::new("/db/wal/1.log"))
            .unwrap_err()
            .into();
        let d = e.duplicate();
        assert!(d.is_no_space());
        assert_eq!(d.to_string(), e.to_string());
        let p = Error::Poisoned {
            cause: "sync /x: EIO".into(),
        };
        assert!(p.duplicate().is_poisoned());
        assert!(
            p.to_string().contains("reopen the database to recover"),
            "{p}"
        );
    }
}
