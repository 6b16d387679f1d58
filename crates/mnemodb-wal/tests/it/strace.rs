//! (a3) Syscall order under `strace` ("ALICE-lite"): a child appends records with rotation
//! and then truncates, on the real file system, printing `ACK <lsn>` after each append; the
//! trace is checked for
//!
//! - R1: the WAL file's last write before each `ACK` is followed by an `fsync`/`fdatasync`
//!   of that file before the `ACK` is written;
//! - R2: each new WAL file is written under a temporary name, `fsync`ed, renamed into place
//!   and its directory `fsync`ed, all before the first record goes into it;
//! - R3: each `unlink` of a WAL file is followed by an `fsync` of the directory before the
//!   next step (the next unlink, or `DONE`).
//!
//! Skipped loudly (`SKIP strace: …`) when strace is missing.
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use mnemodb_io::{Fs, StdFs};
use mnemodb_wal::{Wal, WalOptions};

const CHILD_DIR: &str = "MNEMODB_WAL_STRACE_DIR";
const RECORDS: u64 = 60;

/// The traced child. A no-op when run as an ordinary test.
#[test]
fn strace_child() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let fs: Arc<dyn Fs> = Arc::new(StdFs::new());
    let opts = WalOptions {
        max_file_bytes: 4096,
        ..WalOptions::default()
    };
    let (wal, _) = Wal::open(fs, Path::new(&dir), opts).unwrap();
    let mut out = std::io::stdout().lock();
    for i in 1..=RECORDS {
        let lsn = wal.append(&[i as u8; 200]).unwrap();
        writeln!(out, "ACK {lsn}").unwrap();
        out.flush().unwrap();
    }
    wal.truncate_before(RECORDS - 10).unwrap();
    writeln!(out, "DONE").unwrap();
    out.flush().unwrap();
}

/// One traced call.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    /// `write`/`pwrite64` to a file (path from `-y`).
    Write(String),
    /// `write(1, "ACK …")` or `"DONE"`.
    Mark(String),
    /// `fsync`/`fdatasync` of a file or directory.
    Sync(String),
    Rename(String, String),
    Unlink(String),
}

/// The quoted strings of a strace line, unescaped only enough for paths.
fn quoted(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (&mut cur, c) {
            (None, '"') => cur = Some(String::new()),
            (Some(q), '"') => {
                out.push(std::mem::take(q));
                cur = None;
            }
            (Some(q), '\\') => {
                if let Some(n) = chars.next() {
                    q.push('\\');
                    q.push(n);
                }
            }
            (Some(q), c) => q.push(c),
            (None, _) => {}
        }
    }
    out
}

/// The path in the first `fd</path>` of the argument list.
fn fd_path(args: &str) -> Option<String> {
    let start = args.find('<')? + 1;
    let end = start + args[start..].find('>')?;
    Some(args[start..end].to_string())
}

/// Parse `strace -f -y` output into events (calls that failed are dropped).
fn parse_trace(trace: &str) -> Vec<Event> {
    let mut pending: std::collections::HashMap<String, (String, String)> = Default::default();
    let mut events = Vec::new();
    for line in trace.lines() {
        let Some((pid, rest)) = line.split_once(' ') else {
            continue;
        };
        let rest = rest.trim_start();
        let (name, args, result) = if let Some(r) = rest.strip_prefix("<... ") {
            // "<... fsync resumed>) = 0"
            let Some((name, tail)) = r.split_once(" resumed>") else {
                continue;
            };
            let Some((_, args)) = pending.remove(pid) else {
                continue;
            };
            (name.to_string(), args, tail.to_string())
        } else {
            let Some((name, args)) = rest.split_once('(') else {
                continue;
            };
            if args.ends_with("<unfinished ...>") {
                pending.insert(pid.to_string(), (name.to_string(), args.to_string()));
                continue;
            }
            (name.to_string(), args.to_string(), args.to_string())
        };
        let Some((_, ret)) = result.rsplit_once(") = ") else {
            continue;
        };
        if ret.starts_with('-') {
            continue;
        }
        let q = quoted(&args);
        let event = match name.as_str() {
            "write" | "pwrite64" => {
                let path = fd_path(&args).unwrap_or_default();
                if path.starts_with("pipe:") || args.starts_with("1<") {
                    match q.first() {
                        Some(s) if s.starts_with("ACK") || s.starts_with("DONE") => {
                            Event::Mark(s.trim_end_matches("\\n").to_string())
                        }
                        _ => continue,
                    }
                } else {
                    Event::Write(path)
                }
            }
            "fsync" | "fdatasync" => Event::Sync(fd_path(&args).unwrap_or_default()),
            "rename" | "renameat" | "renameat2" if q.len() >= 2 => {
                Event::Rename(q[0].clone(), q[1].clone())
            }
            "unlink" | "unlinkat" if !q.is_empty() => Event::Unlink(q[0].clone()),
            _ => continue,
        };
        events.push(event);
    }
    events
}

