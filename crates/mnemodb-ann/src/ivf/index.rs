//! [`IvfIndex`]: centroids, inverted lists stored contiguously (row numbers + codes,
//! grouped by list), build, search and balance statistics. The index is always one file
//! image ([`ReadOnlyBytes`]): built in memory, or mapped from a `.ivf` file and used in
//! place; both go through the same validating decoder.
use std::path::{Path, PathBuf};

use mnemodb_distance::int8::I8;
use mnemodb_distance::quantized::Sq8;
use mnemodb_distance::{Metric, validate_vector};
use mnemodb_format::{IVF_DTYPE_F16, IVF_DTYPE_F32, IVF_DTYPE_SQ8, IvfHeader, IvfLayout};
use mnemodb_io::ReadOnlyBytes;
use mnemodb_segment::SegmentReader;
use rayon::prelude::*;
use roaring::RoaringBitmap;

use super::kmeans::{self, KMeansParams, Points};
use super::{file, probe};
use crate::Hit;
use crate::error::{Error, Result};

/// How list entries store their vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CodeType {
    /// Full f32 copies of the rows (IVF-Flat): `4 × dim` bytes per vector.
    F32,
    /// 8-bit scalar quantisation with per-dimension min/max ([`Sq8`]): `dim` bytes per
    /// vector; the best candidates are re-ranked with the segment's f32 rows.
    Sq8,
    /// Half-precision copies of the rows ([`mnemodb_distance::half`], simsimd's f16
    /// kernels with the query rounded to f16): `2 × dim` bytes per vector; the best
    /// candidates are re-ranked with the segment's f32 rows. Rows beyond ±65,504 are
    /// refused at build.
    F16,
}

impl CodeType {
    pub(crate) fn to_u32(self) -> u32 {
        match self {
            CodeType::F32 => IVF_DTYPE_F32,
            CodeType::Sq8 => IVF_DTYPE_SQ8,
            CodeType::F16 => IVF_DTYPE_F16,
        }
    }
    pub(crate) fn from_u32(raw: u32) -> Option<Self> {
        match raw {
            IVF_DTYPE_F32 => Some(CodeType::F32),
            IVF_DTYPE_SQ8 => Some(CodeType::Sq8),
            IVF_DTYPE_F16 => Some(CodeType::F16),
            _ => None,
        }
    }
}

/// Build parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IvfParams {
    /// Inverted lists wanted; clamped to `1..=rows` (an index over fewer rows than
    /// `nlist` gets one list per row; an empty segment gets one empty list).
    pub nlist: usize,
    /// Code type of the lists.
    pub codes: CodeType,
    /// Lloyd iterations.
    pub iterations: usize,
    /// k-means seed.
    pub seed: u64,
    /// k-means trains on at most this many points per list (see [`kmeans`]).
    pub max_points_per_centroid: usize,
    /// Sub-centroids stored per list to order the probes ([`IvfSearchParams::refine`];
    /// see [`super::probe`]); 0 stores none.
    pub sub_centroids: usize,
}

impl IvfParams {
    /// `nlist` lists of `codes`, 10 iterations, seed 0x5eed, 48 training points per list,
    /// [`Self::DEFAULT_SUB_CENTROIDS`] sub-centroids per list.
    pub fn new(nlist: usize, codes: CodeType) -> Self {
        let k = KMeansParams::new(nlist);
        IvfParams {
            nlist,
            codes,
            iterations: k.iterations,
            seed: k.seed,
            max_points_per_centroid: k.max_points_per_centroid,
            sub_centroids: Self::DEFAULT_SUB_CENTROIDS,
        }
    }

    /// Default sub-centroids per list: at nlist ≈ 4√N about a quarter of a list's rows,
    /// `N × dim / 14` bytes of codes (≈ 7 % of IVF-Flat's lists).
    pub const DEFAULT_SUB_CENTROIDS: usize = 16;

    /// The usual `nlist ≈ 4 √rows` (at least 1).
    pub fn default_nlist(rows: usize) -> usize {
        ((4.0 * (rows as f64).sqrt()).round() as usize).max(1)
    }
}

