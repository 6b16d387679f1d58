//! The write-ahead log of mnemodb: framed, checksummed records in `wal/<first-lsn>.log`
//! files, group commit, three durability modes, replay, and recovery that tells a torn tail
//! from corruption.
//!
//! Payloads are opaque bytes: the WAL never interprets them. Each append gets the next
//! [`Lsn`] (the first record of a log gets 1); a batch ([`Wal::append_batch`]) is one frame,
//! so after any crash all of its records are replayed or none.
//!
//! ```
//! use mnemodb_io::{CrashMode, MemFs};
//! use mnemodb_wal::{Durability, Wal, WalOptions};
//! use std::{path::Path, sync::Arc};
//!
//! let fs = MemFs::new();
//! let dir = Path::new("/db/wal");
//! let (wal, report) = Wal::open(Arc::new(fs.clone()), dir, WalOptions::default())?;
//! assert_eq!(report.last_lsn, 0);
//! assert_eq!(wal.append(b"put a=1")?, 1);
//! assert_eq!(wal.append_batch(&[b"put b=2", b"del a"])?, 2..=3);
//! assert_eq!(wal.durable_lsn(), 3); // Durability::Sync: acknowledged = fsync'ed
//!
//! // A power loss right now keeps every acknowledged record.
//! let after = Arc::new(fs.crash_image(CrashMode::DropUnsynced));
//! let (wal, report) = Wal::open(after, dir, WalOptions::default())?;
//! assert_eq!((report.records, report.last_lsn), (3, 3));
//! let mut seen = Vec::new();
//! wal.replay(2, |lsn, payload| {
//!     seen.push((lsn, payload.to_vec()));
//!     Ok(())
//! })?;
//! assert_eq!(seen, [(2, b"put b=2".to_vec()), (3, b"del a".to_vec())]);
//! # let _ = Durability::Buffered;
//! # Ok::<(), mnemodb_wal::Error>(())
//! ```
//!
//! # Durability, by what survives
//!
//! | mode | `append` returns after | process crash | power loss |
//! |---|---|---|---|
//! | [`Durability::Sync`] (default) | the record is `fsync`ed (shared by concurrent appenders) | nothing lost | nothing acknowledged lost |
//! | [`Durability::Batch`] | the `write` to the OS; a background thread syncs ≤ `max_delay` later | nothing lost | at most the last `max_delay` lost |
//! | [`Durability::Buffered`] | the `write` to the OS | nothing lost | a consistent prefix survives |
//!
//! In every mode a power loss leaves a consistent prefix: no hole, no half batch, no record
//! that was never appended. [`Wal::flush`] makes everything appended so far durable.
//!
//! # Write path
//!
//! 1. `append` checks the size and checksums the payloads, outside any lock.
//! 2. It queues the frame; the first appender finding no write in progress becomes the
//!    leader of everything queued (group commit).
//! 3. The leader assigns LSNs, seals each frame (LSN, the durable LSN so far, CRC seeded
//!    with the file's random salt), and writes the group with one positional write at the
//!    end of the active file. A failed write is cut off again (`set_len`) before anything
//!    else is written, so no later record follows garbage.
//! 4. [`Durability::Sync`]: one `fsync` (`sync_all`: appending grows the file, and a new
//!    length is metadata). Only then does `durable_lsn` move and the group's appenders
//!    return. A failed `fsync` **poisons** the writer: that append fails, every later append
//!    or flush returns [`Error::Poisoned`] until the log is reopened.
//! 5. Rotation, before a group would take the active file past
//!    [`WalOptions::max_file_bytes`]: `fsync` the old file; write the new file's header to
//!    `<lsn>.log.tmp`, `fsync` it, rename it to `<lsn>.log`, `fsync` the directory — all
//!    before any record goes into it.
//! 6. [`Wal::truncate_before`] removes whole old files, oldest first, each removal followed
//!    by a directory `fsync`.
//!
//! # Recovery ([`Wal::open`])
//!
//! Every file is read and every frame checked. Files must form one contiguous LSN
//! sequence (header LSN = name LSN = previous file's end) and every file but the newest
//! must end exactly after a valid frame. In the newest file, scanning stops at the first
//! invalid frame; the bytes from there on are a **torn tail**, truncated and reported in
//! [`RecoveryReport::truncated_bytes`], unless a later valid frame carries a synced LSN
//! showing the damaged record had been durable before — then, as for any other damage, the
//! open fails with [`Error::Corrupted`] naming the file and byte offset
//! ([`RecoveryMode::SalvagePrefix`] keeps the valid prefix instead). An I/O error while
//! reading is [`Error::Io`], never a tail. The on-disk format is in `docs/FORMAT.md`.
//!
//! Assumed of the storage: a sector that is not written is not damaged by a crash
//! ("powersafe overwrite"), and `fsync` means what it says. One [`Wal`] per directory at a
//! time: the engine's `LOCK` file keeps a second process out; the WAL does not lock.
#![forbid(unsafe_code)]
#![deny(clippy::indexing_slicing, clippy::panic)]

mod error;
mod frame;
mod options;
mod recovery;
mod scan;
mod wal;

pub use error::{Error, Result};
pub use frame::{
    Entries, FRAME_HEADER, FRAME_TRAILER, FrameError, FrameRef, MIN_FRAME, decode_frame,
    encode_frame, frame_len, len_crc,
};
pub use options::{Durability, Lsn, RecoveryMode, RecoveryReport, WalOptions, WalStats};
pub use recovery::{read_records, read_records_with};
pub use scan::{FileReport, Tail, decode_file, decode_frames};
pub use wal::Wal;
