//! Writers for `.fvecs`, `.ivecs`, `.bvecs` and `.npy` files.
//!
//! Each writer checks its arguments before creating the file, then writes through a 1 MiB
//! buffer. Files are not fsynced (they are inputs for tools, not database files); after an
//! error the file may be partly written.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use crate::element::{Element, NpyElement};
use crate::error::{DatasetError, Result};
use crate::npy_header::encode_header;
use crate::vecs_reader::MAX_DIM;
use crate::vectors::Vectors;

/// Bytes collected before each write.
const WRITE_CHUNK: usize = 1 << 20;

/// Writes `vectors` as `.fvecs`. Zero vectors give an empty file.
///
/// # Errors
/// [`DatasetError::InvalidArgument`] for a dimension outside `1..=MAX_DIM` (unless there are
/// no vectors) or ragged data; [`DatasetError::Io`] when creating or writing fails.
pub fn write_fvecs(path: impl AsRef<Path>, vectors: &Vectors) -> Result<()> {
    write_vecs(path.as_ref(), vectors.dim, &vectors.data)
}

/// Writes `ids` as `.ivecs`, `k` per record (ground truth: `ids.len() / k` queries).
///
/// # Errors
/// [`DatasetError::InvalidArgument`] for `k` outside `1..=MAX_DIM` (unless `ids` is empty),
/// `ids.len()` not a multiple of `k`, or an id above `i32::MAX` (the format stores `i32`);
/// [`DatasetError::Io`] when creating or writing fails.
pub fn write_ivecs(path: impl AsRef<Path>, k: usize, ids: &[u32]) -> Result<()> {
    let mut values = Vec::with_capacity(ids.len());
    for (at, &id) in ids.iter().enumerate() {
        let value = i32::try_from(id).map_err(|_| {
            DatasetError::invalid(format!(
                "id {id} at position {at} does not fit the .ivecs int32 range"
            ))
        })?;
        values.push(value);
    }
    write_vecs(path.as_ref(), k, &values)
}

/// Writes `data` (row-major, `dim` bytes per vector) as `.bvecs`.
///
/// # Errors
/// As [`write_fvecs`].
pub fn write_bvecs(path: impl AsRef<Path>, dim: usize, data: &[u8]) -> Result<()> {
    write_vecs(path.as_ref(), dim, data)
}

/// Writes a `rows × dim` `float32` array as `.npy` (format 1.0, C order, shape
/// `(rows, dim)`), readable by `numpy.load`.
///
/// # Errors
/// [`DatasetError::InvalidArgument`] when `rows × dim != data.len()`, `dim > MAX_DIM`, or
/// `dim == 0` with `rows > 0`; [`DatasetError::Io`] when creating or writing fails.
pub fn write_npy_f32(path: impl AsRef<Path>, rows: usize, dim: usize, data: &[f32]) -> Result<()> {
    write_npy(path.as_ref(), rows, dim, data)
}

/// Writes a `rows × dim` `int32` array as `.npy` (format 1.0, C order, shape `(rows, dim)`).
///
/// # Errors
/// As [`write_npy_f32`].
pub fn write_npy_i32(path: impl AsRef<Path>, rows: usize, dim: usize, data: &[i32]) -> Result<()> {
    write_npy(path.as_ref(), rows, dim, data)
}

fn write_vecs<T: Element>(path: &Path, dim: usize, data: &[T]) -> Result<()> {
    if !data.is_empty() && !(1..=MAX_DIM).contains(&dim) {
        return Err(DatasetError::invalid(format!(
            "{}: dimension {dim} is outside 1..={MAX_DIM}",
            path.display()
        )));
    }
    if !data.is_empty() && !data.len().is_multiple_of(dim) {
        return Err(DatasetError::invalid(format!(
            "{}: {} values do not split into rows of dimension {dim}",
            path.display(),
            data.len()
        )));
    }
    let header = i32::try_from(dim).unwrap_or(i32::MAX).to_le_bytes();
    let mut out = ChunkedWriter::create(path)?;
    for row in data.chunks_exact(dim.max(1)) {
        out.buf.extend_from_slice(&header);
        T::encode_append(row, &mut out.buf);
        out.maybe_flush()?;
    }
    out.finish()
}

fn write_npy<T: NpyElement>(path: &Path, rows: usize, dim: usize, data: &[T]) -> Result<()> {
    if rows.checked_mul(dim) != Some(data.len()) {
        return Err(DatasetError::invalid(format!(
            "{}: shape ({rows}, {dim}) does not match {} values",
            path.display(),
            data.len()
        )));
    }
    if dim > MAX_DIM || (dim == 0 && rows > 0) {
        return Err(DatasetError::invalid(format!(
            "{}: dimension {dim} is outside 1..={MAX_DIM}",
            path.display()
        )));
    }
    let mut out = ChunkedWriter::create(path)?;
    out.buf
        .extend_from_slice(&encode_header(T::DESCR, &[rows as u64, dim as u64]));
    for chunk in data.chunks(WRITE_CHUNK / T::SIZE) {
        T::encode_append(chunk, &mut out.buf);
        out.maybe_flush()?;
    }
    out.finish()
}

/// A file plus an encode buffer that is written out in large pieces.
struct ChunkedWriter<'p> {
    file: File,
    path: &'p Path,
    buf: Vec<u8>,
}

impl<'p> ChunkedWriter<'p> {
    fn create(path: &'p Path) -> Result<Self> {
        let file = File::create(path).map_err(|e| DatasetError::io(path, "create", e))?;
        Ok(ChunkedWriter {
            file,
            path,
            buf: Vec::with_capacity(WRITE_CHUNK + 4096),
        })
    }

    fn maybe_flush(&mut self) -> Result<()> {
        if self.buf.len() >= WRITE_CHUNK {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        self.file
            .write_all(&self.buf)
            .map_err(|e| DatasetError::io(self.path, "write", e))?;
        self.buf.clear();
        Ok(())
    }

    fn finish(mut self) -> Result<()> {
        self.flush()?;
        self.file
            .flush()
            .map_err(|e| DatasetError::io(self.path, "write", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_bad_arguments_before_creating() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.fvecs");
        let ragged = Vectors {
            dim: 3,
            data: vec![0.0; 4],
        };
        assert!(write_fvecs(&path, &ragged).is_err());
        assert!(!path.exists());
        assert!(write_ivecs(&path, 1, &[u32::MAX]).is_err());
        assert!(write_npy_f32(&path, 2, 2, &[0.0; 3]).is_err());
        assert!(write_npy_f32(&path, usize::MAX, 2, &[]).is_err());
        assert!(!path.exists());
    }

    #[test]
    fn fvecs_bytes_are_texmex() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.fvecs");
        write_fvecs(&path, &Vectors::new(1, vec![1.0, 2.0]).unwrap()).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let mut expected = Vec::new();
        for v in [1.0f32, 2.0] {
            expected.extend_from_slice(&1i32.to_le_bytes());
            expected.extend_from_slice(&v.to_le_bytes());
        }
        assert_eq!(bytes, expected);
    }
}
