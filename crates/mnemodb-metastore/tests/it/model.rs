//! State-machine test (proptest-state-machine) of `MetaStore` against a `BTreeMap` model:
//! puts, patches, deletes, gets, random filters (index-based result = brute force on the
//! model), checkpoints, reopens and simulated power losses (`MemFs` crash images, both
//! `DropUnsynced` and `Random`): with `Durability::Sync` every acknowledged op survives.
use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use mnemodb_io::{CrashMode, MemFs};
use mnemodb_metastore::{Document, Error, ExternalId, Filter, MetaStore, MetaStoreOptions, Value};
use proptest::prelude::*;
use proptest::test_runner::Config;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};
use roaring::RoaringBitmap;

#[derive(Debug, Clone)]
pub enum Step {
    Put(ExternalId, Document),
    Patch(ExternalId, Document),
    Delete(ExternalId),
    Get(ExternalId),
    Filter(Filter),
    Checkpoint,
    Reopen,
    Crash(CrashMode),
}

#[derive(Debug, Clone, Default)]
pub struct Model {
    docs: BTreeMap<ExternalId, Document>,
    ids: BTreeMap<ExternalId, u32>,
    next: u32,
}

impl Model {
    fn matching(&self, f: &Filter) -> RoaringBitmap {
        self.docs
            .iter()
            .filter(|(_, d)| f.matches(d))
            .map(|(e, _)| self.ids[e])
            .collect()
    }
}

fn ext_id() -> impl Strategy<Value = ExternalId> {
    prop_oneof![
        (0u64..6).prop_map(ExternalId::U64),
        prop::sample::select(vec!["a", "b", "c"]).prop_map(ExternalId::from),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => prop::sample::select(vec!["u1", "u2", "u3"]).prop_map(Value::from),
        2 => (-3i64..4).prop_map(Value::Int),
        2 => prop::sample::select(vec![0.1, 0.5, 0.9, 2.0, -0.0]).prop_map(Value::Float),
        2 => (0i64..5).prop_map(Value::Timestamp),
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => prop::collection::vec(prop::sample::select(vec!["t1", "t2", "u1"]).prop_map(String::from), 0..3)
            .prop_map(Value::List),
        1 => Just(Value::Float(f64::NAN)),
    ]
}

const FIELDS: [&str; 6] = ["user", "kind", "created_at", "importance", "tags", "other"];

fn doc() -> impl Strategy<Value = Document> {
    let plain = prop::collection::btree_map(
        prop::sample::select(FIELDS.to_vec()).prop_map(String::from),
        value(),
        0..5,
    );
    (plain, prop::option::of(value())).prop_map(|(mut d, nested)| {
        if let Some(v) = nested {
            d.insert(
                "meta".into(),
                Value::Map(BTreeMap::from([("src".to_string(), v)])),
            );
        }
        d
    })
}

fn leaf() -> impl Strategy<Value = Filter> {
    let field = prop::sample::select(vec![
        "user",
        "kind",
        "created_at",
        "importance",
        "tags",
        "other",
        "meta.src",
        "nope",
    ])
    .prop_map(String::from);
    let bound = || {
        prop_oneof![
            Just(Bound::Unbounded),
            value().prop_map(Bound::Included),
            value().prop_map(Bound::Excluded)
        ]
    };
    prop_oneof![
        (field.clone(), value()).prop_map(|(f, v)| Filter::Eq(f, v)),
        (field.clone(), value()).prop_map(|(f, v)| Filter::Ne(f, v)),
        (field.clone(), prop::collection::vec(value(), 0..3)).prop_map(|(f, v)| Filter::In(f, v)),
        (field.clone(), bound(), bound()).prop_map(|(field, lower, upper)| Filter::Range {
            field,
            lower,
            upper
        }),
        field.prop_map(Filter::Exists),
        Just(Filter::All),
    ]
}

fn filter() -> impl Strategy<Value = Filter> {
    leaf().prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Filter::And),
            prop::collection::vec(inner.clone(), 0..3).prop_map(Filter::Or),
            inner.prop_map(|f| Filter::Not(Box::new(f))),
        ]
    })
}

pub struct Reference;

impl ReferenceStateMachine for Reference {
    type State = Model;
    type Transition = Step;

    fn init_state() -> BoxedStrategy<Model> {
        Just(Model::default()).boxed()
    }

    fn transitions(_: &Model) -> BoxedStrategy<Step> {
        prop_oneof![
            6 => (ext_id(), doc()).prop_map(|(i, d)| Step::Put(i, d)),
            3 => (ext_id(), doc()).prop_map(|(i, d)| Step::Patch(i, d)),
            2 => ext_id().prop_map(Step::Delete),
            1 => ext_id().prop_map(Step::Get),
            5 => filter().prop_map(Step::Filter),
            1 => Just(Step::Checkpoint),
            1 => Just(Step::Reopen),
            1 => prop_oneof![Just(CrashMode::DropUnsynced), any::<u64>().prop_map(|seed| CrashMode::Random { seed })]
                .prop_map(Step::Crash),
        ]
        .boxed()
    }

