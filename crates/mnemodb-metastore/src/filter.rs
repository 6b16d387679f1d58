//! The filter AST and its meaning on one document.
//!
//! # Semantics
//!
//! A field is a dotted path (`meta.source`); a *missing* field is one the path does not
//! reach. Comparisons never match a missing field, whatever the operator.
//!
//! | filter | matches a document when |
//! |---|---|
//! | `f = v` | `f` is present and equals `v`: numbers compare numerically (`Int(3) = Float(3.0)`); strings byte-wise; a **list** field equals a string `v` when it contains it; timestamps only equal timestamps; `f = null` matches a stored `Null`; NaN equals nothing |
//! | `f != v` | `f` is present and does not equal `v` (so `not (f = v)` also matches documents without `f`) |
//! | `f in [v1, ..]` | `f` is present and equals one of the values |
//! | `f < v` etc. (`Range`) | `f` holds a number and the bounds are numbers, or a timestamp and the bounds are timestamps, and it lies within the bounds. Any other pairing (a string bound, `importance > "high"`, a timestamp against a number, NaN) matches nothing |
//! | `exists(f)` | `f` is present (a stored `Null` counts) |
//! | `a and b`, `a or b`, `not a`, `*` | as in logic; `*` (`All`) matches every live document |
//!
//! A filter on a field that no live document has and the schema does not declare matches
//! nothing, or is refused with [`Error::UnknownField`](crate::Error::UnknownField) when
//! [`FilterOptions::strict`] is set.
use std::fmt;
use std::ops::Bound;
use std::str::FromStr;

use crate::parser::{self, ParseError};
use crate::value::{Document, Number, Orderable, Value, resolve};

/// A filter over documents; see the module doc for the exact semantics, and
/// [`Filter::parse`] for the text syntax.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Every live document.
    All,
    /// Field equals value.
    Eq(String, Value),
    /// Field present and not equal to value.
    Ne(String, Value),
    /// Field equals one of the values.
    In(String, Vec<Value>),
    /// Field within bounds (numbers with numbers, timestamps with timestamps).
    Range {
        /// The field path.
        field: String,
        /// Lower bound.
        lower: Bound<Value>,
        /// Upper bound.
        upper: Bound<Value>,
    },
    /// Field present.
    Exists(String),
    /// Every sub-filter matches (an empty list matches everything).
    And(Vec<Filter>),
    /// At least one sub-filter matches (an empty list matches nothing).
    Or(Vec<Filter>),
    /// The sub-filter does not match.
    Not(Box<Filter>),
}

/// Options of filter evaluation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FilterOptions {
    /// Refuse fields that are neither declared in the schema nor present in any live
    /// document (catches typos such as `usr = "u1"`), instead of matching nothing.
    pub strict: bool,
}

impl Filter {
    /// Parse the text syntax, e.g.
    /// `user = "u1" and created_at >= 2026-01-01T00:00:00Z and kind in ["preference", "decision"]`.
    /// See [`parser`](crate::parser) for the grammar.
    pub fn parse(text: &str) -> Result<Filter, ParseError> {
        parser::parse(text)
    }

    /// `field >= lower` shorthand.
    pub fn gte(field: impl Into<String>, lower: Value) -> Filter {
        Filter::Range {
            field: field.into(),
            lower: Bound::Included(lower),
            upper: Bound::Unbounded,
        }
    }

    /// `field < upper` shorthand.
    pub fn lt(field: impl Into<String>, upper: Value) -> Filter {
        Filter::Range {
            field: field.into(),
            lower: Bound::Unbounded,
            upper: Bound::Excluded(upper),
        }
    }

    /// Whether `doc` matches: the reference semantics, which index-based evaluation agrees
    /// with (the state-machine test checks it).
    pub fn matches(&self, doc: &Document) -> bool {
        match self {
            Filter::All => true,
            Filter::Eq(f, v) => resolve(doc, f).is_some_and(|x| value_equals(x, v)),
            Filter::Ne(f, v) => resolve(doc, f).is_some_and(|x| !value_equals(x, v)),
            Filter::In(f, vs) => {
                resolve(doc, f).is_some_and(|x| vs.iter().any(|v| value_equals(x, v)))
            }
            Filter::Range {
                field,
                lower,
                upper,
            } => resolve(doc, field).is_some_and(|x| in_range(x, lower, upper)),
            Filter::Exists(f) => resolve(doc, f).is_some(),
            Filter::And(fs) => fs.iter().all(|f| f.matches(doc)),
            Filter::Or(fs) => fs.iter().any(|f| f.matches(doc)),
            Filter::Not(f) => !f.matches(doc),
        }
    }

