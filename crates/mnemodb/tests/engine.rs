//! Functional tests of the engine API: writes, reads, search with filters, sealing,
//! compaction, reopen equivalence, bad input, backup, read-only handles, erase.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::BTreeMap;
use std::path::Path;

use mnemodb::{
    CollectionConfig, Database, Error, ExternalId, Filter, HnswParams, IndexKind, Metric, Options,
    Query, Record, Value, WriteBatch,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn inline() -> Options {
    Options::default()
        .background(false)
        .seal_rows(200)
        .threads(2)
}

fn vector(rng: &mut ChaCha8Rng, dim: usize) -> Vec<f32> {
    (0..dim).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

fn users() -> [&'static str; 5] {
    ["ana", "bo", "cy", "di", "ed"]
}

/// A collection of `n` random vectors with user/created_at metadata, and the model.
fn populate(
    db: &Database,
    n: u64,
    dim: usize,
    seed: u64,
) -> BTreeMap<u64, (Vec<f32>, String, i64)> {
    let c = db
        .collection_or_create(
            CollectionConfig::new("docs", dim, Metric::L2)
                .keyword("user")
                .range("created_at"),
        )
        .unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut model = BTreeMap::new();
    let ids: Vec<u64> = (0..n).collect();
    for chunk in ids.chunks(97) {
        let mut batch = Vec::new();
        for &id in chunk {
            let v = vector(&mut rng, dim);
            let user = users()[rng.random_range(0..5)].to_string();
            let at = 1_700_000_000_000_000 + id as i64 * 1_000_000;
            batch.push(
                Record::new(id, v.clone())
                    .with("user", user.as_str())
                    .with("created_at", Value::Timestamp(at)),
            );
            model.insert(id, (v, user, at));
        }
        c.upsert(batch).unwrap();
    }
    model
}

fn exact_top(
    model: &BTreeMap<u64, (Vec<f32>, String, i64)>,
    q: &[f32],
    k: usize,
    keep: impl Fn(&(Vec<f32>, String, i64)) -> bool,
) -> Vec<u64> {
    let mut all: Vec<(f32, u64)> = model
        .iter()
        .filter(|(_, r)| keep(r))
        .map(|(id, r)| (r.0.iter().zip(q).map(|(a, b)| (a - b) * (a - b)).sum(), *id))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    all.into_iter().take(k).map(|(_, id)| id).collect()
}

fn ids(hits: &[mnemodb::SearchHit]) -> Vec<u64> {
    hits.iter()
        .map(|h| match h.id {
            ExternalId::U64(v) => v,
            ExternalId::Str(_) => panic!("string id"),
        })
        .collect()
}

fn recall(got: &[u64], truth: &[u64]) -> f64 {
    if truth.is_empty() {
        return 1.0;
    }
    got.iter().filter(|g| truth.contains(g)).count() as f64 / truth.len() as f64
}

#[test]
fn write_get_search_delete_patch_across_seals_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), inline()).unwrap();
    let model = populate(&db, 1000, 16, 1);
    let c = db.collection("docs").unwrap();
    assert_eq!(c.count(), 1000);
    let stats = c.stats().unwrap();
    assert!(stats.segments.len() >= 3, "seals happened: {stats:?}");

    // Every record reads back.
    for (id, (v, user, at)) in &model {
        let e = c.get(&(*id).into()).unwrap().unwrap();
        assert_eq!(e.vector.as_deref(), Some(&v[..]));
        assert_eq!(e.metadata["user"], Value::from(user.as_str()));
        assert_eq!(e.metadata["created_at"], Value::Timestamp(*at));
    }

    // Search: exact-enough against brute force, across sealed and growing parts.
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mut total = 0.0;
    for _ in 0..50 {
        let q = vector(&mut rng, 16);
        let got = ids(&c.search(&Query::new(q.clone(), 10).ef(128)).unwrap());
        total += recall(&got, &exact_top(&model, &q, 10, |_| true));
    }
    assert!(total / 50.0 >= 0.97, "recall {}", total / 50.0);

    // Delete and patch, then reopen: the same answers.
    let gone: Vec<ExternalId> = (0..1000u64).step_by(3).map(Into::into).collect();
    c.delete(&gone).unwrap();
    c.patch(
        1u64,
        BTreeMap::from([("user".to_string(), Value::from("zed"))]),
    )
    .unwrap();
    assert_eq!(c.count(), 1000 - gone.len() as u64);
    let probe: Vec<Vec<f32>> = (0..20).map(|_| vector(&mut rng, 16)).collect();
    let before: Vec<_> = probe
        .iter()
        .map(|q| c.search(&Query::new(q.clone(), 10).ef(200)).unwrap())
        .collect();
    for h in before.iter().flatten() {
        assert!(!gone.contains(&h.id), "deleted id returned");
    }
    drop((c, db));
    let db = Database::open(dir.path(), inline()).unwrap();
    let c = db.collection("docs").unwrap();
    assert_eq!(c.count(), 1000 - gone.len() as u64);
    assert!(c.get(&0u64.into()).unwrap().is_none());
    assert_eq!(
        c.get(&1u64.into()).unwrap().unwrap().metadata["user"],
        Value::from("zed")
    );
    let after: Vec<_> = probe
        .iter()
        .map(|q| c.search(&Query::new(q.clone(), 10).ef(200)).unwrap())
        .collect();
    assert_eq!(
        before.iter().map(|h| ids(h)).collect::<Vec<_>>(),
        after.iter().map(|h| ids(h)).collect::<Vec<_>>(),
        "reopen equivalence"
    );

    // Compaction drops the deleted rows, gives their space back, answers stay the same.
    let before_bytes = db.stats().disk_bytes - db.stats().wal_bytes;
    let report = db.compact().unwrap();
    let after_bytes = db.stats().disk_bytes - db.stats().wal_bytes;
    assert!(
        after_bytes < before_bytes,
        "{before_bytes} -> {after_bytes}"
    );
    assert!(report.rows_dropped >= gone.len() as u64 / 2, "{report:?}");
    let compacted: Vec<_> = probe
        .iter()
        .map(|q| ids(&c.search(&Query::new(q.clone(), 10).ef(200)).unwrap()))
        .collect();
    assert_eq!(compacted, after.iter().map(|h| ids(h)).collect::<Vec<_>>());
}

