//! HNSW: recall@10 vs QPS over an ef sweep (1 and 2 threads), build time (2 threads),
//! memory per vector, index open time, each hot-loop trick on and off, and filtered search
//! by selectivity. Prints tables, writes `docs/bench/hnsw-*.csv` and the recall-vs-QPS plot
//! `docs/bench/hnsw-recall-qps.{svg,png}` (with hnswlib's curves when
//! `docs/bench/hnswlib-peer.csv` exists: `python3 benches/hnswlib_peer.py`).
//!
//! ```text
//! MNEMODB_DATASET=../shared/datasets/wordnet-minilm-50k cargo bench -p mnemodb-benches --bench hnsw
//! MNEMODB_HNSW_1M=1 ...      # also synthetic 1M×96 (several minutes; writes it as fvecs for the peer)
//! MNEMODB_HNSW_ONLY_1M=1 ... # only synthetic 1M×96
//! MNEMODB_HNSW_DUEL=../shared/datasets/wordnet-minilm-50k ... # side by side with hnswlib
//!   # (default SQ8 walk and the f32 walk of the same graph; MNEMODB_HNSW_DUEL_NO_F32=1 skips
//!   # the latter; MNEMODB_HNSW_DUEL_EFS=24,64 limits the sweep; MNEMODB_HNSW_DUEL_BUILDS=n
//!   # alternating 2-thread builds, MNEMODB_HNSW_DUEL_BUILD_EXACT=1 adds a `sq8: false` build)
//! MNEMODB_HNSW_PLOT_ONLY=1 ... # only redraw the plot from the CSVs
//! ```
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::indexing_slicing)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mnemodb_ann::flat::{self, Target};
use mnemodb_ann::hnsw::{
    HnswBuilder, HnswIndex, HnswParams, Rows, SearchOptions, SearchTuning, VisitedMode,
};
use mnemodb_benches::{pool, scratch_dir, write_segment};
use mnemodb_dataset::{
    Neighbors, Vectors, read_ids, read_vectors, recall_at_k, synthetic, write_fvecs, write_ivecs,
};
use mnemodb_distance::Metric;
use mnemodb_io::StdFs;
use mnemodb_segment::SegmentReader;
use rayon::prelude::*;
use roaring::RoaringBitmap;

const EFS: [usize; 12] = [10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512];
const REPS: usize = 3;

struct QuerySet {
    name: &'static str,
    queries: Vectors,
    truth: Neighbors,
}

#[derive(Default)]
struct Csv {
    recall: String,
    build: String,
    tricks: String,
    filter: String,
    open: String,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn out_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/bench")
}

/// Run every query once on the current thread; (recall@10, seconds).
fn run_1t(index: &HnswIndex, set: &QuerySet, opts: &SearchOptions<'_>) -> (f64, f64) {
    let t = Instant::now();
    let mut out = Vec::new();
    let mut results: Vec<Vec<u64>> = Vec::with_capacity(set.queries.len());
    for q in set.queries.rows() {
        index.search_rows_into(q, 10, opts, &mut out).unwrap();
        results.push(out.iter().map(|h| h.id).collect());
    }
    let secs = t.elapsed().as_secs_f64();
    (recall_at_k(&results, &set.truth, 10).unwrap(), secs)
}

fn run_2t(
    index: &HnswIndex,
    set: &QuerySet,
    opts: &SearchOptions<'_>,
    two: &rayon::ThreadPool,
) -> f64 {
    let queries: Vec<&[f32]> = set.queries.rows().collect();
    let t = Instant::now();
    two.install(|| {
        queries.par_iter().with_min_len(8).for_each(|q| {
            std::hint::black_box(index.search(q, 10, opts).unwrap());
        })
    });
    t.elapsed().as_secs_f64()
}

fn qps(n: usize, secs: f64) -> f64 {
    n as f64 / secs
}

fn build(seg: &SegmentReader, params: HnswParams, threads: usize) -> (HnswIndex, f64) {
    let p = pool(threads);
    let t = Instant::now();
    let index = HnswIndex::build(&p, seg, params).unwrap();
    (index, t.elapsed().as_secs_f64())
}

fn sweep(
    label: &str,
    data: &str,
    index: &HnswIndex,
    sets: &[QuerySet],
    csv: &mut Csv,
    two_threads: bool,
) {
    let two = pool(2);
    for set in sets {
        println!(
            "\n{data} / {} queries / {label}: recall@10 vs QPS",
            set.name
        );
        println!(
            "{:>5} {:>8} {:>10} {:>10}",
            "ef", "recall", "QPS 1t", "QPS 2t"
        );
        for ef in EFS {
            let opts = SearchOptions::ef(ef);
            let _ = run_1t(index, set, &opts); // warm
            let mut recall = 0.0;
            let mut t1 = Vec::new();
            let mut t2 = Vec::new();
            for _ in 0..REPS {
                let (r, s) = run_1t(index, set, &opts);
                recall = r;
                t1.push(qps(set.queries.len(), s));
                if two_threads {
                    t2.push(qps(set.queries.len(), run_2t(index, set, &opts, &two)));
                }
            }
            let q1 = median(t1);
            let q2 = if two_threads { median(t2) } else { f64::NAN };
            println!("{ef:>5} {recall:>8.4} {q1:>10.0} {q2:>10.0}");
            let _ = writeln!(
                csv.recall,
                "{data},{},{label},1,{ef},{recall:.5},{q1:.1}",
                set.name
            );
            if two_threads {
                let _ = writeln!(
                    csv.recall,
                    "{data},{},{label},2,{ef},{recall:.5},{q2:.1}",
                    set.name
                );
            }
        }
    }
}

