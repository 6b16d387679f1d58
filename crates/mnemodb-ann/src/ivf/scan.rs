//! Scanning the probed lists of a batch of queries **list by list**: every list probed by
//! any query of the batch is read once, for all the queries that probe it (f32 lists with
//! the many-queries tile kernel, [`mnemodb_distance::tile::distances_tile`]; SQ8 lists code
//! by code while the list is hot in cache). A single query is a batch of one.
//!
//! Results do not depend on the order lists are visited: every top-k is ordered by
//! (distance, id), and the tile kernel gives each query the bits the one-query kernel
//! gives ([`mnemodb_distance::batch::distances_strided`]), so a batch returns exactly what
//! each query alone returns.
use mnemodb_distance::half::F16Query;
use mnemodb_distance::quantized::Sq8Query;
use mnemodb_distance::{Backend, Metric, distance_fn_with, tile};
use mnemodb_segment::SegmentReader;

use super::index::{CodeType, IvfIndex, IvfSearchParams, Sections};
use super::probe::ProbeRanker;
use crate::{Hit, TopK};

/// The codes of a quantised index and the approximate distance of query `qi` to a code.
struct CodeScan<'a, T, D> {
    codes: &'a [T],
    distance: D,
}

/// Queries per centroid-scoring tile (the tile kernel's distances of up to this many
/// queries to every centroid are held at once).
const CENTROID_TILE: usize = 16;

impl IvfIndex {
    /// Top-`k` of every prepared query (validated by the caller), in query order.
    pub(crate) fn search_lists(
        &self,
        seg: &SegmentReader,
        queries: &[Vec<f32>],
        k: usize,
        params: &IvfSearchParams<'_>,
    ) -> Vec<Vec<Hit>> {
        let s = self.sections();
        let probes = self.probes(&s, queries, params.nprobe, params.refine);
        match (&self.sq8, self.codes) {
            (Some(sq8), CodeType::Sq8) => {
                let prepared: Vec<Sq8Query> =
                    queries.iter().map(|q| sq8.query(self.metric, q)).collect();
                let scan = CodeScan {
                    codes: s.codes_u8,
                    distance: |qi: usize, code: &[u8]| {
                        prepared.get(qi).map_or(f32::INFINITY, |p| p.distance(code))
                    },
                };
                self.scan_codes(seg, &s, &probes, queries, &scan, k, params)
            }
            (_, CodeType::F16) => {
                let prepared: Vec<F16Query> = queries
                    .iter()
                    .map(|q| F16Query::new(self.metric, q))
                    .collect();
                let scan = CodeScan {
                    codes: s.codes_f16,
                    distance: |qi: usize, code: &[u16]| {
                        prepared.get(qi).map_or(f32::INFINITY, |p| p.distance(code))
                    },
                };
                self.scan_codes(seg, &s, &probes, queries, &scan, k, params)
            }
            _ => self.scan_f32(seg, &s, &probes, queries, k, params),
        }
    }