#[test]
fn filtered_search_recall_against_exact_filtered_truth() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), inline().seal_rows(700)).unwrap();
    let model = populate(&db, 3000, 24, 2);
    db.wait_for_background().unwrap();
    let c = db.collection("docs").unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let t0 = 1_700_000_000_000_000i64;
    // Selectivities from one user in a narrow time window (very selective) to everything.
    type Keep = Box<dyn Fn(&(Vec<f32>, String, i64)) -> bool>;
    let cases: Vec<(String, Keep)> = vec![
        (
            format!(
                r#"user = "ana" and created_at < {}"#,
                ts(t0 + 60 * 1_000_000)
            ),
            Box::new(move |r| r.1 == "ana" && r.2 < t0 + 60 * 1_000_000),
        ),
        (r#"user = "bo""#.into(), Box::new(|r| r.1 == "bo")),
        (
            r#"user in ["ana", "bo", "cy"]"#.into(),
            Box::new(|r| ["ana", "bo", "cy"].contains(&r.1.as_str())),
        ),
        (r#"user != "zz""#.into(), Box::new(|_| true)),
    ];
    for (text, keep) in &cases {
        let filter = Filter::parse(text).unwrap();
        let mut total = 0.0;
        for _ in 0..30 {
            let q = vector(&mut rng, 24);
            let got = c
                .search(&Query::new(q.clone(), 10).filter(filter.clone()))
                .unwrap();
            for h in &got {
                let (_, user, at) = &model[&ids(std::slice::from_ref(h))[0]];
                assert!(
                    keep(&(Vec::new(), user.clone(), *at)),
                    "{text}: non-matching hit"
                );
            }
            total += recall(&ids(&got), &exact_top(&model, &q, 10, |r| keep(r)));
        }
        assert!(total / 30.0 >= 0.95, "{text}: recall {}", total / 30.0);
    }
}

fn ts(micros: i64) -> String {
    let secs = micros / 1_000_000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil date from days since epoch (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[test]
fn bad_input_gets_clear_errors_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), inline()).unwrap();
    let c = db
        .create_collection(CollectionConfig::new("m", 4, Metric::Cosine).range("importance"))
        .unwrap();
    c.upsert(vec![Record::new(1u64, vec![1.0, 0.0, 0.0, 0.0])])
        .unwrap();
    let lsn = db.stats().last_lsn;
    let cases: Vec<(Vec<Record>, &str)> = vec![
        (vec![Record::new(2u64, vec![1.0, 0.0])], "dimension"),
        (
            vec![Record::new(2u64, vec![f32::NAN, 0.0, 0.0, 0.0])],
            "invalid vector",
        ),
        (
            vec![Record::new(2u64, vec![f32::INFINITY, 0.0, 0.0, 0.0])],
            "invalid vector",
        ),
        (vec![Record::new(2u64, vec![0.0; 4])], "zero"),
        (
            vec![
                Record::new(2u64, vec![1.0, 1.0, 0.0, 0.0]),
                Record::new(3u64, vec![1.0, 0.0, 0.0, 0.0]).with("importance", "high"),
            ],
            "importance",
        ),
    ];
    for (records, needle) in cases {
        let err = c.upsert(records).unwrap_err();
        assert!(
            err.to_string().to_lowercase().contains(needle),
            "{err} should mention {needle}"
        );
        assert_eq!(err.kind(), mnemodb::ErrorKind::InvalidInput);
    }
    assert_eq!(db.stats().last_lsn, lsn, "nothing logged");
    assert_eq!(c.count(), 1);
    assert!(matches!(
        c.search(&Query::new(vec![1.0; 4], 0)),
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        c.search(&Query::new(vec![1.0; 3], 1)),
        Err(Error::DimensionMismatch {
            expected: 4,
            got: 3
        })
    ));
    assert!(matches!(
        c.search(&Query::new(vec![1.0; 4], 1).filter(Filter::parse("nosuch = 1").unwrap())),
        Err(Error::Filter(_))
    ));
    assert!(matches!(
        db.collection("nope"),
        Err(Error::UnknownCollection(_))
    ));
    assert!(matches!(
        db.create_collection(CollectionConfig::new("m", 4, Metric::Cosine)),
        Err(Error::CollectionExists(_))
    ));
    assert!(matches!(
        db.create_collection(CollectionConfig::new("../x", 4, Metric::Cosine)),
        Err(Error::InvalidInput(_))
    ));
    // A huge k is clamped, not allocated.
    assert_eq!(
        c.search(&Query::new(vec![1.0; 4], usize::MAX))
            .unwrap()
            .len(),
        1
    );
    // A patch of an absent id fails the whole batch.
    let mut batch = WriteBatch::new();
    batch
        .upsert("m", Record::new(5u64, vec![0.0, 1.0, 0.0, 0.0]))
        .patch("m", 99u64, BTreeMap::new());
    assert!(db.write(batch).is_err());
    assert!(c.get(&5u64.into()).unwrap().is_none(), "all or nothing");
}

