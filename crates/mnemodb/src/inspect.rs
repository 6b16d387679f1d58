//! Read-only views of the engine's own file formats, for tools (`mnemodb inspect`,
//! `mnemodb verify`): the same decoders the engine uses, with the same checks, returning
//! plain data. Every byte is treated as hostile; nothing here panics on any input.
use std::path::Path;

use mnemodb_metastore::MetaOp;

use crate::error::Result;
use crate::manifest;
use crate::payload::{self, WalOp};

/// A decoded, validated manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestView {
    /// Sequence number.
    pub seq: u64,
    /// The body as JSON (see docs/FORMAT.md).
    pub body: serde_json::Value,
    /// Every file it references.
    pub files: Vec<ManifestFile>,
    /// Replay starts at this LSN.
    pub wal_start_lsn: u64,
}

/// A file a manifest references, with what it must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestFile {
    /// Collection name.
    pub collection: String,
    /// `vectors`, `index` or `checkpoint`.
    pub role: &'static str,
    /// Segment generation (vectors and index files).
    pub generation: Option<u64>,
    /// Path relative to the database directory.
    pub path: String,
    /// Exact length in bytes.
    pub len: u64,
    /// Fingerprint: segment content CRC, CRC32 of an index header, CRC32 of a checkpoint.
    pub crc: u32,
}

/// Decode and validate a manifest file's bytes (`file` names it in errors).
pub fn decode_manifest(bytes: &[u8], file: &Path) -> Result<ManifestView> {
    let (seq, body) = manifest::decode(bytes, file)?;
    let mut files = Vec::new();
    for c in &body.collections {
        if let Some(ck) = &c.checkpoint {
            files.push(view(&c.spec.name, "checkpoint", None, ck));
        }
        for s in &c.segments {
            files.push(view(
                &c.spec.name,
                "vectors",
                Some(s.generation),
                &s.vectors,
            ));
            if let Some(i) = &s.index {
                files.push(view(&c.spec.name, "index", Some(s.generation), i));
            }
        }
    }
    Ok(ManifestView {
        seq,
        body: serde_json::to_value(&body).unwrap_or(serde_json::Value::Null),
        files,
        wal_start_lsn: body.wal_start_lsn,
    })
}

fn view(
    collection: &str,
    role: &'static str,
    generation: Option<u64>,
    f: &manifest::FileRef,
) -> ManifestFile {
    ManifestFile {
        collection: collection.to_string(),
        role,
        generation,
        path: f.path.clone(),
        len: f.len,
        crc: f.crc,
    }
}

/// The sequence number in a manifest file name (`MANIFEST-` + 20 digits).
pub fn manifest_seq(name: &str) -> Option<u64> {
    manifest::parse_name(name)
}

/// One operation of an engine WAL record.
#[derive(Debug, Clone, PartialEq)]
pub enum PayloadOp {
    /// Create collection `collection` with this spec (JSON, as in the manifest).
    Create {
        /// Collection id.
        collection: u32,
        /// Its configuration.
        spec: serde_json::Value,
    },
    /// Drop collection `collection`.
    Drop {
        /// Collection id.
        collection: u32,
    },
    /// A metadata op, with the vector of a put.
    Write {
        /// Collection id.
        collection: u32,
        /// The vector as written.
        vector: Option<Vec<f32>>,
        /// The metadata op.
        op: MetaOp,
    },
}

/// Decode an engine WAL record payload (`lsn` names it in errors).
pub fn decode_payload(bytes: &[u8], lsn: u64) -> Result<Vec<PayloadOp>> {
    Ok(payload::decode(bytes, lsn)?
        .into_iter()
        .map(|op| match op {
            WalOp::Create { id, spec } => PayloadOp::Create {
                collection: id,
                spec: serde_json::to_value(&spec).unwrap_or(serde_json::Value::Null),
            },
            WalOp::Drop { id } => PayloadOp::Drop { collection: id },
            WalOp::Write {
                collection,
                vector,
                op,
            } => PayloadOp::Write {
                collection,
                vector,
                op,
            },
        })
        .collect())
}
