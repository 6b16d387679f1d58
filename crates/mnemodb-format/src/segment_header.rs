use std::path::Path;

use bytemuck::{Pod, Zeroable};

use crate::error::{FormatError, Result};
use crate::header::{Header, check_layout, decode_header};
use crate::kind::FileKind;
use crate::layout::{ALIGN, align_up};
use crate::prefix::{BYTE_ORDER_MARK, FilePrefix};

/// Element type of the vectors in a segment. Only `F32` is written today; the field leaves
/// room for quantised copies (f16, int8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
#[non_exhaustive]
pub enum DType {
    /// IEEE-754 binary32, little-endian.
    F32 = 0,
}

impl DType {
    /// Decode the header's raw value.
    pub fn from_u32(raw: u32) -> Option<DType> {
        match raw {
            0 => Some(DType::F32),
            _ => None,
        }
    }

    /// Bytes per element.
    pub fn size(self) -> u64 {
        match self {
            DType::F32 => 4,
        }
    }
}

/// Header of a segment file (`seg-<id>.vec`): 128 bytes at offset 0.
///
/// | offset | size | field          | meaning                                                    |
/// |-------:|-----:|----------------|------------------------------------------------------------|
/// | 0      | 16   | `prefix`       | [`FilePrefix`]: magic, kind = 1 (segment), version         |
/// | 16     | 4    | `byte_order`   | [`BYTE_ORDER_MARK`]                                        |
/// | 20     | 4    | `metric`       | distance metric the rows are prepared for (see mnemodb-distance) |
/// | 24     | 4    | `dtype`        | [`DType`] of the elements (0 = f32)                        |
/// | 28     | 4    | `dim`          | components per vector, 1..=65,536                          |
/// | 32     | 8    | `row_count`    | number of rows                                             |
/// | 40     | 8    | `generation`   | engine-assigned generation of this file (index files cite it) |
/// | 48     | 4    | `row_stride`   | bytes per row: `dim × size(dtype)` rounded up to 64        |
/// | 52     | 4    | `block_rows`   | rows per checksum block (≥ 1)                              |
/// | 56     | 8    | `rows_offset`  | start of the rows section (= 128)                          |
/// | 64     | 8    | `ids_offset`   | start of the id column (64-aligned)                        |
/// | 72     | 8    | `crcs_offset`  | start of the block CRC table (64-aligned)                  |
/// | 80     | 8    | `file_len`     | total file length in bytes                                 |
/// | 88     | 4    | `content_crc`  | CRC32 of the block CRC table (a fingerprint of the content) |
/// | 92     | 32   | `reserved`     | zero                                                       |
/// | 124    | 4    | `header_crc`   | CRC32 of bytes 0..124                                      |
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub struct SegmentHeader {
    /// Magic, kind and version.
    pub prefix: FilePrefix,
    /// [`BYTE_ORDER_MARK`].
    pub byte_order: u32,
    /// Metric as stored by `mnemodb-distance`.
    pub metric: u32,
    /// [`DType`] as `u32`.
    pub dtype: u32,
    /// Components per vector.
    pub dim: u32,
    /// Number of rows.
    pub row_count: u64,
    /// Generation assigned by the engine.
    pub generation: u64,
    /// Bytes per row, including zero padding to a multiple of 64.
    pub row_stride: u32,
    /// Rows per checksum block.
    pub block_rows: u32,
    /// Start of the rows section.
    pub rows_offset: u64,
    /// Start of the id column.
    pub ids_offset: u64,
    /// Start of the block CRC table.
    pub crcs_offset: u64,
    /// Total file length.
    pub file_len: u64,
    /// CRC32 of the block CRC table.
    pub content_crc: u32,
    /// Zero.
    pub reserved: [u8; 32],
    /// CRC32 of bytes `0..124`.
    pub header_crc: u32,
}

const _: () = assert!(std::mem::size_of::<SegmentHeader>() == 128);

impl Header for SegmentHeader {
    const KIND: FileKind = FileKind::Segment;
    const NAME: &'static str = "segment";

    fn stored_crc(&self) -> u32 {
        self.header_crc
    }
}

/// Largest dimension mnemodb accepts.
pub const MAX_DIM: u32 = 65_536;

/// Where each section of a segment file lies, derived from `dim`, `dtype`, `row_count` and
/// `block_rows` alone: a header whose offsets disagree with it is corrupt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentLayout {
    /// Components per vector.
    pub dim: u32,
    /// Element type.
    pub dtype: DType,
    /// Number of rows.
    pub row_count: u64,
    /// Bytes per row including padding.
    pub row_stride: u64,
    /// Rows per checksum block.
    pub block_rows: u64,
    /// Number of checksum blocks.
    pub block_count: u64,
    /// Start of the rows.
    pub rows_offset: u64,
    /// Start of the id column.
    pub ids_offset: u64,
    /// Start of the CRC table.
    pub crcs_offset: u64,
    /// File length.
    pub file_len: u64,
}

impl SegmentLayout {
    /// Header size; the rows start right after it.
    pub const HEADER_SIZE: u64 = 128;

    /// The layout of a segment with these parameters, or `None` when a size overflows or a
    /// parameter is out of range (dim 0 or above [`MAX_DIM`], `block_rows` 0).
    pub fn compute(dim: u32, dtype: DType, row_count: u64, block_rows: u32) -> Option<Self> {
        if dim == 0 || dim > MAX_DIM || block_rows == 0 {
            return None;
        }
        let row_stride = align_up(u64::from(dim) * dtype.size(), ALIGN)?;
        let rows_offset = Self::HEADER_SIZE;
        let rows_end = rows_offset.checked_add(row_count.checked_mul(row_stride)?)?;
        let ids_offset = align_up(rows_end, ALIGN)?;
        let ids_end = ids_offset.checked_add(row_count.checked_mul(8)?)?;
        let crcs_offset = align_up(ids_end, ALIGN)?;
        let block_count = row_count.div_ceil(u64::from(block_rows));
        let file_len = crcs_offset.checked_add(block_count.checked_mul(4)?)?;
        Some(SegmentLayout {
            dim,
            dtype,
            row_count,
            row_stride,
            block_rows: u64::from(block_rows),
            block_count,
            rows_offset,
            ids_offset,
            crcs_offset,
            file_len,
        })
    }

