//! Any bytes as a `.vec` file: open + verify never panic; a file that verifies is sane.
#![no_main]
use std::collections::HashSet;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use mnemodb_io::ReadOnlyBytes;
use mnemodb_segment::SegmentReader;

fuzz_target!(|data: &[u8]| {
    let bytes = ReadOnlyBytes::copy_from_slice(data);
    let Ok(seg) = SegmentReader::from_bytes(bytes, Path::new("fuzz.vec")) else {
        return;
    };
    // Accessors are safe on any header-valid file, verified or not.
    let n = seg.len();
    let _ = seg.row(n.saturating_sub(1));
    let _ = seg.row(n);
    let _ = seg.id(n);
    if seg.verify().is_ok() {
        assert_eq!(seg.ids().len(), n);
        assert!(seg.rows().len() >= n * seg.dim());
        let unique: HashSet<u64> = seg.ids().iter().copied().collect();
        assert_eq!(unique.len(), n);
        for i in 0..n {
            let row = seg.row(i).expect("row in range");
            assert!(row.iter().all(|v| v.is_finite()));
        }
    }
});
