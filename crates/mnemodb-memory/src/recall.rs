//! Recall: the best memories of a scope for a query, by composite score.
//!
//! 1. The engine filter is the query scope ∧ `status = active` ∧ valid at `as_of` (default:
//!    now) ∧ the caller's filter; the engine never returns a record outside it, and every
//!    returned record's scope is checked again here ([`Error::ScopeViolation`] otherwise).
//! 2. Candidates come from the engine by decreasing similarity and are re-scored by the
//!    configured [`Scorer`](crate::Scorer) in the exact composite top-k of [`crate::topk`].
//! 3. The hits' `last_accessed_at` / `access_count` are updated per
//!    [`AccessTracking`] — one write batch of metadata patches, or deferred.
use std::cmp::Ordering;
use std::ops::Bound;

use mnemodb::{Document, ExternalId, Filter, Query, SearchHit, Value, WriteBatch};

use crate::embedder::QueryInput;
use crate::error::{Error, Result, invalid};
use crate::record::{Memory, MemoryKind, MemoryStatus, Scope, field, signals_of, ts};
use crate::scoring::{ScoreBreakdown, Signals};
use crate::store::{AccessTracking, MemoryStore, external_id_string};
use crate::time::Timestamp;
use crate::topk::{
    Candidate, CandidateSource, Strata, TopKPlan, TopKStats, composite_top_k, strata_top_k,
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

/// Importance cuts of the strata (of semantic memories; of all when the scorer treats
/// episodes like the rest): fine, so that the strata that can still win are few.
const IMPORTANCE_CUTS: [f32; 19] = [
    0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85,
    0.9, 0.95,
];
/// Age cuts (days since creation) of the strata of episodic memories.
const EPISODIC_AGE_CUTS: [f64; 18] = [
    0.5, 1.0, 2.0, 3.0, 5.0, 7.0, 10.0, 14.0, 21.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 270.0,
    365.0, 730.0,
];

/// One stratum of a large scope (see [`crate::topk::strata_top_k`]).
#[derive(Debug, Clone, Copy)]
enum Stratum {
    /// Semantic memories (all memories when the scorer has no episodic terms) with
    /// importance in `[lo, hi)` (`None`: unbounded).
    Importance { lo: Option<f32>, hi: Option<f32> },
    /// Episodic memories aged `[young, old)` days since creation (`None`: unbounded).
    Episodes { young: f64, old: Option<f64> },
}

/// The strata covering a scope for `scorer`: importance bands of semantic
/// memories (their decay is shielded by importance, so importance caps their score) and,
/// when episodes are scored apart, age bands of episodes (their decay follows their age).
fn strata(scorer: &crate::scoring::Scorer) -> Vec<Stratum> {
    use crate::scoring::{AgeFrom, DecayCurve};
    let mut out: Vec<Stratum> = Vec::new();
    let mut edges: Vec<Option<f32>> = vec![None];
    edges.extend(IMPORTANCE_CUTS.iter().map(|c| Some(*c)));
    edges.push(None);
    out.extend(
        edges
            .windows(2)
            .map(|w| Stratum::Importance { lo: w[0], hi: w[1] }),
    );
    if let Some(e) = scorer.episodic {
        let by_age = e.decay.age_from == AgeFrom::Created
            && matches!(
                e.decay.curve,
                DecayCurve::Exponential { .. } | DecayCurve::HalfLife { .. }
            );
        if by_age {
            let mut ages: Vec<f64> = vec![0.0];
            ages.extend(EPISODIC_AGE_CUTS);
            out.extend(
                ages.iter()
                    .enumerate()
                    .map(|(i, &young)| Stratum::Episodes {
                        young,
                        old: ages.get(i + 1).copied(),
                    }),
            );
        } else {
            out.push(Stratum::Episodes {
                young: 0.0,
                old: None,
            });
        }
    }
    out
}

fn episodic_kinds() -> Filter {
    Filter::In(
        field::KIND.into(),
        vec![
            Value::from(MemoryKind::Event.as_str()),
            Value::from("observation"),
        ],
    )
}

/// The strata of one recall, searched through the engine.
struct EngineStrata<'a> {
    store: &'a MemoryStore,
    vector: &'a [f32],
    /// The recall filter's conjuncts.
    base: Vec<Filter>,
    strata: Vec<Stratum>,
    scorer: crate::scoring::Scorer,
    now: Timestamp,
    projected: bool,
}

