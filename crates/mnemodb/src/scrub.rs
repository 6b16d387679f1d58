//! The background scrub: after an open with [`crate::Verify::Background`] (and after a
//! read-only handle's `refresh` mapped new files), every byte of every sealed segment and
//! index file not checked yet is checked on the engine's background pool, at its lower
//! priority, one segment at a time. The outcome is kept with the segment
//! ([`crate::parts::FileCheck`], shared by every snapshot): damage makes every later
//! operation on the collection return [`crate::Error::Corrupted`] naming the file and
//! offset, and shows in `stats()`; [`crate::Database::verify`] checks what is left now.
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::db::Inner;
use crate::error::Result;
use crate::parts::SealedSegment;

/// Progress of the scrub runs of one open database.
#[derive(Debug, Default)]
pub(crate) struct Scrub {
    /// Set when the database closes: runs stop before their next segment.
    stop: AtomicBool,
    /// Runs started and not finished.
    running: AtomicUsize,
}

impl Scrub {
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Whether a scrub run is under way.
    pub(crate) fn is_running(&self) -> bool {
        self.running.load(Ordering::SeqCst) > 0
    }
}

/// Every sealed segment of the current snapshot not checked yet.
fn unchecked(inner: &Inner) -> Vec<Arc<SealedSegment>> {
    let state = inner.state.load();
    state
        .collections
        .values()
        .flat_map(|c| c.sealed.iter())
        .filter(|p| !p.seg.check.is_done())
        .map(|p| Arc::clone(&p.seg))
        .collect()
}

/// Start a scrub of every segment not checked yet on the background pool (no-op when
/// there is none). The run holds the segments (their mappings), not the database: closing
/// the database is never delayed beyond the segment being checked.
pub(crate) fn start(inner: &Inner) {
    let segments = unchecked(inner);
    if segments.is_empty() {
        return;
    }
    let scrub = Arc::clone(&inner.scrub);
    scrub.running.fetch_add(1, Ordering::SeqCst);
    inner.pool.spawn(move || {
        for seg in segments {
            if scrub.stop.load(Ordering::SeqCst) {
                break;
            }
            // A segment no snapshot holds any more (compacted away meanwhile) needs no
            // check.
            if Arc::strong_count(&seg) > 1 {
                seg.verify();
            }
        }
        scrub.running.fetch_sub(1, Ordering::SeqCst);
    });
}

/// [`crate::Database::verify`]: check every segment not checked yet, now; the first
/// damage found (now or earlier) as the error.
pub(crate) fn verify_all(inner: &Inner) -> Result<crate::VerifyReport> {
    let state = inner.state.load_full();
    let mut report = crate::VerifyReport::default();
    let mut first = None;
    for c in state.collections.values() {
        for p in &c.sealed {
            report.segments += 1;
            report.bytes +=
                p.seg.entry.vectors.len + p.seg.entry.index.as_ref().map_or(0, |f| f.len);
            if let Some(d) = p.seg.verify() {
                report.damaged += 1;
                first.get_or_insert_with(|| d.to_error());
            }
        }
    }
    match first {
        Some(e) => Err(e),
        None => Ok(report),
    }
}
