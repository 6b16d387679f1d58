//! [`Wal`]: the log writer — group commit, durability modes, rotation, truncation, replay.
//!
//! **Group commit.** An appender checksums its payloads (outside any lock), then, under the
//! state lock, copies its unsealed frame into the pending group. If no leader is doing I/O,
//! it becomes the leader: it takes the whole pending group, releases the state lock, seals
//! every frame (LSN, salt, synced watermark, CRC), writes the group with one positional
//! write, syncs once in [`Durability::Sync`], and publishes the outcome of the group. The
//! appenders that queued meanwhile form the next group; when the leader is done, one of
//! them becomes the next leader. So concurrent appenders share one `fsync`, and one
//! appender alone pays exactly one write and one `fsync`.
//!
//! **LSNs are assigned at write time** by the leader, so a failed write leaves no hole: the
//! next group reuses the LSNs.
//!
//! Lock order: `files_lock` → `io` → `state`; nobody takes `io` or `files_lock` while
//! holding `state`.
use std::fmt;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::Instant;

use mnemodb_format::WalHeader;
use mnemodb_io::{FileHandle, Fs, IoContext, OpenOptions, sync_parent_dir, temp_path};
use parking_lot::{Condvar, Mutex, MutexGuard};

use crate::error::{Error, Result};
use crate::frame::Body;
use crate::options::{Durability, Lsn, RecoveryReport, WalOptions, WalStats};
use crate::recovery::{self, file_name, read_header};
use crate::scan::{FileSource, Tail, scan_frames};

const HEADER: u64 = WalHeader::SIZE as u64;

/// A write-ahead log in one directory. `Send + Sync`: share it with `Arc` between writer
/// threads; concurrent appends share `fsync`s (group commit).
///
/// See the [crate documentation](crate) for the guarantees and an example.
pub struct Wal {
    shared: Arc<Shared>,
    flusher: Option<JoinHandle<()>>,
}

struct Shared {
    fs: Arc<dyn Fs>,
    dir: PathBuf,
    options: WalOptions,
    state: Mutex<State>,
    /// Group outcomes and leadership hand-over.
    commit_cv: Condvar,
    /// Wakes the [`Durability::Batch`] flusher.
    flush_cv: Condvar,
    /// The leader's file state; held during group I/O.
    io: Mutex<Writer>,
    /// Serialises file removal with replay's snapshot of the file list.
    files_lock: Mutex<()>,
    durable: AtomicU64,
    last: AtomicU64,
    syncs: AtomicU64,
    writes: AtomicU64,
    rotations: AtomicU64,
    poisoned: AtomicBool,
}

struct State {
    pending: Pending,
    /// A cleared buffer kept for the next group.
    spare: Vec<u8>,
    leader: bool,
    poison: Option<String>,
    /// Every file of the log, oldest first; the last is the active one.
    files: Vec<FileEntry>,
    active: Arc<dyn FileHandle>,
    /// Last LSN written to the OS; every LSN up to it lies in `active` or in older files,
    /// which are synced.
    written: Lsn,
    /// When the first write not yet synced happened ([`Durability::Batch`]).
    dirty_since: Option<Instant>,
    shutdown: bool,
}

#[derive(Debug, Clone)]
struct FileEntry {
    first_lsn: Lsn,
    path: PathBuf,
    len: u64,
}

/// Frames waiting for a leader.
struct Pending {
    buf: Vec<u8>,
    frames: Vec<(usize, Body)>,
    records: u64,
    group: Arc<Group>,
}

impl Pending {
    fn new(buf: Vec<u8>) -> Self {
        Pending {
            buf,
            frames: Vec::new(),
            records: 0,
            group: Arc::new(Group::default()),
        }
    }
}

/// The outcome of one group: the LSN of its first record, or why it failed.
#[derive(Default)]
struct Group {
    outcome: OnceLock<Result<Lsn, Arc<Error>>>,
}

/// The active file, as the leader sees it.
struct Writer {
    file: Arc<dyn FileHandle>,
    path: PathBuf,
    salt: u64,
    /// Where the next frame goes.
    end: u64,
    next_lsn: Lsn,
}

/// A new, published WAL file.
struct NewFile {
    file: Arc<dyn FileHandle>,
    path: PathBuf,
    salt: u64,
}

