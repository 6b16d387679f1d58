//! Differential fuzzing of the distance kernels.
//!
//! The input is two f32 vectors of one length `n = len / 8` (little-endian;
//! any bit pattern: NaN, ±inf, subnormals, ±3e38). Oracle:
//! - no kernel (any backend, any metric, prepared or not) ever returns NaN, and
//!   a NaN input always gives `f32::INFINITY`;
//! - `validate_vector` accepts exactly the all-finite vectors and reports the
//!   first non-finite index;
//! - when every component is finite and |x| < 1e18, every backend is within
//!   `reference::error_bound` of the f64 reference (when a bound exists, i.e.
//!   no f32 overflow is possible);
//! - the strided batch kernel equals the single-pair kernel bit for bit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mnemodb_distance::{
    Backend, Error, MAX_DIM, Metric, batch, distance_with, reference, validate_vector,
};

/// Magnitude below which the fuzzer requires agreement with the reference.
const MODERATE: f32 = 1e18;

fuzz_target!(|data: &[u8]| check(data));

fn check(data: &[u8]) {
    let n = data.len() / 8;
    let floats: Vec<f32> = data
        .chunks_exact(4)
        .take(2 * n)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let (a, b) = floats.split_at(n);

    check_validation(a);
    check_validation(b);

    let has_nan = a.iter().chain(b).any(|x| x.is_nan());
    let moderate = a
        .iter()
        .chain(b)
        .all(|x| x.is_finite() && x.abs() < MODERATE);
    for metric in Metric::ALL {
        let (mut pa, mut pb) = (a.to_vec(), b.to_vec());
        metric.prepare(&mut pa);
        metric.prepare(&mut pb);
        for backend in Backend::ALL {
            let raw = distance_with(backend, metric, a, b);
            let fast = distance_with(backend, metric, &pa, &pb);
            assert!(
                !raw.is_nan() && !fast.is_nan(),
                "{backend} {metric}: NaN out"
            );
            if has_nan {
                assert_eq!(
                    raw,
                    f32::INFINITY,
                    "{backend} {metric}: NaN in, not +inf out"
                );
                assert_eq!(
                    fast,
                    f32::INFINITY,
                    "{backend} {metric}: NaN in, not +inf out"
                );
            }
            if !moderate {
                continue;
            }
            if metric == Metric::Cosine {
                assert!(
                    (0.0..=2.0).contains(&fast),
                    "{backend} cosine {fast} outside [0, 2]"
                );
                if a.iter().all(|&x| x == 0.0) || b.iter().all(|&x| x == 0.0) {
                    assert_eq!(fast, 1.0, "{backend}: zero vector not at cosine distance 1");
                }
            }
            if let Some(bound) = reference::error_bound(backend, metric, a, b) {
                let want = reference::distance(metric, a, b);
                let err = (f64::from(fast) - want).abs();
                assert!(
                    err <= bound,
                    "{backend} {metric} n={n}: fast {fast} ref {want} err {err:e} > bound {bound:e}"
                );
            }
        }
        if n > 0 {
            let mut out = [f32::NAN];
            batch::distances_strided(metric, &pa, &pb, n, &mut out);
            assert_eq!(
                out[0].to_bits(),
                distance_with(Backend::Tile, metric, &pa, &pb).to_bits(),
                "{metric}: batch differs from the same kernel one pair at a time"
            );
        }
    }
}

/// `validate_vector` accepts exactly the non-empty, all-finite vectors.
fn check_validation(v: &[f32]) {
    let first_bad = v.iter().position(|x| !x.is_finite());
    match (validate_vector(v, v.len()), first_bad) {
        (Err(Error::EmptyVector), _) => assert!(v.is_empty()),
        (Err(Error::DimensionTooLarge { dim, .. }), _) => assert!(dim == v.len() && dim > MAX_DIM),
        (Err(Error::NonFinite { index, value }), Some(first)) => {
            assert_eq!(index, first, "wrong first non-finite index");
            assert_eq!(value.to_bits(), v[first].to_bits());
        }
        (Ok(()), None) => assert!(!v.is_empty() && v.len() <= MAX_DIM),
        (result, first_bad) => {
            panic!("validate_vector: {result:?} with first non-finite {first_bad:?}")
        }
    }
}
