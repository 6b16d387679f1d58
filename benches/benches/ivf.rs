//! IVF: recall@10 vs single-thread QPS over an nprobe sweep, train + add time (2 threads),
//! memory per vector, open time, for IVF-Flat, IVF-SQ8 (re-ranked ×4, and without
//! re-ranking) and IVF-F16 (re-ranked ×4). Prints tables, writes `docs/bench/ivf-recall-qps.csv` and
//! `docs/bench/ivf-build.csv`; `python3 benches/faiss_peer.py` then runs faiss
//! (IndexIVFFlat, IndexIVFScalarQuantizer QT_8bit) on the same data and prints the ratios.
//!
//! ```text
//! MNEMODB_DATASET=/work/shared/datasets/wordnet-minilm-50k cargo bench -p mnemodb-benches --bench ivf
//! MNEMODB_IVF_1M=1 ...   # also synthetic 1M×96 (nlist 4000; several minutes)
//! MNEMODB_IVF_AB=7 ...    # only: lists by sub-centroid vs by centroid, side by side
//! ```
//! `MNEMODB_IVF_AB=R` builds IVF-Flat and runs every query set with probe refinement off
//! and on, alternating, `R` rounds, and prints median per-query times (wall and on-CPU).
//! Without `MNEMODB_DATASET` a synthetic 50k×384 set with exact ground truth is used.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::indexing_slicing)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use mnemodb_ann::flat::{self, Target};
use mnemodb_ann::ivf::{CodeType, IvfIndex, IvfParams, IvfSearchParams, IvfTrained};
use mnemodb_benches::{on_cpu, pool, scratch_dir, write_segment};
use mnemodb_dataset::{Neighbors, Vectors, read_ids, read_vectors, recall_at_k, synthetic};
use mnemodb_distance::Metric;
use mnemodb_io::StdFs;
use mnemodb_segment::SegmentReader;

const NPROBES: [usize; 8] = [1, 2, 4, 8, 12, 16, 32, 64];
const REPS: usize = 3;

struct QuerySet {
    name: &'static str,
    queries: Vectors,
    truth: Neighbors,
}

fn out_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/bench")
}

/// Every query once on one thread, best of `REPS` runs: (recall@10, QPS). `batch`: one
/// `search_batch` call with every query on a 1-thread pool (what faiss's `index.search`
/// of the whole set with one OpenMP thread is); otherwise one `search` call per query.
fn run_1t(
    index: &IvfIndex,
    seg: &SegmentReader,
    set: &QuerySet,
    params: &IvfSearchParams<'_>,
    batch: bool,
) -> (f64, f64) {
    let p1 = pool(1);
    let qs: Vec<&[f32]> = set.queries.rows().collect();
    let mut best = f64::INFINITY;
    let mut results: Vec<Vec<u64>> = Vec::new();
    for _ in 0..REPS {
        let t = Instant::now();
        let hits: Vec<Vec<_>> = if batch {
            index.search_batch(&p1, seg, &qs, 10, params).unwrap()
        } else {
            qs.iter()
                .map(|q| index.search(seg, q, 10, params).unwrap())
                .collect()
        };
        best = best.min(t.elapsed().as_secs_f64());
        results = hits
            .iter()
            .map(|h| h.iter().map(|h| h.id).collect())
            .collect();
    }
    let recall = recall_at_k(&results, &set.truth, 10).unwrap();
    (recall, set.queries.len() as f64 / best)
}

/// Median of `xs` (sorted in place).
fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Side by side: lists by centroid or by sub-centroid (`refine` 0 / 3), one `search` call
/// per query or one `search_batch` on a 1-thread pool, alternating rounds; median µs per
/// query (wall and on-CPU) and the ratio of on-CPU time to the first configuration.
fn ab_refine(index: &IvfIndex, seg: &SegmentReader, sets: &[QuerySet], rounds: usize) {
    const CONFIGS: [(&str, usize, bool); 4] = [
        ("centroid/query", 0, false),
        ("refined/query", 3, false),
        ("centroid/batch", 0, true),
        ("refined/batch", 3, true),
    ];
    println!("\n-- side by side ({rounds} alternating rounds, medians; µs per query) --");
    let p1 = pool(1);
    for set in sets {
        for nprobe in [8, 12, 16, 24, 32] {
            let mut wall = vec![Vec::new(); CONFIGS.len()];
            let mut cpu = vec![Vec::new(); CONFIGS.len()];
            let mut recalls = vec![0.0; CONFIGS.len()];
            for _ in 0..rounds {
                for (i, &(_, refine, batch)) in CONFIGS.iter().enumerate() {
                    let params = IvfSearchParams {
                        refine,
                        ..IvfSearchParams::new(nprobe)
                    };
                    let (t, c) = (Instant::now(), on_cpu());
                    let got: Vec<Vec<u64>> = if batch {
                        let qs: Vec<&[f32]> = set.queries.rows().collect();
                        let hits = index.search_batch(&p1, seg, &qs, 10, &params).unwrap();
                        hits.iter()
                            .map(|h| h.iter().map(|h| h.id).collect())
                            .collect()
                    } else {
                        set.queries
                            .rows()
                            .map(|q| {
                                let hits = index.search(seg, q, 10, &params).unwrap();
                                hits.iter().map(|h| h.id).collect()
                            })
                            .collect()
                    };
                    let per = 1e6 / set.queries.len() as f64;
                    wall[i].push(t.elapsed().as_secs_f64() * per);
                    cpu[i].push((on_cpu() - c).as_secs_f64() * per);
                    recalls[i] = recall_at_k(&got, &set.truth, 10).unwrap();
                }
            }
            let base = median(&mut cpu[0].clone());
            for (i, (label, _, _)) in CONFIGS.iter().enumerate() {
                let c = median(&mut cpu[i]);
                println!(
                    "{:<10} nprobe {nprobe:>3} {label:<15} recall {:.4}  wall {:>7.1}  cpu {c:>7.1}  cpu/first {:.2}",
                    set.name,
                    recalls[i],
                    median(&mut wall[i]),
                    c / base
                );
            }
        }
    }
}

