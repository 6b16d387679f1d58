//! Which fields a collection indexes, and how.
#![deny(clippy::indexing_slicing, clippy::panic)]

use std::collections::BTreeMap;

use crate::codec::Decoder;
use crate::error::{Error, Result};

/// How one field is indexed. A field may carry both kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FieldIndex {
    /// Equality / `in` on strings, ints, floats, bools, timestamps, null, and membership
    /// in lists of strings: a bitmap per distinct value.
    pub keyword: bool,
    /// Order comparisons on ints, floats and timestamps: an ordered set of (value, id).
    pub range: bool,
}

/// The secondary indexes of one collection. Fields are dotted paths (`meta.source`
/// reaches into the map under `meta`). Filters on fields not declared here still work,
/// by scanning documents (slower).
///
/// ```
/// use mnemodb_metastore::Schema;
/// let schema = Schema::new().keyword("user").keyword("kind").range("created_at").range("importance");
/// assert!(schema.field("user").unwrap().keyword);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Schema {
    fields: BTreeMap<String, FieldIndex>,
}

/// Bit of [`FieldIndex::keyword`] in the encoding.
const KEYWORD: u8 = 1;
/// Bit of [`FieldIndex::range`] in the encoding.
const RANGE: u8 = 2;

impl Schema {
    /// No indexes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a keyword index on `field`.
    pub fn keyword(mut self, field: impl Into<String>) -> Self {
        self.fields.entry(field.into()).or_default().keyword = true;
        self
    }

    /// Add a range index on `field`.
    pub fn range(mut self, field: impl Into<String>) -> Self {
        self.fields.entry(field.into()).or_default().range = true;
        self
    }

    /// The indexes of `field`, when declared.
    pub fn field(&self, field: &str) -> Option<FieldIndex> {
        self.fields.get(field).copied()
    }

    /// Every declared field with its indexes, by name.
    pub fn fields(&self) -> impl Iterator<Item = (&str, FieldIndex)> {
        self.fields.iter().map(|(k, v)| (k.as_str(), *v))
    }

    /// Check field names: non-empty dotted paths without empty segments.
    pub fn validate(&self) -> Result<()> {
        for (name, idx) in &self.fields {
            if name.is_empty() || name.split('.').any(str::is_empty) {
                return Err(Error::InvalidSchema {
                    field: name.clone(),
                    what: "field paths are non-empty names separated by single dots".into(),
                });
            }
            if !idx.keyword && !idx.range {
                return Err(Error::InvalidSchema {
                    field: name.clone(),
                    what: "declares no index".into(),
                });
            }
        }
        Ok(())
    }

    /// Append the encoding: `count:u32 { name:str flags:u8 }*` (flags: 1 keyword, 2 range).
    pub(crate) fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.fields.len() as u32).to_le_bytes());
        for (name, idx) in &self.fields {
            out.extend_from_slice(&(name.len() as u32).to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            let flags = if idx.keyword { KEYWORD } else { 0 } | if idx.range { RANGE } else { 0 };
            out.push(flags);
        }
    }

    /// Read an encoded schema.
    pub(crate) fn decode(d: &mut Decoder<'_>) -> mnemodb_format::Result<Schema> {
        let n = d.count(6, "schema field count")?;
        let mut fields = BTreeMap::new();
        for _ in 0..n {
            let at = d.offset();
            let name = d.str("schema field name")?.to_string();
            let flags_at = d.offset();
            let flags = d.u8("schema field flags")?;
            if flags == 0 || flags & !(KEYWORD | RANGE) != 0 {
                return Err(d.error_at(flags_at, format!("invalid index flags {flags:#x}")));
            }
            let idx = FieldIndex {
                keyword: flags & KEYWORD != 0,
                range: flags & RANGE != 0,
            };
            if fields.insert(name.clone(), idx).is_some() {
                return Err(d.error_at(at, format!("schema field `{name}` appears twice")));
            }
        }
        let schema = Schema { fields };
        schema
            .validate()
            .map_err(|e| d.error(format!("invalid schema: {e}")))?;
        Ok(schema)
    }

    /// A 64-bit fingerprint of the schema (FNV-1a of its encoding), recorded in checkpoint
    /// headers so a reader sees at a glance whether the indexes were declared the same way.
    pub fn fingerprint(&self) -> u64 {
        let mut bytes = Vec::new();
        self.encode_into(&mut bytes);
        bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn round_trip_and_fingerprint() {
        let s = Schema::new()
            .keyword("user")
            .range("created_at")
            .keyword("created_at");
        s.validate().unwrap();
        let mut b = Vec::new();
        s.encode_into(&mut b);
        let back = Schema::decode(&mut Decoder::new(&b, 0, Path::new("s"))).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.fingerprint(), s.fingerprint());
        assert_ne!(Schema::new().fingerprint(), s.fingerprint());
        assert!(Schema::new().keyword("a..b").validate().is_err());
        assert!(Schema::new().keyword("").validate().is_err());
    }
}
