//! The score convention, in one place: raw sums become distances here.
//!
//! Every kernel (fast, scalar, reference) finishes through these functions so
//! the convention cannot drift between backends. See the crate docs for the
//! convention itself.

/// Cosine distance from the dot product of two prepared (unit or zero) vectors:
/// `1 - dot`, clamped to `[0, 2]`; NaN becomes `+inf`.
#[inline]
pub(crate) fn cosine_from_dot(dot: f64) -> f32 {
    let d = 1.0 - dot;
    if d.is_nan() {
        f32::INFINITY
    } else {
        d.clamp(0.0, 2.0) as f32
    }
}

/// Inner-product distance: `-dot`; NaN becomes `+inf`.
#[inline]
pub(crate) fn neg_dot_from_dot(dot: f64) -> f32 {
    let d = (-dot) as f32;
    if d.is_nan() { f32::INFINITY } else { d }
}

/// Squared-L2 distance as is; NaN becomes `+inf`.
#[inline]
pub(crate) fn l2sq_from_sum(sum: f64) -> f32 {
    let d = sum as f32;
    if d.is_nan() { f32::INFINITY } else { d }
}

/// What a kernel returns for slices of different lengths: a caller bug.
///
/// Debug builds panic to surface the bug; release builds answer "worst".
#[cold]
#[inline(never)]
pub(crate) fn length_mismatch(a: usize, b: usize) -> f32 {
    debug_assert_eq!(a, b, "distance on slices of different lengths");
    f32::INFINITY
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_clamps_and_maps_nan() {
        assert_eq!(cosine_from_dot(1.0000001), 0.0);
        assert_eq!(cosine_from_dot(-1.0000001), 2.0);
        assert_eq!(cosine_from_dot(0.0), 1.0);
        assert_eq!(cosine_from_dot(f64::NAN), f32::INFINITY);
        assert_eq!(cosine_from_dot(f64::INFINITY), 0.0);
    }

    #[test]
    fn neg_dot_and_l2_map_nan_to_infinity() {
        assert_eq!(neg_dot_from_dot(2.5), -2.5);
        assert_eq!(neg_dot_from_dot(f64::NAN), f32::INFINITY);
        assert_eq!(neg_dot_from_dot(1e300), f32::NEG_INFINITY);
        assert_eq!(l2sq_from_sum(4.0), 4.0);
        assert_eq!(l2sq_from_sum(f64::NAN), f32::INFINITY);
        assert_eq!(l2sq_from_sum(1e300), f32::INFINITY);
    }
}
