use std::path::Path;

use bytemuck::{Pod, Zeroable};

use crate::error::{FormatError, Result};
use crate::header::{Header, check_layout, decode_header};
use crate::kind::FileKind;
use crate::layout::{ALIGN, align_up};
use crate::prefix::{BYTE_ORDER_MARK, FilePrefix};

/// Largest `nlist` an IVF file may declare; bounds every allocation derived from the header.
pub const IVF_MAX_NLIST: u32 = 1 << 20;
/// `dtype` of IVF codes: full f32 rows (IVF-Flat).
pub const IVF_DTYPE_F32: u32 = 0;
/// `dtype` of IVF codes: 8-bit scalar-quantised rows (IVF-SQ8; per-dimension min and scale
/// in the quantiser section).
pub const IVF_DTYPE_SQ8: u32 = 1;
/// `dtype` of IVF codes: half-precision rows (IEEE 754 binary16, 2 bytes per component).
pub const IVF_DTYPE_F16: u32 = 2;

/// Header of an IVF index file (`seg-<id>.ivf`): 256 bytes at offset 0.
///
/// The index covers the rows of one segment, named exactly by `segment_generation` and
/// `segment_content_crc`. Rows are grouped by inverted list: list `l` holds entries
/// `list_offsets[l]..list_offsets[l + 1]` of the row-number and code sections.
///
/// ```text
/// 0      256          list_offsets   rows        quant          codes          [probe_offset]       file_len
/// | header | centroids | pad | offsets | pad | rows | pad | quant | pad | codes | pad | probe (v2, optional) |
/// ```
///
/// The optional probe section (format version 2; absent when `probe_offset = 0`, and always
/// in version 1 files, whose bytes 140..252 are zero) holds each list's *sub-centroids*
/// (a few k-means centres of the list's own rows) that a search uses to re-rank the lists
/// the centroids shortlisted: `nlist + 1` u32 sub-centroid offsets (list `l` owns
/// sub-centroids `sub_offsets[l]..sub_offsets[l + 1]`, from 0 rising to
/// `sub_centroid_count`), zero padding to a multiple of 64, `dim` f32 centres and one f32
/// step (a symmetric int8 quantiser of the sub-centroids, `mnemodb_distance::int8::I8`),
/// then `sub_centroid_count × dim` i8 codes.
///
/// | offset | size | field                  | meaning                                                  |
/// |-------:|-----:|------------------------|----------------------------------------------------------|
/// | 0      | 16   | `prefix`               | [`FilePrefix`]: magic, kind = 3 (IVF index), version     |
/// | 16     | 4    | `byte_order`           | [`BYTE_ORDER_MARK`]                                      |
/// | 20     | 4    | `metric`               | metric of the indexed segment                            |
/// | 24     | 4    | `dim`                  | dimension, 1..=[`crate::MAX_DIM`]                        |
/// | 28     | 4    | `dtype`                | codes: 0 = f32 rows, 1 = SQ8 codes, 2 = f16 rows         |
/// | 32     | 4    | `nlist`                | inverted lists (= centroids), 1..=[`IVF_MAX_NLIST`]      |
/// | 36     | 4    | `flags`                | zero                                                     |
/// | 40     | 8    | `row_count`            | rows indexed = rows of the segment, < 2³²                |
/// | 48     | 8    | `segment_generation`   | generation of the indexed segment                        |
/// | 56     | 4    | `segment_content_crc`  | content CRC of the indexed segment                       |
/// | 60     | 4    | `iterations`           | k-means iterations run (informational)                   |
/// | 64     | 8    | `seed`                 | k-means seed (informational)                             |
/// | 72     | 8    | `centroids_offset`     | = 256; `nlist × dim` f32                                  |
/// | 80     | 8    | `list_offsets_offset`  | `nlist + 1` u64, from 0 rising to `row_count`            |
/// | 88     | 8    | `rows_offset`          | `row_count` u32 segment row numbers, grouped by list     |
/// | 96     | 8    | `quant_offset`         | SQ8: `dim` f32 minimums then `dim` f32 scales; f32: empty |
/// | 104    | 8    | `codes_offset`         | `row_count` codes: `dim` f32 (dtype 0) or `dim` u8 (1)   |
/// | 112    | 8    | `file_len`             | end of codes                                             |
/// | 120    | 4    | `centroids_crc`        | CRC32 of the centroids section                           |
/// | 124    | 4    | `list_offsets_crc`     | CRC32 of the list offsets section                        |
/// | 128    | 4    | `rows_crc`             | CRC32 of the rows section                                |
/// | 132    | 4    | `quant_crc`            | CRC32 of the quantiser section                           |
/// | 136    | 4    | `codes_crc`            | CRC32 of the codes section                               |
/// | 140    | 4    | `sub_centroid_count`   | v2: sub-centroids in the probe section, or 0             |
/// | 144    | 8    | `probe_offset`         | v2: 64-aligned end of codes, or 0 (no probe section)     |
/// | 152    | 8    | `probe_len`            | v2: bytes of the probe section, or 0                     |
/// | 160    | 4    | `probe_crc`            | v2: CRC32 of the probe section, or 0                     |
/// | 164    | 88   | `reserved`             | zero                                                     |
/// | 252    | 4    | `header_crc`           | CRC32 of bytes 0..252                                    |
///
/// Every section starts 64-byte aligned; the padding between sections is zero.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub struct IvfHeader {
    /// Magic, kind and version.
    pub prefix: FilePrefix,
    /// [`BYTE_ORDER_MARK`].
    pub byte_order: u32,
    /// Metric of the indexed segment.
    pub metric: u32,
    /// Dimension.
    pub dim: u32,
    /// Code type ([`IVF_DTYPE_F32`], [`IVF_DTYPE_SQ8`] or [`IVF_DTYPE_F16`]).
    pub dtype: u32,
    /// Number of inverted lists.
    pub nlist: u32,
    /// Zero.
    pub flags: u32,
    /// Rows indexed.
    pub row_count: u64,
    /// Generation of the indexed segment.
    pub segment_generation: u64,
    /// Content CRC of the indexed segment.
    pub segment_content_crc: u32,
    /// k-means iterations (informational).
    pub iterations: u32,
    /// k-means seed (informational).
    pub seed: u64,
    /// Start of the centroids.
    pub centroids_offset: u64,
    /// Start of the list offsets.
    pub list_offsets_offset: u64,
    /// Start of the row numbers.
    pub rows_offset: u64,
    /// Start of the quantiser parameters.
    pub quant_offset: u64,
    /// Start of the codes.
    pub codes_offset: u64,
    /// Total file length.
    pub file_len: u64,
    /// CRC32 of the centroids.
    pub centroids_crc: u32,
    /// CRC32 of the list offsets.
    pub list_offsets_crc: u32,
    /// CRC32 of the row numbers.
    pub rows_crc: u32,
    /// CRC32 of the quantiser parameters.
    pub quant_crc: u32,
    /// CRC32 of the codes.
    pub codes_crc: u32,
    /// v2: sub-centroids in the probe section (0 without one).
    pub sub_centroid_count: u32,
    /// v2: start of the probe section (0 without one).
    pub probe_offset: u64,
    /// v2: length of the probe section (0 without one).
    pub probe_len: u64,
    /// v2: CRC32 of the probe section (0 without one).
    pub probe_crc: u32,
    /// Zero.
    pub reserved: [u8; 88],
    /// CRC32 of bytes `0..252`.
    pub header_crc: u32,
}

