//! [`Metric`]: which distance a collection uses, and the one dispatch point.

use std::fmt;
use std::str::FromStr;

use crate::{DistanceFn, Error, kernel};

/// A distance metric. Every score is a **distance: smaller is closer** (see the
/// crate docs for the exact convention).
///
/// The discriminant is the value stored in file headers ([`Metric::from_u32`]
/// decodes it); never renumber a variant.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Metric {
    /// `1 - cos(a, b)` in `[0, 2]`, computed as `1 - dot` on vectors that
    /// [`Metric::prepare`] normalised at insert and query time.
    Cosine = 0,
    /// `-dot(a, b)`: larger inner product, smaller distance.
    InnerProduct = 1,
    /// Squared Euclidean distance (no square root; same ordering).
    L2 = 2,
}

impl Metric {
    /// Every metric, in discriminant order.
    pub const ALL: [Metric; 3] = [Metric::Cosine, Metric::InnerProduct, Metric::L2];

    /// Decodes a header value; `None` for an unknown one (a newer or corrupt file).
    ///
    /// ```
    /// use mnemodb_distance::Metric;
    /// assert_eq!(Metric::from_u32(Metric::L2 as u32), Some(Metric::L2));
    /// assert_eq!(Metric::from_u32(7), None);
    /// ```
    pub fn from_u32(raw: u32) -> Option<Metric> {
        match raw {
            0 => Some(Metric::Cosine),
            1 => Some(Metric::InnerProduct),
            2 => Some(Metric::L2),
            _ => None,
        }
    }

    /// Canonical short name: `"cosine"`, `"ip"` or `"l2"` (also [`fmt::Display`]).
    pub fn name(self) -> &'static str {
        match self {
            Metric::Cosine => "cosine",
            Metric::InnerProduct => "ip",
            Metric::L2 => "l2",
        }
    }

    /// Whether vectors must go through [`Metric::prepare`] before storage and
    /// search (true for [`Metric::Cosine`] only).
    pub fn needs_normalization(self) -> bool {
        matches!(self, Metric::Cosine)
    }

    /// Brings a vector into the form [`Metric::distance`] expects, in place.
    ///
    /// Cosine: L2-normalise (norm computed in f64, so subnormal and huge finite
    /// components normalise correctly). A zero vector stays zero, and so does
    /// any vector whose norm is not finite (only possible with non-finite
    /// components, which [`crate::validate_vector`] rejects). Other metrics:
    /// no-op. Call it once per vector, at insert and at query time.
    ///
    /// ```
    /// use mnemodb_distance::Metric;
    /// let mut v = [3.0, 4.0];
    /// Metric::Cosine.prepare(&mut v);
    /// assert_eq!(v, [0.6, 0.8]);
    /// ```
    pub fn prepare(self, v: &mut [f32]) {
        if self.needs_normalization() {
            normalize(v);
        }
    }

    /// Distance between two **prepared** vectors of equal length (fast path).
    ///
    /// Never NaN: a NaN result (only from non-finite inputs, or from `inf - inf`
    /// after huge finite values overflow) becomes `f32::INFINITY`. Slices of
    /// different lengths are a caller bug: debug builds panic, release builds
    /// return `f32::INFINITY` without reading out of bounds.
    ///
    /// ```
    /// use mnemodb_distance::Metric;
    /// assert_eq!(Metric::L2.distance(&[0.0, 0.0], &[3.0, 4.0]), 25.0);
    /// assert_eq!(Metric::InnerProduct.distance(&[1.0, 2.0], &[3.0, 4.0]), -11.0);
    /// ```
    #[inline]
    pub fn distance(self, a: &[f32], b: &[f32]) -> f32 {
        (self.distance_fn())(a, b)
    }

    /// The fast-path kernel for this metric as a plain `fn` pointer, so hot
    /// loops resolve the dispatch once. Same contract as [`Metric::distance`].
    ///
    /// ```
    /// use mnemodb_distance::Metric;
    /// let f = Metric::L2.distance_fn();
    /// assert_eq!(f(&[1.0], &[3.0]), 4.0);
    /// ```
    #[inline]
    pub fn distance_fn(self) -> DistanceFn {
        match self {
            Metric::Cosine => kernel::cosine_prepared,
            Metric::InnerProduct => kernel::neg_dot,
            Metric::L2 => kernel::l2sq,
        }
    }

    /// Turns a distance into a similarity (larger is closer) for display:
    /// Cosine `1 - d` (the cosine), InnerProduct `-d` (the dot product),
    /// L2 `-d` (negated squared distance).
    ///
    /// ```
    /// use mnemodb_distance::Metric;
    /// assert_eq!(Metric::Cosine.similarity(0.25), 0.75);
    /// assert_eq!(Metric::InnerProduct.similarity(-3.0), 3.0);
    /// ```
    #[inline]
    pub fn similarity(self, distance: f32) -> f32 {
        match self {
            Metric::Cosine => 1.0 - distance,
            Metric::InnerProduct | Metric::L2 => -distance,
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Metric {
    type Err = Error;

    /// Accepts, ignoring ASCII case: `cosine`; `ip`, `dot`, `inner_product`;
    /// `l2`, `euclidean`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const NAMES: [(&str, Metric); 6] = [
            ("cosine", Metric::Cosine),
            ("ip", Metric::InnerProduct),
            ("dot", Metric::InnerProduct),
            ("inner_product", Metric::InnerProduct),
            ("l2", Metric::L2),
            ("euclidean", Metric::L2),
        ];
        NAMES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(s))
            .map(|&(_, metric)| metric)
            .ok_or_else(|| Error::UnknownMetric { name: s.to_owned() })
    }
}

