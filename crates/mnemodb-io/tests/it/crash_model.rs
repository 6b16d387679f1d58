//! `MemFs` power-loss model: what survives `CrashMode::DropUnsynced` and `Random`.
use std::collections::BTreeSet;
use std::path::Path;

use mnemodb_io::{CrashMode, Fs, MemFs, OpenOptions};
use proptest::prelude::*;

const DROP: CrashMode = CrashMode::DropUnsynced;

/// A MemFs with a durable `/db` directory.
fn db() -> MemFs {
    let fs = MemFs::new();
    fs.create_dir_all(Path::new("/db")).unwrap();
    fs.sync_dir(Path::new("/")).unwrap();
    fs
}

/// A durable, empty file at `path` (its directory synced).
fn durable_file(fs: &MemFs, path: &str) -> std::sync::Arc<dyn mnemodb_io::FileHandle> {
    let f = fs.open(Path::new(path), OpenOptions::create_new()).unwrap();
    f.sync_all().unwrap();
    fs.sync_dir(Path::new(path).parent().unwrap()).unwrap();
    f
}

fn content(fs: &MemFs, path: &str) -> Option<Vec<u8>> {
    fs.read_all(Path::new(path)).ok()
}

#[test]
fn unsynced_writes_are_lost() {
    let fs = db();
    let f = durable_file(&fs, "/db/f");
    f.write_all_at(b"hello", 0).unwrap();
    assert_eq!(content(&fs.crash_image(DROP), "/db/f").unwrap(), b"");
    assert_eq!(content(&fs, "/db/f").unwrap(), b"hello", "live unaffected");
}

#[test]
fn sync_data_after_growth_loses_the_appended_bytes() {
    let fs = db();
    let f = durable_file(&fs, "/db/f");
    f.write_all_at(&[1; 100], 0).unwrap();
    f.sync_all().unwrap();
    f.write_all_at(&[2; 10], 0).unwrap(); // inside the durable length
    f.write_all_at(&[3; 50], 100).unwrap(); // growth
    f.sync_data().unwrap();
    let after = content(&fs.crash_image(DROP), "/db/f").unwrap();
    let mut expected = vec![1; 100];
    expected[..10].fill(2);
    assert_eq!(after, expected, "data synced, growth lost");
    f.sync_all().unwrap();
    let after = content(&fs.crash_image(DROP), "/db/f").unwrap();
    expected.extend([3; 50]);
    assert_eq!(after, expected);
}

#[test]
fn truncation_is_durable_only_after_sync_all() {
    let fs = db();
    let f = durable_file(&fs, "/db/f");
    f.write_all_at(&[9; 64], 0).unwrap();
    f.sync_all().unwrap();
    f.set_len(8).unwrap();
    f.sync_data().unwrap();
    assert_eq!(content(&fs.crash_image(DROP), "/db/f").unwrap(), [9; 64]);
    f.sync_all().unwrap();
    assert_eq!(content(&fs.crash_image(DROP), "/db/f").unwrap(), [9; 8]);
}

#[test]
fn new_files_need_a_directory_sync() {
    let fs = db();
    let f = fs
        .open(Path::new("/db/new"), OpenOptions::create_new())
        .unwrap();
    f.write_all_at(b"x", 0).unwrap();
    f.sync_all().unwrap();
    assert_eq!(content(&fs.crash_image(DROP), "/db/new"), None);
    fs.sync_dir(Path::new("/db")).unwrap();
    assert_eq!(content(&fs.crash_image(DROP), "/db/new").unwrap(), b"x");
}

#[test]
fn new_directories_need_their_parent_synced() {
    let fs = db();
    fs.create_dir_all(Path::new("/db/wal")).unwrap();
    durable_file(&fs, "/db/wal/1.log"); // syncs /db/wal, not /db
    assert!(!fs.crash_image(DROP).exists(Path::new("/db/wal")).unwrap());
    fs.sync_dir(Path::new("/db")).unwrap();
    let after = fs.crash_image(DROP);
    assert_eq!(after.files(), [Path::new("/db/wal/1.log")]);
}

#[test]
fn rename_and_remove_are_durable_after_the_directory_sync() {
    let fs = db();
    let old = durable_file(&fs, "/db/target");
    old.write_all_at(b"old", 0).unwrap();
    old.sync_all().unwrap();
    let new = durable_file(&fs, "/db/target.tmp");
    new.write_all_at(b"new", 0).unwrap();
    new.sync_all().unwrap();
    fs.rename(Path::new("/db/target.tmp"), Path::new("/db/target"))
        .unwrap();
    let after = fs.crash_image(DROP);
    assert_eq!(content(&after, "/db/target").unwrap(), b"old");
    assert_eq!(content(&after, "/db/target.tmp").unwrap(), b"new");
    fs.sync_dir(Path::new("/db")).unwrap();
    let after = fs.crash_image(DROP);
    assert_eq!(after.files(), [Path::new("/db/target")]);
    assert_eq!(content(&after, "/db/target").unwrap(), b"new");

    fs.remove_file(Path::new("/db/target")).unwrap();
    assert!(
        fs.crash_image(DROP)
            .exists(Path::new("/db/target"))
            .unwrap()
    );
    fs.sync_dir(Path::new("/db")).unwrap();
    assert!(fs.crash_image(DROP).files().is_empty());
}

