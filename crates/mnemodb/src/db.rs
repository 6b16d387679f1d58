//! [`Database`]: open/create, the write path, snapshots, and the background worker.
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use arc_swap::ArcSwap;
use mnemodb_io::{Fs, IoContext, LockGuard, StdFs};
use mnemodb_metastore::MetaOp;
use mnemodb_wal::{RecoveryMode, Wal, WalOptions};
use parking_lot::{Condvar, Mutex, RwLock};

use crate::collection::Collection;
use crate::config::CollectionConfig;
use crate::error::{Error, Result};
use crate::failpoint;
use crate::manifest::{self, ManifestBody};
use crate::options::Options;
use crate::payload::{self, WalOp};
use crate::records::{BatchOp, WriteBatch};
use crate::recovery::{self, LoadedManifest};
use crate::state::{CollectionState, DbState, check_indexed_types};

/// Name of the lock file.
pub(crate) const LOCK_FILE: &str = "LOCK";
/// The WAL's directory.
pub(crate) const WAL_DIR: &str = "wal";

/// What opening found and did.
#[derive(Debug, Clone, Default)]
pub struct OpenReport {
    /// Sequence number of the manifest opened.
    pub manifest: u64,
    /// WAL records replayed.
    pub replayed_records: u64,
    /// Bytes of a torn WAL tail cut off.
    pub truncated_bytes: u64,
    /// Whether a damaged WAL was salvaged (with [`Options::salvage`]).
    pub salvaged: bool,
    /// Orphan and temp files removed.
    pub removed_files: usize,
    /// Set when the newest manifest was damaged and the previous one was opened: why.
    pub fallback: Option<String>,
}

/// The writer's private state (absent on read-only handles).
pub(crate) struct Writer {
    pub wal: Arc<Wal>,
    pub seq: u64,
    pub manifest: ManifestBody,
    pub previous: Option<(u64, ManifestBody)>,
    /// Next segment generation (also handed to files not yet in a manifest).
    pub next_generation: u64,
}

/// Signals for the background worker.
#[derive(Default)]
pub(crate) struct Signal {
    pub pending: Mutex<bool>,
    pub cv: Condvar,
}

pub(crate) struct Inner {
    pub fs: Arc<dyn Fs>,
    pub dir: PathBuf,
    pub options: Options,
    pub state: ArcSwap<DbState>,
    pub writer: Mutex<Option<Writer>>,
    /// Held while running maintenance (seal, index, compaction, file removal).
    pub maintenance: Mutex<()>,
    /// Readers of files (backup) hold it shared; removers of files exclusive.
    pub files_gate: RwLock<()>,
    /// Background work (index builds, compaction).
    pub pool: rayon::ThreadPool,
    /// Queries: separate, so a long index build never delays a search.
    pub search_pool: rayon::ThreadPool,
    pub poisoned: Mutex<Option<String>>,
    pub report: OpenReport,
    pub signal: Signal,
    pub shutdown: std::sync::atomic::AtomicBool,
    pub read_only: bool,
    /// Read-only handles: the manifest and LSN their state reflects.
    pub ro_cursor: Mutex<(u64, u64)>,
    /// Errors of background work, surfaced by `stats()` and the next write.
    pub background_error: Mutex<Option<String>>,
    /// The background scrub's progress and stop flag.
    pub scrub: Arc<crate::scrub::Scrub>,
    _lock: Option<Box<dyn LockGuard>>,
}

/// Stops and joins the background worker when the last handle goes.
struct WorkerGuard {
    inner: Arc<Inner>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        self.inner
            .shutdown
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.inner.scrub.stop();
        {
            let mut p = self.inner.signal.pending.lock();
            *p = true;
            self.inner.signal.cv.notify_all();
        }
        if let Some(t) = self.thread.lock().take() {
            let _ = t.join();
        }
    }
}

