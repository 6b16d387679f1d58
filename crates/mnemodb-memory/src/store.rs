//! [`MemoryStore`]: the memory layer over one engine [`Database`] — configuration, the
//! collections it owns, writing memories (remember, supersede, archive, forget).
//!
//! Every change that touches more than one record is one engine [`WriteBatch`], so it is
//! applied whole or not at all after any crash.
use std::collections::HashMap;
use std::sync::Arc;

use mnemodb::{
    Collection, CollectionConfig, Database, Document, ExternalId, Filter, IndexKind, Metric,
    Record, Value, WriteBatch,
};
use parking_lot::Mutex;

use crate::embedder::{Embedder, QueryInput, check_vector, embed_checked};
use crate::error::{Error, Result, invalid};
use crate::grouping::DuplicateRule;
use crate::record::{Memory, MemoryStatus, NewMemory, Scope, field, int_field, str_field, ts};
use crate::scoring::Scorer;
use crate::time::{Clock, MICROS_PER_SEC, SystemClock, Timestamp};
use crate::topk::TopKPlan;

/// How recall records that a memory was accessed (`last_accessed_at`, `access_count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessTracking {
    /// Not recorded.
    Off,
    /// One engine write batch of metadata patches per recall (as durable as the database's
    /// durability mode; with `Durability::Sync` each recall waits for one group-committed
    /// fsync).
    Immediate,
    /// Counted in memory and written as one batch every `max_pending` distinct memories, on
    /// [`MemoryStore::flush_access`] and when the store is dropped (a crash loses at most the
    /// pending counts, never a memory).
    Deferred {
        /// Pending memories that trigger a write.
        max_pending: usize,
    },
}

/// Configuration of a [`MemoryStore`].
#[derive(Debug, Clone)]
pub struct MemoryConfig {
    /// Prefix of the collections' names (`<namespace>.memories`, ...; default `memory`).
    pub namespace: String,
    /// Embedding dimension.
    pub dim: usize,
    /// The memories collection's vector index (default HNSW).
    pub index: IndexKind,
    /// Recall scoring (default: [`Scorer::default`]).
    pub scorer: Scorer,
    /// How the composite top-k fetches candidates.
    pub plan: TopKPlan,
    /// Access tracking (default [`AccessTracking::Immediate`]).
    pub access: AccessTracking,
    /// Consolidation's duplicate rule.
    pub duplicates: DuplicateRule,
    /// A `created_at` up to this many seconds after the clock is accepted (clock skew;
    /// default 300). Later ones are refused as "in the future".
    pub future_tolerance_secs: i64,
    /// When an entity fact is superseded, close the validity of the memory that stated the
    /// old value (once every fact it stated is superseded). Default `true`.
    pub close_contradicted_memories: bool,
    /// Largest `k` a recall accepts (default 1,000).
    pub max_k: usize,
    /// Fact-grounded recall: when a recall carries its query's text, the memory that stated
    /// the current value of a fact the question asks about (names its entity and a word
    /// of its attribute) is scored with a similarity of at least this much (default 0.5;
    /// `None`: off), then by importance and decay like any memory. On memeval dev every
    /// floor from 0.4 to 0.7 gives the same figures (docs/BENCHMARKS.md).
    pub fact_grounding: Option<f32>,
}

impl MemoryConfig {
    /// Defaults for `dim`-dimensional embeddings.
    pub fn new(dim: usize) -> Self {
        MemoryConfig {
            namespace: "memory".into(),
            dim,
            index: IndexKind::default(),
            scorer: Scorer::default(),
            plan: TopKPlan::default(),
            access: AccessTracking::Immediate,
            duplicates: DuplicateRule::default(),
            future_tolerance_secs: 300,
            close_contradicted_memories: true,
            max_k: 1_000,
            fact_grounding: Some(0.5),
        }
    }

    /// With this namespace.
    pub fn namespace(mut self, ns: impl Into<String>) -> Self {
        self.namespace = ns.into();
        self
    }

    /// With this scorer.
    pub fn scorer(mut self, scorer: Scorer) -> Self {
        self.scorer = scorer;
        self
    }

    /// With this access tracking.
    pub fn access(mut self, access: AccessTracking) -> Self {
        self.access = access;
        self
    }

    /// With this vector index.
    pub fn index(mut self, index: IndexKind) -> Self {
        self.index = index;
        self
    }

