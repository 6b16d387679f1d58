//! The manifest: the durable description of a database's state — its collections, their
//! sealed segments and index files (each with length, checksum and generation), metadata
//! checkpoints, and the WAL position replay starts from.
//!
//! File `MANIFEST-<seq>` (20-digit decimal, so names sort by sequence):
//!
//! | offset | size | field       | meaning                                              |
//! |-------:|-----:|-------------|------------------------------------------------------|
//! | 0      | 16   | prefix      | magic, kind = 5 (manifest), version 1                |
//! | 16     | 8    | `seq`       | sequence number (must equal the file name's)         |
//! | 24     | 8    | `body_len`  | length of the JSON body                              |
//! | 32     | 4    | `body_crc`  | CRC32 of the body                                    |
//! | 36     | 4    | `header_crc`| CRC32 of bytes 0..36                                 |
//! | 40     | n    | body        | UTF-8 JSON of [`ManifestBody`]                       |
//!
//! The file length must be exactly `40 + body_len`. A manifest is written whole to a temp
//! file, fsynced, renamed into place and the directory fsynced; it is never modified.
#![deny(clippy::indexing_slicing, clippy::panic)]

use std::path::Path;

use mnemodb_format::{ByteReader, FileKind, FilePrefix, FormatError, crc32};
use serde::{Deserialize, Serialize};

use crate::config::CollectionSpec;
use crate::error::{Error, Result};

/// Size of the fixed header before the body.
pub(crate) const HEADER_LEN: usize = 40;
/// Upper bound on a manifest body (a bound for hostile length fields).
pub(crate) const MAX_BODY: u64 = 256 << 20;
/// File name prefix.
pub(crate) const NAME_PREFIX: &str = "MANIFEST-";

/// A file referenced by the manifest, with what it must be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FileRef {
    /// Path relative to the database directory.
    pub path: String,
    /// Exact length in bytes.
    pub len: u64,
    /// The file's own fingerprint: a segment's content CRC, an index header's CRC, a
    /// checkpoint's CRC over its bytes.
    pub crc: u32,
}

/// One sealed segment of a collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SegmentEntry {
    /// Generation (unique per database, increasing; also in the file's header).
    pub generation: u64,
    /// Rows in the file.
    pub rows: u64,
    /// Smallest and largest internal id in its id column (ids are sorted).
    pub min_id: u32,
    pub max_id: u32,
    /// The `.vec` file.
    pub vectors: FileRef,
    /// The index file, once built (`None`: searched by exact scan until then).
    pub index: Option<FileRef>,
}

/// One collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CollectionEntry {
    /// Internal id (directory `c<id>`).
    pub id: u32,
    pub spec: CollectionSpec,
    /// Every WAL record up to this LSN is reflected in `checkpoint` + `segments`.
    pub applied_lsn: u64,
    /// Metadata checkpoint at `applied_lsn` (`None`: empty metadata).
    pub checkpoint: Option<FileRef>,
    pub segments: Vec<SegmentEntry>,
}

/// The manifest's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ManifestBody {
    /// Replay starts at this LSN (every record below is reflected in the files).
    pub wal_start_lsn: u64,
    /// Next segment generation to hand out.
    pub next_generation: u64,
    /// Next collection id to hand out.
    pub next_collection_id: u32,
    pub collections: Vec<CollectionEntry>,
}

impl ManifestBody {
    pub(crate) fn empty() -> Self {
        ManifestBody {
            wal_start_lsn: 1,
            next_generation: 1,
            next_collection_id: 1,
            collections: Vec::new(),
        }
    }

    /// Every file the manifest references, relative to the database directory.
    pub(crate) fn files(&self) -> impl Iterator<Item = &FileRef> {
        self.collections.iter().flat_map(|c| {
            c.checkpoint.iter().chain(
                c.segments
                    .iter()
                    .flat_map(|s| std::iter::once(&s.vectors).chain(s.index.iter())),
            )
        })
    }
}

/// The file name of manifest `seq`.
pub(crate) fn file_name(seq: u64) -> String {
    format!("{NAME_PREFIX}{seq:020}")
}

