//! Metastore benchmarks, printed as a table (harness = false):
//!
//! 1. Filter latency at 1M documents (user among 1,000, created_at over a year, kind among
//!    6, importance uniform in [0, 1)): a selective filter (one user + one month) and broad
//!    ones (kind in 2 of 6; importance > 0.2), plus an unindexed field (scan).
//! 2. What a write costs at 1M documents in memory, with a snapshot published (held) after
//!    every write — the copy-on-write price — and the alternatives the design rejected.
//! 3. Durable put throughput (`Durability::Sync`) with 1 and 8 writers on the real disk
//!    (a directory under `target/`), against SQLite in WAL mode with `synchronous=FULL` and
//!    `NORMAL` storing the same documents (indexed columns + JSON body), and the raw
//!    `fdatasync` rate of the same disk.
//!
//! 4. Open time: `MetaStore::open` of a store whose checkpoint holds every document, in
//!    the current layout (2: used in place, only CRCs and structure checked) and in the old
//!    layout 1 (every document decoded, indexes bulk-built on load), plus the first
//!    queries after the open (documents and keyword bitmaps decoded on first use).
//!
//! `cargo bench -p mnemodb-benches --bench metastore` (`MNEMODB_META_DOCS` sets the
//! document count, `MNEMODB_META_SECS` the seconds per throughput run,
//! `MNEMODB_META_ONLY=open` runs only the build, checkpoint and open rows).
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mnemodb_io::StdFs;
use mnemodb_metastore::{
    Document, ExternalId, Filter, MetaOp, MetaState, MetaStore, MetaStoreOptions, RoaringBitmap,
    Schema, Value,
};

const YEAR_START: i64 = 1_735_689_600_000_000; // 2025-01-01T00:00:00Z
const YEAR_MICROS: i64 = 365 * 86_400 * 1_000_000;
const KINDS: [&str; 6] = ["fact", "event", "preference", "decision", "plan", "summary"];

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

fn schema() -> Schema {
    Schema::new()
        .keyword("user")
        .keyword("kind")
        .range("created_at")
        .range("importance")
}

fn memory(rng: &mut Rng) -> Document {
    let r = rng.next();
    Document::from([
        ("user".to_string(), Value::String(format!("u{}", r % 1000))),
        (
            "kind".to_string(),
            Value::from(KINDS[(r >> 10) as usize % 6]),
        ),
        (
            "created_at".to_string(),
            Value::Timestamp(YEAR_START + (rng.next() % YEAR_MICROS as u64) as i64),
        ),
        (
            "importance".to_string(),
            Value::Float((rng.next() >> 11) as f64 / (1u64 << 53) as f64),
        ),
        (
            "source".to_string(),
            Value::from(["chat", "email", "doc"][(r >> 20) as usize % 3]),
        ),
    ])
}

/// Median and p99 of `f` over `runs` runs, in microseconds, and its last result.
fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, f64, T) {
    let mut out = f();
    let mut us = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        out = black_box(f());
        us.push(t.elapsed().as_secs_f64() * 1e6);
    }
    us.sort_by(f64::total_cmp);
    (us[runs / 2], us[(runs * 99 / 100).min(runs - 1)], out)
}

fn row(what: &str, value: String, note: &str) {
    println!("| {what:<58} | {value:>22} | {note} |");
}

fn filters(state: &MetaState) {
    let cases = [
        (
            "selective: user = u42 and created_at in March",
            "user = \"u42\" and created_at >= 2025-03-01T00:00:00Z and created_at < 2025-04-01T00:00:00Z",
            200,
        ),
        (
            "broad: kind in [fact, event] (2 of 6)",
            "kind in [\"fact\", \"event\"]",
            50,
        ),
        ("broad: importance > 0.2", "importance > 0.2", 20),
        ("range: importance > 0.9", "importance > 0.9", 20),
        (
            "selective + broad: user = u42 and importance > 0.2",
            "user = \"u42\" and importance > 0.2",
            200,
        ),
        ("negation: not (kind = fact)", "not (kind = \"fact\")", 50),
        (
            "unindexed field (scan): source = \"email\"",
            "source = \"email\"",
            5,
        ),
    ];
    for (what, text, runs) in cases {
        let f = Filter::parse(text).unwrap();
        let (med, p99, hits) = time(runs, || state.filter(&f).unwrap());
        row(
            what,
            format!("{med:.0} µs (p99 {p99:.0})"),
            &format!("{} hits", hits.len()),
        );
    }
}

