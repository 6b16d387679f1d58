//! Token-budgeted context assembly: facts → long-term memories → conversation window →
//! current message, each part with a share of the budget, never over budget, deterministic.
//!
//! 1. The current message is placed first (it is what the model must answer); if it alone
//!    exceeds the budget it is cut to the words that fit and flagged
//!    [`Context::message_truncated`].
//! 2. The rest of the budget is split by [`ContextShares`] (default facts 20 %, memories 40 %,
//!    conversation 40 %). Facts and memories are taken in the given (ranked) order; the
//!    conversation from the newest turn backwards and shown in original order. An item that
//!    does not fit is skipped (a smaller later one may still fit). A part's unused share goes
//!    to the next part, and what is left after all three is offered again in the same order.
//! 3. The rendered text is measured with the estimator; while it is over budget (possible with
//!    an estimator that is not additive) the lowest-priority item is dropped. So the result
//!    is never over budget, for any estimator that gives 0 for the empty text.
use crate::conversation::Role;

/// Estimates how many tokens a text costs.
pub trait TokenEstimator: Send + Sync {
    /// Tokens of `text` (0 for the empty text).
    fn estimate(&self, text: &str) -> usize;
}

/// `ceil(words × per_word)`; 1.3 tokens per word by default (English with a BPE tokenizer).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WordEstimator {
    /// Tokens per whitespace-separated word.
    pub per_word: f64,
}

impl Default for WordEstimator {
    fn default() -> Self {
        WordEstimator { per_word: 1.3 }
    }
}

impl TokenEstimator for WordEstimator {
    fn estimate(&self, text: &str) -> usize {
        let words = text.split_whitespace().count();
        (words as f64 * self.per_word).ceil() as usize
    }
}

impl<F: Fn(&str) -> usize + Send + Sync> TokenEstimator for F {
    fn estimate(&self, text: &str) -> usize {
        self(text)
    }
}

/// How the budget left after the message is split (weights; normalised).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContextShares {
    /// Entity facts.
    pub facts: f64,
    /// Long-term memories.
    pub memories: f64,
    /// The conversation window.
    pub conversation: f64,
}

impl Default for ContextShares {
    fn default() -> Self {
        ContextShares {
            facts: 0.2,
            memories: 0.4,
            conversation: 0.4,
        }
    }
}

/// What goes into a context.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ContextInput {
    /// Facts, most important first, one line each (`ledgerly.database: MySQL`); a session's
    /// summary and pinned facts go first.
    pub facts: Vec<String>,
    /// Long-term memories, best first.
    pub memories: Vec<String>,
    /// The conversation window, oldest first.
    pub turns: Vec<(Role, String)>,
    /// The current message.
    pub message: String,
}

/// An assembled context.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Context {
    /// Facts included, in input order.
    pub facts: Vec<String>,
    /// Memories included, in input order.
    pub memories: Vec<String>,
    /// Turns included, in original order.
    pub turns: Vec<(Role, String)>,
    /// The current message (possibly truncated).
    pub message: String,
    /// The message was cut to fit.
    pub message_truncated: bool,
    /// Items left out (facts, memories, turns).
    pub dropped: (usize, usize, usize),
    /// Estimated tokens of [`Context::render`].
    pub tokens: usize,
    /// The budget.
    pub budget: usize,
}

const FACTS_HEADER: &str = "Known facts:";
const MEMORIES_HEADER: &str = "Relevant memories:";
const CONVERSATION_HEADER: &str = "Conversation:";
const MESSAGE_HEADER: &str = "Current message:";

impl Context {
    /// The prompt text: one section per non-empty part, in the fixed order.
    pub fn render(&self) -> String {
        render_parts(&self.facts, &self.memories, &self.turns, &self.message)
    }
}

fn fact_line(f: &str) -> String {
    format!("- {f}")
}
fn turn_line(role: Role, text: &str) -> String {
    format!("{role}: {text}")
}

