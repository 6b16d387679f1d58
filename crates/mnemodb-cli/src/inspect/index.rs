//! `inspect index`: `.hnsw` and `.ivf` files.
use std::path::{Path, PathBuf};

use clap::Args;
use mnemodb_ann::hnsw::HnswIndex;
use mnemodb_ann::ivf::IvfIndex;
use mnemodb_distance::Metric;
use mnemodb_format::{FileKind, HnswHeader, IvfHeader};
use mnemodb_io::ReadOnlyBytes;
use mnemodb_segment::SegmentReader;
use serde_json::{Value as Json, json};

use crate::error::{CliError, Result};
use crate::files;
use crate::output::{self, Format, Table};

#[derive(Debug, Args)]
pub(super) struct IndexArgs {
    /// The index file (`seg-<id>.hnsw` or `seg-<id>.ivf`).
    path: PathBuf,
    /// The segment it indexes (default: the `.vec` file of the same name beside it).
    #[arg(long)]
    segment: Option<PathBuf>,
}

/// A decoded index bound to its segment.
pub enum Index {
    /// HNSW graph.
    Hnsw(HnswIndex),
    /// IVF lists.
    Ivf(IvfIndex),
}

/// Decode the index at `path` (bytes already read) against `seg`: header, layout and
/// structure checks of the open path.
pub fn index_of(bytes: ReadOnlyBytes, path: &Path, seg: &SegmentReader) -> Result<Index> {
    match files::kind_of(&bytes, path)? {
        FileKind::HnswIndex => Ok(Index::Hnsw(HnswIndex::from_bytes(bytes, path, seg)?)),
        FileKind::IvfIndex => Ok(Index::Ivf(IvfIndex::from_bytes(bytes, path, seg)?)),
        other => Err(CliError::corrupt(format!(
            "{}: is a {other} file, expected an HNSW or IVF index",
            path.display()
        ))),
    }
}

fn metric_name(raw: u32) -> String {
    Metric::from_u32(raw).map_or_else(|| format!("unknown ({raw})"), |m| m.to_string())
}

