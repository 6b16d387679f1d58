//! An OpenAI-compatible embeddings client (`POST {base_url}/embeddings`).
//!
//! Works with OpenAI and with local servers that speak the same API (vLLM, llama.cpp's
//! server, Ollama, LM Studio, text-embeddings-inference …): point
//! [`HttpConfig::base_url`] at the server's `/v1` prefix, the way the OpenAI SDKs do
//! (`https://api.openai.com/v1`, `http://127.0.0.1:8080/v1`).
//!
//! - **Configuration** from the environment ([`HttpConfig::from_env`]):
//!   `MNEMODB_EMBED_BASE_URL` (else `OPENAI_BASE_URL`, else OpenAI's),
//!   `MNEMODB_EMBED_MODEL` (default `text-embedding-3-small`),
//!   `MNEMODB_EMBED_DIMENSIONS` (optional: sent as `dimensions`, for models that can
//!   shorten their vectors), `MNEMODB_EMBED_API_KEY` (else `OPENAI_API_KEY`; optional for
//!   local servers), `MNEMODB_EMBED_TIMEOUT_SECS` (per request, default 60).
//! - **Batching**: a call is split into requests of at most
//!   [`max_batch_inputs`](HttpConfig::max_batch_inputs) texts (default 512; OpenAI allows
//!   2,048) and [`max_batch_bytes`](HttpConfig::max_batch_bytes) bytes of text (default
//!   400 kB, well under OpenAI's 300,000 tokens per request), sent one after the other.
//! - **Retries**: 408, 429 and 5xx answers, timeouts and dropped connections are retried up
//!   to [`max_retries`](HttpConfig::max_retries) times with exponential backoff and jitter
//!   (honouring `Retry-After`/`retry-after-ms`, capped at
//!   [`max_backoff`](HttpConfig::max_backoff)). Other 4xx answers fail at once with the
//!   server's message ([`EmbedError::HttpStatus`]).
//! - **Timeouts**: [`timeout`](HttpConfig::timeout) bounds each attempt (connect, send,
//!   answer), [`connect_timeout`](HttpConfig::connect_timeout) the connection;
//!   [`EmbedError::Timeout`] when the last attempt timed out.
//! - **Checks**: one vector per text (placed by `index`), each of the embedder's dimension
//!   ([`EmbedError::DimensionMismatch`]) and finite.
//!
//! Texts are sent as they are: a text over the model's context length is the server's
//! 4xx error, not truncated here.
//!
//! ```
//! use std::time::Duration;
//! use mnemodb_embed::{HttpConfig, HttpEmbedder, TextEmbedder};
//!
//! let config = HttpConfig::new("http://127.0.0.1:8080/v1", "text-embedding-3-small")
//!     .with_dimensions(Some(512))
//!     .with_api_key(Some("sk-test".to_string()))
//!     .with_timeout(Duration::from_secs(5));
//! let embedder = HttpEmbedder::new(config)?; // no request is sent yet
//! assert_eq!(embedder.dim(), 512);
//! assert_eq!(embedder.model_id(), "text-embedding-3-small@512");
//! assert_eq!(embedder.endpoint(), "http://127.0.0.1:8080/v1/embeddings");
//! # Ok::<(), mnemodb_embed::EmbedError>(())
//! ```

use std::{
    collections::hash_map::RandomState,
    fmt,
    hash::{BuildHasher, Hasher},
    time::Duration,
};

use serde::{Deserialize, Serialize};

use crate::{EmbedError, TextEmbedder, check_output, error::is_retryable_status, validate_texts};

/// OpenAI's API prefix.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
/// The default model.
pub const DEFAULT_MODEL: &str = "text-embedding-3-small";
/// Environment variable: the base URL (the `/v1` prefix of the server).
pub const ENV_BASE_URL: &str = "MNEMODB_EMBED_BASE_URL";
/// Environment variable: the model name.
pub const ENV_MODEL: &str = "MNEMODB_EMBED_MODEL";
/// Environment variable: the `dimensions` to request.
pub const ENV_DIMENSIONS: &str = "MNEMODB_EMBED_DIMENSIONS";
/// Environment variable: the API key (sent as `Authorization: Bearer …`).
pub const ENV_API_KEY: &str = "MNEMODB_EMBED_API_KEY";
/// Environment variable: the per-request timeout in seconds.
pub const ENV_TIMEOUT_SECS: &str = "MNEMODB_EMBED_TIMEOUT_SECS";

