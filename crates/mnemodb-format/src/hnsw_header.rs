use std::path::Path;

use bytemuck::{Pod, Zeroable};

use crate::error::{FormatError, Result};
use crate::header::{Header, check_layout, decode_header};
use crate::kind::FileKind;
use crate::layout::{ALIGN, align_up};
use crate::prefix::{BYTE_ORDER_MARK, FilePrefix};

/// Largest `m0` (level-0 degree bound) an HNSW file may declare; bounds every allocation
/// and stride derived from the header.
pub const HNSW_MAX_M0: u32 = 4096;
/// Largest level an HNSW file may declare (levels are `0..=max_level`).
pub const HNSW_MAX_LEVEL: u32 = 64;
/// `entry_point` of an empty graph.
pub const HNSW_NO_ENTRY: u32 = u32::MAX;
/// Bits of [`HnswHeader::build_flags`] that a reader knows.
pub const HNSW_KNOWN_FLAGS: u32 = 0b1111;

/// Header of an HNSW index file (`seg-<id>.hnsw`): 256 bytes at offset 0.
///
/// The graph indexes the rows of one segment by row number; `segment_generation` and
/// `segment_content_crc` name that segment exactly (an index is refused for any other).
///
/// ```text
/// 0      256                  upper_nodes_offset   upper_offsets_offset   upper_links_offset   [sq8_offset]       file_len
/// | header | level-0 links     | pad | upper nodes  | pad | upper offsets  | pad | upper links   | pad | SQ8 (v2, optional) |
/// ```
///
/// The optional SQ8 section (format version 2; absent when `sq8_offset = 0`, and always in
/// version 1 files, whose bytes 160..252 are zero) holds `dim` f32 minima, `dim` f32 steps
/// (an `Sq8` quantiser of `mnemodb-distance`), then `node_count × dim` `u8` codes, row `i`
/// at `i × dim`.
///
/// | offset | size | field                  | meaning                                                   |
/// |-------:|-----:|------------------------|-----------------------------------------------------------|
/// | 0      | 16   | `prefix`               | [`FilePrefix`]: magic, kind = 2 (HNSW index), version      |
/// | 16     | 4    | `byte_order`           | [`BYTE_ORDER_MARK`]                                       |
/// | 20     | 4    | `metric`               | metric of the indexed segment (mnemodb-distance numbering) |
/// | 24     | 4    | `dim`                  | dimension of the indexed segment, 1..=65,536              |
/// | 28     | 4    | `m`                    | degree bound on levels ≥ 1, 2..=[`HNSW_MAX_M0`]           |
/// | 32     | 4    | `m0`                   | degree bound on level 0, `m..=`[`HNSW_MAX_M0`]            |
/// | 36     | 4    | `ef_construction`      | build parameter (informational), ≥ 1                      |
/// | 40     | 8    | `node_count`           | nodes = rows of the segment, < 2³²−1                      |
/// | 48     | 4    | `max_level`            | highest level, ≤ [`HNSW_MAX_LEVEL`]                       |
/// | 52     | 4    | `entry_point`          | node where searches start ([`HNSW_NO_ENTRY`] when empty)  |
/// | 56     | 8    | `segment_generation`   | generation of the indexed segment                         |
/// | 64     | 4    | `segment_content_crc`  | content CRC of the indexed segment                        |
/// | 68     | 4    | `build_flags`          | bit 0 heuristic, bit 1 extend candidates, bit 2 keep pruned, bit 3 keep pruned on overflow |
/// | 72     | 8    | `level_mult`           | level multiplier as `f64` bits (informational)            |
/// | 80     | 8    | `seed`                 | level seed (informational)                                |
/// | 88     | 8    | `upper_count`          | nodes with level ≥ 1                                      |
/// | 96     | 8    | `upper_links_len`      | `u32` words in the upper links section                   |
/// | 104    | 8    | `level0_offset`        | = 256                                                     |
/// | 112    | 8    | `upper_nodes_offset`   | 64-aligned end of level 0                                 |
/// | 120    | 8    | `upper_offsets_offset` | 64-aligned end of upper nodes                             |
/// | 128    | 8    | `upper_links_offset`   | 64-aligned end of upper offsets                           |
/// | 136    | 8    | `file_len`             | end of upper links                                        |
/// | 144    | 4    | `level0_crc`           | CRC32 of the level-0 section                              |
/// | 148    | 4    | `upper_nodes_crc`      | CRC32 of the upper nodes section                          |
/// | 152    | 4    | `upper_offsets_crc`    | CRC32 of the upper offsets section                        |
/// | 156    | 4    | `upper_links_crc`      | CRC32 of the upper links section                          |
/// | 160    | 8    | `sq8_offset`           | v2: 64-aligned end of upper links, or 0 (no SQ8 section)  |
/// | 168    | 8    | `sq8_len`              | v2: `8 × dim + node_count × dim`, or 0                    |
/// | 176    | 4    | `sq8_crc`              | v2: CRC32 of the SQ8 section, or 0                        |
/// | 180    | 72   | `reserved`             | zero                                                      |
/// | 252    | 4    | `header_crc`           | CRC32 of bytes 0..252                                     |
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub struct HnswHeader {
    /// Magic, kind and version.
    pub prefix: FilePrefix,
    /// [`BYTE_ORDER_MARK`].
    pub byte_order: u32,
    /// Metric of the indexed segment.
    pub metric: u32,
    /// Dimension of the indexed segment.
    pub dim: u32,
    /// Degree bound on levels ≥ 1.
    pub m: u32,
    /// Degree bound on level 0.
    pub m0: u32,
    /// `ef_construction` used to build (informational).
    pub ef_construction: u32,
    /// Number of nodes (= segment rows).
    pub node_count: u64,
    /// Highest level.
    pub max_level: u32,
    /// Entry point node, or [`HNSW_NO_ENTRY`].
    pub entry_point: u32,
    /// Generation of the indexed segment.
    pub segment_generation: u64,
    /// Content CRC of the indexed segment.
    pub segment_content_crc: u32,
    /// Build flags (see the table).
    pub build_flags: u32,
    /// Level multiplier, `f64` bits.
    pub level_mult: u64,
    /// Level seed.
    pub seed: u64,
    /// Nodes with level ≥ 1.
    pub upper_count: u64,
    /// `u32` words of upper links.
    pub upper_links_len: u64,
    /// Start of level-0 links.
    pub level0_offset: u64,
    /// Start of the sorted ids of upper nodes.
    pub upper_nodes_offset: u64,
    /// Start of the upper offsets.
    pub upper_offsets_offset: u64,
    /// Start of the upper links.
    pub upper_links_offset: u64,
    /// Total file length.
    pub file_len: u64,
    /// CRC32 of level-0 links.
    pub level0_crc: u32,
    /// CRC32 of upper nodes.
    pub upper_nodes_crc: u32,
    /// CRC32 of upper offsets.
    pub upper_offsets_crc: u32,
    /// CRC32 of upper links.
    pub upper_links_crc: u32,
    /// Start of the SQ8 section, 0 when there is none.
    pub sq8_offset: u64,
    /// Bytes of the SQ8 section (0 when there is none).
    pub sq8_len: u64,
    /// CRC32 of the SQ8 section (0 when there is none).
    pub sq8_crc: u32,
    /// Zero.
    pub reserved: [u8; 72],
    /// CRC32 of bytes `0..252`.
    pub header_crc: u32,
}

