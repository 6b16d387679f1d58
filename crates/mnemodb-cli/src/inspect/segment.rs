//! `inspect segment`.
use std::path::{Path, PathBuf};

use clap::Args;
use mnemodb_segment::SegmentReader;
use serde_json::json;

use crate::error::Result;
use crate::files;
use crate::output::{self, Format, Table};

#[derive(Debug, Args)]
pub(super) struct SegmentArgs {
    /// The segment file (`seg-<id>.vec`).
    path: PathBuf,
    /// Rows to show.
    #[arg(long, default_value_t = 5)]
    rows: usize,
    /// First row to show.
    #[arg(long, default_value_t = 0)]
    from: usize,
    /// Vector components to show per row.
    #[arg(long, default_value_t = 6)]
    components: usize,
}

/// Open a segment from an in-memory copy of the file (header checked, nothing mapped).
pub fn load(path: &Path) -> Result<SegmentReader> {
    let bytes = files::read(path)?;
    Ok(SegmentReader::from_bytes(bytes, path)?)
}

pub(super) fn run(a: SegmentArgs, format: Format) -> Result<()> {
    let seg = load(&a.path)?;
    let h = seg.header();
    let l = seg.layout();
    let end = a.from.saturating_add(a.rows).min(seg.len());
    let rows: Vec<(usize, u64, &[f32])> = (a.from.min(end)..end)
        .filter_map(|i| Some((i, seg.id(i)?, seg.row(i)?)))
        .collect();
    let norm = |v: &[f32]| {
        v.iter()
            .map(|x| f64::from(*x) * f64::from(*x))
            .sum::<f64>()
            .sqrt()
    };
    match format {
        Format::Json => output::print_json(&json!({
            "file": a.path.display().to_string(),
            "kind": "segment",
            "version": h.prefix.version,
            "dim": seg.dim(),
            "metric": seg.metric().to_string(),
            "dtype": h.dtype,
            "rows": seg.len(),
            "generation": seg.generation(),
            "row_stride_bytes": l.row_stride,
            "block_rows": l.block_rows,
            "blocks": l.block_count,
            "rows_offset": l.rows_offset,
            "ids_offset": l.ids_offset,
            "crcs_offset": l.crcs_offset,
            "file_len": seg.file_len(),
            "content_crc": format!("{:#010x}", seg.content_crc()),
            "header_crc": format!("{:#010x}", h.header_crc),
            "shown": rows.iter().map(|(i, id, v)| json!({
                "row": i, "id": id, "norm": norm(v), "vector": v,
            })).collect::<Vec<_>>(),
        })),
        Format::Human => {
            let mut text = format!("segment {}\n", a.path.display());
            text.push_str(&output::fields(&[
                ("format", format!("segment v{}", h.prefix.version)),
                ("dimension", seg.dim().to_string()),
                ("metric", seg.metric().to_string()),
                ("rows", seg.len().to_string()),
                ("generation", seg.generation().to_string()),
                (
                    "layout",
                    format!(
                        "row stride {} bytes, {} blocks of {} rows; rows @{}, ids @{}, crcs @{}",
                        l.row_stride,
                        l.block_count,
                        l.block_rows,
                        l.rows_offset,
                        l.ids_offset,
                        l.crcs_offset
                    ),
                ),
                (
                    "file size",
                    format!(
                        "{} ({} bytes)",
                        output::bytes(seg.file_len()),
                        seg.file_len()
                    ),
                ),
                ("content crc", format!("{:#010x}", seg.content_crc())),
                ("header crc", format!("{:#010x}", h.header_crc)),
            ]));
            if !rows.is_empty() {
                text.push('\n');
                let mut t = Table::new(&[">row", ">id", ">norm", "vector"]);
                for (i, id, v) in &rows {
                    t.row(vec![
                        i.to_string(),
                        id.to_string(),
                        format!("{:.4}", norm(v)),
                        output::vector_preview(v, a.components),
                    ]);
                }
                text.push_str(&t.render());
            }
            text.push_str("checksums are not read by inspect; run `mnemodb verify` for that\n");
            output::print(&text)
        }
    }
}
