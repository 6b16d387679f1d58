//! IVF: k-means invariants, list structure, recall floors against exact search, SQ8
//! re-ranking, degenerate inputs, persistence, corrupt files and the fuzz corpus.
use std::path::{Path, PathBuf};

use mnemodb_ann::flat::{self, Target};
use mnemodb_ann::ivf::kmeans::{self, KMeansParams, Points};
use mnemodb_ann::ivf::{
    Balance, CodeType, IvfIndex, IvfParams, IvfSearchParams, IvfTrained, fuzzing,
};
use mnemodb_ann::{Error, Hit};
use mnemodb_dataset::synthetic::Clustered;
use mnemodb_distance::Metric;
use mnemodb_io::{Fs, MemFs, ReadOnlyBytes, StdFs};
use mnemodb_segment::{SegmentOptions, SegmentReader, SegmentWriter};
use mnemodb_testkit::test_seed;
use roaring::RoaringBitmap;

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

fn segment(
    fs: &dyn Fs,
    name: &str,
    metric: Metric,
    dim: usize,
    rows: &[f32],
    generation: u64,
) -> SegmentReader {
    fs.create_dir_all(Path::new("/db")).unwrap();
    let path = PathBuf::from(format!("/db/{name}.vec"));
    let mut w = SegmentWriter::create(
        fs,
        &path,
        SegmentOptions::new(dim as u32, metric, generation),
    )
    .unwrap();
    for (i, v) in rows.chunks_exact(dim).enumerate() {
        w.push(1000 + i as u64, v).unwrap();
    }
    w.finish().unwrap();
    SegmentReader::open(fs, &path).unwrap()
}

fn clustered(n: usize, dim: usize, clusters: usize, seed: u64, normalize: bool) -> Vec<f32> {
    clustered_spread(n, dim, clusters, seed, normalize, 0.35)
}

fn clustered_spread(
    n: usize,
    dim: usize,
    clusters: usize,
    seed: u64,
    normalize: bool,
    spread: f32,
) -> Vec<f32> {
    Clustered::new(dim, clusters, seed)
        .spread(spread)
        .normalize(normalize)
        .sample(n, seed + 1)
        .data
}

fn ids(h: &[Hit]) -> Vec<u64> {
    h.iter().map(|h| h.id).collect()
}

fn recall(got: &[Vec<Hit>], truth: &[Vec<Hit>], k: usize) -> f64 {
    let mut hit = 0usize;
    for (g, t) in got.iter().zip(truth) {
        let t: Vec<u64> = t.iter().take(k).map(|h| h.id).collect();
        hit += g.iter().take(k).filter(|h| t.contains(&h.id)).count();
    }
    hit as f64 / (truth.len() * k) as f64
}

#[test]
fn kmeans_objective_decreases_and_is_deterministic_across_threads() {
    let seed = test_seed("kmeans_objective");
    for (metric, normalize) in [(Metric::L2, false), (Metric::Cosine, true)] {
        let data = clustered(3000, 16, 40, seed, normalize);
        let points = Points {
            data: &data,
            stride: 16,
            dim: 16,
        };
        let params = KMeansParams {
            iterations: 12,
            ..KMeansParams::for_metric(32, metric)
        };
        let a = kmeans::train(&pool(1), points, &params).unwrap();
        for w in a.objective.windows(2) {
            assert!(
                w[1] <= w[0] * (1.0 + 1e-5) + 1e-6,
                "{metric}: objective rose {:?}",
                a.objective
            );
        }
        assert!(a.objective.last().unwrap() < &(a.objective[0] * 1.0001));
        let b = kmeans::train(&pool(2), points, &params).unwrap();
        let c = kmeans::train(&pool(3), points, &params).unwrap();
        assert_eq!(a.centroids, b.centroids, "{metric}: 1 vs 2 threads");
        assert_eq!(a.centroids, c.centroids, "{metric}: 1 vs 3 threads");
        if metric == Metric::Cosine {
            for c in a.centroids.chunks_exact(16) {
                let n: f32 = c.iter().map(|x| x * x).sum();
                assert!((n - 1.0).abs() < 1e-4);
            }
        }
    }
}

