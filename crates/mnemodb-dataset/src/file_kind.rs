//! `FileKind`: telling the format from a file name, and whole-file reads built on it.

use std::path::Path;

use crate::error::{DatasetError, Result};
use crate::neighbors::Neighbors;
use crate::npy_reader::NpyReader;
use crate::vecs_reader::{BvecsReader, FvecsReader, IvecsReader};
use crate::vectors::Vectors;

/// A dataset file format, as told by the file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileKind {
    /// TEXMEX `float32` vectors.
    Fvecs,
    /// TEXMEX `int32` vectors (ground-truth ids).
    Ivecs,
    /// TEXMEX `uint8` vectors.
    Bvecs,
    /// A numpy `.npy` array.
    Npy,
}

impl FileKind {
    /// The kind named by `path`'s extension (ASCII case-insensitive), if any.
    ///
    /// ```
    /// use mnemodb_dataset::FileKind;
    /// assert_eq!(FileKind::from_path("sift/base.FVECS"), Some(FileKind::Fvecs));
    /// assert_eq!(FileKind::from_path("notes.txt"), None);
    /// ```
    pub fn from_path(path: impl AsRef<Path>) -> Option<Self> {
        let ext = path.as_ref().extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "fvecs" => Some(FileKind::Fvecs),
            "ivecs" => Some(FileKind::Ivecs),
            "bvecs" => Some(FileKind::Bvecs),
            "npy" => Some(FileKind::Npy),
            _ => None,
        }
    }

    /// The extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            FileKind::Fvecs => "fvecs",
            FileKind::Ivecs => "ivecs",
            FileKind::Bvecs => "bvecs",
            FileKind::Npy => "npy",
        }
    }
}

/// Reads a whole `.fvecs`, `.bvecs` (bytes converted to `f32`) or `.npy` (`'<f4'`) file.
///
/// An empty `.fvecs`/`.bvecs` file gives zero vectors with `dim == 0`; an empty `.npy` file
/// is an error (it has no header).
///
/// # Errors
/// [`DatasetError::UnsupportedFileType`] for any other extension (including `.ivecs`: use
/// [`read_ids`]); otherwise the errors of [`FvecsReader`], [`BvecsReader`] and
/// [`NpyReader`].
pub fn read_vectors(path: impl AsRef<Path>) -> Result<Vectors> {
    let path = path.as_ref();
    let (dim, data) = match FileKind::from_path(path) {
        Some(FileKind::Fvecs) => FvecsReader::open(path)?.read_all()?,
        Some(FileKind::Bvecs) => BvecsReader::open(path)?.read_all_f32()?,
        Some(FileKind::Npy) => NpyReader::<f32>::open(path)?.read_all()?,
        Some(FileKind::Ivecs) | None => {
            return Err(DatasetError::UnsupportedFileType {
                path: path.to_path_buf(),
                expected: ".fvecs, .bvecs, .npy (float32)",
            });
        }
    };
    Ok(Vectors { dim, data })
}

/// Reads ground-truth ids from an `.ivecs` or `.npy` (`'<i4'`) file: one row of `k` ids per
/// query. An empty `.ivecs` file gives zero rows with `k == 0`.
///
/// # Errors
/// [`DatasetError::UnsupportedFileType`] for other extensions, [`DatasetError::NegativeId`]
/// for an id below 0, and the errors of [`IvecsReader`] and [`NpyReader`].
pub fn read_ids(path: impl AsRef<Path>) -> Result<Neighbors> {
    let path = path.as_ref();
    let (k, values, data_offset, record_header) = match FileKind::from_path(path) {
        Some(FileKind::Ivecs) => {
            let (k, values) = IvecsReader::open(path)?.read_all()?;
            (k, values, 0, 4)
        }
        Some(FileKind::Npy) => {
            let reader = NpyReader::<i32>::open(path)?;
            let offset = reader.data_offset();
            let (k, values) = reader.read_all()?;
            (k, values, offset, 0)
        }
        Some(FileKind::Fvecs | FileKind::Bvecs) | None => {
            return Err(DatasetError::UnsupportedFileType {
                path: path.to_path_buf(),
                expected: ".ivecs, .npy (int32)",
            });
        }
    };
    let mut data = Vec::with_capacity(values.len());
    for (at, &value) in values.iter().enumerate() {
        let Ok(id) = u32::try_from(value) else {
            let k = k.max(1);
            let (record, column) = (at / k, at % k);
            let record_len = (record_header + 4 * k) as u64;
            return Err(DatasetError::NegativeId {
                path: path.to_path_buf(),
                record: record as u64,
                column,
                offset: data_offset
                    + record as u64 * record_len
                    + (record_header + 4 * column) as u64,
                value,
            });
        };
        data.push(id);
    }
    Ok(Neighbors { k, data })
}
