//! Monitoring views: [`DatabaseStats`], [`CollectionStats`], and operation reports.
use std::path::{Path, PathBuf};

use mnemodb_distance::Metric;

use crate::config::IndexKind;
use crate::db::Inner;
use crate::state::CollectionState;

/// A collection's configuration and size.
#[derive(Debug, Clone)]
pub struct CollectionInfo {
    /// Name.
    pub name: String,
    /// Dimension (0: documents only).
    pub dim: usize,
    /// Metric.
    pub metric: Metric,
    /// Index of sealed segments.
    pub index: IndexKind,
    /// Live records.
    pub count: u64,
}

/// One sealed segment.
#[derive(Debug, Clone)]
pub struct SegmentStats {
    /// Generation.
    pub generation: u64,
    /// Rows in the file (deleted ones included).
    pub rows: usize,
    /// Deleted rows.
    pub deleted: u64,
    /// Size of the `.vec` file.
    pub vec_bytes: u64,
    /// Size of the index file (0 while it is being built).
    pub index_bytes: u64,
    /// The `.vec` file.
    pub path: PathBuf,
    /// Whether every byte of the segment and its index has been checked (at open with
    /// [`crate::Verify::Full`], by the background scrub or [`crate::Database::verify`];
    /// files this process wrote count as checked).
    pub verified: bool,
    /// The damage that check found (`"<file>: corrupted at byte <n>: <what>"`): every
    /// operation on the collection fails with it.
    pub damage: Option<String>,
}

/// Counts and files of one collection.
#[derive(Debug, Clone)]
pub struct CollectionStats {
    /// Live records.
    pub count: u64,
    /// Sealed segments, in id order.
    pub segments: Vec<SegmentStats>,
    /// Rows in the growing segment.
    pub growing_rows: usize,
    /// Of those, rows linked into its graph.
    pub growing_indexed: usize,
    /// Rows in segments being sealed.
    pub sealing_rows: usize,
    /// Deleted rows still stored (compaction drops them).
    pub deleted_rows: u64,
    /// Every WAL record up to this LSN is in the collection's files.
    pub applied_lsn: u64,
}

/// State of a whole database.
#[derive(Debug, Clone)]
pub struct DatabaseStats {
    /// Per collection.
    pub collections: Vec<(String, CollectionStats)>,
    /// WAL files and their bytes.
    pub wal_files: usize,
    /// Bytes of WAL.
    pub wal_bytes: u64,
    /// First LSN the WAL holds (0: none).
    pub wal_first_lsn: u64,
    /// Last LSN committed.
    pub last_lsn: u64,
    /// Last LSN known durable.
    pub durable_lsn: u64,
    /// Sequence number of the current manifest.
    pub manifest: u64,
    /// Bytes of every file in the directory.
    pub disk_bytes: u64,
    /// Whether the handle is read-only.
    pub read_only: bool,
    /// The last failure of background work, if any (it is retried).
    pub background_error: Option<String>,
    /// Set when a failure stopped writes until reopen.
    pub poisoned: Option<String>,
    /// Sealed segments (with their indexes) whose every byte has been checked.
    pub verified_segments: usize,
    /// Sealed segments not checked yet (the background scrub's remaining work).
    pub unverified_segments: usize,
    /// Whether a background scrub is running.
    pub scrubbing: bool,
    /// Damage found by verification, one line per damaged segment
    /// (`"<file>: corrupted at byte <n>: <what>"`).
    pub damaged: Vec<String>,
}

/// What [`crate::Database::verify`] checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Sealed segments (each with its index).
    pub segments: usize,
    /// Bytes of their files.
    pub bytes: u64,
    /// Damaged segments (0 when `verify` returns `Ok`).
    pub damaged: usize,
}

/// What [`crate::Database::compact`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompactionReport {
    /// Segments rewritten.
    pub segments_merged: usize,
    /// Deleted rows dropped.
    pub rows_dropped: u64,
    /// Bytes of files replaced minus bytes written.
    pub bytes_reclaimed: u64,
}

/// What [`crate::Database::backup`] copied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackupReport {
    /// Files copied.
    pub files: usize,
    /// Bytes copied.
    pub bytes: u64,
    /// Manifest the copy opens from.
    pub manifest: u64,
    /// Last LSN the copy holds.
    pub last_lsn: u64,
}

pub(crate) fn collection_stats(_inner: &Inner, cs: &CollectionState) -> CollectionStats {
    CollectionStats {
        count: cs.meta.len(),
        segments: cs
            .sealed
            .iter()
            .map(|p| SegmentStats {
                generation: p.seg.entry.generation,
                rows: p.seg.rows(),
                deleted: p.tombstones.len(),
                vec_bytes: p.seg.entry.vectors.len,
                index_bytes: p.seg.entry.index.as_ref().map_or(0, |f| f.len),
                path: PathBuf::from(&p.seg.entry.vectors.path),
                verified: p.seg.check.is_done(),
                damage: p.seg.check.damage().map(|d| d.to_error().to_string()),
            })
            .collect(),
        growing_rows: cs.growing.as_ref().map_or(0, |g| g.len()),
        growing_indexed: cs.growing.as_ref().map_or(0, |g| g.indexed_visible()),
        sealing_rows: cs.frozen.iter().map(|f| f.len()).sum(),
        deleted_rows: cs.deleted_rows(),
        applied_lsn: cs.applied_lsn,
    }
}

pub(crate) fn database_stats(inner: &Inner) -> DatabaseStats {
    let state = inner.state.load_full();
    let (wal, manifest) = {
        let guard = inner.writer.lock();
        match guard.as_ref() {
            Some(w) => (Some(w.wal.stats()), w.seq),
            None => (None, inner.ro_cursor.lock().0),
        }
    };
    let wal = wal.unwrap_or_default();
    let segments = || state.collections.values().flat_map(|c| c.sealed.iter());
    let verified_segments = segments().filter(|p| p.seg.check.is_done()).count();
    DatabaseStats {
        verified_segments,
        unverified_segments: segments().count() - verified_segments,
        scrubbing: inner.scrub.is_running(),
        damaged: segments()
            .filter_map(|p| p.seg.check.damage())
            .map(|d| d.to_error().to_string())
            .collect(),
        collections: state
            .collections
            .values()
            .map(|c| (c.config.name.clone(), collection_stats(inner, c)))
            .collect(),
        wal_files: wal.files,
        wal_bytes: wal.bytes,
        wal_first_lsn: wal.first_lsn,
        last_lsn: state.lsn,
        durable_lsn: if inner.read_only {
            state.lsn
        } else {
            wal.durable_lsn
        },
        manifest,
        disk_bytes: dir_bytes(&*inner.fs, &inner.dir),
        read_only: inner.read_only,
        background_error: inner.background_error.lock().clone(),
        poisoned: inner.poisoned.lock().clone(),
    }
}

/// Bytes of every file under `dir` (two levels: the database layout).
pub(crate) fn dir_bytes(fs: &dyn mnemodb_io::Fs, dir: &Path) -> u64 {
    let mut total = 0;
    for name in fs.read_dir(dir).unwrap_or_default() {
        let p = dir.join(&name);
        match fs.read_dir(&p) {
            Ok(children) => {
                total += children
                    .iter()
                    .map(|c| fs.file_len(&p.join(c)).unwrap_or(0))
                    .sum::<u64>();
            }
            Err(_) => total += fs.file_len(&p).unwrap_or(0),
        }
    }
    total
}
