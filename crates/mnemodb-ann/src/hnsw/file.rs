//! The index file (`seg-<id>.hnsw`): encoding, durable writing, cheap open with the
//! level-0 array used in place, and full verification. Layout: [`HnswHeader`] and
//! `docs/FORMAT.md`. Nothing here can panic on any bytes (fuzz target
//! `hnsw_decode_search`).
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mnemodb_distance::Metric;
use mnemodb_distance::quantized::Sq8;
use mnemodb_format::{
    Crc32Hasher, FormatError, HNSW_NO_ENTRY, HnswHeader, HnswHeaderFields, HnswLayout, check_zero,
    crc32,
};
use mnemodb_io::{
    Fs, IoContext, OpenOptions as FileOpenOptions, ReadOnlyBytes, SeqWriter, durable_rename,
    temp_path,
};

use super::codes::{CodeBytes, Sq8Codes};
use super::graph::{GraphMeta, HnswGraph, Sections, Storage};
use crate::error::Result;

/// What a written index file is, for the manifest that will reference it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HnswFileInfo {
    /// Final path.
    pub path: PathBuf,
    /// File length in bytes.
    pub file_len: u64,
    /// CRC32 of the header (which holds the CRC of every section).
    pub header_crc: u32,
}

fn layout_of(graph: &HnswGraph) -> Option<HnswLayout> {
    let s = graph.sections();
    let layout = HnswLayout::compute(
        graph.meta.n as u64,
        graph.meta.m as u32,
        graph.meta.m0 as u32,
        s.upper_nodes.len() as u64,
        s.upper_links.len() as u64,
    )?;
    match sq8_of(graph) {
        Some(_) => layout.with_sq8(u32::try_from(graph.meta.dim).ok()?),
        None => Some(layout),
    }
}

/// The graph's SQ8 codes when they fit it (dimension, one code per node).
fn sq8_of(graph: &HnswGraph) -> Option<&Sq8Codes> {
    graph
        .sq8
        .as_ref()
        .filter(|c| c.dim() == graph.meta.dim && c.codes().len() == graph.meta.n * c.dim())
}

/// Write the SQ8 section (minima, steps, codes); return its CRC.
fn write_sq8<W: Write>(codes: &Sq8Codes, w: &mut W) -> io::Result<u32> {
    let mut crc = Crc32Hasher::new();
    for part in [
        bytemuck::cast_slice::<f32, u8>(codes.sq.min()),
        bytemuck::cast_slice::<f32, u8>(codes.sq.scale()),
        codes.codes(),
    ] {
        crc.update(part);
        w.write_all(part)?;
    }
    Ok(crc.finalize())
}

/// The SQ8 section of a mapped file: quantiser parameters checked (finite, steps ≥ 0),
/// codes used in place.
fn decode_sq8(
    bytes: &ReadOnlyBytes,
    layout: &HnswLayout,
    dim: usize,
    path: &Path,
) -> Result<Option<Sq8Codes>> {
    let Some((offset, len)) = layout.sq8_section() else {
        return Ok(None);
    };
    let bad = |what: &str| FormatError::corrupted(path, offset, what.to_string());
    let start = usize::try_from(offset).map_err(|_| bad("SQ8 section offset"))?;
    let len = usize::try_from(len).map_err(|_| bad("SQ8 section length"))?;
    let params = dim.checked_mul(8).ok_or_else(|| bad("SQ8 dimension"))?;
    let floats = |at: usize| -> Option<Vec<f32>> {
        let b = bytes.get(start.checked_add(at)?..start.checked_add(at + 4 * dim)?)?;
        Some(
            b.chunks_exact(4)
                .map(bytemuck::pod_read_unaligned::<f32>)
                .collect(),
        )
    };
    let (Some(min), Some(scale)) = (floats(0), floats(4 * dim)) else {
        return Err(bad("SQ8 section past the end").into());
    };
    let sq = Sq8::from_parts(min, scale)
        .ok_or_else(|| bad("SQ8 quantiser parameters are not finite or a step is negative"))?;
    let codes_len = len
        .checked_sub(params)
        .ok_or_else(|| bad("SQ8 section too short"))?;
    Ok(Some(Sq8Codes {
        sq: Arc::new(sq),
        data: CodeBytes::Mapped {
            bytes: bytes.clone(),
            offset: start + params,
            len: codes_len,
        },
    }))
}

