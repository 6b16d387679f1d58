//! (f) I/O errors: fail the nth file-system call of an operation, for every n until the
//! operation completes, with ENOSPC and EIO, once and forever, with and without torn
//! writes. The operation returns `Err` (never panics); afterwards every acknowledged record
//! is present, the failed operation is all or nothing, and a failed sync poisons the writer.
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use mnemodb_io::{
    CrashMode, FaultController, FaultOp, FaultyFs, Fs, InjectedError, MemFs, OpenOptions,
};
use mnemodb_wal::{Durability, Error, Lsn, Wal, WalOptions};

use crate::{payload_for, records};

const DIR: &str = "/db/wal";
const MAX_PAYLOAD: usize = 120;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Append,
    AppendBatch,
    /// An append that must start a new file.
    Rotate,
    TruncateBefore,
    /// `flush` of buffered records.
    Flush,
    /// Open (recovery with a torn tail to cut).
    Open,
}

fn options(op: Op) -> WalOptions {
    WalOptions {
        durability: if op == Op::Flush {
            Durability::Buffered
        } else {
            Durability::Sync
        },
        max_file_bytes: 1024,
        ..WalOptions::default()
    }
}

/// The state before the operation: `acked` records (payloads from their LSNs) over a few
/// files.
fn prepare(mem: &MemFs, op: Op, acked: Lsn) {
    let (wal, _) = Wal::open(Arc::new(mem.clone()), Path::new(DIR), options(op)).unwrap();
    for lsn in 1..=acked {
        assert_eq!(wal.append(&payload_for(lsn, MAX_PAYLOAD)).unwrap(), lsn);
    }
    wal.flush().unwrap();
    drop(wal);
    if op == Op::Open {
        // A torn tail for recovery to cut.
        let newest = mem.files().into_iter().max().unwrap();
        let f = mem.open(&newest, OpenOptions::read_write()).unwrap();
        let len = f.len().unwrap();
        f.write_all_at(&[0xa5; 100], len).unwrap();
        f.sync_all().unwrap();
    }
}

/// Payloads of the operation under test (LSNs `next..`).
fn op_payloads(op: Op, next: Lsn) -> Vec<Vec<u8>> {
    match op {
        Op::Append | Op::Flush => vec![payload_for(next, MAX_PAYLOAD)],
        Op::AppendBatch => (next..next + 3)
            .map(|l| payload_for(l, MAX_PAYLOAD))
            .collect(),
        // Larger than a file: it cannot go into the active one.
        Op::Rotate => vec![vec![(next % 251) as u8; 1100]],
        Op::TruncateBefore | Op::Open => Vec::new(),
    }
}

/// Check the log on `fs` after the failed (or successful) operation: records are the
/// acknowledged ones, plus all or none of `extra`; records below `floor` may be gone.
fn check_log(fs: &dyn Fs, acked: Lsn, extra: &[Vec<u8>], floor: Lsn, what: &str) -> Lsn {
    let (got, _) = records(fs, Path::new(DIR));
    let first = got.first().map_or(acked + 1, |r| r.0);
    assert!(
        first <= floor.max(1),
        "{what}: records from {floor} on are gone"
    );
    let last = got.last().map_or(first - 1, |r| r.0);
    assert!(
        last == acked || last == acked + extra.len() as u64,
        "{what}: recovered up to {last}, acked {acked}, failed op had {} records",
        extra.len()
    );
    for (lsn, p) in &got {
        if *lsn <= acked {
            assert_eq!(*p, payload_for(*lsn, MAX_PAYLOAD), "{what}: record {lsn}");
        } else {
            assert_eq!(
                *p,
                extra[(*lsn - acked - 1) as usize],
                "{what}: record {lsn}"
            );
        }
    }
    last
}

#[derive(Debug, Default)]
struct Count {
    runs: u64,
    failed: u64,
    poisoned: u64,
}

