//! Consolidation: merge near-duplicate memories of one scope into one.
//!
//! 1. **Incremental**: only memories inserted since the last run of the same query scope
//!    (by insertion sequence; a watermark per scope is stored with the merges) are looked
//!    at — as *probes* — but they are compared with every active memory of their exact scope.
//! 2. Each probe's nearest neighbours come from the engine (one batched search), restricted
//!    to the probe's **exact** scope key, so nothing is ever merged across scopes.
//! 3. Pairs that pass the [`DuplicateRule`] (cosine threshold + number guard) are grouped
//!    ([`crate::grouping::components`]).
//! 4. Each group is merged into its newest member (the *survivor*, which keeps its id, text
//!    and vector by default, or the text of a caller-supplied [`MergeFn`]): importance = max,
//!    access counts summed, `first_stated_at` = earliest, `merged_from` += the others (and
//!    whatever they had absorbed). The others stay stored with `status = merged` and
//!    `merged_into` = the survivor: their ids, texts and times are the provenance, and
//!    nothing is lost. One write batch per chunk of groups.
//!
//! Running it again without new memories changes nothing (idempotent).
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Not;
use std::sync::Arc;

use mnemodb::{Document, ExternalId, Filter, Query, Record, Value, WriteBatch};

use crate::error::{Error, Result};
use crate::grouping::{DuplicateRule, components};
use crate::recall::visible_filter;
use crate::record::{Memory, MemoryStatus, Scope, field, int_field, str_field, ts};
use crate::store::{MemoryStore, event_record, external_id_string};
use crate::time::Timestamp;

/// Builds the merged text of a group (members oldest first).
pub type MergeFn = Arc<dyn Fn(&[Memory]) -> String + Send + Sync>;

/// Options of a consolidation run.
#[derive(Clone, Default)]
pub struct ConsolidateOptions {
    /// The duplicate rule (default: the store's).
    pub rule: Option<DuplicateRule>,
    /// Neighbours looked at per probe (default 8; duplicates of one memory beyond that are
    /// still grouped through each other).
    pub neighbours: Option<usize>,
    /// Look at every active memory, not only those added since the last run.
    pub full: bool,
    /// Merged text (default: the newest member's text). With an embedder configured the
    /// new text is embedded; without, the survivor keeps its vector.
    pub merge: Option<MergeFn>,
    /// Report the groups without writing anything.
    pub dry_run: bool,
    /// The time of the run (default: the store's clock).
    pub at: Option<Timestamp>,
}

impl std::fmt::Debug for ConsolidateOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsolidateOptions")
            .field("rule", &self.rule)
            .field("neighbours", &self.neighbours)
            .field("full", &self.full)
            .field("merge", &self.merge.as_ref().map(|_| "custom"))
            .field("dry_run", &self.dry_run)
            .field("at", &self.at)
            .finish()
    }
}

/// One merged group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergedGroup {
    /// The memory that remains.
    pub survivor: String,
    /// The memories merged into it (now `status = merged`).
    pub merged: Vec<String>,
}

/// What a consolidation run did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConsolidationReport {
    /// Memories probed (new since the last run, or all with `full`).
    pub probed: usize,
    /// Candidate pairs compared.
    pub pairs_compared: usize,
    /// Groups merged.
    pub groups: Vec<MergedGroup>,
}

const WATERMARK_PREFIX: &str = "consolidated:";
const GROUPS_PER_BATCH: usize = 512;

struct Node {
    id: String,
    doc: Document,
}

