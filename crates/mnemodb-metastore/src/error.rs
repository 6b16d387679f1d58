//! The crate's one error type.
use std::path::PathBuf;

use crate::external_id::ExternalId;
use crate::parser::ParseError;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the metastore. Each message is one actionable line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file's bytes are damaged, of another kind or of an unreadable version (names the
    /// file and the byte offset).
    #[error(transparent)]
    Format(#[from] mnemodb_format::FormatError),
    /// The file system failed (names the path and the operation).
    #[error(transparent)]
    Io(#[from] mnemodb_io::Error),
    /// The write-ahead log failed or refused.
    #[error("write-ahead log: {0}")]
    Wal(#[from] mnemodb_wal::Error),
    /// A WAL record holds bytes that are not a metadata operation (or one that cannot apply).
    #[error("WAL record at LSN {lsn}: corrupted at byte {offset} of its payload: {what}")]
    CorruptRecord {
        /// The record's log sequence number.
        lsn: u64,
        /// Byte offset inside the payload.
        offset: u64,
        /// What was wrong.
        what: String,
    },
    /// Recovery cannot produce a consistent state (e.g. the newest checkpoint is damaged and
    /// the WAL no longer holds what an older checkpoint would need).
    #[error("{}: cannot recover: {what}", dir.display())]
    Unrecoverable {
        /// The store's directory.
        dir: PathBuf,
        /// Why, and what was found.
        what: String,
    },
    /// Bytes handed to [`decode_document`](crate::decode_document) are not a document.
    #[error("invalid document encoding at byte {offset}: {what}")]
    InvalidDocument {
        /// Byte offset of the failure.
        offset: u64,
        /// What was wrong.
        what: String,
    },
    /// An encoded document exceeds the size limit.
    #[error(
        "document is {size} bytes encoded, more than the {max}-byte limit; store large content elsewhere and keep a reference"
    )]
    DocumentTooLarge {
        /// Encoded size.
        size: usize,
        /// The limit, [`MAX_DOCUMENT_BYTES`](crate::MAX_DOCUMENT_BYTES).
        max: usize,
    },
    /// A document nests maps deeper than the limit.
    #[error("document nests maps {depth} levels deep, more than the limit of {max}")]
    DocumentTooDeep {
        /// Depth reached (the limit plus one: encoding stops there).
        depth: usize,
        /// The limit, [`MAX_NESTING_DEPTH`](crate::MAX_NESTING_DEPTH).
        max: usize,
    },
    /// An external id string is longer than the limit.
    #[error("external id is {len} bytes, more than the {max}-byte limit")]
    ExternalIdTooLong {
        /// Its length.
        len: usize,
        /// The limit, [`MAX_EXTERNAL_ID_BYTES`](crate::MAX_EXTERNAL_ID_BYTES).
        max: usize,
    },
    /// The operation needs a document that does not exist.
    #[error("no document with id {id}")]
    NotFound {
        /// The id asked for.
        id: ExternalId,
    },
    /// Every internal id has been handed out (ids are never reused).
    #[error("internal id space exhausted ({max} ids handed out); rebuild the collection")]
    IdSpaceExhausted {
        /// How many ids exist.
        max: u32,
    },
    /// A filter names a field that is neither declared in the schema nor present in any
    /// live document, and `FilterOptions::strict` is set.
    #[error("filter names unknown field `{field}` (not in the schema and in no document)")]
    UnknownField {
        /// The field path.
        field: String,
    },
    /// The filter text does not parse.
    #[error("filter syntax: {0}")]
    Parse(#[from] ParseError),
    /// The schema is invalid.
    #[error("schema field `{field}`: {what}")]
    InvalidSchema {
        /// The field.
        field: String,
        /// What is wrong.
        what: String,
    },
    /// An earlier write failed in a way that leaves its durability unknown (a failed
    /// fsync): the store refuses writes until it is reopened, which recovers from the WAL.
    #[error("store is poisoned by an earlier failure ({cause}); reopen it to recover")]
    Poisoned {
        /// The first failure.
        cause: String,
    },
}
