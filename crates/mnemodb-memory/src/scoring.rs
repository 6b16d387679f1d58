//! Scoring models: how similarity, importance and time combine into one recall score.
//!
//! Every function here is a pure function of `(signals, similarity, now, params)`: nothing
//! reads a clock, so a replay at a given time always ranks the same way.
//!
//! | model | score | range |
//! |---|---|---|
//! | [`ScoringModel::Similarity`] | `similarity` (plain cosine, the baseline) | `[-1, 1]` |
//! | [`ScoringModel::Multiplicative`] | `relevance × (1 − wᵢ + wᵢ·importance) × (1 − w_d + w_d·decay)`; with `wᵢ = w_d = 1` the classic `similarity × importance × decay` | `[0, 1]` |
//! | [`ScoringModel::WeightedSum`] | `(α·relevance + β·importance + γ·recency) / (α + β + γ)` (Generative Agents, each term in `[0, 1]`) | `[0, 1]` |
//!
//! `relevance = clamp((similarity − floor) / (1 − floor), 0, 1)`; the floor is 0 by default,
//! so a negative cosine contributes nothing. Relevance is an *absolute* normalisation, not
//! Generative Agents' per-query min-max: a min-max needs every candidate's similarity first,
//! which would make an exact top-k a full scan.
//!
//! Decay curves ([`DecayCurve`]) — all in `[0, 1]`, non-increasing in age:
//! - exponential `base^days` (default base 0.95 per day, since creation);
//! - half-life `0.5^(days / h)`;
//! - Ebbinghaus retention `exp(−t / S)` (MemoryBank): `t` in days since the memory was last
//!   recalled (or created), strength `S = S₀ + ΔS · access_count` grows with each recall.
//!
//! An optional **importance shield** ([`Decay::importance_shield`] `p`) slows decay for
//! important memories: the age is multiplied by `(1 − importance)^p`, so a critical memory
//! (importance 1) never fades and trivia (importance 0.1) fades almost at the full rate.
//!
//! **Bounds used by the exact top-k.** Every model is non-decreasing in similarity,
//! importance and decay, and decay ≤ 1, importance ≤ 1, so no memory with similarity ≤ `s`
//! can score above [`Scorer::upper_bound`]`(s)` — the score of a memory with similarity `s`,
//! importance 1 and no decay.
use crate::time::{MICROS_PER_DAY, Timestamp};

/// What scoring needs to know about one memory besides its similarity to the query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Signals {
    /// Importance in `[0, 1]` (values outside are clamped).
    pub importance: f32,
    /// When the memory was created.
    pub created_at: Timestamp,
    /// When it was last returned by a recall (`None`: never).
    pub last_accessed_at: Option<Timestamp>,
    /// How many recalls returned it.
    pub access_count: u32,
    /// An episodic memory (an event or observation: "had dinner at X", "is reading Y"),
    /// as opposed to a semantic one (a fact, preference, decision, instruction). See
    /// [`Scorer::episodic`].
    pub episodic: bool,
}

impl Signals {
    /// Signals of a semantic memory created at `created_at` with `importance`, never
    /// recalled.
    pub fn new(importance: f32, created_at: Timestamp) -> Self {
        Signals {
            importance,
            created_at,
            last_accessed_at: None,
            access_count: 0,
            episodic: false,
        }
    }

    /// The same signals for an episodic memory.
    pub fn episodic(mut self) -> Self {
        self.episodic = true;
        self
    }

    fn importance01(&self) -> f64 {
        clamp01(f64::from(self.importance))
    }
}

/// The shape of a decay curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DecayCurve {
    /// No decay: always 1.
    None,
    /// `base^days`, `base` in `(0, 1]`.
    Exponential {
        /// Retention per day (0.95: −5 % a day).
        base_per_day: f64,
    },
    /// `0.5^(days / days_half_life)`.
    HalfLife {
        /// Days after which half remains (> 0).
        days: f64,
    },
    /// `exp(−t / S)`, `S = initial_strength_days + strength_per_recall_days · access_count`.
    Ebbinghaus {
        /// Strength (days) of a memory never recalled (> 0).
        initial_strength_days: f64,
        /// Strength (days) added by each recall (≥ 0).
        strength_per_recall_days: f64,
    },
}

