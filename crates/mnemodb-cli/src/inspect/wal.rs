//! `inspect wal`: headers, frames and records of WAL files.
use std::path::{Path, PathBuf};

use clap::Args;
use mnemodb_format::WalHeader;
use mnemodb_metastore::MetaOp;
use mnemodb_wal::{FrameRef, Tail};
use serde_json::{Value as Json, json};

use crate::error::{CliError, Result};
use crate::output::{self, Format, Table};
use crate::{dbformat, files};

#[derive(Debug, Args)]
pub(super) struct WalArgs {
    /// A WAL file (`<first-lsn>.log`), a WAL directory, or a database directory.
    path: PathBuf,
    /// Records to show per file (0 = all).
    #[arg(long, default_value_t = 20)]
    limit: usize,
}

/// The WAL files at `path`: the file itself, or the `*.log` files of a WAL directory or
/// of a database's `wal/` directory, oldest first.
pub fn wal_files(path: &Path) -> Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    if !path.exists() {
        return Err(CliError::invalid(format!(
            "{}: no such file or directory",
            path.display()
        )));
    }
    let dir = if path.join("wal").is_dir() {
        path.join("wal")
    } else {
        path.to_path_buf()
    };
    Ok(files::list_dir(&dir)?
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "log") && p.is_file())
        .collect())
}

/// What a payload holds, for a human and as JSON: the engine's operations, or a metastore
/// op, when it decodes as one; else its size and first bytes.
pub fn describe_payload(payload: &[u8]) -> (String, Json) {
    if payload.is_empty() {
        return ("empty (no-op)".into(), json!({"op": "noop"}));
    }
    if let Ok(ops) = dbformat::decode_payload(payload) {
        let text: Vec<&str> = ops.iter().map(|(t, _)| t.as_str()).collect();
        let text = match text.len() {
            0 => "empty batch".to_string(),
            1 => text.join("; "),
            n => format!("{n} ops: {}", text.join("; ")),
        };
        let text = output::clip(&text, 120);
        return (
            text,
            json!({"ops": ops.into_iter().map(|(_, j)| j).collect::<Vec<_>>()}),
        );
    }
    match MetaOp::decode(payload) {
        Ok(op) => dbformat::describe_meta_op(&op),
        Err(_) => (
            format!(
                "{} bytes {}",
                payload.len(),
                output::hex_preview(payload, 16)
            ),
            json!({"op": "opaque", "bytes": payload.len(), "head": output::hex_preview(payload, 32)}),
        ),
    }
}

struct FileView {
    text: String,
    json: Json,
    corrupt: Option<String>,
}

fn inspect_file(path: &Path, limit: usize) -> Result<FileView> {
    let bytes = files::read(path)?;
    let kind = files::kind_of(&bytes, path)?;
    if kind != mnemodb_format::FileKind::Wal {
        return Err(CliError::corrupt(format!(
            "{}: is a {kind} file, expected a WAL file",
            path.display()
        )));
    }
    let mut table = Table::new(&[
        ">offset",
        ">frame len",
        ">lsn",
        ">synced",
        ">bytes",
        "record",
    ]);
    let mut records = Vec::new();
    let mut offset = WalHeader::SIZE as u64;
    let mut shown = 0usize;
    let mut on_frame = |fr: &FrameRef<'_>| {
        for (i, (lsn, payload)) in fr.entries().enumerate() {
            if limit != 0 && shown >= limit {
                break;
            }
            shown += 1;
            let (desc, j) = describe_payload(payload);
            let first = i == 0;
            table.row(vec![
                if first {
                    offset.to_string()
                } else {
                    String::new()
                },
                if first {
                    fr.len.to_string()
                } else {
                    String::new()
                },
                lsn.to_string(),
                if first {
                    fr.synced_lsn.to_string()
                } else {
                    String::new()
                },
                payload.len().to_string(),
                desc,
            ]);
            records.push(json!({
                "frame_offset": offset, "frame_len": fr.len, "frame_records": fr.count,
                "lsn": lsn, "synced_lsn": fr.synced_lsn, "bytes": payload.len(), "record": j,
            }));
        }
        offset += u64::from(fr.len);
        Ok(())
    };
    let report = mnemodb_wal::decode_frames(&bytes, path, &mut on_frame)?;
    let h = report.header;
    let (tail, tail_json, corrupt) = match &report.tail {
        Tail::Clean => ("clean".to_string(), json!({"state": "clean"}), None),
        Tail::Torn { offset, what } => (
            format!("torn at byte {offset} ({what}); recovery truncates it"),
            json!({"state": "torn", "offset": offset, "what": what}),
            None,
        ),
        Tail::Corrupt { offset, what } => (
            format!("CORRUPT at byte {offset}: {what}"),
            json!({"state": "corrupt", "offset": offset, "what": what}),
            Some(format!(
                "{}: corrupted WAL at byte offset {offset}: {what}",
                path.display()
            )),
        ),
    };
    let mut text = format!("WAL file {}\n", path.display());
    text.push_str(&output::fields(&[
        ("format", format!("WAL v{}", h.prefix.version)),
        ("first lsn", h.first_lsn.to_string()),
        ("next lsn", report.next_lsn.to_string()),
        ("salt", format!("{:#018x}", h.salt)),
        ("frames", report.frames.to_string()),
        ("records", report.records.to_string()),
        (
            "valid bytes",
            format!("{} of {}", report.valid_len, bytes.len()),
        ),
        ("tail", tail),
    ]));
    if !table.is_empty() {
        text.push('\n');
        text.push_str(&table.render());
        if limit != 0 && (report.records as usize) > shown {
            text.push_str(&format!(
                "… {} more records (--limit 0 shows all)\n",
                report.records as usize - shown
            ));
        }
    }
    let json = json!({
        "file": path.display().to_string(), "version": h.prefix.version,
        "first_lsn": h.first_lsn, "next_lsn": report.next_lsn, "salt": format!("{:#018x}", h.salt),
        "frames": report.frames, "records": report.records, "valid_len": report.valid_len,
        "file_len": bytes.len(), "tail": tail_json, "shown": records,
    });
    Ok(FileView {
        text,
        json,
        corrupt,
    })
}

pub(super) fn run(a: WalArgs, format: Format) -> Result<()> {
    let paths = wal_files(&a.path)?;
    let mut views = Vec::new();
    for p in &paths {
        views.push(inspect_file(p, a.limit)?);
    }
    match format {
        Format::Json => output::print_json(&json!({
            "files": views.iter().map(|v| v.json.clone()).collect::<Vec<_>>(),
        }))?,
        Format::Human => {
            if views.is_empty() {
                output::println(&format!("no WAL files in {}", a.path.display()))?;
            }
            let text: Vec<&str> = views.iter().map(|v| v.text.as_str()).collect();
            output::print(&text.join("\n"))?;
        }
    }
    match views.into_iter().find_map(|v| v.corrupt) {
        Some(msg) => Err(CliError::corrupt(msg)),
        None => Ok(()),
    }
}
