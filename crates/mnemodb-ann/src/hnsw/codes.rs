//! [`Sq8Codes`]: 8-bit codes of a graph's vectors (one [`Sq8`] per-dimension quantiser
//! trained on the rows), so the graph walk reads `dim` bytes per node instead of
//! `4 × dim` and the walk's working set stays in cache; the `ef` candidates it ends with
//! are re-ranked on the exact f32 rows.
//!
//! [`CodeBound`] makes the codes usable by the *exact* scan too: a proven per-query bound
//! between a row's exact f32 distance and the approximate distance of its code, valid for
//! every row whose code [`certifies`](certified) it, so a scan can score every allowed
//! row on its code and compute exact distances only for the rows the bound cannot rule
//! out.
use std::sync::Arc;

use mnemodb_distance::Metric;
use mnemodb_distance::quantized::Sq8;
use mnemodb_io::ReadOnlyBytes;
use roaring::RoaringBitmap;

use super::rows::Rows;

/// Where the codes live.
#[derive(Debug, Clone)]
pub(crate) enum CodeBytes {
    Owned(Arc<[u8]>),
    /// `len` bytes at `offset` of a mapped index file.
    Mapped {
        bytes: ReadOnlyBytes,
        offset: usize,
        len: usize,
    },
}

/// The quantiser and `n × dim` codes, row `i` at `i × dim`.
#[derive(Debug, Clone)]
pub(crate) struct Sq8Codes {
    pub sq: Arc<Sq8>,
    pub data: CodeBytes,
}

impl Sq8Codes {
    /// The codes, back to back (empty if a mapped range is out of bounds).
    #[inline]
    pub fn codes(&self) -> &[u8] {
        match &self.data {
            CodeBytes::Owned(c) => c,
            CodeBytes::Mapped { bytes, offset, len } => offset
                .checked_add(*len)
                .and_then(|end| bytes.get(*offset..end))
                .unwrap_or_default(),
        }
    }

    /// Bytes per code.
    pub fn dim(&self) -> usize {
        self.sq.dim()
    }

    /// Train a quantiser on `rows` (those in `include` when given) and encode every row.
    /// `None` when there is nothing to train on or a value is not finite.
    pub fn train(rows: Rows<'_>, include: Option<&RoaringBitmap>) -> Option<Self> {
        let dim = rows.dim();
        let sq = match include {
            None => Sq8::train_strided(rows.data(), dim, rows.stride())?,
            Some(b) => {
                let mut packed = Vec::with_capacity(b.len() as usize * dim);
                for r in b.iter() {
                    if let Some(v) = rows.get(r as usize) {
                        packed.extend_from_slice(v);
                    }
                }
                Sq8::train(&packed, dim)?
            }
        };
        let mut codes = vec![0u8; rows.len() * dim];
        for (i, out) in codes.chunks_exact_mut(dim).enumerate() {
            if let Some(v) = rows.get(i) {
                sq.encode(v, out);
            }
        }
        Some(Sq8Codes {
            sq: Arc::new(sq),
            data: CodeBytes::Owned(codes.into()),
        })
    }
}

/// Whether `code` certifies [`CodeBound`]: every component is in `1..=254`.
///
/// [`Sq8::encode`] stores `c = round(t)` clamped to `0..=255`, with `t = (x − min) / scale`
/// computed in f32. A component inside `1..=254` was not clamped, so `t` lay in
/// `[0.5, 254.5)` and `|t − c| ≤ ½`; a component 0 or 255 may have been clamped (a row
/// outside the range the quantiser was trained on: codes of rows added after training,
/// or left out of it) and says nothing about the row. So a certified code bounds its row
/// whatever rows the quantiser was trained on, using only the code. Rows at a trained
/// minimum or maximum are not certified either (their codes are 0 or 255): a scan scores
/// them exactly. A dimension with `scale = 0` always encodes as 0, so with one of those
/// no code is certified.
#[inline]
pub(crate) fn certified(code: &[u8]) -> bool {
    // Min and max reductions (vectorised), not an early-exit search.
    let (lo, hi) = code
        .iter()
        .fold((u8::MAX, u8::MIN), |(lo, hi), &c| (lo.min(c), hi.max(c)));
    lo >= 1 && hi <= 254
}

