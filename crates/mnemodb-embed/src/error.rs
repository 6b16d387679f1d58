use std::{path::PathBuf, time::Duration};

/// Everything that can go wrong while loading or running an embedder.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmbedError {
    /// The model directory does not exist (or is not a directory).
    #[error(
        "model directory {dir} not found (it must hold config.json, tokenizer.json and model.safetensors)"
    )]
    ModelDirNotFound {
        /// The path given.
        dir: PathBuf,
    },

    /// The model directory lacks required files.
    #[error(
        "model directory {dir} is incomplete: missing {file} (it must hold config.json, tokenizer.json and model.safetensors)"
    )]
    MissingModelFile {
        /// The model directory.
        dir: PathBuf,
        /// The missing file names, comma-separated, e.g. `model.safetensors`.
        file: String,
    },

    /// A model file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A model file exists but cannot be used (bad JSON, corrupt safetensors, missing
    /// tensors, a vocabulary that does not fit the model, …).
    #[error("invalid model file {path}: {message}")]
    InvalidModel {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },

    /// A model, a server or a cached vector has another dimension than expected.
    #[error("dimension mismatch for model {model}: expected {expected}, got {actual}")]
    DimensionMismatch {
        /// The model id.
        model: String,
        /// The expected dimension.
        expected: usize,
        /// The dimension found.
        actual: usize,
    },

    /// A text of the batch is empty or whitespace only.
    #[error("text #{index} of the batch is empty (or whitespace only): nothing to embed")]
    EmptyText {
        /// Its index in the batch.
        index: usize,
    },

    /// A backend produced a NaN or infinite component.
    #[error("model {model} produced a non-finite embedding for text #{index}")]
    NonFinite {
        /// The model id.
        model: String,
        /// The index of the text in the batch.
        index: usize,
    },

    /// A backend returned the wrong number of vectors or an unusable result.
    #[error("model {model} returned an invalid result: {message}")]
    InvalidOutput {
        /// The model id.
        model: String,
        /// What is wrong.
        message: String,
    },

    /// Tokenisation failed.
    #[error("tokenizer error: {message}")]
    Tokenizer {
        /// The tokenizer's message.
        message: String,
    },

    /// The model's forward pass failed.
    #[error("inference error: {message}")]
    Inference {
        /// The inference engine's message.
        message: String,
    },

    /// An option or environment variable has an invalid value.
    #[error("invalid embedder configuration: {message}")]
    Config {
        /// What is wrong.
        message: String,
    },

    /// The server answered with an error status (after retries for 408/429/5xx).
    #[error("HTTP {status} from {url} (after {attempts} attempt(s)): {message}")]
    HttpStatus {
        /// The request URL.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// The server's error message (the `error.message` of an OpenAI-style body, else
        /// the start of the body), with a hint for 401/403/404.
        message: String,
        /// How many requests were sent.
        attempts: u32,
    },

    /// The request did not complete within the timeout (after retries).
    #[error("request to {url} timed out after {timeout:?} (after {attempts} attempt(s))")]
    Timeout {
        /// The request URL.
        url: String,
        /// The per-attempt timeout.
        timeout: Duration,
        /// How many requests were sent.
        attempts: u32,
    },

    /// The server could not be reached or the connection failed (after retries).
    #[error("cannot reach {url} (after {attempts} attempt(s)): {message}")]
    Transport {
        /// The request URL.
        url: String,
        /// The transport error.
        message: String,
        /// How many requests were sent.
        attempts: u32,
    },

    /// The server answered 2xx with a body that is not a valid embeddings response.
    #[error("invalid embeddings response from {url}: {message}")]
    InvalidResponse {
        /// The request URL.
        url: String,
        /// What is wrong.
        message: String,
    },
}

impl EmbedError {
    /// True for errors that may go away if the same call is made again later (timeouts,
    /// transport errors, 408/429/5xx statuses); false for bad input, bad configuration
    /// and bad models.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Timeout { .. } | Self::Transport { .. } => true,
            Self::HttpStatus { status, .. } => is_retryable_status(*status),
            _ => false,
        }
    }
}

/// The statuses worth retrying: request timeout, rate limit and server errors.
pub(crate) fn is_retryable_status(status: u16) -> bool {
    status == 408 || status == 429 || (500..=599).contains(&status)
}
