//! (a2) Simulated power loss: a seeded workload runs on `MemFs`; at every sync point
//! (just before each `fsync` of a file or directory) crash images are built — the durable
//! state only, and durable state plus random subsets of the unsynced writes, torn at
//! sectors — and each image is recovered and checked against what was acknowledged by then.
//! Then the recovery itself is failed at its Nth I/O and rerun (it must be idempotent).
use std::ffi::OsString;
use std::io;
use std::ops::RangeInclusive;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use mnemodb_io::{
    CrashMode, FaultController, FaultOp, FaultyFs, FileHandle, Fs, InjectedError, LockGuard, MemFs,
    OpenOptions, ReadOnlyBytes,
};
use mnemodb_wal::{Durability, Lsn, Wal, WalOptions};
use parking_lot::Mutex;
use rand::{Rng, SeedableRng, rngs::StdRng};

use crate::{payload_for, soak};

const DIR: &str = "/db/wal";
const MAX_PAYLOAD: usize = 200;

/// What the workload has done so far (updated right after each call returns).
#[derive(Debug, Default, Clone)]
struct Tracker {
    /// Highest LSN acknowledged by a successful append.
    max_acked: Lsn,
    /// Highest LSN handed to an append that has started.
    max_attempted: Lsn,
    /// Highest durable LSN the writer reported.
    durable: Lsn,
    /// Highest LSN passed to a `truncate_before` that has started.
    truncate_floor: Lsn,
    /// Every batch attempted.
    batches: Vec<RangeInclusive<Lsn>>,
}

type Hook = Arc<dyn Fn() + Send + Sync>;

/// A file system that calls `hook` before every sync of a file or a directory.
#[derive(Clone)]
struct HookFs {
    inner: MemFs,
    hook: Hook,
}

impl std::fmt::Debug for HookFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HookFs")
    }
}

struct HookFile {
    inner: Arc<dyn FileHandle>,
    hook: Hook,
}

impl std::fmt::Debug for HookFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HookFile")
    }
}

impl FileHandle for HookFile {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.inner.read_exact_at(buf, offset)
    }
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.inner.write_all_at(buf, offset)
    }
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.inner.set_len(len)
    }
    fn sync_data(&self) -> io::Result<()> {
        (self.hook)();
        self.inner.sync_data()
    }
    fn sync_all(&self) -> io::Result<()> {
        (self.hook)();
        self.inner.sync_all()
    }
}

impl Fs for HookFs {
    fn open(&self, path: &Path, opts: OpenOptions) -> io::Result<Arc<dyn FileHandle>> {
        Ok(Arc::new(HookFile {
            inner: self.inner.open(path, opts)?,
            hook: Arc::clone(&self.hook),
        }))
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.inner.rename(from, to)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.inner.remove_file(path)
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.inner.create_dir_all(path)
    }
    fn read_dir(&self, path: &Path) -> io::Result<Vec<OsString>> {
        self.inner.read_dir(path)
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        (self.hook)();
        self.inner.sync_dir(path)
    }
    fn exists(&self, path: &Path) -> io::Result<bool> {
        self.inner.exists(path)
    }
    fn file_len(&self, path: &Path) -> io::Result<u64> {
        self.inner.file_len(path)
    }
    fn map_readonly(&self, path: &Path) -> io::Result<ReadOnlyBytes> {
        self.inner.map_readonly(path)
    }
    fn try_lock_exclusive(&self, path: &Path) -> io::Result<Box<dyn LockGuard>> {
        self.inner.try_lock_exclusive(path)
    }
}

/// Totals over all checked images.
#[derive(Debug, Default)]
struct Totals {
    points: u64,
    images: u64,
    truncated: u64,
}

