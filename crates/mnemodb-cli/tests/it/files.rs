//! `inspect` and `verify` on every kind of file, clean and damaged.
use crate::util::{self, expect, find, json, s};

#[test]
fn inspect_every_file_kind() {
    let scratch = mnemodb_testkit::scratch_dir();
    let db = util::sample_db(scratch.path());
    let seg = find(&db, ".vec");
    let hnsw = find(&db, ".hnsw");
    let ckpt = find(&db, ".ckpt");
    let wal = find(&db, ".log");

    let (out, _) = expect(&["inspect", "segment", s(&seg), "--rows", "2"], 0);
    assert!(
        out.contains("dimension:   8") && out.contains("rows:        60"),
        "{out}"
    );
    let j = json(&["--json", "inspect", "segment", s(&seg)]);
    assert_eq!((j["dim"].as_u64(), j["rows"].as_u64()), (Some(8), Some(60)));
    assert_eq!(j["shown"].as_array().unwrap().len(), 5);

    let (out, _) = expect(&["inspect", "index", s(&hnsw)], 0);
    assert!(
        out.contains("HNSW index v2")
            && out.contains("SQ8 codes: ")
            && out.contains("nodes by top level"),
        "{out}"
    );
    let j = json(&["--json", "inspect", "index", s(&hnsw)]);
    assert_eq!(j["nodes"].as_u64(), Some(60));
    assert!(j["structure"]["level0_degree_mean"].as_f64().unwrap() > 1.0);
    // 60 codes of 8 bytes and the quantiser's 2 × 8 floats.
    assert_eq!(j["structure"]["sq8_bytes"].as_u64(), Some(60 * 8 + 8 * 8));

    let (out, _) = expect(&["inspect", "checkpoint", s(&ckpt), "--limit", "3"], 0);
    assert!(
        out.contains("documents:          60") && out.contains("doc-0"),
        "{out}"
    );

    let (out, _) = expect(&["inspect", "wal", s(&wal), "--limit", "0"], 0);
    assert!(
        out.contains("create collection") && out.contains("put \"doc-50\""),
        "{out}"
    );
    let j = json(&["--json", "inspect", "wal", s(&db)]);
    assert_eq!(j["files"][0]["tail"]["state"], "clean");

    let (out, _) = expect(&["inspect", "manifest", s(&db)], 0);
    assert!(out.contains("docs") && out.contains(".hnsw"), "{out}");
    let j = json(&["--json", "inspect", "manifest", s(&db)]);
    assert_eq!(j["body"]["collections"][0]["spec"]["name"], "docs");
}

#[test]
fn verify_clean_then_each_damage() {
    let scratch = mnemodb_testkit::scratch_dir();
    let db = util::sample_db(scratch.path());
    let (out, _) = expect(&["verify", s(&db), "-v"], 0);
    assert!(
        out.contains("no problems") && out.contains("HNSW index"),
        "{out}"
    );
    let j = json(&["--json", "verify", s(&db)]);
    assert_eq!(j["ok"], true);

    // A flipped bit in the index: exit 3, the file and offset named on stdout.
    let hnsw = find(&db, ".hnsw");
    let original = std::fs::read(&hnsw).unwrap();
    mnemodb_testkit::corrupt::flip_bit(&hnsw, (original.len() as u64 - 100) * 8).unwrap();
    let (out, err) = expect(&["verify", s(&db)], 3);
    assert!(
        out.contains(&format!("CORRUPT  {}", hnsw.display())),
        "{out}"
    );
    assert!(out.contains("offset") || out.contains("byte"), "{out}");
    assert!(err.contains("1 problem"), "{err}");
    let (out, _) = expect(&["verify", s(&hnsw)], 3);
    assert!(out.contains("CORRUPT") && out.contains(".hnsw"), "{out}");
    std::fs::write(&hnsw, &original).unwrap();
    expect(&["verify", s(&db)], 0);

    // A referenced file gone.
    let ckpt = find(&db, ".ckpt");
    let saved = std::fs::read(&ckpt).unwrap();
    std::fs::remove_file(&ckpt).unwrap();
    let (out, _) = expect(&["verify", s(&db)], 3);
    assert!(
        out.contains("missing, but") && out.contains(".ckpt"),
        "{out}"
    );
    std::fs::write(&ckpt, saved).unwrap();

    // Damage in the middle of the WAL (a later frame proves it was durable).
    let wal = find(&db, ".log");
    mnemodb_testkit::corrupt::flip_bit(&wal, 300 * 8).unwrap();
    let (out, _) = expect(&["verify", s(&db)], 3);
    assert!(
        out.contains(".log") && out.contains("corrupted WAL at byte offset"),
        "{out}"
    );
    let (_, err) = expect(&["inspect", "wal", s(&wal)], 3);
    assert!(err.contains("corrupted WAL"), "{err}");
}

#[test]
fn verify_single_segment_and_torn_wal_tail() {
    let scratch = mnemodb_testkit::scratch_dir();
    let db = util::sample_db(scratch.path());
    let seg = find(&db, ".vec");
    let (out, _) = expect(&["verify", s(&seg)], 0);
    assert!(out.contains("no problems"), "{out}");
    // Garbage appended to the newest WAL file is a torn tail: a note, not a problem.
    let wal = find(&db, ".log");
    let mut bytes = std::fs::read(&wal).unwrap();
    bytes.extend_from_slice(&[0xAB; 13]);
    std::fs::write(&wal, bytes).unwrap();
    let (out, _) = expect(&["verify", s(&wal)], 0);
    assert!(out.contains("torn tail"), "{out}");
}
