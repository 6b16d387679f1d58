//! `get`, `delete` and `search`.
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use mnemodb::{ExternalId, Filter, Query};
use serde_json::json;

use crate::db::{self, CollectionArg, DbArg};
use crate::error::{CliError, Result};
use crate::input;
use crate::json::{document_compact, document_to_json, id_from_arg, id_to_json};
use crate::output::{self, Format, Table, clip};

/// `mnemodb get`
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  mnemodb get ./db -c docs 42 43\n  mnemodb get ./db -c docs user-7 --vector --json\n\n\
    Ids made of digits are numbers; prefix `str:` for a string id made of digits (str:42)."
)]
pub struct GetArgs {
    #[command(flatten)]
    db: DbArg,
    #[command(flatten)]
    collection: CollectionArg,
    /// Ids to fetch.
    #[arg(required = true)]
    ids: Vec<String>,
    /// Also print the stored vectors.
    #[arg(long)]
    vector: bool,
}

/// Run `get`.
pub fn get(a: GetArgs, format: Format) -> Result<()> {
    let db = db::open_ro(&a.db.db)?;
    let c = db::collection(&db, a.collection.collection.as_deref())?;
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for raw in &a.ids {
        let id = id_from_arg(raw);
        match c.get(&id)? {
            Some(e) => found.push(e),
            None => missing.push(id),
        }
    }
    match format {
        Format::Json => output::print_json(&json!({
            "collection": c.name(),
            "records": found.iter().map(|e| {
                let mut j = json!({"id": id_to_json(&e.id), "metadata": document_to_json(&e.metadata)});
                if a.vector && let (Some(o), Some(v)) = (j.as_object_mut(), &e.vector) {
                    o.insert("vector".into(), json!(v));
                }
                j
            }).collect::<Vec<_>>(),
            "missing": missing.iter().map(id_to_json).collect::<Vec<_>>(),
        }))?,
        Format::Human => {
            let mut t = Table::new(if a.vector {
                &["id", "metadata", "vector"]
            } else {
                &["id", "metadata"]
            });
            for e in &found {
                let mut row = vec![crate::json::id_text(&e.id), document_compact(&e.metadata)];
                if a.vector {
                    row.push(
                        e.vector
                            .as_deref()
                            .map_or_else(String::new, |v| output::vector_preview(v, 8)),
                    );
                }
                t.row(row);
            }
            if !t.is_empty() {
                output::print(&t.render())?;
            }
        }
    }
    match missing.as_slice() {
        [] => Ok(()),
        ids => Err(CliError::invalid(format!(
            "no record with id {} in collection `{}`",
            ids.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            c.name()
        ))),
    }
}

/// `mnemodb delete`
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  mnemodb delete ./db -c docs 42 43\n  \
    mnemodb delete ./db -c docs --where 'user = \"u7\" and kind = \"draft\"'\n  \
    mnemodb delete ./db -c docs --where 'user = \"u7\"' --erase   # also compact: bytes gone from disk")]
pub struct DeleteArgs {
    #[command(flatten)]
    db: DbArg,
    #[command(flatten)]
    collection: CollectionArg,
    /// Ids to delete.
    ids: Vec<String>,
    /// Delete every record matching this filter.
    #[arg(long = "where", conflicts_with = "ids")]
    filter: Option<String>,
    /// With --where: also compact and checkpoint, so the deleted bytes leave the disk.
    #[arg(long, requires = "filter")]
    erase: bool,
}

/// Parse a filter expression, with the caret line in the message.
pub fn parse_filter(text: &str) -> Result<Filter> {
    Filter::parse(text).map_err(|e| {
        CliError::invalid(format!(
            "filter syntax error at column {}: {} (in `{}`)",
            e.column,
            e.message,
            clip(text, 120)
        ))
    })
}

/// Run `delete`.
pub fn delete(a: DeleteArgs, format: Format) -> Result<()> {
    if a.ids.is_empty() && a.filter.is_none() {
        return Err(CliError::invalid("give ids to delete, or --where FILTER"));
    }
    let filter = a.filter.as_deref().map(parse_filter).transpose()?;
    let db = db::open_rw(&a.db.db, db::cli_options())?;
    let c = db::collection(&db, a.collection.collection.as_deref())?;
    let before = c.count();
    let deleted = match (&filter, a.erase) {
        (Some(f), true) => c.erase_where(f)?,
        (Some(f), false) => {
            let ids: Vec<ExternalId> = c.scan(Some(f), false)?.into_iter().map(|e| e.id).collect();
            if !ids.is_empty() {
                c.delete(&ids)?;
            }
            ids.len() as u64
        }
        (None, _) => {
            let ids: Vec<ExternalId> = a.ids.iter().map(|s| id_from_arg(s)).collect();
            c.delete(&ids)?;
            before.saturating_sub(c.count())
        }
    };
    db.flush()?;
    match format {
        Format::Json => output::print_json(&json!({
            "collection": c.name(), "deleted": deleted, "remaining": c.count(), "erased": a.erase,
        })),
        Format::Human => output::println(&format!(
            "deleted {deleted} records from `{}` ({} remain){}",
            c.name(),
            c.count(),
            if a.erase {
                "; compacted and checkpointed"
            } else {
                ""
            }
        )),
    }
}

