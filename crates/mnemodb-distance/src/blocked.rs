//! Register-blocked kernel bodies: `QB` queries × `RB` rows at a time.
//!
//! The bodies are written once, in [`blocked_kernels!`], over a small "kit" of
//! vector operations on one 16-lane accumulator (`V`, `zero`, `load`, `dot`,
//! `l2`, `reduce`) that the expanding module provides: AVX-512 and AVX2 kits
//! in [`crate::simd`] (intrinsics, compiled under `#[target_feature]`), and the
//! portable kit here (plain Rust on `[f32; 16]`).
//!
//! # Summation order (the same for every block shape)
//!
//! Each (query, row) pair owns one accumulator of [`LANES`] f32 lanes,
//! starting at `+0.0`. Chunk `c` (components `16c .. 16c + 16`) adds its
//! component `l` into lane `l`; a partial last chunk is copied into a
//! zero-padded chunk, so its padding lanes add exactly zero and components past
//! `dim` are never read. The lanes are then summed as a tree: `l + 8`, then
//! `l + 4`, `l + 2`, `l + 1` (4 roundings). The terms are `q·r` for a dot
//! product and `(q - r)²` for L2 (difference first, never via norms). The
//! AVX-512 and AVX2 kits do one fused multiply-add per term (one rounding);
//! the portable kit a product and an addition.
//!
//! Blocking only changes which accumulators live in registers together, never
//! the operations of one pair, so every block shape gives the same bits for a
//! pair, and so do AVX-512 and AVX2 (same lanes, same tree, both fused).

/// f32 lanes per accumulator: one AVX-512 register, two AVX2 registers.
pub(crate) const LANES: usize = 16;

/// One kernel call's inputs: queries against the first `dim` components of
/// `nrows` rows laid out `stride` f32 apart in `rows`.
///
/// Invariants (checked by the public entry points before building one; a
/// violation panics, never reads out of bounds): every query has length
/// `dim`, `stride > 0`, `stride >= dim` and `nrows * stride <= rows.len()`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Job<'a> {
    pub(crate) queries: &'a [&'a [f32]],
    pub(crate) dim: usize,
    pub(crate) rows: &'a [f32],
    pub(crate) stride: usize,
    pub(crate) nrows: usize,
}

/// Runs `$body` with `$i` bound to each constant of `0..$n` (`$n` a const
/// generic, at most 8), written out so that every array index in the body is
/// a literal and the accumulator arrays become registers whatever the loop
/// unroller decides.
macro_rules! unroll {
    ($n:expr, $i:ident, $body:block) => {{
        const { assert!($n <= 8, "unroll! covers at most 8 iterations") };
        if $n > 0 {
            let $i = 0;
            $body
        }
        if $n > 1 {
            let $i = 1;
            $body
        }
        if $n > 2 {
            let $i = 2;
            $body
        }
        if $n > 3 {
            let $i = 3;
            $body
        }
        if $n > 4 {
            let $i = 4;
            $body
        }
        if $n > 5 {
            let $i = 5;
            $body
        }
        if $n > 6 {
            let $i = 6;
            $body
        }
        if $n > 7 {
            let $i = 7;
            $body
        }
    }};
}
pub(crate) use unroll;