/// An open database: a directory holding collections of vectors and metadata. `Send +
/// Sync` and cheap to clone (clones share one open database); many threads may search
/// while others write (writes are serialised).
#[derive(Clone)]
pub struct Database {
    pub(crate) inner: Arc<Inner>,
    _worker: Arc<WorkerGuard>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("dir", &self.inner.dir)
            .field("read_only", &self.inner.read_only)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Database {
    /// Open the database in `path` (created when missing) for reading and writing. Takes
    /// the directory's lock: a second writer, in this or another process, gets
    /// [`Error::Locked`].
    pub fn open(path: impl AsRef<Path>, options: Options) -> Result<Database> {
        Self::open_with_fs(Arc::new(StdFs), path, options)
    }

    /// [`open`](Self::open) on another file system (in-memory, fault-injecting).
    pub fn open_with_fs(
        fs: Arc<dyn Fs>,
        path: impl AsRef<Path>,
        options: Options,
    ) -> Result<Database> {
        open_impl(fs, path.as_ref(), options, false)
    }

    /// Open an existing database read-only, without the lock: any number of processes can
    /// do this while one writer works. The handle sees the state as of opening (or the
    /// last [`refresh`](Self::refresh)).
    pub fn open_read_only(path: impl AsRef<Path>, options: Options) -> Result<Database> {
        open_impl(Arc::new(StdFs), path.as_ref(), options, true)
    }

    /// [`open_read_only`](Self::open_read_only) on another file system.
    pub fn open_read_only_with_fs(
        fs: Arc<dyn Fs>,
        path: impl AsRef<Path>,
        options: Options,
    ) -> Result<Database> {
        open_impl(fs, path.as_ref(), options, true)
    }

    /// The database directory.
    pub fn path(&self) -> &Path {
        &self.inner.dir
    }

    /// What opening found and did (torn tail cut, orphans removed, manifest fallback).
    pub fn open_report(&self) -> &OpenReport {
        &self.inner.report
    }

    /// Whether the handle is read-only.
    pub fn is_read_only(&self) -> bool {
        self.inner.read_only
    }

    /// Create a collection. [`Error::CollectionExists`] when the name is taken.
    pub fn create_collection(&self, config: CollectionConfig) -> Result<Collection> {
        config.validate()?;
        let name = config.name.clone();
        self.inner.commit(|state, w| {
            if state.collections.contains_key(&config.name) {
                return Err(Error::CollectionExists(config.name.clone()));
            }
            let id = next_collection_id(state).max(w.manifest.next_collection_id);
            Ok(vec![WalOp::Create {
                id,
                spec: config.spec(),
            }])
        })?;
        self.collection(&name)
    }

    /// The collection `name`, created with `config` when missing; an existing one must
    /// have the same dimension and metric.
    pub fn collection_or_create(&self, config: CollectionConfig) -> Result<Collection> {
        match self.collection(&config.name) {
            Ok(c) => {
                if c.dim() != config.dim || c.metric() != config.metric {
                    return Err(Error::InvalidInput(format!(
                        "collection `{}` exists with dimension {} and metric {}, not {} / {}",
                        config.name,
                        c.dim(),
                        c.metric(),
                        config.dim,
                        config.metric
                    )));
                }
                Ok(c)
            }
            Err(Error::UnknownCollection(_)) => match self.create_collection(config.clone()) {
                Err(Error::CollectionExists(_)) => self.collection(&config.name),
                other => other,
            },
            Err(e) => Err(e),
        }
    }

    /// The collection `name`.
    pub fn collection(&self, name: &str) -> Result<Collection> {
        let state = self.inner.state.load();
        let cs = state
            .collections
            .get(name)
            .ok_or_else(|| Error::UnknownCollection(name.to_string()))?;
        Ok(Collection::new(self.clone(), cs))
    }

    /// Drop a collection and all its data (files are removed at the next manifest change).
    pub fn drop_collection(&self, name: &str) -> Result<()> {
        self.inner.commit(|state, _| {
            let cs = state
                .collections
                .get(name)
                .ok_or_else(|| Error::UnknownCollection(name.to_string()))?;
            Ok(vec![WalOp::Drop { id: cs.id }])
        })?;
        Ok(())
    }

    /// Every collection.
    pub fn collections(&self) -> Vec<crate::CollectionInfo> {
        let state = self.inner.state.load();
        state
            .collections
            .values()
            .map(|c| crate::CollectionInfo {
                name: c.config.name.clone(),
                dim: c.config.dim,
                metric: c.config.metric,
                index: c.config.index,
                count: c.meta.len(),
            })
            .collect()
    }

    /// Apply `batch` atomically: one WAL record, so after any crash all of it or none.
    /// Returns the record's LSN once it is as durable as the [`Options::durability`] mode
    /// promises. Everything is validated first: on error nothing was written.
    pub fn write(&self, batch: WriteBatch) -> Result<u64> {
        if batch.is_empty() {
            return Ok(self.inner.state.load().lsn);
        }
        self.inner.commit(|state, _| translate(state, batch.ops))
    }

    /// Make every acknowledged write durable now (whatever the durability mode).
    pub fn flush(&self) -> Result<()> {
        let guard = self.inner.writer.lock();
        let w = guard.as_ref().ok_or(Error::ReadOnly)?;
        w.wal.flush()?;
        Ok(())
    }

    /// Seal every collection's growing data into segment and checkpoint files, write a
    /// new manifest and drop the WAL below it. Bounds recovery time; indexes of the new
    /// segments are built in the background (or inline without background work).
    pub fn checkpoint(&self) -> Result<()> {
        crate::maintenance::checkpoint(&self.inner)
    }

    /// Merge small segments and drop deleted rows, now. Readers are never blocked; files
    /// of replaced segments are removed once no manifest kept for recovery needs them.
    pub fn compact(&self) -> Result<crate::CompactionReport> {
        crate::maintenance::compact_all(&self.inner, true)
    }

    /// Finish pending background work (indexing, sealing, index builds) now.
    pub fn wait_for_background(&self) -> Result<()> {
        crate::maintenance::run_until_idle(&self.inner, false)
    }

    /// Write a consistent copy of the database into `to_dir` (created; must be empty or
    /// missing) while writes go on. The copy opens as a database of its own.
    pub fn backup(&self, to_dir: impl AsRef<Path>) -> Result<crate::BackupReport> {
        crate::backup::backup(&self.inner, to_dir.as_ref())
    }

    /// Read-only handles: pick up what the writer committed since opening or the last
    /// refresh (a new manifest is re-read and new segments mapped; new WAL records are
    /// replayed). Returns whether anything changed. A no-op on the writer's own handle.
    pub fn refresh(&self) -> Result<bool> {
        if !self.inner.read_only {
            return Ok(false);
        }
        let changed = crate::backup::refresh(&self.inner)?;
        if changed && self.inner.options.verify == crate::Verify::Background {
            crate::scrub::start(&self.inner);
        }
        Ok(changed)
    }

    /// Counts, sizes and positions for monitoring and `mnemodb info` (including what
    /// the background scrub has checked and any damage it found).
    pub fn stats(&self) -> crate::DatabaseStats {
        crate::stats::database_stats(&self.inner)
    }

    /// Check every byte of every sealed segment and index file not checked yet (by the
    /// open with [`crate::Verify::Full`], the background scrub or an earlier call), now,
    /// on the calling thread (waiting for a file the scrub is checking at the moment).
    /// Returns [`Error::Corrupted`] naming the file and byte offset of the first damage
    /// found, now or before; after that every operation on the affected collection
    /// returns that error too.
    pub fn verify(&self) -> Result<crate::VerifyReport> {
        crate::scrub::verify_all(&self.inner)
    }
}

pub(crate) fn next_collection_id(state: &DbState) -> u32 {
    state
        .collections
        .values()
        .map(|c| c.id + 1)
        .max()
        .unwrap_or(1)
}

/// Validate a batch against the current state and turn it into WAL operations.
fn translate(state: &DbState, ops: Vec<(String, BatchOp)>) -> Result<Vec<WalOp>> {
    let mut out = Vec::with_capacity(ops.len());
    for (name, op) in ops {
        let cs = state
            .collections
            .get(&name)
            .ok_or_else(|| Error::UnknownCollection(name.clone()))?;
        cs.check_intact()?;
        out.push(match op {
            BatchOp::Upsert(record) => {
                let vector = validate_record_vector(cs, &record.vector)?;
                check_indexed_types(&cs.config, &record.metadata)?;
                WalOp::Write {
                    collection: cs.id,
                    vector,
                    op: MetaOp::Put {
                        id: record.id,
                        doc: record.metadata,
                    },
                }
            }
            BatchOp::Delete(id) => WalOp::Write {
                collection: cs.id,
                vector: None,
                op: MetaOp::Delete { id },
            },
            BatchOp::Patch(id, patch) => {
                check_indexed_types(&cs.config, &patch)?;
                WalOp::Write {
                    collection: cs.id,
                    vector: None,
                    op: MetaOp::Patch { id, patch },
                }
            }
        });
    }
    Ok(out)
}

fn validate_record_vector(cs: &CollectionState, v: &[f32]) -> Result<Option<Vec<f32>>> {
    if !cs.config.has_vectors() {
        if v.is_empty() {
            return Ok(None);
        }
        return Err(Error::InvalidInput(format!(
            "collection `{}` holds documents only: records carry no vector",
            cs.config.name
        )));
    }
    mnemodb_distance::validate_vector(v, cs.config.dim)?;
    if cs.config.metric == mnemodb_distance::Metric::Cosine && v.iter().all(|x| *x == 0.0) {
        return Err(Error::InvalidVector(
            "an all-zero vector has no direction (cosine metric)".into(),
        ));
    }
    Ok(Some(v.to_vec()))
}

impl Inner {
    pub(crate) fn check_writable(&self) -> Result<()> {
        if self.read_only {
            return Err(Error::ReadOnly);
        }
        if let Some(cause) = &*self.poisoned.lock() {
            return Err(Error::Poisoned(cause.clone()));
        }
        Ok(())
    }

