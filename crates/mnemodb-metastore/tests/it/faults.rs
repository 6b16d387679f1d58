//! I/O-error countdown (RELIABILITY f.1): fail the nth file-system call of a put, a
//! checkpoint and an open — once and forever, with ENOSPC and EIO — for every n until the
//! operation succeeds. The operation returns an error (never panics); after a reopen (of
//! the live files, and of a power-loss image) every previously acknowledged write is there
//! and the failed write is all or nothing; nothing is reported corrupt.
use std::path::Path;
use std::sync::Arc;

use mnemodb_io::{CrashMode, FaultController, FaultOp, FaultyFs, Fs, InjectedError, MemFs};
use mnemodb_metastore::{Document, Error, ExternalId, MetaStore, MetaStoreOptions, Value};

use crate::memory_doc;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Put,
    Batch,
    Checkpoint,
    Open,
}

fn open(fs: Arc<dyn Fs>) -> Result<MetaStore, Error> {
    MetaStore::open(fs, Path::new("/db"), MetaStoreOptions::new(crate::schema())).map(|(s, _)| s)
}

/// The acknowledged base: 20 docs, a checkpoint, 5 more, a delete.
fn base(store: &MetaStore) {
    for i in 0..20u64 {
        store
            .put(i, memory_doc(i as u32 % 3, "fact", i as i64, 0.5))
            .unwrap();
    }
    store.checkpoint().unwrap();
    for i in 20..25u64 {
        store.put(i, memory_doc(1, "event", i as i64, 0.9)).unwrap();
    }
    store.delete(3u64).unwrap();
}

fn check(fs: Arc<dyn Fs>, op: Op, what: &str) {
    let store = open(fs).unwrap_or_else(|e| panic!("{what}: reopen failed: {e}"));
    let snap = store.snapshot();
    for i in (0..25u64).filter(|i| *i != 3) {
        assert!(
            snap.get(&ExternalId::U64(i)).is_some(),
            "{what}: acked doc {i} lost"
        );
    }
    assert!(
        snap.get(&ExternalId::U64(3)).is_none(),
        "{what}: acked delete lost"
    );
    let new_a = snap.get(&ExternalId::U64(100)).is_some();
    let new_b = snap.get(&ExternalId::U64(101)).is_some();
    match op {
        Op::Batch => assert_eq!(new_a, new_b, "{what}: half a batch"),
        Op::Put => assert!(!new_b),
        Op::Checkpoint | Op::Open => assert!(!new_a && !new_b),
    }
    if new_a {
        assert_eq!(
            snap.get(&ExternalId::U64(100)).unwrap().get("kind"),
            Some(&Value::from("new"))
        );
    }
    // Indexes agree with the documents after recovery.
    let f = mnemodb_metastore::Filter::parse("user = \"u1\" and importance > 0.6").unwrap();
    let want: roaring::RoaringBitmap = snap
        .scan()
        .filter(|(_, _, d)| f.matches(d))
        .map(|(i, _, _)| i)
        .collect();
    assert_eq!(snap.filter(&f).unwrap(), want, "{what}");
    // And it keeps working.
    store.put(200u64, Document::new()).unwrap();
}

fn run(op: Op, persistent: bool, error: InjectedError) -> u64 {
    let mut n = 1;
    loop {
        let mem = MemFs::new();
        let faults = FaultController::new();
        let fs: Arc<dyn Fs> = Arc::new(FaultyFs::with_controller(
            Arc::new(mem.clone()),
            faults.clone(),
        ));
        let store = open(Arc::clone(&fs)).unwrap();
        base(&store);
        let doc = Document::from([("kind".to_string(), Value::from("new"))]);
        faults.fail_nth(FaultOp::Any, n, error, persistent);
        let (result, store) = match op {
            Op::Put => (store.put(100u64, doc).map(|_| ()), Some(store)),
            Op::Batch => (
                store
                    .write_batch(vec![
                        mnemodb_metastore::MetaOp::Put {
                            id: 100u64.into(),
                            doc: doc.clone(),
                        },
                        mnemodb_metastore::MetaOp::Put {
                            id: 101u64.into(),
                            doc,
                        },
                    ])
                    .map(|_| ()),
                Some(store),
            ),
            Op::Checkpoint => (store.checkpoint().map(|_| ()), Some(store)),
            Op::Open => {
                drop(store);
                match open(Arc::clone(&fs)) {
                    Ok(s) => (Ok(()), Some(s)),
                    Err(e) => (Err(e), None),
                }
            }
        };
        if let (Err(e), Some(s)) = (&result, &store) {
            // A failed sync poisons; anything else may go on. Either way no panic.
            let again = s.put(300u64, Document::new());
            if matches!(e, Error::Poisoned { .. }) {
                assert!(again.is_err());
            }
        }
        faults.disarm();
        drop(store);
        let what = format!("{op:?} n={n} persistent={persistent} {error:?} result={result:?}");
        if result.is_ok() || op != Op::Open || n % 3 == 0 {
            check(
                Arc::new(mem.crash_image(CrashMode::DropUnsynced)),
                op,
                &format!("{what} (power loss)"),
            );
        }
        check(Arc::new(mem.clone()), op, &format!("{what} (restart)"));
        if result.is_ok() && faults.fired() == 0 {
            return n;
        }
        n += 1;
        assert!(n < 500, "{op:?} never succeeded");
    }
}

