use std::io::{self, Write};

/// CRC32 (IEEE, as `crc32fast` computes it) of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

/// CRC32 of the concatenation of `parts`, without concatenating them.
pub fn crc32_parts(parts: &[&[u8]]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    for p in parts {
        h.update(p);
    }
    h.finalize()
}

/// The CRC32 of each of a file's consecutive parts and of the whole file, from one read of
/// the bytes: for files whose parts carry their own checksums while the whole file's CRC
/// is recorded elsewhere (a manifest), so checking both does not read the file twice.
#[derive(Debug, Clone, Default)]
pub struct ChainedCrc {
    whole: crc32fast::Hasher,
}

impl ChainedCrc {
    /// Nothing checksummed yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The CRC32 of `part`, the bytes that follow the parts given so far; the whole
    /// file's CRC now covers it too.
    pub fn part(&mut self, part: &[u8]) -> u32 {
        let mut h = crc32fast::Hasher::new();
        h.update(part);
        self.whole.combine(&h);
        h.finalize()
    }

    /// The CRC32 of every part given so far, back to back.
    pub fn whole(&self) -> u32 {
        self.whole.clone().finalize()
    }
}

/// A [`Write`] adapter that checksums and counts every byte it passes on.
///
/// Used by streaming writers: the CRC of a section is known the moment its last byte has
/// been written, without reading the file back.
#[derive(Debug)]
pub struct Crc32Writer<W> {
    inner: W,
    hasher: crc32fast::Hasher,
    written: u64,
}

impl<W: Write> Crc32Writer<W> {
    /// Wrap `inner`.
    pub fn new(inner: W) -> Self {
        Crc32Writer {
            inner,
            hasher: crc32fast::Hasher::new(),
            written: 0,
        }
    }

    /// CRC of everything written so far (the writer keeps going).
    pub fn crc(&self) -> u32 {
        self.hasher.clone().finalize()
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Restart the checksum (not the byte count) at the current position.
    pub fn reset_crc(&mut self) -> u32 {
        std::mem::take(&mut self.hasher).finalize()
    }

    /// The inner writer, the CRC and the byte count.
    pub fn finish(self) -> (W, u32, u64) {
        (self.inner, self.hasher.finalize(), self.written)
    }

    /// Borrow the inner writer.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }
}

impl<W: Write> Write for Crc32Writer<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        let done = buf.get(..n).unwrap_or(buf);
        self.hasher.update(done);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chained_parts_give_each_crc_and_the_whole() {
        let bytes: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
        for cuts in [[0, 0], [1, 999], [128, 700], [500, 500]] {
            let mut c = ChainedCrc::new();
            let parts = [
                &bytes[..cuts[0]],
                &bytes[cuts[0]..cuts[1]],
                &bytes[cuts[1]..],
            ];
            for p in parts {
                assert_eq!(c.part(p), crc32(p));
            }
            assert_eq!(c.whole(), crc32(&bytes));
        }
    }

    #[test]
    fn streaming_crc_equals_one_shot() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let mut w = Crc32Writer::new(Vec::new());
        for chunk in data.chunks(777) {
            w.write_all(chunk).unwrap();
        }
        assert_eq!(w.crc(), crc32(&data));
        let (inner, crc, n) = w.finish();
        assert_eq!(inner, data);
        assert_eq!(crc, crc32(&data));
        assert_eq!(n, data.len() as u64);
        assert_eq!(crc32_parts(&[&data[..10], &data[10..]]), crc32(&data));
    }

    #[test]
    fn reset_crc_splits_sections() {
        let mut w = Crc32Writer::new(Vec::new());
        w.write_all(b"abc").unwrap();
        assert_eq!(w.reset_crc(), crc32(b"abc"));
        w.write_all(b"def").unwrap();
        assert_eq!(w.crc(), crc32(b"def"));
        assert_eq!(w.written(), 6);
    }
}
