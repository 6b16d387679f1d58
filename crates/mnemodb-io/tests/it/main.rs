//! Integration tests of mnemodb-io: one binary, one module per concern.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bytes;
mod conformance;
mod crash_model;
mod durable;
mod faulty;
mod lock;

use std::path::Path;

/// A scratch directory for real-file-system tests, on tmpfs when there is one.
pub fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(dir) = tempfile::Builder::new()
            .prefix("mnemodb-io-")
            .tempdir_in(shm)
    {
        return dir;
    }
    tempfile::tempdir().unwrap()
}
