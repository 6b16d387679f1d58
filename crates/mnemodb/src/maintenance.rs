//! Background work and manifest changes: indexing growing segments, sealing, index
//! builds, compaction, checkpoints and the erase path. One unit of work at a time (the
//! `maintenance` lock); each ends, when it changes files, in [`install`]: a new manifest
//! written durably, then the new state published, then files only older manifests
//! referenced removed and the WAL truncated.
//!
//! Lock order: `maintenance` → `writer` → `files_gate`.
use std::sync::Arc;
use std::sync::atomic::Ordering;

use mnemodb_ann::hnsw::HnswIndex;
use mnemodb_format::crc32;
use mnemodb_segment::{SegmentOptions, SegmentReader, SegmentWriter};

use crate::config::IndexKind;
use crate::db::{Inner, write_manifest};
use crate::error::{Error, Result};
use crate::failpoint;
use crate::files::{
    checkpoint_path, collection_dir, create_dir_durably, index_fingerprint, index_path,
    segment_path,
};
use crate::manifest::{CollectionEntry, FileRef, ManifestBody, SegmentEntry};
use crate::parts::{FreezePoint, GrowingPart, SealedPart, SealedSegment};
use crate::state::{CollectionState, DbState, derive_tombstones, new_growing};
use crate::{CompactionReport, recovery};

/// The background worker: run due work, sleep until kicked.
pub(crate) fn worker_loop(inner: &Inner) {
    loop {
        if inner.shutdown.load(Ordering::SeqCst) {
            return;
        }
        match run_one(inner, true) {
            Ok(true) => continue,
            Ok(false) => {
                // Idle: whatever failed before has been done since (or is no longer due).
                *inner.background_error.lock() = None;
                let mut pending = inner.signal.pending.lock();
                if !*pending {
                    inner.signal.cv.wait_for(&mut pending, crate::db::IDLE_WAIT);
                }
                *pending = false;
            }
            Err(e) => {
                *inner.background_error.lock() = Some(e.to_string());
                let mut pending = inner.signal.pending.lock();
                inner
                    .signal
                    .cv
                    .wait_for(&mut pending, std::time::Duration::from_secs(1));
                *pending = false;
            }
        }
    }
}

/// Run due work until none is left.
pub(crate) fn run_until_idle(inner: &Inner, compaction: bool) -> Result<()> {
    while run_one(inner, compaction)? {}
    Ok(())
}