/// Which clock a decay curve measures age on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgeFrom {
    /// Time since the memory was created.
    Created,
    /// Time since it was last recalled (or created, if never recalled).
    LastAccess,
}

/// A decay: a curve, the age it is applied to, and the importance shield.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decay {
    /// The curve.
    pub curve: DecayCurve,
    /// The age it measures.
    pub age_from: AgeFrom,
    /// `p ≥ 0`: the age is multiplied by `(1 − importance)^p`; 0 disables the shield.
    pub importance_shield: f64,
}

impl Decay {
    /// No decay.
    pub const NONE: Decay = Decay {
        curve: DecayCurve::None,
        age_from: AgeFrom::Created,
        importance_shield: 0.0,
    };

    /// `base^days since creation` (the literature's default is 0.95).
    pub fn exponential(base_per_day: f64) -> Self {
        Decay {
            curve: DecayCurve::Exponential { base_per_day },
            age_from: AgeFrom::Created,
            importance_shield: 0.0,
        }
    }

    /// `0.5^(days since creation / days)`.
    pub fn half_life(days: f64) -> Self {
        Decay {
            curve: DecayCurve::HalfLife { days },
            age_from: AgeFrom::Created,
            importance_shield: 0.0,
        }
    }

    /// Ebbinghaus retention `exp(−t/S)` on the time since last recall; each recall adds
    /// `per_recall_days` to the strength (MemoryBank).
    pub fn ebbinghaus(initial_strength_days: f64, per_recall_days: f64) -> Self {
        Decay {
            curve: DecayCurve::Ebbinghaus {
                initial_strength_days,
                strength_per_recall_days: per_recall_days,
            },
            age_from: AgeFrom::LastAccess,
            importance_shield: 0.0,
        }
    }

    /// Generative Agents' recency: `base^hours since last access` (0.995 in the paper).
    pub fn hourly_since_access(base_per_hour: f64) -> Self {
        Decay {
            curve: DecayCurve::Exponential {
                base_per_day: base_per_hour.powi(24),
            },
            age_from: AgeFrom::LastAccess,
            importance_shield: 0.0,
        }
    }

    /// With importance shield exponent `p` (age × `(1 − importance)^p`).
    pub fn shielded(mut self, p: f64) -> Self {
        self.importance_shield = p;
        self
    }

    /// Measure age on this clock.
    pub fn from(mut self, age_from: AgeFrom) -> Self {
        self.age_from = age_from;
        self
    }

    /// Refuse parameters outside their domain.
    pub fn validate(&self) -> Result<(), String> {
        let ok = |v: f64| v.is_finite();
        match self.curve {
            DecayCurve::None => {}
            DecayCurve::Exponential { base_per_day } => {
                if !ok(base_per_day) || base_per_day <= 0.0 || base_per_day > 1.0 {
                    return Err(format!(
                        "exponential decay base {base_per_day} must be in (0, 1]"
                    ));
                }
            }
            DecayCurve::HalfLife { days } => {
                if !ok(days) || days <= 0.0 {
                    return Err(format!("half-life {days} days must be > 0"));
                }
            }
            DecayCurve::Ebbinghaus {
                initial_strength_days,
                strength_per_recall_days,
            } => {
                if !ok(initial_strength_days) || initial_strength_days <= 0.0 {
                    return Err(format!(
                        "Ebbinghaus initial strength {initial_strength_days} days must be > 0"
                    ));
                }
                if !ok(strength_per_recall_days) || strength_per_recall_days < 0.0 {
                    return Err(format!(
                        "Ebbinghaus strength per recall {strength_per_recall_days} days must be ≥ 0"
                    ));
                }
            }
        }
        if !ok(self.importance_shield) || self.importance_shield < 0.0 {
            return Err(format!(
                "importance shield {} must be ≥ 0",
                self.importance_shield
            ));
        }
        Ok(())
    }

    /// The age in days this decay is applied to, before the shield (never negative: a
    /// memory dated after `now` has age 0).
    pub fn age_days(&self, signals: &Signals, now: Timestamp) -> f64 {
        let from = match self.age_from {
            AgeFrom::Created => signals.created_at,
            AgeFrom::LastAccess => signals
                .last_accessed_at
                .map_or(signals.created_at, |a| a.max(signals.created_at)),
        };
        let micros = (now.micros() as f64 - from.micros() as f64).max(0.0);
        micros / MICROS_PER_DAY as f64
    }

