//! proptest generators: vector pairs across magnitude classes.

use proptest::collection::vec;
use proptest::prelude::*;

/// The magnitude class of one vector's components.
#[derive(Debug, Clone, Copy)]
pub enum Scale {
    /// Uniform in (-1, 1), sometimes exactly 0.
    Unit,
    /// Exactly zero everywhere.
    Zero,
    /// Around 1e-30 (normal, but tiny products underflow).
    Tiny,
    /// Subnormal f32 values only.
    Subnormal,
    /// Around 1e18 (products near 1e36; long sums overflow f32).
    Huge,
    /// Near ±f32::MAX (products overflow).
    Extreme,
    /// Every class mixed within one vector.
    Mixed,
}

pub fn scale() -> impl Strategy<Value = Scale> {
    prop_oneof![
        6 => Just(Scale::Unit),
        1 => Just(Scale::Zero),
        1 => Just(Scale::Tiny),
        1 => Just(Scale::Subnormal),
        1 => Just(Scale::Huge),
        1 => Just(Scale::Extreme),
        2 => Just(Scale::Mixed),
    ]
}

fn subnormal() -> impl Strategy<Value = f32> {
    (1u32..0x0080_0000, any::<bool>())
        .prop_map(|(bits, neg)| f32::from_bits(bits | if neg { 0x8000_0000 } else { 0 }))
}

/// One finite component of the given class.
pub fn component(scale: Scale) -> BoxedStrategy<f32> {
    match scale {
        Scale::Unit => prop_oneof![9 => -1.0f32..1.0, 1 => Just(0.0f32)].boxed(),
        Scale::Zero => Just(0.0f32).boxed(),
        Scale::Tiny => (-1.0f32..1.0).prop_map(|x| x * 1e-30).boxed(),
        Scale::Subnormal => subnormal().boxed(),
        Scale::Huge => (-1.0f32..1.0).prop_map(|x| x * 1e18).boxed(),
        Scale::Extreme => prop_oneof![1e38f32..=f32::MAX, -f32::MAX..=-1e38f32].boxed(),
        Scale::Mixed => prop_oneof![
            4 => -1.0f32..1.0,
            1 => Just(0.0f32),
            1 => (-1.0f32..1.0).prop_map(|x| x * 1e-30),
            1 => subnormal(),
            1 => (-1.0f32..1.0).prop_map(|x| x * 1e18),
            1 => -1e6f32..1e6,
        ]
        .boxed(),
    }
}

/// Two finite vectors of one length drawn from `dims`, each with its own class.
pub fn pair(dims: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = (Vec<f32>, Vec<f32>)> {
    (dims, scale(), scale())
        .prop_flat_map(|(dim, sa, sb)| (vec(component(sa), dim), vec(component(sb), dim)))
}

/// One finite vector of a length drawn from `dims`.
pub fn vector(dims: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = Vec<f32>> {
    (dims, scale()).prop_flat_map(|(dim, s)| vec(component(s), dim))
}
