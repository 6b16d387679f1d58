//! Segment open time: a memory map plus a 128-byte header check, independent of size.
//! Opens a 1M×384 segment (1.5 GiB; `MNEMODB_OPEN_ROWS` overrides the row count) without and
//! with eager verification.
//!
//! `cargo bench -p mnemodb-benches --bench segment_open`
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use mnemodb_benches::scratch_dir;
use mnemodb_distance::Metric;
use mnemodb_io::StdFs;
use mnemodb_segment::{OpenOptions, SegmentOptions, SegmentReader, SegmentWriter};

fn bench(c: &mut Criterion) {
    let rows: usize = std::env::var("MNEMODB_OPEN_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let dim = 384;
    let dir = scratch_dir();
    let path = dir.path().join("seg-1.vec");
    let mut w = SegmentWriter::create(
        &StdFs,
        &path,
        SegmentOptions::new(dim as u32, Metric::L2, 1),
    )
    .unwrap();
    let mut row = vec![0.0f32; dim];
    for i in 0..rows {
        row[i % dim] = i as f32;
        w.push(i as u64, &row).unwrap();
        row[i % dim] = 0.0;
    }
    let info = w.finish().unwrap();
    eprintln!(
        "segment: {rows} rows × {dim} d, {:.2} GiB",
        info.file_len as f64 / (1u64 << 30) as f64
    );

    let mut g = c.benchmark_group(format!("segment-open/{}k-x{dim}", rows / 1000));
    g.bench_function("open", |b| {
        b.iter(|| black_box(SegmentReader::open(&StdFs, &path).unwrap()))
    });
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.bench_function("open+verify", |b| {
        b.iter(|| {
            black_box(
                SegmentReader::open_with(&StdFs, &path, OpenOptions { verify: true }).unwrap(),
            )
        })
    });
    g.finish();
}

criterion_group! {
    name = group;
    config = Criterion::default().warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(2));
    targets = bench
}
criterion_main!(group);
