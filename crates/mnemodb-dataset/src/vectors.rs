//! `Vectors`: a dense row-major matrix of `f32` vectors held in memory.

use std::slice::ChunksExact;

use crate::error::{DatasetError, Result};

/// Dense row-major `f32` vectors: row `i` is `data[i * dim..(i + 1) * dim]`.
///
/// The fields are public for zero-cost access; code that builds a `Vectors` by hand should
/// keep `data.len()` a multiple of `dim` ([`Vectors::new`] checks it). Every method stays
/// panic-free on a broken value except [`Vectors::row`]: a trailing partial row is ignored,
/// and `dim == 0` means no rows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Vectors {
    /// Values per vector; 0 only for an empty set whose dimension is unknown (an empty file).
    pub dim: usize,
    /// All values, row after row.
    pub data: Vec<f32>,
}

impl Vectors {
    /// Wraps row-major `data` of `dim`-sized rows.
    ///
    /// # Errors
    /// [`DatasetError::InvalidArgument`] when `dim` is 0 but `data` is not empty, or when
    /// `data.len()` is not a multiple of `dim`.
    pub fn new(dim: usize, data: Vec<f32>) -> Result<Self> {
        if dim == 0 && !data.is_empty() {
            return Err(DatasetError::invalid(format!(
                "{} values given with dimension 0",
                data.len()
            )));
        }
        if dim != 0 && !data.len().is_multiple_of(dim) {
            return Err(DatasetError::invalid(format!(
                "{} values do not split into rows of dimension {dim}",
                data.len()
            )));
        }
        Ok(Vectors { dim, data })
    }

    /// An empty set of `dim`-dimensional vectors.
    pub fn empty(dim: usize) -> Self {
        Vectors {
            dim,
            data: Vec::new(),
        }
    }

    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.data.len().checked_div(self.dim).unwrap_or(0)
    }

    /// True when there are no vectors.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row `i`.
    ///
    /// # Panics
    /// When `i >= self.len()`, like slice indexing; use [`Vectors::get`] to test instead.
    #[allow(
        clippy::indexing_slicing,
        reason = "documented panic on an out-of-range row, like slice indexing"
    )]
    pub fn row(&self, i: usize) -> &[f32] {
        assert!(i < self.len(), "row {i} out of range ({} rows)", self.len());
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// Row `i`, or `None` when out of range.
    pub fn get(&self, i: usize) -> Option<&[f32]> {
        if i >= self.len() {
            return None;
        }
        self.data.get(i * self.dim..(i + 1) * self.dim)
    }

    /// Iterates over the rows in order.
    pub fn rows(&self) -> ChunksExact<'_, f32> {
        let whole = self.len() * self.dim;
        self.data
            .get(..whole)
            .unwrap_or_default()
            .chunks_exact(self.dim.max(1))
    }

    /// Appends one row.
    ///
    /// # Errors
    /// [`DatasetError::InvalidArgument`] when `row.len() != self.dim` (an empty set with
    /// `dim == 0` takes its dimension from the first row pushed).
    pub fn push(&mut self, row: &[f32]) -> Result<()> {
        if self.dim == 0 && self.data.is_empty() {
            self.dim = row.len();
        }
        if row.len() != self.dim || row.is_empty() {
            return Err(DatasetError::invalid(format!(
                "row of dimension {} pushed onto vectors of dimension {}",
                row.len(),
                self.dim
            )));
        }
        self.data.extend_from_slice(row);
        Ok(())
    }

    /// Position `(row, column)` of the first NaN or infinite value, if any. Callers that
    /// import vectors validate with this before writing anything.
    pub fn first_non_finite(&self) -> Option<(usize, usize)> {
        let at = self.data.iter().position(|v| !v.is_finite())?;
        Some((at / self.dim.max(1), at % self.dim.max(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_and_lengths() {
        let v = Vectors::new(2, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(v.row(1), [3.0, 4.0]);
        assert_eq!(v.get(3), None);
        assert_eq!(v.rows().count(), 3);
        assert_eq!(v.rows().last().unwrap(), [5.0, 6.0]);
    }

    #[test]
    fn refuses_ragged_data() {
        assert!(Vectors::new(4, vec![0.0; 6]).is_err());
        assert!(Vectors::new(0, vec![0.0]).is_err());
        assert!(Vectors::new(0, vec![]).unwrap().is_empty());
    }

    #[test]
    fn broken_fields_never_panic_outside_row() {
        let v = Vectors {
            dim: 0,
            data: vec![1.0, 2.0],
        };
        assert_eq!(v.len(), 0);
        assert_eq!(v.rows().count(), 0);
        assert_eq!(v.get(0), None);
        let v = Vectors {
            dim: 2,
            data: vec![1.0, 2.0, 3.0],
        };
        assert_eq!(v.len(), 1);
        assert_eq!(v.rows().count(), 1);
    }

    #[test]
    fn push_sets_dim_and_checks_it() {
        let mut v = Vectors::default();
        v.push(&[1.0, 2.0]).unwrap();
        assert_eq!(v.dim, 2);
        assert!(v.push(&[1.0]).is_err());
        assert_eq!(v.len(), 1);
    }

    #[test]
    fn finds_non_finite() {
        let v = Vectors::new(3, vec![0.0, 1.0, 2.0, 3.0, f32::NAN, 5.0]).unwrap();
        assert_eq!(v.first_non_finite(), Some((1, 1)));
    }
}
