//! The scenarios of the memory literature, with real all-MiniLM-L6-v2 vectors from
//! `tests/fixtures/scenarios.json`.
use std::collections::HashMap;
use std::sync::OnceLock;

use mnemodb_memory::grouping::DuplicateRule;
use mnemodb_memory::{
    ConsolidateOptions, ContextRequest, FactChange, FactInput, MemoryKind, NewMemory,
    RecallRequest, Role, Scope, TokenEstimator, WindowSpec, WordEstimator,
};
use serde_json::Value as Json;

use crate::common::*;

struct Fixture {
    json: Json,
    vectors: HashMap<String, Vec<f32>>,
}

fn fx() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let json: Json = serde_json::from_str(include_str!("../fixtures/scenarios.json")).unwrap();
        let vectors = json["vectors"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_array()
                        .unwrap()
                        .iter()
                        .map(|x| x.as_f64().unwrap() as f32)
                        .collect(),
                )
            })
            .collect();
        Fixture { json, vectors }
    })
}

fn vec_of(text: &str) -> Vec<f32> {
    fx().vectors
        .get(text)
        .unwrap_or_else(|| panic!("no vector for {text:?}"))
        .clone()
}

fn sc(name: &str) -> &'static Json {
    &fx().json["scenarios"][name]
}

fn ts(v: &Json) -> mnemodb_memory::Timestamp {
    mnemodb_memory::Timestamp::parse_rfc3339(v.as_str().unwrap()).unwrap()
}

fn kind(s: &str) -> MemoryKind {
    MemoryKind::parse(s)
}

/// Store the scenario's memories for `user`, return their ids in order.
fn store_memories(t: &TestStore, user: &str, memories: &Json) -> Vec<String> {
    memories
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let text = m["text"].as_str().unwrap();
            t.clock.set(ts(&m["created_at"]));
            t.store
                .remember(
                    NewMemory::new(Scope::user(user), text)
                        .kind(kind(m["kind"].as_str().unwrap()))
                        .importance(m["importance"].as_f64().unwrap() as f32)
                        .at(ts(&m["created_at"]))
                        .vector(vec_of(text)),
                )
                .unwrap()
        })
        .collect()
}

#[test]
fn postgres_decision_survives_a_sliding_window_of_chatter() {
    let t = open(384, |c| c);
    t.clock.set(day(1.0));
    let s = Scope::user("u").session("s1");
    for (i, turn) in sc("sliding_window").as_array().unwrap().iter().enumerate() {
        let role = Role::parse(turn[0].as_str().unwrap()).unwrap();
        t.store
            .append_turn(
                &s,
                role,
                turn[1].as_str().unwrap(),
                Some(day(i as f64 / 1440.0)),
                None,
            )
            .unwrap();
    }
    // Last 3 turns + the single most important older one.
    let w = t
        .store
        .window(
            &s,
            WindowSpec {
                last_k: 3,
                important_n: 1,
            },
        )
        .unwrap();
    let texts: Vec<&str> = w.turns.iter().map(|t| t.content.as_str()).collect();
    assert_eq!(
        texts,
        [
            "I decide to use PostgreSQL for the database",
            "Let's work on the API layer",
            "I'll set up Express routes",
            "Add error handling too"
        ]
    );
    // Original order is kept and the summary folds in what left the window.
    assert!(w.turns.windows(2).all(|p| p[0].seq < p[1].seq));
    let summarizer =
        |prev: Option<&str>, turns: &[mnemodb_memory::Turn]| -> Result<String, String> {
            let mut s = prev.unwrap_or("").to_string();
            for t in turns {
                s.push_str(&format!("[{}] ", t.content));
            }
            Ok(s)
        };
    let summary = t.store.update_summary(&s, &summarizer, 3).unwrap().unwrap();
    assert!(summary.contains("PostgreSQL") && summary.contains("What's next?"));
    // Idempotent until new turns leave the window.
    assert_eq!(
        t.store.update_summary(&s, &summarizer, 3).unwrap().unwrap(),
        summary
    );
    assert_eq!(t.store.session_state(&s).unwrap().summarized_upto, 4);
}

