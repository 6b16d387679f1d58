//! Simulated power loss over the whole write path (RELIABILITY recipe (a2)).
//!
//! A seeded workload (upserts, deletes, patches, cross-collection batches, checkpoints,
//! compactions, reopens; background work inline and a small seal threshold, so seals,
//! index builds, manifest swaps and WAL truncation all happen) runs on an in-memory
//! [`MemFs`] behind a tap that, before sampled mutating calls (write, set_len, sync, rename,
//! remove, create, directory sync), takes power-loss images of the file system: exactly the
//! durable state ([`CrashMode::DropUnsynced`]) and the durable state plus a random, torn
//! and reordered subset of the unsynced changes ([`CrashMode::Random`]). Each image is
//! opened and must hold every operation acknowledged before the image (`Durability::Sync`)
//! and nothing else but, possibly, the operation in flight — all of it or none — with the
//! recovered LSN matching. Some recovered images take more writes and are reopened again.
//!
//! `MNEMODB_POWER_SEEDS` workloads (default 4) of `MNEMODB_POWER_OPS` operations (default
//! 80); `MNEMODB_POWER_STRIDE` samples every n-th mutating call (default 1: every one).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod reliability;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use mnemodb::{Database, Durability, Options};
use mnemodb_io::{CrashMode, FileHandle, Fs, LockGuard, MemFs, OpenOptions, ReadOnlyBytes};
use parking_lot::Mutex;
use reliability::{Model, Op, Workload, apply, match_any, no_panic, read_state};

const DB: &str = "/data/db";
const SEAL_ROWS: usize = 32;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn opts() -> Options {
    opts_for(true)
}

/// `Durability::Sync`, or `Durability::Buffered` (synced only by checkpoints, rotation and
/// whatever else the engine decides).
fn opts_for(sync: bool) -> Options {
    reliability::options(SEAL_ROWS, false).durability(if sync {
        Durability::Sync
    } else {
        Durability::Buffered
    })
}

/// Takes crash images of a [`MemFs`] before sampled mutating calls.
#[derive(Debug)]
struct Tap {
    fs: MemFs,
    calls: AtomicU64,
    stride: u64,
    seed: u64,
    on: AtomicBool,
    images: Mutex<Vec<Image>>,
}

#[derive(Debug)]
struct Image {
    call: u64,
    what: &'static str,
    mode: CrashMode,
    fs: MemFs,
}

impl Tap {
    fn point(&self, what: &'static str) {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if !self.on.load(Ordering::SeqCst) || !n.is_multiple_of(self.stride) {
            return;
        }
        let modes = [
            CrashMode::DropUnsynced,
            CrashMode::Random {
                seed: self.seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15),
            },
        ];
        let mut images = self.images.lock();
        for mode in modes {
            images.push(Image {
                call: n,
                what,
                mode,
                fs: self.fs.crash_image(mode),
            });
        }
    }
}

/// A [`MemFs`] whose mutating calls pass through a [`Tap`].
#[derive(Debug, Clone)]
struct TapFs {
    tap: Arc<Tap>,
}

#[derive(Debug)]
struct TapFile {
    inner: Arc<dyn FileHandle>,
    tap: Arc<Tap>,
}

impl FileHandle for TapFile {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.inner.read_exact_at(buf, offset)
    }
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.tap.point("write");
        self.inner.write_all_at(buf, offset)
    }
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.tap.point("set_len");
        self.inner.set_len(len)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.tap.point("sync_data");
        self.inner.sync_data()
    }
    fn sync_all(&self) -> io::Result<()> {
        self.tap.point("sync_all");
        self.inner.sync_all()
    }
}

impl Fs for TapFs {
    fn open(&self, path: &Path, opts: OpenOptions) -> io::Result<Arc<dyn FileHandle>> {
        if opts.write {
            self.tap.point("open");
        }
        Ok(Arc::new(TapFile {
            inner: self.tap.fs.open(path, opts)?,
            tap: Arc::clone(&self.tap),
        }))
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.tap.point("rename");
        self.tap.fs.rename(from, to)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.tap.point("remove");
        self.tap.fs.remove_file(path)
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.tap.point("mkdir");
        self.tap.fs.create_dir_all(path)
    }
    fn read_dir(&self, path: &Path) -> io::Result<Vec<OsString>> {
        self.tap.fs.read_dir(path)
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        self.tap.point("sync_dir");
        self.tap.fs.sync_dir(path)
    }
    fn exists(&self, path: &Path) -> io::Result<bool> {
        self.tap.fs.exists(path)
    }
    fn file_len(&self, path: &Path) -> io::Result<u64> {
        self.tap.fs.file_len(path)
    }
    fn map_readonly(&self, path: &Path) -> io::Result<ReadOnlyBytes> {
        self.tap.fs.map_readonly(path)
    }
    fn try_lock_exclusive(&self, path: &Path) -> io::Result<Box<dyn LockGuard>> {
        self.tap.fs.try_lock_exclusive(path)
    }
}

