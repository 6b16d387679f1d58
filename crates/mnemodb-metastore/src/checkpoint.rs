//! Checkpoint files: a [`MetaState`] at one LSN, as bytes.
//!
//! Two body layouts share the 128-byte [`CheckpointHeader`]:
//!
//! - **Layout 2** (written, file prefix version 2): the checkpoint is *used in place*.
//!   Documents sit behind a fixed-width offset table, external ids in sorted fixed-width
//!   tables, and every index
//!   (live / exists / numbers / timestamps bitmaps, keyword postings, the sorted range
//!   array, field counts) is stored, so opening checks CRCs and structure and decodes
//!   nothing per document; see `crate::base` and `docs/FORMAT.md`. The opened state is the
//!   mapped file (the *base*) plus an empty overlay.
//! - **Layout 1** (read only; written with file prefix version 1): header, schema, then
//!   `document_count × (internal_id:u32 external_id document)`, one body CRC. Indexes are
//!   rebuilt from the documents on load in bulk (`BulkLoad`).
//!
//! A layout-2 body starts with `0xFFFF_FFFF` where a layout-1 body holds its schema's
//! field count (which can never be that large): the marker, not the prefix version, says
//! the layout. When the schema given at open differs
//! from the one a layout-2 file was written under, its documents are decoded and indexed
//! in bulk, as for layout 1. Decoding validates everything and never panics.
use std::path::Path;

use mnemodb_format::{ChainedCrc, CheckpointHeader, FormatError, crc32};
use mnemodb_io::ReadOnlyBytes;

use crate::base::{Base, is_layout2};

use crate::codec::{Decoder, encode_document_into, read_document};
use crate::error::Result;
use crate::external_id::ExternalId;
use crate::schema::Schema;
use crate::state::{BulkLoad, MAX_INTERNAL_ID, MetaState};

/// What a checkpoint header says, for reports and tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointInfo {
    /// The LSN the checkpoint is consistent at.
    pub lsn: u64,
    /// Live documents.
    pub document_count: u64,
    /// Internal ids handed out.
    pub next_internal_id: u32,
    /// Fingerprint of the schema it was written under.
    pub schema_fingerprint: u64,
    /// File size in bytes.
    pub file_len: u64,
    /// CRC32 of the whole file, computed while its parts' CRCs were checked (what a
    /// manifest records; no second read needed to compare).
    pub file_crc: u32,
}

impl MetaState {
    /// Encode the state as a checkpoint file (header + body, layout 2) at its current LSN.
    /// Documents of the checkpoint the state was opened from are copied as bytes and its
    /// indexes merged with the overlay's: nothing is decoded.
    pub fn encode_checkpoint(&self) -> Result<Vec<u8>> {
        crate::base::encode(self)
    }

    /// Encode the state in the old body layout 1 (every document decoded; indexes not
    /// stored). Kept to test that old files still open.
    #[doc(hidden)]
    pub fn encode_checkpoint_layout1(&self) -> Result<Vec<u8>> {
        let mut out = vec![0u8; CheckpointHeader::SIZE as usize];
        self.schema.encode_into(&mut out);
        for (internal, external, doc) in self.scan() {
            out.extend_from_slice(&internal.to_le_bytes());
            external.encode_into(&mut out);
            encode_document_into(doc, &mut out)?;
        }
        let body = out
            .get(CheckpointHeader::SIZE as usize..)
            .unwrap_or_default();
        let mut header = CheckpointHeader::new(
            self.lsn(),
            self.len(),
            self.next_internal_id(),
            self.schema.fingerprint(),
            body.len() as u64,
            crc32(body),
        );
        // As the builds before layout 2 wrote it.
        header.prefix.version = 1;
        header.header_crc = header.compute_crc();
        if let Some(h) = out.get_mut(..CheckpointHeader::SIZE as usize) {
            h.copy_from_slice(&header.to_bytes());
        }
        Ok(out)
    }

    /// Check a checkpoint file's header and body CRC without building the state.
    pub fn checkpoint_info(bytes: &[u8], file: &Path) -> Result<CheckpointInfo> {
        if is_layout2(bytes) {
            let checked = Base::check(bytes, file)?;
            return Ok(info_of(&checked.header, checked.file_crc));
        }
        let h = CheckpointHeader::decode(bytes, file, bytes.len() as u64)?;
        let (head, body) = bytes
            .split_at_checked(CheckpointHeader::SIZE as usize)
            .unwrap_or_default();
        let mut chain = ChainedCrc::new();
        chain.part(head);
        let crc = chain.part(body);
        if crc != h.body_crc {
            return Err(FormatError::corrupted(
                file,
                CheckpointHeader::SIZE,
                format!(
                    "body checksum mismatch (header says {:#010x}, body has {crc:#010x})",
                    h.body_crc
                ),
            )
            .into());
        }
        Ok(info_of(&h, chain.whole()))
    }

