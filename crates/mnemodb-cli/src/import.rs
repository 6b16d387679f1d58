//! `mnemodb import`: `.fvecs` / `.npy` / `.jsonl` into a collection, validated first, then
//! written in atomic batches with a progress bar; a failure keeps every committed batch
//! and says where to resume.
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use mnemodb::{Collection, ExternalId, HnswParams, Metric, Record};
use serde_json::json;

use crate::admin::collection_config;
use crate::db::{self, DbArg};
use crate::error::{CliError, Result};
use crate::input::{self, Source};
use crate::output::{self, Format};

/// `mnemodb import`
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    mnemodb import ./db base.fvecs -c docs                     # ids = row numbers\n  \
    mnemodb import ./db memories.jsonl -c mem --keyword user --range created_at\n  \
    mnemodb import ./db base.fvecs -c docs --skip 120000       # resume after a failure\n\n\
    JSON Lines records: {\"id\": 7 or \"doc-7\", \"vector\": [0.1, ...], \"metadata\": {\"user\": \"u1\", ...}}.\n\
    Metadata strings holding an RFC 3339 date-time (2026-01-01T12:00:00Z) are stored as timestamps.\n\
    The whole file is validated before anything is written (dimensions, NaN/inf, duplicate ids,\n\
    zero vectors for cosine); then each batch commits atomically.")]
pub struct ImportArgs {
    #[command(flatten)]
    db: DbArg,
    /// Input file: .fvecs, .npy (float32, 2-D) or .jsonl.
    file: PathBuf,
    /// Target collection (created when missing, with the file's dimension).
    #[arg(long, short, default_value = "default")]
    collection: String,
    /// Metric of a new collection: cosine, ip or l2.
    #[arg(long, default_value = "cosine", value_parser = input::parse_metric)]
    metric: Metric,
    /// Index of a new collection.
    #[arg(long, default_value = "hnsw", value_parser = ["hnsw", "flat"])]
    index: String,
    /// HNSW links per node (new collection).
    #[arg(long, default_value_t = 16)]
    m: usize,
    /// HNSW build candidate list (new collection).
    #[arg(long, default_value_t = 200)]
    ef_construction: usize,
    /// Keyword-indexed metadata fields of a new collection (repeatable).
    #[arg(long)]
    keyword: Vec<String>,
    /// Range-indexed metadata fields of a new collection (repeatable).
    #[arg(long)]
    range: Vec<String>,
    /// Records per atomic batch.
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    batch: u32,
    /// Skip the first N records of the file (resume an interrupted import).
    #[arg(long, default_value_t = 0)]
    skip: u64,
    /// For .fvecs / .npy: id of row 0 (ids are this + row number).
    #[arg(long, default_value_t = 0)]
    id_offset: u64,
    /// Do not validate the whole file before writing (faster; a bad record then stops the
    /// import after the batches before it).
    #[arg(long)]
    no_validate: bool,
    /// No progress bar.
    #[arg(long)]
    no_progress: bool,
}

