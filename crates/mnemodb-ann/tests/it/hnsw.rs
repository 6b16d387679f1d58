//! HNSW: recall floors, graph invariants, filters, tombstones, bad input, persistence,
//! determinism. Synthetic seeded data only.
use std::collections::{HashSet, VecDeque};
use std::path::Path;

use mnemodb_ann::hnsw::{
    HnswBuilder, HnswGraph, HnswIndex, HnswParams, LiveHnsw, Rows, SearchOptions,
};
use mnemodb_ann::{Error, Hit};
use mnemodb_dataset::{Neighbors, Vectors, exact_knn, recall_at_k, synthetic};
use mnemodb_distance::Metric;
use mnemodb_io::{Fs, MemFs, StdFs};
use mnemodb_segment::{SegmentOptions, SegmentReader, SegmentWriter};
use mnemodb_testkit::test_seed;
use roaring::RoaringBitmap;

pub fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

/// `n` clustered unit vectors of `dim` and `q` queries near them.
pub fn data(n: usize, q: usize, dim: usize, seed: u64) -> (Vectors, Vectors) {
    let base = synthetic::Clustered::new(dim, 40, seed)
        .spread(0.5)
        .normalize(true)
        .sample(n, seed + 1);
    let queries = synthetic::queries_near(&base, q, 0.5, seed + 2);
    (base, queries)
}

/// Write `base` as a segment (ids = 1000 + row) and open it.
pub fn segment(
    fs: &dyn Fs,
    path: &Path,
    base: &Vectors,
    metric: Metric,
    generation: u64,
) -> SegmentReader {
    if let Some(dir) = path.parent() {
        fs.create_dir_all(dir).unwrap();
    }
    let mut w = SegmentWriter::create(
        fs,
        path,
        SegmentOptions::new(base.dim as u32, metric, generation),
    )
    .unwrap();
    for (i, row) in base.rows().enumerate() {
        w.push(1000 + i as u64, row).unwrap();
    }
    w.finish().unwrap();
    SegmentReader::open(fs, path).unwrap()
}

fn rows_of(hits: &[Vec<Hit>]) -> Vec<Vec<u64>> {
    hits.iter()
        .map(|h| h.iter().map(|x| x.id).collect())
        .collect()
}

fn params(m: usize, efc: usize) -> HnswParams {
    let mut p = HnswParams::with_m(m);
    p.ef_construction = efc;
    p
}

/// [`params`] with SQ8 codes stored (the engine's configuration).
fn sq8_params(m: usize, efc: usize) -> HnswParams {
    HnswParams {
        sq8: true,
        ..params(m, efc)
    }
}

/// Every node reachable on level 0 from the entry point; degree ≤ bound; no self links;
/// ids in range; upper links only to nodes of that level.
pub fn check_invariants(g: &HnswGraph, skip: &RoaringBitmap) {
    let n = g.len();
    for node in 0..n as u32 {
        let top = g.level(node).unwrap();
        assert!(top <= g.max_level());
        for level in 0..=top {
            let ns = g.neighbors(node, level);
            let cap = if level == 0 { g.m0() } else { g.m() };
            assert!(
                ns.len() <= cap,
                "node {node} level {level} degree {}",
                ns.len()
            );
            let set: HashSet<u32> = ns.iter().copied().collect();
            assert_eq!(set.len(), ns.len(), "duplicate links at {node}");
            for &x in ns {
                assert!((x as usize) < n && x != node);
                assert!(g.level(x).unwrap() >= level);
            }
        }
    }
    let Some(e) = g.entry_point() else {
        assert_eq!(n, 0);
        return;
    };
    assert_eq!(g.level(e), Some(g.max_level()));
    let mut seen = vec![false; n];
    let mut queue = VecDeque::from([e]);
    seen[e as usize] = true;
    while let Some(x) = queue.pop_front() {
        for &y in g.neighbors(x, 0) {
            if !seen[y as usize] {
                seen[y as usize] = true;
                queue.push_back(y);
            }
        }
    }
    let unreachable: Vec<usize> = (0..n)
        .filter(|&i| !seen[i] && !skip.contains(i as u32))
        .collect();
    assert!(unreachable.is_empty(), "unreachable nodes: {unreachable:?}");
    g.verify().unwrap();
}

