//! The secondary indexes of one declared field: keyword bitmaps, an ordered (value, id)
//! set for ranges, and an `exists` bitmap.
//!
//! **Range index representation, chosen by measurement** (1M documents, `metastore` bench):
//! a map value → bitmap costs one bitmap per distinct value, and `created_at` or a float
//! `importance` are nearly unique per document, so it degenerates into a million one-id
//! bitmaps (≈ 100 bytes each) and a wide range unions a million of them. The ordered set of
//! `(value, id)` pairs is ~24 bytes per document, updates in O(log n) with structural
//! sharing, and answers a range by walking it. A wide range (`importance > 0.2`, 80 % of the
//! documents) is answered by walking the *smaller* side: the range and its complement are
//! walked in lockstep and whichever ends first wins (complement → subtract from the
//! per-class bitmap). Selective conjunctions never walk the range at all: the evaluator
//! probes candidates' values instead.
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use roaring::RoaringBitmap;

use crate::bitmap::ChunkedBitmap;
use crate::schema::FieldIndex;
use crate::value::{Number, Orderable, Value};

/// A key of the keyword index. `Int` and `Float` holding the same number are the same key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum KeywordKey {
    Null,
    Bool(bool),
    Number(Number),
    Timestamp(i64),
    Str(Arc<str>),
}

impl KeywordKey {
    /// The key a filter value looks up; `None` for values the keyword index cannot answer
    /// (lists, maps, NaN).
    pub(crate) fn of_query(v: &Value) -> Option<KeywordKey> {
        Some(match v {
            Value::Null => KeywordKey::Null,
            Value::Bool(b) => KeywordKey::Bool(*b),
            Value::Int(_) | Value::Float(_) => KeywordKey::Number(Number::of(v)?),
            Value::Timestamp(t) => KeywordKey::Timestamp(*t),
            Value::String(s) => KeywordKey::Str(Arc::from(s.as_str())),
            Value::List(_) | Value::Map(_) => return None,
        })
    }

    /// The keys a stored value is indexed under (list members each; maps none).
    fn of_stored(v: &Value, out: &mut Vec<KeywordKey>) {
        match v {
            Value::List(items) => {
                for s in items {
                    let k = KeywordKey::Str(Arc::from(s.as_str()));
                    if !out.contains(&k) {
                        out.push(k);
                    }
                }
            }
            Value::Map(_) => {}
            other => out.extend(KeywordKey::of_query(other)),
        }
    }
}

/// Indexes of one field; see the module doc.
#[derive(Debug, Clone, Default)]
pub(crate) struct FieldIndexData {
    pub(crate) spec: FieldIndex,
    /// Documents where the field is present.
    pub(crate) exists: ChunkedBitmap,
    pub(crate) keyword: imbl::OrdMap<KeywordKey, ChunkedBitmap>,
    pub(crate) range: imbl::OrdSet<(Orderable, u32)>,
    /// Documents with a number in the range index.
    pub(crate) numbers: ChunkedBitmap,
    /// Documents with a timestamp in the range index.
    pub(crate) timestamps: ChunkedBitmap,
}

/// One `(value, id)` entry of a range index.
pub(crate) type RangeEntry = (Orderable, u32);

/// What a range filter walks, independent of how the range index is stored
/// ([`plan_range`]).
#[derive(Debug, Clone)]
pub(crate) enum RangePlan {
    /// Nothing can match.
    Empty,
    /// Both ends unbounded: every number and every timestamp.
    All,
    /// The entries between `start` and `end`, within one class (numbers or timestamps)
    /// whose first and last possible keys are `class_first` and `class_last`.
    Walk {
        start: Bound<RangeEntry>,
        end: Bound<RangeEntry>,
        class_first: RangeEntry,
        class_last: RangeEntry,
        timestamps: bool,
    },
}