fn countdown(op: Op, error: InjectedError, persistent: bool, torn: bool, count: &mut Count) {
    let acked: Lsn = 25;
    let dir = Path::new(DIR);
    for nth in 1.. {
        let what = format!("{op:?} {error:?} persistent={persistent} torn={torn} nth={nth}");
        let mem = MemFs::new();
        prepare(&mem, op, acked);
        let faults = FaultController::new();
        faults.set_torn_write(torn);
        let fs: Arc<dyn Fs> = Arc::new(FaultyFs::with_controller(
            Arc::new(mem.clone()),
            faults.clone(),
        ));
        let extra = op_payloads(op, acked + 1);
        let refs: Vec<&[u8]> = extra.iter().map(|p| &p[..]).collect();
        let floor = if op == Op::TruncateBefore {
            acked - 5
        } else {
            acked
        };
        let mut wal = None;
        if op != Op::Open {
            let (w, _) = Wal::open(Arc::clone(&fs), dir, options(op)).unwrap();
            if op == Op::Flush {
                w.append(&extra[0]).unwrap();
            }
            wal = Some(w);
        }
        faults.fail_nth(FaultOp::Any, nth, error, persistent);
        let result: Result<(), Error> = match op {
            Op::Append | Op::AppendBatch | Op::Rotate => wal
                .as_ref()
                .unwrap()
                .append_batch(&refs)
                .map(|r| assert_eq!(*r.start(), acked + 1, "{what}")),
            Op::TruncateBefore => wal.as_ref().unwrap().truncate_before(floor).map(|_| ()),
            Op::Flush => wal.as_ref().unwrap().flush(),
            Op::Open => Wal::open(Arc::clone(&fs), dir, options(op)).map(|(w, report)| {
                assert_eq!(report.last_lsn, acked);
                assert_eq!(report.truncated_bytes, 100);
                wal = Some(w);
            }),
        };
        let fired = faults.fired() > 0;
        faults.disarm();
        count.runs += 1;
        if !fired {
            result.unwrap_or_else(|e| panic!("{what}: failed without an injected error: {e}"));
            assert!(nth > 1, "{what}: the op made no I/O");
            return;
        }
        if let Err(e) = &result {
            count.failed += 1;
            assert!(
                !e.is_corrupted(),
                "{what}: an I/O error reported as corruption: {e}"
            );
        }
        if let Some(w) = &wal {
            let poisoned = w.stats().poisoned;
            if poisoned {
                count.poisoned += 1;
                assert!(result.is_err(), "{what}: poisoned by a successful op");
                let e = w.append(b"after poison").unwrap_err();
                assert!(e.is_poisoned(), "{what}: {e}");
                assert!(w.flush().unwrap_err().is_poisoned());
                assert!(w.durable_lsn() <= acked + extra.len() as u64);
            } else if op != Op::Flush {
                // Not poisoned: the writer goes on, and a failed append left nothing behind
                // (its LSNs are reused).
                let probe = payload_for(10_000 + nth, 10);
                let lsn = w.append(&probe).unwrap_or_else(|e| panic!("{what}: {e}"));
                let expected = if result.is_ok() && op != Op::TruncateBefore {
                    acked + extra.len() as u64 + 1
                } else {
                    acked + 1
                };
                assert_eq!(lsn, expected, "{what}: probe LSN");
                drop(wal.take());
                let (got, _) = records(&mem, dir);
                assert_eq!(got.last().unwrap(), &(lsn, probe), "{what}");
                continue;
            }
        }
        drop(wal.take());
        // What the disk holds now, and what a power loss would leave of it.
        let last = check_log(&mem, acked, &extra, floor, &what);
        if result.is_ok() && op != Op::TruncateBefore {
            assert_eq!(last, acked + extra.len() as u64, "{what}: acked op lost");
        }
        for mode in [CrashMode::DropUnsynced, CrashMode::Random { seed: nth }] {
            let image = mem.crash_image(mode);
            let (wal, _) = Wal::open(Arc::new(image.clone()), dir, WalOptions::default())
                .unwrap_or_else(|e| panic!("{what} {mode:?}: reopen failed: {e}"));
            drop(wal);
            check_log(&image, acked, &extra, floor, &format!("{what} {mode:?}"));
        }
        // And a plain reopen (the process restarted after the failure) works, can append,
        // and what it acknowledges survives a power loss right after.
        let (wal, _) = Wal::open(Arc::new(mem.clone()), dir, WalOptions::default())
            .unwrap_or_else(|e| panic!("{what}: reopen failed: {e}"));
        let lsn = wal.append(b"after reopen").unwrap();
        drop(wal);
        let (got, _) = records(&mem.crash_image(CrashMode::DropUnsynced), dir);
        assert_eq!(
            got.last().map(|r| r.0),
            Some(lsn),
            "{what}: a record acknowledged after the reopen is lost by a power loss"
        );
    }
}

