//! End-to-end crash tests with real processes (RELIABILITY recipes (a) and (e).4).
//!
//! The test binary re-executes itself as the child (`MNEMODB_K9_DIR` set): the child opens
//! the database with `Durability::Sync` (a quarter of the random-kill cycles: `Batch`,
//! which must lose nothing either when only the process dies), runs a seeded workload and
//! prints `TRY <n> <op>` before and `ACK <n> <lsn>` after every call that returned `Ok`,
//! flushing each line. The
//! parent kills it (SIGKILL at a random moment, or SIGABRT at a crash point), reads every
//! line the child got out, reopens the database in-process and checks it equals the model
//! of the acknowledged operations — plus, possibly, the one operation in flight, all or
//! nothing — and that the recovered LSN is exactly the last acknowledged one (or one more
//! when the operation in flight landed).
//!
//! - `kill9_loop`: `MNEMODB_KILL9_CYCLES` cycles (default 200) of random SIGKILLs, state
//!   accumulating in one directory; 10% of kills land within 5 ms of the start (inside open
//!   and recovery). Prints `KILL9 cycles=… lost_acked=0 …`. The long mode is just more
//!   cycles: `MNEMODB_KILL9_CYCLES=5000` (about 6 minutes).
//! - `kill_points`: every crash point of `mnemodb::FAILPOINTS` × nth ∈ {1, 2, 5} on a fresh
//!   database (background work inline, so the points are deterministic).
//! - `second_writer_is_refused`: a child holds the database open; opening it here fails
//!   with `Error::Locked` at once and changes no byte; after the child is killed it opens.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod reliability;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mnemodb::{Database, Durability, Error, Options};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use reliability::{Model, Op, Workload, apply, match_any, read_state};

const ENV_DIR: &str = "MNEMODB_K9_DIR";
const ENV_ROLE: &str = "MNEMODB_K9_ROLE";
const ENV_SEED: &str = "MNEMODB_K9_SEED";
const ENV_VER: &str = "MNEMODB_K9_VER";
const ENV_BG: &str = "MNEMODB_K9_BG";
const ENV_BATCH: &str = "MNEMODB_K9_BATCH";

/// Seal threshold of the random-kill loop (small: seals, index builds and compactions
/// happen every few dozen writes).
const SEAL_ROWS: usize = 64;
/// Seal threshold of the crash-point runs.
const KP_SEAL_ROWS: usize = 32;

/// The parent sides run one at a time: a child spawned by one test briefly shares every
/// open file description of this process (between its fork and exec), so a `LOCK` just
/// closed by another test could still look held.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn env_u64(name: &str) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn opts(seal_rows: usize, background: bool) -> Options {
    reliability::options(seal_rows, background).durability(Durability::Sync)
}

// ---------------------------------------------------------------------------------------
// Child side
// ---------------------------------------------------------------------------------------

/// Print one protocol line and flush it: once written, the parent will see it.
fn say(out: &mut std::io::StdoutLock<'_>, line: &str) {
    out.write_all(line.as_bytes()).unwrap();
    out.write_all(b"\n").unwrap();
    out.flush().unwrap();
}

fn exists_in(db: &Database) -> impl Fn(u64) -> bool + '_ {
    move |id| {
        db.collection(reliability::VEC)
            .ok()
            .and_then(|c| c.get(&id.into()).ok().flatten())
            .is_some()
    }
}

/// Run one operation, announcing it (`TRY`) and acknowledging it (`ACK`) or reporting its
/// failure (`ERR`, then exit: the workload never expects one).
fn child_step(
    out: &mut std::io::StdoutLock<'_>,
    n: u64,
    db: &mut Option<Database>,
    dir: &Path,
    o: &Options,
    op: &Op,
) {
    say(out, &format!("TRY {n} {op}"));
    let r = if *op == Op::Reopen {
        // Drop the handle first: the directory lock goes with it.
        *db = None;
        Database::open(dir, o.clone()).map(|d| {
            *db = Some(d);
            None
        })
    } else {
        apply(db.as_ref().unwrap(), op)
    };
    match r {
        Ok(lsn) => say(
            out,
            &format!("ACK {n} {}", lsn.map_or("-".to_string(), |l| l.to_string())),
        ),
        Err(e) => {
            say(out, &format!("ERR {n} {e}"));
            std::process::exit(3);
        }
    }
}