    /// The lists each query probes, as (list, query) pairs sorted by list: the `nprobe`
    /// nearest centroids, or with `refine > 0` and sub-centroids, the `nprobe` lists of the
    /// `refine × nprobe` nearest centroids whose nearest sub-centroid is nearest (by the
    /// search's own measure: a list's best row by inner product is not its best by L2).
    /// Both steps run over the batch: centroids with the tile kernel, sub-centroids list
    /// by list (each shortlisted list's codes read once for every query shortlisting it).
    fn probes(
        &self,
        s: &Sections<'_>,
        queries: &[Vec<f32>],
        nprobe: usize,
        refine: usize,
    ) -> Vec<(u32, u32)> {
        let nlist = self.nlist();
        let nprobe = nprobe.min(nlist);
        let refined = self
            .probe_quant
            .as_ref()
            .filter(|_| refine > 0 && nprobe < nlist);
        let shortlist_len = match refined {
            Some(_) => nprobe.saturating_mul(refine).min(nlist),
            None => nprobe,
        };
        // Lists are assigned by dot product of unit vectors for cosine, L2 otherwise.
        let centroid_metric = if self.metric == Metric::Cosine {
            Metric::InnerProduct
        } else {
            Metric::L2
        };
        let cmp = |a: &(f32, u32), b: &(f32, u32)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
        let mut shortlists: Vec<Vec<(f32, u32)>> = Vec::with_capacity(queries.len());
        let mut dist = vec![f32::INFINITY; CENTROID_TILE.min(queries.len()) * nlist];
        for chunk in queries.chunks(CENTROID_TILE) {
            let refs: Vec<&[f32]> = chunk.iter().map(Vec::as_slice).collect();
            let dist = dist.get_mut(..refs.len() * nlist).unwrap_or(&mut []);
            tile::distances_tile(centroid_metric, &refs, s.centroids, self.dim(), dist);
            for row in dist.chunks_exact(nlist.max(1)) {
                let mut order: Vec<(f32, u32)> = row.iter().copied().zip(0u32..).collect();
                if shortlist_len < order.len() {
                    order.select_nth_unstable_by(shortlist_len, cmp);
                    order.truncate(shortlist_len);
                }
                shortlists.push(order);
            }
        }
        if let Some(quant) = refined {
            // Re-score every shortlisted list by its nearest sub-centroid, list by list.
            let ranker = ProbeRanker {
                offsets: s.sub_offsets,
                codes: s.sub_codes,
                dim: self.dim(),
                quant,
                metric: self.metric,
            };
            let (metric, prepared) = ranker.prepare(queries);
            let mut by_list: Vec<(u32, u32, u32)> = shortlists
                .iter()
                .enumerate()
                .flat_map(|(qi, sl)| {
                    sl.iter()
                        .enumerate()
                        .map(move |(pos, &(_, l))| (l, qi as u32, pos as u32))
                })
                .collect();
            by_list.sort_unstable();
            let (mut wide, mut dist, mut best) = (Vec::new(), Vec::new(), Vec::new());
            let mut group_queries: Vec<&[f32]> = Vec::new();
            for group in by_list.chunk_by(|a, b| a.0 == b.0) {
                let Some(&(l, _, _)) = group.first() else {
                    continue;
                };
                group_queries.clear();
                group_queries.extend(
                    group
                        .iter()
                        .filter_map(|&(_, qi, _)| prepared.get(qi as usize).map(Vec::as_slice)),
                );
                ranker.score_list(metric, l, &group_queries, &mut wide, &mut dist, &mut best);
                for (&(_, qi, pos), &d) in group.iter().zip(&best) {
                    if let Some(entry) = shortlists
                        .get_mut(qi as usize)
                        .and_then(|sl| sl.get_mut(pos as usize))
                    {
                        entry.0 = d;
                    }
                }
            }
            for sl in &mut shortlists {
                if nprobe < sl.len() {
                    sl.select_nth_unstable_by(nprobe, cmp);
                    sl.truncate(nprobe);
                }
            }
        }
        let mut probes: Vec<(u32, u32)> = shortlists
            .iter()
            .enumerate()
            .flat_map(|(qi, sl)| sl.iter().map(move |&(_, l)| (l, qi as u32)))
            .collect();
        probes.sort_unstable();
        probes
    }

