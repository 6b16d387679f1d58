//! Memories: the scope they belong to, their kind, the record as stored and read back.
//!
//! A memory is stored as one engine record: its embedding plus a metadata document with
//! the fields below (the names are part of the on-disk contract; free caller metadata lives
//! under `meta`, so it can never collide with them).
//!
//! | field | type | meaning |
//! |---|---|---|
//! | `user`, `agent`, `session` | string (keyword-indexed) | the scope; `agent`/`session` absent when not set |
//! | `scope` | string (keyword) | the exact scope key (consolidation never crosses it) |
//! | `text` | string | the memory |
//! | `kind` | string (keyword) | `preference`, `decision`, `fact`, `event`, `instruction`, `other` or a custom kind |
//! | `importance` | float (range) | in `[0, 1]` |
//! | `created_at` | timestamp (range) | when it was stated |
//! | `last_accessed_at` | timestamp | last recall that returned it (absent: never) |
//! | `access_count` | int | recalls that returned it |
//! | `valid_from`, `valid_to` | timestamp (range) | validity; `valid_to` = `i64::MAX` µs while open |
//! | `status` | string (keyword) | `active`, `archived` (pruned, restorable) or `merged` (consolidated into `merged_into`) |
//! | `seq` | int (range) | insertion order (incremental consolidation) |
//! | `superseded_by`, `merged_into` | string | links to the newer record |
//! | `merged_from` | list of strings | ids consolidated into this one (their records are kept) |
//! | `first_stated_at` | timestamp | earliest `created_at` of everything merged into it |
//! | `source_conversation`, `source_turn` | string, int | where it came from |
//! | `meta` | map | the caller's free metadata |
use std::fmt;

use mnemodb::{Document, Value};

use crate::error::{Error, Result, invalid};
use crate::scoring::Signals;
use crate::time::Timestamp;

pub(crate) mod field {
    pub const USER: &str = "user";
    pub const AGENT: &str = "agent";
    pub const SESSION: &str = "session";
    pub const SCOPE: &str = "scope";
    pub const TEXT: &str = "text";
    pub const KIND: &str = "kind";
    pub const IMPORTANCE: &str = "importance";
    pub const CREATED_AT: &str = "created_at";
    pub const LAST_ACCESSED_AT: &str = "last_accessed_at";
    pub const ACCESS_COUNT: &str = "access_count";
    pub const VALID_FROM: &str = "valid_from";
    pub const VALID_TO: &str = "valid_to";
    pub const STATUS: &str = "status";
    pub const SEQ: &str = "seq";
    pub const SUPERSEDED_BY: &str = "superseded_by";
    pub const MERGED_INTO: &str = "merged_into";
    pub const MERGED_FROM: &str = "merged_from";
    pub const FIRST_STATED_AT: &str = "first_stated_at";
    pub const SOURCE_CONVERSATION: &str = "source_conversation";
    pub const SOURCE_TURN: &str = "source_turn";
    pub const ARCHIVED_AT: &str = "archived_at";
    pub const META: &str = "meta";
}

/// Longest accepted id component (user, agent, session), in bytes.
pub const MAX_SCOPE_ID_BYTES: usize = 256;
/// Longest accepted memory text, in bytes.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;

/// Who a memory belongs to: a user, optionally narrowed to an agent and a session.
///
/// As a *query* scope it is a filter: every id it sets must match, so `Scope::user("u1")`
/// sees all of u1's memories (every agent and session) and `Scope::user("u1").agent("a")`
/// only those stored with agent `a`. No query ever sees another user's memories.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope {
    /// The user id (required).
    pub user: String,
    /// The agent id.
    pub agent: Option<String>,
    /// The session (conversation) id.
    pub session: Option<String>,
}

impl Scope {
    /// A user's scope.
    pub fn user(user: impl Into<String>) -> Self {
        Scope {
            user: user.into(),
            agent: None,
            session: None,
        }
    }

    /// Narrowed to an agent.
    pub fn agent(mut self, agent: impl Into<String>) -> Self {
        self.agent = Some(agent.into());
        self
    }

    /// Narrowed to a session.
    pub fn session(mut self, session: impl Into<String>) -> Self {
        self.session = Some(session.into());
        self
    }

