//! [`Rows`]: a zero-copy view of prepared vectors with a row stride.
use mnemodb_segment::SegmentReader;

use crate::error::{Error, Result};

/// Prepared vectors (normalised for cosine, as a segment stores them), `len` rows of
/// `dim` floats, row `i` starting at `i × stride`. Zero-copy and `Copy`.
///
/// ```
/// use mnemodb_ann::hnsw::Rows;
/// let data = [1.0, 0.0, 0.0, 1.0];
/// let rows = Rows::new(&data, 2)?;
/// assert_eq!((rows.len(), rows.get(1)), (2, Some(&[0.0, 1.0][..])));
/// # Ok::<(), mnemodb_ann::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Rows<'a> {
    data: &'a [f32],
    dim: usize,
    stride: usize,
    len: usize,
}

impl<'a> Rows<'a> {
    /// Rows packed back to back (`stride = dim`); `data.len()` must be a multiple of `dim`.
    pub fn new(data: &'a [f32], dim: usize) -> Result<Self> {
        Self::with_stride(data, dim, dim)
    }

    /// Rows `stride` floats apart; the last row may omit its padding.
    pub fn with_stride(data: &'a [f32], dim: usize, stride: usize) -> Result<Self> {
        if dim == 0 || stride < dim {
            return Err(Error::InvalidParams(format!(
                "rows need 1 ≤ dim ≤ stride (dim {dim}, stride {stride})"
            )));
        }
        let len = (data.len() + (stride - dim)) / stride;
        if len > (u32::MAX - 1) as usize {
            return Err(Error::InvalidParams(format!(
                "{len} rows: at most 2^32 - 2 are supported"
            )));
        }
        let pad = stride - dim;
        if data.len() != len * stride && data.len() + pad != len * stride {
            return Err(Error::InvalidParams(format!(
                "{} floats are not whole rows of dim {dim} / stride {stride}",
                data.len()
            )));
        }
        Ok(Rows {
            data,
            dim,
            stride,
            len,
        })
    }

    /// The rows of a segment (zero-copy).
    pub fn from_segment(segment: &'a SegmentReader) -> Self {
        let dim = segment.dim().max(1);
        Rows {
            data: segment.rows(),
            dim,
            stride: segment.stride().max(dim),
            len: segment.len().min((u32::MAX - 1) as usize),
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Components per row.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Row `i`, or `None` past the end.
    #[inline]
    pub fn get(&self, i: usize) -> Option<&'a [f32]> {
        if i >= self.len {
            return None;
        }
        let start = i * self.stride;
        self.data.get(start..start + self.dim)
    }

    /// Where row `i` starts (for prefetching; may dangle).
    #[inline]
    pub(crate) fn ptr(&self, i: usize) -> *const f32 {
        self.data.as_ptr().wrapping_add(i.wrapping_mul(self.stride))
    }

    /// The underlying floats (row `i` at `i × stride`).
    pub(crate) fn data(&self) -> &'a [f32] {
        self.data
    }

    /// Floats from one row's start to the next's.
    pub(crate) fn stride(&self) -> usize {
        self.stride
    }

    /// Cache lines per row.
    pub(crate) fn lines(&self) -> usize {
        (self.dim * 4).div_ceil(64)
    }
}

impl<'a> From<&'a SegmentReader> for Rows<'a> {
    fn from(segment: &'a SegmentReader) -> Self {
        Rows::from_segment(segment)
    }
}
