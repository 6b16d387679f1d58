//! Distance kernels, every backend side by side.
//!
//! - `kernel/{simsimd,scalar,tile}/{metric}/{dim}`: one pair per call, dims
//!   {96, 384, 768, 1536, 3072}. Throughput in vector components per second.
//! - `scan/{metric}/{how}/{dim}`: one segment tile of rows (64 KiB, 64-byte
//!   aligned, L2-resident, as exact search scans it) against queries, three
//!   ways: `simsimd` (one query, one simsimd call per row), `strided`
//!   (`batch::distances_strided`, one query) and `tile64`
//!   (`tile::distances_tile`, 64 queries). Throughput is in (query, row)
//!   **pairs** per second, so ns per pair = 1 / throughput. `ip` runs the same
//!   dot-product kernels as `cosine` and is left out.
//!
//! Run: `cargo bench -p mnemodb-benches --bench kernels` (about a minute and a
//! half). Filter: `cargo bench -p mnemodb-benches --bench kernels -- 'scan/l2'`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mnemodb_distance::{
    Backend, Metric, batch, distance_fn_with, simsimd_target, tile, tile_backend,
};

const DIMS: [usize; 5] = [96, 384, 768, 1536, 3072];
/// Bytes of rows per scan tile (what exact search keeps L2-resident).
const TILE_BYTES: usize = 64 * 1024;
/// Queries per `distances_tile` call in the scan benchmark.
const TILE_QUERIES: usize = 64;

/// Deterministic values in (-1, 1) (xorshift; no RNG crate needed).
fn vector(dim: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..dim)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn prepared(metric: Metric, dim: usize, seed: u64) -> Vec<f32> {
    let mut v = vector(dim, seed);
    metric.prepare(&mut v);
    v
}

/// One kernel call per iteration, dispatch hoisted (as the ANN search loops do).
fn kernels(c: &mut Criterion) {
    eprintln!("simsimd f32 kernels dispatch to: {}", simsimd_target());
    let mut group = c.benchmark_group("kernel");
    for metric in Metric::ALL {
        for dim in DIMS {
            let a = prepared(metric, dim, 1);
            let b = prepared(metric, dim, 2);
            group.throughput(Throughput::Elements(dim as u64));
            for backend in Backend::ALL {
                let f = distance_fn_with(backend, metric);
                let id = BenchmarkId::new(format!("{backend}/{metric}"), dim);
                group.bench_with_input(id, &(&a, &b), |bench, (a, b)| {
                    bench.iter(|| f(black_box(a), black_box(b)))
                });
            }
        }
    }
    group.finish();
}

/// `n` prepared rows of `dim` in a 64-byte aligned window of a buffer (as a
/// segment's data section is): returns the buffer and the window's offset.
fn aligned_rows(metric: Metric, dim: usize, n: usize) -> (Vec<f32>, usize) {
    let mut buf = vec![0.0f32; n * dim + 16];
    let off = buf.as_ptr().align_offset(64);
    for r in 0..n {
        buf[off + r * dim..off + (r + 1) * dim].copy_from_slice(&prepared(
            metric,
            dim,
            100 + r as u64,
        ));
    }
    (buf, off)
}

/// One 64 KiB tile of rows against one query (simsimd per row, strided) and
/// against 64 queries (tile kernel); throughput in (query, row) pairs.
fn scan(c: &mut Criterion) {
    eprintln!("tile kernels dispatch to: {}", tile_backend());
    let mut group = c.benchmark_group("scan");
    for metric in [Metric::Cosine, Metric::L2] {
        for dim in DIMS {
            let nrows = TILE_BYTES / (dim * 4);
            let (buf, off) = aligned_rows(metric, dim, nrows);
            let rows = &buf[off..off + nrows * dim];
            let queries: Vec<Vec<f32>> = (0..TILE_QUERIES)
                .map(|q| prepared(metric, dim, 3 + q as u64))
                .collect();
            let query_refs: Vec<&[f32]> = queries.iter().map(Vec::as_slice).collect();
            let query = query_refs[0];

            group.throughput(Throughput::Elements(nrows as u64));
            let kernel = metric.distance_fn();
            let mut out = vec![0.0f32; nrows];
            group.bench_function(
                BenchmarkId::new(format!("{metric}/simsimd"), dim),
                |bench| {
                    bench.iter(|| {
                        let query = black_box(query);
                        for (row, slot) in rows.chunks_exact(dim).zip(out.iter_mut()) {
                            *slot = kernel(query, row);
                        }
                        black_box(&out);
                    })
                },
            );
            group.bench_function(
                BenchmarkId::new(format!("{metric}/strided"), dim),
                |bench| {
                    bench.iter(|| {
                        batch::distances_strided(
                            metric,
                            black_box(query),
                            black_box(rows),
                            dim,
                            &mut out,
                        );
                        black_box(&out);
                    })
                },
            );

            group.throughput(Throughput::Elements((TILE_QUERIES * nrows) as u64));
            let mut out = vec![0.0f32; TILE_QUERIES * nrows];
            group.bench_function(
                BenchmarkId::new(format!("{metric}/tile{TILE_QUERIES}"), dim),
                |bench| {
                    bench.iter(|| {
                        tile::distances_tile(
                            metric,
                            black_box(&query_refs),
                            black_box(rows),
                            dim,
                            &mut out,
                        );
                        black_box(&out);
                    })
                },
            );
        }
    }
    group.finish();
}

/// Short runs (75 benchmarks; the machine is shared, so compare medians of
/// repeated runs rather than single numbers).
fn config() -> Criterion {
    Criterion::default()
        .measurement_time(Duration::from_millis(700))
        .warm_up_time(Duration::from_millis(200))
        .sample_size(20)
}

criterion_group! {
    name = benches;
    config = config();
    targets = kernels, scan
}
criterion_main!(benches);
