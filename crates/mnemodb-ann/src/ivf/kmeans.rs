//! Seeded, deterministic k-means: k-means++ initialisation on a sub-sample, Lloyd
//! iterations whose assignment step runs on the caller's rayon pool with the blocked
//! kernels, a spherical variant for cosine, and empty-cluster repair by splitting the
//! largest cluster.
//!
//! **Determinism.** Work is cut into fixed blocks of points whatever the pool size, and
//! every reduction (objective, centroid sums, k-means++ weights) runs in block or point
//! order, so the same data, parameters and seed give bit-identical centroids on any number
//! of threads.
//!
//! **Training sample.** Lloyd iterations cost `points × k × dim` multiply-adds each; for
//! large inputs k-means trains on a seeded sample of `max_points_per_centroid × k` points
//! (default 48 per centroid: at `k = 900` about 43k points, i.e. all of a 50k segment
//! but a 4 % sample of a 1M one). faiss warns below 39 points per centroid and samples at
//! 256; the recall difference at 48 is within noise on the benchmark data while training
//! is 5× cheaper. k-means++ itself runs on at most `8 × k` of those points.

use mnemodb_distance::{Metric, tile};
use rayon::prelude::*;

use crate::error::{Error, Result};

/// Points per assignment block (fixed, so results do not depend on the pool size).
const BLOCK: usize = 64;
/// Relative perturbation of a split centroid.
const SPLIT_EPS: f32 = 1.0 / 1024.0;

/// k-means parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KMeansParams {
    /// Clusters wanted; clamped to the number of points (at least 1).
    pub k: usize,
    /// Lloyd iterations (after initialisation).
    pub iterations: usize,
    /// Seed of the sample, the k-means++ draws and nothing else.
    pub seed: u64,
    /// Train on at most `max_points_per_centroid × k` points (a seeded sample).
    pub max_points_per_centroid: usize,
    /// Spherical k-means: assign by dot product and normalise centroids (for cosine
    /// data, which must already be normalised).
    pub spherical: bool,
}

impl KMeansParams {
    /// Defaults for `k` clusters: 10 iterations, seed 0x5eed, 48 points per centroid,
    /// spherical off.
    pub fn new(k: usize) -> Self {
        KMeansParams {
            k,
            iterations: 10,
            seed: 0x5eed,
            max_points_per_centroid: 48,
            spherical: false,
        }
    }

    /// The variant for the metric: spherical for cosine.
    pub fn for_metric(k: usize, metric: Metric) -> Self {
        KMeansParams {
            spherical: metric == Metric::Cosine,
            ..Self::new(k)
        }
    }
}

/// Trained centroids.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeans {
    /// `k × dim` f32, row-major.
    pub centroids: Vec<f32>,
    /// Dimension.
    pub dim: usize,
    /// Number of centroids (after clamping).
    pub k: usize,
    /// Whether centroids are unit vectors compared by dot product.
    pub spherical: bool,
    /// Objective after each assignment step (sum of L2² to the assigned centroid, or of
    /// `1 - dot` when spherical), one per iteration plus the final one.
    pub objective: Vec<f64>,
    /// Empty clusters repaired (over all iterations).
    pub splits: usize,
}

/// Rows to train on: `n` rows of `dim` f32 laid out with `stride`.
#[derive(Debug, Clone, Copy)]
pub struct Points<'a> {
    /// Row data.
    pub data: &'a [f32],
    /// f32 per row (≥ dim).
    pub stride: usize,
    /// Dimension.
    pub dim: usize,
}

impl<'a> Points<'a> {
    /// Number of whole rows.
    pub fn len(&self) -> usize {
        self.data.len().checked_div(self.stride).unwrap_or(0)
    }

    /// Whether there is no row.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row `i` (empty when out of range).
    pub fn row(&self, i: usize) -> &'a [f32] {
        let start = i.saturating_mul(self.stride);
        self.data
            .get(start..start.saturating_add(self.dim))
            .unwrap_or(&[])
    }
}