fn zeros(n: u64) -> Vec<u8> {
    vec![0; n as usize]
}

/// Write the four sections and their padding after a 256-byte header slot; return the
/// section CRCs.
fn write_body<W: Write>(s: &Sections<'_>, layout: &HnswLayout, w: &mut W) -> io::Result<[u32; 4]> {
    let parts: [&[u32]; 4] = [s.level0, s.upper_nodes, s.upper_offsets, s.upper_links];
    let pads = layout.paddings();
    let mut crcs = [0u32; 4];
    for (i, (part, crc)) in parts.iter().zip(crcs.iter_mut()).enumerate() {
        let bytes: &[u8] = bytemuck::cast_slice(part);
        *crc = crc32(bytes);
        w.write_all(bytes)?;
        if let Some((_, len)) = pads.get(i) {
            w.write_all(&zeros(*len))?;
        }
    }
    Ok(crcs)
}

fn header_of(
    graph: &HnswGraph,
    layout: &HnswLayout,
    segment_generation: u64,
    segment_content_crc: u32,
    section_crcs: [u32; 4],
    sq8_crc: u32,
) -> HnswHeader {
    let m = &graph.meta;
    HnswHeader::new(
        layout,
        &HnswHeaderFields {
            metric: m.metric as u32,
            dim: m.dim as u32,
            ef_construction: m.ef_construction.min(u32::MAX as usize) as u32,
            max_level: m.max_level as u32,
            entry_point: m.entry.unwrap_or(HNSW_NO_ENTRY),
            segment_generation,
            segment_content_crc,
            build_flags: m.flags,
            level_mult: m.level_mult,
            seed: m.seed,
            section_crcs,
            sq8_crc,
        },
    )
}

fn too_large(path: &Path) -> FormatError {
    FormatError::corrupted(path, 0, "graph too large for the index format")
}

/// The file image of `graph` for the segment `(generation, content_crc)`.
pub(crate) fn to_bytes(graph: &HnswGraph, generation: u64, content_crc: u32) -> Result<Vec<u8>> {
    let layout = layout_of(graph).ok_or_else(|| too_large(Path::new("<memory>")))?;
    let mut out = vec![0u8; HnswLayout::HEADER_SIZE as usize];
    let crcs = write_body(&graph.sections(), &layout, &mut out)
        .map_err(|e| FormatError::corrupted("<memory>", 0, e.to_string()))?;
    let sq8_crc = match sq8_of(graph) {
        Some(c) => write_sq8(c, &mut out)
            .map_err(|e| FormatError::corrupted("<memory>", 0, e.to_string()))?,
        None => 0,
    };
    let header = header_of(graph, &layout, generation, content_crc, crcs, sq8_crc);
    if let Some(h) = out.get_mut(..HnswLayout::HEADER_SIZE as usize) {
        h.copy_from_slice(bytemuck::bytes_of(&header));
    }
    Ok(out)
}

/// Write `graph` to `path`: temp file → fsync → rename → fsync the directory.
pub(crate) fn write(
    graph: &HnswGraph,
    fs: &dyn Fs,
    path: &Path,
    generation: u64,
    content_crc: u32,
) -> Result<HnswFileInfo> {
    let layout = layout_of(graph).ok_or_else(|| too_large(path))?;
    let tmp = temp_path(path);
    let file = fs
        .open(&tmp, FileOpenOptions::create_truncate())
        .at("create index", &tmp)?;
    let mut out = SeqWriter::new(Arc::clone(&file), 0);
    out.write_all(&zeros(HnswLayout::HEADER_SIZE))
        .at("write index", &tmp)?;
    let crcs = write_body(&graph.sections(), &layout, &mut out).at("write index", &tmp)?;
    let sq8_crc = match sq8_of(graph) {
        Some(c) => write_sq8(c, &mut out).at("write index", &tmp)?,
        None => 0,
    };
    let end = out.finish().at("write index", &tmp)?;
    debug_assert_eq!(end, layout.file_len);
    let header = header_of(graph, &layout, generation, content_crc, crcs, sq8_crc);
    file.write_all_at(bytemuck::bytes_of(&header), 0)
        .at("write index header", &tmp)?;
    // sync_all: the file grew, its length must be durable too.
    file.sync_all().at("fsync index", &tmp)?;
    durable_rename(fs, &tmp, path)?;
    Ok(HnswFileInfo {
        path: path.into(),
        file_len: layout.file_len,
        header_crc: header.header_crc,
    })
}

