//! External ids: what the application calls a document.
use std::fmt;

use crate::codec::Decoder;
use crate::error::{Error, Result};

/// Longest string id accepted, in bytes.
pub const MAX_EXTERNAL_ID_BYTES: usize = 4096;

/// The application's id of a document: a number or a string. Each maps to a dense
/// internal `u32` id (see [`MetaState`](crate::MetaState)).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ExternalId {
    /// A numeric id.
    U64(u64),
    /// A string id (at most [`MAX_EXTERNAL_ID_BYTES`] bytes).
    Str(String),
}

impl ExternalId {
    /// Refuse ids over the length limit.
    pub(crate) fn validate(&self) -> Result<()> {
        match self {
            ExternalId::Str(s) if s.len() > MAX_EXTERNAL_ID_BYTES => {
                Err(Error::ExternalIdTooLong {
                    len: s.len(),
                    max: MAX_EXTERNAL_ID_BYTES,
                })
            }
            _ => Ok(()),
        }
    }

    /// Append the encoding: tag `0` + `u64`, or tag `1` + `u32` length + UTF-8 bytes.
    pub(crate) fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            ExternalId::U64(v) => {
                out.push(0);
                out.extend_from_slice(&v.to_le_bytes());
            }
            ExternalId::Str(s) => {
                out.push(1);
                // Bounded by MAX_EXTERNAL_ID_BYTES (validated before encoding).
                out.extend_from_slice(&(s.len() as u32).to_le_bytes());
                out.extend_from_slice(s.as_bytes());
            }
        }
    }

    /// Read an encoded id.
    pub(crate) fn decode(r: &mut Decoder<'_>) -> mnemodb_format::Result<ExternalId> {
        let at = r.offset();
        match r.u8("external id tag")? {
            0 => Ok(ExternalId::U64(r.u64("external id")?)),
            1 => {
                let bytes = r.len_prefixed("external id")?;
                if bytes.len() > MAX_EXTERNAL_ID_BYTES {
                    return Err(r.error(format!(
                        "external id of {} bytes exceeds the {MAX_EXTERNAL_ID_BYTES}-byte limit",
                        bytes.len()
                    )));
                }
                let s =
                    std::str::from_utf8(bytes).map_err(|_| r.error("external id is not UTF-8"))?;
                Ok(ExternalId::Str(s.to_string()))
            }
            t => Err(r.error_at(at, format!("unknown external id tag {t}"))),
        }
    }
}

impl fmt::Display for ExternalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExternalId::U64(v) => write!(f, "{v}"),
            ExternalId::Str(s) => crate::value::write_quoted(f, s),
        }
    }
}

impl From<u64> for ExternalId {
    fn from(v: u64) -> Self {
        ExternalId::U64(v)
    }
}
impl From<&str> for ExternalId {
    fn from(s: &str) -> Self {
        ExternalId::Str(s.to_string())
    }
}
impl From<String> for ExternalId {
    fn from(s: String) -> Self {
        ExternalId::Str(s)
    }
}
