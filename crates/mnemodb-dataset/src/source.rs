//! A buffered byte source that knows its name, its position and (when it can) its length.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::error::{DatasetError, Result};

/// Buffer size for files: big reads keep the 77 MB shared base set well under a second.
const FILE_BUFFER: usize = 1 << 20;
/// Buffer size for readers of unknown length.
const STREAM_BUFFER: usize = 64 << 10;

/// Name used in messages for in-memory input.
pub(crate) const MEMORY_NAME: &str = "<memory>";

/// Buffered input with the bookkeeping that error messages need.
#[derive(Debug)]
pub(crate) struct Source<R> {
    reader: BufReader<R>,
    path: PathBuf,
    /// Bytes consumed so far.
    pos: u64,
    /// Total length, when known (files, byte slices).
    len: Option<u64>,
}

impl Source<File> {
    /// Opens `path` for reading.
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| DatasetError::io(path, "open", e))?;
        let len = file
            .metadata()
            .map_err(|e| DatasetError::io(path, "stat", e))?
            .len();
        let capacity = usize::try_from(len.saturating_add(16))
            .unwrap_or(FILE_BUFFER)
            .min(FILE_BUFFER);
        Ok(Source {
            reader: BufReader::with_capacity(capacity, file),
            path: path.to_path_buf(),
            pos: 0,
            len: Some(len),
        })
    }
}

impl<'a> Source<&'a [u8]> {
    /// Reads from a byte slice; messages call it [`MEMORY_NAME`].
    pub(crate) fn from_bytes(bytes: &'a [u8]) -> Self {
        let capacity = bytes.len().clamp(16, STREAM_BUFFER);
        Source {
            reader: BufReader::with_capacity(capacity, bytes),
            path: PathBuf::from(MEMORY_NAME),
            pos: 0,
            len: Some(bytes.len() as u64),
        }
    }
}

impl<R: Read> Source<R> {
    /// Reads from any reader of unknown length; messages call it `name`.
    pub(crate) fn from_reader(reader: R, name: PathBuf) -> Self {
        Source {
            reader: BufReader::with_capacity(STREAM_BUFFER, reader),
            path: name,
            pos: 0,
            len: None,
        }
    }

    /// The name used in messages.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes consumed so far (the offset of the next byte).
    pub(crate) fn pos(&self) -> u64 {
        self.pos
    }

    /// Bytes left, when the total length is known.
    pub(crate) fn remaining(&self) -> Option<u64> {
        self.len.map(|len| len.saturating_sub(self.pos))
    }

    /// Total length, when known.
    pub(crate) fn len(&self) -> Option<u64> {
        self.len
    }

    /// Fills `buf` as far as the input allows; returns how many bytes were read (short only
    /// at end of input). `record` is for the error message.
    pub(crate) fn read_up_to(&mut self, buf: &mut [u8], record: u64) -> Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            let Some(rest) = buf.get_mut(filled..) else {
                break;
            };
            match self.reader.read(rest) {
                Ok(0) => break,
                Ok(n) => {
                    filled += n;
                    self.pos += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.read_error(record, e)),
            }
        }
        Ok(filled)
    }

    /// Appends up to `n` bytes to `out`, growing it only as bytes actually arrive (a huge `n`
    /// from a hostile header cannot cause a huge allocation). Returns how many were appended.
    pub(crate) fn append_up_to(&mut self, n: u64, out: &mut Vec<u8>, record: u64) -> Result<u64> {
        let before = out.len();
        let result = (&mut self.reader).take(n).read_to_end(out);
        let got = (out.len() - before) as u64;
        self.pos += got;
        match result {
            Ok(_) => Ok(got),
            Err(e) => Err(self.read_error(record, e)),
        }
    }

    fn read_error(&self, record: u64, source: io::Error) -> DatasetError {
        DatasetError::Read {
            path: self.path.clone(),
            record,
            offset: self.pos,
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks_position_and_stops_at_end() {
        let data = [1u8, 2, 3, 4, 5];
        let mut src = Source::from_bytes(&data);
        let mut buf = [0u8; 3];
        assert_eq!(src.read_up_to(&mut buf, 0).unwrap(), 3);
        assert_eq!(src.pos(), 3);
        assert_eq!(src.remaining(), Some(2));
        let mut out = Vec::new();
        assert_eq!(src.append_up_to(10, &mut out, 0).unwrap(), 2);
        assert_eq!(out, [4, 5]);
        assert_eq!(src.read_up_to(&mut buf, 0).unwrap(), 0);
    }

    #[test]
    fn huge_request_allocates_only_what_arrives() {
        let data = [0u8; 8];
        let mut src = Source::from_bytes(&data);
        let mut out = Vec::new();
        assert_eq!(src.append_up_to(u64::MAX, &mut out, 0).unwrap(), 8);
        assert!(out.capacity() < 1 << 16);
    }
}