fn bar(total: Option<u64>, msg: &str, hidden: bool) -> ProgressBar {
    if hidden {
        return ProgressBar::hidden();
    }
    let pb = match total {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::no_length(),
    };
    let template = if total.is_some() {
        "{msg:>10} [{bar:36}] {human_pos}/{human_len} records  {per_sec}  ETA {eta}"
    } else {
        "{msg:>10} {spinner} {human_pos} records  {per_sec}"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(msg.to_string());
    pb.enable_steady_tick(Duration::from_millis(200));
    pb
}

/// What the collection requires of each vector.
struct Expect {
    dim: Option<usize>,
    cosine: bool,
}

/// Check one record against `expect` (the first record fixes the dimension).
fn check_record(src: &Source, n: u64, r: &input::Record, expect: &mut Expect) -> Result<()> {
    let at = |what: String| {
        CliError::invalid(format!(
            "{}: record {n} (id {}): {what}",
            src.path().display(),
            r.id
        ))
    };
    let dim = *expect.dim.get_or_insert(r.vector.len());
    if r.vector.len() != dim {
        return Err(at(format!(
            "vector has dimension {}, expected {dim} (the collection's or the first record's)",
            r.vector.len()
        )));
    }
    if expect.cosine && dim > 0 && r.vector.iter().all(|x| *x == 0.0) {
        return Err(at(
            "zero vector: cosine similarity is undefined for it".into()
        ));
    }
    if !r.metadata.is_empty() {
        mnemodb_metastore::encode_document(&r.metadata).map_err(|e| at(e.to_string()))?;
    }
    Ok(())
}

/// Pass 1: read every record from `skip` on, check it; returns the count.
fn validate(a: &ImportArgs, expect: &mut Expect, hidden: bool) -> Result<u64> {
    let mut src = Source::open(&a.file, a.id_offset)?;
    let pb = bar(src.total(), "validating", hidden);
    let mut seen: HashSet<ExternalId> = HashSet::new();
    let mut n = 0u64;
    while let Some(r) = src.next()? {
        if n >= a.skip {
            check_record(&src, n, &r, expect)?;
            if !seen.insert(r.id.clone()) {
                return Err(CliError::invalid(format!(
                    "{}: record {n}: duplicate id {} (ids must be unique in one import)",
                    src.path().display(),
                    r.id
                )));
            }
        }
        n += 1;
        if n.is_multiple_of(1024) {
            pb.set_position(n);
        }
    }
    pb.finish_and_clear();
    Ok(n)
}

/// The collection to write to: the existing one (checked against the file), or a new one.
fn target(db: &mnemodb::Database, a: &ImportArgs, file_dim: Option<usize>) -> Result<Collection> {
    if let Ok(c) = db.collection(&a.collection) {
        return Ok(c);
    }
    let dim = file_dim.ok_or_else(|| {
        CliError::invalid(format!(
            "{}: no records to take the dimension of collection `{}` from",
            a.file.display(),
            a.collection
        ))
    })?;
    let hnsw = HnswParams {
        ef_construction: a.ef_construction,
        sq8: true,
        ..HnswParams::with_m(a.m)
    };
    let config = collection_config(
        &a.collection,
        dim,
        a.metric,
        &a.index,
        hnsw,
        &a.keyword,
        &a.range,
    )?;
    Ok(db.create_collection(config)?)
}

/// The error of a failed import, saying what is committed and how to resume.
fn resume_error(a: &ImportArgs, at: u64, committed: u64, batches: u64, e: CliError) -> CliError {
    let mut flags = format!("-c {}", a.collection);
    if a.id_offset != 0 {
        flags.push_str(&format!(" --id-offset {}", a.id_offset));
    }
    e.context(format!(
        "import stopped at record {at} of {} ({committed} records in {batches} batches committed by this run; \
         every record before {at} is in the database); fix the cause, then resume with \
         `mnemodb import {} {} {flags} --skip {at}`",
        a.file.display(),
        a.db.db.display(),
        a.file.display(),
    ))
}

/// Run `import`.
pub fn run(a: ImportArgs, format: Format) -> Result<()> {
    let hidden = a.no_progress || format == Format::Json;
    // An existing database is opened (and locked) first: a second writer fails before
    // any work, and the collection's dimension is checked during validation. A new one is
    // created only once the file has passed validation.
    let existing_db = if a.db.db.exists() {
        Some(db::open_or_create(&a.db.db, mnemodb::Options::default())?)
    } else {
        None
    };
    let existing = existing_db
        .as_ref()
        .and_then(|d| d.collection(&a.collection).ok());
    let mut expect = Expect {
        dim: existing.as_ref().map(Collection::dim),
        cosine: existing.as_ref().map_or(a.metric, Collection::metric) == Metric::Cosine,
    };
    let start = Instant::now();
    let total = if a.no_validate {
        None
    } else {
        Some(validate(&a, &mut expect, hidden)?)
    };
    let validate_s = start.elapsed().as_secs_f64();
    let database = match existing_db {
        Some(d) => d,
        None => db::open_or_create(&a.db.db, mnemodb::Options::default())?,
    };
    let mut src = Source::open(&a.file, a.id_offset)?;
    // Skip what an earlier run committed.
    let mut n = 0u64;
    while n < a.skip {
        if src
            .next()
            .map_err(|e| resume_error(&a, n, 0, 0, e))?
            .is_none()
        {
            break;
        }
        n += 1;
    }
    // Without a validation pass, a new collection takes the first record's dimension.
    let mut pending = None;
    if expect.dim.is_none() && src.dim().is_none() {
        pending = src.next().map_err(|e| resume_error(&a, n, 0, 0, e))?;
    }
    let file_dim = expect
        .dim
        .or(src.dim())
        .or(pending.as_ref().map(|r| r.vector.len()));
    let coll = target(&database, &a, file_dim)?;
    let todo = total.map(|t| t.saturating_sub(a.skip));
    let pb = bar(todo, "importing", hidden);
    let t = Instant::now();
    let mut committed = 0u64;
    let mut batches = 0u64;
    let batch_size = a.batch as usize;
    let mut batch: Vec<Record> = Vec::with_capacity(batch_size.min(65_536));
    let resume = |at: u64, committed: u64, batches: u64, e: CliError| {
        resume_error(&a, at, committed, batches, e)
    };
    loop {
        let batch_start = n;
        let mut done = false;
        while batch.len() < batch_size {
            let next = match pending.take() {
                Some(r) => Ok(Some(r)),
                None => src.next(),
            };
            let rec = match next {
                Ok(Some(r)) => r,
                Ok(None) => {
                    done = true;
                    break;
                }
                Err(e) => return Err(resume(n, committed, batches, e)),
            };
            if a.no_validate {
                check_record(&src, n, &rec, &mut expect)
                    .map_err(|e| resume(batch_start, committed, batches, e))?;
            }
            batch.push(if coll.dim() == 0 {
                Record::document(rec.id, rec.metadata)
            } else {
                Record::new(rec.id, rec.vector).metadata(rec.metadata)
            });
            n += 1;
        }
        if !batch.is_empty() {
            let len = batch.len() as u64;
            coll.upsert(std::mem::take(&mut batch)).map_err(|e| {
                let e = CliError::from(e)
                    .context(format!("records {batch_start}..{}", batch_start + len));
                resume(batch_start, committed, batches, e)
            })?;
            committed += len;
            batches += 1;
            pb.set_position(committed);
        }
        if done {
            break;
        }
    }
    let write_s = t.elapsed().as_secs_f64();
    pb.set_message("indexing");
    database.flush()?;
    let ti = Instant::now();
    database.wait_for_background()?;
    let index_s = ti.elapsed().as_secs_f64();
    pb.finish_and_clear();
    let rate = committed as f64 / write_s.max(1e-9);
    match format {
        Format::Json => output::print_json(&json!({
            "file": a.file.display().to_string(), "collection": coll.name(),
            "records": committed, "skipped": a.skip, "batches": batches,
            "validate_seconds": validate_s, "write_seconds": write_s, "index_seconds": index_s,
            "records_per_second": rate, "collection_count": coll.count(),
        })),
        Format::Human => output::println(&format!(
            "imported {committed} records from {} into `{}` in {batches} batches: validated in {}, written in {} ({rate:.0} records/s), indexed in {}; the collection holds {} records",
            a.file.display(),
            coll.name(),
            output::secs(validate_s),
            output::secs(write_s),
            output::secs(index_s),
            coll.count()
        )),
    }
}
