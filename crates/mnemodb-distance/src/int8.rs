//! Symmetric 8-bit quantisation ([`I8`]) for *ranking* many short vectors fast: both
//! sides are `i8`, so a distance is one simsimd integer kernel (`dot_i8` / `l2sq_i8`,
//! VNNI on CPUs that have it) with no per-element conversion.
//!
//! [`I8`] holds a per-dimension centre `offset_i` (mid-range of the training data) and
//! **one** step `scale` for every dimension (the widest half-range / 127), and stores
//! `c_i = round((x_i - offset_i) / scale)` in `-127..=127`. One shared step is what makes
//! integer results comparable across vectors: for L2, `‖q - x‖² ≈ scale² · Σ (q'_i - c_i)²`
//! with `q'_i` the query coded the same way; for dot products, `q·x = q·offset + q·(x -
//! offset) ≈ q·offset + scale · s_q · Σ q'_i c_i` with `q'` the query scaled by its own
//! step `s_q`. Constant factors and terms do not change an order, so
//! [`I8Query::rank_distance`] returns the integer kernel's value (smaller is closer): an
//! approximation of the order, not a distance in the crate's convention. Use it where
//! an approximate order is enough (which lists to probe), never for results.
//!
//! [`widen`] turns codes into f32 (for the tile kernels, with [`I8::widened_query`]); its
//! `unsafe` is only the call of its `#[target_feature]` copies after run-time detection.
//!
//! ```
//! use mnemodb_distance::{int8::I8, Metric};
//! let rows = [1.0, 0.0, 0.0, 1.0, 0.6, 0.8]; // three unit rows of dim 2
//! let q8 = I8::train(&rows, 2).unwrap();
//! let mut codes = [0i8; 6];
//! for (r, c) in rows.chunks(2).zip(codes.chunks_mut(2)) {
//!     q8.encode(r, c);
//! }
//! let query = q8.query(Metric::Cosine, &[0.8, 0.6]);
//! let d: Vec<f32> = codes.chunks(2).map(|c| query.rank_distance(c)).collect();
//! assert!(d[2] < d[0] && d[0] < d[1]); // (0.6, 0.8) is nearest, then (1, 0)
//! ```
use simsimd::SpatialSimilarity;

use crate::Metric;
use crate::tile::Isa;

/// Largest code magnitude (symmetric: `-128` is never produced).
const MAX_CODE: f32 = 127.0;

/// Symmetric 8-bit quantiser (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct I8 {
    offset: Vec<f32>,
    scale: f32,
}

impl I8 {
    /// Train on `rows` (`rows.len() / dim` rows of `dim` f32). `None` when `dim == 0`,
    /// there is no row, or a value is not finite. Constant data gets step 1.
    pub fn train(rows: &[f32], dim: usize) -> Option<I8> {
        if dim == 0 || rows.len() < dim {
            return None;
        }
        let mut lo = vec![f32::INFINITY; dim];
        let mut hi = vec![f32::NEG_INFINITY; dim];
        for row in rows.chunks_exact(dim) {
            for ((l, h), &x) in lo.iter_mut().zip(hi.iter_mut()).zip(row) {
                if !x.is_finite() {
                    return None;
                }
                *l = l.min(x);
                *h = h.max(x);
            }
        }
        let offset: Vec<f32> = lo.iter().zip(&hi).map(|(l, h)| l / 2.0 + h / 2.0).collect();
        let half = lo
            .iter()
            .zip(&hi)
            .map(|(l, h)| h / 2.0 - l / 2.0)
            .fold(0.0f32, f32::max);
        let scale = if half > 0.0 { half / MAX_CODE } else { 1.0 };
        I8::from_parts(offset, scale)
    }

    /// From stored parameters; `None` unless `offset` is non-empty and finite and
    /// `scale` is finite and positive.
    pub fn from_parts(offset: Vec<f32>, scale: f32) -> Option<I8> {
        let ok = !offset.is_empty()
            && offset.iter().all(|o| o.is_finite())
            && scale.is_finite()
            && scale > 0.0;
        ok.then_some(I8 { offset, scale })
    }

    /// Dimension.
    pub fn dim(&self) -> usize {
        self.offset.len()
    }

    /// Per-dimension centres.
    pub fn offset(&self) -> &[f32] {
        &self.offset
    }

    /// The step shared by every dimension.
    pub fn scale(&self) -> f32 {
        self.scale
    }

    /// Code `v` into `out` (common prefix of the three lengths; values outside the
    /// trained range are clamped, NaN codes as 0).
    pub fn encode(&self, v: &[f32], out: &mut [i8]) {
        for ((o, &x), &c) in out.iter_mut().zip(v).zip(&self.offset) {
            *o = to_code((x - c) / self.scale);
        }
    }