/// The plan of a range filter, as [`crate::filter::in_range`] defines it.
pub(crate) fn plan_range(lower: &Bound<Value>, upper: &Bound<Value>) -> RangePlan {
    let conv = |b: &Bound<Value>| -> Option<Bound<Orderable>> {
        Some(match b {
            Bound::Unbounded => Bound::Unbounded,
            Bound::Included(v) => Bound::Included(Orderable::of(v)?),
            Bound::Excluded(v) => Bound::Excluded(Orderable::of(v)?),
        })
    };
    let (Some(lo), Some(hi)) = (conv(lower), conv(upper)) else {
        return RangePlan::Empty;
    };
    let class = match (&lo, &hi) {
        (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) => {
            if !a.same_class(b) {
                return RangePlan::Empty;
            }
            *a
        }
        (Bound::Included(a) | Bound::Excluded(a), Bound::Unbounded)
        | (Bound::Unbounded, Bound::Included(a) | Bound::Excluded(a)) => *a,
        (Bound::Unbounded, Bound::Unbounded) => return RangePlan::All,
    };
    // The class's first and last possible keys.
    let (class_first, class_last, timestamps) = match class {
        Orderable::Number(_) => (
            (Orderable::Number(Number::Float(f64::NEG_INFINITY)), 0u32),
            (Orderable::Number(Number::Float(f64::INFINITY)), u32::MAX),
            false,
        ),
        Orderable::Timestamp(_) => (
            (Orderable::Timestamp(i64::MIN), 0u32),
            (Orderable::Timestamp(i64::MAX), u32::MAX),
            true,
        ),
    };
    // Ids are < u32::MAX, so (v, 0) and (v, u32::MAX) bracket every entry of value v.
    let start = match lo {
        Bound::Unbounded => Bound::Included(class_first),
        Bound::Included(v) => Bound::Included((v, 0)),
        Bound::Excluded(v) => Bound::Excluded((v, u32::MAX)),
    };
    let end = match hi {
        Bound::Unbounded => Bound::Included(class_last),
        Bound::Included(v) => Bound::Included((v, u32::MAX)),
        Bound::Excluded(v) => Bound::Excluded((v, 0)),
    };
    let (s, e) = match (&start, &end) {
        (Bound::Included(s) | Bound::Excluded(s), Bound::Included(e) | Bound::Excluded(e)) => {
            (*s, *e)
        }
        _ => return RangePlan::Empty,
    };
    if s > e
        || (s == e && !(matches!(start, Bound::Included(_)) && matches!(end, Bound::Included(_))))
    {
        return RangePlan::Empty;
    }
    RangePlan::Walk {
        start,
        end,
        class_first,
        class_last,
        timestamps,
    }
}

impl FieldIndexData {
    pub(crate) fn new(spec: FieldIndex) -> Self {
        FieldIndexData {
            spec,
            ..Default::default()
        }
    }

    /// Index `value` as the field's value in document `id`.
    pub(crate) fn add(&mut self, id: u32, value: &Value) {
        self.exists.insert(id);
        if self.spec.keyword {
            let mut keys = Vec::new();
            KeywordKey::of_stored(value, &mut keys);
            for k in keys {
                match self.keyword.get_mut(&k) {
                    Some(b) => {
                        b.insert(id);
                    }
                    None => {
                        let mut b = ChunkedBitmap::default();
                        b.insert(id);
                        self.keyword.insert(k, b);
                    }
                }
            }
        }
        if self.spec.range
            && let Some(o) = Orderable::of(value)
        {
            self.range.insert((o, id));
            match o {
                Orderable::Number(_) => self.numbers.insert(id),
                Orderable::Timestamp(_) => self.timestamps.insert(id),
            };
        }
    }

    /// Undo [`add`](Self::add) of the same value.
    pub(crate) fn remove(&mut self, id: u32, value: &Value) {
        self.exists.remove(id);
        if self.spec.keyword {
            let mut keys = Vec::new();
            KeywordKey::of_stored(value, &mut keys);
            for k in keys {
                let now_empty = match self.keyword.get_mut(&k) {
                    Some(b) => {
                        b.remove(id);
                        b.is_empty()
                    }
                    None => false,
                };
                if now_empty {
                    self.keyword.remove(&k);
                }
            }
        }
        if self.spec.range
            && let Some(o) = Orderable::of(value)
        {
            self.range.remove(&(o, id));
            match o {
                Orderable::Number(_) => self.numbers.remove(id),
                Orderable::Timestamp(_) => self.timestamps.remove(id),
            };
        }
    }

    /// Documents whose value equals the keyword `key` (for lists: contains it).
    pub(crate) fn keyword(&self, key: &KeywordKey) -> Option<&ChunkedBitmap> {
        debug_assert!(self.spec.keyword);
        self.keyword.get(key)
    }

    /// Number of distinct keyword values.
    #[cfg(test)]
    pub(crate) fn keyword_values(&self) -> usize {
        self.keyword.len()
    }

    /// Documents whose value lies within the bounds, as [`crate::filter::in_range`]
    /// defines it (tests; the evaluator plans once with [`plan_range`]). `next_id` bounds the ids (for the dense result builder).
    #[cfg(test)]
    pub(crate) fn range(
        &self,
        lower: &Bound<Value>,
        upper: &Bound<Value>,
        next_id: u32,
    ) -> RoaringBitmap {
        debug_assert!(self.spec.range);
        self.range_plan(&plan_range(lower, upper), next_id)
    }

