//! Entity facts: `(scope, entity, attribute, value, at)` with a changelog.
//!
//! Each attribute has a current record (`<ns>.facts`) and one changelog record per
//! statement (`<ns>.fact_log`), resolved by [`FactLog`]: a newer value supersedes the older
//! one, a restatement changes nothing but the changelog, and an older statement arriving
//! late is filed into the history without overwriting the newer value.
//!
//! When a statement names its source memory and the store's
//! [`close_contradicted_memories`](crate::MemoryConfig::close_contradicted_memories) is on,
//! a memory whose every stated fact has been superseded gets `valid_to` = the time of the
//! superseding statement (and `superseded_by` = its source memory): recall stops returning
//! "Ledgerly stores its data in PostgreSQL" once "moving Ledgerly to MySQL" is a fact, while
//! `as_of` an earlier time still sees it. All of it — statement, current value, validity
//! changes, memory closures, history entries — is one atomic write batch.
//!
//! Entity and attribute names are matched case-insensitively (stored lowercased, spaces →
//! `_`); values compare ignoring case and repeated whitespace.
use std::collections::{BTreeMap, BTreeSet};

use mnemodb::{Document, ExternalId, Filter, Record, Value, WriteBatch};

use crate::changelog::{FactChange, FactEntry, FactLog, FactSource};
use crate::error::{Error, Result, invalid};
use crate::record::{Scope, field, int_field, str_field, ts, ts_field};
use crate::store::{MemoryStore, event_record, external_id_string};
use crate::time::Timestamp;

/// A statement to record.
#[derive(Debug, Clone, PartialEq)]
pub struct FactInput {
    /// Whose fact (its exact scope).
    pub scope: Scope,
    /// The entity (`user`, `ledgerly`, `maya`).
    pub entity: String,
    /// The attribute (`database`, `editor`).
    pub attribute: String,
    /// The value.
    pub value: String,
    /// When it was stated (default: the store's clock; not in the future).
    pub at: Option<Timestamp>,
    /// Where it came from.
    pub source: FactSource,
}

impl FactInput {
    /// `entity.attribute = value` in `scope`.
    pub fn new(
        scope: Scope,
        entity: impl Into<String>,
        attribute: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        FactInput {
            scope,
            entity: entity.into(),
            attribute: attribute.into(),
            value: value.into(),
            at: None,
            source: FactSource::default(),
        }
    }

    /// Stated at `t`.
    pub fn at(mut self, t: Timestamp) -> Self {
        self.at = Some(t);
        self
    }

    /// Stated by this memory.
    pub fn from_memory(mut self, memory_id: impl Into<String>) -> Self {
        self.source.memory_id = Some(memory_id.into());
        self
    }

    /// With this source.
    pub fn source(mut self, source: FactSource) -> Self {
        self.source = source;
        self
    }
}

/// The current value of an attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct Fact {
    /// Its scope.
    pub scope: Scope,
    /// The entity (normalised).
    pub entity: String,
    /// The attribute (normalised).
    pub attribute: String,
    /// The current value.
    pub value: String,
    /// Since when it holds (the first statement of the current run).
    pub since: Timestamp,
    /// The latest statement's time.
    pub stated_at: Timestamp,
    /// The latest statement's source memory.
    pub source_memory: Option<String>,
    /// Statements in the changelog.
    pub statements: u64,
}

impl Fact {
    /// `entity.attribute: value`, the line context assembly uses.
    pub fn line(&self) -> String {
        format!("{}.{}: {}", self.entity, self.attribute, self.value)
    }
}

/// What recording a statement did.
#[derive(Debug, Clone, PartialEq)]
pub struct FactUpdate {
    /// How the attribute changed.
    pub change: FactChange,
    /// The current value afterwards.
    pub current: Fact,
    /// Memories whose validity was closed because their facts were superseded.
    pub closed_memories: Vec<String>,
}

/// An attribute's history.
#[derive(Debug, Clone, PartialEq)]
pub struct FactHistory {
    /// Values in time order, consecutive repeats collapsed.
    pub values: Vec<String>,
    /// Every statement, oldest first, with its time, source and validity.
    pub entries: Vec<FactEntry>,
}

const MAX_NAME_BYTES: usize = 256;
const MAX_VALUE_BYTES: usize = 4096;

