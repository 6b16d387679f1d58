//! Any bytes as a metastore checkpoint file: decoding never panics; a checkpoint that
//! decodes is consistent (counts, LSN) and survives an encode/decode round trip and a filter.
//!
//! Both openers run: `decode_checkpoint` under the file's own schema when it matches
//! `k`/`n` (a layout-2 file is then used in place: documents and keyword bitmaps decoded
//! lazily), and under an empty schema (everything decoded in bulk). On the in-place state
//! every read, filter, `verify`, writes over base ids and a re-encode must return (errors
//! allowed) without panicking.
#![no_main]
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use mnemodb_metastore::{Document, ExternalId, Filter, MetaOp, MetaState, Schema, Value};

fuzz_target!(|data: &[u8]| {
    let file = Path::new("meta/checkpoint-1");
    let schema = Schema::new().keyword("k").range("n");
    if let Ok((state, info)) = MetaState::decode_checkpoint(data, file, schema) {
        assert_eq!(state.len(), info.document_count);
        assert_eq!(state.lsn(), info.lsn);
        let verified = state.verify().is_ok();
        for i in 0..state.next_internal_id().min(4096) {
            let _ = state.get_by_internal(i);
        }
        let _ = state.scan().take(4096).count();
        for text in [
            "k = \"a\" or n > 1",
            "n >= 0 and n < 3",
            "not exists(k)",
            "x = 1",
        ] {
            let f = Filter::parse(text).expect("static filter");
            let _ = state.filter(&f);
        }
        let mut w = state.clone();
        let ids: Vec<ExternalId> = state.scan().take(8).map(|(_, e, _)| e.clone()).collect();
        for id in ids {
            let patch = Document::from([("n".to_string(), Value::Int(2))]);
            let _ = w.apply(&MetaOp::Patch {
                id: id.clone(),
                patch,
            });
            let _ = w.apply(&MetaOp::Delete { id });
        }
        let _ = w.encode_checkpoint();
        if verified {
            let again = state.encode_checkpoint().expect("re-encode");
            let (back, _) =
                MetaState::decode_checkpoint(&again, file, Schema::new()).expect("round trip");
            assert_eq!(back.len(), state.len());
        }
    }
    let _ = MetaState::decode_checkpoint(data, file, Schema::new());
});
