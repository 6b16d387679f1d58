//! JSON ↔ metadata conversions (documents, values, external ids).
//!
//! JSON to metadata: `null`, booleans, integers (`i64`), other numbers (`f64`), strings,
//! arrays of strings (lists) and objects (maps). A string that is a complete RFC 3339
//! date-time with a time zone (`2026-01-01T12:00:00Z`) becomes a timestamp, so range filters
//! on it work; any other string stays a string. Arrays holding anything but strings are
//! refused (the metadata model has lists of strings only).
use mnemodb_metastore::{Document, ExternalId, Value, format_rfc3339, parse_rfc3339};
use serde_json::{Map, Number, Value as Json};

/// A metadata value from JSON; `Err` says what is wrong at which key path.
pub fn value_from_json(v: &Json, path: &str) -> Result<Value, String> {
    Ok(match v {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => match n.as_f64() {
                Some(f) if f.is_finite() => Value::Float(f),
                _ => return Err(format!("metadata `{path}`: number {n} is out of range")),
            },
        },
        Json::String(s) => match timestamp(s) {
            Some(t) => Value::Timestamp(t),
            None => Value::String(s.clone()),
        },
        Json::Array(items) => {
            let mut list = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                match item {
                    Json::String(s) => list.push(s.clone()),
                    other => {
                        return Err(format!(
                            "metadata `{path}[{i}]`: lists hold strings only, found {}",
                            json_type(other)
                        ));
                    }
                }
            }
            Value::List(list)
        }
        Json::Object(map) => Value::Map(document_from_object(map, path)?),
    })
}

/// A document from a JSON object.
pub fn document_from_object(map: &Map<String, Json>, prefix: &str) -> Result<Document, String> {
    let mut doc = Document::new();
    for (k, v) in map {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        doc.insert(k.clone(), value_from_json(v, &path)?);
    }
    Ok(doc)
}

/// A document from any JSON value (must be an object or null).
pub fn document_from_json(v: &Json) -> Result<Document, String> {
    match v {
        Json::Object(map) => document_from_object(map, ""),
        Json::Null => Ok(Document::new()),
        other => Err(format!(
            "metadata must be a JSON object, found {}",
            json_type(other)
        )),
    }
}

/// Only full date-times (`…T…` plus a zone) count, not bare dates or numbers.
fn timestamp(s: &str) -> Option<i64> {
    let t = s.find('T')?;
    let tail = s.get(t..)?;
    let zoned = tail.ends_with('Z') || tail.ends_with('z') || tail.contains('+') || {
        // A `-` after the `T` is an offset like `-05:00`.
        tail.contains('-')
    };
    if s.len() < 20 || !zoned {
        return None;
    }
    parse_rfc3339(s)
}

/// JSON of a metadata value (timestamps as RFC 3339 strings, non-finite floats as strings).
pub fn value_to_json(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::Number((*i).into()),
        Value::Float(f) => {
            Number::from_f64(*f).map_or_else(|| Json::String(f.to_string()), Json::Number)
        }
        Value::String(s) => Json::String(s.clone()),
        Value::Timestamp(t) => Json::String(format_rfc3339(*t)),
        Value::List(l) => Json::Array(l.iter().cloned().map(Json::String).collect()),
        Value::Map(m) => document_to_json(m),
    }
}

/// JSON object of a document.
pub fn document_to_json(doc: &Document) -> Json {
    Json::Object(
        doc.iter()
            .map(|(k, v)| (k.clone(), value_to_json(v)))
            .collect(),
    )
}

/// Compact one-line text of a document, for tables.
pub fn document_compact(doc: &Document) -> String {
    serde_json::to_string(&document_to_json(doc)).unwrap_or_default()
}

/// An external id from JSON: a non-negative integer or a string.
pub fn id_from_json(v: &Json) -> Result<ExternalId, String> {
    match v {
        Json::Number(n) => n
            .as_u64()
            .map(ExternalId::U64)
            .ok_or_else(|| format!("id {n} is not a non-negative integer below 2^64")),
        Json::String(s) if s.is_empty() => Err("id is an empty string".into()),
        Json::String(s) => Ok(ExternalId::Str(s.clone())),
        other => Err(format!(
            "id must be a non-negative integer or a string, found {}",
            json_type(other)
        )),
    }
}

/// JSON of an external id.
pub fn id_to_json(id: &ExternalId) -> Json {
    match id {
        ExternalId::U64(v) => Json::Number((*v).into()),
        ExternalId::Str(s) => Json::String(s.clone()),
    }
}

/// An id for tables: numbers as digits, strings without quotes.
pub fn id_text(id: &ExternalId) -> String {
    match id {
        ExternalId::U64(v) => v.to_string(),
        ExternalId::Str(s) => s.clone(),
    }
}

/// An external id from a command-line word: digits are a number, anything else a string
/// (`str:42` forces the string `"42"`).
pub fn id_from_arg(s: &str) -> ExternalId {
    if let Some(rest) = s.strip_prefix("str:") {
        return ExternalId::Str(rest.to_string());
    }
    match s.parse::<u64>() {
        Ok(v) if !s.starts_with('+') => ExternalId::U64(v),
        _ => ExternalId::Str(s.to_string()),
    }
}

/// The JSON type of a value, for messages.
pub fn json_type(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// A vector from a JSON array of numbers; every component must be a finite `f32`.
pub fn vector_from_json(v: &Json) -> Result<Vec<f32>, String> {
    let Json::Array(items) = v else {
        return Err(format!(
            "vector must be a JSON array of numbers, found {}",
            json_type(v)
        ));
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let x = match item {
            Json::Number(n) => n.as_f64().unwrap_or(f64::NAN),
            other => {
                return Err(format!(
                    "vector component {i} is {}, expected a number",
                    json_type(other)
                ));
            }
        };
        let f = x as f32;
        if !f.is_finite() {
            return Err(format!(
                "vector component {i} = {x:e} is not a finite 32-bit float"
            ));
        }
        out.push(f);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let j: Json = serde_json::json!({"user": "u1", "n": 3, "x": 0.5, "tags": ["a"],
            "at": "2026-01-01T00:00:00Z", "day": "2026-01-01", "m": {"k": true}});
        let d = document_from_json(&j).unwrap();
        assert!(matches!(d.get("at"), Some(Value::Timestamp(_))));
        assert!(matches!(d.get("day"), Some(Value::String(_))));
        assert_eq!(document_to_json(&d), j);
        assert!(document_from_json(&serde_json::json!({"l": [1]})).is_err());
        assert_eq!(id_from_arg("42"), ExternalId::U64(42));
        assert_eq!(id_from_arg("str:42"), ExternalId::Str("42".into()));
        assert_eq!(id_from_arg("a"), ExternalId::Str("a".into()));
        assert!(vector_from_json(&serde_json::json!([1.0, 1e39])).is_err());
    }
}
