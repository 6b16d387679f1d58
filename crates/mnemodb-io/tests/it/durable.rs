//! `durable_replace`, `durable_rename` and `SeqWriter`, including failure at every step.
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use mnemodb_io::{
    CrashMode, FaultOp, FaultyFs, Fs, InjectedError, MemFs, OpenOptions, SeqWriter, durable_rename,
    durable_replace, temp_path,
};

const TARGET: &str = "/db/MANIFEST";

/// A MemFs whose `/db/MANIFEST` durably holds `old`.
fn with_old(old: &[u8]) -> MemFs {
    let fs = MemFs::new();
    fs.create_dir_all(Path::new("/db")).unwrap();
    fs.sync_dir(Path::new("/")).unwrap();
    durable_replace(&fs, Path::new(TARGET), old).unwrap();
    fs
}

#[test]
fn replace_is_durable() {
    let fs = with_old(b"old");
    durable_replace(&fs, Path::new(TARGET), b"new content").unwrap();
    let after = fs.crash_image(CrashMode::DropUnsynced);
    assert_eq!(after.files(), [Path::new(TARGET)], "no temp file left");
    assert_eq!(after.read_all(Path::new(TARGET)).unwrap(), b"new content");
}

#[test]
fn replace_on_std_fs() {
    let dir = crate::scratch();
    let path = dir.path().join("MANIFEST");
    for content in [&b"first, longer"[..], b"second"] {
        durable_replace(&mnemodb_io::StdFs, &path, content).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), content);
    }
    assert!(!temp_path(&path).exists());
}

/// Fail the nth call of any kind, for every n until the replace succeeds untouched; after
/// each failure every crash image holds the old or the new content, never a mix.
#[test]
fn replace_survives_a_failure_at_every_step() {
    let old: &[u8] = b"old state";
    let new: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
    for persistent in [false, true] {
        for error in [InjectedError::Io, InjectedError::NoSpace] {
            let mut failures = 0;
            for n in 1.. {
                let mem = with_old(old);
                let fs = FaultyFs::new(Arc::new(mem.clone()));
                fs.controller().set_torn_write(true);
                fs.controller().fail_nth(FaultOp::Any, n, error, persistent);
                let result = durable_replace(&fs, Path::new(TARGET), &new);
                if fs.controller().fired() == 0 {
                    result.unwrap();
                    let after = mem.crash_image(CrashMode::DropUnsynced);
                    assert_eq!(after.read_all(Path::new(TARGET)).unwrap(), new);
                    break;
                }
                failures += 1;
                let err = result.expect_err("an injected failure must surface");
                assert_eq!(err.is_no_space(), error == InjectedError::NoSpace, "{err}");
                if !persistent {
                    assert!(
                        !mem.exists(&temp_path(Path::new(TARGET))).unwrap(),
                        "n={n}: temp file left behind: {err}"
                    );
                }
                let mut images = vec![mem.crash_image(CrashMode::DropUnsynced)];
                images.extend((0..8).map(|seed| mem.crash_image(CrashMode::Random { seed })));
                for image in images {
                    let got = image.read_all(Path::new(TARGET)).unwrap();
                    assert!(
                        got == old || got == new,
                        "n={n} persistent={persistent}: mixed content ({} bytes)",
                        got.len()
                    );
                }
                // The live file system is usable again once the fault is gone.
                fs.controller().disarm();
                durable_replace(&fs, Path::new(TARGET), &new).unwrap();
                assert_eq!(mem.read_all(Path::new(TARGET)).unwrap(), new);
            }
            // create, write, sync, rename, sync dir: each step can fail.
            assert!(failures >= 5, "only {failures} failure points");
        }
    }
}

#[test]
fn rename_syncs_both_directories() {
    let fs = MemFs::new();
    for dir in ["/a", "/b"] {
        fs.create_dir_all(Path::new(dir)).unwrap();
    }
    fs.sync_dir(Path::new("/")).unwrap();
    let f = fs
        .open(Path::new("/a/f"), OpenOptions::create_new())
        .unwrap();
    f.write_all_at(b"f", 0).unwrap();
    f.sync_all().unwrap();
    fs.sync_dir(Path::new("/a")).unwrap();

    let before = fs.sync_count();
    durable_rename(&fs, Path::new("/a/f"), Path::new("/b/f")).unwrap();
    assert_eq!(fs.sync_count() - before, 2);
    let after = fs.crash_image(CrashMode::DropUnsynced);
    assert_eq!(after.files(), [Path::new("/b/f")]);

    let before = fs.sync_count();
    durable_rename(&fs, Path::new("/b/f"), Path::new("/b/g")).unwrap();
    assert_eq!(fs.sync_count() - before, 1, "one directory, one sync");
    let after = fs.crash_image(CrashMode::DropUnsynced);
    assert_eq!(after.files(), [Path::new("/b/g")]);
}

#[test]
fn errors_name_the_step_and_path() {
    let mem = with_old(b"old");
    let fs = FaultyFs::new(Arc::new(mem));
    fs.controller()
        .fail_nth(FaultOp::SyncDir, 1, InjectedError::Io, false);
    let err = durable_replace(&fs, Path::new(TARGET), b"new").unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("sync directory /db: "), "{msg}");
    match err {
        mnemodb_io::Error::Io { path, op, source } => {
            assert_eq!(path, Path::new("/db"));
            assert_eq!(op, "sync directory");
            assert_eq!(source.raw_os_error(), Some(5));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn seq_writer_writes_everything_in_order() {
    let fs = MemFs::new();
    let file = fs.open(Path::new("/f"), OpenOptions::create_new()).unwrap();
    let mut w = SeqWriter::with_capacity(file.clone(), 4, 10);
    let mut expected = vec![0u8; 4];
    for i in 0..50u8 {
        let chunk = vec![i; usize::from(i % 13)];
        w.write_all(&chunk).unwrap();
        expected.extend(&chunk);
        assert_eq!(w.position(), expected.len() as u64);
    }
    let big = vec![0xEE; 25]; // larger than the buffer: written through
    w.write_all(&big).unwrap();
    expected.extend(&big);
    assert_eq!(w.finish().unwrap(), expected.len() as u64);
    assert_eq!(fs.read_all(Path::new("/f")).unwrap(), expected);
}

#[test]
fn seq_writer_drop_does_not_write_and_retry_after_failure_works() {
    let mem = MemFs::new();
    let fs = FaultyFs::new(Arc::new(mem.clone()));
    let file = fs.open(Path::new("/f"), OpenOptions::create_new()).unwrap();
    let mut w = SeqWriter::new(file.clone(), 0);
    w.write_all(b"buffered").unwrap();
    drop(w);
    assert_eq!(mem.read_all(Path::new("/f")).unwrap(), b"");

    let mut w = SeqWriter::new(file, 0);
    w.write_all(b"record").unwrap();
    fs.controller()
        .fail_nth(FaultOp::Write, 1, InjectedError::NoSpace, false);
    assert_eq!(w.flush().unwrap_err().raw_os_error(), Some(28));
    assert_eq!(w.position(), 6, "the buffer is kept");
    assert_eq!(w.finish().unwrap(), 6);
    assert_eq!(mem.read_all(Path::new("/f")).unwrap(), b"record");
}
