//! Memory-layer benchmarks (issue 7): recall latency p50/p99 at 10k / 100k / 1M memories in
//! one scope and spread over 1,000 scopes, composite recall@10 of the exact top-k against
//! brute-force composite scoring, consolidation time for 100k memories, context assembly.
//! Synthetic clustered 384-d vectors (no `../shared` needed). Prints markdown tables.
//!
//! ```text
//! cargo bench -p mnemodb-benches --bench memory
//! MNEMODB_MEMORY_BENCH=recall,consolidate,context ...   # parts (default: all)
//! MNEMODB_MEMORY_SIZES=10000,100000,1000000 ...         # recall sizes (default 10k,100k)
//! MNEMODB_MEMORY_QUERIES=300 ...                        # queries per configuration
//! MNEMODB_MEMORY_SCOPES=1 ...                           # scope counts (default 1,1000)
//! MNEMODB_MEMORY_EF_CONSTRUCTION=64 ...                 # HNSW build effort from 1M memories
//! MNEMODB_MEMORY_KEEP=/dev/shm/keep ...                 # ingest once into that directory, reuse it
//! MNEMODB_MEMORY_AB=VAR1,VAR2 ...                       # every query with VARs unset and set, interleaved
//! ```
//!
//! `MNEMODB_MEMORY_AB` is for temporary environment switches in the code under test (a
//! side-by-side of a change on one store, one load); `on-CPU` is the recalling thread's CPU
//! time (`CLOCK_THREAD_CPUTIME_ID`), i.e. latency without the waits for a core.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::indexing_slicing)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use mnemodb::{Database, Options};
use mnemodb_benches::{on_cpu, scratch_dir};
use mnemodb_dataset::{Vectors, synthetic};
use mnemodb_memory::topk::TopKPlan;
use mnemodb_memory::{
    AccessTracking, ConsolidateOptions, ContextRequest, ManualClock, MemoryConfig, MemoryKind,
    MemoryStore, NewMemory, QueryInput, RecallRequest, Role, Scope, Scorer, Signals, Timestamp,
};

const DIM: usize = 384;
const DAY0: i64 = 1_767_225_600_000_000; // 2026-01-01T00:00:00Z
const BATCH: usize = 2_000;
/// Per-component noise of a query around a unit-length memory: similarity ≈ 0.8 to it and
/// ≈ 0.6 to the rest of its cluster (MiniLM question-to-statement similarities are 0.3-0.7).
const QUERY_NOISE: f32 = 0.04;

fn main() {
    let parts = std::env::var("MNEMODB_MEMORY_BENCH")
        .unwrap_or_else(|_| "recall,consolidate,context".into());
    let want = |p: &str| parts.split(',').any(|x| x.trim() == p);
    let sizes: Vec<usize> = std::env::var("MNEMODB_MEMORY_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10_000, 100_000]);
    let queries: usize = std::env::var("MNEMODB_MEMORY_QUERIES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let scope_counts: Vec<usize> = std::env::var("MNEMODB_MEMORY_SCOPES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 1000]);
    println!("machine: {}", mnemodb_benches::machine());
    if want("recall") {
        println!(
            "\n### Recall latency (k = 10, 384-d, {queries} queries, one thread, access tracking off)\n"
        );
        println!(
            "| memories | scopes | scope size | mode | p50 | p99 | on-CPU p50 / p99 | mean fetch rounds | composite recall@10 | ingest |"
        );
        println!("|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|");
        for &n in &sizes {
            for &scopes in &scope_counts {
                recall(n, scopes, queries);
            }
        }
    }
    if want("probe") {
        probe();
    }
    if want("consolidate") {
        consolidate(100_000);
    }
    if want("context") {
        context();
    }
}

struct Corpus {
    vectors: Vectors,
    signals: Vec<Signals>,
    scope_of: Vec<usize>,
    /// Text id of each memory (`memory {text_of[i]}`); restatements share their source's.
    text_of: Option<Vec<usize>>,
}

