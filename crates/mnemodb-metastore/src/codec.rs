//! The document encoding: a stable, versioned, hand-written binary format.
//!
//! ```text
//! document := version:u8 (= 1) map
//! map      := count:u32 { key:str value }*      keys strictly ascending (byte order), unique
//! str      := len:u32 bytes                     UTF-8
//! value    := tag:u8 payload
//!   0 null        (no payload)
//!   1 false       (no payload)
//!   2 true        (no payload)
//!   3 int         i64
//!   4 float       f64 (IEEE-754 bits, NaN payloads kept)
//!   5 string      str
//!   6 timestamp   i64 microseconds since the Unix epoch, UTC
//!   7 list        count:u32 { str }*
//!   8 map         map                           nesting ≤ MAX_NESTING_DEPTH
//! ```
//!
//! All integers little-endian. The encoding is canonical: a decoder refuses unsorted or
//! duplicate keys and unknown tags, so `encode(decode(bytes)) == bytes` whenever decoding
//! succeeds (the `document_decode` fuzz target checks it). Every length is checked against
//! the bytes left before anything is allocated; decoding never panics.
#![deny(clippy::indexing_slicing, clippy::panic)]

use std::collections::BTreeMap;
use std::path::Path;

use mnemodb_format::{ByteReader, FormatError};

use crate::error::{Error, Result};
use crate::value::{Document, Value};

/// Largest encoded document accepted (1 MiB).
pub const MAX_DOCUMENT_BYTES: usize = 1 << 20;
/// Deepest nesting of maps inside a document (the document itself is depth 0).
pub const MAX_NESTING_DEPTH: usize = 32;
/// The version byte every encoded document starts with.
pub const DOCUMENT_VERSION: u8 = 1;

const TAG_NULL: u8 = 0;
const TAG_FALSE: u8 = 1;
const TAG_TRUE: u8 = 2;
const TAG_INT: u8 = 3;
const TAG_FLOAT: u8 = 4;
const TAG_STRING: u8 = 5;
const TAG_TIMESTAMP: u8 = 6;
const TAG_LIST: u8 = 7;
const TAG_MAP: u8 = 8;

/// A [`ByteReader`] that also knows its file, so errors can point at any earlier offset.
#[derive(Debug)]
pub(crate) struct Decoder<'a> {
    r: ByteReader<'a>,
    file: &'a Path,
}

impl<'a> Decoder<'a> {
    pub(crate) fn new(bytes: &'a [u8], base_offset: u64, file: &'a Path) -> Self {
        Decoder {
            r: ByteReader::new(bytes, base_offset, file),
            file,
        }
    }
    pub(crate) fn offset(&self) -> u64 {
        self.r.offset()
    }
    pub(crate) fn remaining(&self) -> usize {
        self.r.remaining()
    }
    pub(crate) fn error(&self, what: impl Into<String>) -> FormatError {
        self.r.error(what)
    }
    pub(crate) fn error_at(&self, offset: u64, what: impl Into<String>) -> FormatError {
        FormatError::corrupted(self.file, offset, what)
    }
    pub(crate) fn u8(&mut self, what: &str) -> mnemodb_format::Result<u8> {
        self.r.u8(what)
    }
    pub(crate) fn u32(&mut self, what: &str) -> mnemodb_format::Result<u32> {
        self.r.u32(what)
    }
    pub(crate) fn u64(&mut self, what: &str) -> mnemodb_format::Result<u64> {
        self.r.u64(what)
    }
    pub(crate) fn i64(&mut self, what: &str) -> mnemodb_format::Result<i64> {
        self.r.i64(what)
    }
    pub(crate) fn f64(&mut self, what: &str) -> mnemodb_format::Result<f64> {
        self.r.f64(what)
    }
    pub(crate) fn len_prefixed(&mut self, what: &str) -> mnemodb_format::Result<&'a [u8]> {
        self.r.len_prefixed(what)
    }
    pub(crate) fn finish(&self, what: &str) -> mnemodb_format::Result<()> {
        self.r.finish(what)
    }

    /// A length-prefixed UTF-8 string.
    pub(crate) fn str(&mut self, what: &str) -> mnemodb_format::Result<&'a str> {
        let at = self.offset();
        let bytes = self.len_prefixed(what)?;
        std::str::from_utf8(bytes).map_err(|e| {
            self.error_at(
                at + 4 + e.valid_up_to() as u64,
                format!("{what} is not valid UTF-8"),
            )
        })
    }

    /// An element count whose elements take at least `min_size` bytes each: refused when
    /// the bytes left cannot hold that many (so a corrupt count never drives an allocation).
    pub(crate) fn count(&mut self, min_size: usize, what: &str) -> mnemodb_format::Result<usize> {
        let at = self.offset();
        let n = self.u32(what)? as usize;
        if n.saturating_mul(min_size.max(1)) > self.remaining() {
            return Err(self.error_at(
                at,
                format!(
                    "{what} {n} cannot fit in the {} bytes left",
                    self.remaining()
                ),
            ));
        }
        Ok(n)
    }
}