/// Header fields (already validated by the decoder) as (name, value) pairs and JSON.
fn header_fields(bytes: &[u8], path: &Path) -> Result<(Vec<(&'static str, String)>, Json)> {
    let len = bytes.len() as u64;
    match files::kind_of(bytes, path)? {
        FileKind::HnswIndex => {
            let (h, _) = HnswHeader::decode(bytes, path, len)?;
            let level_mult = f64::from_bits(h.level_mult);
            let fields = vec![
                ("format", format!("HNSW index v{}", h.prefix.version)),
                ("metric", metric_name(h.metric)),
                ("dimension", h.dim.to_string()),
                ("nodes", h.node_count.to_string()),
                ("m / m0", format!("{} / {}", h.m, h.m0)),
                ("ef_construction", h.ef_construction.to_string()),
                ("max level", h.max_level.to_string()),
                ("entry point", h.entry_point.to_string()),
                ("nodes above level 0", h.upper_count.to_string()),
                ("level multiplier", format!("{level_mult:.4}")),
                ("build flags", format!("{:#b}", h.build_flags)),
                (
                    "segment",
                    format!(
                        "generation {}, content crc {:#010x}",
                        h.segment_generation, h.segment_content_crc
                    ),
                ),
                ("file size", format!("{} ({len} bytes)", output::bytes(len))),
            ];
            let j = json!({
                "kind": "hnsw", "version": h.prefix.version, "metric": metric_name(h.metric),
                "dim": h.dim, "nodes": h.node_count, "m": h.m, "m0": h.m0,
                "ef_construction": h.ef_construction, "max_level": h.max_level,
                "entry_point": h.entry_point, "upper_count": h.upper_count,
                "level_mult": level_mult, "seed": h.seed, "build_flags": h.build_flags,
                "segment_generation": h.segment_generation,
                "segment_content_crc": format!("{:#010x}", h.segment_content_crc),
                "file_len": len,
            });
            Ok((fields, j))
        }
        FileKind::IvfIndex => {
            let (h, _) = IvfHeader::decode(bytes, path, len)?;
            let codes = match h.dtype {
                mnemodb_format::IVF_DTYPE_F32 => "f32 (IVF-Flat)".to_string(),
                mnemodb_format::IVF_DTYPE_SQ8 => "sq8 (IVF-SQ8)".to_string(),
                d => format!("unknown ({d})"),
            };
            let fields = vec![
                ("format", format!("IVF index v{}", h.prefix.version)),
                ("metric", metric_name(h.metric)),
                ("dimension", h.dim.to_string()),
                ("rows", h.row_count.to_string()),
                ("lists", h.nlist.to_string()),
                ("codes", codes.clone()),
                (
                    "k-means",
                    format!("{} iterations, seed {:#x}", h.iterations, h.seed),
                ),
                (
                    "segment",
                    format!(
                        "generation {}, content crc {:#010x}",
                        h.segment_generation, h.segment_content_crc
                    ),
                ),
                ("file size", format!("{} ({len} bytes)", output::bytes(len))),
            ];
            let j = json!({
                "kind": "ivf", "version": h.prefix.version, "metric": metric_name(h.metric),
                "dim": h.dim, "rows": h.row_count, "nlist": h.nlist, "codes": codes,
                "iterations": h.iterations, "seed": h.seed,
                "segment_generation": h.segment_generation,
                "segment_content_crc": format!("{:#010x}", h.segment_content_crc),
                "file_len": len,
            });
            Ok((fields, j))
        }
        other => Err(CliError::corrupt(format!(
            "{}: is a {other} file, expected an HNSW or IVF index",
            path.display()
        ))),
    }
}

/// Structure statistics of a bound index.
fn structure(index: &Index) -> (String, Json) {
    match index {
        Index::Hnsw(ix) => {
            let g = ix.graph();
            let n = g.len();
            let mut levels = vec![0u64; g.max_level() + 1];
            let (mut sum, mut max, mut isolated) = (0u64, 0usize, 0u64);
            for node in 0..n as u32 {
                if let Some(slot) = g.level(node).and_then(|l| levels.get_mut(l)) {
                    *slot += 1;
                }
                let d = g.neighbors(node, 0).len();
                sum += d as u64;
                max = max.max(d);
                isolated += u64::from(d == 0 && n > 1);
            }
            let avg = if n == 0 { 0.0 } else { sum as f64 / n as f64 };
            let mut t = Table::new(&[">level", ">nodes"]);
            for (l, c) in levels.iter().enumerate() {
                t.row(vec![l.to_string(), c.to_string()]);
            }
            let text = format!(
                "\nlevel-0 degree: mean {avg:.1}, max {max} (bound {}), nodes without links {isolated}\n\
                 links: {} (level 0: {})\nSQ8 codes: {}\n\nnodes by top level\n{}",
                g.m0(),
                output::bytes(g.links_bytes() as u64),
                output::bytes(g.level0_bytes() as u64),
                if g.has_sq8() {
                    output::bytes(g.sq8_bytes() as u64)
                } else {
                    "none (searches walk the f32 rows)".to_string()
                },
                t.render()
            );
            let j = json!({
                "level0_degree_mean": avg, "level0_degree_max": max, "nodes_without_links": isolated,
                "links_bytes": g.links_bytes(), "level0_bytes": g.level0_bytes(),
                "sq8_bytes": g.sq8_bytes(),
                "nodes_by_level": levels,
            });
            (text, j)
        }
        Index::Ivf(ix) => {
            let b = ix.balance();
            let sizes = ix.list_sizes();
            let min = sizes.iter().copied().min().unwrap_or(0);
            let text = format!(
                "\nlists: {} ({} empty), sizes min {min} / mean {:.1} / max {}\n\
                 imbalance factor {:.2} (1 = equal lists){}\nbytes per vector in the lists: {}\n",
                b.nlist,
                b.empty_lists,
                if b.nlist == 0 {
                    0.0
                } else {
                    b.rows as f64 / b.nlist as f64
                },
                b.max_list,
                b.imbalance,
                if b.needs_retrain() {
                    "; retraining advised"
                } else {
                    ""
                },
                ix.bytes_per_vector(),
            );
            let j = json!({
                "lists": b.nlist, "empty_lists": b.empty_lists, "min_list": min,
                "max_list": b.max_list, "imbalance": b.imbalance,
                "needs_retrain": b.needs_retrain(), "bytes_per_vector": ix.bytes_per_vector(),
            });
            (text, j)
        }
    }
}

pub(super) fn run(a: IndexArgs, format: Format) -> Result<()> {
    let bytes = files::read(&a.path)?;
    let (fields, mut j) = header_fields(&bytes, &a.path)?;
    let seg_path = a
        .segment
        .clone()
        .unwrap_or_else(|| files::sibling_segment(&a.path));
    let (text, sj, note) = if seg_path.is_file() {
        let seg = super::segment::load(&seg_path)?;
        let index = index_of(bytes, &a.path, &seg)?;
        let (t, sj) = structure(&index);
        (t, sj, format!("segment: {}", seg_path.display()))
    } else if a.segment.is_some() {
        return Err(CliError::invalid(format!(
            "segment {} not found",
            seg_path.display()
        )));
    } else {
        (
            String::new(),
            Json::Null,
            format!(
                "segment {} not found: graph/list structure not shown (pass --segment)",
                seg_path.display()
            ),
        )
    };
    match format {
        Format::Json => {
            if let Some(o) = j.as_object_mut() {
                o.insert("file".into(), json!(a.path.display().to_string()));
                o.insert("structure".into(), sj);
            }
            output::print_json(&j)
        }
        Format::Human => {
            let mut out = format!("index {}\n", a.path.display());
            out.push_str(&output::fields(&fields));
            out.push_str(&text);
            out.push_str(&note);
            out.push('\n');
            output::print(&out)
        }
    }
}