/// The sequence number in a manifest file name.
pub(crate) fn parse_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(NAME_PREFIX)?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// Encode manifest `seq`.
pub(crate) fn encode(seq: u64, body: &ManifestBody) -> Result<Vec<u8>> {
    let json = serde_json::to_vec_pretty(body)
        .map_err(|e| Error::Internal(format!("encode manifest: {e}")))?;
    let mut out = Vec::with_capacity(HEADER_LEN + json.len());
    out.extend_from_slice(bytemuck::bytes_of(&FilePrefix::new(FileKind::Manifest)));
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32(&json).to_le_bytes());
    let header_crc = crc32(&out);
    out.extend_from_slice(&header_crc.to_le_bytes());
    out.extend_from_slice(&json);
    Ok(out)
}

/// Decode a manifest file's bytes; `file` names it in errors. Returns its sequence number
/// and body. Checks prefix, header CRC, exact length, body CRC, JSON structure and the
/// body's internal consistency.
pub(crate) fn decode(bytes: &[u8], file: &Path) -> Result<(u64, ManifestBody)> {
    decode_inner(bytes, file).map_err(Error::from)
}

fn decode_inner(
    bytes: &[u8],
    file: &Path,
) -> std::result::Result<(u64, ManifestBody), FormatError> {
    FilePrefix::decode(bytes, file, FileKind::Manifest)?;
    let mut r = ByteReader::new(bytes, 0, file);
    r.bytes(FilePrefix::SIZE, "prefix")?;
    let seq = r.u64("sequence number")?;
    let body_len = r.u64("body length")?;
    let body_crc = r.u32("body crc")?;
    let header_crc = r.u32("header crc")?;
    let header = bytes.get(..HEADER_LEN - 4).unwrap_or_default();
    if crc32(header) != header_crc {
        return Err(FormatError::corrupted(file, 36, "header checksum mismatch"));
    }
    if body_len > MAX_BODY || body_len != r.remaining() as u64 {
        return Err(FormatError::corrupted(
            file,
            24,
            format!(
                "body length {body_len} but {} bytes follow the header",
                r.remaining()
            ),
        ));
    }
    let body = r.bytes(r.remaining(), "body")?;
    if crc32(body) != body_crc {
        return Err(FormatError::corrupted(
            file,
            HEADER_LEN as u64,
            "body checksum mismatch",
        ));
    }
    let parsed: ManifestBody = serde_json::from_slice(body).map_err(|e| {
        FormatError::corrupted(
            file,
            HEADER_LEN as u64,
            format!("body is not a manifest: {e}"),
        )
    })?;
    check(&parsed).map_err(|what| FormatError::corrupted(file, HEADER_LEN as u64, what))?;
    Ok((seq, parsed))
}

/// Internal consistency of a body (a valid CRC proves integrity, not sanity).
fn check(body: &ManifestBody) -> std::result::Result<(), String> {
    let mut names = std::collections::BTreeSet::new();
    let mut ids = std::collections::BTreeSet::new();
    let mut generations = std::collections::BTreeSet::new();
    for c in &body.collections {
        if !names.insert(c.spec.name.as_str()) || !ids.insert(c.id) {
            return Err(format!(
                "collection `{}` (id {}) appears twice",
                c.spec.name, c.id
            ));
        }
        if c.id >= body.next_collection_id {
            return Err(format!(
                "collection id {} ≥ next id {}",
                c.id, body.next_collection_id
            ));
        }
        crate::config::validate_name(&c.spec.name).map_err(|e| e.to_string())?;
        c.spec.to_config()?;
        let mut last_max: Option<u32> = None;
        for s in &c.segments {
            if s.generation >= body.next_generation || !generations.insert(s.generation) {
                return Err(format!(
                    "segment generation {} repeated or ≥ next generation",
                    s.generation
                ));
            }
            if s.rows == 0 || s.min_id > s.max_id || u64::from(s.max_id - s.min_id) + 1 < s.rows {
                return Err(format!(
                    "segment {}: {} rows cannot have ids {}..={}",
                    s.generation, s.rows, s.min_id, s.max_id
                ));
            }
            if last_max.is_some_and(|m| s.min_id <= m) {
                return Err(format!(
                    "segment {}: id ranges overlap or are out of order",
                    s.generation
                ));
            }
            last_max = Some(s.max_id);
            for f in std::iter::once(&s.vectors).chain(s.index.iter()) {
                check_path(&f.path)?;
            }
        }
        if let Some(ck) = &c.checkpoint {
            check_path(&ck.path)?;
        }
        if c.applied_lsn + 1 < body.wal_start_lsn {
            return Err(format!(
                "collection `{}` is applied to LSN {} but replay starts at {}",
                c.spec.name, c.applied_lsn, body.wal_start_lsn
            ));
        }
    }
    Ok(())
}

