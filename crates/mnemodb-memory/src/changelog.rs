//! The changelog of one entity attribute, and how a new statement changes it.
//!
//! Statements are kept in time order (`at`, then arrival order). The **current** value is the
//! value of the latest statement; a statement that arrives late (older than the current
//! one) is filed into the history at its place and does not overwrite the newer value.
//! Each statement is *valid* from its `at` until the next statement with a different value
//! (a restatement of the same value extends the validity; it does not end it).
//!
//! [`FactLog::history`] is the chronological list of values with consecutive repeats
//! collapsed (`VS Code → Neovim → VS Code`); [`FactLog::entries`] keeps every statement
//! with its time and source.
use crate::time::Timestamp;

/// Where a statement came from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FactSource {
    /// The memory that states it (its validity follows the fact's, see the facts module).
    pub memory_id: Option<String>,
    /// The text it was extracted from.
    pub text: Option<String>,
    /// Free-form origin (`conversation`, a turn id, an import name, ...).
    pub origin: Option<String>,
}

/// One statement of a value.
#[derive(Debug, Clone, PartialEq)]
pub struct FactEntry {
    /// The value stated.
    pub value: String,
    /// When it was stated (the time it refers to).
    pub at: Timestamp,
    /// Arrival order (breaks ties of `at`: the later arrival wins).
    pub seq: u64,
    /// Where it came from.
    pub source: FactSource,
    /// Until when it is valid (the `at` of the next statement of a different value).
    pub valid_to: Timestamp,
}

/// How a new statement changed the attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FactChange {
    /// The first statement of this attribute.
    New,
    /// It supersedes a different current value.
    Superseded {
        /// The value it replaced.
        previous: String,
    },
    /// It restates the current value (history unchanged).
    Restated,
    /// It is older than the current value: filed into the history, current unchanged.
    LateArrival {
        /// The current value, which stays.
        current: String,
    },
}

/// All statements of one attribute, in time order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FactLog {
    entries: Vec<FactEntry>,
}

/// Values compare ignoring case and surrounding/repeated whitespace.
pub fn same_value(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.split_whitespace()
            .map(str::to_lowercase)
            .collect::<Vec<_>>()
            .join(" ")
    };
    norm(a) == norm(b)
}

impl FactLog {
    /// A log from stored entries (any order; re-sorted, validity recomputed).
    pub fn from_entries(mut entries: Vec<FactEntry>) -> Self {
        entries.sort_by(|a, b| a.at.cmp(&b.at).then(a.seq.cmp(&b.seq)));
        let mut log = FactLog { entries };
        log.recompute_validity();
        log
    }

    /// Every statement, oldest first.
    pub fn entries(&self) -> &[FactEntry] {
        &self.entries
    }

    /// The current statement (the latest).
    pub fn current(&self) -> Option<&FactEntry> {
        self.entries.last()
    }

    /// The statement valid at `t` (the latest with `at ≤ t`).
    pub fn as_of(&self, t: Timestamp) -> Option<&FactEntry> {
        self.entries.iter().rev().find(|e| e.at <= t)
    }

    /// When the current value started (the first statement of its final run).
    pub fn current_since(&self) -> Option<Timestamp> {
        let last = self.entries.last()?;
        let mut since = last.at;
        for e in self.entries.iter().rev() {
            if same_value(&e.value, &last.value) {
                since = e.at;
            } else {
                break;
            }
        }
        Some(since)
    }

    /// The values in time order, consecutive repeats collapsed.
    pub fn history(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for e in &self.entries {
            if !out.last().is_some_and(|v| same_value(v, &e.value)) {
                out.push(e.value.clone());
            }
        }
        out
    }

