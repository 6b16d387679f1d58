//! `Neighbors`: ground-truth id lists, `k` per query, held in memory.

use std::slice::ChunksExact;

use crate::error::{DatasetError, Result};

/// Nearest-neighbour ids, `k` per query, row-major: the ids for query `q` are
/// `data[q * k..(q + 1) * k]`, best first. Ids are 0-based rows of the base set.
///
/// As with [`crate::Vectors`], the fields are public; methods never panic on a broken value
/// except [`Neighbors::row`], and `k == 0` means no rows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Neighbors {
    /// Ids per query.
    pub k: usize,
    /// All ids, query after query.
    pub data: Vec<u32>,
}

impl Neighbors {
    /// Wraps row-major `data` with `k` ids per query.
    ///
    /// # Errors
    /// [`DatasetError::InvalidArgument`] when `data.len()` is not a multiple of `k`, or `k`
    /// is 0 with `data` not empty.
    pub fn new(k: usize, data: Vec<u32>) -> Result<Self> {
        let ragged = match data.len().checked_rem(k) {
            Some(rest) => rest != 0,
            None => !data.is_empty(),
        };
        if ragged {
            return Err(DatasetError::invalid(format!(
                "{} ids do not split into rows of {k}",
                data.len()
            )));
        }
        Ok(Neighbors { k, data })
    }

    /// Number of queries.
    pub fn len(&self) -> usize {
        self.data.len().checked_div(self.k).unwrap_or(0)
    }

    /// True when there are no queries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The ids of query `q`, best first.
    ///
    /// # Panics
    /// When `q >= self.len()`, like slice indexing; use [`Neighbors::get`] to test instead.
    #[allow(
        clippy::indexing_slicing,
        reason = "documented panic on an out-of-range row, like slice indexing"
    )]
    pub fn row(&self, q: usize) -> &[u32] {
        assert!(q < self.len(), "row {q} out of range ({} rows)", self.len());
        &self.data[q * self.k..(q + 1) * self.k]
    }

    /// The ids of query `q`, or `None` when out of range.
    pub fn get(&self, q: usize) -> Option<&[u32]> {
        if q >= self.len() {
            return None;
        }
        self.data.get(q * self.k..(q + 1) * self.k)
    }

    /// Iterates over the queries' id lists in order.
    pub fn rows(&self) -> ChunksExact<'_, u32> {
        let whole = self.len() * self.k;
        self.data
            .get(..whole)
            .unwrap_or_default()
            .chunks_exact(self.k.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows() {
        let n = Neighbors::new(2, vec![0, 1, 2, 3]).unwrap();
        assert_eq!(n.len(), 2);
        assert_eq!(n.row(1), [2, 3]);
        assert_eq!(n.get(2), None);
        assert_eq!(n.rows().collect::<Vec<_>>(), [&[0, 1][..], &[2, 3][..]]);
        assert!(Neighbors::new(3, vec![0; 4]).is_err());
        assert!(Neighbors::new(0, vec![1]).is_err());
        assert!(Neighbors::new(0, vec![]).unwrap().is_empty());
    }
}
