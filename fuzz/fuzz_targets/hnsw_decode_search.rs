//! Any bytes as a `.hnsw` file over a small fixed in-memory segment, plus a query: open
//! and verify never panic; a file that verifies has every link < n, degree ≤ bound and
//! levels ≤ max; search (k ≤ 100, ef ≤ 256, with and without filters) terminates and
//! returns distinct rows sorted by distance. The first input byte's bit 0 recomputes every
//! CRC first, so mutations reach the structural checks ("corrupt but CRC-valid").
//! The oracle lives in `mnemodb_ann::hnsw::fuzzing` and is replayed by
//! `cargo test -p mnemodb-ann fuzz_corpus`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mnemodb_ann::hnsw::fuzzing::decode_search(data);
});