/// Search parameters.
#[derive(Debug, Clone, Copy)]
pub struct IvfSearchParams<'a> {
    /// Lists probed (nearest centroids first); clamped to `nlist`; must be ≥ 1.
    pub nprobe: usize,
    /// SQ8 only: re-rank the best `k × rerank` candidates with the segment's f32 rows;
    /// 0 returns the approximate SQ8 distances. Ignored for f32 lists.
    pub rerank: usize,
    /// Allow-list of segment row numbers (like [`crate::flat::Target::allow`]).
    pub allow: Option<&'a RoaringBitmap>,
    /// Probe ordering: shortlist the `refine × nprobe` lists with the nearest centroids,
    /// then probe the `nprobe` of them with the nearest sub-centroid ([`super::probe`]).
    /// 0 (or an index without sub-centroids) probes the `nprobe` nearest centroids.
    pub refine: usize,
}

impl IvfSearchParams<'_> {
    /// `nprobe` lists, re-rank factor 4, refine factor 3, no filter.
    pub fn new(nprobe: usize) -> Self {
        IvfSearchParams {
            nprobe,
            rerank: 4,
            allow: None,
            refine: 3,
        }
    }
}

/// List size statistics and the retraining rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Balance {
    /// Lists.
    pub nlist: usize,
    /// Rows.
    pub rows: usize,
    /// Largest list.
    pub max_list: usize,
    /// Empty lists.
    pub empty_lists: usize,
    /// `nlist × Σ size² / rows²` (faiss's imbalance factor): 1 when lists are equal; the
    /// expected rows scanned per probe are `mean × imbalance`.
    pub imbalance: f64,
}

impl Balance {
    /// Retrain above this imbalance factor.
    pub const MAX_IMBALANCE: f64 = 3.0;
    /// Retrain when the largest list exceeds this multiple of the mean list.
    pub const MAX_LIST_OVER_MEAN: f64 = 20.0;

    /// Largest list over the mean list.
    pub fn max_over_mean(&self) -> f64 {
        if self.rows == 0 {
            return 0.0;
        }
        self.max_list as f64 * self.nlist as f64 / self.rows as f64
    }

    /// The retraining heuristic: lists have skewed enough (vectors added after training
    /// crowd a few lists) that a probe scans ≥ 3× the rows of balanced lists on average
    /// (`imbalance > 3`), or one list is > 20× the mean (a hot spot every nearby query
    /// pays for). k-means on the same data gives 1.1–1.6 on real embeddings, so the rule
    /// fires only on real drift.
    pub fn needs_retrain(&self) -> bool {
        self.rows > 0
            && (self.imbalance > Self::MAX_IMBALANCE
                || self.max_over_mean() > Self::MAX_LIST_OVER_MEAN)
    }
}

/// A trained coarse quantiser (centroids) and code quantiser, reusable for any segment of
/// the same dimension and metric: [`IvfTrained::build`] assigns every row to its nearest
/// centroid.
#[derive(Debug, Clone)]
pub struct IvfTrained {
    pub(crate) metric: Metric,
    pub(crate) dim: usize,
    pub(crate) centroids: Vec<f32>,
    pub(crate) spherical: bool,
    pub(crate) codes: CodeType,
    pub(crate) sq8: Option<Sq8>,
    pub(crate) iterations: u32,
    pub(crate) seed: u64,
    pub(crate) sub_centroids: usize,
    /// Objective per k-means iteration.
    pub objective: Vec<f64>,
}

fn seg_points(seg: &SegmentReader) -> Points<'_> {
    Points {
        data: seg.rows(),
        stride: seg.stride().max(1),
        dim: seg.dim(),
    }
}

