//! [`HnswParams`]: build and search parameters, and the level draw.
use crate::error::{Error, Result};

/// Default `ef_search`, tuned on the out-of-distribution queries.
///
/// On the shared wordnet-minilm-50k set (M = 16, ef_construction = 200) recall@10
/// is 0.966 at ef 96 on `ood_query.fvecs` (questions against definitions) and 0.992 on
/// `query.fvecs`, walking on the f32 rows or on SQ8 codes alike; ef 64 would give only
/// 0.939–0.940 on the former. In-distribution queries reach
/// 0.95 at ef 32, so latency-sensitive callers that know their queries pass their own
/// (`docs/bench/hnsw-duel-*.csv`).
pub const DEFAULT_EF_SEARCH: usize = 96;

/// Fraction of tombstoned rows above which [`crate::hnsw::HnswIndex::needs_rebuild`] and
/// [`crate::hnsw::LiveHnsw::needs_rebuild`] say yes (see [`HnswParams::rebuild_fraction`]).
pub const DEFAULT_REBUILD_FRACTION: f64 = 0.2;

/// Largest `m0` accepted (bounds per-node buffers; the file format's limit).
pub const MAX_M0: usize = mnemodb_format::HNSW_MAX_M0 as usize;

/// Highest level a node can draw (the file format's limit). With `1/ln(M)` as multiplier
/// the chance of reaching it is `M^-64`: never in practice.
pub const MAX_LEVEL: usize = mnemodb_format::HNSW_MAX_LEVEL as usize;

/// Parameters of an HNSW graph (Malkov & Yashunin, 2016).
///
/// ```
/// use mnemodb_ann::hnsw::HnswParams;
/// let p = HnswParams::with_m(16);
/// assert_eq!((p.m, p.m0), (16, 32));
/// assert!((p.level_mult - 1.0 / 16f64.ln()).abs() < 1e-12);
/// p.validate().unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HnswParams {
    /// Links a new node makes on each level, and the degree bound on levels ≥ 1.
    pub m: usize,
    /// Degree bound on level 0 (`2 × m` by default, as in the paper).
    pub m0: usize,
    /// Candidate list size while building.
    pub ef_construction: usize,
    /// Default candidate list size while searching ([`DEFAULT_EF_SEARCH`]); a search asks
    /// for at least `k`, so `ef < k` is raised to `k`.
    pub ef_search: usize,
    /// Level multiplier `mL`: a node's level is `floor(-ln(U) × mL)`, `U` uniform in
    /// (0, 1]. `1 / ln(m)` by default.
    pub level_mult: f64,
    /// Seed of the level draw (levels are a pure function of seed and row number).
    pub seed: u64,
    /// Select neighbours with the paper's heuristic (Algorithm 4) rather than the `m`
    /// closest (Algorithm 3).
    pub heuristic: bool,
    /// Heuristic option: also consider the candidates' own neighbours.
    pub extend_candidates: bool,
    /// Heuristic option: fill the remaining slots with the closest pruned candidates.
    pub keep_pruned: bool,
    /// With `keep_pruned`: also fill when an existing node's list overflows and is
    /// re-selected (off by default: the re-selected list keeps only the heuristic's
    /// choices, as hnswlib does, so it has room for the next links without another
    /// re-selection; on, every list stays full and each new reverse link re-selects one).
    pub keep_pruned_on_overflow: bool,
    /// Tombstoned fraction above which a rebuild is advised ([`DEFAULT_REBUILD_FRACTION`]).
    pub rebuild_fraction: f64,
    /// Also store 8-bit codes of the vectors (SQ8, `dim` bytes per node, trained on the
    /// indexed rows): searches walk the graph on the codes and re-rank the `ef` candidates
    /// they end with on the exact f32 rows. Off by default: the index adds only its links
    /// to the raw vectors (within raw vectors + 1.2 × level-0 links) and walks on the f32
    /// rows with partial distances (rows of ≥ 128 dimensions: the head of each
    /// neighbour's row first, the tail only when it may qualify). On, the walk is
    /// ≈ 1.2–1.4× faster for `dim` more bytes per vector; the engine turns it on
    /// (`mnemodb::IndexKind::engine_hnsw`), as its filtered exact scans use the codes too.
    pub sq8: bool,
}

