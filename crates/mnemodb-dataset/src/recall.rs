//! Recall@k of search results against ground truth.

use crate::error::{DatasetError, Result};
use crate::neighbors::Neighbors;

/// Recall@k: `|top-k of results ∩ first k of truth| / k`, averaged over the queries (the
/// definition used by the shared wordnet-minilm-50k set and ann-benchmarks).
///
/// - `results[q]` is query `q`'s answer, best first; ids are base row numbers of any
///   unsigned type (`u32`, `u64`, ...). Only its first `k` ids count; a shorter list counts
///   the missing places as misses, and a repeated id counts once.
/// - `truth` must have at least `k` ids per query: recall@k against fewer would overstate
///   it silently, so that is an error rather than a clamp.
///
/// ```
/// use mnemodb_dataset::{recall_at_k, Neighbors};
///
/// let truth = Neighbors::new(3, vec![1, 2, 3, 7, 8, 9])?;
/// let results: Vec<Vec<u64>> = vec![vec![3, 1, 5], vec![7]];
/// // query 0: {3, 1} of {1, 2, 3} → 2/3; query 1: {7} of {7, 8, 9} → 1/3.
/// let r = recall_at_k(&results, &truth, 3)?;
/// assert!((r - 0.5).abs() < 1e-12);
/// # Ok::<(), mnemodb_dataset::DatasetError>(())
/// ```
///
/// # Errors
/// [`DatasetError::InvalidArgument`] when `k` is 0, there are no queries, `results` and
/// `truth` have different numbers of queries, or `truth.k < k`.
pub fn recall_at_k<R, T>(results: &[R], truth: &Neighbors, k: usize) -> Result<f64>
where
    R: AsRef<[T]>,
    T: Copy + Into<u64>,
{
    let per_query = recall_per_query(results, truth, k)?;
    Ok(per_query.iter().sum::<f64>() / per_query.len() as f64)
}

/// Recall@k of each query separately (see [`recall_at_k`] for the rules), for percentiles
/// and for finding the queries a search gets wrong.
///
/// # Errors
/// As [`recall_at_k`].
pub fn recall_per_query<R, T>(results: &[R], truth: &Neighbors, k: usize) -> Result<Vec<f64>>
where
    R: AsRef<[T]>,
    T: Copy + Into<u64>,
{
    if k == 0 {
        return Err(DatasetError::invalid("recall@k needs k >= 1"));
    }
    if truth.k < k {
        return Err(DatasetError::invalid(format!(
            "ground truth has {} ids per query; recall@{k} needs at least {k}",
            truth.k
        )));
    }
    if results.len() != truth.len() {
        return Err(DatasetError::invalid(format!(
            "{} result lists for {} ground-truth queries",
            results.len(),
            truth.len()
        )));
    }
    if results.is_empty() {
        return Err(DatasetError::invalid("recall@k over zero queries"));
    }
    let mut wanted: Vec<u64> = Vec::with_capacity(k);
    let mut found = vec![false; k];
    let per_query = results
        .iter()
        .zip(truth.rows())
        .map(|(result, row)| {
            wanted.clear();
            wanted.extend(row.iter().take(k).map(|&id| u64::from(id)));
            wanted.sort_unstable();
            wanted.dedup();
            found.clear();
            found.resize(wanted.len(), false);
            let mut hits = 0usize;
            for id in result.as_ref().iter().take(k) {
                if let Ok(at) = wanted.binary_search(&(*id).into())
                    && let Some(seen) = found.get_mut(at)
                    && !*seen
                {
                    *seen = true;
                    hits += 1;
                }
            }
            hits as f64 / k as f64
        })
        .collect();
    Ok(per_query)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn truth() -> Neighbors {
        Neighbors::new(4, vec![0, 1, 2, 3, 10, 11, 12, 13]).unwrap()
    }

    #[test]
    fn perfect_and_empty_results() {
        let perfect: Vec<Vec<u32>> = vec![vec![3, 2, 1, 0], vec![10, 11, 12, 13]];
        assert_eq!(recall_at_k(&perfect, &truth(), 4).unwrap(), 1.0);
        let none: Vec<Vec<u64>> = vec![vec![], vec![]];
        assert_eq!(recall_at_k(&none, &truth(), 4).unwrap(), 0.0);
    }

    #[test]
    fn only_the_first_k_count_on_both_sides() {
        // truth[:2] = {0, 1} and {10, 11}; results beyond k are ignored.
        let results: Vec<Vec<u64>> = vec![vec![1, 2, 0], vec![12, 11]];
        assert_eq!(recall_per_query(&results, &truth(), 2).unwrap(), [0.5, 0.5]);
    }

    #[test]
    fn short_lists_and_duplicates_count_as_misses() {
        let results: Vec<Vec<u64>> = vec![vec![0, 0, 0, 0], vec![13]];
        assert_eq!(
            recall_per_query(&results, &truth(), 4).unwrap(),
            [0.25, 0.25]
        );
    }

    #[test]
    fn refuses_what_it_cannot_measure() {
        let results: Vec<Vec<u64>> = vec![vec![0], vec![10]];
        assert!(recall_at_k(&results, &truth(), 0).is_err());
        assert!(recall_at_k(&results, &truth(), 5).is_err());
        assert!(recall_at_k(&results[..1], &truth(), 1).is_err());
        let empty: Vec<Vec<u64>> = Vec::new();
        assert!(recall_at_k(&empty, &Neighbors::default(), 1).is_err());
    }
}
