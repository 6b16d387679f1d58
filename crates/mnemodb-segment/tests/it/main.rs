#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
//! Integration tests of mnemodb-segment.

mod corruption;
mod crash;
mod fuzz_corpus;
mod roundtrip;

use std::path::Path;

use mnemodb_distance::Metric;
use mnemodb_io::Fs;
use mnemodb_segment::{SegmentInfo, SegmentOptions, SegmentWriter};

/// Write `rows` (ids 1000 + i) into a segment at `path`.
pub fn write_segment(
    fs: &dyn Fs,
    path: &Path,
    metric: Metric,
    rows: &[Vec<f32>],
    dim: usize,
    block_rows: Option<u32>,
) -> SegmentInfo {
    let mut opts = SegmentOptions::new(dim as u32, metric, 7);
    opts.block_rows = block_rows;
    let mut w = SegmentWriter::create(fs, path, opts).unwrap();
    for (i, r) in rows.iter().enumerate() {
        w.push(1000 + i as u64, r).unwrap();
    }
    w.finish().unwrap()
}
