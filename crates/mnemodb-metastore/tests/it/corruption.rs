//! Damaged checkpoint files (RELIABILITY b): every bit flip, truncations, a file of the
//! wrong kind and a stale copy are detected, and open follows the recovery policy — fall
//! back to an older state only when the WAL still holds everything after it, else
//! `Unrecoverable` — never a panic, never wrong data.
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mnemodb_format::{FileKind, FilePrefix};
use mnemodb_io::{Fs, MemFs, OpenOptions, StdFs};
use mnemodb_metastore::{Document, Error, ExternalId, MetaStore, MetaStoreOptions, Value};
use mnemodb_testkit::{corrupt, scratch_dir};

use crate::memory_doc;

fn options(small_wal: bool) -> MetaStoreOptions {
    let mut o = MetaStoreOptions::new(crate::schema());
    if small_wal {
        o.wal_max_file_bytes = 1024;
    }
    o
}

fn open(
    fs: Arc<dyn Fs>,
    dir: &Path,
    small_wal: bool,
) -> Result<(MetaStore, mnemodb_metastore::OpenReport), Error> {
    MetaStore::open(fs, dir, options(small_wal))
}

/// Write 12 docs, checkpoint, write 3 more; returns the checkpoint path.
fn populate(fs: Arc<dyn Fs>, dir: &Path, small_wal: bool) -> PathBuf {
    let (store, _) = open(fs, dir, small_wal).unwrap();
    for i in 0..12u64 {
        store
            .put(
                i,
                memory_doc(i as u32 % 4, "fact", i as i64, i as f64 / 12.0),
            )
            .unwrap();
    }
    let info = store.checkpoint().unwrap();
    for i in 12..15u64 {
        store.put(i, memory_doc(9, "event", i as i64, 0.1)).unwrap();
    }
    dir.join(format!("meta/checkpoint-{}", info.lsn))
}

fn assert_complete(store: &MetaStore) {
    let snap = store.snapshot();
    assert_eq!(snap.len(), 15);
    for i in 0..15u64 {
        assert!(snap.get(&ExternalId::U64(i)).is_some());
    }
    assert_eq!(
        store
            .filter(&"user = \"u9\"".parse().unwrap())
            .unwrap()
            .len(),
        3
    );
}

fn write(fs: &MemFs, path: &Path, bytes: &[u8]) {
    let f = fs.open(path, OpenOptions::create_truncate()).unwrap();
    f.write_all_at(bytes, 0).unwrap();
}

#[test]
fn every_bit_flip_falls_back_to_the_wal_when_it_covers() {
    let fs = MemFs::new();
    let dir = Path::new("/db");
    let path = populate(Arc::new(fs.clone()), dir, false);
    let good = fs.read_all(&path).unwrap();
    for bit in 0..good.len() * 8 {
        let mut bad = good.clone();
        corrupt::flip_bit_in(&mut bad, bit);
        write(&fs, &path, &bad);
        let (store, report) =
            open(Arc::new(fs.clone()), dir, false).unwrap_or_else(|e| panic!("bit {bit}: {e}"));
        assert_eq!(
            report.skipped_checkpoints.len(),
            1,
            "bit {bit} flip not detected"
        );
        assert!(report.checkpoint.is_none());
        assert_complete(&store);
    }
    write(&fs, &path, &good);
    let (store, report) = open(Arc::new(fs.clone()), dir, false).unwrap();
    assert!(report.skipped_checkpoints.is_empty());
    assert_complete(&store);
}

