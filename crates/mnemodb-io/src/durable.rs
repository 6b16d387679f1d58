//! Durable publication: write temp → fsync → rename → fsync the directory, and a buffered
//! sequential writer for building files.
//!
//! A rename is atomic but not durable, and a new name is durable only once its directory is
//! synced (RELIABILITY pitfall 5); [`durable_replace`] and [`durable_rename`] are the only
//! ways mnemodb publishes a file.
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{IoContext, Result};
use crate::fs::{FileHandle, Fs, OpenOptions};

/// The suffix of temporary files; open-time cleanup deletes files that carry it.
const TEMP_SUFFIX: &str = ".tmp";

/// The temporary file [`durable_replace`] writes before renaming it onto `path`:
/// `<file name>.tmp` in the same directory.
///
/// ```
/// use std::path::Path;
/// assert_eq!(mnemodb_io::temp_path(Path::new("/db/MANIFEST-3")), Path::new("/db/MANIFEST-3.tmp"));
/// ```
pub fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(TEMP_SUFFIX);
    path.with_file_name(name)
}

/// Whether a directory entry is a temporary file (left behind by a crash; safe to delete
/// at open, before anything else runs).
pub fn is_temp_path(name: &OsStr) -> bool {
    name.as_encoded_bytes().ends_with(TEMP_SUFFIX.as_bytes())
}

/// The directory holding `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// `fsync` the directory that holds `path`, making its creation, rename or removal durable.
pub fn sync_parent_dir(fs: &dyn Fs, path: &Path) -> Result<()> {
    let dir = parent_dir(path);
    fs.sync_dir(dir).at("sync directory", dir)
}

/// Replace the file at `path` with `bytes`, durably and atomically: after a crash at any
/// point, `path` holds the old content (or is missing when it was) or the new content,
/// never a mix. Steps: write [`temp_path`] fully, `sync_all`, rename onto `path`,
/// `sync_dir` of the parent. On failure before the rename the temporary file is removed
/// (best effort) and the error returned.
pub fn durable_replace(fs: &dyn Fs, path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_path(path);
    let published = write_synced(fs, &tmp, bytes)
        .and_then(|()| fs.rename(&tmp, path).at("rename into place", &tmp));
    if let Err(e) = published {
        // Best effort: a leftover temporary file is deleted at the next open anyway.
        let _ = fs.remove_file(&tmp);
        return Err(e);
    }
    sync_parent_dir(fs, path)
}

/// Create or truncate `path`, write `bytes`, `sync_all`.
fn write_synced(fs: &dyn Fs, path: &Path, bytes: &[u8]) -> Result<()> {
    let file = fs
        .open(path, OpenOptions::create_truncate())
        .at("create", path)?;
    file.write_all_at(bytes, 0).at("write", path)?;
    file.sync_all().at("sync", path)
}

/// Rename `from` onto `to` and sync the parent directory of each (once when they are the
/// same). The caller has already synced the file itself.
pub fn durable_rename(fs: &dyn Fs, from: &Path, to: &Path) -> Result<()> {
    fs.rename(from, to).at("rename", from)?;
    sync_parent_dir(fs, to)?;
    if parent_dir(from) != parent_dir(to) {
        sync_parent_dir(fs, from)?;
    }
    Ok(())
}

/// The default buffer of a [`SeqWriter`]: 1 MiB.
pub const SEQ_WRITER_BUFFER: usize = 1 << 20;

/// A buffered sequential writer over a positional [`FileHandle`], starting at an offset.
///
/// Writes are buffered and go out with `write_all_at` when the buffer fills, on
/// [`flush`](io::Write::flush) and on [`finish`](SeqWriter::finish). **Dropping it does not
/// write**: bytes still buffered are discarded, so always call `finish` (which does not
/// sync; sync the file afterwards). After a failed flush the buffer is kept, so a retried
/// flush writes the same bytes at the same offset.
///
/// ```
/// use mnemodb_io::{Fs, MemFs, OpenOptions, SeqWriter};
/// use std::{io::Write, path::Path};
///
/// let fs = MemFs::new();
/// let file = fs.open(Path::new("/seg"), OpenOptions::create_new())?;
/// let mut w = SeqWriter::new(file.clone(), 64);
/// w.write_all(b"rows")?;
/// assert_eq!(w.position(), 68);
/// assert_eq!(w.finish()?, 68);
/// file.sync_all()?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "call finish() to write the buffered bytes"]
pub struct SeqWriter {
    file: Arc<dyn FileHandle>,
    /// File offset of `buf[0]`.
    offset: u64,
    buf: Vec<u8>,
    capacity: usize,
}

impl SeqWriter {
    /// A writer that starts at `offset`, with a [`SEQ_WRITER_BUFFER`] buffer.
    pub fn new(file: Arc<dyn FileHandle>, offset: u64) -> Self {
        Self::with_capacity(file, offset, SEQ_WRITER_BUFFER)
    }

    /// A writer that starts at `offset` and buffers up to `capacity` bytes (at least 1).
    pub fn with_capacity(file: Arc<dyn FileHandle>, offset: u64, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        SeqWriter {
            file,
            offset,
            buf: Vec::with_capacity(capacity.min(SEQ_WRITER_BUFFER)),
            capacity,
        }
    }

    /// The file offset the next byte goes to.
    pub fn position(&self) -> u64 {
        self.offset + self.buf.len() as u64
    }

    /// Write the buffered bytes and return the end offset. Does not sync.
    pub fn finish(mut self) -> io::Result<u64> {
        self.flush_buf()?;
        Ok(self.offset)
    }

    fn flush_buf(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.file.write_all_at(&self.buf, self.offset)?;
            self.offset += self.buf.len() as u64;
            self.buf.clear();
        }
        Ok(())
    }
}

impl io::Write for SeqWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.len() + data.len() > self.capacity {
            self.flush_buf()?;
        }
        if data.len() >= self.capacity {
            self.file.write_all_at(data, self.offset)?;
            self.offset += data.len() as u64;
        } else {
            self.buf.extend_from_slice(data);
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_buf()
    }
}

impl fmt::Debug for SeqWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeqWriter")
            .field("file", &self.file)
            .field("position", &self.position())
            .field("buffered", &self.buf.len())
            .finish()
    }
}

/// Names in `dir` that are temporary files (see [`is_temp_path`]), sorted.
pub fn temp_files(fs: &dyn Fs, dir: &Path) -> Result<Vec<OsString>> {
    Ok(fs
        .read_dir(dir)
        .at("list directory", dir)?
        .into_iter()
        .filter(|n| is_temp_path(n))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names() {
        assert_eq!(temp_path(Path::new("MANIFEST")), Path::new("MANIFEST.tmp"));
        assert!(is_temp_path(OsStr::new("seg-1.vec.tmp")));
        assert!(!is_temp_path(OsStr::new("seg-1.vec")));
        assert!(!is_temp_path(OsStr::new("tmp")));
        assert_eq!(parent_dir(Path::new("MANIFEST")), Path::new("."));
        assert_eq!(parent_dir(Path::new("/db/MANIFEST")), Path::new("/db"));
    }
}