impl Strata for EngineStrata<'_> {
    type Item = Cand;
    type Error = Error;

    fn len(&self) -> usize {
        self.strata.len()
    }

    fn bound(&self, i: usize, sim: f32) -> f64 {
        let episodes_apart = self.scorer.episodic.is_some();
        match self.strata.get(i) {
            Some(Stratum::Importance { hi, .. }) => self.scorer.upper_bound_band(
                sim,
                hi.unwrap_or(1.0),
                0.0,
                episodes_apart.then_some(false),
                self.now,
            ),
            Some(Stratum::Episodes { young, .. }) => {
                self.scorer
                    .upper_bound_band(sim, 1.0, *young, Some(true), self.now)
            }
            None => self.scorer.upper_bound(sim),
        }
    }

    /// One engine search over a superset of the active strata: `importance ≥` the lowest
    /// active importance cut, or `created_at >` the oldest active episode age (both cheap
    /// range filters; semantic memories that are recent, or episodes that are important,
    /// come along and are scored like the rest).
    fn nearest_in(&mut self, active: &[usize], n: usize) -> Result<Vec<Candidate<Self::Item>>> {
        // The extents of the active strata: importance [lo, hi), episode age [young, old).
        let mut imp: Option<(Option<f32>, Option<f32>)> = None;
        let mut eps: Option<(f64, Option<f64>)> = None;
        for s in active.iter().filter_map(|&i| self.strata.get(i)) {
            match *s {
                Stratum::Importance { lo, hi } => {
                    imp = Some(match imp {
                        None => (lo, hi),
                        Some((a, b)) => (
                            a.zip(lo).map(|(a, l)| a.min(l)),
                            b.zip(hi).map(|(b, h)| b.max(h)),
                        ),
                    });
                }
                Stratum::Episodes { young, old } => {
                    eps = Some(match eps {
                        None => (young, old),
                        Some((y, o)) => (y.min(young), o.zip(old).map(|(o, d)| o.max(d))),
                    });
                }
            }
        }
        let apart = self.scorer.episodic.is_some();
        let imp_branch = imp.map(|(lo, hi)| match (lo, hi) {
            (None, None) if apart => Filter::Not(Box::new(episodic_kinds())),
            (None, None) => Filter::All,
            (lo, hi) => {
                let range = Filter::Range {
                    field: field::IMPORTANCE.into(),
                    lower: lo.map_or(Bound::Unbounded, |v| {
                        Bound::Included(Value::Float(f64::from(v)))
                    }),
                    upper: hi.map_or(Bound::Unbounded, |v| {
                        Bound::Excluded(Value::Float(f64::from(v)))
                    }),
                };
                // Only the semantic memories: the important episodes are the episode
                // strata's (a `not` of a keyword bitmap: one subtraction, no probing).
                if apart {
                    Filter::And(vec![range, Filter::Not(Box::new(episodic_kinds()))])
                } else {
                    range
                }
            }
        });
        // Age in [young, old): created_at in (now − old, now − young]; age 0 also holds
        // what was created after `now`.
        let ep_branch = eps.map(|(young, old)| match (young > 0.0, old) {
            (false, None) => episodic_kinds(),
            (young_set, old) => {
                let range = Filter::Range {
                    field: field::CREATED_AT.into(),
                    lower: old.map_or(Bound::Unbounded, |d| {
                        Bound::Excluded(ts(self.now.plus_days(-d)))
                    }),
                    upper: if young_set {
                        Bound::Included(ts(self.now.plus_days(-young)))
                    } else {
                        Bound::Unbounded
                    },
                };
                // Only the episodes (episode strata exist only when they are scored
                // apart): recent semantic memories are the importance strata's.
                Filter::And(vec![episodic_kinds(), range])
            }
        });
        let mut parts = self.base.clone();
        let branches: Vec<Filter> = imp_branch.into_iter().chain(ep_branch).collect();
        if !branches.iter().any(|b| matches!(b, Filter::All)) {
            match <[Filter; 1]>::try_from(branches) {
                Ok([one]) => parts.push(one),
                Err(many) if many.is_empty() => {}
                Err(many) => parts.push(Filter::Or(many)),
            }
        }
        EngineSource {
            store: self.store,
            vector: self.vector,
            filter: Filter::And(parts),
            projected: self.projected,
        }
        .nearest(n)
    }
}

/// The leaves of nested conjunctions, in order.
fn flatten(parts: Vec<Filter>) -> Vec<Filter> {
    let mut out = Vec::with_capacity(parts.len());
    for p in parts {
        match p {
            Filter::And(xs) => out.extend(flatten(xs)),
            p => out.push(p),
        }
    }
    out
}

/// One candidate of a recall: its id, what scoring needs, and its whole record when the
/// search returned it (`None` when it fetched only the scoring fields).
#[derive(Debug, Clone)]
struct Cand {
    id: String,
    signals: Signals,
    doc: Option<Document>,
}

/// The fields [`signals_of`] reads: all a candidate needs until it is among the winners.
const SCORING_FIELDS: [&str; 5] = [
    field::IMPORTANCE,
    field::CREATED_AT,
    field::LAST_ACCESSED_AT,
    field::ACCESS_COUNT,
    field::KIND,
];

/// Candidates of one scope from the memories collection.
struct EngineSource<'a> {
    store: &'a MemoryStore,
    vector: &'a [f32],
    filter: Filter,
    /// Fetch only [`SCORING_FIELDS`] (the winners are read whole afterwards).
    projected: bool,
}