    /// The decay factor in `[0, 1]`.
    pub fn factor(&self, signals: &Signals, now: Timestamp) -> f64 {
        let mut age = self.age_days(signals, now);
        if self.importance_shield > 0.0 {
            age *= (1.0 - signals.importance01()).powf(self.importance_shield);
        }
        let f = match self.curve {
            DecayCurve::None => 1.0,
            DecayCurve::Exponential { base_per_day } => base_per_day.powf(age),
            DecayCurve::HalfLife { days } => 0.5f64.powf(age / days),
            DecayCurve::Ebbinghaus {
                initial_strength_days,
                strength_per_recall_days,
            } => {
                let s = initial_strength_days
                    + strength_per_recall_days * f64::from(signals.access_count);
                (-age / s).exp()
            }
        };
        clamp01(f)
    }
}

/// How the score combines its terms. See the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ScoringModel {
    /// Plain similarity (the baseline every other model is compared with).
    Similarity,
    /// `relevance × importance term × decay term`.
    Multiplicative {
        /// The decay.
        decay: Decay,
        /// `wᵢ` in `[0, 1]`: importance term `1 − wᵢ + wᵢ·importance` (1: plain importance).
        importance_weight: f64,
        /// `w_d` in `[0, 1]`: decay term `1 − w_d + w_d·decay` (1: plain decay).
        decay_weight: f64,
    },
    /// `(α·relevance + β·importance + γ·recency) / (α + β + γ)`.
    WeightedSum {
        /// α ≥ 0.
        relevance: f64,
        /// β ≥ 0.
        importance: f64,
        /// γ ≥ 0.
        recency: f64,
        /// The recency term's decay (Generative Agents: 0.995 per hour since last access).
        decay: Decay,
    },
}

impl ScoringModel {
    /// The literature's `similarity × importance × 0.95^days`.
    pub fn classic_multiplicative() -> Self {
        ScoringModel::Multiplicative {
            decay: Decay::exponential(0.95),
            importance_weight: 1.0,
            decay_weight: 1.0,
        }
    }

    /// Generative Agents: equal weights, recency `0.995^hours since last access`.
    pub fn generative_agents() -> Self {
        ScoringModel::WeightedSum {
            relevance: 1.0,
            importance: 1.0,
            recency: 1.0,
            decay: Decay::hourly_since_access(0.995),
        }
    }
}

/// How episodic memories (events, observations) are scored differently from semantic ones.
///
/// An episode ("had dinner at Safta", "is now reading *Piranesi*") is judged by how recent
/// it is, not by how much it matters: its age decays without the importance shield, and
/// importance weighs less. A semantic memory ("allergic to peanuts", "prefers pytest")
/// keeps the model's shielded decay and full importance weight (Tulving's episodic /
/// semantic distinction).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpisodicTerms {
    /// The decay of episodic memories.
    pub decay: Decay,
    /// Their importance weight `wᵢ` (multiplicative model only), in `[0, 1]`.
    pub importance_weight: f64,
}

/// Scoring parameters: a model, how similarity becomes relevance, and the episodic terms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scorer {
    /// The model.
    pub model: ScoringModel,
    /// Similarity mapped to relevance 0 (in `[-1, 1)`; default 0).
    pub relevance_floor: f64,
    /// `p > 0`: relevance is raised to this power (> 1 sharpens: similarity counts more
    /// against importance and time; default 1).
    pub relevance_exponent: f64,
    /// Terms for episodic memories (`None`: scored like the rest).
    pub episodic: Option<EpisodicTerms>,
}

