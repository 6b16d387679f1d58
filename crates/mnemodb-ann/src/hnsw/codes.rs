//! [`Sq8Codes`]: 8-bit codes of a graph's vectors (one [`Sq8`] per-dimension quantiser
//! trained on the rows), so the graph walk reads `dim` bytes per node instead of
//! `4 × dim` and the walk's working set stays in cache; the `ef` candidates it ends with
//! are re-ranked on the exact f32 rows.
use std::sync::Arc;

use mnemodb_distance::quantized::Sq8;
use mnemodb_io::ReadOnlyBytes;
use roaring::RoaringBitmap;

use super::rows::Rows;

/// Where the codes live.
#[derive(Debug, Clone)]
pub(crate) enum CodeBytes {
    Owned(Arc<[u8]>),
    /// `len` bytes at `offset` of a mapped index file.
    Mapped {
        bytes: ReadOnlyBytes,
        offset: usize,
        len: usize,
    },
}

/// The quantiser and `n × dim` codes, row `i` at `i × dim`.
#[derive(Debug, Clone)]
pub(crate) struct Sq8Codes {
    pub sq: Arc<Sq8>,
    pub data: CodeBytes,
}

impl Sq8Codes {
    /// The codes, back to back (empty if a mapped range is out of bounds).
    #[inline]
    pub fn codes(&self) -> &[u8] {
        match &self.data {
            CodeBytes::Owned(c) => c,
            CodeBytes::Mapped { bytes, offset, len } => offset
                .checked_add(*len)
                .and_then(|end| bytes.get(*offset..end))
                .unwrap_or_default(),
        }
    }

    /// Bytes per code.
    pub fn dim(&self) -> usize {
        self.sq.dim()
    }

    /// Train a quantiser on `rows` (those in `include` when given) and encode every row.
    /// `None` when there is nothing to train on or a value is not finite.
    pub fn train(rows: Rows<'_>, include: Option<&RoaringBitmap>) -> Option<Self> {
        let dim = rows.dim();
        let sq = match include {
            None => Sq8::train_strided(rows.data(), dim, rows.stride())?,
            Some(b) => {
                let mut packed = Vec::with_capacity(b.len() as usize * dim);
                for r in b.iter() {
                    if let Some(v) = rows.get(r as usize) {
                        packed.extend_from_slice(v);
                    }
                }
                Sq8::train(&packed, dim)?
            }
        };
        let mut codes = vec![0u8; rows.len() * dim];
        for (i, out) in codes.chunks_exact_mut(dim).enumerate() {
            if let Some(v) = rows.get(i) {
                sq.encode(v, out);
            }
        }
        Some(Sq8Codes {
            sq: Arc::new(sq),
            data: CodeBytes::Owned(codes.into()),
        })
    }
}