/// Each hot-loop switch on and off, interleaved rounds, median QPS (1 thread).
fn tricks(data: &str, index: &HnswIndex, sets: &[QuerySet], efs: &[usize], csv: &mut Csv) {
    let q = SearchTuning::default();
    // The f32-walk switches are measured on the f32 walk (percentages against its own
    // default, variant 4); the SQ8 ones against the SQ8 walk (variant 0).
    let d = SearchTuning {
        exact_traversal: true,
        ..q
    };
    let variants: [(&str, SearchTuning, usize); 14] = [
        ("default: SQ8 walk, codes prefetched 32 ahead", q, 0),
        (
            "SQ8 walk, codes prefetched 4 ahead",
            SearchTuning {
                prefetch_ahead_sq8: 4,
                ..q
            },
            0,
        ),
        (
            "SQ8 walk, codes prefetched 8 ahead",
            SearchTuning {
                prefetch_ahead_sq8: 8,
                ..q
            },
            0,
        ),
        (
            "SQ8 walk, prefetch off",
            SearchTuning {
                prefetch_lines: 0,
                ..q
            },
            0,
        ),
        ("f32 walk (prefetch full vector 4 ahead)", d, 0),
        (
            "f32 walk, prefetch off",
            SearchTuning {
                prefetch_lines: 0,
                ..d
            },
            4,
        ),
        (
            "f32 walk, prefetch 1 line",
            SearchTuning {
                prefetch_lines: 1,
                ..d
            },
            4,
        ),
        (
            "f32 walk, visited: clear bitset per query",
            SearchTuning {
                visited: VisitedMode::ClearBitset,
                ..d
            },
            4,
        ),
        (
            "f32 walk, prefetch full vector into L2",
            SearchTuning {
                prefetch_l2: true,
                ..d
            },
            4,
        ),
        (
            "f32 walk, prefetch 8 lines",
            SearchTuning {
                prefetch_lines: 8,
                ..d
            },
            4,
        ),
        (
            "f32 walk, prefetch full vector, 1 ahead",
            SearchTuning {
                prefetch_ahead: 1,
                ..d
            },
            4,
        ),
        (
            "f32 walk, prefetch full vector, 2 ahead",
            SearchTuning {
                prefetch_ahead: 2,
                ..d
            },
            4,
        ),
        (
            "f32 walk, prefetch full vector, 6 ahead",
            SearchTuning {
                prefetch_ahead: 6,
                ..d
            },
            4,
        ),
        (
            "f32 walk, prefetch full vector, 8 ahead",
            SearchTuning {
                prefetch_ahead: 8,
                ..d
            },
            4,
        ),
    ];
    for set in sets {
        for &ef in efs {
            println!(
                "\n{data} / {} / ef {ef}: search tricks (median of 7 interleaved rounds, 1 thread)",
                set.name
            );
            let mut samples: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
            let mut recalls = vec![0.0; variants.len()];
            for _ in 0..7 {
                for (i, (_, tuning, _)) in variants.iter().enumerate() {
                    let opts = SearchOptions {
                        ef: Some(ef),
                        tuning: *tuning,
                        ..Default::default()
                    };
                    let (r, s) = run_1t(index, set, &opts);
                    recalls[i] = r;
                    samples[i].push(qps(set.queries.len(), s));
                }
            }
            for (i, (name, _, against)) in variants.iter().enumerate() {
                let base = median(samples[*against].clone());
                let q = median(samples[i].clone());
                println!(
                    "  {name:<52} recall {:.4} QPS {q:>8.0} ({:+.1}% vs {})",
                    recalls[i],
                    100.0 * (q / base - 1.0),
                    if *against == 0 {
                        "SQ8 default"
                    } else {
                        "f32 walk"
                    }
                );
                let _ = writeln!(
                    csv.tricks,
                    "{data},{},{ef},{name},{:.5},{q:.1}",
                    set.name, recalls[i]
                );
            }
        }
    }
}

/// Filtered search: graph walk vs exact scan of the allowed rows, by selectivity.
fn filters(data: &str, index: &HnswIndex, seg: &SegmentReader, set: &QuerySet, csv: &mut Csv) {
    let n = seg.len() as u32;
    let one = pool(1);
    let queries: Vec<&[f32]> = set.queries.rows().take(200).collect();
    println!(
        "\n{data} / {}: filtered search, ef 64, k 10 (graph walk vs exact scan of allowed rows)",
        set.name
    );
    println!(
        "{:>11} {:>8} {:>14} {:>10} {:>10}",
        "selectivity", "rows", "graph recall", "graph QPS", "exact QPS"
    );
    for sel in [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 0.5] {
        let stride = (1.0 / sel) as u64;
        let allow: RoaringBitmap = (0..n)
            .filter(|r| (u64::from(*r) * 2_654_435_761) % stride == 0)
            .collect();
        let target = [Target {
            segment: seg,
            allow: Some(&allow),
        }];
        let truth: Vec<Vec<u64>> = queries
            .iter()
            .map(|q| {
                flat::search(&one, &target, q, 10)
                    .unwrap()
                    .iter()
                    .map(|h| h.id)
                    .collect()
            })
            .collect();
        let mut row = Vec::new();
        for fraction in [0.0, 1.0] {
            let mut opts = SearchOptions::ef(64).allow(&allow);
            opts.exact_fraction = Some(fraction);
            let mut secs = Vec::new();
            let mut recall = 0.0;
            for _ in 0..REPS {
                let t = Instant::now();
                let mut hit = 0usize;
                let mut total = 0usize;
                for (q, tr) in queries.iter().zip(&truth) {
                    let hits = index.search(q, 10, &opts).unwrap();
                    hit += hits.iter().filter(|h| tr.contains(&h.id)).count();
                    total += tr.len();
                }
                secs.push(t.elapsed().as_secs_f64());
                recall = hit as f64 / total.max(1) as f64;
            }
            row.push((recall, qps(queries.len(), median(secs))));
        }
        println!(
            "{sel:>11} {:>8} {:>14.4} {:>10.0} {:>10.0}",
            allow.len(),
            row[0].0,
            row[0].1,
            row[1].1
        );
        let _ = writeln!(
            csv.filter,
            "{data},{},{sel},{},{:.5},{:.1},{:.5},{:.1}",
            set.name,
            allow.len(),
            row[0].0,
            row[0].1,
            row[1].0,
            row[1].1
        );
    }
}

