//! `mnemodb bench`: build an index over a dataset, sweep `ef` / `nprobe`, report recall@k,
//! QPS, latency percentiles, build time and memory; write CSV + JSON and draw the
//! recall-vs-QPS curves (several runs on one plot with `--plot-with`).
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use mnemodb_ann::hnsw::HnswParams;
use mnemodb_ann::ivf::IvfParams;
use mnemodb_dataset::{Neighbors, Vectors, exact_knn, read_ids, write_ivecs};
use mnemodb_distance::Metric;
use mnemodb_io::StdFs;
use mnemodb_segment::{SegmentOptions, SegmentReader, SegmentWriter};
use serde_json::json;

use crate::error::{CliError, Result};
use crate::input;
use crate::output::{self, Format};

mod plot;
mod report;
mod run;

pub use run::IndexChoice;

/// `mnemodb bench`
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    mnemodb bench ../shared/datasets/wordnet-minilm-50k --index hnsw,ivf --out bench-out\n  \
    mnemodb bench data --queries ood_query.fvecs --ef 32,64,96,128,256 --name ood\n  \
    mnemodb bench data --m 32 --label m32 --plot-with bench-out/bench.csv   # before/after on one plot\n\n\
    The directory holds base.fvecs and query.fvecs (TEXMEX; .npy also read) and optionally\n\
    groundtruth.ivecs; missing ground truth is computed exactly and saved beside the results.\n\
    QPS and latencies are single-thread; the build uses --threads.")]
pub struct BenchArgs {
    /// Dataset directory.
    dir: PathBuf,
    /// Base vectors file, relative to the directory.
    #[arg(long, default_value = "base.fvecs")]
    base: PathBuf,
    /// Query vectors file, relative to the directory.
    #[arg(long, default_value = "query.fvecs")]
    queries: PathBuf,
    /// Ground-truth file (default: `groundtruth.ivecs` for `query.fvecs`,
    /// `<x>groundtruth.ivecs` for `<x>query.fvecs`; computed when missing).
    #[arg(long)]
    groundtruth: Option<PathBuf>,
    /// Indexes to build, comma-separated; each becomes a curve.
    #[arg(long, value_delimiter = ',', default_value = "hnsw")]
    index: Vec<IndexChoice>,
    /// Distance metric.
    #[arg(long, default_value = "cosine", value_parser = input::parse_metric)]
    metric: Metric,
    /// Results per query (recall@k).
    #[arg(short, long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    k: u32,
    /// Use only the first N base vectors (ground truth is then recomputed).
    #[arg(long)]
    base_limit: Option<usize>,
    /// Use only the first N queries.
    #[arg(long)]
    query_limit: Option<usize>,
    /// HNSW: links per node.
    #[arg(long, default_value_t = 16)]
    m: usize,
    /// HNSW: candidate list size while building.
    #[arg(long, default_value_t = 200)]
    ef_construction: usize,
    /// HNSW: `ef` values to sweep.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "10,16,24,32,48,64,96,128,192,256"
    )]
    ef: Vec<usize>,
    /// IVF: inverted lists (default 4·√rows).
    #[arg(long)]
    nlist: Option<usize>,
    /// IVF: `nprobe` values to sweep.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8,16,32,64")]
    nprobe: Vec<usize>,
    /// IVF-SQ8: re-rank the best k × this many candidates with f32 rows.
    #[arg(long, default_value_t = 4)]
    rerank: usize,
    /// Threads for the build and the exact scan (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Timed passes per point (QPS is their median).
    #[arg(long, default_value_t = 1)]
    reps: usize,
    /// Output directory for CSV, JSON, SVG and PNG.
    #[arg(long, default_value = "bench-out")]
    out: PathBuf,
    /// File name stem of the outputs (default `bench`).
    #[arg(long, default_value = "bench")]
    name: String,
    /// Curve label (default: index and parameters).
    #[arg(long)]
    label: Option<String>,
    /// Earlier results (CSV from `mnemodb bench`) to draw on the same plot.
    #[arg(long)]
    plot_with: Vec<PathBuf>,
    /// Do not draw the plot.
    #[arg(long)]
    no_plot: bool,
}

fn check_args(a: &BenchArgs) -> Result<()> {
    if a.ef.contains(&0) {
        return Err(CliError::invalid("--ef values must be at least 1"));
    }
    if a.nprobe.contains(&0) {
        return Err(CliError::invalid("--nprobe values must be at least 1"));
    }
    if a.nlist == Some(0) {
        return Err(CliError::invalid("--nlist must be at least 1"));
    }
    if a.threads == Some(0) || a.reps == 0 {
        return Err(CliError::invalid("--threads and --reps must be at least 1"));
    }
    if a.name.is_empty() || a.name.contains(['/', '\\']) {
        return Err(CliError::invalid(format!(
            "--name `{}` must be a plain file name stem",
            a.name
        )));
    }
    HnswParams {
        ef_construction: a.ef_construction,
        ..HnswParams::with_m(a.m)
    }
    .validate()
    .map_err(|e| CliError::invalid(format!("{e} (--m / --ef-construction)")))
}

