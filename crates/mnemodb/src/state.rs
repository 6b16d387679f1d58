//! In-memory state: one immutable [`DbState`] per published snapshot, built from
//! structurally shared parts so a write copies only what it changes.
use std::collections::BTreeMap;
use std::sync::Arc;

use mnemodb_ann::hnsw::LiveHnsw;
use mnemodb_metastore::{MetaOp, MetaState, Value};
use roaring::RoaringBitmap;

use crate::config::{CollectionConfig, IndexKind};
use crate::error::{Error, Result};
use crate::parts::{GrowingPart, SealedPart};
use crate::payload::WalOp;

/// One collection in one snapshot.
#[derive(Debug, Clone)]
pub(crate) struct CollectionState {
    pub id: u32,
    pub config: Arc<CollectionConfig>,
    pub meta: MetaState,
    /// Sealed segments in id order.
    pub sealed: Vec<SealedPart>,
    /// Growing segments frozen for sealing, oldest first.
    pub frozen: Vec<GrowingPart>,
    /// The growing segment (`None` for document collections).
    pub growing: Option<GrowingPart>,
    /// Every WAL record up to this LSN is in the collection's files.
    pub applied_lsn: u64,
    /// LSN of the last record that touched the collection.
    pub touched_lsn: u64,
    /// Metadata checkpoint at `applied_lsn`.
    pub checkpoint: Option<crate::manifest::FileRef>,
}

/// Where a row lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RowRef {
    Sealed(usize, u32),
    Frozen(usize, u32),
    Growing(u32),
}

impl CollectionState {
    pub(crate) fn new(id: u32, config: CollectionConfig, lsn: u64) -> Result<Self> {
        let meta = MetaState::new(config.schema.clone())?;
        let growing = config
            .has_vectors()
            .then(|| new_growing(&config, 0))
            .transpose()?;
        Ok(CollectionState {
            id,
            config: Arc::new(config),
            meta,
            sealed: Vec::new(),
            frozen: Vec::new(),
            growing,
            applied_lsn: lsn.saturating_sub(1),
            touched_lsn: lsn,
            checkpoint: None,
        })
    }

    /// Where internal id `id`'s row is.
    /// [`Error::Corrupted`] when verification (the background scrub,
    /// `Database::verify`) found damage in one of the collection's sealed files: every
    /// operation on it fails rather than serve or build on damaged bytes.
    pub(crate) fn check_intact(&self) -> Result<()> {
        match self.sealed.iter().find_map(|p| p.seg.check.damage()) {
            Some(damage) => Err(damage.to_error()),
            None => Ok(()),
        }
    }

    pub(crate) fn locate(&self, id: u32) -> Option<RowRef> {
        if let Some(g) = &self.growing
            && let Some(r) = g.row_of(id)
        {
            return Some(RowRef::Growing(r));
        }
        for (i, f) in self.frozen.iter().enumerate() {
            if let Some(r) = f.row_of(id) {
                return Some(RowRef::Frozen(i, r));
            }
        }
        let i = self.sealed.partition_point(|s| s.seg.entry.max_id < id);
        let s = self.sealed.get(i)?;
        s.seg.row_of(id).map(|r| RowRef::Sealed(i, r))
    }

    /// The stored vector of internal id `id`.
    pub(crate) fn vector_of(&self, id: u32) -> Option<&[f32]> {
        match self.locate(id)? {
            RowRef::Growing(r) => self.growing.as_ref()?.vector(r),
            RowRef::Frozen(i, r) => self.frozen.get(i)?.vector(r),
            RowRef::Sealed(i, r) => self.sealed.get(i)?.seg.vector(r),
        }
    }

