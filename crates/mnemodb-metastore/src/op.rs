//! Metadata operations and their encoding: the payload of a WAL record.
//!
//! ```text
//! op       := version:u8 (= 1) kind:u8 external_id [document]
//! kind     := 1 put (document follows) | 2 patch (document follows) | 3 delete
//! external_id := 0:u8 u64 | 1:u8 len:u32 UTF-8 bytes (≤ 4096)
//! document := see `codec` (its own version byte first)
//! ```
//!
//! The engine embeds these bytes in its own WAL records (next to vectors); the metastore's
//! own WAL stores exactly one op per record.
#![deny(clippy::indexing_slicing, clippy::panic)]

use std::path::Path;

use mnemodb_format::FormatError;

use crate::codec::{Decoder, encode_document_into, read_document};
use crate::error::{Error, Result};
use crate::external_id::ExternalId;
use crate::value::Document;

/// The version byte every encoded op starts with.
pub const OP_VERSION: u8 = 1;

const KIND_PUT: u8 = 1;
const KIND_PATCH: u8 = 2;
const KIND_DELETE: u8 = 3;

/// One change to the metastore.
#[derive(Debug, Clone, PartialEq)]
pub enum MetaOp {
    /// Insert or replace the whole document of `id`. A replaced document keeps its
    /// internal id.
    Put {
        /// The document's external id.
        id: ExternalId,
        /// Its new content.
        doc: Document,
    },
    /// Merge `patch` into the existing document of `id` (JSON Merge Patch, RFC 7386): each
    /// key is set to the patch's value, a `Null` in the patch **removes** the key, and a
    /// map merges into a map recursively. Fails with `NotFound` when `id` does not exist.
    Patch {
        /// The document's external id.
        id: ExternalId,
        /// Keys to set (or, with `Null`, remove).
        patch: Document,
    },
    /// Remove the document of `id` (a no-op when absent). Its internal id is never reused.
    Delete {
        /// The document's external id.
        id: ExternalId,
    },
}

impl MetaOp {
    /// The external id the op is about.
    pub fn id(&self) -> &ExternalId {
        match self {
            MetaOp::Put { id, .. } | MetaOp::Patch { id, .. } | MetaOp::Delete { id } => id,
        }
    }

    /// Encode (validates the id length and the document limits).
    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(64);
        self.encode_into(&mut out)?;
        Ok(out)
    }

    /// Append the encoding to `out` (nothing is appended on error).
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<()> {
        self.id().validate()?;
        let start = out.len();
        out.push(OP_VERSION);
        let (kind, doc) = match self {
            MetaOp::Put { doc, .. } => (KIND_PUT, Some(doc)),
            MetaOp::Patch { patch, .. } => (KIND_PATCH, Some(patch)),
            MetaOp::Delete { .. } => (KIND_DELETE, None),
        };
        out.push(kind);
        self.id().encode_into(out);
        if let Some(doc) = doc
            && let Err(e) = encode_document_into(doc, out)
        {
            out.truncate(start);
            return Err(e);
        }
        Ok(())
    }

    /// Decode an op; the bytes must hold exactly one. Errors are
    /// [`Error::InvalidDocument`] with the byte offset.
    pub fn decode(bytes: &[u8]) -> Result<MetaOp> {
        Self::decode_inner(bytes).map_err(|e| match e {
            FormatError::Corrupted { offset, what, .. } => Error::InvalidDocument { offset, what },
            other => Error::Format(other),
        })
    }

    /// Decode the payload of the WAL record at `lsn` ([`Error::CorruptRecord`] on failure).
    pub(crate) fn decode_record(bytes: &[u8], lsn: u64) -> Result<MetaOp> {
        Self::decode_inner(bytes).map_err(|e| match e {
            FormatError::Corrupted { offset, what, .. } => {
                Error::CorruptRecord { lsn, offset, what }
            }
            other => Error::Format(other),
        })
    }

    fn decode_inner(bytes: &[u8]) -> mnemodb_format::Result<MetaOp> {
        let mut d = Decoder::new(bytes, 0, Path::new("op"));
        let version = d.u8("op version")?;
        if version != OP_VERSION {
            return Err(d.error_at(
                0,
                format!("unsupported op version {version} (this build reads {OP_VERSION})"),
            ));
        }
        let kind_at = d.offset();
        let kind = d.u8("op kind")?;
        let id = ExternalId::decode(&mut d)?;
        let op = match kind {
            KIND_PUT => MetaOp::Put {
                id,
                doc: read_document(&mut d)?,
            },
            KIND_PATCH => MetaOp::Patch {
                id,
                patch: read_document(&mut d)?,
            },
            KIND_DELETE => MetaOp::Delete { id },
            k => return Err(d.error_at(kind_at, format!("unknown op kind {k}"))),
        };
        d.finish("op")?;
        Ok(op)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    #[test]
    fn round_trip_and_refusals() {
        let ops = [
            MetaOp::Put {
                id: ExternalId::U64(7),
                doc: Document::from([("k".to_string(), Value::Int(1))]),
            },
            MetaOp::Patch {
                id: ExternalId::Str("m-1".into()),
                patch: Document::from([("k".to_string(), Value::Null)]),
            },
            MetaOp::Delete {
                id: ExternalId::Str(String::new()),
            },
        ];
        for op in &ops {
            let bytes = op.encode().unwrap();
            assert_eq!(&MetaOp::decode(&bytes).unwrap(), op);
            for len in 0..bytes.len() {
                assert!(MetaOp::decode(&bytes[..len]).is_err());
            }
            let err = MetaOp::decode_record(&bytes[..bytes.len() - 1], 42).unwrap_err();
            assert!(matches!(err, Error::CorruptRecord { lsn: 42, .. }), "{err}");
        }
        let long = MetaOp::Delete {
            id: ExternalId::Str("x".repeat(5000)),
        };
        assert!(matches!(
            long.encode(),
            Err(Error::ExternalIdTooLong { .. })
        ));
    }
}
