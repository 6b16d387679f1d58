//! The store's API: bad input, time validity, archive/restore, pruning, access tracking,
//! exact composite top-k, embedder, consolidation options.
use std::sync::Arc;

use mnemodb_memory::topk::TopKPlan;
use mnemodb_memory::{
    AccessTracking, ConsolidateOptions, Error, FactInput, MemoryKind, MemoryStatus, NewMemory,
    PruneOptions, QueryInput, RecallRequest, Role, Scope, Scorer, ScoringModel,
};

use crate::common::*;

#[test]
fn bad_input_is_refused_with_a_clear_error_and_nothing_is_written() {
    let t = open(4, |c| c);
    let u = Scope::user("u");
    let ok = || {
        NewMemory::new(u.clone(), "likes tea")
            .vector(vec![1.0, 0.0, 0.0, 0.0])
            .at(day(0.0))
    };
    let err = |m: NewMemory| t.store.remember(m).unwrap_err();
    assert!(
        matches!(err(ok().importance(1.2)), Error::InvalidInput(m) if m.contains("importance"))
    );
    assert!(matches!(err(ok().importance(-0.1)), Error::InvalidInput(_)));
    assert!(
        matches!(err(NewMemory::new(u.clone(), "   ").vector(vec![1.0; 4])), Error::InvalidInput(m) if m.contains("empty"))
    );
    assert!(matches!(err(ok().at(day(3.0))), Error::InvalidInput(m) if m.contains("future")));
    assert!(matches!(
        err(ok().vector(vec![1.0; 3])),
        Error::DimensionMismatch {
            expected: 4,
            got: 3
        }
    ));
    assert!(matches!(
        err(ok().vector(vec![f32::NAN, 0.0, 0.0, 0.0])),
        Error::InvalidInput(_)
    ));
    assert!(matches!(err(ok().vector(vec![0.0; 4])), Error::InvalidInput(m) if m.contains("zero")));
    assert!(matches!(
        err(NewMemory::new(Scope::user(""), "x").vector(vec![1.0; 4])),
        Error::InvalidInput(_)
    ));
    assert!(matches!(
        err(NewMemory::new(u.clone(), "no vector")),
        Error::NoEmbedder
    ));
    // A batch with one bad memory writes none.
    assert!(
        t.store
            .remember_batch(vec![ok(), ok().importance(7.0)])
            .is_err()
    );
    assert!(t.store.list(&u).unwrap().is_empty());
    // Ids are unique.
    t.store.remember(ok().id("x")).unwrap();
    assert!(matches!(err(ok().id("x")), Error::InvalidInput(m) if m.contains("in use")));
    // Recall: k = 0, too large, wrong dimension, empty text.
    let r = |req: RecallRequest| t.store.recall(&req).unwrap_err();
    assert!(matches!(
        r(RecallRequest::new(u.clone(), vec![1.0; 4]).k(0)),
        Error::InvalidInput(_)
    ));
    assert!(matches!(
        r(RecallRequest::new(u.clone(), vec![1.0; 4]).k(1_000_000)),
        Error::InvalidInput(_)
    ));
    assert!(matches!(
        r(RecallRequest::new(u.clone(), vec![1.0; 5])),
        Error::DimensionMismatch { .. }
    ));
    assert!(matches!(
        r(RecallRequest::new(u.clone(), "")),
        Error::InvalidInput(_)
    ));
    // Facts and turns.
    assert!(
        t.store
            .assert_fact(FactInput::new(u.clone(), "", "a", "v"))
            .is_err()
    );
    assert!(
        t.store
            .assert_fact(FactInput::new(u.clone(), "e", "a", " "))
            .is_err()
    );
    assert!(
        t.store
            .assert_fact(FactInput::new(u.clone(), "e", "a", "v").at(day(9.0)))
            .is_err()
    );
    assert!(
        t.store
            .append_turn(&u, Role::User, "hi", None, None)
            .is_err(),
        "no session id"
    );
    let s = u.clone().session("s");
    assert!(t.store.append_turn(&s, Role::User, "", None, None).is_err());
    assert!(
        t.store
            .append_turn(&s, Role::User, "hi", None, Some(2.0))
            .is_err()
    );
    // Display is one clear line.
    let msg = err(ok().importance(1.5)).to_string();
    assert!(
        msg.contains("importance 1.5 is outside [0, 1]") && !msg.contains('\n'),
        "{msg}"
    );
}