/// A top-10 recall of `query` in user scope `u<scope>` at `now`, access tracking off.
fn recall_request(query: &[f32], scope: usize, now: Timestamp) -> RecallRequest {
    RecallRequest::new(
        Scope::user(format!("u{scope}")),
        QueryInput::Vector(query.to_vec()),
    )
    .k(10)
    .at(now)
    .without_access_tracking()
}

fn day(d: f64) -> Timestamp {
    Timestamp::from_micros(DAY0).plus_days(d)
}

/// `n` memories: clustered vectors, importance and age spread, 30 % episodic.
fn corpus(n: usize, scopes: usize, seed: u64) -> Corpus {
    let vectors = synthetic::Clustered::new(DIM, 200, seed)
        .spread(0.6)
        .normalize(true)
        .sample(n, seed + 1);
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut rnd = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut signals = Vec::with_capacity(n);
    let mut scope_of = Vec::with_capacity(n);
    for i in 0..n {
        let importance = (rnd() * rnd()) as f32; // skewed low, as real memories are
        let mut sig = Signals::new(importance, day(rnd() * 365.0));
        sig.episodic = rnd() < 0.3;
        signals.push(sig);
        scope_of.push(i % scopes);
    }
    Corpus {
        vectors,
        signals,
        scope_of,
        text_of: None,
    }
}

fn open(dir: &std::path::Path, access: AccessTracking) -> (Database, MemoryStore) {
    open_sized(dir, access, 0)
}

/// From 1M memories on: `Durability::Batch` (10 ms), segments sealed every 100k rows,
/// background indexing, and HNSW `ef_construction` from `MNEMODB_MEMORY_EF_CONSTRUCTION`
/// (default 200, the engine's) so that the ingest fits in minutes.
fn open_sized(dir: &std::path::Path, access: AccessTracking, n: usize) -> (Database, MemoryStore) {
    let large = n >= 1_000_000;
    let options = if large {
        Options::default()
            .durability(mnemodb::Durability::Batch {
                max_delay: Duration::from_millis(10),
            })
            .seal_rows(100_000)
            .background(true)
    } else {
        Options::default().durability(mnemodb::Durability::Buffered)
    };
    let db = Database::open(dir, options).unwrap();
    let mut config = MemoryConfig::new(DIM).access(access);
    if let (true, Some(ef)) = (
        large,
        std::env::var("MNEMODB_MEMORY_EF_CONSTRUCTION")
            .ok()
            .and_then(|s| s.parse::<usize>().ok()),
    ) {
        config = config.index(mnemodb::IndexKind::Hnsw(mnemodb_ann::hnsw::HnswParams {
            ef_construction: ef,
            ..mnemodb::IndexKind::engine_hnsw()
        }));
    }
    let store = MemoryStore::open(&db, config)
        .unwrap()
        .with_clock(Arc::new(ManualClock::new(day(366.0))));
    (db, store)
}

fn ingest(store: &MemoryStore, db: &Database, c: &Corpus) -> Duration {
    let t = Instant::now();
    let n = c.vectors.len();
    for start in (0..n).step_by(BATCH) {
        let batch: Vec<NewMemory> = (start..(start + BATCH).min(n))
            .map(|i| {
                let s = &c.signals[i];
                let text = c.text_of.as_ref().map_or(i, |t| t[i]);
                NewMemory::new(
                    Scope::user(format!("u{}", c.scope_of[i])),
                    format!("memory {text}"),
                )
                .importance(s.importance)
                .at(s.created_at)
                .kind(if s.episodic {
                    MemoryKind::Event
                } else {
                    MemoryKind::Fact
                })
                .vector(c.vectors.row(i).to_vec())
                .id(format!("m{i}"))
            })
            .collect();
        store.remember_batch(batch).unwrap();
    }
    db.wait_for_background().unwrap();
    t.elapsed()
}