    fn tombstone(&mut self, id: u32) {
        let Some(at) = self.locate(id) else { return };
        let bitmap = match at {
            RowRef::Growing(_) => self.growing.as_mut().map(|g| &mut g.tombstones),
            RowRef::Frozen(i, _) => self.frozen.get_mut(i).map(|g| &mut g.tombstones),
            RowRef::Sealed(i, _) => self.sealed.get_mut(i).map(|s| &mut s.tombstones),
        };
        let row = match at {
            RowRef::Growing(r) | RowRef::Frozen(_, r) | RowRef::Sealed(_, r) => r,
        };
        if let Some(b) = bitmap {
            Arc::make_mut(b).insert(row);
        }
    }

    /// Apply one write (already validated, or replayed from the log). A put of a vector
    /// retires the id's old row and appends a new one.
    pub(crate) fn apply_write(
        &mut self,
        vector: Option<&[f32]>,
        op: &MetaOp,
        lsn: u64,
    ) -> Result<()> {
        self.touched_lsn = lsn;
        match (op, vector) {
            (MetaOp::Put { id, .. }, Some(v)) if self.config.has_vectors() => {
                if let Some(old) = self.meta.internal_id(id) {
                    self.tombstone(old);
                    self.meta.apply(&MetaOp::Delete { id: id.clone() })?;
                }
                let mut prepared = v.to_vec();
                self.config.metric.prepare(&mut prepared);
                let growing = self.growing.as_mut().ok_or_else(|| {
                    Error::Internal("vector collection without growing segment".into())
                })?;
                let expected = growing.end_id();
                let got = self.meta.apply(op)?;
                if got != Some(expected) {
                    return Err(Error::Internal(format!(
                        "collection `{}`: new row got internal id {got:?}, expected {expected}",
                        self.config.name
                    )));
                }
                growing.rows.push_back(prepared.into());
            }
            (MetaOp::Put { .. }, _) if self.config.has_vectors() => {
                return Err(Error::InvalidInput(format!(
                    "collection `{}` stores vectors: an upsert needs one",
                    self.config.name
                )));
            }
            (MetaOp::Delete { id }, _) => {
                if let Some(old) = self.meta.internal_id(id)
                    && self.config.has_vectors()
                {
                    self.tombstone(old);
                }
                self.meta.apply(op)?;
            }
            _ => {
                self.meta.apply(op)?;
            }
        }
        self.meta.set_lsn(lsn);
        Ok(())
    }

    /// Rows deleted across all parts.
    pub(crate) fn deleted_rows(&self) -> u64 {
        let sealed: u64 = self.sealed.iter().map(|s| s.tombstones.len()).sum();
        let growing: u64 = self
            .frozen
            .iter()
            .chain(self.growing.iter())
            .map(|g| g.tombstones.len())
            .sum();
        sealed + growing
    }
}

pub(crate) fn new_growing(config: &CollectionConfig, base: u32) -> Result<GrowingPart> {
    let graph = match config.index {
        IndexKind::Hnsw(p) => Some(LiveHnsw::new(config.metric, config.dim, p)?),
        IndexKind::Flat => None,
    };
    Ok(GrowingPart::new(base, graph))
}

/// Tombstones of a sealed segment derived from liveness: rows whose internal id is not live.
pub(crate) fn derive_tombstones(
    seg: &crate::parts::SealedSegment,
    meta: &MetaState,
) -> RoaringBitmap {
    tombstones_from_live(seg, &meta.live_ids())
}

/// [`derive_tombstones`] from the collection's live internal ids: the ids of the
/// segment's range that are not live (bitmap algebra), then their rows, so the work is
/// per deleted row, not per row (a contiguous id column needs no lookup at all).
pub(crate) fn tombstones_from_live(
    seg: &crate::parts::SealedSegment,
    live: &RoaringBitmap,
) -> RoaringBitmap {
    let (min, max) = (seg.entry.min_id, seg.entry.max_id);
    if seg.rows() == 0 || min > max {
        return RoaringBitmap::new();
    }
    let mut dead = RoaringBitmap::new();
    dead.insert_range(min..=max);
    dead -= live;
    if seg.contiguous && min == 0 {
        return dead;
    }
    let mut out = RoaringBitmap::new();
    for id in &dead {
        // Ids of the range missing from a compacted segment have no row.
        if let Some(row) = seg.row_of(id) {
            out.insert(row);
        }
    }
    out
}

