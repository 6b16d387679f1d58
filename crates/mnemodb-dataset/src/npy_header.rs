//! The `.npy` header: reading it with a small strict parser (never evaluated), writing it.
//!
//! | bytes | field |
//! |---|---|
//! | 6 | magic `\x93NUMPY` |
//! | 1, 1 | major, minor version: 1.0, 2.0 or 3.0 |
//! | 2 (v1) or 4 (v2, v3) | `header_len`, little-endian |
//! | `header_len` | a Python dict literal, padded with spaces and ended by `\n` |
//! | rest | the array, C order, `shape` product × itemsize bytes |
//!
//! The dict must have exactly the keys `descr` (a string), `fortran_order` (`True`/`False`)
//! and `shape` (a tuple of non-negative integers). Anything else is refused.

use std::io::Read;

use crate::error::{DatasetError, Result};
use crate::source::Source;

/// The first six bytes of every `.npy` file.
pub(crate) const NPY_MAGIC: &[u8; 6] = b"\x93NUMPY";

/// The longest header accepted. Real headers of 1-D/2-D arrays are under 128 bytes; numpy
/// itself refuses headers over 10,000 bytes by default.
pub(crate) const MAX_HEADER_LEN: u64 = 65_536;

/// Longest string accepted inside the header (a `descr` such as `'<f4'` is 3 bytes).
const MAX_STR_LEN: usize = 64;
/// Most shape entries accepted by the parser (numpy allows 64 dimensions).
const MAX_SHAPE_ENTRIES: usize = 64;

/// What the header says, before any checks against the element type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawHeader {
    /// `(major, minor)` format version.
    pub version: (u8, u8),
    /// The `descr` string.
    pub descr: String,
    /// The `fortran_order` flag.
    pub fortran_order: bool,
    /// The `shape` tuple.
    pub shape: Vec<u64>,
    /// Byte offset of the first data byte.
    pub data_offset: u64,
}

/// Reads the magic, version, length and dict from the start of `source`.
pub(crate) fn read_header<R: Read>(source: &mut Source<R>) -> Result<RawHeader> {
    let path = source.path().to_path_buf();
    let header_error = |offset: u64, what: String| DatasetError::NpyHeader {
        path: path.clone(),
        offset,
        what,
    };

    let mut prefix = [0u8; 8];
    let got = source.read_up_to(&mut prefix, 0)?;
    if got == 0 {
        return Err(header_error(0, "the file is empty (no .npy header)".into()));
    }
    let magic_seen = prefix.get(..got.min(6)).unwrap_or_default();
    if NPY_MAGIC.get(..magic_seen.len()) != Some(magic_seen) {
        return Err(DatasetError::NpyMagic { path });
    }
    let [_, _, _, _, _, _, major, minor] = prefix;
    if got < prefix.len() {
        return Err(header_error(
            got as u64,
            "the file ends inside the magic and version".into(),
        ));
    }
    let len_bytes = match (major, minor) {
        (1, 0) => 2,
        (2, 0) | (3, 0) => 4,
        _ => return Err(DatasetError::NpyVersion { path, major, minor }),
    };
    let mut len_word = [0u8; 4];
    let len_field = len_word.get_mut(..len_bytes).unwrap_or_default();
    if source.read_up_to(len_field, 0)? < len_bytes {
        return Err(header_error(
            8,
            "the file ends inside the header length".into(),
        ));
    }
    let header_len = u64::from(u32::from_le_bytes(len_word));
    let header_start = source.pos();
    if header_len > MAX_HEADER_LEN {
        return Err(header_error(
            8,
            format!("header length {header_len} exceeds the {MAX_HEADER_LEN}-byte limit"),
        ));
    }
    let past_eof = |found: u64| {
        header_error(
            8,
            format!(
                "header length {header_len} runs past the end of the file \
                 (only {found} bytes follow)"
            ),
        )
    };
    if let Some(remaining) = source.remaining()
        && remaining < header_len
    {
        return Err(past_eof(remaining));
    }
    let mut text = Vec::new();
    let got = source.append_up_to(header_len, &mut text, 0)?;
    if got < header_len {
        return Err(past_eof(got));
    }
    let dict =
        parse_dict(&text, header_start).map_err(|(offset, what)| header_error(offset, what))?;
    Ok(RawHeader {
        version: (major, minor),
        descr: dict.descr,
        fortran_order: dict.fortran_order,
        shape: dict.shape,
        data_offset: source.pos(),
    })
}