/// The output dimension of well-known models (when no `dimensions` is requested).
pub fn known_model_dim(model: &str) -> Option<usize> {
    match model {
        "text-embedding-3-small" | "text-embedding-ada-002" => Some(1536),
        "text-embedding-3-large" => Some(3072),
        _ => None,
    }
}

/// Configuration of an [`HttpEmbedder`]. `Debug` does not print the API key.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// The API prefix; requests go to `{base_url}/embeddings`. Default: OpenAI's.
    pub base_url: String,
    /// The model name sent with each request.
    pub model: String,
    /// If set, sent as `dimensions` (models that can shorten their vectors) and used as the
    /// embedder's dimension.
    pub dimensions: Option<usize>,
    /// Sent as `Authorization: Bearer <key>` if set.
    pub api_key: Option<String>,
    /// Bound on each attempt, from connecting to reading the whole answer. Default: 60 s.
    pub timeout: Duration,
    /// Bound on connecting. Default: 10 s.
    pub connect_timeout: Duration,
    /// Retries after a 408/429/5xx answer, a timeout or a dropped connection. Default: 4.
    pub max_retries: u32,
    /// The first backoff; doubled after each retry, with jitter. Default: 500 ms.
    pub initial_backoff: Duration,
    /// The longest wait between attempts (also caps `Retry-After`). Default: 30 s.
    pub max_backoff: Duration,
    /// At most this many texts per request. Default: 512.
    pub max_batch_inputs: usize,
    /// At most this many bytes of text per request (a longer text goes alone). Default:
    /// 400,000.
    pub max_batch_bytes: usize,
    /// Answers larger than this are refused. Default: 512 MiB.
    pub max_response_bytes: u64,
    /// Use `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` (and `NO_PROXY`). Default: true.
    pub proxy_from_env: bool,
}

impl fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpConfig")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("dimensions", &self.dimensions)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_retries", &self.max_retries)
            .field("initial_backoff", &self.initial_backoff)
            .field("max_backoff", &self.max_backoff)
            .field("max_batch_inputs", &self.max_batch_inputs)
            .field("max_batch_bytes", &self.max_batch_bytes)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("proxy_from_env", &self.proxy_from_env)
            .finish()
    }
}

