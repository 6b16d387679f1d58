//! Seeded synthetic vectors: Gaussian clusters, uniform noise, and queries drawn near data.
//!
//! Every generator is a pure function of its arguments: the same seed gives the same bytes
//! on every run and with any number of rayon threads. Rows are produced in fixed chunks of
//! [`CHUNK_ROWS`], each from its own ChaCha8 stream (chunk `i` uses stream `i`), so chunks
//! can be generated in parallel in any order.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::vectors::Vectors;

/// Rows generated from one random stream; fixed so output does not depend on threads.
pub const CHUNK_ROWS: usize = 256;

/// Domain separation: the same user seed gives unrelated streams per purpose.
const CENTRES: u64 = 0x6365_6e74_7265_7300; // "centres"
const SAMPLES: u64 = 0x7361_6d70_6c65_7300; // "samples"
const UNIFORM: u64 = 0x756e_6966_6f72_6d00; // "uniform"
const QUERIES: u64 = 0x7175_6572_6965_7300; // "queries"

/// Default [`Clustered::spread`]: in-cluster cosine similarity near `1 / (1 + 0.8²) ≈ 0.6`
/// after normalisation, unrelated vectors near 0, roughly as sentence embeddings
/// (all-MiniLM-L6-v2) of related and unrelated texts.
pub const DEFAULT_SPREAD: f32 = 0.8;

/// A Gaussian mixture: centres with `N(0, 1)` components, points = centre + `N(0, spread²)`
/// noise per component, optionally L2-normalised (as sentence embeddings are).
///
/// ```
/// use mnemodb_dataset::synthetic::Clustered;
///
/// let mix = Clustered::new(64, 10, 42).spread(0.5).normalize(true);
/// let base = mix.sample(1_000, 1);
/// let queries = mix.sample(20, 2); // drawn like the data, not copies of it
/// assert_eq!((base.len(), base.dim, queries.len()), (1_000, 64, 20));
/// assert_eq!(base, mix.sample(1_000, 1)); // deterministic
/// # let norm: f32 = base.row(0).iter().map(|v| v * v).sum::<f32>().sqrt();
/// # assert!((norm - 1.0).abs() < 1e-5);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Clustered {
    centres: Vectors,
    spread: f32,
    normalize: bool,
}

impl Clustered {
    /// A mixture of `clusters` centres (at least 1) in `dim` dimensions, drawn from `seed`;
    /// [`DEFAULT_SPREAD`], not normalised. `dim == 0` gives a mixture whose samples are empty.
    pub fn new(dim: usize, clusters: usize, seed: u64) -> Self {
        let clusters = clusters.max(1);
        let mut data = vec![0.0f32; clusters.saturating_mul(dim)];
        fill_chunks(&mut data, dim, seed ^ CENTRES, |rng, row| {
            let mut normal = Normal::default();
            row.iter_mut().for_each(|v| *v = normal.sample(rng) as f32);
        });
        Clustered {
            centres: Vectors { dim, data },
            spread: DEFAULT_SPREAD,
            normalize: false,
        }
    }

    /// Sets the noise standard deviation per component (negative values act as positive).
    pub fn spread(mut self, spread: f32) -> Self {
        self.spread = spread;
        self
    }

    /// Whether samples are scaled to unit length (a zero vector stays zero).
    pub fn normalize(mut self, normalize: bool) -> Self {
        self.normalize = normalize;
        self
    }

    /// The cluster centres.
    pub fn centres(&self) -> &Vectors {
        &self.centres
    }

    /// `n` points, each from a uniformly chosen cluster; deterministic in `seed`.
    pub fn sample(&self, n: usize, seed: u64) -> Vectors {
        let dim = self.centres.dim;
        let clusters = self.centres.len();
        if dim == 0 || clusters == 0 {
            return Vectors::empty(dim);
        }
        let mut data = vec![0.0f32; n.saturating_mul(dim)];
        fill_chunks(&mut data, dim, seed ^ SAMPLES, |rng, row| {
            let centre = self
                .centres
                .get(rng.random_range(0..clusters))
                .unwrap_or_default();
            let mut normal = Normal::default();
            for (v, &c) in row.iter_mut().zip(centre) {
                *v = c + self.spread * normal.sample(rng) as f32;
            }
            if self.normalize {
                normalize(row);
            }
        });
        Vectors { dim, data }
    }
}

/// `n` points of a `clusters`-centre Gaussian mixture with noise std `spread` (see
/// [`Clustered`]; not normalised). Deterministic in `seed`.
pub fn clustered(n: usize, dim: usize, clusters: usize, spread: f32, seed: u64) -> Vectors {
    Clustered::new(dim, clusters, seed)
        .spread(spread)
        .sample(n, seed)
}

