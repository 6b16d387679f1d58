//! (d) proptest state machine: the WAL on `MemFs` (behind a `FaultyFs`) against a model —
//! the acknowledged records, the durable LSN and the frame boundaries — with steps Append,
//! AppendBatch, Flush, TruncateBefore, Reopen, Crash (power-loss image), TornTail (garbage,
//! zeros or a cut last record in the newest file) and FailNextIo (an append whose nth I/O
//! call fails).
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mnemodb_io::{
    CrashMode, FaultController, FaultOp, FaultyFs, Fs, InjectedError, MemFs, OpenOptions,
};
use mnemodb_wal::{Durability, Lsn, Wal, WalOptions, frame_len};
use proptest::prelude::*;
use proptest::test_runner::Config;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};

use crate::soak;

const DIR: &str = "/db/wal";

#[derive(Debug, Clone)]
enum Tail {
    Garbage(Vec<u8>),
    Zeros(usize),
    /// Cut `1 + k % len` bytes off the last record.
    Cut(usize),
}

#[derive(Debug, Clone)]
enum Step {
    Append(Vec<u8>),
    AppendBatch(Vec<Vec<u8>>),
    Flush,
    /// `truncate_before(last_lsn - back)`.
    TruncateBefore(u64),
    Reopen,
    Crash(Option<u64>),
    TornTail(Tail),
    FailNextIo {
        op: FaultOp,
        nth: u64,
        error: InjectedError,
        persistent: bool,
        payload: Vec<u8>,
    },
}

/// The reference only chooses the durability mode; the model lives in the system under
/// test (a crash in `Buffered` mode keeps a prefix whose length the reference cannot know).
struct Reference;

impl ReferenceStateMachine for Reference {
    type State = Durability;
    type Transition = Step;

    fn init_state() -> BoxedStrategy<Durability> {
        prop_oneof![Just(Durability::Sync), Just(Durability::Buffered)].boxed()
    }

    fn transitions(_: &Durability) -> BoxedStrategy<Step> {
        let payload = || proptest::collection::vec(any::<u8>(), 0..200);
        prop_oneof![
            30 => payload().prop_map(Step::Append),
            10 => proptest::collection::vec(payload(), 1..5).prop_map(Step::AppendBatch),
            5 => Just(Step::Flush),
            5 => (0..30u64).prop_map(Step::TruncateBefore),
            5 => Just(Step::Reopen),
            5 => proptest::option::of(any::<u64>()).prop_map(Step::Crash),
            5 => prop_oneof![
                proptest::collection::vec(1..=255u8, 1..100).prop_map(Tail::Garbage),
                (1..5000usize).prop_map(Tail::Zeros),
                any::<usize>().prop_map(Tail::Cut),
            ]
            .prop_map(Step::TornTail),
            5 => (
                prop_oneof![
                    Just(FaultOp::Write),
                    Just(FaultOp::SyncAll),
                    Just(FaultOp::SetLen),
                    Just(FaultOp::Any)
                ],
                1..8u64,
                prop_oneof![Just(InjectedError::NoSpace), Just(InjectedError::Io)],
                any::<bool>(),
                payload(),
            )
                .prop_map(|(op, nth, error, persistent, payload)| Step::FailNextIo {
                    op,
                    nth,
                    error,
                    persistent,
                    payload,
                }),
        ]
        .boxed()
    }

    fn apply(state: Durability, _: &Step) -> Durability {
        state
    }
}

struct Sut {
    mem: MemFs,
    faults: FaultController,
    wal: Option<Wal>,
    options: WalOptions,
    /// Acknowledged records still in the log.
    records: BTreeMap<Lsn, Vec<u8>>,
    next: Lsn,
    durable: Lsn,
    /// Every frame appended: first LSN → (last LSN, frame length).
    frames: BTreeMap<Lsn, (Lsn, u32)>,
}

