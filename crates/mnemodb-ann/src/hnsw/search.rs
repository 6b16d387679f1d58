//! Top-k search with `ef`, allow-lists, tombstones and the exact-scan fallback.
//!
//! The exact scan reads each allowed row a few rows ahead of scoring it (the rows are
//! scattered). On a graph with SQ8 codes it scores every allowed row on its code first
//! (a quarter of the bytes) and computes exact f32 distances only for the rows the codes'
//! proven error bound ([`CodeBound`]) cannot rule out of the top k, and for the rows whose
//! code proves nothing ([`certified`]): the result is the f32 scan's, bit for bit (same
//! kernel on the same rows, same (distance, row) order).
use mnemodb_distance::quantized::Sq8Query;
use mnemodb_distance::{Metric, validate_vector};
use roaring::RoaringBitmap;

use super::codes::{CodeBound, Sq8Codes, certified};
use super::graph::PartialCell;
use super::layer::{Exact, GraphRead, Quantized, SearchTuning, knn, knn_by, rerank};
use super::partial::{Partial, calibrate};
use super::prefetch::{prefetch_bytes, prefetch_lines};
use super::scratch::{Far, Scored, with_scratch};
use crate::error::{Error, Result};
use crate::hit::Hit;

/// Cost constant of the exact-scan fallback of filtered search: the allowed rows (allow-list
/// minus tombstones) are scanned exactly when their fraction of all `n` rows is at most
/// `sqrt(EXACT_SCAN_COST × ef / n)`, or when there are at most `ef` of them.
///
/// Why this shape: to collect `ef` allowed results the graph walk visits about
/// `ef / selectivity` nodes, while the scan costs `selectivity × n` distances; the two
/// cross where `selectivity² ≈ C × ef / n`. Measured on wordnet-minilm-50k at ef 64, one
/// thread (`docs/bench/hnsw-filter.csv`): at 10% selectivity the walk does 977 QPS and the
/// scan 3,420; at 30% the walk 2,730 and the scan 347; at 1% the walk only 162 (it visits
/// most of the graph to find 64 allowed rows) against the scan's 31,600. Interpolated
/// crossover ≈ 15%, so `C ≈ 0.15² × 50,000 / 64 ≈ 16`. That puts the switch at 14% for 50k
/// rows and 3.6% for 1M rows (ef 64). Recall never collapses: below the switch the answer
/// is exact; above it the walk measured recall@10 ≥ 0.996 (0.1%–50% all measured).
/// (Measured with the f32 scan; the scan on SQ8 codes costs ≈ 0.6× per row on the memory
/// layer's benchmark, so for an index with codes the switch is on the cautious side.)
pub const EXACT_SCAN_COST: f64 = 16.0;

/// The allowed fraction below which a filtered search scans exactly (see
/// [`EXACT_SCAN_COST`]).
pub fn exact_scan_fraction(n: usize, ef: usize) -> f64 {
    if n == 0 {
        return 1.0;
    }
    (EXACT_SCAN_COST * ef as f64 / n as f64).sqrt().min(1.0)
}

/// Options of one search. `Default` = the index's default `ef`, no filter.
#[derive(Debug, Clone, Copy, Default)]
pub struct SearchOptions<'a> {
    /// Candidate list size; `None` = the index's default. Raised to `k` when smaller
    /// (a search needs at least `k` candidates to return `k` results).
    pub ef: Option<usize>,
    /// Only rows in this set may be returned (row numbers). The graph is still navigated
    /// through every node.
    pub allow: Option<&'a RoaringBitmap>,
    /// Rows never returned (deleted), still navigated through.
    pub tombstones: Option<&'a RoaringBitmap>,
    /// Exact scan of the allowed rows when they are at most this fraction of all rows
    /// (`None` = [`exact_scan_fraction`] of the row count and `ef`; `Some(0.0)` = only
    /// when at most `ef` rows are allowed; `Some(1.0)` = always).
    pub exact_fraction: Option<f64>,
    /// A further test every returned row must pass (e.g. an engine's snapshot: rows
    /// inserted after it, or deleted in it, are not visible). Navigation still goes through
    /// every node. It does not count towards the exact-scan decision: callers that know the
    /// allowed set is small pass it as [`allow`](Self::allow) instead.
    pub accept: Option<RowPredicate<'a>>,
    /// Hot-loop switches for benchmarks.
    #[doc(hidden)]
    pub tuning: SearchTuning,
}