fn write_costs(state: &MetaState, rng: &mut Rng) {
    let n = state.next_internal_id() as u64;
    // A new document, then a replace, each followed by a published (held) snapshot.
    let mut s = state.clone();
    let mut held = Vec::new();
    let t = Instant::now();
    let writes = 20_000u64;
    for i in 0..writes {
        let id = if i % 2 == 0 {
            ExternalId::U64(n + i)
        } else {
            ExternalId::U64(rng.next() % n)
        };
        s.apply(&MetaOp::Put {
            id,
            doc: memory(rng),
        })
        .unwrap();
        held.push(s.snapshot());
        if held.len() > 4 {
            held.remove(0);
        }
    }
    let per = t.elapsed().as_secs_f64() * 1e6 / writes as f64;
    row(
        "write cost at 1M: put + publish snapshot (COW)",
        format!("{per:.1} µs/write"),
        &format!("{:.0} writes/s on one core", 1e6 / per),
    );
    let mut s = state.clone();
    let t = Instant::now();
    for i in 0..writes {
        s.apply(&MetaOp::Put {
            id: ExternalId::U64(n + writes + i),
            doc: memory(rng),
        })
        .unwrap();
    }
    let per = t.elapsed().as_secs_f64() * 1e6 / writes as f64;
    row(
        "write cost at 1M: put, no snapshot held",
        format!("{per:.1} µs/write"),
        "",
    );
    let (med, _, _) = time(1000, || s.snapshot());
    row(
        "snapshot (clone of the whole state)",
        format!("{med:.2} µs"),
        "O(1): persistent structures",
    );
    // The rejected alternative: one Arc<RoaringBitmap> per value copies the whole bitmap.
    let exists = state.filter(&Filter::Exists("kind".into())).unwrap();
    let kind = state
        .filter(&Filter::parse("kind = \"fact\"").unwrap())
        .unwrap();
    let (e_us, _, _) = time(200, || exists.clone());
    let (k_us, _, _) = time(200, || kind.clone());
    row(
        "alt: whole-bitmap COW, clone `exists` (1M ids)",
        format!("{e_us:.1} µs"),
        &format!(
            "{} KiB; + `kind` bitmap {k_us:.1} µs — per field per write",
            exists.serialized_size() / 1024
        ),
    );
}

fn range_alternative(state: &MetaState) {
    // value → bitmap map for a near-unique float field, as the alternative range index.
    let t = Instant::now();
    let mut by_value: BTreeMap<u64, RoaringBitmap> = BTreeMap::new();
    for (id, _, doc) in state.scan() {
        if let Some(Value::Float(x)) = doc.get("importance") {
            by_value.entry(x.to_bits()).or_default().insert(id);
        }
    }
    let build = t.elapsed().as_secs_f64();
    let lo = 0.2f64.to_bits();
    let (med, _, hits) = time(5, || {
        let mut out = RoaringBitmap::new();
        for (_, b) in by_value.range(lo + 1..) {
            out |= b;
        }
        out
    });
    row(
        "alt: value→bitmap map, importance > 0.2",
        format!("{med:.0} µs"),
        &format!(
            "{} values, build {build:.2} s, {} hits",
            by_value.len(),
            hits.len()
        ),
    );
}