    pub(crate) fn poison(&self, cause: String) {
        let mut p = self.poisoned.lock();
        if p.is_none() {
            *p = Some(cause);
        }
    }

    /// The write path: build ops from the current state, apply them to a copy (so invalid
    /// ops fail before anything is logged), append one WAL record, publish the new state.
    pub(crate) fn commit(
        &self,
        build: impl FnOnce(&DbState, &Writer) -> Result<Vec<WalOp>>,
    ) -> Result<u64> {
        self.check_writable()?;
        let mut guard = self.writer.lock();
        let w = guard.as_mut().ok_or(Error::ReadOnly)?;
        let current = self.state.load_full();
        let ops = build(&current, w)?;
        let lsn = w.wal.last_lsn() + 1;
        let mut next = (*current).clone();
        next.apply_record(lsn, &ops)?;
        let bytes = payload::encode(&ops)?;
        let got = match w.wal.append(&bytes) {
            Ok(l) => l,
            Err(e) => {
                let e = Error::from(e);
                if matches!(e, Error::Poisoned(_)) {
                    self.poison(e.to_string());
                }
                return Err(e);
            }
        };
        if got != lsn {
            self.poison(format!("WAL handed out LSN {got}, expected {lsn}"));
            return Err(Error::Internal(format!(
                "WAL handed out LSN {got}, expected {lsn}"
            )));
        }
        failpoint::hit("write.after_wal");
        let needs_seal = next.collections.values().any(|c| {
            c.growing
                .as_ref()
                .is_some_and(|g| g.len() >= self.options.seal_rows)
        });
        let needs_index = next.collections.values().any(|c| {
            c.growing
                .as_ref()
                .is_some_and(|g| g.shared.graph.is_some() && g.len() > g.shared.indexed())
        });
        if needs_seal {
            crate::maintenance::freeze_full(&mut next, self.options.seal_rows);
        }
        self.state.store(Arc::new(next));
        drop(guard);
        // The record is durable and published: the write succeeded, whatever happens to
        // the maintenance it makes due. Inline maintenance that fails (disk full while
        // sealing) is reported like background work and retried by the next write.
        if (needs_seal || needs_index)
            && let Err(e) = self.kick(needs_seal)
        {
            *self.background_error.lock() = Some(e.to_string());
        }
        Ok(lsn)
    }

