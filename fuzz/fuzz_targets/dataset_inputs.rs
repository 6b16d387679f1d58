//! Feeds arbitrary bytes through every dataset reader, from memory (length known) and as a
//! stream (length unknown).
//!
//! Oracle: no panic, no abort; a successful read returns no more values than the bytes can
//! hold (4-byte values: at most `len / 4`; `.bvecs` bytes: at most `len`), so nothing is
//! sized by a header; rows have the dimension the reader reports.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mnemodb_dataset::{BvecsReader, DatasetError, FvecsReader, IvecsReader, NpyReader};

/// Sums row lengths, checking each row against the reported dimension.
fn count<T>(
    dim: Option<usize>,
    rows: impl Iterator<Item = Result<Vec<T>, DatasetError>>,
) -> Result<usize, DatasetError> {
    let mut total = 0;
    for row in rows {
        let row = row?;
        assert_eq!(
            Some(row.len()),
            dim,
            "row length differs from the reported dimension"
        );
        total += row.len();
    }
    Ok(total)
}

fn check(len: usize, value_size: usize, result: Result<usize, DatasetError>) {
    match result {
        Ok(values) => assert!(
            values * value_size <= len,
            "{values} values of {value_size} bytes from {len} input bytes"
        ),
        // Every error renders as one line.
        Err(e) => assert!(!e.to_string().contains('\n')),
    }
}

fuzz_target!(|data: &[u8]| {
    let len = data.len();

    check(
        len,
        4,
        FvecsReader::from_bytes(data).and_then(|r| count(r.dim(), r)),
    );
    check(
        len,
        4,
        FvecsReader::from_reader(data, "s")
            .and_then(|r| r.read_all())
            .map(|(_, v)| v.len()),
    );
    check(
        len,
        4,
        IvecsReader::from_bytes(data).and_then(|r| count(r.dim(), r)),
    );
    check(
        len,
        4,
        IvecsReader::from_reader(data, "s")
            .and_then(|r| r.read_all())
            .map(|(_, v)| v.len()),
    );
    check(
        len,
        1,
        BvecsReader::from_bytes(data).and_then(|r| count(r.dim(), r)),
    );
    check(
        len,
        1,
        BvecsReader::from_reader(data, "s")
            .and_then(|r| r.read_all_f32())
            .map(|(_, v)| v.len()),
    );

    check(
        len,
        4,
        NpyReader::<f32, _>::from_bytes(data).and_then(|r| {
            let (rows, dim) = (r.rows(), r.dim());
            let n = count(Some(dim), r)?;
            assert_eq!(
                n,
                rows * dim,
                "length-checked file returned a different row count"
            );
            Ok(n)
        }),
    );
    check(
        len,
        4,
        NpyReader::<f32, _>::from_reader(data, "s")
            .and_then(|r| r.read_all())
            .map(|(_, v)| v.len()),
    );
    check(
        len,
        4,
        NpyReader::<i32, _>::from_bytes(data)
            .and_then(|r| r.read_all())
            .map(|(_, v)| v.len()),
    );
    check(
        len,
        4,
        NpyReader::<i32, _>::from_reader(data, "s").and_then(|r| count(Some(r.dim()), r)),
    );
});
