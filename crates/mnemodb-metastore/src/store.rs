//! [`MetaStore`]: a [`MetaState`] made durable by a WAL and checkpoint files.
//!
//! ```text
//! <dir>/LOCK                     exclusive lock (a second opener gets "database is locked")
//! <dir>/wal/<first-lsn>.log      mnemodb-wal files: one encoded MetaOp per record
//! <dir>/meta/checkpoint-<lsn>    checkpoint files (normally one)
//! ```
//!
//! # Write path (`put`, `patch`, `delete`, `write_batch`)
//!
//! 1. Encode the ops (validates ids, document size and nesting) — no lock held.
//! 2. Take the writer lock. Apply the ops to an O(1) clone of the writer's head state; a
//!    failing op (e.g. `patch` of a missing id) returns its error and nothing is written.
//! 3. Append all ops as **one** WAL batch (atomic: after any crash all or none replay).
//!    The ops get consecutive LSNs in apply order, because both happen under the lock.
//! 4. The clone becomes the head. With [`Durability::Sync`] the new state is queued
//!    for publication and the lock is released **before** the fsync; with `Batch`/`Buffered`
//!    it is published at once.
//! 5. `Sync` only: wait until the WAL is durable up to the batch's last LSN. The first
//!    waiter finding no sync in progress runs one `Wal::flush` covering everything
//!    appended so far (group commit: concurrent writers share one fsync), then publishes
//!    the newest queued state it covered and wakes the others.
//! 6. Return. A failed fsync poisons the store: that write and every later one return
//!    [`Error::Poisoned`] until reopen (its durability is unknown; recovery decides).
//!
//! **Visibility rule:** with `Sync`, a snapshot shows exactly the durable writes — never a
//! write a crash could take back, and every write whose call returned `Ok`. With
//! `Batch`/`Buffered`, it shows every acknowledged write (which a power loss may take back,
//! as those modes promise). Snapshots are published in LSN order.
//!
//! # Checkpoint
//!
//! Snapshot the published state (LSN `L`) → `Wal::flush` (so `L` is durable in the log
//! too) → encode → `durable_replace` to `meta/checkpoint-L` (temp, fsync, rename, dir
//! fsync) → `Wal::truncate_before(L + 1)` (whole old files) → remove older checkpoints and
//! fsync `meta/`. Writers are not blocked while it runs; concurrent checkpoints serialise.
//!
//! # Recovery (`open`)
//!
//! 1. Lock; delete orphan `meta/*.tmp` (fsync `meta/`).
//! 2. Load the newest checkpoint (LSN `L`) that decodes with every CRC valid and whose
//!    header LSN equals its file name; its indexes are bulk-built from the documents.
//! 3. Open the WAL (torn tail truncated) with `min_next_lsn = L + 1`: a log that ends
//!    below `L` (lost, salvaged, or never written) is restarted at `L + 1`, so new LSNs
//!    stay above every checkpointed one.
//! 4. An invalid newer checkpoint may have been skipped in step 2 **only if** the WAL
//!    still holds every record after `L` and reaches the skipped one's LSN; otherwise
//!    [`Error::Unrecoverable`]. I/O errors are never treated as damage.
//! 5. Replay WAL records with LSN > `L`. A record that does not decode or does not apply
//!    is an error naming its LSN.
use std::collections::VecDeque;
use std::ffi::OsStr;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use mnemodb_io::{
    Fs, IoContext, LockGuard, durable_replace, lock_database, sync_parent_dir, temp_files,
};
use mnemodb_wal::{Durability, RecoveryMode, RecoveryReport, Wal, WalOptions};
use parking_lot::{Condvar, Mutex};
use roaring::RoaringBitmap;

use crate::checkpoint::CheckpointInfo;
use crate::error::{Error, Result};
use crate::external_id::ExternalId;
use crate::filter::Filter;
use crate::op::MetaOp;
use crate::schema::Schema;
use crate::state::{Lsn, MetaState, Snapshot};
use crate::value::Document;

