//! An in-memory embedding cache keyed by (model id, SHA-256 of the text).

use std::{collections::HashMap, fmt, sync::Arc};

use parking_lot::Mutex;
use sha2::{Digest, Sha256};

use crate::{EmbedError, TextEmbedder, check_output, validate_texts};

type TextHash = [u8; 32];

/// SHA-256 of the text: collisions are not a practical concern, even for adversarial
/// input, so a hit is the vector of this exact text.
fn text_hash(text: &str) -> TextHash {
    Sha256::digest(text.as_bytes()).into()
}

struct Entry {
    vector: Arc<[f32]>,
    last_used: u64,
}

#[derive(Default)]
struct Inner {
    /// model id → text hash → vector.
    models: HashMap<Arc<str>, HashMap<TextHash, Entry>>,
    len: usize,
    clock: u64,
    hits: u64,
    misses: u64,
    evictions: u64,
}

impl Inner {
    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    /// Drops the least recently used ~10% of the entries (at least enough to fit).
    fn evict(&mut self, capacity: usize) {
        if self.len <= capacity {
            return;
        }
        let target = capacity - capacity / 10;
        let excess = self.len - target;
        let mut ticks: Vec<u64> = self
            .models
            .values()
            .flat_map(|m| m.values().map(|e| e.last_used))
            .collect();
        // Ticks are unique, so exactly `excess` entries are at or below the cutoff.
        let (_, cutoff, _) = ticks.select_nth_unstable(excess - 1);
        let cutoff = *cutoff;
        let mut removed = 0;
        for entries in self.models.values_mut() {
            let before = entries.len();
            entries.retain(|_, e| e.last_used > cutoff);
            removed += before - entries.len();
        }
        self.models.retain(|_, m| !m.is_empty());
        self.len -= removed;
        self.evictions += removed as u64;
    }
}

/// Counters of an [`EmbeddingCache`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    /// Lookups that found a vector.
    pub hits: u64,
    /// Lookups that found none.
    pub misses: u64,
    /// Vectors dropped to stay within the capacity.
    pub evictions: u64,
    /// Vectors held now.
    pub entries: usize,
}

/// A thread-safe, bounded (least recently used entries are dropped first) in-memory cache
/// of embeddings keyed by (model id, SHA-256 of the text).
///
/// One cache can be shared (`Arc`) by several [`CachedEmbedder`]s: the model id in the
/// key keeps their vectors apart. Memory: about `dim * 4 + 100` bytes per entry (1.6 KB
/// for MiniLM's 384 dimensions).
pub struct EmbeddingCache {
    inner: Mutex<Inner>,
    capacity: usize,
}

impl fmt::Debug for EmbeddingCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddingCache")
            .field("capacity", &self.capacity)
            .field("stats", &self.stats())
            .finish()
    }
}

impl EmbeddingCache {
    /// A cache holding at most `capacity` vectors (0 disables caching).
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            capacity,
        }
    }

    /// The maximum number of vectors held.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The vector of `text` under `model_id`, if cached.
    pub fn get(&self, model_id: &str, text: &str) -> Option<Arc<[f32]>> {
        self.get_hashed(model_id, &text_hash(text))
    }

    fn get_hashed(&self, model_id: &str, hash: &TextHash) -> Option<Arc<[f32]>> {
        let mut inner = self.inner.lock();
        let tick = inner.tick();
        let found = inner
            .models
            .get_mut(model_id)
            .and_then(|m| m.get_mut(hash))
            .map(|e| {
                e.last_used = tick;
                Arc::clone(&e.vector)
            });
        if found.is_some() {
            inner.hits += 1;
        } else {
            inner.misses += 1;
        }
        found
    }

    /// Stores the vector of `text` under `model_id` (replacing an older one).
    pub fn insert(&self, model_id: &str, text: &str, vector: &[f32]) {
        self.insert_hashed(model_id, text_hash(text), Arc::from(vector));
    }

    fn insert_hashed(&self, model_id: &str, hash: TextHash, vector: Arc<[f32]>) {
        if self.capacity == 0 {
            return;
        }
        let mut inner = self.inner.lock();
        let last_used = inner.tick();
        let entry = Entry { vector, last_used };
        let replaced = match inner.models.get_mut(model_id) {
            Some(entries) => entries.insert(hash, entry).is_some(),
            None => {
                inner
                    .models
                    .insert(Arc::from(model_id), HashMap::from([(hash, entry)]));
                false
            }
        };
        if !replaced {
            inner.len += 1;
            inner.evict(self.capacity);
        }
    }

    /// Drops every vector of `model_id`.
    pub fn remove_model(&self, model_id: &str) {
        let mut inner = self.inner.lock();
        if let Some(entries) = inner.models.remove(model_id) {
            inner.len -= entries.len();
        }
    }

    /// Drops every vector (the counters stay).
    pub fn clear(&self) {
        let mut inner = self.inner.lock();
        inner.models.clear();
        inner.len = 0;
    }

    /// The number of vectors held.
    pub fn len(&self) -> usize {
        self.inner.lock().len
    }

    /// True if no vector is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The counters.
    pub fn stats(&self) -> CacheStats {
        let inner = self.inner.lock();
        CacheStats {
            hits: inner.hits,
            misses: inner.misses,
            evictions: inner.evictions,
            entries: inner.len,
        }
    }
}

