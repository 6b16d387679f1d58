//! The checkpoint used in place (body layout 2): [`Base`] is a checkpoint file kept in
//! memory (mapped) and read where it lies, instead of being decoded into persistent maps.
//!
//! ```text
//! 128: marker u32 = 0xFFFF_FFFF, layout u32 = 2, schema (v1 schema encoding),
//!      section_count u32, section_count × (len u64, crc u32)        ← header.body_crc
//! then the sections, back to back to the end of the file, each under its own CRC:
//!   0 doc_offsets  (next_internal_id + 1) × u64, non-decreasing, relative to `docs`;
//!                  record i = docs[off[i]..off[i+1]], empty ⇔ id i is not live
//!   1 docs         records: external_id + document (the v1 encodings)
//!   2 u64_ids      n × (id u64, internal u32), strictly ascending by id
//!   3 str_ids      n × (offset u64, len u32, internal u32) into str_blob, strictly
//!                  ascending by bytes
//!   4 str_blob     the string ids' bytes
//!   5 live         roaring bitmap (portable format) of the live internal ids
//!   6 field_counts count u32, count × (name str, documents u64), names ascending
//!   per declared field, in schema order:
//!   7+6f exists    roaring;  8+6f numbers  roaring;  9+6f timestamps roaring
//!   10+6f kw_index (k + 1) × u64 offsets into kw_blob
//!   11+6f kw_blob  k × (key_len u32, key, roaring bitmap), keys strictly ascending
//!   12+6f range    m × 16 bytes (tag u8, 3 zero bytes, id u32, value u64), strictly
//!                  ascending by (orderable value, id)
//! ```
//!
//! Opening checks every CRC and the structure that later lazy reads rely on (offsets
//! monotone and in bounds, tables sorted, ids below `next_internal_id`, the live bitmap
//! agreeing with the document offsets, every small bitmap decoded); documents are decoded
//! on first access and cached per id (the cache is allocated lazily in chunks), keyword
//! bitmaps on first lookup. A document or bitmap that fails to decode later is reported
//! as corruption (`filter` → `Err`, lookups → absent, [`Base::verify`] → `Err`), never a
//! panic.
#![deny(clippy::indexing_slicing, clippy::panic)]

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use mnemodb_format::{ChainedCrc, CheckpointHeader, FormatError, crc32};
use mnemodb_io::ReadOnlyBytes;
use parking_lot::Mutex;
use roaring::RoaringBitmap;

use crate::codec::{Decoder, encode_document_into, read_document, read_document_fields};
use crate::error::Result;
use crate::external_id::{ExternalId, MAX_EXTERNAL_ID_BYTES};
use crate::field_index::{KeywordKey, RangePlan, ids_to_bitmap};
use crate::schema::Schema;
use crate::state::{MetaState, Record};
use crate::value::{Document, Number, Orderable};

/// The first body `u32` of a layout-2 checkpoint (a v1 body starts with the schema's field
/// count, which can never be this large).
pub(crate) const LAYOUT_MARKER: u32 = u32::MAX;
/// The body layout written.
pub(crate) const LAYOUT_VERSION: u32 = 2;
const HEADER: usize = CheckpointHeader::SIZE as usize;
/// Ids per lazily allocated cache chunk.
const CHUNK: usize = 1024;
const FIXED_SECTIONS: usize = 7;
const FIELD_SECTIONS: usize = 6;
const RANGE_ENTRY: usize = 16;
const U64_ENTRY: usize = 12;
const STR_ENTRY: usize = 16;

const TAG_INT: u8 = 0;
const TAG_FLOAT: u8 = 1;
const TAG_TIMESTAMP: u8 = 2;

/// Whether a checkpoint file has body layout 2.
pub(crate) fn is_layout2(bytes: &[u8]) -> bool {
    read_u32(bytes, HEADER) == Some(LAYOUT_MARKER)
}

fn read_u32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(s.try_into().ok()?))
}

fn read_u64(b: &[u8], at: usize) -> Option<u64> {
    let s = b.get(at..at.checked_add(8)?)?;
    Some(u64::from_le_bytes(s.try_into().ok()?))
}