    /// File a statement; returns what changed. `entry.valid_to` is ignored (recomputed).
    pub fn insert(&mut self, entry: FactEntry) -> FactChange {
        let before = self.current().map(|e| e.value.clone());
        let pos = self
            .entries
            .partition_point(|e| (e.at, e.seq) <= (entry.at, entry.seq));
        let is_last = pos == self.entries.len();
        let value = entry.value.clone();
        self.entries.insert(pos, entry);
        self.recompute_validity();
        match before {
            None => FactChange::New,
            Some(current) if !is_last => FactChange::LateArrival { current },
            Some(previous) if same_value(&previous, &value) => FactChange::Restated,
            Some(previous) => FactChange::Superseded { previous },
        }
    }

    fn recompute_validity(&mut self) {
        // An entry stays valid until the next entry with a *different* value.
        let n = self.entries.len();
        let mut end = Timestamp::MAX;
        for i in (0..n).rev() {
            let differs_from_next = match (self.entries.get(i), self.entries.get(i + 1)) {
                (Some(a), Some(b)) => !same_value(&a.value, &b.value),
                _ => false,
            };
            if differs_from_next && let Some(b) = self.entries.get(i + 1) {
                end = b.at;
            }
            if let Some(a) = self.entries.get_mut(i) {
                a.valid_to = end;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(value: &str, day: i64, seq: u64) -> FactEntry {
        FactEntry {
            value: value.into(),
            at: Timestamp::from_secs(day * 86_400),
            seq,
            source: FactSource::default(),
            valid_to: Timestamp::MAX,
        }
    }

    #[test]
    fn newer_supersedes_and_history_collapses_repeats() {
        let mut log = FactLog::default();
        assert_eq!(log.insert(st("VS Code", 1, 0)), FactChange::New);
        assert_eq!(
            log.insert(st("Neovim", 30, 1)),
            FactChange::Superseded {
                previous: "VS Code".into()
            }
        );
        assert_eq!(log.insert(st("neovim ", 40, 2)), FactChange::Restated);
        assert_eq!(
            log.insert(st("VS Code", 90, 3)),
            FactChange::Superseded {
                previous: "neovim ".into()
            } // as last stated
        );
        assert_eq!(log.history(), ["VS Code", "Neovim", "VS Code"]);
        assert_eq!(log.entries().len(), 4);
        assert_eq!(log.current().map(|e| e.value.as_str()), Some("VS Code"));
        assert_eq!(log.current_since(), Some(Timestamp::from_secs(90 * 86_400)));
        let valid: Vec<_> = log.entries().iter().map(|e| e.valid_to).collect();
        let d = |n: i64| Timestamp::from_secs(n * 86_400);
        assert_eq!(valid, [d(30), d(90), d(90), Timestamp::MAX]);
        assert_eq!(log.as_of(d(35)).map(|e| e.value.as_str()), Some("Neovim"));
        assert_eq!(log.as_of(d(0)), None);
    }

    #[test]
    fn a_late_older_statement_does_not_overwrite_the_newer_value() {
        let mut log = FactLog::default();
        log.insert(st("MySQL", 36, 0));
        assert_eq!(
            log.insert(st("PostgreSQL", 1, 1)),
            FactChange::LateArrival {
                current: "MySQL".into()
            }
        );
        assert_eq!(log.current().map(|e| e.value.as_str()), Some("MySQL"));
        assert_eq!(log.history(), ["PostgreSQL", "MySQL"]);
        assert_eq!(
            log.entries().first().map(|e| e.valid_to),
            Some(Timestamp::from_secs(36 * 86_400))
        );
    }

    #[test]
    fn equal_times_are_ordered_by_arrival() {
        let mut log = FactLog::default();
        log.insert(st("a", 5, 0));
        assert_eq!(
            log.insert(st("b", 5, 1)),
            FactChange::Superseded {
                previous: "a".into()
            }
        );
        assert_eq!(log.current().map(|e| e.value.as_str()), Some("b"));
        let rebuilt = FactLog::from_entries(log.entries().iter().rev().cloned().collect());
        assert_eq!(rebuilt, log);
    }
}