    /// Rebuild a state from a checkpoint file, indexing per `schema` (which may differ from
    /// the schema the file was written under; that one is validated and reported only).
    /// Every byte is checked; any damage is [`Error::Format`](crate::Error::Format)
    /// `Corrupted { file, offset }`.
    pub fn decode_checkpoint(
        bytes: &[u8],
        file: &Path,
        schema: Schema,
    ) -> Result<(MetaState, CheckpointInfo)> {
        if is_layout2(bytes) {
            return Self::open_checkpoint(ReadOnlyBytes::copy_from_slice(bytes), file, schema);
        }
        Self::decode_layout1(bytes, file, schema)
    }

    /// Open a checkpoint file held in `bytes` (normally mapped): a layout-2 file is used in
    /// place — every CRC and the structure are checked, documents and keyword bitmaps are
    /// decoded on first use — unless `schema` differs from the one it was written under
    /// (then, like a layout-1 file, it is decoded and indexed in bulk). Damage is
    /// [`Error::Format`](crate::Error::Format) `Corrupted { file, offset }`.
    pub fn open_checkpoint(
        bytes: ReadOnlyBytes,
        file: &Path,
        schema: Schema,
    ) -> Result<(MetaState, CheckpointInfo)> {
        if !is_layout2(&bytes) {
            return Self::decode_layout1(&bytes, file, schema);
        }
        schema.validate()?;
        let opened = Base::open(bytes, file)?;
        let info = info_of(&opened.header, opened.file_crc);
        if opened.written_under == schema {
            let state = MetaState::from_base(opened.base, schema, info.lsn)?;
            return Ok((state, info));
        }
        // Another schema: index the documents in bulk.
        let base = opened.base;
        let mut load = BulkLoad::new(schema)?;
        for id in &base.live {
            let rec = base
                .decode_record(id)?
                .ok_or_else(|| FormatError::corrupted(file, 0, format!("record {id} missing")))?;
            load.push(id, rec.external, rec.doc, 0);
        }
        match load.finish(info.next_internal_id, info.lsn) {
            Ok(state) => Ok((state, info)),
            Err((external, _)) => Err(FormatError::corrupted(
                file,
                0,
                format!("external id {external} appears twice"),
            )
            .into()),
        }
    }

    fn decode_layout1(
        bytes: &[u8],
        file: &Path,
        schema: Schema,
    ) -> Result<(MetaState, CheckpointInfo)> {
        let info = Self::checkpoint_info(bytes, file)?;
        let body = bytes
            .get(CheckpointHeader::SIZE as usize..)
            .unwrap_or_default();
        let mut d = Decoder::new(body, CheckpointHeader::SIZE, file);
        let _written_under = Schema::decode(&mut d)?;
        if info.next_internal_id > MAX_INTERNAL_ID {
            return Err(FormatError::corrupted(
                file,
                40,
                format!(
                    "next_internal_id {} exceeds the maximum",
                    info.next_internal_id
                ),
            )
            .into());
        }
        let mut load = BulkLoad::new(schema)?;
        let mut prev: Option<u32> = None;
        for _ in 0..info.document_count {
            let at = d.offset();
            let internal = d.u32("internal id")?;
            if prev.is_some_and(|p| internal <= p) || internal >= info.next_internal_id {
                return Err(d
                    .error_at(
                        at,
                        format!(
                            "internal id {internal} out of order or ≥ next_internal_id {}",
                            info.next_internal_id
                        ),
                    )
                    .into());
            }
            prev = Some(internal);
            let external = ExternalId::decode(&mut d)?;
            let doc = read_document(&mut d)?;
            load.push(internal, external, doc, at);
        }
        d.finish("checkpoint body")?;
        match load.finish(info.next_internal_id, info.lsn) {
            Ok(state) => Ok((state, info)),
            Err((external, at)) => Err(d
                .error_at(at, format!("external id {external} appears twice"))
                .into()),
        }
    }
}

