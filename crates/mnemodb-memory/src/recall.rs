//! Recall: the best memories of a scope for a query, by composite score.
//!
//! 1. The engine filter is the query scope ∧ `status = active` ∧ valid at `as_of` (default:
//!    now) ∧ the caller's filter; the engine never returns a record outside it, and every
//!    returned record's scope is checked again here ([`Error::ScopeViolation`] otherwise).
//! 2. Candidates come from the engine by decreasing similarity and are re-scored by the
//!    configured [`Scorer`](crate::Scorer) in the exact composite top-k of [`crate::topk`].
//! 3. The hits' `last_accessed_at` / `access_count` are updated per
//!    [`AccessTracking`] — one write batch of metadata patches, or deferred.
use std::ops::Bound;

use mnemodb::{Document, ExternalId, Filter, Query, SearchHit, Value, WriteBatch};

use crate::embedder::QueryInput;
use crate::error::{Error, Result, invalid};
use crate::record::{Memory, MemoryKind, MemoryStatus, Scope, field, signals_of, ts};
use crate::scoring::ScoreBreakdown;
use crate::store::{AccessTracking, MemoryStore, external_id_string};
use crate::time::Timestamp;
use crate::topk::{
    Band, Candidate, CandidateSource, TopKPlan, TopKStats, banded_top_k, composite_top_k,
};

/// A recall request.
#[derive(Debug, Clone)]
pub struct RecallRequest {
    /// Whose memories.
    pub scope: Scope,
    /// What to look for.
    pub query: QueryInput,
    /// How many (1 ..= `max_k`; default 10).
    pub k: usize,
    /// The time scores are computed at (default: the store's clock).
    pub now: Option<Timestamp>,
    /// See the memories valid at this time instead of now.
    pub as_of: Option<Timestamp>,
    /// Only these kinds.
    pub kinds: Vec<MemoryKind>,
    /// An extra engine filter (fields as stored; the caller's metadata is under `meta.`).
    pub filter: Option<Filter>,
    /// Record the access (default `true`; the store's [`AccessTracking`] decides how).
    pub track_access: bool,
    /// Override the store's top-k plan.
    pub plan: Option<TopKPlan>,
}

impl RecallRequest {
    /// The top 10 of `scope` for `query`.
    pub fn new(scope: Scope, query: impl Into<QueryInput>) -> Self {
        RecallRequest {
            scope,
            query: query.into(),
            k: 10,
            now: None,
            as_of: None,
            kinds: Vec::new(),
            filter: None,
            track_access: true,
            plan: None,
        }
    }

    /// Return `k` memories.
    pub fn k(mut self, k: usize) -> Self {
        self.k = k;
        self
    }

    /// Score at `now`.
    pub fn at(mut self, now: Timestamp) -> Self {
        self.now = Some(now);
        self
    }

    /// See what was valid at `t`.
    pub fn as_of(mut self, t: Timestamp) -> Self {
        self.as_of = Some(t);
        self
    }

    /// Only these kinds.
    pub fn kinds(mut self, kinds: impl IntoIterator<Item = MemoryKind>) -> Self {
        self.kinds = kinds.into_iter().collect();
        self
    }

    /// With an extra filter.
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filter = Some(filter);
        self
    }

    /// Do not record the access (e.g. for an evaluation or a preview).
    pub fn without_access_tracking(mut self) -> Self {
        self.track_access = false;
        self
    }

    /// With this top-k plan.
    pub fn plan(mut self, plan: TopKPlan) -> Self {
        self.plan = Some(plan);
        self
    }
}

/// One recalled memory.
#[derive(Debug, Clone, PartialEq)]
pub struct RecallHit {
    /// The memory (as it was before this recall's access update).
    pub memory: Memory,
    /// Its score and the terms it came from.
    pub score: ScoreBreakdown,
}

