use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::hit::Hit;

/// Heap entry ordered by [`Hit::rank_cmp`], so the heap's top is the worst kept hit.
#[derive(Debug, Clone, Copy)]
struct Ranked(Hit);

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Ranked {}
impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.rank_cmp(&other.0)
    }
}

/// The best `k` hits seen so far (bounded max-heap on rank order).
#[derive(Debug, Clone)]
pub struct TopK {
    k: usize,
    heap: BinaryHeap<Ranked>,
}

impl TopK {
    /// Keep at most `k` hits.
    pub fn new(k: usize) -> Self {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k.min(1 << 16) + 1),
        }
    }

    /// Capacity.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Hits kept.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Distance a new hit must beat (or tie with a lower id) to enter; `INFINITY` while
    /// the heap is not full.
    #[inline]
    pub fn threshold(&self) -> f32 {
        if self.heap.len() < self.k {
            f32::INFINITY
        } else {
            self.heap.peek().map_or(f32::INFINITY, |r| r.0.distance)
        }
    }

    /// Offer a hit.
    #[inline]
    pub fn push(&mut self, id: u64, distance: f32) {
        if self.k == 0 {
            return;
        }
        let hit = Hit { id, distance };
        if self.heap.len() < self.k {
            self.heap.push(Ranked(hit));
        } else if let Some(mut worst) = self.heap.peek_mut()
            && hit.rank_cmp(&worst.0) == Ordering::Less
        {
            *worst = Ranked(hit);
        }
    }

    /// Add every hit of `other`.
    pub fn merge(&mut self, other: TopK) {
        for r in other.heap {
            self.push(r.0.id, r.0.distance);
        }
    }

    /// The hits, best first.
    pub fn into_sorted_vec(self) -> Vec<Hit> {
        // `into_sorted_vec` is ascending in `Ord`, i.e. best first.
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|r| r.0)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_best_k_with_id_tiebreak() {
        let mut t = TopK::new(3);
        for (id, d) in [
            (5, 1.0),
            (4, 1.0),
            (1, 3.0),
            (2, 0.5),
            (3, 1.0),
            (9, f32::INFINITY),
        ] {
            t.push(id, d);
        }
        let ids: Vec<u64> = t.into_sorted_vec().iter().map(|h| h.id).collect();
        assert_eq!(ids, [2, 3, 4]);
    }

    #[test]
    fn merge_equals_single_heap() {
        let mut a = TopK::new(4);
        let mut b = TopK::new(4);
        let mut all = TopK::new(4);
        for i in 0..50u64 {
            let d = ((i * 37) % 11) as f32;
            if i % 2 == 0 {
                a.push(i, d)
            } else {
                b.push(i, d)
            }
            all.push(i, d);
        }
        a.merge(b);
        assert_eq!(a.into_sorted_vec(), all.into_sorted_vec());
        assert_eq!(TopK::new(0).threshold(), f32::INFINITY);
    }
}
