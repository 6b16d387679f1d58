//! Filter evaluation against a [`MetaState`]: index lookups, a small planner for
//! conjunctions, and document probing where no index helps.
//!
//! - A leaf on a declared field is answered from its index: keyword bitmaps (`=`, `in`,
//!   `!=` as `exists − =`), the range set (`<`, `>=`, ..., and `=` on numbers/timestamps
//!   when only a range index exists), or the `exists` bitmap. What an index cannot answer
//!   (e.g. `=` with a list value) is checked document by document on the field's `exists`
//!   bitmap.
//! - A leaf on an undeclared field scans every live document (slower: O(live documents));
//!   one whose top-level field no live document has matches nothing at once.
//! - `and` evaluates its cheapest operands first (keyword bitmaps by size, then ranges,
//!   then the rest) and, once the candidate set is small (≤ 1/16 of the live documents or
//!   ≤ 4,096), checks the remaining operands on the candidates' documents instead of
//!   materialising them: `user = "u1" and created_at >= ...` costs one bitmap plus a probe
//!   per document of that user. A range whose index answer reads fewer entries (the
//!   smaller of the answer and its complement, counted by binary search) than probing
//!   would decode documents is still answered from the index: `valid_to > now` when few
//!   records are closed.
//!
//! A state opened from a checkpoint in place has two parts (`MetaState`): every index
//! answer is `(checkpoint answer − ids the overlay replaced or deleted) ∪ overlay answer`.
//! A damaged checkpoint document or bitmap met on the way makes the filter fail with
//! `Corrupted`.
use std::cell::RefCell;
use std::ops::Bound;

use mnemodb_format::FormatError;
use roaring::RoaringBitmap;

use crate::error::{Error, Result};
use crate::field_index::{KeywordKey, plan_range};
use crate::filter::{Filter, FilterOptions};
use crate::state::{FieldView, MetaState};
use crate::value::{Orderable, Value};

/// Candidate sets at most this large are probed rather than intersected, unless the
/// index answers for less ([`Eval::index_cheaper_than_probing`]).
const PROBE_MIN: u64 = 4096;

/// Planning: a document probe costs about as much as reading this many range entries.
const RANGE_ENTRIES_PER_PROBE: u64 = 4;

/// Planning: copying and combining bitmaps costs about one range entry per this many rows.
const ROWS_PER_ENTRY_OF_BITMAP_WORK: u64 = 4096;

impl MetaState {
    /// Internal ids of the live documents matching `filter` (the allow-list ANN search
    /// takes). Unknown fields match nothing.
    pub fn filter(&self, filter: &Filter) -> Result<RoaringBitmap> {
        self.filter_with(filter, FilterOptions::default())
    }

    /// [`filter`](Self::filter) with options (see [`FilterOptions`]).
    pub fn filter_with(&self, filter: &Filter, options: FilterOptions) -> Result<RoaringBitmap> {
        if options.strict
            && let Some(f) = filter.fields().into_iter().find(|f| !self.field_known(f))
        {
            return Err(Error::UnknownField {
                field: f.to_string(),
            });
        }
        let eval = Eval {
            s: self,
            masked: self.masked.to_roaring(),
            err: RefCell::new(None),
        };
        let out = eval.eval(filter);
        match eval.err.into_inner() {
            Some(e) => Err(e.into()),
            None => Ok(out),
        }
    }

    /// Parse `text` and evaluate it.
    pub fn filter_text(&self, text: &str) -> Result<RoaringBitmap> {
        self.filter(&Filter::parse(text)?)
    }
}

struct Eval<'a> {
    s: &'a MetaState,
    /// Checkpoint ids the overlay replaced or deleted.
    masked: RoaringBitmap,
    /// The first damage met.
    err: RefCell<Option<FormatError>>,
}

/// How a leaf is answered, cheapest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Cost {
    /// A bitmap of the given size, ready.
    Bitmap(u64),
    /// A walk of the range set.
    Range,
    /// Compound filters, evaluated recursively.
    Compound,
    /// Documents are checked one by one.
    Scan,
}

fn leaf_field(f: &Filter) -> Option<&str> {
    match f {
        Filter::Eq(x, _)
        | Filter::Ne(x, _)
        | Filter::In(x, _)
        | Filter::Exists(x)
        | Filter::Range { field: x, .. } => Some(x),
        _ => None,
    }
}

