//! Register-blocked kernels: many queries × many strided rows at once.
//!
//! Exact search scans rows of a segment (`stride` f32 apart, only the first
//! `dim` used). One pair at a time, a kernel is bound by the latency of its
//! one FMA chain. [`distances_tile`] instead keeps a block of queries × rows
//! in registers (4 × 4 with AVX-512: sixteen independent FMA chains, each
//! chunk of a row loaded once for four queries), and
//! [`crate::batch::distances_strided`] runs one query against 8 rows at a time.
//!
//! The instruction set is picked once per process ([`Isa::selected`]: AVX-512,
//! else AVX2 + FMA, else portable code) and reported by [`tile_backend`];
//! the `*_with` functions force one for tests and benches.
//!
//! # Results
//!
//! Same score convention as the rest of the crate (smaller is closer, cosine
//! on prepared vectors clamped to `[0, 2]`, NaN becomes `+inf`). Every pair is
//! summed in the same order whatever the block shape (16 f32 lanes, zero
//! padded last chunk, tree of the lanes; see `blocked.rs`), so for one
//! instruction set **a pair's distance does not depend on how it was batched**:
//! [`distances_tile`] row `qi` equals [`crate::batch::distances_strided`] of
//! query `qi`, and [`Backend::Tile`](crate::Backend::Tile) on the pair, bit for
//! bit. AVX-512 and AVX2 (both fused multiply-add) agree bit for bit too; the
//! portable code rounds products separately. All are within
//! [`reference::error_bound`](crate::reference::error_bound) with
//! `Backend::Tile` of the f64 reference.
//!
//! ```
//! use mnemodb_distance::{tile, Metric};
//! let q0 = [1.0, 0.0];
//! let q1 = [0.0, 2.0];
//! // Three rows of dim 2, padded to a stride of 4 (padding is never read).
//! let rows = [1.0, 1.0, f32::NAN, f32::NAN, 0.0, 0.0, f32::NAN, f32::NAN, 2.0, 2.0, f32::NAN, f32::NAN];
//! let mut out = [0.0; 2 * 3];
//! tile::distances_tile(Metric::L2, &[&q0, &q1], &rows, 4, &mut out);
//! assert_eq!(out, [1.0, 1.0, 5.0, /* q1: */ 2.0, 4.0, 4.0]);
//! ```

use std::fmt;
use std::sync::OnceLock;

use crate::blocked::{Job, LANES as BLOCK_LANES};
use crate::{Metric, convention, simd};

/// f32 lanes of every pair's accumulator, whatever the instruction set: the
/// `lanes` of this module's error bound.
pub const LANES: usize = BLOCK_LANES;

/// An instruction set the blocked kernels are compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Isa {
    /// x86-64 AVX-512F and AVX-512VL with FMA: 32 zmm registers, one per
    /// accumulator.
    Avx512,
    /// x86-64 AVX2 with FMA: 16 ymm registers, two per accumulator.
    Avx2Fma,
    /// Plain Rust, vectorised for the compilation target only; separate
    /// multiply and add. Runs everywhere.
    Portable,
}

impl Isa {
    /// Every instruction set, widest first.
    pub const ALL: [Isa; 3] = [Isa::Avx512, Isa::Avx2Fma, Isa::Portable];

    /// Short name: `"avx512"`, `"avx2+fma"` or `"portable"` (also [`fmt::Display`]).
    pub fn name(self) -> &'static str {
        match self {
            Isa::Avx512 => "avx512",
            Isa::Avx2Fma => "avx2+fma",
            Isa::Portable => "portable",
        }
    }

    /// Whether this CPU can run it (run-time detection; always true for
    /// [`Isa::Portable`]).
    pub fn is_available(self) -> bool {
        simd::detected(self)
    }

    /// The widest available instruction set, detected once per process: the
    /// one [`distances_tile`] and [`crate::batch::distances_strided`] use.
    ///
    /// ```
    /// use mnemodb_distance::tile::Isa;
    /// assert!(Isa::selected().is_available());
    /// ```
    pub fn selected() -> Isa {
        static SELECTED: OnceLock<Isa> = OnceLock::new();
        *SELECTED.get_or_init(|| {
            Isa::ALL
                .into_iter()
                .find(|isa| isa.is_available())
                .unwrap_or(Isa::Portable)
        })
    }
}

impl fmt::Display for Isa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Name of the instruction set the blocked kernels run with on this machine
/// (`"avx512"`, `"avx2+fma"` or `"portable"`), for logs and bench reports.
///
/// ```
/// let name = mnemodb_distance::tile_backend();
/// assert!(["avx512", "avx2+fma", "portable"].contains(&name));
/// ```
pub fn tile_backend() -> &'static str {
    Isa::selected().name()
}

