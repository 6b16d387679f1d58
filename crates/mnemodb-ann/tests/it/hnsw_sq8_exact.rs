//! The exact-scan path of filtered HNSW search on SQ8 codes (codes first, exact f32
//! distances only for the rows the codes' error bound cannot rule out) returns exactly
//! what the f32 exact scan returns: same rows, same distances bit for bit, same order.
//! Checked against a graph without codes and against a brute-force scan with the same
//! distance kernel, for every metric, with allow-lists of any selectivity, duplicate rows
//! (ties), `k` above the allowed count, tombstones, rows outside the quantiser's range,
//! and codes mapped from an index file.
use std::path::Path;

use mnemodb_ann::Hit;
use mnemodb_ann::hnsw::{HnswBuilder, HnswGraph, HnswIndex, HnswParams, Rows, SearchOptions};
use mnemodb_dataset::{Vectors, synthetic};
use mnemodb_distance::Metric;
use mnemodb_distance::quantized::Sq8;
use mnemodb_io::MemFs;
use proptest::prelude::*;
use roaring::RoaringBitmap;

use super::hnsw::{pool, segment};

fn params(sq8: bool) -> HnswParams {
    let mut p = HnswParams::with_m(8);
    p.ef_construction = 32;
    p.sq8 = sq8;
    p
}

/// Row `i`'s vector prepared for `metric` (what the graph's rows are).
fn prepared(metric: Metric, base: &Vectors) -> Vec<f32> {
    let mut data = base.data.clone();
    for row in data.chunks_exact_mut(base.dim) {
        metric.prepare(row);
    }
    data
}

/// The top `k` of the rows `ok` accepts by (distance, row), with the kernel the exact
/// scan uses, as (row, distance bits).
fn brute(
    metric: Metric,
    rows: Rows<'_>,
    query: &[f32],
    k: usize,
    ok: impl Fn(u32) -> bool,
) -> Vec<(u64, u32)> {
    let mut q = query.to_vec();
    metric.prepare(&mut q);
    let dist = metric.distance_fn();
    let mut all: Vec<(f32, u32)> = (0..rows.len() as u32)
        .filter(|&r| ok(r))
        .map(|r| (dist(&q, rows.get(r as usize).unwrap()), r))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    all.into_iter()
        .take(k)
        .map(|(d, r)| (u64::from(r), d.to_bits()))
        .collect()
}

fn bits(hits: &[Hit]) -> Vec<(u64, u32)> {
    hits.iter().map(|h| (h.id, h.distance.to_bits())).collect()
}

/// Options that take the exact-scan path: every filtered search scans exactly, and `ef`
/// covers every row so an unfiltered one does too.
fn exact_opts<'a>(
    n: usize,
    allow: Option<&'a RoaringBitmap>,
    tomb: Option<&'a RoaringBitmap>,
) -> SearchOptions<'a> {
    let mut opts = SearchOptions::ef(n.max(1));
    opts.allow = allow;
    opts.tombstones = tomb;
    opts.exact_fraction = Some(1.0);
    opts
}

/// One generated case: rows (some duplicated, some far outside the range the codes were
/// trained on when `outliers`), an allow-list, tombstones.
#[derive(Debug, Clone)]
struct Case {
    metric: Metric,
    dim: usize,
    n: usize,
    seed: u64,
    /// Per mille of rows allowed (1000 = no allow-list).
    allow_pm: u32,
    /// Per mille of rows tombstoned.
    tomb_pm: u32,
    /// Per mille of rows that duplicate an earlier one.
    dup_pm: u32,
    /// Train the codes on a subset and scale the other rows out of its range.
    outliers: bool,
    /// Move every component inside the codes' range to just under half a step from its
    /// code (the worst case of the quantisation error).
    half_steps: bool,
    ks: Vec<usize>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        0usize..3,
        prop_oneof![Just(2usize), Just(7), Just(16), Just(33), Just(64)],
        10usize..400,
        any::<u64>(),
        prop_oneof![Just(1000u32), 1u32..1000],
        prop_oneof![Just(0u32), 1u32..500],
        prop_oneof![Just(0u32), 1u32..600],
        any::<bool>(),
        any::<bool>(),
        proptest::collection::vec(1usize..80, 1..4),
    )
        .prop_map(
            |(m, dim, n, seed, allow_pm, tomb_pm, dup_pm, outliers, half_steps, ks)| Case {
                metric: Metric::ALL[m],
                dim,
                n,
                seed,
                allow_pm,
                tomb_pm,
                dup_pm,
                outliers,
                half_steps,
                ks,
            },
        )
}