    /// With this top-k plan.
    pub fn plan(mut self, plan: TopKPlan) -> Self {
        self.plan = plan;
        self
    }

    /// With this fact-grounding similarity floor (`None`: off).
    pub fn fact_grounding(mut self, floor: Option<f32>) -> Self {
        self.fact_grounding = floor;
        self
    }

    fn validate(&self) -> Result<()> {
        let ns = &self.namespace;
        if ns.is_empty()
            || ns.len() > 40
            || !ns
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(invalid(format!(
                "namespace {ns:?} must be 1-40 characters of [A-Za-z0-9_-]"
            )));
        }
        if self.dim == 0 {
            return Err(invalid("embedding dimension must be at least 1"));
        }
        self.scorer.validate().map_err(Error::InvalidInput)?;
        self.duplicates.validate().map_err(Error::InvalidInput)?;
        if self.max_k == 0 {
            return Err(invalid("max_k must be at least 1"));
        }
        if self.future_tolerance_secs < 0 {
            return Err(invalid("future tolerance must be ≥ 0 seconds"));
        }
        if let Some(f) = self.fact_grounding
            && !(-1.0..=1.0).contains(&f)
        {
            return Err(invalid(format!(
                "fact-grounding similarity {f} must be in [-1, 1]"
            )));
        }
        Ok(())
    }
}

/// The engine collections a store owns.
#[derive(Debug, Clone)]
pub(crate) struct Collections {
    pub memories: Collection,
    pub facts: Collection,
    pub fact_log: Collection,
    pub turns: Collection,
    pub sessions: Collection,
    pub events: Collection,
    pub state: Collection,
}

impl Collections {
    fn open(db: &Database, cfg: &MemoryConfig) -> Result<Collections> {
        let ns = &cfg.namespace;
        let open = |config: CollectionConfig| -> Result<Collection> {
            if db.is_read_only() {
                Ok(db.collection(&config.name)?)
            } else {
                Ok(db.collection_or_create(config)?)
            }
        };
        let memories = open(
            CollectionConfig::new(format!("{ns}.memories"), cfg.dim, Metric::Cosine)
                .index(cfg.index)
                .keyword(field::USER)
                .keyword(field::AGENT)
                .keyword(field::SESSION)
                .keyword(field::SCOPE)
                .keyword(field::KIND)
                .keyword(field::STATUS)
                .range(field::IMPORTANCE)
                .range(field::CREATED_AT)
                .range(field::VALID_FROM)
                .range(field::VALID_TO)
                .range(field::SEQ),
        )?;
        // Every document collection declares the scope fields, so a scope filter on a field
        // no record has yet (an agent, a session) matches nothing instead of being refused.
        let docs = |name: &str| {
            CollectionConfig::documents(format!("{ns}.{name}"))
                .keyword(field::USER)
                .keyword(field::AGENT)
                .keyword(field::SESSION)
                .keyword(field::SCOPE)
        };
        Ok(Collections {
            memories,
            facts: open(docs("facts").keyword("entity").keyword("key"))?,
            fact_log: open(docs("fact_log").keyword("key").keyword("source_memory"))?,
            turns: open(docs("turns").range(field::SEQ))?,
            sessions: open(docs("sessions"))?,
            events: open(docs("events").keyword("memory").range("at"))?,
            state: open(docs("state"))?,
        })
    }
}

/// Writer-side state, under one mutex: writes from one store are serialised.
#[derive(Debug)]
pub(crate) struct WriterState {
    /// Next insertion sequence number (persisted in the `state` collection).
    pub next_seq: u64,
}

pub(crate) const SEQ_DOC: &str = "seq";

/// The memory layer over one database. `Send + Sync`: share one per database and
/// namespace (e.g. in an `Arc`); its writes are serialised internally.
pub struct MemoryStore {
    pub(crate) db: Database,
    pub(crate) config: MemoryConfig,
    pub(crate) cols: Collections,
    pub(crate) embedder: Option<Arc<dyn Embedder>>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) writer: Mutex<WriterState>,
    /// Deferred access counts: id → (extra recalls, latest access).
    pub(crate) pending_access: Mutex<HashMap<String, (u32, Timestamp)>>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("db", &self.db.path())
            .field("config", &self.config)
            .field(
                "embedder",
                &self.embedder.as_ref().map(|e| e.model_id().to_string()),
            )
            .finish_non_exhaustive()
    }
}