#[test]
fn duplicate_ids_in_a_batch_last_wins_and_batches_span_collections() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), inline()).unwrap();
    let v = db
        .create_collection(CollectionConfig::new("v", 2, Metric::L2))
        .unwrap();
    let docs = db
        .create_collection(CollectionConfig::documents("facts"))
        .unwrap();
    v.upsert(vec![
        Record::new(1u64, vec![1.0, 0.0]).with("n", 1i64),
        Record::new(1u64, vec![0.0, 1.0]).with("n", 2i64),
    ])
    .unwrap();
    let e = v.get(&1u64.into()).unwrap().unwrap();
    assert_eq!(e.vector.unwrap(), vec![0.0, 1.0]);
    assert_eq!(e.metadata["n"], Value::Int(2));
    assert_eq!(v.count(), 1);
    assert_eq!(v.search(&Query::new(vec![1.0, 0.0], 10)).unwrap().len(), 1);

    let mut batch = WriteBatch::new();
    batch
        .upsert("v", Record::new("m-2", vec![0.5, 0.5]))
        .upsert(
            "facts",
            Record::document(
                "ana/db",
                BTreeMap::from([("value".into(), Value::from("mysql"))]),
            ),
        )
        .delete("v", 1u64);
    db.write(batch).unwrap();
    drop((v, docs, db));
    let db = Database::open(dir.path(), inline()).unwrap();
    let v = db.collection("v").unwrap();
    let docs = db.collection("facts").unwrap();
    assert_eq!(v.count(), 1);
    assert!(v.get(&"m-2".into()).unwrap().is_some());
    assert_eq!(
        docs.get(&"ana/db".into()).unwrap().unwrap().metadata["value"],
        Value::from("mysql")
    );
    assert!(matches!(
        docs.search(&Query::new(vec![1.0], 1)),
        Err(Error::InvalidInput(_))
    ));
}