#[test]
fn damage_without_wal_cover_is_unrecoverable_and_never_panics() {
    let dir = scratch_dir();
    let fs: Arc<dyn Fs> = Arc::new(StdFs::new());
    let path = populate(Arc::clone(&fs), dir.path(), true);
    let good = std::fs::read(&path).unwrap();
    let (_, report) = open(Arc::clone(&fs), dir.path(), true).unwrap();
    assert!(
        report.wal.first_lsn > 1,
        "the small WAL was truncated: {report:?}"
    );
    let restore = || std::fs::write(&path, &good).unwrap();
    let expect_refusal = |what: &str| {
        let err = open(Arc::clone(&fs), dir.path(), true).unwrap_err();
        assert!(matches!(err, Error::Unrecoverable { .. }), "{what}: {err}");
        assert!(err.to_string().contains("checkpoint"), "{what}: {err}");
    };
    // Bit flips across the header and the body.
    for bit in (0..good.len() as u64 * 8).step_by(97) {
        corrupt::flip_bit(&path, bit).unwrap();
        expect_refusal(&format!("bit {bit}"));
        restore();
    }
    // Truncations.
    for len in [
        0,
        15,
        16,
        127,
        128,
        129,
        good.len() as u64 / 2,
        good.len() as u64 - 1,
    ] {
        corrupt::set_len(&path, len).unwrap();
        expect_refusal(&format!("truncated to {len}"));
        restore();
    }
    // Extended.
    corrupt::set_len(&path, good.len() as u64 + 1).unwrap();
    expect_refusal("extended");
    restore();
    // Wrong kind.
    corrupt::patch(&path, 0, bytemuck_prefix(FileKind::Segment).as_slice()).unwrap();
    expect_refusal("wrong kind");
    restore();
    let (store, _) = open(fs, dir.path(), true).unwrap();
    assert_complete(&store);
}

fn bytemuck_prefix(kind: FileKind) -> Vec<u8> {
    let p = FilePrefix::new(kind);
    let mut out = p.magic.to_vec();
    out.extend_from_slice(&p.kind.to_le_bytes());
    out.extend_from_slice(&p.version.to_le_bytes());
    out
}

#[test]
fn stale_copy_and_older_checkpoint_follow_the_policy() {
    for small_wal in [false, true] {
        let dir = scratch_dir();
        let fs: Arc<dyn Fs> = Arc::new(StdFs::new());
        let old_path = populate(Arc::clone(&fs), dir.path(), small_wal);
        let old = std::fs::read(&old_path).unwrap();
        let (store, _) = open(Arc::clone(&fs), dir.path(), small_wal).unwrap();
        for i in 15..40u64 {
            store
                .put(i, Document::from([("n".into(), Value::Int(i as i64))]))
                .unwrap();
        }
        let new_info = store.checkpoint().unwrap();
        drop(store);
        let new_path = dir.path().join(format!("meta/checkpoint-{}", new_info.lsn));
        let new = std::fs::read(&new_path).unwrap();
        // An older checkpoint left behind (crash before its removal) is harmless.
        std::fs::write(&old_path, &old).unwrap();
        let (store, report) = open(Arc::clone(&fs), dir.path(), small_wal).unwrap();
        assert_eq!(report.checkpoint.unwrap().lsn, new_info.lsn);
        assert_eq!(store.len(), 40);
        drop(store);
        // A stale copy under the newest name: detected by the header LSN.
        std::fs::write(&new_path, &old).unwrap();
        let result = open(Arc::clone(&fs), dir.path(), small_wal);
        if small_wal {
            assert!(
                matches!(result, Err(Error::Unrecoverable { .. })),
                "{result:?}"
            );
        } else {
            let (store, report) = result.unwrap();
            assert_eq!(report.skipped_checkpoints.len(), 1);
            assert!(
                report.skipped_checkpoints[0].1.contains("stale"),
                "{report:?}"
            );
            // Fell back to the older checkpoint left behind, then replayed the WAL.
            assert_eq!(report.checkpoint.unwrap().lsn, 12);
            assert_eq!(store.len(), 40);
        }
        std::fs::write(&new_path, &new).unwrap();
        // Orphan temporary files are deleted at open.
        std::fs::write(dir.path().join("meta/checkpoint-999.tmp"), b"junk").unwrap();
        let (store, report) = open(Arc::clone(&fs), dir.path(), small_wal).unwrap();
        assert_eq!(report.removed_temp_files, 1);
        assert_eq!(store.len(), 40);
    }
}
