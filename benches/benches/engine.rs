//! End-to-end engine benchmarks (issue 6): ingest with background sealing, query latency
//! alone and while ingesting, filtered recall/QPS by selectivity (a per-scope curve from
//! 0.01% to 100%), churn before/after compaction, open time and RSS of a 1M-vector
//! database, and 1536-d vectors. Prints markdown tables, writes `docs/bench/engine-*.csv`.
//!
//! ```text
//! MNEMODB_DATASET=../shared/datasets/wordnet-minilm-50k cargo bench -p mnemodb-benches --bench engine
//! MNEMODB_ENGINE_BENCH=ingest,filter,churn,wide,million ...   # pick parts (default: all but million)
//! MNEMODB_ENGINE_1M=1000000 ...                               # rows of the synthetic 96-d set
//! MNEMODB_BENCH_DIR=/path ...                                  # where databases go (default: the OS temp dir, a real disk)
//! MNEMODB_ENGINE_1M_DIR=/path ...                              # keep the 1M database there; if it already holds one,
//!                                                              # skip ingest and queries and only measure open
//! MNEMODB_ENGINE_OPEN_MODES=background,full,headers ...        # the Verify modes whose open is measured (default: all)
//! MNEMODB_ENGINE_1M_INGEST_ONLY=1 ...                          # 1M: ingest, then open times (no query phases)
//! ```
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::indexing_slicing)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mnemodb::{
    CollectionConfig, Database, Filter, HnswParams, IndexKind, Metric, Options, Query, Record,
    Value, Verify,
};
use mnemodb_benches::{Dataset, env_dataset, synthetic_dataset, synthetic_mixture};
use mnemodb_dataset::Vectors;

const BATCH: usize = 1000;
const SCOPES: [(f64, &str); 8] = [
    (0.0001, "s-0.01%"),
    (0.001, "s-0.1%"),
    (0.01, "s-1%"),
    (0.05, "s-5%"),
    (0.10, "s-10%"),
    (0.25, "s-25%"),
    (0.50, "s-50%"),
    (1.0, "s-100%"),
];

fn main() {
    let parts =
        std::env::var("MNEMODB_ENGINE_BENCH").unwrap_or_else(|_| "ingest,filter,churn,wide".into());
    let want = |p: &str| parts.split(',').any(|x| x.trim() == p);
    let mut report = String::new();
    writeln!(report, "machine: {}", mnemodb_benches::machine()).unwrap();
    if want("ingest") || want("filter") || want("churn") {
        let data = env_dataset().unwrap_or_else(|| synthetic_dataset(50_000, 384));
        if want("ingest") || want("filter") {
            ingest_query_filter(&data, want("filter"), &mut report);
        }
        if want("churn") {
            churn(&data, &mut report);
        }
    }
    if want("wide") {
        let wide = synthetic_mixture(20_000, 1536);
        ingest_query_only(&wide, &mut report);
    }
    if want("million") {
        let n = std::env::var("MNEMODB_ENGINE_1M")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1_000_000);
        million(n, &mut report);
    }
    println!("{report}");
}