fn child_main(dir: &Path, role: &str) -> ! {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    // libtest printed `test <name> ... ` without a newline: start on a fresh line.
    say(&mut out, "");
    match role {
        "loop" => {
            let background = env_u64(ENV_BG) == 1;
            let mut o = opts(SEAL_ROWS, background);
            if env_u64(ENV_BATCH) == 1 {
                // `Batch` acknowledges before the fsync: still nothing may be lost when only
                // the process dies.
                o = o.batch_durability(Duration::from_millis(5));
            }
            let mut db = match Database::open(dir, o.clone()) {
                Ok(db) => Some(db),
                Err(e) => {
                    say(&mut out, &format!("ERR 0 open: {e}"));
                    std::process::exit(3);
                }
            };
            say(&mut out, "OPEN");
            let mut n = 0;
            for c in [0u8, 1] {
                n += 1;
                child_step(&mut out, n, &mut db, dir, &o, &Op::Create(c));
            }
            let mut w = Workload::new(env_u64(ENV_SEED), env_u64(ENV_VER));
            // Checkpoints and compactions take far longer than a write: keep them rare so
            // that kills land in every kind of call.
            w.mix = [80, 10, 5, 3, 1, 1, 0, 1, 1];
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                n += 1;
                let op = w.next(&exists_in(db.as_ref().unwrap()));
                child_step(&mut out, n, &mut db, dir, &o, &op);
            }
            say(&mut out, "TIMEOUT");
            std::process::exit(4);
        }
        "killpoint" => {
            let o = opts(KP_SEAL_ROWS, false);
            let mut db = Some(Database::open(dir, o.clone()).unwrap());
            say(&mut out, "OPEN");
            for (n, op) in killpoint_script().iter().enumerate() {
                child_step(&mut out, n as u64 + 1, &mut db, dir, &o, op);
            }
            say(&mut out, "DONE");
            drop(db);
            std::process::exit(0);
        }
        "holder" => {
            // Maintenance inline and finished before READY: from then on the holder is
            // idle and no file may change.
            let db = Database::open(dir, opts(SEAL_ROWS, false)).unwrap();
            db.wait_for_background().unwrap();
            say(&mut out, "READY");
            std::thread::sleep(Duration::from_secs(60));
            drop(db);
            std::process::exit(5);
        }
        other => panic!("unknown child role {other}"),
    }
}

/// The deterministic workload of the crash-point runs: it reaches every crash point at
/// least twice — writes, seals without and with a complete growing graph (a reopen indexes
/// the growing segment inline, then a checkpoint seals it), index builds, compactions.
fn killpoint_script() -> Vec<Op> {
    let mut w = Workload::new(0x6b69_6c6c, 1);
    w.mix = [70, 15, 5, 5, 0, 0, 0, 0, 0];
    let mut model = Model::default();
    let mut ops = vec![Op::Create(0), Op::Create(1)];
    for i in 0..150 {
        let op = match i {
            40 | 65 | 100 | 125 => Op::Reopen,
            41 | 66 | 101 | 126 => Op::Checkpoint,
            70 | 120 | 149 => Op::Compact,
            80 => Op::DropDocs,
            81 => Op::Create(1),
            135 => Op::Erase { tag: 2 },
            _ => w.next(&|id| model.has_vec(id)),
        };
        model.apply(&op);
        ops.push(op);
    }
    ops
}

// ---------------------------------------------------------------------------------------
// Parent side
// ---------------------------------------------------------------------------------------