fn percentile(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn fmt(d: Duration) -> String {
    if d < Duration::from_millis(10) {
        format!("{:.2} ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{:.1} ms", d.as_secs_f64() * 1e3)
    }
}

/// Brute-force composite top-10 of one scope.
fn brute(c: &Corpus, scorer: &Scorer, scope: usize, q: &[f32], now: Timestamp) -> Vec<String> {
    let mut all: Vec<(f64, String)> = (0..c.vectors.len())
        .filter(|&i| c.scope_of[i] == scope)
        .map(|i| {
            let sim: f32 = c.vectors.row(i).iter().zip(q).map(|(a, b)| a * b).sum();
            (scorer.score(sim, &c.signals[i], now).score, format!("m{i}"))
        })
        .collect();
    all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    all.into_iter().take(10).map(|x| x.1).collect()
}

fn recall(n: usize, scopes: usize, queries: usize) {
    let dir = scratch_dir();
    let c = corpus(n, scopes, 7);
    // `MNEMODB_MEMORY_KEEP=DIR`: ingest into DIR once and reuse it in later runs (A/B
    // comparisons of recall changes without the minutes of ingest each time).
    let keep = std::env::var("MNEMODB_MEMORY_KEEP")
        .ok()
        .map(|d| std::path::PathBuf::from(d).join(format!("{n}x{scopes}")));
    let path = keep.clone().unwrap_or_else(|| dir.path().to_path_buf());
    let marker = path.join("ingested");
    let reuse = keep.is_some() && marker.exists();
    std::fs::create_dir_all(&path).unwrap();
    let (db, store) = open_sized(&path, AccessTracking::Off, n);
    let took = if reuse {
        Duration::ZERO
    } else {
        let took = ingest(&store, &db, &c);
        if keep.is_some() {
            db.checkpoint().unwrap();
            std::fs::write(&marker, b"").unwrap();
        }
        took
    };
    eprintln!(
        "ingested {n} memories in {scopes} scopes: {:.1} s",
        took.as_secs_f64()
    );
    let qs = synthetic::queries_near(&c.vectors, queries, QUERY_NOISE, 11);
    let now = day(366.0);
    let scorer = Scorer::default();
    let modes: [(&str, TopKPlan); 3] = [
        ("exact top-k", TopKPlan::default()),
        (
            "exact top-k, whole records per candidate",
            TopKPlan {
                whole_records: true,
                ..TopKPlan::default()
            },
        ),
        (
            "4×k over-fetch",
            TopKPlan {
                exact: false,
                exact_scan_max: 0,
                ..TopKPlan::default()
            },
        ),
    ];
    if let Ok(var) = std::env::var("MNEMODB_MEMORY_AB") {
        ab(&store, &c, &qs, scopes, queries, &var);
        return;
    }
    // The brute-force answers first: their scans of every vector would evict the caches
    // between timed recalls. Each costs a pass over the scope ids plus a dot product per
    // memory of the scope.
    let wants: Vec<Vec<String>> = (0..queries.min(100))
        .map(|qi| brute(&c, &scorer, qi % scopes, qs.row(qi), now))
        .collect();
    for (mode, plan) in modes {
        if plan.whole_records && (n, scopes) != (100_000, 1) {
            continue;
        }
        let mut lat = Vec::with_capacity(queries);
        let mut cpu = Vec::with_capacity(queries);
        let mut rounds = 0usize;
        let mut hit = 0usize;
        for qi in 0..queries {
            let req = recall_request(qs.row(qi), qi % scopes, now).plan(plan);
            let c0 = on_cpu();
            let t = Instant::now();
            let r = store.recall(&req).unwrap();
            lat.push(t.elapsed());
            cpu.push(on_cpu().saturating_sub(c0));
            rounds += r.stats.rounds;
            if let Some(want) = wants.get(qi) {
                hit += r
                    .hits
                    .iter()
                    .filter(|h| want.contains(&h.memory.id))
                    .count();
            }
        }
        let checked = wants.len() * 10;
        println!(
            "| {n} | {scopes} | {} | {mode} | {} | {} | {} / {} | {:.1} | {} | {} |",
            n / scopes,
            fmt(percentile(&mut lat, 0.5)),
            fmt(percentile(&mut lat, 0.99)),
            fmt(percentile(&mut cpu, 0.5)),
            fmt(percentile(&mut cpu, 0.99)),
            rounds as f64 / queries as f64,
            if checked > 0 {
                format!("{:.4}", hit as f64 / checked as f64)
            } else {
                "-".into()
            },
            if mode == "exact top-k" {
                format!("{:.1} s", took.as_secs_f64())
            } else {
                String::new()
            },
        );
    }
    // The same recall with durable access tracking (one write batch per recall).
    if scopes == 1000 && n == *[10_000usize, 100_000].iter().min().unwrap() {
        drop(store);
        drop(db);
        let (_db2, store) = open(dir.path(), AccessTracking::Immediate);
        let mut lat = Vec::new();
        for qi in 0..queries {
            let req = RecallRequest::new(
                Scope::user(format!("u{}", qi % scopes)),
                QueryInput::Vector(qs.row(qi).to_vec()),
            )
            .k(10)
            .at(now);
            let t = Instant::now();
            store.recall(&req).unwrap();
            lat.push(t.elapsed());
        }
        println!(
            "| {n} | {scopes} | {} | exact + access tracking (Immediate, Buffered WAL) | {} | {} | | | |",
            n / scopes,
            fmt(percentile(&mut lat, 0.5)),
            fmt(percentile(&mut lat, 0.99))
        );
    }
}

/// Side by side: every query with the switch variable `var` unset and set (alternating
/// which goes first), on the same store.
fn ab(store: &MemoryStore, c: &Corpus, qs: &Vectors, scopes: usize, queries: usize, var: &str) {
    let now = day(366.0);
    let scorer = Scorer::default();
    let mut lat = [Vec::new(), Vec::new()];
    let mut cpu = [Vec::new(), Vec::new()];
    let mut hit = [0usize; 2];
    let mut rounds = [0usize; 2];
    let set = |on: bool| {
        for v in var.split(',') {
            if on {
                // SAFETY: no other thread reads or writes the environment meanwhile: the
                // store's maintenance thread and rayon pools never read it (the engine's
                // only `env::var` is its failpoint hook, compiled out without the
                // `failpoints` feature, which benches do not enable), and the queries run on
                // this thread.
                unsafe { std::env::set_var(v, "1") };
            } else {
                // SAFETY: as above.
                unsafe { std::env::remove_var(v) };
            }
        }
    };
    // The brute-force answers first: their scans of every vector would evict the caches
    // between timed recalls.
    let wants: Vec<Vec<String>> = (0..queries.min(100))
        .map(|qi| brute(c, &scorer, qi % scopes, qs.row(qi), now))
        .collect();
    for qi in 0..queries {
        let req = recall_request(qs.row(qi), qi % scopes, now);
        let want = wants.get(qi);
        for side in [qi % 2, 1 - qi % 2] {
            set(side == 1);
            let c0 = on_cpu();
            let t = Instant::now();
            let r = store.recall(&req).unwrap();
            lat[side].push(t.elapsed());
            cpu[side].push(on_cpu().saturating_sub(c0));
            rounds[side] += r.stats.rounds;
            if let Some(w) = &want {
                hit[side] += r.hits.iter().filter(|h| w.contains(&h.memory.id)).count();
            }
        }
    }
    set(false);
    for side in 0..2 {
        println!(
            "| {var} {} | {} | {} | on-CPU {} / {} | {:.1} | {:.4} |",
            if side == 1 { "set" } else { "unset" },
            fmt(percentile(&mut lat[side], 0.5)),
            fmt(percentile(&mut lat[side], 0.99)),
            fmt(percentile(&mut cpu[side], 0.5)),
            fmt(percentile(&mut cpu[side], 0.99)),
            rounds[side] as f64 / queries as f64,
            hit[side] as f64 / (queries.min(100) * 10) as f64
        );
    }
}

fn consolidate(n: usize) {
    // 90 % distinct memories, 10 % restatements of one of them (same text, vector + noise:
    // cosine ≈ 0.98 to the original).
    let dir = scratch_dir();
    let base = corpus(n * 9 / 10, 1, 21);
    let m = base.vectors.len();
    let dups = n - m;
    let noise = synthetic::uniform(dups, DIM, 9);
    let mut data = base.vectors.data.clone();
    let mut signals = base.signals.clone();
    let mut source = Vec::with_capacity(dups);
    for i in 0..dups {
        let j = (i * 7919) % m;
        let mut v: Vec<f32> = base
            .vectors
            .row(j)
            .iter()
            .zip(noise.row(i))
            .map(|(a, e)| a + 0.01 * e)
            .collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= norm);
        data.extend_from_slice(&v);
        signals.push(Signals::new(0.5, day(200.0 + i as f64 * 1e-3)));
        source.push(j);
    }
    let text_of: Vec<usize> = (0..m).chain(source).collect();
    let c = Corpus {
        vectors: Vectors { dim: DIM, data },
        signals,
        scope_of: vec![0; n],
        text_of: Some(text_of),
    };
    let (db, store) = open(dir.path(), AccessTracking::Off);
    let took = ingest(&store, &db, &c);
    let t = Instant::now();
    let dry = store
        .consolidate(
            &Scope::user("u0"),
            &ConsolidateOptions {
                dry_run: true,
                ..Default::default()
            },
        )
        .unwrap();
    let dry_time = t.elapsed();
    let t = Instant::now();
    let r = store
        .consolidate(&Scope::user("u0"), &ConsolidateOptions::default())
        .unwrap();
    let first = t.elapsed();
    let t = Instant::now();
    let again = store
        .consolidate(&Scope::user("u0"), &ConsolidateOptions::default())
        .unwrap();
    let incremental = t.elapsed();
    let merged: usize = r.groups.iter().map(|g| g.merged.len()).sum();
    println!(
        "\n### Consolidation of {n} memories in one scope (384-d, {dups} planted near-duplicates)\n"
    );
    println!("| run | memories probed | pairs compared | groups | merged | time |");
    println!("|---|---:|---:|---:|---:|---:|");
    println!(
        "| dry run (search + grouping, no writes) | {} | {} | {} | - | {:.2} s |",
        dry.probed,
        dry.pairs_compared,
        dry.groups.len(),
        dry_time.as_secs_f64()
    );
    println!(
        "| first (all new) | {} | {} | {} | {merged} | {:.2} s |",
        r.probed,
        r.pairs_compared,
        r.groups.len(),
        first.as_secs_f64()
    );
    println!(
        "| again (nothing new) | {} | {} | {} | 0 | {:.3} s |",
        again.probed,
        again.pairs_compared,
        again.groups.len(),
        incremental.as_secs_f64()
    );
    println!(
        "\n(ingest of the {n} memories: {:.1} s)",
        took.as_secs_f64()
    );
}