    /// Wake the background worker (or, without one, run due work inline).
    pub(crate) fn kick(&self, sealing: bool) -> Result<()> {
        if self.options.background {
            let mut p = self.signal.pending.lock();
            *p = true;
            self.signal.cv.notify_one();
            Ok(())
        } else if sealing {
            crate::maintenance::run_until_idle(self, false)?;
            // Caught up: an earlier failure of inline maintenance is resolved.
            *self.background_error.lock() = None;
            Ok(())
        } else {
            Ok(())
        }
    }
}

fn open_impl(fs: Arc<dyn Fs>, dir: &Path, options: Options, read_only: bool) -> Result<Database> {
    let lock = if read_only {
        if !fs.exists(dir).at("stat", dir)? {
            return Err(Error::InvalidInput(format!(
                "{}: no database here (nothing to open read-only)",
                dir.display()
            )));
        }
        None
    } else {
        // An existing directory may have been created by an earlier open that crashed
        // before syncing its parent: sync it now, before anything is acknowledged.
        if !crate::files::create_dir_durably(&*fs, dir)? {
            mnemodb_io::sync_parent_dir(&*fs, dir)?;
        }
        Some(mnemodb_io::lock_database(&*fs, &dir.join(LOCK_FILE))?)
    };
    let loaded = match recovery::load_manifest(&*fs, dir)? {
        Some(l) => l,
        None => {
            if read_only {
                return Err(Error::InvalidInput(format!(
                    "{}: not a mnemodb database (no MANIFEST)",
                    dir.display()
                )));
            }
            create_new(&*fs, dir)?
        }
    };
    let mut state = recovery::state_from_manifest(&*fs, dir, &loaded, options.verify, None)?;
    let mut report = OpenReport {
        manifest: loaded.seq,
        fallback: loaded.fallback.clone(),
        ..Default::default()
    };
    let wal_dir = dir.join(WAL_DIR);
    let start = loaded.body.wal_start_lsn;
    let mut replay = |lsn: u64, bytes: &[u8]| -> Result<()> {
        let ops = payload::decode(bytes, lsn)?;
        state.apply_record(lsn, &ops)?;
        report.replayed_records += 1;
        Ok(())
    };
    let writer = if read_only {
        let rep = mnemodb_wal::read_records_with(
            &*fs,
            &wal_dir,
            start,
            RecoveryMode::TolerateTornTail,
            &mut replay,
        )?;
        check_wal_reaches(&rep, start, &wal_dir)?;
        None
    } else {
        let (wal, rep) = Wal::open(
            Arc::clone(&fs),
            &wal_dir,
            WalOptions {
                durability: options.durability,
                max_file_bytes: options.wal_file_bytes,
                recovery: if options.salvage {
                    RecoveryMode::SalvagePrefix
                } else {
                    RecoveryMode::TolerateTornTail
                },
                min_next_lsn: start,
                ..WalOptions::default()
            },
        )?;
        check_wal_reaches(&rep, start, &wal_dir)?;
        report.truncated_bytes = rep.truncated_bytes;
        report.salvaged = rep.salvaged;
        wal.replay_with(start, &mut replay)?;
        Some(Writer {
            wal: Arc::new(wal),
            next_generation: loaded.body.next_generation,
            seq: loaded.seq,
            manifest: loaded.body.clone(),
            previous: loaded.previous.clone(),
        })
    };
    if let Some(w) = &writer {
        let mut keep = vec![(w.seq, &w.manifest)];
        if let Some((s, b)) = &w.previous {
            keep.push((*s, b));
        }
        report.removed_files = recovery::remove_unreferenced(&*fs, dir, &keep)?;
    }
    let lsn = state.lsn;
    let nice = options.background_nice;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.threads.unwrap_or(0))
        .thread_name(|i| format!("mnemodb-{i}"))
        .start_handler(move |_| crate::priority::lower_current_thread(nice))
        .build()
        .map_err(|e| Error::Internal(format!("thread pool: {e}")))?;
    let search_pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.threads.unwrap_or(0))
        .thread_name(|i| format!("mnemodb-search-{i}"))
        .build()
        .map_err(|e| Error::Internal(format!("thread pool: {e}")))?;
    let background = options.background && !read_only;
    let inner = Arc::new(Inner {
        fs,
        dir: dir.to_path_buf(),
        options,
        state: ArcSwap::from_pointee(state),
        writer: Mutex::new(writer),
        maintenance: Mutex::new(()),
        files_gate: RwLock::new(()),
        pool,
        search_pool,
        poisoned: Mutex::new(None),
        report,
        signal: Signal::default(),
        shutdown: std::sync::atomic::AtomicBool::new(false),
        read_only,
        ro_cursor: Mutex::new((loaded.seq, lsn)),
        background_error: Mutex::new(None),
        scrub: Arc::default(),
        _lock: lock,
    });
    let thread = if background {
        let worker = Arc::clone(&inner);
        Some(
            std::thread::Builder::new()
                .name("mnemodb-maintenance".into())
                .spawn(move || {
                    crate::priority::lower_current_thread(nice);
                    crate::maintenance::worker_loop(&worker)
                })
                .map_err(|e| Error::Internal(format!("spawn maintenance thread: {e}")))?,
        )
    } else {
        None
    };
    let db = Database {
        _worker: Arc::new(WorkerGuard {
            inner: Arc::clone(&inner),
            thread: Mutex::new(thread),
        }),
        inner,
    };
    if background {
        db.inner.kick(false)?;
    } else if !read_only {
        crate::maintenance::run_until_idle(&db.inner, false)?;
    }
    if db.inner.options.verify == crate::Verify::Background {
        crate::scrub::start(&db.inner);
    }
    Ok(db)
}