/// Encode a document (see the module doc). Fails with [`Error::DocumentTooLarge`] above
/// [`MAX_DOCUMENT_BYTES`] and [`Error::DocumentTooDeep`] above [`MAX_NESTING_DEPTH`].
pub fn encode_document(doc: &Document) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(64);
    encode_document_into(doc, &mut out)?;
    Ok(out)
}

/// Append the encoding of `doc` to `out` (nothing is appended on error).
pub fn encode_document_into(doc: &Document, out: &mut Vec<u8>) -> Result<()> {
    let start = out.len();
    out.push(DOCUMENT_VERSION);
    let result = Encoder { out, start }.map(doc, 0);
    if let Err(e) = result {
        out.truncate(start);
        return Err(e);
    }
    Ok(())
}

struct Encoder<'a> {
    out: &'a mut Vec<u8>,
    start: usize,
}

impl Encoder<'_> {
    fn check_size(&self, extra: usize) -> Result<()> {
        let size = (self.out.len() - self.start).saturating_add(extra);
        if size > MAX_DOCUMENT_BYTES {
            return Err(Error::DocumentTooLarge {
                size,
                max: MAX_DOCUMENT_BYTES,
            });
        }
        Ok(())
    }

    fn str(&mut self, s: &str) -> Result<()> {
        self.check_size(4 + s.len())?;
        // Fits: bounded by MAX_DOCUMENT_BYTES just above.
        self.out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        self.out.extend_from_slice(s.as_bytes());
        Ok(())
    }

    fn map(&mut self, m: &BTreeMap<String, Value>, depth: usize) -> Result<()> {
        self.check_size(4)?;
        self.out.extend_from_slice(&(m.len() as u32).to_le_bytes());
        for (k, v) in m {
            self.str(k)?;
            self.value(v, depth)?;
        }
        Ok(())
    }

    fn value(&mut self, v: &Value, depth: usize) -> Result<()> {
        self.check_size(9)?;
        match v {
            Value::Null => self.out.push(TAG_NULL),
            Value::Bool(false) => self.out.push(TAG_FALSE),
            Value::Bool(true) => self.out.push(TAG_TRUE),
            Value::Int(i) => {
                self.out.push(TAG_INT);
                self.out.extend_from_slice(&i.to_le_bytes());
            }
            Value::Float(x) => {
                self.out.push(TAG_FLOAT);
                self.out.extend_from_slice(&x.to_bits().to_le_bytes());
            }
            Value::String(s) => {
                self.out.push(TAG_STRING);
                self.str(s)?;
            }
            Value::Timestamp(t) => {
                self.out.push(TAG_TIMESTAMP);
                self.out.extend_from_slice(&t.to_le_bytes());
            }
            Value::List(items) => {
                self.out.push(TAG_LIST);
                self.check_size(4)?;
                self.out
                    .extend_from_slice(&(items.len() as u32).to_le_bytes());
                for s in items {
                    self.str(s)?;
                }
            }
            Value::Map(m) => {
                if depth + 1 > MAX_NESTING_DEPTH {
                    return Err(Error::DocumentTooDeep {
                        depth: depth + 1,
                        max: MAX_NESTING_DEPTH,
                    });
                }
                self.out.push(TAG_MAP);
                self.map(m, depth + 1)?;
            }
        }
        Ok(())
    }
}

/// Decode a document encoded by [`encode_document`]; the bytes must hold exactly one.
/// Errors are [`Error::InvalidDocument`] with the byte offset.
pub fn decode_document(bytes: &[u8]) -> Result<Document> {
    let mut d = Decoder::new(bytes, 0, Path::new("document"));
    let doc = read_document(&mut d).and_then(|doc| d.finish("document").map(|()| doc));
    doc.map_err(|e| match e {
        FormatError::Corrupted { offset, what, .. } => Error::InvalidDocument { offset, what },
        other => Error::Format(other),
    })
}

