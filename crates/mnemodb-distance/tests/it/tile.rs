//! The blocked kernels (`tile`, `batch::distances_strided`) on every
//! instruction set this CPU has: against the f64 reference within the proven
//! bound, bit for bit across block shapes, padding never read.

use mnemodb_distance::tile::{self, Isa};
use mnemodb_distance::{Backend, Metric, batch, distance_with, reference, tile_backend};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use crate::strategy::{Scale, component, scale};

/// The instruction sets to test here: every available one (portable always).
fn isas() -> Vec<Isa> {
    Isa::ALL
        .into_iter()
        .filter(|isa| isa.is_available())
        .collect()
}

/// A tile problem: `nq` queries and `nrows` rows of one dimension, raw
/// (unprepared), with `pad` f32 of padding per row.
#[derive(Debug, Clone)]
struct Case {
    dim: usize,
    pad: usize,
    queries: Vec<Vec<f32>>,
    rows: Vec<Vec<f32>>,
}

fn vectors(n: usize, dim: usize, s: Scale) -> impl Strategy<Value = Vec<Vec<f32>>> {
    vec(vec(component(s), dim), n)
}

fn case(dims: std::ops::RangeInclusive<usize>, max_q: usize) -> impl Strategy<Value = Case> {
    (dims, 1..=max_q, 0usize..=13, 0usize..=20, scale(), scale()).prop_flat_map(
        |(dim, nq, nrows, pad, sq, sr)| {
            (vectors(nq, dim, sq), vectors(nrows, dim, sr)).prop_map(move |(queries, rows)| Case {
                dim,
                pad,
                queries,
                rows,
            })
        },
    )
}

/// Rows laid out with `stride = dim + pad`, NaN padding, plus a trailing
/// partial row of NaN (both must never be read).
fn layout(rows: &[Vec<f32>], dim: usize, pad: usize) -> Vec<f32> {
    let stride = dim + pad;
    let mut flat = vec![f32::NAN; rows.len() * stride + stride.saturating_sub(1)];
    for (r, row) in rows.iter().enumerate() {
        flat[r * stride..r * stride + dim].copy_from_slice(row);
    }
    flat
}

fn prepared(metric: Metric, vs: &[Vec<f32>]) -> Vec<Vec<f32>> {
    vs.iter()
        .map(|v| {
            let mut p = v.clone();
            metric.prepare(&mut p);
            p
        })
        .collect()
}

/// Checks one metric of `c` on every available instruction set.
fn check(metric: Metric, c: &Case) -> Result<(), TestCaseError> {
    let (dim, nq, nrows) = (c.dim, c.queries.len(), c.rows.len());
    let stride = dim + c.pad;
    let pq = prepared(metric, &c.queries);
    let pr = prepared(metric, &c.rows);
    let qs: Vec<&[f32]> = pq.iter().map(Vec::as_slice).collect();
    let padded = layout(&pr, dim, c.pad);
    let packed = layout(&pr, dim, 0);
    let mut fused: Option<Vec<f32>> = None;
    for isa in isas() {
        let mut out = vec![f32::NAN; nq * nrows];
        prop_assert_eq!(
            tile::distances_tile_with(isa, metric, &qs, &padded, stride, &mut out),
            isa
        );
        // Padding is never read: same bits as the packed layout.
        let mut out_packed = vec![f32::NAN; nq * nrows];
        tile::distances_tile_with(isa, metric, &qs, &packed, dim, &mut out_packed);
        prop_assert_eq!(
            bits(&out),
            bits(&out_packed),
            "{} {}: padding read",
            isa,
            metric
        );
        for (qi, (q, raw_q)) in pq.iter().zip(&c.queries).enumerate() {
            // One query = its row of the tile, bit for bit.
            let mut one = vec![f32::NAN; nrows];
            tile::distances_strided_with(isa, metric, q, &padded, stride, &mut one);
            let row = &out[qi * nrows..(qi + 1) * nrows];
            prop_assert_eq!(bits(&one), bits(row), "{} {} strided q{}", isa, metric, qi);
            for (ri, (r, raw_r)) in pr.iter().zip(&c.rows).enumerate() {
                let got = row[ri];
                let pair = tile::distance_with(isa, metric, q, r);
                prop_assert_eq!(pair.to_bits(), got.to_bits(), "{} {} pair", isa, metric);
                check_value(isa, metric, raw_q, raw_r, got)?;
            }
        }
        // AVX-512 and AVX2 both fuse, with the same lanes: same bits.
        if isa != Isa::Portable {
            match &fused {
                Some(prev) => prop_assert_eq!(bits(prev), bits(&out), "fused isas differ"),
                None => fused = Some(out.clone()),
            }
        }
        if isa == Isa::selected() {
            let mut default = vec![f32::NAN; nq * nrows];
            tile::distances_tile(metric, &qs, &padded, stride, &mut default);
            prop_assert_eq!(bits(&default), bits(&out));
            let mut one = vec![f32::NAN; nrows];
            batch::distances_strided(metric, &pq[0], &padded, stride, &mut one);
            prop_assert_eq!(bits(&one), bits(&out[..nrows]));
        }
    }
    Ok(())
}