#[test]
fn second_writer_is_refused_and_read_only_handles_follow_with_refresh() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), inline()).unwrap();
    populate(&db, 300, 8, 4);
    let err = Database::open(dir.path(), inline()).unwrap_err();
    assert!(matches!(err, Error::Locked { .. }), "{err}");
    assert!(err.to_string().contains("locked"));
    let reader = Database::open_read_only(dir.path(), Options::default()).unwrap();
    let rc = reader.collection("docs").unwrap();
    assert_eq!(rc.count(), 300);
    assert!(matches!(
        rc.upsert(vec![Record::new(9999u64, vec![0.0; 8])]),
        Err(Error::ReadOnly)
    ));
    // More writes, a seal and a compaction on the writer; the reader sees them on refresh.
    populate(&db, 900, 8, 5);
    db.collection("docs")
        .unwrap()
        .delete(&[1u64.into()])
        .unwrap();
    db.checkpoint().unwrap();
    db.compact().unwrap();
    populate(&db, 950, 8, 6);
    assert_eq!(reader.collection("docs").unwrap().count(), 300);
    assert!(reader.refresh().unwrap());
    let rc = reader.collection("docs").unwrap();
    assert_eq!(rc.count(), 950);
    let q = vec![0.1; 8];
    assert_eq!(
        ids(&rc.search(&Query::new(q.clone(), 10).ef(400)).unwrap()),
        ids(&db
            .collection("docs")
            .unwrap()
            .search(&Query::new(q, 10).ef(400))
            .unwrap())
    );
    assert!(!reader.refresh().unwrap());
}

#[test]
fn backup_is_a_consistent_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), inline()).unwrap();
    let model = populate(&db, 500, 8, 7);
    let to = dir.path().join("..").join(format!(
        "{}-backup",
        dir.path().file_name().unwrap().to_string_lossy()
    ));
    let report = db.backup(&to).unwrap();
    assert!(report.files >= 3, "{report:?}");
    populate(&db, 600, 8, 8); // writes after the backup are not in it
    let copy = Database::open(&to, inline()).unwrap();
    let c = copy.collection("docs").unwrap();
    assert_eq!(c.count(), 500);
    for (id, (v, _, _)) in &model {
        assert_eq!(c.get(&(*id).into()).unwrap().unwrap().vector.unwrap(), *v);
    }
    drop(copy);
    std::fs::remove_dir_all(&to).unwrap();
    assert!(db.backup(dir.path()).is_err(), "target must be empty");
}

/// Erased vectors and metadata are in no file afterwards.
#[test]
fn erase_where_leaves_no_bytes_behind() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), inline().seal_rows(64)).unwrap();
    let c = db
        .create_collection(CollectionConfig::new("m", 8, Metric::L2).keyword("user"))
        .unwrap();
    let marker = |i: u64| -> Vec<f32> {
        (0..8)
            .map(|d| 1234.5 + i as f32 + d as f32 * 0.25)
            .collect()
    };
    let secret = "SECRET-MARKER-7f3a9c";
    for round in 0..5u64 {
        let mut batch = Vec::new();
        for i in 0..40u64 {
            let id = round * 40 + i;
            if i % 4 == 0 {
                batch.push(
                    Record::new(id, marker(id))
                        .with("user", "victim")
                        .with("note", secret),
                );
            } else {
                batch.push(Record::new(id, vec![id as f32; 8]).with("user", "keep"));
            }
        }
        c.upsert(batch).unwrap();
    }
    db.checkpoint().unwrap();
    let erased = c
        .erase_where(&Filter::parse(r#"user = "victim""#).unwrap())
        .unwrap();
    assert_eq!(erased, 50);
    assert_eq!(c.count(), 150);
    let needles: Vec<Vec<u8>> = (0..200u64)
        .filter(|id| id % 4 == 0)
        .map(|id| bytemuck_bytes(&marker(id)))
        .chain(std::iter::once(secret.as_bytes().to_vec()))
        .collect();
    let mut files = 0;
    scan_files(dir.path(), &mut |path, bytes| {
        files += 1;
        for n in &needles {
            assert!(
                !bytes.windows(n.len()).any(|w| w == &n[..]),
                "{} still holds erased bytes",
                path.display()
            );
        }
    });
    assert!(files >= 4);
    // Still a working database.
    drop((c, db));
    let db = Database::open(dir.path(), inline()).unwrap();
    assert_eq!(db.collection("m").unwrap().count(), 150);
}

fn bytemuck_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn scan_files(dir: &Path, f: &mut dyn FnMut(&Path, &[u8])) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            scan_files(&p, f);
        } else {
            f(&p, &std::fs::read(&p).unwrap());
        }
    }
}

