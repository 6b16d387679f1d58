//! Damage files on disk for corrupt-file tests.
use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

/// Flip bit `bit` (counted from the start of the file, LSB first within a byte).
pub fn flip_bit(path: &Path, bit: u64) -> std::io::Result<()> {
    let mut f = OpenOptions::new().read(true).write(true).open(path)?;
    f.seek(SeekFrom::Start(bit / 8))?;
    let mut b = [0u8];
    f.read_exact(&mut b)?;
    b[0] ^= 1 << (bit % 8);
    f.seek(SeekFrom::Start(bit / 8))?;
    f.write_all(&b)
}

/// Overwrite bytes at `offset`.
pub fn patch(path: &Path, offset: u64, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = OpenOptions::new().write(true).open(path)?;
    f.seek(SeekFrom::Start(offset))?;
    f.write_all(bytes)
}

/// Truncate (or extend with zeros) to `len` bytes.
pub fn set_len(path: &Path, len: u64) -> std::io::Result<()> {
    OpenOptions::new().write(true).open(path)?.set_len(len)
}

/// Flip bit `bit` of a byte buffer (for in-memory images).
pub fn flip_bit_in(bytes: &mut [u8], bit: usize) {
    bytes[bit / 8] ^= 1 << (bit % 8);
}