impl Default for HnswParams {
    fn default() -> Self {
        Self::with_m(16)
    }
}

impl HnswParams {
    /// Defaults with degree `m` (`m0 = 2m`, `level_mult = 1/ln(m)`, `ef_construction = 200`).
    pub fn with_m(m: usize) -> Self {
        HnswParams {
            m,
            m0: 2 * m,
            ef_construction: 200,
            ef_search: DEFAULT_EF_SEARCH,
            level_mult: 1.0 / (m.max(2) as f64).ln(),
            seed: 0x6d6e_656d_6f64_6221,
            heuristic: true,
            extend_candidates: false,
            keep_pruned: true,
            keep_pruned_on_overflow: false,
            rebuild_fraction: DEFAULT_REBUILD_FRACTION,
            sq8: false,
        }
    }

    /// Checks ranges: `2 ≤ m ≤ m0 ≤ MAX_M0`, `ef_construction ≥ 1`, `ef_search ≥ 1`,
    /// `level_mult` finite and ≥ 0, `rebuild_fraction` in (0, 1].
    pub fn validate(&self) -> Result<()> {
        let bad = |what: String| Err(Error::InvalidParams(what));
        if self.m < 2 || self.m > MAX_M0 {
            return bad(format!("m = {} outside 2..={MAX_M0}", self.m));
        }
        if self.m0 < self.m || self.m0 > MAX_M0 {
            return bad(format!("m0 = {} outside m..={MAX_M0}", self.m0));
        }
        if self.ef_construction == 0 || self.ef_construction > u32::MAX as usize {
            return bad("ef_construction must be at least 1".into());
        }
        if self.ef_search == 0 {
            return bad("ef_search must be at least 1".into());
        }
        if !(self.level_mult.is_finite() && self.level_mult >= 0.0) {
            return bad(format!(
                "level_mult = {} must be finite and ≥ 0",
                self.level_mult
            ));
        }
        if !(self.rebuild_fraction > 0.0 && self.rebuild_fraction <= 1.0) {
            return bad(format!(
                "rebuild_fraction = {} outside (0, 1]",
                self.rebuild_fraction
            ));
        }
        Ok(())
    }

    /// Degree bound of `level`.
    #[inline]
    pub(crate) fn cap(&self, level: usize) -> usize {
        if level == 0 { self.m0 } else { self.m }
    }

    /// The level of row `row`: `floor(-ln(U) × level_mult)` with `U` drawn from a
    /// SplitMix64 hash of `(seed, row)`, capped at [`MAX_LEVEL`]. Independent of insertion
    /// order and thread count.
    pub fn level_of(&self, row: u32) -> usize {
        let bits = splitmix64(self.seed ^ splitmix64(u64::from(row)));
        // 53 random bits → U in (0, 1].
        let u = ((bits >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
        let level = (-u.ln() * self.level_mult).floor();
        if level.is_finite() && level > 0.0 {
            (level as usize).min(MAX_LEVEL)
        } else {
            0
        }
    }

    /// Build flags as stored in the file header.
    pub(crate) fn flags(&self) -> u32 {
        u32::from(self.heuristic)
            | (u32::from(self.extend_candidates) << 1)
            | (u32::from(self.keep_pruned) << 2)
            | (u32::from(self.keep_pruned_on_overflow) << 3)
    }
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_distribution_is_geometric() {
        let p = HnswParams::with_m(16);
        let n = 200_000u32;
        let mut counts = [0usize; 8];
        for r in 0..n {
            let l = p.level_of(r).min(7);
            counts[l] += 1;
        }
        // P(level ≥ 1) = 1/16.
        let above = (n as usize - counts[0]) as f64 / n as f64;
        assert!((above - 1.0 / 16.0).abs() < 0.005, "{above}");
        assert_eq!(p.level_of(7), p.level_of(7));
    }

    #[test]
    fn validation() {
        assert!(HnswParams::with_m(1).validate().is_err());
        let p = HnswParams {
            m0: 8,
            ..Default::default()
        };
        assert!(p.validate().is_err());
        let p = HnswParams {
            ef_search: 0,
            ..Default::default()
        };
        assert!(p.validate().is_err());
    }
}
