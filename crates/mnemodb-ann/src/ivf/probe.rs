//! List summaries for probe ordering: a few *sub-centroids* per inverted list.
//!
//! A centroid summarises its list by one point, and a query's nearest neighbours often
//! sit in lists whose centroid ranks just outside the `nprobe` best: the list is long in
//! one direction, and the query sits at its far end. Each list also stores up to
//! `sub_centroids` k-means centres of its own rows (its rows themselves when it has no
//! more), SQ8-coded. A search scores every centroid as before, shortlists the
//! `refine × nprobe` best lists, scores the shortlisted lists' sub-centroids, and probes
//! the `nprobe` lists whose *nearest sub-centroid* is nearest the query. The lists probed
//! and the rows scanned are as many as without it; what changes is which lists.
//!
//! Measured on wordnet-minilm-50k (nlist 894, 16 sub-centroids per list, shortlist 3 ×
//! nprobe): recall@10 at nprobe 16 goes from 0.872 to 0.913, for 768 sub-centroid
//! distances per query — cheap in a batch (each shortlisted list's codes are widened once
//! for all the queries that shortlisted it), about as dear as the list scans for a single
//! query (docs/BENCHMARKS.md, IVF).
use mnemodb_distance::int8::{I8, widen};
use mnemodb_distance::{Metric, tile};
use mnemodb_segment::SegmentReader;
use rayon::prelude::*;

use super::kmeans::{self, KMeansParams, Points};
use crate::error::{Error, Result};

/// Lloyd iterations of each list's k-means (3 measured as good as 10 for probe ordering).
const SUB_ITERATIONS: usize = 3;

/// Sub-centroids of every list, int8-coded (the probe section of a `.ivf` file).
#[derive(Debug, Clone)]
pub(crate) struct ProbeSummaries {
    /// `nlist + 1` offsets: list `l` owns sub-centroids `offsets[l]..offsets[l + 1]`.
    pub(crate) offsets: Vec<u32>,
    /// Quantiser of the sub-centroids.
    pub(crate) quant: I8,
    /// `offsets[nlist] × dim` codes.
    pub(crate) codes: Vec<i8>,
}

/// Up to `per_list` sub-centroids of each list (`rows_by_list[l]` are its segment rows),
/// computed in parallel on `pool`, deterministic for a given `seed`.
pub(crate) fn summarise(
    pool: &rayon::ThreadPool,
    seg: &SegmentReader,
    rows_by_list: &[&[u32]],
    per_list: usize,
    spherical: bool,
    seed: u64,
) -> Result<ProbeSummaries> {
    let dim = seg.dim();
    let per_list_centres: Vec<Result<Vec<f32>>> = pool.install(|| {
        rows_by_list
            .par_iter()
            .enumerate()
            .map(|(l, rows)| list_centres(pool, seg, rows, per_list, spherical, seed ^ l as u64))
            .collect()
    });
    let mut offsets = Vec::with_capacity(rows_by_list.len() + 1);
    let mut centres = Vec::new();
    offsets.push(0u32);
    for c in per_list_centres {
        centres.extend_from_slice(&c?);
        let count = u32::try_from(centres.len() / dim.max(1))
            .map_err(|_| Error::InvalidParams("too many sub-centroids".into()))?;
        offsets.push(count);
    }
    // No sub-centroid at all (an empty segment): a neutral quantiser, never used.
    let quant = I8::train(&centres, dim)
        .or_else(|| I8::from_parts(vec![0.0; dim], 1.0))
        .ok_or_else(|| Error::InvalidParams("sub-centroid quantiser failed".into()))?;
    let mut codes = vec![0i8; centres.len()];
    for (c, out) in centres
        .chunks_exact(dim.max(1))
        .zip(codes.chunks_exact_mut(dim.max(1)))
    {
        quant.encode(c, out);
    }
    Ok(ProbeSummaries {
        offsets,
        quant,
        codes,
    })
}

/// The centres of one list: its rows when it has at most `per_list`, else k-means
/// (spherical for cosine segments, whose rows the segment writer normalised).
fn list_centres(
    pool: &rayon::ThreadPool,
    seg: &SegmentReader,
    rows: &[u32],
    per_list: usize,
    spherical: bool,
    seed: u64,
) -> Result<Vec<f32>> {
    let dim = seg.dim();
    let mut data = Vec::with_capacity(rows.len() * dim);
    for &r in rows {
        data.extend_from_slice(seg.row(r as usize).unwrap_or(&[]));
    }
    if rows.len() <= per_list || data.len() != rows.len() * dim {
        return Ok(data);
    }
    let params = KMeansParams {
        k: per_list,
        iterations: SUB_ITERATIONS,
        seed,
        max_points_per_centroid: usize::MAX / per_list.max(1),
        spherical,
    };
    let points = Points {
        data: &data,
        stride: dim,
        dim,
    };
    Ok(kmeans::train(pool, points, &params)?.centroids)
}

/// Scores lists by their nearest sub-centroid: the sub-centroids' int8 codes widened to
/// f32 and compared with the tile kernel to every query that shortlisted the list at once
/// (the same arithmetic for a batch of one and a batch of many).
pub(crate) struct ProbeRanker<'a> {
    pub(crate) offsets: &'a [u32],
    pub(crate) codes: &'a [i8],
    pub(crate) dim: usize,
    pub(crate) quant: &'a I8,
    pub(crate) metric: Metric,
}

impl ProbeRanker<'_> {
    /// The queries in the form [`ProbeRanker::score_list`] takes, and the metric.
    pub(crate) fn prepare(&self, queries: &[Vec<f32>]) -> (Metric, Vec<Vec<f32>>) {
        let mut metric = Metric::InnerProduct;
        let prepared = queries
            .iter()
            .map(|q| {
                let (m, wq) = self.quant.widened_query(self.metric, q);
                metric = m;
                wq
            })
            .collect();
        (metric, prepared)
    }

    /// For each of `queries` (prepared), the distance to list `l`'s nearest sub-centroid
    /// (`f32::INFINITY` for a list without one), into `out`. `wide` and `dist` are
    /// scratch buffers.
    pub(crate) fn score_list(
        &self,
        metric: Metric,
        l: u32,
        queries: &[&[f32]],
        wide: &mut Vec<f32>,
        dist: &mut Vec<f32>,
        out: &mut Vec<f32>,
    ) {
        out.clear();
        let dim = self.dim.max(1);
        let (Some(&lo), Some(&hi)) = (
            self.offsets.get(l as usize),
            self.offsets.get(l as usize + 1),
        ) else {
            out.resize(queries.len(), f32::INFINITY);
            return;
        };
        let codes = self
            .codes
            .get(lo as usize * dim..(hi as usize * dim).max(lo as usize * dim))
            .unwrap_or(&[]);
        let subs = codes.len() / dim;
        if subs == 0 {
            out.resize(queries.len(), f32::INFINITY);
            return;
        }
        wide.clear();
        widen(codes, wide);
        dist.clear();
        dist.resize(queries.len() * subs, f32::INFINITY);
        tile::distances_tile(metric, queries, wide, dim, dist);
        out.extend(
            dist.chunks_exact(subs)
                .map(|d| d.iter().copied().fold(f32::INFINITY, f32::min)),
        );
    }
}
