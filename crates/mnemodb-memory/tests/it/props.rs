//! Property tests through the store: consolidation is idempotent and scope-preserving,
//! recall never crosses scopes, assembled contexts are never over budget.
use std::collections::BTreeMap;

use mnemodb_memory::{
    ConsolidateOptions, ContextRequest, MemoryStatus, NewMemory, QueryInput, RecallRequest, Role,
    Scope, TokenEstimator, WordEstimator,
};
use proptest::prelude::*;

use crate::common::*;

const DIM: usize = 8;

fn scopes() -> [Scope; 3] {
    [
        Scope::user("a"),
        Scope::user("a").agent("x"),
        Scope::user("b"),
    ]
}

/// (scope index, topic, noise seed, number in text)
fn memories() -> impl Strategy<Value = Vec<(usize, usize, u64, Option<u8>)>> {
    proptest::collection::vec(
        (
            0usize..3,
            0usize..4,
            any::<u64>(),
            proptest::option::of(0u8..3),
        ),
        1..28,
    )
}

fn vector(topic: usize, seed: u64) -> Vec<f32> {
    let base = random_vectors(4, DIM, 7)[topic].clone();
    let noise = random_vectors(1, DIM, seed)[0].clone();
    base.iter().zip(noise).map(|(b, n)| b + 0.15 * n).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn consolidation_is_idempotent_and_scope_preserving(ms in memories()) {
        let t = open(DIM, |c| flat(untracked(c)));
        t.clock.set(day(1.0));
        let sc = scopes();
        for (i, (s, topic, seed, num)) in ms.iter().enumerate() {
            let text = match num { Some(n) => format!("topic {topic} item {n}"), None => format!("topic {topic}") };
            t.store.remember(NewMemory::new(sc[*s].clone(), text).vector(vector(*topic, *seed)).at(day(i as f64 / 100.0)).id(format!("m{i}"))).unwrap();
        }
        t.clock.set(day(1.0));
        let opts = ConsolidateOptions { neighbours: Some(64), ..Default::default() };
        let mut merged_total = 0;
        for q in [Scope::user("a"), Scope::user("b")] {
            let r = t.store.consolidate(&q, &opts).unwrap();
            for g in &r.groups {
                let key = t.store.get(&g.survivor).unwrap().unwrap().scope.key();
                for id in &g.merged {
                    let m = t.store.get(id).unwrap().unwrap();
                    prop_assert_eq!(m.scope.key(), key.clone(), "merged across scopes");
                    prop_assert_eq!(m.status, MemoryStatus::Merged { into: g.survivor.clone() });
                }
                merged_total += g.merged.len();
            }
            // Idempotent: again (incremental) and again (full) change nothing.
            prop_assert!(t.store.consolidate(&q, &opts).unwrap().groups.is_empty());
            let full = ConsolidateOptions { full: true, ..opts.clone() };
            prop_assert!(t.store.consolidate(&q, &full).unwrap().groups.is_empty());
        }
        // Nothing lost: every memory is still stored; active + merged = all.
        let all: Vec<_> = [Scope::user("a"), Scope::user("b")].iter().flat_map(|s| t.store.list(s).unwrap()).collect();
        prop_assert_eq!(all.len(), ms.len());
        prop_assert_eq!(all.iter().filter(|m| m.status != MemoryStatus::Active).count(), merged_total);
    }

    #[test]
    fn recall_never_returns_another_scopes_memory(ms in memories(), topic in 0usize..4, k in 1usize..12) {
        let t = open(DIM, untracked);
        let sc = scopes();
        let mut by_scope: BTreeMap<String, usize> = BTreeMap::new();
        for (i, (s, tp, seed, _)) in ms.iter().enumerate() {
            t.store.remember(NewMemory::new(sc[*s].clone(), format!("t{tp}")).vector(vector(*tp, *seed)).importance(0.5)).unwrap();
            *by_scope.entry(sc[*s].key()).or_default() += 1;
            let _ = i;
        }
        for q in sc.iter().cloned().chain([Scope::user("c"), Scope::user("a").session("s")]) {
            let hits = t.store.recall(&RecallRequest::new(q.clone(), vector(topic, 1)).k(k)).unwrap().hits;
            let visible: usize = sc.iter().filter(|s| q.contains(s)).map(|s| by_scope.get(&s.key()).copied().unwrap_or(0)).sum();
            prop_assert_eq!(hits.len(), k.min(visible));
            for h in hits {
                prop_assert!(q.contains(&h.memory.scope), "{} got {}", q, h.memory.scope);
            }
        }
    }

    #[test]
    fn assembled_context_is_never_over_budget(
        turns in proptest::collection::vec("[a-z ]{0,60}", 0..10),
        budget in 0usize..200,
        per_word in 0.5f64..2.5,
    ) {
        let t = open(DIM, untracked);
        let s = Scope::user("u").session("s");
        for (i, text) in turns.iter().enumerate() {
            if !text.trim().is_empty() {
                t.store.append_turn(&s, if i % 2 == 0 { Role::User } else { Role::Assistant }, text, None, None).unwrap();
            }
            t.store.remember(NewMemory::new(Scope::user("u"), format!("memory {i} {text}")).vector(vector(i % 4, i as u64))).unwrap();
        }
        t.store.pin(&s, "the user is called Ana").unwrap();
        let est = WordEstimator { per_word };
        let mut req = ContextRequest::new(s.clone(), "what did we decide about the database", budget);
        req.query = Some(QueryInput::Both { text: req.message.clone(), vector: vector(0, 9) });
        req.estimator = Some(&est);
        let c = t.store.build_context(&req).unwrap();
        prop_assert!(est.estimate(&c.render()) <= budget);
        prop_assert_eq!(c, t.store.build_context(&req).unwrap());
    }
}
