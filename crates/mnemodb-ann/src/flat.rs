//! Exact (brute-force) top-k search over segments.
//!
//! The scan is split into work units of about 4 MiB of rows, run in parallel on the
//! caller's pool and merged. A batch of queries is either scanned query by query
//! ([`BatchStrategy::PerQuery`]: each unit is streamed from memory once per query) or
//! tiled ([`BatchStrategy::Tiled`]: each tile of about 64 KiB of rows is read from memory
//! once and reused from cache by every query of the batch, which turns a bandwidth-bound
//! scan into a compute-bound one). [`BatchStrategy::Auto`] picks by batch size, from the
//! crossover measured by `cargo bench --bench flat` (docs/BENCHMARKS.md).
use mnemodb_distance::{DistanceFn, Metric, validate_vector};
use mnemodb_segment::SegmentReader;
use rayon::prelude::*;
use roaring::RoaringBitmap;

use crate::error::{Error, Result};
use crate::hit::Hit;
use crate::topk::TopK;

/// Rows per work unit are chosen so a unit is about this many bytes.
const UNIT_BYTES: usize = 4 << 20;
/// Rows per tile of a tiled batch are chosen so a tile is about this many bytes (fits L2).
const TILE_BYTES: usize = 64 << 10;
/// From this many queries on, [`BatchStrategy::Auto`] tiles.
pub const TILED_FROM_QUERIES: usize = 2;

/// One segment to search, with an optional allow-list of its row numbers.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The segment.
    pub segment: &'a SegmentReader,
    /// Only rows in this set are candidates (`None`: every row).
    pub allow: Option<&'a RoaringBitmap>,
}

impl<'a> From<&'a SegmentReader> for Target<'a> {
    fn from(segment: &'a SegmentReader) -> Self {
        Target {
            segment,
            allow: None,
        }
    }
}

/// How a batch of queries is scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BatchStrategy {
    /// Pick by batch size (see [`TILED_FROM_QUERIES`]).
    #[default]
    Auto,
    /// Scan every unit once per query.
    PerQuery,
    /// Scan cache-sized tiles, each reused by all queries.
    Tiled,
}

