//! The index file (`seg-<id>.ivf`): encoding, durable writing, open (mapped, validated
//! structure, used in place) and [`IvfIndex::verify`]. Layout: [`IvfHeader`] and
//! `docs/FORMAT.md`. Nothing here panics on any bytes (fuzz target `ivf_decode_search`).
use std::path::{Path, PathBuf};

use mnemodb_distance::Metric;
use mnemodb_distance::half;
use mnemodb_distance::int8::I8;
use mnemodb_distance::quantized::Sq8;
use mnemodb_format::{
    FormatError, IvfHeader, IvfHeaderFields, IvfLayout, IvfProbeLayout, check_zero, crc32,
};
use mnemodb_io::{
    Fs, IoContext, OpenOptions as FileOpenOptions, ReadOnlyBytes, durable_rename, temp_path,
};
use mnemodb_segment::SegmentReader;

use super::index::{CodeType, IvfIndex, IvfTrained};
use super::probe::ProbeSummaries;
use crate::error::{Error, Result};

/// What a written index file is, for the manifest that will reference it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IvfFileInfo {
    /// Final path.
    pub path: PathBuf,
    /// File length in bytes.
    pub file_len: u64,
    /// CRC32 of the header (which holds the CRC of every section).
    pub header_crc: u32,
}

fn too_large() -> Error {
    Error::InvalidParams("index too large for the IVF format".into())
}

/// Rows grouped by list: `offsets[l]..offsets[l + 1]` of `rows` are list `l`'s segment
/// rows, ascending.
pub(crate) struct ListGrouping {
    pub(crate) offsets: Vec<u64>,
    pub(crate) rows: Vec<u32>,
}

impl ListGrouping {
    /// Counting sort of rows by their list (`labels[row]`, each `< nlist`).
    pub(crate) fn of(labels: &[u32], nlist: usize) -> Self {
        let mut offsets = vec![0u64; nlist + 1];
        for &l in labels {
            if let Some(o) = offsets.get_mut(l as usize + 1) {
                *o += 1;
            }
        }
        for l in 0..nlist {
            let prev = offsets.get(l).copied().unwrap_or(0);
            if let Some(o) = offsets.get_mut(l + 1) {
                *o += prev;
            }
        }
        let mut fill = offsets.clone();
        let mut rows = vec![0u32; labels.len()];
        for (row, &l) in labels.iter().enumerate() {
            if let Some(pos) = fill.get_mut(l as usize)
                && let Some(slot) = rows.get_mut(*pos as usize)
            {
                *slot = row as u32;
                *pos += 1;
            }
        }
        ListGrouping { offsets, rows }
    }

    /// The rows of list `l` (empty when out of range).
    pub(crate) fn rows_of(&self, l: usize) -> &[u32] {
        match (self.offsets.get(l), self.offsets.get(l + 1)) {
            (Some(&lo), Some(&hi)) => self.rows.get(lo as usize..hi as usize).unwrap_or(&[]),
            _ => &[],
        }
    }
}

/// Where the parts of `layout`'s probe section lie (all zero without one).
pub(crate) fn probe_layout(layout: &IvfLayout) -> IvfProbeLayout {
    IvfProbeLayout::compute(layout.dim, layout.nlist, layout.sub_centroid_count).unwrap_or(
        IvfProbeLayout {
            sub_offsets_len: 0,
            quant_offset: 0,
            codes_offset: 0,
            len: 0,
        },
    )
}

