//! The searchable parts of a collection: sealed segments (memory-mapped `.vec` + optional
//! `.hnsw`) and growing segments (in memory, incrementally HNSW-indexed).
//!
//! Row identity: every vector a collection stores gets a fresh internal id from its
//! metastore (a replaced record gets a new one), so internal ids and rows correspond
//! one to one. A growing segment holds ids `base..base + rows`; a sealed segment holds a
//! sorted id column, contiguous until compaction drops rows.
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use mnemodb_ann::hnsw::{HnswIndex, LiveHnsw};
use mnemodb_segment::SegmentReader;
use roaring::RoaringBitmap;

use crate::manifest::SegmentEntry;

/// An immutable sealed segment, shared by every snapshot that sees it.
#[derive(Debug)]
pub(crate) struct SealedSegment {
    pub entry: SegmentEntry,
    pub reader: SegmentReader,
    pub index: Option<HnswIndex>,
    /// Whether the id column is exactly `min_id..=max_id`.
    pub contiguous: bool,
}

impl SealedSegment {
    pub(crate) fn new(
        entry: SegmentEntry,
        reader: SegmentReader,
        index: Option<HnswIndex>,
    ) -> Self {
        let contiguous = u64::from(entry.max_id - entry.min_id) + 1 == entry.rows;
        SealedSegment {
            entry,
            reader,
            index,
            contiguous,
        }
    }

    pub(crate) fn rows(&self) -> usize {
        self.reader.len()
    }

    /// Row of internal id `id`, when the segment holds it.
    pub(crate) fn row_of(&self, id: u32) -> Option<u32> {
        if id < self.entry.min_id || id > self.entry.max_id {
            return None;
        }
        if self.contiguous {
            return Some(id - self.entry.min_id);
        }
        self.reader
            .ids()
            .binary_search(&u64::from(id))
            .ok()
            .map(|r| r as u32)
    }

    /// Internal id of `row`.
    #[inline]
    pub(crate) fn id_of(&self, row: u32) -> u32 {
        if self.contiguous {
            self.entry.min_id + row
        } else {
            self.reader.id(row as usize).unwrap_or(u64::MAX) as u32
        }
    }

    pub(crate) fn vector(&self, row: u32) -> Option<&[f32]> {
        self.reader.row(row as usize)
    }
}

/// A sealed segment as one snapshot sees it: with that snapshot's deleted rows.
#[derive(Debug, Clone)]
pub(crate) struct SealedPart {
    pub seg: Arc<SealedSegment>,
    /// Rows deleted (row numbers).
    pub tombstones: Arc<RoaringBitmap>,
}

/// The part of a growing segment shared by all snapshots: its base id and live graph.
#[derive(Debug)]
pub(crate) struct GrowingShared {
    /// Internal id of row 0.
    pub base: u32,
    /// Graph over rows `0..indexed`.
    pub graph: Option<LiveHnsw>,
    /// Rows linked into `graph` (a prefix).
    pub indexed: AtomicUsize,
}

/// Where a growing segment was frozen: the LSN and the collection's metadata then, which
/// become the metadata checkpoint written with the sealed segment.
#[derive(Debug)]
pub(crate) struct FreezePoint {
    pub lsn: u64,
    pub meta: mnemodb_metastore::MetaState,
}

impl GrowingShared {
    pub(crate) fn indexed(&self) -> usize {
        self.indexed.load(Ordering::Acquire)
    }
}

/// A growing (or frozen, being sealed) segment as one snapshot sees it.
#[derive(Debug, Clone)]
pub(crate) struct GrowingPart {
    pub shared: Arc<GrowingShared>,
    /// Prepared vectors of the rows visible in this snapshot.
    pub rows: imbl::Vector<Arc<[f32]>>,
    pub tombstones: Arc<RoaringBitmap>,
    /// Set once frozen for sealing.
    pub freeze: Option<Arc<FreezePoint>>,
}

impl GrowingPart {
    pub(crate) fn new(base: u32, graph: Option<LiveHnsw>) -> Self {
        GrowingPart {
            shared: Arc::new(GrowingShared {
                base,
                graph,
                indexed: AtomicUsize::new(0),
            }),
            rows: imbl::Vector::new(),
            tombstones: Arc::new(RoaringBitmap::new()),
            freeze: None,
        }
    }

    pub(crate) fn base(&self) -> u32 {
        self.shared.base
    }

    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    pub(crate) fn end_id(&self) -> u32 {
        self.base() + self.rows.len() as u32
    }

    pub(crate) fn row_of(&self, id: u32) -> Option<u32> {
        (id >= self.base() && id < self.end_id()).then(|| id - self.base())
    }

    pub(crate) fn vector(&self, row: u32) -> Option<&[f32]> {
        self.rows.get(row as usize).map(|v| &**v)
    }

    /// Rows of this snapshot that the graph covers.
    pub(crate) fn indexed_visible(&self) -> usize {
        self.shared.indexed().min(self.rows.len())
    }
}