/// `mnemodb search`
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    mnemodb search ./db -c docs --vector '[0.1, 0.2, 0.3]' -k 5\n  \
    mnemodb search ./db -c docs --vector-file query.fvecs --row 17 --filter 'user = \"u1\" and created_at >= 2026-01-01T00:00:00Z'\n  \
    mnemodb search ./db -c docs --vector-file q.json --ef 256 --json\n  \
    MNEMODB_EMBEDDER=http mnemodb search ./db -c docs --text 'How should I set up tests?'")]
pub struct SearchArgs {
    #[command(flatten)]
    db: DbArg,
    #[command(flatten)]
    collection: CollectionArg,
    /// The query as a JSON array.
    #[arg(long, allow_hyphen_values = true)]
    vector: Option<String>,
    /// Read the query from a file: .fvecs / .bvecs / .npy / .jsonl (row --row) or .json.
    #[arg(long)]
    vector_file: Option<PathBuf>,
    /// Row of --vector-file (0-based).
    #[arg(long)]
    row: Option<u64>,
    /// The query as text, embedded by --embedder (or $MNEMODB_EMBEDDER).
    #[arg(long, conflicts_with_all = ["vector", "vector_file"])]
    text: Option<String>,
    /// Embedder for --text: http | local:<model dir> | hash:<dim>.
    #[arg(long)]
    embedder: Option<String>,
    /// Results to return (clamped to the collection's size).
    #[arg(short, long, default_value_t = 10)]
    k: u64,
    /// Only records matching this filter, e.g. `user = "u1" and kind in ["a", "b"]`.
    #[arg(long)]
    filter: Option<String>,
    /// HNSW candidate list size (default: the collection's ef_search).
    #[arg(long)]
    ef: Option<u64>,
    /// Also print the stored vectors.
    #[arg(long)]
    with_vectors: bool,
}

/// Run `search`.
pub fn search(a: SearchArgs, format: Format) -> Result<()> {
    if a.k == 0 {
        return Err(CliError::invalid("-k must be at least 1"));
    }
    if a.ef == Some(0) {
        return Err(CliError::invalid("--ef must be at least 1"));
    }
    let filter = a.filter.as_deref().map(parse_filter).transpose()?;
    let db = db::open_ro(&a.db.db)?;
    let c = db::collection(&db, a.collection.collection.as_deref())?;
    let vector = match &a.text {
        Some(text) => crate::embed::embed_text(a.embedder.as_deref(), text, Some(c.dim()))?,
        None => input::query_vector(a.vector.as_deref(), a.vector_file.as_deref(), a.row)?,
    };
    if c.dim() == 0 {
        return Err(CliError::invalid(format!(
            "collection `{}` holds documents without vectors; use `mnemodb get` or `delete --where`",
            c.name()
        )));
    }
    if vector.len() != c.dim() {
        return Err(CliError::invalid(format!(
            "query has dimension {}, collection `{}` has dimension {}",
            vector.len(),
            c.name(),
            c.dim()
        )));
    }
    // Never size anything by a huge k: at most every record can come back.
    let k = usize::try_from(a.k)
        .unwrap_or(usize::MAX)
        .min(c.count().max(1) as usize);
    let mut q = Query::new(vector, k);
    if let Some(f) = filter {
        q = q.filter(f);
    }
    if let Some(ef) = a.ef {
        q = q.ef(usize::try_from(ef).unwrap_or(usize::MAX).min(1 << 20));
    }
    if a.with_vectors {
        q = q.with_vectors();
    }
    let t = Instant::now();
    let hits = c.search(&q)?;
    let secs = t.elapsed().as_secs_f64();
    match format {
        Format::Json => output::print_json(&json!({
            "collection": c.name(), "k": k, "seconds": secs,
            "hits": hits.iter().map(|h| {
                let mut j = json!({
                    "id": id_to_json(&h.id), "score": h.score, "distance": h.distance,
                    "metadata": h.metadata.as_ref().map(document_to_json),
                });
                if let (Some(o), Some(v)) = (j.as_object_mut(), &h.vector) {
                    o.insert("vector".into(), json!(v));
                }
                j
            }).collect::<Vec<_>>(),
        })),
        Format::Human => {
            let mut t = Table::new(&[">rank", "id", ">score", ">distance", "metadata"]);
            for (i, h) in hits.iter().enumerate() {
                let mut meta = h
                    .metadata
                    .as_ref()
                    .map(document_compact)
                    .unwrap_or_default();
                if let Some(v) = &h.vector {
                    meta.push_str(&format!(" {}", output::vector_preview(v, 6)));
                }
                t.row(vec![
                    (i + 1).to_string(),
                    crate::json::id_text(&h.id),
                    format!("{:.4}", h.score),
                    format!("{:.4}", h.distance),
                    clip(&meta, 100),
                ]);
            }
            let mut text = if hits.is_empty() {
                String::new()
            } else {
                t.render()
            };
            text.push_str(&format!(
                "{} hits from `{}` ({} records) in {}\n",
                hits.len(),
                c.name(),
                c.count(),
                output::secs(secs)
            ));
            output::print(&text)
        }
    }
}
