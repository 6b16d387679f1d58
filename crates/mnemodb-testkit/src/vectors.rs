//! Seeded vectors and proptest strategies.
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `n` vectors of `dim` components uniform in [-1, 1), from `seed`.
pub fn random_rows(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| (0..dim).map(|_| rng.random_range(-1.0f32..1.0)).collect())
        .collect()
}

/// A finite `f32` of moderate magnitude, with zeros and subnormals mixed in.
pub fn finite_component() -> impl Strategy<Value = f32> {
    prop_oneof![
        8 => -100.0f32..100.0,
        1 => Just(0.0f32),
        1 => Just(f32::MIN_POSITIVE / 4.0),
    ]
}

/// A vector of `dim` finite components.
pub fn vector(dim: usize) -> impl Strategy<Value = Vec<f32>> {
    proptest::collection::vec(finite_component(), dim)
}

/// `(dim, rows)` with 1..=max_dim (odd lengths included) and 0..=max_rows rows.
pub fn matrix(max_dim: usize, max_rows: usize) -> impl Strategy<Value = (usize, Vec<Vec<f32>>)> {
    (1..=max_dim).prop_flat_map(move |dim| {
        (
            Just(dim),
            proptest::collection::vec(vector(dim), 0..=max_rows),
        )
    })
}
