//! Near-duplicate grouping: which memories say the same thing.
//!
//! Two memories are duplicates when
//! 1. their cosine similarity is at least the threshold ([`DuplicateRule::threshold`],
//!    default 0.67, chosen on memeval dev: see `docs/BENCHMARKS.md`), and
//! 2. they mention the same numbers (the *number guard*): "outbound flight on July 8" and
//!    "return flight on July 22" are 0.83 similar but not the same fact, nor are
//!    "python:3.11" and "python:3.12". Numbers are digit runs with inner `.`, `:` or `,`
//!    (`3.12`, `4:30`, `1,000`), compared as sets; two texts without numbers pass.
//!
//! Groups are the connected components of the duplicate pairs (single linkage), found with
//! a union-find; they are returned in a deterministic order (by smallest member index).
use std::collections::BTreeSet;

/// When two memories count as duplicates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DuplicateRule {
    /// Minimum cosine similarity (default 0.67).
    pub threshold: f32,
    /// Require equal number sets (default `true`).
    pub number_guard: bool,
}

impl Default for DuplicateRule {
    fn default() -> Self {
        DuplicateRule {
            threshold: 0.67,
            number_guard: true,
        }
    }
}

impl DuplicateRule {
    /// Whether two texts with this similarity are duplicates.
    pub fn is_duplicate(&self, similarity: f32, a: &str, b: &str) -> bool {
        similarity >= self.threshold && (!self.number_guard || numbers(a) == numbers(b))
    }

    /// Refuse a threshold outside `(0, 1]`.
    pub fn validate(&self) -> Result<(), String> {
        if self.threshold.is_finite() && self.threshold > 0.0 && self.threshold <= 1.0 {
            Ok(())
        } else {
            Err(format!(
                "duplicate threshold {} must be in (0, 1]",
                self.threshold
            ))
        }
    }
}

/// The numbers a text mentions, normalised (`1,000` → `1000`, trailing `.` dropped).
pub fn numbers(text: &str) -> BTreeSet<String> {
    let bytes = text.as_bytes();
    let mut out = BTreeSet::new();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
            continue;
        }
        let mut tok = String::new();
        while let Some(&b) = bytes.get(i) {
            if b.is_ascii_digit() {
                tok.push(char::from(b));
                i += 1;
            } else if matches!(b, b'.' | b':' | b',')
                && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)
            {
                if b != b',' {
                    tok.push(char::from(b));
                }
                i += 1;
            } else {
                break;
            }
        }
        out.insert(tok);
    }
    out
}

/// Connected components of `edges` over `n` items, only components of ≥ 2 items, each
/// sorted, ordered by their first member.
pub fn components(n: usize, edges: impl IntoIterator<Item = (usize, usize)>) -> Vec<Vec<usize>> {
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(parent: &mut [usize], mut x: usize) -> usize {
        while let Some(&p) = parent.get(x) {
            if p == x {
                break;
            }
            let gp = parent.get(p).copied().unwrap_or(p);
            if let Some(slot) = parent.get_mut(x) {
                *slot = gp;
            }
            x = gp;
        }
        x
    }
    for (a, b) in edges {
        if a >= n || b >= n {
            continue;
        }
        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
        if ra != rb {
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            if let Some(slot) = parent.get_mut(hi) {
                *slot = lo;
            }
        }
    }
    let mut groups: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for i in 0..n {
        let r = find(&mut parent, i);
        groups.entry(r).or_default().push(i);
    }
    groups.into_values().filter(|g| g.len() > 1).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_extracted_and_normalised() {
        let n = |s: &str| numbers(s).into_iter().collect::<Vec<_>>();
        assert_eq!(n("Maya (8) and Leo (5)."), ["5", "8"]);
        assert_eq!(n("Maya, who is 8, and Leo, who is 5"), ["5", "8"]);
        assert_eq!(
            n("python:3.12-slim at 4:30 pm, 1,000 rows"),
            ["1000", "3.12", "4:30"]
        );
        assert_eq!(n("line length of 100."), ["100"]);
        assert!(n("no digits here").is_empty());
    }

    #[test]
    fn the_number_guard_keeps_look_alikes_apart() {
        let rule = DuplicateRule::default();
        assert!(!rule.is_duplicate(
            0.83,
            "User booked the outbound flight from Denver to Lisbon for July 8.",
            "User's return flight from Lisbon to Denver is on July 22."
        ));
        assert!(rule.is_duplicate(
            0.91,
            "User's wife is Priya; their kids are Maya (8) and Leo (5).",
            "User has two kids: Maya, who is 8, and Leo, who is 5; his wife's name is Priya."
        ));
        assert!(!rule.is_duplicate(0.5, "a", "a"));
        assert!(
            DuplicateRule {
                threshold: 0.0,
                number_guard: true
            }
            .validate()
            .is_err()
        );
    }

    #[test]
    fn components_are_deterministic() {
        let g = components(6, [(4, 1), (1, 2), (5, 3), (9, 0)]);
        assert_eq!(g, vec![vec![1, 2, 4], vec![3, 5]]);
        assert!(components(3, []).is_empty());
    }
}
