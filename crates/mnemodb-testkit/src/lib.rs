//! Dev-only helpers for mnemodb's tests (never a dependency of a shipped crate).
//!
//! - [`scratch_dir`]: a temporary directory on tmpfs (`/dev/shm`) when available, where an
//!   fsync costs microseconds instead of milliseconds;
//! - [`corrupt`]: damage files on disk the way disks and crashes do (bit flips, truncation,
//!   byte patches), for corrupt-file tests;
//! - [`vectors`]: seeded vectors and proptest strategies for them (odd lengths, zero
//!   vectors, extreme magnitudes).
//!
//! ```
//! let dir = mnemodb_testkit::scratch_dir();
//! let path = dir.path().join("f");
//! std::fs::write(&path, [0u8; 4]).unwrap();
//! mnemodb_testkit::corrupt::flip_bit(&path, 9).unwrap();
//! assert_eq!(std::fs::read(&path).unwrap(), [0, 2, 0, 0]);
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod alloc;
pub mod corrupt;
pub mod vectors;

use std::path::Path;

/// A fresh temporary directory, on `/dev/shm` when it exists (tmpfs), else in the system
/// temp dir. Removed on drop.
pub fn scratch_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(dir) = tempfile::Builder::new()
            .prefix("mnemodb-test-")
            .tempdir_in(shm)
    {
        return dir;
    }
    tempfile::Builder::new()
        .prefix("mnemodb-test-")
        .tempdir()
        .expect("create a temporary directory")
}

/// The seed of a randomised test: `MNEMODB_SEED` when set (to replay a failure), else a
/// fresh one. Printed, so a failing run can be reproduced.
pub fn test_seed(test: &str) -> u64 {
    let seed = std::env::var("MNEMODB_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("{test}: seed {seed} (rerun with MNEMODB_SEED={seed})");
    seed
}

/// The committed fuzz corpus directory of `target` (`fuzz/corpus/<target>`), for tests that
/// write seed files.
pub fn fuzz_corpus_dir(target: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

/// Every committed input of a fuzz target, sorted: tests replay them on stable through the
/// same checks as the target, so a crash found once stays fixed.
pub fn fuzz_corpus(target: &str) -> Vec<std::path::PathBuf> {
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(fuzz_corpus_dir(target))
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    files
}