#[test]
fn kmeans_repairs_empty_clusters_and_rejects_bad_input() {
    // 4 distinct points repeated: k = 8 leaves clusters empty; duplicates cannot split.
    let mut data = Vec::new();
    for i in 0..200 {
        data.extend_from_slice(&[(i % 4) as f32, 0.0]);
    }
    let km = kmeans::train(
        &pool(2),
        Points {
            data: &data,
            stride: 2,
            dim: 2,
        },
        &KMeansParams::new(8),
    )
    .unwrap();
    assert_eq!(km.k, 8);
    assert!(
        km.objective.last().unwrap().abs() < 1e-9,
        "{:?}",
        km.objective
    );
    let empty: [f32; 0] = [];
    assert!(
        kmeans::train(
            &pool(1),
            Points {
                data: &empty,
                stride: 2,
                dim: 2
            },
            &KMeansParams::new(2)
        )
        .is_err()
    );
    assert!(
        kmeans::train(
            &pool(1),
            Points {
                data: &[f32::NAN, 1.0],
                stride: 2,
                dim: 2
            },
            &KMeansParams::new(1)
        )
        .is_err()
    );
}

#[test]
fn every_row_lands_in_exactly_one_list_its_nearest() {
    let seed = test_seed("one_list");
    let fs = MemFs::new();
    let data = clustered(2000, 8, 20, seed, false);
    let seg = segment(&fs, "s", Metric::L2, 8, &data, 1);
    let p = pool(2);
    let trained = IvfTrained::train(&p, &seg, &IvfParams::new(25, CodeType::F32)).unwrap();
    let index = trained.build(&p, &seg).unwrap();
    let labels = trained.assign(&p, &seg);
    let mut seen = vec![0u32; seg.len()];
    for l in 0..index.nlist() {
        let rows = index.list_rows(l);
        assert!(rows.windows(2).all(|w| w[0] < w[1]));
        for &r in rows {
            seen[r as usize] += 1;
            assert_eq!(labels[r as usize] as usize, l);
        }
    }
    assert!(seen.iter().all(|&c| c == 1));
    assert_eq!(index.list_sizes().iter().sum::<usize>(), seg.len());
    let b = index.balance();
    assert!(!b.needs_retrain(), "{b:?}");
}

fn recall_case(metric: Metric, codes: CodeType, seed: u64) -> (f64, f64) {
    let fs = MemFs::new();
    let dim = 32;
    let normalize = metric == Metric::Cosine;
    // Overlapping clusters (spread 0.8 in 32-d), so a few lists are not enough.
    let data = clustered_spread(10_000, dim, 100, seed, normalize, 0.8);
    let queries = Clustered::new(dim, 100, seed)
        .spread(0.8)
        .normalize(normalize)
        .sample(200, seed + 2)
        .data;
    let seg = segment(&fs, "r", metric, dim, &data, 3);
    let p = pool(2);
    let index = IvfIndex::build(&p, &seg, &IvfParams::new(100, codes)).unwrap();
    let qs: Vec<&[f32]> = queries.chunks_exact(dim).collect();
    let truth = flat::search_batch(&p, &[Target::from(&seg)], &qs, 10).unwrap();
    let at = |nprobe| {
        let got = index
            .search_batch(&p, &seg, &qs, 10, &IvfSearchParams::new(nprobe))
            .unwrap();
        recall(&got, &truth, 10)
    };
    (at(8), at(100))
}

