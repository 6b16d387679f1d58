//! The same behaviour from `StdFs` (on a real directory) and `MemFs`: every check here runs
//! against both.
use std::ffi::OsString;
use std::io::ErrorKind;
use std::path::Path;

use mnemodb_io::{ALIGNMENT, Fs, OpenOptions};

macro_rules! conformance_tests {
    ($($name:ident),* $(,)?) => {
        mod std_fs {
            $(
                #[test]
                fn $name() {
                    let dir = crate::scratch();
                    super::$name(&mnemodb_io::StdFs, dir.path());
                }
            )*
        }
        mod mem_fs {
            $(
                #[test]
                fn $name() {
                    use mnemodb_io::Fs;
                    let fs = mnemodb_io::MemFs::new();
                    let root = std::path::Path::new("/scratch");
                    fs.create_dir_all(root).unwrap();
                    super::$name(&fs, root);
                }
            )*
        }
    };
}

conformance_tests!(
    read_write_at_offsets,
    open_options,
    set_len_truncates_and_extends,
    rename_replaces_and_handles_follow,
    remove_file_keeps_open_handles,
    read_dir_is_sorted,
    exists_and_file_len,
    map_readonly_content,
    lock_is_exclusive_until_dropped,
    directories,
);

fn read_write_at_offsets(fs: &dyn Fs, root: &Path) {
    let path = root.join("f");
    let f = fs.open(&path, OpenOptions::create_new()).unwrap();
    assert_eq!(f.len().unwrap(), 0);
    f.write_all_at(b"hello", 0).unwrap();
    f.write_all_at(b"world", 10).unwrap();
    f.write_all_at(b"", 100).unwrap(); // an empty write does not grow the file
    assert_eq!(f.len().unwrap(), 15);
    let mut buf = [0xAA; 15];
    f.read_exact_at(&mut buf, 0).unwrap();
    assert_eq!(&buf, b"hello\0\0\0\0\0world");
    let mut tail = [0; 4];
    f.read_exact_at(&mut tail, 11).unwrap();
    assert_eq!(&tail, b"orld");
    let err = f.read_exact_at(&mut tail, 12).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
    f.sync_data().unwrap();
    f.sync_all().unwrap();

    let ro = fs.open(&path, OpenOptions::read()).unwrap();
    let mut buf = [0; 5];
    ro.read_exact_at(&mut buf, 0).unwrap();
    assert_eq!(&buf, b"hello");
    assert!(ro.write_all_at(b"x", 0).is_err(), "read-only handle wrote");
    assert!(ro.set_len(0).is_err(), "read-only handle truncated");
    assert_eq!(fs.file_len(&path).unwrap(), 15);
}

fn open_options(fs: &dyn Fs, root: &Path) {
    let path = root.join("f");
    let kind = |r: std::io::Result<_>| r.map(|_| ()).unwrap_err().kind();
    assert_eq!(
        kind(fs.open(&path, OpenOptions::read())),
        ErrorKind::NotFound
    );
    let f = fs.open(&path, OpenOptions::read_write()).unwrap();
    f.write_all_at(b"abc", 0).unwrap();
    drop(f);
    assert_eq!(
        kind(fs.open(&path, OpenOptions::create_new())),
        ErrorKind::AlreadyExists
    );
    let f = fs.open(&path, OpenOptions::read_write()).unwrap();
    assert_eq!(f.len().unwrap(), 3, "read_write must not truncate");
    let f = fs.open(&path, OpenOptions::create_truncate()).unwrap();
    assert_eq!(f.len().unwrap(), 0);

    let under_missing = root.join("missing/f");
    for opts in [OpenOptions::read(), OpenOptions::read_write()] {
        assert_eq!(kind(fs.open(&under_missing, opts)), ErrorKind::NotFound);
    }
    fs.create_dir_all(&root.join("d")).unwrap();
    for opts in [OpenOptions::read(), OpenOptions::read_write()] {
        assert_eq!(
            kind(fs.open(&root.join("d"), opts)),
            ErrorKind::IsADirectory
        );
    }
    let bogus = OpenOptions {
        create: true,
        ..OpenOptions::default()
    };
    assert_eq!(
        kind(fs.open(&root.join("g"), bogus)),
        ErrorKind::InvalidInput
    );
}

fn set_len_truncates_and_extends(fs: &dyn Fs, root: &Path) {
    let f = fs.open(&root.join("f"), OpenOptions::create_new()).unwrap();
    f.write_all_at(&[7; 100], 0).unwrap();
    f.set_len(10).unwrap();
    assert_eq!(f.len().unwrap(), 10);
    f.set_len(20).unwrap();
    let mut buf = [0xAA; 20];
    f.read_exact_at(&mut buf, 0).unwrap();
    assert_eq!(&buf[..10], &[7; 10]);
    assert_eq!(&buf[10..], &[0; 10], "extension reads as zeros");
}

