//! Every backend × metric against the f64 reference, within the proven bound.

use mnemodb_distance::{Backend, Metric, distance_with, reference};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use crate::strategy::{pair, vector};

/// Checks one backend/metric on one pair; returns the fast distance.
fn check(backend: Backend, metric: Metric, a: &[f32], b: &[f32]) -> Result<f32, TestCaseError> {
    let (mut pa, mut pb) = (a.to_vec(), b.to_vec());
    metric.prepare(&mut pa);
    metric.prepare(&mut pb);
    let fast = distance_with(backend, metric, &pa, &pb);
    prop_assert!(!fast.is_nan(), "{backend} {metric}: NaN");
    match metric {
        Metric::Cosine => prop_assert!((0.0..=2.0).contains(&fast), "{backend} cosine {fast}"),
        Metric::L2 => prop_assert!(fast >= 0.0, "{backend} l2 {fast}"),
        _ => {}
    }
    let want = reference::distance(metric, a, b);
    let want_sim = match metric {
        Metric::Cosine => reference::cosine_similarity(a, b),
        Metric::InnerProduct => reference::dot(a, b),
        _ => -reference::l2sq(a, b),
    };
    if let Some(bound) = reference::error_bound(backend, metric, a, b) {
        let err = (f64::from(fast) - want).abs();
        prop_assert!(
            err <= bound,
            "{backend} {metric} dim {}: fast {fast} ref {want} err {err:e} > bound {bound:e}",
            a.len()
        );
        // `similarity` is exact negation, or `1 - d` with one f32 rounding.
        let sim = f64::from(metric.similarity(fast));
        let sim_err = (sim - want_sim).abs();
        prop_assert!(
            sim_err <= bound + 2.0 * f64::from(f32::EPSILON),
            "{backend} {metric} similarity {sim} vs {want_sim}"
        );
    }
    if metric == Metric::Cosine && (a.iter().all(|&x| x == 0.0) || b.iter().all(|&x| x == 0.0)) {
        prop_assert_eq!(fast, 1.0);
    }
    Ok(fast)
}

fn check_all(a: &[f32], b: &[f32]) -> Result<(), TestCaseError> {
    for metric in Metric::ALL {
        let fast = check(Backend::SimSimd, metric, a, b)?;
        check(Backend::Scalar, metric, a, b)?;
        check(Backend::Tile, metric, a, b)?;
        // The public entry points are the SimSimd backend, bit for bit.
        let (mut pa, mut pb) = (a.to_vec(), b.to_vec());
        metric.prepare(&mut pa);
        metric.prepare(&mut pb);
        prop_assert_eq!(metric.distance(&pa, &pb).to_bits(), fast.to_bits());
        prop_assert_eq!((metric.distance_fn())(&pa, &pb).to_bits(), fast.to_bits());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn backends_match_reference((a, b) in pair(1..=1100)) {
        check_all(&a, &b)?;
    }

    #[test]
    fn prepare_gives_unit_norm(v in vector(1..=1100)) {
        let mut p = v.clone();
        Metric::Cosine.prepare(&mut p);
        let norm = reference::dot(&p, &p).sqrt();
        if v.iter().all(|&x| x == 0.0) {
            prop_assert!(p.iter().all(|&x| x == 0.0));
        } else {
            prop_assert!((norm - 1.0).abs() <= 1e-5, "norm {norm}");
            // Direction is kept: cosine with the original is 1.
            prop_assert!(reference::cosine_similarity(&v, &p) >= 1.0 - 1e-6);
        }
        for metric in [Metric::InnerProduct, Metric::L2] {
            let mut same = v.clone();
            metric.prepare(&mut same);
            prop_assert_eq!(same, v.clone());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    #[test]
    fn backends_match_reference_at_large_dims((a, b) in pair(1100..=65_536)) {
        check_all(&a, &b)?;
    }
}

/// The oracle is sharp enough to catch real bugs, not just NaN.
#[test]
fn bound_rejects_wrong_results() {
    let n = 1000;
    let a: Vec<f32> = (0..n)
        .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
        .collect();
    let mut b: Vec<f32> = (0..n)
        .map(|i| ((i * 53 % 97) as f32 / 48.0) - 1.0)
        .collect();
    b[n - 1] = 1.0;
    let mut a = a;
    a[n - 1] = 1.0;
    for backend in Backend::ALL {
        // Dropping the last element of an inner product.
        let bound = reference::error_bound(backend, Metric::InnerProduct, &a, &b).unwrap();
        let dropped = -reference::dot(&a[..n - 1], &b[..n - 1]);
        let want = reference::distance(Metric::InnerProduct, &a, &b);
        assert!(
            (dropped - want).abs() > bound,
            "{backend}: bound {bound} too loose"
        );
        // Euclidean instead of squared Euclidean.
        let bound = reference::error_bound(backend, Metric::L2, &a, &b).unwrap();
        let want = reference::distance(Metric::L2, &a, &b);
        assert!((want.sqrt() - want).abs() > bound);
        // Cosine bound is tight for realistic dims.
        let bound = reference::error_bound(backend, Metric::Cosine, &a, &b).unwrap();
        assert!(bound < 1e-4, "{backend}: cosine bound {bound}");
    }
    assert_eq!(
        reference::error_bound(Backend::SimSimd, Metric::L2, &a, &b[1..]),
        None
    );
    let mut nan = a.clone();
    nan[3] = f32::NAN;
    assert_eq!(
        reference::error_bound(Backend::SimSimd, Metric::L2, &nan, &b),
        None
    );
}

/// Huge finite values overflow to ±inf or NaN internally: the kernels answer
/// ±inf or a finite value, never NaN.
#[test]
fn extreme_finite_values_never_give_nan() {
    let a = [f32::MAX, -f32::MAX, f32::MAX, -f32::MAX, 1.0];
    let b = [f32::MAX, f32::MAX, -f32::MAX, -f32::MAX, 1.0];
    for backend in Backend::ALL {
        for metric in Metric::ALL {
            let d = distance_with(backend, metric, &a, &b);
            assert!(!d.is_nan(), "{backend} {metric}");
            // Prepared cosine never overflows.
            let (mut pa, mut pb) = (a, b);
            metric.prepare(&mut pa);
            metric.prepare(&mut pb);
            assert!(!distance_with(backend, metric, &pa, &pb).is_nan());
        }
        let d = distance_with(backend, Metric::L2, &[f32::MAX], &[-f32::MAX]);
        assert_eq!(d, f32::INFINITY);
    }
}

/// Non-finite inputs (a caller bug: `validate_vector` rejects them) still never give NaN.
#[test]
fn non_finite_inputs_give_infinity_not_nan() {
    let specials = [
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        0.0,
        1.0,
        -f32::MAX,
    ];
    for backend in Backend::ALL {
        for metric in Metric::ALL {
            for &x in &specials {
                for &y in &specials {
                    for dim in [1, 7, 17, 33] {
                        let mut a = vec![0.5f32; dim];
                        let mut b = vec![0.25f32; dim];
                        a[dim - 1] = x;
                        b[dim / 2] = y;
                        let d = distance_with(backend, metric, &a, &b);
                        assert!(!d.is_nan(), "{backend} {metric} {x} {y} dim {dim}");
                        if x.is_nan() || y.is_nan() {
                            assert_eq!(d, f32::INFINITY, "{backend} {metric} {x} {y} dim {dim}");
                        }
                    }
                }
            }
        }
    }
}
