//! HNSW (Malkov & Yashunin, "Efficient and robust approximate nearest neighbor search
//! using Hierarchical Navigable Small World graphs", 2016).
//!
//! - [`HnswParams`]: `m`, `m0 = 2m`, `ef_construction`, `ef_search`, level multiplier
//!   `1/ln(m)`, the selection heuristic and its options.
//! - [`HnswBuilder`] → [`HnswGraph`]: parallel build on the caller's rayon pool (one
//!   `parking_lot::RwLock` per node, the first [`SEQUENTIAL_PREFIX`] rows inserted one by
//!   one), then frozen into flat arrays that search reads without locks. A deterministic
//!   mode gives identical bytes for identical input.
//! - [`HnswIndex`]: a graph bound to its segment; written as `seg-<id>.hnsw` and opened by
//!   mapping it, level-0 links used in place; `verify()` checks every byte.
//! - [`LiveHnsw`]: concurrent inserts, deletes and searches on a growing set of rows.
//! - [`SearchOptions`]: `ef`, an allow-list of rows (navigation still goes through every
//!   node; below [`exact_scan_fraction`] of allowed rows the allowed rows are scanned
//!   exactly) and tombstones.
//!
//! - SQ8 traversal ([`HnswParams::sq8`], off by default, on in the engine): the graph also
//!   keeps an 8-bit
//!   per-dimension code of every vector (`dim` bytes, stored in the index file); searches
//!   walk on the codes, whose working set stays in cache, and re-rank the `ef` candidates
//!   they end with on the exact f32 rows. Building searches for neighbours on codes too and
//!   selects them on exact distances.
//! - Partial distances (graphs without codes, the default; rows of ≥ 128 dimensions): a walk on f32
//!   rows reads the first 5/12 of each unvisited neighbour's row, estimates its distance,
//!   and reads the rest only when the estimate comes within a margin of the `ef`-th result
//!   (2 × the estimate's RMS error, measured once per graph on its own edges). Results
//!   are re-ranked on whole rows.
//!
//! Distances follow `mnemodb-distance` (smaller is closer, [`mnemodb_distance::Metric::distance_fn`]);
//! results are sorted by (distance, row). The hot loop reuses a per-thread visited set
//! with a generation counter and per-thread heaps (no allocation per query once warm),
//! prefetches the next neighbours' vectors and links, and reads level-0 links from one
//! fixed-stride `u32` array.
mod builder;
mod codes;
mod file;
#[doc(hidden)]
pub mod fuzzing;
mod graph;
mod index;
mod insert;
mod layer;
mod live;
mod params;
mod partial;
mod prefetch;
mod rows;
mod scratch;
mod search;

pub use builder::{HnswBuilder, SEQUENTIAL_PREFIX};
pub use file::HnswFileInfo;
pub use graph::HnswGraph;
pub use index::HnswIndex;
#[doc(hidden)]
pub use layer::SearchTuning;
pub use live::LiveHnsw;
pub use params::{DEFAULT_EF_SEARCH, DEFAULT_REBUILD_FRACTION, HnswParams, MAX_LEVEL, MAX_M0};
pub use rows::Rows;
#[doc(hidden)]
pub use scratch::VisitedMode;
pub use search::{EXACT_SCAN_COST, RowPredicate, SearchOptions, exact_scan_fraction};
