//! Half-precision (IEEE 754 binary16) vector codes and simsimd's f16 kernels: 2 bytes per
//! component, about 3 significant decimal digits, for lists that keep an f16 copy of
//! each row ([`encode`]) and are searched with a query rounded to f16 too
//! ([`F16Query::distance`]; the results are re-ranked on f32 rows where exactness
//! matters).
//!
//! Codes are stored as raw `u16` bits (any 2-aligned bytes: `bytemuck::try_cast_slice`);
//! this module's `unsafe` is one reinterpretation of `&[u16]` as simsimd's
//! `#[repr(transparent)]` wrapper around the same `u16`.
//!
//! ```
//! use mnemodb_distance::{half, Metric};
//! let row = [0.6f32, 0.8];
//! let mut code = [0u16; 2];
//! half::encode(&row, &mut code);
//! let q = half::F16Query::new(Metric::Cosine, &[0.6, 0.8]);
//! assert!(q.distance(&code) < 1e-3);
//! ```
use simsimd::SpatialSimilarity;
use simsimd::f16;

use crate::Metric;

/// Round `v` to f16 bits into `out` (common prefix). Values beyond the f16 range
/// (±65,504) become ±infinity: callers check [`is_finite`] if rows may be that large.
pub fn encode(v: &[f32], out: &mut [u16]) {
    for (o, &x) in out.iter_mut().zip(v) {
        *o = f16::from_f32(x).0;
    }
}

/// The f32 value of f16 bits.
pub fn decode(bits: u16) -> f32 {
    f16(bits).to_f32()
}

/// Whether f16 bits hold a finite value (exponent not all ones).
pub fn is_finite(bits: u16) -> bool {
    bits & 0x7c00 != 0x7c00
}

fn as_f16(bits: &[u16]) -> &[f16] {
    // SAFETY: `simsimd::f16` is `#[repr(transparent)]` over `u16`, so a `[u16]` and a
    // `[f16]` of the same length have the same size, alignment and layout; every bit
    // pattern is a valid `f16`; the lifetime is carried over.
    unsafe { std::slice::from_raw_parts(bits.as_ptr().cast::<f16>(), bits.len()) }
}

/// A query rounded to f16 for one metric (the query prepared for it: normalised for
/// cosine).
#[derive(Debug, Clone)]
pub struct F16Query {
    metric: Metric,
    code: Vec<u16>,
}

impl F16Query {
    /// Round `query` to f16 for `metric`.
    pub fn new(metric: Metric, query: &[f32]) -> Self {
        let mut code = vec![0u16; query.len()];
        encode(query, &mut code);
        F16Query { metric, code }
    }

    /// Distance (crate convention, computed by simsimd in f32 or wider) between the
    /// f16-rounded query and the row of `code`. A code of another length gives
    /// `f32::INFINITY`; NaN never comes out.
    #[inline]
    pub fn distance(&self, code: &[u16]) -> f32 {
        if code.len() != self.code.len() {
            return f32::INFINITY;
        }
        let (q, c) = (as_f16(&self.code), as_f16(code));
        let d = match self.metric {
            Metric::L2 => f16::l2sq(q, c),
            Metric::InnerProduct => f16::dot(q, c).map(|d| -d),
            Metric::Cosine => f16::dot(q, c).map(|d| (1.0 - d).clamp(0.0, 2.0)),
        };
        match d {
            Some(d) if !d.is_nan() => d as f32,
            _ => f32::INFINITY,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// f16 round-trips within its relative precision (2⁻¹¹) and the kernels agree
        /// with f64 arithmetic on the decoded values.
        #[test]
        fn round_trip_and_kernels(
            v in proptest::collection::vec(-1000.0f32..1000.0, 1..70),
            w in proptest::collection::vec(-1000.0f32..1000.0, 70),
        ) {
            let mut a = vec![0u16; v.len()];
            encode(&v, &mut a);
            for (&x, &b) in v.iter().zip(&a) {
                prop_assert!(is_finite(b));
                prop_assert!((decode(b) - x).abs() <= x.abs() / 2048.0 + 6.0e-8);
            }
            let w = &w[..v.len()];
            let mut b = vec![0u16; w.len()];
            encode(w, &mut b);
            let q = F16Query::new(Metric::L2, &v);
            let want: f64 = a.iter().zip(&b)
                .map(|(&x, &y)| (f64::from(decode(x)) - f64::from(decode(y))).powi(2)).sum();
            let got = f64::from(q.distance(&b));
            prop_assert!((got - want).abs() <= 1e-3 * want.max(1.0), "{} vs {}", got, want);
            let q = F16Query::new(Metric::InnerProduct, &v);
            let dot: f64 = a.iter().zip(&b)
                .map(|(&x, &y)| f64::from(decode(x)) * f64::from(decode(y))).sum();
            let scale: f64 = a.iter().zip(&b)
                .map(|(&x, &y)| (f64::from(decode(x)) * f64::from(decode(y))).abs()).sum();
            prop_assert!((f64::from(q.distance(&b)) + dot).abs() <= 1e-3 * scale.max(1.0));
        }
    }

    #[test]
    fn out_of_range_lengths_and_infinities() {
        let mut c = [0u16; 2];
        encode(&[1e6, -1e6], &mut c);
        assert!(!is_finite(c[0]) && !is_finite(c[1]));
        let q = F16Query::new(Metric::L2, &[1.0, 2.0]);
        assert_eq!(q.distance(&[0u16; 3]), f32::INFINITY);
        let mut nan = [0u16; 2];
        encode(&[f32::NAN, 0.0], &mut nan);
        assert_eq!(
            F16Query::new(Metric::Cosine, &[1.0, 0.0]).distance(&nan),
            f32::INFINITY
        );
    }
}
