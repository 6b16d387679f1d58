//! Insertion into a graph under construction (Algorithm 1 of the paper), shared by the
//! parallel [`super::HnswBuilder`] and the live [`super::LiveHnsw`].
//!
//! Each node owns one `parking_lot::RwLock<Box<[u32]>>` holding all its levels:
//! `[count, m0 slots]` for level 0, then `[count, m slots]` per level above. A search
//! copies a node's list under the read lock; linking takes one write lock at a time (never
//! two), so there is no lock ordering to get wrong.
use std::sync::atomic::{AtomicU64, Ordering};

use mnemodb_distance::{DistanceFn, Metric};
use parking_lot::{Mutex, RwLock};

use super::codes::Sq8Codes;
use super::layer::{
    Exact, GraphRead, LayerQuery, Quantized, Scorer, SearchTuning, greedy_by, search_layer_by,
};
use super::params::HnswParams;
use super::scratch::{Scored, Scratch};

/// Words of the links buffer of a node of `level`.
pub(crate) fn links_len(level: usize, m: usize, m0: usize) -> usize {
    (1 + m0) + level * (1 + m)
}

/// Level of a node from its links buffer length.
pub(crate) fn level_of_len(len: usize, m: usize, m0: usize) -> usize {
    len.saturating_sub(1 + m0) / (1 + m)
}

/// Range of `level`'s `[count, slots…]` block in a links buffer.
#[inline]
fn block_range(level: usize, m: usize, m0: usize) -> (usize, usize) {
    if level == 0 {
        (0, 1 + m0)
    } else {
        let start = (1 + m0) + (level - 1) * (1 + m);
        (start, start + 1 + m)
    }
}

/// The neighbour list of `level` in a links buffer (empty when the node is lower).
#[inline]
pub(crate) fn list(links: &[u32], level: usize, m: usize, m0: usize) -> &[u32] {
    let (a, b) = block_range(level, m, m0);
    match links.get(a..b).and_then(|blk| blk.split_first()) {
        Some((&count, slots)) => slots
            .get(..(count as usize).min(slots.len()))
            .unwrap_or(&[]),
        None => &[],
    }
}

/// Replace the neighbour list of `level` (truncated to the block's capacity).
fn set_list(links: &mut [u32], level: usize, m: usize, m0: usize, ids: impl Iterator<Item = u32>) {
    let (a, b) = block_range(level, m, m0);
    if let Some(blk) = links.get_mut(a..b)
        && let Some((count, slots)) = blk.split_first_mut()
    {
        let mut c = 0;
        for (slot, id) in slots.iter_mut().zip(ids) {
            *slot = id;
            c += 1;
        }
        slots.iter_mut().skip(c).for_each(|s| *s = 0);
        *count = c as u32;
    }
}

/// Append `id` to `level`'s list when there is room; `false` when full.
fn push_link(links: &mut [u32], level: usize, m: usize, m0: usize, id: u32) -> bool {
    let (a, b) = block_range(level, m, m0);
    if let Some(blk) = links.get_mut(a..b)
        && let Some((count, slots)) = blk.split_first_mut()
        && let Some(slot) = slots.get_mut(*count as usize)
    {
        *slot = id;
        *count += 1;
        return true;
    }
    false
}

/// The entry point: node and level packed in one atomic (`u64::MAX` = empty graph), plus
/// the lock an insertion holds while it may raise the top level.
#[derive(Debug)]
pub(crate) struct Entry {
    packed: AtomicU64,
    promote: Mutex<()>,
}

impl Default for Entry {
    fn default() -> Self {
        Entry {
            packed: AtomicU64::new(u64::MAX),
            promote: Mutex::new(()),
        }
    }
}

impl Entry {
    pub fn get(&self) -> Option<(u32, usize)> {
        let v = self.packed.load(Ordering::Acquire);
        (v != u64::MAX).then_some((v as u32, (v >> 32) as usize))
    }

    pub fn set(&self, node: u32, level: usize) {
        self.packed
            .store((level as u64) << 32 | u64::from(node), Ordering::Release);
    }
}

/// A graph whose links can change (per-node locks).
pub(crate) trait Links: Sync {
    fn params(&self) -> &HnswParams;
    fn dist(&self) -> DistanceFn;
    /// Node ids are `< slots()`.
    fn slots(&self) -> usize;
    fn node_links(&self, node: u32) -> Option<&RwLock<Box<[u32]>>>;
    fn vector(&self, node: u32) -> Option<&[f32]>;
    fn vector_ptr(&self, node: u32) -> *const f32;
    fn vector_lines(&self) -> usize;
    fn entry(&self) -> &Entry;
    /// SQ8 codes of the vectors to search on while inserting (candidates are re-ranked
    /// on the f32 vectors before neighbour selection), and the metric to fold queries for.
    fn sq8(&self) -> Option<(&Sq8Codes, Metric)> {
        None
    }
}

/// [`GraphRead`] over a [`Links`] graph: lists are read under each node's read lock.
pub(crate) struct Locked<'a, T>(pub &'a T);