/// f32 unit roundoff, `2^-24`.
const U: f64 = 1.0 / (1u64 << 24) as f64;

/// `|x_i − x̂_i| ≤ STEP_ERROR · scale_i` for a certified component, `x̂_i = min_i +
/// scale_i · c_i` the exact decoded value: half a step from the rounding, plus the f32
/// error of `t`: `t = (x − min)(1 + α) / scale · (1 + β)`, `|α|, |β| ≤ u` (a difference
/// that is subnormal is exact; `t ≥ 0.5` does not underflow), so `|t − (x − min) / scale|
/// ≤ (2u + u²) · 254.5 · (1 + 3u) < 512u`.
const STEP_ERROR: f64 = 0.5 + 512.0 * U;

/// `γ(k) = k·u / (1 − k·u)`: a sum whose every term passes through at most `k` f32
/// roundings (products, FMAs, additions, in any order) errs by at most `γ(k) · Σ|terms|`.
fn gamma(k: usize) -> f64 {
    let ku = k as f64 * U;
    ku / (1.0 - ku)
}

/// Relative margin on every bound computed here in f64 (a few f64 roundings, ≈ 1e-15).
const F64_MARGIN: f64 = 1e-9;

/// Largest value a bound may reach before the fast path is refused (the f32 kernels
/// could overflow, and the bounds above assume they do not).
const MAX_MAGNITUDE: f64 = 1e30;

/// A proven bound, for one query, between a row's exact distance (the f32 kernel
/// [`Metric::distance_fn`] on the row) and `a`, the distance
/// [`mnemodb_distance::quantized::Sq8Query::distance`] gives for the row's code, valid
/// for every row whose code is [`certified`]: `lower(a) ≤ exact ≤` [`upper(a)`](Self::upper).
///
/// Derivation (`u = 2^-24`, `n = dim`, `x` the row, `x̂` its code decoded exactly, every
/// component `|x_i − x̂_i| ≤ STEP_ERROR · s_i` by [`certified`], so `x_i` and `x̂_i` lie in
/// `[m_i, m_i + 255 s_i]`):
/// - Cosine and inner product (the f32 kernel is `1 − q·x` clamped, or `−q·x`; the code's
///   is the same of `bias + Σ w_i c_i`, `bias ≈ Σ q_i m_i`, `w_i ≈ q_i s_i`):
///   `|q·x − q·x̂| ≤ STEP_ERROR · Σ|q_i| s_i` (the quantisation); each of the two f32
///   computations errs by at most `γ(n + 8) · B + 2u` with `B = Σ|q_i| (|m_i| + 255 s_i) ≥
///   Σ|q_i x_i|, Σ|q_i x̂_i|` (the dot product in any order, the folded `w_i` and `bias`,
///   the final additions and the f32 result; the clamp of cosine is 1-Lipschitz). So
///   `ε = STEP_ERROR · Σ|q_i| s_i + 2 γ(n + 8) · B + 4u` and the exact distance is
///   within `a ± ε`.
/// - L2 (the f32 kernel is `Σ (q_i − x_i)²`, the code's `Σ s_i² (r_i − c_i)²` with `r_i =
///   (q_i − m_i) / s_i`): by the triangle inequality `|‖q − x‖ − ‖q − x̂‖| ≤ ‖x − x̂‖ ≤ δ =
///   STEP_ERROR · ‖s‖`. With `R_i = |q_i − m_i| + 255 s_i` (≥ `|q_i − x_i|`, `|q_i − x̂_i|`,
///   `|q_i − m_i|`) and `Q = Σ R_i²`, the f32 kernel errs by at most `ρ_x = γ(n + 6) · Q`
///   (`γ(n + 4) + u` relative to `‖q − x‖²`), and the code's computation by at most `ρ_c =
///   γ(n + 11) · Q`: the rounded `r_i` and `r_i − c_i` err by `3u · R_i / s_i`, which
///   moves a squared term by `6.001u · R_i²`; `s_i²` and the product round once each;
///   then the sum. So `exact ≤ (√(a + ρ_c) + δ)² + ρ_x` and `exact ≥ (√(a − ρ_c) − δ)₊² −
///   ρ_x`. Scales below `2^-60` and steps `|r_i|` above `2^60` are refused (`s_i²` would be
///   subnormal, `r_i²` could overflow).
///
/// Each bound also gets an absolute slack for gradual underflow (products below `2^-126`
/// err by up to `2^-150` each) and a relative [`F64_MARGIN`] for its own f64 arithmetic.
/// Requires the kernels to run without flushing subnormals to zero (the crate never
/// sets that mode).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum CodeBound {
    /// Cosine, inner product: the exact distance is within `a ± eps`.
    Dot { eps: f64 },
    /// L2: see the type docs.
    L2 {
        delta: f64,
        rho_code: f64,
        rho_row: f64,
    },
}

