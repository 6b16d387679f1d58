//! The store's API end to end on the in-memory file system.
use std::path::Path;
use std::sync::Arc;

use mnemodb_io::{CrashMode, Fs};
use mnemodb_metastore::{
    Document, Error, ExternalId, Filter, MetaOp, MetaStore, MetaStoreOptions, Schema, Value,
};

use crate::{mem, memory_doc, open};

#[test]
fn put_get_filter_checkpoint_reopen() {
    let fs = mem();
    let store = open(Arc::new(fs.clone()));
    for i in 0..100u64 {
        let id = store
            .put(
                i,
                memory_doc(
                    (i % 7) as u32,
                    if i % 2 == 0 { "event" } else { "fact" },
                    i as i64 * 1000,
                    i as f64 / 100.0,
                ),
            )
            .unwrap();
        assert_eq!(id, i as u32);
    }
    assert_eq!(store.len(), 100);
    let f = Filter::parse("user = \"u3\" and importance > 0.5").unwrap();
    let hits = store.filter(&f).unwrap();
    assert_eq!(
        hits.iter().collect::<Vec<_>>(),
        [52, 59, 66, 73, 80, 87, 94]
    );
    assert!(store.delete(52u64).unwrap());
    assert!(!store.delete(52u64).unwrap());
    store
        .patch(59u64, Document::from([("kind".to_string(), Value::Null)]))
        .unwrap();
    assert!(matches!(
        store.patch(52u64, Document::new()),
        Err(Error::NotFound { .. })
    ));
    let before = store.snapshot();
    let info = store.checkpoint().unwrap();
    assert_eq!(info.lsn, before.lsn());
    assert_eq!(info.document_count, 99);
    store.put("s", Document::new()).unwrap();
    drop(store);
    let image = Arc::new(fs.crash_image(CrashMode::DropUnsynced));
    let (store, report) = MetaStore::open(
        image.clone(),
        Path::new("/db"),
        MetaStoreOptions::new(crate::schema()),
    )
    .unwrap();
    assert_eq!(report.checkpoint.unwrap().lsn, info.lsn);
    assert_eq!(report.replayed, 1);
    assert_eq!(store.len(), 100);
    assert_eq!(store.get(&ExternalId::from("s")), Some(Document::new()));
    assert_eq!(
        store.snapshot().internal_id(&ExternalId::from("s")),
        Some(100)
    );
    assert!(
        !store
            .get(&ExternalId::U64(59))
            .unwrap()
            .contains_key("kind")
    );
    assert_eq!(
        store.filter(&f).unwrap().iter().collect::<Vec<_>>(),
        [59, 66, 73, 80, 87, 94]
    );
    // Only one checkpoint file is kept.
    store.checkpoint().unwrap();
    let names = image.read_dir(Path::new("/db/meta")).unwrap();
    assert_eq!(names.len(), 1, "{names:?}");
}

#[test]
fn batch_is_atomic_and_validated_first() {
    let fs = mem();
    let store = open(Arc::new(fs.clone()));
    store.put(1u64, Document::new()).unwrap();
    let err = store
        .write_batch(vec![
            MetaOp::Put {
                id: 2u64.into(),
                doc: Document::new(),
            },
            MetaOp::Patch {
                id: 3u64.into(),
                patch: Document::new(),
            },
        ])
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }));
    assert_eq!(store.len(), 1);
    let c = store
        .write_batch(vec![
            MetaOp::Put {
                id: 2u64.into(),
                doc: Document::new(),
            },
            MetaOp::Patch {
                id: 2u64.into(),
                patch: Document::from([("a".into(), Value::Int(1))]),
            },
            MetaOp::Delete { id: 1u64.into() },
        ])
        .unwrap();
    assert_eq!(c.lsns, Some(2..=4));
    assert_eq!(c.ids, [Some(1), Some(1), Some(0)]);
    assert_eq!(store.snapshot().lsn(), 4);
    let big = Document::from([("x".into(), Value::String("y".repeat(2 << 20)))]);
    assert!(matches!(
        store.put(9u64, big),
        Err(Error::DocumentTooLarge { .. })
    ));
}

#[test]
fn second_opener_is_refused() {
    let fs: Arc<dyn Fs> = Arc::new(mem());
    let _a = open(Arc::clone(&fs));
    let err =
        MetaStore::open(fs, Path::new("/db"), MetaStoreOptions::new(Schema::new())).unwrap_err();
    assert!(err.to_string().contains("locked"), "{err}");
}

