//! The search loop shared by every graph representation: greedy descent through the upper
//! levels and the best-first layer search (Algorithm 2 of the paper) with an allow filter.
//!
//! Termination on any bytes: each node enters the candidate heap at most once (the visited
//! set), ids ≥ [`GraphRead::slots`] are never followed, and the greedy descent takes at most
//! `slots` steps, so a corrupt graph (cycles, out-of-range ids, wrong counts) costs at most
//! a full traversal, never a hang or a panic.
use mnemodb_distance::DistanceFn;
use mnemodb_distance::quantized::Sq8Query;

use super::prefetch::{prefetch, prefetch_bytes, prefetch_lines};
use super::scratch::{Far, Near, Scored, Scratch, VisitedMode};

/// Knobs of the hot loop, for the benchmarks that measure each trick on and off.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchTuning {
    /// Cache lines of each upcoming neighbour's vector to prefetch (0 = no prefetch;
    /// capped at the vector's size). Also switches the visited-tag and link prefetches.
    pub prefetch_lines: usize,
    /// How the visited set is cleared between searches.
    pub visited: VisitedMode,
    /// How many neighbours ahead the vector prefetch runs.
    pub prefetch_ahead: usize,
    /// Prefetch vectors into L2 instead of L1.
    pub prefetch_l2: bool,
    /// Walk the graph on the exact f32 vectors even when the graph holds SQ8 codes.
    pub exact_traversal: bool,
    /// [`Self::prefetch_ahead`] for walks on SQ8 codes (a code is 4× smaller, so more
    /// of them fit in the outstanding misses).
    pub prefetch_ahead_sq8: usize,
    /// Walks on f32 rows read each neighbour's head first and its tail only when it may
    /// come within the bound (see [`super::partial`]).
    pub partial_distances: bool,
    /// [`Self::prefetch_ahead`] for walks with partial distances (a head is a few lines).
    pub prefetch_ahead_partial: usize,
    /// The calibrated partial-distance margin scaled by this many thousandths.
    pub partial_margin_permille: u32,
}

impl Default for SearchTuning {
    fn default() -> Self {
        SearchTuning {
            prefetch_lines: usize::MAX,
            visited: VisitedMode::Generation,
            prefetch_ahead: 4,
            prefetch_l2: false,
            exact_traversal: false,
            prefetch_ahead_sq8: 32,
            partial_distances: true,
            prefetch_ahead_partial: 8,
            partial_margin_permille: 1000,
        }
    }
}

/// Read access to a layered graph and the vectors of its nodes.
pub(crate) trait GraphRead {
    /// Node ids are `< slots()`; larger ids are ignored.
    fn slots(&self) -> usize;
    /// Calls `f` with `node`'s neighbours on `level` (empty when it has none there).
    fn neighbors<R>(&self, node: u32, level: usize, f: impl FnOnce(&[u32]) -> R) -> R;
    /// The prepared vector of `node`.
    fn vector(&self, node: u32) -> Option<&[f32]>;
    /// Where `node`'s vector would be (for prefetching; may dangle).
    fn vector_ptr(&self, node: u32) -> *const f32;
    /// Where `node`'s level-0 links are (for prefetching; may dangle or be null).
    fn links_ptr(&self, _node: u32) -> *const u32 {
        std::ptr::null()
    }
    /// Cache lines per vector.
    fn vector_lines(&self) -> usize;
    /// `u32` words of a level-0 link block (for prefetching; 0 = no block to prefetch).
    fn links_words(&self) -> usize {
        0
    }
}

/// How the search loop scores a node against the query.
pub(crate) trait Scorer {
    /// Distance from the query to `node` (`None` when it has no vector).
    fn score(&self, node: u32) -> Option<f32>;
    /// Prefetch what [`Scorer::score`] will read for `node` (a hint; may be a no-op).
    fn prefetch(&self, node: u32);
    /// How many neighbours ahead to prefetch.
    fn ahead(&self, t: &SearchTuning) -> usize {
        t.prefetch_ahead
    }
    /// Scores the unvisited neighbours `batch` of an expanded node into `out`, prefetching
    /// `ahead` of them. A scorer may leave out nodes that will not come within `bound`
    /// (the ef-th result's distance; infinite while fewer are held).
    fn score_batch(
        &self,
        batch: &[u32],
        bound: f32,
        prefetch: bool,
        ahead: usize,
        out: &mut Vec<Scored>,
    ) {
        let _ = bound;
        score_each(self, batch, prefetch, ahead, out);
    }
}