fn recall(
    graph: &HnswGraph,
    rows: Rows<'_>,
    queries: &Vectors,
    truth: &Neighbors,
    ef: usize,
) -> f64 {
    let hits: Vec<Vec<Hit>> = queries
        .rows()
        .map(|q| graph.search(rows, q, 10, &SearchOptions::ef(ef)).unwrap())
        .collect();
    recall_at_k(&rows_of(&hits), truth, 10).unwrap()
}

#[test]
fn recall_floor_cosine_parallel_build() {
    let seed = test_seed("recall_floor_cosine_parallel_build");
    let (base, queries) = data(6000, 200, 48, seed);
    let truth = exact_knn(Metric::Cosine, &base, &queries, 10).unwrap();
    let rows = Rows::new(&base.data, base.dim).unwrap();
    let graph = HnswBuilder::new(Metric::Cosine, params(16, 100))
        .unwrap()
        .build(&pool(2), rows)
        .unwrap();
    check_invariants(&graph, &RoaringBitmap::new());
    let r32 = recall(&graph, rows, &queries, &truth, 32);
    let r128 = recall(&graph, rows, &queries, &truth, 128);
    eprintln!("recall@10 ef=32 {r32:.4} ef=128 {r128:.4}");
    // Measured ≈ 0.81 / 0.98 on this data (high intrinsic dimension); floors with margin.
    assert!(r32 >= 0.72, "ef=32 recall {r32}");
    assert!(r128 >= 0.95, "ef=128 recall {r128}");
}

#[test]
fn recall_floor_every_metric_and_selection_mode() {
    let seed = test_seed("recall_floor_every_metric_and_selection_mode");
    let (base, queries) = data(2000, 100, 16, seed);
    for metric in Metric::ALL {
        for (heuristic, keep_pruned, extend) in [
            (true, true, false),
            (true, false, true),
            (false, false, false),
        ] {
            let mut p = params(12, 64);
            p.heuristic = heuristic;
            p.keep_pruned = keep_pruned;
            p.extend_candidates = extend;
            let truth = exact_knn(metric, &base, &queries, 10).unwrap();
            let rows = Rows::new(&base.data, base.dim).unwrap();
            let graph = HnswBuilder::new(metric, p)
                .unwrap()
                .build(&pool(2), rows)
                .unwrap();
            graph.verify().unwrap();
            let r = recall(&graph, rows, &queries, &truth, 64);
            eprintln!("{metric} heuristic={heuristic} keep={keep_pruned} extend={extend}: {r:.4}");
            // Measured ≈ 0.99 with the heuristic, 0.68–0.82 with plain closest-m selection
            // (the ablation: it strands clusters on this data).
            let floor = if heuristic { 0.88 } else { 0.55 };
            assert!(r >= floor, "{metric} heuristic={heuristic}: recall {r}");
        }
    }
}

#[test]
fn deterministic_mode_gives_identical_bytes() {
    let (base, _) = data(1500, 1, 16, 7);
    let fs = MemFs::new();
    let seg = segment(&fs, Path::new("/db/seg-1.vec"), &base, Metric::Cosine, 3);
    let build = || {
        let g = HnswBuilder::new(Metric::Cosine, params(8, 40))
            .unwrap()
            .deterministic(true)
            .build(&pool(2), Rows::from(&seg))
            .unwrap();
        HnswIndex::from_parts(g, &seg).unwrap().to_bytes().unwrap()
    };
    let (a, b) = (build(), build());
    assert_eq!(a, b);
    let mut other = params(8, 40);
    other.seed ^= 1;
    let c = HnswBuilder::new(Metric::Cosine, other)
        .unwrap()
        .deterministic(true)
        .build(&pool(1), Rows::from(&seg))
        .unwrap();
    assert_ne!(
        HnswIndex::from_parts(c, &seg).unwrap().to_bytes().unwrap(),
        a
    );
}

