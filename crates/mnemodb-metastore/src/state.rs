//! [`MetaState`]: the in-memory metadata of one collection, its id maps and secondary
//! indexes, built from persistent (structurally shared) data structures.
use std::ops::Deref;
use std::sync::Arc;

use roaring::RoaringBitmap;

use crate::bitmap::ChunkedBitmap;
use crate::codec::{MAX_DOCUMENT_BYTES, encode_document};
use crate::error::{Error, Result};
use crate::external_id::ExternalId;
use crate::field_index::FieldIndexData;
use crate::op::MetaOp;
use crate::schema::Schema;
use crate::value::{Document, Value, resolve};

/// A WAL log sequence number (the same numbering as `mnemodb_wal::Lsn`).
pub type Lsn = u64;

/// Internal ids are below this (so `u32::MAX` can bracket index ranges).
pub const MAX_INTERNAL_ID: u32 = u32::MAX - 1;

/// One live document with its external id.
#[derive(Debug)]
pub(crate) struct Record {
    pub(crate) external: ExternalId,
    pub(crate) doc: Document,
}

/// The metadata of one collection in memory: documents by dense internal id, the
/// external ↔ internal id maps, and the secondary indexes of its [`Schema`].
///
/// It owns no file and no log: [`MetaStore`](crate::MetaStore) drives it from its own WAL,
/// and the engine drives it from the engine's WAL (whose records carry vectors and
/// [`MetaOp`] bytes together). Feed it ops in LSN order with [`apply`](Self::apply) and
/// [`set_lsn`](Self::set_lsn); [`encode_checkpoint`](Self::encode_checkpoint) /
/// [`decode_checkpoint`](Self::decode_checkpoint) persist it.
///
/// **Cloning is O(1)** (every part is a persistent map or vector, `imbl`), and a clone
/// shares all structure: a write after a clone copies only the O(log n) paths it touches
/// and one ≤ 8 KiB bitmap container per index bitmap it changes. Snapshots are clones.
///
/// **Internal ids** are handed out densely from 0 and never reused, not even after a
/// delete: an id in a bitmap a reader holds can never come to mean another document, and
/// index files built by the engine stay valid. A replaced (`Put` over an existing id) or
/// patched document keeps its internal id. After `u32::MAX - 1` ids the state refuses new
/// documents ([`Error::IdSpaceExhausted`]).
#[derive(Debug, Clone)]
pub struct MetaState {
    pub(crate) schema: Arc<Schema>,
    /// Slot `i` holds the document of internal id `i` (`None` once deleted).
    pub(crate) slots: imbl::Vector<Option<Arc<Record>>>,
    by_u64: imbl::HashMap<u64, u32>,
    by_str: imbl::HashMap<Arc<str>, u32>,
    pub(crate) live: ChunkedBitmap,
    /// Declared fields and their indexes, in schema order.
    pub(crate) indexes: Arc<Vec<(String, FieldIndexData)>>,
    /// Top-level field name → number of live documents that have it.
    pub(crate) field_counts: imbl::OrdMap<Arc<str>, u64>,
    lsn: Lsn,
}

impl MetaState {
    /// An empty state indexing per `schema`.
    pub fn new(schema: Schema) -> Result<Self> {
        schema.validate()?;
        let indexes = schema
            .fields()
            .map(|(name, spec)| (name.to_string(), FieldIndexData::new(spec)))
            .collect();
        Ok(MetaState {
            schema: Arc::new(schema),
            slots: imbl::Vector::new(),
            by_u64: imbl::HashMap::new(),
            by_str: imbl::HashMap::new(),
            live: ChunkedBitmap::default(),
            indexes: Arc::new(indexes),
            field_counts: imbl::OrdMap::new(),
            lsn: 0,
        })
    }

    /// The schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// LSN of the last op applied (as set by [`set_lsn`](Self::set_lsn)); 0 when none.
    pub fn lsn(&self) -> Lsn {
        self.lsn
    }

    /// Record that every op up to `lsn` is applied.
    pub fn set_lsn(&mut self, lsn: Lsn) {
        debug_assert!(lsn >= self.lsn, "LSNs go forward");
        self.lsn = lsn;
    }