#[test]
fn recall_floors_flat_and_sq8() {
    let seed = test_seed("ivf_recall");
    for metric in [Metric::L2, Metric::Cosine, Metric::InnerProduct] {
        let (r8, rall) = recall_case(metric, CodeType::F32, seed);
        eprintln!("{metric} f32: recall@10 nprobe 8 = {r8:.3}, all = {rall:.3}");
        assert!(r8 >= 0.85, "{metric}: recall {r8}");
        assert!(rall >= 0.999, "{metric}: full probe must be exact, {rall}");
        let (s8, sall) = recall_case(metric, CodeType::Sq8, seed);
        eprintln!("{metric} sq8: recall@10 nprobe 8 = {s8:.3}, all = {sall:.3}");
        assert!(s8 >= r8 - 0.03, "{metric}: sq8 {s8} vs f32 {r8}");
        assert!(sall >= 0.97, "{metric}: sq8 full probe {sall}");
        // f16 codes re-ranked on f32 rows: the top-10 of the probed lists, almost exactly.
        let (h8, hall) = recall_case(metric, CodeType::F16, seed);
        eprintln!("{metric} f16: recall@10 nprobe 8 = {h8:.3}, all = {hall:.3}");
        assert!(h8 >= r8 - 0.01, "{metric}: f16 {h8} vs f32 {r8}");
        assert!(hall >= 0.99, "{metric}: f16 full probe {hall}");
    }
}

#[test]
fn lists_ranked_by_their_nearest_row_find_the_nearest_neighbour_first() {
    // With a sub-centroid per row (more allowed than any list holds) and every list
    // shortlisted, a list's score is its nearest row's (up to int8 rounding): the list
    // probed first holds the query's nearest neighbour.
    let seed = test_seed("ivf_probe_refine");
    let fs = MemFs::new();
    let p = pool(2);
    let dim = 32;
    for metric in [Metric::L2, Metric::Cosine, Metric::InnerProduct] {
        let normalize = metric == Metric::Cosine;
        let data = clustered_spread(3_000, dim, 10, seed, normalize, 0.8);
        let queries = Clustered::new(dim, 10, seed)
            .spread(0.8)
            .normalize(normalize)
            .sample(300, seed + 2)
            .data;
        let seg = segment(&fs, &format!("refine-{metric}"), metric, dim, &data, 3);
        let params = IvfParams {
            sub_centroids: 10_000,
            ..IvfParams::new(40, CodeType::F32)
        };
        let index = IvfIndex::build(&p, &seg, &params).unwrap();
        assert_eq!(index.sub_centroid_counts(), index.list_sizes());
        let qs: Vec<&[f32]> = queries.chunks_exact(dim).collect();
        let truth = flat::search_batch(&p, &[Target::from(&seg)], &qs, 1).unwrap();
        let at = |refine| {
            let params = IvfSearchParams {
                refine,
                ..IvfSearchParams::new(1)
            };
            recall(
                &index.search_batch(&p, &seg, &qs, 1, &params).unwrap(),
                &truth,
                1,
            )
        };
        let (plain, refined) = (at(0), at(40));
        eprintln!("{metric}: recall@1 at nprobe 1: centroids {plain:.3}, nearest row {refined:.3}");
        assert!(refined >= 0.95, "{metric}: {refined} (seed {seed})");
        assert!(
            refined > plain,
            "{metric}: {refined} vs {plain} (seed {seed})"
        );
        // Up to `sub_centroids` per list otherwise.
        let few = IvfIndex::build(
            &p,
            &seg,
            &IvfParams {
                sub_centroids: 4,
                ..params
            },
        )
        .unwrap();
        let counts = few.sub_centroid_counts();
        for (l, (&c, &n)) in counts.iter().zip(&few.list_sizes()).enumerate() {
            assert_eq!(c, n.min(4), "list {l}");
        }
        // Without sub-centroids `refine` changes nothing.
        let bare = IvfIndex::build(
            &p,
            &seg,
            &IvfParams {
                sub_centroids: 0,
                ..params
            },
        )
        .unwrap();
        assert!(bare.sub_centroid_counts().iter().all(|&c| c == 0));
        assert!(bare.file_len() < few.file_len());
        let with = |refine| IvfSearchParams {
            refine,
            ..IvfSearchParams::new(4)
        };
        assert_eq!(
            bare.search_batch(&p, &seg, &qs, 10, &with(3)).unwrap(),
            index.search_batch(&p, &seg, &qs, 10, &with(0)).unwrap()
        );
    }
}

