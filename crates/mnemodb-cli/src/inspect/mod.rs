//! `mnemodb inspect wal | segment | index | checkpoint | manifest`: headers and records of
//! one file, human-readable or JSON. Files are read into memory, never mapped.
use clap::{Args, Subcommand};

use crate::error::Result;
use crate::output::Format;

mod checkpoint;
mod index;
mod manifest;
mod segment;
mod wal;

pub use index::{Index, index_of};
pub use segment::load as segment_load;
pub use wal::wal_files;

/// `mnemodb inspect ...`
#[derive(Debug, Args)]
pub struct InspectArgs {
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, Subcommand)]
enum What {
    /// WAL files: header, frames (offset, LSNs, length) and records.
    #[command(after_help = "Examples:\n  \
        mnemodb inspect wal db/wal/00000000000000000001.log\n  \
        mnemodb inspect wal db --limit 0 --json   # every WAL file of a database, every frame")]
    Wal(wal::WalArgs),
    /// A segment file (`.vec`): header, layout and the first rows.
    #[command(after_help = "Example:\n  mnemodb inspect segment db/docs/seg-3.vec --rows 10")]
    Segment(segment::SegmentArgs),
    /// An index file (`.hnsw` or `.ivf`): header and graph or list statistics.
    #[command(after_help = "Examples:\n  \
        mnemodb inspect index db/docs/seg-3.hnsw\n  \
        mnemodb inspect index /tmp/x.ivf --segment /tmp/x.vec")]
    Index(index::IndexArgs),
    /// A metastore checkpoint (`meta/checkpoint-<lsn>`): header and documents.
    #[command(
        after_help = "Example:\n  mnemodb inspect checkpoint db/meta/checkpoint-00000000000000000042 --limit 5"
    )]
    Checkpoint(checkpoint::CheckpointArgs),
    /// A database manifest: collections, segments, index files, checkpoint LSN.
    #[command(
        after_help = "Examples:\n  mnemodb inspect manifest db\n  mnemodb inspect manifest db/MANIFEST-000007 --json"
    )]
    Manifest(manifest::ManifestArgs),
}

/// Run `inspect`.
pub fn run(args: InspectArgs, format: Format) -> Result<()> {
    match args.what {
        What::Wal(a) => wal::run(a, format),
        What::Segment(a) => segment::run(a, format),
        What::Index(a) => index::run(a, format),
        What::Checkpoint(a) => checkpoint::run(a, format),
        What::Manifest(a) => manifest::run(a, format),
    }
}
