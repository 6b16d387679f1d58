//! The hostile-input suite (RELIABILITY recipe (g)): the cases are in
//! `tests/hostile/cases.tsv`; [`generate`] writes every input file they name. Each case runs
//! the binary under a 2 GiB address-space limit and a timeout and must exit with the
//! expected code, never panic or die by a signal, and print the expected message.
use std::path::Path;

use predicates::Predicate;
use predicates::str::is_match;

use crate::util::{self, run, s};

fn fvecs_record(dim: i32, values: &[f32]) -> Vec<u8> {
    let mut b = dim.to_le_bytes().to_vec();
    for v in values {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b
}

/// A `.npy` v1 file with this header dictionary and data.
fn npy(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut header = dict.to_string();
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend_from_slice(&(header.len() as u16).to_le_bytes());
    b.extend_from_slice(header.as_bytes());
    b.extend_from_slice(data);
    b
}

fn f32s(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) {
    std::fs::write(dir.join(name), bytes).unwrap();
}

/// Copy a database directory.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        let name = e.file_name();
        if name == "LOCK" {
            continue;
        }
        if p.is_dir() {
            copy_dir(&p, &to.join(name));
        } else {
            std::fs::copy(&p, to.join(name)).unwrap();
        }
    }
}

/// Write every input file the cases use into `d`.
fn generate(d: &Path, db: &Path) {
    // .fvecs
    write(d, "empty.fvecs", []);
    let one = fvecs_record(4, &[1.0, 2.0, 3.0, 4.0]);
    write(
        d,
        "truncated.fvecs",
        [one.clone(), one.clone(), fvecs_record(4, &[1.0, 2.0])].concat(),
    );
    write(d, "dim0.fvecs", fvecs_record(0, &[]));
    write(d, "dimneg.fvecs", fvecs_record(-1, &[1.0]));
    write(d, "dimhuge.fvecs", fvecs_record(i32::MAX, &[1.0, 2.0]));
    write(
        d,
        "dimsdiffer.fvecs",
        [one.clone(), fvecs_record(3, &[1.0, 2.0, 3.0])].concat(),
    );
    write(
        d,
        "nan.fvecs",
        [one.clone(), fvecs_record(4, &[1.0, 2.0, f32::NAN, 4.0])].concat(),
    );
    write(
        d,
        "inf.fvecs",
        fvecs_record(4, &[f32::NEG_INFINITY, 2.0, 3.0, 4.0]),
    );
    write(
        d,
        "zero.fvecs",
        [
            fvecs_record(4, &[1.0, 0.0, 0.0, 0.0]),
            fvecs_record(4, &[0.0; 4]),
        ]
        .concat(),
    );
    write(
        d,
        "extremes.fvecs",
        [fvecs_record(4, &[3e38, -3e38, 3e38, 1.0]), one.clone()].concat(),
    );
    util::fvecs(d, "row8.fvecs", 3, 8);
    // .npy
    let four = f32s(&[1.0, 2.0, 3.0, 4.0]);
    write(d, "badmagic.npy", b"hello, this is not numpy at all");
    let mut v9 = npy(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 4), }",
        &four,
    );
    v9[6] = 9;
    write(d, "version9.npy", v9);
    let mut hl = b"\x93NUMPY\x01\x00".to_vec();
    hl.extend_from_slice(&60_000u16.to_le_bytes());
    hl.extend_from_slice(b"{'descr': '<f4'");
    write(d, "headerlen.npy", hl);
    write(
        d,
        "bigendian.npy",
        npy(
            "{'descr': '>f4', 'fortran_order': False, 'shape': (1, 4), }",
            &four,
        ),
    );
    write(
        d,
        "f8.npy",
        npy(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }",
            &four,
        ),
    );
    write(
        d,
        "pickle.npy",
        npy(
            "{'descr': '|O', 'fortran_order': False, 'shape': (1, 4), }",
            &four,
        ),
    );
    write(
        d,
        "fortran.npy",
        npy(
            "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
            &four,
        ),
    );
    write(
        d,
        "shapeoverflow.npy",
        npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (18446744073709551615, 4), }",
            &four,
        ),
    );
    write(
        d,
        "shortdata.npy",
        npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 4), }",
            &[four.clone(), four.clone()].concat(),
        ),
    );
    write(
        d,
        "threed.npy",
        npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2, 2), }",
            &[four.clone(), four].concat(),
        ),
    );
    write(
        d,
        "nan.npy",
        npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }",
            &f32s(&[1.0, f32::NAN, 3.0, 4.0]),
        ),
    );
    // .jsonl
    write(
        d,
        "deep.jsonl",
        format!("{{\"id\":1,\"vector\":{}\n", "[".repeat(100_000)),
    );
    write(
        d,
        "trailing.jsonl",
        "{\"id\":1,\"vector\":[1,2,3]}\n{\"id\":2,\"vector\":[1,2,3]} xyz\n",
    );
    write(d, "overflow.jsonl", "{\"id\":1,\"vector\":[1e999,1,1]}\n");
    write(
        d,
        "stringnum.jsonl",
        "{\"id\":1,\"vector\":[1.0,\"2\",3.0]}\n",
    );
    write(d, "f32overflow.jsonl", "{\"id\":1,\"vector\":[1e39,1,1]}\n");
    write(
        d,
        "dupids.jsonl",
        "{\"id\":\"a\",\"vector\":[1,2]}\n{\"id\":\"b\",\"vector\":[1,3]}\n{\"id\":\"a\",\"vector\":[1,4]}\n",
    );
    write(d, "noid.jsonl", "{\"vector\":[1,2]}\n");
    write(d, "unknownkey.jsonl", "{\"id\":1,\"vec\":[1,2]}\n");
    write(d, "array.jsonl", "[1,2,3]\n");
    write(
        d,
        "badutf8.jsonl",
        b"{\"id\":\"\xff\xfe\",\"vector\":[1,2]}\n",
    );
    write(
        d,
        "dimsdiffer.jsonl",
        "{\"id\":1,\"vector\":[1,2,3]}\n{\"id\":2,\"vector\":[1,2]}\n",
    );
    write(
        d,
        "numlist.jsonl",
        "{\"id\":1,\"vector\":[1,2],\"metadata\":{\"tags\":[1,2]}}\n",
    );
    write(
        d,
        "hugestring.jsonl",
        format!(
            "{{\"id\":1,\"vector\":[1,2],\"metadata\":{{\"s\":\"{}\"}}}}\n",
            "x".repeat(50 << 20)
        ),
    );
    write(d, "negid.jsonl", "{\"id\":-1,\"vector\":[1,2]}\n");
    write(d, "data.csv", "a,b\n1,2\n");
    // Databases and their files.
    std::fs::create_dir_all(d.join("plain")).unwrap();
    let seg = util::find(db, ".vec");
    let hnsw = util::find(db, ".hnsw");
    // Another database with a different segment of the same generation.
    let other = d.join("otherdb");
    util::expect(
        &["import", s(&other), s(&d.join("row8.fvecs")), "-c", "docs"],
        0,
    );
    util::expect(&["checkpoint", s(&other)], 0);
    std::fs::copy(&hnsw, d.join("other.hnsw")).unwrap();
    std::fs::copy(util::find(&other, ".vec"), d.join("mine.vec")).unwrap();
    // A corrupted segment inside a database, and loose corrupted / truncated copies.
    copy_dir(db, &d.join("corruptdb"));
    let bad = util::find(&d.join("corruptdb"), ".vec");
    mnemodb_testkit::corrupt::flip_bit(&bad, 200 * 8).unwrap();
    std::fs::copy(&seg, d.join("corrupt.vec")).unwrap();
    mnemodb_testkit::corrupt::flip_bit(&d.join("corrupt.vec"), 300 * 8 + 3).unwrap();
    std::fs::copy(&seg, d.join("truncated.vec")).unwrap();
    let len = std::fs::metadata(&seg).unwrap().len();
    mnemodb_testkit::corrupt::set_len(&d.join("truncated.vec"), len - 10).unwrap();
    // Every manifest claims a newer format version.
    copy_dir(db, &d.join("newerdb"));
    for e in std::fs::read_dir(d.join("newerdb")).unwrap().flatten() {
        if e.file_name().to_string_lossy().starts_with("MANIFEST-") {
            mnemodb_testkit::corrupt::patch(&e.path(), 12, &9u32.to_le_bytes()).unwrap();
        }
    }
}

