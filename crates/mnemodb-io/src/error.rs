//! The crate's error type: an I/O failure always names the file and the operation.
use std::io;
use std::path::{Path, PathBuf};

use crate::fs::{Fs, LockGuard};

/// `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Raw OS error number of `ENOSPC` on Linux.
const ENOSPC: i32 = 28;

/// Why an I/O step failed. Every variant names the path.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operation on a file or directory failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done, e.g. `"write"`, `"sync directory"`.
        op: &'static str,
        /// The OS error.
        source: io::Error,
    },
    /// Another process (or another handle in this one) holds the database's lock file.
    #[error("database is locked: another process holds {}", path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
}

impl Error {
    /// Whether the device is full (`ENOSPC` / [`io::ErrorKind::StorageFull`]).
    pub fn is_no_space(&self) -> bool {
        match self {
            Error::Io { source, .. } => {
                source.kind() == io::ErrorKind::StorageFull || source.raw_os_error() == Some(ENOSPC)
            }
            Error::Locked { .. } => false,
        }
    }

    /// The path the error is about.
    pub fn path(&self) -> &Path {
        match self {
            Error::Io { path, .. } | Error::Locked { path } => path,
        }
    }
}

/// Attach the operation and path to an [`io::Result`].
pub trait IoContext<T> {
    /// Turn an `io::Error` into [`Error::Io`] naming `op` and `path`.
    fn at(self, op: &'static str, path: &Path) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn at(self, op: &'static str, path: &Path) -> Result<T> {
        self.map_err(|source| Error::Io {
            path: path.to_path_buf(),
            op,
            source,
        })
    }
}

/// Take the database's exclusive lock file at `path` (created when missing), without
/// waiting: [`Error::Locked`] when someone else holds it. Keep the guard for as long as the
/// database is open; dropping it (or the process dying) releases the lock.
pub fn lock_database(fs: &dyn Fs, path: &Path) -> Result<Box<dyn LockGuard>> {
    match fs.try_lock_exclusive(path) {
        Ok(guard) => Ok(guard),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(Error::Locked {
            path: path.to_path_buf(),
        }),
        Err(source) => Err(Error::Io {
            path: path.to_path_buf(),
            op: "lock",
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_path_and_op() {
        let e = Err::<(), _>(io::Error::from_raw_os_error(ENOSPC))
            .at("write", Path::new("/db/wal/1.log"))
            .unwrap_err();
        assert!(e.is_no_space());
        assert_eq!(e.path(), Path::new("/db/wal/1.log"));
        let msg = e.to_string();
        assert!(msg.starts_with("write /db/wal/1.log: "), "{msg}");
        let locked = Error::Locked {
            path: PathBuf::from("/db/LOCK"),
        };
        assert!(!locked.is_no_space());
        assert_eq!(
            locked.to_string(),
            "database is locked: another process holds /db/LOCK"
        );
    }

    #[test]
    fn eio_is_not_no_space() {
        let e = Err::<(), _>(io::Error::from_raw_os_error(5))
            .at("sync", Path::new("f"))
            .unwrap_err();
        assert!(!e.is_no_space());
    }
}
