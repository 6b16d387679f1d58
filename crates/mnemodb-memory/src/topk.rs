//! The composite top-k: exact with respect to the candidates a similarity index returns.
//!
//! Re-ranking a fixed over-fetched pool (what most memory layers do) silently loses a memory
//! whose importance or freshness would have won but whose similarity put it just outside the
//! pool. This module grows the pool until no unseen memory can win:
//!
//! 1. A scope of at most `exact_scan_max` memories is fetched whole (an exact scan).
//! 2. Otherwise fetch the `f` most similar (`f = max(k · overfetch, min_fetch)`), score them
//!    all, and look at the k-th best composite score `s_k` and the similarity `σ` of the least
//!    similar candidate fetched. An unseen memory is at most as similar as `σ` (the source
//!    returns candidates by decreasing similarity), so its composite is at most
//!    `upper_bound(σ)` (importance 1, decay 1; see [`Scorer::upper_bound`](crate::Scorer::upper_bound)).
//!    If `s_k > upper_bound(σ)`, no unseen memory can enter the top k: stop.
//! 3. Else fetch `growth ×` more and repeat; fetching the whole scope ends it.
//!
//! The result is exact whenever the source's similarity order is exact (an exact scan, or
//! the engine's exact path for selective filters); over an approximate index it is exact
//! up to the index's own recall, which the benchmarks measure as "composite recall@k".
use std::cmp::Ordering;

/// One candidate as the similarity source returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate<T> {
    /// Similarity to the query (higher is closer).
    pub similarity: f32,
    /// What the scorer needs (the stored record).
    pub item: T,
}

/// Something that returns the `n` most similar candidates of one scope, most similar first.
pub trait CandidateSource {
    /// The candidate payload.
    type Item;
    /// The error type.
    type Error;
    /// How many candidates the scope holds (an upper bound is fine).
    fn scope_len(&mut self) -> Result<usize, Self::Error>;
    /// The `n` most similar candidates, similarity non-increasing. Fewer than `n` means the
    /// scope is exhausted.
    fn nearest(&mut self, n: usize) -> Result<Vec<Candidate<Self::Item>>, Self::Error>;
}

/// How hard the top-k works for exactness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopKPlan {
    /// Scopes up to this size are scanned whole (default 1,024).
    pub exact_scan_max: usize,
    /// First fetch is `max(k · overfetch, min_fetch)` (default 4).
    pub overfetch: usize,
    /// Lower bound of the first fetch (default 64).
    pub min_fetch: usize,
    /// Each further round fetches this many times more (default 4, at least 2).
    pub growth: usize,
    /// `false`: stop after the first fetch (a plain over-fetch re-rank, for comparison).
    pub exact: bool,
}

impl Default for TopKPlan {
    fn default() -> Self {
        TopKPlan {
            exact_scan_max: 1_024,
            overfetch: 4,
            min_fetch: 64,
            growth: 4,
            exact: true,
        }
    }
}

/// A ranked item with its composite score.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked<T> {
    /// Composite score.
    pub score: f64,
    /// Similarity to the query.
    pub similarity: f32,
    /// The item.
    pub item: T,
}

/// The ranked top k and what it took.
pub type TopK<T> = (Vec<Ranked<T>>, TopKStats);

/// What the top-k did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TopKStats {
    /// Fetch rounds.
    pub rounds: usize,
    /// Candidates fetched in the last round.
    pub fetched: usize,
    /// The scope was fetched whole (exact scan or exhausted).
    pub exhaustive: bool,
    /// Stopped because the bound proved no unseen candidate can enter the top k.
    pub bound_stop: bool,
}