impl HttpConfig {
    /// A configuration for `model` at `base_url` (e.g. `http://127.0.0.1:8080/v1`), other
    /// fields at their defaults.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            model: model.into(),
            dimensions: None,
            api_key: None,
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            max_retries: 4,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_batch_inputs: 512,
            max_batch_bytes: 400_000,
            max_response_bytes: 512 << 20,
            proxy_from_env: true,
        }
    }

    /// OpenAI's API with `model`.
    pub fn openai(model: impl Into<String>) -> Self {
        Self::new(DEFAULT_BASE_URL, model)
    }

    /// A configuration from the process environment (see the [module docs](self)).
    pub fn from_env() -> Result<Self, EmbedError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// A configuration from `lookup(variable name)`, like [`from_env`](Self::from_env)
    /// (empty values count as unset).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, EmbedError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let base_url = get(ENV_BASE_URL)
            .or_else(|| get("OPENAI_BASE_URL"))
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
        let model = get(ENV_MODEL).unwrap_or_else(|| DEFAULT_MODEL.to_string());
        let mut config = Self::new(base_url.trim(), model.trim());
        config.api_key = get(ENV_API_KEY)
            .or_else(|| get("OPENAI_API_KEY"))
            .map(|k| k.trim().to_string());
        if let Some(d) = get(ENV_DIMENSIONS) {
            let d = d.trim().parse::<usize>().map_err(|_| EmbedError::Config {
                message: format!("{ENV_DIMENSIONS}={d:?} is not a positive integer"),
            })?;
            config.dimensions = Some(d);
        }
        if let Some(t) = get(ENV_TIMEOUT_SECS) {
            let secs = t
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s > 0.0 && *s < 1e6)
                .ok_or_else(|| EmbedError::Config {
                    message: format!("{ENV_TIMEOUT_SECS}={t:?} is not a positive number"),
                })?;
            config.timeout = Duration::from_secs_f64(secs);
        }
        Ok(config)
    }

    /// Sets [`dimensions`](Self::dimensions).
    pub fn with_dimensions(mut self, dimensions: Option<usize>) -> Self {
        self.dimensions = dimensions;
        self
    }
    /// Sets [`api_key`](Self::api_key).
    pub fn with_api_key(mut self, api_key: Option<String>) -> Self {
        self.api_key = api_key;
        self
    }
    /// Sets [`timeout`](Self::timeout).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
    /// Sets [`connect_timeout`](Self::connect_timeout).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
    /// Sets [`max_retries`](Self::max_retries).
    pub fn with_max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }
    /// Sets [`initial_backoff`](Self::initial_backoff) and [`max_backoff`](Self::max_backoff).
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max;
        self
    }
    /// Sets [`max_batch_inputs`](Self::max_batch_inputs) and
    /// [`max_batch_bytes`](Self::max_batch_bytes).
    pub fn with_batch_limits(mut self, inputs: usize, bytes: usize) -> Self {
        self.max_batch_inputs = inputs;
        self.max_batch_bytes = bytes;
        self
    }
    /// Sets [`proxy_from_env`](Self::proxy_from_env).
    pub fn with_proxy_from_env(mut self, yes: bool) -> Self {
        self.proxy_from_env = yes;
        self
    }

    /// The embeddings endpoint: `{base_url}/embeddings`.
    pub fn endpoint(&self) -> String {
        format!("{}/embeddings", self.base_url.trim_end_matches('/'))
    }

    /// The model id of the embedder: the model name, with `@<dimensions>` if set.
    pub fn model_id(&self) -> String {
        match self.dimensions {
            Some(d) => format!("{}@{d}", self.model),
            None => self.model.clone(),
        }
    }

    fn validate(&self) -> Result<(), EmbedError> {
        let bad = |message: String| Err(EmbedError::Config { message });
        let url = self.base_url.to_ascii_lowercase();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return bad(format!(
                "base URL {:?} must start with http:// or https://",
                self.base_url
            ));
        }
        if self.model.trim().is_empty() {
            return bad("the model name is empty".to_string());
        }
        if self.dimensions == Some(0) {
            return bad("dimensions must be at least 1".to_string());
        }
        if self.max_batch_inputs == 0 || self.max_batch_bytes == 0 {
            return bad("batch limits must be at least 1".to_string());
        }
        if self.timeout.is_zero() || self.connect_timeout.is_zero() {
            return bad("timeouts must be positive".to_string());
        }
        if let Some(key) = &self.api_key
            && key.bytes().any(|b| b.is_ascii_control())
        {
            return bad("the API key contains control characters".to_string());
        }
        Ok(())
    }
}

#[derive(Serialize)]
struct EmbeddingsRequest<'a> {
    model: &'a str,
    input: &'a [&'a str],
    encoding_format: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    dimensions: Option<usize>,
}

#[derive(Deserialize)]
struct EmbeddingsResponse {
    data: Vec<EmbeddingData>,
}

#[derive(Deserialize)]
struct EmbeddingData {
    #[serde(default)]
    index: Option<usize>,
    embedding: Vec<f32>,
}

/// The outcome of one attempt.
enum Attempt {
    Done(Vec<Vec<f32>>),
    Retry(EmbedError, Option<Duration>),
    Fail(EmbedError),
}

/// An OpenAI-compatible embeddings client (see the [module docs](self)). `Send + Sync`;
/// the connection pool is shared by clones of the inner agent.
pub struct HttpEmbedder {
    config: HttpConfig,
    agent: ureq::Agent,
    endpoint: String,
    model_id: String,
    dim: usize,
}

impl fmt::Debug for HttpEmbedder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpEmbedder")
            .field("endpoint", &self.endpoint)
            .field("model_id", &self.model_id)
            .field("dim", &self.dim)
            .field("config", &self.config)
            .finish()
    }
}