#[test]
fn persistence_round_trip_gives_identical_results() {
    let (base, queries) = data(3000, 100, 24, 11);
    let dir = mnemodb_testkit::scratch_dir();
    let seg_path = dir.path().join("seg-9.vec");
    let idx_path = dir.path().join("seg-9.hnsw");
    let seg = segment(&StdFs, &seg_path, &base, Metric::Cosine, 9);
    let built = HnswIndex::build(&pool(2), &seg, params(12, 80)).unwrap();
    let info = built.write(&StdFs, &idx_path).unwrap();
    assert_eq!(info.file_len, std::fs::metadata(&idx_path).unwrap().len());
    assert!(!StdFs.exists(&mnemodb_io::temp_path(&idx_path)).unwrap());
    let opened = HnswIndex::open(&StdFs, &idx_path, &seg).unwrap();
    assert!(opened.graph().is_mapped());
    opened.verify().unwrap();
    assert_eq!(
        opened.to_bytes().unwrap(),
        std::fs::read(&idx_path).unwrap()
    );
    check_invariants(opened.graph(), &RoaringBitmap::new());
    for q in queries.rows() {
        for ef in [10, 50] {
            let a = built.search(q, 10, &SearchOptions::ef(ef)).unwrap();
            let b = opened.search(q, 10, &SearchOptions::ef(ef)).unwrap();
            assert_eq!(a, b);
            assert!(a.iter().all(|h| h.id >= 1000 && h.id < 4000), "segment ids");
        }
    }
    // The same on the in-memory file system (a heap copy, not a map).
    let fs = MemFs::new();
    let mseg = segment(&fs, Path::new("/db/seg-9.vec"), &base, Metric::Cosine, 9);
    let mbuilt = HnswIndex::from_parts(built.graph().clone(), &mseg).unwrap();
    mbuilt.write(&fs, Path::new("/db/seg-9.hnsw")).unwrap();
    let mopened = HnswIndex::open(&fs, Path::new("/db/seg-9.hnsw"), &mseg).unwrap();
    mopened.verify().unwrap();
    let q = queries.row(0);
    assert_eq!(
        mopened.search(q, 5, &SearchOptions::default()).unwrap(),
        built.search(q, 5, &SearchOptions::default()).unwrap()
    );
}

/// Exact filtered top-k by brute force over allowed rows.
fn exact_filtered(
    metric: Metric,
    base: &Vectors,
    q: &[f32],
    k: usize,
    ok: impl Fn(u32) -> bool,
) -> Vec<u64> {
    let mut qp = q.to_vec();
    metric.prepare(&mut qp);
    let mut d: Vec<(f32, u64)> = base
        .rows()
        .enumerate()
        .filter(|(i, _)| ok(*i as u32))
        .map(|(i, r)| {
            let mut rp = r.to_vec();
            metric.prepare(&mut rp);
            (metric.distance(&qp, &rp), i as u64)
        })
        .collect();
    d.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    d.into_iter().take(k).map(|x| x.1).collect()
}

fn overlap(a: &[u64], b: &[u64]) -> f64 {
    let sa: HashSet<u64> = a.iter().copied().collect();
    if b.is_empty() {
        return 1.0;
    }
    b.iter().filter(|x| sa.contains(x)).count() as f64 / b.len() as f64
}

#[test]
fn filtered_search_matches_exact_at_every_selectivity() {
    let seed = test_seed("filtered_search_matches_exact_at_every_selectivity");
    let (base, queries) = data(8000, 60, 24, seed);
    let rows = Rows::new(&base.data, base.dim).unwrap();
    let graph = HnswBuilder::new(Metric::Cosine, params(12, 80))
        .unwrap()
        .build(&pool(2), rows)
        .unwrap();
    for selectivity in [0.001, 0.01, 0.1, 0.5] {
        let stride = (1.0 / selectivity) as u32;
        let allow: RoaringBitmap = (0..8000u32)
            .filter(|r| r.wrapping_mul(2654435761) % stride == 0)
            .collect();
        for (label, fraction) in [("auto", None), ("graph", Some(0.0))] {
            let mut total = 0.0;
            for q in queries.rows() {
                let mut opts = SearchOptions::ef(128).allow(&allow);
                opts.exact_fraction = fraction;
                let hits = graph.search(rows, q, 10, &opts).unwrap();
                assert!(hits.iter().all(|h| allow.contains(h.id as u32)));
                let ids: Vec<u64> = hits.iter().map(|h| h.id).collect();
                let truth = exact_filtered(Metric::Cosine, &base, q, 10, |r| allow.contains(r));
                assert_eq!(ids.len(), truth.len().min(10));
                total += overlap(&ids, &truth);
            }
            let r = total / queries.len() as f64;
            eprintln!(
                "selectivity {selectivity} ({} rows) {label}: recall {r:.4}",
                allow.len()
            );
            let floor = if fraction.is_none() { 0.98 } else { 0.90 };
            assert!(r >= floor, "selectivity {selectivity} {label}: recall {r}");
        }
    }
}