fn spawn_child(test: &str, dir: &Path, role: &str, extra: &[(&str, String)]) -> Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(ENV_DIR, dir)
        .env(ENV_ROLE, role)
        .env_remove("MNEMODB_FAILPOINT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

/// Collect a child's stdout and stderr on threads (so a full pipe never blocks it).
struct Pipes {
    out: std::thread::JoinHandle<Vec<u8>>,
    err: std::thread::JoinHandle<Vec<u8>>,
}

fn drain(child: &mut Child) -> Pipes {
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    Pipes {
        out: std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = so.read_to_end(&mut v);
            v
        }),
        err: std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = se.read_to_end(&mut v);
            v
        }),
    }
}

impl Pipes {
    fn join(self) -> (String, String) {
        (
            String::from_utf8_lossy(&self.out.join().unwrap()).into_owned(),
            String::from_utf8_lossy(&self.err.join().unwrap()).into_owned(),
        )
    }
}

/// What the parent learned from one child's output.
#[derive(Debug, Default)]
struct Transcript {
    acked: u64,
    /// The operation announced but not acknowledged when the child died.
    pending: Option<Op>,
    /// Highest LSN acknowledged.
    max_lsn: Option<u64>,
    errors: Vec<String>,
    done: bool,
    /// Whether the child got through `Database::open`.
    opened: bool,
}

/// Fold a child's output into `model` (acknowledged operations only). A last line without
/// its newline was cut by the kill and does not count.
fn fold(stdout: &str, model: &mut Model) -> Transcript {
    let mut t = Transcript::default();
    let complete = match stdout.rfind('\n') {
        Some(i) => &stdout[..=i],
        None => "",
    };
    for line in BufReader::new(complete.as_bytes()).lines() {
        let line = line.unwrap();
        let mut parts = line.splitn(3, ' ');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("TRY"), Some(_), Some(op)) => t.pending = Some(op.parse().unwrap()),
            (Some("ACK"), Some(_), Some(lsn)) => {
                let op = t.pending.take().expect("ACK without TRY");
                model.apply(&op);
                t.acked += 1;
                if let Ok(l) = lsn.parse::<u64>() {
                    t.max_lsn = Some(t.max_lsn.map_or(l, |m| m.max(l)));
                }
            }
            (Some("ERR"), _, _) => t.errors.push(line.clone()),
            (Some("DONE"), _, _) => t.done = true,
            (Some("OPEN"), _, _) => t.opened = true,
            _ => {}
        }
    }
    t
}

/// Counters of a crash run.
#[derive(Debug, Default)]
struct Tally {
    cycles: u64,
    acked: u64,
    lost_acked: u64,
    holes: u64,
    corrupt: u64,
    panics: u64,
    /// Kills that landed before the child finished opening the database.
    killed_in_open: u64,
    /// Kind of the operation in flight at each kill.
    in_flight: std::collections::BTreeMap<String, u64>,
    pending_landed: u64,
    pending_lost: u64,
    /// Largest WAL and longest replay seen at a reopen.
    max_wal_bytes: u64,
    max_replayed: u64,
    recover_ms: Vec<f64>,
}

