//! Streaming readers for the TEXMEX formats `.fvecs`, `.ivecs` and `.bvecs`.
//!
//! | bytes | field |
//! |---|---|
//! | 4 | `dim`: little-endian `i32`, `1..=MAX_DIM`, the same in every record |
//! | `dim × size` | the values: `f32` (`.fvecs`), `i32` (`.ivecs`) or `u8` (`.bvecs`), little-endian |
//!
//! Records follow each other with no header, padding or footer; an empty file holds zero
//! records. A record's dimension is checked against `1..=MAX_DIM` and against the first
//! record before any buffer is sized for it, and buffers grow only as bytes arrive.

use std::fs::File;
use std::io::Read;
use std::iter::FusedIterator;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use crate::element::Element;
use crate::error::{DatasetError, Result};
use crate::source::Source;

/// The largest vector dimension (values per record or row) any reader accepts.
pub const MAX_DIM: usize = mnemodb_distance::MAX_DIM;

/// A streaming `.fvecs` reader (`f32` values).
pub type FvecsReader<R = File> = VecsReader<f32, R>;
/// A streaming `.ivecs` reader (`i32` values, usually ground-truth ids).
pub type IvecsReader<R = File> = VecsReader<i32, R>;
/// A streaming `.bvecs` reader (`u8` values; see [`VecsReader::next_f32_into`]).
pub type BvecsReader<R = File> = VecsReader<u8, R>;

/// Reads TEXMEX records one at a time, through a large buffer.
///
/// Use it as an [`Iterator`] of `Result<Vec<T>>` (one allocation per record), or call
/// [`VecsReader::next_into`] to reuse one buffer. After an error the reader is finished:
/// further calls return `Ok(false)` / `None`.
///
/// ```
/// use mnemodb_dataset::FvecsReader;
///
/// let mut bytes = Vec::new();
/// for row in [[1.0f32, 2.0], [3.0, 4.0]] {
///     bytes.extend_from_slice(&2i32.to_le_bytes());
///     for v in row {
///         bytes.extend_from_slice(&v.to_le_bytes());
///     }
/// }
/// let mut reader = FvecsReader::from_bytes(&bytes)?;
/// assert_eq!(reader.dim(), Some(2));
/// let mut row = Vec::new();
/// while reader.next_into(&mut row)? {
///     assert_eq!(row.len(), 2);
/// }
/// assert_eq!(reader.records_read(), 2);
/// # Ok::<(), mnemodb_dataset::DatasetError>(())
/// ```
#[derive(Debug)]
pub struct VecsReader<T: Element, R = File> {
    source: Source<R>,
    /// Dimension of the first record (known once it was peeked).
    dim: Option<usize>,
    /// Validated dimension of the next record, when its header was read already.
    peeked: Option<usize>,
    /// 0-based number of the next record.
    record: u64,
    /// Byte offset where the record being read starts.
    record_start: u64,
    /// Raw bytes of the current record, reused.
    bytes: Vec<u8>,
    /// End of input reached, or an error returned.
    done: bool,
    _values: PhantomData<T>,
}

impl<T: Element> VecsReader<T, File> {
    /// Opens a file and reads the first record's dimension.
    ///
    /// # Errors
    /// [`DatasetError::Io`] when the file cannot be opened; the errors of
    /// [`VecsReader::next_into`] when the first record's header is invalid.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::start(Source::open(path.as_ref())?)
    }
}

impl<'a, T: Element> VecsReader<T, &'a [u8]> {
    /// Reads records from bytes in memory (messages call it `<memory>`).
    ///
    /// # Errors
    /// As [`VecsReader::open`], for the first record's header.
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Self> {
        Self::start(Source::from_bytes(bytes))
    }
}

impl<T: Element, R: Read> VecsReader<T, R> {
    /// Reads records from any reader; `name` is used in error messages.
    ///
    /// # Errors
    /// As [`VecsReader::open`], for the first record's header.
    pub fn from_reader(reader: R, name: impl Into<PathBuf>) -> Result<Self> {
        Self::start(Source::from_reader(reader, name.into()))
    }

    fn start(source: Source<R>) -> Result<Self> {
        let mut reader = VecsReader {
            source,
            dim: None,
            peeked: None,
            record: 0,
            record_start: 0,
            bytes: Vec::new(),
            done: false,
            _values: PhantomData,
        };
        reader.peeked = reader.read_header()?;
        reader.dim = reader.peeked;
        reader.done = reader.peeked.is_none();
        Ok(reader)
    }

    /// The vectors' dimension: known from the first record, `None` for an empty input.
    pub fn dim(&self) -> Option<usize> {
        self.dim
    }