    /// Rows `[first, end)` of checksum block `block`.
    pub fn block_rows_range(&self, block: u64) -> (u64, u64) {
        let first = block.saturating_mul(self.block_rows).min(self.row_count);
        let end = first.saturating_add(self.block_rows).min(self.row_count);
        (first, end)
    }
}

impl SegmentHeader {
    /// Byte offset of `header_crc`.
    pub const CRC_OFFSET: usize = 124;

    /// A header for `layout`, with its CRC filled in.
    pub fn new(layout: &SegmentLayout, metric: u32, generation: u64, content_crc: u32) -> Self {
        let mut h = SegmentHeader {
            prefix: FilePrefix::new(FileKind::Segment),
            byte_order: BYTE_ORDER_MARK,
            metric,
            dtype: layout.dtype as u32,
            dim: layout.dim,
            row_count: layout.row_count,
            generation,
            // Fits: dim ≤ 65,536 and 4-byte elements.
            row_stride: u32::try_from(layout.row_stride).unwrap_or(u32::MAX),
            block_rows: u32::try_from(layout.block_rows).unwrap_or(u32::MAX),
            rows_offset: layout.rows_offset,
            ids_offset: layout.ids_offset,
            crcs_offset: layout.crcs_offset,
            file_len: layout.file_len,
            content_crc,
            reserved: [0; 32],
            header_crc: 0,
        };
        h.header_crc = h.compute_crc();
        h
    }

    /// CRC32 of every byte before `header_crc`.
    pub fn compute_crc(&self) -> u32 {
        Header::compute_crc(self)
    }

    /// Decode and validate a header from the first bytes of a file whose actual length is
    /// `actual_len`. Checks magic, kind, version, CRC, byte order, dtype, dimension, every
    /// offset against the canonical layout, and the file length. Never panics.
    pub fn decode(bytes: &[u8], file: &Path, actual_len: u64) -> Result<(Self, SegmentLayout)> {
        let h: SegmentHeader = decode_header(bytes, file)?;
        let bad = |offset: u64, what: String| Err(FormatError::corrupted(file, offset, what));
        let Some(dtype) = DType::from_u32(h.dtype) else {
            return bad(24, format!("unknown dtype {}", h.dtype));
        };
        if h.dim == 0 || h.dim > MAX_DIM {
            return bad(28, format!("dimension {} outside 1..={MAX_DIM}", h.dim));
        }
        if h.block_rows == 0 {
            return bad(52, "block_rows is 0".into());
        }
        if h.reserved != [0; 32] {
            return bad(92, "reserved bytes are not zero".into());
        }
        let Some(layout) = SegmentLayout::compute(h.dim, dtype, h.row_count, h.block_rows) else {
            return bad(
                32,
                format!("row count {} overflows the file size", h.row_count),
            );
        };
        let checks: [(u64, &str, u64, u64); 5] = [
            (48, "row_stride", u64::from(h.row_stride), layout.row_stride),
            (56, "rows_offset", h.rows_offset, layout.rows_offset),
            (64, "ids_offset", h.ids_offset, layout.ids_offset),
            (72, "crcs_offset", h.crcs_offset, layout.crcs_offset),
            (80, "file_len", h.file_len, layout.file_len),
        ];
        check_layout(file, &checks, actual_len, layout.file_len)?;
        Ok((h, layout))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(rows: u64) -> (SegmentHeader, SegmentLayout) {
        let layout = SegmentLayout::compute(3, DType::F32, rows, 4).unwrap();
        (SegmentHeader::new(&layout, 1, 7, 0xdead_beef), layout)
    }

    #[test]
    fn layout_is_aligned_and_consistent() {
        let (_, l) = header(10);
        assert_eq!(l.row_stride, 64);
        assert_eq!(l.rows_offset % 64, 0);
        assert_eq!(l.ids_offset % 64, 0);
        assert_eq!(l.crcs_offset % 64, 0);
        assert_eq!(l.block_count, 3);
        assert_eq!(l.block_rows_range(2), (8, 10));
        assert_eq!(l.file_len, l.crcs_offset + 12);
        let empty = SegmentLayout::compute(3, DType::F32, 0, 4).unwrap();
        assert_eq!(empty.block_count, 0);
        assert!(SegmentLayout::compute(0, DType::F32, 1, 4).is_none());
        assert!(SegmentLayout::compute(3, DType::F32, u64::MAX / 2, 4).is_none());
    }

    #[test]
    fn round_trip_and_every_header_bit_flip_is_caught() {
        let (h, l) = header(10);
        let bytes = bytemuck::bytes_of(&h).to_vec();
        let (back, layout) = SegmentHeader::decode(&bytes, Path::new("s"), l.file_len).unwrap();
        assert_eq!((back, layout), (h, l));
        for bit in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            assert!(
                SegmentHeader::decode(&b, Path::new("s"), l.file_len).is_err(),
                "bit {bit} flip not detected"
            );
        }
    }

    #[test]
    fn wrong_length_is_refused() {
        let (h, l) = header(10);
        let bytes = bytemuck::bytes_of(&h);
        let err = SegmentHeader::decode(bytes, Path::new("s"), l.file_len - 1).unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
    }
}
