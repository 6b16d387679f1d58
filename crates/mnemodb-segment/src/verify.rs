//! Full verification of a segment: every byte is checked by a checksum or must be zero.
use std::collections::HashSet;

use mnemodb_format::{FormatError, check_zero, crc32, crc32_parts};

use crate::error::Result;
use crate::reader::SegmentReader;

impl SegmentReader {
    /// Check every byte of the file: each block's CRC (rows with their padding, then the
    /// ids of those rows), the CRC table against the header's `content_crc`, zero padding
    /// between sections and inside rows, finite components and unique ids. The first
    /// problem is returned as `Corrupted` with its file offset.
    pub fn verify(&self) -> Result<()> {
        let l = *self.layout();
        let file = self.path();
        let corrupted = |offset: u64, what: String| -> crate::Error {
            FormatError::corrupted(file, offset, what).into()
        };

        let table = self.section(l.crcs_offset, l.block_count * 4);
        if crc32(table) != self.content_crc() {
            return Err(corrupted(
                l.crcs_offset,
                "checksum table does not match the header's content_crc".into(),
            ));
        }
        for block in 0..l.block_count {
            let (first, end) = l.block_rows_range(block);
            let rows_at = l.rows_offset + first * l.row_stride;
            let rows = self.section(rows_at, (end - first) * l.row_stride);
            let ids = self.section(l.ids_offset + first * 8, (end - first) * 8);
            let stored = table
                .get(block as usize * 4..block as usize * 4 + 4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_le_bytes)
                .unwrap_or_default();
            if crc32_parts(&[rows, ids]) != stored {
                return Err(corrupted(
                    rows_at,
                    format!("checksum mismatch in block {block} (rows {first}..{end})"),
                ));
            }
        }

        let rows_end = l.rows_offset + l.row_count * l.row_stride;
        check_zero(
            self.section(rows_end, l.ids_offset - rows_end),
            file,
            rows_end,
            "padding before the id column",
        )?;
        let ids_end = l.ids_offset + l.row_count * 8;
        check_zero(
            self.section(ids_end, l.crcs_offset - ids_end),
            file,
            ids_end,
            "padding before the checksum table",
        )?;

        let dim = self.dim();
        let row_bytes = dim as u64 * 4;
        for (i, row) in self.rows().chunks_exact(self.stride().max(1)).enumerate() {
            let at = l.rows_offset + i as u64 * l.row_stride;
            let (values, padding) = row.split_at(dim.min(row.len()));
            if let Some(c) = values.iter().position(|v| !v.is_finite()) {
                return Err(corrupted(
                    at + c as u64 * 4,
                    format!("row {i} component {c} is not finite"),
                ));
            }
            check_zero(
                bytemuck::cast_slice(padding),
                file,
                at + row_bytes,
                "row padding",
            )?;
        }

        let mut seen = HashSet::with_capacity(self.len());
        for (i, id) in self.ids().iter().enumerate() {
            if !seen.insert(*id) {
                return Err(corrupted(
                    l.ids_offset + i as u64 * 8,
                    format!("id {id} appears twice"),
                ));
            }
        }
        Ok(())
    }
}
