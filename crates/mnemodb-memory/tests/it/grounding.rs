//! Fact-grounded recall: a question naming a fact's entity and attribute finds the memory
//! that stated its current value even when the embedding ranks it low; only through the
//! request's text, only within the scope and the recall filter, following merges, and
//! keeping the composite top-k exact.
use mnemodb_memory::{FactInput, MemoryKind, NewMemory, QueryInput, RecallRequest, Scope};

use crate::common::{day, flat, open, random_vectors, untracked};

const DIM: usize = 32;
const QUESTION: &str = "What are we using for global state in Atlas?";

/// A unit vector with cosine `c` to `base` (unit), built from the unit `other`.
fn at_cosine(base: &[f32], other: &[f32], c: f32) -> Vec<f32> {
    let d: f32 = base.iter().zip(other).map(|(a, b)| a * b).sum();
    let mut ortho: Vec<f32> = other.iter().zip(base).map(|(o, b)| o - d * b).collect();
    let n = ortho.iter().map(|x| x * x).sum::<f32>().sqrt();
    ortho.iter_mut().for_each(|x| *x /= n);
    let s = (1.0 - c * c).sqrt();
    base.iter()
        .zip(&ortho)
        .map(|(b, o)| c * b + s * o)
        .collect()
}

/// A store with `u`'s decision (cosine 0.2 to the query) and six more important Atlas
/// notes (cosine 0.35), and the fact the decision states. Returns the query vector.
fn fixture(t: &crate::common::TestStore, u: &Scope) -> Vec<f32> {
    t.clock.set(day(20.0));
    let v = random_vectors(10, DIM, 7);
    let q = v[0].clone();
    let s = &t.store;
    s.remember(
        NewMemory::new(
            u.clone(),
            "The team replaced Redux Toolkit with Zustand in Atlas.",
        )
        .id("decision")
        .kind(MemoryKind::Decision)
        .importance(0.6)
        .at(day(10.0))
        .vector(at_cosine(&q, &v[1], 0.2)),
    )
    .unwrap();
    for i in 0..6 {
        s.remember(
            NewMemory::new(u.clone(), format!("Atlas note {i}"))
                .id(format!("note{i}"))
                .kind(MemoryKind::Fact)
                .importance(0.8)
                .at(day(11.0))
                .vector(at_cosine(&q, &v[2 + i], 0.35)),
        )
        .unwrap();
    }
    s.assert_fact(
        FactInput::new(u.clone(), "atlas", "state_management", "Zustand")
            .at(day(10.0))
            .from_memory("decision"),
    )
    .unwrap();
    q
}

fn ask(t: &crate::common::TestStore, u: &Scope, q: &[f32], with_text: bool) -> Vec<String> {
    let query = if with_text {
        QueryInput::Both {
            text: QUESTION.into(),
            vector: q.to_vec(),
        }
    } else {
        QueryInput::Vector(q.to_vec())
    };
    t.store
        .recall(&RecallRequest::new(u.clone(), query).k(5).at(day(20.0)))
        .unwrap()
        .hits
        .into_iter()
        .map(|h| h.memory.id)
        .collect()
}

#[test]
fn the_memory_that_stated_the_asked_fact_is_found() {
    let u = Scope::user("carol");
    for configure in [flat, untracked] {
        let t = open(DIM, configure);
        let q = fixture(&t, &u);
        let grounded = ask(&t, &u, &q, true);
        assert!(grounded.contains(&"decision".to_string()), "{grounded:?}");
        // Without the text, or with grounding off, the embedding alone ranks it 7th.
        assert!(!ask(&t, &u, &q, false).contains(&"decision".to_string()));
        let off = open(DIM, |c| configure(c).fact_grounding(None));
        let q = fixture(&off, &u);
        assert!(!ask(&off, &u, &q, true).contains(&"decision".to_string()));
        // Its breakdown shows the floor as its similarity.
        let hit = t
            .store
            .recall(
                &RecallRequest::new(
                    u.clone(),
                    QueryInput::Both {
                        text: QUESTION.into(),
                        vector: q.clone(),
                    },
                )
                .k(5)
                .at(day(20.0)),
            )
            .unwrap()
            .hits
            .into_iter()
            .find(|h| h.memory.id == "decision")
            .unwrap();
        assert_eq!(hit.score.similarity, 0.5);
    }
}