/// SplitMix64: tiny, seeded, good enough for sampling.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
    /// Uniform in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `m` distinct indices of `0..n` (sorted), seeded; all of them when `m >= n`.
pub(crate) fn sample_indices(n: usize, m: usize, rng: &mut Rng) -> Vec<usize> {
    if m >= n {
        return (0..n).collect();
    }
    // Partial Fisher–Yates over a virtual identity permutation.
    let mut swapped = std::collections::HashMap::new();
    let mut out = Vec::with_capacity(m);
    for i in 0..m {
        let j = i + rng.below(n - i);
        let vj = *swapped.get(&j).unwrap_or(&j);
        let vi = *swapped.get(&i).unwrap_or(&i);
        swapped.insert(j, vi);
        out.push(vj);
    }
    out.sort_unstable();
    out
}

/// The metric the assignment step uses: dot product (as `-dot`) when spherical, else L2.
fn assign_metric(spherical: bool) -> Metric {
    if spherical {
        Metric::InnerProduct
    } else {
        Metric::L2
    }
}

fn normalise(v: &mut [f32]) {
    let n: f64 = v.iter().map(|x| f64::from(*x) * f64::from(*x)).sum();
    if n > 0.0 {
        let inv = (1.0 / n.sqrt()) as f32;
        v.iter_mut().for_each(|x| *x *= inv);
    }
}

/// Nearest centroid and its kernel distance for every point of `points`, in blocks on
/// `pool`. Deterministic (each point's result depends on the point alone).
pub(crate) fn assign(
    pool: &rayon::ThreadPool,
    points: Points<'_>,
    centroids: &[f32],
    dim: usize,
    spherical: bool,
) -> Vec<(u32, f32)> {
    let n = points.len();
    let k = centroids.len().checked_div(dim).unwrap_or(0);
    let metric = assign_metric(spherical);
    let mut out = vec![(0u32, f32::INFINITY); n];
    if k == 0 {
        return out;
    }
    pool.install(|| {
        out.par_chunks_mut(BLOCK).enumerate().for_each_init(
            Vec::new,
            |dist: &mut Vec<f32>, (b, chunk)| {
                let start = b * BLOCK;
                let queries: Vec<&[f32]> = (start..start + chunk.len())
                    .map(|i| points.row(i))
                    .collect();
                dist.clear();
                dist.resize(queries.len() * k, f32::INFINITY);
                if queries.iter().all(|q| q.len() == dim) {
                    tile::distances_tile(metric, &queries, centroids, dim, dist);
                }
                for (slot, row) in chunk.iter_mut().zip(dist.chunks_exact(k)) {
                    let mut best = (0u32, f32::INFINITY);
                    for (j, &d) in row.iter().enumerate() {
                        if d < best.1 {
                            best = (j as u32, d);
                        }
                    }
                    *slot = best;
                }
            },
        );
    });
    out
}

/// Objective of one assignment (fixed order sum).
fn objective(assigned: &[(u32, f32)], spherical: bool) -> f64 {
    assigned
        .iter()
        .map(|&(_, d)| {
            let d = f64::from(d);
            if spherical { 1.0 + d } else { d.max(0.0) }
        })
        .sum()
}

