//! [`LiveHnsw`]: a graph that grows while it is searched (the engine's growing segment).
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

use mnemodb_distance::{DistanceFn, Metric, validate_dim, validate_vector};
use parking_lot::RwLock;
use rayon::prelude::*;

use super::builder::repair_reachability;
use super::graph::{HnswGraph, freeze};
use super::insert::{Entry, Links, Locked, insert, links_len};
use super::layer::SearchTuning;
use super::params::HnswParams;
use super::scratch::with_scratch;
use super::search::{self, SearchOptions, Target};
use crate::error::{Error, Result};
use crate::hit::Hit;

/// Slots of the first chunk; chunk `c` holds `FIRST_CHUNK << c`.
const FIRST_CHUNK: usize = 1024;
/// Chunks: enough for more than `u32::MAX` rows.
const CHUNKS: usize = 23;
/// Largest row count.
const MAX_ROWS: u32 = u32::MAX - 1;

/// A chunk of row slots (set once each).
type Chunk = Box<[OnceLock<LiveNode>]>;

/// One row: its prepared vector, its links, its tombstone.
#[derive(Debug)]
struct LiveNode {
    vector: Box<[f32]>,
    links: RwLock<Box<[u32]>>,
    deleted: AtomicBool,
}

/// An HNSW graph that accepts inserts and deletes while it is searched, from any number
/// of threads (`&self` methods; `Send + Sync`).
///
/// Rows get consecutive numbers in insertion order (the growing segment's row numbers).
/// Vectors live in an append-only chunked store (chunks double in size and never move),
/// links behind one `RwLock` per node. A search sees the rows whose insertion started
/// before it did, and finds a row once that row's linking is done. Deleted rows are
/// skipped in results but still navigated through. [`LiveHnsw::freeze`] turns a
/// quiescent graph into an [`HnswGraph`] for the sealed segment.
///
/// ```
/// use mnemodb_ann::hnsw::{HnswParams, LiveHnsw, SearchOptions};
/// use mnemodb_distance::Metric;
///
/// let live = LiveHnsw::new(Metric::L2, 2, HnswParams::with_m(8))?;
/// for i in 0..100 {
///     live.insert(&[i as f32, 0.0])?;
/// }
/// live.delete(42);
/// let hits = live.search(&[42.1, 0.0], 2, &SearchOptions::default())?;
/// assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), [43, 41]);
/// # Ok::<(), mnemodb_ann::Error>(())
/// ```
#[derive(Debug)]
pub struct LiveHnsw {
    params: HnswParams,
    metric: Metric,
    dim: usize,
    dist: DistanceFn,
    chunks: Box<[OnceLock<Chunk>]>,
    next: AtomicU32,
    entry: Entry,
    deleted: AtomicUsize,
    tuning: SearchTuning,
}

/// Chunk and offset of `row`.
#[inline]
fn locate(row: usize) -> (usize, usize) {
    let b = row / FIRST_CHUNK + 1;
    let c = (usize::BITS - 1 - b.leading_zeros()) as usize;
    let start = ((1usize << c) - 1) * FIRST_CHUNK;
    (c, row - start)
}

impl LiveHnsw {
    /// An empty graph for `dim`-dimensional vectors under `metric`.
    pub fn new(metric: Metric, dim: usize, params: HnswParams) -> Result<Self> {
        params.validate()?;
        validate_dim(dim)?;
        Ok(LiveHnsw {
            params,
            metric,
            dim,
            dist: metric.distance_fn(),
            chunks: (0..CHUNKS).map(|_| OnceLock::new()).collect(),
            next: AtomicU32::new(0),
            entry: Entry::default(),
            deleted: AtomicUsize::new(0),
            tuning: SearchTuning::default(),
        })
    }

    /// Parameters.
    pub fn params(&self) -> &HnswParams {
        &self.params
    }

    /// Metric.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// Dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Rows inserted (or being inserted), deleted ones included.
    pub fn len(&self) -> usize {
        self.next.load(Ordering::Acquire).min(MAX_ROWS) as usize
    }

    /// Whether no row was inserted.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Rows deleted.
    pub fn deleted_count(&self) -> usize {
        self.deleted.load(Ordering::Relaxed)
    }