/// One unit of work, by priority: seal a frozen segment, index growing rows, build a
/// missing index, compact. Returns whether there was any.
fn run_one(inner: &Inner, compaction: bool) -> Result<bool> {
    if inner.read_only || inner.poisoned.lock().is_some() {
        return Ok(false);
    }
    let _m = inner.maintenance.lock();
    if seal_next(inner)? || index_step(inner)? || build_missing_index(inner)? {
        return Ok(true);
    }
    if compaction {
        let wal_bytes = {
            let guard = inner.writer.lock();
            guard.as_ref().map_or(0, |w| w.wal.stats().bytes)
        };
        if wal_bytes > inner.options.checkpoint_wal_bytes {
            checkpoint_locked(inner)?;
            let wal_size = || {
                let guard = inner.writer.lock();
                guard.as_ref().map_or(0, |w| w.wal.stats().bytes)
            };
            if wal_size() > inner.options.checkpoint_wal_bytes {
                // The kept previous manifest still needs the old files: roll it too.
                install(inner, true, |_| Ok(()))?;
            }
            let after = wal_size();
            // Work was done only if the log shrank (else another unit can run).
            if after < wal_bytes {
                return Ok(true);
            }
        }
        let names: Vec<String> = inner.state.load().collections.keys().cloned().collect();
        for name in names {
            if compact_collection(inner, &name, false)?.segments_merged > 0 {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Freeze every growing segment at or above `seal_rows` (under the writer lock, on the
/// state about to be published).
pub(crate) fn freeze_full(state: &mut DbState, seal_rows: usize) {
    let lsn = state.lsn;
    for c in state.collections.values_mut() {
        if c.growing.as_ref().is_some_and(|g| g.len() >= seal_rows) {
            let _ = freeze(Arc::make_mut(c), lsn);
        }
    }
}

/// Move the growing segment to the frozen list and start a new one.
fn freeze(c: &mut CollectionState, lsn: u64) -> Result<()> {
    let base = c.meta.next_internal_id();
    let fresh = if c.config.has_vectors() {
        Some(new_growing(&c.config, base)?)
    } else {
        None
    };
    let mut old = match std::mem::replace(&mut c.growing, fresh) {
        Some(g) => g,
        // Document collections have no rows: an empty part carries the checkpoint.
        None => GrowingPart::new(base, None),
    };
    old.freeze = Some(Arc::new(FreezePoint {
        lsn,
        meta: c.meta.clone(),
    }));
    c.frozen.push(old);
    Ok(())
}

fn alloc_generation(inner: &Inner) -> Result<u64> {
    let mut guard = inner.writer.lock();
    let w = guard.as_mut().ok_or(Error::ReadOnly)?;
    let g = w.next_generation;
    w.next_generation += 1;
    Ok(g)
}

/// The manifest body a state implies.
fn body_of(state: &DbState, next_generation: u64) -> ManifestBody {
    let mut collections: Vec<CollectionEntry> = state
        .collections
        .values()
        .map(|c| CollectionEntry {
            id: c.id,
            spec: c.config.spec(),
            applied_lsn: c.applied_lsn,
            checkpoint: c.checkpoint.clone(),
            segments: c.sealed.iter().map(|s| s.seg.entry.clone()).collect(),
        })
        .collect();
    collections.sort_by_key(|c| c.id);
    let wal_start_lsn = collections
        .iter()
        .map(|c| c.applied_lsn + 1)
        .min()
        .unwrap_or(state.lsn + 1)
        .min(state.lsn + 1);
    ManifestBody {
        wal_start_lsn,
        next_generation,
        next_collection_id: collections.iter().map(|c| c.id + 1).max().unwrap_or(1),
        collections,
    }
}

/// Apply `change` to the current state, write the manifest it implies, publish, then
/// remove what only older manifests referenced and truncate the WAL. With
/// `force = false`, nothing is written when the manifest would not change.
fn install(
    inner: &Inner,
    force: bool,
    change: impl FnOnce(&mut DbState) -> Result<()>,
) -> Result<()> {
    let (wal, keep_seqs, truncate_below) = {
        let mut guard = inner.writer.lock();
        let w = guard.as_mut().ok_or(Error::ReadOnly)?;
        let mut next = (*inner.state.load_full()).clone();
        change(&mut next)?;
        // Collections untouched since their files were written are current at any LSN.
        let lsn = next.lsn;
        for c in next.collections.values_mut() {
            if c.touched_lsn <= c.applied_lsn && c.applied_lsn < lsn {
                Arc::make_mut(c).applied_lsn = lsn;
            }
        }
        let mut body = body_of(&next, w.next_generation);
        body.next_collection_id = body.next_collection_id.max(w.manifest.next_collection_id);
        if !force && body == w.manifest {
            inner.state.store(Arc::new(next));
            return Ok(());
        }
        // The manifest (with the checkpoints and segments it names) reflects records up to
        // `next.lsn`: they must be durable in the WAL first, or a power loss under `Batch`
        // or `Buffered` durability leaves files ahead of the log — not a prefix of the
        // history, and the next LSNs handed out again. A no-op under `Sync`.
        w.wal.flush()?;
        let seq = w.seq + 1;
        if let Err(e) = write_manifest(&*inner.fs, &inner.dir, seq, &body) {
            // Whether the new manifest reached the disk is unknown: stop writing.
            inner.poison(format!("writing manifest {seq}: {e}"));
            return Err(e);
        }
        failpoint::hit("install.after_manifest");
        inner.state.store(Arc::new(next));
        let old = std::mem::replace(&mut w.manifest, body);
        w.previous = Some((w.seq, old));
        w.seq = seq;
        let prev_start = w
            .previous
            .as_ref()
            .map_or(w.manifest.wal_start_lsn, |(_, b)| b.wal_start_lsn);
        (
            Arc::clone(&w.wal),
            (w.seq, w.previous.as_ref().map(|(s, _)| *s)),
            prev_start.min(w.manifest.wal_start_lsn),
        )
    };
    cleanup(inner, keep_seqs)?;
    let _gate = inner.files_gate.write();
    wal.truncate_before(truncate_below)?;
    Ok(())
}

/// Remove files no kept manifest references.
fn cleanup(inner: &Inner, (current, previous): (u64, Option<u64>)) -> Result<()> {
    let _gate = inner.files_gate.write();
    let guard = inner.writer.lock();
    let w = guard.as_ref().ok_or(Error::ReadOnly)?;
    if w.seq != current {
        return Ok(()); // a newer install cleans up
    }
    let mut keep = vec![(w.seq, &w.manifest)];
    if let Some((s, b)) = &w.previous
        && Some(*s) == previous
    {
        keep.push((*s, b));
    }
    failpoint::hit("cleanup.mid");
    recovery::remove_unreferenced(&*inner.fs, &inner.dir, &keep)?;
    Ok(())
}

/// Seal the oldest frozen segment of some collection.
fn seal_next(inner: &Inner) -> Result<bool> {
    let state = inner.state.load_full();
    let Some(cs) = state.collections.values().find(|c| !c.frozen.is_empty()) else {
        return Ok(false);
    };
    let Some(part) = cs.frozen.first().cloned() else {
        return Ok(false);
    };
    let Some(fp) = part.freeze.clone() else {
        return Err(Error::Internal(
            "frozen segment without a freeze point".into(),
        ));
    };
    let fs = &*inner.fs;
    let sealed = if part.len() > 0 {
        let generation = alloc_generation(inner)?;
        let rows: Vec<(u32, &[f32])> = (0..part.len() as u32)
            .filter_map(|r| part.vector(r).map(|v| (part.base() + r, v)))
            .collect();
        let complete = part.shared.indexed() == part.len();
        let graph = match (&part.shared.graph, complete) {
            (Some(g), true) => Some(g.freeze()),
            _ => None,
        };
        Some(write_segment(inner, cs, generation, &rows, graph, "seal")?)
    } else {
        None
    };
    let ck_rel = checkpoint_path(cs.id, fp.lsn);
    let bytes = fp.meta.encode_checkpoint()?;
    let ck_path = inner.dir.join(&ck_rel);
    create_dir_durably(fs, &inner.dir.join("meta"))?;
    mnemodb_io::durable_replace(fs, &ck_path, &bytes)?;
    failpoint::hit("seal.after_checkpoint");
    let ck = FileRef {
        path: ck_rel,
        len: bytes.len() as u64,
        crc: crc32(&bytes),
    };
    let (name, id) = (cs.config.name.clone(), cs.id);
    install(inner, true, |next| {
        let Some(c) = next.collections.get_mut(&name).filter(|c| c.id == id) else {
            return Ok(()); // dropped meanwhile: its files are orphans now
        };
        let c = Arc::make_mut(c);
        let current = match c.frozen.first() {
            Some(f) if Arc::ptr_eq(&f.shared, &part.shared) => c.frozen.remove(0),
            _ => {
                return Err(Error::Internal(
                    "frozen segments sealed out of order".into(),
                ));
            }
        };
        if let Some(seg) = sealed {
            c.sealed.push(SealedPart {
                seg: Arc::new(seg),
                tombstones: Arc::clone(&current.tombstones),
            });
        }
        c.applied_lsn = c.applied_lsn.max(fp.lsn);
        c.checkpoint = Some(ck);
        Ok(())
    })?;
    Ok(true)
}

/// Write segment `generation` of `cs` with `rows` (sorted by id), and its HNSW index
/// (from `graph` when given, else built when the collection is HNSW-indexed and
/// `build` asks for it). Returns the opened segment.
fn write_segment(
    inner: &Inner,
    cs: &CollectionState,
    generation: u64,
    rows: &[(u32, &[f32])],
    graph: Option<mnemodb_ann::hnsw::HnswGraph>,
    stage: &str,
) -> Result<SealedSegment> {
    let fs = &*inner.fs;
    let dir = inner.dir.join(collection_dir(cs.id));
    create_dir_durably(fs, &dir)?;
    let rel = segment_path(cs.id, generation);
    let path = inner.dir.join(&rel);
    let mut writer = SegmentWriter::create(
        fs,
        &path,
        SegmentOptions::new(cs.config.dim as u32, cs.config.metric, generation),
    )?;
    for (id, v) in rows {
        writer.push(u64::from(*id), v)?;
    }
    let info = writer.finish()?;
    failpoint::hit(if stage == "seal" {
        "seal.after_vec"
    } else {
        "compact.after_vec"
    });
    let reader = SegmentReader::open(fs, &path)?;
    let (Some(&(min_id, _)), Some(&(max_id, _))) = (rows.first(), rows.last()) else {
        return Err(Error::Internal("segment without rows".into()));
    };
    let mut entry = SegmentEntry {
        generation,
        rows: info.row_count,
        min_id,
        max_id,
        vectors: FileRef {
            path: rel,
            len: info.file_len,
            crc: info.content_crc,
        },
        index: None,
    };
    let index = match (cs.config.index, graph) {
        // A graph frozen from the live one has no codes yet: train them before writing.
        (IndexKind::Hnsw(p), Some(g)) => Some(
            HnswIndex::from_parts(g, &reader)?
                .with_params(&p)
                .with_sq8(p.sq8),
        ),
        (IndexKind::Hnsw(p), None) if stage == "compact" => {
            Some(HnswIndex::build(&inner.pool, &reader, p)?)
        }
        _ => None,
    };
    if let Some(index) = &index {
        entry.index = Some(write_index(inner, cs.id, generation, index)?);
        failpoint::hit(if stage == "seal" {
            "seal.after_index"
        } else {
            "compact.after_index"
        });
    }
    Ok(SealedSegment::new(entry, reader, index))
}

fn write_index(
    inner: &Inner,
    collection: u32,
    generation: u64,
    index: &HnswIndex,
) -> Result<FileRef> {
    let rel = index_path(collection, generation);
    let path = inner.dir.join(&rel);
    let info = index.write(&*inner.fs, &path)?;
    Ok(FileRef {
        path: rel,
        len: info.file_len,
        crc: index_fingerprint(&*inner.fs, &path)?,
    })
}

/// Link the next batch of a growing segment's rows into its graph.
fn index_step(inner: &Inner) -> Result<bool> {
    let state = inner.state.load_full();
    for cs in state.collections.values() {
        let Some(g) = &cs.growing else { continue };
        let Some(graph) = &g.shared.graph else {
            continue;
        };
        let start = g.shared.indexed();
        if start >= g.len() {
            continue;
        }
        if graph.len() != start {
            return Err(Error::Internal(format!(
                "growing graph of `{}` has {} rows, {start} indexed",
                cs.config.name,
                graph.len()
            )));
        }
        let end = g.len().min(start + inner.options.index_batch_rows);
        let vectors: Vec<&[f32]> = (start..end).filter_map(|r| g.vector(r as u32)).collect();
        graph.insert_batch(&inner.pool, &vectors)?;
        g.shared.indexed.store(end, Ordering::Release);
        return Ok(true);
    }
    Ok(false)
}

/// Build the index of one sealed segment that has none.
fn build_missing_index(inner: &Inner) -> Result<bool> {
    let state = inner.state.load_full();
    for cs in state.collections.values() {
        let IndexKind::Hnsw(params) = cs.config.index else {
            continue;
        };
        let Some(part) = cs.sealed.iter().find(|s| s.seg.index.is_none()) else {
            continue;
        };
        let seg = &part.seg;
        let index = HnswIndex::build(&inner.pool, &seg.reader, params)?;
        let file = write_index(inner, cs.id, seg.entry.generation, &index)?;
        failpoint::hit("index.after_file");
        let mut entry = seg.entry.clone();
        entry.index = Some(file);
        // The segment's bytes keep their check (done or pending); the new index was
        // built here.
        let with_index = Arc::new(SealedSegment::with_check(
            entry,
            seg.reader.clone(),
            Some(index),
            Arc::clone(&seg.check),
        ));
        let (name, id, generation) = (cs.config.name.clone(), cs.id, seg.entry.generation);
        install(inner, true, |next| {
            if let Some(c) = next.collections.get_mut(&name).filter(|c| c.id == id) {
                let c = Arc::make_mut(c);
                if let Some(p) = c
                    .sealed
                    .iter_mut()
                    .find(|p| p.seg.entry.generation == generation)
                {
                    p.seg = Arc::clone(&with_index);
                }
            }
            Ok(())
        })?;
        return Ok(true);
    }
    Ok(false)
}

/// Compact one collection: rewrite runs of adjacent segments that are small or carry
/// deleted rows (with `force`, any deleted row) into one segment each, without the
/// deleted rows.
pub(crate) fn compact_collection(
    inner: &Inner,
    name: &str,
    force: bool,
) -> Result<CompactionReport> {
    let mut report = CompactionReport::default();
    let state = inner.state.load_full();
    let Some(cs) = state.collections.get(name).cloned() else {
        return Ok(report);
    };
    let o = &inner.options;
    let wanted = |p: &SealedPart| {
        let dead = p.tombstones.len();
        let n = p.seg.rows().max(1) as f64;
        // A damaged segment is never rewritten: that would give its bad bytes fresh
        // checksums.
        p.seg.check.damage().is_none()
            && (p.seg.rows() < o.compact_small_rows
                || dead as f64 / n > o.compact_min_dead_fraction
                || (force && dead > 0))
    };
    // Maximal runs of adjacent wanted segments; a run of one only when it has deletes.
    let mut runs: Vec<Vec<usize>> = Vec::new();
    let mut cur: Vec<usize> = Vec::new();
    for (i, p) in cs.sealed.iter().enumerate() {
        if wanted(p) {
            cur.push(i);
        } else if !cur.is_empty() {
            runs.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        runs.push(cur);
    }
    runs.retain(|r| {
        r.len() > 1
            || r.first()
                .and_then(|&i| cs.sealed.get(i))
                .is_some_and(|p| !p.tombstones.is_empty())
    });
    for run in runs {
        let parts: Vec<&SealedPart> = run.iter().filter_map(|&i| cs.sealed.get(i)).collect();
        // Rows are copied into a file with new checksums: check every byte of the
        // sources first (a no-op for files already checked), and leave damaged ones.
        if parts.iter().any(|p| p.seg.verify().is_some()) {
            continue;
        }
        let mut rows: Vec<(u32, &[f32])> = Vec::new();
        for p in &parts {
            for row in 0..p.seg.rows() as u32 {
                if !p.tombstones.contains(row)
                    && let Some(v) = p.seg.vector(row)
                {
                    rows.push((p.seg.id_of(row), v));
                }
            }
        }
        let dropped: u64 =
            parts.iter().map(|p| p.seg.rows() as u64).sum::<u64>() - rows.len() as u64;
        let old_bytes: u64 = parts
            .iter()
            .map(|p| p.seg.entry.vectors.len + p.seg.entry.index.as_ref().map_or(0, |f| f.len))
            .sum();
        let new_seg = if rows.is_empty() {
            None
        } else {
            let generation = alloc_generation(inner)?;
            Some(Arc::new(write_segment(
                inner, &cs, generation, &rows, None, "compact",
            )?))
        };
        let new_bytes = new_seg.as_ref().map_or(0, |s| {
            s.entry.vectors.len + s.entry.index.as_ref().map_or(0, |f| f.len)
        });
        let generations: Vec<u64> = parts.iter().map(|p| p.seg.entry.generation).collect();
        let id = cs.id;
        install(inner, true, |next| {
            let Some(c) = next.collections.get_mut(name).filter(|c| c.id == id) else {
                return Ok(());
            };
            let c = Arc::make_mut(c);
            let Some(start) = c
                .sealed
                .iter()
                .position(|p| Some(&p.seg.entry.generation) == generations.first())
            else {
                return Ok(());
            };
            let same = c
                .sealed
                .get(start..start + generations.len())
                .is_some_and(|w| {
                    w.iter()
                        .zip(&generations)
                        .all(|(p, g)| p.seg.entry.generation == *g)
                });
            if !same {
                return Err(Error::Internal("segments changed under compaction".into()));
            }
            let replacement: Vec<SealedPart> = new_seg
                .iter()
                .map(|seg| SealedPart {
                    tombstones: Arc::new(derive_tombstones(seg, &c.meta)),
                    seg: Arc::clone(seg),
                })
                .collect();
            c.sealed
                .splice(start..start + generations.len(), replacement);
            Ok(())
        })?;
        report.segments_merged += parts.len();
        report.rows_dropped += dropped;
        report.bytes_reclaimed += old_bytes.saturating_sub(new_bytes);
    }
    if report.segments_merged > 0 {
        // The kept previous manifest still names the replaced files: roll it onto the
        // compacted state (an equally good fallback) so their space is given back now.
        install(inner, true, |_| Ok(()))?;
    }
    Ok(report)
}

/// Compact every collection (after sealing what is due).
pub(crate) fn compact_all(inner: &Inner, force: bool) -> Result<CompactionReport> {
    inner.check_writable()?;
    let _m = inner.maintenance.lock();
    while seal_next(inner)? {}
    let mut total = CompactionReport::default();
    let names: Vec<String> = inner.state.load().collections.keys().cloned().collect();
    for name in names {
        let r = compact_collection(inner, &name, force)?;
        total.segments_merged += r.segments_merged;
        total.rows_dropped += r.rows_dropped;
        total.bytes_reclaimed += r.bytes_reclaimed;
    }
    Ok(total)
}

/// Seal every collection's growing data and write a manifest with the WAL start moved up.
pub(crate) fn checkpoint(inner: &Inner) -> Result<()> {
    inner.check_writable()?;
    let _m = inner.maintenance.lock();
    checkpoint_locked(inner)
}

fn checkpoint_locked(inner: &Inner) -> Result<()> {
    {
        let guard = inner.writer.lock();
        let w = guard.as_ref().ok_or(Error::ReadOnly)?;
        w.wal.flush()?;
        let mut next = (*inner.state.load_full()).clone();
        let lsn = next.lsn;
        let mut changed = false;
        for c in next.collections.values_mut() {
            if c.touched_lsn > c.applied_lsn
                && c.frozen
                    .last()
                    .and_then(|f| f.freeze.as_ref())
                    .is_none_or(|f| f.lsn < lsn)
            {
                freeze(Arc::make_mut(c), lsn)?;
                changed = true;
            }
        }
        if changed {
            inner.state.store(Arc::new(next));
        }
    }
    while seal_next(inner)? {}
    // Start a new WAL file when the active one is large, so the space of records the
    // checkpoint covers can be given back (files are removed whole).
    let wal = {
        let guard = inner.writer.lock();
        guard.as_ref().map(|w| Arc::clone(&w.wal))
    };
    if let Some(wal) = wal
        && wal.stats().bytes >= ROTATE_AT_CHECKPOINT
    {
        wal.rotate()?;
    }
    install(inner, false, |_| Ok(()))
}

/// WAL size above which a checkpoint starts a new WAL file.
const ROTATE_AT_CHECKPOINT: u64 = 4 << 20;

/// Make deletions physical: checkpoint, rewrite every segment holding deleted rows, roll
/// the manifest twice so no kept manifest references old files, and drop every WAL file
/// below the new start.
pub(crate) fn purge(inner: &Inner) -> Result<()> {
    inner.check_writable()?;
    let _m = inner.maintenance.lock();
    checkpoint_locked(inner)?;
    let names: Vec<String> = inner.state.load().collections.keys().cloned().collect();
    for name in &names {
        compact_collection(inner, name, true)?;
    }
    let wal = {
        let guard = inner.writer.lock();
        let w = guard.as_ref().ok_or(Error::ReadOnly)?;
        Arc::clone(&w.wal)
    };
    wal.rotate()?;
    install(inner, true, |_| Ok(()))?;
    install(inner, true, |_| Ok(()))?;
    Ok(())
}