#[test]
fn batches_scanned_list_by_list_equal_one_query_at_a_time() {
    let seed = test_seed("ivf_batch");
    let fs = MemFs::new();
    let dim = 24;
    for metric in [Metric::L2, Metric::Cosine, Metric::InnerProduct] {
        let data = clustered_spread(4_000, dim, 20, seed, metric == Metric::Cosine, 0.6);
        let seg = segment(&fs, &format!("batch-{metric}"), metric, dim, &data, 5);
        let qs: Vec<&[f32]> = data.chunks_exact(dim).step_by(37).collect();
        let allow: RoaringBitmap = (0..4_000u32).filter(|r| r % 5 != 0).collect();
        for codes in [CodeType::F32, CodeType::Sq8, CodeType::F16] {
            let index = IvfIndex::build(&pool(2), &seg, &IvfParams::new(50, codes)).unwrap();
            for (nprobe, refine, filtered) in
                [(1, 0, false), (4, 3, false), (7, 2, true), (50, 3, true)]
            {
                let params = IvfSearchParams {
                    refine,
                    allow: filtered.then_some(&allow),
                    ..IvfSearchParams::new(nprobe)
                };
                let one: Vec<Vec<Hit>> = qs
                    .iter()
                    .map(|q| index.search(&seg, q, 10, &params).unwrap())
                    .collect();
                for threads in [1, 2, 3] {
                    let batch = index
                        .search_batch(&pool(threads), &seg, &qs, 10, &params)
                        .unwrap();
                    assert_eq!(
                        batch, one,
                        "{metric} {codes:?} nprobe {nprobe} threads {threads}"
                    );
                }
            }
        }
    }
}

#[test]
fn version_1_files_without_a_probe_section_still_open() {
    let seg = fuzzing::fixture_segment();
    let p = pool(1);
    let params = IvfParams {
        sub_centroids: 0,
        ..IvfParams::new(fuzzing::FIXTURE_NLIST, CodeType::Sq8)
    };
    let v2 = IvfIndex::build(&p, seg, &params).unwrap();
    let mut bytes = std::fs::read(
        v2.write(
            &StdFs::new(),
            &tempfile::tempdir().unwrap().keep().join("v.ivf"),
        )
        .unwrap()
        .path,
    )
    .unwrap();
    bytes[12..16].copy_from_slice(&1u32.to_le_bytes());
    fuzzing::reseal(&mut bytes);
    let v1 = open_fixture(&bytes).unwrap();
    assert_eq!(v1.header().prefix.version, 1);
    let q = [0.5, -1.0, 2.0, 0.25];
    assert_eq!(
        v1.search(seg, &q, 5, &IvfSearchParams::new(2)).unwrap(),
        v2.search(seg, &q, 5, &IvfSearchParams::new(2)).unwrap()
    );
    // A version 1 header may not describe a probe section.
    let mut bytes = fuzzing::fixture_index_bytes(CodeType::Sq8);
    bytes[12..16].copy_from_slice(&1u32.to_le_bytes());
    fuzzing::reseal(&mut bytes);
    let err = open_fixture(&bytes).unwrap_err().to_string();
    assert!(err.contains("probe section in a version 1 file"), "{err}");
}