/// `Ledgerly` → `ledgerly`, `Python Version` → `python_version`.
pub fn normalize_name(s: &str) -> String {
    s.split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join("_")
}

fn fact_key(scope: &Scope, entity: &str, attribute: &str) -> String {
    format!("{}\u{1e}{entity}\u{1e}{attribute}", scope.key())
}

fn validate_name(what: &str, s: &str) -> Result<()> {
    if s.is_empty() || s.len() > MAX_NAME_BYTES || s.chars().any(char::is_control) {
        return Err(invalid(format!(
            "fact {what} {s:?} must be 1-{MAX_NAME_BYTES} bytes without control characters"
        )));
    }
    Ok(())
}

impl MemoryStore {
    /// Record a statement (see the module docs).
    pub fn assert_fact(&self, input: FactInput) -> Result<FactUpdate> {
        input.scope.validate()?;
        let entity = normalize_name(&input.entity);
        let attribute = normalize_name(&input.attribute);
        validate_name("entity", &entity)?;
        validate_name("attribute", &attribute)?;
        let value = input.value.trim().to_string();
        if value.is_empty() || value.len() > MAX_VALUE_BYTES {
            return Err(invalid(format!(
                "fact value must be 1-{MAX_VALUE_BYTES} bytes, got {}",
                value.len()
            )));
        }
        let at = input.at.unwrap_or_else(|| self.now());
        self.check_not_future(at, "fact time")?;
        let key = fact_key(&input.scope, &entity, &attribute);

        let mut writer = self.writer.lock();
        let seq = writer.next_seq;
        let stored = self.load_log(&key)?;
        let before: BTreeMap<u64, Timestamp> = stored
            .entries()
            .iter()
            .map(|e| (e.seq, e.valid_to))
            .collect();
        let mut log = stored;
        let change = log.insert(FactEntry {
            value: value.clone(),
            at,
            seq,
            source: input.source.clone(),
            valid_to: Timestamp::MAX,
        });
        let mut batch = WriteBatch::new();
        let log_name = self.cols.fact_log.name().to_string();
        for e in log.entries() {
            if e.seq == seq {
                batch.upsert(
                    &log_name,
                    self.log_record(&key, &input.scope, &entity, &attribute, e),
                );
            } else if before.get(&e.seq) != Some(&e.valid_to) {
                let mut p = Document::new();
                p.insert("valid_to".into(), ts(e.valid_to));
                batch.patch(&log_name, log_id(&key, e.seq).as_str(), p);
            }
        }
        let current = current_fact(&input.scope, &entity, &attribute, &log)
            .ok_or_else(|| invalid("empty changelog after insert"))?;
        batch.upsert(self.cols.facts.name(), fact_record(&key, &current));

        let mut closed = Vec::new();
        if self.config.close_contradicted_memories {
            // Memories whose statements' validity changed.
            let touched: BTreeSet<String> = log
                .entries()
                .iter()
                .filter(|e| e.seq == seq || before.get(&e.seq) != Some(&e.valid_to))
                .filter_map(|e| e.source.memory_id.clone())
                .collect();
            for memory in touched {
                if let Some(end) = self.memory_fact_end(&memory, &key, &log)? {
                    closed.extend(self.close_memory(&mut batch, &memory, end, &log)?);
                }
            }
        }
        batch.upsert(self.cols.state.name(), crate::store::seq_record(seq + 1));
        self.db.write(batch)?;
        writer.next_seq = seq + 1;
        Ok(FactUpdate {
            change,
            current,
            closed_memories: closed,
        })
    }

    fn load_log(&self, key: &str) -> Result<FactLog> {
        let f = Filter::Eq("key".into(), Value::from(key));
        let entries = self
            .cols
            .fact_log
            .scan(Some(&f), false)?
            .into_iter()
            .map(|e| entry_of(&e.metadata))
            .collect();
        Ok(FactLog::from_entries(entries))
    }

