//! Any bytes as an encoded document (and as a metadata op): decoding never panics, and a
//! document that decodes re-encodes to exactly the same bytes (the encoding is canonical).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mnemodb_metastore::fuzzing::document_decode(data));