impl IvfTrained {
    /// Train on the rows of `seg` on `pool`: k-means (spherical for cosine) and, for SQ8,
    /// per-dimension min/max over every row.
    pub fn train(
        pool: &rayon::ThreadPool,
        seg: &SegmentReader,
        params: &IvfParams,
    ) -> Result<Self> {
        if params.nlist == 0 {
            return Err(Error::InvalidParams("nlist must be at least 1".into()));
        }
        let metric = seg.metric();
        let dim = seg.dim();
        let points = seg_points(seg);
        let km_params = KMeansParams {
            k: params.nlist,
            iterations: params.iterations,
            seed: params.seed,
            max_points_per_centroid: params.max_points_per_centroid,
            spherical: metric == Metric::Cosine,
        };
        let (centroids, objective, spherical) = if points.is_empty() {
            (vec![0.0; dim], Vec::new(), km_params.spherical)
        } else {
            let km = kmeans::train(pool, points, &km_params)?;
            (km.centroids, km.objective, km.spherical)
        };
        let sq8 = match params.codes {
            CodeType::F32 | CodeType::F16 => None,
            CodeType::Sq8 => {
                // An empty segment: a zero range, never used.
                Some(
                    Sq8::train_strided(points.data, dim, points.stride)
                        .or_else(|| Sq8::from_parts(vec![0.0; dim], vec![0.0; dim]))
                        .ok_or_else(|| {
                            Error::InvalidParams("SQ8 training failed (non-finite rows)".into())
                        })?,
                )
            }
        };
        Ok(IvfTrained {
            metric,
            dim,
            centroids,
            spherical,
            codes: params.codes,
            sq8,
            iterations: params.iterations.min(u32::MAX as usize) as u32,
            seed: params.seed,
            sub_centroids: params.sub_centroids,
            objective,
        })
    }

    /// Number of lists.
    pub fn nlist(&self) -> usize {
        self.centroids.len() / self.dim.max(1)
    }

    /// Centroids, `nlist × dim` f32.
    pub fn centroids(&self) -> &[f32] {
        &self.centroids
    }

    /// Nearest list of every row of `seg`.
    pub fn assign(&self, pool: &rayon::ThreadPool, seg: &SegmentReader) -> Vec<u32> {
        kmeans::assign(
            pool,
            seg_points(seg),
            &self.centroids,
            self.dim,
            self.spherical,
        )
        .into_iter()
        .map(|(l, _)| l)
        .collect()
    }

    /// Index every row of `seg` (same dimension and metric): each row goes to its nearest
    /// centroid's list; lists are stored contiguously with their codes.
    pub fn build(&self, pool: &rayon::ThreadPool, seg: &SegmentReader) -> Result<IvfIndex> {
        if seg.dim() != self.dim || seg.metric() != self.metric {
            return Err(Error::SegmentMismatch(format!(
                "trained for {}-d {}, segment {} is {}-d {}",
                self.dim,
                self.metric,
                seg.path().display(),
                seg.dim(),
                seg.metric()
            )));
        }
        let labels = self.assign(pool, seg);
        let lists = file::ListGrouping::of(&labels, self.nlist());
        let summaries = if self.sub_centroids > 0 {
            let rows_by_list: Vec<&[u32]> = (0..self.nlist()).map(|l| lists.rows_of(l)).collect();
            Some(probe::summarise(
                pool,
                seg,
                &rows_by_list,
                self.sub_centroids,
                self.spherical,
                self.seed,
            )?)
        } else {
            None
        };
        let image = file::encode(self, seg, &lists, summaries.as_ref())?;
        let path = PathBuf::from("<memory>");
        IvfIndex::from_bytes(ReadOnlyBytes::copy_from_slice(&image), &path, seg)
    }
}

/// An IVF index over one segment (see the module docs).
#[derive(Debug)]
pub struct IvfIndex {
    pub(crate) bytes: ReadOnlyBytes,
    pub(crate) header: IvfHeader,
    pub(crate) layout: IvfLayout,
    pub(crate) metric: Metric,
    pub(crate) codes: CodeType,
    pub(crate) sq8: Option<Sq8>,
    /// Quantiser of the sub-centroids (files with a probe section).
    pub(crate) probe_quant: Option<I8>,
    pub(crate) path: PathBuf,
}

/// Borrowed sections of the image.
pub(crate) struct Sections<'a> {
    pub(crate) centroids: &'a [f32],
    pub(crate) offsets: &'a [u64],
    pub(crate) rows: &'a [u32],
    pub(crate) codes_f32: &'a [f32],
    pub(crate) codes_u8: &'a [u8],
    pub(crate) codes_f16: &'a [u16],
    /// Probe section: sub-centroid offsets and codes (empty without one).
    pub(crate) sub_offsets: &'a [u32],
    pub(crate) sub_codes: &'a [i8],
}