/// One tile result against the f64 reference on the raw vectors.
fn check_value(
    isa: Isa,
    metric: Metric,
    a: &[f32],
    b: &[f32],
    got: f32,
) -> Result<(), TestCaseError> {
    prop_assert!(!got.is_nan(), "{isa} {metric}: NaN");
    match metric {
        Metric::Cosine => prop_assert!((0.0..=2.0).contains(&got), "{isa} cosine {got}"),
        Metric::L2 => prop_assert!(got >= 0.0, "{isa} l2 {got}"),
        _ => {}
    }
    let want = reference::distance(metric, a, b);
    if let Some(bound) = reference::error_bound(Backend::Tile, metric, a, b) {
        let err = (f64::from(got) - want).abs();
        prop_assert!(
            err <= bound,
            "{isa} {metric} dim {}: tile {got} ref {want} err {err:e} > bound {bound:e}",
            a.len()
        );
    }
    if metric == Metric::Cosine && (a.iter().all(|&x| x == 0.0) || b.iter().all(|&x| x == 0.0)) {
        prop_assert_eq!(got, 1.0, "{} zero vector", isa);
    }
    Ok(())
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn tile_matches_reference_on_every_isa(c in case(1..=1100, 9)) {
        for metric in Metric::ALL {
            check(metric, &c)?;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6))]

    #[test]
    fn tile_matches_reference_at_large_dims(c in case(1100..=20_000, 5)) {
        for metric in Metric::ALL {
            check(metric, &c)?;
        }
    }
}

#[test]
fn every_available_isa_is_tested() {
    let available = isas();
    println!("tile isas here: {available:?}, selected {}", tile_backend());
    assert!(available.contains(&Isa::Portable));
    assert_eq!(tile_backend(), Isa::selected().name());
    assert_eq!(
        Isa::selected(),
        available[0],
        "the widest available is selected"
    );
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        let avx512 = has!("avx512f") && has!("avx512vl") && has!("fma");
        assert_eq!(Isa::Avx512.is_available(), avx512);
        assert_eq!(Isa::Avx2Fma.is_available(), has!("avx2") && has!("fma"));
    }
    #[cfg(not(target_arch = "x86_64"))]
    assert_eq!(available, [Isa::Portable]);
    assert_eq!(Isa::ALL.map(Isa::name), ["avx512", "avx2+fma", "portable"]);
    // An instruction set the CPU lacks runs the portable code.
    for isa in Isa::ALL.into_iter().filter(|isa| !isa.is_available()) {
        let mut out = [0.0f32];
        let ran = tile::distances_tile_with(isa, Metric::L2, &[&[1.0]], &[3.0], 1, &mut out);
        assert_eq!((ran, out), (Isa::Portable, [4.0]));
    }
}

#[test]
fn zero_vectors_are_at_cosine_distance_exactly_one() {
    for isa in isas() {
        for dim in [1, 8, 15, 16, 17, 100, 385] {
            let mut v: Vec<f32> = (0..dim).map(|i| i as f32 - 3.5).collect();
            Metric::Cosine.prepare(&mut v);
            let zero = vec![0.0f32; dim];
            let rows: Vec<f32> = [&zero, &v, &zero, &v, &v]
                .into_iter()
                .flatten()
                .copied()
                .collect();
            let mut out = [0.0f32; 10];
            tile::distances_tile_with(isa, Metric::Cosine, &[&zero, &v], &rows, dim, &mut out);
            assert_eq!(out[..5], [1.0; 5], "{isa} dim {dim}: zero query");
            assert_eq!([out[5], out[7]], [1.0, 1.0], "{isa} dim {dim}: zero row");
            assert!(out[6] < 1e-6, "{isa} dim {dim}: same direction {}", out[6]);
        }
    }
}