/// Prefix of checkpoint file names: `checkpoint-<lsn>`.
const CHECKPOINT_PREFIX: &str = "checkpoint-";

/// Options of [`MetaStore::open`].
#[derive(Debug, Clone)]
pub struct MetaStoreOptions {
    /// Indexed fields.
    pub schema: Schema,
    /// When writes return; default `Sync` (see the module doc for visibility).
    pub durability: Durability,
    /// WAL file size before rotation (default 64 MiB).
    pub wal_max_file_bytes: u64,
    /// What opening does with a damaged WAL (default: truncate a torn tail only).
    pub recovery: RecoveryMode,
}

impl MetaStoreOptions {
    /// Defaults with `schema`.
    pub fn new(schema: Schema) -> Self {
        MetaStoreOptions {
            schema,
            durability: Durability::Sync,
            wal_max_file_bytes: WalOptions::default().max_file_bytes,
            recovery: RecoveryMode::default(),
        }
    }
}

/// What [`MetaStore::open`] found and did.
#[derive(Debug, Clone)]
pub struct OpenReport {
    /// The checkpoint loaded, if any.
    pub checkpoint: Option<CheckpointInfo>,
    /// Newer checkpoint files that were damaged and skipped (allowed because the WAL still
    /// covered them), with the reason.
    pub skipped_checkpoints: Vec<(PathBuf, String)>,
    /// Orphan temporary files deleted.
    pub removed_temp_files: usize,
    /// WAL records replayed on top of the checkpoint.
    pub replayed: u64,
    /// What the WAL's own recovery found.
    pub wal: RecoveryReport,
}

/// What a committed write returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// The LSNs of the ops (`None` when nothing had to be written, e.g. deleting an absent id).
    pub lsns: Option<RangeInclusive<Lsn>>,
    /// Per op, the internal id written (`None` for the delete of an absent id).
    pub ids: Vec<Option<u32>>,
}

#[derive(Debug)]
struct Writer {
    head: MetaState,
}

/// Group-commit state (Sync durability) and the poison flag.
#[derive(Debug, Default)]
struct Gate {
    /// LSN up to which the WAL is known durable.
    durable: Lsn,
    /// A flush is running.
    syncing: bool,
    /// States appended but not yet durable, in LSN order.
    pending: VecDeque<MetaState>,
    /// The first fsync failure.
    poisoned: Option<String>,
}

/// A durable metadata store: one collection's documents, indexes and filters, a WAL and
/// checkpoints in one directory. One writer at a time (writes serialise on a mutex, but
/// their fsyncs are shared), any number of readers that never wait
/// ([`snapshot`](Self::snapshot)). See the module doc of `store.rs` for the write path,
/// the visibility rule and recovery.
pub struct MetaStore {
    fs: Arc<dyn Fs>,
    dir: PathBuf,
    meta_dir: PathBuf,
    wal: Wal,
    durability: Durability,
    writer: Mutex<Writer>,
    gate: Mutex<Gate>,
    synced: Condvar,
    published: ArcSwap<Snapshot>,
    checkpointing: Mutex<()>,
    _lock: Box<dyn LockGuard>,
}

impl std::fmt::Debug for MetaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetaStore")
            .field("dir", &self.dir)
            .field("lsn", &self.published.load().lsn())
            .field("len", &self.published.load().len())
            .finish_non_exhaustive()
    }
}

