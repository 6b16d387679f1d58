//! (b) Corruption injection on WAL files: truncation at every length, bit flips across
//! headers and frames, bytes set to 0x00/0xFF, a zeroed last page, a garbage page, garbage
//! appended, a duplicated last record, reordered / missing / overlapping files, files of
//! another kind. Each outcome is the one RELIABILITY's recovery-policy table prescribes:
//! a torn tail of the newest file is cut and reported; any other damage is `Corrupted`
//! naming the file and offset; `SalvagePrefix` then recovers exactly the records before
//! the damage. Never a panic; every single-bit flip is detected.
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mnemodb_format::{FileKind, FilePrefix, WalHeader};
use mnemodb_io::{Fs, MemFs, OpenOptions};
use mnemodb_wal::{Error, Lsn, RecoveryMode, Wal, WalOptions, decode_frames, encode_frame};
use rand::{Rng, SeedableRng, rngs::StdRng};

use crate::{payload_for, soak};

const DIR: &str = "/db/wal";
const MAX_PAYLOAD: usize = 100;

#[derive(Debug, Clone, Copy)]
struct FrameInfo {
    offset: u64,
    len: u64,
    count: u64,
}

/// A log of ~300 records over several files, every record synced (Durability::Sync).
struct Fixture {
    files: Vec<(String, Vec<u8>)>,
    frames: Vec<Vec<FrameInfo>>,
    total: u64,
}

impl Fixture {
    fn build() -> Fixture {
        let mem = MemFs::new();
        let opts = WalOptions {
            max_file_bytes: 12 << 10,
            ..WalOptions::default()
        };
        let (wal, _) = Wal::open(Arc::new(mem.clone()), Path::new(DIR), opts).unwrap();
        let mut lsn = 1;
        let mut rng = StdRng::seed_from_u64(99);
        loop {
            if rng.random_ratio(1, 8) {
                let n = rng.random_range(2..5u64);
                let ps: Vec<Vec<u8>> = (lsn..lsn + n)
                    .map(|l| payload_for(l, MAX_PAYLOAD))
                    .collect();
                let refs: Vec<&[u8]> = ps.iter().map(|p| &p[..]).collect();
                wal.append_batch(&refs).unwrap();
                lsn += n;
            } else {
                wal.append(&payload_for(lsn, MAX_PAYLOAD)).unwrap();
                lsn += 1;
            }
            let stats = wal.stats();
            let newest = mem.files().into_iter().max().unwrap();
            if stats.files >= 4 && mem.read_all(&newest).unwrap().len() > 9000 {
                break;
            }
        }
        drop(wal);
        let mut files = Vec::new();
        let mut frames = Vec::new();
        for path in mem.files() {
            let bytes = mem.read_all(&path).unwrap();
            let mut fr = Vec::new();
            let report = decode_frames(&bytes, &path, |f| {
                fr.push(FrameInfo {
                    offset: 0,
                    len: u64::from(f.len),
                    count: u64::from(f.count),
                });
                Ok(())
            })
            .unwrap();
            assert_eq!(report.valid_len, bytes.len() as u64);
            let mut off = WalHeader::SIZE as u64;
            for f in &mut fr {
                f.offset = off;
                off += f.len;
            }
            frames.push(fr);
            files.push((
                path.file_name().unwrap().to_str().unwrap().to_string(),
                bytes,
            ));
        }
        Fixture {
            files,
            frames,
            total: lsn - 1,
        }
    }

    fn newest(&self) -> usize {
        self.files.len() - 1
    }

    /// Records in the files before `file` plus the frames of `file` that end at or before
    /// byte `limit`.
    fn prefix(&self, file: usize, limit: u64) -> u64 {
        let before: u64 = self.frames[..file].iter().flatten().map(|f| f.count).sum();
        before
            + self.frames[file]
                .iter()
                .filter(|f| f.offset + f.len <= limit)
                .map(|f| f.count)
                .sum::<u64>()
    }

    /// End of the last frame of `file` that ends at or before `limit`.
    fn frame_end_before(&self, file: usize, limit: u64) -> u64 {
        self.frames[file]
            .iter()
            .map(|f| f.offset + f.len)
            .filter(|e| *e <= limit)
            .max()
            .unwrap_or(WalHeader::SIZE as u64)
    }