#[test]
fn supersede_is_atomic_and_as_of_sees_the_past() {
    let t = open(4, untracked);
    let u = Scope::user("u");
    let old = t
        .store
        .remember(
            NewMemory::new(u.clone(), "uses PostgreSQL")
                .vector(axis(4, 0, 0.1))
                .at(day(0.0))
                .kind(MemoryKind::Decision),
        )
        .unwrap();
    t.clock.set(day(10.0));
    let new = t
        .store
        .supersede(
            &old,
            NewMemory::new(u.clone(), "uses MySQL")
                .vector(axis(4, 0, 0.2))
                .kind(MemoryKind::Decision),
            Some("migration"),
        )
        .unwrap();
    let q = || RecallRequest::new(u.clone(), axis(4, 0, 0.1)).k(5);
    let now: Vec<String> = t
        .store
        .recall(&q())
        .unwrap()
        .hits
        .into_iter()
        .map(|h| h.memory.id)
        .collect();
    assert_eq!(
        now,
        std::slice::from_ref(&new),
        "only the new one is valid now"
    );
    let then: Vec<String> = t
        .store
        .recall(&q().as_of(day(5.0)))
        .unwrap()
        .hits
        .into_iter()
        .map(|h| h.memory.id)
        .collect();
    assert_eq!(
        then,
        std::slice::from_ref(&old),
        "as_of the past sees the old one"
    );
    let o = t.store.get(&old).unwrap().unwrap();
    assert_eq!(
        (o.valid_to, o.superseded_by.as_deref()),
        (Some(day(10.0)), Some(new.as_str()))
    );
    let h = t.store.history(&old).unwrap();
    assert_eq!(
        (h[0].action.as_str(), h[0].reason.as_deref()),
        ("supersede", Some("migration"))
    );
    // Superseding again the closed one, or across scopes, is refused.
    assert!(
        t.store
            .supersede(
                &old,
                NewMemory::new(u.clone(), "x").vector(axis(4, 1, 0.0)),
                None
            )
            .is_err()
    );
    assert!(
        t.store
            .supersede(
                &new,
                NewMemory::new(Scope::user("v"), "x").vector(axis(4, 1, 0.0)),
                None
            )
            .is_err()
    );
    // Nothing lost after a reopen.
    let t = reopen(t, untracked);
    assert_eq!(t.store.list(&u).unwrap().len(), 2);
    assert_eq!(
        t.store.get(&old).unwrap().unwrap().valid_to,
        Some(day(10.0))
    );
}

#[test]
fn access_tracking_is_durable_and_deferred_tracking_is_batched() {
    let t = open(4, |c| c);
    let u = Scope::user("u");
    let id = t
        .store
        .remember(NewMemory::new(u.clone(), "a").vector(axis(4, 0, 0.0)))
        .unwrap();
    t.clock.set(day(1.0));
    for _ in 0..3 {
        t.store
            .recall(&RecallRequest::new(u.clone(), axis(4, 0, 0.0)).k(1))
            .unwrap();
    }
    t.store
        .recall(&RecallRequest::new(u.clone(), axis(4, 0, 0.0)).without_access_tracking())
        .unwrap();
    let t = reopen(t, |c| {
        c.access(AccessTracking::Deferred { max_pending: 100 })
    });
    let m = t.store.get(&id).unwrap().unwrap();
    assert_eq!((m.access_count, m.last_accessed_at), (3, Some(day(1.0))));
    // Deferred: counted in memory until flushed (or dropped).
    t.clock.set(day(2.0));
    t.store
        .recall(&RecallRequest::new(u.clone(), axis(4, 0, 0.0)))
        .unwrap();
    t.store
        .recall(&RecallRequest::new(u.clone(), axis(4, 0, 0.0)))
        .unwrap();
    assert_eq!(t.store.get(&id).unwrap().unwrap().access_count, 3);
    t.store.flush_access().unwrap();
    assert_eq!(t.store.get(&id).unwrap().unwrap().access_count, 5);
    t.store
        .recall(&RecallRequest::new(u.clone(), axis(4, 0, 0.0)))
        .unwrap();
    let t = reopen(t, |c| c); // drop flushes
    let m = t.store.get(&id).unwrap().unwrap();
    assert_eq!((m.access_count, m.last_accessed_at), (6, Some(day(2.0))));
}

