//! The [`Embedder`] trait: how the memory layer turns text into vectors. Implementations
//! (local MiniLM, an HTTP client) live in `mnemodb-embed`; every API of the layer also
//! accepts a precomputed vector, so an embedder is optional.
use std::sync::Arc;

use crate::error::{Error, Result};

/// The error an embedder returns (any error type converts with `?`).
pub type EmbedError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Turns texts into vectors of a fixed dimension.
pub trait Embedder: Send + Sync {
    /// The dimension of every vector it returns.
    fn dim(&self) -> usize;
    /// One vector per text, in order.
    fn embed(&self, texts: &[&str]) -> std::result::Result<Vec<Vec<f32>>, EmbedError>;
    /// The model's id (`sentence-transformers/all-MiniLM-L6-v2`, ...).
    fn model_id(&self) -> &str;
}

impl<E: Embedder + ?Sized> Embedder for Arc<E> {
    fn dim(&self) -> usize {
        (**self).dim()
    }
    fn embed(&self, texts: &[&str]) -> std::result::Result<Vec<Vec<f32>>, EmbedError> {
        (**self).embed(texts)
    }
    fn model_id(&self) -> &str {
        (**self).model_id()
    }
}

/// What to search with: text (embedded by the store's embedder), a vector, or both (the
/// vector is used, the text is kept for lexical parts such as fact matching).
#[derive(Debug, Clone, PartialEq)]
pub enum QueryInput {
    /// Text to embed.
    Text(String),
    /// A precomputed vector.
    Vector(Vec<f32>),
    /// Both.
    Both {
        /// The text.
        text: String,
        /// Its vector.
        vector: Vec<f32>,
    },
}

impl QueryInput {
    /// The text, if any.
    pub fn text(&self) -> Option<&str> {
        match self {
            QueryInput::Text(t) | QueryInput::Both { text: t, .. } => Some(t),
            QueryInput::Vector(_) => None,
        }
    }
}

impl From<&str> for QueryInput {
    fn from(s: &str) -> Self {
        QueryInput::Text(s.to_string())
    }
}

impl From<String> for QueryInput {
    fn from(s: String) -> Self {
        QueryInput::Text(s)
    }
}

impl From<Vec<f32>> for QueryInput {
    fn from(v: Vec<f32>) -> Self {
        QueryInput::Vector(v)
    }
}

/// Check a vector: the expected dimension and finite values.
pub(crate) fn check_vector(v: &[f32], dim: usize) -> Result<()> {
    if v.len() != dim {
        return Err(Error::DimensionMismatch {
            expected: dim,
            got: v.len(),
        });
    }
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        return Err(Error::InvalidInput(format!(
            "vector component {i} is not finite"
        )));
    }
    if v.iter().all(|x| *x == 0.0) {
        return Err(Error::InvalidInput(
            "the zero vector has no direction (cosine similarity is undefined)".into(),
        ));
    }
    Ok(())
}

/// Embed texts with `embedder`, checking count and dimension against `dim`.
pub(crate) fn embed_checked(
    embedder: &dyn Embedder,
    texts: &[&str],
    dim: usize,
) -> Result<Vec<Vec<f32>>> {
    let model = || embedder.model_id().to_string();
    if embedder.dim() != dim {
        return Err(Error::EmbedderDimension {
            model: model(),
            expected: dim,
            got: embedder.dim(),
        });
    }
    let out = embedder.embed(texts).map_err(|e| Error::Embedder {
        model: model(),
        message: e.to_string(),
    })?;
    if out.len() != texts.len() {
        return Err(Error::Embedder {
            model: model(),
            message: format!("returned {} vectors for {} texts", out.len(), texts.len()),
        });
    }
    for v in &out {
        check_vector(v, dim).map_err(|e| Error::Embedder {
            model: model(),
            message: e.to_string(),
        })?;
    }
    Ok(out)
}
