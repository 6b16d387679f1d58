//! Any bytes as a metastore checkpoint file: decoding never panics; a checkpoint that
//! decodes is consistent (counts, LSN) and survives an encode/decode round trip and a filter.
//!
//! Both openers run: `decode_checkpoint` under the file's own schema when it matches
//! `k`/`n` (a layout-2 file is then used in place: documents and keyword bitmaps decoded
//! lazily), and under an empty schema (everything decoded in bulk). On the in-place state
//! every read, filter, `verify`, writes over base ids and a re-encode must return (errors
//! allowed) without panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mnemodb_metastore::fuzzing::checkpoint_decode(data));
