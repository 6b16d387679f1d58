//! The crate's one error type.

/// Why a vector (or a metric name) was refused.
///
/// Every message is one actionable line.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The vector's length differs from the collection's dimension.
    #[error(
        "vector has {found} dimensions but {expected} are expected: re-embed with the collection's model"
    )]
    DimensionMismatch {
        /// Dimension the caller expects (the collection's).
        expected: usize,
        /// Length of the vector that was given.
        found: usize,
    },
    /// The vector has no components.
    #[error("vector is empty: a vector needs at least one dimension")]
    EmptyVector,
    /// The vector (or requested dimension) exceeds [`crate::MAX_DIM`].
    #[error("dimension {dim} exceeds the maximum of {max}: reduce the embedding size")]
    DimensionTooLarge {
        /// The offending dimension.
        dim: usize,
        /// The limit, [`crate::MAX_DIM`].
        max: usize,
    },
    /// A component is NaN or infinite.
    #[error(
        "vector component {index} is {value}: every component must be finite (no NaN or infinity)"
    )]
    NonFinite {
        /// Index of the first non-finite component.
        index: usize,
        /// Its value (NaN, `inf` or `-inf`).
        value: f32,
    },
    /// A metric name that [`crate::Metric`]'s `FromStr` does not know.
    #[error(
        "unknown metric {name:?}: expected one of cosine, ip (dot, inner_product), l2 (euclidean)"
    )]
    UnknownMetric {
        /// The name that was given.
        name: String,
    },
}
