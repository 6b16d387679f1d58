//! The search loop shared by every graph representation: greedy descent through the upper
//! levels and the best-first layer search (Algorithm 2 of the paper) with an allow filter.
//!
//! Termination on any bytes: each node enters the candidate heap at most once (the visited
//! set), ids ≥ [`GraphRead::slots`] are never followed, and the greedy descent takes at most
//! `slots` steps, so a corrupt graph (cycles, out-of-range ids, wrong counts) costs at most
//! a full traversal, never a hang or a panic.
use mnemodb_distance::DistanceFn;

use super::prefetch::{prefetch, prefetch_lines};
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
}

impl Default for SearchTuning {
    fn default() -> Self {
        SearchTuning {
            prefetch_lines: usize::MAX,
            visited: VisitedMode::Generation,
            prefetch_ahead: 4,
            prefetch_l2: false,
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
pub(crate) fn greedy<G: GraphRead>(
    g: &G,
    query: &[f32],
    dist: DistanceFn,
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
                if let Some(v) = g.vector(nb) {
                    let d = dist(query, v);
                    if d < best.dist {
                        best = Scored { dist: d, id: nb };
                    }
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
    let n = g.slots();
    let ef = lq.ef.max(1);
    let lines = lq.tuning.prefetch_lines.min(g.vector_lines());
    let ahead = lq.tuning.prefetch_ahead;
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
        if lines > 0 {
            for &nb in s.batch.iter().take(ahead) {
                prefetch_lines(g.vector_ptr(nb), lines, lq.tuning.prefetch_l2);
            }
        }
        for j in 0..s.batch.len() {
            let Some(&nb) = s.batch.get(j) else { break };
            if lines > 0
                && let Some(&next) = s.batch.get(j + ahead)
            {
                prefetch_lines(g.vector_ptr(next), lines, lq.tuning.prefetch_l2);
            }
            let Some(v) = g.vector(nb) else { continue };
            let d = (lq.dist)(lq.query, v);
            if s.results.len() < ef || d < bound {
                let hit = Scored { dist: d, id: nb };
                s.candidates.push(Near(hit));
                if (lq.accept)(nb) {
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
    s.found.clear();
    let Some((ep, top)) = entry else { return };
    if ep as usize >= g.slots() {
        return;
    }
    let Some(v) = g.vector(ep) else { return };
    let mut cur = Scored {
        dist: dist(query, v),
        id: ep,
    };
    for level in (1..=top).rev() {
        cur = greedy(g, query, dist, cur, level);
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
    search_layer(g, s, &lq);
}
