//! Read-only memory maps of immutable files: the only `Mmap::map` call in the workspace.
//!
//! # Contract
//!
//! Callers map only sealed files, which nobody writes again: the engine never rewrites or
//! truncates a published file, and the `LOCK` file keeps a second mnemodb process out.
//! Mapping is still unsafe in the Rust sense because the OS cannot enforce that promise:
//!
//! - a write to the file by anyone while it is mapped changes bytes that safe code already
//!   holds as `&[u8]`;
//! - **a file truncated by another process while mapped makes reads past the new end raise
//!   `SIGBUS`**, which kills the process. This is why untrusted files (the CLI's inspection
//!   commands) are read into memory with [`ReadOnlyBytes::read_file`] instead.
//!
//! The length is read once from the file's metadata and the map covers exactly `[0, len)`.
//! An empty file is returned as an empty aligned heap buffer (a map of length 0 is an error).
use std::fs::File;
use std::io;
use std::path::Path;

use memmap2::MmapOptions;

use crate::bytes::{ReadOnlyBytes, file_len_usize};

/// Map the whole file at `path` read-only. See the module doc for the contract.
pub(crate) fn map_file(path: &Path) -> io::Result<ReadOnlyBytes> {
    let file = File::open(path)?;
    if file.metadata()?.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::IsADirectory,
            "cannot map a directory",
        ));
    }
    let len = file_len_usize(&file)?;
    if len == 0 {
        return Ok(ReadOnlyBytes::default());
    }
    // SAFETY: the map is read-only (`map`, not `map_mut`), so this process never writes
    // through it. Callers map only sealed, immutable files and hold the database `LOCK`, so no
    // one writes or truncates the file while the map lives; a violation by a foreign process
    // can at worst change the bytes seen or raise SIGBUS past a new end (module doc), which is
    // the documented contract of `Fs::map_readonly`. `len` is the file's length read just now,
    // so the map does not extend past the end of the file as it is.
    let map = unsafe { MmapOptions::new().len(len).map(&file) }?;
    Ok(ReadOnlyBytes::from_mmap(map))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg_attr(miri, ignore)]
    #[test]
    fn maps_content_and_empty_files() {
        let dir = tempfile::tempdir().unwrap();
        let full = dir.path().join("full");
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&full, &data).unwrap();
        let b = map_file(&full).unwrap();
        assert!(b.is_mapped());
        assert_eq!(&b[..], &data[..]);
        assert_eq!(b.as_ptr() as usize % crate::ALIGNMENT, 0);

        let empty = dir.path().join("empty");
        std::fs::write(&empty, b"").unwrap();
        let e = map_file(&empty).unwrap();
        assert!(!e.is_mapped());
        assert!(e.is_empty());
        assert_eq!(e.as_ptr() as usize % crate::ALIGNMENT, 0);

        assert_eq!(
            map_file(dir.path()).unwrap_err().kind(),
            io::ErrorKind::IsADirectory
        );
        assert_eq!(
            map_file(&dir.path().join("missing")).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
    }
}