const _: () = assert!(std::mem::size_of::<HnswHeader>() == 256);

impl Header for HnswHeader {
    const KIND: FileKind = FileKind::HnswIndex;
    const NAME: &'static str = "HNSW";

    fn stored_crc(&self) -> u32 {
        self.header_crc
    }
}

/// Where each section of an HNSW file lies, derived from `node_count`, `m`, `m0`,
/// `upper_count` and `upper_links_len` alone: a header whose offsets disagree is corrupt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HnswLayout {
    /// Nodes.
    pub node_count: u64,
    /// Degree bound on levels ≥ 1.
    pub m: u32,
    /// Degree bound on level 0.
    pub m0: u32,
    /// `u32` words per node in level 0: `1 + m0` (a count, then `m0` slots).
    pub level0_stride: u64,
    /// Nodes with level ≥ 1.
    pub upper_count: u64,
    /// `u32` words of upper links.
    pub upper_links_len: u64,
    /// Start of level 0.
    pub level0_offset: u64,
    /// Bytes of level 0.
    pub level0_len: u64,
    /// Start of upper nodes (`4 × upper_count` bytes).
    pub upper_nodes_offset: u64,
    /// Start of upper offsets (`4 × (upper_count + 1)` bytes).
    pub upper_offsets_offset: u64,
    /// Start of upper links (`4 × upper_links_len` bytes).
    pub upper_links_offset: u64,
    /// Start of the SQ8 section (0 when there is none).
    pub sq8_offset: u64,
    /// Bytes of the SQ8 section (0 when there is none).
    pub sq8_len: u64,
    /// File length.
    pub file_len: u64,
}