/// L2-normalises `v` in place; leaves it unchanged when its norm is zero or
/// not finite.
fn normalize(v: &mut [f32]) {
    const LANES: usize = 4;
    let (chunks, tail) = v.as_chunks::<LANES>();
    let mut acc = [0.0f64; LANES];
    for chunk in chunks {
        for lane in 0..LANES {
            let x = f64::from(chunk[lane]);
            acc[lane] += x * x;
        }
    }
    let tail_sum: f64 = tail.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
    let norm_sq = (acc[0] + acc[2]) + (acc[1] + acc[3]) + tail_sum;
    if !(norm_sq > 0.0 && norm_sq.is_finite()) {
        return;
    }
    let inv = 1.0 / norm_sq.sqrt();
    for x in v.iter_mut() {
        *x = (f64::from(*x) * inv) as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_round_trip_and_are_stable() {
        for (i, m) in Metric::ALL.into_iter().enumerate() {
            assert_eq!(m as u32, i as u32);
            assert_eq!(Metric::from_u32(m as u32), Some(m));
        }
        assert_eq!(Metric::from_u32(3), None);
        assert_eq!(Metric::from_u32(u32::MAX), None);
    }

    #[test]
    fn names_parse_back() {
        for m in Metric::ALL {
            assert_eq!(m.name().parse::<Metric>().ok(), Some(m));
            assert_eq!(m.to_string(), m.name());
        }
        assert_eq!("DOT".parse::<Metric>().ok(), Some(Metric::InnerProduct));
        assert_eq!("Euclidean".parse::<Metric>().ok(), Some(Metric::L2));
        assert!(matches!(
            "manhattan".parse::<Metric>(),
            Err(Error::UnknownMetric { name }) if name == "manhattan"
        ));
        assert!(" l2".parse::<Metric>().is_err());
    }

    #[test]
    fn normalize_handles_extremes() {
        let mut zero = [0.0f32; 5];
        normalize(&mut zero);
        assert_eq!(zero, [0.0; 5]);

        let mut tiny = [f32::from_bits(1), 0.0, f32::from_bits(1)];
        normalize(&mut tiny);
        let h = std::f32::consts::FRAC_1_SQRT_2;
        assert_eq!(tiny, [h, 0.0, h]);

        let mut huge = [f32::MAX, -f32::MAX];
        normalize(&mut huge);
        assert_eq!(huge, [h, -h]);

        let mut bad = [1.0, f32::INFINITY];
        normalize(&mut bad);
        assert_eq!(bad, [1.0, f32::INFINITY]);
    }
}
