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