    /// Every field path the filter names.
    pub fn fields(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect_fields(&mut out);
        out
    }

    fn collect_fields<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Filter::All => {}
            Filter::Eq(f, _)
            | Filter::Ne(f, _)
            | Filter::In(f, _)
            | Filter::Exists(f)
            | Filter::Range { field: f, .. } => out.push(f),
            Filter::And(fs) | Filter::Or(fs) => fs.iter().for_each(|f| f.collect_fields(out)),
            Filter::Not(f) => f.collect_fields(out),
        }
    }
}

impl FromStr for Filter {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Filter::parse(s)
    }
}

/// Equality as filters define it (see the module doc).
pub(crate) fn value_equals(x: &Value, v: &Value) -> bool {
    match (x, v) {
        (Value::List(items), Value::String(s)) => items.iter().any(|i| i == s),
        (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
            match (Number::of(x), Number::of(v)) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            }
        }
        (Value::Map(_), Value::Map(_)) => x == v,
        (Value::List(a), Value::List(b)) => a == b,
        (Value::Null, Value::Null) => true,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::String(a), Value::String(b)) => a == b,
        (Value::Timestamp(a), Value::Timestamp(b)) => a == b,
        _ => false,
    }
}

/// Whether `x` lies within the bounds (see the module doc).
pub(crate) fn in_range(x: &Value, lower: &Bound<Value>, upper: &Bound<Value>) -> bool {
    let Some(o) = Orderable::of(x) else {
        return false;
    };
    let ok = |b: &Bound<Value>, want_lower: bool| match b {
        Bound::Unbounded => true,
        Bound::Included(v) | Bound::Excluded(v) => {
            let Some(ob) = Orderable::of(v) else {
                return false;
            };
            if !o.same_class(&ob) {
                return false;
            }
            let c = o.cmp(&ob);
            match (b, want_lower) {
                (Bound::Included(_), true) => c.is_ge(),
                (Bound::Excluded(_), true) => c.is_gt(),
                (Bound::Included(_), false) => c.is_le(),
                _ => c.is_lt(),
            }
        }
    };
    ok(lower, true) && ok(upper, false)
}

const KEYWORDS: [&str; 10] = [
    "and", "or", "not", "in", "exists", "true", "false", "null", "nan", "inf",
];

/// Whether a path segment can be written bare.
pub(crate) fn is_plain_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(s))
}

struct FieldDisplay<'a>(&'a str);

impl fmt::Display for FieldDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.split('.').enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            if is_plain_ident(seg) {
                f.write_str(seg)?;
            } else {
                write!(f, "`{seg}`")?;
            }
        }
        Ok(())
    }
}

/// Writes the text syntax; parsing it back gives an equal filter for every filter the
/// parser produces (compound operands are parenthesised; a two-sided `Range` is written as
/// two comparisons joined by `and`, which means the same).
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let operand = |f: &mut fmt::Formatter<'_>, x: &Filter| match x {
            Filter::And(_) | Filter::Or(_) => write!(f, "({x})"),
            Filter::Range {
                lower: Bound::Included(_) | Bound::Excluded(_),
                upper: Bound::Included(_) | Bound::Excluded(_),
                ..
            }
            | Filter::Range {
                lower: Bound::Unbounded,
                upper: Bound::Unbounded,
                ..
            } => write!(f, "({x})"),
            _ => write!(f, "{x}"),
        };
        match self {
            Filter::All => f.write_str("*"),
            Filter::Eq(field, v) => write!(f, "{} = {v}", FieldDisplay(field)),
            Filter::Ne(field, v) => write!(f, "{} != {v}", FieldDisplay(field)),
            Filter::In(field, vs) => {
                write!(f, "{} in [", FieldDisplay(field))?;
                for (i, v) in vs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Filter::Range {
                field,
                lower,
                upper,
            } => {
                let fd = FieldDisplay(field);
                match (lower, upper) {
                    (Bound::Unbounded, Bound::Unbounded) => {
                        write!(f, "{fd} >= -inf or {fd} >= @{}", i64::MIN)
                    }
                    (lo, Bound::Unbounded) => write_bound(f, &fd, lo, true),
                    (Bound::Unbounded, hi) => write_bound(f, &fd, hi, false),
                    (lo, hi) => {
                        write_bound(f, &fd, lo, true)?;
                        f.write_str(" and ")?;
                        write_bound(f, &fd, hi, false)
                    }
                }
            }
            Filter::Exists(field) => write!(f, "exists({})", FieldDisplay(field)),
            Filter::And(fs) | Filter::Or(fs) => {
                let (sep, empty) = if matches!(self, Filter::And(_)) {
                    (" and ", "*")
                } else {
                    (" or ", "not *")
                };
                if fs.is_empty() {
                    return f.write_str(empty);
                }
                if fs.len() == 1 {
                    f.write_str("(")?;
                }
                for (i, x) in fs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(sep)?;
                    }
                    operand(f, x)?;
                }
                if fs.len() == 1 {
                    f.write_str(")")?;
                }
                Ok(())
            }
            Filter::Not(x) => {
                f.write_str("not ")?;
                operand(f, x)
            }
        }
    }
}

