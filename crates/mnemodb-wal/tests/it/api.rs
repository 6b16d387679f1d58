//! Behaviour of the public API on the in-memory file system.
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mnemodb_io::{CrashMode, FileHandle, Fs, LockGuard, MemFs, OpenOptions, ReadOnlyBytes};
use mnemodb_wal::{Durability, Error, Wal, WalOptions};

use crate::{open, payload_for, records, replay_all, small_files};

const DIR: &str = "/db/wal";

#[test]
fn wal_is_send_sync() {
    fn check<T: Send + Sync>() {}
    check::<Wal>();
    check::<Error>();
}

#[test]
fn append_replay_reopen() {
    let mem = MemFs::new();
    let fs: Arc<dyn Fs> = Arc::new(mem.clone());
    let dir = Path::new(DIR);
    let (wal, report) = open(&fs, dir, WalOptions::default());
    assert_eq!(report, Default::default());
    let mut expect = Vec::new();
    for i in 1..=50u64 {
        if i % 10 == 0 {
            let a = payload_for(i, 50);
            let b = payload_for(i + 1000, 50);
            let r = wal.append_batch(&[&a, &b, b""]).unwrap();
            let start = *r.start();
            assert_eq!(r, start..=start + 2);
            expect.extend([(start, a), (start + 1, b), (start + 2, Vec::new())]);
        } else {
            let p = payload_for(i, 300);
            let lsn = wal.append(&p).unwrap();
            expect.push((lsn, p));
        }
    }
    let lsns: Vec<_> = expect.iter().map(|(l, _)| *l).collect();
    assert_eq!(lsns, (1..=expect.len() as u64).collect::<Vec<_>>());
    assert_eq!(wal.last_lsn(), expect.len() as u64);
    assert_eq!(wal.durable_lsn(), wal.last_lsn());
    assert_eq!(replay_all(&wal), expect);
    let mut from_30 = Vec::new();
    wal.replay(30, |l, p| {
        from_30.push((l, p.to_vec()));
        Ok(())
    })
    .unwrap();
    assert_eq!(from_30, expect[29..]);
    let stats = wal.stats();
    assert_eq!((stats.files, stats.first_lsn), (1, 1));
    assert_eq!(stats.last_lsn, expect.len() as u64);
    assert_eq!(stats.writes, 50);
    assert_eq!(stats.syncs, 50);
    assert!(!stats.poisoned);
    drop(wal);

    let (wal, report) = open(&fs, dir, WalOptions::default());
    assert_eq!(report.records, expect.len() as u64);
    assert_eq!(
        (report.first_lsn, report.last_lsn),
        (1, expect.len() as u64)
    );
    assert_eq!(report.truncated_bytes, 0);
    assert_eq!(replay_all(&wal), expect);
    assert_eq!(wal.append(b"next").unwrap(), expect.len() as u64 + 1);
    assert_eq!(wal.dir(), dir);
    // Only the log's file is in the directory: no temporary files left.
    assert_eq!(mem.files().len(), 1, "{:?}", mem.files());
}

#[test]
fn rejects_empty_and_oversized_batches() {
    let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
    let opts = WalOptions {
        max_record_bytes: 1000,
        ..WalOptions::default()
    };
    let (wal, _) = open(&fs, Path::new(DIR), opts);
    assert!(matches!(wal.append_batch(&[]), Err(Error::EmptyBatch)));
    let err = wal.append(&[0u8; 1000]).unwrap_err();
    assert!(
        matches!(err, Error::RecordTooLarge { max: 1000, .. }),
        "{err}"
    );
    assert_eq!(wal.append(&[1u8; 900]).unwrap(), 1);
    let big = vec![0u8; 300];
    assert!(wal.append_batch(&[&big, &big, &big, &big]).is_err());
    assert_eq!(
        wal.append(b"x").unwrap(),
        2,
        "a refused append takes no LSN"
    );
}

#[test]
fn rotation_and_truncate_before() {
    let mem = MemFs::new();
    let fs: Arc<dyn Fs> = Arc::new(mem.clone());
    let dir = Path::new(DIR);
    let (wal, _) = open(&fs, dir, small_files(1024));
    let mut expect = Vec::new();
    for lsn in 1..=300u64 {
        let p = payload_for(lsn, 120);
        assert_eq!(wal.append(&p).unwrap(), lsn);
        expect.push((lsn, p));
    }
    let stats = wal.stats();
    assert!(stats.files > 10, "{stats:?}");
    assert_eq!(stats.rotations as usize, stats.files - 1);
    assert_eq!(replay_all(&wal), expect);
    for f in mem.files() {
        let len = mem.read_all(&f).unwrap().len() as u64;
        assert!(len <= 1024, "{} is {len} bytes", f.display());
    }

    let removed = wal.truncate_before(150).unwrap();
    assert!(removed > 0);
    let after = replay_all(&wal);
    let first = after[0].0;
    assert!(first <= 150 && first > 1, "first {first}");
    assert_eq!(after, expect[first as usize - 1..]);
    assert_eq!(wal.stats().first_lsn, first);
    assert_eq!(wal.stats().files, stats.files - removed);
    assert_eq!(wal.truncate_before(first).unwrap(), 0);

    // Everything before the active file goes; the active file never does.
    wal.truncate_before(u64::MAX).unwrap();
    assert_eq!(wal.stats().files, 1);
    let tail = replay_all(&wal);
    assert_eq!(tail.last().unwrap().0, 300);
    assert_eq!(wal.append(b"after").unwrap(), 301);
    drop(wal);

    // Removals were made durable: a crash image agrees.
    let image: Arc<dyn Fs> = Arc::new(mem.crash_image(CrashMode::DropUnsynced));
    let (wal, report) = open(&image, dir, WalOptions::default());
    assert_eq!(report.files, 1);
    assert_eq!(report.last_lsn, 301);
    assert_eq!(replay_all(&wal).first().unwrap().0, tail[0].0);
}

