//! [`Collection`]: a handle on one collection of a [`Database`].
use std::sync::Arc;

use mnemodb_distance::Metric;
use mnemodb_metastore::{Document, ExternalId, Filter, FilterOptions};
use rayon::prelude::*;
use roaring::RoaringBitmap;

use crate::db::Database;
use crate::error::{Error, Result};
use crate::records::{Entry, Query, Record, SearchHit, WriteBatch};
use crate::search::{Plan, candidates};
use crate::state::CollectionState;

/// A cheap handle on one collection. Every call works on the newest published snapshot.
#[derive(Clone)]
pub struct Collection {
    db: Database,
    name: String,
    id: u32,
    dim: usize,
    metric: Metric,
}

impl std::fmt::Debug for Collection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collection")
            .field("name", &self.name)
            .field("dim", &self.dim)
            .field("metric", &self.metric)
            .finish()
    }
}

impl Collection {
    pub(crate) fn new(db: Database, cs: &CollectionState) -> Self {
        Collection {
            db,
            name: cs.config.name.clone(),
            id: cs.id,
            dim: cs.config.dim,
            metric: cs.config.metric,
        }
    }

    /// Name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Vector dimension (0 for document collections).
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Metric.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// The database.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// The newest snapshot of the collection; [`Error::Corrupted`] once verification found
    /// damage in one of its files.
    pub(crate) fn snapshot(&self) -> Result<Arc<CollectionState>> {
        let cs = self.snapshot_unchecked()?;
        cs.check_intact()?;
        Ok(cs)
    }

    /// The newest snapshot, damaged or not (metadata-only views: `count`, `stats`).
    fn snapshot_unchecked(&self) -> Result<Arc<CollectionState>> {
        let state = self.db.inner.state.load();
        match state.collections.get(&self.name) {
            Some(cs) if cs.id == self.id => Ok(Arc::clone(cs)),
            _ => Err(Error::UnknownCollection(self.name.clone())),
        }
    }

    /// Insert or replace records (one atomic WAL record). Within the batch, the last
    /// record of an id wins. Everything is validated before anything is written.
    pub fn upsert(&self, records: Vec<Record>) -> Result<u64> {
        let mut batch = WriteBatch::new();
        for r in records {
            batch.upsert(&self.name, r);
        }
        self.db.write(batch)
    }

    /// Delete ids (absent ids are ignored).
    pub fn delete(&self, ids: &[ExternalId]) -> Result<u64> {
        let mut batch = WriteBatch::new();
        for id in ids {
            batch.delete(&self.name, id.clone());
        }
        self.db.write(batch)
    }

    /// Merge `patch` into the metadata of `id` (a `Null` value removes a key); the vector
    /// is kept. Fails when `id` does not exist.
    pub fn patch(&self, id: impl Into<ExternalId>, patch: Document) -> Result<u64> {
        let mut batch = WriteBatch::new();
        batch.patch(&self.name, id, patch);
        self.db.write(batch)
    }

    /// The record of `id`, with its stored vector (cosine vectors are stored normalised).
    pub fn get(&self, id: &ExternalId) -> Result<Option<Entry>> {
        let cs = self.snapshot()?;
        Ok(entry(&cs, id, true))
    }

    /// Live records (from the metadata, so also of a collection with a damaged file).
    pub fn count(&self) -> u64 {
        self.snapshot_unchecked()
            .map(|cs| cs.meta.len())
            .unwrap_or(0)
    }

    /// Live records matching `filter`.
    pub fn count_where(&self, filter: &Filter) -> Result<u64> {
        let cs = self.snapshot()?;
        Ok(allowed(&cs, filter)?.len())
    }

    /// Every live record matching `filter` (all when `None`), in insertion order of their
    /// current version.
    pub fn scan(&self, filter: Option<&Filter>, include_vectors: bool) -> Result<Vec<Entry>> {
        let cs = self.snapshot()?;
        let ids: Vec<u32> = match filter {
            Some(f) => allowed(&cs, f)?.iter().collect(),
            None => cs.meta.scan().map(|(i, _, _)| i).collect(),
        };
        Ok(ids
            .into_iter()
            .filter_map(|i| {
                let (ext, doc) = cs.meta.get_by_internal(i)?;
                Some(Entry {
                    id: ext.clone(),
                    vector: if include_vectors {
                        cs.vector_of(i).map(<[f32]>::to_vec)
                    } else {
                        None
                    },
                    metadata: doc.clone(),
                })
            })
            .collect())
    }

    /// Nearest neighbours of `query.vector`, best first (ties by id). Selective filters
    /// are answered exactly; others by graph search that admits only matching records.
    pub fn search(&self, query: &Query) -> Result<Vec<SearchHit>> {
        let cs = self.snapshot()?;
        search_in(&cs, query, &self.db.inner.search_pool)
    }

