//! The main job of this stage of mnemodb: write vectors into memory-mapped segment files,
//! reopen them, verify every byte, and run exact top-10 searches (single and batched), with
//! timings. Uses 100,000 × 384 synthetic unit vectors (deterministic), or the dataset in
//! `MNEMODB_DATASET` (a directory with `base.fvecs`, `query.fvecs`, `groundtruth.ivecs`),
//! in which case it also checks recall@10 against the shipped ground truth.
//!
//! `cargo run --release -p mnemodb-ann --example quickstart`
use std::error::Error;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mnemodb_ann::flat::{self, Target};
use mnemodb_dataset::{Neighbors, Vectors, read_ids, read_vectors, recall_at_k, synthetic};
use mnemodb_distance::Metric;
use mnemodb_io::StdFs;
use mnemodb_segment::{OpenOptions, SegmentOptions, SegmentReader, SegmentWriter};

const SEGMENT_ROWS: usize = 25_000;

fn main() -> Result<(), Box<dyn Error>> {
    let Loaded {
        name,
        base,
        queries,
        truth,
    } = load()?;
    println!(
        "dataset  {name}: {} vectors × {} d, {} queries",
        base.len(),
        base.dim,
        queries.len()
    );
    let dir = tempfile::Builder::new()
        .prefix("mnemodb-quickstart-")
        .tempdir()?;

    let t = Instant::now();
    let paths = write_segments(dir.path(), &base)?;
    let write = t.elapsed();
    let bytes: u64 = paths
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum();
    println!(
        "write    {} segments, {:.1} MiB in {} ({:.0} MiB/s, fsync included)",
        paths.len(),
        bytes as f64 / 1048576.0,
        ms(write),
        bytes as f64 / 1048576.0 / write.as_secs_f64()
    );

    let t = Instant::now();
    let segments = paths
        .iter()
        .map(|p| SegmentReader::open(&StdFs, p))
        .collect::<Result<Vec<_>, _>>()?;
    println!(
        "open     {} segments mapped in {}",
        segments.len(),
        ms(t.elapsed())
    );
    let t = Instant::now();
    for p in &paths {
        SegmentReader::open_with(&StdFs, p, OpenOptions { verify: true })?;
    }
    println!(
        "verify   every checksum, padding byte, component and id in {}",
        ms(t.elapsed())
    );

    let pool = rayon::ThreadPoolBuilder::new()
        .thread_name(|i| format!("mnemodb-scan-{i}"))
        .build()?;
    let targets: Vec<Target<'_>> = segments.iter().map(Target::from).collect();
    let qs: Vec<&[f32]> = queries.rows().collect();

    let t = Instant::now();
    let single: Vec<Vec<u64>> = qs
        .iter()
        .take(100)
        .map(|q| {
            flat::search(&pool, &targets, q, 10).map(|h| h.into_iter().map(|h| h.id).collect())
        })
        .collect::<Result<_, _>>()?;
    let per = t.elapsed() / single.len().max(1) as u32;
    println!(
        "search   {} single queries, top-10: {} per query ({:.0} QPS, {} threads)",
        single.len(),
        ms(per),
        1.0 / per.as_secs_f64(),
        pool.current_num_threads()
    );

    let t = Instant::now();
    let batch = flat::search_batch(&pool, &targets, &qs, 10)?;
    let elapsed = t.elapsed();
    println!(
        "batch    {} queries in one call: {} ({:.0} QPS)",
        qs.len(),
        ms(elapsed),
        qs.len() as f64 / elapsed.as_secs_f64()
    );
    let batch_ids: Vec<Vec<u64>> = batch
        .iter()
        .map(|h| h.iter().map(|h| h.id).collect())
        .collect();
    if batch_ids.iter().take(single.len()).ne(single.iter()) {
        return Err("batched and single-query results differ".into());
    }

    if let Some(first) = batch.first() {
        println!(
            "query 0  top-3: {}",
            first
                .iter()
                .take(3)
                .map(|h| format!("id {} (cosine distance {:.4})", h.id, h.distance))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if let Some(truth) = truth {
        let recall = recall_at_k(&batch_ids, &truth, 10)?;
        println!("recall@10 against the shipped exact ground truth: {recall:.4}");
        if recall < 0.99 {
            return Err(format!(
                "exact search recall {recall} < 0.99: results disagree with the ground truth"
            )
            .into());
        }
    }
    println!("ok");
    Ok(())
}

/// The vectors to index, the queries, and the exact answers when the dataset ships them.
struct Loaded {
    name: String,
    base: Vectors,
    queries: Vectors,
    truth: Option<Neighbors>,
}

fn load() -> Result<Loaded, Box<dyn Error>> {
    if let Some(dir) = std::env::var_os("MNEMODB_DATASET").map(PathBuf::from) {
        return Ok(Loaded {
            name: dir.display().to_string(),
            base: read_vectors(dir.join("base.fvecs"))?,
            queries: read_vectors(dir.join("query.fvecs"))?,
            truth: Some(read_ids(dir.join("groundtruth.ivecs"))?),
        });
    }
    let base = synthetic::Clustered::new(384, 100, 42)
        .spread(0.35)
        .normalize(true)
        .sample(100_000, 1);
    let queries = synthetic::queries_near(&base, 1000, 0.35, 2);
    Ok(Loaded {
        name: "synthetic (seed 42)".into(),
        base,
        queries,
        truth: None,
    })
}

/// Rows `i*25k..` into `seg-<i>.vec`, ids = row numbers.
fn write_segments(dir: &Path, base: &Vectors) -> Result<Vec<PathBuf>, Box<dyn Error>> {
    let mut paths = Vec::new();
    let rows: Vec<&[f32]> = base.rows().collect();
    for (s, chunk) in rows.chunks(SEGMENT_ROWS).enumerate() {
        let path = dir.join(format!("seg-{s}.vec"));
        let mut w = SegmentWriter::create(
            &StdFs,
            &path,
            SegmentOptions::new(base.dim as u32, Metric::Cosine, s as u64),
        )?;
        for (i, row) in chunk.iter().enumerate() {
            w.push((s * SEGMENT_ROWS + i) as u64, row)?;
        }
        w.finish()?;
        paths.push(path);
    }
    Ok(paths)
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}