#[test]
fn postgres_to_mysql_yields_the_mysql_fact_with_a_changelog() {
    let t = open(384, |c| c);
    let u = Scope::user("u");
    let mut ids = Vec::new();
    for turn in sc("entity").as_array().unwrap() {
        let text = turn[1].as_str().unwrap();
        let at = day(turn[2].as_f64().unwrap());
        t.clock.set(at);
        ids.push(
            t.store
                .remember(
                    NewMemory::new(u.clone(), text)
                        .kind(MemoryKind::Decision)
                        .importance(0.7)
                        .at(at)
                        .vector(vec_of(text)),
                )
                .unwrap(),
        );
    }
    let fact = |attr: &str, value: &str, i: usize, d: f64| {
        FactInput::new(u.clone(), "project", attr, value)
            .at(day(d))
            .from_memory(&ids[i])
    };
    assert_eq!(
        t.store
            .assert_fact(fact("frontend", "React", 0, 1.0))
            .unwrap()
            .change,
        FactChange::New
    );
    t.store
        .assert_fact(fact("database", "PostgreSQL", 0, 1.0))
        .unwrap();
    t.store.assert_fact(fact("auth", "JWT", 1, 5.0)).unwrap();
    let up = t
        .store
        .assert_fact(fact("database", "MySQL", 2, 12.0))
        .unwrap();
    assert_eq!(
        up.change,
        FactChange::Superseded {
            previous: "PostgreSQL".into()
        }
    );
    assert_eq!(up.current.value, "MySQL");
    // The day-1 memory also states React, which still holds: it stays valid.
    assert!(up.closed_memories.is_empty());
    let current = t.store.fact(&u, "Project", "Database").unwrap().unwrap();
    assert_eq!(
        (current.value.as_str(), current.since),
        ("MySQL", day(12.0))
    );
    let h = t.store.fact_history(&u, "project", "database").unwrap();
    assert_eq!(h.values, ["PostgreSQL", "MySQL"]);
    assert_eq!(h.entries[0].valid_to, day(12.0));
    assert_eq!(
        h.entries[0].source.memory_id.as_deref(),
        Some(ids[0].as_str())
    );
    assert_eq!(
        t.store
            .fact_as_of(&u, "project", "database", day(6.0))
            .unwrap()
            .unwrap()
            .value,
        "PostgreSQL"
    );
    // Facts relevant to the question, lexically.
    let rel = t
        .store
        .relevant_facts(&u, "Which database should the CI pipeline test against?", 2)
        .unwrap();
    assert_eq!(rel[0].0.line(), "project.database: MySQL");
    // Current facts of the entity.
    let all: Vec<String> = t
        .store
        .facts(&u, Some("project"))
        .unwrap()
        .iter()
        .map(|f| f.line())
        .collect();
    assert_eq!(
        all,
        [
            "project.auth: JWT",
            "project.database: MySQL",
            "project.frontend: React"
        ]
    );
}

#[test]
fn pytest_preference_from_day_one_surfaces_on_day_thirty() {
    let t = open(384, |c| c);
    let s = sc("semantic_long_term");
    let ids = store_memories(&t, "u", &s["memories"]);
    let q = &s["query"];
    t.clock.set(ts(&q["at"]));
    let r = t
        .store
        .recall(&RecallRequest::new(Scope::user("u"), vec_of(q["text"].as_str().unwrap())).k(2))
        .unwrap();
    let first = q["expected_first"].as_u64().unwrap() as usize;
    assert_eq!(r.hits[0].memory.id, ids[first]);
    // 30 days old, and the score shows why it still wins.
    let b = r.hits[0].score;
    assert!(
        b.decay > 0.5 && b.decay <= 1.0 && (b.importance - 0.8).abs() < 1e-6,
        "{b:?}"
    );
}

#[test]
fn a_critical_old_memory_beats_recent_trivia() {
    let t = open(384, |c| c);
    let s = sc("critical_vs_trivia");
    let ids = store_memories(&t, "u", &s["memories"]);
    let q = &s["query"];
    t.clock.set(ts(&q["at"]));
    let k = q["k"].as_u64().unwrap() as usize;
    let r = t
        .store
        .recall(&RecallRequest::new(Scope::user("u"), vec_of(q["text"].as_str().unwrap())).k(k))
        .unwrap();
    let got: Vec<&str> = r.hits.iter().map(|h| h.memory.id.as_str()).collect();
    for i in q["expected_in_top_k"].as_array().unwrap() {
        assert!(
            got.contains(&ids[i.as_u64().unwrap() as usize].as_str()),
            "{got:?}"
        );
    }
    // The literature's seed formula loses it (the point of the scenario).
    let classic = open(384, |c| {
        c.scorer(mnemodb_memory::Scorer::new(
            mnemodb_memory::ScoringModel::classic_multiplicative(),
        ))
    });
    let ids2 = store_memories(&classic, "u", &s["memories"]);
    classic.clock.set(ts(&q["at"]));
    let r = classic
        .store
        .recall(&RecallRequest::new(Scope::user("u"), vec_of(q["text"].as_str().unwrap())).k(k))
        .unwrap();
    assert!(!r.hits.iter().any(|h| h.memory.id == ids2[0]));
}