/// Read one encoded document at the decoder's position.
pub(crate) fn read_document(d: &mut Decoder<'_>) -> mnemodb_format::Result<Document> {
    read_document_keeping(d, Keep::All)
}

/// Read one encoded document at the decoder's position, building only its top-level
/// fields named in `fields` (the others are parsed and skipped, never allocated).
pub(crate) fn read_document_fields(
    d: &mut Decoder<'_>,
    fields: &[String],
) -> mnemodb_format::Result<Document> {
    read_document_keeping(d, Keep::Only(fields))
}

/// Which entries of a map to build.
#[derive(Clone, Copy)]
enum Keep<'a> {
    All,
    Only(&'a [String]),
    Nothing,
}

impl Keep<'_> {
    fn field(self, key: &str) -> bool {
        match self {
            Keep::All => true,
            Keep::Only(fields) => fields.iter().any(|f| f == key),
            Keep::Nothing => false,
        }
    }
}

fn read_document_keeping(d: &mut Decoder<'_>, keep: Keep<'_>) -> mnemodb_format::Result<Document> {
    let start = d.offset();
    let version = d.u8("document version")?;
    if version != DOCUMENT_VERSION {
        return Err(d.error_at(
            start,
            format!("unsupported document version {version} (this build reads {DOCUMENT_VERSION})"),
        ));
    }
    let doc = read_map(d, 0, keep)?;
    let size = d.offset() - start;
    if size > MAX_DOCUMENT_BYTES as u64 {
        return Err(d.error_at(
            start,
            format!("document of {size} bytes exceeds the {MAX_DOCUMENT_BYTES}-byte limit"),
        ));
    }
    Ok(doc)
}

fn read_map(
    d: &mut Decoder<'_>,
    depth: usize,
    keep: Keep<'_>,
) -> mnemodb_format::Result<BTreeMap<String, Value>> {
    // Each entry is at least a 4-byte key length and a 1-byte tag.
    let n = d.count(5, "field count")?;
    let mut map = BTreeMap::new();
    let mut prev: Option<&str> = None;
    for _ in 0..n {
        let at = d.offset();
        let key = d.str("field name")?;
        if let Some(p) = prev
            && p >= key
        {
            return Err(d.error_at(
                at,
                format!("field `{key}` is not after `{p}`: keys must be unique and ascending"),
            ));
        }
        let build = keep.field(key);
        if let Some(value) = read_value(d, depth, build)? {
            map.insert(key.to_string(), value);
        }
        prev = Some(key);
    }
    Ok(map)
}