#[test]
fn io_error_countdown_every_op() {
    let mut count = Count::default();
    for op in [
        Op::Append,
        Op::AppendBatch,
        Op::Rotate,
        Op::TruncateBefore,
        Op::Flush,
        Op::Open,
    ] {
        for error in [InjectedError::NoSpace, InjectedError::Io] {
            for persistent in [false, true] {
                for torn in [false, true] {
                    countdown(op, error, persistent, torn, &mut count);
                }
            }
        }
    }
    println!("FAULTS {count:?}");
    assert!(count.failed > 100, "{count:?}");
    assert!(count.poisoned > 10, "{count:?}");
}

/// RELIABILITY (f).2: a failed fsync poisons the writer until reopen; the record of the
/// failed append is never reported durable.
#[test]
fn failed_sync_poisons_until_reopen() {
    let mem = MemFs::new();
    let faults = FaultController::new();
    let fs: Arc<dyn Fs> = Arc::new(FaultyFs::with_controller(
        Arc::new(mem.clone()),
        faults.clone(),
    ));
    let dir = Path::new(DIR);
    let (wal, _) = Wal::open(Arc::clone(&fs), dir, WalOptions::default()).unwrap();
    assert_eq!(wal.append(b"one").unwrap(), 1);
    faults.fail_nth(FaultOp::SyncAll, 1, InjectedError::Io, false);
    let err = wal.append(b"two").unwrap_err();
    assert!(matches!(err, Error::Io(_)), "{err}");
    assert_eq!(
        wal.durable_lsn(),
        1,
        "the watermark moves only after a good sync"
    );
    faults.disarm();
    // The next sync would succeed (fsyncgate), but the writer refuses.
    let err = wal.append(b"three").unwrap_err();
    assert!(err.is_poisoned(), "{err}");
    assert!(err.to_string().contains("reopen"), "{err}");
    assert!(wal.flush().unwrap_err().is_poisoned());
    assert!(wal.stats().poisoned);
    drop(wal);
    let (wal, report) = Wal::open(fs, dir, WalOptions::default()).unwrap();
    // "two" reached the OS and the process did not crash: it is there, now durable.
    assert_eq!(report.last_lsn, 2);
    assert_eq!(wal.append(b"four").unwrap(), 3);
}

