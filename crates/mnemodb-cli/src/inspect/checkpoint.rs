//! `inspect checkpoint`: a metastore checkpoint's header and documents.
use std::path::PathBuf;

use clap::Args;
use mnemodb_format::CheckpointHeader;
use mnemodb_metastore::{MetaState, Schema};
use serde_json::json;

use crate::error::Result;
use crate::files;
use crate::json::{document_compact, document_to_json, id_to_json};
use crate::output::{self, Format, Table, clip};

#[derive(Debug, Args)]
pub(super) struct CheckpointArgs {
    /// The checkpoint file (`meta/checkpoint-<lsn>`).
    path: PathBuf,
    /// Documents to show (0 = all).
    #[arg(long, default_value_t = 10)]
    limit: usize,
}

pub(super) fn run(a: CheckpointArgs, format: Format) -> Result<()> {
    let bytes = files::read(&a.path)?;
    let h = CheckpointHeader::decode(&bytes, &a.path, bytes.len() as u64)?;
    let (state, info) = MetaState::decode_checkpoint(&bytes, &a.path, Schema::new())?;
    let limit = if a.limit == 0 { usize::MAX } else { a.limit };
    let docs: Vec<_> = state.scan().take(limit).collect();
    match format {
        Format::Json => output::print_json(&json!({
            "file": a.path.display().to_string(), "version": h.prefix.version,
            "lsn": info.lsn, "documents": info.document_count,
            "next_internal_id": info.next_internal_id,
            "schema_fingerprint": format!("{:#018x}", info.schema_fingerprint),
            "file_len": info.file_len,
            "shown": docs.iter().map(|(internal, id, doc)| json!({
                "internal_id": internal, "id": id_to_json(id), "doc": document_to_json(doc),
            })).collect::<Vec<_>>(),
        })),
        Format::Human => {
            let mut text = format!("checkpoint {}\n", a.path.display());
            text.push_str(&output::fields(&[
                (
                    "format",
                    format!("metastore checkpoint v{}", h.prefix.version),
                ),
                ("lsn", info.lsn.to_string()),
                ("documents", info.document_count.to_string()),
                ("next internal id", info.next_internal_id.to_string()),
                (
                    "schema fingerprint",
                    format!("{:#018x}", info.schema_fingerprint),
                ),
                (
                    "file size",
                    format!("{} ({} bytes)", output::bytes(info.file_len), info.file_len),
                ),
                ("checksums", "header and body ok".into()),
            ]));
            if !docs.is_empty() {
                text.push('\n');
                let mut t = Table::new(&[">internal", "id", "document"]);
                for (internal, id, doc) in &docs {
                    t.row(vec![
                        internal.to_string(),
                        crate::json::id_text(id),
                        clip(&document_compact(doc), 100),
                    ]);
                }
                text.push_str(&t.render());
                if (info.document_count as usize) > docs.len() {
                    text.push_str(&format!(
                        "… {} more documents (--limit 0 shows all)\n",
                        info.document_count as usize - docs.len()
                    ));
                }
            }
            output::print(&text)
        }
    }
}