impl Eval<'_> {
    fn live(&self) -> RoaringBitmap {
        self.s.live_ids()
    }

    fn fail(&self, e: FormatError) {
        let mut err = self.err.borrow_mut();
        if err.is_none() {
            *err = Some(e);
        }
    }

    /// `(base − masked) ∪ overlay`.
    fn comb(&self, base: Option<RoaringBitmap>, ov: RoaringBitmap) -> RoaringBitmap {
        match base {
            None => ov,
            Some(mut b) => {
                if !self.masked.is_empty() {
                    b -= &self.masked;
                }
                b |= ov;
                b
            }
        }
    }

    fn exists(&self, v: &FieldView<'_>) -> RoaringBitmap {
        self.comb(
            v.base.map(|(_, f)| f.exists.clone()),
            v.ov.exists.to_roaring(),
        )
    }

    /// Planning estimate.
    fn exists_len(&self, v: &FieldView<'_>) -> u64 {
        v.base.map_or(0, |(_, f)| f.exists.len()) + v.ov.exists.len()
    }

    fn keyword(&self, v: &FieldView<'_>, key: &KeywordKey) -> RoaringBitmap {
        let base = v.base.and_then(|(b, f)| match b.keyword(f, key) {
            Ok(hit) => Some(hit.map(|a| (*a).clone()).unwrap_or_default()),
            Err(e) => {
                self.fail(e);
                None
            }
        });
        self.comb(
            base,
            v.ov.keyword(key)
                .map(|b| b.to_roaring())
                .unwrap_or_default(),
        )
    }

    /// Planning estimate.
    fn keyword_len(&self, v: &FieldView<'_>, key: &KeywordKey) -> u64 {
        v.base.map_or(0, |(b, f)| b.keyword_len(f, key)) + v.ov.keyword(key).map_or(0, |b| b.len())
    }

    fn range(
        &self,
        v: &FieldView<'_>,
        lower: &Bound<Value>,
        upper: &Bound<Value>,
    ) -> RoaringBitmap {
        let plan = plan_range(lower, upper);
        let next = self.s.next_internal_id();
        let base = v.base.map(|(b, f)| b.range(f, &plan, next));
        self.comb(base, v.ov.range_plan(&plan, next))
    }

    fn eval(&self, f: &Filter) -> RoaringBitmap {
        match f {
            Filter::All => self.live(),
            Filter::Not(x) => {
                let mut out = self.live();
                out -= self.eval(x);
                out
            }
            Filter::Or(xs) => {
                let mut out = RoaringBitmap::new();
                for x in xs {
                    out |= self.eval(x);
                }
                out
            }
            Filter::And(xs) => self.and(xs),
            leaf => self.leaf(leaf),
        }
    }

    fn and(&self, xs: &[Filter]) -> RoaringBitmap {
        let mut order: Vec<(Cost, &Filter)> = xs.iter().map(|x| (self.cost(x), x)).collect();
        order.sort_by_key(|(c, _)| *c);
        let probe_below = (self.s.len() / 16).max(PROBE_MIN);
        let mut acc: Option<RoaringBitmap> = None;
        for (cost, x) in order {
            acc = Some(match acc {
                None => self.eval(x),
                Some(cur) if cur.is_empty() => return cur,
                Some(cur) => {
                    let cheap_bitmap = matches!(cost, Cost::Bitmap(_));
                    let probe = cost == Cost::Scan
                        || (!cheap_bitmap
                            && cur.len() <= probe_below
                            && !self.index_cheaper_than_probing(x, cur.len()));
                    if probe {
                        self.probe(cur.iter(), x)
                    } else {
                        cur & self.eval(x)
                    }
                }
            });
        }
        acc.unwrap_or_else(|| self.live())
    }

    fn cost(&self, f: &Filter) -> Cost {
        let Some(field) = leaf_field(f) else {
            return match f {
                Filter::All => Cost::Bitmap(self.s.len()),
                // `not` of a ready bitmap is one subtraction from the live set: cheaper
                // than probing every candidate's document (`importance >= 0.7 and not
                // kind in [...]`).
                Filter::Not(x) => match self.cost(x) {
                    Cost::Bitmap(n) => Cost::Bitmap(self.s.len().saturating_sub(n)),
                    _ => Cost::Compound,
                },
                _ => Cost::Compound,
            };
        };
        if !self.s.field_present(field) {
            return Cost::Bitmap(0);
        }
        let Some(idx) = self.s.index(field) else {
            return Cost::Scan;
        };
        let spec = idx.spec();
        match f {
            Filter::Exists(_) => Cost::Bitmap(self.exists_len(&idx)),
            Filter::Eq(_, v) if spec.keyword => match KeywordKey::of_query(v) {
                Some(k) => Cost::Bitmap(self.keyword_len(&idx, &k)),
                None => Cost::Scan,
            },
            Filter::In(_, vs) if spec.keyword => {
                let mut n = 0;
                for v in vs {
                    match KeywordKey::of_query(v) {
                        Some(k) => n += self.keyword_len(&idx, &k),
                        None => return Cost::Scan,
                    }
                }
                Cost::Bitmap(n)
            }
            Filter::Range { .. } if spec.range => Cost::Range,
            Filter::Eq(_, v) if spec.range && Orderable::of(v).is_some() => Cost::Range,
            // `!=` costs an `exists` bitmap minus the `=` answer.
            Filter::Ne(..) => Cost::Range,
            _ => Cost::Scan,
        }
    }

    /// Whether answering the range leaf `f` from its index costs less than probing
    /// `candidates` documents. A range reads the smaller of its answer and its complement
    /// (found by binary search in the checkpoint, counted in the overlay) and, for the
    /// complement, copies the class's bitmap; a probe fetches a document (decoding it on
    /// first use) and matches it. Checkpoints whose documents are mostly cold make probes
    /// the dearer: `valid_to > now` over 1,000 candidates among 1M documents is two binary
    /// searches and a bitmap subtraction, against 1,000 document decodes.
    fn index_cheaper_than_probing(&self, f: &Filter, candidates: u64) -> bool {
        let (field, lower, upper) = match f {
            Filter::Range {
                field,
                lower,
                upper,
            } => (field, lower.clone(), upper.clone()),
            Filter::Eq(field, v) if Orderable::of(v).is_some() => (
                field,
                Bound::Included(v.clone()),
                Bound::Included(v.clone()),
            ),
            _ => return false,
        };
        let Some(idx) = self.s.index(field) else {
            return false;
        };
        if !idx.spec().range {
            return false;
        }
        let plan = plan_range(&lower, &upper);
        let budget = candidates.saturating_mul(RANGE_ENTRIES_PER_PROBE);
        // Bitmap work: a complement copies the value class's bitmap (checkpoint and overlay).
        let rows = idx.ov.numbers.len()
            + idx.ov.timestamps.len()
            + idx
                .base
                .map_or(0, |(_, f)| f.numbers.len() + f.timestamps.len());
        let fixed = rows / ROWS_PER_ENTRY_OF_BITMAP_WORK
            + idx.base.map_or(0, |(b, f)| b.range_work(f, &plan));
        fixed <= budget && fixed + idx.ov.range_work(&plan, budget - fixed) < budget
    }

    /// The ids among `ids` whose document matches `f`.
    fn probe(&self, ids: impl Iterator<Item = u32>, f: &Filter) -> RoaringBitmap {
        let mut out = RoaringBitmap::new();
        for id in ids {
            let record = match self.s.try_record(id) {
                Ok(r) => r,
                Err(e) => {
                    self.fail(e);
                    None
                }
            };
            if record.is_some_and(|r| f.matches(&r.doc)) {
                // Ids come in ascending order, so this appends.
                let _ = out
                    .try_push(id)
                    .map_err(|_| debug_assert!(false, "ids ascend"));
            }
        }
        out
    }

    fn leaf(&self, f: &Filter) -> RoaringBitmap {
        let Some(field) = leaf_field(f) else {
            return self.eval(f);
        };
        if !self.s.field_present(field) {
            return RoaringBitmap::new();
        }
        match self.s.index(field) {
            Some(idx) => self
                .indexed(&idx, f)
                .unwrap_or_else(|| self.probe(self.exists(&idx).iter(), f)),
            None => {
                // A sequential walk of every live document (cheaper than id lookups).
                let mut out = RoaringBitmap::new();
                let walk = self.s.try_for_each(|id, doc| {
                    if f.matches(doc) {
                        let _ = out.try_push(id);
                    }
                });
                if let Err(e) = walk {
                    self.fail(e);
                }
                out
            }
        }
    }

    /// The answer from `idx` alone, when it can give one.
    fn indexed(&self, idx: &FieldView<'_>, f: &Filter) -> Option<RoaringBitmap> {
        match f {
            Filter::Exists(_) => Some(self.exists(idx)),
            Filter::Eq(_, v) => self.eq(idx, v),
            Filter::In(_, vs) => {
                let mut out = RoaringBitmap::new();
                for v in vs {
                    out |= self.eq(idx, v)?;
                }
                Some(out)
            }
            Filter::Ne(_, v) => {
                let eq = self.eq(idx, v)?;
                let mut out = self.exists(idx);
                out -= eq;
                Some(out)
            }
            Filter::Range { lower, upper, .. } if idx.spec().range => {
                Some(self.range(idx, lower, upper))
            }
            _ => None,
        }
    }

    fn eq(&self, idx: &FieldView<'_>, v: &Value) -> Option<RoaringBitmap> {
        let spec = idx.spec();
        if spec.keyword {
            let key = KeywordKey::of_query(v)?;
            return Some(self.keyword(idx, &key));
        }
        if spec.range && Orderable::of(v).is_some() {
            let b = Bound::Included(v.clone());
            return Some(self.range(idx, &b, &b));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::external_id::ExternalId;
    use crate::op::MetaOp;
    use crate::schema::Schema;
    use crate::value::Document;

    /// Every filter agrees with brute force, with and without indexes.
    #[test]
    fn index_answers_equal_brute_force() {
        let indexed = Schema::new()
            .keyword("user")
            .keyword("kind")
            .range("importance")
            .range("at")
            .keyword("tags")
            .keyword("n")
            .range("n");
        let mut states = [
            MetaState::new(indexed.clone()).unwrap(),
            MetaState::new(Schema::new()).unwrap(),
        ];
        for i in 0..2000u64 {
            let mut doc = Document::new();
            doc.insert("user".into(), Value::String(format!("u{}", i % 13)));
            if i % 3 != 0 {
                doc.insert(
                    "kind".into(),
                    Value::String(["a", "b", "c"][(i % 7 % 3) as usize].into()),
                );
            }
            doc.insert("importance".into(), Value::Float((i % 100) as f64 / 100.0));
            doc.insert("at".into(), Value::Timestamp((i * 7919 % 1000) as i64));
            doc.insert(
                "tags".into(),
                Value::List(vec![format!("t{}", i % 4), format!("t{}", i % 5)]),
            );
            doc.insert(
                "n".into(),
                match i % 4 {
                    0 => Value::Int((i % 10) as i64),
                    1 => Value::Float((i % 10) as f64),
                    2 => Value::String("x".into()),
                    _ => Value::Null,
                },
            );
            for s in &mut states {
                s.apply(&MetaOp::Put {
                    id: ExternalId::U64(i),
                    doc: doc.clone(),
                })
                .unwrap();
            }
        }
        for i in (0..2000u64).step_by(5) {
            for s in &mut states {
                s.apply(&MetaOp::Delete {
                    id: ExternalId::U64(i),
                })
                .unwrap();
            }
        }
        // The indexed state again, opened in place from its checkpoint (ranges answered
        // by binary search in the mapped entries), with a few later changes on top.
        let bytes = states[0].encode_checkpoint().unwrap();
        let (mut reopened, _) = MetaState::open_checkpoint(
            mnemodb_io::ReadOnlyBytes::copy_from_slice(&bytes),
            std::path::Path::new("c"),
            indexed.clone(),
        )
        .unwrap();
        for i in (1..2000u64).step_by(97) {
            let mut doc = Document::new();
            doc.insert("user".into(), Value::String("u3".into()));
            doc.insert("at".into(), Value::Timestamp(999 - i as i64 % 50));
            for s in states.iter_mut().chain([&mut reopened]) {
                s.apply(&MetaOp::Put {
                    id: ExternalId::U64(i),
                    doc: doc.clone(),
                })
                .unwrap();
            }
        }
        let states = [&states[0], &states[1], &reopened];
        let filters = [
            // A small keyword set, then ranges whose complement is small (answered from
            // the index) or large (probed).
            "user = \"u3\" and at > @20 and importance < 0.995",
            "user = \"u3\" and at <= @20",
            "user = \"u3\" and at = @990",
            "user = \"u3\"",
            "user = \"u3\" and importance >= 0.5",
            "user in [\"u1\", \"u2\"] and at < 300 or kind = \"a\"",
            "user = \"u3\" and at >= @100 and at < @600",
            "kind != \"a\"",
            "not (kind = \"b\")",
            "importance > 0.2",
            "importance < 0.9 and importance > 0.1",
            "tags = \"t1\" and tags != \"t2\"",
            "tags = [\"t1\", \"t1\"]",
            "n = 3",
            "n = 3.0 or n = null",
            "n > 2.5",
            "n >= \"a\"",
            "exists(kind) and not exists(missing)",
            "missing = 1 or user = \"u0\"",
            "at = @500",
            "importance = \"high\"",
            "*",
            "not *",
            // `not` of a bitmap leaf is planned as a bitmap (no per-document probe).
            "importance >= 0.7 and not kind in [\"a\", \"b\"]",
            "user = \"u3\" and not (kind = \"c\") and at > @200",
            "not missing = 1 and importance < 0.3",
            "not (kind in [\"a\", \"b\"]) and not (tags = \"t1\") and at <= @900",
            "(importance >= 0.9 and not kind = \"a\") or (kind = \"a\" and at > @950)",
        ];
        for text in filters {
            let f = Filter::parse(text).unwrap();
            let want: RoaringBitmap = states[0]
                .scan()
                .filter(|(_, _, d)| f.matches(d))
                .map(|(i, _, _)| i)
                .collect();
            for s in states {
                assert_eq!(s.filter(&f).unwrap(), want, "{text}");
            }
        }
        let strict = FilterOptions { strict: true };
        assert!(matches!(
            states[0].filter_with(&Filter::parse("usr = \"u1\"").unwrap(), strict),
            Err(Error::UnknownField { .. })
        ));
        assert!(
            states[0]
                .filter_with(&Filter::parse("user = \"u1\"").unwrap(), strict)
                .is_ok()
        );
    }
}
