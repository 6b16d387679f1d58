#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
//! Integration tests of mnemodb-wal (RELIABILITY.md recipes for the WAL).

mod api;
mod corruption;
mod crash;
mod enospc;
mod faults;
mod fuzz_corpus;
mod kill9;
mod model;
mod next_lsn;
mod strace;

use std::path::Path;
use std::sync::Arc;

use mnemodb_io::Fs;
use mnemodb_wal::{Lsn, RecoveryMode, RecoveryReport, Wal, WalOptions, read_records};
use rand::{Rng, SeedableRng, rngs::StdRng};

/// The payload of record `lsn` in tests where payloads are derived from LSNs, so a torn or
/// mixed record is detectable: 1..=`max_len` bytes, pseudo-random from `lsn`.
pub fn payload_for(lsn: Lsn, max_len: usize) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(lsn.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let len = rng.random_range(1..=max_len);
    let mut p = vec![0u8; len];
    rng.fill(&mut p[..]);
    p[0] = lsn as u8;
    p
}

/// Every record of the log at `dir`, read-only.
pub fn records(fs: &dyn Fs, dir: &Path) -> (Vec<(Lsn, Vec<u8>)>, RecoveryReport) {
    let mut out = Vec::new();
    let report = read_records(fs, dir, 0, RecoveryMode::TolerateTornTail, |lsn, p| {
        out.push((lsn, p.to_vec()));
        Ok(())
    })
    .unwrap();
    (out, report)
}

/// Every record of an open log.
pub fn replay_all(wal: &Wal) -> Vec<(Lsn, Vec<u8>)> {
    let mut out = Vec::new();
    wal.replay(0, |lsn, p| {
        out.push((lsn, p.to_vec()));
        Ok(())
    })
    .unwrap();
    out
}

/// Options with small files, so tests rotate.
pub fn small_files(max_file_bytes: u64) -> WalOptions {
    WalOptions {
        max_file_bytes,
        ..WalOptions::default()
    }
}

/// Open `dir` on `fs`.
pub fn open(fs: &Arc<dyn Fs>, dir: &Path, options: WalOptions) -> (Wal, RecoveryReport) {
    Wal::open(Arc::clone(fs), dir, options).unwrap()
}

/// How many times more work the long-running tests do: `MNEMODB_SOAK=<n>` (default 1).
pub fn soak() -> u64 {
    std::env::var("MNEMODB_SOAK")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
        .max(1)
}
