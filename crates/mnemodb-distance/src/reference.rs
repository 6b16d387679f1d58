//! Scalar f64 reference kernels: the oracle the fast paths are tested against.
//!
//! The product of two f32 values is exact in f64, so these are accurate to a
//! few f64 ulps per element and never overflow for finite f32 inputs. They are
//! slow on purpose (sequential sums); never use them in a hot loop.
//!
//! Lengths must match: in release builds the tail of the longer slice is
//! ignored by [`dot`], [`l2sq`] and [`cosine_similarity`], and [`distance`]
//! returns `f64::INFINITY` (as the fast path does).

use crate::{Backend, Metric, scalar, tile};

/// `sum a_i * b_i`, in f64.
pub fn dot(a: &[f32], b: &[f32]) -> f64 {
    debug_assert_eq!(a.len(), b.len(), "reference::dot on different lengths");
    a.iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum()
}

/// `sum (a_i - b_i)^2`, in f64.
pub fn l2sq(a: &[f32], b: &[f32]) -> f64 {
    debug_assert_eq!(a.len(), b.len(), "reference::l2sq on different lengths");
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = f64::from(x) - f64::from(y);
            d * d
        })
        .sum()
}

/// `dot(a, b) / (|a| |b|)` clamped to `[-1, 1]`; `0` when either vector is zero.
pub fn cosine_similarity(a: &[f32], b: &[f32]) -> f64 {
    let na = dot(a, a).sqrt();
    let nb = dot(b, b).sqrt();
    if na == 0.0 || nb == 0.0 {
        return 0.0;
    }
    (dot(a, b) / na / nb).clamp(-1.0, 1.0)
}

/// The crate's distance convention computed on **unprepared** inputs (cosine
/// normalises inside): Cosine `1 - cosine_similarity` in `[0, 2]` (so exactly
/// `1` when either vector is zero), InnerProduct `-dot`, L2 `l2sq`. A NaN
/// result becomes `f64::INFINITY`, as in the fast path.
///
/// ```
/// use mnemodb_distance::{reference, Metric};
/// assert_eq!(reference::distance(Metric::Cosine, &[0.0, 0.0], &[1.0, 2.0]), 1.0);
/// assert_eq!(reference::distance(Metric::L2, &[1.0], &[4.0]), 9.0);
/// ```
pub fn distance(metric: Metric, a: &[f32], b: &[f32]) -> f64 {
    if a.len() != b.len() {
        debug_assert_eq!(a.len(), b.len(), "reference::distance on different lengths");
        return f64::INFINITY;
    }
    let d = match metric {
        Metric::Cosine => 1.0 - cosine_similarity(a, b),
        Metric::InnerProduct => -dot(a, b),
        Metric::L2 => l2sq(a, b),
    };
    if d.is_nan() { f64::INFINITY } else { d }
}