    fn slot(&self, row: u32) -> Option<&OnceLock<LiveNode>> {
        let (c, off) = locate(row as usize);
        let chunk = self
            .chunks
            .get(c)?
            .get_or_init(|| (0..FIRST_CHUNK << c).map(|_| OnceLock::new()).collect());
        chunk.get(off)
    }

    #[inline]
    fn node(&self, row: u32) -> Option<&LiveNode> {
        let (c, off) = locate(row as usize);
        self.chunks.get(c)?.get()?.get(off)?.get()
    }

    /// Validate and prepare `vector`, give it the next row number and store it.
    fn push(&self, vector: &[f32], deleted: bool) -> Result<(u32, usize)> {
        validate_vector(vector, self.dim)?;
        let mut v = vector.to_vec();
        self.metric.prepare(&mut v);
        let row = self.next.fetch_add(1, Ordering::AcqRel);
        if row >= MAX_ROWS {
            self.next.store(MAX_ROWS, Ordering::Release);
            return Err(Error::InvalidParams(format!(
                "a live graph holds at most {MAX_ROWS} rows"
            )));
        }
        let level = if deleted {
            0
        } else {
            self.params.level_of(row)
        };
        let node = LiveNode {
            vector: v.into_boxed_slice(),
            links: RwLock::new(vec![0; links_len(level, self.params.m, self.params.m0)].into()),
            deleted: AtomicBool::new(deleted),
        };
        if let Some(slot) = self.slot(row) {
            let _ = slot.set(node);
        }
        if deleted {
            self.deleted.fetch_add(1, Ordering::Relaxed);
        }
        Ok((row, level))
    }

    /// Insert a vector (validated, then prepared for the metric); returns its row number.
    /// Safe to call from many threads while others search.
    pub fn insert(&self, vector: &[f32]) -> Result<u32> {
        let (row, level) = self.push(vector, false)?;
        with_scratch(|s| insert(self, row, level, s, self.tuning));
        Ok(row)
    }

    /// Insert `vectors` in order: they get consecutive row numbers (returned), then are
    /// linked in parallel on `pool` (the first rows of an empty graph one by one, as the
    /// builder does). Every vector is validated before any is stored. Safe while others
    /// search; rows become searchable as they are linked, so a caller that needs "all of
    /// the batch or none" visible filters rows by number until this returns.
    pub fn insert_batch(
        &self,
        pool: &rayon::ThreadPool,
        vectors: &[&[f32]],
    ) -> Result<std::ops::Range<u32>> {
        for v in vectors {
            validate_vector(v, self.dim)?;
        }
        let mut todo = Vec::with_capacity(vectors.len());
        for v in vectors {
            todo.push(self.push(v, false)?);
        }
        let Some(&(start, _)) = todo.first() else {
            let at = self.len() as u32;
            return Ok(at..at);
        };
        let sequential = super::builder::SEQUENTIAL_PREFIX
            .saturating_sub(start as usize)
            .min(todo.len());
        let (head, tail) = todo.split_at(sequential);
        let link = |&(row, level): &(u32, usize)| {
            with_scratch(|s| insert(self, row, level, s, self.tuning));
        };
        pool.install(|| {
            head.iter().for_each(link);
            tail.par_iter().for_each(link);
        });
        Ok(start..start + todo.len() as u32)
    }

    /// Mark `row` deleted: never returned again, still navigated through. `false` when it
    /// was already deleted or does not exist.
    pub fn delete(&self, row: u32) -> bool {
        match self.node(row) {
            Some(n) if !n.deleted.swap(true, Ordering::AcqRel) => {
                self.deleted.fetch_add(1, Ordering::Relaxed);
                true
            }
            _ => false,
        }
    }

    /// Whether `row` is deleted.
    pub fn is_deleted(&self, row: u32) -> bool {
        self.node(row)
            .is_some_and(|n| n.deleted.load(Ordering::Acquire))
    }

    /// Whether deleted rows exceed [`HnswParams::rebuild_fraction`] of all rows.
    pub fn needs_rebuild(&self) -> bool {
        let n = self.len();
        n > 0 && self.deleted_count() as f64 > self.params.rebuild_fraction * n as f64
    }