/// The file image of `trained` indexing `seg`, rows grouped by list, with the lists'
/// sub-centroids when given.
pub(crate) fn encode(
    trained: &IvfTrained,
    seg: &SegmentReader,
    lists: &ListGrouping,
    summaries: Option<&ProbeSummaries>,
) -> Result<Vec<u8>> {
    let dim = trained.dim;
    let nlist = trained.nlist();
    let n = lists.rows.len();
    let layout = IvfLayout::compute(
        u32::try_from(dim).map_err(|_| too_large())?,
        trained.codes.to_u32(),
        u32::try_from(nlist).map_err(|_| too_large())?,
        n as u64,
    )
    .ok_or_else(too_large)?;
    let layout = match summaries {
        Some(p) => {
            let count = p.offsets.last().copied().unwrap_or(0);
            layout.with_probe(u64::from(count)).ok_or_else(too_large)?
        }
        None => layout,
    };
    let (offsets, rows) = (&lists.offsets, &lists.rows);
    let quant: Vec<f32> = match &trained.sq8 {
        Some(sq) if trained.codes == CodeType::Sq8 => {
            sq.min().iter().chain(sq.scale()).copied().collect()
        }
        _ => Vec::new(),
    };
    let mut codes: Vec<u8> = Vec::with_capacity(n * layout.code_size as usize);
    let mut code = vec![0u8; dim];
    let mut half_code = vec![0u16; dim];
    for &row in rows {
        let v = seg.row(row as usize).unwrap_or(&[]);
        match (&trained.sq8, trained.codes) {
            (Some(sq), CodeType::Sq8) => {
                sq.encode(v, &mut code);
                codes.extend_from_slice(&code);
            }
            (_, CodeType::F16) => {
                half::encode(v, &mut half_code);
                if !half_code.iter().all(|&b| half::is_finite(b)) {
                    return Err(Error::InvalidParams(format!(
                        "row {row} has a component beyond the f16 range (±65,504): use f32 or SQ8 codes"
                    )));
                }
                codes.extend_from_slice(bytemuck::cast_slice(&half_code));
            }
            _ => codes.extend_from_slice(bytemuck::cast_slice(v)),
        }
    }
    let parts: [&[u8]; 5] = [
        bytemuck::cast_slice(&trained.centroids),
        bytemuck::cast_slice(offsets),
        bytemuck::cast_slice(rows),
        bytemuck::cast_slice(&quant),
        &codes,
    ];
    let mut out = vec![0u8; layout.file_len as usize];
    let mut crcs = [0u32; 5];
    for ((part, (off, len)), crc) in parts.iter().zip(layout.sections()).zip(crcs.iter_mut()) {
        if part.len() as u64 != len {
            return Err(Error::InvalidParams(format!(
                "section at {off}: {} bytes, layout says {len}",
                part.len()
            )));
        }
        if let Some(dst) = out.get_mut(off as usize..(off + len) as usize) {
            dst.copy_from_slice(part);
        }
        *crc = crc32(part);
    }
    let mut probe_crc = 0;
    if let (Some(p), Some((off, len))) = (summaries, layout.probe_section()) {
        let pl = probe_layout(&layout);
        let mut quant: Vec<f32> = p.quant.offset().to_vec();
        quant.push(p.quant.scale());
        let parts: [(u64, &[u8]); 3] = [
            (0, bytemuck::cast_slice(&p.offsets)),
            (pl.quant_offset, bytemuck::cast_slice(&quant)),
            (pl.codes_offset, bytemuck::cast_slice(&p.codes)),
        ];
        for (at, part) in parts {
            let start = (off + at) as usize;
            match out.get_mut(start..start + part.len()) {
                Some(dst) => dst.copy_from_slice(part),
                None => {
                    return Err(Error::InvalidParams(
                        "probe section larger than its layout".into(),
                    ));
                }
            }
        }
        probe_crc = crc32(out.get(off as usize..(off + len) as usize).unwrap_or(&[]));
    }
    let header = IvfHeader::new(
        &layout,
        &IvfHeaderFields {
            metric: trained.metric as u32,
            segment_generation: seg.generation(),
            segment_content_crc: seg.content_crc(),
            iterations: trained.iterations,
            seed: trained.seed,
            section_crcs: crcs,
            probe_crc,
        },
    );
    if let Some(h) = out.get_mut(..IvfLayout::HEADER_SIZE as usize) {
        h.copy_from_slice(bytemuck::bytes_of(&header));
    }
    Ok(out)
}