impl HttpEmbedder {
    /// An embedder for `config`; sends nothing. Its dimension is `config.dimensions`, else
    /// that of a well-known model ([`known_model_dim`]); for other models use
    /// [`probe`](Self::probe) or set `dimensions`. Errors: [`EmbedError::Config`].
    pub fn new(config: HttpConfig) -> Result<Self, EmbedError> {
        let dim = config
            .dimensions
            .or_else(|| known_model_dim(&config.model))
            .ok_or_else(|| EmbedError::Config {
                message: format!(
                    "the dimension of model {:?} is unknown: set dimensions ({ENV_DIMENSIONS}) \
                     or use HttpEmbedder::probe",
                    config.model
                ),
            })?;
        Self::build(config, dim)
    }

    /// An embedder whose dimension is learnt by embedding one short text (for models
    /// [`new`](Self::new) does not know, e.g. on a local server). If `config.dimensions`
    /// is set, the answer must match it.
    pub fn probe(config: HttpConfig) -> Result<Self, EmbedError> {
        let mut embedder = Self::build(config, 0)?;
        let vectors = embedder.request(&["dimension probe"])?;
        let dim = vectors.first().map_or(0, Vec::len);
        if dim == 0 {
            return Err(EmbedError::InvalidResponse {
                url: embedder.endpoint,
                message: "the probe returned an empty embedding".to_string(),
            });
        }
        if let Some(expected) = embedder.config.dimensions
            && expected != dim
        {
            return Err(EmbedError::DimensionMismatch {
                model: embedder.model_id,
                expected,
                actual: dim,
            });
        }
        embedder.dim = dim;
        Ok(embedder)
    }

    fn build(config: HttpConfig, dim: usize) -> Result<Self, EmbedError> {
        config.validate()?;
        let mut builder = ureq::Agent::config_builder()
            .timeout_global(Some(config.timeout))
            .timeout_connect(Some(config.connect_timeout))
            .http_status_as_error(false)
            .user_agent(format!("mnemodb-embed/{}", env!("CARGO_PKG_VERSION")));
        if !config.proxy_from_env {
            builder = builder.proxy(None);
        }
        let agent: ureq::Agent = builder.build().into();
        Ok(Self {
            endpoint: config.endpoint(),
            model_id: config.model_id(),
            agent,
            config,
            dim,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &HttpConfig {
        &self.config
    }

    /// The URL requests are sent to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Splits `texts` into requests within the batch limits.
    fn batches<'t, 'a>(&self, texts: &'t [&'a str]) -> Vec<&'t [&'a str]> {
        let mut out = Vec::new();
        let (mut start, mut bytes) = (0, 0);
        for (i, t) in texts.iter().enumerate() {
            let count = i - start;
            if count > 0
                && (count >= self.config.max_batch_inputs
                    || bytes + t.len() > self.config.max_batch_bytes)
            {
                out.extend(texts.get(start..i));
                start = i;
                bytes = 0;
            }
            bytes += t.len();
        }
        if start < texts.len() {
            out.extend(texts.get(start..));
        }
        out
    }

    /// One request with retries; returns the vectors in input order (not dimension-checked).
    fn request(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let body = serde_json::to_vec(&EmbeddingsRequest {
            model: &self.config.model,
            input: texts,
            encoding_format: "float",
            dimensions: self.config.dimensions,
        })
        .map_err(|e| EmbedError::Config {
            message: format!("cannot encode the request: {e}"),
        })?;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            match self.attempt(&body, texts.len(), attempt) {
                Attempt::Done(vectors) => return Ok(vectors),
                Attempt::Fail(e) => return Err(e),
                Attempt::Retry(e, retry_after) => {
                    if attempt > self.config.max_retries {
                        return Err(e);
                    }
                    std::thread::sleep(self.backoff(attempt, retry_after));
                }
            }
        }
    }

