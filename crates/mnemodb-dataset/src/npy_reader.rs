//! A streaming reader for `.npy` arrays of `<f4` or `<i4` values, one row at a time.

use std::fs::File;
use std::io::Read;
use std::iter::FusedIterator;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use crate::element::{Element, NpyElement};
use crate::error::{DatasetError, Result};
use crate::npy_header::{RawHeader, describe_descr, read_header};
use crate::source::Source;
use crate::vecs_reader::MAX_DIM;

/// Shape entries kept in error messages.
const SHAPE_IN_MESSAGES: usize = 8;

/// Reads a C-order `.npy` array (format 1.0, 2.0 or 3.0) row by row.
///
/// A 2-D shape `(rows, dim)` gives `rows` rows of `dim` values; a 1-D shape `(n,)` gives one
/// row of `n` values (none when `n` is 0). `T` picks the dtype: `f32` reads `'<f4'`, `i32`
/// reads `'<i4'`; anything else is refused with the reason (big-endian, float64, pickled
/// objects, ...). The header is parsed, never evaluated, and checked before any row is read:
/// for files and byte slices the data length must equal `rows × dim × 4` exactly; for other
/// readers a short or long data section fails while streaming.
///
/// ```
/// use mnemodb_dataset::NpyReader;
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("x.npy");
/// mnemodb_dataset::write_npy_f32(&path, 2, 3, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])?;
/// let reader = NpyReader::<f32>::open(&path)?;
/// assert_eq!((reader.rows(), reader.dim()), (2, 3));
/// let rows = reader.collect::<Result<Vec<_>, _>>()?;
/// assert_eq!(rows[1], [4.0, 5.0, 6.0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct NpyReader<T: NpyElement, R = File> {
    source: Source<R>,
    version: (u8, u8),
    shape: Vec<u64>,
    rows: usize,
    dim: usize,
    data_offset: u64,
    /// 0-based number of the next row.
    row: usize,
    bytes: Vec<u8>,
    /// All rows returned (and the trailing check done), or an error returned.
    done: bool,
    _values: PhantomData<T>,
}

impl<T: NpyElement> NpyReader<T, File> {
    /// Opens a file and checks its header and length.
    ///
    /// # Errors
    /// [`DatasetError::Io`] when the file cannot be opened; [`DatasetError::NpyMagic`],
    /// [`DatasetError::NpyVersion`], [`DatasetError::NpyHeader`] (malformed, too long, past
    /// the end of the file, empty file), [`DatasetError::NpyDtype`],
    /// [`DatasetError::NpyDtypeMismatch`], [`DatasetError::NpyFortranOrder`],
    /// [`DatasetError::NpyShape`], [`DatasetError::NpyDataLength`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::start(Source::open(path.as_ref())?)
    }
}

impl<'a, T: NpyElement> NpyReader<T, &'a [u8]> {
    /// Reads an array from bytes in memory (messages call it `<memory>`).
    ///
    /// # Errors
    /// As [`NpyReader::open`].
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Self> {
        Self::start(Source::from_bytes(bytes))
    }
}

impl<T: NpyElement, R: Read> NpyReader<T, R> {
    /// Reads an array from any reader; `name` is used in error messages. The data length
    /// is checked while streaming, since the reader's length is unknown.
    ///
    /// # Errors
    /// As [`NpyReader::open`], except that a wrong data length is reported by the read
    /// that finds it.
    pub fn from_reader(reader: R, name: impl Into<PathBuf>) -> Result<Self> {
        Self::start(Source::from_reader(reader, name.into()))
    }

    fn start(mut source: Source<R>) -> Result<Self> {
        let header = read_header(&mut source)?;
        let path = source.path();
        check_dtype::<T>(path, &header)?;
        if header.fortran_order {
            return Err(DatasetError::NpyFortranOrder {
                path: path.to_path_buf(),
            });
        }
        let (rows, dim, data_len) = check_shape::<T>(path, &header.shape)?;
        if let Some(found) = source.remaining()
            && found != data_len
        {
            return Err(DatasetError::NpyDataLength {
                path: source.path().to_path_buf(),
                offset: header.data_offset,
                shape: clipped(&header.shape),
                expected: data_len,
                found,
            });
        }
        Ok(NpyReader {
            source,
            version: header.version,
            shape: header.shape,
            rows,
            dim,
            data_offset: header.data_offset,
            row: 0,
            bytes: Vec::new(),
            done: false,
            _values: PhantomData,
        })
    }

