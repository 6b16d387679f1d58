use std::path::Path;

use bytemuck::{Pod, Zeroable};

use crate::decode::read_pod;
use crate::error::{FormatError, Result};
use crate::kind::FileKind;

/// The first 8 bytes of every mnemodb file: `\x89 M N M \r \n \x1a \n`.
///
/// As with PNG, the high byte catches 7-bit transfers, `\r\n` catches line-ending
/// conversion, `\x1a` stops `type` on DOS, and the final `\n` catches the reverse conversion.
pub const MAGIC: [u8; 8] = [0x89, b'M', b'N', b'M', b'\r', b'\n', 0x1a, b'\n'];

/// Written as a little-endian `u32` in headers that carry it; reads back as this value
/// only on a little-endian reader, which is the only kind mnemodb builds for.
pub const BYTE_ORDER_MARK: u32 = 0x0102_0304;

/// The 16 bytes every mnemodb file starts with.
///
/// | offset | size | field     | meaning                                   |
/// |-------:|-----:|-----------|-------------------------------------------|
/// | 0      | 8    | `magic`   | [`MAGIC`]                                 |
/// | 8      | 4    | `kind`    | [`FileKind`] as `u32`                     |
/// | 12     | 4    | `version` | format version of that kind               |
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub struct FilePrefix {
    /// [`MAGIC`].
    pub magic: [u8; 8],
    /// [`FileKind`] as `u32`.
    pub kind: u32,
    /// Format version of that kind.
    pub version: u32,
}

const _: () = assert!(std::mem::size_of::<FilePrefix>() == 16);

impl FilePrefix {
    /// Size in bytes.
    pub const SIZE: usize = 16;

    /// The prefix a writer of `kind` puts on a new file (newest version).
    pub fn new(kind: FileKind) -> Self {
        FilePrefix {
            magic: MAGIC,
            kind: kind as u32,
            version: kind.versions().newest,
        }
    }

    /// Decode and check the prefix at the start of `bytes`: magic, kind, version range.
    pub fn decode(bytes: &[u8], file: &Path, expected: FileKind) -> Result<FilePrefix> {
        let prefix: FilePrefix = read_pod(bytes, 0).ok_or_else(|| {
            FormatError::corrupted(
                file,
                bytes.len() as u64,
                format!(
                    "file is {} bytes, shorter than the {}-byte prefix",
                    bytes.len(),
                    Self::SIZE
                ),
            )
        })?;
        if prefix.magic != MAGIC {
            return Err(FormatError::NotMnemodb { file: file.into() });
        }
        if prefix.kind != expected as u32 {
            return Err(FormatError::WrongKind {
                file: file.into(),
                expected,
                found: FileKind::from_u32(prefix.kind)
                    .map(|k| k.name().to_string())
                    .unwrap_or_else(|| format!("unknown kind {}", prefix.kind)),
            });
        }
        let supported = expected.versions();
        if !supported.contains(prefix.version) {
            return Err(FormatError::UnsupportedVersion {
                file: file.into(),
                kind: expected,
                found: prefix.version,
                supported,
            });
        }
        Ok(prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_typed() {
        let f = Path::new("f");
        let good = FilePrefix::new(FileKind::Segment);
        let bytes = bytemuck::bytes_of(&good).to_vec();
        assert_eq!(
            FilePrefix::decode(&bytes, f, FileKind::Segment).unwrap(),
            good
        );
        assert!(matches!(
            FilePrefix::decode(&bytes[..15], f, FileKind::Segment),
            Err(FormatError::Corrupted { .. })
        ));
        assert!(matches!(
            FilePrefix::decode(&bytes, f, FileKind::HnswIndex),
            Err(FormatError::WrongKind { .. })
        ));
        let mut b = bytes.clone();
        b[0] = b'P';
        assert!(matches!(
            FilePrefix::decode(&b, f, FileKind::Segment),
            Err(FormatError::NotMnemodb { .. })
        ));
        let mut b = bytes.clone();
        b[12] = 99;
        let err = FilePrefix::decode(&b, f, FileKind::Segment).unwrap_err();
        assert!(matches!(
            err,
            FormatError::UnsupportedVersion { found: 99, .. }
        ));
        assert!(err.to_string().contains("version 99"), "{err}");
    }
}
