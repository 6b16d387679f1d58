//! Text → vector for the `--text` options, through the embedder named by `--embedder` or
//! the `MNEMODB_EMBEDDER` environment variable:
//!
//! - `http` — an OpenAI-compatible `/v1/embeddings` server, configured from the environment
//!   (`MNEMODB_EMBED_BASE_URL` or `OPENAI_BASE_URL`, `MNEMODB_EMBED_MODEL`,
//!   `MNEMODB_EMBED_DIMENSIONS`, `MNEMODB_EMBED_API_KEY` or `OPENAI_API_KEY`);
//! - `local:<model dir>` — all-MiniLM-L6-v2 run in-process (a binary built with
//!   `--features local`; see `crates/mnemodb-embed/README.md` for the model files);
//! - `hash:<dim>` — a deterministic model-free lexical embedder (tests, demos).
use std::sync::Arc;

use mnemodb_embed::{EmbedError, HashEmbedder, TextEmbedder};

use crate::error::{CliError, Result};

/// Environment variable naming the embedder when `--embedder` is absent.
pub const EMBEDDER_ENV: &str = "MNEMODB_EMBEDDER";

/// The embedder `spec` (or `MNEMODB_EMBEDDER`) names.
pub fn embedder(spec: Option<&str>) -> Result<Arc<dyn TextEmbedder>> {
    let spec = match spec {
        Some(s) => s.to_string(),
        None => std::env::var(EMBEDDER_ENV).map_err(|_| {
            CliError::invalid(format!(
                "--text needs an embedder: pass --embedder http|local:<model dir>|hash:<dim> or set {EMBEDDER_ENV}"
            ))
        })?,
    };
    let (kind, arg) = spec.split_once(':').unwrap_or((spec.as_str(), ""));
    match kind {
        "http" => Ok(Arc::new(
            mnemodb_embed::http::HttpEmbedder::new(
                mnemodb_embed::http::HttpConfig::from_env().map_err(embed_error)?,
            )
            .map_err(embed_error)?,
        )),
        "hash" => {
            let dim: usize = arg.parse().ok().filter(|d| *d > 0).ok_or_else(|| {
                CliError::invalid(format!(
                    "embedder `{spec}`: hash needs a dimension, e.g. hash:384"
                ))
            })?;
            Ok(Arc::new(HashEmbedder::new(dim)))
        }
        "local" => local(arg, &spec),
        _ => Err(CliError::invalid(format!(
            "unknown embedder `{spec}`: use http, local:<model dir> or hash:<dim>"
        ))),
    }
}

#[cfg(feature = "local")]
fn local(dir: &str, spec: &str) -> Result<Arc<dyn TextEmbedder>> {
    if dir.is_empty() {
        return Err(CliError::invalid(format!(
            "embedder `{spec}`: give the model directory, local:<dir>"
        )));
    }
    let e = mnemodb_embed::local::LocalEmbedder::load(
        dir,
        mnemodb_embed::local::LocalOptions::default(),
    )
    .map_err(embed_error)?;
    Ok(Arc::new(e))
}

#[cfg(not(feature = "local"))]
fn local(_dir: &str, spec: &str) -> Result<Arc<dyn TextEmbedder>> {
    Err(CliError::invalid(format!(
        "embedder `{spec}`: this binary was built without the local model; rebuild with `cargo build --release -p mnemodb-cli --features local`"
    )))
}

/// Embed `text`, checking the vector's dimension against `expected` (the collection's).
pub fn embed_text(spec: Option<&str>, text: &str, expected: Option<usize>) -> Result<Vec<f32>> {
    let e = embedder(spec)?;
    if let Some(dim) = expected
        && dim != e.dim()
    {
        return Err(CliError::invalid(format!(
            "embedder `{}` produces {}-d vectors but the collection holds {dim}-d ones",
            e.model_id(),
            e.dim()
        )));
    }
    e.embed(text).map_err(embed_error)
}

/// Input mistakes are exit 2; transport and server failures exit 1.
fn embed_error(e: EmbedError) -> CliError {
    let text = format!("embedder: {e}");
    match e {
        EmbedError::Io { .. }
        | EmbedError::HttpStatus { .. }
        | EmbedError::Timeout { .. }
        | EmbedError::Transport { .. }
        | EmbedError::InvalidResponse { .. }
        | EmbedError::Inference { .. } => CliError::runtime(text),
        _ => CliError::invalid(text),
    }
}