/// Recover `image` and check it against `t` (what had happened before the crash). Returns
/// the recovered LSN range and whether a tail was cut.
fn check_image(image: &MemFs, t: &Tracker, sync_mode: bool, what: &str) -> (Lsn, Lsn, bool) {
    let dir = Path::new(DIR);
    if !image.exists(dir).unwrap() {
        // The crash came before the log directory was durable: nothing was acknowledged.
        assert_eq!(t.max_acked, 0, "{what}: log directory lost");
        return (0, 0, false);
    }
    let fs: Arc<dyn Fs> = Arc::new(image.clone());
    let (wal, report) = Wal::open(Arc::clone(&fs), dir, WalOptions::default())
        .unwrap_or_else(|e| panic!("{what}: recovery failed: {e}\n{t:?}"));
    let mut got: Vec<(Lsn, Vec<u8>)> = Vec::new();
    wal.replay(0, |lsn, p| {
        got.push((lsn, p.to_vec()));
        Ok(())
    })
    .unwrap();
    let first = got.first().map_or(report.last_lsn + 1, |r| r.0);
    let last = report.last_lsn;
    assert_eq!(got.len() as u64, last + 1 - first, "{what}: holes");
    for (i, (lsn, p)) in got.iter().enumerate() {
        assert_eq!(*lsn, first + i as u64, "{what}: LSNs not contiguous");
        assert_eq!(
            *p,
            payload_for(*lsn, MAX_PAYLOAD),
            "{what}: record {lsn} differs"
        );
    }
    assert!(
        last <= t.max_attempted,
        "{what}: invented records (last {last})"
    );
    let must_have = if sync_mode { t.max_acked } else { t.durable };
    assert!(
        last >= must_have,
        "{what}: lost acknowledged records: recovered up to {last}, acked {must_have}"
    );
    assert!(
        first <= t.truncate_floor.max(1) || got.is_empty(),
        "{what}: records at or above the truncation point {} are gone (first {first})",
        t.truncate_floor
    );
    for b in &t.batches {
        assert!(
            !(b.start() <= &last && &last < b.end()),
            "{what}: half of batch {b:?} recovered (last {last})"
        );
    }
    // What recovery did is durable, and so is a record acknowledged right after it (the
    // file it goes into may come from a rotation the crash interrupted): recovering a
    // power loss now changes nothing and loses nothing.
    let probe = payload_for(last + 1, MAX_PAYLOAD);
    assert_eq!(wal.append(&probe).unwrap(), last + 1, "{what}");
    drop(wal);
    let again = image.crash_image(CrashMode::DropUnsynced);
    let (wal2, report2) = Wal::open(Arc::new(again), dir, WalOptions::default())
        .unwrap_or_else(|e| panic!("{what}: second recovery failed: {e}"));
    assert_eq!(
        report2.last_lsn,
        last + 1,
        "{what}: recovery or the record acknowledged after it is not durable"
    );
    assert_eq!(report2.truncated_bytes, 0, "{what}: tail cut twice");
    drop(wal2);
    (first, last, report.truncated_bytes > 0)
}

/// Run a seeded workload, checking `images` crash images at every sync point.
fn run_workload(seed: u64, durability: Durability, ops: usize, images: u64) -> Totals {
    let mem = MemFs::new();
    let tracker = Arc::new(Mutex::new(Tracker::default()));
    let totals = Arc::new(Mutex::new(Totals::default()));
    let sync_mode = durability == Durability::Sync;
    let hook: Hook = {
        let mem = mem.clone();
        let tracker = Arc::clone(&tracker);
        let totals = Arc::clone(&totals);
        Arc::new(move || {
            let t = tracker.lock().clone();
            let point = {
                let mut tot = totals.lock();
                tot.points += 1;
                tot.points
            };
            for i in 0..images {
                let mode = if i == 0 {
                    CrashMode::DropUnsynced
                } else {
                    CrashMode::Random {
                        seed: seed.wrapping_mul(1_000_003) ^ (point << 8) ^ i,
                    }
                };
                let image = mem.crash_image(mode);
                let what = format!("seed {seed} {durability:?} point {point} {mode:?}");
                let (_, _, cut) = check_image(&image, &t, sync_mode, &what);
                let mut tot = totals.lock();
                tot.images += 1;
                tot.truncated += u64::from(cut);
            }
        })
    };
    let fs: Arc<dyn Fs> = Arc::new(HookFs {
        inner: mem.clone(),
        hook,
    });
    let dir = Path::new(DIR);
    let options = WalOptions {
        durability,
        max_file_bytes: 2048,
        ..WalOptions::default()
    };
    let mut rng = StdRng::seed_from_u64(seed);
    let mut wal = Some(Wal::open(Arc::clone(&fs), dir, options.clone()).unwrap().0);
    for _ in 0..ops {
        let w = wal.as_ref().unwrap();
        let next = w.last_lsn() + 1;
        match rng.random_range(0..100) {
            0..70 => {
                tracker.lock().max_attempted = next;
                let lsn = w.append(&payload_for(next, MAX_PAYLOAD)).unwrap();
                assert_eq!(lsn, next);
            }
            70..85 => {
                let n = rng.random_range(2..=5u64);
                let payloads: Vec<Vec<u8>> = (next..next + n)
                    .map(|l| payload_for(l, MAX_PAYLOAD))
                    .collect();
                let refs: Vec<&[u8]> = payloads.iter().map(|p| &p[..]).collect();
                {
                    let mut t = tracker.lock();
                    t.max_attempted = next + n - 1;
                    t.batches.push(next..=next + n - 1);
                }
                assert_eq!(w.append_batch(&refs).unwrap(), next..=next + n - 1);
            }
            85..90 => w.flush().unwrap(),
            90..95 => {
                let lsn = next.saturating_sub(rng.random_range(0..40));
                {
                    let mut t = tracker.lock();
                    t.truncate_floor = t.truncate_floor.max(lsn);
                }
                w.truncate_before(lsn).unwrap();
            }
            _ => {
                drop(wal.take());
                wal = Some(Wal::open(Arc::clone(&fs), dir, options.clone()).unwrap().0);
            }
        }
        let w = wal.as_ref().unwrap();
        let mut t = tracker.lock();
        t.max_acked = w.last_lsn();
        t.durable = t.durable.max(w.durable_lsn());
    }
    drop(wal);
    let t = tracker.lock().clone();
    let final_image = mem.crash_image(CrashMode::DropUnsynced);
    check_image(&final_image, &t, sync_mode, &format!("seed {seed} final"));
    std::mem::take(&mut *totals.lock())
}

