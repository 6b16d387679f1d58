//! Lexical matching of facts to a query: shared words (lowercased, light stemming, stop
//! words removed), each weighted by its inverse document frequency among the candidate
//! facts; a word of the entity or the attribute counts double (the question usually names
//! what it is about: "Which *database* does *Ledgerly* run on?").
use std::collections::{BTreeSet, HashMap};

use crate::facts::Fact;

const STOP: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "do", "does", "did", "for", "from", "has",
    "have", "how", "i", "in", "is", "it", "its", "me", "my", "of", "on", "or", "our", "so", "that",
    "the", "their", "this", "to", "was", "we", "what", "when", "where", "which", "who", "why",
    "will", "with", "you", "your", "now", "these", "days", "use", "using", "run", "runs",
];

/// Lowercased word stems of `text` without stop words.
pub fn terms(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .filter(|w| !STOP.contains(&w.as_str()))
        .map(|w| stem(&w))
        .collect()
}

fn stem(w: &str) -> String {
    for suffix in ["ing", "ies", "es", "ed", "s"] {
        if let Some(base) = w.strip_suffix(suffix)
            && base.chars().count() >= 3
        {
            return if suffix == "ies" {
                format!("{base}y")
            } else {
                base.to_string()
            };
        }
    }
    w.to_string()
}

/// The `k` facts sharing the most (weighted) words with `query`, best first; ties by
/// entity and attribute.
pub fn rank(facts: &[Fact], query: &str, k: usize) -> Vec<(Fact, f64)> {
    let q = terms(query);
    if q.is_empty() || facts.is_empty() || k == 0 {
        return Vec::new();
    }
    let docs: Vec<(BTreeSet<String>, BTreeSet<String>)> = facts
        .iter()
        .map(|f| {
            let key = terms(&format!("{} {}", f.entity, f.attribute.replace('_', " ")));
            let value = terms(&f.value);
            (key, value)
        })
        .collect();
    let mut df: HashMap<&str, usize> = HashMap::new();
    for (key, value) in &docs {
        for t in key.union(value) {
            *df.entry(t.as_str()).or_default() += 1;
        }
    }
    let n = facts.len() as f64;
    let mut scored: Vec<(f64, usize)> = docs
        .iter()
        .enumerate()
        .filter_map(|(i, (key, value))| {
            let mut s = 0.0;
            for t in &q {
                let idf = (1.0 + n / df.get(t.as_str()).copied().unwrap_or(1) as f64).ln();
                if key.contains(t) {
                    s += 2.0 * idf;
                } else if value.contains(t) {
                    s += idf;
                }
            }
            (s > 0.0).then_some((s, i))
        })
        .collect();
    scored.sort_by(|a, b| {
        b.0.total_cmp(&a.0).then_with(|| {
            let (fa, fb) = (&facts[a.1], &facts[b.1]);
            (&fa.entity, &fa.attribute).cmp(&(&fb.entity, &fb.attribute))
        })
    });
    scored
        .into_iter()
        .take(k)
        .filter_map(|(s, i)| facts.get(i).map(|f| (f.clone(), s)))
        .collect()
}

/// The facts a question asks about: it names the fact's entity (any entity word; the
/// `user` entity is the speaker, always named) and a word of its attribute. "What are we
/// using for global *state* in *Atlas*?" asks about `atlas.state_management`.
pub fn asked_about<'a>(facts: &'a [Fact], query: &str) -> Vec<&'a Fact> {
    let q = terms(query);
    if q.is_empty() {
        return Vec::new();
    }
    facts
        .iter()
        .filter(|f| {
            let names_entity = f.entity == "user" || !terms(&f.entity).is_disjoint(&q);
            names_entity && !terms(&f.attribute.replace('_', " ")).is_disjoint(&q)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Scope;
    use crate::time::Timestamp;

    fn fact(entity: &str, attribute: &str, value: &str) -> Fact {
        Fact {
            scope: Scope::user("u"),
            entity: entity.into(),
            attribute: attribute.into(),
            value: value.into(),
            since: Timestamp::EPOCH,
            stated_at: Timestamp::EPOCH,
            source_memory: None,
            statements: 1,
        }
    }

    #[test]
    fn the_question_finds_its_fact() {
        let facts = vec![
            fact("ledgerly", "database", "MySQL"),
            fact("ledgerly", "ci", "GitLab CI"),
            fact("user", "editor", "VS Code"),
            fact("maya", "piano_lesson", "Wednesday 5:00 pm"),
        ];
        let r = rank(&facts, "Which database does Ledgerly run on?", 2);
        assert_eq!(
            r.first().map(|(f, _)| f.attribute.as_str()),
            Some("database")
        );
        let r = rank(&facts, "When is Maya's piano lesson?", 1);
        assert_eq!(r.first().map(|(f, _)| f.entity.as_str()), Some("maya"));
        assert!(rank(&facts, "the of and", 3).is_empty());
        let asked = |q: &str| -> Vec<String> {
            asked_about(&facts, q)
                .iter()
                .map(|f| format!("{}.{}", f.entity, f.attribute))
                .collect()
        };
        assert_eq!(
            asked("Which database does Ledgerly run on?"),
            ["ledgerly.database"]
        );
        assert_eq!(asked("Which editor do I use?"), ["user.editor"]);
        // The attribute without its entity, or the entity without an attribute word: no.
        assert!(asked("Which database does Atlas use?").is_empty());
        assert!(asked("Tell me about Ledgerly").is_empty());
        assert_eq!(stem("lessons"), "lesson");
        assert_eq!(stem("libraries"), "library");
    }
}