    /// The answer to a [`RangePlan`] from this index.
    pub(crate) fn range_plan(&self, plan: &RangePlan, next_id: u32) -> RoaringBitmap {
        let RangePlan::Walk {
            start,
            end,
            class_first,
            class_last,
            timestamps,
        } = plan
        else {
            if matches!(plan, RangePlan::Empty) {
                return RoaringBitmap::new();
            }
            let mut out = self.numbers.to_roaring();
            self.timestamps.or_into(&mut out);
            return out;
        };
        let class_ids = if *timestamps {
            &self.timestamps
        } else {
            &self.numbers
        };
        let (mut inside, mut outside) = self.range_walk(start, end, class_first, class_last);
        let (mut ins, mut outs) = (Vec::new(), Vec::new());
        loop {
            match inside.next() {
                Some(id) => ins.push(id),
                None => return ids_to_bitmap(ins, next_id),
            }
            match outside.next() {
                Some(id) => outs.push(id),
                None => {
                    let mut all = class_ids.to_roaring();
                    all -= ids_to_bitmap(outs, next_id);
                    return all;
                }
            }
        }
    }

    /// How many entries [`Self::range_plan`] would walk (the smaller of the answer and its
    /// complement within the value class), counting at most `cap`: for planning.
    pub(crate) fn range_work(&self, plan: &RangePlan, cap: u64) -> u64 {
        let RangePlan::Walk {
            start,
            end,
            class_first,
            class_last,
            ..
        } = plan
        else {
            return 0;
        };
        let (mut inside, mut outside) = self.range_walk(start, end, class_first, class_last);
        let mut n = 0;
        while n < cap && inside.next().is_some() && outside.next().is_some() {
            n += 1;
        }
        n
    }

    /// The ids of a range's answer and of its complement within the value class
    /// (`class_first..=class_last`), each in value order.
    fn range_walk<'a>(
        &'a self,
        start: &'a Bound<RangeEntry>,
        end: &'a Bound<RangeEntry>,
        class_first: &'a RangeEntry,
        class_last: &'a RangeEntry,
    ) -> (
        impl Iterator<Item = u32> + 'a,
        impl Iterator<Item = u32> + 'a,
    ) {
        // The complement: below `start` and above `end`.
        let below_start = match start {
            Bound::Included(s) => Bound::Excluded(*s),
            Bound::Excluded(s) => Bound::Included(*s),
            Bound::Unbounded => Bound::Unbounded,
        };
        let above_end = match end {
            Bound::Included(e) => Bound::Excluded(*e),
            Bound::Excluded(e) => Bound::Included(*e),
            Bound::Unbounded => Bound::Unbounded,
        };
        let inside = self.range.range((*start, *end)).map(|(_, id)| *id);
        let outside = self
            .range
            .range((Bound::Included(*class_first), below_start))
            .chain(self.range.range((above_end, Bound::Included(*class_last))))
            .map(|(_, id)| *id);
        (inside, outside)
    }

    /// The documents holding an orderable value of either class (for `Range` with two
    /// unbounded ends).
    #[cfg(test)]
    pub(crate) fn range_len(&self) -> usize {
        self.range.len()
    }
}

/// Builds a [`FieldIndexData`] in bulk from documents visited in ascending id order (a
/// checkpoint load): ids and (value, id) pairs are collected, sorted once, and every
/// bitmap and the range set are built from sorted input — instead of one persistent-map
/// update per document and index.
#[derive(Debug)]
pub(crate) struct FieldIndexBuilder {
    spec: FieldIndex,
    exists: Vec<u32>,
    keyword: BTreeMap<KeywordKey, Vec<u32>>,
    range: Vec<(Orderable, u32)>,
    numbers: Vec<u32>,
    timestamps: Vec<u32>,
    keys: Vec<KeywordKey>,
}

impl FieldIndexBuilder {
    pub(crate) fn new(spec: FieldIndex) -> Self {
        FieldIndexBuilder {
            spec,
            exists: Vec::new(),
            keyword: BTreeMap::new(),
            range: Vec::new(),
            numbers: Vec::new(),
            timestamps: Vec::new(),
            keys: Vec::new(),
        }
    }

