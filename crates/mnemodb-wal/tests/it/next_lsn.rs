//! `WalOptions::min_next_lsn` (a log restarted after a checkpoint) and the generic-error
//! replay callbacks.
use std::path::Path;
use std::sync::Arc;

use mnemodb_io::{
    CrashMode, FaultController, FaultOp, FaultyFs, Fs, InjectedError, MemFs, OpenOptions,
};
use mnemodb_wal::{Error, Lsn, RecoveryMode, WalOptions, read_records_with};

use crate::{open, payload_for, records, replay_all, small_files};

const DIR: &str = "/db/wal";

fn at(min_next_lsn: Lsn) -> WalOptions {
    WalOptions {
        min_next_lsn,
        ..small_files(400)
    }
}

/// Names of the WAL files in `dir`.
fn names(fs: &dyn Fs, dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs
        .read_dir(dir)
        .unwrap()
        .into_iter()
        .map(|n| n.to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn a_new_log_starts_at_min_next_lsn() {
    let mem = MemFs::new();
    let fs: Arc<dyn Fs> = Arc::new(mem.clone());
    let dir = Path::new(DIR);
    let (wal, report) = open(&fs, dir, at(101));
    assert_eq!(
        (report.last_lsn, report.records, report.first_lsn),
        (100, 0, 0)
    );
    assert_eq!(report.discarded_records, 0);
    assert_eq!(wal.last_lsn(), 100);
    assert_eq!(wal.durable_lsn(), 100);
    assert_eq!(names(&*fs, dir), ["00000000000000000101.log"]);
    drop(wal);
    // Still there after a power loss (the file and its name were synced), with or
    // without the option on the next open.
    for min in [0, 1, 101, 50] {
        let image: Arc<dyn Fs> = Arc::new(mem.crash_image(CrashMode::DropUnsynced));
        let (wal, report) = open(&image, dir, at(min));
        assert_eq!(
            (report.last_lsn, report.records, report.discarded_records),
            (100, 0, 0)
        );
        assert_eq!(wal.append(b"x").unwrap(), 101, "min {min}");
    }
    let (wal, _) = open(&fs, dir, WalOptions::default());
    assert_eq!(wal.append(b"first").unwrap(), 101);
    assert_eq!(wal.append_batch(&[b"a", b"b"]).unwrap(), 102..=103);
    drop(wal);
    let (got, report) = records(&*fs, dir);
    assert_eq!(report.first_lsn, 101);
    assert_eq!(
        got,
        [
            (101, b"first".to_vec()),
            (102, b"a".to_vec()),
            (103, b"b".to_vec())
        ]
    );
}

#[test]
fn a_log_ending_below_is_restarted_and_one_reaching_it_is_kept() {
    let mem = MemFs::new();
    let fs: Arc<dyn Fs> = Arc::new(mem.clone());
    let dir = Path::new(DIR);
    let (wal, _) = open(&fs, dir, small_files(400));
    for i in 1..=30u64 {
        wal.append(&payload_for(i, 60)).unwrap();
    }
    drop(wal);
    assert!(names(&*fs, dir).len() > 2, "the test needs several files");
    let before = records(&*fs, dir).0;
    // The log reaches min_next_lsn - 1 (or more): untouched.
    for min in [0, 1, 20, 31] {
        let (wal, report) = open(&fs, dir, at(min));
        assert_eq!((report.last_lsn, report.discarded_records), (30, 0));
        drop(wal);
        assert_eq!(records(&*fs, dir).0, before, "min {min}");
    }
    // It ends below: every file goes, the next record gets 41.
    let (wal, report) = open(&fs, dir, at(41));
    assert_eq!(report.discarded_records, 30);
    assert_eq!(
        (report.records, report.first_lsn, report.last_lsn),
        (0, 0, 40)
    );
    assert_eq!(names(&*fs, dir), ["00000000000000000041.log"]);
    assert!(replay_all(&wal).is_empty());
    assert_eq!(wal.append(b"x").unwrap(), 41);
    drop(wal);
    let (wal, report) = open(&fs, dir, at(41));
    assert_eq!(
        (report.records, report.first_lsn, report.last_lsn),
        (1, 41, 41)
    );
    assert_eq!(replay_all(&wal), [(41, b"x".to_vec())]);
}

#[test]
fn truncate_before_after_a_restart() {
    let mem = MemFs::new();
    let fs: Arc<dyn Fs> = Arc::new(mem.clone());
    let dir = Path::new(DIR);
    let (wal, _) = open(&fs, dir, at(1_000));
    // Nothing below the first file: nothing to remove.
    assert_eq!(wal.truncate_before(500).unwrap(), 0);
    assert_eq!(wal.truncate_before(1_000).unwrap(), 0);
    for i in 1_000..1_040u64 {
        assert_eq!(wal.append(&payload_for(i, 60)).unwrap(), i);
    }
    let files = wal.stats().files;
    assert!(files > 2);
    assert!(wal.truncate_before(1_030).unwrap() > 0);
    let first = wal.stats().first_lsn;
    assert!(first > 1_000 && first <= 1_030);
    let mut seen = Vec::new();
    wal.replay(0, |l, _| {
        seen.push(l);
        Ok(())
    })
    .unwrap();
    assert_eq!(seen, (first..1_040).collect::<Vec<_>>());
    drop(wal);
    // Reopening with the old minimum (below what the log holds) changes nothing; a
    // minimum above the end restarts after it.
    let (wal, report) = open(&fs, dir, at(1_000));
    assert_eq!((report.first_lsn, report.last_lsn), (first, 1_039));
    drop(wal);
    let (wal, report) = open(&fs, dir, at(2_000));
    assert_eq!(report.discarded_records, 1_040 - first);
    assert_eq!(wal.append(b"y").unwrap(), 2_000);
}

/// A crash at every step of a restart (each file removal, the new file's creation, each
/// directory sync), under both crash modes: reopening — with the option, or without it —
/// never finds a gap or corruption, and with it the log continues at `min_next_lsn`.
#[test]
fn crash_at_every_step_of_a_restart() {
    let dir = Path::new(DIR);
    let mut n = 1;
    loop {
        let mem = MemFs::new();
        {
            let fs: Arc<dyn Fs> = Arc::new(mem.clone());
            let (wal, _) = open(&fs, dir, small_files(300));
            for i in 1..=25u64 {
                wal.append(&payload_for(i, 60)).unwrap();
            }
        }
        let faults = FaultController::new();
        let fs: Arc<dyn Fs> = Arc::new(FaultyFs::with_controller(
            Arc::new(mem.clone()),
            faults.clone(),
        ));
        faults.fail_nth(FaultOp::Any, n, InjectedError::Io, true);
        let result = mnemodb_wal::Wal::open(fs, dir, at(60));
        faults.disarm();
        let done = result.is_ok() && faults.fired() == 0;
        drop(result);
        let images = [
            mem.crash_image(CrashMode::DropUnsynced),
            mem.crash_image(CrashMode::Random { seed: n }),
            mem.crash_image(CrashMode::Random { seed: n + 1_000 }),
            mem.clone(),
        ];
        for (k, image) in images.into_iter().enumerate() {
            let image: Arc<dyn Fs> = Arc::new(image);
            // Without the option: a contiguous log (a suffix of 1..=25, or the new one).
            let (got, report) = records(&*image, dir);
            let lsns: Vec<Lsn> = got.iter().map(|(l, _)| *l).collect();
            if let Some(&first) = lsns.first() {
                assert_eq!(lsns, (first..=25).collect::<Vec<_>>(), "n={n} image {k}");
                for (l, p) in &got {
                    assert_eq!(p, &payload_for(*l, 60));
                }
            } else {
                assert!(report.last_lsn == 0 || report.last_lsn == 25 || report.last_lsn == 59);
            }
            // With it: continues at 60.
            let (wal, report) = open(&image, dir, at(60));
            assert_eq!(report.last_lsn, 59, "n={n} image {k}");
            assert_eq!(wal.append(b"z").unwrap(), 60, "n={n} image {k}");
        }
        if done {
            break;
        }
        n += 1;
        assert!(n < 200, "open never succeeded");
    }
    assert!(n > 5, "only {n} steps");
}

#[derive(Debug)]
enum MyError {
    Wal(Error),
    Refused(Lsn),
}

impl From<Error> for MyError {
    fn from(e: Error) -> Self {
        MyError::Wal(e)
    }
}

#[test]
fn replay_with_returns_the_callers_error() {
    let mem = MemFs::new();
    let fs: Arc<dyn Fs> = Arc::new(mem.clone());
    let dir = Path::new(DIR);
    let (wal, _) = open(&fs, dir, small_files(300));
    for i in 1..=20u64 {
        wal.append(&payload_for(i, 60)).unwrap();
    }
    let mut seen = Vec::new();
    let err = wal
        .replay_with(3, |lsn, _| {
            seen.push(lsn);
            if lsn == 12 {
                Err(MyError::Refused(lsn))
            } else {
                Ok(())
            }
        })
        .unwrap_err();
    assert!(matches!(err, MyError::Refused(12)), "{err:?}");
    assert_eq!(seen, (3..=12).collect::<Vec<_>>());
    let mut seen = Vec::new();
    let err = read_records_with(&*fs, dir, 0, RecoveryMode::default(), |lsn, _| {
        seen.push(lsn);
        if lsn == 17 {
            Err(MyError::Refused(lsn))
        } else {
            Ok(())
        }
    })
    .unwrap_err();
    assert!(matches!(err, MyError::Refused(17)));
    assert_eq!(seen, (1..=17).collect::<Vec<_>>());
    // WAL errors arrive converted: damage in an older file.
    drop(wal);
    let first = dir.join("00000000000000000001.log");
    let mut bytes = mem.read_all(&first).unwrap();
    bytes[70] ^= 1;
    let f = mem.open(&first, OpenOptions::create_truncate()).unwrap();
    f.write_all_at(&bytes, 0).unwrap();
    drop(f);
    let err = read_records_with(
        &*fs,
        dir,
        0,
        RecoveryMode::default(),
        |_, _| -> Result<(), MyError> { Ok(()) },
    )
    .unwrap_err();
    assert!(
        matches!(err, MyError::Wal(Error::Corrupted { .. })),
        "{err:?}"
    );
}