/// Create `<first_lsn>.log` durably: write the header to a temporary file, `fsync` it,
/// rename it into place, `fsync` the directory. A failure before the rename removes the
/// temporary file and changes nothing; a failure of the directory sync is returned with
/// `true` (the writer must be poisoned: the new name may or may not survive a crash).
fn create_file(fs: &dyn Fs, dir: &Path, first_lsn: Lsn) -> Result<NewFile, (Error, bool)> {
    let path = dir.join(file_name(first_lsn));
    let tmp = temp_path(&path);
    let salt = loop {
        let s: u64 = rand::random();
        if s != 0 {
            break s;
        }
    };
    let header = WalHeader::new(salt, first_lsn);
    let written = fs
        .open(&tmp, OpenOptions::create_truncate())
        .at("create", &tmp)
        .and_then(|f| {
            f.write_all_at(header.as_bytes(), 0).at("write", &tmp)?;
            f.sync_all().at("sync", &tmp)?;
            Ok(f)
        })
        .and_then(|f| {
            fs.rename(&tmp, &path).at("rename", &tmp)?;
            Ok(f)
        });
    let file = match written {
        Ok(f) => f,
        Err(e) => {
            // Best effort: a leftover temporary file is removed at the next open.
            let _ = fs.remove_file(&tmp);
            return Err((e.into(), false));
        }
    };
    fs.sync_dir(dir)
        .at("sync directory", dir)
        .map_err(|e| (e.into(), true))?;
    Ok(NewFile { file, path, salt })
}

