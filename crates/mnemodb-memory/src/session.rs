//! Conversation memory, stored: a per-session turn log, the running summary and pinned
//! facts, and [`MemoryStore::build_context`], which assembles facts, recalled memories,
//! the window and the current message under a token budget.
//!
//! A session is a [`Scope`] with a session id. Turns are documents in `<ns>.turns` (id
//! `<scope key>#<seq>`); the session's state (turn count, summary, how far the summary
//! reaches, pinned facts) is one document in `<ns>.sessions`. Appending a turn writes both in
//! one batch.
use mnemodb::{Document, ExternalId, Filter, Record, Value, WriteBatch};

use crate::context::{
    Context, ContextInput, ContextShares, TokenEstimator, WordEstimator, assemble,
};
use crate::conversation::{Role, Summarizer, Turn, select_window, turn_importance};
use crate::embedder::QueryInput;
use crate::error::{Error, Result, invalid};
use crate::recall::RecallRequest;
use crate::record::{
    Scope, field, int_field, str_field, ts, ts_field, validate_importance, validate_text,
};
use crate::store::MemoryStore;
use crate::time::Timestamp;

/// A session's stored state.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SessionState {
    /// Turns appended so far.
    pub turns: u64,
    /// The running summary.
    pub summary: Option<String>,
    /// Turns with `seq <` this are covered by the summary.
    pub summarized_upto: u64,
    /// Pinned facts, in pin order.
    pub pinned: Vec<String>,
}

/// A conversation window with the session's summary and pinned facts.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Window {
    /// The selected turns, in original order.
    pub turns: Vec<Turn>,
    /// The running summary.
    pub summary: Option<String>,
    /// Pinned facts.
    pub pinned: Vec<String>,
}

/// Window sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowSpec {
    /// The last K turns (default 6).
    pub last_k: usize,
    /// Plus the N most important older ones (default 4).
    pub important_n: usize,
}

impl Default for WindowSpec {
    fn default() -> Self {
        WindowSpec {
            last_k: 6,
            important_n: 4,
        }
    }
}

fn session_scope(scope: &Scope) -> Result<String> {
    scope.validate()?;
    if scope.session.is_none() {
        return Err(invalid(format!(
            "{scope} names no session: conversation memory needs a session id"
        )));
    }
    Ok(scope.key())
}

fn turn_id(key: &str, seq: u64) -> String {
    format!("{key}#{seq:012}")
}

impl MemoryStore {
    /// Append a turn (importance: the caller's, else [`turn_importance`]); returns it.
    pub fn append_turn(
        &self,
        scope: &Scope,
        role: Role,
        content: &str,
        at: Option<Timestamp>,
        importance: Option<f32>,
    ) -> Result<Turn> {
        let key = session_scope(scope)?;
        validate_text(content, "turn content")?;
        if let Some(i) = importance {
            validate_importance(i)?;
        }
        let at = at.unwrap_or_else(|| self.now());
        self.check_not_future(at, "turn time")?;
        let _writer = self.writer.lock();
        let state = self.session_state(scope)?;
        let turn = Turn {
            seq: state.turns,
            role,
            content: content.to_string(),
            at,
            importance: importance.unwrap_or_else(|| turn_importance(role, content)),
        };
        let mut doc = Document::new();
        scope.write_to(&mut doc);
        doc.insert(
            field::SEQ.into(),
            Value::Int(i64::try_from(turn.seq).unwrap_or(i64::MAX)),
        );
        doc.insert("role".into(), role.as_str().into());
        doc.insert("content".into(), content.into());
        doc.insert("at".into(), ts(at));
        doc.insert(
            field::IMPORTANCE.into(),
            Value::Float(f64::from(turn.importance)),
        );
        let mut batch = WriteBatch::new();
        batch.upsert(
            self.cols.turns.name(),
            Record::document(turn_id(&key, turn.seq), doc),
        );
        let mut next = state;
        next.turns += 1;
        batch.upsert(
            self.cols.sessions.name(),
            session_record(&key, scope, &next),
        );
        self.db.write(batch)?;
        Ok(turn)
    }