#[test]
fn truncate_before_after_reopen_on_empty_active_file() {
    let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
    let dir = Path::new(DIR);
    let (wal, _) = open(&fs, dir, small_files(256));
    for lsn in 1..=20u64 {
        wal.append(&payload_for(lsn, 100)).unwrap();
    }
    drop(wal);
    let (wal, report) = open(&fs, dir, small_files(256));
    assert_eq!(report.last_lsn, 20);
    wal.truncate_before(u64::MAX).unwrap();
    drop(wal);
    let (wal, report) = open(&fs, dir, small_files(256));
    assert_eq!(report.last_lsn, 20);
    assert_eq!(report.files, 1);
    assert_eq!(wal.append(b"x").unwrap(), 21);
}

/// A file system whose file syncs take `delay`, so concurrent appenders overlap.
#[derive(Debug)]
pub struct SlowSyncFs {
    pub inner: Arc<dyn Fs>,
    pub delay: Duration,
}

#[derive(Debug)]
struct SlowFile {
    inner: Arc<dyn FileHandle>,
    delay: Duration,
}

impl FileHandle for SlowFile {
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
        std::thread::sleep(self.delay);
        self.inner.sync_data()
    }
    fn sync_all(&self) -> io::Result<()> {
        std::thread::sleep(self.delay);
        self.inner.sync_all()
    }
}

impl Fs for SlowSyncFs {
    fn open(&self, path: &Path, opts: OpenOptions) -> io::Result<Arc<dyn FileHandle>> {
        Ok(Arc::new(SlowFile {
            inner: self.inner.open(path, opts)?,
            delay: self.delay,
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

struct Tagged(u64, u64);

impl fmt::Display for Tagged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "thread {} op {}", self.0, self.1)
    }
}

#[test]
fn concurrent_appenders_share_syncs() {
    let mem = MemFs::new();
    let fs: Arc<dyn Fs> = Arc::new(SlowSyncFs {
        inner: Arc::new(mem.clone()),
        delay: Duration::from_millis(2),
    });
    let dir = Path::new(DIR);
    let (wal, _) = open(&fs, dir, small_files(8 << 10));
    let wal = Arc::new(wal);
    let threads = 8u64;
    let per = 40u64;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let wal = Arc::clone(&wal);
            std::thread::spawn(move || {
                let mut got = Vec::new();
                for i in 0..per {
                    let p = Tagged(t, i).to_string().into_bytes();
                    let r = if i % 5 == 4 {
                        wal.append_batch(&[&p, b"second"]).unwrap()
                    } else {
                        let l = wal.append(&p).unwrap();
                        l..=l
                    };
                    // Acknowledged means durable.
                    assert!(wal.durable_lsn() >= *r.end());
                    got.push((r, p));
                }
                got
            })
        })
        .collect();
    let mut by_lsn = std::collections::BTreeMap::new();
    for h in handles {
        let got = h.join().unwrap();
        for w in got.windows(2) {
            assert!(w[0].0.end() < w[1].0.start(), "a thread's LSNs increase");
        }
        for (r, p) in got {
            by_lsn.insert(*r.start(), p);
            if r.start() != r.end() {
                by_lsn.insert(*r.end(), b"second".to_vec());
            }
        }
    }
    let total = threads * per + threads * per / 5;
    assert_eq!(by_lsn.len() as u64, total);
    let replayed = replay_all(&wal);
    assert_eq!(replayed.len() as u64, total);
    for (lsn, p) in &replayed {
        assert_eq!(by_lsn.get(lsn), Some(p), "lsn {lsn}");
    }
    let stats = wal.stats();
    println!("group commit: {} appends, {stats:?}", threads * per);
    assert!(
        stats.syncs < threads * per / 2,
        "appenders did not share syncs: {stats:?}"
    );
}