    /// The frame of `file` containing byte `at`.
    fn frame_at(&self, file: usize, at: u64) -> Option<FrameInfo> {
        self.frames[file]
            .iter()
            .copied()
            .find(|f| f.offset <= at && at < f.offset + f.len)
    }
}

/// The expected outcome of opening a damaged log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Opens; keeps the first `records` records; cuts `truncated` bytes.
    Ok { records: u64, truncated: u64 },
    /// Refused with `Corrupted` naming file `file`; salvage keeps `salvage` records.
    Corrupted { file: usize, salvage: u64 },
}

/// The expected outcome of damage starting at byte `at` of file `i` (frames from there on
/// unreadable, the rest of the file intact).
fn damage_at(fx: &Fixture, i: usize, at: u64) -> Expect {
    if at < WalHeader::SIZE as u64 {
        return Expect::Corrupted {
            file: i,
            salvage: fx.prefix(i, 0),
        };
    }
    let start = fx.frame_at(i, at).map_or(at, |f| f.offset);
    let last = *fx.frames[i].last().unwrap();
    if i == fx.newest() && start == last.offset {
        Expect::Ok {
            records: fx.prefix(i, start),
            truncated: last.len,
        }
    } else {
        Expect::Corrupted {
            file: i,
            salvage: fx.prefix(i, start),
        }
    }
}

fn mem_from(files: &[(String, Vec<u8>)]) -> MemFs {
    let mem = MemFs::new();
    let dir = Path::new(DIR);
    mem.create_dir_all(dir).unwrap();
    for (name, bytes) in files {
        let f = mem
            .open(&dir.join(name), OpenOptions::create_new())
            .unwrap();
        f.write_all_at(bytes, 0).unwrap();
        f.sync_all().unwrap();
    }
    mem.sync_dir(dir).unwrap();
    mem.sync_dir(Path::new("/db")).unwrap();
    mem.sync_dir(Path::new("/")).unwrap();
    mem
}

fn replay_count(wal: &Wal, what: &str) -> u64 {
    let mut n = 0;
    wal.replay(0, |lsn, p| {
        assert_eq!(
            p,
            payload_for(lsn, MAX_PAYLOAD),
            "{what}: wrong data at {lsn}"
        );
        n += 1;
        Ok(())
    })
    .unwrap();
    n
}

#[derive(Debug, Default)]
struct Stats {
    cases: u64,
    opened: u64,
    truncated: u64,
    corrupted: u64,
    slowest: Duration,
}

/// Open the damaged log and check the outcome, then salvage when refused.
fn check(files: &[(String, Vec<u8>)], expect: Expect, what: &str, stats: &mut Stats) {
    let t0 = Instant::now();
    let dir = Path::new(DIR);
    let mem = mem_from(files);
    let fs: Arc<dyn Fs> = Arc::new(mem.clone());
    let result = Wal::open(Arc::clone(&fs), dir, WalOptions::default());
    stats.cases += 1;
    match (expect, result) {
        (Expect::Ok { records, truncated }, Ok((wal, report))) => {
            stats.opened += 1;
            stats.truncated += u64::from(truncated > 0);
            assert_eq!(report.records, records, "{what}: {report:?}");
            assert_eq!(report.truncated_bytes, truncated, "{what}");
            assert_eq!(replay_count(&wal, what), records, "{what}");
            assert_eq!(wal.append(b"after").unwrap(), records + 1, "{what}");
        }
        (Expect::Corrupted { file, salvage }, Err(e)) => {
            stats.corrupted += 1;
            let name = &files[file].0;
            match &e {
                Error::Corrupted { file: f, .. } => {
                    assert!(
                        f.ends_with(name),
                        "{what}: error names {f:?}, not {name}: {e}"
                    )
                }
                other => panic!("{what}: expected Corrupted, got {other}"),
            }
            assert!(e.to_string().contains(name.as_str()), "{what}: {e}");
            // Nothing was changed by the refused open.
            for (n, bytes) in files {
                let path = dir.join(n);
                assert_eq!(&mem.read_all(&path).unwrap(), bytes, "{what}: {n} changed");
            }
            let opts = WalOptions {
                recovery: RecoveryMode::SalvagePrefix,
                ..WalOptions::default()
            };
            let (wal, report) = Wal::open(Arc::clone(&fs), dir, opts)
                .unwrap_or_else(|e| panic!("{what}: salvage failed: {e}"));
            assert!(report.salvaged, "{what}");
            assert_eq!(
                report.records, salvage,
                "{what}: salvage {report:?} after {e}"
            );
            assert_eq!(replay_count(&wal, what), salvage, "{what}");
            drop(wal);
            // The salvaged log is a clean log.
            let (wal, report) = Wal::open(fs, dir, WalOptions::default())
                .unwrap_or_else(|e| panic!("{what}: reopen after salvage failed: {e}"));
            assert_eq!(
                (report.records, report.truncated_bytes),
                (salvage, 0),
                "{what}"
            );
            let next = wal.append(b"after").unwrap();
            assert!(next > salvage, "{what}");
        }
        (expect, Ok((_, report))) => panic!("{what}: expected {expect:?}, opened: {report:?}"),
        (expect, Err(e)) => panic!("{what}: expected {expect:?}, got error: {e}"),
    }
    stats.slowest = stats.slowest.max(t0.elapsed());
}

