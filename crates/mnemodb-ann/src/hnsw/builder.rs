//! [`HnswBuilder`]: parallel construction on a caller's rayon pool, then freezing into an
//! [`HnswGraph`].
use std::collections::VecDeque;

use mnemodb_distance::{DistanceFn, Metric};
use parking_lot::RwLock;
use rayon::prelude::*;
use roaring::RoaringBitmap;

use super::codes::Sq8Codes;
use super::graph::{HnswGraph, freeze};
use super::insert::{Entry, Links, Locked, insert, links_len, list};
use super::layer::{LayerQuery, SearchTuning, search_layer};
use super::params::HnswParams;
use super::rows::Rows;
use super::scratch::{Scored, with_scratch};
use crate::error::Result;

/// Rows inserted one by one before the parallel phase, so the first, sparse part of the
/// graph (where concurrent insertions would mostly see each other half-linked) is built
/// exactly as a sequential build would.
pub const SEQUENTIAL_PREFIX: usize = 512;

/// Builds an [`HnswGraph`] over prepared rows.
///
/// ```
/// use mnemodb_ann::hnsw::{HnswBuilder, HnswParams, Rows, SearchOptions};
/// use mnemodb_distance::Metric;
///
/// let data: Vec<f32> = (0..200).flat_map(|i| [i as f32, (i % 7) as f32]).collect();
/// let rows = Rows::new(&data, 2)?;
/// let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build()?;
/// let graph = HnswBuilder::new(Metric::L2, HnswParams::with_m(8))?.build(&pool, rows)?;
/// let hits = graph.search(rows, &[10.2, 3.0], 1, &SearchOptions::default())?;
/// assert_eq!(hits[0].id, 10); // row number
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct HnswBuilder {
    params: HnswParams,
    metric: Metric,
    deterministic: bool,
    tuning: SearchTuning,
    quantized_build: bool,
}

impl HnswBuilder {
    /// A builder for `metric` (rows must be prepared for it) with validated `params`.
    pub fn new(metric: Metric, params: HnswParams) -> Result<Self> {
        params.validate()?;
        Ok(HnswBuilder {
            params,
            metric,
            deterministic: false,
            tuning: SearchTuning::default(),
            quantized_build: true,
        })
    }

    /// Deterministic mode: insert every row in order on the calling thread (the pool is
    /// not used), so the same rows and seed give the same graph, byte for byte.
    pub fn deterministic(mut self, on: bool) -> Self {
        self.deterministic = on;
        self
    }

    /// Search for each new node's neighbours on SQ8 codes of the rows (trained first),
    /// re-ranking the `ef_construction` candidates on the f32 rows before selection
    /// (default on; `false`: every distance on the f32 rows).
    #[doc(hidden)]
    pub fn quantized_build(mut self, on: bool) -> Self {
        self.quantized_build = on;
        self
    }

    /// Hot-loop switches (benchmarks).
    #[doc(hidden)]
    pub fn tuning(mut self, tuning: SearchTuning) -> Self {
        self.tuning = tuning;
        self
    }

    /// The parameters.
    pub fn params(&self) -> &HnswParams {
        &self.params
    }

    /// Build over every row of `rows`, on `pool`.
    pub fn build(&self, pool: &rayon::ThreadPool, rows: Rows<'_>) -> Result<HnswGraph> {
        self.build_subset(pool, rows, None)
    }

    /// Build over the rows in `include` only (all when `None`); the others stay nodes
    /// without links (never reached, never returned), so row numbers stay those of
    /// `rows`. This is the rebuild path after deletes.
    pub fn build_subset(
        &self,
        pool: &rayon::ThreadPool,
        rows: Rows<'_>,
        include: Option<&RoaringBitmap>,
    ) -> Result<HnswGraph> {
        let n = rows.len();
        let p = self.params;
        let included = |r: u32| include.is_none_or(|b| b.contains(r));
        let order: Vec<u32> = match include {
            Some(b) => b.range(0..n as u32).collect(),
            None => (0..n as u32).collect(),
        };
        let nodes: Vec<RwLock<Box<[u32]>>> = pool.install(|| {
            (0..n as u32)
                .into_par_iter()
                .map(|r| {
                    let level = if included(r) { p.level_of(r) } else { 0 };
                    RwLock::new(vec![0u32; links_len(level, p.m, p.m0)].into_boxed_slice())
                })
                .collect()
        });
        let codes = if self.quantized_build || p.sq8 {
            Sq8Codes::train(rows, include)
        } else {
            None
        };
        let state = BuildState {
            params: p,
            dist: self.metric.distance_fn(),
            metric: self.metric,
            rows,
            nodes,
            entry: Entry::default(),
            codes,
            quantized: self.quantized_build,
        };
        let tuning = self.tuning;
        let insert_one = |&r: &u32| {
            with_scratch(|s| insert(&state, r, p.level_of(r), s, tuning));
        };
        if self.deterministic {
            order.iter().for_each(insert_one);
        } else {
            let split = order.len().min(SEQUENTIAL_PREFIX);
            let (head, tail) = order.split_at(split);
            pool.install(|| {
                head.iter().for_each(insert_one);
                tail.par_iter().with_min_len(16).for_each(insert_one);
            });
        }
        repair_reachability(&state, &order, tuning);
        let mut graph = freeze(&state, n, self.metric, rows.dim());
        if p.sq8 {
            graph.sq8 = state.codes.clone();
        }
        Ok(graph)
    }
}

