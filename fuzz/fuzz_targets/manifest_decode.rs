//! Any bytes as an engine MANIFEST: decoding never panics; a manifest that decodes is
//! internally consistent (checked by the decoder) and re-encodes to one that decodes equal.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mnemodb::fuzzing::manifest_decode(data);
});
