//! What every fixed-size file header shares: it starts with the [`FilePrefix`], has the
//! [`BYTE_ORDER_MARK`] at byte 16, and ends with a CRC32 of every byte before it.
//! [`decode_header`] checks all of that once, for every kind.
use std::path::Path;

use crate::crc::crc32;
use crate::decode::read_pod;
use crate::error::{FormatError, Result};
use crate::kind::FileKind;
use crate::prefix::{BYTE_ORDER_MARK, FilePrefix};

/// A `#[repr(C)]` Pod file header: [`FilePrefix`] at 0, byte-order mark at 16, its CRC32 in
/// the last 4 bytes.
pub trait Header: bytemuck::Pod {
    /// The file kind the header belongs to.
    const KIND: FileKind;
    /// Name used in error messages (`"segment"`, `"WAL"` …).
    const NAME: &'static str;
    /// Check the CRC before the version, so a damaged version field reads as damage and
    /// `UnsupportedVersion` only ever means an intact header of another release.
    const CRC_BEFORE_VERSION: bool = false;

    /// The stored CRC (the header's last field).
    fn stored_crc(&self) -> u32;

    /// Byte offset of the stored CRC.
    fn crc_offset() -> usize {
        std::mem::size_of::<Self>() - 4
    }

    /// CRC32 of every byte before the stored CRC.
    fn compute_crc(&self) -> u32 {
        let bytes = bytemuck::bytes_of(self);
        crc32(bytes.get(..Self::crc_offset()).unwrap_or(bytes))
    }
}

/// Decode the header at the start of `bytes` and check what every header shares: magic,
/// kind, version range, length, CRC and byte-order mark. Kind-specific fields are the
/// caller's. Never panics.
pub fn decode_header<H: Header>(bytes: &[u8], file: &Path) -> Result<H> {
    match FilePrefix::decode(bytes, file, H::KIND) {
        Ok(_) => {}
        Err(FormatError::UnsupportedVersion { .. }) if H::CRC_BEFORE_VERSION => {}
        Err(e) => return Err(e),
    }
    let size = std::mem::size_of::<H>();
    let h: H = read_pod(bytes, 0).ok_or_else(|| {
        FormatError::corrupted(
            file,
            bytes.len() as u64,
            format!(
                "file is {} bytes, shorter than the {size}-byte {} header",
                bytes.len(),
                H::NAME
            ),
        )
    })?;
    let (stored, computed) = (h.stored_crc(), h.compute_crc());
    if stored != computed {
        let claimed = read_pod::<FilePrefix>(bytes, 0).map_or(0, |p| p.version);
        return Err(FormatError::corrupted(
            file,
            H::crc_offset() as u64,
            format!(
                "{} header checksum mismatch (stored {stored:#010x}, computed {computed:#010x}; \
                 the header claims format version {claimed})",
                H::NAME
            ),
        ));
    }
    if H::CRC_BEFORE_VERSION {
        FilePrefix::decode(bytes, file, H::KIND)?;
    }
    let byte_order: u32 = read_pod(bytes, 16).unwrap_or_default();
    if byte_order != BYTE_ORDER_MARK {
        return Err(FormatError::corrupted(
            file,
            16,
            format!("byte-order mark {byte_order:#010x}"),
        ));
    }
    Ok(h)
}

/// Check the offsets and lengths a header stores against the ones its layout derives, then
/// the file's actual length against the derived one. Each entry of `stored_vs_derived` is
/// `(field offset in the header, field name, stored value, derived value)`; the first
/// mismatch is `Corrupted` at that field's offset.
pub fn check_layout(
    file: &Path,
    stored_vs_derived: &[(u64, &str, u64, u64)],
    actual_len: u64,
    derived_len: u64,
) -> Result<()> {
    for &(offset, name, stored, derived) in stored_vs_derived {
        if stored != derived {
            return Err(FormatError::corrupted(
                file,
                offset,
                format!("{name} is {stored}, layout says {derived}"),
            ));
        }
    }
    if actual_len != derived_len {
        return Err(FormatError::corrupted(
            file,
            actual_len.min(derived_len),
            format!(
                "file is {actual_len} bytes, header says {derived_len} (truncated or extended)"
            ),
        ));
    }
    Ok(())
}
