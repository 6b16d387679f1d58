use crate::{EmbedError, TextEmbedder, l2_normalize, validate_texts};

/// A deterministic, model-free embedder: the lower-cased alphanumeric words of a text are
/// hashed (FNV-1a) into `dim` signed buckets and the result is L2-normalised ("feature
/// hashing"). Texts sharing words are similar; there is no notion of meaning.
///
/// For tests, examples and wiring checks where no model is at hand. Its model id is
/// `mnemodb/hash-v1-<dim>`.
#[derive(Debug, Clone)]
pub struct HashEmbedder {
    dim: usize,
    model_id: String,
}

impl HashEmbedder {
    /// An embedder of `dim` dimensions (at least 1; 0 is taken as 1).
    pub fn new(dim: usize) -> Self {
        let dim = dim.max(1);
        Self {
            dim,
            model_id: format!("mnemodb/hash-v1-{dim}"),
        }
    }

    fn embed_one(&self, text: &str) -> Vec<f32> {
        let mut v = vec![0f32; self.dim];
        let mut add = |token: &str| {
            let h = fnv1a(token.as_bytes());
            let bucket = (h % self.dim as u64) as usize;
            let sign = if h >> 63 == 0 { 1.0 } else { -1.0 };
            if let Some(x) = v.get_mut(bucket) {
                *x += sign;
            }
        };
        let lower = text.to_lowercase();
        let mut any = false;
        for word in lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            add(word);
            any = true;
        }
        if !any {
            add(lower.trim());
        }
        l2_normalize(&mut v);
        v
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl TextEmbedder for HashEmbedder {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        validate_texts(texts)?;
        Ok(texts.iter().map(|t| self.embed_one(t)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cosine;

    #[test]
    fn deterministic_normalised_lexical() {
        let e = HashEmbedder::new(32);
        let v = e
            .embed_batch(&["Hello, world", "hello WORLD!", "???", "something else"])
            .unwrap();
        assert_eq!(v[0], v[1]);
        for x in &v {
            let n: f32 = x.iter().map(|a| a * a).sum();
            assert!((n - 1.0).abs() < 1e-5);
        }
        assert!(cosine(&v[0], &v[3]) < 0.9);
        assert_eq!(HashEmbedder::new(0).dim(), 1);
        assert_eq!(e.model_id(), "mnemodb/hash-v1-32");
    }
}
