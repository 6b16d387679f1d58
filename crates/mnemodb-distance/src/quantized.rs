//! Scalar quantisation to 8 bits (SQ8) and asymmetric distance kernels (f32
//! query against `u8` codes).
//!
//! [`Sq8`] holds, per dimension, the minimum `min_i` and step `scale_i =
//! (max_i - min_i) / 255` of the training data. A component `x` is stored as
//! `c = round((x - min_i) / scale_i)` clamped to `0..=255` and decodes to
//! `min_i + scale_i · c`: within `scale_i / 2` of `x` (plus f32 rounding) when
//! `x` lies in the trained range, and clamped to the range otherwise. A
//! dimension that was constant in training has `scale_i = 0` and decodes to
//! `min_i` exactly.
//!
//! Distances follow the crate's convention (smaller is closer) and are
//! computed against the decoded vector without decoding it: [`Sq8::query`]
//! folds the per-dimension parameters into the query once, so the kernel is a
//! weighted L2 (`Σ w_i (r_i - c_i)²`) or a dot product (`Σ w_i c_i`) over the
//! `u8` codes, 16 f32 lanes wide. The kernels are compiled for AVX-512 (and
//! AVX2 + FMA) and dispatched at run time like the blocked kernels; this file's
//! `unsafe` is only those calls after feature detection.
//!
//! ```
//! use mnemodb_distance::{quantized::Sq8, Metric};
//! let rows = [0.0, 10.0, 1.0, 20.0]; // two rows of dim 2
//! let sq = Sq8::train(&rows, 2).unwrap();
//! let mut code = [0u8; 2];
//! sq.encode(&[0.5, 15.0], &mut code);
//! let mut back = [0.0f32; 2];
//! sq.decode(&code, &mut back);
//! assert!((back[0] - 0.5).abs() <= sq.scale()[0] / 2.0 + 1e-6);
//! let q = sq.query(Metric::L2, &[0.5, 15.0]);
//! assert!(q.distance(&code) < 1e-3);
//! ```

use crate::Metric;
use crate::tile::Isa;

/// Lanes of the kernels' accumulators.
const LANES: usize = 16;

/// Per-dimension 8-bit scalar quantiser (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct Sq8 {
    min: Vec<f32>,
    scale: Vec<f32>,
}

impl Sq8 {
    /// Train on `rows` (`rows.len() / dim` rows of `dim` f32; a trailing
    /// partial row is ignored). `None` when `dim == 0`, there is no row, or a
    /// value is not finite (or the range overflows f32).
    pub fn train(rows: &[f32], dim: usize) -> Option<Sq8> {
        Sq8::train_strided(rows, dim, dim)
    }

    /// [`Sq8::train`] on rows laid out with `stride ≥ dim` f32 each (only the first `dim`
    /// are used). `None` also when `stride < dim`.
    pub fn train_strided(rows: &[f32], dim: usize, stride: usize) -> Option<Sq8> {
        if dim == 0 || stride < dim || rows.len() < dim {
            return None;
        }
        let mut lo = vec![f32::INFINITY; dim];
        let mut hi = vec![f32::NEG_INFINITY; dim];
        for row in rows.chunks(stride).filter(|r| r.len() >= dim) {
            for ((l, h), &x) in lo.iter_mut().zip(hi.iter_mut()).zip(row.iter().take(dim)) {
                if !x.is_finite() {
                    return None;
                }
                *l = l.min(x);
                *h = h.max(x);
            }
        }
        let scale = lo.iter().zip(&hi).map(|(l, h)| (h - l) / 255.0).collect();
        Sq8::from_parts(lo, scale)
    }

    /// From stored parameters; `None` unless both have the same non-zero
    /// length, every value is finite, every scale is ≥ 0, and the top of every
    /// range (`min + 255 · scale`) is finite.
    pub fn from_parts(min: Vec<f32>, scale: Vec<f32>) -> Option<Sq8> {
        let ok = !min.is_empty()
            && min.len() == scale.len()
            && min.iter().zip(&scale).all(|(m, s)| {
                m.is_finite() && s.is_finite() && *s >= 0.0 && (m + 255.0 * s).is_finite()
            });
        ok.then_some(Sq8 { min, scale })
    }

    /// Dimension.
    pub fn dim(&self) -> usize {
        self.min.len()
    }

    /// Per-dimension minimum (the value of code 0).
    pub fn min(&self) -> &[f32] {
        &self.min
    }

    /// Per-dimension step between codes.
    pub fn scale(&self) -> &[f32] {
        &self.scale
    }

