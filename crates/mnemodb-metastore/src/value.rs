//! Typed metadata values and documents.
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

use crate::timestamp;

/// A document: field name → value, ordered by name (the encoding is canonical because of it).
pub type Document = BTreeMap<String, Value>;

/// The top-level fields of `doc` named in `fields` (absent ones left out).
pub(crate) fn project(doc: &Document, fields: &[String]) -> Document {
    fields
        .iter()
        .filter_map(|f| doc.get_key_value(f.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// One metadata value.
///
/// | variant     | holds                                      | filter semantics                                    |
/// |-------------|--------------------------------------------|-----------------------------------------------------|
/// | `Null`      | nothing                                    | `f = null` matches a field stored as `Null`         |
/// | `Bool`      | `true` / `false`                           | equality                                            |
/// | `Int`       | `i64`                                      | equality and order, compared numerically with `Float` |
/// | `Float`     | `f64` (NaN allowed, never matches anything but `exists`/`!=`) | equality and order, numeric     |
/// | `String`    | UTF-8 text                                 | equality (byte-wise)                                |
/// | `Timestamp` | `i64` microseconds since 1970-01-01T00:00:00Z | equality and order, only against timestamps      |
/// | `List`      | list of strings                            | `f = "x"` / `f in [..]` test membership             |
/// | `Map`       | nested document (depth ≤ [`MAX_NESTING_DEPTH`](crate::MAX_NESTING_DEPTH)) | reached by dotted paths `a.b` |
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// No value (distinct from a missing field).
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed 64-bit integer.
    Int(i64),
    /// A 64-bit float.
    Float(f64),
    /// UTF-8 text.
    String(String),
    /// Microseconds since the Unix epoch, UTC.
    Timestamp(i64),
    /// A list of strings (tags, entity names, ...).
    List(Vec<String>),
    /// A nested document.
    Map(BTreeMap<String, Value>),
}

impl Value {
    /// The type's name as the filter language and error messages spell it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::String(_) => "string",
            Value::Timestamp(_) => "timestamp",
            Value::List(_) => "list",
            Value::Map(_) => "map",
        }
    }

    /// A timestamp from an RFC 3339 string (`2026-01-01T00:00:00Z`, offsets and fractions
    /// allowed, or a bare date meaning midnight UTC); `None` when it does not parse.
    pub fn timestamp_rfc3339(text: &str) -> Option<Value> {
        timestamp::parse_rfc3339(text).map(Value::Timestamp)
    }

    /// Exact equality of the encodings (NaN equals a NaN with the same bits), used by the
    /// write path to skip index updates for unchanged fields.
    pub(crate) fn same(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Float(a), Value::Float(b)) => a.to_bits() == b.to_bits(),
            (Value::Map(a), Value::Map(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|((ka, va), (kb, vb))| ka == kb && va.same(vb))
            }
            _ => self == other,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<Vec<String>> for Value {
    fn from(v: Vec<String>) -> Self {
        Value::List(v)
    }
}

/// Prints the value as the filter language writes it (strings quoted and escaped,
/// timestamps in RFC 3339, maps as `{k: v}`), so `Filter`'s `Display` round-trips.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write_float(f, *x),
            Value::String(s) => write_quoted(f, s),
            Value::Timestamp(t) => f.write_str(&timestamp::format_rfc3339(*t)),
            Value::List(items) => {
                f.write_str("[")?;
                for (i, s) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write_quoted(f, s)?;
                }
                f.write_str("]")
            }
            Value::Map(m) => {
                f.write_str("{")?;
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write_quoted(f, k)?;
                    write!(f, ": {v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

/// A float in a form the filter parser reads back as the same float (always with a `.`
/// or an exponent, so it is not mistaken for an integer).
fn write_float(f: &mut fmt::Formatter<'_>, x: f64) -> fmt::Result {
    if x.is_nan() {
        f.write_str("nan")
    } else if x.is_infinite() {
        f.write_str(if x > 0.0 { "inf" } else { "-inf" })
    } else {
        let s = format!("{x:?}");
        f.write_str(&s)
    }
}

/// `s` in double quotes with `\"`, `\\`, `\n`, `\r`, `\t` and `\u{..}` escapes.
pub(crate) fn write_quoted(f: &mut impl fmt::Write, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if c.is_control() => write!(f, "\\u{{{:x}}}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

/// Exact numeric comparison of an `i64` with a non-NaN `f64` (no rounding through `f64`).
pub(crate) fn cmp_int_float(i: i64, x: f64) -> Ordering {
    // 2^63 as f64 is exact; every f64 at or above it exceeds every i64.
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if x >= TWO_63 {
        return Ordering::Less;
    }
    if x < -TWO_63 {
        return Ordering::Greater;
    }
    let t = x.trunc();
    // In range: -2^63 <= t < 2^63, so the cast is exact.
    let ti = t as i64;
    match i.cmp(&ti) {
        Ordering::Equal => {
            if x > t {
                Ordering::Less
            } else if x < t {
                Ordering::Greater
            } else {
                Ordering::Equal
            }
        }
        o => o,
    }
}

/// A number: the common ground of `Int` and `Float` for comparisons.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Number {
    Int(i64),
    /// Never NaN.
    Float(f64),
}

impl Number {
    /// The number a value holds, when it holds a non-NaN one.
    pub(crate) fn of(v: &Value) -> Option<Number> {
        match v {
            Value::Int(i) => Some(Number::Int(*i)),
            Value::Float(x) if !x.is_nan() => Some(Number::Float(*x)),
            _ => None,
        }
    }
}

impl Ord for Number {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => a.cmp(b),
            (Number::Int(a), Number::Float(b)) => cmp_int_float(*a, *b),
            (Number::Float(a), Number::Int(b)) => cmp_int_float(*b, *a).reverse(),
            // Neither is NaN; -0.0 == 0.0 numerically.
            (Number::Float(a), Number::Float(b)) => a.partial_cmp(b).unwrap_or(Ordering::Equal),
        }
    }
}
impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for Number {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Number {}

/// An orderable value: numbers among themselves, timestamps among themselves; numbers sort
/// before timestamps (the two never compare in a filter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Orderable {
    Number(Number),
    Timestamp(i64),
}

impl Orderable {
    pub(crate) fn of(v: &Value) -> Option<Orderable> {
        match v {
            Value::Timestamp(t) => Some(Orderable::Timestamp(*t)),
            _ => Number::of(v).map(Orderable::Number),
        }
    }

    /// Whether two orderables may be compared by a filter (same class).
    pub(crate) fn same_class(&self, other: &Orderable) -> bool {
        matches!(
            (self, other),
            (Orderable::Number(_), Orderable::Number(_))
                | (Orderable::Timestamp(_), Orderable::Timestamp(_))
        )
    }
}

/// Resolve a dotted path (`a.b.c`) in a document: each segment but the last must name a
/// `Map`.
pub(crate) fn resolve<'d>(doc: &'d Document, path: &str) -> Option<&'d Value> {
    let mut parts = path.split('.');
    let mut cur = doc.get(parts.next()?)?;
    for p in parts {
        match cur {
            Value::Map(m) => cur = m.get(p)?,
            _ => return None,
        }
    }
    Some(cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_float_compare_exactly() {
        assert_eq!(cmp_int_float(3, 3.0), Ordering::Equal);
        assert_eq!(cmp_int_float(3, 3.5), Ordering::Less);
        assert_eq!(cmp_int_float(-3, -3.5), Ordering::Greater);
        assert_eq!(cmp_int_float(i64::MAX, 9.3e18), Ordering::Less);
        assert_eq!(cmp_int_float(i64::MIN, -9.3e18), Ordering::Greater);
        assert_eq!(
            cmp_int_float(i64::MIN, -9_223_372_036_854_775_808.0),
            Ordering::Equal
        );
        // 2^53 + 1 is not representable: a naive cast would call them equal.
        assert_eq!(
            cmp_int_float((1 << 53) + 1, 9_007_199_254_740_992.0),
            Ordering::Greater
        );
        assert_eq!(cmp_int_float(0, -0.0), Ordering::Equal);
        assert_eq!(cmp_int_float(0, f64::INFINITY), Ordering::Less);
        assert_eq!(cmp_int_float(0, f64::NEG_INFINITY), Ordering::Greater);
    }

    #[test]
    fn paths_resolve_through_maps() {
        let mut inner = BTreeMap::new();
        inner.insert("b".to_string(), Value::Int(1));
        let mut doc = Document::new();
        doc.insert("a".into(), Value::Map(inner));
        doc.insert("s".into(), Value::from("x"));
        assert_eq!(resolve(&doc, "a.b"), Some(&Value::Int(1)));
        assert_eq!(resolve(&doc, "a"), doc.get("a"));
        assert_eq!(resolve(&doc, "s.b"), None);
        assert_eq!(resolve(&doc, "a.c"), None);
    }
}
