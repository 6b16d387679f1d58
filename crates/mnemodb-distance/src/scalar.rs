//! The scalar backend: plain f32 Rust loops, the baseline the fast path is
//! measured against.
//!
//! Each loop keeps [`LANES`] independent f32 accumulators over fixed-size
//! chunks, so LLVM vectorises it as far as the compilation target allows
//! (SSE2 on the default x86-64 target) without reassociating anything. The
//! tail goes into the first lanes and the lanes are summed as a tree.

use crate::convention;

/// Independent accumulators per loop.
pub(crate) const LANES: usize = 8;

/// Cosine distance of two prepared vectors (scalar).
pub(crate) fn cosine_prepared(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return convention::length_mismatch(a.len(), b.len());
    }
    convention::cosine_from_dot(f64::from(dot(a, b)))
}

/// Inner-product distance (scalar).
pub(crate) fn neg_dot(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return convention::length_mismatch(a.len(), b.len());
    }
    convention::neg_dot_from_dot(f64::from(dot(a, b)))
}

/// Squared Euclidean distance (scalar).
pub(crate) fn l2sq(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return convention::length_mismatch(a.len(), b.len());
    }
    convention::l2sq_from_sum(f64::from(l2sq_sum(a, b)))
}

/// `sum a_i * b_i` in f32 over the common prefix.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let (a_chunks, a_tail) = a.as_chunks::<LANES>();
    let (b_chunks, b_tail) = b.as_chunks::<LANES>();
    let mut acc = [0.0f32; LANES];
    for (x, y) in a_chunks.iter().zip(b_chunks) {
        for lane in 0..LANES {
            acc[lane] += x[lane] * y[lane];
        }
    }
    for (lane, (x, y)) in acc.iter_mut().zip(a_tail.iter().zip(b_tail)) {
        *lane += x * y;
    }
    reduce(acc)
}

/// `sum (a_i - b_i)^2` in f32 over the common prefix.
fn l2sq_sum(a: &[f32], b: &[f32]) -> f32 {
    let (a_chunks, a_tail) = a.as_chunks::<LANES>();
    let (b_chunks, b_tail) = b.as_chunks::<LANES>();
    let mut acc = [0.0f32; LANES];
    for (x, y) in a_chunks.iter().zip(b_chunks) {
        for lane in 0..LANES {
            let d = x[lane] - y[lane];
            acc[lane] += d * d;
        }
    }
    for (lane, (x, y)) in acc.iter_mut().zip(a_tail.iter().zip(b_tail)) {
        let d = x - y;
        *lane += d * d;
    }
    reduce(acc)
}

/// Pairwise sum of the lanes (three levels). This pairing (halves first, then
/// neighbours) lets LLVM's SLP vectoriser keep the loops 4 lanes wide on SSE2;
/// other orders made it fall back to 2-lane vectors for `l2sq_sum`.
#[inline]
fn reduce(acc: [f32; LANES]) -> f32 {
    let [a0, a1, a2, a3, a4, a5, a6, a7] = acc;
    ((a0 + a4) + (a1 + a5)) + ((a2 + a6) + (a3 + a7))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_and_l2_cover_chunks_and_tail() {
        let a: Vec<f32> = (1..=19).map(|i| i as f32).collect();
        let b: Vec<f32> = (1..=19).map(|i| (i % 3) as f32).collect();
        let want_dot: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        let want_l2: f32 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
        assert_eq!(dot(&a, &b), want_dot);
        assert_eq!(l2sq_sum(&a, &b), want_l2);
        assert_eq!(neg_dot(&a, &b), -want_dot);
    }
}