    /// Encode `v` into `out` (lengths should both be [`Sq8::dim`]; only the
    /// common prefix is written). Values outside the trained range clamp to
    /// 0 or 255; NaN encodes as 0.
    pub fn encode(&self, v: &[f32], out: &mut [u8]) {
        debug_assert_eq!(v.len(), self.dim());
        debug_assert_eq!(out.len(), self.dim());
        for (((o, &x), &m), &s) in out.iter_mut().zip(v).zip(&self.min).zip(&self.scale) {
            *o = if s > 0.0 {
                // `as u8` saturates and maps NaN to 0.
                ((x - m) / s).round().clamp(0.0, 255.0) as u8
            } else {
                0
            };
        }
    }

    /// Decode `code` into `out` (common prefix only).
    pub fn decode(&self, code: &[u8], out: &mut [f32]) {
        debug_assert_eq!(code.len(), self.dim());
        for (((o, &c), &m), &s) in out.iter_mut().zip(code).zip(&self.min).zip(&self.scale) {
            *o = m + s * f32::from(c);
        }
    }

    /// A query prepared for [`Sq8Query::distance`] under `metric`: `query` must
    /// already be prepared for the metric (normalised for cosine). A query of
    /// another length than [`Sq8::dim`] gives a query whose distances are all
    /// `f32::INFINITY`.
    pub fn query(&self, metric: Metric, query: &[f32]) -> Sq8Query {
        let mut out = Sq8Query::default();
        self.query_into(metric, query, &mut out);
        out
    }