impl HnswLayout {
    /// Header size; level 0 starts right after it.
    pub const HEADER_SIZE: u64 = 256;

    /// The layout for these sizes, or `None` when one is out of range or a size overflows.
    pub fn compute(
        node_count: u64,
        m: u32,
        m0: u32,
        upper_count: u64,
        upper_links_len: u64,
    ) -> Option<Self> {
        if m < 2 || m0 < m || m0 > HNSW_MAX_M0 || node_count >= u64::from(u32::MAX) {
            return None;
        }
        if upper_count > node_count || upper_links_len >= u64::from(u32::MAX) {
            return None;
        }
        let level0_stride = 1 + u64::from(m0);
        let level0_offset = Self::HEADER_SIZE;
        let level0_len = node_count.checked_mul(level0_stride)?.checked_mul(4)?;
        let upper_nodes_offset = align_up(level0_offset.checked_add(level0_len)?, ALIGN)?;
        let upper_offsets_offset = align_up(
            upper_nodes_offset.checked_add(upper_count.checked_mul(4)?)?,
            ALIGN,
        )?;
        let upper_links_offset = align_up(
            upper_offsets_offset.checked_add(upper_count.checked_add(1)?.checked_mul(4)?)?,
            ALIGN,
        )?;
        let file_len = upper_links_offset.checked_add(upper_links_len.checked_mul(4)?)?;
        Some(HnswLayout {
            node_count,
            m,
            m0,
            level0_stride,
            upper_count,
            upper_links_len,
            level0_offset,
            level0_len,
            upper_nodes_offset,
            upper_offsets_offset,
            upper_links_offset,
            sq8_offset: 0,
            sq8_len: 0,
            file_len,
        })
    }

    /// This layout with an SQ8 section for `dim`-dimensional codes after the upper links
    /// (`None` on overflow or `dim = 0`).
    pub fn with_sq8(self, dim: u32) -> Option<Self> {
        if dim == 0 || self.sq8_len != 0 {
            return None;
        }
        let links_end = self
            .upper_links_offset
            .checked_add(self.upper_links_len.checked_mul(4)?)?;
        let sq8_offset = align_up(links_end, ALIGN)?;
        let dim = u64::from(dim);
        let sq8_len = dim
            .checked_mul(8)?
            .checked_add(self.node_count.checked_mul(dim)?)?;
        Some(HnswLayout {
            sq8_offset,
            sq8_len,
            file_len: sq8_offset.checked_add(sq8_len)?,
            ..self
        })
    }