    /// Ids must be non-empty, at most [`MAX_SCOPE_ID_BYTES`], without control characters.
    pub fn validate(&self) -> Result<()> {
        let check = |what: &str, id: &str| {
            if id.is_empty() {
                Err(invalid(format!("{what} id is empty")))
            } else if id.len() > MAX_SCOPE_ID_BYTES {
                Err(invalid(format!(
                    "{what} id is {} bytes, above the {MAX_SCOPE_ID_BYTES}-byte limit",
                    id.len()
                )))
            } else if id.chars().any(char::is_control) {
                Err(invalid(format!(
                    "{what} id {id:?} contains a control character"
                )))
            } else {
                Ok(())
            }
        };
        check("user", &self.user)?;
        if let Some(a) = &self.agent {
            check("agent", a)?;
        }
        if let Some(s) = &self.session {
            check("session", s)?;
        }
        Ok(())
    }

    /// The exact scope key (unique per (user, agent, session); ids cannot hold `\u{1f}`).
    pub fn key(&self) -> String {
        format!(
            "{}\u{1f}{}\u{1f}{}",
            self.user,
            self.agent.as_deref().unwrap_or(""),
            self.session.as_deref().unwrap_or("")
        )
    }

    /// Whether a record stored with scope `record` is visible to this query scope.
    pub fn contains(&self, record: &Scope) -> bool {
        self.user == record.user
            && self
                .agent
                .as_ref()
                .is_none_or(|a| record.agent.as_ref() == Some(a))
            && self
                .session
                .as_ref()
                .is_none_or(|s| record.session.as_ref() == Some(s))
    }

    /// The engine filter of this query scope.
    pub fn filter(&self) -> mnemodb::Filter {
        let mut parts = vec![mnemodb::Filter::Eq(
            field::USER.into(),
            Value::from(self.user.as_str()),
        )];
        if let Some(a) = &self.agent {
            parts.push(mnemodb::Filter::Eq(
                field::AGENT.into(),
                Value::from(a.as_str()),
            ));
        }
        if let Some(s) = &self.session {
            parts.push(mnemodb::Filter::Eq(
                field::SESSION.into(),
                Value::from(s.as_str()),
            ));
        }
        mnemodb::Filter::And(parts)
    }

    pub(crate) fn write_to(&self, doc: &mut Document) {
        doc.insert(field::USER.into(), self.user.as_str().into());
        if let Some(a) = &self.agent {
            doc.insert(field::AGENT.into(), a.as_str().into());
        }
        if let Some(s) = &self.session {
            doc.insert(field::SESSION.into(), s.as_str().into());
        }
        doc.insert(field::SCOPE.into(), self.key().into());
    }

    pub(crate) fn read_from(doc: &Document) -> Option<Scope> {
        Some(Scope {
            user: str_field(doc, field::USER)?.to_string(),
            agent: str_field(doc, field::AGENT).map(str::to_string),
            session: str_field(doc, field::SESSION).map(str::to_string),
        })
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "user {:?}", self.user)?;
        if let Some(a) = &self.agent {
            write!(f, " agent {a:?}")?;
        }
        if let Some(s) = &self.session {
            write!(f, " session {s:?}")?;
        }
        Ok(())
    }
}

/// What kind of thing a memory records (extensible with [`MemoryKind::Custom`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum MemoryKind {
    /// A preference ("prefers pytest").
    Preference,
    /// A decision ("we use PostgreSQL").
    Decision,
    /// A fact about the user or the world.
    Fact,
    /// Something that happened.
    Event,
    /// A standing instruction ("never log secrets").
    Instruction,
    /// Anything else.
    #[default]
    Other,
    /// An application-defined kind (lowercase name).
    Custom(String),
}

impl MemoryKind {
    /// The stored name.
    pub fn as_str(&self) -> &str {
        match self {
            MemoryKind::Preference => "preference",
            MemoryKind::Decision => "decision",
            MemoryKind::Fact => "fact",
            MemoryKind::Event => "event",
            MemoryKind::Instruction => "instruction",
            MemoryKind::Other => "other",
            MemoryKind::Custom(s) => s,
        }
    }

    /// Whether memories of this kind are episodic (scored by their age, see
    /// [`EpisodicTerms`](crate::scoring::EpisodicTerms)): [`MemoryKind::Event`] and the
    /// custom kind `observation`.
    pub fn is_episodic(&self) -> bool {
        matches!(self, MemoryKind::Event)
            || matches!(self, MemoryKind::Custom(k) if k == "observation")
    }

