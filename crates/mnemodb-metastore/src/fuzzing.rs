//! The oracles of the metastore's fuzz targets (`fuzz/fuzz_targets/{document_decode,
//! filter_parse,checkpoint_decode}.rs`), shared with the test that replays their corpora on
//! stable (`tests/it/fuzz_corpus.rs`): one definition of what each target checks. Not
//! part of the API. Each panics when the property it checks fails.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]
use std::path::Path;

use crate::{
    Document, ExternalId, Filter, MetaOp, MetaState, Schema, Value, decode_document,
    encode_document,
};

/// Any bytes as an encoded document (and as a WAL op): what decodes re-encodes to the
/// same bytes (the encodings are canonical).
pub fn document_decode(data: &[u8]) {
    if let Ok(doc) = decode_document(data) {
        let again = encode_document(&doc).expect("a decoded document re-encodes");
        assert_eq!(again, data, "the encoding is canonical");
    }
    if let Ok(op) = MetaOp::decode(data) {
        assert_eq!(op.encode().expect("a decoded op re-encodes"), data);
    }
}

/// Any UTF-8 text as a filter: a parsed filter prints as text that parses back to the
/// same filter; an error points inside the text.
pub fn filter_parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Filter::parse(text) {
        Ok(f) => {
            let shown = f.to_string();
            let back = Filter::parse(&shown)
                .unwrap_or_else(|e| panic!("{shown:?} does not parse back: {e}"));
            assert_eq!(back.to_string(), shown);
        }
        Err(e) => {
            assert!(e.column >= 1 && e.column <= text.chars().count() + 1);
            let _ = e.display_with_source(text);
        }
    }
}

/// Any bytes as a checkpoint file, opened under the file's own schema when it matches
/// `k`/`n` (a layout-2 file is then used in place: documents and keyword bitmaps decoded
/// lazily) and under an empty schema (everything decoded in bulk): decoding never panics;
/// a state that decodes is consistent (counts, LSN); every read, filter, `verify`, write
/// over its ids and re-encode returns (errors allowed); a verified state survives an
/// encode/decode round trip with the same ids.
pub fn checkpoint_decode(data: &[u8]) {
    let file = Path::new("meta/checkpoint-1");
    let schema = Schema::new().keyword("k").range("n");
    if let Ok((state, info)) = MetaState::decode_checkpoint(data, file, schema) {
        assert_eq!(state.len(), info.document_count);
        assert_eq!(state.lsn(), info.lsn);
        let verified = state.verify().is_ok();
        let fields = ["n".to_string(), "x".to_string()];
        for i in 0..state.next_internal_id().min(4096) {
            // Projections first: they read the mapped bytes, not the decoded cache.
            let _ = state.external_id_of(i);
            let _ = state.project_internal(i, &fields);
            let _ = state.get_by_internal(i);
        }
        let _ = state.scan().take(4096).count();
        for text in [
            "k = \"a\" or n > 1",
            "n >= 0 and n < 3",
            "not exists(k)",
            "x = 1",
            // A small keyword answer, then a range: probed or answered by the index.
            "k = \"a\" and n > 0",
        ] {
            let _ = state.filter(&Filter::parse(text).expect("static filter"));
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
            assert!(
                back.scan()
                    .map(|(i, e, _)| (i, e.clone()))
                    .eq(state.scan().map(|(i, e, _)| (i, e.clone())))
            );
        }
    }
    let _ = MetaState::decode_checkpoint(data, file, Schema::new());
}