/// Reopen `dir` and check it against `model` (+ the operation in flight). On success the
/// model becomes the recovered state and `last_lsn` the recovered LSN. Returns a failure
/// description, counting it in `tally`.
fn verify(
    dir: &Path,
    o: &Options,
    model: &mut Model,
    last_lsn: &mut u64,
    t: &Transcript,
    tally: &mut Tally,
) -> Result<(), String> {
    let start = Instant::now();
    let opened = reliability::no_panic(|| Database::open(dir, o.clone()));
    tally.recover_ms.push(start.elapsed().as_secs_f64() * 1e3);
    let db = match opened {
        Err(_) => {
            tally.panics += 1;
            return Err("reopen panicked".into());
        }
        Ok(Err(e)) => {
            tally.corrupt += 1;
            return Err(format!("reopen failed: {e}"));
        }
        Ok(Ok(db)) => db,
    };
    if start.elapsed() > Duration::from_secs(5) {
        return Err(format!("reopen took {:?}", start.elapsed()));
    }
    let actual = match reliability::no_panic(|| read_state(&db)) {
        Err(_) => {
            tally.panics += 1;
            return Err("reading the recovered state panicked".into());
        }
        Ok(Err(e)) => {
            tally.corrupt += 1;
            return Err(format!("recovered state is inconsistent: {e}"));
        }
        Ok(Ok(m)) => m,
    };
    let acked_lsn = t.max_lsn.unwrap_or(*last_lsn).max(*last_lsn);
    let stats = db.stats();
    let recovered = stats.last_lsn;
    tally.max_wal_bytes = tally.max_wal_bytes.max(stats.wal_bytes);
    tally.max_replayed = tally.max_replayed.max(db.open_report().replayed_records);
    let with_pending = t.pending.as_ref().map(|op| model.after(op));
    let in_flight_write = t.pending.as_ref().is_some_and(Op::writes);
    let expect: &Model = if recovered == acked_lsn {
        model
    } else if recovered == acked_lsn + 1 && in_flight_write {
        with_pending.as_ref().unwrap()
    } else {
        tally.holes += 1;
        return Err(format!(
            "recovered LSN {recovered}, acknowledged up to {acked_lsn} (in flight: {:?})",
            t.pending
        ));
    };
    if let Err(diff) = match_any(&actual, &[expect]) {
        // Name lost acknowledged writes separately from invented ones.
        let lost = model
            .rows
            .iter()
            .filter(|(k, r)| actual.rows.get(k) != Some(r))
            .count() as u64;
        tally.lost_acked += lost;
        return Err(format!(
            "recovered state (LSN {recovered}) differs from the model (acked LSN {acked_lsn}, in flight {:?}): {diff}",
            t.pending
        ));
    }
    if !t.opened {
        tally.killed_in_open += 1;
    }
    if let Some(op) = &t.pending {
        let kind = op.to_string();
        let kind = kind.split(' ').next().unwrap_or_default().to_string();
        *tally.in_flight.entry(kind).or_default() += 1;
    }
    if recovered == acked_lsn + 1 {
        tally.pending_landed += 1;
    } else if in_flight_write {
        tally.pending_lost += 1;
    }
    *model = actual;
    *last_lsn = recovered;
    Ok(())
}

