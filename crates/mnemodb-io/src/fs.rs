//! The traits every implementation provides.
use std::ffi::OsString;
use std::fmt::Debug;
use std::io;
use std::path::Path;
use std::sync::Arc;

use crate::bytes::ReadOnlyBytes;

/// An open file, addressed by position. All methods take `&self`: a handle may be shared
/// between threads (the WAL's group commit syncs while another thread appends).
pub trait FileHandle: Send + Sync + Debug {
    /// Fill `buf` from `offset`; `UnexpectedEof` when the file is shorter.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
    /// Write all of `buf` at `offset`, growing the file if needed.
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// Current length in bytes.
    fn len(&self) -> io::Result<u64>;
    /// Whether the file is empty.
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }
    /// Truncate or extend (with zeros) to `len`.
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// `fdatasync`: make the written data durable. A length change is only guaranteed
    /// durable by [`FileHandle::sync_all`] ([`MemFs`](crate::MemFs) models it that way).
    fn sync_data(&self) -> io::Result<()>;
    /// `fsync`: make data and metadata (length) durable.
    fn sync_all(&self) -> io::Result<()>;
}

/// How to open a file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenOptions {
    /// Open for writing.
    pub write: bool,
    /// Create when missing.
    pub create: bool,
    /// Fail when it exists.
    pub create_new: bool,
    /// Truncate to 0 on open.
    pub truncate: bool,
}

impl OpenOptions {
    /// Read-only.
    pub fn read() -> Self {
        OpenOptions::default()
    }
    /// Read-write, created when missing, not truncated.
    pub fn read_write() -> Self {
        OpenOptions {
            write: true,
            create: true,
            ..Default::default()
        }
    }
    /// Read-write, a new file; fails when the path exists.
    pub fn create_new() -> Self {
        OpenOptions {
            write: true,
            create_new: true,
            ..Default::default()
        }
    }
    /// Read-write, created or truncated to empty.
    pub fn create_truncate() -> Self {
        OpenOptions {
            write: true,
            create: true,
            truncate: true,
            ..Default::default()
        }
    }
}

/// A held exclusive lock; released on drop (and by the kernel when the process dies).
pub trait LockGuard: Send + Sync + Debug {}

/// A file system. Paths are absolute or relative as the caller likes; implementations do
/// not interpret them beyond parent/child relations.
pub trait Fs: Send + Sync + Debug {
    /// Open `path`.
    fn open(&self, path: &Path, opts: OpenOptions) -> io::Result<Arc<dyn FileHandle>>;
    /// Rename atomically, replacing `to`. Durable only after the directories are synced.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Remove a file. Durable only after its directory is synced.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Create a directory and its parents. Durable only after the parents are synced.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Names of the entries of a directory, sorted.
    fn read_dir(&self, path: &Path) -> io::Result<Vec<OsString>>;
    /// `fsync` a directory: makes creations, renames and removals in it durable.
    fn sync_dir(&self, path: &Path) -> io::Result<()>;
    /// Whether `path` exists (file or directory).
    fn exists(&self, path: &Path) -> io::Result<bool>;
    /// Length of the file at `path`.
    fn file_len(&self, path: &Path) -> io::Result<u64>;
    /// The whole content of an immutable file, 64-byte aligned: a read-only memory map on a
    /// real file system, a heap copy elsewhere. The caller promises nobody writes the file
    /// while the bytes live (sealed files are immutable; the `LOCK` keeps other writers out).
    ///
    /// On [`StdFs`](crate::StdFs) a file truncated by another process while mapped makes a
    /// read past its new end raise `SIGBUS`, which kills the process: never map files that
    /// may change, and read untrusted files with
    /// [`ReadOnlyBytes::read_file`](crate::ReadOnlyBytes::read_file) instead. An empty file
    /// gives empty (heap) bytes.
    fn map_readonly(&self, path: &Path) -> io::Result<ReadOnlyBytes>;
    /// Take an exclusive lock on `path` (created when missing) without waiting:
    /// `ErrorKind::WouldBlock` when another holder has it.
    fn try_lock_exclusive(&self, path: &Path) -> io::Result<Box<dyn LockGuard>>;
}