    /// The file name (or the name given to [`VecsReader::from_reader`]).
    pub fn path(&self) -> &Path {
        self.source.path()
    }

    /// Records returned so far.
    pub fn records_read(&self) -> u64 {
        self.record
    }

    /// How many records the whole input holds, judged from its length and the first
    /// record's dimension; `None` when the length is unknown or the input is empty. An
    /// estimate: a damaged file fails while being read.
    pub fn expected_records(&self) -> Option<u64> {
        let dim = self.dim?;
        let record_len = 4 + (dim * T::SIZE) as u64;
        Some(self.source.len()? / record_len)
    }

    /// Reads the next record into `out` (cleared first). Returns `Ok(false)` at the end of
    /// the input.
    ///
    /// # Errors
    /// [`DatasetError::Truncated`] when the input ends inside a record,
    /// [`DatasetError::InvalidDim`] for a dimension outside `1..=MAX_DIM`,
    /// [`DatasetError::DimMismatch`] when it differs from the first record's,
    /// [`DatasetError::Read`] on an I/O error.
    pub fn next_into(&mut self, out: &mut Vec<T>) -> Result<bool> {
        out.clear();
        self.append_next(out)
    }

    /// Reads the next record and appends its values to `out`. Returns `Ok(false)` at the end
    /// of the input.
    ///
    /// # Errors
    /// As [`VecsReader::next_into`].
    pub fn append_next(&mut self, out: &mut Vec<T>) -> Result<bool> {
        if !self.next_record_bytes()? {
            return Ok(false);
        }
        T::decode_append(&self.bytes, out);
        Ok(true)
    }

    /// Reads every remaining record into one row-major buffer. Returns the dimension (0 for
    /// an empty input) and the values.
    ///
    /// # Errors
    /// As [`VecsReader::next_into`].
    pub fn read_all(mut self) -> Result<(usize, Vec<T>)> {
        let mut data = Vec::new();
        if let (Some(records), Some(dim)) = (self.expected_records(), self.dim) {
            // Bounded by the input's length, which is known here.
            data.reserve(usize::try_from(records).unwrap_or(0).saturating_mul(dim));
        }
        while self.append_next(&mut data)? {}
        Ok((self.dim.unwrap_or(0), data))
    }

    /// Reads the next record's bytes into `self.bytes`; false at the end of the input.
    fn next_record_bytes(&mut self) -> Result<bool> {
        if self.done {
            return Ok(false);
        }
        let result = self.read_record_bytes();
        if !matches!(result, Ok(true)) {
            self.done = true;
        }
        result
    }

    fn read_record_bytes(&mut self) -> Result<bool> {
        let dim = match self.peeked.take() {
            Some(dim) => dim,
            None => match self.read_header()? {
                Some(dim) => dim,
                None => return Ok(false),
            },
        };
        let needed = (dim * T::SIZE) as u64;
        self.bytes.clear();
        let got = self
            .source
            .append_up_to(needed, &mut self.bytes, self.record)?;
        if got < needed {
            return Err(self.truncated(dim, 4 + got));
        }
        self.record += 1;
        Ok(true)
    }

    /// Reads and validates the next record's dimension; `None` at a clean end of input.
    fn read_header(&mut self) -> Result<Option<usize>> {
        self.record_start = self.source.pos();
        let mut word = [0u8; 4];
        let got = self.source.read_up_to(&mut word, self.record)?;
        if got == 0 {
            return Ok(None);
        }
        if got < word.len() {
            return Err(DatasetError::Truncated {
                path: self.source.path().to_path_buf(),
                record: self.record,
                offset: self.record_start,
                needed: 4,
                found: got as u64,
            });
        }
        let raw = i32::from_le_bytes(word);
        let dim = match usize::try_from(raw) {
            Ok(dim) if (1..=MAX_DIM).contains(&dim) => dim,
            _ => {
                return Err(DatasetError::InvalidDim {
                    path: self.source.path().to_path_buf(),
                    record: self.record,
                    offset: self.record_start,
                    dim: i64::from(raw),
                    max: MAX_DIM,
                });
            }
        };
        if let Some(expected) = self.dim
            && expected != dim
        {
            return Err(DatasetError::DimMismatch {
                path: self.source.path().to_path_buf(),
                record: self.record,
                offset: self.record_start,
                expected,
                found: dim,
            });
        }
        // Fail before reading the values when the length says they are not all there.
        if let Some(remaining) = self.source.remaining()
            && remaining < (dim * T::SIZE) as u64
        {
            return Err(self.truncated(dim, 4 + remaining));
        }
        Ok(Some(dim))
    }

    fn truncated(&self, dim: usize, found: u64) -> DatasetError {
        DatasetError::Truncated {
            path: self.source.path().to_path_buf(),
            record: self.record,
            offset: self.record_start,
            needed: 4 + (dim * T::SIZE) as u64,
            found,
        }
    }
}