#[test]
fn hybrid_context_has_the_old_stack_and_the_recent_turn_within_budget() {
    let t = open(384, |c| c);
    let s = Scope::user("u").session("s");
    let u = Scope::user("u");
    for (i, turn) in sc("hybrid").as_array().unwrap().iter().enumerate() {
        let role = Role::parse(turn[0].as_str().unwrap()).unwrap();
        let text = turn[1].as_str().unwrap();
        let at = day(turn[2].as_f64().unwrap());
        t.clock.set(at);
        let turn = t.store.append_turn(&s, role, text, Some(at), None).unwrap();
        if role == Role::User {
            let id = t
                .store
                .remember(
                    NewMemory::new(u.clone(), text)
                        .importance(turn.importance)
                        .at(at)
                        .vector(vec_of(text))
                        .source("s", Some(i as u64)),
                )
                .unwrap();
            if text.contains("PostgreSQL") {
                t.store
                    .assert_fact(
                        FactInput::new(u.clone(), "project", "database", "PostgreSQL")
                            .at(at)
                            .from_memory(id),
                    )
                    .unwrap();
            }
        }
    }
    let query = sc("hybrid_query").as_str().unwrap();
    let mut req = ContextRequest::new(s.clone(), query, 120);
    req.query = Some(mnemodb_memory::QueryInput::Both {
        text: query.into(),
        vector: vec_of(query),
    });
    req.window = WindowSpec {
        last_k: 2,
        important_n: 1,
    };
    let c = t.store.build_context(&req).unwrap();
    let text = c.render();
    assert!(
        c.tokens <= 120 && WordEstimator::default().estimate(&text) <= 120,
        "{text}"
    );
    assert!(
        c.facts.iter().any(|f| f == "project.database: PostgreSQL"),
        "{text}"
    );
    assert!(text.contains("deployment pipeline"), "{text}");
    assert!(text.ends_with(&format!("user: {query}\n")), "{text}");
    // Deterministic.
    assert_eq!(t.store.build_context(&req).unwrap().render(), text);
    // A tiny budget still holds.
    req.budget = 15;
    assert!(t.store.build_context(&req).unwrap().tokens <= 15);
}

#[test]
fn paraphrases_merge_and_unrelated_texts_do_not() {
    let rule = DuplicateRule::default();
    let cos = |a: &str, b: &str| {
        vec_of(a)
            .iter()
            .zip(vec_of(b))
            .map(|(x, y)| x * y)
            .sum::<f32>()
    };
    for p in sc("paraphrase_pairs").as_array().unwrap() {
        let (a, b) = (p[0].as_str().unwrap(), p[1].as_str().unwrap());
        assert!(
            rule.is_duplicate(cos(a, b), a, b) || cos(a, b) < 0.67,
            "{a} / {b}"
        );
    }
    for p in sc("unrelated_pairs").as_array().unwrap() {
        let (a, b) = (p[0].as_str().unwrap(), p[1].as_str().unwrap());
        assert!(!rule.is_duplicate(cos(a, b), a, b), "{a} / {b}");
    }
    // Through the store: the two Python-love paraphrases merge, the snake stays apart.
    let t = open(384, |c| c);
    t.clock.set(day(3.0));
    let u = Scope::user("u");
    for (i, text) in [
        "I love programming in Python.",
        "Coding in Python is my favorite thing to do.",
        "A python is a large snake that squeezes its prey.",
    ]
    .into_iter()
    .enumerate()
    {
        t.store
            .remember(
                NewMemory::new(u.clone(), text)
                    .at(day(i as f64))
                    .vector(vec_of(text))
                    .id(format!("p{i}")),
            )
            .unwrap();
    }
    t.clock.set(day(3.0));
    let r = t
        .store
        .consolidate(&u, &ConsolidateOptions::default())
        .unwrap();
    assert_eq!(r.groups.len(), 1);
    assert_eq!(
        (r.groups[0].survivor.as_str(), r.groups[0].merged.as_slice()),
        ("p1", ["p0".to_string()].as_slice())
    );
}