/// `MetaStore::open` of a directory holding one checkpoint of `state` (at LSN = its
/// document count) and an empty WAL: the time to a usable store, median of 3.
fn open_time(state: &MetaState, dir: &Path, layout1: bool) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir.join("meta")).unwrap();
    let mut s = state.clone();
    let lsn = u64::from(s.next_internal_id());
    s.set_lsn(lsn);
    let bytes = if layout1 {
        s.encode_checkpoint_layout1().unwrap()
    } else {
        s.encode_checkpoint().unwrap()
    };
    drop(s);
    std::fs::write(dir.join("meta").join(format!("checkpoint-{lsn}")), &bytes).unwrap();
    let mut secs = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let (store, report) =
            MetaStore::open(Arc::new(StdFs::new()), dir, MetaStoreOptions::new(schema())).unwrap();
        secs.push(t.elapsed().as_secs_f64());
        assert_eq!(store.len(), state.len());
        assert_eq!(report.checkpoint.map(|c| c.lsn), Some(lsn));
        if !layout1 && secs.len() == 3 {
            // The first queries on a fresh open pay the lazy decoding.
            let snap = store.snapshot();
            let t = Instant::now();
            let f = Filter::parse(r#"user = "u7" and created_at >= 2025-06-01T00:00:00Z"#).unwrap();
            let hits = snap.filter(&f).unwrap();
            let first_filter = t.elapsed().as_secs_f64() * 1e3;
            let t = Instant::now();
            let n = hits
                .iter()
                .filter(|&i| snap.get_by_internal(i).is_some())
                .count();
            let first_gets = t.elapsed().as_secs_f64() * 1e3;
            row(
                "first filter / first gets of its hits after an open",
                format!("{first_filter:.2} ms / {first_gets:.2} ms"),
                &format!("{} hits, {n} documents decoded on first access", hits.len()),
            );
        }
        drop(black_box(store));
    }
    secs.sort_by(f64::total_cmp);
    row(
        &format!(
            "open: MetaStore::open, checkpoint of {} docs, layout {}",
            state.len(),
            if layout1 { 1 } else { 2 }
        ),
        format!("{:.1} ms", secs[1] * 1e3),
        &format!(
            "min {:.1} ms, max {:.1} ms; {} MiB checkpoint, {}",
            secs[0] * 1e3,
            secs[2] * 1e3,
            bytes.len() >> 20,
            if layout1 {
                "every document decoded, indexes bulk-built"
            } else {
                "used in place (CRCs + structure checked)"
            }
        ),
    );
    let _ = std::fs::remove_dir_all(dir);
}

