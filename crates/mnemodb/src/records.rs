//! What goes in and comes out: [`Record`], [`Entry`], [`Query`], [`SearchHit`],
//! [`WriteBatch`].
use mnemodb_metastore::{Document, ExternalId, Filter, Value};

/// One record to upsert: an id, a vector (empty for document-only collections) and
/// metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// External id (`u64` or string).
    pub id: ExternalId,
    /// The vector; its dimension must be the collection's.
    pub vector: Vec<f32>,
    /// Metadata; indexed fields must have an indexable type.
    pub metadata: Document,
}

impl Record {
    /// A record with a vector and no metadata.
    pub fn new(id: impl Into<ExternalId>, vector: Vec<f32>) -> Self {
        Record {
            id: id.into(),
            vector,
            metadata: Document::new(),
        }
    }

    /// A metadata-only record, for document collections.
    pub fn document(id: impl Into<ExternalId>, metadata: Document) -> Self {
        Record {
            id: id.into(),
            vector: Vec::new(),
            metadata,
        }
    }

    /// With one more metadata field.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.metadata.insert(key.to_string(), value.into());
        self
    }

    /// With this metadata.
    pub fn metadata(mut self, metadata: Document) -> Self {
        self.metadata = metadata;
        self
    }
}

/// A stored record as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// External id.
    pub id: ExternalId,
    /// The stored vector (cosine vectors are stored normalised), when asked for and the
    /// collection has vectors.
    pub vector: Option<Vec<f32>>,
    /// Metadata.
    pub metadata: Document,
}

/// A nearest-neighbour query.
#[derive(Debug, Clone)]
pub struct Query {
    /// The query vector (the collection's dimension, finite).
    pub vector: Vec<f32>,
    /// How many results (≥ 1; more than the collection holds returns them all).
    pub k: usize,
    /// Only records matching this filter.
    pub filter: Option<Filter>,
    /// HNSW candidate list size (`None`: the collection's default `ef_search`).
    pub ef: Option<usize>,
    /// Return each hit's metadata (default `true`).
    pub include_metadata: bool,
    /// Return only these top-level metadata fields (`None`, the default: all of them).
    /// Cheaper when the caller needs a few fields of many hits.
    pub fields: Option<Vec<String>>,
    /// Return each hit's stored vector (default `false`).
    pub include_vectors: bool,
}

impl Query {
    /// Top `k` of `vector`, with metadata.
    pub fn new(vector: Vec<f32>, k: usize) -> Self {
        Query {
            vector,
            k,
            filter: None,
            ef: None,
            include_metadata: true,
            fields: None,
            include_vectors: false,
        }
    }

    /// Only records matching `filter`.
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filter = Some(filter);
        self
    }

    /// With this HNSW `ef`.
    pub fn ef(mut self, ef: usize) -> Self {
        self.ef = Some(ef);
        self
    }

    /// Also return vectors.
    pub fn with_vectors(mut self) -> Self {
        self.include_vectors = true;
        self
    }

    /// Do not return metadata.
    pub fn without_metadata(mut self) -> Self {
        self.include_metadata = false;
        self
    }

    /// Return only these top-level metadata fields (absent ones are left out).
    pub fn fields<S: Into<String>>(mut self, fields: impl IntoIterator<Item = S>) -> Self {
        self.fields = Some(fields.into_iter().map(Into::into).collect());
        self
    }
}

/// One search result.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    /// External id.
    pub id: ExternalId,
    /// Distance under the metric (smaller is closer): cosine `1 - cos`, inner product
    /// `-dot`, L2 squared.
    pub distance: f32,
    /// Similarity (larger is closer): cosine similarity, dot product, or `-distance`
    /// for L2.
    pub score: f32,
    /// Metadata, unless the query declined it.
    pub metadata: Option<Document>,
    /// The stored vector, when the query asked for it.
    pub vector: Option<Vec<f32>>,
}

/// One operation of a [`WriteBatch`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum BatchOp {
    Upsert(Record),
    Delete(ExternalId),
    Patch(ExternalId, Document),
}

/// Writes to one or several collections that commit as one WAL record: after any crash,
/// all of them or none. Within a batch, later operations on the same id win.
#[derive(Debug, Clone, Default)]
pub struct WriteBatch {
    pub(crate) ops: Vec<(String, BatchOp)>,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Insert or replace `record` in `collection`.
    pub fn upsert(&mut self, collection: &str, record: Record) -> &mut Self {
        self.ops
            .push((collection.to_string(), BatchOp::Upsert(record)));
        self
    }

    /// Delete `id` from `collection` (a no-op when absent).
    pub fn delete(&mut self, collection: &str, id: impl Into<ExternalId>) -> &mut Self {
        self.ops
            .push((collection.to_string(), BatchOp::Delete(id.into())));
        self
    }

    /// Merge `patch` into the metadata of `id` (JSON merge patch: `Null` removes a key);
    /// the vector is kept. Fails the batch when `id` does not exist.
    pub fn patch(
        &mut self,
        collection: &str,
        id: impl Into<ExternalId>,
        patch: Document,
    ) -> &mut Self {
        self.ops
            .push((collection.to_string(), BatchOp::Patch(id.into(), patch)));
        self
    }

    /// Operations in the batch.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}