/// Referenced paths stay inside the database directory.
fn check_path(path: &str) -> std::result::Result<(), String> {
    let p = Path::new(path);
    let plain = !path.is_empty()
        && p.components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
    if plain {
        Ok(())
    } else {
        Err(format!("file path `{path}` leaves the database directory"))
    }
}

#[doc(hidden)]
/// Fuzz entry: decode must never panic; a decoded manifest re-encodes and decodes equal.
pub fn fuzz_decode(bytes: &[u8]) {
    if let Ok((seq, body)) = decode(bytes, Path::new("MANIFEST-fuzz"))
        && let Ok(again) = encode(seq, &body)
    {
        let back = decode(&again, Path::new("MANIFEST-fuzz")).ok();
        assert_eq!(back, Some((seq, body)), "manifest round trip");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CollectionConfig;
    use mnemodb_distance::Metric;

    pub(crate) fn sample() -> ManifestBody {
        ManifestBody {
            wal_start_lsn: 10,
            next_generation: 5,
            next_collection_id: 3,
            collections: vec![CollectionEntry {
                id: 1,
                spec: CollectionConfig::new("memories", 8, Metric::Cosine)
                    .keyword("user")
                    .spec(),
                applied_lsn: 12,
                checkpoint: Some(FileRef {
                    path: "meta/c1-12.ckpt".into(),
                    len: 100,
                    crc: 7,
                }),
                segments: vec![SegmentEntry {
                    generation: 4,
                    rows: 3,
                    min_id: 0,
                    max_id: 4,
                    vectors: FileRef {
                        path: "c1/seg-4.vec".into(),
                        len: 1000,
                        crc: 9,
                    },
                    index: None,
                }],
            }],
        }
    }

    #[test]
    fn round_trip_and_names() {
        let bytes = encode(7, &sample()).unwrap();
        assert_eq!(decode(&bytes, Path::new("m")).unwrap(), (7, sample()));
        assert_eq!(parse_name(&file_name(7)), Some(7));
        assert_eq!(parse_name("MANIFEST-7"), None);
        assert_eq!(parse_name("MANIFEST-0000000000000000000x"), None);
    }

    #[test]
    fn every_bit_flip_and_truncation_is_detected() {
        let bytes = encode(7, &sample()).unwrap();
        for i in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[i / 8] ^= 1 << (i % 8);
            assert!(decode(&b, Path::new("m")).is_err(), "bit {i} undetected");
        }
        for len in 0..bytes.len() {
            let err = decode(&bytes[..len], Path::new("m")).unwrap_err();
            assert!(matches!(err, Error::Corrupted { .. }), "{err}");
        }
    }

    #[test]
    fn insane_bodies_are_refused_even_with_valid_checksums() {
        let mut overlapping = sample();
        let mut seg = overlapping.collections[0].segments[0].clone();
        seg.generation = 3;
        overlapping.collections[0].segments.push(seg);
        let mut escaping = sample();
        escaping.collections[0].segments[0].vectors.path = "../x.vec".into();
        let mut stale = sample();
        stale.collections[0].applied_lsn = 2;
        for body in [overlapping, escaping, stale] {
            let bytes = encode(1, &body).unwrap();
            assert!(decode(&bytes, Path::new("m")).is_err());
        }
    }

    /// Replays the committed fuzz corpus (seeded with this sample on first run).
    #[test]
    fn fuzz_corpus_replays() {
        let dir = mnemodb_testkit::fuzz_corpus_dir("manifest_decode");
        if mnemodb_testkit::fuzz_corpus("manifest_decode").is_empty() {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("seed-sample"), encode(7, &sample()).unwrap()).unwrap();
            std::fs::write(
                dir.join("seed-empty"),
                encode(1, &ManifestBody::empty()).unwrap(),
            )
            .unwrap();
        }
        for f in mnemodb_testkit::fuzz_corpus("manifest_decode") {
            fuzz_decode(&std::fs::read(f).unwrap());
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            fuzz_decode(&bytes);
        }
    }
}
