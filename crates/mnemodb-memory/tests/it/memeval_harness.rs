//! memeval replay: loads `memeval_dev.json`, replays it through a [`MemoryStore`] in time
//! order (insert memories, record facts, consolidate, query) and scores the run the way
//! `score.py` does. Shared by the integration test and `examples/memeval.rs`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use mnemodb::{Database, Options};
use mnemodb_memory::grouping::{DuplicateRule, components};
use mnemodb_memory::{
    AccessTracking, ConsolidateOptions, FactInput, ManualClock, MemoryConfig, MemoryKind,
    MemoryStatus, MemoryStore, NewMemory, QueryInput, RecallRequest, Scope, Scorer, Timestamp,
};
use serde_json::Value as Json;

pub const TAGS: [&str; 7] = [
    "semantic-no-overlap",
    "newer-beats-older",
    "importance-over-recency",
    "recency",
    "distractor",
    "cross-user",
    "multi-relevant",
];

#[derive(Debug, Clone)]
pub struct Mem {
    pub id: String,
    pub user: String,
    pub session: String,
    pub created_at: Timestamp,
    pub kind: String,
    pub importance: f32,
    pub text: String,
    pub vector: Vec<f32>,
}

#[derive(Debug, Clone)]
pub struct Q {
    pub id: String,
    pub user: String,
    pub at: Timestamp,
    pub text: String,
    pub relevant: Vec<String>,
    pub acceptable: Vec<String>,
    pub must_not: Vec<String>,
    pub tags: Vec<String>,
    pub vector: Vec<f32>,
}

#[derive(Debug, Clone)]
pub struct FactRow {
    pub user: String,
    pub at: Timestamp,
    pub entity: String,
    pub attribute: String,
    pub value: String,
}

#[derive(Debug, Clone)]
pub struct Expected {
    pub user: String,
    pub entity: String,
    pub attribute: String,
    pub value: String,
    pub history: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Dataset {
    pub memories: Vec<Mem>,
    pub queries: Vec<Q>,
    pub duplicate_groups: Vec<Vec<String>>,
    pub distinct_pairs: Vec<(String, String)>,
    pub facts: Vec<FactRow>,
    pub expected: Vec<Expected>,
}

fn s(v: &Json, k: &str) -> String {
    v[k].as_str()
        .unwrap_or_else(|| panic!("field {k}"))
        .to_string()
}
fn t(v: &Json, k: &str) -> Timestamp {
    Timestamp::parse_rfc3339(&s(v, k)).unwrap()
}
fn strs(v: &Json) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}
fn vector(v: &Json) -> Vec<f32> {
    v["vector"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

pub fn load(text: &str) -> Dataset {
    let d: Json = serde_json::from_str(text).unwrap();
    let memories = d["memories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| Mem {
            id: s(m, "id"),
            user: s(m, "user"),
            session: s(m, "session"),
            created_at: t(m, "created_at"),
            kind: s(m, "kind"),
            importance: m["importance"].as_f64().unwrap() as f32,
            text: s(m, "text"),
            vector: vector(m),
        })
        .collect();
    let queries = d["queries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| {
            let tests = s(q, "tests");
            let tags = tests
                .strip_prefix('[')
                .and_then(|r| r.split_once(']'))
                .map(|(tags, _)| tags.split(',').map(|t| t.trim().to_string()).collect())
                .unwrap_or_default();
            Q {
                id: s(q, "id"),
                user: s(q, "user"),
                at: t(q, "at"),
                text: s(q, "text"),
                relevant: strs(&q["relevant"]),
                acceptable: strs(&q["acceptable"]),
                must_not: strs(&q["must_not"]),
                tags,
                vector: vector(q),
            }
        })
        .collect();
    let duplicate_groups = d["duplicate_groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| strs(&g["ids"]))
        .collect();
    let distinct_pairs = d["distinct_pairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let ids = strs(&g["ids"]);
            (ids[0].clone(), ids[1].clone())
        })
        .collect();
    let facts = d["facts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| FactRow {
            user: s(f, "user"),
            at: t(f, "at"),
            entity: s(f, "entity"),
            attribute: s(f, "attribute"),
            value: s(f, "value"),
        })
        .collect();
    let expected = d["expected_facts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| Expected {
            user: s(f, "user"),
            entity: s(f, "entity"),
            attribute: s(f, "attribute"),
            value: s(f, "value"),
            history: strs(&f["history"]),
        })
        .collect();
    Dataset {
        memories,
        queries,
        duplicate_groups,
        distinct_pairs,
        facts,
        expected,
    }
}

