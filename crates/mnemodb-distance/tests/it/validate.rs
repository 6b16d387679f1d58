//! `validate_vector` / `validate_dim`: every error variant.

use mnemodb_distance::{Error, MAX_DIM, validate_dim, validate_vector};
use proptest::prelude::*;

use crate::strategy::vector;

#[test]
fn each_error_variant() {
    assert!(matches!(validate_vector(&[], 0), Err(Error::EmptyVector)));
    assert!(matches!(validate_vector(&[], 3), Err(Error::EmptyVector)));
    let big = vec![0.0f32; MAX_DIM + 1];
    assert!(matches!(
        validate_vector(&big, MAX_DIM + 1),
        Err(Error::DimensionTooLarge { dim, max }) if dim == MAX_DIM + 1 && max == MAX_DIM
    ));
    assert!(validate_vector(&big[..MAX_DIM], MAX_DIM).is_ok());
    assert!(matches!(
        validate_vector(&[1.0, 2.0], 3),
        Err(Error::DimensionMismatch {
            expected: 3,
            found: 2
        })
    ));
    assert!(matches!(
        validate_vector(&[1.0, f32::NAN, f32::INFINITY], 3),
        Err(Error::NonFinite { index: 1, value }) if value.is_nan()
    ));
    assert!(matches!(
        validate_vector(&[f32::NEG_INFINITY], 1),
        Err(Error::NonFinite { index: 0, value }) if value == f32::NEG_INFINITY
    ));
    assert!(validate_vector(&[f32::MAX, -f32::MAX, f32::from_bits(1), 0.0, -0.0], 5).is_ok());

    assert!(matches!(validate_dim(0), Err(Error::EmptyVector)));
    assert!(matches!(
        validate_dim(MAX_DIM + 1),
        Err(Error::DimensionTooLarge { .. })
    ));
    assert!(validate_dim(1).is_ok() && validate_dim(MAX_DIM).is_ok());
}

#[test]
fn messages_are_one_actionable_line() {
    let errors = [
        Error::EmptyVector,
        Error::DimensionMismatch {
            expected: 768,
            found: 384,
        },
        Error::DimensionTooLarge {
            dim: 70_000,
            max: MAX_DIM,
        },
        Error::NonFinite {
            index: 5,
            value: f32::NAN,
        },
        Error::UnknownMetric { name: "x".into() },
    ];
    for e in errors {
        let msg = e.to_string();
        assert!(!msg.contains('\n') && msg.contains(':'), "{msg}");
    }
    let msg = Error::DimensionMismatch {
        expected: 768,
        found: 384,
    }
    .to_string();
    assert!(msg.contains("768") && msg.contains("384"), "{msg}");
}

proptest! {
    #[test]
    fn finite_vectors_pass(v in vector(1..=300)) {
        prop_assert!(validate_vector(&v, v.len()).is_ok());
    }

    #[test]
    fn first_non_finite_index_is_reported(
        v in vector(1..=300),
        hits in proptest::collection::vec((any::<prop::sample::Index>(), 0usize..3), 1..4),
    ) {
        let mut v = v;
        let specials = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY];
        let mut first = usize::MAX;
        for (at, kind) in hits {
            let i = at.index(v.len());
            v[i] = specials[kind];
            first = first.min(i);
        }
        match validate_vector(&v, v.len()) {
            Err(Error::NonFinite { index, value }) => {
                prop_assert_eq!(index, first);
                prop_assert_eq!(value.to_bits(), v[first].to_bits());
            }
            other => prop_assert!(false, "expected NonFinite, got {:?}", other),
        }
    }
}
