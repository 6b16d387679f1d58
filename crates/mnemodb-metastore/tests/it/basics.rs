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