/// The tuned default (see [`Scorer::default`]).
impl Default for Scorer {
    /// Multiplicative: `max(0, similarity)^1.5 × importance × 0.99^(days · (1 − importance)²)`
    /// for semantic memories; episodic ones (events, observations) use
    /// `(0.75 + 0.25 · importance) × 0.95^days` instead.
    ///
    /// Chosen on memeval dev (see `docs/BENCHMARKS.md`, "Memory layer"): the plain
    /// `0.95^days` of the literature lets a 90-day-old critical memory fall below
    /// yesterday's trivia; shielding the age by `(1 − importance)²` keeps critical memories
    /// (importance ≥ 0.85 decays at ≤ 2 % of the rate) while chatter fades at almost the full
    /// rate, and the full importance weight keeps keyword distractors of low importance out.
    /// Episodes decay by their real age and count importance a quarter, so the newest of
    /// several low-importance notes on a topic wins and last week's bookings do not bury an
    /// old critical fact. The exponent 1.5 gives similarity more say against importance.
    fn default() -> Self {
        Scorer {
            model: ScoringModel::Multiplicative {
                decay: Decay::exponential(0.99).shielded(2.0),
                importance_weight: 1.0,
                decay_weight: 1.0,
            },
            relevance_floor: 0.0,
            relevance_exponent: 1.5,
            episodic: Some(EpisodicTerms {
                decay: Decay::exponential(0.95),
                importance_weight: 0.25,
            }),
        }
    }
}

/// One hit's score and the terms it came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreBreakdown {
    /// Cosine similarity to the query.
    pub similarity: f32,
    /// Similarity normalised to `[0, 1]` (see the module docs).
    pub relevance: f64,
    /// The memory's importance.
    pub importance: f64,
    /// The decay (or recency) factor in `[0, 1]`.
    pub decay: f64,
    /// The combined score.
    pub score: f64,
}

impl Scorer {
    /// A scorer with this model, relevance floor 0, exponent 1, no episodic terms.
    pub fn new(model: ScoringModel) -> Self {
        Scorer {
            model,
            relevance_floor: 0.0,
            relevance_exponent: 1.0,
            episodic: None,
        }
    }

    /// With these episodic terms.
    pub fn with_episodic(mut self, terms: EpisodicTerms) -> Self {
        self.episodic = Some(terms);
        self
    }

    /// With this relevance exponent.
    pub fn with_relevance_exponent(mut self, p: f64) -> Self {
        self.relevance_exponent = p;
        self
    }

    /// Refuse parameters outside their domain.
    pub fn validate(&self) -> Result<(), String> {
        if !self.relevance_floor.is_finite() || !(-1.0..1.0).contains(&self.relevance_floor) {
            return Err(format!(
                "relevance floor {} must be in [-1, 1)",
                self.relevance_floor
            ));
        }
        if !self.relevance_exponent.is_finite() || self.relevance_exponent <= 0.0 {
            return Err(format!(
                "relevance exponent {} must be > 0",
                self.relevance_exponent
            ));
        }
        let unit = |name: &str, v: f64| {
            if v.is_finite() && (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(format!("{name} {v} must be in [0, 1]"))
            }
        };
        if let Some(e) = self.episodic {
            unit("episodic importance weight", e.importance_weight)?;
            e.decay.validate()?;
        }
        match self.model {
            ScoringModel::Similarity => Ok(()),
            ScoringModel::Multiplicative {
                decay,
                importance_weight,
                decay_weight,
            } => {
                unit("importance weight", importance_weight)?;
                unit("decay weight", decay_weight)?;
                decay.validate()
            }
            ScoringModel::WeightedSum {
                relevance,
                importance,
                recency,
                decay,
            } => {
                for (name, w) in [
                    ("relevance weight", relevance),
                    ("importance weight", importance),
                    ("recency weight", recency),
                ] {
                    if !w.is_finite() || w < 0.0 {
                        return Err(format!("{name} {w} must be ≥ 0"));
                    }
                }
                if relevance + importance + recency <= 0.0 {
                    return Err("weighted sum needs at least one positive weight".into());
                }
                if relevance <= 0.0 {
                    return Err(
                        "weighted sum needs a positive relevance weight (else recall ignores the query)"
                            .into(),
                    );
                }
                decay.validate()
            }
        }
    }

    /// Similarity mapped to `[0, 1]`. NaN counts as no similarity.
    pub fn relevance(&self, similarity: f32) -> f64 {
        let s = f64::from(similarity);
        if s.is_nan() {
            return 0.0;
        }
        let r = clamp01((s - self.relevance_floor) / (1.0 - self.relevance_floor));
        if self.relevance_exponent == 1.0 {
            r
        } else {
            r.powf(self.relevance_exponent)
        }
    }