    /// `(offset, len)` of the SQ8 section, when there is one.
    pub fn sq8_section(&self) -> Option<(u64, u64)> {
        (self.sq8_len > 0).then_some((self.sq8_offset, self.sq8_len))
    }

    /// `(offset, len)` of the four sections in file order: level 0, upper nodes, upper
    /// offsets, upper links.
    pub fn sections(&self) -> [(u64, u64); 4] {
        [
            (self.level0_offset, self.level0_len),
            (self.upper_nodes_offset, self.upper_count * 4),
            (self.upper_offsets_offset, (self.upper_count + 1) * 4),
            (self.upper_links_offset, self.upper_links_len * 4),
        ]
    }

    /// `(offset, len)` of the zero padding after each of the four sections (after the
    /// upper links: up to the SQ8 section, empty when there is none).
    pub fn paddings(&self) -> [(u64, u64); 4] {
        let [a, b, c, d] = self.sections();
        let d_end = d.0 + d.1;
        [
            (a.0 + a.1, self.upper_nodes_offset - (a.0 + a.1)),
            (b.0 + b.1, self.upper_offsets_offset - (b.0 + b.1)),
            (c.0 + c.1, self.upper_links_offset - (c.0 + c.1)),
            (d_end, self.sq8_section().map_or(0, |(o, _)| o - d_end)),
        ]
    }
}

/// Values of a new header that do not follow from the layout.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HnswHeaderFields {
    /// Metric of the indexed segment.
    pub metric: u32,
    /// Dimension.
    pub dim: u32,
    /// Build parameter.
    pub ef_construction: u32,
    /// Highest level.
    pub max_level: u32,
    /// Entry point or [`HNSW_NO_ENTRY`].
    pub entry_point: u32,
    /// Indexed segment's generation.
    pub segment_generation: u64,
    /// Indexed segment's content CRC.
    pub segment_content_crc: u32,
    /// Build flags.
    pub build_flags: u32,
    /// Level multiplier.
    pub level_mult: f64,
    /// Level seed.
    pub seed: u64,
    /// Section CRCs in file order.
    pub section_crcs: [u32; 4],
    /// CRC32 of the SQ8 section (0 when the layout has none).
    pub sq8_crc: u32,
}

impl HnswHeader {
    /// Byte offset of `header_crc`.
    pub const CRC_OFFSET: usize = 252;