const _: () = assert!(std::mem::size_of::<IvfHeader>() == 256);

impl Header for IvfHeader {
    const KIND: FileKind = FileKind::IvfIndex;
    const NAME: &'static str = "IVF";

    fn stored_crc(&self) -> u32 {
        self.header_crc
    }
}

/// Where each section of an IVF file lies, derived from `dim`, `dtype`, `nlist` and
/// `row_count` alone: a header whose offsets disagree is corrupt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IvfLayout {
    /// Dimension.
    pub dim: u32,
    /// Code type.
    pub dtype: u32,
    /// Lists.
    pub nlist: u32,
    /// Rows.
    pub row_count: u64,
    /// Bytes per code.
    pub code_size: u64,
    /// Start of the centroids.
    pub centroids_offset: u64,
    /// Start of the list offsets.
    pub list_offsets_offset: u64,
    /// Start of the row numbers.
    pub rows_offset: u64,
    /// Start of the quantiser parameters.
    pub quant_offset: u64,
    /// Bytes of quantiser parameters.
    pub quant_len: u64,
    /// Start of the codes.
    pub codes_offset: u64,
    /// Sub-centroids in the probe section (0 without one).
    pub sub_centroid_count: u64,
    /// Start of the probe section (0 without one).
    pub probe_offset: u64,
    /// Bytes of the probe section (0 without one).
    pub probe_len: u64,
    /// File length.
    pub file_len: u64,
}