fn rename_replaces_and_handles_follow(fs: &dyn Fs, root: &Path) {
    let (a, b) = (root.join("a"), root.join("b"));
    let fa = fs.open(&a, OpenOptions::create_new()).unwrap();
    fa.write_all_at(b"new", 0).unwrap();
    let fb = fs.open(&b, OpenOptions::create_new()).unwrap();
    fb.write_all_at(b"old!", 0).unwrap();
    fs.rename(&a, &b).unwrap();
    assert!(!fs.exists(&a).unwrap());
    assert_eq!(fs.file_len(&b).unwrap(), 3);
    // The handle refers to the file, not the name.
    fa.write_all_at(b"N", 0).unwrap();
    let mut buf = [0; 3];
    fs.open(&b, OpenOptions::read())
        .unwrap()
        .read_exact_at(&mut buf, 0)
        .unwrap();
    assert_eq!(&buf, b"New");
    // Renaming onto itself is a no-op; a missing source is NotFound.
    fs.rename(&b, &b).unwrap();
    assert_eq!(fs.file_len(&b).unwrap(), 3);
    assert_eq!(fs.rename(&a, &b).unwrap_err().kind(), ErrorKind::NotFound);
    // Across directories.
    fs.create_dir_all(&root.join("sub")).unwrap();
    fs.rename(&b, &root.join("sub/c")).unwrap();
    assert_eq!(
        fs.read_dir(&root.join("sub")).unwrap(),
        [OsString::from("c")]
    );
    assert!(!fs.exists(&b).unwrap());
}

fn remove_file_keeps_open_handles(fs: &dyn Fs, root: &Path) {
    let path = root.join("f");
    let f = fs.open(&path, OpenOptions::create_new()).unwrap();
    f.write_all_at(b"data", 0).unwrap();
    fs.remove_file(&path).unwrap();
    assert!(!fs.exists(&path).unwrap());
    assert_eq!(
        fs.remove_file(&path).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    // POSIX: the orphaned file lives on while a handle is open.
    f.write_all_at(b"!", 4).unwrap();
    let mut buf = [0; 5];
    f.read_exact_at(&mut buf, 0).unwrap();
    assert_eq!(&buf, b"data!");
    // A new file at the same path is a different file.
    let g = fs.open(&path, OpenOptions::create_new()).unwrap();
    assert_eq!(g.len().unwrap(), 0);
    fs.create_dir_all(&root.join("d")).unwrap();
    assert!(fs.remove_file(&root.join("d")).is_err());
}

fn read_dir_is_sorted(fs: &dyn Fs, root: &Path) {
    for name in ["b", "a", "c.tmp", "B"] {
        fs.open(&root.join(name), OpenOptions::create_new())
            .unwrap();
    }
    fs.create_dir_all(&root.join("dir")).unwrap();
    let names = fs.read_dir(root).unwrap();
    assert_eq!(names, ["B", "a", "b", "c.tmp", "dir"].map(OsString::from));
    assert_eq!(
        mnemodb_io::temp_files(fs, root).unwrap(),
        [OsString::from("c.tmp")]
    );
    assert_eq!(
        fs.read_dir(&root.join("nope")).unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

fn exists_and_file_len(fs: &dyn Fs, root: &Path) {
    let path = root.join("f");
    assert!(!fs.exists(&path).unwrap());
    assert!(fs.exists(root).unwrap());
    assert_eq!(fs.file_len(&path).unwrap_err().kind(), ErrorKind::NotFound);
    fs.open(&path, OpenOptions::create_new())
        .unwrap()
        .write_all_at(&[1; 1234], 0)
        .unwrap();
    assert!(fs.exists(&path).unwrap());
    assert_eq!(fs.file_len(&path).unwrap(), 1234);
}

fn map_readonly_content(fs: &dyn Fs, root: &Path) {
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    let path = root.join("f");
    let f = fs.open(&path, OpenOptions::create_new()).unwrap();
    f.write_all_at(&data, 0).unwrap();
    f.sync_all().unwrap();
    let bytes = fs.map_readonly(&path).unwrap();
    assert_eq!(&bytes[..], &data[..]);
    assert_eq!(bytes.as_ptr() as usize % ALIGNMENT, 0);
    let copy = bytes.clone();
    drop(bytes);
    assert_eq!(copy.len(), data.len());

    let empty = root.join("empty");
    fs.open(&empty, OpenOptions::create_new()).unwrap();
    let bytes = fs.map_readonly(&empty).unwrap();
    assert!(bytes.is_empty());
    assert_eq!(bytes.as_ptr() as usize % ALIGNMENT, 0);
    assert_eq!(
        fs.map_readonly(&root.join("missing")).unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

fn lock_is_exclusive_until_dropped(fs: &dyn Fs, root: &Path) {
    let path = root.join("LOCK");
    let guard = fs.try_lock_exclusive(&path).unwrap();
    assert!(fs.exists(&path).unwrap(), "the lock file is created");
    let err = fs.try_lock_exclusive(&path).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WouldBlock);
    let locked = mnemodb_io::lock_database(fs, &path).unwrap_err();
    assert!(
        matches!(locked, mnemodb_io::Error::Locked { .. }),
        "{locked}"
    );
    // Another path is independent.
    let other = fs.try_lock_exclusive(&root.join("LOCK2")).unwrap();
    drop(guard);
    let again = fs.try_lock_exclusive(&path).unwrap();
    drop((again, other));
    assert!(
        fs.try_lock_exclusive(&root.join("missing/LOCK")).is_err(),
        "a lock under a missing directory"
    );
}

fn directories(fs: &dyn Fs, root: &Path) {
    let deep = root.join("a/b/c");
    fs.create_dir_all(&deep).unwrap();
    fs.create_dir_all(&deep).unwrap(); // idempotent
    fs.sync_dir(&deep).unwrap();
    fs.sync_dir(root).unwrap();
    assert!(fs.exists(&root.join("a/b")).unwrap());
    assert_eq!(
        fs.sync_dir(&root.join("nope")).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    fs.open(&root.join("file"), OpenOptions::create_new())
        .unwrap();
    assert!(
        fs.create_dir_all(&root.join("file/x")).is_err(),
        "a file is in the way"
    );
    assert!(
        fs.open(&root.join("file/x"), OpenOptions::read_write())
            .is_err(),
        "a file used as a directory"
    );
}
