//! Conversation memory, the pure part: turns, the built-in turn importance heuristic, the
//! window selection and the [`Summarizer`] trait. The stored turn log is in
//! [`MemoryStore::append_turn`](crate::MemoryStore::append_turn) and the `session` module.
//!
//! **Window** = the last `K` turns + the `N` most important older turns, in original order
//! ([`select_window`]). A decision made early ("I decide to use PostgreSQL") survives any
//! amount of recent chatter ("sounds good", "what's next?") because chatter scores low.
use std::fmt;

use crate::time::Timestamp;

/// Who spoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// The end user.
    User,
    /// The assistant.
    Assistant,
    /// A system prompt or instruction.
    System,
    /// A tool result.
    Tool,
}

impl Role {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::System => "system",
            Role::Tool => "tool",
        }
    }

    /// Parse a stored name.
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "user" => Role::User,
            "assistant" => Role::Assistant,
            "system" => Role::System,
            "tool" => Role::Tool,
            _ => return None,
        })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One turn of a conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    /// Position in the session (0, 1, 2, ...).
    pub seq: u64,
    /// Who spoke.
    pub role: Role,
    /// What was said.
    pub content: String,
    /// When.
    pub at: Timestamp,
    /// Importance in `[0, 1]` (the caller's, or [`turn_importance`]).
    pub importance: f32,
}

const DECISION_MARKERS: &[&str] = &[
    "decide",
    "decided",
    "decision",
    "let's use",
    "we'll use",
    "we will use",
    "going with",
    "go with",
    "switch to",
    "switched to",
    "instead",
    "prefer",
    "always",
    "never",
    "must",
    "don't ever",
    "do not",
    "require",
    "deadline",
    "allergic",
    "allergy",
    "remember",
    "important",
    "my name is",
    "i am",
    "i'm ",
    "i live",
    "i work",
    "we're building",
    "building",
    "use ",
    "chose",
    "choose",
];

const CHATTER: &[&str] = &[
    "ok",
    "okay",
    "k",
    "thanks",
    "thank you",
    "thx",
    "cheers",
    "sounds good",
    "great",
    "cool",
    "nice",
    "got it",
    "sure",
    "yes",
    "no",
    "yep",
    "nope",
    "what's next?",
    "what's next",
    "what next",
    "lol",
    "hi",
    "hello",
    "bye",
    "good choice",
];

/// The built-in importance of a turn, in `[0, 1]`: a base per role (user 0.3, system 0.5,
/// tool 0.2, assistant 0.15), +0.35 for decision/preference/constraint wording ("decide",
/// "prefer", "always", "never", "must", "switch to", "deadline", "allergic", ...), +0.1 for a
/// number, +0.1 for a proper noun or technical name inside the sentence (`PostgreSQL`,
/// `API`), −0.15 for chatter (acknowledgements, ≤ 2 words).
pub fn turn_importance(role: Role, content: &str) -> f32 {
    let text = content.trim();
    let lower = text.to_lowercase();
    let mut score: f32 = match role {
        Role::User => 0.3,
        Role::System => 0.5,
        Role::Tool => 0.2,
        Role::Assistant => 0.15,
    };
    let padded = format!(" {lower} ");
    if DECISION_MARKERS
        .iter()
        .any(|m| padded.contains(&format!(" {m}")))
    {
        score += 0.35;
    }
    if text.bytes().any(|b| b.is_ascii_digit()) {
        score += 0.1;
    }
    let has_name = text.split_whitespace().skip(1).any(|w| {
        w.chars().next().is_some_and(char::is_uppercase) && w != "I" && !w.starts_with("I'")
    });
    if has_name {
        score += 0.1;
    }
    let bare = lower.trim_end_matches(['!', '.', '?', ' ']);
    let words = text.split_whitespace().count();
    if words <= 2
        || CHATTER
            .iter()
            .any(|c| bare == *c || bare.starts_with(&format!("{c}!")))
        || CHATTER
            .iter()
            .any(|c| lower.starts_with(c) && words <= 5 && !has_name)
    {
        score -= 0.15;
    }
    score.clamp(0.0, 1.0)
}

/// Indices of the window over turns with these importances: the last `last_k` turns plus the
/// `important_n` most important older ones (ties: the more recent), in original order.
pub fn select_window(importances: &[f32], last_k: usize, important_n: usize) -> Vec<usize> {
    let n = importances.len();
    let recent_start = n.saturating_sub(last_k);
    let mut older: Vec<usize> = (0..recent_start).collect();
    older.sort_by(|&a, &b| {
        let ia = importances.get(a).copied().unwrap_or(0.0);
        let ib = importances.get(b).copied().unwrap_or(0.0);
        ib.total_cmp(&ia).then(b.cmp(&a))
    });
    older.truncate(important_n);
    older.sort_unstable();
    older.extend(recent_start..n);
    older
}

/// Writes a session's running summary (an LLM call in practice; any function in tests).
pub trait Summarizer {
    /// The new summary from the previous one (`None` at first) and the turns that have left
    /// the window since it was written, oldest first.
    fn summarize(&self, previous: Option<&str>, turns: &[Turn]) -> Result<String, String>;
}

impl<F> Summarizer for F
where
    F: Fn(Option<&str>, &[Turn]) -> Result<String, String>,
{
    fn summarize(&self, previous: Option<&str>, turns: &[Turn]) -> Result<String, String> {
        self(previous, turns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heuristic_ranks_decisions_above_chatter() {
        let decision = turn_importance(Role::User, "I decide to use PostgreSQL for the database");
        for chatter in ["sounds good", "What's next?", "ok", "Thanks!"] {
            let c =
                turn_importance(Role::User, chatter).max(turn_importance(Role::Assistant, chatter));
            assert!(decision > c + 0.3, "{chatter}: {c} vs {decision}");
        }
        assert!(turn_importance(Role::User, "") >= 0.0);
        assert!(
            turn_importance(
                Role::System,
                "You are helpful. ALWAYS answer in English 100%"
            ) <= 1.0
        );
    }

    #[test]
    fn window_keeps_recent_and_important_in_order() {
        let imp = [0.9, 0.1, 0.2, 0.1, 0.5, 0.1, 0.1];
        assert_eq!(select_window(&imp, 3, 1), vec![0, 4, 5, 6]);
        assert_eq!(select_window(&imp, 3, 2), vec![0, 2, 4, 5, 6]);
        assert_eq!(select_window(&imp, 10, 2), (0..7).collect::<Vec<_>>());
        assert_eq!(select_window(&imp, 0, 0), Vec::<usize>::new());
        assert_eq!(select_window(&[], 3, 3), Vec::<usize>::new());
        // Ties go to the more recent turn.
        assert_eq!(select_window(&[0.5, 0.5, 0.1], 1, 1), vec![1, 2]);
    }
}