impl MemoryStore {
    /// Open (creating its collections when missing) the memory layer in `db`.
    pub fn open(db: &Database, config: MemoryConfig) -> Result<MemoryStore> {
        config.validate()?;
        let cols = Collections::open(db, &config)?;
        let next_seq = match cols.state.get(&ExternalId::from(SEQ_DOC))? {
            Some(e) => int_field(&e.metadata, "next").unwrap_or(0).max(0) as u64,
            None => 0,
        };
        Ok(MemoryStore {
            db: db.clone(),
            config,
            cols,
            embedder: None,
            clock: Arc::new(SystemClock),
            writer: Mutex::new(WriterState { next_seq }),
            pending_access: Mutex::new(HashMap::new()),
        })
    }

    /// Embed texts with this embedder (its dimension must be the store's).
    pub fn with_embedder(mut self, embedder: Arc<dyn Embedder>) -> Result<Self> {
        if embedder.dim() != self.config.dim {
            return Err(Error::EmbedderDimension {
                model: embedder.model_id().to_string(),
                expected: self.config.dim,
                got: embedder.dim(),
            });
        }
        self.embedder = Some(embedder);
        Ok(self)
    }

    /// Read "now" from this clock when a call gives no time (default: the system clock).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &MemoryConfig {
        &self.config
    }

    /// The database.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// The store's clock reading.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Change the scorer (e.g. to compare models on one store).
    pub fn set_scorer(&mut self, scorer: Scorer) -> Result<()> {
        scorer.validate().map_err(Error::InvalidInput)?;
        self.config.scorer = scorer;
        Ok(())
    }

    pub(crate) fn check_not_future(&self, t: Timestamp, what: &str) -> Result<()> {
        let limit = self.now().plus_micros(
            self.config
                .future_tolerance_secs
                .saturating_mul(MICROS_PER_SEC),
        );
        if t > limit {
            return Err(invalid(format!(
                "{what} {t} is in the future (the clock reads {})",
                self.now()
            )));
        }
        Ok(())
    }

    /// The vector of a query: the given one, or the embedding of its text.
    pub(crate) fn query_vector(&self, input: &QueryInput) -> Result<Vec<f32>> {
        let v = match input {
            QueryInput::Vector(v) | QueryInput::Both { vector: v, .. } => v.clone(),
            QueryInput::Text(t) => {
                if t.trim().is_empty() {
                    return Err(invalid("query text is empty"));
                }
                let e = self.embedder.as_deref().ok_or(Error::NoEmbedder)?;
                embed_checked(e, &[t], self.config.dim)?
                    .pop()
                    .ok_or(Error::NoEmbedder)?
            }
        };
        check_vector(&v, self.config.dim)?;
        Ok(v)
    }

    /// Vectors for texts that have none (one embedder call for all of them).
    pub(crate) fn fill_vectors(&self, items: &mut [NewMemory]) -> Result<()> {
        let missing: Vec<usize> = (0..items.len())
            .filter(|&i| items.get(i).is_some_and(|m| m.vector.is_none()))
            .collect();
        if !missing.is_empty() {
            let e = self.embedder.as_deref().ok_or(Error::NoEmbedder)?;
            let texts: Vec<&str> = missing
                .iter()
                .filter_map(|&i| items.get(i).map(|m| m.text.as_str()))
                .collect();
            let vectors = embed_checked(e, &texts, self.config.dim)?;
            for (i, v) in missing.into_iter().zip(vectors) {
                if let Some(m) = items.get_mut(i) {
                    m.vector = Some(v);
                }
            }
        }
        for m in items.iter() {
            if let Some(v) = &m.vector {
                check_vector(v, self.config.dim)?;
            }
        }
        Ok(())
    }

    /// Store one memory; returns its id.
    pub fn remember(&self, memory: NewMemory) -> Result<String> {
        let mut ids = self.remember_batch(vec![memory])?;
        ids.pop().ok_or_else(|| invalid("nothing stored"))
    }

    /// Store memories atomically (one write batch); returns their ids in order.
    ///
    /// Refused (nothing written): empty text, importance outside `[0, 1]`, `created_at` in
    /// the future, a vector of the wrong dimension or with NaN/inf, an id already in use.
    pub fn remember_batch(&self, mut memories: Vec<NewMemory>) -> Result<Vec<String>> {
        let now = self.now();
        for m in &memories {
            m.validate()?;
            if let Some(t) = m.created_at {
                self.check_not_future(t, "created_at")?;
            }
        }
        self.fill_vectors(&mut memories)?;
        let mut writer = self.writer.lock();
        let mut batch = WriteBatch::new();
        let mut ids = Vec::with_capacity(memories.len());
        let mut seq = writer.next_seq;
        let mut used = std::collections::HashSet::new();
        for m in memories {
            let id = match &m.id {
                Some(id) => {
                    if !used.insert(id.clone())
                        || self
                            .cols
                            .memories
                            .get(&ExternalId::from(id.as_str()))?
                            .is_some()
                    {
                        return Err(invalid(format!(
                            "memory id {id:?} is already in use (supersede or forget it instead)"
                        )));
                    }
                    id.clone()
                }
                None => loop {
                    let id = format!("mem-{seq}");
                    if !used.contains(&id)
                        && self
                            .cols
                            .memories
                            .get(&ExternalId::from(id.as_str()))?
                            .is_none()
                    {
                        used.insert(id.clone());
                        break id;
                    }
                    seq += 1;
                },
            };
            let record = self.memory_record(&id, m, seq, now)?;
            batch.upsert(self.cols.memories.name(), record);
            ids.push(id);
            seq += 1;
        }
        batch.upsert(self.cols.state.name(), seq_record(seq));
        self.db.write(batch)?;
        writer.next_seq = seq;
        Ok(ids)
    }

    /// The engine record of a new memory.
    pub(crate) fn memory_record(
        &self,
        id: &str,
        m: NewMemory,
        seq: u64,
        now: Timestamp,
    ) -> Result<Record> {
        let created = m.created_at.unwrap_or(now);
        let vector = m.vector.ok_or(Error::NoEmbedder)?;
        let mut doc = Document::new();
        m.scope.write_to(&mut doc);
        doc.insert(field::TEXT.into(), m.text.into());
        doc.insert(field::KIND.into(), m.kind.as_str().into());
        doc.insert(
            field::IMPORTANCE.into(),
            Value::Float(f64::from(m.importance)),
        );
        doc.insert(field::CREATED_AT.into(), ts(created));
        doc.insert(field::FIRST_STATED_AT.into(), ts(created));
        doc.insert(field::ACCESS_COUNT.into(), Value::Int(0));
        doc.insert(
            field::VALID_FROM.into(),
            ts(m.valid_from.unwrap_or(created)),
        );
        doc.insert(
            field::VALID_TO.into(),
            ts(m.valid_to.unwrap_or(Timestamp::MAX)),
        );
        doc.insert(field::STATUS.into(), MemoryStatus::ACTIVE.into());
        doc.insert(
            field::SEQ.into(),
            Value::Int(i64::try_from(seq).unwrap_or(i64::MAX)),
        );
        if let Some(c) = m.source.conversation {
            doc.insert(field::SOURCE_CONVERSATION.into(), c.into());
        }
        if let Some(t) = m.source.turn {
            doc.insert(
                field::SOURCE_TURN.into(),
                Value::Int(i64::try_from(t).unwrap_or(i64::MAX)),
            );
        }
        if !m.metadata.is_empty() {
            doc.insert(field::META.into(), Value::Map(m.metadata));
        }
        Ok(Record::new(id, vector).metadata(doc))
    }

    /// A memory by id (any status), without its vector.
    pub fn get(&self, id: &str) -> Result<Option<Memory>> {
        self.get_inner(id, false)
    }

    /// A memory by id with its stored (normalised) vector.
    pub fn get_with_vector(&self, id: &str) -> Result<Option<Memory>> {
        self.get_inner(id, true)
    }

    fn get_inner(&self, id: &str, with_vector: bool) -> Result<Option<Memory>> {
        let Some(e) = self.cols.memories.get(&ExternalId::from(id))? else {
            return Ok(None);
        };
        let vector = if with_vector { e.vector } else { None };
        Memory::from_doc(
            id.to_string(),
            &e.metadata,
            vector,
            self.cols.memories.name(),
        )
        .map(Some)
    }

    /// Every memory of a query scope (any status and validity), in insertion order.
    pub fn list(&self, scope: &Scope) -> Result<Vec<Memory>> {
        scope.validate()?;
        let name = self.cols.memories.name().to_string();
        let mut out = Vec::new();
        for e in self.cols.memories.scan(Some(&scope.filter()), false)? {
            let m = Memory::from_doc(external_id_string(&e.id), &e.metadata, None, &name)?;
            if !scope.contains(&m.scope) {
                return Err(Error::ScopeViolation {
                    expected: scope.to_string(),
                    found: m.scope.to_string(),
                });
            }
            out.push(m);
        }
        out.sort_by_key(|m| m.seq);
        Ok(out)
    }

    /// Replace `old_id` by `new` in one atomic write: the new memory (valid from its
    /// `created_at`), the old one closed (`valid_to` = that time, `superseded_by`), and a
    /// history entry. Both must be in the same exact scope; the old one must still be open.
    /// Recall now sees the new memory; `as_of` a time before sees the old one.
    pub fn supersede(&self, old_id: &str, new: NewMemory, reason: Option<&str>) -> Result<String> {
        new.validate()?;
        let now = self.now();
        let old = self
            .get(old_id)?
            .ok_or_else(|| Error::NotFound(format!("memory {old_id:?}")))?;
        if old.scope != new.scope {
            return Err(invalid(format!(
                "cannot supersede memory {old_id:?} of {} by a memory of {}",
                old.scope, new.scope
            )));
        }
        if old.status != MemoryStatus::Active || old.valid_to.is_some() {
            return Err(invalid(format!(
                "memory {old_id:?} is not open (already superseded, archived or merged)"
            )));
        }
        let at = new.created_at.unwrap_or(now);
        self.check_not_future(at, "created_at")?;
        if at <= old.valid_from {
            return Err(invalid(format!(
                "the new memory ({at}) must be stated after the old one became valid ({})",
                old.valid_from
            )));
        }
        let mut items = vec![new.at(at)];
        if let Some(m) = items.first_mut() {
            m.valid_from = Some(at);
        }
        self.fill_vectors(&mut items)?;
        let new = items.pop().ok_or(Error::NoEmbedder)?;
        let mut writer = self.writer.lock();
        let mut seq = writer.next_seq;
        let id = match &new.id {
            Some(id) => {
                if self
                    .cols
                    .memories
                    .get(&ExternalId::from(id.as_str()))?
                    .is_some()
                {
                    return Err(invalid(format!("memory id {id:?} is already in use")));
                }
                id.clone()
            }
            None => loop {
                let id = format!("mem-{seq}");
                if self
                    .cols
                    .memories
                    .get(&ExternalId::from(id.as_str()))?
                    .is_none()
                {
                    break id;
                }
                seq += 1;
            },
        };
        let scope = new.scope.clone();
        let mut batch = WriteBatch::new();
        batch.upsert(
            self.cols.memories.name(),
            self.memory_record(&id, new, seq, now)?,
        );
        let mut patch = Document::new();
        patch.insert(field::VALID_TO.into(), ts(at));
        patch.insert(field::SUPERSEDED_BY.into(), id.as_str().into());
        batch.patch(self.cols.memories.name(), old_id, patch);
        batch.upsert(
            self.cols.events.name(),
            event_record(&scope, "supersede", old_id, Some(&id), at, reason),
        );
        batch.upsert(self.cols.state.name(), seq_record(seq + 1));
        self.db.write(batch)?;
        writer.next_seq = seq + 1;
        Ok(id)
    }

    /// Delete memories for good (absent ids are ignored). Use [`MemoryStore::archive`] to
    /// keep them restorable.
    pub fn forget(&self, ids: &[&str]) -> Result<()> {
        let _writer = self.writer.lock();
        let mut batch = WriteBatch::new();
        let at = self.now();
        for id in ids {
            if let Some(m) = self.get(id)? {
                batch.delete(self.cols.memories.name(), *id);
                batch.upsert(
                    self.cols.events.name(),
                    event_record(&m.scope, "forget", id, None, at, None),
                );
            }
        }
        self.db.write(batch)?;
        Ok(())
    }

    /// Erase everything of a query scope — memories, facts, history, turns, sessions — and
    /// make it physical (compaction + checkpoint: the bytes are in no file afterwards).
    /// Returns how many records were erased.
    pub fn erase_scope(&self, scope: &Scope) -> Result<u64> {
        scope.validate()?;
        let _writer = self.writer.lock();
        let f = scope.filter();
        let mut n = 0;
        for c in [
            &self.cols.memories,
            &self.cols.facts,
            &self.cols.fact_log,
            &self.cols.turns,
            &self.cols.sessions,
            &self.cols.events,
        ] {
            n += c.erase_where(&f)?;
        }
        Ok(n)
    }

    /// Archive memories (kept, excluded from recall, restorable).
    pub fn archive(&self, ids: &[&str]) -> Result<usize> {
        let _writer = self.writer.lock();
        let at = self.now();
        let mut batch = WriteBatch::new();
        let mut n = 0;
        for id in ids {
            let Some(m) = self.get(id)? else { continue };
            if m.status != MemoryStatus::Active {
                continue;
            }
            batch.patch(
                self.cols.memories.name(),
                *id,
                status_patch(MemoryStatus::ARCHIVED, Some(at)),
            );
            batch.upsert(
                self.cols.events.name(),
                event_record(&m.scope, "archive", id, None, at, None),
            );
            n += 1;
        }
        self.db.write(batch)?;
        Ok(n)
    }

    /// Make an archived memory recallable again.
    pub fn restore(&self, id: &str) -> Result<()> {
        let _writer = self.writer.lock();
        let m = self
            .get(id)?
            .ok_or_else(|| Error::NotFound(format!("memory {id:?}")))?;
        if m.status != MemoryStatus::Archived {
            return Err(invalid(format!("memory {id:?} is not archived")));
        }
        let at = self.now();
        let mut batch = WriteBatch::new();
        batch.patch(
            self.cols.memories.name(),
            id,
            status_patch(MemoryStatus::ACTIVE, None),
        );
        batch.upsert(
            self.cols.events.name(),
            event_record(&m.scope, "restore", id, None, at, None),
        );
        self.db.write(batch)?;
        Ok(())
    }

    /// The history entries (supersede, merge, archive, restore, forget, fact closures) of a
    /// memory, oldest first: `(at, action, other id, reason)`.
    pub fn history(&self, id: &str) -> Result<Vec<HistoryEntry>> {
        let f = Filter::Eq("memory".into(), Value::from(id));
        let mut out: Vec<HistoryEntry> = self
            .cols
            .events
            .scan(Some(&f), false)?
            .into_iter()
            .map(|e| HistoryEntry {
                at: crate::record::ts_field(&e.metadata, "at").unwrap_or_default(),
                action: str_field(&e.metadata, "action")
                    .unwrap_or_default()
                    .to_string(),
                other: str_field(&e.metadata, "other").map(str::to_string),
                reason: str_field(&e.metadata, "reason").map(str::to_string),
            })
            .collect();
        out.sort_by_key(|h| h.at);
        Ok(out)
    }
}