/// Decode and validate an image, bound to `seg` (see [`IvfIndex::from_bytes`]).
pub(crate) fn decode(bytes: ReadOnlyBytes, path: &Path, seg: &SegmentReader) -> Result<IvfIndex> {
    let (header, layout) = IvfHeader::decode(&bytes, path, bytes.len() as u64)?;
    let bad = |offset: u64, what: String| Error::from(FormatError::corrupted(path, offset, what));
    let metric = Metric::from_u32(header.metric)
        .ok_or_else(|| bad(20, format!("unknown metric {}", header.metric)))?;
    let codes = CodeType::from_u32(header.dtype)
        .ok_or_else(|| bad(28, format!("unknown dtype {}", header.dtype)))?;
    if header.segment_generation != seg.generation()
        || header.segment_content_crc != seg.content_crc()
    {
        return Err(Error::WrongSegment {
            file: path.into(),
            index_generation: header.segment_generation,
            index_crc: header.segment_content_crc,
            segment_generation: seg.generation(),
            segment_crc: seg.content_crc(),
        });
    }
    if metric != seg.metric()
        || header.dim as usize != seg.dim()
        || header.row_count != seg.len() as u64
    {
        return Err(bad(
            20,
            format!(
                "index is {}-d {metric} over {} rows, segment is {}-d {} over {} rows",
                header.dim,
                header.row_count,
                seg.dim(),
                seg.metric(),
                seg.len()
            ),
        ));
    }
    for (offset, len) in layout.paddings() {
        let region = bytes
            .get(offset as usize..(offset + len) as usize)
            .ok_or_else(|| bad(offset, "padding past the end".into()))?;
        check_zero(region, path, offset, "section padding")?;
    }
    let [_, _, _, (q_off, q_len), _] = layout.sections();
    let sq8 = if codes == CodeType::Sq8 {
        let raw = bytes
            .get(q_off as usize..(q_off + q_len) as usize)
            .unwrap_or(&[]);
        let vals: &[f32] = bytemuck::try_cast_slice(raw)
            .map_err(|_| bad(q_off, "quantiser section misaligned".into()))?;
        let d = header.dim as usize;
        let (min, scale) = (vals.get(..d).unwrap_or(&[]), vals.get(d..).unwrap_or(&[]));
        Some(
            Sq8::from_parts(min.to_vec(), scale.to_vec())
                .ok_or_else(|| bad(q_off, "SQ8 parameters not finite or negative scale".into()))?,
        )
    } else {
        None
    };
    let probe_quant = match layout.probe_section() {
        Some((off, _)) => {
            let pl = probe_layout(&layout);
            check_zero(
                bytes
                    .get((off + pl.sub_offsets_len) as usize..(off + pl.quant_offset) as usize)
                    .unwrap_or(&[]),
                path,
                off + pl.sub_offsets_len,
                "probe section padding",
            )?;
            let raw = bytes
                .get((off + pl.quant_offset) as usize..(off + pl.codes_offset) as usize)
                .unwrap_or(&[]);
            let vals: &[f32] = bytemuck::try_cast_slice(raw).map_err(|_| {
                bad(
                    off + pl.quant_offset,
                    "sub-centroid quantiser misaligned".into(),
                )
            })?;
            let d = header.dim as usize;
            let (centres, scale) = (vals.get(..d).unwrap_or(&[]), vals.get(d).copied());
            Some(
                scale
                    .and_then(|s| I8::from_parts(centres.to_vec(), s))
                    .ok_or_else(|| {
                        bad(
                            off + pl.quant_offset,
                            "sub-centroid quantiser not finite or step not positive".into(),
                        )
                    })?,
            )
        }
        None => None,
    };
    let index = IvfIndex {
        bytes: bytes.clone(),
        header,
        layout,
        metric,
        codes,
        sq8,
        probe_quant,
        path: path.into(),
    };
    let s = index.sections();
    let [c, o, r, _, k] = layout.sections();
    let code_len = match codes {
        CodeType::F32 => s.codes_f32.len() as u64 * 4,
        CodeType::Sq8 => s.codes_u8.len() as u64,
        CodeType::F16 => s.codes_f16.len() as u64 * 2,
    };
    if s.centroids.len() as u64 * 4 != c.1
        || s.offsets.len() as u64 * 8 != o.1
        || s.rows.len() as u64 * 4 != r.1
        || code_len != k.1
    {
        return Err(bad(
            c.0,
            "sections are not aligned for zero-copy access".into(),
        ));
    }
    // List offsets: from 0, never decreasing, ending at the row count.
    if s.offsets.first() != Some(&0) || s.offsets.last() != Some(&header.row_count) {
        return Err(bad(o.0, "list offsets do not span the rows".into()));
    }
    for (i, w) in s.offsets.windows(2).enumerate() {
        if let [a, b] = w
            && b < a
        {
            return Err(bad(
                o.0 + 8 * (i as u64 + 1),
                format!("list offset {b} below {a}"),
            ));
        }
    }
    // Sub-centroid offsets: from 0, never decreasing, ending at the count, and the codes
    // exactly that many.
    if let Some((off, _)) = layout.probe_section() {
        let count = u64::from(header.sub_centroid_count);
        if s.sub_offsets.len() != header.nlist as usize + 1
            || s.sub_codes.len() as u64 != count * u64::from(header.dim)
        {
            return Err(bad(
                off,
                "probe section is not aligned for zero-copy access".into(),
            ));
        }
        if s.sub_offsets.first() != Some(&0)
            || s.sub_offsets.last().map(|&c| u64::from(c)) != Some(count)
        {
            return Err(bad(
                off,
                "sub-centroid offsets do not span the sub-centroids".into(),
            ));
        }
        if let Some(i) = s.sub_offsets.windows(2).position(|w| w.first() > w.last()) {
            return Err(bad(
                off + 4 * (i as u64 + 1),
                "sub-centroid offset below the previous one".into(),
            ));
        }
    }
    // Row numbers: a permutation of the segment's rows (so no row is returned twice).
    let mut seen = vec![0u64; (header.row_count as usize).div_ceil(64)];
    for (i, &row) in s.rows.iter().enumerate() {
        let (word, bit) = (row as usize / 64, 1u64 << (row % 64));
        match seen.get_mut(word) {
            Some(w) if u64::from(row) < header.row_count && *w & bit == 0 => *w |= bit,
            _ => {
                return Err(bad(
                    r.0 + 4 * i as u64,
                    format!("row {row} listed twice or out of range"),
                ));
            }
        }
    }
    Ok(index)
}