/// A predicate over row numbers, for [`SearchOptions::accept`].
#[derive(Clone, Copy)]
pub struct RowPredicate<'a>(pub &'a (dyn Fn(u32) -> bool + Sync));

impl std::fmt::Debug for RowPredicate<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RowPredicate(..)")
    }
}

impl<'a> SearchOptions<'a> {
    /// Options with this `ef`.
    pub fn ef(ef: usize) -> Self {
        SearchOptions {
            ef: Some(ef),
            ..Default::default()
        }
    }

    /// With an allow-list.
    pub fn allow(mut self, allow: &'a RoaringBitmap) -> Self {
        self.allow = Some(allow);
        self
    }

    /// With tombstones.
    pub fn tombstones(mut self, tombstones: &'a RoaringBitmap) -> Self {
        self.tombstones = Some(tombstones);
        self
    }

    /// With a row predicate (see [`SearchOptions::accept`]).
    pub fn accept(mut self, accept: &'a (dyn Fn(u32) -> bool + Sync)) -> Self {
        self.accept = Some(RowPredicate(accept));
        self
    }
}

/// The graph-independent inputs of [`run`].
pub(crate) struct Target<'a, G> {
    pub graph: &'a G,
    pub n: usize,
    pub entry: Option<(u32, usize)>,
    pub metric: Metric,
    pub dim: usize,
    pub default_ef: usize,
    /// SQ8 codes of the rows: walk on them, re-rank on the rows.
    pub sq8: Option<&'a Sq8Codes>,
    /// Where the graph keeps its partial-distance plan (walks on f32 rows), calibrated
    /// on first use; `None`: rows are always read whole.
    pub partial: Option<&'a PartialCell>,
}