impl IvfIndex {
    /// Train on `seg` and index it: [`IvfTrained::train`] then [`IvfTrained::build`].
    pub fn build(
        pool: &rayon::ThreadPool,
        seg: &SegmentReader,
        params: &IvfParams,
    ) -> Result<Self> {
        IvfTrained::train(pool, seg, params)?.build(pool, seg)
    }

    /// Decode an image (validated: header, layout, padding, list offsets monotone from 0
    /// to the row count, row numbers `< rows`, SQ8 parameters) and bind it to `seg`
    /// (generation, content CRC, dimension, metric and row count must match).
    pub fn from_bytes(bytes: ReadOnlyBytes, path: &Path, seg: &SegmentReader) -> Result<Self> {
        file::decode(bytes, path, seg)
    }

    pub(crate) fn sections(&self) -> Sections<'_> {
        let get = |(off, len): (u64, u64)| -> &[u8] {
            let (Ok(off), Ok(len)) = (usize::try_from(off), usize::try_from(len)) else {
                return &[];
            };
            self.bytes.get(off..off.saturating_add(len)).unwrap_or(&[])
        };
        let [c, o, r, _q, k] = self.layout.sections();
        let (sub_offsets, sub_codes) = match self.layout.probe_section() {
            Some((off, _)) => {
                let p = file::probe_layout(&self.layout);
                (
                    bytemuck::try_cast_slice(get((off, p.sub_offsets_len))).unwrap_or(&[]),
                    bytemuck::cast_slice(get((off + p.codes_offset, p.len - p.codes_offset))),
                )
            }
            None => (&[][..], &[][..]),
        };
        Sections {
            sub_offsets,
            sub_codes,
            centroids: bytemuck::try_cast_slice(get(c)).unwrap_or(&[]),
            offsets: bytemuck::try_cast_slice(get(o)).unwrap_or(&[]),
            rows: bytemuck::try_cast_slice(get(r)).unwrap_or(&[]),
            codes_f32: if self.codes == CodeType::F32 {
                bytemuck::try_cast_slice(get(k)).unwrap_or(&[])
            } else {
                &[]
            },
            codes_u8: if self.codes == CodeType::Sq8 {
                get(k)
            } else {
                &[]
            },
            codes_f16: if self.codes == CodeType::F16 {
                bytemuck::try_cast_slice(get(k)).unwrap_or(&[])
            } else {
                &[]
            },
        }
    }

    /// Metric.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// Dimension.
    pub fn dim(&self) -> usize {
        self.layout.dim as usize
    }

    /// Number of lists.
    pub fn nlist(&self) -> usize {
        self.layout.nlist as usize
    }

    /// Rows indexed.
    pub fn len(&self) -> usize {
        self.layout.row_count as usize
    }

    /// Whether no row is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Code type.
    pub fn code_type(&self) -> CodeType {
        self.codes
    }

    /// The header (for manifests and `verify` tools).
    pub fn header(&self) -> &IvfHeader {
        &self.header
    }

    /// Path of the file (or `<memory>`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the image is a memory map of the file.
    pub fn is_mapped(&self) -> bool {
        self.bytes.is_mapped()
    }

    /// Size of the whole image in bytes.
    pub fn file_len(&self) -> u64 {
        self.layout.file_len
    }

    /// Bytes per indexed vector in the lists (code + 4-byte row number), not counting
    /// centroids or the segment's own f32 rows.
    pub fn bytes_per_vector(&self) -> usize {
        self.layout.code_size as usize + 4
    }

    /// Sizes of the lists.
    pub fn list_sizes(&self) -> Vec<usize> {
        self.sections()
            .offsets
            .windows(2)
            .map(|w| match w {
                [a, b] => b.saturating_sub(*a) as usize,
                _ => 0,
            })
            .collect()
    }

    /// Sub-centroids of each list (all zero for an index without a probe section).
    pub fn sub_centroid_counts(&self) -> Vec<usize> {
        let s = self.sections();
        if s.sub_offsets.is_empty() {
            return vec![0; self.nlist()];
        }
        s.sub_offsets
            .windows(2)
            .map(|w| match w {
                [a, b] => b.saturating_sub(*a) as usize,
                _ => 0,
            })
            .collect()
    }

    /// List balance and the retraining rule.
    pub fn balance(&self) -> Balance {
        let sizes = self.list_sizes();
        let rows: usize = sizes.iter().sum();
        let sq: f64 = sizes.iter().map(|&s| (s as f64) * (s as f64)).sum();
        Balance {
            nlist: sizes.len(),
            rows,
            max_list: sizes.iter().copied().max().unwrap_or(0),
            empty_lists: sizes.iter().filter(|&&s| s == 0).count(),
            imbalance: if rows == 0 {
                1.0
            } else {
                sizes.len() as f64 * sq / (rows as f64 * rows as f64)
            },
        }
    }

    /// The segment rows of list `l` (empty when out of range).
    pub fn list_rows(&self, l: usize) -> &[u32] {
        let s = self.sections();
        let (Some(&lo), Some(&hi)) = (s.offsets.get(l), s.offsets.get(l + 1)) else {
            return &[];
        };
        s.rows.get(lo as usize..hi as usize).unwrap_or(&[])
    }

    fn check_segment(&self, seg: &SegmentReader) -> Result<()> {
        if seg.generation() != self.header.segment_generation
            || seg.content_crc() != self.header.segment_content_crc
        {
            return Err(Error::WrongSegment {
                file: self.path.clone(),
                index_generation: self.header.segment_generation,
                index_crc: self.header.segment_content_crc,
                segment_generation: seg.generation(),
                segment_crc: seg.content_crc(),
            });
        }
        Ok(())
    }

    /// Top-`k` of one query, best first (ties by lower id). Errors: `k = 0`
    /// ([`Error::ZeroK`]), `nprobe = 0`, a query of the wrong dimension or with a
    /// non-finite value ([`Error::InvalidQuery`]), another segment than the one indexed.
    pub fn search(
        &self,
        seg: &SegmentReader,
        query: &[f32],
        k: usize,
        params: &IvfSearchParams<'_>,
    ) -> Result<Vec<Hit>> {
        self.check_args(seg, k, params)?;
        validate_vector(query, self.dim())?;
        let mut q = query.to_vec();
        self.metric.prepare(&mut q);
        Ok(self
            .search_lists(seg, &[q], k, params)
            .pop()
            .unwrap_or_default())
    }

    /// [`IvfIndex::search`] of every query: the queries are split into one contiguous
    /// share per thread of `pool`, and each share is scanned list by list (every probed
    /// list read once for all the share's queries that probe it; see `scan.rs`). Results
    /// equal those of [`IvfIndex::search`] for each query.
    pub fn search_batch<Q: AsRef<[f32]> + Sync>(
        &self,
        pool: &rayon::ThreadPool,
        seg: &SegmentReader,
        queries: &[Q],
        k: usize,
        params: &IvfSearchParams<'_>,
    ) -> Result<Vec<Vec<Hit>>> {
        self.check_args(seg, k, params)?;
        let mut prepared = Vec::with_capacity(queries.len());
        for q in queries {
            let q = q.as_ref();
            validate_vector(q, self.dim())?;
            let mut v = q.to_vec();
            self.metric.prepare(&mut v);
            prepared.push(v);
        }
        // One contiguous share of the queries per thread, each scanned list by list.
        let share = prepared
            .len()
            .div_ceil(pool.current_num_threads().max(1))
            .max(1);
        Ok(pool.install(|| {
            prepared
                .par_chunks(share)
                .map(|chunk| self.search_lists(seg, chunk, k, params))
                .collect::<Vec<_>>()
                .into_iter()
                .flatten()
                .collect()
        }))
    }

    fn check_args(
        &self,
        seg: &SegmentReader,
        k: usize,
        params: &IvfSearchParams<'_>,
    ) -> Result<()> {
        if k == 0 {
            return Err(Error::ZeroK);
        }
        if params.nprobe == 0 {
            return Err(Error::InvalidParams("nprobe must be at least 1".into()));
        }
        self.check_segment(seg)
    }
}
