//! Per-thread search scratch: the visited set (a generation counter over `u16` tags, so
//! clearing it is one increment), the two heaps and small buffers. Reused from a
//! thread-local, so a search allocates nothing once the thread has warmed up.
use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

use mnemodb_distance::quantized::Sq8Query;

/// A node and its distance to the query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Scored {
    pub dist: f32,
    pub id: u32,
}

impl Scored {
    #[inline]
    fn rank(&self, other: &Self) -> Ordering {
        self.dist
            .total_cmp(&other.dist)
            .then(self.id.cmp(&other.id))
    }
}

/// Max-heap entry with the farthest on top (the results).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Far(pub Scored);
impl PartialEq for Far {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Far {}
impl PartialOrd for Far {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Far {
    #[inline]
    fn cmp(&self, o: &Self) -> Ordering {
        self.0.rank(&o.0)
    }
}

/// Max-heap entry with the nearest on top (the candidates).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Near(pub Scored);
impl PartialEq for Near {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Near {}
impl PartialOrd for Near {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Near {
    #[inline]
    fn cmp(&self, o: &Self) -> Ordering {
        o.0.rank(&self.0)
    }
}

/// How the visited set is cleared between searches (a benchmark switch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VisitedMode {
    /// `u16` tag per node, cleared by bumping a generation counter (O(1) per search).
    #[default]
    Generation,
    /// One bit per node, zeroed before each search (O(n/8) bytes per search).
    ClearBitset,
}

/// The visited set.
#[derive(Debug, Default)]
pub(crate) struct Visited {
    tags: Vec<u16>,
    generation: u16,
    bits: Vec<u64>,
    mode: VisitedMode,
}

impl Visited {
    /// Start a new search over node ids `< n`.
    #[inline]
    pub fn reset(&mut self, n: usize, mode: VisitedMode) {
        self.mode = mode;
        match mode {
            VisitedMode::Generation => {
                if self.tags.len() < n {
                    // Grow with slack so a growing live graph does not resize every query.
                    let target = n.max(self.tags.len() * 2).max(1024);
                    self.tags.resize(target, 0);
                }
                self.generation = self.generation.wrapping_add(1);
                if self.generation == 0 {
                    self.tags.fill(0);
                    self.generation = 1;
                }
            }
            VisitedMode::ClearBitset => {
                let words = n.div_ceil(64);
                if self.bits.len() < words {
                    self.bits.resize(words, 0);
                }
                let live = self.bits.get_mut(..words).unwrap_or_default();
                live.fill(0);
            }
        }
    }

    /// Mark `id`; `true` when it was not marked yet. Ids beyond the size given to
    /// [`Visited::reset`] count as visited (never expanded).
    #[inline]
    pub fn insert(&mut self, id: u32) -> bool {
        match self.mode {
            VisitedMode::Generation => match self.tags.get_mut(id as usize) {
                Some(t) if *t != self.generation => {
                    *t = self.generation;
                    true
                }
                _ => false,
            },
            VisitedMode::ClearBitset => {
                let (w, b) = (id as usize / 64, id % 64);
                match self.bits.get_mut(w) {
                    Some(word) if *word & (1 << b) == 0 => {
                        *word |= 1 << b;
                        true
                    }
                    _ => false,
                }
            }
        }
    }

    /// Address of `id`'s tag, for prefetching.
    #[inline]
    pub fn tag_ptr(&self, id: u32) -> *const u16 {
        self.tags.as_ptr().wrapping_add(id as usize)
    }
}

/// Everything one search (or one insertion) needs, reused across calls.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    pub visited: Visited,
    pub candidates: BinaryHeap<Near>,
    pub results: BinaryHeap<Far>,
    /// Unvisited neighbours of the node being expanded.
    pub batch: Vec<u32>,
    /// The scored nodes of `batch`.
    pub scored: Vec<Scored>,
    /// Sorted output of the last layer search.
    pub found: Vec<Scored>,
    /// Entry points of the next layer.
    pub entries: Vec<Scored>,
    /// Neighbours selected per level for the node being inserted, and the pruned list.
    pub layers: Vec<Vec<Scored>>,
    pub pruned: Vec<Scored>,
    /// Candidate buffer for neighbour selection when a list overflows, and its output.
    pub pool: Vec<Scored>,
    pub kept: Vec<Scored>,
    pub dropped: Vec<Scored>,
    /// Copy of a node's links.
    pub links: Vec<u32>,
    /// The prepared query.
    pub query: Vec<f32>,
    /// Candidates re-ranked with exact distances (insertion on SQ8 codes).
    pub exact: Vec<Scored>,
    /// The query folded for SQ8 codes.
    pub q8: Sq8Query,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Run `f` with this thread's scratch (a fresh one if it is already in use, e.g. by a
/// nested call).
pub(crate) fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut s) => f(&mut s),
        Err(_) => f(&mut Scratch::default()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visited_generations_and_bitset_agree() {
        for mode in [VisitedMode::Generation, VisitedMode::ClearBitset] {
            let mut v = Visited::default();
            for round in 0..70_000u32 {
                v.reset(100, mode);
                assert!(v.insert(round % 100));
                assert!(!v.insert(round % 100));
                assert!(!v.insert(100_000), "out of range counts as visited");
                if mode == VisitedMode::ClearBitset && round > 10 {
                    break;
                }
            }
        }
    }

    #[test]
    fn heap_orders() {
        let a = Scored { dist: 1.0, id: 3 };
        let b = Scored { dist: 2.0, id: 1 };
        let mut far = BinaryHeap::from([Far(a), Far(b)]);
        assert_eq!(far.pop().map(|f| f.0.id), Some(1));
        let mut near = BinaryHeap::from([Near(a), Near(b)]);
        assert_eq!(near.pop().map(|f| f.0.id), Some(3));
    }
}