    /// From a stored name (unknown names become [`MemoryKind::Custom`]).
    pub fn parse(s: &str) -> MemoryKind {
        match s {
            "preference" => MemoryKind::Preference,
            "decision" => MemoryKind::Decision,
            "fact" => MemoryKind::Fact,
            "event" => MemoryKind::Event,
            "instruction" => MemoryKind::Instruction,
            "other" => MemoryKind::Other,
            other => MemoryKind::Custom(other.to_string()),
        }
    }
}

impl fmt::Display for MemoryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Lifecycle state of a stored memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemoryStatus {
    /// Recallable.
    Active,
    /// Pruned: kept, excluded from recall, restorable.
    Archived,
    /// Consolidated into another memory (kept as provenance).
    Merged {
        /// The memory it was merged into.
        into: String,
    },
}

impl MemoryStatus {
    pub(crate) const ACTIVE: &'static str = "active";
    pub(crate) const ARCHIVED: &'static str = "archived";
    pub(crate) const MERGED: &'static str = "merged";
}

/// Where a memory came from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemorySource {
    /// Conversation (session) id.
    pub conversation: Option<String>,
    /// Turn number within it.
    pub turn: Option<u64>,
}

/// A memory as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Memory {
    /// Its id.
    pub id: String,
    /// Its scope.
    pub scope: Scope,
    /// The text.
    pub text: String,
    /// The kind.
    pub kind: MemoryKind,
    /// Importance in `[0, 1]`.
    pub importance: f32,
    /// When it was stated.
    pub created_at: Timestamp,
    /// Last recall that returned it.
    pub last_accessed_at: Option<Timestamp>,
    /// Recalls that returned it.
    pub access_count: u32,
    /// Valid from.
    pub valid_from: Timestamp,
    /// Valid until (`None`: still valid).
    pub valid_to: Option<Timestamp>,
    /// Lifecycle state.
    pub status: MemoryStatus,
    /// The memory that superseded it.
    pub superseded_by: Option<String>,
    /// Ids consolidated into it.
    pub merged_from: Vec<String>,
    /// Earliest statement among everything merged into it (its own `created_at` if none).
    pub first_stated_at: Timestamp,
    /// Where it came from.
    pub source: MemorySource,
    /// Insertion order.
    pub seq: u64,
    /// The caller's free metadata.
    pub metadata: Document,
    /// The stored (normalised) embedding, when asked for.
    pub vector: Option<Vec<f32>>,
}

impl Memory {
    /// The scoring signals.
    pub fn signals(&self) -> Signals {
        Signals {
            importance: self.importance,
            created_at: self.created_at,
            last_accessed_at: self.last_accessed_at,
            access_count: self.access_count,
            episodic: self.kind.is_episodic(),
        }
    }

    /// Whether it is valid at `t`.
    pub fn valid_at(&self, t: Timestamp) -> bool {
        self.valid_from <= t && self.valid_to.is_none_or(|end| t < end)
    }

    pub(crate) fn from_doc(
        id: String,
        doc: &Document,
        vector: Option<Vec<f32>>,
        collection: &str,
    ) -> Result<Memory> {
        let bad = |what: &str| Error::Malformed {
            collection: collection.to_string(),
            id: id.clone(),
            what: what.to_string(),
        };
        let scope = Scope::read_from(doc).ok_or_else(|| bad("no user"))?;
        let text = str_field(doc, field::TEXT)
            .ok_or_else(|| bad("no text"))?
            .to_string();
        let created_at = ts_field(doc, field::CREATED_AT).ok_or_else(|| bad("no created_at"))?;
        let status = match str_field(doc, field::STATUS) {
            Some(MemoryStatus::ARCHIVED) => MemoryStatus::Archived,
            Some(MemoryStatus::MERGED) => MemoryStatus::Merged {
                into: str_field(doc, field::MERGED_INTO)
                    .unwrap_or_default()
                    .to_string(),
            },
            _ => MemoryStatus::Active,
        };
        let valid_to = ts_field(doc, field::VALID_TO).filter(|t| *t != Timestamp::MAX);
        Ok(Memory {
            scope,
            text,
            kind: MemoryKind::parse(str_field(doc, field::KIND).unwrap_or("other")),
            importance: signals_of(doc).importance,
            created_at,
            last_accessed_at: ts_field(doc, field::LAST_ACCESSED_AT),
            access_count: int_field(doc, field::ACCESS_COUNT)
                .unwrap_or(0)
                .clamp(0, i64::from(u32::MAX)) as u32,
            valid_from: ts_field(doc, field::VALID_FROM).unwrap_or(created_at),
            valid_to,
            status,
            superseded_by: str_field(doc, field::SUPERSEDED_BY).map(str::to_string),
            merged_from: match doc.get(field::MERGED_FROM) {
                Some(Value::List(l)) => l.clone(),
                _ => Vec::new(),
            },
            first_stated_at: ts_field(doc, field::FIRST_STATED_AT).unwrap_or(created_at),
            source: MemorySource {
                conversation: str_field(doc, field::SOURCE_CONVERSATION).map(str::to_string),
                turn: int_field(doc, field::SOURCE_TURN).and_then(|t| u64::try_from(t).ok()),
            },
            seq: int_field(doc, field::SEQ)
                .and_then(|s| u64::try_from(s).ok())
                .unwrap_or(0),
            metadata: match doc.get(field::META) {
                Some(Value::Map(m)) => m.clone(),
                _ => Document::new(),
            },
            vector,
            id,
        })
    }
}

