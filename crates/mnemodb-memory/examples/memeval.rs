//! Replays memeval dev (or another memeval file) through the memory layer and prints
//! recall@5, MRR, must_not@5, leak@5 and order, overall and per case tag, for each scoring
//! model, then consolidation and fact-resolution figures.
//!
//! ```sh
//! cargo run --release -p mnemodb-memory --example memeval [-- path/to/dev.json [--runs DIR]]
//! ```
//! With `--runs DIR`, each model's run is written as `DIR/<n>.json` for `score.py`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/it/memeval_harness.rs"]
mod harness;

use harness::*;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let default = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/memeval_dev.json"
    )
    .to_string();
    let path = args
        .iter()
        .find(|a| a.ends_with(".json"))
        .cloned()
        .unwrap_or(default);
    let runs_dir = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let data = load(&std::fs::read_to_string(&path).unwrap());
    println!(
        "memeval: {} memories, {} queries, {} duplicate groups, {} distinct pairs, {} facts\n",
        data.memories.len(),
        data.queries.len(),
        data.duplicate_groups.len(),
        data.distinct_pairs.len(),
        data.facts.len()
    );
    for (i, p) in pipelines().iter().enumerate() {
        let started = std::time::Instant::now();
        let r = replay(&data, p);
        let s = summarize(&score(&data, &r.run, p.k));
        println!(
            "{}",
            table(&format!("[{i}] {} ({:.1?})", p.name, started.elapsed()), &s)
        );
        if let Some(dir) = &runs_dir {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(
                format!("{dir}/{i}.json"),
                serde_json::to_string(&r.run).unwrap(),
            )
            .unwrap();
        }
        if p.consolidate {
            let store = &r.store;
            let q = merge_quality(&data, &|id: &str| store_root(store, id));
            println!(
                "  consolidation during the replay: {}/{} duplicate groups merged, {}/{} distinct pairs merged, {} unlabelled memories merged\n",
                q.groups_merged, q.groups, q.distinct_merged, q.distinct, q.unlabelled_merges
            );
        }
    }
    println!("consolidation threshold sweep (exact pairwise, within a user):");
    println!(
        "{:>9} {:>6} {:>8} {:>9} {:>10} {:>9} {:>11}",
        "threshold", "guard", "groups", "distinct", "precision", "recall", "unlabelled"
    );
    for guard in [false, true] {
        for t in [0.5f32, 0.55, 0.6, 0.65, 0.67, 0.7, 0.75, 0.8, 0.85, 0.9] {
            let q = sweep(&data, t, guard);
            let tp = q.groups_merged as f64;
            let fp = q.distinct_merged as f64;
            let precision = if tp + fp > 0.0 { tp / (tp + fp) } else { 1.0 };
            println!(
                "{t:>9.2} {:>6} {:>5}/{:<2} {:>6}/{:<2} {precision:>10.3} {:>9.3} {:>11}",
                guard,
                q.groups_merged,
                q.groups,
                q.distinct_merged,
                q.distinct,
                tp / q.groups as f64,
                q.unlabelled_merges
            );
        }
    }
    let in_order: Vec<usize> = (0..data.facts.len()).collect();
    let reversed: Vec<usize> = in_order.iter().rev().copied().collect();
    for (name, order) in [
        ("in order", in_order),
        ("reversed (every statement arrives late)", reversed),
    ] {
        let (store, _db, _dir) = facts_only(&data, &order);
        let (v, h, n, misses) = facts_check(&store, &data);
        println!("\nfacts {name}: values {v}/{n} exact, histories {h}/{n} exact");
        for m in misses {
            println!("  miss: {m}");
        }
    }
}
