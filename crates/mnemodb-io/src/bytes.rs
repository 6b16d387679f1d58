//! [`ReadOnlyBytes`]: the immutable, 64-byte aligned content of a file.
//!
//! Two representations behind one `Arc`: a read-only memory map (see [`crate::mmap`] for
//! its safety contract) or an aligned heap buffer. Either way the first byte is 64-byte
//! aligned, so zero-copy casts of 64-byte aligned sections cannot fail on a valid file.
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;

use bytemuck::{Pod, Zeroable};
use memmap2::Mmap;

/// The alignment [`ReadOnlyBytes`] guarantees for its first byte.
pub const ALIGNMENT: usize = 64;

/// One 64-byte aligned block of the heap representation.
#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C, align(64))]
struct Align64([u8; ALIGNMENT]);

const _: () = assert!(size_of::<Align64>() == ALIGNMENT && align_of::<Align64>() == ALIGNMENT);

enum Repr {
    /// `len` bytes at the start of `blocks`.
    Heap { blocks: Vec<Align64>, len: usize },
    /// A read-only map of a whole, non-empty file.
    Map(Mmap),
}

/// Immutable bytes whose start is 64-byte aligned; cheap to clone (an `Arc`), `Send + Sync`.
///
/// ```
/// let bytes = mnemodb_io::ReadOnlyBytes::copy_from_slice(b"abc");
/// assert_eq!(&bytes[..], b"abc");
/// assert_eq!(bytes.as_ptr() as usize % mnemodb_io::ALIGNMENT, 0);
/// assert!(!bytes.is_mapped());
/// ```
#[derive(Clone)]
pub struct ReadOnlyBytes {
    repr: Arc<Repr>,
}

impl ReadOnlyBytes {
    /// An aligned heap copy of `bytes`.
    pub fn copy_from_slice(bytes: &[u8]) -> Self {
        let mut blocks = zeroed_blocks(bytes.len());
        bytemuck::cast_slice_mut::<Align64, u8>(&mut blocks)[..bytes.len()].copy_from_slice(bytes);
        Self::heap(blocks, bytes.len())
    }

    /// Read the whole file at `path` into an aligned heap buffer (no map): for inspecting
    /// untrusted files, which another process might truncate under a map. The length is
    /// taken once from the file's metadata; a file that shrinks meanwhile gives
    /// `UnexpectedEof`, bytes appended meanwhile are not read.
    pub fn read_file(path: &Path) -> io::Result<Self> {
        let mut file = File::open(path)?;
        let len = file_len_usize(&file)?;
        let mut blocks = zeroed_blocks(len);
        file.read_exact(&mut bytemuck::cast_slice_mut::<Align64, u8>(&mut blocks)[..len])?;
        Ok(Self::heap(blocks, len))
    }

    /// Whether the bytes are a memory map (else an aligned heap buffer).
    pub fn is_mapped(&self) -> bool {
        matches!(*self.repr, Repr::Map(_))
    }

    /// Wrap a map made by [`crate::mmap`].
    pub(crate) fn from_mmap(map: Mmap) -> Self {
        ReadOnlyBytes {
            repr: Arc::new(Repr::Map(map)),
        }
    }

    fn heap(blocks: Vec<Align64>, len: usize) -> Self {
        debug_assert!(len <= blocks.len() * ALIGNMENT);
        ReadOnlyBytes {
            repr: Arc::new(Repr::Heap { blocks, len }),
        }
    }
}

/// Enough zeroed blocks for `len` bytes.
fn zeroed_blocks(len: usize) -> Vec<Align64> {
    vec![Align64([0; ALIGNMENT]); len.div_ceil(ALIGNMENT)]
}

/// The file's length as a `usize`, or `FileTooLarge` when it does not fit in memory.
pub(crate) fn file_len_usize(file: &File) -> io::Result<usize> {
    let len = file.metadata()?.len();
    usize::try_from(len).map_err(|_| {
        io::Error::new(
            io::ErrorKind::FileTooLarge,
            format!("file of {len} bytes does not fit in the address space"),
        )
    })
}

impl Deref for ReadOnlyBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &*self.repr {
            Repr::Heap { blocks, len } => &bytemuck::cast_slice::<Align64, u8>(blocks)[..*len],
            Repr::Map(map) => map,
        }
    }
}

impl AsRef<[u8]> for ReadOnlyBytes {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl Default for ReadOnlyBytes {
    /// Empty (still 64-byte aligned).
    fn default() -> Self {
        Self::copy_from_slice(&[])
    }
}

impl fmt::Debug for ReadOnlyBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadOnlyBytes")
            .field("len", &self.len())
            .field("mapped", &self.is_mapped())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heap_copies_are_aligned_for_every_length() {
        for len in [0, 1, 63, 64, 65, 1000] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let b = ReadOnlyBytes::copy_from_slice(&data);
            assert_eq!(&b[..], &data[..]);
            assert_eq!(b.as_ptr() as usize % ALIGNMENT, 0, "len {len}");
            let clone = b.clone();
            assert_eq!(clone.as_ptr(), b.as_ptr(), "clone shares the buffer");
        }
    }

    #[test]
    fn debug_shows_length_only() {
        let b = ReadOnlyBytes::copy_from_slice(&[9; 100]);
        assert_eq!(
            format!("{b:?}"),
            "ReadOnlyBytes { len: 100, mapped: false }"
        );
    }

    #[test]
    fn send_sync() {
        fn check<T: Send + Sync>() {}
        check::<ReadOnlyBytes>();
    }
}