    /// [`Sq8::query`] into `out`, reusing its buffers (no allocation once they have
    /// grown to [`Sq8::dim`]).
    pub fn query_into(&self, metric: Metric, query: &[f32], out: &mut Sq8Query) {
        let dim = self.dim();
        let Sq8Query {
            kind,
            w,
            r,
            bias: out_bias,
        } = out;
        w.clear();
        r.clear();
        *out_bias = 0.0;
        if query.len() != dim {
            debug_assert_eq!(query.len(), dim, "Sq8::query: dimension mismatch");
            *kind = Kind::Invalid;
            return;
        }
        let mut bias = 0.0f64;
        *kind = match metric {
            Metric::L2 => {
                for ((&q, &m), &s) in query.iter().zip(&self.min).zip(&self.scale) {
                    if s > 0.0 {
                        w.push(s * s);
                        r.push((q - m) / s);
                    } else {
                        let d = f64::from(q) - f64::from(m);
                        bias += d * d;
                        w.push(0.0);
                        r.push(0.0);
                    }
                }
                Kind::L2
            }
            Metric::InnerProduct | Metric::Cosine => {
                for ((&q, &m), &s) in query.iter().zip(&self.min).zip(&self.scale) {
                    bias += f64::from(q) * f64::from(m);
                    w.push(q * s);
                }
                if metric == Metric::Cosine {
                    Kind::Cosine
                } else {
                    Kind::Ip
                }
            }
        };
        *out_bias = bias as f32;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Kind {
    L2,
    Ip,
    Cosine,
    #[default]
    Invalid,
}

/// A query folded with an [`Sq8`]'s parameters (from [`Sq8::query`]). The default
/// value gives `f32::INFINITY` for every code until [`Sq8::query_into`] fills it.
#[derive(Debug, Clone, Default)]
pub struct Sq8Query {
    kind: Kind,
    w: Vec<f32>,
    r: Vec<f32>,
    bias: f32,
}

impl Sq8Query {
    /// Distance (crate convention) from the query to the vector that `code`
    /// decodes to, up to f32 rounding. A code of the wrong length gives
    /// `f32::INFINITY`; NaN never comes out.
    #[inline]
    pub fn distance(&self, code: &[u8]) -> f32 {
        if code.len() != self.w.len() || self.kind == Kind::Invalid {
            return f32::INFINITY;
        }
        let d = match self.kind {
            Kind::L2 => self.bias + l2_dispatch(&self.w, &self.r, code),
            Kind::Ip => -(self.bias + dot_dispatch(&self.w, code)),
            Kind::Cosine => (1.0 - (self.bias + dot_dispatch(&self.w, code))).clamp(0.0, 2.0),
            Kind::Invalid => f32::INFINITY,
        };
        if d.is_nan() { f32::INFINITY } else { d }
    }

    /// [`Sq8Query::distance`] of every code in `codes` (`codes.len() / dim`
    /// codes back to back) into `out` (common prefix only).
    pub fn distances(&self, codes: &[u8], out: &mut [f32]) {
        let dim = self.w.len().max(1);
        for (o, c) in out.iter_mut().zip(codes.chunks_exact(dim)) {
            *o = self.distance(c);
        }
    }
}

/// Lanes of the wide accumulator: four independent 16-lane vectors, so consecutive
/// FMAs do not wait on each other.
const WIDE: usize = 4 * LANES;

/// `a·b + acc`, fused when the caller is compiled with FMA (`FMA = true`; a fused
/// multiply-add without the instruction would be a slow library call).
#[inline(always)]
fn madd<const FMA: bool>(a: f32, b: f32, acc: f32) -> f32 {
    if FMA { a.mul_add(b, acc) } else { a * b + acc }
}

/// The sum of the 16 lanes as a tree (8 + 8, 4 + 4, 2 + 2, 1 + 1): four dependent vector
/// adds instead of a chain of fifteen dependent scalar ones (the compiler may not reorder
/// a float sum itself). Measured on the SQ8 graph walk and exact scans, where a chain was
/// a large part of each 384-d distance.
#[inline(always)]
fn lanes_sum(acc: [f32; LANES]) -> f32 {
    let mut v = acc;
    for width in [8, 4, 2, 1] {
        let (lo, hi) = v.split_at_mut(width);
        for (a, b) in lo.iter_mut().zip(hi.iter()) {
            *a += *b;
        }
    }
    v[0]
}

/// `Σ w_i (r_i - c_i)²`: 64 lanes, then 16, then scalar.
#[inline(always)]
fn l2_body<const FMA: bool>(w: &[f32], r: &[f32], c: &[u8]) -> f32 {
    let n = w.len().min(r.len()).min(c.len());
    let (w, r, c) = (
        w.get(..n).unwrap_or(&[]),
        r.get(..n).unwrap_or(&[]),
        c.get(..n).unwrap_or(&[]),
    );
    let mut wide = [0.0f32; WIDE];
    for ((w, r), c) in w
        .chunks_exact(WIDE)
        .zip(r.chunks_exact(WIDE))
        .zip(c.chunks_exact(WIDE))
    {
        for (((a, w), r), c) in wide.iter_mut().zip(w).zip(r).zip(c) {
            let d = r - f32::from(*c);
            *a = madd::<FMA>(w * d, d, *a);
        }
    }
    let done = n / WIDE * WIDE;
    let (w, r, c) = (
        w.get(done..).unwrap_or(&[]),
        r.get(done..).unwrap_or(&[]),
        c.get(done..).unwrap_or(&[]),
    );
    let mut acc = [0.0f32; LANES];
    for ((w, r), c) in w
        .chunks_exact(LANES)
        .zip(r.chunks_exact(LANES))
        .zip(c.chunks_exact(LANES))
    {
        for (((a, w), r), c) in acc.iter_mut().zip(w).zip(r).zip(c) {
            let d = r - f32::from(*c);
            *a = madd::<FMA>(w * d, d, *a);
        }
    }
    let done = w.len() / LANES * LANES;
    let mut tail = 0.0;
    for ((w, r), c) in w.iter().zip(r).zip(c).skip(done) {
        let d = r - f32::from(*c);
        tail = madd::<FMA>(w * d, d, tail);
    }
    for (a, b) in acc
        .iter_mut()
        .zip(wide.chunks_exact(LANES).fold([0.0f32; LANES], |mut s, x| {
            s.iter_mut().zip(x).for_each(|(s, x)| *s += x);
            s
        }))
    {
        *a += b;
    }
    lanes_sum(acc) + tail
}

/// `Σ w_i c_i`: 64 lanes, then 16, then scalar.
#[inline(always)]
fn dot_body<const FMA: bool>(w: &[f32], c: &[u8]) -> f32 {
    let n = w.len().min(c.len());
    let (w, c) = (w.get(..n).unwrap_or(&[]), c.get(..n).unwrap_or(&[]));
    let mut wide = [0.0f32; WIDE];
    for (w, c) in w.chunks_exact(WIDE).zip(c.chunks_exact(WIDE)) {
        for ((a, w), c) in wide.iter_mut().zip(w).zip(c) {
            *a = madd::<FMA>(*w, f32::from(*c), *a);
        }
    }
    let done = n / WIDE * WIDE;
    let (w, c) = (w.get(done..).unwrap_or(&[]), c.get(done..).unwrap_or(&[]));
    let mut acc = [0.0f32; LANES];
    for (w, c) in w.chunks_exact(LANES).zip(c.chunks_exact(LANES)) {
        for ((a, w), c) in acc.iter_mut().zip(w).zip(c) {
            *a = madd::<FMA>(*w, f32::from(*c), *a);
        }
    }
    let done = w.len() / LANES * LANES;
    let mut tail = 0.0;
    for (w, c) in w.iter().zip(c).skip(done) {
        tail = madd::<FMA>(*w, f32::from(*c), tail);
    }
    for (a, b) in acc
        .iter_mut()
        .zip(wide.chunks_exact(LANES).fold([0.0f32; LANES], |mut s, x| {
            s.iter_mut().zip(x).for_each(|(s, x)| *s += x);
            s
        }))
    {
        *a += b;
    }
    lanes_sum(acc) + tail
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,fma")]
fn l2_avx512(w: &[f32], r: &[f32], c: &[u8]) -> f32 {
    l2_body::<true>(w, r, c)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,fma")]
fn dot_avx512(w: &[f32], c: &[u8]) -> f32 {
    dot_body::<true>(w, c)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn l2_avx2(w: &[f32], r: &[f32], c: &[u8]) -> f32 {
    l2_body::<true>(w, r, c)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn dot_avx2(w: &[f32], c: &[u8]) -> f32 {
    dot_body::<true>(w, c)
}

#[inline]
fn l2_dispatch(w: &[f32], r: &[f32], c: &[u8]) -> f32 {
    match Isa::selected() {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => {
            // SAFETY: `Isa::selected` returns `Avx512` only after
            // `is_x86_feature_detected!` confirmed avx512f, avx512vl and fma.
            unsafe { l2_avx512(w, r, c) }
        }
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma => {
            // SAFETY: `Isa::selected` returns `Avx2Fma` only after
            // `is_x86_feature_detected!` confirmed avx2 and fma.
            unsafe { l2_avx2(w, r, c) }
        }
        _ => l2_body::<false>(w, r, c),
    }
}

#[inline]
fn dot_dispatch(w: &[f32], c: &[u8]) -> f32 {
    match Isa::selected() {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => {
            // SAFETY: `Isa::selected` returns `Avx512` only after
            // `is_x86_feature_detected!` confirmed avx512f, avx512vl and fma.
            unsafe { dot_avx512(w, c) }
        }
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma => {
            // SAFETY: `Isa::selected` returns `Avx2Fma` only after
            // `is_x86_feature_detected!` confirmed avx2 and fma.
            unsafe { dot_avx2(w, c) }
        }
        _ => dot_body::<false>(w, c),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn rows_strategy() -> impl Strategy<Value = (usize, Vec<f32>)> {
        (1usize..200, 1usize..12).prop_flat_map(|(dim, n)| {
            (
                Just(dim),
                proptest::collection::vec(-1000.0f32..1000.0, dim * n),
            )
        })
    }

    proptest! {
        #[test]
        fn round_trip_within_half_step((dim, rows) in rows_strategy()) {
            let sq = Sq8::train(&rows, dim).unwrap();
            let mut code = vec![0u8; dim];
            let mut back = vec![0.0f32; dim];
            for row in rows.chunks_exact(dim) {
                sq.encode(row, &mut code);
                sq.decode(&code, &mut back);
                for i in 0..dim {
                    let bound = sq.scale()[i] / 2.0 + 1e-4 * (1.0 + row[i].abs());
                    prop_assert!((back[i] - row[i]).abs() <= bound,
                        "dim {i}: {} vs {} (scale {})", back[i], row[i], sq.scale()[i]);
                }
            }
        }

        #[test]
        fn kernels_match_decoded_reference((dim, rows) in rows_strategy(), q in proptest::collection::vec(-1000.0f32..1000.0, 200)) {
            let sq = Sq8::train(&rows, dim).unwrap();
            let q = &q[..dim];
            let mut code = vec![0u8; dim];
            let mut back = vec![0.0f32; dim];
            for metric in [Metric::L2, Metric::InnerProduct] {
                let prepared = sq.query(metric, q);
                for row in rows.chunks_exact(dim) {
                    sq.encode(row, &mut code);
                    sq.decode(&code, &mut back);
                    let want = crate::reference::distance(metric, q, &back);
                    let got = f64::from(prepared.distance(&code));
                    let mag: f64 = q.iter().zip(&back).map(|(a, b)| f64::from(*a).abs() * f64::from(*b).abs() + f64::from(*a) * f64::from(*a) + f64::from(*b) * f64::from(*b)).sum();
                    prop_assert!((got - want).abs() <= 1e-4 * mag + 1e-3, "{metric}: {got} vs {want}");
                }
            }
        }
    }

    #[test]
    fn constant_dimension_and_clamping() {
        let sq = Sq8::train(&[1.0, 5.0, 1.0, 6.0], 2).unwrap();
        assert_eq!(sq.scale()[0], 0.0);
        let mut code = [0u8; 2];
        sq.encode(&[3.0, 100.0], &mut code);
        assert_eq!(code, [0, 255]);
        let q = sq.query(Metric::L2, &[3.0, 6.0]);
        assert!((q.distance(&code) - 4.0).abs() < 1e-4);
        assert_eq!(q.distance(&[0u8; 3]), f32::INFINITY);
        assert!(Sq8::train(&[f32::NAN, 1.0], 2).is_none());
        assert!(Sq8::train(&[], 2).is_none());
        assert!(Sq8::from_parts(vec![f32::MAX], vec![f32::MAX]).is_none());
    }
}
