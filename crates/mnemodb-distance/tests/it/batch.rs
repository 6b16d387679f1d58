//! `batch::distances_strided` against per-row distances.

use mnemodb_distance::{Backend, Metric, batch, distance_with};
use proptest::collection::vec;
use proptest::prelude::*;

proptest! {
    #[test]
    fn strided_equals_per_row(
        dim in 1usize..70,
        pad in 0usize..5,
        n_rows in 0usize..20,
        metric_index in 0usize..3,
        seed in vec(-1.0f32..1.0, 1..64),
    ) {
        let metric = Metric::ALL[metric_index];
        let stride = dim + pad;
        let value = |i: usize| seed[i % seed.len()] * (1.0 + (i % 7) as f32);
        let mut query: Vec<f32> = (0..dim).map(|i| value(i * 3 + 1)).collect();
        metric.prepare(&mut query);
        // Padding is NaN: reading it would change the results.
        let mut rows = vec![f32::NAN; n_rows * stride];
        for (r, row) in rows.chunks_exact_mut(stride).enumerate() {
            for (c, x) in row[..dim].iter_mut().enumerate() {
                *x = value(r * 31 + c);
            }
            metric.prepare(&mut row[..dim]);
        }
        // A trailing partial row is ignored.
        rows.extend(std::iter::repeat_n(0.5, stride.saturating_sub(1)));
        let mut out = vec![-1.0f32; n_rows];
        batch::distances_strided(metric, &query, &rows, stride, &mut out);
        for (r, &got) in out.iter().enumerate() {
            let row = &rows[r * stride..r * stride + dim];
            let want = distance_with(Backend::Tile, metric, &query, row);
            prop_assert_eq!(got.to_bits(), want.to_bits());
            prop_assert!(!got.is_nan());
        }
    }
}

#[test]
fn stride_shorter_than_query_is_a_caller_bug() {
    let rows = [1.0f32; 12];
    let mut out = [0.0f32; 4];
    let result = std::panic::catch_unwind(move || {
        batch::distances_strided(Metric::L2, &[0.0; 4], &rows, 3, &mut out);
        out
    });
    if cfg!(debug_assertions) {
        assert!(result.is_err());
    } else {
        assert_eq!(result.unwrap(), [f32::INFINITY; 4]);
    }
}

#[test]
fn empty_rows_write_nothing() {
    let mut out: [f32; 0] = [];
    batch::distances_strided(Metric::Cosine, &[1.0, 0.0], &[], 2, &mut out);
    let mut out = [7.0f32; 2];
    batch::distances_strided(Metric::L2, &[1.0], &[1.0, 3.0], 1, &mut out);
    assert_eq!(out, [0.0, 4.0]);
}
