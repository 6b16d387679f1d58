//! Zero-copy reader over a mapped segment file.
use std::path::{Path, PathBuf};

use mnemodb_distance::Metric;
use mnemodb_format::{FormatError, SegmentHeader, SegmentLayout};
use mnemodb_io::{Fs, IoContext, ReadOnlyBytes};

use crate::error::Result;

/// How to open a segment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenOptions {
    /// Run [`SegmentReader::verify`] before returning (reads every byte).
    pub verify: bool,
}

/// A sealed segment, mapped read-only. Cheap to clone (the mapping is shared).
///
/// Opening checks the header and the file length only; [`SegmentReader::verify`] checks
/// every byte. If another process truncates the file while it is mapped, reading a row
/// past the new end raises SIGBUS: mnemodb never truncates or rewrites a sealed file, and
/// the database `LOCK` keeps other writers out.
#[derive(Debug, Clone)]
pub struct SegmentReader {
    path: PathBuf,
    bytes: ReadOnlyBytes,
    header: SegmentHeader,
    layout: SegmentLayout,
    metric: Metric,
}

impl SegmentReader {
    /// Map and check the header of the segment at `path`.
    pub fn open(fs: &dyn Fs, path: &Path) -> Result<Self> {
        Self::open_with(fs, path, OpenOptions::default())
    }

    /// [`SegmentReader::open`] with options.
    pub fn open_with(fs: &dyn Fs, path: &Path, options: OpenOptions) -> Result<Self> {
        let bytes = fs.map_readonly(path).at("map segment", path)?;
        let reader = Self::from_bytes(bytes, path)?;
        if options.verify {
            reader.verify()?;
        }
        Ok(reader)
    }

    /// A reader over bytes already in memory (a heap copy of an untrusted file, a fuzz
    /// input). `path` is only used in error messages.
    pub fn from_bytes(bytes: ReadOnlyBytes, path: &Path) -> Result<Self> {
        let (header, layout) = SegmentHeader::decode(&bytes, path, bytes.len() as u64)?;
        let metric = Metric::from_u32(header.metric).ok_or_else(|| {
            FormatError::corrupted(path, 20, format!("unknown metric {}", header.metric))
        })?;
        let reader = SegmentReader {
            path: path.into(),
            bytes,
            header,
            layout,
            metric,
        };
        // The layout is 64-aligned and the bytes start 64-aligned, so these casts cannot
        // fail on a file that passed the header check; if they do, it is corruption, not UB.
        if reader.try_rows().is_none() || reader.try_ids().is_none() {
            return Err(FormatError::corrupted(
                path,
                layout.rows_offset,
                "sections are not aligned for zero-copy access",
            )
            .into());
        }
        Ok(reader)
    }

    /// The file this reader maps.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.layout.row_count as usize
    }

    /// Whether the segment has no rows.
    pub fn is_empty(&self) -> bool {
        self.layout.row_count == 0
    }

    /// Components per vector.
    pub fn dim(&self) -> usize {
        self.layout.dim as usize
    }

    /// Metric the rows are prepared for.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// Generation recorded by the writer.
    pub fn generation(&self) -> u64 {
        self.header.generation
    }

    /// CRC32 of the block checksum table: a fingerprint of the content.
    pub fn content_crc(&self) -> u32 {
        self.header.content_crc
    }

    /// File length in bytes.
    pub fn file_len(&self) -> u64 {
        self.layout.file_len
    }

    /// The decoded header.
    pub fn header(&self) -> &SegmentHeader {
        &self.header
    }

    /// Section layout.
    pub fn layout(&self) -> &SegmentLayout {
        &self.layout
    }

    /// Whether the bytes are a memory map (as opposed to a heap copy).
    pub fn is_mapped(&self) -> bool {
        self.bytes.is_mapped()
    }

    /// `f32`s per row in [`SegmentReader::rows`], padding included (≥ [`Self::dim`]).
    pub fn stride(&self) -> usize {
        self.layout.row_stride as usize / 4
    }

    /// Every row, back to back with [`Self::stride`] floats per row; row `i` is
    /// `rows[i * stride..][..dim]`. Zero-copy.
    pub fn rows(&self) -> &[f32] {
        self.try_rows().unwrap_or_default()
    }

    /// Row `i` (`dim` floats), zero-copy; `None` past the end.
    pub fn row(&self, i: usize) -> Option<&[f32]> {
        let start = i.checked_mul(self.stride())?;
        self.rows().get(start..start.checked_add(self.dim())?)
    }

    /// The id column, zero-copy.
    pub fn ids(&self) -> &[u64] {
        self.try_ids().unwrap_or_default()
    }

    /// Id of row `i`.
    pub fn id(&self, i: usize) -> Option<u64> {
        self.ids().get(i).copied()
    }

    /// Raw bytes of `[offset, offset + len)`, for `verify`.
    pub(crate) fn section(&self, offset: u64, len: u64) -> &[u8] {
        let start = offset as usize;
        let end = start.saturating_add(len as usize);
        self.bytes.get(start..end).unwrap_or_default()
    }

    fn try_rows(&self) -> Option<&[f32]> {
        let l = &self.layout;
        let bytes = self
            .bytes
            .get(l.rows_offset as usize..(l.rows_offset + l.row_count * l.row_stride) as usize)?;
        bytemuck::try_cast_slice(bytes).ok()
    }

    fn try_ids(&self) -> Option<&[u64]> {
        let l = &self.layout;
        let bytes = self
            .bytes
            .get(l.ids_offset as usize..(l.ids_offset + l.row_count * 8) as usize)?;
        bytemuck::try_cast_slice(bytes).ok()
    }
}