/// Check R1–R3; returns (passed, failures).
fn check_rules(events: &[Event], wal_dir: &str) -> (u64, Vec<String>) {
    let is_log = |p: &str| p.starts_with(wal_dir) && p.ends_with(".log");
    let mut passed = 0;
    let mut failed = Vec::new();
    // R1
    for (i, e) in events.iter().enumerate() {
        let Event::Mark(m) = e else { continue };
        if !m.starts_with("ACK") {
            continue;
        }
        let last_write = events[..i]
            .iter()
            .rposition(|e| matches!(e, Event::Write(p) if is_log(p)));
        match last_write {
            Some(w) => {
                let Event::Write(path) = &events[w] else {
                    unreachable!()
                };
                if events[w..i]
                    .iter()
                    .any(|e| matches!(e, Event::Sync(p) if p == path))
                {
                    passed += 1;
                } else {
                    failed.push(format!("R1: {m} without a sync of {path} after its write"));
                }
            }
            None => failed.push(format!("R1: {m} before any WAL write")),
        }
    }
    // R2
    let mut files: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            Event::Write(p) if is_log(p) => Some(p.clone()),
            _ => None,
        })
        .collect();
    files.dedup();
    for path in &files {
        let first_write = events
            .iter()
            .position(|e| matches!(e, Event::Write(p) if p == path))
            .unwrap();
        let rename = events[..first_write]
            .iter()
            .rposition(|e| matches!(e, Event::Rename(_, to) if to == path));
        let Some(r) = rename else {
            failed.push(format!(
                "R2: {path} written before it was renamed into place"
            ));
            continue;
        };
        let Event::Rename(tmp, _) = &events[r] else {
            unreachable!()
        };
        let synced_tmp = events[..r]
            .iter()
            .rposition(|e| matches!(e, Event::Write(p) if p == tmp))
            .is_some_and(|w| {
                events[w..r]
                    .iter()
                    .any(|e| matches!(e, Event::Sync(p) if p == tmp))
            });
        let dir_synced = events[r..first_write]
            .iter()
            .any(|e| matches!(e, Event::Sync(p) if p == wal_dir));
        if synced_tmp && dir_synced {
            passed += 1;
        } else {
            failed.push(format!(
                "R2: {path}: header synced before rename: {synced_tmp}, \
                 directory synced before the first record: {dir_synced}"
            ));
        }
    }
    // R3
    for (i, e) in events.iter().enumerate() {
        let Event::Unlink(path) = e else { continue };
        if !is_log(path) {
            continue;
        }
        let next_step = events[i + 1..]
            .iter()
            .position(|e| matches!(e, Event::Unlink(_) | Event::Mark(_)))
            .map_or(events.len(), |k| i + 1 + k);
        if events[i..next_step]
            .iter()
            .any(|e| matches!(e, Event::Sync(p) if p == wal_dir))
        {
            passed += 1;
        } else {
            failed.push(format!(
                "R3: unlink of {path} not followed by a directory sync"
            ));
        }
    }
    (passed, failed)
}

