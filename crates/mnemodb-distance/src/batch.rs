//! Batch kernels: one query against many rows, dispatch resolved once.
//!
//! For many queries at once see [`crate::tile::distances_tile`].

use crate::Metric;
use crate::tile::{self, Isa};

/// Distances from one prepared `query` to the `rows.len() / stride` rows laid
/// out with `stride` f32 per row (only the first `query.len()` components of
/// each row are used; a trailing partial row is ignored), written to `out`.
///
/// Runs the register-blocked kernels of [`tile`] (one query against 8 rows
/// at a time with AVX-512), so the scan is not bound by the latency of one FMA
/// chain. Each result equals `distance_with(Backend::Tile, metric, query, row)`
/// and the query's row of [`tile::distances_tile`] bit for bit (not
/// necessarily [`Metric::distance`], which is simsimd: another summation order,
/// within [`crate::reference::error_bound`] of the same reference). Does not
/// allocate. Caller bugs (debug builds panic; release builds do not panic or
/// read out of bounds): `out.len()` different from the row count (only the
/// common prefix is written), or `stride < query.len()` (every `out` slot
/// becomes `f32::INFINITY`).
///
/// ```
/// use mnemodb_distance::{batch, Metric};
/// // Two rows of dim 2, padded to a stride of 3.
/// let rows = [1.0, 0.0, 9.9, 0.0, 2.0, 9.9];
/// let mut out = [0.0; 2];
/// batch::distances_strided(Metric::L2, &[1.0, 1.0], &rows, 3, &mut out);
/// assert_eq!(out, [1.0, 2.0]);
/// ```
#[inline]
pub fn distances_strided(
    metric: Metric,
    query: &[f32],
    rows: &[f32],
    stride: usize,
    out: &mut [f32],
) {
    tile::distances_strided_with(Isa::selected(), metric, query, rows, stride, out);
}