#[derive(Debug, Default)]
struct Tally {
    images: u64,
    reopened_further: u64,
    in_flight_landed: u64,
    /// Images that kept only a prefix of the acknowledged writes (not `Sync`).
    prefix_only: u64,
    failures: Vec<String>,
}

/// What an image may hold.
struct Expect<'a> {
    /// The model after each LSN acknowledged so far (LSN 0: the empty database).
    history: &'a BTreeMap<u64, Model>,
    acked_lsn: u64,
    in_flight: Option<&'a Op>,
    /// `Durability::Sync`: every acknowledged write survives. Otherwise any prefix may.
    sync: bool,
}

impl Expect<'_> {
    fn at(&self, lsn: u64) -> Option<Model> {
        let acked = self.history.get(&self.acked_lsn)?;
        if lsn == self.acked_lsn {
            Some(acked.clone())
        } else if lsn == self.acked_lsn + 1 {
            self.in_flight
                .filter(|op| op.writes())
                .map(|op| acked.after(op))
        } else if !self.sync && lsn < self.acked_lsn {
            self.history.get(&lsn).cloned()
        } else {
            None
        }
    }
}

/// Open `image` and check it holds what `expect` allows at its LSN. Every eighth image
/// also takes more writes and is reopened.
fn check_image(image: &Image, expect: &Expect<'_>, context: &str, tally: &mut Tally) {
    let o = opts_for(expect.sync);
    let (acked_lsn, in_flight) = (expect.acked_lsn, expect.in_flight);
    tally.images += 1;
    let desc = format!(
        "{context}, image before call {} ({}, {:?})",
        image.call, image.what, image.mode
    );
    let fs: Arc<dyn Fs> = Arc::new(image.fs.clone());
    let db = match no_panic(|| Database::open_with_fs(Arc::clone(&fs), DB, o.clone())) {
        Err(p) => return tally.failures.push(format!("{desc}: open panicked: {p}")),
        Ok(Err(e)) => return tally.failures.push(format!("{desc}: open failed: {e}")),
        Ok(Ok(db)) => db,
    };
    let actual = match no_panic(|| read_state(&db)) {
        Err(p) => {
            return tally
                .failures
                .push(format!("{desc}: reading panicked: {p}"));
        }
        Ok(Err(e)) => return tally.failures.push(format!("{desc}: inconsistent: {e}")),
        Ok(Ok(m)) => m,
    };
    let lsn = db.stats().last_lsn;
    let Some(want) = expect.at(lsn) else {
        return tally.failures.push(format!(
            "{desc}: recovered LSN {lsn}, acknowledged {acked_lsn}, in flight {in_flight:?}"
        ));
    };
    if lsn == acked_lsn + 1 {
        tally.in_flight_landed += 1;
    } else if lsn < acked_lsn {
        tally.prefix_only += 1;
    }
    if let Err(diff) = match_any(&actual, &[&want]) {
        return tally.failures.push(format!(
            "{desc}: recovered state (LSN {lsn}) differs from the acknowledged one (LSN {acked_lsn}, in flight {in_flight:?}): {diff}"
        ));
    }
    if !tally.images.is_multiple_of(8) {
        return;
    }
    // The recovered database goes on: more writes, a checkpoint, a reopen.
    tally.reopened_further += 1;
    let mut model = actual;
    for op in [
        Op::Create(0),
        Op::Create(1),
        Op::Upsert {
            ver: 77_000_000,
            ids: (100..140).collect(),
        },
        Op::Checkpoint,
        Op::Delete {
            ids: (100..110).collect(),
        },
    ] {
        match apply(&db, &op) {
            Ok(_) => model.apply(&op),
            Err(e) => {
                return tally
                    .failures
                    .push(format!("{desc}: then {op} failed: {e}"));
            }
        }
    }
    drop(db);
    let again = match Database::open_with_fs(fs, DB, o) {
        Ok(db) => read_state(&db),
        Err(e) => Err(e.to_string()),
    };
    match again {
        Ok(m) if m == model => {}
        Ok(m) => tally.failures.push(format!(
            "{desc}: after more writes and a reopen: {}",
            m.diff(&model)
        )),
        Err(e) => tally
            .failures
            .push(format!("{desc}: reopen after more writes: {e}")),
    }
}