fn exact_truth(seg: &SegmentReader, queries: &Vectors) -> Neighbors {
    let p = pool(2);
    let qs: Vec<&[f32]> = queries.rows().collect();
    let hits = flat::search_batch(&p, &[Target::from(seg)], &qs, 10).unwrap();
    let data: Vec<u32> = hits
        .iter()
        .flat_map(|h| h.iter().map(|h| h.id as u32))
        .collect();
    Neighbors::new(10, data).unwrap()
}

fn run_dataset(
    data: &str,
    base: &Vectors,
    nlist: usize,
    sets: &[QuerySet],
    recall_csv: &mut String,
    build_csv: &mut String,
) {
    let dir = scratch_dir();
    let seg = write_segment(dir.path(), "seg-1.vec", base, Metric::Cosine);
    let n = seg.len();
    println!("\n== {data}: {n} × {} cosine, nlist {nlist} ==", seg.dim());
    println!(
        "{:<10} {:>8} {:>8} {:>8} {:>9} {:>11} {:>10} {:>10} {:>9}",
        "index",
        "train s",
        "add s",
        "total s",
        "open ms",
        "B/vec list",
        "B/vec file",
        "imbalance",
        "max/mean"
    );
    let p2 = pool(2);
    if let Some(rounds) = std::env::var("MNEMODB_IVF_AB")
        .ok()
        .and_then(|r| r.parse::<usize>().ok())
    {
        let index = IvfIndex::build(&p2, &seg, &IvfParams::new(nlist, CodeType::F32)).unwrap();
        ab_refine(&index, &seg, sets, rounds.max(1));
        return;
    }
    let mut indexes = Vec::new();
    for (name, codes) in [
        ("ivf-flat", CodeType::F32),
        ("ivf-sq8", CodeType::Sq8),
        ("ivf-f16", CodeType::F16),
    ] {
        let params = IvfParams::new(nlist, codes);
        let t = Instant::now();
        let trained = IvfTrained::train(&p2, &seg, &params).unwrap();
        let train = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let built = trained.build(&p2, &seg).unwrap();
        let add = t.elapsed().as_secs_f64();
        let path = dir.path().join(format!("seg-1.{name}.ivf"));
        built.write(&StdFs, &path).unwrap();
        let t = Instant::now();
        let index = IvfIndex::open(&StdFs, &path, &seg).unwrap();
        let open_ms = t.elapsed().as_secs_f64() * 1e3;
        index.verify().unwrap();
        let b = index.balance();
        let per_file = index.file_len() as f64 / n as f64;
        println!(
            "{name:<10} {train:>8.2} {add:>8.2} {:>8.2} {open_ms:>9.2} {:>11} {per_file:>10.1} {:>10.3} {:>9.2}",
            train + add,
            index.bytes_per_vector(),
            b.imbalance,
            b.max_over_mean()
        );
        writeln!(
            build_csv,
            "{data},mnemodb-{name},2,{nlist},{train:.3},{add:.3},{:.3},{},{per_file:.1},{:.3},{:.3},{open_ms:.3}",
            train + add,
            index.bytes_per_vector(),
            b.imbalance,
            b.max_over_mean()
        )
        .unwrap();
        indexes.push((name, index));
    }
    println!(
        "f32 segment rows: {} B/vector (re-ranking reads k×4 of them per query)",
        seg.stride() * 4
    );
    for set in sets {
        println!(
            "\n-- {data} / {}: recall@10 and single-thread QPS --",
            set.name
        );
        // Columns: (label, index, re-rank, refine, batch). `/1by1`: one call per query;
        // `centroids`: lists by centroid only; the others one batch call (as faiss's).
        const VARIANTS: [(&str, usize, usize, usize, bool); 6] = [
            ("ivf-flat", 0, 4, 3, true),
            ("ivf-flat-1by1", 0, 4, 3, false),
            ("ivf-flat-centroids", 0, 4, 0, true),
            ("ivf-sq8", 1, 4, 3, true),
            ("ivf-sq8-norerank", 1, 0, 3, true),
            ("ivf-f16", 2, 4, 3, true),
        ];
        let mut header = format!("{:>6}", "nprobe");
        for (label, ..) in VARIANTS {
            write!(header, " | {:>18} {:>6} {:>7}", label, "R", "QPS").unwrap();
        }
        println!("{header}");
        for &nprobe in &NPROBES {
            let mut line = format!("{nprobe:>6}");
            for (label, which, rerank, refine, batch) in VARIANTS {
                let (_, index) = &indexes[which];
                let params = IvfSearchParams {
                    rerank,
                    refine,
                    ..IvfSearchParams::new(nprobe)
                };
                let (r, qps) = run_1t(index, &seg, set, &params, batch);
                write!(line, " | {:>18} {r:>6.4} {qps:>7.0}", "").unwrap();
                writeln!(
                    recall_csv,
                    "{data},{},mnemodb-{label},1,{nprobe},{r:.5},{qps:.1}",
                    set.name
                )
                .unwrap();
            }
            println!("{line}");
        }
    }
}

