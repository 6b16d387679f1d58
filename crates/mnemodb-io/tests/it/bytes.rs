//! `ReadOnlyBytes` from real files: maps and reads, aligned, empty files.
use mnemodb_io::{ALIGNMENT, Fs, ReadOnlyBytes, StdFs};

#[test]
fn mapped_and_read_content_equal_what_was_written() {
    let dir = crate::scratch();
    let path = dir.path().join("seg");
    let data: Vec<u8> = (0..70_000u32).map(|i| (i * 31 % 256) as u8).collect();
    std::fs::write(&path, &data).unwrap();

    let mapped = StdFs.map_readonly(&path).unwrap();
    assert!(mapped.is_mapped());
    let read = ReadOnlyBytes::read_file(&path).unwrap();
    assert!(!read.is_mapped());
    for bytes in [&mapped, &read] {
        assert_eq!(&bytes[..], &data[..]);
        assert_eq!(bytes.as_ptr() as usize % ALIGNMENT, 0);
    }
    // The map outlives the file's directory entry.
    std::fs::remove_file(&path).unwrap();
    let shared = mapped.clone();
    drop(mapped);
    assert_eq!(&shared[..], &data[..]);
}

#[test]
fn empty_files() {
    let dir = crate::scratch();
    let path = dir.path().join("empty");
    std::fs::write(&path, b"").unwrap();
    for bytes in [
        StdFs.map_readonly(&path).unwrap(),
        ReadOnlyBytes::read_file(&path).unwrap(),
    ] {
        assert!(bytes.is_empty());
        assert!(!bytes.is_mapped());
        assert_eq!(bytes.as_ptr() as usize % ALIGNMENT, 0);
    }
}

#[test]
fn read_file_of_a_missing_file_is_not_found() {
    let dir = crate::scratch();
    let err = ReadOnlyBytes::read_file(&dir.path().join("nope")).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
}