fn with_file(fx: &Fixture, i: usize, bytes: Vec<u8>) -> Vec<(String, Vec<u8>)> {
    let mut files = fx.files.clone();
    files[i].1 = bytes;
    files
}

#[test]
fn truncation_at_every_length() {
    let fx = Fixture::build();
    let mut stats = Stats::default();
    for i in 0..fx.files.len() {
        let len = fx.files[i].1.len() as u64;
        // Newest: every length; older files: around the header and every record boundary.
        let lengths: Vec<u64> = if i == fx.newest() {
            (0..len).collect()
        } else {
            let mut l: Vec<u64> = vec![0, 1, 7, 8, 63, 64, 65, len - 1];
            for f in &fx.frames[i] {
                l.extend([f.offset - 1, f.offset + 1, f.offset + f.len - 1]);
            }
            l
        };
        for l in lengths {
            let bytes = fx.files[i].1[..l as usize].to_vec();
            let expect = if i == fx.newest() && l >= WalHeader::SIZE as u64 {
                let end = fx.frame_end_before(i, l);
                Expect::Ok {
                    records: fx.prefix(i, l),
                    truncated: l - end,
                }
            } else {
                let salvage = if l < WalHeader::SIZE as u64 {
                    fx.prefix(i, 0)
                } else {
                    fx.prefix(i, l)
                };
                // Cut exactly after a record, the file itself is fine: the next one then
                // starts after a gap.
                let at_boundary = l >= WalHeader::SIZE as u64 && fx.frame_end_before(i, l) == l;
                Expect::Corrupted {
                    file: if at_boundary { i + 1 } else { i },
                    salvage,
                }
            };
            check(
                &with_file(&fx, i, bytes),
                expect,
                &format!("file {i} cut at {l}"),
                &mut stats,
            );
        }
    }
    println!("CORRUPT truncation: {stats:?}");
    assert!(stats.truncated > 1000);
}

#[test]
fn every_sampled_bit_flip_is_detected() {
    let fx = Fixture::build();
    let seed = mnemodb_testkit::test_seed("bit_flips");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut stats = Stats::default();
    let exhaustive = soak() > 1;
    for i in 0..fx.files.len() {
        let bits = fx.files[i].1.len() * 8;
        let mut sample: Vec<usize> = if exhaustive {
            (0..bits).collect()
        } else {
            // Every header bit, every bit of the first and last two frames, and random bits.
            let mut s: Vec<usize> = (0..WalHeader::SIZE * 8).collect();
            let fr = &fx.frames[i];
            for f in fr.iter().take(1).chain(fr.iter().rev().take(2)) {
                s.extend(f.offset as usize * 8..(f.offset + f.len) as usize * 8);
            }
            s.extend((0..600).map(|_| rng.random_range(0..bits)));
            s
        };
        sample.sort_unstable();
        sample.dedup();
        for bit in sample {
            let mut bytes = fx.files[i].1.clone();
            bytes[bit / 8] ^= 1 << (bit % 8);
            let expect = damage_at(&fx, i, (bit / 8) as u64);
            check(
                &with_file(&fx, i, bytes),
                expect,
                &format!("file {i} bit {bit}"),
                &mut stats,
            );
        }
    }
    println!("CORRUPT bit flips (exhaustive={exhaustive}): {stats:?}");
    assert!(stats.slowest < Duration::from_secs(1), "{stats:?}");
}

