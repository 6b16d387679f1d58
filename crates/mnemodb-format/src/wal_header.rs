use std::path::Path;

use bytemuck::{Pod, Zeroable};

use crate::error::{FormatError, Result};
use crate::header::{Header, decode_header};
use crate::kind::FileKind;
use crate::prefix::{BYTE_ORDER_MARK, FilePrefix};

/// Header of a write-ahead log file (`wal/<first-lsn>.log`): 64 bytes at offset 0. Framed
/// records follow it directly (the frame layout is defined by `mnemodb-wal` and
/// `docs/FORMAT.md`).
///
/// | offset | size | field        | meaning                                                        |
/// |-------:|-----:|--------------|----------------------------------------------------------------|
/// | 0      | 16   | `prefix`     | [`FilePrefix`]: magic, kind = 7 (WAL), version                 |
/// | 16     | 4    | `byte_order` | [`BYTE_ORDER_MARK`]                                            |
/// | 20     | 4    | `reserved0`  | zero                                                           |
/// | 24     | 8    | `salt`       | random per file; seeds every record CRC of the file            |
/// | 32     | 8    | `first_lsn`  | LSN of the first record the file holds (= the LSN in its name) |
/// | 40     | 20   | `reserved`   | zero                                                           |
/// | 60     | 4    | `header_crc` | CRC32 of bytes 0..60                                           |
///
/// The salt makes bytes left over from an older use of the same disk blocks (or of a file
/// with the same name) fail every record checksum of the new file.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub struct WalHeader {
    /// Magic, kind and version.
    pub prefix: FilePrefix,
    /// [`BYTE_ORDER_MARK`].
    pub byte_order: u32,
    /// Zero.
    pub reserved0: u32,
    /// Random per-file seed of the record checksums.
    pub salt: u64,
    /// LSN of the first record in the file.
    pub first_lsn: u64,
    /// Zero.
    pub reserved: [u8; 20],
    /// CRC32 of bytes `0..60`.
    pub header_crc: u32,
}

const _: () = assert!(std::mem::size_of::<WalHeader>() == 64);

impl Header for WalHeader {
    const KIND: FileKind = FileKind::Wal;
    const NAME: &'static str = "WAL";
    const CRC_BEFORE_VERSION: bool = true;

    fn stored_crc(&self) -> u32 {
        self.header_crc
    }
}

impl WalHeader {
    /// Size in bytes; the first record starts here.
    pub const SIZE: usize = 64;
    /// Byte offset of `header_crc`.
    pub const CRC_OFFSET: usize = 60;
    /// Byte offset of `first_lsn`.
    pub const FIRST_LSN_OFFSET: u64 = 32;

    /// A header with its CRC filled in.
    pub fn new(salt: u64, first_lsn: u64) -> Self {
        let mut h = WalHeader {
            prefix: FilePrefix::new(FileKind::Wal),
            byte_order: BYTE_ORDER_MARK,
            reserved0: 0,
            salt,
            first_lsn,
            reserved: [0; 20],
            header_crc: 0,
        };
        h.header_crc = h.compute_crc();
        h
    }

    /// CRC32 of every byte before `header_crc`.
    pub fn compute_crc(&self) -> u32 {
        Header::compute_crc(self)
    }

    /// The header as bytes.
    pub fn as_bytes(&self) -> &[u8] {
        bytemuck::bytes_of(self)
    }

    /// Decode and validate the header at the start of `bytes`: magic, kind, CRC, version,
    /// byte order, reserved bytes. Never panics.
    ///
    /// The CRC is checked before the version, so that a damaged version field reads as
    /// damage (`Corrupted`, naming the version it claims), not as a file from another
    /// release; `UnsupportedVersion` means an intact header of another version.
    pub fn decode(bytes: &[u8], file: &Path) -> Result<Self> {
        let h: WalHeader = decode_header(bytes, file)?;
        let bad = |offset: u64, what: String| Err(FormatError::corrupted(file, offset, what));
        if h.reserved0 != 0 {
            return bad(20, "reserved bytes are not zero".into());
        }
        if h.reserved != [0; 20] {
            return bad(40, "reserved bytes are not zero".into());
        }
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_every_bit_flip_is_caught() {
        let h = WalHeader::new(0x0123_4567_89ab_cdef, 42);
        let bytes = h.as_bytes().to_vec();
        assert_eq!(WalHeader::decode(&bytes, Path::new("w")).unwrap(), h);
        for bit in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            assert!(
                WalHeader::decode(&b, Path::new("w")).is_err(),
                "bit {bit} flip not detected"
            );
        }
        for len in 0..bytes.len() {
            assert!(WalHeader::decode(&bytes[..len], Path::new("w")).is_err());
        }
        // A damaged version field is damage; an intact header of another version is not.
        let mut b = bytes.clone();
        b[12] ^= 2;
        assert!(matches!(
            WalHeader::decode(&b, Path::new("w")),
            Err(FormatError::Corrupted { .. })
        ));
        let mut future = h;
        future.prefix.version = 9;
        future.header_crc = future.compute_crc();
        assert!(matches!(
            WalHeader::decode(future.as_bytes(), Path::new("w")),
            Err(FormatError::UnsupportedVersion { found: 9, .. })
        ));
    }
}
