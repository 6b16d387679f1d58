//! Index files: every bit flip and truncation refused, wrong segment / kind refused,
//! structurally broken but CRC-valid files refused by `verify` and safe to search, and
//! the fuzz corpus replayed on stable.
use std::path::{Path, PathBuf};

use mnemodb_ann::Error;
use mnemodb_ann::hnsw::fuzzing::{self, FIXTURE_ROWS};
use mnemodb_ann::hnsw::{HnswIndex, SearchOptions};
use mnemodb_format::{FormatError, HnswHeader, HnswLayout};
use mnemodb_io::{Fs, MemFs, ReadOnlyBytes};

fn open(bytes: &[u8]) -> Result<HnswIndex, Error> {
    HnswIndex::from_bytes(
        ReadOnlyBytes::copy_from_slice(bytes),
        Path::new("t.hnsw"),
        fuzzing::fixture_segment(),
    )
}

fn open_and_verify(bytes: &[u8]) -> Result<HnswIndex, Error> {
    let i = open(bytes)?;
    i.verify()?;
    Ok(i)
}

#[test]
fn fixture_file_is_valid() {
    let bytes = fuzzing::fixture_index_bytes(4);
    let i = open_and_verify(&bytes).unwrap();
    assert_eq!(i.graph().len(), FIXTURE_ROWS);
    assert!(
        i.graph().max_level() >= 1,
        "fixture should exercise upper levels"
    );
    assert_eq!(
        bytes.len() as u64,
        HnswHeader::decode(&bytes, Path::new("t"), bytes.len() as u64)
            .unwrap()
            .1
            .file_len
    );
}

#[test]
fn every_bit_flip_is_detected() {
    let bytes = fuzzing::fixture_index_bytes(4);
    let mut b = bytes.clone();
    for bit in 0..bytes.len() * 8 {
        b[bit / 8] ^= 1 << (bit % 8);
        assert!(
            open_and_verify(&b).is_err(),
            "flip of bit {bit} (byte {}) not detected",
            bit / 8
        );
        b[bit / 8] ^= 1 << (bit % 8);
    }
}