fn run_seed(seed: u64, ops: u64, stride: u64, sync: bool, tally: &mut Tally) {
    let o = opts_for(sync);
    let tap = Arc::new(Tap {
        fs: MemFs::new(),
        calls: AtomicU64::new(0),
        stride,
        seed,
        on: AtomicBool::new(true),
        images: Mutex::new(Vec::new()),
    });
    let fs: Arc<dyn Fs> = Arc::new(TapFs {
        tap: Arc::clone(&tap),
    });
    let mut model = Model::default();
    let mut acked_lsn = 0;
    let mut history = BTreeMap::from([(0, Model::default())]);
    let mut w = Workload::new(seed, 1);
    w.mix = [56, 12, 6, 6, 6, 6, 4, 2, 2];
    let mut script = vec![Op::Reopen, Op::Create(0), Op::Create(1)];
    let mut db: Option<Database> = None;
    for i in 0..ops + 3 {
        let op = match script.get(i as usize) {
            Some(op) => op.clone(),
            None => {
                let op = w.next(&|id| model.has_vec(id));
                script.push(op.clone());
                op
            }
        };
        let r = if op == Op::Reopen {
            db = None;
            Database::open_with_fs(Arc::clone(&fs), DB, o.clone()).map(|d| {
                db = Some(d);
                None
            })
        } else {
            apply(db.as_ref().unwrap(), &op)
        };
        let lsn = match r {
            Ok(lsn) => lsn,
            Err(e) => panic!("seed {seed}: op {i} ({op}) failed: {e}"),
        };
        let images = std::mem::take(&mut *tap.images.lock());
        tap.on.store(false, Ordering::SeqCst);
        let context = format!("seed {seed} op {i} ({op})");
        let expect = Expect {
            history: &history,
            acked_lsn,
            in_flight: Some(&op),
            sync,
        };
        for image in &images {
            check_image(image, &expect, &context, tally);
        }
        tap.on.store(true, Ordering::SeqCst);
        model.apply(&op);
        if let Some(l) = lsn {
            acked_lsn = l;
            history.insert(l, model.clone());
        }
        if tally.failures.len() > 20 {
            return;
        }
    }
    // Finally: a crash right after the last acknowledgement loses nothing.
    for mode in [CrashMode::DropUnsynced, CrashMode::Random { seed }] {
        let image = Image {
            call: tap.calls.load(Ordering::SeqCst),
            what: "end",
            mode,
            fs: tap.fs.crash_image(mode),
        };
        let expect = Expect {
            history: &history,
            acked_lsn,
            in_flight: None,
            sync,
        };
        check_image(&image, &expect, &format!("seed {seed} end"), tally);
    }
}

fn run(name: &str, sync: bool, default_seeds: u64) {
    let base = mnemodb_testkit::test_seed(name);
    let seeds = env_u64("MNEMODB_POWER_SEEDS", default_seeds);
    let ops = env_u64("MNEMODB_POWER_OPS", 80);
    let stride = env_u64("MNEMODB_POWER_STRIDE", 1).max(1);
    let started = std::time::Instant::now();
    let mut tally = Tally::default();
    for s in 0..seeds {
        run_seed(base.wrapping_add(s), ops, stride, sync, &mut tally);
        if !tally.failures.is_empty() {
            break;
        }
    }
    let line = format!(
        "POWERLOSS durability={} seeds={seeds} ops={ops} images={} in_flight_landed={} prefix_only={} reopened_further={} failures={} seed={base} secs={:.1}",
        if sync { "sync" } else { "buffered" },
        tally.images,
        tally.in_flight_landed,
        tally.prefix_only,
        tally.reopened_further,
        tally.failures.len(),
        started.elapsed().as_secs_f64()
    );
    println!("{line}");
    assert!(
        tally.failures.is_empty(),
        "{line}\n{}",
        tally.failures.join("\n")
    );
}