/// Encodes a version 1.0 header (magic through padding) for a C-order array.
pub(crate) fn encode_header(descr: &str, shape: &[u64]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(u64::to_string).collect();
    let shape_text = match dims.as_slice() {
        [one] => format!("({one},)"),
        _ => format!("({})", dims.join(", ")),
    };
    let mut dict =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_text}, }}");
    // Pad so the data starts on a 64-byte boundary, as numpy does; the dict ends with '\n'.
    let unpadded = NPY_MAGIC.len() + 2 + 2 + dict.len() + 1;
    dict.extend(std::iter::repeat_n(
        ' ',
        unpadded.next_multiple_of(64) - unpadded,
    ));
    dict.push('\n');
    let mut out = Vec::with_capacity(10 + dict.len());
    out.extend_from_slice(NPY_MAGIC);
    out.extend_from_slice(&[1, 0]);
    // Two shape entries of at most 20 digits each keep the dict far below u16::MAX.
    out.extend_from_slice(&u16::try_from(dict.len()).unwrap_or(u16::MAX).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

/// Why a `descr` is refused, for the error message.
pub(crate) fn describe_descr(descr: &str) -> &'static str {
    match descr {
        ">f4" => "big-endian float32; convert with arr.astype('<f4')",
        ">i4" => "big-endian int32; convert with arr.astype('<i4')",
        "<f8" | "=f8" | "f8" => "float64; convert with arr.astype('<f4')",
        ">f8" => "big-endian float64; convert with arr.astype('<f4')",
        "<f2" | "=f2" | ">f2" => "float16; convert with arr.astype('<f4')",
        "<i8" | ">i8" => "int64; convert with arr.astype('<i4')",
        "|u1" | "u1" | "|i1" | "i1" => "8-bit integers; convert with arr.astype('<f4')",
        d if d.contains('O') => "pickled Python objects, which are never loaded",
        d if d.starts_with('>') => "big-endian data",
        _ => "not a supported type",
    }
}

/// The dict's three values.
struct Dict {
    descr: String,
    fortran_order: bool,
    shape: Vec<u64>,
}

/// A parsed dict value.
enum Value {
    Str(String),
    Bool(bool),
    Tuple(Vec<u64>),
}

/// A parse failure: file offset and message.
type ParseError = (u64, String);

/// Parses the header dict. `base` is the file offset of `text[0]`, for messages.
fn parse_dict(text: &[u8], base: u64) -> std::result::Result<Dict, ParseError> {
    let mut p = Parser { text, pos: 0, base };
    let mut descr = None;
    let mut fortran_order = None;
    let mut shape = None;
    p.skip_ws();
    p.expect(b'{')?;
    loop {
        p.skip_ws();
        if p.eat(b'}') {
            break;
        }
        let key_at = p.offset();
        let key = p.string()?;
        if !matches!(key.as_str(), "descr" | "fortran_order" | "shape") {
            return Err((
                key_at,
                format!("unknown key {key:?} (only descr, fortran_order, shape)"),
            ));
        }
        p.skip_ws();
        p.expect(b':')?;
        p.skip_ws();
        let value_at = p.offset();
        let value = p.value()?;
        let wrong_type = |expected: &str| (value_at, format!("'{key}' must be {expected}"));
        let slot_taken = match (key.as_str(), value) {
            ("descr", Value::Str(s)) => descr.replace(s).is_some(),
            ("fortran_order", Value::Bool(b)) => fortran_order.replace(b).is_some(),
            ("shape", Value::Tuple(t)) => shape.replace(t).is_some(),
            ("descr", _) => return Err(wrong_type("a string such as '<f4'")),
            ("fortran_order", _) => return Err(wrong_type("True or False")),
            _ => return Err(wrong_type("a tuple of integers")),
        };
        if slot_taken {
            return Err((key_at, format!("key {key:?} appears twice")));
        }
        p.skip_ws();
        if p.eat(b',') {
            continue;
        }
        p.skip_ws();
        p.expect(b'}')?;
        break;
    }
    p.skip_ws();
    if p.pos < text.len() {
        return Err((p.offset(), "unexpected text after the dict".into()));
    }
    let missing = |key: &str| (base, format!("key {key:?} is missing"));
    Ok(Dict {
        descr: descr.ok_or_else(|| missing("descr"))?,
        fortran_order: fortran_order.ok_or_else(|| missing("fortran_order"))?,
        shape: shape.ok_or_else(|| missing("shape"))?,
    })
}

struct Parser<'a> {
    text: &'a [u8],
    pos: usize,
    base: u64,
}

