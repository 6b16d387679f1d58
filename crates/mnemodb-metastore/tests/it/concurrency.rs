//! Readers during writes (RELIABILITY e.1, sized down): 4 writers commit 3-document batches
//! whose documents carry the same version; 2 readers check every snapshot shows whole
//! batches only, LSNs never go backwards, and filters return only live ids. Also: with
//! `Sync`, concurrent writers share fsyncs (group commit).
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mnemodb_io::StdFs;
use mnemodb_metastore::{Document, ExternalId, Filter, MetaOp, MetaStore, MetaStoreOptions, Value};

#[test]
fn snapshots_show_whole_batches_and_writers_share_fsyncs() {
    let dir = mnemodb_testkit::scratch_dir();
    let store = Arc::new(
        MetaStore::open(
            Arc::new(StdFs::new()),
            dir.path(),
            MetaStoreOptions::new(crate::schema()),
        )
        .unwrap()
        .0,
    );
    let stop = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    for w in 0..4u64 {
        let store = Arc::clone(&store);
        handles.push(std::thread::spawn(move || {
            let mut commits = 0u64;
            for v in 0..150u64 {
                let group = (w * 7 + v) % 10;
                let ops = (0..3)
                    .map(|k| MetaOp::Put {
                        id: ExternalId::U64(group * 3 + k),
                        doc: Document::from([
                            ("v".to_string(), Value::Int((w * 1000 + v) as i64)),
                            ("user".to_string(), Value::String(format!("u{group}"))),
                        ]),
                    })
                    .collect();
                store.write_batch(ops).unwrap();
                commits += 1;
                if v % 50 == 49 {
                    store.checkpoint().unwrap();
                }
            }
            commits
        }));
    }
    let mut readers = Vec::new();
    for _ in 0..2 {
        let store = Arc::clone(&store);
        let stop = Arc::clone(&stop);
        readers.push(std::thread::spawn(move || {
            let mut last_lsn = 0;
            let mut checks = 0u64;
            let f = Filter::parse("user in [\"u1\", \"u2\"]").unwrap();
            loop {
                let done = stop.load(Ordering::Relaxed);
                let t = Instant::now();
                let snap = store.snapshot();
                assert!(snap.lsn() >= last_lsn, "snapshot LSNs never go backwards");
                last_lsn = snap.lsn();
                for group in 0..10u64 {
                    let vs: Vec<Option<&Value>> = (0..3)
                        .map(|k| {
                            snap.get(&ExternalId::U64(group * 3 + k))
                                .and_then(|d| d.get("v"))
                        })
                        .collect();
                    assert!(
                        vs.iter().all(|v| *v == vs[0]),
                        "half a batch visible: {vs:?}"
                    );
                }
                let hits = snap.filter(&f).unwrap();
                assert!(hits.is_subset(&snap.live_ids()));
                assert!(hits.len().is_multiple_of(3));
                assert!(t.elapsed() < Duration::from_secs(1), "a reader waited");
                checks += 1;
                if done {
                    return checks;
                }
            }
        }));
    }
    let commits: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
    assert_eq!(commits, 600);
    assert_eq!(store.len(), 30);
}

/// On the real disk (where an fsync takes milliseconds), 8 concurrent writers need far
/// fewer fsyncs than commits.
#[test]
fn concurrent_writers_share_fsyncs_on_disk() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let store = Arc::new(
        MetaStore::open(
            Arc::new(StdFs::new()),
            dir.path(),
            MetaStoreOptions::new(crate::schema()),
        )
        .unwrap()
        .0,
    );
    let before = store.wal_stats().syncs;
    let handles: Vec<_> = (0..8u64)
        .map(|w| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for i in 0..15u64 {
                    store
                        .put(
                            w * 100 + i,
                            crate::memory_doc(w as u32, "fact", i as i64, 0.5),
                        )
                        .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let syncs = store.wal_stats().syncs - before;
    eprintln!("120 commits, {syncs} WAL syncs");
    assert_eq!(store.len(), 120);
    assert!(
        syncs < 100,
        "concurrent writers share fsyncs ({syncs} syncs for 120 commits)"
    );
}