/// Replay needs every record from the manifest's start: a log starting later lost some.
fn check_wal_reaches(rep: &mnemodb_wal::RecoveryReport, start: u64, wal_dir: &Path) -> Result<()> {
    if rep.records > 0 && rep.first_lsn > start {
        return Err(Error::corrupted(
            wal_dir,
            0,
            format!(
                "the log starts at LSN {} but the manifest needs records from LSN {start}: WAL files are missing",
                rep.first_lsn
            ),
        ));
    }
    Ok(())
}

/// A new database: an empty manifest, durably, before anything else.
fn create_new(fs: &dyn Fs, dir: &Path) -> Result<LoadedManifest> {
    let non_empty = fs
        .read_dir(dir)
        .at("list directory", dir)?
        .iter()
        // A temp file is what a crash during an earlier creation leaves (the manifest's,
        // before its rename): not a database yet; the next open removes it.
        .any(|n| n != LOCK_FILE && !mnemodb_io::is_temp_path(n));
    if non_empty {
        return Err(Error::corrupted(
            dir,
            0,
            "the directory holds files but no MANIFEST: not a mnemodb database, or its manifests were deleted",
        ));
    }
    let body = ManifestBody::empty();
    write_manifest(fs, dir, 1, &body)?;
    Ok(LoadedManifest {
        seq: 1,
        body,
        previous: None,
        fallback: None,
    })
}