/// Where the parts of a probe section lie, relative to its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IvfProbeLayout {
    /// `nlist + 1` u32 sub-centroid offsets at 0.
    pub sub_offsets_len: u64,
    /// Start of the quantiser (`dim + 1` f32), 64-aligned.
    pub quant_offset: u64,
    /// Start of the codes (`sub_centroid_count × dim` i8).
    pub codes_offset: u64,
    /// Bytes of the whole section.
    pub len: u64,
}

impl IvfProbeLayout {
    /// The probe-section layout for these sizes (`None` on overflow).
    pub fn compute(dim: u32, nlist: u32, sub_centroid_count: u64) -> Option<Self> {
        let dim = u64::from(dim);
        let sub_offsets_len = (u64::from(nlist).checked_add(1)?).checked_mul(4)?;
        let quant_offset = align_up(sub_offsets_len, ALIGN)?;
        let codes_offset = quant_offset.checked_add(dim.checked_add(1)?.checked_mul(4)?)?;
        let len = codes_offset.checked_add(sub_centroid_count.checked_mul(dim)?)?;
        Some(IvfProbeLayout {
            sub_offsets_len,
            quant_offset,
            codes_offset,
            len,
        })
    }
}

impl IvfLayout {
    /// Header size; the centroids start right after it.
    pub const HEADER_SIZE: u64 = 256;

    /// The layout for these sizes, or `None` when one is out of range or a size overflows.
    pub fn compute(dim: u32, dtype: u32, nlist: u32, row_count: u64) -> Option<Self> {
        if dim == 0 || dim > crate::MAX_DIM || nlist == 0 || nlist > IVF_MAX_NLIST {
            return None;
        }
        if row_count >= u64::from(u32::MAX) {
            return None;
        }
        let d = u64::from(dim);
        let (code_size, quant_len) = match dtype {
            IVF_DTYPE_F32 => (4 * d, 0),
            IVF_DTYPE_SQ8 => (d, 8 * d),
            IVF_DTYPE_F16 => (2 * d, 0),
            _ => return None,
        };
        let centroids_offset = Self::HEADER_SIZE;
        let list_offsets_offset = align_up(
            centroids_offset.checked_add(u64::from(nlist).checked_mul(4 * d)?)?,
            ALIGN,
        )?;
        let rows_offset = align_up(
            list_offsets_offset.checked_add((u64::from(nlist) + 1) * 8)?,
            ALIGN,
        )?;
        let quant_offset = align_up(rows_offset.checked_add(row_count.checked_mul(4)?)?, ALIGN)?;
        let codes_offset = align_up(quant_offset.checked_add(quant_len)?, ALIGN)?;
        let file_len = codes_offset.checked_add(row_count.checked_mul(code_size)?)?;
        Some(IvfLayout {
            dim,
            dtype,
            nlist,
            row_count,
            code_size,
            centroids_offset,
            list_offsets_offset,
            rows_offset,
            quant_offset,
            quant_len,
            codes_offset,
            sub_centroid_count: 0,
            probe_offset: 0,
            probe_len: 0,
            file_len,
        })
    }

