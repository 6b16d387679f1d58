//! Streaming writer: rows go straight to a temp file; the header, id column and checksum
//! table follow at `finish`, then the file is synced and renamed into place.
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mnemodb_distance::Metric;
use mnemodb_format::{DType, SegmentHeader, SegmentLayout, padding_to_align};
use mnemodb_io::{
    FileHandle, Fs, IoContext, OpenOptions as FileOpenOptions, SeqWriter, durable_rename, temp_path,
};

use crate::error::{Error, Result};

/// Target size of one checksum block: big enough that the table stays tiny, small enough
/// that `verify` can run blocks in parallel and name a narrow range on a mismatch.
const TARGET_BLOCK_BYTES: u64 = 1 << 20;

/// Parameters of a new segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentOptions {
    /// Components per vector.
    pub dim: u32,
    /// Metric the rows are prepared for (cosine rows are normalised by the writer).
    pub metric: Metric,
    /// Engine-assigned generation, recorded in the header; index files cite it.
    pub generation: u64,
    /// Rows per checksum block; `None` picks about 1 MiB of rows per block.
    pub block_rows: Option<u32>,
}

impl SegmentOptions {
    /// Options with the default block size.
    pub fn new(dim: u32, metric: Metric, generation: u64) -> Self {
        SegmentOptions {
            dim,
            metric,
            generation,
            block_rows: None,
        }
    }

    fn resolved_block_rows(&self) -> u32 {
        self.block_rows.unwrap_or_else(|| {
            let row_bytes = u64::from(self.dim) * 4;
            let rows = (TARGET_BLOCK_BYTES / row_bytes.max(1)).clamp(16, 1 << 16);
            u32::try_from(rows).unwrap_or(1 << 16)
        })
    }
}

/// What a finished segment is, for the manifest that will reference it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentInfo {
    /// Final path.
    pub path: PathBuf,
    /// Generation from the options.
    pub generation: u64,
    /// Rows written.
    pub row_count: u64,
    /// Dimension.
    pub dim: u32,
    /// Metric.
    pub metric: Metric,
    /// File length in bytes.
    pub file_len: u64,
    /// CRC32 of the block checksum table: a fingerprint of the whole content.
    pub content_crc: u32,
}

/// Writes one segment by streaming rows; see the crate docs.
///
/// Dropping a writer without calling [`SegmentWriter::finish`] leaves a `*.tmp` file that
/// the engine deletes at open (it is never referenced by a manifest).
#[derive(Debug)]
pub struct SegmentWriter<'fs> {
    fs: &'fs dyn Fs,
    path: PathBuf,
    tmp: PathBuf,
    file: Arc<dyn FileHandle>,
    out: SeqWriter,
    options: SegmentOptions,
    block_rows: u32,
    ids: Vec<u64>,
    /// Checksum state of the rows of each block (ids are added at `finish`).
    block_hashers: Vec<mnemodb_format::Crc32Hasher>,
    row_buf: Vec<f32>,
    padding: Vec<u8>,
}

impl<'fs> SegmentWriter<'fs> {
    /// Start writing the segment that will live at `path` (through `path`'s temp name).
    pub fn create(fs: &'fs dyn Fs, path: &Path, options: SegmentOptions) -> Result<Self> {
        let block_rows = options.resolved_block_rows();
        let layout =
            SegmentLayout::compute(options.dim, DType::F32, 0, block_rows).ok_or_else(|| {
                Error::InvalidOptions {
                    file: path.into(),
                    what: format!(
                        "dimension {} outside 1..={}",
                        options.dim,
                        mnemodb_format::MAX_DIM
                    ),
                }
            })?;
        let tmp = temp_path(path);
        let file = fs
            .open(&tmp, FileOpenOptions::create_truncate())
            .at("create segment", &tmp)?;
        let mut out = SeqWriter::new(Arc::clone(&file), 0);
        // Placeholder header; the real one is written last, once the layout is known.
        out.write_all(&[0u8; SegmentLayout::HEADER_SIZE as usize])
            .at("write segment", &tmp)?;
        let pad = layout.row_stride as usize - options.dim as usize * 4;
        Ok(SegmentWriter {
            fs,
            path: path.into(),
            tmp,
            file,
            out,
            options,
            block_rows,
            ids: Vec::new(),
            block_hashers: Vec::new(),
            row_buf: Vec::with_capacity(options.dim as usize),
            padding: vec![0; pad],
        })
    }

