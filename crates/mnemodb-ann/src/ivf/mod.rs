//! IVF (inverted file) indexes: k-means centroids partition a segment's rows into
//! `nlist` lists; a search probes the `nprobe` lists whose centroids are nearest the query.
//!
//! - [`kmeans`]: seeded, deterministic k-means (k-means++ on a sub-sample, Lloyd
//!   iterations on the caller's pool, spherical for cosine, empty clusters split).
//! - [`IvfTrained`]: centroids (+ the SQ8 quantiser), reusable for other segments: rows
//!   added after training go to their nearest centroid; [`Balance::needs_retrain`] says
//!   when the lists have skewed enough to retrain.
//! - [`IvfIndex`]: lists stored contiguously (segment row numbers + codes grouped by list),
//!   so probing a list is one sequential scan with the blocked kernels
//!   ([`mnemodb_distance::batch::distances_strided`]) for f32 codes, or the SQ8 kernels of
//!   [`mnemodb_distance::quantized`] followed by an exact re-ranking of the best
//!   `k × rerank` candidates with the segment's f32 rows.
//! - Probe order ([`IvfSearchParams::refine`], `probe.rs`): the `refine × nprobe` lists
//!   with the nearest centroids are re-ordered by their nearest *sub-centroid* (up to
//!   [`IvfParams::sub_centroids`] k-means centres of each list's own rows, int8-coded) and
//!   the best `nprobe` probed: as many lists scanned, better ones (wordnet-minilm-50k,
//!   nprobe 16: recall@10 0.872 → 0.913).
//! - Batches ([`IvfIndex::search_batch`], `scan.rs`): each thread takes a contiguous share
//!   of the queries and reads every list they probe once, for all of them (f32 lists with
//!   the many-queries tile kernel); results equal one-query searches bit for bit.
//! - Persistence: `seg-<id>.ivf` ([`mnemodb_format::IvfHeader`]); opened by mapping and
//!   used in place; [`IvfIndex::verify`] checks every byte.
//!
//! Lists are assigned and probed by L2 to the centroids for L2 and inner-product
//! segments, and by dot product (normalised centroids) for cosine. Results follow the
//! crate's convention (distance, smaller is closer, ties by lower id); f32 lists give the
//! exact distances [`crate::flat`] gives for the same rows.
//!
//! Degenerate inputs: `nlist` is clamped to the number of rows (an empty segment gets one
//! empty list); `nprobe` is clamped to `nlist` (0 is an error); `k = 0` is
//! [`crate::Error::ZeroK`]; a NaN or wrong-length query is [`crate::Error::InvalidQuery`];
//! all-equal rows give one populated list (the others stay empty) and exact results.
mod file;
#[doc(hidden)]
pub mod fuzzing;
mod index;
pub mod kmeans;
mod probe;
mod scan;

pub use file::IvfFileInfo;
pub use index::{Balance, CodeType, IvfIndex, IvfParams, IvfSearchParams, IvfTrained};
