//! [`HnswIndex`]: a frozen graph bound to the segment it indexes.
use std::path::Path;

use mnemodb_io::{Fs, IoContext, ReadOnlyBytes};
use mnemodb_segment::SegmentReader;
use roaring::RoaringBitmap;

use super::builder::HnswBuilder;
use super::codes::Sq8Codes;
use super::file::{self, HnswFileInfo};
use super::graph::HnswGraph;
use super::params::{DEFAULT_EF_SEARCH, DEFAULT_REBUILD_FRACTION, HnswParams};
use super::rows::Rows;
use super::search::{self, SearchOptions, Target};
use crate::error::{Error, Result};
use crate::hit::Hit;

/// An HNSW graph over one segment: search returns the segment's ids.
///
/// ```
/// use mnemodb_ann::hnsw::{HnswIndex, HnswParams, SearchOptions};
/// use mnemodb_distance::Metric;
/// use mnemodb_io::{Fs, MemFs};
/// use mnemodb_segment::{SegmentOptions, SegmentReader, SegmentWriter};
/// use std::path::Path;
///
/// let fs = MemFs::new();
/// fs.create_dir_all(Path::new("/db"))?;
/// let mut w = SegmentWriter::create(&fs, Path::new("/db/seg-1.vec"), SegmentOptions::new(2, Metric::L2, 1))?;
/// for i in 0..100u64 {
///     w.push(1000 + i, &[i as f32, 0.5])?;
/// }
/// w.finish()?;
/// let seg = SegmentReader::open(&fs, Path::new("/db/seg-1.vec"))?;
/// let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build()?;
/// let index = HnswIndex::build(&pool, &seg, HnswParams::with_m(8))?;
/// index.write(&fs, Path::new("/db/seg-1.hnsw"))?;
///
/// let index = HnswIndex::open(&fs, Path::new("/db/seg-1.hnsw"), &seg)?;
/// index.verify()?;
/// let hits = index.search(&[41.9, 0.5], 2, &SearchOptions::default())?;
/// assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), [1042, 1041]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct HnswIndex {
    graph: HnswGraph,
    segment: SegmentReader,
    ef_search: usize,
    rebuild_fraction: f64,
}

impl HnswIndex {
    /// Build an index over every row of `segment` on `pool`.
    pub fn build(
        pool: &rayon::ThreadPool,
        segment: &SegmentReader,
        params: HnswParams,
    ) -> Result<Self> {
        let graph = HnswBuilder::new(segment.metric(), params)?.build(pool, Rows::from(segment))?;
        Ok(Self::from_parts(graph, segment)?.with_params(&params))
    }

    /// Bind a graph to the segment it was built over (checks size, dimension and metric).
    pub fn from_parts(graph: HnswGraph, segment: &SegmentReader) -> Result<Self> {
        if graph.len() != segment.len()
            || graph.dim() != segment.dim()
            || graph.metric() != segment.metric()
        {
            return Err(Error::SegmentMismatch(format!(
                "graph of {} {}-d {} nodes for segment {} of {} {}-d {} rows",
                graph.len(),
                graph.dim(),
                graph.metric(),
                segment.path().display(),
                segment.len(),
                segment.dim(),
                segment.metric()
            )));
        }
        Ok(HnswIndex {
            graph,
            segment: segment.clone(),
            ef_search: DEFAULT_EF_SEARCH,
            rebuild_fraction: DEFAULT_REBUILD_FRACTION,
        })
    }

    /// Use `params.ef_search` as the default `ef` and `params.rebuild_fraction`; with
    /// `params.sq8 == false`, drop any SQ8 codes (searches walk on the f32 rows). Never
    /// trains codes, so it is cheap on an opened file: one without codes (version 1) keeps
    /// walking on f32 rows. Call [`Self::with_sq8`] to train them before writing an index.
    pub fn with_params(mut self, params: &HnswParams) -> Self {
        self.ef_search = params.ef_search.max(1);
        self.rebuild_fraction = params.rebuild_fraction;
        if !params.sq8 {
            self.graph.sq8 = None;
        }
        self
    }

