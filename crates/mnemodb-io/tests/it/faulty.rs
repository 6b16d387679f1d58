//! `FaultyFs`: the nth call fails with the right errno, once or forever, torn or not.
use std::io::ErrorKind;
use std::path::Path;
use std::sync::Arc;

use mnemodb_io::{FaultOp, FaultyFs, Fs, InjectedError, MemFs, OpenOptions};

fn setup() -> (MemFs, FaultyFs, Arc<dyn mnemodb_io::FileHandle>) {
    let mem = MemFs::new();
    let fs = FaultyFs::new(Arc::new(mem.clone()));
    let f = fs.open(Path::new("/f"), OpenOptions::read_write()).unwrap();
    (mem, fs, f)
}

#[test]
fn nth_call_fails_once_with_the_right_errno() {
    let (_, fs, f) = setup();
    let ctl = fs.controller().clone();
    ctl.fail_nth(FaultOp::SyncData, 3, InjectedError::NoSpace, false);
    f.sync_data().unwrap();
    f.sync_all().unwrap(); // another kind: not counted against the rule
    f.sync_data().unwrap();
    let err = f.sync_data().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(28));
    assert_eq!(err.kind(), ErrorKind::StorageFull);
    f.sync_data().unwrap();
    assert_eq!(ctl.fired(), 1);

    ctl.fail_nth(FaultOp::Rename, 1, InjectedError::Io, false);
    let err = fs.rename(Path::new("/f"), Path::new("/g")).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(5));
    assert!(
        fs.exists(Path::new("/f")).unwrap(),
        "a failed call does nothing"
    );
}

#[test]
fn persistent_failures_never_stop_until_disarmed() {
    let (_, fs, f) = setup();
    let ctl = fs.controller();
    ctl.fail_nth(FaultOp::Write, 2, InjectedError::Io, true);
    f.write_all_at(b"a", 0).unwrap();
    for i in 1..10 {
        assert!(f.write_all_at(b"b", i).is_err());
    }
    assert_eq!(ctl.fired(), 9);
    ctl.disarm();
    f.write_all_at(b"c", 1).unwrap();
}

#[test]
fn torn_write_leaves_a_prefix() {
    let (mem, fs, f) = setup();
    fs.controller().set_torn_write(true);
    fs.controller()
        .fail_nth(FaultOp::Write, 1, InjectedError::NoSpace, false);
    let record: Vec<u8> = (0..100).collect();
    assert!(f.write_all_at(&record, 10).is_err());
    let content = mem.read_all(Path::new("/f")).unwrap();
    assert_eq!(content.len(), 60);
    assert_eq!(&content[10..], &record[..50]);

    fs.controller().set_torn_write(false);
    fs.controller()
        .fail_nth(FaultOp::Write, 1, InjectedError::NoSpace, false);
    assert!(f.write_all_at(&record, 200).is_err());
    assert_eq!(mem.read_all(Path::new("/f")).unwrap().len(), 60);
}

#[test]
fn counts_per_kind_and_patterns() {
    let (_, fs, f) = setup();
    let ctl = fs.controller();
    f.write_all_at(b"xy", 0).unwrap();
    f.set_len(1).unwrap();
    f.sync_data().unwrap();
    f.sync_all().unwrap();
    fs.sync_dir(Path::new("/")).unwrap();
    let mut buf = [0];
    f.read_exact_at(&mut buf, 0).unwrap();
    f.len().unwrap();
    fs.exists(Path::new("/f")).unwrap();
    assert_eq!(ctl.op_count(FaultOp::Open), 1);
    assert_eq!(ctl.op_count(FaultOp::Write), 1);
    assert_eq!(ctl.op_count(FaultOp::SetLen), 1);
    assert_eq!(ctl.op_count(FaultOp::Sync), 3);
    assert_eq!(ctl.op_count(FaultOp::Stat), 2);
    assert_eq!(ctl.op_count(FaultOp::Any), 9);
    ctl.reset_counts();
    assert_eq!(ctl.op_count(FaultOp::Any), 0);
    // The inner file system is not counted.
    fs.inner().exists(Path::new("/f")).unwrap();
    assert_eq!(ctl.op_count(FaultOp::Any), 0);
}

/// Each kind of call can be failed.
#[test]
fn every_kind_can_fail() {
    type Call = fn(&FaultyFs) -> std::io::Result<()>;
    let calls: [(FaultOp, Call); 14] = [
        (FaultOp::Open, |fs| {
            fs.open(Path::new("/f"), OpenOptions::read()).map(drop)
        }),
        (FaultOp::Read, |fs| {
            let f = fs.open(Path::new("/f"), OpenOptions::read())?;
            f.read_exact_at(&mut [0], 0)
        }),
        (FaultOp::Write, |fs| {
            fs.open(Path::new("/f"), OpenOptions::read_write())?
                .write_all_at(b"z", 0)
        }),
        (FaultOp::SetLen, |fs| {
            fs.open(Path::new("/f"), OpenOptions::read_write())?
                .set_len(0)
        }),
        (FaultOp::SyncData, |fs| {
            fs.open(Path::new("/f"), OpenOptions::read())?.sync_data()
        }),
        (FaultOp::SyncAll, |fs| {
            fs.open(Path::new("/f"), OpenOptions::read())?.sync_all()
        }),
        (FaultOp::SyncDir, |fs| fs.sync_dir(Path::new("/"))),
        (FaultOp::Rename, |fs| {
            fs.rename(Path::new("/f"), Path::new("/f2"))
        }),
        (FaultOp::Remove, |fs| fs.remove_file(Path::new("/f"))),
        (FaultOp::CreateDir, |fs| fs.create_dir_all(Path::new("/d"))),
        (FaultOp::ReadDir, |fs| fs.read_dir(Path::new("/")).map(drop)),
        (FaultOp::Stat, |fs| fs.file_len(Path::new("/f")).map(drop)),
        (FaultOp::Map, |fs| {
            fs.map_readonly(Path::new("/f")).map(drop)
        }),
        (FaultOp::Lock, |fs| {
            fs.try_lock_exclusive(Path::new("/LOCK")).map(drop)
        }),
    ];
    for (op, call) in calls {
        let (_, fs, f) = setup();
        f.write_all_at(b"content", 0).unwrap();
        fs.controller().fail_nth(op, 1, InjectedError::Io, true);
        let err = call(&fs).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(5), "{op:?}");
        fs.controller().disarm();
        call(&fs).unwrap();
    }
}
