//! The fast path: simsimd kernels behind plain `fn` pointers.
//!
//! simsimd picks the widest SIMD backend the CPU supports on its first call
//! (runtime dispatch, cached in a static), so these wrappers add one FFI call
//! and no allocation. On x86-64 with AVX-512 the f32 `dot` / `l2sq` kernels are
//! simsimd's `skylake` ones: 16 f32 lanes, FMA, f32 accumulation, widened to
//! f64 only for the return value. With AVX2 (`haswell`) 8 lanes are reduced to
//! f64 and the tail is added in f64; elsewhere a serial f32 loop runs.

use std::sync::OnceLock;

use simsimd::SpatialSimilarity;

use crate::convention;

/// Cosine distance of two prepared vectors: `1 - dot(a, b)`, clamped to `[0, 2]`.
pub(crate) fn cosine_prepared(a: &[f32], b: &[f32]) -> f32 {
    match SpatialSimilarity::dot(a, b) {
        Some(dot) => convention::cosine_from_dot(dot),
        None => convention::length_mismatch(a.len(), b.len()),
    }
}

/// Inner-product distance: `-dot(a, b)`.
pub(crate) fn neg_dot(a: &[f32], b: &[f32]) -> f32 {
    match SpatialSimilarity::dot(a, b) {
        Some(dot) => convention::neg_dot_from_dot(dot),
        None => convention::length_mismatch(a.len(), b.len()),
    }
}

/// Squared Euclidean distance.
pub(crate) fn l2sq(a: &[f32], b: &[f32]) -> f32 {
    match SpatialSimilarity::l2sq(a, b) {
        Some(sum) => convention::l2sq_from_sum(sum),
        None => convention::length_mismatch(a.len(), b.len()),
    }
}

/// The simsimd kernel family the f32 fast path dispatches to on this machine:
/// `"sve"`, `"neon"`, `"skylake"` (AVX-512), `"haswell"` (AVX2 + FMA) or
/// `"serial"`. For diagnostics (logs, bench reports); mirrors simsimd's f32
/// dispatch order.
///
/// Never call `simsimd::capabilities::flush_denormals` on threads that run
/// these kernels: it makes subnormal inputs count as zero, which breaks the
/// bounds of [`crate::reference::error_bound`].
///
/// ```
/// let target = mnemodb_distance::simsimd_target();
/// assert!(["sve", "neon", "skylake", "haswell", "serial"].contains(&target));
/// ```
pub fn simsimd_target() -> &'static str {
    static TARGET: OnceLock<&'static str> = OnceLock::new();
    TARGET.get_or_init(|| {
        use simsimd::capabilities as caps;
        if caps::uses_sve() {
            "sve"
        } else if caps::uses_neon() {
            "neon"
        } else if caps::uses_skylake() {
            "skylake"
        } else if caps::uses_haswell() {
            "haswell"
        } else {
            "serial"
        }
    })
}