/// The top `k` by composite score, best first, ties broken by `tie` ascending (e.g. by id).
///
/// `score(similarity, item)` is the composite; `bound(similarity)` must be ≥ the composite of
/// every candidate with that similarity or less, and non-decreasing in similarity.
pub fn composite_top_k<S, F, B, K, O>(
    source: &mut S,
    k: usize,
    plan: &TopKPlan,
    mut score: F,
    bound: B,
    tie: K,
) -> Result<TopK<S::Item>, S::Error>
where
    S: CandidateSource,
    F: FnMut(f32, &S::Item) -> f64,
    B: Fn(f32) -> f64,
    K: Fn(&S::Item) -> O,
    O: Ord,
{
    let mut stats = TopKStats::default();
    if k == 0 {
        return Ok((Vec::new(), stats));
    }
    let n = source.scope_len()?;
    if n == 0 {
        stats.exhaustive = true;
        return Ok((Vec::new(), stats));
    }
    let mut fetch = if n <= plan.exact_scan_max {
        n
    } else {
        k.saturating_mul(plan.overfetch.max(1))
            .max(plan.min_fetch)
            .max(k)
            .min(n)
    };
    loop {
        stats.rounds += 1;
        let candidates = source.nearest(fetch)?;
        stats.fetched = candidates.len();
        let exhausted = candidates.len() < fetch || fetch >= n;
        let least_similar = candidates
            .iter()
            .map(|c| c.similarity)
            .fold(f32::INFINITY, |a, s| if s < a { s } else { a });
        let mut ranked: Vec<Ranked<S::Item>> = candidates
            .into_iter()
            .map(|c| Ranked {
                score: sanitize(score(c.similarity, &c.item)),
                similarity: c.similarity,
                item: c.item,
            })
            .collect();
        ranked.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| tie(&a.item).cmp(&tie(&b.item)))
        });
        ranked.truncate(k);
        if exhausted {
            stats.exhaustive = true;
            return Ok((ranked, stats));
        }
        if !plan.exact {
            return Ok((ranked, stats));
        }
        if ranked.len() == k
            && let Some(kth) = ranked.last()
            && kth.score.total_cmp(&bound(least_similar)) == Ordering::Greater
        {
            stats.bound_stop = true;
            return Ok((ranked, stats));
        }
        fetch = fetch.saturating_mul(plan.growth.max(2)).min(n);
    }
}

/// One band of a partitioned scope: its candidate source and the bound of its members
/// (`bound(s)` ≥ the composite of every member with similarity ≤ `s`).
pub struct Band<S, B> {
    /// The band's candidates.
    pub source: S,
    /// Its bound.
    pub bound: B,
}

impl<S, B> std::fmt::Debug for Band<S, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Band")
    }
}

/// The exact composite top-k over a scope partitioned into bands (Fagin's threshold
/// algorithm, one sorted list per band).
///
/// 1. One round over the whole scope (`global`, bounded by `global_bound`) fetches the `f`
///    most similar candidates; it sets the k-th score `s_k`, and every unseen memory is at
///    most as similar as the least similar fetched, `σ`. If `s_k > global_bound(σ)`: done.
/// 2. Otherwise the bands are visited by decreasing `bound(σ)`. A band whose members are
///    capped (all of low importance, or all old) has a tight bound: it is skipped when
///    `s_k > bound(σ)` (no unseen member can enter the top k), else fetched in growing rounds
///    until `s_k > bound(least similar fetched)` or it is exhausted.
///
/// The bands must partition the scope. The result equals [`composite_top_k`]'s whenever the
/// sources return candidates in exact similarity order.
pub fn banded_top_k<S, G, B, F, K, O>(
    global: &mut S,
    global_bound: G,
    bands: &mut [Band<S, B>],
    k: usize,
    plan: &TopKPlan,
    mut score: F,
    tie: K,
) -> Result<TopK<S::Item>, S::Error>
where
    S: CandidateSource,
    G: Fn(f32) -> f64,
    B: Fn(f32) -> f64,
    F: FnMut(f32, &S::Item) -> f64,
    K: Fn(&S::Item) -> O,
    O: Ord,
{
    let mut stats = TopKStats::default();
    let mut top: Vec<Ranked<S::Item>> = Vec::new();
    if k == 0 {
        return Ok((top, stats));
    }
    let first = k
        .saturating_mul(plan.overfetch.max(1))
        .max(plan.min_fetch)
        .max(k);
    let mut merge = |top: &mut Vec<Ranked<S::Item>>, candidates: Vec<Candidate<S::Item>>| -> f32 {
        let least = candidates
            .iter()
            .map(|c| c.similarity)
            .fold(f32::INFINITY, |a, s| if s < a { s } else { a });
        top.extend(candidates.into_iter().map(|c| Ranked {
            score: sanitize(score(c.similarity, &c.item)),
            similarity: c.similarity,
            item: c.item,
        }));
        top.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| tie(&a.item).cmp(&tie(&b.item)))
        });
        top.dedup_by(|a, b| tie(&a.item) == tie(&b.item));
        top.truncate(k);
        least
    };
    let kth = |top: &[Ranked<S::Item>]| {
        if top.len() == k {
            top.last().map(|r| r.score)
        } else {
            None
        }
    };

    stats.rounds = 1;
    let candidates = global.nearest(first)?;
    stats.fetched = candidates.len();
    let exhausted = candidates.len() < first;
    let sigma = merge(&mut top, candidates);
    if exhausted {
        stats.exhaustive = true;
        return Ok((top, stats));
    }
    if kth(&top).is_some_and(|t| t > global_bound(sigma)) {
        stats.bound_stop = true;
        return Ok((top, stats));
    }
    let mut order: Vec<(f64, usize)> = bands
        .iter()
        .enumerate()
        .map(|(i, b)| ((b.bound)(sigma), i))
        .collect();
    order.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    for (cap, i) in order {
        let Some(band) = bands.get_mut(i) else {
            continue;
        };
        if kth(&top).is_some_and(|t| t > cap) {
            stats.bound_stop = true;
            continue;
        }
        // A band usually only has to show that its best is not good enough: start small.
        let mut fetch = k.max(plan.min_fetch / 4).max(1);
        loop {
            stats.rounds += 1;
            let candidates = band.source.nearest(fetch)?;
            stats.fetched += candidates.len();
            let exhausted = candidates.len() < fetch;
            let least = merge(&mut top, candidates);
            if exhausted {
                break;
            }
            if kth(&top).is_some_and(|t| t > (band.bound)(least)) {
                stats.bound_stop = true;
                break;
            }
            fetch = fetch.saturating_mul(plan.growth.max(2));
        }
    }
    Ok((top, stats))
}