impl Wal {
    /// Open the log in `dir` (created when missing), recovering it: every file is read and
    /// checked; a torn tail of the newest file is truncated (and reported); other damage is
    /// [`Error::Corrupted`] unless `options.recovery` is
    /// [`RecoveryMode::SalvagePrefix`](crate::RecoveryMode::SalvagePrefix). Leftover
    /// temporary files are removed. Everything the log holds — records and file names — is
    /// durable when this returns.
    ///
    /// With [`WalOptions::min_next_lsn`], a log that ends below it is restarted there (its
    /// files removed, a new file started at that LSN; see the option).
    ///
    /// Opening is idempotent: if it fails half-way (an I/O error), opening again finishes
    /// the job.
    pub fn open(fs: Arc<dyn Fs>, dir: &Path, options: WalOptions) -> Result<(Wal, RecoveryReport)> {
        // A new directory is durable once its parent is synced: sync the parent of every
        // directory created here (and of `dir` itself, which a crashed earlier open may
        // have created without syncing).
        let mut created = Vec::new();
        let mut p = dir;
        while !fs.exists(p).at("stat", p)? {
            created.push(p);
            match p.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => p = parent,
                _ => break,
            }
        }
        fs.create_dir_all(dir).at("create directory", dir)?;
        if created.is_empty() {
            sync_parent_dir(&*fs, dir)?;
        }
        for d in created.iter().rev() {
            sync_parent_dir(&*fs, d)?;
        }
        // Leftovers of an interrupted rotation (their removal is made durable by the
        // directory sync below).
        for name in recovery::list(&*fs, dir)?.temps {
            let path = dir.join(name);
            fs.remove_file(&path).at("remove temporary file", &path)?;
        }
        let mut plan = recovery::scan_dir::<Error>(
            &*fs,
            dir,
            options.recovery,
            options.max_record_bytes,
            Lsn::MAX,
            &mut |_, _| Ok(()),
        )?;
        for path in &plan.delete {
            fs.remove_file(path).at("remove", path)?;
            fs.sync_dir(dir).at("sync directory", dir)?;
        }
        let mut report = plan.report();
        if plan.next_lsn < options.min_next_lsn {
            // Everything the log holds is below `min_next_lsn`, which the caller has
            // covered: drop it (oldest first, so a crash leaves a contiguous log, and
            // opening again finishes the job) and start over at `min_next_lsn`.
            for k in &plan.kept {
                fs.remove_file(&k.path).at("remove", &k.path)?;
                fs.sync_dir(dir).at("sync directory", dir)?;
            }
            plan.kept.clear();
            plan.next_lsn = options.min_next_lsn;
            report = RecoveryReport {
                files: 1,
                records: 0,
                first_lsn: 0,
                last_lsn: options.min_next_lsn - 1,
                discarded_records: plan.records,
                ..report
            };
            plan.records = 0;
        }
        let mut files: Vec<FileEntry> = plan
            .kept
            .iter()
            .map(|k| FileEntry {
                first_lsn: k.first_lsn,
                path: k.path.clone(),
                len: k.valid_end,
            })
            .collect();
        let writer = match plan.kept.last() {
            Some(k) => {
                let file = fs
                    .open(&k.path, OpenOptions::read_write())
                    .at("open", &k.path)?;
                if k.valid_end != k.len {
                    file.set_len(k.valid_end).at("truncate", &k.path)?;
                }
                // What a crashed writer left unsynced is durable from now on.
                file.sync_all().at("sync", &k.path)?;
                Writer {
                    file,
                    path: k.path.clone(),
                    salt: k.salt,
                    end: k.valid_end,
                    next_lsn: plan.next_lsn,
                }
            }
            None => {
                let new = create_file(&*fs, dir, plan.next_lsn).map_err(|(e, _)| e)?;
                files.push(FileEntry {
                    first_lsn: plan.next_lsn,
                    path: new.path.clone(),
                    len: HEADER,
                });
                Writer {
                    file: new.file,
                    path: new.path,
                    salt: new.salt,
                    end: HEADER,
                    next_lsn: plan.next_lsn,
                }
            }
        };
        // Every file the log now consists of must be durably named before anything is
        // acknowledged into it: a crashed (or poisoned) writer may have renamed the newest
        // file into place without the directory sync that makes the rename durable.
        fs.sync_dir(dir).at("sync directory", dir)?;
        let last = writer.next_lsn - 1;
        let shared = Arc::new(Shared {
            fs,
            dir: dir.to_path_buf(),
            state: Mutex::new(State {
                pending: Pending::new(Vec::new()),
                spare: Vec::new(),
                leader: false,
                poison: None,
                files,
                active: Arc::clone(&writer.file),
                written: last,
                dirty_since: None,
                shutdown: false,
            }),
            commit_cv: Condvar::new(),
            flush_cv: Condvar::new(),
            io: Mutex::new(writer),
            files_lock: Mutex::new(()),
            durable: AtomicU64::new(last),
            last: AtomicU64::new(last),
            syncs: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            rotations: AtomicU64::new(0),
            poisoned: AtomicBool::new(false),
            options,
        });
        let flusher = match shared.options.durability {
            Durability::Batch { .. } => {
                let s = Arc::clone(&shared);
                Some(
                    std::thread::Builder::new()
                        .name("mnemodb-wal-flush".into())
                        .spawn(move || s.flusher())
                        .map_err(|e| {
                            Error::Io(mnemodb_io::Error::Io {
                                path: dir.to_path_buf(),
                                op: "start the WAL flusher thread",
                                source: e,
                            })
                        })?,
                )
            }
            Durability::Sync | Durability::Buffered => None,
        };
        Ok((Wal { shared, flusher }, report))
    }

    /// Append one record; returns its LSN once it is durable as the
    /// [`Durability`] mode promises.
    pub fn append(&self, payload: &[u8]) -> Result<Lsn> {
        Ok(*self.append_batch(&[payload])?.start())
    }

    /// Append several records atomically (one frame): after any crash, all of them or none
    /// are replayed. Returns their LSNs. [`Error::EmptyBatch`] for no payloads.
    pub fn append_batch(&self, payloads: &[&[u8]]) -> Result<RangeInclusive<Lsn>> {
        let body = Body::prepare(payloads, self.shared.options.max_record_bytes)?;
        self.shared.commit(body, payloads)
    }

    /// Make every record appended so far durable (`fsync`), whatever the durability mode.
    pub fn flush(&self) -> Result<()> {
        self.shared.flush()
    }

    /// LSN of the last record appended (written to the OS); 0 for an empty new log.
    pub fn last_lsn(&self) -> Lsn {
        self.shared.last.load(Ordering::Acquire)
    }

    /// LSN of the last record known durable.
    pub fn durable_lsn(&self) -> Lsn {
        self.shared.durable.load(Ordering::Acquire)
    }

    /// Call `f` with every record of LSN ≥ `from`, in order, as of the call (records
    /// appended meanwhile may or may not be included). Works while other threads append;
    /// files removed by [`Wal::truncate_before`] meanwhile stay readable. Records below the
    /// oldest file are gone: the first record seen may be above `from`.
    pub fn replay(&self, from: Lsn, f: impl FnMut(Lsn, &[u8]) -> Result<()>) -> Result<()> {
        self.replay_with(from, f)
    }

    /// [`replay`](Self::replay) with a callback returning the caller's own error type `E`
    /// (any type a WAL [`Error`] converts into): the first error `f` returns stops the
    /// replay and is returned as is; WAL errors arrive converted.
    pub fn replay_with<E: From<Error>>(
        &self,
        from: Lsn,
        mut f: impl FnMut(Lsn, &[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let s = &self.shared;
        let snapshot = {
            let _files = s.files_lock.lock();
            let files = s.state.lock().files.clone();
            let mut out = Vec::with_capacity(files.len());
            for (i, e) in files.iter().enumerate() {
                if files.get(i + 1).is_some_and(|next| next.first_lsn <= from) {
                    continue;
                }
                let h =
                    s.fs.open(&e.path, OpenOptions::read())
                        .at("open", &e.path)
                        .map_err(Error::from)?;
                out.push((e.clone(), h));
            }
            out
        };
        let max = s.options.max_record_bytes;
        let mut expected: Option<Lsn> = None;
        for (e, handle) in snapshot {
            let header = read_header(&handle, &e.path, e.len)?;
            if header.first_lsn != e.first_lsn || expected.is_some_and(|x| x != e.first_lsn) {
                return Err(E::from(Error::corrupted(
                    &e.path,
                    WalHeader::FIRST_LSN_OFFSET,
                    format!(
                        "file starts at LSN {}, expected {}",
                        header.first_lsn,
                        expected.unwrap_or(e.first_lsn)
                    ),
                )));
            }
            let mut src = FileSource::new(handle, e.path.clone(), e.len);
            let mut on_frame = |fr: &crate::frame::FrameRef<'_>| -> Result<(), E> {
                if fr.last_lsn() >= from {
                    for (lsn, payload) in fr.entries() {
                        if lsn >= from {
                            f(lsn, payload)?;
                        }
                    }
                }
                Ok(())
            };
            let scan = scan_frames(&mut src, header.salt, header.first_lsn, max, &mut on_frame)?;
            match scan.tail {
                Tail::Clean => {}
                Tail::Torn { offset, what } | Tail::Corrupt { offset, what } => {
                    return Err(E::from(Error::corrupted(
                        &e.path,
                        offset,
                        format!("{what} (the file changed after it was recovered)"),
                    )));
                }
            }
            expected = Some(scan.next_lsn);
        }
        Ok(())
    }

    /// Delete every whole file whose records all have LSNs below `lsn`, oldest first, each
    /// removal followed by a directory `fsync` (so a crash leaves a contiguous log). Never
    /// removes the active file or a file holding an LSN ≥ `lsn`. Returns how many files were
    /// removed.
    pub fn truncate_before(&self, lsn: Lsn) -> Result<usize> {
        let s = &self.shared;
        let _files = s.files_lock.lock();
        let mut removed = 0;
        loop {
            let victim = {
                let st = s.state.lock();
                match (st.files.first(), st.files.get(1)) {
                    (Some(old), Some(next)) if next.first_lsn <= lsn => old.path.clone(),
                    _ => break,
                }
            };
            s.fs.remove_file(&victim).at("remove", &victim)?;
            s.state.lock().files.remove(0);
            if let Err(e) = s.fs.sync_dir(&s.dir).at("sync directory", &s.dir) {
                s.poison(e.to_string());
                return Err(e.into());
            }
            removed += 1;
        }
        Ok(removed)
    }

    /// Start a new file now when the active one holds records, so that
    /// [`truncate_before`](Self::truncate_before) can then remove every record below the
    /// next LSN (the engine's erase path: no byte of an erased record may stay behind).
    pub fn rotate(&self) -> Result<()> {
        let s = &self.shared;
        let mut w = s.io.lock();
        if w.end > HEADER {
            s.rotate(&mut w)?;
        }
        Ok(())
    }

    /// The log's directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// A snapshot of the log's state.
    pub fn stats(&self) -> WalStats {
        let s = &self.shared;
        let st = s.state.lock();
        WalStats {
            files: st.files.len(),
            bytes: st.files.iter().map(|f| f.len).sum(),
            first_lsn: match st.files.first() {
                Some(f) if st.written >= f.first_lsn => f.first_lsn,
                _ => 0,
            },
            last_lsn: st.written,
            durable_lsn: s.durable.load(Ordering::Acquire),
            syncs: s.syncs.load(Ordering::Relaxed),
            writes: s.writes.load(Ordering::Relaxed),
            rotations: s.rotations.load(Ordering::Relaxed),
            poisoned: st.poison.is_some(),
        }
    }
}

