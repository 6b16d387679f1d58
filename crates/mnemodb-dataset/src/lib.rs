//! Vector dataset files, synthetic data, exact ground truth and recall@k for mnemodb.
//!
//! - **Files.** Streaming readers for the TEXMEX formats ([`FvecsReader`], [`IvecsReader`],
//!   [`BvecsReader`]) and numpy `.npy` arrays ([`NpyReader`]), whole-file helpers
//!   ([`read_vectors`], [`read_ids`]) and writers ([`write_fvecs`], [`write_ivecs`],
//!   [`write_bvecs`], [`write_npy_f32`], [`write_npy_i32`]).
//! - **Synthetic data** ([`synthetic`]): seeded Gaussian clusters, uniform vectors and
//!   queries near the data, identical for a seed whatever the thread count.
//! - **Evaluation**: [`exact_knn`] (brute force in `f64`, ties to the lower id) and
//!   [`recall_at_k`].
//!
//! Readers treat every input as hostile: a dimension is checked (`1..=`[`MAX_DIM`], equal
//! in every record) before anything is sized by it, buffers grow only as bytes arrive, the
//! `.npy` header is parsed by a strict parser (never evaluated), and every failure is a
//! [`DatasetError`] naming the file, the 0-based record and the byte offset. No input makes
//! them panic (`fuzz/fuzz_targets/dataset_inputs.rs` checks this). Every reader also reads
//! from memory (`from_bytes`) or any `Read` (`from_reader`).
//!
//! An empty `.fvecs`/`.ivecs`/`.bvecs` file holds zero records (a dimension of 0 in
//! [`Vectors`] / `k` of 0 in [`Neighbors`]); an empty `.npy` file is an error.
//!
//! ```
//! use mnemodb_dataset::synthetic::Clustered;
//! use mnemodb_dataset::{exact_knn, read_ids, read_vectors, recall_at_k, write_fvecs, write_ivecs};
//! use mnemodb_distance::Metric;
//!
//! let dir = tempfile::tempdir()?;
//! let mix = Clustered::new(32, 8, 7).normalize(true);
//! let base = mix.sample(500, 1);
//! let queries = mix.sample(10, 2);
//! let truth = exact_knn(Metric::Cosine, &base, &queries, 10)?;
//!
//! write_fvecs(dir.path().join("base.fvecs"), &base)?;
//! write_ivecs(dir.path().join("gt.ivecs"), truth.k, &truth.data)?;
//! assert_eq!(read_vectors(dir.path().join("base.fvecs"))?, base);
//! let truth = read_ids(dir.path().join("gt.ivecs"))?;
//!
//! // A perfect search has recall 1.
//! let results: Vec<Vec<u32>> = truth.rows().map(<[u32]>::to_vec).collect();
//! assert_eq!(recall_at_k(&results, &truth, 10)?, 1.0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![deny(clippy::indexing_slicing, clippy::panic, clippy::expect_used)]

mod element;
mod error;
mod file_kind;
mod ground_truth;
mod neighbors;
mod npy_header;
mod npy_reader;
mod recall;
mod source;
pub mod synthetic;
mod vecs_reader;
mod vectors;
mod writer;

pub use element::{Element, NpyElement};
pub use error::{DatasetError, Result};
pub use file_kind::{FileKind, read_ids, read_vectors};
pub use ground_truth::exact_knn;
pub use neighbors::Neighbors;
pub use npy_reader::NpyReader;
pub use recall::{recall_at_k, recall_per_query};
pub use vecs_reader::{BvecsReader, FvecsReader, IvecsReader, MAX_DIM, VecsReader};
pub use vectors::Vectors;
pub use writer::{write_bvecs, write_fvecs, write_ivecs, write_npy_f32, write_npy_i32};