impl CodeBound {
    /// The bound for `query` (already prepared for `metric`) under `sq`; `None` when no
    /// useful finite bound holds: a dimension mismatch, a scale of 0 (no code is
    /// certified), values large enough for the f32 kernels to overflow, or (L2) scales
    /// too small for the folded query.
    pub fn new(sq: &Sq8, metric: Metric, query: &[f32]) -> Option<CodeBound> {
        let n = sq.dim();
        if query.len() != n || n == 0 {
            return None;
        }
        let dims = query.iter().zip(sq.min()).zip(sq.scale());
        let underflow = (n as f64 + 8.0) * 2f64.powi(-140);
        let bound = match metric {
            Metric::Cosine | Metric::InnerProduct => {
                let (mut qs, mut b) = (0.0f64, 0.0f64);
                for ((&q, &m), &s) in dims {
                    if s.is_nan() || s <= 0.0 {
                        return None;
                    }
                    let (q, m, s) = (f64::from(q).abs(), f64::from(m), f64::from(s));
                    qs += q * s;
                    b += q * (m.abs() + 255.0 * s);
                }
                if !b.is_finite() || b >= MAX_MAGNITUDE {
                    return None;
                }
                let eps = STEP_ERROR * qs + 2.0 * gamma(n + 8) * b + 4.0 * U + underflow;
                CodeBound::Dot {
                    eps: eps * (1.0 + F64_MARGIN),
                }
            }
            Metric::L2 => {
                let (mut ss, mut rr) = (0.0f64, 0.0f64);
                let tiny = 2f64.powi(-60);
                for ((&q, &m), &s) in dims {
                    let (q, m, s) = (f64::from(q), f64::from(m), f64::from(s));
                    if s.is_nan() || s < tiny || (q - m).abs() / s > 1.0 / tiny {
                        return None;
                    }
                    ss += s * s;
                    let r = (q - m).abs() + 255.0 * s;
                    rr += r * r;
                }
                if !rr.is_finite() || rr >= MAX_MAGNITUDE {
                    return None;
                }
                let margin = 1.0 + F64_MARGIN;
                // The code's computation also rounds `fl(s·s)·d` below 2^-126: up to
                // 2^-150 · |d| ≤ 2^-89 per term.
                let slack = (n as f64 + 8.0) * 2f64.powi(-80);
                CodeBound::L2 {
                    delta: STEP_ERROR * ss.sqrt() * margin,
                    rho_code: (gamma(n + 11) * rr + slack) * margin,
                    rho_row: (gamma(n + 6) * rr + underflow) * margin,
                }
            }
            _ => return None,
        };
        Some(bound)
    }

