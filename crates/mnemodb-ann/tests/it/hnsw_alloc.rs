//! A warm search allocates nothing: a counting global allocator watches this thread.
use mnemodb_testkit::alloc::{CountingAlloc, allocations};

use mnemodb_ann::hnsw::{HnswBuilder, HnswParams, Rows, SearchOptions};
use mnemodb_distance::Metric;
use roaring::RoaringBitmap;

use crate::hnsw::{data, pool};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

#[test]
fn warm_searches_do_not_allocate() {
    let (base, queries) = data(3000, 50, 32, 17);
    let rows = Rows::new(&base.data, base.dim).unwrap();
    let graph = HnswBuilder::new(Metric::Cosine, HnswParams::with_m(12))
        .unwrap()
        .build(&pool(2), rows)
        .unwrap();
    let allow: RoaringBitmap = (0..3000u32).step_by(3).collect();
    let mut out = Vec::with_capacity(64);
    let runs = |out: &mut Vec<mnemodb_ann::Hit>| {
        for q in queries.rows() {
            graph
                .search_into(rows, q, 10, &SearchOptions::ef(64), out)
                .unwrap();
            graph
                .search_into(rows, q, 10, &SearchOptions::ef(64).allow(&allow), out)
                .unwrap();
        }
    };
    runs(&mut out); // warm up this thread's scratch
    let before = allocations();
    runs(&mut out);
    assert_eq!(allocations() - before, 0, "warm searches allocated");

    // The walk on f32 rows with partial distances (192-d rows, no codes).
    let (base, queries) = data(2000, 30, 192, 19);
    let rows = Rows::new(&base.data, base.dim).unwrap();
    let mut params = HnswParams::with_m(12);
    params.sq8 = false;
    let graph = HnswBuilder::new(Metric::Cosine, params)
        .unwrap()
        .build(&pool(2), rows)
        .unwrap();
    assert!(graph.partial_plan(rows).is_some());
    let runs = |out: &mut Vec<mnemodb_ann::Hit>| {
        for q in queries.rows() {
            graph
                .search_into(rows, q, 10, &SearchOptions::ef(64), out)
                .unwrap();
        }
    };
    runs(&mut out);
    let before = allocations();
    runs(&mut out);
    assert_eq!(
        allocations() - before,
        0,
        "warm partial-distance searches allocated"
    );
}
