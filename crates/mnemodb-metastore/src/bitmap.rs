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

    #[cfg(test)]
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
