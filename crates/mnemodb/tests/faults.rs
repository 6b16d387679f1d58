//! Disk full and I/O errors (RELIABILITY recipe (f)) with `mnemodb_io::FaultyFs` over an
//! in-memory file system.
//!
//! - `countdown`: for each operation — an upsert that triggers a seal (segment, index,
//!   checkpoint, manifest, WAL truncation, inline), a checkpoint, a compaction, and opening
//!   (recovery) — and n = 1, 2, … until the operation completes: fail the n-th file-system
//!   call with ENOSPC or EIO (once, once with a torn write, or forever). The operation
//!   returns `Err` (never panics, never `Corrupted`); a failed write leaves the live state
//!   untouched; after the fault is disarmed a further write succeeds or is refused as
//!   `Poisoned`; reopening the same files (no faults) gives every acknowledged operation,
//!   the failed one all or nothing, and the matching LSN; recovery that failed half-way
//!   completes when run again.
//! - `fsync_failure_poisons_the_writer`: an `fsync` failure on the WAL fails that write,
//!   and every later write returns `Error::Poisoned` until the database is reopened.
//! - `background_seal_failure_is_reported_and_retried`: a seal failing in the background
//!   leaves writes acknowledged, is reported by `stats()`, and is retried.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod reliability;

use std::sync::Arc;

use mnemodb::{Database, Durability, Error, ErrorKind, Options};
use mnemodb_io::{FaultOp, FaultyFs, Fs, InjectedError, MemFs, OpenOptions};
use reliability::{Model, Op, apply, no_panic, read_state};

const DB: &str = "/db";
const SEAL_ROWS: usize = 32;

fn opts() -> Options {
    reliability::options(SEAL_ROWS, false).durability(Durability::Sync)
}

/// An independent copy of every live file of `fs` (synced, so it is also durable).
fn clone_fs(fs: &MemFs) -> MemFs {
    let out = MemFs::new();
    for path in fs.files() {
        if let Some(parent) = path.parent() {
            out.create_dir_all(parent).unwrap();
        }
        let f = out.open(&path, OpenOptions::create_truncate()).unwrap();
        f.write_all_at(&fs.read_all(&path).unwrap(), 0).unwrap();
        f.sync_all().unwrap();
    }
    out
}

/// A database with sealed segments (one with deletes), a checkpoint, a WAL tail and a
/// growing segment `SEAL_ROWS - 6` rows full; with the model and LSN it holds.
fn base() -> (MemFs, Model, u64) {
    let fs = MemFs::new();
    let db = Database::open_with_fs(Arc::new(fs.clone()), DB, opts()).unwrap();
    let mut model = Model::default();
    let mut ops = vec![Op::Create(0), Op::Create(1)];
    for b in 0..3u64 {
        ops.push(Op::Upsert {
            ver: 1 + b,
            ids: (b * 32..b * 32 + 32).collect(),
        });
    }
    ops.push(Op::Delete {
        ids: (10..20).collect(),
    });
    ops.push(Op::Cross {
        ver: 5,
        ids: vec![200, 201],
        doc: 3,
        del: 4,
    });
    ops.push(Op::Checkpoint);
    ops.push(Op::Upsert {
        ver: 6,
        ids: (100..100 + SEAL_ROWS as u64 - 6).collect(),
    });
    ops.push(Op::Delete { ids: vec![100, 40] });
    ops.push(Op::Patch { ver: 7, id: 41 });
    for op in &ops {
        apply(&db, op).unwrap();
        model.apply(op);
    }
    let lsn = db.stats().last_lsn;
    assert!(
        db.collection(reliability::VEC)
            .unwrap()
            .stats()
            .unwrap()
            .segments
            .len()
            >= 2,
        "the base needs sealed segments"
    );
    drop(db);
    (fs, model, lsn)
}

#[derive(Debug, Clone, Copy)]
enum Scenario {
    /// An upsert that fills the growing segment: seal, index, checkpoint, manifest inline.
    SealingUpsert,
    Checkpoint,
    Compact,
    Open,
}

fn the_op(s: Scenario) -> Op {
    match s {
        Scenario::SealingUpsert => Op::Upsert {
            ver: 50,
            ids: (150..166).collect(),
        },
        Scenario::Checkpoint => Op::Checkpoint,
        Scenario::Compact => Op::Compact,
        Scenario::Open => Op::Reopen,
    }
}

fn probe() -> Op {
    Op::Upsert {
        ver: 60,
        ids: vec![250, 251, 12],
    }
}

/// Every model the database may hold after `op` (`Ok`: applied; `Err`: maybe) and the
/// probe write (the same), with the LSN each implies.
fn candidates(
    m0: &Model,
    lsn0: u64,
    op: &Op,
    op_ok: bool,
    probe_ok: Option<bool>,
) -> Vec<(Model, u64)> {
    let mut out = Vec::new();
    let op_choices: &[bool] = if op_ok { &[true] } else { &[false, true] };
    for &applied in op_choices {
        if applied && !op.writes() && !op_ok {
            continue;
        }
        let (m, l) = if applied && op.writes() {
            (m0.after(op), lsn0 + 1)
        } else {
            (m0.clone(), lsn0)
        };
        match probe_ok {
            None => out.push((m, l)),
            Some(true) => out.push((m.after(&probe()), l + 1)),
            Some(false) => {
                out.push((m.after(&probe()), l + 1));
                out.push((m, l));
            }
        }
    }
    out
}