/// Everything a snapshot holds.
#[derive(Debug, Clone, Default)]
pub(crate) struct DbState {
    pub collections: BTreeMap<String, Arc<CollectionState>>,
    /// LSN of the last record applied.
    pub lsn: u64,
}

impl DbState {
    pub(crate) fn by_id(&self, id: u32) -> Option<&Arc<CollectionState>> {
        self.collections.values().find(|c| c.id == id)
    }

    /// Apply one decoded WAL record. Collections created by the record are added; writes
    /// to collections whose files already cover `lsn` are skipped (replay after a seal).
    pub(crate) fn apply_record(&mut self, lsn: u64, ops: &[WalOp]) -> Result<()> {
        for op in ops {
            match op {
                WalOp::Create { id, spec } => {
                    if self.by_id(*id).is_some() {
                        continue;
                    }
                    let config = spec.to_config().map_err(|e| {
                        Error::corrupted(
                            format!("wal record {lsn}"),
                            0,
                            format!("collection spec: {e}"),
                        )
                    })?;
                    if self.collections.contains_key(&config.name) {
                        // Replay only (the write path refuses taken names): the name belongs
                        // to a later incarnation in the manifest, so this one was dropped
                        // before that manifest was written. Skip it; its writes then find
                        // no collection and are skipped too.
                        continue;
                    }
                    let state = CollectionState::new(*id, config, lsn)?;
                    self.collections
                        .insert(state.config.name.clone(), Arc::new(state));
                }
                WalOp::Drop { id } => {
                    // A collection whose files already cover `lsn` is a later incarnation
                    // that reused the id: the drop was of an earlier one.
                    if let Some(name) = self
                        .by_id(*id)
                        .filter(|c| c.applied_lsn < lsn)
                        .map(|c| c.config.name.clone())
                    {
                        self.collections.remove(&name);
                    }
                }
                WalOp::Write {
                    collection,
                    vector,
                    op,
                } => {
                    // Every write follows its collection's creation in the log. When replay
                    // (from the oldest LSN any collection of the manifest needs) finds no
                    // collection, it was dropped before the manifest was written: skip it.
                    let Some(name) = self.by_id(*collection).map(|c| c.config.name.clone()) else {
                        continue;
                    };
                    let Some(entry) = self.collections.get_mut(&name) else {
                        continue;
                    };
                    if entry.applied_lsn >= lsn {
                        continue;
                    }
                    Arc::make_mut(entry).apply_write(vector.as_deref(), op, lsn)?;
                }
            }
        }
        self.lsn = self.lsn.max(lsn);
        Ok(())
    }
}

/// Check a metadata value against the indexed field it lands in.
pub(crate) fn check_indexed_types(
    config: &CollectionConfig,
    doc: &mnemodb_metastore::Document,
) -> Result<()> {
    for (field, spec) in config.schema.fields() {
        let Some(value) = lookup(doc, field) else {
            continue;
        };
        let ok = match value {
            Value::Null => true,
            Value::Int(_) | Value::Float(_) | Value::Timestamp(_) => true,
            Value::Bool(_) | Value::String(_) | Value::List(_) => !spec.range,
            Value::Map(_) => false,
        };
        if !ok {
            let expected = if spec.range {
                "int, float or timestamp (range index)"
            } else {
                "string, int, float, bool, timestamp or list of strings (keyword index)"
            };
            return Err(Error::InvalidInput(format!(
                "metadata field `{field}` is indexed as {expected}, got {}",
                value.type_name()
            )));
        }
    }
    Ok(())
}

fn lookup<'a>(doc: &'a mnemodb_metastore::Document, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut cur = doc.get(parts.next()?)?;
    for p in parts {
        match cur {
            Value::Map(m) => cur = m.get(p)?,
            _ => return None,
        }
    }
    Some(cur)
}
