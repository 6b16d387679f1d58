//! Readers during writes, sealing and compaction: batch atomicity, monotonic snapshots, no
//! torn reads, no lost rows (RELIABILITY.md recipe (e).1).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mnemodb::{CollectionConfig, Database, Metric, Options, Query, Record, Value};

const IDS_PER_BATCH: u64 = 50;
const GROUPS: u64 = 8;
const DIM: usize = 8;

/// Batch `v` sets ids of group `v % GROUPS` to vectors whose components all equal `v`.
fn batch(v: u64) -> Vec<Record> {
    let g = v % GROUPS;
    (0..IDS_PER_BATCH)
        .map(|i| Record::new(g * IDS_PER_BATCH + i, vec![v as f32; DIM]).with("v", v as i64))
        .collect()
}

#[test]
fn readers_see_whole_batches_while_writer_seals_and_compacts() {
    let seconds: u64 = std::env::var("MNEMODB_STRESS_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(
        dir.path(),
        Options::default()
            .seal_rows(300)
            .threads(2)
            .compact_small_rows(2000)
            .batch_durability(Duration::from_millis(2)),
    )
    .unwrap();
    let c = db
        .create_collection(CollectionConfig::new("s", DIM, Metric::L2))
        .unwrap();
    for v in 0..GROUPS {
        c.upsert(batch(v)).unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let committed = Arc::new(AtomicU64::new(GROUPS - 1));
    let ops = Arc::new(AtomicU64::new(0));
    let mut readers = Vec::new();
    for r in 0..3 {
        let (c, stop, committed, ops) = (c.clone(), stop.clone(), committed.clone(), ops.clone());
        readers.push(std::thread::spawn(move || {
            let mut last_seen = vec![0u64; GROUPS as usize];
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let floor = committed.load(Ordering::Acquire);
                let g = (n + r) % GROUPS;
                // Exact search (ef large) near the group's newest possible value: every
                // id of the group must carry the same version, never older than before.
                let q = vec![floor as f32; DIM];
                let hits = c
                    .search(
                        &Query::new(q, (GROUPS * IDS_PER_BATCH) as usize)
                            .ef(1000)
                            .with_vectors(),
                    )
                    .unwrap();
                assert_eq!(hits.len() as u64, GROUPS * IDS_PER_BATCH, "lost rows");
                let mut versions = vec![None; GROUPS as usize];
                for h in &hits {
                    let id = match h.id {
                        mnemodb::ExternalId::U64(v) => v,
                        _ => unreachable!(),
                    };
                    let v = match h.metadata.as_ref().unwrap()["v"] {
                        Value::Int(v) => v as u64,
                        _ => unreachable!(),
                    };
                    let vec = h.vector.as_ref().unwrap();
                    assert!(
                        vec.iter().all(|x| *x == v as f32),
                        "torn row {id}: {vec:?} vs v {v}"
                    );
                    let grp = (id / IDS_PER_BATCH) as usize;
                    match versions[grp] {
                        None => versions[grp] = Some(v),
                        Some(o) => assert_eq!(o, v, "group {grp} mixes two batches"),
                    }
                }
                for (grp, v) in versions.iter().enumerate() {
                    let v = v.unwrap();
                    assert!(
                        v >= last_seen[grp],
                        "group {grp} went back from {} to {v}",
                        last_seen[grp]
                    );
                    last_seen[grp] = v;
                }
                let _ = g;
                n += 1;
                ops.fetch_add(1, Ordering::Relaxed);
            }
            n
        }));
    }
    let start = Instant::now();
    let mut v = GROUPS;
    while start.elapsed() < Duration::from_secs(seconds) {
        c.upsert(batch(v)).unwrap();
        committed.store(v, Ordering::Release);
        v += 1;
        if v.is_multiple_of(97) {
            db.compact().unwrap();
        }
    }
    stop.store(true, Ordering::Relaxed);
    let reads: Vec<u64> = readers.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(
        reads.iter().all(|&n| n > 0),
        "every reader made progress: {reads:?}"
    );
    db.wait_for_background().unwrap();
    assert_eq!(c.count(), GROUPS * IDS_PER_BATCH);
    let st = db.stats();
    assert!(st.background_error.is_none(), "{:?}", st.background_error);
    println!(
        "STRESS batches={} reads={} segments={}",
        v,
        reads.iter().sum::<u64>(),
        st.collections[0].1.segments.len()
    );
}