/// Exact top-`k` of one query over `targets`, best first (ties by lower id).
///
/// `k` larger than the number of candidate rows returns all of them; `k = 0` is
/// [`Error::ZeroK`]. The query is validated (dimension, finite) and prepared for the metric.
pub fn search(
    pool: &rayon::ThreadPool,
    targets: &[Target<'_>],
    query: &[f32],
    k: usize,
) -> Result<Vec<Hit>> {
    let mut out = search_batch(pool, targets, &[query], k)?;
    Ok(out.pop().unwrap_or_default())
}

/// Exact top-`k` of every query, with [`BatchStrategy::Auto`].
pub fn search_batch<Q: AsRef<[f32]> + Sync>(
    pool: &rayon::ThreadPool,
    targets: &[Target<'_>],
    queries: &[Q],
    k: usize,
) -> Result<Vec<Vec<Hit>>> {
    search_batch_with(pool, targets, queries, k, BatchStrategy::Auto)
}

/// Exact top-`k` of every query with an explicit strategy (benchmarks compare them).
pub fn search_batch_with<Q: AsRef<[f32]> + Sync>(
    pool: &rayon::ThreadPool,
    targets: &[Target<'_>],
    queries: &[Q],
    k: usize,
    strategy: BatchStrategy,
) -> Result<Vec<Vec<Hit>>> {
    if k == 0 {
        return Err(Error::ZeroK);
    }
    let Some((dim, metric)) = common_shape(targets)? else {
        // Nothing to search: every query gets an empty result (after validating it).
        for q in queries {
            let q = q.as_ref();
            validate_vector(q, q.len())?;
        }
        return Ok(vec![Vec::new(); queries.len()]);
    };
    let prepared = prepare_queries(queries, dim, metric)?;
    let candidates: usize = targets.iter().map(candidate_count).sum();
    let k = k.min(candidates.max(1));
    let tiled = match strategy {
        BatchStrategy::Auto => prepared.len() >= TILED_FROM_QUERIES,
        BatchStrategy::PerQuery => false,
        BatchStrategy::Tiled => true,
    };
    let scan = Scan {
        targets,
        queries: &prepared,
        k,
        dist: metric.distance_fn(),
        tile_rows: rows_per(TILE_BYTES, targets),
    };
    let units = plan_units(targets);
    let merged = pool.install(|| {
        units
            .par_iter()
            .map(|unit| scan.unit(unit, tiled))
            .reduce(|| scan.empty(), merge_all)
    });
    Ok(merged.into_iter().map(TopK::into_sorted_vec).collect())
}

/// Dimension and metric shared by all targets; `None` when there are none.
fn common_shape(targets: &[Target<'_>]) -> Result<Option<(usize, Metric)>> {
    let Some(first) = targets.first() else {
        return Ok(None);
    };
    let (dim, metric) = (first.segment.dim(), first.segment.metric());
    for t in targets {
        if t.segment.dim() != dim || t.segment.metric() != metric {
            return Err(Error::SegmentMismatch(format!(
                "{} is {}-d {}, {} is {dim}-d {metric}",
                t.segment.path().display(),
                t.segment.dim(),
                t.segment.metric(),
                first.segment.path().display(),
            )));
        }
    }
    Ok(Some((dim, metric)))
}

fn prepare_queries<Q: AsRef<[f32]>>(
    queries: &[Q],
    dim: usize,
    metric: Metric,
) -> Result<Vec<Vec<f32>>> {
    queries
        .iter()
        .map(|q| {
            let q = q.as_ref();
            validate_vector(q, dim)?;
            let mut v = q.to_vec();
            metric.prepare(&mut v);
            Ok(v)
        })
        .collect()
}

fn candidate_count(t: &Target<'_>) -> usize {
    match t.allow {
        Some(allow) => allow.range_cardinality(..t.segment.len() as u32) as usize,
        None => t.segment.len(),
    }
}

/// Rows that make about `bytes` bytes in the widest of the targets (at least 1).
fn rows_per(bytes: usize, targets: &[Target<'_>]) -> usize {
    let row_bytes = targets
        .iter()
        .map(|t| t.segment.stride() * 4)
        .max()
        .unwrap_or(4);
    (bytes / row_bytes.max(1)).max(1)
}

/// A contiguous range of rows of one target.
#[derive(Debug, Clone, Copy)]
struct Unit {
    target: usize,
    start: usize,
    end: usize,
}

fn plan_units(targets: &[Target<'_>]) -> Vec<Unit> {
    let unit_rows = rows_per(UNIT_BYTES, targets);
    let mut units = Vec::new();
    for (target, t) in targets.iter().enumerate() {
        let n = t.segment.len();
        let mut start = 0;
        while start < n {
            let end = (start + unit_rows).min(n);
            units.push(Unit { target, start, end });
            start = end;
        }
    }
    units
}

fn merge_all(mut a: Vec<TopK>, b: Vec<TopK>) -> Vec<TopK> {
    for (x, y) in a.iter_mut().zip(b) {
        x.merge(y);
    }
    a
}

/// Everything one scan needs, shared by the workers.
struct Scan<'a, 't> {
    targets: &'a [Target<'t>],
    queries: &'a [Vec<f32>],
    k: usize,
    dist: DistanceFn,
    tile_rows: usize,
}

impl Scan<'_, '_> {
    fn empty(&self) -> Vec<TopK> {
        vec![TopK::new(self.k); self.queries.len()]
    }

    fn unit(&self, unit: &Unit, tiled: bool) -> Vec<TopK> {
        let mut heaps = self.empty();
        let Some(target) = self.targets.get(unit.target) else {
            return heaps;
        };
        let step = if tiled {
            self.tile_rows
        } else {
            unit.end - unit.start
        };
        let mut start = unit.start;
        while start < unit.end {
            let end = (start + step).min(unit.end);
            for (query, heap) in self.queries.iter().zip(heaps.iter_mut()) {
                self.rows(target, start, end, query, heap);
            }
            start = end;
        }
        heaps
    }

    /// Offer rows `[start, end)` of `target` to `heap`.
    #[inline]
    fn rows(&self, target: &Target<'_>, start: usize, end: usize, query: &[f32], heap: &mut TopK) {
        let seg = target.segment;
        let (dim, stride) = (seg.dim(), seg.stride());
        let rows = seg.rows();
        let ids = seg.ids();
        let mut offer = |row: usize| {
            let at = row * stride;
            if let (Some(v), Some(&id)) = (rows.get(at..at + dim), ids.get(row)) {
                let d = (self.dist)(query, v);
                if d <= heap.threshold() {
                    heap.push(id, d);
                }
            }
        };
        match target.allow {
            None => (start..end).for_each(&mut offer),
            Some(allow) => allow
                .range(start as u32..end as u32)
                .for_each(|r| offer(r as usize)),
        }
    }
}
