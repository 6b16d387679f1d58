//! The live graph: concurrent inserts, deletes and searches; freeze and rebuild.
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use mnemodb_ann::hnsw::{HnswParams, LiveHnsw, Rows, SearchOptions};
use mnemodb_dataset::{exact_knn, recall_at_k};
use mnemodb_distance::Metric;
use mnemodb_testkit::test_seed;
use roaring::RoaringBitmap;

use crate::hnsw::{check_invariants, data, pool};

fn params() -> HnswParams {
    let mut p = HnswParams::with_m(12);
    p.ef_construction = 64;
    p.ef_search = 64;
    p
}

#[test]
fn concurrent_insert_delete_and_search_stress() {
    let seed = test_seed("concurrent_insert_delete_and_search_stress");
    let (base, queries) = data(6000, 100, 24, seed);
    let live = Arc::new(LiveHnsw::new(Metric::Cosine, base.dim, params()).unwrap());
    let done = Arc::new(AtomicBool::new(false));
    let base = Arc::new(base);
    let started = Instant::now();
    std::thread::scope(|scope| {
        // Two writers: writer w inserts rows w, w+2, … (row numbers interleave).
        let writers: Vec<_> = (0..2)
            .map(|w| {
                let (live, base) = (Arc::clone(&live), Arc::clone(&base));
                scope.spawn(move || {
                    let mut mine = Vec::new();
                    for i in (w..base.len()).step_by(2) {
                        let row = live.insert(base.row(i)).unwrap();
                        mine.push((row, i));
                        if i % 97 == 0 {
                            assert!(live.delete(row));
                            assert!(!live.delete(row));
                        }
                    }
                    mine
                })
            })
            .collect();
        // Two readers search the whole time.
        let readers: Vec<_> = (0..2)
            .map(|r| {
                let (live, done, queries) = (Arc::clone(&live), Arc::clone(&done), &queries);
                scope.spawn(move || {
                    let mut searches = 0usize;
                    let mut short = 0usize;
                    let mut out = Vec::new();
                    while !done.load(Ordering::Acquire) {
                        let q = queries.row((searches + r) % queries.len());
                        let before = live.len();
                        live.search_into(q, 10, &SearchOptions::default(), &mut out)
                            .unwrap();
                        let after = live.len();
                        assert!(out.len() <= 10);
                        if before >= 100 && out.len() < 10 {
                            short += 1;
                            eprintln!("short result: {} hits at {before} rows", out.len());
                        }
                        let ids: HashSet<u64> = out.iter().map(|h| h.id).collect();
                        assert_eq!(ids.len(), out.len(), "duplicate rows");
                        assert!(out.iter().all(|h| (h.id as usize) < after));
                        assert!(out.windows(2).all(|w| w[0].distance <= w[1].distance));
                        searches += 1;
                    }
                    assert_eq!(short, 0, "searches with fewer than k hits");
                    searches
                })
            })
            .collect();
        let mut mapping = vec![0usize; base.len()];
        for w in writers {
            for (row, i) in w.join().unwrap() {
                mapping[row as usize] = i;
            }
        }
        done.store(true, Ordering::Release);
        let searches: usize = readers.into_iter().map(|r| r.join().unwrap()).sum();
        eprintln!(
            "{searches} searches during {} inserts in {:?}",
            base.len(),
            started.elapsed()
        );
        assert!(searches > 0);

        // Quiescent: recall against exact over the live rows, deletes respected.
        let deleted: RoaringBitmap = (0..base.len() as u32)
            .filter(|&r| live.is_deleted(r))
            .collect();
        assert_eq!(deleted.len() as usize, live.deleted_count());
        assert!(!live.needs_rebuild());
        let truth = exact_knn(Metric::Cosine, &base, &queries, 40).unwrap();
        let results: Vec<Vec<u64>> = queries
            .rows()
            .enumerate()
            .map(|(qi, q)| {
                let hits = live.search(q, 10, &SearchOptions::ef(128)).unwrap();
                assert!(hits.iter().all(|h| !deleted.contains(h.id as u32)));
                let _ = qi;
                hits.iter().map(|h| mapping[h.id as usize] as u64).collect()
            })
            .collect();
        // Truth without deleted base rows.
        let deleted_base: HashSet<u32> =
            deleted.iter().map(|r| mapping[r as usize] as u32).collect();
        let mut filtered = Vec::new();
        for q in 0..queries.len() {
            let row: Vec<u32> = truth
                .row(q)
                .iter()
                .copied()
                .filter(|i| !deleted_base.contains(i))
                .take(10)
                .collect();
            filtered.extend(row);
        }
        let truth10 = mnemodb_dataset::Neighbors::new(10, filtered).unwrap();
        let r = recall_at_k(&results, &truth10, 10).unwrap();
        eprintln!("live recall@10 ef=128 after concurrent build: {r:.4}");
        assert!(r >= 0.95, "recall {r}");

        // Freeze: a valid graph over the same rows, same answers.
        let frozen = live.freeze();
        check_invariants(&frozen, &deleted);
        let flat: Vec<f32> = (0..live.len() as u32)
            .flat_map(|r| live.vector(r).unwrap().to_vec())
            .collect();
        let rows = Rows::new(&flat, base.dim).unwrap();
        let q = queries.row(3);
        let a = frozen
            .search(rows, q, 10, &SearchOptions::ef(200).tombstones(&deleted))
            .unwrap();
        let b = live.search(q, 10, &SearchOptions::ef(200)).unwrap();
        assert_eq!(
            a.iter().map(|h| h.id).collect::<Vec<_>>(),
            b.iter().map(|h| h.id).collect::<Vec<_>>()
        );
    });
}

#[test]
fn deletes_trigger_rebuild_and_rebuild_keeps_row_numbers() {
    let (base, queries) = data(2000, 40, 16, 21);
    let live = LiveHnsw::new(Metric::L2, base.dim, params()).unwrap();
    for row in base.rows() {
        live.insert(row).unwrap();
    }
    for r in (0..2000u32).filter(|r| r % 3 == 0) {
        assert!(live.delete(r));
    }
    assert!(!live.delete(5000), "no such row");
    assert!(live.needs_rebuild(), "33% deleted");
    let fresh = live.rebuild(&pool(2)).unwrap();
    assert_eq!(fresh.len(), 2000);
    assert_eq!(fresh.deleted_count(), live.deleted_count());
    assert!(fresh.needs_rebuild(), "same tombstones");
    for q in queries.rows() {
        let a = fresh.search(q, 10, &SearchOptions::ef(100)).unwrap();
        assert!(a.iter().all(|h| h.id % 3 != 0));
        let b = live.search(q, 10, &SearchOptions::ef(100)).unwrap();
        let overlap = a.iter().filter(|h| b.iter().any(|x| x.id == h.id)).count();
        assert!(overlap >= 8, "rebuilt and original agree");
    }
    let deleted: RoaringBitmap = (0..2000u32).filter(|r| r % 3 == 0).collect();
    check_invariants(&fresh.freeze(), &deleted);
    // Bad input.
    assert!(live.insert(&[f32::NAN; 16]).is_err());
    assert!(live.insert(&[1.0; 3]).is_err());
    assert_eq!(live.len(), 2000, "refused vectors take no row");
    let empty = LiveHnsw::new(Metric::L2, 4, params()).unwrap();
    assert!(
        empty
            .search(&[0.0; 4], 3, &SearchOptions::default())
            .unwrap()
            .is_empty()
    );
    assert!(empty.freeze().is_empty());
}