    /// Every turn of a session, in order.
    pub fn turns(&self, scope: &Scope) -> Result<Vec<Turn>> {
        let key = session_scope(scope)?;
        let f = Filter::And(vec![
            scope.filter(),
            Filter::Eq(field::SCOPE.into(), Value::from(key.as_str())),
        ]);
        let mut out = Vec::new();
        for e in self.cols.turns.scan(Some(&f), false)? {
            let d = &e.metadata;
            let bad = || Error::Malformed {
                collection: self.cols.turns.name().to_string(),
                id: crate::store::external_id_string(&e.id),
                what: "not a turn record".into(),
            };
            out.push(Turn {
                seq: int_field(d, field::SEQ)
                    .and_then(|s| u64::try_from(s).ok())
                    .ok_or_else(bad)?,
                role: str_field(d, "role").and_then(Role::parse).ok_or_else(bad)?,
                content: str_field(d, "content").ok_or_else(bad)?.to_string(),
                at: ts_field(d, "at").ok_or_else(bad)?,
                importance: match d.get(field::IMPORTANCE) {
                    Some(Value::Float(f)) => *f as f32,
                    _ => 0.0,
                },
            });
        }
        out.sort_by_key(|t| t.seq);
        Ok(out)
    }

    /// The session's stored state (default when the session is unknown).
    pub fn session_state(&self, scope: &Scope) -> Result<SessionState> {
        let key = session_scope(scope)?;
        let Some(e) = self.cols.sessions.get(&ExternalId::from(key.as_str()))? else {
            return Ok(SessionState::default());
        };
        let d = &e.metadata;
        Ok(SessionState {
            turns: int_field(d, "turns")
                .and_then(|t| u64::try_from(t).ok())
                .unwrap_or(0),
            summary: str_field(d, "summary").map(str::to_string),
            summarized_upto: int_field(d, "summarized_upto")
                .and_then(|t| u64::try_from(t).ok())
                .unwrap_or(0),
            pinned: match d.get("pinned") {
                Some(Value::List(l)) => l.clone(),
                _ => Vec::new(),
            },
        })
    }

    /// The window: last K turns + N most important older ones, in order, with the summary
    /// and pinned facts.
    pub fn window(&self, scope: &Scope, spec: WindowSpec) -> Result<Window> {
        let turns = self.turns(scope)?;
        let state = self.session_state(scope)?;
        let imp: Vec<f32> = turns.iter().map(|t| t.importance).collect();
        let picked = select_window(&imp, spec.last_k, spec.important_n);
        Ok(Window {
            turns: picked
                .into_iter()
                .filter_map(|i| turns.get(i).cloned())
                .collect(),
            summary: state.summary,
            pinned: state.pinned,
        })
    }

    /// Fold the turns that have left the recent part of the window (older than the last
    /// `last_k`) and are not yet summarised into the running summary; returns the summary.
    pub fn update_summary(
        &self,
        scope: &Scope,
        summarizer: &dyn Summarizer,
        last_k: usize,
    ) -> Result<Option<String>> {
        let key = session_scope(scope)?;
        let turns = self.turns(scope)?;
        let _writer = self.writer.lock();
        let mut state = self.session_state(scope)?;
        let cut = (turns.len().saturating_sub(last_k)) as u64;
        if cut <= state.summarized_upto {
            return Ok(state.summary);
        }
        let fresh: Vec<Turn> = turns
            .into_iter()
            .filter(|t| t.seq >= state.summarized_upto && t.seq < cut)
            .collect();
        let summary = summarizer
            .summarize(state.summary.as_deref(), &fresh)
            .map_err(|e| invalid(format!("summarizer failed: {e}")))?;
        validate_text(&summary, "summary")?;
        state.summary = Some(summary);
        state.summarized_upto = cut;
        let mut batch = WriteBatch::new();
        batch.upsert(
            self.cols.sessions.name(),
            session_record(&key, scope, &state),
        );
        self.db.write(batch)?;
        Ok(state.summary)
    }

    /// Pin a fact to the session (kept in every context; no duplicates).
    pub fn pin(&self, scope: &Scope, fact: &str) -> Result<()> {
        validate_text(fact, "pinned fact")?;
        self.edit_pins(scope, |p| {
            if !p.iter().any(|x| x == fact) {
                p.push(fact.to_string());
            }
        })
    }

    /// Unpin a fact.
    pub fn unpin(&self, scope: &Scope, fact: &str) -> Result<()> {
        self.edit_pins(scope, |p| p.retain(|x| x != fact))
    }

