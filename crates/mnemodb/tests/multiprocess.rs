//! One writer process, read-only handles in other processes: a reader sees the writer's
//! data after `refresh()`, across seals, compaction and WAL truncation.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use mnemodb::{CollectionConfig, Database, Metric, Options, Query, Record};

const CHILD_ENV: &str = "MNEMODB_MP_WRITER_DIR";

fn vector(id: u64) -> Vec<f32> {
    (0..8).map(|d| (id * 8 + d) as f32).collect()
}

/// The writer: reads commands from stdin ("write <from> <to>", "seal", "quit") and answers
/// "ACK <count>" on a line of its own after each.
#[test]
fn writer_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return; // only runs as the child of `reader_in_another_process_follows_the_writer`
    };
    let db = Database::open(&dir, Options::default().seal_rows(100).background(false)).unwrap();
    let c = db
        .collection_or_create(CollectionConfig::new("m", 8, Metric::L2))
        .unwrap();
    let stdin = std::io::stdin();
    let mut out = std::io::stdout();
    for line in stdin.lock().lines() {
        let line = line.unwrap();
        let parts: Vec<&str> = line.split_whitespace().collect();
        match parts.as_slice() {
            ["write", from, to] => {
                let (from, to): (u64, u64) = (from.parse().unwrap(), to.parse().unwrap());
                c.upsert((from..to).map(|i| Record::new(i, vector(i))).collect())
                    .unwrap();
            }
            ["delete", id] => {
                c.delete(&[id.parse::<u64>().unwrap().into()]).unwrap();
            }
            ["seal"] => {
                db.checkpoint().unwrap();
                db.compact().unwrap();
                db.checkpoint().unwrap();
            }
            ["quit"] => return,
            _ => panic!("unknown command {line}"),
        }
        writeln!(out, "\nACK {}", c.count()).unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn reader_in_another_process_follows_the_writer() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "writer_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut to_child = child.stdin.take().unwrap();
    let to_child_ref = &mut to_child;
    let mut from_child = BufReader::new(child.stdout.take().unwrap());
    let mut ask = |cmd: &str| -> u64 {
        writeln!(to_child_ref, "{cmd}").unwrap();
        to_child_ref.flush().unwrap();
        loop {
            let mut line = String::new();
            assert!(
                from_child.read_line(&mut line).unwrap() > 0,
                "writer died after `{cmd}`"
            );
            if let Some(n) = line.trim().strip_prefix("ACK ") {
                return n.parse().unwrap();
            }
        }
    };
    assert_eq!(ask("write 0 50"), 50);
    // The writer holds the lock: a second writer is refused, a reader is welcome.
    assert!(matches!(
        Database::open(dir.path(), Options::default()),
        Err(mnemodb::Error::Locked { .. })
    ));
    let reader = Database::open_read_only(dir.path(), Options::default()).unwrap();
    let count = |db: &Database| db.collection("m").map(|c| c.count()).unwrap_or(0);
    assert_eq!(count(&reader), 50);

    assert_eq!(ask("write 50 180"), 180); // seals at 100 rows
    assert_eq!(count(&reader), 50, "a snapshot until refresh");
    assert!(reader.refresh().unwrap());
    assert_eq!(count(&reader), 180);

    assert_eq!(ask("delete 7"), 179);
    assert_eq!(ask("seal"), 179); // checkpoint + compaction + WAL truncation
    assert_eq!(ask("write 180 260"), 259);
    assert!(reader.refresh().unwrap());
    let c = reader.collection("m").unwrap();
    assert_eq!(c.count(), 259);
    assert!(c.get(&7u64.into()).unwrap().is_none());
    assert_eq!(
        c.get(&200u64.into()).unwrap().unwrap().vector.unwrap(),
        vector(200)
    );
    let hits = c.search(&Query::new(vector(123), 1)).unwrap();
    assert_eq!(hits[0].id, 123u64.into());
    assert!(!reader.refresh().unwrap(), "nothing new");

    writeln!(to_child, "quit").unwrap();
    drop(to_child);
    assert!(child.wait().unwrap().success());
    // With the writer gone, the lock is free again.
    let db = Database::open(dir.path(), Options::default()).unwrap();
    assert_eq!(db.collection("m").unwrap().count(), 259);
}