    /// Rows in the array (from the header).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Values per row (from the header; 0 only for an empty array).
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The shape as written in the header.
    pub fn shape(&self) -> &[u64] {
        &self.shape
    }

    /// The file's `(major, minor)` format version.
    pub fn version(&self) -> (u8, u8) {
        self.version
    }

    /// Byte offset of the first data byte (the end of the header).
    pub fn data_offset(&self) -> u64 {
        self.data_offset
    }

    /// The file name (or the name given to [`NpyReader::from_reader`]).
    pub fn path(&self) -> &Path {
        self.source.path()
    }

    /// Rows returned so far.
    pub fn rows_read(&self) -> usize {
        self.row
    }

    /// Reads the next row into `out` (cleared first). Returns `Ok(false)` after the last row.
    ///
    /// # Errors
    /// [`DatasetError::NpyDataLength`] when the data ends early or (for readers of unknown
    /// length) continues past the last row; [`DatasetError::Read`] on an I/O error.
    pub fn next_into(&mut self, out: &mut Vec<T>) -> Result<bool> {
        out.clear();
        self.append_next(out)
    }

    /// Reads the next row and appends its values to `out`. Returns `Ok(false)` after the
    /// last row.
    ///
    /// # Errors
    /// As [`NpyReader::next_into`].
    pub fn append_next(&mut self, out: &mut Vec<T>) -> Result<bool> {
        if self.done {
            return Ok(false);
        }
        let result = self.read_row();
        if !matches!(result, Ok(true)) {
            self.done = true;
        }
        if matches!(result, Ok(true)) {
            T::decode_append(&self.bytes, out);
        }
        result
    }

    /// Reads every remaining row into one row-major buffer; returns `(dim, values)`.
    ///
    /// # Errors
    /// As [`NpyReader::next_into`].
    pub fn read_all(mut self) -> Result<(usize, Vec<T>)> {
        let mut data = Vec::new();
        if self.source.len().is_some() {
            // The data length was checked against the file's length at open.
            data.reserve(self.rows.saturating_sub(self.row).saturating_mul(self.dim));
        }
        while self.append_next(&mut data)? {}
        Ok((self.dim, data))
    }

    fn read_row(&mut self) -> Result<bool> {
        let row_len = (self.dim * T::SIZE) as u64;
        if self.row >= self.rows {
            // Readers of unknown length: the data must end exactly here.
            let mut probe = [0u8; 1];
            if self.source.read_up_to(&mut probe, self.row as u64)? > 0 {
                return Err(self.data_length_error(self.source.pos() - self.data_offset));
            }
            return Ok(false);
        }
        self.bytes.clear();
        let got = self
            .source
            .append_up_to(row_len, &mut self.bytes, self.row as u64)?;
        if got < row_len {
            return Err(self.data_length_error(self.source.pos() - self.data_offset));
        }
        self.row += 1;
        Ok(true)
    }

    fn data_length_error(&self, found: u64) -> DatasetError {
        DatasetError::NpyDataLength {
            path: self.source.path().to_path_buf(),
            offset: self.data_offset,
            shape: clipped(&self.shape),
            expected: (self.rows * self.dim * T::SIZE) as u64,
            found,
        }
    }
}