fn open_times(data: &str, index: &HnswIndex, seg: &SegmentReader, dir: &Path, csv: &mut Csv) {
    let path = dir.join("seg-1.hnsw");
    let info = index.write(&StdFs, &path).unwrap();
    let mut opens = Vec::new();
    for _ in 0..51 {
        let t = Instant::now();
        let opened = HnswIndex::open(&StdFs, &path, seg).unwrap();
        opens.push(t.elapsed().as_secs_f64() * 1e3);
        std::hint::black_box(opened);
    }
    let opened = HnswIndex::open(&StdFs, &path, seg).unwrap();
    let t = Instant::now();
    opened.verify().unwrap();
    let verify_ms = t.elapsed().as_secs_f64() * 1e3;
    let open_ms = median(opens);
    println!(
        "\n{data}: index file {:.1} MiB, open {open_ms:.3} ms (median of 51, mapped: {}), verify {verify_ms:.1} ms",
        info.file_len as f64 / (1 << 20) as f64,
        opened.graph().is_mapped()
    );
    let _ = writeln!(
        csv.open,
        "{data},{},{},{open_ms:.4},{verify_ms:.2}",
        seg.len(),
        info.file_len
    );
}

fn memory_and_build(
    data: &str,
    label: &str,
    index: &HnswIndex,
    seg: &SegmentReader,
    secs: f64,
    csv: &mut Csv,
) {
    let n = seg.len() as f64;
    let vec_bytes = (seg.len() * seg.stride() * 4) as f64;
    let g = index.graph();
    let links = g.links_bytes() as f64;
    let level0 = g.level0_bytes() as f64;
    let sq8 = g.sq8_bytes() as f64;
    println!(
        "{data} / {label}: build {secs:.2} s (2 threads); memory/vector: vectors {:.0} B + links {:.1} B (level 0 {:.1} B, upper {:.1} B) + SQ8 codes {:.1} B = {:.1} B; bound vectors + 1.2 × level0 = {:.1} B; max level {}",
        vec_bytes / n,
        links / n,
        level0 / n,
        (links - level0) / n,
        sq8 / n,
        (vec_bytes + links + sq8) / n,
        (vec_bytes + 1.2 * level0) / n,
        g.max_level()
    );
    let _ = writeln!(
        csv.build,
        "{data},{label},{},{secs:.3},{:.1},{:.1},{:.1},{},{:.1}",
        seg.len(),
        vec_bytes / n,
        links / n,
        level0 / n,
        g.max_level(),
        sq8 / n
    );
}

fn run_dataset(data: &str, base: &Vectors, sets: &[QuerySet], full: bool, csv: &mut Csv) {
    let dir = scratch_dir();
    let seg = write_segment(dir.path(), "seg-1.vec", base, Metric::Cosine);
    println!("\n=== {data}: {} × {} ===", seg.len(), seg.dim());
    // The engine's configuration (SQ8 codes); the same graph without them is the index
    // crate's default (`sq8: false`).
    let params = HnswParams {
        sq8: true,
        ..HnswParams::with_m(16)
    };
    let (index, secs) = build(&seg, params, 2);
    memory_and_build(data, "sq8 codes", &index, &seg, secs, csv);
    let plain = index.clone().with_sq8(false);
    memory_and_build(data, "sq8 off (same graph)", &plain, &seg, secs, csv);
    open_times(data, &index, &seg, dir.path(), csv);
    sweep("mnemodb", data, &index, sets, csv, true);
    if !full {
        return;
    }
    tricks(data, &index, sets, &[32, 96], csv);
    filters(data, &index, &seg, &sets[0], csv);
    // Build-time tricks: selection heuristic and keep_pruned off.
    for (label, p) in [
        (
            "heuristic off",
            HnswParams {
                heuristic: false,
                ..params
            },
        ),
        (
            "keep_pruned off",
            HnswParams {
                keep_pruned: false,
                ..params
            },
        ),
    ] {
        let (idx, secs) = build(&seg, p, 2);
        memory_and_build(data, label, &idx, &seg, secs, csv);
        sweep(&format!("mnemodb {label}"), data, &idx, sets, csv, false);
    }
}

fn load_sets(dir: &Path) -> Vec<QuerySet> {
    let mut sets = Vec::new();
    for (name, q, t) in [
        ("query", "query.fvecs", "groundtruth.ivecs"),
        ("ood", "ood_query.fvecs", "ood_groundtruth.ivecs"),
    ] {
        if let (Ok(queries), Ok(truth)) = (read_vectors(dir.join(q)), read_ids(dir.join(t))) {
            sets.push(QuerySet {
                name,
                queries,
                truth,
            });
        }
    }
    sets
}