impl Parser<'_> {
    fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        let hit = self.peek() == Some(byte);
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn expect(&mut self, byte: u8) -> std::result::Result<(), ParseError> {
        if self.eat(byte) {
            return Ok(());
        }
        Err((
            self.offset(),
            format!("expected '{}', {}", byte as char, self.found()),
        ))
    }

    /// Describes the byte at the cursor, for messages.
    fn found(&self) -> String {
        match self.peek() {
            None => "found the end of the header".into(),
            Some(b) if b.is_ascii_graphic() => format!("found '{}'", b as char),
            Some(b) => format!("found byte 0x{b:02x}"),
        }
    }

    /// A quoted string of printable ASCII, no escapes.
    fn string(&mut self) -> std::result::Result<String, ParseError> {
        let start = self.offset();
        let quote = match self.peek() {
            Some(q @ (b'\'' | b'"')) => q,
            _ => return Err((start, format!("expected a quoted string, {}", self.found()))),
        };
        self.pos += 1;
        let mut s = String::new();
        loop {
            match self.peek() {
                Some(b) if b == quote => break,
                Some(b) if (b' '..=b'~').contains(&b) && b != b'\\' => {
                    if s.len() == MAX_STR_LEN {
                        return Err((start, format!("string longer than {MAX_STR_LEN} bytes")));
                    }
                    s.push(b as char);
                    self.pos += 1;
                }
                _ => {
                    return Err((
                        self.offset(),
                        format!("unsupported character in a string, {}", self.found()),
                    ));
                }
            }
        }
        self.pos += 1;
        Ok(s)
    }

    fn value(&mut self) -> std::result::Result<Value, ParseError> {
        match self.peek() {
            Some(b'\'' | b'"') => self.string().map(Value::Str),
            Some(b'(') => self.tuple().map(Value::Tuple),
            Some(b'T' | b'F') => self.boolean().map(Value::Bool),
            Some(b'[') => Err((
                self.offset(),
                "structured (record) dtypes are not supported".into(),
            )),
            _ => Err((self.offset(), format!("expected a value, {}", self.found()))),
        }
    }

    fn boolean(&mut self) -> std::result::Result<bool, ParseError> {
        let rest = self.text.get(self.pos..).unwrap_or_default();
        for (word, value) in [(&b"True"[..], true), (&b"False"[..], false)] {
            if rest.starts_with(word) {
                self.pos += word.len();
                return Ok(value);
            }
        }
        Err((self.offset(), "expected True or False".into()))
    }

    fn tuple(&mut self) -> std::result::Result<Vec<u64>, ParseError> {
        self.expect(b'(')?;
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            if self.eat(b')') {
                return Ok(items);
            }
            if items.len() == MAX_SHAPE_ENTRIES {
                return Err((
                    self.offset(),
                    format!("shape has more than {MAX_SHAPE_ENTRIES} entries"),
                ));
            }
            items.push(self.integer()?);
            self.eat(b'L'); // Python 2 numpy wrote longs as `3L`.
            self.skip_ws();
            if self.eat(b',') {
                continue;
            }
            self.expect(b')')?;
            return Ok(items);
        }
    }

    fn integer(&mut self) -> std::result::Result<u64, ParseError> {
        let start = self.offset();
        let mut value: u64 = 0;
        let mut digits = 0;
        while let Some(b @ b'0'..=b'9') = self.peek() {
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(b - b'0')))
                .ok_or_else(|| (start, "a shape entry does not fit in 64 bits".to_string()))?;
            digits += 1;
            self.pos += 1;
        }
        if digits == 0 {
            return Err((
                start,
                format!("expected a non-negative integer, {}", self.found()),
            ));
        }
        Ok(value)
    }
}

/// Convenience for tests and the writer: checks a header's text parses back.
#[cfg(test)]
fn parse_for_test(text: &str) -> std::result::Result<Dict, ParseError> {
    parse_dict(text.as_bytes(), 0)
}

/// Reads just the header of a file, for tests.
#[cfg(test)]
pub(crate) fn read_header_of(bytes: &[u8]) -> Result<RawHeader> {
    read_header(&mut Source::from_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_numpy_headers() {
        let d = parse_for_test("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }    \n")
            .unwrap();
        assert_eq!(
            (d.descr.as_str(), d.fortran_order, d.shape),
            ("<f4", false, vec![3, 4])
        );
        let d = parse_for_test("{\"shape\": (7,), \"fortran_order\": True, \"descr\": \"<i4\"}")
            .unwrap();
        assert_eq!(
            (d.descr.as_str(), d.fortran_order, d.shape),
            ("<i4", true, vec![7])
        );
        let d = parse_for_test("{'descr':'<f4','fortran_order':False,'shape':(3L, 4L)}").unwrap();
        assert_eq!(d.shape, [3, 4]);
        let d = parse_for_test("{'descr':'<f4','fortran_order':False,'shape':()}").unwrap();
        assert!(d.shape.is_empty());
    }

    #[test]
    fn refuses_malformed_headers() {
        for bad in [
            "",
            "{",
            "{'descr': '<f4', 'fortran_order': False}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), 'x': 1}",
            "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}",
            "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}",
            "{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} garbage",
            "{'descr': '<f\\x34', 'fortran_order': False, 'shape': (1,)}",
            "{'descr': __import__('os'), 'fortran_order': False, 'shape': (1,)}",
        ] {
            assert!(parse_for_test(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn encoded_header_is_aligned_and_parses_back() {
        for shape in [
            vec![0u64, 0],
            vec![3, 384],
            vec![12],
            vec![u64::MAX, u64::MAX],
        ] {
            let bytes = encode_header("<f4", &shape);
            assert_eq!(bytes.len() % 64, 0);
            let header = read_header_of(&bytes).unwrap();
            assert_eq!(header.shape, shape);
            assert_eq!(header.descr, "<f4");
            assert_eq!(header.data_offset, bytes.len() as u64);
        }
    }
}
