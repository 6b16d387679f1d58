use std::fmt;

/// What a mnemodb file holds. Stored as a `u32` right after the magic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
#[non_exhaustive]
pub enum FileKind {
    /// `seg-<id>.vec`: immutable rows of vectors plus their id column.
    Segment = 1,
    /// `seg-<id>.hnsw`: a frozen HNSW graph over one segment.
    HnswIndex = 2,
    /// `seg-<id>.ivf`: IVF centroids and lists over one segment.
    IvfIndex = 3,
    /// `seg-<id>.del`: tombstone bitmap of one segment.
    Tombstones = 4,
    /// `MANIFEST-<n>`: the database's current state.
    Manifest = 5,
    /// `meta/checkpoint-<lsn>`: metastore snapshot.
    Checkpoint = 6,
    /// `wal/<first-lsn>.log`: write-ahead log file.
    Wal = 7,
}

/// The inclusive range of format versions a build reads for one file kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionRange {
    /// Oldest version still readable.
    pub oldest: u32,
    /// Newest version; also the one written.
    pub newest: u32,
}

impl VersionRange {
    /// Whether `v` is readable.
    pub fn contains(&self, v: u32) -> bool {
        (self.oldest..=self.newest).contains(&v)
    }
}

impl FileKind {
    /// Every kind, for tools that iterate over them.
    pub const ALL: [FileKind; 7] = [
        FileKind::Segment,
        FileKind::HnswIndex,
        FileKind::IvfIndex,
        FileKind::Tombstones,
        FileKind::Manifest,
        FileKind::Checkpoint,
        FileKind::Wal,
    ];

    /// Decode the raw `u32` of a header.
    pub fn from_u32(raw: u32) -> Option<FileKind> {
        FileKind::ALL.into_iter().find(|k| *k as u32 == raw)
    }

    /// The versions of this kind this build reads; `newest` is the one it writes.
    pub fn versions(self) -> VersionRange {
        // Bump `newest` when a layout changes; raise `oldest` only when support is dropped
        // (and keep a fixture of every readable version under tests/fixtures).
        match self {
            // v2: optional SQ8 section (v1 files read as graphs without it).
            FileKind::HnswIndex => VersionRange {
                oldest: 1,
                newest: 2,
            },
            // v2: optional probe section (sub-centroids; v1 files read without it).
            FileKind::IvfIndex => VersionRange {
                oldest: 1,
                newest: 2,
            },
            // v2: the metastore's layout-2 body (used in place; v1 files read in bulk).
            FileKind::Checkpoint => VersionRange {
                oldest: 1,
                newest: 2,
            },
            FileKind::Segment | FileKind::Tombstones | FileKind::Manifest | FileKind::Wal => {
                VersionRange {
                    oldest: 1,
                    newest: 1,
                }
            }
        }
    }

    /// Short human name.
    pub fn name(self) -> &'static str {
        match self {
            FileKind::Segment => "segment (.vec)",
            FileKind::HnswIndex => "HNSW index (.hnsw)",
            FileKind::IvfIndex => "IVF index (.ivf)",
            FileKind::Tombstones => "tombstones (.del)",
            FileKind::Manifest => "manifest",
            FileKind::Checkpoint => "metastore checkpoint",
            FileKind::Wal => "WAL (.log)",
        }
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