#[test]
fn every_truncation_and_extension_is_refused() {
    let bytes = fuzzing::fixture_index_bytes(4);
    for len in 0..bytes.len() {
        let err = open(&bytes[..len]).map(|_| ()).unwrap_err();
        assert!(matches!(err, Error::Format(_)), "len {len}: {err}");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(open(&longer).is_err());
}

#[test]
fn mismatched_segment_and_wrong_kind_are_refused() {
    let bytes = fuzzing::fixture_index_bytes(4);
    // Another generation of "the same" segment.
    let mut h: HnswHeader = mnemodb_format::read_pod(&bytes, 0).unwrap();
    h.segment_generation += 1;
    h.header_crc = h.compute_crc();
    let mut b = bytes.clone();
    b[..256].copy_from_slice(bytemuck::bytes_of(&h));
    let err = open(&b).map(|_| ()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::WrongSegment {
                index_generation: 8,
                segment_generation: 7,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("rebuild the index"));
    let mut h: HnswHeader = mnemodb_format::read_pod(&bytes, 0).unwrap();
    h.segment_content_crc ^= 1;
    h.header_crc = h.compute_crc();
    b[..256].copy_from_slice(bytemuck::bytes_of(&h));
    assert!(matches!(open(&b), Err(Error::WrongSegment { .. })));
    // A segment file given as an index.
    let fs = MemFs::new();
    fs.create_dir_all(Path::new("/d")).unwrap();
    let seg = fuzzing::fixture_segment();
    let seg_bytes = std::fs::read(seg.path()).ok();
    let _ = seg_bytes;
    let mut w = mnemodb_segment::SegmentWriter::create(
        &fs,
        Path::new("/d/s.vec"),
        mnemodb_segment::SegmentOptions::new(4, mnemodb_distance::Metric::L2, 7),
    )
    .unwrap();
    w.push(1, &[1.0, 2.0, 3.0, 4.0]).unwrap();
    w.finish().unwrap();
    let wrong = fs.map_readonly(Path::new("/d/s.vec")).unwrap();
    assert!(matches!(
        open(&wrong),
        Err(Error::Format(FormatError::WrongKind { .. }))
    ));
    assert!(matches!(
        open(b"not an index at all"),
        Err(Error::Format(_))
    ));
    // A missing file names its path.
    let err = HnswIndex::open(&fs, Path::new("/d/missing.hnsw"), seg)
        .map(|_| ())
        .unwrap_err();
    assert!(err.to_string().contains("missing.hnsw"), "{err}");
}

/// Patch a `u32` of the image and reseal it (all CRCs valid again).
fn patched(bytes: &[u8], offset: usize, value: u32) -> Vec<u8> {
    let mut b = bytes.to_vec();
    b[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
    fuzzing::reseal(&mut b);
    b
}

#[test]
fn crc_valid_structural_damage_is_caught_and_search_stays_safe() {
    let bytes = fuzzing::fixture_index_bytes(4);
    let (h, layout): (HnswHeader, HnswLayout) =
        HnswHeader::decode(&bytes, Path::new("t"), bytes.len() as u64).unwrap();
    let stride0 = 1 + h.m0 as usize;
    let l0 = layout.level0_offset as usize;
    let node5 = l0 + 5 * stride0 * 4;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("count above m0", patched(&bytes, node5, h.m0 + 5)),
        ("count u32::MAX", patched(&bytes, node5, u32::MAX)),
        ("link out of range", patched(&bytes, node5 + 4, 10_000)),
        ("link u32::MAX", patched(&bytes, node5 + 4, u32::MAX)),
        ("self link", patched(&bytes, node5 + 4, 5)),
        ("non-zero unused slots", patched(&bytes, node5, 0)),
        (
            "upper node out of range",
            patched(&bytes, layout.upper_nodes_offset as usize, 1_000_000),
        ),
        (
            "upper offsets",
            patched(&bytes, layout.upper_offsets_offset as usize + 4, 3),
        ),
        (
            "upper link out of range",
            patched(&bytes, layout.upper_links_offset as usize + 4, 999),
        ),
        ("entry point", patched(&bytes, 52, 47)),
        ("max level", patched(&bytes, 48, 9)),
        ("metric", patched(&bytes, 20, 9)),
    ];
    let seg = fuzzing::fixture_segment();
    for (what, b) in cases {
        match open(&b) {
            Err(e) => assert!(
                matches!(e, Error::Format(FormatError::Corrupted { .. })),
                "{what}: {e}"
            ),
            Ok(index) => {
                assert!(index.verify().is_err(), "{what}: verify passed");
                for r in 0..FIXTURE_ROWS {
                    let q = seg.row(r).unwrap();
                    let hits = index.search(q, 100, &SearchOptions::ef(256)).unwrap();
                    let ids: std::collections::HashSet<u64> = hits.iter().map(|h| h.id).collect();
                    assert_eq!(ids.len(), hits.len(), "{what}: duplicates");
                }
            }
        }
    }
    // Cycles everywhere: every node links to 0 and 1 (valid ids) — verify passes or not,
    // search terminates.
    let mut cyc = bytes.clone();
    for node in 0..FIXTURE_ROWS {
        let at = l0 + node * stride0 * 4;
        let (a, b) = if node < 2 { (2u32, 3u32) } else { (0, 1) };
        for (i, v) in [2u32, a, b].into_iter().enumerate() {
            cyc[at + 4 * i..at + 4 * i + 4].copy_from_slice(&v.to_le_bytes());
        }
        for i in 3..stride0 {
            cyc[at + 4 * i..at + 4 * i + 4].copy_from_slice(&0u32.to_le_bytes());
        }
    }
    fuzzing::reseal(&mut cyc);
    if let Ok(index) = open(&cyc) {
        let hits = index
            .search(seg.row(9).unwrap(), 10, &SearchOptions::ef(50))
            .unwrap();
        assert!(hits.len() <= 10);
    }
}

fn corpus_dir() -> PathBuf {
    mnemodb_testkit::fuzz_corpus_dir("hnsw_decode_search")
}

#[test]
fn fuzz_corpus_replays_without_panics() {
    let mut n = 0;
    if let Ok(entries) = std::fs::read_dir(corpus_dir()) {
        for e in entries.flatten() {
            let data = std::fs::read(e.path()).unwrap();
            fuzzing::decode_search(&data);
            n += 1;
        }
    }
    // Built-in seeds too, so the oracle runs even without the corpus directory.
    for m in [2, 4, 8] {
        let file = fuzzing::fixture_index_bytes(m);
        for mode in 0..8u8 {
            let mut data = vec![mode, 3, 250, 7, 9];
            data.extend_from_slice(&file);
            fuzzing::decode_search(&data);
            n += 1;
        }
    }
    eprintln!("replayed {n} inputs");
}

/// Regenerates the seed corpus: `MNEMODB_WRITE_CORPUS=1 cargo test -p mnemodb-ann write_fuzz_seeds`.
#[test]
fn write_fuzz_seeds() {
    if std::env::var_os("MNEMODB_WRITE_CORPUS").is_none() {
        return;
    }
    let dir = corpus_dir();
    std::fs::create_dir_all(&dir).unwrap();
    for (i, m) in [2usize, 4, 8].into_iter().enumerate() {
        let file = fuzzing::fixture_index_bytes(m);
        for mode in [0u8, 1, 3, 7] {
            let mut data = vec![mode, 3, 250, 7, 9];
            data.extend_from_slice(&file);
            std::fs::write(dir.join(format!("seed-m{m}-mode{mode}")), &data).unwrap();
        }
        let _ = i;
    }
}

#[test]
fn sq8_section_damage_is_refused_with_typed_errors() {
    let bytes = fuzzing::fixture_index_bytes(4);
    let (h, layout) = HnswHeader::decode(&bytes, Path::new("t"), bytes.len() as u64).unwrap();
    let (sq8_at, sq8_len) = layout.sq8_section().expect("fixture has an SQ8 section");
    let dim = h.dim as usize;
    assert_eq!(sq8_len as usize, 8 * dim + FIXTURE_ROWS * dim);
    assert!(open_and_verify(&bytes).unwrap().graph().has_sq8());
    let corrupted = |e: &Error| matches!(e, Error::Format(FormatError::Corrupted { .. }));
    // Quantiser parameters that are not finite or a negative step: refused at open, even
    // with every CRC valid.
    let min0 = sq8_at as usize;
    let scale0 = min0 + 4 * dim;
    for (what, at, value) in [
        ("NaN minimum", min0, f32::NAN),
        ("infinite minimum", min0 + 4, f32::INFINITY),
        ("negative step", scale0, -1.0),
        ("NaN step", scale0 + 4, f32::NAN),
    ] {
        let b = patched(&bytes, at, value.to_bits());
        let e = open(&b).map(|_| ()).unwrap_err();
        assert!(corrupted(&e), "{what}: {e}");
    }
    // A changed code keeps the file decodable (any byte is a code) but fails the section
    // CRC in `verify`; search stays defined.
    let mut b = bytes.clone();
    b[min0 + 8 * dim + 5] ^= 0x40;
    let index = open(&b).unwrap();
    let e = index.verify().unwrap_err();
    assert!(corrupted(&e), "{e}");
    assert!(e.to_string().contains("SQ8"), "{e}");
    let q = fuzzing::fixture_segment().row(3).unwrap();
    assert!(index.search(q, 5, &SearchOptions::ef(16)).unwrap().len() <= 5);
    // Header fields of the section that disagree with the layout.
    for (what, at, value) in [
        ("sq8_offset", 160, (sq8_at + 64) as u32),
        ("sq8_len", 168, sq8_len as u32 + 1),
    ] {
        let e = open(&patched(&bytes, at, value)).map(|_| ()).unwrap_err();
        assert!(corrupted(&e), "{what}: {e}");
    }
}

#[test]
fn version_1_files_open_and_may_not_claim_an_sq8_section() {
    let with_sq8 = fuzzing::fixture_index_bytes(4);
    let index = open(&with_sq8).unwrap();
    // A version 1 image: the same graph without the section, version field 1.
    let mut v1 = index.clone().with_sq8(false).to_bytes().unwrap();
    v1[12..16].copy_from_slice(&1u32.to_le_bytes());
    fuzzing::reseal(&mut v1);
    let old = open_and_verify(&v1).unwrap();
    assert!(!old.graph().has_sq8());
    let seg = fuzzing::fixture_segment();
    for r in 0..FIXTURE_ROWS {
        let q = seg.row(r).unwrap();
        let mut opts = SearchOptions::ef(32);
        opts.tuning.exact_traversal = true;
        assert_eq!(
            old.search(q, 5, &opts).unwrap(),
            index.search(q, 5, &opts).unwrap()
        );
    }
    // Version 1 with the section's header fields set: corrupt.
    let mut bad = with_sq8.clone();
    bad[12..16].copy_from_slice(&1u32.to_le_bytes());
    fuzzing::reseal(&mut bad);
    let e = open(&bad).map(|_| ()).unwrap_err();
    assert!(
        matches!(e, Error::Format(FormatError::Corrupted { .. })),
        "{e}"
    );
}