/// Defines, in the expanding module, `sums::<QB, RB, RB1, L2>(job, out)`: the
/// raw sums (dot products, or squared L2 distances when `L2`) of every query
/// of `job` against every row, written to `out[qi * nrows + ri]` (`out` holds
/// `queries.len() * nrows` values; a wrong length panics).
///
/// Queries go in blocks of `QB` against blocks of `RB` rows; the `r < RB`
/// leftover rows form one `QB × r` block. Leftover queries go one by one
/// against blocks of `RB1` rows, and one `1 × r` block (`r < RB1`).
///
/// The module must provide the kit: `V: Copy` (one 16-lane accumulator),
/// `zero() -> V`, `load(&[f32; 16]) -> V`, `dot(acc, q, r) -> V`
/// (`acc + q·r`), `l2(acc, q, r) -> V` (`acc + (q - r)²`) and
/// `reduce(V) -> f32` (the lane tree). The attributes given to the macro (a
/// `#[target_feature]`) go on every generated function.
macro_rules! blocked_kernels {
    ($(#[$attr:meta])*) => {
        $(#[$attr])*
        #[inline]
        pub(crate) fn sums<
            const QB: usize,
            const RB: usize,
            const RB1: usize,
            const L2: bool,
        >(
            job: &$crate::blocked::Job<'_>,
            out: &mut [f32],
        ) {
            let $crate::blocked::Job {
                queries,
                dim,
                rows,
                stride,
                nrows,
            } = *job;
            if nrows == 0 {
                return;
            }
            if nrows == 1
                && let ([q], [slot]) = (queries, &mut *out)
            {
                // One pair: skip the blocking arithmetic (its divisions by
                // `stride` cost as much as a short pair).
                *slot = block::<1, 1, L2>(&[q], &[&rows[..dim]], dim)[0][0];
                return;
            }
            let rows = &rows[..nrows * stride];
            let (blocks, rest) = queries.as_chunks::<QB>();
            let (out_blocks, out_rest) = out.split_at_mut(blocks.len() * QB * nrows);
            for (qs, out) in blocks.iter().zip(out_blocks.chunks_exact_mut(QB * nrows)) {
                rows_pass::<QB, RB, L2>(qs, dim, rows, stride, nrows, out);
            }
            for (q, out) in rest.iter().zip(out_rest.chunks_exact_mut(nrows)) {
                rows_pass::<1, RB1, L2>(&[q], dim, rows, stride, nrows, out);
            }
        }

        /// One block of `QB` queries against all rows; `out` is `QB × nrows`.
        $(#[$attr])*
        #[inline]
        fn rows_pass<const QB: usize, const RB: usize, const L2: bool>(
            qs: &[&[f32]; QB],
            dim: usize,
            rows: &[f32],
            stride: usize,
            nrows: usize,
            out: &mut [f32],
        ) {
            let mut blocks = rows.chunks_exact(RB * stride);
            let mut r0 = 0;
            for blk in &mut blocks {
                rows_block::<QB, RB, L2>(qs, dim, blk, stride, nrows, out, r0);
                r0 += RB;
            }
            // Fewer than RB rows left: one narrower block, never a lone
            // latency-bound 1 × 1 unless the whole pass has one row.
            let rest = blocks.remainder();
            match rest.len() / stride {
                1 if 1 < RB => rows_block::<QB, 1, L2>(qs, dim, rest, stride, nrows, out, r0),
                2 if 2 < RB => rows_block::<QB, 2, L2>(qs, dim, rest, stride, nrows, out, r0),
                3 if 3 < RB => rows_block::<QB, 3, L2>(qs, dim, rest, stride, nrows, out, r0),
                4 if 4 < RB => rows_block::<QB, 4, L2>(qs, dim, rest, stride, nrows, out, r0),
                5 if 5 < RB => rows_block::<QB, 5, L2>(qs, dim, rest, stride, nrows, out, r0),
                6 if 6 < RB => rows_block::<QB, 6, L2>(qs, dim, rest, stride, nrows, out, r0),
                7 if 7 < RB => rows_block::<QB, 7, L2>(qs, dim, rest, stride, nrows, out, r0),
                left => debug_assert_eq!(left, 0, "remainder of {RB}-row blocks"),
            }
        }

        /// `QB` queries against the `RB` rows at the start of `blk`; results
        /// go to columns `r0..r0 + RB` of `out` (`QB × nrows`).
        $(#[$attr])*
        #[inline]
        fn rows_block<const QB: usize, const RB: usize, const L2: bool>(
            qs: &[&[f32]; QB],
            dim: usize,
            blk: &[f32],
            stride: usize,
            nrows: usize,
            out: &mut [f32],
            r0: usize,
        ) {
            let mut rs: [&[f32]; RB] = [&[]; RB];
            $crate::blocked::unroll!(RB, j, {
                rs[j] = &blk[j * stride..j * stride + dim];
            });
            let s = block::<QB, RB, L2>(qs, &rs, dim);
            $crate::blocked::unroll!(QB, i, {
                out[i * nrows + r0..][..RB].copy_from_slice(&s[i]);
            });
        }

        /// Raw sums of `QB` queries × `RB` rows, all of length `dim`.
        $(#[$attr])*
        #[inline]
        fn block<const QB: usize, const RB: usize, const L2: bool>(
            qs: &[&[f32]; QB],
            rs: &[&[f32]; RB],
            dim: usize,
        ) -> [[f32; RB]; QB] {
            use $crate::blocked::LANES;
            let n = dim / LANES;
            let mut qc: [&[[f32; LANES]]; QB] = [&[]; QB];
            $crate::blocked::unroll!(QB, i, {
                qc[i] = &qs[i].as_chunks::<LANES>().0[..n];
            });
            let mut rc: [&[[f32; LANES]]; RB] = [&[]; RB];
            $crate::blocked::unroll!(RB, j, {
                rc[j] = &rs[j].as_chunks::<LANES>().0[..n];
            });
            let mut acc: [[V; RB]; QB] = [[zero(); RB]; QB];
            for c in 0..n {
                let mut rv: [V; RB] = [zero(); RB];
                $crate::blocked::unroll!(RB, j, {
                    rv[j] = load(&rc[j][c]);
                });
                $crate::blocked::unroll!(QB, i, {
                    let q = load(&qc[i][c]);
                    $crate::blocked::unroll!(RB, j, {
                        acc[i][j] = if L2 { l2(acc[i][j], q, rv[j]) } else { dot(acc[i][j], q, rv[j]) };
                    });
                });
            }
            let done = n * LANES;
            if done < dim {
                let mut rv: [V; RB] = [zero(); RB];
                $crate::blocked::unroll!(RB, j, {
                    rv[j] = load_partial(&rs[j][done..dim]);
                });
                $crate::blocked::unroll!(QB, i, {
                    let q = load_partial(&qs[i][done..dim]);
                    $crate::blocked::unroll!(RB, j, {
                        acc[i][j] = if L2 { l2(acc[i][j], q, rv[j]) } else { dot(acc[i][j], q, rv[j]) };
                    });
                });
            }
            let mut s = [[0.0f32; RB]; QB];
            $crate::blocked::unroll!(QB, i, {
                $crate::blocked::unroll!(RB, j, {
                    s[i][j] = reduce(acc[i][j]);
                });
            });
            s
        }
    };
}
pub(crate) use blocked_kernels;

/// The first `v.len()` (at most 16) values of `v`, zero-padded to 16.
#[inline(always)]
pub(crate) fn padded(v: &[f32]) -> [f32; LANES] {
    let mut p = [0.0f32; LANES];
    let n = v.len().min(LANES);
    p[..n].copy_from_slice(&v[..n]);
    p
}

/// The portable kit: plain Rust on `[f32; 16]`, separate multiply and add
/// (without hardware FMA, `f32::mul_add` is a slow library call). LLVM
/// vectorises it for the compilation target only.
pub(crate) mod portable {
    use super::LANES;

    type V = [f32; LANES];

    #[inline(always)]
    fn zero() -> V {
        [0.0; LANES]
    }

    #[inline(always)]
    fn load(v: &[f32; LANES]) -> V {
        *v
    }

    #[inline(always)]
    fn load_partial(v: &[f32]) -> V {
        super::padded(v)
    }

    #[inline(always)]
    fn dot(mut acc: V, q: V, r: V) -> V {
        for l in 0..LANES {
            acc[l] += q[l] * r[l];
        }
        acc
    }

    #[inline(always)]
    fn l2(mut acc: V, q: V, r: V) -> V {
        for l in 0..LANES {
            let d = q[l] - r[l];
            acc[l] += d * d;
        }
        acc
    }

    /// The lane tree: `l + 8`, `l + 4`, `l + 2`, `l + 1`.
    #[inline(always)]
    fn reduce(mut v: V) -> f32 {
        let mut width = LANES / 2;
        while width > 0 {
            for l in 0..width {
                v[l] += v[l + width];
            }
            width /= 2;
        }
        v[0]
    }

    super::blocked_kernels!();

    #[cfg(test)]
    pub(crate) fn reduce_for_test(v: V) -> f32 {
        reduce(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Raw sums of one pair with a 1 × 1 block: the specification of every shape.
    fn pair<const L2: bool>(q: &[f32], r: &[f32]) -> f32 {
        let mut out = [0.0f32];
        let job = Job {
            queries: &[q],
            dim: q.len(),
            rows: r,
            stride: r.len().max(1),
            nrows: usize::from(!r.is_empty()),
        };
        portable::sums::<1, 1, 1, L2>(&job, &mut out);
        out[0]
    }

    #[test]
    fn block_shapes_agree_bit_for_bit() {
        for dim in [1, 15, 16, 17, 40, 100] {
            let qs: Vec<Vec<f32>> = (0..5)
                .map(|k| {
                    (0..dim)
                        .map(|i| ((i * 7 + k * 3) % 11) as f32 * 0.37 - 1.5)
                        .collect()
                })
                .collect();
            let stride = dim + 3;
            let nrows = 7;
            let mut rows = vec![f32::NAN; nrows * stride];
            for (r, row) in rows.chunks_exact_mut(stride).enumerate() {
                for (i, x) in row[..dim].iter_mut().enumerate() {
                    *x = ((i * 5 + r * 13) % 17) as f32 * 0.21 - 1.0;
                }
            }
            let refs: Vec<&[f32]> = qs.iter().map(Vec::as_slice).collect();
            let job = Job {
                queries: &refs,
                dim,
                rows: &rows,
                stride,
                nrows,
            };
            let mut out = vec![0.0f32; refs.len() * nrows];
            portable::sums::<4, 4, 2, false>(&job, &mut out);
            let mut out_l2 = vec![0.0f32; refs.len() * nrows];
            portable::sums::<2, 3, 8, true>(&job, &mut out_l2);
            for (qi, q) in refs.iter().enumerate() {
                for (ri, r) in rows.chunks_exact(stride).enumerate() {
                    let r = &r[..dim];
                    let at = qi * nrows + ri;
                    assert_eq!(out[at].to_bits(), pair::<false>(q, r).to_bits());
                    assert_eq!(out_l2[at].to_bits(), pair::<true>(q, r).to_bits());
                    assert!(!out[at].is_nan() && !out_l2[at].is_nan(), "padding read");
                }
            }
        }
    }

    #[test]
    fn reduce_is_the_documented_tree() {
        let acc: [f32; LANES] = std::array::from_fn(|l| (l + 1) as f32);
        assert_eq!(portable::reduce_for_test(acc), 136.0);
        // 1e8 in lane 0 and -1e8 in lane 8 cancel in the first level.
        let mut acc = [1.0f32; LANES];
        acc[0] = 1e8;
        acc[8] = -1e8;
        assert_eq!(portable::reduce_for_test(acc), 14.0);
    }
}
