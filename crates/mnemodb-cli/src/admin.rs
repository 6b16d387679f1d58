//! `create`, `info`, `compact`, `checkpoint`, `backup`.
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use mnemodb::{CollectionConfig, Database, HnswParams, IndexKind, Metric};
use serde_json::json;

use crate::db::{self, DbArg};
use crate::error::{CliError, Result};
use crate::input;
use crate::output::{self, Format, Table};

/// `mnemodb create`
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    mnemodb create ./db                                   # an empty database\n  \
    mnemodb create ./db -c docs --dim 384 --metric cosine --keyword user --range created_at\n  \
    mnemodb create ./db -c notes --documents              # metadata-only records")]
pub struct CreateArgs {
    #[command(flatten)]
    db: DbArg,
    /// Also create this collection.
    #[arg(long, short)]
    collection: Option<String>,
    /// Vector dimension of the collection.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=65_536))]
    dim: Option<u32>,
    /// Distance metric: cosine, ip or l2.
    #[arg(long, default_value = "cosine", value_parser = input::parse_metric)]
    metric: Metric,
    /// A document-only collection (no vectors).
    #[arg(long, conflicts_with = "dim")]
    documents: bool,
    /// Index of sealed segments.
    #[arg(long, default_value = "hnsw", value_parser = ["hnsw", "flat"])]
    index: String,
    /// HNSW links per node.
    #[arg(long, default_value_t = 16)]
    m: usize,
    /// HNSW candidate list size while building.
    #[arg(long, default_value_t = 200)]
    ef_construction: usize,
    /// HNSW default candidate list size while searching.
    #[arg(long, default_value_t = mnemodb_ann::hnsw::DEFAULT_EF_SEARCH)]
    ef_search: usize,
    /// Metadata fields with an equality index (repeatable).
    #[arg(long)]
    keyword: Vec<String>,
    /// Metadata fields with a range index (repeatable).
    #[arg(long)]
    range: Vec<String>,
}

/// The collection config the flags describe (`None` without `--collection`).
pub fn collection_config(
    name: &str,
    dim: usize,
    metric: Metric,
    index: &str,
    hnsw: HnswParams,
    keyword: &[String],
    range: &[String],
) -> Result<CollectionConfig> {
    let kind = if index == "flat" || dim == 0 {
        IndexKind::Flat
    } else {
        hnsw.validate().map_err(|e| {
            CliError::invalid(format!("{e} (--m / --ef-construction / --ef-search)"))
        })?;
        IndexKind::Hnsw(hnsw)
    };
    let mut config = if dim == 0 {
        CollectionConfig::documents(name)
    } else {
        CollectionConfig::new(name, dim, metric)
    }
    .index(kind);
    for k in keyword {
        config = config.keyword(k);
    }
    for r in range {
        config = config.range(r);
    }
    Ok(config)
}

/// Run `create`.
pub fn create(a: CreateArgs, format: Format) -> Result<()> {
    let path = &a.db.db;
    let existed = !crate::dbformat::manifests(path)
        .unwrap_or_default()
        .is_empty();
    if existed && a.collection.is_none() {
        return Err(CliError::invalid(format!(
            "{}: a database already exists here (add a collection with --collection NAME --dim N)",
            path.display()
        )));
    }
    let config = match &a.collection {
        Some(name) => {
            let dim = match (a.dim, a.documents) {
                (Some(d), _) => d as usize,
                (None, true) => 0,
                (None, false) => {
                    return Err(CliError::invalid(
                        "--collection needs --dim N (or --documents for metadata-only records)",
                    ));
                }
            };
            let hnsw = HnswParams {
                ef_construction: a.ef_construction,
                ef_search: a.ef_search,
                sq8: true,
                ..HnswParams::with_m(a.m)
            };
            Some(collection_config(
                name, dim, a.metric, &a.index, hnsw, &a.keyword, &a.range,
            )?)
        }
        None => None,
    };
    let db = db::open_or_create(path, db::cli_options())?;
    if let Some(config) = config {
        db.create_collection(config)?;
    }
    db.flush()?;
    let collections = db.collections();
    match format {
        Format::Json => output::print_json(&json!({
            "database": path.display().to_string(), "created": !existed,
            "collections": collections.iter().map(db::info_json).collect::<Vec<_>>(),
        })),
        Format::Human => {
            let mut text = format!(
                "{} database {}\n",
                if existed { "updated" } else { "created" },
                path.display()
            );
            for c in &collections {
                text.push_str(&format!(
                    "collection {}: {} dims, {}, {}\n",
                    c.name,
                    c.dim,
                    c.metric,
                    db::index_text(&c.index)
                ));
            }
            output::print(&text)
        }
    }
}