fn checkpoint_lsn(name: &OsStr) -> Option<Lsn> {
    let digits = name.to_str()?.strip_prefix(CHECKPOINT_PREFIX)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Checkpoint files in `meta_dir`, newest first.
fn list_checkpoints(fs: &dyn Fs, meta_dir: &Path) -> Result<Vec<(Lsn, PathBuf)>> {
    let mut out: Vec<(Lsn, PathBuf)> = fs
        .read_dir(meta_dir)
        .at("list directory", meta_dir)?
        .into_iter()
        .filter_map(|name| checkpoint_lsn(&name).map(|lsn| (lsn, meta_dir.join(name))))
        .collect();
    out.sort_by_key(|c| std::cmp::Reverse(c.0));
    Ok(out)
}

/// Read and decode one checkpoint file.
fn load_checkpoint(
    fs: &dyn Fs,
    path: &Path,
    lsn: Lsn,
    schema: &Schema,
) -> Result<(MetaState, CheckpointInfo)> {
    let bytes = fs.map_readonly(path).at("read checkpoint", path)?;
    let (state, info) = MetaState::open_checkpoint(bytes, path, schema.clone())?;
    if info.lsn != lsn {
        return Err(mnemodb_format::FormatError::corrupted(
            path,
            24,
            format!(
                "header LSN {} differs from the file name's {lsn} (a stale or misplaced copy)",
                info.lsn
            ),
        )
        .into());
    }
    Ok((state, info))
}

impl MetaStore {
    /// Open (or create) the store in `dir` and recover it; see the module doc.
    pub fn open(
        fs: Arc<dyn Fs>,
        dir: &Path,
        options: MetaStoreOptions,
    ) -> Result<(MetaStore, OpenReport)> {
        options.schema.validate()?;
        fs.create_dir_all(dir).at("create directory", dir)?;
        sync_parent_dir(&*fs, dir)?;
        let lock = lock_database(&*fs, &dir.join("LOCK"))?;
        let meta_dir = dir.join("meta");
        fs.create_dir_all(&meta_dir)
            .at("create directory", &meta_dir)?;
        fs.sync_dir(dir).at("sync directory", dir)?;
        let temps = temp_files(&*fs, &meta_dir)?;
        for name in &temps {
            let p = meta_dir.join(name);
            fs.remove_file(&p).at("remove temporary file", &p)?;
        }
        if !temps.is_empty() {
            fs.sync_dir(&meta_dir).at("sync directory", &meta_dir)?;
        }
        // Checkpoints first: the WAL must continue after the one loaded.
        let checkpoints = list_checkpoints(&*fs, &meta_dir)?;
        let newest_lsn = checkpoints.first().map_or(0, |c| c.0);
        let mut skipped = Vec::new();
        let mut loaded = None;
        for (lsn, path) in &checkpoints {
            match load_checkpoint(&*fs, path, *lsn, &options.schema) {
                Ok(found) => {
                    loaded = Some(found);
                    break;
                }
                Err(e @ (Error::Io(_) | Error::InvalidSchema { .. })) => return Err(e),
                Err(e) => skipped.push((path.clone(), e.to_string())),
            }
        }
        let (mut state, info) = match loaded {
            Some((s, info)) => (s, Some(info)),
            None => (MetaState::new(options.schema.clone())?, None),
        };
        let base = state.lsn();
        let wal_options = WalOptions {
            // Sync is done here, outside the writer lock, so writers share fsyncs.
            durability: match options.durability {
                Durability::Sync => Durability::Buffered,
                other => other,
            },
            max_file_bytes: options.wal_max_file_bytes,
            recovery: options.recovery,
            // A log that ends below the checkpoint (lost, salvaged, or never written) is
            // restarted after it, so new LSNs stay above every checkpointed one.
            min_next_lsn: base + 1,
            ..WalOptions::default()
        };
        let (wal, wal_report) = Wal::open(Arc::clone(&fs), &dir.join("wal"), wal_options)?;
        let wal_first = wal_report.first_lsn;
        let wal_last = wal.last_lsn();
        // "The WAL holds every record after `lsn`, up to at least `upto`."
        let wal_covers = |lsn: Lsn, upto: Lsn| {
            wal_last >= upto && (wal_last <= lsn || (wal_first != 0 && wal_first <= lsn + 1))
        };
        if !skipped.is_empty() && !wal_covers(base, newest_lsn) {
            let (path, why) = skipped.first().cloned().unwrap_or_default();
            return Err(Error::Unrecoverable {
                dir: dir.to_path_buf(),
                what: format!(
                    "checkpoint {} is damaged ({why}) and the WAL (records {wal_first}..={wal_last}) \
                     no longer holds what the {} would need; restore a backup",
                    path.display(),
                    match info {
                        Some(i) => format!("older checkpoint at LSN {}", i.lsn),
                        None => "empty state".to_string(),
                    }
                ),
            });
        }
        if wal_report.records > 0 && wal_first > base + 1 {
            return Err(Error::Unrecoverable {
                dir: dir.to_path_buf(),
                what: format!(
                    "the WAL starts at LSN {wal_first} but the checkpoint covers only up to {base}: \
                     records {}..{wal_first} are missing (checkpoint files deleted?)",
                    base + 1
                ),
            });
        }
        let mut replayed = 0u64;
        wal.replay_with(base + 1, |lsn, payload| -> Result<()> {
            if lsn <= base {
                return Ok(());
            }
            // An empty payload is a no-op (older versions wrote them as fillers).
            if !payload.is_empty() {
                let op = MetaOp::decode_record(payload, lsn)?;
                state.apply(&op).map_err(|e| Error::CorruptRecord {
                    lsn,
                    offset: 0,
                    what: format!("does not apply to the recovered state: {e}"),
                })?;
            }
            state.set_lsn(lsn);
            replayed += 1;
            Ok(())
        })?;
        debug_assert!(wal.last_lsn() >= base);
        let durable = wal.durable_lsn().max(state.lsn());
        let report = OpenReport {
            checkpoint: info,
            skipped_checkpoints: skipped,
            removed_temp_files: temps.len(),
            replayed,
            wal: wal_report,
        };
        let store = MetaStore {
            fs,
            dir: dir.to_path_buf(),
            meta_dir,
            wal,
            durability: options.durability,
            published: ArcSwap::from_pointee(state.snapshot()),
            writer: Mutex::new(Writer { head: state }),
            gate: Mutex::new(Gate {
                durable,
                ..Gate::default()
            }),
            synced: Condvar::new(),
            checkpointing: Mutex::new(()),
            _lock: lock,
        };
        Ok((store, report))
    }

    /// The newest published snapshot (never blocks on writers).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.published.load_full()
    }

    /// Insert or replace the document of `id`; returns its internal id (kept on replace).
    pub fn put(&self, id: impl Into<ExternalId>, doc: Document) -> Result<u32> {
        let c = self.write_batch(vec![MetaOp::Put { id: id.into(), doc }])?;
        Ok(c.ids.first().copied().flatten().unwrap_or_default())
    }

    /// Merge `patch` into the document of `id` (RFC 7386: `Null` removes a key, maps
    /// merge); [`Error::NotFound`] when absent. Returns the internal id.
    pub fn patch(&self, id: impl Into<ExternalId>, patch: Document) -> Result<u32> {
        let c = self.write_batch(vec![MetaOp::Patch {
            id: id.into(),
            patch,
        }])?;
        Ok(c.ids.first().copied().flatten().unwrap_or_default())
    }

    /// Delete the document of `id`; `false` (and nothing written) when absent.
    pub fn delete(&self, id: impl Into<ExternalId>) -> Result<bool> {
        let c = self.write_batch(vec![MetaOp::Delete { id: id.into() }])?;
        Ok(c.ids.first().copied().flatten().is_some())
    }

    /// The document of `id` in the newest snapshot.
    pub fn get(&self, id: &ExternalId) -> Option<Document> {
        self.snapshot().get(id).cloned()
    }

    /// Evaluate `filter` on the newest snapshot.
    pub fn filter(&self, filter: &Filter) -> Result<RoaringBitmap> {
        self.snapshot().filter(filter)
    }

    /// Live documents in the newest snapshot.
    pub fn len(&self) -> u64 {
        self.snapshot().len()
    }

    /// Whether the newest snapshot holds no document.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Apply `ops` atomically: one WAL batch, all or nothing (see the module doc). An op
    /// that fails validation fails the whole batch before anything is written.
    pub fn write_batch(&self, ops: Vec<MetaOp>) -> Result<Committed> {
        let mut payloads = Vec::with_capacity(ops.len());
        for op in &ops {
            payloads.push(op.encode()?);
        }
        let mut w = self.writer.lock();
        if let Some(cause) = &self.gate.lock().poisoned {
            return Err(Error::Poisoned {
                cause: cause.clone(),
            });
        }
        let mut next = w.head.clone();
        let mut ids = Vec::with_capacity(ops.len());
        for op in &ops {
            ids.push(next.apply(op)?);
        }
        let only_noops = ops
            .iter()
            .zip(&ids)
            .all(|(op, id)| matches!(op, MetaOp::Delete { .. }) && id.is_none());
        if only_noops {
            return Ok(Committed { lsns: None, ids });
        }
        let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
        let lsns = self.wal.append_batch(&refs)?;
        next.set_lsn(*lsns.end());
        w.head = next.clone();
        if self.durability == Durability::Sync {
            self.gate.lock().pending.push_back(next);
            drop(w);
            self.wait_durable(*lsns.end())?;
        } else {
            self.published.store(Arc::new(next.snapshot()));
            drop(w);
        }
        Ok(Committed {
            lsns: Some(lsns),
            ids,
        })
    }

    /// Block until the WAL is durable up to `lsn` (group commit; see the module doc).
    fn wait_durable(&self, lsn: Lsn) -> Result<()> {
        let mut g = self.gate.lock();
        loop {
            if g.durable >= lsn {
                return Ok(());
            }
            if let Some(cause) = &g.poisoned {
                return Err(Error::Poisoned {
                    cause: cause.clone(),
                });
            }
            if g.syncing {
                self.synced.wait(&mut g);
                continue;
            }
            g.syncing = true;
            // Every record appended before the flush starts is covered by it.
            let target = self.wal.last_lsn();
            let result = parking_lot::MutexGuard::unlocked(&mut g, || self.wal.flush());
            g.syncing = false;
            match result {
                Ok(()) => {
                    g.durable = g.durable.max(target);
                    let mut newest = None;
                    while g.pending.front().is_some_and(|s| s.lsn() <= target) {
                        newest = g.pending.pop_front();
                    }
                    if let Some(s) = newest {
                        self.published.store(Arc::new(s.snapshot()));
                    }
                }
                Err(e) => {
                    g.poisoned = Some(e.to_string());
                    self.synced.notify_all();
                    return Err(e.into());
                }
            }
            self.synced.notify_all();
        }
    }

    /// Make every acknowledged write durable (a no-op with `Sync`, where they already are).
    pub fn flush(&self) -> Result<()> {
        self.wal.flush()?;
        Ok(())
    }

    /// Write a checkpoint of the newest snapshot and drop the WAL files and older
    /// checkpoints it makes unnecessary; see the module doc. Returns what was written.
    pub fn checkpoint(&self) -> Result<CheckpointInfo> {
        let _one = self.checkpointing.lock();
        if let Some(cause) = &self.gate.lock().poisoned {
            return Err(Error::Poisoned {
                cause: cause.clone(),
            });
        }
        let snap = self.snapshot();
        let lsn = snap.lsn();
        // The checkpoint must never be ahead of the durable log (see recovery step 3).
        self.wal.flush()?;
        let bytes = snap.encode_checkpoint()?;
        let path = self.meta_dir.join(format!("{CHECKPOINT_PREFIX}{lsn}"));
        let info = MetaState::checkpoint_info(&bytes, &path)?;
        durable_replace(&*self.fs, &path, &bytes)?;
        self.wal.truncate_before(lsn + 1)?;
        let mut removed = false;
        for (old, old_path) in list_checkpoints(&*self.fs, &self.meta_dir)? {
            if old != lsn {
                self.fs
                    .remove_file(&old_path)
                    .at("remove old checkpoint", &old_path)?;
                removed = true;
            }
        }
        if removed {
            self.fs
                .sync_dir(&self.meta_dir)
                .at("sync directory", &self.meta_dir)?;
        }
        Ok(info)
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Statistics of the underlying WAL.
    pub fn wal_stats(&self) -> mnemodb_wal::WalStats {
        self.wal.stats()
    }
}