    /// The wait before retry number `retry` (1-based).
    fn backoff(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let max = self.config.max_backoff;
        if let Some(wait) = retry_after {
            return wait.min(max);
        }
        let exp = self
            .config
            .initial_backoff
            .saturating_mul(1u32 << retry.saturating_sub(1).min(20))
            .min(max);
        // Jitter: a random factor in [0.5, 1], so clients that failed together spread out.
        let random = RandomState::new().build_hasher().finish();
        exp.mul_f64(0.5 + 0.5 * (random >> 11) as f64 / (1u64 << 53) as f64)
    }

    fn attempt(&self, body: &[u8], count: usize, attempts: u32) -> Attempt {
        let url = &self.endpoint;
        let mut request = self
            .agent
            .post(url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json");
        if let Some(key) = &self.config.api_key {
            request = request.header("Authorization", format!("Bearer {key}"));
        }
        let mut response = match request.send(body) {
            Ok(r) => r,
            Err(e) => return self.transport_error(e, attempts),
        };
        let status = response.status().as_u16();
        let retry_after = retry_after(response.headers());
        let bytes = match response
            .body_mut()
            .with_config()
            .limit(self.config.max_response_bytes)
            .read_to_vec()
        {
            Ok(b) => b,
            Err(e) => return self.transport_error(e, attempts),
        };
        if !(200..300).contains(&status) {
            let error = EmbedError::HttpStatus {
                url: url.clone(),
                status,
                message: error_message(status, &bytes),
                attempts,
            };
            return if is_retryable_status(status) {
                Attempt::Retry(error, retry_after)
            } else {
                Attempt::Fail(error)
            };
        }
        match parse_response(&bytes, count) {
            Ok(vectors) => Attempt::Done(vectors),
            Err(message) => Attempt::Fail(EmbedError::InvalidResponse {
                url: url.clone(),
                message,
            }),
        }
    }

    fn transport_error(&self, e: ureq::Error, attempts: u32) -> Attempt {
        let url = self.endpoint.clone();
        let timeout = || EmbedError::Timeout {
            url: url.clone(),
            timeout: self.config.timeout,
            attempts,
        };
        let transport = |message: String| EmbedError::Transport {
            url: url.clone(),
            message,
            attempts,
        };
        match e {
            ureq::Error::Timeout(_) => Attempt::Retry(timeout(), None),
            ureq::Error::Io(io)
                if matches!(
                    io.kind(),
                    std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
                ) =>
            {
                Attempt::Retry(timeout(), None)
            }
            ureq::Error::Io(_) | ureq::Error::ConnectionFailed | ureq::Error::Protocol(_) => {
                Attempt::Retry(transport(e.to_string()), None)
            }
            ureq::Error::BodyExceedsLimit(limit) => Attempt::Fail(EmbedError::InvalidResponse {
                url: url.clone(),
                message: format!("the answer exceeds max_response_bytes ({limit} bytes)"),
            }),
            other => Attempt::Fail(transport(other.to_string())),
        }
    }
}

/// `retry-after-ms` (OpenAI) or `retry-after` in seconds; HTTP dates are ignored.
fn retry_after(headers: &ureq::http::HeaderMap) -> Option<Duration> {
    let number = |name: &str| -> Option<f64> {
        headers
            .get(name)?
            .to_str()
            .ok()?
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0 && *v < 1e9)
    };
    number("retry-after-ms")
        .map(|ms| Duration::from_secs_f64(ms / 1000.0))
        .or_else(|| number("retry-after").map(Duration::from_secs_f64))
}

/// The server's message: `error.message`, `error`, `message` or `detail` of a JSON body,
/// else the start of the body; with a hint for common statuses.
fn error_message(status: u16, body: &[u8]) -> String {
    let from_json = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            let text = |v: Option<&serde_json::Value>| -> Option<String> {
                match v? {
                    serde_json::Value::String(s) => Some(s.clone()),
                    serde_json::Value::Null => None,
                    other => Some(other.to_string()),
                }
            };
            text(v.pointer("/error/message"))
                .or_else(|| {
                    v.get("error")
                        .filter(|e| e.is_string())
                        .and_then(|e| text(Some(e)))
                })
                .or_else(|| text(v.get("message")))
                .or_else(|| text(v.get("detail")))
        });
    let mut message = from_json.unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if text.is_empty() {
            "(empty body)".to_string()
        } else {
            text.chars().take(300).collect()
        }
    });
    let hint = match status {
        401 | 403 => " (check the API key: MNEMODB_EMBED_API_KEY or OPENAI_API_KEY)",
        404 => " (check the base URL, usually ending in /v1, and the model name)",
        413 => " (request too large: lower the batch limits)",
        429 => " (rate limited)",
        _ => "",
    };
    message.push_str(hint);
    message
}

