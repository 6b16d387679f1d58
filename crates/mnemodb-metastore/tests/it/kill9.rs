//! Real-process crash test (RELIABILITY a): the test binary re-executes itself as a child
//! that runs a seeded workload on a `MetaStore` (`Durability::Sync`) and prints
//! `ACK <op> <lsn> <digest>` after every call that returned `Ok`; the parent SIGKILLs it
//! after U(5, 60) ms (10 % of cycles: U(0, 5) ms, inside open/recovery), drains the pipe,
//! reopens in-process and checks: every acknowledged op is reflected byte for byte, the
//! op in flight is all or nothing, the recovered LSN covers every ack, indexes agree with
//! the documents. State accumulates over cycles in one directory on tmpfs.
//!
//! `MNEMO_META_K9_CYCLES` (default 200) sets the number of cycles; the summary line is
//! `KILL9 cycles=… acked=… lost_acked=0 holes=0 corrupt=0 panics=0 …`.
use std::collections::BTreeMap;
use std::io::{BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mnemodb_io::StdFs;
use mnemodb_metastore::{
    Document, Error, ExternalId, Filter, MetaOp, MetaStore, MetaStoreOptions, Value,
};

const DIR_ENV: &str = "MNEMO_META_K9_DIR";
const SEED_ENV: &str = "MNEMO_META_K9_SEED";

/// splitmix64: a tiny seeded generator shared by child and parent.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The `i`th call of the workload of `seed`.
#[derive(Debug, Clone)]
enum Call {
    Ops(Vec<MetaOp>),
    Checkpoint,
}

fn workload(seed: u64) -> impl Iterator<Item = Call> {
    let mut rng = Rng(seed);
    std::iter::from_fn(move || {
        let id = |rng: &mut Rng| {
            if rng.below(2) == 0 {
                ExternalId::U64(rng.below(300))
            } else {
                ExternalId::Str(format!("m{}", rng.below(100)))
            }
        };
        let doc = |rng: &mut Rng| {
            let v = rng.next();
            Document::from([
                ("user".to_string(), Value::String(format!("u{}", v % 7))),
                (
                    "kind".to_string(),
                    Value::from(["fact", "event", "plan"][(v % 3) as usize]),
                ),
                (
                    "created_at".to_string(),
                    Value::Timestamp((v % 100_000) as i64),
                ),
                (
                    "importance".to_string(),
                    Value::Float((v % 1000) as f64 / 1000.0),
                ),
                ("v".to_string(), Value::Int(v as i64)),
                (
                    "body".to_string(),
                    Value::String("x".repeat((v % 300) as usize)),
                ),
            ])
        };
        let op = |rng: &mut Rng| match rng.below(100) {
            0..70 => MetaOp::Put {
                id: id(rng),
                doc: doc(rng),
            },
            70..85 => MetaOp::Delete { id: id(rng) },
            _ => MetaOp::Patch {
                id: id(rng),
                patch: Document::from([
                    (
                        "importance".to_string(),
                        Value::Float(rng.below(1000) as f64 / 1000.0),
                    ),
                    ("kind".to_string(), Value::Null),
                ]),
            },
        };
        Some(match rng.below(100) {
            0..3 => Call::Checkpoint,
            3..13 => {
                let n = 2 + rng.below(5);
                Call::Ops((0..n).map(|_| op(&mut rng)).collect())
            }
            _ => Call::Ops(vec![op(&mut rng)]),
        })
    })
}

fn digest(call: &Call) -> u64 {
    let mut bytes = Vec::new();
    if let Call::Ops(ops) = call {
        for op in ops {
            op.encode_into(&mut bytes).unwrap();
        }
    }
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn open(dir: &Path) -> Result<MetaStore, Error> {
    let mut o = MetaStoreOptions::new(crate::schema());
    o.wal_max_file_bytes = 64 << 10;
    MetaStore::open(Arc::new(StdFs::new()), dir, o).map(|(s, _)| s)
}

fn child(dir: &str, seed: u64) {
    let store = open(Path::new(dir)).unwrap();
    let mut out = std::io::stdout().lock();
    // libtest has printed `test kill9::kill9_loop ... ` without a newline.
    writeln!(out).unwrap();
    for (i, call) in workload(seed).enumerate() {
        let d = digest(&call);
        match call {
            Call::Checkpoint => {
                let info = store.checkpoint().unwrap();
                writeln!(out, "ACK {i} {} {d}", info.lsn).unwrap();
            }
            Call::Ops(ops) => match store.write_batch(ops) {
                Ok(c) => {
                    let lsn = c.lsns.map_or(0, |r| *r.end());
                    writeln!(out, "ACK {i} {lsn} {d}").unwrap();
                }
                Err(Error::NotFound { .. }) => writeln!(out, "SKIP {i}").unwrap(),
                Err(e) => panic!("child: {e}"),
            },
        }
        out.flush().unwrap();
    }
}

/// Apply a call to a model; `false` when it would fail (a patch of a missing id).
fn apply(model: &mut BTreeMap<ExternalId, Document>, ops: &[MetaOp]) -> bool {
    let may_fail = ops.iter().any(|op| matches!(op, MetaOp::Patch { .. }));
    if !may_fail {
        return apply_to(model, ops);
    }
    let mut next = model.clone();
    if !apply_to(&mut next, ops) {
        return false;
    }
    *model = next;
    true
}

fn apply_to(next: &mut BTreeMap<ExternalId, Document>, ops: &[MetaOp]) -> bool {
    for op in ops {
        match op {
            MetaOp::Put { id, doc } => {
                next.insert(id.clone(), doc.clone());
            }
            MetaOp::Delete { id } => {
                next.remove(id);
            }
            MetaOp::Patch { id, patch } => {
                let Some(d) = next.get_mut(id) else {
                    return false;
                };
                for (k, v) in patch {
                    if *v == Value::Null {
                        d.remove(k);
                    } else {
                        d.insert(k.clone(), v.clone());
                    }
                }
            }
        }
    }
    true
}

fn state_of(store: &MetaStore) -> BTreeMap<ExternalId, Document> {
    store
        .snapshot()
        .scan()
        .map(|(_, e, d)| (e.clone(), d.clone()))
        .collect()
}

#[test]
fn kill9_loop() {
    if let Ok(dir) = std::env::var(DIR_ENV) {
        let seed = std::env::var(SEED_ENV).unwrap().parse().unwrap();
        child(&dir, seed);
        return;
    }
    let cycles: u64 = std::env::var("MNEMO_META_K9_CYCLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let base_seed = mnemodb_testkit::test_seed("kill9_loop");
    let dir = mnemodb_testkit::scratch_dir();
    let mut rng = Rng(base_seed);
    let mut model: BTreeMap<ExternalId, Document> = BTreeMap::new();
    let (mut acked, mut inflight_applied, mut lost, mut corrupt, mut holes) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut recover_ms = Vec::new();
    let mut max_lsn = 0u64;
    for cycle in 0..cycles {
        let seed = base_seed ^ cycle.wrapping_mul(0x9e37_79b9);
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "kill9::kill9_loop",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(DIR_ENV, dir.path())
            .env(SEED_ENV, seed.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let delay = if rng.below(10) == 0 {
            rng.below(5)
        } else {
            5 + rng.below(55)
        };
        std::thread::sleep(Duration::from_millis(delay));
        let exited_early = child.try_wait().unwrap();
        child.kill().unwrap();
        let status = child.wait().unwrap();
        let mut stdout = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_to_string(&mut stdout)
            .unwrap();
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert!(
            exited_early.is_none(),
            "cycle {cycle}: child exited on its own: {status:?}\n{stderr}"
        );
        assert!(
            !stderr.contains("panicked"),
            "cycle {cycle}: child panicked:\n{stderr}"
        );
        // Replay the child's calls on the model: acknowledged ones for sure.
        let mut calls = workload(seed);
        let mut cycle_max_lsn = 0;
        for (next_call, line) in stdout
            .lines()
            .filter(|l| l.starts_with("ACK ") || l.starts_with("SKIP "))
            .enumerate()
        {
            let parts: Vec<&str> = line.split(' ').collect();
            let i: usize = parts[1].parse().unwrap();
            assert_eq!(
                i, next_call,
                "cycle {cycle}: calls are acknowledged in order"
            );
            let call = calls.next().unwrap();
            if parts[0] == "SKIP" {
                let Call::Ops(ops) = &call else {
                    panic!("skipped checkpoint")
                };
                assert!(
                    !apply(&mut model.clone(), ops),
                    "cycle {cycle}: call {i} failed in the child only"
                );
                continue;
            }
            assert_eq!(
                parts[3].parse::<u64>().unwrap(),
                digest(&call),
                "cycle {cycle}: workload diverged"
            );
            cycle_max_lsn = cycle_max_lsn.max(parts[2].parse().unwrap());
            if let Call::Ops(ops) = &call {
                assert!(
                    apply(&mut model, ops),
                    "cycle {cycle}: call {i} acked but fails on the model"
                );
            }
            acked += 1;
        }
        max_lsn = max_lsn.max(cycle_max_lsn);
        let inflight = calls.next().unwrap();
        // Recover.
        let t = Instant::now();
        let store =
            open(dir.path()).unwrap_or_else(|e| panic!("cycle {cycle}: reopen failed: {e}"));
        recover_ms.push(t.elapsed().as_millis() as u64);
        let got = state_of(&store);
        let mut with_inflight = model.clone();
        let inflight_ok = match &inflight {
            Call::Ops(ops) => apply(&mut with_inflight, ops),
            Call::Checkpoint => false,
        };
        if got == model {
        } else if inflight_ok && got == with_inflight {
            inflight_applied += 1;
            model = with_inflight;
        } else {
            let missing = model.keys().filter(|k| !got.contains_key(*k)).count() as u64;
            lost += missing.max(1);
            eprintln!(
                "cycle {cycle}: recovered state differs from the acknowledged one \
                 ({} docs vs {} expected, {missing} missing)",
                got.len(),
                model.len()
            );
            break;
        }
        let snap = store.snapshot();
        // No hole, nothing invented: the log ends at the last acknowledged LSN, or past it
        // by exactly the in-flight call's records.
        let inflight_ops = match &inflight {
            Call::Ops(ops) => ops.len() as u64,
            Call::Checkpoint => 0,
        };
        if snap.lsn() < max_lsn || snap.lsn() > max_lsn + inflight_ops {
            holes += 1;
        }
        assert_eq!(
            holes,
            0,
            "cycle {cycle}: recovered LSN {} outside {max_lsn}..={}",
            snap.lsn(),
            max_lsn + inflight_ops
        );
        for text in [
            "user = \"u3\" and importance > 0.5",
            "kind in [\"fact\", \"plan\"]",
            "created_at < @50000 or not exists(kind)",
        ] {
            let f = Filter::parse(text).unwrap();
            let want: roaring::RoaringBitmap = snap
                .scan()
                .filter(|(_, _, d)| f.matches(d))
                .map(|(i, _, _)| i)
                .collect();
            if snap.filter(&f).unwrap() != want {
                corrupt += 1;
            }
        }
        max_lsn = snap.lsn();
    }
    recover_ms.sort_unstable();
    let p99 = recover_ms
        .get(recover_ms.len() * 99 / 100)
        .copied()
        .unwrap_or(0);
    println!(
        "KILL9 cycles={cycles} acked={acked} lost_acked={lost} holes={holes} corrupt={corrupt} panics=0 \
         inflight_applied={inflight_applied} docs={} recover_p99_ms={p99}",
        model.len()
    );
    assert_eq!((lost, corrupt), (0, 0));
    assert!(acked > cycles, "the workload made progress ({acked} acks)");
}
