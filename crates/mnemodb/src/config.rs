//! Collection configuration: name, dimension, metric, index and indexed metadata fields.
use mnemodb_ann::hnsw::HnswParams;
use mnemodb_distance::Metric;
use mnemodb_metastore::Schema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The vector index of a collection's sealed segments.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum IndexKind {
    /// HNSW graph per segment (default): `m`, `ef_construction`, default `ef_search`.
    Hnsw(HnswParams),
    /// No index: exact scan (small collections, or when exact results are required).
    Flat,
}

impl Default for IndexKind {
    /// HNSW with [`IndexKind::engine_hnsw`]'s parameters.
    fn default() -> Self {
        IndexKind::Hnsw(IndexKind::engine_hnsw())
    }
}

impl IndexKind {
    /// The engine's HNSW parameters: `mnemodb-ann`'s defaults (M = 16,
    /// ef_construction = 200) **with SQ8 codes** (`sq8: true`). The index crate's own
    /// default is the memory-lean walk on the f32 rows; the engine adds the codes (`dim`
    /// bytes per vector) because every search of a sealed segment uses them: graph walks
    /// ≈ 1.2–1.4× faster, and exact scans of a filter's allowed rows (every small scope of
    /// the memory layer) score the codes and read only the f32 rows a proven bound cannot
    /// rule out.
    pub fn engine_hnsw() -> HnswParams {
        HnswParams {
            sq8: true,
            ..HnswParams::default()
        }
    }
}

/// How to create a collection. See [`crate::Database::create_collection`].
#[derive(Debug, Clone)]
pub struct CollectionConfig {
    /// Name: 1–64 characters of `[A-Za-z0-9_.-]`.
    pub name: String,
    /// Vector dimension; 0 for a document-only collection (metadata records, no vectors).
    pub dim: usize,
    /// Distance metric.
    pub metric: Metric,
    /// Index of sealed segments.
    pub index: IndexKind,
    /// Indexed metadata fields (filters on other fields still work, by scanning).
    pub schema: Schema,
}

impl CollectionConfig {
    /// A vector collection with an HNSW index and no indexed fields.
    pub fn new(name: impl Into<String>, dim: usize, metric: Metric) -> Self {
        CollectionConfig {
            name: name.into(),
            dim,
            metric,
            index: IndexKind::default(),
            schema: Schema::new(),
        }
    }

    /// A document-only collection (dimension 0): metadata records such as facts, history
    /// entries or conversation turns, written in the same atomic batches as vectors.
    pub fn documents(name: impl Into<String>) -> Self {
        Self::new(name, 0, Metric::Cosine).index(IndexKind::Flat)
    }

    /// With this index.
    pub fn index(mut self, index: IndexKind) -> Self {
        self.index = index;
        self
    }

    /// With an equality (keyword) index on `field`.
    pub fn keyword(mut self, field: &str) -> Self {
        self.schema = self.schema.keyword(field);
        self
    }

    /// With an order (range) index on `field`.
    pub fn range(mut self, field: &str) -> Self {
        self.schema = self.schema.range(field);
        self
    }

    /// Whether records carry vectors.
    pub fn has_vectors(&self) -> bool {
        self.dim > 0
    }

    pub(crate) fn validate(&self) -> Result<()> {
        validate_name(&self.name)?;
        if self.dim > mnemodb_format::MAX_DIM as usize {
            return Err(Error::InvalidInput(format!(
                "dimension {} is above the maximum of {}",
                self.dim,
                mnemodb_format::MAX_DIM
            )));
        }
        if let IndexKind::Hnsw(p) = &self.index {
            p.validate()?;
        }
        self.schema.validate()?;
        Ok(())
    }

    pub(crate) fn spec(&self) -> CollectionSpec {
        let (index, m, m0, ef_construction, ef_search, sq8) = match self.index {
            IndexKind::Hnsw(p) => (
                "hnsw".to_string(),
                p.m,
                p.m0,
                p.ef_construction,
                p.ef_search,
                p.sq8,
            ),
            IndexKind::Flat => ("flat".to_string(), 0, 0, 0, 0, false),
        };
        CollectionSpec {
            name: self.name.clone(),
            dim: self.dim,
            metric: self.metric.to_string(),
            index,
            m,
            m0,
            ef_construction,
            ef_search,
            sq8,
            keyword: self
                .schema
                .fields()
                .filter(|(_, f)| f.keyword)
                .map(|(n, _)| n.to_string())
                .collect(),
            range: self
                .schema
                .fields()
                .filter(|(_, f)| f.range)
                .map(|(n, _)| n.to_string())
                .collect(),
        }
    }
}

/// Collection names are also used in file names and the CLI: keep them plain.
pub(crate) fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!(
            "collection name `{name}`: use 1-64 characters of A-Z a-z 0-9 _ - . (not starting with .)"
        )))
    }
}

fn codes_by_default() -> bool {
    true
}

/// The persisted form of a [`CollectionConfig`] (manifest and WAL).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CollectionSpec {
    pub name: String,
    pub dim: usize,
    pub metric: String,
    pub index: String,
    pub m: usize,
    pub m0: usize,
    pub ef_construction: usize,
    pub ef_search: usize,
    /// SQ8 codes in the segment indexes. Absent in manifests written before it was
    /// persisted: those collections were built with codes.
    #[serde(default = "codes_by_default")]
    pub sq8: bool,
    pub keyword: Vec<String>,
    pub range: Vec<String>,
}

impl CollectionSpec {
    pub(crate) fn to_config(&self) -> std::result::Result<CollectionConfig, String> {
        let metric: Metric = self
            .metric
            .parse()
            .map_err(|_| format!("unknown metric `{}`", self.metric))?;
        let index = match self.index.as_str() {
            "hnsw" => {
                let mut p = HnswParams::with_m(self.m.max(2));
                p.m0 = self.m0;
                p.ef_construction = self.ef_construction;
                p.ef_search = self.ef_search;
                p.sq8 = self.sq8;
                p.validate().map_err(|e| e.to_string())?;
                IndexKind::Hnsw(p)
            }
            "flat" => IndexKind::Flat,
            other => return Err(format!("unknown index kind `{other}`")),
        };
        let mut schema = Schema::new();
        for f in &self.keyword {
            schema = schema.keyword(f.as_str());
        }
        for f in &self.range {
            schema = schema.range(f.as_str());
        }
        Ok(CollectionConfig {
            name: self.name.clone(),
            dim: self.dim,
            metric,
            index,
            schema,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_keep_the_sq8_choice_and_older_specs_had_codes() {
        let lean = HnswParams {
            sq8: false,
            ..IndexKind::engine_hnsw()
        };
        let config = CollectionConfig::new("m", 8, Metric::Cosine).index(IndexKind::Hnsw(lean));
        let json = serde_json::to_string(&config.spec()).unwrap_or_default();
        let back: CollectionSpec = serde_json::from_str(&json).expect("spec round trip");
        assert_eq!(back.to_config().map(|c| c.index), Ok(IndexKind::Hnsw(lean)));
        // A manifest written before `sq8` was persisted: its indexes were built with codes.
        let old = json.replace(",\"sq8\":false", "");
        assert_ne!(old, json);
        let old: CollectionSpec = serde_json::from_str(&old).expect("old spec");
        assert!(matches!(old.to_config().map(|c| c.index), Ok(IndexKind::Hnsw(p)) if p.sq8));
    }
}
