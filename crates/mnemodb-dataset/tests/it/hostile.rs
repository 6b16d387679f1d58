//! Hostile inputs: each gives its specific error through every entry point (file, bytes,
//! unknown-length stream), never a panic, never an allocation sized by a header.

use std::path::Path;
use std::process::Command;

use mnemodb_dataset::{
    BvecsReader, DatasetError, FvecsReader, IvecsReader, MAX_DIM, NpyReader, read_ids, read_vectors,
};
use proptest::prelude::*;

use crate::support::{dict, f32_bytes, fvecs, npy_raw, record};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Fvecs,
    Ivecs,
    Bvecs,
    NpyF32,
    NpyI32,
}

impl Kind {
    const ALL: [Kind; 5] = [
        Kind::Fvecs,
        Kind::Ivecs,
        Kind::Bvecs,
        Kind::NpyF32,
        Kind::NpyI32,
    ];

    fn extension(self) -> &'static str {
        match self {
            Kind::Fvecs => "fvecs",
            Kind::Ivecs => "ivecs",
            Kind::Bvecs => "bvecs",
            Kind::NpyF32 | Kind::NpyI32 => "npy",
        }
    }

    /// Bytes per value in the file.
    fn value_size(self) -> usize {
        if self == Kind::Bvecs { 1 } else { 4 }
    }
}

/// Reads everything through the path-based helpers; returns the number of values.
fn read_file(kind: Kind, path: &Path) -> Result<usize, DatasetError> {
    Ok(match kind {
        Kind::Fvecs | Kind::Bvecs | Kind::NpyF32 => read_vectors(path)?.data.len(),
        Kind::Ivecs | Kind::NpyI32 => read_ids(path)?.data.len(),
    })
}

/// Reads everything from memory (`stream == false`) or from a reader of unknown length.
fn read_bytes(kind: Kind, bytes: &[u8], stream: bool) -> Result<usize, DatasetError> {
    fn count<T, E>(rows: impl Iterator<Item = Result<Vec<T>, E>>) -> Result<usize, E> {
        rows.map(|row| row.map(|r| r.len())).sum()
    }
    match (kind, stream) {
        (Kind::Fvecs, false) => count(FvecsReader::from_bytes(bytes)?),
        (Kind::Fvecs, true) => count(FvecsReader::from_reader(bytes, "s")?),
        (Kind::Ivecs, false) => count(IvecsReader::from_bytes(bytes)?),
        (Kind::Ivecs, true) => count(IvecsReader::from_reader(bytes, "s")?),
        (Kind::Bvecs, false) => Ok(BvecsReader::from_bytes(bytes)?.read_all_f32()?.1.len()),
        (Kind::Bvecs, true) => count(BvecsReader::from_reader(bytes, "s")?),
        (Kind::NpyF32, false) => count(NpyReader::<f32, _>::from_bytes(bytes)?),
        (Kind::NpyF32, true) => Ok(NpyReader::<f32, _>::from_reader(bytes, "s")?
            .read_all()?
            .1
            .len()),
        (Kind::NpyI32, false) => Ok(NpyReader::<i32, _>::from_bytes(bytes)?.read_all()?.1.len()),
        (Kind::NpyI32, true) => count(NpyReader::<i32, _>::from_reader(bytes, "s")?),
    }
}

struct Case {
    name: &'static str,
    kind: Kind,
    bytes: Vec<u8>,
    expect: fn(&DatasetError) -> bool,
    /// Substrings the file-based message must contain (besides the file name).
    says: &'static [&'static str],
    /// Only the path-based helpers check this (raw readers return the values as stored).
    file_only: bool,
}

