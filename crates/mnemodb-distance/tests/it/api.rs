//! Metric and backend API: convention examples, zero vectors, caller bugs.

use mnemodb_distance::{Backend, Metric, distance_fn_with, distance_with, simsimd_target};

#[test]
fn convention_on_small_examples() {
    let a = [1.0, 2.0, 2.0];
    let b = [2.0, 0.0, 1.0];
    for backend in Backend::ALL {
        assert_eq!(distance_with(backend, Metric::L2, &a, &b), 1.0 + 4.0 + 1.0);
        assert_eq!(distance_with(backend, Metric::InnerProduct, &a, &b), -4.0);
        let (mut pa, mut pb) = (a, b);
        Metric::Cosine.prepare(&mut pa);
        Metric::Cosine.prepare(&mut pb);
        let d = distance_with(backend, Metric::Cosine, &pa, &pb);
        // cos = 4 / (3 * sqrt(5))
        let want = 1.0 - 4.0 / (3.0 * 5f32.sqrt());
        assert!((d - want).abs() < 1e-6, "{backend}: {d} vs {want}");
        // Identical and opposite directions hit the clamp bounds exactly or nearly.
        assert!(distance_with(backend, Metric::Cosine, &pa, &pa) < 1e-6);
        let neg = pa.map(|x| -x);
        assert!((distance_with(backend, Metric::Cosine, &pa, &neg) - 2.0).abs() < 1e-6);
    }
}

#[test]
fn zero_vector_is_at_cosine_distance_one() {
    for backend in Backend::ALL {
        for dim in [1, 8, 15, 16, 17, 100] {
            let mut zero = vec![0.0f32; dim];
            let mut v: Vec<f32> = (0..dim).map(|i| i as f32 - 3.5).collect();
            Metric::Cosine.prepare(&mut zero);
            Metric::Cosine.prepare(&mut v);
            assert_eq!(distance_with(backend, Metric::Cosine, &zero, &v), 1.0);
            assert_eq!(distance_with(backend, Metric::Cosine, &zero, &zero), 1.0);
            assert_eq!(Metric::Cosine.similarity(1.0), 0.0);
        }
    }
}

#[test]
fn similarity_is_the_documented_mapping() {
    assert_eq!(Metric::Cosine.similarity(0.0), 1.0);
    assert_eq!(Metric::Cosine.similarity(2.0), -1.0);
    assert_eq!(Metric::InnerProduct.similarity(-7.5), 7.5);
    assert_eq!(Metric::L2.similarity(9.0), -9.0);
    assert!(Metric::L2.similarity(f32::INFINITY) < -f32::MAX);
}

#[test]
fn metric_names_and_header_values() {
    assert_eq!(Metric::ALL.map(Metric::name), ["cosine", "ip", "l2"]);
    assert_eq!(Metric::ALL.map(|m| m as u32), [0, 1, 2]);
    for alias in ["ip", "dot", "inner_product", "INNER_PRODUCT"] {
        assert_eq!(alias.parse::<Metric>().unwrap(), Metric::InnerProduct);
    }
    for alias in ["l2", "L2", "euclidean"] {
        assert_eq!(alias.parse::<Metric>().unwrap(), Metric::L2);
    }
    let err = "hamming".parse::<Metric>().unwrap_err().to_string();
    assert!(
        err.contains("hamming") && err.contains("cosine") && !err.contains('\n'),
        "{err}"
    );
    assert!(Metric::Cosine.needs_normalization());
    assert!(!Metric::InnerProduct.needs_normalization());
    assert!(!Metric::L2.needs_normalization());
}

#[test]
fn empty_slices_follow_the_convention() {
    for backend in Backend::ALL {
        assert_eq!(distance_with(backend, Metric::L2, &[], &[]), 0.0);
        assert_eq!(distance_with(backend, Metric::InnerProduct, &[], &[]), 0.0);
        assert_eq!(distance_with(backend, Metric::Cosine, &[], &[]), 1.0);
    }
}

/// Mismatched lengths: debug builds panic (the bug surfaces in tests),
/// release builds answer `INFINITY` without reading out of bounds.
#[test]
fn mismatched_lengths_are_a_caller_bug() {
    let a = [1.0f32; 20];
    let b = [1.0f32; 19];
    for backend in Backend::ALL {
        for metric in Metric::ALL {
            let f = distance_fn_with(backend, metric);
            let result = std::panic::catch_unwind(|| f(&a, &b));
            if cfg!(debug_assertions) {
                assert!(result.is_err(), "{backend} {metric}: no debug panic");
            } else {
                assert_eq!(result.unwrap(), f32::INFINITY, "{backend} {metric}");
            }
        }
    }
}

#[test]
fn fast_path_uses_the_widest_simd_level() {
    let target = simsimd_target();
    println!("simsimd f32 kernels: {target}");
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        assert_eq!(target, "skylake");
    } else if std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma")
        && std::arch::is_x86_feature_detected!("f16c")
    {
        assert_eq!(target, "haswell");
    }
    assert_eq!(
        Backend::ALL.map(Backend::name),
        ["simsimd", "scalar", "tile"]
    );
}
