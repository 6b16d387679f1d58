//! Distance kernels for mnemodb: the [`Metric`] enum, **one score convention**,
//! the simsimd fast path behind one dispatch point, scalar f64 [`reference`](mod@reference)
//! kernels (the test oracle), a plain scalar [`Backend`] for comparison, and
//! register-blocked batch kernels for scans: one query against many rows
//! ([`batch::distances_strided`]) and many queries against many rows
//! ([`tile::distances_tile`]).
//!
//! # Score convention
//!
//! Every score is an `f32` **distance: smaller is closer**.
//!
//! | metric | distance | range | [`Metric::similarity`] |
//! |---|---|---|---|
//! | [`Metric::L2`] | squared Euclidean `Σ(a_i - b_i)²` (no square root) | `[0, ∞]` | `-d` |
//! | [`Metric::InnerProduct`] | `-dot(a, b)` | `[-∞, ∞]` | `-d` (the dot product) |
//! | [`Metric::Cosine`] | `1 - dot(a, b)` on prepared vectors, clamped | `[0, 2]` | `1 - d` (the cosine) |
//!
//! - Cosine vectors are **prepared** ([`Metric::prepare`]: L2-normalised) once
//!   at insert time and once at query time; the kernel is then a dot product.
//!   A zero vector stays zero, so its distance to anything is exactly `1`
//!   (similarity `0`).
//! - **NaN never leaves a kernel.** A NaN result becomes `f32::INFINITY` (the
//!   worst distance). It can only come from non-finite inputs, which
//!   [`validate_vector`] rejects at the API boundary, or from `inf - inf` when
//!   huge finite inputs (near `±3e38`) overflow. Huge finite inputs may also
//!   give `±inf` for InnerProduct and `+inf` for L2. Orderings elsewhere use
//!   `f32::total_cmp`.
//! - Slices of different lengths are a caller bug: debug builds panic, release
//!   builds return `f32::INFINITY` and never read out of bounds.
//! - Kernels never allocate. The fast path is simsimd, dispatched at run time
//!   to the widest SIMD level the CPU has (AVX-512 "skylake" kernels on an
//!   AVX-512 x86-64 machine), accumulating in f32; [`reference::error_bound`]
//!   states how far it may be from the f64 reference. The batch kernels are
//!   this crate's own ([`tile`]), dispatched once per process to AVX-512,
//!   AVX2 + FMA or portable code ([`tile_backend`]); their summation order
//!   differs from simsimd's, so their results may differ from
//!   [`Metric::distance`] in the last bits, within the same kind of bound.
//!
//! # Unsafe code
//!
//! Only the private `simd` module has any: calls of `#[target_feature]`
//! functions after run-time feature detection, and the (unaligned or masked)
//! vector loads of its AVX-512 and AVX2 code from `&[f32; 16]` and `&[f32]`.
//!
//! # Example
//!
//! ```
//! use mnemodb_distance::{validate_vector, Metric};
//!
//! # fn main() -> Result<(), mnemodb_distance::Error> {
//! let metric: Metric = "cosine".parse()?;
//! let mut stored = vec![3.0, 4.0, 0.0];
//! let mut query = vec![6.0, 8.0, 0.0];
//! validate_vector(&stored, 3)?;
//! validate_vector(&query, 3)?;
//! metric.prepare(&mut stored);
//! metric.prepare(&mut query);
//!
//! let kernel = metric.distance_fn(); // hoist the dispatch out of hot loops
//! let d = kernel(&query, &stored);
//! assert!(d.abs() < 1e-6); // same direction: distance 0
//! assert!((metric.similarity(d) - 1.0).abs() < 1e-6);
//!
//! // A zero vector is at distance exactly 1 from everything.
//! let mut zero = vec![0.0; 3];
//! metric.prepare(&mut zero);
//! assert_eq!(metric.distance(&zero, &query), 1.0);
//! # Ok(())
//! # }
//! ```
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod backend;
pub mod batch;
mod blocked;
mod convention;
mod error;
mod kernel;
mod metric;
pub mod reference;
// SQ8 kernels: `unsafe` only to call their `#[target_feature]` copies after
// run-time detection (same pattern as `simd`).
#[allow(unsafe_code)]
pub mod quantized;
// Half-precision codes: `unsafe` only to view `&[u16]` as simsimd's `repr(transparent)` f16.
#[allow(unsafe_code)]
pub mod half;
// Symmetric int8 codes for ranking: `unsafe` only to call `widen`'s `#[target_feature]`
// copies after run-time detection (same pattern as `quantized`).
#[allow(unsafe_code)]
pub mod int8;
mod scalar;
// The crate's only unsafe code: calling `#[target_feature]` kernels after
// run-time detection of the features, and their vector loads.
#[allow(unsafe_code)]
mod simd;
pub mod tile;
mod validate;

pub use backend::{Backend, distance_fn_with, distance_with};
pub use error::Error;
pub use kernel::simsimd_target;
pub use metric::Metric;
pub use tile::tile_backend;
pub use validate::{MAX_DIM, validate_dim, validate_vector};

/// A resolved distance kernel: `(a, b) -> distance` under the crate's convention.
/// Obtain one with [`Metric::distance_fn`] to keep dispatch out of hot loops.
pub type DistanceFn = fn(&[f32], &[f32]) -> f32;