impl Shared {
    /// Queue a prepared frame and wait for its group's outcome, leading the group when
    /// nobody else is.
    fn commit(&self, body: Body, payloads: &[&[u8]]) -> Result<RangeInclusive<Lsn>> {
        let count = u64::from(body.count);
        let mut st = self.state.lock();
        if let Some(cause) = &st.poison {
            return Err(Error::Poisoned {
                cause: cause.clone(),
            });
        }
        let group = Arc::clone(&st.pending.group);
        let rel = st.pending.records;
        let offset = st.pending.buf.len();
        body.write_unsealed(&mut st.pending.buf, payloads);
        st.pending.frames.push((offset, body));
        st.pending.records += count;
        loop {
            if let Some(outcome) = group.outcome.get() {
                return match outcome {
                    Ok(base) => Ok(base + rel..=base + rel + count - 1),
                    Err(e) => Err(e.duplicate()),
                };
            }
            if !st.leader && Arc::ptr_eq(&st.pending.group, &group) {
                st.leader = true;
                let fresh = Pending::new(std::mem::take(&mut st.spare));
                let batch = std::mem::replace(&mut st.pending, fresh);
                MutexGuard::unlocked(&mut st, || self.lead(batch));
                continue;
            }
            self.commit_cv.wait(&mut st);
        }
    }