#[test]
fn full_probe_equals_flat_exactly_with_filters() {
    let seed = test_seed("ivf_exact");
    let fs = MemFs::new();
    let data = clustered(1500, 12, 10, seed, false);
    let seg = segment(&fs, "e", Metric::L2, 12, &data, 5);
    let p = pool(2);
    let index = IvfIndex::build(&p, &seg, &IvfParams::new(16, CodeType::F32)).unwrap();
    let allow: RoaringBitmap = (0..1500u32).filter(|r| r % 7 == 1).collect();
    for q in data.chunks_exact(12).step_by(97) {
        let want = flat::search(&p, &[Target::from(&seg)], q, 10).unwrap();
        let got = index
            .search(&seg, q, 10, &IvfSearchParams::new(16))
            .unwrap();
        assert_eq!(got, want);
        let want = flat::search(
            &p,
            &[Target {
                segment: &seg,
                allow: Some(&allow),
            }],
            q,
            10,
        )
        .unwrap();
        let params = IvfSearchParams {
            allow: Some(&allow),
            ..IvfSearchParams::new(99)
        };
        let got = index.search(&seg, q, 10, &params).unwrap();
        assert_eq!(got, want);
        assert!(got.iter().all(|h| (h.id - 1000) % 7 == 1));
        // SQ8 re-ranked distances are exact f32 distances of the same rows.
        let sq = IvfIndex::build(&p, &seg, &IvfParams::new(16, CodeType::Sq8)).unwrap();
        let got = sq.search(&seg, q, 10, &IvfSearchParams::new(16)).unwrap();
        let want = flat::search(&p, &[Target::from(&seg)], q, 10).unwrap();
        let overlap = got.iter().filter(|h| want.contains(h)).count();
        assert!(overlap >= 9, "{overlap}");
    }
}

#[test]
fn degenerate_inputs_give_typed_errors_or_defined_results() {
    let fs = MemFs::new();
    let p = pool(2);
    // Fewer rows than nlist: clamped to one list per row.
    let data: Vec<f32> = (0..5 * 3).map(|x| x as f32).collect();
    let seg = segment(&fs, "few", Metric::L2, 3, &data, 1);
    let index = IvfIndex::build(&p, &seg, &IvfParams::new(64, CodeType::Sq8)).unwrap();
    assert_eq!(index.nlist(), 5);
    let hits = index
        .search(&seg, &[0.0, 1.0, 2.0], 10, &IvfSearchParams::new(1000))
        .unwrap();
    assert_eq!(hits.len(), 5);
    assert_eq!(hits[0].id, 1000);
    // Errors.
    assert!(matches!(
        index.search(&seg, &[0.0, 1.0, 2.0], 0, &IvfSearchParams::new(1)),
        Err(Error::ZeroK)
    ));
    assert!(matches!(
        index.search(&seg, &[f32::NAN, 1.0, 2.0], 3, &IvfSearchParams::new(1)),
        Err(Error::InvalidQuery(_))
    ));
    assert!(matches!(
        index.search(&seg, &[1.0, 2.0], 3, &IvfSearchParams::new(1)),
        Err(Error::InvalidQuery(_))
    ));
    assert!(matches!(
        index.search(&seg, &[0.0, 1.0, 2.0], 3, &IvfSearchParams::new(0)),
        Err(Error::InvalidParams(_))
    ));
    assert!(matches!(
        IvfIndex::build(&p, &seg, &IvfParams::new(0, CodeType::F32)),
        Err(Error::InvalidParams(_))
    ));
    // All-equal rows.
    for codes in [CodeType::F32, CodeType::Sq8, CodeType::F16] {
        for metric in [Metric::L2, Metric::Cosine] {
            let same: Vec<f32> = [0.5f32, -1.0, 2.0, 0.25].repeat(300);
            let seg = segment(&fs, "same", metric, 4, &same, 2);
            let index = IvfIndex::build(&p, &seg, &IvfParams::new(10, codes)).unwrap();
            index.verify().unwrap();
            let hits = index
                .search(&seg, &[0.5, -1.0, 2.0, 0.25], 5, &IvfSearchParams::new(2))
                .unwrap();
            assert_eq!(
                ids(&hits),
                [1000, 1001, 1002, 1003, 1004],
                "{metric} {codes:?}"
            );
        }
    }
    // Empty segment.
    let seg = segment(&fs, "empty", Metric::L2, 3, &[], 9);
    let index = IvfIndex::build(&p, &seg, &IvfParams::new(8, CodeType::Sq8)).unwrap();
    assert_eq!((index.nlist(), index.len()), (1, 0));
    assert!(
        index
            .search(&seg, &[1.0, 2.0, 3.0], 3, &IvfSearchParams::new(4))
            .unwrap()
            .is_empty()
    );
    index.verify().unwrap();
}

