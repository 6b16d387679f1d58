//! The CLI's one error type and the exit-code contract.
//!
//! | code | meaning |
//! |---:|---|
//! | 0 | success |
//! | 1 | I/O or runtime failure (disk full, permission denied, an index build that failed) |
//! | 2 | invalid input or usage (bad flag, malformed input file, wrong dimension, NaN, unknown collection) |
//! | 3 | corruption: a file failed a checksum or structural check, or is not the file it should be |
//! | 4 | the database is locked by another process |
//!
//! Every error is printed as one line on stderr: what went wrong, where (file, record, byte
//! offset) and, where there is one, how to fix it.
use std::fmt;
use std::path::Path;

/// Process exit codes (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// I/O or runtime failure.
    Runtime = 1,
    /// Invalid input or usage.
    Invalid = 2,
    /// Corrupted or foreign file.
    Corrupt = 3,
    /// Database locked by another process.
    Locked = 4,
}

/// A failure of a command: an exit code and a one-line message.
#[derive(Debug)]
pub struct CliError {
    /// The exit code.
    pub code: Code,
    /// The message (one line: what, where, how to fix).
    pub message: String,
    /// Output went to a closed pipe: exit quietly with 0.
    pub quiet: bool,
}

/// `Result` with [`CliError`].
pub type Result<T, E = CliError> = std::result::Result<T, E>;

impl CliError {
    /// An error with `code` and `message`.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        CliError {
            code,
            message: one_line(&message.into()),
            quiet: false,
        }
    }

    /// Invalid input or usage (exit 2).
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(Code::Invalid, message)
    }

    /// Runtime failure (exit 1).
    pub fn runtime(message: impl Into<String>) -> Self {
        Self::new(Code::Runtime, message)
    }

    /// Corruption (exit 3).
    pub fn corrupt(message: impl Into<String>) -> Self {
        Self::new(Code::Corrupt, message)
    }

    /// An I/O error on `path` while doing `what`; a missing file or a permission problem
    /// says so plainly.
    pub fn io(what: &str, path: &Path, e: &std::io::Error) -> Self {
        use std::io::ErrorKind;
        let p = path.display();
        match e.kind() {
            ErrorKind::NotFound => Self::invalid(format!("{what} {p}: no such file or directory")),
            ErrorKind::PermissionDenied => Self::runtime(format!(
                "{what} {p}: permission denied (check the file's owner and mode)"
            )),
            ErrorKind::BrokenPipe => Self::pipe(),
            _ => Self::runtime(format!("{what} {p}: {e}")),
        }
    }

    /// Stdout was closed by the reader (e.g. `| head`): not an error.
    pub fn pipe() -> Self {
        CliError {
            code: Code::Runtime,
            message: String::new(),
            quiet: true,
        }
    }

    /// Prefix the message with some context (`"import data.jsonl"`).
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        if !self.quiet {
            self.message = format!("{what}: {}", self.message);
        }
        self
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Collapse a message to one line (error chains from libraries may hold newlines).
fn one_line(s: &str) -> String {
    if s.contains('\n') {
        s.split('\n')
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; ")
    } else {
        s.to_string()
    }
}

impl From<mnemodb_format::FormatError> for CliError {
    fn from(e: mnemodb_format::FormatError) -> Self {
        CliError::corrupt(e.to_string())
    }
}

impl From<mnemodb_io::Error> for CliError {
    fn from(e: mnemodb_io::Error) -> Self {
        match &e {
            mnemodb_io::Error::Locked { .. } => CliError::new(
                Code::Locked,
                format!("{e}; wait for it to finish or stop it, then retry"),
            ),
            mnemodb_io::Error::Io { source, .. }
                if source.kind() == std::io::ErrorKind::PermissionDenied =>
            {
                CliError::runtime(format!("{e} (check the directory's owner and mode)"))
            }
            _ => CliError::runtime(e.to_string()),
        }
    }
}

impl From<mnemodb_wal::Error> for CliError {
    fn from(e: mnemodb_wal::Error) -> Self {
        use mnemodb_wal::Error as E;
        match e {
            E::Io(io) => io.into(),
            E::Format(f) => f.into(),
            E::Corrupted { .. } => CliError::corrupt(e.to_string()),
            other => CliError::runtime(other.to_string()),
        }
    }
}

impl From<mnemodb_segment::Error> for CliError {
    fn from(e: mnemodb_segment::Error) -> Self {
        use mnemodb_segment::Error as E;
        match e {
            E::Format(f) => f.into(),
            E::Io(io) => io.into(),
            other => CliError::invalid(other.to_string()),
        }
    }
}

impl From<mnemodb_ann::Error> for CliError {
    fn from(e: mnemodb_ann::Error) -> Self {
        use mnemodb_ann::Error as E;
        match e {
            E::Format(f) => f.into(),
            E::Io(io) => io.into(),
            E::WrongSegment { .. } => CliError::corrupt(e.to_string()),
            other => CliError::invalid(other.to_string()),
        }
    }
}

impl From<mnemodb_metastore::Error> for CliError {
    fn from(e: mnemodb_metastore::Error) -> Self {
        use mnemodb_metastore::Error as E;
        match e {
            E::Format(f) => f.into(),
            E::Io(io) => io.into(),
            E::Wal(w) => w.into(),
            E::CorruptRecord { .. } | E::Unrecoverable { .. } => CliError::corrupt(e.to_string()),
            other => CliError::invalid(other.to_string()),
        }
    }
}

impl From<mnemodb_dataset::DatasetError> for CliError {
    fn from(e: mnemodb_dataset::DatasetError) -> Self {
        if e.is_io() {
            CliError::runtime(e.to_string())
        } else {
            CliError::invalid(e.to_string())
        }
    }
}

impl From<mnemodb_distance::Error> for CliError {
    fn from(e: mnemodb_distance::Error) -> Self {
        CliError::invalid(e.to_string())
    }
}

impl From<mnemodb_metastore::ParseError> for CliError {
    fn from(e: mnemodb_metastore::ParseError) -> Self {
        CliError::invalid(format!("filter syntax error at {e}"))
    }
}

impl From<mnemodb::Error> for CliError {
    fn from(e: mnemodb::Error) -> Self {
        use mnemodb::{Error as E, ErrorKind as K};
        let hint = match &e {
            E::UnknownCollection(_) => "; list the collections with `mnemodb info <db>`",
            E::CollectionExists(_) => "; pick another name or use the existing collection",
            E::DimensionMismatch { .. } => "; vectors must have the collection's dimension",
            E::ReadOnly => "; this command needs the write lock",
            E::NoSpace(_) => "; free disk space and retry (nothing unacknowledged was kept)",
            E::Corrupted { .. } => "; run `mnemodb verify <db>` for a full report",
            _ => "",
        };
        let code = match e.kind() {
            K::InvalidInput => Code::Invalid,
            K::Io => Code::Runtime,
            K::Corruption => Code::Corrupt,
            K::Locked => Code::Locked,
        };
        CliError::new(code, format!("{e}{hint}"))
    }
}