fn store_throughput(dir: &Path, writers: usize, secs: f64) -> f64 {
    let _ = std::fs::remove_dir_all(dir);
    let store = Arc::new(
        MetaStore::open(Arc::new(StdFs::new()), dir, MetaStoreOptions::new(schema()))
            .unwrap()
            .0,
    );
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let t = Instant::now();
    let handles: Vec<_> = (0..writers)
        .map(|w| {
            let store = Arc::clone(&store);
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                let mut rng = Rng(w as u64 + 1);
                let mut i = 0u64;
                while Instant::now() < deadline {
                    store
                        .put(ExternalId::U64((w as u64) << 40 | i), memory(&mut rng))
                        .unwrap();
                    i += 1;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let rate = done.load(Ordering::Relaxed) as f64 / t.elapsed().as_secs_f64();
    let syncs = store.wal_stats().syncs;
    eprintln!(
        "  metastore {writers} writers: {} puts, {syncs} WAL syncs",
        done.load(Ordering::Relaxed)
    );
    rate
}

fn json(doc: &Document) -> String {
    let mut s = String::from("{");
    for (i, (k, v)) in doc.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let v = match v {
            Value::String(x) => format!("\"{x}\""),
            Value::Float(x) => format!("{x}"),
            Value::Timestamp(x) => format!("{x}"),
            other => format!("\"{other}\""),
        };
        s.push_str(&format!("\"{k}\":{v}"));
    }
    s.push('}');
    s
}

fn sqlite_throughput(dir: &Path, writers: usize, synchronous: &str, secs: f64) -> f64 {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("meta.sqlite");
    let setup = rusqlite::Connection::open(&path).unwrap();
    setup.pragma_update(None, "journal_mode", "WAL").unwrap();
    setup
        .execute_batch(
            "CREATE TABLE docs (id INTEGER PRIMARY KEY, user TEXT, kind TEXT, created_at INTEGER, importance REAL, body TEXT);
             CREATE INDEX docs_user ON docs(user); CREATE INDEX docs_kind ON docs(kind);
             CREATE INDEX docs_created ON docs(created_at); CREATE INDEX docs_importance ON docs(importance);",
        )
        .unwrap();
    drop(setup);
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let t = Instant::now();
    let handles: Vec<_> = (0..writers)
        .map(|w| {
            let done = Arc::clone(&done);
            let path = path.clone();
            let synchronous = synchronous.to_string();
            std::thread::spawn(move || {
                let conn = rusqlite::Connection::open(&path).unwrap();
                conn.busy_timeout(Duration::from_secs(30)).unwrap();
                conn.pragma_update(None, "synchronous", &synchronous).unwrap();
                let mut stmt = conn
                    .prepare("INSERT OR REPLACE INTO docs (id, user, kind, created_at, importance, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
                    .unwrap();
                let mut rng = Rng(w as u64 + 1);
                let mut i = 0i64;
                while Instant::now() < deadline {
                    let d = memory(&mut rng);
                    let s = |k: &str| match &d[k] {
                        Value::String(x) => x.clone(),
                        _ => String::new(),
                    };
                    let at = match d["created_at"] {
                        Value::Timestamp(t) => t,
                        _ => 0,
                    };
                    let imp = match d["importance"] {
                        Value::Float(x) => x,
                        _ => 0.0,
                    };
                    stmt.execute(rusqlite::params![(w as i64) << 40 | i, s("user"), s("kind"), at, imp, json(&d)])
                        .unwrap();
                    i += 1;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / t.elapsed().as_secs_f64()
}

fn fsync_rate(dir: &Path, secs: f64) -> f64 {
    std::fs::create_dir_all(dir).unwrap();
    let mut f = std::fs::File::create(dir.join("fsync-probe")).unwrap();
    let buf = vec![7u8; 4096];
    let t = Instant::now();
    let mut n = 0u64;
    while t.elapsed().as_secs_f64() < secs {
        f.write_all(&buf).unwrap();
        f.sync_data().unwrap();
        n += 1;
    }
    n as f64 / t.elapsed().as_secs_f64()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let docs: u64 = std::env::var("MNEMODB_META_DOCS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let secs: f64 = std::env::var("MNEMODB_META_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4.0);
    println!("| {:<58} | {:>22} | notes |", "measurement", "result");
    println!("|{}|{}|---|", "-".repeat(60), "-".repeat(24));

    let mut rng = Rng(42);
    let mut state = MetaState::new(schema()).unwrap();
    let t = Instant::now();
    for i in 0..docs {
        state
            .apply(&MetaOp::Put {
                id: ExternalId::U64(i),
                doc: memory(&mut rng),
            })
            .unwrap();
    }
    let build = t.elapsed().as_secs_f64();
    row(
        &format!("build {docs} docs in memory (apply)"),
        format!("{build:.2} s"),
        &format!("{:.0} puts/s", docs as f64 / build),
    );
    let (enc_us, _, bytes) = time(1, || state.encode_checkpoint().unwrap());
    let t = Instant::now();
    let (back, _) =
        MetaState::decode_checkpoint(&bytes, Path::new("checkpoint"), schema()).unwrap();
    let load = t.elapsed().as_secs_f64();
    assert_eq!(back.len(), state.len());
    drop(back);
    row(
        "checkpoint encode / decode_checkpoint (layout 2: copy + open)",
        format!("{:.2} s / {load:.2} s", enc_us / 1e6),
        &format!("{} MiB", bytes.len() >> 20),
    );
    drop(bytes);
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("metastore-bench");
    open_time(&state, &base.join("open"), true);
    open_time(&state, &base.join("open"), false);
    if std::env::var("MNEMODB_META_ONLY").is_ok_and(|v| v == "open") {
        return;
    }
    filters(&state);
    range_alternative(&state);
    write_costs(&state, &mut rng);
    drop(state);

    let fsyncs = fsync_rate(&base, 2.0);
    row(
        "raw fdatasync rate of the disk (4 KiB appends)",
        format!("{fsyncs:.0} /s"),
        &format!("{}", base.display()),
    );
    for writers in [1, 8] {
        let ours = store_throughput(&base.join(format!("store-{writers}")), writers, secs);
        row(
            &format!("MetaStore put, Durability::Sync, {writers} writer(s)"),
            format!("{ours:.0} puts/s"),
            "",
        );
        for sync in ["FULL", "NORMAL"] {
            let theirs = sqlite_throughput(
                &base.join(format!("sqlite-{writers}-{sync}")),
                writers,
                sync,
                secs,
            );
            row(
                &format!("SQLite WAL synchronous={sync}, {writers} writer(s)"),
                format!("{theirs:.0} puts/s"),
                &format!("MetaStore is {:.2}×", ours / theirs),
            );
        }
    }
    let _ = std::fs::remove_dir_all(&base);
}
