use std::path::Path;

use crate::error::{FormatError, Result};

/// Read a `T` from `bytes[offset..]` without alignment requirements, or `None` when the
/// slice is too short.
pub fn read_pod<T: bytemuck::Pod>(bytes: &[u8], offset: usize) -> Option<T> {
    let end = offset.checked_add(std::mem::size_of::<T>())?;
    bytes
        .get(offset..end)
        .and_then(|b| bytemuck::try_pod_read_unaligned(b).ok())
}

/// A bounds-checked little-endian reader over a byte slice, for variable-length records
/// (WAL frames, manifests, checkpoints). Every failure is [`FormatError::Corrupted`] with
/// the absolute file offset of the read that failed.
#[derive(Debug)]
pub struct ByteReader<'a> {
    bytes: &'a [u8],
    pos: usize,
    base_offset: u64,
    file: &'a Path,
}

impl<'a> ByteReader<'a> {
    /// Read `bytes`, which start at `base_offset` in `file`.
    pub fn new(bytes: &'a [u8], base_offset: u64, file: &'a Path) -> Self {
        ByteReader {
            bytes,
            pos: 0,
            base_offset,
            file,
        }
    }

    /// Absolute file offset of the next byte.
    pub fn offset(&self) -> u64 {
        self.base_offset + self.pos as u64
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// A [`FormatError::Corrupted`] at the current offset.
    pub fn error(&self, what: impl Into<String>) -> FormatError {
        FormatError::corrupted(self.file, self.offset(), what)
    }

    /// The next `n` bytes.
    pub fn bytes(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| {
                self.error(format!(
                    "truncated {what}: need {n} bytes, {} left",
                    self.remaining()
                ))
            })?;
        let out = self
            .bytes
            .get(self.pos..end)
            .ok_or_else(|| self.error(format!("truncated {what}")))?;
        self.pos = end;
        Ok(out)
    }

    /// The next fixed-size array.
    pub fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let b = self.bytes(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    /// Next byte.
    pub fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.array::<1>(what)?[0])
    }

    /// Next little-endian `u16`.
    pub fn u16(&mut self, what: &str) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    /// Next little-endian `u32`.
    pub fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    /// Next little-endian `u64`.
    pub fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// Next little-endian `i64`.
    pub fn i64(&mut self, what: &str) -> Result<i64> {
        Ok(i64::from_le_bytes(self.array(what)?))
    }

    /// Next little-endian `f64`.
    pub fn f64(&mut self, what: &str) -> Result<f64> {
        Ok(f64::from_le_bytes(self.array(what)?))
    }

    /// A length prefix (`u32`) followed by that many bytes, refused when the length is
    /// larger than what is left (so a corrupt length never drives an allocation).
    pub fn len_prefixed(&mut self, what: &str) -> Result<&'a [u8]> {
        let at = self.offset();
        let n = self.u32(what)? as usize;
        if n > self.remaining() {
            return Err(FormatError::corrupted(
                self.file,
                at,
                format!(
                    "{what}: length {n} exceeds the {} bytes left",
                    self.remaining()
                ),
            ));
        }
        self.bytes(n, what)
    }

    /// Fail unless every byte was consumed.
    pub fn finish(&self, what: &str) -> Result<()> {
        if self.remaining() == 0 {
            Ok(())
        } else {
            Err(self.error(format!("{} trailing bytes after {what}", self.remaining())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_refuses_truncation() {
        let mut buf = Vec::new();
        buf.extend_from_slice(&7u32.to_le_bytes());
        buf.extend_from_slice(&u64::MAX.to_le_bytes());
        buf.extend_from_slice(&3u32.to_le_bytes());
        buf.extend_from_slice(b"ab");
        let f = Path::new("x");
        let mut r = ByteReader::new(&buf, 1000, f);
        assert_eq!(r.u32("a").unwrap(), 7);
        assert_eq!(r.u64("b").unwrap(), u64::MAX);
        let err = r.len_prefixed("name").unwrap_err();
        assert_eq!(err.offset(), Some(1012));
        assert!(read_pod::<u64>(&buf, buf.len() - 4).is_none());
        assert_eq!(read_pod::<u32>(&buf, 0), Some(7));
        assert!(read_pod::<u32>(&buf, usize::MAX).is_none());
    }
}