#[test]
fn rows_added_after_training_go_to_their_nearest_list_and_skew_triggers_retrain() {
    let seed = test_seed("ivf_retrain");
    let fs = MemFs::new();
    let p = pool(2);
    let data = clustered(4000, 8, 40, seed, false);
    let seg = segment(&fs, "a", Metric::L2, 8, &data, 1);
    let trained = IvfTrained::train(&p, &seg, &IvfParams::new(40, CodeType::F32)).unwrap();
    // New rows all near one point: one list takes everything.
    let hot: Vec<f32> = data[..8]
        .iter()
        .cycle()
        .take(8 * 2000)
        .enumerate()
        .map(|(i, x)| x + (i % 13) as f32 * 1e-3)
        .collect();
    let seg2 = segment(&fs, "b", Metric::L2, 8, &hot, 2);
    let index = trained.build(&p, &seg2).unwrap();
    let b = index.balance();
    assert!(b.needs_retrain(), "{b:?}");
    assert!(b.imbalance > Balance::MAX_IMBALANCE);
    let fresh = trained.build(&p, &seg).unwrap();
    assert!(!fresh.balance().needs_retrain(), "{:?}", fresh.balance());
    // Still exact on the added rows at full probe.
    let q = &hot[8..16];
    let want = flat::search(&p, &[Target::from(&seg2)], q, 5).unwrap();
    assert_eq!(
        index
            .search(&seg2, q, 5, &IvfSearchParams::new(40))
            .unwrap(),
        want
    );
}

#[test]
fn persistence_round_trip_is_identical_and_mapped() {
    let seed = test_seed("ivf_persist");
    let dir = tempfile::tempdir().unwrap();
    let fs = StdFs::new();
    let p = pool(2);
    let data = clustered(3000, 16, 30, seed, true);
    fs.create_dir_all(Path::new("/db")).ok();
    let seg_path = dir.path().join("seg-1.vec");
    let mut w =
        SegmentWriter::create(&fs, &seg_path, SegmentOptions::new(16, Metric::Cosine, 4)).unwrap();
    for (i, v) in data.chunks_exact(16).enumerate() {
        w.push(i as u64 * 3, v).unwrap();
    }
    w.finish().unwrap();
    let seg = SegmentReader::open(&fs, &seg_path).unwrap();
    for codes in [CodeType::F32, CodeType::Sq8, CodeType::F16] {
        let built = IvfIndex::build(&p, &seg, &IvfParams::new(30, codes)).unwrap();
        let path = dir.path().join("seg-1.ivf");
        let info = built.write(&fs, &path).unwrap();
        assert_eq!(info.file_len, fs.file_len(&path).unwrap());
        let opened = IvfIndex::open(&fs, &path, &seg).unwrap();
        assert!(opened.is_mapped());
        opened.verify().unwrap();
        assert_eq!(
            opened.bytes_per_vector(),
            match codes {
                CodeType::F32 => 16 * 4 + 4,
                CodeType::F16 => 16 * 2 + 4,
                _ => 16 + 4,
            }
        );
        let qs: Vec<&[f32]> = data.chunks_exact(16).step_by(101).collect();
        for nprobe in [1, 4, 30] {
            let params = IvfSearchParams::new(nprobe);
            assert_eq!(
                built.search_batch(&p, &seg, &qs, 10, &params).unwrap(),
                opened.search_batch(&p, &seg, &qs, 10, &params).unwrap()
            );
        }
        // Same seed → same file bytes.
        let again = IvfIndex::build(&pool(1), &seg, &IvfParams::new(30, codes)).unwrap();
        let path2 = dir.path().join("again.ivf");
        again.write(&fs, &path2).unwrap();
        assert_eq!(
            std::fs::read(&path).unwrap(),
            std::fs::read(&path2).unwrap()
        );
    }
}

