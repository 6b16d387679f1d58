//! Shared helpers: scratch stores, toy vectors, a toy embedder.
#![allow(dead_code)]

use std::sync::Arc;

use mnemodb::{Database, IndexKind, Options};
use mnemodb_memory::{
    AccessTracking, EmbedError, Embedder, ManualClock, MemoryConfig, MemoryStore, Timestamp,
};

pub struct TestStore {
    pub store: MemoryStore,
    pub db: Database,
    pub clock: Arc<ManualClock>,
    pub dir: tempfile::TempDir,
}

pub fn day(n: f64) -> Timestamp {
    Timestamp::parse_rfc3339("2026-01-01T00:00:00Z")
        .unwrap()
        .plus_days(n)
}

pub fn open(dim: usize, configure: impl FnOnce(MemoryConfig) -> MemoryConfig) -> TestStore {
    let dir = mnemodb_testkit::scratch_dir();
    let db = Database::open(dir.path(), Options::default().background(false)).unwrap();
    let clock = Arc::new(ManualClock::new(day(0.0)));
    let store = MemoryStore::open(&db, configure(MemoryConfig::new(dim)))
        .unwrap()
        .with_clock(clock.clone());
    TestStore {
        store,
        db,
        clock,
        dir,
    }
}

pub fn reopen(t: TestStore, configure: impl FnOnce(MemoryConfig) -> MemoryConfig) -> TestStore {
    let TestStore {
        store,
        db,
        clock,
        dir,
    } = t;
    let dim = store.config().dim;
    drop(store);
    drop(db);
    let db = Database::open(dir.path(), Options::default().background(false)).unwrap();
    let store = MemoryStore::open(&db, configure(MemoryConfig::new(dim)))
        .unwrap()
        .with_clock(clock.clone());
    TestStore {
        store,
        db,
        clock,
        dir,
    }
}

pub fn flat(c: MemoryConfig) -> MemoryConfig {
    c.index(IndexKind::Flat)
}

pub fn untracked(c: MemoryConfig) -> MemoryConfig {
    c.access(AccessTracking::Off)
}

/// A unit vector along axis `i` of `dim`, tilted by `tilt` towards axis `i + 1`.
pub fn axis(dim: usize, i: usize, tilt: f32) -> Vec<f32> {
    let mut v = vec![0.0; dim];
    v[i % dim] = 1.0;
    v[(i + 1) % dim] += tilt;
    v
}

/// Deterministic pseudo-random unit vectors.
pub fn random_vectors(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f32 / (1u64 << 53) as f32 * 2.0 - 1.0
    };
    (0..n)
        .map(|_| {
            let mut v: Vec<f32> = (0..dim).map(|_| next()).collect();
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.iter_mut().for_each(|x| *x /= norm);
            v
        })
        .collect()
}

/// A bag-of-letters embedder (26-d): deterministic, similar texts get similar vectors.
#[derive(Debug, Default)]
pub struct LetterEmbedder {
    pub calls: std::sync::atomic::AtomicUsize,
}

impl Embedder for LetterEmbedder {
    fn dim(&self) -> usize {
        26
    }
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        texts
            .iter()
            .map(|t| {
                let mut v = vec![0.0f32; 26];
                for c in t.chars().filter(char::is_ascii_alphabetic) {
                    v[(c.to_ascii_lowercase() as u8 - b'a') as usize] += 1.0;
                }
                if v.iter().all(|x| *x == 0.0) {
                    return Err("text has no letters".into());
                }
                Ok(v)
            })
            .collect()
    }
    fn model_id(&self) -> &str {
        "test/letters"
    }
}