#[test]
fn flat_collections_and_cosine_scores() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), inline().seal_rows(50)).unwrap();
    let c = db
        .create_collection(CollectionConfig::new("f", 3, Metric::Cosine).index(IndexKind::Flat))
        .unwrap();
    let recs: Vec<Record> = (0..120u64)
        .map(|i| Record::new(i, vec![1.0, i as f32 / 100.0, 0.0]))
        .collect();
    c.upsert(recs).unwrap();
    db.checkpoint().unwrap();
    let hits = c.search(&Query::new(vec![1.0, 0.0, 0.0], 3)).unwrap();
    assert_eq!(ids(&hits), vec![0, 1, 2]);
    assert!((hits[0].score - 1.0).abs() < 1e-5);
    assert!((hits[0].distance).abs() < 1e-5);
    let stats = db.stats();
    assert!(
        stats.collections[0]
            .1
            .segments
            .iter()
            .all(|s| s.index_bytes == 0)
    );
}

/// The engine's default index stores SQ8 codes; a collection created without them
/// (`sq8: false`) keeps its choice across reopen, sealing and compaction: its index files
/// stay `dim` bytes per row smaller, and its searches agree.
#[test]
fn the_sq8_choice_is_persisted() {
    let dim = 32;
    let dir = tempfile::tempdir().unwrap();
    let lean = HnswParams {
        sq8: false,
        ..IndexKind::engine_hnsw()
    };
    assert!(matches!(IndexKind::default(), IndexKind::Hnsw(p) if p.sq8));
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let rows: Vec<Vec<f32>> = (0..1200).map(|_| vector(&mut rng, dim)).collect();
    let fill = |db: &Database, range: std::ops::Range<usize>| {
        for name in ["codes", "lean"] {
            let c = db.collection(name).unwrap();
            c.upsert(
                range
                    .clone()
                    .map(|i| Record::new(i as u64, rows[i].clone()))
                    .collect(),
            )
            .unwrap();
        }
        db.checkpoint().unwrap();
    };
    // Per collection: (index bytes, rows) summed over its indexed segments.
    let sizes = |db: &Database| -> BTreeMap<String, (u64, u64)> {
        db.stats()
            .collections
            .iter()
            .map(|(name, st)| {
                let idx = st.segments.iter().filter(|s| s.index_bytes > 0);
                let bytes = idx.clone().map(|s| s.index_bytes).sum();
                (name.clone(), (bytes, idx.map(|s| s.rows as u64).sum()))
            })
            .collect()
    };
    let check = |db: &Database| {
        let infos = db.collections();
        let sq8_of = |n: &str| match infos.iter().find(|i| i.name == n).unwrap().index {
            IndexKind::Hnsw(p) => p.sq8,
            IndexKind::Flat => panic!("{n}: flat"),
        };
        assert!(sq8_of("codes") && !sq8_of("lean"));
        let s = sizes(db);
        let ((codes, rows_c), (plain, rows_l)) = (s["codes"], s["lean"]);
        assert!(rows_c > 0 && rows_c == rows_l, "{s:?}");
        assert!(codes >= plain + rows_c * dim as u64, "{s:?}");
        let q = Query::new(rows[7].clone(), 5);
        let top = |n: &str| ids(&db.collection(n).unwrap().search(&q).unwrap());
        assert_eq!(top("codes")[0], 7);
        assert_eq!(top("lean")[0], 7);
    };
    {
        let db = Database::open(dir.path(), inline()).unwrap();
        db.create_collection(CollectionConfig::new("codes", dim, Metric::Cosine))
            .unwrap();
        db.create_collection(
            CollectionConfig::new("lean", dim, Metric::Cosine).index(IndexKind::Hnsw(lean)),
        )
        .unwrap();
        fill(&db, 0..600);
        check(&db);
    }
    let db = Database::open(dir.path(), inline()).unwrap();
    check(&db);
    fill(&db, 600..1200);
    db.compact().unwrap();
    check(&db);
}