    /// Number of live documents.
    pub fn len(&self) -> u64 {
        self.live.len()
    }

    /// Whether there is no live document.
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// The internal id the next new document gets (= how many ids were ever handed out).
    pub fn next_internal_id(&self) -> u32 {
        // Bounded by MAX_INTERNAL_ID.
        self.slots.len() as u32
    }

    /// The internal id of `id`, when it is live.
    pub fn internal_id(&self, id: &ExternalId) -> Option<u32> {
        match id {
            ExternalId::U64(v) => self.by_u64.get(v).copied(),
            ExternalId::Str(s) => self.by_str.get(s.as_str()).copied(),
        }
    }

    /// The document of `id`.
    pub fn get(&self, id: &ExternalId) -> Option<&Document> {
        self.record(self.internal_id(id)?).map(|r| &r.doc)
    }

    /// The external id and document of internal id `internal`, when live.
    pub fn get_by_internal(&self, internal: u32) -> Option<(&ExternalId, &Document)> {
        self.record(internal).map(|r| (&r.external, &r.doc))
    }

    /// The external id of internal id `internal`, when live.
    pub fn external_of(&self, internal: u32) -> Option<&ExternalId> {
        self.record(internal).map(|r| &r.external)
    }

    pub(crate) fn record(&self, internal: u32) -> Option<&Record> {
        self.slots.get(internal as usize)?.as_deref()
    }