#[test]
fn power_loss_at_every_sync_point_sync_mode() {
    let base = mnemodb_testkit::test_seed("power_loss_sync");
    let mut all = Totals::default();
    for s in 0..20 * soak() {
        let t = run_workload(base.wrapping_add(s), Durability::Sync, 150, 5);
        all.points += t.points;
        all.images += t.images;
        all.truncated += t.truncated;
    }
    println!("CRASH sync: {all:?}");
    assert!(all.points > 2000, "{all:?}");
    assert!(all.truncated > 0, "no image had a torn tail: {all:?}");
}

#[test]
fn power_loss_at_every_sync_point_batch_and_buffered() {
    let base = mnemodb_testkit::test_seed("power_loss_lazy");
    let mut all = Totals::default();
    for s in 0..10 * soak() {
        let durability = if s % 2 == 0 {
            Durability::Buffered
        } else {
            Durability::Batch {
                max_delay: Duration::from_millis(1),
            }
        };
        let t = run_workload(base.wrapping_add(s), durability, 200, 5);
        all.points += t.points;
        all.images += t.images;
        all.truncated += t.truncated;
    }
    println!("CRASH lazy: {all:?}");
    assert!(all.points > 20, "{all:?}");
}

/// Recovery fails at its Nth I/O (EIO, once and forever), for every N until it succeeds;
/// recovering again — on the same disk, or after another power loss — finds the same log.
#[test]
fn recovery_interrupted_by_io_errors_is_idempotent() {
    let seed = mnemodb_testkit::test_seed("recovery_idempotent");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = Path::new(DIR);
    let mut checked = 0;
    let mut images_with_tail = 0;
    while images_with_tail < 4 {
        // A log with several files and unsynced records, crashed at random.
        let mem = MemFs::new();
        let opts = WalOptions {
            durability: Durability::Buffered,
            max_file_bytes: 1024,
            ..WalOptions::default()
        };
        let (wal, _) = Wal::open(Arc::new(mem.clone()), dir, opts).unwrap();
        let n = rng.random_range(20..60u64);
        for lsn in 1..=n {
            wal.append(&payload_for(lsn, MAX_PAYLOAD)).unwrap();
            if lsn == n / 2 {
                wal.flush().unwrap();
            }
        }
        let durable = wal.durable_lsn();
        let image = mem.crash_image(CrashMode::Random { seed: rng.random() });
        drop(wal);
        let clean = {
            let copy = image.crash_image(CrashMode::DropUnsynced);
            let (_, report) = Wal::open(Arc::new(copy), dir, WalOptions::default()).unwrap();
            report
        };
        if clean.truncated_bytes == 0 {
            continue;
        }
        images_with_tail += 1;
        assert!(clean.last_lsn >= durable);
        for persistent in [false, true] {
            for nth in 1.. {
                let disk = image.crash_image(CrashMode::DropUnsynced);
                let faults = FaultController::new();
                let fs = FaultyFs::with_controller(Arc::new(disk.clone()), faults.clone());
                faults.fail_nth(FaultOp::Any, nth, InjectedError::Io, persistent);
                let first = Wal::open(Arc::new(fs), dir, WalOptions::default());
                let failed = faults.fired() > 0;
                if let Ok((_, report)) = &first {
                    assert!(!failed || report.last_lsn == clean.last_lsn);
                }
                drop(first);
                // Again on the same disk, and after a power loss on top.
                for again in [
                    disk.clone(),
                    disk.crash_image(CrashMode::Random { seed: nth }),
                ] {
                    let (wal, report) = Wal::open(Arc::new(again), dir, WalOptions::default())
                        .unwrap_or_else(|e| panic!("nth {nth}: recovery after a failed one: {e}"));
                    assert_eq!(report.last_lsn, clean.last_lsn, "nth {nth}");
                    let mut count = 0;
                    wal.replay(0, |lsn, p| {
                        assert_eq!(p, payload_for(lsn, MAX_PAYLOAD));
                        count += 1;
                        Ok(())
                    })
                    .unwrap();
                    assert_eq!(count, clean.records);
                    checked += 1;
                }
                if !failed {
                    break;
                }
            }
        }
    }
    println!("recovery idempotence: {checked} recoveries checked");
    assert!(checked > 50);
}
