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
        metric,
        pair: mnemodb_distance::distance_fn_with(mnemodb_distance::Backend::Tile, metric),
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
    metric: Metric,
    /// The same kernel one pair at a time, for sparse allow-lists: bit-identical to the
    /// blocked kernels, so a result never depends on which path computed it.
    pair: DistanceFn,
    tile_rows: usize,
}

impl Scan<'_, '_> {
    fn empty(&self) -> Vec<TopK> {
        vec![TopK::new(self.k); self.queries.len()]
    }

    /// Scan one unit: tile by tile (each tile against every query, blocked kernel), or, per
    /// query, the whole unit at once (one-query blocked kernel, streaming from memory).
    fn unit(&self, unit: &Unit, tiled: bool) -> Vec<TopK> {
        let mut heaps = self.empty();
        let Some(target) = self.targets.get(unit.target) else {
            return heaps;
        };
        let seg = target.segment;
        let (stride, rows, ids) = (seg.stride(), seg.rows(), seg.ids());
        let step = if tiled {
            self.tile_rows
        } else {
            unit.end - unit.start
        };
        let query_refs: Vec<&[f32]> = self.queries.iter().map(Vec::as_slice).collect();
        let mut dist = vec![
            0.0f32;
            if tiled {
                step * self.queries.len()
            } else {
                step
            }
        ];
        let mut start = unit.start;
        while start < unit.end {
            let end = (start + step).min(unit.end);
            let n = end - start;
            let allow = target.allow;
            if let Some(allow) = allow
                && (allow.range_cardinality(start as u32..end as u32) as usize) * SPARSE_RATIO < n
            {
                self.sparse_rows(target, allow, start, end, &mut heaps);
                start = end;
                continue;
            }
            let tile = rows.get(start * stride..end * stride).unwrap_or_default();
            let tile_ids = ids.get(start..end).unwrap_or_default();
            if tiled {
                let out = dist.get_mut(..n * query_refs.len()).unwrap_or_default();
                mnemodb_distance::tile::distances_tile(self.metric, &query_refs, tile, stride, out);
                for (q, heap) in heaps.iter_mut().enumerate() {
                    let row_dist = out.get(q * n..(q + 1) * n).unwrap_or_default();
                    offer(heap, row_dist, tile_ids, start, allow);
                }
            } else {
                let out = dist.get_mut(..n).unwrap_or_default();
                for (query, heap) in query_refs.iter().zip(heaps.iter_mut()) {
                    mnemodb_distance::batch::distances_strided(
                        self.metric,
                        query,
                        tile,
                        stride,
                        out,
                    );
                    offer(heap, out, tile_ids, start, allow);
                }
            }
            start = end;
        }
        heaps
    }

    /// A range whose allowed rows are few: compute only those, one pair at a time.
    fn sparse_rows(
        &self,
        target: &Target<'_>,
        allow: &RoaringBitmap,
        start: usize,
        end: usize,
        heaps: &mut [TopK],
    ) {
        let seg = target.segment;
        let (dim, stride, rows, ids) = (seg.dim(), seg.stride(), seg.rows(), seg.ids());
        for row in allow.range(start as u32..end as u32) {
            let row = row as usize;
            let at = row * stride;
            let (Some(v), Some(&id)) = (rows.get(at..at + dim), ids.get(row)) else {
                continue;
            };
            for (query, heap) in self.queries.iter().zip(heaps.iter_mut()) {
                let d = (self.pair)(query, v);
                if d <= heap.threshold() {
                    heap.push(id, d);
                }
            }
        }
    }
}

/// A range is scanned pair by pair when fewer than one row in this many is allowed;
/// otherwise the blocked kernel computes the whole range and disallowed rows are skipped.
const SPARSE_RATIO: usize = 8;

/// Offer the distances of rows `first..first + dist.len()` to `heap`, skipping rows the
/// allow-list excludes.
#[inline]
fn offer(heap: &mut TopK, dist: &[f32], ids: &[u64], first: usize, allow: Option<&RoaringBitmap>) {
    match allow {
        None => {
            for (&d, &id) in dist.iter().zip(ids) {
                if d <= heap.threshold() {
                    heap.push(id, d);
                }
            }
        }
        Some(allow) => {
            let end = first + dist.len();
            for row in allow.range(first as u32..end as u32) {
                let i = row as usize - first;
                if let (Some(&d), Some(&id)) = (dist.get(i), ids.get(i))
                    && d <= heap.threshold()
                {
                    heap.push(id, d);
                }
            }
        }
    }
}
