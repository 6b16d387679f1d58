//! The engine's own files for `inspect` and `verify`: thin views over
//! `mnemodb::inspect` (the engine's decoders, with the engine's checks), shaped for
//! printing.
use std::path::{Path, PathBuf};

use mnemodb::inspect::{self, PayloadOp};
use mnemodb_metastore::MetaOp;
use serde_json::{Value as Json, json};

use crate::error::Result;
use crate::files;
use crate::json::{document_to_json, id_to_json};

/// A decoded manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The file.
    pub path: PathBuf,
    /// Sequence number (from the header).
    pub seq: u64,
    /// The JSON body.
    pub body: Json,
    refs: Vec<inspect::ManifestFile>,
}

/// A file the manifest references.
pub type FileRef = inspect::ManifestFile;

/// The manifests of database `dir`, oldest first.
pub fn manifests(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut out: Vec<(u64, PathBuf)> = files::list_dir(dir)?
        .into_iter()
        .filter_map(|p| {
            let seq = inspect::manifest_seq(p.file_name()?.to_str()?)?;
            Some((seq, p))
        })
        .collect();
    out.sort();
    Ok(out)
}

/// Decode and validate a manifest file's bytes (the engine's decoder, every check).
pub fn decode_manifest(bytes: &[u8], path: &Path) -> Result<Manifest> {
    let view = inspect::decode_manifest(bytes, path)?;
    if let Some(name_seq) = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(inspect::manifest_seq)
        && name_seq != view.seq
    {
        return Err(mnemodb::Error::Corrupted {
            file: path.to_path_buf(),
            offset: 16,
            what: format!(
                "sequence number {} differs from the file name's {name_seq}",
                view.seq
            ),
        }
        .into());
    }
    Ok(Manifest {
        path: path.to_path_buf(),
        seq: view.seq,
        body: view.body,
        refs: view.files,
    })
}

impl Manifest {
    /// The newest manifest of database `dir` (`None` when there is none).
    pub fn newest(dir: &Path) -> Result<Option<Manifest>> {
        let Some((_, path)) = manifests(dir)?.pop() else {
            return Ok(None);
        };
        let bytes = files::read(&path)?;
        decode_manifest(&bytes, &path).map(Some)
    }

    /// The collections array (empty when absent).
    pub fn collections(&self) -> &[Json] {
        self.body
            .get("collections")
            .and_then(Json::as_array)
            .map_or(&[], Vec::as_slice)
    }

    /// Every file the manifest references.
    pub fn file_refs(&self) -> Vec<FileRef> {
        self.refs.clone()
    }
}

/// Whether a referenced path stays inside the database directory (the engine's decoder
/// already refuses manifests naming any other path).
pub fn plain_relative(path: &str) -> bool {
    !path.is_empty()
        && Path::new(path)
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
}

/// Decode an engine WAL payload into (human line, JSON) per operation; `Err` when the
/// bytes are not one (the caller may try other decoders).
pub fn decode_payload(bytes: &[u8]) -> std::result::Result<Vec<(String, Json)>, mnemodb::Error> {
    Ok(inspect::decode_payload(bytes, 0)?
        .into_iter()
        .map(|op| match op {
            PayloadOp::Create { collection, spec } => (
                format!("create collection c{collection} {spec}"),
                json!({"op": "create", "collection": collection, "spec": spec}),
            ),
            PayloadOp::Drop { collection } => (
                format!("drop collection c{collection}"),
                json!({"op": "drop", "collection": collection}),
            ),
            PayloadOp::Write {
                collection,
                vector,
                op,
            } => {
                let dim = vector.as_ref().map_or(0, Vec::len);
                let (text, j) = describe_meta_op(&op);
                let note = if dim > 0 {
                    format!(" + {dim}-d vector")
                } else {
                    String::new()
                };
                (
                    format!("c{collection}: {text}{note}"),
                    json!({"op": "write", "collection": collection, "dim": dim, "meta": j}),
                )
            }
        })
        .collect())
}

/// A metastore op for humans and as JSON.
pub fn describe_meta_op(op: &MetaOp) -> (String, Json) {
    use crate::json::document_compact;
    use crate::output::clip;
    match op {
        MetaOp::Put { id, doc } => (
            format!("put {id} {}", clip(&document_compact(doc), 60)),
            json!({"op": "put", "id": id_to_json(id), "doc": document_to_json(doc)}),
        ),
        MetaOp::Patch { id, patch } => (
            format!("patch {id} {}", clip(&document_compact(patch), 60)),
            json!({"op": "patch", "id": id_to_json(id), "patch": document_to_json(patch)}),
        ),
        MetaOp::Delete { id } => (
            format!("delete {id}"),
            json!({"op": "delete", "id": id_to_json(id)}),
        ),
    }
}
