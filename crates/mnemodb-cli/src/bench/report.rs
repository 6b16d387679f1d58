//! Bench results: one row per (run, sweep point); table, CSV and JSON out, CSV back in
//! (for `--plot-with`).
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{CliError, Result};
use crate::output::{self, Table};

/// One measured point of a sweep.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Point {
    /// Name of the run (a curve on the plot).
    pub label: String,
    /// `hnsw`, `ivf`, `ivf-sq8`, `flat`, `engine-hnsw`.
    pub index: String,
    /// Build parameters, e.g. `m=16 ef_construction=200`.
    pub build_params: String,
    /// Swept parameter: `ef`, `nprobe` or `-`.
    pub param_name: String,
    /// Its value (0 when none).
    pub param: usize,
    /// Results per query.
    pub k: usize,
    /// Mean recall@k.
    pub recall: f64,
    /// Queries per second, one thread.
    pub qps: f64,
    /// Latency percentiles, microseconds.
    pub p50_us: f64,
    /// 95th percentile.
    pub p95_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// Index build time, seconds.
    pub build_s: f64,
    /// Bytes of the index structure (links, lists, centroids).
    pub index_bytes: u64,
    /// Bytes of the vectors it searches.
    pub vector_bytes: u64,
    /// Peak resident set size of the process so far (0 when unknown).
    pub peak_rss_bytes: u64,
    /// Queries run.
    pub queries: usize,
    /// Base rows.
    pub base_rows: usize,
    /// Dimension.
    pub dim: usize,
    /// Metric.
    pub metric: String,
}

const HEADER: &str = "label,index,build_params,param_name,param,k,recall,qps,p50_us,p95_us,p99_us,build_s,index_bytes,vector_bytes,peak_rss_bytes,queries,base_rows,dim,metric";

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// CSV text of `points`.
pub fn to_csv(points: &[Point]) -> String {
    let mut out = String::from(HEADER);
    out.push('\n');
    for p in points {
        out.push_str(&format!(
            "{},{},{},{},{},{},{:.5},{:.1},{:.1},{:.1},{:.1},{:.3},{},{},{},{},{},{},{}\n",
            csv_field(&p.label),
            csv_field(&p.index),
            csv_field(&p.build_params),
            p.param_name,
            p.param,
            p.k,
            p.recall,
            p.qps,
            p.p50_us,
            p.p95_us,
            p.p99_us,
            p.build_s,
            p.index_bytes,
            p.vector_bytes,
            p.peak_rss_bytes,
            p.queries,
            p.base_rows,
            p.dim,
            csv_field(&p.metric),
        ));
    }
    out
}

/// Split one CSV line (quotes honoured).
fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// Read points from a CSV written by `mnemodb bench` (other runs for one plot). Only
/// `label`, `recall` and `qps` are required; other columns are read when present.
pub fn read_csv(path: &Path) -> Result<Vec<Point>> {
    let meta = std::fs::metadata(path).map_err(|e| CliError::io("read", path, &e))?;
    if meta.len() > 64 << 20 {
        return Err(CliError::invalid(format!(
            "{}: {} is too large for a bench CSV",
            path.display(),
            output::bytes(meta.len())
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| CliError::io("read", path, &e))?;
    let mut lines = text.lines().enumerate();
    let header = lines.next().map(|(_, l)| split_csv(l)).unwrap_or_default();
    let col = |name: &str| header.iter().position(|h| h.trim() == name);
    let (Some(label), Some(recall), Some(qps)) = (col("label"), col("recall"), col("qps")) else {
        return Err(CliError::invalid(format!(
            "{}: line 1: not a bench CSV (needs columns label, recall, qps)",
            path.display()
        )));
    };
    let mut out = Vec::new();
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let f = split_csv(line);
        let get = |c: Option<usize>| c.and_then(|c| f.get(c)).map(|s| s.trim().to_string());
        let num = |c: Option<usize>| get(c).and_then(|s| s.parse::<f64>().ok());
        let bad = |what: &str| {
            CliError::invalid(format!("{}: line {}: bad {what}", path.display(), i + 1))
        };
        let p = Point {
            label: get(Some(label)).ok_or_else(|| bad("label"))?,
            index: get(col("index")).unwrap_or_default(),
            build_params: get(col("build_params")).unwrap_or_default(),
            param_name: get(col("param_name")).unwrap_or_default(),
            param: num(col("param")).map_or(0, |v| v as usize),
            k: num(col("k")).map_or(0, |v| v as usize),
            recall: num(Some(recall))
                .filter(|r| r.is_finite())
                .ok_or_else(|| bad("recall"))?,
            qps: num(Some(qps))
                .filter(|q| q.is_finite())
                .ok_or_else(|| bad("qps"))?,
            p50_us: num(col("p50_us")).unwrap_or(0.0),
            p95_us: num(col("p95_us")).unwrap_or(0.0),
            p99_us: num(col("p99_us")).unwrap_or(0.0),
            build_s: num(col("build_s")).unwrap_or(0.0),
            index_bytes: num(col("index_bytes")).map_or(0, |v| v as u64),
            vector_bytes: num(col("vector_bytes")).map_or(0, |v| v as u64),
            peak_rss_bytes: num(col("peak_rss_bytes")).map_or(0, |v| v as u64),
            queries: num(col("queries")).map_or(0, |v| v as usize),
            base_rows: num(col("base_rows")).map_or(0, |v| v as usize),
            dim: num(col("dim")).map_or(0, |v| v as usize),
            metric: get(col("metric")).unwrap_or_default(),
        };
        out.push(p);
    }
    Ok(out)
}

/// `ef=64`, `nprobe=8`, or `exact`.
pub fn param_text(p: &Point) -> String {
    if p.param_name == "-" || p.param_name.is_empty() {
        "exact".into()
    } else {
        format!("{}={}", p.param_name, p.param)
    }
}

/// The human table of one run.
pub fn table(points: &[Point]) -> String {
    let mut t = Table::new(&[
        "run",
        "param",
        ">recall@k",
        ">QPS",
        ">p50 µs",
        ">p95 µs",
        ">p99 µs",
    ]);
    for p in points {
        t.row(vec![
            p.label.clone(),
            param_text(p),
            format!("{:.4}", p.recall),
            format!("{:.0}", p.qps),
            format!("{:.0}", p.p50_us),
            format!("{:.0}", p.p95_us),
            format!("{:.0}", p.p99_us),
        ]);
    }
    t.render()
}

/// Write `text` to `path`.
pub fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| CliError::io("write", path, &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_round_trip() {
        let p = Point {
            label: "a,b".into(),
            index: "hnsw".into(),
            build_params: "m=16".into(),
            param_name: "ef".into(),
            param: 64,
            k: 10,
            recall: 0.95,
            qps: 1000.0,
            p50_us: 1.0,
            p95_us: 2.0,
            p99_us: 3.0,
            build_s: 1.5,
            index_bytes: 10,
            vector_bytes: 20,
            peak_rss_bytes: 30,
            queries: 5,
            base_rows: 100,
            dim: 4,
            metric: "cosine".into(),
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.csv");
        write(&path, &to_csv(std::slice::from_ref(&p))).unwrap();
        assert_eq!(read_csv(&path).unwrap(), vec![p]);
    }
}