fn default_truth(queries: &Path) -> PathBuf {
    let stem = queries
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("query");
    let name = if stem.contains("query") {
        stem.replacen("query", "groundtruth", 1)
    } else {
        format!("{stem}_groundtruth")
    };
    queries.with_file_name(format!("{name}.ivecs"))
}

/// Ground truth: the dataset's when it fits, else computed exactly (and saved).
fn ground_truth(
    a: &BenchArgs,
    base: &Vectors,
    full_base: bool,
    queries: &Vectors,
    k: usize,
) -> Result<Neighbors> {
    let explicit = a.groundtruth.as_ref().map(|g| a.dir.join(g));
    let path = explicit
        .clone()
        .unwrap_or_else(|| default_truth(&a.dir.join(&a.queries)));
    if full_base && path.is_file() {
        let mut truth = read_ids(&path)?;
        if truth.k < k {
            return Err(CliError::invalid(format!(
                "{}: holds {} neighbours per query, recall@{k} needs {k} (lower -k or drop the file to recompute)",
                path.display(),
                truth.k
            )));
        }
        if truth.len() < queries.len() {
            return Err(CliError::invalid(format!(
                "{}: holds {} queries, {} needs {}",
                path.display(),
                truth.len(),
                a.queries.display(),
                queries.len()
            )));
        }
        truth.data.truncate(queries.len() * truth.k);
        return Ok(truth);
    }
    if let Some(p) = explicit.filter(|_| full_base) {
        return Err(CliError::invalid(format!("{}: no such file", p.display())));
    }
    output::note(&format!(
        "computing exact ground truth ({} queries × {} rows)…",
        queries.len(),
        base.len()
    ));
    let t = Instant::now();
    let truth = exact_knn(a.metric, base, queries, k)?;
    let saved = a.out.join(format!("{}-groundtruth.ivecs", a.name));
    write_ivecs(&saved, truth.k, &truth.data)?;
    output::note(&format!(
        "ground truth computed in {}, saved to {}",
        output::secs(t.elapsed().as_secs_f64()),
        saved.display()
    ));
    Ok(truth)
}

/// Write `base` as segment `path` (ids = row numbers) and open it.
fn write_segment(path: &Path, base: &Vectors, metric: Metric) -> Result<SegmentReader> {
    let dim = u32::try_from(base.dim).map_err(|_| CliError::invalid("dimension too large"))?;
    let mut w = SegmentWriter::create(&StdFs, path, SegmentOptions::new(dim, metric, 1))?;
    for (i, row) in base.rows().enumerate() {
        w.push(i as u64, row)?;
    }
    w.finish()?;
    Ok(SegmentReader::open(&StdFs, path)?)
}