impl<R: Read> VecsReader<u8, R> {
    /// Reads the next `.bvecs` record into `out` (cleared first), converting each byte to
    /// `f32` exactly. Returns `Ok(false)` at the end of the input.
    ///
    /// # Errors
    /// As [`VecsReader::next_into`].
    pub fn next_f32_into(&mut self, out: &mut Vec<f32>) -> Result<bool> {
        out.clear();
        self.append_next_f32(out)
    }

    /// Reads the next `.bvecs` record and appends its values, as `f32`, to `out`.
    ///
    /// # Errors
    /// As [`VecsReader::next_into`].
    pub fn append_next_f32(&mut self, out: &mut Vec<f32>) -> Result<bool> {
        if !self.next_record_bytes()? {
            return Ok(false);
        }
        out.extend(self.bytes.iter().map(|&b| f32::from(b)));
        Ok(true)
    }

    /// Reads every remaining record, converted to `f32`, into one row-major buffer. Returns
    /// the dimension (0 for an empty input) and the values.
    ///
    /// # Errors
    /// As [`VecsReader::next_into`].
    pub fn read_all_f32(mut self) -> Result<(usize, Vec<f32>)> {
        let mut data = Vec::new();
        if let (Some(records), Some(dim)) = (self.expected_records(), self.dim) {
            data.reserve(usize::try_from(records).unwrap_or(0).saturating_mul(dim));
        }
        while self.append_next_f32(&mut data)? {}
        Ok((self.dim.unwrap_or(0), data))
    }
}

impl<T: Element, R: Read> Iterator for VecsReader<T, R> {
    type Item = Result<Vec<T>>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut row = Vec::with_capacity(self.dim.unwrap_or(0));
        match self.next_into(&mut row) {
            Ok(true) => Some(Ok(row)),
            Ok(false) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

impl<T: Element, R: Read> FusedIterator for VecsReader<T, R> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(dim: i32, values: &[f32]) -> Vec<u8> {
        let mut out = dim.to_le_bytes().to_vec();
        for v in values {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out
    }

    #[test]
    fn reads_records_and_dim() {
        let mut bytes = record(3, &[1.0, 2.0, 3.0]);
        bytes.extend(record(3, &[4.0, 5.0, 6.0]));
        let reader = FvecsReader::from_bytes(&bytes).unwrap();
        assert_eq!(reader.dim(), Some(3));
        assert_eq!(reader.expected_records(), Some(2));
        let rows: Vec<Vec<f32>> = reader.collect::<Result<_>>().unwrap();
        assert_eq!(rows, [vec![1.0, 2.0, 3.0], vec![4.0, 5.0, 6.0]]);
    }

    #[test]
    fn empty_input_has_no_records() {
        let mut reader = FvecsReader::from_bytes(&[]).unwrap();
        assert_eq!(reader.dim(), None);
        assert!(reader.next().is_none());
        assert_eq!(
            FvecsReader::from_bytes(&[]).unwrap().read_all().unwrap(),
            (0, vec![])
        );
    }

    #[test]
    fn error_is_final() {
        let mut bytes = record(2, &[1.0, 2.0]);
        bytes.extend(record(3, &[1.0, 2.0, 3.0]));
        bytes.extend(record(2, &[1.0, 2.0]));
        let mut reader = FvecsReader::from_bytes(&bytes).unwrap();
        assert!(reader.next().unwrap().is_ok());
        let err = reader.next().unwrap().unwrap_err();
        assert!(matches!(
            err,
            DatasetError::DimMismatch {
                record: 1,
                offset: 12,
                expected: 2,
                found: 3,
                ..
            }
        ));
        assert!(reader.next().is_none());
    }

    #[test]
    fn bvecs_convert_to_f32() {
        let bytes = [2u8, 0, 0, 0, 7, 255];
        let mut reader = BvecsReader::from_bytes(&bytes).unwrap();
        let mut row = Vec::new();
        assert!(reader.next_f32_into(&mut row).unwrap());
        assert_eq!(row, [7.0, 255.0]);
        assert!(!reader.next_f32_into(&mut row).unwrap());
    }

    #[test]
    fn unknown_length_still_detects_truncation() {
        let bytes = record(4, &[1.0, 2.0]);
        let mut reader = FvecsReader::from_reader(&bytes[..], "stream").unwrap();
        let err = reader.next().unwrap().unwrap_err();
        assert!(matches!(
            err,
            DatasetError::Truncated {
                record: 0,
                offset: 0,
                needed: 20,
                found: 12,
                ..
            }
        ));
    }
}
