//! The oracle of the `hnsw_decode_search` fuzz target, shared with the test that replays
//! its corpus on stable. Not part of the API.
use std::path::Path;
use std::sync::OnceLock;

use mnemodb_format::{HnswHeader, HnswLayout, crc32, read_pod};
use mnemodb_io::ReadOnlyBytes;
use mnemodb_segment::SegmentReader;
use roaring::RoaringBitmap;

use super::{HnswBuilder, HnswIndex, HnswParams, Rows, SearchOptions};

/// Rows of the fixed fixture segment.
pub const FIXTURE_ROWS: usize = 48;
/// Its dimension.
pub const FIXTURE_DIM: usize = 4;
/// Bytes of query at the start of an input (after the mode byte).
const QUERY_BYTES: usize = FIXTURE_DIM;

/// The fixed in-memory segment every input is decoded against.
pub fn fixture_segment() -> &'static SegmentReader {
    static SEG: OnceLock<SegmentReader> = OnceLock::new();
    SEG.get_or_init(|| {
        crate::fixture::fixture_segment(FIXTURE_ROWS, FIXTURE_DIM, 7, 100, |r, c| {
            ((r * 7 + c * 13) % 17) as f32 - 8.0 + (r as f32) * 0.01
        })
    })
}

/// A valid index file of the fixture (deterministic, with its optional SQ8 section so that
/// every section is exercised), for seeding the corpus.
pub fn fixture_index_bytes(m: usize) -> Vec<u8> {
    let seg = fixture_segment();
    let mut params = HnswParams::with_m(m);
    params.ef_construction = 16;
    params.sq8 = true;
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build();
    let (Ok(builder), Ok(pool)) = (HnswBuilder::new(seg.metric(), params), pool) else {
        return Vec::new();
    };
    builder
        .deterministic(true)
        .build(&pool, Rows::from(seg))
        .and_then(|g| HnswIndex::from_parts(g, seg))
        .and_then(|i| i.to_bytes())
        .unwrap_or_default()
}

/// Recompute every CRC of an index image in place and bind it to the fixture, so a
/// mutated file reaches the structural checks ("corrupt but CRC-valid"). No-op when the
/// header is too short or its sizes do not describe a layout.
pub fn reseal(bytes: &mut [u8]) {
    let seg = fixture_segment();
    let Some(mut h) = read_pod::<HnswHeader>(bytes, 0) else {
        return;
    };
    h.segment_generation = seg.generation();
    h.segment_content_crc = seg.content_crc();
    if let Some(layout) =
        HnswLayout::compute(h.node_count, h.m, h.m0, h.upper_count, h.upper_links_len)
    {
        let mut crcs = [0u32; 4];
        for ((offset, len), crc) in layout.sections().into_iter().zip(crcs.iter_mut()) {
            if let Some(region) = bytes.get(offset as usize..(offset + len) as usize) {
                *crc = crc32(region);
            }
        }
        [
            h.level0_crc,
            h.upper_nodes_crc,
            h.upper_offsets_crc,
            h.upper_links_crc,
        ] = crcs;
        if let Some((offset, len)) = layout
            .with_sq8(h.dim)
            .filter(|_| h.sq8_len != 0)
            .and_then(|l| l.sq8_section())
            && let Some(region) = bytes.get(offset as usize..(offset + len) as usize)
        {
            h.sq8_crc = crc32(region);
        }
    }
    h.header_crc = h.compute_crc();
    if let Some(dst) = bytes.get_mut(..HnswLayout::HEADER_SIZE as usize) {
        dst.copy_from_slice(bytemuck::bytes_of(&h));
    }
}

/// One fuzz input: `mode` byte, `FIXTURE_DIM` query bytes, then the file. Mode bit 0:
/// reseal first; bits 1–2: filter (none, allow even rows, tombstone multiples of 3, both);
/// the query bytes also pick `k` (1..=100) and `ef` (1..=256).
///
/// Oracle: any bytes decode to `Ok` or a typed error, never a panic; `verify` passing ⇒
/// every link < n, no self links, degree ≤ bound, levels ≤ max, entry point on the top
/// level; search (verified or not) terminates and returns distinct rows < n, allowed and
/// not tombstoned, sorted by distance, at most `k`.
pub fn decode_search(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (qbytes, file) = rest.split_at(rest.len().min(QUERY_BYTES));
    let mut bytes = file.to_vec();
    if mode & 1 == 1 {
        reseal(&mut bytes);
    }
    let seg = fixture_segment();
    let Ok(index) = HnswIndex::from_bytes(
        ReadOnlyBytes::copy_from_slice(&bytes),
        Path::new("fuzz.hnsw"),
        seg,
    ) else {
        return;
    };
    let g = index.graph();
    let n = g.len();
    assert_eq!(n, FIXTURE_ROWS);
    if index.verify().is_ok() {
        for node in 0..n as u32 {
            let top = g.level(node).unwrap_or(0);
            assert!(top <= g.max_level());
            for level in 0..=top {
                let ns = g.neighbors(node, level);
                assert!(ns.len() <= if level == 0 { g.m0() } else { g.m() });
                assert!(ns.iter().all(|&x| (x as usize) < n && x != node));
            }
        }
        let e = g.entry_point().unwrap_or(u32::MAX);
        assert_eq!(g.level(e), Some(g.max_level()));
    }
    let query: Vec<f32> = (0..FIXTURE_DIM)
        .map(|i| f32::from(qbytes.get(i).copied().unwrap_or(0) as i8) / 8.0)
        .collect();
    let pick = qbytes
        .iter()
        .fold(0usize, |a, &b| a.wrapping_mul(31).wrapping_add(b as usize));
    let k = pick % 100 + 1;
    let ef = (pick / 100) % 256 + 1;
    let evens: RoaringBitmap = (0..n as u32).filter(|r| r % 2 == 0).collect();
    let thirds: RoaringBitmap = (0..n as u32).filter(|r| r % 3 == 0).collect();
    let mut opts = SearchOptions::ef(ef);
    opts.exact_fraction = Some(0.0);
    if mode & 2 != 0 {
        opts.allow = Some(&evens);
    }
    if mode & 4 != 0 {
        opts.tombstones = Some(&thirds);
    }
    let mut hits = Vec::new();
    if index.search_rows_into(&query, k, &opts, &mut hits).is_ok() {
        assert!(hits.len() <= k);
        let mut seen = RoaringBitmap::new();
        for w in hits.windows(2) {
            if let [a, b] = w {
                assert!(a.distance.total_cmp(&b.distance).is_le(), "unsorted");
            }
        }
        for h in &hits {
            let row = h.id as u32;
            assert!((row as usize) < n);
            assert!(seen.insert(row), "duplicate row {row}");
            assert!(opts.allow.is_none_or(|a| a.contains(row)));
            assert!(!opts.tombstones.is_some_and(|t| t.contains(row)));
        }
    }
}