fn info_of(h: &CheckpointHeader, file_crc: u32) -> CheckpointInfo {
    CheckpointInfo {
        lsn: h.lsn,
        document_count: h.document_count,
        next_internal_id: h.next_internal_id,
        schema_fingerprint: h.schema_fingerprint,
        file_len: h.file_len,
        file_crc,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::MetaOp;
    use crate::value::{Document, Value};

    fn state() -> MetaState {
        let mut s = MetaState::new(Schema::new().keyword("k")).unwrap();
        for i in 0..20u64 {
            s.apply(&MetaOp::Put {
                id: if i % 2 == 0 {
                    ExternalId::U64(i)
                } else {
                    ExternalId::Str(format!("s{i}"))
                },
                doc: Document::from([("k".to_string(), Value::Int(i as i64 % 3))]),
            })
            .unwrap();
        }
        s.apply(&MetaOp::Delete {
            id: ExternalId::U64(4),
        })
        .unwrap();
        s.set_lsn(77);
        s
    }

    #[test]
    fn info_carries_the_whole_file_crc_of_either_layout() {
        let s = state();
        for bytes in [
            s.encode_checkpoint().unwrap(),
            s.encode_checkpoint_layout1().unwrap(),
        ] {
            let f = Path::new("c");
            let want = crc32(&bytes);
            assert_eq!(
                MetaState::checkpoint_info(&bytes, f).unwrap().file_crc,
                want
            );
            let (_, info) = MetaState::decode_checkpoint(&bytes, f, s.schema().clone()).unwrap();
            assert_eq!(info.file_crc, want);
        }
    }

    #[test]
    fn round_trip_and_every_bit_flip_is_detected() {
        let s = state();
        let bytes = s.encode_checkpoint().unwrap();
        let f = Path::new("meta/checkpoint-77");
        let (back, info) =
            MetaState::decode_checkpoint(&bytes, f, Schema::new().keyword("k")).unwrap();
        assert_eq!(info.lsn, 77);
        assert_eq!(info.document_count, 19);
        assert_eq!(back.next_internal_id(), 20);
        assert_eq!(back.len(), 19);
        let a: Vec<_> = s
            .scan()
            .map(|(i, e, d)| (i, e.clone(), d.clone()))
            .collect();
        let b: Vec<_> = back
            .scan()
            .map(|(i, e, d)| (i, e.clone(), d.clone()))
            .collect();
        assert_eq!(a, b);
        assert_eq!(
            back.filter_text("k = 1").unwrap(),
            s.filter_text("k = 1").unwrap()
        );
        assert_eq!(back.encode_checkpoint().unwrap(), bytes);
        for bit in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            assert!(
                MetaState::decode_checkpoint(&b, f, Schema::new()).is_err(),
                "bit {bit} flip not detected"
            );
        }
        for len in 0..bytes.len() {
            assert!(MetaState::decode_checkpoint(&bytes[..len], f, Schema::new()).is_err());
        }
    }

    /// A body whose CRCs are valid but that names one external id twice is refused, at the
    /// second record (the bulk load finds duplicates after decoding every record).
    #[test]
    fn duplicate_external_id_with_valid_crcs_is_refused() {
        let mut s = MetaState::new(Schema::new().keyword("k")).unwrap();
        for i in [7u64, 8, 9] {
            s.apply(&MetaOp::Put {
                id: ExternalId::U64(i),
                doc: Document::from([("k".to_string(), Value::Int(1))]),
            })
            .unwrap();
        }
        s.set_lsn(3);
        let mut bytes = s.encode_checkpoint_layout1().unwrap();
        // The second record's external id: tag 0, then 8 as u64.
        let mut pattern = vec![0u8];
        pattern.extend_from_slice(&8u64.to_le_bytes());
        let at = bytes
            .windows(pattern.len())
            .position(|w| w == pattern.as_slice())
            .unwrap();
        bytes[at + 1] = 7;
        let body = &bytes[CheckpointHeader::SIZE as usize..];
        let header = CheckpointHeader::new(
            3,
            3,
            3,
            Schema::new().keyword("k").fingerprint(),
            body.len() as u64,
            crc32(body),
        );
        bytes[..CheckpointHeader::SIZE as usize].copy_from_slice(&header.to_bytes());
        let f = Path::new("meta/checkpoint-3");
        let err = MetaState::decode_checkpoint(&bytes, f, Schema::new().keyword("k"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("external id 7 appears twice"), "{err}");
        // The offset is the second record's (its internal id, 4 bytes before the tag).
        assert!(err.contains(&format!("{}", at - 4)), "{err}");
    }
}