/// First index in `0..n` where `pred` is false (`pred` true on a prefix).
fn partition(n: usize, mut pred: impl FnMut(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// A byte range of the file.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Span {
    start: usize,
    len: usize,
}

impl Span {
    fn of(self, bytes: &[u8]) -> &[u8] {
        bytes
            .get(self.start..self.start.saturating_add(self.len))
            .unwrap_or_default()
    }
}

/// A keyword key as stored: `tag u8` + payload (0 null, 1 false, 2 true, 3 int i64,
/// 4 float f64, 5 timestamp i64, 6 string bytes).
#[derive(Debug, Clone, Copy)]
enum KeyRef<'a> {
    Null,
    Bool(bool),
    Number(Number),
    Timestamp(i64),
    Str(&'a [u8]),
}

impl<'a> KeyRef<'a> {
    fn decode(b: &'a [u8]) -> Option<KeyRef<'a>> {
        let (&tag, rest) = b.split_first()?;
        let word = || -> Option<[u8; 8]> {
            if rest.len() == 8 {
                rest.try_into().ok()
            } else {
                None
            }
        };
        Some(match tag {
            0 if rest.is_empty() => KeyRef::Null,
            1 if rest.is_empty() => KeyRef::Bool(false),
            2 if rest.is_empty() => KeyRef::Bool(true),
            3 => KeyRef::Number(Number::Int(i64::from_le_bytes(word()?))),
            4 => {
                let x = f64::from_le_bytes(word()?);
                if x.is_nan() {
                    return None;
                }
                KeyRef::Number(Number::Float(x))
            }
            5 => KeyRef::Timestamp(i64::from_le_bytes(word()?)),
            6 => KeyRef::Str(std::str::from_utf8(rest).ok()?.as_bytes()),
            _ => return None,
        })
    }

    fn rank(&self) -> u8 {
        match self {
            KeyRef::Null => 0,
            KeyRef::Bool(_) => 1,
            KeyRef::Number(_) => 2,
            KeyRef::Timestamp(_) => 3,
            KeyRef::Str(_) => 4,
        }
    }

    fn of(k: &'a KeywordKey) -> KeyRef<'a> {
        match k {
            KeywordKey::Null => KeyRef::Null,
            KeywordKey::Bool(b) => KeyRef::Bool(*b),
            KeywordKey::Number(n) => KeyRef::Number(*n),
            KeywordKey::Timestamp(t) => KeyRef::Timestamp(*t),
            KeywordKey::Str(s) => KeyRef::Str(s.as_bytes()),
        }
    }

    /// The same order as `KeywordKey`'s.
    fn cmp(&self, other: &KeyRef<'_>) -> Ordering {
        match (self, other) {
            (KeyRef::Bool(a), KeyRef::Bool(b)) => a.cmp(b),
            (KeyRef::Number(a), KeyRef::Number(b)) => a.cmp(b),
            (KeyRef::Timestamp(a), KeyRef::Timestamp(b)) => a.cmp(b),
            (KeyRef::Str(a), KeyRef::Str(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }

    fn to_key(self) -> Option<KeywordKey> {
        Some(match self {
            KeyRef::Null => KeywordKey::Null,
            KeyRef::Bool(b) => KeywordKey::Bool(b),
            KeyRef::Number(n) => KeywordKey::Number(n),
            KeyRef::Timestamp(t) => KeywordKey::Timestamp(t),
            KeyRef::Str(s) => KeywordKey::Str(Arc::from(std::str::from_utf8(s).ok()?)),
        })
    }
}

fn encode_key(k: &KeywordKey, out: &mut Vec<u8>) {
    match k {
        KeywordKey::Null => out.push(0),
        KeywordKey::Bool(false) => out.push(1),
        KeywordKey::Bool(true) => out.push(2),
        KeywordKey::Number(Number::Int(i)) => {
            out.push(3);
            out.extend_from_slice(&i.to_le_bytes());
        }
        KeywordKey::Number(Number::Float(x)) => {
            out.push(4);
            out.extend_from_slice(&x.to_le_bytes());
        }
        KeywordKey::Timestamp(t) => {
            out.push(5);
            out.extend_from_slice(&t.to_le_bytes());
        }
        KeywordKey::Str(s) => {
            out.push(6);
            out.extend_from_slice(s.as_bytes());
        }
    }
}

fn decode_range_entry(b: &[u8]) -> Option<(Orderable, u32)> {
    let tag = *b.first()?;
    if b.get(1..4)? != [0, 0, 0] {
        return None;
    }
    let id = read_u32(b, 4)?;
    let raw = read_u64(b, 8)?;
    let o = match tag {
        TAG_INT => Orderable::Number(Number::Int(raw as i64)),
        TAG_FLOAT => {
            let x = f64::from_bits(raw);
            if x.is_nan() {
                return None;
            }
            Orderable::Number(Number::Float(x))
        }
        TAG_TIMESTAMP => Orderable::Timestamp(raw as i64),
        _ => return None,
    };
    Some((o, id))
}

fn encode_range_entry(o: &Orderable, id: u32, out: &mut Vec<u8>) {
    let (tag, raw) = match o {
        Orderable::Number(Number::Int(i)) => (TAG_INT, *i as u64),
        Orderable::Number(Number::Float(x)) => (TAG_FLOAT, x.to_bits()),
        Orderable::Timestamp(t) => (TAG_TIMESTAMP, *t as u64),
    };
    out.extend_from_slice(&[tag, 0, 0, 0]);
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&raw.to_le_bytes());
}

/// The indexes of one declared field in a [`Base`].
#[derive(Debug)]
pub(crate) struct BaseField {
    pub(crate) exists: RoaringBitmap,
    pub(crate) numbers: RoaringBitmap,
    pub(crate) timestamps: RoaringBitmap,
    kw_index: Span,
    kw_blob: Span,
    kw_count: usize,
    kw_cache: Mutex<HashMap<usize, Option<Arc<RoaringBitmap>>>>,
    range: Span,
    range_count: usize,
}

/// A checkpoint used in place; see the module doc.
pub(crate) struct Base {
    bytes: ReadOnlyBytes,
    file: PathBuf,
    next: u32,
    doc_offsets: Span,
    docs: Span,
    u64_ids: Span,
    str_ids: Span,
    str_blob: Span,
    pub(crate) live: RoaringBitmap,
    pub(crate) field_counts: Vec<(Arc<str>, u64)>,
    pub(crate) fields: Vec<BaseField>,
    cache: Box<[OnceLock<CacheChunk>]>,
}

/// Decoded records of `CHUNK` consecutive ids (`None`: not live or not decodable).
type CacheChunk = Box<[OnceLock<Option<Box<Record>>>]>;

/// A directory: the schema, each section's (len, crc), and where the sections start.
type Directory = (Schema, Vec<(usize, u32)>, usize);

impl std::fmt::Debug for Base {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Base")
            .field("file", &self.file)
            .field("next", &self.next)
            .field("live", &self.live.len())
            .finish_non_exhaustive()
    }
}

/// A layout-2 file whose CRCs and structure are checked, before it is tied to a schema.
pub(crate) struct Opened {
    pub(crate) base: Base,
    pub(crate) written_under: Schema,
    pub(crate) header: CheckpointHeader,
    /// CRC32 of the whole file.
    pub(crate) file_crc: u32,
}

/// A layout-2 file whose CRCs all match: its header, schema, sections and whole-file CRC.
pub(crate) struct Checked {
    pub(crate) header: CheckpointHeader,
    pub(crate) written_under: Schema,
    pub(crate) spans: Vec<Span>,
    pub(crate) file_crc: u32,
}

struct Cursor<'a> {
    bytes: &'a [u8],
    file: &'a Path,
}

impl Cursor<'_> {
    fn err(&self, at: usize, what: impl Into<String>) -> FormatError {
        FormatError::corrupted(self.file, at as u64, what)
    }
}

impl Base {
    /// Check a layout-2 file: header, directory and section CRCs, then the structure.
    pub(crate) fn open(bytes: ReadOnlyBytes, file: &Path) -> Result<Opened> {
        let Checked {
            header,
            written_under,
            spans,
            file_crc,
        } = Self::check(&bytes, file)?;
        let c = Cursor {
            bytes: &bytes,
            file,
        };
        let fields = written_under.fields().count();
        let base = Self::structure(&c, &header, &spans, fields)?;
        Ok(Opened {
            base: Base { bytes, ..base },
            written_under,
            header,
            file_crc,
        })
    }

    /// The header, schema and sections of a layout-2 file, every CRC checked.
    pub(crate) fn check(bytes: &[u8], file: &Path) -> Result<Checked> {
        let h = CheckpointHeader::decode(bytes, file, bytes.len() as u64)?;
        let c = Cursor { bytes, file };
        // The body's marker, not the prefix version, says the layout: a file written while
        // layout 2 still carried version 1 (the first build that wrote it) opens too.
        let (written_under, sections, dir_end) = Self::directory(&c, &h)?;
        // Every part's CRC and the whole file's from one read (the engine checks the latter
        // against its manifest).
        let mut chain = ChainedCrc::new();
        chain.part(bytes.get(..HEADER).unwrap_or_default());
        let dir_crc = chain.part(bytes.get(HEADER..dir_end).unwrap_or_default());
        if dir_crc != h.body_crc {
            return Err(c
                .err(
                    HEADER,
                    format!(
                        "section directory checksum mismatch (header says {:#010x}, found {dir_crc:#010x})",
                        h.body_crc
                    ),
                )
                .into());
        }
        let mut spans = Vec::with_capacity(sections.len());
        let mut at = dir_end;
        for (i, (len, crc)) in sections.iter().enumerate() {
            let span = Span {
                start: at,
                len: *len,
            };
            let got = chain.part(span.of(bytes));
            if got != *crc {
                return Err(c
                    .err(
                        at,
                        format!("section {i} checksum mismatch (directory says {crc:#010x}, found {got:#010x})"),
                    )
                    .into());
            }
            spans.push(span);
            at += len;
        }
        Ok(Checked {
            header: h,
            written_under,
            spans,
            file_crc: chain.whole(),
        })
    }

    /// The schema, the sections' (len, crc) and where the sections start; checks that the
    /// sections fill the file exactly.
    fn directory(c: &Cursor<'_>, h: &CheckpointHeader) -> Result<Directory> {
        let body = c.bytes.get(HEADER..).unwrap_or_default();
        let mut d = Decoder::new(body, HEADER as u64, c.file);
        let _marker = d.u32("layout marker")?;
        let at = d.offset();
        let layout = d.u32("body layout")?;
        if layout != LAYOUT_VERSION {
            return Err(d
                .error_at(at, format!("unknown checkpoint body layout {layout}"))
                .into());
        }
        let schema = Schema::decode(&mut d)?;
        let at = d.offset();
        let n = d.count(12, "section count")?;
        let fields = schema.fields().count();
        if n != FIXED_SECTIONS + FIELD_SECTIONS * fields {
            return Err(d
                .error_at(at, format!("{n} sections for a schema of {fields} fields"))
                .into());
        }
        let mut sections = Vec::with_capacity(n);
        for _ in 0..n {
            let len = d.u64("section length")?;
            let crc = d.u32("section crc")?;
            sections.push((len, crc));
        }
        let dir_end = usize::try_from(d.offset()).unwrap_or(usize::MAX);
        let total = sections
            .iter()
            .try_fold(dir_end as u64, |acc, (len, _)| acc.checked_add(*len));
        if total != Some(c.bytes.len() as u64) {
            return Err(c
                .err(
                    dir_end,
                    format!(
                        "sections end at {total:?}, the file is {} bytes",
                        c.bytes.len()
                    ),
                )
                .into());
        }
        let _ = h;
        let sections = sections
            .into_iter()
            .map(|(len, crc)| (len as usize, crc))
            .collect();
        Ok((schema, sections, dir_end))
    }

    fn bitmap(c: &Cursor<'_>, s: Span, next: u32, what: &str) -> Result<RoaringBitmap> {
        let mut r = s.of(c.bytes);
        let b = RoaringBitmap::deserialize_from(&mut r)
            .map_err(|e| c.err(s.start, format!("{what}: invalid bitmap ({e})")))?;
        if !r.is_empty() {
            return Err(c
                .err(s.start, format!("{what}: trailing bytes after the bitmap"))
                .into());
        }
        if b.max().is_some_and(|m| m >= next) {
            return Err(c
                .err(s.start, format!("{what}: id ≥ next_internal_id {next}"))
                .into());
        }
        Ok(b)
    }

    /// Structural checks of every section (CRCs already verified).
    fn structure(
        c: &Cursor<'_>,
        h: &CheckpointHeader,
        spans: &[Span],
        fields: usize,
    ) -> Result<Base> {
        let span = |i: usize| spans.get(i).copied().unwrap_or_default();
        let next = h.next_internal_id;
        if next > crate::state::MAX_INTERNAL_ID {
            return Err(c.err(40, "next_internal_id exceeds the maximum").into());
        }
        let n = next as usize;
        let (doc_offsets, docs) = (span(0), span(1));
        let live = Self::bitmap(c, span(5), next, "live bitmap")?;
        if live.len() != h.document_count {
            return Err(c
                .err(
                    32,
                    format!(
                        "{} live ids in the bitmap, header says {} documents",
                        live.len(),
                        h.document_count
                    ),
                )
                .into());
        }
        // Document offsets: n + 1 entries, from 0, non-decreasing, to docs.len; a record
        // is non-empty exactly for live ids.
        if doc_offsets.len != (n + 1) * 8 {
            return Err(c
                .err(
                    doc_offsets.start,
                    "document offset table has the wrong length",
                )
                .into());
        }
        let offs = doc_offsets.of(c.bytes);
        let mut live_iter = live.iter().peekable();
        let mut prev = 0u64;
        for (i, w) in offs.chunks_exact(8).enumerate() {
            let off = u64::from_le_bytes(w.try_into().unwrap_or_default());
            let bad = if i == 0 {
                off != 0
            } else {
                let nonempty = off > prev;
                let is_live = live_iter.next_if_eq(&((i - 1) as u32)).is_some();
                off < prev || nonempty != is_live
            };
            if bad {
                return Err(c
                    .err(
                        doc_offsets.start + i * 8,
                        format!(
                            "document offset {i} out of order or disagrees with the live bitmap"
                        ),
                    )
                    .into());
            }
            prev = off;
        }
        if prev != docs.len as u64 {
            return Err(c
                .err(
                    doc_offsets.start,
                    "document offsets do not end at the documents' end",
                )
                .into());
        }
        // External ids.
        let (u64_ids, str_ids, str_blob) = (span(2), span(3), span(4));
        if u64_ids.len % U64_ENTRY != 0 || str_ids.len % STR_ENTRY != 0 {
            return Err(c.err(u64_ids.start, "id table length").into());
        }
        let id_count = (u64_ids.len / U64_ENTRY + str_ids.len / STR_ENTRY) as u64;
        if id_count != h.document_count {
            return Err(c
                .err(
                    u64_ids.start,
                    format!("{id_count} external ids for {} documents", h.document_count),
                )
                .into());
        }
        let mut prev: Option<u64> = None;
        for (i, e) in u64_ids.of(c.bytes).chunks_exact(U64_ENTRY).enumerate() {
            let (id, internal) = (read_u64(e, 0), read_u32(e, 8));
            let ok = matches!((id, internal), (Some(id), Some(int))
                if prev.is_none_or(|p| p < id) && live.contains(int));
            if !ok {
                return Err(c
                    .err(
                        u64_ids.start + i * U64_ENTRY,
                        "numeric id table out of order or names a dead id",
                    )
                    .into());
            }
            prev = id;
        }
        let blob = str_blob.of(c.bytes);
        let mut prev: Option<&[u8]> = None;
        for (i, e) in str_ids.of(c.bytes).chunks_exact(STR_ENTRY).enumerate() {
            let s = Self::str_entry(e, blob);
            let ok = matches!(s, Some((s, int))
                if prev.is_none_or(|p| p < s) && s.len() <= MAX_EXTERNAL_ID_BYTES && live.contains(int));
            if !ok {
                return Err(c
                    .err(
                        str_ids.start + i * STR_ENTRY,
                        "string id table out of order, out of bounds or names a dead id",
                    )
                    .into());
            }
            prev = s.map(|(s, _)| s);
        }
        // Field counts.
        let fc = span(6);
        let mut d = Decoder::new(fc.of(c.bytes), fc.start as u64, c.file);
        let count = d.count(12, "field count entries")?;
        let mut field_counts: Vec<(Arc<str>, u64)> = Vec::with_capacity(count);
        for _ in 0..count {
            let at = d.offset();
            let name = d.str("field name")?;
            let docs = d.u64("field documents")?;
            if docs == 0
                || docs > h.document_count
                || field_counts.last().is_some_and(|(p, _)| **p >= *name)
            {
                return Err(d
                    .error_at(at, "field counts out of order or out of range")
                    .into());
            }
            field_counts.push((Arc::from(name), docs));
        }
        d.finish("field counts")?;
        // Fields.
        let mut base_fields = Vec::with_capacity(fields);
        for f in 0..fields {
            let s = |k: usize| span(FIXED_SECTIONS + FIELD_SECTIONS * f + k);
            let exists = Self::bitmap(c, s(0), next, "exists bitmap")?;
            let numbers = Self::bitmap(c, s(1), next, "numbers bitmap")?;
            let timestamps = Self::bitmap(c, s(2), next, "timestamps bitmap")?;
            let (kw_index, kw_blob, range) = (s(3), s(4), s(5));
            if kw_index.len % 8 != 0 || kw_index.len == 0 {
                return Err(c.err(kw_index.start, "keyword table length").into());
            }
            let kw_count = kw_index.len / 8 - 1;
            let kw_blob_bytes = kw_blob.of(c.bytes);
            let mut prev_end = 0u64;
            let mut prev_key: Option<KeyRef<'_>> = None;
            for (j, w) in kw_index.of(c.bytes).chunks_exact(8).enumerate() {
                let off = u64::from_le_bytes(w.try_into().unwrap_or_default());
                let ok = if j == 0 { off == 0 } else { off > prev_end };
                let ok = ok && (j < kw_count || off == kw_blob.len as u64);
                if !ok {
                    return Err(c
                        .err(kw_index.start + j * 8, "keyword offsets out of order")
                        .into());
                }
                if j < kw_count {
                    let key = Self::kw_entry_at(kw_blob_bytes, off as usize)
                        .and_then(|(k, _)| KeyRef::decode(k));
                    let ok = matches!(key, Some(k) if prev_key.is_none_or(|p| p.cmp(&k) == Ordering::Less));
                    if !ok {
                        return Err(c
                            .err(
                                kw_blob.start + off as usize,
                                "keyword key invalid or out of order",
                            )
                            .into());
                    }
                    prev_key = key;
                }
                prev_end = off;
            }
            if range.len % RANGE_ENTRY != 0 {
                return Err(c.err(range.start, "range table length").into());
            }
            let range_count = range.len / RANGE_ENTRY;
            let mut prev: Option<(Orderable, u32)> = None;
            let (mut nums, mut stamps) = (0u64, 0u64);
            for (j, e) in range.of(c.bytes).chunks_exact(RANGE_ENTRY).enumerate() {
                let entry = decode_range_entry(e);
                let ok = matches!(entry, Some(x) if x.1 < next && prev.is_none_or(|p| p < x));
                if !ok {
                    return Err(c
                        .err(
                            range.start + j * RANGE_ENTRY,
                            "range entry invalid or out of order",
                        )
                        .into());
                }
                match entry {
                    Some((Orderable::Timestamp(_), _)) => stamps += 1,
                    _ => nums += 1,
                }
                prev = entry;
            }
            if nums != numbers.len() || stamps != timestamps.len() {
                return Err(c
                    .err(
                        range.start,
                        "range entries disagree with the numbers/timestamps bitmaps",
                    )
                    .into());
            }
            base_fields.push(BaseField {
                exists,
                numbers,
                timestamps,
                kw_index,
                kw_blob,
                kw_count,
                kw_cache: Mutex::new(HashMap::new()),
                range,
                range_count,
            });
        }
        let chunks = n.div_ceil(CHUNK);
        Ok(Base {
            bytes: ReadOnlyBytes::default(),
            file: c.file.to_path_buf(),
            next,
            doc_offsets,
            docs,
            u64_ids,
            str_ids,
            str_blob,
            live,
            field_counts,
            fields: base_fields,
            cache: (0..chunks).map(|_| OnceLock::new()).collect(),
        })
    }

    /// `(key bytes, bitmap bytes)` of the keyword entry at `off` of the blob, up to the
    /// blob's end (the caller cuts at the next entry).
    fn kw_entry_at(blob: &[u8], off: usize) -> Option<(&[u8], &[u8])> {
        let klen = read_u32(blob, off)? as usize;
        let kstart = off.checked_add(4)?;
        let kend = kstart.checked_add(klen)?;
        Some((blob.get(kstart..kend)?, blob.get(kend..)?))
    }

    fn str_entry<'b>(e: &[u8], blob: &'b [u8]) -> Option<(&'b [u8], u32)> {
        let off = usize::try_from(read_u64(e, 0)?).ok()?;
        let len = read_u32(e, 8)? as usize;
        let internal = read_u32(e, 12)?;
        Some((blob.get(off..off.checked_add(len)?)?, internal))
    }

    /// Ids handed out when the checkpoint was written.
    pub(crate) fn next(&self) -> u32 {
        self.next
    }

    fn err(&self, at: usize, what: impl Into<String>) -> FormatError {
        FormatError::corrupted(&self.file, at as u64, what)
    }

    /// The encoded record (external id + document) of `internal`; empty when not live.
    pub(crate) fn raw_record(&self, internal: u32) -> &[u8] {
        let offs = self.doc_offsets.of(&self.bytes);
        let i = internal as usize;
        let (Some(a), Some(b)) = (read_u64(offs, i * 8), read_u64(offs, i * 8 + 8)) else {
            return &[];
        };
        let (a, b) = (a as usize, b as usize);
        self.docs.of(&self.bytes).get(a..b).unwrap_or_default()
    }

    /// A decoder at the start of `internal`'s record (`None` when it is not live), with
    /// offsets relative to the file.
    fn record_decoder(&self, internal: u32) -> Option<Decoder<'_>> {
        let raw = self.raw_record(internal);
        if raw.is_empty() {
            return None;
        }
        let at = raw.as_ptr() as usize - self.bytes.as_ptr() as usize;
        Some(Decoder::new(raw, at as u64, &self.file))
    }

    /// Decode the record of `internal` (`None` when it is not live).
    pub(crate) fn decode_record(
        &self,
        internal: u32,
    ) -> std::result::Result<Option<Record>, FormatError> {
        let Some(mut d) = self.record_decoder(internal) else {
            return Ok(None);
        };
        let external = ExternalId::decode(&mut d)?;
        let doc = read_document(&mut d)?;
        d.finish("checkpoint record")?;
        Ok(Some(Record { external, doc }))
    }

    /// The record of `internal` if it was decoded (and cached) before.
    fn cached(&self, internal: u32) -> Option<&Record> {
        let i = internal as usize;
        self.cache
            .get(i / CHUNK)?
            .get()?
            .get(i % CHUNK)?
            .get()?
            .as_deref()
    }

    /// The external id of `internal` and its document's fields `fields`: from the cache
    /// when the record was decoded before, else read from the mapped bytes, building only
    /// those fields and caching nothing (a search's projection of many records read once).
    /// `None` when it is not live or does not decode.
    pub(crate) fn project(
        &self,
        internal: u32,
        fields: &[String],
    ) -> Option<(ExternalId, Document)> {
        if let Some(r) = self.cached(internal) {
            return Some((r.external.clone(), crate::value::project(&r.doc, fields)));
        }
        let mut d = self.record_decoder(internal)?;
        let external = ExternalId::decode(&mut d).ok()?;
        let doc = read_document_fields(&mut d, fields).ok()?;
        d.finish("checkpoint record").ok()?;
        Some((external, doc))
    }

    /// The external id of `internal` (the record's prefix; the document is not decoded).
    pub(crate) fn external_id(&self, internal: u32) -> Option<ExternalId> {
        if let Some(r) = self.cached(internal) {
            return Some(r.external.clone());
        }
        ExternalId::decode(&mut self.record_decoder(internal)?).ok()
    }

    /// The record of `internal`, decoded once and cached; `None` when it is not live or
    /// does not decode (see [`try_record`](Self::try_record)).
    pub(crate) fn record(&self, internal: u32) -> Option<&Record> {
        let i = internal as usize;
        let chunk = self
            .cache
            .get(i / CHUNK)?
            .get_or_init(|| (0..CHUNK).map(|_| OnceLock::new()).collect());
        chunk
            .get(i % CHUNK)?
            .get_or_init(|| self.decode_record(internal).ok().flatten().map(Box::new))
            .as_deref()
    }

    /// [`record`](Self::record), with a record that does not decode as an error.
    pub(crate) fn try_record(
        &self,
        internal: u32,
    ) -> std::result::Result<Option<&Record>, FormatError> {
        if !self.live.contains(internal) {
            return Ok(None);
        }
        match self.record(internal) {
            Some(r) => Ok(Some(r)),
            None => Err(self.decode_record(internal).err().unwrap_or_else(|| {
                self.err(self.docs.start, format!("record {internal} missing"))
            })),
        }
    }

    /// Decode every live record and every keyword bitmap (tools; nothing is cached).
    pub(crate) fn verify(&self) -> std::result::Result<(), FormatError> {
        for id in &self.live {
            let rec = self
                .decode_record(id)?
                .ok_or_else(|| self.err(self.docs.start, format!("record {id} missing")))?;
            if self.internal_of(&rec.external) != Some(id) {
                return Err(self.err(
                    self.u64_ids.start,
                    format!(
                        "external id {} of record {id} is not mapped to it",
                        rec.external
                    ),
                ));
            }
        }
        for f in &self.fields {
            for j in 0..f.kw_count {
                self.kw_bitmap(f, j)?;
            }
        }
        Ok(())
    }

    /// The internal id the checkpoint maps `id` to (live in the checkpoint).
    pub(crate) fn internal_of(&self, id: &ExternalId) -> Option<u32> {
        match id {
            ExternalId::U64(v) => {
                let t = self.u64_ids.of(&self.bytes);
                let n = t.len() / U64_ENTRY;
                let at = |i: usize| read_u64(t, i * U64_ENTRY);
                let i = partition(n, |i| at(i).is_some_and(|x| x < *v));
                (at(i)? == *v).then(|| read_u32(t, i * U64_ENTRY + 8))?
            }
            ExternalId::Str(s) => {
                let t = self.str_ids.of(&self.bytes);
                let blob = self.str_blob.of(&self.bytes);
                let n = t.len() / STR_ENTRY;
                let at = |i: usize| Self::str_entry(t.get(i * STR_ENTRY..)?, blob);
                let i = partition(n, |i| at(i).is_some_and(|(x, _)| x < s.as_bytes()));
                let (x, internal) = at(i)?;
                (x == s.as_bytes()).then_some(internal)
            }
        }
    }

    /// Every `(numeric id, internal)` entry, ascending by id.
    fn u64_entries(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        self.u64_ids
            .of(&self.bytes)
            .chunks_exact(U64_ENTRY)
            .filter_map(|e| Some((read_u64(e, 0)?, read_u32(e, 8)?)))
    }

    /// Every `(string id bytes, internal)` entry, ascending.
    fn str_entries(&self) -> impl Iterator<Item = (&[u8], u32)> + '_ {
        let blob = self.str_blob.of(&self.bytes);
        self.str_ids
            .of(&self.bytes)
            .chunks_exact(STR_ENTRY)
            .filter_map(move |e| Self::str_entry(e, blob))
    }

    fn kw_entry(&self, f: &BaseField, j: usize) -> Option<(&[u8], &[u8])> {
        let index = f.kw_index.of(&self.bytes);
        let blob = f.kw_blob.of(&self.bytes);
        let a = read_u64(index, j * 8)? as usize;
        let b = read_u64(index, j * 8 + 8)? as usize;
        let (key, rest) = Self::kw_entry_at(blob.get(..b)?, a)?;
        Some((key, rest))
    }

    fn kw_bitmap(
        &self,
        f: &BaseField,
        j: usize,
    ) -> std::result::Result<RoaringBitmap, FormatError> {
        let start = f.kw_blob.start;
        let (_, mut bits) = self
            .kw_entry(f, j)
            .ok_or_else(|| self.err(start, format!("keyword entry {j}")))?;
        let b = RoaringBitmap::deserialize_from(&mut bits)
            .map_err(|e| self.err(start, format!("keyword bitmap {j}: {e}")))?;
        if !bits.is_empty() || b.max().is_some_and(|m| m >= self.next) {
            return Err(self.err(
                start,
                format!("keyword bitmap {j}: trailing bytes or ids out of range"),
            ));
        }
        Ok(b)
    }

    /// The checkpoint's documents whose field `f` has keyword `key` (cached after the
    /// first lookup); `Err` when the stored bitmap does not decode.
    pub(crate) fn keyword(
        &self,
        f: &BaseField,
        key: &KeywordKey,
    ) -> std::result::Result<Option<Arc<RoaringBitmap>>, FormatError> {
        let want = KeyRef::of(key);
        let key_at = |j: usize| self.kw_entry(f, j).and_then(|(k, _)| KeyRef::decode(k));
        let j = partition(f.kw_count, |j| {
            key_at(j).is_some_and(|k| k.cmp(&want) == Ordering::Less)
        });
        if key_at(j).is_none_or(|k| k.cmp(&want) != Ordering::Equal) {
            return Ok(None);
        }
        if let Some(hit) = f.kw_cache.lock().get(&j) {
            return Ok(hit.clone());
        }
        let b = self.kw_bitmap(f, j)?;
        let b = Some(Arc::new(b));
        f.kw_cache.lock().insert(j, b.clone());
        Ok(b)
    }

    fn range_entry(&self, f: &BaseField, i: usize) -> Option<(Orderable, u32)> {
        let t = f.range.of(&self.bytes);
        decode_range_entry(t.get(i * RANGE_ENTRY..(i + 1) * RANGE_ENTRY)?)
    }

    /// Where a range plan falls among field `f`'s sorted entries.
    fn range_span(&self, f: &BaseField, plan: &RangePlan) -> RangeSpan {
        let (start, end, class_first, class_last, timestamps) = match plan {
            RangePlan::Empty => return RangeSpan::Empty,
            RangePlan::All => return RangeSpan::All,
            RangePlan::Walk {
                start,
                end,
                class_first,
                class_last,
                timestamps,
            } => (start, end, class_first, class_last, *timestamps),
        };
        let n = f.range_count;
        let e = |i: usize| self.range_entry(f, i);
        let first_not = |pred: &dyn Fn(&(Orderable, u32)) -> bool| {
            partition(n, |i| e(i).is_some_and(|x| pred(&x)))
        };
        let s = match start {
            Bound::Included(s) => first_not(&|x| x < s),
            Bound::Excluded(s) => first_not(&|x| x <= s),
            Bound::Unbounded => 0,
        };
        let t = match end {
            Bound::Included(t) => first_not(&|x| x <= t),
            Bound::Excluded(t) => first_not(&|x| x < t),
            Bound::Unbounded => n,
        };
        let class_start = first_not(&|x| x < class_first);
        let class_end = first_not(&|x| x <= class_last);
        let (s, t) = (s.max(class_start), t.min(class_end));
        if s >= t {
            return RangeSpan::Empty;
        }
        RangeSpan::Entries {
            class: class_start..class_end,
            inside: s..t,
            timestamps,
        }
    }

    /// The checkpoint's answer to a range plan on field `f` (see
    /// [`crate::field_index::FieldIndexData::range`]).
    pub(crate) fn range(&self, f: &BaseField, plan: &RangePlan, next_id: u32) -> RoaringBitmap {
        let (class, inside, timestamps) = match self.range_span(f, plan) {
            RangeSpan::Empty => return RoaringBitmap::new(),
            RangeSpan::All => return &f.numbers | &f.timestamps,
            RangeSpan::Entries {
                class,
                inside,
                timestamps,
            } => (class, inside, timestamps),
        };
        let ids = |r: std::ops::Range<usize>| r.filter_map(|i| self.range_entry(f, i).map(|x| x.1));
        if inside.len() <= class.len() - inside.len() {
            ids_to_bitmap(ids(inside).collect(), next_id)
        } else {
            let mut all = if timestamps {
                f.timestamps.clone()
            } else {
                f.numbers.clone()
            };
            all -= ids_to_bitmap(
                ids(class.start..inside.start)
                    .chain(ids(inside.end..class.end))
                    .collect(),
                next_id,
            );
            all
        }
    }

    /// How many range entries [`Base::range`] would read for `plan` (the smaller of the
    /// answer and its complement within the value class), found by binary search: for
    /// planning.
    pub(crate) fn range_work(&self, f: &BaseField, plan: &RangePlan) -> u64 {
        match self.range_span(f, plan) {
            RangeSpan::Empty | RangeSpan::All => 0,
            RangeSpan::Entries { class, inside, .. } => {
                inside.len().min(class.len() - inside.len()) as u64
            }
        }
    }

    /// Every keyword posting of field `f` (tests).
    #[cfg(test)]
    pub(crate) fn keyword_entries(&self, f: &BaseField) -> Vec<(KeywordKey, RoaringBitmap)> {
        (0..f.kw_count)
            .filter_map(|j| {
                let key = self
                    .kw_entry(f, j)
                    .and_then(|(k, _)| KeyRef::decode(k)?.to_key())?;
                Some((key, self.kw_bitmap(f, j).ok()?))
            })
            .collect()
    }

    /// Every range entry of field `f` (tests).
    #[cfg(test)]
    pub(crate) fn range_entries(&self, f: &BaseField) -> Vec<(Orderable, u32)> {
        (0..f.range_count)
            .filter_map(|i| self.range_entry(f, i))
            .collect()
    }

    /// Estimated size of a keyword posting, for planning (0 when absent or damaged).
    pub(crate) fn keyword_len(&self, f: &BaseField, key: &KeywordKey) -> u64 {
        self.keyword(f, key).ok().flatten().map_or(0, |b| b.len())
    }
}