    /// Rows pushed so far.
    pub fn len(&self) -> u64 {
        self.ids.len() as u64
    }

    /// Whether no row was pushed yet.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Append one row. The vector is validated (dimension, finite components) and prepared
    /// for the metric (normalised for cosine) before it is written.
    pub fn push(&mut self, id: u64, vector: &[f32]) -> Result<()> {
        let row = self.ids.len() as u64;
        mnemodb_distance::validate_vector(vector, self.options.dim as usize).map_err(|source| {
            Error::InvalidVector {
                file: self.path.clone(),
                row,
                id,
                source,
            }
        })?;
        self.row_buf.clear();
        self.row_buf.extend_from_slice(vector);
        self.options.metric.prepare(&mut self.row_buf);

        if row.is_multiple_of(u64::from(self.block_rows)) {
            self.block_hashers.push(mnemodb_format::Crc32Hasher::new());
        }
        let bytes: &[u8] = bytemuck::cast_slice(&self.row_buf);
        if let Some(h) = self.block_hashers.last_mut() {
            h.update(bytes);
            h.update(&self.padding);
        }
        self.out.write_all(bytes).at("write segment", &self.tmp)?;
        self.out
            .write_all(&self.padding)
            .at("write segment", &self.tmp)?;
        self.ids.push(id);
        Ok(())
    }

    /// Write the id column, checksum table and header; fsync; rename into place; fsync the
    /// directory. Only after this returns is the segment durable and visible at its path.
    pub fn finish(mut self) -> Result<SegmentInfo> {
        let row_count = self.ids.len() as u64;
        let layout =
            SegmentLayout::compute(self.options.dim, DType::F32, row_count, self.block_rows)
                .ok_or_else(|| Error::InvalidOptions {
                    file: self.path.clone(),
                    what: format!("{row_count} rows overflow the file size"),
                })?;
        self.check_unique_ids()?;

        // Rows end where the writer stands; pad to the id column.
        let gap = padding_to_align(self.out.position());
        self.write(&vec![0u8; gap as usize])?;
        debug_assert_eq!(self.out.position(), layout.ids_offset);
        let id_bytes: &[u8] = bytemuck::cast_slice(&self.ids);
        let mut crcs = Vec::with_capacity(self.block_hashers.len() * 4);
        for (block, mut hasher) in std::mem::take(&mut self.block_hashers)
            .into_iter()
            .enumerate()
        {
            let (first, end) = layout.block_rows_range(block as u64);
            let ids = id_bytes
                .get(first as usize * 8..end as usize * 8)
                .unwrap_or_default();
            hasher.update(ids);
            crcs.extend_from_slice(&hasher.finalize().to_le_bytes());
        }
        let ids_owned = std::mem::take(&mut self.ids);
        self.write(bytemuck::cast_slice(&ids_owned))?;
        let gap = padding_to_align(self.out.position());
        self.write(&vec![0u8; gap as usize])?;
        debug_assert_eq!(self.out.position(), layout.crcs_offset);
        self.write(&crcs)?;
        let end = self.out.finish().at("write segment", &self.tmp)?;
        debug_assert_eq!(end, layout.file_len);

        let content_crc = mnemodb_format::crc32(&crcs);
        let header = SegmentHeader::new(
            &layout,
            self.options.metric as u32,
            self.options.generation,
            content_crc,
        );
        self.file
            .write_all_at(bytemuck::bytes_of(&header), 0)
            .at("write segment header", &self.tmp)?;
        // sync_all, not sync_data: the file grew, and its length must be durable too.
        self.file.sync_all().at("fsync segment", &self.tmp)?;
        durable_rename(self.fs, &self.tmp, &self.path)?;
        Ok(SegmentInfo {
            path: self.path,
            generation: self.options.generation,
            row_count,
            dim: self.options.dim,
            metric: self.options.metric,
            file_len: layout.file_len,
            content_crc,
        })
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.out.write_all(bytes).at("write segment", &self.tmp)?;
        Ok(())
    }

    fn check_unique_ids(&self) -> Result<()> {
        let mut sorted = self.ids.clone();
        sorted.sort_unstable();
        match sorted.windows(2).find(|w| w.first() == w.get(1)) {
            Some(w) => Err(Error::DuplicateId {
                file: self.path.clone(),
                id: w.first().copied().unwrap_or_default(),
            }),
            None => Ok(()),
        }
    }
}