impl IvfIndex {
    /// Write the index to `path`: temp file → fsync → rename → fsync the directory.
    pub fn write(&self, fs: &dyn Fs, path: &Path) -> Result<IvfFileInfo> {
        let tmp = temp_path(path);
        let file = fs
            .open(&tmp, FileOpenOptions::create_truncate())
            .at("create index", &tmp)?;
        file.write_all_at(&self.bytes, 0).at("write index", &tmp)?;
        // sync_all: the file grew, its length must be durable too.
        file.sync_all().at("fsync index", &tmp)?;
        durable_rename(fs, &tmp, path)?;
        Ok(IvfFileInfo {
            path: path.into(),
            file_len: self.bytes.len() as u64,
            header_crc: self.header.header_crc,
        })
    }

    /// Open `path` for `seg`: map it, validate header, layout, padding and structure
    /// (O(nlist + rows), no section CRC: see [`IvfIndex::verify`]), and use it in place.
    pub fn open(fs: &dyn Fs, path: &Path, seg: &SegmentReader) -> Result<Self> {
        let bytes = fs.map_readonly(path).at("map index", path)?;
        decode(bytes, path, seg)
    }

    /// Check every byte: section CRCs, finite centroids and f32 codes (the structure,
    /// including row numbers being a permutation, is checked at open).
    pub fn verify(&self) -> Result<()> {
        let path = &self.path;
        let bad =
            |offset: u64, what: String| Error::from(FormatError::corrupted(path, offset, what));
        for ((off, len), stored) in self
            .layout
            .sections()
            .into_iter()
            .zip(self.header.section_crcs())
        {
            let part = self
                .bytes
                .get(off as usize..(off + len) as usize)
                .unwrap_or(&[]);
            let crc = crc32(part);
            if crc != stored {
                return Err(bad(
                    off,
                    format!(
                        "section checksum mismatch (stored {stored:#010x}, computed {crc:#010x})"
                    ),
                ));
            }
        }
        if let Some((off, len)) = self.layout.probe_section() {
            let part = self
                .bytes
                .get(off as usize..(off + len) as usize)
                .unwrap_or(&[]);
            let (crc, stored) = (crc32(part), self.header.probe_crc);
            if crc != stored {
                return Err(bad(
                    off,
                    format!(
                        "probe section checksum mismatch (stored {stored:#010x}, computed {crc:#010x})"
                    ),
                ));
            }
        }
        let s = self.sections();
        if let Some(i) = s.centroids.iter().position(|x| !x.is_finite()) {
            return Err(bad(
                self.layout.centroids_offset + 4 * i as u64,
                "non-finite centroid".into(),
            ));
        }
        if let Some(i) = s.codes_f32.iter().position(|x| !x.is_finite()) {
            return Err(bad(
                self.layout.codes_offset + 4 * i as u64,
                "non-finite vector".into(),
            ));
        }
        if let Some(i) = s.codes_f16.iter().position(|&b| !half::is_finite(b)) {
            return Err(bad(
                self.layout.codes_offset + 2 * i as u64,
                "non-finite f16 vector component".into(),
            ));
        }
        Ok(())
    }
}