#[test]
fn strace_syscall_order() {
    if std::env::var(CHILD_DIR).is_ok() {
        return;
    }
    if Command::new("strace").arg("-V").output().is_err() {
        println!("SKIP strace: strace is not installed (apt-get install -y strace)");
        return;
    }
    let scratch = mnemodb_testkit::scratch_dir();
    let wal_dir = scratch.path().join("wal");
    let trace_file = scratch.path().join("trace.txt");
    let out = Command::new("strace")
        .args(["-f", "-y", "-qq", "-o"])
        .arg(&trace_file)
        .args([
            "-e",
            "trace=openat,write,pwrite64,fsync,fdatasync,rename,renameat,renameat2,unlink,unlinkat,ftruncate,fallocate",
        ])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", "strace::strace_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR, &wal_dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains("PTRACE") || stderr.contains("ptrace") {
            println!("SKIP strace: ptrace is not permitted here: {stderr}");
            return;
        }
        panic!("traced child failed: {}\n{stdout}\n{stderr}", out.status);
    }
    assert!(stdout.contains("DONE"), "{stdout}");
    let trace = std::fs::read_to_string(&trace_file).unwrap();
    let events = parse_trace(&trace);
    let dir = wal_dir.to_str().unwrap();
    let acks = events
        .iter()
        .filter(|e| matches!(e, Event::Mark(m) if m.starts_with("ACK")))
        .count() as u64;
    let renames = events
        .iter()
        .filter(|e| matches!(e, Event::Rename(..)))
        .count();
    let unlinks = events
        .iter()
        .filter(|e| matches!(e, Event::Unlink(p) if p.ends_with(".log")))
        .count();
    assert_eq!(acks, RECORDS, "ACK lines in the trace");
    assert!(
        renames >= 3 && unlinks >= 1,
        "renames {renames} unlinks {unlinks}"
    );
    let (passed, failed) = check_rules(&events, dir);
    for f in &failed {
        println!("{f}");
    }
    println!(
        "STRACE {} events ({acks} ACKs, {renames} renames, {unlinks} unlinks): {passed} passed, {} failed",
        events.len(),
        failed.len()
    );
    assert!(failed.is_empty());
}

/// The checker fails on a trace that breaks each rule (so a passing run means something).
#[test]
fn strace_checker_catches_violations() {
    let d = "/w/wal";
    let f = "/w/wal/00000000000000000001.log";
    let tmp = "/w/wal/00000000000000000001.log.tmp";
    let good = vec![
        Event::Write(tmp.into()),
        Event::Sync(tmp.into()),
        Event::Rename(tmp.into(), f.into()),
        Event::Sync(d.into()),
        Event::Write(f.into()),
        Event::Sync(f.into()),
        Event::Mark("ACK 1".into()),
        Event::Unlink(f.into()),
        Event::Sync(d.into()),
        Event::Mark("DONE".into()),
    ];
    assert_eq!(check_rules(&good, d), (3, vec![]));
    for drop in [1, 3, 5, 8] {
        let mut bad = good.clone();
        bad.remove(drop);
        let (_, failed) = check_rules(&bad, d);
        assert_eq!(failed.len(), 1, "dropping event {drop}: {failed:?}");
    }
    let line = "123 pwrite64(3</w/wal/00000000000000000001.log>, \"\\x01\"..., 296, 64) = 296";
    assert_eq!(parse_trace(line), vec![Event::Write(f.into())]);
    let lines = "7 fsync(4</w/wal> <unfinished ...>\n8 write(1<pipe:[9]>, \"ACK 3\\n\", 6) = 6\n7 <... fsync resumed>) = 0\n7 renameat2(AT_FDCWD</x>, \"/a.tmp\", AT_FDCWD</x>, \"/a\", 0) = 0\n7 unlink(\"/w/wal/1.log\") = -1 ENOENT (No such file)";
    assert_eq!(
        parse_trace(lines),
        vec![
            Event::Mark("ACK 3".into()),
            Event::Sync(d.into()),
            Event::Rename("/a.tmp".into(), "/a".into()),
        ]
    );
}