    /// What [`FieldIndexData::add`] does; ids must come in ascending order.
    pub(crate) fn add(&mut self, id: u32, value: &Value) {
        debug_assert!(self.exists.last().is_none_or(|&last| last < id));
        self.exists.push(id);
        if self.spec.keyword {
            self.keys.clear();
            KeywordKey::of_stored(value, &mut self.keys);
            for k in self.keys.drain(..) {
                match self.keyword.get_mut(&k) {
                    Some(ids) => ids.push(id),
                    None => {
                        self.keyword.insert(k, vec![id]);
                    }
                }
            }
        }
        if self.spec.range
            && let Some(o) = Orderable::of(value)
        {
            self.range.push((o, id));
            match o {
                Orderable::Number(_) => self.numbers.push(id),
                Orderable::Timestamp(_) => self.timestamps.push(id),
            }
        }
    }

    pub(crate) fn finish(mut self) -> FieldIndexData {
        self.range.sort_unstable();
        let mut range = imbl::OrdSet::new();
        for entry in self.range {
            range.insert(entry);
        }
        FieldIndexData {
            spec: self.spec,
            exists: ChunkedBitmap::from_ids(self.exists),
            keyword: self
                .keyword
                .into_iter()
                .map(|(k, ids)| (k, ChunkedBitmap::from_ids(ids)))
                .collect(),
            range,
            numbers: ChunkedBitmap::from_ids(self.numbers),
            timestamps: ChunkedBitmap::from_ids(self.timestamps),
        }
    }
}

/// A bitmap of unsorted, unique ids below `next_id`: sort for sparse sets, a dense bit array
/// for large ones.
pub(crate) fn ids_to_bitmap(mut ids: Vec<u32>, next_id: u32) -> RoaringBitmap {
    if (ids.len() as u64) * 64 < u64::from(next_id) {
        ids.sort_unstable();
        return RoaringBitmap::from_sorted_iter(ids).unwrap_or_default();
    }
    let mut bytes = vec![0u8; (next_id as usize).div_ceil(8)];
    for id in ids {
        if let Some(b) = bytes.get_mut(id as usize / 8) {
            *b |= 1 << (id % 8);
        }
    }
    RoaringBitmap::from_lsb0_bytes(0, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::in_range;

    #[test]
    fn range_matches_reference_semantics() {
        let spec = FieldIndex {
            keyword: true,
            range: true,
        };
        let mut idx = FieldIndexData::new(spec);
        let values: Vec<Value> = (0..300u32)
            .map(|i| match i % 5 {
                0 => Value::Int(i64::from(i % 17) - 8),
                1 => Value::Float(f64::from(i % 13) / 2.0 - 3.0),
                2 => Value::Timestamp(i64::from(i % 11)),
                3 => Value::String(format!("s{}", i % 3)),
                _ => Value::Float(f64::NAN),
            })
            .collect();
        for (id, v) in values.iter().enumerate() {
            idx.add(id as u32, v);
        }
        let bounds = [
            Value::Int(-3),
            Value::Int(0),
            Value::Float(0.5),
            Value::Float(-8.5),
            Value::Int(9),
            Value::Timestamp(3),
            Value::Timestamp(0),
            Value::String("s1".into()),
            Value::Float(f64::NAN),
        ];
        let mut all = vec![Bound::Unbounded];
        for b in &bounds {
            all.push(Bound::Included(b.clone()));
            all.push(Bound::Excluded(b.clone()));
        }
        for lo in &all {
            for hi in &all {
                let got = idx.range(lo, hi, 300);
                let want: RoaringBitmap = values
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| in_range(v, lo, hi))
                    .map(|(i, _)| i as u32)
                    .collect();
                assert_eq!(got, want, "{lo:?} .. {hi:?}");
            }
        }
        // Keyword: Int 2 and Float 2.0 are one key.
        let k = KeywordKey::of_query(&Value::Float(2.0)).unwrap();
        let hits = idx.keyword(&k).unwrap().to_roaring();
        for id in hits.iter() {
            assert!(crate::filter::value_equals(
                &values[id as usize],
                &Value::Int(2)
            ));
        }
        for (id, v) in values.iter().enumerate() {
            idx.remove(id as u32, v);
        }
        assert!(idx.exists.is_empty());
        assert_eq!(idx.keyword_values(), 0);
        assert_eq!(idx.range_len(), 0);
    }

    #[test]
    fn dense_and_sparse_builders_agree() {
        let ids: Vec<u32> = (0..10_000).rev().map(|i| i * 3).collect();
        let want: RoaringBitmap = ids.iter().copied().collect();
        assert_eq!(ids_to_bitmap(ids.clone(), 30_000), want);
        assert_eq!(ids_to_bitmap(ids, 100_000_000), want);
    }
}
