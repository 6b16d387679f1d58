//! Any bytes as an encoded document (and as a metadata op): decoding never panics, and a
//! document that decodes re-encodes to exactly the same bytes (the encoding is canonical).
#![no_main]
use libfuzzer_sys::fuzz_target;
use mnemodb_metastore::{MetaOp, decode_document, encode_document};

fuzz_target!(|data: &[u8]| {
    if let Ok(doc) = decode_document(data) {
        let again = encode_document(&doc).expect("a decoded document re-encodes");
        assert_eq!(again, data, "the encoding is canonical");
    }
    if let Ok(op) = MetaOp::decode(data) {
        assert_eq!(op.encode().expect("a decoded op re-encodes"), data);
    }
});