fn bench_dir() -> tempfile::TempDir {
    let base = std::env::var_os("MNEMODB_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    tempfile::Builder::new()
        .prefix("mnemodb-engine-bench-")
        .tempdir_in(base)
        .unwrap()
}

fn options(seal_rows: usize) -> Options {
    Options::default()
        .batch_durability(Duration::from_millis(10))
        .seal_rows(seal_rows)
        .threads(2)
}

/// Scope membership of row `i`: the scopes whose fraction covers its (hashed) position.
fn scopes_of(i: usize) -> Vec<String> {
    let h = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11;
    let u = h as f64 / (1u64 << 53) as f64;
    SCOPES
        .iter()
        .filter(|(f, _)| u < *f)
        .map(|(_, s)| s.to_string())
        .collect()
}

fn record(i: usize, v: &[f32]) -> Record {
    Record::new(i as u64, v.to_vec())
        .with("user", format!("u{}", i % 1000).as_str())
        .with(
            "created_at",
            Value::Timestamp(1_700_000_000_000_000 + i as i64 * 1_000_000),
        )
        .with("scopes", Value::List(scopes_of(i)))
}

fn config(dim: usize, params: HnswParams) -> CollectionConfig {
    CollectionConfig::new("bench", dim, Metric::Cosine)
        .index(IndexKind::Hnsw(params))
        .keyword("user")
        .keyword("scopes")
        .range("created_at")
}

/// Ingest `base` in batches; returns (acknowledged vectors/s, seconds until every
/// segment is sealed and indexed).
fn ingest(db: &Database, base: &Vectors, offset: usize) -> (f64, f64) {
    let c = db.collection("bench").unwrap();
    let start = Instant::now();
    let n = base.len();
    let mut i = 0;
    while i < n {
        let end = (i + BATCH).min(n);
        let recs = (i..end).map(|r| record(offset + r, base.row(r))).collect();
        c.upsert(recs).unwrap();
        i = end;
    }
    db.flush().unwrap();
    let acked = start.elapsed().as_secs_f64();
    db.wait_for_background().unwrap();
    (n as f64 / acked, start.elapsed().as_secs_f64())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Latencies (ms, sorted) and recall@10 of `queries` (ground truth: exact over `base`
/// restricted by `keep`).
fn run_queries(
    c: &mnemodb::Collection,
    queries: &[Vec<f32>],
    filter: Option<&Filter>,
    truth: &[Vec<u64>],
    ef: Option<usize>,
) -> (Vec<f64>, f64) {
    let mut lat = Vec::with_capacity(queries.len());
    let mut hit = 0usize;
    let mut total = 0usize;
    for (q, t) in queries.iter().zip(truth) {
        let mut query = Query::new(q.clone(), 10).without_metadata();
        if let Some(f) = filter {
            query = query.filter(f.clone());
        }
        if let Some(ef) = ef {
            query = query.ef(ef);
        }
        let s = Instant::now();
        let hits = c.search(&query).unwrap();
        lat.push(s.elapsed().as_secs_f64() * 1e3);
        let got: Vec<u64> = hits
            .iter()
            .map(|h| match h.id {
                mnemodb::ExternalId::U64(v) => v,
                _ => u64::MAX,
            })
            .collect();
        hit += t.iter().take(10).filter(|id| got.contains(id)).count();
        total += t.len().min(10);
    }
    lat.sort_by(f64::total_cmp);
    (
        lat,
        if total == 0 {
            1.0
        } else {
            hit as f64 / total as f64
        },
    )
}

/// Exact top-10 ids (cosine) of each query among rows where `keep(row)`.
fn exact_truth(
    base: &Vectors,
    queries: &[Vec<f32>],
    keep: &(dyn Fn(usize) -> bool + Sync),
) -> Vec<Vec<u64>> {
    use rayon::prelude::*;
    let norms: Vec<f32> = (0..base.len())
        .map(|r| {
            base.row(r)
                .iter()
                .map(|x| x * x)
                .sum::<f32>()
                .sqrt()
                .max(1e-30)
        })
        .collect();
    queries
        .par_iter()
        .map(|q| {
            let qn = q.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-30);
            let mut all: Vec<(f32, u64)> = (0..base.len())
                .filter(|&r| keep(r))
                .map(|r| {
                    let dot: f32 = base.row(r).iter().zip(q).map(|(a, b)| a * b).sum();
                    (-(dot / (norms[r] * qn)), r as u64)
                })
                .collect();
            let k = all.len().min(10);
            if k > 0 {
                all.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            }
            all.truncate(k);
            all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            all.into_iter().map(|x| x.1).collect()
        })
        .collect()
}

fn query_rows(data: &Dataset, n: usize) -> Vec<Vec<f32>> {
    (0..data.queries.len().min(n))
        .map(|i| data.queries.row(i).to_vec())
        .collect()
}

fn ingest_query_filter(data: &Dataset, filters: bool, report: &mut String) {
    let dir = bench_dir();
    let n = data.base.len();
    let seal = (n / 3).max(1000);
    let db = Database::open(dir.path(), options(seal)).unwrap();
    db.create_collection(config(data.base.dim, IndexKind::engine_hnsw()))
        .unwrap();
    let (rate, until_indexed) = ingest(&db, &data.base, 0);
    let c = db.collection("bench").unwrap();
    let queries = query_rows(data, 500);
    let truth = exact_truth(&data.base, &queries, &|_| true);
    let (alone, recall) = run_queries(&c, &queries, None, &truth, None);

    // The same queries while a writer re-upserts rows continuously.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (c, stop) = (c.clone(), stop.clone());
        let base = data.base.clone();
        std::thread::spawn(move || {
            let mut i = 0usize;
            let mut written = 0usize;
            let start = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                let recs = (0..BATCH).map(|j| {
                    let r = (i + j) % base.len();
                    record(r, base.row(r))
                });
                c.upsert(recs.collect()).unwrap();
                i += BATCH;
                written += BATCH;
            }
            written as f64 / start.elapsed().as_secs_f64()
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    let (busy, recall_busy) = run_queries(&c, &queries, None, &truth, None);
    stop.store(true, Ordering::Relaxed);
    let write_rate = writer.join().unwrap();
    writeln!(
        report,
        "\n### Engine: ingest and query — {} ({} × {}d, cosine, HNSW M=16 ef_c=200, seal every {seal} rows, Batch 10 ms)\n\n\
         | measure | value |\n|---|---|\n\
         | ingest, acknowledged | {:.0} vectors/s |\n\
         | ingest until sealed and indexed | {:.1} s |\n\
         | query p50 / p99 alone (k=10, default ef) | {:.3} / {:.3} ms |\n\
         | recall@10 alone | {:.3} |\n\
         | query p50 / p99 while ingesting ({:.0} vectors/s) | {:.3} / {:.3} ms |\n\
         | recall@10 while ingesting | {:.3} |",
        data.name,
        n,
        data.base.dim,
        rate,
        until_indexed,
        percentile(&alone, 0.5),
        percentile(&alone, 0.99),
        recall,
        write_rate,
        percentile(&busy, 0.5),
        percentile(&busy, 0.99),
        recall_busy
    )
    .unwrap();
    db.wait_for_background().unwrap();
    if filters {
        filter_curve(data, &c, &queries, report);
    }
}

fn filter_curve(
    data: &Dataset,
    c: &mnemodb::Collection,
    queries: &[Vec<f32>],
    report: &mut String,
) {
    writeln!(
        report,
        "\n### Engine: filtered search by scope size — {} (one collection, scopes as a keyword list field)\n\n\
         | scope | rows | recall@10 | QPS (1 thread) | p50 ms | p99 ms |\n|---|---:|---:|---:|---:|---:|",
        data.name
    )
    .unwrap();
    let mut csv = String::from("scope,fraction,rows,recall,qps,p50_ms,p99_ms\n");
    for (fraction, scope) in SCOPES {
        let members: Vec<bool> = (0..data.base.len())
            .map(|i| scopes_of(i).iter().any(|s| s == scope))
            .collect();
        let rows = members.iter().filter(|m| **m).count();
        let truth = exact_truth(&data.base, queries, &|r| members[r]);
        let filter = Filter::parse(&format!(r#"scopes = "{scope}""#)).unwrap();
        let start = Instant::now();
        let (lat, recall) = run_queries(c, queries, Some(&filter), &truth, None);
        let qps = queries.len() as f64 / start.elapsed().as_secs_f64();
        writeln!(
            report,
            "| {:.2}% | {rows} | {recall:.3} | {qps:.0} | {:.3} | {:.3} |",
            fraction * 100.0,
            percentile(&lat, 0.5),
            percentile(&lat, 0.99)
        )
        .unwrap();
        writeln!(
            csv,
            "{scope},{fraction},{rows},{recall:.4},{qps:.1},{:.4},{:.4}",
            percentile(&lat, 0.5),
            percentile(&lat, 0.99)
        )
        .unwrap();
    }
    write_csv("engine-filter.csv", &csv);
}

fn churn(data: &Dataset, report: &mut String) {
    let n = data.base.len();
    let queries = query_rows(data, 300);
    let truth = exact_truth(&data.base, &queries, &|_| true);
    // Fresh build.
    let fresh_dir = bench_dir();
    let fresh = Database::open(fresh_dir.path(), options(n / 3)).unwrap();
    fresh
        .create_collection(config(data.base.dim, IndexKind::engine_hnsw()))
        .unwrap();
    ingest(&fresh, &data.base, 0);
    fresh.checkpoint().unwrap();
    fresh.compact().unwrap();
    fresh.wait_for_background().unwrap();
    let (fresh_lat, fresh_recall) = run_queries(
        &fresh.collection("bench").unwrap(),
        &queries,
        None,
        &truth,
        None,
    );
    let fresh_bytes = data_bytes(&fresh);
    drop(fresh);
    // Churned: delete half, re-insert them (background compaction off, so the state
    // before compaction can be measured).
    let dir = bench_dir();
    let db = Database::open(
        dir.path(),
        options(n / 3)
            .compact_min_dead_fraction(1.0)
            .compact_small_rows(0),
    )
    .unwrap();
    db.create_collection(config(data.base.dim, IndexKind::engine_hnsw()))
        .unwrap();
    ingest(&db, &data.base, 0);
    let c = db.collection("bench").unwrap();
    let half: Vec<mnemodb::ExternalId> = (0..n as u64)
        .filter(|i| i % 2 == 0)
        .map(Into::into)
        .collect();
    for chunk in half.chunks(BATCH) {
        c.delete(chunk).unwrap();
    }
    for chunk in (0..n)
        .filter(|i| i % 2 == 0)
        .collect::<Vec<_>>()
        .chunks(BATCH)
    {
        c.upsert(chunk.iter().map(|&r| record(r, data.base.row(r))).collect())
            .unwrap();
    }
    db.checkpoint().unwrap();
    db.wait_for_background().unwrap();
    let (before_lat, before_recall) = run_queries(&c, &queries, None, &truth, None);
    let before_bytes = data_bytes(&db);
    let t = Instant::now();
    let rep = db.compact().unwrap();
    db.checkpoint().unwrap();
    db.wait_for_background().unwrap();
    let compact_s = t.elapsed().as_secs_f64();
    let (after_lat, after_recall) = run_queries(&c, &queries, None, &truth, None);
    let after_bytes = data_bytes(&db);
    writeln!(
        report,
        "\n### Engine: churn (delete 50%, re-insert) — {}\n\n\
         | state | recall@10 | p50 ms | p99 ms | disk MiB (without WAL) |\n|---|---:|---:|---:|---:|\n\
         | fresh build | {fresh_recall:.3} | {:.3} | {:.3} | {:.1} |\n\
         | after churn | {before_recall:.3} | {:.3} | {:.3} | {:.1} |\n\
         | after compaction ({compact_s:.1} s, {} rows dropped) | {after_recall:.3} | {:.3} | {:.3} | {:.1} |",
        data.name,
        percentile(&fresh_lat, 0.5),
        percentile(&fresh_lat, 0.99),
        fresh_bytes as f64 / 1048576.0,
        percentile(&before_lat, 0.5),
        percentile(&before_lat, 0.99),
        before_bytes as f64 / 1048576.0,
        rep.rows_dropped,
        percentile(&after_lat, 0.5),
        percentile(&after_lat, 0.99),
        after_bytes as f64 / 1048576.0,
    )
    .unwrap();
}

/// Bytes on disk apart from the WAL (whose files go whole, on the log's own schedule).
fn data_bytes(db: &Database) -> u64 {
    let st = db.stats();
    st.disk_bytes - st.wal_bytes
}

fn ingest_query_only(data: &Dataset, report: &mut String) {
    let dir = bench_dir();
    let n = data.base.len();
    let db = Database::open(dir.path(), options(n / 2)).unwrap();
    db.create_collection(config(data.base.dim, IndexKind::engine_hnsw()))
        .unwrap();
    let (rate, until) = ingest(&db, &data.base, 0);
    let queries = query_rows(data, 200);
    let truth = exact_truth(&data.base, &queries, &|_| true);
    let (lat, recall) = run_queries(
        &db.collection("bench").unwrap(),
        &queries,
        None,
        &truth,
        None,
    );
    writeln!(
        report,
        "\n### Engine: {} ({n} × {}d)\n\n| ingest acked | until indexed | query p50 | p99 | recall@10 |\n|---:|---:|---:|---:|---:|\n\
         | {rate:.0} vectors/s | {until:.1} s | {:.3} ms | {:.3} ms | {recall:.3} |",
        data.name,
        data.base.dim,
        percentile(&lat, 0.5),
        percentile(&lat, 0.99)
    )
    .unwrap();
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn million(n: usize, report: &mut String) {
    // `MNEMODB_ENGINE_1M_DIR`: a directory that keeps the database between runs; when it
    // already holds one, only the open measurements run (iterating on open time without
    // re-ingesting).
    let kept = std::env::var_os("MNEMODB_ENGINE_1M_DIR").map(PathBuf::from);
    if let Some(path) = &kept {
        let built = std::fs::read_dir(path).is_ok_and(|mut d| {
            d.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with("MANIFEST-")))
        });
        if built {
            writeln!(
                report,
                "\n### Engine: open of the kept database {}\n\n| measure | value |\n|---|---|",
                path.display()
            )
            .unwrap();
            open_times(path, report);
            return;
        }
        std::fs::create_dir_all(path).unwrap();
    }
    let temp = if kept.is_none() {
        Some(bench_dir())
    } else {
        None
    };
    let dir_path = kept
        .clone()
        .unwrap_or_else(|| temp.as_ref().unwrap().path().to_path_buf());
    let data = synthetic_mixture(n, 96);
    let params = HnswParams {
        ef_construction: 100,
        ..IndexKind::engine_hnsw()
    };
    {
        let db = Database::open(&dir_path, options(100_000)).unwrap();
        db.create_collection(config(96, params)).unwrap();
        let (rate, until) = ingest(&db, &data.base, 0);
        db.checkpoint().unwrap();
        db.wait_for_background().unwrap();
        if std::env::var_os("MNEMODB_ENGINE_1M_INGEST_ONLY").is_some() {
            writeln!(
                report,
                "\n### Engine: synthetic {n} × 96d, ingest only\n\n| measure | value |\n|---|---|\n\
                 | ingest acked | {rate:.0} vectors/s |\n| until sealed and indexed | {until:.0} s |"
            )
            .unwrap();
            drop(db);
            open_times(&dir_path, report);
            return;
        }
        let c = db.collection("bench").unwrap();
        // 300 distinct queries (exact truth at 1M is costly), each asked 5 times, so a
        // p99 is the 15th slowest of 1,500.
        let distinct = query_rows(&data, 300);
        let distinct_truth = exact_truth(&data.base, &distinct, &|_| true);
        let queries = repeated(&distinct, 5);
        let truth = repeated(&distinct_truth, 5);
        let (alone, recall) = run_queries(&c, &queries, None, &truth, None);
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (c, stop) = (c.clone(), stop.clone());
            let extra = synthetic_dataset(200_000, 96).base;
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) && i + BATCH <= extra.len() {
                    c.upsert(
                        (i..i + BATCH)
                            .map(|r| record(n + r, extra.row(r)))
                            .collect(),
                    )
                    .unwrap();
                    i += BATCH;
                }
                i
            })
        };
        std::thread::sleep(Duration::from_millis(200));
        let (busy, _) = run_queries(&c, &queries, None, &truth, None);
        stop.store(true, Ordering::Relaxed);
        let written = writer.join().unwrap();
        db.wait_for_background().unwrap();
        let steady_extra = synthetic_mixture(100_000, 96).base;
        let (steady_lat, steady_written) =
            steady_phase(&c, &steady_extra, n + 300_000, &queries, &truth);
        writeln!(
            report,
            "\n### Engine: synthetic {n} × 96d (HNSW M=16 ef_c=100, seal every 100k)\n\n| measure | value |\n|---|---|\n\
             | ingest acked | {rate:.0} vectors/s |\n| until sealed and indexed | {until:.0} s |\n\
             | query p50 / p99 alone | {:.3} / {:.3} ms (recall@10 {recall:.3}) |\n\
             | query p50 / p99 while ingesting at full speed ({written} rows written meanwhile) | {:.3} / {:.3} ms |\n\
             | query p50 / p99 while ingesting 2,000 vectors/s ({steady_written} rows written meanwhile) | {:.3} / {:.3} ms |",
            percentile(&alone, 0.5),
            percentile(&alone, 0.99),
            percentile(&busy, 0.5),
            percentile(&busy, 0.99),
            percentile(&steady_lat, 0.5),
            percentile(&steady_lat, 0.99)
        )
        .unwrap();
        db.checkpoint().unwrap();
        db.wait_for_background().unwrap();
    }
    nice_duel(&dir_path, &data, report);
    open_times(&dir_path, report);
}