/// Decode an index file image: header, layout, file length, zero padding, the section
/// casts and the upper-level structure (O(nodes with level ≥ 1)). Level 0 is used in
/// place unchecked: search bounds-checks every id and clamps every count, and
/// [`verify`] checks it all.
pub(crate) fn decode(bytes: ReadOnlyBytes, path: &Path) -> Result<(HnswGraph, HnswHeader)> {
    let (header, layout) = HnswHeader::decode(&bytes, path, bytes.len() as u64)?;
    let bad = |offset: u64, what: String| FormatError::corrupted(path, offset, what);
    let metric = Metric::from_u32(header.metric)
        .ok_or_else(|| bad(20, format!("unknown metric {}", header.metric)))?;
    for (offset, len) in layout.paddings() {
        let region = bytes
            .get(offset as usize..(offset + len) as usize)
            .ok_or_else(|| bad(offset, "padding past the end".into()))?;
        check_zero(region, path, offset, "section padding")?;
    }
    let graph = HnswGraph {
        meta: GraphMeta {
            n: header.node_count as usize,
            m: header.m as usize,
            m0: header.m0 as usize,
            ef_construction: header.ef_construction as usize,
            max_level: header.max_level as usize,
            entry: (header.entry_point != HNSW_NO_ENTRY).then_some(header.entry_point),
            metric,
            dim: header.dim as usize,
            level_mult: f64::from_bits(header.level_mult),
            seed: header.seed,
            flags: header.build_flags,
        },
        storage: Storage::Mapped {
            bytes: bytes.clone(),
            layout,
            header: Box::new(header),
            path: path.into(),
        },
        sq8: None,
        partial: Default::default(),
    };
    let mut graph = graph;
    graph.sq8 = decode_sq8(&bytes, &layout, graph.meta.dim, path)?;
    let s = graph.sections();
    let expect = |got: usize, want: u64| got as u64 * 4 == want;
    let [a, b, c, d] = layout.sections();
    if !(expect(s.level0.len(), a.1)
        && expect(s.upper_nodes.len(), b.1)
        && expect(s.upper_offsets.len(), c.1)
        && expect(s.upper_links.len(), d.1))
    {
        return Err(bad(a.0, "sections are not aligned for zero-copy access".into()).into());
    }
    check_upper(&graph, &layout, path)?;
    Ok((graph, header))
}

/// Upper structure: nodes strictly ascending and `< n`, offsets from 0 rising by whole
/// levels up to the section's end, every level in `1..=max_level`, and the entry point
/// at the top level.
fn check_upper(graph: &HnswGraph, layout: &HnswLayout, path: &Path) -> Result<()> {
    let s = graph.sections();
    let meta = &graph.meta;
    let bad = |offset: u64, what: String| FormatError::corrupted(path, offset, what);
    let per_level = 1 + meta.m;
    let mut prev: Option<u32> = None;
    for (i, &node) in s.upper_nodes.iter().enumerate() {
        let at = layout.upper_nodes_offset + 4 * i as u64;
        if node as usize >= meta.n || prev.is_some_and(|p| node <= p) {
            return Err(bad(at, format!("upper node {node} out of order or range")).into());
        }
        prev = Some(node);
    }
    if s.upper_offsets.first() != Some(&0)
        || s.upper_offsets.last().map(|&x| x as usize) != Some(s.upper_links.len())
    {
        return Err(bad(
            layout.upper_offsets_offset,
            "upper offsets do not span the links".into(),
        )
        .into());
    }
    let mut top_seen = false;
    for (i, w) in s.upper_offsets.windows(2).enumerate() {
        let (Some(&lo), Some(&hi)) = (w.first(), w.get(1)) else {
            continue;
        };
        let at = layout.upper_offsets_offset + 4 * (i as u64 + 1);
        let words = (hi as usize).checked_sub(lo as usize);
        let level = words.filter(|w| w % per_level == 0).map(|w| w / per_level);
        match level {
            Some(l) if (1..=meta.max_level).contains(&l) => top_seen |= l == meta.max_level,
            _ => {
                return Err(
                    bad(at, format!("upper offsets {lo}..{hi} are not whole levels")).into(),
                );
            }
        }
    }
    if meta.max_level > 0 && !top_seen {
        return Err(bad(48, format!("no node reaches max level {}", meta.max_level)).into());
    }
    if let Some(e) = meta.entry
        && graph.level(e) != Some(meta.max_level)
    {
        return Err(bad(52, format!("entry point {e} is not on the top level")).into());
    }
    Ok(())
}