/// A proven bound on `|fast - distance(metric, a, b)|`, where `fast` is
/// `distance_with(backend, metric, a', b')` and `a'`, `b'` are `a`, `b` after
/// [`Metric::prepare`].
///
/// `None` when no finite bound holds: lengths differ, a component is not
/// finite, or (InnerProduct, L2) the sum may overflow f32, in which case the
/// fast result may be `±inf` (still never NaN).
///
/// Derivation, with `u = 2^-24`, `γ(k) = k·u / (1 - k·u)` and `n = a.len()`:
/// a sum in which every term passes through at most `k` roundings (products,
/// FMAs and additions) errs by at most `γ(k)·Σ|terms|`, whatever the order.
/// `k` is `⌈n/8⌉ + 5` for [`Backend::Scalar`] (8 lanes, a 3-level tree, the
/// product). For [`Backend::SimSimd`] it follows [`crate::simsimd_target`]:
/// `⌈n/16⌉ + 5` for `skylake` (16 f32 FMA lanes, 4 reduction steps),
/// `⌈n/8⌉ + 5` for `haswell` (8 FMA lanes, f64 reduction and tail), and
/// `n + 2` (valid for any summation order) otherwise. For [`Backend::Tile`]
/// (and every [`tile`] batch kernel, on every [`tile::Isa`]) it is
/// `⌈n/16⌉ + 5`: each of the [`tile::LANES`] = 16 lanes accumulates at most
/// `⌈n/16⌉` terms (the zero padding of the last chunk adds exactly zero), then
/// the lanes are summed as a 4-level tree; a fused step rounds once, an
/// unfused one (portable) twice, the extra rounding being the product's own.
/// Gradual underflow adds at most `2^-150` per product. Then:
/// - InnerProduct: `γ(k)·S + u·(|ref| + γ(k)·S)` with `S = Σ|a_i·b_i|`;
/// - L2: `γ(k+2)·S + u·S` with `S = Σ(a_i - b_i)^2` (the rounded difference
///   is squared: two more roundings);
/// - Cosine: `γ(k+5)` (unit vectors make `Σ|p_i·q_i| ≤ 1`; normalisation adds
///   one rounding per component, `1 - dot` and the f32 result add `4u`);
///
/// each plus the f64 error of the reference itself and the underflow term.
///
/// ```
/// use mnemodb_distance::{distance_with, reference, Backend, Metric};
/// let (a, b) = ([1.0, 2.0, 3.0], [0.5, -1.0, 2.0]);
/// let bound = reference::error_bound(Backend::SimSimd, Metric::L2, &a, &b).unwrap();
/// let fast = distance_with(Backend::SimSimd, Metric::L2, &a, &b);
/// assert!((f64::from(fast) - reference::distance(Metric::L2, &a, &b)).abs() <= bound);
/// ```
pub fn error_bound(backend: Backend, metric: Metric, a: &[f32], b: &[f32]) -> Option<f64> {
    const U: f64 = 1.0 / (1u64 << 24) as f64;
    const U64: f64 = f64::EPSILON / 2.0;
    /// Absolute error of one f32 product in gradual underflow (half of 2^-149).
    const UNDERFLOW: f64 = 1.0 / (1u128 << 100) as f64 / (1u64 << 50) as f64;
    if a.len() != b.len() || !a.iter().chain(b).all(|x| x.is_finite()) {
        return None;
    }
    let n = a.len();
    let k = match backend {
        Backend::SimSimd => match crate::simsimd_target() {
            "skylake" => n.div_ceil(16) + 5,
            "haswell" => n.div_ceil(8) + 5,
            _ => n + 2,
        },
        Backend::Scalar => n.div_ceil(scalar::LANES) + 5,
        Backend::Tile => n.div_ceil(tile::LANES) + 5,
    };
    let gamma = |k: usize| {
        let ku = k as f64 * U;
        ku / (1.0 - ku)
    };
    // Error of the f64 reference (and of f64 normalisation): n + 4 f64 roundings.
    let ref_rel = (n + 4) as f64 * U64 * 1.01;
    let underflow = (n + 1) as f64 * UNDERFLOW * 2.0;
    let max = f64::from(f32::MAX);
    match metric {
        Metric::Cosine => Some(gamma(k + 5) + 3.0 * ref_rel + 2.0 * underflow),
        Metric::InnerProduct => {
            let s: f64 = a
                .iter()
                .zip(b)
                .map(|(&x, &y)| (f64::from(x) * f64::from(y)).abs())
                .sum();
            if s * (1.0 + 2.0 * gamma(k)) >= max {
                return None;
            }
            let r = dot(a, b).abs();
            Some(gamma(k) * s + U * (r + gamma(k) * s) + ref_rel * s + underflow)
        }
        Metric::L2 => {
            let s = l2sq(a, b);
            if s * (1.0 + 2.0 * gamma(k + 2)) >= max {
                return None;
            }
            Some((gamma(k + 2) + U + ref_rel) * s * 1.01 + underflow)
        }
    }
}