#[test]
fn grounding_stays_in_scope_and_inside_the_recall_filter() {
    let (carol, dave) = (Scope::user("carol"), Scope::user("dave"));
    let t = open(DIM, flat);
    let q = fixture(&t, &carol);
    // Dave states the same fact, citing Carol's memory: his recall must not return it.
    t.store
        .assert_fact(
            FactInput::new(dave.clone(), "atlas", "state_management", "Zustand")
                .at(day(12.0))
                .from_memory("decision"),
        )
        .unwrap();
    assert!(ask(&t, &dave, &q, true).is_empty());
    // Only decisions of another kind asked for: not returned.
    let only_facts = t
        .store
        .recall(
            &RecallRequest::new(
                carol.clone(),
                QueryInput::Both {
                    text: QUESTION.into(),
                    vector: q.clone(),
                },
            )
            .kinds([MemoryKind::Fact])
            .k(5)
            .at(day(20.0)),
        )
        .unwrap();
    assert!(
        only_facts
            .hits
            .iter()
            .all(|h| h.memory.kind == MemoryKind::Fact)
    );
    // Archived: not returned either.
    t.store.archive(&["decision"]).unwrap();
    assert!(!ask(&t, &carol, &q, true).contains(&"decision".to_string()));
}

/// The grounded top-k equals brute force: every memory's composite score with its
/// similarity raised to the floor when it is the source of an asked fact.
#[test]
fn grounded_top_k_is_exact() {
    let u = Scope::user("erin");
    let t = open(DIM, untracked);
    t.clock.set(day(70.0));
    let v = random_vectors(400, DIM, 11);
    let q = v[0].clone();
    for (i, vec) in v.iter().enumerate().skip(1) {
        t.store
            .remember(
                NewMemory::new(u.clone(), format!("memory {i}"))
                    .id(format!("m{i:03}"))
                    .importance(((i * 37) % 100) as f32 / 100.0)
                    .at(day((i % 50) as f64))
                    .vector(vec.clone()),
            )
            .unwrap();
    }
    let attrs = ["state", "database", "editor", "hosting", "queue"];
    for (j, a) in attrs.iter().enumerate() {
        t.store
            .assert_fact(
                FactInput::new(u.clone(), "atlas", *a, "x")
                    .at(day(60.0))
                    .from_memory(format!("m{:03}", 10 + j * 50)),
            )
            .unwrap();
    }
    let text = "Which state, database and queue does Atlas use?";
    let asked = ["m010", "m060", "m210"];
    let scorer = t.store.config().scorer;
    let now = day(70.0);
    let mut want: Vec<(f64, String)> = (1..400)
        .map(|i| {
            let id = format!("m{i:03}");
            let m = t.store.get(&id).unwrap().unwrap();
            let sim: f32 = q.iter().zip(&v[i]).map(|(a, b)| a * b).sum();
            let sim = if asked.contains(&id.as_str()) {
                sim.max(0.5)
            } else {
                sim
            };
            (scorer.score(sim, &m.signals(), now).score, id)
        })
        .collect();
    want.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let got: Vec<String> = t
        .store
        .recall(
            &RecallRequest::new(
                u.clone(),
                QueryInput::Both {
                    text: text.into(),
                    vector: q.clone(),
                },
            )
            .k(10)
            .at(now),
        )
        .unwrap()
        .hits
        .into_iter()
        .map(|h| h.memory.id)
        .collect();
    let want: Vec<String> = want.into_iter().take(10).map(|(_, id)| id).collect();
    assert_eq!(got, want);
    assert!(asked.iter().any(|a| got.contains(&a.to_string())));
}
