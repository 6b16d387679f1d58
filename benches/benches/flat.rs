//! Exact scan: single query vs a plain sequential read of the same bytes (one thread), and
//! batched (1/16/64/256 queries) per-query vs tiled. On 100k×384 synthetic data, and on
//! `MNEMODB_DATASET` when set.
//!
//! `cargo bench -p mnemodb-benches --bench flat`
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mnemodb_ann::flat::{self, BatchStrategy, Target};
use mnemodb_benches::{
    Dataset, env_dataset, pool, scratch_dir, sequential_read, synthetic_dataset, write_segment,
};
use mnemodb_distance::Metric;

fn bench_dataset(c: &mut Criterion, data: &Dataset) {
    let dir = scratch_dir();
    let seg = write_segment(dir.path(), "seg-1.vec", &data.base, Metric::Cosine);
    let one = pool(1);
    let targets = [Target::from(&seg)];
    let bytes = (seg.rows().len() * 4) as u64;
    let queries: Vec<&[f32]> = data.queries.rows().collect();

    let mut g = c.benchmark_group(format!("scan-1thread/{}", data.name));
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("sequential-read", |b| {
        b.iter(|| black_box(sequential_read(black_box(seg.rows()))))
    });
    let mut qi = 0;
    g.bench_function("single-query", |b| {
        b.iter(|| {
            qi = (qi + 1) % queries.len();
            black_box(flat::search(&one, &targets, queries[qi], 10).unwrap())
        })
    });
    g.finish();

    let mut g = c.benchmark_group(format!("batch-1thread/{}", data.name));
    g.sample_size(10);
    for batch in [1usize, 16, 64, 256] {
        let qs = &queries[..batch.min(queries.len())];
        // Throughput in query×row pairs: comparable across batch sizes.
        g.throughput(Throughput::Elements((qs.len() * seg.len()) as u64));
        for (name, strategy) in [
            ("per-query", BatchStrategy::PerQuery),
            ("tiled", BatchStrategy::Tiled),
        ] {
            g.bench_function(format!("{name}/{batch}"), |b| {
                b.iter(|| {
                    black_box(flat::search_batch_with(&one, &targets, qs, 10, strategy).unwrap())
                })
            });
        }
    }
    g.finish();

    let two = pool(2);
    let mut g = c.benchmark_group(format!("batch-2threads/{}", data.name));
    g.sample_size(10);
    let qs = &queries[..64.min(queries.len())];
    g.throughput(Throughput::Elements((qs.len() * seg.len()) as u64));
    g.bench_function("tiled/64", |b| {
        b.iter(|| {
            black_box(
                flat::search_batch_with(&two, &targets, qs, 10, BatchStrategy::Tiled).unwrap(),
            )
        })
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    bench_dataset(c, &synthetic_dataset(100_000, 384));
    if let Some(data) = env_dataset() {
        bench_dataset(c, &data);
    }
}

criterion_group! {
    name = group;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    targets = benches
}
criterion_main!(group);