#[test]
fn power_loss_keeps_every_acknowledged_write() {
    run("power_loss_sync", true, 4);
}

/// Without `Sync`, a power loss may lose acknowledged writes, but what remains is the
/// state at some earlier LSN — across the WAL, checkpoints and sealed segments alike — and
/// the database goes on from there.
#[test]
fn power_loss_without_sync_keeps_a_consistent_prefix() {
    run("power_loss_buffered", false, 2);
}

/// Dropping a collection (and re-creating one of the same name) must not make the log
/// unreplayable when another collection keeps the WAL start below the drop: replay meets
/// the dropped incarnation's creation, writes and drop after the manifest already lists
/// the new incarnation (regression: `CollectionExists` / "write to unknown collection id"
/// at open).
#[test]
fn dropped_collections_replay_cleanly() {
    use mnemodb::{CollectionConfig, Metric, Record};
    let fs = MemFs::new();
    let o = reliability::options(4, false).durability(Durability::Sync);
    let open = |fs: &MemFs| Database::open_with_fs(Arc::new(fs.clone()), DB, o.clone());
    let db = open(&fs).unwrap();
    let mut model = Model::default();
    for op in [Op::Create(0), Op::Create(1)] {
        apply(&db, &op).unwrap();
        model.apply(&op);
    }
    let other = db
        .create_collection(CollectionConfig::new("other", 8, Metric::L2))
        .unwrap();
    db.checkpoint().unwrap();
    // `vecs` gets one row, never sealed (4 rows would be): the WAL start stays below
    // everything after.
    let steps = [
        Op::Upsert {
            ver: 1,
            ids: vec![1],
        },
        Op::Cross {
            ver: 2,
            ids: vec![],
            doc: 5,
            del: 6,
        },
        Op::DropDocs,
        Op::Create(1),
        Op::Cross {
            ver: 3,
            ids: vec![],
            doc: 7,
            del: 8,
        },
        Op::DropDocs,
        Op::Create(1),
        Op::Cross {
            ver: 4,
            ids: vec![],
            doc: 9,
            del: 8,
        },
    ];
    for (i, op) in steps.iter().enumerate() {
        apply(&db, op).unwrap();
        model.apply(op);
        // A seal of `other` writes a manifest listing the current `docs` incarnation.
        let rows = (0..4u64)
            .map(|r| Record::new(r, reliability::vec_for(r, i as u64)))
            .collect();
        other.upsert(rows).unwrap();
    }
    drop((other, db));
    let check = |fs: &MemFs, what: &str| {
        let db = open(fs).unwrap_or_else(|e| panic!("{what}: {e}"));
        let got = read_state(&db).unwrap();
        assert_eq!(got, model, "{what}: {}", got.diff(&model));
        assert_eq!(db.collection("other").unwrap().count(), 4, "{what}");
    };
    check(&fs, "reopen");
    check(&fs.crash_image(CrashMode::DropUnsynced), "power loss");
    check(&fs, "second reopen");
}

/// A backup is durable once `backup` returns: a power loss right after keeps all of it.
#[test]
fn backup_survives_power_loss() {
    let fs = MemFs::new();
    let db = Database::open_with_fs(Arc::new(fs.clone()), DB, opts()).unwrap();
    let mut model = Model::default();
    let mut w = Workload::new(7, 1);
    w.mix = [70, 15, 5, 5, 3, 2, 0, 0, 0];
    for op in [Op::Create(0), Op::Create(1)] {
        apply(&db, &op).unwrap();
        model.apply(&op);
    }
    for _ in 0..60 {
        let op = w.next(&|id| model.has_vec(id));
        apply(&db, &op).unwrap();
        model.apply(&op);
    }
    db.backup("/backups/copy").unwrap();
    drop(db);
    for mode in [CrashMode::DropUnsynced, CrashMode::Random { seed: 3 }] {
        let image: Arc<dyn Fs> = Arc::new(fs.crash_image(mode));
        let copy = Database::open_with_fs(image, "/backups/copy", opts())
            .unwrap_or_else(|e| panic!("{mode:?}: the backup does not open: {e}"));
        let got = read_state(&copy).unwrap();
        assert_eq!(got, model, "{mode:?}: {}", got.diff(&model));
    }
}