#[test]
fn batch_mode_syncs_within_max_delay() {
    let mem = MemFs::new();
    let fs: Arc<dyn Fs> = Arc::new(mem.clone());
    let dir = Path::new(DIR);
    let opts = WalOptions {
        durability: Durability::Batch {
            max_delay: Duration::from_millis(20),
        },
        ..WalOptions::default()
    };
    let (wal, _) = open(&fs, dir, opts.clone());
    let t0 = Instant::now();
    for lsn in 1..=10u64 {
        wal.append(&payload_for(lsn, 64)).unwrap();
    }
    // Handed to the OS: a process crash (the live file system) keeps them.
    assert_eq!(records(&mem, dir).0.len(), 10);
    while wal.durable_lsn() < 10 {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "flusher never synced"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let image = mem.crash_image(CrashMode::DropUnsynced);
    assert_eq!(records(&image, dir).0.len(), 10);
    wal.append(b"last").unwrap();
    drop(wal); // a clean close syncs the last interval
    let image = mem.crash_image(CrashMode::DropUnsynced);
    assert_eq!(records(&image, dir).0.len(), 11);
}

#[test]
fn buffered_mode_is_durable_after_flush() {
    let mem = MemFs::new();
    let fs: Arc<dyn Fs> = Arc::new(mem.clone());
    let dir = Path::new(DIR);
    let opts = WalOptions {
        durability: Durability::Buffered,
        ..WalOptions::default()
    };
    let (wal, _) = open(&fs, dir, opts);
    for lsn in 1..=10u64 {
        wal.append(&payload_for(lsn, 64)).unwrap();
    }
    assert_eq!(wal.durable_lsn(), 0);
    assert_eq!(wal.last_lsn(), 10);
    assert_eq!(
        records(&mem.crash_image(CrashMode::DropUnsynced), dir)
            .0
            .len(),
        0
    );
    wal.flush().unwrap();
    assert_eq!(wal.durable_lsn(), 10);
    assert_eq!(
        records(&mem.crash_image(CrashMode::DropUnsynced), dir)
            .0
            .len(),
        10
    );
}

#[test]
fn replay_runs_while_appending_and_truncating() {
    let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
    let dir = Path::new(DIR);
    let (wal, _) = open(&fs, dir, small_files(2048));
    let wal = Arc::new(wal);
    // The writer waits for replays at two points, so at least two replays overlap its
    // appends and truncations however the threads are scheduled (a loaded machine).
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let wait_for = |done: &std::sync::atomic::AtomicUsize, n: usize| {
        while done.load(std::sync::atomic::Ordering::Acquire) < n {
            std::thread::yield_now();
        }
    };
    let writer = {
        let wal = Arc::clone(&wal);
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            for lsn in 1..=1500u64 {
                assert_eq!(wal.append(&payload_for(lsn, 100)).unwrap(), lsn);
                if lsn % 200 == 0 {
                    wal.truncate_before(lsn - 100).unwrap();
                }
                if lsn == 750 {
                    wait_for(&done, 1);
                }
            }
            wait_for(&done, 2);
        })
    };
    let mut replays = 0;
    while !writer.is_finished() || replays == 0 {
        let got = replay_all(&wal);
        for w in got.windows(2) {
            assert_eq!(w[0].0 + 1, w[1].0, "contiguous");
        }
        for (lsn, p) in &got {
            assert_eq!(*p, payload_for(*lsn, 100));
        }
        replays += 1;
        done.store(replays, std::sync::atomic::Ordering::Release);
    }
    writer.join().unwrap();
    assert!(replays > 1);
    let got = replay_all(&wal);
    assert_eq!(got.last().unwrap().0, 1500);
}

#[test]
fn read_records_changes_nothing() {
    let mem = MemFs::new();
    let fs: Arc<dyn Fs> = Arc::new(mem.clone());
    let dir = Path::new(DIR);
    let (wal, _) = open(&fs, dir, WalOptions::default());
    for lsn in 1..=5u64 {
        wal.append(&payload_for(lsn, 64)).unwrap();
    }
    drop(wal);
    let file = mem.files()[0].clone();
    let h = mem.open(&file, OpenOptions::read_write()).unwrap();
    let len = h.len().unwrap();
    h.write_all_at(b"torn garbage", len).unwrap();
    let before = mem.read_all(&file).unwrap();
    let (got, report) = records(&mem, dir);
    assert_eq!(got.len(), 5);
    assert_eq!(report.truncated_bytes, 12);
    assert_eq!(mem.read_all(&file).unwrap(), before, "read-only");
    // A missing directory is an empty log.
    let (got, report) = records(&mem, Path::new("/nowhere"));
    assert!(got.is_empty());
    assert_eq!(report, Default::default());
    // The read-write open cuts the tail.
    let (_wal, report) = open(&fs, dir, WalOptions::default());
    assert_eq!(report.truncated_bytes, 12);
    assert_eq!(mem.read_all(&file).unwrap().len() as u64, len);
}

#[test]
fn payloads_are_distinct_per_lsn() {
    let set: BTreeSet<Vec<u8>> = (1..200u64).map(|l| payload_for(l, 300)).collect();
    assert_eq!(set.len(), 199);
}
