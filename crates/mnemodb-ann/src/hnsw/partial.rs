//! Partial distances for walks on f32 rows.
//!
//! A walk on f32 rows is bound on memory: every unvisited neighbour costs a whole row
//! (1.5 KB at 384-d), and most of them are then rejected because they are farther than
//! the `ef`-th result. [`Partial`] reads the first [`PartialPlan::head`] dimensions of
//! every neighbour, estimates the whole distance from them, and reads the rest of the row
//! only when the estimate comes within [`PartialPlan::margin`] of the current bound.
//!
//! **The estimate.** For dot-product metrics (cosine on prepared rows, inner product) the
//! head's dot product is scaled by the share of the query's energy that lies in the head,
//! `‖q_head‖² / ‖q‖²` (a row close to the query shares its energy split); for L2 by
//! `head / dim`. **The margin** is 2 × the root-mean-square error of that estimate,
//! measured once per graph on its own edges (a node as the query, a 1- or 2-hop neighbour
//! as the row: the distances a walk meets) by [`calibrate`]. A neighbour dropped on its
//! estimate is one whose true distance most likely exceeds the bound, where the exact walk
//! would reject it too; the walk is therefore approximate in principle, and measured equal
//! in recall (docs/BENCHMARKS.md). Distances of the results are recomputed on whole rows
//! by the caller, so the returned distances are the exact kernel's.
use mnemodb_distance::{DistanceFn, Metric};

use super::layer::{Exact, GraphRead, Scorer, SearchTuning, score_each};
use super::prefetch::prefetch_lines;
use super::scratch::Scored;

/// Rows shorter than this are always read whole (a head of a few cache lines saves little).
pub(crate) const MIN_PARTIAL_DIM: usize = 128;
/// Edges sampled by [`calibrate`] (half 1-hop, half 2-hop).
const CALIBRATION_EDGES: usize = 1024;
/// Margin in root-mean-square errors of the estimate. Chosen side by side with hnswlib on
/// wordnet-minilm-50k (docs/BENCHMARKS.md): at recall 0.95, 2 gave 3–6 % more QPS than 2.5
/// and 3, with recall at equal ef within 0.001 of whole rows; on hard synthetic data
/// (`tests/it/hnsw_partial.rs`, recall 0.55–0.87) it lost up to 0.027 at equal ef for
/// cosine (0.042 for L2), 3 up to 0.015.
const MARGIN_RMS: f64 = 2.0;
/// Below this share of the query's energy in the head the estimate is too noisy: the
/// search reads whole rows.
const MIN_HEAD_WEIGHT: f64 = 0.1;

/// How walks on one graph's f32 rows read them in two passes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PartialPlan {
    /// Leading dimensions read first: `5/12` of the dimension, rounded down to whole
    /// 64-byte lines (160 of 384).
    pub head: usize,
    /// Slack added to the bound before a neighbour is dropped on its estimate (distance
    /// units).
    pub margin: f32,
}

/// The head of a `dim`-dimensional row: 5/12 of it in whole cache lines. Measured on
/// wordnet-minilm-50k (384-d): 160 dimensions beat 128, 192 and 224 by 3–5 % QPS at the
/// same recall.
pub(crate) fn head_dims(dim: usize) -> usize {
    (dim * 5 / 12) / 16 * 16
}

/// The two-pass form of one metric: a distance is `offset + sign × Σ` of per-dimension
/// terms (products for cosine and inner product, squared differences for L2), so a head's
/// sum and a tail's add up, and the head's sum divided by its share estimates the whole.
#[derive(Debug, Clone, Copy)]
struct Form {
    l2: bool,
    /// The kernel of the sum: the inner-product distance (`−dot`) or squared L2.
    kernel: DistanceFn,
    /// 1 for cosine (`1 − dot`), 0 otherwise.
    offset: f32,
    /// −1 for dot products (larger is closer), +1 for L2.
    sign: f32,
}

impl Form {
    fn of(metric: Metric) -> Option<Form> {
        let (l2, offset, sign) = match metric {
            Metric::Cosine => (false, 1.0, -1.0),
            Metric::InnerProduct => (false, 0.0, -1.0),
            Metric::L2 => (true, 0.0, 1.0),
            _ => return None,
        };
        let kernel = if l2 { Metric::L2 } else { Metric::InnerProduct }.distance_fn();
        Some(Form {
            l2,
            kernel,
            offset,
            sign,
        })
    }

    /// The sum of the terms of `a` and `b`.
    #[inline]
    fn sum(self, a: &[f32], b: &[f32]) -> f32 {
        let k = (self.kernel)(a, b);
        if self.l2 { k } else { -k }
    }

    #[inline]
    fn distance(self, sum: f32) -> f32 {
        self.offset + self.sign * sum
    }

    /// The head's share of `query`: its share of the query's energy for dot products (a
    /// row close to the query shares its energy split), `head / dim` for L2; `None` when
    /// the estimate would be too noisy.
    fn weight(self, query: &[f32], head: usize) -> Option<f64> {
        let w = if self.l2 {
            head as f64 / query.len() as f64
        } else {
            let energy = |v: &[f32]| v.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>();
            energy(query.get(..head)?) / energy(query)
        };
        (w.is_finite() && w >= MIN_HEAD_WEIGHT).then_some(w)
    }
}