impl<T: NpyElement, R: Read> Iterator for NpyReader<T, R> {
    type Item = Result<Vec<T>>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut row = Vec::with_capacity(self.dim);
        match self.next_into(&mut row) {
            Ok(true) => Some(Ok(row)),
            Ok(false) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

impl<T: NpyElement, R: Read> FusedIterator for NpyReader<T, R> {}

/// Refuses any `descr` but `T`'s; says why.
fn check_dtype<T: NpyElement>(path: &Path, header: &RawHeader) -> Result<()> {
    let descr = header.descr.as_str();
    if descr == T::DESCR {
        return Ok(());
    }
    let other = match descr {
        "<f4" => Some("float32 '<f4'"),
        "<i4" => Some("int32 '<i4'"),
        _ => None,
    };
    match other {
        Some(found) => Err(DatasetError::NpyDtypeMismatch {
            path: path.to_path_buf(),
            expected: expected_name::<T>(),
            found,
        }),
        None => Err(DatasetError::NpyDtype {
            path: path.to_path_buf(),
            descr: header.descr.clone(),
            why: describe_descr(descr),
        }),
    }
}

fn expected_name<T: NpyElement>() -> &'static str {
    match T::DESCR {
        "<f4" => "float32 '<f4'",
        _ => "int32 '<i4'",
    }
}

/// Turns a shape into `(rows, dim, data bytes)`, refusing what cannot be read.
fn check_shape<T: Element>(path: &Path, shape: &[u64]) -> Result<(usize, usize, u64)> {
    let refuse = |what: &'static str| DatasetError::NpyShape {
        path: path.to_path_buf(),
        shape: clipped(shape),
        what,
    };
    let (rows, dim) = match *shape {
        [n] => (u64::from(n > 0), n),
        [rows, dim] => (rows, dim),
        _ => {
            return Err(refuse(
                "must be 1-D (one vector) or 2-D (rows × dim); reshape before saving",
            ));
        }
    };
    let data_len = rows
        .checked_mul(dim)
        .and_then(|n| n.checked_mul(T::SIZE as u64))
        .ok_or_else(|| refuse("its size overflows 64 bits"))?;
    if dim > MAX_DIM as u64 {
        return Err(refuse("rows are longer than 65,536 values"));
    }
    if dim == 0 && rows > 0 {
        return Err(refuse("rows have zero length"));
    }
    let rows = usize::try_from(rows).map_err(|_| refuse("too many rows for this platform"))?;
    let dim = usize::try_from(dim).map_err(|_| refuse("rows too long for this platform"))?;
    if usize::try_from(data_len).is_err() {
        return Err(refuse("too large for this platform"));
    }
    Ok((rows, dim, data_len))
}

fn clipped(shape: &[u64]) -> Vec<u64> {
    shape.iter().copied().take(SHAPE_IN_MESSAGES).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::npy_header::encode_header;

    fn npy(descr: &str, shape: &[u64], data: &[u8]) -> Vec<u8> {
        let mut out = encode_header(descr, shape);
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn reads_rows() {
        let mut data = Vec::new();
        for v in [1.0f32, 2.0, 3.0, 4.0] {
            data.extend_from_slice(&v.to_le_bytes());
        }
        let bytes = npy("<f4", &[2, 2], &data);
        let reader = NpyReader::<f32, _>::from_bytes(&bytes).unwrap();
        assert_eq!(reader.version(), (1, 0));
        assert_eq!(reader.read_all().unwrap(), (2, vec![1.0, 2.0, 3.0, 4.0]));
        let one_d = npy("<f4", &[4], &data);
        let rows: Vec<_> = NpyReader::<f32, _>::from_bytes(&one_d)
            .unwrap()
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(rows, [vec![1.0, 2.0, 3.0, 4.0]]);
    }

    #[test]
    fn dtype_mismatch_names_both_types() {
        let bytes = npy("<i4", &[1, 1], &[0; 4]);
        let err = NpyReader::<f32, _>::from_bytes(&bytes).unwrap_err();
        assert!(matches!(
            err,
            DatasetError::NpyDtypeMismatch {
                found: "int32 '<i4'",
                ..
            }
        ));
        assert!(NpyReader::<i32, _>::from_bytes(&bytes).is_ok());
    }

    #[test]
    fn streaming_detects_trailing_and_missing_bytes() {
        let long = npy("<f4", &[1, 1], &[0; 5]);
        let mut reader = NpyReader::<f32, _>::from_reader(&long[..], "s").unwrap();
        assert!(reader.next().unwrap().is_ok());
        assert!(matches!(
            reader.next().unwrap().unwrap_err(),
            DatasetError::NpyDataLength {
                expected: 4,
                found: 5,
                ..
            }
        ));
        let short = npy("<f4", &[2, 1], &[0; 6]);
        let mut reader = NpyReader::<f32, _>::from_reader(&short[..], "s").unwrap();
        assert!(reader.next().unwrap().is_ok());
        assert!(matches!(
            reader.next().unwrap().unwrap_err(),
            DatasetError::NpyDataLength {
                expected: 8,
                found: 6,
                ..
            }
        ));
        assert!(reader.next().is_none());
    }
}