#[test]
fn rename_across_directories_needs_both_synced() {
    let fs = db();
    fs.create_dir_all(Path::new("/db/a")).unwrap();
    fs.create_dir_all(Path::new("/db/b")).unwrap();
    fs.sync_dir(Path::new("/db")).unwrap();
    durable_file(&fs, "/db/a/f").write_all_at(b"f", 0).unwrap();
    fs.rename(Path::new("/db/a/f"), Path::new("/db/b/f"))
        .unwrap();
    fs.sync_dir(Path::new("/db/b")).unwrap();
    // Only the destination is durable: the file shows up under both names.
    assert_eq!(
        fs.crash_image(DROP).files(),
        [Path::new("/db/a/f"), Path::new("/db/b/f")]
    );
    fs.sync_dir(Path::new("/db/a")).unwrap();
    assert_eq!(fs.crash_image(DROP).files(), [Path::new("/db/b/f")]);
}

#[test]
fn crash_images_are_independent_and_unlocked() {
    let fs = db();
    let _guard = fs.try_lock_exclusive(Path::new("/db/LOCK")).unwrap();
    fs.sync_dir(Path::new("/db")).unwrap();
    let after = fs.crash_image(DROP);
    let _relock = after.try_lock_exclusive(Path::new("/db/LOCK")).unwrap();
    durable_file(&after, "/db/x");
    assert!(!fs.exists(Path::new("/db/x")).unwrap());
    assert_eq!(after.sync_count(), 2);
}

#[test]
fn removed_but_open_files_do_not_survive() {
    let fs = db();
    let f = durable_file(&fs, "/db/f");
    fs.remove_file(Path::new("/db/f")).unwrap();
    fs.sync_dir(Path::new("/db")).unwrap();
    f.write_all_at(b"orphan", 0).unwrap();
    f.sync_all().unwrap();
    assert!(fs.crash_image(DROP).files().is_empty());
}

#[test]
fn sync_count_counts_every_sync() {
    let fs = MemFs::new();
    let f = fs.open(Path::new("/f"), OpenOptions::create_new()).unwrap();
    f.sync_data().unwrap();
    f.sync_all().unwrap();
    fs.sync_dir(Path::new("/")).unwrap();
    assert_eq!(fs.sync_count(), 3);
}

/// Random images show every outcome of an unsynced append: nothing, all, a torn prefix.
#[test]
fn random_mode_tears_and_fills_with_garbage() {
    let fs = db();
    let f = durable_file(&fs, "/db/f");
    f.write_all_at(&[0xAB; 2048], 0).unwrap();
    let (mut empty, mut full, mut torn) = (0, 0, 0);
    for seed in 0..200 {
        let image = content(&fs.crash_image(CrashMode::Random { seed }), "/db/f").unwrap();
        match image.len() {
            0 => empty += 1,
            2048 => {
                let landed = image.iter().take_while(|&&b| b == 0xAB).count();
                if landed == 2048 {
                    full += 1;
                } else {
                    assert_eq!(landed % mnemodb_io::SECTOR, 0, "torn inside a sector");
                    torn += 1;
                }
            }
            n => panic!("length {n} was never a length of the file"),
        }
    }
    assert!(empty > 0 && full > 0 && torn > 0, "{empty} {full} {torn}");
}

/// A rename inside one directory lands whole: the new name comes exactly when the old goes.
#[test]
fn random_mode_renames_are_atomic() {
    let fs = db();
    durable_file(&fs, "/db/a").write_all_at(b"A", 0).unwrap();
    durable_file(&fs, "/db/b").write_all_at(b"B", 0).unwrap();
    let (a, b) = (Path::new("/db/a"), Path::new("/db/b"));
    fs.open(a, OpenOptions::read_write())
        .unwrap()
        .sync_all()
        .unwrap();
    fs.open(b, OpenOptions::read_write())
        .unwrap()
        .sync_all()
        .unwrap();
    fs.rename(a, b).unwrap();
    let mut outcomes = BTreeSet::new();
    for seed in 0..64 {
        let after = fs.crash_image(CrashMode::Random { seed });
        outcomes.insert((content(&after, "/db/a"), content(&after, "/db/b")));
    }
    let before = (Some(b"A".to_vec()), Some(b"B".to_vec()));
    let renamed = (None, Some(b"A".to_vec()));
    assert_eq!(outcomes, BTreeSet::from([before, renamed]));
}