    /// The decay (or recency) factor of the model, in `[0, 1]`.
    pub fn decay(&self, signals: &Signals, now: Timestamp) -> f64 {
        match (self.model, self.episodic) {
            (ScoringModel::Similarity, _) => 1.0,
            (_, Some(e)) if signals.episodic => e.decay.factor(signals, now),
            (
                ScoringModel::Multiplicative { decay, .. }
                | ScoringModel::WeightedSum { decay, .. },
                _,
            ) => decay.factor(signals, now),
        }
    }

    /// The score of a memory with these signals and this similarity to the query, at `now`.
    pub fn score(&self, similarity: f32, signals: &Signals, now: Timestamp) -> ScoreBreakdown {
        let similarity = if similarity.is_nan() {
            -1.0
        } else {
            similarity.clamp(-1.0, 1.0)
        };
        let relevance = self.relevance(similarity);
        let importance = signals.importance01();
        let decay = self.decay(signals, now);
        let episodic_weight = self
            .episodic
            .filter(|_| signals.episodic)
            .map(|e| e.importance_weight);
        let score = self.combine(similarity, relevance, importance, decay, episodic_weight);
        ScoreBreakdown {
            similarity,
            relevance,
            importance,
            decay,
            score,
        }
    }

    fn combine(
        &self,
        similarity: f32,
        relevance: f64,
        importance: f64,
        decay: f64,
        episodic_weight: Option<f64>,
    ) -> f64 {
        match self.model {
            ScoringModel::Similarity => f64::from(similarity),
            ScoringModel::Multiplicative {
                importance_weight,
                decay_weight,
                ..
            } => {
                let w = episodic_weight.unwrap_or(importance_weight);
                relevance * (1.0 - w + w * importance) * (1.0 - decay_weight + decay_weight * decay)
            }
            ScoringModel::WeightedSum {
                relevance: a,
                importance: b,
                recency: c,
                ..
            } => (a * relevance + b * importance + c * decay) / (a + b + c),
        }
    }

    /// The highest score any memory with similarity ≤ `similarity` can have (importance 1,
    /// no decay); the stopping bound of the exact top-k.
    pub fn upper_bound(&self, similarity: f32) -> f64 {
        let similarity = if similarity.is_nan() {
            1.0
        } else {
            similarity.clamp(-1.0, 1.0)
        };
        self.combine(similarity, self.relevance(similarity), 1.0, 1.0, None)
    }

    /// The highest score a memory with similarity ≤ `similarity`, importance ≤
    /// `max_importance` and age ≥ `min_age_days` (since creation) can have at `now` — episodic
    /// or not when `episodic` is `None`: the bound of one stratum of the exact top-k ([`crate::topk::strata_top_k`]).
    /// Decays that depend on recalls (Ebbinghaus, or age measured from the last access) are
    /// bounded by 1.
    pub fn upper_bound_band(
        &self,
        similarity: f32,
        max_importance: f32,
        min_age_days: f64,
        episodic: Option<bool>,
        now: Timestamp,
    ) -> f64 {
        let similarity = if similarity.is_nan() {
            1.0
        } else {
            similarity.clamp(-1.0, 1.0)
        };
        let relevance = self.relevance(similarity);
        let importance = clamp01(f64::from(max_importance));
        let newest = now.plus_days(-min_age_days.max(0.0));
        let mut best = f64::NEG_INFINITY;
        let only = episodic;
        for episodic in [false, true] {
            if only.is_some_and(|o| o != episodic) {
                continue;
            }
            if episodic && self.episodic.is_none() && only.is_none() {
                continue;
            }
            let decay = match (self.model, self.episodic) {
                (ScoringModel::Similarity, _) => None,
                (_, Some(e)) if episodic => Some(e.decay),
                (
                    ScoringModel::Multiplicative { decay, .. }
                    | ScoringModel::WeightedSum { decay, .. },
                    _,
                ) => Some(decay),
            };
            let d = match decay {
                Some(d)
                    if d.age_from == AgeFrom::Created
                        && !matches!(d.curve, DecayCurve::Ebbinghaus { .. }) =>
                {
                    let mut sig = Signals::new(max_importance, newest);
                    sig.episodic = episodic;
                    d.factor(&sig, now)
                }
                _ => 1.0,
            };
            let w = self
                .episodic
                .filter(|_| episodic)
                .map(|e| e.importance_weight);
            best = best.max(self.combine(similarity, relevance, importance, d, w));
        }
        best
    }