/// How a replay is run.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub name: String,
    pub scorer: Scorer,
    /// Consolidate (incrementally) before every query.
    pub consolidate: bool,
    /// Record facts (closing the memories whose facts were superseded).
    pub facts: bool,
    /// Fact-grounded recall (queries carry their text; the store's default floor).
    pub grounding: bool,
    pub k: usize,
}

impl Pipeline {
    pub fn new(name: &str, scorer: Scorer) -> Self {
        Pipeline {
            name: name.into(),
            scorer,
            consolidate: true,
            facts: true,
            grounding: true,
            k: 5,
        }
    }
}

/// The result of one replay.
pub struct Replay {
    pub run: BTreeMap<String, Vec<String>>,
    pub store: MemoryStore,
    pub db: Database,
    pub dir: tempfile::TempDir,
}

fn kind(k: &str) -> MemoryKind {
    MemoryKind::parse(k)
}

/// Replay the dataset in time order through a fresh store.
pub fn replay(data: &Dataset, p: &Pipeline) -> Replay {
    let dir = tempfile::Builder::new()
        .prefix("memeval-")
        .tempdir_in(scratch_root())
        .unwrap();
    let db = Database::open(dir.path(), Options::default().background(false)).unwrap();
    let clock = Arc::new(ManualClock::new(Timestamp::EPOCH));
    let mut cfg = MemoryConfig::new(384)
        .scorer(p.scorer)
        .access(AccessTracking::Immediate);
    if !p.grounding {
        cfg = cfg.fact_grounding(None);
    }
    let store = MemoryStore::open(&db, cfg)
        .unwrap()
        .with_clock(clock.clone());
    // Events: 0 = memory, 1 = fact, 2 = query, ordered by time then kind then index.
    let mut events: Vec<(Timestamp, u8, usize)> = Vec::new();
    events.extend(
        data.memories
            .iter()
            .enumerate()
            .map(|(i, m)| (m.created_at, 0, i)),
    );
    if p.facts {
        events.extend(data.facts.iter().enumerate().map(|(i, f)| (f.at, 1, i)));
    }
    events.extend(data.queries.iter().enumerate().map(|(i, q)| (q.at, 2, i)));
    events.sort();
    let by_user_time: HashMap<(String, Timestamp), String> = data
        .memories
        .iter()
        .map(|m| ((m.user.clone(), m.created_at), m.id.clone()))
        .collect();
    let mut run = BTreeMap::new();
    for (at, what, i) in events {
        clock.set(at);
        match what {
            0 => {
                let m = &data.memories[i];
                store
                    .remember(
                        NewMemory::new(Scope::user(&m.user), &m.text)
                            .id(&m.id)
                            .kind(kind(&m.kind))
                            .importance(m.importance)
                            .at(m.created_at)
                            .vector(m.vector.clone())
                            .source(&m.session, None),
                    )
                    .unwrap();
            }
            1 => {
                let f = &data.facts[i];
                let mut input =
                    FactInput::new(Scope::user(&f.user), &f.entity, &f.attribute, &f.value)
                        .at(f.at);
                if let Some(mid) = by_user_time.get(&(f.user.clone(), f.at)) {
                    input = input.from_memory(mid);
                }
                store.assert_fact(input).unwrap();
            }
            _ => {
                let q = &data.queries[i];
                let scope = Scope::user(&q.user);
                if p.consolidate {
                    store
                        .consolidate(&scope, &ConsolidateOptions::default())
                        .unwrap();
                }
                let hits = store
                    .recall(
                        &RecallRequest::new(
                            scope,
                            QueryInput::Both {
                                text: q.text.clone(),
                                vector: q.vector.clone(),
                            },
                        )
                        .k(p.k)
                        .at(q.at),
                    )
                    .unwrap()
                    .hits;
                if std::env::var("MEMEVAL_DEBUG").is_ok_and(|d| d == q.id) {
                    for h in &hits {
                        eprintln!("{} {} {:?} {:?}", q.id, h.memory.id, h.memory.kind, h.score);
                    }
                }
                run.insert(
                    q.id.clone(),
                    hits.into_iter().map(|h| h.memory.id).collect(),
                );
            }
        }
    }
    Replay {
        run,
        store,
        db,
        dir,
    }
}

