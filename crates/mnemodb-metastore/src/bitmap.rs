//! A persistent, copy-on-write roaring bitmap split in 2^16-id chunks.
//!
//! Index bitmaps are shared between the writer and every published snapshot. With one
//! `Arc<RoaringBitmap>` per value, the first change after a publish copies the *whole*
//! bitmap (`Arc::make_mut`): for a value held by 300,000 of 1M documents (a `kind`, or an
//! `exists` bitmap) that is ~128 KiB copied per write per such field. Here each 65,536-id
//! chunk (one roaring container) is its own `Arc`, in a persistent ordered map, so a write
//! copies one container (≤ 8 KiB) plus an O(log n) path (measured by the `metastore`
//! bench, `write cost` rows).
use std::sync::Arc;

use roaring::RoaringBitmap;

/// See the module doc.
#[derive(Debug, Clone, Default)]
pub(crate) struct ChunkedBitmap {
    chunks: imbl::OrdMap<u16, Arc<RoaringBitmap>>,
    len: u64,
}

fn hi(id: u32) -> u16 {
    (id >> 16) as u16
}

impl ChunkedBitmap {
    /// Build from ids in one pass (checkpoint loads): ids in ascending order (the normal
    /// case) are split into chunks and each chunk is built with
    /// `RoaringBitmap::from_sorted_iter`; anything else is sorted and deduplicated first.
    pub(crate) fn from_ids(mut ids: Vec<u32>) -> Self {
        if !ids.is_sorted_by(|a, b| a < b) {
            ids.sort_unstable();
            ids.dedup();
        }
        let chunks = ids
            .chunk_by(|a, b| hi(*a) == hi(*b))
            .filter_map(|group| {
                let key = hi(*group.first()?);
                // Cannot fail (strictly ascending); the fallback is correct anyway.
                let bitmap = RoaringBitmap::from_sorted_iter(group.iter().copied())
                    .unwrap_or_else(|_| group.iter().copied().collect());
                Some((key, Arc::new(bitmap)))
            })
            .collect();
        ChunkedBitmap {
            chunks,
            len: ids.len() as u64,
        }
    }

    pub(crate) fn insert(&mut self, id: u32) -> bool {
        let key = hi(id);
        let added = match self.chunks.get_mut(&key) {
            Some(chunk) => Arc::make_mut(chunk).insert(id),
            None => {
                let mut chunk = RoaringBitmap::new();
                chunk.insert(id);
                self.chunks.insert(key, Arc::new(chunk));
                true
            }
        };
        if added {
            self.len += 1;
        }
        added
    }

    pub(crate) fn remove(&mut self, id: u32) -> bool {
        let key = hi(id);
        let Some(chunk) = self.chunks.get_mut(&key) else {
            return false;
        };
        if !chunk.contains(id) {
            return false;
        }
        let chunk = Arc::make_mut(chunk);
        chunk.remove(id);
        if chunk.is_empty() {
            self.chunks.remove(&key);
        }
        self.len -= 1;
        true
    }

    pub(crate) fn contains(&self, id: u32) -> bool {
        self.chunks.get(&hi(id)).is_some_and(|c| c.contains(id))
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Add every id to `out` (chunks are disjoint id ranges, so this clones containers).
    pub(crate) fn or_into(&self, out: &mut RoaringBitmap) {
        for chunk in self.chunks.values() {
            *out |= chunk.as_ref();
        }
    }

    /// The ids as one roaring bitmap.
    pub(crate) fn to_roaring(&self) -> RoaringBitmap {
        let mut out = RoaringBitmap::new();
        self.or_into(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_a_roaring_bitmap() {
        let ids = [0u32, 1, 65_535, 65_536, 200_000, u32::MAX - 1];
        let mut b = ChunkedBitmap::default();
        for id in ids {
            assert!(b.insert(id));
            assert!(!b.insert(id));
        }
        assert_eq!(b.len(), ids.len() as u64);
        let rb: RoaringBitmap = ids.iter().copied().collect();
        assert_eq!(b.to_roaring(), rb);
        assert!(b.remove(65_535));
        assert!(!b.remove(65_535));
        assert!(!b.contains(65_535));
        assert!(b.contains(65_536));
        for id in ids {
            b.remove(id);
        }
        assert!(b.is_empty());
        assert_eq!(b.chunks.len(), 0);
    }

    #[test]
    fn bulk_build_equals_inserts() {
        let mut ascending: Vec<u32> = (0..300_000).step_by(7).collect();
        ascending.extend([1 << 20, (1 << 20) + 1, u32::MAX - 1]);
        let mut one_by_one = ChunkedBitmap::default();
        for &id in &ascending {
            one_by_one.insert(id);
        }
        let bulk = ChunkedBitmap::from_ids(ascending.clone());
        assert_eq!(bulk.len(), one_by_one.len());
        assert_eq!(bulk.to_roaring(), one_by_one.to_roaring());
        assert_eq!(bulk.chunks.len(), one_by_one.chunks.len());
        // Unordered input with repeats still gives the right set.
        let shuffled = [5u32, 70_000, 3, 5, 200_000, 70_001, 3];
        let b = ChunkedBitmap::from_ids(shuffled.to_vec());
        let want: RoaringBitmap = shuffled.iter().copied().collect();
        assert_eq!(b.to_roaring(), want);
        assert_eq!(b.len(), want.len());
        assert!(ChunkedBitmap::from_ids(Vec::new()).is_empty());
    }

    #[test]
    fn clones_share_until_written() {
        let mut a = ChunkedBitmap::default();
        for id in 0..200_000 {
            a.insert(id);
        }
        let snapshot = a.clone();
        a.insert(300_000);
        a.remove(5);
        assert!(snapshot.contains(5));
        assert!(!snapshot.contains(300_000));
        assert_eq!(snapshot.len(), 200_000);
        assert_eq!(a.len(), 200_000);
    }
}