#[test]
fn ebbinghaus_strength_grows_with_recalls_through_the_store() {
    let scorer = Scorer::new(ScoringModel::Multiplicative {
        decay: mnemodb_memory::Decay::ebbinghaus(5.0, 10.0),
        importance_weight: 1.0,
        decay_weight: 1.0,
    });
    let t = open(4, |c| c.scorer(scorer));
    let u = Scope::user("u");
    let a = t
        .store
        .remember(
            NewMemory::new(u.clone(), "recalled")
                .vector(axis(4, 0, 0.0))
                .id("a"),
        )
        .unwrap();
    t.store
        .remember(
            NewMemory::new(u.clone(), "never")
                .vector(axis(4, 2, 0.0))
                .id("b"),
        )
        .unwrap();
    t.clock.set(day(1.0));
    t.store
        .recall(&RecallRequest::new(u.clone(), axis(4, 0, 0.0)).k(1))
        .unwrap();
    t.clock.set(day(20.0));
    let hits = t
        .store
        .recall(
            &RecallRequest::new(u.clone(), vec![1.0, 0.0, 1.0, 0.0])
                .k(2)
                .without_access_tracking(),
        )
        .unwrap()
        .hits;
    let decay = |id: &str| hits.iter().find(|h| h.memory.id == id).unwrap().score.decay;
    assert_eq!(hits[0].memory.id, a);
    assert!((decay("a") - (-19.0f64 / 15.0).exp()).abs() < 1e-9);
    assert!((decay("b") - (-20.0f64 / 5.0).exp()).abs() < 1e-9);
}

#[test]
fn exact_top_k_finds_an_old_important_memory_beyond_the_over_fetch_pool() {
    // 3,000 fresh trivia memories all more similar to the query than one old, critical one.
    let dim = 16;
    let t = open(dim, untracked);
    let u = Scope::user("u");
    let mut batch = Vec::new();
    for i in 0..3_000 {
        let mut v = axis(dim, 0, 0.0);
        v[2 + i % 10] = 0.2 + (i as f32) * 1e-4;
        batch.push(
            NewMemory::new(u.clone(), format!("trivia {i}"))
                .importance(0.05)
                .vector(v)
                .kind(MemoryKind::Event),
        );
    }
    for chunk in batch.chunks(500) {
        t.store.remember_batch(chunk.to_vec()).unwrap();
    }
    let mut v = axis(dim, 0, 0.0);
    v[1] = 0.9;
    let critical = t
        .store
        .remember(
            NewMemory::new(u.clone(), "critical")
                .importance(1.0)
                .vector(v)
                .id("critical"),
        )
        .unwrap();
    let q = axis(dim, 0, 0.0);
    t.clock.set(day(60.0));
    let exact = t
        .store
        .recall(&RecallRequest::new(u.clone(), q.clone()).k(5))
        .unwrap();
    assert_eq!(exact.hits[0].memory.id, critical, "{:?}", exact.stats);
    assert!(exact.stats.rounds > 1 || exact.stats.exhaustive);
    let pool = TopKPlan {
        exact: false,
        exact_scan_max: 0,
        ..TopKPlan::default()
    };
    let over = t
        .store
        .recall(&RecallRequest::new(u.clone(), q.clone()).k(5).plan(pool))
        .unwrap();
    assert!(
        !over.hits.iter().any(|h| h.memory.id == critical),
        "a plain 4×k pool misses it"
    );
    // Brute force over the whole scope agrees with the exact top-k.
    let scorer = t.store.config().scorer;
    let mut brute: Vec<(f64, String)> = t
        .store
        .list(&u)
        .unwrap()
        .into_iter()
        .map(|m| {
            let v = t
                .store
                .get_with_vector(&m.id)
                .unwrap()
                .unwrap()
                .vector
                .unwrap();
            let qn = q.iter().map(|x| x * x).sum::<f32>().sqrt();
            let sim = v.iter().zip(&q).map(|(a, b)| a * b).sum::<f32>() / qn;
            (scorer.score(sim, &m.signals(), day(60.0)).score, m.id)
        })
        .collect();
    brute.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let want: Vec<&String> = brute.iter().take(5).map(|x| &x.1).collect();
    let got: Vec<&String> = exact.hits.iter().map(|h| &h.memory.id).collect();
    assert_eq!(got, want);
}