    /// The prepared vector of `row`.
    pub fn vector(&self, row: u32) -> Option<&[f32]> {
        self.node(row).map(|n| &*n.vector)
    }

    /// Top-`k` of `query`; hits carry row numbers. Same rules as
    /// [`super::HnswIndex::search`]; the default `ef` is [`HnswParams::ef_search`].
    pub fn search(&self, query: &[f32], k: usize, opts: &SearchOptions<'_>) -> Result<Vec<Hit>> {
        let mut out = Vec::new();
        self.search_into(query, k, opts, &mut out)?;
        Ok(out)
    }

    /// [`Self::search`] into a reused vector.
    pub fn search_into(
        &self,
        query: &[f32],
        k: usize,
        opts: &SearchOptions<'_>,
        out: &mut Vec<Hit>,
    ) -> Result<()> {
        let read = Locked(self);
        let target = Target {
            graph: &read,
            n: self.len(),
            entry: self.entry.get(),
            metric: self.metric,
            dim: self.dim,
            default_ef: self.params.ef_search,
            sq8: None,
            partial: None,
        };
        search::run(
            &target,
            query,
            k,
            opts,
            |row| self.is_deleted(row),
            self.deleted_count(),
            out,
        )
    }

    /// A new live graph with the same rows (same numbers; deleted rows kept as unlinked
    /// placeholders), linking only the live ones, on `pool`. Rows inserted while this
    /// runs are not copied: call it when inserts are paused, then swap.
    pub fn rebuild(&self, pool: &rayon::ThreadPool) -> Result<LiveHnsw> {
        let fresh = LiveHnsw::new(self.metric, self.dim, self.params)?;
        let n = self.len() as u32;
        let mut todo = Vec::new();
        for row in 0..n {
            let Some(node) = self.node(row) else { continue };
            let deleted = node.deleted.load(Ordering::Acquire);
            let (new_row, level) = fresh.push(&node.vector, deleted)?;
            if !deleted {
                todo.push((new_row, level));
            }
        }
        let split = todo.len().min(super::builder::SEQUENTIAL_PREFIX);
        let (head, tail) = todo.split_at(split);
        let link = |&(row, level): &(u32, usize)| {
            with_scratch(|s| insert(&fresh, row, level, s, fresh.tuning));
        };
        pool.install(|| {
            head.iter().for_each(link);
            tail.par_iter().for_each(link);
        });
        Ok(fresh)
    }

    /// Freeze rows `0..len()` into an [`HnswGraph`] (after making every row reachable),
    /// for the segment the growing segment is sealed into (same row order). Call it when
    /// inserts are paused; links to rows inserted meanwhile are dropped.
    pub fn freeze(&self) -> HnswGraph {
        let n = self.len();
        let order: Vec<u32> = (0..n as u32).filter(|&r| !self.is_deleted(r)).collect();
        repair_reachability(self, &order, self.tuning);
        freeze(self, n, self.metric, self.dim)
    }
}

impl Links for LiveHnsw {
    fn params(&self) -> &HnswParams {
        &self.params
    }
    fn dist(&self) -> DistanceFn {
        self.dist
    }
    fn slots(&self) -> usize {
        self.len()
    }
    #[inline]
    fn node_links(&self, node: u32) -> Option<&RwLock<Box<[u32]>>> {
        self.node(node).map(|n| &n.links)
    }
    #[inline]
    fn vector(&self, node: u32) -> Option<&[f32]> {
        self.node(node).map(|n| &*n.vector)
    }
    #[inline]
    fn vector_ptr(&self, node: u32) -> *const f32 {
        self.node(node)
            .map_or(std::ptr::null(), |n| n.vector.as_ptr())
    }
    fn vector_lines(&self) -> usize {
        (self.dim * 4).div_ceil(64)
    }
    fn entry(&self) -> &Entry {
        &self.entry
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_tile_the_row_space() {
        assert_eq!(locate(0), (0, 0));
        assert_eq!(locate(1023), (0, 1023));
        assert_eq!(locate(1024), (1, 0));
        assert_eq!(locate(3071), (1, 2047));
        assert_eq!(locate(3072), (2, 0));
        let (c, off) = locate(MAX_ROWS as usize);
        assert!(c < CHUNKS && off < FIRST_CHUNK << c);
    }
}