impl MemoryStore {
    /// Merge near-duplicates within `scope` (see the module docs).
    pub fn consolidate(
        &self,
        scope: &Scope,
        opts: &ConsolidateOptions,
    ) -> Result<ConsolidationReport> {
        scope.validate()?;
        let rule = opts.rule.unwrap_or(self.config.duplicates);
        rule.validate().map_err(Error::InvalidInput)?;
        let neighbours = opts.neighbours.unwrap_or(8).clamp(1, 1_000);
        let now = opts.at.unwrap_or_else(|| self.now());
        let _writer = self.writer.lock();
        let watermark_id = format!("{WATERMARK_PREFIX}{}", scope.key());
        let watermark = if opts.full {
            -1
        } else {
            self.cols
                .state
                .get(&ExternalId::from(watermark_id.as_str()))?
                .and_then(|e| int_field(&e.metadata, "seq"))
                .unwrap_or(-1)
        };
        let visible = visible_filter(scope, now);
        let probe_filter = Filter::And(vec![
            visible,
            Filter::gte(field::SEQ, Value::Int(watermark + 1)),
        ]);
        let mut probes = self.cols.memories.scan(Some(&probe_filter), true)?;
        let mut report = ConsolidationReport {
            probed: probes.len(),
            ..Default::default()
        };
        let max_seq = probes
            .iter()
            .filter_map(|e| int_field(&e.metadata, field::SEQ))
            .max()
            .unwrap_or(watermark);

        // Neighbours of every probe in its exact scope: one batched search per scope, whose
        // queries share one filter (the engine evaluates it once per batch).
        let mut by_scope: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, p) in probes.iter().enumerate() {
            let key = str_field(&p.metadata, field::SCOPE).ok_or_else(|| malformed(self))?;
            by_scope.entry(key.to_string()).or_default().push(i);
        }
        let mut results: Vec<Vec<mnemodb::SearchHit>> = vec![Vec::new(); probes.len()];
        for (key, members) in &by_scope {
            let first = members
                .first()
                .and_then(|&i| probes.get(i))
                .ok_or_else(|| malformed(self))?;
            let scope = Scope::read_from(&first.metadata).ok_or_else(|| malformed(self))?;
            let exact = Filter::And(vec![
                visible_filter(&scope, now),
                Filter::Eq(field::SCOPE.into(), Value::from(key.as_str())),
            ]);
            let queries: Vec<Query> = members
                .iter()
                .map(|&i| {
                    let v = probes
                        .get_mut(i)
                        .and_then(|p| p.vector.take())
                        .ok_or_else(|| malformed(self))?;
                    Ok(Query::new(v, neighbours + 1)
                        .filter(exact.clone())
                        .ef((neighbours + 1) * 2)
                        .without_metadata())
                })
                .collect::<Result<_>>()?;
            for (&i, hits) in members
                .iter()
                .zip(self.cols.memories.search_batch(&queries)?)
            {
                if let Some(slot) = results.get_mut(i) {
                    *slot = hits;
                }
            }
        }

