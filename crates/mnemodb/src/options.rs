//! [`Options`] of an open database.
use std::time::Duration;

use mnemodb_wal::Durability;

/// How much of the sealed files (segments and their indexes) is checked, and when. Every
/// mode checks at open what is cheap and what later code relies on: the manifest's
/// checksum; every referenced file's length; each segment's header, generation, content
/// CRC (as recorded in its header), row count and first/last id against the manifest;
/// each index's header fingerprint, the segment it was built from and its upper-level
/// structure; each metadata checkpoint's checksums and LSN. The modes differ in when the
/// rest of every byte (row and id checksums, padding, finite values, sorted ids, the
/// level-0 graph) is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Verify {
    /// Before `open` (or a read-only `refresh`) returns: a damaged file fails the open
    /// with [`crate::Error::Corrupted`]. Reads every file once (about 0.3 s and the
    /// pages of every file in memory at 1M × 96).
    Full,
    /// After `open` returns, by a scrub on the engine's background pool at its lower
    /// priority ([`Options::background_nice`]), one segment at a time (the default). A
    /// damaged file it finds makes every later operation on its collection return
    /// [`crate::Error::Corrupted`] naming the file and offset, and is reported by
    /// [`crate::Database::stats`] and [`crate::Database::verify`]. Until the scrub has
    /// reached a file, reads of it are served unchecked (as with `HeadersOnly`);
    /// compaction checks a segment itself before rewriting it.
    #[default]
    Background,
    /// Never on its own: only [`crate::Database::verify`] (or `mnemodb verify`) and
    /// compaction (before rewriting a segment) check every byte.
    HeadersOnly,
}

/// How a database is opened and run.
#[derive(Debug, Clone)]
pub struct Options {
    pub(crate) durability: Durability,
    pub(crate) seal_rows: usize,
    pub(crate) background: bool,
    pub(crate) threads: Option<usize>,
    pub(crate) wal_file_bytes: u64,
    pub(crate) compact_min_dead_fraction: f64,
    pub(crate) compact_small_rows: usize,
    pub(crate) index_batch_rows: usize,
    pub(crate) salvage: bool,
    pub(crate) checkpoint_wal_bytes: u64,
    pub(crate) verify: Verify,
    pub(crate) background_nice: u8,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            durability: Durability::Sync,
            seal_rows: 100_000,
            background: true,
            threads: None,
            wal_file_bytes: 64 << 20,
            compact_min_dead_fraction: 0.2,
            compact_small_rows: 10_000,
            index_batch_rows: 2048,
            salvage: false,
            checkpoint_wal_bytes: 256 << 20,
            verify: Verify::Background,
            background_nice: 10,
        }
    }
}

impl Options {
    /// When a write returns: [`Durability::Sync`] (default: fsync'ed, group-committed),
    /// [`Durability::Batch`] (fsync'ed within `max_delay`; a process crash loses nothing, a
    /// power loss at most that window) or [`Durability::Buffered`].
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Shorthand for `durability(Durability::Batch { max_delay })`.
    pub fn batch_durability(self, max_delay: Duration) -> Self {
        self.durability(Durability::Batch { max_delay })
    }

    /// Rows of a collection's growing segment that trigger a seal (default 100,000).
    pub fn seal_rows(mut self, rows: usize) -> Self {
        self.seal_rows = rows.max(1);
        self
    }

    /// Run indexing, sealing and compaction on background threads (default `true`).
    /// `false` runs them inline, in the writing call, which makes tests deterministic.
    pub fn background(mut self, on: bool) -> Self {
        self.background = on;
        self
    }

    /// Threads of the engine's own rayon pool (default: all cores).
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads.max(1));
        self
    }

    /// Size at which the WAL starts a new file (default 64 MiB).
    pub fn wal_file_bytes(mut self, bytes: u64) -> Self {
        self.wal_file_bytes = bytes.max(4096);
        self
    }

    /// A sealed segment whose deleted fraction exceeds this is rewritten by compaction
    /// (default 0.2).
    pub fn compact_min_dead_fraction(mut self, fraction: f64) -> Self {
        self.compact_min_dead_fraction = fraction.clamp(0.0, 1.0);
        self
    }

    /// Sealed segments with fewer rows than this are merged by compaction (default 10,000).
    pub fn compact_small_rows(mut self, rows: usize) -> Self {
        self.compact_small_rows = rows;
        self
    }

    /// WAL size above which the background worker checkpoints on its own (default
    /// 256 MiB), which bounds recovery time and disk use when collections sit idle with
    /// unsealed data. Only with background work on.
    pub fn checkpoint_wal_bytes(mut self, bytes: u64) -> Self {
        self.checkpoint_wal_bytes = bytes.max(1 << 20);
        self
    }

    /// Recover the valid prefix of a WAL damaged in the middle instead of refusing to open
    /// (reported through [`crate::DatabaseStats::salvaged`]). Off by default.
    pub fn salvage(mut self, on: bool) -> Self {
        self.salvage = on;
        self
    }

    /// When every byte of the sealed segment and index files is checked (default
    /// [`Verify::Background`]: cheap checks at open, the content checksums by a
    /// background scrub). See [`Verify`].
    pub fn verify(mut self, verify: Verify) -> Self {
        self.verify = verify;
        self
    }

    /// The earlier switch: `true` is [`Verify::Full`] (every byte checked before open
    /// returns), `false` is [`Verify::HeadersOnly`]. Prefer [`Options::verify`]; the
    /// default is now [`Verify::Background`].
    pub fn verify_on_open(self, on: bool) -> Self {
        self.verify(if on {
            Verify::Full
        } else {
            Verify::HeadersOnly
        })
    }

    /// How much lower than the opening thread's the scheduling priority of the engine's
    /// background work runs: the maintenance thread and the pool that seals, builds
    /// indexes and compacts (Linux nice increment, default 10, at most 19; 0 = same
    /// priority). Searches and writes keep the caller's priority, so a query waiting for
    /// a core gets it ahead of an index build: on 2 cores, p99 query latency while
    /// ingesting drops towards its idle value. Background work still gets the whole
    /// machine when nothing else wants it. No effect on other systems.
    pub fn background_nice(mut self, increment: u8) -> Self {
        self.background_nice = increment.min(19);
        self
    }
}