/// A row-number hash in `0..1000`, for the per-mille selections.
fn pm(row: u32, salt: u64) -> u32 {
    let h = (u64::from(row) ^ salt.rotate_left(17)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    ((h >> 32) % 1000) as u32
}

fn check_case(c: &Case) {
    let mut base = synthetic::Clustered::new(c.dim, 5, c.seed)
        .spread(0.5)
        .sample(c.n, c.seed ^ 1);
    let dim = c.dim;
    for r in 1..c.n {
        if pm(r as u32, c.seed ^ 2) < c.dup_pm {
            let from = (pm(r as u32, c.seed ^ 3) as usize) % r;
            let row = base.data[from * dim..(from + 1) * dim].to_vec();
            base.data[r * dim..(r + 1) * dim].copy_from_slice(&row);
        }
    }
    // Rows left out of the codes' training, pushed out of its range (their codes clamp).
    let excluded: RoaringBitmap = (0..c.n as u32)
        .filter(|&r| c.outliers && r > 0 && pm(r, c.seed ^ 4) < 300)
        .collect();
    for r in excluded.iter() {
        let r = r as usize;
        for (i, x) in base.data[r * dim..(r + 1) * dim].iter_mut().enumerate() {
            *x = *x * 3.0 + if i % 2 == 0 { 2.0 } else { -2.0 };
        }
    }
    let mut data = prepared(c.metric, &base);
    let include: Option<RoaringBitmap> = c.outliers.then(|| {
        let mut all = RoaringBitmap::new();
        all.insert_range(0..c.n as u32);
        all - &excluded
    });
    if c.half_steps {
        // The quantiser the graph will train (same rows, same function); components with
        // codes 1..=254 move within their step, so its minima and maxima stay put.
        let trained: Vec<f32> = data
            .chunks_exact(dim)
            .enumerate()
            .filter(|(r, _)| include.as_ref().is_none_or(|b| b.contains(*r as u32)))
            .flat_map(|(_, row)| row.iter().copied())
            .collect();
        let sq = Sq8::train(&trained, dim).unwrap();
        let mut code = vec![0u8; dim];
        for (r, row) in data.chunks_exact_mut(dim).enumerate() {
            sq.encode(row, &mut code);
            for (i, x) in row.iter_mut().enumerate() {
                let (m, s, c) = (sq.min()[i], sq.scale()[i], f32::from(code[i]));
                if (1.0..=254.0).contains(&c) {
                    let side = if pm(r as u32 * 64 + i as u32, 8) < 500 {
                        0.49
                    } else {
                        -0.49
                    };
                    *x = m + s * (c + side);
                }
            }
        }
    }
    let rows = Rows::new(&data, dim).unwrap();
    let build = |sq8: bool| -> HnswGraph {
        HnswBuilder::new(c.metric, params(sq8))
            .unwrap()
            .build_subset(&pool(1), rows, include.as_ref())
            .unwrap()
    };
    let (coded, plain) = (build(true), build(false));
    assert!(coded.has_sq8() && !plain.has_sq8());
    let allow: Option<RoaringBitmap> = (c.allow_pm < 1000).then(|| {
        (0..c.n as u32 + 5)
            .filter(|&r| pm(r, c.seed ^ 5) < c.allow_pm)
            .collect()
    });
    let tomb: Option<RoaringBitmap> = (c.tomb_pm > 0).then(|| {
        (0..c.n as u32)
            .filter(|&r| pm(r, c.seed ^ 6) < c.tomb_pm)
            .collect()
    });
    let ok = |r: u32| {
        allow.as_ref().is_none_or(|a| a.contains(r))
            && !tomb.as_ref().is_some_and(|t| t.contains(r))
    };
    let queries = synthetic::queries_near(&base, 4, 0.3, c.seed ^ 7);
    let opts = exact_opts(c.n, allow.as_ref(), tomb.as_ref());
    for q in queries.rows() {
        for &k in &c.ks {
            let want = brute(c.metric, rows, q, k, ok);
            let got = coded.search(rows, q, k, &opts).unwrap();
            let f32_path = plain.search(rows, q, k, &opts).unwrap();
            assert_eq!(
                bits(&f32_path),
                want,
                "f32 exact path vs brute force, {c:?} k {k}"
            );
            assert_eq!(
                bits(&got),
                want,
                "SQ8 exact path vs brute force, {c:?} k {k}"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn sq8_exact_scan_equals_f32_exact_scan(c in case()) {
        check_case(&c);
    }
}

/// Many equal rows: ties at the k-th distance are broken by the lower row, as in the f32
/// path, including across the rows the codes prove and the rows scored exactly.
#[test]
fn ties_keep_the_lower_rows() {
    for metric in Metric::ALL {
        for outliers in [false, true] {
            check_case(&Case {
                metric,
                dim: 16,
                n: 300,
                seed: 11,
                allow_pm: 400,
                tomb_pm: 100,
                dup_pm: 900,
                outliers,
                half_steps: outliers,
                ks: vec![1, 5, 40, 79, 200, 400],
            });
        }
    }
}

/// 384-d clustered vectors (the memory layer's shape), the index written and mapped (codes
/// used in place), allow-lists from 0.5 % to 30 % of the rows, tombstones: the SQ8 exact
/// scan equals the same index's scan without codes.
#[test]
fn mapped_index_384d_matches_f32_scan() {
    let (dim, n) = (384, 3000);
    let base = synthetic::Clustered::new(dim, 30, 21)
        .normalize(true)
        .sample(n, 22);
    let queries = synthetic::queries_near(&base, 12, 0.04, 23);
    let fs = MemFs::new();
    for metric in Metric::ALL {
        let seg_path = format!("/db/{metric}/seg-1.vec");
        let seg = segment(&fs, Path::new(&seg_path), &base, metric, 1);
        let built = HnswIndex::build(&pool(2), &seg, params(true)).unwrap();
        let idx_path = format!("/db/{metric}/seg-1.hnsw");
        built.write(&fs, Path::new(&idx_path)).unwrap();
        let index = HnswIndex::open(&fs, Path::new(&idx_path), &seg).unwrap();
        let plain = index.clone().with_sq8(false);
        let tomb: RoaringBitmap = (0..n as u32).filter(|r| pm(*r, 31) < 50).collect();
        for allow_pm in [5u32, 50, 300] {
            let allow: RoaringBitmap = (0..n as u32).filter(|r| pm(*r, 32) < allow_pm).collect();
            for tomb in [None, Some(&tomb)] {
                let opts = exact_opts(n, Some(&allow), tomb);
                for q in queries.rows() {
                    for k in [1, 10, 32, 100] {
                        let (mut got, mut want) = (Vec::new(), Vec::new());
                        index.search_rows_into(q, k, &opts, &mut got).unwrap();
                        plain.search_rows_into(q, k, &opts, &mut want).unwrap();
                        assert_eq!(bits(&got), bits(&want), "{metric} {allow_pm}‰ k {k}");
                        let ids: Vec<u64> = index
                            .search(q, k, &opts)
                            .unwrap()
                            .iter()
                            .map(|h| h.id)
                            .collect();
                        let rows: Vec<u64> = want.iter().map(|h| h.id + 1000).collect();
                        assert_eq!(ids, rows);
                    }
                }
            }
        }
    }
}

/// Rows built to defeat a loose bound: codes near the best one in 3 dimensions with uneven
/// steps,
/// every component just under half a step from its code, towards the query for some rows
/// and away from it for others, so code order and exact order disagree by almost the
/// whole error bound. The scan still returns the exact top k.
#[test]
fn adversarial_half_step_rows() {
    let (dim, n) = (3usize, 4000usize);
    let steps = [1.0f32, 0.37, 0.05];
    for metric in Metric::ALL {
        for seed in 0..4u64 {
            let mut q = vec![0.3f32, -0.8, 0.5];
            q.rotate_left(seed as usize % 3);
            if seed >= 2 {
                q.iter_mut().for_each(|x| *x = -*x);
            }
            metric.prepare(&mut q);
            // Rows 0 and 1 pin every dimension's range to [0, 255 × step].
            let mut data = vec![0.0f32; dim];
            data.extend(steps.iter().map(|s| 255.0 * s));
            for r in 2..n as u32 {
                let better = pm(r, seed) < 500;
                for (i, &s) in steps.iter().enumerate() {
                    // Codes within 3 of the best one: many near-ties at the top.
                    let best = match metric {
                        Metric::L2 => (q[i] / s).round(),
                        _ if q[i] > 0.0 => 254.0,
                        _ => 1.0,
                    };
                    let lo = (best - 3.0).clamp(1.0, 247.0);
                    let c = lo + (pm(r * 8 + i as u32, seed ^ 9) % 7) as f32;
                    let decoded = s * c;
                    // The direction that lowers the distance to `q` in this dimension.
                    let lower = match metric {
                        Metric::L2 => (q[i] - decoded).signum(),
                        _ => q[i].signum(),
                    };
                    let side = if better { lower } else { -lower };
                    data.push(s * (c + 0.49 * side));
                }
            }
            let rows = Rows::new(&data, dim).unwrap();
            let graph = HnswBuilder::new(metric, params(true))
                .unwrap()
                .build(&pool(1), rows)
                .unwrap();
            let allow: RoaringBitmap = (0..n as u32).filter(|r| pm(*r, seed ^ 10) < 600).collect();
            let opts = exact_opts(n, Some(&allow), None);
            for k in [1, 3, 10, 50] {
                let want = brute(metric, rows, &q, k, |r| allow.contains(r));
                let got = graph.search(rows, &q, k, &opts).unwrap();
                assert_eq!(bits(&got), want, "{metric} seed {seed} k {k}");
            }
        }
    }
}

/// The tightest case of the bound, built by hand (cosine, inner product): the code-best
/// row is worse than its code by 0.499 steps in every dimension (against the query), a
/// second row's code scores 0.99 × `Σ|q_i| s_i` higher but the row is better than its code
/// by 0.499 steps, so it is the true nearest. A bound even 1 % smaller than `½ Σ|q_i| s_i`
/// per side would drop it.
#[test]
fn tightest_pair_is_kept() {
    let steps = [1e-3f32, 3.7e-4, 1e-5];
    for metric in [Metric::Cosine, Metric::InnerProduct] {
        let mut q = vec![0.3f32, -0.8, 0.5];
        metric.prepare(&mut q);
        let sum: f32 = q.iter().zip(&steps).map(|(q, s)| q.abs() * s).sum();
        let best: Vec<f32> = q
            .iter()
            .map(|&x| if x > 0.0 { 254.0 } else { 1.0 })
            .collect();
        // Row 2: the best codes, moved 0.499 steps towards a larger distance.
        // Row 3: codes one step worse in the first two dimensions, moved towards a
        // smaller distance.
        let mut data = vec![0.0f32; 3];
        data.extend(steps.iter().map(|s| 255.0 * s));
        let worse = |i: usize, c: f32, side: f32| steps[i] * (c + side * 0.499 * q[i].signum());
        data.extend((0..3).map(|i| worse(i, best[i], -1.0)));
        data.extend((0..3).map(|i| {
            let c = if i < 2 {
                best[i] - q[i].signum()
            } else {
                best[i]
            };
            worse(i, c, 1.0)
        }));
        let rows = Rows::new(&data, 3).unwrap();
        let graph = HnswBuilder::new(metric, params(true))
            .unwrap()
            .build(&pool(1), rows)
            .unwrap();
        let gap = (q[0].abs() * steps[0] + q[1].abs() * steps[1]) / sum;
        assert!(gap > 0.99 && gap < 0.998, "{gap}");
        // The pinning rows 0 and 1 (trained range) are not allowed.
        let allow: RoaringBitmap = [2u32, 3].into_iter().collect();
        let opts = exact_opts(4, Some(&allow), None);
        let want = brute(metric, rows, &q, 1, |r| allow.contains(r));
        assert_eq!(
            want.first().map(|w| w.0),
            Some(3),
            "{metric}: row 3 is the nearest"
        );
        let got = graph.search(rows, &q, 1, &opts).unwrap();
        assert_eq!(bits(&got), want, "{metric}");
    }
}