fn cases() -> Vec<Case> {
    let two_rows = fvecs(2, 4); // records of 20 bytes
    let mut cut_last = two_rows.clone();
    cut_last.truncate(two_rows.len() - 3);
    let mut mixed_dims = fvecs(1, 2);
    mixed_dims.extend(fvecs(1, 3));
    let mut bad_third = fvecs(2, 2);
    bad_third.extend(record(0, &[]));
    let mut negative_id = record(2, &[0, 0, 0, 0, 1, 0, 0, 0]);
    negative_id.extend(record(2, &[3, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]));
    let f4 = |shape: &str| dict("<f4", false, shape);
    vec![
        Case {
            name: "fvecs: truncated last record",
            kind: Kind::Fvecs,
            bytes: cut_last,
            expect: |e| {
                matches!(
                    e,
                    DatasetError::Truncated {
                        record: 1,
                        offset: 20,
                        needed: 20,
                        found: 17,
                        ..
                    }
                )
            },
            says: &["record 1", "byte 20", "truncated"],
            file_only: false,
        },
        Case {
            name: "fvecs: truncated dimension field",
            kind: Kind::Fvecs,
            bytes: vec![4, 0],
            expect: |e| {
                matches!(
                    e,
                    DatasetError::Truncated {
                        record: 0,
                        offset: 0,
                        needed: 4,
                        found: 2,
                        ..
                    }
                )
            },
            says: &["record 0"],
            file_only: false,
        },
        Case {
            name: "fvecs: dim 0",
            kind: Kind::Fvecs,
            bytes: record(0, &[0; 8]),
            expect: |e| {
                matches!(
                    e,
                    DatasetError::InvalidDim {
                        dim: 0,
                        record: 0,
                        ..
                    }
                )
            },
            says: &["dimension 0"],
            file_only: false,
        },
        Case {
            name: "fvecs: negative dim",
            kind: Kind::Fvecs,
            bytes: record(-7, &[0; 8]),
            expect: |e| matches!(e, DatasetError::InvalidDim { dim: -7, .. }),
            says: &["dimension -7"],
            file_only: false,
        },
        Case {
            name: "fvecs: dim 2^31-1",
            kind: Kind::Fvecs,
            bytes: record(i32::MAX, &[0; 64]),
            expect: |e| {
                matches!(
                    e,
                    DatasetError::InvalidDim {
                        dim: 2_147_483_647,
                        ..
                    }
                )
            },
            says: &["2147483647"],
            file_only: false,
        },
        Case {
            name: "fvecs: dim MAX_DIM + 1",
            kind: Kind::Fvecs,
            bytes: record(MAX_DIM as i32 + 1, &[0; 64]),
            expect: |e| matches!(e, DatasetError::InvalidDim { dim: 65_537, .. }),
            says: &["1..=65536"],
            file_only: false,
        },
        Case {
            name: "fvecs: dims differ between records",
            kind: Kind::Fvecs,
            bytes: mixed_dims,
            expect: |e| {
                matches!(
                    e,
                    DatasetError::DimMismatch {
                        record: 1,
                        offset: 12,
                        expected: 2,
                        found: 3,
                        ..
                    }
                )
            },
            says: &["record 1", "byte 12", "dimension 3"],
            file_only: false,
        },
        Case {
            name: "fvecs: bad dim in a later record",
            kind: Kind::Fvecs,
            bytes: bad_third,
            expect: |e| {
                matches!(
                    e,
                    DatasetError::InvalidDim {
                        record: 2,
                        offset: 24,
                        dim: 0,
                        ..
                    }
                )
            },
            says: &["record 2", "byte 24"],
            file_only: false,
        },
        Case {
            name: "ivecs: negative id",
            kind: Kind::Ivecs,
            bytes: negative_id,
            expect: |e| {
                matches!(
                    e,
                    DatasetError::NegativeId {
                        record: 1,
                        column: 1,
                        offset: 20,
                        value: -1,
                        ..
                    }
                )
            },
            says: &["record 1", "column 1", "negative"],
            file_only: true,
        },
        Case {
            name: "bvecs: truncated",
            kind: Kind::Bvecs,
            bytes: record(8, &[1, 2, 3]),
            expect: |e| {
                matches!(
                    e,
                    DatasetError::Truncated {
                        needed: 12,
                        found: 7,
                        ..
                    }
                )
            },
            says: &["truncated"],
            file_only: false,
        },
        Case {
            name: "npy: empty file",
            kind: Kind::NpyF32,
            bytes: Vec::new(),
            expect: |e| matches!(e, DatasetError::NpyHeader { offset: 0, .. }),
            says: &["empty"],
            file_only: false,
        },
        Case {
            name: "npy: bad magic",
            kind: Kind::NpyF32,
            bytes: b"\x93NUMPX\x01\x00".to_vec(),
            expect: |e| matches!(e, DatasetError::NpyMagic { .. }),
            says: &["not a .npy file"],
            file_only: false,
        },
        Case {
            name: "npy: text file",
            kind: Kind::NpyF32,
            bytes: b"1.0,2.0\n".to_vec(),
            expect: |e| matches!(e, DatasetError::NpyMagic { .. }),
            says: &["magic"],
            file_only: false,
        },
        Case {
            name: "npy: unknown version 4.0",
            kind: Kind::NpyF32,
            bytes: npy_raw(4, 0, &f4("(1, 1)"), &[0; 4]),
            expect: |e| {
                matches!(
                    e,
                    DatasetError::NpyVersion {
                        major: 4,
                        minor: 0,
                        ..
                    }
                )
            },
            says: &["version 4.0"],
            file_only: false,
        },
        Case {
            name: "npy: unknown version 1.1",
            kind: Kind::NpyF32,
            bytes: npy_raw(1, 1, &f4("(1, 1)"), &[0; 4]),
            expect: |e| {
                matches!(
                    e,
                    DatasetError::NpyVersion {
                        major: 1,
                        minor: 1,
                        ..
                    }
                )
            },
            says: &["version 1.1"],
            file_only: false,
        },
        Case {
            name: "npy: header length past EOF",
            kind: Kind::NpyF32,
            bytes: {
                let mut b = npy_raw(1, 0, &f4("(1, 1)"), &[]);
                b.truncate(40);
                b
            },
            expect: |e| matches!(e, DatasetError::NpyHeader { offset: 8, .. }),
            says: &["past the end"],
            file_only: false,
        },
        Case {
            name: "npy: header length over the limit",
            kind: Kind::NpyF32,
            bytes: {
                let mut b = b"\x93NUMPY\x02\x00".to_vec();
                b.extend_from_slice(&u32::MAX.to_le_bytes());
                b.extend_from_slice(&[b' '; 100]);
                b
            },
            expect: |e| matches!(e, DatasetError::NpyHeader { offset: 8, .. }),
            says: &["4294967295", "limit"],
            file_only: false,
        },
        Case {
            name: "npy: big-endian float32",
            kind: Kind::NpyF32,
            bytes: npy_raw(1, 0, &dict(">f4", false, "(1, 1)"), &[0; 4]),
            expect: |e| matches!(e, DatasetError::NpyDtype { descr, .. } if descr == ">f4"),
            says: &["big-endian"],
            file_only: false,
        },
        Case {
            name: "npy: float64",
            kind: Kind::NpyF32,
            bytes: npy_raw(1, 0, &dict("<f8", false, "(1, 1)"), &[0; 8]),
            expect: |e| matches!(e, DatasetError::NpyDtype { descr, .. } if descr == "<f8"),
            says: &["float64", "astype"],
            file_only: false,
        },
        Case {
            name: "npy: pickled objects",
            kind: Kind::NpyF32,
            bytes: npy_raw(1, 0, &dict("|O", false, "(1,)"), b"\x80\x04cos\nsystem\n"),
            expect: |e| matches!(e, DatasetError::NpyDtype { descr, .. } if descr == "|O"),
            says: &["pickled"],
            file_only: false,
        },
        Case {
            name: "npy: int32 where float32 is wanted",
            kind: Kind::NpyF32,
            bytes: npy_raw(1, 0, &dict("<i4", false, "(1, 1)"), &[0; 4]),
            expect: |e| matches!(e, DatasetError::NpyDtypeMismatch { .. }),
            says: &["int32", "float32"],
            file_only: false,
        },
        Case {
            name: "npy: float32 where ids are wanted",
            kind: Kind::NpyI32,
            bytes: npy_raw(1, 0, &f4("(1, 1)"), &[0; 4]),
            expect: |e| matches!(e, DatasetError::NpyDtypeMismatch { .. }),
            says: &["float32"],
            file_only: false,
        },
        Case {
            name: "npy: fortran order",
            kind: Kind::NpyF32,
            bytes: npy_raw(1, 0, &dict("<f4", true, "(2, 2)"), &[0; 16]),
            expect: |e| matches!(e, DatasetError::NpyFortranOrder { .. }),
            says: &["fortran_order"],
            file_only: false,
        },
        Case {
            name: "npy: shape product overflows",
            kind: Kind::NpyF32,
            bytes: npy_raw(
                1,
                0,
                &f4("(4611686018427387904, 4611686018427387904)"),
                &[0; 16],
            ),
            expect: |e| matches!(e, DatasetError::NpyShape { what, .. } if what.contains("overflow")),
            says: &["overflows"],
            file_only: false,
        },
        Case {
            name: "npy: shape entry overflows u64",
            kind: Kind::NpyF32,
            bytes: npy_raw(1, 0, &f4("(99999999999999999999999, 1)"), &[0; 16]),
            expect: |e| matches!(e, DatasetError::NpyHeader { .. }),
            says: &["64 bits"],
            file_only: false,
        },
        Case {
            name: "npy: shape larger than the data",
            kind: Kind::NpyF32,
            bytes: npy_raw(1, 0, &f4("(1000000, 16)"), &[0; 64]),
            expect: |e| {
                matches!(
                    e,
                    DatasetError::NpyDataLength {
                        expected: 64_000_000,
                        found: 64,
                        ..
                    }
                )
            },
            says: &["64000000"],
            file_only: false,
        },
        Case {
            name: "npy: shape smaller than the data",
            kind: Kind::NpyF32,
            bytes: npy_raw(1, 0, &f4("(1, 2)"), &[0; 12]),
            expect: |e| matches!(e, DatasetError::NpyDataLength { expected: 8, .. }),
            says: &["needs 8"],
            file_only: false,
        },
        Case {
            name: "npy: 3-D shape",
            kind: Kind::NpyF32,
            bytes: npy_raw(1, 0, &f4("(2, 2, 2)"), &[0; 32]),
            expect: |e| matches!(e, DatasetError::NpyShape { shape, .. } if shape == &[2, 2, 2]),
            says: &["1-D", "2-D"],
            file_only: false,
        },
        Case {
            name: "npy: 0-D shape",
            kind: Kind::NpyF32,
            bytes: npy_raw(1, 0, &f4("()"), &[0; 4]),
            expect: |e| matches!(e, DatasetError::NpyShape { .. }),
            says: &["shape"],
            file_only: false,
        },
        Case {
            name: "npy: rows longer than MAX_DIM",
            kind: Kind::NpyF32,
            bytes: npy_raw(1, 0, &f4("(1, 2147483648)"), &[0; 4]),
            expect: |e| matches!(e, DatasetError::NpyShape { .. }),
            says: &["65,536"],
            file_only: false,
        },
        Case {
            name: "npy: structured dtype",
            kind: Kind::NpyF32,
            bytes: npy_raw(
                1,
                0,
                "{'descr': [('x', '<f4')], 'fortran_order': False, 'shape': (1,), }",
                &[0; 4],
            ),
            expect: |e| matches!(e, DatasetError::NpyHeader { .. }),
            says: &["structured"],
            file_only: false,
        },
        Case {
            name: "npy: python expression in the header",
            kind: Kind::NpyF32,
            bytes: npy_raw(
                1,
                0,
                "{'descr': __import__('os').system('x'), 'fortran_order': False, 'shape': (1,)}",
                &[0; 4],
            ),
            expect: |e| matches!(e, DatasetError::NpyHeader { offset: 20, .. }),
            says: &["byte 20", "expected a value"],
            file_only: false,
        },
        Case {
            name: "npy: unknown key",
            kind: Kind::NpyF32,
            bytes: npy_raw(
                1,
                0,
                "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}",
                &[0; 4],
            ),
            expect: |e| matches!(e, DatasetError::NpyHeader { .. }),
            says: &["unknown key \"extra\""],
            file_only: false,
        },
    ]
}