/// Scores every node of `batch` into `out`, prefetching `ahead` nodes ahead.
#[inline]
pub(crate) fn score_each<S: Scorer + ?Sized>(
    sc: &S,
    batch: &[u32],
    prefetch: bool,
    ahead: usize,
    out: &mut Vec<Scored>,
) {
    out.clear();
    if prefetch {
        batch.iter().take(ahead).for_each(|&nb| sc.prefetch(nb));
    }
    for (j, &nb) in batch.iter().enumerate() {
        if prefetch && let Some(&next) = batch.get(j + ahead) {
            sc.prefetch(next);
        }
        if let Some(dist) = sc.score(nb) {
            out.push(Scored { dist, id: nb });
        }
    }
}

/// Exact distances on the graph's f32 vectors.
pub(crate) struct Exact<'a, G> {
    pub g: &'a G,
    pub query: &'a [f32],
    pub dist: DistanceFn,
    /// Cache lines to prefetch per vector (0 = none).
    pub lines: usize,
    pub l2: bool,
}

impl<G: GraphRead> Scorer for Exact<'_, G> {
    #[inline]
    fn score(&self, node: u32) -> Option<f32> {
        self.g.vector(node).map(|v| (self.dist)(self.query, v))
    }
    #[inline]
    fn prefetch(&self, node: u32) {
        if self.lines > 0 {
            prefetch_lines(self.g.vector_ptr(node), self.lines, self.l2);
        }
    }
}

/// Approximate distances on 8-bit codes (`dim` bytes per node, back to back).
pub(crate) struct Quantized<'a> {
    pub codes: &'a [u8],
    pub dim: usize,
    pub query: &'a Sq8Query,
    /// Cache lines to prefetch per code (0 = none).
    pub lines: usize,
}

impl Scorer for Quantized<'_> {
    #[inline]
    fn score(&self, node: u32) -> Option<f32> {
        let start = (node as usize).checked_mul(self.dim)?;
        let code = self.codes.get(start..start.checked_add(self.dim)?)?;
        Some(self.query.distance(code))
    }
    #[inline]
    fn prefetch(&self, node: u32) {
        if self.lines > 0 {
            let p = self
                .codes
                .as_ptr()
                .wrapping_add((node as usize).wrapping_mul(self.dim));
            prefetch_bytes(p, self.lines);
        }
    }
    fn ahead(&self, t: &SearchTuning) -> usize {
        t.prefetch_ahead_sq8
    }
}

/// One layer search's inputs.
#[derive(Clone, Copy)]
pub(crate) struct LayerQuery<'q, F> {
    pub query: &'q [f32],
    pub dist: DistanceFn,
    pub ef: usize,
    pub level: usize,
    /// Which nodes may be results (all nodes are navigated). The search goes on until
    /// `ef` accepted nodes are found (or the reachable graph is exhausted).
    pub accept: F,
    /// A node never to return (the node being inserted).
    pub exclude: Option<u32>,
    pub tuning: SearchTuning,
}

/// Greedy walk on `level` from `cur` towards the query (ef = 1).
pub(crate) fn greedy_by<G: GraphRead, S: Scorer>(
    g: &G,
    sc: &S,
    mut cur: Scored,
    level: usize,
) -> Scored {
    let n = g.slots();
    for _ in 0..=n {
        let mut best = cur;
        g.neighbors(cur.id, level, |ns| {
            for &nb in ns {
                if nb as usize >= n {
                    continue;
                }
                if let Some(d) = sc.score(nb)
                    && d < best.dist
                {
                    best = Scored { dist: d, id: nb };
                }
            }
        });
        if best.id == cur.id {
            break;
        }
        cur = best;
    }
    cur
}

/// Best-first search of one layer from the entry points in `s.entries`; the `ef` best
/// accepted nodes end up in `s.found`, sorted by (distance, id).
pub(crate) fn search_layer<G: GraphRead, F: Fn(u32) -> bool>(
    g: &G,
    s: &mut Scratch,
    lq: &LayerQuery<'_, F>,
) {
    let sc = Exact {
        g,
        query: lq.query,
        dist: lq.dist,
        lines: lq.tuning.prefetch_lines.min(g.vector_lines()),
        l2: lq.tuning.prefetch_l2,
    };
    search_layer_by(g, &sc, s, lq);
}