#[test]
fn scope_isolation_holds_under_every_api() {
    let t = open(384, |c| c);
    t.clock.set(day(5.0));
    let (a, b) = (Scope::user("alice"), Scope::user("bob"));
    let texts = [
        "User is severely allergic to peanuts",
        "User had a sandwich for lunch today",
        "User said the cafe downstairs has good snacks",
    ];
    for (i, text) in texts.iter().enumerate() {
        for s in [&a, &b] {
            t.store
                .remember(
                    NewMemory::new(s.clone(), *text)
                        .importance(0.5)
                        .at(day(i as f64))
                        .vector(vec_of(text)),
                )
                .unwrap();
        }
    }
    // Bob states the same things twice: consolidation must stay inside each scope.
    t.store
        .remember(
            NewMemory::new(b.clone(), texts[0])
                .importance(0.9)
                .at(day(4.0))
                .vector(vec_of(texts[0])),
        )
        .unwrap();
    t.clock.set(day(5.0));
    let q = vec_of("Can you suggest a snack to order for me?");
    for s in [&a, &b] {
        for h in t
            .store
            .recall(&RecallRequest::new(s.clone(), q.clone()).k(10))
            .unwrap()
            .hits
        {
            assert_eq!(h.memory.scope.user, s.user);
        }
        assert!(
            t.store
                .list(s)
                .unwrap()
                .iter()
                .all(|m| m.scope.user == s.user)
        );
    }
    let r = t
        .store
        .consolidate(&Scope::user("bob"), &ConsolidateOptions::default())
        .unwrap();
    for g in &r.groups {
        for id in g.merged.iter().chain([&g.survivor]) {
            assert_eq!(t.store.get(id).unwrap().unwrap().scope, b);
        }
    }
    assert_eq!(
        t.store
            .list(&a)
            .unwrap()
            .iter()
            .filter(|m| m.status != mnemodb_memory::MemoryStatus::Active)
            .count(),
        0
    );
    // Facts, turns, prune, context: per scope.
    t.store
        .assert_fact(FactInput::new(a.clone(), "user", "allergy", "peanuts"))
        .unwrap();
    assert!(t.store.facts(&b, None).unwrap().is_empty());
    assert!(t.store.fact(&b, "user", "allergy").unwrap().is_none());
    assert!(t.store.relevant_facts(&b, "allergy", 5).unwrap().is_empty());
    let (sa, sb) = (a.clone().session("x"), b.clone().session("x"));
    t.store
        .append_turn(&sa, Role::User, "secret of alice", None, None)
        .unwrap();
    assert!(t.store.turns(&sb).unwrap().is_empty());
    assert!(
        t.store
            .window(&sb, WindowSpec::default())
            .unwrap()
            .turns
            .is_empty()
    );
    let report = t
        .store
        .prune(
            &a,
            &mnemodb_memory::PruneOptions {
                capacity: Some(0),
                dry_run: true,
                ..Default::default()
            },
            None,
        )
        .unwrap();
    assert!(
        report
            .evicted
            .iter()
            .all(|(id, _)| t.store.get(id).unwrap().unwrap().scope == a)
    );
    let mut req = ContextRequest::new(sb.clone(), "snack?", 500);
    req.query = Some(q.clone().into());
    let ctx = t.store.build_context(&req).unwrap().render();
    assert!(
        !ctx.contains("secret of alice") && !ctx.contains("user.allergy"),
        "{ctx}"
    );
    // An unknown scope is empty, not an error.
    assert!(
        t.store
            .recall(&RecallRequest::new(Scope::user("carol"), q))
            .unwrap()
            .hits
            .is_empty()
    );
    // Erasing alice leaves bob intact.
    let before_b = t.store.list(&b).unwrap().len();
    assert!(t.store.erase_scope(&a).unwrap() > 0);
    assert!(t.store.list(&a).unwrap().is_empty() && t.store.facts(&a, None).unwrap().is_empty());
    assert_eq!(t.store.list(&b).unwrap().len(), before_b);
}
