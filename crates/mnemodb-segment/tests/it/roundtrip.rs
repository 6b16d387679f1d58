use mnemodb_distance::Metric;
use mnemodb_io::{Fs, MemFs, StdFs};
use mnemodb_segment::{Error, OpenOptions, SegmentOptions, SegmentReader, SegmentWriter};
use mnemodb_testkit::{scratch_dir, vectors};
use proptest::prelude::*;

use crate::write_segment;

#[test]
fn std_fs_round_trip_is_mapped_and_exact() {
    let dir = scratch_dir();
    let path = dir.path().join("seg-1.vec");
    let rows = vectors::random_rows(3000, 37, 1);
    let info = write_segment(&StdFs, &path, Metric::L2, &rows, 37, Some(64));
    assert_eq!(info.row_count, 3000);
    assert_eq!(info.file_len, std::fs::metadata(&path).unwrap().len());
    let seg = SegmentReader::open_with(&StdFs, &path, OpenOptions { verify: true }).unwrap();
    assert!(seg.is_mapped());
    assert_eq!(seg.len(), 3000);
    assert_eq!(seg.dim(), 37);
    assert_eq!(seg.generation(), 7);
    assert_eq!(seg.content_crc(), info.content_crc);
    assert_eq!(
        seg.rows().as_ptr() as usize % 64,
        0,
        "rows are 64-byte aligned"
    );
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(seg.row(i).unwrap(), &r[..]);
        assert_eq!(seg.id(i), Some(1000 + i as u64));
        assert_eq!(seg.row(i).unwrap().as_ptr() as usize % 64, 0);
    }
    assert!(seg.row(3000).is_none());
    // No temp file left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(names.len(), 1);
}

#[test]
fn cosine_rows_are_normalised_and_zero_stays_zero() {
    let fs = MemFs::new();
    fs.create_dir_all("/d".as_ref()).unwrap();
    let path = std::path::Path::new("/d/seg.vec");
    let rows = vec![vec![3.0, 4.0], vec![0.0, 0.0]];
    write_segment(&fs, path, Metric::Cosine, &rows, 2, None);
    let seg = SegmentReader::open(&fs, path).unwrap();
    seg.verify().unwrap();
    assert!(!seg.is_mapped());
    let r = seg.row(0).unwrap();
    assert!((r[0] - 0.6).abs() < 1e-6 && (r[1] - 0.8).abs() < 1e-6);
    assert_eq!(seg.row(1).unwrap(), &[0.0, 0.0]);
    assert_eq!(seg.metric(), Metric::Cosine);
}

#[test]
fn empty_segment_is_valid() {
    let fs = MemFs::new();
    fs.create_dir_all("/d".as_ref()).unwrap();
    let path = std::path::Path::new("/d/seg.vec");
    let info = write_segment(&fs, path, Metric::InnerProduct, &[], 384, None);
    assert_eq!(info.row_count, 0);
    let seg = SegmentReader::open_with(&fs, path, OpenOptions { verify: true }).unwrap();
    assert!(seg.is_empty());
    assert!(seg.rows().is_empty() && seg.ids().is_empty());
}

#[test]
fn bad_vectors_and_duplicate_ids_are_refused() {
    let fs = MemFs::new();
    fs.create_dir_all("/d".as_ref()).unwrap();
    let path = std::path::Path::new("/d/seg.vec");
    let mut w = SegmentWriter::create(&fs, path, SegmentOptions::new(3, Metric::L2, 1)).unwrap();
    let err = w.push(1, &[1.0, 2.0]).unwrap_err();
    assert!(
        matches!(err, Error::InvalidVector { row: 0, id: 1, .. }),
        "{err}"
    );
    let err = w.push(1, &[1.0, f32::NAN, 2.0]).unwrap_err();
    assert!(
        err.to_string().contains("index 1") || err.to_string().contains("component 1"),
        "{err}"
    );
    w.push(5, &[1.0, 2.0, 3.0]).unwrap();
    w.push(5, &[1.0, 2.0, 3.0]).unwrap();
    let err = w.finish().unwrap_err();
    assert!(matches!(err, Error::DuplicateId { id: 5, .. }), "{err}");
    assert!(
        !fs.exists(path).unwrap(),
        "a failed segment is never published"
    );

    for dim in [0u32, 65_537] {
        let err =
            SegmentWriter::create(&fs, path, SegmentOptions::new(dim, Metric::L2, 1)).unwrap_err();
        assert!(matches!(err, Error::InvalidOptions { .. }), "{err}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn any_shape_round_trips((dim, rows) in vectors::matrix(70, 40), block in 1u32..9) {
        let fs = MemFs::new();
        fs.create_dir_all("/d".as_ref()).unwrap();
        let path = std::path::Path::new("/d/seg.vec");
        write_segment(&fs, path, Metric::L2, &rows, dim, Some(block));
        let seg = SegmentReader::open_with(&fs, path, OpenOptions { verify: true }).unwrap();
        prop_assert_eq!(seg.len(), rows.len());
        for (i, r) in rows.iter().enumerate() {
            prop_assert_eq!(seg.row(i).unwrap(), &r[..]);
        }
    }
}