/// Scoring signals straight from a stored document (no full parse: the hot path).
pub(crate) fn signals_of(doc: &Document) -> Signals {
    let importance = match doc.get(field::IMPORTANCE) {
        Some(Value::Float(f)) => *f as f32,
        Some(Value::Int(i)) => *i as f32,
        _ => 0.0,
    };
    Signals {
        importance: if importance.is_nan() {
            0.0
        } else {
            importance.clamp(0.0, 1.0)
        },
        created_at: ts_field(doc, field::CREATED_AT).unwrap_or(Timestamp::EPOCH),
        last_accessed_at: ts_field(doc, field::LAST_ACCESSED_AT),
        access_count: int_field(doc, field::ACCESS_COUNT)
            .unwrap_or(0)
            .clamp(0, i64::from(u32::MAX)) as u32,
        episodic: str_field(doc, field::KIND).is_some_and(|k| MemoryKind::parse(k).is_episodic()),
    }
}

pub(crate) fn str_field<'a>(doc: &'a Document, name: &str) -> Option<&'a str> {
    match doc.get(name) {
        Some(Value::String(s)) => Some(s),
        _ => None,
    }
}

pub(crate) fn ts_field(doc: &Document, name: &str) -> Option<Timestamp> {
    match doc.get(name) {
        Some(Value::Timestamp(t)) => Some(Timestamp(*t)),
        _ => None,
    }
}

pub(crate) fn int_field(doc: &Document, name: &str) -> Option<i64> {
    match doc.get(name) {
        Some(Value::Int(i)) => Some(*i),
        _ => None,
    }
}

pub(crate) fn ts(t: Timestamp) -> Value {
    Value::Timestamp(t.micros())
}

/// A memory to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMemory {
    /// Its scope.
    pub scope: Scope,
    /// The text (non-empty).
    pub text: String,
    /// The kind (default [`MemoryKind::Other`]).
    pub kind: MemoryKind,
    /// Importance in `[0, 1]` (default 0.5).
    pub importance: f32,
    /// When it was stated (default: the store's clock). Not in the future.
    pub created_at: Option<Timestamp>,
    /// Valid from (default `created_at`).
    pub valid_from: Option<Timestamp>,
    /// Valid until (default open).
    pub valid_to: Option<Timestamp>,
    /// A precomputed embedding (else the store's embedder embeds `text`).
    pub vector: Option<Vec<f32>>,
    /// An id of the caller's (default: generated). Unique per store.
    pub id: Option<String>,
    /// Where it came from.
    pub source: MemorySource,
    /// Free metadata.
    pub metadata: Document,
}

impl NewMemory {
    /// A memory of `scope` saying `text`.
    pub fn new(scope: Scope, text: impl Into<String>) -> Self {
        NewMemory {
            scope,
            text: text.into(),
            kind: MemoryKind::Other,
            importance: 0.5,
            created_at: None,
            valid_from: None,
            valid_to: None,
            vector: None,
            id: None,
            source: MemorySource::default(),
            metadata: Document::new(),
        }
    }

    /// With a kind.
    pub fn kind(mut self, kind: MemoryKind) -> Self {
        self.kind = kind;
        self
    }

    /// With an importance.
    pub fn importance(mut self, importance: f32) -> Self {
        self.importance = importance;
        self
    }

