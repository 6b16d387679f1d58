//! (a) Real `kill -9`: the test binary re-executes itself as a child that appends records
//! (`Durability::Sync`, `StdFs`, payloads derived from their LSNs) and prints `ACK <lsn>
//! <digest>` after each acknowledged append; the parent kills it with SIGKILL after a
//! random 5–60 ms (10 % of cycles: 0–5 ms, to land inside open/recovery), reads
//! everything the child wrote to the pipe before it died, reopens the log and checks:
//! every acknowledged record is present and intact, LSNs are contiguous, nothing
//! unacknowledged is half-visible. State accumulates across cycles in one directory.
//!
//! 200 cycles on tmpfs and 20 on the real disk by default; `MNEMODB_SOAK=<n>` runs n times
//! as many. Summary: `KILL9 cycles=… acked=… lost_acked=0 holes=0 corrupt=0 panics=0 …`.
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mnemodb_io::{Fs, StdFs};
use mnemodb_wal::{Lsn, Wal, WalOptions};
use rand::{Rng, SeedableRng, rngs::StdRng};

use crate::{payload_for, soak};

const CHILD_DIR: &str = "MNEMODB_WAL_CHILD_DIR";
const CHILD_SEED: &str = "MNEMODB_WAL_CHILD_SEED";
const MAX_PAYLOAD: usize = 400;

fn options() -> WalOptions {
    WalOptions {
        max_file_bytes: 64 << 10,
        ..WalOptions::default()
    }
}

/// The child: append until killed. A no-op when run as an ordinary test.
#[test]
fn kill9_child() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let seed: u64 = std::env::var(CHILD_SEED).unwrap().parse().unwrap();
    let mut rng = StdRng::seed_from_u64(seed);
    let fs: Arc<dyn Fs> = Arc::new(StdFs::new());
    let (wal, _) = Wal::open(fs, Path::new(&dir), options()).unwrap();
    let mut out = std::io::stdout().lock();
    writeln!(out, "OPEN {}", wal.last_lsn()).unwrap();
    out.flush().unwrap();
    loop {
        let next = wal.last_lsn() + 1;
        let n = if rng.random_ratio(1, 8) {
            rng.random_range(2..=6u64)
        } else {
            1
        };
        let payloads: Vec<Vec<u8>> = (next..next + n)
            .map(|l| payload_for(l, MAX_PAYLOAD))
            .collect();
        let refs: Vec<&[u8]> = payloads.iter().map(|p| &p[..]).collect();
        writeln!(out, "TRY {next} {}", next + n - 1).unwrap();
        out.flush().unwrap();
        let r = wal.append_batch(&refs).unwrap();
        assert_eq!(r, next..=next + n - 1);
        let digest = mnemodb_format::crc32_parts(&refs);
        writeln!(out, "ACK {} {digest:08x}", r.end()).unwrap();
        out.flush().unwrap();
        if next % 512 < n && next > 4096 {
            let floor = next - 2048;
            writeln!(out, "TRUNC {floor}").unwrap();
            out.flush().unwrap();
            wal.truncate_before(floor).unwrap();
        }
    }
}

/// What the parent learned from one cycle's output.
#[derive(Debug, Default)]
struct Heard {
    acked: Vec<Lsn>,
    max_try: Lsn,
    tries: Vec<(Lsn, Lsn)>,
    trunc: Lsn,
}

fn parse(out: &str, heard: &mut Heard) {
    for line in out.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let num = |i: usize| words.get(i).and_then(|w| w.parse::<Lsn>().ok());
        match words.first() {
            Some(&"ACK") => heard.acked.extend(num(1)),
            Some(&"TRY") => {
                if let (Some(a), Some(b)) = (num(1), num(2)) {
                    heard.max_try = heard.max_try.max(b);
                    heard.tries.push((a, b));
                }
            }
            Some(&"TRUNC") => heard.trunc = heard.trunc.max(num(1).unwrap_or(0)),
            _ => {}
        }
    }
}

#[derive(Debug, Default)]
struct Summary {
    cycles: u64,
    acked: u64,
    lost_acked: u64,
    holes: u64,
    corrupt: u64,
    panics: u64,
    early_kills: u64,
    recover_ms: Vec<f64>,
}

