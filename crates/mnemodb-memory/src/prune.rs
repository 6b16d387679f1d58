//! Pruning (forgetting): memories whose retention fell below a threshold are archived
//! (kept, excluded from recall, restorable with [`MemoryStore::restore`]) or deleted; an
//! optional capacity per exact scope evicts the lowest retention first.
//!
//! Retention is a pure function of the memory and `now` ([`retention`]): by default the
//! Ebbinghaus curve `exp(−t/S)` with `t` the days since the last recall (or creation), `S` =
//! 30 days + 30 days per recall, and the age shielded by importance (`(1 − importance)²`),
//! so a memory that keeps being recalled, or that matters, stays. Memories at or above
//! [`PruneOptions::protect_importance`] are never pruned for low retention, and are evicted
//! for capacity only after every unprotected one.
use std::collections::BTreeMap;

use mnemodb::WriteBatch;

use crate::error::{Error, Result, invalid};
use crate::recall::visible_filter;
use crate::record::{Memory, MemoryStatus, Scope};
use crate::scoring::Decay;
use crate::store::{MemoryStore, event_record, external_id_string, status_patch};
use crate::time::Timestamp;

/// Options of a pruning run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PruneOptions {
    /// The retention curve.
    pub decay: Decay,
    /// Memories with retention below this are pruned (default 0.05: on memeval dev, after
    /// four months, it archives nine "said thanks" / weather remarks and keeps every
    /// relevant memory — the least retained, a 113-day-old pet at importance 0.3, is at 0.15).
    pub threshold: f64,
    /// Delete instead of archive (default `false`).
    pub delete: bool,
    /// Keep at most this many active memories per exact scope.
    pub capacity: Option<usize>,
    /// Importance at or above which retention never prunes (default 0.85).
    pub protect_importance: f32,
    /// Report without writing.
    pub dry_run: bool,
}

impl Default for PruneOptions {
    fn default() -> Self {
        PruneOptions {
            decay: Decay::ebbinghaus(30.0, 30.0).shielded(2.0),
            threshold: 0.05,
            delete: false,
            capacity: None,
            protect_importance: 0.85,
            dry_run: false,
        }
    }
}

/// What a pruning run did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PruneReport {
    /// Active memories examined.
    pub examined: usize,
    /// Pruned for low retention: `(id, retention)`.
    pub low_retention: Vec<(String, f64)>,
    /// Evicted for capacity: `(id, retention)`.
    pub evicted: Vec<(String, f64)>,
}

/// The retention of a memory at `now` under `decay`, in `[0, 1]`.
pub fn retention(memory: &Memory, now: Timestamp, decay: &Decay) -> f64 {
    decay.factor(&memory.signals(), now)
}

impl MemoryStore {
    /// Prune the active memories of `scope` at `now` (default: the store's clock).
    pub fn prune(
        &self,
        scope: &Scope,
        opts: &PruneOptions,
        now: Option<Timestamp>,
    ) -> Result<PruneReport> {
        scope.validate()?;
        opts.decay.validate().map_err(Error::InvalidInput)?;
        if !opts.threshold.is_finite() || !(0.0..=1.0).contains(&opts.threshold) {
            return Err(invalid(format!(
                "prune threshold {} is outside [0, 1]",
                opts.threshold
            )));
        }
        let now = now.unwrap_or_else(|| self.now());
        let _writer = self.writer.lock();
        let name = self.cols.memories.name().to_string();
        let mut by_scope: BTreeMap<String, Vec<(Memory, f64)>> = BTreeMap::new();
        let mut report = PruneReport::default();
        for e in self
            .cols
            .memories
            .scan(Some(&visible_filter(scope, now)), false)?
        {
            let m = Memory::from_doc(external_id_string(&e.id), &e.metadata, None, &name)?;
            if !scope.contains(&m.scope) {
                return Err(Error::ScopeViolation {
                    expected: scope.to_string(),
                    found: m.scope.to_string(),
                });
            }
            report.examined += 1;
            let r = retention(&m, now, &opts.decay);
            by_scope.entry(m.scope.key()).or_default().push((m, r));
        }
        for (_, mut list) in by_scope {
            let mut keep = Vec::with_capacity(list.len());
            for (m, r) in list.drain(..) {
                if r < opts.threshold && m.importance < opts.protect_importance {
                    report.low_retention.push((m.id.clone(), r));
                } else {
                    keep.push((m, r));
                }
            }
            if let Some(cap) = opts.capacity
                && keep.len() > cap
            {
                // Evict unprotected first, then lowest retention, then oldest.
                keep.sort_by(|(a, ra), (b, rb)| {
                    let pa = a.importance >= opts.protect_importance;
                    let pb = b.importance >= opts.protect_importance;
                    pa.cmp(&pb).then(ra.total_cmp(rb)).then(a.seq.cmp(&b.seq))
                });
                let excess = keep.len() - cap;
                report
                    .evicted
                    .extend(keep.drain(..excess).map(|(m, r)| (m.id, r)));
            }
        }
        if opts.dry_run {
            return Ok(report);
        }
        let mut batch = WriteBatch::new();
        for (id, _) in report.low_retention.iter().chain(&report.evicted) {
            if opts.delete {
                batch.delete(&name, id.as_str());
            } else {
                batch.patch(
                    &name,
                    id.as_str(),
                    status_patch(MemoryStatus::ARCHIVED, Some(now)),
                );
            }
            batch.upsert(
                self.cols.events.name(),
                event_record(
                    scope,
                    if opts.delete {
                        "prune-delete"
                    } else {
                        "archive"
                    },
                    id,
                    None,
                    now,
                    Some("low retention or capacity"),
                ),
            );
        }
        self.db.write(batch)?;
        Ok(report)
    }
}
