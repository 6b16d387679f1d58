//! Shared workload, model and checks of the reliability suites (`kill9`, `power_loss`,
//! `faults`, `corruption`): a seeded stream of operations over two collections, a
//! `BTreeMap` model of what acknowledged operations imply, and a reader that turns an open
//! database into the same shape (checking its internal consistency on the way).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt;

use mnemodb::{
    CollectionConfig, Database, Document, ExternalId, Filter, HnswParams, IndexKind, Metric,
    Options, Query, Record, Value, WriteBatch,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Vector dimension of the vector collection.
pub const DIM: usize = 8;
/// External ids of the vector collection are drawn from `0..IDS`.
pub const IDS: u64 = 300;
/// External ids of the document collection are drawn from `0..DOC_IDS`.
pub const DOC_IDS: u64 = 40;
/// The vector collection (L2, so stored vectors compare bit for bit).
pub const VEC: &str = "vecs";
/// The document collection (metadata only).
pub const DOCS: &str = "docs";
/// Tags a record can carry (a keyword-indexed field, checked through filters).
pub const TAGS: u64 = 5;

/// `0` = [`VEC`], `1` = [`DOCS`].
pub type Coll = u8;

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The vector of version `ver` of id `id`: every component depends on both, so a torn row,
/// a row of another id or another version never passes for this one.
pub fn vec_for(id: u64, ver: u64) -> Vec<f32> {
    (0..DIM as u64)
        .map(|j| {
            let h = splitmix(splitmix(id) ^ ver.rotate_left(17) ^ j.wrapping_mul(0x1234_5678_9abc));
            ((h >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// Metadata of version `ver` of id `id`.
pub fn doc_for(id: u64, ver: u64) -> Document {
    let mut d = Document::new();
    d.insert("v".into(), Value::Int(ver as i64));
    d.insert("id".into(), Value::Int(id as i64));
    d.insert("tag".into(), Value::String(format!("t{}", ver % TAGS)));
    d
}

/// The patch of version `ver`.
pub fn patch_for(ver: u64) -> Document {
    let mut d = Document::new();
    d.insert(
        "tag".into(),
        Value::String(format!("t{}", (ver / 3) % TAGS)),
    );
    d.insert("pv".into(), Value::Int(ver as i64));
    d
}

/// A document-collection record of version `ver`.
pub fn docrec_for(id: u64, ver: u64, n: usize) -> Document {
    let mut d = Document::new();
    d.insert("v".into(), Value::Int(ver as i64));
    d.insert("n".into(), Value::Int(n as i64));
    d.insert("note".into(), Value::String(format!("doc {id} at {ver}")));
    d
}

/// Options every suite uses (plus its own durability / background choice).
pub fn options(seal_rows: usize, background: bool) -> Options {
    Options::default()
        .seal_rows(seal_rows)
        .background(background)
        .threads(1)
        .compact_small_rows(3 * seal_rows)
}

fn hnsw() -> IndexKind {
    let mut p = HnswParams::with_m(8);
    p.ef_construction = 48;
    IndexKind::Hnsw(p)
}

/// The vector collection's configuration.
pub fn vec_config() -> CollectionConfig {
    CollectionConfig::new(VEC, DIM, Metric::L2)
        .index(hnsw())
        .keyword("tag")
        .range("v")
}

/// One operation of the workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Create collection 0 or 1 (when missing).
    Create(Coll),
    /// Upsert version `ver` of `ids` into the vector collection (one batch).
    Upsert { ver: u64, ids: Vec<u64> },
    /// Delete `ids` from the vector collection (one batch).
    Delete { ids: Vec<u64> },
    /// Patch the metadata of `id` (which exists) with [`patch_for`]`(ver)`.
    Patch { ver: u64, id: u64 },
    /// One batch over both collections: upsert `ids` at `ver`, upsert document `doc`,
    /// delete document `del`.
    Cross {
        ver: u64,
        ids: Vec<u64>,
        doc: u64,
        del: u64,
    },
    /// `Database::checkpoint`.
    Checkpoint,
    /// `Database::compact`.
    Compact,
    /// Close and reopen the database (in-process workloads only).
    Reopen,
    /// Drop the document collection (the workload re-creates it next).
    DropDocs,
    /// `erase_where(tag = "t<tag>")` on the vector collection: delete and purge.
    Erase { tag: u64 },
}

impl Op {
    /// Whether the operation appends a WAL record (may change the logical state).
    pub fn writes(&self) -> bool {
        matches!(
            self,
            Op::Create(_)
                | Op::Upsert { .. }
                | Op::Delete { .. }
                | Op::Patch { .. }
                | Op::Cross { .. }
                | Op::DropDocs
                | Op::Erase { .. }
        )
    }
}

fn ids_str(ids: &[u64]) -> String {
    ids.iter().map(u64::to_string).collect::<Vec<_>>().join(",")
}

fn parse_ids(s: &str) -> Option<Vec<u64>> {
    s.split(',').map(|x| x.parse().ok()).collect()
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Create(c) => write!(f, "create {c}"),
            Op::Upsert { ver, ids } => write!(f, "upsert {ver} {}", ids_str(ids)),
            Op::Delete { ids } => write!(f, "delete {}", ids_str(ids)),
            Op::Patch { ver, id } => write!(f, "patch {ver} {id}"),
            Op::Cross { ver, ids, doc, del } => {
                write!(f, "cross {ver} {} {doc} {del}", ids_str(ids))
            }
            Op::Checkpoint => write!(f, "checkpoint"),
            Op::Compact => write!(f, "compact"),
            Op::Reopen => write!(f, "reopen"),
            Op::DropDocs => write!(f, "dropdocs"),
            Op::Erase { tag } => write!(f, "erase {tag}"),
        }
    }
}

impl std::str::FromStr for Op {
    type Err = String;
    fn from_str(s: &str) -> Result<Op, String> {
        let w: Vec<&str> = s.split_whitespace().collect();
        let num = |i: usize| -> Option<u64> { w.get(i)?.parse().ok() };
        let ids = |i: usize| -> Option<Vec<u64>> { parse_ids(w.get(i)?) };
        let op = match w.first().copied() {
            Some("create") => num(1).map(|c| Op::Create(c as Coll)),
            Some("upsert") => num(1).zip(ids(2)).map(|(ver, ids)| Op::Upsert { ver, ids }),
            Some("delete") => ids(1).map(|ids| Op::Delete { ids }),
            Some("patch") => num(1).zip(num(2)).map(|(ver, id)| Op::Patch { ver, id }),
            Some("cross") => (|| {
                Some(Op::Cross {
                    ver: num(1)?,
                    ids: ids(2)?,
                    doc: num(3)?,
                    del: num(4)?,
                })
            })(),
            Some("checkpoint") => Some(Op::Checkpoint),
            Some("compact") => Some(Op::Compact),
            Some("reopen") => Some(Op::Reopen),
            Some("dropdocs") => Some(Op::DropDocs),
            Some("erase") => num(1).map(|tag| Op::Erase { tag }),
            _ => None,
        };
        op.ok_or_else(|| format!("unparsable op `{s}`"))
    }
}

/// Run `op` on `db` (except [`Op::Reopen`], which the caller does). Returns the LSN of the
/// record it appended, if any.
pub fn apply(db: &Database, op: &Op) -> mnemodb::Result<Option<u64>> {
    match op {
        Op::Create(c) => {
            let before = db.stats().last_lsn;
            let cfg = if *c == 0 {
                vec_config()
            } else {
                CollectionConfig::documents(DOCS).keyword("note")
            };
            db.collection_or_create(cfg)?;
            let after = db.stats().last_lsn;
            Ok((after != before).then_some(after))
        }
        Op::Upsert { ver, ids } => {
            let recs = ids
                .iter()
                .map(|&id| Record::new(id, vec_for(id, *ver)).metadata(doc_for(id, *ver)))
                .collect();
            db.collection(VEC)?.upsert(recs).map(Some)
        }
        Op::Delete { ids } => {
            let ids: Vec<ExternalId> = ids.iter().map(|&i| i.into()).collect();
            db.collection(VEC)?.delete(&ids).map(Some)
        }
        Op::Patch { ver, id } => db.collection(VEC)?.patch(*id, patch_for(*ver)).map(Some),
        Op::Cross { ver, ids, doc, del } => {
            let mut b = WriteBatch::new();
            for &id in ids {
                b.upsert(
                    VEC,
                    Record::new(id, vec_for(id, *ver)).metadata(doc_for(id, *ver)),
                );
            }
            b.upsert(
                DOCS,
                Record::document(*doc, docrec_for(*doc, *ver, ids.len())),
            );
            b.delete(DOCS, *del);
            db.write(b).map(Some)
        }
        Op::Checkpoint => db.checkpoint().map(|()| None),
        Op::Compact => db.compact().map(|_| None),
        Op::Reopen => Ok(None),
        Op::DropDocs => {
            let before = db.stats().last_lsn;
            match db.drop_collection(DOCS) {
                Ok(()) | Err(mnemodb::Error::UnknownCollection(_)) => {}
                Err(e) => return Err(e),
            }
            let after = db.stats().last_lsn;
            Ok((after != before).then_some(after))
        }
        Op::Erase { tag } => {
            let before = db.stats().last_lsn;
            let f = Filter::parse(&format!("tag = \"t{tag}\""))
                .map_err(|e| mnemodb::Error::InvalidInput(e.to_string()))?;
            db.collection(VEC)?.erase_where(&f)?;
            let after = db.stats().last_lsn;
            Ok((after != before).then_some(after))
        }
    }
}

/// One stored row: its vector (vector collection) and metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub vector: Option<Vec<f32>>,
    pub doc: Document,
}

/// The logical content of a database.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Model {
    pub created: [bool; 2],
    pub rows: BTreeMap<(Coll, u64), Row>,
}

impl Model {
    /// Apply an operation that succeeded.
    pub fn apply(&mut self, op: &Op) {
        match op {
            Op::Create(c) => {
                if let Some(x) = self.created.get_mut(*c as usize) {
                    *x = true;
                }
            }
            Op::Upsert { ver, ids } => {
                for &id in ids {
                    self.put_vec(id, *ver);
                }
            }
            Op::Delete { ids } => {
                for &id in ids {
                    self.rows.remove(&(0, id));
                }
            }
            Op::Patch { ver, id } => {
                if let Some(r) = self.rows.get_mut(&(0, *id)) {
                    for (k, v) in patch_for(*ver) {
                        r.doc.insert(k, v);
                    }
                }
            }
            Op::Cross { ver, ids, doc, del } => {
                for &id in ids {
                    self.put_vec(id, *ver);
                }
                self.rows.insert(
                    (1, *doc),
                    Row {
                        vector: None,
                        doc: docrec_for(*doc, *ver, ids.len()),
                    },
                );
                self.rows.remove(&(1, *del));
            }
            Op::DropDocs => {
                self.created[1] = false;
                self.rows.retain(|(c, _), _| *c != 1);
            }
            Op::Erase { tag } => {
                let t = Value::String(format!("t{tag}"));
                self.rows
                    .retain(|(c, _), r| *c != 0 || r.doc.get("tag") != Some(&t));
            }
            Op::Checkpoint | Op::Compact | Op::Reopen => {}
        }
    }

    fn put_vec(&mut self, id: u64, ver: u64) {
        self.rows.insert(
            (0, id),
            Row {
                vector: Some(vec_for(id, ver)),
                doc: doc_for(id, ver),
            },
        );
    }

    /// The model after `op`.
    pub fn after(&self, op: &Op) -> Model {
        let mut m = self.clone();
        m.apply(op);
        m
    }

    /// Live ids of the vector collection.
    pub fn vec_ids(&self) -> Vec<u64> {
        self.rows
            .keys()
            .filter(|(c, _)| *c == 0)
            .map(|(_, i)| *i)
            .collect()
    }

    /// Whether vector id `id` is live.
    pub fn has_vec(&self, id: u64) -> bool {
        self.rows.contains_key(&(0, id))
    }

    /// A short description of how `self` (actual) differs from `want`.
    pub fn diff(&self, want: &Model) -> String {
        let mut out = Vec::new();
        if self.created != want.created {
            out.push(format!(
                "collections created {:?}, want {:?}",
                self.created, want.created
            ));
        }
        for (k, w) in &want.rows {
            match self.rows.get(k) {
                None => out.push(format!("{k:?} missing (want v={:?})", w.doc.get("v"))),
                Some(a) if a != w => out.push(format!(
                    "{k:?} differs: got v={:?} {:?}, want v={:?} {:?}",
                    a.doc.get("v"),
                    a.doc,
                    w.doc.get("v"),
                    w.doc
                )),
                _ => {}
            }
        }
        for (k, a) in &self.rows {
            if !want.rows.contains_key(k) {
                out.push(format!(
                    "{k:?} present (v={:?}) but not expected",
                    a.doc.get("v")
                ));
            }
        }
        out.truncate(12);
        out.join("; ")
    }
}

/// Which of `candidates` `actual` equals, or a description of the mismatch (against the
/// first candidate).
pub fn match_any(actual: &Model, candidates: &[&Model]) -> Result<usize, String> {
    candidates.iter().position(|m| *m == actual).ok_or_else(|| {
        candidates
            .first()
            .map(|m| actual.diff(m))
            .unwrap_or_default()
    })
}

fn as_u64(v: Option<&Value>) -> Option<u64> {
    match v {
        Some(Value::Int(i)) => u64::try_from(*i).ok(),
        _ => None,
    }
}

/// Read the whole logical content of `db` and check it is self-consistent: `get`, `scan`,
/// `count`, a filtered count and an exhaustive search agree, and every vector is the one its
/// metadata's version implies (no torn or mixed row).
pub fn read_state(db: &Database) -> Result<Model, String> {
    let mut m = Model::default();
    for (c, name, ids) in [(0u8, VEC, IDS), (1u8, DOCS, DOC_IDS)] {
        let coll = match db.collection(name) {
            Ok(c) => c,
            Err(mnemodb::Error::UnknownCollection(_)) => continue,
            Err(e) => return Err(format!("collection {name}: {e}")),
        };
        if let Some(x) = m.created.get_mut(c as usize) {
            *x = true;
        }
        let mut live = BTreeMap::new();
        for id in 0..ids {
            let e = coll
                .get(&id.into())
                .map_err(|e| format!("get {name}/{id}: {e}"))?;
            if let Some(e) = e {
                if c == 0 {
                    let v = e.vector.clone().ok_or(format!("{name}/{id}: no vector"))?;
                    let ver = as_u64(e.metadata.get("v"))
                        .ok_or(format!("{name}/{id}: metadata without v: {:?}", e.metadata))?;
                    if v != vec_for(id, ver) {
                        return Err(format!(
                            "{name}/{id}: vector is not the one of version {ver} (torn or mixed row): {v:?}"
                        ));
                    }
                }
                live.insert(
                    id,
                    Row {
                        vector: e.vector,
                        doc: e.metadata,
                    },
                );
            }
        }
        if coll.count() != live.len() as u64 {
            return Err(format!(
                "{name}: count() = {} but {} ids are gettable",
                coll.count(),
                live.len()
            ));
        }
        let scanned = coll
            .scan(None, true)
            .map_err(|e| format!("scan {name}: {e}"))?;
        if scanned.len() != live.len() {
            return Err(format!(
                "{name}: scan returns {} records, get finds {}",
                scanned.len(),
                live.len()
            ));
        }
        for e in &scanned {
            let id = match &e.id {
                ExternalId::U64(i) => *i,
                other => return Err(format!("{name}: unexpected id {other:?}")),
            };
            match live.get(&id) {
                Some(r) if r.doc == e.metadata && r.vector == e.vector => {}
                _ => return Err(format!("{name}/{id}: scan disagrees with get")),
            }
        }
        if c == 0 {
            for t in 0..TAGS {
                let f = Filter::parse(&format!("tag = \"t{t}\"")).map_err(|e| e.to_string())?;
                let want = live
                    .values()
                    .filter(|r| r.doc.get("tag") == Some(&Value::String(format!("t{t}"))))
                    .count() as u64;
                let got = coll
                    .count_where(&f)
                    .map_err(|e| format!("count_where: {e}"))?;
                if got != want {
                    return Err(format!("{name}: {got} records match tag t{t}, want {want}"));
                }
            }
            if !live.is_empty() {
                let q = Query::new(vec_for(7, 7), IDS as usize + 10).ef(4 * IDS as usize);
                let hits = coll.search(&q).map_err(|e| format!("search: {e}"))?;
                let mut got: Vec<u64> = Vec::with_capacity(hits.len());
                let query = vec_for(7, 7);
                for h in &hits {
                    let ExternalId::U64(id) = h.id else {
                        return Err(format!("search returned id {:?}", h.id));
                    };
                    let r = match live.get(&id) {
                        Some(r) if h.metadata.as_ref() == Some(&r.doc) => r,
                        _ => return Err(format!("search hit {id}: not live or wrong metadata")),
                    };
                    // The distance is the one of the stored vector (brute force, L2²).
                    let v = r.vector.as_deref().unwrap_or_default();
                    let d: f32 = v.iter().zip(&query).map(|(a, b)| (a - b) * (a - b)).sum();
                    if (d - h.distance).abs() > 1e-4 * d.max(1.0) {
                        return Err(format!(
                            "search hit {id}: distance {} but the vector is at {d}",
                            h.distance
                        ));
                    }
                    got.push(id);
                }
                if hits.windows(2).any(|w| w[0].distance > w[1].distance) {
                    return Err("search hits out of order".into());
                }
                got.sort_unstable();
                let want: Vec<u64> = live.keys().copied().collect();
                if got != want {
                    let missing: Vec<_> = want.iter().filter(|i| !got.contains(i)).collect();
                    return Err(format!(
                        "exhaustive search returned {} ids, {} live; missing {:?}; duplicates or extra: {}",
                        got.len(),
                        want.len(),
                        missing,
                        got.len() + missing.len() != want.len()
                    ));
                }
                // A filtered exhaustive search returns exactly the matching live ids.
                let f = Filter::parse("tag = \"t1\"").map_err(|e| e.to_string())?;
                let hits = coll
                    .search(&q.clone().filter(f))
                    .map_err(|e| format!("filtered search: {e}"))?;
                let mut got: Vec<u64> = hits
                    .iter()
                    .filter_map(|h| match h.id {
                        ExternalId::U64(i) => Some(i),
                        _ => None,
                    })
                    .collect();
                got.sort_unstable();
                let want: Vec<u64> = live
                    .iter()
                    .filter(|(_, r)| r.doc.get("tag") == Some(&Value::String("t1".into())))
                    .map(|(i, _)| *i)
                    .collect();
                if got != want {
                    return Err(format!(
                        "filtered exhaustive search returned {got:?}, want {want:?}"
                    ));
                }
            }
        }
        for (id, row) in live {
            m.rows.insert((c, id), row);
        }
    }
    Ok(m)
}

/// A seeded generator of workload operations.
#[derive(Debug)]
pub struct Workload {
    pub rng: ChaCha8Rng,
    pub next_ver: u64,
    /// Weights: upsert, delete, patch, cross, checkpoint, compact, reopen, drop and
    /// re-create the document collection, erase.
    pub mix: [u32; 9],
    /// An operation that must come next (the re-creation after a drop).
    pub queued: Option<Op>,
}

impl Workload {
    /// A generator whose versions start at `first_ver`.
    pub fn new(seed: u64, first_ver: u64) -> Self {
        Workload {
            rng: ChaCha8Rng::seed_from_u64(seed),
            next_ver: first_ver,
            mix: [70, 12, 6, 4, 4, 4, 0, 0, 0],
            queued: None,
        }
    }

    /// The next operation; `exists(id)` says whether vector id `id` is live (for patches).
    pub fn next(&mut self, exists: &dyn Fn(u64) -> bool) -> Op {
        if let Some(op) = self.queued.take() {
            return op;
        }
        let ver = self.next_ver;
        self.next_ver += 1;
        let total: u32 = self.mix.iter().sum();
        let mut pick = self.rng.random_range(0..total);
        let mut kind = 0;
        for (i, w) in self.mix.iter().enumerate() {
            if pick < *w {
                kind = i;
                break;
            }
            pick -= w;
        }
        let rng = &mut self.rng;
        let mut ids = |max: usize| -> Vec<u64> {
            let n = rng.random_range(1..=max);
            (0..n).map(|_| rng.random_range(0..IDS)).collect()
        };
        match kind {
            0 => Op::Upsert { ver, ids: ids(16) },
            1 => Op::Delete { ids: ids(8) },
            2 => {
                let start = self.rng.random_range(0..IDS);
                match (0..IDS).map(|k| (start + k) % IDS).find(|&i| exists(i)) {
                    Some(id) => Op::Patch { ver, id },
                    None => Op::Upsert {
                        ver,
                        ids: vec![start],
                    },
                }
            }
            3 => Op::Cross {
                ver,
                ids: ids(4),
                doc: self.rng.random_range(0..DOC_IDS),
                del: self.rng.random_range(0..DOC_IDS),
            },
            4 => Op::Checkpoint,
            5 => Op::Compact,
            6 => Op::Reopen,
            7 => {
                self.queued = Some(Op::Create(1));
                Op::DropDocs
            }
            _ => Op::Erase {
                tag: self.rng.random_range(0..TAGS),
            },
        }
    }
}

/// Every file under `dir`, relative path → bytes (for before/after comparisons).
pub fn snapshot_files(dir: &std::path::Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &std::path::Path, dir: &std::path::Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else if let Ok(bytes) = std::fs::read(&p) {
                let rel = p
                    .strip_prefix(base)
                    .unwrap_or(&p)
                    .to_string_lossy()
                    .to_string();
                out.insert(rel, bytes);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Run `f`, turning a panic into `Err` (with its message).
pub fn no_panic<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panic".into())
    })
}
