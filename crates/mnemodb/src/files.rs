//! File names and whole-file checks shared by recovery, sealing and compaction.
use std::path::{Path, PathBuf};

use mnemodb_format::crc32;
use mnemodb_io::{Fs, IoContext, OpenOptions};

use crate::error::{Error, Result};
use crate::manifest::FileRef;

/// Directory of collection `id`'s segment files, relative to the database.
pub(crate) fn collection_dir(id: u32) -> String {
    format!("c{id}")
}

/// Relative path of segment `generation`'s vectors.
pub(crate) fn segment_path(collection: u32, generation: u64) -> String {
    format!("{}/seg-{generation:016}.vec", collection_dir(collection))
}

/// Relative path of segment `generation`'s HNSW index.
pub(crate) fn index_path(collection: u32, generation: u64) -> String {
    format!("{}/seg-{generation:016}.hnsw", collection_dir(collection))
}

/// Relative path of a metadata checkpoint.
pub(crate) fn checkpoint_path(collection: u32, lsn: u64) -> String {
    format!("meta/c{collection}-{lsn:020}.ckpt")
}

/// Bytes of the HNSW header the manifest fingerprints.
pub(crate) const INDEX_HEADER_BYTES: usize = mnemodb_format::HnswLayout::HEADER_SIZE as usize;

/// Read `len` bytes at the start of `path`.
pub(crate) fn read_prefix(fs: &dyn Fs, path: &Path, len: usize) -> Result<Vec<u8>> {
    let f = fs.open(path, OpenOptions::read()).at("open", path)?;
    let mut buf = vec![0u8; len];
    f.read_exact_at(&mut buf, 0).at("read", path)?;
    Ok(buf)
}

/// CRC of the first `INDEX_HEADER_BYTES` of an index file.
pub(crate) fn index_fingerprint(fs: &dyn Fs, path: &Path) -> Result<u32> {
    Ok(crc32(&read_prefix(fs, path, INDEX_HEADER_BYTES)?))
}

/// Check that `file` exists with exactly the recorded length.
pub(crate) fn check_len(
    fs: &dyn Fs,
    dir: &Path,
    file: &FileRef,
    manifest: &str,
) -> Result<PathBuf> {
    let path = dir.join(&file.path);
    match fs.file_len(&path) {
        Ok(len) if len == file.len => Ok(path),
        Ok(len) => Err(Error::corrupted(
            &path,
            len.min(file.len),
            format!(
                "{len} bytes, but {manifest} records {} (truncated, extended or replaced)",
                file.len
            ),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::corrupted(
            &path,
            0,
            format!("missing, but {manifest} references it"),
        )),
        Err(e) => Err(mnemodb_io::Error::Io {
            path,
            op: "stat",
            source: e,
        }
        .into()),
    }
}

/// Create `dir` and its missing parents so that they survive a power loss: a new
/// directory's entry is durable only once its parent directory is synced, which must
/// happen before a manifest references anything inside it. Returns whether `dir` was
/// created. (Directories left unsynced by a crashed process are synced at open, where the
/// WAL syncs the database directory.)
pub(crate) fn create_dir_durably(fs: &dyn Fs, dir: &Path) -> Result<bool> {
    let mut created = Vec::new();
    let mut p = dir;
    while !fs.exists(p).at("stat", p)? {
        created.push(p);
        match p.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => p = parent,
            _ => break,
        }
    }
    fs.create_dir_all(dir).at("create directory", dir)?;
    for d in created.iter().rev() {
        mnemodb_io::sync_parent_dir(fs, d)?;
    }
    Ok(!created.is_empty())
}