    /// This layout with a probe section of `sub_centroid_count` sub-centroids after the
    /// codes (`None` on overflow, if it already has one, or if the count does not fit the
    /// header's u32).
    pub fn with_probe(self, sub_centroid_count: u64) -> Option<Self> {
        if self.probe_len != 0 || sub_centroid_count > u64::from(u32::MAX) {
            return None;
        }
        let probe = IvfProbeLayout::compute(self.dim, self.nlist, sub_centroid_count)?;
        let codes_end = self
            .codes_offset
            .checked_add(self.row_count.checked_mul(self.code_size)?)?;
        let probe_offset = align_up(codes_end, ALIGN)?;
        Some(IvfLayout {
            sub_centroid_count,
            probe_offset,
            probe_len: probe.len,
            file_len: probe_offset.checked_add(probe.len)?,
            ..self
        })
    }

    /// `(offset, len)` of the probe section, if the file has one.
    pub fn probe_section(&self) -> Option<(u64, u64)> {
        (self.probe_len > 0).then_some((self.probe_offset, self.probe_len))
    }

    /// `(offset, len)` of the five sections in file order: centroids, list offsets, rows,
    /// quantiser, codes.
    pub fn sections(&self) -> [(u64, u64); 5] {
        [
            (
                self.centroids_offset,
                u64::from(self.nlist) * u64::from(self.dim) * 4,
            ),
            (self.list_offsets_offset, (u64::from(self.nlist) + 1) * 8),
            (self.rows_offset, self.row_count * 4),
            (self.quant_offset, self.quant_len),
            (self.codes_offset, self.row_count * self.code_size),
        ]
    }

    /// `(offset, len)` of the zero padding after each section but the last (the last
    /// entry: between the codes and the probe section, empty without one).
    pub fn paddings(&self) -> [(u64, u64); 5] {
        let s = self.sections();
        let mut out = [(0, 0); 5];
        for (i, o) in out.iter_mut().enumerate().take(4) {
            if let (Some(a), Some(b)) = (s.get(i), s.get(i + 1)) {
                let end = a.0 + a.1;
                *o = (end, b.0 - end);
            }
        }
        let codes_end = s[4].0 + s[4].1;
        out[4] = (
            codes_end,
            self.probe_section().map_or(0, |(o, _)| o - codes_end),
        );
        out
    }
}

/// Values of a new header that do not follow from the layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IvfHeaderFields {
    /// Metric of the indexed segment.
    pub metric: u32,
    /// Indexed segment's generation.
    pub segment_generation: u64,
    /// Indexed segment's content CRC.
    pub segment_content_crc: u32,
    /// k-means iterations.
    pub iterations: u32,
    /// k-means seed.
    pub seed: u64,
    /// Section CRCs in file order.
    pub section_crcs: [u32; 5],
    /// CRC32 of the probe section (0 without one).
    pub probe_crc: u32,
}

impl IvfHeader {
    /// Byte offset of `header_crc`.
    pub const CRC_OFFSET: usize = 252;