/// `mnemodb info`
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  mnemodb info ./db\n  mnemodb info ./db --json | jq '.collections[].count'"
)]
pub struct InfoArgs {
    #[command(flatten)]
    db: DbArg,
}

/// The `info` view of an open database, human and JSON.
pub fn info_view(db: &Database) -> Result<(String, serde_json::Value)> {
    let mut stats = db.stats();
    if stats.read_only {
        // A read-only handle has no WAL writer: measure the log from its files.
        let logs = crate::inspect::wal_files(&db.path().join("wal")).unwrap_or_default();
        stats.wal_files = logs.len();
        stats.wal_bytes = logs
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum();
        stats.wal_first_lsn = logs
            .first()
            .and_then(|p| p.file_stem()?.to_str()?.parse().ok())
            .unwrap_or(0);
    }
    let infos = db.collections();
    let mut text = format!("database {}\n", db.path().display());
    text.push_str(&output::fields(&[
        ("manifest", format!("MANIFEST-{:020}", stats.manifest)),
        (
            "WAL",
            format!(
                "{} in {} files, LSN {}..{} (durable {})",
                output::bytes(stats.wal_bytes),
                stats.wal_files,
                stats.wal_first_lsn,
                stats.last_lsn,
                stats.durable_lsn
            ),
        ),
        ("disk usage", output::bytes(stats.disk_bytes)),
        ("collections", infos.len().to_string()),
    ]));
    if let Some(e) = &stats.background_error {
        text.push_str(&format!("background error: {e}\n"));
    }
    if let Some(e) = &stats.poisoned {
        text.push_str(&format!("POISONED: {e}\n"));
    }
    let mut t = Table::new(&[
        "collection",
        ">dim",
        "metric",
        "index",
        ">records",
        ">segments",
        ">growing",
        ">deleted",
        ">applied lsn",
    ]);
    let mut seg_table = Table::new(&[
        "collection",
        ">generation",
        ">rows",
        ">deleted",
        ">vectors",
        ">index",
        "file",
    ]);
    let mut cj = Vec::new();
    for info in &infos {
        let Some((_, s)) = stats.collections.iter().find(|(n, _)| *n == info.name) else {
            continue;
        };
        t.row(vec![
            info.name.clone(),
            info.dim.to_string(),
            info.metric.to_string(),
            db::index_text(&info.index),
            s.count.to_string(),
            s.segments.len().to_string(),
            (s.growing_rows + s.sealing_rows).to_string(),
            s.deleted_rows.to_string(),
            s.applied_lsn.to_string(),
        ]);
        for g in &s.segments {
            seg_table.row(vec![
                info.name.clone(),
                g.generation.to_string(),
                g.rows.to_string(),
                g.deleted.to_string(),
                output::bytes(g.vec_bytes),
                output::bytes(g.index_bytes),
                g.path.display().to_string(),
            ]);
        }
        let mut j = db::info_json(info);
        if let Some(o) = j.as_object_mut() {
            o.insert(
                "segments".into(),
                json!(
                    s.segments
                        .iter()
                        .map(|g| json!({
                            "generation": g.generation, "rows": g.rows, "deleted": g.deleted,
                            "vec_bytes": g.vec_bytes, "index_bytes": g.index_bytes,
                            "path": g.path.display().to_string(),
                        }))
                        .collect::<Vec<_>>()
                ),
            );
            o.insert("growing_rows".into(), json!(s.growing_rows));
            o.insert("growing_indexed".into(), json!(s.growing_indexed));
            o.insert("sealing_rows".into(), json!(s.sealing_rows));
            o.insert("deleted_rows".into(), json!(s.deleted_rows));
            o.insert("applied_lsn".into(), json!(s.applied_lsn));
        }
        cj.push(j);
    }
    if !t.is_empty() {
        text.push('\n');
        text.push_str(&t.render());
    }
    if !seg_table.is_empty() {
        text.push_str("\nsegments\n");
        text.push_str(&seg_table.render());
    }
    let json = json!({
        "database": db.path().display().to_string(), "manifest": stats.manifest,
        "wal": {"files": stats.wal_files, "bytes": stats.wal_bytes, "first_lsn": stats.wal_first_lsn,
                "last_lsn": stats.last_lsn, "durable_lsn": stats.durable_lsn},
        "disk_bytes": stats.disk_bytes, "background_error": stats.background_error,
        "poisoned": stats.poisoned, "collections": cj,
    });
    Ok((text, json))
}

