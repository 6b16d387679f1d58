//! The crate's one error type.

/// Errors of the memory layer. Bad input never panics: it comes back as
/// [`Error::InvalidInput`] (or [`Error::DimensionMismatch`]) with a message that names the
/// field and the accepted range.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The storage engine failed (I/O, corruption, a locked database, ...).
    #[error("storage: {0}")]
    Engine(#[from] mnemodb::Error),
    /// An argument is out of range or malformed (importance outside [0, 1], empty text,
    /// a timestamp in the future, `k = 0`, a NaN in a vector, ...).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A vector does not have the store's dimension.
    #[error("vector dimension mismatch: the store holds {expected}-d vectors, got {got}")]
    DimensionMismatch {
        /// The store's dimension.
        expected: usize,
        /// The vector's.
        got: usize,
    },
    /// Text was given without a vector and no [`Embedder`](crate::Embedder) is configured.
    #[error("no vector given and no embedder configured: pass a vector or configure an embedder")]
    NoEmbedder,
    /// The embedder failed.
    #[error("embedder {model}: {message}")]
    Embedder {
        /// The embedder's model id.
        model: String,
        /// What went wrong.
        message: String,
    },
    /// The embedder's dimension differs from the store's.
    #[error("embedder {model} produces {got}-d vectors but the store holds {expected}-d vectors")]
    EmbedderDimension {
        /// The embedder's model id.
        model: String,
        /// The store's dimension.
        expected: usize,
        /// The embedder's.
        got: usize,
    },
    /// No memory, fact or session with this id in this scope.
    #[error("not found: {0}")]
    NotFound(String),
    /// A stored record does not have the shape this layer writes (written by something
    /// else, or by an incompatible version).
    #[error("malformed stored record {id} in {collection}: {what}")]
    Malformed {
        /// The collection.
        collection: String,
        /// The record id.
        id: String,
        /// What is wrong.
        what: String,
    },
    /// An internal invariant failed: the engine returned a record of another scope. Never
    /// expected; reported instead of returning another scope's data.
    #[error("scope isolation violated: query scope {expected} got a record of scope {found}")]
    ScopeViolation {
        /// The query's scope.
        expected: String,
        /// The record's.
        found: String,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn invalid(msg: impl Into<String>) -> Error {
    Error::InvalidInput(msg.into())
}