/// Recall's result.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Recall {
    /// Best first (ties by id).
    pub hits: Vec<RecallHit>,
    /// What the top-k did.
    pub stats: TopKStats,
}

/// The engine filter of what a query scope may see at `t`.
pub(crate) fn visible_filter(scope: &Scope, t: Timestamp) -> Filter {
    Filter::And(vec![
        scope.filter(),
        Filter::Eq(field::STATUS.into(), Value::from(MemoryStatus::ACTIVE)),
        Filter::Range {
            field: field::VALID_FROM.into(),
            lower: Bound::Unbounded,
            upper: Bound::Included(ts(t)),
        },
        Filter::Range {
            field: field::VALID_TO.into(),
            lower: Bound::Excluded(ts(t)),
            upper: Bound::Unbounded,
        },
    ])
}

/// Importance cuts of the banded top-k.
const IMPORTANCE_CUTS: [f32; 3] = [0.15, 0.4, 0.7];
/// Age cuts (days since creation) of the banded top-k.
const AGE_CUTS: [f64; 3] = [14.0, 60.0, 180.0];

/// One band of a large scope: the extra filter and the caps its bound uses.
struct BandSpec {
    filter: Filter,
    max_importance: f32,
    min_age_days: f64,
    episodic: Option<bool>,
}

/// The partition of a scope used by the banded top-k: importance bands × age bands (age
/// bands only when the scorer's decay depends on the age since creation).
fn bands(scorer: &crate::scoring::Scorer, now: Timestamp) -> Vec<BandSpec> {
    use crate::scoring::{AgeFrom, DecayCurve, ScoringModel};
    let decays = [
        match scorer.model {
            ScoringModel::Multiplicative { decay, .. }
            | ScoringModel::WeightedSum { decay, .. } => Some(decay),
            ScoringModel::Similarity => None,
        },
        scorer.episodic.map(|e| e.decay),
    ];
    let age_matters = decays.iter().flatten().any(|d| {
        d.age_from == AgeFrom::Created
            && matches!(
                d.curve,
                DecayCurve::Exponential { .. } | DecayCurve::HalfLife { .. }
            )
    });
    let mut imp_edges = vec![None];
    imp_edges.extend(IMPORTANCE_CUTS.iter().map(|c| Some(*c)));
    imp_edges.push(None);
    let mut age_edges: Vec<Option<f64>> = vec![None];
    if age_matters {
        age_edges.extend(AGE_CUTS.iter().map(|c| Some(*c)));
    }
    age_edges.push(None);
    let episodic_kinds = Filter::In(
        field::KIND.into(),
        vec![
            Value::from(MemoryKind::Event.as_str()),
            Value::from("observation"),
        ],
    );
    let kinds: Vec<(Option<bool>, Option<Filter>)> = if scorer.episodic.is_some() {
        vec![
            (Some(true), Some(episodic_kinds.clone())),
            (Some(false), Some(Filter::Not(Box::new(episodic_kinds)))),
        ]
    } else {
        vec![(None, None)]
    };
    let mut out = Vec::new();
    for iw in imp_edges.windows(2) {
        let (lo, hi) = (iw[0], iw[1]);
        let imp = Filter::Range {
            field: field::IMPORTANCE.into(),
            lower: lo.map_or(Bound::Unbounded, |v| {
                Bound::Included(Value::Float(f64::from(v)))
            }),
            upper: hi.map_or(Bound::Unbounded, |v| {
                Bound::Excluded(Value::Float(f64::from(v)))
            }),
        };
        for aw in age_edges.windows(2) {
            let (young, old) = (aw[0], aw[1]);
            // Age in [young, old): created_at in (now − old, now − young].
            let created = Filter::Range {
                field: field::CREATED_AT.into(),
                lower: old.map_or(Bound::Unbounded, |d| Bound::Excluded(ts(now.plus_days(-d)))),
                upper: young.map_or(Bound::Unbounded, |d| Bound::Included(ts(now.plus_days(-d)))),
            };
            for (episodic, kind) in &kinds {
                let mut parts = vec![imp.clone(), created.clone()];
                parts.extend(kind.clone());
                out.push(BandSpec {
                    filter: Filter::And(parts),
                    max_importance: hi.unwrap_or(1.0),
                    min_age_days: young.unwrap_or(0.0),
                    episodic: *episodic,
                });
            }
        }
    }
    out
}