    /// A header for `layout` and `fields`, with its CRC filled in.
    pub fn new(layout: &IvfLayout, fields: &IvfHeaderFields) -> Self {
        let [
            centroids_crc,
            list_offsets_crc,
            rows_crc,
            quant_crc,
            codes_crc,
        ] = fields.section_crcs;
        let mut h = IvfHeader {
            prefix: FilePrefix::new(FileKind::IvfIndex),
            byte_order: BYTE_ORDER_MARK,
            metric: fields.metric,
            dim: layout.dim,
            dtype: layout.dtype,
            nlist: layout.nlist,
            flags: 0,
            row_count: layout.row_count,
            segment_generation: fields.segment_generation,
            segment_content_crc: fields.segment_content_crc,
            iterations: fields.iterations,
            seed: fields.seed,
            centroids_offset: layout.centroids_offset,
            list_offsets_offset: layout.list_offsets_offset,
            rows_offset: layout.rows_offset,
            quant_offset: layout.quant_offset,
            codes_offset: layout.codes_offset,
            file_len: layout.file_len,
            centroids_crc,
            list_offsets_crc,
            rows_crc,
            quant_crc,
            codes_crc,
            sub_centroid_count: layout.sub_centroid_count as u32,
            probe_offset: layout.probe_offset,
            probe_len: layout.probe_len,
            probe_crc: if layout.probe_len > 0 {
                fields.probe_crc
            } else {
                0
            },
            reserved: [0; 88],
            header_crc: 0,
        };
        h.header_crc = h.compute_crc();
        h
    }

    /// CRC32 of every byte before `header_crc`.
    pub fn compute_crc(&self) -> u32 {
        Header::compute_crc(self)
    }

    /// Section CRCs in file order.
    pub fn section_crcs(&self) -> [u32; 5] {
        [
            self.centroids_crc,
            self.list_offsets_crc,
            self.rows_crc,
            self.quant_crc,
            self.codes_crc,
        ]
    }

