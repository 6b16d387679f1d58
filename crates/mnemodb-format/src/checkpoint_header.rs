use std::path::Path;

use bytemuck::{Pod, Zeroable};

use crate::error::{FormatError, Result};
use crate::header::{Header, decode_header};
use crate::kind::FileKind;
use crate::prefix::{BYTE_ORDER_MARK, FilePrefix};

/// Header of a metastore checkpoint file (`meta/checkpoint-<lsn>`): 128 bytes at offset 0,
/// followed by the body (`body_len` bytes, CRC32 `body_crc`); see `docs/FORMAT.md` for the
/// body, which `mnemodb-metastore` defines.
///
/// | offset | size | field                | meaning                                                 |
/// |-------:|-----:|----------------------|---------------------------------------------------------|
/// | 0      | 16   | `prefix`             | [`FilePrefix`]: magic, kind = 6 (checkpoint), version   |
/// | 16     | 4    | `byte_order`         | [`BYTE_ORDER_MARK`]                                     |
/// | 20     | 4    | `flags`              | zero (reserved for options such as compression)         |
/// | 24     | 8    | `lsn`                | every WAL record up to this LSN is in the checkpoint; equals the `<lsn>` of the file name |
/// | 32     | 8    | `document_count`     | live documents in the body                              |
/// | 40     | 4    | `next_internal_id`   | internal ids handed out so far (ids are never reused)   |
/// | 44     | 4    | `body_crc`           | CRC32 of the body                                       |
/// | 48     | 8    | `schema_fingerprint` | fingerprint of the schema the body was written under    |
/// | 56     | 8    | `body_offset`        | start of the body (= 128)                               |
/// | 64     | 8    | `body_len`           | body length in bytes                                    |
/// | 72     | 8    | `file_len`           | total file length: `128 + body_len`                     |
/// | 80     | 44   | `reserved`           | zero                                                    |
/// | 124    | 4    | `header_crc`         | CRC32 of bytes 0..124                                   |
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub struct CheckpointHeader {
    /// Magic, kind and version.
    pub prefix: FilePrefix,
    /// [`BYTE_ORDER_MARK`].
    pub byte_order: u32,
    /// Zero.
    pub flags: u32,
    /// LSN the checkpoint is consistent at.
    pub lsn: u64,
    /// Live documents in the body.
    pub document_count: u64,
    /// Internal ids handed out so far.
    pub next_internal_id: u32,
    /// CRC32 of the body.
    pub body_crc: u32,
    /// Fingerprint of the schema.
    pub schema_fingerprint: u64,
    /// Start of the body (= 128).
    pub body_offset: u64,
    /// Body length.
    pub body_len: u64,
    /// Total file length.
    pub file_len: u64,
    /// Zero.
    pub reserved: [u8; 44],
    /// CRC32 of bytes `0..124`.
    pub header_crc: u32,
}

const _: () = assert!(std::mem::size_of::<CheckpointHeader>() == 128);

impl Header for CheckpointHeader {
    const KIND: FileKind = FileKind::Checkpoint;
    const NAME: &'static str = "checkpoint";

    fn stored_crc(&self) -> u32 {
        self.header_crc
    }
}

impl CheckpointHeader {
    /// Header size; the body starts right after it.
    pub const SIZE: u64 = 128;
    /// Byte offset of `header_crc`.
    pub const CRC_OFFSET: usize = 124;

    /// A header for a body of `body_len` bytes with CRC `body_crc`, its own CRC filled in.
    pub fn new(
        lsn: u64,
        document_count: u64,
        next_internal_id: u32,
        schema_fingerprint: u64,
        body_len: u64,
        body_crc: u32,
    ) -> Self {
        let mut h = CheckpointHeader {
            prefix: FilePrefix::new(FileKind::Checkpoint),
            byte_order: BYTE_ORDER_MARK,
            flags: 0,
            lsn,
            document_count,
            next_internal_id,
            body_crc,
            schema_fingerprint,
            body_offset: Self::SIZE,
            body_len,
            file_len: Self::SIZE.saturating_add(body_len),
            reserved: [0; 44],
            header_crc: 0,
        };
        h.header_crc = h.compute_crc();
        h
    }

    /// The 128 header bytes as written to the file.
    pub fn to_bytes(&self) -> [u8; 128] {
        let mut out = [0u8; 128];
        out.copy_from_slice(bytemuck::bytes_of(self));
        out
    }

    /// CRC32 of every byte before `header_crc`.
    pub fn compute_crc(&self) -> u32 {
        Header::compute_crc(self)
    }

    /// Decode and validate the header at the start of a checkpoint file of `actual_len`
    /// bytes: magic, kind, version, CRC, byte order, flags, reserved bytes, body offset,
    /// lengths, and `document_count ≤ next_internal_id`. The body CRC is the caller's to
    /// check (it needs the body). Never panics.
    pub fn decode(bytes: &[u8], file: &Path, actual_len: u64) -> Result<Self> {
        let h: CheckpointHeader = decode_header(bytes, file)?;
        let bad = |offset: u64, what: String| Err(FormatError::corrupted(file, offset, what));
        if h.flags != 0 {
            return bad(20, format!("unknown flags {:#x}", h.flags));
        }
        if h.reserved != [0; 44] {
            return bad(80, "reserved bytes are not zero".into());
        }
        if h.body_offset != Self::SIZE {
            return bad(
                56,
                format!("body_offset is {}, expected 128", h.body_offset),
            );
        }
        if h.document_count > u64::from(h.next_internal_id) {
            return bad(
                32,
                format!(
                    "{} documents but only {} internal ids handed out",
                    h.document_count, h.next_internal_id
                ),
            );
        }
        if Self::SIZE.checked_add(h.body_len) != Some(h.file_len) {
            return bad(
                72,
                format!(
                    "file_len {} is not 128 + body_len {}",
                    h.file_len, h.body_len
                ),
            );
        }
        if actual_len != h.file_len {
            return bad(
                actual_len.min(h.file_len),
                format!(
                    "file is {actual_len} bytes, header says {} (truncated or extended)",
                    h.file_len
                ),
            );
        }
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_every_header_bit_flip_is_caught() {
        let h = CheckpointHeader::new(42, 3, 5, 0xfeed, 1000, 0xdead_beef);
        let bytes = bytemuck::bytes_of(&h).to_vec();
        let f = Path::new("meta/checkpoint-42");
        assert_eq!(CheckpointHeader::decode(&bytes, f, 1128).unwrap(), h);
        for bit in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            assert!(
                CheckpointHeader::decode(&b, f, 1128).is_err(),
                "bit {bit} flip not detected"
            );
        }
        for len in 0..bytes.len() {
            assert!(CheckpointHeader::decode(&bytes[..len], f, 1128).is_err());
        }
        let err = CheckpointHeader::decode(&bytes, f, 1127).unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
        let wrong = FilePrefix::new(FileKind::Segment);
        let mut b = bytes.clone();
        b[..16].copy_from_slice(bytemuck::bytes_of(&wrong));
        assert!(matches!(
            CheckpointHeader::decode(&b, f, 1128),
            Err(FormatError::WrongKind { .. })
        ));
    }
}