#[test]
fn every_hostile_case_gives_its_error_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for case in cases() {
        let path = dir.path().join(format!("case.{}", case.kind.extension()));
        std::fs::write(&path, &case.bytes).unwrap();
        let results = [
            ("file", read_file(case.kind, &path)),
            ("bytes", read_bytes(case.kind, &case.bytes, false)),
            ("stream", read_bytes(case.kind, &case.bytes, true)),
        ];
        for (mode, result) in results {
            if case.file_only && mode != "file" {
                continue;
            }
            match result {
                Ok(n) => failures.push(format!("{} [{mode}]: accepted ({n} values)", case.name)),
                Err(e) if !(case.expect)(&e) => {
                    failures.push(format!("{} [{mode}]: wrong error: {e:?}", case.name));
                }
                Err(e) if mode == "file" => {
                    let message = e.to_string();
                    assert!(!e.is_io(), "{}: {message}", case.name);
                    if !message.contains(&*path.to_string_lossy()) {
                        failures.push(format!("{}: message lacks the path: {message}", case.name));
                    }
                    for want in case.says {
                        if !message.contains(want) {
                            failures
                                .push(format!("{}: message lacks {want:?}: {message}", case.name));
                        }
                    }
                    if message.contains('\n') {
                        failures.push(format!("{}: message is not one line: {message}", case.name));
                    }
                }
                Err(_) => {}
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn boundary_dimension_is_accepted() {
    let values = vec![0.5f32; MAX_DIM];
    let bytes = record(MAX_DIM as i32, &f32_bytes(&values));
    assert_eq!(read_bytes(Kind::Fvecs, &bytes, false).unwrap(), MAX_DIM);
}

#[test]
fn npy_versions_2_and_3_are_read() {
    let data = f32_bytes(&[1.0, 2.0, 3.0, 4.0]);
    for major in [2, 3] {
        let bytes = npy_raw(major, 0, &dict("<f4", false, "(2, 2)"), &data);
        let reader = NpyReader::<f32, _>::from_bytes(&bytes).unwrap();
        assert_eq!(reader.version(), (major, 0));
        assert_eq!(reader.read_all().unwrap(), (2, vec![1.0, 2.0, 3.0, 4.0]));
    }
}

/// Environment variable that turns [`huge_headers_child`] on.
const CHILD_ENV: &str = "MNEMODB_DATASET_HUGE_HEADERS_DIR";

/// Runs [`huge_headers_child`] in a child process limited to 2 GiB of address space: any
/// allocation sized by a hostile header (8 GiB and more) would abort the child.
#[test]
fn huge_headers_fail_fast_without_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let output = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 2097152 && exec \"$0\" \"$@\"")
        .arg(exe)
        .args([
            "--exact",
            "hostile::huge_headers_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "child failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains("huge headers refused"),
        "child did not run:\n{stdout}"
    );
}

/// The child half of [`huge_headers_fail_fast_without_allocating`]; does nothing on its own.
#[test]
fn huge_headers_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let dir = Path::new(&dir);
    // Prove the limit is in force: an 8 GiB buffer must not be obtainable here.
    assert!(
        Vec::<f32>::new().try_reserve_exact(1 << 31).is_err(),
        "address-space limit missing"
    );

    let fvecs = dir.join("huge.fvecs");
    std::fs::write(&fvecs, record(i32::MAX, &[0; 64])).unwrap();
    assert!(matches!(
        read_vectors(&fvecs),
        Err(DatasetError::InvalidDim { .. })
    ));

    // A header promising 2^28 rows of 16 floats (16 GiB) over 64 bytes of data, read from a
    // file (length known) and from a stream (length unknown).
    let npy = npy_raw(1, 0, &dict("<f4", false, "(268435456, 16)"), &[0; 64]);
    let path = dir.join("huge.npy");
    std::fs::write(&path, &npy).unwrap();
    assert!(matches!(
        read_vectors(&path),
        Err(DatasetError::NpyDataLength { .. })
    ));
    let streamed = NpyReader::<f32, _>::from_reader(&npy[..], "s")
        .unwrap()
        .read_all();
    assert!(matches!(streamed, Err(DatasetError::NpyDataLength { .. })));
    let ids = npy_raw(1, 0, &dict("<i4", false, "(268435456, 16)"), &[0; 64]);
    let streamed = NpyReader::<i32, _>::from_reader(&ids[..], "s")
        .unwrap()
        .read_all();
    assert!(matches!(streamed, Err(DatasetError::NpyDataLength { .. })));
    println!("huge headers refused");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Arbitrary bytes: no panic, and never more values than the bytes can hold.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        for kind in Kind::ALL {
            for stream in [false, true] {
                if let Ok(values) = read_bytes(kind, &bytes, stream) {
                    prop_assert!(values * kind.value_size() <= bytes.len());
                }
            }
        }
    }

    /// Valid files with a few bytes changed and a random cut: no panic, bounded output.
    #[test]
    fn mutated_files_never_panic(
        which in 0usize..3,
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let (kind, mut bytes) = match which {
            0 => (Kind::Fvecs, fvecs(3, 5)),
            1 => (Kind::NpyF32, npy_raw(1, 0, &dict("<f4", false, "(3, 5)"), &[0; 60])),
            _ => (Kind::NpyI32, npy_raw(2, 0, &dict("<i4", false, "(15,)"), &[0; 60])),
        };
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        for stream in [false, true] {
            if let Ok(values) = read_bytes(kind, &bytes, stream) {
                prop_assert!(values * kind.value_size() <= bytes.len());
            }
        }
    }
}