    /// Smallest exact distance a row whose certified code scores `a` can have (the scan
    /// uses it through [`Self::keep_up_to`]).
    #[cfg(test)]
    pub fn lower(&self, a: f32) -> f64 {
        let a = f64::from(a);
        match *self {
            CodeBound::Dot { eps } => a - eps,
            CodeBound::L2 {
                delta,
                rho_code,
                rho_row,
            } => {
                let root = ((a - rho_code).max(0.0).sqrt() - delta).max(0.0);
                (root * root) * (1.0 - F64_MARGIN) - rho_row
            }
        }
    }

    /// Largest exact distance a row whose certified code scores `a` can have.
    pub fn upper(&self, a: f32) -> f64 {
        let a = f64::from(a);
        match *self {
            CodeBound::Dot { eps } => a + eps,
            CodeBound::L2 {
                delta,
                rho_code,
                rho_row,
            } => {
                let root = (a + rho_code).max(0.0).sqrt() + delta;
                (root * root) * (1.0 + F64_MARGIN) + rho_row
            }
        }
    }

    /// The largest code distance whose row can still be among the `k` nearest when `k`
    /// certified rows score at most `kth` on their codes: a row scoring more has
    /// `lower > upper(kth)`, so it is beaten by all `k` (strictly: ties cannot reach it).
    /// Monotone: `lower(a) ≤ upper(kth)` for every `a ≤ keep_up_to(kth)`.
    pub fn keep_up_to(&self, kth: f32) -> f64 {
        let top = self.upper(kth);
        match *self {
            CodeBound::Dot { eps } => (top + eps) + F64_MARGIN * (top.abs() + eps),
            CodeBound::L2 {
                delta,
                rho_code,
                rho_row,
            } => {
                // lower(a) ≤ top  ⇐  √(a − ρ_c) ≤ √((top + ρ_x) / (1 − margin)) + δ.
                let root = ((top + rho_row).max(0.0) / (1.0 - F64_MARGIN)).sqrt() + delta;
                (root * root + rho_code) * (1.0 + F64_MARGIN)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use proptest::prelude::*;

    /// Deterministic uniform numbers in `[0, 1)` (splitmix64).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> f32 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 24) as f32
        }
        fn vector(&mut self, dim: usize, spread: f32, offset: f32) -> Vec<f32> {
            (0..dim)
                .map(|_| offset + spread * (2.0 * self.next() - 1.0))
                .collect()
        }
    }

    fn prepared(metric: Metric, mut v: Vec<f32>) -> Vec<f32> {
        metric.prepare(&mut v);
        v
    }

    /// Asserts `lower(a) ≤ exact ≤ upper(a)` for `row` against `query` (both prepared).
    fn assert_bounded(sq: &Sq8, metric: Metric, query: &[f32], row: &[f32]) {
        let bound = CodeBound::new(sq, metric, query).unwrap();
        let mut code = vec![0u8; sq.dim()];
        sq.encode(row, &mut code);
        let a = sq.query(metric, query).distance(&code);
        let exact = f64::from(metric.distance_fn()(query, row));
        let (lo, hi) = (bound.lower(a), bound.upper(a));
        assert!(
            lo <= exact && exact <= hi,
            "{metric}: exact {exact} outside [{lo}, {hi}] (code distance {a})"
        );
        // Whatever `k`-th code distance a scan sees at or above this one keeps the row.
        assert!(f64::from(a) <= bound.keep_up_to(a));
    }

    /// Whether every component of `row` is within [`STEP_ERROR`] steps of its decoded code
    /// (in f64, i.e. exactly for these magnitudes).
    fn within_steps(sq: &Sq8, row: &[f32], code: &[u8]) -> bool {
        row.iter()
            .zip(code)
            .zip(sq.min().iter().zip(sq.scale()))
            .all(|((&x, &c), (&m, &s))| {
                let decoded = f64::from(m) + f64::from(s) * f64::from(c);
                (f64::from(x) - decoded).abs() <= STEP_ERROR * f64::from(s)
            })
    }

    fn metric_of(i: usize) -> Metric {
        Metric::ALL[i % Metric::ALL.len()]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Every row the quantiser was trained on (the rows holding each dimension's
        /// minimum and maximum among them, whose codes are 0 and 255) and every certified
        /// row outside that range is within the bound of its code distance.
        #[test]
        fn bound_holds_for_trained_and_certified_rows(
            dim in 1usize..70,
            n in 2usize..30,
            log_spread in -4i32..5,
            offset in -3.0f32..3.0,
            seed in any::<u64>(),
            metric in 0usize..3,
        ) {
            let metric = metric_of(metric);
            let spread = 10f32.powi(log_spread);
            let mut rng = Rng(seed);
            let rows: Vec<Vec<f32>> = (0..n)
                .map(|_| prepared(metric, rng.vector(dim, spread, offset * spread)))
                .collect();
            let sq = Sq8::train(&rows.concat(), dim).unwrap();
            prop_assume!(sq.scale().iter().all(|&s| s > 0.0));
            for _ in 0..4 {
                let query = prepared(metric, rng.vector(dim, spread * 2.0, 0.0));
                for row in &rows {
                    assert_bounded(&sq, metric, &query, row);
                }
                // Fresh rows, some outside the trained range: bounded when certified.
                for _ in 0..8 {
                    let row = prepared(metric, rng.vector(dim, spread * 1.2, offset * spread));
                    let mut code = vec![0u8; dim];
                    sq.encode(&row, &mut code);
                    if certified(&code) {
                        prop_assert!(within_steps(&sq, &row, &code));
                        assert_bounded(&sq, metric, &query, &row);
                    }
                }
            }
        }

        /// A certified code proves its row within `STEP_ERROR` steps per component, for
        /// any row (inside, at the edge of or far outside the trained range).
        #[test]
        fn certified_codes_bound_their_rows(
            dim in 1usize..40,
            seed in any::<u64>(),
            stretch in 0.5f32..3.0,
        ) {
            let mut rng = Rng(seed);
            let train: Vec<f32> = (0..4).flat_map(|_| rng.vector(dim, 1.0, 0.0)).collect();
            let sq = Sq8::train(&train, dim).unwrap();
            let mut code = vec![0u8; dim];
            for _ in 0..32 {
                let row = rng.vector(dim, stretch, 0.0);
                sq.encode(&row, &mut code);
                if certified(&code) {
                    prop_assert!(within_steps(&sq, &row, &code));
                }
            }
        }
    }

    /// Rows placed half a step from their code in the direction of the query, the worst
    /// case of the rounding, on a 384-d quantiser: still bounded, and the bound is not
    /// loose by more than a few percent there.
    #[test]
    fn bound_holds_at_adversarial_half_steps() {
        let dim = 384;
        let mut rng = Rng(7);
        for metric in Metric::ALL {
            let train: Vec<f32> = (0..64)
                .flat_map(|_| prepared(metric, rng.vector(dim, 0.1, 0.0)))
                .collect();
            let sq = Sq8::train(&train, dim).unwrap();
            let query = prepared(metric, rng.vector(dim, 0.1, 0.0));
            let bound = CodeBound::new(&sq, metric, &query).unwrap();
            let q8 = sq.query(metric, &query);
            let mut worst = 0.0f64;
            for trial in 0..64 {
                let code: Vec<u8> = (0..dim).map(|_| 1 + (rng.next() * 253.0) as u8).collect();
                // Just under half a step away (so the code stays the same), towards
                // (or, for half the trials, away from) the query.
                let sign = if trial % 2 == 0 { 1.0 } else { -1.0 };
                let row: Vec<f32> = (0..dim)
                    .map(|i| {
                        let (m, s, c) = (sq.min()[i], sq.scale()[i], f32::from(code[i]));
                        let towards = match metric {
                            Metric::L2 => (query[i] - (m + s * c)).signum(),
                            _ => -query[i].signum(),
                        };
                        m + s * (c + sign * towards * 0.499)
                    })
                    .collect();
                let mut again = vec![0u8; dim];
                sq.encode(&row, &mut again);
                assert_eq!(again, code);
                let a = q8.distance(&code);
                let exact = f64::from(metric.distance_fn()(&query, &row));
                assert!(
                    bound.lower(a) <= exact && exact <= bound.upper(a),
                    "{metric}"
                );
                let gap = (exact - f64::from(a)).abs();
                worst = worst.max(gap / (bound.upper(a) - f64::from(a)));
            }
            if metric != Metric::L2 {
                // The rounding errors are aligned with the query: nearly the whole bound.
                assert!(
                    worst > 0.95,
                    "{metric}: the worst case reached {worst} of the bound"
                );
            }
        }
    }

    /// Rows clamped by the encoder (outside the trained range) are never certified, and a
    /// dimension with a zero step refuses the bound.
    #[test]
    fn clamped_rows_are_not_certified() {
        let sq = Sq8::train(&[0.0, 1.0, 2.0, 1.0, 4.0, 3.0], 3).unwrap();
        let mut code = [0u8; 3];
        for row in [
            [-0.5, 2.0, 2.5],
            [2.0, 9.0, 2.5],
            [2.0, 2.0, 3.0],
            [0.0, 2.0, 2.5],
        ] {
            sq.encode(&row, &mut code);
            assert!(!certified(&code), "{row:?} → {code:?}");
        }
        sq.encode(&[0.5, 2.0, 2.5], &mut code);
        assert!(certified(&code));
        let flat = Sq8::train(&[0.0, 1.0, 0.0, 2.0], 2).unwrap();
        assert!(CodeBound::new(&flat, Metric::InnerProduct, &[1.0, 1.0]).is_none());
        assert!(CodeBound::new(&flat, Metric::L2, &[1.0, 1.0]).is_none());
        assert!(
            CodeBound::new(&sq, Metric::L2, &[1.0, 1.0]).is_none(),
            "dimension"
        );
        assert!(CodeBound::new(&sq, Metric::InnerProduct, &[1e30, 1.0, 1.0]).is_none());
        for metric in Metric::ALL {
            assert!(CodeBound::new(&sq, metric, &[f32::NAN, 1.0, 1.0]).is_none());
        }
    }

    /// On clustered unit vectors (384-d, as the memory layer's), the bound keeps only a
    /// small share of the rows for a top 10.
    #[test]
    fn bound_prunes_most_rows_on_clustered_data() {
        let dim = 384;
        let base = mnemodb_dataset::synthetic::Clustered::new(dim, 20, 3)
            .normalize(true)
            .sample(4000, 4);
        let queries = mnemodb_dataset::synthetic::queries_near(&base, 10, 0.04, 5);
        let sq = Sq8::train(&base.data, dim).unwrap();
        let mut code = vec![0u8; dim];
        for metric in Metric::ALL {
            let (mut kept, mut total) = (0usize, 0usize);
            for query in queries.rows() {
                let query = prepared(metric, query.to_vec());
                let bound = CodeBound::new(&sq, metric, &query).unwrap();
                let q8 = sq.query(metric, &query);
                let mut approx: Vec<f32> = base
                    .rows()
                    .map(|row| {
                        sq.encode(row, &mut code);
                        q8.distance(&code)
                    })
                    .collect();
                approx.sort_by(f32::total_cmp);
                let keep = bound.keep_up_to(approx[9]);
                kept += approx.iter().filter(|&&a| f64::from(a) <= keep).count();
                total += approx.len();
            }
            let share = kept as f64 / total as f64;
            assert!(share < 0.1, "{metric}: kept {share} of the rows");
        }
    }
}