#[derive(Debug, Default)]
struct Tally {
    runs: u64,
    failed_ops: u64,
    completed: u64,
    poisoned_after: u64,
    recovered_second_try: u64,
    failures: Vec<String>,
}

/// The injected fault of one run: which error, whether the failed write tears, whether
/// every later call fails too.
#[derive(Debug, Clone, Copy)]
struct Fault {
    err: InjectedError,
    torn: bool,
    persistent: bool,
}

fn run_case(
    (base_fs, m0, lsn0): (&MemFs, &Model, u64),
    s: Scenario,
    Fault {
        err,
        torn,
        persistent,
    }: Fault,
    n: u64,
    tally: &mut Tally,
) -> bool {
    tally.runs += 1;
    let case = format!(
        "{s:?} {err:?}{} {} n={n}",
        if torn { " torn" } else { "" },
        if persistent { "forever" } else { "once" }
    );
    let fail = |tally: &mut Tally, what: String| tally.failures.push(format!("{case}: {what}"));
    let mem = clone_fs(base_fs);
    let faulty = FaultyFs::new(Arc::new(mem.clone()));
    let ctl = faulty.controller().clone();
    let fs: Arc<dyn Fs> = Arc::new(faulty);
    let op = the_op(s);
    let mut db = match s {
        Scenario::Open => None,
        _ => Some(Database::open_with_fs(Arc::clone(&fs), DB, opts()).unwrap()),
    };
    ctl.set_torn_write(torn);
    ctl.fail_nth(FaultOp::Any, n, err, persistent);
    let result = no_panic(|| match s {
        Scenario::Open => Database::open_with_fs(Arc::clone(&fs), DB, opts()).map(|d| {
            db = Some(d);
            None
        }),
        _ => apply(db.as_ref().unwrap(), &op),
    });
    let fired = ctl.fired();
    ctl.disarm();
    let result = match result {
        Ok(r) => r,
        Err(p) => {
            fail(tally, format!("panicked: {p}"));
            return false;
        }
    };
    if fired == 0 {
        // n is past the operation's last call: it completed without a fault.
        if let Err(e) = &result {
            fail(tally, format!("failed without an injected fault: {e}"));
        }
        tally.completed += 1;
    }
    let op_ok = result.is_ok();
    if let Err(e) = &result {
        tally.failed_ops += 1;
        if e.kind() == ErrorKind::Corruption {
            fail(tally, format!("an I/O fault reported as corruption: {e}"));
        }
        // A write that returned Err must not be visible (nothing was acknowledged).
        if let Some(d) = &db
            && op.writes()
        {
            match read_state(d) {
                Ok(live) if live == *m0 => {}
                Ok(live) => fail(
                    tally,
                    format!(
                        "the write returned `{e}` but its effect is visible: {}",
                        live.diff(m0)
                    ),
                ),
                Err(r) => fail(tally, format!("live state inconsistent after `{e}`: {r}")),
            }
        }
    }
    // With the fault gone, the handle writes again unless it is poisoned.
    let probe_ok = db.as_ref().map(|d| match apply(d, &probe()) {
        Ok(_) => true,
        Err(Error::Poisoned(_)) => {
            tally.poisoned_after += 1;
            false
        }
        Err(e) => {
            fail(
                tally,
                format!("after disarming, a write failed with `{e}`, not Poisoned"),
            );
            false
        }
    });
    drop(db);
    // Reopen the same files without faults; a recovery that failed half-way was left in
    // some state that this open must complete.
    let reopened = match no_panic(|| Database::open_with_fs(Arc::new(mem.clone()), DB, opts())) {
        Err(p) => {
            fail(tally, format!("reopen panicked: {p}"));
            return fired > 0;
        }
        Ok(Err(e)) => {
            fail(tally, format!("reopen failed: {e}"));
            return fired > 0;
        }
        Ok(Ok(d)) => d,
    };
    if matches!(s, Scenario::Open) && !op_ok {
        tally.recovered_second_try += 1;
    }
    match read_state(&reopened) {
        Ok(actual) => {
            let lsn = reopened.stats().last_lsn;
            let cands = candidates(m0, lsn0, &op, op_ok, probe_ok);
            if !cands.iter().any(|(m, l)| *m == actual && *l == lsn) {
                fail(
                    tally,
                    format!(
                        "after reopen (LSN {lsn}; op ok {op_ok}, probe {probe_ok:?}): {}",
                        actual.diff(&cands[0].0)
                    ),
                );
            }
        }
        Err(e) => fail(tally, format!("reopened state inconsistent: {e}")),
    }
    fired > 0
}