    /// The end of a memory's factual validity: the latest `valid_to` over every statement it
    /// is the source of (this key's from `log`, others from storage); `None` while one of
    /// them is still current.
    fn memory_fact_end(&self, memory: &str, key: &str, log: &FactLog) -> Result<Option<Timestamp>> {
        let mut end = Timestamp::MIN_OPEN;
        for e in log
            .entries()
            .iter()
            .filter(|e| e.source.memory_id.as_deref() == Some(memory))
        {
            end = end.max(e.valid_to);
        }
        let f = Filter::Eq("source_memory".into(), Value::from(memory));
        for e in self.cols.fact_log.scan(Some(&f), false)? {
            if str_field(&e.metadata, "key") == Some(key) {
                continue;
            }
            end = end.max(ts_field(&e.metadata, "valid_to").unwrap_or(Timestamp::MAX));
        }
        Ok((end != Timestamp::MAX && end != Timestamp::MIN_OPEN).then_some(end))
    }

    /// Close `memory` at `end` if it is open later than that; returns its id when closed.
    fn close_memory(
        &self,
        batch: &mut WriteBatch,
        memory: &str,
        end: Timestamp,
        log: &FactLog,
    ) -> Result<Option<String>> {
        let Some(m) = self.get(memory)? else {
            return Ok(None);
        };
        if m.valid_to.is_some_and(|t| t <= end) || end <= m.valid_from {
            return Ok(None);
        }
        let by = log
            .entries()
            .iter()
            .find(|e| e.at == end)
            .and_then(|e| e.source.memory_id.clone());
        let mut p = Document::new();
        p.insert(field::VALID_TO.into(), ts(end));
        if let Some(by) = &by {
            p.insert(field::SUPERSEDED_BY.into(), by.as_str().into());
        }
        batch.patch(self.cols.memories.name(), memory, p);
        batch.upsert(
            self.cols.events.name(),
            event_record(
                &m.scope,
                "fact-closed",
                memory,
                by.as_deref(),
                end,
                Some("every fact it stated was superseded"),
            ),
        );
        Ok(Some(memory.to_string()))
    }

    fn log_record(
        &self,
        key: &str,
        scope: &Scope,
        entity: &str,
        attribute: &str,
        e: &FactEntry,
    ) -> Record {
        let mut doc = Document::new();
        scope.write_to(&mut doc);
        doc.insert("key".into(), key.into());
        doc.insert("entity".into(), entity.into());
        doc.insert("attribute".into(), attribute.into());
        doc.insert("value".into(), e.value.as_str().into());
        doc.insert("at".into(), ts(e.at));
        doc.insert(
            field::SEQ.into(),
            Value::Int(i64::try_from(e.seq).unwrap_or(i64::MAX)),
        );
        doc.insert("valid_to".into(), ts(e.valid_to));
        if let Some(m) = &e.source.memory_id {
            doc.insert("source_memory".into(), m.as_str().into());
        }
        if let Some(t) = &e.source.text {
            doc.insert("source_text".into(), t.as_str().into());
        }
        if let Some(o) = &e.source.origin {
            doc.insert("origin".into(), o.as_str().into());
        }
        Record::document(log_id(key, e.seq), doc)
    }

    /// The current value of `entity.attribute` in the exact `scope`.
    pub fn fact(&self, scope: &Scope, entity: &str, attribute: &str) -> Result<Option<Fact>> {
        scope.validate()?;
        let key = fact_key(scope, &normalize_name(entity), &normalize_name(attribute));
        match self.cols.facts.get(&ExternalId::from(key.as_str()))? {
            Some(e) => Ok(fact_of(&e.metadata)),
            None => Ok(None),
        }
    }

    /// The value of `entity.attribute` valid at `t`.
    pub fn fact_as_of(
        &self,
        scope: &Scope,
        entity: &str,
        attribute: &str,
        t: Timestamp,
    ) -> Result<Option<FactEntry>> {
        scope.validate()?;
        let key = fact_key(scope, &normalize_name(entity), &normalize_name(attribute));
        Ok(self.load_log(&key)?.as_of(t).cloned())
    }

    /// The history of `entity.attribute` in the exact `scope`.
    pub fn fact_history(
        &self,
        scope: &Scope,
        entity: &str,
        attribute: &str,
    ) -> Result<FactHistory> {
        scope.validate()?;
        let key = fact_key(scope, &normalize_name(entity), &normalize_name(attribute));
        let log = self.load_log(&key)?;
        Ok(FactHistory {
            values: log.history(),
            entries: log.entries().to_vec(),
        })
    }

