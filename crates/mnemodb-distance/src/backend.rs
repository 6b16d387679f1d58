//! [`Backend`]: pick a kernel implementation explicitly (benches and tests).

use std::fmt;

use crate::{DistanceFn, Metric, scalar, tile};

/// A kernel implementation. Production code uses [`Metric::distance`] (always
/// [`Backend::SimSimd`]); benches and tests compare backends side by side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// simsimd, runtime-dispatched to the best SIMD level of the CPU. The fast path.
    SimSimd,
    /// A plain f32 Rust loop chunked by 8 lanes, vectorised by LLVM as far as
    /// the compilation target allows (no runtime feature detection).
    Scalar,
    /// The register-blocked kernels of [`tile`] on one pair (a 1 × 1 block),
    /// at the instruction set [`tile::Isa::selected`]: bit for bit what
    /// [`crate::batch::distances_strided`] and [`tile::distances_tile`] give
    /// for the pair.
    Tile,
}

impl Backend {
    /// Every backend.
    pub const ALL: [Backend; 3] = [Backend::SimSimd, Backend::Scalar, Backend::Tile];

    /// Short name: `"simsimd"`, `"scalar"` or `"tile"` (also [`fmt::Display`]).
    pub fn name(self) -> &'static str {
        match self {
            Backend::SimSimd => "simsimd",
            Backend::Scalar => "scalar",
            Backend::Tile => "tile",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The kernel of `backend` for `metric`, as a plain `fn` pointer. Same contract
/// as [`Metric::distance_fn`] (which equals `distance_fn_with(Backend::SimSimd, metric)`).
///
/// ```
/// use mnemodb_distance::{distance_fn_with, Backend, Metric};
/// let f = distance_fn_with(Backend::Scalar, Metric::InnerProduct);
/// assert_eq!(f(&[1.0, 2.0], &[3.0, 4.0]), -11.0);
/// ```
#[inline]
pub fn distance_fn_with(backend: Backend, metric: Metric) -> DistanceFn {
    match backend {
        Backend::SimSimd => metric.distance_fn(),
        Backend::Scalar => match metric {
            Metric::Cosine => scalar::cosine_prepared,
            Metric::InnerProduct => scalar::neg_dot,
            Metric::L2 => scalar::l2sq,
        },
        Backend::Tile => match metric {
            Metric::Cosine => tile::cosine_prepared,
            Metric::InnerProduct => tile::neg_dot,
            Metric::L2 => tile::l2sq,
        },
    }
}

/// Distance between two prepared vectors computed by `backend`. Same contract
/// as [`Metric::distance`].
///
/// ```
/// use mnemodb_distance::{distance_with, Backend, Metric};
/// for backend in Backend::ALL {
///     assert_eq!(distance_with(backend, Metric::L2, &[0.0, 0.0], &[3.0, 4.0]), 25.0);
/// }
/// ```
#[inline]
pub fn distance_with(backend: Backend, metric: Metric, a: &[f32], b: &[f32]) -> f32 {
    distance_fn_with(backend, metric)(a, b)
}
