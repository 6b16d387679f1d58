//! Any text as a filter: parsing never panics; an error points inside the text; a filter
//! that parses prints as text that parses to the same filter (compared by its printed form,
//! since NaN literals are not equal to themselves).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mnemodb_metastore::fuzzing::filter_parse(data));
