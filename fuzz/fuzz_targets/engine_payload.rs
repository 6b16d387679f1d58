//! Any bytes as an engine WAL record payload (a write batch spanning collections): decoding
//! never panics, never allocates beyond the input, and a payload that decodes re-encodes to
//! one that decodes equal.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mnemodb::fuzzing::payload_decode(data);
});
