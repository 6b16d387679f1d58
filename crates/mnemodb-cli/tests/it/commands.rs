//! The engine commands end to end: create, import, info, search, get, delete, compact,
//! checkpoint, backup, demo, and every `--help`.
use crate::util::{self, expect, json, s};

const SUBCOMMANDS: [&[&str]; 24] = [
    &["create"],
    &["info"],
    &["import"],
    &["search"],
    &["get"],
    &["delete"],
    &["compact"],
    &["checkpoint"],
    &["backup"],
    &["verify"],
    &["bench"],
    &["demo"],
    &["inspect", "wal"],
    &["inspect", "segment"],
    &["inspect", "index"],
    &["inspect", "checkpoint"],
    &["inspect", "manifest"],
    &["memory", "add"],
    &["memory", "recall"],
    &["memory", "facts"],
    &["memory", "history"],
    &["memory", "consolidate"],
    &["memory", "prune"],
    &["memory", "context"],
];

#[test]
fn every_help_shows_an_example() {
    for cmd in SUBCOMMANDS {
        let mut args = cmd.to_vec();
        args.push("--help");
        let (out, _) = expect(&args, 0);
        assert!(
            out.contains("Example"),
            "`{}` has no example:\n{out}",
            cmd.join(" ")
        );
    }
    let (out, _) = expect(&["--help"], 0);
    assert!(out.contains("Exit status") && out.contains("demo"), "{out}");
    let (_, err) = expect(&["frobnicate"], 2);
    assert!(err.contains("unrecognized subcommand"), "{err}");
}