fn p99(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v.get((v.len() * 99 / 100).min(v.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0.0)
}

fn summary(name: &str, t: &Tally, failures: &[String]) -> String {
    format!(
        "{name} cycles={} acked={} lost_acked={} holes={} corrupt={} panics={} in_flight_landed={} in_flight_lost={} killed_in_open={} in_flight={:?} recover_p99_ms={:.1} max_replayed={} max_wal_kib={} failures={}",
        t.cycles,
        t.acked,
        t.lost_acked,
        t.holes,
        t.corrupt,
        t.panics,
        t.pending_landed,
        t.pending_lost,
        t.killed_in_open,
        t.in_flight,
        p99(&t.recover_ms),
        t.max_replayed,
        t.max_wal_bytes / 1024,
        failures.len()
    )
}

#[test]
fn kill9_loop() {
    if let Ok(dir) = std::env::var(ENV_DIR) {
        child_main(Path::new(&dir), &std::env::var(ENV_ROLE).unwrap());
    }
    let _serial = serial();
    let cycles = std::env::var("MNEMODB_KILL9_CYCLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200u64);
    let seed = mnemodb_testkit::test_seed("kill9_loop");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let scratch = mnemodb_testkit::scratch_dir();
    let dir = scratch.path().join("db");
    let mut model = Model::default();
    let mut last_lsn = 0;
    let mut tally = Tally::default();
    let mut failures = Vec::new();
    let started = Instant::now();
    for cycle in 0..cycles {
        let background = rng.random_bool(0.75);
        let batch = rng.random_bool(0.25);
        let early = rng.random_bool(0.1);
        let wait = if early {
            Duration::from_micros(rng.random_range(0..5_000))
        } else {
            Duration::from_micros(rng.random_range(5_000..60_000))
        };
        let mut child = spawn_child(
            "kill9_loop",
            &dir,
            "loop",
            &[
                (ENV_SEED, rng.random::<u64>().to_string()),
                (ENV_VER, ((cycle + 1) * 1_000_000).to_string()),
                (ENV_BG, u8::from(background).to_string()),
                (ENV_BATCH, u8::from(batch).to_string()),
            ],
        );
        let pipes = drain(&mut child);
        std::thread::sleep(wait);
        let _ = child.kill();
        let status = child.wait().unwrap();
        let (stdout, stderr) = pipes.join();
        tally.cycles += 1;
        if stderr.contains("panicked at") {
            tally.panics += 1;
        }
        let t = fold(&stdout, &mut model);
        tally.acked += t.acked;
        let mut fail = |what: String| {
            failures.push(format!(
                "cycle {cycle} (wait {wait:?}, background {background}, batch {batch}): {what}"
            ));
        };
        if status.signal() != Some(9) {
            fail(format!(
                "child was not killed by SIGKILL: {status:?}\nstdout tail: {}\nstderr: {stderr}",
                stdout.lines().rev().take(3).collect::<Vec<_>>().join(" | ")
            ));
        }
        for e in &t.errors {
            fail(format!("child reported {e}"));
        }
        // Verify with background work inline half the time (it then runs during open).
        let vo = opts(SEAL_ROWS, rng.random_bool(0.5));
        if let Err(e) = verify(&dir, &vo, &mut model, &mut last_lsn, &t, &mut tally) {
            fail(e);
            break;
        }
    }
    let line = summary("KILL9", &tally, &failures);
    println!(
        "{line} seed={seed} secs={:.1}",
        started.elapsed().as_secs_f64()
    );
    assert!(failures.is_empty(), "{line}\n{}", failures.join("\n"));
    assert!(
        tally.acked > cycles,
        "too few acknowledged operations: {line}"
    );
}

#[test]
fn kill_points() {
    if let Ok(dir) = std::env::var(ENV_DIR) {
        child_main(Path::new(&dir), &std::env::var(ENV_ROLE).unwrap());
    }
    let _serial = serial();
    let mut tally = Tally::default();
    let mut failures = Vec::new();
    let mut reached = Vec::new();
    let mut unreached = Vec::new();
    for point in mnemodb::FAILPOINTS {
        for nth in [1u32, 2, 5] {
            let scratch = mnemodb_testkit::scratch_dir();
            let dir = scratch.path().join("db");
            let mut child = spawn_child(
                "kill_points",
                &dir,
                "killpoint",
                &[("MNEMODB_FAILPOINT", format!("{point}:{nth}"))],
            );
            let pipes = drain(&mut child);
            let deadline = Instant::now() + Duration::from_secs(60);
            let status = loop {
                if let Some(s) = child.try_wait().unwrap() {
                    break s;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    break child.wait().unwrap();
                }
                std::thread::sleep(Duration::from_millis(2));
            };
            let (stdout, stderr) = pipes.join();
            tally.cycles += 1;
            let mut model = Model::default();
            let t = fold(&stdout, &mut model);
            tally.acked += t.acked;
            let case = format!("{point}:{nth}");
            if stderr.contains("panicked at") {
                tally.panics += 1;
                failures.push(format!("{case}: child panicked: {stderr}"));
                continue;
            }
            for e in &t.errors {
                failures.push(format!("{case}: child reported {e}"));
            }
            match status.signal() {
                Some(6) => reached.push(case.clone()),
                None if status.code() == Some(0) && t.done => {
                    unreached.push(case.clone());
                    println!("KILLPOINT {case}: never reached (the workload completed)");
                }
                _ => {
                    failures.push(format!("{case}: child ended with {status:?}: {stderr}"));
                    continue;
                }
            }
            let o = opts(KP_SEAL_ROWS, false);
            let mut last_lsn = 0;
            if let Err(e) = verify(&dir, &o, &mut model, &mut last_lsn, &t, &mut tally) {
                failures.push(format!("{case} (after {} acked ops): {e}", t.acked));
                continue;
            }
            // The recovered database keeps working: write, checkpoint, compact, reopen.
            let db = Database::open(&dir, o.clone()).unwrap();
            let extra = [
                Op::Create(0),
                Op::Create(1),
                Op::Upsert {
                    ver: 9_000_000,
                    ids: (0..40).collect(),
                },
                Op::Checkpoint,
                Op::Delete {
                    ids: (0..20).collect(),
                },
                Op::Compact,
            ];
            let mut ok = true;
            for op in &extra {
                match apply(&db, op) {
                    Ok(_) => model.apply(op),
                    Err(e) => {
                        failures.push(format!("{case}: after recovery, {op} failed: {e}"));
                        ok = false;
                        break;
                    }
                }
            }
            last_lsn = db.stats().last_lsn;
            drop(db);
            if ok {
                let t2 = Transcript {
                    opened: true,
                    ..Transcript::default()
                };
                if let Err(e) = verify(&dir, &o, &mut model, &mut last_lsn, &t2, &mut tally) {
                    failures.push(format!("{case}: second reopen: {e}"));
                }
            }
        }
    }
    let line = summary("KILLPOINTS", &tally, &failures);
    println!(
        "{line} reached={} unreached={} ({})",
        reached.len(),
        unreached.len(),
        unreached.join(" ")
    );
    assert!(
        !reached.is_empty(),
        "no crash point was reached: is the failpoints feature on?"
    );
    assert!(failures.is_empty(), "{line}\n{}", failures.join("\n"));
}

#[test]
fn second_writer_is_refused() {
    if let Ok(dir) = std::env::var(ENV_DIR) {
        child_main(Path::new(&dir), &std::env::var(ENV_ROLE).unwrap());
    }
    let _serial = serial();
    let scratch = mnemodb_testkit::scratch_dir();
    let dir = scratch.path().join("db");
    {
        let db = Database::open(&dir, opts(SEAL_ROWS, false)).unwrap();
        let mut model = Model::default();
        for op in [
            Op::Create(0),
            Op::Create(1),
            Op::Upsert {
                ver: 1,
                ids: (0..100).collect(),
            },
            Op::Checkpoint,
            Op::Upsert {
                ver: 2,
                ids: (50..60).collect(),
            },
        ] {
            apply(&db, &op).unwrap();
            model.apply(&op);
        }
    }
    let mut child = spawn_child("second_writer_is_refused", &dir, "holder", &[]);
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "the holder did not start: {seen}"
        );
        if line.trim() == "READY" {
            break;
        }
        seen.push_str(&line);
    }
    let before = reliability::snapshot_files(&dir);
    let start = Instant::now();
    let err = Database::open(&dir, opts(SEAL_ROWS, true)).unwrap_err();
    let took = start.elapsed();
    assert!(matches!(err, Error::Locked { .. }), "{err}");
    assert!(err.to_string().contains("locked"), "{err}");
    assert!(took < Duration::from_secs(1), "refusal took {took:?}");
    // The holder is idle: nothing changed, byte for byte.
    let after = reliability::snapshot_files(&dir);
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    assert!(before == after, "a refused open changed files");
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(9));
    let db = Database::open(&dir, opts(SEAL_ROWS, true)).unwrap();
    assert_eq!(db.collection(reliability::VEC).unwrap().count(), 100);
}