#[test]
fn search_returns_only_the_requested_fields() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), inline().seal_rows(50)).unwrap();
    let c = db
        .create_collection(CollectionConfig::new("p", 3, Metric::Cosine))
        .unwrap();
    let recs: Vec<Record> = (0..120u64)
        .map(|i| {
            let r = Record::new(i, vec![1.0, i as f32 / 100.0, 0.0])
                .with("a", i as i64)
                .with("text", format!("record {i}"));
            if i % 2 == 0 { r.with("b", true) } else { r }
        })
        .collect();
    c.upsert(recs).unwrap();
    let q = Query::new(vec![1.0, 0.0, 0.0], 4);
    let full = c.search(&q).unwrap();
    let some = c.search(&q.clone().fields(["b", "a", "missing"])).unwrap();
    assert_eq!(ids(&full), ids(&some));
    for (f, s) in full.iter().zip(&some) {
        let f = f.metadata.as_ref().unwrap();
        let s = s.metadata.as_ref().unwrap();
        let want: BTreeMap<String, Value> = f
            .iter()
            .filter(|(k, _)| *k == "a" || *k == "b")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert_eq!(s, &want);
        assert!(!s.contains_key("text") && !s.contains_key("missing"));
    }
    // No metadata wins over a field list.
    let none = c.search(&q.fields(["a"]).without_metadata()).unwrap();
    assert!(none.iter().all(|h| h.metadata.is_none()));
}

#[test]
fn background_mode_seals_and_indexes_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(
        dir.path(),
        Options::default()
            .seal_rows(500)
            .threads(2)
            .batch_durability(std::time::Duration::from_millis(5)),
    )
    .unwrap();
    let model = populate(&db, 2000, 16, 11);
    db.wait_for_background().unwrap();
    let c = db.collection("docs").unwrap();
    let st = c.stats().unwrap();
    // Small sealed segments were merged by background compaction; every one is indexed.
    assert!(
        !st.segments.is_empty() && st.segments.iter().all(|s| s.index_bytes > 0),
        "{st:?}"
    );
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let mut total = 0.0;
    for _ in 0..30 {
        let q = vector(&mut rng, 16);
        total += recall(
            &ids(&c.search(&Query::new(q.clone(), 10).ef(100)).unwrap()),
            &exact_top(&model, &q, 10, |_| true),
        );
    }
    assert!(total / 30.0 >= 0.95, "recall {}", total / 30.0);
    assert!(db.stats().background_error.is_none());
}

#[test]
fn background_checkpoints_bound_the_wal() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(
        dir.path(),
        Options::default()
            .threads(2)
            .wal_file_bytes(1 << 20)
            .checkpoint_wal_bytes(2 << 20)
            .batch_durability(std::time::Duration::from_millis(5)),
    )
    .unwrap();
    let docs = db
        .create_collection(CollectionConfig::documents("notes"))
        .unwrap();
    let text = "x".repeat(2000);
    for i in 0..3000u64 {
        docs.upsert(vec![Record::document(
            i % 50,
            BTreeMap::from([("t".to_string(), Value::from(text.as_str()))]),
        )])
        .unwrap();
    }
    // The worker notices the log outgrew its bound and checkpoints on its own.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while db.stats().wal_bytes > 4 << 20 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let st = db.stats();
    assert!(st.wal_bytes <= 4 << 20, "WAL still {} bytes", st.wal_bytes);
    drop((docs, db));
    let db = Database::open(dir.path(), inline()).unwrap();
    assert_eq!(db.collection("notes").unwrap().count(), 50);
    assert!(db.open_report().replayed_records < 3000);
}
