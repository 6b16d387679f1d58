//! `bench` on a small generated dataset: table, CSV, JSON, plots, ground truth, and two runs
//! on one plot.
use mnemodb_dataset::write_fvecs;

use crate::util::{self, expect, json, s};

#[test]
fn bench_hnsw_then_ivf_on_one_plot() {
    let scratch = mnemodb_testkit::scratch_dir();
    let d = scratch.path();
    let data = d.join("data");
    std::fs::create_dir_all(&data).unwrap();
    write_fvecs(data.join("base.fvecs"), &util::vectors(800, 16, 1)).unwrap();
    write_fvecs(data.join("query.fvecs"), &util::vectors(30, 16, 2)).unwrap();
    let out = d.join("out");

    // No ground truth in the directory: computed and saved.
    let (table, err) = expect(
        &[
            "bench",
            s(&data),
            "--ef",
            "8,32,128",
            "--out",
            s(&out),
            "--name",
            "hnsw",
            "-k",
            "5",
        ],
        0,
    );
    assert!(err.contains("computing exact ground truth"), "{err}");
    assert!(
        table.contains("recall@k") && table.contains("ef=128") && table.contains("p99"),
        "{table}"
    );
    for ext in ["csv", "json", "svg", "png"] {
        assert!(
            out.join(format!("hnsw.{ext}")).is_file(),
            "hnsw.{ext} missing"
        );
    }
    assert!(out.join("hnsw-groundtruth.ivecs").is_file());
    let csv = std::fs::read_to_string(out.join("hnsw.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert!(csv.starts_with("label,index,build_params,param_name,param,k,recall,qps,p50_us"));

    // The saved truth as the dataset's: IVF and exact, plotted with the HNSW run.
    std::fs::copy(
        out.join("hnsw-groundtruth.ivecs"),
        data.join("groundtruth.ivecs"),
    )
    .unwrap();
    let j = json(&[
        "--json",
        "bench",
        s(&data),
        "--index",
        "ivf,flat",
        "--nprobe",
        "1,4,64",
        "-k",
        "5",
        "--out",
        s(&out),
        "--name",
        "both",
        "--plot-with",
        s(&out.join("hnsw.csv")),
    ]);
    let points = j["points"].as_array().unwrap();
    assert_eq!(points.len(), 4);
    let exact = points.iter().find(|p| p["index"] == "flat").unwrap();
    assert!(
        (exact["recall"].as_f64().unwrap() - 1.0).abs() < 1e-9,
        "{exact}"
    );
    let full = points.iter().find(|p| p["param"] == 64).unwrap();
    assert!(full["recall"].as_f64().unwrap() > 0.99, "{full}");
    for p in points {
        assert!(p["qps"].as_f64().unwrap() > 0.0 && p["p50_us"].as_f64().unwrap() > 0.0);
    }
    let svg = std::fs::read_to_string(out.join("both.svg")).unwrap();
    assert!(
        svg.contains("hnsw m=16") && svg.contains("ivf nlist="),
        "both runs on the plot"
    );

    // Ground truth with fewer neighbours than k is refused.
    let (_, err) = expect(&["bench", s(&data), "-k", "50", "--out", s(&out)], 2);
    assert!(err.contains("recall@50 needs 50"), "{err}");
}