/// k-means++ seeding on `points` (already a sample): `k` distinct-as-possible points
/// drawn with probability ∝ D².
fn kmeans_pp(
    pool: &rayon::ThreadPool,
    points: Points<'_>,
    k: usize,
    spherical: bool,
    rng: &mut Rng,
) -> Vec<f32> {
    let n = points.len();
    let dim = points.dim;
    let metric = assign_metric(spherical);
    let mut centroids = Vec::with_capacity(k * dim);
    let first = rng.below(n);
    centroids.extend_from_slice(points.row(first));
    let mut d2 = vec![f32::INFINITY; n];
    let mut scratch = vec![0.0f32; n];
    let mut last = first;
    for _ in 1..k {
        let c = points.row(last).to_vec();
        pool.install(|| {
            d2.par_chunks_mut(BLOCK * 16)
                .zip(scratch.par_chunks_mut(BLOCK * 16))
                .enumerate()
                .for_each(|(b, (d, s))| {
                    let start = b * BLOCK * 16 * points.stride;
                    let end = (start + d.len() * points.stride).min(points.data.len());
                    let rows = points.data.get(start..end).unwrap_or(&[]);
                    mnemodb_distance::batch::distances_strided(metric, &c, rows, points.stride, s);
                    for (d, s) in d.iter_mut().zip(s.iter()) {
                        let v = if spherical {
                            (1.0 + s).max(0.0)
                        } else {
                            s.max(0.0)
                        };
                        if v < *d {
                            *d = v;
                        }
                    }
                });
        });
        let total: f64 = d2.iter().map(|&x| f64::from(x)).sum();
        let pick = if total > 0.0 && total.is_finite() {
            let target = rng.unit() * total;
            let mut acc = 0.0f64;
            let mut pick = n - 1;
            for (i, &x) in d2.iter().enumerate() {
                acc += f64::from(x);
                if acc > target {
                    pick = i;
                    break;
                }
            }
            pick
        } else {
            // Every point coincides with a centroid: any point will do (repaired later).
            rng.below(n)
        };
        centroids.extend_from_slice(points.row(pick));
        last = pick;
    }
    centroids
}

/// Train `params.k` centroids on `points` (clamped to the number of points). Errors:
/// no points, `k = 0`, or a non-finite value in the training sample.
pub fn train(
    pool: &rayon::ThreadPool,
    points: Points<'_>,
    params: &KMeansParams,
) -> Result<KMeans> {
    let n = points.len();
    let dim = points.dim;
    if n == 0 || params.k == 0 || dim == 0 || points.stride < dim {
        return Err(Error::InvalidParams(format!(
            "k-means needs k ≥ 1 and at least one point of dim ≥ 1 (k = {}, {n} points, dim {dim})",
            params.k
        )));
    }
    let k = params.k.min(n);
    let mut rng = Rng::new(params.seed);
    let cap = params.max_points_per_centroid.max(1).saturating_mul(k);
    let idx = sample_indices(n, cap, &mut rng);
    let mut sample = Vec::with_capacity(idx.len() * dim);
    for &i in &idx {
        sample.extend_from_slice(points.row(i));
    }
    if sample.iter().any(|x| !x.is_finite()) {
        return Err(Error::InvalidParams(
            "k-means input holds a non-finite value".into(),
        ));
    }
    let sp = Points {
        data: &sample,
        stride: dim,
        dim,
    };
    let seed_idx = sample_indices(sp.len(), 8 * k, &mut rng);
    let mut seed_pts = Vec::with_capacity(seed_idx.len() * dim);
    for &i in &seed_idx {
        seed_pts.extend_from_slice(sp.row(i));
    }
    let mut centroids = kmeans_pp(
        pool,
        Points {
            data: &seed_pts,
            stride: dim,
            dim,
        },
        k,
        params.spherical,
        &mut rng,
    );
    if params.spherical {
        centroids.chunks_exact_mut(dim).for_each(normalise);
    }
    let mut objectives = Vec::with_capacity(params.iterations + 1);
    let mut splits = 0;
    for _ in 0..params.iterations {
        let assigned = assign(pool, sp, &centroids, dim, params.spherical);
        objectives.push(objective(&assigned, params.spherical));
        splits += update(pool, sp, &assigned, &mut centroids, k, params.spherical);
    }
    let assigned = assign(pool, sp, &centroids, dim, params.spherical);
    objectives.push(objective(&assigned, params.spherical));
    Ok(KMeans {
        centroids,
        dim,
        k,
        spherical: params.spherical,
        objective: objectives,
        splits,
    })
}

