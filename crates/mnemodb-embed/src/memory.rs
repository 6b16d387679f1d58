//! The memory layer's [`mnemodb_memory::Embedder`] for the embedders of this crate
//! (feature `memory`).
//!
//! [`HashEmbedder`], [`CachedEmbedder`], `LocalEmbedder` and `HttpEmbedder` implement it
//! directly; [`MemoryEmbedder`] adapts any other [`TextEmbedder`] (e.g. a
//! `Box<dyn TextEmbedder>`). Errors are boxed [`EmbedError`]s (downcast to inspect them).
//!
//! Both traits name their methods `dim`, `model_id` and `embed` (the memory layer's `embed`
//! takes a batch): with both in scope, call them as `TextEmbedder::embed(&e, …)`.
//!
//! ```
//! use std::sync::Arc;
//! use mnemodb_embed::{CachedEmbedder, EmbeddingCache, HashEmbedder};
//!
//! let embedder: Arc<dyn mnemodb_memory::Embedder> = Arc::new(CachedEmbedder::new(
//!     HashEmbedder::new(32),
//!     Arc::new(EmbeddingCache::new(1000)),
//! ));
//! assert_eq!(embedder.dim(), 32);
//! assert_eq!(embedder.embed(&["User prefers pytest"]).unwrap()[0].len(), 32);
//! let error = embedder.embed(&[""]).unwrap_err();
//! assert!(matches!(
//!     error.downcast_ref::<mnemodb_embed::EmbedError>(),
//!     Some(mnemodb_embed::EmbedError::EmptyText { index: 0 })
//! ));
//! ```

use mnemodb_memory::{EmbedError as MemoryError, Embedder};

use crate::{CachedEmbedder, EmbedError, HashEmbedder, TextEmbedder};

fn boxed(e: EmbedError) -> MemoryError {
    Box::new(e)
}

macro_rules! impl_embedder {
    ($($ty:ty),* $(,)?) => {$(
        impl Embedder for $ty {
            fn dim(&self) -> usize {
                TextEmbedder::dim(self)
            }
            fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, MemoryError> {
                TextEmbedder::embed_batch(self, texts).map_err(boxed)
            }
            fn model_id(&self) -> &str {
                TextEmbedder::model_id(self)
            }
        }
    )*};
}

impl_embedder!(HashEmbedder);
#[cfg(feature = "local")]
impl_embedder!(crate::LocalEmbedder);
#[cfg(feature = "http")]
impl_embedder!(crate::HttpEmbedder);

impl<E: TextEmbedder> Embedder for CachedEmbedder<E> {
    fn dim(&self) -> usize {
        TextEmbedder::dim(self)
    }
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, MemoryError> {
        TextEmbedder::embed_batch(self, texts).map_err(boxed)
    }
    fn model_id(&self) -> &str {
        TextEmbedder::model_id(self)
    }
}

/// Adapts any [`TextEmbedder`] to the memory layer's [`Embedder`].
#[derive(Debug, Clone)]
pub struct MemoryEmbedder<T>(pub T);

impl<T: TextEmbedder> Embedder for MemoryEmbedder<T> {
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, MemoryError> {
        self.0.embed_batch(texts).map_err(boxed)
    }
    fn model_id(&self) -> &str {
        self.0.model_id()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn adapters_behave_like_the_text_embedder() {
        let direct = HashEmbedder::new(16);
        let expected = direct.embed_batch(&["a b", "c"]).unwrap();
        let boxed: Box<dyn TextEmbedder> = Box::new(HashEmbedder::new(16));
        let embedders: Vec<Arc<dyn Embedder>> = vec![
            Arc::new(HashEmbedder::new(16)),
            Arc::new(MemoryEmbedder(boxed)),
            Arc::new(CachedEmbedder::new(
                HashEmbedder::new(16),
                Arc::new(crate::EmbeddingCache::new(10)),
            )),
        ];
        for e in embedders {
            assert_eq!(Embedder::dim(&e), 16);
            assert_eq!(Embedder::model_id(&e), "mnemodb/hash-v1-16");
            assert_eq!(Embedder::embed(&e, &["a b", "c"]).unwrap(), expected);
            let err = Embedder::embed(&e, &["ok", " "]).unwrap_err();
            assert!(matches!(
                err.downcast_ref::<EmbedError>(),
                Some(EmbedError::EmptyText { index: 1 })
            ));
        }
    }
}