impl Sut {
    fn fs(&self) -> Arc<dyn Fs> {
        Arc::new(FaultyFs::with_controller(
            Arc::new(self.mem.clone()),
            self.faults.clone(),
        ))
    }

    fn wal(&self) -> &Wal {
        self.wal.as_ref().unwrap()
    }

    fn reopen(&mut self) -> mnemodb_wal::RecoveryReport {
        drop(self.wal.take());
        let (wal, report) = Wal::open(self.fs(), Path::new(DIR), self.options.clone())
            .unwrap_or_else(|e| panic!("reopen failed: {e}"));
        self.wal = Some(wal);
        report
    }

    /// Record an acknowledged frame.
    fn acked(&mut self, first: Lsn, payloads: &[Vec<u8>]) {
        assert_eq!(first, self.next, "LSNs are contiguous");
        for (i, p) in payloads.iter().enumerate() {
            self.records.insert(first + i as u64, p.clone());
        }
        let last = first + payloads.len() as u64 - 1;
        let len = frame_len(payloads.iter().map(|p| p.len())).unwrap();
        self.frames.insert(first, (last, len));
        self.next = last + 1;
        if self.options.durability == Durability::Sync {
            self.durable = last;
        }
    }

    /// Forget everything after `last` (lost in a crash or cut as a torn tail).
    fn keep_up_to(&mut self, last: Lsn) {
        self.records.retain(|l, _| *l <= last);
        self.frames.retain(|f, _| *f <= last);
        self.next = last + 1;
        self.durable = self.durable.min(last);
    }

    /// The newest WAL file (a failed rotation may have left a `.tmp` file, which the
    /// next open removes).
    fn newest_file(&self) -> PathBuf {
        self.mem
            .files()
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "log"))
            .max()
            .unwrap()
    }
}

impl StateMachineTest for Sut {
    type SystemUnderTest = Sut;
    type Reference = Reference;

    fn init_test(durability: &Durability) -> Sut {
        let options = WalOptions {
            durability: *durability,
            max_file_bytes: 1500,
            ..WalOptions::default()
        };
        let mut sut = Sut {
            mem: MemFs::new(),
            faults: FaultController::new(),
            wal: None,
            options,
            records: BTreeMap::new(),
            next: 1,
            durable: 0,
            frames: BTreeMap::new(),
        };
        sut.reopen();
        sut
    }