        // Nodes 0..probes are the probes; neighbours that are not probes (older memories,
        // in an incremental run) are read once and appended.
        let probe_ids: Vec<String> = probes.iter().map(|p| external_id_string(&p.id)).collect();
        let mut index: HashMap<String, usize> = probe_ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.clone(), i))
            .collect();
        let mut others: Vec<Node> = Vec::new();
        let mut numbers: HashMap<usize, std::collections::BTreeSet<String>> = HashMap::new();
        let mut edges = Vec::new();
        for (a, hits) in results.into_iter().enumerate() {
            let (Some(pid), Some(probe)) = (probe_ids.get(a), probes.get(a)) else {
                continue;
            };
            let pscope = str_field(&probe.metadata, field::SCOPE);
            for h in hits {
                report.pairs_compared += usize::from(external_id_matches(&h.id, pid).not());
                // Most neighbours are below the threshold: look at the rest only.
                if h.score < rule.threshold || external_id_matches(&h.id, pid) {
                    continue;
                }
                let hid = external_id_string(&h.id);
                let b = match index.get(&hid) {
                    Some(&b) => b,
                    None => {
                        let Some(doc) = self.cols.memories.get(&h.id)?.map(|e| e.metadata) else {
                            continue;
                        };
                        others.push(Node {
                            id: hid.clone(),
                            doc,
                        });
                        let b = probes.len() + others.len() - 1;
                        index.insert(hid, b);
                        b
                    }
                };
                let doc = match b.checked_sub(probes.len()) {
                    None => probes.get(b).map(|p| &p.metadata),
                    Some(j) => others.get(j).map(|n| &n.doc),
                }
                .ok_or_else(|| malformed(self))?;
                if str_field(doc, field::SCOPE) != pscope {
                    return Err(Error::ScopeViolation {
                        expected: pscope.unwrap_or_default().to_string(),
                        found: str_field(doc, field::SCOPE).unwrap_or_default().to_string(),
                    });
                }
                let duplicate = !rule.number_guard || {
                    let text = |d: &Document| {
                        crate::grouping::numbers(str_field(d, field::TEXT).unwrap_or_default())
                    };
                    let na = numbers
                        .entry(a)
                        .or_insert_with(|| text(&probe.metadata))
                        .clone();
                    let nb = numbers.entry(b).or_insert_with(|| text(doc));
                    na == *nb
                };
                if duplicate {
                    edges.push((a, b));
                }
            }
        }
        let total = probes.len() + others.len();
        let groups = components(total, edges);
        let node = |i: usize| -> Option<(&str, &Document)> {
            match i.checked_sub(probes.len()) {
                None => Some((probe_ids.get(i)?.as_str(), &probes.get(i)?.metadata)),
                Some(j) => others.get(j).map(|n| (n.id.as_str(), &n.doc)),
            }
        };
        let name = self.cols.memories.name().to_string();
        let mut batch = WriteBatch::new();
        let mut in_batch = 0;
        for group in groups {
            let mut members: Vec<Memory> = group
                .iter()
                .filter_map(|&i| node(i))
                .map(|(id, doc)| Memory::from_doc(id.to_string(), doc, None, &name))
                .collect::<Result<_>>()?;
            members.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.seq.cmp(&b.seq)));
            let Some(survivor) = members.last().cloned() else {
                continue;
            };
            let merged: Vec<String> = members
                .iter()
                .filter(|m| m.id != survivor.id)
                .map(|m| m.id.clone())
                .collect();
            report.groups.push(MergedGroup {
                survivor: survivor.id.clone(),
                merged: merged.clone(),
            });
            if opts.dry_run {
                continue;
            }
            self.merge_group(&mut batch, &members, &survivor, opts, now)?;
            in_batch += 1;
            if in_batch == GROUPS_PER_BATCH {
                self.db.write(std::mem::take(&mut batch))?;
                in_batch = 0;
            }
        }
        if !opts.dry_run {
            if max_seq > watermark {
                batch.upsert(
                    self.cols.state.name(),
                    Record::document(watermark_id.as_str(), Document::new())
                        .with("seq", Value::Int(max_seq)),
                );
            }
            self.db.write(batch)?;
        }
        Ok(report)
    }

    /// Add the writes of one merge to `batch`.
    fn merge_group(
        &self,
        batch: &mut WriteBatch,
        members: &[Memory],
        survivor: &Memory,
        opts: &ConsolidateOptions,
        now: Timestamp,
    ) -> Result<()> {
        let name = self.cols.memories.name();
        let mut merged_from: BTreeSet<String> = BTreeSet::new();
        let mut importance = 0.0f32;
        let mut access = 0u64;
        let mut last_access: Option<Timestamp> = None;
        let mut first = survivor.first_stated_at;
        for m in members {
            importance = importance.max(m.importance);
            access += u64::from(m.access_count);
            last_access = last_access.max(m.last_accessed_at);
            first = first.min(m.first_stated_at).min(m.created_at);
            merged_from.extend(m.merged_from.iter().cloned());
            if m.id != survivor.id {
                merged_from.insert(m.id.clone());
            }
        }
        let mut patch = Document::new();
        patch.insert(
            field::IMPORTANCE.into(),
            Value::Float(f64::from(importance)),
        );
        patch.insert(
            field::ACCESS_COUNT.into(),
            Value::Int(i64::try_from(access).unwrap_or(i64::MAX)),
        );
        if let Some(l) = last_access {
            patch.insert(field::LAST_ACCESSED_AT.into(), ts(l));
        }
        patch.insert(field::FIRST_STATED_AT.into(), ts(first));
        patch.insert(
            field::MERGED_FROM.into(),
            Value::List(merged_from.iter().cloned().collect()),
        );
        let custom_text = opts.merge.as_ref().map(|f| f(members));
        match (custom_text, &self.embedder) {
            (Some(text), Some(embedder)) if text != survivor.text => {
                crate::record::validate_text(&text, "merged text")?;
                let vector =
                    crate::embedder::embed_checked(embedder.as_ref(), &[&text], self.config.dim)?
                        .pop()
                        .ok_or(Error::NoEmbedder)?;
                let entry = self
                    .cols
                    .memories
                    .get(&ExternalId::from(survivor.id.as_str()))?
                    .ok_or_else(|| Error::NotFound(format!("memory {:?}", survivor.id)))?;
                let mut doc = entry.metadata;
                doc.extend(patch);
                doc.insert(field::TEXT.into(), text.into());
                batch.upsert(
                    name,
                    Record::new(survivor.id.as_str(), vector).metadata(doc),
                );
            }
            (Some(text), _) => {
                crate::record::validate_text(&text, "merged text")?;
                patch.insert(field::TEXT.into(), text.into());
                batch.patch(name, survivor.id.as_str(), patch);
            }
            (None, _) => {
                batch.patch(name, survivor.id.as_str(), patch);
            }
        }
        // Everything absorbed now points at the survivor (also what earlier merges absorbed,
        // unless it was forgotten since).
        for id in &merged_from {
            let direct = members.iter().any(|m| &m.id == id);
            if !direct
                && self
                    .cols
                    .memories
                    .get(&ExternalId::from(id.as_str()))?
                    .is_none()
            {
                continue;
            }
            let mut p = Document::new();
            p.insert(field::STATUS.into(), MemoryStatus::MERGED.into());
            p.insert(field::MERGED_INTO.into(), id_value(&survivor.id));
            batch.patch(name, id.as_str(), p);
        }
        for m in members.iter().filter(|m| m.id != survivor.id) {
            batch.upsert(
                self.cols.events.name(),
                event_record(&m.scope, "merge", &m.id, Some(&survivor.id), now, None),
            );
        }
        Ok(())
    }
}

fn malformed(store: &MemoryStore) -> Error {
    Error::Malformed {
        collection: store.cols.memories.name().to_string(),
        id: String::new(),
        what: "a memory without scope or vector".into(),
    }
}

/// Whether an engine id is this layer's id `id`.
fn external_id_matches(e: &ExternalId, id: &str) -> bool {
    match e {
        ExternalId::Str(s) => s == id,
        ExternalId::U64(v) => v.to_string() == id,
    }
}

fn id_value(id: &str) -> Value {
    Value::from(id)
}
