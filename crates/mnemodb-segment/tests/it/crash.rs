//! Crash and I/O-failure behaviour of the writer on the in-memory file system.
use std::path::Path;
use std::sync::Arc;

use mnemodb_distance::Metric;
use mnemodb_io::{CrashMode, FaultController, FaultOp, FaultyFs, Fs, InjectedError, MemFs};
use mnemodb_segment::{OpenOptions, SegmentOptions, SegmentReader, SegmentWriter};
use mnemodb_testkit::vectors;

fn write_all(fs: &dyn Fs, path: &Path, rows: &[Vec<f32>]) -> Result<(), mnemodb_segment::Error> {
    let mut opts = SegmentOptions::new(8, Metric::L2, 1);
    opts.block_rows = Some(16);
    let mut w = SegmentWriter::create(fs, path, opts)?;
    for (i, r) in rows.iter().enumerate() {
        w.push(i as u64, r)?;
    }
    w.finish().map(|_| ())
}

#[test]
fn unfinished_segment_is_invisible_after_a_crash() {
    let fs = MemFs::new();
    fs.create_dir_all(Path::new("/db")).unwrap();
    fs.sync_dir(Path::new("/")).unwrap();
    let path = Path::new("/db/seg-1.vec");
    let rows = vectors::random_rows(100, 8, 5);
    let mut w = SegmentWriter::create(&fs, path, SegmentOptions::new(8, Metric::L2, 1)).unwrap();
    for (i, r) in rows.iter().enumerate() {
        w.push(i as u64, r).unwrap();
    }
    let image = fs.crash_image(CrashMode::DropUnsynced);
    assert!(!image.exists(path).unwrap());
    w.finish().unwrap();
    let image = fs.crash_image(CrashMode::DropUnsynced);
    let seg = SegmentReader::open_with(&image, path, OpenOptions { verify: true }).unwrap();
    assert_eq!(seg.len(), 100);
}

/// Fail the nth I/O call of a segment write, for every n until the write succeeds, once and
/// forever, with ENOSPC and EIO: the write returns an error (no panic), and a crash image
/// afterwards never holds a partial segment at the final path.
#[test]
fn io_error_countdown_never_publishes_a_partial_segment() {
    let rows = vectors::random_rows(50, 8, 6);
    for persistent in [false, true] {
        for error in [InjectedError::NoSpace, InjectedError::Io] {
            let mut n = 1;
            loop {
                let mem = MemFs::new();
                mem.create_dir_all(Path::new("/db")).unwrap();
                mem.sync_dir(Path::new("/")).unwrap();
                let faults = FaultController::new();
                let fs = FaultyFs::with_controller(Arc::new(mem.clone()), faults.clone());
                faults.fail_nth(FaultOp::Any, n, error, persistent);
                let path = Path::new("/db/seg-1.vec");
                let result = write_all(&fs, path, &rows);
                faults.disarm();
                for mode in [CrashMode::DropUnsynced, CrashMode::Random { seed: n }] {
                    let image = mem.crash_image(mode);
                    if image.exists(path).unwrap() {
                        // Published: it must be the whole, valid segment.
                        let seg =
                            SegmentReader::open_with(&image, path, OpenOptions { verify: true })
                                .unwrap_or_else(|e| {
                                    panic!("n={n} {mode:?}: published segment is bad: {e}")
                                });
                        assert_eq!(seg.len(), 50);
                    }
                }
                if result.is_ok() {
                    break;
                }
                n += 1;
                assert!(n < 10_000, "write never succeeded");
            }
            assert!(n > 3, "the countdown exercised several failure points");
        }
    }
}