    fn apply(mut sut: Sut, _: &Durability, step: Step) -> Sut {
        match step {
            Step::Append(p) => {
                let lsn = sut.wal().append(&p).unwrap();
                sut.acked(lsn, &[p]);
            }
            Step::AppendBatch(ps) => {
                let refs: Vec<&[u8]> = ps.iter().map(|p| &p[..]).collect();
                let r = sut.wal().append_batch(&refs).unwrap();
                assert_eq!(r.end() - r.start() + 1, ps.len() as u64);
                sut.acked(*r.start(), &ps);
            }
            Step::Flush => {
                sut.wal().flush().unwrap();
                sut.durable = sut.next - 1;
            }
            Step::TruncateBefore(back) => {
                let lsn = (sut.next - 1).saturating_sub(back);
                let before = sut.wal().stats().files;
                let removed = sut.wal().truncate_before(lsn).unwrap();
                assert_eq!(sut.wal().stats().files, before - removed);
                let first = crate::replay_all(sut.wal()).first().map(|r| r.0);
                let model_first = sut.records.first_key_value().map_or(1, |(l, _)| *l);
                if let Some(first) = first {
                    assert!(
                        first <= lsn.max(model_first),
                        "truncate_before({lsn}) removed {first}.."
                    );
                    sut.records.retain(|l, _| *l >= first);
                }
            }
            Step::Reopen => {
                let report = sut.reopen();
                assert_eq!(report.last_lsn, sut.next - 1);
                assert_eq!(report.truncated_bytes, 0);
            }
            Step::Crash(seed) => {
                let mode = seed.map_or(CrashMode::DropUnsynced, |seed| CrashMode::Random { seed });
                let image = sut.mem.crash_image(mode);
                drop(sut.wal.take());
                sut.mem = image;
                let report = sut.reopen();
                let last = report.last_lsn;
                assert!(
                    last >= sut.durable && last < sut.next,
                    "{mode:?}: recovered up to {last}, durable {}, appended {}",
                    sut.durable,
                    sut.next - 1
                );
                assert!(
                    last + 1 == sut.next || sut.frames.contains_key(&(last + 1)),
                    "{mode:?}: recovery ended inside a batch at {last}"
                );
                sut.keep_up_to(last);
            }
            Step::TornTail(tail) => {
                drop(sut.wal.take());
                let path = sut.newest_file();
                let name_lsn: Lsn = path.file_stem().unwrap().to_str().unwrap().parse().unwrap();
                let f = sut.mem.open(&path, OpenOptions::read_write()).unwrap();
                let len = f.len().unwrap();
                let (cut, lost_last) = match tail {
                    Tail::Garbage(g) => {
                        f.write_all_at(&g, len).unwrap();
                        (g.len() as u64, false)
                    }
                    Tail::Zeros(n) => {
                        f.set_len(len + n as u64).unwrap();
                        (n as u64, false)
                    }
                    Tail::Cut(k) => match sut.frames.last_key_value() {
                        Some((first, (_, flen))) if *first >= name_lsn => {
                            let k = 1 + (k as u64) % u64::from(*flen);
                            f.set_len(len - k).unwrap();
                            (u64::from(*flen) - k, true)
                        }
                        _ => (0, false),
                    },
                };
                let report = sut.reopen();
                assert_eq!(report.truncated_bytes, cut);
                if lost_last {
                    let (first, _) = sut.frames.pop_last().unwrap();
                    sut.keep_up_to(first - 1);
                }
                assert_eq!(report.last_lsn, sut.next - 1);
            }
            Step::FailNextIo {
                op,
                nth,
                error,
                persistent,
                payload,
            } => {
                sut.faults.fail_nth(op, nth, error, persistent);
                let result = sut.wal().append(&payload);
                sut.faults.disarm();
                match result {
                    Ok(lsn) => sut.acked(lsn, &[payload]),
                    Err(e) => {
                        assert!(!e.is_corrupted(), "{e}");
                        if sut.wal().stats().poisoned {
                            assert!(sut.wal().append(b"x").unwrap_err().is_poisoned());
                            let report = sut.reopen();
                            // All or nothing.
                            if report.last_lsn == sut.next {
                                let got = crate::replay_all(sut.wal());
                                assert_eq!(got.last().unwrap().1, payload);
                                sut.acked(sut.next, &[payload]);
                                sut.durable = sut.next - 1;
                            } else {
                                assert_eq!(report.last_lsn, sut.next - 1);
                            }
                        }
                        // Not poisoned: nothing of the failed append is left (checked by
                        // the invariants: the log equals the model).
                    }
                }
            }
        }
        sut
    }

    fn check_invariants(sut: &Sut, _: &Durability) {
        let wal = sut.wal();
        let got = crate::replay_all(wal);
        let expect: Vec<(Lsn, Vec<u8>)> =
            sut.records.iter().map(|(l, p)| (*l, p.clone())).collect();
        // truncate_before may have removed a prefix the model still holds (it learns the
        // first LSN when it truncates); the log is a suffix of the model.
        assert!(expect.ends_with(&got), "log differs from the model");
        assert_eq!(got.len(), expect.len(), "records missing");
        assert_eq!(wal.last_lsn(), sut.next - 1);
        assert!(wal.durable_lsn() >= sut.durable);
        assert!(wal.durable_lsn() <= wal.last_lsn());
    }
}

prop_state_machine! {
    #![proptest_config(Config {
        cases: 256 * soak() as u32,
        max_shrink_iters: 4096,
        ..Config::default()
    })]

    #[test]
    fn wal_matches_model(sequential 1..100 => Sut);
}
