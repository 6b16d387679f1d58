//! Options, reports and statistics.
use std::time::Duration;

/// Log sequence number: the first record of a log gets 1, every record the next one.
/// 0 means "none".
pub type Lsn = u64;

/// When [`Wal::append`](crate::Wal::append) returns, stated by what survives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// The record is on stable storage (`fsync` returned) before `append` returns:
    /// survives a process crash and a power loss. Concurrent appenders share one `fsync`
    /// (group commit).
    #[default]
    Sync,
    /// The record is handed to the OS (`write` returned) before `append` returns; a
    /// background thread syncs at most `max_delay` after the first unsynced write. Survives
    /// a process crash; a power loss loses at most the records of the last `max_delay`
    /// (a consistent prefix remains).
    Batch {
        /// Longest time a written record stays unsynced.
        max_delay: Duration,
    },
    /// The record is handed to the OS; it is synced only by [`Wal::flush`](crate::Wal::flush),
    /// at file rotation, or whenever the OS writes it back. Survives a process crash; a
    /// power loss keeps a consistent prefix of unknown length.
    Buffered,
}

/// What opening does with a damaged log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecoveryMode {
    /// Truncate a torn tail of the newest file (the bytes a crash can leave after the last
    /// complete record) and report it; refuse any other damage with
    /// [`Error::Corrupted`](crate::Error::Corrupted).
    #[default]
    TolerateTornTail,
    /// Keep the longest valid prefix of the log, whatever follows it: truncate the file
    /// where the first damage is, delete every later file, and report `salvaged`. Loses
    /// data after the damage; for explicit recovery (`--salvage`).
    SalvagePrefix,
}

/// Options of [`Wal::open`](crate::Wal::open).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalOptions {
    /// When appends return; default [`Durability::Sync`].
    pub durability: Durability,
    /// A new file is started before a write would take the active file past this size
    /// (a file always takes at least one group of records, so one group larger than this
    /// makes a larger file). Default 64 MiB.
    pub max_file_bytes: u64,
    /// Largest framed record or batch (payloads + 8 to 40 bytes of framing + 4 per
    /// payload); larger appends fail with
    /// [`Error::RecordTooLarge`](crate::Error::RecordTooLarge). Also bounds what recovery
    /// allocates for one record. Default 64 MiB.
    pub max_record_bytes: u32,
    /// What opening does with a damaged log; default [`RecoveryMode::TolerateTornTail`].
    pub recovery: RecoveryMode,
    /// The next record gets at least this LSN (default 0: no constraint). For a caller
    /// whose state is already covered up to `min_next_lsn - 1` elsewhere (a checkpoint):
    /// when the recovered log ends below that (a new, lost or salvaged log), opening
    /// removes every file of the log (their records are all below `min_next_lsn`; oldest
    /// first, each removal followed by a directory `fsync`) and starts a new file whose
    /// first LSN is `min_next_lsn` (reported in
    /// [`RecoveryReport::discarded_records`]). A log that already reaches it is left alone.
    pub min_next_lsn: Lsn,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            durability: Durability::Sync,
            max_file_bytes: 64 << 20,
            max_record_bytes: 64 << 20,
            recovery: RecoveryMode::TolerateTornTail,
            min_next_lsn: 0,
        }
    }
}

/// What opening (or [`read_records`](crate::read_records)) found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// WAL files in the log (after any truncation or salvage).
    pub files: usize,
    /// Records the log holds.
    pub records: u64,
    /// LSN of the first record the log holds; 0 when it holds none.
    pub first_lsn: Lsn,
    /// LSN of the last record the log holds or held (the next append gets `last_lsn + 1`);
    /// 0 for a new log.
    pub last_lsn: Lsn,
    /// Bytes cut off: a torn tail, or everything after the damage with
    /// [`RecoveryMode::SalvagePrefix`]. [`read_records`](crate::read_records) reports what
    /// it would cut but cuts nothing.
    pub truncated_bytes: u64,
    /// Whether [`RecoveryMode::SalvagePrefix`] dropped damaged data.
    pub salvaged: bool,
    /// Records removed because the log ended below [`WalOptions::min_next_lsn`] (the log
    /// was restarted at that LSN; `files`, `records`, `first_lsn` and `last_lsn` describe
    /// the restarted log).
    pub discarded_records: u64,
}

/// A snapshot of the log's state, for monitoring.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WalStats {
    /// WAL files.
    pub files: usize,
    /// Their total size in bytes.
    pub bytes: u64,
    /// First LSN the files hold (0 when they hold no record).
    pub first_lsn: Lsn,
    /// Last LSN appended (handed to the OS).
    pub last_lsn: Lsn,
    /// Last LSN known durable (synced).
    pub durable_lsn: Lsn,
    /// Successful `fsync`s of WAL files by this writer.
    pub syncs: u64,
    /// Group writes (`pwrite` calls carrying records).
    pub writes: u64,
    /// Files started by rotation.
    pub rotations: u64,
    /// Whether a failed sync poisoned the writer.
    pub poisoned: bool,
}