/// The graph under construction.
pub(crate) struct BuildState<'a> {
    params: HnswParams,
    dist: DistanceFn,
    metric: Metric,
    rows: Rows<'a>,
    nodes: Vec<RwLock<Box<[u32]>>>,
    entry: Entry,
    codes: Option<Sq8Codes>,
    /// Search on `codes` while inserting.
    quantized: bool,
}

impl Links for BuildState<'_> {
    fn params(&self) -> &HnswParams {
        &self.params
    }
    fn dist(&self) -> DistanceFn {
        self.dist
    }
    fn slots(&self) -> usize {
        self.nodes.len()
    }
    #[inline]
    fn node_links(&self, node: u32) -> Option<&RwLock<Box<[u32]>>> {
        self.nodes.get(node as usize)
    }
    #[inline]
    fn vector(&self, node: u32) -> Option<&[f32]> {
        self.rows.get(node as usize)
    }
    #[inline]
    fn vector_ptr(&self, node: u32) -> *const f32 {
        self.rows.ptr(node as usize)
    }
    fn vector_lines(&self) -> usize {
        self.rows.lines()
    }
    fn entry(&self) -> &Entry {
        &self.entry
    }
    fn sq8(&self) -> Option<(&Sq8Codes, Metric)> {
        self.codes
            .as_ref()
            .filter(|_| self.quantized)
            .map(|c| (c, self.metric))
    }
}

/// Make every inserted node reachable on level 0 from the entry point.
///
/// The selection heuristic may drop every in-link of a node (its neighbours all found
/// closer ones), leaving it unreachable: a search can never return it. For each such
/// node (rare: a handful per 100k), search the graph for it and link it from the closest
/// reachable node that has a free level-0 slot (else from the closest one, replacing its
/// farthest link), then mark everything it reaches.
pub(crate) fn repair_reachability<T: Links>(g: &T, order: &[u32], tuning: SearchTuning) {
    let Some((entry, _)) = g.entry().get() else {
        return;
    };
    let p = *g.params();
    let n = g.slots();
    let mut reached = vec![false; n];
    let mut queue = VecDeque::new();
    let mut links = Vec::new();
    let mut mark = |from: u32, reached: &mut Vec<bool>, queue: &mut VecDeque<u32>| {
        if let Some(r) = reached.get_mut(from as usize)
            && !*r
        {
            *r = true;
            queue.push_back(from);
        }
        while let Some(x) = queue.pop_front() {
            links.clear();
            if let Some(lock) = g.node_links(x) {
                links.extend_from_slice(list(&lock.read(), 0, p.m, p.m0));
            }
            for &y in &links {
                if let Some(r) = reached.get_mut(y as usize)
                    && !*r
                {
                    *r = true;
                    queue.push_back(y);
                }
            }
        }
    };
    mark(entry, &mut reached, &mut queue);
    let read = Locked(g);
    for &u in order {
        if reached.get(u as usize) != Some(&false) {
            continue;
        }
        let Some(uv) = g.vector(u) else { continue };
        let dist = g.dist();
        let Some(ev) = g.vector(entry) else { return };
        let linked = with_scratch(|s| {
            s.entries.clear();
            s.entries.push(Scored {
                dist: dist(uv, ev),
                id: entry,
            });
            let lq = LayerQuery {
                query: uv,
                dist,
                ef: p.ef_construction,
                level: 0,
                accept: |x: u32| reached.get(x as usize) == Some(&true),
                exclude: Some(u),
                tuning,
            };
            search_layer(&read, s, &lq);
            let mut target = None;
            for c in &s.found {
                let Some(lock) = g.node_links(c.id) else {
                    continue;
                };
                if list(&lock.read(), 0, p.m, p.m0).len() < p.m0 {
                    target = Some(c.id);
                    break;
                }
            }
            let Some(t) = target.or_else(|| s.found.first().map(|c| c.id)) else {
                return false;
            };
            let Some(lock) = g.node_links(t) else {
                return false;
            };
            let mut w = lock.write();
            let mut ids: Vec<u32> = list(&w, 0, p.m, p.m0).to_vec();
            if ids.len() >= p.m0 {
                ids.pop();
            }
            ids.push(u);
            if let Some((count, slots)) = w.get_mut(..1 + p.m0).and_then(|b| b.split_first_mut()) {
                slots.iter_mut().for_each(|x| *x = 0);
                for (slot, id) in slots.iter_mut().zip(&ids) {
                    *slot = *id;
                }
                *count = ids.len() as u32;
            }
            true
        });
        if linked {
            mark(u, &mut reached, &mut queue);
        }
    }
}