    /// Live documents in internal-id order, starting at internal id `from`.
    pub fn scan_from(&self, from: u32) -> impl Iterator<Item = (u32, &ExternalId, &Document)> + '_ {
        self.slots
            .iter()
            .enumerate()
            .skip(from as usize)
            .filter_map(|(i, slot)| slot.as_deref().map(|r| (i as u32, &r.external, &r.doc)))
    }

    /// Every live document in internal-id order.
    pub fn scan(&self) -> impl Iterator<Item = (u32, &ExternalId, &Document)> + '_ {
        self.scan_from(0)
    }

    /// The internal ids of every live document.
    pub fn live_ids(&self) -> RoaringBitmap {
        self.live.to_roaring()
    }

    /// Whether a filter field is known: declared in the schema, or its top-level name is
    /// present in a live document.
    pub(crate) fn field_known(&self, path: &str) -> bool {
        self.schema.field(path).is_some() || self.field_present(path)
    }

    /// Whether any live document has the top-level field of `path`.
    pub(crate) fn field_present(&self, path: &str) -> bool {
        let top = path.split('.').next().unwrap_or(path);
        self.field_counts.get(top).is_some_and(|n| *n > 0)
    }

    pub(crate) fn index(&self, path: &str) -> Option<&FieldIndexData> {
        self.indexes
            .iter()
            .find(|(name, _)| name == path)
            .map(|(_, idx)| idx)
    }

    /// Apply one op (the caller has encoded it, so its limits hold; see [`MetaOp`]).
    /// Returns the internal id written (`None` for the delete of an absent id). On error
    /// nothing changed.
    pub fn apply(&mut self, op: &MetaOp) -> Result<Option<u32>> {
        match op {
            MetaOp::Put { id, doc } => self.put(id, doc.clone()).map(Some),
            MetaOp::Patch { id, patch } => {
                let internal = self
                    .internal_id(id)
                    .ok_or_else(|| Error::NotFound { id: id.clone() })?;
                let old = self
                    .record(internal)
                    .map(|r| r.doc.clone())
                    .unwrap_or_default();
                let mut merged = old;
                merge_patch(&mut merged, patch);
                // A merge can grow a document past the limit: check before changing anything.
                let size = encode_document(&merged)?.len();
                debug_assert!(size <= MAX_DOCUMENT_BYTES);
                self.put(id, merged).map(Some)
            }
            MetaOp::Delete { id } => {
                let Some(internal) = self.internal_id(id) else {
                    return Ok(None);
                };
                let old = self.slots.set(internal as usize, None);
                if let Some(old) = old {
                    self.unindex(internal, Some(&old.doc), None);
                }
                match id {
                    ExternalId::U64(v) => {
                        self.by_u64.remove(v);
                    }
                    ExternalId::Str(s) => {
                        self.by_str.remove(s.as_str());
                    }
                }
                self.live.remove(internal);
                Ok(Some(internal))
            }
        }
    }

    /// Hand out empty (never live) internal ids up to `n` (checkpoint loads).
    pub(crate) fn pad_ids(&mut self, n: u32) {
        while self.slots.len() < n as usize {
            self.slots.push_back(None);
        }
    }

    pub(crate) fn put(&mut self, id: &ExternalId, doc: Document) -> Result<u32> {
        id.validate()?;
        let existing = self.internal_id(id);
        let internal = match existing {
            Some(i) => i,
            None => {
                let next = self.next_internal_id();
                if next >= MAX_INTERNAL_ID {
                    return Err(Error::IdSpaceExhausted {
                        max: MAX_INTERNAL_ID,
                    });
                }
                next
            }
        };
        let record = Arc::new(Record {
            external: id.clone(),
            doc,
        });
        match existing {
            Some(i) => {
                let old = self.slots.set(i as usize, Some(Arc::clone(&record)));
                self.unindex(i, old.as_ref().map(|o| &o.doc), Some(&record.doc));
            }
            None => {
                self.slots.push_back(Some(Arc::clone(&record)));
                match id {
                    ExternalId::U64(v) => {
                        self.by_u64.insert(*v, internal);
                    }
                    ExternalId::Str(s) => {
                        self.by_str.insert(Arc::from(s.as_str()), internal);
                    }
                }
                self.live.insert(internal);
                self.unindex(internal, None, Some(&record.doc));
            }
        }
        Ok(internal)
    }

    /// Move document `id`'s index entries from `old` to `new` (either may be absent);
    /// fields whose value did not change are not touched.
    fn unindex(&mut self, id: u32, old: Option<&Document>, new: Option<&Document>) {
        let changed = self.indexes.iter().any(|(path, _)| {
            let o = old.and_then(|d| resolve(d, path));
            let n = new.and_then(|d| resolve(d, path));
            !matches!((o, n), (Some(a), Some(b)) if a.same(b)) && (o.is_some() || n.is_some())
        });
        if changed {
            let indexes = Arc::make_mut(&mut self.indexes);
            for (path, idx) in indexes.iter_mut() {
                let o = old.and_then(|d| resolve(d, path));
                let n = new.and_then(|d| resolve(d, path));
                if let (Some(a), Some(b)) = (o, n)
                    && a.same(b)
                {
                    continue;
                }
                if let Some(a) = o {
                    idx.remove(id, a);
                }
                if let Some(b) = n {
                    idx.add(id, b);
                }
            }
        }
        // Top-level field counts.
        if let Some(old) = old {
            for key in old.keys() {
                if new.is_some_and(|n| n.contains_key(key)) {
                    continue;
                }
                let gone = match self.field_counts.get_mut(key.as_str()) {
                    Some(n) => {
                        *n = n.saturating_sub(1);
                        *n == 0
                    }
                    None => false,
                };
                if gone {
                    self.field_counts.remove(key.as_str());
                }
            }
        }
        if let Some(new) = new {
            for key in new.keys() {
                if old.is_some_and(|o| o.contains_key(key)) {
                    continue;
                }
                match self.field_counts.get_mut(key.as_str()) {
                    Some(n) => *n += 1,
                    None => {
                        self.field_counts.insert(Arc::from(key.as_str()), 1);
                    }
                }
            }
        }
    }

    /// A read-only snapshot (O(1)).
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            state: self.clone(),
        }
    }
}

/// JSON Merge Patch (RFC 7386) of `patch` into `target`.
pub(crate) fn merge_patch(target: &mut Document, patch: &Document) {
    for (k, v) in patch {
        match v {
            Value::Null => {
                target.remove(k);
            }
            Value::Map(pm) => match target.get_mut(k) {
                Some(Value::Map(tm)) => merge_patch(tm, pm),
                _ => {
                    let mut m = Document::new();
                    merge_patch(&mut m, pm);
                    target.insert(k.clone(), Value::Map(m));
                }
            },
            other => {
                target.insert(k.clone(), other.clone());
            }
        }
    }
}