/// Run `bench`.
pub fn run(a: BenchArgs, format: Format) -> Result<()> {
    check_args(&a)?;
    let k = a.k as usize;
    if !a.dir.is_dir() {
        return Err(CliError::invalid(format!(
            "{}: not a directory (expected a dataset directory with base.fvecs and query.fvecs)",
            a.dir.display()
        )));
    }
    let mut plot_with = Vec::new();
    for p in &a.plot_with {
        plot_with.extend(report::read_csv(p)?);
    }
    std::fs::create_dir_all(&a.out).map_err(|e| CliError::io("create directory", &a.out, &e))?;
    let t = Instant::now();
    let mut base = input::read_dataset(&a.dir.join(&a.base))?;
    let full_base = a.base_limit.is_none_or(|n| n >= base.len());
    if let Some(n) = a.base_limit {
        base.data.truncate(n.saturating_mul(base.dim));
    }
    let mut queries = input::read_dataset(&a.dir.join(&a.queries))?;
    if let Some(n) = a.query_limit {
        queries.data.truncate(n.saturating_mul(queries.dim));
    }
    if base.is_empty() || queries.is_empty() {
        return Err(CliError::invalid(format!(
            "{}: the base and the queries need at least one vector each",
            a.dir.display()
        )));
    }
    if base.dim != queries.dim {
        return Err(CliError::invalid(format!(
            "queries are {}-dimensional, the base {}-dimensional",
            queries.dim, base.dim
        )));
    }
    if a.metric == Metric::Cosine
        && let Some(i) = base.rows().position(|r| r.iter().all(|x| *x == 0.0))
    {
        output::note(&format!(
            "note: base row {i} is a zero vector (cosine distance 1 to everything)"
        ));
    }
    let truth = ground_truth(&a, &base, full_base, &queries, k)?;
    let load_s = t.elapsed().as_secs_f64();
    let threads = a
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| CliError::runtime(format!("start {threads} threads: {e}")))?;
    let scratch = tempfile::Builder::new()
        .prefix("mnemodb-bench-")
        .tempdir()
        .map_err(|e| CliError::runtime(format!("create a scratch directory: {e}")))?;
    let seg = write_segment(&scratch.path().join("base.vec"), &base, a.metric)?;
    let hnsw = HnswParams {
        ef_construction: a.ef_construction,
        sq8: true,
        ..HnswParams::with_m(a.m)
    };
    let nlist = a
        .nlist
        .unwrap_or_else(|| IvfParams::default_nlist(base.len()));
    let sweep = run::Sweep {
        queries: &queries,
        truth: &truth,
        k,
        reps: a.reps,
        efs: &a.ef,
        nprobes: &a.nprobe,
        rerank: a.rerank,
        hnsw,
        nlist,
    };
    let human = format == Format::Human;
    if human {
        output::note(&format!(
            "{}: {} base × {} dims, {} queries, {}, k={k}, {threads} build threads (loaded in {})",
            a.dir.display(),
            base.len(),
            base.dim,
            queries.len(),
            a.metric,
            output::secs(load_s)
        ));
    }
    let mut points = Vec::new();
    for &choice in &a.index {
        let build_params = match choice {
            IndexChoice::Hnsw => format!("m={} ef_construction={}", a.m, a.ef_construction),
            IndexChoice::Ivf | IndexChoice::IvfSq8 | IndexChoice::IvfF16 => {
                format!("nlist={nlist}")
            }
            IndexChoice::Flat => String::new(),
        };
        let label = match (&a.label, a.index.len()) {
            (Some(l), 1) => l.clone(),
            (Some(l), _) => format!("{l} {}", choice.name()),
            (None, _) => format!("{} {build_params}", choice.name())
                .trim()
                .to_string(),
        };
        let template = report::Point {
            label,
            index: choice.name().into(),
            build_params,
            param_name: String::new(),
            param: 0,
            k,
            recall: 0.0,
            qps: 0.0,
            p50_us: 0.0,
            p95_us: 0.0,
            p99_us: 0.0,
            build_s: 0.0,
            index_bytes: 0,
            vector_bytes: 0,
            peak_rss_bytes: 0,
            queries: queries.len(),
            base_rows: base.len(),
            dim: base.dim,
            metric: a.metric.to_string(),
        };
        if human {
            output::note(&format!("building {}…", template.label));
        }
        let mut first = true;
        let mut progress = |p: &report::Point| {
            if human {
                if first {
                    output::note(&format!(
                        "built in {}; index {}, vectors {}",
                        output::secs(p.build_s),
                        output::bytes(p.index_bytes),
                        output::bytes(p.vector_bytes)
                    ));
                    first = false;
                }
                output::note(&format!(
                    "  {}: recall@{k} {:.4}, {:.0} QPS",
                    report::param_text(p),
                    p.recall,
                    p.qps
                ));
            }
        };
        points.extend(run::run_index(
            choice,
            &pool,
            &seg,
            &sweep,
            template,
            &mut progress,
        )?);
    }
    let stem = a.out.join(&a.name);
    let csv = stem.with_extension("csv");
    let json_path = stem.with_extension("json");
    report::write(&csv, &report::to_csv(&points))?;
    let summary = json!({
        "dataset": a.dir.display().to_string(),
        "base": a.base.display().to_string(),
        "queries": a.queries.display().to_string(),
        "base_rows": base.len(), "query_count": queries.len(), "dim": base.dim,
        "metric": a.metric.to_string(), "k": k, "build_threads": threads,
        "points": points,
    });
    let pretty = serde_json::to_string_pretty(&summary)
        .map_err(|e| CliError::runtime(format!("encode JSON: {e}")))?;
    report::write(&json_path, &pretty)?;
    let mut written = vec![csv, json_path];
    let mut plotted = points.clone();
    plotted.extend(plot_with);
    if !a.no_plot {
        let dataset = a.dir.file_name().map_or_else(
            || a.dir.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let title = format!("{dataset} / {}: recall@{k} vs QPS", a.queries.display());
        let files = plot::render(&stem, &title, k, &plotted)?;
        if files.is_empty() {
            output::note(
                "note: no TrueType font found (install fonts-dejavu-core or set MNEMODB_PLOT_FONT): plot skipped",
            );
        }
        written.extend(files);
    }
    match format {
        Format::Json => output::print_json(&summary),
        Format::Human => {
            let mut text = report::table(&points);
            let mut builds: Vec<&report::Point> = Vec::new();
            for p in &points {
                if !builds.iter().any(|b| b.label == p.label) {
                    builds.push(p);
                }
            }
            text.push('\n');
            for b in builds {
                text.push_str(&format!(
                    "{}: build {}, index {}, vectors {}, peak RSS {}\n",
                    b.label,
                    output::secs(b.build_s),
                    output::bytes(b.index_bytes),
                    output::bytes(b.vector_bytes),
                    output::bytes(b.peak_rss_bytes)
                ));
            }
            for w in &written {
                text.push_str(&format!("wrote {}\n", w.display()));
            }
            output::print(&text)
        }
    }
}