/// An embedder whose results go through an [`EmbeddingCache`]: only the texts not cached
/// under this embedder's model id are sent to it (once each, in one batch).
pub struct CachedEmbedder<E> {
    inner: E,
    cache: Arc<EmbeddingCache>,
}

impl<E: TextEmbedder> fmt::Debug for CachedEmbedder<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedEmbedder")
            .field("model_id", &self.inner.model_id())
            .field("cache", &self.cache)
            .finish()
    }
}

impl<E: TextEmbedder> CachedEmbedder<E> {
    /// Wraps `inner`; `cache` may be shared with other embedders.
    pub fn new(inner: E, cache: Arc<EmbeddingCache>) -> Self {
        Self { inner, cache }
    }

    /// The wrapped embedder.
    pub fn inner(&self) -> &E {
        &self.inner
    }

    /// The cache.
    pub fn cache(&self) -> &Arc<EmbeddingCache> {
        &self.cache
    }

    /// Unwraps the embedder.
    pub fn into_inner(self) -> E {
        self.inner
    }
}

impl<E: TextEmbedder> TextEmbedder for CachedEmbedder<E> {
    fn model_id(&self) -> &str {
        self.inner.model_id()
    }

    fn dim(&self) -> usize {
        self.inner.dim()
    }

    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        validate_texts(texts)?;
        let model = self.inner.model_id();
        let dim = self.inner.dim();
        let mut out: Vec<Option<Vec<f32>>> = Vec::with_capacity(texts.len());
        // Distinct missing texts, and for each output slot which of them it waits for.
        let mut missing: Vec<(&str, TextHash)> = Vec::new();
        let mut missing_index: HashMap<TextHash, usize> = HashMap::new();
        let mut waiting: Vec<(usize, usize)> = Vec::new();
        for (slot, &text) in texts.iter().enumerate() {
            let hash = text_hash(text);
            if let Some(&m) = missing_index.get(&hash) {
                waiting.push((slot, m));
                out.push(None);
                continue;
            }
            match self.cache.get_hashed(model, &hash) {
                // A vector of another length (a model id reused for another dimension) is
                // a miss and gets replaced.
                Some(v) if v.len() == dim => out.push(Some(v.to_vec())),
                _ => {
                    missing_index.insert(hash, missing.len());
                    waiting.push((slot, missing.len()));
                    missing.push((text, hash));
                    out.push(None);
                }
            }
        }
        if !missing.is_empty() {
            let batch: Vec<&str> = missing.iter().map(|(t, _)| *t).collect();
            let computed = self.inner.embed_batch(&batch)?;
            check_output(model, dim, batch.len(), &computed)?;
            let computed: Vec<Arc<[f32]>> = computed.into_iter().map(Arc::from).collect();
            for ((_, hash), vector) in missing.iter().zip(&computed) {
                self.cache.insert_hashed(model, *hash, Arc::clone(vector));
            }
            for (slot, m) in waiting {
                if let (Some(dst), Some(v)) = (out.get_mut(slot), computed.get(m)) {
                    *dst = Some(v.to_vec());
                }
            }
        }
        out.into_iter()
            .map(|v| {
                v.ok_or_else(|| EmbedError::InvalidOutput {
                    model: model.to_string(),
                    message: "cache assembly left a slot empty".to_string(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::HashEmbedder;

    /// Counts the texts it is asked to embed.
    struct Counting {
        inner: HashEmbedder,
        texts: AtomicUsize,
        calls: AtomicUsize,
    }

    impl TextEmbedder for Counting {
        fn model_id(&self) -> &str {
            self.inner.model_id()
        }
        fn dim(&self) -> usize {
            self.inner.dim()
        }
        fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
            self.calls.fetch_add(1, Ordering::Relaxed);
            self.texts.fetch_add(texts.len(), Ordering::Relaxed);
            self.inner.embed_batch(texts)
        }
    }

    fn counting(dim: usize) -> Counting {
        Counting {
            inner: HashEmbedder::new(dim),
            texts: AtomicUsize::new(0),
            calls: AtomicUsize::new(0),
        }
    }

    #[test]
    fn only_misses_are_computed_once_each() {
        let cache = Arc::new(EmbeddingCache::new(100));
        let e = CachedEmbedder::new(counting(16), Arc::clone(&cache));
        let direct = HashEmbedder::new(16);
        let first = e.embed_batch(&["a b", "c d", "a b"]).unwrap();
        assert_eq!(first, direct.embed_batch(&["a b", "c d", "a b"]).unwrap());
        assert_eq!(e.inner().texts.load(Ordering::Relaxed), 2);
        let second = e.embed_batch(&["c d", "e f", "a b"]).unwrap();
        assert_eq!(second, direct.embed_batch(&["c d", "e f", "a b"]).unwrap());
        assert_eq!(e.inner().texts.load(Ordering::Relaxed), 3);
        assert_eq!(e.inner().calls.load(Ordering::Relaxed), 2);
        // All cached: no call at all.
        e.embed_batch(&["e f", "a b"]).unwrap();
        assert_eq!(e.inner().calls.load(Ordering::Relaxed), 2);
        assert_eq!(cache.len(), 3);
        assert!(e.embed_batch(&[]).unwrap().is_empty());
    }

    #[test]
    fn model_id_is_part_of_the_key() {
        let cache = Arc::new(EmbeddingCache::new(100));
        let a = CachedEmbedder::new(HashEmbedder::new(8), Arc::clone(&cache));
        let b = CachedEmbedder::new(HashEmbedder::new(16), Arc::clone(&cache));
        let va = a.embed("same text").unwrap();
        let vb = b.embed("same text").unwrap();
        assert_eq!((va.len(), vb.len()), (8, 16));
        assert_eq!(cache.len(), 2);
        cache.insert("other-model", "same text", &[1.0, 2.0]);
        assert_eq!(a.embed("same text").unwrap(), va);
        assert_eq!(cache.get("other-model", "same text").unwrap().len(), 2);
        cache.remove_model("other-model");
        assert_eq!(cache.len(), 2);
        assert!(cache.get("other-model", "same text").is_none());
    }

    #[test]
    fn wrong_length_entry_is_replaced() {
        let cache = Arc::new(EmbeddingCache::new(100));
        let e = CachedEmbedder::new(HashEmbedder::new(8), Arc::clone(&cache));
        cache.insert(e.model_id(), "x y", &[1.0; 3]);
        let v = e.embed("x y").unwrap();
        assert_eq!(v.len(), 8);
        assert_eq!(cache.get(e.model_id(), "x y").unwrap().len(), 8);
    }

    #[test]
    fn capacity_is_respected_and_lru_survives() {
        let cache = Arc::new(EmbeddingCache::new(50));
        let e = CachedEmbedder::new(HashEmbedder::new(4), Arc::clone(&cache));
        e.embed("hot").unwrap();
        for i in 0..500 {
            e.embed(&format!("text {i}")).unwrap();
            e.embed("hot").unwrap();
            assert!(cache.len() <= 50);
        }
        assert!(cache.get(e.model_id(), "hot").is_some());
        assert!(cache.get(e.model_id(), "text 0").is_none());
        let s = cache.stats();
        assert_eq!(s.entries, cache.len());
        assert!(s.evictions >= 450);
        let none = EmbeddingCache::new(0);
        none.insert("m", "t", &[1.0]);
        assert!(none.is_empty());
        cache.clear();
        assert!(cache.is_empty());
    }

    #[test]
    fn empty_text_fails_before_any_work() {
        let e = CachedEmbedder::new(counting(4), Arc::new(EmbeddingCache::new(10)));
        assert!(matches!(
            e.embed_batch(&["fine", ""]),
            Err(EmbedError::EmptyText { index: 1 })
        ));
        assert_eq!(e.inner().calls.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn inner_errors_and_bad_outputs_propagate() {
        struct Bad;
        impl TextEmbedder for Bad {
            fn model_id(&self) -> &str {
                "bad"
            }
            fn dim(&self) -> usize {
                4
            }
            fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
                Ok(texts.iter().map(|_| vec![0.0; 3]).collect())
            }
        }
        let cache = Arc::new(EmbeddingCache::new(10));
        let e = CachedEmbedder::new(Bad, Arc::clone(&cache));
        assert!(matches!(
            e.embed("x"),
            Err(EmbedError::DimensionMismatch {
                expected: 4,
                actual: 3,
                ..
            })
        ));
        assert!(cache.is_empty());
    }

    #[test]
    fn shared_across_threads() {
        let cache = Arc::new(EmbeddingCache::new(1000));
        let e = Arc::new(CachedEmbedder::new(HashEmbedder::new(8), cache));
        std::thread::scope(|s| {
            for t in 0..4 {
                let e = Arc::clone(&e);
                s.spawn(move || {
                    for i in 0..100 {
                        let text = format!("t{} {}", t % 2, i);
                        assert_eq!(e.embed(&text).unwrap().len(), 8);
                    }
                });
            }
        });
        assert_eq!(e.cache().len(), 200);
    }
}
