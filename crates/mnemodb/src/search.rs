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
    for part in &cs.sealed {
        sealed(part, plan, pool, &mut out)?;
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
                    Some(index) => {
                        let mut opts = SearchOptions::ef(plan.ef).allow(&rows);
                        opts.exact_fraction = Some(1.0);
                        index.search_rows_into(plan.raw, plan.k, &opts, &mut hits)?;
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