#[test]
fn tombstones_are_never_returned_and_rebuild_drops_them() {
    let (base, queries) = data(3000, 50, 16, 5);
    let fs = MemFs::new();
    let seg = segment(&fs, Path::new("/db/seg-2.vec"), &base, Metric::L2, 2);
    let index = HnswIndex::build(&pool(2), &seg, params(10, 60)).unwrap();
    let tomb: RoaringBitmap = (0..3000u32).filter(|r| r % 4 == 0).collect();
    assert!(index.needs_rebuild(&tomb), "25% > 20%");
    let few: RoaringBitmap = (0..3000u32).filter(|r| r % 10 == 0).collect();
    assert!(!index.needs_rebuild(&few));
    let opts = SearchOptions::ef(64).tombstones(&tomb);
    let mut total = 0.0;
    for q in queries.rows() {
        let mut out = Vec::new();
        index.search_rows_into(q, 10, &opts, &mut out).unwrap();
        assert!(out.iter().all(|h| !tomb.contains(h.id as u32)));
        let truth = exact_filtered(Metric::L2, &base, q, 10, |r| !tomb.contains(r));
        total += overlap(&out.iter().map(|h| h.id).collect::<Vec<_>>(), &truth);
    }
    assert!(total / queries.len() as f64 >= 0.95);
    let rebuilt = index.rebuild(&pool(2), &tomb, params(10, 60)).unwrap();
    let mut skip = tomb.clone();
    skip.insert(u32::MAX);
    check_invariants(rebuilt.graph(), &skip);
    for &r in &[0u32, 4, 2996] {
        assert!(rebuilt.graph().neighbors(r, 0).is_empty());
    }
    let mut total = 0.0;
    for q in queries.rows() {
        let mut out = Vec::new();
        rebuilt
            .search_rows_into(q, 10, &SearchOptions::ef(64), &mut out)
            .unwrap();
        assert!(
            out.iter().all(|h| !tomb.contains(h.id as u32)),
            "rebuilt graph returns no deleted row"
        );
        let truth = exact_filtered(Metric::L2, &base, q, 10, |r| !tomb.contains(r));
        total += overlap(&out.iter().map(|h| h.id).collect::<Vec<_>>(), &truth);
    }
    assert!(total / queries.len() as f64 >= 0.95);
    // All rows deleted: nothing to return.
    let all: RoaringBitmap = (0..3000u32).collect();
    assert!(
        index
            .search(
                queries.row(0),
                5,
                &SearchOptions::default().tombstones(&all)
            )
            .unwrap()
            .is_empty()
    );
}