    /// Several queries, in parallel on the engine's pool, all on one snapshot.
    pub fn search_batch(&self, queries: &[Query]) -> Result<Vec<Vec<SearchHit>>> {
        let cs = self.snapshot()?;
        let pool = &self.db.inner.search_pool;
        // Queries sharing one filter (the common case: one scope) evaluate it once.
        let shared = match queries.split_first() {
            Some((first, rest))
                if first.filter.is_some() && rest.iter().all(|q| q.filter == first.filter) =>
            {
                first.filter.as_ref().map(|f| allowed(&cs, f)).transpose()?
            }
            _ => None,
        };
        pool.install(|| {
            queries
                .par_iter()
                .map(|q| search_with(&cs, q, shared.as_ref(), pool))
                .collect()
        })
    }

    /// Delete every record matching `filter` and make the deletion physical: compact the
    /// affected segments, checkpoint, and drop the WAL that held them, so the erased
    /// vectors and metadata are in no file any more. Returns how many records were erased.
    pub fn erase_where(&self, filter: &Filter) -> Result<u64> {
        let ids: Vec<ExternalId> = self
            .scan(Some(filter), false)?
            .into_iter()
            .map(|e| e.id)
            .collect();
        if !ids.is_empty() {
            self.delete(&ids)?;
        }
        crate::maintenance::purge(&self.db.inner)?;
        Ok(ids.len() as u64)
    }

    /// Counts and files (also of a collection with a damaged file: the damage is in
    /// [`crate::SegmentStats::damage`]).
    pub fn stats(&self) -> Result<crate::CollectionStats> {
        let cs = self.snapshot_unchecked()?;
        Ok(crate::stats::collection_stats(&self.db.inner, &cs))
    }
}

fn allowed(cs: &CollectionState, filter: &Filter) -> Result<RoaringBitmap> {
    cs.meta
        .filter_with(filter, FilterOptions { strict: true })
        .map_err(Error::from)
}

fn entry(cs: &CollectionState, id: &ExternalId, with_vector: bool) -> Option<Entry> {
    let internal = cs.meta.internal_id(id)?;
    let doc = cs.meta.get(id)?.clone();
    Some(Entry {
        id: id.clone(),
        vector: if with_vector {
            cs.vector_of(internal).map(<[f32]>::to_vec)
        } else {
            None
        },
        metadata: doc,
    })
}

pub(crate) fn search_in(
    cs: &CollectionState,
    query: &Query,
    pool: &rayon::ThreadPool,
) -> Result<Vec<SearchHit>> {
    search_with(cs, query, None, pool)
}

/// Search with the filter's bitmap already evaluated (`allow`), or evaluate it here.
fn search_with(
    cs: &CollectionState,
    query: &Query,
    allow: Option<&RoaringBitmap>,
    pool: &rayon::ThreadPool,
) -> Result<Vec<SearchHit>> {
    if !cs.config.has_vectors() {
        return Err(Error::InvalidInput(format!(
            "collection `{}` holds documents only: use scan with a filter",
            cs.config.name
        )));
    }
    if query.k == 0 {
        return Err(Error::InvalidInput("k must be at least 1".into()));
    }
    if query.ef == Some(0) {
        return Err(Error::InvalidInput("ef must be at least 1".into()));
    }
    mnemodb_distance::validate_vector(&query.vector, cs.config.dim)?;
    let evaluated = match allow {
        Some(_) => None,
        None => query.filter.as_ref().map(|f| allowed(cs, f)).transpose()?,
    };
    let filter = allow.or(evaluated.as_ref());
    let live = cs.meta.len() as usize;
    let k = query.k.min(live.max(1));
    let mut prepared = query.vector.clone();
    cs.config.metric.prepare(&mut prepared);
    let default_ef = match cs.config.index {
        crate::IndexKind::Hnsw(p) => p.ef_search,
        crate::IndexKind::Flat => k,
    };
    let plan = Plan {
        raw: &query.vector,
        prepared: &prepared,
        k,
        ef: query.ef.unwrap_or(default_ef).max(k),
        allow: filter,
    };
    let mut hits: Vec<(ExternalId, f32, u32)> = candidates(cs, &plan, pool)?
        .into_iter()
        .filter_map(|h| {
            let internal = h.id as u32;
            cs.meta
                .external_id_of(internal)
                .map(|e| (e, h.distance, internal))
        })
        .collect();
    hits.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    hits.dedup_by(|a, b| a.2 == b.2);
    hits.truncate(k);
    Ok(hits
        .into_iter()
        .map(|(id, distance, internal)| SearchHit {
            score: cs.config.metric.similarity(distance),
            metadata: if query.include_metadata {
                match &query.fields {
                    None => cs.meta.get_by_internal(internal).map(|(_, d)| d.clone()),
                    Some(fields) => cs.meta.project_internal(internal, fields).map(|(_, d)| d),
                }
            } else {
                None
            },
            vector: if query.include_vectors {
                cs.vector_of(internal).map(<[f32]>::to_vec)
            } else {
                None
            },
            id,
            distance,
        })
        .collect())
}
