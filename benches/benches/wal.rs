//! WAL benchmarks (a `harness = false` main that prints tables; ~1–2 min):
//!
//! 1. the raw `fdatasync` rate of the disk (4 KiB append + `fdatasync`), next to the raw
//!    primitives a WAL could use for 256-byte records (append + `fsync`, as mnemodb-wal
//!    does; overwrite of a zero-filled preallocated file + `fdatasync`), and
//!    `Durability::Sync` appends/s with 1 and 8 writers (256-byte payloads) — in short
//!    rounds of rotated order, ratios taken within each round (a shared virtual disk drifts
//!    by 10× over seconds);
//! 2. `Batch` and `Buffered` throughput in MB/s (4 KiB payloads) on the disk and on tmpfs,
//!    next to a raw 4 KiB `pwrite` loop;
//! 3. recovery: open (full scan) and replay MB/s of a ≥ 1 GiB log on tmpfs.
//!
//! Disk results go to `MNEMODB_WAL_BENCH_DIR` (default `target/wal-bench` under the
//! workspace, i.e. the real disk — never tmpfs); recovery runs on `/dev/shm`.
//! `MNEMODB_BENCH_QUICK=1` shortens every phase (smoke run).
//!
//! ```sh
//! cargo bench -p mnemodb-benches --bench wal
//! ```
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mnemodb_io::{Fs, StdFs};
use mnemodb_wal::{Durability, Wal, WalOptions};

fn quick() -> bool {
    std::env::var("MNEMODB_BENCH_QUICK").is_ok_and(|v| v != "0")
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Operations per second of `op` repeated for `dur` (at least 20 times).
fn rate(dur: Duration, mut op: impl FnMut()) -> f64 {
    let t0 = Instant::now();
    let mut n = 0u64;
    while n < 20 || t0.elapsed() < dur {
        op();
        n += 1;
    }
    n as f64 / t0.elapsed().as_secs_f64()
}

fn fresh(dir: &Path, name: &str) -> File {
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)
        .expect("create bench file")
}

/// Raw: append `size` bytes, then `fdatasync` (or `fsync` when `full`).
fn raw_append(dir: &Path, size: usize, full: bool, dur: Duration) -> f64 {
    let f = fresh(dir, "raw-append");
    let buf = vec![0x5au8; size];
    let mut off = 0u64;
    let r = rate(dur, || {
        f.write_all_at(&buf, off).expect("write");
        off += size as u64;
        if full {
            f.sync_all().expect("fsync");
        } else {
            f.sync_data().expect("fdatasync");
        }
    });
    drop(f);
    let _ = std::fs::remove_file(dir.join("raw-append"));
    r
}

/// Raw: overwrite `size` bytes at a time inside a zero-filled, synced 16 MiB file, then
/// `fdatasync` (what a preallocating WAL would do).
fn raw_overwrite(dir: &Path, size: usize, dur: Duration) -> f64 {
    let f = fresh(dir, "raw-prealloc");
    let zeros = vec![0u8; 1 << 20];
    for i in 0..16u64 {
        f.write_all_at(&zeros, i << 20).expect("zero fill");
    }
    f.sync_all().expect("fsync");
    let buf = vec![0x5au8; size];
    let mut off = 0u64;
    let r = rate(dur, || {
        f.write_all_at(&buf, off % (16 << 20)).expect("write");
        off += size as u64;
        f.sync_data().expect("fdatasync");
    });
    drop(f);
    let _ = std::fs::remove_file(dir.join("raw-prealloc"));
    r
}

/// Raw: MB/s of appending `total` bytes with 4 KiB `pwrite`s, no sync.
fn raw_write_mbs(dir: &Path, total: usize) -> f64 {
    let f = fresh(dir, "raw-write");
    let buf = vec![0x5au8; 4096];
    let t0 = Instant::now();
    for i in 0..total / 4096 {
        f.write_all_at(&buf, (i * 4096) as u64).expect("write");
    }
    let mbs = total as f64 / t0.elapsed().as_secs_f64() / 1e6;
    drop(f);
    let _ = std::fs::remove_file(dir.join("raw-write"));
    mbs
}

fn open_wal(dir: &Path, durability: Durability) -> Wal {
    let _ = std::fs::remove_dir_all(dir);
    let fs: Arc<dyn Fs> = Arc::new(StdFs::new());
    let opts = WalOptions {
        durability,
        ..WalOptions::default()
    };
    Wal::open(fs, dir, opts).expect("open WAL").0
}