    /// With SQ8 codes (`on`: trained on the segment's rows now, unless the graph already
    /// has them) or without (`false`: searches walk on the f32 rows). See
    /// [`HnswParams::sq8`]; the codes are written with the index.
    pub fn with_sq8(mut self, on: bool) -> Self {
        if !on {
            self.graph.sq8 = None;
        } else if self.graph.sq8.is_none() {
            self.graph.sq8 = Sq8Codes::train(Rows::from(&self.segment), None);
        }
        self
    }

    /// Default `ef` of [`HnswIndex::search`].
    pub fn with_ef_search(mut self, ef: usize) -> Self {
        self.ef_search = ef.max(1);
        self
    }

    /// Map the index file at `path` for `segment`: checks the header, that the file was
    /// built from exactly this segment (generation and content CRC, else
    /// [`Error::WrongSegment`]), its size, dimension and metric, and the upper-level
    /// structure. Level-0 links are used in place (no pass over them); [`Self::verify`]
    /// checks every byte.
    pub fn open(fs: &dyn Fs, path: &Path, segment: &SegmentReader) -> Result<Self> {
        let bytes = fs.map_readonly(path).at("map index", path)?;
        Self::from_bytes(bytes, path, segment)
    }

    /// [`Self::open`] over bytes already in memory (an untrusted copy, a fuzz input).
    pub fn from_bytes(bytes: ReadOnlyBytes, path: &Path, segment: &SegmentReader) -> Result<Self> {
        let (graph, header) = file::decode(bytes, path)?;
        if header.segment_generation != segment.generation()
            || header.segment_content_crc != segment.content_crc()
        {
            return Err(Error::WrongSegment {
                file: path.into(),
                index_generation: header.segment_generation,
                index_crc: header.segment_content_crc,
                segment_generation: segment.generation(),
                segment_crc: segment.content_crc(),
            });
        }
        if graph.len() != segment.len()
            || graph.dim() != segment.dim()
            || graph.metric() != segment.metric()
        {
            return Err(mnemodb_format::FormatError::corrupted(
                path,
                20,
                format!(
                    "index of {} {}-d {} nodes does not fit segment {} ({} {}-d {} rows) of the same generation",
                    graph.len(),
                    graph.dim(),
                    graph.metric(),
                    segment.path().display(),
                    segment.len(),
                    segment.dim(),
                    segment.metric()
                ),
            )
            .into());
        }
        Self::from_parts(graph, segment)
    }

    /// Write the index to `path` (temp → fsync → rename → directory fsync), recording the
    /// segment's generation and content CRC.
    pub fn write(&self, fs: &dyn Fs, path: &Path) -> Result<HnswFileInfo> {
        file::write(
            &self.graph,
            fs,
            path,
            self.segment.generation(),
            self.segment.content_crc(),
        )
    }