fn sanitize(v: f64) -> f64 {
    if v.is_nan() { f64::NEG_INFINITY } else { v }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// An exact source over (similarity, importance, id) triples.
    struct Exact {
        items: Vec<(f32, f32, u32)>,
        calls: usize,
    }

    impl CandidateSource for Exact {
        type Item = (f32, u32);
        type Error = std::convert::Infallible;
        fn scope_len(&mut self) -> Result<usize, Self::Error> {
            Ok(self.items.len())
        }
        fn nearest(&mut self, n: usize) -> Result<Vec<Candidate<(f32, u32)>>, Self::Error> {
            self.calls += 1;
            let mut v = self.items.clone();
            v.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.2.cmp(&b.2)));
            Ok(v.into_iter()
                .take(n)
                .map(|(s, imp, id)| Candidate {
                    similarity: s,
                    item: (imp, id),
                })
                .collect())
        }
    }

    fn brute(items: &[(f32, f32, u32)], k: usize) -> Vec<u32> {
        let mut v: Vec<(f64, u32)> = items
            .iter()
            .map(|&(s, imp, id)| (f64::from(s.max(0.0)) * f64::from(imp), id))
            .collect();
        v.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        v.into_iter().take(k).map(|x| x.1).collect()
    }

    fn run(items: Vec<(f32, f32, u32)>, k: usize, plan: TopKPlan) -> (Vec<u32>, TopKStats) {
        let mut src = Exact { items, calls: 0 };
        let (r, stats) = composite_top_k(
            &mut src,
            k,
            &plan,
            |s, it| f64::from(s.max(0.0)) * f64::from(it.0),
            |s| f64::from(s.max(0.0)),
            |it| it.1,
        )
        .unwrap_or_else(|e| match e {});
        (r.into_iter().map(|r| r.item.1).collect(), stats)
    }

    #[test]
    fn an_old_important_memory_outside_the_first_pool_is_found() {
        // 5000 near-duplicates of trivia (importance 0.05) are more similar than the one
        // important memory; a 4×k pool never sees it, the exact top-k does.
        let mut items: Vec<(f32, f32, u32)> = (0..5000)
            .map(|i| (0.9 - i as f32 * 1e-5, 0.05, i))
            .collect();
        items.push((0.5, 1.0, 99_999));
        let plan = TopKPlan {
            exact_scan_max: 100,
            ..TopKPlan::default()
        };
        let (top, stats) = run(items.clone(), 3, plan);
        assert_eq!(top[0], 99_999);
        assert_eq!(top, brute(&items, 3));
        assert!(stats.rounds > 1);
        let (pool, _) = run(
            items,
            3,
            TopKPlan {
                exact: false,
                ..plan
            },
        );
        assert!(
            !pool.contains(&99_999),
            "the plain over-fetch misses it (that is the point)"
        );
    }

    #[test]
    fn stops_early_when_the_bound_allows() {
        let items: Vec<(f32, f32, u32)> = (0..10_000)
            .map(|i| (1.0 - i as f32 * 1e-4, 1.0, i))
            .collect();
        let plan = TopKPlan {
            exact_scan_max: 10,
            ..TopKPlan::default()
        };
        let (top, stats) = run(items, 5, plan);
        assert_eq!(top, vec![0, 1, 2, 3, 4]);
        assert_eq!(stats.rounds, 1);
        assert!(stats.bound_stop && !stats.exhaustive);
    }

    #[test]
    fn empty_scope_and_zero_k() {
        assert!(run(vec![], 5, TopKPlan::default()).0.is_empty());
        assert!(
            run(vec![(0.5, 0.5, 1)], 0, TopKPlan::default())
                .0
                .is_empty()
        );
    }

    /// A band source: the items of `items` whose importance is in `[lo, hi)`.
    fn band(items: &[(f32, f32, u32)], lo: f32, hi: f32) -> Band<Exact, impl Fn(f32) -> f64> {
        Band {
            source: Exact {
                items: items
                    .iter()
                    .copied()
                    .filter(|x| x.1 >= lo && x.1 < hi)
                    .collect(),
                calls: 0,
            },
            bound: move |s: f32| f64::from(s.max(0.0)) * f64::from(hi.min(1.0)),
        }
    }

    fn run_banded(items: &[(f32, f32, u32)], k: usize, cuts: &[f32]) -> (Vec<u32>, TopKStats) {
        let mut edges = vec![0.0f32];
        edges.extend_from_slice(cuts);
        edges.push(1.000_001);
        let mut bands: Vec<_> = edges.windows(2).map(|w| band(items, w[0], w[1])).collect();
        let plan = TopKPlan {
            min_fetch: 4,
            overfetch: 2,
            ..TopKPlan::default()
        };
        let mut global = Exact {
            items: items.to_vec(),
            calls: 0,
        };
        let (r, stats) = banded_top_k(
            &mut global,
            |s| f64::from(s.max(0.0)),
            &mut bands,
            k,
            &plan,
            |s, it| f64::from(s.max(0.0)) * f64::from(it.0),
            |it| it.1,
        )
        .unwrap_or_else(|e| match e {});
        (r.into_iter().map(|r| r.item.1).collect(), stats)
    }

    #[test]
    fn banded_skips_bands_that_cannot_win() {
        // 10,000 trivia (importance 0.01) very similar to the query; 20 important ones.
        let mut items: Vec<(f32, f32, u32)> = (0..10_000)
            .map(|i| (0.95 - i as f32 * 1e-6, 0.01, i))
            .collect();
        items.extend((0..20).map(|i| (0.5 + i as f32 * 0.01, 0.9, 20_000 + i)));
        let (top, stats) = run_banded(&items, 5, &[0.1, 0.5]);
        assert_eq!(top, brute(&items, 5));
        // The trivia band was searched for at most one round.
        assert!(stats.fetched < 200, "{stats:?}");
    }

    proptest! {
        #[test]
        fn banded_equals_brute_force(
            items in proptest::collection::vec((-1.0f32..1.0, 0.0f32..1.0), 0..300),
            k in 1usize..15,
            cuts in proptest::collection::btree_set(1u8..99, 0..4),
        ) {
            let items: Vec<(f32, f32, u32)> =
                items.into_iter().enumerate().map(|(i, (s, m))| (s, m, i as u32)).collect();
            let cuts: Vec<f32> = cuts.into_iter().map(|c| f32::from(c) / 100.0).collect();
            let (top, _) = run_banded(&items, k, &cuts);
            prop_assert_eq!(top, brute(&items, k));
        }

        #[test]
        fn equals_brute_force(
            items in proptest::collection::vec((-1.0f32..1.0, 0.0f32..1.0), 0..400),
            k in 1usize..20,
            scan in 0usize..50,
        ) {
            let items: Vec<(f32, f32, u32)> =
                items.into_iter().enumerate().map(|(i, (s, m))| (s, m, i as u32)).collect();
            let plan = TopKPlan { exact_scan_max: scan, min_fetch: 4, overfetch: 2, ..TopKPlan::default() };
            let (top, _) = run(items.clone(), k, plan);
            prop_assert_eq!(top, brute(&items, k));
        }
    }
}