/// Search `t` for `query`; hits (id = row number) go to `out`, best first.
/// `deleted(row)` and `deleted_count` describe tombstones the graph keeps itself.
pub(crate) fn run<G: GraphRead>(
    t: &Target<'_, G>,
    query: &[f32],
    k: usize,
    opts: &SearchOptions<'_>,
    deleted: impl Fn(u32) -> bool,
    deleted_count: usize,
    out: &mut Vec<Hit>,
) -> Result<()> {
    out.clear();
    if k == 0 {
        return Err(Error::ZeroK);
    }
    validate_vector(query, t.dim)?;
    let n = t.n;
    if n == 0 {
        return Ok(());
    }
    let ef = opts.ef.unwrap_or(t.default_ef).max(k).max(1);
    let dist = t.metric.distance_fn();
    let range = 0..n.min(u32::MAX as usize) as u32;
    let tomb = opts.tombstones.filter(|t| !t.is_empty());
    let allowed = match (opts.allow, tomb) {
        (Some(a), Some(tb)) => {
            let in_range = a.range_cardinality(range.clone());
            let both = a.intersection_len(tb);
            in_range.saturating_sub(both) as usize
        }
        (Some(a), None) => a.range_cardinality(range.clone()) as usize,
        (None, Some(tb)) => n - (tb.range_cardinality(range.clone()) as usize).min(n),
        (None, None) => n,
    }
    .saturating_sub(deleted_count);
    let filtered = opts.allow.is_some() || tomb.is_some() || deleted_count > 0;
    // Every test but the allow-list (for scans that iterate the allow-list itself).
    let admit = |id: u32| {
        !tomb.is_some_and(|tb| tb.contains(id))
            && !deleted(id)
            && opts.accept.is_none_or(|p| (p.0)(id))
    };
    let accept = |id: u32| opts.allow.is_none_or(|a| a.contains(id)) && admit(id);
    let fraction = opts
        .exact_fraction
        .unwrap_or_else(|| exact_scan_fraction(n, ef));
    // A candidate list as long as the allowed rows: scanning them is no dearer than the
    // walk, and exact (a walk cannot promise to reach every row, e.g. among duplicates).
    let exact = allowed <= ef || (filtered && (allowed as f64) <= fraction * n as f64);
    with_scratch(|s| {
        let mut q = std::mem::take(&mut s.query);
        q.clear();
        q.extend_from_slice(query);
        t.metric.prepare(&mut q);
        if exact {
            // Exact scan of the allowed rows, top-k in the results heap.
            s.results.clear();
            let mut offer = |row: u32| {
                if !accept(row) {
                    return;
                }
                if let Some(v) = t.graph.vector(row) {
                    let hit = Scored {
                        dist: dist(&q, v),
                        id: row,
                    };
                    if s.results.len() < k {
                        s.results.push(Far(hit));
                    } else if let Some(mut worst) = s.results.peek_mut()
                        && Far(hit) < *worst
                    {
                        *worst = Far(hit);
                    }
                }
            };
            // Allowed rows are scattered: fetch each row's lines a few rows ahead of
            // scoring, so memory transfers overlap the arithmetic (an unaligned row spans
            // one more line).
            let lines = t.graph.vector_lines() + 1;
            let fetch = |row: u32| prefetch_lines(t.graph.vector_ptr(row), lines, false);
            let coded = t
                .sq8
                .filter(|c| c.dim() == t.dim && c.codes().len() / t.dim >= n)
                .and_then(|c| Some((c, CodeBound::new(&c.sq, t.metric, &q)?)));
            if let Some((c, bound)) = coded {
                // The same top k from a quarter of the bytes per row: every allowed row is
                // scored on its code; `offer` then scores exactly only the rows whose exact
                // distance the codes' proven error bound cannot rule out of the top k, and
                // the rows whose code proves nothing (see `CodeBound`, `certified`).
                let mut q8 = std::mem::take(&mut s.q8);
                c.sq.query_into(t.metric, &q, &mut q8);
                let scan = CodeScan {
                    codes: c.codes(),
                    dim: t.dim,
                    query: &q8,
                };
                // Scratch buffers the exact scan does not otherwise use (neighbour
                // selection, copies of links).
                let (approx, unsure) = (&mut s.pool, &mut s.links);
                // The rows come from the allow-list (or are all rows when there is none):
                // the rest of `accept`.
                let admit_row = |row: u32| admit(row) && t.graph.vector(row).is_some();
                match opts.allow {
                    Some(a) => scan.score(
                        a.range(range.clone()),
                        a.range(range.clone()),
                        admit_row,
                        approx,
                        unsure,
                    ),
                    None => scan.score(range.clone(), range.clone(), admit_row, approx, unsure),
                }
                keep_possible(approx, k, &bound);
                unsure.extend(approx.iter().map(|h| h.id));
                let survivors = unsure.iter().copied();
                read_ahead(READ_AHEAD, survivors.clone(), survivors, fetch, &mut offer);
                s.q8 = q8;
            } else {
                match opts.allow {
                    Some(a) => read_ahead(
                        READ_AHEAD,
                        a.range(range.clone()),
                        a.range(range.clone()),
                        fetch,
                        &mut offer,
                    ),
                    None => read_ahead(READ_AHEAD, range.clone(), range.clone(), fetch, &mut offer),
                }
            }
            s.found.clear();
            s.found.extend(s.results.drain().map(|f| f.0));
            s.found
                .sort_unstable_by(|a, b| a.dist.total_cmp(&b.dist).then(a.id.cmp(&b.id)));
        } else if let Some(c) = t.sq8.filter(|c| {
            !opts.tuning.exact_traversal && c.dim() == t.dim && c.codes().len() / t.dim >= n
        }) {
            let mut q8 = std::mem::take(&mut s.q8);
            c.sq.query_into(t.metric, &q, &mut q8);
            let sc = Quantized {
                codes: c.codes(),
                dim: t.dim,
                query: &q8,
                lines: opts.tuning.prefetch_lines.min(t.dim.div_ceil(64)),
            };
            knn_by(t.graph, &sc, t.entry, &q, dist, ef, accept, opts.tuning, s);
            rerank(t.graph, &q, dist, s);
            s.q8 = q8;
        } else if let Some(sc) = partial_scorer(t, &q, dist, &opts.tuning) {
            knn_by(t.graph, &sc, t.entry, &q, dist, ef, accept, opts.tuning, s);
            rerank(t.graph, &q, dist, s);
        } else {
            knn(t.graph, t.entry, &q, dist, ef, accept, opts.tuning, s);
        }
        out.extend(s.found.iter().take(k).map(|h| Hit {
            id: u64::from(h.id),
            distance: h.dist,
        }));
        s.query = q;
    });
    Ok(())
}

