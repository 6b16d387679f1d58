//! Generators: deterministic per seed, independent of the thread count, shaped as documented.

use mnemodb_dataset::Vectors;
use mnemodb_dataset::synthetic::{CHUNK_ROWS, Clustered, clustered, queries_near, uniform};

fn bits(v: &Vectors) -> Vec<u32> {
    v.data.iter().map(|x| x.to_bits()).collect()
}

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

/// All generators at a size spanning several chunks, with a partial last chunk.
fn everything(seed: u64) -> Vec<Vectors> {
    let n = CHUNK_ROWS * 3 + 17;
    let mix = Clustered::new(24, 7, seed).spread(0.3).normalize(true);
    let base = mix.sample(n, seed + 1);
    let near = queries_near(&base, n, 0.1, seed + 2);
    vec![
        clustered(n, 24, 7, 0.5, seed),
        uniform(n, 24, seed),
        mix.centres().clone(),
        base,
        near,
    ]
}

#[test]
fn same_seed_gives_identical_bytes() {
    let a: Vec<Vec<u32>> = everything(11).iter().map(bits).collect();
    let b: Vec<Vec<u32>> = everything(11).iter().map(bits).collect();
    assert_eq!(a, b);
    let c: Vec<Vec<u32>> = everything(12).iter().map(bits).collect();
    for (x, y) in a.iter().zip(&c) {
        assert_ne!(x, y, "different seeds gave the same data");
    }
}

#[test]
fn thread_count_does_not_change_output() {
    let one: Vec<Vec<u32>> = in_pool(1, || everything(5).iter().map(bits).collect());
    let three: Vec<Vec<u32>> = in_pool(3, || everything(5).iter().map(bits).collect());
    assert_eq!(one, three);
}

#[test]
fn chunks_are_not_repeats_of_each_other() {
    let v = uniform(CHUNK_ROWS * 2, 4, 1);
    assert_ne!(v.row(0), v.row(CHUNK_ROWS));
    let c = clustered(CHUNK_ROWS * 2, 4, 3, 0.5, 1);
    assert_ne!(c.row(0), c.row(CHUNK_ROWS));
}

#[test]
fn clusters_have_the_requested_spread() {
    // One cluster: per-component variance of the samples around the centre is spread².
    let mix = Clustered::new(16, 1, 3).spread(0.5);
    let v = mix.sample(4_000, 4);
    let centre = mix.centres().row(0);
    let mut sum_sq = 0.0f64;
    for row in v.rows() {
        for (x, c) in row.iter().zip(centre) {
            sum_sq += f64::from(x - c).powi(2);
        }
    }
    let variance = sum_sq / v.data.len() as f64;
    assert!((variance - 0.25).abs() < 0.01, "variance {variance}");
}

#[test]
fn points_are_nearer_their_own_cluster() {
    // Well-separated clusters: every point's nearest centre is its own, so most nearest
    // neighbours share a centre; with heavy noise this is no longer so.
    let mix = Clustered::new(32, 4, 8).spread(0.2);
    let v = mix.sample(400, 9);
    let nearest_centre = |row: &[f32]| {
        (0..4)
            .min_by(|&a, &b| {
                let d = |c: usize| -> f32 {
                    row.iter()
                        .zip(mix.centres().row(c))
                        .map(|(x, y)| (x - y) * (x - y))
                        .sum()
                };
                d(a).total_cmp(&d(b))
            })
            .unwrap()
    };
    let counts = v.rows().fold([0usize; 4], |mut acc, row| {
        acc[nearest_centre(row)] += 1;
        acc
    });
    assert!(counts.iter().all(|&c| c > 50), "cluster sizes {counts:?}");
}

#[test]
fn normalized_samples_are_unit_length() {
    let v = Clustered::new(48, 5, 1).normalize(true).sample(300, 2);
    for row in v.rows() {
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "norm {norm}");
    }
}

#[test]
fn queries_are_near_but_not_copies() {
    let base = Clustered::new(32, 10, 2).normalize(true).sample(2_000, 3);
    let queries = queries_near(&base, 100, 0.05, 4);
    assert_eq!((queries.len(), queries.dim), (100, 32));
    for q in queries.rows() {
        let best = base
            .rows()
            .map(|b| q.iter().zip(b).map(|(x, y)| x * y).sum::<f32>())
            .fold(f32::MIN, f32::max);
        assert!(best > 0.9 && best < 1.0 - 1e-6, "best cosine {best}");
    }
}