/// `n` points with components uniform in `[-1, 1)`. Deterministic in `seed`.
pub fn uniform(n: usize, dim: usize, seed: u64) -> Vectors {
    let mut data = vec![0.0f32; n.saturating_mul(dim)];
    fill_chunks(&mut data, dim, seed ^ UNIFORM, |rng, row| {
        row.iter_mut()
            .for_each(|v| *v = rng.random::<f32>() * 2.0 - 1.0);
    });
    Vectors { dim, data }
}

/// `n` queries near the data: each is a uniformly chosen row of `base` plus `N(0, noise²)`
/// per component, scaled back to that row's length (so unit-length data gives unit-length
/// queries). With `noise > 0` no query is a copy of a base row. An empty `base` gives no
/// queries. Deterministic in `seed`.
pub fn queries_near(base: &Vectors, n: usize, noise: f32, seed: u64) -> Vectors {
    let (dim, rows) = (base.dim, base.len());
    if dim == 0 || rows == 0 {
        return Vectors::empty(dim);
    }
    let mut data = vec![0.0f32; n.saturating_mul(dim)];
    fill_chunks(&mut data, dim, seed ^ QUERIES, |rng, row| {
        let source = base.get(rng.random_range(0..rows)).unwrap_or_default();
        let mut normal = Normal::default();
        for (v, &s) in row.iter_mut().zip(source) {
            *v = s + noise * normal.sample(rng) as f32;
        }
        let target = norm(source);
        let actual = norm(row);
        if target > 0.0 && actual > 0.0 {
            let scale = target / actual;
            row.iter_mut().for_each(|v| *v *= scale);
        }
    });
    Vectors { dim, data }
}

/// Scales `v` to unit L2 length; a zero vector stays zero.
fn normalize(v: &mut [f32]) {
    let n = norm(v);
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}

fn norm(v: &[f32]) -> f32 {
    let sum: f64 = v.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
    sum.sqrt() as f32
}

/// Fills `data` row by row with `fill`, in parallel over chunks of [`CHUNK_ROWS`] rows;
/// chunk `i` draws from ChaCha8 stream `i` of `seed`, so the result is independent of the
/// thread count.
fn fill_chunks<F>(data: &mut [f32], dim: usize, seed: u64, fill: F)
where
    F: Fn(&mut ChaCha8Rng, &mut [f32]) + Sync,
{
    if dim == 0 {
        return;
    }
    data.par_chunks_mut(CHUNK_ROWS * dim)
        .enumerate()
        .for_each(|(chunk, rows)| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(chunk as u64);
            rows.chunks_exact_mut(dim)
                .for_each(|row| fill(&mut rng, row));
        });
}

/// Standard normal samples by the Box-Muller transform, keeping the second value of each pair.
#[derive(Debug, Default)]
struct Normal {
    spare: Option<f64>,
}

impl Normal {
    fn sample(&mut self, rng: &mut ChaCha8Rng) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        let u1 = 1.0 - rng.random::<f64>(); // (0, 1]: ln(u1) is finite
        let u2 = rng.random::<f64>();
        let r = (-2.0 * u1.ln()).sqrt();
        let (sin, cos) = (std::f64::consts::TAU * u2).sin_cos();
        self.spare = Some(r * sin);
        r * cos
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_has_unit_moments() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut normal = Normal::default();
        let n = 200_000;
        let samples: Vec<f64> = (0..n).map(|_| normal.sample(&mut rng)).collect();
        let mean = samples.iter().sum::<f64>() / n as f64;
        let var = samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.02, "variance {var}");
        assert!(samples.iter().all(|x| x.is_finite()));
    }

    #[test]
    fn uniform_is_in_range() {
        let v = uniform(1000, 8, 3);
        assert_eq!(v.len(), 1000);
        assert!(v.data.iter().all(|x| (-1.0..1.0).contains(x)));
    }

    #[test]
    fn degenerate_arguments_give_empty_sets() {
        assert!(Clustered::new(0, 5, 1).sample(10, 1).is_empty());
        assert_eq!(Clustered::new(4, 0, 1).centres().len(), 1);
        assert!(queries_near(&Vectors::empty(4), 10, 0.1, 1).is_empty());
        assert!(uniform(0, 4, 1).is_empty());
    }

    #[test]
    fn queries_keep_the_row_length() {
        let base = Clustered::new(32, 4, 9).normalize(true).sample(100, 9);
        let q = queries_near(&base, 50, 0.2, 5);
        for row in q.rows() {
            assert!((norm(row) - 1.0).abs() < 1e-5);
            assert!(base.rows().all(|b| b != row));
        }
    }
}
