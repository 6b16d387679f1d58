//! The oracle of the `ivf_decode_search` fuzz target, shared with the test that replays
//! its corpus on stable. Not part of the API.
use std::path::Path;
use std::sync::OnceLock;

use mnemodb_format::{IvfHeader, IvfLayout, crc32, read_pod};
use mnemodb_io::ReadOnlyBytes;
use mnemodb_segment::SegmentReader;
use roaring::RoaringBitmap;

use super::{CodeType, IvfIndex, IvfParams, IvfSearchParams};

/// Rows of the fixed fixture segment.
pub const FIXTURE_ROWS: usize = 64;
/// Its dimension.
pub const FIXTURE_DIM: usize = 4;
/// Lists of the fixture index.
pub const FIXTURE_NLIST: usize = 6;

/// The fixed in-memory segment every input is decoded against.
pub fn fixture_segment() -> &'static SegmentReader {
    static SEG: OnceLock<SegmentReader> = OnceLock::new();
    SEG.get_or_init(|| {
        crate::fixture::fixture_segment(FIXTURE_ROWS, FIXTURE_DIM, 11, 500, |r, c| {
            ((r * 5 + c * 11) % 13) as f32 - 6.0 + (r as f32) * 0.01
        })
    })
}

/// A valid index file of the fixture (deterministic), for seeding the corpus and tests.
pub fn fixture_index_bytes(codes: CodeType) -> Vec<u8> {
    let seg = fixture_segment();
    let Ok(pool) = rayon::ThreadPoolBuilder::new().num_threads(1).build() else {
        return Vec::new();
    };
    let params = IvfParams {
        sub_centroids: 4,
        ..IvfParams::new(FIXTURE_NLIST, codes)
    };
    IvfIndex::build(&pool, seg, &params)
        .map(|i| i.bytes.to_vec())
        .unwrap_or_default()
}

/// Recompute every CRC of an index image in place, so a mutated file reaches the
/// structural checks ("corrupt but CRC-valid"). No-op when the header is too short or its
/// sizes do not describe a layout.
pub fn reseal(bytes: &mut [u8]) {
    let Some(mut h) = read_pod::<IvfHeader>(bytes, 0) else {
        return;
    };
    let layout = IvfLayout::compute(h.dim, h.dtype, h.nlist, h.row_count);
    let layout = if h.probe_len != 0 {
        layout.and_then(|l| l.with_probe(u64::from(h.sub_centroid_count)))
    } else {
        layout
    };
    let Some(layout) = layout else {
        return;
    };
    let crcs: Vec<u32> = layout
        .sections()
        .iter()
        .map(|&(off, len)| {
            let (off, len) = (off as usize, len as usize);
            bytes.get(off..off.saturating_add(len)).map_or(0, crc32)
        })
        .collect();
    if let [a, b, c, d, e] = crcs[..] {
        h.centroids_crc = a;
        h.list_offsets_crc = b;
        h.rows_crc = c;
        h.quant_crc = d;
        h.codes_crc = e;
    }
    if let Some((off, len)) = layout.probe_section() {
        let (off, len) = (off as usize, len as usize);
        h.probe_crc = bytes.get(off..off.saturating_add(len)).map_or(0, crc32);
    }
    h.header_crc = h.compute_crc();
    if let Some(dst) = bytes.get_mut(..IvfLayout::HEADER_SIZE as usize) {
        dst.copy_from_slice(bytemuck::bytes_of(&h));
    }
}

/// One fuzz input: `[mode, q0, q1, q2, q3, file...]`. Mode bit 0 reseals the file first;
/// bits 1–3 pick nprobe, bits 4–5 the re-rank factor, bit 6 a filter, bit 7 turns off
/// probe refinement. Open and verify
/// never panic; searches terminate and return at most `k` distinct ids sorted by distance.
#[allow(clippy::panic)]
pub fn decode_search(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Some((q, file)) = rest.split_at_checked(FIXTURE_DIM) else {
        return;
    };
    let query: Vec<f32> = q.iter().map(|&b| f32::from(b as i8) / 16.0).collect();
    let mut file = file.to_vec();
    if mode & 1 == 1 {
        reseal(&mut file);
    }
    let seg = fixture_segment();
    let Ok(index) = IvfIndex::from_bytes(
        ReadOnlyBytes::copy_from_slice(&file),
        Path::new("fuzz.ivf"),
        seg,
    ) else {
        return;
    };
    let _ = index.verify();
    let _ = index.balance();
    let allow: RoaringBitmap = (0..FIXTURE_ROWS as u32).filter(|r| r % 3 != 0).collect();
    let params = IvfSearchParams {
        nprobe: 1 + usize::from((mode >> 1) & 7),
        rerank: usize::from((mode >> 4) & 3),
        allow: (mode & 64 != 0).then_some(&allow),
        refine: if mode & 128 != 0 { 0 } else { 3 },
    };
    for k in [1, 5, 100] {
        let Ok(hits) = index.search(seg, &query, k, &params) else {
            continue;
        };
        if hits.len() > k {
            panic!("{} hits for k = {k}", hits.len());
        }
        let mut ids: Vec<u64> = hits.iter().map(|h| h.id).collect();
        if hits
            .windows(2)
            .any(|w| matches!(w, [a, b] if a.distance.total_cmp(&b.distance).is_gt()))
        {
            panic!("hits not sorted");
        }
        ids.sort_unstable();
        ids.dedup();
        if ids.len() != hits.len() {
            panic!("duplicate hits");
        }
    }
}
