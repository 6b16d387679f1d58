//! Scanning the probed lists of a batch of queries **list by list**: every list probed by
//! any query of the batch is read once, for all the queries that probe it (f32 lists with
//! the many-queries tile kernel, [`mnemodb_distance::tile::distances_tile`]; SQ8 lists code
//! by code while the list is hot in cache). A single query is a batch of one.
//!
//! Results do not depend on the order lists are visited: every top-k is ordered by
//! (distance, id), and the tile kernel gives each query the bits the one-query kernel
//! gives ([`mnemodb_distance::batch::distances_strided`]), so a batch returns exactly what
//! each query alone returns.
use mnemodb_distance::quantized::Sq8Query;
use mnemodb_distance::{Backend, distance_fn_with, tile};
use mnemodb_segment::SegmentReader;

use super::index::{CodeType, IvfIndex, IvfSearchParams, Sections};
use crate::{Hit, TopK};

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
        // (list, query) pairs, grouped by list.
        let mut probes: Vec<(u32, u32)> = Vec::new();
        for (qi, q) in queries.iter().enumerate() {
            let lists = self.probe_order(&s, q, params.nprobe, params.refine);
            probes.extend(lists.into_iter().map(|l| (l, qi as u32)));
        }
        probes.sort_unstable();
        match (&self.sq8, self.codes) {
            (Some(sq8), CodeType::Sq8) => {
                let prepared: Vec<Sq8Query> =
                    queries.iter().map(|q| sq8.query(self.metric, q)).collect();
                self.scan_sq8(seg, &s, &probes, queries, &prepared, k, params)
            }
            _ => self.scan_f32(seg, &s, &probes, queries, k, params),
        }
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

    #[allow(clippy::too_many_arguments)]
    fn scan_sq8(
        &self,
        seg: &SegmentReader,
        s: &Sections<'_>,
        probes: &[(u32, u32)],
        queries: &[Vec<f32>],
        prepared: &[Sq8Query],
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
            let (rows, codes) = self.list_slices(s, l, s.codes_u8);
            for &(_, qi) in group {
                let (Some(cand), Some(pq)) =
                    (cands.get_mut(qi as usize), prepared.get(qi as usize))
                else {
                    continue;
                };
                for (&row, code) in rows.iter().zip(codes.chunks_exact(self.dim().max(1))) {
                    let d = pq.distance(code);
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
