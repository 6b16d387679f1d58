//! Building an index and sweeping its search parameter: recall@k, QPS and latency
//! percentiles of single-thread searches.
use std::time::Instant;

use mnemodb_ann::flat::{self, Target};
use mnemodb_ann::hnsw::{HnswIndex, HnswParams, SearchOptions};
use mnemodb_ann::ivf::{CodeType, IvfIndex, IvfParams, IvfSearchParams};
use mnemodb_dataset::{Neighbors, Vectors, recall_at_k};
use mnemodb_segment::SegmentReader;

use super::report::Point;
use crate::error::{CliError, Result};

/// What to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum IndexChoice {
    /// HNSW graph (sweeps `--ef`).
    Hnsw,
    /// IVF-Flat (sweeps `--nprobe`).
    Ivf,
    /// IVF-SQ8 with f32 re-ranking (sweeps `--nprobe`).
    IvfSq8,
    /// IVF-F16 (half-precision lists) with f32 re-ranking (sweeps `--nprobe`).
    IvfF16,
    /// Exact scan on the build pool (one point, recall 1).
    Flat,
}

impl IndexChoice {
    /// Short name.
    pub fn name(self) -> &'static str {
        match self {
            IndexChoice::Hnsw => "hnsw",
            IndexChoice::Ivf => "ivf",
            IndexChoice::IvfSq8 => "ivf-sq8",
            IndexChoice::IvfF16 => "ivf-f16",
            IndexChoice::Flat => "flat",
        }
    }
}

/// Sweep settings shared by every run.
#[derive(Debug, Clone)]
pub struct Sweep<'a> {
    /// Queries.
    pub queries: &'a Vectors,
    /// Ground truth (base row numbers).
    pub truth: &'a Neighbors,
    /// Results per query.
    pub k: usize,
    /// Timed passes per point (median QPS).
    pub reps: usize,
    /// HNSW `ef` values.
    pub efs: &'a [usize],
    /// IVF `nprobe` values.
    pub nprobes: &'a [usize],
    /// IVF-SQ8 re-rank factor.
    pub rerank: usize,
    /// HNSW build parameters.
    pub hnsw: HnswParams,
    /// IVF lists.
    pub nlist: usize,
}

/// The measurement of one pass: per-query latencies (seconds) and ids.
struct Pass {
    secs: f64,
    lat: Vec<f64>,
    ids: Vec<Vec<u64>>,
}

/// Run every query once through `search` on this thread.
fn pass(queries: &Vectors, mut search: impl FnMut(&[f32]) -> Result<Vec<u64>>) -> Result<Pass> {
    let mut lat = Vec::with_capacity(queries.len());
    let mut ids = Vec::with_capacity(queries.len());
    let start = Instant::now();
    for q in queries.rows() {
        let t = Instant::now();
        let hits = search(q)?;
        lat.push(t.elapsed().as_secs_f64());
        ids.push(hits);
    }
    Ok(Pass {
        secs: start.elapsed().as_secs_f64(),
        lat,
        ids,
    })
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted
        .get(rank.clamp(1, sorted.len()) - 1)
        .copied()
        .unwrap_or(0.0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Peak resident set size of this process (Linux `VmHWM`), bytes; 0 when unknown.
pub fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Measure one sweep point: a warm-up pass over up to 100 queries, then `reps` passes.
fn measure(
    sweep: &Sweep<'_>,
    template: &Point,
    param_name: &str,
    param: usize,
    mut search: impl FnMut(&[f32]) -> Result<Vec<u64>>,
) -> Result<Point> {
    let warm = sweep.queries.len().min(100);
    for q in sweep.queries.rows().take(warm) {
        std::hint::black_box(search(q)?);
    }
    let mut qps = Vec::new();
    let mut last = None;
    for _ in 0..sweep.reps.max(1) {
        let p = pass(sweep.queries, &mut search)?;
        qps.push(sweep.queries.len() as f64 / p.secs.max(1e-9));
        last = Some(p);
    }
    let Some(mut last) = last else {
        return Err(CliError::runtime("no pass ran"));
    };
    let recall = recall_at_k(&last.ids, sweep.truth, sweep.k)?;
    last.lat.sort_by(f64::total_cmp);
    Ok(Point {
        param_name: param_name.to_string(),
        param,
        recall,
        qps: median(qps),
        p50_us: percentile(&last.lat, 50.0) * 1e6,
        p95_us: percentile(&last.lat, 95.0) * 1e6,
        p99_us: percentile(&last.lat, 99.0) * 1e6,
        peak_rss_bytes: peak_rss(),
        ..template.clone()
    })
}

/// Build `choice` over `seg` on `pool` and sweep it; `template` carries the run's
/// labels and sizes. `progress` is told about each point.
pub fn run_index(
    choice: IndexChoice,
    pool: &rayon::ThreadPool,
    seg: &SegmentReader,
    sweep: &Sweep<'_>,
    template: Point,
    progress: &mut dyn FnMut(&Point),
) -> Result<Vec<Point>> {
    let vector_bytes = (seg.len() * seg.stride() * 4) as u64;
    let mut out = Vec::new();
    let k = sweep.k;
    match choice {
        IndexChoice::Hnsw => {
            let t = Instant::now();
            let index = HnswIndex::build(pool, seg, sweep.hnsw)?;
            let template = Point {
                build_s: t.elapsed().as_secs_f64(),
                index_bytes: (index.graph().links_bytes() + index.graph().sq8_bytes()) as u64,
                vector_bytes,
                ..template
            };
            for &ef in sweep.efs {
                let opts = SearchOptions::ef(ef);
                let p = measure(sweep, &template, "ef", ef, |q| {
                    Ok(index
                        .search(q, k, &opts)?
                        .into_iter()
                        .map(|h| h.id)
                        .collect())
                })?;
                progress(&p);
                out.push(p);
            }
        }
        IndexChoice::Ivf | IndexChoice::IvfSq8 | IndexChoice::IvfF16 => {
            let codes = match choice {
                IndexChoice::Ivf => CodeType::F32,
                IndexChoice::IvfSq8 => CodeType::Sq8,
                _ => CodeType::F16,
            };
            let t = Instant::now();
            let index = IvfIndex::build(pool, seg, &IvfParams::new(sweep.nlist, codes))?;
            let template = Point {
                build_s: t.elapsed().as_secs_f64(),
                index_bytes: index.file_len(),
                vector_bytes: if codes == CodeType::F32 {
                    0
                } else {
                    vector_bytes
                },
                ..template
            };
            for &nprobe in sweep.nprobes {
                let params = IvfSearchParams {
                    rerank: sweep.rerank,
                    ..IvfSearchParams::new(nprobe)
                };
                let p = measure(sweep, &template, "nprobe", nprobe, |q| {
                    Ok(index
                        .search(seg, q, k, &params)?
                        .into_iter()
                        .map(|h| h.id)
                        .collect())
                })?;
                progress(&p);
                out.push(p);
            }
        }
        IndexChoice::Flat => {
            let template = Point {
                vector_bytes,
                ..template
            };
            let targets = [Target::from(seg)];
            let p = measure(sweep, &template, "-", 0, |q| {
                Ok(flat::search(pool, &targets, q, k)?
                    .into_iter()
                    .map(|h| h.id)
                    .collect())
            })?;
            progress(&p);
            out.push(p);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&[], 99.0), 0.0);
    }
}