#[test]
fn schema_change_reindexes_on_open() {
    let fs = mem();
    {
        let store = MetaStore::open(
            Arc::new(fs.clone()),
            Path::new("/db"),
            MetaStoreOptions::new(Schema::new()),
        )
        .unwrap()
        .0;
        store.put(1u64, memory_doc(1, "a", 5, 0.5)).unwrap();
        store.checkpoint().unwrap();
        store.put(2u64, memory_doc(2, "b", 6, 0.7)).unwrap();
    }
    let store = open(Arc::new(fs.crash_image(CrashMode::DropUnsynced)));
    assert_eq!(
        store
            .filter(&"kind = \"b\" or created_at < @6".parse().unwrap())
            .unwrap()
            .len(),
        2
    );
}

/// A WAL lost (or salvaged) below the checkpoint: the log restarts after the checkpoint's
/// LSN (`WalOptions::min_next_lsn`), with no filler records, and new writes get LSNs above
/// every checkpointed one — also across further reopens and power losses.
#[test]
fn wal_lost_after_checkpoint_restarts_after_it() {
    let fs = mem();
    let store = open(Arc::new(fs.clone()));
    for i in 0..30u64 {
        store
            .put(i, memory_doc(i as u32 % 4, "fact", i as i64, 0.1))
            .unwrap();
    }
    let info = store.checkpoint().unwrap();
    assert_eq!(info.lsn, 30);
    drop(store);
    // Lose the whole log.
    let wal_dir = Path::new("/db/wal");
    for name in fs.read_dir(wal_dir).unwrap() {
        fs.remove_file(&wal_dir.join(name)).unwrap();
    }
    let (store, report) = MetaStore::open(
        Arc::new(fs.clone()),
        Path::new("/db"),
        MetaStoreOptions::new(crate::schema()),
    )
    .unwrap();
    assert_eq!(report.checkpoint.unwrap().lsn, 30);
    assert_eq!((report.replayed, report.wal.records), (0, 0));
    assert_eq!(report.wal.last_lsn, 30);
    assert_eq!(store.len(), 30);
    let c = store
        .write_batch(vec![MetaOp::Put {
            id: 100u64.into(),
            doc: Document::new(),
        }])
        .unwrap();
    assert_eq!(c.lsns, Some(31..=31));
    assert_eq!(store.wal_stats().first_lsn, 31);
    drop(store);
    for image in [fs.crash_image(CrashMode::DropUnsynced), fs.clone()] {
        let (store, report) = MetaStore::open(
            Arc::new(image),
            Path::new("/db"),
            MetaStoreOptions::new(crate::schema()),
        )
        .unwrap();
        assert_eq!(report.replayed, 1);
        assert_eq!(report.wal.discarded_records, 0);
        assert_eq!(store.len(), 31);
        assert_eq!(store.snapshot().lsn(), 31);
        assert_eq!(store.put(101u64, Document::new()).unwrap(), 31);
        assert_eq!(store.snapshot().lsn(), 32);
    }

    // A log that ends below the checkpoint (records 1..=5 only) is replaced, its records
    // reported as discarded.
    let fs = mem();
    let store = open(Arc::new(fs.clone()));
    for i in 0..5u64 {
        store.put(i, Document::new()).unwrap();
    }
    drop(store);
    let wal_copy: Vec<_> = fs
        .read_dir(wal_dir)
        .unwrap()
        .into_iter()
        .map(|n| (n.clone(), fs.read_all(&wal_dir.join(n)).unwrap()))
        .collect();
    let store = open(Arc::new(fs.clone()));
    for i in 5..12u64 {
        store.put(i, Document::new()).unwrap();
    }
    store.checkpoint().unwrap();
    drop(store);
    for name in fs.read_dir(wal_dir).unwrap() {
        fs.remove_file(&wal_dir.join(name)).unwrap();
    }
    for (name, bytes) in &wal_copy {
        let f = fs
            .open(
                &wal_dir.join(name),
                mnemodb_io::OpenOptions::create_truncate(),
            )
            .unwrap();
        f.write_all_at(bytes, 0).unwrap();
    }
    let (store, report) = MetaStore::open(
        Arc::new(fs.clone()),
        Path::new("/db"),
        MetaStoreOptions::new(crate::schema()),
    )
    .unwrap();
    assert_eq!(report.wal.discarded_records, 5);
    assert_eq!((report.replayed, store.len()), (0, 12));
    let c = store
        .write_batch(vec![MetaOp::Delete { id: 0u64.into() }])
        .unwrap();
    assert_eq!(c.lsns, Some(13..=13));
}
