//! Fact-grounded recall: a question about an entity's attribute ("What are we using for
//! global state in Atlas?") should find the memory that stated the attribute's current
//! value ("The team replaced Redux Toolkit with Zustand in Atlas"), even when the
//! embedding finds that sentence only moderately similar to the question.
//!
//! When the recall request carries the query's text, the scope's current facts that the
//! question asks about ([`crate::lexical::asked_about`]: it names the entity and a word of
//! the attribute) lend their source memory a similarity of at least
//! [`MemoryConfig::fact_grounding`](crate::MemoryConfig::fact_grounding); that memory is
//! then scored like any other (importance, decay), so an old or trivial statement still
//! ranks low. Only scores go up, and only for these few memories, so the composite top-k
//! stays exact: every memory of the true top-k is either one of them (all scored here) or
//! in the ungrounded top-k (a memory outside both would be beaten by k ungrounded ones).
use std::cmp::Ordering;

use mnemodb::{ExternalId, Filter};
use mnemodb_distance::reference::cosine_similarity;

use crate::error::Result;
use crate::facts::Fact;
use crate::recall::RecallHit;
use crate::record::{Memory, MemoryStatus};
use crate::store::MemoryStore;
use crate::time::Timestamp;

/// How many `merged_into` links a source memory is followed through.
const MAX_MERGE_HOPS: usize = 8;

impl MemoryStore {
    /// Adds the source memories of the facts `text` asks about to `hits` (the composite
    /// top-k of `filter`), re-sorts and keeps `k`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn ground_in_facts(
        &self,
        hits: &mut Vec<RecallHit>,
        facts: &[Fact],
        text: &str,
        vector: &[f32],
        filter: &Filter,
        now: Timestamp,
        floor: f32,
        k: usize,
    ) -> Result<()> {
        let scorer = self.config.scorer;
        for fact in crate::lexical::asked_about(facts, text) {
            let Some(source) = &fact.source_memory else {
                continue;
            };
            let Some((memory, similarity)) = self.live_source(source, vector, filter)? else {
                continue;
            };
            let score = scorer.score(similarity.max(floor), &memory.signals(), now);
            match hits.iter_mut().find(|h| h.memory.id == memory.id) {
                Some(h) if h.score.score >= score.score => {}
                Some(h) => h.score = score,
                None => hits.push(RecallHit { memory, score }),
            }
        }
        hits.sort_by(|a, b| {
            b.score
                .score
                .partial_cmp(&a.score.score)
                .unwrap_or(Ordering::Equal)
                .then_with(|| a.memory.id.cmp(&b.memory.id))
        });
        hits.truncate(k);
        Ok(())
    }

    /// The memory `id` became (following merges) if it passes `filter`, with its cosine
    /// similarity to `vector`.
    fn live_source(
        &self,
        id: &str,
        vector: &[f32],
        filter: &Filter,
    ) -> Result<Option<(Memory, f32)>> {
        let name = self.cols.memories.name();
        let mut id = id.to_string();
        for _ in 0..MAX_MERGE_HOPS {
            let Some(entry) = self.cols.memories.get(&ExternalId::from(id.as_str()))? else {
                return Ok(None);
            };
            let memory = Memory::from_doc(id.clone(), &entry.metadata, None, name)?;
            if let MemoryStatus::Merged { into } = &memory.status {
                id = into.clone();
                continue;
            }
            if !filter.matches(&entry.metadata) {
                return Ok(None);
            }
            let similarity = entry
                .vector
                .as_deref()
                .map_or(0.0, |v| cosine_similarity(vector, v) as f32);
            return Ok(Some((memory, similarity)));
        }
        Ok(None)
    }
}