    /// Stated at `t`.
    pub fn at(mut self, t: Timestamp) -> Self {
        self.created_at = Some(t);
        self
    }

    /// Valid over `[from, to)` (`to = None`: open).
    pub fn valid(mut self, from: Timestamp, to: Option<Timestamp>) -> Self {
        self.valid_from = Some(from);
        self.valid_to = to;
        self
    }

    /// With a precomputed vector.
    pub fn vector(mut self, vector: Vec<f32>) -> Self {
        self.vector = Some(vector);
        self
    }

    /// With the caller's id.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// From a conversation turn.
    pub fn source(mut self, conversation: impl Into<String>, turn: Option<u64>) -> Self {
        self.source = MemorySource {
            conversation: Some(conversation.into()),
            turn,
        };
        self
    }

    /// With one free metadata field.
    pub fn meta(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.metadata.insert(key.to_string(), value.into());
        self
    }

    /// Validate everything but the vector and time (the store checks those).
    pub(crate) fn validate(&self) -> Result<()> {
        self.scope.validate()?;
        validate_text(&self.text, "memory text")?;
        validate_importance(self.importance)?;
        if let MemoryKind::Custom(k) = &self.kind
            && (k.is_empty() || k.len() > 64 || k.chars().any(char::is_control))
        {
            return Err(invalid(format!(
                "custom kind {k:?} must be 1-64 printable characters"
            )));
        }
        if let Some(id) = &self.id {
            validate_id(id)?;
        }
        if let (Some(from), Some(to)) = (self.valid_from, self.valid_to)
            && to <= from
        {
            return Err(invalid(format!(
                "valid_to {to} is not after valid_from {from}"
            )));
        }
        Ok(())
    }
}

pub(crate) fn validate_text(text: &str, what: &str) -> Result<()> {
    if text.trim().is_empty() {
        return Err(invalid(format!("{what} is empty")));
    }
    if text.len() > MAX_TEXT_BYTES {
        return Err(invalid(format!(
            "{what} is {} bytes, above the {MAX_TEXT_BYTES}-byte limit",
            text.len()
        )));
    }
    Ok(())
}

pub(crate) fn validate_importance(importance: f32) -> Result<()> {
    if importance.is_finite() && (0.0..=1.0).contains(&importance) {
        Ok(())
    } else {
        Err(invalid(format!(
            "importance {importance} is outside [0, 1]"
        )))
    }
}

pub(crate) fn validate_id(id: &str) -> Result<()> {
    if id.is_empty() || id.len() > 512 || id.chars().any(char::is_control) {
        return Err(invalid(format!(
            "memory id {id:?} must be 1-512 bytes without control characters"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_filters_and_contains() {
        let u = Scope::user("u1");
        let ua = Scope::user("u1").agent("a");
        let uas = Scope::user("u1").agent("a").session("s");
        assert!(u.contains(&uas) && ua.contains(&uas) && uas.contains(&uas));
        assert!(!ua.contains(&u) && !uas.contains(&ua));
        assert!(!u.contains(&Scope::user("u2")));
        assert_ne!(u.key(), ua.key());
        assert_ne!(
            Scope::user("a").agent("b").key(),
            Scope::user("a").session("b").key()
        );
        assert!(Scope::user("").validate().is_err());
        assert!(Scope::user("x\u{1f}y").validate().is_err());
        let mut doc = Document::new();
        uas.write_to(&mut doc);
        assert_eq!(Scope::read_from(&doc), Some(uas.clone()));
        assert!(uas.filter().matches(&doc) && u.filter().matches(&doc));
        assert!(!Scope::user("u1").agent("b").filter().matches(&doc));
    }

    #[test]
    fn new_memory_validation() {
        let ok = NewMemory::new(Scope::user("u"), "likes tea");
        assert!(ok.validate().is_ok());
        assert!(ok.clone().importance(1.5).validate().is_err());
        assert!(ok.clone().importance(f32::NAN).validate().is_err());
        assert!(NewMemory::new(Scope::user("u"), "  ").validate().is_err());
        let t = Timestamp::from_secs(10);
        assert!(ok.clone().valid(t, Some(t)).validate().is_err());
        assert!(
            ok.kind(MemoryKind::Custom(String::new()))
                .validate()
                .is_err()
        );
        assert_eq!(MemoryKind::parse("goal"), MemoryKind::Custom("goal".into()));
        assert_eq!(MemoryKind::parse("decision"), MemoryKind::Decision);
    }
}