/// Check every byte: section CRCs (for a mapped file) and the whole structure (for any
/// graph): counts ≤ bound, ids `< n`, no self links, no duplicate links, unused slots zero,
/// upper links only to nodes present on that level.
pub(crate) fn verify(graph: &HnswGraph) -> Result<()> {
    let (path, memory) = match &graph.storage {
        Storage::Mapped {
            bytes,
            layout,
            header,
            path,
        } => {
            for ((offset, len), want) in layout.sections().into_iter().zip(header.section_crcs()) {
                let region = bytes
                    .get(offset as usize..(offset + len) as usize)
                    .unwrap_or_default();
                let got = crc32(region);
                if got != want {
                    return Err(FormatError::corrupted(
                        path,
                        offset,
                        format!(
                            "section checksum mismatch (stored {want:#010x}, computed {got:#010x})"
                        ),
                    )
                    .into());
                }
            }
            if let Some((offset, len)) = layout.sq8_section() {
                let region = bytes
                    .get(offset as usize..(offset + len) as usize)
                    .unwrap_or_default();
                let got = crc32(region);
                if got != header.sq8_crc {
                    return Err(FormatError::corrupted(
                        path,
                        offset,
                        format!(
                            "SQ8 section checksum mismatch (stored {:#010x}, computed {got:#010x})",
                            header.sq8_crc
                        ),
                    )
                    .into());
                }
            }
            (path.clone(), Some(*layout))
        }
        Storage::Owned(_) => (PathBuf::from("<memory>"), None),
    };
    let s = graph.sections();
    let meta = &graph.meta;
    let level0_at = memory.map_or(0, |l| l.level0_offset);
    let upper_at = memory.map_or(0, |l| l.upper_links_offset);
    let check_block = |block: &[u32], node: u32, level: usize, cap: usize, at: u64| -> Result<()> {
        let bad = |what: String| Err(FormatError::corrupted(&path, at, what).into());
        let Some((&count, slots)) = block.split_first() else {
            return bad(format!("node {node}: missing level {level}"));
        };
        if count as usize > cap {
            return bad(format!(
                "node {node} level {level}: degree {count} above {cap}"
            ));
        }
        let (used, unused) = slots.split_at((count as usize).min(slots.len()));
        if unused.iter().any(|&x| x != 0) {
            return bad(format!("node {node} level {level}: non-zero unused slot"));
        }
        for (j, &x) in used.iter().enumerate() {
            if x as usize >= meta.n {
                return bad(format!(
                    "node {node} level {level}: link to {x} ≥ {}",
                    meta.n
                ));
            }
            if x == node {
                return bad(format!("node {node} level {level}: self link"));
            }
            if used.get(..j).is_some_and(|before| before.contains(&x)) {
                return bad(format!("node {node} level {level}: duplicate link to {x}"));
            }
            if level > 0 && graph.level(x).is_none_or(|l| l < level) {
                return bad(format!(
                    "node {node} level {level}: link to {x}, which is lower"
                ));
            }
        }
        Ok(())
    };
    let stride0 = 1 + meta.m0;
    if s.level0.len() != meta.n * stride0 {
        return Err(FormatError::corrupted(&path, level0_at, "level 0 has the wrong size").into());
    }
    for (node, block) in s.level0.chunks_exact(stride0).enumerate() {
        let at = level0_at + (node * stride0 * 4) as u64;
        check_block(block, node as u32, 0, meta.m0, at)?;
    }
    let per_level = 1 + meta.m;
    for (i, &node) in s.upper_nodes.iter().enumerate() {
        let lo = s.upper_offsets.get(i).copied().unwrap_or(0) as usize;
        let block = s.graph_upper(node);
        for (l, lb) in block.chunks(per_level).enumerate() {
            let at = upper_at + ((lo + l * per_level) * 4) as u64;
            check_block(lb, node, l + 1, meta.m, at)?;
        }
    }
    if meta.n > 0 && meta.entry.is_none() {
        return Err(FormatError::corrupted(&path, 52, "no entry point").into());
    }
    Ok(())
}

impl Sections<'_> {
    fn graph_upper(&self, node: u32) -> &[u32] {
        self.upper_block(node).unwrap_or_default()
    }
}
