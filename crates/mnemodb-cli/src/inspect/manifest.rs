//! `inspect manifest`: the database's current state description.
use std::path::PathBuf;

use clap::Args;
use serde_json::{Value as Json, json};

use crate::dbformat::{self, Manifest};
use crate::error::{CliError, Result};
use crate::files;
use crate::output::{self, Format, Table};

#[derive(Debug, Args)]
pub(super) struct ManifestArgs {
    /// A manifest file (`MANIFEST-<seq>`) or a database directory (its newest manifest).
    path: PathBuf,
}

fn u(v: &Json, key: &str) -> String {
    v.pointer(key)
        .map(|x| match x {
            Json::String(s) => s.clone(),
            other => other.to_string(),
        })
        .unwrap_or_else(|| "-".into())
}

pub(super) fn run(a: ManifestArgs, format: Format) -> Result<()> {
    let m = if a.path.is_dir() {
        Manifest::newest(&a.path)?.ok_or_else(|| {
            CliError::invalid(format!(
                "{}: no MANIFEST-* file: not a mnemodb database (create one with `mnemodb create`)",
                a.path.display()
            ))
        })?
    } else {
        let bytes = files::read(&a.path)?;
        dbformat::decode_manifest(&bytes, &a.path)?
    };
    if format == Format::Json {
        return output::print_json(&json!({
            "file": m.path.display().to_string(), "seq": m.seq, "body": m.body,
        }));
    }
    let b = &m.body;
    let mut text = format!("manifest {}\n", m.path.display());
    text.push_str(&output::fields(&[
        ("sequence", m.seq.to_string()),
        ("WAL replay starts at LSN", u(b, "/wal_start_lsn")),
        ("next segment generation", u(b, "/next_generation")),
        ("collections", m.collections().len().to_string()),
    ]));
    let mut cols = Table::new(&[
        ">id",
        "name",
        ">dim",
        "metric",
        "index",
        ">applied lsn",
        ">segments",
        "checkpoint",
    ]);
    for c in m.collections() {
        let index = match c.pointer("/spec/index").and_then(Json::as_str) {
            Some("hnsw") => format!(
                "hnsw m={} ef_c={} ef={}",
                u(c, "/spec/m"),
                u(c, "/spec/ef_construction"),
                u(c, "/spec/ef_search")
            ),
            Some(other) => other.to_string(),
            None => "-".into(),
        };
        cols.row(vec![
            u(c, "/id"),
            u(c, "/spec/name"),
            u(c, "/spec/dim"),
            u(c, "/spec/metric"),
            index,
            u(c, "/applied_lsn"),
            c.get("segments")
                .and_then(Json::as_array)
                .map_or(0, Vec::len)
                .to_string(),
            u(c, "/checkpoint/path"),
        ]);
    }
    if !cols.is_empty() {
        text.push('\n');
        text.push_str(&cols.render());
    }
    let refs = m.file_refs();
    if !refs.is_empty() {
        let mut t = Table::new(&["collection", "role", ">generation", "path", ">bytes", "crc"]);
        for r in &refs {
            t.row(vec![
                r.collection.clone(),
                r.role.to_string(),
                r.generation.map_or_else(String::new, |g| g.to_string()),
                r.path.clone(),
                r.len.to_string(),
                format!("{:#010x}", r.crc),
            ]);
        }
        text.push_str("\nfiles\n");
        text.push_str(&t.render());
    }
    output::print(&text)
}
