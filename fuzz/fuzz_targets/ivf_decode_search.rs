//! Any bytes as a `.ivf` file over a small fixed in-memory segment, plus a query: open and
//! verify never panic; a file that opens has list offsets monotone from 0 to the row
//! count and row numbers forming a permutation; searches (k ≤ 100, nprobe ≤ 8, re-rank
//! 0–3, with and without a filter) terminate and return at most k distinct ids sorted by
//! distance. The first input byte's bit 0 recomputes every CRC first, so mutations reach
//! the structural checks ("corrupt but CRC-valid"). The oracle lives in
//! `mnemodb_ann::ivf::fuzzing` and is replayed by `cargo test -p mnemodb-ann ivf_fuzz_corpus`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mnemodb_ann::ivf::fuzzing::decode_search(data);
});
