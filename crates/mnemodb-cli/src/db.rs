//! Opening databases and collections for the engine commands.
use std::path::{Path, PathBuf};

use clap::Args;
use mnemodb::{Collection, CollectionInfo, Database, IndexKind, Options, Verify};

use crate::dbformat;
use crate::error::{CliError, Result};

/// The database argument.
#[derive(Debug, Args, Clone)]
pub struct DbArg {
    /// Database directory.
    pub db: PathBuf,
}

/// The collection option (optional when the database has exactly one).
#[derive(Debug, Args, Clone)]
pub struct CollectionArg {
    /// Collection name (may be omitted when the database has exactly one).
    #[arg(long, short)]
    pub collection: Option<String>,
}

/// Refuse a path that does not hold a database (so no command but `create`, `import` and
/// `demo` creates one by accident).
pub fn require_db(path: &Path) -> Result<()> {
    let hint = format!("create one with `mnemodb create {}`", path.display());
    if !path.exists() {
        return Err(CliError::invalid(format!(
            "{}: no such database directory; {hint}",
            path.display()
        )));
    }
    if !path.is_dir() {
        return Err(CliError::invalid(format!(
            "{}: is a file, expected a database directory",
            path.display()
        )));
    }
    if dbformat::manifests(path)?.is_empty() {
        return Err(CliError::invalid(format!(
            "{}: not a mnemodb database (no MANIFEST-* file); {hint}",
            path.display()
        )));
    }
    Ok(())
}

/// Open an existing database for writing (takes the lock: exit 4 when held).
pub fn open_rw(path: &Path, options: Options) -> Result<Database> {
    require_db(path)?;
    Ok(Database::open(path, options)?)
}

/// Open an existing database read-only (no lock; works beside a running writer), every
/// file verified before it returns (a short-lived command exits before a background scrub
/// would finish, and damage must be an exit code, not a wrong answer).
pub fn open_ro(path: &Path) -> Result<Database> {
    require_db(path)?;
    Ok(Database::open_read_only(
        path,
        Options::default().background(false).verify(Verify::Full),
    )?)
}

/// Open or create a database for writing.
pub fn open_or_create(path: &Path, options: Options) -> Result<Database> {
    if path.exists() && !path.is_dir() {
        return Err(CliError::invalid(format!(
            "{}: is a file, expected a database directory",
            path.display()
        )));
    }
    Ok(Database::open(path, options)?)
}

/// Options for short-lived CLI writers: maintenance runs inline, so the process exits
/// with sealed segments and built indexes rather than abandoning background work, and
/// every file is verified at open (see [`open_ro`]).
pub fn cli_options() -> Options {
    Options::default().background(false).verify(Verify::Full)
}

/// The named collection, or the only one when no name is given.
pub fn collection(db: &Database, name: Option<&str>) -> Result<Collection> {
    if let Some(name) = name {
        return Ok(db.collection(name)?);
    }
    let all = db.collections();
    match all.as_slice() {
        [one] => Ok(db.collection(&one.name)?),
        [] => Err(CliError::invalid(format!(
            "{}: the database has no collection yet (create one with `mnemodb create {} --collection NAME --dim N`)",
            db.path().display(),
            db.path().display()
        ))),
        many => Err(CliError::invalid(format!(
            "{}: several collections ({}); pick one with --collection",
            db.path().display(),
            many.iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// `hnsw m=16 ef_construction=200 ef_search=96` or `flat`.
pub fn index_text(index: &IndexKind) -> String {
    match index {
        IndexKind::Hnsw(p) => format!(
            "hnsw m={} ef_construction={} ef_search={}",
            p.m, p.ef_construction, p.ef_search
        ),
        IndexKind::Flat => "flat".into(),
    }
}

/// JSON of an index kind.
pub fn index_json(index: &IndexKind) -> serde_json::Value {
    match index {
        IndexKind::Hnsw(p) => serde_json::json!({
            "kind": "hnsw", "m": p.m, "m0": p.m0, "ef_construction": p.ef_construction,
            "ef_search": p.ef_search,
        }),
        IndexKind::Flat => serde_json::json!({"kind": "flat"}),
    }
}

/// JSON of a collection's configuration.
pub fn info_json(c: &CollectionInfo) -> serde_json::Value {
    serde_json::json!({
        "name": c.name, "dim": c.dim, "metric": c.metric.to_string(),
        "index": index_json(&c.index), "count": c.count,
    })
}