#[test]
fn io_error_countdown() {
    for op in [Op::Put, Op::Batch, Op::Checkpoint, Op::Open] {
        for persistent in [false, true] {
            for error in [InjectedError::NoSpace, InjectedError::Io] {
                let n = run(op, persistent, error);
                assert!(
                    n > 2,
                    "{op:?}: the countdown reached {n} failure points only"
                );
            }
        }
    }
}

/// A store whose WAL rotates every few records, so a checkpoint truncates whole files.
fn open_small(fs: Arc<dyn Fs>) -> Result<MetaStore, Error> {
    let mut options = MetaStoreOptions::new(crate::schema());
    options.wal_max_file_bytes = 512;
    MetaStore::open(fs, Path::new("/db"), options).map(|(s, _)| s)
}

/// Kill points in `checkpoint` under power loss: the process "dies" at its nth file-system
/// call (that call and every later one fail), then the machine loses power — images with
/// only the durable state and with random subsets of the unsynced writes, torn and
/// reordered. Every image reopens to exactly the acknowledged state (no document lost, none
/// invented, indexes consistent), keeps LSNs increasing, and the same holds once more
/// after a crash of that reopen's first write.
#[test]
fn checkpoint_kill_points_under_power_loss() {
    use std::collections::BTreeMap;
    let mut n = 1;
    loop {
        let mem = MemFs::new();
        let faults = FaultController::new();
        let fs: Arc<dyn Fs> = Arc::new(FaultyFs::with_controller(
            Arc::new(mem.clone()),
            faults.clone(),
        ));
        let store = open_small(Arc::clone(&fs)).unwrap();
        base(&store);
        assert!(
            store.wal_stats().files > 2,
            "the WAL must rotate for truncation to matter"
        );
        // A second checkpoint also removes the first one and truncates the WAL.
        let acked: BTreeMap<ExternalId, Document> = store
            .snapshot()
            .scan()
            .map(|(_, e, d)| (e.clone(), d.clone()))
            .collect();
        let acked_lsn = store.snapshot().lsn();
        faults.fail_nth(FaultOp::Any, n, InjectedError::Io, true);
        let result = store.checkpoint();
        let done = result.is_ok() && faults.fired() == 0;
        drop(store);
        faults.disarm();
        let mut images = vec![(
            "power loss, durable only",
            mem.crash_image(CrashMode::DropUnsynced),
        )];
        for seed in 0..4 {
            images.push((
                "power loss, random unsynced subset",
                mem.crash_image(CrashMode::Random {
                    seed: n * 31 + seed,
                }),
            ));
        }
        images.push(("process crash", mem.clone()));
        for (what, image) in images {
            let what = format!("n={n} {what} result={result:?}");
            let store = open_small(Arc::new(image.clone()))
                .unwrap_or_else(|e| panic!("{what}: reopen failed: {e}"));
            let snap = store.snapshot();
            let got: BTreeMap<ExternalId, Document> = snap
                .scan()
                .map(|(_, e, d)| (e.clone(), d.clone()))
                .collect();
            assert_eq!(got, acked, "{what}");
            assert_eq!(snap.lsn(), acked_lsn, "{what}");
            for text in [
                "user = \"u1\"",
                "importance > 0.6",
                "kind = \"event\" or created_at < 7",
            ] {
                let f = mnemodb_metastore::Filter::parse(text).unwrap();
                let want: roaring::RoaringBitmap = snap
                    .scan()
                    .filter(|(_, _, d)| f.matches(d))
                    .map(|(i, _, _)| i)
                    .collect();
                assert_eq!(snap.filter(&f).unwrap(), want, "{what}: {text}");
            }
            let c = store
                .write_batch(vec![mnemodb_metastore::MetaOp::Put {
                    id: 500u64.into(),
                    doc: Document::new(),
                }])
                .unwrap();
            assert_eq!(c.lsns, Some(acked_lsn + 1..=acked_lsn + 1), "{what}");
            drop(store);
            // That write was acknowledged (Sync): it survives a power loss too.
            let again = open_small(Arc::new(image.crash_image(CrashMode::DropUnsynced)))
                .unwrap_or_else(|e| panic!("{what}: second reopen failed: {e}"));
            assert_eq!(again.len(), acked.len() as u64 + 1, "{what}");
            assert_eq!(again.snapshot().lsn(), acked_lsn + 1, "{what}");
        }
        if done {
            break;
        }
        n += 1;
        assert!(n < 500, "checkpoint never succeeded");
    }
    assert!(n > 5, "only {n} kill points");
}
