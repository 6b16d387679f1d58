//! Exact search against a brute-force f64 model.
use std::path::{Path, PathBuf};

use mnemodb_ann::flat::{self, BatchStrategy, Target};
use mnemodb_ann::{Error, Hit};
use mnemodb_distance::{Metric, reference};
use mnemodb_io::{Fs, MemFs};
use mnemodb_segment::{SegmentOptions, SegmentReader, SegmentWriter};
use mnemodb_testkit::vectors;
use proptest::prelude::*;
use roaring::RoaringBitmap;

fn pool() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap()
}

/// Segments of `sizes` rows each; ids are globally unique (segment s, row r → s*10_000 + r).
fn segments(
    fs: &MemFs,
    metric: Metric,
    dim: usize,
    sizes: &[usize],
    seed: u64,
) -> (Vec<SegmentReader>, Vec<(u64, Vec<f32>)>) {
    fs.create_dir_all(Path::new("/db")).unwrap();
    let mut readers = Vec::new();
    let mut all = Vec::new();
    for (s, &n) in sizes.iter().enumerate() {
        let path = PathBuf::from(format!("/db/seg-{s}.vec"));
        let mut opts = SegmentOptions::new(dim as u32, metric, s as u64);
        opts.block_rows = Some(32);
        let mut w = SegmentWriter::create(fs, &path, opts).unwrap();
        for (r, v) in vectors::random_rows(n, dim, seed + s as u64)
            .into_iter()
            .enumerate()
        {
            let id = (s * 10_000 + r) as u64;
            w.push(id, &v).unwrap();
            all.push((id, v));
        }
        w.finish().unwrap();
        readers.push(SegmentReader::open(fs, &path).unwrap());
    }
    (readers, all)
}

/// The model: f64 distances on the unprepared vectors, sorted by (distance, id).
fn brute_force(metric: Metric, rows: &[(u64, Vec<f32>)], q: &[f32], k: usize) -> Vec<(u64, f64)> {
    let mut d: Vec<(u64, f64)> = rows
        .iter()
        .map(|(id, v)| (*id, reference::distance(metric, q, v)))
        .collect();
    d.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    d.truncate(k);
    d
}

/// Results agree with the model up to float rounding: same distances (tolerance), and the
/// same ids except where two model distances are within tolerance of each other.
fn assert_matches_model(got: &[Hit], want: &[(u64, f64)], tol: f64) {
    assert_eq!(got.len(), want.len());
    for (i, (h, (id, d))) in got.iter().zip(want).enumerate() {
        assert!(
            (h.distance as f64 - d).abs() <= tol * (1.0 + d.abs()),
            "rank {i}: {} vs {d}",
            h.distance
        );
        if h.id != *id {
            let other = want.iter().find(|(x, _)| *x == h.id).map(|(_, d)| *d);
            let near_tie = other.is_some_and(|o| (o - d).abs() <= 2.0 * tol * (1.0 + d.abs()));
            assert!(near_tie, "rank {i}: got id {} want {id}", h.id);
        }
    }
    for w in got.windows(2) {
        assert!(w[0].rank_cmp(&w[1]).is_lt(), "results sorted and distinct");
    }
}

#[test]
fn matches_brute_force_for_every_metric_and_strategy() {
    let pool = pool();
    for metric in Metric::ALL {
        let fs = MemFs::new();
        let (segs, all) = segments(&fs, metric, 19, &[700, 0, 333, 1], 11);
        let targets: Vec<Target<'_>> = segs.iter().map(Target::from).collect();
        let queries = vectors::random_rows(20, 19, 99);
        for strategy in [
            BatchStrategy::PerQuery,
            BatchStrategy::Tiled,
            BatchStrategy::Auto,
        ] {
            let got = flat::search_batch_with(&pool, &targets, &queries, 10, strategy).unwrap();
            for (q, hits) in queries.iter().zip(&got) {
                assert_matches_model(hits, &brute_force(metric, &all, q, 10), 1e-4);
            }
        }
        let single = flat::search(&pool, &targets, &queries[3], 10).unwrap();
        let tiled =
            flat::search_batch_with(&pool, &targets, &queries, 10, BatchStrategy::Tiled).unwrap();
        assert_eq!(
            single, tiled[3],
            "{metric}: one query = its row of a batch, bit for bit"
        );
    }
}

#[test]
fn allow_list_restricts_candidates() {
    let pool = pool();
    let fs = MemFs::new();
    let (segs, all) = segments(&fs, Metric::L2, 8, &[500, 500], 3);
    let allow0: RoaringBitmap = (0..500u32).filter(|r| r % 7 == 0).collect();
    let allow1: RoaringBitmap = [3u32, 499, 10_000].into_iter().collect(); // out-of-range row ignored
    let targets = [
        Target {
            segment: &segs[0],
            allow: Some(&allow0),
        },
        Target {
            segment: &segs[1],
            allow: Some(&allow1),
        },
    ];
    let allowed: Vec<(u64, Vec<f32>)> = all
        .into_iter()
        .filter(|(id, _)| {
            let (s, r) = (*id / 10_000, (*id % 10_000) as u32);
            if s == 0 {
                allow0.contains(r)
            } else {
                r == 3 || r == 499
            }
        })
        .collect();
    let q = vectors::random_rows(1, 8, 5).remove(0);
    let got = flat::search(&pool, &targets, &q, 1000).unwrap();
    assert_eq!(
        got.len(),
        allowed.len(),
        "k beyond the candidates returns all of them"
    );
    assert_matches_model(&got, &brute_force(Metric::L2, &allowed, &q, 1000), 1e-4);
    let empty = RoaringBitmap::new();
    let none = flat::search(
        &pool,
        &[Target {
            segment: &segs[0],
            allow: Some(&empty),
        }],
        &q,
        5,
    )
    .unwrap();
    assert!(none.is_empty());
}

