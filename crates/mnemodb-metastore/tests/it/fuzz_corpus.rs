//! The fuzz corpora of `checkpoint_decode`, `filter_parse` and `document_decode`, replayed
//! as ordinary tests on stable: every committed input goes through the same checks as the
//! fuzz targets, so a crash found once stays fixed. `cargo test -p mnemodb-metastore --test
//! it -- --ignored write_seed_corpus` regenerates the seed files.
use std::path::Path;

use mnemodb_metastore::{Document, MetaState, Schema, Value, encode_document};

use mnemodb_testkit::fuzz_corpus as corpus;

use mnemodb_metastore::fuzzing::{checkpoint_decode, document_decode, filter_parse};

#[test]
fn replay_corpora() {
    type Check = fn(&[u8]);
    let targets: [(&str, Check); 3] = [
        ("document_decode", document_decode),
        ("filter_parse", filter_parse),
        ("checkpoint_decode", checkpoint_decode),
    ];
    for (target, check) in targets {
        let files = corpus(target);
        assert!(!files.is_empty(), "the {target} seed corpus is committed");
        for path in files {
            check(&std::fs::read(&path).unwrap());
        }
    }
}

#[test]
#[ignore = "regenerates fuzz/corpus seed files"]
fn write_seed_corpus() {
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    let docs = [
        Document::new(),
        crate::memory_doc(1, "fact", 1_767_225_600_000_000, 0.5),
        Document::from([
            (
                "tags".to_string(),
                Value::List(vec!["a".into(), "b".into()]),
            ),
            (
                "m".to_string(),
                Value::Map(Document::from([
                    ("x".to_string(), Value::Null),
                    ("y".to_string(), Value::Bool(true)),
                ])),
            ),
            ("n".to_string(), Value::Int(-7)),
        ]),
    ];
    std::fs::create_dir_all(out.join("document_decode")).unwrap();
    for (i, d) in docs.iter().enumerate() {
        std::fs::write(
            out.join("document_decode").join(format!("seed-{i}")),
            encode_document(d).unwrap(),
        )
        .unwrap();
    }
    let filters = [
        "user = \"u1\" and created_at >= 2026-01-01T00:00:00Z and kind in [\"preference\", \"decision\"]",
        "not exists(archived)",
        "importance > 0.5 or (kind != \"event\")",
        "a.`b c` not in [1, 2.5, null, true, @-5] and x = [\"l\"] or *",
        "user = \"u1\" and created_at >= 2026-13-01",
    ];
    std::fs::create_dir_all(out.join("filter_parse")).unwrap();
    for (i, f) in filters.iter().enumerate() {
        std::fs::write(out.join("filter_parse").join(format!("seed-{i}")), f).unwrap();
    }
    std::fs::create_dir_all(out.join("checkpoint_decode")).unwrap();
    // Layout 1 (`seed-<i>`, as earlier builds wrote) and layout 2 (`seed-l2-<i>`, under
    // the target's own schema, so the in-place opener runs).
    for (i, n) in [0u64, 3, 20, 0, 3, 20].into_iter().enumerate() {
        let layout2 = i >= 3;
        let schema = if layout2 {
            Schema::new().keyword("k").range("n")
        } else {
            Schema::new().keyword("k")
        };
        let mut s = MetaState::new(schema).unwrap();
        for j in 0..n {
            let doc = Document::from([
                (
                    "k".to_string(),
                    Value::String(["a", "b"][(j % 2) as usize].to_string()),
                ),
                ("n".to_string(), Value::Int(j as i64)),
            ]);
            let id = if j % 2 == 0 {
                mnemodb_metastore::ExternalId::U64(j)
            } else {
                format!("s{j}").into()
            };
            s.apply(&mnemodb_metastore::MetaOp::Put { id, doc })
                .unwrap();
        }
        if n > 3 {
            s.apply(&mnemodb_metastore::MetaOp::Delete { id: 2u64.into() })
                .unwrap();
        }
        s.set_lsn(n + 1);
        let (name, bytes) = if layout2 {
            (format!("seed-l2-{}", i - 3), s.encode_checkpoint().unwrap())
        } else {
            (format!("seed-{i}"), s.encode_checkpoint_layout1().unwrap())
        };
        std::fs::write(out.join("checkpoint_decode").join(name), bytes).unwrap();
    }
}