/// One history entry of a memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// When.
    pub at: Timestamp,
    /// `supersede`, `merge`, `archive`, `restore`, `forget`, `fact-closed`.
    pub action: String,
    /// The other memory involved (the newer one, the merge survivor).
    pub other: Option<String>,
    /// Why, when given.
    pub reason: Option<String>,
}

pub(crate) fn seq_record(next: u64) -> Record {
    Record::document(SEQ_DOC, Document::new())
        .with("next", Value::Int(i64::try_from(next).unwrap_or(i64::MAX)))
}

pub(crate) fn status_patch(status: &str, archived_at: Option<Timestamp>) -> Document {
    let mut p = Document::new();
    p.insert(field::STATUS.into(), status.into());
    p.insert(
        field::ARCHIVED_AT.into(),
        archived_at.map_or(Value::Null, ts),
    );
    p
}

static EVENT_COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A history entry record (id unique per process run and time).
pub(crate) fn event_record(
    scope: &Scope,
    action: &str,
    memory: &str,
    other: Option<&str>,
    at: Timestamp,
    reason: Option<&str>,
) -> Record {
    let n = EVENT_COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let wall = Timestamp::now_system().micros();
    let mut doc = Document::new();
    scope.write_to(&mut doc);
    doc.insert("memory".into(), memory.into());
    doc.insert("action".into(), action.into());
    doc.insert("at".into(), ts(at));
    if let Some(o) = other {
        doc.insert("other".into(), o.into());
    }
    if let Some(r) = reason {
        doc.insert("reason".into(), r.into());
    }
    Record::document(format!("ev-{wall:x}-{n:x}-{memory}"), doc)
}

/// An engine id as the string this layer uses.
pub(crate) fn external_id_string(id: &ExternalId) -> String {
    match id {
        ExternalId::Str(s) => s.clone(),
        ExternalId::U64(v) => v.to_string(),
    }
}