/// Distances from every prepared query to every row: `out[qi * nrows + ri]`
/// is the distance from `queries[qi]` to row `ri`, where the rows are
/// `rows.chunks_exact(stride)` (a trailing partial row is ignored) and only the
/// first `dim = queries[0].len()` components of each row are read.
///
/// Uses [`Isa::selected`]. Does not allocate. Caller bugs (debug builds panic;
/// release builds fill `out` with `f32::INFINITY`, never panic or read out of
/// bounds): queries of different lengths, `stride == 0`, `stride < dim`, or
/// `out.len() != queries.len() * nrows`.
///
/// ```
/// use mnemodb_distance::{tile, Metric};
/// let (q0, q1) = ([1.0, 0.0], [0.0, -1.0]);
/// let rows = [1.0, 0.0, 0.0, 1.0]; // two rows, stride 2
/// let mut out = [0.0; 4];
/// tile::distances_tile(Metric::InnerProduct, &[&q0, &q1], &rows, 2, &mut out);
/// assert_eq!(out, [-1.0, 0.0, 0.0, 1.0]);
/// ```
#[inline]
pub fn distances_tile(
    metric: Metric,
    queries: &[&[f32]],
    rows: &[f32],
    stride: usize,
    out: &mut [f32],
) {
    distances_tile_with(Isa::selected(), metric, queries, rows, stride, out);
}

/// [`distances_tile`] with the instruction set `isa`, or [`Isa::Portable`]
/// when this CPU lacks it ([`Isa::is_available`]). Returns the one that ran.
pub fn distances_tile_with(
    isa: Isa,
    metric: Metric,
    queries: &[&[f32]],
    rows: &[f32],
    stride: usize,
    out: &mut [f32],
) -> Isa {
    let dim = queries.first().map_or(0, |q| q.len());
    let nrows = rows.len().checked_div(stride).unwrap_or(0);
    let same_dims = queries.iter().all(|q| q.len() == dim);
    let out_ok = queries.len().checked_mul(nrows) == Some(out.len());
    if !(same_dims && stride > 0 && stride >= dim && out_ok) {
        debug_assert!(same_dims, "distances_tile: queries of different lengths");
        debug_assert!(stride > 0 && stride >= dim, "stride {stride} < dim {dim}");
        debug_assert!(out_ok, "out.len() {} != queries × rows", out.len());
        out.fill(f32::INFINITY);
        return isa;
    }
    let job = Job {
        queries,
        dim,
        rows,
        stride,
        nrows,
    };
    run(isa, metric, &job, out)
}

/// [`crate::batch::distances_strided`] with the instruction set `isa`, or
/// [`Isa::Portable`] when this CPU lacks it. Returns the one that ran.
pub fn distances_strided_with(
    isa: Isa,
    metric: Metric,
    query: &[f32],
    rows: &[f32],
    stride: usize,
    out: &mut [f32],
) -> Isa {
    let dim = query.len();
    if stride < dim || stride == 0 {
        debug_assert!(stride >= dim && stride > 0, "stride {stride} < dim {dim}");
        out.fill(f32::INFINITY);
        return isa;
    }
    let nrows = rows.len() / stride;
    debug_assert_eq!(out.len(), nrows, "out.len() != row count");
    // Only the common prefix of rows and `out` is computed.
    let nrows = nrows.min(out.len());
    let job = Job {
        queries: &[query],
        dim,
        rows,
        stride,
        nrows,
    };
    run(isa, metric, &job, &mut out[..nrows])
}

/// The distance of one pair with the instruction set `isa` (a 1 × 1 block),
/// or [`Isa::Portable`] when this CPU lacks it. Same contract as
/// [`Metric::distance`]; bit for bit what [`distances_tile_with`] gives for
/// the pair. Latency-bound: for scans use the batch functions.
///
/// ```
/// use mnemodb_distance::{tile, Metric};
/// let d = tile::distance_with(tile::Isa::Portable, Metric::L2, &[0.0, 0.0], &[3.0, 4.0]);
/// assert_eq!(d, 25.0);
/// ```
pub fn distance_with(isa: Isa, metric: Metric, a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return convention::length_mismatch(a.len(), b.len());
    }
    let mut out = [0.0f32];
    if a.is_empty() {
        // No component to read: the empty sum (a stride of 0 is no row layout).
        finish(metric, &mut out);
    } else {
        let job = Job {
            queries: &[a],
            dim: a.len(),
            rows: b,
            stride: b.len(),
            nrows: 1,
        };
        run(isa, metric, &job, &mut out);
    }
    out[0]
}

/// Raw sums into `out`, then the score convention in place.
fn run(isa: Isa, metric: Metric, job: &Job<'_>, out: &mut [f32]) -> Isa {
    let ran = simd::sums(isa, metric == Metric::L2, job, out);
    finish(metric, out);
    ran
}

/// Raw f32 sums to distances, in place.
fn finish(metric: Metric, out: &mut [f32]) {
    let f = match metric {
        Metric::Cosine => convention::cosine_from_dot,
        Metric::InnerProduct => convention::neg_dot_from_dot,
        Metric::L2 => convention::l2sq_from_sum,
    };
    for x in out {
        *x = f(f64::from(*x));
    }
}

/// [`Backend::Tile`](crate::Backend::Tile) kernels: one pair, selected instruction set.
pub(crate) fn cosine_prepared(a: &[f32], b: &[f32]) -> f32 {
    distance_with(Isa::selected(), Metric::Cosine, a, b)
}

/// See [`cosine_prepared`].
pub(crate) fn neg_dot(a: &[f32], b: &[f32]) -> f32 {
    distance_with(Isa::selected(), Metric::InnerProduct, a, b)
}

/// See [`cosine_prepared`].
pub(crate) fn l2sq(a: &[f32], b: &[f32]) -> f32 {
    distance_with(Isa::selected(), Metric::L2, a, b)
}
