//! Query path: per part (sealed or growing), an exact scan when the filter leaves few
//! rows there, else a graph search that admits only allowed rows while navigating through
//! all; then merge top-k across parts.
use mnemodb_ann::flat;
use mnemodb_ann::hnsw::{SearchOptions, exact_scan_fraction};
use mnemodb_ann::{Hit, TopK};
use roaring::RoaringBitmap;

use crate::error::Result;
use crate::parts::{GrowingPart, SealedPart};
use crate::state::CollectionState;

/// One query against one collection snapshot.
pub(crate) struct Plan<'a> {
    /// The query as given (ANN prepares its own copy).
    pub raw: &'a [f32],
    /// The query prepared for the metric (normalised for cosine).
    pub prepared: &'a [f32],
    pub k: usize,
    pub ef: usize,
    /// Allowed internal ids (live documents matching the filter); `None`: all live.
    pub allow: Option<&'a RoaringBitmap>,
}

/// Whether a filter leaves so few of a part's `n` rows that an exact scan of them is
/// cheaper than a filtered graph walk (the switch point of `mnemodb-ann`, measured there).
fn scan_exactly(allowed: u64, n: usize, ef: usize) -> bool {
    allowed as usize <= ef || (allowed as f64) <= exact_scan_fraction(n, ef) * n as f64
}

/// Candidates `(internal id, distance)` of every part of `cs`, each part's top `k`.
pub(crate) fn candidates(
    cs: &CollectionState,
    plan: &Plan<'_>,
    pool: &rayon::ThreadPool,
) -> Result<Vec<Hit>> {
    let mut out = Vec::new();
    let dist = cs.config.metric.distance_fn();
    for part in &cs.sealed {
        sealed(part, plan, pool, dist, &mut out)?;
    }
    for part in cs.frozen.iter().chain(cs.growing.iter()) {
        growing(part, cs.config.metric.distance_fn(), plan, &mut out)?;
    }
    Ok(out)
}

fn sealed(
    part: &SealedPart,
    plan: &Plan<'_>,
    pool: &rayon::ThreadPool,
    dist: mnemodb_distance::DistanceFn,
    out: &mut Vec<Hit>,
) -> Result<()> {
    let seg = &part.seg;
    let n = seg.rows();
    if n == 0 {
        return Ok(());
    }
    let range = seg.entry.min_id..=seg.entry.max_id;
    let tomb = (!part.tombstones.is_empty()).then_some(&*part.tombstones);
    let mut hits = Vec::new();
    match (plan.allow, &seg.index) {
        (Some(allow), index) => {
            let allowed = allow.range_cardinality(range.clone());
            if allowed == 0 {
                return Ok(());
            }
            if scan_exactly(allowed, n, plan.ef) || index.is_none() {
                // Few allowed rows here: translate them to row numbers and scan exactly.
                let rows = RoaringBitmap::from_sorted_iter(
                    allow.range(range).filter_map(|id| seg.row_of(id)),
                )
                .unwrap_or_default();
                match index {
                    Some(_) => {
                        scan_rows(&seg.reader, &rows, plan.prepared, dist, plan.k, &mut hits);
                    }
                    None => {
                        let target = flat::Target {
                            segment: &seg.reader,
                            allow: Some(&rows),
                        };
                        out.extend(flat::search(pool, &[target], plan.raw, plan.k)?);
                        return Ok(());
                    }
                }
            } else if let Some(index) = index {
                let accept = |row: u32| allow.contains(seg.id_of(row));
                let mut opts = SearchOptions::ef(plan.ef).accept(&accept);
                opts.exact_fraction = Some(0.0);
                index.search_rows_into(plan.raw, plan.k, &opts, &mut hits)?;
            }
        }
        (None, Some(index)) => {
            let mut opts = SearchOptions::ef(plan.ef);
            opts.tombstones = tomb;
            index.search_rows_into(plan.raw, plan.k, &opts, &mut hits)?;
        }
        (None, None) => {
            let live = tomb.map(|t| {
                let mut all = RoaringBitmap::new();
                all.insert_range(0..n as u32);
                all - t
            });
            let target = flat::Target {
                segment: &seg.reader,
                allow: live.as_ref(),
            };
            out.extend(flat::search(pool, &[target], plan.raw, plan.k)?);
            return Ok(());
        }
    }
    out.extend(hits.into_iter().map(|h| Hit {
        id: u64::from(seg.id_of(h.id as u32)),
        distance: h.distance,
    }));
    Ok(())
}