fn open_fixture(bytes: &[u8]) -> Result<IvfIndex, Error> {
    let i = IvfIndex::from_bytes(
        ReadOnlyBytes::copy_from_slice(bytes),
        Path::new("t.ivf"),
        fuzzing::fixture_segment(),
    )?;
    i.verify()?;
    Ok(i)
}

#[test]
fn every_bit_flip_and_truncation_of_a_small_file_is_detected() {
    for codes in [CodeType::F32, CodeType::Sq8, CodeType::F16] {
        let bytes = fuzzing::fixture_index_bytes(codes);
        assert!(!bytes.is_empty());
        open_fixture(&bytes).unwrap();
        let mut b = bytes.clone();
        for bit in 0..bytes.len() * 8 {
            b[bit / 8] ^= 1 << (bit % 8);
            assert!(
                open_fixture(&b).is_err(),
                "{codes:?}: flip of bit {bit} not detected"
            );
            b[bit / 8] ^= 1 << (bit % 8);
        }
        for len in 0..bytes.len() {
            assert!(open_fixture(&bytes[..len]).is_err(), "truncation to {len}");
        }
        let mut longer = bytes.clone();
        longer.extend_from_slice(&[0; 64]);
        assert!(open_fixture(&longer).is_err());
    }
}

#[test]
fn wrong_segment_is_refused() {
    let bytes = fuzzing::fixture_index_bytes(CodeType::F32);
    let fs = MemFs::new();
    let other = segment(&fs, "other", Metric::L2, 4, &[0.0; 4 * 64], 11);
    let err = IvfIndex::from_bytes(
        ReadOnlyBytes::copy_from_slice(&bytes),
        Path::new("t.ivf"),
        &other,
    )
    .unwrap_err();
    assert!(matches!(err, Error::WrongSegment { .. }), "{err}");
    let index = open_fixture(&bytes).unwrap();
    let err = index
        .search(&other, &[0.0; 4], 3, &IvfSearchParams::new(2))
        .unwrap_err();
    assert!(matches!(err, Error::WrongSegment { .. }), "{err}");
}

#[test]
fn structurally_bad_but_crc_valid_files_are_refused() {
    let bytes = fuzzing::fixture_index_bytes(CodeType::F32);
    let h = mnemodb_format::IvfHeader::decode(&bytes, Path::new("t"), bytes.len() as u64)
        .unwrap()
        .0;
    let offsets = h.list_offsets_offset as usize;
    let rows = h.rows_offset as usize;
    let cases: Vec<(usize, Vec<u8>)> = vec![
        (offsets + 8, u64::MAX.to_le_bytes().to_vec()), // offset out of range
        (offsets + 16, 0u64.to_le_bytes().to_vec()),    // not monotone
        (offsets, 1u64.to_le_bytes().to_vec()),         // does not start at 0
        (rows, 64u32.to_le_bytes().to_vec()),           // row ≥ n
        (rows, 1u32.to_le_bytes().to_vec()),            // duplicate row (0 missing)
    ];
    for (at, patch) in cases {
        let mut b = bytes.clone();
        b[at..at + patch.len()].copy_from_slice(&patch);
        if b == bytes {
            continue;
        }
        fuzzing::reseal(&mut b);
        assert!(open_fixture(&b).is_err(), "patch at {at} accepted");
        // And the fuzz oracle (search on whatever opens) does not panic.
        let mut input = vec![1u8, 1, 2, 3, 4];
        input.extend_from_slice(&b);
        fuzzing::decode_search(&input);
    }
    // A NaN centroid (CRC-valid) opens but fails verify; search still terminates.
    let mut b = bytes.clone();
    b[h.centroids_offset as usize..][..4].copy_from_slice(&f32::NAN.to_le_bytes());
    fuzzing::reseal(&mut b);
    let i = IvfIndex::from_bytes(
        ReadOnlyBytes::copy_from_slice(&b),
        Path::new("t"),
        fuzzing::fixture_segment(),
    )
    .unwrap();
    assert!(i.verify().is_err());
    let hits = i
        .search(
            fuzzing::fixture_segment(),
            &[0.0; 4],
            5,
            &IvfSearchParams::new(3),
        )
        .unwrap();
    assert!(hits.len() <= 5);
}

