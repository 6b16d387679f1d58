//! The corruption matrix (RELIABILITY recipe (b)) over every file kind of a small seeded
//! database: sealed segments (`.vec`) with their HNSW indexes (`.hnsw`), metadata
//! checkpoints (`meta/*.ckpt`), the two kept manifests and several WAL files.
//!
//! Mutations per file: truncation (many lengths), single bit flips (header bits and
//! sampled body bits), appended garbage, a stale copy (an older version of the file, or a
//! file of the same kind that the manifest does not expect), a file of the wrong kind, and
//! a missing file. Expected outcomes, per the recovery table:
//!
//! - never a panic;
//! - a damaged file the newest manifest references → `Error::Corrupted` naming that file;
//! - the newest manifest damaged → the previous one is opened, `open_report().fallback`
//!   says so, and nothing is lost (the WAL still holds what came after it);
//! - a WAL file: `Corrupted` naming a WAL file, or — damage at the tail of the newest file
//!   only — the longest valid prefix, with `truncated_bytes > 0` unless the cut falls on a
//!   record boundary (which no checksum can tell from a clean end);
//! - with the default [`Verify::Background`], damage to the content of a segment or index
//!   may pass the open; `Database::verify()` (what the background scrub runs) then returns
//!   `Error::Corrupted` naming that file, and every later read of its collection too; with
//!   [`Verify::Full`] the open itself fails (both modes are run);
//! - whenever open (and verification) succeeds, every vector and metadata returned equals the truth at the
//!   recovered LSN (no silent wrong data).
//!
//! `MNEMODB_CORRUPT_BODY_BITS` body bits are flipped per file (default 48);
//! `MNEMODB_CORRUPT_ALL_HEADER_BITS=1` flips every header bit of every kind (the default
//! flips every header bit of manifests and WAL files and every fourth one of the larger
//! headers).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod reliability;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mnemodb::{Database, Durability, Error, Options, Verify};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use reliability::{Model, Op, apply, no_panic, read_state};

const SEAL_ROWS: usize = 64;

fn opts() -> Options {
    reliability::options(SEAL_ROWS, false)
        .durability(Durability::Sync)
        .wal_file_bytes(4096)
}

fn opts_with(verify: Verify) -> Options {
    opts().verify(verify)
}

type Files = BTreeMap<String, Vec<u8>>;

/// The fixture: the files of a closed database, the truth at every LSN of its WAL tail, and
/// the files as they were before the last writes (the source of stale copies).
struct Fixture {
    files: Files,
    early: Files,
    /// Model after each LSN from the last checkpoint on (the key is the LSN).
    history: BTreeMap<u64, Model>,
    final_lsn: u64,
}

fn build_fixture(dir: &Path, seed: u64) -> Fixture {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let db = Database::open(dir, opts()).unwrap();
    let mut model = Model::default();
    let mut history = BTreeMap::new();
    let run = |db: &Database, op: Op, model: &mut Model, history: &mut BTreeMap<u64, Model>| {
        let lsn = apply(db, &op).unwrap();
        model.apply(&op);
        if let Some(l) = lsn {
            history.insert(l, model.clone());
        }
    };
    run(&db, Op::Create(0), &mut model, &mut history);
    run(&db, Op::Create(1), &mut model, &mut history);
    // Three sealed segments (seal at 64 rows) with indexes, then a checkpoint.
    for b in 0..10u64 {
        let ids: Vec<u64> = (b * 20..b * 20 + 20).collect();
        run(&db, Op::Upsert { ver: 1, ids }, &mut model, &mut history);
    }
    run(
        &db,
        Op::Cross {
            ver: 2,
            ids: vec![3, 4],
            doc: 1,
            del: 9,
        },
        &mut model,
        &mut history,
    );
    run(
        &db,
        Op::Delete {
            ids: (0..5).collect(),
        },
        &mut model,
        &mut history,
    );
    db.checkpoint().unwrap();
    db.wait_for_background().unwrap();
    let early = reliability::snapshot_files(dir);
    // A WAL tail over several files: upserts, deletes, patches, cross batches.
    let before_tail = db.stats().last_lsn;
    history.retain(|l, _| *l >= before_tail);
    history.insert(before_tail, model.clone());
    for i in 0..24u64 {
        let op = match i % 4 {
            0 | 1 => Op::Upsert {
                ver: 10 + i,
                ids: (0..8).map(|_| rng.random_range(0..250)).collect(),
            },
            2 => Op::Delete {
                ids: (0..3).map(|_| rng.random_range(0..250)).collect(),
            },
            _ => match model.vec_ids().first() {
                Some(&id) if i % 8 == 3 => Op::Patch { ver: 10 + i, id },
                _ => Op::Cross {
                    ver: 10 + i,
                    ids: vec![rng.random_range(0..250)],
                    doc: rng.random_range(0..10),
                    del: rng.random_range(0..10),
                },
            },
        };
        run(&db, op, &mut model, &mut history);
    }
    let final_lsn = db.stats().last_lsn;
    let stats = db.stats();
    assert!(stats.wal_files >= 3, "want several WAL files: {stats:?}");
    drop(db);
    Fixture {
        files: reliability::snapshot_files(dir),
        early,
        history,
        final_lsn,
    }
}