pub fn scratch_root() -> std::path::PathBuf {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// Per-query metrics, as score.py computes them.
#[derive(Debug, Clone, Default)]
pub struct Row {
    pub recall: f64,
    pub mrr: f64,
    pub must_not: f64,
    pub leak: f64,
    pub order: Option<f64>,
}

pub fn score(
    data: &Dataset,
    run: &BTreeMap<String, Vec<String>>,
    k: usize,
) -> Vec<(Vec<String>, Row)> {
    let user_of: HashMap<&str, &str> = data
        .memories
        .iter()
        .map(|m| (m.id.as_str(), m.user.as_str()))
        .collect();
    let mut group: HashMap<&str, usize> = HashMap::new();
    for (gi, g) in data.duplicate_groups.iter().enumerate() {
        for id in g {
            group.insert(id, gi);
        }
    }
    let unit = |id: &str| match group.get(id) {
        Some(g) => format!("g{g}"),
        None => format!("m{id}"),
    };
    let empty = Vec::new();
    data.queries
        .iter()
        .map(|q| {
            let mut ranked: Vec<String> = Vec::new();
            for id in run.get(&q.id).unwrap_or(&empty) {
                if !ranked.contains(id) {
                    ranked.push(id.clone());
                }
            }
            let top: Vec<&String> = ranked.iter().take(k).collect();
            let rel_units: BTreeSet<String> = q.relevant.iter().map(|i| unit(i)).collect();
            let got: BTreeSet<String> = top
                .iter()
                .filter(|i| q.relevant.contains(i))
                .map(|i| unit(i))
                .collect();
            let pos = |id: &String| ranked.iter().position(|x| x == id);
            let first_rel = q.relevant.iter().filter_map(pos).min();
            let row = Row {
                recall: got.len() as f64 / rel_units.len() as f64,
                mrr: first_rel.map_or(0.0, |r| 1.0 / (r as f64 + 1.0)),
                must_not: f64::from(u8::from(top.iter().any(|i| q.must_not.contains(i)))),
                leak: f64::from(u8::from(
                    top.iter()
                        .any(|i| user_of.get(i.as_str()) != Some(&q.user.as_str())),
                )),
                order: (!q.acceptable.is_empty()).then(|| {
                    let first_acc = q.acceptable.iter().filter_map(pos).min();
                    f64::from(u8::from(
                        first_rel.is_some_and(|r| first_acc.is_none_or(|a| r < a)),
                    ))
                }),
            };
            (q.tags.clone(), row)
        })
        .collect()
}

/// Averages: (recall, mrr, must_not, leak, order, n, n_order).
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    pub recall: f64,
    pub mrr: f64,
    pub must_not: f64,
    pub leak: f64,
    pub order: Option<f64>,
    pub n: usize,
    pub n_order: usize,
}

pub fn summarize(rows: &[(Vec<String>, Row)]) -> BTreeMap<String, Summary> {
    let avg = |rs: &[&Row]| {
        let n = rs.len() as f64;
        let orders: Vec<f64> = rs.iter().filter_map(|r| r.order).collect();
        Summary {
            recall: rs.iter().map(|r| r.recall).sum::<f64>() / n,
            mrr: rs.iter().map(|r| r.mrr).sum::<f64>() / n,
            must_not: rs.iter().map(|r| r.must_not).sum::<f64>() / n,
            leak: rs.iter().map(|r| r.leak).sum::<f64>() / n,
            order: (!orders.is_empty()).then(|| orders.iter().sum::<f64>() / orders.len() as f64),
            n: rs.len(),
            n_order: orders.len(),
        }
    };
    let mut out = BTreeMap::new();
    out.insert(
        "all".to_string(),
        avg(&rows.iter().map(|(_, r)| r).collect::<Vec<_>>()),
    );
    for tag in TAGS {
        let rs: Vec<&Row> = rows
            .iter()
            .filter(|(t, _)| t.iter().any(|x| x == tag))
            .map(|(_, r)| r)
            .collect();
        if !rs.is_empty() {
            out.insert(tag.to_string(), avg(&rs));
        }
    }
    out
}