impl CandidateSource for EngineSource<'_> {
    type Item = Cand;
    type Error = Error;

    fn scope_len(&mut self) -> Result<usize> {
        Ok(self.store.cols.memories.count_where(&self.filter)? as usize)
    }

    fn nearest(&mut self, n: usize) -> Result<Vec<Candidate<Cand>>> {
        let mut q = Query::new(self.vector.to_vec(), n).filter(self.filter.clone());
        if self.projected {
            q = q.fields(SCORING_FIELDS);
        }
        let hits = self.store.cols.memories.search(&q)?;
        let projected = self.projected;
        Ok(hits
            .into_iter()
            .map(|h: SearchHit| {
                let doc = h.metadata.unwrap_or_default();
                Candidate {
                    similarity: h.score,
                    item: Cand {
                        id: external_id_string(&h.id),
                        signals: signals_of(&doc),
                        doc: (!projected).then_some(doc),
                    },
                }
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
        // One flat conjunction: the engine orders its leaves by cost (keyword bitmaps, then
        // ranges), which a nested `And` would hide.
        let filter = Filter::And(flatten(parts));
        let projected = !req.plan.unwrap_or(self.config.plan).whole_records;
        let (hits, stats) = match self.rank(req, &vector, &filter, now, as_of, projected)? {
            Some(found) => found,
            // A winner changed between the search and its read (a concurrent write): rank
            // again on whole records, from one snapshot per search.
            None => self
                .rank(req, &vector, &filter, now, as_of, false)?
                .ok_or_else(|| Error::Malformed {
                    collection: self.cols.memories.name().to_string(),
                    id: String::new(),
                    what: "recall on whole records asked to rank again".into(),
                })?,
        };
        let mut hits = hits;
        if let (Some(floor), Some(text), true) =
            (self.config.fact_grounding, req.query.text(), as_of == now)
        {
            let facts = self.facts(&req.scope, None)?;
            if !facts.is_empty() {
                self.ground_in_facts(&mut hits, &facts, text, &vector, &filter, now, floor, req.k)?;
            }
        }
        if req.track_access && !hits.is_empty() {
            let ids: Vec<&str> = hits.iter().map(|h| h.memory.id.as_str()).collect();
            self.record_access(&ids, now)?;
        }
        Ok(Recall { hits, stats })
    }

    /// The composite top-k of `filter` and its hits. `projected`: candidates carry only
    /// the scoring fields and the winners are read whole afterwards; `None` when a winner
    /// changed in between (the caller ranks again with `projected = false`).
    fn rank(
        &self,
        req: &RecallRequest,
        vector: &[f32],
        filter: &Filter,
        now: Timestamp,
        as_of: Timestamp,
        projected: bool,
    ) -> Result<Option<(Vec<RecallHit>, TopKStats)>> {
        let scorer = self.config.scorer;
        let plan = req.plan.unwrap_or(self.config.plan);
        let score = |sim: f32, item: &Cand| scorer.score(sim, &item.signals, now).score;
        let tie = |item: &Cand| item.id.clone();
        let mut source = EngineSource {
            store: self,
            vector,
            filter: filter.clone(),
            projected,
        };
        let banded = plan.exact
            && !matches!(scorer.model, crate::scoring::ScoringModel::Similarity)
            && source.scope_len()? > plan.exact_scan_max;
        let (ranked, stats) = if banded {
            let mut strata = EngineStrata {
                store: self,
                vector,
                base: match filter {
                    Filter::And(parts) => parts.clone(),
                    f => vec![f.clone()],
                },
                strata: strata(&scorer),
                scorer,
                now,
                projected,
            };
            strata_top_k(
                &mut source,
                |sim| scorer.upper_bound(sim),
                &mut strata,
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
            let Cand { id, doc, .. } = r.item;
            let doc = match doc {
                Some(doc) => doc,
                None => match self.cols.memories.get(&ExternalId::from(id.as_str()))? {
                    Some(e) => e.metadata,
                    None => return Ok(None), // forgotten since the search
                },
            };
            let memory = Memory::from_doc(id, &doc, None, name)?;
            let outside = memory.status != MemoryStatus::Active || !memory.valid_at(as_of);
            let score = scorer.score(r.similarity, &memory.signals(), now);
            if projected && (outside || score.score.total_cmp(&r.score) != Ordering::Equal) {
                return Ok(None); // changed since the search
            }
            // Defence in depth: the engine filter already excludes these.
            if !req.scope.contains(&memory.scope) {
                return Err(Error::ScopeViolation {
                    expected: req.scope.to_string(),
                    found: memory.scope.to_string(),
                });
            }
            if outside {
                return Err(Error::Malformed {
                    collection: name.to_string(),
                    id: memory.id.clone(),
                    what: "the engine returned a record outside the recall filter".into(),
                });
            }
            hits.push(RecallHit { memory, score });
        }
        Ok(Some((hits, stats)))
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