fn restore(dir: &Path, files: &Files) {
    let _ = std::fs::remove_dir_all(dir);
    for (rel, bytes) in files {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Vec,
    Hnsw,
    Ckpt,
    NewestManifest,
    OlderManifest,
    NewestWal,
    OlderWal,
}

fn kind_of(rel: &str, fx: &Fixture) -> Option<Kind> {
    let manifests: Vec<&String> = fx
        .files
        .keys()
        .filter(|k| k.starts_with("MANIFEST-"))
        .collect();
    let wals: Vec<&String> = fx.files.keys().filter(|k| k.starts_with("wal/")).collect();
    Some(if rel.ends_with(".vec") {
        Kind::Vec
    } else if rel.ends_with(".hnsw") {
        Kind::Hnsw
    } else if rel.ends_with(".ckpt") {
        Kind::Ckpt
    } else if rel.starts_with("MANIFEST-") {
        if Some(&rel.to_string()) == manifests.last().map(|s| (*s).clone()).as_ref() {
            Kind::NewestManifest
        } else {
            Kind::OlderManifest
        }
    } else if rel.starts_with("wal/") {
        if Some(&rel.to_string()) == wals.last().map(|s| (*s).clone()).as_ref() {
            Kind::NewestWal
        } else {
            Kind::OlderWal
        }
    } else {
        return None;
    })
}

fn header_len(kind: Kind) -> usize {
    match kind {
        Kind::Vec | Kind::Ckpt => 128,
        Kind::Hnsw => 256,
        Kind::NewestManifest | Kind::OlderManifest => 40,
        Kind::NewestWal | Kind::OlderWal => 64,
    }
}

/// One way to damage a file.
#[derive(Debug, Clone)]
enum Mutation {
    Truncate(usize),
    Flip(usize),
    Append(Vec<u8>),
    Replace(&'static str, Vec<u8>),
    Missing,
}

impl Mutation {
    fn label(&self) -> String {
        match self {
            Mutation::Truncate(l) => format!("truncate to {l}"),
            Mutation::Flip(b) => format!("flip bit {b} (byte {})", b / 8),
            Mutation::Append(g) => format!("append {} bytes", g.len()),
            Mutation::Replace(what, _) => format!("replace with {what}"),
            Mutation::Missing => "missing".into(),
        }
    }

    fn class(&self) -> &'static str {
        match self {
            Mutation::Truncate(_) => "truncate",
            Mutation::Flip(_) => "flip",
            Mutation::Append(_) => "append",
            Mutation::Replace(what, _) => what,
            Mutation::Missing => "missing",
        }
    }
}

fn mutations(rel: &str, kind: Kind, fx: &Fixture, rng: &mut ChaCha8Rng) -> Vec<Mutation> {
    let bytes = &fx.files[rel];
    let len = bytes.len();
    let h = header_len(kind).min(len);
    let mut out = Vec::new();
    let mut lens: Vec<usize> = vec![
        0,
        1,
        7,
        8,
        15,
        16,
        17,
        h.saturating_sub(1),
        h,
        h + 1,
        len / 2,
        len - 1,
    ];
    lens.extend((0..12).map(|_| rng.random_range(0..len)));
    // Around the end of the last records (WAL tails).
    lens.extend((1..=4).map(|k| len.saturating_sub(k * 37)));
    lens.sort_unstable();
    lens.dedup();
    out.extend(
        lens.into_iter()
            .filter(|&l| l < len)
            .map(Mutation::Truncate),
    );
    let all_header = std::env::var("MNEMODB_CORRUPT_ALL_HEADER_BITS").is_ok_and(|v| v == "1");
    let step = if all_header || h <= 64 { 1 } else { 4 };
    out.extend((0..h * 8).step_by(step).map(Mutation::Flip));
    let body_bits: usize = std::env::var("MNEMODB_CORRUPT_BODY_BITS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(48);
    if len > h {
        out.extend((0..body_bits).map(|_| Mutation::Flip(rng.random_range(h * 8..len * 8))));
        out.push(Mutation::Flip(len * 8 - 1));
    }
    out.push(Mutation::Append((0..16).map(|_| rng.random()).collect()));
    out.push(Mutation::Append(vec![0; 4096]));
    out.push(Mutation::Missing);
    // A stale copy: the same file before the last writes, or another file of the kind.
    let same_kind_other = |suffix: &str| {
        fx.files
            .iter()
            .find(|(k, v)| k.as_str() != rel && k.ends_with(suffix) && *v != bytes)
            .map(|(_, v)| v.clone())
    };
    let stale = match fx.early.get(rel) {
        Some(old) if old != bytes => Some(("stale copy", old.clone())),
        _ => match kind {
            Kind::Vec => same_kind_other(".vec").map(|v| ("another segment", v)),
            Kind::Hnsw => same_kind_other(".hnsw").map(|v| ("another index", v)),
            Kind::Ckpt => fx
                .early
                .iter()
                .chain(fx.files.iter())
                .find(|(k, v)| k.ends_with(".ckpt") && k.as_str() != rel && *v != bytes)
                .map(|(_, v)| ("an older checkpoint", v.clone())),
            Kind::NewestManifest | Kind::OlderManifest => fx
                .files
                .iter()
                .find(|(k, v)| k.starts_with("MANIFEST-") && k.as_str() != rel && *v != bytes)
                .map(|(_, v)| ("the other manifest", v.clone())),
            Kind::NewestWal | Kind::OlderWal => None,
        },
    };
    if let Some((what, v)) = stale {
        out.push(Mutation::Replace(what, v));
    }
    // A file of the wrong kind.
    let wrong = match kind {
        Kind::Vec => ".hnsw",
        Kind::Hnsw => ".vec",
        Kind::Ckpt => ".vec",
        Kind::NewestManifest | Kind::OlderManifest => ".ckpt",
        Kind::NewestWal | Kind::OlderWal => ".ckpt",
    };
    if let Some((_, v)) = fx.files.iter().find(|(k, _)| k.ends_with(wrong)) {
        out.push(Mutation::Replace("wrong kind", v.clone()));
    }
    out
}

fn mutate(path: &Path, m: &Mutation) {
    match m {
        Mutation::Truncate(l) => mnemodb_testkit::corrupt::set_len(path, *l as u64).unwrap(),
        Mutation::Flip(b) => mnemodb_testkit::corrupt::flip_bit(path, *b as u64).unwrap(),
        Mutation::Append(g) => {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
            f.write_all(g).unwrap();
        }
        Mutation::Replace(_, v) => std::fs::write(path, v).unwrap(),
        Mutation::Missing => std::fs::remove_file(path).unwrap(),
    }
}

/// Outcome counters per (kind, mutation class).
#[derive(Debug, Default)]
struct Counts {
    corrupted: u64,
    fallback: u64,
    torn_tail: u64,
    /// Open succeeded with the full truth although the file changed (bytes no reader
    /// depends on for correctness, or damage only a later read would notice).
    undetected: u64,
    /// Open succeeded with an earlier state and nothing reported (a WAL cut at a record
    /// boundary, a missing or rolled-back newest WAL file: indistinguishable from a
    /// clean end).
    silent_prefix: u64,
    /// Of `corrupted`: found after the open, by `verify()` (the scrub's check).
    scrubbed: u64,
}

#[allow(clippy::too_many_arguments)]
fn check(
    dir: &Path,
    target: &Path,
    kind: Kind,
    referenced: bool,
    m: &Mutation,
    fx: &Fixture,
    counts: &mut Counts,
    verify: Verify,
) -> Result<(), String> {
    let opened = no_panic(|| Database::open(dir, opts_with(verify)))
        .map_err(|p| format!("open panicked: {p}"))?;
    // What the background scrub finds, `verify()` returns (it waits for, or does, the
    // same checks); after it, reads of the damaged collection fail with the same error.
    let opened = match opened {
        Ok(db) => match no_panic(|| db.verify()).map_err(|p| format!("verify panicked: {p}"))? {
            Ok(_) => Ok(db),
            Err(e @ Error::Corrupted { .. }) => {
                if verify == Verify::Full {
                    return Err(format!("opened with Verify::Full, but verify() finds {e}"));
                }
                if !matches!(kind, Kind::Vec | Kind::Hnsw) {
                    return Err(format!("verify() reports {e} for a {kind:?} file"));
                }
                match no_panic(|| read_state(&db)).map_err(|p| format!("reading panicked: {p}"))? {
                    Err(read) if read.contains("corrupted") => {}
                    Err(read) => return Err(format!("after {e}, a read fails otherwise: {read}")),
                    Ok(_) => return Err(format!("after {e}, reads still succeed")),
                }
                let stats = db.stats();
                if stats.damaged.len() != 1 {
                    return Err(format!("stats report damage {:?}", stats.damaged));
                }
                counts.scrubbed += 1;
                Err(e)
            }
            Err(e) => return Err(format!("verify failed with a non-corruption error: {e}")),
        },
        Err(e) => Err(e),
    };
    let db = match opened {
        Err(Error::Corrupted { file, offset, what }) => {
            let ok = match kind {
                Kind::NewestWal | Kind::OlderWal => file.starts_with(dir.join("wal")),
                Kind::NewestManifest => false,
                _ => file == target,
            };
            if !ok {
                return Err(format!(
                    "Corrupted names {} (byte {offset}: {what}), not the damaged file",
                    file.display()
                ));
            }
            counts.corrupted += 1;
            return Ok(());
        }
        Err(e) => return Err(format!("open failed with a non-corruption error: {e}")),
        Ok(db) => db,
    };
    let actual = no_panic(|| read_state(&db))
        .map_err(|p| format!("reading panicked: {p}"))?
        .map_err(|e| format!("opened, but inconsistent: {e}"))?;
    let lsn = db.stats().last_lsn;
    let report = db.open_report().clone();
    let want = fx
        .history
        .get(&lsn)
        .ok_or_else(|| format!("opened at LSN {lsn}, which the fixture never had"))?;
    if actual != *want {
        return Err(format!(
            "opened at LSN {lsn} with wrong data: {}",
            actual.diff(want)
        ));
    }
    match kind {
        Kind::NewestManifest => {
            let missing = matches!(m, Mutation::Missing);
            if report.fallback.is_none() && !missing {
                return Err("opened without reporting the manifest fallback".into());
            }
            if lsn != fx.final_lsn {
                return Err(format!(
                    "manifest fallback lost data: LSN {lsn} of {}",
                    fx.final_lsn
                ));
            }
            counts.fallback += 1;
        }
        Kind::NewestWal if lsn < fx.final_lsn => {
            if report.truncated_bytes > 0 {
                counts.torn_tail += 1;
            } else if matches!(
                m,
                Mutation::Truncate(_) | Mutation::Missing | Mutation::Replace(..)
            ) {
                counts.silent_prefix += 1;
            } else {
                return Err(format!(
                    "opened at LSN {lsn} of {} without reporting a truncation",
                    fx.final_lsn
                ));
            }
        }
        _ if lsn < fx.final_lsn => {
            return Err(format!(
                "opened at LSN {lsn} of {}: acknowledged writes lost silently ({report:?})",
                fx.final_lsn
            ));
        }
        _ => {
            if report.fallback.is_some() && kind != Kind::OlderManifest {
                return Err(format!("unexpected fallback: {:?}", report.fallback));
            }
            let data_file = matches!(kind, Kind::Vec | Kind::Hnsw | Kind::Ckpt);
            if data_file && referenced {
                return Err("damage to a file the manifest references went undetected".into());
            }
            if kind == Kind::NewestWal
                && matches!(m, Mutation::Append(_))
                && report.truncated_bytes == 0
            {
                return Err("garbage after the last record was not reported as a torn tail".into());
            }
            if report.truncated_bytes > 0 {
                counts.torn_tail += 1;
            } else {
                counts.undetected += 1;
            }
        }
    }
    drop(db);
    Ok(())
}

/// The matrix with the default options: content damage is found by verification after
/// the open (the background scrub's check).
#[test]
fn corruption_matrix() {
    matrix(Verify::Background);
}

/// The matrix with every byte checked before open returns.
#[test]
fn corruption_matrix_full_verification() {
    matrix(Verify::Full);
}

fn matrix(verify: Verify) {
    let seed = mnemodb_testkit::test_seed("corruption_matrix");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let scratch = mnemodb_testkit::scratch_dir();
    let build_dir = scratch.path().join("fixture");
    let fx = build_fixture(&build_dir, seed);
    let dir = scratch.path().join("db");
    let started = std::time::Instant::now();
    let mut counts: BTreeMap<(Kind, &'static str), Counts> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut total = 0;
    let mut kinds_seen = std::collections::BTreeSet::new();
    let mut slowest = std::time::Duration::ZERO;
    let targets: Vec<(String, Kind)> = fx
        .files
        .keys()
        .filter_map(|rel| kind_of(rel, &fx).map(|k| (rel.clone(), k)))
        .collect();
    for (rel, kind) in &targets {
        kinds_seen.insert(*kind);
        let target: PathBuf = dir.join(rel);
        // Whether the newest manifest needs the file: opening without it fails.
        restore(&dir, &fx.files);
        std::fs::remove_file(&target).unwrap();
        let referenced = Database::open(&dir, opts()).is_err();
        for m in mutations(rel, *kind, &fx, &mut rng) {
            restore(&dir, &fx.files);
            mutate(&target, &m);
            total += 1;
            let c = counts.entry((*kind, m.class())).or_default();
            let t = std::time::Instant::now();
            if let Err(e) = check(&dir, &target, *kind, referenced, &m, &fx, c, verify) {
                failures.push(format!("{rel} ({kind:?}), {}: {e}", m.label()));
            }
            // A damaged length field must not make the open allocate or loop its way to
            // a crawl (RELIABILITY (b).6: < 1 s each; generous here for loaded machines).
            slowest = slowest.max(t.elapsed());
        }
    }
    println!(
        "CORRUPTION ({verify:?}) files={} mutations={total} failures={} seed={seed} secs={:.1}",
        targets.len(),
        failures.len(),
        started.elapsed().as_secs_f64()
    );
    for ((kind, class), c) in &counts {
        println!(
            "  {kind:?}/{class}: corrupted={} (after open: {}) fallback={} torn_tail={} silent_prefix={} undetected={}",
            c.corrupted, c.scrubbed, c.fallback, c.torn_tail, c.silent_prefix, c.undetected
        );
    }
    for k in [
        Kind::Vec,
        Kind::Hnsw,
        Kind::Ckpt,
        Kind::NewestManifest,
        Kind::OlderManifest,
        Kind::NewestWal,
        Kind::OlderWal,
    ] {
        assert!(kinds_seen.contains(&k), "the fixture has no {k:?} file");
    }
    let after_open: u64 = counts.values().map(|c| c.scrubbed).sum();
    match verify {
        Verify::Full => assert_eq!(after_open, 0),
        _ => assert!(
            after_open > 0,
            "no damage was left to the scrub: the matrix no longer tests it"
        ),
    }
    println!("  slowest mutation: {slowest:?}");
    assert!(
        slowest < std::time::Duration::from_secs(5),
        "a mutation took {slowest:?}"
    );
    failures.truncate(40);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The previous manifest is a fallback only when it is intact and everything it needs is
/// still there; otherwise the open fails, naming the damaged newest manifest.
#[test]
fn manifest_fallback_needs_an_intact_previous_state() {
    let seed = mnemodb_testkit::test_seed("manifest_fallback");
    let scratch = mnemodb_testkit::scratch_dir();
    let fx = build_fixture(&scratch.path().join("fixture"), seed);
    let dir = scratch.path().join("db");
    let manifests: Vec<&String> = fx
        .files
        .keys()
        .filter(|k| k.starts_with("MANIFEST-"))
        .collect();
    assert_eq!(manifests.len(), 2, "{manifests:?}");
    let (older, newest) = (dir.join(manifests[0]), dir.join(manifests[1]));
    let wals: Vec<&String> = fx.files.keys().filter(|k| k.starts_with("wal/")).collect();
    type Damage<'a> = Box<dyn Fn() + 'a>;
    let cases: Vec<(&str, Damage<'_>)> = vec![
        (
            "both manifests damaged",
            Box::new(|| {
                mnemodb_testkit::corrupt::flip_bit(&newest, 8 * 50).unwrap();
                mnemodb_testkit::corrupt::flip_bit(&older, 8 * 50).unwrap();
            }),
        ),
        (
            "newest damaged, the previous one's WAL start gone",
            Box::new(|| {
                mnemodb_testkit::corrupt::flip_bit(&newest, 8 * 50).unwrap();
                std::fs::remove_file(dir.join(wals[0])).unwrap();
            }),
        ),
    ];
    for (what, damage) in cases {
        restore(&dir, &fx.files);
        damage();
        match no_panic(|| Database::open(&dir, opts())).unwrap() {
            Err(Error::Corrupted { file, .. }) => {
                assert!(
                    file == newest || file.starts_with(dir.join("wal")),
                    "{what}: names {}",
                    file.display()
                );
            }
            Err(e) => panic!("{what}: {e}"),
            Ok(db) => panic!(
                "{what}: opened (LSN {}, fallback {:?})",
                db.stats().last_lsn,
                db.open_report().fallback
            ),
        }
    }
}

/// After opening from the previous manifest (the newest damaged), the database goes on:
/// writes, a checkpoint (which replaces the damaged manifest) and a reopen give the full
/// state with no fallback any more.
#[test]
fn manifest_fallback_then_writes_and_reopen() {
    let seed = mnemodb_testkit::test_seed("manifest_fallback_then_writes");
    let scratch = mnemodb_testkit::scratch_dir();
    let fx = build_fixture(&scratch.path().join("fixture"), seed);
    let dir = scratch.path().join("db");
    let newest = fx
        .files
        .keys()
        .rfind(|k| k.starts_with("MANIFEST-"))
        .unwrap();
    restore(&dir, &fx.files);
    mnemodb_testkit::corrupt::flip_bit(&dir.join(newest), 8 * 45).unwrap();
    let mut model = fx.history[&fx.final_lsn].clone();
    {
        let db = Database::open(&dir, opts()).unwrap();
        assert!(db.open_report().fallback.is_some());
        assert_eq!(read_state(&db).unwrap(), model);
        for op in [
            Op::Upsert {
                ver: 500,
                ids: (0..70).collect(),
            },
            Op::Checkpoint,
            Op::Delete {
                ids: (0..30).collect(),
            },
            Op::Compact,
        ] {
            apply(&db, &op).unwrap();
            model.apply(&op);
        }
    }
    let db = Database::open(&dir, opts()).unwrap();
    assert!(
        db.open_report().fallback.is_none(),
        "{:?}",
        db.open_report()
    );
    let got = read_state(&db).unwrap();
    assert_eq!(got, model, "{}", got.diff(&model));
}

/// The background scrub with the default options: a byte flipped deep inside a sealed
/// segment's vector data passes the cheap checks at open; the scrub (started by open on
/// the background pool) finds it, `stats()` reports it, and from then on every operation
/// on that collection returns `Corrupted` naming the file and an offset at or before the
/// flipped byte, as does `verify()`. Another collection is unaffected.
#[test]
fn scrub_reports_a_flipped_byte_inside_vector_data() {
    use mnemodb::{CollectionConfig, Metric, Query, Record};
    let scratch = mnemodb_testkit::scratch_dir();
    let dir = scratch.path().join("db");
    let vector =
        |i: u64| -> Vec<f32> { (0..16).map(|j| ((i * 31 + j) % 97) as f32 + 1.0).collect() };
    let damaged_rel = {
        let db = Database::open(
            &dir,
            Options::default().seal_rows(1000).compact_small_rows(0),
        )
        .unwrap();
        let c = db
            .create_collection(CollectionConfig::new("v", 16, Metric::L2))
            .unwrap();
        let other = db
            .create_collection(CollectionConfig::new("w", 16, Metric::L2))
            .unwrap();
        for b in 0..3u64 {
            c.upsert(
                (b * 1000..b * 1000 + 1000)
                    .map(|i| Record::new(i, vector(i)))
                    .collect(),
            )
            .unwrap();
        }
        other
            .upsert((0..100u64).map(|i| Record::new(i, vector(i))).collect())
            .unwrap();
        db.checkpoint().unwrap();
        db.wait_for_background().unwrap();
        let stats = c.stats().unwrap();
        assert_eq!(stats.segments.len(), 3, "{stats:?}");
        stats.segments[1].path.clone()
    };
    let damaged = dir.join(&damaged_rel);
    let mut bytes = std::fs::read(&damaged).unwrap();
    // 1,000 rows of 64 bytes, then the ids and checksums: the middle is vector data.
    let flip_at = bytes.len() / 2;
    bytes[flip_at] ^= 0x01;
    std::fs::write(&damaged, &bytes).unwrap();

    let db = Database::open(&dir, Options::default()).unwrap();
    let started = std::time::Instant::now();
    let stats = loop {
        let s = db.stats();
        if s.unverified_segments == 0 && !s.scrubbing {
            break s;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "the scrub did not finish: {s:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    assert_eq!(stats.damaged.len(), 1, "{:?}", stats.damaged);
    assert!(
        stats.damaged[0].contains(&damaged_rel.display().to_string()),
        "{:?}",
        stats.damaged
    );
    let c = db.collection("v").unwrap();
    let seg = &c.stats().unwrap().segments[1];
    assert!(seg.verified && seg.damage.is_some(), "{seg:?}");
    let names_the_damage = |what: &str, r: Result<(), Error>| match r {
        Err(Error::Corrupted { file, offset, .. }) => {
            assert_eq!(file, damaged, "{what}");
            assert!(
                offset > 0 && offset <= flip_at as u64,
                "{what}: offset {offset}"
            );
        }
        other => panic!("{what}: {other:?}"),
    };
    names_the_damage("search", c.search(&Query::new(vector(5), 3)).map(|_| ()));
    names_the_damage("get", c.get(&5u64.into()).map(|_| ()));
    names_the_damage("scan", c.scan(None, false).map(|_| ()));
    names_the_damage(
        "upsert",
        c.upsert(vec![Record::new(7u64, vector(7))]).map(|_| ()),
    );
    names_the_damage("verify", db.verify().map(|_| ()));
    assert_eq!(c.count(), 3000, "count reads only metadata");
    // Compaction (three small segments) leaves the damaged one alone rather than copy its
    // rows into a file with fresh checksums.
    db.compact().unwrap();
    let segments = c.stats().unwrap().segments;
    assert!(
        segments
            .iter()
            .any(|s| s.path == damaged_rel && s.damage.is_some()),
        "{segments:?}"
    );
    names_the_damage(
        "search after compact",
        c.search(&Query::new(vector(5), 3)).map(|_| ()),
    );
    let other = db.collection("w").unwrap();
    let hits = other.search(&Query::new(vector(5), 3)).unwrap();
    assert_eq!(hits[0].id, 5u64.into());
    other
        .upsert(vec![Record::new(500u64, vector(500))])
        .unwrap();
}

/// With `Verify::Full` the same damage fails the open itself.
#[test]
fn full_verification_refuses_a_flipped_vector_byte_at_open() {
    use mnemodb::{CollectionConfig, Metric, Record};
    let scratch = mnemodb_testkit::scratch_dir();
    let dir = scratch.path().join("db");
    let rel = {
        let db = Database::open(&dir, Options::default().background(false).seal_rows(500)).unwrap();
        let c = db
            .create_collection(CollectionConfig::new("v", 8, Metric::L2))
            .unwrap();
        c.upsert(
            (0..500u64)
                .map(|i| Record::new(i, vec![i as f32 + 1.0; 8]))
                .collect(),
        )
        .unwrap();
        db.checkpoint().unwrap();
        c.stats().unwrap().segments[0].path.clone()
    };
    let path = dir.join(&rel);
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x10;
    std::fs::write(&path, &bytes).unwrap();
    match Database::open(&dir, Options::default().verify(Verify::Full)) {
        Err(Error::Corrupted { file, .. }) => assert_eq!(file, path),
        other => panic!("{other:?}"),
    }
    // The cheap checks alone pass; `verify()` finds it.
    let db = Database::open(&dir, Options::default().verify(Verify::HeadersOnly)).unwrap();
    assert_eq!(db.stats().unverified_segments, 1);
    assert!(matches!(db.verify(), Err(Error::Corrupted { file, .. }) if file == path));
}