#[test]
fn create_import_search_get_delete() {
    let scratch = mnemodb_testkit::scratch_dir();
    let d = scratch.path();
    let db = d.join("db");
    let (out, _) = expect(
        &[
            "create",
            s(&db),
            "-c",
            "docs",
            "--dim",
            "8",
            "--keyword",
            "user",
            "--range",
            "created_at",
        ],
        0,
    );
    assert!(
        out.contains("collection docs: 8 dims, cosine, hnsw m=16"),
        "{out}"
    );
    let (_, err) = expect(&["create", s(&db)], 2);
    assert!(err.contains("already exists"), "{err}");
    let (_, err) = expect(&["create", s(&db), "-c", "docs", "--dim", "8"], 2);
    assert!(err.contains("collection `docs` already exists"), "{err}");

    let data = util::jsonl(d, "docs.jsonl", 60, 8);
    let j = json(&[
        "--json",
        "import",
        s(&db),
        s(&data),
        "-c",
        "docs",
        "--batch",
        "16",
    ]);
    assert_eq!(
        (j["records"].as_u64(), j["batches"].as_u64()),
        (Some(60), Some(4))
    );

    let j = json(&["--json", "info", s(&db)]);
    assert_eq!(j["collections"][0]["count"].as_u64(), Some(60));
    assert_eq!(j["collections"][0]["dim"].as_u64(), Some(8));
    let (out, _) = expect(&["info", s(&db)], 0);
    assert!(out.contains("docs") && out.contains("records"), "{out}");

    // The stored vector of doc-5 finds doc-5 first.
    let j = json(&["--json", "get", s(&db), "-c", "docs", "doc-5", "--vector"]);
    let v = j["records"][0]["vector"].to_string();
    assert_eq!(j["records"][0]["metadata"]["user"], "u2");
    let j = json(&["--json", "search", s(&db), "--vector", &v, "-k", "3"]);
    assert_eq!(j["hits"][0]["id"], "doc-5");
    assert!(j["hits"][0]["score"].as_f64().unwrap() > 0.999);
    // Filtered: only u1's records, only since Jan 10.
    let j = json(&[
        "--json",
        "search",
        s(&db),
        "--vector",
        &v,
        "-k",
        "50",
        "--filter",
        r#"user = "u1" and created_at >= 2026-01-10T00:00:00Z"#,
    ]);
    let hits = j["hits"].as_array().unwrap();
    assert!(!hits.is_empty());
    for h in hits {
        assert_eq!(h["metadata"]["user"], "u1");
        assert!(h["metadata"]["created_at"].as_str().unwrap() >= "2026-01-10");
    }
    let (out, _) = expect(
        &["search", s(&db), "--vector", &v, "-k", "2", "--ef", "64"],
        0,
    );
    assert!(
        out.contains("rank") && out.contains("doc-5") && out.contains("2 hits"),
        "{out}"
    );

    let (out, err) = expect(&["get", s(&db), "doc-1", "doc-999"], 2);
    assert!(
        out.contains("doc-1") && err.contains("no record with id \"doc-999\""),
        "{out}{err}"
    );

    let j = json(&["--json", "delete", s(&db), "doc-1", "doc-2"]);
    assert_eq!(
        (j["deleted"].as_u64(), j["remaining"].as_u64()),
        (Some(2), Some(58))
    );
    let j = json(&["--json", "delete", s(&db), "--where", r#"user = "u0""#]);
    assert_eq!(j["deleted"].as_u64(), Some(20));
    let j = json(&["--json", "search", s(&db), "--vector", &v, "-k", "60"]);
    assert!(
        j["hits"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["metadata"]["user"] != "u0")
    );
}

#[test]
fn import_fvecs_search_by_row_and_resume() {
    let scratch = mnemodb_testkit::scratch_dir();
    let d = scratch.path();
    let db = d.join("db");
    let base = util::fvecs(d, "base.fvecs", 200, 16);
    let j = json(&[
        "--json",
        "import",
        s(&db),
        s(&base),
        "-c",
        "vecs",
        "--metric",
        "l2",
        "--id-offset",
        "1000",
    ]);
    assert_eq!(j["records"].as_u64(), Some(200));
    let j = json(&[
        "--json",
        "search",
        s(&db),
        "--vector-file",
        s(&base),
        "--row",
        "17",
        "-k",
        "1",
    ]);
    assert_eq!(j["hits"][0]["id"].as_u64(), Some(1017));

    // A bad record at 30, found only when written (--no-validate): batches before it stay,
    // the message says where to resume, and resuming completes the import.
    let mut lines: Vec<String> = std::fs::read_to_string(util::jsonl(d, "a.jsonl", 60, 8))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let good = lines[30].clone();
    lines[30] = r#"{"id":"doc-30","vector":[1,2,"x"]}"#.into();
    let bad_file = d.join("bad.jsonl");
    std::fs::write(&bad_file, lines.join("\n")).unwrap();
    let (_, err) = expect(
        &[
            "import",
            s(&db),
            s(&bad_file),
            "-c",
            "docs",
            "--batch",
            "10",
            "--no-validate",
        ],
        2,
    );
    assert!(
        err.contains("record 30") && err.contains("--skip 30"),
        "{err}"
    );
    let j = json(&["--json", "info", s(&db)]);
    let docs = j["collections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "docs")
        .unwrap();
    assert_eq!(docs["count"].as_u64(), Some(30));
    // With validation (the default) nothing is written.
    let (_, err) = expect(
        &["import", s(&db), s(&bad_file), "-c", "docs", "--skip", "30"],
        2,
    );
    assert!(err.contains("record 30"), "{err}");
    lines[30] = good;
    std::fs::write(&bad_file, lines.join("\n")).unwrap();
    let j = json(&[
        "--json",
        "import",
        s(&db),
        s(&bad_file),
        "-c",
        "docs",
        "--skip",
        "30",
    ]);
    assert_eq!(
        (j["records"].as_u64(), j["collection_count"].as_u64()),
        (Some(30), Some(60))
    );
}

#[test]
fn compact_checkpoint_backup() {
    let scratch = mnemodb_testkit::scratch_dir();
    let d = scratch.path();
    let db = util::sample_db(d);
    expect(&["delete", s(&db), "--where", r#"kind = "note""#], 0);
    let j = json(&["--json", "checkpoint", s(&db)]);
    assert!(j["manifest"].as_u64().unwrap() >= 2);
    let j = json(&["--json", "compact", s(&db)]);
    assert!(j["segments_merged"].is_u64());
    let to = d.join("backup");
    let (out, _) = expect(&["backup", s(&db), s(&to)], 0);
    assert!(out.contains("backed up"), "{out}");
    expect(&["verify", s(&to)], 0);
    let j = json(&["--json", "info", s(&to)]);
    assert_eq!(j["collections"][0]["count"].as_u64(), Some(30));
    let (_, err) = expect(&["backup", s(&db), s(&to)], 2);
    assert!(err.contains("must be empty"), "{err}");
}

#[test]
fn demo_runs_small() {
    let scratch = mnemodb_testkit::scratch_dir();
    let dir = scratch.path().join("demo");
    let j = json(&[
        "--json",
        "demo",
        "--rows",
        "3000",
        "--dim",
        "32",
        "--dir",
        s(&dir),
    ]);
    assert!(j["recall_at_10"].as_f64().unwrap() > 0.9, "{j}");
    assert_eq!(j["info"]["collections"][0]["count"].as_u64(), Some(3000));
    expect(&["verify", s(&dir)], 0);
    let (_, err) = expect(&["demo", "--dir", s(&dir)], 2);
    assert!(err.contains("not empty"), "{err}");
}

#[test]
fn memory_add_recall_facts() {
    let scratch = mnemodb_testkit::scratch_dir();
    let db = scratch.path().join("db");
    let add = |text: &str, kind: &str, imp: &str, v: &str| {
        let args = [
            "--json",
            "memory",
            "add",
            s(&db),
            "--user",
            "alice",
            "--text",
            text,
            "--kind",
            kind,
            "--importance",
            imp,
            "--vector",
            v,
        ];
        json(&args)["id"].as_str().unwrap().to_string()
    };
    add("Allergic to peanuts", "fact", "1", "[0.7, 0.7, 0.1]");
    add("Had a sandwich", "event", "0.1", "[0.9, 0.4, 0.0]");
    let j = json(&[
        "--json",
        "memory",
        "recall",
        s(&db),
        "--user",
        "alice",
        "--vector",
        "[0.9, 0.5, 0.0]",
        "-k",
        "2",
    ]);
    assert_eq!(j["hits"][0]["text"], "Allergic to peanuts", "{j}");
    let j = json(&[
        "--json",
        "memory",
        "recall",
        s(&db),
        "--user",
        "bob",
        "--vector",
        "[0.9, 0.5, 0.0]",
    ]);
    assert_eq!(j["hits"].as_array().unwrap().len(), 0);
    let (_, err) = expect(
        &[
            "memory",
            "recall",
            s(&db),
            "--user",
            "alice",
            "--vector",
            "[1, 2]",
        ],
        2,
    );
    assert!(err.contains("dimension"), "{err}");
    expect(
        &[
            "memory",
            "facts",
            s(&db),
            "--user",
            "alice",
            "--set",
            "alice.city=Lisbon",
            "--at",
            "2026-01-01T00:00:00Z",
        ],
        0,
    );
    expect(
        &[
            "memory",
            "facts",
            s(&db),
            "--user",
            "alice",
            "--set",
            "alice.city=Porto",
            "--at",
            "2026-02-01T00:00:00Z",
        ],
        0,
    );
    let j = json(&["--json", "memory", "facts", s(&db), "--user", "alice"]);
    assert_eq!(j["facts"][0]["value"], "Porto");
    let (out, _) = expect(
        &[
            "memory",
            "history",
            s(&db),
            "--user",
            "alice",
            "--entity",
            "alice",
            "--attribute",
            "city",
        ],
        0,
    );
    assert!(out.contains("Lisbon → Porto"), "{out}");
    let (out, _) = expect(
        &[
            "memory",
            "consolidate",
            s(&db),
            "--user",
            "alice",
            "--dry-run",
        ],
        0,
    );
    assert!(out.contains("groups"), "{out}");
    let (out, _) = expect(
        &["memory", "prune", s(&db), "--user", "alice", "--dry-run"],
        0,
    );
    assert!(out.contains("examined 2"), "{out}");
}

/// `--text` goes through the configured embedder (here the model-free `hash:<dim>` one):
/// memory add/recall and search by text, with the dimension checked.
#[test]
fn text_is_embedded_by_the_configured_embedder() {
    let scratch = mnemodb_testkit::scratch_dir();
    let db = scratch.path().join("db");
    for text in [
        "User prefers pytest over unittest",
        "User lives in Lisbon",
        "User had pasta for lunch",
    ] {
        let j = json(&[
            "--json",
            "memory",
            "add",
            s(&db),
            "--user",
            "alice",
            "--text",
            text,
            "--embedder",
            "hash:64",
        ]);
        assert!(j["id"].is_string(), "{j}");
    }
    let j = json(&[
        "--json",
        "memory",
        "recall",
        s(&db),
        "--user",
        "alice",
        "--text",
        "prefers pytest",
        "--embedder",
        "hash:64",
        "-k",
        "1",
    ]);
    assert!(j.to_string().contains("pytest"), "{j}");
    // A collection of another dimension: the embedder's dimension is refused clearly.
    let out = util::run(&[
        "memory",
        "recall",
        s(&db),
        "--user",
        "alice",
        "--text",
        "x",
        "--embedder",
        "hash:32",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("32-d"));
    // No embedder configured: a usage error naming the fix.
    let out = util::run(&[
        "search",
        s(&db),
        "-c",
        "memory.memories",
        "--text",
        "pytest",
    ]);
    if std::env::var_os("MNEMODB_EMBEDDER").is_none() {
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("--embedder"));
    }
    let j = json(&[
        "--json",
        "search",
        s(&db),
        "-c",
        "memory.memories",
        "--text",
        "lives in Lisbon",
        "--embedder",
        "hash:64",
        "-k",
        "1",
    ]);
    assert!(j.to_string().contains("Lisbon"), "{j}");
}