/// Centroid update (mean of members, per centroid in point order; normalised when
/// spherical) and repair of empty clusters by splitting the largest. Returns the number
/// of splits.
fn update(
    pool: &rayon::ThreadPool,
    points: Points<'_>,
    assigned: &[(u32, f32)],
    centroids: &mut [f32],
    k: usize,
    spherical: bool,
) -> usize {
    let dim = points.dim;
    // Counting sort of point indices by cluster, in point order.
    let mut counts = vec![0usize; k + 1];
    for &(c, _) in assigned {
        if let Some(x) = counts.get_mut(c as usize + 1) {
            *x += 1;
        }
    }
    for j in 0..k {
        let prev = counts.get(j).copied().unwrap_or(0);
        if let Some(x) = counts.get_mut(j + 1) {
            *x += prev;
        }
    }
    let mut members = vec![0u32; assigned.len()];
    let mut fill = counts.clone();
    for (i, &(c, _)) in assigned.iter().enumerate() {
        if let Some(pos) = fill.get_mut(c as usize)
            && let Some(slot) = members.get_mut(*pos)
        {
            *slot = i as u32;
            *pos += 1;
        }
    }
    pool.install(|| {
        centroids.par_chunks_mut(dim).enumerate().for_each_init(
            || vec![0.0f64; dim],
            |sum, (j, c)| {
                let (lo, hi) = (
                    counts.get(j).copied().unwrap_or(0),
                    counts.get(j + 1).copied().unwrap_or(0),
                );
                if hi <= lo {
                    return;
                }
                sum.iter_mut().for_each(|s| *s = 0.0);
                for &i in members.get(lo..hi).unwrap_or(&[]) {
                    for (s, &x) in sum.iter_mut().zip(points.row(i as usize)) {
                        *s += f64::from(x);
                    }
                }
                let inv = 1.0 / (hi - lo) as f64;
                for (c, s) in c.iter_mut().zip(sum.iter()) {
                    *c = (s * inv) as f32;
                }
                if spherical {
                    normalise(c);
                }
            },
        );
    });
    // Clusters whose members all sit on the centroid (duplicates) are not worth
    // splitting: their size counts as 0 for the choice of the cluster to split.
    let mut error = vec![0.0f64; k];
    for &(c, d) in assigned {
        if let Some(e) = error.get_mut(c as usize) {
            *e += if spherical {
                f64::from(1.0 + d).max(0.0)
            } else {
                f64::from(d).max(0.0)
            };
        }
    }
    let mut sizes: Vec<usize> = (0..k)
        .map(|j| counts.get(j + 1).copied().unwrap_or(0) - counts.get(j).copied().unwrap_or(0))
        .collect();
    let mut splittable: Vec<usize> = sizes
        .iter()
        .zip(&error)
        .map(|(&s, &e)| if e > 0.0 { s } else { 0 })
        .collect();
    let mut splits = 0;
    for j in 0..k {
        if sizes.get(j).copied() != Some(0) {
            continue;
        }
        // Largest cluster, lowest index on ties.
        let (big, &big_size) = splittable
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0)))
            .unwrap_or((0, &0));
        if big_size < 2 {
            break; // Nothing left worth splitting: duplicate points only.
        }
        let src: Vec<f32> = centroids
            .get(big * dim..(big + 1) * dim)
            .unwrap_or(&[])
            .to_vec();
        for (d, (&x, sign)) in src.iter().zip([1.0f32, -1.0].iter().cycle()).enumerate() {
            if let Some(c) = centroids.get_mut(j * dim + d) {
                *c = x * (1.0 + sign * SPLIT_EPS);
            }
            if let Some(c) = centroids.get_mut(big * dim + d) {
                *c = x * (1.0 - sign * SPLIT_EPS);
            }
        }
        if spherical {
            for c in [j, big] {
                if let Some(c) = centroids.get_mut(c * dim..(c + 1) * dim) {
                    normalise(c);
                }
            }
        }
        let half = big_size / 2;
        if let Some(s) = sizes.get_mut(j) {
            *s = half;
        }
        if let Some(s) = sizes.get_mut(big) {
            *s = big_size - half;
        }
        if let Some(s) = splittable.get_mut(j) {
            *s = half;
        }
        if let Some(s) = splittable.get_mut(big) {
            *s = big_size - half;
        }
        splits += 1;
    }
    splits
}
