//! Exact ground truth and recall on hand-checked cases, plus the two working together.

use mnemodb_dataset::synthetic::Clustered;
use mnemodb_dataset::{Neighbors, Vectors, exact_knn, recall_at_k, recall_per_query};
use mnemodb_distance::Metric;

/// Five 2-D points and the query (1, 0.1):
///
/// | id | point | L2² | -dot | cosine similarity |
/// |---|---|---|---|---|
/// | 0 | (1, 0) | 0.01 | -1.0 | 0.995 |
/// | 1 | (0, 1) | 1.81 | -0.1 | 0.0995 |
/// | 2 | (-1, 0) | 4.01 | 1.0 | -0.995 |
/// | 3 | (0.5, 0.5) | 0.41 | -0.55 | 0.774 |
/// | 4 | (2, 2) | 4.61 | -2.2 | 0.774 (tie with 3: same direction) |
fn tiny() -> (Vectors, Vectors) {
    let base = Vectors::new(2, vec![1.0, 0.0, 0.0, 1.0, -1.0, 0.0, 0.5, 0.5, 2.0, 2.0]).unwrap();
    let queries = Vectors::new(2, vec![1.0, 0.1]).unwrap();
    (base, queries)
}

#[test]
fn exact_knn_on_a_hand_checked_example() {
    let (base, queries) = tiny();
    let l2 = exact_knn(Metric::L2, &base, &queries, 5).unwrap();
    assert_eq!(l2.row(0), [0, 3, 1, 2, 4]);
    let ip = exact_knn(Metric::InnerProduct, &base, &queries, 5).unwrap();
    assert_eq!(ip.row(0), [4, 0, 3, 1, 2]);
    let cosine = exact_knn(Metric::Cosine, &base, &queries, 5).unwrap();
    assert_eq!(cosine.row(0), [0, 3, 4, 1, 2]);
    let top2 = exact_knn(Metric::L2, &base, &queries, 2).unwrap();
    assert_eq!((top2.k, top2.row(0)), (2, &[0u32, 3][..]));
}

#[test]
fn exact_knn_is_brute_force_and_thread_independent() {
    let mix = Clustered::new(16, 6, 1).normalize(true);
    let base = mix.sample(700, 2);
    let queries = mix.sample(40, 3);
    for metric in Metric::ALL {
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| exact_knn(metric, &base, &queries, 10).unwrap());
        let many = exact_knn(metric, &base, &queries, 10).unwrap();
        assert_eq!(one, many);
        // Against a full sort of every distance.
        for (q, query) in queries.rows().enumerate() {
            let mut all: Vec<(f64, u32)> = base
                .rows()
                .enumerate()
                .map(|(id, row)| {
                    (
                        mnemodb_distance::reference::distance(metric, query, row),
                        id as u32,
                    )
                })
                .collect();
            all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let expected: Vec<u32> = all[..10].iter().map(|&(_, id)| id).collect();
            assert_eq!(many.row(q), expected, "{metric} query {q}");
        }
    }
}

#[test]
fn truth_scores_perfect_recall_and_a_shifted_answer_does_not() {
    let mix = Clustered::new(8, 4, 5);
    let base = mix.sample(300, 6);
    let queries = mix.sample(25, 7);
    let truth = exact_knn(Metric::L2, &base, &queries, 10).unwrap();
    let perfect: Vec<Vec<u32>> = truth.rows().map(<[u32]>::to_vec).collect();
    assert_eq!(recall_at_k(&perfect, &truth, 10).unwrap(), 1.0);
    assert_eq!(recall_at_k(&perfect, &truth, 1).unwrap(), 1.0);
    // Dropping the best neighbour and padding with a far id loses exactly 1/10 per query.
    let shifted: Vec<Vec<u64>> = truth
        .rows()
        .map(|row| {
            row[1..]
                .iter()
                .map(|&id| u64::from(id))
                .chain([u64::MAX])
                .collect()
        })
        .collect();
    let r = recall_at_k(&shifted, &truth, 10).unwrap();
    assert!((r - 0.9).abs() < 1e-12, "{r}");
}

#[test]
fn recall_hand_made_cases() {
    let truth = Neighbors::new(3, vec![4, 5, 6, 1, 2, 3]).unwrap();
    // Query 0: 2 of 3 (order does not matter); query 1: none.
    let results = vec![vec![6u64, 9, 4], vec![7, 8, 9]];
    assert_eq!(
        recall_per_query(&results, &truth, 3).unwrap(),
        [2.0 / 3.0, 0.0]
    );
    assert!((recall_at_k(&results, &truth, 3).unwrap() - 1.0 / 3.0).abs() < 1e-12);
    // recall@1: only truth[:1] and results[:1] count.
    assert_eq!(recall_per_query(&results, &truth, 1).unwrap(), [0.0, 0.0]);
    let results = vec![vec![4u32], vec![1]];
    assert_eq!(recall_at_k(&results, &truth, 1).unwrap(), 1.0);
    // A list shorter than k: missing places are misses.
    assert!((recall_at_k(&results, &truth, 3).unwrap() - 1.0 / 3.0).abs() < 1e-12);
    // Truth narrower than k is refused rather than clamped.
    let err = recall_at_k(&results, &truth, 4).unwrap_err();
    assert!(err.to_string().contains("recall@4"), "{err}");
}
