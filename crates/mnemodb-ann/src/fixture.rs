//! The small in-memory segments the index fuzz targets decode their inputs against (shared
//! by `hnsw::fuzzing` and `ivf::fuzzing`). Not part of the API.
use std::path::Path;

use mnemodb_distance::Metric;
use mnemodb_io::{Fs, MemFs};
use mnemodb_segment::{SegmentOptions, SegmentReader, SegmentWriter};

/// A deterministic L2 segment of `rows` × `dim` in a fresh `MemFs`: row `r` gets id
/// `first_id + r` and component `c` the value `value(r, c)`.
pub(crate) fn fixture_segment(
    rows: usize,
    dim: usize,
    generation: u64,
    first_id: u64,
    value: impl Fn(usize, usize) -> f32,
) -> SegmentReader {
    let fs = MemFs::new();
    let path = Path::new("/fixture/seg-1.vec");
    let _ = fs.create_dir_all(Path::new("/fixture"));
    let opts = SegmentOptions::new(dim as u32, Metric::L2, generation);
    let mut w = match SegmentWriter::create(&fs, path, opts) {
        Ok(w) => w,
        Err(e) => unreachable_fixture(&e),
    };
    for r in 0..rows {
        let v: Vec<f32> = (0..dim).map(|c| value(r, c)).collect();
        if let Err(e) = w.push(first_id + r as u64, &v) {
            unreachable_fixture(&e);
        }
    }
    if let Err(e) = w.finish() {
        unreachable_fixture(&e);
    }
    match SegmentReader::open(&fs, path) {
        Ok(s) => s,
        Err(e) => unreachable_fixture(&e),
    }
}

/// The fixture is built from constants; failing to build it is a bug in this crate.
#[allow(clippy::panic)]
pub(crate) fn unreachable_fixture(e: &dyn std::fmt::Display) -> ! {
    panic!("building the fuzz fixture failed: {e}")
}