    fn apply(mut s: Model, step: &Step) -> Model {
        match step {
            Step::Put(id, d) => {
                if !s.ids.contains_key(id) {
                    s.ids.insert(id.clone(), s.next);
                    s.next += 1;
                }
                s.docs.insert(id.clone(), d.clone());
            }
            Step::Patch(id, p) => {
                if let Some(d) = s.docs.get_mut(id) {
                    merge(d, p);
                }
            }
            Step::Delete(id) => {
                s.docs.remove(id);
                s.ids.remove(id);
            }
            _ => {}
        }
        s
    }
}

/// RFC 7386, written independently of the crate's.
fn merge(target: &mut Document, patch: &Document) {
    for (k, v) in patch {
        match v {
            Value::Null => {
                target.remove(k);
            }
            Value::Map(p) => {
                let mut t = match target.remove(k) {
                    Some(Value::Map(t)) => t,
                    _ => BTreeMap::new(),
                };
                merge(&mut t, p);
                target.insert(k.clone(), Value::Map(t));
            }
            v => {
                target.insert(k.clone(), v.clone());
            }
        }
    }
}

pub struct Sut {
    fs: MemFs,
    store: Option<MetaStore>,
}

fn open_store(fs: &MemFs) -> MetaStore {
    MetaStore::open(
        Arc::new(fs.clone()),
        Path::new("/db"),
        MetaStoreOptions::new(crate::schema()),
    )
    .unwrap()
    .0
}

fn same_docs(a: &Document, b: &Document) -> bool {
    // Compare encodings: NaN != NaN under PartialEq.
    mnemodb_metastore::encode_document(a).unwrap() == mnemodb_metastore::encode_document(b).unwrap()
}

fn check_all(store: &MetaStore, model: &Model) {
    let snap = store.snapshot();
    assert_eq!(snap.len(), model.docs.len() as u64);
    for (id, d) in &model.docs {
        let got = snap.get(id).unwrap_or_else(|| panic!("{id} missing"));
        assert!(same_docs(got, d), "{id}: {got:?} != {d:?}");
        assert_eq!(snap.internal_id(id), Some(model.ids[id]));
    }
}

impl StateMachineTest for Sut {
    type SystemUnderTest = Sut;
    type Reference = Reference;

    fn init_test(_: &Model) -> Sut {
        let fs = MemFs::new();
        let store = Some(open_store(&fs));
        Sut { fs, store }
    }

    fn apply(mut sut: Sut, model: &Model, step: Step) -> Sut {
        let store = sut.store.as_ref().unwrap();
        match step {
            Step::Put(id, d) => {
                let internal = store.put(id.clone(), d).unwrap();
                assert_eq!(internal, model.ids[&id]);
            }
            Step::Patch(id, p) => match store.patch(id.clone(), p) {
                Ok(internal) => assert_eq!(Some(&internal), model.ids.get(&id)),
                Err(Error::NotFound { .. }) => assert!(!model.docs.contains_key(&id)),
                Err(e) => panic!("patch: {e}"),
            },
            Step::Delete(id) => {
                store.delete(id.clone()).unwrap();
            }
            Step::Get(id) => {
                let got = store.get(&id);
                match (got, model.docs.get(&id)) {
                    (Some(a), Some(b)) => assert!(same_docs(&a, b)),
                    (None, None) => {}
                    (a, b) => panic!("get {id}: {a:?} vs {b:?}"),
                }
            }
            Step::Filter(f) => {
                let got = store.filter(&f).unwrap();
                assert_eq!(got, model.matching(&f), "filter {f}");
                // The text form means the same.
                let text = f.to_string();
                if let Ok(g) = Filter::parse(&text) {
                    assert_eq!(store.filter(&g).unwrap(), got, "reparsed {text}");
                }
            }
            Step::Checkpoint => {
                store.checkpoint().unwrap();
            }
            Step::Reopen => {
                sut.store = None;
                let store = open_store(&sut.fs);
                check_all(&store, model);
                sut.store = Some(store);
            }
            Step::Crash(mode) => {
                let image = sut.fs.crash_image(mode);
                sut.store = None;
                sut.fs = image;
                let store = open_store(&sut.fs);
                check_all(&store, model);
                sut.store = Some(store);
            }
        }
        sut
    }

    fn check_invariants(sut: &Sut, model: &Model) {
        let store = sut.store.as_ref().unwrap();
        assert_eq!(store.len(), model.docs.len() as u64);
        assert_eq!(store.snapshot().next_internal_id(), model.next);
    }
}

prop_state_machine! {
    #![proptest_config(Config {
        cases: 256,
        failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::WithSource("regressions"))),
        ..Config::default()
    })]
    #[test]
    fn metastore_matches_model(sequential 1..60 => Sut);
}
