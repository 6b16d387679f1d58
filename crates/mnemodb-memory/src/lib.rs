//! The memory layer of mnemodb: long-term memory for assistants, on one embedded database.
//!
//! A [`MemoryStore`] keeps, per scope (user, optionally agent and session):
//! - **memories** — text, embedding, kind, importance, times, access counts, validity —
//!   recalled by a composite score of similarity, importance and time decay
//!   ([`scoring`]) whose top-k is exact with respect to the index ([`topk`]); a recall that
//!   carries its query's text is also grounded in the scope's facts: the memory that stated
//!   a fact the question asks about is scored at a similarity of at least
//!   [`MemoryConfig::fact_grounding`];
//! - **consolidation** of near-duplicates ([`MemoryStore::consolidate`]) and **pruning**
//!   of what has faded ([`MemoryStore::prune`]); nothing is lost unless asked: merged and
//!   archived memories stay stored;
//! - **time-valid records**: [`MemoryStore::supersede`] closes the old memory and opens the
//!   new one in one atomic write; recall sees what is valid now, or
//!   [`as_of`](RecallRequest::as_of) a past time;
//! - **entity facts** with a changelog ([`MemoryStore::assert_fact`]) that resolves
//!   out-of-order statements;
//! - **conversations**: a turn log, the window of the last K + N most important turns, a
//!   running summary ([`Summarizer`]) and pinned facts;
//! - **context assembly** under a token budget ([`MemoryStore::build_context`],
//!   [`context::assemble`]).
//!
//! Embeddings come from an [`Embedder`] (implemented in `mnemodb-embed`) or are passed
//! precomputed. Scoring never reads a clock; calls take an explicit time or read the
//! store's [`Clock`].
//!
//! ```
//! use mnemodb::{Database, Options};
//! use mnemodb_memory::{
//!     MemoryConfig, MemoryKind, MemoryStore, NewMemory, RecallRequest, Scope, Timestamp,
//! };
//!
//! let dir = tempfile::tempdir()?;
//! let db = Database::open(dir.path(), Options::default())?;
//! let store = MemoryStore::open(&db, MemoryConfig::new(3))?;
//! let alice = Scope::user("alice");
//! let day = |d: f64| Timestamp::parse_rfc3339("2026-01-01T00:00:00Z").unwrap().plus_days(d);
//!
//! // Vectors are precomputed here (3-d toy embeddings); an Embedder would embed the text.
//! store.remember(
//!     NewMemory::new(alice.clone(), "Severely allergic to peanuts")
//!         .kind(MemoryKind::Fact).importance(1.0).at(day(0.0)).vector(vec![0.7, 0.7, 0.1]),
//! )?;
//! store.remember(
//!     NewMemory::new(alice.clone(), "Had a sandwich for lunch")
//!         .kind(MemoryKind::Event).importance(0.1).at(day(89.0)).vector(vec![0.9, 0.4, 0.0]),
//! )?;
//! store.remember(
//!     NewMemory::new(Scope::user("bob"), "Bob loves peanut butter")
//!         .importance(0.9).at(day(89.0)).vector(vec![0.8, 0.6, 0.0]),
//! )?;
//!
//! // "Suggest a snack", 90 days later: the old critical memory outranks recent trivia,
//! // and bob's memory is never returned to alice.
//! let recall = store.recall(&RecallRequest::new(alice, vec![0.9, 0.5, 0.0]).k(2).at(day(90.0)))?;
//! let texts: Vec<&str> = recall.hits.iter().map(|h| h.memory.text.as_str()).collect();
//! assert_eq!(texts, ["Severely allergic to peanuts", "Had a sandwich for lunch"]);
//! println!("{:?}", recall.hits[0].score); // similarity, importance, decay, score
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! **Bad input** never panics: importance outside `[0, 1]`, empty text, a `created_at` in
//! the future (beyond [`MemoryConfig::future_tolerance_secs`]), a vector of the wrong
//! dimension or with NaN, `k = 0` are [`Error::InvalidInput`] /
//! [`Error::DimensionMismatch`]; an unknown scope recalls nothing (an empty result).

pub mod changelog;
mod consolidate;
pub mod context;
pub mod conversation;
mod embedder;
mod error;
mod facts;
mod grounding;
pub mod grouping;
mod lexical;
mod prune;
mod recall;
mod record;
pub mod scoring;
mod session;
mod store;
mod time;
pub mod topk;

pub use changelog::{FactChange, FactEntry, FactSource};
pub use consolidate::{ConsolidateOptions, ConsolidationReport, MergeFn, MergedGroup};
pub use context::{Context, ContextInput, ContextShares, TokenEstimator, WordEstimator};
pub use conversation::{Role, Summarizer, Turn};
pub use embedder::{EmbedError, Embedder, QueryInput};
pub use error::{Error, Result};
pub use facts::{Fact, FactHistory, FactInput, FactUpdate, normalize_name};
pub use grouping::DuplicateRule;
pub use prune::{PruneOptions, PruneReport, retention};
pub use recall::{Recall, RecallHit, RecallRequest};
pub use record::{
    MAX_SCOPE_ID_BYTES, MAX_TEXT_BYTES, Memory, MemoryKind, MemorySource, MemoryStatus, NewMemory,
    Scope,
};
pub use scoring::{
    AgeFrom, Decay, DecayCurve, EpisodicTerms, ScoreBreakdown, Scorer, ScoringModel, Signals,
};
pub use session::{ContextRequest, SessionState, Window, WindowSpec};
pub use store::{AccessTracking, HistoryEntry, MemoryConfig, MemoryStore};
pub use time::{Clock, ManualClock, SystemClock, Timestamp};
pub use topk::{TopKPlan, TopKStats};