    /// The rows and the `dim`-wide code bytes of list `l`.
    fn list_slices<'s, T>(&self, s: &Sections<'s>, l: u32, codes: &'s [T]) -> (&'s [u32], &'s [T]) {
        let dim = self.dim();
        let lo = s.offsets.get(l as usize).copied().unwrap_or(0) as usize;
        let hi = s.offsets.get(l as usize + 1).copied().unwrap_or(0) as usize;
        let lo = lo.min(hi);
        let rows = s.rows.get(lo..hi).unwrap_or(&[]);
        let codes = codes.get(lo * dim..hi * dim).unwrap_or(&[]);
        if codes.len() == rows.len() * dim {
            (rows, codes)
        } else {
            (&[], &[])
        }
    }

    fn scan_f32(
        &self,
        seg: &SegmentReader,
        s: &Sections<'_>,
        probes: &[(u32, u32)],
        queries: &[Vec<f32>],
        k: usize,
        params: &IvfSearchParams<'_>,
    ) -> Vec<Vec<Hit>> {
        let ids = seg.ids();
        let dim = self.dim();
        let mut tops: Vec<TopK> = queries.iter().map(|_| TopK::new(k)).collect();
        let mut dist: Vec<f32> = Vec::new();
        let mut group_queries: Vec<&[f32]> = Vec::new();
        for group in probes.chunk_by(|a, b| a.0 == b.0) {
            let Some(&(l, _)) = group.first() else {
                continue;
            };
            let (rows, codes) = self.list_slices(s, l, s.codes_f32);
            if rows.is_empty() {
                continue;
            }
            group_queries.clear();
            group_queries.extend(
                group
                    .iter()
                    .filter_map(|&(_, qi)| queries.get(qi as usize).map(Vec::as_slice)),
            );
            dist.clear();
            dist.resize(group_queries.len() * rows.len(), f32::INFINITY);
            tile::distances_tile(self.metric, &group_queries, codes, dim, &mut dist);
            for (&(_, qi), row_dist) in group.iter().zip(dist.chunks_exact(rows.len())) {
                let Some(top) = tops.get_mut(qi as usize) else {
                    continue;
                };
                for (&row, &d) in rows.iter().zip(row_dist) {
                    if d <= top.threshold()
                        && params.allow.is_none_or(|a| a.contains(row))
                        && let Some(&id) = ids.get(row as usize)
                    {
                        top.push(id, d);
                    }
                }
            }
        }
        tops.into_iter().map(TopK::into_sorted_vec).collect()
    }

    /// Approximate distances on quantised codes (SQ8 or f16), candidates re-ranked on the
    /// segment's f32 rows (`params.rerank`).
    #[allow(clippy::too_many_arguments)]
    fn scan_codes<T, D: Fn(usize, &[T]) -> f32>(
        &self,
        seg: &SegmentReader,
        s: &Sections<'_>,
        probes: &[(u32, u32)],
        queries: &[Vec<f32>],
        scan: &CodeScan<'_, T, D>,
        k: usize,
        params: &IvfSearchParams<'_>,
    ) -> Vec<Vec<Hit>> {
        let rerank = params.rerank;
        let cand_k = if rerank == 0 {
            k
        } else {
            k.saturating_mul(rerank)
        };
        // Candidates keyed by row (ties by lower row); re-ranked below.
        let mut cands: Vec<TopK> = queries.iter().map(|_| TopK::new(cand_k)).collect();
        for group in probes.chunk_by(|a, b| a.0 == b.0) {
            let Some(&(l, _)) = group.first() else {
                continue;
            };
            let (rows, codes) = self.list_slices(s, l, scan.codes);
            for &(_, qi) in group {
                let Some(cand) = cands.get_mut(qi as usize) else {
                    continue;
                };
                for (&row, code) in rows.iter().zip(codes.chunks_exact(self.dim().max(1))) {
                    let d = (scan.distance)(qi as usize, code);
                    if d <= cand.threshold() && params.allow.is_none_or(|a| a.contains(row)) {
                        cand.push(u64::from(row), d);
                    }
                }
            }
        }
        let ids = seg.ids();
        let exact = distance_fn_with(Backend::Tile, self.metric);
        cands
            .into_iter()
            .zip(queries)
            .map(|(cand, q)| {
                let mut top = TopK::new(k);
                for h in cand.into_sorted_vec() {
                    let row = h.id as usize;
                    let Some(&id) = ids.get(row) else { continue };
                    let d = if rerank == 0 {
                        h.distance
                    } else {
                        match seg.row(row) {
                            Some(v) => exact(q, v),
                            None => continue,
                        }
                    };
                    top.push(id, d);
                }
                top.into_sorted_vec()
            })
            .collect()
    }
}