/// Write manifest `seq` durably (temp, fsync, rename, directory fsync).
pub(crate) fn write_manifest(fs: &dyn Fs, dir: &Path, seq: u64, body: &ManifestBody) -> Result<()> {
    let bytes = manifest::encode(seq, body)?;
    let path = dir.join(manifest::file_name(seq));
    // `durable_replace`'s steps, with the crash point where its name says: the temp file
    // written and synced, not yet renamed into place.
    let tmp = mnemodb_io::temp_path(&path);
    let written = fs
        .open(&tmp, mnemodb_io::OpenOptions::create_truncate())
        .at("create", &tmp)
        .and_then(|f| {
            f.write_all_at(&bytes, 0).at("write", &tmp)?;
            f.sync_all().at("sync", &tmp)
        });
    if let Err(e) = written {
        // Best effort: a leftover temp file is removed at the next open anyway.
        let _ = fs.remove_file(&tmp);
        return Err(e.into());
    }
    failpoint::hit("manifest.after_temp");
    if let Err(e) = fs.rename(&tmp, &path).at("rename into place", &tmp) {
        let _ = fs.remove_file(&tmp);
        return Err(e.into());
    }
    mnemodb_io::sync_parent_dir(fs, &path)?;
    failpoint::hit("manifest.after_rename");
    Ok(())
}

pub(crate) const IDLE_WAIT: Duration = Duration::from_millis(200);