#[test]
fn ties_are_broken_by_lower_id() {
    let pool = pool();
    let fs = MemFs::new();
    fs.create_dir_all(Path::new("/db")).unwrap();
    let mut w = SegmentWriter::create(
        &fs,
        Path::new("/db/s.vec"),
        SegmentOptions::new(2, Metric::L2, 1),
    )
    .unwrap();
    for id in [9u64, 3, 7, 1, 5] {
        w.push(id, &[1.0, 1.0]).unwrap();
    }
    w.finish().unwrap();
    let seg = SegmentReader::open(&fs, Path::new("/db/s.vec")).unwrap();
    let got = flat::search(&pool, &[Target::from(&seg)], &[0.0, 0.0], 3).unwrap();
    assert_eq!(got.iter().map(|h| h.id).collect::<Vec<_>>(), [1, 3, 5]);
}

#[test]
fn bad_input_is_typed() {
    let pool = pool();
    let fs = MemFs::new();
    let (segs, _) = segments(&fs, Metric::Cosine, 4, &[10], 1);
    let t = [Target::from(&segs[0])];
    assert!(matches!(
        flat::search(&pool, &t, &[1.0, 2.0, 3.0, 4.0], 0),
        Err(Error::ZeroK)
    ));
    assert!(matches!(
        flat::search(&pool, &t, &[1.0, 2.0], 3),
        Err(Error::InvalidQuery(_))
    ));
    assert!(matches!(
        flat::search(&pool, &t, &[1.0, f32::NAN, 0.0, 0.0], 3),
        Err(Error::InvalidQuery(_))
    ));
    // A zero query under cosine is defined: every distance is 1.
    let zero = flat::search(&pool, &t, &[0.0; 4], 3).unwrap();
    assert!(zero.iter().all(|h| h.distance == 1.0));
    // No segments: empty result, not an error.
    assert!(flat::search(&pool, &[], &[1.0, 2.0], 3).unwrap().is_empty());
    // Mixed shapes are refused.
    let fs2 = MemFs::new();
    let (other, _) = segments(&fs2, Metric::Cosine, 5, &[3], 2);
    let mixed = [Target::from(&segs[0]), Target::from(&other[0])];
    assert!(matches!(
        flat::search(&pool, &mixed, &[0.0; 4], 3),
        Err(Error::SegmentMismatch(_))
    ));
}

#[test]
fn extreme_finite_values_never_panic_or_nan() {
    let pool = pool();
    let fs = MemFs::new();
    fs.create_dir_all(Path::new("/db")).unwrap();
    for metric in Metric::ALL {
        let path = PathBuf::from(format!("/db/x-{metric}.vec"));
        let mut w = SegmentWriter::create(&fs, &path, SegmentOptions::new(3, metric, 1)).unwrap();
        w.push(1, &[3e38, -3e38, 3e38]).unwrap();
        w.push(2, &[-3e38, 3e38, 1.0]).unwrap();
        w.push(3, &[0.0, 0.0, 0.0]).unwrap();
        w.finish().unwrap();
        let seg = SegmentReader::open(&fs, &path).unwrap();
        let got = flat::search(&pool, &[Target::from(&seg)], &[3e38, 3e38, -3e38], 3).unwrap();
        assert_eq!(got.len(), 3);
        assert!(
            got.iter().all(|h| !h.distance.is_nan()),
            "{metric}: {got:?}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn batch_equals_per_query((dim, rows) in vectors::matrix(24, 120), nq in 1usize..6, k in 1usize..20) {
        let pool = pool();
        let fs = MemFs::new();
        fs.create_dir_all(Path::new("/db")).unwrap();
        let mut w = SegmentWriter::create(&fs, Path::new("/db/p.vec"), SegmentOptions::new(dim as u32, Metric::InnerProduct, 1)).unwrap();
        for (i, r) in rows.iter().enumerate() { w.push(i as u64, r).unwrap(); }
        w.finish().unwrap();
        let seg = SegmentReader::open(&fs, Path::new("/db/p.vec")).unwrap();
        let queries = vectors::random_rows(nq, dim, 7);
        let t = [Target::from(&seg)];
        let a = flat::search_batch_with(&pool, &t, &queries, k, BatchStrategy::PerQuery).unwrap();
        let b = flat::search_batch_with(&pool, &t, &queries, k, BatchStrategy::Tiled).unwrap();
        prop_assert_eq!(&a, &b);
        for hits in &a { prop_assert_eq!(hits.len(), k.min(rows.len())); }
    }
}