#[test]
fn ivf_fuzz_corpus_replays() {
    let dir = mnemodb_testkit::fuzz_corpus_dir("ivf_decode_search");
    if std::env::var_os("MNEMODB_WRITE_IVF_CORPUS").is_some() {
        // Seeds: both code types, plain and resealed, with and without a filter.
        std::fs::create_dir_all(&dir).unwrap();
        for (name, codes) in [
            ("f32", CodeType::F32),
            ("sq8", CodeType::Sq8),
            ("f16", CodeType::F16),
        ] {
            for mode in [0u8, 0x13, 0x5e, 0x93] {
                let mut input = vec![mode, 16, 240, 3, 200];
                input.extend_from_slice(&fuzzing::fixture_index_bytes(codes));
                std::fs::write(dir.join(format!("seed-{name}-{mode:02x}")), input).unwrap();
            }
        }
    }
    let mut n = 0;
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries {
            let bytes = std::fs::read(e.unwrap().path()).unwrap();
            fuzzing::decode_search(&bytes);
            n += 1;
        }
    }
    eprintln!("replayed {n} corpus inputs");
    for codes in [CodeType::F32, CodeType::Sq8, CodeType::F16] {
        for mode in [0u8, 1, 0x7f, 0x4e] {
            let mut input = vec![mode, 3, 250, 7, 9];
            input.extend_from_slice(&fuzzing::fixture_index_bytes(codes));
            fuzzing::decode_search(&input);
        }
    }
}

#[test]
fn f16_lists_refuse_rows_beyond_the_f16_range_and_verify_catches_infinities() {
    let fs = MemFs::new();
    let p = pool(1);
    let seg = segment(
        &fs,
        "huge",
        Metric::L2,
        2,
        &[1.0, 2.0, 1e6, 0.0, 3.0, 4.0],
        4,
    );
    let err = IvfIndex::build(&p, &seg, &IvfParams::new(2, CodeType::F16)).unwrap_err();
    assert!(
        matches!(err, Error::InvalidParams(ref m) if m.contains("f16 range")),
        "{err}"
    );
    // f32 and SQ8 lists take the same rows.
    IvfIndex::build(&p, &seg, &IvfParams::new(2, CodeType::F32)).unwrap();
    // A resealed file with an f16 infinity is refused by verify.
    let mut bytes = fuzzing::fixture_index_bytes(CodeType::F16);
    let h = mnemodb_format::IvfHeader::decode(&bytes, Path::new("t"), bytes.len() as u64)
        .unwrap()
        .0;
    let at = h.codes_offset as usize;
    bytes[at..at + 2].copy_from_slice(&0x7c00u16.to_le_bytes());
    fuzzing::reseal(&mut bytes);
    let err = open_fixture(&bytes).unwrap_err().to_string();
    assert!(err.contains("non-finite f16"), "{err}");
}