#[test]
fn archive_restore_and_prune_with_capacity() {
    let t = open(4, untracked);
    let u = Scope::user("u");
    let imp = [0.05, 0.3, 0.9, 0.1, 0.6];
    t.clock.set(day(5.0));
    let ids: Vec<String> = imp
        .iter()
        .enumerate()
        .map(|(i, &w)| {
            t.store
                .remember(
                    NewMemory::new(u.clone(), format!("m{i}"))
                        .importance(w)
                        .vector(axis(4, i, 0.3))
                        .at(day(i as f64)),
                )
                .unwrap()
        })
        .collect();
    // 200 days later the trivia has faded; the important ones are protected.
    t.clock.set(day(200.0));
    let r = t.store.prune(&u, &PruneOptions::default(), None).unwrap();
    let low: Vec<&String> = r.low_retention.iter().map(|(id, _)| id).collect();
    assert!(low.contains(&&ids[0]) && !low.contains(&&ids[2]), "{r:?}");
    for id in &low {
        assert_eq!(
            t.store.get(id).unwrap().unwrap().status,
            MemoryStatus::Archived
        );
    }
    let visible = t
        .store
        .recall(&RecallRequest::new(u.clone(), vec![1.0; 4]).k(10))
        .unwrap()
        .hits
        .len();
    assert_eq!(visible, 5 - low.len());
    t.store.restore(&ids[0]).unwrap();
    assert_eq!(
        t.store.get(&ids[0]).unwrap().unwrap().status,
        MemoryStatus::Active
    );
    assert!(t.store.restore(&ids[2]).is_err(), "not archived");
    // Capacity 2: the lowest retention goes first, the protected one stays.
    let r = t
        .store
        .prune(
            &u,
            &PruneOptions {
                capacity: Some(2),
                threshold: 0.0,
                ..Default::default()
            },
            None,
        )
        .unwrap();
    let left: Vec<String> = t
        .store
        .recall(&RecallRequest::new(u.clone(), vec![1.0; 4]).k(10))
        .unwrap()
        .hits
        .into_iter()
        .map(|h| h.memory.id)
        .collect();
    assert_eq!(left.len(), 2, "{r:?}");
    assert!(left.contains(&ids[2]));
    // Delete mode removes for good.
    t.store
        .prune(
            &u,
            &PruneOptions {
                capacity: Some(1),
                threshold: 0.0,
                delete: true,
                ..Default::default()
            },
            None,
        )
        .unwrap();
    assert_eq!(
        t.store
            .list(&u)
            .unwrap()
            .iter()
            .filter(|m| m.status == MemoryStatus::Active)
            .count(),
        1
    );
    assert!(
        t.store
            .prune(
                &u,
                &PruneOptions {
                    threshold: 2.0,
                    ..Default::default()
                },
                None
            )
            .is_err()
    );
}

