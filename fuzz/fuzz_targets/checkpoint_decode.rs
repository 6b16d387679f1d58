//! Any bytes as a metastore checkpoint file: decoding never panics; a checkpoint that
//! decodes is consistent (counts, LSN) and survives an encode/decode round trip and a filter.
#![no_main]
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use mnemodb_metastore::{Filter, MetaState, Schema};

fuzz_target!(|data: &[u8]| {
    let file = Path::new("meta/checkpoint-1");
    let schema = Schema::new().keyword("k").range("n");
    if let Ok((state, info)) = MetaState::decode_checkpoint(data, file, schema) {
        assert_eq!(state.len(), info.document_count);
        assert_eq!(state.lsn(), info.lsn);
        let again = state.encode_checkpoint().expect("re-encode");
        let (back, _) =
            MetaState::decode_checkpoint(&again, file, Schema::new()).expect("round trip");
        assert_eq!(back.len(), state.len());
        let f = Filter::parse("k = \"a\" or n > 1").expect("static filter");
        let _ = state.filter(&f);
    }
});