/// Every block shape and remainder: up to 9 queries × 17 rows, bit for bit
/// the 1 × 1 kernel, at dims around the 16-lane chunk.
#[test]
fn every_block_shape_gives_the_pair_kernel_bits() {
    let value = |k: usize| ((k * 2_654_435_761) % 1000) as f32 / 500.0 - 1.0;
    for isa in isas() {
        for metric in Metric::ALL {
            for dim in [1, 16, 31, 33] {
                let queries: Vec<Vec<f32>> = (0..9)
                    .map(|q| (0..dim).map(|i| value(q * 977 + i)).collect())
                    .collect();
                let rows: Vec<f32> = (0..17 * dim).map(|i| value(i + 5)).collect();
                for nq in 1..=9 {
                    for nrows in 0..=17 {
                        let qs: Vec<&[f32]> = queries[..nq].iter().map(Vec::as_slice).collect();
                        let mut out = vec![f32::NAN; nq * nrows];
                        tile::distances_tile_with(
                            isa,
                            metric,
                            &qs,
                            &rows[..nrows * dim],
                            dim,
                            &mut out,
                        );
                        for (qi, q) in qs.iter().enumerate() {
                            for (ri, r) in rows[..nrows * dim].chunks_exact(dim).enumerate() {
                                let want = tile::distance_with(isa, metric, q, r);
                                assert_eq!(
                                    out[qi * nrows + ri].to_bits(),
                                    want.to_bits(),
                                    "{isa} {metric} dim {dim} {nq}×{nrows} at ({qi}, {ri})"
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Caller bugs: debug builds panic, release builds fill `out` with infinity.
#[test]
fn caller_bugs_panic_in_debug_and_give_infinity_in_release() {
    type Call = fn(&mut [f32]);
    let bugs: [(&str, usize, Call); 4] = [
        ("queries of different lengths", 8, |out| {
            tile::distances_tile(Metric::L2, &[&[1.0; 4], &[1.0; 3]], &[0.5; 16], 4, out)
        }),
        ("stride < dim", 5, |out| {
            tile::distances_tile(Metric::L2, &[&[1.0; 4]], &[0.5; 16], 3, out)
        }),
        ("stride 0", 0, |out| {
            tile::distances_tile(Metric::L2, &[&[]], &[0.5; 16], 0, out)
        }),
        ("out too short", 3, |out| {
            tile::distances_tile(Metric::L2, &[&[1.0; 4]], &[0.5; 16], 4, out)
        }),
    ];
    for (what, len, call) in bugs {
        let mut out = vec![0.0f32; len.max(1)];
        let result = std::panic::catch_unwind(move || {
            call(&mut out);
            out
        });
        if cfg!(debug_assertions) {
            assert!(result.is_err(), "{what}: no debug panic");
        } else {
            let out = result.unwrap();
            assert!(out.iter().all(|&x| x == f32::INFINITY), "{what}: {out:?}");
        }
    }
}

#[test]
fn empty_inputs_write_nothing() {
    for isa in isas() {
        let mut out: [f32; 0] = [];
        tile::distances_tile_with(isa, Metric::L2, &[], &[1.0, 2.0], 2, &mut out);
        tile::distances_tile_with(isa, Metric::L2, &[&[1.0, 2.0]], &[], 2, &mut out);
        tile::distances_tile_with(isa, Metric::L2, &[&[1.0, 2.0]], &[1.0], 2, &mut out);
        tile::distances_strided_with(isa, Metric::Cosine, &[1.0], &[], 1, &mut out);
        // Empty queries: every distance is the empty sum's.
        let mut out = [7.0f32; 3];
        tile::distances_tile_with(isa, Metric::Cosine, &[&[]], &[0.0; 3], 1, &mut out);
        assert_eq!(out, [1.0; 3]);
        assert_eq!(tile::distance_with(isa, Metric::L2, &[], &[]), 0.0);
        assert_eq!(
            distance_with(Backend::Tile, Metric::InnerProduct, &[], &[]),
            0.0
        );
    }
}

/// Non-finite or huge inputs (a caller bug for the former) never give NaN; a
/// NaN input gives infinity.
#[test]
fn non_finite_and_extreme_inputs_never_give_nan() {
    let specials = [
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::MAX,
        -f32::MAX,
        1.0,
    ];
    for isa in isas() {
        for metric in Metric::ALL {
            for &x in &specials {
                for dim in [1, 7, 17, 33] {
                    let mut q = vec![0.5f32; dim];
                    q[dim - 1] = x;
                    let other = vec![-f32::MAX; dim];
                    let rows: Vec<f32> = [vec![0.25; dim], other, q.clone()].concat();
                    let mut out = [0.0f32; 6];
                    tile::distances_tile_with(
                        isa,
                        metric,
                        &[&q, &rows[..dim]],
                        &rows,
                        dim,
                        &mut out,
                    );
                    assert!(
                        out.iter().all(|d| !d.is_nan()),
                        "{isa} {metric} {x} dim {dim}: {out:?}"
                    );
                    if x.is_nan() {
                        assert_eq!(out[..3], [f32::INFINITY; 3], "{isa} {metric} dim {dim}");
                    }
                }
            }
        }
    }
}