    /// Current facts of a query scope (all entities when `entity` is `None`), ordered by
    /// entity and attribute.
    pub fn facts(&self, scope: &Scope, entity: Option<&str>) -> Result<Vec<Fact>> {
        scope.validate()?;
        let mut parts = vec![scope.filter()];
        if let Some(e) = entity {
            parts.push(Filter::Eq("entity".into(), Value::from(normalize_name(e))));
        }
        let mut out = Vec::new();
        for e in self.cols.facts.scan(Some(&Filter::And(parts)), false)? {
            let f = fact_of(&e.metadata).ok_or_else(|| Error::Malformed {
                collection: self.cols.facts.name().to_string(),
                id: external_id_string(&e.id),
                what: "not a fact record".into(),
            })?;
            if !scope.contains(&f.scope) {
                return Err(Error::ScopeViolation {
                    expected: scope.to_string(),
                    found: f.scope.to_string(),
                });
            }
            out.push(f);
        }
        out.sort_by(|a, b| {
            (&a.entity, &a.attribute, a.scope.key()).cmp(&(&b.entity, &b.attribute, b.scope.key()))
        });
        Ok(out)
    }

    /// The current facts of a query scope most relevant to `query` (lexical: shared words
    /// of entity, attribute and value, weighted by rarity among the scope's facts), best
    /// first; facts sharing no word are left out.
    pub fn relevant_facts(&self, scope: &Scope, query: &str, k: usize) -> Result<Vec<(Fact, f64)>> {
        let facts = self.facts(scope, None)?;
        Ok(crate::lexical::rank(&facts, query, k))
    }
}

impl Timestamp {
    /// Sentinel below every real time (internal).
    pub(crate) const MIN_OPEN: Timestamp = Timestamp(i64::MIN);
}

fn log_id(key: &str, seq: u64) -> String {
    format!("{key}\u{1e}#{seq}")
}

fn entry_of(doc: &Document) -> FactEntry {
    FactEntry {
        value: str_field(doc, "value").unwrap_or_default().to_string(),
        at: ts_field(doc, "at").unwrap_or_default(),
        seq: int_field(doc, field::SEQ)
            .and_then(|s| u64::try_from(s).ok())
            .unwrap_or(0),
        source: FactSource {
            memory_id: str_field(doc, "source_memory").map(str::to_string),
            text: str_field(doc, "source_text").map(str::to_string),
            origin: str_field(doc, "origin").map(str::to_string),
        },
        valid_to: ts_field(doc, "valid_to").unwrap_or(Timestamp::MAX),
    }
}

fn current_fact(scope: &Scope, entity: &str, attribute: &str, log: &FactLog) -> Option<Fact> {
    let cur = log.current()?;
    Some(Fact {
        scope: scope.clone(),
        entity: entity.to_string(),
        attribute: attribute.to_string(),
        value: cur.value.clone(),
        since: log.current_since().unwrap_or(cur.at),
        stated_at: cur.at,
        source_memory: cur.source.memory_id.clone(),
        statements: log.entries().len() as u64,
    })
}

fn fact_record(key: &str, f: &Fact) -> Record {
    let mut doc = Document::new();
    f.scope.write_to(&mut doc);
    doc.insert("key".into(), key.into());
    doc.insert("entity".into(), f.entity.as_str().into());
    doc.insert("attribute".into(), f.attribute.as_str().into());
    doc.insert("value".into(), f.value.as_str().into());
    doc.insert("since".into(), ts(f.since));
    doc.insert("at".into(), ts(f.stated_at));
    doc.insert(
        "statements".into(),
        Value::Int(i64::try_from(f.statements).unwrap_or(i64::MAX)),
    );
    if let Some(m) = &f.source_memory {
        doc.insert("source_memory".into(), m.as_str().into());
    }
    Record::document(key, doc)
}

fn fact_of(doc: &Document) -> Option<Fact> {
    Some(Fact {
        scope: Scope::read_from(doc)?,
        entity: str_field(doc, "entity")?.to_string(),
        attribute: str_field(doc, "attribute")?.to_string(),
        value: str_field(doc, "value")?.to_string(),
        since: ts_field(doc, "since")?,
        stated_at: ts_field(doc, "at")?,
        source_memory: str_field(doc, "source_memory").map(str::to_string),
        statements: int_field(doc, "statements")
            .and_then(|s| u64::try_from(s).ok())
            .unwrap_or(0),
    })
}