    /// A query for [`I8Query::rank_distance`] under `metric` (`query` prepared for it:
    /// normalised for cosine). L2 codes the query like the data; dot products (cosine,
    /// inner product) scale it by its own largest magnitude.
    pub fn query(&self, metric: Metric, query: &[f32]) -> I8Query {
        let mut code = vec![0i8; self.dim()];
        let l2 = metric == Metric::L2;
        if l2 {
            self.encode(query, &mut code);
        } else {
            let top = query.iter().fold(0.0f32, |m, x| m.max(x.abs()));
            let step = if top > 0.0 && top.is_finite() {
                top / MAX_CODE
            } else {
                1.0
            };
            for (o, &x) in code.iter_mut().zip(query) {
                *o = to_code(x / step);
            }
        }
        I8Query {
            l2,
            valid: query.len() == self.dim(),
            code,
        }
    }
}

impl I8 {
    /// The f32 form of a query for scoring codes *widened to f32* (`c as f32`, e.g. many
    /// codes at once with [`crate::tile::distances_tile`]), and the metric to score them
    /// with: L2 → the query in code units, `(q - offset) / scale`, under L2; cosine and
    /// inner product → the query itself under inner product (`q·x = q·offset + scale ·
    /// q·c`, and the first term is the same for every code). Either way smaller is
    /// closer and the order is that of the decoded vectors, up to f32 rounding.
    pub fn widened_query(&self, metric: Metric, query: &[f32]) -> (Metric, Vec<f32>) {
        if metric == Metric::L2 {
            let q = query
                .iter()
                .zip(&self.offset)
                .map(|(x, o)| (x - o) / self.scale)
                .collect();
            (Metric::L2, q)
        } else {
            (Metric::InnerProduct, query.to_vec())
        }
    }
}

/// Append `codes` widened to f32 (`c as f32`) to `out`.
pub fn widen(codes: &[i8], out: &mut Vec<f32>) {
    let start = out.len();
    out.resize(start + codes.len(), 0.0);
    let dst = out.get_mut(start..).unwrap_or_default();
    match Isa::selected() {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => {
            // SAFETY: `Isa::selected` returns `Avx512` only after
            // `is_x86_feature_detected!` confirmed avx512f, avx512vl and fma.
            unsafe { widen_avx512(codes, dst) }
        }
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma => {
            // SAFETY: `Isa::selected` returns `Avx2Fma` only after
            // `is_x86_feature_detected!` confirmed avx2 and fma.
            unsafe { widen_avx2(codes, dst) }
        }
        _ => widen_body(codes, dst),
    }
}