/// [`search_layer`] with any scorer (`lq.query` and `lq.dist` are not used).
pub(crate) fn search_layer_by<G: GraphRead, S: Scorer, F: Fn(u32) -> bool>(
    g: &G,
    sc: &S,
    s: &mut Scratch,
    lq: &LayerQuery<'_, F>,
) {
    let n = g.slots();
    let ef = lq.ef.max(1);
    let lines = lq.tuning.prefetch_lines;
    let ahead = sc.ahead(&lq.tuning);
    s.visited.reset(n, lq.tuning.visited);
    s.candidates.clear();
    s.results.clear();
    if let Some(x) = lq.exclude {
        s.visited.insert(x);
    }
    let mut bound = f32::INFINITY;
    for &e in &s.entries {
        if !s.visited.insert(e.id) {
            continue;
        }
        s.candidates.push(Near(e));
        if (lq.accept)(e.id) {
            s.results.push(Far(e));
            if s.results.len() > ef {
                s.results.pop();
            }
        }
    }
    if s.results.len() >= ef {
        bound = s.results.peek().map_or(f32::INFINITY, |f| f.0.dist);
    }
    // `bound` is infinite until `ef` results are held. Unfiltered, every candidate is also
    // a result, so this is the paper's stop rule; filtered, the search keeps going until
    // `ef` accepted nodes are found, as hnswlib does.
    while let Some(Near(c)) = s.candidates.pop() {
        if c.dist > bound {
            break;
        }
        if lines > 0
            && lq.level == 0
            && let Some(next) = s.candidates.peek()
        {
            // The whole `[count, m0 slots]` block: it spans up to 4 cache lines.
            let p = g.links_ptr(next.0.id);
            let words = g.links_words();
            let mut w = 0;
            while words > 0 && w < words + 16 {
                prefetch(p.wrapping_add(w));
                w += 16;
            }
        }
        s.batch.clear();
        {
            let (batch, visited) = (&mut s.batch, &mut s.visited);
            g.neighbors(c.id, lq.level, |ns| {
                if lines > 0 {
                    for &nb in ns {
                        prefetch(visited.tag_ptr(nb));
                    }
                }
                for &nb in ns {
                    if (nb as usize) < n && visited.insert(nb) {
                        batch.push(nb);
                    }
                }
            });
        }
        sc.score_batch(&s.batch, bound, lines > 0, ahead, &mut s.scored);
        for &hit in &s.scored {
            if s.results.len() < ef || hit.dist < bound {
                s.candidates.push(Near(hit));
                if (lq.accept)(hit.id) {
                    s.results.push(Far(hit));
                    if s.results.len() > ef {
                        s.results.pop();
                    }
                    if s.results.len() >= ef {
                        bound = s.results.peek().map_or(f32::INFINITY, |f| f.0.dist);
                    }
                }
            }
        }
    }
    s.found.clear();
    s.found.extend(s.results.drain().map(|f| f.0));
    s.found
        .sort_unstable_by(|a, b| a.dist.total_cmp(&b.dist).then(a.id.cmp(&b.id)));
}

/// Full k-NN search: greedy descent from `entry` to level 1, then a layer search of
/// level 0 with `ef`. Results in `s.found` (at most `ef`, sorted).
#[allow(clippy::too_many_arguments)]
pub(crate) fn knn<G: GraphRead, F: Fn(u32) -> bool>(
    g: &G,
    entry: Option<(u32, usize)>,
    query: &[f32],
    dist: DistanceFn,
    ef: usize,
    accept: F,
    tuning: SearchTuning,
    s: &mut Scratch,
) {
    let sc = Exact {
        g,
        query,
        dist,
        lines: tuning.prefetch_lines.min(g.vector_lines()),
        l2: tuning.prefetch_l2,
    };
    knn_by(g, &sc, entry, query, dist, ef, accept, tuning, s);
}

/// [`knn`] with any scorer; `query` and `dist` are only carried along.
#[allow(clippy::too_many_arguments)]
pub(crate) fn knn_by<G: GraphRead, S: Scorer, F: Fn(u32) -> bool>(
    g: &G,
    sc: &S,
    entry: Option<(u32, usize)>,
    query: &[f32],
    dist: DistanceFn,
    ef: usize,
    accept: F,
    tuning: SearchTuning,
    s: &mut Scratch,
) {
    s.found.clear();
    let Some((ep, top)) = entry else { return };
    if ep as usize >= g.slots() {
        return;
    }
    let Some(d) = sc.score(ep) else { return };
    let mut cur = Scored { dist: d, id: ep };
    for level in (1..=top).rev() {
        cur = greedy_by(g, sc, cur, level);
    }
    s.entries.clear();
    s.entries.push(cur);
    let lq = LayerQuery {
        query,
        dist,
        ef,
        level: 0,
        accept,
        exclude: None,
        tuning,
    };
    search_layer_by(g, sc, s, &lq);
}

/// Replace the distances in `s.found` by exact ones (f32 vectors) and sort again.
pub(crate) fn rerank<G: GraphRead>(g: &G, query: &[f32], dist: DistanceFn, s: &mut Scratch) {
    let lines = g.vector_lines();
    for h in s.found.iter().take(4) {
        prefetch_lines(g.vector_ptr(h.id), lines, false);
    }
    for j in 0..s.found.len() {
        if let Some(next) = s.found.get(j + 4) {
            prefetch_lines(g.vector_ptr(next.id), lines, false);
        }
        if let Some(h) = s.found.get_mut(j) {
            h.dist = g.vector(h.id).map_or(f32::INFINITY, |v| dist(query, v));
        }
    }
    s.found
        .sort_unstable_by(|a, b| a.dist.total_cmp(&b.dist).then(a.id.cmp(&b.id)));
}