pub fn table(name: &str, s: &BTreeMap<String, Summary>) -> String {
    let mut out = format!(
        "{name}\n{:<26}{:>4}{:>10}{:>7}{:>12}{:>9}{:>12}\n",
        "case", "n", "recall@5", "mrr", "must_not@5", "leak@5", "order"
    );
    let mut names = vec!["all".to_string()];
    names.extend(TAGS.iter().map(|t| t.to_string()));
    for n in names {
        if let Some(x) = s.get(&n) {
            let order = x
                .order
                .map_or("-".to_string(), |o| format!("{o:.3} ({})", x.n_order));
            out.push_str(&format!(
                "{n:<26}{:>4}{:>10.3}{:>7.3}{:>12.3}{:>9.3}{:>12}\n",
                x.n, x.recall, x.mrr, x.must_not, x.leak, order
            ));
        }
    }
    out
}

/// Consolidation quality against the labels, from a store's final state: which labelled
/// groups ended in one memory, which distinct pairs were wrongly merged, and how many other
/// (unlabelled) merges happened.
#[derive(Debug, Clone, Default)]
pub struct MergeQuality {
    pub groups_merged: usize,
    pub groups: usize,
    pub distinct_merged: usize,
    pub distinct: usize,
    pub unlabelled_merges: usize,
}

pub fn merge_quality(data: &Dataset, root_of: &dyn Fn(&str) -> String) -> MergeQuality {
    let mut q = MergeQuality {
        groups: data.duplicate_groups.len(),
        distinct: data.distinct_pairs.len(),
        ..Default::default()
    };
    for g in &data.duplicate_groups {
        let roots: BTreeSet<String> = g.iter().map(|id| root_of(id)).collect();
        if roots.len() == 1 {
            q.groups_merged += 1;
        }
    }
    for (a, b) in &data.distinct_pairs {
        if root_of(a) == root_of(b) {
            q.distinct_merged += 1;
        }
    }
    let labelled: BTreeSet<&String> = data.duplicate_groups.iter().flatten().collect();
    q.unlabelled_merges = data
        .memories
        .iter()
        .filter(|m| !labelled.contains(&m.id) && root_of(&m.id) != m.id)
        .count();
    q
}

/// The memory a stored memory was (transitively) merged into.
pub fn store_root(store: &MemoryStore, id: &str) -> String {
    let mut cur = id.to_string();
    for _ in 0..100 {
        match store.get(&cur).unwrap().map(|m| m.status) {
            Some(MemoryStatus::Merged { into }) if !into.is_empty() => cur = into,
            _ => break,
        }
    }
    cur
}

/// Merge quality of the pure grouping over exact pairwise similarities (within a user), for
/// a threshold sweep.
pub fn sweep(data: &Dataset, threshold: f32, number_guard: bool) -> MergeQuality {
    let rule = DuplicateRule {
        threshold,
        number_guard,
    };
    let n = data.memories.len();
    let mut edges = Vec::new();
    for i in 0..n {
        for j in i + 1..n {
            let (a, b) = (&data.memories[i], &data.memories[j]);
            if a.user != b.user {
                continue;
            }
            let sim: f32 = a.vector.iter().zip(&b.vector).map(|(x, y)| x * y).sum();
            if rule.is_duplicate(sim, &a.text, &b.text) {
                edges.push((i, j));
            }
        }
    }
    let mut root: HashMap<String, String> = HashMap::new();
    for g in components(n, edges) {
        let r = data.memories[g[0]].id.clone();
        for i in g {
            root.insert(data.memories[i].id.clone(), r.clone());
        }
    }
    merge_quality(data, &|id: &str| {
        root.get(id).cloned().unwrap_or_else(|| id.to_string())
    })
}