    /// Write (and in `Sync` mode sync) one group, then publish its outcome.
    fn lead(&self, mut batch: Pending) {
        let mut w = self.io.lock();
        let outcome = self.write_group(&mut w, &mut batch).map_err(Arc::new);
        let mut st = self.state.lock();
        st.leader = false;
        // The group is set exactly once, here.
        let _ = batch.group.outcome.set(outcome);
        batch.buf.clear();
        if batch.buf.capacity() > st.spare.capacity() {
            st.spare = batch.buf;
        }
        drop(st);
        drop(w);
        self.commit_cv.notify_all();
    }

    fn write_group(&self, w: &mut Writer, batch: &mut Pending) -> Result<Lsn> {
        if self.poisoned.load(Ordering::Acquire) {
            return Err(self.poisoned_error());
        }
        let total = batch.buf.len() as u64;
        if w.end > HEADER && w.end.saturating_add(total) > self.options.max_file_bytes {
            self.rotate(w)?;
        }
        let base = w.next_lsn;
        let synced = self.durable.load(Ordering::Acquire);
        let mut lsn = base;
        for (offset, body) in &batch.frames {
            if let Some(frame) = batch.buf.get_mut(*offset..*offset + body.len as usize) {
                body.seal(frame, w.salt, lsn, synced);
            }
            lsn += u64::from(body.count);
        }
        if let Err(source) = w.file.write_all_at(&batch.buf, w.end) {
            let err = mnemodb_io::Error::Io {
                path: w.path.clone(),
                op: "write",
                source,
            };
            // Never append after a partial write (RELIABILITY pitfall 12): cut it off, so
            // the next group goes where this one should have.
            if let Err(cut) = w.file.set_len(w.end) {
                self.poison(format!(
                    "{err}; cutting the partial write off failed too: {cut}"
                ));
            }
            return Err(err.into());
        }
        self.writes.fetch_add(1, Ordering::Relaxed);
        w.end += total;
        w.next_lsn = lsn;
        let last = lsn - 1;
        self.last.store(last, Ordering::Release);
        {
            let mut st = self.state.lock();
            st.written = last;
            if let Some(f) = st.files.last_mut() {
                f.len = w.end;
            }
            if matches!(self.options.durability, Durability::Batch { .. })
                && st.dirty_since.is_none()
            {
                st.dirty_since = Some(Instant::now());
                self.flush_cv.notify_all();
            }
        }
        if self.options.durability == Durability::Sync {
            self.sync_file(&w.file, &w.path, last)?;
        }
        Ok(base)
    }