fn render_parts(
    facts: &[String],
    memories: &[String],
    turns: &[(Role, String)],
    message: &str,
) -> String {
    let mut out = String::new();
    let mut section = |header: &str, lines: Vec<String>| {
        if lines.is_empty() {
            return;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(header);
        for l in lines {
            out.push('\n');
            out.push_str(&l);
        }
        out.push('\n');
    };
    section(FACTS_HEADER, facts.iter().map(|f| fact_line(f)).collect());
    section(
        MEMORIES_HEADER,
        memories.iter().map(|m| fact_line(m)).collect(),
    );
    section(
        CONVERSATION_HEADER,
        turns.iter().map(|(r, t)| turn_line(*r, t)).collect(),
    );
    if !message.is_empty() {
        section(MESSAGE_HEADER, vec![turn_line(Role::User, message)]);
    }
    out
}

/// Greedily take items (in `order`) whose cost fits `budget`; returns taken indices and spend.
fn take(
    costs: &[usize],
    order: impl Iterator<Item = usize>,
    header: usize,
    budget: usize,
    taken: &mut [bool],
) -> usize {
    let mut spent: usize = 0;
    let mut any = taken.iter().any(|&t| t);
    for i in order {
        if taken.get(i).copied().unwrap_or(true) {
            continue;
        }
        let cost = costs.get(i).copied().unwrap_or(usize::MAX);
        let extra = if any { 0 } else { header };
        if spent.saturating_add(cost).saturating_add(extra) <= budget {
            spent += cost + extra;
            any = true;
            if let Some(t) = taken.get_mut(i) {
                *t = true;
            }
        }
    }
    spent
}

/// Assemble a context of at most `budget` tokens (see the module docs).
pub fn assemble(
    input: &ContextInput,
    budget: usize,
    shares: &ContextShares,
    estimator: &dyn TokenEstimator,
) -> Context {
    let est = |s: &str| estimator.estimate(s);
    // 1. The message.
    let mut message = input.message.trim().to_string();
    let mut truncated = false;
    let message_cost = |m: &str| {
        if m.is_empty() {
            0
        } else {
            est(MESSAGE_HEADER) + est(&turn_line(Role::User, m))
        }
    };
    if message_cost(&message) > budget {
        truncated = true;
        let words: Vec<&str> = message.split_whitespace().collect();
        // Largest prefix of words that fits (binary search on the word count).
        let (mut lo, mut hi) = (0usize, words.len());
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            if message_cost(&words[..mid].join(" ")) <= budget {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        message = words.get(..lo).map(|w| w.join(" ")).unwrap_or_default();
    }
    let rest = budget.saturating_sub(message_cost(&message));

    // 2. Shares.
    let fact_costs: Vec<usize> = input.facts.iter().map(|f| est(&fact_line(f))).collect();
    let mem_costs: Vec<usize> = input.memories.iter().map(|m| est(&fact_line(m))).collect();
    let turn_costs: Vec<usize> = input
        .turns
        .iter()
        .map(|(r, t)| est(&turn_line(*r, t)))
        .collect();
    let total_w = (shares.facts.max(0.0) + shares.memories.max(0.0) + shares.conversation.max(0.0))
        .max(f64::MIN_POSITIVE);
    let share = |w: f64| ((rest as f64) * w.max(0.0) / total_w).floor() as usize;
    let mut tf = vec![false; input.facts.len()];
    let mut tm = vec![false; input.memories.len()];
    let mut tt = vec![false; input.turns.len()];
    let (hf, hm, ht) = (
        est(FACTS_HEADER),
        est(MEMORIES_HEADER),
        est(CONVERSATION_HEADER),
    );
    let n_turns = input.turns.len();
    let mut left = rest;
    let mut carry = 0usize;
    for part in 0..3 {
        let b = match part {
            0 => share(shares.facts),
            1 => share(shares.memories),
            _ => share(shares.conversation),
        }
        .saturating_add(carry)
        .min(left);
        let spent = match part {
            0 => take(&fact_costs, 0..tf.len(), hf, b, &mut tf),
            1 => take(&mem_costs, 0..tm.len(), hm, b, &mut tm),
            _ => take(&turn_costs, (0..n_turns).rev(), ht, b, &mut tt),
        };
        left -= spent;
        carry = b - spent;
    }
    // Leftover, offered again in priority order.
    left -= take(&fact_costs, 0..tf.len(), hf, left, &mut tf);
    left -= take(&mem_costs, 0..tm.len(), hm, left, &mut tm);
    let _ = take(&turn_costs, (0..n_turns).rev(), ht, left, &mut tt);

    let pick = |taken: &[bool], items: &[String]| -> Vec<String> {
        items
            .iter()
            .zip(taken)
            .filter(|(_, t)| **t)
            .map(|(s, _)| s.clone())
            .collect()
    };
    let mut facts = pick(&tf, &input.facts);
    let mut memories = pick(&tm, &input.memories);
    let mut turns: Vec<(Role, String)> = input
        .turns
        .iter()
        .zip(&tt)
        .filter(|(_, t)| **t)
        .map(|(x, _)| x.clone())
        .collect();

    // 3. Verify on the rendered text; drop lowest priority first while over budget.
    loop {
        let tokens = est(&render_parts(&facts, &memories, &turns, &message));
        if tokens <= budget {
            return Context {
                dropped: (
                    input.facts.len() - facts.len(),
                    input.memories.len() - memories.len(),
                    input.turns.len() - turns.len(),
                ),
                facts,
                memories,
                turns,
                message,
                message_truncated: truncated,
                tokens,
                budget,
            };
        }
        if !turns.is_empty() {
            turns.remove(0);
        } else if memories.pop().is_some() || facts.pop().is_some() {
        } else if !message.is_empty() {
            truncated = true;
            let mut words: Vec<&str> = message.split_whitespace().collect();
            words.pop();
            message = words.join(" ");
        } else {
            // Nothing left: the estimator charges for the empty text.
            return Context {
                budget,
                tokens,
                message_truncated: truncated,
                dropped: (input.facts.len(), input.memories.len(), input.turns.len()),
                ..Context::default()
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn input() -> ContextInput {
        ContextInput {
            facts: vec![
                "ledgerly.database: MySQL".into(),
                "user.editor: VS Code".into(),
            ],
            memories: vec![
                "User prefers pytest with verbose output and coverage reports".into(),
                "Ledgerly stores its data in MySQL 8".into(),
            ],
            turns: vec![
                (
                    Role::User,
                    "I decide to use PostgreSQL for the database".into(),
                ),
                (Role::Assistant, "Good choice".into()),
                (Role::User, "Add error handling too".into()),
            ],
            message: "How should I set up tests?".into(),
        }
    }

    #[test]
    fn generous_budget_takes_everything_in_order() {
        let est = WordEstimator::default();
        let c = assemble(&input(), 1_000, &ContextShares::default(), &est);
        assert_eq!(c.dropped, (0, 0, 0));
        assert!(!c.message_truncated);
        let text = c.render();
        let f = text.find("Known facts:").unwrap_or(usize::MAX);
        let m = text.find("Relevant memories:").unwrap_or(usize::MAX);
        let v = text.find("Conversation:").unwrap_or(usize::MAX);
        let q = text.find("Current message:").unwrap_or(usize::MAX);
        assert!(f < m && m < v && v < q && q < text.len(), "{text}");
        assert_eq!(c.tokens, est.estimate(&text));
    }

    #[test]
    fn tight_budget_keeps_the_message_and_newest_turns() {
        let est = WordEstimator::default();
        let c = assemble(&input(), 30, &ContextShares::default(), &est);
        assert!(c.tokens <= 30);
        assert_eq!(c.message, "How should I set up tests?");
        if let Some(last) = c.turns.last() {
            assert_eq!(last.1, "Add error handling too");
        }
        let tiny = assemble(&input(), 3, &ContextShares::default(), &est);
        assert!(tiny.tokens <= 3 && tiny.message_truncated);
        let zero = assemble(&input(), 0, &ContextShares::default(), &est);
        assert_eq!((zero.tokens, zero.render()), (0, String::new()));
    }

    #[test]
    fn a_non_additive_estimator_is_still_respected() {
        // Charges per character of the whole text plus a constant: not additive over parts.
        let est = |s: &str| if s.is_empty() { 0 } else { s.len() / 3 + 7 };
        for budget in [0, 10, 25, 50, 80, 200] {
            let c = assemble(&input(), budget, &ContextShares::default(), &est);
            assert!(
                est(&c.render()) <= budget,
                "budget {budget}: {}",
                est(&c.render())
            );
        }
    }

    fn text() -> impl Strategy<Value = String> {
        proptest::collection::vec("[a-z]{1,12}", 0..30).prop_map(|w| w.join(" "))
    }

    proptest! {
        #[test]
        fn never_over_budget_and_deterministic(
            facts in proptest::collection::vec(text(), 0..8),
            memories in proptest::collection::vec(text(), 0..8),
            turns in proptest::collection::vec((any::<bool>(), text()), 0..12),
            message in text(),
            budget in 0usize..400,
            sf in 0.0f64..1.0, sm in 0.0f64..1.0, sc in 0.0f64..1.0,
            per_word in 0.5f64..3.0,
        ) {
            let input = ContextInput {
                facts, memories,
                turns: turns.into_iter().map(|(u, t)| (if u { Role::User } else { Role::Assistant }, t)).collect(),
                message,
            };
            let shares = ContextShares { facts: sf, memories: sm, conversation: sc };
            let est = WordEstimator { per_word };
            let a = assemble(&input, budget, &shares, &est);
            prop_assert!(est.estimate(&a.render()) <= budget);
            prop_assert_eq!(a.tokens, est.estimate(&a.render()));
            let b = assemble(&input, budget, &shares, &est);
            prop_assert_eq!(a, b);
        }
    }
}