/// Run `cycles` kill cycles on `dir`.
fn kill_loop(dir: &Path, cycles: u64, seed: u64, sum: &mut Summary) {
    let exe = std::env::current_exe().unwrap();
    let mut rng = StdRng::seed_from_u64(seed);
    let fs: Arc<dyn Fs> = Arc::new(StdFs::new());
    let mut max_acked: Lsn = 0;
    let mut trunc: Lsn = 0;
    let mut tries: Vec<(Lsn, Lsn)> = Vec::new();
    let mut max_try: Lsn = 0;
    for cycle in 0..cycles {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "kill9::kill9_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DIR, dir)
            .env(CHILD_SEED, (seed ^ cycle).to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Read the pipe continuously (so the child never blocks on a full pipe) until EOF,
        // which comes after the kill: every line written before death is counted.
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut s = String::new();
            for line in BufReader::new(stdout).lines() {
                match line {
                    Ok(l) => {
                        s.push_str(&l);
                        s.push('\n');
                    }
                    Err(_) => break,
                }
            }
            s
        });
        let early = rng.random_ratio(1, 10);
        let delay = if early {
            sum.early_kills += 1;
            rng.random_range(0..5_000)
        } else {
            rng.random_range(5_000..60_000)
        };
        std::thread::sleep(Duration::from_micros(delay));
        child.kill().unwrap();
        let status = child.wait().unwrap();
        let out = reader.join().unwrap();
        let mut stderr = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
        }
        if status.signal() != Some(9) {
            sum.panics += 1;
            panic!(
                "cycle {cycle}: the child was not killed by SIGKILL but exited: {status}\n\
                 stdout:\n{out}\nstderr:\n{stderr}"
            );
        }
        if stderr.contains("panicked at") {
            sum.panics += 1;
        }
        let mut heard = Heard::default();
        parse(&out, &mut heard);
        sum.acked += heard.acked.len() as u64;
        max_acked = max_acked.max(heard.acked.iter().copied().max().unwrap_or(0));
        trunc = trunc.max(heard.trunc);
        max_try = max_try.max(heard.max_try);
        tries.extend(heard.tries);

        // Recover in-process and verify.
        let t0 = Instant::now();
        let opened = Wal::open(Arc::clone(&fs), dir, options());
        sum.recover_ms.push(t0.elapsed().as_secs_f64() * 1e3);
        let (wal, report) = match opened {
            Ok(x) => x,
            Err(e) => {
                sum.corrupt += 1;
                eprintln!("cycle {cycle}: recovery failed: {e}");
                return;
            }
        };
        let mut got: Vec<Lsn> = Vec::new();
        let mut bad = 0;
        wal.replay(0, |lsn, p| {
            if p != payload_for(lsn, MAX_PAYLOAD) {
                bad += 1;
            }
            got.push(lsn);
            Ok(())
        })
        .unwrap();
        let first = got.first().copied().unwrap_or(report.last_lsn + 1);
        let last = report.last_lsn;
        let holes = got
            .iter()
            .enumerate()
            .filter(|(i, l)| **l != first + *i as u64)
            .count() as u64;
        if bad > 0 {
            eprintln!("cycle {cycle}: {bad} records with wrong content");
        }
        sum.corrupt += bad;
        sum.holes += holes;
        if last < max_acked || first > trunc.max(1) {
            eprintln!(
                "cycle {cycle}: log {first}..={last}, acked up to {max_acked}, truncated below {trunc}"
            );
            sum.lost_acked += max_acked.saturating_sub(last).max(1);
        }
        if last > max_try.max(max_acked) {
            eprintln!("cycle {cycle}: invented records up to {last} (tried {max_try})");
            sum.corrupt += 1;
        }
        if tries.iter().any(|(a, b)| *a <= last && last < *b) {
            eprintln!("cycle {cycle}: half a batch visible at {last}");
            sum.corrupt += 1;
        }
        // Later cycles start from what recovery kept.
        max_acked = last;
        max_try = last;
        tries.clear();
        sum.cycles += 1;
    }
}

#[test]
fn kill9_loop() {
    if std::env::var(CHILD_DIR).is_ok() {
        return;
    }
    let seed = mnemodb_testkit::test_seed("kill9_loop");
    let mut sum = Summary::default();
    let tmpfs = mnemodb_testkit::scratch_dir();
    kill_loop(tmpfs.path(), 200 * soak(), seed, &mut sum);
    let disk_root = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let disk = tempfile::Builder::new()
        .prefix("wal-kill9-")
        .tempdir_in(&disk_root)
        .unwrap();
    kill_loop(disk.path(), 20 * soak(), seed.rotate_left(7), &mut sum);
    sum.recover_ms.sort_by(f64::total_cmp);
    let p99 = sum
        .recover_ms
        .get(sum.recover_ms.len() * 99 / 100)
        .copied()
        .unwrap_or(0.0);
    println!(
        "KILL9 cycles={} acked={} lost_acked={} holes={} corrupt={} panics={} early_kills={} \
         recover_p99_ms={p99:.1} (tmpfs {} + disk {} at {})",
        sum.cycles,
        sum.acked,
        sum.lost_acked,
        sum.holes,
        sum.corrupt,
        sum.panics,
        sum.early_kills,
        200 * soak(),
        20 * soak(),
        disk_root.display()
    );
    assert_eq!(sum.cycles, 220 * soak());
    assert_eq!(
        (sum.lost_acked, sum.holes, sum.corrupt, sum.panics),
        (0, 0, 0, 0)
    );
    assert!(
        sum.acked > 1000,
        "the children acknowledged too little: {sum:?}"
    );
}
