//! [`HnswGraph`]: the frozen graph in flat arrays, owned (just built) or memory-mapped
//! from an index file and used in place. Search reads it without locks.
use std::path::PathBuf;
use std::sync::Arc;

use mnemodb_distance::Metric;
use mnemodb_format::{HnswHeader, HnswLayout};
use mnemodb_io::ReadOnlyBytes;

use super::codes::Sq8Codes;
use super::insert::{Links, level_of_len, list};
use super::layer::GraphRead;
use super::partial::PartialPlan;
use super::rows::Rows;

/// Everything about a graph except its links.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct GraphMeta {
    pub n: usize,
    pub m: usize,
    pub m0: usize,
    pub ef_construction: usize,
    pub max_level: usize,
    pub entry: Option<u32>,
    pub metric: Metric,
    pub dim: usize,
    pub level_mult: f64,
    pub seed: u64,
    pub flags: u32,
}

#[derive(Debug)]
pub(crate) struct Owned {
    pub level0: Vec<u32>,
    pub upper_nodes: Vec<u32>,
    pub upper_offsets: Vec<u32>,
    pub upper_links: Vec<u32>,
}

#[derive(Debug, Clone)]
pub(crate) enum Storage {
    Owned(Arc<Owned>),
    Mapped {
        bytes: ReadOnlyBytes,
        layout: HnswLayout,
        header: Box<HnswHeader>,
        path: PathBuf,
    },
}

/// The four sections as `u32` slices.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sections<'a> {
    pub level0: &'a [u32],
    pub upper_nodes: &'a [u32],
    pub upper_offsets: &'a [u32],
    pub upper_links: &'a [u32],
}

impl<'a> Sections<'a> {
    /// The `[count, m slots]` blocks of `node`'s levels 1.., back to back.
    #[inline]
    pub fn upper_block(&self, node: u32) -> Option<&'a [u32]> {
        let i = self.upper_nodes.binary_search(&node).ok()?;
        let start = *self.upper_offsets.get(i)? as usize;
        let end = *self.upper_offsets.get(i + 1)? as usize;
        self.upper_links.get(start..end)
    }
}

/// A frozen HNSW graph over the rows `0..len()` of one set of vectors (a segment).
///
/// Level-0 links are one fixed-stride `u32` array (`count, m0 slots` per node); upper levels
/// are compact: the sorted ids of nodes with level ≥ 1, an offset per such node, and their
/// `[count, m slots]` blocks. Built by [`super::HnswBuilder`], written and mapped by
/// [`super::HnswIndex`]; cheap to clone.
#[derive(Debug, Clone)]
pub struct HnswGraph {
    pub(crate) meta: GraphMeta,
    pub(crate) storage: Storage,
    /// SQ8 codes of the vectors, when the graph was built with [`super::HnswParams::sq8`].
    pub(crate) sq8: Option<Sq8Codes>,
    /// How walks on the f32 rows read them, calibrated at the first search that needs it.
    pub(crate) partial: PartialCell,
}

/// A graph's [`PartialPlan`], measured once on its rows.
pub(crate) type PartialCell = std::sync::OnceLock<Option<PartialPlan>>;

fn cast(bytes: &[u8], offset: u64, len: u64) -> Option<&[u32]> {
    let start = usize::try_from(offset).ok()?;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    bytemuck::try_cast_slice(bytes.get(start..end)?).ok()
}