    /// The lowest score the model can give (the bottom of its range).
    pub fn min_score(&self) -> f64 {
        match self.model {
            ScoringModel::Similarity => -1.0,
            _ => 0.0,
        }
    }
}

fn clamp01(v: f64) -> f64 {
    if v.is_nan() { 0.0 } else { v.clamp(0.0, 1.0) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn day(n: f64) -> Timestamp {
        Timestamp::EPOCH.plus_days(n)
    }

    fn models() -> Vec<Scorer> {
        vec![
            Scorer::default(),
            Scorer::new(ScoringModel::Similarity),
            Scorer::new(ScoringModel::classic_multiplicative()),
            Scorer::new(ScoringModel::generative_agents()),
            Scorer::new(ScoringModel::Multiplicative {
                decay: Decay::half_life(30.0),
                importance_weight: 0.5,
                decay_weight: 0.5,
            }),
            Scorer::new(ScoringModel::Multiplicative {
                decay: Decay::ebbinghaus(10.0, 5.0).shielded(1.0),
                importance_weight: 1.0,
                decay_weight: 1.0,
            }),
            Scorer::new(ScoringModel::generative_agents())
                .with_episodic(EpisodicTerms {
                    decay: Decay::half_life(3.0),
                    importance_weight: 0.0,
                })
                .with_relevance_exponent(0.5),
        ]
    }

    #[test]
    fn classic_multiplicative_is_the_literature_formula() {
        let s = Scorer::new(ScoringModel::classic_multiplicative());
        let sig = Signals::new(0.8, day(0.0));
        let b = s.score(0.5, &sig, day(10.0));
        let expected = 0.5 * 0.8f64 * 0.95f64.powi(10);
        assert!((b.score - expected).abs() < 1e-6, "{b:?}");
        assert!((b.decay - 0.95f64.powi(10)).abs() < 1e-12);
    }

    #[test]
    fn half_life_halves() {
        let d = Decay::half_life(7.0);
        let sig = Signals::new(0.5, day(0.0));
        assert!((d.factor(&sig, day(7.0)) - 0.5).abs() < 1e-12);
        assert!((d.factor(&sig, day(14.0)) - 0.25).abs() < 1e-12);
    }

    #[test]
    fn ebbinghaus_strength_grows_with_recalls_and_resets_age() {
        let d = Decay::ebbinghaus(5.0, 5.0);
        let mut sig = Signals::new(0.5, day(0.0));
        let never = d.factor(&sig, day(20.0));
        assert!((never - (-20.0f64 / 5.0).exp()).abs() < 1e-12);
        sig.access_count = 3;
        let recalled = d.factor(&sig, day(20.0));
        assert!((recalled - (-20.0f64 / 20.0).exp()).abs() < 1e-12);
        sig.last_accessed_at = Some(day(15.0));
        let fresh = d.factor(&sig, day(20.0));
        assert!((fresh - (-5.0f64 / 20.0).exp()).abs() < 1e-12);
        assert!(never < recalled && recalled < fresh);
    }

    #[test]
    fn importance_shield_lets_critical_memories_outlive_trivia() {
        // The scenario of fixtures/scenarios.json critical_vs_trivia, in numbers: a 90-day
        // old allergy (importance 1) against day-old trivia (importance 0.1).
        let classic = Scorer::new(ScoringModel::classic_multiplicative());
        let tuned = Scorer::default();
        let now = day(90.0);
        let allergy = Signals::new(1.0, day(0.0));
        let trivia = Signals::new(0.1, day(89.0));
        assert!(classic.score(0.3, &allergy, now).score < classic.score(0.3, &trivia, now).score);
        assert!(tuned.score(0.3, &allergy, now).score > tuned.score(0.3, &trivia, now).score);
    }

    #[test]
    fn future_memories_have_age_zero_and_nan_is_harmless() {
        let s = Scorer::default();
        let sig = Signals::new(0.5, day(10.0));
        assert_eq!(s.score(0.5, &sig, day(5.0)).decay, 1.0);
        let b = s.score(f32::NAN, &sig, day(20.0));
        assert!(b.score.is_finite() && b.score == 0.0);
        let weird = Signals::new(f32::NAN, day(0.0));
        assert!(s.score(0.5, &weird, day(1.0)).score.is_finite());
    }

    #[test]
    fn validation_refuses_bad_parameters() {
        assert!(Decay::exponential(1.5).validate().is_err());
        assert!(Decay::exponential(0.0).validate().is_err());
        assert!(Decay::half_life(-1.0).validate().is_err());
        assert!(Decay::ebbinghaus(0.0, 1.0).validate().is_err());
        assert!(Decay::exponential(0.9).shielded(-1.0).validate().is_err());
        let s = Scorer {
            relevance_floor: 1.0,
            ..Scorer::default()
        };
        assert!(s.validate().is_err());
        let ws = Scorer::new(ScoringModel::WeightedSum {
            relevance: 0.0,
            importance: 1.0,
            recency: 1.0,
            decay: Decay::NONE,
        });
        assert!(ws.validate().is_err());
        for m in models() {
            assert!(m.validate().is_ok(), "{m:?}");
        }
    }

    fn signals() -> impl Strategy<Value = Signals> {
        (
            0.0f32..=1.0,
            -400.0f64..400.0,
            proptest::option::of(-400.0f64..400.0),
            0u32..50,
            any::<bool>(),
        )
            .prop_map(|(imp, c, a, n, episodic)| Signals {
                importance: imp,
                created_at: day(c),
                last_accessed_at: a.map(day),
                access_count: n,
                episodic,
            })
    }

    proptest! {
        #[test]
        fn decay_is_monotone_in_age(sig in signals(), now in -400.0f64..800.0, later in 0.0f64..500.0) {
            for m in models() {
                let a = m.decay(&sig, day(now));
                let b = m.decay(&sig, day(now + later));
                prop_assert!(b <= a + 1e-12, "{m:?}: decay rose from {a} to {b}");
                prop_assert!((0.0..=1.0).contains(&a));
            }
        }

        #[test]
        fn scores_are_bounded_and_below_the_upper_bound(sig in signals(), sim in -1.5f32..1.5, now in -400.0f64..800.0) {
            for m in models() {
                let b = m.score(sim, &sig, day(now));
                prop_assert!(b.score.is_finite());
                prop_assert!(b.score >= m.min_score() - 1e-12 && b.score <= 1.0 + 1e-12, "{m:?} {b:?}");
                prop_assert!(b.score <= m.upper_bound(sim) + 1e-12);
                // Bound is monotone: a more similar memory can always score at least as high.
                prop_assert!(m.upper_bound(sim) <= m.upper_bound((sim + 0.1).min(1.0)) + 1e-12);
            }
        }

        #[test]
        fn band_bound_holds_for_every_member_of_the_band(sig in signals(), sim in -1.0f32..1.0, now in 0.0f64..800.0, cap in 0.0f32..1.0, min_age in 0.0f64..400.0) {
            for m in models() {
                let now = day(now);
                let in_band = sig.importance <= cap && sig.created_at <= now.plus_days(-min_age);
                if in_band {
                    let b = m.score(sim, &sig, now).score;
                    prop_assert!(b <= m.upper_bound_band(sim, cap, min_age, None, now) + 1e-9, "{m:?} {sig:?}");
                    prop_assert!(b <= m.upper_bound_band(sim, cap, min_age, Some(sig.episodic), now) + 1e-9, "{m:?} {sig:?}");
                }
                prop_assert!(m.upper_bound_band(sim, cap, min_age, None, now) <= m.upper_bound(sim) + 1e-12);
            }
        }

        #[test]
        fn score_is_monotone_in_importance_and_similarity(sig in signals(), sim in -1.0f32..1.0, now in 0.0f64..800.0, dimp in 0.0f32..1.0, dsim in 0.0f32..1.0) {
            for m in models() {
                let base = m.score(sim, &sig, day(now)).score;
                let more_sim = m.score((sim + dsim).min(1.0), &sig, day(now)).score;
                let mut imp = sig;
                imp.importance = (sig.importance + dimp).min(1.0);
                let more_imp = m.score(sim, &imp, day(now)).score;
                prop_assert!(more_sim >= base - 1e-12);
                prop_assert!(more_imp >= base - 1e-12, "{m:?}");
            }
        }
    }
}
