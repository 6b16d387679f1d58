//! Any bytes through every decoder of mnemodb-format: never a panic.
#![no_main]
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use mnemodb_format::{ByteReader, FileKind, FilePrefix, SegmentHeader};

fuzz_target!(|data: &[u8]| {
    let f = Path::new("fuzz");
    for kind in FileKind::ALL {
        let _ = FilePrefix::decode(data, f, kind);
    }
    // Both the true length and a length that disagrees with the header.
    if let Ok((h, layout)) = SegmentHeader::decode(data, f, data.len() as u64) {
        assert_eq!(layout.file_len, data.len() as u64);
        assert_eq!(h.compute_crc(), h.header_crc);
        assert!(layout.ids_offset % 64 == 0 && layout.crcs_offset % 64 == 0);
    }
    let _ = SegmentHeader::decode(data, f, 1 << 20);
    let mut r = ByteReader::new(data, 0, f);
    while let Ok(chunk) = r.len_prefixed("chunk") {
        assert!(chunk.len() <= data.len());
    }
});