/// Open `dir` 5 times per verification mode: median open time and the RSS that open adds;
/// with the background scrub (the default) also how long after open the scrub has
/// checked every file, and the RSS then (the pages it read are file-backed and
/// reclaimable).
fn open_times(dir: &Path, report: &mut String) {
    // `MNEMODB_ENGINE_OPEN_MODES=background,full,headers` (default: all three).
    let modes = std::env::var("MNEMODB_ENGINE_OPEN_MODES")
        .unwrap_or_else(|_| "background,full,headers".into());
    let modes = [
        ("background", Verify::Background),
        ("full", Verify::Full),
        ("headers", Verify::HeadersOnly),
    ]
    .into_iter()
    .filter(|(name, _)| modes.split(',').any(|m| m.trim() == *name))
    .map(|(_, v)| v);
    for verify in modes {
        let mut opens = Vec::new();
        let mut scrubs = Vec::new();
        let (mut rss, mut rss_scrubbed) = (0, 0);
        for _ in 0..5 {
            let before = rss_kib();
            let t = Instant::now();
            let db =
                Database::open(dir, options(100_000).background(false).verify(verify)).unwrap();
            opens.push(t.elapsed().as_secs_f64() * 1e3);
            rss = rss_kib().saturating_sub(before);
            if verify == Verify::Background {
                loop {
                    let s = db.stats();
                    if s.unverified_segments == 0 && !s.scrubbing {
                        assert!(s.damaged.is_empty(), "{:?}", s.damaged);
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                scrubs.push(t.elapsed().as_secs_f64() * 1e3);
                rss_scrubbed = rss_kib().saturating_sub(before);
            }
            drop(db);
        }
        opens.sort_by(f64::total_cmp);
        scrubs.sort_by(f64::total_cmp);
        writeln!(
            report,
            "| open, Verify::{verify:?} (median of 5; {:.1}–{:.1}) | {:.1} ms |\n| RSS added by that open | {:.1} MiB |",
            opens[0],
            opens[opens.len() - 1],
            percentile(&opens, 0.5),
            rss as f64 / 1024.0
        )
        .unwrap();
        if !scrubs.is_empty() {
            writeln!(
                report,
                "| background scrub done, after open began (median of 5) | {:.0} ms |\n| RSS added once the scrub is done | {:.1} MiB |",
                percentile(&scrubs, 0.5),
                rss_scrubbed as f64 / 1024.0
            )
            .unwrap();
        }
    }
}

/// Queries while a steady writer adds 2,000 vectors/s in batches of 100 (the scale of a
/// busy memory service), ids from `first_id`. Returns (sorted latencies, rows written).
fn steady_phase(
    c: &mnemodb::Collection,
    extra: &Vectors,
    first_id: usize,
    queries: &[Vec<f32>],
    truth: &[Vec<u64>],
) -> (Vec<f64>, usize) {
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            let mut i = 0;
            let start = Instant::now();
            while !stop.load(Ordering::Relaxed) && i + 100 <= extra.len() {
                c.upsert(
                    (i..i + 100)
                        .map(|r| record(first_id + r, extra.row(r)))
                        .collect(),
                )
                .unwrap();
                i += 100;
                let due = Duration::from_secs_f64(i as f64 / 2000.0);
                if let Some(wait) = due.checked_sub(start.elapsed()) {
                    std::thread::sleep(wait);
                }
            }
            i
        });
        std::thread::sleep(Duration::from_millis(500));
        let (lat, _) = run_queries(c, queries, None, truth, None);
        stop.store(true, Ordering::Relaxed);
        (lat, writer.join().unwrap())
    })
}