#[test]
fn bytes_set_to_zero_or_ff() {
    let fx = Fixture::build();
    let mut rng = StdRng::seed_from_u64(mnemodb_testkit::test_seed("byte_sets"));
    let mut stats = Stats::default();
    for _ in 0..1500 {
        let i = rng.random_range(0..fx.files.len());
        let at = rng.random_range(0..fx.files[i].1.len());
        let value = if rng.random_bool(0.5) { 0x00 } else { 0xff };
        let mut bytes = fx.files[i].1.clone();
        let expect = if bytes[at] == value {
            Expect::Ok {
                records: fx.total,
                truncated: 0,
            }
        } else {
            bytes[at] = value;
            damage_at(&fx, i, at as u64)
        };
        check(
            &with_file(&fx, i, bytes),
            expect,
            &format!("file {i} byte {at} = {value:#x}"),
            &mut stats,
        );
    }
    println!("CORRUPT byte sets: {stats:?}");
}

#[test]
fn pages_zeroed_or_garbage() {
    let fx = Fixture::build();
    let mut stats = Stats::default();
    let mut rng = StdRng::seed_from_u64(5);
    for i in 0..fx.files.len() {
        let len = fx.files[i].1.len();
        // The last 4 KiB page zeroed (a lost write of the newest page).
        let start = len.saturating_sub(4096).max(WalHeader::SIZE);
        let mut bytes = fx.files[i].1.clone();
        bytes[start..].fill(0);
        let expect = if i == fx.newest() {
            Expect::Ok {
                records: fx.prefix(i, start as u64),
                truncated: len as u64 - fx.frame_end_before(i, start as u64),
            }
        } else {
            Expect::Corrupted {
                file: i,
                salvage: fx.prefix(i, start as u64),
            }
        };
        check(
            &with_file(&fx, i, bytes),
            expect,
            &format!("file {i} last page zeroed"),
            &mut stats,
        );
        // A page of garbage in the middle (before the last frame), and a zeroed one.
        let last = fx.frames[i].last().unwrap().offset as usize;
        for fill in [None, Some(0u8)] {
            let at = rng
                .random_range(WalHeader::SIZE..last.saturating_sub(600).max(WalHeader::SIZE + 1));
            let end = (at + 512).min(last);
            let mut bytes = fx.files[i].1.clone();
            match fill {
                None => rng.fill(&mut bytes[at..end]),
                Some(b) => bytes[at..end].fill(b),
            }
            let expect = damage_at(&fx, i, at as u64);
            check(
                &with_file(&fx, i, bytes),
                expect,
                &format!("file {i} page at {at} {fill:?}"),
                &mut stats,
            );
        }
        // Garbage appended.
        for glen in [1usize, 8, 40, 4096] {
            let mut bytes = fx.files[i].1.clone();
            let mut g = vec![0u8; glen];
            rng.fill(&mut g[..]);
            bytes.extend_from_slice(&g);
            let expect = if i == fx.newest() {
                Expect::Ok {
                    records: fx.total,
                    truncated: glen as u64,
                }
            } else {
                Expect::Corrupted {
                    file: i,
                    salvage: fx.prefix(i, len as u64),
                }
            };
            check(
                &with_file(&fx, i, bytes),
                expect,
                &format!("file {i} + {glen} garbage"),
                &mut stats,
            );
        }
        // Zeros appended (a preallocated or extended file).
        let mut bytes = fx.files[i].1.clone();
        bytes.extend_from_slice(&[0u8; 4096]);
        let expect = if i == fx.newest() {
            Expect::Ok {
                records: fx.total,
                truncated: 4096,
            }
        } else {
            Expect::Corrupted {
                file: i,
                salvage: fx.prefix(i, len as u64),
            }
        };
        check(
            &with_file(&fx, i, bytes),
            expect,
            &format!("file {i} + zeros"),
            &mut stats,
        );
    }
    println!("CORRUPT pages: {stats:?}");
}

