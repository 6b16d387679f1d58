//! The file I/O seam of mnemodb.
//!
//! Everything mnemodb reads or writes goes through the [`Fs`] and [`FileHandle`] traits, so
//! that tests can swap the real file system ([`StdFs`]) for an in-memory one that models
//! what survives a power loss ([`MemFs`]) or one that fails the Nth call ([`FaultyFs`]).
//!
//! Durable publication of a file is one helper, [`durable_replace`] (write temp → fsync →
//! rename → fsync the directory), and read-only access to immutable files is one type,
//! [`ReadOnlyBytes`], a memory map on a real file system (the only `Mmap::map` call in the
//! workspace) or an aligned heap copy elsewhere.
//!
//! ```
//! use mnemodb_io::{durable_replace, Fs, MemFs};
//! use std::path::Path;
//!
//! let fs = MemFs::new();
//! fs.create_dir_all(Path::new("/db"))?;
//! fs.sync_dir(Path::new("/"))?; // a new directory is durable once its parent is synced
//! durable_replace(&fs, Path::new("/db/MANIFEST-1"), b"state")?;
//! let bytes = fs.map_readonly(Path::new("/db/MANIFEST-1"))?;
//! assert_eq!(&bytes[..], b"state");
//! // A power loss keeps it: it was synced, renamed and its directory synced.
//! let after = fs.crash_image(mnemodb_io::CrashMode::DropUnsynced);
//! assert_eq!(&after.map_readonly(Path::new("/db/MANIFEST-1"))?[..], b"state");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Errors: the [`Fs`] traits speak `std::io::Error` (so that any file system plugs in); the
//! helpers of this crate return [`Error`], which names the path and the operation
//! ([`IoContext::at`] adds them to an `io::Result`).

mod bytes;
mod crash;
mod durable;
mod error;
mod faulty;
mod fs;
mod inode;
mod mem_fs;
mod mmap;
mod std_fs;

pub use bytes::{ALIGNMENT, ReadOnlyBytes};
pub use crash::{CrashMode, SECTOR};
pub use durable::{
    SEQ_WRITER_BUFFER, SeqWriter, durable_rename, durable_replace, is_temp_path, sync_parent_dir,
    temp_files, temp_path,
};
pub use error::{Error, IoContext, Result, lock_database};
pub use faulty::{FaultController, FaultOp, FaultyFs, InjectedError};
pub use fs::{FileHandle, Fs, LockGuard, OpenOptions};
pub use mem_fs::MemFs;
pub use std_fs::StdFs;
