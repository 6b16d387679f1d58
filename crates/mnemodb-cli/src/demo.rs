//! `mnemodb demo`: the README's main job. Creates a database (temp dir or `--dir`),
//! writes a deterministic clustered dataset with metadata, builds the indexes, runs
//! sample searches with filters, checks recall against exact search, recalls memories
//! through the memory layer, and prints results, timings and the `info` view.
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use mnemodb::{Collection, Database, Document, ExternalId, HnswParams, Query, Record, Value};
use mnemodb_dataset::synthetic::{Clustered, queries_near};
use mnemodb_dataset::{Vectors, exact_knn, recall_at_k};
use serde_json::json;

use crate::admin::{collection_config, info_view};
use crate::error::{CliError, Result};
use crate::json::document_compact;
use crate::output::{self, Format, Table, clip};
use crate::records::parse_filter;

/// `mnemodb demo`
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    mnemodb demo                      # 20,000 × 384 in a temporary directory, removed afterwards\n  \
    mnemodb demo --dir ./demo-db      # keep the database: then try `mnemodb info ./demo-db`\n  \
    mnemodb demo --rows 5000 --dim 64 --json")]
pub struct DemoArgs {
    /// Database directory (must not exist or be empty); default: a temporary directory.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Vectors to generate.
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u32).range(100..=2_000_000))]
    rows: u32,
    /// Their dimension.
    #[arg(long, default_value_t = 384, value_parser = clap::value_parser!(u32).range(2..=4096))]
    dim: u32,
    /// Seed of the generated data.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

const KINDS: [&str; 4] = ["preference", "decision", "fact", "event"];
const USERS: u64 = 20;
/// 2026-01-01T00:00:00Z in microseconds.
const EPOCH_2026: i64 = 1_767_225_600_000_000;
const MINUTE: i64 = 60_000_000;

/// Metadata of generated row `i`.
fn metadata(i: u64) -> Document {
    let mut d = Document::new();
    d.insert("user".into(), Value::String(format!("u{}", i % USERS)));
    let kind = KINDS
        .get((i.wrapping_mul(2_654_435_761) >> 7) as usize % KINDS.len())
        .copied()
        .unwrap_or("fact");
    d.insert("kind".into(), Value::String(kind.into()));
    d.insert(
        "created_at".into(),
        Value::Timestamp(EPOCH_2026 + i as i64 * 7 * MINUTE),
    );
    d.insert(
        "importance".into(),
        Value::Float((i.wrapping_mul(2_654_435_761) >> 11) as f64 % 100.0 / 100.0),
    );
    d.insert(
        "text".into(),
        Value::String(format!("memory #{i} of user u{}", i % USERS)),
    );
    d
}

struct Step {
    name: String,
    secs: f64,
    detail: String,
}

fn hits_table(hits: &[mnemodb::SearchHit]) -> String {
    let mut t = Table::new(&[">rank", "id", ">score", "metadata"]);
    for (i, h) in hits.iter().enumerate() {
        let mut meta = h.metadata.clone().unwrap_or_default();
        meta.remove("text");
        t.row(vec![
            (i + 1).to_string(),
            crate::json::id_text(&h.id),
            format!("{:.4}", h.score),
            clip(&document_compact(&meta), 90),
        ]);
    }
    t.render()
}

fn write_data(c: &Collection, base: &Vectors, steps: &mut Vec<Step>) -> Result<()> {
    let t = Instant::now();
    let batch = 2000;
    for (b, chunk) in base.data.chunks(batch * base.dim).enumerate() {
        let records: Vec<Record> = chunk
            .chunks_exact(base.dim)
            .enumerate()
            .map(|(j, v)| {
                let i = (b * batch + j) as u64;
                Record::new(i, v.to_vec()).metadata(metadata(i))
            })
            .collect();
        c.upsert(records)?;
    }
    let secs = t.elapsed().as_secs_f64();
    steps.push(Step {
        name: "write + seal + index".into(),
        secs,
        detail: format!(
            "{} records in batches of {batch} ({:.0} records/s, HNSW built as segments seal)",
            base.len(),
            base.len() as f64 / secs.max(1e-9)
        ),
    });
    Ok(())
}