fn write_bound(
    f: &mut fmt::Formatter<'_>,
    field: &FieldDisplay<'_>,
    b: &Bound<Value>,
    lower: bool,
) -> fmt::Result {
    match (b, lower) {
        (Bound::Included(v), true) => write!(f, "{field} >= {v}"),
        (Bound::Excluded(v), true) => write!(f, "{field} > {v}"),
        (Bound::Included(v), false) => write!(f, "{field} <= {v}"),
        (Bound::Excluded(v), false) => write!(f, "{field} < {v}"),
        (Bound::Unbounded, _) => f.write_str("*"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Document {
        Document::from([
            ("user".to_string(), Value::from("u1")),
            ("importance".to_string(), Value::Float(0.5)),
            ("n".to_string(), Value::Int(3)),
            (
                "tags".to_string(),
                Value::List(vec!["a".into(), "b".into()]),
            ),
            ("at".to_string(), Value::Timestamp(100)),
            ("nanv".to_string(), Value::Float(f64::NAN)),
            ("nothing".to_string(), Value::Null),
        ])
    }

    #[test]
    fn semantics() {
        let d = doc();
        let yes = [
            "user = \"u1\"",
            "n = 3.0",
            "n = 3",
            "tags = \"a\"",
            "tags in [\"z\", \"b\"]",
            "tags = [\"a\", \"b\"]",
            "importance > 0.2",
            "importance <= 0.5",
            "n >= 2.5",
            "at >= @100",
            "exists(nothing)",
            "nothing = null",
            "nanv != 1",
            "not exists(missing)",
            "not (missing = 1)",
            "user != \"u2\"",
            "*",
        ];
        for text in yes {
            let f = Filter::parse(text).unwrap();
            assert!(f.matches(&d), "{text} should match");
        }
        let no = [
            "user = \"u2\"",
            "importance = \"high\"",
            "importance > \"a\"",
            "at > 5",
            "n > @1",
            "nanv = nan",
            "nanv > 0",
            "missing != 1",
            "missing = null",
            "tags = \"c\"",
            "user < 1",
            "not *",
        ];
        for text in no {
            let f = Filter::parse(text).unwrap();
            assert!(!f.matches(&d), "{text} should not match");
        }
    }

    #[test]
    fn display_round_trips() {
        for text in [
            "user = \"u1\" and created_at >= 2026-01-01T00:00:00Z and kind in [\"preference\", \"decision\"]",
            "not exists(archived)",
            "importance > 0.5 or (kind != \"event\")",
            "(a = 1 or b = 2) and not (c = 3 and d < -4.5e-7)",
            "`odd key`.x = \"q\\\"\\n\" or `and` = true",
            "x in [1, 2.5, null, false, \"s\", 2026-01-01T00:00:00.5Z] and y = [\"l\"]",
        ] {
            let f = Filter::parse(text).unwrap();
            let shown = f.to_string();
            assert_eq!(Filter::parse(&shown).unwrap(), f, "{text} → {shown}");
        }
        let two_sided = Filter::Range {
            field: "n".into(),
            lower: Bound::Included(Value::Int(1)),
            upper: Bound::Excluded(Value::Int(5)),
        };
        assert_eq!(two_sided.to_string(), "n >= 1 and n < 5");
    }
}