fn main() {
    let mut recall_csv = String::from("dataset,query_set,impl,threads,nprobe,recall_at_10,qps\n");
    let mut build_csv = String::from(
        "dataset,impl,threads,nlist,train_s,add_s,total_s,list_bytes_per_vector,file_bytes_per_vector,imbalance,max_over_mean,open_ms\n",
    );
    println!("kernels: {}", mnemodb_distance::tile_backend());
    match std::env::var_os("MNEMODB_DATASET") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            let base = read_vectors(dir.join("base.fvecs")).unwrap();
            let mut sets = vec![QuerySet {
                name: "query",
                queries: read_vectors(dir.join("query.fvecs")).unwrap(),
                truth: read_ids(dir.join("groundtruth.ivecs")).unwrap(),
            }];
            if let (Ok(q), Ok(t)) = (
                read_vectors(dir.join("ood_query.fvecs")),
                read_ids(dir.join("ood_groundtruth.ivecs")),
            ) {
                sets.push(QuerySet {
                    name: "ood_query",
                    queries: q,
                    truth: t,
                });
            }
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let nlist = IvfParams::default_nlist(base.len()).min(900);
            run_dataset(&name, &base, nlist, &sets, &mut recall_csv, &mut build_csv);
        }
        None => {
            let base = synthetic::Clustered::new(384, 200, 42)
                .spread(0.6)
                .normalize(true)
                .sample(50_000, 1);
            let queries = synthetic::Clustered::new(384, 200, 42)
                .spread(0.6)
                .normalize(true)
                .sample(500, 2);
            let dir = scratch_dir();
            let seg = write_segment(dir.path(), "t.vec", &base, Metric::Cosine);
            let truth = exact_truth(&seg, &queries);
            let sets = [QuerySet {
                name: "query",
                queries,
                truth,
            }];
            run_dataset(
                "synthetic-50k-384d",
                &base,
                900,
                &sets,
                &mut recall_csv,
                &mut build_csv,
            );
        }
    }
    if std::env::var_os("MNEMODB_IVF_1M").is_some() {
        let base = synthetic::Clustered::new(96, 1000, 7)
            .spread(0.5)
            .normalize(true)
            .sample(1_000_000, 1);
        let queries = synthetic::Clustered::new(96, 1000, 7)
            .spread(0.5)
            .normalize(true)
            .sample(500, 2);
        let dir = scratch_dir();
        let seg = write_segment(dir.path(), "t.vec", &base, Metric::Cosine);
        let truth = exact_truth(&seg, &queries);
        drop(seg);
        let sets = [QuerySet {
            name: "query",
            queries,
            truth,
        }];
        run_dataset(
            "synthetic-1m-96d",
            &base,
            4000,
            &sets,
            &mut recall_csv,
            &mut build_csv,
        );
    }
    if std::env::var_os("MNEMODB_IVF_AB").is_some() {
        return;
    }
    let dir = out_dir();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ivf-recall-qps.csv"), recall_csv).unwrap();
    std::fs::write(dir.join("ivf-build.csv"), build_csv).unwrap();
    println!(
        "\nwrote {}/ivf-recall-qps.csv and ivf-build.csv",
        dir.display()
    );
}