/// Run `info`.
pub fn info(a: InfoArgs, format: Format) -> Result<()> {
    let db = db::open_ro(&a.db.db)?;
    let (text, json) = info_view(&db)?;
    match format {
        Format::Json => output::print_json(&json),
        Format::Human => output::print(&text),
    }
}

/// `mnemodb compact`
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  mnemodb compact ./db   # merge small segments, drop deleted rows"
)]
pub struct CompactArgs {
    #[command(flatten)]
    db: DbArg,
}

/// Run `compact`.
pub fn compact(a: CompactArgs, format: Format) -> Result<()> {
    let db = db::open_rw(&a.db.db, db::cli_options())?;
    let t = Instant::now();
    let r = db.compact()?;
    let secs = t.elapsed().as_secs_f64();
    match format {
        Format::Json => output::print_json(&json!({
            "segments_merged": r.segments_merged, "rows_dropped": r.rows_dropped,
            "bytes_reclaimed": r.bytes_reclaimed, "seconds": secs,
        })),
        Format::Human => output::println(&format!(
            "compacted {}: {} segments merged, {} deleted rows dropped, {} reclaimed in {}",
            a.db.db.display(),
            r.segments_merged,
            r.rows_dropped,
            output::bytes(r.bytes_reclaimed),
            output::secs(secs)
        )),
    }
}

/// `mnemodb checkpoint`
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  mnemodb checkpoint ./db   # seal, write metadata checkpoints, trim the WAL"
)]
pub struct CheckpointArgs {
    #[command(flatten)]
    db: DbArg,
}

/// Run `checkpoint`.
pub fn checkpoint(a: CheckpointArgs, format: Format) -> Result<()> {
    let db = db::open_rw(&a.db.db, db::cli_options())?;
    let before = db.stats();
    let t = Instant::now();
    db.checkpoint()?;
    let after = db.stats();
    let secs = t.elapsed().as_secs_f64();
    match format {
        Format::Json => output::print_json(&json!({
            "manifest": after.manifest, "wal_bytes_before": before.wal_bytes,
            "wal_bytes_after": after.wal_bytes, "last_lsn": after.last_lsn, "seconds": secs,
        })),
        Format::Human => output::println(&format!(
            "checkpoint of {} at LSN {}: manifest {}, WAL {} → {} in {}",
            a.db.db.display(),
            after.last_lsn,
            after.manifest,
            output::bytes(before.wal_bytes),
            output::bytes(after.wal_bytes),
            output::secs(secs)
        )),
    }
}

/// `mnemodb backup`
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  mnemodb backup ./db /backups/db-2026-01-01 && mnemodb verify /backups/db-2026-01-01"
)]
pub struct BackupArgs {
    #[command(flatten)]
    db: DbArg,
    /// Target directory (must be missing or empty).
    to: PathBuf,
}

/// Run `backup`.
pub fn backup(a: BackupArgs, format: Format) -> Result<()> {
    let db = db::open_rw(&a.db.db, db::cli_options())?;
    let t = Instant::now();
    let r = db.backup(&a.to)?;
    let secs = t.elapsed().as_secs_f64();
    match format {
        Format::Json => output::print_json(&json!({
            "to": a.to.display().to_string(), "files": r.files, "bytes": r.bytes,
            "manifest": r.manifest, "last_lsn": r.last_lsn, "seconds": secs,
        })),
        Format::Human => output::println(&format!(
            "backed up {} to {}: {} files, {}, up to LSN {} in {} (check it with `mnemodb verify {}`)",
            a.db.db.display(),
            a.to.display(),
            r.files,
            output::bytes(r.bytes),
            r.last_lsn,
            output::secs(secs),
            a.to.display()
        )),
    }
}