/// Measures the estimate's error on `g`'s own edges and returns the plan, or `None` when
/// the rows are too short, the graph too small, or the estimate useless.
pub(crate) fn calibrate<G: GraphRead>(g: &G, metric: Metric, dim: usize) -> Option<PartialPlan> {
    let head = head_dims(dim);
    let n = g.slots();
    if dim < MIN_PARTIAL_DIM || head == 0 || n < 2 {
        return None;
    }
    let form = Form::of(metric)?;
    let dist = metric.distance_fn();
    let step = (n / (CALIBRATION_EDGES / 2)).max(1);
    let (mut sum_sq, mut count) = (0.0f64, 0usize);
    let mut measure = |a: u32, b: u32| {
        let (Some(qa), Some(rb)) = (g.vector(a), g.vector(b)) else {
            return;
        };
        let Some(w) = form.weight(qa, head) else {
            return;
        };
        let exact = f64::from(dist(qa, rb));
        let (Some(qa_head), Some(rb_head)) = (qa.get(..head), rb.get(..head)) else {
            return;
        };
        let estimate = f64::from(form.distance((f64::from(form.sum(qa_head, rb_head)) / w) as f32));
        if exact.is_finite() && estimate.is_finite() {
            sum_sq += (estimate - exact) * (estimate - exact);
            count += 1;
        }
    };
    for (i, a) in (0..n).step_by(step).enumerate() {
        let a = a as u32;
        // One 1-hop and one 2-hop neighbour, through a slot that moves with `i`.
        let pick = |ns: &[u32]| ns.get(i.checked_rem(ns.len())?).copied();
        let Some(b) = g.neighbors(a, 0, pick).filter(|&b| (b as usize) < n) else {
            continue;
        };
        measure(a, b);
        if let Some(c) = g
            .neighbors(b, 0, pick)
            .filter(|&c| (c as usize) < n && c != a)
        {
            measure(a, c);
        }
    }
    if count < 16 {
        return None;
    }
    let margin = MARGIN_RMS * (sum_sq / count as f64).sqrt();
    margin.is_finite().then_some(PartialPlan {
        head,
        margin: margin as f32,
    })
}

/// Scores neighbours on f32 rows in two passes (see the [module docs](self)).
pub(crate) struct Partial<'a, G> {
    exact: Exact<'a, G>,
    head: usize,
    form: Form,
    /// `1 / weight` of this query's head.
    inv_weight: f32,
    margin: f32,
    head_lines: usize,
    tail_lines: usize,
}

impl<'a, G: GraphRead> Partial<'a, G> {
    /// The scorer for `query`, or `None` when its head carries too little of it.
    pub fn new(
        exact: Exact<'a, G>,
        plan: PartialPlan,
        metric: Metric,
        tuning: &SearchTuning,
    ) -> Option<Self> {
        let dim = exact.query.len();
        if plan.head == 0 || plan.head >= dim {
            return None;
        }
        let form = Form::of(metric)?;
        let w = form.weight(exact.query, plan.head)?;
        let lines = exact.g.vector_lines();
        let head_lines = (plan.head * 4).div_ceil(64).min(lines);
        Some(Partial {
            head: plan.head,
            form,
            inv_weight: (1.0 / w) as f32,
            margin: plan.margin * tuning.partial_margin_permille as f32 / 1000.0,
            head_lines,
            tail_lines: lines - head_lines,
            exact,
        })
    }
}

impl<G: GraphRead> Scorer for Partial<'_, G> {
    #[inline]
    fn score(&self, node: u32) -> Option<f32> {
        self.exact.score(node)
    }

    #[inline]
    fn prefetch(&self, node: u32) {
        self.exact.prefetch(node);
    }

    fn ahead(&self, t: &SearchTuning) -> usize {
        t.prefetch_ahead_partial
    }

    fn score_batch(
        &self,
        batch: &[u32],
        bound: f32,
        prefetch: bool,
        ahead: usize,
        out: &mut Vec<Scored>,
    ) {
        if !bound.is_finite() {
            // No bound yet (fewer than `ef` results): every row is read whole.
            return score_each(&self.exact, batch, prefetch, ahead, out);
        }
        out.clear();
        let g = self.exact.g;
        let (q_head, q_tail) = self.exact.query.split_at(self.head);
        let form = self.form;
        let fetch_head = |nb: u32| {
            if prefetch {
                prefetch_lines(g.vector_ptr(nb), self.head_lines, false);
            }
        };
        batch.iter().take(ahead).for_each(|&nb| fetch_head(nb));
        // Pass 1: heads; keep those whose estimate comes within the margin of the bound.
        for (j, &nb) in batch.iter().enumerate() {
            if let Some(&next) = batch.get(j + ahead) {
                fetch_head(next);
            }
            let Some((row_head, _)) = g.vector(nb).and_then(|r| r.split_at_checked(self.head))
            else {
                continue;
            };
            let head_sum = form.sum(q_head, row_head);
            let estimate = form.distance(head_sum * self.inv_weight);
            if estimate > bound + self.margin {
                continue;
            }
            if prefetch {
                prefetch_lines(
                    g.vector_ptr(nb).wrapping_add(self.head),
                    self.tail_lines,
                    false,
                );
            }
            // The head's sum until pass 2 turns it into the distance.
            out.push(Scored {
                dist: head_sum,
                id: nb,
            });
        }
        // Pass 2: the tails of the survivors (fetched meanwhile).
        for s in out.iter_mut() {
            s.dist = g
                .vector(s.id)
                .and_then(|r| r.get(self.head..))
                .map(|row_tail| form.distance(s.dist + form.sum(q_tail, row_tail)))
                .filter(|d| !d.is_nan())
                .unwrap_or(f32::INFINITY);
        }
    }
}