/// Fact resolution: (values exact, histories exact, total), feeding `facts` in `order`.
pub fn facts_check(store: &MemoryStore, data: &Dataset) -> (usize, usize, usize, Vec<String>) {
    let mut values = 0;
    let mut histories = 0;
    let mut misses = Vec::new();
    for e in &data.expected {
        let scope = Scope::user(&e.user);
        let cur = store.fact(&scope, &e.entity, &e.attribute).unwrap();
        let hist = store.fact_history(&scope, &e.entity, &e.attribute).unwrap();
        let v_ok = cur.as_ref().is_some_and(|f| f.value == e.value);
        let h_ok = hist.values == e.history;
        values += usize::from(v_ok);
        histories += usize::from(h_ok);
        if !v_ok || !h_ok {
            misses.push(format!(
                "{} {}.{}: got {:?} {:?}, want {:?} {:?}",
                e.user,
                e.entity,
                e.attribute,
                cur.map(|f| f.value),
                hist.values,
                e.value,
                e.history
            ));
        }
    }
    (values, histories, data.expected.len(), misses)
}

/// Feed only the facts (in the given index order) into a fresh store.
pub fn facts_only(data: &Dataset, order: &[usize]) -> (MemoryStore, Database, tempfile::TempDir) {
    let dir = tempfile::Builder::new()
        .prefix("memeval-facts-")
        .tempdir_in(scratch_root())
        .unwrap();
    let db = Database::open(dir.path(), Options::default().background(false)).unwrap();
    let last = data.facts.iter().map(|f| f.at).max().unwrap_or_default();
    let store = MemoryStore::open(&db, MemoryConfig::new(384))
        .unwrap()
        .with_clock(Arc::new(ManualClock::new(last)));
    for &i in order {
        let f = &data.facts[i];
        store
            .assert_fact(
                FactInput::new(Scope::user(&f.user), &f.entity, &f.attribute, &f.value).at(f.at),
            )
            .unwrap();
    }
    (store, db, dir)
}

/// The pipelines the report compares.
pub fn pipelines() -> Vec<Pipeline> {
    use mnemodb_memory::{Decay, ScoringModel};
    let cosine = Pipeline::new(
        "cosine (user filter only)",
        Scorer::new(ScoringModel::Similarity),
    );
    let mut bare_cosine = cosine.clone();
    bare_cosine.name = "cosine, no consolidation, no facts".into();
    bare_cosine.consolidate = false;
    bare_cosine.facts = false;
    let mut bare_default = Pipeline::new(
        "default scorer, no consolidation, no facts",
        Scorer::default(),
    );
    bare_default.consolidate = false;
    bare_default.facts = false;
    vec![
        bare_cosine,
        bare_default,
        cosine,
        Pipeline::new(
            "classic sim x imp x 0.95^days",
            Scorer::new(ScoringModel::classic_multiplicative()),
        ),
        Pipeline::new(
            "DEFAULT (sim^1.5 x imp x 0.99^(days(1-imp)^2); episodes 0.95^days)",
            Scorer::default(),
        ),
        {
            let mut p = Pipeline::new("default without fact grounding", Scorer::default());
            p.grounding = false;
            p
        },
        Pipeline::new(
            "no episodic split: sim x imp x 0.98^(days(1-imp)^2)",
            Scorer::new(ScoringModel::Multiplicative {
                decay: Decay::exponential(0.98).shielded(2.0),
                importance_weight: 1.0,
                decay_weight: 1.0,
            }),
        ),
        Pipeline::new(
            "generative agents (1,1,1; 0.995/h)",
            Scorer::new(ScoringModel::generative_agents()),
        ),
        Pipeline::new(
            "half-life 30 d, shielded",
            Scorer::new(ScoringModel::Multiplicative {
                decay: Decay::half_life(30.0).shielded(2.0),
                importance_weight: 1.0,
                decay_weight: 1.0,
            }),
        ),
        Pipeline::new(
            "Ebbinghaus S=30d+30d/recall, shielded",
            Scorer::new(ScoringModel::Multiplicative {
                decay: Decay::ebbinghaus(30.0, 30.0).shielded(2.0),
                importance_weight: 1.0,
                decay_weight: 1.0,
            }),
        ),
    ]
}