/// The steady-writer phase with the background work at the caller's priority
/// (`background_nice(0)`) and at the default nice 10, alternating, 3 rounds each on the
/// same 1M database: the p99 each gives.
fn nice_duel(dir: &Path, data: &Dataset, report: &mut String) {
    let queries = repeated(&query_rows(data, 300), 5);
    let no_truth = vec![Vec::new(); queries.len()];
    let extra = synthetic_mixture(60_000, 96).base;
    let mut p99 = [Vec::new(), Vec::new()];
    let mut p50 = [Vec::new(), Vec::new()];
    let mut next_id = 2_000_000;
    for round in 0..3 {
        for (slot, nice) in [(0usize, 0u8), (1, 10)] {
            let db = Database::open(dir, options(100_000).background_nice(nice)).unwrap();
            db.wait_for_background().unwrap();
            let c = db.collection("bench").unwrap();
            let part = extra.len() / 6;
            let rows = Vectors {
                dim: extra.dim,
                data: extra.data[(round * 2 + slot) * part * extra.dim..][..part * extra.dim]
                    .to_vec(),
            };
            let (lat, written) = steady_phase(&c, &rows, next_id, &queries, &no_truth);
            next_id += written;
            p50[slot].push(percentile(&lat, 0.5));
            p99[slot].push(percentile(&lat, 0.99));
            db.checkpoint().unwrap();
            db.wait_for_background().unwrap();
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        percentile(v, 0.5)
    };
    writeln!(
        report,
        "| steady writer, background at the caller's priority: p50 / p99 (median of 3 alternating rounds) | {:.3} / {:.3} ms |\n\
         | steady writer, background at nice 10 (default): p50 / p99 (same rounds) | {:.3} / {:.3} ms |",
        median(&mut p50[0]),
        median(&mut p99[0]),
        median(&mut p50[1]),
        median(&mut p99[1]),
    )
    .unwrap();
}

/// `items` `times` times over, in order.
fn repeated<T: Clone>(items: &[T], times: usize) -> Vec<T> {
    items
        .iter()
        .cycle()
        .take(items.len() * times)
        .cloned()
        .collect()
}

fn write_csv(name: &str, body: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/bench");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join(name), body);
}