/// Candidates of one scope from the memories collection.
struct EngineSource<'a> {
    store: &'a MemoryStore,
    vector: &'a [f32],
    filter: Filter,
}

impl CandidateSource for EngineSource<'_> {
    type Item = (String, Document);
    type Error = Error;

    fn scope_len(&mut self) -> Result<usize> {
        Ok(self.store.cols.memories.count_where(&self.filter)? as usize)
    }

    fn nearest(&mut self, n: usize) -> Result<Vec<Candidate<(String, Document)>>> {
        let q = Query::new(self.vector.to_vec(), n).filter(self.filter.clone());
        let hits = self.store.cols.memories.search(&q)?;
        Ok(hits
            .into_iter()
            .map(|h: SearchHit| Candidate {
                similarity: h.score,
                item: (external_id_string(&h.id), h.metadata.unwrap_or_default()),
            })
            .collect())
    }
}

impl MemoryStore {
    /// The `k` best memories of `req.scope` for the query (see the module docs).
    ///
    /// An unknown scope gives an empty result, not an error.
    pub fn recall(&self, req: &RecallRequest) -> Result<Recall> {
        req.scope.validate()?;
        if req.k == 0 || req.k > self.config.max_k {
            return Err(invalid(format!(
                "k = {} is outside 1..={}",
                req.k, self.config.max_k
            )));
        }
        let now = req.now.unwrap_or_else(|| self.now());
        let as_of = req.as_of.unwrap_or(now);
        let vector = self.query_vector(&req.query)?;
        let mut parts = vec![visible_filter(&req.scope, as_of)];
        if !req.kinds.is_empty() {
            parts.push(Filter::In(
                field::KIND.into(),
                req.kinds.iter().map(|k| Value::from(k.as_str())).collect(),
            ));
        }
        if let Some(f) = &req.filter {
            parts.push(f.clone());
        }
        let filter = Filter::And(parts);
        let scorer = self.config.scorer;
        let plan = req.plan.unwrap_or(self.config.plan);
        let score = |sim: f32, item: &(String, Document)| {
            scorer.score(sim, &signals_of(&item.1), now).score
        };
        let tie = |item: &(String, Document)| item.0.clone();
        let mut source = EngineSource {
            store: self,
            vector: &vector,
            filter: filter.clone(),
        };
        let banded = plan.exact
            && !matches!(scorer.model, crate::scoring::ScoringModel::Similarity)
            && source.scope_len()? > plan.exact_scan_max;
        let (ranked, stats) = if banded {
            let mut bands: Vec<Band<EngineSource<'_>, _>> = bands(&scorer, now)
                .into_iter()
                .map(|b| Band {
                    source: EngineSource {
                        store: self,
                        vector: &vector,
                        filter: Filter::And(vec![filter.clone(), b.filter]),
                    },
                    bound: move |sim: f32| {
                        scorer.upper_bound_band(
                            sim,
                            b.max_importance,
                            b.min_age_days,
                            b.episodic,
                            now,
                        )
                    },
                })
                .collect();
            banded_top_k(
                &mut source,
                |sim| scorer.upper_bound(sim),
                &mut bands,
                req.k,
                &plan,
                score,
                tie,
            )?
        } else {
            composite_top_k(
                &mut source,
                req.k,
                &plan,
                score,
                |sim| scorer.upper_bound(sim),
                tie,
            )?
        };
        let name = self.cols.memories.name();
        let mut hits = Vec::with_capacity(ranked.len());
        for r in ranked {
            let (id, doc) = r.item;
            let memory = Memory::from_doc(id, &doc, None, name)?;
            // Defence in depth: the engine filter already excludes these.
            if !req.scope.contains(&memory.scope) {
                return Err(Error::ScopeViolation {
                    expected: req.scope.to_string(),
                    found: memory.scope.to_string(),
                });
            }
            if memory.status != MemoryStatus::Active || !memory.valid_at(as_of) {
                return Err(Error::Malformed {
                    collection: name.to_string(),
                    id: memory.id.clone(),
                    what: "the engine returned a record outside the recall filter".into(),
                });
            }
            let score = scorer.score(r.similarity, &memory.signals(), now);
            hits.push(RecallHit { memory, score });
        }
        if req.track_access && !hits.is_empty() {
            let ids: Vec<&str> = hits.iter().map(|h| h.memory.id.as_str()).collect();
            self.record_access(&ids, now)?;
        }
        Ok(Recall { hits, stats })
    }

