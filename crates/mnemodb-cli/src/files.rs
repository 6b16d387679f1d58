//! Reading untrusted mnemodb files: whole into memory (never mapped: another process could
//! truncate a mapped file under us), and telling their kind from the prefix.
use std::path::{Path, PathBuf};

use mnemodb_format::{FileKind, FilePrefix, MAGIC};
use mnemodb_io::ReadOnlyBytes;

use crate::error::{CliError, Result};

/// Read `path` into an aligned heap buffer.
pub fn read(path: &Path) -> Result<ReadOnlyBytes> {
    if path.is_dir() {
        return Err(CliError::invalid(format!(
            "{} is a directory, expected a file",
            path.display()
        )));
    }
    ReadOnlyBytes::read_file(path).map_err(|e| CliError::io("read", path, &e))
}

/// The kind the file's prefix claims (no other check).
pub fn kind_of(bytes: &[u8], path: &Path) -> Result<FileKind> {
    let prefix: Option<FilePrefix> = mnemodb_format::read_pod(bytes, 0);
    let Some(prefix) = prefix.filter(|p| p.magic == MAGIC) else {
        return Err(CliError::corrupt(format!(
            "{}: not a mnemodb file (bad magic at byte offset 0)",
            path.display()
        )));
    };
    FileKind::from_u32(prefix.kind).ok_or_else(|| {
        CliError::corrupt(format!(
            "{}: unknown file kind {} at byte offset 8",
            path.display(),
            prefix.kind
        ))
    })
}

/// The segment file an index file belongs to: `seg-7.hnsw` → `seg-7.vec` beside it.
pub fn sibling_segment(index: &Path) -> PathBuf {
    index.with_extension("vec")
}

/// Entries of a directory, sorted by name (`[]` when it does not exist).
pub fn list_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(CliError::io("list", dir, &e)),
    };
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| CliError::io("list", dir, &e))?;
        out.push(entry.path());
    }
    out.sort();
    Ok(out)
}