#[test]
fn consolidation_is_incremental_idempotent_and_takes_a_merge_function() {
    let embedder = Arc::new(LetterEmbedder::default());
    let t = open(26, |c| c);
    let store = t.store.with_embedder(embedder.clone()).unwrap();
    let u = Scope::user("u");
    store
        .remember(
            NewMemory::new(u.clone(), "prefers dark mode in the editor")
                .at(day(0.0))
                .importance(0.4),
        )
        .unwrap();
    store
        .remember(
            NewMemory::new(u.clone(), "prefers the editor in dark mode")
                .at(day(0.0))
                .importance(0.7),
        )
        .unwrap();
    store
        .remember(NewMemory::new(u.clone(), "zebra quokka xylophone").at(day(0.0)))
        .unwrap();
    let merge: mnemodb_memory::MergeFn = Arc::new(|ms: &[mnemodb_memory::Memory]| {
        ms.iter()
            .map(|m| m.text.as_str())
            .collect::<Vec<_>>()
            .join(" / ")
    });
    let opts = ConsolidateOptions {
        merge: Some(merge),
        rule: Some(mnemodb_memory::DuplicateRule {
            threshold: 0.9,
            number_guard: true,
        }),
        ..Default::default()
    };
    let r1 = store.consolidate(&u, &opts).unwrap();
    assert_eq!((r1.probed, r1.groups.len()), (3, 1));
    let survivor = store.get(&r1.groups[0].survivor).unwrap().unwrap();
    assert_eq!(
        survivor.text,
        "prefers dark mode in the editor / prefers the editor in dark mode"
    );
    assert_eq!(survivor.importance, 0.7);
    assert_eq!(survivor.merged_from, r1.groups[0].merged);
    // Nothing new: nothing probed, nothing merged.
    let r2 = store.consolidate(&u, &opts).unwrap();
    assert_eq!((r2.probed, r2.groups.len()), (0, 0));
    // A full re-run finds nothing more either.
    let r3 = store
        .consolidate(
            &u,
            &ConsolidateOptions {
                full: true,
                ..opts.clone()
            },
        )
        .unwrap();
    assert!(r3.groups.is_empty(), "{r3:?}");
    // New memories are probed against the old ones.
    store
        .remember(NewMemory::new(u.clone(), "prefers dark mode in editor").at(day(0.0)))
        .unwrap();
    let r4 = store
        .consolidate(
            &u,
            &ConsolidateOptions {
                dry_run: true,
                ..opts.clone()
            },
        )
        .unwrap();
    assert_eq!((r4.probed, r4.groups.len()), (1, 1));
    // Text queries go through the embedder.
    let calls = embedder.calls.load(std::sync::atomic::Ordering::Relaxed);
    let hits = store
        .recall(&RecallRequest::new(u.clone(), "dark mode editor").k(1))
        .unwrap()
        .hits;
    assert!(hits[0].memory.text.contains("dark mode"));
    assert!(embedder.calls.load(std::sync::atomic::Ordering::Relaxed) > calls);
    assert!(matches!(
        store.recall(&RecallRequest::new(
            u.clone(),
            QueryInput::Text("1234".into())
        )),
        Err(Error::Embedder { .. })
    ));
}

#[test]
fn memories_persist_with_every_field_across_reopen() {
    let t = open(4, untracked);
    let s = Scope::user("u").agent("coder").session("s9");
    let id = t
        .store
        .remember(
            NewMemory::new(s.clone(), "never log secrets")
                .kind(MemoryKind::Instruction)
                .importance(0.95)
                .vector(axis(4, 1, 0.5))
                .source("s9", Some(3))
                .meta("project", "ledgerly")
                .at(day(0.0)),
        )
        .unwrap();
    let t = reopen(t, untracked);
    let m = t.store.get(&id).unwrap().unwrap();
    assert_eq!(
        (m.scope.clone(), m.kind.clone(), m.importance),
        (s.clone(), MemoryKind::Instruction, 0.95)
    );
    assert_eq!(
        (m.source.conversation.as_deref(), m.source.turn),
        (Some("s9"), Some(3))
    );
    assert_eq!(
        m.metadata.get("project"),
        Some(&mnemodb::Value::from("ledgerly"))
    );
    // The query scope narrows: the agent sees it, another agent does not, the user does.
    let see = |scope: Scope| {
        !t.store
            .recall(&RecallRequest::new(scope, axis(4, 1, 0.5)))
            .unwrap()
            .hits
            .is_empty()
    };
    assert!(see(Scope::user("u")) && see(Scope::user("u").agent("coder")) && see(s.clone()));
    assert!(!see(Scope::user("u").agent("writer")) && !see(Scope::user("u").session("other")));
    // Kind and metadata filters.
    let f = mnemodb::Filter::parse(r#"meta.project = "ledgerly""#).unwrap();
    assert_eq!(
        t.store
            .recall(&RecallRequest::new(Scope::user("u"), axis(4, 1, 0.5)).filter(f))
            .unwrap()
            .hits
            .len(),
        1
    );
    assert!(
        t.store
            .recall(
                &RecallRequest::new(Scope::user("u"), axis(4, 1, 0.5)).kinds([MemoryKind::Event])
            )
            .unwrap()
            .hits
            .is_empty()
    );
    // Forget deletes for good.
    t.store.forget(&[&id]).unwrap();
    assert!(t.store.get(&id).unwrap().is_none());
}

#[test]
fn the_store_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<mnemodb_memory::MemoryStore>();
    check::<mnemodb_memory::Error>();
}