    /// Decode and validate a header from the first bytes of a file whose actual length is
    /// `actual_len`: magic, kind, version, header CRC, byte order, reserved bytes, parameter
    /// ranges, every offset against the canonical layout, and the file length. Section
    /// CRCs and the meaning of `metric` are the caller's. Never panics.
    pub fn decode(bytes: &[u8], file: &Path, actual_len: u64) -> Result<(Self, IvfLayout)> {
        let h: IvfHeader = decode_header(bytes, file)?;
        let bad = |offset: u64, what: String| Err(FormatError::corrupted(file, offset, what));
        if h.dim == 0 || h.dim > crate::MAX_DIM {
            return bad(
                24,
                format!("dimension {} outside 1..={}", h.dim, crate::MAX_DIM),
            );
        }
        if ![IVF_DTYPE_F32, IVF_DTYPE_SQ8, IVF_DTYPE_F16].contains(&h.dtype) {
            return bad(28, format!("unknown code dtype {}", h.dtype));
        }
        if h.nlist == 0 || h.nlist > IVF_MAX_NLIST {
            return bad(32, format!("nlist {} outside 1..={IVF_MAX_NLIST}", h.nlist));
        }
        if h.flags != 0 {
            return bad(36, format!("unknown flags {:#x}", h.flags));
        }
        if h.reserved != [0; 88] {
            return bad(164, "reserved bytes are not zero".into());
        }
        let has_probe = h.sub_centroid_count != 0
            || h.probe_offset != 0
            || h.probe_len != 0
            || h.probe_crc != 0;
        if has_probe && h.prefix.version < 2 {
            return bad(140, "probe section in a version 1 file".into());
        }
        let layout = IvfLayout::compute(h.dim, h.dtype, h.nlist, h.row_count);
        let layout = if has_probe {
            layout.and_then(|l| l.with_probe(u64::from(h.sub_centroid_count)))
        } else {
            layout
        };
        let Some(layout) = layout else {
            return bad(
                40,
                format!(
                    "row count {} / sub-centroid count {} overflow the file size",
                    h.row_count, h.sub_centroid_count
                ),
            );
        };
        let checks: [(u64, &str, u64, u64); 8] = [
            (
                72,
                "centroids_offset",
                h.centroids_offset,
                layout.centroids_offset,
            ),
            (
                80,
                "list_offsets_offset",
                h.list_offsets_offset,
                layout.list_offsets_offset,
            ),
            (88, "rows_offset", h.rows_offset, layout.rows_offset),
            (96, "quant_offset", h.quant_offset, layout.quant_offset),
            (104, "codes_offset", h.codes_offset, layout.codes_offset),
            (144, "probe_offset", h.probe_offset, layout.probe_offset),
            (152, "probe_len", h.probe_len, layout.probe_len),
            (112, "file_len", h.file_len, layout.file_len),
        ];
        check_layout(file, &checks, actual_len, layout.file_len)?;
        Ok((h, layout))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_fields() -> IvfHeaderFields {
        IvfHeaderFields {
            metric: 1,
            segment_generation: 7,
            segment_content_crc: 0xabc,
            iterations: 5,
            seed: 9,
            section_crcs: [1, 2, 3, 4, 5],
            probe_crc: 6,
        }
    }

    #[test]
    fn layout_round_trip_and_every_header_bit_flip_is_caught() {
        for dtype in [IVF_DTYPE_F32, IVF_DTYPE_SQ8, IVF_DTYPE_F16] {
            let plain = IvfLayout::compute(3, dtype, 4, 10).unwrap();
            for l in [plain, plain.with_probe(7).unwrap()] {
                for (off, _) in l.sections() {
                    assert_eq!(off % 64, 0);
                }
                let fields = test_fields();
                let h = IvfHeader::new(&l, &fields);
                let bytes = bytemuck::bytes_of(&h).to_vec();
                let (back, layout) = IvfHeader::decode(&bytes, Path::new("x"), l.file_len).unwrap();
                assert_eq!((back, layout), (h, l));
                for bit in 0..bytes.len() * 8 {
                    let mut b = bytes.clone();
                    b[bit / 8] ^= 1 << (bit % 8);
                    assert!(
                        IvfHeader::decode(&b, Path::new("x"), l.file_len).is_err(),
                        "bit {bit}"
                    );
                }
                assert!(IvfHeader::decode(&bytes, Path::new("x"), l.file_len - 1).is_err());
            }
        }
        assert!(IvfLayout::compute(3, 3, 4, 10).is_none());
        assert!(IvfLayout::compute(3, 0, 0, 10).is_none());
    }

    #[test]
    fn probe_section_follows_the_codes_and_v1_may_not_claim_one() {
        let plain = IvfLayout::compute(3, IVF_DTYPE_SQ8, 4, 10).unwrap();
        assert_eq!(plain.probe_section(), None);
        let l = plain.with_probe(7).unwrap();
        let (off, len) = l.probe_section().unwrap();
        assert_eq!(off % 64, 0);
        assert!(off >= plain.file_len && off < plain.file_len + 64);
        let p = IvfProbeLayout::compute(3, 4, 7).unwrap();
        assert_eq!(
            (p.sub_offsets_len, p.quant_offset, p.codes_offset),
            (20, 64, 80)
        );
        assert_eq!(len, p.len);
        assert_eq!(len, 80 + 7 * 3);
        assert_eq!(l.file_len, off + len);
        assert!(l.with_probe(1).is_none(), "one probe section at most");
        let fields = test_fields();
        let mut v1 = IvfHeader::new(&l, &fields);
        v1.prefix.version = 1;
        v1.header_crc = v1.compute_crc();
        let err = IvfHeader::decode(bytemuck::bytes_of(&v1), Path::new("x"), l.file_len)
            .unwrap_err()
            .to_string();
        assert!(err.contains("version 1"), "{err}");
        // A version 1 file without the section still opens.
        let mut v1 = IvfHeader::new(&plain, &fields);
        v1.prefix.version = 1;
        v1.header_crc = v1.compute_crc();
        assert!(IvfHeader::decode(bytemuck::bytes_of(&v1), Path::new("x"), plain.file_len).is_ok());
    }
}