    /// Start a new file at `w.next_lsn`: sync the old one completely (so older files never
    /// hold unsynced bytes), then create the new one durably.
    fn rotate(&self, w: &mut Writer) -> Result<()> {
        self.sync_file(&w.file, &w.path, w.next_lsn - 1)?;
        let new = create_file(&*self.fs, &self.dir, w.next_lsn).map_err(|(e, poison)| {
            if poison {
                self.poison(e.to_string());
            }
            e
        })?;
        self.rotations.fetch_add(1, Ordering::Relaxed);
        w.file = new.file;
        w.path = new.path;
        w.salt = new.salt;
        w.end = HEADER;
        let mut st = self.state.lock();
        st.files.push(FileEntry {
            first_lsn: w.next_lsn,
            path: w.path.clone(),
            len: HEADER,
        });
        st.active = Arc::clone(&w.file);
        Ok(())
    }

    /// `fsync` `file`; on success everything up to `upto` is durable, on failure the
    /// writer is poisoned (pitfall 9: the watermark moves only after a successful sync).
    fn sync_file(&self, file: &Arc<dyn FileHandle>, path: &Path, upto: Lsn) -> Result<()> {
        match file.sync_all().at("sync", path) {
            Ok(()) => {
                self.syncs.fetch_add(1, Ordering::Relaxed);
                self.durable.fetch_max(upto, Ordering::AcqRel);
                Ok(())
            }
            Err(e) => {
                self.poison(e.to_string());
                Err(e.into())
            }
        }
    }

    fn flush(&self) -> Result<()> {
        let (file, path, upto) = {
            let st = self.state.lock();
            if let Some(cause) = &st.poison {
                return Err(Error::Poisoned {
                    cause: cause.clone(),
                });
            }
            let path = st.files.last().map(|f| f.path.clone()).unwrap_or_default();
            (Arc::clone(&st.active), path, st.written)
        };
        if self.durable.load(Ordering::Acquire) >= upto {
            return Ok(());
        }
        self.sync_file(&file, &path, upto)
    }

    fn poison(&self, cause: String) {
        let mut st = self.state.lock();
        if st.poison.is_none() {
            st.poison = Some(cause);
        }
        self.poisoned.store(true, Ordering::Release);
    }

    fn poisoned_error(&self) -> Error {
        Error::Poisoned {
            cause: self.state.lock().poison.clone().unwrap_or_default(),
        }
    }

    /// The [`Durability::Batch`] background thread: syncs at most `max_delay` after the
    /// first unsynced write.
    fn flusher(&self) {
        let Durability::Batch { max_delay } = self.options.durability else {
            return;
        };
        let mut st = self.state.lock();
        loop {
            if st.shutdown {
                return;
            }
            let Some(since) = st.dirty_since else {
                self.flush_cv.wait(&mut st);
                continue;
            };
            let deadline = since + max_delay;
            if Instant::now() < deadline {
                self.flush_cv.wait_until(&mut st, deadline);
                continue;
            }
            st.dirty_since = None;
            if st.poison.is_some() {
                continue;
            }
            let file = Arc::clone(&st.active);
            let path = st.files.last().map(|f| f.path.clone()).unwrap_or_default();
            let upto = st.written;
            MutexGuard::unlocked(&mut st, || {
                // A failure poisons the writer; the next append reports it.
                let _ = self.sync_file(&file, &path, upto);
            });
        }
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        self.shared.state.lock().shutdown = true;
        self.shared.flush_cv.notify_all();
        if let Some(h) = self.flusher.take() {
            // The flusher never panics; if it did, there is nothing left to do about it.
            let _ = h.join();
        }
        if matches!(self.shared.options.durability, Durability::Batch { .. }) {
            // Best effort: a clean shutdown keeps the last interval too.
            let _ = self.shared.flush();
        }
    }
}

impl fmt::Debug for Wal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wal")
            .field("dir", &self.shared.dir)
            .field("options", &self.shared.options)
            .field("stats", &self.stats())
            .finish()
    }
}