#[test]
fn strata_with_projected_candidates_equal_brute_force_in_a_large_scope() {
    // 2,000 memories in one scope (above the 1,024 scanned whole: the strata path), of
    // every kind the strata split on: semantic, `event`, the `observation` episode, and a
    // custom kind (semantic). Exact index, so the top-k must equal brute force, and the
    // default projected candidates must give what whole records give.
    let dim = 16;
    let n = 2_000;
    let t = open(dim, |c| flat(untracked(c)));
    let u = Scope::user("u");
    let centers = random_vectors(8, dim, 5);
    let noise = random_vectors(n, dim, 6);
    let mut s = 0x2545_F491_4F6C_DD1Du64;
    let mut rnd = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let kinds = [
        MemoryKind::Fact,
        MemoryKind::Event,
        MemoryKind::Custom("observation".into()),
        MemoryKind::Custom("recipe".into()),
        MemoryKind::Preference,
    ];
    let mut vectors = Vec::with_capacity(n);
    let mut batch = Vec::with_capacity(n);
    for i in 0..n {
        let mut v: Vec<f32> = centers[i % 8]
            .iter()
            .zip(&noise[i])
            .map(|(c, e)| c + 0.6 * e)
            .collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= norm);
        vectors.push(v.clone());
        batch.push(
            NewMemory::new(u.clone(), format!("memory {i}"))
                .importance((rnd() * rnd()) as f32)
                .at(day(rnd() * 365.0))
                .kind(kinds[i % kinds.len()].clone())
                .vector(v)
                .id(format!("m{i}")),
        );
    }
    let now = day(366.0);
    t.clock.set(now);
    for chunk in batch.chunks(500) {
        t.store.remember_batch(chunk.to_vec()).unwrap();
    }
    let scorer = t.store.config().scorer;
    let memories = t.store.list(&u).unwrap();
    let whole = TopKPlan {
        whole_records: true,
        ..TopKPlan::default()
    };
    for qi in 0..20 {
        let q: Vec<f32> = vectors[qi * 97 % n]
            .iter()
            .zip(&noise[qi * 31 % n])
            .map(|(a, e)| a + 0.3 * e)
            .collect();
        let qn = q.iter().map(|x| x * x).sum::<f32>().sqrt();
        let mut brute: Vec<(f64, String)> = memories
            .iter()
            .map(|m| {
                let i: usize = m.id[1..].parse().unwrap();
                let sim = vectors[i].iter().zip(&q).map(|(a, b)| a * b).sum::<f32>() / qn;
                (scorer.score(sim, &m.signals(), now).score, m.id.clone())
            })
            .collect();
        brute.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let want: Vec<&String> = brute.iter().take(10).map(|x| &x.1).collect();
        let req = RecallRequest::new(u.clone(), q.clone()).k(10);
        let got = t.store.recall(&req).unwrap();
        assert!(!got.stats.exhaustive, "the strata path: {:?}", got.stats);
        let ids: Vec<&String> = got.hits.iter().map(|h| &h.memory.id).collect();
        assert_eq!(ids, want, "query {qi}");
        let again = t.store.recall(&req.clone().plan(whole)).unwrap();
        assert_eq!(again.hits, got.hits, "query {qi}");
        assert_eq!(again.stats, got.stats, "query {qi}");
        // Winners are read whole: every field is there.
        assert!(
            got.hits
                .iter()
                .all(|h| h.memory.text.starts_with("memory "))
        );
    }
}