/// `dst[i] = codes[i] as f32` over the common prefix: a plain zip the compiler turns
/// into sign-extensions and conversions as wide as the enabled features allow.
#[inline(always)]
fn widen_body(codes: &[i8], dst: &mut [f32]) {
    for (o, &c) in dst.iter_mut().zip(codes) {
        *o = f32::from(c);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,fma")]
fn widen_avx512(codes: &[i8], dst: &mut [f32]) {
    widen_body(codes, dst);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn widen_avx2(codes: &[i8], dst: &mut [f32]) {
    widen_body(codes, dst);
}

fn to_code(x: f32) -> i8 {
    // `as` saturates and maps NaN to 0; the clamp keeps codes symmetric.
    x.round().clamp(-MAX_CODE, MAX_CODE) as i8
}

/// A query coded for an [`I8`] (from [`I8::query`]).
#[derive(Debug, Clone)]
pub struct I8Query {
    l2: bool,
    valid: bool,
    code: Vec<i8>,
}

impl I8Query {
    /// Smaller is closer: the integer L2² (L2) or the negated integer dot product
    /// (cosine, inner product) of the two codes. Only an order: see the module docs.
    /// A code of another length, or a query of the wrong dimension, gives
    /// `f32::INFINITY`.
    #[inline]
    pub fn rank_distance(&self, code: &[i8]) -> f32 {
        if !self.valid || code.len() != self.code.len() {
            return f32::INFINITY;
        }
        let d = if self.l2 {
            i8::l2sq(&self.code, code)
        } else {
            i8::dot(&self.code, code).map(|d| -d)
        };
        d.map_or(f32::INFINITY, |d| d as f32)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn exact(metric: Metric, q: &[f32], x: &[f32]) -> f64 {
        let dot: f64 = q
            .iter()
            .zip(x)
            .map(|(a, b)| f64::from(*a) * f64::from(*b))
            .sum();
        match metric {
            Metric::L2 => q
                .iter()
                .zip(x)
                .map(|(a, b)| (f64::from(*a) - f64::from(*b)).powi(2))
                .sum(),
            _ => -dot,
        }
    }

    proptest! {
        /// Codes decode to within half a step of every value in the trained range, and
        /// the integer kernels agree with exact f64 arithmetic on the codes.
        #[test]
        fn codes_are_within_half_a_step_and_kernels_are_exact_on_codes(
            (dim, rows) in (1usize..70, 1usize..8).prop_flat_map(|(d, n)| {
                (Just(d), proptest::collection::vec(-10.0f32..10.0, d * n))
            }),
            q in proptest::collection::vec(-10.0f32..10.0, 70),
        ) {
            let q8 = I8::train(&rows, dim).unwrap();
            let mut c = vec![0i8; dim];
            for r in rows.chunks_exact(dim) {
                q8.encode(r, &mut c);
                for ((&x, &k), &o) in r.iter().zip(&c).zip(q8.offset()) {
                    let back = o + q8.scale() * f32::from(k);
                    prop_assert!((back - x).abs() <= q8.scale() * 0.5 + 1e-4 * (1.0 + x.abs()));
                }
                let q = &q[..dim];
                for metric in [Metric::L2, Metric::InnerProduct] {
                    let query = q8.query(metric, q);
                    let want: i64 = match metric {
                        Metric::L2 => query.code.iter().zip(&c)
                            .map(|(a, b)| (i64::from(*a) - i64::from(*b)).pow(2)).sum(),
                        _ => -query.code.iter().zip(&c)
                            .map(|(a, b)| i64::from(*a) * i64::from(*b)).sum::<i64>(),
                    };
                    prop_assert_eq!(query.rank_distance(&c), want as f32);
                }
            }
        }
    }

    #[test]
    fn ranking_follows_exact_distances_on_spread_data() {
        // 200 rows of dim 48 on a lattice-free pattern; the nearest by code is among the
        // exact nearest few.
        let dim = 48;
        let rows: Vec<f32> = (0..200 * dim)
            .map(|i| ((i * 7919 % 1013) as f32 / 1013.0 - 0.5) * 2.0)
            .collect();
        let q8 = I8::train(&rows, dim).unwrap();
        let codes: Vec<Vec<i8>> = rows
            .chunks_exact(dim)
            .map(|r| {
                let mut c = vec![0i8; dim];
                q8.encode(r, &mut c);
                c
            })
            .collect();
        for metric in [Metric::L2, Metric::InnerProduct] {
            for q in rows.chunks_exact(dim).step_by(17) {
                let query = q8.query(metric, q);
                let best = (0..codes.len())
                    .min_by(|&a, &b| {
                        query
                            .rank_distance(&codes[a])
                            .total_cmp(&query.rank_distance(&codes[b]))
                    })
                    .unwrap();
                let mut order: Vec<usize> = (0..codes.len()).collect();
                order.sort_by(|&a, &b| {
                    let (x, y) = (&rows[a * dim..][..dim], &rows[b * dim..][..dim]);
                    exact(metric, q, x).total_cmp(&exact(metric, q, y))
                });
                assert!(
                    order[..3].contains(&best),
                    "{metric}: {best} vs {:?}",
                    &order[..3]
                );
            }
        }
    }

    #[test]
    fn widened_codes_rank_like_the_decoded_vectors() {
        let dim = 16;
        let rows: Vec<f32> = (0..50 * dim)
            .map(|i| ((i * 7919 % 1013) as f32 / 1013.0 - 0.5) * 3.0 + 1.0)
            .collect();
        let q8 = I8::train(&rows, dim).unwrap();
        let mut codes = vec![0i8; rows.len()];
        for (r, c) in rows.chunks_exact(dim).zip(codes.chunks_exact_mut(dim)) {
            q8.encode(r, c);
        }
        let decoded: Vec<f32> = codes
            .chunks_exact(dim)
            .flat_map(|c| {
                c.iter()
                    .zip(q8.offset())
                    .map(|(&c, o)| o + q8.scale() * f32::from(c))
            })
            .collect();
        let mut wide = Vec::new();
        widen(&codes, &mut wide);
        let q: Vec<f32> = rows[3 * dim..4 * dim]
            .iter()
            .map(|x| x * 0.9 + 0.05)
            .collect();
        for metric in [Metric::L2, Metric::InnerProduct] {
            let (m, wq) = q8.widened_query(metric, &q);
            let by = |data: &[f32], query: &[f32], m: Metric| {
                let mut order: Vec<usize> = (0..50).collect();
                order.sort_by(|&a, &b| {
                    let d = |i: usize| exact(m, query, &data[i * dim..][..dim]);
                    d(a).total_cmp(&d(b))
                });
                order
            };
            assert_eq!(
                by(&wide, &wq, m)[..5],
                by(&decoded, &q, metric)[..5],
                "{metric}"
            );
        }
    }

    #[test]
    fn bad_parameters_and_lengths() {
        assert!(I8::train(&[], 3).is_none());
        assert!(I8::train(&[1.0, f32::NAN], 2).is_none());
        assert!(I8::from_parts(vec![0.0], 0.0).is_none());
        assert!(I8::from_parts(vec![f32::INFINITY], 1.0).is_none());
        let q8 = I8::train(&[2.0, 2.0], 2).unwrap();
        assert_eq!(q8.scale(), 1.0, "constant data: step 1");
        let q = q8.query(Metric::L2, &[1.0]);
        assert_eq!(q.rank_distance(&[0, 0]), f32::INFINITY);
        let q = q8.query(Metric::L2, &[1.0, 1.0]);
        assert_eq!(q.rank_distance(&[0]), f32::INFINITY);
    }
}