/// Exact top-`k` row numbers of `queries` over `base` (cosine), with the flat scan.
fn truth_of(base: &Vectors, queries: &Vectors, k: usize) -> Neighbors {
    let dir = scratch_dir();
    let seg = write_segment(dir.path(), "truth.vec", base, Metric::Cosine);
    let qs: Vec<&[f32]> = queries.rows().collect();
    let hits = flat::search_batch(&pool(2), &[Target::from(&seg)], &qs, k).unwrap();
    let ids: Vec<u32> = hits
        .iter()
        .flat_map(|h| h.iter().map(|x| x.id as u32))
        .collect();
    Neighbors::new(k, ids).unwrap()
}

fn synthetic_1m(csv: &mut Csv) {
    let n = 1_000_000;
    let t = Instant::now();
    // Queries are fresh draws from the same mixture (like held-out data), not noisy
    // copies of rows.
    let mix = synthetic::Clustered::new(96, 1000, 42)
        .spread(0.6)
        .normalize(true);
    let base = mix.sample(n, 1);
    let queries = mix.sample(500, 2);
    let truth = truth_of(&base, &queries, 100);
    println!(
        "\nsynthetic 1M×96: generated with ground truth in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    // For the hnswlib peer: the same data as fvecs.
    let peer = Path::new("/dev/shm/mnemodb-synthetic-1m-96");
    std::fs::create_dir_all(peer).unwrap();
    write_fvecs(peer.join("base.fvecs"), &base).unwrap();
    write_fvecs(peer.join("query.fvecs"), &queries).unwrap();
    write_ivecs(
        peer.join("groundtruth.ivecs"),
        100,
        truth
            .rows()
            .flatten()
            .copied()
            .collect::<Vec<_>>()
            .as_slice(),
    )
    .unwrap();
    let sets = [QuerySet {
        name: "query",
        queries,
        truth,
    }];
    run_dataset("synthetic-1m-96", &base, &sets, false, csv);
}

fn write_csvs(csv: &Csv) {
    let dir = out_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let files = [
        (
            "hnsw-recall-qps.csv",
            "dataset,query_set,impl,threads,ef,recall_at_10,qps",
            &csv.recall,
        ),
        (
            "hnsw-build-memory.csv",
            "dataset,variant,rows,build_seconds_2t,vector_bytes_per_row,link_bytes_per_row,level0_bytes_per_row,max_level,sq8_bytes_per_row",
            &csv.build,
        ),
        (
            "hnsw-tricks.csv",
            "dataset,query_set,ef,variant,recall_at_10,qps_1t",
            &csv.tricks,
        ),
        (
            "hnsw-filter.csv",
            "dataset,query_set,selectivity,allowed_rows,graph_recall,graph_qps,exact_recall,exact_qps",
            &csv.filter,
        ),
        (
            "hnsw-open.csv",
            "dataset,rows,file_bytes,open_ms_median,verify_ms",
            &csv.open,
        ),
    ];
    for (name, header, body) in files {
        if body.is_empty() {
            continue;
        }
        // Keep other datasets' rows from earlier runs; replace this run's datasets.
        let path = dir.join(name);
        let fresh: std::collections::HashSet<&str> =
            body.lines().filter_map(|l| l.split(',').next()).collect();
        let mut text = format!("{header}\n");
        if let Ok(old) = std::fs::read_to_string(&path) {
            for line in old.lines().skip(1) {
                if !fresh.contains(line.split(',').next().unwrap_or("")) {
                    text.push_str(line);
                    text.push('\n');
                }
            }
        }
        text.push_str(body);
        std::fs::write(&path, text).unwrap();
        println!("wrote {}", path.display());
    }
}

mod plot {
    use super::*;
    use plotters::prelude::*;

    struct Curve {
        panel: String,
        label: String,
        points: Vec<(f64, f64)>,
    }

    fn curves() -> Vec<Curve> {
        let dir = out_dir();
        let mut out: Vec<Curve> = Vec::new();
        let mut add = |panel: String, label: String, x: f64, y: f64| match out
            .iter_mut()
            .find(|c| c.panel == panel && c.label == label)
        {
            Some(c) => c.points.push((x, y)),
            None => out.push(Curve {
                panel,
                label,
                points: vec![(x, y)],
            }),
        };
        // Side-by-side runs (ours and hnswlib alternating, same load) are the fair 1-thread
        // comparison; where a dataset has one, its 1-thread curves come from there.
        let mut duel_sets = std::collections::HashSet::new();
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !(name.starts_with("hnsw-duel-") && name.ends_with(".csv")) {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(entry.path()) else {
                continue;
            };
            for l in text.lines().skip(1) {
                let f: Vec<&str> = l.split(',').collect();
                if f.len() >= 6
                    && (f[2] == "mnemodb"
                        || f[2] == "hnswlib"
                        || f[2].starts_with("mnemodb f32 rows"))
                {
                    duel_sets.insert(format!("{} / {}", f[0], f[1]));
                    add(
                        format!("{} / {}", f[0], f[1]),
                        format!("{} 1t (side by side)", f[2]),
                        f[4].parse().unwrap_or(0.0),
                        f[5].parse().unwrap_or(0.0),
                    );
                }
            }
        }
        if let Ok(text) = std::fs::read_to_string(dir.join("hnsw-recall-qps.csv")) {
            for l in text.lines().skip(1) {
                let f: Vec<&str> = l.split(',').collect();
                let panel = format!("{} / {}", f[0], f.get(1).unwrap_or(&""));
                if f.len() == 7 && f[2] == "mnemodb" && !(f[3] == "1" && duel_sets.contains(&panel))
                {
                    add(
                        panel,
                        format!("mnemodb {}t", f[3]),
                        f[5].parse().unwrap_or(0.0),
                        f[6].parse().unwrap_or(0.0),
                    );
                }
            }
        }
        if let Ok(text) = std::fs::read_to_string(dir.join("hnswlib-peer.csv")) {
            for l in text.lines().skip(1) {
                let f: Vec<&str> = l.split(',').collect();
                let panel = format!("{} / {}", f[0], f.get(1).unwrap_or(&""));
                if f.len() >= 7 && !duel_sets.contains(&panel) {
                    add(
                        panel,
                        format!("hnswlib {}t", f[3]),
                        f[5].parse().unwrap_or(0.0),
                        f[6].parse().unwrap_or(0.0),
                    );
                }
            }
        }
        out
    }

    fn draw<DB: DrawingBackend>(
        root: DrawingArea<DB, plotters::coord::Shift>,
        curves: &[Curve],
    ) -> Result<(), Box<dyn std::error::Error>>
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let mut panels: Vec<&str> = curves.iter().map(|c| c.panel.as_str()).collect();
        panels.sort();
        panels.dedup();
        let areas =
            root.split_evenly((panels.len().div_ceil(2).max(1), 2.min(panels.len()).max(1)));
        for (area, panel) in areas.iter().zip(&panels) {
            let cs: Vec<&Curve> = curves.iter().filter(|c| c.panel == *panel).collect();
            let xmin = cs
                .iter()
                .flat_map(|c| c.points.iter().map(|p| p.0))
                .fold(1.0, f64::min)
                .max(0.5);
            let ymax = cs
                .iter()
                .flat_map(|c| c.points.iter().map(|p| p.1))
                .fold(1.0, f64::max);
            let mut chart = ChartBuilder::on(area)
                .caption(format!("{panel}: recall@10 vs QPS"), ("sans-serif", 18))
                .margin(10)
                .x_label_area_size(35)
                .y_label_area_size(60)
                .build_cartesian_2d((xmin - 0.01)..1.0f64, (100.0f64..ymax * 1.3).log_scale())?;
            chart
                .configure_mesh()
                .x_desc("recall@10")
                .y_desc("queries / s")
                .draw()?;
            for (i, c) in cs.iter().enumerate() {
                // One colour per implementation and thread count, the same in every panel.
                let color = match (c.label.starts_with("hnswlib"), c.label.contains("2t")) {
                    (true, _) => RGBColor(0, 150, 60).to_rgba(),
                    _ if c.label.contains("f32 rows whole") => RGBColor(150, 150, 150).to_rgba(),
                    _ if c.label.contains("f32 rows") => RGBColor(240, 150, 20).to_rgba(),
                    (false, true) => RGBColor(40, 90, 220).to_rgba(),
                    (false, false) => RGBColor(220, 30, 50).to_rgba(),
                };
                let _ = i;
                let mut pts = c.points.clone();
                pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                chart
                    .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))?
                    .label(c.label.clone())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                    });
                chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
            }
            chart
                .configure_series_labels()
                .border_style(BLACK)
                .background_style(WHITE.mix(0.8))
                .draw()?;
        }
        root.present()?;
        Ok(())
    }

    pub fn render() {
        let curves = curves();
        if curves.is_empty() {
            return;
        }
        let dir = out_dir();
        let panels = {
            let mut p: Vec<&str> = curves.iter().map(|c| c.panel.as_str()).collect();
            p.sort();
            p.dedup();
            p.len()
        };
        let size = (1400u32, 500 * panels.div_ceil(2).max(1) as u32);
        // Text is measured (SVG) and rasterised (PNG) with a TrueType font registered at
        // run time.
        let font = ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"]
            .iter()
            .find_map(|p| std::fs::read(p).ok());
        let Some(bytes) = font else {
            eprintln!("no TrueType font found: plot skipped");
            return;
        };
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_err() {
            eprintln!("could not register the font: plot skipped");
            return;
        }
        let svg = dir.join("hnsw-recall-qps.svg");
        match draw(SVGBackend::new(&svg, size).into_drawing_area(), &curves) {
            Ok(()) => println!("wrote {}", svg.display()),
            Err(e) => eprintln!("svg plot failed: {e}"),
        }
        let png = dir.join("hnsw-recall-qps.png");
        match draw(BitMapBackend::new(&png, size).into_drawing_area(), &curves) {
            Ok(()) => println!("wrote {}", png.display()),
            Err(e) => eprintln!("png plot failed: {e}"),
        }
    }
}