#[test]
fn bad_input_gives_typed_errors_or_defined_results() {
    let (base, _) = data(300, 1, 8, 3);
    let rows = Rows::new(&base.data, base.dim).unwrap();
    let graph = HnswBuilder::new(Metric::Cosine, params(8, 32))
        .unwrap()
        .build(&pool(1), rows)
        .unwrap();
    let q = base.row(7).to_vec();
    let o = SearchOptions::default();
    assert!(matches!(graph.search(rows, &q, 0, &o), Err(Error::ZeroK)));
    assert!(matches!(
        graph.search(rows, &q[..7], 1, &o),
        Err(Error::InvalidQuery(_))
    ));
    assert!(matches!(
        graph.search(rows, &[f32::NAN; 8], 1, &o),
        Err(Error::InvalidQuery(_))
    ));
    assert!(matches!(
        graph.search(rows, &[], 1, &o),
        Err(Error::InvalidQuery(_))
    ));
    // k > count with ef ≥ count: every row, sorted, distinct.
    let all = graph
        .search(rows, &q, 1000, &SearchOptions::ef(1000))
        .unwrap();
    assert_eq!(all.len(), 300);
    assert!(all.windows(2).all(|w| w[0].distance <= w[1].distance));
    assert_eq!(all.iter().map(|h| h.id).collect::<HashSet<_>>().len(), 300);
    assert_eq!(all[0].id, 7);
    // ef < k is raised to k.
    let hits = graph.search(rows, &q, 50, &SearchOptions::ef(1)).unwrap();
    assert_eq!(hits.len(), 50);
    // Zero vector under cosine: defined (distance 1 to everything).
    let z = graph.search(rows, &[0.0; 8], 3, &o).unwrap();
    assert!(z.iter().all(|h| (h.distance - 1.0).abs() < 1e-6));
    // Empty graph.
    let empty_rows = Rows::new(&[], 8).unwrap();
    let empty = HnswBuilder::new(Metric::L2, params(8, 32))
        .unwrap()
        .build(&pool(1), empty_rows)
        .unwrap();
    assert!(empty.is_empty() && empty.entry_point().is_none());
    empty.verify().unwrap();
    assert!(
        empty
            .search(empty_rows, &[0.0; 8], 5, &o)
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        empty.search(empty_rows, &[0.0; 8], 0, &o),
        Err(Error::ZeroK)
    ));
    // One row.
    let one = Rows::new(&q, 8).unwrap();
    let g1 = HnswBuilder::new(Metric::Cosine, params(8, 32))
        .unwrap()
        .build(&pool(1), one)
        .unwrap();
    assert_eq!(g1.search(one, &q, 5, &o).unwrap().len(), 1);
    // Rows of another dimension than the graph.
    let four = Rows::new(&q[..4], 4).unwrap();
    assert!(matches!(
        graph.search(four, &q, 1, &o),
        Err(Error::SegmentMismatch(_))
    ));
    // Bad parameters.
    assert!(matches!(
        HnswBuilder::new(Metric::L2, HnswParams::with_m(1)),
        Err(Error::InvalidParams(_))
    ));
    assert!(Rows::new(&[1.0, 2.0, 3.0], 2).is_err());
    assert!(LiveHnsw::new(Metric::L2, 0, HnswParams::default()).is_err());
}

#[test]
fn graph_index_binds_to_its_segment() {
    let (base, _) = data(200, 1, 8, 13);
    let fs = MemFs::new();
    let seg = segment(&fs, Path::new("/db/seg-1.vec"), &base, Metric::L2, 1);
    let (small, _) = data(100, 1, 8, 13);
    let other = segment(&fs, Path::new("/db/seg-2.vec"), &small, Metric::L2, 1);
    let g = HnswBuilder::new(Metric::L2, params(8, 32))
        .unwrap()
        .build(&pool(1), Rows::from(&seg))
        .unwrap();
    assert!(matches!(
        HnswIndex::from_parts(g, &other),
        Err(Error::SegmentMismatch(_))
    ));
}