/// A range plan located in a field's sorted range entries.
enum RangeSpan {
    /// No document can match.
    Empty,
    /// Every document with a value of either class matches.
    All,
    /// The entries `class` hold the plan's value class; `inside` (within it) match.
    Entries {
        class: std::ops::Range<usize>,
        inside: std::ops::Range<usize>,
        timestamps: bool,
    },
}

/// Appends sections and records their lengths and CRCs.
struct Writer {
    out: Vec<u8>,
    sections: Vec<(u64, u32)>,
}

impl Writer {
    fn section(&mut self, bytes: &[u8]) {
        self.sections.push((bytes.len() as u64, crc32(bytes)));
        self.out.extend_from_slice(bytes);
    }
    fn bitmap(&mut self, b: &RoaringBitmap) {
        let mut v = Vec::with_capacity(b.serialized_size());
        // Writing to a Vec cannot fail.
        let _ = b.serialize_into(&mut v);
        self.section(&v);
    }
}

/// Encode `state` as a layout-2 checkpoint file: base records are copied as bytes, indexes
/// are merged (checkpoint ∖ replaced ids ∪ overlay), nothing is re-decoded.
pub(crate) fn encode(state: &MetaState) -> Result<Vec<u8>> {
    let next = state.next_internal_id();
    let base = state.base.as_deref();
    let masked = state.masked.to_roaring();
    let in_base = |i: u32| base.is_some_and(|b| i < b.next()) && !masked.contains(i);
    let mut w = Writer {
        out: Vec::new(),
        sections: Vec::new(),
    };
    // Documents.
    let mut offsets = Vec::with_capacity((next as usize + 1) * 8);
    let mut docs = Vec::new();
    for i in 0..next {
        offsets.extend_from_slice(&(docs.len() as u64).to_le_bytes());
        match base {
            Some(b) if in_base(i) => docs.extend_from_slice(b.raw_record(i)),
            _ => {
                if let Some(r) = state.overlay_record(i) {
                    r.external.encode_into(&mut docs);
                    encode_document_into(&r.doc, &mut docs)?;
                }
            }
        }
    }
    offsets.extend_from_slice(&(docs.len() as u64).to_le_bytes());
    w.section(&offsets);
    drop(offsets);
    w.section(&docs);
    drop(docs);
    // Ids.
    let mut u64_ids: Vec<(u64, u32)> = state.by_u64.iter().map(|(k, v)| (*k, *v)).collect();
    let mut str_ids: Vec<(&[u8], u32)> = state
        .by_str
        .iter()
        .map(|(k, v)| (k.as_bytes(), *v))
        .collect();
    if let Some(b) = base {
        u64_ids.extend(b.u64_entries().filter(|(_, i)| state.is_live(*i)));
        str_ids.extend(b.str_entries().filter(|(_, i)| state.is_live(*i)));
    }
    u64_ids.sort_unstable();
    str_ids.sort_unstable();
    let mut t = Vec::with_capacity(u64_ids.len() * U64_ENTRY);
    for (id, i) in &u64_ids {
        t.extend_from_slice(&id.to_le_bytes());
        t.extend_from_slice(&i.to_le_bytes());
    }
    w.section(&t);
    let (mut t, mut blob) = (Vec::with_capacity(str_ids.len() * STR_ENTRY), Vec::new());
    for (s, i) in &str_ids {
        t.extend_from_slice(&(blob.len() as u64).to_le_bytes());
        t.extend_from_slice(&(s.len() as u32).to_le_bytes());
        t.extend_from_slice(&i.to_le_bytes());
        blob.extend_from_slice(s);
    }
    w.section(&t);
    w.section(&blob);
    w.bitmap(&state.live_ids());
    let mut fc = Vec::new();
    let counts: Vec<_> = state.field_counts.iter().filter(|(_, n)| **n > 0).collect();
    fc.extend_from_slice(&(counts.len() as u32).to_le_bytes());
    for (name, n) in counts {
        fc.extend_from_slice(&(name.len() as u32).to_le_bytes());
        fc.extend_from_slice(name.as_bytes());
        fc.extend_from_slice(&n.to_le_bytes());
    }
    w.section(&fc);
    // Fields.
    for (f, (_, ov)) in state.indexes.iter().enumerate() {
        let bf = base.and_then(|b| Some((b, b.fields.get(f)?)));
        let comb = |b: Option<&RoaringBitmap>, o: RoaringBitmap| {
            let mut out = b.cloned().unwrap_or_default();
            out -= &masked;
            out |= o;
            out
        };
        w.bitmap(&comb(bf.map(|(_, x)| &x.exists), ov.exists.to_roaring()));
        w.bitmap(&comb(bf.map(|(_, x)| &x.numbers), ov.numbers.to_roaring()));
        w.bitmap(&comb(
            bf.map(|(_, x)| &x.timestamps),
            ov.timestamps.to_roaring(),
        ));
        let mut kw: BTreeMap<KeywordKey, RoaringBitmap> = BTreeMap::new();
        if let Some((b, x)) = bf {
            for j in 0..x.kw_count {
                let key = b
                    .kw_entry(x, j)
                    .and_then(|(k, _)| KeyRef::decode(k)?.to_key());
                let bits = b.kw_bitmap(x, j)?;
                if let Some(key) = key {
                    kw.insert(key, bits - &masked);
                }
            }
        }
        for (k, bits) in ov.keyword.iter() {
            *kw.entry(k.clone()).or_default() |= bits.to_roaring();
        }
        let (mut index, mut blob) = (Vec::new(), Vec::new());
        let mut key = Vec::new();
        for (k, bits) in kw.iter().filter(|(_, b)| !b.is_empty()) {
            index.extend_from_slice(&(blob.len() as u64).to_le_bytes());
            key.clear();
            encode_key(k, &mut key);
            blob.extend_from_slice(&(key.len() as u32).to_le_bytes());
            blob.extend_from_slice(&key);
            let _ = bits.serialize_into(&mut blob);
        }
        index.extend_from_slice(&(blob.len() as u64).to_le_bytes());
        w.section(&index);
        w.section(&blob);
        drop((index, blob, kw));
        // Range: the checkpoint's entries minus replaced ids, merged with the overlay's.
        let mut range = Vec::new();
        let mut ours = ov.range.iter().copied().peekable();
        if let Some((b, x)) = bf {
            for i in 0..x.range_count {
                let Some(e) = b.range_entry(x, i) else {
                    continue;
                };
                if masked.contains(e.1) {
                    continue;
                }
                while let Some(o) = ours.next_if(|o| *o < e) {
                    encode_range_entry(&o.0, o.1, &mut range);
                }
                encode_range_entry(&e.0, e.1, &mut range);
            }
        }
        for o in ours {
            encode_range_entry(&o.0, o.1, &mut range);
        }
        w.section(&range);
    }
    // Directory, then the header.
    let mut dir = vec![0u8; HEADER];
    dir.extend_from_slice(&LAYOUT_MARKER.to_le_bytes());
    dir.extend_from_slice(&LAYOUT_VERSION.to_le_bytes());
    state.schema.encode_into(&mut dir);
    dir.extend_from_slice(&(w.sections.len() as u32).to_le_bytes());
    for (len, crc) in &w.sections {
        dir.extend_from_slice(&len.to_le_bytes());
        dir.extend_from_slice(&crc.to_le_bytes());
    }
    let dir_crc = crc32(dir.get(HEADER..).unwrap_or_default());
    let body_len = (dir.len() - HEADER + w.out.len()) as u64;
    let header = CheckpointHeader::new(
        state.lsn(),
        state.len(),
        next,
        state.schema.fingerprint(),
        body_len,
        dir_crc,
    );
    if let Some(h) = dir.get_mut(..HEADER) {
        h.copy_from_slice(&header.to_bytes());
    }
    dir.reserve_exact(w.out.len());
    dir.extend_from_slice(&w.out);
    Ok(dir)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::filter::Filter;
    use crate::op::MetaOp;
    use crate::value::{Document, Value};

    fn schema() -> Schema {
        Schema::new().keyword("k").range("n").keyword("tags")
    }

    fn state() -> MetaState {
        let mut s = MetaState::new(schema()).unwrap();
        for i in 0..30u64 {
            let id = if i % 3 == 0 {
                ExternalId::Str(format!("s{i}"))
            } else {
                ExternalId::U64(i)
            };
            let doc = Document::from([
                ("k".to_string(), Value::String(format!("v{}", i % 4))),
                ("n".to_string(), Value::Int(i as i64 % 7)),
                (
                    "tags".to_string(),
                    Value::List(vec!["a".into(), format!("t{}", i % 2)]),
                ),
            ]);
            s.apply(&MetaOp::Put { id, doc }).unwrap();
        }
        s.apply(&MetaOp::Delete {
            id: ExternalId::U64(4),
        })
        .unwrap();
        s.set_lsn(40);
        s
    }

    /// Where the section directory's entries start, and the sections.
    fn layout(bytes: &[u8]) -> (usize, Vec<Span>) {
        let file = Path::new("c");
        let mut d = Decoder::new(&bytes[HEADER..], HEADER as u64, file);
        d.u32("m").unwrap();
        d.u32("l").unwrap();
        Schema::decode(&mut d).unwrap();
        d.u32("n").unwrap();
        let entries = d.offset() as usize;
        let spans = Base::check(bytes, file).unwrap().spans;
        (entries, spans)
    }

    /// Recompute every section CRC, the directory CRC and the header after a change.
    fn reseal(bytes: &mut [u8], entries: usize, spans: &[Span]) {
        for (i, s) in spans.iter().enumerate() {
            let crc = crc32(s.of(bytes));
            let at = entries + i * 12 + 8;
            bytes[at..at + 4].copy_from_slice(&crc.to_le_bytes());
        }
        let dir_end = spans[0].start;
        let h = CheckpointHeader::decode(bytes, Path::new("c"), bytes.len() as u64).unwrap();
        let h = CheckpointHeader::new(
            h.lsn,
            h.document_count,
            h.next_internal_id,
            h.schema_fingerprint,
            h.body_len,
            crc32(&bytes[HEADER..dir_end]),
        );
        bytes[..HEADER].copy_from_slice(&h.to_bytes());
    }

    /// Everything a caller can do with a state, results ignored: must not panic.
    fn exercise(s: &MetaState) {
        for i in 0..s.next_internal_id() + 2 {
            let _ = s.get_by_internal(i);
            let _ = s.external_of(i);
            let _ = s.is_live(i);
        }
        let _ = s.scan().count();
        for id in [
            ExternalId::U64(5),
            ExternalId::Str("s3".into()),
            ExternalId::U64(99),
        ] {
            let _ = s.get(&id);
        }
        for text in [
            "k = \"v1\"",
            "n > 2 and k != \"v0\"",
            "tags = \"t1\" or n <= 3",
            "not exists(k)",
            "x = 1",
        ] {
            let _ = s.filter(&Filter::parse(text).unwrap());
        }
        let _ = s.verify();
        let _ = s.encode_checkpoint();
        let mut w = s.clone();
        for id in [
            ExternalId::U64(5),
            ExternalId::Str("s3".into()),
            ExternalId::U64(7),
        ] {
            let _ = w.apply(&MetaOp::Patch {
                id: id.clone(),
                patch: Document::from([("n".to_string(), Value::Int(1))]),
            });
            let _ = w.apply(&MetaOp::Delete { id });
        }
        let _ = w.encode_checkpoint();
    }

    /// Any byte of any section changed, with every CRC made valid again: opening is a
    /// typed error or gives a state on which every operation returns (errors included)
    /// without a panic.
    #[test]
    fn damage_under_valid_crcs_never_panics() {
        let bytes = state().encode_checkpoint().unwrap();
        let (entries, spans) = layout(&bytes);
        let file = Path::new("c");
        let (mut refused, mut opened) = (0, 0);
        for at in spans[0].start..bytes.len() {
            for mask in [0x01u8, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[at] ^= mask;
                reseal(&mut b, entries, &spans);
                match MetaState::open_checkpoint(ReadOnlyBytes::copy_from_slice(&b), file, schema())
                {
                    Err(Error::Format(_)) => refused += 1,
                    Err(e) => panic!("byte {at}: untyped error {e}"),
                    Ok((s, _)) => {
                        opened += 1;
                        exercise(&s);
                    }
                }
            }
        }
        assert!(
            refused > 0 && opened > 0,
            "{refused} refused, {opened} opened"
        );
    }

    /// A document that does not decode (its CRC made valid) opens — documents are decoded
    /// lazily — and is then reported as corruption by `filter`, `verify` and writes.
    #[test]
    fn damaged_document_is_corruption_not_a_panic() {
        let s = state();
        let mut bytes = s.encode_checkpoint().unwrap();
        let (entries, spans) = layout(&bytes);
        let opened = Base::open(ReadOnlyBytes::copy_from_slice(&bytes), Path::new("c")).unwrap();
        let victim = s.internal_id(&ExternalId::U64(5)).unwrap();
        let raw = opened.base.raw_record(victim);
        let at = raw.as_ptr() as usize - opened.base.bytes.as_ptr() as usize;
        bytes[at + 9] = 99; // the document's version byte, after tag + u64 id
        reseal(&mut bytes, entries, &spans);
        let (state, _) = MetaState::open_checkpoint(
            ReadOnlyBytes::copy_from_slice(&bytes),
            Path::new("c"),
            schema(),
        )
        .unwrap();
        assert!(state.get(&ExternalId::U64(5)).is_none());
        assert!(state.get(&ExternalId::U64(7)).is_some());
        assert!(matches!(state.verify(), Err(Error::Format(_))));
        // A probe of the damaged document fails the filter (`!=` is checked on the
        // documents of the keyword's answer; `n = 5` would be answered from the range index).
        assert!(matches!(
            state.filter_text("n != 5 and k = \"v1\""),
            Err(Error::Format(_))
        ));
        assert!(state.filter_text("n = 5 and k = \"v1\"").is_ok());
        assert!(state.filter_text("k = \"v2\"").is_ok());
        let mut w = state.clone();
        assert!(matches!(
            w.apply(&MetaOp::Patch {
                id: ExternalId::U64(5),
                patch: Document::new()
            }),
            Err(Error::Format(_))
        ));
        assert!(matches!(
            w.apply(&MetaOp::Delete {
                id: ExternalId::U64(5)
            }),
            Err(Error::Format(_))
        ));
    }

    /// A layout-1 file (what earlier builds wrote) still opens, the old way, and its next
    /// checkpoint is layout 2.
    #[test]
    fn layout1_files_still_open() {
        let s = state();
        let old = s.encode_checkpoint_layout1().unwrap();
        assert!(!is_layout2(&old));
        let (back, info) = MetaState::open_checkpoint(
            ReadOnlyBytes::copy_from_slice(&old),
            Path::new("c"),
            schema(),
        )
        .unwrap();
        assert!(back.base.is_none());
        assert_eq!(info.document_count, s.len());
        assert_eq!(
            crate::state::tests::dump(&back),
            crate::state::tests::dump(&s)
        );
        let new = back.encode_checkpoint().unwrap();
        assert!(is_layout2(&new));
        assert_eq!(new, s.encode_checkpoint().unwrap());
        // Under another schema, a layout-2 file is indexed in bulk.
        let (other, _) = MetaState::open_checkpoint(
            ReadOnlyBytes::copy_from_slice(&new),
            Path::new("c"),
            Schema::new().keyword("n"),
        )
        .unwrap();
        assert!(other.base.is_none());
        assert_eq!(
            other.filter_text("n = 3").unwrap(),
            s.filter_text("n = 3").unwrap()
        );
    }
}