/// An immutable view of a [`MetaState`] at one LSN: every read method of `MetaState`
/// (through `Deref`), never blocked by writers. Cheap to create and to hold.
#[derive(Debug, Clone)]
pub struct Snapshot {
    state: MetaState,
}

impl Snapshot {
    /// The state this snapshot shows (to start a new writable state from it).
    pub fn to_state(&self) -> MetaState {
        self.state.clone()
    }
}

impl Deref for Snapshot {
    type Target = MetaState;
    fn deref(&self) -> &MetaState {
        &self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(pairs: &[(&str, Value)]) -> Document {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn put_patch_delete_and_ids() {
        let mut s = MetaState::new(Schema::new().keyword("user").range("at")).unwrap();
        let a = ExternalId::from("a");
        let b = ExternalId::U64(9);
        assert_eq!(
            s.apply(&MetaOp::Put {
                id: a.clone(),
                doc: doc(&[("user", "u1".into()), ("at", Value::Int(5))])
            })
            .unwrap(),
            Some(0)
        );
        assert_eq!(
            s.apply(&MetaOp::Put {
                id: b.clone(),
                doc: doc(&[("user", "u2".into())])
            })
            .unwrap(),
            Some(1)
        );
        let snap = s.snapshot();
        // Replace keeps the internal id.
        assert_eq!(
            s.apply(&MetaOp::Put {
                id: a.clone(),
                doc: doc(&[("user", "u3".into())])
            })
            .unwrap(),
            Some(0)
        );
        s.apply(&MetaOp::Patch {
            id: b.clone(),
            patch: doc(&[("user", Value::Null), ("x", Value::Bool(true))]),
        })
        .unwrap();
        assert_eq!(s.get(&b), Some(&doc(&[("x", Value::Bool(true))])));
        assert!(matches!(
            s.apply(&MetaOp::Patch {
                id: ExternalId::U64(1),
                patch: Document::new()
            }),
            Err(Error::NotFound { .. })
        ));
        assert_eq!(s.apply(&MetaOp::Delete { id: a.clone() }).unwrap(), Some(0));
        assert_eq!(s.apply(&MetaOp::Delete { id: a.clone() }).unwrap(), None);
        // Ids are not reused.
        assert_eq!(
            s.apply(&MetaOp::Put {
                id: a.clone(),
                doc: Document::new()
            })
            .unwrap(),
            Some(2)
        );
        assert_eq!(s.len(), 2);
        assert_eq!(s.external_of(2), Some(&a));
        assert_eq!(s.external_of(0), None);
        let ids: Vec<u32> = s.scan().map(|(i, _, _)| i).collect();
        assert_eq!(ids, [1, 2]);
        // The snapshot is unaffected.
        assert_eq!(snap.len(), 2);
        assert_eq!(snap.get(&a).unwrap().get("user"), Some(&Value::from("u1")));
        assert_eq!(
            snap.filter(&"user = \"u1\"".parse().unwrap())
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            s.filter(&"user = \"u1\"".parse().unwrap()).unwrap().len(),
            0
        );
        assert!(!s.field_present("user"));
        assert!(s.field_present("x"));
    }

    #[test]
    fn merge_patch_is_rfc7386() {
        let mut target = doc(&[
            (
                "a",
                Value::Map(doc(&[("b", Value::Int(1)), ("c", Value::Int(2))])),
            ),
            ("d", Value::Int(3)),
        ]);
        merge_patch(
            &mut target,
            &doc(&[
                (
                    "a",
                    Value::Map(doc(&[("b", Value::Null), ("e", Value::Int(4))])),
                ),
                (
                    "d",
                    Value::Map(doc(&[("z", Value::Null), ("y", Value::Int(5))])),
                ),
            ]),
        );
        assert_eq!(
            target,
            doc(&[
                (
                    "a",
                    Value::Map(doc(&[("c", Value::Int(2)), ("e", Value::Int(4))]))
                ),
                ("d", Value::Map(doc(&[("y", Value::Int(5))]))),
            ])
        );
    }
}
