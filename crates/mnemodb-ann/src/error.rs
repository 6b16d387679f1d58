/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a search was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The query vector is unusable (wrong dimension, NaN, empty).
    #[error("invalid query: {0}")]
    InvalidQuery(#[from] mnemodb_distance::Error),
    /// `k` was 0: ask for at least one result.
    #[error("k must be at least 1")]
    ZeroK,
    /// The segments searched together disagree on dimension or metric.
    #[error("segments differ: {0}")]
    SegmentMismatch(String),
}
