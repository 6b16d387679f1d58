//! Shared set-up for the benchmarks: the dataset (`MNEMODB_DATASET` or synthetic), segment
//! files on a scratch directory, single-purpose thread pools.
//!
//! `MNEMODB_DATASET` names a directory with `base.fvecs`, `query.fvecs` and
//! `groundtruth.ivecs` (TEXMEX format), such as `../shared/datasets/wordnet-minilm-50k`.
#![allow(clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use mnemodb_dataset::{Neighbors, Vectors, read_ids, read_vectors, synthetic};
use mnemodb_distance::Metric;
use mnemodb_io::StdFs;
use mnemodb_segment::{SegmentOptions, SegmentReader, SegmentWriter};

/// Vectors to index and queries, with ground truth when the dataset ships it.
#[derive(Debug)]
pub struct Dataset {
    /// Short name for reports.
    pub name: String,
    /// Rows to index.
    pub base: Vectors,
    /// Queries.
    pub queries: Vectors,
    /// Exact neighbours of each query (row numbers of `base`), when known.
    pub truth: Option<Neighbors>,
}

/// The dataset named by `MNEMODB_DATASET`, if set.
pub fn env_dataset() -> Option<Dataset> {
    let dir = PathBuf::from(std::env::var_os("MNEMODB_DATASET")?);
    Some(load_dir(&dir, "query.fvecs", "groundtruth.ivecs"))
}

/// Load `base.fvecs` plus the named query and ground-truth files from `dir`.
pub fn load_dir(dir: &Path, queries: &str, truth: &str) -> Dataset {
    let base = read_vectors(dir.join("base.fvecs")).expect("read base.fvecs");
    let queries = read_vectors(dir.join(queries)).expect("read queries");
    let truth = read_ids(dir.join(truth)).ok();
    Dataset {
        name: dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "dataset".into()),
        base,
        queries,
        truth,
    }
}

/// `n` clustered, unit-length synthetic vectors of `dim` components and 256 queries near them.
pub fn synthetic_dataset(n: usize, dim: usize) -> Dataset {
    let base = synthetic::Clustered::new(dim, 100, 42)
        .spread(0.35)
        .normalize(true)
        .sample(n, 1);
    let queries = synthetic::queries_near(&base, 256, 0.35, 2);
    Dataset {
        name: format!("synthetic-{}k-{dim}d", n / 1000),
        base,
        queries,
        truth: None,
    }
}

/// `n` unit vectors drawn from a mixture of 1,000 clusters (spread 0.6) and 500 queries drawn
/// fresh from the same mixture (held-out data, not noisy copies of rows): the synthetic set
/// of the HNSW 1M×96 benchmark.
pub fn synthetic_mixture(n: usize, dim: usize) -> Dataset {
    let mix = synthetic::Clustered::new(dim, 1000, 42)
        .spread(0.6)
        .normalize(true);
    Dataset {
        name: format!("mixture-{}k-{dim}d", n / 1000),
        base: mix.sample(n, 1),
        queries: mix.sample(500, 2),
        truth: None,
    }
}

/// A scratch directory on tmpfs when available (benchmarks measure CPU and memory, not the disk).
pub fn scratch_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    let builder = {
        let mut b = tempfile::Builder::new();
        b.prefix("mnemodb-bench-");
        b
    };
    if shm.is_dir()
        && let Ok(d) = builder.tempdir_in(shm)
    {
        return d;
    }
    builder.tempdir().expect("create scratch dir")
}

/// Write `base` as one segment (ids = row numbers) at `dir/name` and open it mapped.
pub fn write_segment(dir: &Path, name: &str, base: &Vectors, metric: Metric) -> SegmentReader {
    let path = dir.join(name);
    let mut w = SegmentWriter::create(
        &StdFs,
        &path,
        SegmentOptions::new(base.dim as u32, metric, 1),
    )
    .expect("create segment");
    for (i, row) in base.rows().enumerate() {
        w.push(i as u64, row).expect("push row");
    }
    w.finish().expect("finish segment");
    SegmentReader::open(&StdFs, &path).expect("open segment")
}

/// A rayon pool of `threads` threads named for the profiler.
pub fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(move |i| format!("bench-{threads}t-{i}"))
        .build()
        .expect("build pool")
}

/// A plain sequential read of `data` (sums every float), the memory-bandwidth yardstick the
/// scan is compared with. Eight independent accumulators let the compiler vectorise it.
pub fn sequential_read(data: &[f32]) -> f32 {
    let mut acc = [0.0f32; 16];
    let chunks = data.chunks_exact(16);
    let tail: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += v;
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// The CPU model and thread count, for the header of a benchmark report.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    format!(
        "{cpu}, {} threads",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    )
}

/// Time this thread has spent on a CPU (`CLOCK_THREAD_CPUTIME_ID`): latency without the
/// waits for a core that a loaded machine adds.
pub fn on_cpu() -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid, writable timespec; the clock id is a constant Linux knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}