impl HnswGraph {
    pub(crate) fn sections(&self) -> Sections<'_> {
        match &self.storage {
            Storage::Owned(o) => Sections {
                level0: &o.level0,
                upper_nodes: &o.upper_nodes,
                upper_offsets: &o.upper_offsets,
                upper_links: &o.upper_links,
            },
            Storage::Mapped { bytes, layout, .. } => {
                let [a, b, c, d] = layout.sections();
                Sections {
                    level0: cast(bytes, a.0, a.1).unwrap_or_default(),
                    upper_nodes: cast(bytes, b.0, b.1).unwrap_or_default(),
                    upper_offsets: cast(bytes, c.0, c.1).unwrap_or_default(),
                    upper_links: cast(bytes, d.0, d.1).unwrap_or_default(),
                }
            }
        }
    }

    /// Number of nodes (= rows indexed).
    pub fn len(&self) -> usize {
        self.meta.n
    }

    /// Whether the graph has no nodes.
    pub fn is_empty(&self) -> bool {
        self.meta.n == 0
    }

    /// Metric the graph was built for.
    pub fn metric(&self) -> Metric {
        self.meta.metric
    }

    /// Dimension of the indexed vectors.
    pub fn dim(&self) -> usize {
        self.meta.dim
    }

    /// Degree bound on levels ≥ 1.
    pub fn m(&self) -> usize {
        self.meta.m
    }

    /// Degree bound on level 0.
    pub fn m0(&self) -> usize {
        self.meta.m0
    }

    /// `ef_construction` of the build.
    pub fn ef_construction(&self) -> usize {
        self.meta.ef_construction
    }

    /// Highest level.
    pub fn max_level(&self) -> usize {
        self.meta.max_level
    }

    /// Where searches start (`None` when empty).
    pub fn entry_point(&self) -> Option<u32> {
        self.meta.entry
    }

    /// Whether the links are a memory map of an index file (used in place).
    pub fn is_mapped(&self) -> bool {
        match &self.storage {
            Storage::Owned(_) => false,
            Storage::Mapped { bytes, .. } => bytes.is_mapped(),
        }
    }

    /// Highest level of `node` (`None` past the end).
    pub fn level(&self, node: u32) -> Option<usize> {
        if node as usize >= self.meta.n {
            return None;
        }
        let words = self.sections().upper_block(node).map_or(0, <[u32]>::len);
        Some(words / (1 + self.meta.m))
    }

    /// `node`'s neighbours on `level` (empty past the node's level or the end). Counts are
    /// clamped to the degree bound, so this is safe on any file; ids are not checked
    /// ([`super::HnswIndex::verify`] does).
    pub fn neighbors(&self, node: u32, level: usize) -> &[u32] {
        let s = self.sections();
        frozen_list(&s, self.meta.m, self.meta.m0, node, level)
    }

    /// Bytes of links: level 0 plus the upper sections.
    pub fn links_bytes(&self) -> usize {
        let s = self.sections();
        4 * (s.level0.len() + s.upper_nodes.len() + s.upper_offsets.len() + s.upper_links.len())
    }

    /// Whether the graph holds SQ8 codes of its vectors (searches walk on them).
    pub fn has_sq8(&self) -> bool {
        self.sq8.is_some()
    }

    /// Bytes of the SQ8 codes and quantiser (0 without).
    pub fn sq8_bytes(&self) -> usize {
        self.sq8
            .as_ref()
            .map_or(0, |c| c.codes().len() + 8 * c.dim())
    }

    /// Bytes of the level-0 array alone (`n × (1 + m0) × 4`).
    pub fn level0_bytes(&self) -> usize {
        4 * self.sections().level0.len()
    }

    /// The read view over `rows` for the search loop.
    pub(crate) fn view<'a>(&'a self, rows: Rows<'a>) -> FrozenView<'a> {
        FrozenView {
            sec: self.sections(),
            rows,
            m: self.meta.m,
            m0: self.meta.m0,
            stride0: 1 + self.meta.m0,
            n: self.meta.n.min(rows.len()),
        }
    }
}

#[inline]
fn frozen_list<'a>(s: &Sections<'a>, m: usize, m0: usize, node: u32, level: usize) -> &'a [u32] {
    let block = if level == 0 {
        let start = node as usize * (1 + m0);
        s.level0.get(start..start + 1 + m0)
    } else {
        let start = (level - 1) * (1 + m);
        s.upper_block(node)
            .and_then(|b| b.get(start..start + 1 + m))
    };
    match block.and_then(|b| b.split_first()) {
        Some((&count, slots)) => slots
            .get(..(count as usize).min(slots.len()))
            .unwrap_or(&[]),
        None => &[],
    }
}