#[test]
fn hostile_inputs() {
    let scratch = mnemodb_testkit::scratch_dir();
    let d = scratch.path();
    let db = util::sample_db(d);
    let empty = d.join("emptydb");
    util::expect(&["create", s(&empty), "-c", "docs", "--dim", "8"], 0);
    let locked = d.join("lockeddb");
    util::expect(&["create", s(&locked), "-c", "docs", "--dim", "8"], 0);
    generate(d, &db);
    // Another "process" (this one) holds the write lock during the cases.
    let _holder =
        mnemodb::Database::open(&locked, mnemodb::Options::default().background(false)).unwrap();

    let table = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile/cases.tsv"),
    )
    .unwrap();
    let mut failures = Vec::new();
    let mut ran = 0;
    for line in table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let cols: Vec<&str> = line.split('\t').collect();
        let [name, args, exit, err_re, rest @ ..] = cols.as_slice() else {
            panic!("bad case line: {line}");
        };
        let args: Vec<String> = args
            .split_whitespace()
            .map(|a| {
                a.replace("{d}", s(d))
                    .replace("{db}", s(&db))
                    .replace("{empty}", s(&empty))
                    .replace("{locked}", s(&locked))
            })
            .collect();
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(&argv);
        ran += 1;
        let (stdout, stderr) = (util::stdout(&out), util::stderr(&out));
        let Some(code) = out.status.code() else {
            failures.push(format!("{name}: killed by a signal ({:?})", out.status));
            continue;
        };
        let mut problems = Vec::new();
        if code == 101 || code >= 128 || stderr.contains("panicked at") {
            problems.push(format!("crashed with exit {code}"));
        }
        if code.to_string() != *exit {
            problems.push(format!("exit {code}, expected {exit}"));
        }
        if !err_re.is_empty() && !is_match(err_re).unwrap().eval(&stderr) {
            problems.push(format!("stderr does not match /{err_re}/"));
        }
        if let Some(out_re) = rest.first().filter(|r| !r.is_empty())
            && !is_match(out_re).unwrap().eval(&stdout)
        {
            problems.push(format!("stdout does not match /{out_re}/"));
        }
        let error_lines = stderr
            .lines()
            .filter(|l| l.starts_with("mnemodb: error:") || l.starts_with("error:"))
            .count();
        if code != 0 && error_lines != 1 {
            problems.push("expected exactly one error line".into());
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{name}: {}\n  args: {}\n  stdout: {}\n  stderr: {}",
                problems.join("; "),
                argv.join(" "),
                stdout.trim(),
                stderr.trim()
            ));
        }
    }
    assert!(ran >= 60, "only {ran} cases");
    assert!(
        failures.is_empty(),
        "{} of {ran} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