    /// Record that these memories were returned at `at`, per the store's access tracking.
    pub fn record_access(&self, ids: &[&str], at: Timestamp) -> Result<()> {
        match self.config.access {
            AccessTracking::Off => Ok(()),
            AccessTracking::Immediate => {
                let updates: Vec<(String, u32, Timestamp)> =
                    ids.iter().map(|id| (id.to_string(), 1, at)).collect();
                self.write_access(&updates)
            }
            AccessTracking::Deferred { max_pending } => {
                let flush = {
                    let mut pending = self.pending_access.lock();
                    for id in ids {
                        let e = pending.entry(id.to_string()).or_insert((0, at));
                        e.0 = e.0.saturating_add(1);
                        e.1 = e.1.max(at);
                    }
                    pending.len() >= max_pending.max(1)
                };
                if flush { self.flush_access() } else { Ok(()) }
            }
        }
    }

    /// Write the deferred access counts now (no-op unless [`AccessTracking::Deferred`]).
    pub fn flush_access(&self) -> Result<()> {
        let pending: Vec<(String, u32, Timestamp)> = {
            let mut p = self.pending_access.lock();
            p.drain().map(|(id, (n, at))| (id, n, at)).collect()
        };
        if pending.is_empty() {
            return Ok(());
        }
        let result = self.write_access(&pending);
        if result.is_err() {
            // Keep the counts for the next attempt.
            let mut p = self.pending_access.lock();
            for (id, n, at) in pending {
                let e = p.entry(id).or_insert((0, at));
                e.0 = e.0.saturating_add(n);
                e.1 = e.1.max(at);
            }
        }
        result
    }

    /// One batch of patches: `access_count += n`, `last_accessed_at = max(old, at)`. Read and
    /// written under the writer lock, so concurrent recalls never lose a count.
    fn write_access(&self, updates: &[(String, u32, Timestamp)]) -> Result<()> {
        let _writer = self.writer.lock();
        let mut batch = WriteBatch::new();
        for (id, n, at) in updates {
            let Some(e) = self.cols.memories.get(&ExternalId::from(id.as_str()))? else {
                continue; // forgotten meanwhile
            };
            let s = signals_of(&e.metadata);
            let mut patch = Document::new();
            patch.insert(
                field::ACCESS_COUNT.into(),
                Value::Int(i64::from(s.access_count.saturating_add(*n))),
            );
            let last = s.last_accessed_at.map_or(*at, |l| l.max(*at));
            patch.insert(field::LAST_ACCESSED_AT.into(), ts(last));
            batch.patch(self.cols.memories.name(), id.as_str(), patch);
        }
        self.db.write(batch)?;
        Ok(())
    }
}

impl Drop for MemoryStore {
    fn drop(&mut self) {
        if !self.pending_access.lock().is_empty() {
            let _ = self.flush_access();
        }
    }
}