#[test]
fn countdown() {
    let (base_fs, m0, lsn0) = base();
    let started = std::time::Instant::now();
    let mut tally = Tally::default();
    for s in [
        Scenario::SealingUpsert,
        Scenario::Checkpoint,
        Scenario::Compact,
        Scenario::Open,
    ] {
        for (err, torn) in [
            (InjectedError::NoSpace, false),
            (InjectedError::NoSpace, true),
            (InjectedError::Io, false),
        ] {
            for persistent in [false, true] {
                let mut n = 1;
                let fault = Fault {
                    err,
                    torn,
                    persistent,
                };
                while run_case((&base_fs, &m0, lsn0), s, fault, n, &mut tally) {
                    n += 1;
                    assert!(n < 5000, "{s:?} never completes");
                }
                println!(
                    "  {s:?} {err:?} torn={torn} persistent={persistent}: {} calls",
                    n - 1
                );
            }
        }
    }
    let line = format!(
        "FAULTS runs={} failed_ops={} completed={} poisoned_after={} recovered_second_try={} failures={} secs={:.1}",
        tally.runs,
        tally.failed_ops,
        tally.completed,
        tally.poisoned_after,
        tally.recovered_second_try,
        tally.failures.len(),
        started.elapsed().as_secs_f64()
    );
    println!("{line}");
    tally.failures.truncate(40);
    assert!(
        tally.failures.is_empty(),
        "{line}\n{}",
        tally.failures.join("\n")
    );
}

#[test]
fn fsync_failure_poisons_the_writer() {
    let (base_fs, m0, lsn0) = base();
    let mem = clone_fs(&base_fs);
    let faulty = FaultyFs::new(Arc::new(mem.clone()));
    let ctl = faulty.controller().clone();
    let db = Database::open_with_fs(Arc::new(faulty), DB, opts()).unwrap();
    let op = Op::Upsert {
        ver: 70,
        ids: vec![1, 2, 3],
    };
    ctl.fail_nth(FaultOp::Sync, 1, InjectedError::Io, false);
    let err = apply(&db, &op).unwrap_err();
    assert_eq!(ctl.fired(), 1);
    ctl.disarm();
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    assert_eq!(
        read_state(&db).unwrap(),
        m0,
        "a failed write is not visible"
    );
    // Every later write is refused until reopen, however healthy the disk is now.
    for later in [
        probe(),
        Op::Delete { ids: vec![1] },
        Op::Patch { ver: 71, id: 41 },
        Op::Checkpoint,
    ] {
        match apply(&db, &later) {
            Err(Error::Poisoned(_)) => {}
            other => panic!("{later} after an fsync failure: {other:?}"),
        }
    }
    assert!(db.stats().poisoned.is_some());
    assert!(matches!(db.flush(), Err(Error::Poisoned(_))));
    drop(db);
    // Reopen recovers from the log: the failed write is all or nothing.
    let db = Database::open_with_fs(Arc::new(mem), DB, opts()).unwrap();
    let actual = read_state(&db).unwrap();
    let lsn = db.stats().last_lsn;
    assert!(
        (actual == m0 && lsn == lsn0) || (actual == m0.after(&op) && lsn == lsn0 + 1),
        "LSN {lsn}: {}",
        actual.diff(&m0)
    );
    apply(&db, &probe()).unwrap();
}

/// With background work, a seal that fails (disk full) does not fail the writes that made
/// it due: they are acknowledged, the failure shows in `stats().background_error`, and the
/// worker seals once space is back.
#[test]
fn background_seal_failure_is_reported_and_retried() {
    let (base_fs, mut model, _) = base();
    let mem = clone_fs(&base_fs);
    let faulty = FaultyFs::new(Arc::new(mem.clone()));
    let ctl = faulty.controller().clone();
    let o = opts().background(true);
    let db = Database::open_with_fs(Arc::new(faulty), DB, o.clone()).unwrap();
    db.wait_for_background().unwrap();
    // The newest segment generation (compaction may merge segments meanwhile).
    let newest_generation = |db: &Database| {
        db.collection(reliability::VEC)
            .unwrap()
            .stats()
            .unwrap()
            .segments
            .iter()
            .map(|s| s.generation)
            .max()
            .unwrap_or(0)
    };
    let before = newest_generation(&db);
    // Publishing a segment renames its temp file: fail every rename from now on.
    ctl.fail_nth(FaultOp::Rename, 1, InjectedError::NoSpace, true);
    for v in 0..4u64 {
        let op = Op::Upsert {
            ver: 80 + v,
            ids: (160 + v * 10..170 + v * 10).collect(),
        };
        apply(&db, &op).unwrap_or_else(|e| panic!("write {v} during a failing seal: {e}"));
        model.apply(&op);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while db.stats().background_error.is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the failed seal is not reported"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(ctl.fired() > 0);
    assert_eq!(read_state(&db).unwrap(), model);
    ctl.disarm();
    // The worker retries: new segments appear, and once it is idle the error is cleared.
    while newest_generation(&db) <= before || db.stats().background_error.is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "the worker does not retry the seal: {:?}",
            db.stats()
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(read_state(&db).unwrap(), model);
    drop(db);
    let db = Database::open_with_fs(Arc::new(mem), DB, o).unwrap();
    assert_eq!(read_state(&db).unwrap(), model);
}