/// Parses a 2xx body into `count` vectors in input order.
fn parse_response(body: &[u8], count: usize) -> Result<Vec<Vec<f32>>, String> {
    let response: EmbeddingsResponse =
        serde_json::from_slice(body).map_err(|e| format!("not an embeddings response ({e})"))?;
    if response.data.len() != count {
        return Err(format!(
            "{} embeddings for {count} inputs",
            response.data.len()
        ));
    }
    let mut out: Vec<Option<Vec<f32>>> = vec![None; count];
    for (position, item) in response.data.into_iter().enumerate() {
        let index = item.index.unwrap_or(position);
        match out.get_mut(index) {
            Some(slot @ None) => *slot = Some(item.embedding),
            Some(Some(_)) => return Err(format!("index {index} appears twice")),
            None => return Err(format!("index {index} out of range for {count} inputs")),
        }
    }
    out.into_iter()
        .map(|v| v.ok_or_else(|| "an index is missing".to_string()))
        .collect()
}

impl TextEmbedder for HttpEmbedder {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        validate_texts(texts)?;
        let mut out = Vec::with_capacity(texts.len());
        for batch in self.batches(texts) {
            out.extend(self.request(batch)?);
        }
        check_output(&self.model_id, self.dim, texts.len(), &out)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn embedder(inputs: usize, bytes: usize) -> HttpEmbedder {
        HttpEmbedder::new(
            HttpConfig::new("http://127.0.0.1:9/v1", "m")
                .with_dimensions(Some(4))
                .with_batch_limits(inputs, bytes),
        )
        .unwrap()
    }

    #[test]
    fn batches_respect_both_limits() {
        let texts = ["aaaa", "bb", "cccccc", "d", "eeeeeeeeeeee", "f"];
        let sizes = |e: &HttpEmbedder| -> Vec<usize> {
            e.batches(&texts).iter().map(|b| b.len()).collect()
        };
        assert_eq!(sizes(&embedder(2, 1000)), [2, 2, 2]);
        assert_eq!(sizes(&embedder(100, 8)), [2, 2, 1, 1]);
        assert_eq!(sizes(&embedder(100, 1000)), [6]);
        assert!(embedder(3, 3).batches(&[]).is_empty());
        let all: Vec<&str> = embedder(1, 1).batches(&texts).concat();
        assert_eq!(all, texts);
    }

    #[test]
    fn config_from_lookup() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let c = HttpConfig::from_lookup(env(&[])).unwrap();
        assert_eq!(c.base_url, DEFAULT_BASE_URL);
        assert_eq!(c.model, DEFAULT_MODEL);
        assert_eq!((c.dimensions, c.api_key.as_deref()), (None, None));
        assert_eq!(HttpEmbedder::new(c).unwrap().dim(), 1536);

        let c = HttpConfig::from_lookup(env(&[
            ("OPENAI_API_KEY", "sk-openai"),
            ("OPENAI_BASE_URL", "http://fallback/v1"),
            (ENV_BASE_URL, "http://127.0.0.1:8000/v1/"),
            (ENV_MODEL, "nomic-embed-text"),
            (ENV_DIMENSIONS, "256"),
            (ENV_TIMEOUT_SECS, "2.5"),
        ]))
        .unwrap();
        assert_eq!(c.endpoint(), "http://127.0.0.1:8000/v1/embeddings");
        assert_eq!(c.api_key.as_deref(), Some("sk-openai"));
        assert_eq!(c.dimensions, Some(256));
        assert_eq!(c.timeout, Duration::from_millis(2500));
        assert_eq!(c.model_id(), "nomic-embed-text@256");
        assert!(!format!("{c:?}").contains("sk-openai"));

