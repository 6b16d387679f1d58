//! proptest: the decoders of this crate never panic, whatever the bytes (the fuzz target
//! `format_decode` runs the same function under libFuzzer).
use std::path::Path;

use mnemodb_format::{ByteReader, FileKind, FilePrefix, SegmentHeader};
use proptest::prelude::*;

fn decode_all(bytes: &[u8], len: u64) {
    let f = Path::new("fuzz");
    for kind in FileKind::ALL {
        let _ = FilePrefix::decode(bytes, f, kind);
    }
    let _ = SegmentHeader::decode(bytes, f, len);
    let mut r = ByteReader::new(bytes, 0, f);
    while r.len_prefixed("x").is_ok() {}
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512), len in any::<u64>()) {
        decode_all(&bytes, len);
    }

    #[test]
    fn mutated_valid_headers_never_panic(rows in 0u64..1_000_000, dim in 1u32..4096, pos in 0usize..128, val in any::<u8>()) {
        let layout = mnemodb_format::SegmentLayout::compute(dim, mnemodb_format::DType::F32, rows, 64).unwrap();
        let h = SegmentHeader::new(&layout, 0, 1, 0);
        let mut bytes = bytemuck::bytes_of(&h).to_vec();
        bytes[pos] = val;
        decode_all(&bytes, layout.file_len);
    }
}