#[test]
fn sq8_traversal_keeps_recall_and_every_build_mode_agrees() {
    let seed = test_seed("sq8_traversal_keeps_recall_and_every_build_mode_agrees");
    let (base, queries) = data(6000, 200, 48, seed);
    let rows = Rows::new(&base.data, base.dim).unwrap();
    for metric in [Metric::Cosine, Metric::L2] {
        let truth = exact_knn(metric, &base, &queries, 10).unwrap();
        let recall_with = |graph: &HnswGraph, ef: usize, exact_walk: bool| {
            let mut opts = SearchOptions::ef(ef);
            opts.tuning.exact_traversal = exact_walk;
            let hits: Vec<Vec<Hit>> = queries
                .rows()
                .map(|q| graph.search(rows, q, 10, &opts).unwrap())
                .collect();
            recall_at_k(&rows_of(&hits), &truth, 10).unwrap()
        };
        for quantized_build in [true, false] {
            let graph = HnswBuilder::new(metric, sq8_params(16, 100))
                .unwrap()
                .quantized_build(quantized_build)
                .build(&pool(2), rows)
                .unwrap();
            assert!(graph.has_sq8());
            assert_eq!(graph.sq8_bytes(), 6000 * 48 + 8 * 48);
            check_invariants(&graph, &RoaringBitmap::new());
            let (q32, f32w) = (
                recall_with(&graph, 32, false),
                recall_with(&graph, 32, true),
            );
            let q128 = recall_with(&graph, 128, false);
            eprintln!(
                "{metric} quantized build {quantized_build}: SQ8 walk ef 32 {q32:.4} \
                 (f32 walk {f32w:.4}), ef 128 {q128:.4}"
            );
            // Same floors as the f32 walk (measured ≈ 0.81 / 0.98 on this data), and the
            // SQ8 walk within 0.03 of the f32 walk on the same graph.
            assert!(q32 >= 0.72, "{metric}: SQ8 walk ef=32 recall {q32}");
            assert!(q128 >= 0.95, "{metric}: SQ8 walk ef=128 recall {q128}");
            assert!(q32 >= f32w - 0.03, "{metric}: SQ8 {q32} vs f32 {f32w}");
        }
        // Without codes, searches walk on the f32 rows.
        let mut p = params(16, 100);
        p.sq8 = false;
        let plain = HnswBuilder::new(metric, p)
            .unwrap()
            .build(&pool(2), rows)
            .unwrap();
        assert!(!plain.has_sq8());
        assert_eq!(plain.sq8_bytes(), 0);
        assert_eq!(
            recall_with(&plain, 32, false),
            recall_with(&plain, 32, true)
        );
    }
}

#[test]
fn sq8_section_round_trips_and_files_without_it_still_open() {
    let (base, queries) = data(2000, 50, 24, 12);
    let fs = MemFs::new();
    let seg = segment(&fs, Path::new("/db/seg-3.vec"), &base, Metric::Cosine, 3);
    let built = HnswIndex::build(&pool(2), &seg, sq8_params(12, 80)).unwrap();
    assert!(built.graph().has_sq8());
    built.write(&fs, Path::new("/db/seg-3.hnsw")).unwrap();
    let opened = HnswIndex::open(&fs, Path::new("/db/seg-3.hnsw"), &seg).unwrap();
    opened.verify().unwrap();
    assert!(opened.graph().has_sq8());
    assert_eq!(opened.graph().sq8_bytes(), built.graph().sq8_bytes());
    assert_eq!(opened.to_bytes().unwrap(), built.to_bytes().unwrap());
    // Without the codes: a smaller file, and the same graph.
    let plain = built.clone().with_sq8(false);
    let plain_bytes = plain.to_bytes().unwrap();
    // Codes and parameters, plus at most 63 bytes of alignment padding before them.
    let extra = built.to_bytes().unwrap().len() - plain_bytes.len();
    let section = 2000 * 24 + 8 * 24;
    assert!((section..section + 64).contains(&extra), "{extra}");
    let reopened = HnswIndex::from_bytes(
        mnemodb_io::ReadOnlyBytes::copy_from_slice(&plain_bytes),
        Path::new("plain.hnsw"),
        &seg,
    )
    .unwrap();
    reopened.verify().unwrap();
    assert!(!reopened.graph().has_sq8());
    // Trained again on the segment: the same codes as the build's.
    let retrained = reopened.with_sq8(true);
    assert_eq!(retrained.to_bytes().unwrap(), built.to_bytes().unwrap());
    for q in queries.rows() {
        for ef in [10, 50] {
            let opts = SearchOptions::ef(ef);
            let a = built.search(q, 10, &opts).unwrap();
            assert_eq!(a, opened.search(q, 10, &opts).unwrap());
            assert_eq!(a, retrained.search(q, 10, &opts).unwrap());
        }
    }
}