/// Sample searches: plain and filtered.
fn sample_searches(
    c: &Collection,
    queries: &Vectors,
    steps: &mut Vec<Step>,
) -> Result<(String, serde_json::Value)> {
    let q0 = queries.get(0).unwrap_or_default().to_vec();
    let cases = [
        ("nearest 5", None),
        ("user u3 only", Some(r#"user = "u3""#)),
        (
            "decisions and preferences since 2026-02-01",
            Some(r#"kind in ["decision", "preference"] and created_at >= 2026-02-01T00:00:00Z"#),
        ),
        (
            "important facts of u7",
            Some(r#"user = "u7" and kind = "fact" and importance > 0.8"#),
        ),
    ];
    let mut text = String::new();
    let mut js = Vec::new();
    for (title, filter) in cases {
        let mut q = Query::new(q0.clone(), 5);
        if let Some(f) = filter {
            q = q.filter(parse_filter(f)?);
        }
        let t = Instant::now();
        let hits = c.search(&q)?;
        let secs = t.elapsed().as_secs_f64();
        text.push_str(&format!(
            "\n{title}{} — {} hits in {}\n",
            filter.map(|f| format!(" ({f})")).unwrap_or_default(),
            hits.len(),
            output::secs(secs)
        ));
        text.push_str(&hits_table(&hits));
        js.push(json!({
            "title": title, "filter": filter, "seconds": secs,
            "hits": hits.iter().map(|h| json!({"id": crate::json::id_to_json(&h.id), "score": h.score})).collect::<Vec<_>>(),
        }));
        steps.push(Step {
            name: format!("search: {title}"),
            secs,
            detail: format!("{} hits", hits.len()),
        });
    }
    Ok((text, json!(js)))
}

/// Recall@10 of the engine's search against exact search, and its latency.
fn recall_check(
    c: &Collection,
    base: &Vectors,
    queries: &Vectors,
    steps: &mut Vec<Step>,
) -> Result<(f64, f64)> {
    let t = Instant::now();
    let truth = exact_knn(mnemodb::Metric::Cosine, base, queries, 10)?;
    let exact_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut results: Vec<Vec<u64>> = Vec::with_capacity(queries.len());
    for q in queries.rows() {
        let hits = c.search(&Query::new(q.to_vec(), 10).without_metadata())?;
        results.push(
            hits.iter()
                .map(|h| match h.id {
                    ExternalId::U64(v) => v,
                    ExternalId::Str(_) => u64::MAX,
                })
                .collect(),
        );
    }
    let secs = t.elapsed().as_secs_f64();
    let recall = recall_at_k(&results, &truth, 10)?;
    let per_query = secs / queries.len().max(1) as f64;
    steps.push(Step {
        name: "recall check".into(),
        secs: secs + exact_s,
        detail: format!(
            "recall@10 {recall:.4} over {} queries vs exact search; {} per query ({:.0} QPS, 1 thread); exact ground truth took {}",
            queries.len(),
            output::secs(per_query),
            1.0 / per_query.max(1e-9),
            output::secs(exact_s)
        ),
    });
    Ok((recall, per_query))
}

/// Run `demo`.
pub fn run(a: DemoArgs, format: Format) -> Result<()> {
    let total = Instant::now();
    let (rows, dim) = (a.rows as usize, a.dim as usize);
    let _tmp;
    let dir = match &a.dir {
        Some(d) => {
            let busy = std::fs::read_dir(d)
                .map(|mut r| r.next().is_some())
                .unwrap_or(false);
            if busy {
                return Err(CliError::invalid(format!(
                    "{}: not empty; the demo writes a new database (pick another --dir)",
                    d.display()
                )));
            }
            d.clone()
        }
        None => {
            let t = tempfile::Builder::new()
                .prefix("mnemodb-demo-")
                .tempdir()
                .map_err(|e| CliError::runtime(format!("create a temporary directory: {e}")))?;
            let p = t.path().join("db");
            _tmp = t;
            p
        }
    };
    let human = format == Format::Human;
    let say = |s: &str| {
        if human {
            output::note(s);
        }
    };
    let mut steps = Vec::new();
    say(&format!(
        "generating {rows} × {dim} clustered vectors (seed {})…",
        a.seed
    ));
    let t = Instant::now();
    let mix = Clustered::new(dim, 64, a.seed).normalize(true);
    let base = mix.sample(rows, a.seed.wrapping_add(1));
    let queries = queries_near(&base, 200, 0.05, a.seed.wrapping_add(2));
    steps.push(Step {
        name: "generate".into(),
        secs: t.elapsed().as_secs_f64(),
        detail: format!(
            "{rows} × {dim} f32, 64 clusters, unit length; metadata user/kind/created_at/importance"
        ),
    });
    say(&format!("creating database {}…", dir.display()));
    let t = Instant::now();
    let seal = (rows / 2).clamp(1000, 100_000);
    let db = Database::open(&dir, crate::db::cli_options().seal_rows(seal))?;
    let hnsw = HnswParams {
        ef_construction: 100,
        sq8: true,
        ..HnswParams::with_m(16)
    };
    let config = collection_config(
        "memories",
        dim,
        mnemodb::Metric::Cosine,
        "hnsw",
        hnsw,
        &["user".into(), "kind".into()],
        &["created_at".into(), "importance".into()],
    )?;
    let c = db.create_collection(config)?;
    steps.push(Step {
        name: "create".into(),
        secs: t.elapsed().as_secs_f64(),
        detail: format!("collection `memories`: cosine, HNSW m=16, segments seal at {seal} rows"),
    });
    say("writing records, sealing segments, building HNSW indexes…");
    write_data(&c, &base, &mut steps)?;
    let t = Instant::now();
    db.flush()?;
    db.wait_for_background()?;
    db.checkpoint()?;
    steps.push(Step {
        name: "checkpoint".into(),
        secs: t.elapsed().as_secs_f64(),
        detail: "growing data sealed, metadata checkpointed, manifest replaced (WAL files wholly below it are dropped)".into(),
    });
    say("searching…");
    let (search_text, search_json) = sample_searches(&c, &queries, &mut steps)?;
    say("checking recall against exact search…");
    let (recall, per_query) = recall_check(&c, &base, &queries, &mut steps)?;
    say("remembering and recalling through the memory layer…");
    let memory = crate::memory::demo_recall(&db, &base, &mut |name, secs, detail| {
        steps.push(Step {
            name: name.into(),
            secs,
            detail,
        });
    })?;
    let (info_text, info_json) = info_view(&db)?;
    let total_s = total.elapsed().as_secs_f64();
    match format {
        Format::Json => output::print_json(&json!({
            "dir": dir.display().to_string(), "rows": rows, "dim": dim, "seed": a.seed,
            "recall_at_10": recall, "seconds_per_query": per_query,
            "searches": search_json, "memory": memory.1,
            "steps": steps.iter().map(|s| json!({"step": s.name, "seconds": s.secs, "detail": s.detail})).collect::<Vec<_>>(),
            "info": info_json, "total_seconds": total_s,
        })),
        Format::Human => {
            let mut text = format!(
                "mnemodb demo: {rows} × {dim} vectors in {}\n",
                dir.display()
            );
            text.push_str(&search_text);
            text.push_str(&memory.0);
            let mut t = Table::new(&["step", ">time", "detail"]);
            for s in &steps {
                t.row(vec![s.name.clone(), output::secs(s.secs), s.detail.clone()]);
            }
            text.push_str("\ntimings\n");
            text.push_str(&t.render());
            text.push('\n');
            text.push_str(&info_text);
            text.push_str(&format!("\ndone in {}", output::secs(total_s)));
            if a.dir.is_some() {
                text.push_str(&format!(
                    "; the database is kept: try `mnemodb info {0}` or `mnemodb verify {0}`\n",
                    dir.display()
                ));
            } else {
                text.push_str(" (temporary database removed; keep one with --dir)\n");
            }
            output::print(&text)
        }
    }
}