/// The Batch flusher's failed sync poisons too.
#[test]
fn failed_background_sync_poisons() {
    let mem = MemFs::new();
    let faults = FaultController::new();
    let fs: Arc<dyn Fs> = Arc::new(FaultyFs::with_controller(
        Arc::new(mem.clone()),
        faults.clone(),
    ));
    let opts = WalOptions {
        durability: Durability::Batch {
            max_delay: Duration::from_millis(1),
        },
        ..WalOptions::default()
    };
    let (wal, _) = Wal::open(fs, Path::new(DIR), opts).unwrap();
    faults.fail_nth(FaultOp::SyncAll, 1, InjectedError::Io, true);
    wal.append(b"one").unwrap();
    let t0 = std::time::Instant::now();
    while !wal.stats().poisoned {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "flusher never synced"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(wal.durable_lsn(), 0);
    assert!(wal.append(b"two").unwrap_err().is_poisoned());
}

/// RELIABILITY (f).3 (Qdrant PR 7877): a write fails after writing half its bytes; the
/// retry must not land after the garbage.
#[test]
fn torn_write_then_retry_leaves_no_garbage() {
    for error in [InjectedError::NoSpace, InjectedError::Io] {
        let mem = MemFs::new();
        let faults = FaultController::new();
        faults.set_torn_write(true);
        let fs: Arc<dyn Fs> = Arc::new(FaultyFs::with_controller(
            Arc::new(mem.clone()),
            faults.clone(),
        ));
        let dir = Path::new(DIR);
        let (wal, _) = Wal::open(Arc::clone(&fs), dir, WalOptions::default()).unwrap();
        for lsn in 1..=5 {
            wal.append(&payload_for(lsn, MAX_PAYLOAD)).unwrap();
        }
        faults.fail_nth(FaultOp::Write, 1, error, false);
        let failed = vec![0xeeu8; 3000];
        let err = wal.append(&failed).unwrap_err();
        assert_eq!(err.is_no_space(), error == InjectedError::NoSpace);
        assert!(!wal.stats().poisoned);
        for lsn in 6..=10 {
            assert_eq!(wal.append(&payload_for(lsn, MAX_PAYLOAD)).unwrap(), lsn);
        }
        drop(wal);
        for image in [
            mem.clone(),
            mem.crash_image(CrashMode::DropUnsynced),
            mem.crash_image(CrashMode::Random { seed: 3 }),
        ] {
            let (got, report) = records(&image, dir);
            assert_eq!(
                report.truncated_bytes, 0,
                "no garbage in the middle or the tail"
            );
            assert_eq!(got.len(), 10);
            for (lsn, p) in got {
                assert_eq!(p, payload_for(lsn, MAX_PAYLOAD));
            }
        }
    }
}

/// RELIABILITY pitfall 10 (RocksDB #6288): a read error while recovering or replaying is
/// `Error::Io`, never a torn tail — nothing is truncated.
#[test]
fn read_errors_are_io_errors_never_tails() {
    let mem = MemFs::new();
    let dir = Path::new(DIR);
    let (wal, _) = Wal::open(Arc::new(mem.clone()), dir, options(Op::Append)).unwrap();
    for lsn in 1..=40 {
        wal.append(&payload_for(lsn, MAX_PAYLOAD)).unwrap();
    }
    drop(wal);
    let before: Vec<_> = mem
        .files()
        .iter()
        .map(|f| mem.read_all(f).unwrap())
        .collect();
    let faults = FaultController::new();
    let fs: Arc<dyn Fs> = Arc::new(FaultyFs::with_controller(
        Arc::new(mem.clone()),
        faults.clone(),
    ));
    for nth in 1..=6 {
        faults.fail_nth(FaultOp::Read, nth, InjectedError::Io, true);
        let err = Wal::open(Arc::clone(&fs), dir, WalOptions::default()).unwrap_err();
        assert!(matches!(err, Error::Io(_)), "open: {err}");
        let err =
            mnemodb_wal::read_records(&*fs, dir, 0, Default::default(), |_, _| Ok(())).unwrap_err();
        assert!(matches!(err, Error::Io(_)), "read_records: {err}");
        faults.disarm();
    }
    let after: Vec<_> = mem
        .files()
        .iter()
        .map(|f| mem.read_all(f).unwrap())
        .collect();
    assert_eq!(before, after, "nothing was cut");
    let (wal, report) = Wal::open(Arc::clone(&fs), dir, WalOptions::default()).unwrap();
    assert_eq!((report.last_lsn, report.truncated_bytes), (40, 0));
    faults.fail_nth(FaultOp::Read, 2, InjectedError::Io, false);
    let err = wal.replay(0, |_, _| Ok(())).unwrap_err();
    assert!(matches!(err, Error::Io(_)), "replay: {err}");
}