/// Appends per second with `writers` threads for `dur`, then the WAL's stats.
fn wal_rate(
    dir: &Path,
    durability: Durability,
    writers: usize,
    payload: usize,
    dur: Duration,
) -> (f64, mnemodb_wal::WalStats) {
    let wal = Arc::new(open_wal(dir, durability));
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    let handles: Vec<_> = (0..writers)
        .map(|t| {
            let (wal, stop, count) = (Arc::clone(&wal), Arc::clone(&stop), Arc::clone(&count));
            std::thread::spawn(move || {
                let p = vec![t as u8; payload];
                while !stop.load(Ordering::Relaxed) {
                    wal.append(&p).expect("append");
                    count.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(dur);
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().expect("writer thread");
    }
    let secs = t0.elapsed().as_secs_f64();
    let stats = wal.stats();
    drop(wal);
    let _ = std::fs::remove_dir_all(dir);
    (count.load(Ordering::Relaxed) as f64 / secs, stats)
}

/// MB/s of appending `total` bytes in `payload`-byte records with `writers` threads.
fn wal_throughput(dir: &Path, durability: Durability, writers: usize, total: usize) -> f64 {
    const PAYLOAD: usize = 4096;
    let wal = Arc::new(open_wal(dir, durability));
    let per = total / PAYLOAD / writers;
    let t0 = Instant::now();
    let handles: Vec<_> = (0..writers)
        .map(|t| {
            let wal = Arc::clone(&wal);
            std::thread::spawn(move || {
                let p = vec![t as u8; PAYLOAD];
                for _ in 0..per {
                    wal.append(&p).expect("append");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("writer thread");
    }
    let secs = t0.elapsed().as_secs_f64();
    drop(wal);
    let _ = std::fs::remove_dir_all(dir);
    (per * writers * PAYLOAD) as f64 / secs / 1e6
}

fn disk_root() -> PathBuf {
    std::env::var_os("MNEMODB_WAL_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/wal-bench"))
}

fn main() {
    let q = quick();
    let root = disk_root();
    std::fs::create_dir_all(&root).expect("bench dir");
    let disk = tempfile::Builder::new()
        .prefix("wal-")
        .tempdir_in(&root)
        .expect("bench dir");
    let d = disk.path();
    let fs_type = std::process::Command::new("stat")
        .args(["-f", "-c", "%T"])
        .arg(d)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    println!("# mnemodb-wal benchmarks");
    println!(
        "disk dir: {} ({fs_type}); {} CPUs; note: shared machine, others may be compiling",
        d.display(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    // 1. Sync latency-bound rates: short rounds, each measuring everything in a rotated
    // order, so that the (large) drift of a shared virtual disk hits all alike; ratios
    // are taken within a round, then the median over rounds.
    let rounds = if q { 3 } else { 15 };
    let dur = Duration::from_millis(if q { 200 } else { 500 });
    let names = [
        "raw 4 KiB append + fdatasync",
        "raw 256 B append + fdatasync",
        "raw 256 B append + fsync",
        "raw 256 B overwrite (zero-filled) + fdatasync",
        "WAL Sync, 1 writer, 256 B",
        "WAL Sync, 8 writers, 256 B",
    ];
    let mut results: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    let mut ratios: [Vec<f64>; 4] = Default::default();
    let mut group = Vec::new();
    for round in 0..rounds {
        let mut r = [0.0f64; 6];
        for k in 0..names.len() {
            let which = (k + round) % names.len();
            r[which] = match which {
                0 => raw_append(d, 4096, false, dur),
                1 => raw_append(d, 256, false, dur),
                2 => raw_append(d, 256, true, dur),
                3 => raw_overwrite(d, 256, dur),
                4 => wal_rate(&d.join("w1"), Durability::Sync, 1, 256, dur).0,
                _ => {
                    let (rate8, stats) = wal_rate(&d.join("w8"), Durability::Sync, 8, 256, dur);
                    group.push(rate8 * dur.as_secs_f64() / stats.syncs.max(1) as f64);
                    rate8
                }
            };
        }
        for (res, v) in results.iter_mut().zip(r) {
            res.push(v);
        }
        ratios[0].push(r[4] / r[0]);
        ratios[1].push(r[4] / r[2]);
        ratios[2].push(r[5] / r[4]);
        ratios[3].push(r[3] / r[2]);
    }
    println!("\n## Sync rates on the disk ({rounds} rounds × {dur:?} per item, rotated order)\n");
    println!("| what | median ops/s | min | max |");
    println!("|---|---:|---:|---:|");
    for (name, r) in names.iter().zip(&mut results) {
        let (lo, hi) = (
            r.iter().copied().fold(f64::INFINITY, f64::min),
            r.iter().copied().fold(0.0, f64::max),
        );
        println!("| {name} | {:.0} | {lo:.0} | {hi:.0} |", median(r));
    }
    println!("\nPer-round ratios (median over rounds):\n");
    println!("| ratio | median | min | max |");
    println!("|---|---:|---:|---:|");
    for (name, r) in [
        "WAL Sync 1 writer / raw 4 KiB append + fdatasync",
        "WAL Sync 1 writer / raw 256 B append + fsync (same syscalls)",
        "WAL Sync 8 writers / 1 writer",
        "raw overwrite-preallocated + fdatasync / raw append + fsync",
    ]
    .iter()
    .zip(&mut ratios)
    {
        let (lo, hi) = (
            r.iter().copied().fold(f64::INFINITY, f64::min),
            r.iter().copied().fold(0.0, f64::max),
        );
        println!("| {name} | {:.2} | {lo:.2} | {hi:.2} |", median(r));
    }
    println!(
        "\nGroup commit: median {:.1} appends per fsync with 8 writers.",
        median(&mut group)
    );

    // 2. Throughput of the lazy modes, on the disk and on tmpfs (which isolates the WAL's
    // own CPU cost from the kernel's writeback), next to a raw 4 KiB pwrite loop.
    let total = if q { 16 << 20 } else { 128 << 20 };
    let runs = if q { 1 } else { 5 };
    let shm_lazy = tempfile::Builder::new()
        .prefix("wal-lazy-")
        .tempdir_in("/dev/shm")
        .expect("tmpfs dir");
    println!(
        "\n## Lazy modes, 4 KiB payloads, {} MiB per run, {runs} runs (median MB/s)\n",
        total >> 20
    );
    println!("| mode | writers | disk MB/s | tmpfs MB/s |");
    println!("|---|---:|---:|---:|");
    let batch = Durability::Batch {
        max_delay: Duration::from_millis(10),
    };
    // (name, durability or None for the raw loop, writers); all measured in each run, in
    // rotated order.
    let configs: [(&str, Option<Durability>, usize); 5] = [
        ("raw 4 KiB pwrite loop (no sync)", None, 1),
        ("WAL Batch { max_delay: 10 ms }", Some(batch), 1),
        ("WAL Batch { max_delay: 10 ms }", Some(batch), 4),
        ("WAL Buffered", Some(Durability::Buffered), 1),
        ("WAL Buffered", Some(Durability::Buffered), 4),
    ];
    let mut lazy: Vec<[Vec<f64>; 2]> = vec![Default::default(); configs.len()];
    for run in 0..runs {
        for k in 0..configs.len() {
            let c = (k + run) % configs.len();
            let (_, durability, writers) = configs[c];
            for (i, dir) in [d, shm_lazy.path()].into_iter().enumerate() {
                lazy[c][i].push(match durability {
                    None => raw_write_mbs(dir, total),
                    Some(mode) => wal_throughput(&dir.join("lazy"), mode, writers, total),
                });
            }
        }
    }
    for ((name, _, writers), m) in configs.iter().zip(&mut lazy) {
        println!(
            "| {name} | {writers} | {:.0} | {:.0} |",
            median(&mut m[0]),
            median(&mut m[1])
        );
    }

    // 3. Recovery speed on tmpfs.
    let shm = tempfile::Builder::new()
        .prefix("wal-recovery-")
        .tempdir_in("/dev/shm")
        .expect("tmpfs dir");
    let dir = shm.path().join("wal");
    let log_bytes: usize = if q { 64 << 20 } else { 1100 << 20 };
    let payload = 1000;
    {
        let wal = open_wal(&dir, Durability::Buffered);
        let p = vec![7u8; payload];
        for _ in 0..log_bytes / payload {
            wal.append_batch(&[&p]).expect("append");
        }
        wal.flush().expect("flush");
    }
    let on_disk: u64 = std::fs::read_dir(&dir)
        .expect("list")
        .map(|e| e.expect("entry").metadata().expect("meta").len())
        .sum();
    let mb = on_disk as f64 / 1e6;
    let (mut open_mbs, mut replay_mbs, mut read_mbs) = (Vec::new(), Vec::new(), Vec::new());
    let mut records = 0u64;
    for _ in 0..runs {
        let fs: Arc<dyn Fs> = Arc::new(StdFs::new());
        let t0 = Instant::now();
        let (wal, report) = Wal::open(Arc::clone(&fs), &dir, WalOptions::default()).expect("open");
        open_mbs.push(mb / t0.elapsed().as_secs_f64());
        records = report.records;
        let t0 = Instant::now();
        let mut sum = 0u64;
        wal.replay(0, |_, p| {
            sum += p.len() as u64;
            Ok(())
        })
        .expect("replay");
        replay_mbs.push(mb / t0.elapsed().as_secs_f64());
        assert_eq!(sum, records * payload as u64);
        drop(wal);
        let t0 = Instant::now();
        mnemodb_wal::read_records(&*fs, &dir, 0, Default::default(), |_, _| Ok(()))
            .expect("read_records");
        read_mbs.push(mb / t0.elapsed().as_secs_f64());
    }
    println!(
        "\n## Recovery of a {:.2} GB log on tmpfs ({records} records of {payload} B, {runs} runs, median)\n",
        on_disk as f64 / 1e9
    );
    println!("| step | MB/s |");
    println!("|---|---:|");
    println!(
        "| Wal::open (validate every frame) | {:.0} |",
        median(&mut open_mbs)
    );
    println!(
        "| Wal::replay (every record to a callback) | {:.0} |",
        median(&mut replay_mbs)
    );
    println!(
        "| read_records (read-only scan) | {:.0} |",
        median(&mut read_mbs)
    );
}
