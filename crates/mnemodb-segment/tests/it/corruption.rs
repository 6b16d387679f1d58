//! Corrupt-file tests: patch bytes on disk, expect a typed refusal naming the file and the
//! offset; never a panic, never wrong data.
use std::path::Path;

use mnemodb_distance::Metric;
use mnemodb_format::{FileKind, FilePrefix, FormatError};
use mnemodb_io::{ReadOnlyBytes, StdFs};
use mnemodb_segment::{Error, OpenOptions, SegmentReader};
use mnemodb_testkit::{corrupt, scratch_dir, vectors};

use crate::write_segment;

fn open_verified(bytes: &[u8]) -> Result<SegmentReader, Error> {
    let r = SegmentReader::from_bytes(ReadOnlyBytes::copy_from_slice(bytes), Path::new("seg.vec"))?;
    r.verify()?;
    Ok(r)
}

fn sample_file() -> Vec<u8> {
    let dir = scratch_dir();
    let path = dir.path().join("seg.vec");
    // dim 5: rows carry padding; 4 rows per block: several blocks and a short last one.
    write_segment(
        &StdFs,
        &path,
        Metric::L2,
        &vectors::random_rows(10, 5, 3),
        5,
        Some(4),
    );
    std::fs::read(path).unwrap()
}

#[test]
fn every_single_bit_flip_is_detected() {
    let good = sample_file();
    assert!(open_verified(&good).is_ok());
    for bit in 0..good.len() * 8 {
        let mut bad = good.clone();
        corrupt::flip_bit_in(&mut bad, bit);
        match open_verified(&bad) {
            Ok(_) => panic!("flip of bit {bit} (byte {}) went undetected", bit / 8),
            Err(Error::Format(e)) => {
                let off = e.offset().expect("offset");
                assert!(
                    off <= good.len() as u64,
                    "bit {bit}: offset {off} beyond file"
                );
                assert!(e.to_string().contains("seg.vec"), "{e}");
            }
            Err(other) => panic!("bit {bit}: unexpected error kind {other}"),
        }
    }
}

#[test]
fn every_truncation_and_extension_is_refused() {
    let good = sample_file();
    for len in 0..good.len() {
        let err = open_verified(&good[..len])
            .err()
            .unwrap_or_else(|| panic!("len {len} opened"));
        assert!(matches!(err, Error::Format(_)), "len {len}: {err}");
    }
    let mut longer = good.clone();
    longer.extend_from_slice(&[0; 64]);
    assert!(open_verified(&longer).is_err());
}

#[test]
fn foreign_future_and_wrong_kind_files_are_typed() {
    let good = sample_file();
    let mut future = good.clone();
    future[12..16].copy_from_slice(&2u32.to_le_bytes());
    assert!(matches!(
        open_verified(&future),
        Err(Error::Format(FormatError::UnsupportedVersion {
            found: 2,
            ..
        }))
    ));
    let wrong = bytemuck::bytes_of(&FilePrefix::new(FileKind::HnswIndex)).to_vec();
    assert!(matches!(
        open_verified(&wrong),
        Err(Error::Format(FormatError::WrongKind { .. }))
    ));
    assert!(matches!(
        open_verified(b"PK\x03\x04 this is a zip file, not a segment........"),
        Err(Error::Format(FormatError::NotMnemodb { .. }))
    ));
    assert!(matches!(
        open_verified(&[]),
        Err(Error::Format(FormatError::Corrupted { .. }))
    ));
}

#[test]
fn on_disk_patch_names_file_and_offset() {
    let dir = scratch_dir();
    let path = dir.path().join("seg-9.vec");
    write_segment(
        &StdFs,
        &path,
        Metric::L2,
        &vectors::random_rows(100, 16, 4),
        16,
        Some(8),
    );
    let seg = SegmentReader::open(&StdFs, &path).unwrap();
    let row_50 = seg.layout().rows_offset + 50 * seg.layout().row_stride;
    drop(seg);
    corrupt::patch(&path, row_50 + 4, &[0xff, 0xff, 0xff, 0x7f]).unwrap(); // a NaN in row 50
    // Open stays O(1) and succeeds; verify catches the damaged block.
    let seg = SegmentReader::open(&StdFs, &path).unwrap();
    let err = seg.verify().unwrap_err().to_string();
    assert!(
        err.contains("seg-9.vec") && err.contains("block 6"),
        "{err}"
    );
    let err = SegmentReader::open_with(&StdFs, &path, OpenOptions { verify: true })
        .unwrap_err()
        .to_string();
    assert!(err.contains("byte offset"), "{err}");
}

#[test]
fn missing_file_is_an_io_error_with_path() {
    let err = SegmentReader::open(&StdFs, Path::new("/nonexistent/seg-1.vec")).unwrap_err();
    assert!(matches!(err, Error::Io(_)), "{err}");
    assert!(err.to_string().contains("/nonexistent/seg-1.vec"), "{err}");
}