#[test]
fn duplicated_reordered_missing_overlapping_and_foreign_files() {
    let fx = Fixture::build();
    let mut stats = Stats::default();
    let n = fx.newest();
    let newest = &fx.files[n].1;
    let last = *fx.frames[n].last().unwrap();

    // The last record written twice.
    let mut bytes = newest.clone();
    bytes.extend_from_slice(&newest[last.offset as usize..(last.offset + last.len) as usize]);
    check(
        &with_file(&fx, n, bytes),
        Expect::Corrupted {
            file: n,
            salvage: fx.total,
        },
        "duplicate last record",
        &mut stats,
    );

    // Two files swapped (names no longer match headers).
    let mut files = fx.files.clone();
    let (a, b) = (files[1].1.clone(), files[2].1.clone());
    files[1].1 = b;
    files[2].1 = a;
    check(
        &files,
        Expect::Corrupted {
            file: 1,
            salvage: fx.prefix(1, 0),
        },
        "files swapped",
        &mut stats,
    );

    // A middle file missing: a gap.
    let mut files = fx.files.clone();
    files.remove(1);
    let mut stats2 = Stats::default();
    check(
        &files,
        Expect::Corrupted {
            file: 1,
            salvage: fx.prefix(1, 0),
        },
        "middle file missing",
        &mut stats2,
    );

    // Overlap and gap: the newest file rewritten (validly) to start one LSN early / late.
    let first = WalHeader::decode(newest, Path::new("x")).unwrap().first_lsn;
    for (start, what) in [(first - 1, "overlap"), (first + 1, "gap")] {
        let header = WalHeader::new(0x1234, start);
        let mut bytes = header.as_bytes().to_vec();
        for (k, lsn) in (start..start + 5).enumerate() {
            encode_frame(
                &mut bytes,
                0x1234,
                lsn,
                lsn - 1 - k as u64 % 2,
                &[&payload_for(lsn, MAX_PAYLOAD)],
            )
            .unwrap();
        }
        let mut files = fx.files.clone();
        files[n] = (format!("{start:020}.log"), bytes);
        check(
            &files,
            Expect::Corrupted {
                file: n,
                salvage: fx.prefix(n, 0),
            },
            what,
            &mut stats,
        );
    }

    // The newest file empty, of another kind, or a lone prefix.
    let foreign = FilePrefix::new(FileKind::Segment);
    let segment = bytemuck::bytes_of(&foreign).to_vec();
    for (bytes, what) in [
        (Vec::new(), "empty"),
        (segment.clone(), "segment prefix"),
        ([segment, vec![0; 200]].concat(), "segment file"),
        (vec![0u8; 4096], "zeros"),
    ] {
        check(
            &with_file(&fx, n, bytes),
            Expect::Corrupted {
                file: n,
                salvage: fx.prefix(n, 0),
            },
            what,
            &mut stats,
        );
    }

    // Stray files are ignored; temporary files are removed by a read-write open.
    let mut files = fx.files.clone();
    files.push(("notes.txt".into(), b"hello".to_vec()));
    files.push((format!("{:020}.log.tmp", fx.total + 1), vec![1, 2, 3]));
    check(
        &files,
        Expect::Ok {
            records: fx.total,
            truncated: 0,
        },
        "stray files",
        &mut stats,
    );
    let mem = mem_from(&files);
    drop(Wal::open(Arc::new(mem.clone()), Path::new(DIR), WalOptions::default()).unwrap());
    let left: Vec<PathBuf> = mem.files();
    assert!(left.iter().any(|p| p.ends_with("notes.txt")));
    assert!(!left.iter().any(|p| p.to_str().unwrap().ends_with(".tmp")));

    let lsns: Vec<Lsn> = (1..=3).collect();
    assert_eq!(lsns.len(), 3);
    println!("CORRUPT files: {stats:?}");
}