/// Side-by-side rounds against hnswlib on the same machine at the same time: each round
/// runs our ef sweep once, then the peer script's (`--duel`), alternating, so the
/// machine's background load hits both alike; medians per ef go to
/// `docs/bench/hnsw-duel.csv`. The built index and hnswlib's are kept on tmpfs and reused.
/// QPS where a recall/QPS curve (points in ef order) first reaches `target`, linear in
/// recall between the two points around it; NaN when it never does or starts above it.
fn qps_at_recall(points: &[(f64, f64)], target: f64) -> f64 {
    points
        .windows(2)
        .find(|w| w[0].0 < target && w[1].0 >= target)
        .map_or(f64::NAN, |w| {
            let ((r0, q0), (r1, q1)) = (w[0], w[1]);
            q0 + (target - r0) / (r1 - r0) * (q1 - q0)
        })
}

fn duel(dir: &Path) {
    let name = dir
        .file_name()
        .map_or("dataset".into(), |n| n.to_string_lossy().into_owned());
    let work = Path::new("/dev/shm/mnemodb-hnsw-duel").join(&name);
    std::fs::create_dir_all(&work).unwrap();
    let base = read_vectors(dir.join("base.fvecs")).expect("read base.fvecs");
    let sets = load_sets(dir);
    let seg_path = work.join("seg-1.vec");
    let idx_path = work.join("seg-1.hnsw");
    let seg = match SegmentReader::open(&StdFs, &seg_path) {
        Ok(s) if s.len() == base.len() => s,
        _ => write_segment(&work, "seg-1.vec", &base, Metric::Cosine),
    };
    let cached = |path: &Path, params: HnswParams| match HnswIndex::open(&StdFs, path, &seg) {
        Ok(i) => i,
        Err(_) => {
            let (i, secs) = build(&seg, params, 2);
            println!("built {} in {secs:.1} s", path.display());
            i.write(&StdFs, path).unwrap();
            HnswIndex::open(&StdFs, path, &seg).unwrap()
        }
    };
    let sq8 = HnswParams {
        sq8: true,
        ..HnswParams::with_m(16)
    };
    let index = cached(&idx_path, sq8);
    // Optional second graph for an A/B of a build option (MNEMODB_HNSW_DUEL_KEEP_PRUNED_OFF).
    let alt = std::env::var_os("MNEMODB_HNSW_DUEL_KEEP_PRUNED_OFF").map(|_| {
        let p = HnswParams {
            keep_pruned: false,
            ..sq8
        };
        cached(&work.join("seg-1-keep-pruned-off.hnsw"), p)
    });
    let rounds: usize = std::env::var("MNEMODB_HNSW_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let efs: Vec<usize> = std::env::var("MNEMODB_HNSW_DUEL_EFS")
        .ok()
        .map(|v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 128]);
    let peer = Path::new(env!("CARGO_MANIFEST_DIR")).join("hnswlib_peer.py");
    let no_peer = std::env::var_os("MNEMODB_HNSW_NO_PEER").is_some();
    // (impl, set, ef) -> (recall, qps samples)
    let mut samples: std::collections::BTreeMap<(String, String, usize), (f64, Vec<f64>)> =
        Default::default();
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<usize>().ok());
    let mut tuning = SearchTuning::default();
    if let Some(l) = env("MNEMODB_HNSW_PF_LINES") {
        tuning.prefetch_lines = l;
    }
    if let Some(a) = env("MNEMODB_HNSW_PF_AHEAD") {
        tuning.prefetch_ahead = a;
    }
    if let Some(a) = env("MNEMODB_HNSW_PF_AHEAD_PARTIAL") {
        tuning.prefetch_ahead_partial = a;
    }
    if let Some(m) = env("MNEMODB_HNSW_PARTIAL_MARGIN_PERMILLE") {
        tuning.partial_margin_permille = m as u32;
    }
    if let Some(a) = env("MNEMODB_HNSW_PF_AHEAD_SQ8") {
        tuning.prefetch_ahead_sq8 = a;
    }
    // The SQ8 walk + f32 re-rank (the engine's configuration) and, on a graph built
    // without codes (`sq8: false`: the index crate's default, memory-lean), the walk on
    // f32 rows with partial distances and with whole rows.
    let index = index.with_sq8(true);
    let lean = (std::env::var_os("MNEMODB_HNSW_DUEL_NO_F32").is_none()).then(|| {
        let p = HnswParams {
            sq8: false,
            ..HnswParams::with_m(16)
        };
        cached(&work.join("seg-1-f32.hnsw"), p)
    });
    let whole = SearchTuning {
        partial_distances: false,
        ..tuning
    };
    // MNEMODB_HNSW_DUEL_MARGINS=750,1250: the f32-rows walk again with its calibrated
    // margin scaled by these thousandths (summary line only).
    let margins: Vec<u32> = std::env::var("MNEMODB_HNSW_DUEL_MARGINS")
        .ok()
        .map(|v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_default();
    let margin_labels: Vec<String> = margins
        .iter()
        .map(|m| format!("mnemodb f32 rows margin x{:.2}", f64::from(*m) / 1000.0))
        .collect();
    let mut variants: Vec<(&str, &HnswIndex, SearchTuning)> = vec![("mnemodb", &index, tuning)];
    if let Some(lean) = &lean {
        let t = Instant::now();
        let plan = lean.partial_plan();
        println!(
            "partial-distance plan (head dims, margin): {plan:?}, calibrated in {:.2} ms",
            t.elapsed().as_secs_f64() * 1e3
        );
        variants.push(("mnemodb f32 rows", lean, tuning));
        variants.push(("mnemodb f32 rows whole", lean, whole));
        for (label, &permille) in margin_labels.iter().zip(&margins) {
            let scaled = SearchTuning {
                partial_margin_permille: permille,
                ..tuning
            };
            variants.push((label.as_str(), lean, scaled));
        }
    }
    for round in 0..rounds {
        for &(label, index, tuning) in &variants {
            for set in &sets {
                for &ef in &efs {
                    let opts = SearchOptions {
                        ef: Some(ef),
                        tuning,
                        ..Default::default()
                    };
                    let (r, s) = run_1t(index, set, &opts);
                    let e = samples
                        .entry((label.into(), set.name.into(), ef))
                        .or_default();
                    e.0 = r;
                    e.1.push(qps(set.queries.len(), s));
                }
            }
        }
        if let Some(alt) = &alt {
            for set in &sets {
                for &ef in &efs {
                    let opts = SearchOptions {
                        ef: Some(ef),
                        tuning,
                        ..Default::default()
                    };
                    let (r, s) = run_1t(alt, set, &opts);
                    let e = samples
                        .entry(("keep_pruned off".into(), set.name.into(), ef))
                        .or_default();
                    e.0 = r;
                    e.1.push(qps(set.queries.len(), s));
                }
            }
        }
        if no_peer {
            continue;
        }
        let out = std::process::Command::new("python3")
            .arg(&peer)
            .arg("--duel")
            .arg(dir)
            .arg(work.join("hnswlib.bin"))
            .arg(
                efs.iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
            )
            .output()
            .expect("run python3 benches/hnswlib_peer.py");
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let f: Vec<&str> = line.split(',').collect();
            if f.len() == 4 && f[0] != "set" {
                let e = samples
                    .entry(("hnswlib".into(), f[0].into(), f[1].parse().unwrap_or(0)))
                    .or_default();
                e.0 = f[2].parse().unwrap_or(0.0);
                e.1.push(f[3].parse().unwrap_or(0.0));
            }
        }
        if !out.status.success() {
            eprintln!("peer failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        println!("round {round} done");
    }
    let mut csv =
        String::from("dataset,query_set,impl,ef,recall_at_10,qps_1t_median,qps_1t_samples\n");
    println!("\n{name}: side by side, 1 thread, median of {rounds} alternating rounds");
    println!(
        "{:>6} {:>5} {:>10} {:>9} {:>10} {:>9}",
        "set", "ef", "ours rec", "ours QPS", "hnswlib rec", "hnswlib QPS"
    );
    for set in &sets {
        for &ef in &efs {
            let get = |imp: &str| {
                samples
                    .get(&(imp.to_string(), set.name.to_string(), ef))
                    .map(|(r, q)| (*r, median(q.clone()), q.clone()))
            };
            let ours = get("mnemodb");
            let theirs = get("hnswlib");
            let alt = get("keep_pruned off");
            let f32_rows = get("mnemodb f32 rows");
            let f32_whole = get("mnemodb f32 rows whole");
            if let Some((r, q, _)) = &alt {
                println!(
                    "{:>6} {ef:>5} keep_pruned off: recall {r:.4} QPS {q:.0}",
                    set.name
                );
            }
            for (imp, v) in [
                ("mnemodb", &ours),
                ("hnswlib", &theirs),
                ("mnemodb keep_pruned off", &alt),
                ("mnemodb f32 rows", &f32_rows),
                ("mnemodb f32 rows whole", &f32_whole),
            ] {
                if let Some((r, q, all)) = v {
                    let all: Vec<String> = all.iter().map(|x| format!("{x:.0}")).collect();
                    let _ = writeln!(
                        csv,
                        "{name},{},{imp},{ef},{r:.5},{q:.1},{}",
                        set.name,
                        all.join(" ")
                    );
                }
            }
            let f = |v: &Option<(f64, f64, Vec<f64>)>| {
                v.as_ref().map_or((f64::NAN, f64::NAN), |x| (x.0, x.1))
            };
            let (or, oq) = f(&ours);
            let (tr, tq) = f(&theirs);
            let (xr, xq) = f(&f32_rows);
            let (wr, wq) = f(&f32_whole);
            println!(
                "{:>6} {ef:>5} {or:>10.4} {oq:>9.0} {tr:>10.4} {tq:>9.0} {:>6.2}x   f32 rows {xr:.4} {xq:.0} {:.2}x   whole rows {wr:.4} {wq:.0} {:.2}x",
                set.name,
                oq / tq,
                xq / tq,
                wq / tq
            );
        }
    }
    // QPS where each curve crosses recall@10 = 0.95 (linear between the two efs that
    // bracket it), and the ratios to hnswlib's.
    for set in &sets {
        let at = |imp: &str| {
            let points: Vec<(f64, f64)> = efs
                .iter()
                .filter_map(|&ef| samples.get(&(imp.to_string(), set.name.to_string(), ef)))
                .map(|(r, q)| (*r, median(q.clone())))
                .collect();
            qps_at_recall(&points, 0.95)
        };
        let peer = at("hnswlib");
        let line: Vec<String> = [
            "mnemodb",
            "mnemodb f32 rows",
            "mnemodb f32 rows whole",
            "hnswlib",
        ]
        .into_iter()
        .chain(margin_labels.iter().map(String::as_str))
        .map(|imp| {
            let q = at(imp);
            format!("{imp} {q:.0} ({:.2}x)", q / peer)
        })
        .collect();
        println!("{:>6} QPS at recall 0.95: {}", set.name, line.join(", "));
    }
    let path = out_dir().join(format!("hnsw-duel-{name}.csv"));
    std::fs::write(&path, csv).unwrap();
    println!("wrote {}", path.display());

    // Build time, 2 threads, alternating with hnswlib's build of the same data.
    let builds = env("MNEMODB_HNSW_DUEL_BUILDS").unwrap_or(0);
    if builds == 0 {
        return;
    }
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    let mut exact_builds = Vec::new();
    let mut fill_builds = Vec::new();
    let with_exact = std::env::var_os("MNEMODB_HNSW_DUEL_BUILD_EXACT").is_some();
    let recall_of = |index: &HnswIndex| {
        sets.iter()
            .flat_map(|set| {
                [24, 64].map(|ef| {
                    let (r, _) = run_1t(index, set, &SearchOptions::ef(ef));
                    format!("{} ef {ef}: {r:.4}", set.name)
                })
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    for _ in 0..builds {
        let sq8 = HnswParams {
            sq8: true,
            ..HnswParams::with_m(16)
        };
        let (built, secs) = build(&seg, sq8, 2);
        println!("ours (SQ8 build) {secs:.1} s; recall {}", recall_of(&built));
        ours.push(secs);
        if std::env::var_os("MNEMODB_HNSW_DUEL_BUILD_FILL").is_some() {
            let p = HnswParams {
                keep_pruned_on_overflow: true,
                ..sq8
            };
            let (built, secs) = build(&seg, p, 2);
            println!(
                "ours (keep_pruned_on_overflow) {secs:.1} s; recall {}",
                recall_of(&built)
            );
            fill_builds.push(secs);
        }
        if with_exact {
            let p = pool(2);
            let t = Instant::now();
            // The memory-lean configuration: no codes, every distance on f32 rows.
            let lean = HnswParams {
                sq8: false,
                ..HnswParams::with_m(16)
            };
            let graph = HnswBuilder::new(Metric::Cosine, lean)
                .unwrap()
                .build(&p, Rows::from(&seg))
                .unwrap();
            let secs = t.elapsed().as_secs_f64();
            let built = HnswIndex::from_parts(graph, &seg).unwrap();
            println!(
                "ours (sq8: false, f32 build) {secs:.1} s; recall {}",
                recall_of(&built)
            );
            exact_builds.push(secs);
        }
        if no_peer {
            continue;
        }
        let out = std::process::Command::new("python3")
            .arg(&peer)
            .arg("--build-time")
            .arg(dir)
            .output()
            .expect("run python3 benches/hnswlib_peer.py");
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some(v) = line.strip_prefix("build,") {
                theirs.push(v.trim().parse::<f64>().unwrap_or(f64::NAN));
            }
        }
        println!(
            "build round: ours {:.1} s, hnswlib {:?}",
            secs,
            theirs.last()
        );
    }
    let fmt = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.2}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut text = format!(
        "dataset,impl,threads,build_seconds_median,build_seconds_samples\n{name},mnemodb,2,{:.2},{}\n{name},hnswlib,2,{:.2},{}\n",
        median(ours.clone()),
        fmt(&ours),
        if theirs.is_empty() {
            f64::NAN
        } else {
            median(theirs.clone())
        },
        fmt(&theirs)
    );
    if !fill_builds.is_empty() {
        text.push_str(&format!(
            "{name},mnemodb keep_pruned_on_overflow,2,{:.2},{}\n",
            median(fill_builds.clone()),
            fmt(&fill_builds)
        ));
    }
    if !exact_builds.is_empty() {
        text.push_str(&format!(
            "{name},mnemodb sq8 false (f32 build),2,{:.2},{}\n",
            median(exact_builds.clone()),
            fmt(&exact_builds)
        ));
    }
    let path = out_dir().join(format!("hnsw-duel-build-{name}.csv"));
    std::fs::write(&path, &text).unwrap();
    print!("{text}");
    println!("wrote {}", path.display());
}

fn main() {
    if std::env::var_os("MNEMODB_HNSW_PLOT_ONLY").is_some() {
        plot::render();
        return;
    }
    if let Some(dir) = std::env::var_os("MNEMODB_HNSW_DUEL") {
        duel(Path::new(&dir));
        return;
    }
    if let Some(dir) = std::env::var_os("MNEMODB_HNSW_TRICKS") {
        // Only the search-trick table, on the duel's cached index.
        let dir = PathBuf::from(dir);
        let name = dir
            .file_name()
            .map_or("dataset".into(), |n| n.to_string_lossy().into_owned());
        let work = Path::new("/dev/shm/mnemodb-hnsw-duel").join(&name);
        let seg = SegmentReader::open(&StdFs, &work.join("seg-1.vec")).expect("run the duel first");
        let index =
            HnswIndex::open(&StdFs, &work.join("seg-1.hnsw"), &seg).expect("run the duel first");
        let mut csv = Csv::default();
        tricks(&name, &index, &load_sets(&dir), &[32, 96], &mut csv);
        let path = out_dir().join(format!("hnsw-tricks-{name}.csv"));
        std::fs::write(
            &path,
            format!(
                "dataset,query_set,ef,variant,recall_at_10,qps_1t\n{}",
                csv.tricks
            ),
        )
        .unwrap();
        println!("wrote {}", path.display());
        return;
    }
    let start = Instant::now();
    let mut csv = Csv::default();
    println!(
        "simsimd target {}, {} threads available",
        mnemodb_distance::simsimd_target(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    match std::env::var_os("MNEMODB_DATASET") {
        _ if std::env::var_os("MNEMODB_HNSW_ONLY_1M").is_some() => {}
        Some(dir) => {
            let dir = PathBuf::from(dir);
            let base = read_vectors(dir.join("base.fvecs")).expect("read base.fvecs");
            let sets = load_sets(&dir);
            let name = dir
                .file_name()
                .map_or("dataset".into(), |n| n.to_string_lossy().into_owned());
            run_dataset(&name, &base, &sets, true, &mut csv);
        }
        None => {
            let base = synthetic::Clustered::new(384, 100, 42)
                .spread(0.8)
                .normalize(true)
                .sample(50_000, 1);
            let queries = synthetic::queries_near(&base, 500, 0.8, 2);
            let truth = truth_of(&base, &queries, 10);
            let sets = [QuerySet {
                name: "query",
                queries,
                truth,
            }];
            run_dataset("synthetic-50k-384", &base, &sets, true, &mut csv);
        }
    }
    if std::env::var_os("MNEMODB_HNSW_1M").is_some()
        || std::env::var_os("MNEMODB_HNSW_ONLY_1M").is_some()
    {
        synthetic_1m(&mut csv);
    }
    write_csvs(&csv);
    plot::render();
    println!(
        "\ntotal {:.0?}",
        Duration::from_secs(start.elapsed().as_secs())
    );
}