    /// The file image [`Self::write`] would write.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        file::to_bytes(
            &self.graph,
            self.segment.generation(),
            self.segment.content_crc(),
        )
    }

    /// Check every byte: each section's CRC (for an opened file) and the structure (every
    /// neighbour id < count, no self or duplicate links, degree ≤ bound, upper links only
    /// to nodes of that level, levels ≤ max, unused slots zero, entry point on the top
    /// level).
    pub fn verify(&self) -> Result<()> {
        file::verify(&self.graph)
    }

    /// The partial-distance plan of walks on the f32 rows (head dimensions, margin),
    /// calibrated now if no search has yet; `None`: rows are read whole.
    #[doc(hidden)]
    pub fn partial_plan(&self) -> Option<(usize, f32)> {
        self.graph.partial_plan(Rows::from(&self.segment))
    }

    /// The graph.
    pub fn graph(&self) -> &HnswGraph {
        &self.graph
    }

    /// The indexed segment.
    pub fn segment(&self) -> &SegmentReader {
        &self.segment
    }

    /// Top-`k` of `query`, best first, as segment ids. `k = 0` is [`Error::ZeroK`]; `k`
    /// beyond the rows returns what the search reaches (all rows when `ef ≥ rows`);
    /// `ef < k` is raised to `k`. The query is validated (dimension, finite) and
    /// prepared for the metric.
    pub fn search(&self, query: &[f32], k: usize, opts: &SearchOptions<'_>) -> Result<Vec<Hit>> {
        let mut hits = Vec::new();
        self.search_rows_into(query, k, opts, &mut hits)?;
        let ids = self.segment.ids();
        for h in &mut hits {
            h.id = ids.get(h.id as usize).copied().unwrap_or(h.id);
        }
        Ok(hits)
    }

    /// Like [`Self::search`], but hits carry row numbers, written into `out` (no
    /// allocation once `out` and this thread's scratch have grown).
    pub fn search_rows_into(
        &self,
        query: &[f32],
        k: usize,
        opts: &SearchOptions<'_>,
        out: &mut Vec<Hit>,
    ) -> Result<()> {
        let rows = Rows::from(&self.segment);
        let view = self.graph.view(rows);
        let target = Target {
            graph: &view,
            n: self.graph.len().min(rows.len()),
            entry: self
                .graph
                .entry_point()
                .map(|e| (e, self.graph.max_level())),
            metric: self.graph.metric(),
            dim: self.graph.dim(),
            default_ef: self.ef_search,
            sq8: self.graph.sq8.as_ref(),
            partial: Some(&self.graph.partial),
        };
        search::run(&target, query, k, opts, |_| false, 0, out)
    }

    /// Whether tombstoned rows exceed the rebuild fraction (default 20%): deleted nodes
    /// still cost traversal and filtered-out results, so past this point a rebuild pays.
    pub fn needs_rebuild(&self, tombstones: &RoaringBitmap) -> bool {
        let n = self.graph.len();
        n > 0
            && tombstones.range_cardinality(0..n.min(u32::MAX as usize) as u32) as f64
                > self.rebuild_fraction * n as f64
    }

    /// A new index over the same segment without the `tombstones` rows (they stay as
    /// unlinked nodes, so row numbers and the file's segment binding are unchanged).
    pub fn rebuild(
        &self,
        pool: &rayon::ThreadPool,
        tombstones: &RoaringBitmap,
        params: HnswParams,
    ) -> Result<Self> {
        let n = self.graph.len().min(u32::MAX as usize) as u32;
        let mut live = RoaringBitmap::new();
        live.insert_range(0..n);
        live -= tombstones;
        let graph = HnswBuilder::new(self.segment.metric(), params)?.build_subset(
            pool,
            Rows::from(&self.segment),
            Some(&live),
        )?;
        Ok(Self::from_parts(graph, &self.segment)?.with_params(&params))
    }
}

impl HnswGraph {
    /// Search `rows` (the vectors this graph was built over); hits carry row numbers.
    /// Same rules as [`HnswIndex::search`]; the default `ef` is
    /// [`super::DEFAULT_EF_SEARCH`].
    pub fn search(
        &self,
        rows: Rows<'_>,
        query: &[f32],
        k: usize,
        opts: &SearchOptions<'_>,
    ) -> Result<Vec<Hit>> {
        let mut out = Vec::new();
        self.search_into(rows, query, k, opts, &mut out)?;
        Ok(out)
    }

    /// [`Self::search`] into a reused vector.
    pub fn search_into(
        &self,
        rows: Rows<'_>,
        query: &[f32],
        k: usize,
        opts: &SearchOptions<'_>,
        out: &mut Vec<Hit>,
    ) -> Result<()> {
        if rows.dim() != self.dim() {
            return Err(Error::SegmentMismatch(format!(
                "rows of dimension {} for a graph of dimension {}",
                rows.dim(),
                self.dim()
            )));
        }
        let view = self.view(rows);
        let target = Target {
            graph: &view,
            n: self.len().min(rows.len()),
            entry: self.entry_point().map(|e| (e, self.max_level())),
            metric: self.metric(),
            dim: self.dim(),
            default_ef: DEFAULT_EF_SEARCH,
            sq8: self.sq8.as_ref(),
            partial: Some(&self.partial),
        };
        search::run(&target, query, k, opts, |_| false, 0, out)
    }

    /// The partial-distance plan of walks on `rows` (head dimensions, margin), calibrated
    /// now if no search has yet; `None`: rows are read whole.
    #[doc(hidden)]
    pub fn partial_plan(&self, rows: Rows<'_>) -> Option<(usize, f32)> {
        let view = self.view(rows);
        let plan = *self
            .partial
            .get_or_init(|| super::partial::calibrate(&view, self.metric(), self.dim()));
        plan.map(|p| (p.head, p.margin))
    }

    /// Check the structure (see [`HnswIndex::verify`]).
    pub fn verify(&self) -> Result<()> {
        file::verify(self)
    }
}
