//! Exact k-nearest-neighbour ground truth by brute force in `f64`.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use mnemodb_distance::{Metric, reference};
use rayon::prelude::*;

use crate::error::{DatasetError, Result};
use crate::neighbors::Neighbors;
use crate::vectors::Vectors;

/// The exact `k` nearest base rows of every query, best first.
///
/// Distances follow [`mnemodb_distance::reference::distance`] on the vectors as given
/// (unprepared: cosine normalises inside), in `f64`; ties are broken by the lower id, and a
/// NaN distance counts as `+inf` (last). `k` larger than the base is clamped to the base's
/// size. Queries run in parallel on the current rayon pool; the result does not depend on
/// the number of threads.
///
/// The cost is `queries × base × dim` `f64` multiply-adds: meant for test and benchmark
/// sets (10,000 × 1,000 × 128 takes a few seconds on two cores).
///
/// ```
/// use mnemodb_dataset::{exact_knn, Vectors};
/// use mnemodb_distance::Metric;
///
/// let base = Vectors::new(1, vec![0.0, 10.0, 3.0, 4.0])?;
/// let queries = Vectors::new(1, vec![3.4])?;
/// let truth = exact_knn(Metric::L2, &base, &queries, 2)?;
/// assert_eq!(truth.row(0), [2, 3]);
/// # Ok::<(), mnemodb_dataset::DatasetError>(())
/// ```
///
/// # Errors
/// [`DatasetError::InvalidArgument`] when `k` is 0, the base is empty, the dimensions
/// differ, or the base has more than `u32::MAX` rows.
pub fn exact_knn(metric: Metric, base: &Vectors, queries: &Vectors, k: usize) -> Result<Neighbors> {
    if k == 0 {
        return Err(DatasetError::invalid("exact_knn needs k >= 1"));
    }
    if base.is_empty() {
        return Err(DatasetError::invalid(
            "exact_knn needs a non-empty base set",
        ));
    }
    if !queries.is_empty() && queries.dim != base.dim {
        return Err(DatasetError::invalid(format!(
            "query dimension {} differs from base dimension {}",
            queries.dim, base.dim
        )));
    }
    if u32::try_from(base.len()).is_err() {
        return Err(DatasetError::invalid(format!(
            "base has {} rows; ids must fit in u32",
            base.len()
        )));
    }
    let k = k.min(base.len());
    let base_norms = cosine_norms(metric, base);
    let query_norms = cosine_norms(metric, queries);
    let mut data = vec![0u32; queries.len() * k];
    data.par_chunks_mut(k)
        .zip(queries.rows().collect::<Vec<_>>())
        .enumerate()
        .for_each(|(q, (out, query))| {
            let query_norm = query_norms.get(q).copied().unwrap_or(0.0);
            let distance = |id: usize, row: &[f32]| match base_norms.get(id) {
                Some(&norm) => cosine_distance(query, row, query_norm, norm),
                None => reference::distance(metric, query, row),
            };
            top_k(base, k, distance, out);
        });
    Ok(Neighbors { k, data })
}

/// Writes the ids of the `out.len()` smallest distances, ascending, into `out`.
fn top_k(base: &Vectors, k: usize, distance: impl Fn(usize, &[f32]) -> f64, out: &mut [u32]) {
    let mut heap: BinaryHeap<Candidate> = BinaryHeap::with_capacity(k + 1);
    for (id, row) in base.rows().enumerate() {
        let candidate = Candidate {
            distance: canonical(distance(id, row)),
            id: id as u32,
        };
        if heap.len() < k {
            heap.push(candidate);
        } else if heap.peek().is_some_and(|worst| candidate < *worst) {
            heap.pop();
            heap.push(candidate);
        }
    }
    for (slot, candidate) in out.iter_mut().zip(heap.into_sorted_vec()) {
        *slot = candidate.id;
    }
}

/// Cosine needs the norms of both vectors for every pair: computing them once per row
/// makes ground truth three times faster. Empty for other metrics.
fn cosine_norms(metric: Metric, vectors: &Vectors) -> Vec<f64> {
    if metric != Metric::Cosine {
        return Vec::new();
    }
    vectors
        .rows()
        .collect::<Vec<_>>()
        .par_iter()
        .map(|row| reference::dot(row, row).sqrt())
        .collect()
}

/// [`reference::distance`] for [`Metric::Cosine`] with the norms precomputed: the same
/// operations in the same order, so the same bits (a unit test checks this).
fn cosine_distance(a: &[f32], b: &[f32], norm_a: f64, norm_b: f64) -> f64 {
    let similarity = if norm_a == 0.0 || norm_b == 0.0 {
        0.0
    } else {
        (reference::dot(a, b) / norm_a / norm_b).clamp(-1.0, 1.0)
    };
    let d = 1.0 - similarity;
    if d.is_nan() { f64::INFINITY } else { d }
}

/// NaN → +inf, -0 → +0, so that the total order is the numeric one and equal distances tie.
fn canonical(d: f64) -> f64 {
    if d.is_nan() {
        f64::INFINITY
    } else if d == 0.0 {
        0.0
    } else {
        d
    }
}

/// A base row and its distance, ordered by distance, then id.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Candidate {
    distance: f64,
    id: u32,
}

impl Eq for Candidate {}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        self.distance
            .total_cmp(&other.distance)
            .then(self.id.cmp(&other.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::uniform;

    #[test]
    fn cosine_shortcut_matches_reference_bit_for_bit() {
        let v = uniform(64, 17, 5);
        let mut rows: Vec<&[f32]> = v.rows().collect();
        let zero = [0.0f32; 17];
        rows.push(&zero);
        for a in &rows {
            for b in &rows {
                let fast = cosine_distance(
                    a,
                    b,
                    reference::dot(a, a).sqrt(),
                    reference::dot(b, b).sqrt(),
                );
                let slow = reference::distance(Metric::Cosine, a, b);
                assert_eq!(fast.to_bits(), slow.to_bits());
            }
        }
    }

    #[test]
    fn ties_go_to_the_lower_id() {
        let base = Vectors::new(1, vec![1.0, -1.0, 1.0, -1.0, 5.0]).unwrap();
        let queries = Vectors::new(1, vec![0.0]).unwrap();
        let truth = exact_knn(Metric::L2, &base, &queries, 4).unwrap();
        assert_eq!(truth.row(0), [0, 1, 2, 3]);
    }

    #[test]
    fn refuses_bad_arguments() {
        let base = Vectors::new(2, vec![0.0; 4]).unwrap();
        let q3 = Vectors::new(3, vec![0.0; 3]).unwrap();
        assert!(exact_knn(Metric::L2, &base, &q3, 1).is_err());
        assert!(exact_knn(Metric::L2, &base, &base, 0).is_err());
        assert!(exact_knn(Metric::L2, &Vectors::empty(2), &base, 1).is_err());
        let clamped = exact_knn(Metric::L2, &base, &base, 10).unwrap();
        assert_eq!((clamped.k, clamped.len()), (2, 2));
    }
}