    fn edit_pins(&self, scope: &Scope, f: impl FnOnce(&mut Vec<String>)) -> Result<()> {
        let key = session_scope(scope)?;
        let _writer = self.writer.lock();
        let mut state = self.session_state(scope)?;
        f(&mut state.pinned);
        let mut batch = WriteBatch::new();
        batch.upsert(
            self.cols.sessions.name(),
            session_record(&key, scope, &state),
        );
        self.db.write(batch)?;
        Ok(())
    }

    /// Assemble the context for the current message of a session (see [`ContextRequest`]).
    pub fn build_context(&self, req: &ContextRequest<'_>) -> Result<Context> {
        let window = self.window(&req.scope, req.window)?;
        let user_scope = Scope {
            user: req.scope.user.clone(),
            agent: req.scope.agent.clone(),
            session: None,
        };
        let mut facts: Vec<String> = Vec::new();
        if let Some(s) = &window.summary {
            facts.push(format!("Summary so far: {s}"));
        }
        facts.extend(window.pinned.iter().cloned());
        if req.facts_k > 0 {
            let text = req
                .query
                .as_ref()
                .and_then(|q| q.text().map(str::to_string))
                .unwrap_or_else(|| req.message.clone());
            facts.extend(
                self.relevant_facts(&user_scope, &text, req.facts_k)?
                    .into_iter()
                    .map(|(f, _)| f.line()),
            );
        }
        let mut memories = Vec::new();
        if req.memories_k > 0 {
            let query = req
                .query
                .clone()
                .unwrap_or_else(|| QueryInput::Text(req.message.clone()));
            let mut r = RecallRequest::new(user_scope, query).k(req.memories_k);
            r.now = req.now;
            for hit in self.recall(&r)?.hits {
                memories.push(hit.memory.text);
            }
        }
        let input = ContextInput {
            facts,
            memories,
            turns: window
                .turns
                .into_iter()
                .map(|t| (t.role, t.content))
                .collect(),
            message: req.message.clone(),
        };
        let default = WordEstimator::default();
        let est: &dyn TokenEstimator = req.estimator.unwrap_or(&default);
        Ok(assemble(&input, req.budget, &req.shares, est))
    }
}

/// What [`MemoryStore::build_context`] assembles.
pub struct ContextRequest<'a> {
    /// The session (a scope with a session id); memories and facts come from its user (and
    /// agent) scope.
    pub scope: Scope,
    /// The current message.
    pub message: String,
    /// The query for memories and facts (default: the message's text, embedded).
    pub query: Option<QueryInput>,
    /// Token budget.
    pub budget: usize,
    /// Shares of the budget.
    pub shares: ContextShares,
    /// Memories recalled (default 8).
    pub memories_k: usize,
    /// Facts matched (default 8).
    pub facts_k: usize,
    /// The window.
    pub window: WindowSpec,
    /// Token estimator (default [`WordEstimator`]).
    pub estimator: Option<&'a dyn TokenEstimator>,
    /// Time of the recall (default: the store's clock).
    pub now: Option<Timestamp>,
}

impl std::fmt::Debug for ContextRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContextRequest")
            .field("scope", &self.scope)
            .field("message", &self.message)
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

impl<'a> ContextRequest<'a> {
    /// A request for `message` in session `scope` under `budget` tokens.
    pub fn new(scope: Scope, message: impl Into<String>, budget: usize) -> Self {
        ContextRequest {
            scope,
            message: message.into(),
            query: None,
            budget,
            shares: ContextShares::default(),
            memories_k: 8,
            facts_k: 8,
            window: WindowSpec::default(),
            estimator: None,
            now: None,
        }
    }
}

fn session_record(key: &str, scope: &Scope, s: &SessionState) -> Record {
    let mut doc = Document::new();
    scope.write_to(&mut doc);
    doc.insert(
        "turns".into(),
        Value::Int(i64::try_from(s.turns).unwrap_or(i64::MAX)),
    );
    if let Some(sum) = &s.summary {
        doc.insert("summary".into(), sum.as_str().into());
    }
    doc.insert(
        "summarized_upto".into(),
        Value::Int(i64::try_from(s.summarized_upto).unwrap_or(i64::MAX)),
    );
    doc.insert("pinned".into(), Value::List(s.pinned.clone()));
    Record::document(key, doc)
}
