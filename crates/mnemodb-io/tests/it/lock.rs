//! The database lock on the real file system: flock semantics, in and across processes.
use std::io::ErrorKind;
use std::path::Path;
use std::process::Command;

use mnemodb_io::{Fs, StdFs, lock_database};

#[test]
fn second_handle_in_the_same_process_is_refused() {
    let dir = crate::scratch();
    let path = dir.path().join("LOCK");
    let guard = lock_database(&StdFs, &path).unwrap();
    let err = StdFs.try_lock_exclusive(&path).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WouldBlock);
    let err = lock_database(&StdFs, &path).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "database is locked: another process holds {}",
            path.display()
        )
    );
    drop(guard);
    lock_database(&StdFs, &path).unwrap();
}

#[test]
fn lock_error_other_than_contention_is_io() {
    let err = lock_database(&StdFs, Path::new("/nonexistent-dir-mnemodb/LOCK")).unwrap_err();
    assert!(
        matches!(err, mnemodb_io::Error::Io { op: "lock", .. }),
        "{err}"
    );
}

/// Another process (`flock -n`) sees the lock while the guard lives, and not after.
#[test]
fn another_process_sees_the_lock() {
    let flock = Path::new("/usr/bin/flock");
    if !flock.exists() {
        eprintln!("SKIP: no {}", flock.display());
        return;
    }
    let dir = crate::scratch();
    let path = dir.path().join("LOCK");
    let try_from_child = || {
        Command::new(flock)
            .arg("-n")
            .arg(&path)
            .arg("true")
            .status()
            .unwrap()
            .success()
    };
    let guard = lock_database(&StdFs, &path).unwrap();
    assert!(!try_from_child(), "the child took a held lock");
    drop(guard);
    assert!(try_from_child(), "the lock was not released");
}