impl<T: Links> GraphRead for Locked<'_, T> {
    #[inline]
    fn slots(&self) -> usize {
        self.0.slots()
    }

    #[inline]
    fn neighbors<R>(&self, node: u32, level: usize, f: impl FnOnce(&[u32]) -> R) -> R {
        let p = self.0.params();
        match self.0.node_links(node) {
            Some(lock) => {
                let links = lock.read();
                f(list(&links, level, p.m, p.m0))
            }
            None => f(&[]),
        }
    }

    #[inline]
    fn vector(&self, node: u32) -> Option<&[f32]> {
        self.0.vector(node)
    }

    #[inline]
    fn vector_ptr(&self, node: u32) -> *const f32 {
        self.0.vector_ptr(node)
    }

    fn vector_lines(&self) -> usize {
        self.0.vector_lines()
    }

    /// The node's lock (and the pointer to its links next to it): the links themselves
    /// can only be read under the lock.
    #[inline]
    fn links_ptr(&self, node: u32) -> *const u32 {
        self.0
            .node_links(node)
            .map_or(std::ptr::null(), |l| std::ptr::from_ref(l).cast::<u32>())
    }

    fn links_words(&self) -> usize {
        std::mem::size_of::<RwLock<Box<[u32]>>>().div_ceil(4)
    }
}

/// Neighbour selection (Algorithm 4 when `heuristic`, else the `m` closest): from
/// `cands` (sorted by distance to the base vector), keep a candidate only if it is closer
/// to the base than to every neighbour kept so far; optionally fill up with the closest
/// pruned ones (`fill`).
pub(crate) fn select<T: Links>(
    g: &T,
    cands: &[Scored],
    m: usize,
    fill: bool,
    out: &mut Vec<Scored>,
    pruned: &mut Vec<Scored>,
) {
    let p = g.params();
    out.clear();
    pruned.clear();
    if !p.heuristic {
        out.extend(cands.iter().take(m));
        return;
    }
    let dist = g.dist();
    for &c in cands {
        if out.len() >= m {
            break;
        }
        let Some(cv) = g.vector(c.id) else { continue };
        let good = out
            .iter()
            .all(|r| g.vector(r.id).is_none_or(|rv| dist(cv, rv) >= c.dist));
        if good {
            out.push(c);
        } else {
            pruned.push(c);
        }
    }
    if fill {
        for &c in pruned.iter() {
            if out.len() >= m {
                break;
            }
            out.push(c);
        }
    }
}

/// Add the candidates' own neighbours on `level` to `s.found` (the paper's
/// `extendCandidates`), keeping it sorted.
fn extend_candidates<T: Links>(g: &T, q: u32, qv: &[f32], level: usize, s: &mut Scratch) {
    let read = Locked(g);
    let dist = g.dist();
    s.visited.reset(g.slots(), Default::default());
    s.visited.insert(q);
    for c in &s.found {
        s.visited.insert(c.id);
    }
    let mut extra = std::mem::take(&mut s.pool);
    extra.clear();
    for c in &s.found {
        s.links.clear();
        read.neighbors(c.id, level, |ns| s.links.extend_from_slice(ns));
        for &nb in &s.links {
            if s.visited.insert(nb)
                && let Some(v) = g.vector(nb)
            {
                extra.push(Scored {
                    dist: dist(qv, v),
                    id: nb,
                });
            }
        }
    }
    s.found.extend_from_slice(&extra);
    s.found
        .sort_unstable_by(|a, b| a.dist.total_cmp(&b.dist).then(a.id.cmp(&b.id)));
    s.pool = extra;
}

/// Insert node `q` (its vector and links buffer already exist) of level `level`.
pub(crate) fn insert<T: Links>(g: &T, q: u32, level: usize, s: &mut Scratch, tuning: SearchTuning) {
    let Some(qv) = g.vector(q) else { return };
    let read = Locked(g);
    match g.sq8() {
        Some((c, metric)) if c.dim() == qv.len() && !tuning.exact_traversal => {
            let mut q8 = std::mem::take(&mut s.q8);
            c.sq.query_into(metric, qv, &mut q8);
            let sc = Quantized {
                codes: c.codes(),
                dim: c.dim(),
                query: &q8,
                lines: tuning.prefetch_lines.min(c.dim().div_ceil(64)),
            };
            insert_by(g, &sc, true, q, qv, level, s, tuning);
            s.q8 = q8;
        }
        _ => {
            let sc = Exact {
                g: &read,
                query: qv,
                dist: g.dist(),
                lines: tuning.prefetch_lines.min(g.vector_lines()),
                l2: tuning.prefetch_l2,
            };
            insert_by(g, &sc, false, q, qv, level, s, tuning);
        }
    }
}