/// Rows read ahead of the one being scored by [`scan_rows`].
const READ_AHEAD: usize = 4;

/// Exact top-`k` of `rows` of a segment (hits carry row numbers, best first).
///
/// The rows an allow-list leaves are scattered, so a plain loop waits on memory for every
/// row (≈ 1.5 KB at 384-d, beyond what the hardware prefetcher guesses). This one asks
/// for every cache line of the row `READ_AHEAD` rows ahead before scoring the current one,
/// so the memory transfers overlap with the arithmetic (measured in docs/BENCHMARKS.md,
/// memory layer: 2.95 → 2.02 ms p50 for a recall that scans ≈ 5.7k rows; a touch of one
/// float per line instead gained 3 %). Same rows, distances and order (ties by row, i.e.
/// by id) as the index's exact path it replaces.
fn scan_rows(
    seg: &mnemodb_segment::SegmentReader,
    rows: &RoaringBitmap,
    prepared: &[f32],
    dist: mnemodb_distance::DistanceFn,
    k: usize,
    out: &mut Vec<Hit>,
) {
    const LINE: usize = 16; // f32 per 64-byte cache line
    let (dim, stride, data) = (seg.dim(), seg.stride(), seg.rows());
    let row = |r: u32| {
        let at = (r as usize).saturating_mul(stride);
        data.get(at..at.saturating_add(dim))
    };
    let mut top = TopK::new(k);
    let mut ahead = rows.iter().skip(READ_AHEAD);
    for r in rows {
        if let Some(v) = ahead.next().and_then(row) {
            for line in v.chunks(LINE) {
                prefetch(line.as_ptr());
            }
            // An unaligned row spans one more line.
            if let Some(last) = v.last() {
                prefetch(last);
            }
        }
        if let Some(v) = row(r) {
            let d = dist(prepared, v);
            if d <= top.threshold() {
                top.push(u64::from(r), d);
            }
        }
    }
    out.extend(top.into_sorted_vec());
}

/// Ask the CPU to bring the cache line holding `p` into L1 (a hint: no effect elsewhere).
#[inline(always)]
fn prefetch(p: *const f32) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `_mm_prefetch` is a hint that never faults nor reads into the program, whatever
    // the address (here always inside a live slice); SSE is part of the x86_64 baseline.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

fn growing(
    part: &GrowingPart,
    dist: mnemodb_distance::DistanceFn,
    plan: &Plan<'_>,
    out: &mut Vec<Hit>,
) -> Result<()> {
    let n = part.len();
    if n == 0 {
        return Ok(());
    }
    let base = part.base();
    let tomb = &*part.tombstones;
    let admit = |row: u32| !tomb.contains(row) && plan.allow.is_none_or(|a| a.contains(base + row));
    let mut top = TopK::new(plan.k);
    let scan = |top: &mut TopK, rows: &mut dyn Iterator<Item = u32>| {
        for row in rows {
            if let Some(v) = part.vector(row) {
                top.push(u64::from(base + row), dist(plan.prepared, v));
            }
        }
    };
    let indexed = part.indexed_visible();
    // Few admissible rows (a selective filter, or mostly deleted rows): scan them.
    let admissible = match plan.allow {
        Some(a) => a.range_cardinality(base..part.end_id()),
        None => n as u64 - tomb.len().min(n as u64),
    };
    let selective = scan_exactly(admissible, n, plan.ef);
    match (&part.shared.graph, plan.allow) {
        (Some(graph), _) if indexed > 0 && !selective => {
            let accept = |row: u32| (row as usize) < indexed && admit(row);
            let mut opts = SearchOptions::ef(plan.ef).accept(&accept);
            opts.exact_fraction = Some(0.0);
            for h in graph.search(plan.raw, plan.k, &opts)? {
                top.push(u64::from(base) + h.id, h.distance);
            }
            // Rows not linked yet: exact.
            scan(
                &mut top,
                &mut (indexed as u32..n as u32).filter(|&r| admit(r)),
            );
        }
        (_, Some(allow)) => {
            scan(
                &mut top,
                &mut allow
                    .range(base..part.end_id())
                    .map(|id| id - base)
                    .filter(|&r| !tomb.contains(r)),
            );
        }
        (_, None) => scan(&mut top, &mut (0..n as u32).filter(|&r| admit(r))),
    }
    out.extend(top.into_sorted_vec());
    Ok(())
}