/// One value; `None` when `build` is false (parsed and checked, not allocated).
fn read_value(
    d: &mut Decoder<'_>,
    depth: usize,
    build: bool,
) -> mnemodb_format::Result<Option<Value>> {
    let at = d.offset();
    let value = match d.u8("value tag")? {
        TAG_NULL => Value::Null,
        TAG_FALSE => Value::Bool(false),
        TAG_TRUE => Value::Bool(true),
        TAG_INT => Value::Int(d.i64("int value")?),
        TAG_FLOAT => Value::Float(d.f64("float value")?),
        TAG_STRING => {
            let s = d.str("string value")?;
            if !build {
                return Ok(None);
            }
            Value::String(s.to_string())
        }
        TAG_TIMESTAMP => Value::Timestamp(d.i64("timestamp value")?),
        TAG_LIST => {
            let n = d.count(4, "list length")?;
            let mut items = Vec::with_capacity(if build { n } else { 0 });
            for _ in 0..n {
                let item = d.str("list item")?;
                if build {
                    items.push(item.to_string());
                }
            }
            Value::List(items)
        }
        TAG_MAP => {
            if depth + 1 > MAX_NESTING_DEPTH {
                return Err(d.error_at(
                    at,
                    format!("maps nested deeper than {MAX_NESTING_DEPTH} levels"),
                ));
            }
            let inner = if build { Keep::All } else { Keep::Nothing };
            Value::Map(read_map(d, depth + 1, inner)?)
        }
        t => return Err(d.error_at(at, format!("unknown value tag {t}"))),
    };
    Ok(build.then_some(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Document {
        let mut inner = BTreeMap::new();
        inner.insert("source".to_string(), Value::from("chat"));
        inner.insert("n".to_string(), Value::Null);
        Document::from([
            ("user".to_string(), Value::from("u1")),
            ("importance".to_string(), Value::Float(0.75)),
            ("count".to_string(), Value::Int(-3)),
            ("ok".to_string(), Value::Bool(true)),
            ("no".to_string(), Value::Bool(false)),
            ("at".to_string(), Value::Timestamp(1_767_225_600_000_000)),
            ("tags".to_string(), Value::List(vec!["a".into(), "".into()])),
            ("meta".to_string(), Value::Map(inner)),
        ])
    }

    /// Reading some fields skips the others (nested maps and lists too) and gives what
    /// projecting the whole decoded document gives; damage in a skipped value still fails.
    #[test]
    fn field_projection_equals_projecting_the_whole_document() {
        let doc = sample();
        let bytes = encode_document(&doc).unwrap();
        for fields in [
            vec![],
            vec!["importance", "at"],
            vec!["meta", "tags", "missing"],
            vec!["user", "ok", "no", "count"],
        ] {
            let fields: Vec<String> = fields.into_iter().map(String::from).collect();
            let mut d = Decoder::new(&bytes, 0, Path::new("d"));
            let got = read_document_fields(&mut d, &fields).unwrap();
            d.finish("document").unwrap();
            assert_eq!(got, crate::value::project(&doc, &fields), "{fields:?}");
        }
        let mut cut = bytes.clone();
        cut.truncate(bytes.len() - 3);
        let mut d = Decoder::new(&cut, 0, Path::new("d"));
        assert!(read_document_fields(&mut d, &[]).is_err());
    }

    #[test]
    fn round_trip_is_canonical() {
        let doc = sample();
        let bytes = encode_document(&doc).unwrap();
        let back = decode_document(&bytes).unwrap();
        assert_eq!(back, doc);
        assert_eq!(encode_document(&back).unwrap(), bytes);
        assert_eq!(encode_document(&Document::new()).unwrap(), [1, 0, 0, 0, 0]);
    }

    #[test]
    fn every_truncation_and_bad_tag_is_refused() {
        let bytes = encode_document(&sample()).unwrap();
        for len in 0..bytes.len() {
            assert!(decode_document(&bytes[..len]).is_err(), "len {len}");
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(decode_document(&long).is_err());
        let mut bad = bytes.clone();
        bad[0] = 2;
        assert!(
            decode_document(&bad)
                .unwrap_err()
                .to_string()
                .contains("version 2")
        );
    }

    #[test]
    fn unsorted_keys_are_refused() {
        // {"b": null, "a": null}
        let mut b = vec![1, 2, 0, 0, 0];
        b.extend_from_slice(&[1, 0, 0, 0, b'b', 0, 1, 0, 0, 0, b'a', 0]);
        let err = decode_document(&b).unwrap_err();
        assert!(
            matches!(err, Error::InvalidDocument { offset: 11, .. }),
            "{err}"
        );
    }

    #[test]
    fn huge_counts_do_not_allocate() {
        let mut b = vec![1];
        b.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode_document(&b).is_err());
        let mut b = vec![1, 1, 0, 0, 0, 1, 0, 0, 0, b'k', TAG_LIST];
        b.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode_document(&b).is_err());
    }

    #[test]
    fn limits() {
        let doc = Document::from([(
            "big".to_string(),
            Value::String("x".repeat(MAX_DOCUMENT_BYTES)),
        )]);
        let err = encode_document(&doc).unwrap_err();
        assert!(
            matches!(
                err,
                Error::DocumentTooLarge {
                    max: MAX_DOCUMENT_BYTES,
                    ..
                }
            ),
            "{err}"
        );
        let mut v = Value::Null;
        for _ in 0..MAX_NESTING_DEPTH {
            v = Value::Map(BTreeMap::from([("k".to_string(), v)]));
        }
        let ok = Document::from([("k".to_string(), v.clone())]);
        let bytes = encode_document(&ok).unwrap();
        assert_eq!(decode_document(&bytes).unwrap(), ok);
        let deep = Document::from([(
            "k".to_string(),
            Value::Map(BTreeMap::from([("k".to_string(), v)])),
        )]);
        assert!(matches!(
            encode_document(&deep),
            Err(Error::DocumentTooDeep { depth: 33, max: 32 })
        ));
    }
}