fn context() {
    let dir = scratch_dir();
    let c = corpus(10_000, 10, 31);
    let (db, store) = open(dir.path(), AccessTracking::Off);
    ingest(&store, &db, &c);
    let s = Scope::user("u0").session("s");
    for i in 0..60u32 {
        let text = format!(
            "turn {i}: we talked about topic {} and decided to use option {}",
            i % 7,
            i % 3
        );
        store
            .append_turn(
                &s,
                if i % 2 == 0 {
                    Role::User
                } else {
                    Role::Assistant
                },
                &text,
                Some(day(365.0)),
                None,
            )
            .unwrap();
    }
    for i in 0..20 {
        store
            .assert_fact(
                mnemodb_memory::FactInput::new(
                    Scope::user("u0"),
                    format!("project{}", i % 5),
                    format!("attr{i}"),
                    "value",
                )
                .at(day(300.0)),
            )
            .unwrap();
    }
    let qs = synthetic::queries_near(&c.vectors, 200, QUERY_NOISE, 3);
    let mut lat = Vec::new();
    let mut pure = Vec::new();
    for qi in 0..200 {
        let mut req =
            ContextRequest::new(s.clone(), "what did we decide about project3 attr8?", 2_000);
        req.query = Some(QueryInput::Both {
            text: req.message.clone(),
            vector: qs.row(qi).to_vec(),
        });
        req.now = Some(day(366.0));
        let t = Instant::now();
        let ctx = store.build_context(&req).unwrap();
        lat.push(t.elapsed());
        assert!(ctx.tokens <= 2_000);
        let input = mnemodb_memory::ContextInput {
            facts: ctx.facts.clone(),
            memories: ctx.memories.clone(),
            turns: ctx.turns.clone(),
            message: ctx.message.clone(),
        };
        let t = Instant::now();
        let again = mnemodb_memory::context::assemble(
            &input,
            2_000,
            &Default::default(),
            &mnemodb_memory::WordEstimator::default(),
        );
        pure.push(t.elapsed());
        assert_eq!(again.tokens, ctx.tokens);
    }
    println!(
        "\n### Context assembly (budget 2,000 tokens; 60-turn session, 20 facts, 1,000 memories in the user scope)\n"
    );
    println!("| step | p50 | p99 |");
    println!("|---|---:|---:|");
    println!(
        "| build_context (window + facts + recall k=8 + assembly) | {} | {} |",
        fmt(percentile(&mut lat, 0.5)),
        fmt(percentile(&mut lat, 0.99))
    );
    println!(
        "| assemble only (budgeting + rendering) | {} | {} |",
        fmt(percentile(&mut pure, 0.5)),
        fmt(percentile(&mut pure, 0.99))
    );
}