/// The two-pass scorer of a walk on f32 rows, when the graph has a plan for it and this
/// query's head carries enough of it.
fn partial_scorer<'a, G: GraphRead>(
    t: &Target<'a, G>,
    query: &'a [f32],
    dist: mnemodb_distance::DistanceFn,
    tuning: &SearchTuning,
) -> Option<Partial<'a, G>> {
    if !tuning.partial_distances {
        return None;
    }
    let plan = (*t
        .partial?
        .get_or_init(|| calibrate(t.graph, t.metric, t.dim)))?;
    let exact = Exact {
        g: t.graph,
        query,
        dist,
        lines: tuning.prefetch_lines.min(t.graph.vector_lines()),
        l2: tuning.prefetch_l2,
    };
    Partial::new(exact, plan, t.metric, tuning)
}

/// Rows the exact scan fetches ahead of the one it scores. Measured on the memory layer's
/// 100k-scope recall (≈ 5.7k scattered rows scanned): 2.95 → 2.02 ms p50 with 4; 2 was
/// slower and 8 no better (docs/BENCHMARKS.md, memory layer).
const READ_AHEAD: usize = 4;

/// [`READ_AHEAD`] for the scan of SQ8 codes: a code takes less arithmetic than a row, so
/// more of them go by while one is fetched. On the memory layer's recall: 8 about 2 %
/// faster than 4, 16 no better, 2 about 10 % slower.
const CODE_READ_AHEAD: usize = 8;

/// Calls `visit` on every item of `items`, after calling `fetch` on the item `distance`
/// places later; `ahead` is a second iterator over the same items.
fn read_ahead(
    distance: usize,
    items: impl Iterator<Item = u32>,
    ahead: impl Iterator<Item = u32>,
    fetch: impl Fn(u32),
    mut visit: impl FnMut(u32),
) {
    let mut ahead = ahead.skip(distance);
    for item in items {
        if let Some(next) = ahead.next() {
            fetch(next);
        }
        visit(item);
    }
}

/// The first pass of the exact scan on SQ8 codes: rows scored on their codes.
struct CodeScan<'a> {
    /// `n × dim` codes, row `i` at `i × dim`.
    codes: &'a [u8],
    dim: usize,
    query: &'a Sq8Query,
}

impl CodeScan<'_> {
    /// Row `row`'s code (`None` past the end).
    #[inline]
    fn code(&self, row: u32) -> Option<&[u8]> {
        let start = (row as usize).checked_mul(self.dim)?;
        self.codes.get(start..start.checked_add(self.dim)?)
    }

    /// The rows of `rows` that `admit` accepts: those with a [`certified`] code go to
    /// `approx` with their code distance, the others' row numbers to `unsure`. Codes are
    /// fetched [`CODE_READ_AHEAD`] rows ahead (`ahead`: a second iterator over `rows`).
    fn score(
        &self,
        rows: impl Iterator<Item = u32>,
        ahead: impl Iterator<Item = u32>,
        admit: impl Fn(u32) -> bool,
        approx: &mut Vec<Scored>,
        unsure: &mut Vec<u32>,
    ) {
        approx.clear();
        unsure.clear();
        // 6 lines per 384-d code; one more when codes straddle lines.
        let aligned =
            self.dim.is_multiple_of(64) && (self.codes.as_ptr() as usize).is_multiple_of(64);
        let lines = self.dim.div_ceil(64) + usize::from(!aligned);
        let fetch = |row: u32| {
            let at = (row as usize).wrapping_mul(self.dim);
            prefetch_bytes(self.codes.as_ptr().wrapping_add(at), lines);
        };
        read_ahead(CODE_READ_AHEAD, rows, ahead, fetch, |row| {
            if !admit(row) {
                return;
            }
            match self.code(row) {
                Some(code) if certified(code) => approx.push(Scored {
                    dist: self.query.distance(code),
                    id: row,
                }),
                _ => unsure.push(row),
            }
        });
    }
}

/// Drops from `approx` (code distances of rows with certified codes) every row that
/// cannot be among the `k` nearest: the `k`-th smallest code distance bounds `k` rows'
/// exact distances from above, and a row whose exact distance is bounded from below by
/// more than that is beaten by all `k`, ties included. Linear time (a selection, no sort).
fn keep_possible(approx: &mut Vec<Scored>, k: usize, bound: &CodeBound) {
    if k == 0 || approx.len() <= k {
        return;
    }
    let (_, kth, _) = approx.select_nth_unstable_by(k - 1, |a, b| a.dist.total_cmp(&b.dist));
    let keep = bound.keep_up_to(kth.dist);
    approx.retain(|h| f64::from(h.dist) <= keep);
}