    /// A header for `layout` and `fields`, with its CRC filled in.
    pub fn new(layout: &HnswLayout, fields: &HnswHeaderFields) -> Self {
        let [
            level0_crc,
            upper_nodes_crc,
            upper_offsets_crc,
            upper_links_crc,
        ] = fields.section_crcs;
        let mut h = HnswHeader {
            prefix: FilePrefix::new(FileKind::HnswIndex),
            byte_order: BYTE_ORDER_MARK,
            metric: fields.metric,
            dim: fields.dim,
            m: layout.m,
            m0: layout.m0,
            ef_construction: fields.ef_construction,
            node_count: layout.node_count,
            max_level: fields.max_level,
            entry_point: fields.entry_point,
            segment_generation: fields.segment_generation,
            segment_content_crc: fields.segment_content_crc,
            build_flags: fields.build_flags,
            level_mult: fields.level_mult.to_bits(),
            seed: fields.seed,
            upper_count: layout.upper_count,
            upper_links_len: layout.upper_links_len,
            level0_offset: layout.level0_offset,
            upper_nodes_offset: layout.upper_nodes_offset,
            upper_offsets_offset: layout.upper_offsets_offset,
            upper_links_offset: layout.upper_links_offset,
            file_len: layout.file_len,
            level0_crc,
            upper_nodes_crc,
            upper_offsets_crc,
            upper_links_crc,
            sq8_offset: layout.sq8_offset,
            sq8_len: layout.sq8_len,
            sq8_crc: if layout.sq8_len > 0 {
                fields.sq8_crc
            } else {
                0
            },
            reserved: [0; 72],
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
    pub fn section_crcs(&self) -> [u32; 4] {
        [
            self.level0_crc,
            self.upper_nodes_crc,
            self.upper_offsets_crc,
            self.upper_links_crc,
        ]
    }

    /// Decode and validate a header from the first bytes of a file whose actual length is
    /// `actual_len`: magic, kind, version, header CRC, byte order, reserved bytes, parameter
    /// ranges, every offset against the canonical layout, and the file length. Section
    /// CRCs and the meaning of `metric` are the caller's. Never panics.
    pub fn decode(bytes: &[u8], file: &Path, actual_len: u64) -> Result<(Self, HnswLayout)> {
        let h: HnswHeader = decode_header(bytes, file)?;
        let bad = |offset: u64, what: String| Err(FormatError::corrupted(file, offset, what));
        if h.dim == 0 || h.dim > crate::MAX_DIM {
            return bad(
                24,
                format!("dimension {} outside 1..={}", h.dim, crate::MAX_DIM),
            );
        }
        if h.m < 2 || h.m > HNSW_MAX_M0 {
            return bad(28, format!("m = {} outside 2..={HNSW_MAX_M0}", h.m));
        }
        if h.m0 < h.m || h.m0 > HNSW_MAX_M0 {
            return bad(32, format!("m0 = {} outside m..={HNSW_MAX_M0}", h.m0));
        }
        if h.ef_construction == 0 {
            return bad(36, "ef_construction is 0".into());
        }
        if h.max_level > HNSW_MAX_LEVEL {
            return bad(
                48,
                format!("max level {} above {HNSW_MAX_LEVEL}", h.max_level),
            );
        }
        let empty = h.node_count == 0;
        if empty != (h.entry_point == HNSW_NO_ENTRY)
            || (!empty && u64::from(h.entry_point) >= h.node_count)
            || (empty && (h.max_level != 0 || h.upper_count != 0))
        {
            return bad(
                52,
                format!(
                    "entry point {} invalid for {} nodes",
                    h.entry_point, h.node_count
                ),
            );
        }
        let known = if h.prefix.version < 2 {
            0b111
        } else {
            HNSW_KNOWN_FLAGS
        };
        if h.build_flags & !known != 0 {
            return bad(68, format!("unknown build flags {:#x}", h.build_flags));
        }
        if h.reserved != [0; 72] {
            return bad(180, "reserved bytes are not zero".into());
        }
        let has_sq8 = h.sq8_offset != 0 || h.sq8_len != 0 || h.sq8_crc != 0;
        if has_sq8 && h.prefix.version < 2 {
            return bad(160, "SQ8 section in a version 1 file".into());
        }
        if (h.max_level == 0) != (h.upper_count == 0) {
            return bad(
                88,
                format!(
                    "{} upper nodes with max level {}",
                    h.upper_count, h.max_level
                ),
            );
        }
        let layout = HnswLayout::compute(h.node_count, h.m, h.m0, h.upper_count, h.upper_links_len);
        let layout = if has_sq8 {
            layout.and_then(|l| l.with_sq8(h.dim))
        } else {
            layout
        };
        let Some(layout) = layout else {
            return bad(
                40,
                format!(
                    "node count {} / upper count {} / upper links {} overflow the file size",
                    h.node_count, h.upper_count, h.upper_links_len
                ),
            );
        };
        let checks: [(u64, &str, u64, u64); 7] = [
            (104, "level0_offset", h.level0_offset, layout.level0_offset),
            (
                112,
                "upper_nodes_offset",
                h.upper_nodes_offset,
                layout.upper_nodes_offset,
            ),
            (
                120,
                "upper_offsets_offset",
                h.upper_offsets_offset,
                layout.upper_offsets_offset,
            ),
            (
                128,
                "upper_links_offset",
                h.upper_links_offset,
                layout.upper_links_offset,
            ),
            (136, "file_len", h.file_len, layout.file_len),
            (160, "sq8_offset", h.sq8_offset, layout.sq8_offset),
            (168, "sq8_len", h.sq8_len, layout.sq8_len),
        ];
        check_layout(file, &checks, actual_len, layout.file_len)?;
        Ok((h, layout))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(max_level: u32, sq8_crc: u32) -> HnswHeaderFields {
        HnswHeaderFields {
            metric: 0,
            dim: 3,
            ef_construction: 20,
            max_level,
            entry_point: 0,
            segment_generation: 9,
            segment_content_crc: 0xabcd,
            build_flags: 1,
            level_mult: 0.7,
            seed: 5,
            section_crcs: [1, 2, 3, 4],
            sq8_crc,
        }
    }

    fn header(n: u64, upper: u64, links: u64) -> (HnswHeader, HnswLayout) {
        let layout = HnswLayout::compute(n, 4, 8, upper, links).unwrap();
        let fields = fields(u32::from(upper > 0), 0);
        (HnswHeader::new(&layout, &fields), layout)
    }

    #[test]
    fn layout_is_aligned_and_round_trips() {
        let (h, l) = header(10, 2, 10);
        assert_eq!(l.level0_offset, 256);
        assert_eq!(l.level0_len, 10 * 9 * 4);
        for (off, _) in l.sections() {
            assert_eq!(off % 64, 0);
        }
        let bytes = bytemuck::bytes_of(&h);
        let (back, layout) = HnswHeader::decode(bytes, Path::new("h"), l.file_len).unwrap();
        assert_eq!((back, layout), (h, l));
        assert!(HnswLayout::compute(u64::from(u32::MAX), 4, 8, 0, 0).is_none());
        assert!(HnswLayout::compute(10, 4, 3, 0, 0).is_none());
        assert!(HnswLayout::compute(10, 4, 8, 11, 0).is_none());
    }

    #[test]
    fn sq8_section_layout_round_trips() {
        let (_, plain) = header(10, 2, 10);
        let l = plain.with_sq8(3).unwrap();
        assert_eq!(l.sq8_offset % 64, 0);
        assert!(l.sq8_offset >= plain.file_len && l.sq8_offset < plain.file_len + 64);
        assert_eq!(l.sq8_len, 8 * 3 + 10 * 3);
        assert_eq!(l.file_len, l.sq8_offset + l.sq8_len);
        assert_eq!(
            l.paddings()[3],
            (plain.file_len, l.sq8_offset - plain.file_len)
        );
        assert!(plain.with_sq8(0).is_none() && l.with_sq8(3).is_none());
        let h = HnswHeader::new(&l, &fields(1, 77));
        assert_eq!(
            (h.sq8_offset, h.sq8_len, h.sq8_crc),
            (l.sq8_offset, l.sq8_len, 77)
        );
        let (back, layout) =
            HnswHeader::decode(bytemuck::bytes_of(&h), Path::new("h"), l.file_len).unwrap();
        assert_eq!((back, layout), (h, l));
        // Without the section the CRC field stays zero.
        assert_eq!(HnswHeader::new(&plain, &fields(1, 77)).sq8_crc, 0);
        // A version 1 header may not describe one.
        let mut v1 = h;
        v1.prefix.version = 1;
        v1.header_crc = v1.compute_crc();
        assert!(HnswHeader::decode(bytemuck::bytes_of(&v1), Path::new("h"), l.file_len).is_err());
    }

    #[test]
    fn every_header_bit_flip_is_caught() {
        let (h, l) = header(10, 2, 10);
        let bytes = bytemuck::bytes_of(&h).to_vec();
        for bit in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            assert!(
                HnswHeader::decode(&b, Path::new("h"), l.file_len).is_err(),
                "bit {bit} flip not detected"
            );
        }
        assert!(HnswHeader::decode(&bytes, Path::new("h"), l.file_len + 1).is_err());
    }
}