        let c = HttpConfig::from_lookup(env(&[(ENV_API_KEY, "sk-own"), ("OPENAI_API_KEY", "x")]))
            .unwrap();
        assert_eq!(c.api_key.as_deref(), Some("sk-own"));

        for bad in [
            &[(ENV_DIMENSIONS, "abc")][..],
            &[(ENV_DIMENSIONS, "-3")][..],
            &[(ENV_TIMEOUT_SECS, "0")][..],
        ] {
            assert!(matches!(
                HttpConfig::from_lookup(env(bad)),
                Err(EmbedError::Config { .. })
            ));
        }
    }

    #[test]
    fn invalid_configs_are_config_errors() {
        let base = || HttpConfig::new("http://127.0.0.1:1/v1", "m").with_dimensions(Some(3));
        let bad = [
            HttpConfig::new("ftp://x/v1", "m").with_dimensions(Some(3)),
            base().with_dimensions(Some(0)),
            HttpConfig::new("http://x/v1", " ").with_dimensions(Some(3)),
            base().with_batch_limits(0, 10),
            base().with_timeout(Duration::ZERO),
            base().with_api_key(Some("a\nb".to_string())),
            HttpConfig::new("http://x/v1", "unknown-model"),
        ];
        for config in bad {
            let shown = format!("{config:?}");
            assert!(
                matches!(HttpEmbedder::new(config), Err(EmbedError::Config { .. })),
                "{shown}"
            );
        }
    }

    #[test]
    fn backoff_grows_with_jitter_and_caps() {
        let e = HttpEmbedder::new(
            HttpConfig::new("http://127.0.0.1:1/v1", "m")
                .with_dimensions(Some(3))
                .with_backoff(Duration::from_millis(100), Duration::from_millis(1000)),
        )
        .unwrap();
        for retry in 1..40 {
            let d = e.backoff(retry, None);
            let full = Duration::from_millis(100 * (1u64 << (retry - 1).min(20)))
                .min(Duration::from_millis(1000));
            assert!(d >= full / 2 && d <= full, "{retry}: {d:?}");
        }
        assert_eq!(
            e.backoff(1, Some(Duration::from_millis(250))),
            Duration::from_millis(250)
        );
        assert_eq!(
            e.backoff(1, Some(Duration::from_secs(60))),
            Duration::from_millis(1000)
        );
    }

    #[test]
    fn error_messages() {
        let m = error_message(
            401,
            br#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}"#,
        );
        assert!(m.starts_with("Incorrect API key provided") && m.contains("OPENAI_API_KEY"));
        assert_eq!(error_message(400, br#"{"error":"bad input"}"#), "bad input");
        assert_eq!(error_message(422, br#"{"detail":"too long"}"#), "too long");
        assert_eq!(error_message(400, b"plain text"), "plain text");
        assert_eq!(error_message(400, b""), "(empty body)");
        assert_eq!(error_message(400, &[b'x'; 1000]).len(), 300);
    }

    #[test]
    fn response_parsing() {
        let ok = br#"{"data":[{"index":1,"embedding":[1,2]},{"index":0,"embedding":[3,4]}]}"#;
        assert_eq!(
            parse_response(ok, 2).unwrap(),
            vec![vec![3.0, 4.0], vec![1.0, 2.0]]
        );
        let no_index = br#"{"data":[{"embedding":[1]},{"embedding":[2]}]}"#;
        assert_eq!(
            parse_response(no_index, 2).unwrap(),
            vec![vec![1.0], vec![2.0]]
        );
        for bad in [
            &br#"{"data":[{"index":0,"embedding":[1]}]}"#[..],
            br#"{"data":[{"index":0,"embedding":[1]},{"index":0,"embedding":[2]}]}"#,
            br#"{"data":[{"index":0,"embedding":[1]},{"index":5,"embedding":[2]}]}"#,
            br#"{"data":[{"index":0,"embedding":"AAAA"},{"index":1,"embedding":[2]}]}"#,
            b"<html>",
        ] {
            assert!(parse_response(bad, 2).is_err());
        }
    }
}