#[test]
fn random_mode_is_deterministic_per_seed() {
    let fs = db();
    let f = durable_file(&fs, "/db/f");
    for i in 0..20u8 {
        f.write_all_at(&[i; 700], u64::from(i) * 300).unwrap();
    }
    fs.open(Path::new("/db/g"), OpenOptions::create_new())
        .unwrap();
    let image = |seed| {
        let after = fs.crash_image(CrashMode::Random { seed });
        let files = after.files();
        let contents: Vec<_> = files.iter().map(|p| after.read_all(p).unwrap()).collect();
        (files, contents)
    };
    assert_eq!(image(5), image(5));
    let distinct: BTreeSet<_> = (0..10).map(image).collect();
    assert!(
        distinct.len() > 5,
        "seeds barely matter: {}",
        distinct.len()
    );
}

#[derive(Debug, Clone)]
enum Op {
    Write { offset: u64, bytes: Vec<u8> },
    SetLen(u64),
    SyncData,
    SyncAll,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u64..4096, prop::collection::vec(any::<u8>(), 1..1500))
            .prop_map(|(offset, bytes)| Op::Write { offset, bytes }),
        1 => (0u64..5000).prop_map(Op::SetLen),
        1 => Just(Op::SyncData),
        1 => Just(Op::SyncAll),
    ]
}

/// What the test knows independently of `MemFs`'s internals.
#[derive(Default)]
struct Model {
    live: Vec<u8>,
    /// Data made durable by the last sync (either kind), overlaid on earlier syncs.
    synced: Vec<u8>,
    durable_len: usize,
    unsynced: Vec<(usize, Vec<u8>)>,
    lens_since_sync_all: Vec<usize>,
}

impl Model {
    fn apply(&mut self, op: &Op) {
        match op {
            Op::Write { offset, bytes } => {
                let start = *offset as usize;
                let end = start + bytes.len();
                if end > self.live.len() {
                    self.live.resize(end, 0);
                    self.lens_since_sync_all.push(end);
                }
                self.live[start..end].copy_from_slice(bytes);
                self.unsynced.push((start, bytes.clone()));
            }
            Op::SetLen(len) => {
                self.live.resize(*len as usize, 0);
                self.lens_since_sync_all.push(*len as usize);
            }
            Op::SyncData | Op::SyncAll => {
                if self.synced.len() < self.live.len() {
                    self.synced.resize(self.live.len(), 0);
                }
                self.synced[..self.live.len()].copy_from_slice(&self.live);
                self.unsynced.clear();
                if matches!(op, Op::SyncAll) {
                    self.synced.truncate(self.live.len());
                    self.durable_len = self.live.len();
                    self.lens_since_sync_all.clear();
                }
            }
        }
    }

    /// Whether `image` is a possible crash outcome.
    fn check(&self, image: &[u8]) -> Result<(), TestCaseError> {
        let len_ok =
            image.len() == self.durable_len || self.lens_since_sync_all.contains(&image.len());
        prop_assert!(len_ok, "impossible length {}", image.len());
        for (p, &b) in image.iter().enumerate() {
            if p >= self.durable_len || self.synced.get(p) == Some(&b) {
                continue;
            }
            let written = self
                .unsynced
                .iter()
                .any(|(off, bytes)| p >= *off && bytes.get(p - off) == Some(&b));
            prop_assert!(written, "byte {p} = {b:#x}: neither durable nor written");
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Every byte of every crash image is the durable byte, a byte some unsynced write put
    /// at that offset, or (past the durable length) garbage; the durable image is exact.
    #[test]
    fn crash_images_hold_only_possible_bytes(
        ops in prop::collection::vec(op(), 1..24),
        seeds in prop::collection::vec(any::<u64>(), 4),
    ) {
        let fs = db();
        let f = durable_file(&fs, "/db/f");
        let mut model = Model::default();
        for op in &ops {
            match op {
                Op::Write { offset, bytes } => f.write_all_at(bytes, *offset).unwrap(),
                Op::SetLen(len) => f.set_len(*len).unwrap(),
                Op::SyncData => f.sync_data().unwrap(),
                Op::SyncAll => f.sync_all().unwrap(),
            }
            model.apply(op);
        }
        prop_assert_eq!(content(&fs, "/db/f").unwrap(), model.live.clone());
        let durable = content(&fs.crash_image(DROP), "/db/f").unwrap();
        prop_assert_eq!(&durable[..], &model.synced[..model.durable_len]);
        for seed in seeds {
            let image = content(&fs.crash_image(CrashMode::Random { seed }), "/db/f").unwrap();
            model.check(&image)?;
        }
    }
}