/// [`GraphRead`] over a frozen graph and its rows.
pub(crate) struct FrozenView<'a> {
    sec: Sections<'a>,
    rows: Rows<'a>,
    m: usize,
    m0: usize,
    stride0: usize,
    n: usize,
}

impl GraphRead for FrozenView<'_> {
    #[inline]
    fn slots(&self) -> usize {
        self.n
    }

    #[inline]
    fn neighbors<R>(&self, node: u32, level: usize, f: impl FnOnce(&[u32]) -> R) -> R {
        f(frozen_list(&self.sec, self.m, self.m0, node, level))
    }

    #[inline]
    fn vector(&self, node: u32) -> Option<&[f32]> {
        self.rows.get(node as usize)
    }

    #[inline]
    fn vector_ptr(&self, node: u32) -> *const f32 {
        self.rows.ptr(node as usize)
    }

    #[inline]
    fn links_ptr(&self, node: u32) -> *const u32 {
        self.sec
            .level0
            .as_ptr()
            .wrapping_add((node as usize).wrapping_mul(self.stride0))
    }

    fn vector_lines(&self) -> usize {
        self.rows.lines()
    }

    fn links_words(&self) -> usize {
        self.stride0
    }
}

/// Copy a lock-based graph's first `n` nodes into flat arrays. Links to ids ≥ `n` (nodes
/// a live graph added meanwhile) are dropped.
pub(crate) fn freeze<T: Links>(g: &T, n: usize, metric: Metric, dim: usize) -> HnswGraph {
    let p = *g.params();
    let (m, m0) = (p.m, p.m0);
    let stride0 = 1 + m0;
    let mut level0 = vec![0u32; n * stride0];
    let mut upper_nodes = Vec::new();
    let mut upper_offsets = vec![0u32];
    let mut upper_links = Vec::new();
    let mut levels = vec![0usize; n];
    let mut max_level = 0;
    let put = |dst: &mut [u32], ids: &[u32]| {
        let mut c = 0;
        if let Some((count, slots)) = dst.split_first_mut() {
            for (slot, &id) in slots
                .iter_mut()
                .zip(ids.iter().filter(|&&id| (id as usize) < n))
            {
                *slot = id;
                c += 1;
            }
            *count = c;
        }
    };
    for (node, dst) in level0.chunks_exact_mut(stride0).enumerate() {
        let Some(lock) = g.node_links(node as u32) else {
            continue;
        };
        let links = lock.read();
        put(dst, list(&links, 0, m, m0));
        let level = level_of_len(links.len(), m, m0);
        if let Some(l) = levels.get_mut(node) {
            *l = level;
        }
        if level > 0 {
            max_level = max_level.max(level);
            upper_nodes.push(node as u32);
            for lc in 1..=level {
                let at = upper_links.len();
                upper_links.resize(at + 1 + m, 0);
                if let Some(dst) = upper_links.get_mut(at..) {
                    put(dst, list(&links, lc, m, m0));
                }
            }
            upper_offsets.push(upper_links.len() as u32);
        }
    }
    let entry = match g.entry().get() {
        Some((e, l))
            if (e as usize) < n && levels.get(e as usize) == Some(&l) && l == max_level =>
        {
            Some(e)
        }
        _ => levels
            .iter()
            .position(|&l| l == max_level)
            .filter(|_| n > 0)
            .map(|i| i as u32),
    };
    HnswGraph {
        meta: GraphMeta {
            n,
            m,
            m0,
            ef_construction: p.ef_construction,
            max_level,
            entry,
            metric,
            dim,
            level_mult: p.level_mult,
            seed: p.seed,
            flags: p.flags(),
        },
        storage: Storage::Owned(Arc::new(Owned {
            level0,
            upper_nodes,
            upper_offsets,
            upper_links,
        })),
        sq8: None,
        partial: PartialCell::new(),
    }
}
