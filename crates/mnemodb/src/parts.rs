//! The searchable parts of a collection: sealed segments (memory-mapped `.vec` + optional
//! `.hnsw`) and growing segments (in memory, incrementally HNSW-indexed).
//!
//! Row identity: every vector a collection stores gets a fresh internal id from its
//! metastore (a replaced record gets a new one), so internal ids and rows correspond
//! one to one. A growing segment holds ids `base..base + rows`; a sealed segment holds a
//! sorted id column, contiguous until compaction drops rows.
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use mnemodb_ann::hnsw::{HnswIndex, LiveHnsw};
use mnemodb_segment::SegmentReader;
use roaring::RoaringBitmap;

use crate::error::Error;
use crate::manifest::SegmentEntry;

/// Damage found by checking every byte of a sealed file: where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Damage {
    pub file: PathBuf,
    pub offset: u64,
    pub what: String,
}

impl Damage {
    fn from_error(e: Error, file: &std::path::Path) -> Self {
        match e {
            Error::Corrupted { file, offset, what } => Damage { file, offset, what },
            other => Damage {
                file: file.to_path_buf(),
                offset: 0,
                what: other.to_string(),
            },
        }
    }

    /// The typed error every operation on the affected collection returns.
    pub(crate) fn to_error(&self) -> Error {
        Error::Corrupted {
            file: self.file.clone(),
            offset: self.offset,
            what: format!("{} (found by verification after open)", self.what),
        }
    }
}

/// The outcome of checking every byte of a sealed segment and its index (checksums,
/// padding, finite values, sorted unique ids, graph structure): set once, by whoever gets
/// there first (the open with [`crate::Verify::Full`], the background scrub,
/// [`crate::Database::verify`], a compaction about to rewrite the rows); concurrent callers
/// wait for that one run.
#[derive(Debug, Default)]
pub(crate) struct FileCheck(OnceLock<Option<Damage>>);

impl FileCheck {
    /// The check of files this process wrote from memory (nothing to find).
    pub(crate) fn intact() -> Self {
        FileCheck(OnceLock::from(None))
    }

    /// Whether the check has run.
    pub(crate) fn is_done(&self) -> bool {
        self.0.get().is_some()
    }

    /// The damage found, when the check has run and found some.
    pub(crate) fn damage(&self) -> Option<&Damage> {
        self.0.get().and_then(Option::as_ref)
    }
}

/// An immutable sealed segment, shared by every snapshot that sees it.
#[derive(Debug)]
pub(crate) struct SealedSegment {
    pub entry: SegmentEntry,
    pub reader: SegmentReader,
    pub index: Option<HnswIndex>,
    /// Whether the id column is exactly `min_id..=max_id`.
    pub contiguous: bool,
    /// Every byte of the `.vec` file and of the index it was opened with checked (shared
    /// with the same segment once an index is built for it).
    pub check: Arc<FileCheck>,
}

impl SealedSegment {
    /// A segment (and index) this process has just written: nothing left to check.
    pub(crate) fn new(
        entry: SegmentEntry,
        reader: SegmentReader,
        index: Option<HnswIndex>,
    ) -> Self {
        Self::with_check(entry, reader, index, Arc::new(FileCheck::intact()))
    }

    /// A segment whose bytes are checked by `check` (files opened from disk start
    /// unchecked).
    pub(crate) fn with_check(
        entry: SegmentEntry,
        reader: SegmentReader,
        index: Option<HnswIndex>,
        check: Arc<FileCheck>,
    ) -> Self {
        let contiguous = u64::from(entry.max_id - entry.min_id) + 1 == entry.rows;
        SealedSegment {
            entry,
            reader,
            index,
            contiguous,
            check,
        }
    }

    /// Check every byte of the segment and its index once (later calls return the first
    /// run's outcome; concurrent calls wait for it): the damage found, if any.
    pub(crate) fn verify(&self) -> Option<&Damage> {
        self.check
            .0
            .get_or_init(|| {
                self.verify_bytes()
                    .err()
                    .map(|e| Damage::from_error(e, self.reader.path()))
            })
            .as_ref()
    }

    fn verify_bytes(&self) -> crate::Result<()> {
        self.reader.verify()?;
        // Opening checked the first and last id against the manifest; the id column in
        // between must be sorted (`row_of` searches it), which its checksum vouches for
        // only if the writer sorted it.
        let ids = self.reader.ids();
        if let Some(i) = ids.windows(2).position(|w| w.first() >= w.get(1)) {
            return Err(Error::corrupted(
                self.reader.path(),
                self.reader.layout().ids_offset + (i as u64 + 1) * 8,
                format!("id column not sorted at row {}", i + 1),
            ));
        }
        if let Some(index) = &self.index {
            index.verify()?;
        }
        Ok(())
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