/// [`insert`] searching with `sc`; `rerank`: the scorer is approximate, so candidates get
/// exact distances before neighbour selection.
#[allow(clippy::too_many_arguments)]
fn insert_by<T: Links, S: Scorer>(
    g: &T,
    sc: &S,
    rerank: bool,
    q: u32,
    qv: &[f32],
    level: usize,
    s: &mut Scratch,
    tuning: SearchTuning,
) {
    let p = *g.params();
    let dist = g.dist();
    let read = Locked(g);
    let mut ep = g.entry().get();
    // Raising the top level (or inserting the first node) is serialised: the new top
    // node must be fully linked before anyone starts from it.
    let _promote = if ep.is_none_or(|(_, top)| level > top) {
        let guard = g.entry().promote.lock();
        ep = g.entry().get();
        Some(guard)
    } else {
        None
    };
    let Some((ep_id, top)) = ep else {
        g.entry().set(q, level);
        return;
    };
    let Some(d) = sc.score(ep_id) else { return };
    let mut cur = Scored { dist: d, id: ep_id };
    for lc in (level + 1..=top).rev() {
        cur = greedy_by(&read, sc, cur, lc);
    }
    s.entries.clear();
    s.entries.push(cur);
    // Phase 1: find `q`'s neighbours on every level, top down, without linking anything.
    // Phase 2 gives `q` all its lists at once, phase 3 adds the reverse links bottom up:
    // so once a search can reach `q` on some level, `q` already has its level-0 list (a
    // search descending onto a half-inserted node would otherwise find a dead end).
    let top_lc = level.min(top);
    let mut layers = std::mem::take(&mut s.layers);
    layers.resize_with(layers.len().max(top_lc + 1), Vec::new);
    for lc in (0..=top_lc).rev() {
        let lq = LayerQuery {
            query: qv,
            dist,
            ef: p.ef_construction,
            level: lc,
            accept: |_| true,
            exclude: Some(q),
            tuning,
        };
        search_layer_by(&read, sc, s, &lq);
        if p.heuristic && p.extend_candidates {
            extend_candidates(g, q, qv, lc, s);
        }
        if let Some(selected) = layers.get_mut(lc) {
            let mut pruned = std::mem::take(&mut s.pruned);
            if rerank {
                // Exact distances for selection; `s.found` (approximate) stays the next
                // level's entry points, consistent with the scorer.
                let mut exact = std::mem::take(&mut s.exact);
                exact.clear();
                exact.extend(s.found.iter().map(|c| Scored {
                    dist: g.vector(c.id).map_or(f32::INFINITY, |v| dist(qv, v)),
                    id: c.id,
                }));
                exact.sort_unstable_by(|a, b| a.dist.total_cmp(&b.dist).then(a.id.cmp(&b.id)));
                select(g, &exact, p.m, p.keep_pruned, selected, &mut pruned);
                s.exact = exact;
            } else {
                select(g, &s.found, p.m, p.keep_pruned, selected, &mut pruned);
            }
            s.pruned = pruned;
        }
        std::mem::swap(&mut s.entries, &mut s.found);
    }
    if let Some(lock) = g.node_links(q) {
        let mut links = lock.write();
        for (lc, selected) in layers.iter().enumerate().take(top_lc + 1) {
            // Keep links that concurrent insertions already made to `q` on this level.
            s.links.clear();
            s.links.extend_from_slice(list(&links, lc, p.m, p.m0));
            let extra = s
                .links
                .iter()
                .copied()
                .filter(|x| selected.iter().all(|r| r.id != *x));
            let ids = selected.iter().map(|r| r.id).chain(extra);
            set_list(&mut links, lc, p.m, p.m0, ids);
        }
    }
    for (lc, selected) in layers.iter().enumerate().take(top_lc + 1) {
        for r in selected {
            add_link(g, r.id, q, r.dist, lc, s);
        }
    }
    s.layers = layers;
    if level > top {
        g.entry().set(q, level);
    }
}

/// Add the link `e → q` on `level` (`d` = their distance); when `e`'s list is full, shrink
/// it back to the bound with the selection rule.
pub(crate) fn add_link<T: Links>(g: &T, e: u32, q: u32, d: f32, level: usize, s: &mut Scratch) {
    let p = *g.params();
    let cap = p.cap(level);
    let Some(lock) = g.node_links(e) else { return };
    let mut links = lock.write();
    if level_of_len(links.len(), p.m, p.m0) < level {
        return;
    }
    let current = list(&links, level, p.m, p.m0);
    if current.contains(&q) || e == q {
        return;
    }
    if current.len() < cap {
        push_link(&mut links, level, p.m, p.m0, q);
        return;
    }
    let Some(ev) = g.vector(e) else { return };
    let dist = g.dist();
    let mut pool = std::mem::take(&mut s.pool);
    pool.clear();
    for &x in current {
        if let Some(xv) = g.vector(x) {
            pool.push(Scored {
                dist: dist(ev, xv),
                id: x,
            });
        }
    }
    pool.push(Scored { dist: d, id: q });
    pool.sort_unstable_by(|a, b| a.dist.total_cmp(&b.dist).then(a.id.cmp(&b.id)));
    let (mut kept, mut dropped) = (std::mem::take(&mut s.kept), std::mem::take(&mut s.dropped));
    let fill = p.keep_pruned && p.keep_pruned_on_overflow;
    select(g, &pool, cap, fill, &mut kept, &mut dropped);
    set_list(&mut links, level, p.m, p.m0, kept.iter().map(|r| r.id));
    s.pool = pool;
    s.kept = kept;
    s.dropped = dropped;
}