/// Where recall time goes: raw engine searches with the recall filters.
fn probe() {
    let n: usize = std::env::var("MNEMODB_MEMORY_PROBE_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let dir = scratch_dir();
    let c = corpus(n, 1, 7);
    let (db, store) = open(dir.path(), AccessTracking::Off);
    ingest(&store, &db, &c);
    let col = db.collection("memory.memories").unwrap();
    let qs = synthetic::queries_near(&c.vectors, 200, QUERY_NOISE, 11);
    let now = day(366.0);
    let vis = format!(
        r#"user = "u0" and status = "active" and valid_from <= {now} and valid_to > {now}"#
    );
    let old = day(366.0 - 180.0);
    let filters: Vec<(&str, String)> = vec![
        ("user", r#"user = "u0""#.into()),
        ("visible", vis.clone()),
        (
            "band imp>=0.7 semantic",
            format!(r#"{vis} and importance >= 0.7 and not kind in ["event", "observation"]"#),
        ),
        (
            "band imp>=0.7 ep young",
            format!(
                r#"{vis} and importance >= 0.7 and kind in ["event", "observation"] and created_at > {}"#,
                day(366.0 - 14.0)
            ),
        ),
        (
            "band imp<0.15 semantic old",
            format!(
                r#"{vis} and importance < 0.15 and not kind in ["event", "observation"] and created_at <= {old}"#
            ),
        ),
    ];
    let extra: Vec<String> = std::env::var("MNEMODB_MEMORY_PROBE_FILTERS")
        .map(|s| {
            s.split(';')
                .map(|x| {
                    x.replace("VIS", &vis)
                        .replace("NOW", &now.to_string())
                        .replace("OLD", &old.to_string())
                })
                .collect()
        })
        .unwrap_or_default();
    for f in &extra {
        let f = mnemodb::Filter::parse(f).unwrap();
        let cnt = col.count_where(&f).unwrap();
        let mut cw = Vec::new();
        for _ in 0..100 {
            let t = Instant::now();
            col.count_where(&f).unwrap();
            cw.push(t.elapsed());
        }
        println!(
            "probe eval {cnt} rows p50 {} p99 {}: {f:?}",
            fmt(percentile(&mut cw, 0.5)),
            fmt(percentile(&mut cw, 0.99))
        );
    }
    for (name, f) in filters {
        let f = mnemodb::Filter::parse(&f).unwrap();
        let cnt = col.count_where(&f).unwrap();
        for k in [16usize, 64, 256] {
            let mut lat = Vec::new();
            for qi in 0..100 {
                let q = mnemodb::Query::new(qs.row(qi).to_vec(), k).filter(f.clone());
                let t = Instant::now();
                col.search(&q).unwrap();
                lat.push(t.elapsed());
            }
            let mut cw = Vec::new();
            for _ in 0..50 {
                let t = Instant::now();
                col.count_where(&f).unwrap();
                cw.push(t.elapsed());
            }
            println!(
                "probe n={n} filter={name} ({cnt} rows) k={k}: search p50 {} p99 {}; filter eval p50 {}",
                fmt(percentile(&mut lat, 0.5)),
                fmt(percentile(&mut lat, 0.99)),
                fmt(percentile(&mut cw, 0.5))
            );
        }
    }
}
