//! Helpers: the binary under an address-space limit and a timeout, fixture files.
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;
use std::time::Duration;

use assert_cmd::Command;
use mnemodb_dataset::{Vectors, write_fvecs};

/// Address-space limit of every run (catches `Vec::with_capacity(huge)`).
pub const AS_LIMIT: u64 = 2 << 30;

fn has_prlimit() -> bool {
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| {
        std::process::Command::new("prlimit")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// `mnemodb args…` under a 2 GiB address-space limit (`prlimit --as`, else `ulimit -v`)
/// and a timeout.
pub fn mnemodb(args: &[&str]) -> Command {
    let bin = assert_cmd::cargo::cargo_bin("mnemodb");
    let mut cmd = if has_prlimit() {
        let mut c = Command::new("prlimit");
        c.arg(format!("--as={AS_LIMIT}")).arg("--").arg(bin);
        c
    } else {
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg(format!(
                "ulimit -v {} && exec \"$0\" \"$@\"",
                AS_LIMIT / 1024
            ))
            .arg(bin);
        c
    };
    cmd.args(args)
        .timeout(Duration::from_secs(30))
        .env("NO_COLOR", "1");
    cmd
}

/// Run and return the output (never panics on a non-zero exit).
pub fn run(args: &[&str]) -> Output {
    mnemodb(args).output().unwrap()
}

/// Exit code; a signal or a panic fails the test with the output.
pub fn code(out: &Output) -> i32 {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let Some(c) = out.status.code() else {
        panic!("killed by a signal: {:?}\nstderr: {stderr}", out.status);
    };
    assert!(
        c != 101 && c < 128 && !stderr.contains("panicked at"),
        "panic or crash (exit {c})\nstderr: {stderr}"
    );
    c
}

/// Stdout as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Run, expect exit `want`, return (stdout, stderr).
pub fn expect(args: &[&str], want: i32) -> (String, String) {
    let out = run(args);
    let c = code(&out);
    assert_eq!(
        c,
        want,
        "mnemodb {}\nstdout: {}\nstderr: {}",
        args.join(" "),
        stdout(&out),
        stderr(&out)
    );
    (stdout(&out), stderr(&out))
}

/// Parse stdout as JSON.
pub fn json(args: &[&str]) -> serde_json::Value {
    let (out, _) = expect(args, 0);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// Path as &str.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `n` deterministic vectors of `dim` (not normalised, never zero).
pub fn vectors(n: usize, dim: usize, seed: u64) -> Vectors {
    mnemodb_dataset::synthetic::clustered(n, dim, 4, 0.5, seed)
}

/// A `.fvecs` file of `n × dim`.
pub fn fvecs(dir: &Path, name: &str, n: usize, dim: usize) -> PathBuf {
    let p = dir.join(name);
    write_fvecs(&p, &vectors(n, dim, 7)).unwrap();
    p
}

/// A `.jsonl` file of `n` records of `dim` with user/kind/created_at metadata.
pub fn jsonl(dir: &Path, name: &str, n: usize, dim: usize) -> PathBuf {
    let v = vectors(n, dim, 11);
    let mut text = String::new();
    for (i, row) in v.rows().enumerate() {
        let rec = serde_json::json!({
            "id": format!("doc-{i}"),
            "vector": row,
            "metadata": {
                "user": format!("u{}", i % 3),
                "kind": if i % 2 == 0 { "note" } else { "fact" },
                "created_at": format!("2026-01-{:02}T00:00:00Z", i % 28 + 1),
                "n": i,
            }
        });
        text.push_str(&rec.to_string());
        text.push('\n');
    }
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A database with collection `docs` (dim 8, 60 JSON records, sealed by a checkpoint).
pub fn sample_db(dir: &Path) -> PathBuf {
    let db = dir.join("db");
    let data = jsonl(dir, "docs.jsonl", 60, 8);
    expect(
        &[
            "import",
            s(&db),
            s(&data),
            "-c",
            "docs",
            "--keyword",
            "user",
            "--range",
            "created_at",
            "--batch",
            "25",
        ],
        0,
    );
    expect(&["checkpoint", s(&db)], 0);
    db
}

/// The first file under `dir` whose name ends with `suffix`.
pub fn find(dir: &Path, suffix: &str) -> PathBuf {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(suffix) {
                return p;
            }
        }
    }
    panic!("no *{suffix} under {}", dir.display());
}
