//! The fuzz corpora, replayed as ordinary tests on stable (SQLite's fuzzcheck idea): every
//! committed input of `fuzz/corpus/{segment_decode,format_decode}` goes through the same
//! decoders, so a crash found once stays fixed. `cargo test -p mnemodb-segment -- --ignored
//! write_seed_corpus` regenerates the seed files.
use std::collections::HashSet;
use std::path::{Path, PathBuf};

use mnemodb_distance::Metric;
use mnemodb_format::{FileKind, FilePrefix, SegmentHeader};
use mnemodb_io::{MemFs, ReadOnlyBytes};
use mnemodb_segment::{SegmentOptions, SegmentReader, SegmentWriter};
use mnemodb_testkit::vectors;

use mnemodb_testkit::fuzz_corpus as corpus;

/// Mirrors `fuzz/fuzz_targets/segment_decode.rs`.
fn segment_decode(data: &[u8]) {
    let Ok(seg) =
        SegmentReader::from_bytes(ReadOnlyBytes::copy_from_slice(data), Path::new("fuzz.vec"))
    else {
        return;
    };
    let n = seg.len();
    let _ = (seg.row(n.saturating_sub(1)), seg.row(n), seg.id(n));
    if seg.verify().is_ok() {
        let unique: HashSet<u64> = seg.ids().iter().copied().collect();
        assert_eq!(unique.len(), n);
        for i in 0..n {
            assert!(seg.row(i).unwrap().iter().all(|v| v.is_finite()));
        }
    }
}

/// Mirrors `fuzz/fuzz_targets/format_decode.rs`.
fn format_decode(data: &[u8]) {
    let f = Path::new("fuzz");
    for kind in FileKind::ALL {
        let _ = FilePrefix::decode(data, f, kind);
    }
    if let Ok((h, layout)) = SegmentHeader::decode(data, f, data.len() as u64) {
        assert_eq!(layout.file_len, data.len() as u64);
        assert_eq!(h.compute_crc(), h.header_crc);
    }
}

#[test]
fn replay_segment_and_format_corpora() {
    let seg = corpus("segment_decode");
    let fmt = corpus("format_decode");
    assert!(
        !seg.is_empty(),
        "the segment_decode seed corpus is committed"
    );
    for path in seg.iter().chain(&fmt) {
        let data = std::fs::read(path).unwrap();
        segment_decode(&data);
        format_decode(&data);
    }
}

#[test]
#[ignore = "regenerates fuzz/corpus seed files"]
fn write_seed_corpus() {
    let fs = MemFs::new();
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    for target in ["segment_decode", "format_decode"] {
        std::fs::create_dir_all(out.join(target)).unwrap();
    }
    let cases = [
        (0usize, 3usize, Metric::L2),
        (1, 1, Metric::Cosine),
        (5, 7, Metric::InnerProduct),
        (33, 16, Metric::L2),
    ];
    for (i, (rows, dim, metric)) in cases.into_iter().enumerate() {
        let path = PathBuf::from(format!("/s{i}.vec"));
        let mut opts = SegmentOptions::new(dim as u32, metric, i as u64);
        opts.block_rows = Some(4);
        let mut w = SegmentWriter::create(&fs, &path, opts).unwrap();
        for (r, v) in vectors::random_rows(rows, dim, i as u64).iter().enumerate() {
            w.push(r as u64, v).unwrap();
        }
        w.finish().unwrap();
        let bytes = fs.read_all(&path).unwrap();
        std::fs::write(out.join("segment_decode").join(format!("seed-{i}")), &bytes).unwrap();
        std::fs::write(
            out.join("format_decode").join(format!("seed-{i}")),
            &bytes[..128.min(bytes.len())],
        )
        .unwrap();
    }
}
