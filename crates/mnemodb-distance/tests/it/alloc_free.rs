//! Kernels never allocate: a counting global allocator watches this thread.

use mnemodb_testkit::alloc::{CountingAlloc, allocations};

use mnemodb_distance::tile::{self, Isa};
use mnemodb_distance::{Backend, Metric, batch, distance_fn_with};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

#[test]
fn kernels_and_batch_do_not_allocate() {
    let dim = 1536;
    let a: Vec<f32> = (0..dim).map(|i| (i as f32).sin()).collect();
    let b: Vec<f32> = (0..dim).map(|i| (i as f32).cos()).collect();
    let rows: Vec<f32> = a.iter().chain(&b).copied().collect();
    let mut out = [0.0f32; 2];
    let mut tile_out = [0.0f32; 4];
    // Warm up the one-time dispatches (simsimd, `Isa::selected`) before counting.
    let _ = Metric::L2.distance(&a, &b);
    let _ = Isa::selected();
    let before = allocations();
    let mut sink = 0.0f32;
    for metric in Metric::ALL {
        for backend in Backend::ALL {
            sink += distance_fn_with(backend, metric)(&a, &b);
        }
        sink += metric.distance(&a, &b);
        batch::distances_strided(metric, &a, &rows, dim, &mut out);
        sink += out[0];
        tile::distances_tile(metric, &[&a, &b], &rows, dim, &mut tile_out);
        sink += tile_out[3];
        for isa in Isa::ALL {
            tile::distances_tile_with(isa, metric, &[&a, &b], &rows, dim, &mut tile_out);
            tile::distances_strided_with(isa, metric, &b, &rows, dim, &mut out);
            sink += tile_out[1] + out[1] + tile::distance_with(isa, metric, &a, &b);
        }
    }
    assert_eq!(allocations() - before, 0, "a kernel allocated");
    assert!(!sink.is_nan());
    // The counter works.
    let v = std::hint::black_box(vec![1u8; 10]);
    assert!(allocations() > before && v.len() == 10);
}
