//! Input validation at the API boundary: dimensions and finiteness.

use crate::Error;

/// Largest supported vector dimension.
///
/// It bounds allocation sizes derived from a dimension and keeps every kernel's
/// summation short enough for the documented error bounds to stay small.
pub const MAX_DIM: usize = 65_536;

/// Checks a vector before it is stored or searched.
///
/// In order: not empty ([`Error::EmptyVector`]), at most [`MAX_DIM`] components
/// ([`Error::DimensionTooLarge`]), exactly `expected_dim` components
/// ([`Error::DimensionMismatch`]), every component finite ([`Error::NonFinite`],
/// reporting the first offending index).
///
/// The kernels rely on this: finite inputs never produce NaN.
///
/// ```
/// use mnemodb_distance::{validate_vector, Error};
/// assert!(validate_vector(&[1.0, 2.0], 2).is_ok());
/// assert!(matches!(
///     validate_vector(&[1.0, f32::NAN], 2),
///     Err(Error::NonFinite { index: 1, .. })
/// ));
/// ```
pub fn validate_vector(v: &[f32], expected_dim: usize) -> Result<(), Error> {
    if v.is_empty() {
        return Err(Error::EmptyVector);
    }
    if v.len() > MAX_DIM {
        return Err(Error::DimensionTooLarge {
            dim: v.len(),
            max: MAX_DIM,
        });
    }
    if v.len() != expected_dim {
        return Err(Error::DimensionMismatch {
            expected: expected_dim,
            found: v.len(),
        });
    }
    match first_non_finite(v) {
        Some(index) => Err(Error::NonFinite {
            index,
            value: v.get(index).copied().unwrap_or(f32::NAN),
        }),
        None => Ok(()),
    }
}

/// Checks a dimension chosen for a new collection: `1..=MAX_DIM`.
///
/// ```
/// use mnemodb_distance::{validate_dim, MAX_DIM};
/// assert!(validate_dim(768).is_ok());
/// assert!(validate_dim(0).is_err());
/// assert!(validate_dim(MAX_DIM + 1).is_err());
/// ```
pub fn validate_dim(dim: usize) -> Result<(), Error> {
    if dim == 0 {
        return Err(Error::EmptyVector);
    }
    if dim > MAX_DIM {
        return Err(Error::DimensionTooLarge { dim, max: MAX_DIM });
    }
    Ok(())
}

/// Index of the first NaN or infinite component.
///
/// Blocks of 16 are checked without early exit (so the check vectorises);
/// only a failing block is searched element by element.
fn first_non_finite(v: &[f32]) -> Option<usize> {
    const BLOCK: usize = 16;
    let (blocks, tail) = v.as_chunks::<BLOCK>();
    for (block_index, block) in blocks.iter().enumerate() {
        let all_finite = block.iter().fold(true, |ok, x| ok & x.is_finite());
        if !all_finite {
            let offset = block.iter().position(|x| !x.is_finite())?;
            return Some(block_index * BLOCK + offset);
        }
    }
    tail.iter()
        .position(|x| !x.is_finite())
        .map(|offset| blocks.len() * BLOCK + offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_non_finite_finds_first_in_blocks_and_tail() {
        let mut v = vec![1.0f32; 40];
        assert_eq!(first_non_finite(&v), None);
        v[37] = f32::INFINITY;
        assert_eq!(first_non_finite(&v), Some(37));
        v[17] = f32::NAN;
        v[20] = f32::NEG_INFINITY;
        assert_eq!(first_non_finite(&v), Some(17));
        v[0] = f32::NAN;
        assert_eq!(first_non_finite(&v), Some(0));
    }
}
